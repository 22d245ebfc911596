//! AF_PACKET and TAP ports in real namespaces, with the kernel's default offloads left on.
//!
//! Topology: two "hosts" (namespaces h1, h2), each with a veth whose other end sits in a
//! "switch" namespace. A forwarder thread inside the switch namespace opens an `AfPacketPort`
//! on both switch ends and moves frames between them through `offload::prepare_tx`, in both
//! directions. (The TAP variant replaces h2's veth by a TAP device created by the switch and
//! moved into h2.) Checks: ping, a 10 MB HTTP download with a sha256 match (IPv4 and IPv6),
//! an iperf3 run, and `TcpInCsumErrors` staying 0 on both hosts. The `_software` variants tell
//! `prepare_tx` the egress takes no vnet header, so checksum completion and software
//! segmentation carry the TCP traffic.
//!
//! Needs root, iproute2, python3, curl, sha256sum (iperf3 optional); skips otherwise.

use rvs_datapath::offload::{prepare_tx, OffloadCounters};
use rvs_datapath::packet::{Batch, Packet, PacketPool};
use rvs_datapath::port::afpacket::AfPacketPort;
use rvs_datapath::port::tap::TapPort;
use rvs_datapath::port::Port;
use rvs_testkit::{have_tool, skip_unless_tools, unique_ifname, Netns};
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const TOOLS: &[&str] = &["ip", "ping", "python3", "curl", "sha256sum", "nstat"];

/// One egress direction: the port and whether `prepare_tx` may leave offloads to it.
struct Side {
    port: Box<dyn Port>,
    accepts_vnet: bool,
}

#[derive(Debug, Default)]
struct FwdReport {
    counters: OffloadCounters,
    errors: Vec<String>,
}

/// Sets the stop flag when dropped, so a failing test body never leaves the forwarder
/// spinning inside `thread::scope`.
struct StopOnDrop<'a>(&'a AtomicBool);
impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

fn wait_readable(fds: &[RawFd; 2]) {
    let mut p = fds.map(|fd| libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    });
    // SAFETY: `p` is a valid array of two pollfds for the duration of the call.
    unsafe { libc::poll(p.as_mut_ptr(), 2, 5) };
}

/// The forwarding loop: rx from one side, prepare, tx to the other; both directions.
fn forward(sides: &mut [Side; 2], stop: &AtomicBool) -> FwdReport {
    let mut pool = PacketPool::new(256);
    let mut rx = Batch::new();
    let mut tx = Batch::new();
    let mut rep = FwdReport::default();
    let fds = [
        sides[0].port.poll_fd().unwrap_or(-1),
        sides[1].port.poll_fd().unwrap_or(-1),
    ];
    while !stop.load(Ordering::Relaxed) {
        let mut moved = 0;
        for from in 0..2 {
            let (a, b) = sides.split_at_mut(1);
            let (src, dst) = if from == 0 {
                (&mut a[0], &mut b[0])
            } else {
                (&mut b[0], &mut a[0])
            };
            moved += src.port.rx_burst(&mut pool, &mut rx);
            for p in rx.drain() {
                prepare_tx(
                    p,
                    dst.accepts_vnet,
                    &mut pool,
                    &mut rep.counters,
                    &mut |s, pool| {
                        if let Err(s) = tx.push(s) {
                            dst.port.tx_burst(&mut tx, pool);
                            let _ = tx.push(s);
                        }
                    },
                );
            }
            if !tx.is_empty() {
                dst.port.tx_burst(&mut tx, &mut pool);
            }
        }
        if moved == 0 {
            wait_readable(&fds);
        }
    }
    for s in sides.iter() {
        if let Some(e) = s.port.error() {
            rep.errors.push(e);
        }
    }
    rep
}

/// Which port type h2's side uses, and whether egress ports take vnet headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    Vnet,
    Software,
    Tap,
}

struct Topo {
    h1: Netns,
    h2: Netns,
    sw: Netns,
    s1: String,
    s2: String,
    h2dev: String,
}

