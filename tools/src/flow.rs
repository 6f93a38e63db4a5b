//! `qornn flow`: from a task to a verified, synthesised core in one run, with a report.
//!
//! Stages, each timed and announced: train → export (PTQ of the activations, float /
//! fake-quant / integer side by side) → co-simulate the core (golden vs rust-hdl on short
//! sequences, vs Verilator on whole test sequences, vs Icarus on one) and compare VCDs → emit
//! Verilog → synthesise (when the tools are there; otherwise the report says how to get them)
//! → `report.md`, `report.html`, `report.json` and the plots. A failed stage stops the flow with
//! its message; everything produced so far stays, and the report says where it stopped.
//!
//! Everything the command line can set is a field of [`FlowConfig`] (TOML); the resolved
//! configuration is written beside the report (`flow.toml`) so a run can be repeated exactly.

use crate::cosim::{self, SimResult};
use crate::report::{grouped, write_report, Table};
use crate::simulator::Simulator;
use crate::synth::{self, CoreFacts, Resource, SynthOptions, SynthReport, Target};
use crate::training;
use qornn_hdl::{CoreConfig, CoreOptions, Multipliers};
use qornn_quant::bptt::Activation;
use qornn_quant::export::batch_sequences;
use qornn_quant::model::Init;
use qornn_quant::optim::OptimizerKind;
use qornn_quant::tasks::{Split, TaskSpec};
use qornn_quant::train::{EpochMetrics, Method, PtqRow, TrainConfig, Trainer};
use qornn_sim::vcd_diff::{self, Align, DiffOptions};
use qornn_sim::QuantizedModel;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;
use thiserror::Error;

/// The whole flow's settings. Every field has a default: an empty file is the default flow
/// (copy task, n = 64, 4-bit STE-Björck, 8 lanes, iCE40 UP5K).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FlowConfig {
    /// Training.
    pub train: TrainSection,
    /// Export of the integer model.
    pub export: ExportSection,
    /// The core, its simulations and synthesis.
    pub hardware: HardwareSection,
}

/// The `[train]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainSection {
    /// `copy`, `adding`, `smnist`, `psmnist` or `charlm`.
    pub task: String,
    /// Copy task delay T0.
    pub delay: usize,
    /// Sequence length of the adding and char-LM tasks.
    pub length: usize,
    /// Folder of MNIST-layout IDX files (image tasks).
    pub data: Option<PathBuf>,
    /// Text file (char-LM).
    pub text: Option<PathBuf>,
    /// `ste-bjorck`, `ste-projunn-d`, `ste-projunn-t`, `fp-bjorck`, `fp-projunn-d`,
    /// `fp-projunn-t` or `ptq`.
    pub method: String,
    /// Hidden units n.
    pub hidden: usize,
    /// `relu` or `modrelu`.
    pub activation: String,
    /// Weight bits of W and U.
    pub bits: u32,
    /// Weight bits of V.
    pub output_bits: u32,
    /// W's initialisation: `henaff`, `random` or `shift` (the delay line that long copy tasks
    /// need at 4–5 bits; see docs/training.md).
    pub init: String,
    /// Learning-rate factor of W's latent matrix.
    pub ortho_lr_factor: f64,
    /// Clip the gradient norm to this (0: off).
    pub clip: f64,
    /// `adam` or `rmsprop`.
    pub optimizer: String,
    /// Learning rate.
    pub lr: f64,
    /// Sequences per step.
    pub batch: usize,
    /// Optimiser steps.
    pub steps: u64,
    /// Evaluate every this many steps.
    pub eval_every: u64,
    /// Test sequences per evaluation (0: all).
    pub test_limit: usize,
    /// Seed.
    pub seed: u64,
    /// Worker threads.
    pub threads: usize,
}

impl Default for TrainSection {
    fn default() -> Self {
        TrainSection {
            task: "copy".into(),
            delay: 10,
            length: 100,
            data: None,
            text: None,
            method: "ste-bjorck".into(),
            hidden: 64,
            activation: "modrelu".into(),
            bits: 4,
            output_bits: 8,
            init: "henaff".into(),
            ortho_lr_factor: 1.0,
            clip: 0.0,
            optimizer: "adam".into(),
            lr: 3e-3,
            batch: 128,
            steps: 1500,
            eval_every: 250,
            test_limit: 1000,
            seed: 7,
            threads: 2,
        }
    }
}

/// The `[export]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExportSection {
    /// Hidden-state bits of the exported model.
    pub activation_bits: u32,
    /// Widths compared in the float / fake-quant / integer table and plot.
    pub compare_activation_bits: Vec<u32>,
}

impl Default for ExportSection {
    fn default() -> Self {
        ExportSection {
            activation_bits: 12,
            compare_activation_bits: vec![6, 8, 10, 12, 16],
        }
    }
}

