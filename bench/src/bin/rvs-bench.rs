//! `rvs-bench`: throughput, CPU cost and latency of rvs, the Linux bridge and Open vSwitch
//! userspace on the same veth topology, in one run (root only).
//!
//! For each system it builds a generator netns, a sink netns and the switch between them
//! (per deployment: `container`, or `pvp` through a VM relay), then runs each case. With
//! `--method maxload` (the default): raw UDP at maximum offered load (frame sizes × flow
//! counts), TCP with iperf3, and a UDP request/response ping-pong. With `--method ndr`:
//! RFC 2544 NDR/PDR, latency under load and back-to-back per frame size × flow count
//! ([`rvs_bench::rfc2544`]), `--repeat N` times (systems interleaved), reported as
//! min / median / max. The `direct` system (no switch) runs first in every round: it is the
//! generator's ceiling every figure is compared with, and the CPU baseline subtracted from
//! every switch. Everything it creates is removed at the end, on error, and on Ctrl-C
//! (SIGINT/SIGTERM stop the run at the next check; results so far are printed).
//!
//! Subcommands: `rvs-bench compare A.json B.json` (per-row ratios of two result files), and
//! `rvs-bench vm-relay TAP_A TAP_B ERRFILE` (the pvp deployment's VM, started by the bench).

use rvs_bench::gen::Offer;
use rvs_bench::measure::{self, RrConfig};
use rvs_bench::report::{self, Kind, Row};
use rvs_bench::results::{self, RfcRow};
use rvs_bench::rfc2544::{self, Baseline, Case, Params, Traffic};
use rvs_bench::systems::{Bed, Deployment, System, SINK_IP};
use rvs_testkit::{have_tool, is_root, ovs_missing, Bins};
use serde_json::json;
use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Set by SIGINT/SIGTERM; every loop checks it.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_sig: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn install_signal_handlers() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe { libc::signal(sig, on_signal as *const () as libc::sighandler_t) };
    }
}

const USAGE: &str = "\
usage: rvs-bench [options]      (as root)
       rvs-bench compare A.json B.json
  --method maxload|ndr  maxload (default): each case at full offered load, TCP, ping-pong;
                        ndr: RFC 2544 NDR (loss 0) and PDR per frame size and flow count by
                        search over rate-controlled trials, each verified by a final trial;
                        latency under load at 10/50/90 % of PDR; back-to-back bursts
  --quick               CI-sized: maxload 1 s cases; ndr 0.2 s trials, 0.5 s verification,
                        5 % resolution, 1 flow; frame sizes 64 and 1500 only
  --duration SECS       maxload: seconds per case (default 10; --quick: 1)
  --trial SECS          ndr: search trial duration (default 1; --quick: 0.2)
  --final-trial SECS    ndr: verification and latency trial duration (default 5; --quick: 0.5)
  --resolution PCT      ndr: search resolution, % of the upper bound (default 1; --quick: 5)
  --pdr-loss PCT        ndr: PDR loss threshold, % (default 0.5)
  --b2b-max SECS        ndr: longest back-to-back burst, seconds at line rate (default 2;
                        --quick: 0.1)
  --repeat N            ndr: run everything N times, systems interleaved; figures are
                        min / median / max over the runs (default 1)
  --deployment D[,D]    container (veth to veth through the switch, default) and/or pvp
                        (generator -> bridge 0 -> TAP -> VM relay -> TAP -> bridge 1 -> sink)
  --only SYS[,SYS]      systems to run (direct always runs: it is the ceiling and CPU baseline):
                        direct rvs rvs-offload rvs-afxdp linux-bridge ovs ovs-tso rvs-gre ovs-gre
                        rvs-vxlan rvs-geneve linux-vxlan ovs-vxlan ovs-geneve
  --cases PAT[,PAT]     cases whose name contains a pattern: udp-64B-1f udp-64B-1000f
                        udp-512B-… udp-1500B-… tcp rr (ndr: the udp ones)
  --sizes N[,N]         UDP frame sizes in bytes, without FCS (default 64,512,1500)
  --flows N[,N]         UDP flow counts, MAC pairs (default 1,1000; ndr --quick: 1)
  --json FILE           write all results as JSON
  --csv FILE            ndr: write all results as CSV
  --svg FILE            write a bar chart (ndr: NDR and PDR with min–max error bars)
  --verbose             ndr: print every trial (load, duration, sent, received, loss)
  --bin-dir DIR         where rvsd and rvs's ovs-vsctl are (default: this program's directory)
  -h, --help            this text";

