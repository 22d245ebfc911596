//! OVSDB database schemas (RFC 7047 section 3.2) as `get_schema` returns them: tables, columns,
//! column types with their constraints, root tables, indexes and the schema version.
//!
//! Invariants: a parsed [`DatabaseSchema`] names every table and column it holds, each column
//! type has `min <= max`, `max >= 1` (`max == UNLIMITED` means "unlimited"), `min` is 0 or 1,
//! and a `value` type only on maps. Parsing never panics; errors name the table and column.
//! The implicit columns `_uuid` and `_version` are answered by [`TableSchema::column_type`].

use super::datum::{Atom, Datum};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// `max` of a column type that has no upper bound.
pub const UNLIMITED: u32 = u32::MAX;

/// OVSDB atomic types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtomicType {
    Int,
    Real,
    Bool,
    Str,
    Uuid,
}

impl AtomicType {
    fn parse(s: &str) -> Option<AtomicType> {
        Some(match s {
            "integer" => AtomicType::Int,
            "real" => AtomicType::Real,
            "boolean" => AtomicType::Bool,
            "string" => AtomicType::Str,
            "uuid" => AtomicType::Uuid,
            _ => return None,
        })
    }

    /// The name the protocol uses ("integer", "real", "boolean", "string", "uuid").
    pub fn name(self) -> &'static str {
        match self {
            AtomicType::Int => "integer",
            AtomicType::Real => "real",
            AtomicType::Bool => "boolean",
            AtomicType::Str => "string",
            AtomicType::Uuid => "uuid",
        }
    }

    /// OVSDB's default atom of this type (0, 0.0, false, "", the all-zero UUID).
    pub fn default_atom(self) -> Atom {
        match self {
            AtomicType::Int => Atom::Int(0),
            AtomicType::Real => Atom::Real(0.0),
            AtomicType::Bool => Atom::Bool(false),
            AtomicType::Str => Atom::Str(String::new()),
            AtomicType::Uuid => Atom::Uuid(ZERO_UUID.to_string()),
        }
    }
}

/// The all-zero UUID (OVSDB's "no transaction id" and default UUID).
pub const ZERO_UUID: &str = "00000000-0000-0000-0000-000000000000";

/// Strong references keep their target alive; weak ones vanish with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RefType {
    #[default]
    Strong,
    Weak,
}

/// The type of a column's keys or values, with its constraints.
#[derive(Debug, Clone, PartialEq)]
pub struct BaseType {
    pub atomic: AtomicType,
    /// Allowed values (a set of atoms of `atomic`), if restricted.
    pub enum_: Option<Datum>,
    pub min_integer: Option<i64>,
    pub max_integer: Option<i64>,
    pub min_real: Option<f64>,
    pub max_real: Option<f64>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    /// For UUIDs: the table the UUID points into.
    pub ref_table: Option<String>,
    pub ref_type: RefType,
}

impl BaseType {
    /// An unconstrained base type.
    pub const fn plain(atomic: AtomicType) -> BaseType {
        BaseType {
            atomic,
            enum_: None,
            min_integer: None,
            max_integer: None,
            min_real: None,
            max_real: None,
            min_length: None,
            max_length: None,
            ref_table: None,
            ref_type: RefType::Strong,
        }
    }

    /// True for a reference that keeps its target alive.
    pub fn is_strong_ref(&self) -> bool {
        self.ref_table.is_some() && self.ref_type == RefType::Strong
    }

    /// True for a reference that vanishes with its target.
    pub fn is_weak_ref(&self) -> bool {
        self.ref_table.is_some() && self.ref_type == RefType::Weak
    }

