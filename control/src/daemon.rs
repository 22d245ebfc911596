//! The rvsd daemon core: the configuration, the datapath, and the request handlers that join
//! them.
//!
//! In the embedded mode every configuration change is one `ovs-vsctl` transaction on the
//! daemon's own OVSDB database: the engine (`vsctl::execute`) commits it on a copy; the daemon
//! derives the desired configuration from the new database (`vswitchd::config_from_replica`,
//! the function the ovs-vswitchd mode uses on its replica), records what the switch reports
//! in the rows (assigned `ofport`s, `cur_cfg`), saves the database (atomically; a failed save
//! rejects the transaction and keeps the old database both on disk and in memory), then
//! reconciles the datapath with the configuration (`reconcile`). Reconciliation is
//! idempotent: it diffs the desired bridges/ports against what the datapath has, so a restart
//! with a saved database and a live change go through the same code.
//!
//! The `ovs-appctl` commands read the datapath and lay the answers out with `format`.
//!
//! Where the configuration comes from is the daemon's [`Store`]: its own database in
//! `conf.json` (the embedded mode, changed by rvs's `ovs-vsctl`), or a real ovsdb-server
//! ([`crate::vswitchd`], changed by any OVSDB client). Both produce a [`Config`] the same way
//! and go through `reconcile`. Configuration the datapath does not act on (bonds beyond their
//! first interface, mirrors, controllers, QoS, …) is reported by `crate::unsupported`: a
//! warning logged once, and the row's status or error column where OVS has one.

use crate::config::{Config, Interface};
use crate::format::{self, DpPortRow, DpSummary, DpifPortRow, FdbRow};
use crate::log::{log, Level};
use crate::ovsdb::{Atom, Database, Datum};
use crate::server::Handler;
use crate::unixctl::Request;
use crate::vsctl::{self, IfaceStatus, Status};
use crate::vswitchd::{start_only_keys, OvsdbLink};
use rvs_datapath::dpif::{Dpif, PortInfo, PortKind, PortSpec};
use rvs_datapath::flow::{Decision, FlowDump};
use rvs_datapath::tunnel::TunnelKind;
use rvs_datapath::vlan::{tag_edit, PortVlan, TagEdit};
use rvs_datapath::wire::MacAddr;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// rvs's version, reported by `version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The reply of the `rvs/vsctl` method (JSON inside the unixctl result string).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VsctlReply {
    pub stdout: String,
    pub stderr: String,
    pub exit_code: i32,
    /// A `wait-until` condition does not hold yet: nothing was done; ask again later.
    #[serde(default)]
    pub retry: bool,
}

/// Where the daemon's configuration lives.
#[derive(Debug)]
pub enum Store {
    /// `DBDIR/conf.json`, edited by rvs's own `ovs-vsctl` (the embedded mode).
    File(PathBuf),
    /// A real ovsdb-server, as ovs-vswitchd uses it.
    Ovsdb(Box<OvsdbLink>),
}

/// The daemon's state.
pub struct Daemon {
    /// The desired configuration in force.
    cfg: Config,
    /// The embedded mode's database (empty in the ovs-vswitchd mode).
    db: Database,
    store: Store,
    dp: Option<Dpif>,
    /// True until the first configuration from OVSDB was applied (the datapath may still be
    /// rebuilt then, to honour `n-pmd`/`pmd-cpu-mask`).
    pristine: bool,
    /// Unsupported settings already warned about (embedded mode).
    warned: std::collections::BTreeSet<String>,
    exit: bool,
}

impl core::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Daemon")
            .field("store", &self.store)
            .finish()
    }
}

/// A stable, locally administered MAC for a port rvs creates, derived from its row UUID so it
/// survives restarts (FNV-1a; deliberately not a randomly seeded hash).
pub fn stable_mac(uuid: &str) -> MacAddr {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in uuid.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    MacAddr::random_local(h)
}

/// Read a netdev attribute from sysfs (in the daemon's netns).
fn sysfs(name: &str, attr: &str) -> Option<String> {
    if name.contains('/') || name.starts_with('.') {
        return None;
    }
    std::fs::read_to_string(format!("/sys/class/net/{name}/{attr}"))
        .ok()
        .map(|s| s.trim().to_string())
}

/// Set the netdev's MTU to the interface's `mtu_request`, if it differs (logged either way).
fn apply_mtu_request(iface: &Interface) {
    let Some(want) = iface.mtu_request.and_then(|m| u32::try_from(m).ok()) else {
        return;
    };
    let now = sysfs(&iface.name, "mtu").and_then(|m| m.parse::<u32>().ok());
    if now.is_none_or(|n| n == want) {
        return;
    }
    match rvs_datapath::port::linux::set_mtu(&iface.name, want) {
        Ok(()) => log(
            Level::Info,
            "bridge",
            &format!("{}: MTU set to {want} (mtu_request)", iface.name),
        ),
        Err(e) => log(
            Level::Warn,
            "bridge",
            &format!("{}: cannot set MTU to {want} ({e})", iface.name),
        ),
    }
}

