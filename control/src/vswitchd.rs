//! rvsd as a drop-in `ovs-vswitchd`: the OVSDB-managed mode (`rvsd unix:/var/run/openvswitch/db.sock`).
//!
//! Like ovs-vswitchd, rvsd is then a client of a real `ovsdb-server` (the [`crate::ovsdb`]
//! session): it takes the `ovs_vswitchd` lock, monitors the whole database, turns the replica
//! into the desired-configuration model ([`config_from_replica`] → [`Config`], the function
//! the embedded mode applies to its own database's replica), and the daemon applies it with
//! the one reconciliation both modes share. It writes its state back the way OVS tools expect
//! ([`OvsdbLink::write_back`]): `cur_cfg` once a `next_cfg` has been applied (what makes a
//! real `ovs-vsctl` without `--no-wait` return), each interface's `ofport`, `error`,
//! `mac_in_use`, `mtu`, `ifindex`, `admin_state`, `link_state`, `status` and (every
//! [`STATS_INTERVAL`]) `statistics`, the bridges' `datapath_id`/`datapath_version`, and the
//! Open_vSwitch row's `ovs_version`, `db_version`, `datapath_types`, `iface_types`,
//! `system_type`/`system_version`, `dpdk_initialized`; and the `status` notes about settings
//! rvs does not act on (Bridge, Port, Interface; see [`crate::unsupported`]).
//!
//! Invariants:
//! - nothing is configured and nothing written without the lock: a second switch daemon on
//!   the same database waits (and says so in its log) and touches no device;
//! - the replica survives disconnections: forwarding goes on with the last applied
//!   configuration, and a resync that changes nothing reconfigures nothing (reconciliation
//!   is idempotent, so a change is never applied twice);
//! - write-back only sends columns whose value differs from the replica's, one transaction
//!   at a time, so state converges without feeding back into reconfiguration;
//! - columns the server's schema lacks are never written (older schemas keep working).

use crate::config::{Bridge, Config, Interface, Map, Port, IFACE_TYPES, SCHEMA_VERSION};
use crate::log::{log, Level};
use crate::ovsdb::{
    Atom, Condition, Datum, Event, Op, Remote, Replica, Row, Session, SessionConfig, Transport,
};
use crate::vsctl::{IfaceStatus, IFACE_RUNTIME_COLUMNS};
use mio::{Registry, Token};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The token of the OVSDB connection in the daemon's event loop.
pub const TOKEN: Token = Token(crate::server::HANDLER_TOKENS);
/// How often interface statistics are written (OVS's default `stats-update-interval`).
pub const STATS_INTERVAL: Duration = Duration::from_secs(5);
/// The OVS release whose schema, commands and outputs rvs follows (`ovs_version`).
pub const OVS_COMPAT_VERSION: &str = "3.1.0";

/// What rvsd monitors: every column of every table of the Open_vSwitch schema (the tables a
/// server lacks are left out), so reading one more column or table in `config_from_replica`
/// needs no other change; it includes the state columns rvsd writes (to tell what needs
/// writing).
fn monitor_spec() -> Vec<(String, Vec<String>)> {
    crate::ovsdb::schema::vswitch()
        .tables
        .keys()
        .map(|t| (t.clone(), Vec::new()))
        .collect()
}

/// The Open_vSwitch columns that say what the switch supports, as both modes report them.
pub fn switch_types() -> Vec<(&'static str, Datum)> {
    let types = IFACE_TYPES.iter().copied().filter(|t| !t.is_empty());
    vec![
        ("datapath_types", str_set(["netdev", "system"])),
        ("iface_types", str_set(types)),
    ]
}

/// The daemon's connection to ovsdb-server.
#[derive(Debug)]
pub struct OvsdbLink {
    session: Session,
    transport: Transport,
    /// The write-back transaction in flight, if any.
    in_flight: Option<u64>,
    /// State may differ from what was last written: write back at the next chance.
    dirty: bool,
    /// The replica changed since the configuration was last taken from it.
    changed: bool,
    next_stats: Instant,
    /// Settings rvs does not act on, already warned about.
    warned: std::collections::BTreeSet<String>,
}

