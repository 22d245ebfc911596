//! The `ovs-vsctl` engine: parses an `ovs-vsctl` command line (OVS 3.1 syntax) and runs its
//! chain of commands against a copy of the configuration as one transaction.
//!
//! Pure and I/O-free: [`execute`] takes the current [`Config`], the argv (without the program
//! name) and a [`Status`] source for runtime columns, and returns an [`Outcome`] (new config,
//! output, exit code) or a [`VsctlError`] whose message the front end prints as
//! `ovs-vsctl: {message}` before exiting with status 1.
//!
//! Invariants:
//! - all or nothing: if any command of the chain fails, or the resulting configuration does not
//!   pass [`Config::validate`], the error is returned and the caller's config is untouched;
//! - OpenFlow port numbers are (re)assigned after every transaction ([`Config::assign_ofports`]);
//! - no input makes it panic (it is fuzzed).
//!
//! Output shapes and error wording follow real OVS 3.1 (see ovs-reference/outputs/). Where OVS
//! prints rows in hash order, rvs uses a stable order: `show` lists bridges by name and, inside
//! a bridge, the bridge's own port first and then the others by name; `list`/`find` print rows
//! sorted by name (Open_vSwitch has one row).

mod datum;
mod schema;

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{Bridge, Config, Port};
use datum::{atom_from_string, check_atom, datum_from_string, parse_token, Atom, Datum};
use schema::{Base, BaseType, ColType, Column};

/// Runtime state of one interface, provided by the daemon from the datapath.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfaceStatus {
    /// Why the interface could not be set up (shown by `show` and as column `error`).
    pub error: Option<String>,
    /// MAC address in use (column `mac_in_use`).
    pub mac_in_use: Option<String>,
    /// Current MTU (column `mtu`).
    pub mtu: Option<i64>,
    /// Column `status` (driver_name, tunnel_egress_iface, ...).
    pub status: BTreeMap<String, String>,
    /// False if the interface has no working datapath port: `ofport` then reads -1.
    pub ofport_ok: bool,
    /// Kernel interface index (column `ifindex`).
    pub ifindex: Option<i64>,
    /// `up`/`down`: administrative state (IFF_UP) and carrier (columns `admin_state`,
    /// `link_state`).
    pub admin_state: Option<String>,
    pub link_state: Option<String>,
    /// Column `statistics` (`rx_packets`, `tx_bytes`, …).
    pub statistics: BTreeMap<String, i64>,
}

impl Default for IfaceStatus {
    /// No error, nothing known, ofport usable.
    fn default() -> Self {
        IfaceStatus {
            error: None,
            mac_in_use: None,
            mtu: None,
            status: BTreeMap::new(),
            ofport_ok: true,
            ifindex: None,
            admin_state: None,
            link_state: None,
            statistics: BTreeMap::new(),
        }
    }
}

/// The Interface columns that hold runtime state (written by the switch, read-only to
/// `ovs-vsctl`), in OVS's schema order of appearance in `list`.
pub const IFACE_RUNTIME_COLUMNS: &[&str] = &[
    "admin_state",
    "error",
    "ifindex",
    "link_state",
    "mac_in_use",
    "mtu",
    "ofport",
    "statistics",
    "status",
];

impl IfaceStatus {
    /// The value of runtime column `name` for an interface whose assigned OpenFlow port is
    /// `ofport` (0: not assigned yet); `None` for other columns. The one rendering of these
    /// columns, for `ovs-vsctl list` and for rvsd's write-back into a real OVSDB.
    pub fn column(&self, name: &str, ofport: i64) -> Option<Datum> {
        let int = |v: Option<i64>| Datum::opt(v.map(Atom::Int));
        Some(match name {
            "ofport" => {
                if self.error.is_some() || !self.ofport_ok {
                    Datum::scalar(Atom::Int(-1))
                } else if ofport == 0 {
                    Datum::empty()
                } else {
                    Datum::scalar(Atom::Int(ofport))
                }
            }
            "error" => str_opt(self.error.as_deref()),
            "mac_in_use" => str_opt(self.mac_in_use.as_deref()),
            "mtu" => int(self.mtu),
            "ifindex" => int(self.ifindex),
            "admin_state" => str_opt(self.admin_state.as_deref()),
            "link_state" => str_opt(self.link_state.as_deref()),
            "status" => Datum::str_map(&self.status),
            "statistics" => Datum::map(
                self.statistics
                    .iter()
                    .map(|(k, v)| (Atom::Str(k.clone()), Atom::Int(*v)))
                    .collect(),
            ),
            _ => return None,
        })
    }
}

/// Source of runtime interface columns.
pub trait Status {
    /// Runtime state of the interface named `name`.
    fn interface(&self, name: &str) -> IfaceStatus;
}

/// A [`Status`] that knows nothing (every interface is fine, no runtime data).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoStatus;

impl Status for NoStatus {
    fn interface(&self, _name: &str) -> IfaceStatus {
        IfaceStatus::default()
    }
}

/// Result of a successful `ovs-vsctl` invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The configuration after the transaction (equal to the input if nothing changed).
    pub config: Config,
    /// True if `config` differs from the input (the daemon then saves and applies it).
    pub changed: bool,
    /// What `ovs-vsctl` prints on standard output.
    pub stdout: String,
    /// Exit status: 2 for `br-exists` of a missing bridge, else 0.
    pub exit_code: i32,
    /// Interfaces created by this transaction (new rows), in configuration order.
    pub added_interfaces: Vec<String>,
}

/// A failed invocation: the daemon prints `ovs-vsctl: {message}` and exits 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct VsctlError {
    /// The message, in OVS's wording where OVS has one.
    pub message: String,
}

impl VsctlError {
    fn new(message: impl Into<String>) -> VsctlError {
        VsctlError {
            message: message.into(),
        }
    }
}

impl From<String> for VsctlError {
    fn from(message: String) -> Self {
        VsctlError { message }
    }
}

type Res<T> = Result<T, VsctlError>;

fn fail<T>(m: impl Into<String>) -> Res<T> {
    Err(VsctlError::new(m))
}

// ---------------------------------------------------------------------------------------------
// Command-line parsing.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    List,
    Table,
    Csv,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DataFmt {
    Str,
    Bare,
    Json,
}

