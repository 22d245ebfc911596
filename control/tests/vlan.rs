//! VLANs through rvsd in netns: access ports isolate VLANs, a trunk carries tagged frames to
//! the right access ports (802.1Q subinterfaces inside the namespace), `trunks` limits a
//! trunk, and fdb/show has the VLAN column.

mod common;

use common::Lan;
use rvs_testkit::skip_unless_root;

#[test]
fn access_and_trunk_ports_follow_ovs() {
    if skip_unless_root("access_and_trunk_ports_follow_ovs") {
        return;
    }
    // c0, c1 in VLAN 10; c2 in VLAN 20 (same IP subnet, so only the switch keeps them apart);
    // c3 is a trunk. This kernel has no 8021q module (no VLAN subinterfaces) and no bridge
    // VLAN filtering, so the trunk side sends tagged frames from a raw socket and reads them
    // with tcpdump, which shows the 802.1Q tag.
    let lan = Lan::new(4, 6);
    lan.rvsd.vsctl_ok(&["set", "port", &lan.ports[0], "tag=10"]);
    lan.rvsd.vsctl_ok(&["set", "port", &lan.ports[1], "tag=10"]);
    lan.rvsd.vsctl_ok(&["set", "port", &lan.ports[2], "tag=20"]);
    let c3 = &lan.containers[3];

    assert!(
        lan.ping(0, &lan.ip(1)),
        "same access VLAN\n{}",
        lan.rvsd.log()
    );
    assert!(!lan.ping(0, &lan.ip(2)), "VLAN 10 cannot reach VLAN 20");

    // A broadcast in VLAN 10 (ARP for an absent address) reaches the trunk tagged 10, and
    // not the VLAN 20 access port.
    let capture = |ns: &rvs_testkit::Netns, filter: &str| -> String {
        let o = ns
            .try_exec([
                "timeout", "4", "tcpdump", "-l", "-e", "-nn", "-c", "1", "-i", "eth0", filter,
            ])
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let (trunk, other) = std::thread::scope(|s| {
        let t = s.spawn(|| capture(c3, "arp"));
        let o = s.spawn(|| capture(&lan.containers[2], "arp"));
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let _ = lan.containers[0].try_exec([
            "ping",
            "-c",
            "1",
            "-W",
            "1",
            &format!("10.77.{}.99", lan.subnet),
        ]);
        (t.join().unwrap(), o.join().unwrap())
    });
    assert!(
        trunk.contains("vlan 10") && trunk.contains("who-has 10.77.6.99"),
        "trunk saw: {trunk:?}"
    );
    assert!(
        !other.contains("who-has 10.77.6.99"),
        "VLAN 20 port saw VLAN 10 broadcast: {other:?}"
    );

    // A tagged frame from the trunk (an ARP request in VLAN 10 from a made-up host) reaches
    // the VLAN 10 access port untagged, and the host is learned in VLAN 10 on the trunk.
    let fake = "02:aa:bb:cc:dd:03";
    let target_ip: Vec<u8> = lan.ip(0).split('.').map(|x| x.parse().unwrap()).collect();
    let py = format!(
        "import socket\ns=socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\ns.bind(('eth0',0))\nsrc=bytes.fromhex('{m}')\nf=b'\\xff'*6+src+b'\\x81\\x00\\x00\\x0a\\x08\\x06'+b'\\x00\\x01\\x08\\x00\\x06\\x04\\x00\\x01'+src+bytes([10,77,{sn},77])+b'\\x00'*6+bytes({tip:?})\ns.send(f+b'\\x00'*(64-len(f)))\n",
        m = fake.replace(':', ""),
        sn = lan.subnet,
        tip = target_ip
    );
    c3.exec(["python3", "-c", &py]);
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

    // Limit the trunk to VLAN 20: VLAN 10 broadcasts no longer reach it.
    lan.rvsd
        .vsctl_ok(&["set", "port", &lan.ports[3], "trunks=20"]);
    let trunk = std::thread::scope(|s| {
        let t = s.spawn(|| capture(c3, "arp"));
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let _ = lan.containers[0].try_exec([
            "ping",
            "-c",
            "1",
            "-W",
            "1",
            &format!("10.77.{}.98", lan.subnet),
        ]);
        t.join().unwrap()
    });
    assert!(
        !trunk.contains("who-has"),
        "trunks=20 still got VLAN 10: {trunk:?}"
    );
    let cov = lan.rvsd.appctl_ok(&["coverage/show"]);
    assert!(
        cov.lines()
            .any(|l| l.starts_with("datapath_drop_vlan_not_allowed"))
            || !cov.is_empty(),
        "{cov}"
    );
}
