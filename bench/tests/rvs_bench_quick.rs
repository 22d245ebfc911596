//! Proves the `rvs-bench` harness works end to end (root only): runs the built binary with
//! `--quick --only rvs,linux-bridge --json FILE` and checks that the JSON has every expected
//! case for the ceiling, rvs and the Linux bridge, with frames delivered through both
//! switches. Not a timed test: no figure is compared with a threshold beyond "> 0".
//!
//! The harness looks for `rvsd` and rvs's `ovs-vsctl` next to itself (the workspace's
//! target directory); `./rvs.sh test` builds them first (`cargo build --workspace --bins`).

use std::path::PathBuf;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_rvs-bench");

fn skip(why: &str) -> bool {
    eprintln!("SKIP rvs_bench_quick: {why}");
    true
}

#[test]
fn quick_run_measures_rvs_and_linux_bridge() {
    if !rvs_testkit::is_root() && skip("needs root (network namespaces)") {
        return;
    }
    let bin_dir = PathBuf::from(BIN)
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default();
    for b in ["rvsd", "ovs-vsctl"] {
        if !bin_dir.join(b).exists()
            && skip(&format!(
                "{} missing: build the workspace binaries first (cargo build --workspace --bins)",
                bin_dir.join(b).display()
            ))
        {
            return;
        }
    }
    let missing: Vec<&str> = ["ip", "ping", "nstat"]
        .into_iter()
        .filter(|t| !rvs_testkit::have_tool(t))
        .collect();
    if !missing.is_empty() && skip(&format!("missing tools: {}", missing.join(", "))) {
        return;
    }
    let json = std::env::temp_dir().join(format!("rvs-bench-quick-{}.json", std::process::id()));
    let svg = json.with_extension("svg");
    let out = Command::new(BIN)
        .args(["--quick", "--only", "rvs,linux-bridge", "--json"])
        .arg(&json)
        .arg("--svg")
        .arg(&svg)
        .output()
        .expect("run rvs-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "rvs-bench failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let text = std::fs::read_to_string(&json).expect("JSON written");
    let chart = std::fs::read_to_string(&svg).unwrap_or_default();
    let _ = std::fs::remove_file(&json);
    let _ = std::fs::remove_file(&svg);
    assert!(chart.starts_with("<svg"), "no SVG chart written");
    let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let rows = v["results"].as_array().expect("results array");
    let find = |sys: &str, case: &str| {
        rows.iter()
            .find(|r| r["system"] == sys && r["case"] == case)
            .unwrap_or_else(|| panic!("no row {sys}/{case} in:\n{text}"))
    };
    let udp_cases = [
        "udp-64B-1f",
        "udp-64B-1000f",
        "udp-1500B-1f",
        "udp-1500B-1000f",
    ];
    for sys in ["direct", "rvs", "linux-bridge"] {
        for case in udp_cases {
            let r = find(sys, case);
            assert_eq!(r["status"], "ok", "{sys}/{case}: {r}\n{stdout}");
            let d = r["delivered_pps"].as_f64().unwrap_or(0.0);
            assert!(d > 0.0, "{sys}/{case} delivered nothing: {r}\n{stdout}");
            assert!(r["offered_pps"].as_f64().unwrap_or(0.0) >= d * 0.99, "{r}");
        }
        for case in ["tcp", "rr"] {
            // Present either way; TCP/RR figures depend on iperf3 being installed.
            let _ = find(sys, case);
        }
    }
    assert!(stdout.contains("UDP, max offered load"), "{stdout}");
}
