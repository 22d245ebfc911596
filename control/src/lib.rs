//! rvs control plane: the configuration store, the OVS command dialect, the unixctl protocol,
//! and the daemon that owns the datapath.
