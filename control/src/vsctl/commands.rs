//! The `ovs-vsctl` commands that know the Open_vSwitch schema: bridges (real and fake, i.e.
//! VLAN bridges), ports, bonds, interfaces, external ids, controllers, fail modes, managers,
//! SSL, Auto Attach mappings, conntrack zone timeout policies, datapath capabilities and
//! `emer-reset`, as OVS 3.1's `ovs-vsctl.c` implements them on the database.
//!
//! They work through a [`Cache`] of bridges, ports and interfaces built from the database as
//! OVS builds it: a fake bridge is a Port of its parent with `fake_bridge=true` and a `tag`,
//! and a port of the parent with that tag belongs to the fake bridge. The cache is rebuilt for
//! every command, so it always reflects the transaction's earlier writes.

use super::args::Command;
use super::dbcmd::set_column;
use super::{fail, Ctx, Res, VsctlError};
use crate::ovsdb::{Atom, Datum};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone)]
struct Bridge {
    name: String,
    /// The Bridge row (None for a fake bridge).
    row: Option<String>,
    /// A fake bridge's parent.
    parent: Option<String>,
    vlan: i64,
    /// Port names, in the parent row's order.
    ports: Vec<String>,
    /// VLAN bridges of a real bridge, by VLAN.
    children: BTreeMap<i64, String>,
}

#[derive(Debug, Clone)]
struct Port {
    row: String,
    /// The (real or fake) bridge it belongs to.
    bridge: String,
    ifaces: Vec<String>,
}

#[derive(Debug, Clone)]
struct Iface {
    row: String,
    port: String,
}

/// OVS's `vsctl_context` cache.
#[derive(Debug, Default)]
struct Cache {
    bridges: BTreeMap<String, Bridge>,
    ports: BTreeMap<String, Port>,
    ifaces: BTreeMap<String, Iface>,
}

fn uuids(d: Option<&Datum>) -> Vec<String> {
    d.map(|d| {
        d.keys
            .iter()
            .filter_map(Atom::as_uuid)
            .map(str::to_string)
            .collect()
    })
    .unwrap_or_default()
}

fn str_of(d: Option<&Datum>) -> Option<String> {
    d?.as_str().map(str::to_string)
}

fn int_of(d: Option<&Datum>) -> Option<i64> {
    d?.as_int()
}

fn text(s: &str) -> Datum {
    Datum::scalar(Atom::Str(s.to_string()))
}

/// C's `atoi`: leading blanks, a sign, digits; 0 if none.
fn atoi(s: &str) -> i64 {
    let t = s.trim_start();
    let (neg, rest) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let v = digits
        .parse::<i64>()
        .unwrap_or(if digits.is_empty() { 0 } else { i64::MAX });
    if neg {
        -v
    } else {
        v
    }
}

/// OVS's `port_is_fake_bridge`: the port's tag, if it stands for a fake bridge.
fn fake_bridge_vlan(ctx: &Ctx<'_>, port: &str) -> Option<i64> {
    let fake = matches!(
        ctx.db
            .get("Port", port, "fake_bridge")
            .and_then(Datum::as_scalar),
        Some(Atom::Bool(true))
    );
    int_of(ctx.db.get("Port", port, "tag")).filter(|t| fake && (0..=4095).contains(t))
}

impl Cache {
    /// OVS's `vsctl_context_populate_cache`.
    fn build(ctx: &Ctx<'_>) -> Cache {
        let mut c = Cache::default();
        let db = &ctx.db;
        let bridges = uuids(db.get("Open_vSwitch", &ctx.ovs, "bridges"));
        let name = |t: &str, u: &str| str_of(db.get(t, u, "name"));
        let mut seen_br = BTreeSet::new();
        let mut seen_ports = BTreeSet::new();
        for b in &bridges {
            let Some(bname) = name("Bridge", b) else {
                continue;
            };
            if !seen_br.insert(bname.clone()) {
                continue;
            }
            c.bridges.insert(
                bname.clone(),
                Bridge {
                    name: bname.clone(),
                    row: Some(b.clone()),
                    parent: None,
                    vlan: 0,
                    ports: Vec::new(),
                    children: BTreeMap::new(),
                },
            );
            for p in uuids(db.get("Bridge", b, "ports")) {
                let Some(pname) = name("Port", &p) else {
                    continue;
                };
                if !seen_ports.insert(pname.clone()) {
                    continue;
                }
                if let Some(vlan) = fake_bridge_vlan(ctx, &p) {
                    if seen_br.insert(pname.clone()) {
                        if let Some(parent) = c.bridges.get_mut(&bname) {
                            parent.children.entry(vlan).or_insert_with(|| pname.clone());
                        }
                        c.bridges.insert(
                            pname.clone(),
                            Bridge {
                                name: pname.clone(),
                                row: None,
                                parent: Some(bname.clone()),
                                vlan,
                                ports: Vec::new(),
                                children: BTreeMap::new(),
                            },
                        );
                    }
                }
            }
        }
        let mut seen_br = BTreeSet::new();
        for b in &bridges {
            let Some(bname) = name("Bridge", b) else {
                continue;
            };
            if !seen_br.insert(bname.clone()) {
                continue;
            }
            for p in uuids(db.get("Bridge", b, "ports")) {
                let Some(pname) = name("Port", &p) else {
                    continue;
                };
                if c.ports.contains_key(&pname) {
                    continue;
                }
                if fake_bridge_vlan(ctx, &p).is_some() && !seen_br.insert(pname.clone()) {
                    continue;
                }
                let mut owner = bname.clone();
                if let Some(tag) =
                    int_of(db.get("Port", &p, "tag")).filter(|t| (0..=4095).contains(t))
                {
                    if let Some(child) = c.bridges.get(&bname).and_then(|br| br.children.get(&tag))
                    {
                        owner = child.clone();
                    }
                }
                let mut ifaces = Vec::new();
                for i in uuids(db.get("Port", &p, "interfaces")) {
                    let Some(iname) = name("Interface", &i) else {
                        continue;
                    };
                    if c.ifaces.contains_key(&iname) {
                        continue;
                    }
                    c.ifaces.insert(
                        iname.clone(),
                        Iface {
                            row: i.clone(),
                            port: pname.clone(),
                        },
                    );
                    ifaces.push(iname);
                }
                if let Some(br) = c.bridges.get_mut(&owner) {
                    br.ports.push(pname.clone());
                }
                c.ports.insert(
                    pname,
                    Port {
                        row: p.clone(),
                        bridge: owner,
                        ifaces,
                    },
                );
            }
        }
        c
    }

