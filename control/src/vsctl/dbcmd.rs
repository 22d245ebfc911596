//! The database commands every OVS `*-ctl` shares (OVS's `db-ctl-base`): `get`, `list`,
//! `find`, `set`, `add`, `remove`, `clear`, `create`, `destroy`, `wait-until`, on any table of
//! the schema; how they name tables and columns (case-insensitive, `-` for `_`, unique
//! abbreviations) and rows (UUID, unique UUID prefix, `.` for a table's single row, or a
//! table's name column, e.g. a Bridge by `name`, a Controller by its bridge's name); their
//! conditions (`=`, `!=`, `<`, `>`, `<=`, `>=` and the set operators `{=}`, `{!=}`, `{<}`,
//! `{>}`, `{<=}`, `{>=}`, `{in}`, `{not-in}`); and the prerequisites OVS checks before any
//! command runs.

use super::args::Command;
use super::datum::{atom_from_string, datum_from_string, parse_token};
use super::table::OutTable;
use super::{fail, Ctx, Res, VsctlError};
use crate::ovsdb::schema::{BaseType, ColumnSchema, ColumnType, TableSchema, UNLIMITED};
use crate::ovsdb::{Atom, Datum};
use std::cmp::Ordering;

/// How rows of a table can be named besides their UUID: (table, table holding the name,
/// name column, column of that table referring to the row). OVS's `ctl_table_class` rows.
const ROW_IDS: &[(&str, &str, &str, Option<&str>)] = &[
    ("Bridge", "Bridge", "name", None),
    ("Controller", "Bridge", "name", Some("controller")),
    ("Interface", "Interface", "name", None),
    ("Mirror", "Mirror", "name", None),
    ("Manager", "Manager", "target", None),
    ("NetFlow", "Bridge", "name", Some("netflow")),
    ("Port", "Port", "name", None),
    ("QoS", "Port", "name", Some("qos")),
    ("sFlow", "Bridge", "name", Some("sflow")),
    ("Flow_Table", "Flow_Table", "name", None),
    ("IPFIX", "Bridge", "name", Some("ipfix")),
    ("AutoAttach", "Bridge", "name", Some("auto_attach")),
    (
        "Flow_Sample_Collector_Set",
        "Flow_Sample_Collector_Set",
        "id",
        None,
    ),
];

/// The comparison operators of conditions, in OVS's order.
const RELOPS: &[&str] = &[
    "=", "!=", "<", ">", "<=", ">=", "{=}", "{!=}", "{<}", "{>}", "{<=}", "{>=}", "{in}",
    "{not-in}",
];

/// OVS's `score_partial_match`: how well user input `s` names `name`.
fn score(name: &str, s: &str) -> u32 {
    if name == s {
        return u32::MAX;
    }
    let norm = |c: u8| {
        if c == b'-' {
            b'_'
        } else {
            c.to_ascii_lowercase()
        }
    };
    let (n, sb) = (name.as_bytes(), s.as_bytes());
    let mut i = 0;
    loop {
        let a = n.get(i).copied().unwrap_or(0);
        let b = sb.get(i).copied().unwrap_or(0);
        if norm(a) != norm(b) {
            break;
        }
        if a == 0 {
            return u32::MAX - 1;
        }
        i += 1;
    }
    if i == sb.len() {
        u32::try_from(i).unwrap_or(0)
    } else {
        0
    }
}

/// The candidates scoring best for `s`, sorted.
fn best<'a>(names: impl Iterator<Item = &'a str>, s: &str) -> Vec<&'a str> {
    let mut top = 0;
    let mut found: Vec<&str> = Vec::new();
    for n in names {
        let sc = score(n, s);
        if sc > 0 && sc >= top {
            if sc > top {
                found.clear();
            }
            top = sc;
            found.push(n);
        }
    }
    found.sort_unstable();
    found
}

