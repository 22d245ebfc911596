//! VLANs through rvsd in netns: access ports isolate VLANs, a trunk carries tagged frames to
//! the right access ports (802.1Q subinterfaces inside the namespace), `trunks` limits a
//! trunk, and fdb/show has the VLAN column; fake (VLAN) bridges put their ports in their
//! VLAN on the parent bridge.

mod common;

use common::Lan;
use rvs_testkit::frames::{self, arp_requests};
use rvs_testkit::{skip_unless_tools, wait_for, Capture, Netns};
use std::time::Duration;

#[test]
fn access_and_trunk_ports_follow_ovs() {
    if skip_unless_tools(
        "access_and_trunk_ports_follow_ovs",
        &["tcpdump", "python3", "ping"],
    ) {
        return;
    }
    // c0, c1 in VLAN 10; c2 in VLAN 20 (same IP subnet, so only the switch keeps them apart);
    // c3 is a trunk. This kernel has no 8021q module (no VLAN subinterfaces) and no bridge
    // VLAN filtering, so the trunk side sends tagged frames from a raw socket and reads them
    // from a tcpdump capture (libpcap puts the 802.1Q tag back into each frame).
    let lan = Lan::new(4, 6);
    lan.rvsd.vsctl_ok(&["set", "port", &lan.ports[0], "tag=10"]);
    lan.rvsd.vsctl_ok(&["set", "port", &lan.ports[1], "tag=10"]);
    lan.rvsd.vsctl_ok(&["set", "port", &lan.ports[2], "tag=20"]);
    let c3 = &lan.containers[3];
    // (Lan containers have IPv6 off: the trunk host's router solicitations would be untagged,
    // which a trunks=20 port drops under the very counter checked below.)

    assert!(
        lan.ping(0, &lan.ip(1)),
        "same access VLAN\n{}",
        lan.rvsd.log()
    );
    assert!(!lan.ping(0, &lan.ip(2)), "VLAN 10 cannot reach VLAN 20");

    // A broadcast in VLAN 10 (ARP for an absent address) reaches the trunk tagged 10, and
    // not the VLAN 20 access port; a VLAN 20 broadcast sent from the trunk (the positive
    // control) does reach that port, so its capture provably ran.
    let cap_trunk = Capture::start(c3, "eth0", "");
    let cap_other = Capture::start(&lan.containers[2], "eth0", "");
    arping(&lan.containers[0], &ip_of(&lan, 99));
    send_tagged_arp(
        c3,
        20,
        "02:aa:bb:cc:dd:20",
        [10, 77, lan.subnet, 120],
        ip_of_bytes(&lan, 97),
    );
    let trunk = arp_requests(&cap_trunk.frames());
    let other = arp_requests(&cap_other.frames());
    assert!(
        trunk.contains(&(Some(10), ip_of_bytes(&lan, 99))),
        "trunk did not get the VLAN 10 broadcast tagged 10: {trunk:?}"
    );
    assert!(
        other.contains(&(None, ip_of_bytes(&lan, 97))),
        "the VLAN 20 port did not get the VLAN 20 broadcast untagged: {other:?}"
    );
    assert!(
        !other.iter().any(|(_, t)| *t == ip_of_bytes(&lan, 99)),
        "VLAN 20 port saw VLAN 10 broadcast: {other:?}"
    );

    // A tagged frame from the trunk (an ARP request in VLAN 10 from a made-up host) reaches
    // the VLAN 10 access port untagged, and the host is learned in VLAN 10 on the trunk.
    let fake = "02:aa:bb:cc:dd:03";
    send_tagged_arp(
        c3,
        10,
        fake,
        [10, 77, lan.subnet, 77],
        ip_of_bytes(&lan, 10),
    );
    let fdb = lan.rvsd.appctl_ok(&["fdb/show", "br0"]);
    let row = fdb
        .lines()
        .find(|l| l.contains(fake))
        .unwrap_or_else(|| panic!("{fake} not learned:\n{fdb}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!((cols[0], cols[1]), ("4", "10"), "{fdb}");
    let c0_mac = lan.containers[0].mac("eth0");
    assert!(
        fdb.lines()
            .any(|l| l.contains(&c0_mac) && l.split_whitespace().nth(1) == Some("10")),
        "{fdb}"
    );
    let neigh = lan.containers[0].exec(["ip", "neigh"]);
    assert!(
        neigh.contains(fake),
        "the access host got the trunk's tagged ARP untagged: {neigh}"
    );
    let dump = lan.rvsd.appctl_ok(&["dpctl/dump-flows"]);
    assert!(
        dump.contains("vlan(vid=10,pcp=0)") && dump.contains("pop_vlan,"),
        "{dump}"
    );
    assert!(dump.contains("push_vlan(vid=10,pcp=0),5"), "{dump}");

    // Limit the trunk to VLAN 20: VLAN 10 broadcasts no longer reach it, VLAN 20 ones still
    // do, and a VLAN 10 frame *from* it is dropped and counted.
    lan.rvsd
        .vsctl_ok(&["set", "port", &lan.ports[3], "trunks=20"]);
    // Forget the made-up host, so no unicast to it (now unreachable in VLAN 10 through the
    // trunk) is dropped and counted in the middle of the check below.
    lan.containers[0].exec(["ip", "neigh", "flush", "all"]);
    lan.rvsd.appctl_ok(&["fdb/flush", "br0"]);
    let dropped0 = lan.rvsd.coverage("datapath_drop_vlan_not_allowed");
    let cap_trunk = Capture::start(c3, "eth0", "");
    arping(&lan.containers[0], &ip_of(&lan, 98));
    arping(&lan.containers[2], &ip_of(&lan, 96));
    let trunk = arp_requests(&cap_trunk.frames());
    assert!(
        trunk.contains(&(Some(20), ip_of_bytes(&lan, 96))),
        "trunks=20 lost VLAN 20: {trunk:?}"
    );
    assert!(
        !trunk.iter().any(|(_, t)| *t == ip_of_bytes(&lan, 98)),
        "trunks=20 still got VLAN 10: {trunk:?}"
    );
    send_tagged_arp(
        c3,
        10,
        "02:aa:bb:cc:dd:04",
        [10, 77, lan.subnet, 78],
        ip_of_bytes(&lan, 10),
    );
    assert!(
        wait_for(Duration::from_secs(5), || lan
            .rvsd
            .coverage("datapath_drop_vlan_not_allowed")
            == dropped0 + 1),
        "the VLAN 10 frame from a trunks=20 port was not dropped once: {}",
        lan.rvsd.appctl_ok(&["coverage/show"])
    );
}

fn ip_of(lan: &common::Lan, host: u8) -> String {
    format!("10.77.{}.{host}", lan.subnet)
}

fn ip_of_bytes(lan: &common::Lan, host: u8) -> [u8; 4] {
    [10, 77, lan.subnet, host]
}

/// One ARP request for `ip` from `ns` (a ping to an absent address makes the kernel ask).
fn arping(ns: &Netns, ip: &str) {
    let _ = ns.try_exec(["ping", "-c", "1", "-W", "1", ip]);
}

/// Send one broadcast ARP request tagged `vid` from `ns`'s eth0 through a raw socket.
fn send_tagged_arp(ns: &Netns, vid: u16, src: &str, src_ip: [u8; 4], target_ip: [u8; 4]) {
    let src = frames::parse_mac(src).expect("a MAC");
    let arp = frames::tag(&frames::arp_request(src, src_ip, target_ip), vid);
    ns.send_frames("eth0", &[arp]);
}

/// A fake bridge (`add-br CHILD PARENT VLAN`) is real in the datapath: its internal port is
/// an access port of the parent in VLAN, and ports added to it join the parent in VLAN, as in
/// OVS. So the fake bridge's own IP reaches its ports and no other VLAN's.
#[test]
fn fake_bridges_carry_their_vlan() {
    if skip_unless_tools("fake_bridges_carry_their_vlan", &["ping"]) {
        return;
    }
    let lan = Lan::new(3, 8);
    let (c0, c1, c2) = (&lan.ports[0], &lan.ports[1], &lan.ports[2]);
    lan.rvsd.vsctl_ok(&["add-br", "br0v10", "br0", "10"]);
    // Move c1 and c2 onto the fake bridge; c0 stays on br0, untagged.
    lan.rvsd.vsctl_ok(&[
        "del-port", c1, "--", "del-port", c2, "--", "add-port", "br0v10", c1,
    ]);
    lan.rvsd.vsctl_ok(&["add-port", "br0v10", c2]);
    assert_eq!(lan.rvsd.vsctl_ok(&["br-to-parent", "br0v10"]), "br0\n");
    assert_eq!(
        lan.rvsd.vsctl_ok(&["list-ports", "br0v10"]),
        format!("{c1}\n{c2}\n")
    );
    assert_eq!(lan.rvsd.vsctl_ok(&["get", "port", c2, "tag"]), "10\n");
    // The fake bridge's internal device exists and is a port of br0's datapath bridge.
    lan.sw.set_addr("br0v10", "10.78.8.1/24");
    let dpif = lan.rvsd.appctl_ok(&["dpif/show"]);
    assert!(dpif.contains("br0v10"), "{dpif}");
    for (i, host) in [(0, 10), (1, 11), (2, 12)] {
        lan.containers[i].exec([
            "ip",
            "addr",
            "add",
            &format!("10.78.8.{host}/24"),
            "dev",
            "eth0",
        ]);
    }
    assert!(
        lan.ping(1, "10.78.8.1"),
        "a port of the fake bridge reaches its internal port\n{}",
        lan.rvsd.log()
    );
    assert!(
        lan.ping(1, "10.78.8.12"),
        "ports of one fake bridge reach each other"
    );
    assert!(
        !lan.ping(0, "10.78.8.1"),
        "br0's untagged port is not in VLAN 10"
    );
    assert!(
        !lan.ping(0, "10.78.8.11"),
        "nor can it reach the fake bridge's ports"
    );
    // The frames were switched in VLAN 10 on br0.
    let fdb = lan.rvsd.appctl_ok(&["fdb/show", "br0"]);
    let c1_mac = lan.containers[1].mac("eth0");
    assert!(
        fdb.lines()
            .any(|l| l.contains(&c1_mac) && l.split_whitespace().nth(1) == Some("10")),
        "{fdb}"
    );
    // Deleting the fake bridge takes its ports with it; br0 keeps c0.
    lan.rvsd.vsctl_ok(&["del-br", "br0v10"]);
    assert_eq!(lan.rvsd.vsctl_ok(&["list-ports", "br0"]), format!("{c0}\n"));
    assert!(!lan.rvsd.appctl_ok(&["dpif/show"]).contains("br0v10"));
}
