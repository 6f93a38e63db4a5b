//! `qornn input`: make input files of integer codes for a model.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use qornn_sim::random::random_sequences;
use qornn_sim::sequence::save_inputs;
use qornn_sim::QuantizedModel;
use std::path::PathBuf;
use std::process::ExitCode;

/// `qornn input …`
#[derive(Subcommand)]
pub enum InputCommand {
    /// Write random input sequences (codes uniform over the model's input range).
    #[command(
        after_help = "Example:\n  qornn input random --model model.json --sequences 4 --steps 100 -o input.json"
    )]
    Random(RandomInputArgs),
}

/// Arguments of `qornn input random`.
#[derive(Args)]
pub struct RandomInputArgs {
    /// The model the inputs are for (gives m and the input width).
    #[arg(long)]
    model: PathBuf,
    /// Number of sequences.
    #[arg(long, default_value_t = 1)]
    sequences: usize,
    /// Steps per sequence.
    #[arg(long, default_value_t = 100)]
    steps: usize,
    /// Random seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output file.
    #[arg(short, long)]
    output: PathBuf,
}

/// Run a `qornn input` verb.
pub fn run(cmd: InputCommand) -> Result<ExitCode> {
    match cmd {
        InputCommand::Random(a) => {
            anyhow::ensure!(a.steps > 0, "--steps must be at least 1");
            let model =
                QuantizedModel::load(&a.model).with_context(|| format!("{}", a.model.display()))?;
            let seqs = random_sequences(&model, a.sequences, a.steps, a.seed);
            save_inputs(&a.output, &seqs)?;
            println!(
                "wrote {} ({} sequences × {} steps × {} inputs)",
                a.output.display(),
                a.sequences,
                a.steps,
                model.shape.input
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
