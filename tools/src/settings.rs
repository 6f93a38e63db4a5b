//! The training vocabulary: every setting a person gives a training run, by name, in one
//! struct that `qornn train`'s flags (clap), the flow's `[train]` table and the accuracy grid's
//! `[group.train]` tables (serde) all read, and one function that turns it into the library's
//! [`TrainConfig`].
//!
//! The defaults are the library's ([`TrainConfig::new`], read by [`TrainSettings::library`]);
//! each front end's deliberate departures from them are one table: [`TrainSettings::cli`] for
//! the command line, [`TrainSettings::flow`] for the flow and the grid. A new setting is a
//! field here and a line in [`TrainSettings::config`] and [`TrainSettings::library`], beside
//! its field in [`TrainConfig`]: two files.

use clap::Args;
use qornn_quant::bptt::Activation;
use qornn_quant::model::Init;
use qornn_quant::optim::OptimizerKind;
use qornn_quant::tasks::{TaskKind, TaskSpec};
use qornn_quant::train::{Method, TrainConfig, TrainError};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A clap parser for an enum with an `ALL` table of `(value, name)`: `--help` and errors list
/// the names, and the value is the library's own type (no mirror enum per front end).
pub fn choice<T: Copy + Send + Sync + 'static>(
    table: &'static [(T, &'static str)],
) -> impl clap::builder::TypedValueParser<Value = T> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(table.iter().map(|(_, n)| *n)).map(move |s| {
        table
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(v, _)| *v)
            .expect("clap only passes one of the names")
    })
}

/// Every training setting with a name. In a TOML table a missing key takes the flow's default
/// ([`TrainSettings::flow`]); on the command line a missing flag takes the command line's
/// ([`TrainSettings::cli`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Args)]
#[serde(default = "TrainSettings::flow", deny_unknown_fields)]
pub struct TrainSettings {
    /// The task: copy, adding, smnist, psmnist or charlm.
    #[arg(long, default_value_t = TrainSettings::cli().task, value_parser = choice(&TaskKind::ALL))]
    pub task: TaskKind,
    /// Copy task delay T0 (sequence length T0 + 20).
    #[arg(long, default_value_t = TrainSettings::cli().delay)]
    pub delay: usize,
    /// Sequence length of the adding and char-LM tasks.
    #[arg(long, default_value_t = TrainSettings::cli().length)]
    pub length: usize,
    /// Folder with MNIST-layout IDX files (train-images-idx3-ubyte[.gz], ...), for smnist/psmnist.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Text file for charlm.
    #[arg(long)]
    pub text: Option<PathBuf>,
    /// Use only this many training images (0: all).
    #[arg(long, default_value_t = TrainSettings::cli().train_limit)]
    pub train_limit: usize,
    /// Evaluate on at most this many test sequences (0: the whole test split).
    #[arg(long, default_value_t = TrainSettings::cli().test_limit)]
    pub test_limit: usize,
    /// Training method: ste-* quantisation-aware (Björck, projUNN-D, projUNN-T), their
    /// full-precision baselines fp-*, ptq (fp-bjorck quantised at export), or lstm (the float
    /// LSTM reference, never exported).
    #[arg(long, default_value_t = TrainSettings::cli().method, value_parser = choice(&Method::ALL))]
    pub method: Method,
    /// Weight bits of W and U (2–8).
    #[arg(long, default_value_t = TrainSettings::cli().bits)]
    pub bits: u32,
    /// Weight bits of V (2–8).
    #[arg(long, default_value_t = TrainSettings::cli().output_bits)]
    pub output_bits: u32,
    /// Quantise V during quantisation-aware training (the flag `--no-quantize-v` keeps it in
    /// full precision; it is quantised at export either way).
    #[arg(
        long = "no-quantize-v",
        action = clap::ArgAction::SetFalse,
        help = "Keep V in full precision during training (it is quantised at export)"
    )]
    pub quantize_v: bool,
    /// Hidden units n.
    #[arg(long, default_value_t = TrainSettings::cli().hidden)]
    pub hidden: usize,
    /// Activation: relu, or modrelu (sign(z)·relu(|z| + β), β learnt per unit).
    #[arg(long, default_value_t = TrainSettings::cli().activation, value_parser = choice(&Activation::ALL))]
    pub activation: Activation,
    /// W's initialisation: henaff, random or shift. For long copy tasks use `shift` with
    /// `--ortho-lr-factor 0.01`: it is the one start whose quantised W is an exact isometry
    /// (docs/training.md). Henaff's +1 entries lose a code step to the quantiser's clipping.
    #[arg(long, default_value_t = TrainSettings::cli().init, value_parser = choice(&Init::ALL))]
    pub init: Init,
    /// Optimiser: adam or rmsprop.
    #[arg(long, default_value_t = TrainSettings::cli().optimizer, value_parser = choice(&OptimizerKind::ALL))]
    pub optimizer: OptimizerKind,
    /// Learning rate.
    #[arg(long, default_value_t = TrainSettings::cli().lr)]
    pub lr: f64,
    /// Multiply the learning rate by --lr-decay every this many steps (0: constant).
    #[arg(long, default_value_t = TrainSettings::cli().lr_decay_every)]
    pub lr_decay_every: u64,
    /// Learning-rate decay factor.
    #[arg(long, default_value_t = TrainSettings::cli().lr_decay)]
    pub lr_decay: f64,
    /// Learning-rate factor of W's latent matrix (all methods).
    #[arg(long, default_value_t = TrainSettings::cli().ortho_lr_factor)]
    pub ortho_lr_factor: f64,
    /// Clip the gradient norm to this (0: off).
    #[arg(long, default_value_t = TrainSettings::cli().clip)]
    pub clip: f64,
    /// Björck iterations.
    #[arg(long, default_value_t = TrainSettings::cli().bjorck_iters)]
    pub bjorck_iters: usize,
    /// Björck β.
    #[arg(long, default_value_t = TrainSettings::cli().bjorck_beta)]
    pub bjorck_beta: f64,
    /// Sequences per step.
    #[arg(long, default_value_t = TrainSettings::cli().batch)]
    pub batch: usize,
    /// Optimiser steps (total, including those of a resumed run).
    #[arg(long, default_value_t = TrainSettings::cli().steps)]
    pub steps: u64,
    /// Evaluate, log and checkpoint every this many steps (default: 100, or once per pass
    /// with --epochs).
    #[arg(long)]
    pub eval_every: Option<u64>,
    /// Seed of the initialisation and of the data order.
    #[arg(long, default_value_t = TrainSettings::cli().seed)]
    pub seed: u64,
    /// Worker threads.
    #[arg(long, default_value_t = TrainSettings::cli().threads)]
    pub threads: usize,
}

