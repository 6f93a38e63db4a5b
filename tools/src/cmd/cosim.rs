//! `qornn cosim`: the same sequences through the golden model, the rust-hdl simulation and the
//! emitted Verilog under Verilator and Icarus, every step compared with the golden model.

use anyhow::Result;
use clap::Args;
use qornn_hdl::{CoreConfig, CoreOptions, Multipliers};
use qornn_tools::cosim::{cosimulate, table};
use qornn_tools::simulator::Simulator;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `qornn cosim`.
#[derive(Args)]
#[command(
    after_help = "Simulators: golden (the reference), rust-hdl (cycle simulation of the \
core), verilator and iverilog (the emitted Verilog with a generated testbench). Each one's \
h_t and y_t are compared with the golden model's on every step. Verilator builds are cached \
by design hash in --cache (the first build there also makes the Verilator runtime and its \
precompiled headers, which later designs reuse; a run asking for the same design as a running \
one waits for its build). With --vcd, each simulator's VCD goes into --out, and Verilator \
builds with tracing.\n\n\
Exit status: 0 all equal, 1 a mismatch (the first one is printed), 2 an error.\n\n\
Examples:\n  qornn cosim --model model.json --input input.json\n  \
qornn cosim --model model.json --input long.json --sim golden,verilator --lanes 8"
)]
pub struct CosimArgs {
    /// The model file.
    #[arg(long)]
    model: PathBuf,
    /// The input file (docs/fixed-point.md, section 9).
    #[arg(long)]
    input: PathBuf,
    /// Simulators to run, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "golden,rust-hdl,verilator,iverilog"
    )]
    sim: Vec<Simulator>,
    /// P, the number of MAC lanes.
    #[arg(long, default_value_t = 8)]
    lanes: usize,
    /// Multipliers: dsp, packed (two rows per DSP), lut or mixed:N.
    #[arg(long, default_value = "dsp")]
    multipliers: Multipliers,
    /// Working folder (testbenches, outputs, VCDs).
    #[arg(long, default_value = "qornn-out/cosim")]
    out: PathBuf,
    /// Verilator build cache.
    #[arg(long, default_value = "qornn-out/cache")]
    cache: PathBuf,
    /// Write each simulator's VCD into --out.
    #[arg(long)]
    vcd: bool,
}

/// Run `qornn cosim`.
pub fn run(a: CosimArgs) -> Result<ExitCode> {
    let (model, seqs) = super::load_model_and_inputs(&a.model, &a.input)?;
    let opts = CoreOptions::with(a.lanes, a.multipliers);
    let cfg = CoreConfig::new(&model, &opts)?;
    let rows = cosimulate(&model, &opts, &seqs, &a.sim, &a.out, &a.cache, a.vcd)?;
    println!(
        "core: n={} m={} d={}, {} lanes, {} cycles per step (ideal {})\n",
        cfg.hidden,
        cfg.input,
        cfg.output,
        cfg.lanes,
        cfg.cycles_per_step(),
        cfg.ideal_cycles()
    );
    print!("{}", table(&rows));
    let bad = rows.iter().any(|r| r.mismatch.is_some());
    Ok(if bad {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
