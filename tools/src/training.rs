//! Driving a training run for a person: a progress bar, the metrics log (JSON lines), the
//! loss and accuracy curves, and atomic checkpoints after every evaluation. Used by
//! `qornn train` and `qornn flow`.

use crate::plot::{Chart, Series};
use crate::report::Table;
use indicatif::{ProgressBar, ProgressStyle};
use qornn_quant::train::{EpochMetrics, PtqRow, TrainError, Trainer};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// A run could not go on.
#[derive(Debug, Error)]
pub enum TrainingError {
    /// Training itself failed.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// An output file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The reason.
        source: std::io::Error,
    },
}

/// The files a run keeps in its folder.
pub const CHECKPOINT: &str = "checkpoint.json";
/// The metrics log, one JSON object per evaluation.
pub const METRICS: &str = "metrics.jsonl";

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TrainingError + '_ {
    move |source| TrainingError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Train until the configured step count with a progress bar (hidden when `quiet`), printing
/// each evaluation as a JSON line and saving progress into `out` after each one.
pub fn drive(trainer: &mut Trainer, out: &Path, quiet: bool) -> Result<(), TrainingError> {
    std::fs::create_dir_all(out).map_err(io(out))?;
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        let b = ProgressBar::new(trainer.config.steps);
        b.set_style(
            ProgressStyle::with_template(
                "{bar:40} {pos}/{len} steps  {elapsed_precise} (eta {eta})  {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    };
    bar.set_position(trainer.step);
    let mut failed: Option<TrainingError> = None;
    trainer.run(
        |t, st| {
            bar.set_position(t.step);
            bar.set_message(format!("loss {:.4}", st.loss()));
            true
        },
        |t, m| {
            if !quiet {
                bar.suspend(|| println!("{}", serde_json::to_string(m).unwrap_or_default()));
            }
            match save_progress(t, out) {
                Ok(()) => true,
                Err(e) => {
                    failed = Some(e);
                    false
                }
            }
        },
    )?;
    bar.finish_and_clear();
    if let Some(e) = failed {
        return Err(e);
    }
    save_progress(trainer, out)
}

/// Write the checkpoint, the metrics log and the curves (atomically, each).
pub fn save_progress(t: &Trainer, out: &Path) -> Result<(), TrainingError> {
    let ck = out.join(CHECKPOINT);
    t.save(&ck)?;
    let mut lines = String::new();
    for m in &t.history {
        lines.push_str(&serde_json::to_string(m).expect("metrics serialise"));
        lines.push('\n');
    }
    let log = out.join(METRICS);
    qornn_sim::atomic::write(&log, lines.as_bytes()).map_err(io(&log))?;
    if t.history.len() >= 2 {
        if let Err(e) = plot_curves(&t.history, t.task.name(), out) {
            eprintln!("warning: no curves drawn: {e}");
        }
    }
    Ok(())
}

/// `loss.png` (with the task's memoryless baseline) and `accuracy.png`.
pub fn plot_curves(
    h: &[EpochMetrics],
    task: &str,
    out: &Path,
) -> Result<(), crate::plot::PlotError> {
    let pts = |f: &dyn Fn(&EpochMetrics) -> f64| -> Vec<(f64, f64)> {
        h.iter().map(|m| (m.step as f64, f(m))).collect()
    };
    // A few exploding batches can make the mean training loss of an interval huge: cap the
    // drawn values so the test curve stays readable, and say so in the legend.
    let cap = 10.0
        * h.iter()
            .map(|m| m.test_loss.max(m.baseline.unwrap_or(0.0)))
            .fold(1e-9, f64::max);
    let capped = h.iter().any(|m| m.train_loss > cap);
    let train_name = if capped {
        format!("train loss (drawn at most {cap:.3})")
    } else {
        "train loss".to_string()
    };
    let mut loss = vec![
        Series::new(train_name, pts(&|m| m.train_loss.min(cap))),
        Series::new("test loss", pts(&|m| m.test_loss)),
    ];
    if let Some(b) = h[0].baseline {
        loss.push(Series::new("memoryless baseline", pts(&|_| b)));
    }
    Chart::lines(&format!("{task}: loss"), "optimiser step", "loss", loss)
        .save(&out.join("loss.png"))?;
    let acc = vec![
        Series::new("train accuracy", pts(&|m| m.train_acc)),
        Series::new("test accuracy", pts(&|m| m.test_acc)),
    ];
    Chart::lines(
        &format!("{task}: accuracy"),
        "optimiser step",
        "accuracy",
        acc,
    )
    .save(&out.join("accuracy.png"))
}

/// Float, fake-quantised and integer metrics side by side, as Markdown.
pub fn ptq_markdown(rows: &[PtqRow]) -> String {
    let mut t = Table::new(&[
        "activation bits",
        "float loss",
        "float acc.",
        "fake-quant loss",
        "fake-quant acc.",
        "integer loss",
        "integer acc.",
    ]);
    for r in rows {
        t.row(vec![
            r.activation_bits.to_string(),
            format!("{:.4}", r.float.loss),
            format!("{:.2} %", 100.0 * r.float.accuracy),
            format!("{:.4}", r.fake_quant.loss),
            format!("{:.2} %", 100.0 * r.fake_quant.accuracy),
            format!("{:.4}", r.integer.loss),
            format!("{:.2} %", 100.0 * r.integer.accuracy),
        ]);
    }
    t.to_markdown()
}

/// Accuracy against activation bits: float, fake-quantised and integer.
pub fn ptq_chart(rows: &[PtqRow], task: &str) -> Chart {
    let pts = |f: &dyn Fn(&PtqRow) -> f64| -> Vec<(f64, f64)> {
        rows.iter()
            .map(|r| (r.activation_bits as f64, 100.0 * f(r)))
            .collect()
    };
    Chart {
        style: crate::plot::Style::LinesAndPoints,
        ..Chart::lines(
            &format!("{task}: accuracy vs activation bits"),
            "hidden-state (activation) bits",
            "test accuracy (%)",
            vec![
                Series::new("float", pts(&|r| r.float.accuracy)),
                Series::new("fake-quantised", pts(&|r| r.fake_quant.accuracy)),
                Series::new("integer (golden)", pts(&|r| r.integer.accuracy)),
            ],
        )
    }
}