/// What a run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    MaxLoad,
    Ndr,
}

#[derive(Debug)]
struct Opts {
    method: Method,
    quick: bool,
    secs: f64,
    params: Params,
    repeat: usize,
    deployments: Vec<Deployment>,
    only: Option<Vec<System>>,
    cases: Option<Vec<String>>,
    sizes: Vec<usize>,
    flows: Vec<usize>,
    json: Option<PathBuf>,
    csv: Option<PathBuf>,
    svg: Option<PathBuf>,
    bin_dir: Option<PathBuf>,
}

fn list<T: std::str::FromStr>(v: &str, what: &str) -> Result<Vec<T>, String> {
    v.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|_| format!("bad {what}: {s}")))
        .collect()
}

/// A positive finite number of `what`.
fn positive(v: &str, what: &str) -> Result<f64, String> {
    v.parse::<f64>()
        .ok()
        .filter(|x| x.is_finite() && *x > 0.0)
        .ok_or_else(|| format!("bad {what}: {v} (a number > 0)"))
}

fn parse_args(args: Vec<String>) -> Result<Opts, String> {
    let mut args = args.into_iter();
    let mut o = Opts {
        method: Method::MaxLoad,
        quick: false,
        secs: 0.0,
        params: Params {
            trial_secs: 0.0,
            final_secs: 0.0,
            resolution: 0.0,
            pdr_loss: 0.005,
            latency_loads: vec![10, 50, 90],
            probe_interval: Duration::from_micros(500),
            b2b_secs: 0.0,
            max_trials: 30,
            verbose: false,
        },
        repeat: 1,
        deployments: vec![Deployment::Container],
        only: None,
        cases: None,
        sizes: vec![],
        flows: vec![],
        json: None,
        csv: None,
        svg: None,
        bin_dir: None,
    };
    let p = &mut o.params;
    while let Some(a) = args.next() {
        let mut val = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--method" => {
                o.method = match val("--method")?.as_str() {
                    "maxload" => Method::MaxLoad,
                    "ndr" => Method::Ndr,
                    m => return Err(format!("unknown method {m} (maxload or ndr)")),
                }
            }
            "--quick" => o.quick = true,
            "--verbose" => p.verbose = true,
            "--duration" => o.secs = positive(&val("--duration")?, "--duration")?,
            "--trial" => p.trial_secs = positive(&val("--trial")?, "--trial")?,
            "--final-trial" => p.final_secs = positive(&val("--final-trial")?, "--final-trial")?,
            "--resolution" => {
                p.resolution = positive(&val("--resolution")?, "--resolution")? / 100.0;
                if p.resolution >= 0.5 {
                    return Err("--resolution must be below 50 (%)".into());
                }
            }
            "--pdr-loss" => {
                p.pdr_loss = positive(&val("--pdr-loss")?, "--pdr-loss")? / 100.0;
                if p.pdr_loss >= 1.0 {
                    return Err("--pdr-loss must be below 100 (%)".into());
                }
            }
            "--b2b-max" => p.b2b_secs = positive(&val("--b2b-max")?, "--b2b-max")?,
            "--repeat" => {
                o.repeat = val("--repeat")?
                    .parse()
                    .ok()
                    .filter(|n| (1..=100).contains(n))
                    .ok_or("--repeat needs a count 1..=100")?
            }
            "--deployment" => {
                let v = val("--deployment")?;
                let mut d = vec![];
                for n in v.split(',').filter(|n| !n.is_empty()) {
                    d.push(
                        Deployment::parse(n)
                            .ok_or(format!("unknown deployment {n} (container or pvp)"))?,
                    );
                }
                if d.is_empty() {
                    return Err("--deployment needs a name".into());
                }
                o.deployments = d;
            }
            "--only" => {
                let v = val("--only")?;
                let mut s = vec![];
                for n in v.split(',').filter(|n| !n.is_empty()) {
                    s.push(System::parse(n).ok_or(format!("unknown system {n}"))?);
                }
                o.only = Some(s);
            }
            "--cases" => o.cases = Some(list(&val("--cases")?, "case pattern")?),
            "--sizes" => o.sizes = list(&val("--sizes")?, "size")?,
            "--flows" => o.flows = list(&val("--flows")?, "flow count")?,
            "--json" => o.json = Some(val("--json")?.into()),
            "--csv" => o.csv = Some(val("--csv")?.into()),
            "--svg" => o.svg = Some(val("--svg")?.into()),
            "--bin-dir" => o.bin_dir = Some(val("--bin-dir")?.into()),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown option {other}")),
        }
    }
    let ndr = o.method == Method::Ndr;
    if !ndr && (o.repeat > 1 || o.csv.is_some()) {
        return Err("--repeat and --csv need --method ndr".into());
    }
    if !ndr && o.deployments.len() > 1 {
        return Err("--method maxload takes one --deployment".into());
    }
    let q = o.quick;
    let or = |v: f64, quick: f64, full: f64| {
        if v > 0.0 {
            v
        } else if q {
            quick
        } else {
            full
        }
    };
    o.secs = or(o.secs, 1.0, 10.0);
    let p = &mut o.params;
    p.trial_secs = or(p.trial_secs, 0.2, 1.0);
    p.final_secs = or(p.final_secs, 0.5, 5.0);
    p.resolution = or(p.resolution, 0.05, 0.01);
    p.b2b_secs = or(p.b2b_secs, 0.1, 2.0);
    if p.final_secs < p.trial_secs {
        return Err("--final-trial must not be shorter than --trial".into());
    }
    if o.sizes.is_empty() {
        o.sizes = if q {
            vec![64, 1500]
        } else {
            vec![64, 512, 1500]
        };
    }
    if o.flows.is_empty() {
        o.flows = if q && ndr { vec![1] } else { vec![1, 1000] };
    }
    if let Some(s) = o
        .sizes
        .iter()
        .find(|&&s| !(rvs_bench::MIN_UDP_FRAME..=1514).contains(&s))
    {
        return Err(format!(
            "frame size {s} outside {}..=1514",
            rvs_bench::MIN_UDP_FRAME
        ));
    }
    if o.flows.iter().any(|&f| f == 0 || f > 30000) {
        return Err("flow counts must be 1..=30000".into());
    }
    Ok(o)
}

