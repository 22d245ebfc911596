//! The RFC 2544 / RFC 9004 search of `rvs-bench --method ndr`: the highest load a device
//! forwards with a loss ratio at or below a threshold (0 for NDR, `--pdr-loss` for PDR), found
//! by trials at fixed loads. I/O-free: a trial is a closure, so the search is tested against
//! simulated devices whose loss curve is known.
//!
//! The same engine searches frame rates (throughput: load = frames/s offered) and burst
//! lengths (back-to-back: load = frames sent at the generator's full speed).
//!
//! The search (simplified MLRsearch, FD.io CSIT):
//! - bounds come from the trial history: the *upper* bound is the lowest load that failed at
//!   any duration, the *lower* bound the highest load below it that passed at the current
//!   duration level (passes above a failure are noise and are ignored);
//! - with no lower bound it steps down from the upper bound (the first step goes to the rate
//!   the device actually forwarded, then by a width doubling each time: resolution × 2^k);
//!   with no upper bound it steps up to the generator's ceiling; with both it bisects;
//! - when the interval is no wider than the resolution (relative to the upper bound), one
//!   trial of the final duration runs at the lower bound: the verification. If it fails, the
//!   search carries on at the final duration, so a later pass is verified by construction;
//! - a trial whose achieved offered load misses its target by more than
//!   [`Config::max_offered_miss`] measured the generator, not the device: it is refused (not
//!   evidence), retried once, and a second miss lowers the ceiling to what the generator
//!   achieved. A pass at the ceiling is reported as generator-limited.
//!
//! Invariant: a [`Found`] with `verified` set carries a final-duration trial at its load
//! whose loss is within the threshold.

/// One trial as the search sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trial {
    /// The load asked for: frames/s (rate search) or frames (burst search).
    pub target: f64,
    /// The load the generator achieved, in the same unit.
    pub achieved: f64,
    /// Frames sent.
    pub sent: u64,
    /// Frames the sink received (more than sent counts as no loss).
    pub received: u64,
    /// The trial's duration, seconds (what was asked; a burst search uses it only as a level).
    pub secs: f64,
    /// The caller's identifier of this measurement (e.g. an index into its own records).
    pub id: usize,
}

impl Trial {
    /// Lost frames / sent frames (1 when nothing was sent).
    pub fn loss(&self) -> f64 {
        if self.sent == 0 {
            return 1.0;
        }
        self.sent.saturating_sub(self.received) as f64 / self.sent as f64
    }

    /// Whether the loss is within `max_loss` (for NDR, `max_loss` = 0: no frame lost).
    pub fn passes(&self, max_loss: f64) -> bool {
        self.loss() <= max_loss
    }

    /// The load the device forwarded: achieved × received / sent.
    pub fn forwarded(&self) -> f64 {
        self.achieved * (1.0 - self.loss())
    }

    /// Whether the achieved load missed the target by more than `miss` (relative).
    pub fn missed(&self, miss: f64) -> bool {
        self.target > 0.0 && (self.achieved - self.target).abs() / self.target > miss
    }
}

/// What the search needs to know.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    /// Lowest load tried; a device that fails there has no NDR/PDR to report.
    pub min: f64,
    /// Highest load: the generator's ceiling.
    pub max: f64,
    /// Goal width of the final interval, relative to its upper bound (0.01 = 1 %).
    pub resolution: f64,
    /// Duration of search trials, seconds.
    pub trial_secs: f64,
    /// Duration of the verification trial, seconds.
    pub final_secs: f64,
    /// Most trials one [`Search::find`] may run (refused ones count).
    pub max_trials: usize,
    /// Largest relative miss of the achieved offered load before a trial is refused;
    /// `None` never refuses (burst search).
    pub max_offered_miss: Option<f64>,
}

