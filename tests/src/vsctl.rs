//! `ovs-vsctl` command lines: a chain of commands joined by `--` (applied atomically by rvs
//! and by OVS), built from the few shapes tests, labs and rvs-bench use, for rvs's
//! `ovs-vsctl` and Debian's alike.
//!
//! ```
//! use rvs_testkit::{TunnelKind, Vsctl};
//!
//! let c = Vsctl::new()
//!     .add_br("br0")
//!     .add_port("br0", "p1")
//!     .tunnel("br0", "gre0", TunnelKind::Gre, "10.201.0.2", &["key=4660"]);
//! assert_eq!(
//!     c.words().join(" "),
//!     "add-br br0 -- add-port br0 p1 -- add-port br0 gre0 -- set interface gre0 type=gre \
//!      options:remote_ip=10.201.0.2 options:key=4660"
//! );
//! ```

use crate::lab::topology::TunnelKind;

/// A `--`-joined chain of ovs-vsctl commands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vsctl(Vec<String>);

impl Vsctl {
    /// An empty chain.
    pub fn new() -> Vsctl {
        Vsctl::default()
    }

    /// Append one command (its words), after a `--` unless it is the first.
    pub fn cmd<S: AsRef<str>>(mut self, words: &[S]) -> Vsctl {
        if !self.0.is_empty() {
            self.0.push("--".into());
        }
        self.0.extend(words.iter().map(|w| w.as_ref().to_string()));
        self
    }

    /// `add-br BR`.
    pub fn add_br(self, br: &str) -> Vsctl {
        self.cmd(&["add-br", br])
    }

    /// `add-br BR -- set bridge BR datapath_type=netdev`: a bridge of OVS's userspace
    /// datapath (rvs has only that one and accepts the setting).
    pub fn netdev_br(self, br: &str) -> Vsctl {
        self.add_br(br)
            .cmd(&["set", "bridge", br, "datapath_type=netdev"])
    }

    /// `add-port BR PORT`.
    pub fn add_port(self, br: &str, port: &str) -> Vsctl {
        self.cmd(&["add-port", br, port])
    }

    /// `set port PORT SETTINGS…` (e.g. `tag=10`).
    pub fn set_port(self, port: &str, settings: &[&str]) -> Vsctl {
        self.cmd(&[&["set", "port", port], settings].concat())
    }

    /// `set interface IFACE SETTINGS…` (e.g. `type=afxdp`, `mtu_request=9000`).
    pub fn set_interface(self, iface: &str, settings: &[&str]) -> Vsctl {
        self.cmd(&[&["set", "interface", iface], settings].concat())
    }

    /// `add-port BR PORT -- set interface PORT type=KIND options:remote_ip=REMOTE` plus
    /// `options:OPT` for each of `options` (e.g. `key=4660`, `csum=true`).
    pub fn tunnel(
        self,
        br: &str,
        port: &str,
        kind: TunnelKind,
        remote: &str,
        options: &[&str],
    ) -> Vsctl {
        let mut settings = vec![
            format!("type={}", kind.as_str()),
            format!("options:remote_ip={remote}"),
        ];
        settings.extend(options.iter().map(|o| format!("options:{o}")));
        let settings: Vec<&str> = settings.iter().map(String::as_str).collect();
        self.add_port(br, port).set_interface(port, &settings)
    }

    /// The words, to pass as arguments.
    pub fn words(&self) -> Vec<&str> {
        self.0.iter().map(String::as_str).collect()
    }
}
