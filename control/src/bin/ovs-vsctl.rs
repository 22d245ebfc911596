//! `ovs-vsctl`: the OVS configuration dialect, executed by rvsd as one atomic transaction.
//!
//! The command line is parsed here first, as OVS parses it before connecting: `--help`,
//! `-V`/`--version`, `--commands`, `--options` and syntax errors need no daemon. A valid
//! command line goes whole to rvsd (`rvs/vsctl`, found through `--db=unix:PATH` or the run
//! directory), which runs it on its database and answers with stdout, stderr and the exit
//! status. A `wait-until` whose condition does not hold yet is asked again (every 100 ms)
//! until it does. As with OVS, `--retry` (or a passive `--db=punix:…`) keeps trying to
//! connect, and `--timeout` ends the whole run with SIGALRM.

use rvs_control::client;
use rvs_control::daemon::VsctlReply;
use rvs_control::unixctl::CallError;
use rvs_control::vsctl;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Dies of SIGALRM as OVS's `ovs-vsctl` does when `--timeout` expires (exit status 142 in a
/// shell), after its log line.
fn alarm(might_write: bool) -> ! {
    eprintln!(
        "{}|{:05}|fatal_signal|WARN|terminating with signal 14 (Alarm clock)",
        rvs_control::log::console_timestamp(),
        if might_write { 2 } else { 1 }
    );
    // SAFETY: restoring the default disposition of SIGALRM and raising it only affect this
    // process, which is meant to end here; no Rust state is observed afterwards.
    unsafe {
        libc::signal(libc::SIGALRM, libc::SIG_DFL);
        libc::raise(libc::SIGALRM);
    }
    std::process::exit(142);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let inv = match vsctl::parse(&args) {
        Ok(inv) => inv,
        Err(e) => {
            eprintln!("ovs-vsctl: {}", e.message);
            std::process::exit(1);
        }
    };
    if let Some(text) = vsctl::info_text(&inv) {
        print!("{text}");
        std::process::exit(0);
    }
    let might_write = inv.might_write();
    let db = inv
        .db
        .clone()
        .unwrap_or_else(|| format!("unix:{}", client::socket_path(None).display()));
    let passive = db.starts_with("punix:") || db.starts_with("ptcp:") || db.starts_with("pssl:");
    let socket: Option<PathBuf> = db
        .strip_prefix("unix:")
        .or_else(|| db.strip_prefix("punix:"))
        .map(PathBuf::from);
    let timeout = inv.timeout.map(u64::from);
    let deadline = timeout.map(|t| Instant::now() + Duration::from_secs(t));
    let expired = || deadline.is_some_and(|d| Instant::now() >= d);
    loop {
        let result = match &socket {
            Some(path) => {
                // A relative path too is a path, not a daemon name.
                let path = if path.components().count() == 1 {
                    PathBuf::from(".").join(path)
                } else {
                    path.clone()
                };
                client::call(path.to_str(), "rvs/vsctl", &args, timeout)
            }
            None => Err(CallError::Connect(
                "rvs's ovs-vsctl connects only to rvsd, at unix:PATH".into(),
            )),
        };
        match result {
            Ok(json) => match serde_json::from_str::<VsctlReply>(&json) {
                Ok(r) if r.retry => {
                    if expired() {
                        alarm(might_write);
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                Ok(r) => {
                    print!("{}", r.stdout);
                    eprint!("{}", r.stderr);
                    std::process::exit(r.exit_code);
                }
                Err(e) => {
                    eprintln!("ovs-vsctl: bad reply from rvsd ({e})");
                    std::process::exit(1);
                }
            },
            Err(CallError::Server(e)) => {
                eprint!("ovs-vsctl: {e}");
                std::process::exit(1);
            }
            Err(CallError::Connect(_)) if inv.retry || passive => {
                if expired() {
                    alarm(might_write);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(CallError::Io(_)) if expired() => alarm(might_write),
            Err(e) => {
                // OVS names only the cause: "(No such file or directory)".
                let text = e.to_string();
                let why = match &e {
                    CallError::Connect(m) if m.ends_with(')') => m
                        .rsplit_once(" (")
                        .map_or(m.as_str(), |(_, w)| w.trim_end_matches(')')),
                    _ => text.as_str(),
                };
                eprintln!("ovs-vsctl: {db}: database connection failed ({why})");
                std::process::exit(1);
            }
        }
    }
}
