//! rvsd end to end, through the real front ends, in network namespaces (root only):
//! a bridge with netns containers, ping and TCP with default offloads, internal/TAP ports,
//! listings, persistence across kill -9, concurrent clients, vanishing netdevs.

mod common;

use common::{suite, Lan, Rvsd, RvsdHost, TempDir};
use rvs_testkit::{skip_unless_root, skip_unless_tools, unique_ifname, Netns};
use std::path::Path;
use std::time::Duration;

#[test]
fn containers_ping_each_other_and_the_bridge() {
    if skip_unless_root("containers_ping_each_other_and_the_bridge") {
        return;
    }
    let lan = Lan::new(3, 1);
    suite::ping_each_other_and_the_bridge(&lan, "");
}

#[test]
fn tcp_with_default_offloads_through_veth_and_internal_ports() {
    if skip_unless_root("tcp_with_default_offloads")
        || skip_unless_tools(
            "tcp_with_default_offloads",
            &["iperf3", "curl", "python3", "nstat", "sha256sum"],
        )
    {
        return;
    }
    let lan = Lan::new(2, 2);
    // A third "container" behind an extra internal (TAP) port moved into its own netns.
    let (c3, _) = suite::internal_port_in_netns(&lan, "10.77.2.30/24");
    let c = &lan.containers;
    suite::tcp_with_default_offloads("veth", &c[0], &c[1], &lan.ip(1), 3);
    suite::tcp_with_default_offloads("tap", &c[0], &c3, "10.77.2.30", 3);
}

#[test]
fn config_survives_kill_9_and_forwarding_resumes() {
    if skip_unless_root("config_survives_kill_9") {
        return;
    }
    let mut lan = Lan::new(2, 3);
    lan.rvsd
        .vsctl_ok(&["set", "bridge", "br0", "other_config:mac-aging-time=60"]);
    lan.rvsd
        .vsctl_ok(&["set", "interface", &lan.ports[0], "external_ids:owner=test"]);
    assert!(lan.ping(0, &lan.ip(1)));
    let before = lan.rvsd.vsctl_ok(&["show"]);
    lan.rvsd.kill9();
    // The internal TAP went away with the process; a restart recreates it.
    lan.rvsd.respawn();
    assert_eq!(lan.rvsd.vsctl_ok(&["show"]), before);
    assert_eq!(
        lan.rvsd
            .vsctl_ok(&["get", "interface", &lan.ports[0], "external_ids:owner"])
            .trim(),
        "test"
    );
    let t = std::time::Instant::now();
    let mut ok = false;
    while t.elapsed() < Duration::from_secs(5) && !ok {
        ok = lan.containers[0]
            .try_exec(["ping", "-c", "1", "-W", "1", &lan.ip(1)])
            .map(|o| o.status.success())
            .unwrap_or(false);
    }
    assert!(ok, "forwarding resumed after restart");
    // Clean stop exits 0 and keeps the config.
    assert_eq!(lan.rvsd.stop(), Some(0));
    assert!(lan.rvsd.dbdir.join("conf.json").exists());
    let tap_left = lan
        .sw
        .try_exec(["ip", "link", "show", "br0"])
        .map(|o| o.status.success())
        .unwrap_or(true);
    assert!(
        !tap_left,
        "the bridge's TAP device is gone after a clean stop"
    );
    lan.rvsd.respawn();
    assert_eq!(lan.rvsd.vsctl_ok(&["show"]), before);
}

#[test]
fn concurrent_clients_leave_a_consistent_config() {
    if skip_unless_root("concurrent_clients") {
        return;
    }
    let host = RvsdHost::start(&common::bins(), "conc");
    let rvsd = &host.rvsd;
    rvsd.vsctl_ok(&["add-br", "br0"]);
    let names: Vec<String> = (0..16).map(|_| unique_ifname("q")).collect();
    std::thread::scope(|s| {
        for n in &names {
            let rvsd = &rvsd;
            s.spawn(move || {
                rvsd.add_port("br0", n, "internal", &[]);
            });
        }
    });
    let ports = rvsd.vsctl_ok(&["list-ports", "br0"]);
    let mut listed: Vec<&str> = ports.lines().collect();
    listed.sort();
    let mut want: Vec<&str> = names.iter().map(String::as_str).collect();
    want.sort();
    assert_eq!(listed, want);
    // Every port got a distinct OpenFlow port number.
    let mut ofports: Vec<String> = names
        .iter()
        .map(|n| {
            rvsd.vsctl_ok(&["get", "interface", n, "ofport"])
                .trim()
                .to_string()
        })
        .collect();
    ofports.sort();
    ofports.dedup();
    assert_eq!(ofports.len(), names.len());
    drop(host);
}