impl Config {
    /// Check the configuration; the error says which value is wrong.
    pub fn check(&self) -> Result<(), String> {
        let pos = |v: f64| v.is_finite() && v > 0.0;
        if !(pos(self.min) && pos(self.max) && self.min <= self.max) {
            return Err(format!("bad search range {}..{}", self.min, self.max));
        }
        if !(pos(self.resolution) && self.resolution < 0.5) {
            return Err(format!("resolution {} outside (0, 0.5)", self.resolution));
        }
        if !(pos(self.trial_secs) && pos(self.final_secs)) {
            return Err("trial durations must be > 0".into());
        }
        if self.max_trials < 2 {
            return Err("max_trials must be at least 2".into());
        }
        Ok(())
    }
}

/// The outcome of one [`Search::find`].
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// Loss threshold searched for.
    pub max_loss: f64,
    /// The highest load that passed (`None`: even [`Config::min`] failed).
    pub load: Option<f64>,
    /// The trial that established `load` (the verification, when there is one).
    pub best: Option<Trial>,
    /// The final-duration trial at `load` (`None` when the search stopped without one).
    pub verification: Option<Trial>,
    /// True when `verification` passed: the load is verified.
    pub verified: bool,
    /// Lowest failing load when the search ended (`None`: nothing failed).
    pub upper: Option<f64>,
    /// Passed at the generator's ceiling with no failure above: the device may do more.
    pub generator_limited: bool,
    /// The ceiling at the end (lowered by refused trials).
    pub ceiling: f64,
    /// Trials this search ran, refused ones included.
    pub trials: usize,
    /// Of which refused (generator missed its target).
    pub refused: usize,
    /// Why the result is incomplete, if it is.
    pub note: Option<String>,
}

/// A search over one device, keeping the trial history across [`Search::find`] calls (NDR
/// first, then PDR reuses its trials).
#[derive(Debug)]
pub struct Search<F> {
    cfg: Config,
    ceiling: f64,
    history: Vec<Trial>,
    device: F,
    trials: usize,
    refused: usize,
}

