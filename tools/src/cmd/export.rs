//! `qornn export`: calibrate the hidden state of a trained checkpoint and write the integer
//! QuantizedModel.

use anyhow::{Context, Result};
use clap::Args;
use qornn_quant::export::{evaluate_golden, Frame};
use qornn_quant::tasks::Split;
use qornn_quant::train::Trainer;
use qornn_sim::QuantizedModel;
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
    /// Export into this integer model's frame (its widths, activation, alignment shifts and
    /// requantiser) instead of choosing them, so that the result loads into a bitstream built
    /// from that model with `--weights ram` (`qornn board load`). W is then coded with the
    /// frame's step; the integer metrics printed after the export are the ones that count.
    #[arg(long)]
    frame_of: Option<PathBuf>,
}

/// Run `qornn export`.
pub fn run(a: ExportArgs) -> Result<ExitCode> {
    let ck = Trainer::load_checkpoint(&a.checkpoint)?;
    let mut t =
        Trainer::resume(ck, a.threads).with_context(|| format!("{}", a.checkpoint.display()))?;
    if a.test_limit > 0 {
        t.config.test_limit = a.test_limit;
    }
    let frame = match &a.frame_of {
        Some(p) => {
            let m = QuantizedModel::load(p).with_context(|| format!("{}", p.display()))?;
            Some(Frame::of(&m))
        }
        None => None,
    };
    // In a frame the hidden width is the frame's.
    let bits = frame.map_or(a.activation_bits, |f| f.bits.activation.get());
    let rows = t.ptq_table(&[bits])?;
    super::train::print_ptq_table(&rows);
    let max_h = t.calibrate()?;
    let exp = t.export_into(bits, max_h, frame)?;
    if let Some(p) = &a.frame_of {
        let ids = t.task.test_ids(t.config.test_limit);
        let stats = evaluate_golden(&exp, &t.task, Split::Test, &ids, t.config.threads.max(1))?;
        println!(
            "in the frame of {}: integer loss {:.4}, accuracy {:.4} (the table above is for \
             this model's own frame)",
            p.display(),
            stats.loss(),
            stats.accuracy()
        );
        if exp.clipped_w > 0 {
            eprintln!(
                "warning: {} entries of W lie beyond the frame's W range and were clipped; \
                 build the bitstream from the model with the largest max|W| of the family",
                exp.clipped_w
            );
        }
    }
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
