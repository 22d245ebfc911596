//! The whole NORMAL pipeline per batch of 32: classify + learn + lookup + output sort.
//! Reported per batch; divide by 32 for ns/packet.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use rvs_bench::{mac, udp_frame};
use rvs_datapath::fdb::Fdb;
use rvs_datapath::packet::{Batch, PacketPool, BATCH_SIZE};
use rvs_datapath::pipeline::{Outputs, Switch};
use std::sync::Arc;

fn bench(c: &mut Criterion) {
    let mut sw = Switch::new();
    let fdb = Arc::new(Fdb::new(8192));
    let br = sw.add_bridge(fdb.clone());
    for p in 1..=4 {
        sw.add_port(p, br);
    }
    // 32 distinct flows from port 1 to hosts known on ports 2..4.
    let frames: Vec<Vec<u8>> = (0..BATCH_SIZE as u32)
        .map(|i| {
            let dst = mac(1000 + i);
            fdb.learn(0, dst, (i % 3) as u16 + 2, 0);
            udp_frame(dst, mac(i))
        })
        .collect();
    let mut pool = PacketPool::new(128);
    let mut out = Outputs::new();
    let mut batch = Batch::new();
    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Elements(BATCH_SIZE as u64));
    // Only `process` is timed: classify + learn + lookup + sorting into output batches.
    // Filling the batch (what a port's rx does) and recycling the outputs are not.
    g.bench_function("normal_unicast_batch32", |b| {
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            for _ in 0..iters {
                for f in &frames {
                    let mut p = pool.get().unwrap();
                    p.set_frame(f);
                    p.meta.in_port = 1;
                    let _ = batch.push(p);
                }
                let t = std::time::Instant::now();
                sw.process(black_box(&mut batch), 1000, &mut pool, &mut out);
                total += t.elapsed();
                out.flush(&mut pool, |_, b, pool| {
                    for p in b.drain() {
                        pool.put(p);
                    }
                });
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
