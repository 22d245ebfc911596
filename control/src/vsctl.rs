//! The `ovs-vsctl` engine: OVS 3.1's whole `ovs-vsctl` command set, run against the embedded
//! OVSDB [`Database`] as `ovs-vsctl` runs against ovsdb-server.
//!
//! Pure and I/O-free: [`execute`] takes the database, the argv (without the program name) and
//! a [`Status`] source for the columns the switch reports, and returns an [`Outcome`] (the
//! committed database, stdout, the warnings OVS would log on stderr, the exit status) or a
//! [`VsctlError`] (message printed as `ovs-vsctl: {message}`, exit status 1, or 2 for a
//! `br-exists` of a missing bridge).
//!
//! How an invocation runs, as in OVS: the command line is parsed ([`args`]), every command's
//! prerequisites are checked (tables and column names, before anything runs), the commands run
//! in order on a copy of the database (reads see earlier commands' writes; rows inserted get
//! provisional UUIDs, so a `list` after a `create` in the same invocation shows one, as OVS
//! documents), row ids (`--id=@name`) are checked, and the copy is committed with
//! [`Database::commit`] (referential integrity, garbage collection, indexes, …). Output is
//! produced only after a successful commit.
//!
//! Invariants:
//! - all or nothing: on any error the caller's database is untouched (`execute` only reads it);
//! - `--dry-run` and `wait-until` that must wait commit nothing;
//! - no input makes it panic (it is fuzzed).
//!
//! Where OVS's order is a hash order (rows of `list`/`find`, the bridges and ports of `show`),
//! rvs uses a stable one: by name (the bridge's own port first in `show`), else by UUID.

mod args;
mod commands;
mod datum;
mod dbcmd;
mod show;
mod table;

use std::collections::BTreeMap;

use crate::ovsdb::schema::ColumnType;
use crate::ovsdb::{Atom, Database, Datum};
pub use args::{parse, Invocation};
use args::{Command, Info};
use datum::Symtab;
use table::OutTable;

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

/// The Interface columns that hold runtime state (written by the switch), by name.
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
        let text = |s: Option<&str>| Datum::opt(s.map(|s| Atom::Str(s.to_string())));
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
            "error" => text(self.error.as_deref()),
            "mac_in_use" => text(self.mac_in_use.as_deref()),
            "mtu" => int(self.mtu),
            "ifindex" => int(self.ifindex),
            "admin_state" => text(self.admin_state.as_deref()),
            "link_state" => text(self.link_state.as_deref()),
            "status" => Datum::map(
                self.status
                    .iter()
                    .map(|(k, v)| (Atom::Str(k.clone()), Atom::Str(v.clone())))
                    .collect(),
            ),
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

/// Source of the columns the switch reports (what ovs-vswitchd writes into the database).
pub trait Status {
    /// Runtime state of the interface named `name`.
    fn interface(&self, name: &str) -> IfaceStatus;

    /// The value the switch reports for `column` of row `uuid` of `table` (other than the
    /// interface columns above), if it reports one.
    fn column(&self, _table: &str, _uuid: &str, _column: &str) -> Option<Datum> {
        None
    }
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
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The database after the transaction (equal to the input if nothing changed).
    pub db: Database,
    /// True if `db` differs from the input (the daemon then saves and applies it).
    pub changed: bool,
    /// What `ovs-vsctl` prints on standard output.
    pub stdout: String,
    /// What it logs on standard error (warnings, in OVS's log format).
    pub stderr: String,
    /// Interfaces this transaction created, by name, when the invocation waits for the switch
    /// (not `--no-wait`): the front end reports those the switch could not set up.
    pub added_interfaces: Vec<String>,
    /// A `wait-until` condition does not hold yet: nothing was done; ask again later.
    pub retry: bool,
}

/// A failed invocation: `ovs-vsctl` prints the warnings, then `ovs-vsctl: {message}` (unless
/// empty), and exits with `exit_code`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct VsctlError {
    /// The message, in OVS's wording.
    pub message: String,
    /// 1, or 2 for `br-exists` of a missing bridge (which prints nothing).
    pub exit_code: i32,
    /// Warnings logged before the failure (OVS's log format, one per line).
    pub stderr: String,
}

