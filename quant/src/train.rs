//! The training loop: methods (STE-Björck, STE-projUNN-D/T, their full-precision baselines,
//! PTQ, the float LSTM reference), optimiser steps, evaluation, checkpoints and resume.
//!
//! The [`Trainer`] holds a [`Network`], an enum of the two kinds of network it trains (the
//! ORNN of every method but `lstm`, and the LSTM), each with its own engine and gradient
//! buffers. Everything network-specific (a training step's forward/backward pass and update,
//! evaluation, checkpoint contents) is one `match` on it; the data pipeline, the optimiser,
//! the schedule, the log and the metrics are shared.

use crate::bptt::{
    pass_bytes, ActQuant, Activation, Batch, Engine, Grads, NetShape, ParamId, PassOptions, Stats,
};
use crate::export::ExportError;
use crate::lstm::{self, LstmEngine, LstmModel, LstmParams, LstmShape};
use crate::model::{Init, Model, ModelConfig, Ortho};
use crate::optim::{clip_norm, Optimizer, OptimizerKind, Schedule};
use crate::ortho::{self, BjorckConfig, PowerIteration, Projunn};
use crate::quantize::WeightBits;
use crate::real::orthogonality_error;
use crate::tasks::{Split, Task, TaskSpec};
use crate::tensors::Tensors;
use serde::{Deserialize, Serialize};
use std::path::Path;
use thiserror::Error;

/// The checkpoint `format` tag.
pub const CHECKPOINT_FORMAT: &str = "qornn.checkpoint";
/// The checkpoint schema version.
pub const CHECKPOINT_VERSION: u32 = 1;

/// Training methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Quantisation-aware: latent → spectral norm → Björck → quantiser (STE).
    SteBjorck,
    /// Quantisation-aware: orthogonal latent by projUNN-D, quantiser (STE).
    SteProjunnD,
    /// Quantisation-aware: orthogonal latent by projUNN-T, quantiser (STE).
    SteProjunnT,
    /// Full-precision ORNN with Björck (the baseline of STE-Björck).
    FpBjorck,
    /// Full-precision ORNN with projUNN-D.
    FpProjunnD,
    /// Full-precision ORNN with projUNN-T.
    FpProjunnT,
    /// Post-training quantisation: trained as `fp-bjorck`, weights quantised at export.
    Ptq,
    /// A full-precision LSTM: the float reference of the comparison tables (not exported).
    Lstm,
}

impl Method {
    /// All methods with their command-line names.
    pub const ALL: [(Method, &'static str); 8] = [
        (Method::SteBjorck, "ste-bjorck"),
        (Method::SteProjunnD, "ste-projunn-d"),
        (Method::SteProjunnT, "ste-projunn-t"),
        (Method::FpBjorck, "fp-bjorck"),
        (Method::FpProjunnD, "fp-projunn-d"),
        (Method::FpProjunnT, "fp-projunn-t"),
        (Method::Ptq, "ptq"),
        (Method::Lstm, "lstm"),
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        crate::names::name_in(&Method::ALL, self)
    }

    /// Parse a command-line name (`str::parse` gives the error listing the choices).
    pub fn parse(s: &str) -> Option<Method> {
        s.parse().ok()
    }

    /// Whether the weights are quantised during training.
    pub fn qat(self) -> bool {
        matches!(
            self,
            Method::SteBjorck | Method::SteProjunnD | Method::SteProjunnT
        )
    }

    /// Whether the trained network can be exported to the integer model (every ORNN method;
    /// not the LSTM, which is only a float reference).
    pub fn exportable(self) -> bool {
        self != Method::Lstm
    }

    /// The orthogonality mechanism of the ORNN methods (`Free` for the LSTM, which has no
    /// orthogonal matrix and never builds an ORNN).
    pub fn ortho(self, bjorck: BjorckConfig) -> Ortho {
        match self {
            Method::Lstm => Ortho::Free,
            Method::SteBjorck | Method::FpBjorck | Method::Ptq => Ortho::Bjorck(bjorck),
            Method::SteProjunnD | Method::FpProjunnD => Ortho::Projunn {
                kind: Projunn::Direct,
            },
            Method::SteProjunnT | Method::FpProjunnT => Ortho::Projunn {
                kind: Projunn::Tangent,
            },
        }
    }
}

crate::names::named_enum!(Method, "method");

/// Everything a run is defined by (stored in its checkpoints).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// The task.
    pub task: TaskSpec,
    /// The method.
    pub method: Method,
    /// Hidden units n.
    pub hidden: usize,
    /// σ.
    pub activation: Activation,
    /// Weight bits of W and U (QAT, and at export for every method).
    pub bits: u32,
    /// Weight bits of V.
    pub output_bits: u32,
    /// Quantise V during QAT too.
    pub quantize_v: bool,
    /// Björck settings.
    pub bjorck: BjorckConfig,
    /// W's initialisation.
    pub init: Init,
    /// Optimiser.
    pub optimizer: OptimizerKind,
    /// Learning-rate schedule.
    pub schedule: Schedule,
    /// Learning-rate factor of W's latent matrix (every method; expRNN and projUNN train the
    /// orthogonal matrix more slowly than the rest).
    pub ortho_lr_factor: f64,
    /// Power iterations of the projUNN rank-one approximation per step.
    pub rank_one_iters: usize,
    /// Gradient-norm clipping (0: off).
    pub clip: f64,
    /// Sequences per step.
    pub batch: usize,
    /// Optimiser steps in total.
    pub steps: u64,
    /// Evaluate and log every this many steps (an "epoch" of the log).
    pub eval_every: u64,
    /// Test sequences per evaluation (0: the whole test split).
    pub test_limit: usize,
    /// Seed of the initialisation and of the data order.
    pub seed: u64,
    /// Worker threads.
    pub threads: usize,
}