impl TrainSettings {
    /// The library's defaults ([`TrainConfig::new`]) for its default run: the copy task with
    /// T0 = 100, STE-Björck, 128 units (and 200 steps per sequence for the tasks with a length).
    pub fn library() -> TrainSettings {
        let (delay, length) = (100, 200);
        let c = TrainConfig::new(TaskSpec::Copy { delay }, Method::SteBjorck, 128);
        TrainSettings {
            task: TaskKind::Copy,
            delay,
            length,
            data: None,
            text: None,
            train_limit: 0,
            test_limit: c.test_limit,
            method: c.method,
            bits: c.bits,
            output_bits: c.output_bits,
            quantize_v: c.quantize_v,
            hidden: c.hidden,
            activation: c.activation,
            init: c.init,
            optimizer: c.optimizer,
            lr: c.schedule.lr,
            lr_decay_every: c.schedule.every,
            lr_decay: c.schedule.factor,
            ortho_lr_factor: c.ortho_lr_factor,
            clip: c.clip,
            bjorck_iters: c.bjorck.iters,
            bjorck_beta: c.bjorck.beta,
            batch: c.batch,
            steps: c.steps,
            eval_every: Some(c.eval_every),
            seed: c.seed,
            threads: c.threads,
        }
    }

    /// `qornn train`'s defaults: the library's, but modReLU, Adam, a Haar-random W and the
    /// gradient norm clipped at 1 (the settings that trained every task of docs/training.md;
    /// the library keeps the paper's plain ones). `eval_every` is left to `--epochs`.
    pub fn cli() -> TrainSettings {
        TrainSettings {
            activation: Activation::Modrelu,
            init: Init::Random,
            optimizer: OptimizerKind::Adam,
            clip: 1.0,
            eval_every: None,
            ..TrainSettings::library()
        }
    }

    /// The flow's (and the accuracy grid's) defaults: the library's, but a run short enough
    /// for the default flow to finish in minutes — copy with T0 = 10, 64 units, 4-bit weights,
    /// modReLU, Adam at 3·10⁻³, 1500 steps evaluated every 250 on 1000 test sequences — and
    /// the seed of the committed example results.
    pub fn flow() -> TrainSettings {
        TrainSettings {
            delay: 10,
            length: 100,
            test_limit: 1000,
            bits: 4,
            hidden: 64,
            activation: Activation::Modrelu,
            optimizer: OptimizerKind::Adam,
            lr: 3e-3,
            steps: 1500,
            eval_every: Some(250),
            seed: 7,
            ..TrainSettings::library()
        }
    }

