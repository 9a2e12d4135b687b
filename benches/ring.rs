//! Ring lookups on rings of 10, 100 and 1000 nodes (3 virtual nodes each),
//! every lookup with a distinct key, no cache.
//!
//! Beside them, a floor measured in the same run, so the figures can be read
//! on a busy machine: `floor/sha2_compress` hashes the same keys through the
//! `sha2` crate (padded by hand into one block, one `compress256`, which
//! uses the SHA extensions when the CPU has them), the way lookups hashed
//! before they had their own SHA-extension path. A lookup is a hash plus a
//! search, and its hash is now cheaper than the floor's, so `find/*` lands
//! near the floor (it was the floor plus 35 to 50 ns at 1000 nodes). Compare
//! the figures with the floor rather than with a figure from another run.

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

fn keys() -> Vec<String> {
    (0..KEYS).map(|i| format!("key{i}")).collect()
}

fn lookups(c: &mut Criterion) {
    let keys = keys();
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

/// One SHA-256 block of a short key through `sha2::compress256`.
fn sha2_one_block(data: &[u8]) -> [u32; 8] {
    let mut block = [0u8; 64];
    block[..data.len()].copy_from_slice(data);
    block[data.len()] = 0x80;
    block[56..].copy_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    let mut state = [
        0x6a09_e667,
        0xbb67_ae85,
        0x3c6e_f372,
        0xa54f_f53a,
        0x510e_527f,
        0x9b05_688c,
        0x1f83_d9ab,
        0x5be0_cd19,
    ];
    sha2::compress256(&mut state, &[block.into()]);
    state
}

fn floors(c: &mut Criterion) {
    let keys = keys();
    let mut group = c.benchmark_group("floor");
    group.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    group.bench_function("sha2_compress", |b| {
        b.iter(|| {
            i = (i + 1) & (KEYS - 1);
            black_box(sha2_one_block(black_box(keys[i].as_bytes())))
        })
    });
    group.finish();
}

criterion_group!(benches, floors, lookups);
criterion_main!(benches);
