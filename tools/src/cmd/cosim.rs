//! `qornn cosim`: the same sequences through the golden model, the rust-hdl simulation and the
//! emitted Verilog under Verilator and Icarus, every step compared with the golden model.

use anyhow::{bail, Context, Result};
use clap::Args;
use qornn_hdl::harness::{self, Outputs};
use qornn_hdl::{CoreConfig, CoreOptions, Multipliers};
use qornn_sim::sequence::load_inputs;
use qornn_sim::{Golden, QuantizedModel, Sequence, Trace};
use qornn_tools::cosim::{core_dut, run_iverilog, run_verilator, timed};
use qornn_tools::report::Table;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `qornn cosim`.
#[derive(Args)]
#[command(
    after_help = "Simulators: golden (the reference), rust-hdl (cycle simulation of the \
core), verilator and iverilog (the emitted Verilog with a generated testbench). Each one's \
h_t and y_t are compared with the golden model's on every step. Verilator builds are cached \
by design hash in --cache. With --vcd, each simulator's VCD goes into --out.\n\n\
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
    sim: Vec<String>,
    /// P, the number of MAC lanes.
    #[arg(long, default_value_t = 8)]
    lanes: usize,
    /// Multipliers: dsp or lut.
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

/// One simulator's row of the table.
pub struct SimResult {
    /// The simulator.
    pub sim: String,
    /// Steps simulated.
    pub steps: usize,
    /// Clock cycles in all (none for the golden model).
    pub cycles: Option<u64>,
    /// Wall time of the simulation.
    pub wall: Duration,
    /// The first difference from the golden model, if any.
    pub mismatch: Option<String>,
}

const SIMS: [&str; 4] = ["golden", "rust-hdl", "verilator", "iverilog"];

/// Run the chosen simulators on `seqs` and compare each with the golden model.
pub fn cosimulate(
    model: &QuantizedModel,
    opts: &CoreOptions,
    seqs: &[Sequence],
    sims: &[String],
    out: &Path,
    cache: &Path,
    vcd: bool,
) -> Result<Vec<SimResult>> {
    for s in sims {
        if !SIMS.contains(&s.as_str()) {
            bail!("unknown simulator `{s}` (one of: {})", SIMS.join(", "));
        }
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let steps: usize = seqs.iter().map(|s| s.steps()).sum();
    let golden = Golden::new(model)?;
    let (reference, golden_wall) = timed(|| golden.run_batch(seqs, 2));
    let vcd_path = |name: &str| vcd.then(|| out.join(format!("{name}.vcd")));
    let compare = |traces: &[Trace]| -> Option<String> {
        if traces.len() != reference.len() {
            return Some(format!(
                "{} sequences instead of {}",
                traces.len(),
                reference.len()
            ));
        }
        reference
            .iter()
            .zip(traces)
            .enumerate()
            .find_map(|(s, (g, t))| {
                g.first_difference(t)
                    .map(|d| format!("sequence {s}, {d} (golden vs this)"))
            })
    };
    let mut rows = Vec::new();
    for sim in sims {
        eprintln!(
            "cosim: {sim} over {} sequences, {steps} steps …",
            seqs.len()
        );
        let row = match sim.as_str() {
            "golden" => {
                if let Some(p) = vcd_path("golden") {
                    qornn_sim::atomic::write_with(&p, |w| {
                        qornn_sim::trace::write_vcd(w, model, seqs, &reference)
                    })?;
                }
                SimResult {
                    sim: sim.clone(),
                    steps,
                    cycles: None,
                    wall: golden_wall,
                    mismatch: None,
                }
            }
            "rust-hdl" => {
                let outputs = Outputs {
                    trace_vcd: vcd_path("rust-hdl"),
                    rtl_vcd: None,
                };
                let (run, wall) = timed(|| harness::run(model, opts, seqs, &outputs));
                let run = run?;
                SimResult {
                    sim: sim.clone(),
                    steps,
                    cycles: Some(run.total_cycles),
                    wall,
                    mismatch: compare(&run.traces),
                }
            }
            name => {
                let dut = core_dut(model, opts, qornn_hdl::verilog::DEFAULT_TOP)?;
                let work = out.join(name);
                let run = if name == "verilator" {
                    run_verilator(&dut, seqs, cache, &work, vcd_path(name).as_deref())?
                } else {
                    run_iverilog(&dut, seqs, &work, vcd_path(name).as_deref())?
                };
                SimResult {
                    sim: sim.clone(),
                    steps,
                    cycles: Some(run.total_cycles),
                    wall: run.wall,
                    mismatch: compare(&run.traces),
                }
            }
        };
        rows.push(row);
    }
    Ok(rows)
}

/// The results as a Markdown table.
pub fn table(rows: &[SimResult]) -> String {
    let mut t = Table::new(&[
        "simulator",
        "steps",
        "cycles",
        "cycles/step",
        "wall time",
        "vs golden",
    ]);
    for r in rows {
        t.row(vec![
            r.sim.clone(),
            r.steps.to_string(),
            r.cycles.map_or("—".into(), |c| c.to_string()),
            r.cycles.map_or("—".into(), |c| {
                format!("{:.1}", c as f64 / r.steps.max(1) as f64)
            }),
            format!("{:.3} s", r.wall.as_secs_f64()),
            match &r.mismatch {
                None => "equal".into(),
                Some(m) => format!("**MISMATCH** {m}"),
            },
        ]);
    }
    t.to_markdown()
}

/// Run `qornn cosim`.
pub fn run(a: CosimArgs) -> Result<ExitCode> {
    let model = QuantizedModel::load(&a.model).with_context(|| format!("{}", a.model.display()))?;
    let seqs = load_inputs(&a.input, &model).with_context(|| format!("{}", a.input.display()))?;
    let opts = CoreOptions {
        lanes: a.lanes,
        multipliers: a.multipliers,
    };
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