/// OVS's Interface `statistics` keys for a port's counters.
fn interface_statistics(st: &rvs_datapath::port::PortStats) -> BTreeMap<String, i64> {
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    [
        ("collisions", 0),
        ("rx_bytes", n(st.rx_bytes)),
        ("rx_crc_err", 0),
        ("rx_dropped", n(st.rx_dropped)),
        ("rx_errors", n(st.rx_errors)),
        ("rx_frame_err", 0),
        ("rx_missed_errors", 0),
        ("rx_over_err", n(st.rx_over_errors)),
        ("rx_packets", n(st.rx_packets)),
        ("tx_bytes", n(st.tx_bytes)),
        ("tx_dropped", n(st.tx_dropped)),
        ("tx_errors", n(st.tx_errors)),
        ("tx_packets", n(st.tx_packets)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The datapath kind of an interface type, or why it cannot be attached.
fn port_kind(iface: &Interface) -> Result<PortKind, String> {
    PortKind::from_ovs_type(&iface.type_).ok_or_else(|| {
        format!(
            "{} interfaces are not supported by this build of rvs yet",
            iface.type_
        )
    })
}

/// What the switch reports, for `ovs-vsctl` in the embedded mode and for the write-back
/// into a real ovsdb-server: the datapath's and the kernel's view of each interface, and the
/// notes about settings rvs does not act on (computed once per `DpStatus`).
struct DpStatus<'a> {
    dp: &'a Dpif,
    cfg: &'a Config,
    /// The embedded database (empty in the ovs-vswitchd mode, whose write-back adds the notes
    /// itself).
    db: &'a Database,
    notes: std::cell::OnceCell<Vec<crate::unsupported::Note>>,
}

impl<'a> DpStatus<'a> {
    fn new(dp: &'a Dpif, cfg: &'a Config, db: &'a Database) -> DpStatus<'a> {
        DpStatus {
            dp,
            cfg,
            db,
            notes: std::cell::OnceCell::new(),
        }
    }

    fn notes(&self) -> &[crate::unsupported::Note] {
        self.notes
            .get_or_init(|| crate::unsupported::notes(self.db.replica()))
    }
}

impl Status for DpStatus<'_> {
    fn column(&self, table: &str, uuid: &str, column: &str) -> Option<Datum> {
        match (table, column) {
            ("Open_vSwitch", _) => crate::vswitchd::switch_types()
                .into_iter()
                .find(|(c, _)| *c == column)
                .map(|(_, d)| d),
            (_, "status") => {
                crate::unsupported::status_column(self.db.replica(), self.notes(), table, uuid)
            }
            _ => None,
        }
    }

    fn interface(&self, name: &str) -> IfaceStatus {
        let mut st = IfaceStatus::default();
        let row = self
            .db
            .table("Interface")
            .and_then(|t| t.find("name", &Datum::scalar(Atom::Str(name.to_string()))));
        if let Some((uuid, _)) = row {
            crate::unsupported::add_to_status(self.notes(), "Interface", uuid, &mut st.status);
        }
        if let Some(e) = crate::unsupported::bond_member_unused(self.cfg, name) {
            st.error = Some(e);
            st.ofport_ok = false;
            return st;
        }
        match self.dp.port_info(name) {
            Some(p) => {
                st.error = p.error.clone();
                st.ofport_ok = p.error.is_none();
                st.statistics = interface_statistics(&p.stats);
                if p.kind == PortKind::Afxdp && p.backend == rvs_datapath::dpif::AFXDP_FALLBACK {
                    let why = p.note.as_deref().unwrap_or("AF_XDP unavailable");
                    st.status.insert(
                        "afxdp".into(),
                        format!("{why}, using AF_PACKET (xdp-mode best-effort)"),
                    );
                }
            }
            None => {
                if let Some((_, _, iface)) = self.cfg.interface(name) {
                    st.error = port_kind(iface).err();
                }
            }
        }
        if st.ofport_ok {
            st.mac_in_use = sysfs(name, "address").map(|m| m.to_string());
            st.mtu = sysfs(name, "mtu").and_then(|m| m.parse().ok());
            st.ifindex = sysfs(name, "ifindex").and_then(|m| m.parse().ok());
            let up = |b: bool| if b { "up" } else { "down" }.to_string();
            st.admin_state = sysfs(name, "flags")
                .and_then(|f| i64::from_str_radix(f.trim_start_matches("0x"), 16).ok())
                .map(|f| up(f & i64::from(libc::IFF_UP) != 0));
            st.link_state = sysfs(name, "carrier").map(|c| up(c == "1"));
            if let Some(drv) = sysfs(name, "device/driver").or_else(|| {
                std::fs::read_link(format!("/sys/class/net/{name}/device/driver"))
                    .ok()
                    .map(|p| p.display().to_string())
            }) {
                st.status.insert("driver_name".into(), drv);
            }
        }
        st
    }
}

impl Daemon {
    /// Take ownership of a loaded database and a started datapath, and make the datapath
    /// match (embedded mode).
    pub fn new(mut db: Database, dbdir: PathBuf, dp: Dpif) -> Daemon {
        let loaded = db.clone();
        let cfg = desired(&mut db);
        if db != loaded {
            // What the switch reports (ofports, cur_cfg) is part of the database: keep the
            // file equal to memory; a read-only directory only delays it to the next change.
            if let Err(e) = crate::store::save(&db, &dbdir) {
                log(
                    Level::Warn,
                    "bridge",
                    &format!("cannot update the database: {e}"),
                );
            }
        }
        let mut d = Daemon {
            cfg,
            db,
            store: Store::File(dbdir),
            dp: Some(dp),
            pristine: false,
            warned: Default::default(),
            exit: false,
        };
        d.reconcile();
        crate::unsupported::log_new(d.db.replica(), &mut d.warned);
        d
    }

    /// A daemon configured from ovsdb-server through `link`. It starts with an empty
    /// configuration on `dp` and applies the database's once it holds the lock.
    pub fn with_ovsdb(link: OvsdbLink, dp: Dpif) -> Daemon {
        Daemon {
            cfg: Config::new(),
            db: Database::new(),
            store: Store::Ovsdb(Box::new(link)),
            dp: Some(dp),
            pristine: true,
            warned: Default::default(),
            exit: false,
        }
    }

    /// Apply a configuration that came from ovsdb-server, then write state back.
    fn sync_ovsdb(&mut self) {
        let desired = match &mut self.store {
            Store::Ovsdb(link) => link.take_desired(),
            Store::File(_) => return,
        };
        if let Some(cfg) = desired {
            if self.pristine {
                self.pristine = false;
                // Nothing is attached yet: PMD settings from the database still apply.
                let want = dpif_config(&cfg);
                if want != dpif_config(&self.cfg) {
                    match Dpif::new(&want) {
                        Ok(dp) => {
                            if let Some(old) = self.dp.replace(dp) {
                                old.shutdown();
                            }
                        }
                        Err(e) => log(Level::Err, "bridge", &format!("cannot start datapath: {e}")),
                    }
                }
            } else {
                for k in start_only_keys(&self.cfg.other_config, &cfg.other_config) {
                    log(
                        Level::Warn,
                        "bridge",
                        &format!("other_config:{k} changed: it takes effect when rvsd restarts"),
                    );
                }
            }
            if cfg != self.cfg {
                self.cfg = cfg;
                self.reconcile();
                self.dp().revalidate();
            }
            if let Store::Ovsdb(link) = &mut self.store {
                link.mark_dirty();
            }
        }
        self.write_back();
    }

    /// Write the datapath's state into the database (OVSDB mode; no-op otherwise).
    fn write_back(&mut self) {
        let (Store::Ovsdb(link), Some(dp)) = (&mut self.store, self.dp.as_ref()) else {
            return;
        };
        let status = DpStatus::new(dp, &self.cfg, &self.db);
        link.write_back(
            &self.cfg,
            &|name| status.interface(name),
            &|br| sysfs(br, "address"),
            std::time::Instant::now(),
        );
    }

    fn dp(&self) -> &Dpif {
        self.dp.as_ref().expect("datapath lives until shutdown")
    }

    fn dp_mut(&mut self) -> &mut Dpif {
        self.dp.as_mut().expect("datapath lives until shutdown")
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The embedded database (empty in the ovs-vswitchd mode).
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Stop the datapath: PMDs stop, TAP devices rvs created go away. The config stays.
    pub fn shutdown(&mut self) {
        if let Some(dp) = self.dp.take() {
            dp.shutdown();
        }
    }

    /// Make the datapath match the configuration.
    pub fn reconcile(&mut self) {
        let cfg = self.cfg.clone();
        let dp = self.dp_mut();
        // Desired ports: interface name -> (bridge, spec).
        let mut want: BTreeMap<String, (String, PortSpec)> = BTreeMap::new();
        for br in &cfg.bridges {
            for port in &br.ports {
                // A bond forwards through its first interface only (see `unsupported`).
                for iface in port.interfaces.iter().take(1) {
                    if let Ok(kind) = port_kind(iface) {
                        // A requested `mac` wins; otherwise one derived from the row's UUID.
                        let mac = matches!(kind, PortKind::Internal | PortKind::Tap).then(|| {
                            iface
                                .mac
                                .as_deref()
                                .and_then(|m| m.parse().ok())
                                .unwrap_or_else(|| stable_mac(&iface.uuid))
                        });
                        want.insert(
                            iface.name.clone(),
                            (
                                br.name.clone(),
                                PortSpec {
                                    name: iface.name.clone(),
                                    kind,
                                    mac,
                                    options: iface.options.clone(),
                                },
                            ),
                        );
                    }
                }
            }
        }
        for p in dp.ports() {
            let keep = want
                .get(&p.name)
                .is_some_and(|(b, s)| *b == p.bridge && s.kind == p.kind && s.options == p.options);
            if !keep {
                log(
                    Level::Info,
                    "bridge",
                    &format!("deleted interface {} on port {}", p.name, p.port_no),
                );
                let _ = dp.del_port(&p.name);
            }
        }
        let fast = cfg
            .other_config
            .get("hw-offload")
            .map_or(FASTPATH_DEFAULT, |v| v == "true");
        match dp.set_fastpath(fast) {
            Ok(true) if fast => log(Level::Info, "netdev_offload", "kernel fast path enabled"),
            Ok(true) => log(Level::Info, "netdev_offload", "kernel fast path disabled"),
            Ok(false) => {}
            Err(e) => log(
                Level::Warn,
                "netdev_offload",
                &format!("kernel fast path unavailable, forwarding in userspace only: {e}"),
            ),
        }
        let have: Vec<String> = dp.bridges();
        for b in &have {
            if !cfg.bridges.iter().any(|x| &x.name == b) {
                log(Level::Info, "bridge", &format!("deleted bridge {b}"));
                let _ = dp.del_bridge(b);
            }
        }
        for br in &cfg.bridges {
            if !have.contains(&br.name) {
                log(
                    Level::Info,
                    "bridge",
                    &format!("created bridge {}", br.name),
                );
                let _ = dp.add_bridge(&br.name);
            }
            let size = br
                .other_config
                .get("mac-table-size")
                .and_then(|v| v.parse::<usize>().ok());
            let aging = br
                .other_config
                .get("mac-aging-time")
                .and_then(|v| v.parse::<u32>().ok());
            let _ = dp.set_fdb_params(
                &br.name,
                size,
                Some(aging.unwrap_or(rvs_datapath::fdb::DEFAULT_AGING_SECS)),
            );
        }
        for (name, (br, spec)) in want {
            if dp.port_info(&name).is_none() {
                match dp.add_port(&br, spec) {
                    Ok(p) => match &p.error {
                        None => log(
                            // A fallback (AF_XDP → AF_PACKET) is worth a warning.
                            if p.note.is_some() {
                                Level::Warn
                            } else {
                                Level::Info
                            },
                            "bridge",
                            &match &p.note {
                                None => format!(
                                    "added interface {name} on port {} ({})",
                                    p.port_no, p.backend
                                ),
                                Some(n) => format!(
                                    "added interface {name} on port {} ({}: {n})",
                                    p.port_no, p.backend
                                ),
                            },
                        ),
                        Some(e) => log(Level::Warn, "bridge", &format!("{name}: {e}")),
                    },
                    Err(e) => log(Level::Err, "bridge", &format!("{name}: {e}")),
                }
                if let Some(Some(Err(e))) = dp.port_info(&name).map(|p| p.fastpath) {
                    log(Level::Warn, "netdev_offload", &e);
                }
            }
        }
        // VLAN modes and requested MTUs of every attached port.
        for br in &cfg.bridges {
            for port in &br.ports {
                let vlan = PortVlan::from_ovs(port.vlan_mode.as_deref(), port.tag, &port.trunks);
                for iface in &port.interfaces {
                    if dp.port_info(&iface.name).is_some() {
                        let _ = dp.set_port_vlan(&iface.name, vlan.clone());
                    }
                    apply_mtu_request(iface);
                }
            }
        }
    }

    /// Run one `ovs-vsctl` invocation (argv without the program name).
    pub fn vsctl(&mut self, args: &[String]) -> VsctlReply {
        let reply = |stdout: String, stderr: String, exit_code: i32| VsctlReply {
            stdout,
            stderr,
            exit_code,
            retry: false,
        };
        let dbdir = match &self.store {
            Store::File(d) => d.clone(),
            Store::Ovsdb(link) => {
                return reply(
                    String::new(),
                    format!(
                        "ovs-vsctl: rvsd is managed through ovsdb-server ({}): use the ovs-vsctl of openvswitch-common (ovs-vsctl --db={})\n",
                        link.remote(),
                        link.remote()
                    ),
                    1,
                )
            }
        };
        let result = {
            let status = DpStatus::new(self.dp(), &self.cfg, &self.db);
            vsctl::execute(&self.db, args, &status)
        };
        let out = match result {
            Ok(o) => o,
            Err(e) => {
                let mut stderr = e.stderr;
                if !e.message.is_empty() {
                    stderr.push_str(&format!("ovs-vsctl: {}\n", e.message));
                }
                return reply(String::new(), stderr, e.exit_code);
            }
        };
        if out.retry {
            return VsctlReply {
                retry: true,
                ..reply(String::new(), out.stderr, 0)
            };
        }
        if out.changed {
            let mut db = out.db;
            let cfg = desired(&mut db);
            if let Err(e) = crate::store::save(&db, &dbdir) {
                log(Level::Err, "vsctl", &format!("transaction rejected: {e}"));
                return reply(
                    String::new(),
                    format!("{}ovs-vsctl: transaction error: {e}\n", out.stderr),
                    1,
                );
            }
            self.db = db;
            self.apply(cfg);
        }
        let mut stderr = out.stderr;
        let status = DpStatus::new(self.dp(), &self.cfg, &self.db);
        for name in &out.added_interfaces {
            if let Some(e) = status.interface(name).error {
                stderr.push_str(&format!("ovs-vsctl: Error detected while setting up '{name}': {e}.  See rvsd log for details.\n"));
            }
        }
        reply(out.stdout, stderr, 0)
    }

    /// Make `cfg` the configuration in force: reconcile the datapath, report what it does not
    /// act on, re-decide cached flows.
    fn apply(&mut self, cfg: Config) {
        self.cfg = cfg;
        self.reconcile();
        if let Store::File(_) = self.store {
            crate::unsupported::log_new(self.db.replica(), &mut self.warned);
        }
        self.dp().revalidate();
    }

    /// OpenFlow port number of an interface on its bridge (65534 for the bridge's own port).
    fn ofport_of(&self, name: &str) -> i64 {
        self.cfg.interface(name).map_or(-1, |(_, _, i)| i.ofport)
    }

    fn summary(&self) -> DpSummary {
        let f = self.dp().flow_stats();
        DpSummary {
            hit: f.hits,
            missed: f.misses,
            lost: 0,
            flows: f.flows,
        }
    }

    /// `dpctl/dump-flows [-m] [type=TYPES] [DP]`: one line per cached flow, grouped by PMD.
    /// `type=` keeps flows by where they run, as in OVS: `tc`/`offloaded` (the kernel fast
    /// path), `ovs`/`non-offloaded` (userspace), `all`; `dpdk` and `partially-offloaded`
    /// match nothing here.
    fn dump_flows(&self, args: &[String]) -> Result<String, String> {
        let mut verbose = false;
        // (userspace flows, offloaded flows) shown.
        let mut types = (true, true);
        for a in args {
            match a.as_str() {
                "-m" | "--more" => verbose = true,
                "--names" | "--no-names" => {}
                t if t.starts_with("type=") => types = dump_types(&t["type=".len()..])?,
                dp => check_dp_name(dp)?,
            }
        }
        let dp = self.dp();
        let ports = dp.ports();
        let name_of = |n: u16| {
            ports
                .iter()
                .find(|p| p.port_no == n)
                .map_or_else(|| n.to_string(), |p| p.name.clone())
        };
        let render_port = |n: u16| if verbose { name_of(n) } else { n.to_string() };
        // The output to port `n` of a frame in `vlan` that arrived with tag `in_tci`: OVS's
        // push_vlan/pop_vlan when the tag changes, tnl_push for tunnels.
        let action_for = |n: u16, vlan: u16, in_tci: Option<u16>| {
            let Some(p) = ports.iter().find(|p| p.port_no == n) else {
                return render_port(n);
            };
            let tag = match p.vlan.egress(vlan).map(|t| tag_edit(in_tci, t, vlan)) {
                Some(TagEdit::Push(vid)) => format!("push_vlan(vid={vid},pcp=0),"),
                Some(TagEdit::SetVid(vid)) => format!("set(vlan(vid={vid})),"),
                Some(TagEdit::Pop) => "pop_vlan,".to_string(),
                Some(TagEdit::Keep) | None => String::new(),
            };
            let out = match p.kind {
                PortKind::Tunnel(kind) => tnl_push(&render_port(n), kind, &p.options),
                _ => render_port(n),
            };
            tag + &out
        };
        let now = dp.clock().now_ms();
        let mut by_pmd: BTreeMap<usize, String> = BTreeMap::new();
        let shown = |f: &FlowDump| if f.offloaded { types.1 } else { types.0 };
        for (pmd, f) in dp.dump_flows().into_iter().filter(|(_, f)| shown(f)) {
            let actions = match f.decision {
                Decision::Output(p, vlan) => action_for(p, vlan, f.key.vlan_tci),
                Decision::Drop(_) => "drop".to_string(),
                Decision::Flood(_, vlan) => {
                    let bridge = ports
                        .iter()
                        .find(|p| p.port_no == f.key.in_port)
                        .map(|p| p.bridge.clone());
                    let outs: Vec<String> = ports
                        .iter()
                        .filter(|p| {
                            Some(&p.bridge) == bridge.as_ref()
                                && p.port_no != f.key.in_port
                                && p.error.is_none()
                                && p.vlan.egress(vlan).is_some()
                        })
                        .map(|p| action_for(p.port_no, vlan, f.key.vlan_tci))
                        .collect();
                    if outs.is_empty() {
                        "drop".to_string()
                    } else {
                        outs.join(",")
                    }
                }
            };
            let ufid = verbose.then(|| ufid_of(&f.key));
            let line = format::flow_line(&f, now, &render_port, &actions, ufid.as_deref());
            by_pmd.entry(pmd).or_default().push_str(&line);
        }
        let mut out = String::new();
        for (pmd, lines) in by_pmd {
            let core = dp
                .pmd_stats()
                .iter()
                .find(|p| p.id == pmd)
                .and_then(|p| p.core)
                .unwrap_or(pmd);
            out.push_str(&format!("flow-dump from pmd on cpu core: {core}\n"));
            out.push_str(&lines);
        }
        Ok(out)
    }

    /// What OVS prints in parentheses after a port: nothing for system ports, `tap` for
    /// internal and tap ports, `gre: key=value, …` for tunnels.
    fn type_label(p: &PortInfo) -> Option<String> {
        match p.kind {
            PortKind::System => None,
            PortKind::Internal | PortKind::Tap => Some("tap".into()),
            PortKind::Tunnel(kind) => {
                let opts: Vec<String> = p.options.iter().map(|(k, v)| format!("{k}={v}")).collect();
                Some(format!("{}: {}", kind.name(), opts.join(", ")))
            }
            // The mode the port is really in: AF_XDP, or AF_PACKET after a best-effort fallback.
            PortKind::Afxdp => Some(if p.backend == "afxdp" {
                "afxdp".into()
            } else {
                format!("afxdp: {}", p.backend)
            }),
        }
    }

    fn dpctl_show(&self, args: &[String]) -> Result<String, String> {
        let mut stats = false;
        for a in args {
            match a.as_str() {
                "-s" | "--statistics" => stats = true,
                dp => check_dp_name(dp)?,
            }
        }
        if stats {
            self.dp().sync_fastpath();
        }
        let rows: Vec<DpPortRow> = self
            .dp()
            .ports()
            .into_iter()
            .filter(|p| p.error.is_none())
            .map(|p| DpPortRow {
                port_no: p.port_no,
                name: p.name.clone(),
                type_label: Self::type_label(&p),
                stats: p.stats,
            })
            .collect();
        Ok(format::dpctl_show(&self.summary(), &rows, stats))
    }

    fn dpif_show(&self) -> String {
        let ports = self.dp().ports();
        let bridges: Vec<(String, Vec<DpifPortRow>)> = self
            .cfg
            .bridges
            .iter()
            .map(|b| {
                let rows = ports
                    .iter()
                    .filter(|p| p.bridge == b.name && p.error.is_none())
                    .map(|p| DpifPortRow {
                        name: p.name.clone(),
                        ofport: self.ofport_of(&p.name),
                        port_no: p.port_no,
                        type_label: Self::type_label(p).unwrap_or_else(|| "system".into()),
                    })
                    .collect();
                (b.name.clone(), rows)
            })
            .collect();
        format::dpif_show(&self.summary(), &bridges)
    }

    fn fdb_show(&self, br: &str) -> Result<String, String> {
        let entries = self
            .dp()
            .fdb_show(br)
            .map_err(|_| "no such bridge".to_string())?;
        let by_no: BTreeMap<u16, String> = self
            .dp()
            .ports()
            .into_iter()
            .map(|p| (p.port_no, p.name))
            .collect();
        let rows: Vec<FdbRow> = entries
            .iter()
            .map(|e| FdbRow {
                ofport: by_no.get(&e.port).map_or(-1, |n| self.ofport_of(n)),
                vlan: e.vlan,
                mac: e.mac.to_string(),
                age: e.age,
                is_static: e.is_static,
            })
            .collect();
        Ok(format::fdb_show(&rows))
    }

    fn pmd_stats_show(&self) -> String {
        let mut s = String::new();
        for p in self.dp().pmd_stats() {
            let c = p.counters;
            let core = p
                .core
                .map_or_else(|| "unpinned".to_string(), |c| c.to_string());
            s.push_str(&format!("pmd thread numa_id 0 core_id {core}:\n"));
            s.push_str(&format!("  packets received: {}\n", c.frames));
            s.push_str("  packet recirculations: 0\n  avg. datapath passes per packet: 1.00\n");
            s.push_str(&format!("  megaflow hits: {}\n", p.flows.hits));
            s.push_str(&format!(
                "  miss with success upcall: {}\n  miss with failed upcall: 0\n",
                p.flows.misses
            ));
            let per = if c.frames > 0 {
                p.busy_ns as f64 / c.frames as f64
            } else {
                0.0
            };
            s.push_str(&format!(
                "  avg. processing time per packet: {per:.1} ns (busy iterations, I/O included)\n"
            ));
        }
        s
    }

    fn dispatch(&mut self, method: &str, args: &[String]) -> Result<String, String> {
        let need = |min: usize, max: usize| -> Result<(), String> {
            if args.len() < min {
                return Err(format!(
                    "\"{method}\" command requires at least {min} arguments"
                ));
            }
            if args.len() > max {
                return Err(format!(
                    "\"{method}\" command takes at most {max} arguments"
                ));
            }
            Ok(())
        };
        let cmd = COMMANDS.iter().find(|c| c.0 == method).ok_or_else(|| format!("\"{method}\" is not a valid command (use list-commands to see a list of valid commands)"))?;
        need(cmd.2, cmd.3)?;
        match method {
            "rvs/vsctl" => serde_json::to_string(&self.vsctl(args)).map_err(|e| e.to_string()),
            "fdb/show" => self.fdb_show(&args[0]),
            "fdb/flush" => {
                self.dp()
                    .fdb_flush(args.first().map(String::as_str))
                    .map_err(|_| "no such bridge".to_string())?;
                Ok("table successfully flushed\n".into())
            }
            "fdb/stats-show" => {
                let st = self
                    .dp()
                    .fdb_stats(&args[0])
                    .map_err(|_| "no such bridge".to_string())?;
                Ok(format::fdb_stats_show(&args[0], &st))
            }
            "fdb/stats-clear" => {
                self.dp()
                    .fdb_stats_clear(args.first().map(String::as_str))
                    .map_err(|_| "no such bridge".to_string())?;
                Ok("statistics successfully cleared\n".into())
            }
            "fdb/add" => {
                let vlan: u16 = args[2]
                    .parse()
                    .ok()
                    .filter(|v| *v < 4096)
                    .ok_or("invalid vlan")?;
                let mac: MacAddr = args[3].parse().map_err(|_| "invalid mac")?;
                self.dp()
                    .fdb_add(&args[0], &args[1], vlan, mac)
                    .map_err(|e| e.to_string())?;
                Ok(String::new())
            }
            "fdb/del" => {
                let vlan: u16 = args[1]
                    .parse()
                    .ok()
                    .filter(|v| *v < 4096)
                    .ok_or("invalid vlan")?;
                let mac: MacAddr = args[2].parse().map_err(|_| "invalid mac")?;
                match self.dp().fdb_del(&args[0], vlan, mac) {
                    Ok(true) => Ok(String::new()),
                    Ok(false) => Err("no such entry in mac learning table".into()),
                    Err(_) => Err("no such bridge".into()),
                }
            }
            "dpif/show" => Ok(self.dpif_show()),
            "dpctl/show" => self.dpctl_show(args),
            "dpctl/dump-flows" => self.dump_flows(args),
            "dpctl/del-flows" => {
                for a in args {
                    check_dp_name(a)?;
                }
                self.dp().del_flows();
                Ok(String::new())
            }
            "dpctl/dump-dps" => Ok("netdev@ovs-netdev\n".into()),
            "coverage/show" => Ok(format::coverage_show(&self.dp().coverage())),
            "dpif-netdev/pmd-stats-show" => Ok(self.pmd_stats_show()),
            "list-commands" => {
                let mut s = String::from("The available commands are:\n");
                for (name, usage, ..) in COMMANDS.iter().filter(|c| !c.0.starts_with("rvs/")) {
                    s.push_str(&format!("  {name:<24}{usage}\n"));
                }
                Ok(s)
            }
            "version" => Ok(format!("rvsd (rvs) {VERSION}\n")),
            "exit" => {
                self.exit = true;
                Ok(String::new())
            }
            _ => Err(format!("\"{method}\" is not a valid command")),
        }
    }
}

/// OVS's `tnl_push(...)` action for output to a tunnel port, from its options as the
/// datapath reads them (`TunnelConfig::from_options`, the one parser). rvs hands the outer
/// packet to the kernel, which routes it, so there is no outer Ethernet header or `out_port`
/// to show (and `size` counts from the outer IPv4 header). OVS's header types: 3 GRE,
/// 4 VXLAN, 5 Geneve; the UDP source port is per flow (`src=0`).
fn tnl_push(port: &str, kind: TunnelKind, opts: &BTreeMap<String, String>) -> String {
    use rvs_datapath::tunnel::{Inherit, TunnelConfig, UDP_LEN, UDP_TUNNEL_HDR_LEN};
    let Ok(cfg) = TunnelConfig::from_options(kind, opts) else {
        return format!("tnl_push(tnl_port({port}))");
    };
    let key = cfg.out_key();
    let num = |i: Inherit| match i {
        Inherit::Fixed(v) => v.to_string(),
        Inherit::Inherit => "inherit".to_string(),
    };
    let src = cfg
        .local_ip
        .map_or_else(String::new, |ip| format!("src={ip},"));
    let frag = if cfg.df_default { "0x4000" } else { "0x0" };
    let ip = |proto: u8| {
        format!(
            "ipv4({src}dst={},proto={proto},tos={},ttl={},frag={frag})",
            cfg.remote_ip,
            num(cfg.tos),
            num(cfg.ttl)
        )
    };
    let (ty, l4) = match kind {
        TunnelKind::Gre => {
            let flags =
                if cfg.csum { 0x8000u16 } else { 0 } | if key.is_some() { 0x2000 } else { 0 };
            let mut gre = format!("gre((flags={flags:#x},proto=0x6558)");
            if cfg.csum {
                gre.push_str(",csum=0x0");
            }
            if let Some(k) = key {
                gre.push_str(&format!(",key={k:#x}"));
            }
            gre.push(')');
            (3, format!("{},{gre}", ip(47)))
        }
        TunnelKind::Vxlan | TunnelKind::Geneve => {
            let csum = if cfg.csum { "0xffff" } else { "0x0" };
            let vni = key.unwrap_or(0);
            let hdr = if kind == TunnelKind::Vxlan {
                format!("vxlan(flags=0x8000000,vni={vni:#x})")
            } else {
                format!("geneve(vni={vni:#x})")
            };
            let ty = if kind == TunnelKind::Vxlan { 4 } else { 5 };
            let udp = format!("udp(src=0,dst={},csum={csum})", cfg.dst_port);
            debug_assert_eq!(UDP_LEN + UDP_TUNNEL_HDR_LEN, 16);
            (ty, format!("{},{udp},{hdr}", ip(17)))
        }
    };
    format!(
        "tnl_push(tnl_port({port}),header(size={},type={ty},{l4}))",
        cfg.header_len()
    )
}

/// A stable flow id for `dump-flows -m`, shaped like OVS's ufid (a UUID) and derived from the
/// flow's key.
fn ufid_of(k: &rvs_datapath::flow::FlowKey) -> String {
    let text = format!("{k:?}");
    let mut h: [u64; 2] = [0xcbf2_9ce4_8422_2325, 0x8422_2325_cbf2_9ce4];
    for (i, b) in text.bytes().enumerate() {
        let x = &mut h[i % 2];
        *x ^= u64::from(b);
        *x = x.wrapping_mul(0x0100_0000_01b3);
    }
    let v = (u128::from(h[0]) << 64) | u128::from(h[1]);
    let s = format!("{v:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &s[0..8],
        &s[8..12],
        &s[12..16],
        &s[16..20],
        &s[20..32]
    )
}

/// Whether the kernel fast path is on when `other_config:hw-offload` is not set.
pub const FASTPATH_DEFAULT: bool = true;

/// `dump-flows type=A,B,…`: which of (userspace flows, offloaded flows) to show.
fn dump_types(list: &str) -> Result<(bool, bool), String> {
    let mut shown = (false, false);
    for t in list.split(',') {
        match t {
            "all" => shown = (true, true),
            "ovs" | "non-offloaded" => shown.0 = true,
            "tc" | "offloaded" => shown.1 = true,
            "dpdk" | "partially-offloaded" => {}
            t => return Err(format!("Failed to parse type ({t})")),
        }
    }
    Ok(shown)
}

/// A datapath name given to dpctl commands must be ours.
fn check_dp_name(dp: &str) -> Result<(), String> {
    if dp == "netdev@ovs-netdev" || dp == "ovs-netdev" {
        Ok(())
    } else {
        Err("ovs-vswitchd: datapath not found (Invalid argument)".into())
    }
}

/// (command, usage, min args, max args).
const COMMANDS: &[(&str, &str, usize, usize)] = &[
    ("coverage/show", "", 0, 0),
    ("dpctl/del-flows", "[dp]", 0, 1),
    ("dpctl/dump-dps", "", 0, 0),
    ("dpctl/dump-flows", "[-m] [type=TYPES] [dp]", 0, 4),
    ("dpctl/show", "[-s] [dp...]", 0, 3),
    ("dpif-netdev/pmd-stats-show", "", 0, 0),
    ("dpif/show", "", 0, 0),
    ("exit", "[--cleanup]", 0, 1),
    ("fdb/add", "bridge port vlan mac", 4, 4),
    ("fdb/del", "bridge vlan mac", 3, 3),
    ("fdb/flush", "[bridge]", 0, 1),
    ("fdb/show", "bridge", 1, 1),
    ("fdb/stats-clear", "[bridge]", 0, 1),
    ("fdb/stats-show", "bridge", 1, 1),
    ("list-commands", "", 0, 0),
    ("rvs/vsctl", "", 0, usize::MAX),
    ("version", "", 0, 0),
];

impl Handler for Daemon {
    fn handle(&mut self, req: &Request) -> Result<String, String> {
        let args = req.string_params();
        let r = self.dispatch(&req.method, &args);
        if let Err(e) = &r {
            log(Level::Dbg, "unixctl", &format!("{}: {e}", req.method));
        }
        r.map_err(|e| if e.ends_with('\n') { e } else { e + "\n" })
    }

    fn tick(&mut self) {
        if let Some(dp) = self.dp.as_mut() {
            dp.run();
        }
        if let Store::Ovsdb(link) = &mut self.store {
            // Ports may have come up or failed since: compare and write what changed.
            link.mark_dirty();
            self.write_back();
        }
    }

    fn exit_requested(&self) -> bool {
        self.exit
    }

    fn register(&mut self, registry: &mio::Registry) -> std::io::Result<()> {
        // The first connection attempt; the link's own timers take it from there.
        self.ready(registry, None);
        Ok(())
    }

    fn ready(&mut self, registry: &mio::Registry, _token: Option<mio::Token>) {
        if let Store::Ovsdb(link) = &mut self.store {
            link.drive(registry, std::time::Instant::now());
            self.sync_ovsdb();
            // A write-back may have queued a transaction: send it now.
            if let Store::Ovsdb(link) = &mut self.store {
                link.drive(registry, std::time::Instant::now());
            }
        }
    }

    fn deadline(&self) -> Option<std::time::Instant> {
        match &self.store {
            Store::Ovsdb(link) => link.deadline(),
            Store::File(_) => None,
        }
    }
}

/// The desired configuration of the embedded database `db`, derived as the ovs-vswitchd mode
/// derives it from its replica; what the switch reports back into the rows is written into
/// `db` as ovs-vswitchd would write it: the OpenFlow port numbers assigned, and `cur_cfg`
/// following `next_cfg` (the switch has applied the configuration).
pub fn desired(db: &mut Database) -> Config {
    let cfg = crate::vswitchd::config_from_replica(db.replica());
    for br in &cfg.bridges {
        for port in &br.ports {
            for iface in &port.interfaces {
                let want = Datum::opt((iface.ofport != 0).then_some(Atom::Int(iface.ofport)));
                if db.get("Interface", &iface.uuid, "ofport") != Some(&want) {
                    db.write("Interface", &iface.uuid, "ofport", want);
                }
            }
        }
    }
    let ovs = db
        .table("Open_vSwitch")
        .and_then(|t| t.rows().next())
        .map(|(u, r)| (u.to_string(), r.get("next_cfg").cloned()));
    if let Some((u, Some(next))) = ovs {
        if db.get("Open_vSwitch", &u, "cur_cfg") != Some(&next) {
            db.write("Open_vSwitch", &u, "cur_cfg", next);
        }
    }
    cfg
}

/// The datapath settings a configuration asks for (`n-pmd`, `pmd-cpu-mask`).
pub fn dpif_config(cfg: &Config) -> rvs_datapath::dpif::DpifConfig {
    let oc = &cfg.other_config;
    let mut cores: Vec<usize> = vec![];
    if let Some(mask) = oc
        .get("pmd-cpu-mask")
        .and_then(|m| u64::from_str_radix(m.trim_start_matches("0x"), 16).ok())
    {
        cores = (0..64).filter(|b| mask & (1 << b) != 0).collect();
    }
    let n = oc
        .get("n-pmd")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(if cores.is_empty() { 1 } else { cores.len() });
    rvs_datapath::dpif::DpifConfig {
        n_pmd: n.clamp(1, 64),
        pmd_cores: cores,
    }
}
