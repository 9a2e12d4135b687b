//! Ring lookups on rings of 10, 100 and 1000 nodes (3 virtual nodes each),
//! every lookup with a distinct key, no cache.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use notp::{CHash, Node};

const KEYS: usize = 1 << 16;

fn ring_of(n: usize) -> CHash {
    let mut ring = CHash::new(3, 2);
    for i in 0..n {
        ring.insert(
            Node::new(format!("node{i}"), "127.0.0.1", 7000 + i as u16),
            None,
        )
        .expect("positive default weight");
    }
    ring
}

fn lookups(c: &mut Criterion) {
    let keys: Vec<String> = (0..KEYS).map(|i| format!("key{i}")).collect();
    let mut group = c.benchmark_group("ring");
    group.throughput(Throughput::Elements(1));
    for n in [10, 100, 1000] {
        let ring = ring_of(n);
        let mut i = 0usize;
        group.bench_function(format!("find/{n}"), |b| {
            b.iter(|| {
                i = (i + 1) & (KEYS - 1);
                black_box(ring.find(black_box(keys[i].as_bytes())))
            })
        });
        let mut out = Vec::with_capacity(3);
        group.bench_function(format!("range_next3/{n}"), |b| {
            b.iter(|| {
                i = (i + 1) & (KEYS - 1);
                ring.range_next_slots(black_box(keys[i].as_bytes()), Some(3), &mut out);
                black_box(out.len())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, lookups);
criterion_main!(benches);
