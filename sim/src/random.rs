//! Random valid models and inputs, for tests, benchmarks and first experiments.
//!
//! W is a random orthogonal matrix (Gram–Schmidt on Gaussian columns) quantised with the
//! contract's per-matrix scale, so a random model behaves like a trained orthogonal RNN:
//! the requantiser is set near `s_W`, which keeps ‖h‖ roughly constant over time.

use crate::fixed::Bits;
use crate::model::{
    Activation, Alignment, BitWidths, ModelError, Provenance, QuantizedModel, Requant, Scales,
    Shape, MAX_MULTIPLIER, MODEL_FORMAT, MODEL_VERSION,
};
use crate::sequence::Sequence;
use crate::width;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How the random W is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightStyle {
    /// A quantised random orthogonal matrix (the realistic case).
    Orthogonal,
    /// Codes uniform over the whole range, extremes included (the adversarial case).
    Uniform,
}

/// What random model to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomSpec {
    /// n, m, d.
    pub shape: Shape,
    /// Width of W and U codes.
    pub weight_bits: Bits,
    /// Width of V codes.
    pub output_weight_bits: Bits,
    /// Width of h.
    pub activation_bits: Bits,
    /// Width of x.
    pub input_bits: Bits,
    /// ReLU or modReLU.
    pub modrelu: bool,
    /// How W is drawn.
    pub style: WeightStyle,
    /// Multiplies the requantiser gain: > 1 drives the state into saturation.
    pub gain: f64,
    /// The seed; the same spec and seed give the same model.
    pub seed: u64,
}

impl RandomSpec {
    /// A ReLU model with orthogonal W and the given shape and weight bits, 8-bit activations.
    pub fn new(shape: Shape, weight_bits: u32, seed: u64) -> Self {
        RandomSpec {
            shape,
            weight_bits: Bits::new(weight_bits),
            output_weight_bits: Bits::new(weight_bits),
            activation_bits: Bits::new(8),
            input_bits: Bits::new(8),
            modrelu: false,
            style: WeightStyle::Orthogonal,
            gain: 1.0,
            seed,
        }
    }
}

impl RandomSpec {
    /// Check the spec's widths and sizes the way a model file would be checked.
    pub fn check(&self) -> Result<(), ModelError> {
        use crate::model::{ACTIVATION_BITS, INPUT_BITS, MAX_DIM, WEIGHT_BITS};
        let widths = [
            ("weight bits", self.weight_bits, &WEIGHT_BITS),
            ("output weight bits", self.output_weight_bits, &WEIGHT_BITS),
            ("activation bits", self.activation_bits, &ACTIVATION_BITS),
            ("input bits", self.input_bits, &INPUT_BITS),
        ];
        for (what, bits, range) in widths {
            if !range.contains(&bits.get()) {
                return Err(ModelError::Field {
                    field: what.into(),
                    problem: format!(
                        "{} is not supported (supported: {}–{})",
                        bits.get(),
                        range.start(),
                        range.end()
                    ),
                });
            }
        }
        let Shape {
            hidden,
            input,
            output,
        } = self.shape;
        for (what, v) in [("hidden", hidden), ("input", input), ("output", output)] {
            if v == 0 || v > MAX_DIM {
                return Err(ModelError::Field {
                    field: what.into(),
                    problem: format!("{v} is not a supported dimension (1–{MAX_DIM})"),
                });
            }
        }
        if !(self.gain.is_finite() && self.gain > 0.0) {
            return Err(ModelError::Field {
                field: "gain".into(),
                problem: format!("{} must be a positive number", self.gain),
            });
        }
        Ok(())
    }
}

