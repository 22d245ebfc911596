//! Results of `rvs-bench` and their three renderings: text tables for people, JSON for
//! machines, and an SVG bar chart (plotters) of delivered Mpps and Gbit/s per system and case.
//!
//! A [`Row`] is one system × one case. Figures that do not apply to a case, or that could not
//! be measured, are `None` (`-` in tables, `null` in JSON); a system that could not be
//! measured at all has `na` set to the reason and no figures.

use plotters::coord::Shift;
use plotters::prelude::*;
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::Path;

/// What a case measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Raw UDP frames from the generator, counted at the sink.
    Udp {
        /// Ethernet frame length without FCS.
        size: usize,
        /// Number of MAC pairs the generator cycles through.
        flows: usize,
    },
    /// iperf3 TCP, default offloads.
    Tcp,
    /// UDP request/response ping-pong latency.
    Rr,
}

impl Kind {
    /// Stable case name: `udp-64B-1f`, `udp-1500B-1000f`, `tcp`, `rr`.
    pub fn name(self) -> String {
        match self {
            Kind::Udp { size, flows } => format!("udp-{size}B-{flows}f"),
            Kind::Tcp => "tcp".into(),
            Kind::Rr => "rr".into(),
        }
    }

    /// Human label for tables and the chart.
    pub fn label(self) -> String {
        match self {
            Kind::Udp { size, flows } => {
                format!("{size}B {flows} flow{}", if flows == 1 { "" } else { "s" })
            }
            Kind::Tcp => "TCP".into(),
            Kind::Rr => "UDP RR".into(),
        }
    }
}

/// One system × one case.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// System name.
    pub system: &'static str,
    /// The case.
    pub kind: Kind,
    /// Why the system/case could not be measured.
    pub na: Option<String>,
    /// Frames per second the generator pushed (UDP).
    pub offered_pps: Option<f64>,
    /// Frames per second the sink received (UDP).
    pub delivered_pps: Option<f64>,
    /// Offered Gbit/s (UDP: L2 bytes without FCS).
    pub offered_gbps: Option<f64>,
    /// Delivered Gbit/s (UDP: L2 bytes without FCS at the sink; TCP: iperf3 receiver goodput).
    pub gbps: Option<f64>,
    /// 1 − delivered/offered (UDP).
    pub loss: Option<f64>,
    /// Delivered pps (UDP), Gbit/s (TCP) or p50 latency (RR: ceiling/this) relative to the
    /// `direct` system in the same run.
    pub of_ceiling: Option<f64>,
    /// CPU ns per delivered packet, baseline subtracted (UDP); for `direct`, the baseline.
    pub cpu_ns_per_pkt: Option<f64>,
    /// CPU cores busy during TCP: switch processes + softirq threads + the iperf3 client and
    /// server (whose time includes the softirq work done in their context, e.g. bridging).
    pub cpu_cores: Option<f64>,
    /// Round-trip latency percentiles (RR), µs.
    pub p50_us: Option<f64>,
    /// 99th percentile (RR), µs.
    pub p99_us: Option<f64>,
    /// TCP retransmits (TCP) or unanswered requests (RR).
    pub retrans_or_lost: Option<u64>,
}

impl Row {
    /// A row with no figures yet.
    pub fn new(system: &'static str, kind: Kind) -> Row {
        Row {
            system,
            kind,
            na: None,
            offered_pps: None,
            delivered_pps: None,
            offered_gbps: None,
            gbps: None,
            loss: None,
            of_ceiling: None,
            cpu_ns_per_pkt: None,
            cpu_cores: None,
            p50_us: None,
            p99_us: None,
            retrans_or_lost: None,
        }
    }

    /// A row saying why it could not be measured.
    pub fn not_available(system: &'static str, kind: Kind, why: &str) -> Row {
        let mut r = Row::new(system, kind);
        r.na = Some(why.to_string());
        r
    }

