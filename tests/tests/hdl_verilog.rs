//! The emitted Verilog: every design passes yosys (`read_verilog; hierarchy -check`) and
//! Verilator's lint; under Icarus Verilog and Verilator it computes every h_t and y_t of the
//! golden model, with the cycle count of the formula; a flipped weight bit is caught there too.

use qornn_hdl::{verilog, CoreConfig, CoreOptions, Multipliers, QornnCore};
use qornn_sim::random::{random_model, random_sequences, RandomSpec, WeightStyle};
use qornn_sim::{Bits, Golden, QuantizedModel, Sequence, Shape};
use qornn_tests::require_tool;
use qornn_tools::cosim::{run_iverilog, run_verilator, CosimRun, Dut};
use std::path::Path;
use std::process::Command;

fn dut(cfg: &CoreConfig, text: String, top: &str) -> Dut {
    Dut::qornn_core(text, top, cfg)
}

fn model(
    n: usize,
    m: usize,
    d: usize,
    kw: u32,
    ka: u32,
    modrelu: bool,
    seed: u64,
) -> QuantizedModel {
    let mut s = RandomSpec::new(Shape::new(n, m, d), kw, seed);
    s.activation_bits = Bits::new(ka);
    s.modrelu = modrelu;
    s.style = WeightStyle::Uniform;
    s.gain = 3.0;
    random_model(&s)
}

