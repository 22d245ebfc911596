//! `ovs-vsctl`'s text syntax for OVSDB values, parsed as OVS parses it: tokens
//! (`ovsdb_token_parse`), atoms (`10`, `1-5` ranges of integers, `true`/`yes`/`on`, bare or
//! JSON-quoted strings, UUIDs and `@name` row ids), and data (`[10, 20]`, `10,20`,
//! `{key="4660", remote_ip="10.0.0.2"}`, `a=b`, `[]`, `{}`), with the schema's constraints and
//! OVS's error wording. Printing is `ovsdb::datum`'s ([`Atom::to_text`], [`Datum::to_text`]).
//!
//! Invariants: parsed data satisfy those of [`Datum`] (sorted, unique); parsing never panics.

use crate::ovsdb::schema::{AtomicType, BaseType, ColumnType, UNLIMITED};
use crate::ovsdb::{Atom, Datum};
use std::collections::BTreeMap;

/// OVS's limit on the size of an integer range (`1-4096` is the largest).
const MAX_RANGE: i64 = 4096;

/// A row id of the transaction (`--id=@name`), as OVS's `ovsdb_symbol`.
#[derive(Debug, Clone)]
pub(crate) struct Symbol {
    pub uuid: String,
    /// Defined by `--id` on `create` or `get`.
    pub created: bool,
    /// Referenced from a strong (weak) reference column.
    pub strong_ref: bool,
    pub weak_ref: bool,
}

/// The transaction's row ids, in the order OVS reports them (by name).
#[derive(Debug, Clone, Default)]
pub(crate) struct Symtab(pub BTreeMap<String, Symbol>);

impl Symtab {
    /// The symbol `name`, created (with a fresh UUID) on first use.
    pub fn insert(&mut self, name: &str) -> &mut Symbol {
        self.0.entry(name.to_string()).or_insert_with(|| Symbol {
            uuid: crate::config::new_uuid(),
            created: false,
            strong_ref: false,
            weak_ref: false,
        })
    }
}

const DELIMS: &[u8] = b":=, []{}!<>";

/// OVS's `ovsdb_token_is_delim`.
pub(crate) fn is_delim(c: u8) -> bool {
    DELIMS.contains(&c)
}

/// OVS's `ovsdb_token_parse`: one token of `s` from `*pos` to the first delimiter outside
/// double quotes. A backslash takes the next character literally (inside quotes both are
/// kept, for the JSON string decoder); quotes are kept.
pub(crate) fn parse_token(s: &str, pos: &mut usize) -> Result<String, String> {
    let b = s.as_bytes();
    let start = s.get(*pos..).unwrap_or("");
    let mut out: Vec<u8> = Vec::new();
    let mut in_quotes = false;
    let mut p = *pos;
    while p < b.len() {
        let c = b[p];
        p += 1;
        if c == b'\\' {
            if in_quotes {
                out.push(c);
            }
            let Some(&n) = b.get(p) else {
                return Err(format!("{start}: backslash at end of argument"));
            };
            out.push(n);
            p += 1;
        } else if !in_quotes && is_delim(c) {
            p -= 1;
            break;
        } else {
            out.push(c);
            if c == b'"' {
                in_quotes = !in_quotes;
            }
        }
    }
    if in_quotes {
        return Err(format!(
            "{start}: quoted string extends past end of argument"
        ));
    }
    *pos = p;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// C's `strtoll(s, &tail, 10)`: leading white space, a sign, digits; the value and the rest.
fn strtoll(s: &str) -> Option<(i64, &str)> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let signed = t.strip_prefix(['+', '-']).unwrap_or(t);
    let digits = signed.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let end = t.len() - signed.len() + digits;
    let text = t.get(..end)?;
    let v = text.strip_prefix('+').unwrap_or(text).parse::<i64>().ok()?;
    Some((v, t.get(end..).unwrap_or("")))
}

/// An integer (whole string), or a range `A-B` when `range` allows it.
fn parse_int(s: &str, range: bool) -> Result<(i64, Option<i64>), String> {
    if range {
        if let Some((a, tail)) = strtoll(s) {
            if let Some(b) = tail
                .strip_prefix('-')
                .and_then(strtoll)
                .filter(|(_, t)| t.is_empty())
                .map(|(b, _)| b)
            {
                if b < a {
                    return Err(format!(
                        "\"{s}\" is not a valid range. Range end cannot be before start."
                    ));
                }
                return Ok((a, Some(b)));
            }
        }
    }
    match strtoll(s) {
        Some((v, "")) => Ok((v, None)),
        _ => Err(format!("\"{s}\" is not a valid integer or range")),
    }
}

