//! NORMAL pipeline over in-memory ports with virtual time: learning, flooding, moves, aging,
//! table-full eviction, and drops by reason.

mod support;

use support::Rig;

use rvs_datapath::pipeline::DropReason;
use rvs_datapath::wire::ethernet::{emit, MacAddr};

fn mac(n: u8) -> MacAddr {
    MacAddr([0x02, 0, 0, 0, 0, n])
}

fn frame(dst: MacAddr, src: MacAddr) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    emit(&mut f, dst, src, 0x88b5);
    f
}

fn ports_of(r: &[(u16, Vec<Vec<u8>>)]) -> Vec<u16> {
    r.iter().map(|(p, _)| *p).collect()
}

#[test]
fn unknown_destination_floods_then_learned_unicast() {
    let mut r = Rig::new(4, 64);
    let f = frame(mac(2), mac(1));
    r.h(1).inject(&f);
    r.run(0);
    let got = r.sent();
    assert_eq!(
        ports_of(&got),
        vec![2, 3, 4],
        "flood to every other port, never back to ingress"
    );
    assert!(
        got.iter().all(|(_, v)| v == &vec![f.clone()]),
        "flooded copies are identical"
    );
    assert_eq!(r.fdb.lookup(0, mac(1)).port(), Some(1), "source learned");

    // Reply from 2 to 1 goes only to port 1.
    r.h(2).inject(&frame(mac(1), mac(2)));
    r.run(100);
    assert_eq!(ports_of(&r.sent()), vec![1]);
    // And now 1 → 2 is unicast too.
    r.h(1).inject(&frame(mac(2), mac(1)));
    r.run(200);
    assert_eq!(ports_of(&r.sent()), vec![2]);
    assert_eq!((r.sw.counters.flooded, r.sw.counters.unicast), (1, 2));
}

#[test]
fn broadcast_and_multicast_destinations_flood() {
    let mut r = Rig::new(3, 64);
    r.h(2).inject(&frame(mac(3), mac(2))); // learn mac(2)? no: learn src mac(2) on 2
    r.h(3).inject(&frame(mac(2), mac(3)));
    r.run(0);
    r.sent();
    r.h(1).inject(&frame(MacAddr::BROADCAST, mac(1)));
    r.h(1)
        .inject(&frame(MacAddr([0x01, 0x00, 0x5e, 0, 0, 1]), mac(1)));
    r.run(0);
    let got = r.sent();
    assert_eq!(ports_of(&got), vec![2, 3]);
    assert!(got.iter().all(|(_, v)| v.len() == 2));
}

#[test]
fn known_destination_on_ingress_port_is_dropped() {
    let mut r = Rig::new(3, 64);
    r.h(1).inject(&frame(mac(9), mac(1)));
    r.h(1).inject(&frame(mac(9), mac(2))); // both hosts behind port 1
    r.run(0);
    r.sent();
    r.h(1).inject(&frame(mac(1), mac(2)));
    r.run(0);
    assert!(r.sent().is_empty());
    assert_eq!(r.sw.counters.drops_of(DropReason::SamePort), 1);
}

#[test]
fn mac_move_redirects_next_frame() {
    let mut r = Rig::new(3, 64);
    r.h(1).inject(&frame(MacAddr::BROADCAST, mac(1)));
    r.run(0);
    r.sent();
    r.h(3).inject(&frame(mac(1), mac(3)));
    r.run(0);
    assert_eq!(ports_of(&r.sent()), vec![1]);
    // Host 1 moves to port 2.
    r.h(2).inject(&frame(MacAddr::BROADCAST, mac(1)));
    r.run(1000);
    r.sent();
    r.h(3).inject(&frame(mac(1), mac(3)));
    r.run(1000);
    assert_eq!(ports_of(&r.sent()), vec![2]);
    assert_eq!(r.fdb.stats().moved, 1);
}

#[test]
fn aging_with_virtual_time_makes_destination_unknown_again() {
    let mut r = Rig::new(3, 64);
    r.fdb.set_aging(15);
    r.h(1).inject(&frame(MacAddr::BROADCAST, mac(1)));
    r.run(0);
    r.sent();
    r.fdb.expire(14);
    r.h(2).inject(&frame(mac(1), mac(2)));
    r.run(14_000);
    assert_eq!(ports_of(&r.sent()), vec![1], "still known at 14 s");
    assert_eq!(
        r.fdb.expire(15),
        1,
        "mac(1) idle 15 s expires; mac(2) was seen at 14 s"
    );
    r.h(2).inject(&frame(mac(1), mac(2)));
    r.run(16_000);
    assert_eq!(ports_of(&r.sent()), vec![1, 3], "flooded after expiry");
    assert_eq!(r.fdb.stats().expired, 1);
}

