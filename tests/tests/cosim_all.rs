//! Golden = rust-hdl = Verilator = Icarus on every h_t and y_t, over whole sequences: several
//! random models, and the trained copy-task model shipped in `tests/data` (its input is a copy
//! task sequence of more than 1000 steps under Verilator).

use qornn_hdl::harness::{self, Outputs};
use qornn_hdl::{CoreOptions, Multipliers};
use qornn_sim::random::{random_model, random_sequences, RandomSpec, WeightStyle};
use qornn_sim::{Bits, Golden, QuantizedModel, Sequence, Shape, Trace};
use qornn_tests::require_tool;
use qornn_tools::cosim::{core_dut, run_iverilog, run_verilator};

fn assert_same(sim: &str, want: &[Trace], got: &[Trace]) {
    assert_eq!(want.len(), got.len(), "{sim}: sequence count");
    for (s, (w, g)) in want.iter().zip(got).enumerate() {
        assert_eq!(w.steps(), g.steps(), "{sim}: steps of sequence {s}");
        if let Some(d) = w.first_difference(g) {
            panic!("{sim} differs from golden in sequence {s}: {d}");
        }
    }
}

/// Every simulator on `seqs`; Icarus (slow) on the first `icarus_steps` steps of each.
pub(crate) fn all_agree(
    model: &QuantizedModel,
    opts: &CoreOptions,
    seqs: &[Sequence],
    icarus_steps: usize,
) {
    let golden = Golden::new(model).unwrap().run_batch(seqs, 2);
    let hdl = harness::run(model, opts, seqs, &Outputs::default()).unwrap();
    assert_same("rust-hdl", &golden, &hdl.traces);
    let dut = core_dut(model, opts, "qornn_core").unwrap();
    let dir = tempfile::tempdir().unwrap();
    if require_tool("verilator").is_some() {
        let v = run_verilator(
            &dut,
            seqs,
            &crate::verilator_cache(),
            &dir.path().join("v"),
            None,
        )
        .unwrap();
        assert_same("verilator", &golden, &v.traces);
        assert_eq!(v.cycles.iter().sum::<u64>(), hdl.step_cycles.iter().sum::<u64>() + v.cycles.len() as u64,
            "Verilator counts one more cycle per step (from offering x_t) than the core's own counter");
    }
    if require_tool("iverilog").is_some() {
        let short: Vec<Sequence> = seqs
            .iter()
            .map(|s| {
                Sequence::from_flat(
                    s.width(),
                    s.as_flat()[..s.width() * s.steps().min(icarus_steps)].to_vec(),
                )
            })
            .collect();
        let golden_short = Golden::new(model).unwrap().run_batch(&short, 2);
        let i = run_iverilog(&dut, &short, &dir.path().join("i"), None).unwrap();
        assert_same("iverilog", &golden_short, &i.traces);
    }
}

#[test]
fn random_models_agree_everywhere() {
    let cases = [
        (
            16,
            1,
            4,
            4,
            8,
            8,
            false,
            WeightStyle::Orthogonal,
            1.0,
            Multipliers::Dsp,
        ),
        (
            24,
            3,
            5,
            5,
            3,
            12,
            true,
            WeightStyle::Uniform,
            3.0,
            Multipliers::Lut,
        ),
        (
            40,
            2,
            10,
            8,
            6,
            16,
            false,
            WeightStyle::Orthogonal,
            0.7,
            Multipliers::Dsp,
        ),
        // Three DSP lanes and two LUT lanes in one core.
        (
            20,
            1,
            3,
            5,
            4,
            8,
            true,
            WeightStyle::Uniform,
            2.0,
            Multipliers::Mixed { dsp_lanes: 3 },
        ),
    ];
    for (i, (n, m, d, p, kw, ka, modrelu, style, gain, mul)) in cases.into_iter().enumerate() {
        let mut spec = RandomSpec::new(Shape::new(n, m, d), kw, 100 + i as u64);
        spec.activation_bits = Bits::new(ka);
        spec.modrelu = modrelu;
        spec.style = style;
        spec.gain = gain;
        let model = random_model(&spec);
        let seqs = random_sequences(&model, 2, 300, i as u64);
        all_agree(&model, &CoreOptions::with(p, mul), &seqs, 60);
    }
}
#[test]
fn the_trained_copy_model_agrees_over_a_long_sequence() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/data");
    let model = QuantizedModel::load(&std::path::Path::new(dir).join("copy-model.json")).unwrap();
    let seqs = qornn_sim::sequence::load_inputs(
        &std::path::Path::new(dir).join("copy-input.json"),
        &model,
    )
    .unwrap();
    assert!(seqs.iter().map(|s| s.steps()).sum::<usize>() >= 1000);
    all_agree(&model, &CoreOptions::new(8), &seqs, 120);
}

/// n = 1 and 2: 1-bit state-buffer addresses, which Verilog declares as scalars (their
/// part-select did not compile, issue #16). Every simulator, both multiplier styles, d above
/// and below n, saturating codes.
#[test]
fn the_smallest_cores_compile_and_agree_everywhere() {
    for (i, (n, d, p, mul, modrelu)) in [
        (1, 1, 1, Multipliers::Dsp, false),
        (2, 5, 1, Multipliers::Lut, true),
        (2, 2, 2, Multipliers::Dsp, true),
    ]
    .into_iter()
    .enumerate()
    {
        let mut spec = RandomSpec::new(Shape::new(n, 2, d), 4, 300 + i as u64);
        spec.modrelu = modrelu;
        spec.style = WeightStyle::Uniform;
        spec.gain = 3.0;
        let model = random_model(&spec);
        let seqs = random_sequences(&model, 2, 40, i as u64);
        all_agree(&model, &CoreOptions::with(p, mul), &seqs, 40);
    }
}