/// OVS's `ovsdb_atom_from_string`: `s` (a whole token) as an atom of `base`, checked
/// against its constraints. With `range`, an integer may be a range `A-B` (its end is the
/// second value). `@name` stands for a row id of `symtab`, marked referenced.
pub(crate) fn atom_from_string(
    s: &str,
    base: &BaseType,
    symtab: &mut Symtab,
    range: bool,
) -> Result<(Atom, Option<i64>), String> {
    let (atom, end) = match base.atomic {
        AtomicType::Int => {
            let (v, end) = parse_int(s, range)?;
            (Atom::Int(v), end)
        }
        AtomicType::Real => {
            let t = s.trim_start();
            let r = t
                .parse::<f64>()
                .ok()
                .filter(|r| r.is_finite() || t.to_ascii_lowercase().contains("inf"))
                .ok_or_else(|| format!("\"{s}\" is not a valid real number"))?;
            (Atom::Real(if r == 0.0 { 0.0 } else { r }), None)
        }
        AtomicType::Bool => match s {
            "true" | "yes" | "on" | "1" => (Atom::Bool(true), None),
            "false" | "no" | "off" | "0" => (Atom::Bool(false), None),
            _ => {
                return Err(format!(
                    "\"{s}\" is not a valid boolean (use \"true\" or \"false\")"
                ))
            }
        },
        AtomicType::Str => {
            if s.is_empty() {
                return Err(
                    "An empty string is not valid as input; use \"\" to represent the empty string"
                        .into(),
                );
            }
            if s.starts_with('"') {
                if s.len() < 2 || !s.ends_with('"') {
                    return Err(format!("{s}: missing quote at end of quoted string"));
                }
                let v = serde_json::from_str::<String>(s)
                    .map_err(|e| format!("{s}: {}", json_error(&e)))?;
                (Atom::Str(v), None)
            } else {
                (Atom::Str(s.to_string()), None)
            }
        }
        AtomicType::Uuid => {
            if s.starts_with('@') {
                let sym = symtab.insert(s);
                if base.is_strong_ref() {
                    sym.strong_ref = true;
                } else if base.is_weak_ref() {
                    sym.weak_ref = true;
                }
                (Atom::Uuid(sym.uuid.clone()), None)
            } else if crate::config::is_uuid(s) {
                (Atom::Uuid(s.to_ascii_lowercase()), None)
            } else {
                return Err(format!("\"{s}\" is not a valid UUID"));
            }
        }
    };
    let constraint = |e: String| format!("constraint violation: {e}");
    base.check_atom(&atom).map_err(constraint)?;
    if let (Atom::Int(a), Some(b)) = (&atom, end) {
        if base.enum_.is_some() {
            for i in a.saturating_add(1)..=b {
                base.check_atom(&Atom::Int(i)).map_err(constraint)?;
            }
        } else {
            base.check_atom(&Atom::Int(b)).map_err(constraint)?;
        }
        if (b as u64).wrapping_sub(*a as u64) >= MAX_RANGE as u64 {
            return Err(constraint(format!(
                "Range \"{a}-{b}\" is too big. Maximum allowed size is {MAX_RANGE}."
            )));
        }
    }
    Ok((atom, end))
}

/// The gist of a JSON string error, as OVS's decoder words the common ones.
fn json_error(e: &serde_json::Error) -> String {
    let m = e.to_string();
    m.split(" at line ").next().unwrap_or(&m).to_string()
}

fn skip_spaces(b: &[u8], p: &mut usize) {
    while *p < b.len() && b[*p].is_ascii_whitespace() {
        *p += 1;
    }
}

/// One token at `*p`, as an atom of `base`.
fn atom_token(
    s: &str,
    p: &mut usize,
    base: &BaseType,
    symtab: &mut Symtab,
    range: bool,
) -> Result<(Atom, Option<i64>), String> {
    let tok = parse_token(s, p)?;
    atom_from_string(&tok, base, symtab, range)
}

/// The character at `p` for messages (C prints nothing past the end).
fn char_at(s: &str, p: usize) -> String {
    s.get(p..)
        .and_then(|r| r.chars().next())
        .map(String::from)
        .unwrap_or_default()
}