/// The cases of a run, in order (ndr: the UDP ones).
fn cases(o: &Opts) -> Vec<Kind> {
    let mut v = vec![];
    for &size in &o.sizes {
        for &flows in &o.flows {
            v.push(Kind::Udp { size, flows });
        }
    }
    if o.method == Method::MaxLoad {
        v.push(Kind::Tcp);
        v.push(Kind::Rr);
    }
    if let Some(p) = &o.cases {
        v.retain(|k| p.iter().any(|p| k.name().contains(p.as_str())));
    }
    v
}

/// Cases a system runs: `ovs-tso` differs from `ovs` only where the kernel hands over
/// partial checksums (TCP, and the UDP sockets of the ping-pong), so it runs only those.
fn cases_for(sys: System, all: &[Kind]) -> Vec<Kind> {
    all.iter()
        .copied()
        .filter(|&k| sys != System::OvsTso || matches!(k, Kind::Tcp | Kind::Rr))
        .collect()
}

/// Checksum errors the sink's stack counted (TCP + UDP), to explain a failed TCP or
/// ping-pong case: a switch that forwards partial checksums as they are.
fn csum_note(bed: &Bed, e: String) -> String {
    let Ok(out) = bed
        .sink
        .try_exec(["nstat", "-az", "TcpInCsumErrors", "UdpInCsumErrors"])
    else {
        return e;
    };
    let n: u64 = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("InCsumErrors"))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum();
    if n > 0 {
        format!("{e}; sink saw {n} bad TCP/UDP checksums")
    } else {
        e
    }
}

