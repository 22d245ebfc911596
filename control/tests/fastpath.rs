//! The kernel fast path (`other_config:hw-offload=true`), end to end (root): real veths in
//! network namespaces, default offloads, the BPF programs as the kernel runs them.
//!
//! What is checked against the kernel rather than against rvs's word: frames counted at the
//! receiver (no duplicates, none to a port that no longer owns the address), the frames rvs's
//! own pipeline saw (`datapath_frames`: offloaded traffic must not reach it), and the programs
//! attached to each netdev (asked of the kernel with `bpf_prog_query`).

mod common;

use common::Lan;
use rvs_datapath::fastpath::tcx_programs;
use rvs_testkit::{skip_unless_root, skip_unless_tools, wait_for, Capture, Netns};
use std::time::Duration;

fn skip(name: &str) -> bool {
    skip_unless_root(name) || skip_unless_tools(name, &["tcpdump", "ping", "iperf3"])
}

/// A LAN of `n` containers with the fast path on (and verified on).
fn fast_lan(n: usize, subnet: u8) -> Lan {
    let lan = Lan::new(n, subnet);
    lan.rvsd
        .vsctl_ok(&["set", "Open_vSwitch", ".", "other_config:hw-offload=true"]);
    assert!(
        lan.rvsd.log().contains("kernel fast path enabled"),
        "fast path did not load:\n{}",
        lan.rvsd.log()
    );
    lan
}

/// `dpctl/dump-flows -m type=offloaded` lines with EtherType `eth_type` ("0x0800").
fn offloaded(lan: &Lan, eth_type: &str) -> Vec<String> {
    lan.rvsd
        .appctl_ok(&["dpctl/dump-flows", "-m", "type=offloaded"])
        .lines()
        .filter(|l| l.contains(&format!("eth_type({eth_type})")))
        .map(str::to_string)
        .collect()
}

/// The `packets:N` of a dump-flows line.
fn packets(line: &str) -> u64 {
    line.split("packets:")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no packets in {line}"))
}

/// Frames the userspace pipeline processed.
fn userspace_frames(lan: &Lan) -> u64 {
    lan.rvsd.coverage("datapath_frames")
}

/// Ping from container 0 to container 1 until both directions' IPv4 flows are offloaded.
fn offload_icmp(lan: &Lan) {
    assert!(lan.ping(0, &lan.ip(1)), "{}", lan.rvsd.log());
    assert!(
        wait_for(Duration::from_secs(3), || offloaded(lan, "0x0800").len()
            == 2),
        "IPv4 flows not offloaded:\n{}",
        lan.rvsd.appctl_ok(&["dpctl/dump-flows", "-m"])
    );
}

/// The programs on `dev`'s TCX ingress (or egress) hook, as the kernel lists them.
fn programs(ns: &Netns, dev: &str, egress: bool) -> Vec<String> {
    let ifindex: u32 = ns
        .exec(["cat", &format!("/sys/class/net/{dev}/ifindex")])
        .trim()
        .parse()
        .expect("ifindex");
    ns.run_in(|| tcx_programs(ifindex, egress))
        .unwrap_or_else(|e| panic!("bpf_prog_query on {dev}: {e}"))
}

/// A ping flood from container `from` to `ip` in the background (100 per second).
fn ping_flood(lan: &Lan, from: usize, ip: &str, secs: u32) -> rvs_testkit::Background {
    let count = (secs * 100).to_string();
    lan.containers[from].spawn(["ping", "-q", "-i", "0.01", "-c", &count, "-W", "1", ip])
}

/// ICMP echo requests captured for `secs` on container `c`'s eth0.
fn echo_requests_at(lan: &Lan, c: usize, extra: &str, secs: f64) -> usize {
    let filter = format!("icmp[icmptype] == 8{extra}");
    let cap = Capture::start(&lan.containers[c], "eth0", &filter);
    std::thread::sleep(Duration::from_secs_f64(secs));
    cap.frames().len()
}