    fn bridge(&self, name: &str, must_exist: bool) -> Res<Option<&Bridge>> {
        match self.bridges.get(name) {
            Some(b) => Ok(Some(b)),
            None if must_exist => fail(format!("no bridge named {name}")),
            None => Ok(None),
        }
    }

    fn must_bridge(&self, name: &str) -> Res<&Bridge> {
        self.bridges
            .get(name)
            .ok_or_else(|| VsctlError::new(format!("no bridge named {name}")))
    }

    /// OVS's `find_real_bridge`.
    fn real_bridge(&self, name: &str) -> Res<&Bridge> {
        let b = self.must_bridge(name)?;
        if b.parent.is_some() {
            return fail(format!("{name} is a fake bridge"));
        }
        Ok(b)
    }

    /// OVS's `find_port`: a bridge's own port is not found by name.
    fn port(&self, name: &str, must_exist: bool) -> Res<Option<&Port>> {
        match self.ports.get(name).filter(|p| p.bridge != name) {
            Some(p) => Ok(Some(p)),
            None if must_exist => fail(format!("no port named {name}")),
            None => Ok(None),
        }
    }

    /// OVS's `find_iface`.
    fn iface(&self, name: &str, must_exist: bool) -> Res<Option<&Iface>> {
        let found = self
            .ifaces
            .get(name)
            .filter(|i| self.ports.get(&i.port).is_none_or(|p| p.bridge != name));
        match found {
            Some(i) => Ok(Some(i)),
            None if must_exist => fail(format!("no interface named {name}")),
            None => Ok(None),
        }
    }

    /// The Bridge row a (real or fake) bridge's ports live in.
    fn bridge_row(&self, br: &Bridge) -> Option<String> {
        match &br.parent {
            Some(p) => self.bridges.get(p).and_then(|b| b.row.clone()),
            None => br.row.clone(),
        }
    }

    /// The real bridge of a (possibly fake) bridge.
    fn real_of<'c>(&'c self, br: &'c Bridge) -> &'c Bridge {
        br.parent
            .as_ref()
            .and_then(|p| self.bridges.get(p))
            .unwrap_or(br)
    }

    /// OVS's `check_conflicts`.
    fn check_conflicts(&self, name: &str, msg: &str) -> Res<()> {
        if self.bridges.contains_key(name) {
            return fail(format!(
                "{msg} because a bridge named {name} already exists"
            ));
        }
        if let Some(p) = self.ports.get(name) {
            return fail(format!(
                "{msg} because a port named {name} already exists on bridge {}",
                p.bridge
            ));
        }
        if let Some(i) = self.ifaces.get(name) {
            let br = self
                .ports
                .get(&i.port)
                .map(|p| p.bridge.as_str())
                .unwrap_or("");
            return fail(format!(
                "{msg} because an interface named {name} already exists on bridge {br}"
            ));
        }
        Ok(())
    }
}

/// Adds (`add`) or removes a UUID in a set column.
fn edit_set(ctx: &mut Ctx<'_>, table: &str, row: &str, column: &str, uuid: &str, add: bool) {
    let mut d = ctx.read(table, row, column);
    let a = Atom::Uuid(uuid.to_string());
    if add {
        d.insert(a, None);
    } else {
        d.remove(&a, None);
    }
    ctx.db.write(table, row, column, d);
}

/// OVS's `del_port`.
fn del_port(ctx: &mut Ctx<'_>, cache: &Cache, name: &str) {
    let Some(port) = cache.ports.get(name) else {
        return;
    };
    if let Some(row) = cache
        .bridges
        .get(&port.bridge)
        .and_then(|b| cache.bridge_row(b))
    {
        edit_set(ctx, "Bridge", &row, "ports", &port.row, false);
    }
    for i in &port.ifaces {
        if let Some(iface) = cache.ifaces.get(i) {
            ctx.db.delete("Interface", &iface.row);
        }
    }
    ctx.db.delete("Port", &port.row);
}

