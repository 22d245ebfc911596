//! Existing OVS tooling runs unchanged against rvs: Debian's own `ovs-docker` (with a tiny
//! stand-in for `docker`), and a host-setup script as people write them (del-br of an absent
//! bridge, add-br, a GRE port, the bridge's internal port enslaved to a Linux bridge).

mod common;

use common::RvsdHost;
use rvs_testkit::{docker_stand_in, skip_unless_root, skip_unless_tools, unique_ifname, Netns};
use std::path::Path;
use std::process::Command;

/// PATH with our front ends (and `extra`) first.
fn path_with(extra: &Path) -> String {
    let vsctl = common::bins().vsctl;
    let ours = vsctl.parent().unwrap();
    format!(
        "{}:{}:{}",
        extra.display(),
        ours.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

#[test]
fn debian_ovs_docker_runs_unchanged() {
    // Debian's ovs-docker (openvswitch-common) and uuidgen (uuid-runtime).
    if skip_unless_tools("debian_ovs_docker", &["/usr/bin/ovs-docker", "uuidgen"]) {
        return;
    }
    let host = RvsdHost::start(&common::bins(), "dk");
    let (sw, dir, rvsd) = (&host.ns, &host.dir, &host.rvsd);
    // Two "containers": a process each inside its own netns; the docker stand-in maps
    // names to their PIDs.
    let (n1, n2) = (Netns::new("k1"), Netns::new("k2"));
    let p1 = n1.spawn(["sleep", "600"]);
    let p2 = n2.spawn(["sleep", "600"]);
    let bin = dir.0.join("bin");
    docker_stand_in(&bin, &[("c1", p1.id()), ("c2", p2.id())]).unwrap();
    let path = path_with(&bin);
    let ovs_docker = |args: &[&str]| {
        let o = Command::new("ip")
            .args(["netns", "exec", sw.name(), "/usr/bin/ovs-docker"])
            .args(args)
            .env("PATH", &path)
            .env("RVS_RUNDIR", &rvsd.rundir)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "ovs-docker {args:?}: {}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    };
    ovs_docker(&[
        "add-port",
        "br-int",
        "eth1",
        "c1",
        "--ipaddress=10.66.0.1/24",
        "--macaddress=02:00:00:00:66:01",
        "--gateway=10.66.0.254",
    ]);
    ovs_docker(&[
        "add-port",
        "br-int",
        "eth1",
        "c2",
        "--ipaddress=10.66.0.2/24",
    ]);
    assert_eq!(n1.mac("eth1"), "02:00:00:00:66:01");
    assert!(n1.exec(["ip", "route"]).contains("default via 10.66.0.254"));
    let ping = |from: &Netns, to: &str| {
        from.try_exec(["ping", "-c", "2", "-i", "0.2", "-W", "2", to])
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    assert!(
        ping(&n1, "10.66.0.2"),
        "containers attached by ovs-docker talk\n{}",
        rvsd.log()
    );
    // The port carries the container's external_ids, found the way ovs-docker finds it.
    let port = rvsd.vsctl_ok(&[
        "--data=bare",
        "--no-heading",
        "--columns=name",
        "find",
        "interface",
        "external_ids:container_id=c1",
        "external_ids:container_iface=eth1",
    ]);
    assert!(port.trim().ends_with("_l"), "{port}");
    // set-vlan isolates c1 until c2 joins the same VLAN.
    ovs_docker(&["set-vlan", "br-int", "eth1", "c1", "5"]);
    assert_eq!(
        rvsd.vsctl_ok(&["get", "port", port.trim(), "tag"]).trim(),
        "5"
    );
    assert!(!ping(&n1, "10.66.0.2"), "VLAN 5 isolates c1");
    ovs_docker(&["set-vlan", "br-int", "eth1", "c2", "5"]);
    assert!(ping(&n1, "10.66.0.2"), "both in VLAN 5");
    // del-port and del-ports.
    ovs_docker(&["del-port", "br-int", "eth1", "c1"]);
    assert_eq!(rvsd.vsctl_ok(&["list-ports", "br-int"]).lines().count(), 1);
    ovs_docker(&["del-ports", "br-int", "c2"]);
    assert_eq!(rvsd.vsctl_ok(&["list-ports", "br-int"]), "");
    drop((p1, p2));
}

#[test]
fn host_setup_script_with_linux_bridge_and_gre() {
    if skip_unless_root("host_setup_script") {
        return;
    }
    let host = RvsdHost::start(&common::bins(), "hs");
    let (sw, dir, rvsd) = (&host.ns, &host.dir, &host.rvsd);
    let bin = dir.0.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    // A container behind the Linux bridge, and one behind the rvs bridge.
    let (lx, rv) = (Netns::new("lx"), Netns::new("rv"));
    let (lp, rp) = (unique_ifname("lp"), unique_ifname("rp"));
    sw.add_veth(&lp, &lx, "eth0");
    sw.add_veth(&rp, &rv, "eth0");
    lx.set_addr("eth0", "10.55.0.1/24");
    rv.set_addr("eth0", "10.55.0.2/24");
    let script = format!(
        "set -u\novs-vsctl del-br br0 2>{err}; echo \"del-br exit $?\"\novs-vsctl add-br br0\novs-vsctl add-port br0 gre0 -- set interface gre0 type=gre options:remote_ip=10.55.1.2\novs-vsctl add-port br0 {rp}\nip link add lbr type bridge && ip link set lbr up\nip link set {lp} master lbr\nip link set br0 master lbr && ip link set br0 up\necho done\n",
        err = dir.0.join("del-br.err").display()
    );
    let o = Command::new("ip")
        .args(["netns", "exec", sw.name(), "sh", "-c", &script])
        .env("PATH", path_with(&bin))
        .env("RVS_RUNDIR", &rvsd.rundir)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("del-br exit 1") && out.contains("done"),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(dir.0.join("del-br.err")).unwrap(),
        "ovs-vsctl: no bridge named br0\n"
    );
    let show = rvsd.vsctl_ok(&["show"]);
    assert!(
        show.contains("type: gre") && show.contains("options: {remote_ip=\"10.55.1.2\"}"),
        "{show}"
    );
    // Frames cross from the Linux bridge through br0's internal port into the rvs bridge.
    let ok = rv.wait_until(std::time::Duration::from_secs(5), |ns| {
        ns.try_exec(["ping", "-c", "1", "-W", "1", "10.55.0.1"])
            .map(|o| o.status.success())
            .unwrap_or(false)
    });
    assert!(
        ok,
        "Linux bridge <-> rvs bridge through the internal port\n{}",
        rvsd.log()
    );
}