    /// The row as a JSON object.
    pub fn to_json(&self) -> Value {
        let (size, flows) = match self.kind {
            Kind::Udp { size, flows } => (Some(size), Some(flows)),
            _ => (None, None),
        };
        json!({
            "system": self.system,
            "case": self.kind.name(),
            "kind": match self.kind { Kind::Udp{..} => "udp", Kind::Tcp => "tcp", Kind::Rr => "rr" },
            "frame_len": size,
            "flows": flows,
            "status": if self.na.is_some() { "n/a" } else { "ok" },
            "reason": self.na,
            "offered_pps": self.offered_pps,
            "delivered_pps": self.delivered_pps,
            "offered_gbps": self.offered_gbps,
            "delivered_gbps": self.gbps,
            "loss": self.loss,
            "of_ceiling": self.of_ceiling,
            "cpu_ns_per_pkt": self.cpu_ns_per_pkt,
            "cpu_cores": self.cpu_cores,
            "p50_us": self.p50_us,
            "p99_us": self.p99_us,
            "retransmits": if self.kind == Kind::Tcp { self.retrans_or_lost } else { None },
            "rr_lost": if self.kind == Kind::Rr { self.retrans_or_lost } else { None },
        })
    }
}

fn opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    match v {
        Some(x) if x.is_finite() => f(x),
        _ => "-".into(),
    }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn short(reason: &str) -> String {
    let one: String = reason.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > 100 {
        format!("{}…", one.chars().take(99).collect::<String>())
    } else {
        one
    }
}

/// The three tables (UDP throughput, TCP, latency) as text.
pub fn tables(rows: &[Row]) -> String {
    let mut s = String::new();
    let udp: Vec<&Row> = rows
        .iter()
        .filter(|r| matches!(r.kind, Kind::Udp { .. }))
        .collect();
    if !udp.is_empty() {
        let _ = writeln!(
            s,
            "UDP, max offered load (delivered = counted at the sink; ceiling = direct veth, no switch)"
        );
        let _ = writeln!(
            s,
            "{:<16} {:<13} {:>11} {:>11} {:>7} {:>8} {:>8} {:>11}",
            "case", "system", "offered", "delivered", "loss", "Gbit/s", "of ceil.", "CPU ns/pkt"
        );
        for r in udp {
            let _ = write!(s, "{:<16} {:<13} ", r.kind.label(), r.system);
            if let Some(na) = &r.na {
                let _ = writeln!(s, "n/a ({})", short(na));
                continue;
            }
            let mpps = |x: f64| format!("{:.3} Mpps", x / 1e6);
            let cpu = opt(r.cpu_ns_per_pkt, |x| format!("{x:.0}"))
                + if r.system == "direct" { "*" } else { "" };
            let _ = writeln!(
                s,
                "{:>11} {:>11} {:>7} {:>8} {:>8} {:>11}",
                opt(r.offered_pps, mpps),
                opt(r.delivered_pps, mpps),
                opt(r.loss, pct),
                opt(r.gbps, |x| format!("{x:.2}")),
                opt(r.of_ceiling, |x| format!("{:.0}%", x * 100.0)),
                cpu
            );
        }
        let _ = writeln!(
            s,
            "* direct: generator + sink cost per packet, the baseline subtracted from the other rows\n"
        );
    }
    let tcp: Vec<&Row> = rows.iter().filter(|r| r.kind == Kind::Tcp).collect();
    if !tcp.is_empty() {
        let _ = writeln!(
            s,
            "TCP, iperf3, default veth offloads (CPU cores: switch + softirq + iperf3 endpoints)"
        );
        let _ = writeln!(
            s,
            "{:<13} {:>8} {:>8} {:>8} {:>10}",
            "system", "Gbit/s", "of ceil.", "retrans", "CPU cores"
        );
        for r in tcp {
            let _ = write!(s, "{:<13} ", r.system);
            if let Some(na) = &r.na {
                let _ = writeln!(s, "n/a ({})", short(na));
                continue;
            }
            let _ = writeln!(
                s,
                "{:>8} {:>8} {:>8} {:>10}",
                opt(r.gbps, |x| format!("{x:.2}")),
                opt(r.of_ceiling, |x| format!("{:.0}%", x * 100.0)),
                r.retrans_or_lost.map_or("-".into(), |v| v.to_string()),
                opt(r.cpu_cores, |x| format!("{x:.2}"))
            );
        }
        let _ = writeln!(s);
    }
    let rr: Vec<&Row> = rows.iter().filter(|r| r.kind == Kind::Rr).collect();
    if !rr.is_empty() {
        let _ = writeln!(
            s,
            "Latency, UDP request/response ping-pong (one in flight, 18-byte payload)"
        );
        let _ = writeln!(
            s,
            "{:<13} {:>9} {:>9} {:>11} {:>6}",
            "system", "p50 µs", "p99 µs", "ceil./p50", "lost"
        );
        for r in rr {
            let _ = write!(s, "{:<13} ", r.system);
            if let Some(na) = &r.na {
                let _ = writeln!(s, "n/a ({})", short(na));
                continue;
            }
            let _ = writeln!(
                s,
                "{:>9} {:>9} {:>11} {:>6}",
                opt(r.p50_us, |x| format!("{x:.1}")),
                opt(r.p99_us, |x| format!("{x:.1}")),
                opt(r.of_ceiling, |x| format!("{:.0}%", x * 100.0)),
                r.retrans_or_lost.map_or("-".into(), |v| v.to_string())
            );
        }
    }
    s
}