/// The `[hardware]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HardwareSection {
    /// MAC lanes of the core that is simulated and emitted.
    pub lanes: usize,
    /// `dsp` or `lut`.
    pub multipliers: String,
    /// Test sequences simulated in rust-hdl.
    pub rust_hdl_sequences: usize,
    /// Test sequences simulated under Verilator (whole sequences).
    pub verilator_sequences: usize,
    /// Test sequences simulated under Icarus Verilog.
    pub iverilog_sequences: usize,
    /// `auto` (when the tools are installed), `on` (fail without them) or `off`.
    pub synth: String,
    /// Devices to synthesise for.
    pub targets: Vec<String>,
    /// Lane counts to synthesise (resources and speed against lanes); empty: just `lanes`.
    pub synth_lanes: Vec<usize>,
    /// Placer seed.
    pub seed: u64,
}

impl Default for HardwareSection {
    fn default() -> Self {
        HardwareSection {
            lanes: 8,
            multipliers: "dsp".into(),
            rust_hdl_sequences: 4,
            verilator_sequences: 200,
            iverilog_sequences: 1,
            synth: "auto".into(),
            targets: vec!["ice40-up5k".into()],
            synth_lanes: vec![2, 4, 8],
            seed: 1,
        }
    }
}

/// Why the flow stopped.
#[derive(Debug, Error)]
pub enum FlowError {
    /// The configuration is wrong.
    #[error("flow configuration: {0}")]
    Config(String),
    /// A stage failed.
    #[error("stage `{stage}` failed: {message}")]
    Stage {
        /// The stage.
        stage: &'static str,
        /// What went wrong.
        message: String,
    },
    /// The co-simulation found a difference: the flow stops there.
    #[error("co-simulation mismatch: {0}")]
    Mismatch(String),
    /// An output could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The reason.
        source: std::io::Error,
    },
}

/// The value named `name` in a table of names, or an error naming `train.<key>` and the choices.
fn pick<T: Copy>(key: &str, name: &str, all: &[(T, &str)]) -> Result<T, FlowError> {
    all.iter()
        .find(|(_, n)| *n == name)
        .map(|(v, _)| *v)
        .ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|(_, n)| *n).collect();
            FlowError::Config(format!(
                "unknown train.{key} `{name}` ({})",
                names.join(", ")
            ))
        })
}

impl FlowConfig {
    /// Parse a TOML configuration (unknown keys are errors).
    pub fn from_toml(text: &str) -> Result<FlowConfig, FlowError> {
        toml::from_str(text).map_err(|e| FlowError::Config(e.to_string()))
    }

