//! `rvs-lab`: network topologies of rvs switches, hosts, VLANs and tunnels in network
//! namespaces, from one TOML file and one command (see `rvs_testkit::lab`).
//!
//! A lab built by `up` belongs to the process that ran `rvs-lab` (its parent; a `sudo`,
//! `su`, `doas`, `runuser` or `timeout` in between is skipped), or to `--owner PID`: once that
//! process is gone, `down --all` removes it. The lab's state lives in `$RVS_LAB_DIR` (default
//! `/run/rvs-lab`); every later command finds the lab there by name.

use rvs_testkit::lab::state::{list_labs, sweep_dead_labs};
use rvs_testkit::lab::{describe, to_json, LabOptions};
use rvs_testkit::{sweep_dead_owners, Lab, ProcId, Topology};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

const USAGE: &str = "\
usage: rvs-lab COMMAND …
  up FILE [--name LAB] [--owner PID] [--timeout SECS] [--json]
                                build the topology in FILE; returns when every port forwards
  check FILE                    check FILE and print the plan; creates nothing
  exec LAB NODE -- CMD…         run CMD in a host's or switch's namespace
  pingall LAB [--json]          ping every pair of hosts; exit 0 only if every pair that
                                should reach does and every other pair does not
  iperf LAB CLIENT SERVER [--time SECS] [--json]
                                TCP throughput between two hosts (iperf3)
  vsctl|appctl|dpctl LAB SWITCH -- ARGS…
                                rvs's ovs-vsctl/ovs-appctl/ovs-dpctl against that switch
  list [--json]                 the labs and where they stand
  down LAB | --all              remove a lab (--all: every lab whose owner is gone or whose
                                `up` died, and leftovers of dead test processes)
labs live in $RVS_LAB_DIR (default /run/rvs-lab)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(Fail::Usage(m)) => {
            eprintln!("rvs-lab: {m}\n{USAGE}");
            ExitCode::from(2)
        }
        Err(Fail::Error(m)) => {
            eprintln!("rvs-lab: {m}");
            ExitCode::FAILURE
        }
    }
}

enum Fail {
    Usage(String),
    Error(String),
}

impl<E: std::fmt::Display> From<E> for Fail {
    fn from(e: E) -> Fail {
        Fail::Error(e.to_string())
    }
}

/// Command-line words: positionals, `--flag`s, `--opt VALUE`s, and what follows `--`.
struct Words {
    positional: Vec<String>,
    flags: Vec<(String, Option<String>)>,
    rest: Vec<String>,
}

impl Words {
    /// Split `args`; `with_value` lists the options that take a value.
    fn parse(args: &[String], with_value: &[&str]) -> Result<Words, Fail> {
        let mut w = Words {
            positional: vec![],
            flags: vec![],
            rest: vec![],
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            if a == "--" {
                w.rest = it.cloned().collect();
                break;
            }
            match a.strip_prefix("--") {
                Some(f) => {
                    let (name, inline) = match f.split_once('=') {
                        Some((n, v)) => (n, Some(v.to_string())),
                        None => (f, None),
                    };
                    let value =
                        if with_value.contains(&name) {
                            match inline {
                                Some(v) => Some(v),
                                None => Some(it.next().cloned().ok_or_else(|| {
                                    Fail::Usage(format!("--{name} needs a value"))
                                })?),
                            }
                        } else {
                            inline
                        };
                    w.flags.push((name.to_string(), value));
                }
                None => w.positional.push(a.clone()),
            }
        }
        Ok(w)
    }

    fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|(n, _)| n == name)
    }

    fn value(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref())
    }

    /// Fail on flags other than `known`, and on more or fewer positionals than `n`.
    fn expect(&self, n: usize, known: &[&str]) -> Result<(), Fail> {
        if let Some((f, _)) = self
            .flags
            .iter()
            .find(|(f, _)| !known.contains(&f.as_str()))
        {
            return Err(Fail::Usage(format!("unknown option --{f}")));
        }
        if self.positional.len() != n {
            return Err(Fail::Usage(format!(
                "expected {n} argument(s), got {}",
                self.positional.len()
            )));
        }
        Ok(())
    }

    fn number<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, Fail> {
        self.value(name)
            .map(|v| {
                v.parse()
                    .map_err(|_| Fail::Usage(format!("--{name}: {v:?} is not a number")))
            })
            .transpose()
    }
}

