//! A local copy of the monitored tables of an OVSDB database: rows by UUID, each monitored
//! column as a [`Datum`], kept current by the three notification formats:
//! - `update` (RFC 7047 `<table-updates>`: `old`/`new`; `new` carries every monitored column);
//! - `update2` (`<table-updates2>`: `initial`/`insert` carry the non-default columns, `modify`
//!   a diff — elements to toggle for sets, pairs to add/replace/remove for maps, the new value
//!   for scalars —, `delete`);
//! - `update3` (`update2` plus the id of the last transaction, for `monitor_cond_since`).
//!
//! Invariants: every notification is applied atomically — it is checked whole against the
//! current rows first and committed only if every row update in it is valid, so a malformed one
//! leaves the replica exactly as it was. Every stored row has every monitored column, each a
//! well-formed datum of its column's type and element count. [`Replica::seqno`] grows by one
//! for every notification that changed something, and each table remembers the seqno of its
//! last change, so the owner can tell what changed since it last looked.

use super::datum::Datum;
use super::schema::{ColumnType, DatabaseSchema, ZERO_UUID};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// One row: its monitored columns.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Row {
    columns: BTreeMap<String, Datum>,
}

impl Row {
    /// The value of `column` (every monitored column is present).
    pub fn get(&self, column: &str) -> Option<&Datum> {
        self.columns.get(column)
    }