    /// The configuration as TOML (the resolved one, with every default written out).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a flow configuration serialises")
    }

    /// The training configuration it describes.
    pub fn train_config(&self) -> Result<TrainConfig, FlowError> {
        let t = &self.train;
        let bad = |m: String| FlowError::Config(m);
        let need = |p: &Option<PathBuf>, what: &str| {
            p.clone()
                .ok_or_else(|| bad(format!("train.task = \"{}\" needs train.{what}", t.task)))
        };
        let task = match t.task.as_str() {
            "copy" => TaskSpec::Copy { delay: t.delay },
            "adding" => TaskSpec::Adding { steps: t.length },
            "smnist" | "psmnist" => TaskSpec::Image {
                dir: need(&t.data, "data")?,
                permuted: t.task == "psmnist",
                train_limit: 0,
                test_limit: 0,
            },
            "charlm" => TaskSpec::CharLm {
                path: need(&t.text, "text")?,
                steps: t.length,
            },
            other => {
                return Err(bad(format!(
                    "unknown train.task `{other}` (copy, adding, smnist, psmnist, charlm)"
                )))
            }
        };
        let method = Method::parse(&t.method)
            .ok_or_else(|| bad(format!("unknown train.method `{}`", t.method)))?;
        // the flow exports and builds hardware: refuse a float-only network before training it
        if !method.exportable() {
            return Err(bad(format!(
                "train.method `{}`: {}",
                t.method,
                qornn_quant::export::ExportError::FloatReference(method.name())
            )));
        }
        let mut c = TrainConfig::new(task, method, t.hidden);
        c.activation = pick("activation", &t.activation, &Activation::ALL)?;
        c.optimizer = pick("optimizer", &t.optimizer, &OptimizerKind::ALL)?;
        c.init = pick("init", &t.init, &Init::ALL)?;
        c.ortho_lr_factor = t.ortho_lr_factor;
        c.clip = t.clip;
        c.bits = t.bits;
        c.output_bits = t.output_bits;
        c.schedule.lr = t.lr;
        c.batch = t.batch;
        c.steps = t.steps;
        c.eval_every = t.eval_every.max(1);
        c.test_limit = t.test_limit;
        c.seed = t.seed;
        c.threads = t.threads.max(1);
        c.check().map_err(|e| bad(e.to_string()))?;
        Ok(c)
    }

    /// Check every setting that can be checked before training, naming the TOML key: the
    /// training settings, the export widths, lanes against n, the synthesis mode, targets and
    /// lane counts, the co-simulation sizes.
    pub fn check(&self) -> Result<(), FlowError> {
        let bad = |m: String| Err(FlowError::Config(m));
        self.train_config()?;
        let e = &self.export;
        qornn_quant::export::check_activation_bits("export.activation_bits", &[e.activation_bits])
            .map_err(FlowError::Config)?;
        qornn_quant::export::check_activation_bits(
            "export.compare_activation_bits",
            &e.compare_activation_bits,
        )
        .map_err(FlowError::Config)?;
        let hw = &self.hardware;
        let n = self.train.hidden;
        self.core_options(hw.lanes)?;
        if hw.lanes == 0 || hw.lanes > n {
            return bad(format!(
                "hardware.lanes = {}: a core of n = {n} rows takes 1 to {n} lanes",
                hw.lanes
            ));
        }
        if let Some(p) = hw.synth_lanes.iter().find(|&&p| p == 0 || p > n) {
            return bad(format!(
                "hardware.synth_lanes holds {p}: a core of n = {n} rows takes 1 to {n} lanes"
            ));
        }
        if let Some((i, p)) = hw
            .synth_lanes
            .iter()
            .enumerate()
            .find(|(i, p)| hw.synth_lanes[..*i].contains(p))
        {
            return bad(format!(
                "hardware.synth_lanes names {p} twice (entry {})",
                i + 1
            ));
        }
        if !["auto", "on", "off"].contains(&hw.synth.as_str()) {
            return bad(format!(
                "hardware.synth = \"{}\" (auto, on or off)",
                hw.synth
            ));
        }
        let targets = self.targets()?;
        if targets.is_empty() && hw.synth != "off" {
            return bad(
                "hardware.targets is empty: name a device, or set hardware.synth = \"off\"".into(),
            );
        }
        if let Some((i, t)) = targets
            .iter()
            .enumerate()
            .find(|(i, t)| targets[..*i].contains(t))
        {
            return bad(format!(
                "hardware.targets names {t} twice (entry {})",
                i + 1
            ));
        }
        if hw.rust_hdl_sequences == 0 {
            return bad(
                "hardware.rust_hdl_sequences = 0: the co-simulation would compare nothing".into(),
            );
        }
        Ok(())
    }

    fn core_options(&self, lanes: usize) -> Result<CoreOptions, FlowError> {
        let multipliers = self
            .hardware
            .multipliers
            .parse::<Multipliers>()
            .map_err(|e| FlowError::Config(format!("hardware.multipliers: {e}")))?;
        Ok(CoreOptions { lanes, multipliers })
    }

    fn targets(&self) -> Result<Vec<Target>, FlowError> {
        self.hardware
            .targets
            .iter()
            .map(|t| {
                Target::parse(t)
                    .ok_or_else(|| FlowError::Config(format!("unknown hardware target `{t}`")))
            })
            .collect()
    }
}

/// How long a stage took and how it ended.
#[derive(Debug, Clone, Serialize)]
pub struct StageLog {
    /// The stage.
    pub stage: &'static str,
    /// Seconds.
    pub seconds: f64,
    /// `ok`, `skipped: why` or `failed: why`.
    pub status: String,
}

/// One synthesis point of the report.
#[derive(Debug, Clone, Serialize)]
pub struct SynthPoint {
    /// Lanes.
    pub lanes: usize,
    /// The parsed report, or why there is none.
    pub result: Result<SynthReport, String>,
    /// What the core does per step.
    pub core: CoreFacts,
}

/// Everything the flow found, as `report.json` holds it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FlowReport {
    /// The resolved configuration.
    pub config: Option<FlowConfig>,
    /// Stage times and outcomes.
    pub stages: Vec<StageLog>,
    /// Training evaluations.
    pub training: Vec<EpochMetrics>,
    /// The task's memoryless baseline loss, when it has one.
    pub baseline: Option<f64>,
    /// Float / fake-quant / integer on the test split, per activation width.
    pub ptq: Vec<PtqRow>,
    /// The exported model's summary.
    pub model: Option<serde_json::Value>,
    /// The co-simulations.
    pub cosim: Vec<CosimRow>,
    /// VCD comparisons: (what, outcome).
    pub vcd: Vec<(String, String)>,
    /// Cycles per step of the core and the ideal.
    pub cycles_per_step: Option<(u64, u64)>,
    /// Synthesis results per target.
    pub synthesis: Vec<(String, Vec<SynthPoint>)>,
    /// Whether every co-simulation and VCD comparison said equal.
    pub all_equal: bool,
    /// Where the flow stopped, if it did.
    pub stopped: Option<String>,
    /// What was left out and why (a simulator that is not installed, ...).
    pub notes: Vec<String>,
    /// Simulators that did not run, each with the reason: the verdict names them, so "equal"
    /// never reads as covering a simulator that was not there.
    pub skipped_sims: Vec<String>,
    /// Synthesis targets that were requested and could not be built, with the reason.
    pub skipped_synth: Vec<String>,
}

