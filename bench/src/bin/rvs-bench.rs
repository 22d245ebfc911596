//! `rvs-bench`: throughput, CPU cost and latency of rvs, the Linux bridge and Open vSwitch
//! userspace on the same veth topology, in one run (root only).
//!
//! For each system it builds a generator netns, a sink netns and the switch between them,
//! then runs each case: raw UDP at maximum offered load (frame sizes × flow counts), TCP
//! with iperf3, and a UDP request/response ping-pong. The `direct` system (no switch) runs
//! first: it is the generator's ceiling every figure is compared with, and the CPU baseline
//! subtracted from every switch. Everything it creates is removed at the end, on error, and
//! on Ctrl-C (SIGINT/SIGTERM stop the run at the next check; results so far are printed).

use rvs_bench::gen;
use rvs_bench::measure::{self, RxCounters};
use rvs_bench::report::{self, Kind, Row};
use rvs_bench::systems::{Bed, System, ENDPOINT_IF, GEN_IP, SINK_IP};
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
  --quick               1 s cases, frame sizes 64 and 1500 only (CI: proves the harness works)
  --duration SECS       seconds per case (default 10; --quick: 1)
  --only SYS[,SYS]      systems to run (direct always runs: it is the ceiling and CPU baseline):
                        direct rvs rvs-offload rvs-afxdp linux-bridge ovs ovs-tso rvs-gre ovs-gre
                        rvs-vxlan rvs-geneve linux-vxlan ovs-vxlan ovs-geneve
  --cases PAT[,PAT]     cases whose name contains a pattern: udp-64B-1f udp-64B-1000f
                        udp-512B-… udp-1500B-… tcp rr
  --sizes N[,N]         UDP frame sizes in bytes, without FCS (default 64,512,1500)
  --flows N[,N]         UDP flow counts, MAC pairs (default 1,1000)
  --json FILE           write all results as JSON
  --svg FILE            write a bar chart of delivered Mpps and Gbit/s
  --bin-dir DIR         where rvsd and rvs's ovs-vsctl are (default: this program's directory)
  -h, --help            this text";

#[derive(Debug)]
struct Opts {
    quick: bool,
    secs: f64,
    only: Option<Vec<System>>,
    cases: Option<Vec<String>>,
    sizes: Vec<usize>,
    flows: Vec<usize>,
    json: Option<PathBuf>,
    svg: Option<PathBuf>,
    bin_dir: Option<PathBuf>,
}

fn list<T: std::str::FromStr>(v: &str, what: &str) -> Result<Vec<T>, String> {
    v.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|_| format!("bad {what}: {s}")))
        .collect()
}

