//! Target `vsctl_argv`: an `ovs-vsctl` command line into the engine.
//!
//! Input: the argv, split on NUL bytes when there are any, else on ASCII whitespace (at most
//! 64 arguments), run by `vsctl::execute` with `NoStatus` against a small configuration
//! (the same one the `control_request` target starts from).
//!
//! Invariants: an accepted transaction leaves a valid configuration that survives a JSON
//! round trip; "unchanged" means equal to the input; the exit code is 0 or 2 (`br-exists`);
//! a changed configuration can be shown again; a refusal carries a message.

use rvs_control::config::Config;
use rvs_control::vsctl::{self, NoStatus};
use std::cell::OnceCell;

/// Arguments per command line at most.
const MAX_ARGS: usize = 64;

/// Two bridges; br0 has two system ports (p2 an access port of VLAN 10) and a GRE port with
/// a key; br1 has one port and an external id.
pub(crate) fn baseline_config() -> Config {
    let args: Vec<String> = [
        "add-br",
        "br0",
        "--",
        "add-port",
        "br0",
        "p1",
        "--",
        "add-port",
        "br0",
        "p2",
        "--",
        "set",
        "port",
        "p2",
        "tag=10",
        "--",
        "add-port",
        "br0",
        "gre0",
        "--",
        "set",
        "interface",
        "gre0",
        "type=gre",
        "options:remote_ip=10.201.0.2",
        "options:key=4660",
        "--",
        "add-br",
        "br1",
        "--",
        "add-port",
        "br1",
        "p3",
        "--",
        "br-set-external-id",
        "br1",
        "owner",
        "fuzz",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    vsctl::execute(&Config::new(), &args, &NoStatus)
        .expect("the baseline command line is valid")
        .config
}

thread_local! {
    static BASE: OnceCell<Config> = const { OnceCell::new() };
}

/// Split fuzz bytes into an argv.
pub(crate) fn argv(data: &[u8]) -> Vec<String> {
    let parts: Vec<&[u8]> = if data.contains(&0) {
        data.split(|&b| b == 0).collect()
    } else {
        data.split(|b| b.is_ascii_whitespace())
            .filter(|a| !a.is_empty())
            .collect()
    };
    parts
        .into_iter()
        .take(MAX_ARGS)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// The `vsctl_argv` target.
pub fn vsctl_argv(data: &[u8]) {
    let args = argv(data);
    BASE.with(|base| {
        let base = base.get_or_init(baseline_config);
        match vsctl::execute(base, &args, &NoStatus) {
            Ok(o) => {
                o.config.validate().expect("accepted config is valid");
                assert!(matches!(o.exit_code, 0 | 2), "exit code {}", o.exit_code);
                if o.changed {
                    let back = Config::from_json_bytes(&o.config.to_json_bytes())
                        .expect("accepted config loads back");
                    assert_eq!(back, o.config, "JSON round trip");
                    vsctl::execute(&o.config, &["show".to_string()], &NoStatus)
                        .expect("a changed config can be shown");
                } else {
                    assert_eq!(&o.config, base, "unchanged means equal");
                }
            }
            Err(e) => assert!(!e.message.is_empty(), "refusal without a message"),
        }
    });
}
