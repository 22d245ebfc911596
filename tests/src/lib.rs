//! rvs_testkit: network topologies out of network namespaces, veth pairs and rvs switches for
//! integration tests — rvs's own, rvs-bench's, and yours.
//!
//! Two levels:
//! - **Labs** ([`Lab`], module [`lab`]): a whole topology — switches (rvsd), hosts, VLANs,
//!   tunnels — from one TOML file or a builder, with `exec`, `pingall` and `iperf`, removed on
//!   drop. The `rvs-lab` binary drives the same code from a shell.
//! - **Parts**: [`Netns`], [`Veth`], [`Background`] (module `netns`); [`Rvsd`], [`RvsdHost`],
//!   [`Bins`], [`TempDir`] (`daemon`); real Open vSwitch as a peer: [`Ovs`], [`OvsdbServer`] (`ovs`);
//!   frames: module [`frames`]; captures and counters: [`Capture`], [`pcap_frames`], [`coverage_total`], [`rss_kb`]
//!   (`inspect`); commands: [`run`], [`try_run`], [`run_checked`], [`shell_words`] (`cmd`),
//!   and `ovs-vsctl` chains: [`Vsctl`].
//!
//! Everything a test creates is named uniquely (prefix + process id + a per-process counter,
//! [`owned_name`] `rvst-PID-N-prefix`) so tests can run in parallel, and is removed when its
//! owner is dropped — also when the test panics, because `Drop` runs during unwinding. A
//! process killed by a signal runs no `Drop`: the first [`Netns::new`] of every process
//! sweeps what processes that no longer exist left behind ([`sweep_dead_owners`]).
//!
//! Tests that need root or a tool should call [`skip_unless_root`] / [`skip_unless_tools`] /
//! [`skip_unless_ovs`] (or [`skip`] for any other reason) first: they print why and return
//! `true` when the test should return early — unless the environment sets
//! `RVS_REQUIRE_ROOT=1` (CI does), where a skip is a failure: a suite that passes because it
//! skipped has not passed.
//!
//! ```no_run
//! use rvs_testkit::{skip_unless_root, unique_ifname, Netns};
//!
//! if skip_unless_root("ping_between_namespaces") {
//!     return;
//! }
//! let a = Netns::new("a");
//! let b = Netns::new("b");
//! let (ea, eb) = (unique_ifname("va"), unique_ifname("vb"));
//! a.add_veth(&ea, &b, &eb);
//! a.set_addr(&ea, "10.9.0.1/24");
//! b.set_addr(&eb, "10.9.0.2/24");
//! a.exec(["ping", "-c1", "-W2", "10.9.0.2"]);
//! // Both namespaces (and the veth pair) are gone when `a` and `b` drop.
//! ```

mod cmd;
mod daemon;
pub mod frames;
mod inspect;
pub mod lab;
mod names;
mod netns;
mod ovs;
mod skip;
mod vsctl;

pub use cmd::{checked, docker_stand_in, output_text, run, run_checked, shell_words, try_run};
pub use daemon::{Bins, Rvsd, RvsdHost, TempDir, BIN_DIR_ENV};
pub use inspect::{coverage_total, pcap_frames, rss_kb, Capture};
pub use lab::topology::{HostSpec, Topology, TopologyError, TunnelKind};
pub use lab::{Lab, LabError, LabOptions, PingMatrix};
pub use names::{
    owned_name, owner_of, pid_alive, sweep_dead_owners, unique_ifname, ProcId, IFNAME_MAX,
    OWNED_PREFIX,
};
pub use netns::{veth_pair, wait_for, Background, Netns, NsGuard, Veth};
pub use ovs::{ovs_missing, Ovs, OvsdbServer, OVS_SCHEMA};
pub use skip::{
    find_tool, have_tool, is_root, skip, skip_unless_ovs, skip_unless_root, skip_unless_tools,
    REQUIRE_ENV,
};
pub use vsctl::Vsctl;
