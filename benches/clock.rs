//! Vector clock operations on clocks of 50 actors.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use notp::VectorClock;

const ACTORS: usize = 50;

fn clock_ops(c: &mut Criterion) {
    let ids: Vec<String> = (0..ACTORS)
        .map(|i| format!("{:08x}-actor-{i}", i * 7919))
        .collect();
    let mut a = VectorClock::new();
    let mut b = VectorClock::new();
    for (i, id) in ids.iter().enumerate() {
        a.increment(id);
        b.increment(id);
        if i % 2 == 0 {
            b.increment(id);
        }
    }
    let mut group = c.benchmark_group("clock");
    group.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    let mut inc = a.clone();
    group.bench_function("increment/50", |bn| {
        bn.iter(|| {
            i = (i + 1) % ACTORS;
            inc.increment(black_box(&ids[i]));
        })
    });
    group.bench_function("merge/50", |bn| {
        bn.iter(|| {
            let mut m = a.clone();
            m.merge(black_box(&b));
            black_box(m.size())
        })
    });
    group.bench_function("clone/50 (merge baseline)", |bn| {
        bn.iter(|| black_box(a.clone()))
    });
    group.bench_function("descends/50", |bn| {
        bn.iter(|| black_box(b.descends(black_box(&a))))
    });
    group.finish();
}

criterion_group!(benches, clock_ops);
criterion_main!(benches);
