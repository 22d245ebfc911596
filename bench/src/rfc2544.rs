//! Measurements on a built topology ([`Bed`]): one trial (frames offered by the generator,
//! counted at the sink, CPU of the switch sampled around it), and on top of it the RFC 2544 /
//! RFC 9004 tests of `rvs-bench --method ndr` for one system × deployment × frame size ×
//! flow count:
//!
//! 1. a maximum-load trial (the generator at full speed): the generator's ceiling on this
//!    topology and the first evidence of the search;
//! 2. NDR (loss 0) and PDR (loss ≤ `pdr_loss`) by [`crate::search`] over rate-controlled
//!    trials, each ending with a verification trial of the final duration;
//! 3. latency under load: paced UDP probes (one in flight, timestamped, no UDP checksum so
//!    every switch carries them) while the generator offers 10 / 50 / 90 % of the PDR rate;
//! 4. back-to-back: the longest burst at full speed forwarded with no loss, by the same search
//!    over burst lengths up to `b2b_secs` at the ceiling.
//!
//! Counting: "received" is the sink veth's receive counter over the trial plus a drain pause
//! ([`DRAIN`]); nothing else talks on that link during a trial (IPv6 off, quiet switch
//! stacks), except the probes of a latency trial, whose count the echo server reports and
//! which are subtracted. CPU: as `rvs-bench`'s max-load cases (see [`crate::measure`]), above
//! the `direct` system's cost per offered frame at its own NDR ([`Baseline`]).

use crate::gen::{self, GenStats, Offer, BATCH};
use crate::measure::{self, RrConfig, RrResult};
use crate::results::{self as res, Criterion, RfcRow, Test};
use crate::search::{self, Found, Search, Trial};
use crate::stats;
use crate::systems::{Bed, Deployment, ENDPOINT_IF, GEN_IP, SINK_IP};
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Pause after a trial before the sink's counter is read: frames still queued in the switch
/// arrive meanwhile.
pub const DRAIN: Duration = Duration::from_millis(150);

/// Largest relative miss of the achieved offered rate before a trial is refused (the
/// generator, not the switch, was the limit).
pub const MAX_OFFERED_MISS: f64 = 0.01;

/// How the tests run.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// Search trial duration, seconds.
    pub trial_secs: f64,
    /// Verification trial duration, seconds (also the duration of a latency trial).
    pub final_secs: f64,
    /// Search resolution, relative to the upper bound (0.01 = 1 %).
    pub resolution: f64,
    /// PDR loss threshold, as a ratio (0.005 = 0.5 %).
    pub pdr_loss: f64,
    /// Latency background loads, % of the PDR rate.
    pub latency_loads: Vec<u32>,
    /// Interval between latency probes.
    pub probe_interval: Duration,
    /// Longest back-to-back burst tried, in seconds at the generator's ceiling.
    pub b2b_secs: f64,
    /// Most trials of one search.
    pub max_trials: usize,
    /// Print every trial to stderr.
    pub verbose: bool,
}

/// What the `direct` system measured for one frame size and flow count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Baseline {
    /// The generator's full-speed rate with no switch, frames/s ("line rate").
    pub ceiling_fps: f64,
    /// CPU ns per offered frame with no switch (generator + sink + softirq).
    pub cpu_per_offered_ns: f64,
}

/// What one trial measured.
#[derive(Debug, Clone, Copy, Default)]
pub struct Measured {
    /// The generator's own counts.
    pub gen: GenStats,
    /// Frames the sink's veth received over the trial and the drain pause.
    pub received: u64,
    /// CPU ns of the switch processes, the softirq threads and the generator thread.
    pub cpu_ns: u64,
    /// CPU ns of the pvp VM relay.
    pub vm_cpu_ns: u64,
}

impl Measured {
    /// Received frames per second of the trial (at most the sent ones).
    pub fn rx_fps(&self) -> f64 {
        self.received.min(self.gen.sent) as f64 / self.gen.elapsed.as_secs_f64().max(1e-9)
    }

