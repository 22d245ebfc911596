//! `type=afxdp` ports end to end (root only): the netns suite of the ports issue (`suite`) on
//! AF_XDP ports, on veth and on a TAP device; stale XDP programs after `kill -9`;
//! `options:n_rxq`. Every test first asserts the ports really are in AF_XDP mode
//! (`dpctl/show` says `(afxdp)`, not the AF_PACKET fallback), so a build or kernel without
//! AF_XDP fails here instead of passing on AF_PACKET.

mod common;

use common::{suite, Lan};
use rvs_datapath::offload::prepare_tx;
use rvs_datapath::packet::{Batch, PacketPool, GSO_NONE};
use rvs_datapath::port::tap::TapPort;
use rvs_datapath::port::Port;
use rvs_testkit::{skip_unless_root, skip_unless_tools, unique_ifname, Netns};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const TCP_TOOLS: &[&str] = &["iperf3", "curl", "python3", "nstat", "sha256sum"];

/// Every container port of `lan` is in AF_XDP mode.
fn assert_afxdp(lan: &Lan) {
    for p in &lan.ports {
        assert_afxdp_port(lan, p);
    }
}

fn assert_afxdp_port(lan: &Lan, p: &str) {
    let line = lan.dpctl_line(p);
    assert!(
        line.ends_with(&format!(" {p} (afxdp)")),
        "{p} is not in AF_XDP mode: {line:?}\n{}",
        lan.rvsd.log()
    );
}

/// A coverage counter's total (0 when `coverage/show` does not list it: never hit).
fn coverage(lan: &Lan, name: &str) -> u64 {
    lan.rvsd.coverage(name)
}

/// The ids of the XDP programs `ip link show DEV` lists on `dev` in `ns`.
fn xdp_prog_ids(ns: &Netns, dev: &str) -> Vec<String> {
    let out = ns.exec(["ip", "link", "show", "dev", dev]);
    out.split("prog/xdp id ")
        .skip(1)
        .filter_map(|r| r.split_whitespace().next().map(str::to_string))
        .collect()
}

#[test]
fn afxdp_ports_ping_each_other_and_the_bridge() {
    if skip_unless_root("afxdp_ping") {
        return;
    }
    let lan = Lan::with_port_type(3, 21, "afxdp");
    assert_afxdp(&lan);
    suite::ping_each_other_and_the_bridge(&lan, " (afxdp)");
    // The socket really carried the frames: the program is attached (one, in best-effort
    // mode native on veth) and the port's counters moved.
    for p in &lan.ports {
        assert_eq!(xdp_prog_ids(&lan.sw, p).len(), 1, "{p}");
    }
    assert!(
        lan.rvsd
            .vsctl_ok(&["get", "interface", &lan.ports[0], "error"])
            .trim()
            == "[]"
    );
}

#[test]
fn afxdp_tcp_with_default_offloads_veth_and_internal_tap() {
    if skip_unless_root("afxdp_tcp") || skip_unless_tools("afxdp_tcp", TCP_TOOLS) {
        return;
    }
    let lan = Lan::with_port_type(2, 22, "afxdp");
    assert_afxdp(&lan);
    let (c3, _) = suite::internal_port_in_netns(&lan, "10.77.22.30/24");
    let c = &lan.containers;
    // AF_XDP → AF_XDP: partial checksums from the veth senders are marked on receive and
    // completed in software on transmit.
    suite::tcp_with_default_offloads("afxdp veth", &c[0], &c[1], &lan.ip(1), 2);
    assert!(
        coverage(&lan, "afxdp_rx_csum_partial") > 0,
        "veth senders' partial checksums were recognised"
    );
    assert!(coverage(&lan, "afxdp_tx_csum_completed") > 0);
    // AF_XDP ↔ internal TAP: the TAP's GSO super-frames are cut for the AF_XDP egress.
    suite::tcp_with_default_offloads("afxdp veth <-> internal tap", &c[0], &c3, "10.77.22.30", 2);
    assert!(
        coverage(&lan, "afxdp_tx_gso_segmented") > 0,
        "GSO frames from the TAP were segmented for AF_XDP"
    );
    assert_eq!(coverage(&lan, "afxdp_tx_offload_drops"), 0);
    assert_afxdp(&lan);
}