/// OVS's `del_bridge`: its VLAN bridges, its ports, its flow sample collector sets, itself.
fn del_bridge(ctx: &mut Ctx<'_>, cache: &Cache, name: &str) {
    let Some(br) = cache.bridges.get(name) else {
        return;
    };
    for child in br.children.values() {
        del_bridge(ctx, cache, child);
    }
    for p in &br.ports {
        del_port(ctx, cache, p);
    }
    if let Some(row) = &br.row {
        let fscs: Vec<String> = ctx
            .db
            .table("Flow_Sample_Collector_Set")
            .map(|t| {
                t.rows()
                    .filter(|(_, r)| uuids(r.get("bridge")).contains(row))
                    .map(|(u, _)| u.to_string())
                    .collect()
            })
            .unwrap_or_default();
        for f in fscs {
            ctx.db.delete("Flow_Sample_Collector_Set", &f);
        }
        ctx.db.delete("Bridge", row);
        let ovs = ctx.ovs.clone();
        edit_set(ctx, "Open_vSwitch", &ovs, "bridges", row, false);
    }
}

/// Inserts an interface row named `name` (type `ty`) and returns its UUID.
fn new_iface(ctx: &mut Ctx<'_>, name: &str, ty: Option<&str>) -> String {
    let u = ctx.insert("Interface", None);
    ctx.db.write("Interface", &u, "name", text(name));
    if let Some(t) = ty {
        ctx.db.write("Interface", &u, "type", text(t));
    }
    ctx.new_ifaces.push(u.clone());
    u
}

/// Names one per line, sorted.
fn output_sorted(mut names: Vec<String>, out: &mut String) {
    names.sort_unstable();
    for n in names {
        out.push_str(&n);
        out.push('\n');
    }
}