impl OvsdbLink {
    /// A link to `remote` (`unix:PATH` or `tcp:IP:PORT`); it connects on the first `drive`.
    pub fn new(remote: &str, now: Instant) -> Result<OvsdbLink, String> {
        let remote = Remote::parse(remote)?;
        Ok(OvsdbLink {
            session: Session::new(SessionConfig::vswitchd(monitor_spec()), now),
            transport: Transport::new(remote, TOKEN),
            in_flight: None,
            dirty: true,
            changed: false,
            next_stats: now,
            warned: Default::default(),
        })
    }

    /// The server's address, for messages.
    pub fn remote(&self) -> String {
        self.transport.remote().to_string()
    }

    /// Do the I/O and timers that are due and log what happened. Call on every event of
    /// [`TOKEN`] and when [`OvsdbLink::deadline`] passes.
    pub fn drive(&mut self, registry: &Registry, now: Instant) {
        self.transport.drive(registry, &mut self.session, now);
        while let Some(ev) = self.session.poll_event() {
            self.on_event(ev);
        }
        // Replies and updates may have queued output (e.g. the next monitor request).
        self.transport.drive(registry, &mut self.session, now);
    }

    fn on_event(&mut self, ev: Event) {
        let level = match &ev {
            Event::Error(_) | Event::LockStolen { .. } => Level::Warn,
            Event::Disconnected { .. } | Event::LockWaiting { .. } => Level::Warn,
            Event::Updated | Event::Transaction { .. } => Level::Dbg,
            _ => Level::Info,
        };
        match &ev {
            Event::Synced { .. } | Event::Updated => {
                self.changed = true;
                self.dirty = true;
            }
            Event::LockAcquired { .. } => {
                self.changed = true;
                self.dirty = true;
            }
            Event::Disconnected { .. } => {
                // A reply to a transaction in flight will never come.
                self.in_flight = None;
                self.dirty = true;
            }
            Event::Transaction { id, outcome } if Some(*id) == self.in_flight => {
                self.in_flight = None;
                let failed = match outcome {
                    Ok(o) => o.error().is_some(),
                    Err(_) => true,
                };
                if failed {
                    // Logged below; written again at the next chance.
                    self.dirty = true;
                    log(Level::Warn, "bridge", &format!("state write-back: {ev}"));
                    return;
                }
            }
            _ => {}
        }
        log(
            level,
            "ovsdb",
            &format!("{}: {ev}", self.transport.remote()),
        );
    }

    /// When the link next wants `drive` (a timer), if ever.
    pub fn deadline(&self) -> Option<Instant> {
        self.session.next_timeout()
    }

    /// True while rvsd holds the lock and has a replica: it may configure and write.
    pub fn in_charge(&self) -> bool {
        self.session.has_lock() && self.session.replica().is_some()
    }

    /// The desired configuration, once per change of the replica (`None` when nothing
    /// changed since the last call, or when not [`in_charge`](Self::in_charge)).
    pub fn take_desired(&mut self) -> Option<Config> {
        if !self.in_charge() || !std::mem::take(&mut self.changed) {
            return None;
        }
        let replica = self.session.replica()?;
        crate::unsupported::log_new(replica, &mut self.warned);
        Some(config_from_replica(replica))
    }

    /// Ask for a write-back at the next `write_back` (state changed outside the replica's
    /// view, e.g. a port's netdev appeared).
    pub fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    /// Write the state of `cfg` as applied (interfaces' runtime state from `iface`) back into
    /// the database, if anything differs; `cur_cfg` follows `next_cfg`. Statistics are
    /// included every [`STATS_INTERVAL`]. At most one transaction is in flight.
    pub fn write_back(
        &mut self,
        cfg: &Config,
        iface: &dyn Fn(&str) -> IfaceStatus,
        bridge_mac: &dyn Fn(&str) -> Option<String>,
        now: Instant,
    ) {
        let stats_due = now >= self.next_stats;
        if !self.in_charge() || self.in_flight.is_some() || !(self.dirty || stats_due) {
            return;
        }
        if stats_due {
            self.next_stats = now + STATS_INTERVAL;
        }
        let Some(replica) = self.session.replica() else {
            return;
        };
        let db_version = self.session.schema().map(|s| s.version.as_str());
        let ops = state_ops(replica, cfg, iface, bridge_mac, db_version, stats_due);
        self.dirty = false;
        if ops.is_empty() {
            return;
        }
        match self.session.transact(&ops) {
            Ok(id) => self.in_flight = Some(id),
            Err(e) => {
                self.dirty = true;
                log(Level::Warn, "bridge", &format!("state write-back: {e}"));
            }
        }
    }

