//! Golden-model throughput: time steps per second for n = 64, 128, 256 (m = 1, d = 10,
//! 4-bit weights, 8-bit activations), one sequence on one thread, and a batch of 8 sequences
//! on one and on two threads (the ratio of those two is the parallel speed-up).
//!
//! `classify` measures what scoring a test split costs, as a new user would run it: n = 128,
//! m = 1, d = 10, 64 sequences × 784 steps (sequential MNIST), last output only, one thread:
//! the scalar `run_last_output` per sequence against the batched `run_last_output_batch`
//! (issue #11 asks the batched path for at least 4× the scalar steps/s).
//!
//! Run: `cargo bench -p qornn-sim --features bench --bench golden` (only the comparison:
//! `cargo bench -p qornn-sim --features bench --bench golden -- classify`).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use qornn_sim::random::{random_model, random_sequences, RandomSpec};
use qornn_sim::{Golden, Shape};

const STEPS: usize = 1000;

fn golden_steps(c: &mut Criterion) {
    let mut group = c.benchmark_group("golden");
    group.sample_size(20);
    for n in [64, 128, 256] {
        let model = random_model(&RandomSpec::new(Shape::new(n, 1, 10), 4, 1));
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

const CLASSIFY_SEQS: usize = 64;
const CLASSIFY_STEPS: usize = 784;

fn classify(c: &mut Criterion) {
    let mut group = c.benchmark_group("classify");
    group.sample_size(10);
    let n = 128;
    let model = random_model(&RandomSpec::new(Shape::new(n, 1, 10), 4, 1));
    let golden = Golden::new(&model).unwrap();
    let seqs = random_sequences(&model, CLASSIFY_SEQS, CLASSIFY_STEPS, 4);
    group.throughput(Throughput::Elements(
        (CLASSIFY_SEQS * CLASSIFY_STEPS) as u64,
    ));
    group.bench_with_input(BenchmarkId::new("scalar", n), &n, |b, _| {
        b.iter(|| {
            seqs.iter()
                .map(|s| golden.run_last_output(s))
                .collect::<Vec<_>>()
        })
    });
    group.bench_with_input(BenchmarkId::new("batched", n), &n, |b, _| {
        b.iter(|| golden.run_last_output_batch(&seqs, 1))
    });
    group.finish();
}

criterion_group!(benches, golden_steps, classify);
criterion_main!(benches);
