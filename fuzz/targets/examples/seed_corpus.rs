//! Writes the seed corpora into `fuzz/corpus/<target>/` from real material:
//! - `pipeline`, `gre_decap`: the frames of the GRE captures taken from real OVS 3.1
//!   (`datapath/testdata/gre-*.pcap`): their inner frames as traffic on switch ports, their
//!   outer IPv4 + GRE packets on the tunnel port, plus VLAN-tagged and hostile variants;
//! - `vsctl_argv`: every command line of the engine's unit tests (`control/src/vsctl/tests.rs`)
//!   and the forms OVS's `ovs-docker` and host-setup scripts use;
//! - `control_request`: unixctl requests as `ovs-appctl` and rvs's `ovs-vsctl` send them;
//! - `conf_loader`: `conf.json` files made by running command lines through the engine;
//! - `ovsdb_client`: the real ovsdb-server conversations of `control/testdata/ovsdb/`
//!   (schema, lock, the three monitor methods and their updates, resync, transact results),
//!   with request and monitor ids renumbered for the target's session.
//!
//! Files are named by a hash of their contents, so running it again adds nothing twice.
//! Run: `cargo run -p rvs-fuzz-targets --example seed_corpus`.

use rvs_control::ovsdb::Database;
use rvs_control::store;
use rvs_control::vsctl::{self, NoStatus};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("fuzz/targets has a parent")
        .to_path_buf()
}

fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

struct Writer {
    written: usize,
    bytes: usize,
}

impl Writer {
    fn put(&mut self, target: &str, tag: &str, data: &[u8]) {
        let dir = root().join("corpus").join(target);
        std::fs::create_dir_all(&dir).expect("create corpus directory");
        let path = dir.join(format!("{tag}-{:016x}", fnv(data)));
        if !path.exists() {
            std::fs::write(&path, data).expect("write corpus file");
            self.written += 1;
            self.bytes += data.len();
        }
    }
}

/// Frames of a classic little-endian microsecond pcap file.
fn pcap_frames(d: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![];
    if d.get(0..4) != Some(&[0xd4, 0xc3, 0xb2, 0xa1][..]) {
        return out;
    }
    let mut off = 24;
    while off + 16 <= d.len() {
        let caplen = u32::from_le_bytes([d[off + 8], d[off + 9], d[off + 10], d[off + 11]]);
        off += 16;
        let end = (off + caplen as usize).min(d.len());
        out.push(d[off..end].to_vec());
        off = end;
    }
    out
}

/// (pcap, GRE option bits for the targets' `gre::config`: key mode 1 = fixed, 8 = csum)
const CAPTURES: [(&str, u8); 4] = [
    ("gre-plain.pcap", 0),
    ("gre-key4660.pcap", 1 << 1),
    ("gre-csum.pcap", 8),
    ("gre-key4660-csum.pcap", (1 << 1) | 8),
];

/// Inner frame of an outer Ethernet + IPv4 + GRE frame.
fn inner_of(frame: &[u8]) -> Option<&[u8]> {
    let ip = frame.get(14..)?;
    let ihl = usize::from(ip.first()? & 0x0f) * 4;
    let flags = u16::from_be_bytes([*ip.get(ihl)?, *ip.get(ihl + 1)?]);
    let gre_len = 4 + 4 * ((flags >> 15) + ((flags >> 13) & 1) + ((flags >> 12) & 1)) as usize;
    ip.get(ihl + gre_len..)
}

/// Insert an 802.1Q tag with `vid` after the MAC addresses.
fn tagged(frame: &[u8], vid: u16) -> Vec<u8> {
    let mut f = frame[..12].to_vec();
    f.extend_from_slice(&[0x81, 0x00]);
    f.extend_from_slice(&vid.to_be_bytes());
    f.extend_from_slice(&frame[12..]);
    f
}

/// A `pipeline` program under construction (see the target's module doc for the layout).
struct Program(Vec<u8>);