/// What the `direct` system measured, for ratios and the CPU baseline.
#[derive(Debug, Default)]
struct Ceiling {
    /// Per UDP case: (delivered pps, the generator's rate and CPU per offered frame).
    udp: HashMap<String, (f64, Baseline)>,
    tcp_gbps: Option<f64>,
    rr_p50: Option<f64>,
}

struct Progress {
    total: usize,
    done: usize,
    start: Instant,
    per_case: f64,
    tty: bool,
}

impl Progress {
    fn step(&mut self, what: &str) {
        self.done += 1;
        let left = (self.total + 1).saturating_sub(self.done) as f64 * self.per_case;
        let msg = format!(
            "[{:>2}/{}] {what}  (elapsed {:.0} s, ~{:.0} s left)",
            self.done,
            self.total,
            self.start.elapsed().as_secs_f64(),
            left
        );
        if self.tty {
            eprint!("\r\x1b[2K{msg}");
        } else {
            eprintln!("{msg}");
        }
    }

    fn note(&self, msg: &str) {
        if self.tty {
            eprint!("\r\x1b[2K");
        }
        eprintln!("{msg}");
    }
}

fn udp_case(
    bed: &Bed,
    sys: System,
    size: usize,
    nflows: usize,
    o: &Opts,
    ceil: &mut Ceiling,
) -> Result<Row, String> {
    let kind = Kind::Udp {
        size,
        flows: nflows,
    };
    let mut row = Row::new(sys.name(), kind);
    let t = Traffic::new(bed, size, nflows, &STOP)?;
    t.warm_up((o.secs / 5.0).clamp(0.2, 1.0))?;
    let m = t.trial(&Offer::max_load(Duration::from_secs_f64(o.secs)))?;
    let g = m.gen;
    let secs = g.elapsed.as_secs_f64().max(1e-9);
    let offered = g.rate();
    let delivered = m.rx_fps();
    let received = m.received;
    row.offered_pps = Some(offered);
    row.delivered_pps = Some(delivered);
    row.offered_gbps = Some(g.bytes as f64 * 8.0 / secs / 1e9);
    row.gbps = Some(delivered * size as f64 * 8.0 / 1e9);
    row.loss = (g.sent > 0).then(|| 1.0 - received.min(g.sent) as f64 / g.sent as f64);
    let key = kind.name();
    let base = ceil.udp.get(&key).copied();
    if sys == System::Direct {
        let per_offered = m.cpu_ns as f64 / g.sent.max(1) as f64;
        ceil.udp.insert(
            key,
            (
                delivered,
                Baseline {
                    ceiling_fps: offered,
                    cpu_per_offered_ns: per_offered,
                },
            ),
        );
        row.cpu_ns_per_pkt = (received > 0).then(|| m.cpu_ns as f64 / received as f64);
    } else if let Some((_, b)) = &base {
        row.cpu_ns_per_pkt = (received > 0).then(|| m.cpu_above(Some(b)) / received as f64);
    }
    if let Some((c, _)) = base {
        row.of_ceiling = (c > 0.0).then(|| delivered / c);
    }
    Ok(row)
}