/// Sets the stop flag when dropped, so a failing test never leaves the relay spinning.
struct StopOnDrop<'a>(&'a AtomicBool);
impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// A "VM" behind a TAP device: rvs opens the TAP netdev `vm_side` with AF_XDP; this relay
/// holds its file descriptor (as QEMU would) and joins it to a second TAP whose netdev is
/// the VM's `eth` in its own namespace. Towards `vm_side` the relay behaves like a guest with
/// checksum offload but no TSO: frames keep their partial checksums (NEEDS_CSUM in the vnet
/// header), GSO super-frames are segmented (a 64 KB frame cannot fit a UMEM frame).
fn relay(vm_side: &mut TapPort, guest: &mut TapPort, stop: &AtomicBool) {
    let mut pool = PacketPool::new(256);
    let (mut rx, mut tx) = (Batch::new(), Batch::new());
    let mut oc = Default::default();
    while !stop.load(Ordering::Relaxed) {
        let mut moved = vm_side.rx_burst(&mut pool, &mut rx);
        guest.tx_burst(&mut rx, &mut pool);
        moved += guest.rx_burst(&mut pool, &mut rx);
        for p in rx.drain() {
            let vnet = p.meta.offload.gso_type == GSO_NONE;
            prepare_tx(p, vnet, &mut pool, &mut oc, &mut |s, pool| {
                if let Err(s) = tx.push(s) {
                    vm_side.tx_burst(&mut tx, pool);
                    let _ = tx.push(s);
                }
            });
        }
        vm_side.tx_burst(&mut tx, &mut pool);
        if moved == 0 {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

#[test]
fn afxdp_on_a_tap_device() {
    if skip_unless_root("afxdp_tap") || skip_unless_tools("afxdp_tap", TCP_TOOLS) {
        return;
    }
    let lan = Lan::with_port_type(1, 23, "afxdp");
    let vm = Netns::new("vm");
    let (tap, eth) = (unique_ifname("tv"), unique_ifname("te"));
    let (mut vm_side, mut guest) = lan.sw.run_in(|| {
        (
            TapPort::create(&tap, 100).expect("create TAP"),
            TapPort::create(&eth, 101).expect("create TAP"),
        )
    });
    lan.sw.exec(["ip", "link", "set", &eth, "netns", vm.name()]);
    vm.set_addr(&eth, "10.77.23.40/24");
    lan.rvsd.add_port("br0", &tap, "afxdp", &[]);
    assert_afxdp(&lan);
    assert_afxdp_port(&lan, &tap);
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| relay(&mut vm_side, &mut guest, &stop));
        let _stop = StopOnDrop(&stop);
        assert!(
            lan.containers[0].wait_until(Duration::from_secs(5), |_| lan.ping(0, "10.77.23.40")),
            "ping the VM behind the AF_XDP TAP\n{}",
            lan.rvsd.log()
        );
        suite::tcp_with_default_offloads("afxdp tap", &lan.containers[0], &vm, "10.77.23.40", 2);
        suite::tcp_with_default_offloads(
            "afxdp tap (vm sends)",
            &vm,
            &lan.containers[0],
            &lan.ip(0),
            2,
        );
    });
    assert_afxdp_port(&lan, &tap);
}

#[test]
fn afxdp_kill_9_leaves_a_stale_program_that_restart_replaces_and_stop_removes() {
    if skip_unless_root("afxdp_kill_9") {
        return;
    }
    let mut lan = Lan::with_port_type(2, 24, "afxdp");
    assert_afxdp(&lan);
    assert!(lan.ping(0, &lan.ip(1)));
    let p = lan.ports[0].clone();
    let before = xdp_prog_ids(&lan.sw, &p);
    assert_eq!(before.len(), 1, "one program while running");
    lan.rvsd.kill9();
    // Nothing ran on exit: the program is still there (the case this test is about).
    assert_eq!(
        xdp_prog_ids(&lan.sw, &p),
        before,
        "stale program after kill -9"
    );
    lan.rvsd.respawn();
    let back = lan
        .sw
        .wait_until(Duration::from_secs(10), |_| lan.ping(0, &lan.ip(1)));
    assert!(back, "forwarding resumed after restart\n{}", lan.rvsd.log());
    assert_afxdp(&lan);
    let after = xdp_prog_ids(&lan.sw, &p);
    assert_eq!(after.len(), 1, "exactly one program after restart");
    assert_ne!(after, before, "the stale program was replaced, not reused");
    // A clean stop detaches every program.
    assert_eq!(lan.rvsd.stop(), Some(0));
    for p in &lan.ports {
        assert!(
            xdp_prog_ids(&lan.sw, p).is_empty(),
            "{p} keeps an XDP program"
        );
        let link = lan.sw.exec(["ip", "link", "show", "dev", p]);
        assert!(!link.contains(" xdp"), "{link}");
    }
}

