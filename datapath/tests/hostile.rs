//! Hostile input through the datapath: malformed frames through the NORMAL pipeline (Switch +
//! in-memory ports, virtual time), malformed GRE through `tunnel::decap`, and a MAC flood.
//!
//! What is asserted:
//! - nothing panics, and every buffer goes back to the pool;
//! - frames the pipeline must refuse (runts, truncated VLAN tags — single and double —,
//!   multicast, broadcast and all-zero source MACs) increment exactly their named drop counter
//!   (`DropReason::name`), are never forwarded, and their sources are never learned; the same
//!   counters are what `coverage/show` lists (checked through a `Dpif`);
//! - frames that carry an impossible IPv4 header (IHL < 5, total length beyond the frame or
//!   below the header, wrong version, cut short) are dropped as `datapath_drop_bad_ipv4`; a bad
//!   IPv4 header checksum and oversize frames pass unchanged as L2;
//! - GRE with a bad version, routing or unknown flags, a bad checksum, a wrong protocol,
//!   truncated at each layer, a fragment, a spoofed source or a wrong/missing/unexpected key
//!   is refused by `tunnel::decap` with its own named `TunnelDrop`;
//! - a flood of 1 M frames with random source MACs into one port keeps the FDB at its bound,
//!   and hosts learned on other ports keep being forwarded as unicast throughout (fair
//!   eviction). The time taken is printed.

use rvs_datapath::dpif::{Dpif, DpifConfig, PortKind, PortOpener, PortSpec};
use rvs_datapath::packet::MAX_FRAME;
use rvs_datapath::pipeline::DropReason;
use rvs_datapath::port::{MemPort, MemPortHandle, Port};
use rvs_datapath::tunnel::{self, TunnelConfig, TunnelDrop, TunnelKind};
use rvs_datapath::wire::ethernet::{emit, EtherType, MacAddr};
use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod support;

use support::Rig;

/// An EtherType the switch does not parse beyond L2 (IEEE local experimental), for frames
/// whose payload is filler.
const OTHER_ETHERTYPE: u16 = 0x88b5;

fn mac(n: u8) -> MacAddr {
    MacAddr([0x02, 0, 0, 0, 0, n])
}

fn frame(dst: MacAddr, src: MacAddr, ethertype: u16, len: usize) -> Vec<u8> {
    let mut f = vec![0u8; len.max(14)];
    emit(&mut f, dst, src, ethertype);
    f
}

/// A frame with an IPv4 header after the Ethernet header, then `tweak`ed.
fn ipv4_frame(tweak: impl FnOnce(&mut [u8])) -> Vec<u8> {
    let mut f = frame(MacAddr::BROADCAST, mac(1), EtherType::IPV4, 60);
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&46u16.to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&[10, 77, 0, 1]);
    ip[16..20].copy_from_slice(&[10, 77, 0, 2]);
    tweak(&mut f);
    f
}

/// The frames the pipeline must drop, with the reason and counter name for each.
fn must_drop() -> Vec<(&'static str, Vec<u8>, DropReason, &'static str)> {
    let good = frame(mac(2), mac(1), OTHER_ETHERTYPE, 60);
    let tpid = |t: u16, len: usize| {
        let mut f = frame(mac(2), mac(1), t, len);
        if len >= 18 {
            // A complete outer tag whose inner TPID promises a tag that is not there.
            f[16..18].copy_from_slice(&EtherType::VLAN.to_be_bytes());
        }
        f
    };
    vec![
        (
            "empty frame",
            vec![],
            DropReason::Runt,
            "datapath_drop_runt",
        ),
        (
            "1-byte runt",
            vec![0xff],
            DropReason::Runt,
            "datapath_drop_runt",
        ),
        (
            "13-byte runt",
            good[..13].to_vec(),
            DropReason::Runt,
            "datapath_drop_runt",
        ),
        (
            "802.1Q TPID, no tag",
            tpid(EtherType::VLAN, 14),
            DropReason::VlanTruncated,
            "datapath_drop_vlan_truncated",
        ),
        (
            "802.1Q tag cut after 2 bytes",
            tpid(EtherType::VLAN, 16),
            DropReason::VlanTruncated,
            "datapath_drop_vlan_truncated",
        ),
        (
            "802.1ad outer tag, inner tag cut",
            tpid(EtherType::QINQ, 18),
            DropReason::VlanTruncated,
            "datapath_drop_vlan_truncated",
        ),
        (
            "802.1ad outer tag, inner tag cut after 2 bytes",
            tpid(EtherType::QINQ, 20),
            DropReason::VlanTruncated,
            "datapath_drop_vlan_truncated",
        ),
        (
            "multicast source",
            frame(
                mac(2),
                MacAddr([0x01, 0x00, 0x5e, 0, 0, 1]),
                OTHER_ETHERTYPE,
                60,
            ),
            DropReason::MulticastSrc,
            "datapath_drop_multicast_src",
        ),
        (
            "broadcast source",
            frame(mac(2), MacAddr::BROADCAST, OTHER_ETHERTYPE, 60),
            DropReason::MulticastSrc,
            "datapath_drop_multicast_src",
        ),
        (
            "all-zero source",
            frame(mac(2), MacAddr::ZERO, OTHER_ETHERTYPE, 60),
            DropReason::ZeroSrc,
            "datapath_drop_zero_src",
        ),
    ]
}