fn tcp_case(bed: &Bed, sys: System, o: &Opts, ceil: &mut Ceiling) -> Result<Row, String> {
    if !have_tool("iperf3") {
        return Err("iperf3 not installed".into());
    }
    let pids: Vec<u32> = bed
        .switch_pids()
        .into_iter()
        .chain(measure::ksoftirqd_pids())
        .collect();
    let secs = o.secs.round().max(1.0) as u64;
    let t = measure::iperf3(&bed.gen, &bed.sink, SINK_IP, secs, &pids)?;
    let mut row = Row::new(sys.name(), Kind::Tcp);
    let gbps = t.bits_per_second / 1e9;
    row.gbps = Some(gbps);
    row.retrans_or_lost = Some(t.retransmits);
    row.cpu_cores = Some(t.cpu_ns as f64 / (secs as f64 * 1e9) + t.endpoint_cores);
    if sys == System::Direct {
        ceil.tcp_gbps = Some(gbps);
    }
    row.of_ceiling = ceil.tcp_gbps.filter(|&c| c > 0.0).map(|c| gbps / c);
    Ok(row)
}

fn rr_case(bed: &Bed, sys: System, o: &Opts, ceil: &mut Ceiling) -> Result<Row, String> {
    let cfg = RrConfig::ping_pong(Duration::from_secs_f64(o.secs.min(5.0)));
    let r = measure::udp_rr(&bed.gen, &bed.sink, SINK_IP, cfg, &STOP).map_err(|e| e.to_string())?;
    let mut row = Row::new(sys.name(), Kind::Rr);
    let p50 = r.quantile_us(0.50);
    row.p50_us = Some(p50);
    row.p99_us = Some(r.quantile_us(0.99));
    row.retrans_or_lost = Some(r.lost as u64);
    if sys == System::Direct {
        ceil.rr_p50 = Some(p50);
    }
    row.of_ceiling = ceil.rr_p50.filter(|_| p50 > 0.0).map(|c| c / p50);
    Ok(row)
}

/// Ping from the generator to the sink (5 s at most): a topology that cannot carry it is
/// not measured.
fn connected(bed: &Bed) -> bool {
    let ip = SINK_IP.to_string();
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(5) && !STOP.load(Ordering::Relaxed) {
        let ok = bed
            .gen
            .try_exec(["ping", "-c", "1", "-W", "1", &ip])
            .map(|o| o.status.success())
            .unwrap_or(false);
        if ok {
            return true;
        }
    }
    false
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".into())
}

/// Build `sys` in `dep`, check that it carries traffic, and run `case` for each of `kinds`;
/// `na(kind, why)` makes the rows of a case that could not run.
fn run_system<R>(
    sys: System,
    dep: Deployment,
    kinds: &[Kind],
    bins: &Bins,
    prog: &mut Progress,
    na: impl Fn(Kind, &str) -> Vec<R>,
    mut case: impl FnMut(&Bed, Kind) -> Result<Vec<R>, String>,
) -> Vec<R> {
    let na_all = |prog: &mut Progress, why: &str| -> Vec<R> {
        prog.total = prog.total.saturating_sub(kinds.len());
        kinds.iter().flat_map(|&k| na(k, why)).collect()
    };
    if let Some(why) = ovs_missing().filter(|_| sys.is_ovs()) {
        return na_all(prog, &format!("{why} (apt-get install openvswitch-switch)"));
    }
    prog.note(&format!(
        "{} ({}): building topology",
        sys.name(),
        dep.name()
    ));
    let built =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Bed::build(sys, dep, bins)));
    let bed = match built {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => return na_all(prog, &e),
        Err(p) => {
            return na_all(
                prog,
                &format!("topology failed: {}", panic_text(p.as_ref())),
            )
        }
    };
    if !connected(&bed) {
        return na_all(prog, "no connectivity: ping from generator to sink failed");
    }
    let mut rows = vec![];
    for &k in kinds {
        if STOP.load(Ordering::Relaxed) {
            break;
        }
        prog.step(&format!("{} ({}): {}", sys.name(), dep.name(), k.name()));
        if !bed.alive() {
            rows.extend(na(k, "switch process died"));
            continue;
        }
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| case(&bed, k)));
        match r {
            Ok(Ok(r)) => rows.extend(r),
            Ok(Err(e)) => rows.extend(na(k, &e)),
            Err(p) => rows.extend(na(k, &panic_text(p.as_ref()))),
        }
    }
    rows
}

