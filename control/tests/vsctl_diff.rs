//! Differential test of `ovs-vsctl` (root only): the command sequences in
//! `control/tests/vsctl_diff/*.txt` (one test case per file, after the cases of OVS's own
//! `tests/ovs-vsctl.at`) run against real OVS — Debian's `ovsdb-server` on a fresh database
//! and `/usr/bin/ovs-vsctl --no-wait`, no switch daemon — and against rvs — rvsd in the
//! embedded mode, in a network namespace of its own, and rvs's `ovs-vsctl --no-wait`. Exit
//! status, stdout and stderr of every invocation are compared after normalising what differs
//! by nature: UUIDs (each distinct one becomes `<0>`, `<1>`, … in order of appearance, per
//! implementation and case) and log timestamps.
//!
//! Case file syntax, one invocation per line (shell words, as for a shell):
//! - `# text`: a comment; the first one names the case;
//! - `#! must-match`: every invocation of the case must be identical;
//! - `sort: ARGS…`: stdout compared with its lines sorted (where OVS prints in hash order);
//! - `NAME= ARGS…`: the first line of stdout is kept as `$NAME` for later lines (per
//!   implementation, e.g. a UUID that `create` printed);
//! - `ARGS…`: compared as is.
//!
//! The test prints a table of identical/different invocations per case and the overall
//! share, the differences themselves (all of them with `RVS_VSCTL_DIFF_VERBOSE=1`), and fails
//! if fewer than `GOAL` percent are identical or a must-match case differs.
//! `RVS_VSCTL_DIFF_CASE=substring` runs only the matching cases. A second test runs OVS's
//! "wait-until must wait" against rvsd alone (concurrent invocations).

mod common;

use common::{Rvsd, TempDir, VSCTL};
use rvs_testkit::{skip_unless_tools, Netns};
use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Share of identical invocations required, in percent.
const GOAL: f64 = 95.0;
const OVS_VSCTL: &str = "/usr/bin/ovs-vsctl";
const SCHEMA: &str = "/usr/share/openvswitch/vswitch.ovsschema";

/// One line of a case file.
#[derive(Debug, Clone)]
struct Step {
    args: Vec<String>,
    sort: bool,
    capture: Option<String>,
    line: usize,
}

#[derive(Debug)]
struct Case {
    name: String,
    file: String,
    must_match: bool,
    steps: Vec<Step>,
}

fn parse_case(path: &Path) -> Case {
    let text = std::fs::read_to_string(path).unwrap();
    let file = path.file_name().unwrap().to_string_lossy().into_owned();
    let mut case = Case {
        name: String::new(),
        file: file.clone(),
        must_match: false,
        steps: Vec::new(),
    };
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(c) = line.strip_prefix("#!") {
            if c.trim() == "must-match" {
                case.must_match = true;
            }
            continue;
        }
        if let Some(c) = line.strip_prefix('#') {
            if case.name.is_empty() {
                case.name = c.trim().to_string();
            }
            continue;
        }
        let mut step = Step {
            args: Vec::new(),
            sort: false,
            capture: None,
            line: n + 1,
        };
        let mut rest = line;
        if let Some(r) = rest.strip_prefix("sort:") {
            step.sort = true;
            rest = r.trim_start();
        }
        if let Some((name, r)) = rest.split_once("= ") {
            if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                step.capture = Some(name.to_string());
                rest = r;
            }
        }
        step.args = rvs_testkit::shell_words(rest);
        case.steps.push(step);
    }
    if case.name.is_empty() {
        case.name = file;
    }
    case
}

/// What one invocation did.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Maps UUIDs to `<N>` in order of appearance (one per implementation and case).
#[derive(Default)]
struct Normalizer {
    seen: BTreeMap<String, usize>,
}

