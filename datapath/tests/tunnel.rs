//! GRE tunnel encap/decap against real OVS 3.1 captures (testdata/gre-*.pcap): the inner frame
//! of every captured packet, encapsulated by `tunnel::encap` with the variant's options,
//! reproduces the captured outer IPv4 + GRE bytes exactly (the outer Ethernet header is the
//! kernel's); `tunnel::decap` accepts every captured packet and finds the same inner frame,
//! and refuses it under the wrong key settings. Then (root only) a `GrePort` in a private
//! network namespace talks to itself over loopback through the real raw socket: plain frames,
//! a 64 KB TSO super-frame (software segmentation), and an oversize DF frame answered with
//! ICMP "fragmentation needed" on the next receive.

mod support;

use rvs_datapath::offload;
use rvs_datapath::packet::{Batch, Offload, Packet, PacketPool, GSO_TCPV4};
use rvs_datapath::port::gre::GrePort;
use rvs_datapath::port::udptun::UdpTunnelPort;
use rvs_datapath::port::Port;
use rvs_datapath::tunnel::{self, TunnelConfig, TunnelDrop, TunnelKind};
use rvs_datapath::wire::gre::GreHeader;
use rvs_datapath::wire::ipv4::{Ipv4Packet, Ipv4Repr, FLAG_DF};
use rvs_datapath::wire::{checksum, l4, EtherType};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use support::{pcap_frames, testdata};

fn opts(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
    kv.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// (file, options as configured on the OVS that sent the packets).
const VARIANTS: [(&str, &[(&str, &str)]); 4] = [
    ("gre-plain.pcap", &[]),
    ("gre-key4660.pcap", &[("key", "4660")]),
    ("gre-csum.pcap", &[("csum", "true")]),
    (
        "gre-key4660-csum.pcap",
        &[("key", "4660"), ("csum", "true")],
    ),
];

#[test]
fn encap_reproduces_ovs_bytes_and_decap_accepts_every_captured_frame() {
    let mut total = 0;
    for (file, kv) in VARIANTS {
        for (n, f) in pcap_frames(&testdata(file)).iter().enumerate() {
            let outer = &f[14..];
            let ip = Ipv4Packet::new_checked(outer).unwrap();
            let outer = &outer[..usize::from(ip.total_len())];
            let gre = GreHeader::new_checked(ip.payload()).unwrap();
            let inner = gre.payload();
            // Encap from the sender's point of view: remote = captured destination.
            let mut o = opts(kv);
            o.insert("remote_ip".into(), ip.dst().to_string());
            let tx = TunnelConfig::from_options(TunnelKind::Gre, &o).unwrap();
            let mut p = Packet::from_bytes(inner);
            let len = tunnel::encap(&mut p, &tx, ip.src(), 0x5555).unwrap();
            assert_eq!(len, outer.len());
            assert_eq!(p.data(), outer, "{file}#{n}: encap bytes differ from OVS");
            // Decap from the receiver's point of view: remote = captured source.
            o.insert("remote_ip".into(), ip.src().to_string());
            o.insert("local_ip".into(), ip.dst().to_string());
            let rx = TunnelConfig::from_options(TunnelKind::Gre, &o).unwrap();
            let d = tunnel::decap(outer, &rx).unwrap();
            assert_eq!(&outer[d.inner.clone()], inner, "{file}#{n}");
            assert_eq!(
                (d.meta.src, d.meta.dst, d.meta.ttl, d.meta.df),
                (ip.src(), ip.dst(), 64, true)
            );
            assert_eq!(d.meta.key, gre.key());
            // Wrong settings on the receiving side are refused with the named reason.
            let mut wrong = o.clone();
            wrong.insert("key".into(), "99".into());
            let want = if gre.key().is_some() {
                TunnelDrop::BadKey
            } else {
                TunnelDrop::MissingKey
            };
            let w = TunnelConfig::from_options(TunnelKind::Gre, &wrong).unwrap();
            assert_eq!(tunnel::decap(outer, &w).unwrap_err(), want);
            wrong.insert("remote_ip".into(), "10.9.9.9".into());
            let w = TunnelConfig::from_options(TunnelKind::Gre, &wrong).unwrap();
            assert_eq!(
                tunnel::decap(outer, &w).unwrap_err(),
                TunnelDrop::SpoofedSource
            );
            total += 1;
        }
    }
    assert!(total >= 40, "{total} frames");
}

#[test]
fn decap_never_panics_on_mutated_captures() {
    let cfg = TunnelConfig::from_options(
        TunnelKind::Gre,
        &opts(&[("remote_ip", "192.0.2.1"), ("key", "flow")]),
    )
    .unwrap();
    let mut seed = 0x1234_5678u32;
    for (file, _) in VARIANTS {
        for f in pcap_frames(&testdata(file)).iter().take(5) {
            let base = &f[14..];
            for _ in 0..2000 {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                let mut m = base.to_vec();
                let i = seed as usize % m.len();
                m[i] ^= (seed >> 8) as u8 | 1;
                let cut = (seed >> 16) as usize % (m.len() + 1);
                if seed & 1 == 0 {
                    m.truncate(cut);
                }
                if let Ok(d) = tunnel::decap(&m, &cfg) {
                    assert!(d.inner.end <= m.len() && d.inner.len() >= 14);
                }
            }
        }
    }
}

// ---- the real socket, over loopback in a private netns (root only) ----

/// True if `fd` polls readable right now.
fn readable(fd: std::os::fd::RawFd) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    unsafe { libc::poll(&mut p, 1, 0) == 1 && p.revents & libc::POLLIN != 0 }
}