/// The whole run as a JSON document.
pub fn to_json(meta: Value, rows: &[Row]) -> Value {
    let mut v = meta;
    v["results"] = Value::Array(rows.iter().map(Row::to_json).collect());
    v
}

/// Write the bar chart: delivered Mpps per UDP case (top) and Gbit/s per UDP case and TCP
/// (bottom), one bar per system.
pub fn svg(rows: &[Row], path: &Path, title: &str) -> Result<(), String> {
    let mut systems: Vec<&'static str> = vec![];
    for r in rows {
        if r.na.is_none() && !systems.contains(&r.system) {
            systems.push(r.system);
        }
    }
    let mut cases: Vec<Kind> = vec![];
    for r in rows {
        if !cases.contains(&r.kind) && r.kind != Kind::Rr {
            cases.push(r.kind);
        }
    }
    let udp: Vec<Kind> = cases
        .iter()
        .copied()
        .filter(|k| matches!(k, Kind::Udp { .. }))
        .collect();
    let get = |cases: &[Kind], si: usize, ci: usize, value: fn(&Row) -> Option<f64>| {
        let v = rows
            .iter()
            .find(|r| r.system == systems[si] && r.kind == cases[ci] && r.na.is_none())
            .and_then(value)?;
        Some((v, v, v))
    };
    let mpps = |si: usize, ci: usize| get(&udp, si, ci, |r| r.delivered_pps.map(|v| v / 1e6));
    let gbps = |si: usize, ci: usize| get(&cases, si, ci, |r| r.gbps);
    let udp_labels: Vec<String> = udp.iter().map(|k| k.label()).collect();
    let labels: Vec<String> = cases.iter().map(|k| k.label()).collect();
    bar_chart(
        path,
        title,
        &[
            Bars {
                caption: "delivered Mpps (UDP)",
                labels: &udp_labels,
                systems: &systems,
                value: &mpps,
            },
            Bars {
                caption: "delivered Gbit/s (UDP: L2 bytes; TCP: iperf3 goodput)",
                labels: &labels,
                systems: &systems,
                value: &gbps,
            },
        ],
    )
}

/// One panel of a bar chart: groups of bars (one group per label, one bar per system).
pub struct Bars<'a> {
    /// Panel caption.
    pub caption: &'a str,
    /// Group labels.
    pub labels: &'a [String],
    /// Bar series, in legend order.
    pub systems: &'a [&'static str],
    /// (system index, group index) → (bar height, error bar low, error bar high); no error
    /// bar is drawn when low = high.
    pub value: &'a dyn Fn(usize, usize) -> Option<(f64, f64, f64)>,
}

impl std::fmt::Debug for Bars<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bars")
            .field("caption", &self.caption)
            .finish()
    }
}