impl TrainConfig {
    /// Defaults for a task: RMSprop, lr 1e−3, batch 128, 15 Björck iterations, 5-bit weights.
    pub fn new(task: TaskSpec, method: Method, hidden: usize) -> Self {
        TrainConfig {
            task,
            method,
            hidden,
            activation: Activation::Relu,
            bits: 5,
            output_bits: 8,
            quantize_v: true,
            bjorck: BjorckConfig::default(),
            init: Init::Henaff,
            optimizer: OptimizerKind::Rmsprop,
            schedule: Schedule {
                lr: 1e-3,
                every: 0,
                factor: 0.5,
            },
            ortho_lr_factor: 1.0,
            rank_one_iters: 3,
            clip: 0.0,
            batch: 128,
            steps: 2000,
            eval_every: 100,
            test_limit: 0,
            seed: 1,
            threads: 2,
        }
    }

    /// The LSTM this run trains (with [`Method::Lstm`]): `hidden` units, the task's sizes,
    /// readout and loss.
    pub fn lstm_shape(&self, task: &Task) -> LstmShape {
        let (m, d, readout, loss) = task.io();
        LstmShape {
            n: self.hidden,
            m,
            d,
            readout,
            loss,
        }
    }

    /// The ORNN structure this run trains (every method but [`Method::Lstm`]).
    pub fn model_config(&self, task: &Task) -> ModelConfig {
        let (m, d, readout, loss) = task.io();
        let qat = self.method.qat();
        ModelConfig {
            shape: NetShape {
                n: self.hidden,
                m,
                d,
                activation: self.activation,
                readout,
                loss,
            },
            ortho: self.method.ortho(self.bjorck),
            weight_bits: if qat {
                WeightBits::Bits(self.bits)
            } else {
                WeightBits::Full
            },
            output_bits: if qat && self.quantize_v {
                WeightBits::Bits(self.output_bits)
            } else {
                WeightBits::Full
            },
            init: self.init,
        }
    }

    /// Check the settings.
    pub fn check(&self) -> Result<(), TrainError> {
        let bad = |s: String| Err(TrainError::Config(s));
        if !(2..=8).contains(&self.bits) || !(2..=8).contains(&self.output_bits) {
            return bad(format!(
                "weight bits must be 2–8 (got {} and {})",
                self.bits, self.output_bits
            ));
        }
        if self.hidden == 0 || self.hidden > 4096 {
            return bad(format!("hidden size {} is not in 1–4096", self.hidden));
        }
        if self.batch == 0 {
            return bad("batch size must be at least 1".into());
        }
        if !(self.schedule.lr > 0.0 && self.schedule.lr.is_finite()) {
            return bad(format!(
                "learning rate {} must be positive",
                self.schedule.lr
            ));
        }
        if self.eval_every == 0 {
            return bad("eval-every must be at least 1".into());
        }
        if !(self.ortho_lr_factor >= 0.0 && self.ortho_lr_factor.is_finite()) {
            return bad(format!(
                "W's learning-rate factor {} must be 0 or more",
                self.ortho_lr_factor
            ));
        }
        // σ and W's initialisation are the ORNN's; the LSTM ignores them
        if self.method != Method::Lstm
            && self.init == Init::Shift
            && self.activation == Activation::Relu
        {
            return bad(
                "the shift initialisation alternates signs, which ReLU would zero: use modrelu"
                    .into(),
            );
        }
        let b = &self.bjorck;
        if !(b.beta > 0.0 && b.beta <= 1.0) {
            return bad(format!(
                "Björck β {} must be in (0, 1] (0.5 is the usual choice)",
                b.beta
            ));
        }
        if !(1..=100).contains(&b.iters) || !(1..=100).contains(&b.power_iters) {
            return bad(format!(
                "Björck iterations ({}) and power iterations ({}) must be 1–100",
                b.iters, b.power_iters
            ));
        }
        if !(self.schedule.factor > 0.0 && self.schedule.factor <= 1.0) {
            return bad(format!(
                "learning-rate decay factor {} must be in (0, 1]",
                self.schedule.factor
            ));
        }
        if self.threads == 0 || self.threads > 1024 {
            return bad(format!("threads {} must be 1–1024", self.threads));
        }
        if !(self.clip >= 0.0 && self.clip.is_finite()) {
            return bad(format!(
                "gradient clipping {} must be 0 (off) or more",
                self.clip
            ));
        }
        Ok(())
    }
}

