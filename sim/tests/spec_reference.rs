//! The integer recurrence of docs/fixed-point.md written out plainly: i128 arithmetic straight
//! from the model's nested codes, rounding by exact comparison, no shortcuts and no code shared
//! with the golden model. The one independent reference of the spec: the sim tests check the
//! golden model against it, and the cross-crate tests (which include this file) use it, with
//! another rounding rule, to predict where a mutant core must differ.

// Index loops on purpose: the reference reads like the spec's sums.
#![allow(clippy::needless_range_loop, dead_code)]

use qornn_sim::{Activation, QuantizedModel, Sequence};

/// Round p / 2^r to nearest, ties to even, by comparing 2·remainder with the divisor.
pub fn round_half_even(p: i128, r: u32) -> i128 {
    let den = 1i128 << r;
    let q = p.div_euclid(den);
    let twice = 2 * p.rem_euclid(den);
    if twice > den || (twice == den && q.rem_euclid(2) == 1) {
        q + 1
    } else {
        q
    }
}

/// Round half up (a plausible mistake: `(p + 2^(r-1)) >> r`), to predict what a core with
/// that rule computes.
pub fn round_half_up(p: i128, r: u32) -> i128 {
    if r == 0 {
        p
    } else {
        (p + (1i128 << (r - 1))) >> r
    }
}

/// One product of a row sum: W[row][col]·h_{t−1}[col] or U[row][col]·x_t[col].
#[derive(Debug, Clone, Copy)]
pub struct Product {
    /// A U·x product (else W·h).
    pub input: bool,
    /// The row i.
    pub row: usize,
    /// The column j.
    pub col: usize,
    /// The weight code.
    pub weight: i128,
    /// The operand code.
    pub operand: i128,
}

/// The spec's product: weight times operand.
pub fn exact(p: Product) -> i128 {
    p.weight * p.operand
}

/// Every h_t and y_t of one sequence with the rounding rule `round` (the spec's is
/// [`round_half_even`]), asserting that no partial sum leaves the declared accumulator width.
pub fn reference_with(
    model: &QuantizedModel,
    seq: &Sequence,
    round: fn(i128, u32) -> i128,
) -> (Vec<Vec<i128>>, Vec<Vec<i128>>) {
    reference_with_products(model, seq, round, &exact)
}

/// [`reference_with`], with each product of the recurrent row sums computed by `product`: with
/// [`exact`] it is the spec; with another rule it predicts what a core whose multiplier computes
/// that rule outputs (a packed lane with a defect, say).
pub fn reference_with_products(
    model: &QuantizedModel,
    seq: &Sequence,
    round: fn(i128, u32) -> i128,
    product: &dyn Fn(Product) -> i128,
) -> (Vec<Vec<i128>>, Vec<Vec<i128>>) {
    let n = model.shape.hidden;
    let acc_max = 1i128 << (model.bits.accumulator.get() - 1);
    let out_max = 1i128 << (model.bits.output_accumulator.get() - 1);
    let fits = |v: i128, max: i128| v >= -max && v < max;
    let ka = model.bits.activation.get();
    let (hmin, hmax) = (-(1i128 << (ka - 1)), (1i128 << (ka - 1)) - 1);
    let mut h = vec![0i128; n];
    let (mut hs, mut ys) = (Vec::new(), Vec::new());
    for t in 0..seq.steps() {
        let x = seq.step(t);
        let mut next = vec![0i128; n];
        for i in 0..n {
            let mut wh = 0i128;
            for j in 0..n {
                wh += product(Product {
                    input: false,
                    row: i,
                    col: j,
                    weight: model.w[i][j] as i128,
                    operand: h[j],
                });
                assert!(
                    fits(wh << model.alignment.w_shift, acc_max),
                    "W·h partial sum overflows"
                );
            }
            let mut ux = 0i128;
            for (j, &xj) in x.iter().enumerate() {
                ux += product(Product {
                    input: true,
                    row: i,
                    col: j,
                    weight: model.u[i][j] as i128,
                    operand: xj as i128,
                });
                assert!(
                    fits(ux << model.alignment.u_shift, acc_max),
                    "U·x partial sum overflows"
                );
            }
            let acc = wh * (1 << model.alignment.w_shift)
                + ux * (1 << model.alignment.u_shift)
                + model.b[i] as i128;
            assert!(fits(acc, acc_max), "accumulator overflows");
            let a = match &model.activation {
                Activation::Relu => acc.max(0),
                Activation::Modrelu { bias } => {
                    let mag = (acc.abs() + bias[i] as i128).max(0);
                    if acc > 0 {
                        mag
                    } else if acc < 0 {
                        -mag
                    } else {
                        0
                    }
                }
            };
            assert!(fits(a, acc_max), "activation overflows");
            next[i] =
                round(a * model.requant.multiplier as i128, model.requant.shift).clamp(hmin, hmax);
        }
        h = next;
        let y: Vec<i128> = (0..model.shape.output)
            .map(|k| {
                let mut s = model.c[k] as i128;
                for j in 0..n {
                    s += model.v[k][j] as i128 * h[j];
                }
                assert!(fits(s, out_max), "output accumulator overflows");
                s
            })
            .collect();
        hs.push(h.clone());
        ys.push(y);
    }
    (hs, ys)
}