fn topology() -> Topo {
    let h1 = Netns::new("h1");
    let h2 = Netns::new("h2");
    let sw = Netns::new("sw");
    let s1 = unique_ifname("s1");
    let s2 = unique_ifname("s2");
    let h1dev = unique_ifname("h1e");
    let h2dev = unique_ifname("h2e");
    h1.add_veth(&h1dev, &sw, &s1);
    h1.set_addr(&h1dev, "10.50.0.1/24");
    h1.set_addr(&h1dev, "fd00:50::1/64");
    for ns in [&h1, &h2, &sw] {
        ns.sysctl("net.ipv6.conf.all.accept_dad", "0");
    }
    // The switch namespace must not answer for anything or route anything.
    sw.sysctl("net.ipv6.conf.all.disable_ipv6", "1");
    Topo {
        h1,
        h2,
        sw,
        s1,
        s2,
        h2dev,
    }
}

/// Configure h2's side as a veth (switch end `s2`).
fn h2_veth(t: &Topo) {
    t.h2.add_veth(&t.h2dev, &t.sw, &t.s2);
    t.h2.set_addr(&t.h2dev, "10.50.0.2/24");
    t.h2.set_addr(&t.h2dev, "fd00:50::2/64");
}

fn sha256(ns: &Netns, file: &str) -> String {
    ns.exec(["sha256sum", file])
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Ping, HTTP download (v4 and v6) with hash check, iperf3; returns iperf3 Gbit/s if run.
fn exercise(t: &Topo, label: &str) -> Option<f64> {
    let ok = t.h1.wait_until(Duration::from_secs(10), |h1| {
        h1.try_exec(["ping", "-c1", "-W1", "10.50.0.2"])
            .is_ok_and(|o| o.status.success())
    });
    assert!(ok, "{label}: no ping through the forwarder");
    t.h1.exec(["ping", "-c3", "-i0.2", "-W2", "10.50.0.2"]);
    t.h1.exec(["ping", "-6", "-c2", "-i0.2", "-W2", "fd00:50::2"]);

    let dir = std::env::temp_dir().join(rvs_testkit::owned_name("rvsweb"));
    std::fs::create_dir_all(&dir).unwrap();
    let _cleanup = RemoveDir(dir.clone());
    let file = dir.join("blob");
    let d = dir.to_string_lossy().to_string();
    t.h2.exec([
        "dd",
        "if=/dev/urandom",
        &format!("of={}", file.display()),
        "bs=1M",
        "count=10",
        "status=none",
    ]);
    let want = sha256(&t.h2, &file.to_string_lossy());
    let _web = t.h2.spawn([
        "python3",
        "-m",
        "http.server",
        "8080",
        "--bind",
        "::",
        "-d",
        &d,
    ]);
    let up = t.h1.wait_until(Duration::from_secs(10), |h1| {
        h1.try_exec(["curl", "-sf", "-o", "/dev/null", "http://10.50.0.2:8080/"])
            .is_ok_and(|o| o.status.success())
    });
    assert!(up, "{label}: HTTP server not reachable");
    for (url, name) in [
        ("http://10.50.0.2:8080/blob", "got4"),
        ("http://[fd00:50::2]:8080/blob", "got6"),
    ] {
        let out = dir.join(name);
        t.h1.exec([
            "curl",
            "-sf",
            "-g",
            "--max-time",
            "60",
            "-o",
            &out.to_string_lossy(),
            url,
        ]);
        assert_eq!(
            sha256(&t.h1, &out.to_string_lossy()),
            want,
            "{label}: {url} corrupted"
        );
    }

    let mut gbps = None;
    if have_tool("iperf3") {
        let _srv = t.h2.spawn(["iperf3", "-s", "-1"]);
        std::thread::sleep(Duration::from_millis(300));
        let out = t.h1.exec(["iperf3", "-c", "10.50.0.2", "-t", "3", "-J"]);
        gbps = out
            .split("\"sum_received\"")
            .nth(1)
            .and_then(|s| s.split("\"bits_per_second\":").nth(1))
            .and_then(|s| {
                s.trim_start()
                    .split(|c: char| c == ',' || c.is_whitespace())
                    .next()
            })
            .and_then(|v| v.parse::<f64>().ok())
            .map(|b| b / 1e9);
        eprintln!("{label}: iperf3 h1 -> h2 {gbps:.2?} Gbit/s");
    }
    for (ns, who) in [(&t.h1, "h1"), (&t.h2, "h2")] {
        assert_eq!(
            ns.nstat("TcpInCsumErrors"),
            Some(0),
            "{label}: TCP checksum errors in {who}"
        );
    }
    gbps
}

struct RemoveDir(std::path::PathBuf);
impl Drop for RemoveDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run_variant(label: &str, v: Variant) {
    if skip_unless_tools(label, TOOLS) {
        return;
    }
    let t = topology();
    if v != Variant::Tap {
        h2_veth(&t);
    }
    let stop = AtomicBool::new(false);
    let (tx_ready, rx_ready) = std::sync::mpsc::channel::<Result<String, String>>();
    let report = std::thread::scope(|s| {
        let _stop = StopOnDrop(&stop);
        let fwd = s.spawn(|| {
            let _g = t.sw.enter().expect("enter switch netns");
            let accepts = v != Variant::Software;
            let p1 = match AfPacketPort::open(&t.s1, 1) {
                Ok(p) => p,
                Err(e) => {
                    let _ = tx_ready.send(Err(e.to_string()));
                    return FwdReport::default();
                }
            };
            let p2: Box<dyn Port> = if v == Variant::Tap {
                match TapPort::create(&t.h2dev, 2) {
                    Ok(p) => Box::new(p),
                    Err(e) => {
                        let _ = tx_ready.send(Err(format!("tap: {e}")));
                        return FwdReport::default();
                    }
                }
            } else {
                match AfPacketPort::open(&t.s2, 2) {
                    Ok(p) => Box::new(p),
                    Err(e) => {
                        let _ = tx_ready.send(Err(e.to_string()));
                        return FwdReport::default();
                    }
                }
            };
            let name = p2.name().to_string();
            let mut sides = [
                Side {
                    port: Box::new(p1),
                    accepts_vnet: accepts,
                },
                Side {
                    port: p2,
                    accepts_vnet: accepts,
                },
            ];
            let _ = tx_ready.send(Ok(name));
            forward(&mut sides, &stop)
        });
        let ready = rx_ready.recv_timeout(Duration::from_secs(10));
        let name = match ready {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => panic!("{label}: opening ports failed: {e}"),
            Err(e) => panic!("{label}: forwarder did not start: {e}"),
        };
        if v == Variant::Tap {
            // The switch created the TAP; hand it to h2 like a VM's NIC.
            t.sw.exec(["ip", "link", "set", &name, "netns", t.h2.name()]);
            t.h2.set_addr(&name, "10.50.0.2/24");
            t.h2.set_addr(&name, "fd00:50::2/64");
        }
        let gbps = exercise(&t, label);
        stop.store(true, Ordering::Relaxed);
        let rep = fwd.join().expect("forwarder panicked");
        (rep, gbps)
    });
    let (rep, gbps) = report;
    eprintln!("{label}: offload counters {:?}", rep.counters);
    if let Some(g) = gbps {
        eprintln!("RESULT {label}: {g:.2} Gbit/s");
    }
    assert!(
        rep.errors.is_empty(),
        "{label}: port errors {:?}",
        rep.errors
    );
    assert_eq!(rep.counters.drops_malformed, 0, "{label}");
    assert_eq!(rep.counters.drops_unsupported, 0, "{label}");
    if v == Variant::Software {
        assert!(
            rep.counters.gso_segmented_frames > 0 && rep.counters.csum_completed > 0,
            "{label}: software offload path not exercised: {:?}",
            rep.counters
        );
    } else {
        assert_eq!(rep.counters.gso_segmented_frames, 0, "{label}");
    }
}

#[test]
fn afpacket_forwarding_with_vnet_offloads() {
    run_variant("afpacket_vnet", Variant::Vnet);
}

#[test]
fn afpacket_forwarding_with_software_offloads() {
    run_variant("afpacket_software", Variant::Software);
}

#[test]
fn tap_forwarding() {
    run_variant("tap", Variant::Tap);
}

/// Oversized frames are dropped and counted; a vanished netdev reports an error and does
/// not make rx/tx panic or fail loudly.
#[test]
fn afpacket_mtu_and_vanish() {
    if skip_unless_tools("afpacket_mtu_and_vanish", &["ip"]) {
        return;
    }
    let sw = Netns::new("sv");
    let other = Netns::new("so");
    let (a, b) = (unique_ifname("va"), unique_ifname("vb"));
    sw.add_veth(&a, &other, &b);
    sw.run_in(|| {
        let mut port = AfPacketPort::open(&a, 3).expect("open");
        assert_eq!(port.mtu(), 1500);
        let mut pool = PacketPool::new(8);
        let mut batch = Batch::new();
        // Untagged: MTU + 14 passes, one more byte does not. Tagged: 4 bytes more.
        let mut frame = vec![0u8; 1519];
        frame[..14].copy_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
        let mut tagged = frame.clone();
        tagged[12..18].copy_from_slice(&[0x81, 0x00, 0x00, 0x05, 0x08, 0x00]);
        batch.push(Packet::from_bytes(&frame[..1515])).unwrap();
        batch.push(Packet::from_bytes(&frame[..1514])).unwrap();
        batch.push(Packet::from_bytes(&tagged[..1519])).unwrap();
        batch.push(Packet::from_bytes(&tagged[..1518])).unwrap();
        let sent = port.tx_burst(&mut batch, &mut pool);
        assert_eq!(sent, 2, "{:?}", port.stats());
        assert_eq!((port.stats().tx_dropped, port.stats().tx_errors), (2, 0));

        // MTU change is picked up by refresh().
        sw.exec(["ip", "link", "set", &a, "mtu", "9000"]);
        assert!(port.refresh());
        assert_eq!(port.mtu(), 9000);

        // Device vanishes, with a frame still queued; only tx notices at first.
        other.set_addr(&b, "10.99.99.1/24");
        let _ = other.try_exec(["ping", "-c1", "-W1", "10.99.99.2"]); // ARP reaches `a`
        sw.exec(["ip", "link", "del", &a]);
        let mut p = Packet::new();
        p.set_len(60);
        batch.push(p).unwrap();
        assert_eq!(port.tx_burst(&mut batch, &mut pool), 0);
        assert!(port.error().is_some());
        assert!(
            !readable(port.poll_fd().unwrap()),
            "vanished port still polls readable"
        );
        for _ in 0..3 {
            port.rx_burst(&mut pool, &mut batch);
            batch.push(Packet::new()).unwrap();
            batch.iter_mut().for_each(|p| p.set_len(60));
            port.tx_burst(&mut batch, &mut pool);
        }
        let err = port.error().expect("vanish not detected");
        assert_eq!(
            err,
            format!("could not open network device {a} (No such device)")
        );
        assert!(port.stats().tx_dropped >= 2, "{:?}", port.stats());
        assert!(!port.refresh());
        // The device comes back under the same name: refresh() rebinds.
        sw.add_veth(&a, &other, &b);
        assert!(port.refresh());
        assert_eq!(port.error(), None);
        let mut p = Packet::from_bytes(&frame[..60]);
        p.set_len(60);
        batch.push(p).unwrap();
        assert_eq!(port.tx_burst(&mut batch, &mut pool), 1);
    });
}

fn readable(fd: RawFd) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut pfd, 1, 0) != 0 }
}