#[test]
fn table_full_evicts_from_busiest_port_and_keeps_others_unicast() {
    let mut r = Rig::new(4, 16);
    // Hosts on ports 2 and 3.
    r.h(2).inject(&frame(MacAddr::BROADCAST, mac(2)));
    r.h(3).inject(&frame(MacAddr::BROADCAST, mac(3)));
    r.run(0);
    // Port 1 floods with 200 random sources.
    for i in 0..200u16 {
        let src = MacAddr([0x02, 0xaa, 0, 0, (i >> 8) as u8, i as u8]);
        r.h(1).inject(&frame(MacAddr::BROADCAST, src));
    }
    r.run(1000);
    r.sent();
    let s = r.fdb.stats();
    assert_eq!(s.current, 16, "bound held");
    assert!(s.evicted >= 200 - 14);
    assert_eq!(r.fdb.lookup(0, mac(2)).port(), Some(2));
    assert_eq!(r.fdb.lookup(0, mac(3)).port(), Some(3));
    r.h(4)
        .inject(&frame(mac(2), MacAddr([0x02, 0xbb, 0, 0, 0, 4])));
    r.run(1000);
    assert_eq!(
        ports_of(&r.sent()),
        vec![2],
        "learned host on another port still unicast"
    );
}

#[test]
fn malformed_frames_are_counted_by_reason() {
    let mut r = Rig::new(2, 64);
    r.h(1).inject(&[0u8; 13]);
    let mut tagged = frame(mac(2), mac(1));
    tagged[12..14].copy_from_slice(&0x8100u16.to_be_bytes());
    r.h(1).inject(&tagged[..16]);
    r.h(1).inject(&frame(mac(2), MacAddr::BROADCAST));
    r.h(1)
        .inject(&frame(mac(2), MacAddr([0x01, 0, 0x5e, 0, 0, 1])));
    r.h(1).inject(&frame(mac(2), MacAddr::ZERO));
    r.run(0);
    assert!(r.sent().is_empty());
    let c = r.sw.counters;
    assert_eq!(c.drops_of(DropReason::Runt), 1);
    assert_eq!(c.drops_of(DropReason::VlanTruncated), 1);
    assert_eq!(c.drops_of(DropReason::MulticastSrc), 2);
    assert_eq!(c.drops_of(DropReason::ZeroSrc), 1);
    assert_eq!(r.fdb.stats().current, 0, "nothing learned from bad sources");
}

#[test]
fn vlans_learn_separately() {
    let mut r = Rig::new(3, 64);
    let mut f = vec![0u8; 64];
    emit(&mut f, MacAddr::BROADCAST, mac(1), 0x8100);
    f[14..16].copy_from_slice(&10u16.to_be_bytes());
    f[16..18].copy_from_slice(&0x88b5u16.to_be_bytes());
    r.h(1).inject(&f);
    r.run(0);
    assert_eq!(r.fdb.lookup(10, mac(1)).port(), Some(1));
    assert_eq!(r.fdb.lookup(0, mac(1)).port(), None);
}

#[test]
fn removed_port_is_forgotten() {
    let mut r = Rig::new(3, 64);
    r.h(3).inject(&frame(MacAddr::BROADCAST, mac(3)));
    r.run(0);
    r.sent();
    r.sw.remove_port(3);
    assert_eq!(r.fdb.lookup(0, mac(3)).port(), None);
    r.h(1).inject(&frame(mac(3), mac(1)));
    r.run(0);
    assert_eq!(ports_of(&r.sent()), vec![2]);
    r.h(3).inject(&frame(mac(1), mac(3)));
    r.run(0);
    assert_eq!(r.sw.counters.drops_of(DropReason::UnknownPort), 1);
}

// ---- Flow cache: hits, and invalidation on every kind of change ----

/// Send `f` from `port` and return which ports got it.
fn send(r: &mut Rig, port: u16, f: &[u8], now_ms: u64) -> Vec<u16> {
    r.h(port).inject(f);
    r.run(now_ms);
    ports_of(&r.sent())
}

