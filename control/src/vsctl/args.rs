//! `ovs-vsctl`'s command line, parsed as OVS 3.1 parses it: the global options with
//! `getopt_long` (OVS's option table, unambiguous abbreviations, glibc's messages), options of
//! the first command given among them, then the chain of commands separated by `--`, each
//! checked against the command table ([`COMMANDS`]: names, argument counts, options).
//!
//! Pure: the front end runs it before contacting rvsd (so `--help`, `-V` and syntax errors
//! need no daemon, as with OVS), and rvsd runs it again on the argv it receives.

use super::{fail, Res};
use std::collections::BTreeMap;

/// Whether a command may write to the database (OVS logs RW invocations, which numbers the
/// warnings printed after it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Ro,
    Rw,
}

/// One command's syntax: name, argument counts, the options it takes in OVS's notation
/// (`--name` takes no value, `--name=` one), and its mode.
#[derive(Debug)]
pub(crate) struct Syntax {
    pub name: &'static str,
    pub min: usize,
    pub max: usize,
    pub arguments: &'static str,
    pub options: &'static str,
    pub mode: Mode,
}

const MANY: usize = i32::MAX as usize;

macro_rules! cmd {
    ($name:expr, $min:expr, $max:expr, $args:expr, $opts:expr, $mode:ident) => {
        Syntax {
            name: $name,
            min: $min,
            max: $max,
            arguments: $args,
            options: $opts,
            mode: Mode::$mode,
        }
    };
}

