//! The weight quantiser of the paper and of `docs/fixed-point.md` section 7.
//!
//! One scale per matrix, α = max|M|, recomputed at every forward pass; codes
//! `clip(round_half_even(2^(k−1)·M/α), −2^(k−1), 2^(k−1)−1)`; the fake-quantised matrix is
//! `codes·α/2^(k−1)`. The straight-through estimator passes the gradient unchanged.

use crate::real::Real;

/// A quantised matrix: its codes and the real value of one code step.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantized {
    /// The integer codes, same layout as the input.
    pub codes: Vec<i64>,
    /// Real value of code 1 (α / 2^(k−1)).
    pub scale: f64,
}

/// Largest code of a k-bit signed integer.
pub fn max_code(bits: u32) -> i64 {
    (1i64 << (bits - 1)) - 1
}

/// Smallest code of a k-bit signed integer.
pub fn min_code(bits: u32) -> i64 {
    -(1i64 << (bits - 1))
}

/// α = max|M| (at least the smallest positive normal, so an all-zero matrix has a scale).
pub fn alpha<R: Real>(m: &[R]) -> R {
    m.iter()
        .fold(R::zero(), |a, &x| a.max(x.abs()))
        .max(R::min_positive_value())
}

/// The codes and step of `m` at `bits` (2–16) bits.
pub fn quantize<R: Real>(m: &[R], bits: u32) -> Quantized {
    let a = alpha(m).f();
    let levels = (1i64 << (bits - 1)) as f64;
    let (lo, hi) = (min_code(bits), max_code(bits));
    let codes = m
        .iter()
        .map(|&x| {
            let q = (x.f() * levels / a).round_ties_even();
            (q as i64).clamp(lo, hi)
        })
        .collect();
    Quantized {
        codes,
        scale: a / levels,
    }
}

/// The codes of `m` at `bits` bits for a given step `scale` (not its own α): what exporting
/// into a fixed frame needs. Codes beyond the range saturate.
pub fn quantize_with_scale<R: Real>(m: &[R], bits: u32, scale: f64) -> Quantized {
    let (lo, hi) = (min_code(bits), max_code(bits));
    let codes = m
        .iter()
        .map(|&x| ((x.f() / scale).round_ties_even() as i64).clamp(lo, hi))
        .collect();
    Quantized { codes, scale }
}

/// Fake quantisation: `out = codes·α/2^(k−1)`; returns the step α/2^(k−1).
///
/// The arithmetic goes through f64 so that the codes are exactly those of [`quantize`]
/// (the exporter writes those codes; training must have used the same ones).
pub fn fake_quantize<R: Real>(m: &[R], bits: u32, out: &mut [R]) -> f64 {
    let q = quantize(m, bits);
    for (o, &c) in out.iter_mut().zip(&q.codes) {
        *o = R::c(c as f64 * q.scale);
    }
    q.scale
}

/// Weight quantiser setting: full precision or k bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum WeightBits {
    /// No quantisation.
    Full,
    /// k-bit codes, 2 ≤ k ≤ 8.
    Bits(u32),
}

impl WeightBits {
    /// Apply to `m`, writing the (fake-)quantised matrix into `out`.
    pub fn apply<R: Real>(self, m: &[R], out: &mut [R]) {
        match self {
            WeightBits::Full => out.copy_from_slice(m),
            WeightBits::Bits(k) => {
                fake_quantize(m, k, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn codes_in_range_and_max_hits_top(v in prop::collection::vec(-10.0f64..10.0, 1..60), k in 2u32..=8) {
            let q = quantize(&v, k);
            prop_assert!(q.codes.iter().all(|&c| (min_code(k)..=max_code(k)).contains(&c)));
            let a = alpha(&v);
            if a > 1e-9 {
                // the largest magnitude maps to ±2^(k-1) before clipping
                let top = q.codes.iter().map(|c| c.abs()).max().unwrap_or(0);
                prop_assert!(top >= max_code(k));
            }
        }

        #[test]
        fn error_within_half_step(v in prop::collection::vec(-5.0f64..5.0, 1..60), k in 2u32..=8) {
            let mut out = vec![0.0; v.len()];
            let s = fake_quantize(&v, k, &mut out);
            for (&x, &y) in v.iter().zip(&out) {
                // clipping of +α costs at most one step; every other value half a step
                prop_assert!((x - y).abs() <= s * 1.0 + 1e-12, "{x} {y} {s}");
                if x < alpha(&v) - s {
                    prop_assert!((x - y).abs() <= s * 0.5 + 1e-12);
                }
            }
        }

        #[test]
        fn power_of_two_scaling_keeps_codes(v in prop::collection::vec(-5.0f64..5.0, 2..40), k in 2u32..=8, e in -6i32..6) {
            let q = quantize(&v, k);
            let c = 2f64.powi(e);
            let scaled: Vec<f64> = v.iter().map(|x| x * c).collect();
            let qs = quantize(&scaled, k);
            prop_assert_eq!(&q.codes, &qs.codes);
            prop_assert!((qs.scale - q.scale * c).abs() <= 1e-12 * qs.scale);
        }

        #[test]
        fn monotone(v in prop::collection::vec(-5.0f64..5.0, 2..40), k in 2u32..=8) {
            let q = quantize(&v, k);
            for i in 0..v.len() {
                for j in 0..v.len() {
                    if v[i] <= v[j] {
                        prop_assert!(q.codes[i] <= q.codes[j]);
                    }
                }
            }
        }

        #[test]
        fn matches_sim_quantizer(v in prop::collection::vec(-3.0f64..3.0, 1..30), k in 2u32..=8) {
            let q = quantize(&v, k);
            let (codes, scale) = qornn_sim::random::quantize_matrix(std::slice::from_ref(&v), qornn_sim::Bits::new(k));
            prop_assert_eq!(&codes[0], &q.codes);
            prop_assert!((scale - q.scale).abs() <= 1e-15 * scale.abs().max(1.0));
        }
    }

    #[test]
    fn round_half_even_at_ties() {
        // 2^(k-1)·M/α with k = 3, α = 4: M = 1 → 1.0, M = 0.5·... ties: 2.5 → 2, 1.5 → 2
        let v = [4.0f64, 2.5, 1.5, -2.5, 0.5];
        let q = quantize(&v, 3);
        assert_eq!(q.codes, vec![3, 2, 2, -2, 0]);
        assert_eq!(q.scale, 1.0);
    }
}