    /// CPU ns above the baseline cost of the frames offered (`None` baseline: all of it).
    pub fn cpu_above(&self, base: Option<&Baseline>) -> f64 {
        let b = base.map_or(0.0, |b| b.cpu_per_offered_ns * self.gen.sent as f64);
        (self.cpu_ns as f64 - b).max(0.0)
    }

    /// As a search [`Trial`] at `target` of duration `secs`.
    fn trial(&self, target: f64, achieved: f64, secs: f64, id: usize) -> Trial {
        Trial {
            target,
            achieved,
            sent: self.gen.sent,
            received: self.received,
            secs,
            id,
        }
    }
}

/// `n` UDP flows of `size`-byte frames from the generator to the sink (`reverse`: from the
/// sink's side, to teach a switch where the destinations are).
pub fn frames(size: usize, flows: usize, reverse: bool) -> Vec<Vec<u8>> {
    crate::flows(flows, 0x100, GEN_IP, SINK_IP)
        .into_iter()
        .map(|mut f| {
            if reverse {
                std::mem::swap(&mut f.src_mac, &mut f.dst_mac);
                std::mem::swap(&mut f.src_ip, &mut f.dst_ip);
            }
            crate::udp_frame_sized(&f, size)
        })
        .collect()
}

/// The traffic of one case on a bed: its frames and the processes whose CPU counts.
#[derive(Debug)]
pub struct Traffic<'a> {
    bed: &'a Bed,
    frames: Vec<Vec<u8>>,
    pids: Vec<u32>,
    vm: Vec<u32>,
    stop: &'a AtomicBool,
}

impl<'a> Traffic<'a> {
    /// Prepare `flows` flows of `size`-byte frames, and teach the switch where their
    /// destinations live (one frame from each destination MAC, sent by the sink), so the
    /// measured traffic is forwarded, not flooded.
    pub fn new(
        bed: &'a Bed,
        size: usize,
        flows: usize,
        stop: &'a AtomicBool,
    ) -> Result<Traffic<'a>, String> {
        let rev = frames(64, flows, true);
        bed.sink
            .run_in(|| gen::send_once(ENDPOINT_IF, &rev))
            .map_err(|e| format!("learning frames: {e}"))?;
        std::thread::sleep(Duration::from_millis(100));
        Ok(Traffic {
            bed,
            frames: frames(size, flows, false),
            pids: bed
                .switch_pids()
                .into_iter()
                .chain(measure::ksoftirqd_pids())
                .collect(),
            vm: bed.vm_pids(),
            stop,
        })
    }

    /// Full speed for `secs` (flow set-up, caches, rings), then a pause; nothing counted.
    pub fn warm_up(&self, secs: f64) -> Result<(), String> {
        self.bed
            .gen
            .run_in(|| gen::blast(ENDPOINT_IF, &self.frames, secs_dur(secs), self.stop))
            .map_err(|e| format!("generator: {e}"))?;
        std::thread::sleep(Duration::from_millis(200));
        Ok(())
    }

    /// One trial: offer as `offer` says, wait [`DRAIN`], count.
    pub fn trial(&self, offer: &Offer) -> Result<Measured, String> {
        let sink = |e: std::io::Error| format!("sink counters: {e}");
        let c0 = measure::rx_counters(&self.bed.sink, ENDPOINT_IF).map_err(sink)?;
        let (cpu0, vm0) = (measure::cpu_ns(&self.pids), measure::cpu_ns(&self.vm));
        let g = self
            .bed
            .gen
            .run_in(|| gen::send(ENDPOINT_IF, &self.frames, offer, self.stop))
            .map_err(|e| format!("generator: {e}"))?;
        std::thread::sleep(DRAIN);
        let cpu = measure::cpu_ns(&self.pids).saturating_sub(cpu0) + g.cpu.as_nanos() as u64;
        let vm_cpu = measure::cpu_ns(&self.vm).saturating_sub(vm0);
        let c1 = measure::rx_counters(&self.bed.sink, ENDPOINT_IF).map_err(sink)?;
        if self.stop.load(Ordering::Relaxed) {
            return Err("interrupted".into());
        }
        Ok(Measured {
            gen: g,
            received: c1.packets.saturating_sub(c0.packets),
            cpu_ns: cpu,
            vm_cpu_ns: vm_cpu,
        })
    }
}

