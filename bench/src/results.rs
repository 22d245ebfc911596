//! Results of `rvs-bench --method ndr` (RFC 2544 / RFC 9004) and their renderings: text
//! tables, JSON, CSV, an SVG chart with error bars, and `rvs-bench compare A.json B.json`.
//!
//! An [`RfcRow`] is one system × deployment × frame size × flow count × test (NDR, PDR,
//! latency at a fraction of PDR, back-to-back). Its figures are named as VSPERF names them
//! where VSPERF has a name (`tx_rate_fps`, `throughput_rx_fps`, `frame_loss_percent`,
//! `min_latency_ns`, `b2b_frames`, …) and hold one value per run; with `--repeat N` rows of
//! the same case are merged, and every figure is reported as its median with min, max and
//! spread = (max − min) / median. In JSON the VSPERF-named field is the median (a number, as
//! VSPERF writes it) and `repeats` holds min / median / max / spread / values per figure.
//!
//! Invariants: a row's figures all come from runs that succeeded; a run that failed adds its
//! reason to `failures` and no figure; a row with no successful run has status `n/a`.

use crate::report::{self, Bars};
use crate::stats::{self, Spread};
use crate::systems::Deployment;
use hdrhistogram::Histogram;
use serde_json::{json, Map, Value};
use std::fmt::Write as _;
use std::path::Path;

/// Offered rate of the reported trial as achieved by the generator, frames/s (VSPERF).
pub const TX_RATE_FPS: &str = "tx_rate_fps";
/// The rate the reported trial asked the generator for, frames/s (rvs; `tx_rate_fps` is
/// within 1 % of it, or the trial would have been refused).
pub const TX_TARGET_FPS: &str = "tx_target_fps";
/// Received rate of the reported trial, frames/s (VSPERF).
pub const THROUGHPUT_RX_FPS: &str = "throughput_rx_fps";
/// Received rate as % of the generator's ceiling (`direct`, same frame size) (VSPERF: % of
/// line rate).
pub const THROUGHPUT_RX_PERCENT: &str = "throughput_rx_percent";
/// Received L2 megabits/s (frame bytes without FCS) (VSPERF).
pub const THROUGHPUT_RX_MBPS: &str = "throughput_rx_mbps";
/// Loss of the reported trial, % (VSPERF).
pub const FRAME_LOSS_PERCENT: &str = "frame_loss_percent";
/// CPU ns per received frame above the `direct` baseline (rvs).
pub const CPU_NS_PER_PKT: &str = "cpu_ns_per_pkt";
/// CPU cores busy above the `direct` baseline during the reported trial (rvs).
pub const CORES_USED: &str = "cores_used";
/// CPU cores of the pvp VM relay during the reported trial (rvs).
pub const VM_CORES_USED: &str = "vm_cores_used";
/// Trials the search ran, verification and refused ones included (rvs).
pub const TRIALS: &str = "trials";
/// Trials refused because the generator missed its target by more than 1 % (rvs).
pub const REFUSED_TRIALS: &str = "refused_trials";
/// 1 when the reported load passed a final-duration verification trial (rvs).
pub const VERIFIED: &str = "verified";
/// Lowest load that failed, the search's upper bound (rvs).
pub const UPPER_BOUND: &str = "search_upper_bound";
/// Received frames/s at maximum offered load, the search's first trial (rvs).
pub const MAX_LOAD_RX_FPS: &str = "max_load_rx_fps";
/// The generator's ceiling at the end of the search, frames/s (rvs).
pub const GENERATOR_CEILING_FPS: &str = "generator_ceiling_fps";
/// Longest burst the back-to-back search tried, frames (rvs).
pub const B2B_MAX_FRAMES: &str = "b2b_max_frames";
/// Longest burst forwarded without loss, frames (VSPERF).
pub const B2B_FRAMES: &str = "b2b_frames";
/// Rate at which that burst was sent, frames/s (VSPERF).
pub const B2B_TX_FPS: &str = "b2b_tx_fps";
/// Loss of the verification burst, % (VSPERF).
pub const B2B_FRAME_LOSS_PERCENT: &str = "b2b_frame_loss_percent";
/// Probes sent during a latency trial (rvs).
pub const PROBES: &str = "probes";
/// Probes without a reply (rvs).
pub const PROBES_LOST: &str = "probes_lost";

