//! The embedded OVSDB database: the whole Open_vSwitch schema ([`super::schema::vswitch`]) held
//! in memory as a [`Replica`] of every table and column, changed by transactions the way
//! `ovsdb-server` changes `conf.db`. rvsd's embedded mode keeps its configuration here (and
//! in `DBDIR/conf.json`, [`crate::store`]); `vsctl` edits it; the daemon derives its desired
//! configuration from [`Database::replica`] with the same function the ovs-vswitchd mode
//! uses on its replica of a real server (`vswitchd::config_from_replica`).
//!
//! A transaction is a copy of the database changed freely ([`Database::insert`],
//! [`Database::write`], [`Database::delete`]) and then committed with [`Database::commit`],
//! which does what ovsdb-server does at commit, in its order and with its messages:
//! provisional UUIDs of inserted rows become fresh ones (OVSDB's named UUIDs; references
//! follow), strong references must point at existing rows and deleted rows must not be
//! referenced, rows of non-root tables that nothing references are garbage collected, tables
//! stay within `maxRows`, weak references to missing rows vanish, and indexes stay unique.
//!
//! Invariants: every row holds every column of its table, each a well-formed datum of the
//! column's type (the [`Replica`] invariants); after a successful commit, also every
//! constraint of the schema: element counts, atom constraints, referential integrity, no
//! unreferenced row in a non-root table, `maxRows`, unique indexes. Nothing here panics on
//! input: [`Database::from_json`] checks a whole file through the same commit.

use super::datum::{Atom, Datum};
use super::replica::{Replica, Row, TableReplica};
use super::schema::{vswitch, BaseType, ColumnType, DatabaseSchema};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The embedded database.
#[derive(Debug, Clone, PartialEq)]
pub struct Database {
    schema: &'static DatabaseSchema,
    data: Replica,
}

/// Why a transaction cannot commit: an OVSDB error object (`error`, `details`, and for
/// syntax errors the offending `syntax`), shown by `ovs-vsctl` as `transaction error: {…}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitError {
    pub error: String,
    pub details: String,
    pub syntax: Option<String>,
}

impl CommitError {
    fn new(error: &str, details: String) -> CommitError {
        CommitError {
            error: error.to_string(),
            details,
            syntax: None,
        }
    }
}

impl fmt::Display for CommitError {
    /// The error object as OVS prints it: JSON with sorted keys.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = Map::new();
        m.insert("details".into(), Value::from(self.details.as_str()));
        m.insert("error".into(), Value::from(self.error.as_str()));
        if let Some(s) = &self.syntax {
            m.insert("syntax".into(), Value::from(s.as_str()));
        }
        write!(f, "{}", Value::Object(m))
    }
}

impl Default for Database {
    fn default() -> Self {
        Database::new()
    }
}

/// Every (table, column, base type) of `schema` whose atoms are UUIDs referring to a table,
/// with whether the base is the column's key (else its value).
fn ref_columns(
    schema: &DatabaseSchema,
) -> impl Iterator<Item = (&str, &str, &BaseType, bool)> + '_ {
    schema.tables.values().flat_map(|t| {
        t.columns.values().flat_map(move |c| {
            let key = Some((t.name.as_str(), c.name.as_str(), &c.ty.key, true));
            let value =
                c.ty.value
                    .as_ref()
                    .map(|v| (t.name.as_str(), c.name.as_str(), v, false));
            key.into_iter()
                .chain(value)
                .filter(|(_, _, b, _)| b.ref_table.is_some())
        })
    })
}

/// The atoms of `d` on the key or value side.
fn side(d: &Datum, key: bool) -> &[Atom] {
    if key {
        &d.keys
    } else {
        &d.values
    }
}

impl Database {
    /// An empty database of the vswitch schema (not even an Open_vSwitch row: `ovs-vsctl`
    /// creates it, as with a fresh `ovsdb-tool create`).
    pub fn new() -> Database {
        let schema = vswitch();
        let all: Vec<(String, Vec<String>)> =
            schema.tables.keys().map(|t| (t.clone(), vec![])).collect();
        let data = Replica::new(schema, &all).expect("every table of a schema can be replicated");
        Database { schema, data }
    }