/// OVS's `get_table`.
pub(crate) fn get_table(ctx: &Ctx<'_>, name: &str) -> Res<&'static TableSchema> {
    let schema = ctx.db.schema();
    match best(schema.tables.keys().map(String::as_str), name).as_slice() {
        [] => fail(format!("unknown table \"{name}\"")),
        [one] => schema
            .table(one)
            .ok_or_else(|| VsctlError::new(format!("unknown table \"{name}\""))),
        many => fail(format!(
            "\"{name}\" matches multiple table names: {}",
            many.join(", ")
        )),
    }
}

/// OVS's `get_column`.
pub(crate) fn get_column(table: &'static TableSchema, name: &str) -> Res<&'static ColumnSchema> {
    match best(table.columns.keys().map(String::as_str), name).as_slice() {
        [] => fail(format!(
            "{} does not contain a column whose name matches \"{name}\"",
            table.name
        )),
        [one] => table.columns.get(*one).ok_or_else(|| {
            VsctlError::new(format!(
                "{} does not contain a column whose name matches \"{name}\"",
                table.name
            ))
        }),
        many => fail(format!(
            "{} contains more than one column whose name matches \"{name}\": {}",
            table.name,
            many.join(", ")
        )),
    }
}

/// OVS's `uuid_is_partial_string`: the length of `s` if it is the start of a UUID.
fn partial_uuid_len(s: &str) -> usize {
    let b = s.as_bytes();
    if b.len() > 36 {
        return 0;
    }
    let ok = b.iter().enumerate().all(|(i, c)| {
        if matches!(i, 8 | 13 | 18 | 23) {
            *c == b'-'
        } else {
            c.is_ascii_hexdigit()
        }
    });
    if ok {
        b.len()
    } else {
        0
    }
}

/// OVS's `record_id_equals`: a name equals the record id, or is a UUID-shaped name the id
/// (four characters or more) starts.
fn record_id_equals(name: &Atom, record_id: &str) -> bool {
    match name {
        Atom::Str(s) => {
            s == record_id
                || (record_id.len() >= 4 && crate::config::is_uuid(s) && s.starts_with(record_id))
        }
        Atom::Int(i) => record_id.parse::<i64>().is_ok_and(|r| r == *i),
        _ => false,
    }
}

/// OVS's `ctl_get_row`: the row of `table` that `record_id` names, or `None` (an error if
/// `must_exist`).
pub(crate) fn get_row(
    ctx: &Ctx<'_>,
    table: &TableSchema,
    record_id: &str,
    must_exist: bool,
) -> Res<Option<String>> {
    let rows = ctx.db.table(&table.name);
    let has = |u: &str| rows.is_some_and(|t| t.row(u).is_some());
    if crate::config::is_uuid(record_id) {
        let u = record_id.to_ascii_lowercase();
        if has(&u) {
            return Ok(Some(u));
        }
    }
    if record_id == "." {
        if let Some(t) = rows.filter(|t| t.len() == 1) {
            return Ok(t.rows().next().map(|(u, _)| u.to_string()));
        }
    }
    if let Some((_, name_table, name_col, via)) = ROW_IDS.iter().find(|r| r.0 == table.name) {
        let integer_name = *name_col == "id";
        let plausible = !integer_name
            || (!record_id.is_empty() && record_id.bytes().all(|b| b.is_ascii_digit()));
        let mut found: Option<String> = None;
        if plausible {
            for (u, row) in ctx
                .db
                .table(name_table)
                .map(|t| t.rows())
                .into_iter()
                .flatten()
            {
                let Some(name) = row.get(name_col).and_then(Datum::as_scalar) else {
                    continue;
                };
                if record_id_equals(name, record_id) {
                    if found.is_some() {
                        return fail(format!(
                            "multiple rows in {name_table} match \"{record_id}\""
                        ));
                    }
                    found = Some(u.to_string());
                }
            }
        }
        let target = match (found, via) {
            (Some(u), None) => Some(u),
            (Some(u), Some(col)) => ctx
                .db
                .get(name_table, &u, col)
                .and_then(Datum::as_scalar)
                .and_then(Atom::as_uuid)
                .filter(|t| has(t))
                .map(str::to_string),
            (None, _) => None,
        };
        if target.is_some() {
            return Ok(target);
        }
    }
    if partial_uuid_len(record_id) >= 4 {
        let mut hit: Option<&str> = None;
        for (u, _) in rows.map(|t| t.rows()).into_iter().flatten() {
            if u.starts_with(record_id) {
                if let Some(first) = hit {
                    return fail(format!(
                        "{} contains 2 or more rows whose UUIDs begin with {record_id}: at least {first} and {u}",
                        table.name
                    ));
                }
                hit = Some(u);
            }
        }
        if let Some(u) = hit {
            return Ok(Some(u.to_string()));
        }
    }
    if must_exist {
        return fail(format!("no row \"{record_id}\" in table {}", table.name));
    }
    Ok(None)
}

/// A parsed `COLUMN[:KEY][OP VALUE]` argument.
pub(crate) struct ColumnArg {
    pub column: &'static ColumnSchema,
    pub key: Option<String>,
    pub op: &'static str,
    pub value: Option<String>,
}

/// OVS's `parse_column_key_value`: with `ops`, the argument must end in one of them and a
/// value (the longest operator that leaves a value wins).
pub(crate) fn parse_column_key_value(
    arg: &str,
    table: &'static TableSchema,
    ops: Option<&[&'static str]>,
) -> Res<ColumnArg> {
    let mut p = 0;
    let name = parse_token(arg, &mut p)?;
    if name.is_empty() {
        return fail(format!("{arg}: missing column name"));
    }
    let column = get_column(table, &name)?;
    let mut key = None;
    if arg.as_bytes().get(p) == Some(&b':') {
        p += 1;
        key = Some(parse_token(arg, &mut p)?);
    }
    let rest = arg.get(p..).unwrap_or("");
    let Some(ops) = ops else {
        if !rest.is_empty() {
            return fail(format!("{arg}: trailing garbage \"{rest}\" in argument"));
        }
        return Ok(ColumnArg {
            column,
            key,
            op: "",
            value: None,
        });
    };
    let op = ops
        .iter()
        .filter(|o| rest.starts_with(**o) && rest.len() > o.len())
        .max_by_key(|o| o.len());
    let Some(op) = op else {
        let quoted: Vec<String> = ops.iter().map(|o| format!("\"{o}\"")).collect();
        let list = match quoted.as_slice() {
            [one] => one.clone(),
            [a, b] => format!("{a} or {b}"),
            [init @ .., last] => format!("{}, or {last}", init.join(", ")),
            [] => String::new(),
        };
        return fail(format!(
            "{arg}: argument does not end in {list} followed by a value."
        ));
    };
    Ok(ColumnArg {
        column,
        key,
        op,
        value: rest.get(op.len()..).map(str::to_string),
    })
}

/// The column name of an argument, checked (OVS's `pre_parse_column_key_value`).
fn pre_column(table: &'static TableSchema, arg: &str) -> Res<()> {
    let mut p = 0;
    let name = parse_token(arg, &mut p)?;
    if name.is_empty() {
        return fail(format!("{arg}: missing column name"));
    }
    get_column(table, &name).map(|_| ())
}

/// What OVS checks before running any command: tables, column names, `--columns`; and the
/// warning about a `create` that will have no effect.
pub(crate) fn prerequisites(ctx: &mut Ctx<'_>, cmd: &Command) -> Res<()> {
    let args = &cmd.args;
    match cmd.syntax.name {
        "get" => {
            let table = get_table(ctx, cmd.arg(0))?;
            for a in args.iter().skip(2) {
                if !a.eq_ignore_ascii_case("_uuid") && !a.eq_ignore_ascii_case("-uuid") {
                    pre_column(table, a)?;
                }
            }
        }
        "list" | "find" => {
            let table = get_table(ctx, cmd.arg(0))?;
            parse_column_names(cmd.value("--columns"), table)?;
            if cmd.syntax.name == "find" {
                for a in args.iter().skip(1) {
                    pre_column(table, a)?;
                }
            }
        }
        "set" | "wait-until" => {
            let table = get_table(ctx, cmd.arg(0))?;
            for a in args.iter().skip(2) {
                pre_column(table, a)?;
            }
        }
        "add" | "remove" => {
            let table = get_table(ctx, cmd.arg(0))?;
            get_column(table, cmd.arg(2))?;
        }
        "clear" => {
            let table = get_table(ctx, cmd.arg(0))?;
            for a in args.iter().skip(2) {
                get_column(table, a)?;
            }
        }
        "destroy" => {
            get_table(ctx, cmd.arg(0))?;
        }
        "create" => {
            let table = get_table(ctx, cmd.arg(0))?;
            if !cmd.has("--id") && !table.is_root {
                ctx.warn(
                    "db_ctl_base",
                    format!(
                        "applying \"create\" command to table {} without --id option will have no effect",
                        table.name
                    ),
                );
            }
        }
        _ => {}
    }
    Ok(())
}

/// A column of `list`/`find` output (`None`: the row's UUID).
type ListColumn = Option<&'static ColumnSchema>;

/// OVS's `parse_column_names`: `--columns` split at commas and spaces, else `_uuid` and every
/// column.
fn parse_column_names(spec: Option<&str>, table: &'static TableSchema) -> Res<Vec<ListColumn>> {
    let Some(spec) = spec else {
        return Ok(std::iter::once(None)
            .chain(table.columns.values().map(Some))
            .collect());
    };
    let mut cols = Vec::new();
    for name in spec.split([',', ' ']).filter(|s| !s.is_empty()) {
        if name.eq_ignore_ascii_case("_uuid") {
            cols.push(None);
        } else {
            cols.push(Some(get_column(table, name)?));
        }
    }
    if cols.is_empty() {
        return fail("must specify at least one column name");
    }
    Ok(cols)
}

static UUID_TYPE: ColumnType = ColumnType::scalar(crate::ovsdb::schema::AtomicType::Uuid);

fn make_table(cols: &[ListColumn]) -> OutTable {
    OutTable {
        headings: cols
            .iter()
            .map(|c| c.map_or("_uuid".to_string(), |c| c.name.clone()))
            .collect(),
        rows: Vec::new(),
    }
}

fn list_record(
    ctx: &Ctx<'_>,
    table: &TableSchema,
    uuid: &str,
    cols: &[ListColumn],
    out: &mut OutTable,
) {
    out.rows.push(
        cols.iter()
            .map(|c| match c {
                None => (
                    Datum::scalar(Atom::Uuid(uuid.to_string())),
                    UUID_TYPE.clone(),
                ),
                Some(c) => (ctx.read(&table.name, uuid, &c.name), c.ty.clone()),
            })
            .collect(),
    );
}

/// Every row of `table`, in rvs's stable order: by name (or `target`, `id`), then UUID.
pub(crate) fn all_rows(ctx: &Ctx<'_>, table: &str) -> Vec<String> {
    let Some(t) = ctx.db.table(table) else {
        return Vec::new();
    };
    let key_col = ["name", "target", "id"]
        .into_iter()
        .find(|c| t.column_type(c).is_some());
    let mut rows: Vec<(Option<Datum>, String)> = t
        .rows()
        .map(|(u, r)| (key_col.and_then(|c| r.get(c).cloned()), u.to_string()))
        .collect();
    rows.sort_by(|a, b| {
        let first = |d: &Option<Datum>| d.as_ref().and_then(|d| d.keys.first().cloned());
        match (first(&a.0), first(&b.0)) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            (x, y) => x.is_some().cmp(&y.is_some()).reverse(),
        }
        .then_with(|| a.1.cmp(&b.1))
    });
    rows.into_iter().map(|(_, u)| u).collect()
}

/// `get TABLE RECORD [COLUMN[:KEY]]...`
pub(crate) fn get(ctx: &mut Ctx<'_>, cmd: &Command, out: &mut String) -> Res<()> {
    let id = cmd.value("--id");
    let must_exist = !cmd.has("--if-exists");
    if id.is_some() && !must_exist {
        return fail("--if-exists and --id may not be specified together");
    }
    let table = get_table(ctx, cmd.arg(0))?;
    let record_id = cmd.arg(1);
    let Some(row) = get_row(ctx, table, record_id, must_exist)? else {
        return Ok(());
    };
    if let Some(id) = id {
        let fresh = !ctx.symtab.0.contains_key(id);
        let sym = create_symbol(ctx, id)?;
        if !fresh {
            return fail(format!(
                "row id \"{id}\" specified on \"get\" command was used before it was defined"
            ));
        }
        sym.uuid = row.clone();
        sym.strong_ref = true;
    }
    for a in cmd.args.iter().skip(2) {
        if a.eq_ignore_ascii_case("_uuid") || a.eq_ignore_ascii_case("-uuid") {
            out.push_str(&row);
            out.push('\n');
            continue;
        }
        let ca = parse_column_key_value(a, table, None)?;
        let d = ctx.read(&table.name, &row, &ca.column.name);
        match ca.key {
            Some(k) => {
                let (key, _) = map_key(ctx, ca.column, &k, "get")?;
                match d.get(&key) {
                    Some(v) => out.push_str(&v.to_text()),
                    None if must_exist => {
                        return fail(format!(
                            "no key \"{k}\" in {} record \"{record_id}\" column {}",
                            table.name, ca.column.name
                        ))
                    }
                    None => {}
                }
            }
            None => out.push_str(&d.to_text(&ca.column.ty)),
        }
        out.push('\n');
    }
    Ok(())
}

/// OVS's `create_symbol`: a row id defined by `--id`.
fn create_symbol<'c>(ctx: &'c mut Ctx<'_>, id: &str) -> Res<&'c mut super::datum::Symbol> {
    if !id.starts_with('@') {
        return fail(format!("row id \"{id}\" does not begin with \"@\""));
    }
    let sym = ctx.symtab.insert(id);
    if sym.created {
        return fail(format!(
            "row id \"{id}\" may only be specified on one --id option"
        ));
    }
    sym.created = true;
    Ok(sym)
}

/// `list TABLE [RECORD]...`
pub(crate) fn list(ctx: &mut Ctx<'_>, cmd: &Command) -> Res<OutTable> {
    let must_exist = !cmd.has("--if-exists");
    let table = get_table(ctx, cmd.arg(0))?;
    let cols = parse_column_names(cmd.value("--columns"), table)?;
    let mut out = make_table(&cols);
    if cmd.args.len() > 1 {
        for id in cmd.args.iter().skip(1) {
            if let Some(row) = get_row(ctx, table, id, must_exist)? {
                list_record(ctx, table, &row, &cols, &mut out);
            }
        }
    } else {
        for row in all_rows(ctx, &table.name) {
            list_record(ctx, table, &row, &cols, &mut out);
        }
    }
    Ok(out)
}

/// `find TABLE [CONDITION]...`
pub(crate) fn find(ctx: &mut Ctx<'_>, cmd: &Command) -> Res<OutTable> {
    let table = get_table(ctx, cmd.arg(0))?;
    let cols = parse_column_names(cmd.value("--columns"), table)?;
    let mut out = make_table(&cols);
    'rows: for row in all_rows(ctx, &table.name) {
        for cond in cmd.args.iter().skip(1) {
            if !check_condition(ctx, table, &row, cond)? {
                continue 'rows;
            }
        }
        list_record(ctx, table, &row, &cols, &mut out);
    }
    Ok(out)
}

/// OVS's `ovsdb_datum_compare_3way`: by size, then element by element.
fn compare_3way(a: &Datum, b: &Datum) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| {
        a.keys
            .iter()
            .zip(&b.keys)
            .map(|(x, y)| x.total_cmp(y))
            .chain(a.values.iter().zip(&b.values).map(|(x, y)| x.total_cmp(y)))
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(Ordering::Equal)
    })
}

