//! OVSDB values: atoms, and data (a set of atoms, or a map of atom pairs), and their JSON wire
//! form (RFC 7047 section 5.1): `["set",[..]]`, `["map",[[k,v],..]]`, `["uuid",".."]`,
//! `["named-uuid",".."]`, and a one-element set written as the bare atom; and the text forms
//! OVS prints them in (`ovsdb_atom_to_string`, `ovsdb_datum_to_string`, the bare form).
//! `ovs-vsctl`'s parser of the text syntax is in `vsctl::datum`.
//!
//! Invariants: a [`Datum`] keeps its keys sorted ([`Atom::total_cmp`]) and unique (like
//! `ovsdb_datum_sort`); for a map, `values` has exactly as many entries as `keys`, for a set it
//! is empty. A `Uuid` atom holds a valid lower-case UUID string. Parsing never panics and
//! checks atoms against the column's atomic types, not the element counts (a diff may exceed
//! them) nor the constraints (the server enforces those).

use super::schema::{AtomicType, ColumnType};
use serde_json::{json, Value};
use std::cmp::Ordering;

/// One OVSDB atom.
#[derive(Debug, Clone, PartialEq)]
pub enum Atom {
    Int(i64),
    Real(f64),
    Bool(bool),
    Str(String),
    Uuid(String),
    /// A row inserted earlier in the same transaction (`["named-uuid", name]`); only in
    /// requests.
    NamedUuid(String),
}

