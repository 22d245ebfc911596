//! `ovs-dpctl`: the datapath listings as a standalone command (`show [-s]`, `dump-flows [-m]`,
//! `del-flows`, `dump-dps`). Real OVS cannot do this for its userspace datapath; rvs forwards
//! the command to rvsd's `dpctl/*` handlers, so the output is identical to
//! `ovs-appctl dpctl/...`.

use rvs_control::client;
use rvs_control::unixctl::CallError;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut timeout = None;
    let mut rest = vec![];
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if let Some(v) = a.strip_prefix("--timeout=") {
            timeout = client::parse_timeout(v);
        } else if a == "-t" || a == "--timeout" {
            timeout = it.next().and_then(|v| client::parse_timeout(v));
        } else if a == "-h" || a == "--help" {
            println!("ovs-dpctl: rvs datapath management utility\nusage: ovs-dpctl [OPTIONS] COMMAND [ARG...]\n  show [-s] [DP]         show basic info on datapaths\n  dump-flows [-m] [DP]   display flows in DP\n  del-flows [DP]         delete all flows from DP\n  dump-dps               display names of all datapaths");
            return;
        } else {
            rest.push(a.clone());
        }
    }
    let Some(cmd) = rest.first() else {
        eprintln!("ovs-dpctl: missing command name; use --help for help");
        std::process::exit(1);
    };
    let method = match cmd.as_str() {
        "show" | "dump-flows" | "del-flows" | "dump-dps" => format!("dpctl/{cmd}"),
        other => {
            eprintln!("ovs-dpctl: unknown command '{other}'; use --help for help");
            std::process::exit(1);
        }
    };
    match client::call(None, &method, &rest[1..], timeout) {
        Ok(out) => print!("{out}"),
        Err(CallError::Server(e)) => {
            eprint!("ovs-dpctl: {e}");
            if !e.ends_with('\n') {
                eprintln!();
            }
            std::process::exit(2);
        }
        Err(e) => {
            eprintln!("ovs-dpctl: {e}");
            std::process::exit(1);
        }
    }
}
