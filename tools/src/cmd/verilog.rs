//! `qornn verilog`: emit the core for a model as one self-contained Verilog file.

use anyhow::{Context, Result};
use clap::Args;
use qornn_hdl::{verilog, CoreConfig, CoreOptions, DspCell, Multipliers, WeightStore};
use qornn_sim::QuantizedModel;
use qornn_tools::synth::Target;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `qornn verilog`.
#[derive(Args)]
#[command(
    after_help = "Builds the systolic recurrent core of docs/core.md for the model (P \
lanes, weights baked into per-lane ROM banks) and writes one Verilog file with no includes. \
Every parameter is checked first (lanes between 1 and n, operand widths, the model itself): \
nothing is written when the core cannot be built. Ports: clock, reset, x_valid/x_ready/x_start/\
x_data, y_valid/y_ready/y_data, h_data (debug), step_cycles.\n\n\
Example:\n  qornn model random --hidden 64 --input 2 --output 4 -o model.json\n  \
qornn verilog --model model.json --lanes 8 --top qornn_core --multipliers dsp -o core.v"
)]
pub struct VerilogArgs {
    /// The model file.
    #[arg(long)]
    model: PathBuf,
    /// P, the number of MAC lanes (1 ..= n); lane p owns rows i ≡ p (mod P).
    #[arg(long)]
    lanes: usize,
    /// The top module's name.
    #[arg(long, default_value = verilog::DEFAULT_TOP)]
    top: qornn_hdl::name::ModuleName,
    /// Multipliers: dsp (16×16 signed, maps to SB_MAC16 / MULT18X18D), packed (two W/U rows
    /// per DSP, where 2·k_w + k_d ≤ 16), lut (shift-and-add) or mixed:N (N DSP lanes).
    #[arg(long, default_value = "dsp")]
    multipliers: Multipliers,
    /// The device family the Verilog is for, by one of its parts (ice40-up5k, ecp5-25k, …):
    /// on ECP5 the DSP lanes instantiate MULT18X18D with its registers, and the file carries
    /// a simulation model of it behind `ifndef SYNTHESIS`. Default: the portable `*`.
    #[arg(long, value_parser = super::synth::parse_target)]
    target: Option<Target>,
    /// Where the weights live: rom (baked in), ram (the same memories with a write port
    /// behind a byte-wide load port, `load_valid`/`load_first`/`load_byte`; the image's layout
    /// is docs/core.md's "Run-time weights"), or spram (run-time weights with the lane banks
    /// in the UP5K's SB_SPRAM256KA blocks).
    #[arg(long, default_value = "rom")]
    weights: WeightStore,
    /// The Verilog file to write.
    #[arg(short = 'o', long)]
    output: PathBuf,
}

/// Run `qornn verilog`.
pub fn run(a: VerilogArgs) -> Result<ExitCode> {
    let model = QuantizedModel::load(&a.model).with_context(|| format!("{}", a.model.display()))?;
    let dsp = a.target.map_or(DspCell::Inferred, |t| t.family().dsp_cell);
    let opts = CoreOptions::with(a.lanes, a.multipliers)
        .with_dsp(dsp)
        .with_weights(a.weights);
    let cfg = CoreConfig::new(&model, &opts)?;
    if let Some(why) = cfg.packing_refused() {
        eprintln!("note: one row per DSP instead of two (--multipliers packed): {why}");
    }
    let text = verilog::emit(&model, &opts, a.top.as_str())?;
    qornn_sim::atomic::write(&a.output, text.as_bytes())
        .with_context(|| format!("writing {}", a.output.display()))?;
    println!(
        "wrote {} (top `{}`, n={} m={} d={}, {} lanes, {} multipliers, {} weights, {} cycles per step)",
        a.output.display(),
        a.top,
        cfg.hidden,
        cfg.input,
        cfg.output,
        cfg.lanes,
        cfg.multipliers,
        cfg.weights,
        cfg.cycles_per_step()
    );
    Ok(ExitCode::SUCCESS)
}
