//! `qornn golden`: run the bit-exact golden model over an input file.

use anyhow::{Context, Result};
use clap::Args;
use qornn_sim::{trace, Golden};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Arguments of `qornn golden`.
#[derive(Args)]
#[command(
    after_help = "Runs the integer recurrence of docs/fixed-point.md from h0 = 0 over every \
sequence of the input file and prints, per sequence, the last output and its argmax.\n\n\
Example:\n  qornn model random --hidden 64 --input 2 --output 4 -o model.json\n  \
qornn input random --model model.json --steps 500 -o input.json\n  \
qornn golden --model model.json --input input.json --trace trace.json --vcd trace.vcd"
)]
pub struct GoldenArgs {
    /// The model file.
    #[arg(long)]
    model: PathBuf,
    /// The input file (docs/fixed-point.md, section 9).
    #[arg(long)]
    input: PathBuf,
    /// Write every step's x, h and y as JSON here.
    #[arg(long)]
    trace: Option<PathBuf>,
    /// Write the trace as VCD here (signal names: docs/traces.md).
    #[arg(long)]
    vcd: Option<PathBuf>,
    /// Worker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

/// Run `qornn golden`.
pub fn run(a: GoldenArgs) -> Result<ExitCode> {
    let (model, seqs) = super::load_model_and_inputs(&a.model, &a.input)?;
    let golden = Golden::new(&model)?;
    let start = Instant::now();
    let traces = golden.run_batch(&seqs, a.threads);
    let secs = start.elapsed().as_secs_f64();
    let steps: usize = traces.iter().map(|t| t.steps()).sum();
    for (i, t) in traces.iter().enumerate() {
        let y = t.y(t.steps() - 1);
        println!(
            "sequence {i}: {} steps, y_T = {:?}, argmax {}",
            t.steps(),
            y,
            argmax(y)
        );
    }
    println!(
        "{steps} steps in {:.3} s ({:.0} steps/s)",
        secs,
        steps as f64 / secs.max(1e-9)
    );
    if let Some(path) = &a.trace {
        write_with(path, |w| trace::write_json(w, &model, &seqs, &traces))?;
        println!("wrote {}", path.display());
    }
    if let Some(path) = &a.vcd {
        write_with(path, |w| trace::write_vcd(w, &model, &seqs, &traces))?;
        println!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Index of the largest value, the lowest index on a tie (docs/fixed-point.md, section 2).
pub fn argmax(y: &[i64]) -> usize {
    let mut best = 0;
    for (k, &v) in y.iter().enumerate() {
        if v > y[best] {
            best = k;
        }
    }
    best
}

/// Stream a file atomically (temporary file, then rename).
pub fn write_with(
    path: &Path,
    f: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> Result<()> {
    qornn_sim::atomic::write_with(path, f).with_context(|| format!("writing {}", path.display()))
}
