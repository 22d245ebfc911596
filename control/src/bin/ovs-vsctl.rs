//! ovs-vsctl (being written).
fn main() {}
