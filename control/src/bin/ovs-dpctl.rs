//! ovs-dpctl (being written).
fn main() {}