#[test]
fn malformed_frames_increment_their_named_drop_counter() {
    let mut r = Rig::new(3, 64);
    // A host on port 2 so that unicast to it would be possible.
    r.h(2)
        .inject(&frame(MacAddr::BROADCAST, mac(2), OTHER_ETHERTYPE, 60));
    r.run(0);
    r.sent();
    for (what, f, reason, name) in must_drop() {
        assert_eq!(reason.name(), name, "{what}");
        let before = r.sw.counters;
        let learned = r.fdb.stats().current;
        r.h(1).inject(&f);
        r.run(1000);
        let c = r.sw.counters;
        assert_eq!(c.drops_of(reason), before.drops_of(reason) + 1, "{what}");
        assert_eq!(
            c.total_drops(),
            before.total_drops() + 1,
            "{what}: one drop only"
        );
        assert_eq!(
            (c.unicast, c.flooded),
            (before.unicast, before.flooded),
            "{what}"
        );
        assert!(r.sent().is_empty(), "{what} was forwarded");
        assert_eq!(r.fdb.stats().current, learned, "{what}: source learned");
    }
    assert_eq!(r.fdb.lookup(0, MacAddr::ZERO).port(), None);
    assert_eq!(r.fdb.lookup(0, MacAddr::BROADCAST).port(), None);
}

#[test]
fn bad_ipv4_headers_drop_by_name_and_oversize_frames_pass() {
    // Structurally impossible IPv4 headers are dropped as `datapath_drop_bad_ipv4` (as the
    // Linux bridge's netfilter does). The header checksum is not verified (that would cost a
    // sum per frame): such frames pass as L2, as do jumbo frames.
    let bad = Some(DropReason::BadIpv4);
    let cases: Vec<(&str, Vec<u8>, Option<DropReason>)> = vec![
        ("IPv4 IHL 0", ipv4_frame(|f| f[14] = 0x40), bad),
        ("IPv4 IHL 4", ipv4_frame(|f| f[14] = 0x44), bad),
        (
            "IPv4 IHL 15 in a short frame",
            ipv4_frame(|f| f[14] = 0x4f),
            bad,
        ),
        (
            "IPv4 version 6 with EtherType IPv4",
            ipv4_frame(|f| f[14] = 0x65),
            bad,
        ),
        (
            "IPv4 total length beyond the frame",
            ipv4_frame(|f| f[16..18].copy_from_slice(&9000u16.to_be_bytes())),
            bad,
        ),
        (
            "IPv4 total length below the header",
            ipv4_frame(|f| f[16..18].copy_from_slice(&8u16.to_be_bytes())),
            bad,
        ),
        (
            "IPv4 header cut short",
            ipv4_frame(|_| {})[..24].to_vec(),
            bad,
        ),
        (
            "IPv4 with a bad checksum",
            ipv4_frame(|f| f[24] = 0xde),
            None,
        ),
        (
            "jumbo 9000-byte frame",
            frame(MacAddr::BROADCAST, mac(1), OTHER_ETHERTYPE, 9000),
            None,
        ),
        (
            "largest frame a buffer holds",
            frame(MacAddr::BROADCAST, mac(1), OTHER_ETHERTYPE, MAX_FRAME),
            None,
        ),
    ];
    let mut r = Rig::new(3, 64);
    for (what, f, want) in &cases {
        let before = r.sw.counters;
        r.h(1).inject(f);
        r.run(0);
        let c = r.sw.counters;
        let sent = r.sent();
        match want {
            Some(reason) => {
                assert_eq!(
                    c.drops_of(*reason),
                    before.drops_of(*reason) + 1,
                    "{what}: dropped as {}",
                    reason.name()
                );
                assert_eq!(
                    c.total_drops(),
                    before.total_drops() + 1,
                    "{what}: one drop only"
                );
                assert!(sent.is_empty(), "{what}: dropped and forwarded");
            }
            None => {
                assert_eq!(c.total_drops(), before.total_drops(), "{what}");
                assert_eq!(sent.len(), 2, "{what}: flooded to ports 2 and 3");
                for (_, v) in &sent {
                    assert_eq!(v, &vec![f.clone()], "{what}: forwarded changed");
                }
            }
        }
    }
    // Larger than any buffer: the in-memory port (like a real port's receive area) keeps only
    // MAX_FRAME bytes; nothing panics and the pool stays whole.
    r.h(1)
        .inject(&frame(MacAddr::BROADCAST, mac(1), OTHER_ETHERTYPE, 70_000));
    r.run(0);
    for (_, v) in r.sent() {
        assert!(v.iter().all(|f| f.len() <= MAX_FRAME));
    }
}