#[test]
fn vanished_veth_shows_an_error_and_resumes_when_recreated() {
    if skip_unless_root("vanished_veth") {
        return;
    }
    let lan = Lan::new(2, 4);
    assert!(lan.ping(0, &lan.ip(1)));
    let p = lan.ports[1].clone();
    lan.sw.exec(["ip", "link", "del", &p]);
    let err_seen = lan.sw.wait_until(Duration::from_secs(5), |_| {
        let _ = lan.ping(0, &lan.ip(1));
        lan.rvsd
            .vsctl_ok(&["get", "interface", &p, "error"])
            .contains("could not open network device")
    });
    assert!(
        err_seen,
        "error column set after the veth vanished:\n{}",
        lan.rvsd.vsctl_ok(&["show"])
    );
    // Recreate it with the same name; the port resumes.
    lan.sw.add_veth(&p, &lan.containers[1], "eth0");
    lan.containers[1].set_addr("eth0", &format!("{}/24", lan.ip(1)));
    // The new veth has a new MAC: forget the old neighbour entry rather than wait it out.
    lan.containers[0].exec(["ip", "neigh", "flush", "all"]);
    let back = lan
        .sw
        .wait_until(Duration::from_secs(10), |_| lan.ping(0, &lan.ip(1)));
    assert!(
        back,
        "forwarding resumed on the recreated veth\n{}",
        lan.rvsd.log()
    );
    assert_eq!(
        lan.rvsd.vsctl_ok(&["get", "interface", &p, "error"]).trim(),
        "[]"
    );
}

#[test]
fn flow_counters_equal_the_traffic_sent() {
    if skip_unless_root("flow_counters_equal_the_traffic_sent") {
        return;
    }
    let lan = Lan::new(2, 5);
    assert!(lan.ping(0, &lan.ip(1)));
    lan.rvsd.appctl_ok(&["dpctl/del-flows"]);
    let frames = |r: &Rvsd| -> u64 {
        let s = r.appctl_ok(&["dpif-netdev/pmd-stats-show"]);
        s.lines()
            .filter_map(|l| l.trim().strip_prefix("packets received: "))
            .map(|v| v.parse::<u64>().unwrap())
            .sum()
    };
    let lookups = |r: &Rvsd| -> (u64, u64) {
        let s = r.appctl_ok(&["dpctl/show"]);
        let l = s
            .lines()
            .find(|l| l.trim_start().starts_with("lookups:"))
            .unwrap()
            .to_string();
        let num = |k: &str| {
            l.split(k)
                .nth(1)
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        };
        (num("hit:"), num("missed:"))
    };
    let (m_a, m_b) = (lan.containers[0].mac("eth0"), lan.containers[1].mac("eth0"));
    // The userspace datapath alone, then with the kernel fast path (the default): the flows'
    // counters are the traffic sent either way; only the frames userspace sees differ.
    for offload in [false, true] {
        lan.rvsd.vsctl_ok(&[
            "set",
            "Open_vSwitch",
            ".",
            &format!("other_config:hw-offload={offload}"),
        ]);
        lan.rvsd.appctl_ok(&["dpctl/del-flows"]);
        let (f0, (h0, m0)) = (frames(&lan.rvsd), lookups(&lan.rvsd));
        lan.containers[0].exec(["ping", "-c", "20", "-i", "0.05", "-W", "2", &lan.ip(1)]);
        let (f1, (h1, m1)) = (frames(&lan.rvsd), lookups(&lan.rvsd));
        assert_eq!((h1 - h0) + (m1 - m0), f1 - f0, "every frame is one lookup");
        if offload {
            assert!(f1 - f0 <= 4, "{} frames reached userspace", f1 - f0);
        } else {
            assert!(f1 - f0 >= 40);
        }
        let dump = lan.rvsd.appctl_ok(&["dpctl/dump-flows"]);
        let line = |src: &str, dst: &str| {
            dump.lines()
                .find(|l| l.contains(&format!("eth(src={src},dst={dst}),eth_type(0x0800)")))
                .unwrap_or_else(|| panic!("no flow {src}->{dst}:\n{dump}"))
                .to_string()
        };
        let fwd = line(&m_a, &m_b);
        assert!(
            fwd.starts_with("recirc_id(0),in_port(2),packet_type(ns=0,id=0),"),
            "{fwd}"
        );
        assert!(fwd.contains(", packets:20, bytes:1960, used:"), "{fwd}");
        assert!(fwd.ends_with(", actions:3"), "{fwd}");
        let back = line(&m_b, &m_a);
        assert!(
            back.contains(", packets:20, bytes:1960, used:") && back.ends_with(", actions:2"),
            "{back}"
        );
    }
    // -m names ports and prints a ufid.
    let dump_m = lan.rvsd.appctl_ok(&["dpctl/dump-flows", "-m"]);
    assert!(
        dump_m
            .lines()
            .any(|l| l.starts_with("ufid:") && l.contains(&format!("in_port({})", lan.ports[0]))),
        "{dump_m}"
    );
    // Per-port counters moved by at least the pings.
    let show = lan.rvsd.appctl_ok(&["dpctl/show", "-s"]);
    assert!(
        show.contains(&format!("port 2: {}\n    RX packets:", lan.ports[0])),
        "{show}"
    );
    // del-flows empties the cache.
    lan.rvsd.appctl_ok(&["dpctl/del-flows"]);
    assert!(lan.rvsd.appctl_ok(&["dpctl/show"]).contains("  flows: 0\n"));
}