impl Program {
    #[allow(clippy::too_many_arguments)]
    fn new(
        h: u8,
        fdb: u8,
        aging: u8,
        placement: u8,
        vlan_bits: u16,
        tag: u16,
        gre: u8,
        key: u32,
        remote: [u8; 4],
        mtu: u16,
    ) -> Program {
        let mut v = vec![h, fdb, aging, placement];
        v.extend_from_slice(&vlan_bits.to_le_bytes());
        v.extend_from_slice(&tag.to_le_bytes());
        v.push(gre);
        v.extend_from_slice(&key.to_le_bytes());
        v.extend_from_slice(&remote);
        v.extend_from_slice(&mtu.to_le_bytes());
        Program(v)
    }
    fn burst(&mut self, port: u8, frames: &[&[u8]]) {
        for chunk in frames.chunks(32) {
            self.0
                .extend_from_slice(&[0, port, (chunk.len() - 1) as u8]);
            for f in chunk {
                self.0.extend_from_slice(&(f.len() as u16).to_le_bytes());
                self.0.extend_from_slice(f);
            }
        }
    }
    fn advance(&mut self, centis: u16) {
        self.0.push(5);
        self.0.extend_from_slice(&centis.to_le_bytes());
    }
    fn housekeeping(&mut self) {
        self.0.push(6);
    }
    fn reconfigure(&mut self, what: u8, port: u8, tag: u16) {
        self.0.extend_from_slice(&[7, what, port]);
        if what % 6 == 2 {
            self.0.extend_from_slice(&tag.to_le_bytes());
        }
    }
}

fn eth(dst: [u8; 6], src: [u8; 6], ethertype: u16, len: usize) -> Vec<u8> {
    let mut f = vec![0u8; len.max(14)];
    f[0..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&src);
    f[12..14].copy_from_slice(&ethertype.to_be_bytes());
    f
}

/// `gro`: bursts cut at real MSS values (1448 with timestamps, 1460, a jumbo 8948; IPv6 1428
/// and 1440), with and without DF and a VLAN tag; then the same with a corrupted segment, a corrupted but
/// re-checksummed one, and a missing one.
fn seed_gro(w: &mut Writer) {
    for (opts, payload, mss) in [
        (1 | 4, 20 * 1448 + 100, 1448u16),
        (0, 31 * 1460, 1460),
        (1 | 2, 60_000, 8948),
        (1 | 4, 500, 1448),
        (4 | 8, 20 * 1428 + 9, 1428),
        (2 | 8, 31 * 1440, 1440),
    ] {
        let mut v = vec![opts];
        v.extend_from_slice(&(payload as u16).to_le_bytes());
        v.extend_from_slice(&mss.to_le_bytes());
        w.put("gro", "burst", &v);
        for m in [[3, 80, 0, 0x5a], [5, 60, 0x80, 0x01], [7, 0, 0, 0]] {
            let mut x = v.clone();
            x.extend_from_slice(&m);
            w.put("gro", "mutated", &x);
        }
    }
}