#[test]
fn drop_counters_are_what_coverage_show_lists() {
    let handles: Arc<Mutex<HashMap<String, MemPortHandle>>> = Arc::default();
    let h2 = handles.clone();
    let opener: PortOpener = Box::new(move |spec, no| {
        let (p, h) = MemPort::new(&spec.name, no);
        h2.lock().unwrap().insert(spec.name.clone(), h);
        Ok((Box::new(p) as Box<dyn Port>, "mem"))
    });
    let mut dp = Dpif::with_opener(
        &DpifConfig {
            n_pmd: 1,
            pmd_cores: vec![],
        },
        opener,
    )
    .unwrap();
    dp.add_bridge("br0").unwrap();
    for name in ["a", "b"] {
        dp.add_port(
            "br0",
            PortSpec {
                name: name.into(),
                kind: PortKind::System,
                mac: None,
                options: BTreeMap::new(),
            },
        )
        .unwrap();
    }
    let mut want: BTreeMap<&str, u64> = BTreeMap::new();
    for (_, f, reason, _) in must_drop() {
        handles.lock().unwrap()["a"].inject(&f);
        *want.entry(reason.name()).or_default() += 1;
    }
    let t = Instant::now();
    let mut cov = dp.coverage();
    while t.elapsed() < Duration::from_secs(5)
        && want
            .iter()
            .any(|(n, c)| !cov.iter().any(|(m, v)| m == n && v == c))
    {
        std::thread::sleep(Duration::from_millis(10));
        cov = dp.coverage();
    }
    for (name, count) in &want {
        assert!(
            cov.iter().any(|(n, v)| n == name && v == count),
            "{name} should be {count} in {cov:?}"
        );
    }
    assert!(dp.fdb_show("br0").unwrap().is_empty(), "nothing learned");
    dp.shutdown();
}

// ---------------------------------------------------------------------------------------------
// GRE.

/// Outer IPv4 + GRE packets (as the raw socket returns them) from the real-OVS captures.
fn gre_packets(file: &str) -> Vec<Vec<u8>> {
    let d = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata")
            .join(file),
    )
    .unwrap();
    let mut off = 24;
    let mut out = vec![];
    while off + 16 <= d.len() {
        let caplen = u32::from_le_bytes(d[off + 8..off + 12].try_into().unwrap()) as usize;
        off += 16;
        out.push(d[off + 14..off + caplen].to_vec());
        off += caplen;
    }
    out
}

fn gre_cfg(opts: &[(&str, &str)]) -> TunnelConfig {
    let mut o: BTreeMap<String, String> = opts
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    o.entry("remote_ip".into())
        .or_insert_with(|| "192.0.2.1".into());
    TunnelConfig::from_options(TunnelKind::Gre, &o).unwrap()
}

/// Recompute the outer IPv4 header checksum after a tweak (the kernel would refuse a bad
/// one before the raw socket sees it).
fn fix_ip_csum(p: &mut [u8]) {
    p[10..12].copy_from_slice(&[0, 0]);
    let hl = usize::from(p[0] & 0x0f) * 4;
    let c = rvs_datapath::wire::checksum::checksum(&p[..hl]);
    p[10..12].copy_from_slice(&c.to_be_bytes());
}

