//! `ovs-vsctl show`: the overview OVS prints (its `cmd_show_tables`): the Open_vSwitch row,
//! its managers and bridges, each bridge's controllers, fail mode, datapath type and ports,
//! each port's tag, trunks and interfaces, each interface's type, options, error and BFD
//! status; a column only when it differs from its default, a referenced table's rows nested
//! four spaces deeper (never a table inside itself).
//!
//! OVS orders referenced rows by UUID, i.e. at random; rvs lists them by name (a bridge's own
//! port first), which is stable across runs.

use super::Ctx;
use crate::ovsdb::Atom;

/// (table, name column, columns shown).
const SHOW: &[(&str, Option<&str>, &[&str])] = &[
    (
        "Open_vSwitch",
        None,
        &["manager_options", "bridges", "ovs_version"],
    ),
    (
        "Bridge",
        Some("name"),
        &["controller", "fail_mode", "datapath_type", "ports"],
    ),
    ("Port", Some("name"), &["tag", "trunks", "interfaces"]),
    (
        "Interface",
        Some("name"),
        &["type", "options", "error", "bfd_status"],
    ),
    ("Controller", Some("target"), &["is_connected"]),
    ("Manager", Some("target"), &["is_connected"]),
];

/// `show`.
pub(crate) fn show(ctx: &Ctx<'_>, out: &mut String) {
    let rows: Vec<String> = ctx
        .db
        .table("Open_vSwitch")
        .map(|t| t.rows().map(|(u, _)| u.to_string()).collect())
        .unwrap_or_default();
    let mut shown = Vec::new();
    for r in rows {
        show_row(ctx, "Open_vSwitch", &r, 0, &mut shown, out);
    }
}

/// The existing rows among `uuids` of `table` in display order: by name, a row named
/// `first` before the others.
fn ordered(
    ctx: &Ctx<'_>,
    table: &str,
    name_col: Option<&str>,
    uuids: &[&str],
    first: Option<&str>,
) -> Vec<String> {
    let mut rows: Vec<(bool, Option<Atom>, String)> = uuids
        .iter()
        .filter(|u| ctx.db.row(table, u).is_some())
        .map(|u| {
            let name = name_col.and_then(|c| ctx.db.get(table, u, c)?.keys.first().cloned());
            let own = first.is_some_and(|f| name == Some(Atom::Str(f.to_string())));
            (!own, name, u.to_string())
        })
        .collect();
    rows.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| match (&a.1, &b.1) {
                (Some(x), Some(y)) => x.total_cmp(y),
                _ => std::cmp::Ordering::Equal,
            })
            .then_with(|| a.2.cmp(&b.2))
    });
    rows.into_iter().map(|(_, _, u)| u).collect()
}

/// OVS's `cmd_show_row`.
fn show_row(
    ctx: &Ctx<'_>,
    table: &str,
    uuid: &str,
    level: usize,
    shown: &mut Vec<&'static str>,
    out: &mut String,
) {
    let Some(&(tname, name_col, cols)) = SHOW.iter().find(|s| s.0 == table) else {
        return;
    };
    let Some(schema) = ctx.db.schema().table(tname) else {
        return;
    };
    let pad = |n: usize| " ".repeat(n * 4);
    out.push_str(&pad(level));
    let mut own_name = None;
    match name_col.and_then(|c| Some((c, schema.column_type(c)?))) {
        Some((c, ty)) => {
            let d = ctx.read(tname, uuid, c);
            if let Some(Atom::Str(s)) = d.as_scalar() {
                own_name = Some(s.clone());
            }
            out.push_str(&format!("{tname} {}", d.to_text(ty)));
        }
        None => out.push_str(uuid),
    }
    out.push('\n');
    if shown.contains(&tname) {
        return;
    }
    shown.push(tname);
    for col in cols {
        let Some(ty) = schema.column_type(col) else {
            continue;
        };
        let d = ctx.read(tname, uuid, col);
        if let Some(rt) = ty.key.ref_table.as_deref() {
            if let Some(&(_, rname, _)) = SHOW.iter().find(|s| s.0 == rt) {
                let refs: Vec<&str> = d.keys.iter().filter_map(Atom::as_uuid).collect();
                let first = if rt == "Port" {
                    own_name.as_deref()
                } else {
                    None
                };
                for r in ordered(ctx, rt, rname, &refs, first) {
                    show_row(ctx, rt, &r, level + 1, shown, out);
                }
                continue;
            }
        }
        if let Some(rt) = ty.value.as_ref().and_then(|v| v.ref_table.as_deref()) {
            if let Some(&(_, Some(rname), _)) = SHOW.iter().find(|s| s.0 == rt) {
                out.push_str(&format!("{}{col}:\n", pad(level + 1)));
                for (k, v) in d.pairs() {
                    let target = v
                        .as_uuid()
                        .filter(|u| ctx.db.row(rt, u).is_some())
                        .and_then(|u| {
                            let rty = ctx.db.schema().table(rt)?.column_type(rname)?;
                            Some(ctx.read(rt, u, rname).to_text(rty))
                        })
                        .unwrap_or_else(|| "\"<null>\"".into());
                    out.push_str(&format!("{}{}={target}\n", pad(level + 2), k.to_text()));
                }
                continue;
            }
        }
        if d != ty.default_datum() {
            out.push_str(&format!("{}{col}: {}\n", pad(level + 1), d.to_text(ty)));
        }
    }
    shown.retain(|t| *t != tname);
}