impl FlowReport {
    /// The simulators that ran and agreed, by name (golden is the reference).
    pub fn simulators_compared(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for c in &self.cosim {
            if c.result != "reference" && !names.contains(&c.sim) {
                names.push(c.sim.clone());
            }
        }
        names
    }

    /// The one-line verdict: which simulators agreed with the golden model over what, and
    /// which checks were skipped.
    pub fn verdict(&self) -> String {
        let ran = self.simulators_compared();
        let mut v = if ran.is_empty() {
            "no simulator was compared with the golden model".to_string()
        } else if self.all_equal {
            format!(
                "{} equal to the golden model on every h_t and y_t",
                ran.join(", ")
            )
        } else {
            format!(
                "a MISMATCH among {} (see the co-simulation table)",
                ran.join(", ")
            )
        };
        if !self.skipped_sims.is_empty() {
            v += &format!("; NOT RUN: {}", self.skipped_sims.join("; "));
        }
        if !self.skipped_synth.is_empty() {
            v += &format!("; synthesis NOT RUN: {}", self.skipped_synth.join("; "));
        }
        v
    }
}

/// A co-simulation row of the report.
#[derive(Debug, Clone, Serialize)]
pub struct CosimRow {
    /// Simulator.
    pub sim: String,
    /// Sequences.
    pub sequences: usize,
    /// Steps.
    pub steps: usize,
    /// Cycles.
    pub cycles: Option<u64>,
    /// Seconds.
    pub seconds: f64,
    /// `equal` or the first mismatch.
    pub result: String,
}

/// Runs the stages, keeping the log and the report up to date.
struct Runner<'a> {
    out: &'a Path,
    report: FlowReport,
    stage_count: usize,
    index: usize,
    quiet: bool,
}

impl Runner<'_> {
    fn stage<T>(
        &mut self,
        name: &'static str,
        f: impl FnOnce(&mut FlowReport) -> Result<T, FlowError>,
    ) -> Result<T, FlowError> {
        self.index += 1;
        if !self.quiet {
            eprintln!("[{}/{}] {name} …", self.index, self.stage_count);
        }
        let start = Instant::now();
        let result = f(&mut self.report);
        let seconds = start.elapsed().as_secs_f64();
        let status = match &result {
            Ok(_) => "ok".to_string(),
            Err(e) => format!("failed: {e}"),
        };
        if !self.quiet {
            eprintln!("      {name}: {status} ({seconds:.1} s)");
        }
        self.report.stages.push(StageLog {
            stage: name,
            seconds,
            status,
        });
        if let Err(e) = &result {
            self.report.stopped = Some(format!("{name}: {e}"));
        }
        result
    }

    fn skip(&mut self, name: &'static str, why: String) {
        self.index += 1;
        if !self.quiet {
            eprintln!(
                "[{}/{}] {name}: skipped — {why}",
                self.index, self.stage_count
            );
        }
        self.report.stages.push(StageLog {
            stage: name,
            seconds: 0.0,
            status: format!("skipped: {why}"),
        });
    }
}

fn stage_err(stage: &'static str) -> impl Fn(String) -> FlowError {
    move |message| FlowError::Stage { stage, message }
}

/// Run the whole flow into `out`. The report is written whatever happens; the error says
/// where the flow stopped.
pub fn run(config: &FlowConfig, out: &Path, quiet: bool) -> Result<FlowReport, FlowError> {
    config.check()?;
    std::fs::create_dir_all(out).map_err(|source| FlowError::Io {
        path: out.to_owned(),
        source,
    })?;
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| FlowError::Io { path, source }
    };
    let cfg_path = out.join("flow.toml");
    qornn_sim::atomic::write(&cfg_path, config.to_toml().as_bytes()).map_err(io(&cfg_path))?;
    let mut r = Runner {
        out,
        report: FlowReport {
            config: Some(config.clone()),
            ..FlowReport::default()
        },
        stage_count: 6,
        index: 0,
        quiet,
    };
    let result = stages(config, &mut r);
    let report = r.report;
    write_flow_report(out, &report).map_err(io(out))?;
    result.map(|()| report)
}