/// Which loss threshold a throughput row searched for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Criterion {
    /// No loss.
    Ndr,
    /// Loss ≤ `--pdr-loss`.
    Pdr,
}

impl Criterion {
    /// `ndr` or `pdr`.
    pub fn name(self) -> &'static str {
        match self {
            Criterion::Ndr => "ndr",
            Criterion::Pdr => "pdr",
        }
    }
}

/// What a row measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Test {
    /// RFC 2544 throughput: the highest rate within a loss threshold.
    Throughput(Criterion),
    /// Latency under load: probes while the generator offers a fraction of the PDR rate.
    Latency {
        /// The background load, % of this run's PDR rate.
        percent_of_pdr: u32,
    },
    /// RFC 2544 back-to-back: the longest burst at full speed with no loss.
    BackToBack,
}

impl Test {
    /// VSPERF's `traffic_type`.
    pub fn traffic_type(self) -> &'static str {
        match self {
            Test::Throughput(_) => "rfc2544_throughput",
            Test::Latency { .. } => "rfc2544_continuous",
            Test::BackToBack => "rfc2544_back2back",
        }
    }
}

/// One system × deployment × frame size × flows × test, over one or more runs.
#[derive(Debug, Clone)]
pub struct RfcRow {
    /// System name.
    pub system: &'static str,
    /// Topology.
    pub deployment: Deployment,
    /// What was measured.
    pub test: Test,
    /// Frame length without FCS.
    pub packet_size: usize,
    /// MAC pairs the generator cycles through.
    pub flows: usize,
    /// Runs merged into this row (failed ones included).
    pub runs: usize,
    /// Why runs failed.
    pub failures: Vec<String>,
    /// Figure name → one value per successful run.
    pub metrics: Vec<(&'static str, Vec<f64>)>,
    /// Remarks, each with the number of runs that made it (e.g. "generator-limited").
    pub notes: Vec<(String, usize)>,
    /// Round-trip times of every run (latency rows).
    pub histogram: Option<Histogram<u64>>,
}

impl RfcRow {
    /// A row for one run, no figures yet.
    pub fn new(
        system: &'static str,
        deployment: Deployment,
        test: Test,
        packet_size: usize,
        flows: usize,
    ) -> RfcRow {
        RfcRow {
            system,
            deployment,
            test,
            packet_size,
            flows,
            runs: 1,
            failures: vec![],
            metrics: vec![],
            notes: vec![],
            histogram: None,
        }
    }

    /// A run of this row that failed, and why.
    pub fn failed(mut self, why: &str) -> RfcRow {
        self.failures.push(why.to_string());
        self
    }

    /// Record figure `name` of this run (non-finite values are dropped).
    pub fn set(&mut self, name: &'static str, v: f64) {
        if !v.is_finite() {
            return;
        }
        match self.metrics.iter_mut().find(|(n, _)| *n == name) {
            Some((_, vals)) => vals.push(v),
            None => self.metrics.push((name, vec![v])),
        }
    }

    /// Add a remark for this run (once).
    pub fn note(&mut self, s: &str) {
        if !self.notes.iter().any(|(n, _)| n == s) {
            self.notes.push((s.to_string(), 1));
        }
    }

    /// The remarks as text, "(k of n runs)" appended when the row has several runs.
    pub fn notes_text(&self) -> Vec<String> {
        self.notes
            .iter()
            .map(|(n, k)| {
                if self.runs > 1 {
                    format!("{n} ({k} of {} runs)", self.runs)
                } else {
                    n.clone()
                }
            })
            .collect()
    }

