//! The batched golden path against the scalar golden model (itself checked against an i128
//! reference in `reference.rs`): every comparison is batched vs scalar, never batched vs
//! itself, and a single differing bit fails.

use crate::strategies::random_spec;
use proptest::prelude::*;
use qornn_sim::random::{random_model, random_sequences, RandomSpec, WeightStyle};
use qornn_sim::{Activation, BatchState, Bits, Golden, QuantizedModel, Sequence, Shape};

fn spec_strategy() -> impl Strategy<Value = RandomSpec> {
    random_spec(
        prop_oneof![Just(1usize), Just(2), 1usize..40],
        prop_oneof![Just(1.0), 0.1f64..8.0, 8.0f64..64.0],
    )
}

/// Sequences of the given lengths; every fourth code is forced to the most negative or most
/// positive input code, so the extremes occur in every test.
fn sequences(model: &QuantizedModel, lengths: &[usize], seed: u64) -> Vec<Sequence> {
    let bits = model.bits.input;
    lengths
        .iter()
        .enumerate()
        .map(|(k, &steps)| {
            let base = &random_sequences(model, 1, steps, seed.wrapping_add(k as u64))[0];
            let mut data = base.as_flat().to_vec();
            for (i, c) in data.iter_mut().enumerate() {
                match i % 8 {
                    0 => *c = bits.min_code() as i32,
                    4 => *c = bits.max_code() as i32,
                    _ => {}
                }
            }
            Sequence::from_flat(model.shape.input, data)
        })
        .collect()
}

/// Put most-negative codes into W, U and V (a few per matrix) and re-declare the
/// accumulators as the analysis requires, so extremes of every operand are exercised.
fn with_extremes(mut model: QuantizedModel, seed: u64) -> QuantizedModel {
    let (kw, kv) = (model.bits.weight, model.bits.output_weight);
    let n = model.shape.hidden;
    let mut k = seed as usize;
    for _ in 0..3 {
        k = k.wrapping_mul(2654435761).wrapping_add(12345);
        let (i, j) = (k % n, (k / 7) % n);
        model.w[i][j] = kw.min_code();
        let (i, j) = (k % n, (k / 13) % model.shape.input);
        model.u[i][j] = kw.min_code();
        let (i, j) = (k % model.shape.output, (k / 5) % n);
        model.v[i][j] = kv.min_code();
    }
    let report = qornn_sim::width::analyse(&model);
    model.bits.accumulator = report.hidden.required.max(Bits::new(8));
    model.bits.output_accumulator = report.output.required.max(Bits::new(8));
    model
}