#[test]
fn hostile_gre_is_refused_with_named_reasons() {
    let plain = &gre_packets("gre-plain.pcap")[0];
    let keyed = &gre_packets("gre-key4660.pcap")[0];
    let csum = &gre_packets("gre-csum.pcap")[0];
    let any = gre_cfg(&[]);
    let key = gre_cfg(&[("key", "4660")]);
    let with_csum = gre_cfg(&[("csum", "true")]);
    let other_key = gre_cfg(&[("key", "99")]);
    assert!(
        tunnel::decap(plain, &any).is_ok(),
        "the capture itself is fine"
    );
    assert!(tunnel::decap(keyed, &key).is_ok());
    assert!(tunnel::decap(csum, &with_csum).is_ok());
    let tweak = |p: &Vec<u8>, f: &dyn Fn(&mut Vec<u8>)| {
        let mut q = p.clone();
        f(&mut q);
        q
    };
    let cases: Vec<(&str, Vec<u8>, &TunnelConfig, TunnelDrop, &str)> = vec![
        (
            "GRE version 1",
            tweak(plain, &|q| q[21] |= 1),
            &any,
            TunnelDrop::BadVersion,
            "gre_drop_bad_version",
        ),
        (
            "routing bit",
            tweak(plain, &|q| q[20] |= 0x40),
            &any,
            TunnelDrop::Routing,
            "gre_drop_routing",
        ),
        (
            "strict source route bit",
            tweak(plain, &|q| q[20] |= 0x08),
            &any,
            TunnelDrop::UnknownFlags,
            "gre_drop_unknown_flags",
        ),
        (
            "recursion control bits",
            tweak(plain, &|q| q[20] |= 0x07),
            &any,
            TunnelDrop::UnknownFlags,
            "gre_drop_unknown_flags",
        ),
        (
            "bad GRE checksum",
            tweak(csum, &|q| {
                let n = q.len() - 1;
                q[n] ^= 0xff;
            }),
            &with_csum,
            TunnelDrop::BadChecksum,
            "gre_drop_bad_checksum",
        ),
        (
            "protocol IPv4, not Ethernet",
            tweak(plain, &|q| q[22..24].copy_from_slice(&[0x08, 0x00])),
            &any,
            TunnelDrop::BadProtocol,
            "gre_drop_bad_protocol",
        ),
        (
            "outer IPv4 cut short",
            plain[..19].to_vec(),
            &any,
            TunnelDrop::Truncated,
            "gre_drop_truncated",
        ),
        (
            "GRE header cut short",
            tweak(plain, &|q| {
                q.truncate(22);
                q[2..4].copy_from_slice(&22u16.to_be_bytes());
                fix_ip_csum(q);
            }),
            &any,
            TunnelDrop::Truncated,
            "gre_drop_truncated",
        ),
        (
            "key announced, not there",
            tweak(plain, &|q| {
                q.truncate(26);
                q[20] |= 0x20;
                q[2..4].copy_from_slice(&26u16.to_be_bytes());
                fix_ip_csum(q);
            }),
            &any,
            TunnelDrop::Truncated,
            "gre_drop_truncated",
        ),
        (
            "inner frame shorter than Ethernet",
            tweak(plain, &|q| {
                q.truncate(24 + 13);
                q[2..4].copy_from_slice(&37u16.to_be_bytes());
                fix_ip_csum(q);
            }),
            &any,
            TunnelDrop::Truncated,
            "gre_drop_truncated",
        ),
        (
            "outer fragment",
            tweak(plain, &|q| {
                q[6] = 0x20;
                fix_ip_csum(q);
            }),
            &any,
            TunnelDrop::Malformed,
            "gre_drop_malformed",
        ),
        (
            "not GRE (protocol 17)",
            tweak(plain, &|q| {
                q[9] = 17;
                fix_ip_csum(q);
            }),
            &any,
            TunnelDrop::Malformed,
            "gre_drop_malformed",
        ),
        (
            "from an unconfigured remote",
            tweak(plain, &|q| {
                q[12..16].copy_from_slice(&[192, 0, 2, 66]);
                fix_ip_csum(q);
            }),
            &any,
            TunnelDrop::SpoofedSource,
            "gre_drop_spoofed_source",
        ),
        (
            "wrong key",
            keyed.clone(),
            &other_key,
            TunnelDrop::BadKey,
            "gre_drop_bad_key",
        ),
        (
            "missing key",
            plain.clone(),
            &key,
            TunnelDrop::MissingKey,
            "gre_drop_missing_key",
        ),
        (
            "unexpected key",
            keyed.clone(),
            &any,
            TunnelDrop::UnexpectedKey,
            "gre_drop_unexpected_key",
        ),
    ];
    for (what, pkt, cfg, want, name) in cases {
        assert_eq!(tunnel::decap(&pkt, cfg).err(), Some(want), "{what}");
        assert_eq!(want.name(TunnelKind::Gre), name, "{what}");
    }
    // A packet to another local address is refused when local_ip is set.
    let local = gre_cfg(&[("local_ip", "192.0.2.99")]);
    assert_eq!(
        tunnel::decap(plain, &local).err(),
        Some(TunnelDrop::SpoofedSource)
    );
    // Every truncation of a good packet is refused without a panic.
    for n in 0..plain.len() {
        let _ = tunnel::decap(&plain[..n], &any);
    }
    assert_eq!(
        Ipv4Addr::new(192, 0, 2, 1),
        any.remote_ip,
        "the captures come from 192.0.2.1"
    );
}