/// OVS's `ovsdb_datum_includes_all`: every element of `a` (key and, for maps, value) is in
/// `b`.
fn includes_all(a: &Datum, b: &Datum) -> bool {
    a.len() <= b.len()
        && a.keys
            .iter()
            .enumerate()
            .all(|(i, k)| match a.values.get(i) {
                None => b.contains(k),
                Some(v) => b.get(k) == Some(v),
            })
}

fn excludes_all(a: &Datum, b: &Datum) -> bool {
    a.keys
        .iter()
        .enumerate()
        .all(|(i, k)| match a.values.get(i) {
            None => !b.contains(k),
            Some(v) => b.get(k) != Some(v),
        })
}

fn evaluate(a: &Datum, b: &Datum, op: &str) -> bool {
    let c = compare_3way(a, b);
    match op {
        "=" | "{=}" => c == Ordering::Equal,
        "!=" | "{!=}" => c != Ordering::Equal,
        "<" => c == Ordering::Less,
        ">" => c == Ordering::Greater,
        "<=" => c != Ordering::Greater,
        ">=" => c != Ordering::Less,
        "{<}" => b.len() > a.len() && includes_all(a, b),
        "{>}" => a.len() > b.len() && includes_all(b, a),
        "{<=}" | "{in}" => includes_all(a, b),
        "{>=}" => includes_all(b, a),
        "{not-in}" => excludes_all(a, b),
        _ => false,
    }
}