    /// Every column and its value, by name.
    pub fn columns(&self) -> impl Iterator<Item = (&str, &Datum)> {
        self.columns.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Replaces the value of `column`, which the row must have (the embedded database's
    /// writer keeps the invariants: a well-formed datum of the column's type).
    pub(crate) fn set(&mut self, column: &str, value: Datum) {
        if let Some(slot) = self.columns.get_mut(column) {
            *slot = value;
        }
    }

    /// Every column's value, mutable (the embedded database rewrites references).
    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = (&str, &mut Datum)> {
        self.columns.iter_mut().map(|(k, v)| (k.as_str(), v))
    }
}

/// The replicated rows of one table.
#[derive(Debug, Clone, PartialEq)]
pub struct TableReplica {
    name: String,
    columns: BTreeMap<String, ColumnType>,
    rows: BTreeMap<String, Row>,
    changed_at: u64,
}

impl TableReplica {
    /// The table's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The row with this UUID.
    pub fn row(&self, uuid: &str) -> Option<&Row> {
        self.rows.get(uuid)
    }

    /// Every row with its UUID, in UUID order.
    pub fn rows(&self) -> impl Iterator<Item = (&str, &Row)> {
        self.rows.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The first row (in UUID order) whose `column` equals `value`, with its UUID: e.g. a
    /// bridge by `name`.
    pub fn find(&self, column: &str, value: &Datum) -> Option<(&str, &Row)> {
        self.rows().find(|(_, r)| r.get(column) == Some(value))
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when the table has no row.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The monitored columns and their types.
    pub fn columns(&self) -> impl Iterator<Item = (&str, &ColumnType)> {
        self.columns.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The [`Replica::seqno`] of this table's last change (0: never changed).
    pub fn changed_at(&self) -> u64 {
        self.changed_at
    }

    /// The type of a replicated column.
    pub fn column_type(&self, column: &str) -> Option<&ColumnType> {
        self.columns.get(column)
    }

    /// Inserts a row with every column at its default (for the embedded database; `uuid` must
    /// be a lower-case UUID not in the table).
    pub(crate) fn insert_default(&mut self, uuid: &str) {
        let row = Row {
            columns: self
                .columns
                .iter()
                .map(|(c, ty)| (c.clone(), ty.default_datum()))
                .collect(),
        };
        self.rows.insert(uuid.to_string(), row);
    }

    /// The row with this UUID, mutable.
    pub(crate) fn row_mut(&mut self, uuid: &str) -> Option<&mut Row> {
        self.rows.get_mut(uuid)
    }

    /// Every row, mutable.
    pub(crate) fn rows_mut(&mut self) -> impl Iterator<Item = (&str, &mut Row)> {
        self.rows.iter_mut().map(|(k, v)| (k.as_str(), v))
    }

    /// Removes a row; returns it.
    pub(crate) fn remove(&mut self, uuid: &str) -> Option<Row> {
        self.rows.remove(uuid)
    }
}

/// Which notification format a body is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateFormat {
    /// `update` / the `monitor` reply.
    Update,
    /// `update2`, `update3` / the `monitor_cond` and `monitor_cond_since` replies.
    Update2,
}

/// One staged row change: the row's new content, or `None` to delete it.
type Staged = (String, String, Option<Row>);

/// The local copy of the monitored tables.
#[derive(Debug, Clone, PartialEq)]
pub struct Replica {
    tables: BTreeMap<String, TableReplica>,
    last_txn_id: Option<String>,
    seqno: u64,
    seen: u64,
}

impl Replica {
    /// An empty replica of `monitor`'s tables and columns (an empty column list means every
    /// column of the table), typed by `schema`.
    pub fn new(
        schema: &DatabaseSchema,
        monitor: &[(String, Vec<String>)],
    ) -> Result<Replica, String> {
        let mut tables = BTreeMap::new();
        for (tname, cols) in monitor {
            let ts = schema
                .table(tname)
                .ok_or_else(|| format!("no table {tname} in schema {}", schema.name))?;
            let mut columns = BTreeMap::new();
            if cols.is_empty() {
                for c in ts.columns.values() {
                    columns.insert(c.name.clone(), c.ty.clone());
                }
            }
            for c in cols {
                let ty = ts
                    .columns
                    .get(c)
                    .ok_or_else(|| format!("no column {c} in table {tname}"))?;
                columns.insert(c.clone(), ty.ty.clone());
            }
            tables.insert(
                tname.clone(),
                TableReplica {
                    name: tname.clone(),
                    columns,
                    rows: BTreeMap::new(),
                    changed_at: 0,
                },
            );
        }
        Ok(Replica {
            tables,
            last_txn_id: None,
            seqno: 0,
            seen: 0,
        })
    }

    /// The replicated table called `name`.
    pub fn table(&self, name: &str) -> Option<&TableReplica> {
        self.tables.get(name)
    }

    /// Every replicated table, by name.
    pub fn tables(&self) -> impl Iterator<Item = &TableReplica> {
        self.tables.values()
    }

    /// The replicated table called `name`, mutable (for the embedded database, which marks
    /// the change with [`Replica::touch`]).
    pub(crate) fn table_mut(&mut self, name: &str) -> Option<&mut TableReplica> {
        self.tables.get_mut(name)
    }

    /// Records a change made through the mutable accessors: the seqno grows and every table
    /// counts as changed.
    pub(crate) fn touch(&mut self) {
        self.seqno += 1;
        for t in self.tables.values_mut() {
            t.changed_at = self.seqno;
        }
    }

    /// The last transaction id the server reported (`update3`, `monitor_cond_since`); `None`
    /// before any, or when the server does not keep them (the all-zero id).
    pub fn last_txn_id(&self) -> Option<&str> {
        self.last_txn_id.as_deref()
    }

    /// Grows by one for every notification that changed a row.
    pub fn seqno(&self) -> u64 {
        self.seqno
    }

    /// True if something changed since the last call (the "changed since last look" flag).
    pub fn take_changed(&mut self) -> bool {
        let changed = self.seen != self.seqno;
        self.seen = self.seqno;
        changed
    }

    /// Applies an `update` notification's `<table-updates>`. Returns whether anything changed.
    pub fn apply_update(&mut self, updates: &Value) -> Result<bool, String> {
        let staged = self.stage(UpdateFormat::Update, updates, false)?;
        Ok(self.commit(staged))
    }

    /// Applies an `update2` notification's `<table-updates2>`.
    pub fn apply_update2(&mut self, updates: &Value) -> Result<bool, String> {
        let staged = self.stage(UpdateFormat::Update2, updates, false)?;
        Ok(self.commit(staged))
    }

    /// Applies an `update3` notification: `update2` plus the new last transaction id.
    pub fn apply_update3(&mut self, last_txn_id: &str, updates: &Value) -> Result<bool, String> {
        let id = parse_txn_id(last_txn_id)?;
        let staged = self.stage(UpdateFormat::Update2, updates, false)?;
        self.last_txn_id = id;
        Ok(self.commit(staged))
    }

    /// Replaces every row by the contents of a monitor reply (a full resynchronisation): the
    /// replica is as if new, then `updates` applied, or unchanged if they are malformed.
    /// `last_txn_id` is the id `monitor_cond_since` reported (`None` for the older methods).
    pub fn replace_all(
        &mut self,
        format: UpdateFormat,
        updates: &Value,
        last_txn_id: Option<&str>,
    ) -> Result<(), String> {
        let id = last_txn_id.map(parse_txn_id).transpose()?.flatten();
        let staged = self.stage(format, updates, true)?;
        for t in self.tables.values_mut() {
            t.rows.clear();
        }
        self.seqno += 1;
        for t in self.tables.values_mut() {
            t.changed_at = self.seqno;
        }
        self.last_txn_id = id;
        self.commit_rows(staged);
        Ok(())
    }

    /// Checks the invariants (for tests and fuzzing): every row has exactly the monitored
    /// columns, each well formed and within its type's element count.
    pub fn check_invariants(&self) -> Result<(), String> {
        for t in self.tables.values() {
            for (uuid, row) in &t.rows {
                if !row.columns.keys().eq(t.columns.keys()) {
                    return Err(format!(
                        "{} row {uuid}: columns differ from the monitored ones",
                        t.name
                    ));
                }
                for (c, d) in &row.columns {
                    let ty = &t.columns[c];
                    if !d.is_well_formed(ty) || ty.check_count(d).is_err() || d.has_named_uuid() {
                        return Err(format!("{} row {uuid} column {c}: bad datum {d:?}", t.name));
                    }
                }
            }
        }
        Ok(())
    }

    fn commit(&mut self, staged: Vec<Staged>) -> bool {
        if staged.is_empty() {
            return false;
        }
        self.seqno += 1;
        self.commit_rows(staged);
        true
    }

    fn commit_rows(&mut self, staged: Vec<Staged>) {
        for (table, uuid, row) in staged {
            if let Some(t) = self.tables.get_mut(&table) {
                t.changed_at = self.seqno;
                match row {
                    Some(r) => t.rows.insert(uuid, r),
                    None => t.rows.remove(&uuid),
                };
            }
        }
    }

    /// Checks a whole `<table-updates>`/`<table-updates2>` against the current rows (or
    /// against none, when `fresh`) and returns the row changes it makes.
    fn stage(
        &self,
        format: UpdateFormat,
        updates: &Value,
        fresh: bool,
    ) -> Result<Vec<Staged>, String> {
        let tables = updates
            .as_object()
            .ok_or("table updates must be a JSON object")?;
        let mut staged = Vec::new();
        for (tname, rows) in tables {
            let table = self
                .tables
                .get(tname)
                .ok_or_else(|| format!("update for table {tname}, which is not monitored"))?;
            let rows = rows
                .as_object()
                .ok_or_else(|| format!("table {tname}: row updates must be a JSON object"))?;
            for (uuid, update) in rows {
                if !crate::config::is_uuid(uuid) {
                    return Err(format!("table {tname}: \"{uuid}\" is not a row UUID"));
                }
                let current = if fresh { None } else { table.rows.get(uuid) };
                let new = match format {
                    UpdateFormat::Update => stage_update(table, current, update),
                    UpdateFormat::Update2 => stage_update2(table, current, update),
                }
                .map_err(|e| format!("table {tname} row {uuid}: {e}"))?;
                staged.push((tname.clone(), uuid.to_ascii_lowercase(), new));
            }
        }
        Ok(staged)
    }
}

fn parse_txn_id(id: &str) -> Result<Option<String>, String> {
    if !crate::config::is_uuid(id) {
        return Err(format!("\"{id}\" is not a transaction id"));
    }
    Ok((id != ZERO_UUID).then(|| id.to_ascii_lowercase()))
}

/// The one member of an update object, by name.
fn only_member(update: &Value) -> Result<(&str, &Value), String> {
    let obj = update
        .as_object()
        .ok_or("a row update must be a JSON object")?;
    let mut it = obj.iter();
    match (it.next(), it.next()) {
        (Some((k, v)), None) => Ok((k.as_str(), v)),
        _ => Err("a row update2 needs exactly one of initial/insert/modify/delete".into()),
    }
}

fn columns_of(v: &Value) -> Result<&Map<String, Value>, String> {
    v.as_object()
        .ok_or_else(|| "row contents must be a JSON object".to_string())
}

/// Parses one column's JSON against the table's monitored column type.
fn parse_column<'t>(
    table: &'t TableReplica,
    column: &str,
    v: &Value,
) -> Result<(&'t ColumnType, Datum), String> {
    let ty = table
        .columns
        .get(column)
        .ok_or_else(|| format!("column {column} is not monitored"))?;
    let d = Datum::from_json(v, ty).map_err(|e| format!("column {column}: {e}"))?;
    if d.has_named_uuid() {
        return Err(format!(
            "column {column}: a named-uuid in data from the server"
        ));
    }
    Ok((ty, d))
}

fn check_value(column: &str, ty: &ColumnType, d: &Datum) -> Result<(), String> {
    ty.check_count(d)
        .map_err(|e| format!("column {column}: {e}"))
}

/// A new row: every monitored column at its default, then the given ones.
fn new_row(table: &TableReplica, contents: &Value) -> Result<Row, String> {
    let mut row = Row {
        columns: table
            .columns
            .iter()
            .map(|(c, ty)| (c.clone(), ty.default_datum()))
            .collect(),
    };
    overlay(table, &mut row, contents)?;
    Ok(row)
}

/// Replaces the given columns of `row`.
fn overlay(table: &TableReplica, row: &mut Row, contents: &Value) -> Result<(), String> {
    for (c, v) in columns_of(contents)? {
        let (ty, d) = parse_column(table, c, v)?;
        check_value(c, ty, &d)?;
        row.columns.insert(c.clone(), d);
    }
    Ok(())
}

fn stage_update(
    table: &TableReplica,
    current: Option<&Row>,
    update: &Value,
) -> Result<Option<Row>, String> {
    let obj = update
        .as_object()
        .ok_or("a row update must be a JSON object")?;
    if obj.keys().any(|k| k != "old" && k != "new") {
        return Err("a row update may only have \"old\" and \"new\"".into());
    }
    let old = obj.get("old").filter(|v| !v.is_null());
    let new = obj.get("new").filter(|v| !v.is_null());
    match (old, new, current) {
        (None, Some(n), None) => new_row(table, n).map(Some),
        (Some(_), Some(n), Some(cur)) => {
            let mut row = cur.clone();
            overlay(table, &mut row, n)?;
            Ok(Some(row))
        }
        (Some(o), None, Some(_)) => {
            columns_of(o)?;
            Ok(None)
        }
        (None, None, _) => Err("a row update needs \"old\" or \"new\"".into()),
        (None, Some(_), Some(_)) => Err("insert of a row that already exists".into()),
        (Some(_), _, None) => Err("change of a row that does not exist".into()),
    }
}

fn stage_update2(
    table: &TableReplica,
    current: Option<&Row>,
    update: &Value,
) -> Result<Option<Row>, String> {
    let (kind, contents) = only_member(update)?;
    match (kind, current) {
        ("initial" | "insert", None) => new_row(table, contents).map(Some),
        ("initial" | "insert", Some(_)) => Err(format!("{kind} of a row that already exists")),
        ("modify", Some(cur)) => {
            let mut row = cur.clone();
            for (c, v) in columns_of(contents)? {
                let (ty, diff) = parse_column(table, c, v)?;
                let old = row
                    .columns
                    .get(c)
                    .cloned()
                    .unwrap_or_else(|| ty.default_datum());
                let new = old.apply_diff(&diff, ty);
                check_value(c, ty, &new)?;
                row.columns.insert(c.clone(), new);
            }
            Ok(Some(row))
        }
        ("delete", Some(_)) => Ok(None),
        ("modify" | "delete", None) => Err(format!("{kind} of a row that does not exist")),
        (other, _) => Err(format!("unknown row update \"{other}\"")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ovsdb::datum::Atom;
    use crate::ovsdb::fixtures;
    use serde_json::json;

    fn replica() -> Replica {
        Replica::new(&fixtures::schema(), &fixtures::monitored()).unwrap()
    }

    /// The row of `table` named `name`.
    fn by_name<'a>(r: &'a Replica, table: &str, name: &str) -> Option<&'a Row> {
        let name = Datum::scalar(Atom::Str(name.into()));
        Some(r.table(table)?.find("name", &name)?.1)
    }

    /// A replica synced by a `monitor_cond_since` reply message.
    fn synced_by(reply: &Value) -> Replica {
        let mut r = replica();
        let res = &reply["result"];
        r.replace_all(UpdateFormat::Update2, &res[2], res[1].as_str())
            .unwrap();
        r
    }

    /// Replays a captured monitor conversation (the same `ovs-vsctl` steps for the three
    /// formats) and checks what Interface p1 and Port p1 went through.
    fn replay(file: &str, format: UpdateFormat, method: &str) -> Replica {
        let mut r = replica();
        let msgs = fixtures::received(file, None);
        let initial = &msgs[0]["result"];
        let (body, id) = match method {
            "monitor_cond_since" => (&initial[2], initial[1].as_str()),
            _ => (initial, None),
        };
        r.replace_all(format, body, id).unwrap();
        let (mut ifaces, mut ports) = (vec![], vec![]);
        for n in &msgs[1..] {
            let p = &n["params"];
            let changed = match n["method"].as_str().unwrap() {
                "update" => r.apply_update(&p[1]),
                "update2" => r.apply_update2(&p[1]),
                "update3" => r.apply_update3(p[1].as_str().unwrap(), &p[2]),
                m => panic!("unexpected {m}"),
            }
            .unwrap();
            assert!(changed);
            r.check_invariants().unwrap();
            ifaces.extend(by_name(&r, "Interface", "p1").cloned());
            ports.extend(by_name(&r, "Port", "p1").cloned());
        }
        let s = |x: &str| Atom::Str(x.into());
        let m = |k: &str, v: &str| Datum::map(vec![(s(k), s(v))]);
        let int = |i: i64| Datum::scalar(Atom::Int(i));
        let ints = |v: &[i64]| Datum::set(v.iter().map(|&i| Atom::Int(i)).collect());
        // add-port ... ofport_request=7.
        assert_eq!(ifaces[0].get("ofport_request"), Some(&int(7)));
        assert_eq!(ifaces[0].get("options"), Some(&Datum::empty()));
        // options:key=4660 external_ids:a=b, then a removed (map diff: same value),
        // then key=5 (map diff: other value).
        assert!(ifaces
            .iter()
            .any(|i| i.get("options") == Some(&m("key", "4660"))
                && i.get("external_ids") == Some(&m("a", "b"))));
        let last = ifaces.last().unwrap();
        assert_eq!(last.get("options"), Some(&m("key", "5")));
        assert_eq!(last.get("external_ids"), Some(&Datum::empty()));
        // Port: tag 10, trunks [20,30] then [30,40] (set diff: toggles).
        let trunks: Vec<&Datum> = ports.iter().map(|p| p.get("trunks").unwrap()).collect();
        assert!(trunks.contains(&&ints(&[20, 30])));
        assert_eq!(trunks.last().unwrap(), &&ints(&[30, 40]));
        assert_eq!(ports.last().unwrap().get("tag"), Some(&int(10)));
        // After del-port p1 both rows are gone.
        assert!(by_name(&r, "Interface", "p1").is_none());
        assert!(by_name(&r, "Port", "p1").is_none());
        r
    }

    #[test]
    fn monitor_update_v1_replays() {
        let r = replay("monitor.json", UpdateFormat::Update, "monitor");
        assert!(r.last_txn_id().is_none());
        assert!(by_name(&r, "Bridge", "br3").is_some());
    }

    #[test]
    fn monitor_cond_update2_replays() {
        let r = replay("monitor_cond.json", UpdateFormat::Update2, "monitor_cond");
        let br2 = by_name(&r, "Bridge", "br2").unwrap();
        assert_eq!(br2.get("ports").unwrap().len(), 1);
        // Defaults filled in for columns the server left out.
        assert_eq!(br2.get("fail_mode"), Some(&Datum::empty()));
        let ovs = r.table("Open_vSwitch").unwrap().rows().next().unwrap().1;
        assert_eq!(ovs.get("cur_cfg"), Some(&Datum::scalar(Atom::Int(0))));
        assert_eq!(ovs.get("bridges").unwrap().len(), 2);
    }

    #[test]
    fn monitor_cond_since_update3_replays_with_zero_txn_ids() {
        // A standalone server reports the all-zero id: no id is kept.
        let r = replay(
            "monitor_cond_since.json",
            UpdateFormat::Update2,
            "monitor_cond_since",
        );
        assert!(r.last_txn_id().is_none());
    }

    #[test]
    fn clustered_resync_applies_only_missed_changes() {
        let items = fixtures::received("resync.json", Some("first"));
        let mut r = synced_by(&items[0]);
        for n in &items[1..] {
            r.apply_update3(n["params"][1].as_str().unwrap(), &n["params"][2])
                .unwrap();
        }
        let last = r.last_txn_id().unwrap().to_string();
        assert_eq!(
            fixtures::transcript("resync.json")
                .iter()
                .filter_map(|i| i.get("send"))
                .nth(1)
                .unwrap()["params"][3],
            json!(last)
        );
        let second = fixtures::received("resync.json", Some("second"));
        assert_eq!(second[0]["result"][0], json!(true), "found");
        let seq = r.seqno();
        // found=true: the reply is applied on top (insert/modify/delete, not initial).
        r.apply_update3(
            second[0]["result"][1].as_str().unwrap(),
            &second[0]["result"][2],
        )
        .unwrap();
        assert_eq!(r.seqno(), seq + 1);
        assert!(by_name(&r, "Port", "p1").is_none());
        assert!(by_name(&r, "Interface", "p2").is_some());
        r.apply_update3(
            second[1]["params"][1].as_str().unwrap(),
            &second[1]["params"][2],
        )
        .unwrap();
        // Same state as the full dump the third client got from an unknown id.
        let third = fixtures::received("resync.json", Some("third"));
        assert_eq!(third[0]["result"][0], json!(false));
        let full = synced_by(&third[0]);
        for t in r.tables() {
            assert_eq!(
                t.rows,
                full.table(t.name()).unwrap().rows,
                "table {}",
                t.name()
            );
        }
        assert_eq!(r.last_txn_id(), full.last_txn_id());
    }

    #[test]
    fn malformed_notifications_are_rejected_whole() {
        let msgs = fixtures::received("monitor_cond.json", None);
        let mut r = replica();
        r.replace_all(UpdateFormat::Update2, &msgs[0]["result"], None)
            .unwrap();
        let before = r.clone();
        // A good row update for Bridge next to a bad one for Interface: nothing applies.
        let bridge = fixtures::some_row(&r, "Bridge");
        let good = json!({"modify": {"datapath_type": "netdev"}});
        let u = "25b139bc-dd8c-4d06-8496-268a0336d4cf";
        let bad = [
            json!({"Interface": {u: {"modify": {"ofport": 1}}}}),
            json!({"Interface": {u: {"insert": {"ofport": "x"}}}}),
            json!({"Interface": {u: {"insert": {"nope": 1}}}}),
            json!({"Interface": {u: {"insert": {}, "delete": null}}}),
            json!({"Interface": {u: {"upsert": {}}}}),
            json!({"Interface": {"not-a-uuid": {"insert": {}}}}),
            json!({"Interface": {u: {"insert": {"name": ["named-uuid", "x"]}}}}),
            json!({"Interface": {u: {"insert": {"ofport": ["set", [1, 2]]}}}}),
            json!({"Interface": {u: {"insert": {"name": ["set", []]}}}}),
            json!({"Interface": []}),
            json!({"QoS": {}}),
        ];
        for b in bad {
            let mut n = b.clone();
            n["Bridge"] = json!({ bridge.clone(): good.clone() });
            let e = r.apply_update2(&n).unwrap_err();
            assert!(!e.is_empty());
            assert_eq!(r, before, "{b} changed the replica");
            let e3 = r.apply_update3(ZERO_UUID, &n).unwrap_err();
            assert_eq!(e, e3);
            assert_eq!(r, before);
        }
        assert!(r.apply_update3("nope", &json!({})).is_err());
        assert!(r
            .replace_all(UpdateFormat::Update2, &json!([]), None)
            .is_err());
        assert_eq!(r, before);
        // A modify that would break the element count (tag is 0..1) is rejected too.
        let port = fixtures::some_row(&r, "Port");
        assert!(r
            .apply_update2(&json!({"Port": {port: {"modify": {"tag": ["set", [1, 2]]}}}}))
            .is_err());
        // v1: old/new combinations.
        for b in [
            json!({"new": null}),
            json!({"old": {}, "x": 1}),
            json!({"old": {}}),
        ] {
            assert!(r.apply_update(&json!({"Bridge": {u: b}})).is_err());
        }
        assert!(
            r.apply_update(&json!({"Bridge": {bridge.clone(): {"new": {}}}}))
                .is_err(),
            "insert over an existing row"
        );
        assert_eq!(r, before);
        assert!(r.apply_update2(&json!({"Bridge": {bridge: good}})).unwrap());
        assert_ne!(r, before);
    }

    #[test]
    fn change_flags() {
        let mut r = replica();
        assert!(!r.take_changed());
        r.replace_all(UpdateFormat::Update2, &json!({}), None)
            .unwrap();
        assert!(r.take_changed(), "a full resync counts as a change");
        assert!(!r.take_changed());
        assert!(!r.apply_update2(&json!({})).unwrap());
        assert!(!r.take_changed());
        let u = "25b139bc-dd8c-4d06-8496-268a0336d4cf";
        assert!(r
            .apply_update2(&json!({"Bridge": {u: {"insert": {"name": "b"}}}}))
            .unwrap());
        assert_eq!(r.table("Bridge").unwrap().changed_at(), r.seqno());
        assert!(r.table("Port").unwrap().changed_at() < r.seqno());
        assert!(r.take_changed());
        assert!(Replica::new(&fixtures::schema(), &[("Nope".into(), vec![])]).is_err());
        assert!(Replica::new(
            &fixtures::schema(),
            &[("Bridge".into(), vec!["nope".into()])]
        )
        .is_err());
        let all = Replica::new(&fixtures::schema(), &[("Bridge".into(), vec![])]).unwrap();
        assert!(all.table("Bridge").unwrap().columns().count() > 20);
    }
}