/// Why training stopped or could not start.
#[derive(Debug, Error)]
pub enum TrainError {
    /// Bad settings.
    #[error("invalid training settings: {0}")]
    Config(String),
    /// The data.
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    /// A checkpoint could not be read or written.
    #[error("checkpoint {path}: {problem}")]
    Checkpoint {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        problem: String,
    },
    /// The run would not fit in memory.
    #[error(transparent)]
    Memory(#[from] qornn_sim::memory::MemoryError),
    /// The loss became NaN or infinite.
    #[error(
        "the loss diverged (non-finite) at step {0}; lower the learning rate or clip gradients"
    )]
    Diverged(u64),
}

/// Metrics of one evaluation ("epoch" of the log).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// Index of this evaluation (1-based).
    pub epoch: u64,
    /// Optimiser steps done.
    pub step: u64,
    /// Mean training loss since the last evaluation.
    pub train_loss: f64,
    /// Training accuracy since the last evaluation (scored positions).
    pub train_acc: f64,
    /// Test loss.
    pub test_loss: f64,
    /// Test accuracy (copy: copied symbols).
    pub test_acc: f64,
    /// The memoryless baseline of the loss, when the task has one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub baseline: Option<f64>,
    /// Learning rate in force.
    pub lr: f64,
    /// ‖WᵀW − I‖_F of the orthogonalised (unquantised) W (0 for the LSTM, which has no
    /// orthogonal matrix).
    pub ortho_error: f64,
    /// Wall-clock seconds of training so far.
    pub seconds: f64,
}

/// A training run in progress.
pub struct Trainer {
    /// The settings.
    pub config: TrainConfig,
    /// The task with its data.
    pub task: Task,
    /// The network with its training state.
    pub network: Network,
    /// The optimiser (one tensor per parameter part of the network).
    pub optimizer: Optimizer,
    /// Optimiser steps done.
    pub step: u64,
    /// Evaluations so far.
    pub history: Vec<EpochMetrics>,
    /// Seconds of training so far (over resumes).
    pub seconds: f64,
    update: Vec<f32>,
    running: Stats,
}

/// The network a [`Trainer`] trains. An enum rather than a trait object: the two kinds differ
/// in what they persist and in what may be exported, and every place that cares is one
/// visible `match`.
pub enum Network {
    /// An orthogonal RNN (every method but `lstm`).
    Ornn(Box<Ornn>),
    /// The float LSTM reference (`lstm`).
    Lstm(Box<Lstm>),
}

/// An ORNN with the state its training keeps besides the optimiser.
pub struct Ornn {
    /// The model.
    pub model: Model<f32>,
    rank1: PowerIteration<f32>,
    engine: Engine<f32>,
    grads: Grads<f32>,
}

/// An LSTM with the state its training keeps besides the optimiser.
pub struct Lstm {
    /// The model.
    pub model: LstmModel<f32>,
    engine: LstmEngine<f32>,
    grads: LstmParams<f32>,
}

/// The serialised state of a [`Trainer`]. Exactly one of `model` (an ORNN) and `lstm` is
/// present, as the method says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Always [`CHECKPOINT_FORMAT`].
    pub format: String,
    /// Always [`CHECKPOINT_VERSION`].
    pub version: u32,
    /// The settings.
    pub config: TrainConfig,
    /// The ORNN (absent for an LSTM run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<Model<f32>>,
    /// The LSTM (only for an LSTM run; older checkpoints have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lstm: Option<LstmModel<f32>>,
    /// The optimiser.
    pub optimizer: Optimizer,
    /// Steps done.
    pub step: u64,
    /// Evaluations so far.
    pub history: Vec<EpochMetrics>,
    /// Seconds of training so far.
    pub seconds: f64,
    /// The projUNN rank-one power-iteration state (empty for an LSTM).
    pub rank1: PowerIteration<f32>,
    /// Training stats accumulated since the last evaluation.
    pub running: Stats,
}