impl VsctlError {
    fn new(message: impl Into<String>) -> VsctlError {
        VsctlError {
            message: message.into(),
            exit_code: 1,
            stderr: String::new(),
        }
    }
}

impl From<String> for VsctlError {
    fn from(message: String) -> Self {
        VsctlError::new(message)
    }
}

type Res<T> = Result<T, VsctlError>;

fn fail<T>(m: impl Into<String>) -> Res<T> {
    Err(VsctlError::new(m))
}

/// What one command printed: text, or a table printed in the `--format` style.
#[derive(Debug)]
enum Output {
    Text(String),
    Table(OutTable),
    /// `create`: the provisional UUID, replaced by the final one after the commit.
    Created(String),
}

/// The transaction being built.
struct Ctx<'a> {
    /// The database as it was (reads of switch-reported columns apply to its rows only).
    base: &'a Database,
    /// The working copy.
    db: Database,
    status: &'a dyn Status,
    symtab: Symtab,
    /// Rows inserted with provisional UUIDs, by (table, uuid).
    provisional: Vec<(String, String)>,
    /// An error the server would answer to an operation of the transaction (a `create
    /// --id=UUID` of a UUID in use, a last-command `add` beyond a column's size): reported
    /// when the transaction is sent, even with `--dry-run`.
    op_error: Option<crate::ovsdb::CommitError>,
    /// The Open_vSwitch row.
    ovs: String,
    /// Interfaces inserted, for the post-commit check (OVS's "neoteric" interfaces).
    new_ifaces: Vec<String>,
    /// Warnings, with the module that logs them.
    warnings: Vec<(&'static str, String)>,
    /// The command being run is the last of the invocation.
    last: bool,
    /// `wait-until` must wait.
    try_again: bool,
}

impl<'a> Ctx<'a> {
    /// Inserts a row with a provisional UUID (or `uuid`) and returns its UUID.
    fn insert(&mut self, table: &str, uuid: Option<String>) -> String {
        let provisional = uuid.is_none();
        let uuid = uuid.unwrap_or_else(crate::config::new_uuid);
        self.db.insert(table, &uuid);
        if provisional {
            self.provisional.push((table.to_string(), uuid.clone()));
        }
        uuid
    }

    /// True if the row was inserted by this transaction (its read-only columns may be set).
    fn is_new(&self, table: &str, uuid: &str) -> bool {
        self.base.row(table, uuid).is_none()
    }

    /// The value of a column as `ovs-vsctl` reads it: the switch's report where it makes one
    /// for a row that existed before the transaction, else the stored value.
    fn read(&self, table: &str, uuid: &str, column: &str) -> Datum {
        let stored = || {
            self.db
                .get(table, uuid, column)
                .cloned()
                .unwrap_or_else(|| {
                    self.db
                        .schema()
                        .table(table)
                        .and_then(|t| t.column_type(column))
                        .map(ColumnType::default_datum)
                        .unwrap_or_default()
                })
        };
        if self.base.row(table, uuid).is_none() {
            return stored();
        }
        if table == "Interface" && IFACE_RUNTIME_COLUMNS.contains(&column) {
            let name = self.name_of(table, uuid);
            let ofport = match self
                .db
                .get(table, uuid, "ofport")
                .and_then(Datum::as_scalar)
            {
                Some(Atom::Int(n)) if *n > 0 => *n,
                _ => 0,
            };
            if let Some(d) = self.status.interface(&name).column(column, ofport) {
                return d;
            }
        }
        self.status
            .column(table, uuid, column)
            .unwrap_or_else(stored)
    }

    /// The `name` column of a row ("" if it has none).
    fn name_of(&self, table: &str, uuid: &str) -> String {
        self.db
            .get(table, uuid, "name")
            .and_then(Datum::as_str)
            .unwrap_or_default()
            .to_string()
    }

    /// Logs a warning.
    fn warn(&mut self, module: &'static str, message: String) {
        self.warnings.push((module, message));
    }
}

