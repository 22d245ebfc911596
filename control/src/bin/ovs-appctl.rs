//! `ovs-appctl`: send one command to rvsd over its unixctl socket, as OVS's tool does.
//!
//! `ovs-appctl [-t TARGET] [--timeout=SECS] COMMAND [ARG...]`. Exit status: 0 on success,
//! 1 when the daemon cannot be reached, 2 when it answers with an error (as OVS).

use rvs_control::client;
use rvs_control::unixctl::CallError;

fn usage() -> ! {
    println!("ovs-appctl, for querying and controlling rvsd\nusage: ovs-appctl [TARGET] COMMAND [ARG...]\nTargets:\n  -t, --target=TARGET  pidfile or socket to contact\nCommon commands:\n  list-commands      List commands supported by the target\n  version            Print version of the target\nOther options:\n  -T, --timeout=SECS  wait at most SECS seconds for a response\n  -h, --help          Print this helpful information");
    std::process::exit(0);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut target: Option<String> = None;
    let mut timeout = None;
    let mut i = 0;
    while i < args.len() && args[i].starts_with('-') {
        let a = &args[i];
        let take_val = |i: &mut usize| -> String {
            *i += 1;
            args.get(*i).cloned().unwrap_or_else(|| {
                eprintln!("ovs-appctl: option '{a}' requires an argument");
                std::process::exit(1)
            })
        };
        match a.as_str() {
            "-t" | "--target" => target = Some(take_val(&mut i)),
            "-T" | "--timeout" => timeout = client::parse_timeout(&take_val(&mut i)),
            "-h" | "--help" => usage(),
            _ if a.starts_with("--target=") => target = Some(a["--target=".len()..].to_string()),
            _ if a.starts_with("--timeout=") => {
                timeout = client::parse_timeout(&a["--timeout=".len()..])
            }
            _ => {
                eprintln!("ovs-appctl: unrecognized option '{a}'");
                std::process::exit(1);
            }
        }
        i += 1;
    }
    let Some(cmd) = args.get(i) else {
        eprintln!("ovs-appctl: at least one non-option argument is required (use --help for help)");
        std::process::exit(1);
    };
    let name = match target.as_deref() {
        Some(t) if t.contains('/') => t.to_string(),
        _ => "ovs-vswitchd".to_string(),
    };
    match client::call(target.as_deref(), cmd, &args[i + 1..], timeout) {
        Ok(out) => print!("{out}"),
        Err(CallError::Server(e)) => {
            eprint!("{e}");
            if !e.ends_with('\n') {
                eprintln!();
            }
            eprintln!("ovs-appctl: {name}: server returned an error");
            std::process::exit(2);
        }
        Err(e) => {
            eprintln!("ovs-appctl: {e}");
            std::process::exit(1);
        }
    }
}