/// Run `f` on a thread that has its own network namespace with `lo` up at `mtu`.
fn in_private_netns<R: Send>(mtu: u32, f: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: unshare only changes this thread's namespaces (it is not shared).
            assert_eq!(unsafe { libc::unshare(libc::CLONE_NEWNET) }, 0);
            // Children of this thread inherit its namespace.
            let ok = std::process::Command::new("ip")
                .args(["link", "set", "lo", "up", "mtu", &mtu.to_string()])
                .status()
                .unwrap()
                .success();
            assert!(ok);
            f()
        })
        .join()
        .unwrap()
    })
}

/// An Ethernet/IPv4/TCP frame with `payload` bytes (checksum complete) and DF.
fn tcp_frame(payload: usize) -> Vec<u8> {
    let mut f = vec![0u8; 14 + 20 + 20 + payload];
    f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&EtherType::IPV4.to_be_bytes());
    Ipv4Repr {
        src: Ipv4Addr::new(10, 77, 0, 1),
        dst: Ipv4Addr::new(10, 77, 0, 2),
        protocol: 6,
        tos: 0,
        ttl: 64,
        ident: 1,
        frag_word: FLAG_DF,
        payload_len: 20 + payload,
    }
    .emit(&mut f[14..]);
    let t = &mut f[34..];
    t[0..2].copy_from_slice(&40000u16.to_be_bytes());
    t[2..4].copy_from_slice(&80u16.to_be_bytes());
    t[4..8].copy_from_slice(&1000u32.to_be_bytes());
    t[12] = 5 << 4;
    t[13] = 0x18;
    t[14..16].copy_from_slice(&65535u16.to_be_bytes());
    for (i, b) in f[54..].iter_mut().enumerate() {
        *b = (i * 7) as u8;
    }
    l4::fill(&mut f).unwrap();
    f
}

/// Receive until `want` frames arrived (3 s at most), or for 300 ms when none are expected.
fn rx_all(port: &mut dyn Port, pool: &mut PacketPool, want: usize) -> Vec<Packet> {
    let mut got = vec![];
    let t = std::time::Instant::now();
    let limit = std::time::Duration::from_millis(if want == 0 { 300 } else { 3000 });
    while (want == 0 || got.len() < want) && t.elapsed() < limit {
        let mut b = Batch::new();
        port.rx_burst(pool, &mut b);
        got.extend(b.drain());
    }
    got
}

fn counter(port: &dyn Port, name: &str) -> u64 {
    port.named_counters()
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
        .unwrap_or_else(|| panic!("no counter {name}"))
}

