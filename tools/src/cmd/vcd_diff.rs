//! `qornn vcd-diff`: compare two VCD files from different simulators.

use anyhow::{bail, Result};
use clap::Args;
use qornn_sim::vcd_diff::{diff_files, Align, DiffOptions, Outcome};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `qornn vcd-diff`.
#[derive(Args)]
#[command(
    after_help = "Names are normalised (scopes joined with '.', rust-hdl's '$' read as '.', \
bus ranges dropped) and taken relative to the scope of the alignment signal, so `qornn.h_0` \
matches `TOP.core.h_0`. Samples are paired on the k-th rising edge of the strobe (default \
`valid`) or of a clock, or on equal timestamps with --time.\n\n\
`equal` needs at least one sample and every signal of either file (or of the selection) \
paired with one of the other; a signal without a partner is a difference unless \
--allow-missing, which compares the rest and lists it. --time pairs the k-th timestamp of \
each file and requires them to be one instant after each file's $timescale.\n\n\
Exit status: 0 equal, 1 different (or nothing compared), 2 error (e.g. a corrupt file).\n\n\
Examples:\n  qornn vcd-diff golden.vcd verilator.vcd --signals 'h_*' --signals 'y_*'\n  \
qornn vcd-diff a.vcd b.vcd --clock clk --map core.acc=TOP.core.acc_q"
)]
pub struct VcdDiffArgs {
    /// First VCD file.
    a: PathBuf,
    /// Second VCD file.
    b: PathBuf,
    /// Compare only signals matching this pattern (`*`, `?`; repeatable).
    #[arg(long)]
    signals: Vec<String>,
    /// Pair a signal of A with a differently named one of B: `a=b` (repeatable).
    #[arg(long, value_name = "A=B")]
    map: Vec<String>,
    /// Align on the rising edges of this strobe.
    #[arg(long, default_value = "valid", conflicts_with_all = ["clock", "time"])]
    strobe: String,
    /// Align on the rising edges of this clock instead.
    #[arg(long, conflicts_with = "time")]
    clock: Option<String>,
    /// Align on equal timestamps instead.
    #[arg(long)]
    time: bool,
    /// Samples of context to print before the difference (at most 10000).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=10_000))]
    context: u32,
    /// Compare the signals both files have and list the others, instead of failing.
    #[arg(long)]
    allow_missing: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// Run `qornn vcd-diff`.
pub fn run(a: VcdDiffArgs) -> Result<ExitCode> {
    let mut map = Vec::new();
    for pair in &a.map {
        let Some((l, r)) = pair.split_once('=') else {
            bail!("--map takes NAME_IN_A=NAME_IN_B, got `{pair}`");
        };
        map.push((l.to_string(), r.to_string()));
    }
    let align = match (&a.clock, a.time) {
        (_, true) => Align::Time,
        (Some(c), false) => Align::Clock(c.clone()),
        (None, false) => Align::Strobe(a.strobe.clone()),
    };
    let opts = DiffOptions {
        signals: a.signals.clone(),
        map,
        align,
        context: a.context as usize,
        allow_missing: a.allow_missing,
    };
    let started = std::time::Instant::now();
    let outcome = diff_files(&a.a, &a.b, &opts)?;
    let secs = started.elapsed().as_secs_f64();
    let bytes = std::fs::metadata(&a.a).map(|m| m.len()).unwrap_or(0)
        + std::fs::metadata(&a.b).map(|m| m.len()).unwrap_or(0);
    let equal = matches!(outcome, Outcome::Equal { .. });
    if a.json {
        println!("{}", serde_json::to_string_pretty(&to_json(&outcome))?);
    } else {
        print_text(&a, &outcome);
        eprintln!(
            "({:.1} MB in {:.2} s, {:.0} MB/s)",
            bytes as f64 / 1e6,
            secs,
            bytes as f64 / 1e6 / secs.max(1e-9)
        );
    }
    Ok(if equal {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_text(a: &VcdDiffArgs, outcome: &Outcome) {
    match outcome {
        Outcome::Equal {
            samples,
            signals,
            unmatched,
        } => {
            println!(
                "equal: {samples} samples of {} signals: {}",
                signals.len(),
                signals.join(", ")
            );
            for (file, name) in unmatched {
                println!(
                    "  not compared (no partner, --allow-missing): `{name}` of {}",
                    file.display()
                );
            }
        }
        Outcome::Unmatched { signals } => {
            println!(
                "different: {} signals have no partner in the other file",
                signals.len()
            );
            for (file, name) in signals {
                println!("  `{name}` of {} is missing from the other", file.display());
            }
            println!(
                "  (select signals with --signals, pair them with --map, or pass --allow-missing)"
            );
        }
        Outcome::NoSamples { signals } => println!(
            "nothing compared: no sample in either file (the alignment signal never rose, or \
             there is no timestamp); {} signals would have been compared",
            signals.len()
        ),
        Outcome::TimeSkew {
            sample,
            femtoseconds,
        } => println!(
            "different: sample {sample} is at {} fs in {} but at {} fs in {}",
            femtoseconds.0,
            a.a.display(),
            femtoseconds.1,
            a.b.display()
        ),
        Outcome::Length { samples } => println!(
            "different lengths: {} has {} samples, {} has {} (all shared samples equal)",
            a.a.display(),
            samples.0,
            a.b.display(),
            samples.1
        ),
        Outcome::Different(m) => {
            println!(
                "different: `{}` at sample {} (time {} in {}, {} in {})",
                m.signal,
                m.sample,
                m.time.0,
                a.a.display(),
                m.time.1,
                a.b.display()
            );
            println!("  {:>8}  {:>24}  {:>24}", "sample", "A", "B");
            for (k, va, vb) in &m.context {
                let mark = if va != vb { "  <--" } else { "" };
                println!(
                    "  {k:>8}  {:>24}  {:>24}{mark}",
                    va.to_string(),
                    vb.to_string()
                );
            }
        }
    }
}

fn to_json(outcome: &Outcome) -> serde_json::Value {
    match outcome {
        Outcome::Equal {
            samples,
            signals,
            unmatched,
        } => serde_json::json!({
            "equal": true, "samples": samples, "signals": signals,
            "unmatched": unmatched_json(unmatched),
        }),
        Outcome::Unmatched { signals } => serde_json::json!({
            "equal": false, "samples": 0, "unmatched": unmatched_json(signals),
        }),
        Outcome::NoSamples { signals } => serde_json::json!({
            "equal": false, "samples": 0, "signals": signals,
            "reason": "no sample in either file",
        }),
        Outcome::TimeSkew {
            sample,
            femtoseconds,
        } => serde_json::json!({
            "equal": false, "sample": sample,
            "time_a_fs": femtoseconds.0.to_string(), "time_b_fs": femtoseconds.1.to_string(),
        }),
        Outcome::Length { samples } => {
            serde_json::json!({"equal": false, "samples_a": samples.0, "samples_b": samples.1})
        }
        Outcome::Different(m) => serde_json::json!({
            "equal": false,
            "signal": m.signal,
            "sample": m.sample,
            "time_a": m.time.0,
            "time_b": m.time.1,
            "value_a": m.values.0.to_string(),
            "value_b": m.values.1.to_string(),
            "context": m.context.iter().map(|(k, va, vb)| serde_json::json!({
                "sample": k, "a": va.to_string(), "b": vb.to_string()
            })).collect::<Vec<_>>(),
        }),
    }
}

fn unmatched_json(signals: &[(PathBuf, String)]) -> Vec<serde_json::Value> {
    signals
        .iter()
        .map(|(file, name)| serde_json::json!({"file": file.display().to_string(), "signal": name}))
        .collect()
}