#[derive(Debug, Clone)]
struct Style {
    format: Format,
    data: DataFmt,
    headings: bool,
    pretty: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HasArg {
    No,
    Required,
    Optional,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OptKind {
    /// Connection/logging options: accepted and ignored.
    Ignored,
    Format,
    Data,
    NoHeadings,
    Pretty,
    Bare,
    Oneline,
    DryRun,
    Help,
    Version,
    /// A command option given before the first command.
    Local,
}

const LONG_OPTS: &[(&str, HasArg, OptKind)] = &[
    ("db", HasArg::Required, OptKind::Ignored),
    ("no-wait", HasArg::No, OptKind::Ignored),
    ("wait", HasArg::No, OptKind::Ignored),
    ("dry-run", HasArg::No, OptKind::DryRun),
    ("oneline", HasArg::No, OptKind::Oneline),
    ("timeout", HasArg::Required, OptKind::Ignored),
    ("retry", HasArg::No, OptKind::Ignored),
    ("target", HasArg::Required, OptKind::Ignored),
    ("help", HasArg::No, OptKind::Help),
    ("version", HasArg::No, OptKind::Version),
    ("verbose", HasArg::Optional, OptKind::Ignored),
    ("log-file", HasArg::Optional, OptKind::Ignored),
    ("syslog-method", HasArg::Required, OptKind::Ignored),
    ("syslog-target", HasArg::Required, OptKind::Ignored),
    ("no-syslog", HasArg::No, OptKind::Ignored),
    ("private-key", HasArg::Required, OptKind::Ignored),
    ("certificate", HasArg::Required, OptKind::Ignored),
    ("ca-cert", HasArg::Required, OptKind::Ignored),
    ("bootstrap-ca-cert", HasArg::Required, OptKind::Ignored),
    ("peer-ca-cert", HasArg::Required, OptKind::Ignored),
    ("format", HasArg::Required, OptKind::Format),
    ("data", HasArg::Required, OptKind::Data),
    ("no-headings", HasArg::No, OptKind::NoHeadings),
    ("pretty", HasArg::No, OptKind::Pretty),
    ("bare", HasArg::No, OptKind::Bare),
    ("timestamp", HasArg::No, OptKind::Ignored),
    ("max-column-width", HasArg::Required, OptKind::Ignored),
    // Command options (passed to the first command).
    ("may-exist", HasArg::No, OptKind::Local),
    ("if-exists", HasArg::No, OptKind::Local),
    ("with-iface", HasArg::No, OptKind::Local),
    ("all", HasArg::No, OptKind::Local),
    ("columns", HasArg::Required, OptKind::Local),
    ("real", HasArg::No, OptKind::Local),
    ("fake", HasArg::No, OptKind::Local),
    ("id", HasArg::Required, OptKind::Local),
];

/// OVS commands rvs does not implement (so they get a clear message, not "unknown command").
const UNSUPPORTED: &[&str] = &[
    "emer-reset",
    "add-bond",
    "add-bond-iface",
    "del-bond-iface",
    "get-controller",
    "del-controller",
    "set-controller",
    "get-fail-mode",
    "del-fail-mode",
    "set-fail-mode",
    "get-manager",
    "del-manager",
    "set-manager",
    "get-ssl",
    "del-ssl",
    "set-ssl",
    "add-aa-mapping",
    "del-aa-mapping",
    "get-aa-mapping",
    "create",
    "destroy",
    "wait-until",
    "comment",
    "add-zone-tp",
    "del-zone-tp",
    "list-zone-tp",
    "set-zone-limit",
    "del-zone-limit",
    "list-zone-limit",
    "add-dp",
    "del-dp",
    "list-dp",
];

struct CmdSpec {
    name: &'static str,
    min: usize,
    max: usize,
    opts: &'static [&'static str],
}

const MANY: usize = usize::MAX;

const COMMANDS: &[CmdSpec] = &[
    CmdSpec {
        name: "init",
        min: 0,
        max: 0,
        opts: &[],
    },
    CmdSpec {
        name: "show",
        min: 0,
        max: 0,
        opts: &[],
    },
    CmdSpec {
        name: "add-br",
        min: 1,
        max: 3,
        opts: &["--may-exist"],
    },
    CmdSpec {
        name: "del-br",
        min: 1,
        max: 1,
        opts: &["--if-exists"],
    },
    CmdSpec {
        name: "list-br",
        min: 0,
        max: 0,
        opts: &["--real", "--fake"],
    },
    CmdSpec {
        name: "br-exists",
        min: 1,
        max: 1,
        opts: &[],
    },
    CmdSpec {
        name: "br-to-vlan",
        min: 1,
        max: 1,
        opts: &[],
    },
    CmdSpec {
        name: "br-to-parent",
        min: 1,
        max: 1,
        opts: &[],
    },
    CmdSpec {
        name: "br-set-external-id",
        min: 2,
        max: 3,
        opts: &[],
    },
    CmdSpec {
        name: "br-get-external-id",
        min: 1,
        max: 2,
        opts: &[],
    },
    CmdSpec {
        name: "list-ports",
        min: 1,
        max: 1,
        opts: &[],
    },
    CmdSpec {
        name: "add-port",
        min: 2,
        max: MANY,
        opts: &["--may-exist"],
    },
    CmdSpec {
        name: "del-port",
        min: 1,
        max: 2,
        opts: &["--if-exists", "--with-iface"],
    },
    CmdSpec {
        name: "port-to-br",
        min: 1,
        max: 1,
        opts: &[],
    },
    CmdSpec {
        name: "list-ifaces",
        min: 1,
        max: 1,
        opts: &[],
    },
    CmdSpec {
        name: "iface-to-br",
        min: 1,
        max: 1,
        opts: &[],
    },
    CmdSpec {
        name: "get",
        min: 2,
        max: MANY,
        opts: &["--if-exists", "--id"],
    },
    CmdSpec {
        name: "list",
        min: 1,
        max: MANY,
        opts: &["--if-exists", "--columns"],
    },
    CmdSpec {
        name: "find",
        min: 1,
        max: MANY,
        opts: &["--columns"],
    },
    CmdSpec {
        name: "set",
        min: 3,
        max: MANY,
        opts: &["--if-exists"],
    },
    CmdSpec {
        name: "add",
        min: 4,
        max: MANY,
        opts: &["--if-exists"],
    },
    CmdSpec {
        name: "remove",
        min: 4,
        max: MANY,
        opts: &["--if-exists"],
    },
    CmdSpec {
        name: "clear",
        min: 3,
        max: MANY,
        opts: &["--if-exists"],
    },
];

#[derive(Debug, Clone)]
struct Cmd {
    name: &'static str,
    opts: BTreeMap<String, String>,
    args: Vec<String>,
}

impl Cmd {
    fn has(&self, opt: &str) -> bool {
        self.opts.contains_key(opt)
    }
}

#[derive(Debug)]
struct Parsed {
    style: Style,
    oneline: bool,
    dry_run: bool,
    help: bool,
    version: bool,
    cmds: Vec<Cmd>,
}

fn match_long(name: &str, full: &str) -> Res<&'static (&'static str, HasArg, OptKind)> {
    if let Some(o) = LONG_OPTS.iter().find(|o| o.0 == name) {
        return Ok(o);
    }
    let cands: Vec<_> = LONG_OPTS
        .iter()
        .filter(|o| !name.is_empty() && o.0.starts_with(name))
        .collect();
    match cands.as_slice() {
        [one] => Ok(one),
        [] => fail(format!("unrecognized option '{full}'")),
        many => {
            let p: Vec<String> = many.iter().map(|o| format!("'--{}'", o.0)).collect();
            fail(format!(
                "option '{full}' is ambiguous; possibilities: {}",
                p.join(" ")
            ))
        }
    }
}

fn parse_args(args: &[String]) -> Res<Parsed> {
    let mut style = Style {
        format: Format::List,
        data: DataFmt::Str,
        headings: true,
        pretty: false,
    };
    let mut p = Parsed {
        style: style.clone(),
        oneline: false,
        dry_run: false,
        help: false,
        version: false,
        cmds: Vec::new(),
    };
    let mut local: BTreeMap<String, String> = BTreeMap::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            i += 1;
            break;
        }
        if let Some(body) = a.strip_prefix("--") {
            let (name, val) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            let opt = match_long(name, a)?;
            let val = match (opt.1, val) {
                (HasArg::No, Some(_)) => {
                    return fail(format!("option '--{}' doesn't allow an argument", opt.0))
                }
                (HasArg::Required, None) => {
                    i += 1;
                    match args.get(i) {
                        Some(v) => Some(v.clone()),
                        None => return fail(format!("option '--{}' requires an argument", opt.0)),
                    }
                }
                (_, v) => v,
            };
            apply_opt(
                opt.2,
                val.unwrap_or_default(),
                opt.0,
                &mut style,
                &mut p,
                &mut local,
            )?;
            i += 1;
            continue;
        }
        if a.len() > 1 && a.starts_with('-') {
            let b = a.as_bytes();
            let mut j = 1;
            while j < b.len() {
                match b[j] {
                    b'h' => p.help = true,
                    b'V' => p.version = true,
                    b'v' | b'm' => break, // -v[SPEC], -m: logging; rest of the word is its value
                    c @ (b't' | b'd' | b'f') => {
                        let v = if j + 1 < b.len() {
                            a.get(j + 1..).unwrap_or("").to_string()
                        } else {
                            i += 1;
                            match args.get(i) {
                                Some(v) => v.clone(),
                                None => {
                                    return fail(format!(
                                        "option requires an argument -- '{}'",
                                        c as char
                                    ))
                                }
                            }
                        };
                        match c {
                            b'f' => apply_opt(
                                OptKind::Format,
                                v,
                                "format",
                                &mut style,
                                &mut p,
                                &mut local,
                            )?,
                            b'd' => {
                                apply_opt(OptKind::Data, v, "data", &mut style, &mut p, &mut local)?
                            }
                            _ => {}
                        }
                        break;
                    }
                    c => {
                        let ch = if c.is_ascii() { c as char } else { '?' };
                        return fail(format!("invalid option -- '{ch}'"));
                    }
                }
                j += 1;
            }
            i += 1;
            continue;
        }
        break;
    }
    p.style = style;
    // Commands, separated by "--".
    let rest = args.get(i..).unwrap_or(&[]);
    let mut chunks: Vec<&[String]> = rest.split(|a| a == "--").collect();
    if rest.is_empty() {
        chunks.clear();
    }
    if chunks.is_empty() {
        if p.help || p.version {
            return Ok(p);
        }
        if !local.is_empty() {
            return fail("missing command name (use --help for help)");
        }
        return fail("missing command name (use --help for help)");
    }
    for (n, chunk) in chunks.iter().enumerate() {
        let mut opts = if n == 0 {
            std::mem::take(&mut local)
        } else {
            BTreeMap::new()
        };
        let mut k = 0;
        while k < chunk.len() && chunk[k].starts_with('-') {
            let o = &chunk[k];
            let (name, val) = match o.split_once('=') {
                Some((a, b)) => (a.to_string(), b.to_string()),
                None => (o.clone(), String::new()),
            };
            opts.insert(name, val);
            k += 1;
        }
        let Some(name) = chunk.get(k) else {
            return fail("missing command name (use --help for help)");
        };
        let spec = match COMMANDS.iter().find(|c| c.name == name.as_str()) {
            Some(s) => s,
            None if UNSUPPORTED.contains(&name.as_str()) => {
                return fail(format!("'{name}' command is not supported by rvs"))
            }
            None => return fail(format!("unknown command '{name}'; use --help for help")),
        };
        for o in opts.keys() {
            if !spec.opts.contains(&o.as_str()) {
                return fail(format!("'{}' command has no '{o}' option", spec.name));
            }
        }
        let cargs: Vec<String> = chunk.get(k + 1..).unwrap_or(&[]).to_vec();
        if cargs.len() < spec.min {
            return fail(format!(
                "'{}' command requires at least {} arguments",
                spec.name, spec.min
            ));
        }
        if cargs.len() > spec.max {
            let note = if cargs.iter().any(|a| a.starts_with('-')) {
                " (note that options must precede command names and follow a \"--\" argument)"
            } else {
                ""
            };
            return fail(format!(
                "'{}' command takes at most {} arguments{note}",
                spec.name, spec.max
            ));
        }
        p.cmds.push(Cmd {
            name: spec.name,
            opts,
            args: cargs,
        });
    }
    Ok(p)
}