fn is_uuid_at(b: &[u8], i: usize) -> bool {
    b.len() >= i + 36
        && b[i..i + 36].iter().enumerate().all(|(k, c)| {
            if matches!(k, 8 | 13 | 18 | 23) {
                *c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

impl Normalizer {
    fn text(&mut self, s: &str) -> String {
        let b = s.as_bytes();
        let mut out = String::new();
        let mut i = 0;
        while i < b.len() {
            let boundary = i == 0 || !b[i - 1].is_ascii_hexdigit();
            if boundary && is_uuid_at(b, i) && (b.len() == i + 36 || !b[i + 36].is_ascii_hexdigit())
            {
                let u = s[i..i + 36].to_ascii_lowercase();
                let n = self.seen.len();
                let id = *self.seen.entry(u).or_insert(n);
                out.push_str(&format!("<{id}>"));
                i += 36;
            } else {
                let c = s[i..].chars().next().unwrap();
                out.push(c);
                i += c.len_utf8();
            }
        }
        // Log lines: 2026-12-03T19:39:29Z|00002|module|WARN|…
        out.split_inclusive('\n')
            .map(|l| match l.split_once('|') {
                Some((t, r)) if t.len() == 20 && t.ends_with('Z') && t.as_bytes()[4] == b'-' => {
                    format!("<time>|{r}")
                }
                _ => l.to_string(),
            })
            .collect()
    }
}

fn run(bin: &str, db: &str, args: &[String]) -> Run {
    let o = Command::new(bin)
        .arg0("ovs-vsctl")
        .arg("--no-wait")
        .arg("-vreconnect:emer")
        .arg(format!("--db={db}"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run ovs-vsctl");
    Run {
        code: o.status.code(),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// A real ovsdb-server on a fresh database.
struct Ovsdb {
    child: Option<Child>,
    sock: PathBuf,
}

impl Ovsdb {
    fn start(dir: &Path) -> Ovsdb {
        let db = dir.join("conf.db");
        let o = Command::new("ovsdb-tool")
            .arg("create")
            .arg(&db)
            .arg(SCHEMA)
            .output()
            .unwrap();
        assert!(o.status.success(), "ovsdb-tool create: {o:?}");
        let sock = dir.join("db.sock");
        let child = Command::new("ovsdb-server")
            .arg(&db)
            .arg(format!("--remote=punix:{}", sock.display()))
            .arg(format!("--unixctl={}", dir.join("ovsdb.ctl").display()))
            .arg(format!("--log-file={}", dir.join("ovsdb.log").display()))
            .arg("--no-chdir")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start ovsdb-server");
        let t = Instant::now();
        while !sock.exists() && t.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(sock.exists(), "ovsdb-server did not come up");
        Ovsdb {
            child: Some(child),
            sock,
        }
    }
}

impl Drop for Ovsdb {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn substitute(args: &[String], vars: &BTreeMap<String, String>) -> Vec<String> {
    args.iter()
        .map(|a| {
            let mut a = a.clone();
            for (k, v) in vars {
                a = a.replace(&format!("${k}"), v);
            }
            a
        })
        .collect()
}

fn sorted_lines(s: &str) -> String {
    let mut l: Vec<&str> = s.lines().collect();
    l.sort_unstable();
    l.iter().map(|l| format!("{l}\n")).collect()
}

/// Runs one case on both implementations; returns (identical, total, differences).
fn run_case(case: &Case, ns: &Netns) -> (usize, usize, Vec<String>) {
    let dir = TempDir::new("vsd");
    let ovs_dir = dir.0.join("ovs");
    std::fs::create_dir_all(&ovs_dir).unwrap();
    let ovs = Ovsdb::start(&ovs_dir);
    let rvs_dir = dir.0.join("rvs");
    std::fs::create_dir_all(&rvs_dir).unwrap();
    let rvsd = Rvsd::start(&common::bins(), ns, &rvs_dir);
    let ovs_db = format!("unix:{}", ovs.sock.display());
    let rvs_db = format!("unix:{}", rvsd.rundir.join("rvsd.ctl").display());
    let (mut n_ovs, mut n_rvs) = (Normalizer::default(), Normalizer::default());
    let (mut v_ovs, mut v_rvs) = (BTreeMap::new(), BTreeMap::new());
    let mut same = 0;
    let mut diffs = Vec::new();
    for step in &case.steps {
        let a = run(OVS_VSCTL, &ovs_db, &substitute(&step.args, &v_ovs));
        let b = run(VSCTL, &rvs_db, &substitute(&step.args, &v_rvs));
        if let Some(name) = &step.capture {
            v_ovs.insert(
                name.clone(),
                a.stdout.lines().next().unwrap_or("").to_string(),
            );
            v_rvs.insert(
                name.clone(),
                b.stdout.lines().next().unwrap_or("").to_string(),
            );
        }
        let norm = |n: &mut Normalizer, r: &Run| {
            let out = n.text(&r.stdout);
            let err = n.text(&r.stderr);
            Run {
                code: r.code,
                stdout: if step.sort { sorted_lines(&out) } else { out },
                stderr: err,
            }
        };
        let (a, b) = (norm(&mut n_ovs, &a), norm(&mut n_rvs, &b));
        if a == b {
            same += 1;
        } else {
            diffs.push(format!(
                "{}:{}: ovs-vsctl {}\n  OVS: exit {:?}\n{}{}  rvs: exit {:?}\n{}{}",
                case.file,
                step.line,
                step.args.join(" "),
                a.code,
                indent("out", &a.stdout),
                indent("err", &a.stderr),
                b.code,
                indent("out", &b.stdout),
                indent("err", &b.stderr),
            ));
        }
    }
    drop(rvsd);
    drop(ovs);
    (same, case.steps.len(), diffs)
}

fn indent(tag: &str, s: &str) -> String {
    s.lines().map(|l| format!("    {tag}| {l}\n")).collect()
}

#[test]
fn ovs_vsctl_matches_real_ovs() {
    if skip_unless_tools(
        "ovs_vsctl_matches_real_ovs",
        &["ip", "ovsdb-tool", "ovsdb-server", OVS_VSCTL],
    ) {
        return;
    }
    if !Path::new(SCHEMA).exists()
        && rvs_testkit::skip("ovs_vsctl_matches_real_ovs", "no vswitch.ovsschema")
    {
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vsctl_diff");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    let only = std::env::var("RVS_VSCTL_DIFF_CASE").ok();
    let verbose = std::env::var("RVS_VSCTL_DIFF_VERBOSE").is_ok_and(|v| v == "1");
    let ns = Netns::new("vsd");
    let (mut total, mut same) = (0, 0);
    let mut table = String::new();
    let mut failures = Vec::new();
    let mut all_diffs = Vec::new();
    for f in &files {
        let case = parse_case(f);
        if only
            .as_ref()
            .is_some_and(|o| !case.file.contains(o.as_str()))
        {
            continue;
        }
        let (s, n, diffs) = run_case(&case, &ns);
        total += n;
        same += s;
        let mark = if s == n { "identical" } else { "DIFFERS" };
        table.push_str(&format!(
            "{:<44} {:>4}/{:<4} {}{}\n",
            case.file,
            s,
            n,
            mark,
            if case.must_match { " (must match)" } else { "" }
        ));
        if case.must_match && s != n {
            failures.push(case.file.clone());
        }
        all_diffs.extend(diffs);
    }
    let pct = if total == 0 {
        100.0
    } else {
        100.0 * same as f64 / total as f64
    };
    let shown = if verbose {
        all_diffs.len()
    } else {
        40.min(all_diffs.len())
    };
    for d in &all_diffs[..shown] {
        eprintln!("{d}");
    }
    if shown < all_diffs.len() {
        eprintln!(
            "(… {} more; RVS_VSCTL_DIFF_VERBOSE=1 shows all)",
            all_diffs.len() - shown
        );
    }
    eprintln!("\nDifferential ovs-vsctl test: rvs vs OVS 3.1\n{table}");
    eprintln!("{same} of {total} invocations identical: {pct:.1} % (goal {GOAL} %)");
    assert!(failures.is_empty(), "must-match cases differ: {failures:?}");
    assert!(pct >= GOAL, "only {pct:.1} % identical (goal {GOAL} %)");
}

/// OVS's "wait-until must wait": invocations waiting for rows and values that other
/// invocations create later return then, with what they read.
#[test]
fn wait_until_waits_for_other_invocations() {
    if skip_unless_tools("wait_until_waits_for_other_invocations", &["ip"]) {
        return;
    }
    let ns = Netns::new("vsw");
    let dir = TempDir::new("vsw");
    let rvsd = Rvsd::start(&common::bins(), &ns, &dir.0);
    let db = format!("--db=unix:{}", rvsd.rundir.join("rvsd.ctl").display());
    let spawn = |args: &[&str]| {
        Command::new(VSCTL)
            .arg(&db)
            .arg("--timeout=20")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let waiters = [
        spawn(&[
            "wait-until",
            "o",
            ".",
            "bridges!=[]",
            "--",
            "get",
            "bridge",
            "br10",
            "other-config:abc",
        ]),
        spawn(&[
            "wait-until",
            "bridge",
            "br1",
            "--",
            "get",
            "bridge",
            "br1",
            "other-config:abc",
        ]),
        spawn(&[
            "wait-until",
            "bridge",
            "br1",
            "other-config={abc=def}",
            "--",
            "get",
            "bridge",
            "br1",
            "other-config",
        ]),
        spawn(&[
            "wait-until",
            "port",
            "bond0",
            "bond_updelay>50",
            "--",
            "get",
            "port",
            "bond0",
            "bond-updelay",
        ]),
    ];
    std::thread::sleep(Duration::from_millis(500));
    rvsd.vsctl_ok(&[
        "add-br",
        "br10",
        "--",
        "set",
        "bridge",
        "br10",
        "other-config:abc=quux",
    ]);
    rvsd.vsctl_ok(&[
        "add-br",
        "br1",
        "--",
        "set",
        "bridge",
        "br1",
        "other-config:abc=def",
        "--",
        "add-bond",
        "br1",
        "bond0",
        "eth0",
        "eth1",
        "--",
        "set",
        "port",
        "bond0",
        "bond_updelay=500",
    ]);
    let got: Vec<String> = waiters
        .into_iter()
        .map(|c| {
            let o = c.wait_with_output().unwrap();
            assert!(o.status.success(), "{o:?}");
            String::from_utf8_lossy(&o.stdout).into_owned()
        })
        .collect();
    assert_eq!(got, ["quux\n", "def\n", "{abc=def}\n", "500\n"]);
}
