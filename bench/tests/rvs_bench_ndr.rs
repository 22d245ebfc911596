//! Proves `rvs-bench --method ndr` end to end (root only): a quick RFC 2544 run
//! (`--quick --sizes 64`) on rvs and the Linux bridge in the container deployment, and on
//! rvs through the pvp VM relay, writing JSON and CSV. Checks that every throughput row was
//! verified, that its verification trial has the loss it states (0 for NDR, at most
//! `--pdr-loss` for PDR) and a received rate equal to the offered one less that loss, that
//! latency rows carry percentiles and a histogram, that back-to-back found a burst, and that
//! the CSV has VSPERF's column names. Not a timed test: no rate is compared with a threshold
//! beyond "> 0".
//!
//! Like `rvs_bench_quick`, it needs `rvsd` and rvs's `ovs-vsctl` next to the rvs-bench
//! binary (`cargo build --workspace --bins` first); their absence is a failure.

mod support;

#[test]
fn quick_ndr_run_verifies_its_rates() {
    if rvs_testkit::skip_unless_tools("rvs_bench_ndr", &["ip", "ping"]) {
        return;
    }
    support::require_daemons();
    let pdr_loss = 0.5;
    let pdr = pdr_loss.to_string();
    let args = [
        "--quick",
        "--method",
        "ndr",
        "--sizes",
        "64",
        "--only",
        "rvs,linux-bridge",
        "--deployment",
        "container,pvp",
        "--pdr-loss",
        &pdr,
    ];
    let (stdout, files) = support::run(
        "rvs-bench-ndr",
        &args,
        &[("--json", "json"), ("--csv", "csv")],
    );
    let (text, table) = (&files[0], &files[1]);
    let v: serde_json::Value = serde_json::from_str(text).expect("valid JSON");
    assert_eq!(v["method"], "ndr");
    assert_eq!(v["pdr_loss_percent"], pdr_loss);
    assert_eq!(v["ndr_loss_percent"], 0.0);
    let rows = v["results"].as_array().expect("results array");
    let find = |sys: &str, dep: &str, tt: &str, crit: Option<&str>, load: Option<u64>| {
        rows.iter()
            .find(|r| {
                r["system"] == sys
                    && r["deployment"] == dep
                    && r["traffic_type"] == tt
                    && r["packet_size"] == 64
                    && r["criterion"].as_str() == crit
                    && r["load_percent_of_pdr"].as_u64() == load
            })
            .unwrap_or_else(|| panic!("no row {sys}/{dep}/{tt}/{crit:?}/{load:?} in:\n{text}"))
    };
    let cases = [
        ("direct", "container"),
        ("rvs", "container"),
        ("linux-bridge", "container"),
        ("rvs", "pvp"),
    ];
    for (sys, dep) in cases {
        let ctx = format!("{sys}/{dep}");
        for (crit, max_loss) in [("ndr", 0.0), ("pdr", pdr_loss)] {
            let r = find(sys, dep, "rfc2544_throughput", Some(crit), None);
            assert_eq!(r["status"], "ok", "{ctx} {crit}: {r}\n{stdout}");
            assert_eq!(
                r["verified"], 1.0,
                "{ctx} {crit} not verified: {r}\n{stdout}"
            );
            let loss = r["frame_loss_percent"].as_f64().expect("loss");
            assert!(
                loss <= max_loss,
                "{ctx} {crit}: verification lost {loss} % > {max_loss} %: {r}"
            );
            let tx = r["tx_rate_fps"].as_f64().unwrap_or(0.0);
            let rx = r["throughput_rx_fps"].as_f64().unwrap_or(0.0);
            assert!(rx > 0.0 && tx > 0.0, "{ctx} {crit}: {r}");
            // The reported received rate is the offered one minus the stated loss.
            let expect = tx * (1.0 - loss / 100.0);
            assert!(
                (rx - expect).abs() <= expect * 0.01,
                "{ctx} {crit}: rx {rx} vs tx {tx} with loss {loss} %: {r}"
            );
            if crit == "ndr" {
                // At least the max-load trial and a verification (PDR's search starts from
                // NDR's trials and may need none of its own).
                assert!(r["trials"].as_f64().unwrap_or(0.0) >= 2.0, "{ctx}: {r}");
            }
            assert!(r["cpu_ns_per_pkt"].as_f64().is_some(), "{ctx}: {r}");
        }
        let ndr = find(sys, dep, "rfc2544_throughput", Some("ndr"), None)["throughput_rx_fps"]
            .as_f64()
            .unwrap_or(0.0);
        let pdr = find(sys, dep, "rfc2544_throughput", Some("pdr"), None)["throughput_rx_fps"]
            .as_f64()
            .unwrap_or(0.0);
        // PDR ≥ NDR up to noise between their two verification trials.
        assert!(pdr >= ndr * 0.9, "{ctx}: PDR {pdr} well below NDR {ndr}");
        for load in [10, 50, 90] {
            let r = find(sys, dep, "rfc2544_continuous", None, Some(load));
            assert_eq!(r["status"], "ok", "{ctx} latency {load}%: {r}\n{stdout}");
            let (p50, p99, max) = (
                r["p50_latency_ns"].as_f64().unwrap_or(0.0),
                r["p99_latency_ns"].as_f64().unwrap_or(0.0),
                r["max_latency_ns"].as_f64().unwrap_or(0.0),
            );
            assert!(p50 > 0.0 && p99 >= p50 && max >= p99, "{ctx} {load}%: {r}");
            let hist = &r["histogram"];
            assert!(
                hist["count"].as_u64().unwrap_or(0) > 0
                    && !hist["buckets"].as_array().unwrap_or(&vec![]).is_empty(),
                "{ctx} {load}%: no histogram: {r}"
            );
        }
        let b = find(sys, dep, "rfc2544_back2back", None, None);
        assert_eq!(b["status"], "ok", "{ctx} b2b: {b}\n{stdout}");
        assert!(
            b["b2b_frames"].as_f64().unwrap_or(0.0) >= 64.0,
            "{ctx}: {b}"
        );
        assert_eq!(b["b2b_frame_loss_percent"], 0.0, "{ctx}: {b}");
    }
    let pvp = find("rvs", "pvp", "rfc2544_throughput", Some("ndr"), None);
    assert!(
        pvp["vm_cores_used"].as_f64().unwrap_or(0.0) > 0.0,
        "the VM relay did the work: {pvp}"
    );
    let header = table.lines().next().unwrap_or_default();
    for col in [
        "packet_size",
        "deployment",
        "traffic_type",
        "tx_rate_fps",
        "throughput_rx_fps",
        "throughput_rx_percent",
        "frame_loss_percent",
        "min_latency_ns",
        "avg_latency_ns",
        "max_latency_ns",
        "b2b_frames",
    ] {
        assert!(
            header.split(',').any(|c| c == col),
            "CSV has no {col}: {header}"
        );
    }
    assert!(stdout.contains("RFC 2544 throughput"), "{stdout}");
}