fn apply_opt(
    kind: OptKind,
    v: String,
    name: &str,
    style: &mut Style,
    p: &mut Parsed,
    local: &mut BTreeMap<String, String>,
) -> Res<()> {
    match kind {
        OptKind::Ignored => {}
        OptKind::Format => {
            style.format = match v.to_ascii_lowercase().as_str() {
                "list" => Format::List,
                "table" | "text" => Format::Table,
                "csv" => Format::Csv,
                "json" => Format::Json,
                "bare" => {
                    style.data = DataFmt::Bare;
                    style.headings = false;
                    Format::List
                }
                _ => return fail(format!("unknown output format \"{v}\"")),
            }
        }
        OptKind::Data => {
            style.data = match v.to_ascii_lowercase().as_str() {
                "string" => DataFmt::Str,
                "bare" => DataFmt::Bare,
                "json" => DataFmt::Json,
                _ => return fail(format!("unknown data format \"{v}\"")),
            }
        }
        OptKind::NoHeadings => style.headings = false,
        OptKind::Pretty => style.pretty = true,
        OptKind::Bare => {
            style.format = Format::List;
            style.data = DataFmt::Bare;
            style.headings = false;
        }
        OptKind::Oneline => p.oneline = true,
        OptKind::DryRun => p.dry_run = true,
        OptKind::Help => p.help = true,
        OptKind::Version => p.version = true,
        OptKind::Local => {
            local.insert(format!("--{name}"), v);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Tables, rows and columns.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Table {
    Ovs,
    Bridge,
    Port,
    Iface,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Ovs => "Open_vSwitch",
            Table::Bridge => "Bridge",
            Table::Port => "Port",
            Table::Iface => "Interface",
        }
    }

    fn columns(self) -> &'static [Column] {
        match self {
            Table::Ovs => schema::OPEN_VSWITCH,
            Table::Bridge => schema::BRIDGE,
            Table::Port => schema::PORT,
            Table::Iface => schema::INTERFACE,
        }
    }
}

static UUID_COL: Column = Column {
    name: "_uuid",
    ty: ColType {
        key: BaseType {
            base: Base::Uuid,
            min_int: None,
            max_int: None,
            enum_: None,
        },
        value: None,
        min: 1,
        max: 1,
    },
    mutable: false,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Row {
    Ovs,
    Bridge(usize),
    Port(usize, usize),
    Iface(usize, usize, usize),
}

fn lower(c: u8) -> u8 {
    c.to_ascii_lowercase()
}

/// OVS's `score_partial_match`.
fn score(name: &str, s: &str) -> u32 {
    if name == s {
        return u32::MAX;
    }
    let (n, sb) = (name.as_bytes(), s.as_bytes());
    let mut i = 0;
    loop {
        let a = n.get(i).copied().unwrap_or(0);
        let b = sb.get(i).copied().unwrap_or(0);
        if lower(a) != lower(b) {
            break;
        }
        if a == 0 {
            return u32::MAX - 1;
        }
        i += 1;
    }
    if i == sb.len() {
        i as u32
    } else {
        0
    }
}

fn get_table(name: &str) -> Res<Table> {
    let mut best: Vec<&str> = Vec::new();
    let mut best_score = 0;
    for t in schema::ALL_TABLES {
        let sc = score(t, name);
        if sc > best_score {
            best_score = sc;
            best = vec![t];
        } else if sc == best_score && sc > 0 {
            best.push(t);
        }
    }
    match best.as_slice() {
        [] => fail(format!("unknown table \"{name}\"")),
        [t] => match *t {
            "Open_vSwitch" => Ok(Table::Ovs),
            "Bridge" => Ok(Table::Bridge),
            "Port" => Ok(Table::Port),
            "Interface" => Ok(Table::Iface),
            other => fail(format!("table {other} is not supported by rvs")),
        },
        many => fail(format!(
            "\"{name}\" matches multiple table names: {}",
            many.join(", ")
        )),
    }
}

fn get_column(table: Table, name: &str) -> Res<&'static Column> {
    let mut best: Vec<&'static Column> = Vec::new();
    let mut best_score = 0;
    for c in std::iter::once(&UUID_COL).chain(table.columns().iter()) {
        let sc = score(c.name, name);
        if sc > best_score {
            best_score = sc;
            best = vec![c];
        } else if sc == best_score && sc > 0 {
            best.push(c);
        }
    }
    match best.as_slice() {
        [c] => Ok(c),
        [] => fail(format!(
            "{} does not contain a column whose name matches \"{name}\"",
            table.name()
        )),
        many => {
            let names: Vec<&str> = many.iter().map(|c| c.name).collect();
            fail(format!(
                "{} contains more than one column whose name matches \"{name}\": {}",
                table.name(),
                names.join(", ")
            ))
        }
    }
}

fn row_uuid(cfg: &Config, row: Row) -> Option<&str> {
    Some(match row {
        Row::Ovs => &cfg.uuid,
        Row::Bridge(b) => &cfg.bridges.get(b)?.uuid,
        Row::Port(b, p) => &cfg.bridges.get(b)?.ports.get(p)?.uuid,
        Row::Iface(b, p, i) => &cfg.bridges.get(b)?.ports.get(p)?.interfaces.get(i)?.uuid,
    })
}

fn row_name(cfg: &Config, row: Row) -> Option<&str> {
    Some(match row {
        Row::Ovs => ".",
        Row::Bridge(b) => &cfg.bridges.get(b)?.name,
        Row::Port(b, p) => &cfg.bridges.get(b)?.ports.get(p)?.name,
        Row::Iface(b, p, i) => &cfg.bridges.get(b)?.ports.get(p)?.interfaces.get(i)?.name,
    })
}

/// All rows of a table, sorted by name.
fn all_rows(cfg: &Config, table: Table) -> Vec<Row> {
    let mut rows = Vec::new();
    match table {
        Table::Ovs => rows.push(Row::Ovs),
        Table::Bridge => rows.extend((0..cfg.bridges.len()).map(Row::Bridge)),
        Table::Port => {
            for (b, br) in cfg.bridges.iter().enumerate() {
                rows.extend((0..br.ports.len()).map(|p| Row::Port(b, p)));
            }
        }
        Table::Iface => {
            for (b, br) in cfg.bridges.iter().enumerate() {
                for (p, port) in br.ports.iter().enumerate() {
                    rows.extend((0..port.interfaces.len()).map(|i| Row::Iface(b, p, i)));
                }
            }
        }
    }
    rows.sort_by(|a, b| row_name(cfg, *a).cmp(&row_name(cfg, *b)));
    rows
}

fn find_row(cfg: &Config, table: Table, id: &str) -> Res<Option<Row>> {
    let rows = all_rows(cfg, table);
    if table == Table::Ovs && id == "." {
        return Ok(Some(Row::Ovs));
    }
    if table != Table::Ovs {
        if let Some(r) = rows.iter().find(|r| row_name(cfg, **r) == Some(id)) {
            return Ok(Some(*r));
        }
    }
    let lid = id.to_ascii_lowercase();
    if let Some(r) = rows
        .iter()
        .find(|r| row_uuid(cfg, **r) == Some(lid.as_str()))
    {
        return Ok(Some(*r));
    }
    // Abbreviated UUID (at least 4 hex digits), as OVS accepts.
    if lid.len() >= 4 && lid.bytes().all(|c| c.is_ascii_hexdigit() || c == b'-') {
        let m: Vec<&Row> = rows
            .iter()
            .filter(|r| row_uuid(cfg, **r).is_some_and(|u| u.starts_with(&lid)))
            .collect();
        match m.as_slice() {
            [one] => return Ok(Some(**one)),
            [] => {}
            _ => return fail(format!("multiple rows in {} match \"{id}\"", table.name())),
        }
    }
    Ok(None)
}

