//! `qornn flow`: train, export, co-simulate, emit Verilog, synthesise, report — in one run.

use anyhow::{Context, Result};
use clap::Args;
use qornn_tools::flow::{self, FlowConfig, FlowError};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `qornn flow`.
#[derive(Args)]
#[command(
    after_help = "Stages: train → export (float / fake-quant / integer side by side) → \
co-simulate (golden, rust-hdl, Verilator, Icarus; VCDs compared) → Verilog → synthesise (when \
yosys/nextpnr are installed; the report says how to get them otherwise) → report.\n\
Writes OUT/report.md, report.html, report.json, flow.toml (the resolved configuration, to \
repeat the run), model.json, core.v and the plots. Every field of the configuration file is \
optional (an empty file is the default flow); options given here override the file.\n\n\
Exit status: 0 done and every simulation equal, 1 a co-simulation mismatch, 2 an error.\n\n\
Examples:\n  qornn flow\n  qornn flow --config flow.toml --out runs/copy-5b\n  \
qornn flow --task copy --delay 20 --bits 5 --steps 3000 --lanes 8 --synth off"
)]
pub struct FlowArgs {
    /// Configuration file (TOML; see docs/flow.md).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Output folder.
    #[arg(long, default_value = "qornn-out/flow")]
    out: PathBuf,
    /// Task: copy, adding, smnist, psmnist, charlm.
    #[arg(long, value_parser = super::choice(&qornn_quant::tasks::TaskKind::ALL))]
    task: Option<qornn_quant::tasks::TaskKind>,
    /// Copy-task delay T0.
    #[arg(long)]
    delay: Option<usize>,
    /// Training method (ste-bjorck, ste-projunn-d, ste-projunn-t, fp-bjorck, ptq, …).
    #[arg(long, value_parser = super::choice(&qornn_quant::train::Method::ALL))]
    method: Option<qornn_quant::train::Method>,
    /// Hidden units n.
    #[arg(long)]
    hidden: Option<usize>,
    /// Weight bits.
    #[arg(long)]
    bits: Option<u32>,
    /// Optimiser steps.
    #[arg(long)]
    steps: Option<u64>,
    /// Exported activation bits.
    #[arg(long)]
    activation_bits: Option<u32>,
    /// MAC lanes of the core.
    #[arg(long)]
    lanes: Option<usize>,
    /// Synthesis: auto (when the tools are installed), on, off.
    #[arg(long)]
    synth: Option<qornn_tools::flow::SynthMode>,
    /// Targets, comma-separated (ice40-up5k, ecp5-25k, ...).
    #[arg(long, value_delimiter = ',', value_parser = super::synth::parse_target)]
    targets: Option<Vec<qornn_tools::synth::Target>>,
    /// No progress bars or stage lines.
    #[arg(long)]
    quiet: bool,
}

/// Run `qornn flow`.
pub fn run(a: FlowArgs) -> Result<ExitCode> {
    let mut c = match &a.config {
        Some(p) => FlowConfig::from_toml(
            &std::fs::read_to_string(p).with_context(|| format!("{}", p.display()))?,
        )
        .with_context(|| format!("{}", p.display()))?,
        None => FlowConfig::default(),
    };
    macro_rules! set {
        ($field:expr, $value:expr) => {
            if let Some(v) = $value.clone() {
                $field = v;
            }
        };
    }
    set!(c.train.task, a.task);
    set!(c.train.delay, a.delay);
    set!(c.train.method, a.method);
    set!(c.train.hidden, a.hidden);
    set!(c.train.bits, a.bits);
    set!(c.train.steps, a.steps);
    set!(c.export.activation_bits, a.activation_bits);
    set!(c.hardware.lanes, a.lanes);
    set!(c.hardware.synth, a.synth);
    set!(c.hardware.targets, a.targets);
    match flow::run(&c, &a.out, a.quiet) {
        Ok(report) => {
            println!("flow done: {}", a.out.join("report.md").display());
            if let Some(last) = report.training.last() {
                println!("  test accuracy {:.2} % (float)", 100.0 * last.test_acc);
            }
            for row in report
                .ptq
                .iter()
                .filter(|r| r.activation_bits == c.export.activation_bits)
            {
                println!(
                    "  integer model: {:.2} % at {} activation bits",
                    100.0 * row.integer.accuracy,
                    row.activation_bits
                );
            }
            println!("  co-simulation: {}", report.verdict());
            for (what, outcome) in &report.vcd {
                println!("  VCD {what}: {outcome}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(FlowError::Mismatch(m)) => {
            eprintln!(
                "flow stopped: co-simulation mismatch ({m}); report in {}",
                a.out.display()
            );
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(anyhow::Error::new(e).context(format!(
            "the flow stopped; what it produced is in {}",
            a.out.display()
        ))),
    }
}
