//! rvs control plane: the configuration store, the OVS command dialect, the unixctl protocol,
//! the OVSDB client protocol, and the daemon that owns the datapath.
pub mod client;
pub mod config;
pub mod daemon;
pub mod files;
pub mod format;
pub mod jsonrpc;
pub mod log;
pub mod ovsdb;
pub mod server;
pub mod store;
pub mod unixctl;
pub mod unsupported;
pub mod vsctl;
pub mod vswitchd;
