//! `qornn train`: train a (quantised) orthogonal RNN, log metrics, draw curves, checkpoint,
//! and export the integer model.

use anyhow::{bail, Context, Result};
use clap::Args;
use qornn_quant::bptt::{Activation, LossKind};
use qornn_quant::export::check_activation_bits;
use qornn_quant::lstm::lstm_hidden_for_params;
use qornn_quant::model::Init;
use qornn_quant::optim::OptimizerKind;
use qornn_quant::tasks::{TaskKind, TaskSpec};
use qornn_quant::train::{Method, PtqRow, TrainConfig, Trainer};
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
    /// The task.
    #[arg(long, default_value = "copy", value_parser = super::choice(&TaskKind::ALL))]
    task: TaskKind,
    /// Copy task delay T0 (sequence length T0 + 20).
    #[arg(long, default_value_t = 100)]
    delay: usize,
    /// Sequence length of the adding and char-LM tasks.
    #[arg(long, default_value_t = 200)]
    length: usize,
    /// Folder with MNIST-layout IDX files (train-images-idx3-ubyte[.gz], ...), for smnist/psmnist.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Text file for charlm.
    #[arg(long)]
    text: Option<PathBuf>,
    /// Use only this many training images (0: all).
    #[arg(long, default_value_t = 0)]
    train_limit: usize,
    /// Evaluate on at most this many test sequences (0: the whole test split).
    #[arg(long, default_value_t = 0)]
    test_limit: usize,
    /// Training method: ste-* quantisation-aware (Björck, projUNN-D, projUNN-T), their
    /// full-precision baselines fp-*, ptq (fp-bjorck quantised at export), or lstm (the float
    /// LSTM reference, never exported; see --equal-params).
    #[arg(long, default_value = "ste-bjorck", value_parser = super::choice(&Method::ALL))]
    method: Method,
    /// Weight bits of W and U (2–8).
    #[arg(long, default_value_t = 5)]
    bits: u32,
    /// Weight bits of V (2–8).
    #[arg(long, default_value_t = 8)]
    output_bits: u32,
    /// Keep V in full precision during training (it is quantised at export).
    #[arg(long)]
    no_quantize_v: bool,
    /// Hidden units n.
    #[arg(long, default_value_t = 128)]
    hidden: usize,
    /// With --method lstm: read --hidden as an ORNN size and train the LSTM whose parameter
    /// count is closest to that ORNN's (the "equal-parameter" row; without it the LSTM has
    /// --hidden units, the "equal-n" row, with about 4× the ORNN's weights).
    #[arg(long)]
    equal_params: bool,
    /// Activation: relu, or modrelu (sign(z)·relu(|z| + β), β learnt per unit).
    #[arg(long, default_value = "modrelu", value_parser = super::choice(&Activation::ALL))]
    activation: Activation,
    /// W's initialisation. For long copy tasks use `shift` with `--ortho-lr-factor 0.01`: it is
    /// the one start whose quantised W is an exact isometry (docs/training.md). Henaff's +1
    /// entries lose a code step to the quantiser's clipping.
    #[arg(long, default_value = "random", value_parser = super::choice(&Init::ALL))]
    init: Init,
    /// Optimiser.
    #[arg(long, default_value = "adam", value_parser = super::choice(&OptimizerKind::ALL))]
    optimizer: OptimizerKind,
    /// Learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Multiply the learning rate by --lr-decay every this many steps (0: constant).
    #[arg(long, default_value_t = 0)]
    lr_decay_every: u64,
    /// Learning-rate decay factor.
    #[arg(long, default_value_t = 0.5)]
    lr_decay: f64,
    /// Learning-rate factor of W's latent matrix (all methods).
    #[arg(long, default_value_t = 1.0)]
    ortho_lr_factor: f64,
    /// Clip the gradient norm to this (0: off).
    #[arg(long, default_value_t = 1.0)]
    clip: f64,
    /// Björck iterations.
    #[arg(long, default_value_t = 15)]
    bjorck_iters: usize,
    /// Björck β.
    #[arg(long, default_value_t = 0.5)]
    bjorck_beta: f64,
    /// Sequences per step.
    #[arg(long, default_value_t = 128)]
    batch: usize,
    /// Optimiser steps (total, including those of a resumed run).
    #[arg(long, default_value_t = 2000)]
    steps: u64,
    /// For data sets: train this many passes instead of --steps.
    #[arg(long)]
    epochs: Option<u64>,
    /// Evaluate, log and checkpoint every this many steps (default: 100, or once per pass
    /// with --epochs).
    #[arg(long)]
    eval_every: Option<u64>,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Worker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
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
    fn task_spec(&self) -> Result<TaskSpec> {
        let mut spec = self
            .task
            .spec(
                self.delay,
                self.length,
                self.data.as_deref(),
                self.text.as_deref(),
            )
            .map_err(anyhow::Error::msg)
            .context("give --data DIR for image tasks (e.g. /usr/share/datasets/fashion-mnist from Debian's dataset-fashion-mnist), --text FILE for charlm")?;
        if let TaskSpec::Image {
            train_limit,
            test_limit,
            ..
        } = &mut spec
        {
            *train_limit = self.train_limit;
            *test_limit = self.test_limit;
        }
        Ok(spec)
    }

    fn config(&self) -> Result<TrainConfig> {
        let spec = self.task_spec()?;
        let hidden = if self.equal_params {
            if self.method != Method::Lstm {
                bail!("--equal-params applies to --method lstm only");
            }
            let (m, d, _, _) = qornn_quant::tasks::Task::load(&spec)?.io();
            let n = lstm_hidden_for_params(self.hidden, m, d);
            eprintln!(
                "--equal-params: an lstm of {n} units has the parameter count closest to an ornn of {}",
                self.hidden
            );
            n
        } else {
            self.hidden
        };
        let mut c = TrainConfig::new(spec, self.method, hidden);
        c.bits = self.bits;
        c.output_bits = self.output_bits;
        c.quantize_v = !self.no_quantize_v;
        c.activation = self.activation;
        c.init = self.init;
        c.optimizer = self.optimizer;
        c.schedule.lr = self.lr;
        c.schedule.every = self.lr_decay_every;
        c.schedule.factor = self.lr_decay;
        c.ortho_lr_factor = self.ortho_lr_factor;
        c.clip = self.clip;
        c.bjorck.iters = self.bjorck_iters;
        c.bjorck.beta = self.bjorck_beta;
        c.batch = self.batch;
        c.steps = self.steps;
        c.eval_every = self.eval_every.unwrap_or(100);
        c.test_limit = self.test_limit;
        c.seed = self.seed;
        c.threads = self.threads;
        Ok(c)
    }
}

/// Run `qornn train`.
pub fn run(a: TrainArgs) -> Result<ExitCode> {
    // Export settings are checked now, not after hours of training.
    check_activation_bits("--activation-bits", &[a.activation_bits]).map_err(anyhow::Error::msg)?;
    check_activation_bits("--ptq-widths", &a.ptq_widths).map_err(anyhow::Error::msg)?;
    let out = a.out.clone().unwrap_or_else(|| {
        let task = a.task.to_string();
        let method = a.method;
        // weight bits mean nothing for a float-only network
        PathBuf::from(if method.exportable() {
            format!("runs/{task}-{}-{}b", method.name(), a.bits)
        } else {
            format!("runs/{task}-{}-n{}", method.name(), a.hidden)
        })
    });
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let ck_path = out.join("checkpoint.json");
    let mut trainer = if a.resume {
        let ck = Trainer::load_checkpoint(&ck_path)?;
        let mut t = Trainer::resume(ck, a.threads)?;
        t.config.steps = a.steps.max(t.step);
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
        if a.eval_every.is_none() && !a.resume {
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