impl Network {
    fn fresh(config: &TrainConfig, task: &Task) -> Network {
        match config.method {
            Method::Lstm => {
                let shape = config.lstm_shape(task);
                Network::Lstm(Box::new(Lstm {
                    model: LstmModel::new(shape, config.seed),
                    engine: LstmEngine::new(config.threads),
                    grads: LstmParams::zeros(&shape),
                }))
            }
            _ => {
                let mc = config.model_config(task);
                Network::Ornn(Box::new(Ornn {
                    model: Model::new(mc, config.seed),
                    rank1: PowerIteration::new(config.hidden),
                    engine: Engine::new(config.threads),
                    grads: Grads::zeros(&mc.shape),
                }))
            }
        }
    }

    /// Lengths of the parameter tensors, in the optimiser's order.
    fn sizes(&self) -> Vec<usize> {
        match self {
            Network::Ornn(o) => o.model.params.sizes(),
            Network::Lstm(l) => l.model.params.sizes(),
        }
    }

    /// Trainable parameters (the ORNN's or the LSTM's `param_count`).
    pub fn param_count(&self) -> usize {
        match self {
            Network::Ornn(o) => o.model.param_count(),
            Network::Lstm(l) => l.model.param_count(),
        }
    }

    /// Bring derived weights up to date (the ORNN's orthogonalised, quantised W; nothing to do
    /// for the LSTM).
    fn prepare(&mut self, power_iters: usize) {
        if let Network::Ornn(o) = self {
            o.model.prepare(power_iters);
        }
    }
}

/// A batch's gradients into the network's buffer, or the step at which training diverged
/// (a loss that is not finite).
fn take_gradients<G: Clone>(
    stats: &Stats,
    g: Option<&G>,
    grads: &mut G,
    step: u64,
) -> Result<(), TrainError> {
    if !stats.loss_sum.is_finite() {
        return Err(TrainError::Diverged(step));
    }
    if let Some(g) = g {
        grads.clone_from(g);
    }
    Ok(())
}

/// One optimiser update of parameter `idx` (`p += update(g)`), `update` reused as scratch.
fn step_parameter(
    optimizer: &mut Optimizer,
    idx: usize,
    g: &[f32],
    lr: f64,
    p: &mut [f32],
    update: &mut Vec<f32>,
) {
    update.resize(g.len(), 0.0);
    optimizer.update(idx, g, lr, update);
    p.iter_mut().zip(update.iter()).for_each(|(x, &u)| *x += u);
}

/// What one optimiser step of either network takes besides the network: the settings, the
/// batch, the optimiser with its scratch buffer, and the step's index.
struct Step<'a> {
    cfg: &'a TrainConfig,
    batch: &'a Batch,
    optimizer: &'a mut Optimizer,
    update: &'a mut Vec<f32>,
    step: u64,
}

impl Ornn {
    fn train_step(&mut self, s: Step<'_>) -> Result<Stats, TrainError> {
        self.model.prepare(s.cfg.bjorck.power_iters);
        let shape = self.model.shape();
        let opt = PassOptions {
            backward: true,
            ..Default::default()
        };
        let (stats, g) = self.engine.run(&shape, &self.model.weights(), s.batch, opt);
        take_gradients(&stats, g, &mut self.grads, s.step)?;
        self.model.chain_to_latent(&mut self.grads);
        clip_norm(&mut self.grads.parts_mut(), s.cfg.clip);
        let lr = s.cfg.schedule.at(s.step);
        s.optimizer.begin_step();
        let n = shape.n;
        let projunn = match self.model.config.ortho {
            Ortho::Projunn { kind } => Some(kind),
            _ => None,
        };
        let relu = shape.activation == Activation::Relu;
        let grads = self.grads.parts();
        let params = self.model.params.parts_mut();
        for ((id, p), g) in ParamId::ALL.into_iter().zip(params).zip(grads) {
            if id == ParamId::Beta && relu {
                continue;
            }
            s.update.resize(g.len(), 0.0);
            // W's latent learns at its own rate (`ortho_lr_factor`); with projUNN the step is
            // projected back onto the orthogonal group instead of taken as it is.
            match (id, projunn) {
                (ParamId::W, Some(kind)) => {
                    s.optimizer
                        .update(id.index(), g, lr * s.cfg.ortho_lr_factor, s.update);
                    let (a, b) =
                        ortho::rank_one(s.update, n, n, &mut self.rank1, s.cfg.rank_one_iters);
                    match kind {
                        Projunn::Direct => {
                            ortho::projunn_d(p, n, &a, &b);
                        }
                        Projunn::Tangent => ortho::projunn_t(p, n, &a, &b),
                    }
                    if (s.step + 1).is_multiple_of(64) && orthogonality_error(p, n) > 1e-4 {
                        ortho::bjorck_polish(p, n, 2);
                    }
                }
                _ => {
                    let lr = if id == ParamId::W {
                        lr * s.cfg.ortho_lr_factor
                    } else {
                        lr
                    };
                    step_parameter(s.optimizer, id.index(), g, lr, p, s.update);
                }
            }
        }
        Ok(stats)
    }
}