/// Runs one of this module's commands.
pub(crate) fn run(ctx: &mut Ctx<'_>, cmd: &Command, out: &mut String) -> Res<()> {
    let cache = Cache::build(ctx);
    let arg = |i| cmd.arg(i);
    match cmd.syntax.name {
        "add-br" => add_br(ctx, &cache, cmd),
        "del-br" => {
            if cache.bridge(arg(0), !cmd.has("--if-exists"))?.is_some() {
                del_bridge(ctx, &cache, arg(0));
            }
            Ok(())
        }
        "list-br" => {
            let (mut real, mut fake) = (cmd.has("--real"), cmd.has("--fake"));
            if !real && !fake {
                real = true;
                fake = true;
            }
            let names = cache
                .bridges
                .values()
                .filter(|b| if b.parent.is_some() { fake } else { real })
                .map(|b| b.name.clone())
                .collect();
            output_sorted(names, out);
            Ok(())
        }
        "br-exists" => match cache.bridges.contains_key(arg(0)) {
            true => Ok(()),
            false => Err(VsctlError {
                message: String::new(),
                exit_code: 2,
                stderr: String::new(),
            }),
        },
        "br-set-external-id" => {
            let br = cache.must_bridge(arg(0))?;
            let value = cmd.args.get(2);
            let (table, row, key) = match &br.row {
                Some(r) => ("Bridge", r.clone(), arg(1).to_string()),
                None => match cache.ports.get(arg(0)) {
                    Some(p) => ("Port", p.row.clone(), format!("fake-bridge-{}", arg(1))),
                    None => return Ok(()),
                },
            };
            let mut ids = ctx.read(table, &row, "external_ids");
            match value {
                Some(v) => ids.insert(Atom::Str(key), Some(Atom::Str(v.clone()))),
                None => ids.remove(&Atom::Str(key), None),
            }
            ctx.db.write(table, &row, "external_ids", ids);
            Ok(())
        }
        "br-get-external-id" => {
            let br = cache.must_bridge(arg(0))?;
            let (ids, prefix) = match &br.row {
                Some(r) => (ctx.read("Bridge", r, "external_ids"), ""),
                None => match cache.ports.get(arg(0)) {
                    Some(p) => (ctx.read("Port", &p.row, "external_ids"), "fake-bridge-"),
                    None => return Ok(()),
                },
            };
            match cmd.args.get(1) {
                Some(k) => {
                    if let Some(v) = ids.get(&Atom::Str(format!("{prefix}{k}"))) {
                        out.push_str(&v.to_bare());
                        out.push('\n');
                    }
                }
                None => {
                    for (k, v) in ids.pairs() {
                        if let Some(k) = k.to_bare().strip_prefix(prefix) {
                            out.push_str(&format!("{k}={}\n", v.to_bare()));
                        }
                    }
                }
            }
            Ok(())
        }
        "list-ports" => {
            let br = cache.must_bridge(arg(0))?;
            let names = br
                .ports
                .iter()
                .filter(|p| **p != br.name)
                .cloned()
                .collect();
            output_sorted(names, out);
            Ok(())
        }
        "add-port" => {
            let (br, port) = (arg(0), arg(1));
            let settings = cmd.args.get(2..).unwrap_or(&[]);
            add_port(
                ctx,
                &cache,
                cmd,
                br,
                port,
                false,
                &[port.to_string()],
                settings,
            )
        }
        "add-bond" => {
            let rest = cmd.args.get(2..).unwrap_or(&[]);
            let n = rest
                .iter()
                .position(|a| a.contains('='))
                .unwrap_or(rest.len());
            if n < 2 {
                return fail(format!(
                    "add-bond requires at least 2 interfaces, but only {n} were specified"
                ));
            }
            let fake = cmd.has("--fake-iface");
            add_port(
                ctx,
                &cache,
                cmd,
                arg(0),
                arg(1),
                fake,
                &rest[..n],
                &rest[n..],
            )
        }
        "add-bond-iface" => {
            let port = cache.port(arg(0), true)?.cloned();
            let Some(port) = port else { return Ok(()) };
            let iface = arg(1);
            if cmd.has("--may-exist") {
                if let Some(i) = cache.iface(iface, false)? {
                    if i.port == arg(0) {
                        return Ok(());
                    }
                    return fail(format!(
                        "\"{}\" but {iface} is actually attached to port {}",
                        cmd.to_text(),
                        i.port
                    ));
                }
            }
            cache.check_conflicts(iface, &format!("cannot create an interface named {iface}"))?;
            let u = new_iface(ctx, iface, None);
            edit_set(ctx, "Port", &port.row, "interfaces", &u, true);
            Ok(())
        }
        "del-bond-iface" => {
            let name = cmd.args.last().map(String::as_str).unwrap_or("");
            let Some(iface) = cache.iface(name, !cmd.has("--if-exists"))?.cloned() else {
                return Ok(());
            };
            if cmd.args.len() > 1 {
                cache.port(arg(0), true)?;
                if iface.port != arg(0) {
                    return fail(format!("port {} does not have an interface {name}", arg(0)));
                }
            }
            let Some(port) = cache.ports.get(&iface.port) else {
                return Ok(());
            };
            if port.ifaces.len() <= 1 {
                return fail(format!(
                    "cannot delete last interface from port {}",
                    iface.port
                ));
            }
            edit_set(ctx, "Port", &port.row, "interfaces", &iface.row, false);
            ctx.db.delete("Interface", &iface.row);
            Ok(())
        }
        "del-port" => del_port_cmd(ctx, &cache, cmd),
        "port-to-br" => {
            let port = cache.port(arg(0), true)?;
            if let Some(p) = port {
                out.push_str(&format!("{}\n", p.bridge));
            }
            Ok(())
        }
        "br-to-vlan" => {
            out.push_str(&format!("{}\n", cache.must_bridge(arg(0))?.vlan));
            Ok(())
        }
        "br-to-parent" => {
            let br = cache.must_bridge(arg(0))?;
            out.push_str(&format!("{}\n", cache.real_of(br).name));
            Ok(())
        }
        "list-ifaces" => {
            let br = cache.must_bridge(arg(0))?;
            let names = br
                .ports
                .iter()
                .filter_map(|p| cache.ports.get(p))
                .flat_map(|p| p.ifaces.iter())
                .filter(|i| **i != br.name)
                .cloned()
                .collect();
            output_sorted(names, out);
            Ok(())
        }
        "iface-to-br" => {
            if let Some(i) = cache.iface(arg(0), true)? {
                let br = cache
                    .ports
                    .get(&i.port)
                    .map(|p| p.bridge.as_str())
                    .unwrap_or("");
                out.push_str(&format!("{br}\n"));
            }
            Ok(())
        }
        "get-controller" => {
            let br = cache.real_of(cache.must_bridge(arg(0))?);
            if let Some(row) = &br.row {
                let targets = targets_of(
                    ctx,
                    "Controller",
                    &uuids(ctx.db.get("Bridge", row, "controller")),
                );
                output_sorted(targets, out);
            }
            Ok(())
        }
        "del-controller" => {
            let row = cache.real_bridge(arg(0))?.row.clone().unwrap_or_default();
            for c in uuids(ctx.db.get("Bridge", &row, "controller")) {
                ctx.db.delete("Controller", &c);
            }
            ctx.db.write("Bridge", &row, "controller", Datum::empty());
            Ok(())
        }
        "set-controller" => {
            let row = cache.real_bridge(arg(0))?.row.clone().unwrap_or_default();
            for c in uuids(ctx.db.get("Bridge", &row, "controller")) {
                ctx.db.delete("Controller", &c);
            }
            let rows = insert_targets(
                ctx,
                cmd,
                "Controller",
                &cmd.args[1..],
                &["tcp", "unix", "ssl"],
            );
            ctx.db.write("Bridge", &row, "controller", rows);
            Ok(())
        }
        "get-fail-mode" => {
            let br = cache.real_of(cache.must_bridge(arg(0))?);
            if let Some(mode) = br
                .row
                .as_ref()
                .and_then(|r| str_of(ctx.db.get("Bridge", r, "fail_mode")))
            {
                if !mode.is_empty() {
                    out.push_str(&format!("{mode}\n"));
                }
            }
            Ok(())
        }
        "del-fail-mode" => {
            let row = cache.real_bridge(arg(0))?.row.clone().unwrap_or_default();
            ctx.db.write("Bridge", &row, "fail_mode", Datum::empty());
            Ok(())
        }
        "set-fail-mode" => {
            let row = cache.real_bridge(arg(0))?.row.clone().unwrap_or_default();
            let mode = arg(1);
            if mode != "standalone" && mode != "secure" {
                return fail("fail-mode must be \"standalone\" or \"secure\"");
            }
            ctx.db.write("Bridge", &row, "fail_mode", text(mode));
            Ok(())
        }
        "get-manager" => {
            let rows = uuids(ctx.db.get("Open_vSwitch", &ctx.ovs, "manager_options"));
            let mut targets = targets_of(ctx, "Manager", &rows);
            targets.sort_unstable();
            targets.dedup();
            output_sorted(targets, out);
            Ok(())
        }
        "del-manager" | "set-manager" => {
            let ovs = ctx.ovs.clone();
            for m in uuids(ctx.db.get("Open_vSwitch", &ovs, "manager_options")) {
                ctx.db.delete("Manager", &m);
            }
            let rows = if cmd.syntax.name == "set-manager" {
                insert_targets(ctx, cmd, "Manager", &cmd.args, &["tcp", "unix", "ssl"])
            } else {
                Datum::empty()
            };
            ctx.db.write("Open_vSwitch", &ovs, "manager_options", rows);
            Ok(())
        }
        "get-ssl" => {
            let ssl = uuids(ctx.db.get("Open_vSwitch", &ctx.ovs, "ssl"));
            if let Some(s) = ssl.first() {
                let f = |c: &str| str_of(ctx.db.get("SSL", s, c)).unwrap_or_default();
                let boot = matches!(
                    ctx.db
                        .get("SSL", s, "bootstrap_ca_cert")
                        .and_then(Datum::as_scalar),
                    Some(Atom::Bool(true))
                );
                out.push_str(&format!(
                    "Private key: {}\nCertificate: {}\nCA Certificate: {}\nBootstrap: {boot}\n",
                    f("private_key"),
                    f("certificate"),
                    f("ca_cert")
                ));
            }
            Ok(())
        }
        "del-ssl" | "set-ssl" => {
            let ovs = ctx.ovs.clone();
            for s in uuids(ctx.db.get("Open_vSwitch", &ovs, "ssl")) {
                ctx.db.delete("SSL", &s);
            }
            let mut new = Datum::empty();
            if cmd.syntax.name == "set-ssl" {
                let s = ctx.insert("SSL", None);
                ctx.db.write("SSL", &s, "private_key", text(arg(0)));
                ctx.db.write("SSL", &s, "certificate", text(arg(1)));
                ctx.db.write("SSL", &s, "ca_cert", text(arg(2)));
                let boot = Datum::scalar(Atom::Bool(cmd.has("--bootstrap")));
                ctx.db.write("SSL", &s, "bootstrap_ca_cert", boot);
                new = Datum::scalar(Atom::Uuid(s));
            }
            ctx.db.write("Open_vSwitch", &ovs, "ssl", new);
            Ok(())
        }
        "add-aa-mapping" | "del-aa-mapping" => aa_mapping(ctx, &cache, cmd),
        "get-aa-mapping" => {
            let br = cache.real_of(cache.must_bridge(arg(0))?);
            let aa = br.row.as_ref().and_then(|r| {
                uuids(ctx.db.get("Bridge", r, "auto_attach"))
                    .into_iter()
                    .next()
            });
            if let Some(aa) = aa {
                for (k, v) in ctx.read("AutoAttach", &aa, "mappings").pairs() {
                    out.push_str(&format!("{} {}\n", k.to_text(), v.to_text()));
                }
            }
            Ok(())
        }
        "emer-reset" => {
            emer_reset(ctx);
            Ok(())
        }
        "add-zone-tp" | "del-zone-tp" | "list-zone-tp" | "list-dp-cap" => zones(ctx, cmd, out),
        other => fail(format!("unknown command '{other}'; use --help for help")),
    }
}