/// OVS's `check_condition`: does row `uuid` satisfy `arg`?
pub(crate) fn check_condition(
    ctx: &mut Ctx<'_>,
    table: &'static TableSchema,
    uuid: &str,
    arg: &str,
) -> Res<bool> {
    let ca = parse_column_key_value(arg, table, Some(RELOPS))?;
    let Some(value) = ca.value else {
        return fail(format!("{arg}: missing value"));
    };
    let col = ca.column;
    let have = ctx.read(&table.name, uuid, &col.name);
    let set_op = ca.op.starts_with('{');
    match ca.key {
        Some(k) => {
            let (key, vt) = map_key(ctx, col, &k, "check")?;
            let ty = ColumnType {
                key: vt.clone(),
                value: None,
                min: col.ty.min,
                max: UNLIMITED,
            };
            let want = datum_from_string(&value, &ty, &mut ctx.symtab)?;
            match have.get(&key) {
                Some(v) => Ok(evaluate(&Datum::scalar(v.clone()), &want, ca.op)),
                None if set_op => Ok(evaluate(&Datum::empty(), &want, ca.op)),
                None => Ok(false),
            }
        }
        None => {
            let want = datum_from_string(&value, &col.ty, &mut ctx.symtab)?;
            Ok(evaluate(&have, &want, ca.op))
        }
    }
}

