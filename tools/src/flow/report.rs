//! What the flow found: the report's data (`report.json`) and its Markdown and HTML.

use super::*;
use crate::report::{grouped, write_report, Table};
use crate::synth::{CoreFacts, Resource, SynthReport};
use crate::training;
use qornn_quant::train::{EpochMetrics, PtqRow};
use serde::Serialize;
use std::path::Path;

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

pub(super) fn write_flow_report(out: &Path, rep: &FlowReport) -> std::io::Result<()> {
    write_report(out, "report", "qornn flow report", rep, &markdown(rep, out)).map(|_| ())
}
