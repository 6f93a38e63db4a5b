//! `qornn bench train`: time one forward + backward through time, optionally next to the
//! PyTorch reference.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use qornn_quant::bench::{bench_train, median, BenchSpec};
use std::path::PathBuf;
use std::process::ExitCode;

/// `qornn bench` verbs.
#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Forward + backward through time of the training code.
    Train(BenchTrainArgs),
}

/// Arguments of `qornn bench train`.
#[derive(Args, Debug)]
#[command(after_help = "Times one forward + backward pass through time of \
h_t = relu(W h_{t-1} + U x_t + b), cross-entropy on V h_T + c, on random data (the shapes \
of shared/bench/torch_rnn_ref.py), and prints the median. With --python, runs the PyTorch \
reference on the same shapes and prints the ratio.\n\n\
Examples:\n  qornn bench train\n  \
qornn bench train --python ~/torchref/bin/python --torch-script ../shared/bench/torch_rnn_ref.py")]
pub struct BenchTrainArgs {
    /// Hidden n.
    #[arg(long, default_value_t = 128)]
    hidden: usize,
    /// Inputs m.
    #[arg(long, default_value_t = 1)]
    input: usize,
    /// Classes d.
    #[arg(long, default_value_t = 10)]
    classes: usize,
    /// Batch.
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Steps T.
    #[arg(long, default_value_t = 784)]
    steps: usize,
    /// Worker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Timed repetitions.
    #[arg(long, default_value_t = 7)]
    reps: usize,
    /// Fake-quantise W at this many bits (0: off).
    #[arg(long, default_value_t = 0)]
    qat: u32,
    /// A python with torch and numpy: also run the PyTorch reference.
    #[arg(long)]
    python: Option<PathBuf>,
    /// The PyTorch reference script.
    #[arg(long, default_value = "../shared/bench/torch_rnn_ref.py")]
    torch_script: PathBuf,
}

/// Run `qornn bench`.
pub fn run(c: BenchCommand) -> Result<ExitCode> {
    let BenchCommand::Train(a) = c;
    let spec = BenchSpec {
        hidden: a.hidden,
        input: a.input,
        classes: a.classes,
        batch: a.batch,
        steps: a.steps,
        threads: a.threads,
        reps: a.reps,
        qat: a.qat,
    };
    if spec.hidden == 0
        || spec.input == 0
        || spec.classes == 0
        || spec.batch == 0
        || spec.steps == 0
    {
        bail!("every size must be at least 1");
    }
    if spec.qat != 0 && !(2..=16).contains(&spec.qat) {
        bail!("--qat takes 2–16 bits (or 0 for off)");
    }
    let (times, loss) = bench_train(&spec);
    let ms = median(&times);
    println!(
        "qornn fwd+bwd n={} m={} d={} batch={} T={} threads={}: {:.1} ms (median of {}, loss {:.4})",
        a.hidden, a.input, a.classes, a.batch, a.steps, a.threads, ms, times.len(), loss
    );
    println!("rust_ms_per_step {ms:.2}");
    if let Some(py) = &a.python {
        if !a.torch_script.is_file() {
            bail!(
                "no PyTorch reference script at {}",
                a.torch_script.display()
            );
        }
        let mut cmd = std::process::Command::new(py);
        cmd.arg(&a.torch_script)
            .args(["--hidden", &a.hidden.to_string()])
            .args(["--input", &a.input.to_string()])
            .args(["--classes", &a.classes.to_string()])
            .args(["--batch", &a.batch.to_string()])
            .args(["--steps", &a.steps.to_string()])
            .args(["--threads", &a.threads.to_string()])
            .args(["--qat", &a.qat.to_string()])
            .env_remove("OPENBLAS_CORETYPE")
            .env_remove("OPENBLAS_L2_SIZE");
        let limit = qornn_tools::external::timeout_for("python")?;
        let out = qornn_tools::external::output_within("python", cmd, limit)
            .with_context(|| format!("cannot run {}", py.display()))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let stdout = String::from_utf8_lossy(&out.stdout);
            // Never an empty reason: the exit status, then whatever the child said.
            bail!(
                "the PyTorch reference ({} {}) failed with {}: {}",
                py.display(),
                a.torch_script.display(),
                out.status,
                [stderr.trim(), stdout.trim()]
                    .into_iter()
                    .find(|t| !t.is_empty())
                    .unwrap_or("it printed nothing")
            );
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let torch_ms: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("torch_ms_per_step "))
            .and_then(|v| v.trim().parse().ok())
            .with_context(|| format!("unexpected output of the reference: {text}"))?;
        println!("torch_ms_per_step {torch_ms:.2}");
        println!(
            "qornn / torch = {:.2} (PyTorch takes {:.2}× as long)",
            ms / torch_ms,
            torch_ms / ms
        );
    }
    Ok(ExitCode::SUCCESS)
}