fn seed_frames(w: &mut Writer) {
    let testdata = root().join("../datapath/testdata");
    for (file, bits) in CAPTURES {
        let d = std::fs::read(testdata.join(file)).expect("read capture");
        let frames = pcap_frames(&d);
        let stem = file.trim_end_matches(".pcap");
        // gre_decap: the outer packet as the raw socket returns it, remote = its source.
        for (i, f) in frames.iter().enumerate().take(8) {
            let outer = &f[14..];
            let mut v = vec![0x80 | bits];
            v.extend_from_slice(&4660u32.to_le_bytes());
            v.extend_from_slice(&1500u16.to_le_bytes());
            v.extend_from_slice(outer);
            w.put("gre_decap", stem, &v);
            if i == 0 {
                // The same with DF off and a small MTU (fragmenting), and a spoofed source.
                v[0] |= 64;
                v[5..7].copy_from_slice(&600u16.to_le_bytes());
                w.put("gre_decap", stem, &v);
                v[0] &= !0x80;
                w.put("gre_decap", stem, &v);
            }
        }
        // pipeline: inner frames on ports 1 and 2, outer packets on the GRE port (3).
        let src = frames[0][26..30].try_into().expect("outer source");
        let inner: Vec<&[u8]> = frames.iter().filter_map(|f| inner_of(f)).collect();
        let mut p = Program::new(0, 15, 0, 0, 0, 0, bits, 4660, src, 1500);
        for (i, pair) in inner.chunks(2).enumerate().take(6) {
            p.burst(1 + (i % 2) as u8, pair);
            p.advance(50);
        }
        let outer: Vec<&[u8]> = frames.iter().map(|f| &f[14..]).take(6).collect();
        p.burst(3, &outer);
        p.housekeeping();
        p.reconfigure(0, 2, 0);
        p.burst(1, &inner[..2]);
        w.put("pipeline", stem, &p.0);
        // Four ports with VLAN modes (trunk, access 10, native-untagged 10, trunk [0,10]),
        // tagged and untagged traffic, a small DF-clear tunnel MTU.
        let vlan_bits = 1 | (2 << 3) | (3 << 6) | (5 << 9);
        let mut p = Program::new(4, 7, 15, 0, vlan_bits, 10, bits | 64, 4660, src, 600);
        let tagged10: Vec<Vec<u8>> = inner.iter().map(|f| tagged(f, 10)).collect();
        for (i, f) in inner.iter().enumerate().take(8) {
            p.burst(1 + (i % 4) as u8, &[f, &tagged10[i]]);
        }
        p.reconfigure(2, 1, 10);
        p.advance(40000);
        p.housekeeping();
        p.burst(5, &outer);
        w.put("pipeline", stem, &p.0);
    }
    // Hostile frames on a two-bridge switch: runts, truncated tags, bad sources, oversize.
    let a = [2, 0, 0, 0, 0, 0xa];
    let b = [2, 0, 0, 0, 0, 0xb];
    let runt = eth(a, b, 0x0800, 14)[..13].to_vec();
    let vlan_cut = eth(a, b, 0x8100, 16);
    let qinq_cut = {
        let mut f = eth(a, b, 0x88a8, 20);
        f[16..18].copy_from_slice(&0x8100u16.to_be_bytes());
        f
    };
    let mcast_src = eth(b, [1, 0, 0x5e, 0, 0, 1], 0x0800, 60);
    let bcast_src = eth(b, [0xff; 6], 0x0800, 60);
    let zero_src = eth(b, [0; 6], 0x0800, 60);
    let big = eth(b, a, 0x0800, 9000);
    let mut bad_ip = eth(b, a, 0x0800, 60);
    bad_ip[14] = 0x41; // IHL 1
    let frames: Vec<&[u8]> = vec![
        &runt, &vlan_cut, &qinq_cut, &mcast_src, &bcast_src, &zero_src, &big, &bad_ip,
    ];
    let mut p = Program::new(5, 3, 0, 0b0110, 0, 0, 0, 0, [0; 4], 1500);
    p.burst(1, &frames);
    p.burst(2, &frames);
    p.burst(0, &frames);
    w.put("pipeline", "hostile", &p.0);
    // A small MAC flood into one port of a table of 8, with a host on port 2.
    let mut p = Program::new(2, 7, 0, 0, 0, 0, 0, 0, [0; 4], 1500);
    p.burst(2, &[&eth(a, b, 0x0800, 60)]);
    let flood: Vec<Vec<u8>> = (0..64u8)
        .map(|i| eth(b, [2, 0, 0, 1, 0, i], 0x0800, 60))
        .collect();
    let refs: Vec<&[u8]> = flood.iter().map(Vec::as_slice).collect();
    p.burst(1, &refs);
    p.burst(3, &[&eth(b, a, 0x0800, 60)]);
    w.put("pipeline", "flood", &p.0);
}

