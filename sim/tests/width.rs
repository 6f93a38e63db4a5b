//! Accumulator-width analysis: sound (adversarial inputs never exceed the granted width),
//! tight (the bound is reached), and enforced (one bit less is refused, saying by how much).

use proptest::prelude::*;
use qornn_sim::random::{random_model, RandomSpec, WeightStyle};
use qornn_sim::width::{analyse, hidden_range};
use qornn_sim::{Activation, Bits, ModelError, QuantizedModel, Shape};

fn spec(n: usize, m: usize, kw: u32, ka: u32, kx: u32, modrelu: bool, seed: u64) -> RandomSpec {
    RandomSpec {
        shape: Shape::new(n, m, 3),
        weight_bits: Bits::new(kw),
        output_weight_bits: Bits::new(kw),
        activation_bits: Bits::new(ka),
        input_bits: Bits::new(kx),
        modrelu,
        style: WeightStyle::Uniform,
        gain: 1.0,
        seed,
    }
}

/// The largest accumulator of row i over all states and inputs: each h_j and x_j at the
/// extreme that matches the sign of its weight (worked out independently of the analysis).
fn extreme_acc(model: &QuantizedModel, i: usize, maximise: bool) -> i128 {
    let h = hidden_range(model);
    let x = (
        model.bits.input.min_code() as i128,
        model.bits.input.max_code() as i128,
    );
    let pick = |c: i64, lo: i128, hi: i128| {
        let (a, b) = (c as i128 * lo, c as i128 * hi);
        if maximise {
            a.max(b)
        } else {
            a.min(b)
        }
    };
    let wh: i128 = model.w[i].iter().map(|&c| pick(c, h.lo, h.hi)).sum();
    let ux: i128 = model.u[i].iter().map(|&c| pick(c, x.0, x.1)).sum();
    (wh << model.alignment.w_shift) + (ux << model.alignment.u_shift) + model.b[i] as i128
}

fn fits(v: i128, bits: Bits) -> bool {
    v >= bits.min_code() as i128 && v <= bits.max_code() as i128
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// Adversarial states and inputs reach the analysis' bound and never exceed the width.
    #[test]
    fn adversarial_inputs_stay_within_the_granted_width(
        n in 1usize..40, m in 1usize..6, kw in 2u32..=8, ka in 4u32..=16, kx in 2u32..=16,
        modrelu in any::<bool>(), seed in any::<u64>(),
    ) {
        let model = random_model(&spec(n, m, kw, ka, kx, modrelu, seed));
        let report = model.validate().unwrap();
        let granted = model.bits.accumulator;
        let mut needed = Bits::new(1);
        for i in 0..n {
            let lo = extreme_acc(&model, i, false);
            let hi = extreme_acc(&model, i, true);
            for acc in [lo, hi] {
                prop_assert!(fits(acc, granted), "row {} reaches {} beyond {}", i, acc, granted);
                needed = needed.max(Bits::to_hold(acc.min(0), acc.max(0)));
            }
            // modReLU also forms |acc| + β in the accumulator, and β itself is an
            // accumulator-width parameter: a large β needs its bits even when acc is small.
            if let Some(beta) = model.modrelu_bias() {
                let b = beta[i] as i128;
                let m = lo.abs().max(hi.abs()) + b.max(0);
                prop_assert!(fits(m, granted), "row {} |acc|+β reaches {} beyond {}", i, m, granted);
                needed = needed.max(Bits::to_hold(b.min(0), b.max(0))).max(Bits::to_hold(0, m));
            }
        }
        // Tightness: the bound is within one bit of what adversarial inputs actually reach
        // (the zero-widened bias and modReLU's β may add at most that).
        prop_assert!(report.hidden.required.get() <= needed.get() + 1,
            "analysis asks {} but inputs reach only {}", report.hidden.required, needed);
    }

    /// A model granted one bit less than it needs is refused, and the error says so.
    #[test]
    fn one_bit_short_is_refused(n in 1usize..30, kw in 2u32..=8, ka in 4u32..=16, seed in any::<u64>()) {
        let mut model = random_model(&spec(n, 2, kw, ka, 8, false, seed));
        let need = analyse(&model).hidden.required;
        prop_assume!(need.get() > 8); // 8 is the smallest width a file may declare
        // The biases must still fit the narrower width, or the codes check refuses the model
        // first (rightly, but then this is not a test of the width analysis).
        let half = 1i64 << (need.get() - 2);
        prop_assume!(model.b.iter().all(|&b| (-half..half).contains(&b)));
        model.bits.accumulator = Bits::new(need.get() - 1);
        match model.validate() {
            Err(e @ ModelError::Overflow { .. }) => {
                let text = e.to_string();
                prop_assert!(text.contains("short by 1 bit;"), "{}", text);
                prop_assert!(text.contains("bits.accumulator"), "{}", text);
            }
            other => prop_assert!(false, "expected an overflow error, got {:?}", other),
        }
    }
}

#[test]
fn output_accumulator_is_enforced_too() {
    let mut model = random_model(&spec(32, 1, 8, 16, 8, false, 3));
    let need = analyse(&model).output.required;
    model.bits.output_accumulator = Bits::new(need.get() - 3);
    let text = model.validate().unwrap_err().to_string();
    assert!(
        text.contains("bits.output_accumulator") && text.contains("short by 3 bits"),
        "{text}"
    );
}

#[test]
fn modrelu_positive_beta_widens_the_activation() {
    // One unit, W = 0, U = 0, b = 0: acc is always 0, yet a positive β could make |a| = β.
    let mut model = random_model(&spec(1, 1, 2, 4, 2, true, 0));
    model.w = vec![vec![0]];
    model.u = vec![vec![0]];
    model.b = vec![0];
    model.activation = Activation::Modrelu { bias: vec![1000] };
    // acc is 0, so a = sign(0)·… = 0; but the analysis must still hold β itself (11 bits).
    assert_eq!(analyse(&model).hidden.required, Bits::new(11));
}
