//! Packed lanes (`--multipliers packed`, two W/U rows per DSP): golden = rust-hdl = Verilator =
//! Icarus on random models whose widths allow packing, most-negative codes and saturation
//! included, the cycle formula exact; the fall-back when they do not; and the two defects a
//! packed lane can have — the low row's sign correction dropped, a guard bit too few — each
//! caught by Icarus exactly where an independent reference of that defect says.

use crate::cosim_all::all_agree;
use qornn_hdl::{verilog, CoreConfig, CoreOptions, Multipliers};
use qornn_sim::random::{random_model, random_sequences, RandomSpec, WeightStyle};
use qornn_sim::{Bits, Golden, QuantizedModel, Sequence, Shape, Trace};
use qornn_tests::spec_reference::{exact, Product};
use qornn_tests::{reference_run_products, require_tool, round_half_even};
use qornn_tools::cosim::{core_dut, run_iverilog, Dut};

fn packed(lanes: usize) -> CoreOptions {
    CoreOptions::with(lanes, Multipliers::Packed)
}

/// A random model of n, m, d with k_w-bit weights and k_a-bit codes (k_x = k_a).
pub(crate) fn model(
    shape: Shape,
    kw: u32,
    ka: u32,
    gain: f64,
    modrelu: bool,
    seed: u64,
) -> QuantizedModel {
    let mut spec = RandomSpec::new(shape, kw, seed);
    spec.activation_bits = Bits::new(ka);
    spec.input_bits = Bits::new(ka);
    spec.modrelu = modrelu;
    spec.style = WeightStyle::Uniform;
    spec.gain = gain;
    random_model(&spec)
}

/// Sequences whose every fifth input code is the most negative one.
pub(crate) fn sequences(
    model: &QuantizedModel,
    count: usize,
    steps: usize,
    seed: u64,
) -> Vec<Sequence> {
    let min = model.bits.input.min_code() as i32;
    random_sequences(model, count, steps, seed)
        .into_iter()
        .map(|s| {
            let mut flat = s.as_flat().to_vec();
            flat.iter_mut().step_by(5).for_each(|c| *c = min);
            Sequence::from_flat(s.width(), flat)
        })
        .collect()
}

#[test]
fn packed_lanes_agree_everywhere() {
    // (n, m, d, P, k_w, k_a, gain, modReLU): 2·k_w + k_a = 16 at the widest; a partial last
    // block (n = 9, 2P = 8; n = 33, 2P = 10); one block exactly (n = 12, P = 6); large gains
    // saturate h, so most-negative and most-positive codes flow through the products.
    let cases = [
        (16, 1, 4, 4, 4, 8, 1.0, false),
        (9, 2, 3, 4, 3, 6, 4.0, true),
        (33, 3, 5, 5, 2, 8, 8.0, false),
        (12, 2, 2, 6, 4, 8, 6.0, true),
    ];
    let mut saturated = 0;
    for (i, (n, m, d, p, kw, ka, gain, modrelu)) in cases.into_iter().enumerate() {
        let model = model(Shape::new(n, m, d), kw, ka, gain, modrelu, 40 + i as u64);
        let cfg = CoreConfig::new(&model, &packed(p)).unwrap();
        assert!(cfg.packed, "case {i} packs");
        assert_eq!(cfg.hidden_blocks(), n.div_ceil(2 * p));
        let seqs = sequences(&model, 2, 40, i as u64);
        let golden = Golden::new(&model).unwrap().run_batch(&seqs, 1);
        let max = model.bits.activation.max_code() as i32;
        let min = model.bits.activation.min_code() as i32;
        saturated += golden
            .iter()
            .any(|t| (0..t.steps()).any(|k| t.h(k).contains(&max) || t.h(k).contains(&min)))
            as usize;
        all_agree(&model, &packed(p), &seqs, 25);
    }
    assert!(saturated >= 2, "only {saturated} cases saturate");
}

#[test]
fn packing_falls_back_when_the_widths_do_not_allow_it() {
    // 2·5 + 8 = 18 bits: one row per lane, and still exact.
    let wide = model(Shape::new(16, 1, 3), 5, 8, 2.0, false, 7);
    let cfg = CoreConfig::new(&wide, &packed(4)).unwrap();
    assert!(!cfg.packed);
    assert!(cfg.packing_refused().unwrap().contains("18-bit operand"));
    assert_eq!(cfg.hidden_blocks(), 4);
    // 2P > n: 5 lanes of two rows need n ≥ 10.
    let small = model(Shape::new(9, 1, 3), 4, 8, 2.0, false, 8);
    let cfg = CoreConfig::new(&small, &packed(5)).unwrap();
    assert!(cfg.packing_refused().unwrap().contains("n ≥ 10"));
    all_agree(&wide, &packed(4), &sequences(&wide, 1, 20, 3), 20);
}