#[test]
fn gre_port_over_loopback_segments_and_answers_oversize() {
    if rvs_testkit::skip_unless_root("gre_port_over_loopback") {
        return;
    }
    in_private_netns(1500, || {
        for kv in [vec![], vec![("key", "7"), ("csum", "true")]] {
            let mut o = opts(&kv);
            o.insert("remote_ip".into(), "127.0.0.1".into());
            let mut port = GrePort::open("gre0", &o, 5).unwrap();
            assert!(port.error().is_none() && port.poll_fd().is_some());
            assert_eq!(port.path_mtu(), 1500);
            let mut pool = PacketPool::new(256);
            let hl = port.config().header_len();

            // Plain frames round-trip through the kernel.
            let small = tcp_frame(100);
            let mut b = Batch::new();
            for _ in 0..3 {
                b.push(Packet::from_bytes(&small)).unwrap();
            }
            assert_eq!(port.tx_burst(&mut b, &mut pool), 3);
            let got = rx_all(&mut port, &mut pool, 3);
            assert_eq!(got.len(), 3);
            for p in &got {
                assert_eq!(p.data(), &small[..]);
                assert_eq!(p.meta.in_port, 5);
                let t = p.meta.tunnel.unwrap();
                assert_eq!((t.src, t.ttl, t.df), (Ipv4Addr::LOCALHOST, 64, true));
                assert_eq!(t.key, port.config().gre_repr().key);
            }
            got.into_iter().for_each(|p| pool.put(p));

            // A 64 KB TSO super-frame whose segments fit: segmented in software, every
            // segment arrives with a valid checksum.
            let mss = 1500 - hl - 14 - 40;
            let mut sf = Packet::from_bytes(&tcp_frame(mss * 20));
            let csum_at = 34 + 16;
            let partial = l4::partial_value(sf.data()).unwrap();
            sf.data_mut()[csum_at..csum_at + 2].copy_from_slice(&partial.to_be_bytes());
            sf.meta.offload = Offload {
                needs_csum: true,
                data_valid: false,
                gso_type: GSO_TCPV4,
                hdr_len: 54,
                gso_size: mss as u16,
                csum_start: 34,
                csum_offset: 16,
            };
            let mut b = Batch::new();
            b.push(sf).unwrap();
            assert_eq!(port.tx_burst(&mut b, &mut pool), 20);
            // The receive side coalesces the burst again (software GRO): cut what arrives
            // back into segments and check every one of them.
            let supers = counter(&port, "gre_rx_gro_superframes");
            let mut segs = vec![];
            let t = std::time::Instant::now();
            while segs.len() < 20 && t.elapsed() < std::time::Duration::from_secs(3) {
                for p in rx_all(&mut port, &mut pool, 1) {
                    let mut oc = offload::OffloadCounters::default();
                    offload::prepare_tx(p, false, &mut pool, &mut oc, &mut |s, pool| {
                        segs.push(s.data().to_vec());
                        pool.put(s);
                    });
                    assert_eq!(oc.drops(), 0);
                }
            }
            assert_eq!(segs.len(), 20);
            for s in &segs {
                assert!(l4::verify(s).unwrap());
                assert_eq!(s.len(), 54 + mss);
            }
            assert!(
                counter(&port, "gre_rx_gro_superframes") > supers,
                "merged on receive"
            );

            // An oversize DF frame: dropped, and the next receive yields ICMP frag-needed
            // addressed back to the sender, advertising 1500 − header − 14.
            let big = tcp_frame(1500 - 40);
            let mut b = Batch::new();
            b.push(Packet::from_bytes(&big)).unwrap();
            assert_eq!(port.tx_burst(&mut b, &mut pool), 0);
            // The queued reply makes the port's poll descriptor readable at once, so a PMD
            // sleeping on it (another PMD transmitted) wakes now, not at its next timeout.
            assert!(
                readable(port.poll_fd().unwrap()),
                "ICMP reply queued but poll_fd idle"
            );
            let got = rx_all(&mut port, &mut pool, 1);
            assert!(
                !readable(port.poll_fd().unwrap()),
                "still readable once delivered"
            );
            assert_eq!(got.len(), 1);
            let r = got[0].data();
            assert_eq!(&r[0..6], &big[6..12]);
            let ip = Ipv4Packet::new_checked(&r[14..]).unwrap();
            assert!(ip.verify_checksum());
            assert_eq!(ip.dst(), Ipv4Addr::new(10, 77, 0, 1));
            let icmp = ip.payload();
            assert!(checksum::verify(icmp));
            let mtu = u16::from_be_bytes([icmp[6], icmp[7]]);
            assert_eq!((icmp[0], icmp[1], usize::from(mtu)), (3, 4, 1500 - hl - 14));
            assert_eq!(counter(&port, "gre_tx_icmp_frag_needed"), 1);
            assert_eq!(counter(&port, "gre_tx_too_big"), 1);
            assert_eq!(counter(&port, "gre_tx_gso_segments"), 20);
        }
    });
}

