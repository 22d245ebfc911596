//! OVSDB values as `ovs-vsctl` reads and prints them: atoms, data (scalars, sets, maps), their
//! text syntax (`10`, `[10, 20]`, `{key="4660", remote_ip="10.0.0.2"}`), the bare and JSON forms,
//! and the type constraints of the schema, with OVS's error wording.
//!
//! The types themselves and their JSON wire form are `ovsdb::datum`'s; this module adds the
//! text forms. Invariants: those of [`Datum`]; parsing never panics.

pub(crate) use crate::ovsdb::{Atom, Datum};

use std::cmp::Ordering;

use super::schema::{Base, BaseType, ColType};

impl Atom {
    /// OVS's `ovsdb_atom_to_string`.
    pub(crate) fn to_text(&self) -> String {
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
    pub(crate) fn to_bare(&self) -> String {
        match self {
            Atom::Str(s) => s.clone(),
            other => other.to_text(),
        }
    }
}

fn format_real(r: f64) -> String {
    if r.is_finite() && r == r.trunc() && r.abs() < 1e15 {
        format!("{r:.0}")
    } else {
        format!("{r}")
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

/// JSON string quoting as OVS's `json_string_escape` does it.
pub(crate) fn json_quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

impl Datum {
    pub(crate) fn str_map<'a>(m: impl IntoIterator<Item = (&'a String, &'a String)>) -> Datum {
        let mut d = Datum::default();
        for (k, v) in m {
            d.keys.push(Atom::Str(k.clone()));
            d.values.push(Atom::Str(v.clone()));
        }
        d
    }

    /// String → string map view (for map columns of strings).
    pub(crate) fn to_str_map(&self) -> crate::config::Map {
        self.keys
            .iter()
            .zip(&self.values)
            .map(|(k, v)| (k.to_bare(), v.to_bare()))
            .collect()
    }

    /// OVS's `ovsdb_datum_to_string`.
    pub(crate) fn to_text(&self, ty: &ColType) -> String {
        if ty.value.is_some() {
            let items: Vec<String> = self
                .keys
                .iter()
                .zip(&self.values)
                .map(|(k, v)| format!("{}={}", k.to_text(), v.to_text()))
                .collect();
            format!("{{{}}}", items.join(", "))
        } else if ty.max == 1 && self.keys.len() == 1 {
            self.keys[0].to_text()
        } else {
            let items: Vec<String> = self.keys.iter().map(Atom::to_text).collect();
            format!("[{}]", items.join(", "))
        }
    }

    /// OVS's `ovsdb_datum_to_bare`.
    pub(crate) fn to_bare(&self, ty: &ColType) -> String {
        let items: Vec<String> = if ty.value.is_some() {
            self.keys
                .iter()
                .zip(&self.values)
                .map(|(k, v)| format!("{}={}", k.to_bare(), v.to_bare()))
                .collect()
        } else {
            self.keys.iter().map(Atom::to_bare).collect()
        };
        items.join(" ")
    }

    /// Three-way comparison used by `find`'s `<`, `>` operators (first atoms).
    pub(crate) fn cmp_first(&self, other: &Datum) -> Option<Ordering> {
        Some(self.keys.first()?.total_cmp(other.keys.first()?))
    }

    /// True if every element (and value) of `self` is in `other`.
    pub(crate) fn is_subset_of(&self, other: &Datum) -> bool {
        self.keys
            .iter()
            .enumerate()
            .all(|(i, k)| match other.keys.iter().position(|o| o == k) {
                None => false,
                Some(j) => self.values.get(i) == other.values.get(j),
            })
    }
}

const DELIMS: &[u8] = b":=, []{}!<>";

pub(crate) fn is_delim(c: u8) -> bool {
    DELIMS.contains(&c)
}

/// OVS's `ovsdb_token_parse`: reads one token from `s` starting at `*pos`, stopping at a
/// delimiter outside double quotes. Quoted parts are kept verbatim, quotes included (they are
/// JSON strings, decoded by [`atom_from_string`]); outside quotes a backslash escapes a
/// delimiter, a backslash or a quote. Returns the raw token.
pub(crate) fn parse_token(s: &str, pos: &mut usize) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out: Vec<u8> = Vec::new();
    let mut in_quotes = false;
    let mut p = *pos;
    while p < b.len() {
        let c = b[p];
        p += 1;
        if c == b'\\' {
            match b.get(p) {
                Some(&n) if in_quotes => {
                    out.push(c);
                    out.push(n);
                    p += 1;
                }
                Some(&n) if is_delim(n) || n == b'\\' || n == b'"' => {
                    out.push(n);
                    p += 1;
                }
                Some(&n) => {
                    return Err(format!(
                        "{s}: backslash before '{}' is not allowed here",
                        n as char
                    ))
                }
                None => return Err(format!("{s}: backslash at end of argument")),
            }
        } else if !in_quotes && is_delim(c) {
            p -= 1;
            break;
        } else {
            if c == b'"' {
                in_quotes = !in_quotes;
            }
            out.push(c);
        }
    }
    if in_quotes {
        let tok = s.get(*pos..).unwrap_or("");
        return Err(format!("{tok}: quoted string extends past end of argument"));
    }
    *pos = p;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn parse_int(s: &str) -> Result<i64, String> {
    let t = s.trim();
    let ok = !t.is_empty()
        && t.strip_prefix('-')
            .or_else(|| t.strip_prefix('+'))
            .unwrap_or(t)
            .bytes()
            .all(|c| c.is_ascii_digit());
    if ok {
        if let Ok(v) = t.parse::<i64>() {
            return Ok(v);
        }
    }
    Err(format!("\"{s}\" is not a valid integer or range"))
}

/// OVS's `ovsdb_atom_from_string` (without constraint checks): a whole argument as one atom.
/// Strings may be written bare or as a JSON string in double quotes.
pub(crate) fn atom_from_string(s: &str, bt: &BaseType) -> Result<Atom, String> {
    match bt.base {
        Base::Int => parse_int(s).map(Atom::Int),
        Base::Real => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|r| r.is_finite())
            .map(Atom::Real)
            .ok_or_else(|| format!("\"{s}\" is not a valid real number")),
        Base::Bool => match s.trim() {
            "true" => Ok(Atom::Bool(true)),
            "false" => Ok(Atom::Bool(false)),
            _ => Err(format!(
                "\"{s}\" is not a valid boolean (use \"true\" or \"false\")"
            )),
        },
        Base::Str => {
            if s.is_empty() {
                Err(
                    "An empty string is not valid as input; use \"\" to represent the empty string"
                        .to_string(),
                )
            } else if s.starts_with('"') {
                serde_json::from_str::<String>(s)
                    .map(Atom::Str)
                    .map_err(|_| format!("{s}: missing quote at end of quoted string"))
            } else {
                Ok(Atom::Str(s.to_string()))
            }
        }
        Base::Uuid => {
            if crate::config::is_uuid(s) {
                Ok(Atom::Uuid(s.to_ascii_lowercase()))
            } else {
                Err(format!("\"{s}\" is not a valid UUID"))
            }
        }
    }
}

/// Checks an atom against its type's constraints, with OVS's wording.
pub(crate) fn check_atom(a: &Atom, bt: &BaseType) -> Result<(), String> {
    if let Atom::Int(v) = a {
        match (bt.min_int, bt.max_int) {
            (Some(lo), Some(hi)) if *v < lo || *v > hi => {
                return Err(format!(
                    "constraint violation: {v} is not in the valid range {lo} to {hi} (inclusive)"
                ))
            }
            (Some(lo), None) if *v < lo => {
                return Err(format!(
                    "constraint violation: {v} is less than minimum allowed value {lo}"
                ))
            }
            (None, Some(hi)) if *v > hi => {
                return Err(format!(
                    "constraint violation: {v} is greater than maximum allowed value {hi}"
                ))
            }
            _ => {}
        }
    }
    if let (Atom::Str(s), Some(allowed)) = (a, bt.enum_) {
        if !allowed.contains(&s.as_str()) {
            return Err(format!(
                "constraint violation: {} is not one of the allowed values ([{}])",
                a.to_text(),
                allowed.join(", ")
            ));
        }
    }
    Ok(())
}

fn skip_spaces(b: &[u8], p: &mut usize) {
    while *p < b.len() && b[*p].is_ascii_whitespace() {
        *p += 1;
    }
}

fn parse_atom_token(s: &str, p: &mut usize, ty: &ColType, bt: &BaseType) -> Result<Atom, String> {
    let start = *p;
    let tok = parse_token(s, p)?;
    if tok.is_empty() {
        let rest = s.get(start..).unwrap_or("");
        let c = rest.chars().next().map(String::from).unwrap_or_default();
        return Err(format!(
            "{s}: unexpected \"{c}\" parsing {}",
            type_to_english(ty)
        ));
    }
    atom_from_string(&tok, bt)
}

fn base_english(b: Base) -> &'static str {
    match b {
        Base::Int => "integer",
        Base::Real => "real",
        Base::Bool => "boolean",
        Base::Str => "string",
        Base::Uuid => "uuid",
    }
}