#[test]
fn offloaded_flows_count_the_traffic_and_rvs_sees_none_of_it() {
    if skip("offloaded_flows_count") {
        return;
    }
    let lan = fast_lan(2, 61);
    offload_icmp(&lan);
    let before: Vec<u64> = offloaded(&lan, "0x0800")
        .iter()
        .map(|l| packets(l))
        .collect();
    let frames_before = userspace_frames(&lan);
    let show = |lan: &Lan| lan.rvsd.appctl_ok(&["dpctl/show", "-s"]);
    let rx_of = |show: &str, port: &str| -> u64 {
        let mut lines = show
            .lines()
            .skip_while(|l| !l.ends_with(&format!(": {port}")));
        let rx = lines.nth(1).unwrap_or_default();
        rx.split("RX packets:")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no RX packets for {port} in\n{show}"))
    };
    let rx_before = rx_of(&show(&lan), &lan.ports[0]);

    let cap = Capture::start(&lan.containers[1], "eth0", "icmp[icmptype] == 8");
    let out = lan.containers[0].exec(["ping", "-c", "20", "-i", "0.02", &lan.ip(1)]);
    assert!(out.contains("20 received") && !out.contains("DUP"), "{out}");
    let seen = cap.frames().len();
    assert_eq!(seen, 20, "the receiver got each request once");

    let after: Vec<u64> = offloaded(&lan, "0x0800")
        .iter()
        .map(|l| packets(l))
        .collect();
    assert_eq!(after.len(), 2);
    for (a, b) in after.iter().zip(&before) {
        assert_eq!(a - b, 20, "offloaded flow counters equal the traffic sent");
    }
    for l in offloaded(&lan, "0x0800") {
        assert!(l.contains("offloaded:yes, dp:tc"), "{l}");
    }
    let userspace = userspace_frames(&lan) - frames_before;
    assert!(
        userspace <= 2,
        "rvs's pipeline saw {userspace} frames of 40 offloaded ones"
    );
    let rx = rx_of(&show(&lan), &lan.ports[0]) - rx_before;
    assert!(rx >= 20, "port counters include offloaded traffic: +{rx}");

    // type= filters by where the flow runs.
    let ovs = lan.rvsd.appctl_ok(&["dpctl/dump-flows", "type=ovs"]);
    assert!(!ovs.contains("eth_type(0x0800)"), "{ovs}");
    let bad = lan.rvsd.appctl(&["dpctl/dump-flows", "type=bogus"]);
    assert!(
        !bad.status.success()
            && String::from_utf8_lossy(&bad.stderr).contains("Failed to parse type (bogus)"),
        "{bad:?}"
    );
}

#[test]
fn tcp_with_default_offloads_runs_in_the_kernel() {
    if skip("tcp_fast_path") {
        return;
    }
    let lan = fast_lan(2, 62);
    offload_icmp(&lan);
    let _server = lan.containers[1].spawn(["iperf3", "-s", "-1"]);
    std::thread::sleep(Duration::from_millis(300));
    let frames_before = userspace_frames(&lan);
    let out = lan.containers[0].exec(["iperf3", "-c", &lan.ip(1), "-t", "2", "-J"]);
    let bps: f64 = out
        .split("\"sum_received\"")
        .nth(1)
        .and_then(|s| s.split("\"bits_per_second\":").nth(1))
        .and_then(|s| s.split([',', '}']).next())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("no throughput in {out}"));
    assert!(bps > 1e8, "TCP through the fast path: {bps} bit/s");
    let userspace = userspace_frames(&lan) - frames_before;
    // The handshake's first frames may miss; a 2 s transfer is ~100k segments.
    assert!(
        userspace < 50,
        "{userspace} frames of the transfer reached userspace"
    );
    let flows = offloaded(&lan, "0x0800");
    assert!(
        flows.iter().all(|l| l.contains("flags:")),
        "TCP flags are recorded: {flows:?}"
    );
}

#[test]
fn a_mac_move_under_offloaded_traffic_takes_effect_at_once() {
    if skip("mac_move") {
        return;
    }
    let lan = fast_lan(3, 63);
    offload_icmp(&lan);
    let moved = lan.containers[1].mac("eth0");
    let _flood = ping_flood(&lan, 0, &lan.ip(1), 4);
    std::thread::sleep(Duration::from_millis(300));
    // Host 1 leaves (its netdev takes another address); host 2 takes over its MAC and IP
    // and says so with one frame, which rvs learns from as a move.
    lan.containers[1].exec(["ip", "link", "set", "eth0", "address", "02:00:00:00:63:99"]);
    lan.containers[1].exec(["ip", "addr", "flush", "dev", "eth0"]);
    lan.containers[2].exec(["ip", "link", "set", "eth0", "address", &moved]);
    lan.containers[2].exec([
        "ip",
        "addr",
        "add",
        &format!("{}/24", lan.ip(1)),
        "dev",
        "eth0",
    ]);
    let to_moved = format!(" and ether dst {moved}");
    let new_owner = Capture::start(&lan.containers[2], "eth0", "icmp[icmptype] == 8");
    lan.containers[2].exec(["ping", "-c", "1", "-W", "1", "-I", &lan.ip(1), &lan.ip(0)]);
    // The bound is one revalidation pass (10 ms); allow scheduling slack, then nothing more
    // may reach the old port.
    std::thread::sleep(Duration::from_millis(50));
    let stale = echo_requests_at(&lan, 1, &to_moved, 1.0);
    assert_eq!(
        stale, 0,
        "frames for the moved MAC still reached its old port"
    );
    let reached = new_owner.frames().len();
    assert!(reached > 50, "the new port got {reached} requests in ~1 s");
}

#[test]
fn a_removed_port_gets_nothing_more_and_loses_its_program() {
    if skip("port_removal") {
        return;
    }
    let lan = fast_lan(2, 64);
    offload_icmp(&lan);
    assert_eq!(programs(&lan.sw, &lan.ports[1], false), ["rvs_tc"]);
    let _flood = ping_flood(&lan, 0, &lan.ip(1), 3);
    std::thread::sleep(Duration::from_millis(300));
    lan.rvsd.vsctl_ok(&["del-port", "br0", &lan.ports[1]]);
    let after = echo_requests_at(&lan, 1, "", 1.0);
    assert_eq!(after, 0, "frames reached a port removed from the bridge");
    assert!(programs(&lan.sw, &lan.ports[1], false).is_empty());
}