/// The key of a `COLUMN:KEY` argument as an atom of the map column's key type, and the
/// column's value type; a key on a set column is an error naming what it was `for` ("get",
/// "set", "check").
fn map_key<'c>(
    ctx: &mut Ctx<'_>,
    col: &'c ColumnSchema,
    key: &str,
    verb: &str,
) -> Res<(Atom, &'c BaseType)> {
    let Some(vt) = &col.ty.value else {
        return fail(format!(
            "cannot specify key to {verb} for non-map column {}",
            col.name
        ));
    };
    let (k, _) = atom_from_string(key, &col.ty.key, &mut ctx.symtab, false)?;
    Ok((k, vt))
}

/// OVS's `check_mutable`.
fn check_mutable(ctx: &Ctx<'_>, table: &TableSchema, uuid: &str, col: &ColumnSchema) -> Res<()> {
    if col.mutable || ctx.is_new(&table.name, uuid) {
        return Ok(());
    }
    fail(format!(
        "cannot modify read-only column {} in table {}",
        col.name, table.name
    ))
}

/// OVS's `set_column`: one `COLUMN[:KEY]=VALUE` on row `uuid`.
pub(crate) fn set_column(
    ctx: &mut Ctx<'_>,
    table: &'static TableSchema,
    uuid: &str,
    arg: &str,
) -> Res<()> {
    let ca = parse_column_key_value(arg, table, Some(&["="]))?;
    let Some(value) = ca.value else {
        return fail(format!("{arg}: missing value"));
    };
    let col = ca.column;
    check_mutable(ctx, table, uuid, col)?;
    let new = match ca.key {
        Some(k) => {
            let (key, vt) = map_key(ctx, col, &k, "set")?;
            let (v, _) = atom_from_string(&value, vt, &mut ctx.symtab, false)?;
            let mut d = ctx.read(&table.name, uuid, &col.name);
            d.insert(key, Some(v));
            d
        }
        None => datum_from_string(&value, &col.ty, &mut ctx.symtab)?,
    };
    ctx.db.write(&table.name, uuid, &col.name, new);
    Ok(())
}