    /// OVS's `ovsdb_atom_check_constraints`: `Err` holds the details of the "constraint
    /// violation" in OVS's words. References are checked at commit, not here.
    pub fn check_atom(&self, atom: &Atom) -> Result<(), String> {
        if let Some(allowed) = &self.enum_ {
            if !allowed.contains(atom) {
                let set = ColumnType {
                    key: BaseType::plain(self.atomic),
                    value: None,
                    min: 1,
                    max: UNLIMITED,
                };
                return Err(format!(
                    "{} is not one of the allowed values ({})",
                    atom.to_text(),
                    allowed.to_text(&set)
                ));
            }
        }
        match atom {
            Atom::Int(v) => {
                let (lo, hi) = (self.min_integer, self.max_integer);
                if lo.is_none_or(|lo| *v >= lo) && hi.is_none_or(|hi| *v <= hi) {
                    return Ok(());
                }
                Err(match (lo, hi) {
                    (Some(lo), Some(hi)) => {
                        format!("{v} is not in the valid range {lo} to {hi} (inclusive)")
                    }
                    (Some(lo), None) => format!("{v} is less than minimum allowed value {lo}"),
                    (None, hi) => format!(
                        "{v} is greater than maximum allowed value {}",
                        hi.unwrap_or(i64::MAX)
                    ),
                })
            }
            Atom::Real(v) => {
                let (lo, hi) = (self.min_real, self.max_real);
                if lo.is_none_or(|lo| *v >= lo) && hi.is_none_or(|hi| *v <= hi) {
                    return Ok(());
                }
                let g = super::datum::format_real;
                Err(match (lo, hi) {
                    (Some(lo), Some(hi)) => format!(
                        "{} is not in the valid range {} to {} (inclusive)",
                        g(*v),
                        g(lo),
                        g(hi)
                    ),
                    (Some(lo), None) => {
                        format!("{} is less than minimum allowed value {}", g(*v), g(lo))
                    }
                    (None, hi) => format!(
                        "{} is greater than maximum allowed value {}",
                        g(*v),
                        g(hi.unwrap_or(f64::MAX))
                    ),
                })
            }
            Atom::Str(s) => {
                let n = s.chars().count() as u64;
                if let Some(min) = self.min_length.filter(|m| n < *m) {
                    return Err(format!(
                        "\"{s}\" length {n} is less than minimum allowed length {min}"
                    ));
                }
                if let Some(max) = self.max_length.filter(|m| n > *m) {
                    return Err(format!(
                        "\"{s}\" length {n} is greater than maximum allowed length {max}"
                    ));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn from_json(v: &Value) -> Result<BaseType, String> {
        let obj = match v {
            Value::String(s) => {
                return AtomicType::parse(s)
                    .map(BaseType::plain)
                    .ok_or_else(|| format!("unknown atomic type \"{s}\""))
            }
            Value::Object(o) => o,
            _ => return Err(format!("base type must be a string or an object, not {v}")),
        };
        let name = required(obj, "type", Value::as_str, "a string")?;
        let atomic =
            AtomicType::parse(name).ok_or_else(|| format!("unknown atomic type \"{name}\""))?;
        let mut bt = BaseType::plain(atomic);
        bt.min_integer = member(obj, "minInteger", Value::as_i64, "an integer")?;
        bt.max_integer = member(obj, "maxInteger", Value::as_i64, "an integer")?;
        bt.min_real = member(obj, "minReal", Value::as_f64, "a number")?;
        bt.max_real = member(obj, "maxReal", Value::as_f64, "a number")?;
        bt.min_length = member(obj, "minLength", Value::as_u64, "a non-negative integer")?;
        bt.max_length = member(obj, "maxLength", Value::as_u64, "a non-negative integer")?;
        if let Some(e) = obj.get("enum") {
            let set_type = ColumnType {
                key: BaseType::plain(atomic),
                value: None,
                min: 0,
                max: UNLIMITED,
            };
            bt.enum_ = Some(Datum::from_json(e, &set_type).map_err(|e| format!("enum: {e}"))?);
        }
        if let Some(t) = obj.get("refTable") {
            if atomic != AtomicType::Uuid {
                return Err("refTable is only valid on uuid types".into());
            }
            bt.ref_table = Some(
                t.as_str()
                    .ok_or("\"refTable\" must be a string")?
                    .to_string(),
            );
        }
        bt.ref_type = match obj.get("refType").map(|v| v.as_str()) {
            None | Some(Some("strong")) => RefType::Strong,
            Some(Some("weak")) => RefType::Weak,
            Some(_) => return Err("\"refType\" must be \"strong\" or \"weak\"".into()),
        };
        Ok(bt)
    }
}

/// A column type: a set of `min..=max` keys, or a map when `value` is set.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnType {
    pub key: BaseType,
    pub value: Option<BaseType>,
    pub min: u32,
    /// [`UNLIMITED`] for "unlimited".
    pub max: u32,
}

/// The type of the implicit `_uuid` and `_version` columns.
pub static UUID_COLUMN_TYPE: ColumnType = ColumnType::scalar(AtomicType::Uuid);

impl ColumnType {
    /// Exactly one atom of `atomic`.
    pub const fn scalar(atomic: AtomicType) -> ColumnType {
        ColumnType {
            key: BaseType::plain(atomic),
            value: None,
            min: 1,
            max: 1,
        }
    }

    /// A map (key/value pairs) rather than a set.
    pub fn is_map(&self) -> bool {
        self.value.is_some()
    }

    /// Exactly one key and no value: a plain scalar column (whose update2 diff is the new
    /// value rather than a set of elements to toggle).
    pub fn is_scalar(&self) -> bool {
        self.value.is_none() && self.min == 1 && self.max == 1
    }

    /// OVSDB's default value: empty when `min` is 0, else the default atom(s).
    pub fn default_datum(&self) -> Datum {
        if self.min == 0 {
            return Datum::empty();
        }
        Datum {
            keys: vec![self.key.atomic.default_atom()],
            values: self.value.iter().map(|v| v.atomic.default_atom()).collect(),
        }
    }

    /// OVS's `ovsdb_type_to_english`: "string", "set of up to 4096 integers", "map of
    /// (string, string) pairs", …
    pub fn to_english(&self) -> String {
        let key = self.key.atomic.name();
        if self.is_scalar() {
            return key.to_string();
        }
        let mut out = String::from(if self.is_map() { "map" } else { "set" });
        if self.max == UNLIMITED {
            if self.min > 0 {
                out.push_str(&format!(" of {} or more", self.min));
            } else {
                out.push_str(" of");
            }
        } else if self.min > 0 {
            out.push_str(&format!(" of {} to {}", self.min, self.max));
        } else {
            out.push_str(&format!(" of up to {}", self.max));
        }
        match &self.value {
            None => out.push_str(&format!(" {key}s")),
            Some(v) => out.push_str(&format!(" ({key}, {}) pairs", v.atomic.name())),
        }
        out
    }

    /// Checks every atom of `d` against the key and value constraints.
    pub fn check_atoms(&self, d: &Datum) -> Result<(), String> {
        for k in &d.keys {
            self.key.check_atom(k)?;
        }
        if let Some(vt) = &self.value {
            for v in &d.values {
                vt.check_atom(v)?;
            }
        }
        Ok(())
    }

    /// Checks the number of elements of `d` against `min..=max`.
    pub fn check_count(&self, d: &Datum) -> Result<(), String> {
        let n = d.len();
        if n < self.min as usize || n > self.max as usize {
            let max = if self.max == UNLIMITED {
                "unlimited".to_string()
            } else {
                self.max.to_string()
            };
            return Err(format!(
                "{n} elements where {}..{max} are allowed",
                self.min
            ));
        }
        Ok(())
    }

    fn from_json(v: &Value) -> Result<ColumnType, String> {
        let Value::Object(obj) = v else {
            let key = BaseType::from_json(v)?;
            return Ok(ColumnType {
                key,
                value: None,
                min: 1,
                max: 1,
            });
        };
        if !obj.contains_key("key") {
            // An atomic type written as an object ({"type": "integer", ...}).
            return Ok(ColumnType {
                key: BaseType::from_json(v)?,
                value: None,
                min: 1,
                max: 1,
            });
        }
        let key = BaseType::from_json(&obj["key"])?;
        let value = obj.get("value").map(BaseType::from_json).transpose()?;
        let min = match obj.get("min") {
            None => 1,
            Some(v) => match v.as_u64() {
                Some(n @ (0 | 1)) => n as u32,
                _ => return Err("\"min\" must be 0 or 1".into()),
            },
        };
        let max = match obj.get("max") {
            None => 1,
            Some(Value::String(s)) if s == "unlimited" => UNLIMITED,
            Some(v) => match v.as_u64() {
                Some(n) if n >= 1 && n < u64::from(UNLIMITED) => n as u32,
                _ => return Err("\"max\" must be a positive integer or \"unlimited\"".into()),
            },
        };
        if min > max {
            return Err("\"min\" exceeds \"max\"".into());
        }
        Ok(ColumnType {
            key,
            value,
            min,
            max,
        })
    }
}

/// One column.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnSchema {
    pub name: String,
    pub ty: ColumnType,
    /// Not persisted to disk by the server.
    pub ephemeral: bool,
    /// Clients may change it after the row is inserted.
    pub mutable: bool,
}

/// One table.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSchema {
    pub name: String,
    pub columns: BTreeMap<String, ColumnSchema>,
    /// Rows of a non-root table that nothing references are garbage collected.
    pub is_root: bool,
    pub max_rows: Option<u64>,
    /// Sets of columns whose values are unique across the table.
    pub indexes: Vec<Vec<String>>,
}

impl TableSchema {
    /// The type of a column, including the implicit `_uuid` and `_version`.
    pub fn column_type(&self, column: &str) -> Option<&ColumnType> {
        match column {
            "_uuid" | "_version" => Some(&UUID_COLUMN_TYPE),
            _ => self.columns.get(column).map(|c| &c.ty),
        }
    }