/// OVS's `ovsdb_datum_from_string`: elements separated by commas and/or white space, a set
/// optionally in `[]`, a map in `{}` (required when empty), map pairs as `key=value`;
/// element counts checked against `ty`, duplicates refused.
pub(crate) fn datum_from_string(
    s: &str,
    ty: &ColumnType,
    symtab: &mut Symtab,
) -> Result<Datum, String> {
    let b = s.as_bytes();
    let is_map = ty.is_map();
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
    let mut pairs: Vec<(Atom, Option<Atom>)> = Vec::new();
    while p < b.len() && Some(b[p]) != end_delim {
        if is_delim(b[p]) {
            return Err(format!(
                "{s}: unexpected \"{}\" parsing {}",
                char_at(s, p),
                ty.to_english()
            ));
        }
        let start = s.get(p..).unwrap_or("");
        let (key, range_end) = atom_token(s, &mut p, &ty.key, symtab, true)?;
        let value = match &ty.value {
            None => None,
            Some(vt) => {
                skip_spaces(b, &mut p);
                if b.get(p) != Some(&b'=') {
                    return Err(format!(
                        "{start}: syntax error at \"{}",
                        match char_at(s, p).as_str() {
                            "" => String::new(),
                            c => format!("{c}\" expecting \"=\""),
                        }
                    ));
                }
                p += 1;
                skip_spaces(b, &mut p);
                Some(atom_token(s, &mut p, vt, symtab, false)?.0)
            }
        };
        match (&key, range_end) {
            (Atom::Int(a), Some(end)) => {
                for i in *a..=end {
                    pairs.push((Atom::Int(i), value.clone()));
                }
            }
            _ => pairs.push((key, value)),
        }
        skip_spaces(b, &mut p);
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
    let what = if is_map { "pair(s)" } else { "value(s)" };
    if (pairs.len() as u64) < u64::from(ty.min) {
        return Err(format!(
            "{s}: {} {what} specified but the minimum number is {}",
            pairs.len(),
            ty.min
        ));
    }
    if ty.max != UNLIMITED && pairs.len() as u64 > u64::from(ty.max) {
        return Err(format!(
            "{s}: {} {what} specified but the maximum number is {}",
            pairs.len(),
            ty.max
        ));
    }
    let mut d = Datum::empty();
    for (k, v) in pairs {
        if d.contains(&k) {
            return Err(if is_map {
                format!("{s}: map contains duplicate key")
            } else {
                format!("{s}: set contains duplicate value")
            });
        }
        d.insert(k, v);
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set_of(base: BaseType, max: u32) -> ColumnType {
        ColumnType {
            key: base,
            value: None,
            min: 0,
            max,
        }
    }

    fn parse(s: &str, ty: &ColumnType) -> Result<Datum, String> {
        datum_from_string(s, ty, &mut Symtab::default())
    }

    #[test]
    fn tokens_follow_ovs() {
        let tok = |s: &str| {
            let mut p = 0;
            parse_token(s, &mut p).map(|t| (t, p))
        };
        assert_eq!(tok("a\\:b:c"), Ok(("a:b".into(), 4)));
        assert_eq!(tok("\"a:b\"=c"), Ok(("\"a:b\"".into(), 5)));
        assert_eq!(tok("\"a\\\"b\""), Ok(("\"a\\\"b\"".into(), 6)));
        assert_eq!(tok("a\\"), Err("a\\: backslash at end of argument".into()));
        assert_eq!(
            tok("\"ab"),
            Err("\"ab: quoted string extends past end of argument".into())
        );
    }

    #[test]
    fn ranges_and_sets() {
        let mut vlan = BaseType::plain(AtomicType::Int);
        vlan.min_integer = Some(0);
        vlan.max_integer = Some(4095);
        let ty = set_of(vlan, 4096);
        let d = parse("1-3,7", &ty).unwrap();
        assert_eq!(d.len(), 4);
        assert_eq!(
            parse("[3-1]", &ty).unwrap_err(),
            "\"3-1\" is not a valid range. Range end cannot be before start."
        );
        assert_eq!(
            parse("4096", &ty).unwrap_err(),
            "constraint violation: 4096 is not in the valid range 0 to 4095 (inclusive)"
        );
        assert_eq!(
            parse("1,1", &ty).unwrap_err(),
            "1,1: set contains duplicate value"
        );
        assert_eq!(
            parse("", &ty).unwrap_err(),
            "use \"[]\" to specify the empty set"
        );
        assert_eq!(
            parse("[1", &ty).unwrap_err(),
            "[1: missing \"]\" at end of data"
        );
        assert_eq!(
            parse("-5", &set_of(BaseType::plain(AtomicType::Int), 9))
                .unwrap()
                .keys,
            vec![Atom::Int(-5)]
        );
    }

    #[test]
    fn maps_and_strings() {
        let ty = ColumnType {
            key: BaseType::plain(AtomicType::Str),
            value: Some(BaseType::plain(AtomicType::Str)),
            min: 0,
            max: UNLIMITED,
        };
        let d = parse("{b=\"x y\", a=1}", &ty).unwrap();
        assert_eq!(d.to_text(&ty), "{a=\"1\", b=\"x y\"}");
        assert_eq!(
            parse("{a}", &ty).unwrap_err(),
            "a}: syntax error at \"}\" expecting \"=\""
        );
        assert_eq!(parse("a", &ty).unwrap_err(), "a: syntax error at \"");
        assert_eq!(
            parse("=a", &ty).unwrap_err(),
            "=a: unexpected \"=\" parsing map of (string, string) pairs"
        );
    }

    #[test]
    fn row_ids_are_symbols() {
        let mut base = BaseType::plain(AtomicType::Uuid);
        base.ref_table = Some("Port".into());
        let mut st = Symtab::default();
        let (a, _) = atom_from_string("@p", &base, &mut st, false).unwrap();
        let (b, _) = atom_from_string("@p", &base, &mut st, false).unwrap();
        assert_eq!(a, b);
        assert!(st.0["@p"].strong_ref && !st.0["@p"].created);
    }
}