/// The engine unit tests' command lines (single quotes group words, as there).
fn test_command_lines() -> Vec<Vec<String>> {
    let src = std::fs::read_to_string(root().join("../control/src/vsctl/tests.rs"))
        .expect("read vsctl tests");
    let mut out = vec![];
    for m in ["exec(", "exec_st(", "ok(", "out("] {
        for (i, _) in src.match_indices(m) {
            // `NAME(&cfg, "…"`: a word boundary before, an identifier and a string literal.
            let before = src[..i].chars().next_back().unwrap_or(' ');
            if before.is_alphanumeric() || before == '_' {
                continue;
            }
            let rest = src[i + m.len()..].trim_start();
            let rest = rest.strip_prefix('&').unwrap_or(rest);
            let ident = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(0);
            let Some(rest) = rest[ident..].strip_prefix(',') else {
                continue;
            };
            let Some(body) = rest.trim_start().strip_prefix('"') else {
                continue;
            };
            let mut s = String::new();
            let mut esc = false;
            for c in body.chars() {
                match (esc, c) {
                    (true, c) => {
                        s.push(c);
                        esc = false;
                    }
                    (false, '\\') => esc = true,
                    (false, '"') => break,
                    (false, c) => s.push(c),
                }
            }
            out.push(rvs_testkit::shell_words(&s));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// What `ovs-docker` and host-setup scripts run.
const SCRIPT_LINES: &[&str] = &[
    "--timeout=5 --may-exist add-br br0",
    "--timeout=5 br-exists br0",
    "--may-exist add-port br0 a1b2c3d4_l -- set interface a1b2c3d4_l external_ids:container_id=c1 external_ids:container_iface=eth0",
    "--data=bare --no-heading --columns=name find interface external_ids:container_id=c1 external_ids:container_iface=eth0",
    "--timeout=5 set port a1b2c3d4_l tag=5",
    "--if-exists del-port a1b2c3d4_l",
    "del-br br0",
    "add-br br0",
    "add-port br0 gre0 -- set interface gre0 type=gre options:remote_ip=10.201.0.2",
    "add-port br0 gre1 -- set interface gre1 type=gre options:remote_ip=10.201.0.3 options:key=4660 options:csum=true",
    "set bridge br0 other_config:mac-aging-time=15 other_config:mac-table-size=64",
    "add-port br0 vm1 -- set interface vm1 type=internal",
    "set port p1 vlan_mode=native-untagged tag=7 trunks=7,8",
];

fn words(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_string).collect()
}

fn nul_joined(args: &[String]) -> Vec<u8> {
    args.join("\0").into_bytes()
}

fn seed_control(w: &mut Writer, lines: &[Vec<String>]) {
    let req = |method: &str, params: &[&str], id: u32| {
        serde_json::json!({"method": method, "params": params, "id": id}).to_string()
    };
    let appctl: &[(&str, &[&str])] = &[
        ("version", &[]),
        ("list-commands", &[]),
        ("fdb/show", &["br0"]),
        ("fdb/flush", &[]),
        ("fdb/flush", &["br0"]),
        ("fdb/stats-show", &["br0"]),
        ("fdb/stats-clear", &["br1"]),
        ("fdb/add", &["br0", "p1", "0", "02:00:00:00:00:01"]),
        ("fdb/del", &["br0", "0", "02:00:00:00:00:01"]),
        ("dpif/show", &[]),
        ("dpctl/show", &["-s"]),
        ("dpctl/show", &["netdev@ovs-netdev"]),
        ("dpctl/dump-flows", &["-m"]),
        ("dpctl/del-flows", &[]),
        ("dpctl/dump-dps", &[]),
        ("coverage/show", &[]),
        ("dpif-netdev/pmd-stats-show", &[]),
        ("exit", &[]),
        ("fdb/show", &["nosuchbridge"]),
        ("no/such-command", &["x"]),
    ];
    for (i, (m, p)) in appctl.iter().enumerate() {
        let mut v = vec![255u8];
        v.extend_from_slice(req(m, p, i as u32).as_bytes());
        w.put("control_request", "appctl", &v);
    }
    // Debian's real ovs-appctl puts the id first.
    w.put(
        "control_request",
        "appctl",
        b"\xff{\"id\":0,\"method\":\"fdb/show\",\"params\":[\"br0\"]}",
    );
    for (i, args) in lines.iter().enumerate() {
        let params: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut v = vec![(i % 7) as u8 * 37];
        v.extend_from_slice(req("rvs/vsctl", &params, 0).as_bytes());
        w.put("control_request", "vsctl", &v);
    }
    // Pipelined requests, cut into 3-byte reads, then garbage.
    let mut v = vec![2u8];
    v.extend_from_slice(req("version", &[], 1).as_bytes());
    v.extend_from_slice(b"\n  ");
    v.extend_from_slice(req("fdb/show", &["br0"], 2).as_bytes());
    v.extend_from_slice(req("rvs/vsctl", &["add-port", "br0", "p9"], 3).as_bytes());
    v.extend_from_slice(b"[1,2,3]{\"method\":5}}}");
    w.put("control_request", "pipelined", &v);
}

fn seed_vsctl_and_conf(w: &mut Writer, lines: &[Vec<String>]) {
    for args in lines {
        w.put("vsctl_argv", "tests", &nul_joined(args));
    }
    // Whitespace-separated forms too.
    for l in SCRIPT_LINES.iter().take(4) {
        w.put("vsctl_argv", "ws", l.as_bytes());
    }
    // conf.json files: a fresh database, and databases built up by command lines.
    let mut db = Database::new();
    w.put("conf_loader", "new", &store::to_json_bytes(&db));
    let steps = [
        "add-br br0",
        "add-port br0 p1 -- add-port br0 p2 -- set port p2 tag=10",
        "add-port br0 gre0 -- set interface gre0 type=gre options:remote_ip=10.201.0.2 options:key=4660 options:csum=true",
        "add-br br1 -- add-port br1 vm1 -- set interface vm1 type=internal -- br-set-external-id br1 owner test",
        "set port p1 vlan_mode=native-untagged tag=7 trunks=7,8 -- set bridge br0 other_config:mac-aging-time=60",
        "set interface p1 external_ids:container_id=c1 ofport_request=9 mtu_request=1400",
    ];
    for s in steps {
        db = vsctl::execute(&db, &words(s), &NoStatus)
            .expect("seed command line")
            .db;
        w.put("conf_loader", "built", &store::to_json_bytes(&db));
    }
    // A few broken files.
    w.put(
        "conf_loader",
        "bad",
        b"{\"schema_version\": 2, \"uuid\": \"x\"}",
    );
    w.put("conf_loader", "bad", b"{\"schema_version\": 1, \"uuid\": ");
    w.put("conf_loader", "bad", b"[]");
}

/// What the server sent in a capture of `control/testdata/ovsdb/`, notifications renamed to
/// the session's monitor id `"rvs"`.
fn ovsdb_server_msgs(file: &str, client: Option<&str>) -> Vec<serde_json::Value> {
    let path = root().join("../control/testdata/ovsdb").join(file);
    let text = std::fs::read_to_string(&path).expect("read an ovsdb fixture");
    let v: serde_json::Value = serde_json::from_str(&text).expect("fixture is JSON");
    let mut out = vec![];
    for item in v["transcript"].as_array().expect("a transcript") {
        if client.is_some_and(|c| item["client"] != c) {
            continue;
        }
        if let Some(m) = item.get("recv") {
            let mut m = m.clone();
            if m["method"]
                .as_str()
                .is_some_and(|x| x.starts_with("update"))
            {
                m["params"][0] = serde_json::json!("rvs");
            }
            out.push(m);
        }
    }
    out
}

fn seed_ovsdb(w: &mut Writer) {
    use serde_json::json;
    let put = |w: &mut Writer, tag: &str, chunk: u8, flags: u8, msgs: &[serde_json::Value]| {
        let mut v = vec![chunk, flags];
        for m in msgs {
            v.extend_from_slice(m.to_string().as_bytes());
        }
        w.put("ovsdb_client", tag, &v);
    };
    let reply = |m: &serde_json::Value, id: u64| {
        let mut m = m.clone();
        m["id"] = json!(id);
        m
    };
    let granted = json!({"id": 2, "result": {"locked": true}, "error": null});
    let unknown = json!({"error": "unknown method"});
    // From the lock reply on, for each monitor method (falling back to it).
    for (i, file) in [
        "monitor_cond_since.json",
        "monitor_cond.json",
        "monitor.json",
    ]
    .iter()
    .enumerate()
    {
        let mut msgs = vec![granted.clone()];
        let id = 3 + i as u64;
        msgs.extend((3..id).map(|f| reply(&unknown, f)));
        let server = ovsdb_server_msgs(file, None);
        msgs.push(reply(&server[0], id));
        msgs.extend_from_slice(&server[1..]);
        put(w, "monitor", 255, 0, &msgs);
        put(w, "monitor", 16, 4, &msgs);
    }
    // Waiting for the lock, then granted by notification.
    let lock_b = ovsdb_server_msgs("lock.json", Some("B"));
    let waiting = vec![
        reply(&lock_b[0], 2),
        lock_b[1].clone(),
        lock_b[3].clone(),
        lock_b[1].clone(),
    ];
    put(w, "lock", 64, 0, &waiting);
    // In sync: updates, echo, lock changes, transaction replies, garbage.
    // (The in-sync session holds resync.json's first reply: its updates fit.)
    let first = ovsdb_server_msgs("resync.json", Some("first"));
    put(w, "active", 255, 1, &first[1..]);
    let echo = ovsdb_server_msgs("echo.json", Some("tcp"));
    put(
        w,
        "active",
        8,
        5,
        &[echo[1].clone(), lock_b[3].clone(), lock_b[1].clone()],
    );
    let not_owner = lock_b[4].clone();
    put(
        w,
        "txn",
        255,
        3,
        &[json!({"id": 4, "result": [{}, {"count": 1}], "error": null})],
    );
    put(w, "txn", 255, 3, &[reply(&not_owner, 4)]);
    let transact = ovsdb_server_msgs("transact.json", None);
    for r in &transact[1..] {
        put(w, "txn", 255, 3, &[reply(r, 4)]);
    }
    let mut bad = vec![2u8, 1];
    bad.extend_from_slice(
        first[1]
            .to_string()
            .replace("\"insert\"", "\"modify\"")
            .as_bytes(),
    );
    bad.extend_from_slice(b"}{\"id\":");
    w.put("ovsdb_client", "bad", &bad);
    // Drop the connection (garbage), reconnect, resynchronise from the last txn id: the new
    // connection's requests are 4 (get_schema), 5 (lock), 6 (monitor_cond_since).
    let second = ovsdb_server_msgs("resync.json", Some("second"));
    let schema = ovsdb_server_msgs("get_schema.json", None)
        .into_iter()
        .find(|m| m["result"]["tables"].is_object())
        .expect("a schema reply");
    let mut v = vec![255u8, 5];
    for m in &first[1..] {
        v.extend_from_slice(m.to_string().as_bytes());
    }
    // Pad the garbage to a read of its own.
    let read = 256;
    v.push(b'}');
    while (v.len() - 2) % read != 0 {
        v.push(b' ');
    }
    for m in [
        reply(&schema, 4),
        reply(&granted, 5),
        reply(&second[0], 6),
        second[1].clone(),
    ] {
        v.extend_from_slice(m.to_string().as_bytes());
    }
    w.put("ovsdb_client", "resync", &v);
}

/// `udp_tunnel`: VXLAN and Geneve datagrams carrying frames of the GRE captures, for tunnels
/// with key 5 from 10.201.0.2 (the target's first member when the member byte is 0x08 and the
/// key word 5): one datagram, three coalesced under their size, a Geneve one with a
/// non-critical and one with a critical option, and a bad-flags VXLAN one.
fn seed_udp_tunnel(w: &mut Writer) {
    let frames: Vec<Vec<u8>> = ["gre-plain.pcap"]
        .iter()
        .flat_map(|f| {
            pcap_frames(
                &std::fs::read(root().join("../datapath/testdata").join(f)).unwrap_or_default(),
            )
        })
        .filter_map(|f| f.get(14 + 20 + 4..).map(<[u8]>::to_vec))
        .take(3)
        .collect();
    let Some(frame) = frames.first() else { return };
    // head: kind bit, one member; member: remote 10.201.0.2, key from the next word; key 5;
    // src byte 0 (10.201.0.2); dst byte 0 (local); gso word.
    let prefix = |kind: u8, gso: u16| -> Vec<u8> {
        let mut v = vec![kind, 0x08, 5, 0, 0, 0, 0, 0];
        v.extend(gso.to_le_bytes());
        v
    };
    let vxlan = |f: &[u8], flags: u8| {
        let mut d = vec![flags, 0, 0, 0, 0, 0, 5, 0];
        d.extend_from_slice(f);
        d
    };
    let mut one = prefix(0, 0);
    one.extend(vxlan(frame, 0x08));
    w.put("udp_tunnel", "vxlan-one", &one);
    let seg = vxlan(frame, 0x08).len();
    let mut three = prefix(0, seg as u16);
    for f in &frames {
        let mut d = vxlan(f, 0x08);
        d.resize(seg.max(d.len()), 0);
        three.extend(&d[..seg]);
    }
    w.put("udp_tunnel", "vxlan-gro", &three);
    let mut bad = prefix(0, 0);
    bad.extend(vxlan(frame, 0x0c));
    w.put("udp_tunnel", "vxlan-badflags", &bad);
    for (tag, ty) in [("geneve-opt", 0x03u8), ("geneve-critical", 0x83)] {
        let mut g = prefix(1, 0);
        g.extend([0x02, 0x00, 0x65, 0x58, 0, 0, 5, 0]);
        g.extend([0x01, 0x02, ty, 0x01, 9, 9, 9, 9]);
        g.extend_from_slice(frame);
        w.put("udp_tunnel", tag, &g);
    }
}

fn main() {
    let mut w = Writer {
        written: 0,
        bytes: 0,
    };
    seed_frames(&mut w);
    seed_gro(&mut w);
    let mut lines = test_command_lines();
    lines.extend(SCRIPT_LINES.iter().map(|l| words(l)));
    seed_vsctl_and_conf(&mut w, &lines);
    seed_control(&mut w, &lines);
    seed_ovsdb(&mut w);
    seed_udp_tunnel(&mut w);
    println!(
        "wrote {} new corpus files ({} bytes) under {}",
        w.written,
        w.bytes,
        root().join("corpus").display()
    );
}