#[test]
fn gre_ports_demultiplex_by_key() {
    if rvs_testkit::skip_unless_root("gre_ports_demultiplex_by_key") {
        return;
    }
    in_private_netns(1500, || {
        let a_opts = opts(&[("remote_ip", "127.0.0.1"), ("key", "1")]);
        let b_opts = opts(&[("remote_ip", "127.0.0.1"), ("key", "2")]);
        let mut a = GrePort::open("gre-a", &a_opts, 1).unwrap();
        let mut b = GrePort::open("gre-b", &b_opts, 2).unwrap();
        let mut pool = PacketPool::new(64);
        let f = tcp_frame(10);
        let mut batch = Batch::new();
        batch.push(Packet::from_bytes(&f)).unwrap();
        assert_eq!(a.tx_burst(&mut batch, &mut pool), 1);
        // Key 1 comes back to `a`; `b` sees it too and counts it as not its own.
        assert_eq!(rx_all(&mut a, &mut pool, 1).len(), 1);
        assert!(rx_all(&mut b, &mut pool, 0).is_empty());
        assert_eq!(counter(&b, "gre_not_this_tunnel"), 1);
        assert_eq!(counter(&b, "gre_drop_bad_key"), 0);
        assert_eq!(b.stats().rx_dropped, 0);
        // With `a` gone, the same packet is a hostile wrong key for `b`.
        drop(a);
        let mut c = GrePort::open("gre-c", &a_opts, 3).unwrap();
        let mut batch = Batch::new();
        batch.push(Packet::from_bytes(&f)).unwrap();
        assert_eq!(c.tx_burst(&mut batch, &mut pool), 1);
        drop(c);
        assert!(rx_all(&mut b, &mut pool, 0).is_empty());
        assert_eq!(counter(&b, "gre_drop_bad_key"), 1);
    });
}

#[test]
fn bad_options_fail_open_with_the_option_named() {
    let e = GrePort::open(
        "gre9",
        &opts(&[("remote_ip", "10.0.0.1"), ("csum", "maybe")]),
        1,
    )
    .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    assert!(
        e.to_string().contains("gre9") && e.to_string().contains("csum"),
        "{e}"
    );
    assert!(rvs_datapath::port::gre::open("gre9", &opts(&[]), 1).is_err());
}

/// A 64 KB TCP super-frame (partial checksum, TSO metadata) of `segs` segments of `mss`.
fn tso_frame(mss: usize, segs: usize) -> Packet {
    let mut sf = Packet::from_bytes(&tcp_frame(mss * segs));
    let csum_at = 34 + 16;
    let partial = l4::partial_value(sf.data()).unwrap();
    sf.data_mut()[csum_at..csum_at + 2].copy_from_slice(&partial.to_be_bytes());
    sf.meta.offload = Offload {
        needs_csum: true,
        data_valid: false,
        gso_type: GSO_TCPV4,
        hdr_len: 54,
        gso_size: mss as u16,
        csum_start: 34,
        csum_offset: 16,
    };
    sf
}

