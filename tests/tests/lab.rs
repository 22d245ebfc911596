//! rvs-lab end to end (root): the issue's example and a four-host two-VLAN topology over a
//! GRE tunnel built by the `rvs-lab` binary, pingall's matrix and exit code, exec / vsctl /
//! appctl / iperf / list, and `down` — checked against the system (`ip netns`, /proc, the
//! state directory), not against the lab's own records. A `kill -9` of `rvs-lab up` half-way
//! is cleaned by `down --all`, which leaves labs with a live owner alone. Malformed files get
//! an error naming line and key and create nothing. The Rust API (`Lab::up`, builder,
//! `exec`, `pingall`) removes everything on drop and on panic.
//!
//! rvsd and its front ends must be built (`cargo build --bins`, as `./rvs.sh test` does): the
//! kit finds them next to this test binary.

use rvs_testkit::lab::state::LabState;
use rvs_testkit::lab::topology::TunnelSpec;
use rvs_testkit::{
    skip, skip_unless_tools, Bins, HostSpec, Lab, LabOptions, TempDir, Topology, TunnelKind,
};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const RVS_LAB: &str = env!("CARGO_BIN_EXE_rvs-lab");

/// The issue's example, verbatim (comments and all).
const EXAMPLE: &str = include_str!("../examples/issue-example.toml");

/// Two sites joined by GRE; VLAN 10 and VLAN 20 each span both sites, all four hosts in one
/// IP subnet, so only the VLANs keep them apart.
const TWO_VLANS: &str = include_str!("../examples/two-vlans.toml");

/// A private lab root for `test`, or `None` (after saying why) when the test cannot run.
fn setup(test: &str, tag: &str) -> Option<Cli> {
    can_run(test).then(|| Cli::new(tag))
}

/// Root, tools, and rvs's binaries; false after saying why (a failure under
/// RVS_REQUIRE_ROOT=1).
fn can_run(test: &str) -> bool {
    if skip_unless_tools(test, &["ip", "ping"]) {
        return false;
    }
    match Bins::find() {
        Ok(_) => true,
        Err(e) => !skip(test, &e),
    }
}

/// A private lab root for one test, and the `rvs-lab` commands that use it.
struct Cli {
    root: TempDir,
}

impl Cli {
    fn new(tag: &str) -> Cli {
        Cli {
            root: TempDir::new(tag),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(RVS_LAB);
        c.args(args).env("RVS_LAB_DIR", &self.root.0);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run rvs-lab")
    }

    /// stdout of a command that must succeed.
    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "rvs-lab {args:?}: {}\n{}\n{}",
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn file(&self, name: &str, text: &str) -> String {
        let p = self.root.0.join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    }

    fn lab_dir(&self, lab: &str) -> PathBuf {
        self.root.0.join(lab)
    }
}

/// What the system shows of a lab: namespaces whose name has `-LAB-` in it, processes whose
/// command line mentions `dir`, and whether `dir` exists.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    namespaces: Vec<String>,
    processes: Vec<String>,
    dir_exists: bool,
}

fn seen(lab: &str, dir: &Path) -> Seen {
    let ns = rvs_testkit::run(["ip", "netns", "list"]);
    let tag = format!("-{lab}-");
    let namespaces = ns
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.contains(&tag))
        .map(str::to_string)
        .collect();
    let mark = dir.display().to_string();
    let processes = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter_map(|e| {
            let raw = std::fs::read(e.path().join("cmdline")).ok()?;
            let line = String::from_utf8_lossy(&raw).replace('\0', " ");
            line.contains(&mark)
                .then(|| format!("{}: {line}", e.file_name().to_string_lossy()))
        })
        .collect();
    Seen {
        namespaces,
        processes,
        dir_exists: dir.exists(),
    }
}

fn nothing() -> Seen {
    Seen {
        namespaces: vec![],
        processes: vec![],
        dir_exists: false,
    }
}