    /// Whether `o` is the same case (so runs merge).
    pub fn same_case(&self, o: &RfcRow) -> bool {
        (
            self.system,
            self.deployment,
            self.test,
            self.packet_size,
            self.flows,
        ) == (o.system, o.deployment, o.test, o.packet_size, o.flows)
    }

    /// Fold another run of the same case into this row.
    pub fn merge(&mut self, o: RfcRow) {
        self.runs += o.runs;
        self.failures.extend(o.failures);
        for (name, vals) in o.metrics {
            for v in vals {
                self.set(name, v);
            }
        }
        for (n, k) in o.notes {
            match self.notes.iter_mut().find(|(m, _)| *m == n) {
                Some((_, c)) => *c += k,
                None => self.notes.push((n, k)),
            }
        }
        match (&mut self.histogram, o.histogram) {
            (Some(h), Some(oh)) => {
                // Same bounds by construction (stats::latency_histogram), so add cannot fail.
                let _ = h.add(&oh);
            }
            (h @ None, oh) => *h = oh,
            _ => {}
        }
    }

    /// The values of figure `name`.
    pub fn values(&self, name: &str) -> &[f64] {
        self.metrics
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(&[], |(_, v)| v.as_slice())
    }

    /// Min / median / max of figure `name`.
    pub fn spread(&self, name: &str) -> Option<Spread> {
        Spread::of(self.values(name))
    }

    /// True when at least one run produced figures.
    pub fn ok(&self) -> bool {
        !self.metrics.is_empty()
    }

    /// The row as a JSON object (see the module doc).
    pub fn to_json(&self) -> Value {
        let mut o = Map::new();
        let (criterion, load) = match self.test {
            Test::Throughput(c) => (Some(c.name()), None),
            Test::Latency { percent_of_pdr } => (None, Some(percent_of_pdr)),
            Test::BackToBack => (None, None),
        };
        o.insert("system".into(), json!(self.system));
        o.insert("deployment".into(), json!(self.deployment.name()));
        o.insert("traffic_type".into(), json!(self.test.traffic_type()));
        o.insert("criterion".into(), json!(criterion));
        o.insert("load_percent_of_pdr".into(), json!(load));
        o.insert("packet_size".into(), json!(self.packet_size));
        o.insert("flows".into(), json!(self.flows));
        o.insert("status".into(), json!(if self.ok() { "ok" } else { "n/a" }));
        o.insert(
            "reason".into(),
            json!((!self.failures.is_empty()).then(|| self.failures.join("; "))),
        );
        o.insert("runs".into(), json!(self.runs));
        let mut rep = Map::new();
        for (name, vals) in &self.metrics {
            if let Some(s) = Spread::of(vals) {
                o.insert((*name).into(), json!(s.median));
                rep.insert((*name).into(), s.to_json(vals));
            }
        }
        o.insert("repeats".into(), Value::Object(rep));
        o.insert("notes".into(), json!(self.notes_text()));
        if let Some(h) = &self.histogram {
            o.insert("histogram".into(), stats::histogram_json(h));
        }
        Value::Object(o)
    }
}

/// Merge the runs of each case into one row, keeping the order in which cases first appear.
pub fn merge_runs(rows: Vec<RfcRow>) -> Vec<RfcRow> {
    let mut out: Vec<RfcRow> = vec![];
    for r in rows {
        match out.iter_mut().find(|o| o.same_case(&r)) {
            Some(o) => o.merge(r),
            None => out.push(r),
        }
    }
    out
}

/// The whole run as a JSON document: `meta` with a `results` array.
pub fn to_json(meta: Value, rows: &[RfcRow]) -> Value {
    let mut v = meta;
    v["results"] = Value::Array(rows.iter().map(RfcRow::to_json).collect());
    v
}

/// A figure as "median (min–max, spread %)", or just the value for one run; `scale`
/// divides, `prec` decimals.
fn fmt_spread(s: Option<Spread>, scale: f64, prec: usize) -> String {
    match s {
        None => "-".into(),
        Some(s) if s.n == 1 || s.min == s.max => format!("{:.prec$}", s.median / scale),
        Some(s) => format!(
            "{:.prec$} ({:.prec$}–{:.prec$}, {})",
            s.median / scale,
            s.min / scale,
            s.max / scale,
            s.relative()
                .map_or("-".into(), |r| format!("{:.1}%", r * 100.0))
        ),
    }
}

fn median(r: &RfcRow, name: &str, scale: f64, prec: usize) -> String {
    r.spread(name)
        .map_or("-".into(), |s| format!("{:.prec$}", s.median / scale))
}

fn case_label(r: &RfcRow) -> String {
    format!("{} {}B {}f", r.deployment.name(), r.packet_size, r.flows)
}

/// Start a table section listing the rows `pick` selects: a title line and a header line.
/// Returns the rows (none: no section is written).
fn section<'a>(
    s: &mut String,
    rows: &'a [RfcRow],
    pick: impl Fn(&RfcRow) -> bool,
    title: &str,
    header: &str,
) -> Vec<&'a RfcRow> {
    let v: Vec<&RfcRow> = rows.iter().filter(|r| pick(r)).collect();
    if !v.is_empty() {
        let _ = writeln!(s, "\n{title}\n{header}");
    }
    v
}