/// Every `ovs-vsctl` command of OVS 3.1.
pub(crate) const COMMANDS: &[Syntax] = &[
    cmd!("init", 0, 0, "", "", Rw),
    cmd!("show", 0, 0, "", "", Ro),
    cmd!("emer-reset", 0, 0, "", "", Rw),
    cmd!(
        "add-br",
        1,
        3,
        "NEW-BRIDGE [PARENT] [NEW-VLAN]",
        "--may-exist",
        Rw
    ),
    cmd!("del-br", 1, 1, "BRIDGE", "--if-exists", Rw),
    cmd!("list-br", 0, 0, "", "--real,--fake", Ro),
    cmd!("br-exists", 1, 1, "BRIDGE", "", Ro),
    cmd!("br-to-vlan", 1, 1, "BRIDGE", "", Ro),
    cmd!("br-to-parent", 1, 1, "BRIDGE", "", Ro),
    cmd!("br-set-external-id", 2, 3, "BRIDGE KEY [VALUE]", "", Rw),
    cmd!("br-get-external-id", 1, 2, "BRIDGE [KEY]", "", Ro),
    cmd!("list-ports", 1, 1, "BRIDGE", "", Ro),
    cmd!(
        "add-port",
        2,
        MANY,
        "BRIDGE NEW-PORT [COLUMN[:KEY]=VALUE]...",
        "--may-exist",
        Rw
    ),
    cmd!(
        "del-port",
        1,
        2,
        "[BRIDGE] PORT|IFACE",
        "--if-exists,--with-iface",
        Rw
    ),
    cmd!("port-to-br", 1, 1, "PORT", "", Ro),
    cmd!(
        "add-bond",
        4,
        MANY,
        "BRIDGE BOND IFACE... [COLUMN[:KEY]=VALUE]...",
        "--may-exist,--fake-iface",
        Rw
    ),
    cmd!("add-bond-iface", 2, 2, "BOND IFACE", "--may-exist", Rw),
    cmd!("del-bond-iface", 1, 2, "[BOND] IFACE", "--if-exists", Rw),
    cmd!("list-ifaces", 1, 1, "BRIDGE", "", Ro),
    cmd!("iface-to-br", 1, 1, "IFACE", "", Ro),
    cmd!("get-controller", 1, 1, "BRIDGE", "", Ro),
    cmd!("del-controller", 1, 1, "BRIDGE", "", Rw),
    cmd!(
        "set-controller",
        1,
        MANY,
        "BRIDGE TARGET...",
        "--inactivity-probe=",
        Rw
    ),
    cmd!("get-fail-mode", 1, 1, "BRIDGE", "", Ro),
    cmd!("del-fail-mode", 1, 1, "BRIDGE", "", Rw),
    cmd!("set-fail-mode", 2, 2, "BRIDGE MODE", "", Rw),
    cmd!("get-manager", 0, 0, "", "", Ro),
    cmd!("del-manager", 0, 0, "", "", Rw),
    cmd!(
        "set-manager",
        1,
        MANY,
        "TARGET...",
        "--inactivity-probe=",
        Rw
    ),
    cmd!("get-ssl", 0, 0, "", "", Ro),
    cmd!("del-ssl", 0, 0, "", "", Rw),
    cmd!(
        "set-ssl",
        3,
        3,
        "PRIVATE-KEY CERTIFICATE CA-CERT",
        "--bootstrap",
        Rw
    ),
    cmd!("add-aa-mapping", 3, 3, "BRIDGE ARG ARG", "", Rw),
    cmd!("del-aa-mapping", 3, 3, "BRIDGE ARG ARG", "", Rw),
    cmd!("get-aa-mapping", 1, 1, "BRIDGE", "", Ro),
    cmd!("add-zone-tp", 3, MANY, "", "--may-exist", Rw),
    cmd!("del-zone-tp", 2, 2, "", "--if-exists", Rw),
    cmd!("list-zone-tp", 1, 1, "", "", Ro),
    cmd!("list-dp-cap", 1, 1, "", "", Ro),
    cmd!("comment", 0, MANY, "[ARG]...", "", Ro),
    cmd!(
        "get",
        2,
        MANY,
        "TABLE RECORD [COLUMN[:KEY]]...",
        "--if-exists,--id=",
        Ro
    ),
    cmd!(
        "list",
        1,
        MANY,
        "TABLE [RECORD]...",
        "--if-exists,--columns=",
        Ro
    ),
    cmd!(
        "find",
        1,
        MANY,
        "TABLE [COLUMN[:KEY]=VALUE]...",
        "--columns=",
        Ro
    ),
    cmd!(
        "set",
        3,
        MANY,
        "TABLE RECORD COLUMN[:KEY]=VALUE...",
        "--if-exists",
        Rw
    ),
    cmd!(
        "add",
        4,
        MANY,
        "TABLE RECORD COLUMN [KEY=]VALUE...",
        "--if-exists",
        Rw
    ),
    cmd!(
        "remove",
        4,
        MANY,
        "TABLE RECORD COLUMN KEY|VALUE|KEY=VALUE...",
        "--if-exists",
        Rw
    ),
    cmd!(
        "clear",
        3,
        MANY,
        "TABLE RECORD COLUMN...",
        "--if-exists",
        Rw
    ),
    cmd!(
        "create",
        2,
        MANY,
        "TABLE COLUMN[:KEY]=VALUE...",
        "--id=",
        Rw
    ),
    cmd!(
        "destroy",
        1,
        MANY,
        "TABLE [RECORD]...",
        "--if-exists,--all",
        Rw
    ),
    cmd!(
        "wait-until",
        2,
        MANY,
        "TABLE RECORD [COLUMN[:KEY]=VALUE]...",
        "",
        Ro
    ),
];

/// How tables print (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Table,
    List,
    Html,
    Csv,
    Json,
}

/// How cells print (`--data`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cells {
    Str,
    Bare,
    Json,
}

/// OVS's `struct table_style`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Style {
    pub format: Format,
    pub cells: Cells,
    pub headings: bool,
    pub pretty: bool,
    pub max_column_width: usize,
}

/// One parsed command: its syntax, its options (`--name` → value), its arguments after the
/// command name, and the name as written.
#[derive(Debug, Clone)]
pub(crate) struct Command {
    pub syntax: &'static Syntax,
    pub options: BTreeMap<String, Option<String>>,
    pub args: Vec<String>,
}

impl Command {
    /// True if option `name` (with its dashes) was given.
    pub fn has(&self, name: &str) -> bool {
        self.options.contains_key(name)
    }