fn run(args: &[String]) -> Result<ExitCode, Fail> {
    let Some((cmd, rest)) = args.split_first() else {
        return Err(Fail::Usage("no command".into()));
    };
    match cmd.as_str() {
        "up" => up(rest),
        "check" => check(rest),
        "exec" => exec(rest),
        "pingall" => pingall(rest),
        "iperf" => iperf(rest),
        "vsctl" | "appctl" | "dpctl" => front_end(cmd, rest),
        "list" => list(rest),
        "down" => down(rest),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        other => Err(Fail::Usage(format!("unknown command {other:?}"))),
    }
}

/// The process a lab from `up` belongs to: `--owner PID`, else the parent, skipping
/// wrappers that live only as long as `rvs-lab` itself.
fn owner(w: &Words) -> Result<ProcId, Fail> {
    if let Some(pid) = w.number::<u32>("owner")? {
        return ProcId::of(pid)
            .ok_or_else(|| Fail::Error(format!("--owner {pid}: no such process")));
    }
    let mut p = ProcId::current()
        .parent()
        .ok_or_else(|| Fail::Error("cannot find the parent process".into()))?;
    while ["sudo", "su", "doas", "runuser", "timeout"].contains(&p.comm().as_str()) {
        match p.parent() {
            Some(pp) if pp.pid > 1 => p = pp,
            _ => break,
        }
    }
    Ok(p)
}