/// Start a table line with the row's case, system and `extra`; for a row with no figures,
/// finish it with the reason and return false.
fn line_start(s: &mut String, r: &RfcRow, extra: &str) -> bool {
    let _ = write!(s, "{:<22} {:<13} {extra}", case_label(r), r.system);
    if !r.ok() {
        let _ = writeln!(s, "n/a ({})", r.failures.join("; "));
    }
    r.ok()
}

fn test_label(t: Test) -> String {
    match t {
        Test::Throughput(c) => c.name().to_string(),
        Test::Latency { percent_of_pdr } => format!("latency {percent_of_pdr}%"),
        Test::BackToBack => "b2b".into(),
    }
}

/// The text tables: throughput (NDR and PDR side by side), latency under load,
/// back-to-back, then the rows' notes. `header` states the method's parameters.
pub fn tables(rows: &[RfcRow], header: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{header}");
    let find = |r: &RfcRow, t: Test| {
        rows.iter().find(|o| {
            (o.system, o.deployment, o.packet_size, o.flows, o.test)
                == (r.system, r.deployment, r.packet_size, r.flows, t)
        })
    };
    let ndr = section(
        &mut s,
        rows,
        |r| r.test == Test::Throughput(Criterion::Ndr),
        "RFC 2544 throughput: Mpps of the verification trial, median (min–max, spread) over runs",
        &format!(
            "{:<22} {:<13} {:<30} {:<30} {:>7} {:>11} {:>11} {:>6} {:>6}",
            "case",
            "system",
            "NDR Mpps",
            "PDR Mpps",
            "NDR %",
            "loss N/P %",
            "CPU ns/pkt",
            "cores",
            "trials"
        ),
    );
    for r in ndr {
        if !line_start(&mut s, r, "") {
            continue;
        }
        let pdr = find(r, Test::Throughput(Criterion::Pdr));
        let pdr_mpps = pdr.map_or("-".into(), |p| {
            fmt_spread(p.spread(THROUGHPUT_RX_FPS), 1e6, 3)
        });
        let loss = format!(
            "{}/{}",
            median(r, FRAME_LOSS_PERCENT, 1.0, 2),
            pdr.map_or("-".into(), |p| median(p, FRAME_LOSS_PERCENT, 1.0, 2))
        );
        let trials: f64 = [Some(r), pdr]
            .into_iter()
            .flatten()
            .filter_map(|x| x.spread(TRIALS).map(|t| t.median))
            .sum();
        let _ = writeln!(
            s,
            "{:<30} {:<30} {:>7} {:>11} {:>11} {:>6} {:>6.0}",
            fmt_spread(r.spread(THROUGHPUT_RX_FPS), 1e6, 3),
            pdr_mpps,
            median(r, THROUGHPUT_RX_PERCENT, 1.0, 0),
            loss,
            median(r, CPU_NS_PER_PKT, 1.0, 0),
            median(r, CORES_USED, 1.0, 2),
            trials
        );
    }
    let lat = section(
        &mut s,
        rows,
        |r| matches!(r.test, Test::Latency { .. }),
        "Latency under load: UDP probe round trips (µs, median over runs) with the generator at a % of PDR",
        &format!(
            "{:<22} {:<13} {:>5} {:>9} {:>8} {:>8} {:>8} {:>9} {:>7} {:>7}",
            "case", "system", "load", "Mpps", "p50", "p99", "p99.9", "max", "loss %", "probes"
        ),
    );
    for r in lat {
        let Test::Latency { percent_of_pdr } = r.test else {
            continue;
        };
        if !line_start(&mut s, r, &format!("{percent_of_pdr:>4}% ")) {
            continue;
        }
        let _ = writeln!(
            s,
            "{:>9} {:>8} {:>8} {:>8} {:>9} {:>7} {:>7}",
            median(r, TX_RATE_FPS, 1e6, 3),
            median(r, "p50_latency_ns", 1e3, 1),
            median(r, "p99_latency_ns", 1e3, 1),
            median(r, "p99_9_latency_ns", 1e3, 1),
            median(r, "max_latency_ns", 1e3, 0),
            median(r, FRAME_LOSS_PERCENT, 1.0, 2),
            median(r, PROBES, 1.0, 0)
        );
    }
    let b2b = section(
        &mut s,
        rows,
        |r| r.test == Test::BackToBack,
        "Back-to-back: longest burst at the generator's full speed forwarded with no loss",
        &format!(
            "{:<22} {:<13} {:<36} {:>11}",
            "case", "system", "b2b frames", "burst Mpps"
        ),
    );
    for r in b2b {
        if line_start(&mut s, r, "") {
            let _ = writeln!(
                s,
                "{:<36} {:>11}",
                fmt_spread(r.spread(B2B_FRAMES), 1.0, 0),
                median(r, B2B_TX_FPS, 1e6, 3)
            );
        }
    }
    let notes: Vec<String> = rows
        .iter()
        .flat_map(|r| {
            r.notes_text()
                .into_iter()
                .map(move |n| format!("{} {} {}: {n}", r.system, case_label(r), test_label(r.test)))
        })
        .collect();
    if !notes.is_empty() {
        let _ = writeln!(s, "\nNotes:");
        for n in notes {
            let _ = writeln!(s, "- {n}");
        }
    }
    s
}

