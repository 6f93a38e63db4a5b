//! The VCD of the rust-hdl simulation and the VCDs dumped by Verilator and Icarus for the same
//! design and stimuli compare equal with `vcd_diff` on the core's documented ports (aligned on
//! `y_valid`); a core with one flipped weight bit, and one with a changed rounding rule, are
//! reported as different at the step and signal where the difference must first show.

use qornn_hdl::harness::{self, Outputs};
use qornn_hdl::{verilog, CoreOptions};
use qornn_sim::random::{random_model, random_sequences, RandomSpec};
use qornn_sim::vcd_diff::{diff_files, Align, DiffOptions, Outcome};
use qornn_sim::{Golden, QuantizedModel, Sequence, Shape, Trace};
use qornn_tests::{reference_run, require_tool, round_half_even, round_half_up};
use qornn_tools::cosim::{core_dut, run_iverilog, run_verilator, Dut};
use std::path::Path;

fn ports_opts() -> DiffOptions {
    DiffOptions {
        signals: vec!["y_data".into(), "h_data".into(), "step_cycles".into()],
        align: Align::Strobe("y_valid".into()),
        ..DiffOptions::default()
    }
}

/// The first global step (over all sequences) where two sets of traces differ.
fn first_step(a: &[Trace], b: &[Trace]) -> Option<u64> {
    let mut base = 0u64;
    for (x, y) in a.iter().zip(b) {
        if let Some(d) = x.first_difference(y) {
            return Some(base + d.step as u64);
        }
        base += x.steps() as u64;
    }
    None
}

fn setup() -> (QuantizedModel, CoreOptions, Vec<Sequence>) {
    let mut spec = RandomSpec::new(Shape::new(12, 2, 3), 4, 21);
    spec.gain = 1.5;
    let model = random_model(&spec);
    let seqs = random_sequences(&model, 2, 30, 22);
    (model, CoreOptions::new(4), seqs)
}

fn assert_differs_at(a: &Path, b: &Path, step: u64) {
    match diff_files(a, b, &ports_opts()).unwrap() {
        Outcome::Different(m) => {
            assert_eq!(m.sample, step, "first difference at the wrong step: {m:?}");
            assert!(
                m.signal.ends_with("h_data") || m.signal.ends_with("y_data"),
                "{}",
                m.signal
            );
        }
        other => panic!("the mutation was not found: {other:?}"),
    }
}

#[test]
fn rust_hdl_and_verilog_vcds_are_equal_and_mutations_are_found() {
    let verilator = require_tool("verilator").is_some();
    let icarus = require_tool("iverilog").is_some();
    let (model, opts, seqs) = setup();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rtl = d.join("rust-hdl.vcd");
    let run = harness::run(
        &model,
        &opts,
        &seqs,
        &Outputs {
            rtl_vcd: Some(rtl.clone()),
            trace_vcd: Some(d.join("rust-hdl-trace.vcd")),
        },
    )
    .unwrap();
    let steps: u64 = seqs.iter().map(|s| s.steps() as u64).sum();
    // The trace VCDs of golden and rust-hdl, with the documented names, are equal too.
    let golden = Golden::new(&model).unwrap().run_batch(&seqs, 1);
    qornn_sim::atomic::write_with(&d.join("golden.vcd"), |w| {
        qornn_sim::trace::write_vcd(w, &model, &seqs, &golden)
    })
    .unwrap();
    assert!(matches!(
        diff_files(&d.join("golden.vcd"), &d.join("rust-hdl-trace.vcd"), &DiffOptions::default()).unwrap(),
        Outcome::Equal { samples, .. } if samples == steps
    ));
    assert_eq!(first_step(&golden, &run.traces), None);

    let good = core_dut(&model, &opts, "qornn_core").unwrap();
    let cache = crate::verilator_cache();
    if verilator {
        let v = d.join("verilator.vcd");
        run_verilator(&good, &seqs, &cache, &d.join("v"), Some(&v)).unwrap();
        match diff_files(&rtl, &v, &ports_opts()).unwrap() {
            Outcome::Equal {
                samples, signals, ..
            } => {
                assert_eq!(samples, steps);
                assert!(signals.iter().any(|s| s.ends_with("h_data")), "{signals:?}");
            }
            other => panic!("rust-hdl and Verilator VCDs differ: {other:?}"),
        }
        // One flipped weight bit: the golden models of both weight sets say where it shows.
        let mut bad_model = model.clone();
        bad_model.w[5][7] ^= 1;
        let bad_golden = Golden::new(&bad_model).unwrap().run_batch(&seqs, 1);
        let want = first_step(&golden, &bad_golden).expect("the flip changes the trace");
        let bad = core_dut(&bad_model, &opts, "qornn_core").unwrap();
        let bv = d.join("verilator-flipped.vcd");
        run_verilator(&bad, &seqs, &cache, &d.join("vb"), Some(&bv)).unwrap();
        assert_differs_at(&rtl, &bv, want);
    }
    if icarus {
        let i = d.join("iverilog.vcd");
        run_iverilog(&good, &seqs, &d.join("i"), Some(&i)).unwrap();
        assert!(
            matches!(diff_files(&rtl, &i, &ports_opts()).unwrap(), Outcome::Equal { samples, .. } if samples == steps)
        );
        // Round half up instead of half to even, in the emitted requantiser. A short shift
        // makes ties (a·M ≡ 2^(r-1) mod 2^r) common.
        let mut model = model.clone();
        model.requant.multiplier = 3;
        model.requant.shift = 4;
        let golden = Golden::new(&model).unwrap().run_batch(&seqs, 1);
        let good = core_dut(&model, &opts, "qornn_core").unwrap();
        let rtl = d.join("rust-hdl-ties.vcd");
        harness::run(
            &model,
            &opts,
            &seqs,
            &Outputs {
                rtl_vcd: Some(rtl.clone()),
                trace_vcd: None,
            },
        )
        .unwrap();
        let text = verilog::emit(&model, &opts, "qornn_core").unwrap();
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with("wire inc = "))
            .expect("the rounding increment")
            .to_string();
        let bit = line
            .split('&')
            .next()
            .unwrap()
            .trim()
            .trim_start_matches("wire inc = ")
            .to_string();
        let mutated = Dut {
            verilog: text.replace(&line, &format!("wire inc = {bit};")),
            ..good.clone()
        };
        let expect: Vec<Trace> = seqs
            .iter()
            .map(|s| reference_run(&model, s, round_half_up))
            .collect();
        let spec: Vec<Trace> = seqs
            .iter()
            .map(|s| reference_run(&model, s, round_half_even))
            .collect();
        assert_eq!(
            first_step(&spec, &golden),
            None,
            "the plain reference is the spec"
        );
        let want = first_step(&golden, &expect).expect("this model and input hit a rounding tie");
        let iv = d.join("iverilog-half-up.vcd");
        let run = run_iverilog(&mutated, &seqs, &d.join("ib"), Some(&iv)).unwrap();
        assert_eq!(
            first_step(&expect, &run.traces),
            None,
            "the mutant computes half-up rounding"
        );
        assert_differs_at(&rtl, &iv, want);
    }
}