#[test]
fn afxdp_n_rxq_opens_one_socket_per_queue_or_says_why_not() {
    if skip_unless_root("afxdp_n_rxq") {
        return;
    }
    let lan = Lan::with_port_type(1, 25, "afxdp");
    // A container on a veth with 2 receive queues on the switch side.
    let c = Netns::new("cq");
    let p = unique_ifname("pq");
    lan.sw.exec([
        "ip",
        "link",
        "add",
        &p,
        "numrxqueues",
        "2",
        "numtxqueues",
        "2",
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "numrxqueues",
        "2",
        "numtxqueues",
        "2",
        "netns",
        c.name(),
    ]);
    lan.sw.link_up(&p);
    c.set_addr("eth0", "10.77.25.50/24");
    // More queues than the device has: a clear error, no fallback, no traffic.
    lan.rvsd.add_port("br0", &p, "afxdp", &["options:n_rxq=4"]);
    let err = lan.rvsd.vsctl_ok(&["get", "interface", &p, "error"]);
    assert!(
        err.contains("n_rxq=4 but") && err.contains("has only 2 receive queue(s)"),
        "{err}"
    );
    assert_eq!(
        lan.dpctl_line(&p),
        "",
        "a port in error is not in the datapath"
    );
    assert!(xdp_prog_ids(&lan.sw, &p).is_empty());
    // Two queues: two sockets, traffic flows.
    lan.rvsd
        .vsctl_ok(&["set", "interface", &p, "options:n_rxq=2"]);
    assert_eq!(
        lan.rvsd.vsctl_ok(&["get", "interface", &p, "error"]).trim(),
        "[]"
    );
    assert_afxdp_port(&lan, &p);
    let ok = c.wait_until(Duration::from_secs(5), |ns| {
        ns.try_exec(["ping", "-c", "3", "-i", "0.2", "-W", "1", &lan.ip(0)])
            .map(|o| o.status.success())
            .unwrap_or(false)
    });
    assert!(ok, "ping over the 2-queue AF_XDP port\n{}", lan.rvsd.log());
    // A plain veth has one receive queue.
    lan.rvsd
        .vsctl_ok(&["set", "interface", &lan.ports[0], "options:n_rxq=2"]);
    let err = lan
        .rvsd
        .vsctl_ok(&["get", "interface", &lan.ports[0], "error"]);
    assert!(err.contains("has only 1 receive queue(s)"), "{err}");
}

#[test]
fn afxdp_best_effort_falls_back_to_af_packet_and_says_so() {
    if skip_unless_root("afxdp_fallback") || skip_unless_tools("afxdp_fallback", &["setpriv"]) {
        return;
    }
    // rvsd without CAP_BPF and CAP_SYS_ADMIN cannot load the XDP program; it keeps what
    // AF_PACKET and TAP need (CAP_NET_RAW, CAP_NET_ADMIN).
    let drop = ["setpriv", "--bounding-set=-bpf,-sys_admin,-perfmon", "--"];
    let lan = Lan::build(1, 26, "afxdp", &drop);
    let p = lan.ports[0].clone();
    assert!(
        lan.sw
            .wait_until(Duration::from_secs(5), |_| lan.ping(0, &lan.br_ip())),
        "traffic flows on the fallback port\n{}",
        lan.rvsd.log()
    );
    assert!(
        lan.dpctl_line(&p)
            .ends_with("(afxdp: afpacket (afxdp fallback))"),
        "{}",
        lan.dpctl_line(&p)
    );
    let status = lan.rvsd.vsctl_ok(&["get", "interface", &p, "status"]);
    assert!(
        status.contains("AF_XDP unavailable (Operation not permitted")
            && status.contains("using AF_PACKET (xdp-mode best-effort)"),
        "{status}"
    );
    let log = lan.rvsd.log();
    assert!(
        log.contains("|WARN|") && log.contains("afxdp fallback): AF_XDP unavailable"),
        "{log}"
    );
    assert!(
        xdp_prog_ids(&lan.sw, &p).is_empty(),
        "nothing left attached"
    );
    // A mode that cannot fall back is an error, not a silent AF_PACKET port.
    lan.rvsd
        .vsctl_ok(&["set", "interface", &p, "options:xdp-mode=native"]);
    let err = lan.rvsd.vsctl_ok(&["get", "interface", &p, "error"]);
    assert!(err.contains("Operation not permitted"), "{err}");
    assert_eq!(lan.dpctl_line(&p), "");
}