    /// The task these settings name; an error says which setting is missing (a data folder,
    /// a text file).
    pub fn task_spec(&self) -> Result<TaskSpec, String> {
        let mut spec = self.task.spec(
            self.delay,
            self.length,
            self.data.as_deref(),
            self.text.as_deref(),
        )?;
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

    /// The library's configuration of the run these settings describe, checked; `hidden`
    /// units (the caller's choice: `hidden`, or the LSTM size of equal parameters).
    pub fn config_with_hidden(&self, hidden: usize) -> Result<TrainConfig, TrainError> {
        let task = self.task_spec().map_err(TrainError::Config)?;
        let mut c = TrainConfig::new(task, self.method, hidden);
        c.bits = self.bits;
        c.output_bits = self.output_bits;
        c.quantize_v = self.quantize_v;
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
        c.eval_every = self.eval_every.unwrap_or(c.eval_every);
        c.test_limit = self.test_limit;
        c.seed = self.seed;
        c.threads = self.threads;
        c.check()?;
        Ok(c)
    }

    /// The library's configuration of the run these settings describe, checked.
    pub fn config(&self) -> Result<TrainConfig, TrainError> {
        self.config_with_hidden(self.hidden)
    }
}

impl Default for TrainSettings {
    /// The flow's defaults: what an empty `[train]` table means.
    fn default() -> Self {
        TrainSettings::flow()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        settings: TrainSettings,
    }

    /// With no flag the command line gives `cli()`; with no key a table gives `flow()`; and
    /// each differs from the library's defaults only where its table says.
    #[test]
    fn each_front_end_starts_from_its_own_table() {
        let parsed = Cli::try_parse_from(["qornn"]).unwrap().settings;
        assert_eq!(parsed, TrainSettings::cli());
        let empty: TrainSettings = toml::from_str("").unwrap();
        assert_eq!(empty, TrainSettings::flow());
        let lib = TrainSettings::library();
        assert_eq!(
            (lib.activation, lib.optimizer),
            (Activation::Relu, OptimizerKind::Rmsprop)
        );
        let cli = TrainSettings::cli();
        assert_eq!(
            (cli.hidden, cli.lr, cli.clip, cli.init),
            (128, 1e-3, 1.0, Init::Random)
        );
        let flow = TrainSettings::flow();
        assert_eq!(
            (flow.hidden, flow.lr, flow.clip, flow.init),
            (64, 3e-3, 0.0, Init::Henaff)
        );
    }

    /// Every flag reaches the configuration, and a TOML table with the same values gives the
    /// same configuration as the flags.
    #[test]
    fn flags_and_tables_give_the_same_configuration() {
        let flags = [
            "qornn",
            "--task",
            "adding",
            "--length",
            "30",
            "--method",
            "ste-projunn-t",
            "--bits",
            "3",
            "--output-bits",
            "6",
            "--no-quantize-v",
            "--hidden",
            "20",
            "--activation",
            "relu",
            "--init",
            "henaff",
            "--optimizer",
            "rmsprop",
            "--lr",
            "0.02",
            "--lr-decay-every",
            "7",
            "--lr-decay",
            "0.25",
            "--ortho-lr-factor",
            "0.5",
            "--clip",
            "2",
            "--bjorck-iters",
            "9",
            "--bjorck-beta",
            "0.4",
            "--batch",
            "16",
            "--steps",
            "33",
            "--eval-every",
            "11",
            "--test-limit",
            "50",
            "--seed",
            "5",
            "--threads",
            "1",
        ];
        let from_flags = Cli::try_parse_from(flags)
            .unwrap()
            .settings
            .config()
            .unwrap();
        let table = "task = \"adding\"\nlength = 30\nmethod = \"ste-projunn-t\"\nbits = 3\n\
            output_bits = 6\nquantize_v = false\nhidden = 20\nactivation = \"relu\"\n\
            init = \"henaff\"\noptimizer = \"rmsprop\"\nlr = 0.02\nlr_decay_every = 7\n\
            lr_decay = 0.25\northo_lr_factor = 0.5\nclip = 2.0\nbjorck_iters = 9\n\
            bjorck_beta = 0.4\nbatch = 16\nsteps = 33\neval_every = 11\ntest_limit = 50\n\
            seed = 5\nthreads = 1\n";
        let from_table = toml::from_str::<TrainSettings>(table)
            .unwrap()
            .config()
            .unwrap();
        assert_eq!(from_flags, from_table);
        let c = from_flags;
        assert_eq!(c.task, TaskSpec::Adding { steps: 30 });
        assert_eq!(
            (c.method, c.bits, c.output_bits, c.quantize_v),
            (Method::SteProjunnT, 3, 6, false)
        );
        assert_eq!(
            (c.hidden, c.activation, c.init),
            (20, Activation::Relu, Init::Henaff)
        );
        assert_eq!(c.optimizer, OptimizerKind::Rmsprop);
        assert_eq!(
            (c.schedule.lr, c.schedule.every, c.schedule.factor),
            (0.02, 7, 0.25)
        );
        assert_eq!((c.ortho_lr_factor, c.clip), (0.5, 2.0));
        assert_eq!((c.bjorck.iters, c.bjorck.beta), (9, 0.4));
        assert_eq!(
            (c.batch, c.steps, c.eval_every, c.test_limit),
            (16, 33, 11, 50)
        );
        assert_eq!((c.seed, c.threads), (5, 1));
    }
}