/// The table and row a modifying command works on, or `None` with `--if-exists`.
fn target(ctx: &Ctx<'_>, cmd: &Command) -> Res<Option<(&'static TableSchema, String)>> {
    let table = get_table(ctx, cmd.arg(0))?;
    Ok(get_row(ctx, table, cmd.arg(1), !cmd.has("--if-exists"))?.map(|r| (table, r)))
}

/// `set TABLE RECORD COLUMN[:KEY]=VALUE...`
pub(crate) fn set(ctx: &mut Ctx<'_>, cmd: &Command) -> Res<()> {
    let Some((table, row)) = target(ctx, cmd)? else {
        return Ok(());
    };
    for a in cmd.args.iter().skip(2) {
        set_column(ctx, table, &row, a)?;
    }
    Ok(())
}

/// "values" or "pairs", as OVS counts a column's elements.
fn elements(ty: &ColumnType) -> &'static str {
    if ty.is_map() {
        "pairs"
    } else {
        "values"
    }
}

/// The column of `add`/`remove`/`clear` and the row, checked for mutability.
fn column_target(
    ctx: &Ctx<'_>,
    cmd: &Command,
    column: &str,
) -> Res<Option<(&'static TableSchema, &'static ColumnSchema, String)>> {
    let table = get_table(ctx, cmd.arg(0))?;
    let col = get_column(table, column)?;
    let Some(row) = get_row(ctx, table, cmd.arg(1), !cmd.has("--if-exists"))? else {
        return Ok(None);
    };
    check_mutable(ctx, table, &row, col)?;
    Ok(Some((table, col, row)))
}