impl Atom {
    /// A total order: by type, then by value (reals by `f64::total_cmp`).
    pub fn total_cmp(&self, other: &Atom) -> Ordering {
        match (self, other) {
            (Atom::Int(a), Atom::Int(b)) => a.cmp(b),
            (Atom::Real(a), Atom::Real(b)) => a.total_cmp(b),
            (Atom::Bool(a), Atom::Bool(b)) => a.cmp(b),
            (Atom::Str(a), Atom::Str(b))
            | (Atom::Uuid(a), Atom::Uuid(b))
            | (Atom::NamedUuid(a), Atom::NamedUuid(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Atom::Int(_) => 0,
            Atom::Real(_) => 1,
            Atom::Bool(_) => 2,
            Atom::Str(_) => 3,
            Atom::Uuid(_) => 4,
            Atom::NamedUuid(_) => 5,
        }
    }

    /// The wire form.
    pub fn to_json(&self) -> Value {
        match self {
            Atom::Int(i) => Value::from(*i),
            Atom::Real(r) => Value::from(*r),
            Atom::Bool(b) => Value::from(*b),
            Atom::Str(s) => Value::from(s.as_str()),
            Atom::Uuid(u) => json!(["uuid", u]),
            Atom::NamedUuid(n) => json!(["named-uuid", n]),
        }
    }

    /// Parses the wire form of an atom of type `ty`.
    pub fn from_json(v: &Value, ty: AtomicType) -> Result<Atom, String> {
        let bad = || format!("{v} is not a valid {}", ty.name());
        match ty {
            AtomicType::Int => v.as_i64().map(Atom::Int).ok_or_else(bad),
            AtomicType::Real => v.as_f64().map(Atom::Real).ok_or_else(bad),
            AtomicType::Bool => v.as_bool().map(Atom::Bool).ok_or_else(bad),
            AtomicType::Str => v.as_str().map(|s| Atom::Str(s.to_string())).ok_or_else(bad),
            AtomicType::Uuid => match v.as_array().map(Vec::as_slice) {
                Some([Value::String(tag), Value::String(u)]) if tag == "uuid" => {
                    if crate::config::is_uuid(u) {
                        Ok(Atom::Uuid(u.to_ascii_lowercase()))
                    } else {
                        Err(format!("\"{u}\" is not a valid UUID"))
                    }
                }
                Some([Value::String(tag), Value::String(n)]) if tag == "named-uuid" => {
                    if is_id(n) {
                        Ok(Atom::NamedUuid(n.clone()))
                    } else {
                        Err(format!("\"{n}\" is not a valid UUID name"))
                    }
                }
                _ => Err(bad()),
            },
        }
    }

    /// The UUID of a `Uuid` atom.
    pub fn as_uuid(&self) -> Option<&str> {
        match self {
            Atom::Uuid(u) => Some(u),
            _ => None,
        }
    }

    /// OVS's `ovsdb_atom_to_string`: strings quoted (as JSON) when they would not read back
    /// as one bare token, reals as `%.15g`.
    pub fn to_text(&self) -> String {
        match self {
            Atom::Int(i) => i.to_string(),
            Atom::Real(r) => format_real(*r),
            Atom::Bool(b) => b.to_string(),
            Atom::Str(s) => {
                if string_needs_quotes(s) {
                    json_quote(s)
                } else {
                    s.clone()
                }
            }
            Atom::Uuid(u) | Atom::NamedUuid(u) => u.clone(),
        }
    }

    /// OVS's `ovsdb_atom_to_bare`: strings are printed raw.
    pub fn to_bare(&self) -> String {
        match self {
            Atom::Str(s) => s.clone(),
            other => other.to_text(),
        }
    }
}

/// C's `printf("%.15g", r)` (OVS prints reals with `DBL_DIG` significant digits).
pub fn format_real(r: f64) -> String {
    const P: usize = 15;
    if r.is_nan() {
        return if r.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    if r.is_infinite() {
        return if r < 0.0 { "-inf" } else { "inf" }.into();
    }
    if r == 0.0 {
        return if r.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // The exponent after rounding to P significant digits decides the style.
    let sci = format!("{:.*e}", P - 1, r);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if exp < -4 || exp >= P as i32 {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), exp.abs())
    } else {
        let decimals = usize::try_from(P as i32 - 1 - exp).unwrap_or(0);
        trim(&format!("{r:.decimals$}"))
    }
}

/// OVS's `string_needs_quotes`.
fn string_needs_quotes(s: &str) -> bool {
    let b = s.as_bytes();
    let Some(&first) = b.first() else {
        return true;
    };
    if !(first.is_ascii_alphabetic() || first == b'_') {
        return true;
    }
    if !b
        .iter()
        .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
    {
        return true;
    }
    s == "true" || s == "false" || crate::config::is_uuid(s)
}

/// A JSON string, escaped as OVS's `json_to_ds` does it.
pub fn json_quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

/// An OVSDB `<id>`: a letter or `_`, then letters, digits and `_`.
pub fn is_id(s: &str) -> bool {
    let mut b = s.bytes();
    b.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// A column value: a set of atoms, or a map when `values` is used.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Datum {
    pub keys: Vec<Atom>,
    pub values: Vec<Atom>,
}

impl Datum {
    /// The empty set (or map).
    pub fn empty() -> Datum {
        Datum::default()
    }

    /// A one-element set.
    pub fn scalar(a: Atom) -> Datum {
        Datum {
            keys: vec![a],
            values: Vec::new(),
        }
    }

    /// An optional value: a set of zero or one element.
    pub fn opt(a: Option<Atom>) -> Datum {
        Datum {
            keys: a.into_iter().collect(),
            values: Vec::new(),
        }
    }

    /// A set of `atoms`, sorted, duplicates dropped.
    pub fn set(mut atoms: Vec<Atom>) -> Datum {
        atoms.sort_by(Atom::total_cmp);
        atoms.dedup_by(|a, b| a.total_cmp(b) == Ordering::Equal);
        Datum {
            keys: atoms,
            values: Vec::new(),
        }
    }

    /// A map of `pairs`, sorted by key; of duplicate keys the last one wins.
    pub fn map(pairs: Vec<(Atom, Atom)>) -> Datum {
        let mut d = Datum::empty();
        for (k, v) in pairs {
            d.insert(k, Some(v));
        }
        d
    }

    /// Number of elements (pairs, for a map).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when it has no element.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn find(&self, key: &Atom) -> Result<usize, usize> {
        self.keys.binary_search_by(|k| k.total_cmp(key))
    }

    /// True if `key` is an element (a key, for a map).
    pub fn contains(&self, key: &Atom) -> bool {
        self.find(key).is_ok()
    }

    /// The value of `key` in a map datum.
    pub fn get(&self, key: &Atom) -> Option<&Atom> {
        self.values.get(self.find(key).ok()?)
    }

    /// Inserts or replaces (map, with `value`) / inserts (set, without), keeping the order.
    pub fn insert(&mut self, key: Atom, value: Option<Atom>) {
        match self.find(&key) {
            Ok(i) => {
                if let (Some(v), Some(slot)) = (value, self.values.get_mut(i)) {
                    *slot = v;
                }
            }
            Err(i) => {
                self.keys.insert(i, key);
                if let Some(v) = value {
                    if i <= self.values.len() {
                        self.values.insert(i, v);
                    }
                }
            }
        }
    }

    /// Removes `key` (if `value` is given, only when the map's value matches).
    pub fn remove(&mut self, key: &Atom, value: Option<&Atom>) {
        if let Ok(i) = self.find(key) {
            if value.is_some_and(|v| self.values.get(i) != Some(v)) {
                return;
            }
            self.keys.remove(i);
            if i < self.values.len() {
                self.values.remove(i);
            }
        }
    }

    /// The single atom of a one-element datum.
    pub fn as_scalar(&self) -> Option<&Atom> {
        match self.keys.as_slice() {
            [a] => Some(a),
            _ => None,
        }
    }

    /// The string of a one-string datum (a name, a type).
    pub fn as_str(&self) -> Option<&str> {
        match self.as_scalar()? {
            Atom::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer of a one-integer datum (a tag, an ofport).
    pub fn as_int(&self) -> Option<i64> {
        match self.as_scalar()? {
            Atom::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The key/value pairs of a map.
    pub fn pairs(&self) -> impl Iterator<Item = (&Atom, &Atom)> {
        self.keys.iter().zip(&self.values)
    }

    /// True if a `NamedUuid` atom is in it (never valid in data a server sends).
    pub fn has_named_uuid(&self) -> bool {
        self.keys
            .iter()
            .chain(&self.values)
            .any(|a| matches!(a, Atom::NamedUuid(_)))
    }

    /// Each element as text (`k=v` for a map), its atoms rendered by `atom`.
    fn elements(&self, ty: &ColumnType, atom: fn(&Atom) -> String) -> Vec<String> {
        if ty.is_map() {
            self.pairs()
                .map(|(k, v)| format!("{}={}", atom(k), atom(v)))
                .collect()
        } else {
            self.keys.iter().map(atom).collect()
        }
    }

    /// OVS's `ovsdb_datum_to_string`: `[…]`/`{…}` around sets and maps that may hold more than
    /// one element, or hold none; a lone element of an optional column bare.
    pub fn to_text(&self, ty: &ColumnType) -> String {
        let items = self.elements(ty, Atom::to_text).join(", ");
        if ty.max > 1 || self.is_empty() {
            let (open, close) = if ty.is_map() { ('{', '}') } else { ('[', ']') };
            format!("{open}{items}{close}")
        } else {
            items
        }
    }

    /// OVS's `ovsdb_datum_to_bare`: elements separated by spaces, strings raw.
    pub fn to_bare(&self, ty: &ColumnType) -> String {
        self.elements(ty, Atom::to_bare).join(" ")
    }

    /// OVS's `ovsdb_datum_to_json`: a map as `["map",…]`, one element as the bare atom,
    /// anything else as `["set",…]`.
    pub fn to_json(&self, ty: &ColumnType) -> Value {
        if ty.is_map() {
            let pairs: Vec<Value> = self
                .pairs()
                .map(|(k, v)| json!([k.to_json(), v.to_json()]))
                .collect();
            json!(["map", pairs])
        } else if let Some(a) = self.as_scalar() {
            a.to_json()
        } else {
            let items: Vec<Value> = self.keys.iter().map(Atom::to_json).collect();
            json!(["set", items])
        }
    }

    /// Parses the wire form of a value of type `ty` (sorted; duplicate keys are an error).
    pub fn from_json(v: &Value, ty: &ColumnType) -> Result<Datum, String> {
        let tagged = match v.as_array().map(Vec::as_slice) {
            Some([Value::String(tag), items]) if tag == "set" || tag == "map" => {
                Some((tag.as_str(), items))
            }
            _ => None,
        };
        let (mut keys, mut values) = (Vec::new(), Vec::new());
        match (tagged, &ty.value) {
            (Some(("map", items)), Some(vt)) => {
                let items = items.as_array().ok_or("\"map\" needs an array of pairs")?;
                for pair in items {
                    let Some([k, v]) = pair.as_array().map(Vec::as_slice) else {
                        return Err(format!("{pair} is not a [key, value] pair"));
                    };
                    keys.push(Atom::from_json(k, ty.key.atomic)?);
                    values.push(Atom::from_json(v, vt.atomic)?);
                }
            }
            (Some(("set", items)), None) => {
                let items = items.as_array().ok_or("\"set\" needs an array")?;
                for a in items {
                    keys.push(Atom::from_json(a, ty.key.atomic)?);
                }
            }
            (None, None) => keys.push(Atom::from_json(v, ty.key.atomic)?),
            (_, Some(_)) => return Err(format!("{v} is not a map")),
            (Some(_), None) => return Err(format!("{v} is not a set")),
        }
        let mut order: Vec<usize> = (0..keys.len()).collect();
        order.sort_by(|&a, &b| keys[a].total_cmp(&keys[b]));
        if order
            .windows(2)
            .any(|w| keys[w[0]].total_cmp(&keys[w[1]]) == Ordering::Equal)
        {
            return Err(format!(
                "{v}: {} contains a duplicate {}",
                if ty.is_map() { "map" } else { "set" },
                if ty.is_map() { "key" } else { "value" }
            ));
        }
        let mut keys: Vec<Option<Atom>> = keys.into_iter().map(Some).collect();
        let mut vals: Vec<Option<Atom>> = values.into_iter().map(Some).collect();
        Ok(Datum {
            keys: order.iter().filter_map(|&i| keys[i].take()).collect(),
            values: order
                .iter()
                .filter_map(|&i| vals.get_mut(i).and_then(Option::take))
                .collect(),
        })
    }

    /// Applies an update2 `modify` diff (OVS's `ovsdb_datum_apply_diff`): for a scalar the
    /// diff is the new value; for a set each element is toggled; for a map a new key is added,
    /// a key with the same value removed, a key with another value replaced.
    pub fn apply_diff(&self, diff: &Datum, ty: &ColumnType) -> Datum {
        if ty.is_scalar() {
            return diff.clone();
        }
        let mut out = self.clone();
        if ty.is_map() {
            for (k, v) in diff.pairs() {
                match out.get(k) {
                    Some(old) if old == v => out.remove(k, None),
                    _ => out.insert(k.clone(), Some(v.clone())),
                }
            }
        } else {
            for k in &diff.keys {
                if out.contains(k) {
                    out.remove(k, None);
                } else {
                    out.insert(k.clone(), None);
                }
            }
        }
        out
    }

    /// True if the invariants hold for type `ty`: sorted unique keys, values only on maps.
    pub fn is_well_formed(&self, ty: &ColumnType) -> bool {
        let sorted = self
            .keys
            .windows(2)
            .all(|w| w[0].total_cmp(&w[1]) == Ordering::Less);
        let shape = if ty.is_map() {
            self.values.len() == self.keys.len()
        } else {
            self.values.is_empty()
        };
        sorted && shape
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ovsdb::schema::{BaseType, UNLIMITED};

    fn set_of(t: AtomicType) -> ColumnType {
        ColumnType {
            key: BaseType::plain(t),
            value: None,
            min: 0,
            max: UNLIMITED,
        }
    }

    fn map_of(k: AtomicType, v: AtomicType) -> ColumnType {
        ColumnType {
            value: Some(BaseType::plain(v)),
            ..set_of(k)
        }
    }

    const U1: &str = "8dd4b364-fd92-429b-aeae-901eca361582";
    const U2: &str = "e341aaf0-09de-4523-a926-9bcb2b4f5095";

    #[test]
    fn wire_forms_round_trip() {
        let int = ColumnType::scalar(AtomicType::Int);
        let cases: Vec<(Value, ColumnType)> = vec![
            (json!(7), int.clone()),
            (json!(-3), set_of(AtomicType::Int)),
            (json!(["set", []]), set_of(AtomicType::Int)),
            (json!(["set", [20, 30]]), set_of(AtomicType::Int)),
            (json!(1.5), ColumnType::scalar(AtomicType::Real)),
            (json!(true), ColumnType::scalar(AtomicType::Bool)),
            (json!("internal"), ColumnType::scalar(AtomicType::Str)),
            (json!(["uuid", U1]), ColumnType::scalar(AtomicType::Uuid)),
            (
                json!(["named-uuid", "iface"]),
                ColumnType::scalar(AtomicType::Uuid),
            ),
            (
                json!(["set", [["uuid", U1], ["uuid", U2]]]),
                set_of(AtomicType::Uuid),
            ),
            (json!(["map", []]), map_of(AtomicType::Str, AtomicType::Str)),
            (
                json!(["map", [["a", "b"], ["key", "4660"]]]),
                map_of(AtomicType::Str, AtomicType::Str),
            ),
            (
                json!(["map", [[1, ["uuid", U2]]]]),
                map_of(AtomicType::Int, AtomicType::Uuid),
            ),
        ];
        for (v, ty) in cases {
            let d = Datum::from_json(&v, &ty).unwrap_or_else(|e| panic!("{v}: {e}"));
            assert!(d.is_well_formed(&ty));
            assert_eq!(d.to_json(&ty), v);
        }
    }

    #[test]
    fn parsing_sorts_and_canonicalises() {
        let ty = set_of(AtomicType::Int);
        let d = Datum::from_json(&json!(["set", [30, 20, 25]]), &ty).unwrap();
        assert_eq!(d.keys, vec![Atom::Int(20), Atom::Int(25), Atom::Int(30)]);
        // A one-element set goes back on the wire as the bare atom, as OVS writes it.
        let one = Datum::from_json(&json!(["set", [5]]), &ty).unwrap();
        assert_eq!(one.to_json(&ty), json!(5));
        let m = map_of(AtomicType::Str, AtomicType::Int);
        let d = Datum::from_json(&json!(["map", [["z", 1], ["a", 2]]]), &m).unwrap();
        assert_eq!(d.get(&Atom::Str("a".into())), Some(&Atom::Int(2)));
        assert_eq!(d.to_json(&m), json!(["map", [["a", 2], ["z", 1]]]));
        let u = Datum::from_json(
            &json!(["uuid", U1.to_uppercase()]),
            &set_of(AtomicType::Uuid),
        )
        .unwrap();
        assert_eq!(u.keys, vec![Atom::Uuid(U1.into())]);
    }

    #[test]
    fn rejects_what_does_not_fit_the_type() {
        let bad: Vec<(Value, ColumnType)> = vec![
            (json!("7"), ColumnType::scalar(AtomicType::Int)),
            (json!(1.5), ColumnType::scalar(AtomicType::Int)),
            (
                json!(["uuid", "nope"]),
                ColumnType::scalar(AtomicType::Uuid),
            ),
            (
                json!(["named-uuid", "1x"]),
                ColumnType::scalar(AtomicType::Uuid),
            ),
            (json!(["uuid", U1, 3]), ColumnType::scalar(AtomicType::Uuid)),
            (json!(["set", [1, 1]]), set_of(AtomicType::Int)),
            (json!(["set", 1]), set_of(AtomicType::Int)),
            (json!(["map", [["a", "b"]]]), set_of(AtomicType::Str)),
            (
                json!(["set", ["a"]]),
                map_of(AtomicType::Str, AtomicType::Str),
            ),
            (json!("a"), map_of(AtomicType::Str, AtomicType::Str)),
            (
                json!(["map", [["a", "b"], ["a", "c"]]]),
                map_of(AtomicType::Str, AtomicType::Str),
            ),
            (
                json!(["map", [["a"]]]),
                map_of(AtomicType::Str, AtomicType::Str),
            ),
            (
                json!(["map", [["a", 1]]]),
                map_of(AtomicType::Str, AtomicType::Str),
            ),
            (json!(null), ColumnType::scalar(AtomicType::Bool)),
        ];
        for (v, ty) in bad {
            assert!(Datum::from_json(&v, &ty).is_err(), "{v} accepted");
        }
    }

    #[test]
    fn diffs_follow_ovs() {
        // Captured: trunks [20,30] -> [30,40] arrives as the diff ["set",[20,40]].
        let ty = set_of(AtomicType::Int);
        let old = Datum::from_json(&json!(["set", [20, 30]]), &ty).unwrap();
        let diff = Datum::from_json(&json!(["set", [20, 40]]), &ty).unwrap();
        assert_eq!(
            old.apply_diff(&diff, &ty).to_json(&ty),
            json!(["set", [30, 40]])
        );
        // Maps: remove (same value), replace (other value), add (new key).
        let m = map_of(AtomicType::Str, AtomicType::Str);
        let old = Datum::from_json(&json!(["map", [["a", "b"], ["key", "4660"]]]), &m).unwrap();
        let diff =
            Datum::from_json(&json!(["map", [["a", "b"], ["key", "5"], ["n", "1"]]]), &m).unwrap();
        assert_eq!(
            old.apply_diff(&diff, &m).to_json(&m),
            json!(["map", [["key", "5"], ["n", "1"]]])
        );
        // A scalar's diff is its new value.
        let s = ColumnType::scalar(AtomicType::Int);
        assert_eq!(
            Datum::scalar(Atom::Int(1)).apply_diff(&Datum::scalar(Atom::Int(9)), &s),
            Datum::scalar(Atom::Int(9))
        );
    }
}