fn must_row(cfg: &Config, table: Table, id: &str, if_exists: bool) -> Res<Option<Row>> {
    match find_row(cfg, table, id)? {
        Some(r) => Ok(Some(r)),
        None if if_exists => Ok(None),
        None => fail(format!("no row \"{id}\" in table {}", table.name())),
    }
}

fn str_opt(s: Option<&str>) -> Datum {
    Datum::opt(s.map(|s| Atom::Str(s.to_string())))
}

fn uuids<'a>(it: impl Iterator<Item = &'a String>) -> Datum {
    Datum::set(it.map(|u| Atom::Uuid(u.clone())).collect())
}

/// Reads a column of a row (configuration or runtime state).
fn read(cfg: &Config, status: &dyn Status, row: Row, col: &Column) -> Datum {
    let name = col.name;
    if name == "_uuid" {
        return Datum::scalar(Atom::Uuid(row_uuid(cfg, row).unwrap_or("").to_string()));
    }
    let d = match row {
        Row::Ovs => match name {
            "bridges" => Some(uuids(cfg.bridges.iter().map(|b| &b.uuid))),
            "external_ids" => Some(Datum::str_map(&cfg.external_ids)),
            "other_config" => Some(Datum::str_map(&cfg.other_config)),
            "iface_types" => Some(Datum::set(
                ["afxdp", "gre", "internal", "system", "tap"]
                    .iter()
                    .map(|s| Atom::Str(s.to_string()))
                    .collect(),
            )),
            "datapath_types" => Some(Datum::set(vec![Atom::Str("netdev".into())])),
            _ => None,
        },
        Row::Bridge(b) => cfg.bridges.get(b).and_then(|br| match name {
            "name" => Some(Datum::scalar(Atom::Str(br.name.clone()))),
            "ports" => Some(uuids(br.ports.iter().map(|p| &p.uuid))),
            "datapath_type" => Some(Datum::scalar(Atom::Str(br.datapath_type.clone()))),
            "external_ids" => Some(Datum::str_map(&br.external_ids)),
            "other_config" => Some(Datum::str_map(&br.other_config)),
            _ => None,
        }),
        Row::Port(b, p) => cfg
            .bridges
            .get(b)
            .and_then(|br| br.ports.get(p))
            .and_then(|port| match name {
                "name" => Some(Datum::scalar(Atom::Str(port.name.clone()))),
                "interfaces" => Some(uuids(port.interfaces.iter().map(|i| &i.uuid))),
                "tag" => Some(Datum::opt(port.tag.map(|t| Atom::Int(i64::from(t))))),
                "trunks" => Some(Datum::set(
                    port.trunks
                        .iter()
                        .map(|t| Atom::Int(i64::from(*t)))
                        .collect(),
                )),
                "vlan_mode" => Some(str_opt(port.vlan_mode.as_deref())),
                "external_ids" => Some(Datum::str_map(&port.external_ids)),
                "other_config" => Some(Datum::str_map(&port.other_config)),
                _ => None,
            }),
        Row::Iface(b, p, i) => cfg
            .bridges
            .get(b)
            .and_then(|br| br.ports.get(p))
            .and_then(|port| port.interfaces.get(i))
            .and_then(|ifc| {
                let st = || status.interface(&ifc.name);
                match name {
                    "name" => Some(Datum::scalar(Atom::Str(ifc.name.clone()))),
                    "type" => Some(Datum::scalar(Atom::Str(ifc.type_.clone()))),
                    "options" => Some(Datum::str_map(&ifc.options)),
                    "external_ids" => Some(Datum::str_map(&ifc.external_ids)),
                    "other_config" => Some(Datum::str_map(&ifc.other_config)),
                    "ofport_request" => Some(Datum::opt(ifc.ofport_request.map(Atom::Int))),
                    "mtu_request" => Some(Datum::opt(ifc.mtu_request.map(Atom::Int))),
                    runtime if IFACE_RUNTIME_COLUMNS.contains(&runtime) => {
                        st().column(runtime, ifc.ofport)
                    }
                    _ => None,
                }
            }),
    };
    d.unwrap_or_else(|| col.ty.wire().default_datum())
}

fn opt_int(d: &Datum) -> Option<i64> {
    match d.keys.first() {
        Some(Atom::Int(v)) => Some(*v),
        _ => None,
    }
}

fn opt_str(d: &Datum) -> Option<String> {
    d.keys.first().map(Atom::to_bare)
}

fn u16_of(v: i64) -> u16 {
    u16::try_from(v).unwrap_or(u16::MAX)
}

