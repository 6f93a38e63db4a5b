//! Co-simulation of the emitted Verilog under Verilator (the fast path) and Icarus Verilog
//! (the second opinion), with testbenches generated here, collecting every step's outputs and
//! hidden state so they can be compared with the golden model.
//!
//! Both testbenches read the same stimulus file (`$readmemh` format, one word per step:
//! `{x_data, start}`, start-of-sequence in bit 0) and print one line per step:
//! `STEP <cycles> <y_data hex> <h_data hex>`. Verilator builds are cached by a hash of the
//! design, the harness, the Verilator version and its arguments (tracing only for VCDs), so
//! repeated runs do not rebuild, and a build that another process is making is waited for;
//! the Verilator runtime library and its precompiled headers are made once per cache and
//! used by every later design (`runtime`).

mod cache;
mod protocol;
mod runners;
mod runtime;
mod testbench;

pub use protocol::stimulus_memh;
pub use runners::{run_iverilog, run_verilator, verilator_build, Tracing, VerilatorBuild};

use crate::board::CorePorts;
use crate::external::ToolError;
use crate::report::Table;
use crate::simulator::{check_request, Simulator};
use qornn_hdl::harness::{self, Outputs};
use qornn_hdl::CoreOptions;
use qornn_sim::{Golden, QuantizedModel, Sequence, Trace};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use thiserror::Error;

/// A co-simulation could not run, or its output could not be read.
#[derive(Debug, Error)]
pub enum CosimError {
    /// A tool is missing or failed.
    #[error(transparent)]
    Tool(#[from] ToolError),
    /// A file could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The reason.
        source: std::io::Error,
    },
    /// The rust-hdl core could not be built or simulated.
    #[error(transparent)]
    Hdl(qornn_hdl::HdlError),
    /// An entry of the Verilator build cache cannot be used or made.
    #[error("{problem} (to clear the Verilator build cache, delete the folder {})", dir.display())]
    Cache {
        /// The cache entry.
        dir: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The request does not make sense (an unknown simulator, an invalid model).
    #[error("{0}")]
    Usage(String),
    /// The simulation's output is not what the testbench prints.
    #[error("cannot read the {sim} output: {problem}")]
    Output {
        /// The simulator.
        sim: &'static str,
        /// What is wrong.
        problem: String,
    },
}

/// The debug port that shows h_t, when the core has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HiddenPort {
    /// Port name (n codes of `bits`, element 0 in the low bits).
    pub name: String,
    /// n.
    pub hidden: usize,
    /// Bits per code.
    pub bits: u32,
}

/// The design under test.
#[derive(Debug, Clone)]
pub struct Dut {
    /// Self-contained Verilog of the core.
    pub verilog: String,
    /// Its streaming ports.
    pub ports: CorePorts,
    /// Its h_t debug port.
    pub hidden: Option<HiddenPort>,
}

impl Dut {
    /// Verilog text of an emitted qornn core (top module `top`) with its documented ports
    /// (`docs/core.md`) and its `h_data` debug port.
    pub fn qornn_core(verilog: String, top: &str, cfg: &qornn_hdl::CoreConfig) -> Dut {
        Dut {
            verilog,
            ports: CorePorts::qornn_core(top, cfg),
            hidden: Some(HiddenPort {
                name: "h_data".into(),
                hidden: cfg.hidden,
                bits: cfg.activation_bits,
            }),
        }
    }
}

/// The core emitted for `model` as a design under test.
pub fn core_dut(
    model: &qornn_sim::QuantizedModel,
    opts: &qornn_hdl::CoreOptions,
    top: &str,
) -> Result<Dut, qornn_hdl::HdlError> {
    let cfg = qornn_hdl::CoreConfig::new(model, opts)?;
    let verilog = qornn_hdl::verilog::emit(model, opts, top)?;
    Ok(Dut::qornn_core(verilog, top, &cfg))
}

/// What one simulator produced.
#[derive(Debug, Clone)]
pub struct CosimRun {
    /// One trace per sequence (h_t empty when the core has no hidden port).
    pub traces: Vec<Trace>,
    /// Clock cycles spent on each step (from accepting x_t to presenting y_t).
    pub cycles: Vec<u64>,
    /// Total simulated cycles.
    pub total_cycles: u64,
    /// Wall time of the simulation itself (not the build).
    pub wall: Duration,
    /// Wall time of the build (zero when the cache had it).
    pub build: Duration,
    /// The Verilator executable that ran, in its build cache folder (`None` for Icarus, whose
    /// compile is not cached).
    pub executable: Option<std::path::PathBuf>,
}

/// Time a closure (for callers that run the golden or rust-hdl simulations beside these).
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

/// One simulator's row of the table.
pub struct SimResult {
    /// The simulator.
    pub sim: Simulator,
    /// Steps simulated.
    pub steps: usize,
    /// Clock cycles in all (none for the golden model).
    pub cycles: Option<u64>,
    /// Wall time of the simulation.
    pub wall: Duration,
    /// The first difference from the golden model, if any.
    pub mismatch: Option<String>,
}

