//! Statistics of `rvs-bench` results: the spread of a figure over repeated runs
//! (min / median / max, spread = (max − min) / median), and latency histograms (HdrHistogram,
//! nanoseconds, 3 significant figures) with their percentiles and a compact JSON form.
//!
//! Invariants: non-finite values are ignored by [`Spread::of`]; a latency value above
//! [`LATENCY_MAX_NS`] is recorded as that maximum (a histogram never rejects a sample).

use hdrhistogram::Histogram;
use serde_json::{json, Value};

/// Highest latency a histogram holds exactly: 60 s.
pub const LATENCY_MAX_NS: u64 = 60_000_000_000;

/// Min / median / max of one figure over repeated runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// Smallest value.
    pub min: f64,
    /// Median (mean of the two middle values for an even count).
    pub median: f64,
    /// Largest value.
    pub max: f64,
    /// Number of (finite) values.
    pub n: usize,
}

impl Spread {
    /// The spread of the finite values in `values` (`None` when there is none).
    pub fn of(values: &[f64]) -> Option<Spread> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Spread {
            min: v[0],
            median,
            max: v[n - 1],
            n,
        })
    }

    /// (max − min) / |median|: how reproducible the figure is (`None` for a zero median).
    pub fn relative(&self) -> Option<f64> {
        (self.median != 0.0).then(|| (self.max - self.min) / self.median.abs())
    }

    /// Whether the two ranges [min, max] overlap.
    pub fn overlaps(&self, other: &Spread) -> bool {
        self.min <= other.max && other.min <= self.max
    }

    /// JSON: `{"min", "median", "max", "spread_percent", "values"}`.
    pub fn to_json(&self, values: &[f64]) -> Value {
        json!({
            "min": self.min,
            "median": self.median,
            "max": self.max,
            "spread_percent": self.relative().map(|r| r * 100.0),
            "values": values,
        })
    }
}

/// An empty latency histogram: 1 ns to [`LATENCY_MAX_NS`], 3 significant figures.
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_MAX_NS, 3).expect("constant bounds are valid")
}

/// Record one latency (ns), clamped into the histogram's range.
pub fn record_latency(h: &mut Histogram<u64>, ns: u64) {
    h.saturating_record(ns.clamp(1, LATENCY_MAX_NS));
}

/// The latency figures of a histogram, named as VSPERF names them where it has a name:
/// `min_latency_ns`, `avg_latency_ns`, `max_latency_ns`, then `p50_latency_ns`,
/// `p99_latency_ns`, `p99_9_latency_ns`. Empty for an empty histogram.
pub fn latency_figures(h: &Histogram<u64>) -> Vec<(&'static str, f64)> {
    if h.is_empty() {
        return vec![];
    }
    vec![
        ("min_latency_ns", h.min() as f64),
        ("avg_latency_ns", h.mean()),
        ("max_latency_ns", h.max() as f64),
        ("p50_latency_ns", h.value_at_quantile(0.50) as f64),
        ("p99_latency_ns", h.value_at_quantile(0.99) as f64),
        ("p99_9_latency_ns", h.value_at_quantile(0.999) as f64),
    ]
}

/// Ratio between the edges of consecutive buckets of [`histogram_json`]: 2^(1/8), ≈ 9 %.
pub const BUCKET_RATIO: f64 = 1.090_507_732_665_257_7;

/// The histogram as JSON: logarithmic buckets from 1 µs up, each [`BUCKET_RATIO`] wider than
/// the one before, as `[upper_edge_ns, count]` for every non-empty one (about 8 a doubling,
/// so a few dozen, where the full-precision histogram has thousands; the percentiles come
/// from the full one).
pub fn histogram_json(h: &Histogram<u64>) -> Value {
    let buckets: Vec<Value> = h
        .iter_log(1000, BUCKET_RATIO)
        .filter(|v| v.count_since_last_iteration() > 0)
        .map(|v| json!([v.value_iterated_to(), v.count_since_last_iteration()]))
        .collect();
    json!({
        "unit": "ns",
        "count": h.len(),
        "bucket_ratio": BUCKET_RATIO,
        "buckets": buckets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_of_odd_and_even_counts() {
        let s = Spread::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.min, s.median, s.max, s.n), (1.0, 2.0, 3.0, 3));
        assert_eq!(s.relative(), Some(1.0));
        let s = Spread::of(&[4.0, 1.0, 2.0, 3.0]).unwrap();
        assert_eq!(s.median, 2.5);
        let s = Spread::of(&[5.0, f64::NAN]).unwrap();
        assert_eq!((s.min, s.median, s.max, s.n), (5.0, 5.0, 5.0, 1));
        assert_eq!(s.relative(), Some(0.0));
        assert!(Spread::of(&[]).is_none());
        assert!(Spread::of(&[f64::INFINITY]).is_none());
        assert_eq!(Spread::of(&[0.0, 0.0]).unwrap().relative(), None);
    }

    #[test]
    fn overlap_and_json() {
        let a = Spread::of(&[1.0, 2.0]).unwrap();
        let b = Spread::of(&[2.0, 3.0]).unwrap();
        let c = Spread::of(&[2.5, 3.0]).unwrap();
        assert!(a.overlaps(&b) && b.overlaps(&a));
        assert!(!a.overlaps(&c));
        let j = a.to_json(&[1.0, 2.0]);
        assert_eq!(j["median"], 1.5);
        assert!((j["spread_percent"].as_f64().unwrap() - 66.666).abs() < 0.01);
        assert_eq!(j["values"][1], 2.0);
    }

    #[test]
    fn latency_percentiles_and_buckets() {
        let mut h = latency_histogram();
        for us in 1..=1000u64 {
            record_latency(&mut h, us * 1000);
        }
        record_latency(&mut h, u64::MAX); // clamped, not lost
        let f: std::collections::HashMap<_, _> = latency_figures(&h).into_iter().collect();
        assert_eq!(f["min_latency_ns"], 1000.0);
        // 1001 samples: the median is the 501st (501 µs), p99 the 991st, within 0.1 %.
        let p50 = f["p50_latency_ns"];
        assert!((p50 - 501_000.0).abs() / 501_000.0 < 0.001, "{p50}");
        let p99 = f["p99_latency_ns"];
        assert!((p99 - 991_000.0).abs() / 991_000.0 < 0.001, "{p99}");
        assert!(f["max_latency_ns"] >= LATENCY_MAX_NS as f64 * 0.999);
        let j = histogram_json(&h);
        assert_eq!(j["count"], 1001);
        let b = j["buckets"].as_array().unwrap();
        let total: u64 = b.iter().map(|b| b[1].as_u64().unwrap()).sum();
        assert_eq!(total, 1001, "every sample is in a bucket");
        // 1 µs .. 1 ms is 10 doublings: about 80 buckets, plus the clamped maximum.
        assert!(b.len() > 60 && b.len() < 100, "{}", b.len());
        let edges: Vec<u64> = b.iter().map(|b| b[0].as_u64().unwrap()).collect();
        assert!(edges.windows(2).all(|w| w[0] < w[1]));
        assert!(latency_figures(&latency_histogram()).is_empty());
    }
}