    /// The value of option `name`.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.options.get(name).and_then(|v| v.as_deref())
    }

    /// Argument `i` (0 = the first after the command name), or "".
    pub fn arg(&self, i: usize) -> &str {
        self.args.get(i).map(String::as_str).unwrap_or("")
    }

    /// OVS's `vsctl_context_to_string`: options and argv, quoted as a shell would need.
    pub fn to_text(&self) -> String {
        let words: Vec<&str> = self
            .options
            .keys()
            .map(String::as_str)
            .chain(std::iter::once(self.syntax.name))
            .chain(self.args.iter().map(String::as_str))
            .collect();
        escape_args(&words)
    }
}

/// OVS's `process_escape_args`.
pub(crate) fn escape_args(words: &[&str]) -> String {
    let quoted: Vec<String> = words
        .iter()
        .map(|w| {
            if w.contains([' ', '\t', '\r', '\n', '\x0b', '\\', '\'', '"']) {
                let mut s = String::from('"');
                for c in w.chars() {
                    if c == '\\' || c == '"' {
                        s.push('\\');
                    }
                    s.push(c);
                }
                s.push('"');
                s
            } else {
                w.to_string()
            }
        })
        .collect();
    quoted.join(" ")
}

/// A whole invocation.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// `-h`/`--help`, `--commands`, `--options`, `-V`/`--version`: print and exit 0.
    pub(crate) info: Option<Info>,
    /// `--db`.
    pub db: Option<String>,
    /// `-t`/`--timeout`, in seconds.
    pub timeout: Option<u32>,
    /// `--no-wait`: do not wait for the switch to apply the change (nor report interface
    /// errors).
    pub no_wait: bool,
    /// `--retry`.
    pub retry: bool,
    pub(crate) dry_run: bool,
    pub(crate) oneline: bool,
    pub(crate) style: Style,
    pub(crate) commands: Vec<Command>,
}

/// The informational options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Info {
    Help,
    Commands,
    Options,
    Version,
}

