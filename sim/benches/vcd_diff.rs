//! `vcd_diff` throughput in bytes per second: a golden trace VCD (n = 64, m = 1, d = 10,
//! 20 000 steps) compared with itself, aligned on `valid`. For scale, the same bytes read and
//! parsed by the `vcd` crate alone (no comparison) is the reference: the ratio shows what the
//! comparison itself costs.
//!
//! Run: `cargo bench -p qornn-sim --features bench --bench vcd_diff`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use qornn_sim::random::{random_model, random_sequences, RandomSpec};
use qornn_sim::vcd_diff::{diff, DiffOptions};
use qornn_sim::{trace, Golden, Shape};
use std::path::Path;

fn vcd_diff(c: &mut Criterion) {
    let model = random_model(&RandomSpec::new(Shape::new(64, 1, 10), 4, 1));
    let seqs = random_sequences(&model, 1, 20_000, 2);
    let traces = Golden::new(&model).unwrap().run_batch(&seqs, 1);
    let mut vcd = Vec::new();
    trace::write_vcd(&mut vcd, &model, &seqs, &traces).unwrap();
    let mut group = c.benchmark_group("vcd_diff");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(2 * vcd.len() as u64));
    group.bench_function("diff_self_20k_steps", |b| {
        b.iter(|| {
            diff(
                &vcd[..],
                Path::new("a"),
                &vcd[..],
                Path::new("b"),
                &DiffOptions::default(),
            )
            .unwrap()
        })
    });
    group.bench_function("parse_only_reference", |b| {
        b.iter(|| {
            for _ in 0..2 {
                let mut p = vcd::Parser::new(&vcd[..]);
                p.parse_header().unwrap();
                let n = p.by_ref().count();
                assert!(n > 0);
            }
        })
    });
    group.finish();
}

criterion_group!(benches, vcd_diff);
criterion_main!(benches);
