//! The stages in order, each timed and announced, each stopping the flow on failure.

use super::plots::hardware_plots;
use super::report::write_flow_report;
use super::*;
use crate::cosim::{self, SimResult};
use crate::simulator::Simulator;
use crate::synth::{self, Target};
use crate::training;
use qornn_hdl::{CoreConfig, CoreOptions, DspCell};
use qornn_quant::export::batch_sequences;
use qornn_quant::tasks::Split;
use qornn_quant::train::{TrainConfig, Trainer};
use qornn_sim::vcd_diff::{self, Align, DiffOptions};
use qornn_sim::{QuantizedModel, Sequence};
use std::path::Path;
use std::time::Instant;

#[path = "synthesis.rs"]
mod synthesis;
use synthesis::synthesis_stage;

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
    // One flow at a time per output folder; held until the report is written.
    let _lock = crate::lock::FolderLock::try_take(out, ".qornn-flow.lock")?;
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
    let targets = &config.hardware.targets;
    // The co-simulated and emitted core is written for the first target's family (its DSP
    // cell); each synthesis builds its own family's (the tests co-simulate both cells).
    let dsp = targets
        .first()
        .map_or(DspCell::Inferred, |t| t.family().dsp_cell);
    let opts = config.core_options(config.hardware.lanes).with_dsp(dsp);
    let quiet = r.quiet;
    let mut trainer = r.stage("train", |rep| train(train_cfg, &out, quiet, rep))?;
    let model = r.stage("export", |rep| export(config, &mut trainer, &out, rep))?;
    let hw = &config.hardware;
    let test_ids = trainer.task.test_ids(
        hw.verilator_sequences
            .max(hw.rust_hdl_sequences)
            .max(hw.iverilog_sequences)
            .max(1),
    );
    let seqs = batch_sequences(&trainer.task, Split::Test, &test_ids);
    r.stage("co-simulate", |rep| {
        co_simulate(config, &model, &opts, &seqs, &out, rep)
    })?;
    r.stage("verilog", |_| verilog(&model, &opts, &out))?;
    synthesis_stage(config, &model, targets, &out, r)?;
    // The report is written by `run` in any case; this stage draws the hardware plots.
    r.stage("report", |rep| {
        hardware_plots(rep, &out);
        Ok(())
    })?;
    Ok(())
}

/// 1. Train, with the progress bar and the metrics log in `OUT/train`.
fn train(
    train_cfg: TrainConfig,
    out: &Path,
    quiet: bool,
    rep: &mut FlowReport,
) -> Result<Trainer, FlowError> {
    let mut t = Trainer::new(train_cfg).map_err(|e| FlowError::Config(e.to_string()))?;
    training::drive(&mut t, &out.join("train"), quiet)
        .map_err(|e| stage_err("train")(e.to_string()))?;
    rep.training = t.history.clone();
    rep.baseline = t.history.last().and_then(|m| m.baseline);
    Ok(t)
}

/// 2. Export: calibrate, compare activation widths, write the model.
fn export(
    config: &FlowConfig,
    trainer: &mut Trainer,
    out: &Path,
    rep: &mut FlowReport,
) -> Result<QuantizedModel, FlowError> {
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
    if let Err(e) =
        training::ptq_chart(&rep.ptq, trainer.task.name()).save(&out.join("accuracy_vs_bits.png"))
    {
        eprintln!("warning: no accuracy plot: {e}");
    }
    Ok(exp.model)
}

/// The model section of the flow report.
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

/// 3. Co-simulation on test sequences, and VCD comparisons of one sequence.
fn co_simulate(
    config: &FlowConfig,
    model: &QuantizedModel,
    opts: &CoreOptions,
    seqs: &[Sequence],
    out: &Path,
    rep: &mut FlowReport,
) -> Result<(), FlowError> {
    let hw = &config.hardware;
    let err = stage_err("co-simulate");
    let cfg = CoreConfig::new(model, opts).map_err(|e| err(e.to_string()))?;
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
        match sim.missing_tool() {
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
    // VCDs of one sequence from every simulator there is, first: Verilator's build for them
    // (with tracing) then serves the runs without VCDs too, where the other order builds twice.
    let one = &seqs[..1];
    let vcd_sims: Vec<Simulator> = [Simulator::Golden, Simulator::RustHdl]
        .into_iter()
        .chain(installed)
        .collect();
    let vdir = out.join("vcd");
    cosim::cosimulate(model, opts, one, &vcd_sims, &vdir, &cache, true)
        .map_err(|e| err(e.to_string()))?;
    for (sims, count) in runs {
        let part = &seqs[..count.min(seqs.len())];
        let rows = cosim::cosimulate(model, opts, part, &sims, &out.join("cosim"), &cache, false)
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
    let rtl = vdir.join("rust-hdl-rtl.vcd");
    qornn_hdl::harness::run(
        model,
        opts,
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
            // The documented trace (qornn.valid, seq, step, x_j, h_i, y_k), each simulator's
            // from the values its own testbench sampled; every signal must pair.
            pairs.push((
                format!("golden trace vs {s} trace: every documented signal on qornn.valid"),
                vdir.join("golden.vcd"),
                vdir.join(format!("{s}-trace.vcd")),
                DiffOptions::default(),
            ));
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
}

/// 4. The Verilog of the simulated core.
fn verilog(model: &QuantizedModel, opts: &CoreOptions, out: &Path) -> Result<(), FlowError> {
    let text = qornn_hdl::verilog::emit(model, opts, qornn_hdl::verilog::DEFAULT_TOP)
        .map_err(|e| stage_err("verilog")(e.to_string()))?;
    let path = out.join("core.v");
    qornn_sim::atomic::write(&path, text.as_bytes())
        .map_err(|source| FlowError::Io { path, source })
}
