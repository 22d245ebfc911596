//! rvsd as a drop-in ovs-vswitchd, driven by Debian's real OVS components (root only):
//! ovsdb-server holds the configuration, `/usr/bin/ovs-vsctl` (without `--no-wait`),
//! `/usr/bin/ovs-appctl` (default target), `ovsdb-client`, the Python IDL
//! (`python3-openvswitch`) and `ovs-docker` manage rvsd exactly as they manage OVS.
//! Failures are injected by killing ovsdb-server or rvsd with SIGKILL under traffic.

mod common;

use common::{suite, TempDir, RVSD};
use rvs_testkit::{
    docker_stand_in, output_text as out_text, skip_unless_tools, unique_ifname, wait_for, Netns,
    OvsdbServer,
};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const TOOLS: &[&str] = &[
    "ovsdb-tool",
    "ovsdb-server",
    "ovs-vsctl",
    "ovs-appctl",
    "ovsdb-client",
    "python3",
    "curl",
    "ping",
];

fn kill_child(c: &mut Option<Child>, signal: &str) {
    if let Some(mut child) = c.take() {
        let _ = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A switch "host": a netns running Debian's ovsdb-server (the kit's `OvsdbServer`) and rvsd
/// in vswitchd mode, with OVS's directory layout under a temp dir (`OVS_RUNDIR`,
/// `OVS_LOGDIR`, `OVS_DBDIR`), and containers on veths whose switch ends are free to add as
/// ports.
struct Host {
    // Drop order: rvsd (in `drop`), ovsdb-server, then containers and the switch netns, then
    // the directory.
    rvsd: Option<Child>,
    ovsdb: OvsdbServer,
    containers: Vec<Netns>,
    ports: Vec<String>,
    sw: Netns,
    dir: TempDir,
    subnet: u8,
}

impl Drop for Host {
    fn drop(&mut self) {
        kill_child(&mut self.rvsd, "-TERM");
    }
}

impl Host {
    fn new(subnet: u8, n: usize) -> Host {
        let sw = Netns::new("vsw");
        sw.quiet_switch_stack().unwrap();
        let dir = TempDir::new("vsw");
        let ovsdb = OvsdbServer::try_create(Some(&sw), &dir.0).unwrap();
        ovsdb.try_start().unwrap();
        let mut h = Host {
            rvsd: None,
            ovsdb,
            containers: vec![],
            ports: vec![],
            sw,
            dir,
            subnet,
        };
        h.vsctl_ok(&["--no-wait", "init"]);
        h.start_rvsd();
        for i in 0..n {
            h.add_container(i);
        }
        h
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.0.join(rel)
    }

    fn db(&self) -> String {
        self.ovsdb.remote()
    }

    /// A Debian OVS program with this host's directories in its environment.
    fn ovs_cmd(&self, prog: &str) -> Command {
        self.ovsdb.ovs_command(prog)
    }

    /// The same, run inside the switch netns.
    fn ovs_in_ns(&self, prog: &str) -> Command {
        self.ovsdb.ovs_command_in_ns(prog)
    }

    /// rvsd as ovs-vswitchd: DATABASE argument, bare --pidfile and --log-file (OVS's defaults
    /// under OVS_RUNDIR/OVS_LOGDIR), OVS-style -v specs.
    fn start_rvsd(&mut self) {
        self.rvsd = Some(self.spawn_rvsd(&self.path("run"), "ovs-vswitchd.log"));
        self.wait_log("acquired lock ovs_vswitchd", "ovs-vswitchd.log");
    }

    fn spawn_rvsd(&self, rundir: &Path, log: &str) -> Child {
        self.ovs_in_ns(RVSD)
            .arg(self.db())
            .arg(format!("--rundir={}", rundir.display()))
            .arg("--pidfile")
            .arg(format!(
                "--log-file={}",
                self.path(&format!("log/{log}")).display()
            ))
            .args(["-vconsole:emer", "-vfile:dbg", "--no-chdir"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(&format!("log/{name}"))).unwrap_or_default()
    }

    fn wait_log(&self, what: &str, name: &str) {
        let t = Instant::now();
        while !self.log(name).contains(what) {
            assert!(
                t.elapsed() < Duration::from_secs(15),
                "no \"{what}\" in {name}:\n{}",
                self.log(name)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Debian's ovs-vsctl against this database; without --no-wait it waits for rvsd.
    fn vsctl(&self, args: &[&str]) -> Output {
        self.ovsdb.vsctl(args)
    }

    fn vsctl_ok(&self, args: &[&str]) -> String {
        let o = self.vsctl(args);
        assert!(
            o.status.success(),
            "ovs-vsctl {args:?}: {}\nrvsd log:\n{}",
            out_text(&o),
            self.log("ovs-vswitchd.log")
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Debian's ovs-appctl with its default target (RUNDIR/ovs-vswitchd.pid).
    fn appctl(&self, args: &[&str]) -> Output {
        self.ovs_cmd("ovs-appctl").args(args).output().unwrap()
    }

    fn add_container(&mut self, i: usize) {
        let c = Netns::new("vc");
        let p = unique_ifname("vp");
        self.sw.add_veth(&p, &c, "eth0");
        c.set_addr("eth0", &self.ip(i));
        self.containers.push(c);
        self.ports.push(p);
    }

    fn ip(&self, i: usize) -> String {
        format!("10.78.{}.{}/24", self.subnet, 10 + i)
    }

    fn addr(&self, i: usize) -> String {
        format!("10.78.{}.{}", self.subnet, 10 + i)
    }

    fn ping(&self, from: usize, to: &str) -> bool {
        self.containers[from]
            .try_exec(["ping", "-c", "2", "-i", "0.2", "-W", "2", to])
            .is_ok_and(|o| o.status.success())
    }

    /// br0 with every container's port, configured through ovs-vsctl (waiting for rvsd).
    fn bridge_with_ports(&self) {
        self.vsctl_ok(&["add-br", "br0"]);
        for p in &self.ports {
            self.vsctl_ok(&["add-port", "br0", p]);
        }
        self.sw
            .set_addr("br0", &format!("10.78.{}.1/24", self.subnet));
    }

    fn get(&self, args: &[&str]) -> String {
        let mut a = vec!["get"];
        a.extend(args);
        self.vsctl_ok(&a).trim().to_string()
    }

    /// Poll `f` for up to `secs`.
    fn wait(&self, secs: u64, f: impl FnMut() -> bool) -> bool {
        wait_for(Duration::from_secs(secs), f)
    }
}

#[test]
fn real_ovs_tools_manage_rvsd() {
    if skip_unless_tools("real_ovs_tools_manage_rvsd", TOOLS) {
        return;
    }
    let h = Host::new(1, 2);
    h.bridge_with_ports();
    // Traffic: containers, the bridge's own port, and a 10 MB HTTP transfer (default
    // offloads) checked by sha256.
    assert!(h.ping(0, &h.addr(1)), "{}", h.log("ovs-vswitchd.log"));
    assert!(h.ping(1, &format!("10.78.{}.1", h.subnet)));
    suite::http_download("vswitchd", &h.containers[0], &h.containers[1], &h.addr(1));

    // State written back, read with the real ovs-vsctl.
    let p0 = &h.ports[0];
    let ofport: i64 = h.get(&["interface", p0, "ofport"]).parse().unwrap();
    assert!(ofport >= 1, "ofport {ofport}");
    assert_eq!(h.get(&["interface", "br0", "ofport"]), "65534");
    let mac = h.sw.mac(p0);
    assert_eq!(
        h.get(&["interface", p0, "mac_in_use"]),
        format!("\"{mac}\"")
    );
    assert_eq!(h.get(&["interface", p0, "link_state"]), "up");
    assert_eq!(h.get(&["interface", p0, "error"]), "[]");
    // Statistics come every 5 s (the key is absent until the first write).
    assert!(
        h.wait(12, || {
            let o = h.vsctl(&["get", "interface", p0, "statistics:rx_packets"]);
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<u64>()
                .is_ok_and(|n| n > 100)
        }),
        "statistics not written: {}",
        h.get(&["interface", p0, "statistics"])
    );
    let ovs = h.vsctl_ok(&["list", "open_vswitch", "."]);
    for want in [
        "ovs_version         : \"3.1.0\"",
        "datapath_types      : [netdev, system]",
        "dpdk_initialized    : false",
    ] {
        assert!(ovs.contains(want), "{want} missing:\n{ovs}");
    }
    let cur = h.get(&["open_vswitch", ".", "cur_cfg"]);
    assert_eq!(cur, h.get(&["open_vswitch", ".", "next_cfg"]));
    assert!(h.get(&["bridge", "br0", "datapath_id"]).len() == 18);

    // A port that cannot be set up: OVS's message, error column, ofport -1.
    let o = h.vsctl(&["add-port", "br0", "nosuch0"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(
            "Error detected while setting up 'nosuch0': could not open network device nosuch0 (No such device)"
        ),
        "{}",
        out_text(&o)
    );
    assert_eq!(h.get(&["interface", "nosuch0", "ofport"]), "-1");
    assert_eq!(
        h.get(&["interface", "nosuch0", "error"]),
        "\"could not open network device nosuch0 (No such device)\""
    );

    // The same state through ovsdb-client.
    let dump = h
        .ovs_cmd("ovsdb-client")
        .args([
            "dump",
            &h.db(),
            "Open_vSwitch",
            "Interface",
            "name",
            "ofport",
        ])
        .output()
        .unwrap();
    let dump = String::from_utf8_lossy(&dump.stdout).to_string();
    assert!(
        dump.lines()
            .any(|l| l.contains(p0.as_str()) && l.contains(&ofport.to_string())),
        "{dump}"
    );

    // Debian's ovs-appctl, default target: the pidfile leads it to rvsd.
    let fdb = h.appctl(&["fdb/show", "br0"]);
    let fdb_text = String::from_utf8_lossy(&fdb.stdout);
    assert!(fdb.status.success(), "{}", out_text(&fdb));
    let c0_mac = h.containers[0].mac("eth0");
    assert!(
        fdb_text.lines().any(
            |l| l.contains(&c0_mac) && l.split_whitespace().next() == Some(&ofport.to_string())
        ),
        "{fdb_text}"
    );
    let show = h.appctl(&["dpctl/show"]);
    assert!(String::from_utf8_lossy(&show.stdout).contains(p0.as_str()));

    // rvs's own ovs-vsctl refuses, pointing at the real one.
    // (Options before the command, as OVS's ovs-vsctl requires.)
    let ours = Command::new(common::VSCTL)
        .env("RVS_RUNDIR", "/nonexistent")
        .arg(format!(
            "--db=unix:{}",
            std::fs::read_dir(h.path("run"))
                .unwrap()
                .flatten()
                .map(|e| e.path())
                .find(|p| p.display().to_string().contains("ovs-vswitchd.")
                    && p.extension().is_some_and(|x| x == "ctl"))
                .unwrap()
                .display()
        ))
        .arg("show")
        .output()
        .unwrap();
    assert_eq!(ours.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&ours.stderr).contains("managed through ovsdb-server"),
        "{}",
        out_text(&ours)
    );
}

/// A Python IDL client (ovsdbapp and OpenStack use this library) adds a port with its own
/// transaction and sees `ofport` appear, written by rvsd.
#[test]
fn python_idl_sees_ofport_appear() {
    if skip_unless_tools("python_idl_sees_ofport_appear", TOOLS) {
        return;
    }
    let h = Host::new(2, 1);
    h.vsctl_ok(&["add-br", "br0"]);
    let script = r#"
import sys, time
import ovs.db.idl, ovs.poller
remote, port = sys.argv[1], sys.argv[2]
helper = ovs.db.idl.SchemaHelper("/usr/share/openvswitch/vswitch.ovsschema")
helper.register_table("Open_vSwitch")
helper.register_table("Bridge")
helper.register_table("Port")
helper.register_table("Interface")
idl = ovs.db.idl.Idl(remote, helper)
def run_until(cond, secs):
    end = time.time() + secs
    while time.time() < end:
        idl.run()
        if cond():
            return True
        poller = ovs.poller.Poller()
        idl.wait(poller)
        poller.timer_wait(100)
        poller.block()
    return False
assert run_until(lambda: idl.has_ever_connected() and len(idl.tables["Bridge"].rows) == 1, 10)
br = next(iter(idl.tables["Bridge"].rows.values()))
txn = ovs.db.idl.Transaction(idl)
iface = txn.insert(idl.tables["Interface"])
iface.name = port
p = txn.insert(idl.tables["Port"])
p.name = port
p.interfaces = [iface]
br.addvalue("ports", p.uuid)
status = txn.commit_block()
assert status == ovs.db.idl.Transaction.SUCCESS, status
def ofport():
    for row in idl.tables["Interface"].rows.values():
        if row.name == port and row.ofport and row.ofport[0] > 0:
            return row.ofport[0]
    return None
assert run_until(lambda: ofport() is not None, 15), "no ofport"
print(ofport())
"#;
    // Debian's interpreter: python3-openvswitch installs the IDL for it.
    let o = h
        .ovs_cmd("/usr/bin/python3")
        .args(["-c", script, &h.db(), &h.ports[0]])
        .output()
        .unwrap();
    assert!(o.status.success(), "IDL client: {}", out_text(&o));
    let n: i64 = String::from_utf8_lossy(&o.stdout).trim().parse().unwrap();
    assert!(n >= 1);
    assert_eq!(h.get(&["interface", &h.ports[0], "ofport"]), n.to_string());
}

/// Debian's unchanged ovs-docker, using the real ovs-vsctl, wires containers to rvsd.
#[test]
fn ovs_docker_with_the_real_ovs_vsctl() {
    if skip_unless_tools(
        "ovs_docker_with_the_real_ovs_vsctl",
        &["ovs-docker", "uuidgen", "ovsdb-server", "ovs-vsctl"],
    ) {
        return;
    }
    let h = Host::new(3, 0);
    h.vsctl_ok(&["add-br", "br-int"]);
    let (n1, n2) = (Netns::new("dk1"), Netns::new("dk2"));
    let p1 = n1.spawn(["sleep", "600"]);
    let p2 = n2.spawn(["sleep", "600"]);
    let bin = h.path("bin");
    docker_stand_in(&bin, &[("c1", p1.id()), ("c2", p2.id())]).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let ovs_docker = |args: &[&str]| {
        let o = h
            .ovs_in_ns("/usr/bin/ovs-docker")
            .args(args)
            .env("PATH", &path)
            .output()
            .unwrap();
        assert!(o.status.success(), "ovs-docker {args:?}: {}", out_text(&o));
    };
    ovs_docker(&[
        "add-port",
        "br-int",
        "eth1",
        "c1",
        "--ipaddress=10.67.0.1/24",
    ]);
    ovs_docker(&[
        "add-port",
        "br-int",
        "eth1",
        "c2",
        "--ipaddress=10.67.0.2/24",
    ]);
    assert!(
        n1.try_exec(["ping", "-c", "2", "-i", "0.2", "-W", "2", "10.67.0.2"])
            .is_ok_and(|o| o.status.success()),
        "{}",
        h.log("ovs-vswitchd.log")
    );
    let ports = h.vsctl_ok(&["list-ports", "br-int"]);
    assert_eq!(ports.lines().count(), 2, "{ports}");
    ovs_docker(&["del-ports", "br-int", "c1"]);
    ovs_docker(&["del-ports", "br-int", "c2"]);
    assert_eq!(h.vsctl_ok(&["list-ports", "br-int"]), "");
    drop((p1, p2));
}

/// ovsdb-server killed with SIGKILL and restarted under a 20 pps ping: forwarding goes on
/// with the last configuration, rvsd reconnects and resynchronises, and a port added after
/// the restart forwards.
#[test]
fn ovsdb_server_crash_keeps_forwarding() {
    if skip_unless_tools("ovsdb_server_crash_keeps_forwarding", TOOLS) {
        return;
    }
    let h = Host::new(4, 3);
    h.vsctl_ok(&["add-br", "br0"]);
    for p in &h.ports[..2] {
        h.vsctl_ok(&["add-port", "br0", p]);
    }
    assert!(h.ping(0, &h.addr(1)));
    let ping = h.containers[0].spawn([
        "sh",
        "-c",
        &format!(
            "ping -i 0.05 -c 120 -W 1 {} > {}/ping.txt",
            h.addr(1),
            h.dir.0.display()
        ),
    ]);
    std::thread::sleep(Duration::from_millis(1000));
    h.ovsdb.kill9();
    std::thread::sleep(Duration::from_millis(1500));
    h.ovsdb.try_start().unwrap();
    drop(ping);
    // Wait for the ping to finish (6 s of 20 pps).
    let out = h.path("ping.txt");
    assert!(h.wait(15, || std::fs::read_to_string(&out)
        .is_ok_and(|s| s.contains("packet loss"))));
    let summary = std::fs::read_to_string(&out).unwrap();
    let received: u32 = summary
        .split(", ")
        .find_map(|s| s.strip_suffix(" received"))
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    assert!(
        received >= 114,
        "forwarding stopped with ovsdb-server:\n{summary}"
    );
    // rvsd reconnects, and configuration made after the restart applies.
    h.wait_log("full database resync", "ovs-vswitchd.log");
    let log = h.log("ovs-vswitchd.log");
    assert!(log.contains("reconnecting in"), "{log}");
    h.vsctl_ok(&["add-port", "br0", &h.ports[2]]);
    assert!(h.ping(2, &h.addr(0)), "{}", h.log("ovs-vswitchd.log"));
}

/// rvsd killed with SIGKILL and started again: it takes its configuration from the database
/// and forwarding comes back; a second rvsd on the same database waits for the lock and
/// configures nothing until the first is gone.
#[test]
fn rvsd_crash_restart_and_the_lock() {
    if skip_unless_tools("rvsd_crash_restart_and_the_lock", TOOLS) {
        return;
    }
    let mut h = Host::new(5, 2);
    h.bridge_with_ports();
    assert!(h.ping(0, &h.addr(1)));
    kill_child(&mut h.rvsd, "-KILL");
    h.start_rvsd();
    assert!(
        h.wait(10, || h.ping(0, &h.addr(1))),
        "forwarding after the restart\n{}",
        h.log("ovs-vswitchd.log")
    );
    assert!(
        h.sw.try_exec(["ip", "link", "show", "br0"])
            .is_ok_and(|o| o.status.success()),
        "the bridge's TAP port is back"
    );

    // A second switch daemon on the same database (its own run directory).
    let rundir2 = h.path("run2");
    std::fs::create_dir_all(&rundir2).unwrap();
    let mut second = Some(h.spawn_rvsd(&rundir2, "second.log"));
    h.wait_log("waiting for lock ovs_vswitchd", "second.log");
    std::thread::sleep(Duration::from_secs(1));
    let log2 = h.log("second.log");
    assert!(
        !log2.contains("added interface") && !log2.contains("created bridge"),
        "the second daemon configured while the first held the lock:\n{log2}"
    );
    // The first goes away: the second takes over and forwards.
    kill_child(&mut h.rvsd, "-TERM");
    h.wait_log("acquired lock ovs_vswitchd", "second.log");
    h.wait_log("added interface", "second.log");
    assert!(
        h.wait(10, || h.ping(0, &h.addr(1))),
        "forwarding by the second daemon\n{}",
        h.log("second.log")
    );
    kill_child(&mut second, "-TERM");
}