fn stages(config: &FlowConfig, r: &mut Runner) -> Result<(), FlowError> {
    let out = r.out.to_owned();
    let train_cfg = config.train_config()?;
    let opts = config.core_options(config.hardware.lanes)?;
    let targets = config.targets()?;

    // 1. Train.
    let quiet = r.quiet;
    let mut trainer = r.stage("train", |rep| {
        let mut t = Trainer::new(train_cfg).map_err(|e| FlowError::Config(e.to_string()))?;
        training::drive(&mut t, &out.join("train"), quiet)
            .map_err(|e| stage_err("train")(e.to_string()))?;
        rep.training = t.history.clone();
        rep.baseline = t.history.last().and_then(|m| m.baseline);
        Ok(t)
    })?;

    // 2. Export: calibrate, compare activation widths, write the model.
    let model = r.stage("export", |rep| {
        let err = stage_err("export");
        let mut widths = config.export.compare_activation_bits.clone();
        if !widths.contains(&config.export.activation_bits) {
            widths.push(config.export.activation_bits);
        }
        widths.sort_unstable();
        rep.ptq = trainer.ptq_table(&widths).map_err(|e| err(e.to_string()))?;
        let max_h = trainer.calibrate().map_err(|e| err(e.to_string()))?;
        let exp = trainer
            .export(config.export.activation_bits, max_h)
            .map_err(|e| err(e.to_string()))?;
        exp.model
            .save(&out.join("model.json"))
            .map_err(|e| err(e.to_string()))?;
        rep.model = Some(model_summary(&exp.model));
        if let Err(e) = training::ptq_chart(&rep.ptq, trainer.task.name())
            .save(&out.join("accuracy_vs_bits.png"))
        {
            eprintln!("warning: no accuracy plot: {e}");
        }
        Ok(exp.model)
    })?;

    // 3. Co-simulation on test sequences, and VCD comparisons.
    let hw = &config.hardware;
    let test_ids = trainer.task.test_ids(
        hw.verilator_sequences
            .max(hw.rust_hdl_sequences)
            .max(hw.iverilog_sequences)
            .max(1),
    );
    let seqs = batch_sequences(&trainer.task, Split::Test, &test_ids);
    r.stage("co-simulate", |rep| {
        let err = stage_err("co-simulate");
        let cfg = CoreConfig::new(&model, &opts).map_err(|e| err(e.to_string()))?;
        rep.cycles_per_step = Some((cfg.cycles_per_step(), cfg.ideal_cycles()));
        let cache = out.join("cache");
        let mut runs: Vec<(Vec<Simulator>, usize)> = vec![(
            vec![Simulator::Golden, Simulator::RustHdl],
            hw.rust_hdl_sequences,
        )];
        // The Verilog simulators that are installed (the others are noted in the report and
        // named in its verdict as not run).
        let mut installed: Vec<Simulator> = Vec::new();
        for (sim, count) in [
            (Simulator::Verilator, hw.verilator_sequences),
            (Simulator::Iverilog, hw.iverilog_sequences),
        ] {
            let missing = sim
                .programs()
                .iter()
                .find_map(|p| crate::external::find(p).err());
            match missing {
                None => {
                    installed.push(sim);
                    if count > 0 {
                        runs.push((vec![sim], count));
                    } else {
                        rep.skipped_sims
                            .push(format!("{sim} (0 sequences configured)"));
                    }
                }
                Some(e) => {
                    rep.skipped_sims.push(format!("{sim} ({e})"));
                    rep.notes
                        .push(format!("{sim} left out of the co-simulation: {e}"));
                }
            }
        }
        for (sims, count) in runs {
            let part = &seqs[..count.min(seqs.len())];
            let rows = cosim::cosimulate(
                &model,
                &opts,
                part,
                &sims,
                &out.join("cosim"),
                &cache,
                false,
            )
            .map_err(|e| err(e.to_string()))?;
            rep.cosim
                .extend(rows.into_iter().map(|row: SimResult| CosimRow {
                    sim: row.sim.to_string(),
                    sequences: part.len(),
                    steps: row.steps,
                    cycles: row.cycles,
                    seconds: row.wall.as_secs_f64(),
                    result: row.mismatch.unwrap_or_else(|| {
                        if row.sim == Simulator::Golden {
                            "reference".into()
                        } else {
                            "equal".into()
                        }
                    }),
                }));
        }
        // VCDs of one sequence from every simulator there is.
        let one = &seqs[..1];
        let vcd_sims: Vec<Simulator> = [Simulator::Golden, Simulator::RustHdl]
            .into_iter()
            .chain(installed)
            .collect();
        let vdir = out.join("vcd");
        cosim::cosimulate(&model, &opts, one, &vcd_sims, &vdir, &cache, true)
            .map_err(|e| err(e.to_string()))?;
        let rtl = vdir.join("rust-hdl-rtl.vcd");
        qornn_hdl::harness::run(
            &model,
            &opts,
            one,
            &qornn_hdl::harness::Outputs {
                rtl_vcd: Some(rtl.clone()),
                trace_vcd: None,
            },
        )
        .map_err(|e| err(e.to_string()))?;
        let ports = DiffOptions {
            signals: vec!["y_data".into(), "h_data".into(), "step_cycles".into()],
            align: Align::Strobe("y_valid".into()),
            ..DiffOptions::default()
        };
        // The core's own port signals, dumped by each simulator from its own circuit. (The
        // rust-hdl trace VCD is written from the same values and by the same writer as the
        // golden one, so comparing those two would prove nothing the trace check did not.)
        let mut pairs = Vec::new();
        for s in [Simulator::Verilator, Simulator::Iverilog] {
            if vcd_sims.contains(&s) {
                pairs.push((
                    format!("rust-hdl RTL vs {s}: y_data, h_data, step_cycles on y_valid"),
                    rtl.clone(),
                    vdir.join(format!("{s}.vcd")),
                    ports.clone(),
                ));
            }
        }
        for (what, a, b, o) in pairs {
            let outcome = vcd_diff::diff_files(&a, &b, &o).map_err(|e| err(e.to_string()))?;
            rep.vcd.push((what, outcome.summary()));
        }
        rep.all_equal = rep
            .cosim
            .iter()
            .all(|c| c.result == "equal" || c.result == "reference")
            && rep.vcd.iter().all(|(_, v)| v.starts_with("equal"));
        if !rep.all_equal {
            return Err(FlowError::Mismatch(
                "see the co-simulation table of the report".into(),
            ));
        }
        Ok(())
    })?;

    // 4. Verilog.
    r.stage("verilog", |_| {
        let text = qornn_hdl::verilog::emit(&model, &opts, qornn_hdl::verilog::DEFAULT_TOP)
            .map_err(|e| stage_err("verilog")(e.to_string()))?;
        let path = out.join("core.v");
        qornn_sim::atomic::write(&path, text.as_bytes())
            .map_err(|source| FlowError::Io { path, source })
    })?;

    // 5. Synthesis.
    let missing: Vec<String> = targets
        .iter()
        .flat_map(|t| t.programs())
        .filter_map(|p| crate::external::find(p).err().map(|e| e.to_string()))
        .collect();
    match (hw.synth.as_str(), missing.is_empty()) {
        ("off", _) => r.skip("synthesise", "hardware.synth = \"off\"".into()),
        ("auto", false) => {
            r.report.skipped_synth.push(missing.join("; "));
            r.skip("synthesise", missing.join("; "))
        }
        // Asked for explicitly: a missing tool is a failure, not a skipped check.
        ("on", false) => r.stage("synthesise", |_| {
            Err(stage_err("synthesise")(format!(
                "hardware.synth = \"on\" but {}",
                missing.join("; ")
            )))
        })?,
        ("on" | "auto", true) => r.stage("synthesise", |rep| {
            synthesise(config, &model, &targets, &out, rep)
        })?,
        (other, _) => {
            return Err(FlowError::Config(format!(
                "hardware.synth = \"{other}\" (auto, on, off)"
            )))
        }
    }

    // 6. Report (written by `run` in any case; this stage draws the hardware plots).
    r.stage("report", |rep| {
        hardware_plots(rep, &out);
        Ok(())
    })?;
    Ok(())
}

