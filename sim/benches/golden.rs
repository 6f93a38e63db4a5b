//! Golden-model throughput: time steps per second for n = 64, 128, 256 (m = 1, d = 10,
//! 4-bit weights, 8-bit activations), one sequence on one thread, and a batch of 8 sequences
//! on one and on two threads (the ratio of those two is the parallel speed-up).
//!
//! Run: `cargo bench -p qornn-sim --bench golden`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use qornn_sim::random::{random_model, random_sequences, RandomSpec};
use qornn_sim::{Golden, Shape};

const STEPS: usize = 1000;

fn golden_steps(c: &mut Criterion) {
    let mut group = c.benchmark_group("golden");
    group.sample_size(20);
    for n in [64, 128, 256] {
        let model = random_model(&RandomSpec::new(
            Shape {
                hidden: n,
                input: 1,
                output: 10,
            },
            4,
            1,
        ));
        let golden = Golden::new(&model).unwrap();
        let one = random_sequences(&model, 1, STEPS, 2);
        group.throughput(Throughput::Elements(STEPS as u64));
        group.bench_with_input(BenchmarkId::new("sequence", n), &n, |b, _| {
            b.iter(|| golden.run(&one[0]))
        });
        let batch = random_sequences(&model, 8, STEPS, 3);
        group.throughput(Throughput::Elements(8 * STEPS as u64));
        for threads in [1, 2] {
            group.bench_with_input(
                BenchmarkId::new(format!("batch8-threads{threads}"), n),
                &n,
                |b, _| b.iter(|| golden.run_batch(&batch, threads)),
            );
        }
    }
    group.finish();
}

criterion_group!(benches, golden_steps);
criterion_main!(benches);
