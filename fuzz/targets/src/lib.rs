//! rvs fuzz targets as plain functions over `&[u8]`.
//!
//! Each target drives one place where rvs reads bytes it does not control, and checks
//! invariants that must hold whatever the bytes are. A target never panics on its own input:
//! a panic (or an abort) *is* the finding. The same functions run
//! - under libFuzzer, from the cargo-fuzz crate in `fuzz/` (`cargo +nightly fuzz run NAME`);
//! - on stable Rust in CI, where `tests/replay.rs` feeds them every file of
//!   `fuzz/corpus/NAME/` and `fuzz/regressions/NAME/`.
//!
//! Targets (see each module):
//! - [`pipeline()`]: frames on arbitrary ports (a GRE tunnel port included) of a small random
//!   switch configuration, with a virtual clock;
//! - [`gre_decap()`]: GRE receive (`tunnel::decap`) and the transmit side it must agree with;
//! - [`gro()`]: receive coalescing of a mutated burst of TCP segments, checked against the
//!   software TSO that must cut merged frames back into exactly their inputs;
//! - [`control_request()`]: bytes on the control socket, through the unixctl decoder into a
//!   live `Daemon` (in-memory ports, scratch database directory);
//! - [`vsctl_argv()`]: an `ovs-vsctl` command line into `vsctl::execute`;
//! - [`conf_loader()`]: `conf.json` bytes into `store::from_json_bytes`, then a save/load
//!   round trip;
//! - [`ovsdb_client()`]: bytes from an OVSDB server through the JSON framer into the client
//!   session and its replica, with a virtual clock and reconnections;
//! - [`udp_tunnel()`]: VXLAN/Geneve receive: a (possibly `UDP_GRO`-coalesced) buffer split
//!   into datagrams and demultiplexed among tunnels sharing the socket.
//!
//! Invariants are checked with `assert!`: a violated invariant is reported by the fuzzer like a
//! crash, with the input that caused it.

mod conf;
mod control;
mod gre;
mod gro;
mod input;
mod ovsdb;
mod pipeline;
mod scratch;
mod udptun;
mod vsctl;

pub use conf::conf_loader;
pub use control::control_request;
pub use gre::gre_decap;
pub use gro::gro;
pub use ovsdb::ovsdb_client;
pub use pipeline::pipeline;
pub use udptun::udp_tunnel;
pub use vsctl::vsctl_argv;

/// A fuzz target: any bytes in, a panic out when an invariant breaks.
pub type Target = fn(&[u8]);

/// Every target, by the name of its `fuzz_targets/NAME.rs` and corpus directory.
pub const TARGETS: &[(&str, Target)] = &[
    ("pipeline", pipeline),
    ("gre_decap", gre_decap),
    ("gro", gro),
    ("control_request", control_request),
    ("vsctl_argv", vsctl_argv),
    ("conf_loader", conf_loader),
    ("ovsdb_client", ovsdb_client),
    ("udp_tunnel", udp_tunnel),
];

/// The target called `name`, if there is one.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}