/// The `target` of each row.
fn targets_of(ctx: &Ctx<'_>, table: &str, rows: &[String]) -> Vec<String> {
    rows.iter()
        .filter_map(|r| str_of(ctx.db.get(table, r, "target")))
        .collect()
}

/// New Controller or Manager rows for `targets` (with `--inactivity-probe`), warning about
/// targets of no known connection type, as OVS does.
fn insert_targets(
    ctx: &mut Ctx<'_>,
    cmd: &Command,
    table: &str,
    targets: &[String],
    kinds: &[&str],
) -> Datum {
    let probe = cmd.value("--inactivity-probe").map(atoi);
    let mut rows = Vec::new();
    for t in targets {
        let known = t.split_once(':').is_some_and(|(kind, _)| {
            kinds.contains(&kind) || kind.strip_prefix('p').is_some_and(|k| kinds.contains(&k))
        });
        if !known {
            ctx.warn(
                "vsctl",
                format!("target type \"{t}\" is possibly erroneous"),
            );
        }
        let u = ctx.insert(table, None);
        ctx.db.write(table, &u, "target", text(t));
        if let Some(ms) = probe {
            ctx.db
                .write(table, &u, "inactivity_probe", Datum::scalar(Atom::Int(ms)));
        }
        rows.push(Atom::Uuid(u));
    }
    Datum::set(rows)
}