fn up(args: &[String]) -> Result<ExitCode, Fail> {
    let w = Words::parse(args, &["name", "owner", "timeout"])?;
    w.expect(1, &["name", "owner", "timeout", "json"])?;
    let file = Path::new(&w.positional[0]);
    let topo = Topology::from_file(file)?;
    let name = match w.value("name") {
        Some(n) => n.to_string(),
        None => file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let opts = LabOptions {
        name: Some(name),
        owner: owner(&w)?,
        source: Some(
            std::fs::canonicalize(file)
                .unwrap_or_else(|_| file.to_path_buf())
                .display()
                .to_string(),
        ),
        ready_timeout: Duration::from_secs(w.number("timeout")?.unwrap_or(20)),
        ..LabOptions::default()
    };
    let t = Instant::now();
    let state = Lab::up(&topo, opts)?.detach();
    if w.flag("json") {
        println!("{:#}", to_json(&state));
    } else {
        print!("{}", describe(&state));
        println!(
            "ready in {:.1} s: rvs-lab exec {n} NODE -- CMD, rvs-lab pingall {n}, rvs-lab down {n}",
            t.elapsed().as_secs_f64(),
            n = state.name
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn check(args: &[String]) -> Result<ExitCode, Fail> {
    let w = Words::parse(args, &[])?;
    w.expect(1, &[])?;
    let plan = Topology::from_file(Path::new(&w.positional[0]))?.plan()?;
    println!("{}: {}", w.positional[0], plan.counts());
    for h in &plan.hosts {
        println!("host {} {} {} on {}", h.name, h.ip, h.mac, h.switch);
    }
    for t in &plan.tunnels {
        let [a, b] = &t.ends;
        println!(
            "tunnel {} {} <-> {} {}",
            a.switch, a.underlay_ip, b.switch, b.underlay_ip
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn exit_of(status: std::process::ExitStatus) -> ExitCode {
    use std::os::unix::process::ExitStatusExt;
    let code = status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1);
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// `LAB NODE -- CMD…` (the `--` may be left out).
fn target_and_command(args: &[String]) -> Result<(Lab, String, Vec<String>), Fail> {
    let (lab, node, cmd) = match args {
        [lab, node, dd, cmd @ ..] if dd == "--" => (lab, node, cmd),
        [lab, node, cmd @ ..] => (lab, node, cmd),
        _ => return Err(Fail::Usage("expected LAB NODE -- COMMAND…".into())),
    };
    Ok((Lab::attach(lab)?, node.clone(), cmd.to_vec()))
}

fn exec(args: &[String]) -> Result<ExitCode, Fail> {
    let (lab, node, cmd) = target_and_command(args)?;
    if cmd.is_empty() {
        return Err(Fail::Usage("exec: no command".into()));
    }
    if lab.state().netns(&node).is_none() {
        return Err(Fail::Error(format!(
            "lab {} has no node {node:?}",
            lab.name()
        )));
    }
    let status = lab.command(&node, &cmd).status()?;
    Ok(exit_of(status))
}

fn front_end(which: &str, args: &[String]) -> Result<ExitCode, Fail> {
    let (lab, switch, cmd) = target_and_command(args)?;
    if !lab.state().is_switch(&switch) {
        return Err(Fail::Error(format!(
            "lab {} has no switch {switch:?}",
            lab.name()
        )));
    }
    let bins = &lab.state().bins;
    let bin = match which {
        "vsctl" => &bins.vsctl,
        "appctl" => &bins.appctl,
        _ => &bins.dpctl,
    };
    let status = lab.front_end(&switch, bin).args(&cmd).status()?;
    Ok(exit_of(status))
}

fn pingall(args: &[String]) -> Result<ExitCode, Fail> {
    let w = Words::parse(args, &[])?;
    w.expect(1, &["json"])?;
    let m = Lab::attach(&w.positional[0])?.pingall();
    if w.flag("json") {
        println!("{:#}", m.to_json());
    } else {
        println!("{m}");
    }
    Ok(if m.all_expected() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn iperf(args: &[String]) -> Result<ExitCode, Fail> {
    let w = Words::parse(args, &["time"])?;
    w.expect(3, &["time", "json"])?;
    let lab = Lab::attach(&w.positional[0])?;
    let (client, server) = (&w.positional[1], &w.positional[2]);
    for h in [client, server] {
        if lab.state().plan.host(h).is_none() {
            return Err(Fail::Error(format!("lab {} has no host {h:?}", lab.name())));
        }
    }
    let r = lab.iperf(client, server, w.number("time")?.unwrap_or(5))?;
    if w.flag("json") {
        println!("{:#}", serde_json::to_value(&r)?);
    } else {
        println!(
            "{} -> {}: {:.2} Gbit/s over {} s ({} retransmits)",
            r.client, r.server, r.gbit_per_s, r.seconds, r.retransmits
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn list(args: &[String]) -> Result<ExitCode, Fail> {
    let w = Words::parse(args, &[])?;
    w.expect(0, &["json"])?;
    let labs = list_labs();
    if w.flag("json") {
        let v: Vec<serde_json::Value> = labs
            .iter()
            .map(|(dir, s)| match s {
                Ok(s) => to_json(s),
                Err(e) => serde_json::json!({ "dir": dir, "error": e }),
            })
            .collect();
        println!("{:#}", serde_json::Value::from(v));
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<20} {:<9} {:>8} {:>8} {:>5} {:>7}  DIR",
        "LAB", "STATUS", "OWNER", "SWITCHES", "HOSTS", "TUNNELS"
    );
    for (dir, s) in labs {
        match s {
            Ok(s) => println!(
                "{:<20} {:<9} {:>8} {:>8} {:>5} {:>7}  {}",
                s.name,
                s.status().as_str(),
                s.owner.pid,
                s.plan.switches.len(),
                s.plan.hosts.len(),
                s.plan.tunnels.len(),
                s.dir.display()
            ),
            Err(e) => println!("{:<20} unreadable: {e}", dir.display()),
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn down(args: &[String]) -> Result<ExitCode, Fail> {
    let w = Words::parse(args, &[])?;
    if w.flag("all") {
        w.expect(0, &["all"])?;
        let mut swept = sweep_dead_labs();
        swept.extend(sweep_dead_owners());
        for s in &swept {
            println!("removed {s}");
        }
        if swept.is_empty() {
            println!("nothing to remove");
        }
        return Ok(ExitCode::SUCCESS);
    }
    w.expect(1, &[])?;
    let removed = Lab::down(&w.positional[0])?;
    println!("lab {} removed ({} things)", w.positional[0], removed.len());
    Ok(ExitCode::SUCCESS)
}
