//! `qornn input`: make input files of integer codes for a model.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use qornn_sim::random::random_sequences;
use qornn_sim::sequence::{INPUT_FORMAT, INPUT_VERSION};
use qornn_sim::{QuantizedModel, Sequence};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `qornn input …`
#[derive(Subcommand)]
pub enum InputCommand {
    /// Write random input sequences (codes uniform over the model's input range).
    #[command(
        after_help = "Example:\n  qornn input random --model model.json --sequences 4 --steps 100 -o input.json"
    )]
    Random(RandomInputArgs),
    /// Write test sequences of a task (copy or adding) as integer codes, the way the trained
    /// model's exporter codes them.
    #[command(
        after_help = "Example:\n  qornn input task --task copy --delay 1000 --sequences 2 -o copy1000.json"
    )]
    Task(TaskInputArgs),
}

/// Arguments of `qornn input task`.
#[derive(Args)]
pub struct TaskInputArgs {
    /// `copy` or `adding`.
    #[arg(long, default_value = "copy")]
    task: String,
    /// Copy-task delay T0 (sequence length T0 + 20).
    #[arg(long, default_value_t = 100)]
    delay: usize,
    /// Adding-task length T.
    #[arg(long, default_value_t = 200)]
    length: usize,
    /// Number of sequences (the first ones of the test split).
    #[arg(long, default_value_t = 1)]
    sequences: usize,
    /// Output file.
    #[arg(short, long)]
    output: PathBuf,
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
        InputCommand::Task(a) => {
            use qornn_quant::tasks::{Split, Task, TaskSpec};
            let spec = match a.task.as_str() {
                "copy" => TaskSpec::Copy { delay: a.delay },
                "adding" => TaskSpec::Adding { steps: a.length },
                other => anyhow::bail!(
                    "`qornn input task` makes copy or adding sequences, not `{other}`"
                ),
            };
            anyhow::ensure!(a.sequences > 0, "--sequences must be at least 1");
            let task = Task::load(&spec)?;
            let ids = task.test_ids(a.sequences);
            if ids.len() < a.sequences {
                eprintln!(
                    "note: the {} test split has {} sequences; writing those, not {}",
                    task.name(),
                    ids.len(),
                    a.sequences
                );
            }
            let seqs = qornn_quant::export::batch_sequences(&task, Split::Test, &ids);
            save_inputs(&a.output, &seqs)?;
            println!(
                "wrote {} ({} {} sequences × {} steps × {} inputs)",
                a.output.display(),
                seqs.len(),
                task.name(),
                task.steps(),
                seqs[0].width()
            );
            Ok(ExitCode::SUCCESS)
        }
        InputCommand::Random(a) => {
            anyhow::ensure!(a.steps > 0, "--steps must be at least 1");
            super::golden::refuse_overlaps(&[("--model", &a.model)], &[("-o", &a.output)])?;
            let model =
                QuantizedModel::load(&a.model).with_context(|| format!("{}", a.model.display()))?;
            // The codes are held as i32 while they are written; the file takes a few bytes each.
            let codes = qornn_sim::memory::product(&[
                a.sequences as u64,
                a.steps as u64,
                model.shape.input as u64,
            ]);
            qornn_sim::memory::check(
                &format!(
                    "{} sequences × {} steps of input codes",
                    a.sequences, a.steps
                ),
                codes.saturating_mul(4),
                "lower --sequences or --steps",
            )?;
            let approx = qornn_sim::memory::Bytes(codes.saturating_mul(5));
            if codes > 20_000_000 {
                eprintln!(
                    "writing about {approx} of input codes to {} …",
                    a.output.display()
                );
            }
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

/// Write an input file atomically, streaming it from the codes: the JSON text of a long
/// sequence is many times the size of its codes, and is never held in memory. The bytes are
/// those of `qornn_sim::sequence::inputs_to_json`.
pub fn save_inputs(path: &Path, seqs: &[Sequence]) -> Result<()> {
    super::golden::write_with(path, |w| write_inputs(w, seqs))
}

/// The input file holding `seqs`, written to `w`.
fn write_inputs(w: &mut dyn Write, seqs: &[Sequence]) -> std::io::Result<()> {
    let format = serde_json::to_string(INPUT_FORMAT)?;
    write!(
        w,
        "{{\"format\":{format},\"version\":{INPUT_VERSION},\"sequences\":["
    )?;
    for (s, seq) in seqs.iter().enumerate() {
        w.write_all(if s == 0 { b"[" } else { b",[" })?;
        for t in 0..seq.steps() {
            w.write_all(if t == 0 { b"[" } else { b",[" })?;
            for (j, code) in seq.step(t).iter().enumerate() {
                if j > 0 {
                    w.write_all(b",")?;
                }
                write!(w, "{code}")?;
            }
            w.write_all(b"]")?;
        }
        w.write_all(b"]")?;
    }
    w.write_all(b"]}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamed_input_files_are_the_library_s_bytes() {
        let seqs = vec![
            Sequence::from_flat(2, vec![1, -2, 3, 4]),
            Sequence::from_flat(2, vec![-128, 127]),
        ];
        let mut out = Vec::new();
        write_inputs(&mut out, &seqs).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            qornn_sim::sequence::inputs_to_json(&seqs)
        );
        let mut out = Vec::new();
        write_inputs(&mut out, &[]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            qornn_sim::sequence::inputs_to_json(&[])
        );
    }
}
