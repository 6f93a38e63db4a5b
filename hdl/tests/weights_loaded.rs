//! Run-time weights: a core built from one model (its frame) runs another model of the same
//! frame exactly as the golden model runs it, once that model's image has gone through the
//! load port; and the load really changes what the core computes.

use qornn_hdl::harness::{run, run_loaded, Outputs};
use qornn_hdl::{CoreOptions, Multipliers, WeightStore};
use qornn_sim::random::{random_model, random_sequences, RandomSpec, WeightStyle};
use qornn_sim::{Bits, Golden, QuantizedModel, Shape};

/// Another model of `m`'s frame: the rows of W, U, b (and β) in reverse order, and those of V
/// and c. Each row keeps its own weights, so the width analysis (which bounds each row) holds
/// at the same widths, while the recurrence differs (W' = Π·W, not Π·W·Πᵀ).
fn reversed_rows(m: &QuantizedModel) -> QuantizedModel {
    let mut r = m.clone();
    r.w.reverse();
    r.u.reverse();
    r.b.reverse();
    r.v.reverse();
    r.c.reverse();
    if let qornn_sim::Activation::Modrelu { bias } = &mut r.activation {
        bias.reverse();
    }
    r
}

fn check_loaded(spec: &RandomSpec, opts: &CoreOptions) {
    let build = random_model(spec);
    let loaded = reversed_rows(&build);
    assert_ne!(build.w, loaded.w, "the test needs two different models");
    let seqs = random_sequences(&loaded, 2, 5, spec.seed);
    let golden = Golden::new(&loaded).unwrap();
    let got = run_loaded(&build, opts, &loaded, &seqs).unwrap();
    let before = run(
        &build,
        &opts.clone().with_weights(WeightStore::Ram),
        &seqs,
        &Outputs::default(),
    )
    .unwrap();
    let mut differs = false;
    for (s, seq) in seqs.iter().enumerate() {
        let want = golden.run(seq);
        if let Some(d) = want.first_difference(&got.traces[s]) {
            panic!("{spec:?} {opts:?}: sequence {s}: {d} (golden of the loaded model vs core)");
        }
        differs |= want.first_difference(&before.traces[s]).is_some();
    }
    assert!(
        differs,
        "{spec:?}: the build model's own outputs equal the loaded model's"
    );
}

#[test]
fn a_loaded_model_runs_as_the_golden_model_runs_it() {
    let mut spec = RandomSpec::new(Shape::new(7, 2, 3), 4, 21);
    check_loaded(&spec, &CoreOptions::new(3));
    check_loaded(&spec, &CoreOptions::with(1, Multipliers::Lut));
    // modReLU, uniform codes with the most negative ones, saturation, wide accumulators
    // (several bytes a word), and a packed core (two weights a word).
    spec.modrelu = true;
    spec.style = WeightStyle::Uniform;
    spec.gain = 4.0;
    spec.activation_bits = Bits::new(12);
    check_loaded(&spec, &CoreOptions::new(2));
    let packed = RandomSpec::new(Shape::new(12, 1, 2), 3, 5);
    check_loaded(&packed, &CoreOptions::with(3, Multipliers::Packed));
}

/// The lane banks in SPRAM: lanes share a block (4-bit slots: four lanes a block, 8-bit: two;
/// a partial last group), each lane's slot delayed to its own address, and the writes of one
/// slot leave the others' nibbles alone.
#[test]
fn a_model_loaded_into_spram_runs_as_the_golden_model_runs_it() {
    let spram = |o: CoreOptions| o.with_weights(WeightStore::Spram);
    // k_w = k_v = 4: 4-bit slots, lanes 0–3 and 4 in two blocks
    let mut narrow = RandomSpec::new(Shape::new(9, 2, 3), 4, 31);
    narrow.output_weight_bits = Bits::new(4);
    check_loaded(&narrow, &spram(CoreOptions::new(5)));
    // 8-bit V: 8-bit slots, two lanes a block; modReLU and most-negative codes
    let mut wide = RandomSpec::new(Shape::new(7, 2, 3), 4, 21);
    wide.modrelu = true;
    wide.style = WeightStyle::Uniform;
    check_loaded(&wide, &spram(CoreOptions::new(3)));
    // packed lanes: two 4-bit weights a word, 8-bit slots
    let packed = RandomSpec::new(Shape::new(12, 1, 2), 4, 5);
    check_loaded(&packed, &spram(CoreOptions::with(3, Multipliers::Packed)));
}