/// A TAP whose device is deleted reports the error and stops polling readable.
#[test]
fn tap_vanish() {
    if skip_unless_tools("tap_vanish", &["ip"]) {
        return;
    }
    let sw = Netns::new("tv");
    let name = unique_ifname("tap");
    sw.run_in(|| {
        let mut port = TapPort::create(&name, 4).expect("create tap");
        assert_eq!(port.name(), name);
        port.set_mac("02:00:00:00:aa:01".parse().unwrap()).unwrap();
        assert_eq!(port.mac().unwrap().to_string(), "02:00:00:00:aa:01");
        assert!(port.refresh());
        sw.exec(["ip", "link", "del", &name]);
        let mut pool = PacketPool::new(8);
        let mut batch = Batch::new();
        assert_eq!(port.rx_burst(&mut pool, &mut batch), 0);
        let mut p = Packet::new();
        p.set_len(60);
        batch.push(p).unwrap();
        assert_eq!(port.tx_burst(&mut batch, &mut pool), 0);
        assert_eq!(
            port.error().as_deref(),
            Some(format!("could not open network device {name} (No such device)").as_str())
        );
        // The descriptor no longer polls readable (no idle-loop spin).
        assert!(!readable(port.poll_fd().unwrap()));
        assert_eq!(pool.available(), 8);
    });
}