/// Write an SVG of `panels` stacked vertically under `title`.
pub fn bar_chart(path: &Path, title: &str, panels: &[Bars]) -> Result<(), String> {
    let root = SVGBackend::new(path, (1280, 480 * panels.len().max(1) as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let root = root
        .titled(title, ("sans-serif", 22))
        .map_err(|e| e.to_string())?;
    for (area, p) in root
        .split_evenly((panels.len().max(1), 1))
        .iter()
        .zip(panels)
    {
        panel(area, p)?;
    }
    root.present().map_err(|e| e.to_string())
}

fn panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, p: &Bars) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let get = |si: usize, ci: usize| {
        (p.value)(si, ci).filter(|(v, lo, hi)| v.is_finite() && lo.is_finite() && hi.is_finite())
    };
    let max = (0..p.labels.len())
        .flat_map(|ci| (0..p.systems.len()).filter_map(move |si| get(si, ci)))
        .fold(0.0f64, |m, (v, _, hi)| m.max(v).max(hi));
    let n = p.labels.len().max(1);
    let mut chart = ChartBuilder::on(area)
        .caption(p.caption, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..n as f64, 0f64..(max * 1.35).max(0.001))
        .map_err(err)?;
    // Key points fall on multiples of 0.5 with 2n+1 labels: name the group centres.
    let fmt = |x: &f64| {
        let i = x.floor();
        if (x - i - 0.5).abs() < 1e-9 {
            p.labels.get(i as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(2 * n + 1)
        .x_label_formatter(&fmt)
        .y_labels(8)
        .draw()
        .map_err(err)?;
    let slot = 0.8 / p.systems.len().max(1) as f64;
    for (si, &sys) in p.systems.iter().enumerate() {
        let color = Palette99::pick(si).to_rgba();
        let mut bars = vec![];
        let mut whiskers = vec![];
        for ci in 0..p.labels.len() {
            let Some((v, lo, hi)) = get(si, ci) else {
                continue;
            };
            let x0 = ci as f64 + 0.1 + si as f64 * slot;
            bars.push(Rectangle::new(
                [(x0, 0.0), (x0 + slot * 0.9, v)],
                color.filled(),
            ));
            if lo < hi {
                whiskers.push(ErrorBar::new_vertical(
                    x0 + slot * 0.45,
                    lo,
                    v,
                    hi,
                    BLACK.stroke_width(1),
                    6,
                ));
            }
        }
        if bars.is_empty() {
            continue; // no figure for this panel (e.g. a TCP-only system): no legend entry
        }
        chart
            .draw_series(bars)
            .map_err(err)?
            .label(sys)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
        chart.draw_series(whiskers).map_err(err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)
}

/// Test helper: the text `write` puts into a scratch SVG file (removed afterwards).
#[cfg(test)]
pub(crate) fn written_svg(write: impl FnOnce(&Path) -> Result<(), String>) -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let p = std::env::temp_dir().join(format!("rvs-bench-test-{}-{n}.svg", std::process::id()));
    write(&p).unwrap();
    let s = std::fs::read_to_string(&p).unwrap();
    let _ = std::fs::remove_file(&p);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Row> {
        let mut a = Row::new("direct", Kind::Udp { size: 64, flows: 1 });
        a.offered_pps = Some(2.0e6);
        a.delivered_pps = Some(1.9e6);
        a.gbps = Some(0.97);
        a.loss = Some(0.05);
        a.of_ceiling = Some(1.0);
        let mut b = a.clone();
        b.system = "rvs";
        b.of_ceiling = Some(0.5);
        let mut t = Row::new("rvs", Kind::Tcp);
        t.gbps = Some(8.0);
        let mut l = Row::new("rvs", Kind::Rr);
        l.p50_us = Some(20.0);
        l.p99_us = Some(40.0);
        vec![
            a,
            b,
            t,
            l,
            Row::not_available("ovs", Kind::Tcp, "ovs-vswitchd not installed"),
        ]
    }

    #[test]
    fn tables_and_json_have_every_row() {
        let rows = sample();
        let t = tables(&rows);
        assert!(
            t.contains("1.900 Mpps") && t.contains("8.00") && t.contains("20.0"),
            "{t}"
        );
        assert!(t.contains("n/a (ovs-vswitchd not installed)"), "{t}");
        let j = to_json(json!({"tool": "rvs-bench"}), &rows);
        let res = j["results"].as_array().unwrap();
        assert_eq!(res.len(), 5);
        assert_eq!(res[0]["case"], "udp-64B-1f");
        assert_eq!(res[4]["status"], "n/a");
    }

    #[test]
    fn svg_is_written() {
        let s = written_svg(|p| svg(&sample(), p, "test"));
        assert!(s.starts_with("<svg") && s.contains("64B 1 flow") && s.contains("rvs"));
    }
}