/// OVS's `ovsdb_type_to_english`.
pub(crate) fn type_to_english(ty: &ColType) -> String {
    let k = base_english(ty.key.base);
    if ty.value.is_none() && ty.min == 1 && ty.max == 1 {
        return k.to_string();
    }
    let mut out = String::from(if ty.value.is_some() { "map" } else { "set" });
    if ty.max == u32::MAX {
        if ty.min > 0 {
            out.push_str(&format!(" of {} or more", ty.min));
        } else {
            out.push_str(" of");
        }
    } else if ty.min > 0 {
        out.push_str(&format!(" of {} to {}", ty.min, ty.max));
    } else {
        out.push_str(&format!(" of up to {}", ty.max));
    }
    match &ty.value {
        None => out.push_str(&format!(" {k}s")),
        Some(v) => out.push_str(&format!(" ({k}, {}) pairs", base_english(v.base))),
    }
    out
}

/// OVS's `ovsdb_datum_from_string`: `10`, `[10,20]`, `10,20`, `{a=b, c=d}`, `a=b`, `[]`, `{}`.
/// With `check`, constraints and element counts are enforced.
pub(crate) fn datum_from_string(s: &str, ty: &ColType, check: bool) -> Result<Datum, String> {
    let b = s.as_bytes();
    let is_map = ty.value.is_some();
    let mut p = 0;
    skip_spaces(b, &mut p);
    let end_delim = if b.get(p) == Some(&if is_map { b'{' } else { b'[' }) {
        p += 1;
        skip_spaces(b, &mut p);
        Some(if is_map { b'}' } else { b']' })
    } else if p >= b.len() {
        return Err(if is_map {
            "use \"{}\" to specify the empty map".into()
        } else {
            "use \"[]\" to specify the empty set".into()
        });
    } else {
        None
    };
    let mut keys = Vec::new();
    let mut values = Vec::new();
    while p < b.len() && Some(b[p]) != end_delim {
        let k = parse_atom_token(s, &mut p, ty, &ty.key)?;
        if let Some(vt) = &ty.value {
            skip_spaces(b, &mut p);
            if b.get(p) != Some(&b'=') {
                let rest = s.get(p..).unwrap_or("");
                let c = rest.chars().next().map(String::from).unwrap_or_default();
                return Err(format!("{s}: syntax error at \"{c}\" expecting \"=\""));
            }
            p += 1;
            skip_spaces(b, &mut p);
            values.push(parse_atom_token(s, &mut p, ty, vt)?);
        }
        keys.push(k);
        skip_spaces(b, &mut p);
        // Elements are separated by a comma and/or white space.
        if b.get(p) == Some(&b',') {
            p += 1;
            skip_spaces(b, &mut p);
        }
    }
    if let Some(d) = end_delim {
        if b.get(p) != Some(&d) {
            return Err(format!("{s}: missing \"{}\" at end of data", d as char));
        }
        p += 1;
        skip_spaces(b, &mut p);
        if p < b.len() {
            return Err(format!("{s}: trailing garbage after \"{}\"", d as char));
        }
    }
    // Sort and reject duplicates.
    let mut idx: Vec<usize> = (0..keys.len()).collect();
    idx.sort_by(|&a, &b| keys[a].total_cmp(&keys[b]));
    for w in idx.windows(2) {
        if keys[w[0]] == keys[w[1]] {
            return Err(if is_map {
                format!("{s}: map contains duplicate key")
            } else {
                format!("{s}: set contains duplicate value")
            });
        }
    }
    let d = Datum {
        keys: idx.iter().map(|&i| keys[i].clone()).collect(),
        values: if is_map {
            idx.iter().filter_map(|&i| values.get(i).cloned()).collect()
        } else {
            Vec::new()
        },
    };
    if check {
        check_datum(&d, ty, s)?;
    }
    Ok(d)
}

/// Checks element counts and atom constraints of a whole datum.
pub(crate) fn check_datum(d: &Datum, ty: &ColType, s: &str) -> Result<(), String> {
    if (d.len() as u64) > u64::from(ty.max) {
        return Err(format!(
            "{s}: {} value(s) specified but the maximum number is {}",
            d.len(),
            ty.max
        ));
    }
    if (d.len() as u64) < u64::from(ty.min) {
        return Err(format!(
            "{s}: {} value(s) specified but the minimum number is {}",
            d.len(),
            ty.min
        ));
    }
    for k in &d.keys {
        check_atom(k, &ty.key)?;
    }
    if let Some(vt) = &ty.value {
        for v in &d.values {
            check_atom(v, vt)?;
        }
    }
    Ok(())
}