    /// Close the connection (shutdown).
    pub fn close(&mut self, registry: &Registry) {
        self.transport.close(registry);
    }
}

// ---- replica → desired configuration ------------------------------------------------------

fn str_of(d: Option<&Datum>) -> Option<String> {
    d?.as_str().map(str::to_string)
}

fn int_of(d: Option<&Datum>) -> Option<i64> {
    d?.as_int()
}

fn map_of(d: Option<&Datum>) -> Map {
    d.map(|d| {
        d.pairs()
            .filter_map(|(k, v)| match (k, v) {
                (Atom::Str(k), Atom::Str(v)) => Some((k.clone(), v.clone())),
                _ => None,
            })
            .collect()
    })
    .unwrap_or_default()
}

fn uuids_of(d: Option<&Datum>) -> Vec<String> {
    d.map(|d| {
        d.keys
            .iter()
            .filter_map(|a| a.as_uuid().map(str::to_string))
            .collect()
    })
    .unwrap_or_default()
}

/// The rows of `table` that `refs` name, sorted by their `name` column (OVSDB sets have no
/// order; names make the model, and the logs, deterministic).
fn named_rows<'a>(replica: &'a Replica, table: &str, refs: &[String]) -> Vec<(&'a str, &'a Row)> {
    let Some(t) = replica.table(table) else {
        return Vec::new();
    };
    let mut rows: Vec<(&str, &Row)> = t
        .rows()
        .filter(|(u, _)| refs.iter().any(|r| r == u))
        .collect();
    rows.sort_by_key(|(_, r)| str_of(r.get("name")));
    rows
}

/// The desired configuration a replica describes. Lenient where the embedded store is
/// strict: OVSDB has accepted the rows already, so a value rvs cannot use becomes that
/// interface's `error` at reconciliation instead of refusing the whole configuration.
pub fn config_from_replica(replica: &Replica) -> Config {
    let mut cfg = Config::new();
    let Some((ovs_uuid, ovs)) = replica.table("Open_vSwitch").and_then(|t| t.rows().next()) else {
        return cfg;
    };
    cfg.schema_version = SCHEMA_VERSION;
    cfg.uuid = ovs_uuid.to_string();
    cfg.other_config = map_of(ovs.get("other_config"));
    cfg.external_ids = map_of(ovs.get("external_ids"));
    for (buuid, b) in named_rows(replica, "Bridge", &uuids_of(ovs.get("bridges"))) {
        let Some(name) = str_of(b.get("name")) else {
            continue;
        };
        let mut br = Bridge {
            name,
            uuid: buuid.to_string(),
            ports: Vec::new(),
            datapath_type: str_of(b.get("datapath_type")).unwrap_or_default(),
            other_config: map_of(b.get("other_config")),
            external_ids: map_of(b.get("external_ids")),
        };
        for (puuid, p) in named_rows(replica, "Port", &uuids_of(b.get("ports"))) {
            let Some(name) = str_of(p.get("name")) else {
                continue;
            };
            let interfaces: Vec<Interface> =
                named_rows(replica, "Interface", &uuids_of(p.get("interfaces")))
                    .into_iter()
                    .filter_map(|(iuuid, i)| {
                        Some(Interface {
                            name: str_of(i.get("name"))?,
                            uuid: iuuid.to_string(),
                            type_: str_of(i.get("type")).unwrap_or_default(),
                            options: map_of(i.get("options")),
                            external_ids: map_of(i.get("external_ids")),
                            other_config: map_of(i.get("other_config")),
                            // The number written last time is kept (assign_ofports checks it).
                            ofport: int_of(i.get("ofport")).filter(|o| *o > 0).unwrap_or(0),
                            ofport_request: int_of(i.get("ofport_request")),
                            mtu_request: int_of(i.get("mtu_request")),
                            mac: str_of(i.get("mac")),
                        })
                    })
                    .collect();
            if interfaces.is_empty() {
                continue;
            }
            let tag = int_of(p.get("tag")).and_then(|t| u16::try_from(t).ok());
            let mut trunks: Vec<u16> = p
                .get("trunks")
                .map(|d| {
                    d.keys
                        .iter()
                        .filter_map(|a| match a {
                            Atom::Int(v) => u16::try_from(*v).ok(),
                            _ => None,
                        })
                        .collect()
                })
                .unwrap_or_default();
            trunks.sort_unstable();
            trunks.dedup();
            br.ports.push(Port {
                name,
                uuid: puuid.to_string(),
                interfaces,
                tag,
                trunks,
                vlan_mode: str_of(p.get("vlan_mode")),
                external_ids: map_of(p.get("external_ids")),
                other_config: map_of(p.get("other_config")),
            });
        }
        cfg.bridges.push(br);
    }
    cfg.assign_ofports();
    cfg
}