/// Defect: frames the kernel dropped because the port's receive ring was full were counted
/// nowhere (`dropped:0 overruns:0` while a third of a burst was lost). A burst three times
/// the ring's size, sent while nothing reads the port: every frame is either read later or
/// counted as an overrun (and in `rx_dropped`, and in the `afpacket_rx_ring_full` counter).
#[test]
fn afpacket_ring_overruns_are_counted() {
    if skip_unless_tools("afpacket_ring_overruns_are_counted", &["ip"]) {
        return;
    }
    let sw = Netns::new("ro");
    let other = Netns::new("rp");
    for ns in [&sw, &other] {
        ns.sysctl("net.ipv6.conf.all.disable_ipv6", "1");
        ns.sysctl("net.ipv6.conf.default.disable_ipv6", "1");
    }
    let (a, b) = (unique_ifname("va"), unique_ifname("vb"));
    sw.add_veth(&a, &other, &b);
    const BURST: u64 = 6144;
    let port = sw.run_in(|| AfPacketPort::open(&a, 1).expect("open"));
    let sent = other.run_in(|| {
        let mut tx = AfPacketPort::open(&b, 2).expect("open sender");
        let mut pool = PacketPool::new(64);
        let mut frame = vec![0u8; 60];
        frame[..14].copy_from_slice(&[2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x88, 0xb5]);
        let mut sent = 0;
        while sent < BURST {
            let mut batch = Batch::new();
            for _ in 0..32 {
                batch.push(Packet::from_bytes(&frame)).unwrap();
            }
            sent += tx.tx_burst(&mut batch, &mut pool) as u64;
        }
        sent
    });
    let mut port = port;
    let mut pool = PacketPool::new(64);
    let mut read = 0u64;
    loop {
        let mut batch = Batch::new();
        port.rx_burst(&mut pool, &mut batch);
        if batch.is_empty() {
            break;
        }
        read += batch.len() as u64;
        batch.drain().for_each(|p| pool.put(p));
    }
    let st = port.stats();
    assert!(
        st.rx_over_errors > 0,
        "a 3x-ring burst overran nothing? {st:?}"
    );
    assert!(st.rx_dropped >= st.rx_over_errors, "{st:?}");
    assert!(
        read + st.rx_over_errors >= sent && read + st.rx_over_errors <= sent + 8,
        "sent {sent}, read {read}, overruns {}: frames unaccounted for",
        st.rx_over_errors
    );
    let named = port.named_counters();
    assert!(
        named.contains(&("afpacket_rx_ring_full", st.rx_over_errors)),
        "{named:?}"
    );
}