/// VXLAN and Geneve ports talking to themselves over loopback through real UDP sockets: small
/// frames round-trip with the VNI and UDP port in the tunnel metadata; a TSO super-frame
/// leaves as UDP_SEGMENT sends and comes back coalesced (UDP_GRO, then software GRO), every
/// segment with a valid checksum; an oversize DF frame gets ICMP "fragmentation needed"
/// advertising path MTU − 50; two tunnels sharing the UDP port are told apart by VNI, the one
/// that did not read the socket being woken through its poll descriptor.
#[test]
fn udp_tunnel_ports_over_loopback() {
    if rvs_testkit::skip_unless_root("udp_tunnel_ports_over_loopback") {
        return;
    }
    in_private_netns(1500, || {
        for (kind, ty) in [(TunnelKind::Vxlan, "vxlan"), (TunnelKind::Geneve, "geneve")] {
            let o5 = opts(&[("remote_ip", "127.0.0.1"), ("key", "5")]);
            let o6 = opts(&[("remote_ip", "127.0.0.1"), ("key", "6")]);
            let mut a = UdpTunnelPort::open("t5", kind, &o5, 5).unwrap();
            let mut b = UdpTunnelPort::open("t6", kind, &o6, 6).unwrap();
            assert_eq!(a.rx_affinity(), b.rx_affinity(), "one PMD polls both");
            assert_eq!(a.path_mtu(), 1500);
            let mut pool = PacketPool::new(512);
            let small = tcp_frame(100);
            let mut batch = Batch::new();
            for _ in 0..3 {
                batch.push(Packet::from_bytes(&small)).unwrap();
            }
            assert_eq!(a.tx_burst(&mut batch, &mut pool), 3);
            // Three frames of one flow and size: one UDP_SEGMENT send.
            assert_eq!(counter(&a, &format!("{ty}_tx_udp_gso_sends")), 1, "{ty}");
            let got = rx_all(&mut a, &mut pool, 3);
            assert_eq!(got.len(), 3, "{ty}");
            for p in &got {
                assert_eq!(p.data(), &small[..]);
                assert_eq!(p.meta.in_port, 5);
                let t = p.meta.tunnel.unwrap();
                assert_eq!((t.key, t.tp_dst), (Some(5), Some(kind.default_dst_port())));
                assert_eq!(t.src, Ipv4Addr::LOCALHOST);
            }
            got.into_iter().for_each(|p| pool.put(p));

            // VNI 6 through port b: a reads the socket (b is not polled), b's inbox gets it
            // and its poll descriptor turns readable.
            batch.push(Packet::from_bytes(&small)).unwrap();
            assert_eq!(b.tx_burst(&mut batch, &mut pool), 1);
            std::thread::sleep(std::time::Duration::from_millis(50));
            assert!(rx_all(&mut a, &mut pool, 0).is_empty(), "VNI 6 is not a's");
            assert!(readable(b.poll_fd().unwrap()), "b woken for its frame");
            let got = rx_all(&mut b, &mut pool, 1);
            assert_eq!(got.len(), 1);
            assert_eq!(got[0].meta.in_port, 6);
            got.into_iter().for_each(|p| pool.put(p));

            // A TSO super-frame: inner segments sized for the 1450-byte tunnel MTU leave in
            // UDP_SEGMENT sends and arrive coalesced.
            let mss = 1500 - 50 - 14 - 40 + 14;
            let mss = mss - 14;
            let (sends0, segs0) = (
                counter(&a, &format!("{ty}_tx_udp_gso_sends")),
                counter(&a, &format!("{ty}_tx_udp_gso_segments")),
            );
            batch.push(tso_frame(mss, 30)).unwrap();
            assert_eq!(a.tx_burst(&mut batch, &mut pool), 30, "{ty}");
            let sends = counter(&a, &format!("{ty}_tx_udp_gso_sends")) - sends0;
            let segs = counter(&a, &format!("{ty}_tx_udp_gso_segments")) - segs0;
            assert!(
                sends >= 1 && segs == 30,
                "{ty}: {sends} sends, {segs} segments"
            );
            let mut segs = vec![];
            let t = std::time::Instant::now();
            while segs.len() < 30 && t.elapsed() < std::time::Duration::from_secs(3) {
                for p in rx_all(&mut a, &mut pool, 1) {
                    let mut oc = offload::OffloadCounters::default();
                    offload::prepare_tx(p, false, &mut pool, &mut oc, &mut |s, pool| {
                        segs.push(s.data().to_vec());
                        pool.put(s);
                    });
                }
            }
            assert_eq!(segs.len(), 30, "{ty}");
            for s in &segs {
                assert!(l4::verify(s).unwrap());
                assert_eq!(s.len(), 54 + mss);
            }
            assert!(
                counter(&a, &format!("{ty}_rx_gro_superframes")) > 0,
                "{ty}: merged on receive"
            );

            // Oversize with DF: ICMP frag-needed advertising 1500 - 50.
            batch
                .push(Packet::from_bytes(&tcp_frame(1500 - 40)))
                .unwrap();
            assert_eq!(a.tx_burst(&mut batch, &mut pool), 0);
            assert!(readable(a.poll_fd().unwrap()));
            let got = rx_all(&mut a, &mut pool, 1);
            assert_eq!(got.len(), 1);
            let ip = Ipv4Packet::new_checked(&got[0].data()[14..]).unwrap();
            let icmp = ip.payload();
            let mtu = u16::from_be_bytes([icmp[6], icmp[7]]);
            assert_eq!((icmp[0], icmp[1], mtu), (3, 4, 1450), "{ty}");
            assert_eq!(counter(&a, &format!("{ty}_tx_icmp_frag_needed")), 1);
            got.into_iter().for_each(|p| pool.put(p));
        }
    });
}