fn model_summary(model: &QuantizedModel) -> serde_json::Value {
    let widths = model.validate().ok();
    serde_json::json!({
        "shape": model.shape,
        "bits": model.bits,
        "activation": model.activation.name(),
        "alignment": model.alignment,
        "requant": model.requant,
        "memory_bits": model.memory_bits(),
        "required_accumulator": widths.as_ref().map(|w| w.hidden.required),
        "required_output_accumulator": widths.as_ref().map(|w| w.output.required),
    })
}

fn synthesise(
    config: &FlowConfig,
    model: &QuantizedModel,
    targets: &[Target],
    out: &Path,
    rep: &mut FlowReport,
) -> Result<(), FlowError> {
    let hw = &config.hardware;
    let lanes = if hw.synth_lanes.is_empty() {
        vec![hw.lanes]
    } else {
        hw.synth_lanes.clone()
    };
    // `FlowConfig::check` refused lane counts outside 1..=n before training.
    for &target in targets {
        let mut points = Vec::new();
        for &p in &lanes {
            let opts = config.core_options(p)?;
            let (text, cfg) =
                crate::board::board_design(model, &opts, None, crate::board::BOARD_TOP)
                    .map_err(|e| stage_err("synthesise")(e.to_string()))?;
            let dir = out
                .join("synth")
                .join(format!("{}-{p}lanes", target.name()));
            std::fs::create_dir_all(&dir).map_err(|source| FlowError::Io {
                path: dir.clone(),
                source,
            })?;
            let v = dir.join("top.v");
            qornn_sim::atomic::write(&v, text.as_bytes()).map_err(|source| FlowError::Io {
                path: v.clone(),
                source,
            })?;
            let so = SynthOptions {
                target,
                top: crate::board::default_top(),
                seeds: vec![hw.seed],
                freq_mhz: target.default_freq_mhz(),
                constraints: None,
                bitstream: true,
            };
            eprintln!("      {target}, {p} lanes …");
            let result = match synth::synthesize(&v, &dir, &so) {
                Ok(report) => Ok(report),
                // Not fitting is a result worth reporting beside the points that fit.
                Err(e @ synth::SynthError::DoesNotFit { .. }) => Err(e.to_string()),
                // A tool that failed is not: the stage fails and says where.
                Err(e) => return Err(stage_err("synthesise")(format!("{target}, {p} lanes: {e}"))),
            };
            points.push(SynthPoint {
                lanes: p,
                result,
                core: CoreFacts {
                    cycles_per_step: cfg.cycles_per_step(),
                    macs_per_step: (cfg.hidden * (cfg.hidden + cfg.input) + cfg.output * cfg.hidden)
                        as u64,
                    weight_memory_bits: model.memory_bits(),
                    lanes: p,
                },
            });
        }
        rep.synthesis.push((target.name().to_string(), points));
    }
    Ok(())
}