/// `--method maxload`: every case once per system.
fn run_maxload(o: &Opts, systems: &[System], bins: &Bins, prog: &mut Progress) -> Vec<Row> {
    let all = cases(o);
    let dep = o.deployments[0];
    let mut ceil = Ceiling::default();
    let mut rows: Vec<Row> = vec![];
    for &sys in systems {
        if STOP.load(Ordering::Relaxed) {
            break;
        }
        let kinds = cases_for(sys, &all);
        let d = if sys == System::Direct {
            Deployment::Container
        } else {
            dep
        };
        let na = |k: Kind, why: &str| vec![Row::not_available(sys.name(), k, why)];
        let ceil = &mut ceil;
        rows.extend(run_system(sys, d, &kinds, bins, prog, na, |bed, k| {
            match k {
                Kind::Udp { size, flows } => udp_case(bed, sys, size, flows, o, ceil),
                Kind::Tcp => tcp_case(bed, sys, o, ceil).map_err(|e| csum_note(bed, e)),
                Kind::Rr => rr_case(bed, sys, o, ceil).map_err(|e| csum_note(bed, e)),
            }
            .map(|r| vec![r])
        }));
    }
    // Rows grouped by case, systems side by side.
    let mut sorted = vec![];
    for k in &all {
        sorted.extend(rows.iter().filter(|r| r.kind == *k).cloned());
    }
    sorted
}

/// `--method ndr`: `--repeat` rounds; in each, `direct` first (the baselines), then every
/// system in every deployment. Runs of one case merge into one row.
fn run_ndr(o: &Opts, systems: &[System], bins: &Bins, prog: &mut Progress) -> Vec<RfcRow> {
    let kinds = cases(o);
    let p = &o.params;
    let mut rows: Vec<RfcRow> = vec![];
    for round in 0..o.repeat {
        if o.repeat > 1 {
            prog.note(&format!("round {}/{}", round + 1, o.repeat));
        }
        let mut bases: HashMap<(usize, usize), Baseline> = HashMap::new();
        for &sys in systems {
            for &dep in &o.deployments {
                if STOP.load(Ordering::Relaxed) {
                    return results::merge_runs(rows);
                }
                // direct has no pvp form: it runs once per round, in the container topology.
                let dep = if sys == System::Direct {
                    if dep != o.deployments[0] {
                        continue;
                    }
                    Deployment::Container
                } else {
                    dep
                };
                let case_of = |k: Kind| {
                    let Kind::Udp { size, flows } = k else {
                        return None;
                    };
                    Some(Case {
                        system: sys.name(),
                        deployment: dep,
                        size,
                        flows,
                    })
                };
                let na = |k: Kind, why: &str| case_of(k).map_or(vec![], |c| c.failed(p, why));
                let bases = &mut bases;
                rows.extend(run_system(sys, dep, &kinds, bins, prog, na, |bed, k| {
                    let c = case_of(k).ok_or("not a UDP case")?;
                    let base = bases.get(&(c.size, c.flows)).copied();
                    if sys != System::Direct && base.is_none() {
                        return Err("no baseline: direct failed for this case".into());
                    }
                    let t = Traffic::new(bed, c.size, c.flows, &STOP)?;
                    t.warm_up(p.trial_secs.clamp(0.2, 1.0))?;
                    let (r, own) = rfc2544::run_case(&t, &c, p, base.as_ref())?;
                    if sys == System::Direct {
                        bases.insert((c.size, c.flows), own);
                    }
                    Ok(r)
                }));
            }
        }
    }
    results::merge_runs(rows)
}