    /// The schema.
    pub fn schema(&self) -> &'static DatabaseSchema {
        self.schema
    }

    /// The rows, as the ovs-vswitchd mode's replica of a server holds them.
    pub fn replica(&self) -> &Replica {
        &self.data
    }

    /// The table called `name`.
    pub fn table(&self, name: &str) -> Option<&TableReplica> {
        self.data.table(name)
    }

    /// The row `uuid` of `table`.
    pub fn row(&self, table: &str, uuid: &str) -> Option<&Row> {
        self.table(table)?.row(uuid)
    }

    /// The value of `column` in row `uuid` of `table`.
    pub fn get(&self, table: &str, uuid: &str, column: &str) -> Option<&Datum> {
        self.row(table, uuid)?.get(column)
    }

    /// Inserts a row with every column at its default (a no-op for an unknown table).
    pub fn insert(&mut self, table: &str, uuid: &str) {
        if let Some(t) = self.data.table_mut(table) {
            t.insert_default(uuid);
        }
    }

    /// Sets `column` of row `uuid` in `table` (the caller checked the type).
    pub fn write(&mut self, table: &str, uuid: &str, column: &str, value: Datum) {
        if let Some(row) = self.data.table_mut(table).and_then(|t| t.row_mut(uuid)) {
            row.set(column, value);
        }
    }

    /// Deletes row `uuid` of `table`.
    pub fn delete(&mut self, table: &str, uuid: &str) {
        if let Some(t) = self.data.table_mut(table) {
            t.remove(uuid);
        }
    }

    /// Commits the transaction that made `after` out of `before` (see the module header).
    /// `provisional` lists the rows inserted with provisional UUIDs, by table: each gets a
    /// fresh UUID, returned in the map from provisional to final UUID.
    pub fn commit(
        before: &Database,
        mut after: Database,
        provisional: &[(String, String)],
    ) -> Result<(Database, BTreeMap<String, String>), CommitError> {
        let renamed = after.rename(provisional);
        after.check_refs(before)?;
        after.collect_garbage();
        after.check_max_rows()?;
        after.drop_weak_refs(before)?;
        after.check_indexes(before)?;
        after.check_values(before)?;
        after.data.touch();
        Ok((after, renamed))
    }

    /// Gives the rows in `provisional` fresh UUIDs and rewrites every reference to them.
    fn rename(&mut self, provisional: &[(String, String)]) -> BTreeMap<String, String> {
        let mut map = BTreeMap::new();
        for (table, temp) in provisional {
            let Some(t) = self.data.table_mut(table) else {
                continue;
            };
            if let Some(row) = t.remove(temp) {
                let fresh = crate::config::new_uuid();
                t.insert_default(&fresh);
                if let Some(slot) = t.row_mut(&fresh) {
                    *slot = row;
                }
                map.insert(temp.clone(), fresh);
            }
        }
        if map.is_empty() {
            return map;
        }
        let refs: Vec<(String, String, bool, ColumnType)> = ref_columns(self.schema)
            .filter_map(|(t, c, _, key)| {
                let ty = self.schema.table(t)?.columns.get(c)?.ty.clone();
                Some((t.to_string(), c.to_string(), key, ty))
            })
            .collect();
        for (table, column, key, ty) in refs {
            let Some(t) = self.data.table_mut(&table) else {
                continue;
            };
            for (_, row) in t.rows_mut() {
                for (c, d) in row.values_mut() {
                    if c != column {
                        continue;
                    }
                    let touches = side(d, key)
                        .iter()
                        .any(|a| a.as_uuid().is_some_and(|u| map.contains_key(u)));
                    if touches {
                        *d = remap(d, key, &ty, &map);
                    }
                }
            }
        }
        map
    }

    /// Rows of `self` that are new or changed relative to `before`, by table.
    fn changed_rows<'a>(&'a self, before: &'a Database) -> Vec<(&'a str, &'a str, &'a Row)> {
        let mut out = Vec::new();
        for t in self.data.tables() {
            for (uuid, row) in t.rows() {
                if before.row(t.name(), uuid) != Some(row) {
                    out.push((t.name(), uuid, row));
                }
            }
        }
        out
    }

    /// Strong references added by this transaction must point at existing rows, and rows it
    /// deleted must not be referenced any more.
    fn check_refs(&self, before: &Database) -> Result<(), CommitError> {
        for (table, uuid, row) in self.changed_rows(before) {
            for (t, column, base, key) in ref_columns(self.schema) {
                if t != table || !base.is_strong_ref() {
                    continue;
                }
                let (Some(now), Some(target)) = (row.get(column), base.ref_table.as_deref()) else {
                    continue;
                };
                let old = before.get(table, uuid, column);
                for a in side(now, key) {
                    let Some(to) = a.as_uuid() else { continue };
                    let existed = old.is_some_and(|o| side(o, key).contains(a));
                    if to == uuid || existed || self.row(target, to).is_some() {
                        continue;
                    }
                    return Err(CommitError::new(
                        "referential integrity violation",
                        format!(
                            "Table {table} column {column} row {uuid} references nonexistent row {to} in table {target}."
                        ),
                    ));
                }
            }
        }
        let counts = self.ref_counts();
        for t in before.data.tables() {
            for (uuid, _) in t.rows() {
                if self.row(t.name(), uuid).is_some() {
                    continue;
                }
                let n = counts.get(&(t.name().to_string(), uuid.to_string()));
                if let Some(n) = n.filter(|n| **n > 0) {
                    return Err(CommitError::new(
                        "referential integrity violation",
                        format!(
                            "cannot delete {} row {uuid} because of {n} remaining reference(s)",
                            t.name()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Strong references to each (table, row), self-references left out.
    fn ref_counts(&self) -> BTreeMap<(String, String), usize> {
        let mut counts = BTreeMap::new();
        for (t, column, base, key) in ref_columns(self.schema) {
            if !base.is_strong_ref() {
                continue;
            }
            let (Some(table), Some(target)) = (self.table(t), base.ref_table.as_deref()) else {
                continue;
            };
            for (uuid, row) in table.rows() {
                let Some(d) = row.get(column) else { continue };
                for to in side(d, key).iter().filter_map(Atom::as_uuid) {
                    if to != uuid {
                        *counts
                            .entry((target.to_string(), to.to_string()))
                            .or_insert(0) += 1;
                    }
                }
            }
        }
        counts
    }

    /// Deletes the rows of non-root tables that no strong reference keeps alive, until none
    /// is left (a deletion can orphan what the deleted row referenced).
    fn collect_garbage(&mut self) {
        loop {
            let counts = self.ref_counts();
            let garbage: Vec<(String, String)> = self
                .data
                .tables()
                .filter(|t| self.schema.table(t.name()).is_some_and(|s| !s.is_root))
                .flat_map(|t| {
                    t.rows()
                        .map(move |(u, _)| (t.name().to_string(), u.to_string()))
                })
                .filter(|k| counts.get(k).copied().unwrap_or(0) == 0)
                .collect();
            if garbage.is_empty() {
                return;
            }
            for (t, u) in garbage {
                self.delete(&t, &u);
            }
        }
    }

    fn check_max_rows(&self) -> Result<(), CommitError> {
        for t in self.data.tables() {
            let max = self.schema.table(t.name()).and_then(|s| s.max_rows);
            if let Some(max) = max.filter(|m| t.len() as u64 > *m) {
                return Err(CommitError::new(
                    "constraint violation",
                    format!(
                        "transaction causes \"{}\" table to contain {} rows, greater than the schema-defined limit of {max} row(s)",
                        t.name(),
                        t.len()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Removes weak references to rows that do not exist (any more).
    fn drop_weak_refs(&mut self, before: &Database) -> Result<(), CommitError> {
        let weak: Vec<(String, String, String, bool, ColumnType)> = ref_columns(self.schema)
            .filter(|(_, _, b, _)| b.is_weak_ref())
            .filter_map(|(t, c, b, key)| {
                let ty = self.schema.table(t)?.columns.get(c)?.ty.clone();
                Some((t.into(), c.into(), b.ref_table.clone()?, key, ty))
            })
            .collect();
        for (table, column, target, key, ty) in weak {
            let live: BTreeSet<String> = self
                .table(&target)
                .map(|t| t.rows().map(|(u, _)| u.to_string()).collect())
                .unwrap_or_default();
            let mut changes = Vec::new();
            for (uuid, row) in self.table(&table).map(|t| t.rows()).into_iter().flatten() {
                let Some(d) = row.get(&column) else { continue };
                let dead = |a: &Atom| a.as_uuid().is_some_and(|u| !live.contains(u));
                if !side(d, key).iter().any(dead) {
                    continue;
                }
                let mut kept = Datum::empty();
                for i in 0..d.len() {
                    let a = if key { d.keys.get(i) } else { d.values.get(i) };
                    if a.is_some_and(dead) {
                        continue;
                    }
                    if let Some(k) = d.keys.get(i) {
                        kept.insert(k.clone(), d.values.get(i).cloned());
                    }
                }
                if (kept.len() as u64) < u64::from(ty.min) {
                    let new = if before.row(&table, uuid).is_some() {
                        ""
                    } else {
                        "(inserted within this transaction) "
                    };
                    return Err(CommitError::new(
                        "constraint violation",
                        format!(
                            "Deletion of {} weak reference(s) to deleted (or never-existing) rows from column \"{column}\" in \"{table}\" row {uuid} {new}caused this column to become empty, but constraints on this column disallow an empty column.",
                            d.len() - kept.len()
                        ),
                    ));
                }
                changes.push((uuid.to_string(), kept));
            }
            for (uuid, d) in changes {
                self.write(&table, &uuid, &column, d);
            }
        }
        Ok(())
    }

    /// No two rows of a table may have the same values in the columns of an index.
    fn check_indexes(&self, before: &Database) -> Result<(), CommitError> {
        for t in self.data.tables() {
            let Some(ts) = self.schema.table(t.name()) else {
                continue;
            };
            for index in &ts.indexes {
                let mut seen: BTreeMap<Vec<String>, &str> = BTreeMap::new();
                for (uuid, row) in t.rows() {
                    let key: Vec<String> = index
                        .iter()
                        .map(|c| {
                            let v = row.get(c).map(|d| format!("{d:?}")).unwrap_or_default();
                            if c == "_uuid" {
                                uuid.to_string()
                            } else {
                                v
                            }
                        })
                        .collect();
                    if let Some(other) = seen.insert(key, uuid) {
                        return Err(self.duplicate_index(before, t.name(), index, other, uuid));
                    }
                }
            }
        }
        Ok(())
    }

    /// OVS's message for two rows `a`, `b` that an index makes duplicates: the row with the
    /// greater UUID first.
    fn duplicate_index(
        &self,
        before: &Database,
        table: &str,
        index: &[String],
        a: &str,
        b: &str,
    ) -> CommitError {
        let (first, second) = if a > b { (a, b) } else { (b, a) };
        let values = |db: &Database, uuid: &str| -> String {
            let parts: Vec<String> = index
                .iter()
                .map(|c| {
                    let ty = self.schema.table(table).and_then(|t| t.column_type(c));
                    match (db.get(table, uuid, c), ty) {
                        (Some(d), Some(ty)) => d.to_text(ty),
                        _ => uuid.to_string(),
                    }
                })
                .collect();
            english_list(&parts)
        };
        let describe = |title: &str, uuid: &str| -> String {
            let head = format!("{title} row, with UUID {uuid}, ");
            let (old, new) = (before.row(table, uuid), self.row(table, uuid));
            let tail = match old {
                None => "was inserted by this transaction.".to_string(),
                Some(o) if Some(o) == new => "existed in the database before this transaction and was not modified by the transaction.".to_string(),
                Some(_) if values(before, uuid) == values(self, uuid) => "existed in the database before this transaction, which modified some of the row's columns but not any columns in this index.".to_string(),
                Some(_) => format!(
                    "had the following index values before the transaction: {}.",
                    values(before, uuid)
                ),
            };
            head + &tail
        };
        let names: Vec<String> = index.iter().map(|c| format!("\"{c}\"")).collect();
        let plural = if index.len() > 1 { "s" } else { "" };
        CommitError::new(
            "constraint violation",
            format!(
                "Transaction causes multiple rows in \"{table}\" table to have identical values ({}) for index on column{plural} {}.  {}  {}",
                values(self, first),
                english_list(&names),
                describe("First", first),
                describe("Second", second)
            ),
        )
    }

    /// Element counts and atom constraints of the rows this transaction changed.
    fn check_values(&self, before: &Database) -> Result<(), CommitError> {
        for (table, uuid, row) in self.changed_rows(before) {
            let Some(ts) = self.schema.table(table) else {
                continue;
            };
            for (c, d) in row.columns() {
                let Some(col) = ts.columns.get(c) else {
                    continue;
                };
                if before.get(table, uuid, c) == Some(d) {
                    continue;
                }
                col.ty
                    .check_count(d)
                    .and_then(|()| col.ty.check_atoms(d))
                    .map_err(|e| {
                        CommitError::new(
                            "constraint violation",
                            format!("{table} row {uuid} column {c}: {e}"),
                        )
                    })?;
            }
        }
        Ok(())
    }

    /// The database as JSON, as [`Database::from_json`] reads it: `{TABLE: {UUID: {COLUMN:
    /// VALUE}}}` with every row and its persistent (non-ephemeral) columns that differ from
    /// their defaults, in OVSDB's wire form.
    pub fn to_json(&self) -> Value {
        let mut tables = Map::new();
        for t in self.data.tables() {
            let Some(ts) = self.schema.table(t.name()) else {
                continue;
            };
            if t.is_empty() {
                continue;
            }
            let mut rows = Map::new();
            for (uuid, row) in t.rows() {
                let mut cols = Map::new();
                for (c, d) in row.columns() {
                    let Some(col) = ts.columns.get(c) else {
                        continue;
                    };
                    if col.ephemeral || *d == col.ty.default_datum() {
                        continue;
                    }
                    cols.insert(c.to_string(), d.to_json(&col.ty));
                }
                rows.insert(uuid.to_string(), Value::Object(cols));
            }
            tables.insert(t.name().to_string(), Value::Object(rows));
        }
        Value::Object(tables)
    }

    /// Reads [`Database::to_json`]'s form. Unknown tables or columns, malformed values and
    /// anything a commit refuses (dangling strong references, duplicate names, values out of
    /// their constraints, …) are errors naming the place; unreferenced rows of non-root tables
    /// are dropped, as a commit would.
    pub fn from_json(v: &Value) -> Result<Database, String> {
        let mut db = Database::new();
        let tables = v.as_object().ok_or("the database must be a JSON object")?;
        for (tname, rows) in tables {
            let ts = db
                .schema
                .table(tname)
                .ok_or_else(|| format!("unknown table {tname}"))?;
            let rows = rows
                .as_object()
                .ok_or_else(|| format!("table {tname}: rows must be a JSON object"))?;
            for (uuid, cols) in rows {
                if !crate::config::is_uuid(uuid) || uuid.bytes().any(|b| b.is_ascii_uppercase()) {
                    return Err(format!("table {tname}: \"{uuid}\" is not a row UUID"));
                }
                let cols = cols
                    .as_object()
                    .ok_or_else(|| format!("{tname} row {uuid}: columns must be a JSON object"))?;
                db.insert(tname, uuid);
                for (c, value) in cols {
                    let col = ts
                        .columns
                        .get(c)
                        .ok_or_else(|| format!("{tname} row {uuid}: unknown column {c}"))?;
                    let d = Datum::from_json(value, &col.ty)
                        .map_err(|e| format!("{tname} row {uuid} column {c}: {e}"))?;
                    if d.has_named_uuid() {
                        return Err(format!("{tname} row {uuid} column {c}: a named UUID"));
                    }
                    db.write(tname, uuid, c, d);
                }
            }
        }
        let (db, _) = Database::commit(&Database::new(), db, &[]).map_err(|e| e.to_string())?;
        db.data.check_invariants()?;
        Ok(db)
    }
}

/// `d` with the UUIDs on one side replaced through `map`, re-sorted.
fn remap(d: &Datum, key: bool, ty: &ColumnType, map: &BTreeMap<String, String>) -> Datum {
    let swap = |a: &Atom| match a.as_uuid().and_then(|u| map.get(u)) {
        Some(fresh) => Atom::Uuid(fresh.clone()),
        None => a.clone(),
    };
    if ty.is_map() {
        Datum::map(
            d.pairs()
                .map(|(k, v)| {
                    if key {
                        (swap(k), v.clone())
                    } else {
                        (k.clone(), swap(v))
                    }
                })
                .collect(),
        )
    } else {
        Datum::set(d.keys.iter().map(swap).collect())
    }
}

/// OVS's English list: "a", "a and b", "a, b, and c".
pub fn english_list(items: &[String]) -> String {
    let n = items.len();
    let mut out = String::new();
    for (i, s) in items.iter().enumerate() {
        out.push_str(match i {
            0 => "",
            _ if i < n - 1 => ", ",
            _ if n > 2 => ", and ",
            _ => " and ",
        });
        out.push_str(s);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const OVS: &str = "11111111-1111-4111-8111-111111111111";
    const BR: &str = "22222222-2222-4222-8222-222222222222";
    const PORT: &str = "33333333-3333-4333-8333-333333333333";
    const IFACE: &str = "44444444-4444-4444-8444-444444444444";

    fn uuid(u: &str) -> Atom {
        Atom::Uuid(u.to_string())
    }

    fn s(v: &str) -> Datum {
        Datum::scalar(Atom::Str(v.to_string()))
    }

    /// Open_vSwitch → bridge br0 → port br0 → interface br0.
    fn one_bridge() -> Database {
        let mut db = Database::new();
        db.insert("Open_vSwitch", OVS);
        db.insert("Bridge", BR);
        db.insert("Port", PORT);
        db.insert("Interface", IFACE);
        db.write("Open_vSwitch", OVS, "bridges", Datum::scalar(uuid(BR)));
        db.write("Bridge", BR, "name", s("br0"));
        db.write("Bridge", BR, "ports", Datum::scalar(uuid(PORT)));
        db.write("Port", PORT, "name", s("br0"));
        db.write("Port", PORT, "interfaces", Datum::scalar(uuid(IFACE)));
        db.write("Interface", IFACE, "name", s("br0"));
        db.write("Interface", IFACE, "type", s("internal"));
        Database::commit(&Database::new(), db, &[]).unwrap().0
    }

    #[test]
    fn unreferenced_rows_of_non_root_tables_are_collected() {
        let db = one_bridge();
        let mut t = db.clone();
        t.write("Open_vSwitch", OVS, "bridges", Datum::empty());
        let (after, _) = Database::commit(&db, t, &[]).unwrap();
        for table in ["Bridge", "Port", "Interface"] {
            assert!(after.table(table).unwrap().is_empty(), "{table}");
        }
        assert!(after.row("Open_vSwitch", OVS).is_some(), "a root row stays");
        // A QoS row (root) with nothing referring to it stays too.
        let mut t = after.clone();
        t.insert("QoS", BR);
        let (after, _) = Database::commit(&db, t, &[]).unwrap();
        assert!(after.row("QoS", BR).is_some());
    }

    #[test]
    fn dangling_strong_references_and_referenced_deletions_fail() {
        let db = one_bridge();
        let mut t = db.clone();
        t.write(
            "Bridge",
            BR,
            "ports",
            Datum::set(vec![uuid(PORT), uuid(OVS)]),
        );
        let e = Database::commit(&db, t, &[]).unwrap_err();
        assert_eq!(e.error, "referential integrity violation");
        assert_eq!(
            e.details,
            format!("Table Bridge column ports row {BR} references nonexistent row {OVS} in table Port.")
        );
        let mut t = db.clone();
        t.delete("Port", PORT);
        let e = Database::commit(&db, t, &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{{\"details\":\"cannot delete Port row {PORT} because of 1 remaining reference(s)\",\"error\":\"referential integrity violation\"}}")
        );
    }

    #[test]
    fn weak_references_to_deleted_rows_vanish() {
        let db = one_bridge();
        let mirror = "55555555-5555-4555-8555-555555555555";
        let mut t = db.clone();
        t.insert("Mirror", mirror);
        t.write("Mirror", mirror, "name", s("m0"));
        t.write("Mirror", mirror, "output_port", Datum::scalar(uuid(PORT)));
        t.write("Bridge", BR, "mirrors", Datum::scalar(uuid(mirror)));
        let (db, _) = Database::commit(&db, t, &[]).unwrap();
        assert_eq!(
            db.get("Mirror", mirror, "output_port"),
            Some(&Datum::scalar(uuid(PORT)))
        );
        let mut t = db.clone();
        t.write("Bridge", BR, "ports", Datum::empty());
        let (after, _) = Database::commit(&db, t, &[]).unwrap();
        assert_eq!(
            after.get("Mirror", mirror, "output_port"),
            Some(&Datum::empty())
        );
    }

    #[test]
    fn indexes_and_max_rows_hold() {
        let db = one_bridge();
        let mut t = db.clone();
        let other = "66666666-6666-4666-8666-666666666666";
        t.insert("Bridge", other);
        t.write("Bridge", other, "name", s("br0"));
        t.write(
            "Open_vSwitch",
            OVS,
            "bridges",
            Datum::set(vec![uuid(BR), uuid(other)]),
        );
        let e = Database::commit(&db, t, &[]).unwrap_err();
        assert_eq!(e.error, "constraint violation");
        assert_eq!(
            e.details,
            format!("Transaction causes multiple rows in \"Bridge\" table to have identical values (br0) for index on column \"name\".  First row, with UUID {other}, was inserted by this transaction.  Second row, with UUID {BR}, existed in the database before this transaction and was not modified by the transaction.")
        );
        let mut t = db.clone();
        t.insert("Open_vSwitch", other);
        let e = Database::commit(&db, t, &[]).unwrap_err();
        assert_eq!(e.details, "transaction causes \"Open_vSwitch\" table to contain 2 rows, greater than the schema-defined limit of 1 row(s)");
    }

    #[test]
    fn provisional_uuids_become_fresh_ones_and_references_follow() {
        let db = one_bridge();
        let mut t = db.clone();
        let temp = "77777777-7777-4777-8777-777777777777";
        t.insert("Bridge", temp);
        t.write("Bridge", temp, "name", s("br1"));
        t.write(
            "Open_vSwitch",
            OVS,
            "bridges",
            Datum::set(vec![uuid(BR), uuid(temp)]),
        );
        let (after, map) = Database::commit(&db, t, &[("Bridge".into(), temp.into())]).unwrap();
        let fresh = &map[temp];
        assert_ne!(fresh, temp);
        assert!(after.row("Bridge", temp).is_none());
        assert_eq!(after.get("Bridge", fresh, "name"), Some(&s("br1")));
        let bridges = after.get("Open_vSwitch", OVS, "bridges").unwrap();
        assert!(bridges.contains(&uuid(fresh)) && bridges.contains(&uuid(BR)));
        assert!(
            bridges.is_well_formed(&after.schema().tables["Open_vSwitch"].columns["bridges"].ty)
        );
    }

    #[test]
    fn json_round_trip_and_strict_loading() {
        let db = one_bridge();
        let v = db.to_json();
        assert_eq!(
            v["Interface"][IFACE],
            json!({"name": "br0", "type": "internal"})
        );
        let back = Database::from_json(&v).unwrap();
        assert_eq!(back.to_json(), v);
        for (bad, want) in [
            (json!({"Nope": {}}), "unknown table Nope"),
            (json!({"Bridge": {BR: {"nope": 1}}}), "unknown column nope"),
            (
                json!({"Queue": {PORT: {"dscp": 64}}}),
                "64 is not in the valid range 0 to 63",
            ),
            (
                json!({"Open_vSwitch": {OVS: {"bridges": ["uuid", BR]}}}),
                "references nonexistent row",
            ),
            (json!([]), "must be a JSON object"),
        ] {
            let e = Database::from_json(&bad).unwrap_err();
            assert!(e.contains(want), "{e} lacks {want}");
        }
    }

    #[test]
    fn english_lists() {
        let l = |v: &[&str]| english_list(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(l(&["a"]), "a");
        assert_eq!(l(&["a", "b"]), "a and b");
        assert_eq!(l(&["a", "b", "c"]), "a, b, and c");
    }
}