fn secs_dur(secs: f64) -> Duration {
    Duration::from_secs_f64(secs.max(0.0))
}

/// Identity of the rows of one case.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// System name.
    pub system: &'static str,
    /// Topology.
    pub deployment: Deployment,
    /// Frame length without FCS.
    pub size: usize,
    /// Flow count.
    pub flows: usize,
}

impl Case {
    /// An empty row of this case for `test`.
    pub fn row(&self, test: Test) -> RfcRow {
        RfcRow::new(self.system, self.deployment, test, self.size, self.flows)
    }

    /// Every row of this case, failed for `why` (the case could not run at all).
    pub fn failed(&self, p: &Params, why: &str) -> Vec<RfcRow> {
        tests(p)
            .into_iter()
            .map(|t| self.row(t).failed(why))
            .collect()
    }
}

/// The tests of a case, in row order.
pub fn tests(p: &Params) -> Vec<Test> {
    let mut v = vec![
        Test::Throughput(Criterion::Ndr),
        Test::Throughput(Criterion::Pdr),
    ];
    v.extend(
        p.latency_loads
            .iter()
            .map(|&percent_of_pdr| Test::Latency { percent_of_pdr }),
    );
    v.push(Test::BackToBack);
    v
}

/// Run every test of `case` once on `t` (warmed up). `base` is `direct`'s baseline for the
/// same frame size and flows (`None` when measuring `direct` itself). Returns the rows and
/// this run's baseline (meaningful for `direct`).
pub fn run_case(
    t: &Traffic,
    case: &Case,
    p: &Params,
    base: Option<&Baseline>,
) -> Result<(Vec<RfcRow>, Baseline), String> {
    let recs: RefCell<Vec<Measured>> = RefCell::new(vec![]);
    let m0 = t.trial(&Offer::max_load(secs_dur(p.trial_secs)))?;
    let ceiling = m0.gen.rate();
    if m0.gen.sent == 0 {
        return Err("the generator sent nothing".into());
    }
    recs.borrow_mut().push(m0);
    let line_rate = base.map_or(ceiling, |b| b.ceiling_fps);
    let cfg = search::Config {
        min: ceiling * 1e-3,
        max: ceiling,
        resolution: p.resolution,
        trial_secs: p.trial_secs,
        final_secs: p.final_secs,
        max_trials: p.max_trials,
        max_offered_miss: Some(MAX_OFFERED_MISS),
    };
    let device = |rate: f64, secs: f64| -> Result<Trial, String> {
        let m = t.trial(&Offer {
            rate: Some(rate),
            duration: secs_dur(secs),
            frames: None,
        })?;
        let mut r = recs.borrow_mut();
        r.push(m);
        let tr = m.trial(rate, m.gen.rate(), secs, r.len() - 1);
        log_trial(p, case, "rate", &tr);
        Ok(tr)
    };
    let mut s = Search::new(cfg, device)?;
    s.seed(m0.trial(ceiling, ceiling, p.trial_secs, 0));
    let ndr = s.find(0.0)?;
    let pdr = s.find(p.pdr_loss)?;
    drop(s);
    let recs = recs.into_inner();
    let mut rows = vec![];
    for (crit, f) in [(Criterion::Ndr, &ndr), (Criterion::Pdr, &pdr)] {
        let mut r = case.row(Test::Throughput(crit));
        let Some(best) = f.best else {
            rows.push(r.failed(f.note.as_deref().unwrap_or("no rate passed")));
            continue;
        };
        let m = &recs[best.id];
        let secs = m.gen.elapsed.as_secs_f64().max(1e-9);
        let rx = m.rx_fps();
        let cpu = m.cpu_above(base);
        r.set(res::TX_TARGET_FPS, best.target);
        r.set(res::TX_RATE_FPS, m.gen.rate());
        r.set(res::THROUGHPUT_RX_FPS, rx);
        r.set(res::THROUGHPUT_RX_PERCENT, 100.0 * rx / line_rate);
        r.set(res::THROUGHPUT_RX_MBPS, rx * case.size as f64 * 8.0 / 1e6);
        r.set(res::FRAME_LOSS_PERCENT, 100.0 * best.loss());
        if m.received > 0 {
            r.set(res::CPU_NS_PER_PKT, cpu / m.received as f64);
        }
        r.set(res::CORES_USED, cpu / secs / 1e9);
        if case.deployment == Deployment::Pvp {
            r.set(res::VM_CORES_USED, m.vm_cpu_ns as f64 / secs / 1e9);
        }
        // NDR counts the max-load trial that starts the search.
        let extra = usize::from(crit == Criterion::Ndr);
        r.set(res::TRIALS, (f.trials + extra) as f64);
        r.set(res::REFUSED_TRIALS, f.refused as f64);
        r.set(res::VERIFIED, f64::from(u8::from(f.verified)));
        if let Some(u) = f.upper {
            r.set(res::UPPER_BOUND, u);
        }
        r.set(res::MAX_LOAD_RX_FPS, m0.rx_fps());
        r.set(res::GENERATOR_CEILING_FPS, f.ceiling);
        note_search(&mut r, f, "rate");
        rows.push(r);
    }
    // As a baseline (for `direct`): the cost per frame at NDR, or at max load without one.
    let at_ndr = ndr.best.map_or(m0, |b| recs[b.id]);
    let own = Baseline {
        ceiling_fps: ceiling,
        cpu_per_offered_ns: at_ndr.cpu_ns as f64 / at_ndr.gen.sent.max(1) as f64,
    };
    for &pct in &p.latency_loads {
        let r = case.row(Test::Latency {
            percent_of_pdr: pct,
        });
        rows.push(match pdr.load {
            None => r.failed("no PDR rate to load at"),
            Some(rate) => latency_row(t, r, rate * f64::from(pct) / 100.0, p),
        });
    }
    rows.push(b2b_row(t, case, p, line_rate.min(ceiling))?);
    Ok((rows, own))
}