fn hardware_plots(rep: &FlowReport, out: &Path) {
    use crate::plot::{Chart, Series, Style};
    let mut luts = Vec::new();
    let mut steps = Vec::new();
    for (target, points) in &rep.synthesis {
        let ok: Vec<(&SynthPoint, &SynthReport)> = points
            .iter()
            .filter_map(|p| p.result.as_ref().ok().map(|r| (p, r)))
            .collect();
        luts.push(Series::new(
            target.clone(),
            ok.iter()
                .map(|(p, r)| (p.lanes as f64, r.usage(Resource::Luts).used as f64))
                .collect(),
        ));
        steps.push(Series::new(
            target.clone(),
            ok.iter()
                .filter_map(|(p, r)| {
                    Some((p.lanes as f64, p.core.at(r.fmax()?).steps_per_second / 1e3))
                })
                .collect(),
        ));
    }
    if luts.iter().any(|s| !s.points.is_empty()) {
        let mk = |title: &str, y: &str, s: Vec<Series>| Chart {
            style: Style::LinesAndPoints,
            ..Chart::lines(title, "MAC lanes", y, s)
        };
        for (chart, file) in [
            (
                mk("Logic against lanes", "LUTs (logic cells)", luts),
                "resources_vs_lanes.png",
            ),
            (
                mk(
                    "Speed against lanes (at Fmax)",
                    "thousand steps per second",
                    steps,
                ),
                "steps_vs_lanes.png",
            ),
        ] {
            if let Err(e) = chart.save(&out.join(file)) {
                eprintln!("warning: no {file}: {e}");
            }
        }
    }
}

/// The report as Markdown (links to the plots that exist in `out`).
pub fn markdown(rep: &FlowReport, out: &Path) -> String {
    let mut md = String::from("# qornn flow report\n\n");
    if let Some(stop) = &rep.stopped {
        md += &format!("**The flow stopped** at {stop}. Everything up to there is below.\n\n");
    }
    for note in &rep.notes {
        md += &format!("> Note: {note}\n\n");
    }
    let mut t = Table::new(&["stage", "time", "status"]);
    for s in &rep.stages {
        t.row(vec![
            s.stage.into(),
            format!("{:.1} s", s.seconds),
            s.status.clone(),
        ]);
    }
    md += &t.to_markdown();
    let img = |file: &str, alt: &str| {
        if out.join(file).is_file() {
            format!("\n![{alt}]({file})\n")
        } else {
            String::new()
        }
    };
    if let Some(last) = rep.training.last() {
        md += "\n## Training\n\n";
        md += &format!(
            "After {} steps ({:.0} s): test loss {:.4}{}, test accuracy {:.2} %, ‖WᵀW − I‖ = {:.2e}.\n",
            last.step,
            last.seconds,
            last.test_loss,
            rep.baseline.map_or(String::new(), |b| format!(" (memoryless baseline {b:.4})")),
            100.0 * last.test_acc,
            last.ortho_error
        );
        md += &img("train/loss.png", "loss");
        md += &img("train/accuracy.png", "accuracy");
    }
    if !rep.ptq.is_empty() {
        md += "\n## Quantisation: float, fake-quantised and integer (golden) on the test split\n\n";
        md += &training::ptq_markdown(&rep.ptq);
        md += &img("accuracy_vs_bits.png", "accuracy vs activation bits");
    }
    if let Some(m) = &rep.model {
        md += &format!(
            "\n## The integer model (`model.json`)\n\n```json\n{}\n```\n",
            serde_json::to_string_pretty(m).unwrap_or_default()
        );
    }
    if !rep.cosim.is_empty() {
        md += "\n## Co-simulation against the golden model\n\n";
        if let Some((c, ideal)) = rep.cycles_per_step {
            md += &format!("Core: {c} cycles per step (ideal {ideal}).\n\n");
        }
        let mut t = Table::new(&[
            "simulator",
            "sequences",
            "steps",
            "cycles",
            "wall time",
            "vs golden",
        ]);
        for c in &rep.cosim {
            t.row(vec![
                c.sim.clone(),
                c.sequences.to_string(),
                grouped(c.steps as u64),
                c.cycles.map_or("—".into(), grouped),
                format!("{:.2} s", c.seconds),
                c.result.clone(),
            ]);
        }
        md += &t.to_markdown();
        md += "\nVCD comparisons (`qornn vcd-diff`):\n\n";
        for (what, outcome) in &rep.vcd {
            md += &format!("- {what}: **{outcome}**\n");
        }
    }
    for (target, points) in &rep.synthesis {
        md += &format!("\n## Synthesis: {target}\n\n");
        let mut t = Table::new(&[
            "lanes",
            "LUTs",
            "FFs",
            "DSPs",
            "BRAMs",
            "Fmax (MHz)",
            "cycles/step",
            "steps/s",
            "fits",
        ]);
        for p in points {
            match &p.result {
                Ok(r) => {
                    let u = |x: Resource| grouped(r.usage(x).used);
                    let fmax = r.fmax();
                    t.row(vec![
                        p.lanes.to_string(),
                        u(Resource::Luts),
                        u(Resource::FlipFlops),
                        u(Resource::Dsps),
                        u(Resource::BlockRams),
                        fmax.map_or("—".into(), |f| format!("{f:.1}")),
                        p.core.cycles_per_step.to_string(),
                        fmax.map_or("—".into(), |f| {
                            grouped(p.core.at(f).steps_per_second as u64)
                        }),
                        "yes".into(),
                    ]);
                }
                Err(e) => t.row(vec![
                    p.lanes.to_string(),
                    "—".into(),
                    "—".into(),
                    "—".into(),
                    "—".into(),
                    "—".into(),
                    p.core.cycles_per_step.to_string(),
                    "—".into(),
                    format!("no: {e}"),
                ]),
            }
        }
        md += &t.to_markdown();
    }
    md += &img("resources_vs_lanes.png", "resources vs lanes");
    md += &img("steps_vs_lanes.png", "steps per second vs lanes");
    md += "\n## Files\n\n`flow.toml` (the resolved configuration: `qornn flow --config flow.toml` repeats this run), \
           `model.json`, `core.v`, `train/` (checkpoint, metrics, curves), `cosim/`, `vcd/`, `synth/`.\n";
    md
}

