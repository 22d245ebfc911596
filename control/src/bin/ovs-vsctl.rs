//! `ovs-vsctl`: the OVS configuration dialect, executed by rvsd as one atomic transaction.
//!
//! The client only handles connection options (`--db=unix:PATH`, `-t/--timeout=SECS`,
//! `--no-wait`) and sends the rest of argv to rvsd (`rvs/vsctl`), which parses, applies,
//! persists and answers with stdout, stderr and the exit code.

use rvs_control::client;
use rvs_control::daemon::VsctlReply;
use rvs_control::unixctl::CallError;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut db: Option<String> = None;
    let mut timeout = None;
    let mut rest = Vec::with_capacity(args.len());
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if let Some(v) = a.strip_prefix("--db=") {
            db = Some(v.to_string());
        } else if a == "--db" {
            i += 1;
            db = args.get(i).cloned();
        } else if let Some(v) = a.strip_prefix("--timeout=") {
            timeout = client::parse_timeout(v);
        } else if a == "-t" || a == "--timeout" {
            i += 1;
            timeout = args.get(i).and_then(|v| client::parse_timeout(v));
        } else if a == "--no-wait" || a == "--wait" {
        } else {
            rest.push(a.clone());
        }
        i += 1;
    }
    let target = db
        .as_deref()
        .map(|d| d.strip_prefix("unix:").unwrap_or(d).to_string());
    let target = target.filter(|t| t.contains('/'));
    match client::call(target.as_deref(), "rvs/vsctl", &rest, timeout) {
        Ok(json) => match serde_json::from_str::<VsctlReply>(&json) {
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
            eprintln!("ovs-vsctl: {e}");
            std::process::exit(1);
        }
    }
}
