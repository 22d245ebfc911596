//! Proves the `rvs-bench` harness works end to end (root only): runs the built binary with
//! `--quick --only rvs,linux-bridge --json FILE` and checks that the JSON has every expected
//! case for the ceiling, rvs and the Linux bridge, with frames delivered through both
//! switches, TCP carried and round trips answered. Not a timed test: no figure is compared
//! with a threshold beyond "> 0".
//!
//! The harness looks for `rvsd` and rvs's `ovs-vsctl` next to itself (the workspace's
//! target directory); `./rvs.sh test` builds them first (`cargo build --workspace --bins`),
//! and their absence is a failure, not a skip.

mod support;

#[test]
fn quick_run_measures_rvs_and_linux_bridge() {
    if rvs_testkit::skip_unless_tools("rvs_bench_quick", &["ip", "ping", "nstat", "iperf3"]) {
        return;
    }
    support::require_daemons();
    let (stdout, files) = support::run(
        "rvs-bench-quick",
        &["--quick", "--only", "rvs,linux-bridge"],
        &[("--json", "json"), ("--svg", "svg")],
    );
    let (text, chart) = (&files[0], &files[1]);
    assert!(chart.starts_with("<svg"), "no SVG chart written");
    let v: serde_json::Value = serde_json::from_str(text).expect("valid JSON");
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
        let tcp = find(sys, "tcp");
        assert_eq!(tcp["status"], "ok", "{sys}/tcp: {tcp}\n{stdout}");
        assert!(
            tcp["delivered_gbps"].as_f64().unwrap_or(0.0) > 0.0,
            "{sys}/tcp: {tcp}"
        );
        let rr = find(sys, "rr");
        assert_eq!(rr["status"], "ok", "{sys}/rr: {rr}\n{stdout}");
        let (p50, p99) = (rr["p50_us"].as_f64(), rr["p99_us"].as_f64());
        assert!(p50.is_some_and(|v| v > 0.0) && p99 >= p50, "{sys}/rr: {rr}");
    }
    assert!(stdout.contains("UDP, max offered load"), "{stdout}");
}