/// `add TABLE RECORD COLUMN [KEY=]VALUE...`. As the last command, OVS sends the additions as
/// a mutation (so a map's existing keys take the new values, and the server checks the
/// size); before that, it writes the union (existing keys win) and checks the size itself.
pub(crate) fn add(ctx: &mut Ctx<'_>, cmd: &Command) -> Res<()> {
    let Some((table, col, row)) = column_target(ctx, cmd, cmd.arg(2))? else {
        return Ok(());
    };
    let ty = &col.ty;
    let old = ctx.read(&table.name, &row, &col.name);
    let mut new = if ctx.last {
        Datum::empty()
    } else {
        old.clone()
    };
    let add_ty = ColumnType {
        min: 1,
        max: UNLIMITED,
        ..ty.clone()
    };
    for a in cmd.args.iter().skip(3) {
        let add = datum_from_string(a, &add_ty, &mut ctx.symtab)?;
        for (i, k) in add.keys.iter().enumerate() {
            if !new.contains(k) {
                new.insert(k.clone(), add.values.get(i).cloned());
            }
        }
    }
    if !ctx.last {
        if ty.max != UNLIMITED && new.len() as u64 > u64::from(ty.max) {
            return fail(format!(
                "\"add\" operation would put {} {} in column {} of table {} but the maximum number is {}",
                new.len(),
                elements(ty),
                col.name,
                table.name,
                ty.max
            ));
        }
        ctx.db.write(&table.name, &row, &col.name, new);
        return Ok(());
    }
    // The mutation: its argument must fit the column, then so must the result.
    if ty.max != UNLIMITED && new.len() as u64 > u64::from(ty.max) {
        let class = if ty.is_map() { "map" } else { "set" };
        let wire = ColumnType {
            max: UNLIMITED,
            ..ty.clone()
        };
        ctx.op_error.get_or_insert(crate::ovsdb::CommitError {
            error: "syntax error".into(),
            details: if ty.min == 1 && ty.max == 1 {
                format!(
                    "{class} must have exactly one member but {} are present",
                    new.len()
                )
            } else {
                format!(
                    "{class} must have {} to {} members but {} are present",
                    ty.min,
                    ty.max,
                    new.len()
                )
            },
            syntax: Some(new.to_json(&wire).to_string()),
        });
        return Ok(());
    }
    let mut result = old;
    for (i, k) in new.keys.iter().enumerate() {
        result.insert(k.clone(), new.values.get(i).cloned());
    }
    if ty.max != UNLIMITED && result.len() as u64 > u64::from(ty.max) {
        ctx.op_error.get_or_insert(crate::ovsdb::CommitError {
            error: "constraint violation".into(),
            details: format!(
                "Attempted to store {} elements in {}.",
                result.len(),
                ty.to_english()
            ),
            syntax: None,
        });
        return Ok(());
    }
    ctx.db.write(&table.name, &row, &col.name, result);
    Ok(())
}

/// `remove TABLE RECORD COLUMN KEY|VALUE|KEY=VALUE...`
pub(crate) fn remove(ctx: &mut Ctx<'_>, cmd: &Command) -> Res<()> {
    let Some((table, col, row)) = column_target(ctx, cmd, cmd.arg(2))? else {
        return Ok(());
    };
    let ty = &col.ty;
    let mut d = ctx.read(&table.name, &row, &col.name);
    let rm_ty = ColumnType {
        min: 1,
        max: UNLIMITED,
        ..ty.clone()
    };
    for a in cmd.args.iter().skip(3) {
        match datum_from_string(a, &rm_ty, &mut ctx.symtab) {
            Ok(rm) => {
                for (i, k) in rm.keys.iter().enumerate() {
                    d.remove(k, rm.values.get(i));
                }
            }
            Err(e) if !ty.is_map() => return Err(e.into()),
            Err(_) => {
                let keys_ty = ColumnType {
                    value: None,
                    ..rm_ty.clone()
                };
                let rm = datum_from_string(a, &keys_ty, &mut ctx.symtab)?;
                for k in &rm.keys {
                    d.remove(k, None);
                }
            }
        }
    }
    if (d.len() as u64) < u64::from(ty.min) {
        return fail(format!(
            "\"remove\" operation would put {} {} in column {} of table {} but the minimum number is {}",
            d.len(),
            elements(ty),
            col.name,
            table.name,
            ty.min
        ));
    }
    ctx.db.write(&table.name, &row, &col.name, d);
    Ok(())
}