/// Figures in CSV column order: every name that occurs, in order of first appearance.
fn metric_names(rows: &[RfcRow]) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = vec![];
    for (n, _) in rows.iter().flat_map(|r| &r.metrics) {
        if !names.contains(n) {
            names.push(n);
        }
    }
    names
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The rows as CSV: identity columns, then per figure its median, min and max.
pub fn csv(rows: &[RfcRow]) -> String {
    let names = metric_names(rows);
    let mut s = String::from(
        "system,deployment,traffic_type,criterion,load_percent_of_pdr,packet_size,flows,status,runs",
    );
    for n in &names {
        let _ = write!(s, ",{n},{n}_min,{n}_max");
    }
    s.push_str(",notes,reason\n");
    for r in rows {
        let j = r.to_json();
        let text = |k: &str| match &j[k] {
            Value::Null => String::new(),
            Value::String(x) => x.clone(),
            v => v.to_string(),
        };
        let ids = [
            "system",
            "deployment",
            "traffic_type",
            "criterion",
            "load_percent_of_pdr",
            "packet_size",
            "flows",
            "status",
            "runs",
        ];
        let line: Vec<String> = ids.iter().map(|k| csv_field(&text(k))).collect();
        s.push_str(&line.join(","));
        for n in &names {
            match r.spread(n) {
                Some(sp) => {
                    let _ = write!(s, ",{},{},{}", sp.median, sp.min, sp.max);
                }
                None => s.push_str(",,,"),
            }
        }
        let _ = writeln!(
            s,
            ",{},{}",
            csv_field(&r.notes_text().join("; ")),
            csv_field(&r.failures.join("; "))
        );
    }
    s
}

