//! The netns checks every port type must pass, written once and run by `e2e.rs` on system
//! (AF_PACKET) ports and by `afxdp.rs` on `type=afxdp` ports: containers ping each other and
//! the bridge, and TCP with the kernel's default offloads (iperf3, a 10 MB HTTP download with
//! a sha256 check, no `TcpInCsumErrors`).

use super::{Lan, TempDir};
use rvs_testkit::Netns;
use std::time::Duration;

/// Every pair of containers pings, and the bridge's own IP answers; `fdb/show` lists every
/// container MAC on its OpenFlow port and the bridge's as LOCAL; `dpctl/show` (also as the
/// standalone `ovs-dpctl show`) lists every port with `label` after it (`""` for system
/// ports, e.g. `" (afxdp)"`).
pub fn ping_each_other_and_the_bridge(lan: &Lan, label: &str) {
    let n = lan.containers.len();
    for a in 0..n {
        for b in a + 1..n {
            assert!(lan.ping(a, &lan.ip(b)), "ping {a}->{b}\n{}", lan.rvsd.log());
        }
    }
    assert!(lan.ping(0, &lan.br_ip()), "ping bridge internal IP");
    let fdb = lan.rvsd.appctl_ok(&["fdb/show", "br0"]);
    assert!(
        fdb.starts_with(" port  VLAN  MAC                Age\n"),
        "{fdb}"
    );
    for (i, c) in lan.containers.iter().enumerate() {
        let mac = c.mac("eth0");
        let line = fdb
            .lines()
            .find(|l| l.contains(&mac))
            .unwrap_or_else(|| panic!("{mac} missing:\n{fdb}"));
        assert_eq!(
            line.split_whitespace().next(),
            Some((i + 1).to_string().as_str()),
            "{fdb}"
        );
    }
    let br_mac = lan.sw.mac("br0");
    assert!(
        fdb.lines()
            .any(|l| l.starts_with("LOCAL") && l.contains(&br_mac)),
        "{fdb}"
    );
    // The two outputs are equal unless a frame (a late ARP, an IPv6 probe) moved the lookup
    // counters between the two calls: retry a few times before calling it a difference.
    let (mut show, mut standalone) = (String::new(), String::new());
    for _ in 0..5 {
        show = lan.rvsd.appctl_ok(&["dpctl/show"]);
        let o = lan.rvsd.dpctl(&["show"]);
        assert!(o.status.success());
        standalone = String::from_utf8_lossy(&o.stdout).into_owned();
        if standalone == show {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(standalone, show);
    assert!(
        show.starts_with("netdev@ovs-netdev:\n  lookups: hit:"),
        "{show}"
    );
    assert!(show.contains("port 1: br0 (tap)"), "{show}");
    for (i, p) in lan.ports.iter().enumerate() {
        assert!(
            show.contains(&format!("port {}: {p}{label}\n", i + 2)),
            "{show}"
        );
    }
    let show_s = lan.rvsd.appctl_ok(&["dpctl/show", "-s"]);
    assert!(
        show_s.contains("    RX packets:") && show_s.contains("    collisions:0"),
        "{show_s}"
    );
}

/// TCP from `client` to `server_ip` (in `server`) with default offloads: iperf3 for
/// `secs` seconds (more than 10 Mbit/s), a 10 MB HTTP download whose sha256 matches, and
/// `TcpInCsumErrors` 0 on both ends. `name` labels the failure messages.
pub fn tcp_with_default_offloads(
    name: &str,
    client: &Netns,
    server: &Netns,
    server_ip: &str,
    secs: u32,
) {
    let ok = client.wait_until(Duration::from_secs(5), |c| {
        c.try_exec(["ping", "-c", "1", "-W", "1", server_ip])
            .map(|o| o.status.success())
            .unwrap_or(false)
    });
    assert!(ok, "{name}: ping {server_ip}");
    server.exec(["nstat", "-n"]);
    client.exec(["nstat", "-n"]);
    let _srv = server.spawn(["iperf3", "-s", "-1"]);
    std::thread::sleep(Duration::from_millis(300));
    let out = client.exec(["iperf3", "-c", server_ip, "-t", &secs.to_string(), "-J"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let bps = v["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .unwrap_or(0.0);
    eprintln!("{name}: iperf3 through rvs: {:.2} Gbit/s", bps / 1e9);
    assert!(bps > 1e7, "{name}: TCP throughput {bps} bit/s");
    http_download(name, client, server, server_ip);
    assert_no_tcp_csum_errors(name, &[("receiver", server), ("sender", client)]);
}

/// A 10 MB HTTP download by `client` from `python3 -m http.server` on `server_ip` (in
/// `server`), whose sha256 must match. Returns the seconds the download took.
pub fn http_download(name: &str, client: &Netns, server: &Netns, server_ip: &str) -> f64 {
    let www = TempDir::new("www");
    let data: Vec<u8> = (0..10 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(www.0.join("blob"), &data).unwrap();
    let _http = server.spawn([
        "python3",
        "-m",
        "http.server",
        "8088",
        "--bind",
        server_ip,
        "--directory",
        &www.0.display().to_string(),
    ]);
    let url = format!("http://{server_ip}:8088/blob");
    // Wait for the server with a small range request (a timed-out big one would hide why).
    let up = client.wait_until(Duration::from_secs(10), |c| {
        c.try_exec([
            "curl",
            "-sf",
            "-m",
            "5",
            "-o",
            "/dev/null",
            "-r",
            "0-99",
            &url,
        ])
        .map(|o| o.status.success())
        .unwrap_or(false)
    });
    assert!(up, "{name}: http server reachable");
    let t = std::time::Instant::now();
    let got = client.exec(["sh", "-c", &format!("curl -sf -m 60 {url} | sha256sum")]);
    let secs = t.elapsed().as_secs_f64();
    let want = rvs_testkit::run(["sha256sum", &www.0.join("blob").display().to_string()]);
    assert_eq!(
        got.split_whitespace().next(),
        want.split_whitespace().next(),
        "{name}: sha256 of the 10 MB transfer"
    );
    secs
}

/// `TcpInCsumErrors` is 0 in every named namespace (since its last `nstat -n`).
pub fn assert_no_tcp_csum_errors(name: &str, hosts: &[(&str, &Netns)]) {
    for (who, ns) in hosts {
        assert_eq!(
            ns.nstat("TcpInCsumErrors").unwrap_or(0),
            0,
            "{name}: {who} saw bad TCP checksums"
        );
    }
}

/// Add an internal (TAP) port to br0, move it into a fresh namespace as `addr` (CIDR), and
/// return that namespace and the device name.
pub fn internal_port_in_netns(lan: &Lan, addr: &str) -> (Netns, String) {
    let ns = Netns::new("ct");
    let tap = rvs_testkit::unique_ifname("int");
    lan.rvsd.add_port("br0", &tap, "internal", &[]);
    assert!(lan.sw.wait_until(Duration::from_secs(5), |ns| ns
        .try_exec(["ip", "link", "show", &tap])
        .map(|o| o.status.success())
        .unwrap_or(false)));
    lan.sw.exec(["ip", "link", "set", &tap, "netns", ns.name()]);
    ns.set_addr(&tap, addr);
    (ns, tap)
}