fn command_output(cmd: &str, args: &[&str]) -> String {
    std::process::Command::new(cmd)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// `rvs-bench compare A.json B.json`.
fn compare(args: &[String]) -> ExitCode {
    let [a, b] = args else {
        eprintln!("usage: rvs-bench compare A.json B.json");
        return ExitCode::from(2);
    };
    let read = |p: &str| -> Result<serde_json::Value, String> {
        let text = std::fs::read_to_string(p).map_err(|e| format!("{p}: {e}"))?;
        serde_json::from_str(&text).map_err(|e| format!("{p}: not JSON: {e}"))
    };
    match read(a).and_then(|va| read(b).and_then(|vb| results::compare(&va, &vb))) {
        Ok(out) => {
            println!("A = {a}\nB = {b}\n{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rvs-bench compare: {e}");
            ExitCode::from(2)
        }
    }
}

/// `rvs-bench vm-relay TAP_A TAP_B ERRFILE`: the pvp VM (see `rvs_bench::relay`); an error
/// is written to ERRFILE for the bench that started it.
fn vm_relay(args: &[String]) -> ExitCode {
    let [a, b, err] = args else {
        eprintln!("usage: rvs-bench vm-relay TAP_A TAP_B ERRFILE");
        return ExitCode::from(2);
    };
    install_signal_handlers();
    match rvs_bench::relay::run(a, b, &STOP) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = std::fs::write(err, format!("{e}\n"));
            eprintln!("rvs-bench vm-relay: {e}");
            ExitCode::FAILURE
        }
    }
}