/// The chart: NDR and PDR Mpps per case and system, bars at the median with min–max error
/// bars.
pub fn svg(rows: &[RfcRow], path: &Path, title: &str) -> Result<(), String> {
    let mut systems: Vec<&'static str> = vec![];
    let mut cases: Vec<(Deployment, usize, usize)> = vec![];
    for r in rows.iter().filter(|r| r.ok()) {
        if !systems.contains(&r.system) {
            systems.push(r.system);
        }
        let c = (r.deployment, r.packet_size, r.flows);
        if !cases.contains(&c) {
            cases.push(c);
        }
    }
    let labels: Vec<String> = cases
        .iter()
        .map(|(d, size, flows)| format!("{size}B {flows}f {}", d.name()))
        .collect();
    let (cases, systems) = (&cases, &systems);
    let get = |crit: Criterion| {
        move |si: usize, ci: usize| -> Option<(f64, f64, f64)> {
            let (d, size, flows) = cases[ci];
            let s = rows
                .iter()
                .find(|r| {
                    (r.system, r.deployment, r.packet_size, r.flows, r.test)
                        == (systems[si], d, size, flows, Test::Throughput(crit))
                })?
                .spread(THROUGHPUT_RX_FPS)?;
            Some((s.median / 1e6, s.min / 1e6, s.max / 1e6))
        }
    };
    let ndr = get(Criterion::Ndr);
    let pdr = get(Criterion::Pdr);
    report::bar_chart(
        path,
        title,
        &[
            Bars {
                caption: "NDR Mpps (loss 0): median, min–max over runs",
                labels: &labels,
                systems,
                value: &ndr,
            },
            Bars {
                caption: "PDR Mpps: median, min–max over runs",
                labels: &labels,
                systems,
                value: &pdr,
            },
        ],
    )
}

/// Identity fields of a result row of either method, in key order.
const KEY_FIELDS: [&str; 8] = [
    "system",
    "deployment",
    "case",
    "traffic_type",
    "criterion",
    "load_percent_of_pdr",
    "packet_size",
    "flows",
];

/// Figures `compare` reports, where a row has them: RFC 2544 rows, then max-load rows.
const COMPARED: [&str; 10] = [
    THROUGHPUT_RX_FPS,
    CPU_NS_PER_PKT,
    "p50_latency_ns",
    "p99_latency_ns",
    "p99_9_latency_ns",
    B2B_FRAMES,
    "delivered_pps",
    "delivered_gbps",
    "p50_us",
    "p99_us",
];