/// Writes a column (only the modelled, writable ones).
fn write(cfg: &mut Config, table: Table, row: Row, col: &Column, d: &Datum) -> Res<()> {
    let name = col.name;
    if !col.mutable || name == "_uuid" {
        return fail(format!(
            "cannot modify read-only column {name} in table {}",
            table.name()
        ));
    }
    let runtime = || {
        fail(format!(
            "cannot modify column {name} in table {}: rvsd maintains it",
            table.name()
        ))
    };
    let unsupported = || {
        fail(format!(
            "column {name} in table {} is not supported by rvs",
            table.name()
        ))
    };
    match row {
        Row::Ovs => match name {
            "external_ids" => cfg.external_ids = d.to_str_map(),
            "other_config" => cfg.other_config = d.to_str_map(),
            "bridges" => return fail(
                "cannot modify column bridges in table Open_vSwitch with rvs (use add-br/del-br)",
            ),
            "iface_types" | "datapath_types" | "cur_cfg" | "next_cfg" | "statistics" => {
                return runtime()
            }
            _ => return unsupported(),
        },
        Row::Bridge(b) => {
            let Some(br) = cfg.bridges.get_mut(b) else {
                return fail("internal error: stale row");
            };
            match name {
                "datapath_type" => br.datapath_type = opt_str(d).unwrap_or_default(),
                "external_ids" => br.external_ids = d.to_str_map(),
                "other_config" => br.other_config = d.to_str_map(),
                "ports" => return fail(
                    "cannot modify column ports in table Bridge with rvs (use add-port/del-port)",
                ),
                "status" | "rstp_status" | "datapath_id" | "datapath_version" => return runtime(),
                _ => return unsupported(),
            }
        }
        Row::Port(b, p) => {
            let Some(port) = cfg.bridges.get_mut(b).and_then(|br| br.ports.get_mut(p)) else {
                return fail("internal error: stale row");
            };
            match name {
                "tag" => port.tag = opt_int(d).map(u16_of),
                "trunks" => {
                    let mut t: Vec<u16> = d
                        .keys
                        .iter()
                        .filter_map(|a| match a {
                            Atom::Int(v) => Some(u16_of(*v)),
                            _ => None,
                        })
                        .collect();
                    t.sort_unstable();
                    t.dedup();
                    port.trunks = t;
                }
                "vlan_mode" => port.vlan_mode = opt_str(d),
                "external_ids" => port.external_ids = d.to_str_map(),
                "other_config" => port.other_config = d.to_str_map(),
                "interfaces" => {
                    return fail(
                        "cannot modify column interfaces in table Port with rvs (use add-port/del-port)",
                    )
                }
                "status" | "statistics" | "rstp_status" | "rstp_statistics" => return runtime(),
                _ => return unsupported(),
            }
        }
        Row::Iface(b, p, i) => {
            let Some(ifc) = cfg
                .bridges
                .get_mut(b)
                .and_then(|br| br.ports.get_mut(p))
                .and_then(|port| port.interfaces.get_mut(i))
            else {
                return fail("internal error: stale row");
            };
            match name {
                "type" => ifc.type_ = opt_str(d).unwrap_or_default(),
                "options" => ifc.options = d.to_str_map(),
                "external_ids" => ifc.external_ids = d.to_str_map(),
                "other_config" => ifc.other_config = d.to_str_map(),
                "ofport_request" => ifc.ofport_request = opt_int(d),
                "mtu_request" => ifc.mtu_request = opt_int(d),
                "ofport" | "error" | "mac_in_use" | "mtu" | "status" | "statistics"
                | "admin_state" | "link_state" | "link_speed" | "link_resets" | "duplex"
                | "ifindex" | "bfd_status" | "lacp_current" => return runtime(),
                _ => return unsupported(),
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Output tables (list, find).

struct OutTable {
    headings: Vec<&'static str>,
    types: Vec<ColType>,
    rows: Vec<Vec<Datum>>,
}

fn cell_text(d: &Datum, ty: &ColType, data: DataFmt) -> String {
    match data {
        DataFmt::Str => d.to_text(ty),
        DataFmt::Bare => d.to_bare(ty),
        DataFmt::Json => serde_json::to_string(&d.to_json(&ty.wire())).unwrap_or_default(),
    }
}

fn csv_cell(s: &str) -> String {
    if s.contains(['\n', '"', ',']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn print_table(t: &OutTable, style: &Style, n_tables: &mut usize, out: &mut String) {
    let first = *n_tables == 0;
    *n_tables += 1;
    let texts: Vec<Vec<String>> = t
        .rows
        .iter()
        .map(|r| {
            r.iter()
                .zip(&t.types)
                .map(|(d, ty)| cell_text(d, ty, style.data))
                .collect()
        })
        .collect();
    match style.format {
        Format::List => {
            if !first {
                out.push('\n');
            }
            for (y, row) in texts.iter().enumerate() {
                if y > 0 {
                    out.push('\n');
                }
                for (x, text) in row.iter().enumerate() {
                    if style.headings {
                        out.push_str(&format!("{:<20}: ", t.headings.get(x).unwrap_or(&"")));
                    }
                    out.push_str(text);
                    out.push('\n');
                }
            }
        }
        Format::Table => {
            if !first {
                out.push('\n');
            }
            let mut widths: Vec<usize> = vec![0; t.headings.len()];
            for row in &texts {
                for (x, text) in row.iter().enumerate() {
                    if let Some(w) = widths.get_mut(x) {
                        *w = (*w).max(text.chars().count());
                    }
                }
            }
            if style.headings {
                for (x, h) in t.headings.iter().enumerate() {
                    if let Some(w) = widths.get_mut(x) {
                        *w = (*w).max(h.len());
                    }
                }
            }
            let finish = |line: String, out: &mut String| {
                out.push_str(line.trim_end_matches(' '));
                out.push('\n');
            };
            if style.headings {
                let l: Vec<String> = t
                    .headings
                    .iter()
                    .zip(&widths)
                    .map(|(h, w)| format!("{h:<w$}"))
                    .collect();
                finish(l.join(" "), out);
                let l: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
                finish(l.join(" "), out);
            }
            for row in &texts {
                let l: Vec<String> = row
                    .iter()
                    .zip(&widths)
                    .map(|(c, w)| format!("{c:<w$}"))
                    .collect();
                finish(l.join(" "), out);
            }
        }
        Format::Csv => {
            if !first {
                out.push('\n');
            }
            if style.headings {
                let l: Vec<String> = t.headings.iter().map(|h| csv_cell(h)).collect();
                out.push_str(&l.join(","));
                out.push('\n');
            }
            for row in &texts {
                let l: Vec<String> = row.iter().map(|c| csv_cell(c)).collect();
                out.push_str(&l.join(","));
                out.push('\n');
            }
        }
        Format::Json => {
            let data: Vec<serde_json::Value> = t
                .rows
                .iter()
                .map(|r| {
                    serde_json::Value::Array(
                        r.iter()
                            .zip(&t.types)
                            .map(|(d, ty)| d.to_json(&ty.wire()))
                            .collect(),
                    )
                })
                .collect();
            let mut obj = serde_json::Map::new();
            obj.insert("data".into(), serde_json::Value::Array(data));
            obj.insert(
                "headings".into(),
                serde_json::Value::Array(
                    t.headings
                        .iter()
                        .map(|h| serde_json::Value::from(*h))
                        .collect(),
                ),
            );
            let v = serde_json::Value::Object(obj);
            if style.pretty {
                json_pretty(&v, 0, out);
            } else {
                out.push_str(&serde_json::to_string(&v).unwrap_or_default());
            }
            out.push('\n');
        }
    }
}

/// OVS's pretty JSON serializer (closing brackets stay on the last element's line).
fn json_pretty(v: &serde_json::Value, depth: usize, out: &mut String) {
    let indent = |d: usize, out: &mut String| {
        out.push('\n');
        out.push_str(&" ".repeat(2 * d));
    };
    match v {
        serde_json::Value::Array(a) => {
            out.push('[');
            for (i, e) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                indent(depth + 1, out);
                json_pretty(e, depth + 1, out);
            }
            out.push(']');
        }
        serde_json::Value::Object(o) => {
            out.push('{');
            for (i, (k, e)) in o.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                indent(depth + 1, out);
                out.push_str(&datum::json_quote(k));
                out.push_str(": ");
                json_pretty(e, depth + 1, out);
            }
            out.push('}');
        }
        other => out.push_str(&serde_json::to_string(other).unwrap_or_default()),
    }
}

// ---------------------------------------------------------------------------------------------
// Execution.

struct Ctx<'a> {
    cfg: Config,
    status: &'a dyn Status,
    style: Style,
    n_tables: usize,
    exit_code: i32,
}

/// Runs one `ovs-vsctl` invocation. `args` is the argv after the program name; connection and
/// logging options (`--db=…`, `-t`, `--timeout=N`, `--no-wait`, `-v`, …) are accepted and
/// ignored. The chain of commands joined by `--` is one transaction: on any error nothing
/// changes. `--help` and `--version` produce text on stdout.
pub fn execute(cfg: &Config, args: &[String], status: &dyn Status) -> Result<Outcome, VsctlError> {
    let parsed = parse_args(args)?;
    if parsed.help || parsed.version {
        let stdout = if parsed.help {
            usage()
        } else {
            format!(
                "ovs-vsctl (rvs) {}\nDB Schema {}\n",
                env!("CARGO_PKG_VERSION"),
                schema::OVS_SCHEMA_VERSION
            )
        };
        return Ok(Outcome {
            config: cfg.clone(),
            changed: false,
            stdout,
            exit_code: 0,
            added_interfaces: Vec::new(),
        });
    }
    let mut ctx = Ctx {
        cfg: cfg.clone(),
        status,
        style: parsed.style.clone(),
        n_tables: 0,
        exit_code: 0,
    };
    let mut stdout = String::new();
    for cmd in &parsed.cmds {
        let mut out = String::new();
        run(&mut ctx, cmd, &mut out)?;
        if parsed.oneline {
            let t = out.strip_suffix('\n').unwrap_or(&out);
            stdout.push_str(&t.replace('\\', "\\\\").replace('\n', "\\n"));
            stdout.push('\n');
        } else {
            stdout.push_str(&out);
        }
    }
    let mut new = ctx.cfg;
    new.assign_ofports();
    new.validate().map_err(|e| VsctlError::new(e.to_string()))?;
    if parsed.dry_run {
        return Ok(Outcome {
            config: cfg.clone(),
            changed: false,
            stdout,
            exit_code: ctx.exit_code,
            added_interfaces: Vec::new(),
        });
    }
    let old: BTreeSet<&str> = cfg
        .bridges
        .iter()
        .flat_map(|b| b.ports.iter())
        .flat_map(|p| p.interfaces.iter())
        .map(|i| i.uuid.as_str())
        .collect();
    let added_interfaces = new
        .bridges
        .iter()
        .flat_map(|b| b.ports.iter())
        .flat_map(|p| p.interfaces.iter())
        .filter(|i| !old.contains(i.uuid.as_str()))
        .map(|i| i.name.clone())
        .collect();
    let changed = new != *cfg;
    Ok(Outcome {
        config: new,
        changed,
        stdout,
        exit_code: ctx.exit_code,
        added_interfaces,
    })
}

fn usage() -> String {
    "\
ovs-vsctl: rvs configuration utility (Open vSwitch compatible)
usage: ovs-vsctl [OPTIONS] COMMAND [ARG...] [-- [OPTIONS] COMMAND [ARG...]]...

Open vSwitch commands:
  init                        initialize database, if not yet initialized
  show                        print overview of database contents

Bridge commands:
  add-br BRIDGE               create a new bridge named BRIDGE
  del-br BRIDGE               delete BRIDGE and all of its ports
  list-br                     print the names of all the bridges
  br-exists BRIDGE            exit 2 if BRIDGE does not exist
  br-to-vlan BRIDGE           print the VLAN which BRIDGE is on (always 0)
  br-to-parent BRIDGE         print the parent of BRIDGE (itself)
  br-set-external-id BRIDGE KEY VALUE  set KEY on BRIDGE to VALUE
  br-get-external-id BRIDGE [KEY]      print value of KEY on BRIDGE

Port commands:
  list-ports BRIDGE           print the names of all the ports on BRIDGE
  add-port BRIDGE PORT        add network device PORT to BRIDGE
  del-port [BRIDGE] PORT      delete PORT (which may be bonded) from BRIDGE
  port-to-br PORT             print name of bridge that contains PORT

Interface commands:
  list-ifaces BRIDGE          print the names of all interfaces on BRIDGE
  iface-to-br IFACE           print name of bridge that contains IFACE

Database commands (tables Open_vSwitch, Bridge, Port, Interface):
  list TBL [REC]              list RECord (or all records) in TBL
  find TBL CONDITION...       list records satisfying CONDITION in TBL
  get TBL REC COL[:KEY]       print values of COLumns in RECord in TBL
  set TBL REC COL[:KEY]=VALUE set COLumn values in RECord in TBL
  add TBL REC COL [KEY=]VALUE add (KEY=)VALUE to COLumn in RECord in TBL
  remove TBL REC COL [KEY=]VALUE  remove (KEY=)VALUE from COLumn
  clear TBL REC COL           clear values from COLumn in RECord in TBL

Options:
  --may-exist, --if-exists, --with-iface, --columns=COL,...
  -f, --format=FORMAT         list, table, csv, json
  -d, --data=FORMAT           string, bare, json
  --no-headings, --bare, --pretty, --oneline, --dry-run
  --db=unix:PATH, -t, --target=PATH   rvsd control socket
  -h, --help, -V, --version
"
    .to_string()
}

fn run(ctx: &mut Ctx<'_>, cmd: &Cmd, out: &mut String) -> Res<()> {
    let a = &cmd.args;
    let arg = |i: usize| a.get(i).map(String::as_str).unwrap_or("");
    match cmd.name {
        "init" => Ok(()),
        "show" => {
            cmd_show(ctx, out);
            Ok(())
        }
        "add-br" => cmd_add_br(ctx, cmd),
        "del-br" => {
            let name = arg(0);
            match ctx.cfg.bridges.iter().position(|b| b.name == name) {
                Some(i) => {
                    ctx.cfg.bridges.remove(i);
                    Ok(())
                }
                None if cmd.has("--if-exists") => Ok(()),
                None => fail(format!("no bridge named {name}")),
            }
        }
        "list-br" => {
            let mut names: Vec<&str> = ctx.cfg.bridges.iter().map(|b| b.name.as_str()).collect();
            names.sort_unstable();
            if !cmd.has("--fake") || cmd.has("--real") {
                for n in names {
                    out.push_str(n);
                    out.push('\n');
                }
            }
            Ok(())
        }
        "br-exists" => {
            if ctx.cfg.bridge(arg(0)).is_none() {
                ctx.exit_code = 2;
            }
            Ok(())
        }
        "br-to-vlan" => {
            bridge_idx(&ctx.cfg, arg(0))?;
            out.push_str("0\n");
            Ok(())
        }
        "br-to-parent" => {
            let b = bridge_idx(&ctx.cfg, arg(0))?;
            out.push_str(&ctx.cfg.bridges[b].name);
            out.push('\n');
            Ok(())
        }
        "br-set-external-id" => {
            let b = bridge_idx(&ctx.cfg, arg(0))?;
            let br = &mut ctx.cfg.bridges[b];
            match a.get(2) {
                Some(v) => {
                    br.external_ids.insert(arg(1).to_string(), v.clone());
                }
                None => {
                    br.external_ids.remove(arg(1));
                }
            }
            Ok(())
        }
        "br-get-external-id" => {
            let b = bridge_idx(&ctx.cfg, arg(0))?;
            let br = &ctx.cfg.bridges[b];
            match a.get(1) {
                Some(k) => {
                    if let Some(v) = br.external_ids.get(k) {
                        out.push_str(v);
                        out.push('\n');
                    }
                }
                None => {
                    for (k, v) in &br.external_ids {
                        out.push_str(&format!("{k}={v}\n"));
                    }
                }
            }
            Ok(())
        }
        "list-ports" => {
            let b = bridge_idx(&ctx.cfg, arg(0))?;
            let br = &ctx.cfg.bridges[b];
            push_sorted_names(out, br.ports.iter().map(|p| p.name.as_str()), &br.name);
            Ok(())
        }
        "list-ifaces" => {
            let b = bridge_idx(&ctx.cfg, arg(0))?;
            let br = &ctx.cfg.bridges[b];
            let ifaces = br
                .ports
                .iter()
                .flat_map(|p| p.interfaces.iter())
                .map(|i| i.name.as_str());
            push_sorted_names(out, ifaces, &br.name);
            Ok(())
        }
        "add-port" => cmd_add_port(ctx, cmd),
        "del-port" => cmd_del_port(ctx, cmd),
        "port-to-br" => match ctx.cfg.port(arg(0)) {
            Some((br, _)) => {
                out.push_str(&br.name);
                out.push('\n');
                Ok(())
            }
            None => fail(format!("no port named {}", arg(0))),
        },
        "iface-to-br" => match ctx.cfg.interface(arg(0)) {
            Some((br, _, _)) => {
                out.push_str(&br.name);
                out.push('\n');
                Ok(())
            }
            None => fail(format!("no interface named {}", arg(0))),
        },
        "get" => cmd_get(ctx, cmd, out),
        "list" => cmd_list(ctx, cmd, out),
        "find" => cmd_find(ctx, cmd, out),
        "set" => cmd_set(ctx, cmd),
        "add" => cmd_add_remove(ctx, cmd, true),
        "remove" => cmd_add_remove(ctx, cmd, false),
        "clear" => cmd_clear(ctx, cmd),
        other => fail(format!("unknown command '{other}'; use --help for help")),
    }
}

fn bridge_idx(cfg: &Config, name: &str) -> Res<usize> {
    cfg.bridges
        .iter()
        .position(|b| b.name == name)
        .ok_or_else(|| VsctlError::new(format!("no bridge named {name}")))
}

/// OVS's `check_conflicts`.
fn check_conflicts(cfg: &Config, name: &str, msg: &str) -> Res<()> {
    if cfg.bridge(name).is_some() {
        return fail(format!(
            "{msg} because a bridge named {name} already exists"
        ));
    }
    if let Some((br, _)) = cfg.port(name) {
        return fail(format!(
            "{msg} because a port named {name} already exists on bridge {}",
            br.name
        ));
    }
    if let Some((br, _, _)) = cfg.interface(name) {
        return fail(format!(
            "{msg} because an interface named {name} already exists on bridge {}",
            br.name
        ));
    }
    Ok(())
}

fn cmd_add_br(ctx: &mut Ctx<'_>, cmd: &Cmd) -> Res<()> {
    let name = cmd.args.first().map(String::as_str).unwrap_or("");
    if cmd.args.len() == 2 {
        return fail("'add-br' command takes exactly 1 or 3 arguments");
    }
    if cmd.has("--may-exist") && ctx.cfg.bridge(name).is_some() {
        if cmd.args.len() == 3 {
            return fail(format!(
                "\"--may-exist add-br {name}\" but {name} is not a VLAN bridge"
            ));
        }
        return Ok(());
    }
    check_conflicts(
        &ctx.cfg,
        name,
        &format!("cannot create a bridge named {name}"),
    )?;
    if cmd.args.len() == 3 {
        return fail("rvs does not support fake (VLAN) bridges: use add-br BRIDGE");
    }
    if name.is_empty() {
        return fail("bridge name must not be empty");
    }
    ctx.cfg.bridges.push(Bridge::new(name));
    Ok(())
}

fn cmd_add_port(ctx: &mut Ctx<'_>, cmd: &Cmd) -> Res<()> {
    let br_name = cmd.args.first().map(String::as_str).unwrap_or("");
    let port_name = cmd.args.get(1).map(String::as_str).unwrap_or("");
    let settings = cmd.args.get(2..).unwrap_or(&[]);
    if cmd.has("--may-exist") {
        if let Some((pbr, port)) = ctx.cfg.port(port_name) {
            let pbr_name = pbr.name.clone();
            let have: BTreeSet<&str> = port.interfaces.iter().map(|i| i.name.as_str()).collect();
            bridge_idx(&ctx.cfg, br_name)?;
            if pbr_name != br_name {
                return fail(format!(
                    "\"--may-exist add-port {br_name} {port_name}\" but {port_name} is actually attached to bridge {pbr_name}"
                ));
            }
            if have != BTreeSet::from([port_name]) {
                let h: Vec<&str> = have.into_iter().collect();
                return fail(format!(
                    "\"--may-exist add-port {br_name} {port_name}\" but {port_name} actually has interface(s) {}",
                    h.join(", ")
                ));
            }
            return Ok(());
        }
    }
    check_conflicts(
        &ctx.cfg,
        port_name,
        &format!("cannot create a port named {port_name}"),
    )?;
    check_conflicts(
        &ctx.cfg,
        port_name,
        &format!("cannot create an interface named {port_name}"),
    )?;
    let b = bridge_idx(&ctx.cfg, br_name)?;
    if port_name.is_empty() {
        return fail("port name must not be empty");
    }
    ctx.cfg.bridges[b].ports.push(Port::new(port_name));
    let p = ctx.cfg.bridges[b].ports.len() - 1;
    for s in settings {
        set_one(ctx, Table::Port, Row::Port(b, p), port_name, s)?;
    }
    Ok(())
}

fn cmd_del_port(ctx: &mut Ctx<'_>, cmd: &Cmd) -> Res<()> {
    let must_exist = !cmd.has("--if-exists");
    let with_iface = cmd.has("--with-iface");
    let target = cmd.args.last().map(String::as_str).unwrap_or("");
    if ctx.cfg.bridge(target).is_some() {
        return fail(format!(
            "cannot delete port {target} because it is the local port for bridge {target} (deleting this port requires deleting the entire bridge)"
        ));
    }
    let mut found = ctx
        .cfg
        .port(target)
        .map(|(b, p)| (b.name.clone(), p.name.clone()));
    if found.is_none() && with_iface {
        found = ctx
            .cfg
            .interface(target)
            .map(|(b, p, _)| (b.name.clone(), p.name.clone()));
    }
    let Some((pbr, pname)) = found else {
        if !must_exist {
            return Ok(());
        }
        return fail(if with_iface {
            format!("no port or interface named {target}")
        } else {
            format!("no port named {target}")
        });
    };
    if cmd.args.len() == 2 {
        let want = &cmd.args[0];
        bridge_idx(&ctx.cfg, want)?;
        if *want != pbr {
            return fail(format!("bridge {want} does not have a port {pname}"));
        }
    }
    for br in &mut ctx.cfg.bridges {
        br.ports.retain(|p| p.name != pname);
    }
    Ok(())
}

// --- show ---

fn cmd_show(ctx: &Ctx<'_>, out: &mut String) {
    let cfg = &ctx.cfg;
    let s = |v: &str| Atom::Str(v.to_string()).to_text();
    out.push_str(&cfg.uuid);
    out.push('\n');
    let mut bridges: Vec<&Bridge> = cfg.bridges.iter().collect();
    bridges.sort_by(|a, b| a.name.cmp(&b.name));
    for br in bridges {
        out.push_str(&format!("    Bridge {}\n", s(&br.name)));
        if !br.datapath_type.is_empty() {
            out.push_str(&format!(
                "        datapath_type: {}\n",
                s(&br.datapath_type)
            ));
        }
        let mut ports: Vec<&Port> = br.ports.iter().collect();
        ports.sort_by(|a, b| (a.name != br.name, &a.name).cmp(&(b.name != br.name, &b.name)));
        for p in ports {
            out.push_str(&format!("        Port {}\n", s(&p.name)));
            if let Some(t) = p.tag {
                out.push_str(&format!("            tag: {t}\n"));
            }
            if !p.trunks.is_empty() {
                let t: Vec<String> = p.trunks.iter().map(|t| t.to_string()).collect();
                out.push_str(&format!("            trunks: [{}]\n", t.join(", ")));
            }
            let mut ifaces: Vec<_> = p.interfaces.iter().collect();
            ifaces.sort_by(|a, b| a.uuid.cmp(&b.uuid));
            for i in ifaces {
                out.push_str(&format!("            Interface {}\n", s(&i.name)));
                if !i.type_.is_empty() {
                    out.push_str(&format!("                type: {}\n", s(&i.type_)));
                }
                if !i.options.is_empty() {
                    let ty = schema::INTERFACE
                        .iter()
                        .find(|c| c.name == "options")
                        .map(|c| c.ty);
                    if let Some(ty) = ty {
                        out.push_str(&format!(
                            "                options: {}\n",
                            Datum::str_map(&i.options).to_text(&ty)
                        ));
                    }
                }
                if let Some(e) = ctx.status.interface(&i.name).error {
                    out.push_str(&format!("                error: {}\n", s(&e)));
                }
            }
        }
    }
}

// --- database commands ---

/// OVS's `parse_column_key_value`: `COLUMN[:KEY][OP VALUE]`. Returns the column, the key text,
/// the operator (if `ops` is given) and the value text.
fn parse_ckv<'s>(
    arg: &'s str,
    table: Table,
    ops: Option<&[&'static str]>,
) -> Res<(&'static Column, Option<String>, &'static str, &'s str)> {
    let mut p = 0;
    let cname = parse_token(arg, &mut p)?;
    if cname.is_empty() {
        return fail(format!("{arg}: missing column name"));
    }
    let col = get_column(table, &cname)?;
    let b = arg.as_bytes();
    let mut key = None;
    if b.get(p) == Some(&b':') {
        p += 1;
        let k = parse_token(arg, &mut p)?;
        key = Some(k);
    }
    let Some(ops) = ops else {
        if p < b.len() {
            return fail(format!(
                "{arg}: trailing garbage \"{}\" in argument",
                arg.get(p..).unwrap_or("")
            ));
        }
        return Ok((col, key, "", ""));
    };
    let rest = arg.get(p..).unwrap_or("");
    let op = ops
        .iter()
        .filter(|o| rest.starts_with(**o))
        .max_by_key(|o| o.len())
        .copied();
    match op {
        Some(op) if rest.len() > op.len() => Ok((col, key, op, &rest[op.len()..])),
        _ => {
            let list = if ops.len() == 1 {
                "\"=\"".to_string()
            } else {
                let q: Vec<String> = ops.iter().map(|o| format!("\"{o}\"")).collect();
                let (last, init) = q
                    .split_last()
                    .map(|(l, i)| (l.clone(), i.to_vec()))
                    .unwrap_or_default();
                format!("{}, or {last}", init.join(", "))
            };
            fail(format!(
                "{arg}: argument does not end in {list} followed by a value."
            ))
        }
    }
}

const FIND_OPS: &[&str] = &[
    "=", "!=", "<", ">", "<=", ">=", "{=}", "{!=}", "{<}", "{>}", "{<=}", "{>=}", "{in}",
    "{not-in}",
];

fn key_atom(key: &str, col: &Column, verb: &str) -> Res<Atom> {
    if col.ty.value.is_none() {
        return fail(format!(
            "cannot specify key to {verb} for non-map column {}",
            col.name
        ));
    }
    let k = atom_from_string(key, &col.ty.key)?;
    Ok(k)
}

fn cmd_get(ctx: &mut Ctx<'_>, cmd: &Cmd, out: &mut String) -> Res<()> {
    let table = get_table(&cmd.args[0])?;
    let id = &cmd.args[1];
    if cmd.has("--id") {
        return fail("get --id is not supported by rvs");
    }
    let Some(row) = must_row(&ctx.cfg, table, id, cmd.has("--if-exists"))? else {
        return Ok(());
    };
    for spec in cmd.args.get(2..).unwrap_or(&[]) {
        let (col, key, _, _) = parse_ckv(spec, table, None)?;
        let d = read(&ctx.cfg, ctx.status, row, col);
        match key {
            Some(k) => {
                let k = key_atom(&k, col, "get")?;
                match d.get(&k) {
                    Some(v) => {
                        out.push_str(&v.to_text());
                        out.push('\n');
                    }
                    None if cmd.has("--if-exists") => out.push('\n'),
                    None => {
                        return fail(format!(
                            "no key {} in {} record \"{id}\" column {}",
                            datum::json_quote(&k.to_bare()),
                            table.name(),
                            col.name
                        ))
                    }
                }
            }
            None => {
                out.push_str(&d.to_text(&col.ty));
                out.push('\n');
            }
        }
    }
    Ok(())
}

fn list_columns(table: Table, cmd: &Cmd) -> Res<Vec<&'static Column>> {
    match cmd.opts.get("--columns") {
        Some(spec) if spec.trim().is_empty() => fail("must specify at least one column name"),
        Some(spec) => spec
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|c| get_column(table, c.trim()))
            .collect(),
        None => Ok(std::iter::once(&UUID_COL)
            .chain(table.columns().iter())
            .collect()),
    }
}

fn emit_rows(ctx: &mut Ctx<'_>, cols: &[&'static Column], rows: &[Row], out: &mut String) {
    let t = OutTable {
        headings: cols.iter().map(|c| c.name).collect(),
        types: cols.iter().map(|c| c.ty).collect(),
        rows: rows
            .iter()
            .map(|r| {
                cols.iter()
                    .map(|c| read(&ctx.cfg, ctx.status, *r, c))
                    .collect()
            })
            .collect(),
    };
    let style = ctx.style.clone();
    print_table(&t, &style, &mut ctx.n_tables, out);
}

