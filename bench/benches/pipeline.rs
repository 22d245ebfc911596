//! The pipeline per batch of 32 (divide by 32 for ns/packet):
//! - `normal_no_cache_batch32`: NORMAL alone (classify + learn + lookup + output sort), the
//!   flow cache unable to hold anything;
//! - `normal_unicast_batch32`: flow cache off the path (every batch's flows are new): the
//!   full NORMAL "upcall" — classify, learn, look up, install the flow, sort into outputs;
//! - `cache_hit/N`: N flows installed, batches cycle through them: cache hits;
//! - `cache_miss/N`: N flows installed, every batch brings 32 new flows.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rvs_bench::{mac, udp_frame};
use rvs_datapath::fdb::Fdb;
use rvs_datapath::packet::{Batch, PacketPool, BATCH_SIZE};
use rvs_datapath::pipeline::{Outputs, Switch};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Rig {
    sw: Switch,
    pool: PacketPool,
    out: Outputs,
    batch: Batch,
}

impl Rig {
    fn new() -> Rig {
        let mut sw = Switch::new();
        let fdb = Arc::new(Fdb::new(262_144));
        let br = sw.add_bridge(fdb.clone());
        for p in 1..=4 {
            sw.add_port(p, br);
        }
        for i in 0..BATCH_SIZE as u32 {
            fdb.learn(0, mac(1_000_000 + i), (i % 3) as u16 + 2, 0);
        }
        Rig {
            sw,
            pool: PacketPool::new(128),
            out: Outputs::new(),
            batch: Batch::new(),
        }
    }

    /// Time `process` on one batch of flows `first..first+32` (sources vary, destinations
    /// are the 32 known hosts).
    fn timed_batch(&mut self, first: u32) -> Duration {
        for i in 0..BATCH_SIZE as u32 {
            let mut p = self.pool.get().unwrap();
            assert!(p.set_frame(&udp_frame(mac(1_000_000 + i), mac(first + i))));
            p.meta.in_port = 1;
            let _ = self.batch.push(p);
        }
        let t = Instant::now();
        self.sw.process(
            black_box(&mut self.batch),
            1000,
            &mut self.pool,
            &mut self.out,
        );
        let d = t.elapsed();
        self.out.flush(&mut self.pool, |_, b, pool| {
            for p in b.drain() {
                pool.put(p);
            }
        });
        d
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Elements(BATCH_SIZE as u64));
    // NORMAL alone: a cache that can hold nothing, so every frame is classify + learn +
    // lookup (plus one empty-table probe), nothing installed.
    let mut r = Rig::new();
    r.sw.flows = rvs_datapath::flow::FlowCache::new(0);
    g.bench_function("normal_no_cache_batch32", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| r.timed_batch(0)).sum())
    });
    let mut r = Rig::new();
    g.bench_function("normal_unicast_batch32", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    r.sw.flows.clear();
                    r.timed_batch(0)
                })
                .sum()
        })
    });
    for n in [32u32, 1024, 100_000] {
        let mut r = Rig::new();
        for first in (0..n).step_by(BATCH_SIZE) {
            r.timed_batch(first);
        }
        assert_eq!(r.sw.flows.len(), n as usize);
        let mut next = 0u32;
        g.bench_with_input(BenchmarkId::new("cache_hit", n), &n, |b, &n| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        next = (next + BATCH_SIZE as u32) % n;
                        r.timed_batch(next)
                    })
                    .sum()
            })
        });
        let mut fresh = 10_000_000u32;
        g.bench_with_input(BenchmarkId::new("cache_miss", n), &n, |b, _| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        fresh += BATCH_SIZE as u32;
                        r.timed_batch(fresh)
                    })
                    .sum()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