/// The warnings in OVS's console log format (`TIME|SEQ|MODULE|WARN|MESSAGE`). OVS numbers
/// every message it logs anywhere; an invocation that may write first logs its command line.
fn render_warnings(warnings: &[(&str, String)], might_write: bool) -> String {
    let now = crate::log::console_timestamp();
    let first = if might_write { 2 } else { 1 };
    warnings
        .iter()
        .enumerate()
        .map(|(i, (module, m))| format!("{now}|{:05}|{module}|WARN|{m}\n", first + i))
        .collect()
}

/// Runs one `ovs-vsctl` invocation against `db` (argv after the program name). Connection
/// and logging options are accepted and ignored; `--help`, `--version`, `--commands` and
/// `--options` produce their text.
pub fn execute(db: &Database, args: &[String], status: &dyn Status) -> Result<Outcome, VsctlError> {
    let inv = args::parse(args)?;
    if let Some(info) = info_text(&inv) {
        return Ok(Outcome {
            db: db.clone(),
            changed: false,
            stdout: info,
            stderr: String::new(),
            added_interfaces: Vec::new(),
            retry: false,
        });
    }
    run(db, &inv, status)
}

/// What an informational option prints (`--help`, `--version`, `--commands`, `--options`).
pub fn info_text(inv: &Invocation) -> Option<String> {
    Some(match inv.info? {
        Info::Help => usage(),
        Info::Commands => args::commands_text(),
        Info::Options => args::options_text(),
        Info::Version => format!(
            "ovs-vsctl (Open vSwitch) {}\nDB Schema {}\n",
            crate::vswitchd::OVS_COMPAT_VERSION,
            crate::ovsdb::schema::vswitch().version
        ),
    })
}

fn run(db: &Database, inv: &Invocation, status: &dyn Status) -> Result<Outcome, VsctlError> {
    let might_write = inv.might_write();
    let mut ctx = Ctx {
        base: db,
        db: db.clone(),
        status,
        symtab: Symtab::default(),
        provisional: Vec::new(),
        op_error: None,
        ovs: String::new(),
        new_ifaces: Vec::new(),
        warnings: Vec::new(),
        last: false,
        try_again: false,
    };
    let with_warnings = |mut e: VsctlError, ctx: &Ctx<'_>| {
        e.stderr = render_warnings(&ctx.warnings, might_write);
        e
    };
    for cmd in &inv.commands {
        if let Err(e) = dbcmd::prerequisites(&mut ctx, cmd) {
            return Err(with_warnings(e, &ctx));
        }
    }
    ctx.ovs = match ctx.db.table("Open_vSwitch").and_then(|t| t.rows().next()) {
        Some((u, _)) => u.to_string(),
        None => ctx.insert("Open_vSwitch", None),
    };
    let mut outputs = Vec::with_capacity(inv.commands.len());
    for (i, cmd) in inv.commands.iter().enumerate() {
        ctx.last = i + 1 == inv.commands.len();
        match run_command(&mut ctx, cmd) {
            Ok(o) => outputs.push(o),
            Err(e) => return Err(with_warnings(e, &ctx)),
        }
        if ctx.try_again {
            return Ok(Outcome {
                db: db.clone(),
                changed: false,
                stdout: String::new(),
                stderr: render_warnings(&ctx.warnings, might_write),
                added_interfaces: Vec::new(),
                retry: true,
            });
        }
    }
    let symbols: Vec<(String, datum::Symbol)> = ctx
        .symtab
        .0
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (name, sym) in symbols {
        if !sym.created {
            return Err(with_warnings(
                VsctlError::new(format!(
                    "row id \"{name}\" is referenced but never created (e.g. with \"-- --id={name} create ...\")"
                )),
                &ctx,
            ));
        }
        if !sym.strong_ref {
            let why = if sym.weak_ref {
                "only a weak reference to it was inserted"
            } else {
                "no reference to it was inserted"
            };
            ctx.warn(
                "vsctl",
                format!("row id \"{name}\" was created but {why}, so it will not actually appear in the database"),
            );
        }
    }
    let changed = ctx.db != *db;
    let mut renamed = BTreeMap::new();
    let mut committed = db.clone();
    if let Some(e) = ctx.op_error.take() {
        ctx.warn("ovsdb_idl", format!("transaction error: {e}"));
        return Err(with_warnings(
            VsctlError::new(format!("transaction error: {e}")),
            &ctx,
        ));
    }
    if changed && !inv.dry_run {
        if !inv.no_wait {
            let next = match ctx.db.get("Open_vSwitch", &ctx.ovs, "next_cfg") {
                Some(Datum { keys, .. }) => match keys.first() {
                    Some(Atom::Int(n)) => *n,
                    _ => 0,
                },
                None => 0,
            };
            let ovs = ctx.ovs.clone();
            ctx.db.write(
                "Open_vSwitch",
                &ovs,
                "next_cfg",
                Datum::scalar(Atom::Int(next.saturating_add(1))),
            );
        }
        match Database::commit(db, ctx.db.clone(), &ctx.provisional) {
            Ok((new, map)) => {
                committed = new;
                renamed = map;
            }
            Err(e) => {
                ctx.warn("ovsdb_idl", format!("transaction error: {e}"));
                return Err(with_warnings(
                    VsctlError::new(format!("transaction error: {e}")),
                    &ctx,
                ));
            }
        }
    }
    let mut stdout = String::new();
    let mut first_table = true;
    for out in outputs {
        let text = match out {
            Output::Table(t) => {
                stdout.push_str(&t.format(&inv.style, &mut first_table));
                continue;
            }
            Output::Text(t) => t,
            Output::Created(u) => format!("{}\n", renamed.get(&u).unwrap_or(&u)),
        };
        if inv.oneline {
            let t = text.strip_suffix('\n').unwrap_or(&text);
            stdout.push_str(&t.replace('\\', "\\\\").replace('\n', "\\n"));
            stdout.push('\n');
        } else {
            stdout.push_str(&text);
        }
    }
    let added_interfaces = if inv.no_wait || inv.dry_run {
        Vec::new()
    } else {
        ctx.new_ifaces
            .iter()
            .filter_map(|u| {
                let u = renamed.get(u).unwrap_or(u);
                match committed.get("Interface", u, "name")?.as_scalar()? {
                    Atom::Str(s) => Some(s.clone()),
                    _ => None,
                }
            })
            .collect()
    };
    Ok(Outcome {
        changed: committed != *db,
        db: committed,
        stdout,
        stderr: render_warnings(&ctx.warnings, might_write),
        added_interfaces,
        retry: false,
    })
}