    fn from_json(name: &str, v: &Value) -> Result<TableSchema, String> {
        let obj = v.as_object().ok_or("a table must be an object")?;
        let cols = required(obj, "columns", Value::as_object, "an object")?;
        let mut columns = BTreeMap::new();
        for (cname, c) in cols {
            let col = column_from_json(cname, c).map_err(|e| format!("column {cname}: {e}"))?;
            columns.insert(cname.clone(), col);
        }
        let indexes = match obj.get("indexes") {
            None => vec![],
            Some(Value::Array(ix)) => ix
                .iter()
                .map(|i| {
                    let names = i.as_array().ok_or("an index must be an array")?;
                    names
                        .iter()
                        .map(|n| match n.as_str() {
                            Some(n) if columns.contains_key(n) || n == "_uuid" => Ok(n.to_string()),
                            _ => Err(format!("index names an unknown column {n}")),
                        })
                        .collect::<Result<Vec<String>, String>>()
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err("\"indexes\" must be an array".into()),
        };
        Ok(TableSchema {
            name: name.to_string(),
            columns,
            is_root: bool_member(obj, "isRoot", false)?,
            max_rows: member(obj, "maxRows", Value::as_u64, "a positive integer")?,
            indexes,
        })
    }
}

fn column_from_json(name: &str, v: &Value) -> Result<ColumnSchema, String> {
    let obj = v.as_object().ok_or("a column must be an object")?;
    let ty = ColumnType::from_json(obj.get("type").ok_or("\"type\" is missing")?)?;
    Ok(ColumnSchema {
        name: name.to_string(),
        ty,
        ephemeral: bool_member(obj, "ephemeral", false)?,
        mutable: bool_member(obj, "mutable", true)?,
    })
}

/// An optional member converted by `conv`; `what` names the expected kind in the error.
fn member<'a, T>(
    obj: &'a Map<String, Value>,
    key: &str,
    conv: fn(&'a Value) -> Option<T>,
    what: &str,
) -> Result<Option<T>, String> {
    obj.get(key)
        .map(|v| conv(v).ok_or_else(|| format!("\"{key}\" must be {what}")))
        .transpose()
}

/// A member that must be there, converted by `conv`.
fn required<'a, T>(
    obj: &'a Map<String, Value>,
    key: &str,
    conv: fn(&'a Value) -> Option<T>,
    what: &str,
) -> Result<T, String> {
    member(obj, key, conv, what)?.ok_or_else(|| format!("\"{key}\" is missing"))
}

fn bool_member(obj: &Map<String, Value>, key: &str, default: bool) -> Result<bool, String> {
    Ok(member(obj, key, Value::as_bool, "a boolean")?.unwrap_or(default))
}

/// The Open_vSwitch database schema rvs serves in its embedded mode: Debian's OVS 3.1
/// `vswitch.ovsschema`, kept as compact data in `control/schema/vswitch.schema.json` (regenerated
/// by `control/schema/vswitch-schema.sh`; the tests check it against the installed file).
pub const VSWITCH_SCHEMA_JSON: &str = include_str!("../../schema/vswitch.schema.json");

/// [`VSWITCH_SCHEMA_JSON`], parsed once.
pub fn vswitch() -> &'static DatabaseSchema {
    static SCHEMA: std::sync::OnceLock<DatabaseSchema> = std::sync::OnceLock::new();
    SCHEMA.get_or_init(|| {
        let v: Value = serde_json::from_str(VSWITCH_SCHEMA_JSON)
            .expect("the embedded schema is JSON (checked by the tests)");
        DatabaseSchema::from_json(&v).expect("the embedded schema parses (checked by the tests)")
    })
}

/// A whole database schema.
#[derive(Debug, Clone, PartialEq)]
pub struct DatabaseSchema {
    pub name: String,
    pub version: String,
    pub cksum: Option<String>,
    pub tables: BTreeMap<String, TableSchema>,
}

impl DatabaseSchema {
    /// Parses a `<database-schema>` (the result of `get_schema`, or a `.ovsschema` file).
    pub fn from_json(v: &Value) -> Result<DatabaseSchema, String> {
        let obj = v.as_object().ok_or("a database schema must be an object")?;
        let name = required(obj, "name", Value::as_str, "a string")?;
        let version = required(obj, "version", Value::as_str, "a string")?;
        let tables_json = required(obj, "tables", Value::as_object, "an object")?;
        let mut tables = BTreeMap::new();
        for (tname, t) in tables_json {
            let table =
                TableSchema::from_json(tname, t).map_err(|e| format!("table {tname}: {e}"))?;
            tables.insert(tname.clone(), table);
        }
        for t in tables.values() {
            for c in t.columns.values() {
                for bt in std::iter::once(&c.ty.key).chain(&c.ty.value) {
                    if let Some(rt) = &bt.ref_table {
                        if !tables.contains_key(rt) {
                            return Err(format!(
                                "table {} column {}: refTable {rt} does not exist",
                                t.name, c.name
                            ));
                        }
                    }
                }
            }
        }
        Ok(DatabaseSchema {
            name: name.to_string(),
            version: version.to_string(),
            cksum: obj.get("cksum").and_then(Value::as_str).map(str::to_string),
            tables,
        })
    }