impl Invocation {
    /// True if some command may write (OVS then logs the invocation at INFO level, which
    /// numbers the warnings after it).
    pub fn might_write(&self) -> bool {
        self.commands.iter().any(|c| c.syntax.mode == Mode::Rw)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HasArg {
    No,
    Required,
    Optional,
}

/// What a long option does. Options with the same [`Opt`] share one getopt value (all
/// command options do), which matters for abbreviations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Opt {
    Db,
    Ignored(u8),
    NoWait,
    DryRun,
    Oneline,
    Timeout,
    Retry,
    Help,
    Commands,
    Options,
    Version,
    Format,
    Data,
    NoHeadings,
    Pretty,
    Bare,
    MaxColumnWidth,
    Local,
}

/// OVS 3.1 ovs-vsctl's long options, in its table's order (global options, logging, table,
/// SSL, then every command's options).
const LONG: &[(&str, HasArg, Opt)] = &[
    ("db", HasArg::Required, Opt::Db),
    ("no-syslog", HasArg::No, Opt::Ignored(0)),
    ("no-wait", HasArg::No, Opt::NoWait),
    ("dry-run", HasArg::No, Opt::DryRun),
    ("oneline", HasArg::No, Opt::Oneline),
    ("timeout", HasArg::Required, Opt::Timeout),
    ("retry", HasArg::No, Opt::Retry),
    ("help", HasArg::No, Opt::Help),
    ("commands", HasArg::No, Opt::Commands),
    ("options", HasArg::No, Opt::Options),
    ("leader-only", HasArg::No, Opt::Ignored(1)),
    ("no-leader-only", HasArg::No, Opt::Ignored(2)),
    ("shuffle-remotes", HasArg::No, Opt::Ignored(3)),
    ("no-shuffle-remotes", HasArg::No, Opt::Ignored(4)),
    ("version", HasArg::No, Opt::Version),
    ("verbose", HasArg::Optional, Opt::Ignored(5)),
    ("log-file", HasArg::Optional, Opt::Ignored(6)),
    ("syslog-method", HasArg::Required, Opt::Ignored(7)),
    ("syslog-target", HasArg::Required, Opt::Ignored(8)),
    ("format", HasArg::Required, Opt::Format),
    ("data", HasArg::Required, Opt::Data),
    ("no-headings", HasArg::No, Opt::NoHeadings),
    ("pretty", HasArg::No, Opt::Pretty),
    ("bare", HasArg::No, Opt::Bare),
    ("max-column-width", HasArg::Required, Opt::MaxColumnWidth),
    ("private-key", HasArg::Required, Opt::Ignored(9)),
    ("certificate", HasArg::Required, Opt::Ignored(10)),
    ("ca-cert", HasArg::Required, Opt::Ignored(11)),
    ("ssl-protocols", HasArg::Required, Opt::Ignored(12)),
    ("ssl-ciphers", HasArg::Required, Opt::Ignored(13)),
    ("bootstrap-ca-cert", HasArg::Required, Opt::Ignored(14)),
    ("peer-ca-cert", HasArg::Required, Opt::Ignored(15)),
    ("may-exist", HasArg::No, Opt::Local),
    ("if-exists", HasArg::No, Opt::Local),
    ("real", HasArg::No, Opt::Local),
    ("fake", HasArg::No, Opt::Local),
    ("with-iface", HasArg::No, Opt::Local),
    ("fake-iface", HasArg::No, Opt::Local),
    ("inactivity-probe", HasArg::Required, Opt::Local),
    ("bootstrap", HasArg::No, Opt::Local),
    ("id", HasArg::Required, Opt::Local),
    ("columns", HasArg::Required, Opt::Local),
    ("all", HasArg::No, Opt::Local),
];

/// Short options: `+t:hVv::f:d:p:c:C:`.
const SHORT: &[(u8, HasArg, Opt)] = &[
    (b't', HasArg::Required, Opt::Timeout),
    (b'h', HasArg::No, Opt::Help),
    (b'V', HasArg::No, Opt::Version),
    (b'v', HasArg::Optional, Opt::Ignored(5)),
    (b'f', HasArg::Required, Opt::Format),
    (b'd', HasArg::Required, Opt::Data),
    (b'p', HasArg::Required, Opt::Ignored(9)),
    (b'c', HasArg::Required, Opt::Ignored(10)),
    (b'C', HasArg::Required, Opt::Ignored(11)),
];

/// The long option `name` (an exact name or an unambiguous abbreviation), glibc's way.
fn find_long(name: &str, shown: &str) -> Res<&'static (&'static str, HasArg, Opt)> {
    if let Some(o) = LONG.iter().find(|o| o.0 == name) {
        return Ok(o);
    }
    let cands: Vec<&(&str, HasArg, Opt)> = LONG
        .iter()
        .filter(|o| !name.is_empty() && o.0.starts_with(name))
        .collect();
    let Some(first) = cands.first() else {
        return fail(format!("unrecognized option '{shown}'"));
    };
    if cands.iter().all(|c| (c.1, c.2) == (first.1, first.2)) {
        return Ok(first);
    }
    let list: String = cands.iter().map(|o| format!(" '--{}'", o.0)).collect();
    fail(format!(
        "option '{shown}' is ambiguous; possibilities:{list}"
    ))
}