#[test]
fn cache_hits_skip_normal_and_count_per_flow() {
    let mut r = Rig::new(3, 64);
    send(&mut r, 2, &frame(MacAddr::BROADCAST, mac(2)), 0);
    let f = frame(mac(2), mac(1));
    for i in 0..10 {
        assert_eq!(send(&mut r, 1, &f, 100 + i), vec![2]);
    }
    let c = r.sw.flows.counters;
    assert_eq!(
        (c.misses, c.hits),
        (2, 9),
        "first frame of each flow misses, the rest hit"
    );
    let flows = r.sw.dump_flows();
    let fl = flows.iter().find(|d| d.key.in_port == 1).unwrap();
    assert_eq!(
        (fl.stats.packets, fl.stats.bytes, fl.stats.used_ms),
        (10, 600, 109)
    );
}

#[test]
fn cache_follows_learning_of_the_destination() {
    let mut r = Rig::new(3, 64);
    let f = frame(mac(2), mac(1));
    assert_eq!(
        send(&mut r, 1, &f, 0),
        vec![2, 3],
        "unknown: flooded, flow cached"
    );
    send(&mut r, 2, &frame(mac(1), mac(2)), 0); // mac(2) learned on 2
    assert_eq!(
        send(&mut r, 1, &f, 0),
        vec![2],
        "cached flood re-decided after the learn"
    );
    assert!(r.sw.flows.counters.revalidated >= 1);
}

#[test]
fn cache_follows_a_mac_move_on_the_very_next_packet() {
    let mut r = Rig::new(3, 64);
    send(&mut r, 2, &frame(MacAddr::BROADCAST, mac(2)), 0);
    let f = frame(mac(2), mac(1));
    assert_eq!(send(&mut r, 1, &f, 0), vec![2]);
    assert_eq!(send(&mut r, 1, &f, 0), vec![2]);
    send(&mut r, 3, &frame(MacAddr::BROADCAST, mac(2)), 0); // moves to 3
    assert_eq!(send(&mut r, 1, &f, 0), vec![3]);
}

#[test]
fn cache_follows_expiry_and_flush() {
    let mut r = Rig::new(3, 64);
    r.fdb.set_aging(15);
    send(&mut r, 2, &frame(MacAddr::BROADCAST, mac(2)), 0);
    let f = frame(mac(2), mac(1));
    assert_eq!(send(&mut r, 1, &f, 0), vec![2]);
    r.fdb.expire(20);
    assert_eq!(
        send(&mut r, 1, &f, 20_000),
        vec![2, 3],
        "expired: flood again"
    );
    send(&mut r, 2, &frame(MacAddr::BROADCAST, mac(2)), 20_000);
    assert_eq!(send(&mut r, 1, &f, 20_000), vec![2]);
    r.fdb.flush();
    assert_eq!(
        send(&mut r, 1, &f, 20_000),
        vec![2, 3],
        "flushed: flood again"
    );
}

#[test]
fn cache_follows_port_and_config_changes() {
    let mut r = Rig::new(4, 64);
    let f = frame(MacAddr::BROADCAST, mac(1));
    assert_eq!(send(&mut r, 1, &f, 0), vec![2, 3, 4]);
    r.sw.remove_port(4);
    assert_eq!(
        send(&mut r, 1, &f, 0),
        vec![2, 3],
        "removed port no longer in the cached flood"
    );
    let fdb = r.sw.fdb(0).unwrap().clone();
    r.sw.add_port(4, 0);
    assert_eq!(send(&mut r, 1, &f, 0), vec![2, 3, 4]);
    let before = r.sw.flows.counters.revalidated;
    r.sw.revalidate_all();
    send(&mut r, 1, &f, 0);
    assert_eq!(
        r.sw.flows.counters.revalidated,
        before + 1,
        "config change re-decides"
    );
    drop(fdb);
}

#[test]
fn idle_flows_expire_and_sources_stay_learned_while_hitting() {
    let mut r = Rig::new(2, 64);
    r.fdb.set_aging(15);
    send(&mut r, 2, &frame(MacAddr::BROADCAST, mac(2)), 0);
    let f = frame(mac(2), mac(1));
    // 40 s of traffic that only hits the cache keeps mac(1) in the FDB.
    for t in 0..40u64 {
        send(&mut r, 1, &f, t * 1000);
        r.fdb.expire(t as u32);
    }
    assert_eq!(r.fdb.lookup(0, mac(1)).port(), Some(1));
    assert_eq!(
        r.sw.flows.expire(45_000),
        1,
        "port 2's flow, idle since 0 s"
    );
    assert_eq!(
        r.sw.flows.expire(48_999),
        0,
        "port 1's flow was used at 39 s"
    );
    assert_eq!(r.sw.flows.expire(49_000), 1, "idle 10 s: gone");
    assert!(r.sw.flows.is_empty());
}