fn cmd_list(ctx: &mut Ctx<'_>, cmd: &Cmd, out: &mut String) -> Res<()> {
    let table = get_table(&cmd.args[0])?;
    let cols = list_columns(table, cmd)?;
    let rows = if cmd.args.len() > 1 {
        let mut rows = Vec::new();
        for id in &cmd.args[1..] {
            if let Some(r) = must_row(&ctx.cfg, table, id, cmd.has("--if-exists"))? {
                rows.push(r);
            }
        }
        rows
    } else {
        all_rows(&ctx.cfg, table)
    };
    emit_rows(ctx, &cols, &rows, out);
    Ok(())
}

fn cmp3(a: &Datum, b: &Datum) -> std::cmp::Ordering {
    a.len()
        .cmp(&b.len())
        .then_with(|| a.cmp_first(b).unwrap_or(std::cmp::Ordering::Equal))
}

fn relop(have: &Datum, want: &Datum, op: &str) -> bool {
    use std::cmp::Ordering::*;
    match op {
        "=" | "{=}" => have == want,
        "!=" | "{!=}" => have != want,
        "<" => cmp3(have, want) == Less,
        ">" => cmp3(have, want) == Greater,
        "<=" => cmp3(have, want) != Greater,
        ">=" => cmp3(have, want) != Less,
        "{<}" => have.is_subset_of(want) && have != want,
        "{>}" => want.is_subset_of(have) && have != want,
        "{<=}" => have.is_subset_of(want),
        "{>=}" => want.is_subset_of(have),
        "{in}" => !have.is_empty() && have.is_subset_of(want),
        "{not-in}" => have.keys.iter().all(|k| !want.keys.contains(k)),
        _ => false,
    }
}