/// `clear TABLE RECORD COLUMN...`
pub(crate) fn clear(ctx: &mut Ctx<'_>, cmd: &Command) -> Res<()> {
    let table = get_table(ctx, cmd.arg(0))?;
    let Some(row) = get_row(ctx, table, cmd.arg(1), !cmd.has("--if-exists"))? else {
        return Ok(());
    };
    for c in cmd.args.iter().skip(2) {
        let col = get_column(table, c)?;
        check_mutable(ctx, table, &row, col)?;
        if col.ty.min > 0 {
            return fail(format!(
                "\"clear\" operation cannot be applied to column {} of table {}, which is not allowed to be empty",
                col.name, table.name
            ));
        }
        ctx.db.write(&table.name, &row, &col.name, Datum::empty());
    }
    Ok(())
}

/// `create TABLE COLUMN[:KEY]=VALUE...`: returns the new row's (provisional) UUID.
pub(crate) fn create(ctx: &mut Ctx<'_>, cmd: &Command) -> Res<String> {
    let table = get_table(ctx, cmd.arg(0))?;
    let uuid = match cmd.value("--id") {
        Some(id) if crate::config::is_uuid(id) => {
            let u = id.to_ascii_lowercase();
            if ctx.db.row(&table.name, &u).is_some() {
                // The server refuses the insert; the columns are not set on the existing row.
                ctx.op_error.get_or_insert(crate::ovsdb::CommitError {
                    error: "duplicate uuid".into(),
                    details: "This UUID would duplicate a UUID already present within the table or deleted within the same transaction.".into(),
                    syntax: Some(format!("\"{u}\"")),
                });
                return Ok(u);
            }
            ctx.db.insert(&table.name, &u);
            u
        }
        Some(id) => {
            let root = table.is_root;
            let sym = create_symbol(ctx, id)?;
            if root {
                sym.strong_ref = true;
            }
            let u = sym.uuid.clone();
            ctx.db.insert(&table.name, &u);
            ctx.provisional.push((table.name.clone(), u.clone()));
            u
        }
        None => ctx.insert(&table.name, None),
    };
    for a in cmd.args.iter().skip(1) {
        set_column(ctx, table, &uuid, a)?;
    }
    Ok(uuid)
}

/// `destroy TABLE [RECORD]...`
pub(crate) fn destroy(ctx: &mut Ctx<'_>, cmd: &Command) -> Res<()> {
    let must_exist = !cmd.has("--if-exists");
    let all = cmd.has("--all");
    let table = get_table(ctx, cmd.arg(0))?;
    if all && cmd.args.len() > 1 {
        return fail("--all and records argument should not be specified together");
    }
    if all && !must_exist {
        return fail("--all and --if-exists should not be specified together");
    }
    if !all && cmd.args.len() == 1 {
        ctx.warn(
            "db_ctl_base",
            "either --all or records argument should be specified".into(),
        );
        return Ok(());
    }
    let rows: Vec<String> = if all {
        all_rows(ctx, &table.name)
    } else {
        let mut v = Vec::new();
        for id in cmd.args.iter().skip(1) {
            if let Some(r) = get_row(ctx, table, id, must_exist)? {
                v.push(r);
            }
        }
        v
    };
    for r in rows {
        ctx.db.delete(&table.name, &r);
    }
    Ok(())
}

/// `wait-until TABLE RECORD [CONDITION]...`: sets `try_again` while it does not hold.
pub(crate) fn wait_until(ctx: &mut Ctx<'_>, cmd: &Command) -> Res<()> {
    let table = get_table(ctx, cmd.arg(0))?;
    let Some(row) = get_row(ctx, table, cmd.arg(1), false)? else {
        ctx.try_again = true;
        return Ok(());
    };
    for cond in cmd.args.iter().skip(2) {
        if !check_condition(ctx, table, &row, cond)? {
            ctx.try_again = true;
            return Ok(());
        }
    }
    Ok(())
}
