//! `qornn model`: create, check and summarise `QuantizedModel` files.

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use qornn_hdl::{CoreConfig, CoreOptions, Multipliers, WeightStore};
use qornn_sim::random::{random_model, RandomSpec, WeightStyle};
use qornn_sim::{Bits, QuantizedModel, Shape};
use qornn_tools::board::Link;
use qornn_tools::synth::{Fit, Target};
use std::path::PathBuf;
use std::process::ExitCode;

/// `qornn model …`
#[derive(Subcommand)]
pub enum ModelCommand {
    /// Write a valid random model (orthogonal-like W) for the given sizes, widths and seed.
    #[command(
        after_help = "Example:\n  qornn model random --hidden 64 --input 4 --output 10 --weight-bits 4 --seed 1 -o model.json"
    )]
    Random(RandomArgs),
    /// Validate a model file and print its summary: sizes, widths, accumulator widths, memory.
    #[command(
        after_help = "Example:\n  qornn model check model.json\n  qornn model check model.json --json\n  qornn model check model.json --target ice40-up5k --lanes 8 --multipliers packed\n\nWith --target, also says whether the core (inside the board top) fits the device before any synthesis: the block RAMs of each memory, the DSP blocks of the lanes.\n\nExits 0 for a valid model (that fits), 1 when it does not fit the target, 2 with the field and problem otherwise."
    )]
    Check(CheckArgs),
}

/// How W is drawn, on the command line.
#[derive(Clone, Copy, ValueEnum)]
pub enum Style {
    /// Quantised random orthogonal matrix.
    Orthogonal,
    /// Codes uniform over the full range (stress test).
    Uniform,
}

/// Arguments of `qornn model random`.
#[derive(Args)]
pub struct RandomArgs {
    /// Hidden units n.
    #[arg(long, default_value_t = 64)]
    hidden: usize,
    /// Inputs per step m.
    #[arg(long, default_value_t = 1)]
    input: usize,
    /// Outputs d.
    #[arg(long, default_value_t = 10)]
    output: usize,
    /// Bits of the W and U codes (2–8).
    #[arg(long, default_value_t = 4)]
    weight_bits: u32,
    /// Bits of the V codes (2–8); default: the weight bits.
    #[arg(long)]
    output_weight_bits: Option<u32>,
    /// Bits of the hidden state (4–16).
    #[arg(long, default_value_t = 8)]
    activation_bits: u32,
    /// Bits of the input codes (2–16).
    #[arg(long, default_value_t = 8)]
    input_bits: u32,
    /// Use modReLU instead of ReLU.
    #[arg(long)]
    modrelu: bool,
    /// How W is drawn.
    #[arg(long, value_enum, default_value_t = Style::Orthogonal)]
    style: Style,
    /// Requantiser gain relative to the norm-preserving one (> 1 saturates).
    #[arg(long, default_value_t = 1.0)]
    gain: f64,
    /// Random seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output file.
    #[arg(short, long)]
    output_file: PathBuf,
}

/// Arguments of `qornn model check`.
#[derive(Args)]
pub struct CheckArgs {
    /// The model file.
    file: PathBuf,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
    /// Also check the fit on this device (ice40-up5k, ecp5-25k, ecp5-45k, ecp5-85k).
    #[arg(long, value_parser = super::synth::parse_target)]
    target: Option<Target>,
    /// P, the lanes of the core (with --target).
    #[arg(long, default_value_t = 8, requires = "target")]
    lanes: usize,
    /// Multipliers of the core (with --target): dsp, packed, lut or mixed:N.
    #[arg(long, default_value = "dsp", requires = "target")]
    multipliers: Multipliers,
    /// Where the weights live (with --target): rom, ram, or spram (the lane banks in the
    /// UP5K's SPRAM, loaded at run time).
    #[arg(long, default_value = "rom", requires = "target")]
    weights: WeightStore,
}

/// Run a `qornn model` verb.
pub fn run(cmd: ModelCommand) -> Result<ExitCode> {
    match cmd {
        ModelCommand::Random(a) => random(a),
        ModelCommand::Check(a) => check(a),
    }
}