/// Runs one command.
fn run_command(ctx: &mut Ctx<'_>, cmd: &Command) -> Res<Output> {
    let mut out = String::new();
    match cmd.syntax.name {
        "init" | "comment" => {}
        "show" => show::show(ctx, &mut out),
        "get" => dbcmd::get(ctx, cmd, &mut out)?,
        "list" => return dbcmd::list(ctx, cmd).map(Output::Table),
        "find" => return dbcmd::find(ctx, cmd).map(Output::Table),
        "set" => dbcmd::set(ctx, cmd)?,
        "add" => dbcmd::add(ctx, cmd)?,
        "remove" => dbcmd::remove(ctx, cmd)?,
        "clear" => dbcmd::clear(ctx, cmd)?,
        "create" => return dbcmd::create(ctx, cmd).map(Output::Created),
        "destroy" => dbcmd::destroy(ctx, cmd)?,
        "wait-until" => dbcmd::wait_until(ctx, cmd)?,
        _ => commands::run(ctx, cmd, &mut out)?,
    }
    Ok(Output::Text(out))
}

/// `ovs-vsctl --help`.
fn usage() -> String {
    format!(
        "\
ovs-vsctl: Open vSwitch configuration utility (rvs)
usage: ovs-vsctl [OPTIONS] COMMAND [ARG...]

Open vSwitch commands:
  init                        initialize database, if not yet initialized
  show                        print overview of database contents
  emer-reset                  reset configuration to clean state

Bridge commands:
  add-br BRIDGE               create a new bridge named BRIDGE
  add-br BRIDGE PARENT VLAN   create new fake BRIDGE in PARENT on VLAN
  del-br BRIDGE               delete BRIDGE and all of its ports
  list-br                     print the names of all the bridges
  br-exists BRIDGE            exit 2 if BRIDGE does not exist
  br-to-vlan BRIDGE           print the VLAN which BRIDGE is on
  br-to-parent BRIDGE         print the parent of BRIDGE
  br-set-external-id BRIDGE KEY VALUE  set KEY on BRIDGE to VALUE
  br-set-external-id BRIDGE KEY  unset KEY on BRIDGE
  br-get-external-id BRIDGE KEY  print value of KEY on BRIDGE
  br-get-external-id BRIDGE  list key-value pairs on BRIDGE

Port commands (a bond is considered to be a single port):
  list-ports BRIDGE           print the names of all the ports on BRIDGE
  add-port BRIDGE PORT        add network device PORT to BRIDGE
  add-bond BRIDGE PORT IFACE...  add bonded port PORT in BRIDGE from IFACES
  add-bond-iface BOND IFACE   add IFACE to bonded port BOND
  del-bond-iface [BOND] IFACE delete IFACE from its bonded port
  del-port [BRIDGE] PORT      delete PORT (which may be bonded) from BRIDGE
  port-to-br PORT             print name of bridge that contains PORT

Interface commands (a bond consists of multiple interfaces):
  list-ifaces BRIDGE          print the names of all interfaces on BRIDGE
  iface-to-br IFACE           print name of bridge that contains IFACE

Controller commands:
  get-controller BRIDGE      print the controllers for BRIDGE
  del-controller BRIDGE      delete the controllers for BRIDGE
  [--inactivity-probe=MSECS]
  set-controller BRIDGE TARGET...  set the controllers for BRIDGE
  get-fail-mode BRIDGE       print the fail-mode for BRIDGE
  del-fail-mode BRIDGE       delete the fail-mode for BRIDGE
  set-fail-mode BRIDGE MODE  set the fail-mode for BRIDGE to MODE

Manager commands:
  get-manager                print the managers
  del-manager                delete the managers
  [--inactivity-probe=MSECS]
  set-manager TARGET...      set the list of managers to TARGET...

SSL commands:
  get-ssl                     print the SSL configuration
  del-ssl                     delete the SSL configuration
  set-ssl PRIV-KEY CERT CA-CERT  set the SSL configuration

Auto Attach commands:
  add-aa-mapping BRIDGE I-SID VLAN   add Auto Attach mapping to BRIDGE
  del-aa-mapping BRIDGE I-SID VLAN   delete Auto Attach mapping VLAN from BRIDGE
  get-aa-mapping BRIDGE              get Auto Attach mappings from BRIDGE

Switch commands:
  emer-reset                  reset switch to known good state

Database commands:
  list TBL [REC]              list RECord (or all records) in TBL
  find TBL CONDITION...       list records satisfying CONDITION in TBL
  get TBL REC COL[:KEY]       print values of COLumns in RECord in TBL
  set TBL REC COL[:KEY]=VALUE set COLumn values in RECord in TBL
  add TBL REC COL [KEY=]VALUE add (KEY=)VALUE to COLumn in RECord in TBL
  remove TBL REC COL [KEY=]VALUE  remove (KEY=)VALUE from COLumn
  clear TBL REC COL           clear values from COLumn in RECord in TBL
  create TBL COL[:KEY]=VALUE  create and initialize new record
  destroy TBL REC             delete RECord from TBL
  wait-until TBL REC [COL[:KEY]=VALUE]  wait until condition is true
Tables: {}

Options:
  --db=DATABASE               rvsd's control socket (unix:PATH; default: $RVS_RUNDIR/rvsd.ctl)
  --no-wait                   do not wait for rvsd to reconfigure
  --retry                     keep trying to connect to rvsd
  -t, --timeout=SECS          wait at most SECS seconds for rvsd
  --dry-run                   do not commit changes to database
  --oneline                   print exactly one line of output per command

Output formatting options:
  -f, --format=FORMAT         set output formatting to FORMAT
                              (\"table\", \"html\", \"csv\", or \"json\")
  -d, --data=FORMAT           set table cell output formatting to
                              FORMAT (\"string\", \"bare\", or \"json\")
  --no-headings               omit table heading row
  --pretty                    pretty-print JSON in output
  --bare                      equivalent to \"--format=list --data=bare --no-headings\"

Other options:
  -h, --help                  display this help message
  -V, --version               display version information
",
        crate::ovsdb::schema::vswitch()
            .tables
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    )
}

#[cfg(test)]
mod tests;