fn cmd_find(ctx: &mut Ctx<'_>, cmd: &Cmd, out: &mut String) -> Res<()> {
    let table = get_table(&cmd.args[0])?;
    let cols = list_columns(table, cmd)?;
    struct Cond {
        col: &'static Column,
        key: Option<Atom>,
        op: &'static str,
        want: Datum,
    }
    let mut conds = Vec::new();
    for spec in &cmd.args[1..] {
        let (col, key, op, value) = parse_ckv(spec, table, Some(FIND_OPS))?;
        let set_op = op.starts_with('{');
        let (key, want) = match key {
            Some(k) => {
                let k = key_atom(&k, col, "find")?;
                let vt = col.ty.value.unwrap_or(col.ty.key);
                let ty = ColType {
                    key: vt,
                    value: None,
                    min: 0,
                    max: if set_op { u32::MAX } else { 1 },
                };
                (Some(k), datum_from_string(value, &ty, false)?)
            }
            None => {
                // Like OVS: the value must fit the column's type (a scalar column takes one
                // value even with {in}); constraints are not checked.
                let d = datum_from_string(value, &col.ty, false)?;
                if (d.len() as u64) > u64::from(col.ty.max) {
                    return fail(format!(
                        "{value}: {} value(s) specified but the maximum number is {}",
                        d.len(),
                        col.ty.max
                    ));
                }
                (None, d)
            }
        };
        conds.push(Cond { col, key, op, want });
    }
    let rows: Vec<Row> = all_rows(&ctx.cfg, table)
        .into_iter()
        .filter(|r| {
            conds.iter().all(|c| {
                let have = read(&ctx.cfg, ctx.status, *r, c.col);
                match &c.key {
                    Some(k) => match have.get(k) {
                        Some(v) => relop(&Datum::scalar(v.clone()), &c.want, c.op),
                        None if c.op.starts_with('{') => relop(&Datum::empty(), &c.want, c.op),
                        None => false,
                    },
                    None => relop(&have, &c.want, c.op),
                }
            })
        })
        .collect();
    emit_rows(ctx, &cols, &rows, out);
    Ok(())
}