fn row_key(v: &Value) -> String {
    KEY_FIELDS
        .iter()
        .filter_map(|k| match &v[*k] {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            x => Some(x.to_string()),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A figure of a result row: its spread from `repeats`, or a single value.
fn figure(v: &Value, name: &str) -> Option<(Spread, usize)> {
    if let Some(r) = v["repeats"].get(name) {
        let vals: Vec<f64> = r["values"]
            .as_array()?
            .iter()
            .filter_map(Value::as_f64)
            .collect();
        return Spread::of(&vals).map(|s| (s, vals.len()));
    }
    let x = v[name].as_f64()?;
    Spread::of(&[x]).map(|s| (s, 1))
}

fn human(x: f64) -> String {
    let a = x.abs();
    if a >= 1e6 {
        format!("{:.3}M", x / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", x / 1e3)
    } else {
        format!("{x:.2}")
    }
}

fn fmt_fig((s, n): (Spread, usize)) -> String {
    if n < 2 {
        return human(s.median);
    }
    format!(
        "{} ({}–{}, {})",
        human(s.median),
        human(s.min),
        human(s.max),
        s.relative()
            .map_or("-".into(), |r| format!("{:.1}%", r * 100.0))
    )
}

/// Per-row ratios B/A of the main figures of two `rvs-bench --json` documents (either
/// method), with each side's spread; "changed" when both sides have several runs and their
/// min–max ranges do not overlap, "within spread" when they do, "one run" otherwise. Rows
/// only one side has are listed as such.
pub fn compare(a: &Value, b: &Value) -> Result<String, String> {
    let rows = |v: &Value, which: &str| -> Result<Vec<Value>, String> {
        v["results"]
            .as_array()
            .cloned()
            .ok_or_else(|| format!("{which}: no \"results\" array (not an rvs-bench JSON file)"))
    };
    let (ra, rb) = (rows(a, "A")?, rows(b, "B")?);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "B/A per figure; A and B as median (min–max, spread) over runs; \"changed\" when the ranges do not overlap"
    );
    let _ = writeln!(
        s,
        "{:<44} {:<18} {:<32} {:<32} {:>7}  verdict",
        "row", "figure", "A", "B", "B/A"
    );
    let mut only_a = vec![];
    for x in &ra {
        let key = row_key(x);
        let Some(y) = rb.iter().find(|y| row_key(y) == key) else {
            only_a.push(key);
            continue;
        };
        for name in COMPARED {
            let (Some(fa), Some(fb)) = (figure(x, name), figure(y, name)) else {
                continue;
            };
            let ratio = if fa.0.median != 0.0 {
                format!("{:.3}", fb.0.median / fa.0.median)
            } else {
                "-".into()
            };
            let verdict = if fa.1 < 2 || fb.1 < 2 {
                "one run"
            } else if fa.0.overlaps(&fb.0) {
                "within spread"
            } else {
                "changed"
            };
            let _ = writeln!(
                s,
                "{:<44} {:<18} {:<32} {:<32} {:>7}  {verdict}",
                key,
                name,
                fmt_fig(fa),
                fmt_fig(fb),
                ratio
            );
        }
    }
    let only_b: Vec<String> = rb
        .iter()
        .map(row_key)
        .filter(|k| !ra.iter().any(|x| row_key(x) == *k))
        .collect();
    for (which, keys) in [("A", only_a), ("B", only_b)] {
        for k in keys {
            let _ = writeln!(s, "only in {which}: {k}");
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(sys: &'static str, test: Test, fps: f64) -> RfcRow {
        let mut r = RfcRow::new(sys, Deployment::Container, test, 64, 1);
        r.set(THROUGHPUT_RX_FPS, fps);
        r.set(TX_RATE_FPS, fps);
        r.set(FRAME_LOSS_PERCENT, 0.0);
        r.set(TRIALS, 7.0);
        r
    }

    fn sample() -> Vec<RfcRow> {
        let ndr = Test::Throughput(Criterion::Ndr);
        let pdr = Test::Throughput(Criterion::Pdr);
        let mut lat = RfcRow::new(
            "rvs",
            Deployment::Container,
            Test::Latency { percent_of_pdr: 50 },
            64,
            1,
        );
        let mut h = stats::latency_histogram();
        stats::record_latency(&mut h, 40_000);
        stats::record_latency(&mut h, 60_000);
        for (k, v) in stats::latency_figures(&h) {
            lat.set(k, v);
        }
        lat.histogram = Some(h);
        let mut limited = run("rvs", ndr, 400_000.0);
        limited.note("generator-limited");
        limited.note("generator-limited");
        merge_runs(vec![
            limited,
            run("rvs", pdr, 450_000.0),
            run("rvs", ndr, 420_000.0),
            RfcRow::new("rvs", Deployment::Container, ndr, 64, 1).failed("switch process died"),
            run("rvs", ndr, 410_000.0),
            RfcRow::new("ovs", Deployment::Pvp, ndr, 64, 1).failed("not installed"),
            lat,
        ])
    }

    #[test]
    fn runs_merge_into_min_median_max() {
        let rows = sample();
        assert_eq!(rows.len(), 4);
        let r = &rows[0];
        assert_eq!(r.runs, 4);
        assert_eq!(r.failures, vec!["switch process died".to_string()]);
        let s = r.spread(THROUGHPUT_RX_FPS).unwrap();
        assert_eq!(
            (s.min, s.median, s.max, s.n),
            (400_000.0, 410_000.0, 420_000.0, 3)
        );
        let j = r.to_json();
        assert_eq!(j["throughput_rx_fps"], 410_000.0);
        assert_eq!(j["repeats"]["throughput_rx_fps"]["max"], 420_000.0);
        assert_eq!(j["traffic_type"], "rfc2544_throughput");
        assert_eq!(j["criterion"], "ndr");
        assert_eq!(j["status"], "ok");
        assert_eq!(rows[2].to_json()["status"], "n/a");
        assert_eq!(rows[3].to_json()["histogram"]["count"], 2);
        assert_eq!(j["notes"][0], "generator-limited (1 of 4 runs)");
        assert_eq!(rows[1].to_json()["notes"], json!([]));
    }

    #[test]
    fn tables_and_csv_show_every_row() {
        let rows = sample();
        let t = tables(&rows, "head");
        assert!(t.contains("0.410 (0.400–0.420, 4.9%)"), "{t}");
        assert!(t.contains("0.450"), "{t}");
        assert!(t.contains("n/a (not installed)"), "{t}");
        assert!(t.contains("Latency under load"), "{t}");
        let c = csv(&rows);
        let lines: Vec<&str> = c.lines().collect();
        assert_eq!(lines.len(), 5);
        assert!(lines[0].starts_with("system,deployment,traffic_type,criterion"));
        assert!(
            lines[0].contains(",throughput_rx_fps,throughput_rx_fps_min,throughput_rx_fps_max,")
        );
        assert!(lines[1].contains(",410000,400000,420000,"), "{}", lines[1]);
        let cols = lines[0].split(',').count();
        for l in &lines[1..] {
            assert_eq!(l.split(',').count(), cols, "{l}");
        }
    }

    #[test]
    fn compare_reports_ratios_and_verdicts() {
        let a = to_json(json!({}), &sample());
        let mut faster = sample();
        for v in &mut faster[0].metrics {
            if v.0 == THROUGHPUT_RX_FPS {
                v.1 = vec![500_000.0, 510_000.0, 505_000.0];
            }
        }
        faster.pop();
        let b = to_json(json!({}), &faster);
        let out = compare(&a, &b).unwrap();
        let line = out
            .lines()
            .find(|l| {
                l.contains("rvs container rfc2544_throughput ndr")
                    && l.contains("throughput_rx_fps")
            })
            .unwrap_or_else(|| panic!("{out}"));
        assert!(
            line.contains("1.232") && line.ends_with("changed"),
            "{line}"
        );
        assert!(
            out.contains("only in A: rvs container rfc2544_continuous 50 64 1"),
            "{out}"
        );
        assert!(compare(&json!({}), &b)
            .unwrap_err()
            .contains("no \"results\""));
    }

    #[test]
    fn svg_has_error_bars() {
        let s = report::written_svg(|p| svg(&sample(), p, "t"));
        assert!(
            s.contains("64B 1f container") && s.contains("NDR Mpps"),
            "{s}"
        );
    }
}