/// Wrap `v` to a `bits`-bit two's-complement value.
fn wrap(v: i128, bits: u32) -> i128 {
    let m = 1i128 << bits;
    let r = v.rem_euclid(m);
    if r >= m / 2 {
        r - m
    } else {
        r
    }
}

/// The first global step (over all sequences) where two sets of traces differ.
fn first_step(a: &[Trace], b: &[Trace]) -> Option<usize> {
    let mut base = 0;
    for (x, y) in a.iter().zip(b) {
        if let Some(d) = x.first_difference(y) {
            return Some(base + d.step);
        }
        base += x.steps();
    }
    None
}

#[test]
fn packed_lane_defects_are_caught_where_their_reference_says() {
    if require_tool("iverilog").is_none() {
        return;
    }
    let (kw, ka, p) = (4u32, 8u32, 3usize);
    let mut model = model(Shape::new(14, 2, 3), kw, ka, 3.0, true, 61);
    // Accumulators wider than required, so that the defects' larger sums wrap neither in
    // the core nor in their reference (which checks the declared width).
    model.bits.accumulator = Bits::new(model.bits.accumulator.get() + 6);
    model.bits.output_accumulator = Bits::new(model.bits.output_accumulator.get() + 6);
    let opts = packed(p);
    let cfg = CoreConfig::new(&model, &opts).unwrap();
    assert!(cfg.packed);
    // Small input codes (|x| ≤ 32): a U product never needs the guard bit, so the short guard
    // shows only once h_t has grown, some steps in.
    let seqs: Vec<Sequence> = random_sequences(&model, 2, 30, 5)
        .into_iter()
        .map(|q| {
            let flat = q.as_flat().iter().map(|&c| c / 4).collect();
            Sequence::from_flat(q.width(), flat)
        })
        .collect();
    let golden = Golden::new(&model).unwrap().run_batch(&seqs, 1);
    let text = verilog::emit(&model, &opts, "qornn_core").unwrap();
    let good = core_dut(&model, &opts, "qornn_core").unwrap();
    let offset = 1i128 << (kw - 1);
    let s = (kw + ka) as i128;
    // Row i is a block's low row when i mod 2P < P; its high partner is row i + P.
    let low = |i: usize| i % (2 * p) < p;
    let model_ref = &model;
    let partner = move |q: Product| -> i128 {
        let r = q.row - p;
        if q.input {
            model_ref.u[r][q.col] as i128
        } else {
            model_ref.w[r][q.col] as i128
        }
    };
    // The low row's product without its correction: (w + 2^(k_w−1))·a.
    let no_correction = |q: Product| {
        if low(q.row) {
            (q.weight + offset) * q.operand
        } else {
            exact(q)
        }
    };
    // Guard shift S − 1: the low part wraps at S − 1 bits, its borrow moves into the high row.
    let short = s - 1;
    let short_guard = |q: Product| {
        if low(q.row) {
            wrap((q.weight + offset) * q.operand, short as u32) - offset * q.operand
        } else {
            let l = (partner(q) + offset) * q.operand;
            q.weight * q.operand + (l - wrap(l, short as u32)) / (1 << short)
        }
    };
    let shift_line = format!("localparam PACK_S = {s};");
    assert!(
        text.contains(&shift_line),
        "the packed lanes declare their guard shift"
    );
    let correction = format!("lo_raw - (m_data <<< {})", kw - 1);
    assert!(
        text.contains(&correction),
        "the packed lanes correct the low row"
    );
    let dir = tempfile::tempdir().unwrap();
    for (name, from, to, rule) in [
        (
            "dropped correction",
            correction.clone(),
            "lo_raw".to_string(),
            &no_correction as &dyn Fn(Product) -> i128,
        ),
        (
            "guard bit too few",
            shift_line.clone(),
            format!("localparam PACK_S = {short};"),
            &short_guard,
        ),
    ] {
        let predicted: Vec<Trace> = seqs
            .iter()
            .map(|q| reference_run_products(&model, q, round_half_even, rule))
            .collect();
        let want = first_step(&golden, &predicted)
            .unwrap_or_else(|| panic!("{name}: this model and input expose the defect"));
        eprintln!("{name}: the reference predicts the first difference at step {want}");
        let mutant = Dut {
            verilog: text.replace(&from, &to),
            ..good.clone()
        };
        let run = run_iverilog(
            &mutant,
            &seqs,
            &dir.path().join(name.replace(' ', "-")),
            None,
        )
        .unwrap();
        assert_eq!(
            first_step(&predicted, &run.traces),
            None,
            "{name}: Icarus computes what the defect's reference predicts"
        );
        assert_eq!(
            first_step(&golden, &run.traces),
            Some(want),
            "{name}: caught at step {want}"
        );
    }
}