/// Parses `args` (argv without the program name).
pub fn parse(args: &[String]) -> Res<Invocation> {
    let mut inv = Invocation {
        info: None,
        db: None,
        timeout: None,
        no_wait: false,
        retry: false,
        dry_run: false,
        oneline: false,
        style: Style {
            format: Format::List,
            cells: Cells::Str,
            headings: true,
            pretty: false,
            max_column_width: 0,
        },
        commands: Vec::new(),
    };
    let mut local: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            i += 1;
            break;
        }
        if let Some(body) = a.strip_prefix("--") {
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            let (full, has_arg, opt) = *find_long(name, a)?;
            let value = match (has_arg, inline) {
                (HasArg::No, Some(_)) => {
                    return fail(format!("option '--{full}' doesn't allow an argument"))
                }
                (HasArg::Required, None) => {
                    i += 1;
                    match args.get(i) {
                        Some(v) => Some(v.clone()),
                        None => return fail(format!("option '--{full}' requires an argument")),
                    }
                }
                (_, v) => v,
            };
            if opt == Opt::Local {
                // OVS means to refuse a repeated option here but looks it up under another
                // name than it stores it under: the first one given wins.
                local.entry(format!("--{full}")).or_insert(value);
            } else if let Some(info) = apply(&mut inv, opt, value)? {
                inv.info.get_or_insert(info);
                return Ok(inv);
            }
            i += 1;
            continue;
        }
        if a.len() > 1 && a.starts_with('-') {
            let b = a.as_bytes();
            let mut j = 1;
            while j < b.len() {
                let c = b[j];
                let Some(&(_, has_arg, opt)) = SHORT.iter().find(|s| s.0 == c) else {
                    let ch = if c.is_ascii() { c as char } else { '?' };
                    return fail(format!("invalid option -- '{ch}'"));
                };
                let rest = a.get(j + 1..).unwrap_or("");
                let value = match has_arg {
                    HasArg::No => None,
                    HasArg::Optional => Some(rest.to_string()).filter(|r| !r.is_empty()),
                    HasArg::Required if !rest.is_empty() => Some(rest.to_string()),
                    HasArg::Required => {
                        i += 1;
                        match args.get(i) {
                            Some(v) => Some(v.clone()),
                            None => {
                                return fail(format!(
                                    "option requires an argument -- '{}'",
                                    c as char
                                ))
                            }
                        }
                    }
                };
                if let Some(info) = apply(&mut inv, opt, value)? {
                    inv.info.get_or_insert(info);
                    return Ok(inv);
                }
                if has_arg != HasArg::No {
                    break;
                }
                j += 1;
            }
            i += 1;
            continue;
        }
        break;
    }
    inv.commands = parse_commands(args.get(i..).unwrap_or(&[]), local)?;
    Ok(inv)
}

/// Applies one global option; `Some` for the informational ones, which end parsing.
fn apply(inv: &mut Invocation, opt: Opt, value: Option<String>) -> Res<Option<Info>> {
    let v = value.unwrap_or_default();
    match opt {
        Opt::Db => inv.db = Some(v),
        Opt::NoWait => inv.no_wait = true,
        Opt::DryRun => inv.dry_run = true,
        Opt::Oneline => inv.oneline = true,
        Opt::Retry => inv.retry = true,
        Opt::Timeout => match v.parse::<u32>() {
            Ok(t) if t > 0 && v.bytes().all(|b| b.is_ascii_digit()) => inv.timeout = Some(t),
            _ => return fail(format!("value {v} on -t or --timeout is invalid")),
        },
        Opt::Help => return Ok(Some(Info::Help)),
        Opt::Commands => return Ok(Some(Info::Commands)),
        Opt::Options => return Ok(Some(Info::Options)),
        Opt::Version => return Ok(Some(Info::Version)),
        Opt::Format => {
            inv.style.format = match v.as_str() {
                "table" => Format::Table,
                "list" => Format::List,
                "html" => Format::Html,
                "csv" => Format::Csv,
                "json" => Format::Json,
                _ => return fail(format!("unknown output format \"{v}\"")),
            }
        }
        Opt::Data => {
            inv.style.cells = match v.as_str() {
                "string" => Cells::Str,
                "bare" => Cells::Bare,
                "json" => Cells::Json,
                _ => return fail(format!("unknown data format \"{v}\"")),
            }
        }
        Opt::NoHeadings => inv.style.headings = false,
        Opt::Pretty => inv.style.pretty = true,
        Opt::Bare => {
            inv.style.format = Format::List;
            inv.style.cells = Cells::Bare;
            inv.style.headings = false;
        }
        // C's atoi: leading digits, anything else 0.
        Opt::MaxColumnWidth => {
            let digits: String = v
                .trim_start()
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            inv.style.max_column_width = digits.parse().unwrap_or(0);
        }
        Opt::Ignored(_) | Opt::Local => {}
    }
    Ok(None)
}

/// OVS's `ctl_parse_commands`: the chain split on `--`, the options given before the first
/// command belong to it.
fn parse_commands(
    rest: &[String],
    mut local: BTreeMap<String, Option<String>>,
) -> Res<Vec<Command>> {
    let mut commands = Vec::new();
    let mut start = 0;
    for i in 0..=rest.len() {
        if i == rest.len() || rest[i] == "--" {
            if i > start {
                let options = std::mem::take(&mut local);
                commands.push(parse_command(&rest[start..i], options)?);
            } else if !local.is_empty() {
                return fail("missing command name (use --help for help)");
            }
            start = i + 1;
        }
    }
    if commands.is_empty() {
        return fail("missing command name (use --help for help)");
    }
    Ok(commands)
}