/// OVS's `cmd_add_br`.
fn add_br(ctx: &mut Ctx<'_>, cache: &Cache, cmd: &Command) -> Res<()> {
    let name = cmd.arg(0);
    if name.is_empty() {
        return fail("bridge name must not be empty string");
    }
    let (parent, vlan) = match cmd.args.len() {
        1 => (None, 0),
        3 => {
            let vlan = atoi(cmd.arg(2));
            if !(0..=4095).contains(&vlan) {
                return fail("add-br: vlan must be between 0 and 4095");
            }
            (Some(cmd.arg(1)), vlan)
        }
        _ => return fail("'add-br' command takes exactly 1 or 3 arguments"),
    };
    if cmd.has("--may-exist") {
        if let Some(br) = cache.bridges.get(name) {
            match (parent, &br.parent) {
                (None, Some(_)) => {
                    return fail(format!(
                        "\"--may-exist add-br {name}\" but {name} is a VLAN bridge for VLAN {}",
                        br.vlan
                    ))
                }
                (Some(p), None) => {
                    return fail(format!(
                        "\"--may-exist add-br {name} {p} {vlan}\" but {name} is not a VLAN bridge"
                    ))
                }
                (Some(p), Some(have)) if p != have => {
                    return fail(format!(
                        "\"--may-exist add-br {name} {p} {vlan}\" but {name} has the wrong parent {have}"
                    ))
                }
                (Some(p), Some(_)) if br.vlan != vlan => {
                    return fail(format!(
                        "\"--may-exist add-br {name} {p} {vlan}\" but {name} is a VLAN bridge for the wrong VLAN {}",
                        br.vlan
                    ))
                }
                _ => return Ok(()),
            }
        }
    }
    cache.check_conflicts(name, &format!("cannot create a bridge named {name}"))?;
    let iface = new_iface(ctx, name, Some("internal"));
    let port = ctx.insert("Port", None);
    ctx.db.write("Port", &port, "name", text(name));
    ctx.db.write(
        "Port",
        &port,
        "interfaces",
        Datum::scalar(Atom::Uuid(iface)),
    );
    match parent {
        None => {
            let br = ctx.insert("Bridge", None);
            ctx.db.write("Bridge", &br, "name", text(name));
            ctx.db
                .write("Bridge", &br, "ports", Datum::scalar(Atom::Uuid(port)));
            let ovs = ctx.ovs.clone();
            edit_set(ctx, "Open_vSwitch", &ovs, "bridges", &br, true);
        }
        Some(parent) => {
            let p = match cache.bridges.get(parent) {
                Some(p) if p.parent.is_some() => {
                    return fail("cannot create bridge with fake bridge as parent")
                }
                Some(p) => p,
                None => return fail(format!("parent bridge {parent} does not exist")),
            };
            if let Some(conflict) = p.children.get(&vlan) {
                return fail(format!(
                    "bridge {parent} already has a child VLAN bridge {conflict} on VLAN {vlan}"
                ));
            }
            let row = p.row.clone().unwrap_or_default();
            ctx.db.write(
                "Port",
                &port,
                "fake_bridge",
                Datum::scalar(Atom::Bool(true)),
            );
            ctx.db
                .write("Port", &port, "tag", Datum::scalar(Atom::Int(vlan)));
            edit_set(ctx, "Bridge", &row, "ports", &port, true);
        }
    }
    Ok(())
}

/// OVS's `add_port` (for `add-port` and `add-bond`).
#[allow(clippy::too_many_arguments)]
fn add_port(
    ctx: &mut Ctx<'_>,
    cache: &Cache,
    cmd: &Command,
    br_name: &str,
    port_name: &str,
    fake_iface: bool,
    ifaces: &[String],
    settings: &[String],
) -> Res<()> {
    if port_name.is_empty() {
        return fail("port name must not be empty string");
    }
    if ifaces.iter().any(String::is_empty) {
        return fail("interface name must not be empty string");
    }
    if cmd.has("--may-exist") {
        if let Some(p) = cache.port(port_name, false)? {
            let mut want: Vec<&str> = ifaces.iter().map(String::as_str).collect();
            want.sort_unstable();
            let mut have: Vec<String> = uuids(ctx.db.get("Port", &p.row, "interfaces"))
                .iter()
                .filter_map(|i| str_of(ctx.db.get("Interface", i, "name")))
                .collect();
            have.sort_unstable();
            if p.bridge != br_name {
                return fail(format!(
                    "\"{}\" but {port_name} is actually attached to bridge {}",
                    cmd.to_text(),
                    p.bridge
                ));
            }
            if want != have {
                return fail(format!(
                    "\"{}\" but {port_name} actually has interface(s) {}",
                    cmd.to_text(),
                    have.join(", ")
                ));
            }
            return Ok(());
        }
    }
    cache.check_conflicts(
        port_name,
        &format!("cannot create a port named {port_name}"),
    )?;
    for i in ifaces {
        cache.check_conflicts(i, &format!("cannot create an interface named {i}"))?;
    }
    let br = cache.must_bridge(br_name)?;
    let rows: Vec<Atom> = ifaces
        .iter()
        .map(|i| Atom::Uuid(new_iface(ctx, i, None)))
        .collect();
    let port = ctx.insert("Port", None);
    ctx.db.write("Port", &port, "name", text(port_name));
    ctx.db.write("Port", &port, "interfaces", Datum::set(rows));
    ctx.db.write(
        "Port",
        &port,
        "bond_fake_iface",
        Datum::scalar(Atom::Bool(fake_iface)),
    );
    if br.parent.is_some() {
        ctx.db
            .write("Port", &port, "tag", Datum::scalar(Atom::Int(br.vlan)));
    }
    let port_table = ctx
        .db
        .schema()
        .table("Port")
        .ok_or_else(|| VsctlError::new("unknown table \"Port\""))?;
    for s in settings {
        set_column(ctx, port_table, &port, s)?;
    }
    if let Some(row) = cache.bridge_row(br) {
        edit_set(ctx, "Bridge", &row, "ports", &port, true);
    }
    Ok(())
}

