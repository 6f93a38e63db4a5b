//! `qornn export`: calibrate the hidden state of a trained checkpoint and write the integer
//! QuantizedModel.

use anyhow::{Context, Result};
use clap::Args;
use qornn_quant::train::Trainer;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `qornn export`.
#[derive(Args, Debug)]
#[command(
    after_help = "Loads a training checkpoint, measures max|h| on training data, picks \
the hidden scale so that the W·h and U·x products meet at a power of two, derives the \
requantisation multiplier and shift, and writes the validated integer model \
(docs/fixed-point.md). Prints float / fake-quant / integer metrics for that width.\n\n\
Example:\n  qornn export --checkpoint runs/copy100/checkpoint.json --activation-bits 8 -o copy100-a8.json"
)]
pub struct ExportArgs {
    /// The training checkpoint.
    #[arg(long)]
    checkpoint: PathBuf,
    /// Hidden-state bits (4–16).
    #[arg(long, default_value_t = 12)]
    activation_bits: u32,
    /// Where to write the model.
    #[arg(short, long)]
    output: PathBuf,
    /// Evaluate on at most this many test sequences (0: the run's setting).
    #[arg(long, default_value_t = 0)]
    test_limit: usize,
    /// Worker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

/// Run `qornn export`.
pub fn run(a: ExportArgs) -> Result<ExitCode> {
    let ck = Trainer::load_checkpoint(&a.checkpoint)?;
    let mut t =
        Trainer::resume(ck, a.threads).with_context(|| format!("{}", a.checkpoint.display()))?;
    if a.test_limit > 0 {
        t.config.test_limit = a.test_limit;
    }
    let rows = t.ptq_table(&[a.activation_bits])?;
    super::train::print_ptq_table(&rows);
    let max_h = t.calibrate()?;
    let exp = t.export(a.activation_bits, max_h)?;
    exp.model.save(&a.output)?;
    let m = &exp.model;
    println!(
        "wrote {}: n={} m={} d={}, weights {} bits, V {} bits, h {} bits, x {} bits, \
         accumulators {}/{} bits, shifts w{} u{}, requant {}/2^{}",
        a.output.display(),
        m.shape.hidden,
        m.shape.input,
        m.shape.output,
        m.bits.weight.get(),
        m.bits.output_weight.get(),
        m.bits.activation.get(),
        m.bits.input.get(),
        m.bits.accumulator.get(),
        m.bits.output_accumulator.get(),
        m.alignment.w_shift,
        m.alignment.u_shift,
        m.requant.multiplier,
        m.requant.shift
    );
    Ok(ExitCode::SUCCESS)
}
