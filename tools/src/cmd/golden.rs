//! `qornn golden`: run the bit-exact golden model over an input file.

use anyhow::{Context, Result};
use clap::Args;
use qornn_sim::golden::parallel_map;
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
    // Refused before any work: writing over an input, or both outputs into one file.
    let inputs = [("--model", &a.model), ("--input", &a.input)];
    let outputs: Vec<(&str, &PathBuf)> = [("--trace", &a.trace), ("--vcd", &a.vcd)]
        .into_iter()
        .filter_map(|(flag, p)| p.as_ref().map(|p| (flag, p)))
        .collect();
    refuse_overlaps(&inputs, &outputs)?;
    let (model, seqs) = super::load_model_and_inputs(&a.model, &a.input)?;
    let golden = Golden::new(&model)?;
    let start = Instant::now();
    // Traces (every h_t and y_t) are kept only when a trace file is asked for: at n = 64 they
    // take 3 GB for 10^7 steps, where the last outputs take a few bytes per sequence.
    let steps: usize = seqs.iter().map(|s| s.steps()).sum();
    if a.trace.is_some() || a.vcd.is_some() {
        // A kept trace is n + d values per step (i32 and i64); a written one a few bytes each.
        let (n, d) = (model.shape.hidden as u64, model.shape.output as u64);
        let values = qornn_sim::memory::product(&[steps as u64, n + d]);
        qornn_sim::memory::check(
            &format!("the trace of {steps} steps at n = {n}"),
            values.saturating_mul(8),
            "drop --trace/--vcd (the last outputs need no trace), or shorten the input",
        )?;
        let approx = qornn_sim::memory::Bytes(values.saturating_mul(6));
        if values > 30_000_000 {
            eprintln!("the trace files will take about {approx} each …");
        }
    }
    let traces = (a.trace.is_some() || a.vcd.is_some()).then(|| golden.run_batch(&seqs, a.threads));
    let last: Vec<Vec<i64>> = match &traces {
        Some(traces) => traces.iter().map(|t| t.y(t.steps() - 1).to_vec()).collect(),
        None => parallel_map(&seqs, a.threads, |s| golden.run_last_output(s)),
    };
    let secs = start.elapsed().as_secs_f64();
    for (i, (seq, y)) in seqs.iter().zip(&last).enumerate() {
        println!(
            "sequence {i}: {} steps, y_T = {:?}, argmax {}",
            seq.steps(),
            y,
            argmax(y)
        );
    }
    println!(
        "{steps} steps in {:.3} s ({:.0} steps/s)",
        secs,
        steps as f64 / secs.max(1e-9)
    );
    let traces = traces.as_deref().unwrap_or_default();
    if let Some(path) = &a.trace {
        write_with(path, |w| trace::write_json(w, &model, &seqs, traces))?;
        println!("wrote {}", path.display());
    }
    if let Some(path) = &a.vcd {
        write_with(path, |w| trace::write_vcd(w, &model, &seqs, traces))?;
        println!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Refuse outputs that are an input or another output (`--trace x --vcd x` would leave only
/// one of them; `-o model.json` would replace the model). `inputs` and `outputs` are
/// `(flag, path)` pairs, for the message.
pub fn refuse_overlaps(inputs: &[(&str, &PathBuf)], outputs: &[(&str, &PathBuf)]) -> Result<()> {
    for (i, (flag, out)) in outputs.iter().enumerate() {
        for (other, path) in inputs.iter().chain(&outputs[..i]) {
            if same_file(out, path) {
                anyhow::bail!(
                    "{flag} {} is the same file as {other} {}: give it another name",
                    out.display(),
                    path.display()
                );
            }
        }
    }
    Ok(())
}

/// Whether two paths name one file: the same file on disk (through links, `..` or another
/// spelling), or, for files not made yet, the same place.
fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return x.dev() == y.dev() && x.ino() == y.ino();
        }
    }
    resolved(a) == resolved(b)
}

/// `p` made absolute with its longest existing prefix resolved on disk (links, `..`) and the
/// rest, which does not exist and so holds no links, resolved as text.
fn resolved(p: &Path) -> Option<PathBuf> {
    use std::path::Component;
    let abs = std::path::absolute(p).ok()?;
    let parts: Vec<Component> = abs.components().collect();
    // The root always exists, so some prefix resolves.
    let (mut out, known) = (1..=parts.len()).rev().find_map(|i| {
        let prefix: PathBuf = parts[..i].iter().collect();
        std::fs::canonicalize(prefix).ok().map(|real| (real, i))
    })?;
    for part in &parts[known..] {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    Some(out)
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
