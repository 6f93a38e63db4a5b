//! The golden model against an independent, straightforward implementation of
//! docs/fixed-point.md: i128 arithmetic straight from the model's nested codes, rounding by
//! exact rational comparison, no shortcuts and no shared code with the golden model.

// Index loops on purpose: the reference reads like the spec's sums.

use crate::strategies::random_spec;
use proptest::prelude::*;
use qornn_sim::random::{random_model, random_sequences, RandomSpec, WeightStyle};
use qornn_sim::{Bits, Golden, QuantizedModel, Sequence, Shape};

use crate::spec_reference::{reference_with, round_half_even};

/// Every h_t and y_t of one sequence by the spec's rounding (see [`reference_with`]).
fn reference(model: &QuantizedModel, seq: &Sequence) -> (Vec<Vec<i128>>, Vec<Vec<i128>>) {
    reference_with(model, seq, round_half_even)
}

fn spec_strategy() -> impl Strategy<Value = RandomSpec> {
    random_spec(1usize..24, prop_oneof![Just(1.0), 0.1f64..8.0])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    /// Thousands of random models and sequences: golden = reference on every h_t and y_t.
    #[test]
    fn golden_equals_reference(spec in spec_strategy(), steps in 1usize..40, seed in any::<u64>()) {
        let model = random_model(&spec);
        let golden = Golden::new(&model).unwrap();
        let seq = &random_sequences(&model, 1, steps, seed)[0];
        let trace = golden.run(seq);
        let (hs, ys) = reference(&model, seq);
        prop_assert_eq!(trace.steps(), steps);
        for t in 0..steps {
            let h: Vec<i128> = trace.h(t).iter().map(|&v| v as i128).collect();
            let y: Vec<i128> = trace.y(t).iter().map(|&v| v as i128).collect();
            prop_assert_eq!(&h, &hs[t], "h at step {}", t);
            prop_assert_eq!(&y, &ys[t], "y at step {}", t);
        }
    }
}

/// Wide accumulators (above 32 bits) take the golden model's 64-bit path: check it too.
#[test]
fn wide_accumulators_equal_reference() {
    for seed in 0..40 {
        let mut spec = RandomSpec::new(Shape::new(48, 3, 4), 8, seed);
        spec.activation_bits = Bits::new(16);
        spec.input_bits = Bits::new(16);
        spec.style = WeightStyle::Uniform;
        spec.modrelu = seed % 2 == 0;
        spec.gain = 4.0;
        let mut model = random_model(&spec);
        model.alignment.u_shift = 12;
        model.bits.accumulator = Bits::new(48);
        assert!(qornn_sim::width::analyse(&model).hidden.required.get() > 32);
        let golden = Golden::new(&model).unwrap();
        let seq = &random_sequences(&model, 1, 30, seed)[0];
        let trace = golden.run(seq);
        let (hs, ys) = reference(&model, seq);
        for t in 0..30 {
            assert!(trace.h(t).iter().zip(&hs[t]).all(|(&a, &b)| a as i128 == b));
            assert!(trace.y(t).iter().zip(&ys[t]).all(|(&a, &b)| a as i128 == b));
        }
    }
}