fn write_file(path: &std::path::Path, text: String, failed: &mut bool) {
    if let Err(e) = std::fs::write(path, text) {
        eprintln!("rvs-bench: cannot write {}: {e}", path.display());
        *failed = true;
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("compare") => return compare(&args[1..]),
        Some("vm-relay") => return vm_relay(&args[1..]),
        _ => {}
    }
    let o = match parse_args(args) {
        Ok(o) => o,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("rvs-bench: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if !is_root() {
        eprintln!("rvs-bench: needs root (it creates network namespaces)");
        return ExitCode::from(2);
    }
    install_signal_handlers();
    // Panics inside a case become an n/a row with the message; keep stderr tidy.
    std::panic::set_hook(Box::new(|_| {}));
    // Without --bin-dir: rvs_testkit's search ($RVS_BIN_DIR, next to rvs-bench, PATH); when
    // nothing is found the rvs rows say where rvsd was expected.
    let bins = match &o.bin_dir {
        Some(d) => Bins::in_dir(d),
        None => Bins::find().unwrap_or_else(|_| {
            let exe = std::env::current_exe().unwrap_or_default();
            Bins::in_dir(exe.parent().unwrap_or(std::path::Path::new(".")))
        }),
    };
    let all = cases(&o);
    let systems: Vec<System> = System::ALL
        .into_iter()
        .filter(|&s| s == System::Direct || o.only.as_ref().is_none_or(|only| only.contains(&s)))
        .collect();
    let ndr = o.method == Method::Ndr;
    let p = &o.params;
    let (total, per_case) = if ndr {
        // direct runs once per round; every other system once per deployment (as n/a rows
        // where it has no form for it).
        let builds: usize = systems
            .iter()
            .map(|&s| {
                if s == System::Direct {
                    1
                } else {
                    o.deployments.len()
                }
            })
            .sum();
        // About 12 search trials, 2 verifications, the latency trials and ~10 bursts.
        let per = 12.0 * (p.trial_secs + 0.4)
            + (2.0 + p.latency_loads.len() as f64) * (p.final_secs + 0.5)
            + 10.0 * (0.4 + p.b2b_secs / 2.0);
        (builds * all.len() * o.repeat, per)
    } else {
        let t: usize = systems.iter().map(|&s| cases_for(s, &all).len()).sum();
        (t, o.secs * 1.4 + 0.8)
    };
    let mut prog = Progress {
        total,
        done: 0,
        start: Instant::now(),
        per_case,
        tty: std::io::stderr().is_terminal(),
    };
    let date = command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let load_before = command_output("cat", &["/proc/loadavg"]);
    prog.note(&format!(
        "rvs-bench: {} systems, {total} cases, ~{:.0} s per case",
        systems.len(),
        per_case
    ));
    let kernel = command_output("uname", &["-r"]);
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let deps: Vec<&str> = o.deployments.iter().map(|d| d.name()).collect();
    let mut meta = json!({
        "tool": "rvs-bench",
        "method": if ndr { "ndr" } else { "maxload" },
        "date": date,
        "kernel": kernel,
        "cpus": cpus,
        "quick": o.quick,
        "deployments": deps,
        "generator": "AF_PACKET sendmmsg",
        "loadavg_before": load_before,
    });
    let mut failed = false;
    if ndr {
        let rows = run_ndr(&o, &systems, &bins, &mut prog);
        prog.note(&format!(
            "rvs-bench: done in {:.0} s",
            prog.start.elapsed().as_secs_f64()
        ));
        let head = format!(
            "rvs-bench {date}: kernel {kernel}, {cpus} CPUs, load {load_before}; RFC 2544: trials {} s, \
             verification {} s, resolution {} %, PDR loss ≤ {} %, {} run{}{}",
            p.trial_secs,
            p.final_secs,
            p.resolution * 100.0,
            p.pdr_loss * 100.0,
            o.repeat,
            if o.repeat == 1 { "" } else { "s" },
            if o.quick { ", --quick" } else { "" }
        );
        print!("{}", results::tables(&rows, &head));
        let m = meta.as_object_mut().expect("object literal");
        for (k, v) in [
            ("trial_seconds", json!(p.trial_secs)),
            ("final_trial_seconds", json!(p.final_secs)),
            ("resolution_percent", json!(p.resolution * 100.0)),
            ("ndr_loss_percent", json!(0.0)),
            ("pdr_loss_percent", json!(p.pdr_loss * 100.0)),
            ("max_offered_miss_percent", json!(rfc2544::MAX_OFFERED_MISS * 100.0)),
            ("search", json!("MLRsearch-like: max-load trial, step down from the forwarded rate, bisect to the resolution, verify at the final duration")),
            ("latency_loads_percent_of_pdr", json!(p.latency_loads)),
            ("probe_interval_us", json!(p.probe_interval.as_micros() as u64)),
            ("b2b_max_seconds", json!(p.b2b_secs)),
            ("repeat", json!(o.repeat)),
            ("loadavg_after", json!(command_output("cat", &["/proc/loadavg"]))),
            ("interrupted", json!(STOP.load(Ordering::Relaxed))),
        ] {
            m.insert(k.into(), v);
        }
        if let Some(path) = &o.json {
            let text = serde_json::to_string_pretty(&results::to_json(meta, &rows))
                .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
            write_file(path, text + "\n", &mut failed);
        }
        if let Some(path) = &o.csv {
            write_file(path, results::csv(&rows), &mut failed);
        }
        if let Some(path) = &o.svg {
            if let Err(e) = results::svg(&rows, path, &head) {
                eprintln!("rvs-bench: cannot write {}: {e}", path.display());
                failed = true;
            }
        }
    } else {
        let sorted = run_maxload(&o, &systems, &bins, &mut prog);
        prog.note(&format!(
            "rvs-bench: done in {:.0} s",
            prog.start.elapsed().as_secs_f64()
        ));
        let head = format!(
            "rvs-bench {date}: kernel {kernel}, {cpus} CPUs, {} s per case{}",
            o.secs,
            if o.quick { ", --quick" } else { "" }
        );
        println!("{head}\n");
        print!("{}", report::tables(&sorted));
        meta["case_seconds"] = json!(o.secs);
        meta["interrupted"] = json!(STOP.load(Ordering::Relaxed));
        if let Some(path) = &o.json {
            let text = serde_json::to_string_pretty(&report::to_json(meta, &sorted))
                .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
            write_file(path, text + "\n", &mut failed);
        }
        if let Some(path) = &o.svg {
            if let Err(e) = report::svg(&sorted, path, &head) {
                eprintln!("rvs-bench: cannot write {}: {e}", path.display());
                failed = true;
            }
        }
    }
    if STOP.load(Ordering::Relaxed) {
        eprintln!("rvs-bench: interrupted; everything it created has been removed");
        return ExitCode::from(130);
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
