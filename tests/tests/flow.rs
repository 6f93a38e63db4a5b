//! A reduced `qornn flow` end to end (tiny copy task, short training, a few sequences, one
//! synthesis point): the report's fields are checked, not just that files exist.

use qornn_tests::{require_tool, tools_required};
use qornn_tools::flow::{run, FlowConfig, SynthMode};

#[test]
fn a_reduced_flow_runs_end_to_end_and_reports_what_it_did() {
    let synth = ["yosys", "nextpnr-ice40", "icepack"]
        .iter()
        .all(|t| require_tool(t).is_some());
    let mut c = FlowConfig::default();
    c.train.hidden = 32;
    c.train.steps = 120;
    c.train.eval_every = Some(60);
    c.train.test_limit = 200;
    c.export.compare_activation_bits = vec![8, 12];
    c.hardware.lanes = 4;
    c.hardware.rust_hdl_sequences = 2;
    c.hardware.verilator_sequences = 20;
    c.hardware.synth_lanes = vec![4];
    c.hardware.synth = if synth || tools_required() {
        SynthMode::On
    } else {
        SynthMode::Off
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let report = run(&c, out, true).expect("the flow completes");

    // Every stage ran (or was skipped on purpose) and the report on disk says the same.
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let stages = json["stages"].as_array().unwrap();
    assert_eq!(stages.len(), 6);
    for s in stages {
        let status = s["status"].as_str().unwrap();
        assert!(
            status == "ok" || (status.starts_with("skipped") && s["stage"] == "synthesise"),
            "{s}"
        );
    }
    assert!(json["stopped"].is_null());
    // Training logged its evaluations and beat nothing-learnt.
    assert_eq!(report.training.len(), 2);
    let last = report.training.last().unwrap();
    assert!(
        last.test_loss < report.baseline.unwrap(),
        "test loss {} vs baseline {:?}",
        last.test_loss,
        report.baseline
    );
    // PTQ rows for each width, and the integer model is the exported one.
    let widths: Vec<u32> = report.ptq.iter().map(|r| r.activation_bits).collect();
    assert_eq!(widths, vec![8, 12]);
    let model = qornn_sim::QuantizedModel::load(&out.join("model.json")).unwrap();
    assert_eq!(model.bits.activation.get(), 12);
    assert_eq!(
        json["model"]["bits"]["accumulator"],
        model.bits.accumulator.get()
    );
    // Every co-simulation and VCD comparison is equal, and the counts are what was asked.
    assert!(report.all_equal);
    let sims: Vec<&str> = report.cosim.iter().map(|c| c.sim.as_str()).collect();
    assert!(sims.starts_with(&["golden", "rust-hdl"]), "{sims:?}");
    if require_tool("verilator").is_some() {
        let v = report
            .cosim
            .iter()
            .find(|c| c.sim == "verilator")
            .expect("a Verilator row");
        assert_eq!(v.sequences, 20);
        assert_eq!(v.steps, 20 * 30);
    }
    assert!(
        report.vcd.iter().all(|(_, v)| v.starts_with("equal")),
        "{:?}",
        report.vcd
    );
    let (cycles, ideal) = report.cycles_per_step.unwrap();
    assert!(cycles >= ideal && (cycles as f64) < 1.05 * ideal as f64 + 40.0);
    // Synthesis, when it ran: real numbers for the one point.
    if c.hardware.synth == SynthMode::On {
        let (target, points) = &report.synthesis[0];
        assert_eq!(target, "ice40-up5k");
        let r = points[0].result.as_ref().expect("synthesised");
        assert_eq!(r.usage(qornn_tools::synth::Resource::Dsps).used, 4);
        assert!(r.fmax().is_some_and(|f| f > 1.0));
        assert!(out.join("resources_vs_lanes.png").is_file());
    }
    // The files a person opens.
    for f in [
        "report.md",
        "report.html",
        "flow.toml",
        "core.v",
        "train/loss.png",
        "accuracy_vs_bits.png",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let png = std::fs::read(out.join("train/loss.png")).unwrap();
    assert_eq!(&png[..4], b"\x89PNG");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("| verilator |") || require_tool("verilator").is_none());
    // The resolved configuration repeats the run.
    let again =
        FlowConfig::from_toml(&std::fs::read_to_string(out.join("flow.toml")).unwrap()).unwrap();
    assert_eq!(again, c);
}
