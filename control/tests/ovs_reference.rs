//! Every error path captured from real OVS 3.1 (testdata/ovs-reference/errors), replayed
//! against rvsd through our front ends in the same state the capture was taken in (bridge br0
//! with ports ovpv-c1 and ovpv-c2): same stdout, same stderr, same exit status. Also: Debian's
//! real `ovs-appctl -t SOCKET` gives the same answers as ours.

mod common;

use common::{Rvsd, RvsdHost};
use rvs_testkit::{skip_unless_root, skip_unless_tools};
use std::path::Path;
use std::process::Output;

struct Capture {
    argv: Vec<String>,
    stdout_and_stderr: String,
    exit: i32,
}

fn capture(name: &str) -> Capture {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/ovs-reference/errors")
        .join(name);
    let t = std::fs::read_to_string(&p).unwrap();
    let mut lines: Vec<&str> = t.lines().collect();
    let cmd = lines.remove(0).strip_prefix("$ ").unwrap();
    let exit_line = lines.pop().unwrap();
    let exit = exit_line
        .trim_start_matches("[exit ")
        .trim_end_matches(']')
        .parse()
        .unwrap();
    let mut out = lines.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    Capture {
        argv: cmd.split_whitespace().map(str::to_string).collect(),
        stdout_and_stderr: out,
        exit,
    }
}

fn run(rvsd: &Rvsd, argv: &[String]) -> Output {
    let args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
    match argv[0].as_str() {
        "ovs-vsctl" => rvsd.vsctl(&args),
        "ovs-appctl" => rvsd.appctl(&args),
        other => panic!("unexpected tool {other}"),
    }
}

fn combined(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Port blocks of `ovs-vsctl show`, sorted (OVS prints them in hash order), uuid line dropped.
fn show_blocks(s: &str) -> Vec<String> {
    let mut blocks: Vec<String> = vec![];
    for l in s.lines().skip(1) {
        if l.starts_with("        Port ") || blocks.is_empty() {
            blocks.push(String::new());
        }
        let b = blocks.last_mut().unwrap();
        b.push_str(l);
        b.push('\n');
    }
    blocks.sort();
    blocks
}

#[test]
fn error_paths_match_ovs() {
    if skip_unless_root("error_paths_match_ovs") {
        return;
    }
    let host = RvsdHost::start(&common::bins(), "ref");
    let rvsd = &host.rvsd;
    for (a, b) in [("ovpv-c1", "ovpv-c1p"), ("ovpv-c2", "ovpv-c2p")] {
        host.ns
            .exec(["ip", "link", "add", a, "type", "veth", "peer", "name", b]);
    }
    // The captures' bridge was made by the reference setup with this datapath type.
    rvsd.vsctl_ok(&[
        "add-br",
        "br0",
        "--",
        "set",
        "bridge",
        "br0",
        "datapath_type=netdev",
    ]);
    rvsd.vsctl_ok(&["add-port", "br0", "ovpv-c1"]);
    rvsd.vsctl_ok(&["add-port", "br0", "ovpv-c2"]);
    // In an order where each capture's precondition holds.
    let order = [
        "add-br-existing.txt",
        "add-br-may-exist.txt",
        "add-port-already-exists.txt",
        "add-port-no-such-bridge.txt",
        "del-br-missing.txt",
        "del-port-missing.txt",
        "list-ports-missing-br.txt",
        "fdb-show-missing-br.txt",
        "fdb-show-no-arg.txt",
        "fdb-flush.txt",
        "fdb-show-after-flush.txt",
        "dpctl-del-flows.txt",
        "dpctl-dump-flows-empty.txt",
        "dpctl-dump-flows-no-dp-explicit.txt",
        "add-port-nonexistent-netdev.txt",
        "list-interface-bad-port.txt",
        "show-after-bad-port.txt",
        "del-bad-port.txt",
    ];
    let on_disk = std::fs::read_dir(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/ovs-reference/errors"),
    )
    .unwrap()
    .count();
    assert_eq!(order.len(), on_disk, "every capture is replayed");
    for name in order {
        let c = capture(name);
        let o = run(rvsd, &c.argv);
        let got = combined(&o);
        assert_eq!(
            o.status.code(),
            Some(c.exit),
            "{name}: exit status; output:\n{got}"
        );
        match name {
            // rvs points at its own log instead of ovs-vswitchd's (deliberate difference).
            "add-port-nonexistent-netdev.txt" => {
                let want_first = c.stdout_and_stderr.lines().next().unwrap();
                let prefix = want_first.split("  See").next().unwrap();
                assert!(
                    got.starts_with(prefix),
                    "{name}:\n{got}\nwant prefix:\n{prefix}"
                );
            }
            // Port order is OVS's hash order; the uuid is per database.
            "show-after-bad-port.txt" => assert_eq!(
                show_blocks(&got),
                show_blocks(&c.stdout_and_stderr),
                "{name}:\n{got}"
            ),
            _ => assert_eq!(got, c.stdout_and_stderr, "{name}"),
        }
    }
}

#[test]
fn debian_ovs_appctl_gives_the_same_answers() {
    // Debian's own ovs-appctl (openvswitch-common), not ours.
    if skip_unless_tools("debian_ovs_appctl", &["/usr/bin/ovs-appctl"]) {
        return;
    }
    let host = RvsdHost::start(&common::bins(), "deb");
    let rvsd = &host.rvsd;
    rvsd.vsctl_ok(&["add-br", "br0"]);
    let sock = rvsd.rundir.join("rvsd.ctl");
    let sock = sock.to_str().unwrap();
    for cmd in [
        &["fdb/show", "br0"][..],
        &["fdb/stats-show", "br0"],
        &["dpctl/show", "-s"],
        &["dpif/show"],
        &["version"],
        &["fdb/show", "nobr"],
        &["fdb/show"],
    ] {
        let ours = rvsd.appctl(cmd);
        let mut args = vec!["-t", sock];
        args.extend_from_slice(cmd);
        let theirs = std::process::Command::new("/usr/bin/ovs-appctl")
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&theirs.stdout),
            String::from_utf8_lossy(&ours.stdout),
            "{cmd:?} stdout"
        );
        assert_eq!(
            theirs.status.code(),
            ours.status.code(),
            "{cmd:?} exit; theirs: {}",
            String::from_utf8_lossy(&theirs.stderr)
        );
        // Debian's tool names the target by its path; ours says ovs-vswitchd: compare the
        // daemon's error text, which is the first line.
        assert_eq!(
            String::from_utf8_lossy(&theirs.stderr).lines().next(),
            String::from_utf8_lossy(&ours.stderr).lines().next(),
            "{cmd:?} stderr"
        );
    }
}