impl Lstm {
    fn train_step(&mut self, s: Step<'_>) -> Result<Stats, TrainError> {
        let (stats, g) = self.engine.run(&self.model, s.batch, true);
        take_gradients(&stats, g, &mut self.grads, s.step)?;
        clip_norm(&mut self.grads.parts_mut(), s.cfg.clip);
        let lr = s.cfg.schedule.at(s.step);
        s.optimizer.begin_step();
        let grads = self.grads.parts();
        for (i, (p, g)) in self
            .model
            .params
            .parts_mut()
            .into_iter()
            .zip(grads)
            .enumerate()
        {
            step_parameter(s.optimizer, i, g, lr, p, s.update);
        }
        Ok(stats)
    }
}

impl Trainer {
    /// A fresh run.
    pub fn new(config: TrainConfig) -> Result<Trainer, TrainError> {
        config.check()?;
        let task = Task::load(&config.task)?;
        check_memory(&config, &task)?;
        let network = Network::fresh(&config, &task);
        let optimizer = Optimizer::new(config.optimizer, &network.sizes());
        Ok(Trainer {
            update: Vec::new(),
            config,
            task,
            network,
            optimizer,
            step: 0,
            history: Vec::new(),
            seconds: 0.0,
            running: Stats::default(),
        })
    }

    /// The ORNN being trained (`None` for an LSTM run).
    pub fn ornn(&self) -> Option<&Model<f32>> {
        match &self.network {
            Network::Ornn(o) => Some(&o.model),
            Network::Lstm(_) => None,
        }
    }

    /// The LSTM being trained (`None` for an ORNN run).
    pub fn lstm(&self) -> Option<&LstmModel<f32>> {
        match &self.network {
            Network::Lstm(l) => Some(&l.model),
            Network::Ornn(_) => None,
        }
    }

    /// Trainable parameters of the network (for results tables: equal-n and equal-parameter
    /// rows).
    pub fn param_count(&self) -> usize {
        self.network.param_count()
    }

    /// The checkpoint of the current state.
    pub fn checkpoint(&self) -> Checkpoint {
        let (model, lstm, rank1) = match &self.network {
            Network::Ornn(o) => (Some(o.model.clone()), None, o.rank1.clone()),
            Network::Lstm(l) => (None, Some(l.model.clone()), PowerIteration::new(0)),
        };
        Checkpoint {
            format: CHECKPOINT_FORMAT.into(),
            version: CHECKPOINT_VERSION,
            config: self.config.clone(),
            model,
            lstm,
            optimizer: self.optimizer.clone(),
            step: self.step,
            history: self.history.clone(),
            seconds: self.seconds,
            rank1,
            running: self.running,
        }
    }

    /// Write a checkpoint atomically.
    pub fn save(&self, path: &Path) -> Result<(), TrainError> {
        let text =
            serde_json::to_string(&self.checkpoint()).map_err(|e| TrainError::Checkpoint {
                path: path.to_owned(),
                problem: e.to_string(),
            })?;
        qornn_sim::atomic::write(path, text.as_bytes()).map_err(|e| TrainError::Checkpoint {
            path: path.to_owned(),
            problem: e.to_string(),
        })
    }