/// Batched last outputs and every output equal the scalar path's, for all sequences.
fn check_against_scalar(golden: &Golden, seqs: &[Sequence], threads: usize) {
    let last = golden.run_last_output_batch(seqs, threads);
    let all = golden.run_outputs_batch(seqs, threads);
    assert_eq!((last.len(), all.len()), (seqs.len(), seqs.len()));
    for (s, seq) in seqs.iter().enumerate() {
        assert_eq!(
            last[s],
            golden.run_last_output(seq),
            "last output of sequence {s}"
        );
        let trace = golden.run(seq);
        let want: Vec<i64> = (0..seq.steps()).flat_map(|t| trace.y(t).to_vec()).collect();
        assert_eq!(all[s], want, "outputs of sequence {s}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// Random models (saturating gains, full-range codes, most-negative weights), a random
    /// number of sequences of unequal lengths (0 steps included), 1–3 threads: batched =
    /// scalar on every last output and every y_t.
    #[test]
    fn batched_equals_scalar(
        spec in spec_strategy(),
        extremes in any::<bool>(),
        lengths in prop::collection::vec(prop_oneof![Just(0usize), Just(7), 1usize..30], 1..40),
        threads in 1usize..=3,
        seed in any::<u64>(),
    ) {
        let mut model = random_model(&spec);
        if extremes {
            model = with_extremes(model, seed);
        }
        let golden = Golden::new(&model).unwrap();
        let seqs = sequences(&model, &lengths, seed);
        check_against_scalar(&golden, &seqs, threads);
    }

    /// `BatchState` driven step by step with any lane count (odd ones included): every lane's
    /// h_t and y_t equal those of its own scalar state.
    #[test]
    fn batch_state_equals_scalar_states(
        spec in spec_strategy(),
        lanes in 1usize..=21,
        steps in 1usize..25,
        seed in any::<u64>(),
    ) {
        let model = random_model(&spec);
        let golden = Golden::new(&model).unwrap();
        let (n, m, d) = (golden.hidden(), golden.input(), golden.output());
        let seqs = sequences(&model, &vec![steps; lanes], seed);
        let mut batch = BatchState::new(&golden, lanes);
        prop_assert_eq!(batch.lanes(), lanes);
        let mut scalar: Vec<_> = (0..lanes).map(|_| golden.start()).collect();
        let (mut h, mut y_batch, mut y_one) = (vec![0; n], vec![0; lanes * d], vec![0; d]);
        for t in 0..steps {
            let x: Vec<i32> = seqs.iter().flat_map(|s| s.step(t).to_vec()).collect();
            prop_assert_eq!(x.len(), lanes * m);
            batch.step(&x);
            batch.output_into(&mut y_batch);
            for (s, state) in scalar.iter_mut().enumerate() {
                golden.step(state, seqs[s].step(t));
                batch.hidden_into(s, &mut h);
                prop_assert_eq!(&h[..], state.hidden(), "h of lane {} at step {}", s, t);
                golden.output_into(state, &mut y_one);
                prop_assert_eq!(&y_batch[s * d..(s + 1) * d], &y_one[..], "y of lane {} at step {}", s, t);
            }
        }
    }
}

/// The benchmark's configuration (n = 128, 4-bit weights, 8-bit activations), saturating
/// gain, modReLU, and a batch whose size is not a multiple of any block: one exact check.
#[test]
fn classifier_shape_equals_scalar() {
    for (modrelu, gain) in [(false, 1.0), (true, 1.0), (false, 16.0), (true, 16.0)] {
        let mut spec = RandomSpec::new(Shape::new(128, 1, 10), 4, 11);
        spec.modrelu = modrelu;
        spec.gain = gain;
        let model = random_model(&spec);
        let golden = Golden::new(&model).unwrap();
        let seqs = sequences(&model, &[100; 37], 5);
        for threads in [1, 2] {
            check_against_scalar(&golden, &seqs, threads);
        }
    }
}

/// Accumulators above 32 bits take the batched `i64` path: check it against the scalar one
/// (n above the batched path's `i32` chunk of 256 columns, so the chunking is exercised).
#[test]
fn wide_accumulators_equal_scalar() {
    for (seed, n) in [(1u64, 48usize), (2, 300), (3, 257), (4, 5)] {
        let mut spec = RandomSpec::new(Shape::new(n, 3, 4), 8, seed);
        spec.activation_bits = Bits::new(16);
        spec.input_bits = Bits::new(16);
        spec.style = WeightStyle::Uniform;
        spec.modrelu = seed % 2 == 0;
        spec.gain = 4.0;
        let mut model = with_extremes(random_model(&spec), seed);
        model.alignment.u_shift = 12;
        model.bits.accumulator = Bits::new(48);
        model.bits.output_accumulator = Bits::new(48);
        assert!(qornn_sim::width::analyse(&model).hidden.required.get() > 32);
        let golden = Golden::new(&model).unwrap();
        let seqs = sequences(&model, &[20, 20, 3, 0, 20, 9, 20, 20, 1], seed);
        check_against_scalar(&golden, &seqs, 2);
    }
}

/// Most-negative codes everywhere the contract allows them (h included, via modReLU and a
/// saturating gain), with r = 0 (the requantiser's identity case) up to a large r (where
/// rounding, not saturation, is exercised).
#[test]
fn extreme_codes_and_shifts_equal_scalar() {
    for shift in [0u32, 1, 7, 12, 40] {
        let mut spec = RandomSpec::new(Shape::new(9, 2, 3), 8, u64::from(shift));
        spec.style = WeightStyle::Uniform;
        spec.modrelu = true;
        spec.activation_bits = Bits::new(16);
        spec.input_bits = Bits::new(16);
        let mut model = random_model(&spec);
        for row in model.w.iter_mut().chain(model.u.iter_mut()) {
            row[0] = -128;
        }
        model.v[0].iter_mut().for_each(|c| *c = -128);
        model.requant.shift = shift;
        model.requant.multiplier = if shift == 0 { 3 } else { 32767 };
        if let Activation::Modrelu { bias } = &mut model.activation {
            bias.iter_mut().for_each(|b| *b = b.abs());
        }
        model.bits.accumulator = Bits::new(48);
        model.bits.output_accumulator = Bits::new(48);
        let report = qornn_sim::width::analyse(&model);
        model.bits.accumulator = report.hidden.required.max(Bits::new(8));
        model.bits.output_accumulator = report.output.required.max(Bits::new(8));
        let golden = Golden::new(&model).unwrap();
        let seqs = sequences(&model, &[30; 5], u64::from(shift));
        let trace = golden.run(&seqs[0]);
        let saturated = (0..30).any(|t| trace.h(t).contains(&-32768));
        if shift <= 12 {
            assert!(
                saturated,
                "shift {shift}: the test should reach the most negative h code"
            );
        }
        check_against_scalar(&golden, &seqs, 1);
    }
}