// ---- state → write-back operations ----------------------------------------------------------

fn opt_str(s: Option<String>) -> Datum {
    Datum::opt(s.map(Atom::Str))
}

fn str_set<'a>(it: impl IntoIterator<Item = &'a str>) -> Datum {
    Datum::set(it.into_iter().map(|s| Atom::Str(s.to_string())).collect())
}

/// `ID`/`VERSION_ID` of /etc/os-release, which OVS's start-up scripts put in
/// `system_type`/`system_version`.
fn os_release() -> (Option<String>, Option<String>) {
    let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
            .map(|v| v.trim_matches('"').to_string())
    };
    (field("ID"), field("VERSION_ID"))
}

/// One `update` of the columns of `row` (in `table`, row `uuid`) whose wanted value differs
/// from the replica's; columns the replica does not hold (absent from the server's schema)
/// are skipped.
fn diff_update(replica: &Replica, table: &str, uuid: &str, want: Vec<(&str, Datum)>) -> Option<Op> {
    let t = replica.table(table)?;
    let row = t.row(uuid)?;
    let known: Vec<&str> = t.columns().map(|(c, _)| c).collect();
    let changed: Vec<(String, Datum)> = want
        .into_iter()
        .filter(|(c, _)| known.contains(c))
        .filter(|(c, d)| row.get(c).map_or(!d.is_empty(), |cur| cur != d))
        .map(|(c, d)| (c.to_string(), d))
        .collect();
    (!changed.is_empty()).then(|| Op::Update {
        table: table.to_string(),
        conditions: vec![Condition::uuid_is(uuid)],
        row: changed,
    })
}

/// Every write-back operation needed to make the database show the state of `cfg`.
fn state_ops(
    replica: &Replica,
    cfg: &Config,
    iface: &dyn Fn(&str) -> IfaceStatus,
    bridge_mac: &dyn Fn(&str) -> Option<String>,
    db_version: Option<&str>,
    with_stats: bool,
) -> Vec<Op> {
    let mut ops = Vec::new();
    let notes = crate::unsupported::notes(replica);
    // Settings rvs does not act on are reported in the rows' status columns.
    let status = |table: &str, uuid: &str| {
        let mut m = BTreeMap::new();
        crate::unsupported::add_to_status(&notes, table, uuid, &mut m);
        (
            "status",
            Datum::map(
                m.into_iter()
                    .map(|(k, v)| (Atom::Str(k), Atom::Str(v)))
                    .collect(),
            ),
        )
    };
    for br in &cfg.bridges {
        for port in &br.ports {
            ops.extend(diff_update(
                replica,
                "Port",
                &port.uuid,
                vec![status("Port", &port.uuid)],
            ));
            for i in &port.interfaces {
                let mut st = iface(&i.name);
                crate::unsupported::add_to_status(&notes, "Interface", &i.uuid, &mut st.status);
                let want = IFACE_RUNTIME_COLUMNS
                    .iter()
                    .filter(|c| with_stats || **c != "statistics")
                    .filter_map(|c| Some((*c, st.column(c, i.ofport)?)))
                    .collect();
                ops.extend(diff_update(replica, "Interface", &i.uuid, want));
            }
        }
        let dpid = bridge_mac(&br.name).map(|m| format!("0000{}", m.replace(':', "")));
        let want = vec![
            ("datapath_id", opt_str(dpid)),
            (
                "datapath_version",
                Datum::scalar(Atom::Str("<built-in>".into())),
            ),
            status("Bridge", &br.uuid),
        ];
        ops.extend(diff_update(replica, "Bridge", &br.uuid, want));
    }
    if let Some((uuid, row)) = replica.table("Open_vSwitch").and_then(|t| t.rows().next()) {
        let (system_type, system_version) = os_release();
        let mut want = vec![
            ("ovs_version", opt_str(Some(OVS_COMPAT_VERSION.into()))),
            ("dpdk_initialized", Datum::scalar(Atom::Bool(false))),
            ("system_type", opt_str(system_type)),
            ("system_version", opt_str(system_version)),
        ];
        want.extend(switch_types());
        if let Some(v) = db_version {
            want.push(("db_version", opt_str(Some(v.to_string()))));
        }
        // Everything above describes the configuration as applied: so does cur_cfg.
        if let Some(next) = row.get("next_cfg") {
            want.push(("cur_cfg", next.clone()));
        }
        ops.extend(diff_update(replica, "Open_vSwitch", uuid, want));
    }
    ops
}