    /// Read a checkpoint file.
    pub fn load_checkpoint(path: &Path) -> Result<Checkpoint, TrainError> {
        let err = |problem: String| TrainError::Checkpoint {
            path: path.to_owned(),
            problem,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        if let Some(hint) = qornn_sim::formats::wrong_kind(&text, CHECKPOINT_FORMAT) {
            return Err(err(hint));
        }
        let ck: Checkpoint = serde_json::from_str(&text).map_err(|e| err(e.to_string()))?;
        if ck.format != CHECKPOINT_FORMAT || ck.version != CHECKPOINT_VERSION {
            return Err(err(format!(
                "expected format {CHECKPOINT_FORMAT} version {CHECKPOINT_VERSION}, found {} version {}",
                ck.format, ck.version
            )));
        }
        Ok(ck)
    }

    /// Continue a run from its checkpoint (`threads` may differ from the original run's).
    pub fn resume(ck: Checkpoint, threads: usize) -> Result<Trainer, TrainError> {
        let mut config = ck.config;
        config.threads = threads.max(1);
        config.check()?;
        let task = Task::load(&config.task)?;
        check_memory(&config, &task)?;
        let bad =
            |problem: &str| TrainError::Config(format!("checkpoint does not match: {problem}"));
        let network = match (config.method, ck.model, ck.lstm) {
            (Method::Lstm, None, Some(model)) => {
                let shape = config.lstm_shape(&task);
                if model.shape != shape {
                    return Err(bad("model structure"));
                }
                if !model.params.fits(&shape) {
                    return Err(bad("parameter sizes"));
                }
                Network::Lstm(Box::new(Lstm {
                    model,
                    engine: LstmEngine::new(config.threads),
                    grads: LstmParams::zeros(&shape),
                }))
            }
            (Method::Lstm, ..) => return Err(bad("an lstm run without exactly one lstm model")),
            (_, Some(model), None) => {
                let mc = config.model_config(&task);
                if model.config != mc {
                    return Err(bad("model structure"));
                }
                let sizes = model.params.sizes();
                let want = [
                    mc.shape.n * mc.shape.n,
                    mc.shape.n * mc.shape.m,
                    mc.shape.n,
                    mc.shape.n,
                    mc.shape.d * mc.shape.n,
                    mc.shape.d,
                ];
                if sizes != want {
                    return Err(bad("parameter sizes"));
                }
                Network::Ornn(Box::new(Ornn {
                    model,
                    rank1: ck.rank1,
                    engine: Engine::new(config.threads),
                    grads: Grads::zeros(&mc.shape),
                }))
            }
            _ => return Err(bad("an ornn run without exactly one ornn model")),
        };
        if ck.optimizer.sizes() != network.sizes() {
            return Err(bad("optimiser state sizes"));
        }
        Ok(Trainer {
            update: Vec::new(),
            config,
            task,
            network,
            optimizer: ck.optimizer,
            step: ck.step,
            history: ck.history,
            seconds: ck.seconds,
            running: ck.running,
        })
    }

    /// Start from the parameters of another run's checkpoint (curriculum over delays, or a
    /// full-precision run warm-starting quantisation-aware training). The network shape and
    /// the kind of orthogonal parametrisation (or both being LSTMs of one shape) must match;
    /// the optimiser starts afresh.
    pub fn init_from(&mut self, ck: &Checkpoint) -> Result<(), TrainError> {
        match (&mut self.network, &ck.model, &ck.lstm) {
            (Network::Ornn(o), Some(from), _) => {
                let (a, b) = (&from.config, &o.model.config);
                let same_kind =
                    std::mem::discriminant(&a.ortho) == std::mem::discriminant(&b.ortho);
                if a.shape != b.shape || !same_kind {
                    return Err(TrainError::Config(format!(
                        "cannot start from a model of shape {:?} with {:?} (this run: {:?} with {:?})",
                        a.shape, a.ortho, b.shape, b.ortho
                    )));
                }
                o.model.params = from.params.clone();
                o.model.power = from.power.clone();
                o.model.warm = false;
                Ok(())
            }
            (Network::Lstm(l), _, Some(from)) => {
                if from.shape != l.model.shape {
                    return Err(TrainError::Config(format!(
                        "cannot start from an lstm of shape {:?} (this run: {:?})",
                        from.shape, l.model.shape
                    )));
                }
                l.model.params = from.params.clone();
                Ok(())
            }
            _ => Err(TrainError::Config(format!(
                "cannot start a {} run from a {} checkpoint (an lstm and an ornn do not share weights)",
                self.config.method.name(),
                ck.config.method.name()
            ))),
        }
    }

    /// One optimiser step on a fresh training batch; returns that batch's stats.
    pub fn train_step(&mut self) -> Result<Stats, TrainError> {
        let cfg = &self.config;
        let ids = self.task.train_ids(cfg.seed, self.step, cfg.batch);
        let batch = self.task.batch(Split::Train, &ids);
        let (opt, upd) = (&mut self.optimizer, &mut self.update);
        let step = |optimizer, update| Step {
            cfg,
            batch: &batch,
            optimizer,
            update,
            step: self.step,
        };
        let stats = match &mut self.network {
            Network::Ornn(o) => o.train_step(step(opt, upd))?,
            Network::Lstm(l) => l.train_step(step(opt, upd))?,
        };
        self.step += 1;
        self.running.merge(&stats);
        Ok(stats)
    }

    /// Evaluate on the test split (or `Split::Train` ids for calibration) with the weights of
    /// the last [`Model::prepare`]; `act_quant` fake-quantises the hidden state. An LSTM is
    /// evaluated in float: `act_quant` and `calibrate` apply to the ORNN only.
    pub fn evaluate(
        &mut self,
        split: Split,
        act_quant: Option<ActQuant>,
        calibrate: bool,
    ) -> Stats {
        let ids = match split {
            Split::Test => self.task.test_ids(self.config.test_limit),
            Split::Train => self
                .task
                .train_ids(self.config.seed ^ 0xca11b, 0, self.calib_size()),
        };
        match &mut self.network {
            Network::Ornn(o) => evaluate_ids(
                &mut o.engine,
                &self.task,
                &o.model,
                split,
                &ids,
                act_quant,
                calibrate,
            ),
            Network::Lstm(l) => {
                lstm::evaluate_ids(&mut l.engine, &self.task, &l.model, split, &ids)
            }
        }
    }

    fn calib_size(&self) -> usize {
        let n = self.task.len(Split::Train).unwrap_or(1024);
        n.min(1024)
    }

    /// Evaluate, append to the history and reset the running training stats.
    pub fn log_epoch(&mut self) -> EpochMetrics {
        self.network.prepare(self.config.bjorck.power_iters);
        let test = self.evaluate(Split::Test, None, false);
        let n = self.config.hidden;
        let ortho_error = match &self.network {
            Network::Ornn(o) => orthogonality_error(o.model.w_orthogonal(), n),
            Network::Lstm(_) => 0.0,
        };
        let m = EpochMetrics {
            epoch: self.history.len() as u64 + 1,
            step: self.step,
            train_loss: self.running.loss(),
            train_acc: self.running.accuracy(),
            test_loss: test.loss(),
            test_acc: test.accuracy(),
            baseline: self.task.baseline(),
            lr: self.config.schedule.at(self.step),
            ortho_error,
            seconds: self.seconds,
        };
        self.running = Stats::default();
        self.history.push(m.clone());
        m
    }

    /// Train until `config.steps`, calling `on_step` after every step and `on_epoch` after
    /// every evaluation (return false from either to stop early).
    pub fn run(
        &mut self,
        mut on_step: impl FnMut(&Trainer, &Stats) -> bool,
        mut on_epoch: impl FnMut(&Trainer, &EpochMetrics) -> bool,
    ) -> Result<(), TrainError> {
        while self.step < self.config.steps {
            let t0 = std::time::Instant::now();
            let st = self.train_step()?;
            self.seconds += t0.elapsed().as_secs_f64();
            if !on_step(self, &st) {
                return Ok(());
            }
            if self.step.is_multiple_of(self.config.eval_every) || self.step == self.config.steps {
                let m = self.log_epoch();
                if !on_epoch(self, &m) {
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

/// Sequences per evaluation chunk: about 64 MB of states, between 16 and 1024 sequences.
fn eval_chunk(steps: usize, n: usize) -> usize {
    let chunk = (1 << 24) / steps.saturating_mul(n.max(16)).max(1);
    chunk.clamp(16, 1024)
}

/// Refuse a run whose training batch or evaluation chunk would not fit in memory, before any
/// of it is allocated; the message names the options that set the size.
fn check_memory(config: &TrainConfig, task: &Task) -> Result<(), TrainError> {
    let steps = task.steps();
    let n = config.hidden;
    // Each network's own buffers: the LSTM keeps its four gates per step as well.
    let bytes = |size: usize| match config.method {
        Method::Lstm => lstm::pass_bytes(&config.lstm_shape(task), steps, size, 4),
        _ => pass_bytes(&config.model_config(task).shape, steps, size, 4),
    };
    let threads = config.threads.max(1) as u64;
    let train = bytes(config.batch);
    let eval = bytes(eval_chunk(steps, n));
    // Each thread's workspace holds its share; the gradients are small beside the states.
    let needed = train
        .max(eval)
        .saturating_add(threads * 16 * (n * n) as u64);
    qornn_sim::memory::check(
        &format!(
            "training {} n = {n} on {} sequences of {steps} steps",
            config.method, config.batch
        ),
        needed,
        "lower --batch, the sequence length (--delay, --length) or --hidden",
    )?;
    Ok(())
}

/// Evaluate `model` (its prepared weights) on the sequences `ids` of a split, in chunks.
pub fn evaluate_ids(
    engine: &mut Engine<f32>,
    task: &Task,
    model: &Model<f32>,
    split: Split,
    ids: &[u64],
    act_quant: Option<ActQuant>,
    calibrate: bool,
) -> Stats {
    let shape = model.shape();
    let chunk = eval_chunk(task.steps(), shape.n);
    let mut total = Stats::default();
    for part in ids.chunks(chunk) {
        let batch = task.batch(split, part);
        let opt = PassOptions {
            backward: false,
            act_quant,
            calibrate,
        };
        let (st, _) = engine.run(&shape, &model.weights(), &batch, opt);
        total.merge(&st);
    }
    total
}

/// Float, fake-quantised and integer (golden) results side by side for one activation width.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PtqRow {
    /// Hidden-state bits.
    pub activation_bits: u32,
    /// The trained float model (its training-time weight quantisation, float activations).
    pub float: Summary,
    /// Weights as exported, hidden state fake-quantised at the exported scale.
    pub fake_quant: Summary,
    /// The exported integer model in the golden simulator.
    pub integer: Summary,
}

/// Loss and accuracy of one evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Mean loss (nats, or squared error).
    pub loss: f64,
    /// Accuracy over scored positions.
    pub accuracy: f64,
}

impl From<Stats> for Summary {
    fn from(s: Stats) -> Self {
        Summary {
            loss: s.loss(),
            accuracy: s.accuracy(),
        }
    }
}

impl Trainer {
    /// The ORNN, or the refusal to export anything else (the LSTM is a float reference).
    fn exportable(&self) -> Result<&Ornn, ExportError> {
        match &self.network {
            Network::Ornn(o) => Ok(o),
            Network::Lstm(_) => Err(ExportError::FloatReference(self.config.method.name())),
        }
    }

    /// Fix the weights for export and evaluation (one final spectral-norm refinement; nothing
    /// to do for an LSTM).
    pub fn prepare_for_export(&mut self) {
        self.network.prepare(self.config.bjorck.power_iters.max(20));
    }

    /// max|h| of the float model over (up to 1024) training sequences, for the activation
    /// quantiser of the export (refused for an LSTM: it has no integer export).
    pub fn calibrate(&mut self) -> Result<f64, ExportError> {
        self.exportable()?;
        Ok(self.evaluate(Split::Train, None, true).max_abs_h)
    }

    /// A model whose W, U, V are exactly the exported codes times their scales (the PTQ
    /// weights of a full-precision run; the same weights for a QAT run). Refused for an LSTM.
    pub fn weight_quantised_model(&self) -> Result<Model<f32>, ExportError> {
        let model = &self.exportable()?.model;
        let mut m = model.clone();
        m.config.weight_bits = WeightBits::Bits(self.config.bits);
        m.config.output_bits = WeightBits::Bits(self.config.output_bits);
        m.config.ortho = Ortho::Free;
        m.params.w = model.w_orthogonal().to_vec();
        m.prepare(1);
        Ok(m)
    }

    /// Export at `activation_bits` after calibration (`max_abs_h` from [`Trainer::calibrate`]).
    /// Refused for an LSTM.
    pub fn export(
        &self,
        activation_bits: u32,
        max_abs_h: f64,
    ) -> Result<crate::export::Exported, ExportError> {
        self.export_into(activation_bits, max_abs_h, None)
    }

    /// [`Trainer::export`], into `frame` when one is given (its constants instead of chosen
    /// ones: the model then loads into a bitstream built for that frame).
    pub fn export_into(
        &self,
        activation_bits: u32,
        max_abs_h: f64,
        frame: Option<crate::export::Frame>,
    ) -> Result<crate::export::Exported, ExportError> {
        let wq = self.weight_quantised_model()?;
        let notes = format!(
            "seed {}, {} steps, hidden {}, {} weight bits, calibrated max|h| {:.6}",
            self.config.seed, self.step, self.config.hidden, self.config.bits, max_abs_h
        );
        crate::export::export(
            &wq,
            &self.task,
            &crate::export::ExportOptions {
                weight_bits: self.config.bits,
                output_bits: self.config.output_bits,
                activation_bits,
                max_abs_h,
                frame,
            },
            self.config.method.name(),
            notes,
        )
    }

    /// Float / fake-quant / integer metrics on the test split for each activation width.
    /// Refused for an LSTM (its float metrics are those of [`Trainer::evaluate`]).
    pub fn ptq_table(&mut self, widths: &[u32]) -> Result<Vec<PtqRow>, ExportError> {
        self.exportable()?;
        self.prepare_for_export();
        let max_h = self.calibrate()?;
        let float: Summary = self.evaluate(Split::Test, None, false).into();
        let wq = self.weight_quantised_model()?;
        let ids = self.task.test_ids(self.config.test_limit);
        let mut rows = Vec::new();
        for &k in widths {
            let exp = self.export(k, max_h)?;
            let Network::Ornn(o) = &mut self.network else {
                unreachable!("checked by exportable() above");
            };
            let fq = evaluate_ids(
                &mut o.engine,
                &self.task,
                &wq,
                Split::Test,
                &ids,
                Some(exp.act_quant),
                false,
            );
            let int = crate::export::evaluate_golden(
                &exp,
                &self.task,
                Split::Test,
                &ids,
                self.config.threads,
            )?;
            rows.push(PtqRow {
                activation_bits: k,
                float,
                fake_quant: fq.into(),
                integer: int.into(),
            });
        }
        Ok(rows)
    }
}
