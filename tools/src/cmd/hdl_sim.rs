//! `qornn hdl-sim`: run the rust-hdl cycle simulation of the core and compare it with the
//! golden model.

use anyhow::{Context, Result};
use clap::Args;
use qornn_hdl::harness::{self, Outputs};
use qornn_hdl::{CoreConfig, CoreOptions, Multipliers};
use qornn_sim::Golden;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Arguments of `qornn hdl-sim`.
#[derive(Args)]
#[command(
    after_help = "Simulates the core (docs/core.md) clock by clock in rust-hdl over \
every sequence of the input file and compares every h_t and y_t with the golden model. Prints \
the cycles per step and the simulation speed; on a mismatch prints the first differing step, \
row and both values and exits with status 1 (errors exit with 2).\n\n\
Example:\n  qornn model random --hidden 64 --input 2 --output 4 -o model.json\n  \
qornn input random --model model.json --steps 50 -o input.json\n  \
qornn hdl-sim --model model.json --input input.json --lanes 8 --vcd trace.vcd"
)]
pub struct HdlSimArgs {
    /// The model file.
    #[arg(long)]
    model: PathBuf,
    /// The input file (docs/fixed-point.md, section 9).
    #[arg(long)]
    input: PathBuf,
    /// P, the number of MAC lanes (1 ..= n).
    #[arg(long, default_value_t = 8)]
    lanes: usize,
    /// Multipliers: dsp, packed, lut or mixed:N (the arithmetic is the same; the schedule of
    /// packed lanes and the Verilog differ).
    #[arg(long, default_value = "dsp")]
    multipliers: Multipliers,
    /// Write the core's trace as VCD with the documented names (docs/traces.md), for
    /// `qornn vcd-diff` against the golden or Verilog traces.
    #[arg(long)]
    vcd: Option<PathBuf>,
    /// Write rust-hdl's own VCD of every signal, clock by clock (large).
    #[arg(long)]
    rtl_vcd: Option<PathBuf>,
}

/// Run `qornn hdl-sim`.
pub fn run(a: HdlSimArgs) -> Result<ExitCode> {
    let (model, seqs) = super::load_model_and_inputs(&a.model, &a.input)?;
    qornn_tools::simulator::check_request(
        &[qornn_tools::simulator::Simulator::RustHdl],
        seqs.iter().map(|s| s.steps()).sum(),
    )
    .with_context(|| format!("{}", a.input.display()))?;
    let opts = CoreOptions::with(a.lanes, a.multipliers);
    let cfg = CoreConfig::new(&model, &opts)?;
    let golden = Golden::new(&model)?;
    let outputs = Outputs {
        trace_vcd: a.vcd.clone(),
        rtl_vcd: a.rtl_vcd.clone(),
    };
    let start = Instant::now();
    let run = harness::run(&model, &opts, &seqs, &outputs)?;
    let secs = start.elapsed().as_secs_f64().max(1e-9);
    let steps: usize = seqs.iter().map(|s| s.steps()).sum();
    println!(
        "{} sequences, {steps} steps, {} cycles in {secs:.3} s ({:.0} cycles/s); \
         {} cycles per step (ideal {} + pipeline {})",
        seqs.len(),
        run.total_cycles,
        run.total_cycles as f64 / secs,
        cfg.cycles_per_step(),
        cfg.ideal_cycles(),
        cfg.pipeline_depth()
    );
    for p in [&a.vcd, &a.rtl_vcd].into_iter().flatten() {
        println!("wrote {}", p.display());
    }
    for (s, seq) in seqs.iter().enumerate() {
        if let Some(d) = golden.run(seq).first_difference(&run.traces[s]) {
            println!("MISMATCH in sequence {s}: {d} (golden vs rust-hdl)");
            return Ok(ExitCode::from(1));
        }
    }
    println!("equal to the golden model: every h_t and y_t of every sequence");
    Ok(ExitCode::SUCCESS)
}
