//! `ovs-vsctl`: the OVS configuration dialect, executed by rvsd as one atomic transaction.
//!
//! The command line is parsed here first, as OVS parses it before connecting: `--help`,
//! `-V`/`--version`, `--commands`, `--options` and syntax errors need no daemon. A valid
//! command line goes whole to rvsd (`rvs/vsctl`, found through `--db=unix:PATH` or the run
//! directory), which runs it on its database and answers with stdout, stderr and the exit
//! status. A `wait-until` whose condition does not hold yet is asked again (every 100 ms)
//! until it does or `--timeout` expires.

use rvs_control::client;
use rvs_control::daemon::VsctlReply;
use rvs_control::unixctl::CallError;
use rvs_control::vsctl;
use std::time::{Duration, Instant};

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
    let target = inv
        .db
        .as_deref()
        .map(|d| d.strip_prefix("unix:").unwrap_or(d).to_string())
        .filter(|t| t.contains('/'));
    let timeout = inv.timeout.map(u64::from);
    let deadline = timeout.map(|t| Instant::now() + Duration::from_secs(t));
    loop {
        match client::call(target.as_deref(), "rvs/vsctl", &args, timeout) {
            Ok(json) => match serde_json::from_str::<VsctlReply>(&json) {
                Ok(r) if r.retry && deadline.is_none_or(|d| Instant::now() < d) => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Ok(r) if r.retry => {
                    eprintln!("ovs-vsctl: timeout after {} seconds", timeout.unwrap_or(0));
                    std::process::exit(142);
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
            Err(e) => {
                let db = inv.db.clone().unwrap_or_else(|| {
                    format!("unix:{}", client::socket_path(target.as_deref()).display())
                });
                // OVS names only the cause: "(No such file or directory)".
                let text = e.to_string();
                let why = match &e {
                    CallError::Connect(m) => m
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