impl<F> Search<F>
where
    F: FnMut(f64, f64) -> Result<Trial, String>,
{
    /// A search of `device`: `device(load, secs)` runs one trial and reports it.
    pub fn new(cfg: Config, device: F) -> Result<Search<F>, String> {
        cfg.check()?;
        Ok(Search {
            ceiling: cfg.max,
            cfg,
            history: vec![],
            device,
            trials: 0,
            refused: 0,
        })
    }

    /// Add a trial run elsewhere (e.g. a maximum-load trial) to the evidence.
    pub fn seed(&mut self, t: Trial) {
        self.history.push(t);
    }

    /// Every trial accepted as evidence so far.
    pub fn history(&self) -> &[Trial] {
        &self.history
    }

    /// The lowest failing trial at any duration, and the highest passing one below it at a
    /// duration of at least `level` and within the ceiling.
    fn bounds(&self, max_loss: f64, level: f64) -> (Option<Trial>, Option<Trial>) {
        let hi = self
            .history
            .iter()
            .filter(|t| !t.passes(max_loss))
            .min_by(|a, b| a.target.total_cmp(&b.target))
            .copied();
        let lo = self
            .history
            .iter()
            .filter(|t| t.passes(max_loss) && t.secs >= level)
            .filter(|t| t.target <= self.ceiling * (1.0 + 1e-9))
            .filter(|t| hi.is_none_or(|h| t.target < h.target))
            .max_by(|a, b| a.target.total_cmp(&b.target))
            .copied();
        (lo, hi)
    }

    /// Run one trial; a refused one lowers the ceiling on its second consecutive miss and
    /// is not kept as evidence. Returns whether the trial counts.
    fn run(&mut self, load: f64, secs: f64, missed_before: &mut bool) -> Result<bool, String> {
        let t = (self.device)(load, secs)?;
        self.trials += 1;
        if let Some(miss) = self.cfg.max_offered_miss {
            if t.missed(miss) {
                self.refused += 1;
                if *missed_before && t.achieved < t.target {
                    self.ceiling = self
                        .ceiling
                        .min(t.achieved * (1.0 - miss / 2.0))
                        .max(self.cfg.min);
                    *missed_before = false;
                } else {
                    *missed_before = true;
                }
                return Ok(false);
            }
        }
        *missed_before = false;
        self.history.push(t);
        Ok(true)
    }

    /// Find the highest load with loss ≤ `max_loss` (0 for NDR).
    pub fn find(&mut self, max_loss: f64) -> Result<Found, String> {
        let (t0, r0) = (self.trials, self.refused);
        let cfg = self.cfg;
        let res = cfg.resolution;
        let mut level = cfg.trial_secs.min(cfg.final_secs);
        let (mut k_down, mut k_up) = (0i32, 0i32);
        let mut missed = false;
        let done = |s: &Search<F>, lo: Option<Trial>, hi: Option<Trial>, ver: Option<Trial>| {
            let verified = ver.is_some_and(|v| v.passes(max_loss));
            Found {
                max_loss,
                load: lo.map(|l| l.target),
                best: ver.or(lo),
                verification: ver,
                verified,
                upper: hi.map(|h| h.target),
                generator_limited: hi.is_none()
                    && lo.is_some_and(|l| l.target >= s.ceiling * (1.0 - res)),
                ceiling: s.ceiling,
                trials: s.trials - t0,
                refused: s.refused - r0,
                note: None,
            }
        };
        loop {
            let (lo, hi) = self.bounds(max_loss, level);
            if self.trials - t0 >= cfg.max_trials {
                let mut f = done(self, lo, hi, None);
                f.note = Some(format!(
                    "stopped after {} trials, not verified",
                    cfg.max_trials
                ));
                return Ok(f);
            }
            let converged = match (lo, hi) {
                (Some(l), Some(h)) => (h.target - l.target) / h.target <= res,
                (Some(l), None) => l.target >= self.ceiling * (1.0 - res),
                _ => false,
            };
            if let (true, Some(l)) = (converged, lo) {
                if l.secs >= cfg.final_secs {
                    return Ok(done(self, lo, hi, Some(l)));
                }
                if self.run(l.target, cfg.final_secs, &mut missed)? {
                    let v = *self.history.last().expect("just pushed");
                    if v.passes(max_loss) {
                        return Ok(done(self, lo, hi, Some(v)));
                    }
                    // Not reproducible at the final duration: search on at that duration.
                    level = cfg.final_secs;
                    k_down = 0;
                }
                continue;
            }
            let next = match (lo, hi) {
                (None, None) => self.ceiling,
                (None, Some(h)) => {
                    if h.target <= cfg.min * (1.0 + 1e-9) {
                        let mut f = done(self, None, hi, None);
                        f.note = Some(format!("loss above threshold even at {:.0}", cfg.min));
                        return Ok(f);
                    }
                    let from = h.target.min(h.forwarded().max(cfg.min));
                    let step = (res * 2f64.powi(k_down)).min(0.5);
                    k_down += 1;
                    (from * (1.0 - step)).max(cfg.min)
                }
                (Some(l), None) => {
                    let step = res * 2f64.powi(k_up);
                    k_up += 1;
                    (l.target * (1.0 + step)).min(self.ceiling)
                }
                // Geometric while the interval spans more than a factor 2 (burst lengths
                // from 64 to millions), arithmetic after.
                (Some(l), Some(h)) if h.target > 2.0 * l.target => (l.target * h.target).sqrt(),
                (Some(l), Some(h)) => (l.target + h.target) / 2.0,
            };
            self.run(next.min(self.ceiling), level, &mut missed)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A simulated device: no loss up to `ndr`, then a loss ratio growing linearly with the
    /// excess (`slope` × (rate − ndr) / rate); a generator that cannot exceed `gen_max`.
    #[derive(Debug, Clone, Copy)]
    struct Sim {
        ndr: f64,
        slope: f64,
        gen_max: f64,
    }

    impl Sim {
        fn loss(&self, rate: f64) -> f64 {
            if rate <= self.ndr {
                0.0
            } else {
                (self.slope * (rate - self.ndr) / rate).min(1.0)
            }
        }
        /// The rate whose loss equals `l`: slope·(r − ndr)/r = l.
        fn rate_at_loss(&self, l: f64) -> f64 {
            self.ndr / (1.0 - l / self.slope)
        }
        fn trial(&self, rate: f64, secs: f64) -> Trial {
            let achieved = rate.min(self.gen_max);
            let sent = (achieved * secs).round() as u64;
            let received = ((1.0 - self.loss(achieved)) * sent as f64).floor() as u64;
            Trial {
                target: rate,
                achieved,
                sent,
                received,
                secs,
                id: 0,
            }
        }
    }

    /// A trial whose generator hit its target exactly.
    fn exact(load: f64, secs: f64, sent: u64, received: u64) -> Result<Trial, String> {
        Ok(Trial {
            target: load,
            achieved: load,
            sent,
            received,
            secs,
            id: 0,
        })
    }

    fn cfg(max: f64) -> Config {
        Config {
            min: max / 1000.0,
            max,
            resolution: 0.01,
            trial_secs: 1.0,
            final_secs: 10.0,
            max_trials: 40,
            max_offered_miss: Some(0.01),
        }
    }

    #[test]
    fn finds_ndr_and_pdr_within_resolution() {
        for (ndr, slope) in [(400_000.0, 0.1), (123_456.0, 1.0), (990_000.0, 0.3)] {
            let sim = Sim {
                ndr,
                slope,
                gen_max: 2e6,
            };
            let c = cfg(1e6);
            let mut s = Search::new(c, |r, secs| Ok(sim.trial(r, secs))).unwrap();
            let n = s.find(0.0).unwrap();
            let load = n.load.unwrap();
            assert!(n.verified, "{n:?}");
            assert!(
                load <= ndr && load >= ndr * (1.0 - c.resolution),
                "NDR {load} vs true {ndr}: {n:?}"
            );
            let v = n.verification.unwrap();
            assert_eq!(v.secs, c.final_secs);
            assert_eq!(v.loss(), 0.0);
            assert!(n.trials < 20, "{n:?}");
            let p = s.find(0.005).unwrap();
            let true_pdr = sim.rate_at_loss(0.005).min(1e6);
            let pl = p.load.unwrap();
            assert!(
                p.verified && p.verification.unwrap().loss() <= 0.005,
                "{p:?}"
            );
            assert!(
                pl <= true_pdr && pl >= true_pdr * (1.0 - c.resolution) && pl >= load,
                "PDR {pl} vs true {true_pdr}: {p:?}"
            );
        }
    }

    #[test]
    fn a_generator_below_the_device_gives_a_generator_limited_result() {
        let sim = Sim {
            ndr: 2e6,
            slope: 1.0,
            gen_max: 700_000.0,
        };
        let mut s = Search::new(cfg(1e6), |r, secs| Ok(sim.trial(r, secs))).unwrap();
        let n = s.find(0.0).unwrap();
        assert!(n.generator_limited && n.verified, "{n:?}");
        assert!(n.refused >= 2, "the ceiling trials were refused: {n:?}");
        let load = n.load.unwrap();
        assert!(load <= 700_000.0 && load > 690_000.0, "{n:?}");
        assert!(n.ceiling < 1e6);
    }

    #[test]
    fn a_failed_verification_continues_at_the_final_duration() {
        // Passes short trials up to 500k but long ones only up to 450k.
        let dev = |r: f64, secs: f64| {
            let lim = if secs >= 10.0 { 450_000.0 } else { 500_000.0 };
            let sent = (r * secs) as u64;
            exact(
                r,
                secs,
                sent,
                if r <= lim { sent } else { sent - sent / 100 },
            )
        };
        let c = cfg(1e6);
        let mut s = Search::new(c, dev).unwrap();
        let n = s.find(0.0).unwrap();
        let load = n.load.unwrap();
        assert!(n.verified, "{n:?}");
        assert!(
            load <= 450_000.0 && load >= 450_000.0 * (1.0 - c.resolution),
            "{n:?}"
        );
        assert_eq!(n.verification.unwrap().secs, 10.0);
    }

    #[test]
    fn a_device_that_always_loses_has_no_ndr() {
        let dev = |r: f64, secs: f64| {
            let sent = (r * secs) as u64;
            exact(r, secs, sent, sent / 2)
        };
        let mut s = Search::new(cfg(1e6), dev).unwrap();
        let n = s.find(0.0).unwrap();
        assert_eq!(n.load, None);
        assert!(!n.verified);
        assert!(n.note.unwrap().contains("even at"));
        assert_eq!(n.upper, Some(1000.0));
    }

    #[test]
    fn the_trial_cap_stops_an_unverifiable_search() {
        // Every verification fails: short trials pass everywhere, long ones lose one frame
        // everywhere (so the descent is slow and the cap ends it).
        let dev = |r: f64, secs: f64| {
            let sent = (r * secs) as u64;
            exact(r, secs, sent, if secs < 10.0 { sent } else { sent - 1 })
        };
        let mut c = cfg(1e6);
        c.max_trials = 12;
        let mut s = Search::new(c, dev).unwrap();
        let n = s.find(0.0).unwrap();
        assert!(!n.verified);
        assert!(n.trials <= 12);
        assert!(n.note.unwrap().contains("stopped after 12 trials"));
    }

    #[test]
    fn burst_search_finds_the_buffer() {
        // A device that absorbs bursts of up to 3000 frames, then drops the rest.
        let buffer = 3000.0;
        let dev = |n: f64, secs: f64| {
            let sent = n.round() as u64;
            exact(n, secs, sent, sent.min(buffer as u64))
        };
        let c = Config {
            min: 64.0,
            max: 1e6,
            resolution: 0.02,
            trial_secs: 1.0,
            final_secs: 2.0,
            max_trials: 40,
            max_offered_miss: None,
        };
        let mut s = Search::new(c, dev).unwrap();
        let f = s.find(0.0).unwrap();
        let n = f.load.unwrap();
        assert!(f.verified && n <= buffer && n >= buffer * 0.98, "{f:?}");
        assert_eq!(
            f.verification.unwrap().secs,
            2.0,
            "the burst was repeated: {f:?}"
        );
        // A device with a buffer beyond the longest burst: verified at the maximum.
        let mut s = Search::new(c, |n: f64, secs: f64| exact(n, secs, n as u64, n as u64)).unwrap();
        let f = s.find(0.0).unwrap();
        assert!(
            f.verified && f.generator_limited && f.load == Some(1e6),
            "{f:?}"
        );
        assert_eq!(f.trials, 2, "{f:?}");
    }

    #[test]
    fn bad_configurations_are_errors() {
        let dev = |_: f64, _: f64| Err::<Trial, String>("unused".into());
        let mut c = cfg(1e6);
        c.resolution = 0.0;
        assert!(Search::new(c, dev).is_err());
        let mut c = cfg(1e6);
        c.min = 2e6;
        assert!(Search::new(c, dev).is_err());
        let mut c = cfg(1e6);
        c.final_secs = f64::NAN;
        assert!(Search::new(c, dev).is_err());
    }

    #[test]
    fn device_errors_end_the_search() {
        let mut s =
            Search::new(cfg(1e6), |_: f64, _: f64| Err("sink vanished".to_string())).unwrap();
        assert_eq!(s.find(0.0).unwrap_err(), "sink vanished");
    }
}