fn parse_args() -> Result<Opts, String> {
    let mut args = std::env::args().skip(1);
    let mut o = Opts {
        quick: false,
        secs: 0.0,
        only: None,
        cases: None,
        sizes: vec![],
        flows: vec![1, 1000],
        json: None,
        svg: None,
        bin_dir: None,
    };
    while let Some(a) = args.next() {
        let mut val = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--quick" => o.quick = true,
            "--duration" => {
                o.secs = val("--duration")?
                    .parse()
                    .map_err(|_| "bad --duration".to_string())?
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
            "--svg" => o.svg = Some(val("--svg")?.into()),
            "--bin-dir" => o.bin_dir = Some(val("--bin-dir")?.into()),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown option {other}")),
        }
    }
    if o.secs <= 0.0 {
        o.secs = if o.quick { 1.0 } else { 10.0 };
    }
    if o.sizes.is_empty() {
        o.sizes = if o.quick {
            vec![64, 1500]
        } else {
            vec![64, 512, 1500]
        };
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

/// The cases of a run, in order.
fn cases(o: &Opts) -> Vec<Kind> {
    let mut v = vec![];
    for &size in &o.sizes {
        for &flows in &o.flows {
            v.push(Kind::Udp { size, flows });
        }
    }
    v.push(Kind::Tcp);
    v.push(Kind::Rr);
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
    /// Per UDP case: (delivered pps, CPU ns per offered frame).
    udp: HashMap<String, (f64, f64)>,
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

fn frames(size: usize, flows: usize, reverse: bool) -> Vec<Vec<u8>> {
    rvs_bench::flows(flows, 0x100, GEN_IP, SINK_IP)
        .into_iter()
        .map(|mut f| {
            if reverse {
                std::mem::swap(&mut f.src_mac, &mut f.dst_mac);
                std::mem::swap(&mut f.src_ip, &mut f.dst_ip);
            }
            rvs_bench::udp_frame_sized(&f, size)
        })
        .collect()
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
    let fwd = frames(size, nflows, false);
    // Teach the switch where the destinations live: one frame from each destination MAC,
    // sent by the sink, so the measured traffic is forwarded, not flooded.
    let rev = frames(64, nflows, true);
    bed.sink
        .run_in(|| gen::send_once(ENDPOINT_IF, &rev))
        .map_err(|e| format!("learning frames: {e}"))?;
    std::thread::sleep(Duration::from_millis(100));
    let warm = Duration::from_secs_f64((o.secs / 5.0).clamp(0.2, 1.0));
    bed.gen
        .run_in(|| gen::blast(ENDPOINT_IF, &fwd, warm, &STOP))
        .map_err(|e| format!("generator: {e}"))?;
    std::thread::sleep(Duration::from_millis(200));
    let pids: Vec<u32> = bed
        .switch_pids()
        .into_iter()
        .chain(measure::ksoftirqd_pids())
        .collect();
    let c0 = measure::rx_counters(&bed.sink, ENDPOINT_IF).map_err(|e| e.to_string())?;
    let cpu0 = measure::cpu_ns(&pids);
    let g = bed
        .gen
        .run_in(|| gen::blast(ENDPOINT_IF, &fwd, Duration::from_secs_f64(o.secs), &STOP))
        .map_err(|e| format!("generator: {e}"))?;
    // Let queued frames drain, then count.
    std::thread::sleep(Duration::from_millis(150));
    let cpu = measure::cpu_ns(&pids).saturating_sub(cpu0) + g.cpu.as_nanos() as u64;
    let c1 = measure::rx_counters(&bed.sink, ENDPOINT_IF).map_err(|e| e.to_string())?;
    let d = RxCounters {
        packets: c1.packets.saturating_sub(c0.packets),
        bytes: c1.bytes.saturating_sub(c0.bytes),
    };
    let secs = g.elapsed.as_secs_f64().max(1e-9);
    let offered = g.sent as f64 / secs;
    let delivered = d.packets.min(g.sent) as f64 / secs;
    row.offered_pps = Some(offered);
    row.delivered_pps = Some(delivered);
    row.offered_gbps = Some(g.bytes as f64 * 8.0 / secs / 1e9);
    row.gbps = Some(delivered * size as f64 * 8.0 / 1e9);
    row.loss = (g.sent > 0).then(|| 1.0 - d.packets.min(g.sent) as f64 / g.sent as f64);
    let key = kind.name();
    if sys == System::Direct {
        let per_offered = cpu as f64 / g.sent.max(1) as f64;
        ceil.udp.insert(key.clone(), (delivered, per_offered));
        row.cpu_ns_per_pkt = (d.packets > 0).then(|| cpu as f64 / d.packets as f64);
    } else if let Some(&(_, base)) = ceil.udp.get(&key) {
        row.cpu_ns_per_pkt = (d.packets > 0)
            .then(|| (cpu as f64 - base * g.sent as f64).max(0.0) / d.packets as f64);
    }
    if let Some(&(c, _)) = ceil.udp.get(&key) {
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
    let dur = Duration::from_secs_f64(o.secs.min(5.0));
    let r = measure::udp_rr(&bed.gen, &bed.sink, SINK_IP, dur, &STOP).map_err(|e| e.to_string())?;
    let mut row = Row::new(sys.name(), Kind::Rr);
    row.p50_us = Some(r.p50_us);
    row.p99_us = Some(r.p99_us);
    row.retrans_or_lost = Some(r.lost as u64);
    if sys == System::Direct {
        ceil.rr_p50 = Some(r.p50_us);
    }
    row.of_ceiling = ceil.rr_p50.filter(|_| r.p50_us > 0.0).map(|c| c / r.p50_us);
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

fn run_system(
    sys: System,
    kinds: &[Kind],
    o: &Opts,
    bins: &Bins,
    ceil: &mut Ceiling,
    prog: &mut Progress,
) -> Vec<Row> {
    let na_all = |why: &str| -> Vec<Row> {
        kinds
            .iter()
            .map(|&k| Row::not_available(sys.name(), k, why))
            .collect()
    };
    if let Some(why) = ovs_missing().filter(|_| sys.is_ovs()) {
        prog.total -= kinds.len();
        return na_all(&format!("{why} (apt-get install openvswitch-switch)"));
    }
    prog.note(&format!("{}: building topology", sys.name()));
    let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Bed::build(sys, bins)));
    let bed = match built {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => {
            prog.total -= kinds.len();
            return na_all(&e);
        }
        Err(p) => {
            prog.total -= kinds.len();
            return na_all(&format!("topology failed: {}", panic_text(p.as_ref())));
        }
    };
    if !connected(&bed) {
        prog.total -= kinds.len();
        return na_all("no connectivity: ping from generator to sink failed");
    }
    let mut rows = vec![];
    for &k in kinds {
        if STOP.load(Ordering::Relaxed) {
            break;
        }
        prog.step(&format!("{}: {}", sys.name(), k.name()));
        if !bed.alive() {
            rows.push(Row::not_available(sys.name(), k, "switch process died"));
            continue;
        }
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match k {
            Kind::Udp { size, flows } => udp_case(&bed, sys, size, flows, o, ceil),
            Kind::Tcp => tcp_case(&bed, sys, o, ceil).map_err(|e| csum_note(&bed, e)),
            Kind::Rr => rr_case(&bed, sys, o, ceil).map_err(|e| csum_note(&bed, e)),
        }));
        let row = match r {
            Ok(Ok(row)) => row,
            Ok(Err(e)) => Row::not_available(sys.name(), k, &e),
            Err(p) => Row::not_available(sys.name(), k, &panic_text(p.as_ref())),
        };
        rows.push(row);
    }
    rows
}

fn command_output(cmd: &str, args: &[&str]) -> String {
    std::process::Command::new(cmd)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn main() -> ExitCode {
    let o = match parse_args() {
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
    let total: usize = systems.iter().map(|&s| cases_for(s, &all).len()).sum();
    let mut prog = Progress {
        total,
        done: 0,
        start: Instant::now(),
        per_case: o.secs * 1.4 + 0.8,
        tty: std::io::stderr().is_terminal(),
    };
    let date = command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    prog.note(&format!(
        "rvs-bench: {} systems, {} cases, {} s per case",
        systems.len(),
        total,
        o.secs
    ));
    let mut ceil = Ceiling::default();
    let mut rows: Vec<Row> = vec![];
    for &sys in &systems {
        if STOP.load(Ordering::Relaxed) {
            break;
        }
        let kinds = cases_for(sys, &all);
        rows.extend(run_system(sys, &kinds, &o, &bins, &mut ceil, &mut prog));
    }
    prog.note(&format!(
        "rvs-bench: done in {:.0} s",
        prog.start.elapsed().as_secs_f64()
    ));
    // Rows grouped by case, systems side by side.
    let mut sorted = vec![];
    for k in &all {
        sorted.extend(rows.iter().filter(|r| r.kind == *k).cloned());
    }
    let kernel = command_output("uname", &["-r"]);
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let head = format!(
        "rvs-bench {date}: kernel {kernel}, {cpus} CPUs, {} s per case{}",
        o.secs,
        if o.quick { ", --quick" } else { "" }
    );
    println!("{head}\n");
    print!("{}", report::tables(&sorted));
    let mut failed = false;
    if let Some(p) = &o.json {
        let meta = json!({
            "tool": "rvs-bench",
            "date": date,
            "kernel": kernel,
            "cpus": cpus,
            "quick": o.quick,
            "case_seconds": o.secs,
            "generator": "AF_PACKET sendmmsg",
            "interrupted": STOP.load(Ordering::Relaxed),
        });
        let text = serde_json::to_string_pretty(&report::to_json(meta, &sorted))
            .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
        if let Err(e) = std::fs::write(p, text + "\n") {
            eprintln!("rvs-bench: cannot write {}: {e}", p.display());
            failed = true;
        }
    }
    if let Some(p) = &o.svg {
        if let Err(e) = report::svg(&sorted, p, &head) {
            eprintln!("rvs-bench: cannot write {}: {e}", p.display());
            failed = true;
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