// ---------------------------------------------------------------------------------------------
// MAC flood.

/// Resident memory of this test process, kB (panics if unreadable).
fn rss_kb() -> u64 {
    rvs_testkit::rss_kb(std::process::id())
}

#[test]
fn mac_flood_keeps_fdb_bounded_and_known_hosts_unicast() {
    const FLOOD: usize = 1_000_000;
    const BOUND: usize = rvs_datapath::fdb::DEFAULT_MAX_ENTRIES;
    let mut r = Rig::new(4, BOUND);
    let (a, b) = (mac(0xa), mac(0xb));
    // Hosts a (port 2) and b (port 3) are learned before the flood.
    r.h(2)
        .inject(&frame(MacAddr::BROADCAST, a, EtherType::ARP, 60));
    r.h(3)
        .inject(&frame(MacAddr::BROADCAST, b, EtherType::ARP, 60));
    r.run(0);
    r.sent();
    let rss0 = rss_kb();
    let t0 = Instant::now();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut rand = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut now_ms = 0;
    let mut checks = 0;
    let mut f = frame(mac(0), mac(0), OTHER_ETHERTYPE, 60);
    for i in 0..FLOOD {
        // Random unicast source and destination (locally administered, group bit clear).
        let s = (rand() & 0xfeff_ffff_ffff) | 0x0200_0000_0000;
        let d = (rand() & 0xfeff_ffff_ffff) | 0x0200_0000_0000;
        f[0..6].copy_from_slice(&MacAddr::from_u64(d).0);
        f[6..12].copy_from_slice(&MacAddr::from_u64(s).0);
        r.h(1).inject(&f);
        if i % 32 == 31 {
            now_ms += 1;
            r.run(now_ms);
            // Unknown destinations flood; the copies are not interesting.
            for p in 1..=4 {
                r.h(p).take_sent();
            }
            if now_ms % 1000 == 0 {
                r.sw.flows.expire(now_ms);
                r.fdb.expire((now_ms / 1000) as u32);
            }
        }
        if i % 20_000 == 19_999 {
            // The known hosts still talk unicast, through the flood.
            r.h(2).inject(&frame(b, a, OTHER_ETHERTYPE, 60));
            r.h(3).inject(&frame(a, b, OTHER_ETHERTYPE, 60));
            r.run(now_ms);
            let got: Vec<(u16, usize)> = r.sent().iter().map(|(p, v)| (*p, v.len())).collect();
            assert_eq!(got, vec![(2, 1), (3, 1)], "after {} flood frames", i + 1);
            let st = r.fdb.stats();
            assert!(st.current <= BOUND, "FDB over its bound: {st:?}");
            checks += 1;
        }
    }
    r.run(now_ms);
    let took = t0.elapsed();
    let st = r.fdb.stats();
    let rss1 = rss_kb();
    eprintln!(
        "MAC flood: {FLOOD} frames in {took:.2?} ({:.2} Mframes/s, debug={}); FDB {}/{} \
         (evicted {}); port 1 holds {}; hosts a/b on ports {:?}/{:?}; {checks} unicast checks; \
         test RSS {rss0} kB -> {rss1} kB",
        FLOOD as f64 / took.as_secs_f64() / 1e6,
        cfg!(debug_assertions),
        st.current,
        st.max,
        st.evicted,
        r.fdb.port_count(1),
        r.fdb.lookup(0, a).port(),
        r.fdb.lookup(0, b).port(),
    );
    assert!(st.current <= BOUND);
    assert!(
        st.current >= BOUND - 64,
        "the flood filled the table: {st:?}"
    );
    assert_eq!(
        (r.fdb.lookup(0, a).port(), r.fdb.lookup(0, b).port()),
        (Some(2), Some(3))
    );
    assert_eq!(r.sw.counters.total_drops(), 0, "nothing dropped");
}
