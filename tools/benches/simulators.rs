//! Simulator speed on one design, as ratios measured in the same process: the rust-hdl cycle
//! simulation, Verilator and Icarus Verilog running the emitted core of the same model
//! (n = 64, m = 1, d = 10, 8 lanes, 4-bit weights) on the same inputs, in simulated clock
//! cycles per wall-clock second (builds excluded); and `vcd_diff` over the VCDs it wrote.
//!
//! Run: `cargo bench -p qornn --bench simulators` (needs verilator and iverilog on PATH).

use qornn_hdl::harness::{self, Outputs};
use qornn_hdl::CoreOptions;
use qornn_sim::random::{random_model, random_sequences, RandomSpec};
use qornn_sim::vcd_diff::{diff_files, Align, DiffOptions};
use qornn_sim::Shape;
use qornn_tools::cosim::{core_dut, run_iverilog, run_verilator, timed};

fn main() {
    let model = random_model(&RandomSpec::new(Shape::new(64, 1, 10), 4, 1));
    let opts = CoreOptions::new(8);
    let seqs = random_sequences(&model, 1, 2000, 2);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let d = dir.path();

    let (hdl, hdl_wall) =
        timed(|| harness::run(&model, &opts, &seqs, &Outputs::default()).expect("rust-hdl runs"));
    let hdl_rate = hdl.total_cycles as f64 / hdl_wall.as_secs_f64();
    println!(
        "rust-hdl   {:>12.0} cycles/s  ({} cycles in {:.2} s)",
        hdl_rate,
        hdl.total_cycles,
        hdl_wall.as_secs_f64()
    );

    let dut = core_dut(&model, &opts, "qornn_core").expect("the core emits");
    let cache = d.join("cache");
    run_verilator(&dut, &seqs[..], &cache, &d.join("warm"), None).expect("verilator builds");
    let v = run_verilator(&dut, &seqs, &cache, &d.join("v"), None).expect("verilator runs");
    let v_rate = v.total_cycles as f64 / v.wall.as_secs_f64();
    println!(
        "verilator  {:>12.0} cycles/s  ({} cycles in {:.3} s)  = {:.0} × rust-hdl",
        v_rate,
        v.total_cycles,
        v.wall.as_secs_f64(),
        v_rate / hdl_rate
    );

    let short = random_sequences(&model, 1, 200, 2);
    let i = run_iverilog(&dut, &short, &d.join("i"), None).expect("iverilog runs");
    let i_rate = i.total_cycles as f64 / i.wall.as_secs_f64();
    println!(
        "iverilog   {:>12.0} cycles/s  = {:.2} × rust-hdl",
        i_rate,
        i_rate / hdl_rate
    );

    // vcd_diff on two dumps of the same run (rust-hdl's own VCD against Verilator's).
    let a = d.join("rust-hdl.vcd");
    let b = d.join("verilator.vcd");
    harness::run(
        &model,
        &opts,
        &short,
        &Outputs {
            rtl_vcd: Some(a.clone()),
            trace_vcd: None,
        },
    )
    .expect("rust-hdl VCD");
    run_verilator(&dut, &short, &cache, &d.join("vv"), Some(&b)).expect("verilator VCD");
    let bytes = std::fs::metadata(&a).map(|m| m.len()).unwrap_or(0)
        + std::fs::metadata(&b).map(|m| m.len()).unwrap_or(0);
    let opts = DiffOptions {
        signals: vec!["y_data".into(), "h_data".into()],
        align: Align::Strobe("y_valid".into()),
        ..DiffOptions::default()
    };
    let (outcome, wall) = timed(|| diff_files(&a, &b, &opts).expect("vcd_diff runs"));
    println!(
        "vcd-diff   {:>12.1} MB/s      ({:.1} MB in {:.2} s): {:?}",
        bytes as f64 / 1e6 / wall.as_secs_f64(),
        bytes as f64 / 1e6,
        wall.as_secs_f64(),
        matches!(outcome, qornn_sim::vcd_diff::Outcome::Equal { .. })
    );
}