/// The `other_config` keys of Open_vSwitch that changed between `old` and `new` but only take
/// effect when rvsd starts (they size and pin the PMD threads).
pub fn start_only_keys(old: &Map, new: &Map) -> Vec<&'static str> {
    ["n-pmd", "pmd-cpu-mask"]
        .into_iter()
        .filter(|k| old.get(*k) != new.get(*k))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ovsdb::fixtures;
    use serde_json::json;

    const OVS: &str = "11111111-1111-4111-8111-111111111111";
    const BR: &str = "22222222-2222-4222-8222-222222222222";
    const PORT_BR: &str = "33333333-3333-4333-8333-333333333333";
    const IF_BR: &str = "44444444-4444-4444-8444-444444444444";
    const PORT_P1: &str = "55555555-5555-4555-8555-555555555555";
    const IF_P1: &str = "66666666-6666-4666-8666-666666666666";

    /// A replica of what rvsd monitors, holding one bridge br0 with its local port and p1
    /// (ofport_request 7, tag 10, trunks given unsorted, a requested MTU), next_cfg 3.
    fn replica() -> Replica {
        let schema = fixtures::schema();
        let mut r = Replica::new(&schema, &monitor_spec()).unwrap();
        let uuid = |u: &str| json!(["uuid", u]);
        r.apply_update2(&json!({
            "Open_vSwitch": {OVS: {"initial": {
                "bridges": uuid(BR), "next_cfg": 3, "cur_cfg": 2,
                "other_config": ["map", [["n-pmd", "2"]]]
            }}},
            "Bridge": {BR: {"initial": {
                "name": "br0", "ports": ["set", [uuid(PORT_BR), uuid(PORT_P1)]],
                "datapath_type": "netdev", "fail_mode": "secure"
            }}},
            "Port": {
                PORT_BR: {"initial": {"name": "br0", "interfaces": uuid(IF_BR)}},
                PORT_P1: {"initial": {"name": "p1", "interfaces": uuid(IF_P1), "tag": 10,
                                       "trunks": ["set", [30, 20]]}}
            },
            "Interface": {
                IF_BR: {"initial": {"name": "br0", "type": "internal"}},
                IF_P1: {"initial": {"name": "p1", "ofport_request": 7, "mtu_request": 1400,
                                     "mac": "02:00:00:00:00:07",
                                     "options": ["map", [["k", "v"]]]}}
            }
        }))
        .unwrap();
        r
    }

    fn ops(r: &Replica, cfg: &Config, stats: bool) -> Vec<Op> {
        let status = |name: &str| IfaceStatus {
            mac_in_use: Some(format!("02:00:00:00:00:{:02x}", name.len())),
            mtu: Some(1500),
            statistics: [("rx_packets".to_string(), 5)].into(),
            ..IfaceStatus::default()
        };
        state_ops(
            r,
            cfg,
            &status,
            &|_| Some("02:00:00:00:00:01".into()),
            Some("8.3.1"),
            stats,
        )
    }

    /// Apply `ops` (updates by UUID) to the replica, as the server's `update` notification
    /// (RFC 7047: the whole new row) would.
    fn commit(r: &mut Replica, ops: &[Op]) {
        let mut upd = serde_json::Map::new();
        for op in ops {
            let Op::Update {
                table,
                conditions,
                row,
            } = op
            else {
                panic!("write-back only updates: {op:?}");
            };
            let uuid = conditions[0].value.as_scalar().unwrap().as_uuid().unwrap();
            let t = r.table(table).unwrap();
            let types: BTreeMap<&str, _> = t.columns().collect();
            let (mut old, mut new) = (serde_json::Map::new(), serde_json::Map::new());
            let cur = t.row(uuid).unwrap();
            for (c, d) in cur.columns() {
                new.insert(c.to_string(), d.to_json(types[c]));
            }
            for (c, d) in row {
                let ty = types[c.as_str()];
                old.insert(
                    c.clone(),
                    cur.get(c).cloned().unwrap_or_default().to_json(ty),
                );
                new.insert(c.clone(), d.to_json(ty));
            }
            upd.entry(table.clone())
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .unwrap()
                .insert(uuid.to_string(), json!({ "old": old, "new": new }));
        }
        r.apply_update(&serde_json::Value::Object(upd)).unwrap();
    }

    #[test]
    fn the_replica_becomes_the_desired_configuration() {
        let cfg = config_from_replica(&replica());
        assert_eq!(cfg.uuid, OVS);
        assert_eq!(cfg.other_config.get("n-pmd").map(String::as_str), Some("2"));
        assert_eq!(cfg.bridges.len(), 1);
        let br = &cfg.bridges[0];
        assert_eq!(
            (br.name.as_str(), br.datapath_type.as_str()),
            ("br0", "netdev")
        );
        let names: Vec<&str> = br.ports.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["br0", "p1"], "ports in name order");
        let p1 = &br.ports[1];
        assert_eq!((p1.tag, p1.trunks.as_slice()), (Some(10), &[20u16, 30][..]));
        let i = &p1.interfaces[0];
        assert_eq!(
            (i.ofport, i.mtu_request),
            (7, Some(1400)),
            "ofport_request honoured"
        );
        assert_eq!(i.mac.as_deref(), Some("02:00:00:00:00:07"));
        assert_eq!(i.options.get("k").map(String::as_str), Some("v"));
        assert_eq!(br.ports[0].interfaces[0].ofport, crate::config::OFPP_LOCAL);
    }

    #[test]
    fn write_back_sets_cur_cfg_and_state_then_converges() {
        let mut r = replica();
        let cfg = config_from_replica(&r);
        let first = ops(&r, &cfg, true);
        let cols = |table: &str| -> Vec<String> {
            first
                .iter()
                .filter_map(|o| match o {
                    Op::Update { table: t, row, .. } if t == table => {
                        Some(row.iter().map(|(c, _)| c.clone()).collect::<Vec<_>>())
                    }
                    _ => None,
                })
                .flatten()
                .collect()
        };
        let ovs = cols("Open_vSwitch");
        for c in [
            "cur_cfg",
            "ovs_version",
            "db_version",
            "iface_types",
            "datapath_types",
        ] {
            assert!(ovs.iter().any(|x| x == c), "{c} not written: {ovs:?}");
        }
        let ifaces = cols("Interface");
        for c in ["ofport", "mac_in_use", "mtu", "statistics"] {
            assert!(ifaces.iter().any(|x| x == c), "{c} not written: {ifaces:?}");
        }
        assert!(cols("Bridge").iter().any(|c| c == "datapath_id"));
        // Every op is valid against the server's schema.
        let schema = fixtures::schema();
        for op in &first {
            op.to_json(&schema).unwrap();
        }
        // Once the database shows it, nothing is left to write.
        commit(&mut r, &first);
        let row = r.table("Open_vSwitch").unwrap().row(OVS).unwrap();
        assert_eq!(row.get("cur_cfg"), row.get("next_cfg"));
        let again = ops(&r, &config_from_replica(&r), true);
        assert!(again.is_empty(), "write-back feeds back: {again:?}");
        // The written ofports keep the configuration as it was.
        assert_eq!(config_from_replica(&r), cfg);
    }

    #[test]
    fn columns_the_server_lacks_are_not_written() {
        let schema = fixtures::schema();
        // An older server without `datapath_types` and `iface_types`.
        let mut spec = monitor_spec();
        let ovs = spec.iter().position(|(t, _)| t == "Open_vSwitch").unwrap();
        spec[ovs].1 = schema.tables["Open_vSwitch"]
            .columns
            .keys()
            .filter(|c| *c != "datapath_types" && *c != "iface_types")
            .cloned()
            .collect();
        let mut r = Replica::new(&schema, &spec).unwrap();
        r.apply_update2(&json!({"Open_vSwitch": {OVS: {"initial": {"next_cfg": 1}}}}))
            .unwrap();
        let ops = ops(&r, &config_from_replica(&r), false);
        let Op::Update { row, .. } = &ops[0] else {
            panic!("{ops:?}")
        };
        assert!(row
            .iter()
            .all(|(c, _)| c != "iface_types" && c != "datapath_types"));
        assert!(row.iter().any(|(c, _)| c == "cur_cfg"));
    }
}
