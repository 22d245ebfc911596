//! Configuration rvs stores, lists and returns exactly as OVS would, but does not act on —
//! and says so: which settings of a database those are ([`notes`]), a warning logged once per
//! row and setting ([`log_new`]), and in the embedded mode the row's `status` column (Bridge,
//! Port, Interface, Controller, Manager) or `error` column (the unused members of a bond,
//! [`bond_member_unused`]) shows the same words.
//!
//! Both modes call these on their rows (the embedded database's replica, or the replica of a
//! real ovsdb-server), so what is reported does not depend on the mode.

use crate::config::Config;
use crate::log::{log, Level};
use crate::ovsdb::{Atom, Datum, Replica};
use std::collections::BTreeSet;

/// One setting rvs does not act on: the row it is in, the `status` key it is reported under,
/// and the explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub table: &'static str,
    pub uuid: String,
    pub key: &'static str,
    pub message: String,
}

fn non_empty(d: Option<&Datum>) -> bool {
    d.is_some_and(|d| !d.is_empty())
}

fn is_true(d: Option<&Datum>) -> bool {
    matches!(d.and_then(Datum::as_scalar), Some(Atom::Bool(true)))
}

fn nonzero(d: Option<&Datum>) -> bool {
    matches!(d.and_then(Datum::as_scalar), Some(Atom::Int(n)) if *n != 0)
}

fn name_of(d: Option<&Datum>) -> String {
    d.and_then(Datum::as_str).unwrap_or_default().to_string()
}

/// Every setting of `r` that rvs stores but does not act on.
pub fn notes(r: &Replica) -> Vec<Note> {
    let mut out = Vec::new();
    let mut note = |table: &'static str, uuid: &str, key: &'static str, message: String| {
        out.push(Note {
            table,
            uuid: uuid.to_string(),
            key,
            message,
        })
    };
    let stored = "not supported by rvs (stored, not applied)";
    if let Some(t) = r.table("Open_vSwitch") {
        for (u, row) in t.rows() {
            if non_empty(row.get("manager_options")) {
                note(
                    "Open_vSwitch",
                    u,
                    "manager_options",
                    format!("OVSDB managers are {stored}: rvsd listens on no OVSDB remote"),
                );
            }
            if non_empty(row.get("ssl")) {
                note("Open_vSwitch", u, "ssl", format!("SSL is {stored}"));
            }
            for m in row
                .get("manager_options")
                .map(|d| d.keys.clone())
                .unwrap_or_default()
            {
                if let Some(m) = m.as_uuid() {
                    note(
                        "Manager",
                        m,
                        "last_error",
                        format!("OVSDB managers are {stored}"),
                    );
                }
            }
        }
    }
    if let Some(t) = r.table("Bridge") {
        for (u, row) in t.rows() {
            let br = name_of(row.get("name"));
            for (col, what) in [
                ("mirrors", "port mirroring"),
                ("netflow", "NetFlow"),
                ("sflow", "sFlow"),
                ("ipfix", "IPFIX"),
                ("flood_vlans", "flood_vlans"),
                ("auto_attach", "Auto Attach"),
                ("flow_tables", "OpenFlow table settings"),
            ] {
                if non_empty(row.get(col)) {
                    note("Bridge", u, col, format!("{br}: {what} is {stored}"));
                }
            }
            if non_empty(row.get("controller")) {
                note(
                    "Bridge",
                    u,
                    "controller",
                    format!("{br}: OpenFlow controllers are {stored}: the bridge forwards with the NORMAL action"),
                );
                for c in row
                    .get("controller")
                    .map(|d| d.keys.clone())
                    .unwrap_or_default()
                {
                    if let Some(c) = c.as_uuid() {
                        note(
                            "Controller",
                            c,
                            "last_error",
                            format!("OpenFlow controllers are {stored}"),
                        );
                    }
                }
            }
            if row.get("fail_mode") == Some(&Datum::scalar(Atom::Str("secure".into()))) {
                note(
                    "Bridge",
                    u,
                    "fail_mode",
                    format!("{br}: fail_mode=secure is {stored}: rvs has no OpenFlow controller connection, so the bridge forwards with the NORMAL action"),
                );
            }
            for (col, what) in [
                ("stp_enable", "STP"),
                ("rstp_enable", "RSTP"),
                ("mcast_snooping_enable", "multicast snooping"),
            ] {
                if is_true(row.get(col)) {
                    note("Bridge", u, col, format!("{br}: {what} is {stored}"));
                }
            }
        }
    }
    if let Some(t) = r.table("Port") {
        for (u, row) in t.rows() {
            let port = name_of(row.get("name"));
            let n = row.get("interfaces").map_or(0, Datum::len);
            if n > 1 {
                note("Port", u, "bond", format!("{port}: bonding is {stored}: only the port's first interface (by name) forwards"));
            }
            if non_empty(row.get("qos")) {
                note("Port", u, "qos", format!("{port}: QoS is {stored}"));
            }
            if non_empty(row.get("lacp"))
                && row.get("lacp") != Some(&Datum::scalar(Atom::Str("off".into())))
            {
                note("Port", u, "lacp", format!("{port}: LACP is {stored}"));
            }
            if row.get("vlan_mode").and_then(Datum::as_str) == Some("dot1q-tunnel") {
                note(
                    "Port",
                    u,
                    "vlan_mode",
                    format!("{port}: vlan_mode dot1q-tunnel is {stored}: the port is a trunk"),
                );
            }
            if is_true(row.get("protected")) {
                note(
                    "Port",
                    u,
                    "protected",
                    format!("{port}: protected ports are {stored}"),
                );
            }
        }
    }
    if let Some(t) = r.table("Interface") {
        for (u, row) in t.rows() {
            let iface = name_of(row.get("name"));
            let policing = [
                "ingress_policing_rate",
                "ingress_policing_burst",
                "ingress_policing_kpkts_rate",
                "ingress_policing_kpkts_burst",
            ]
            .iter()
            .any(|c| nonzero(row.get(c)));
            if policing {
                note(
                    "Interface",
                    u,
                    "ingress_policing",
                    format!("{iface}: ingress policing is {stored}"),
                );
            }
            let bfd = row
                .get("bfd")
                .and_then(|d| d.get(&Atom::Str("enable".into())))
                == Some(&Atom::Str("true".into()));
            if bfd {
                note("Interface", u, "bfd", format!("{iface}: BFD is {stored}"));
            }
            if non_empty(row.get("cfm_mpid")) {
                note("Interface", u, "cfm", format!("{iface}: CFM is {stored}"));
            }
        }
    }
    out
}

