//! Target `vsctl_argv`: an `ovs-vsctl` command line into the engine.
//!
//! Input: the argv, split on NUL bytes when there are any, else on ASCII whitespace (at most
//! 64 arguments), run by `vsctl::execute` with `NoStatus` against a small database (the same
//! one the `control_request` target starts from).
//!
//! Invariants: an accepted transaction leaves a database that passes every check of a load
//! (it survives a JSON round trip through the store); "unchanged" means equal to the input; a
//! changed database can be shown again; a refusal carries a message or exits 2 (`br-exists`).

use rvs_control::ovsdb::Database;
use rvs_control::store;
use rvs_control::vsctl::{self, NoStatus};
use std::cell::OnceCell;

/// Arguments per command line at most.
const MAX_ARGS: usize = 64;

/// Two bridges; br0 has two system ports (p2 an access port of VLAN 10) and a GRE port with
/// a key; br1 has one port and an external id, and a fake bridge br1v on VLAN 5.
pub(crate) fn baseline_db() -> Database {
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
        "--",
        "add-br",
        "br1v",
        "br1",
        "5",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    vsctl::execute(&Database::new(), &args, &NoStatus)
        .expect("the baseline command line is valid")
        .db
}

thread_local! {
    static BASE: OnceCell<Database> = const { OnceCell::new() };
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
        let base = base.get_or_init(baseline_db);
        match vsctl::execute(base, &args, &NoStatus) {
            Ok(o) => {
                if o.changed {
                    let back = store::from_json_bytes(&store::to_json_bytes(&o.db))
                        .expect("an accepted database loads back");
                    assert_eq!(back.to_json(), o.db.to_json(), "JSON round trip");
                    vsctl::execute(&o.db, &["show".to_string()], &NoStatus)
                        .expect("a changed database can be shown");
                } else {
                    assert_eq!(&o.db, base, "unchanged means equal");
                }
            }
            Err(e) => assert!(
                !e.message.is_empty() || e.exit_code == 2,
                "refusal without a message"
            ),
        }
    });
}