fn lint(path: &Path, top: &str) {
    if let Some(yosys) = require_tool("yosys") {
        let out = Command::new(yosys)
            .arg("-q")
            .arg("-p")
            .arg(format!(
                "read_verilog {}; hierarchy -check -top {top}",
                path.display()
            ))
            .output()
            .expect("yosys runs");
        assert!(
            out.status.success(),
            "yosys rejects {}:\n{}{}",
            path.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    if let Some(verilator) = require_tool("verilator") {
        let out = Command::new(verilator)
            .args(["--lint-only", "-Wno-WIDTH", "--top-module", top])
            .arg(path)
            .output()
            .expect("verilator runs");
        assert!(
            out.status.success(),
            "verilator lint fails on {}:\n{}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn every_emitted_design_passes_yosys_and_verilator_lint() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (4, 1, 1, 1, 2, 4, false, Multipliers::Dsp),
        (5, 2, 3, 2, 8, 16, true, Multipliers::Lut),
        (9, 3, 2, 4, 3, 8, true, Multipliers::Dsp),
        (16, 1, 4, 8, 8, 12, false, Multipliers::Lut),
        (64, 2, 10, 8, 4, 8, false, Multipliers::Dsp),
        (33, 4, 5, 7, 6, 5, true, Multipliers::Dsp),
    ];
    for (i, (n, m, d, p, kw, ka, modrelu, mul)) in cases.into_iter().enumerate() {
        let model = model(n, m, d, kw, ka, modrelu, i as u64);
        let top = format!("core_{i}");
        let text = verilog::emit(&model, &CoreOptions::with(p, mul), &top).unwrap();
        let path = dir.path().join(format!("{top}.v"));
        std::fs::write(&path, text).unwrap();
        lint(&path, &top);
    }
}

fn check(run: &CosimRun, model: &QuantizedModel, seqs: &[Sequence], cfg: &CoreConfig, sim: &str) {
    let golden = Golden::new(model).unwrap();
    for (s, seq) in seqs.iter().enumerate() {
        if let Some(d) = golden.run(seq).first_difference(&run.traces[s]) {
            panic!(
                "{sim}, n={} P={}: sequence {s}: {d} (golden vs Verilog)",
                cfg.hidden, cfg.lanes
            );
        }
    }
    // The harness counts from offering x_t (one clock before it is taken) to y_valid.
    for &c in &run.cycles {
        assert_eq!(c, cfg.cycles_per_step() + 1, "{sim}: cycles per step");
    }
}

#[test]
fn emitted_verilog_equals_the_golden_model_under_icarus() {
    if require_tool("iverilog").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (6, 2, 3, 4, 4, 8, false, Multipliers::Dsp),
        (7, 1, 2, 3, 2, 16, true, Multipliers::Lut),
        (10, 3, 4, 1, 8, 4, true, Multipliers::Dsp),
        (12, 2, 9, 5, 5, 6, false, Multipliers::Lut),
        // One block per phase (n ≤ P, d = 1): the end-of-count flags start set.
        (4, 1, 1, 4, 3, 8, true, Multipliers::Dsp),
    ];
    for (i, (n, m, d, p, kw, ka, modrelu, mul)) in cases.into_iter().enumerate() {
        let model = model(n, m, d, kw, ka, modrelu, 40 + i as u64);
        let opts = CoreOptions::with(p, mul);
        let cfg = CoreConfig::new(&model, &opts).unwrap();
        let text = verilog::emit(&model, &opts, "qornn_core").unwrap();
        let seqs = random_sequences(&model, 2, 5, i as u64);
        let run = run_iverilog(
            &dut(&cfg, text, "qornn_core"),
            &seqs,
            &dir.path().join(format!("i{i}")),
            None,
        )
        .expect("iverilog runs");
        check(&run, &model, &seqs, &cfg, "iverilog");
    }
}

#[test]
fn emitted_verilog_equals_the_golden_model_under_verilator() {
    if require_tool("verilator").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (i, (n, m, d, p, kw, ka, modrelu, mul)) in [
        (64, 3, 10, 8, 8, 8, true, Multipliers::Dsp),
        (64, 1, 3, 7, 4, 16, false, Multipliers::Lut),
    ]
    .into_iter()
    .enumerate()
    {
        let model = model(n, m, d, kw, ka, modrelu, 80 + i as u64);
        let opts = CoreOptions::with(p, mul);
        let cfg = CoreConfig::new(&model, &opts).unwrap();
        let text = verilog::emit(&model, &opts, "qornn_core").unwrap();
        let seqs = random_sequences(&model, 3, 40, i as u64);
        let run = run_verilator(
            &dut(&cfg, text, "qornn_core"),
            &seqs,
            &crate::verilator_cache(),
            &dir.path().join(format!("v{i}")),
            None,
        )
        .expect("verilator runs");
        check(&run, &model, &seqs, &cfg, "verilator");
    }
}

#[test]
fn a_flipped_weight_bit_is_caught_in_the_verilog() {
    if require_tool("iverilog").is_none() {
        return;
    }
    let model = model(8, 2, 2, 6, 8, false, 7);
    let opts = CoreOptions::new(2);
    let cfg = CoreConfig::new(&model, &opts).unwrap();
    let mut core = QornnCore::new(&model, &opts).unwrap();
    assert!(core.flip_weight_bit(0, 1, 2));
    let text = verilog::emit_core(&core, "broken").unwrap();
    let seqs = random_sequences(&model, 1, 6, 1);
    let dir = tempfile::tempdir().unwrap();
    let run =
        run_iverilog(&dut(&cfg, text, "broken"), &seqs, dir.path(), None).expect("iverilog runs");
    let want = Golden::new(&model).unwrap().run(&seqs[0]);
    assert!(
        want.first_difference(&run.traces[0]).is_some(),
        "the flipped bit went unnoticed"
    );
}

#[test]
fn cores_that_cannot_be_built_are_refused_before_any_verilog() {
    let m = model(4, 1, 1, 4, 8, false, 1);
    for lanes in [0, 5] {
        let e = verilog::emit(&m, &CoreOptions::new(lanes), "x").unwrap_err();
        assert!(e.to_string().contains("lane"), "{e}");
    }
    let mut bad = m.clone();
    bad.u[0][0] = 99;
    assert!(verilog::emit(&bad, &CoreOptions::new(1), "x").is_err());
    assert!(verilog::emit(&m, &CoreOptions::new(1), "9bad name").is_err());
}
