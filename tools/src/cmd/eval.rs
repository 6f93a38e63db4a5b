//! `qornn eval`: float, fake-quantised and integer (golden) metrics of a trained checkpoint.

use anyhow::{Context, Result};
use clap::Args;
use qornn_quant::train::Trainer;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `qornn eval`.
#[derive(Args, Debug)]
#[command(
    after_help = "For each activation width: the trained float model, the model with \
exported weights and a fake-quantised hidden state, and the exported integer model run in the \
bit-exact golden simulator, all on the test split. Copy task accuracy counts the copied \
symbols only; charlm loss is in nats (bits per char = loss / ln 2).\n\n\
Example:\n  qornn eval --checkpoint runs/copy100/checkpoint.json --widths 6,8,12,16 --json eval.json"
)]
pub struct EvalArgs {
    /// The training checkpoint.
    #[arg(long)]
    checkpoint: PathBuf,
    /// Activation widths.
    #[arg(long, value_delimiter = ',', default_value = "6,8,10,12,16")]
    widths: Vec<u32>,
    /// Evaluate on at most this many test sequences (0: the run's setting).
    #[arg(long, default_value_t = 0)]
    test_limit: usize,
    /// Also write the table as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Worker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

/// Run `qornn eval`.
pub fn run(a: EvalArgs) -> Result<ExitCode> {
    qornn_quant::export::check_activation_bits("--widths", &a.widths)
        .map_err(anyhow::Error::msg)?;
    let ck = Trainer::load_checkpoint(&a.checkpoint)?;
    let mut t =
        Trainer::resume(ck, a.threads).with_context(|| format!("{}", a.checkpoint.display()))?;
    if a.test_limit > 0 {
        t.config.test_limit = a.test_limit;
    }
    println!(
        "{} on {} after {} steps ({} weight bits)",
        t.config.method.name(),
        t.task.name(),
        t.step,
        t.config.bits
    );
    if let Some(b) = t.task.baseline() {
        println!("memoryless baseline loss {b:.5}");
    }
    let rows = t.ptq_table(&a.widths)?;
    super::train::print_ptq_table(&rows);
    if let Some(p) = &a.json {
        qornn_sim::atomic::write(p, serde_json::to_string_pretty(&rows)?.as_bytes())
            .with_context(|| format!("--json {}", p.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}
