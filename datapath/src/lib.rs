//! rvs datapath: everything that touches frames.
//!
//! Dependencies point one way: `wire` ← `packet` ← `fdb` / `pipeline` ← `port` ← `pmd` ← `dpif`.
//! The switching core (`wire`, `packet`, `fdb`, `pipeline`) is I/O-free and takes `now` as an
//! argument, so it is tested deterministically with in-memory ports and virtual time.

pub mod dpif;
pub mod fastpath;
pub mod fdb;
pub mod flow;
pub mod gro;
pub mod offload;
pub mod packet;
pub mod pipeline;
pub mod pmd;
pub mod port;
mod sync;
pub mod tunnel;
pub mod vlan;
pub mod wire;