#[test]
fn cli_example_and_two_vlans_forward_isolate_and_leave_nothing() {
    let test = "cli_example_and_two_vlans_forward_isolate_and_leave_nothing";
    if !can_run(test) || skip_unless_tools(test, &["iperf3", "ss"]) {
        return;
    }
    let cli = Cli::new("labcli");

    // The issue's example: two switches, one host, a tunnel.
    let ex = cli.file("example.toml", EXAMPLE);
    assert_eq!(seen("example", &cli.lab_dir("example")), nothing());
    let out = cli.ok(&["up", &ex]);
    assert!(
        out.contains("host   h1") && out.contains("10.0.0.1/24") && out.contains("gre0"),
        "{out}"
    );
    let up = seen("example", &cli.lab_dir("example"));
    assert_eq!(up.namespaces.len(), 3, "{up:?}");
    assert_eq!(up.processes.len(), 2, "one rvsd per switch: {up:?}");
    let ports = cli.ok(&["vsctl", "example", "s1", "--", "list-ports", "br0"]);
    assert_eq!(ports.split_whitespace().collect::<Vec<_>>(), ["gre0", "h1"]);
    let tag = cli.ok(&["vsctl", "example", "s1", "--", "get", "port", "h1", "tag"]);
    assert_eq!(tag.trim(), "10");
    let m = cli.ok(&["pingall", "example", "--json"]);
    let m: serde_json::Value = serde_json::from_str(&m).unwrap();
    assert_eq!(
        (m["ok"].as_bool(), m["pairs"].as_array().map(Vec::len)),
        (Some(true), Some(0))
    );
    cli.ok(&["down", "example"]);
    assert_eq!(seen("example", &cli.lab_dir("example")), nothing());

    // Four hosts, two VLANs, two sites.
    let f = cli.file("vlans.toml", TWO_VLANS);
    let out = cli.ok(&["up", &f, "--name", "vl", "--json"]);
    let state: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(state["status"], "up", "{state}");
    assert_eq!(state["hosts"][0]["mac"], "02:72:76:00:00:01");
    assert_eq!(
        state["tunnels"][0]["ends"][1]["underlay_ip"],
        "172.16.0.2/24"
    );
    let up = seen("vl", &cli.lab_dir("vl"));
    assert_eq!((up.namespaces.len(), up.processes.len()), (6, 2), "{up:?}");

    let o = cli.run(&["pingall", "vl"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "pingall:\n{text}");
    assert!(
        text.contains("12 pairs: 4 reached, 8 isolated as expected, 0 unexpected"),
        "{text}"
    );
    let o = cli.ok(&["pingall", "vl", "--json"]);
    let m: serde_json::Value = serde_json::from_str(&o).unwrap();
    let pair = |a: &str, b: &str| {
        m["pairs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["from"] == a && p["to"] == b)
            .cloned()
            .unwrap()
    };
    assert_eq!((pair("a10", "b10")["reached"].as_bool()), Some(true));
    let cross = pair("a10", "a20");
    assert_eq!(
        (cross["expect"].as_bool(), cross["reached"].as_bool()),
        (Some(false), Some(false)),
        "{cross}"
    );
    assert!(cross["why"].as_str().unwrap().contains("VLAN"), "{cross}");

    // pingall fails when the network does not do what the file says: move b20 into VLAN
    // 10 behind the lab's back; a10 now reaches it, which the topology says it must not.
    cli.ok(&[
        "vsctl", "vl", "site-b", "--", "set", "port", "b20", "tag=10",
    ]);
    let o = cli.run(&["pingall", "vl"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains("UNEXPECTED a10 -> b20: reached, but should not"),
        "{text}"
    );
    cli.ok(&[
        "vsctl", "vl", "site-b", "--", "set", "port", "b20", "tag=20",
    ]);

    // exec runs in the node's namespace and passes the exit status on; on a switch,
    // ovs-vsctl talks to that switch's rvsd.
    let addr = cli.ok(&[
        "exec", "vl", "b10", "--", "ip", "-br", "addr", "show", "eth0",
    ]);
    assert!(addr.contains("10.60.0.3/24"), "{addr}");
    let o = cli.run(&["exec", "vl", "a10", "--", "sh", "-c", "exit 7"]);
    assert_eq!(o.status.code(), Some(7));
    let br = cli.ok(&[
        "exec",
        "vl",
        "site-a",
        "--",
        "ovs-vsctl",
        "list-ports",
        "br0",
    ]);
    assert!(br.contains("a20"), "{br}");
    let fdb = cli.ok(&["appctl", "vl", "site-b", "--", "fdb/show", "br0"]);
    assert!(
        fdb.contains("02:72:76:00:00:01"),
        "a10 learned across the tunnel: {fdb}"
    );
    let ip = cli.ok(&["iperf", "vl", "a20", "b20", "--time", "1", "--json"]);
    let ip: serde_json::Value = serde_json::from_str(&ip).unwrap();
    assert!(ip["gbit_per_s"].as_f64().unwrap() > 0.01, "{ip}");

    let list = cli.ok(&["list"]);
    assert!(list.contains("vl") && list.contains(" up "), "{list}");
    let o = cli.run(&["up", &f, "--name", "vl"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("lab vl exists already"),
        "a second up of one name fails"
    );
    cli.ok(&["down", "vl"]);
    assert_eq!(seen("vl", &cli.lab_dir("vl")), nothing());
    assert!(cli.ok(&["list", "--json"]).trim() == "[]");
}

/// The state of lab `name` under `root`, if readable.
fn state_of(root: &Path, name: &str) -> Option<LabState> {
    LabState::load(&root.join(name)).ok()
}

#[test]
fn kill_9_mid_up_then_down_all_cleans_everything() {
    let Some(cli) = setup("kill_9_mid_up_then_down_all_cleans_everything", "labk9") else {
        return;
    };
    // A lab whose owner (this test) is alive: down --all must leave it alone.
    let keep = cli.file("keep.toml", EXAMPLE);
    cli.ok(&["up", &keep, "--name", "keep"]);
    // Enough switches that `up` is still busy after the first rvsd answers.
    let mut big = String::new();
    for i in 0..6 {
        big.push_str(&format!("[[switch]]\nname = \"s{i}\"\n"));
        big.push_str(&format!(
            "[[host]]\nname = \"h{i}\"\nswitch = \"s{i}\"\nip = \"10.61.{i}.1/24\"\n"
        ));
    }
    let f = cli.file("big.toml", &big);
    let mut child = cli
        .command(&["up", &f, "--name", "k9"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    let mid = loop {
        let s = state_of(&cli.root.0, "k9");
        if s.as_ref().is_some_and(|s| !s.daemons.is_empty())
            || t.elapsed() > Duration::from_secs(20)
        {
            break s;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let mid = mid.expect("up wrote its state and started a daemon");
    assert!(!mid.complete, "killed before it completed: {mid:?}");
    // Let commands it had started (ip, a starting rvsd) finish, as they would after a crash.
    std::thread::sleep(Duration::from_millis(300));
    let left = seen("k9", &cli.lab_dir("k9"));
    assert!(
        !left.namespaces.is_empty() && !left.processes.is_empty() && left.dir_exists,
        "a killed up leaves things behind: {left:?}"
    );
    let list = cli.ok(&["list"]);
    assert!(
        list.lines()
            .any(|l| l.starts_with("k9 ") && l.contains("broken")),
        "{list}"
    );

    let out = cli.ok(&["down", "--all"]);
    assert!(out.contains("removed lab k9"), "{out}");
    assert_eq!(seen("k9", &cli.lab_dir("k9")), nothing());
    let kept = seen("keep", &cli.lab_dir("keep"));
    assert_eq!(
        (kept.namespaces.len(), kept.processes.len()),
        (3, 2),
        "{kept:?}"
    );
    cli.ok(&["down", "keep"]);
    assert_eq!(seen("keep", &cli.lab_dir("keep")), nothing());
}

#[test]
fn malformed_topologies_name_line_and_key_and_create_nothing() {
    let test = "malformed_topologies_name_line_and_key_and_create_nothing";
    let Some(cli) = setup(test, "labbad") else {
        return;
    };
    let ns_before = rvs_testkit::run(["ip", "netns", "list"]);
    for (what, from, to, want) in [
        (
            "unknown switch",
            "switch = \"site-b\"\nip = \"10.60.0.3/24\"",
            "switch = \"site-c\"\nip = \"10.60.0.3/24\"",
            ":18:10: host[2].switch: \"site-c\" is not a switch (switches: site-a, site-b)",
        ),
        (
            "duplicate IP",
            "10.60.0.4/24",
            "10.60.0.1/24",
            ":24:6: host[3].ip: duplicate IP address 10.60.0.1: host \"a10\" (line 9) has it too",
        ),
        (
            "bad prefix",
            "10.60.0.2/24",
            "10.60.0.2/33",
            ":14:6: host[1].ip: \"10.60.0.2/33\": bad prefix length /33",
        ),
        (
            "tunnel to itself",
            "between = [\"site-a\", \"site-b\"]",
            "between = [\"site-a\", \"site-a\"]",
            ":28:11: tunnel[0].between: a tunnel from \"site-a\" to itself",
        ),
    ] {
        assert!(TWO_VLANS.contains(from), "{what}");
        let f = cli.file("bad.toml", &TWO_VLANS.replace(from, to));
        let o = cli.run(&["up", &f, "--name", "bad"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{what}: {err}");
        assert!(err.contains(&format!("bad.toml{want}")), "{what}: {err}");
        assert_eq!(seen("bad", &cli.lab_dir("bad")), nothing(), "{what}");
    }
    assert_eq!(rvs_testkit::run(["ip", "netns", "list"]), ns_before);
    let entries: Vec<_> = std::fs::read_dir(&cli.root.0)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .collect();
    assert!(entries.is_empty(), "no lab directory: {entries:?}");
}

#[test]
fn rust_api_builds_pings_and_cleans_up_on_drop_and_on_panic() {
    let test = "rust_api_builds_pings_and_cleans_up_on_drop_and_on_panic";
    if !can_run(test) {
        return;
    }
    let root = TempDir::new("labapi");
    let opts = || LabOptions {
        root: root.0.clone(),
        ..LabOptions::default()
    };
    // One switch, three hosts: two in VLAN 7, one untagged in another subnet.
    let topo = Topology::new()
        .switch("sw")
        .host_spec(HostSpec::new("web", "sw", "10.62.0.10/24").vlan(7))
        .host_spec(HostSpec::new("db", "sw", "10.62.0.20/24").vlan(7))
        .host("mgmt", "sw", "10.63.0.1/24");
    let lab = Lab::up(&topo, opts()).unwrap();
    let dir = lab.state().dir.clone();
    let name = lab.name().to_string();
    assert!(lab
        .exec("web", ["ip", "-br", "link", "show", "eth0"])
        .contains("02:72:76:00:00:01"));
    assert!(lab.ping("web", "db"));
    let m = lab.pingall();
    assert!(m.all_expected(), "{m}");
    assert!(m.get("web", "db").unwrap().reached);
    assert!(!m.get("web", "mgmt").unwrap().reached);
    assert!(lab.rvsd("sw").unwrap().coverage("datapath_drop_runt") == 0);
    let up = seen(&name, &dir);
    assert_eq!((up.namespaces.len(), up.processes.len()), (4, 1), "{up:?}");
    drop(lab);
    assert_eq!(seen(&name, &dir), nothing());

    // A panicking test still removes its lab (Drop runs while unwinding).
    let mut where_ = None;
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let two = Topology::new()
            .switch("a")
            .switch("b")
            .host("x", "a", "10.64.0.1/24")
            .host("y", "b", "10.64.0.2/24")
            .tunnel("a", "b", TunnelKind::Gre);
        let lab = Lab::up(&two, opts()).unwrap();
        assert!(lab.ping("x", "y"), "across the tunnel");
        where_ = Some((lab.name().to_string(), lab.state().dir.clone()));
        panic!("test failure inside a lab");
    }));
    assert!(r.is_err());
    let (name, dir) = where_.unwrap();
    assert_eq!(seen(&name, &dir), nothing());

    // A bad topology is refused before anything exists.
    let e = Lab::up(
        &Topology::new().switch("a").host("h", "b", "10.0.0.1/24"),
        opts(),
    );
    assert!(e.unwrap_err().to_string().contains("host[0].switch"));
}

/// The README's two-site example: its file is `examples/two-site.toml` (the README shows it
/// verbatim), and its test body works as printed.
#[test]
fn readme_two_site_example() {
    let readme = include_str!("../../README.md");
    let file = include_str!("../examples/two-site.toml");
    assert!(
        readme.contains(&format!("```toml\n{file}```")),
        "README and examples/two-site.toml differ"
    );
    if !can_run("readme_two_site_example") {
        return;
    }
    let lab = Lab::from_toml(file).expect("lab up");
    let route = lab.exec("web1", ["ip", "route", "get", "10.10.0.12"]);
    assert!(route.contains("dev eth0"), "{route}");
    assert!(lab.ping("web1", "web2"));
    assert!(!lab.ping("web1", "db2"), "VLAN 10 must not reach VLAN 20");
    let matrix = lab.pingall();
    assert!(matrix.all_expected(), "{matrix}");
    assert_eq!(
        matrix.pairs.iter().filter(|p| p.reached).count(),
        4,
        "{matrix}"
    );
}

/// Every tunnel type rvs has carries a lab across two sites, with a key (VNI for VXLAN and
/// Geneve), and keeps its VLANs apart.
#[test]
fn vxlan_and_geneve_tunnels_join_sites() {
    let Some(cli) = setup("vxlan_and_geneve_tunnels_join_sites", "labudp") else {
        return;
    };
    for kind in [TunnelKind::Vxlan, TunnelKind::Geneve] {
        let mut topo = Topology::from_toml(TWO_VLANS).unwrap();
        topo.tunnels = vec![TunnelSpec {
            between: vec!["site-a".into(), "site-b".into()],
            kind,
            key: Some(5000),
        }];
        let opts = LabOptions {
            root: cli.root.0.clone(),
            ..LabOptions::default()
        };
        let lab = Lab::up(&topo, opts).unwrap();
        let port = format!("{}0", kind.as_str());
        let opts = lab.vsctl("site-a", &["get", "interface", &port, "options"]);
        assert!(opts.contains("key=\"5000\""), "{kind:?}: {opts}");
        let m = lab.pingall();
        assert!(m.all_expected(), "{kind:?}:\n{m}");
        assert!(
            m.get("a10", "b10").unwrap().reached,
            "{kind:?}: across the tunnel"
        );
    }
}
