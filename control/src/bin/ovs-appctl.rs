//! ovs-appctl (being written).
fn main() {}