/// OVS's `parse_command`.
fn parse_command(argv: &[String], mut options: BTreeMap<String, Option<String>>) -> Res<Command> {
    let mut i = 0;
    while let Some(o) = argv.get(i).filter(|a| a.starts_with('-')) {
        let (key, value) = match o.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (o.clone(), None),
        };
        if options.contains_key(&key) {
            return fail(format!("'{o}' option specified multiple times"));
        }
        options.insert(key, value);
        i += 1;
    }
    let Some(name) = argv.get(i) else {
        return fail("missing command name (use --help for help)");
    };
    let Some(syntax) = COMMANDS.iter().find(|c| c.name == name.as_str()) else {
        return fail(format!("unknown command '{name}'; use --help for help"));
    };
    for (opt, value) in &options {
        // OVS looks the option up as a substring of the command's option list.
        let end = syntax
            .options
            .find(opt.as_str())
            .map(|at| syntax.options.as_bytes().get(at + opt.len()).copied());
        let end = match end {
            Some(Some(c)) if b"=,? ".contains(&c) => Some(c),
            Some(None) => None,
            _ => return fail(format!("'{name}' command has no '{opt}' option")),
        };
        if end != Some(b'?') && (end == Some(b'=')) != value.is_some() {
            return fail(if end == Some(b'=') {
                format!("missing argument to '{opt}' option on '{name}' command")
            } else {
                format!("'{opt}' option on '{name}' does not accept an argument")
            });
        }
    }
    let args: Vec<String> = argv.get(i + 1..).unwrap_or(&[]).to_vec();
    if args.len() < syntax.min {
        return fail(format!(
            "'{}' command requires at least {} arguments",
            syntax.name, syntax.min
        ));
    }
    if args.len() > syntax.max {
        let note = if args.iter().any(|a| a.starts_with('-')) {
            " (note that options must precede command names and follow a \"--\" argument)"
        } else {
            ""
        };
        return fail(format!(
            "'{}' command takes at most {} arguments{note}",
            syntax.name, syntax.max
        ));
    }
    Ok(Command {
        syntax,
        options,
        args,
    })
}

/// `--commands`: one line per command, options in brackets, then the arguments in the
/// notation of OVS's bash completion.
pub(crate) fn commands_text() -> String {
    let mut out = String::new();
    for c in COMMANDS {
        for o in c.options.split(',').filter(|o| !o.is_empty()) {
            out.push_str(&format!("[{o}] "));
        }
        out.push_str(&format!(",{},{}\n", c.name, completion_args(c.arguments)));
    }
    out
}

/// OVS's `print_command_arguments`: each word prefixed `!` (required), `?` (optional), `*`
/// (any number) or `+` (one or more).
fn completion_args(arguments: &str) -> String {
    let mut words = Vec::new();
    for w in arguments.split(' ').filter(|w| !w.is_empty()) {
        let repeated = w.ends_with("...");
        let core = w.trim_end_matches("...");
        let optional = core.starts_with('[') && core.ends_with(']');
        let inner = if optional {
            &core[1..core.len() - 1]
        } else {
            core
        };
        let prefix = match (optional, repeated) {
            (true, true) => '*',
            (true, false) => '?',
            (false, true) => '+',
            (false, false) => '!',
        };
        words.push(format!("{prefix}{inner}"));
    }
    words.join(" ")
}

/// `--options`: every long option (`=ARG` when it takes one) and its short form.
pub(crate) fn options_text() -> String {
    let mut out = String::new();
    for (name, has_arg, opt) in LONG.iter().filter(|o| o.2 != Opt::Local) {
        let arg = *has_arg != HasArg::No;
        out.push_str(&format!("--{name}{}\n", if arg { "=ARG" } else { "" }));
        if let Some((c, ..)) = SHORT.iter().find(|s| s.2 == *opt) {
            out.push_str(&format!(
                "-{}{}\n",
                *c as char,
                if arg { " ARG" } else { "" }
            ));
        }
    }
    out
}