/// With `--verbose`, one line per trial on stderr.
fn log_trial(p: &Params, case: &Case, what: &str, t: &Trial) {
    if p.verbose {
        eprintln!(
            "  {} {}B {}f {what} {:.0} (achieved {:.0}) {} s: sent {} received {} loss {:.4} %",
            case.system,
            case.size,
            case.flows,
            t.target,
            t.achieved,
            t.secs,
            t.sent,
            t.received,
            t.loss() * 100.0
        );
    }
}

/// Notes common to rate and burst searches: generator-limited, incomplete.
fn note_search(r: &mut RfcRow, f: &Found, what: &str) {
    if f.generator_limited {
        r.note(&format!(
            "no loss at the generator's ceiling: the system's {what} limit is higher"
        ));
    }
    if let Some(n) = &f.note {
        r.note(n);
    }
}

/// One latency trial at `rate` with probes: `r` with its figures, or failed with the reason.
fn latency_row(t: &Traffic, mut r: RfcRow, rate: f64, p: &Params) -> RfcRow {
    let secs = p.final_secs;
    let probe = RrConfig {
        dur: secs_dur(secs * 0.9),
        interval: Some(p.probe_interval),
        no_checksum: true,
    };
    let (bg, rr): (Result<Measured, String>, std::io::Result<RrResult>) = std::thread::scope(|s| {
        let bg = s.spawn(|| {
            t.trial(&Offer {
                rate: Some(rate),
                duration: secs_dur(secs),
                frames: None,
            })
        });
        std::thread::sleep(secs_dur(secs * 0.05));
        let rr = measure::udp_rr(&t.bed.gen, &t.bed.sink, SINK_IP, probe, t.stop);
        let bg = bg
            .join()
            .unwrap_or_else(|_| Err("generator thread panicked".into()));
        (bg, rr)
    });
    let (m, rr) = match (bg, rr) {
        (Err(e), _) => return r.failed(&e),
        (_, Err(e)) => return r.failed(&format!("probes: {e}")),
        (Ok(_), Ok(rr)) if rr.rtt.is_empty() => return r.failed("no probe came back"),
        (Ok(m), Ok(rr)) => (m, rr),
    };
    let background = m.received.saturating_sub(rr.server_rx).min(m.gen.sent);
    let secs = m.gen.elapsed.as_secs_f64().max(1e-9);
    r.set(res::TX_TARGET_FPS, rate);
    r.set(res::TX_RATE_FPS, m.gen.rate());
    r.set(res::THROUGHPUT_RX_FPS, background as f64 / secs);
    r.set(
        res::FRAME_LOSS_PERCENT,
        100.0 * (m.gen.sent - background) as f64 / m.gen.sent.max(1) as f64,
    );
    for (name, v) in stats::latency_figures(&rr.rtt) {
        r.set(name, v);
    }
    r.set(res::PROBES, (rr.rtt.len() + rr.lost as u64) as f64);
    r.set(res::PROBES_LOST, rr.lost as f64);
    r.histogram = Some(rr.rtt);
    r
}