/// OVS's `cmd_del_port`.
fn del_port_cmd(ctx: &mut Ctx<'_>, cache: &Cache, cmd: &Command) -> Res<()> {
    let must_exist = !cmd.has("--if-exists");
    let target = cmd.args.last().map(String::as_str).unwrap_or("");
    let port: Option<String> = if cache.bridges.contains_key(target) {
        if must_exist {
            return fail(format!(
                "cannot delete port {target} because it is the local port for bridge {target} (deleting this port requires deleting the entire bridge)"
            ));
        }
        None
    } else if !cmd.has("--with-iface") {
        cache.port(target, must_exist)?.map(|_| target.to_string())
    } else {
        let mut p = cache.port(target, false)?.map(|_| target.to_string());
        if p.is_none() {
            p = cache.iface(target, false)?.map(|i| i.port.clone());
        }
        if must_exist && p.is_none() {
            return fail(format!("no port or interface named {target}"));
        }
        p
    };
    let Some(port) = port else { return Ok(()) };
    if cmd.args.len() == 2 {
        let owner = cache
            .ports
            .get(&port)
            .map(|p| p.bridge.clone())
            .unwrap_or_default();
        let br = cache.must_bridge(cmd.arg(0))?;
        if owner != br.name {
            let child = cache.bridges.get(&owner).and_then(|b| b.parent.as_ref());
            if child == Some(&br.name) {
                return fail(format!(
                    "bridge {} does not have a port {} (although its child bridge {owner} does)",
                    cmd.arg(0),
                    cmd.arg(1)
                ));
            }
            return fail(format!(
                "bridge {} does not have a port {}",
                cmd.arg(0),
                cmd.arg(1)
            ));
        }
    }
    del_port(ctx, cache, &port);
    Ok(())
}

/// C's `strtoull(s, &end, 10)` as OVS checks it: some digits must have been read.
fn leading_number(s: &str) -> Option<i64> {
    let t = s.trim_start();
    let digits: String = t
        .strip_prefix('+')
        .unwrap_or(t)
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    if digits.is_empty() {
        return None;
    }
    Some(digits.parse::<u64>().map_or(-1, |v| v as i64))
}

/// `add-aa-mapping` / `del-aa-mapping BRIDGE I-SID VLAN`.
fn aa_mapping(ctx: &mut Ctx<'_>, cache: &Cache, cmd: &Command) -> Res<()> {
    let isid = leading_number(cmd.arg(1))
        .ok_or_else(|| VsctlError::new(format!("Invalid argument {}", cmd.arg(1))))?;
    let vlan = leading_number(cmd.arg(2))
        .ok_or_else(|| VsctlError::new(format!("Invalid argument {}", cmd.arg(2))))?;
    let br = cache.real_of(cache.must_bridge(cmd.arg(0))?);
    let Some(row) = br.row.clone() else {
        return Ok(());
    };
    let existing = uuids(ctx.db.get("Bridge", &row, "auto_attach"))
        .into_iter()
        .next();
    if cmd.syntax.name == "add-aa-mapping" {
        let aa = match existing {
            Some(aa) => aa,
            None => {
                let aa = ctx.insert("AutoAttach", None);
                ctx.db.write(
                    "Bridge",
                    &row,
                    "auto_attach",
                    Datum::scalar(Atom::Uuid(aa.clone())),
                );
                aa
            }
        };
        let mut m = ctx.read("AutoAttach", &aa, "mappings");
        if !m.contains(&Atom::Int(isid)) {
            m.insert(Atom::Int(isid), Some(Atom::Int(vlan)));
        }
        ctx.db.write("AutoAttach", &aa, "mappings", m);
    } else if let Some(aa) = existing {
        let m = ctx.read("AutoAttach", &aa, "mappings");
        let hit = m
            .pairs()
            .any(|(k, v)| *k == Atom::Int(isid) && *v == Atom::Int(vlan));
        if hit {
            // As OVS: every mapping with this I-SID or this VLAN goes.
            let kept = m
                .pairs()
                .filter(|(k, v)| **k != Atom::Int(isid) && **v != Atom::Int(vlan))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            ctx.db
                .write("AutoAttach", &aa, "mappings", Datum::map(kept));
        }
    }
    Ok(())
}

/// OVS's `cmd_emer_reset`.
fn emer_reset(ctx: &mut Ctx<'_>) {
    let ovs = ctx.ovs.clone();
    ctx.db
        .write("Open_vSwitch", &ovs, "manager_options", Datum::empty());
    ctx.db.write("Open_vSwitch", &ovs, "ssl", Datum::empty());
    let rows = |ctx: &Ctx<'_>, t: &str| -> Vec<String> {
        ctx.db
            .table(t)
            .map(|t| t.rows().map(|(u, _)| u.to_string()).collect())
            .unwrap_or_default()
    };
    for br in rows(ctx, "Bridge") {
        for c in [
            "controller",
            "fail_mode",
            "mirrors",
            "netflow",
            "sflow",
            "ipfix",
            "flood_vlans",
        ] {
            ctx.db.write("Bridge", &br, c, Datum::empty());
        }
        let oc = ctx.read("Bridge", &br, "other_config");
        let hwaddr = Atom::Str("hwaddr".into());
        let kept = match oc.get(&hwaddr) {
            Some(v) => Datum::map(vec![(hwaddr, v.clone())]),
            None => Datum::empty(),
        };
        ctx.db.write("Bridge", &br, "other_config", kept);
    }
    for p in rows(ctx, "Port") {
        ctx.db.write("Port", &p, "other_config", Datum::empty());
    }
    for i in rows(ctx, "Interface") {
        for c in ["ingress_policing_rate", "ingress_policing_burst"] {
            ctx.db
                .write("Interface", &i, c, Datum::scalar(Atom::Int(0)));
        }
    }
    for t in [
        "Mirror",
        "Controller",
        "Manager",
        "NetFlow",
        "SSL",
        "sFlow",
        "IPFIX",
        "Flow_Sample_Collector_Set",
    ] {
        for r in rows(ctx, t) {
            ctx.db.delete(t, &r);
        }
    }
}

