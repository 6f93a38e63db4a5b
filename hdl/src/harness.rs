//! Drive a core in the rust-hdl simulator from a model and input sequences, and return the
//! same per-step traces as the golden model (plus the cycles each step took).

use crate::config::{CoreOptions, HdlError};
use crate::core::QornnCore;
use qornn_sim::{QuantizedModel, Sequence, Trace};
use rust_hdl::prelude::*;
use std::io::Write;
use std::path::PathBuf;

/// Optional files a run writes.
#[derive(Debug, Clone, Default)]
pub struct Outputs {
    /// The per-step trace as VCD with the documented names (scope `qornn`; `valid`, `seq`,
    /// `step`, `x_j`, `h_i`, `y_k`), comparable with `qornn vcd-diff`.
    pub trace_vcd: Option<PathBuf>,
    /// rust-hdl's own VCD of every signal of the core, clock by clock (large and slow).
    pub rtl_vcd: Option<PathBuf>,
}

/// What a simulation produced.
#[derive(Debug, Clone)]
pub struct HdlRun {
    /// One trace per sequence.
    pub traces: Vec<Trace>,
    /// The core's own count of clocks per step (`step_cycles`), every step in order.
    pub step_cycles: Vec<u64>,
    /// Clocks simulated in all.
    pub total_cycles: u64,
}

/// A core in the simulator, driven by a plain loop (faster than rust-hdl's threaded testbench).
pub struct Driver<W: Write> {
    /// The core.
    pub core: QornnCore,
    cycles: u64,
    vcd: Option<VcdState<W>>,
}

struct VcdState<W: Write> {
    probe: Option<rust_hdl::core::vcd_probe::VCDProbe<W>>,
    time: u64,
}

impl<W: Write> Driver<W> {
    /// Wrap a built core, optionally recording rust-hdl's VCD into `vcd`.
    pub fn new(core: QornnCore, vcd: Option<W>) -> Self {
        let vcd = vcd.map(|w| VcdState {
            probe: Some(write_vcd_header(w, &core)),
            time: 0,
        });
        Driver {
            core,
            cycles: 0,
            vcd,
        }
    }

    fn settle(&mut self) -> Result<(), HdlError> {
        if !simulate(&mut self.core, 100) {
            return Err(HdlError::Stuck("the logic does not settle".into()));
        }
        if let Some(v) = &mut self.vcd {
            if let Some(mut probe) = v.probe.take() {
                probe
                    .timestamp(v.time)
                    .map_err(|e| HdlError::Stuck(format!("VCD: {e}")))?;
                v.probe = Some(write_vcd_change(probe, &self.core));
            }
            v.time += 5_000;
        }
        Ok(())
    }

    /// Settle the inputs just driven (no clock edge).
    pub fn eval(&mut self) -> Result<(), HdlError> {
        self.settle()
    }

    /// One clock: rising edge, then falling edge.
    pub fn tick(&mut self) -> Result<(), HdlError> {
        self.core.clock.next = Clock { clk: true };
        self.settle()?;
        self.core.clock.next = Clock { clk: false };
        self.settle()?;
        self.cycles += 1;
        Ok(())
    }

    /// Clocks so far.
    pub fn cycles(&self) -> u64 {
        self.cycles
    }

    /// Hold reset for two clocks.
    pub fn reset(&mut self) -> Result<(), HdlError> {
        self.core.reset.set_bool(true);
        self.tick()?;
        self.tick()?;
        self.core.reset.set_bool(false);
        self.eval()
    }

    /// Run one step: offer x (start-of-sequence flag `start`), wait for y_t, take it.
    /// Returns (h_t, y_t, step_cycles).
    pub fn step(&mut self, x: &[i32], start: bool) -> Result<(Vec<i32>, Vec<i64>, u64), HdlError> {
        let cfg = self.core.config().clone();
        let limit = 4 * cfg.cycles_per_step() + 1000;
        let kx = cfg.input_bits as usize;
        for (j, &v) in x.iter().enumerate() {
            self.core.x_data.set_field(j, kx, v as i64);
        }
        self.core.x_start.set_bool(start);
        self.core.x_valid.set_bool(true);
        self.eval()?;
        let mut waited = 0;
        while !self.core.x_ready.is_high() {
            self.tick()?;
            waited += 1;
            if waited > limit {
                return Err(HdlError::Stuck("x_ready never rose".into()));
            }
        }
        self.tick()?;
        self.core.x_valid.set_bool(false);
        self.core.x_start.set_bool(false);
        self.eval()?;
        let mut waited = 0;
        while !self.core.y_valid.is_high() {
            self.tick()?;
            waited += 1;
            if waited > limit {
                return Err(HdlError::Stuck(format!(
                    "y_valid did not rise within {limit} clocks"
                )));
            }
        }
        let ay = cfg.output_accumulator_bits as usize;
        let ka = cfg.activation_bits as usize;
        let y = (0..cfg.output)
            .map(|k| self.core.y_data.field(k, ay))
            .collect();
        let h = (0..cfg.hidden)
            .map(|i| self.core.h_data.field(i, ka) as i32)
            .collect();
        let cycles = self.core.step_cycles.val();
        self.core.y_ready.set_bool(true);
        // Settled (and dumped) before the edge that takes y_t, as a testbench drives it: a
        // VCD reader then sees y_ready high *at* that rising edge, not changing with it.
        self.eval()?;
        self.tick()?;
        self.core.y_ready.set_bool(false);
        self.eval()?;
        Ok((h, y, cycles))
    }