/// One `COLUMN[:KEY]=VALUE` assignment (set, add-port settings).
fn set_one(ctx: &mut Ctx<'_>, table: Table, row: Row, _id: &str, spec: &str) -> Res<()> {
    let (col, key, _, value) = parse_ckv(spec, table, Some(&["="]))?;
    if !col.mutable || col.name == "_uuid" {
        return fail(format!(
            "cannot modify read-only column {} in table {}",
            col.name,
            table.name()
        ));
    }
    let d = match key {
        Some(k) => {
            if col.ty.value.is_none() {
                return fail(format!(
                    "cannot specify key to set for non-map column {}",
                    col.name
                ));
            }
            let k = atom_from_string(&k, &col.ty.key)?;
            check_atom(&k, &col.ty.key)?;
            let vt = col.ty.value.unwrap_or(col.ty.key);
            let v = atom_from_string(value, &vt)?;
            check_atom(&v, &vt)?;
            let mut d = read(&ctx.cfg, ctx.status, row, col);
            d.insert(k, Some(v));
            d
        }
        None => datum_from_string(value, &col.ty, true)?,
    };
    write(&mut ctx.cfg, table, row, col, &d)
}

fn cmd_set(ctx: &mut Ctx<'_>, cmd: &Cmd) -> Res<()> {
    let table = get_table(&cmd.args[0])?;
    let id = cmd.args[1].clone();
    let Some(row) = must_row(&ctx.cfg, table, &id, cmd.has("--if-exists"))? else {
        return Ok(());
    };
    for spec in &cmd.args[2..] {
        set_one(ctx, table, row, &id, spec)?;
    }
    Ok(())
}

fn cmd_add_remove(ctx: &mut Ctx<'_>, cmd: &Cmd, add: bool) -> Res<()> {
    let verb = if add { "add" } else { "remove" };
    let table = get_table(&cmd.args[0])?;
    let id = cmd.args[1].clone();
    let Some(row) = must_row(&ctx.cfg, table, &id, cmd.has("--if-exists"))? else {
        return Ok(());
    };
    let col = get_column(table, &cmd.args[2])?;
    if !col.mutable || col.name == "_uuid" {
        return fail(format!(
            "cannot modify read-only column {} in table {}",
            col.name,
            table.name()
        ));
    }
    let mut d = read(&ctx.cfg, ctx.status, row, col);
    let mut loose = col.ty;
    loose.min = 0;
    loose.max = u32::MAX;
    for v in &cmd.args[3..] {
        if add {
            let x = datum_from_string(v, &loose, false)?;
            for (i, k) in x.keys.iter().enumerate() {
                d.insert(k.clone(), x.values.get(i).cloned());
            }
        } else if col.ty.value.is_some() {
            // A map: KEY=VALUE pairs, or bare keys.
            match datum_from_string(v, &loose, false) {
                Ok(x) => {
                    for (i, k) in x.keys.iter().enumerate() {
                        d.remove(k, x.values.get(i));
                    }
                }
                Err(_) => {
                    let kt = ColType {
                        key: col.ty.key,
                        value: None,
                        min: 0,
                        max: u32::MAX,
                    };
                    let x = datum_from_string(v, &kt, false)?;
                    for k in &x.keys {
                        d.remove(k, None);
                    }
                }
            }
        } else {
            let x = datum_from_string(v, &loose, false)?;
            for k in &x.keys {
                d.remove(k, None);
            }
        }
    }
    if (d.len() as u64) > u64::from(col.ty.max) {
        return fail(format!(
            "\"{verb}\" operation would put {} values in column {} of table {} but the maximum number is {}",
            d.len(),
            col.name,
            table.name(),
            col.ty.max
        ));
    }
    if (d.len() as u64) < u64::from(col.ty.min) {
        return fail(format!(
            "\"{verb}\" operation would remove too many values from column {} of table {}",
            col.name,
            table.name()
        ));
    }
    datum::check_datum(&d, &col.ty, &cmd.args[3..].join(" "))?;
    write(&mut ctx.cfg, table, row, col, &d)
}

fn cmd_clear(ctx: &mut Ctx<'_>, cmd: &Cmd) -> Res<()> {
    let table = get_table(&cmd.args[0])?;
    let id = cmd.args[1].clone();
    let Some(row) = must_row(&ctx.cfg, table, &id, cmd.has("--if-exists"))? else {
        return Ok(());
    };
    for c in &cmd.args[2..] {
        let col = get_column(table, c)?;
        if !col.mutable || col.name == "_uuid" {
            return fail(format!(
                "cannot modify read-only column {} in table {}",
                col.name,
                table.name()
            ));
        }
        if col.ty.min > 0 {
            return fail(format!(
                "\"clear\" operation cannot be applied to column {} of table {}, which is not allowed to be empty",
                col.name,
                table.name()
            ));
        }
        write(&mut ctx.cfg, table, row, col, &Datum::empty())?;
    }
    Ok(())
}

/// One name per line, sorted, leaving out the bridge's own port (`list-ports`, `list-ifaces`).
fn push_sorted_names<'a>(out: &mut String, names: impl Iterator<Item = &'a str>, bridge: &str) {
    let mut names: Vec<&str> = names.filter(|n| *n != bridge).collect();
    names.sort_unstable();
    for n in names {
        out.push_str(n);
        out.push('\n');
    }
}

#[cfg(test)]
mod tests;