/// The back-to-back search: bursts of `BATCH` frames up to `b2b_secs` at `line_rate`.
fn b2b_row(t: &Traffic, case: &Case, p: &Params, line_rate: f64) -> Result<RfcRow, String> {
    let mut r = case.row(Test::BackToBack);
    let recs: RefCell<Vec<Measured>> = RefCell::new(vec![]);
    let max = (line_rate * p.b2b_secs).max(2.0 * BATCH as f64);
    let cfg = search::Config {
        min: BATCH as f64,
        max,
        resolution: p.resolution,
        // Burst trials have no duration: the two levels only make the search repeat the
        // burst it found, as its verification.
        trial_secs: 1.0,
        final_secs: 2.0,
        max_trials: p.max_trials,
        max_offered_miss: None,
    };
    let device = |n: f64, secs: f64| -> Result<Trial, String> {
        // The search's load is what it asked for (n), the burst its nearest whole count.
        let m = t.trial(&Offer {
            rate: None,
            duration: Duration::from_secs(60),
            frames: Some(n.round().max(1.0) as u64),
        })?;
        let mut rs = recs.borrow_mut();
        rs.push(m);
        let tr = m.trial(
            n,
            n * m.gen.sent as f64 / n.round().max(1.0),
            secs,
            rs.len() - 1,
        );
        log_trial(p, case, "burst", &tr);
        Ok(tr)
    };
    let mut s = Search::new(cfg, device)?;
    let f = s.find(0.0)?;
    drop(s);
    let recs = recs.into_inner();
    let Some(best) = f.best else {
        return Ok(r.failed(f.note.as_deref().unwrap_or("every burst lost frames")));
    };
    let m = &recs[best.id];
    r.set(res::B2B_FRAMES, best.sent as f64);
    r.set(res::B2B_TX_FPS, m.gen.rate());
    r.set(res::B2B_FRAME_LOSS_PERCENT, 100.0 * best.loss());
    r.set(res::TRIALS, f.trials as f64);
    r.set(res::VERIFIED, f64::from(u8::from(f.verified)));
    r.set(res::B2B_MAX_FRAMES, max);
    note_search(&mut r, &f, "burst");
    Ok(r)
}