#[test]
fn two_pmds_pinned_by_cpu_mask_forward_across_threads() {
    if skip_unless_root("two_pmds") || skip_unless_tools("two_pmds", &["iperf3"]) {
        return;
    }
    let mut lan = Lan::new(3, 7);
    lan.rvsd
        .vsctl_ok(&["set", "Open_vSwitch", ".", "other_config:pmd-cpu-mask=0x3"]);
    lan.rvsd.restart();
    let stats = lan.rvsd.appctl_ok(&["dpif-netdev/pmd-stats-show"]);
    assert!(
        stats.contains("core_id 0:") && stats.contains("core_id 1:"),
        "{stats}"
    );
    // Ports are spread over both PMDs (rx by port number), so these frames cross threads.
    for (a, b) in [(0, 1), (1, 2), (0, 2)] {
        assert!(
            lan.ping(a, &lan.ip(b)),
            "ping {a}->{b} with 2 PMDs\n{}",
            lan.rvsd.log()
        );
    }
    let _srv = lan.containers[1].spawn(["iperf3", "-s", "-1"]);
    std::thread::sleep(Duration::from_millis(300));
    lan.containers[0].exec(["iperf3", "-c", &lan.ip(1), "-t", "2"]);
    let stats = lan.rvsd.appctl_ok(&["dpif-netdev/pmd-stats-show"]);
    let received: Vec<u64> = stats
        .lines()
        .filter_map(|l| l.trim().strip_prefix("packets received: "))
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(received.len(), 2);
    assert!(
        received.iter().all(|&n| n > 0),
        "both PMDs carried traffic: {stats}"
    );
}

#[test]
fn detach_pidfile_logfile_and_socket_mode() {
    if skip_unless_root("detach_pidfile_logfile") {
        return;
    }
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let sw = Netns::new("dt");
    let dir = TempDir::new("dt");
    let (run, db, log) = (
        dir.0.join("run"),
        dir.0.join("db"),
        dir.0.join("log/rvsd.log"),
    );
    let st = sw
        .command([common::bins().rvsd])
        .args([
            "--detach",
            "--pidfile",
            &format!("--log-file={}", log.display()),
            "--rundir",
        ])
        .arg(&run)
        .arg("--dbdir")
        .arg(&db)
        .status()
        .unwrap();
    assert!(st.success(), "--detach returns 0 once the daemon serves");
    let pid: i32 = std::fs::read_to_string(run.join("rvsd.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    let sock = std::fs::metadata(run.join("rvsd.ctl")).unwrap();
    assert_eq!(sock.permissions().mode() & 0o777, 0o600);
    assert_eq!(sock.uid(), 0);
    let out = std::process::Command::new(common::bins().appctl)
        .args(["-t", run.join("rvsd.ctl").to_str().unwrap(), "version"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("rvsd (rvs) "));
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("|INFO|rvsd "),
        "log file written"
    );
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let gone = sw.wait_until(Duration::from_secs(5), |_| {
        !Path::new(&format!("/proc/{pid}")).exists()
    });
    assert!(gone, "SIGTERM stops the detached daemon");
    assert!(
        !run.join("rvsd.ctl").exists() && !run.join("rvsd.pid").exists(),
        "socket and pidfile removed"
    );
}
