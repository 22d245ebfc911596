//! FDB lookup and learn cost at 1, 1k and 8k entries (should stay flat).

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};
use rvs_bench::mac;
use rvs_datapath::fdb::Fdb;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("fdb");
    for n in [1u32, 1000, 8192] {
        let f = Fdb::new(8192);
        for i in 0..n {
            f.learn(0, mac(i), (i % 8) as u16 + 1, 0);
        }
        let mut i = 0u32;
        g.bench_with_input(BenchmarkId::new("lookup_hit", n), &n, |b, &n| {
            b.iter(|| {
                i = (i + 1) % n;
                black_box(f.lookup(0, mac(i)))
            })
        });
        g.bench_with_input(BenchmarkId::new("lookup_miss", n), &n, |b, _| {
            b.iter(|| black_box(f.lookup(0, mac(0xff_0000))))
        });
        g.bench_with_input(BenchmarkId::new("learn_refresh", n), &n, |b, &n| {
            b.iter(|| {
                i = (i + 1) % n;
                black_box(f.learn(0, mac(i), (i % 8) as u16 + 1, 1))
            })
        });
    }
    // Learning new addresses into a full table (each learn evicts one).
    let f = Fdb::new(8192);
    let mut k = 0u32;
    g.bench_function("learn_new_full_table", |b| {
        b.iter(|| {
            k = k.wrapping_add(1);
            black_box(f.learn(0, mac(k), 1, 0))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
