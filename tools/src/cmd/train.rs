//! `qornn train`: train a (quantised) orthogonal RNN, log metrics, draw curves, checkpoint,
//! and export the integer model.

use anyhow::{bail, Context, Result};
use clap::Args;
use qornn_quant::bptt::LossKind;
use qornn_quant::export::check_activation_bits;
use qornn_quant::lstm::lstm_hidden_for_params;
use qornn_quant::train::{Method, PtqRow, TrainConfig, Trainer};
use qornn_tools::settings::TrainSettings;
use qornn_tools::training;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `qornn train`.
#[derive(Args, Debug)]
#[command(
    after_help = "Trains h_t = σ(W h_{t-1} + U x_t + b), y_t = V h_t + c with W kept \
(approximately) orthogonal and, for the ste-* methods, W/U/V quantised during training \
(straight-through estimator). Writes into --out: checkpoint.json (atomically, every \
evaluation), metrics.jsonl (one JSON object per evaluation), loss.png and accuracy.png, \
model.json (the exported integer QuantizedModel at --activation-bits) and ptq.json \
(float / fake-quant / integer metrics for each of --ptq-widths). --method lstm trains the \
float LSTM reference instead (same tasks, data and metrics; --equal-params for the \
parameter-matched size): only the checkpoint, the log and the curves are written.\n\n\
Examples:\n  qornn train --task copy --delay 100 --method ste-bjorck --bits 5 --hidden 128 --out runs/copy100\n  \
qornn train --task copy --delay 100 --out runs/copy100 --resume --steps 8000\n  \
qornn train --task copy --delay 1000 --bits 5 --init shift --ortho-lr-factor 0.01 --steps 1500 --out runs/copy1000\n  \
qornn train --task psmnist --data /usr/share/datasets/fashion-mnist --method ste-bjorck --bits 4 --hidden 128 --epochs 2 --out runs/pfmnist"
)]
pub struct TrainArgs {
    /// Every training setting (the vocabulary the flow's `[train]` table shares).
    #[command(flatten)]
    settings: TrainSettings,
    /// With --method lstm: read --hidden as an ORNN size and train the LSTM whose parameter
    /// count is closest to that ORNN's (the "equal-parameter" row; without it the LSTM has
    /// --hidden units, the "equal-n" row, with about 4× the ORNN's weights).
    #[arg(long)]
    equal_params: bool,
    /// For data sets: train this many passes instead of --steps.
    #[arg(long)]
    epochs: Option<u64>,
    /// Output folder (default runs/<task>-<method>-<bits>b).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue from <out>/checkpoint.json (its settings win, except --steps/--epochs/--threads).
    #[arg(long)]
    resume: bool,
    /// Start from the weights of another run's checkpoint (same shape and orthogonality
    /// kind): a curriculum over delays, or full precision first, then quantisation-aware.
    #[arg(long)]
    init_from: Option<PathBuf>,
    /// Hidden-state bits of the exported model.
    #[arg(long, default_value_t = 12)]
    activation_bits: u32,
    /// Activation widths of the final float / fake-quant / integer table.
    #[arg(long, value_delimiter = ',', default_value = "6,8,10,12,16")]
    ptq_widths: Vec<u32>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

impl TrainArgs {
    fn config(&self) -> Result<TrainConfig> {
        let s = &self.settings;
        let spec = s.task_spec()
            .map_err(anyhow::Error::msg)
            .context("give --data DIR for image tasks (e.g. /usr/share/datasets/fashion-mnist from Debian's dataset-fashion-mnist), --text FILE for charlm")?;
        let hidden = if self.equal_params {
            if s.method != Method::Lstm {
                bail!("--equal-params applies to --method lstm only");
            }
            let (m, d, _, _) = qornn_quant::tasks::Task::load(&spec)?.io();
            let n = lstm_hidden_for_params(s.hidden, m, d);
            eprintln!(
                "--equal-params: an lstm of {n} units has the parameter count closest to an ornn of {}",
                s.hidden
            );
            n
        } else {
            s.hidden
        };
        Ok(s.config_with_hidden(hidden)?)
    }
}

/// Run `qornn train`.
pub fn run(a: TrainArgs) -> Result<ExitCode> {
    // Export settings are checked now, not after hours of training.
    check_activation_bits("--activation-bits", &[a.activation_bits]).map_err(anyhow::Error::msg)?;
    check_activation_bits("--ptq-widths", &a.ptq_widths).map_err(anyhow::Error::msg)?;
    let s = &a.settings;
    let out = a.out.clone().unwrap_or_else(|| {
        let (task, method) = (s.task, s.method);
        // weight bits mean nothing for a float-only network
        PathBuf::from(if method.exportable() {
            format!("runs/{task}-{}-{}b", method.name(), s.bits)
        } else {
            format!("runs/{task}-{}-n{}", method.name(), s.hidden)
        })
    });
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let ck_path = out.join("checkpoint.json");
    let mut trainer = if a.resume {
        let ck = Trainer::load_checkpoint(&ck_path)?;
        let mut t = Trainer::resume(ck, s.threads)?;
        t.config.steps = s.steps.max(t.step);
        t
    } else {
        if ck_path.exists() {
            bail!(
                "{} exists: pass --resume to continue it, or choose another --out",
                ck_path.display()
            );
        }
        let mut t = Trainer::new(a.config()?)?;
        if let Some(p) = &a.init_from {
            let ck = Trainer::load_checkpoint(p)?;
            t.init_from(&ck)
                .with_context(|| format!("--init-from {}", p.display()))?;
        }
        t
    };
    if let Some(e) = a.epochs {
        let per = trainer
            .task
            .steps_per_epoch(trainer.config.batch)
            .context("--epochs applies to data-set tasks; use --steps for generated ones")?;
        trainer.config.steps = e * per;
        if s.eval_every.is_none() && !a.resume {
            trainer.config.eval_every = per;
        }
    }
    eprintln!(
        "training {} on {} (hidden {}, {} parameters; {} steps of {} sequences of {} steps), output in {}",
        trainer.config.method.name(),
        trainer.task.name(),
        trainer.config.hidden,
        trainer.param_count(),
        trainer.config.steps,
        trainer.config.batch,
        trainer.task.steps(),
        out.display()
    );
    training::drive(&mut trainer, &out, a.quiet)?;
    if !trainer.config.method.exportable() {
        // a float reference: its final evaluation is the result; nothing to quantise
        if let Some(m) = trainer.history.last() {
            // regression (adding) scores no positions: no accuracy to show
            let acc = match trainer.task.io().3 {
                LossKind::CrossEntropy => format!(", accuracy {:.4}", m.test_acc),
                LossKind::Mse => String::new(),
            };
            println!(
                "{} (float, {} parameters): test loss {:.5}{acc}{}",
                trainer.config.method.name(),
                trainer.param_count(),
                m.test_loss,
                m.baseline
                    .map(|b| format!(", memoryless baseline {b:.5}"))
                    .unwrap_or_default()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let rows = trainer.ptq_table(&a.ptq_widths)?;
    print_ptq_table(&rows);
    qornn_sim::atomic::write(
        &out.join("ptq.json"),
        serde_json::to_string_pretty(&rows)?.as_bytes(),
    )?;
    let max_h = trainer.calibrate()?;
    let exp = trainer.export(a.activation_bits, max_h)?;
    let model_path = out.join("model.json");
    exp.model.save(&model_path)?;
    eprintln!(
        "wrote {} ({} weight bits, {} activation bits, accumulator {} bits)",
        model_path.display(),
        exp.model.bits.weight.get(),
        exp.model.bits.activation.get(),
        exp.model.bits.accumulator.get()
    );
    Ok(ExitCode::SUCCESS)
}

/// Print float / fake-quant / integer metrics side by side.
pub fn print_ptq_table(rows: &[PtqRow]) {
    println!(
        "{:>9}  {:>12} {:>9}  {:>12} {:>9}  {:>12} {:>9}",
        "act bits", "float loss", "acc", "fake-q loss", "acc", "integer loss", "acc"
    );
    for r in rows {
        println!(
            "{:>9}  {:>12.5} {:>9.4}  {:>12.5} {:>9.4}  {:>12.5} {:>9.4}",
            r.activation_bits,
            r.float.loss,
            r.float.accuracy,
            r.fake_quant.loss,
            r.fake_quant.accuracy,
            r.integer.loss,
            r.integer.accuracy
        );
    }
}