    /// Write a weight image through the load port (run-time weights), one byte every `gap`
    /// clocks (≥ 1), then the two clocks its last word takes to land.
    pub fn load(&mut self, image: &[u8], gap: usize) -> Result<(), HdlError> {
        for (i, &b) in image.iter().enumerate() {
            self.core.load_valid.set_bool(true);
            self.core.load_first.set_bool(i == 0);
            self.core.load_byte.set(b as u64);
            self.eval()?;
            self.tick()?;
            self.core.load_valid.set_bool(false);
            self.core.load_first.set_bool(false);
            self.eval()?;
            for _ in 1..gap {
                self.tick()?;
            }
        }
        self.tick()?;
        self.tick()
    }

    /// Finish the rust-hdl VCD, if any.
    pub fn finish(mut self) -> Result<(), HdlError> {
        if let Some(v) = &mut self.vcd {
            if let Some(mut probe) = v.probe.take() {
                probe
                    .timestamp(v.time)
                    .map_err(|e| HdlError::Stuck(format!("VCD: {e}")))?;
            }
        }
        Ok(())
    }
}

fn io_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> HdlError + '_ {
    move |source| HdlError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Simulate `seqs` on a core for `model` and return every h_t and y_t, like the golden model.
pub fn run(
    model: &QuantizedModel,
    opts: &CoreOptions,
    seqs: &[Sequence],
    outputs: &Outputs,
) -> Result<HdlRun, HdlError> {
    run_core(QornnCore::new(model, opts)?, model, seqs, outputs)
}

/// Like [`run`], on a core already built (e.g. one with an injected fault) for `model`.
pub fn run_core(
    core: QornnCore,
    model: &QuantizedModel,
    seqs: &[Sequence],
    outputs: &Outputs,
) -> Result<HdlRun, HdlError> {
    for (s, seq) in seqs.iter().enumerate() {
        seq.check(model, s)
            .map_err(|e| HdlError::Input(e.to_string()))?;
    }
    let run = match &outputs.rtl_vcd {
        Some(path) => {
            let mut result = None;
            qornn_sim::atomic::write_with(path, |w| {
                let mut d = Driver::new(core, Some(w));
                let r = drive(&mut d, seqs);
                d.finish().map_err(std::io::Error::other)?;
                result = Some(r);
                Ok(())
            })
            .map_err(io_err(path))?;
            result.unwrap_or_else(|| Err(HdlError::Stuck("no result".into())))?
        }
        None => {
            let mut d: Driver<std::io::Sink> = Driver::new(core, None);
            drive(&mut d, seqs)?
        }
    };
    if let Some(path) = &outputs.trace_vcd {
        qornn_sim::atomic::write_with(path, |w| {
            qornn_sim::trace::write_vcd(w, model, seqs, &run.traces)
        })
        .map_err(io_err(path))?;
    }
    Ok(run)
}

/// Build a core with run-time weights from `build` (its frame, and the weights it powers up
/// with), load `loaded`'s weights through the load port, and run `seqs`: the traces are
/// `loaded`'s when the loader works.
pub fn run_loaded(
    build: &QuantizedModel,
    opts: &CoreOptions,
    loaded: &QuantizedModel,
    seqs: &[Sequence],
) -> Result<HdlRun, HdlError> {
    // ROM options mean "the same core, loadable"; RAM and SPRAM stay as they are
    let opts = match opts.weights {
        crate::WeightStore::Rom => opts.clone().with_weights(crate::WeightStore::Ram),
        _ => opts.clone(),
    };
    let core = QornnCore::new(build, &opts)?;
    let image = crate::load::image(loaded, core.config())?;
    for (s, seq) in seqs.iter().enumerate() {
        seq.check(loaded, s)
            .map_err(|e| HdlError::Input(e.to_string()))?;
    }
    let mut d: Driver<std::io::Sink> = Driver::new(core, None);
    d.reset()?;
    d.load(&image, 2)?;
    steps(&mut d, seqs)
}

fn drive<W: Write>(d: &mut Driver<W>, seqs: &[Sequence]) -> Result<HdlRun, HdlError> {
    d.reset()?;
    steps(d, seqs)
}

fn steps<W: Write>(d: &mut Driver<W>, seqs: &[Sequence]) -> Result<HdlRun, HdlError> {
    let cfg = d.core.config().clone();
    let mut traces = Vec::with_capacity(seqs.len());
    let mut step_cycles = Vec::new();
    for seq in seqs {
        let mut trace = Trace::with_capacity(cfg.hidden, cfg.output, seq.steps());
        for t in 0..seq.steps() {
            let (h, y, c) = d.step(seq.step(t), t == 0)?;
            trace.push(&h, &y);
            step_cycles.push(c);
        }
        traces.push(trace);
    }
    Ok(HdlRun {
        traces,
        step_cycles,
        total_cycles: d.cycles(),
    })
}
