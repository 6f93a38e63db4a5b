//! The training benchmark: one forward + backward through time on random data, the shapes of
//! `shared/bench/torch_rnn_ref.py` (h_t = relu(W h_{t−1} + U x_t + b), logits from h_T,
//! cross-entropy).

use crate::bptt::{Activation, Batch, Engine, LossKind, NetShape, PassOptions, Readout, Targets};
use crate::ortho::random_orthogonal;
use crate::quantize::fake_quantize;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Benchmark settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BenchSpec {
    /// Hidden n.
    pub hidden: usize,
    /// Inputs m.
    pub input: usize,
    /// Classes d.
    pub classes: usize,
    /// Batch.
    pub batch: usize,
    /// Steps T.
    pub steps: usize,
    /// Worker threads.
    pub threads: usize,
    /// Timed repetitions (after one warm-up).
    pub reps: usize,
    /// Fake-quantise W at this many bits first (0: off), as the reference's `--qat`.
    pub qat: u32,
}

impl Default for BenchSpec {
    fn default() -> Self {
        BenchSpec {
            hidden: 128,
            input: 1,
            classes: 10,
            batch: 64,
            steps: 784,
            threads: 2,
            reps: 5,
            qat: 0,
        }
    }
}

/// Milliseconds of each timed forward + backward pass, and the loss.
pub fn bench_train(spec: &BenchSpec) -> (Vec<f64>, f64) {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let (n, m, d) = (spec.hidden, spec.input, spec.classes);
    let mut w: Vec<f32> = random_orthogonal(n, &mut rng);
    let u: Vec<f32> = (0..n * m)
        .map(|_| rng.random_range(-1.0f32..1.0) / (m as f32).sqrt())
        .collect();
    let v: Vec<f32> = (0..d * n)
        .map(|_| rng.random_range(-1.0f32..1.0) / (n as f32).sqrt())
        .collect();
    let (b, beta, c) = (vec![0.0f32; n], vec![0.0f32; n], vec![0.0f32; d]);
    let batch = Batch {
        steps: spec.steps,
        size: spec.batch,
        width: m,
        x: (0..spec.batch * spec.steps * m)
            .map(|_| rng.random_range(0.0f32..1.0))
            .collect(),
        targets: Targets::Classes {
            labels: (0..spec.batch)
                .map(|_| rng.random_range(0..d as i32))
                .collect(),
            score_from: 0,
        },
    };
    let shape = NetShape {
        n,
        m,
        d,
        activation: Activation::Relu,
        readout: Readout::Last,
        loss: LossKind::CrossEntropy,
    };
    let mut engine = Engine::<f32>::new(spec.threads);
    let opt = PassOptions {
        backward: true,
        ..Default::default()
    };
    let latent = w.clone();
    let mut once = |w: &mut Vec<f32>| {
        if spec.qat > 0 {
            fake_quantize(&latent, spec.qat, w);
        }
        let wts = crate::bptt::Weights {
            w,
            u: &u,
            b: &b,
            beta: &beta,
            v: &v,
            c: &c,
        };
        engine.run(&shape, &wts, &batch, opt).0.loss()
    };
    let loss = once(&mut w);
    let times = (0..spec.reps.max(1))
        .map(|_| {
            let t0 = std::time::Instant::now();
            once(&mut w);
            t0.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    (times, loss)
}

/// The median of a list (0 for an empty one).
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    match s.len() {
        0 => 0.0,
        k if k % 2 == 1 => s[k / 2],
        k => 0.5 * (s[k / 2 - 1] + s[k / 2]),
    }
}