    /// The table called `name`.
    pub fn table(&self, name: &str) -> Option<&TableSchema> {
        self.tables.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const VSWITCH: &str = "/usr/share/openvswitch/vswitch.ovsschema";

    fn vswitch() -> Option<DatabaseSchema> {
        let Ok(text) = std::fs::read_to_string(VSWITCH) else {
            eprintln!("SKIP: {VSWITCH} not installed (Debian's openvswitch-common)");
            return None;
        };
        let v: Value = serde_json::from_str(&text).expect("the schema file is JSON");
        Some(DatabaseSchema::from_json(&v).expect("the vswitch schema parses"))
    }

    #[test]
    fn parses_the_real_vswitch_schema() {
        let Some(s) = vswitch() else { return };
        assert_eq!(s.name, "Open_vSwitch");
        assert!(s.version.split('.').count() == 3, "{}", s.version);
        assert!(s.cksum.is_some());
        let ovs = s.table("Open_vSwitch").unwrap();
        assert!(ovs.is_root);
        assert_eq!(ovs.max_rows, Some(1));
        let bridges = &ovs.columns["bridges"].ty;
        assert_eq!((bridges.min, bridges.max), (0, UNLIMITED));
        assert_eq!(bridges.key.ref_table.as_deref(), Some("Bridge"));
        assert_eq!(bridges.key.ref_type, RefType::Strong);
        assert!(ovs.columns["cur_cfg"].ty.is_scalar());
        assert!(ovs.columns["statistics"].ephemeral);

        let bridge = s.table("Bridge").unwrap();
        assert_eq!(bridge.indexes, vec![vec!["name".to_string()]]);
        assert!(!bridge.columns["name"].mutable);
        let fail_mode = &bridge.columns["fail_mode"].ty;
        assert_eq!((fail_mode.min, fail_mode.max), (0, 1));
        let allowed = fail_mode.key.enum_.as_ref().unwrap();
        assert_eq!(
            allowed.keys,
            vec![Atom::Str("secure".into()), Atom::Str("standalone".into())]
        );
        let mirrors = &bridge.columns["mirrors"].ty;
        assert_eq!(mirrors.key.ref_table.as_deref(), Some("Mirror"));

        let port = s.table("Port").unwrap();
        let tag = &port.columns["tag"].ty.key;
        assert_eq!((tag.min_integer, tag.max_integer), (Some(0), Some(4095)));
        let trunks = &port.columns["trunks"].ty;
        assert_eq!((trunks.min, trunks.max), (0, 4096));
        let ifaces = &port.columns["interfaces"].ty;
        assert_eq!((ifaces.min, ifaces.max), (1, UNLIMITED));

        let iface = s.table("Interface").unwrap();
        assert!(!iface.is_root);
        let opts = &iface.columns["options"].ty;
        assert!(opts.is_map());
        assert_eq!(opts.value.as_ref().unwrap().atomic, AtomicType::Str);
        let ofreq = &iface.columns["ofport_request"].ty.key;
        assert_eq!(
            (ofreq.min_integer, ofreq.max_integer),
            (Some(1), Some(65279))
        );
        assert_eq!(iface.column_type("_uuid"), Some(&UUID_COLUMN_TYPE));
        assert_eq!(iface.column_type("nope"), None);

        // Weak references (string lengths and reals: the synthetic schema below).
        let weak = s.tables.values().flat_map(|t| t.columns.values()).any(|c| {
            c.ty.key.ref_type == RefType::Weak
                || c.ty
                    .value
                    .as_ref()
                    .is_some_and(|v| v.ref_type == RefType::Weak)
        });
        assert!(
            weak,
            "the vswitch schema has weak references (Flow_Table, Mirror…)"
        );
    }

    /// The embedded schema is Debian's, table for table, column for column, constraint for
    /// constraint: as JSON (nothing dropped by the compaction) and as parsed.
    #[test]
    fn the_embedded_schema_is_the_installed_one() {
        let embedded = super::vswitch();
        assert_eq!(embedded.name, "Open_vSwitch");
        assert_eq!(embedded.tables.len(), 19);
        let Ok(text) = std::fs::read_to_string(VSWITCH) else {
            if std::env::var_os("RVS_REQUIRE_ROOT").is_some_and(|v| v == "1") {
                panic!("{VSWITCH} is missing (install openvswitch-common)");
            }
            eprintln!("SKIP: {VSWITCH} not installed (Debian's openvswitch-common)");
            return;
        };
        let installed: Value = serde_json::from_str(&text).unwrap();
        let compact: Value = serde_json::from_str(VSWITCH_SCHEMA_JSON).unwrap();
        assert_eq!(compact, installed, "run control/schema/vswitch-schema.sh");
        let parsed = DatabaseSchema::from_json(&installed).unwrap();
        for (name, t) in &parsed.tables {
            let e = &embedded.tables[name];
            assert_eq!(
                (e.is_root, e.max_rows, &e.indexes),
                (t.is_root, t.max_rows, &t.indexes),
                "{name}"
            );
            for (c, col) in &t.columns {
                assert_eq!(e.columns.get(c), Some(col), "{name}.{c}");
            }
            assert_eq!(e.columns.len(), t.columns.len(), "{name}");
        }
        assert_eq!(*embedded, parsed);
    }

    #[test]
    fn the_captured_get_schema_reply_is_the_installed_schema() {
        let Some(file) = vswitch() else { return };
        let reply = crate::ovsdb::fixtures::reply_to("get_schema.json", "get_schema", 0);
        let wire = DatabaseSchema::from_json(&reply["result"]).unwrap();
        assert_eq!(wire.tables.len(), file.tables.len());
        assert_eq!(wire.version, file.version);
        let err = crate::ovsdb::fixtures::reply_to("get_schema.json", "get_schema", 1);
        assert_eq!(err["error"]["error"], "unknown database");
    }

    #[test]
    fn rejects_malformed_schemas_with_the_place() {
        let bad = [
            (json!([]), "must be an object"),
            (
                json!({"name": "d", "version": "1", "tables": {"T": {"columns": {"c": {"type": "nope"}}}}}),
                "table T: column c: unknown atomic type",
            ),
            (
                json!({"name": "d", "version": "1", "tables": {"T": {"columns": {"c": {"type": {"key": "string", "min": 2}}}}}}),
                "\"min\" must be 0 or 1",
            ),
            (
                json!({"name": "d", "version": "1", "tables": {"T": {"columns": {"c": {"type": {"key": "string", "max": 0}}}}}}),
                "\"max\" must be",
            ),
            (
                json!({"name": "d", "version": "1", "tables": {"T": {"columns": {"c": {"type": {"key": {"type": "uuid", "refTable": "X"}}}}}}}),
                "refTable X does not exist",
            ),
            (
                json!({"name": "d", "version": "1", "tables": {"T": {"columns": {"c": {"type": {"key": {"type": "string", "enum": 3}}}}}}}),
                "enum:",
            ),
            (
                json!({"name": "d", "version": "1", "tables": {"T": {"columns": {}, "indexes": [["x"]]}}}),
                "unknown column",
            ),
        ];
        for (v, want) in bad {
            let e = DatabaseSchema::from_json(&v).unwrap_err();
            assert!(e.contains(want), "{e} does not contain {want}");
        }
        let ok = json!({"name": "d", "version": "1.0.0", "tables": {"T": {"columns": {
            "r": {"type": {"key": {"type": "real", "minReal": -1.5, "maxReal": 2}}},
            "m": {"type": {"key": "string", "value": {"type": "integer", "minInteger": 0}, "min": 0, "max": "unlimited"}},
            "s": {"type": {"type": "string", "minLength": 1, "maxLength": 10}, "ephemeral": true},
        }}}});
        let s = DatabaseSchema::from_json(&ok).unwrap();
        let t = s.table("T").unwrap();
        assert_eq!(t.columns["r"].ty.key.min_real, Some(-1.5));
        assert_eq!(
            t.columns["r"].ty.default_datum(),
            Datum::scalar(Atom::Real(0.0))
        );
        assert!(t.columns["m"].ty.is_map());
        assert_eq!(t.columns["m"].ty.default_datum(), Datum::empty());
        let st = &t.columns["s"];
        assert_eq!(
            (st.ty.key.min_length, st.ty.key.max_length),
            (Some(1), Some(10))
        );
        assert!(st.ephemeral && st.mutable && st.ty.is_scalar());
    }
}