fn write_flow_report(out: &Path, rep: &FlowReport) -> std::io::Result<()> {
    write_report(out, "report", "qornn flow report", rep, &markdown(rep, out)).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_is_the_default_flow_and_the_config_round_trips() {
        let c = FlowConfig::from_toml("").unwrap();
        assert_eq!(c, FlowConfig::default());
        let again = FlowConfig::from_toml(&c.to_toml()).unwrap();
        assert_eq!(again, c);
        let t = c.train_config().unwrap();
        assert_eq!((t.hidden, t.bits), (64, 4));
        let long = FlowConfig::from_toml(
            "[train]\ndelay = 1000\ninit = \"shift\"\northo_lr_factor = 0.01\nclip = 1.0",
        )
        .unwrap()
        .train_config()
        .unwrap();
        assert_eq!(long.init, Init::Shift);
        assert_eq!((long.ortho_lr_factor, long.clip), (0.01, 1.0));
    }

    #[test]
    fn configuration_names_are_the_checkpoint_names() {
        let json = |v: serde_json::Value| v.as_str().unwrap().to_string();
        for (v, n) in Activation::ALL {
            assert_eq!(json(serde_json::to_value(v).unwrap()), n);
        }
        for (v, n) in OptimizerKind::ALL {
            assert_eq!(json(serde_json::to_value(v).unwrap()), n);
        }
        for (v, n) in Init::ALL {
            assert_eq!(json(serde_json::to_value(v).unwrap()), n);
        }
    }

    #[test]
    fn bad_configurations_say_what_is_wrong() {
        for (text, needle) in [
            ("[train]\ntask = \"sorting\"", "sorting"),
            ("[train]\nmethod = \"magic\"", "magic"),
            ("[train]\nmethod = \"lstm\"", "float reference"),
            ("[train]\nhidden = \"big\"", "hidden"),
            ("[trian]\nhidden = 3", "trian"),
            ("[train]\ntask = \"smnist\"", "train.data"),
            ("[train]\ninit = \"identity\"", "identity"),
            ("[train]\northo_lr_factor = -1.0", "learning-rate factor"),
            ("[train]\nclip = -2.0", "clipping"),
            (
                "[train]\ninit = \"shift\"\nactivation = \"relu\"",
                "modrelu",
            ),
        ] {
            let err = FlowConfig::from_toml(text)
                .and_then(|c| c.train_config().map(|_| ()))
                .unwrap_err();
            assert!(err.to_string().contains(needle), "{text}: {err}");
        }
        let c = FlowConfig::from_toml("[hardware]\ntargets = [\"xc7a35t\"]").unwrap();
        assert!(c.targets().unwrap_err().to_string().contains("xc7a35t"));
    }
}