/// Run the chosen simulators on `seqs` and compare each with the golden model.
pub fn cosimulate(
    model: &QuantizedModel,
    opts: &CoreOptions,
    seqs: &[Sequence],
    sims: &[Simulator],
    out: &Path,
    cache: &Path,
    vcd: bool,
) -> Result<Vec<SimResult>, CosimError> {
    let steps: usize = seqs.iter().map(|s| s.steps()).sum();
    // Everything that would make the verdict vacuous, or stop half-way, is refused up front.
    check_request(sims, steps).map_err(|e| CosimError::Usage(e.to_string()))?;
    std::fs::create_dir_all(out).map_err(|source| CosimError::Io {
        path: out.to_owned(),
        source,
    })?;
    let golden = Golden::new(model).map_err(|e| CosimError::Usage(e.to_string()))?;
    let (reference, golden_wall) = timed(|| golden.run_batch(seqs, 2));
    let vcd_path = |name: &str| vcd.then(|| out.join(format!("{name}.vcd")));
    let compare = |traces: &[Trace]| -> Option<String> {
        if traces.len() != reference.len() {
            return Some(format!(
                "{} sequences instead of {}",
                traces.len(),
                reference.len()
            ));
        }
        reference
            .iter()
            .zip(traces)
            .enumerate()
            .find_map(|(s, (g, t))| {
                g.first_difference(t)
                    .map(|d| format!("sequence {s}, {d} (golden vs this)"))
            })
    };
    let mut rows = Vec::new();
    for &sim in sims {
        eprintln!(
            "cosim: {sim} over {} sequences, {steps} steps …",
            seqs.len()
        );
        let row = match sim {
            Simulator::Golden => {
                if let Some(p) = vcd_path("golden") {
                    write_trace_vcd(&p, model, seqs, &reference)?;
                }
                SimResult {
                    sim,
                    steps,
                    cycles: None,
                    wall: golden_wall,
                    mismatch: None,
                }
            }
            Simulator::RustHdl => {
                let outputs = Outputs {
                    trace_vcd: vcd_path("rust-hdl"),
                    rtl_vcd: None,
                };
                let (run, wall) = timed(|| harness::run(model, opts, seqs, &outputs));
                let run = run.map_err(CosimError::Hdl)?;
                SimResult {
                    sim,
                    steps,
                    cycles: Some(run.total_cycles),
                    wall,
                    mismatch: compare(&run.traces),
                }
            }
            Simulator::Verilator | Simulator::Iverilog => {
                let dut = core_dut(model, opts, qornn_hdl::verilog::DEFAULT_TOP)
                    .map_err(CosimError::Hdl)?;
                let name = sim.name();
                let work = out.join(name);
                let run = if sim == Simulator::Verilator {
                    run_verilator(&dut, seqs, cache, &work, vcd_path(name).as_deref())?
                } else {
                    run_iverilog(&dut, seqs, &work, vcd_path(name).as_deref())?
                };
                // Beside the circuit dump, the trace VCD under the documented names, from the
                // h_data and y_data this simulator's testbench sampled at each y_valid.
                if let Some(p) = vcd_path(&format!("{name}-trace")) {
                    write_trace_vcd(&p, model, seqs, &run.traces)?;
                }
                SimResult {
                    sim,
                    steps,
                    cycles: Some(run.total_cycles),
                    wall: run.wall,
                    mismatch: compare(&run.traces),
                }
            }
        };
        rows.push(row);
    }
    Ok(rows)
}

/// Write `traces` as the documented trace VCD (`docs/traces.md`) at `path`, atomically.
fn write_trace_vcd(
    path: &Path,
    model: &QuantizedModel,
    seqs: &[Sequence],
    traces: &[Trace],
) -> Result<(), CosimError> {
    qornn_sim::atomic::write_with(path, |w| {
        qornn_sim::trace::write_vcd(w, model, seqs, traces)
    })
    .map_err(|source| CosimError::Io {
        path: path.to_owned(),
        source,
    })
}

/// The results as a Markdown table.
pub fn table(rows: &[SimResult]) -> String {
    let mut t = Table::new(&[
        "simulator",
        "steps",
        "cycles",
        "cycles/step",
        "wall time",
        "vs golden",
    ]);
    for r in rows {
        t.row(vec![
            r.sim.to_string(),
            r.steps.to_string(),
            r.cycles.map_or("—".into(), |c| c.to_string()),
            r.cycles.map_or("—".into(), |c| {
                format!("{:.1}", c as f64 / r.steps.max(1) as f64)
            }),
            format!("{:.3} s", r.wall.as_secs_f64()),
            match &r.mismatch {
                None if r.sim == Simulator::Golden => "(the reference)".into(),
                None => "equal".into(),
                Some(m) => format!("**MISMATCH** {m}"),
            },
        ]);
    }
    t.to_markdown()
}