#[test]
fn a_vlan_change_under_offloaded_traffic_takes_effect_at_once() {
    if skip("vlan_change") {
        return;
    }
    let lan = fast_lan(2, 65);
    offload_icmp(&lan);
    let _flood = ping_flood(&lan, 0, &lan.ip(1), 3);
    std::thread::sleep(Duration::from_millis(300));
    lan.rvsd.vsctl_ok(&["set", "port", &lan.ports[1], "tag=10"]);
    let after = echo_requests_at(&lan, 1, "", 1.0);
    assert_eq!(
        after, 0,
        "untagged traffic reached an access port of VLAN 10"
    );
}

#[test]
fn hosts_that_talk_only_over_offloaded_flows_stay_learned() {
    if skip("fastpath_aging") {
        return;
    }
    let lan = fast_lan(2, 66);
    lan.rvsd
        .vsctl_ok(&["set", "bridge", "br0", "other_config:mac-aging-time=15"]);
    offload_icmp(&lan);
    let frames_before = userspace_frames(&lan);
    let expired_before = expired(&lan);
    let macs = [lan.containers[0].mac("eth0"), lan.containers[1].mac("eth0")];
    // 20 s of traffic, longer than the shortest aging time OVS allows (15 s): only the fast
    // path's refresh keeps the hosts learned.
    let out = lan.containers[0].exec(["ping", "-q", "-c", "40", "-i", "0.5", &lan.ip(1)]);
    assert!(out.contains("40 received"), "{out}");
    let userspace = userspace_frames(&lan) - frames_before;
    assert!(
        userspace <= 4,
        "the traffic was meant to be offloaded; {userspace} frames reached userspace"
    );
    let fdb = lan.rvsd.appctl_ok(&["fdb/show", "br0"]);
    for m in &macs {
        assert!(fdb.contains(m.as_str()), "{m} is not learned:\n{fdb}");
    }
    // Without the refresh they would expire after 15 s and be learned again from the next
    // frame (which then reaches userspace): the table must show no expiry at all.
    assert_eq!(
        expired(&lan),
        expired_before,
        "hosts aged out while their traffic was offloaded:\n{}",
        lan.rvsd.appctl_ok(&["fdb/stats-show", "br0"])
    );
}

/// `fdb/stats-show br0`: MAC entries expired so far.
fn expired(lan: &Lan) -> u64 {
    let s = lan.rvsd.appctl_ok(&["fdb/stats-show", "br0"]);
    s.lines()
        .find(|l| l.contains("expired MAC entries"))
        .and_then(|l| l.rsplit(':').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no expired count in\n{s}"))
}

#[test]
fn without_cap_bpf_ports_work_in_userspace_and_say_why() {
    if skip("fastpath_fallback") {
        return;
    }
    // rvsd without CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN (still root, CAP_NET_ADMIN kept).
    let lan = Lan::build(
        2,
        67,
        "",
        &["setpriv", "--bounding-set=-bpf,-perfmon,-sys_admin"],
    );
    lan.rvsd
        .vsctl_ok(&["set", "Open_vSwitch", ".", "other_config:hw-offload=true"]);
    let log = lan.rvsd.log();
    assert!(
        log.contains("kernel fast path unavailable") && log.contains("Operation not permitted"),
        "{log}"
    );
    assert!(lan.ping(0, &lan.ip(1)), "{}", lan.rvsd.log());
    assert!(offloaded(&lan, "0x0800").is_empty());
    for p in &lan.ports {
        assert!(programs(&lan.sw, p, false).is_empty());
    }
}

#[test]
fn stop_and_kill9_leave_no_program_and_restart_attaches_exactly_one() {
    if skip("fastpath_lifetime") {
        return;
    }
    let mut lan = fast_lan(2, 68);
    offload_icmp(&lan);
    let p0 = lan.ports[0].clone();
    assert_eq!(programs(&lan.sw, &p0, false), ["rvs_tc"]);
    assert_eq!(
        programs(&lan.sw, "br0", true),
        ["rvs_tc"],
        "internal port: egress"
    );
    lan.rvsd.kill9();
    assert!(
        wait_for(Duration::from_secs(3), || programs(&lan.sw, &p0, false)
            .is_empty()),
        "a killed rvsd's program keeps running"
    );
    lan.rvsd.restart();
    assert!(
        wait_for(Duration::from_secs(5), || lan
            .rvsd
            .log()
            .contains("kernel fast path enabled")),
        "{}",
        lan.rvsd.log()
    );
    assert!(
        wait_for(Duration::from_secs(3), || programs(&lan.sw, &p0, false)
            .len()
            == 1),
        "{:?}",
        programs(&lan.sw, &p0, false)
    );
    assert_eq!(programs(&lan.sw, &p0, false), ["rvs_tc"]);
    offload_icmp(&lan);
    lan.rvsd.stop();
    assert!(programs(&lan.sw, &p0, false).is_empty());
}