fn gaussian(rng: &mut ChaCha8Rng) -> f64 {
    // Box–Muller; 1 - u keeps the logarithm finite.
    let u: f64 = rng.random();
    let v: f64 = rng.random();
    (-2.0 * (1.0 - u).ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// A random n × n orthogonal matrix, rows of the result.
pub fn random_orthogonal(n: usize, rng: &mut ChaCha8Rng) -> Vec<Vec<f64>> {
    let mut q: Vec<Vec<f64>> = Vec::with_capacity(n);
    while q.len() < n {
        let mut v: Vec<f64> = (0..n).map(|_| gaussian(rng)).collect();
        // Modified Gram–Schmidt, twice for numerical orthogonality.
        for _ in 0..2 {
            for u in &q {
                let p: f64 = u.iter().zip(&v).map(|(a, b)| a * b).sum();
                v.iter_mut().zip(u).for_each(|(x, y)| *x -= p * y);
            }
        }
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm > 1e-6 {
            q.push(v.into_iter().map(|x| x / norm).collect());
        }
    }
    q
}

/// Quantise with the contract's per-matrix scale α = max|M|: codes
/// `clip(rhe(2^(k-1)·M/α))`. Returns the codes and the code scale α / 2^(k-1).
pub fn quantize_matrix(m: &[Vec<f64>], bits: Bits) -> (Vec<Vec<i64>>, f64) {
    let alpha = m
        .iter()
        .flatten()
        .fold(0.0f64, |a, &x| a.max(x.abs()))
        .max(f64::MIN_POSITIVE);
    let levels = (1i64 << (bits.get() - 1)) as f64;
    let codes = m
        .iter()
        .map(|row| {
            row.iter()
                .map(|&x| {
                    let q = (x * levels / alpha).round_ties_even() as i64;
                    q.clamp(bits.min_code(), bits.max_code())
                })
                .collect()
        })
        .collect();
    (codes, alpha / levels)
}

/// The largest M ≤ 2^15 − 1 and its shift r with M / 2^r ≈ `gain` (gain > 0).
pub fn multiplier_for(gain: f64) -> Requant {
    let mut shift = 0u32;
    while shift < 62 && gain * ((1u64 << (shift + 1)) as f64) <= MAX_MULTIPLIER as f64 {
        shift += 1;
    }
    let m = (gain * (1u64 << shift) as f64).round() as i64;
    Requant {
        multiplier: m.clamp(1, MAX_MULTIPLIER),
        shift,
    }
}

fn uniform_codes(rows: usize, cols: usize, bits: Bits, rng: &mut ChaCha8Rng) -> Vec<Vec<i64>> {
    (0..rows)
        .map(|_| {
            (0..cols)
                .map(|_| rng.random_range(bits.min_code()..=bits.max_code()))
                .collect()
        })
        .collect()
}

/// Draw a random valid model; its accumulators are declared exactly as wide as required.
pub fn random_model(spec: &RandomSpec) -> QuantizedModel {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let (n, m, d) = (spec.shape.hidden, spec.shape.input, spec.shape.output);
    let (w, s_w) = match spec.style {
        WeightStyle::Orthogonal => {
            quantize_matrix(&random_orthogonal(n, &mut rng), spec.weight_bits)
        }
        WeightStyle::Uniform => {
            let s = 1.0 / (n as f64).sqrt() / (1i64 << (spec.weight_bits.get() - 1)) as f64;
            (uniform_codes(n, n, spec.weight_bits, &mut rng), s)
        }
    };
    let u = uniform_codes(n, m, spec.weight_bits, &mut rng);
    let v = uniform_codes(d, n, spec.output_weight_bits, &mut rng);
    let amax = spec.activation_bits.max_code();
    let b: Vec<i64> = (0..n).map(|_| rng.random_range(-amax..=amax)).collect();
    let c: Vec<i64> = (0..d).map(|_| rng.random_range(-amax..=amax)).collect();
    let activation = if spec.modrelu {
        Activation::Modrelu {
            bias: (0..n)
                .map(|_| rng.random_range(-2 * amax..=amax / 2))
                .collect(),
        }
    } else {
        Activation::Relu
    };
    let alignment = Alignment {
        w_shift: rng.random_range(0..=1),
        u_shift: rng.random_range(0..=3),
    };
    let gain = s_w * spec.gain / (1u64 << alignment.w_shift) as f64;
    let mut model = QuantizedModel {
        format: MODEL_FORMAT.into(),
        version: MODEL_VERSION,
        shape: spec.shape,
        bits: BitWidths {
            weight: spec.weight_bits,
            output_weight: spec.output_weight_bits,
            activation: spec.activation_bits,
            input: spec.input_bits,
            accumulator: Bits::new(48),
            output_accumulator: Bits::new(48),
        },
        activation,
        alignment,
        requant: multiplier_for(gain),
        w,
        u,
        b,
        v,
        c,
        provenance: Provenance {
            task: "random".into(),
            method: "random".into(),
            scales: Some(Scales {
                w: s_w,
                u: s_w,
                v: 1.0,
                x: 1.0,
                h: 1.0,
            }),
            notes: format!("seed {}", spec.seed),
        },
    };
    let report = width::analyse(&model);
    model.bits.accumulator = report.hidden.required.max(Bits::new(8));
    model.bits.output_accumulator = report.output.required.max(Bits::new(8));
    model
}

/// `count` random sequences of `steps` steps with codes uniform over the model's input range.
pub fn random_sequences(
    model: &QuantizedModel,
    count: usize,
    steps: usize,
    seed: u64,
) -> Vec<Sequence> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let bits = model.bits.input;
    let m = model.shape.input;
    (0..count)
        .map(|_| {
            let data = (0..steps * m)
                .map(|_| rng.random_range(bits.min_code()..=bits.max_code()) as i32)
                .collect();
            Sequence::from_flat(m, data)
        })
        .collect()
}