/// The Datapath row `Open_vSwitch.datapaths` names `dp`.
fn datapath(ctx: &Ctx<'_>, dp: &str) -> Option<String> {
    ctx.db
        .get("Open_vSwitch", &ctx.ovs, "datapaths")?
        .get(&Atom::Str(dp.to_string()))?
        .as_uuid()
        .map(str::to_string)
}

/// C's `%i` scan of `zone=N` (decimal, `0x` hex or `0` octal).
fn zone_id(arg: &str) -> i64 {
    let Some(n) = arg.strip_prefix("zone=") else {
        return 0;
    };
    let t = n.trim_start();
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (radix, digits) = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        (16, h)
    } else if t.starts_with('0') && t.len() > 1 {
        (8, &t[1..])
    } else {
        (10, t)
    };
    let end = digits
        .char_indices()
        .find(|(_, c)| !c.is_digit(radix))
        .map_or(digits.len(), |(i, _)| i);
    let v = i64::from_str_radix(&digits[..end], radix).unwrap_or(0);
    if neg {
        -v
    } else {
        v
    }
}

/// The zone and datapath capability commands.
fn zones(ctx: &mut Ctx<'_>, cmd: &Command, out: &mut String) -> Res<()> {
    let dp_name = cmd.arg(0);
    let dp = datapath(ctx, dp_name);
    match cmd.syntax.name {
        "list-dp-cap" => {
            let dp = dp.ok_or_else(|| {
                VsctlError::new(format!("datapath \"{dp_name}\" record not found"))
            })?;
            let caps: Vec<String> = ctx
                .read("Datapath", &dp, "capabilities")
                .pairs()
                .map(|(k, v)| format!("{}={}", k.to_bare(), v.to_bare()))
                .collect();
            out.push_str(&caps.join(" "));
            out.push('\n');
        }
        "list-zone-tp" => {
            let dp =
                dp.ok_or_else(|| VsctlError::new(format!("datapath: {dp_name} record not found")))?;
            for (zone, z) in ctx.read("Datapath", &dp, "ct_zones").pairs() {
                out.push_str(&format!("Zone:{}, Timeout Policies: ", zone.to_text()));
                let tp = z.as_uuid().and_then(|z| {
                    uuids(ctx.db.get("CT_Zone", z, "timeout_policy"))
                        .into_iter()
                        .next()
                });
                match tp {
                    Some(tp) => {
                        let t: Vec<String> = ctx
                            .read("CT_Timeout_Policy", &tp, "timeouts")
                            .pairs()
                            .map(|(k, v)| format!("{}={}", k.to_bare(), v.to_text()))
                            .collect();
                        out.push_str(&t.join(" "));
                    }
                    None => out.push_str("system default"),
                }
                out.push('\n');
            }
        }
        "del-zone-tp" => {
            let dp =
                dp.ok_or_else(|| VsctlError::new(format!("datapath {dp_name} does not exist")))?;
            let id = zone_id(cmd.arg(1));
            let mut zones = ctx.read("Datapath", &dp, "ct_zones");
            if !zones.contains(&Atom::Int(id)) {
                if !cmd.has("--if-exists") {
                    return fail(format!("zone id {id} does not exist"));
                }
                return Ok(());
            }
            zones.remove(&Atom::Int(id), None);
            ctx.db.write("Datapath", &dp, "ct_zones", zones);
        }
        _ => {
            let dp =
                dp.ok_or_else(|| VsctlError::new(format!("datapath {dp_name} does not exist")))?;
            let id = zone_id(cmd.arg(1));
            let zones = ctx.read("Datapath", &dp, "ct_zones");
            let zone = zones
                .get(&Atom::Int(id))
                .and_then(Atom::as_uuid)
                .map(str::to_string);
            if zone.is_some() && !cmd.has("--may-exist") {
                return fail(format!("zone id {id} already exists"));
            }
            let timeouts: Vec<(Atom, Atom)> = cmd.args[2..]
                .iter()
                .filter_map(|kv| {
                    let (k, v) = kv.split_once(['=', ':'])?;
                    Some((Atom::Str(k.to_string()), Atom::Int(atoi(v))))
                })
                .collect();
            let want = Datum::map(timeouts);
            let existing = ctx.db.table("CT_Timeout_Policy").and_then(|t| {
                t.rows()
                    .find(|(_, r)| r.get("timeouts") == Some(&want))
                    .map(|(u, _)| u.to_string())
            });
            let tp = match existing {
                Some(tp) => tp,
                None => {
                    let tp = ctx.insert("CT_Timeout_Policy", None);
                    ctx.db.write("CT_Timeout_Policy", &tp, "timeouts", want);
                    tp
                }
            };
            let tp = Datum::scalar(Atom::Uuid(tp));
            match zone {
                Some(z) => ctx.db.write("CT_Zone", &z, "timeout_policy", tp),
                None => {
                    let z = ctx.insert("CT_Zone", None);
                    ctx.db.write("CT_Zone", &z, "timeout_policy", tp);
                    let mut zones = zones;
                    zones.insert(Atom::Int(id), Some(Atom::Uuid(z)));
                    ctx.db.write("Datapath", &dp, "ct_zones", zones);
                }
            }
        }
    }
    Ok(())
}