fn random(a: RandomArgs) -> Result<ExitCode> {
    let spec = RandomSpec {
        shape: Shape::new(a.hidden, a.input, a.output),
        weight_bits: Bits::new(a.weight_bits),
        output_weight_bits: Bits::new(a.output_weight_bits.unwrap_or(a.weight_bits)),
        activation_bits: Bits::new(a.activation_bits),
        input_bits: Bits::new(a.input_bits),
        modrelu: a.modrelu,
        style: match a.style {
            Style::Orthogonal => WeightStyle::Orthogonal,
            Style::Uniform => WeightStyle::Uniform,
        },
        gain: a.gain,
        seed: a.seed,
    };
    spec.check().context("cannot make that random model")?;
    let model = random_model(&spec);
    model
        .save(&a.output_file)
        .with_context(|| format!("writing {}", a.output_file.display()))?;
    println!("wrote {}", a.output_file.display());
    print!("{}", summary_text(&model)?);
    Ok(ExitCode::SUCCESS)
}

fn check(a: CheckArgs) -> Result<ExitCode> {
    let model = QuantizedModel::load(&a.file).with_context(|| format!("{}", a.file.display()))?;
    let fit = match a.target {
        Some(t) => {
            let opts = CoreOptions::with(a.lanes, a.multipliers).with_weights(a.weights);
            let cfg = CoreConfig::new(&model, &opts)?;
            Some(Fit::of(&cfg, t, Link::FIFO_BYTES))
        }
        None => None,
    };
    if a.json {
        let mut v = summary(&model)?;
        if let Some(f) = &fit {
            v["fit"] = serde_json::to_value(f)?;
            v["fit"]["fits"] = f.fits().into();
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("{}: valid", a.file.display());
        print!("{}", summary_text(&model)?);
        if let Some(f) = &fit {
            print!("{}", f.text());
        }
    }
    Ok(match fit {
        Some(f) if !f.fits() => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    })
}

/// The facts `model check` reports, as JSON.
pub fn summary(model: &QuantizedModel) -> Result<serde_json::Value> {
    let report = model.validate()?;
    let b = &model.bits;
    Ok(serde_json::json!({
        "shape": model.shape,
        "activation": model.activation.name(),
        "bits": b,
        "required": {
            "accumulator": report.hidden.required,
            "output_accumulator": report.output.required,
        },
        "accumulator_range": [report.hidden.range.lo as f64, report.hidden.range.hi as f64],
        "output_range": [report.output.range.lo as f64, report.output.range.hi as f64],
        "alignment": model.alignment,
        "requant": model.requant,
        "memory_bits": model.memory_bits(),
        "provenance": { "task": model.provenance.task, "method": model.provenance.method },
    }))
}

fn summary_text(model: &QuantizedModel) -> Result<String> {
    let report = model.validate()?;
    let s = &model.shape;
    let b = &model.bits;
    let mem = model.memory_bits();
    Ok(format!(
        "  shape        n = {} hidden, m = {} input, d = {} output\n\
         \x20 activation   {}\n\
         \x20 codes        W, U {} bits; V {} bits; h {} bits; x {} bits\n\
         \x20 accumulator  {} declared, {} required (range {}..={})\n\
         \x20 output acc.  {} declared, {} required (range {}..={})\n\
         \x20 alignment    W·h << {}, U·x << {}\n\
         \x20 requantise   × {} >> {} (gain {:.6})\n\
         \x20 memory       {} bits ({:.1} KiB)\n\
         \x20 provenance   task {:?}, method {:?}\n",
        s.hidden,
        s.input,
        s.output,
        model.activation.name(),
        b.weight.get(),
        b.output_weight.get(),
        b.activation.get(),
        b.input.get(),
        b.accumulator.get(),
        report.hidden.required.get(),
        report.hidden.range.lo,
        report.hidden.range.hi,
        b.output_accumulator.get(),
        report.output.required.get(),
        report.output.range.lo,
        report.output.range.hi,
        model.alignment.w_shift,
        model.alignment.u_shift,
        model.requant.multiplier,
        model.requant.shift,
        model.requant.multiplier as f64 / 2f64.powi(model.requant.shift as i32),
        mem,
        mem as f64 / 8192.0,
        model.provenance.task,
        model.provenance.method,
    ))
}