/// Logs each note of `r` not logged before (`warned` remembers them by row and key).
pub fn log_new(r: &Replica, warned: &mut BTreeSet<String>) {
    let now: Vec<Note> = notes(r);
    let keys: BTreeSet<String> = now
        .iter()
        .map(|n| format!("{}:{}", n.uuid, n.key))
        .collect();
    for n in &now {
        if warned.insert(format!("{}:{}", n.uuid, n.key)) && n.key != "last_error" {
            log(Level::Warn, "bridge", &n.message);
        }
    }
    // A setting removed and set again is reported again.
    warned.retain(|k| keys.contains(k));
}

/// Adds the notes about row `uuid` of `table` to a `status` map (key → explanation).
pub fn add_to_status(
    notes: &[Note],
    table: &str,
    uuid: &str,
    status: &mut std::collections::BTreeMap<String, String>,
) {
    for n in notes.iter().filter(|n| n.table == table && n.uuid == uuid) {
        status.insert(n.key.to_string(), n.message.clone());
    }
}

/// The `status` column of row `uuid` of `table` as `status` map of stored keys and notes, if
/// there are notes about the row.
pub fn status_column(r: &Replica, notes: &[Note], table: &str, uuid: &str) -> Option<Datum> {
    let mut d = r.table(table)?.row(uuid)?.get("status")?.clone();
    let mut map = std::collections::BTreeMap::new();
    add_to_status(notes, table, uuid, &mut map);
    if map.is_empty() {
        return None;
    }
    for (k, v) in map {
        d.insert(Atom::Str(k), Some(Atom::Str(v)));
    }
    Some(d)
}

/// Why interface `name` is not attached although configured: it is a bond member other than
/// the first (rvs forwards a bond through its first interface only).
pub fn bond_member_unused(cfg: &Config, name: &str) -> Option<String> {
    let (_, port, _) = cfg.interface(name)?;
    let first = port.interfaces.first()?;
    (first.name != name).then(|| {
        format!(
            "not used: bonding is not supported by rvs (port {} forwards through {} only)",
            port.name, first.name
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ovsdb::Database;
    use crate::vsctl::{execute, NoStatus};

    fn db(line: &str) -> Database {
        let args = rvs_testkit::shell_words(line);
        execute(&Database::new(), &args, &NoStatus).unwrap().db
    }

    #[test]
    fn settings_rvs_does_not_act_on_are_named_once_each() {
        let d = db("add-br br0 -- add-port br0 p1 -- set-controller br0 tcp:1.2.3.4 -- set-fail-mode br0 secure -- set bridge br0 flood_vlans=5 stp_enable=true -- --id=@q create qos type=linux-htb -- set port p1 qos=@q -- set interface p1 ingress_policing_rate=100 -- --id=@m create mirror name=m select_all=true -- set bridge br0 mirrors=@m");
        let n = notes(d.replica());
        let keys: BTreeSet<(&str, &str)> = n.iter().map(|n| (n.table, n.key)).collect();
        for want in [
            ("Bridge", "controller"),
            ("Bridge", "fail_mode"),
            ("Bridge", "flood_vlans"),
            ("Bridge", "stp_enable"),
            ("Bridge", "mirrors"),
            ("Controller", "last_error"),
            ("Port", "qos"),
            ("Interface", "ingress_policing"),
        ] {
            assert!(keys.contains(&want), "{want:?} missing from {keys:?}");
        }
        let br = d
            .table("Bridge")
            .unwrap()
            .rows()
            .next()
            .map(|(u, _)| u.to_string())
            .unwrap();
        let status = status_column(d.replica(), &n, "Bridge", &br).unwrap();
        assert!(status
            .get(&Atom::Str("mirrors".into()))
            .is_some_and(|m| m.to_bare().contains("not supported by rvs")));
        // Logged once per setting; again only after it was removed and set again.
        let mut warned = BTreeSet::new();
        log_new(d.replica(), &mut warned);
        let first = warned.len();
        log_new(d.replica(), &mut warned);
        assert_eq!(warned.len(), first);
        assert!(notes(db("add-br br0").replica()).is_empty());
    }
}
