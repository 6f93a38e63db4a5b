//! Per-step traces of the integer recurrence, as JSON and as VCD.
//!
//! The signal names are part of the contract (`docs/traces.md`): every simulator's harness
//! (golden, rust-hdl, Verilator, iverilog) writes its trace with the same names, so any two
//! traces can be compared with `qornn vcd-diff`.

use crate::fixed::Bits;
use crate::model::QuantizedModel;
use crate::sequence::Sequence;
use serde::Serialize;
use std::io::{self, Write};

/// Every h_t and y_t of one sequence, t = 1..T, row-major.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Trace {
    hidden: usize,
    output: usize,
    steps: usize,
    h: Vec<i32>,
    y: Vec<i64>,
}

impl Trace {
    /// An empty trace with room for `steps` steps.
    pub fn with_capacity(hidden: usize, output: usize, steps: usize) -> Self {
        Trace {
            hidden,
            output,
            steps: 0,
            h: Vec::with_capacity(hidden * steps),
            y: Vec::with_capacity(output * steps),
        }
    }

    /// Append one step's h_t and y_t.
    pub fn push(&mut self, h: &[i32], y: &[i64]) {
        assert_eq!((h.len(), y.len()), (self.hidden, self.output));
        self.h.extend_from_slice(h);
        self.y.extend_from_slice(y);
        self.steps += 1;
    }

    /// Number of steps.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// h_{t+1}, the state after the input of (0-based) step `t`.
    pub fn h(&self, t: usize) -> &[i32] {
        &self.h[t * self.hidden..(t + 1) * self.hidden]
    }

    /// y_{t+1}, the output after the input of (0-based) step `t`.
    pub fn y(&self, t: usize) -> &[i64] {
        &self.y[t * self.output..(t + 1) * self.output]
    }

    /// The first difference from `other`, or `None` when both are equal on every step.
    pub fn first_difference(&self, other: &Trace) -> Option<Difference> {
        let steps = self.steps().max(other.steps());
        for t in 0..steps {
            if t >= self.steps() || t >= other.steps() {
                return Some(Difference {
                    step: t,
                    signal: Signal::Length,
                    index: 0,
                    left: self.steps() as i64,
                    right: other.steps() as i64,
                });
            }
            let (a, b) = (self.h(t), other.h(t));
            if let Some(i) = (0..a.len().min(b.len())).find(|&i| a[i] != b[i]) {
                return Some(Difference {
                    step: t,
                    signal: Signal::Hidden,
                    index: i,
                    left: a[i] as i64,
                    right: b[i] as i64,
                });
            }
            let (a, b) = (self.y(t), other.y(t));
            if let Some(k) = (0..a.len().min(b.len())).find(|&k| a[k] != b[k]) {
                return Some(Difference {
                    step: t,
                    signal: Signal::Output,
                    index: k,
                    left: a[k],
                    right: b[k],
                });
            }
        }
        None
    }
}

/// Which value differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// h_t.
    Hidden,
    /// y_t.
    Output,
    /// The traces have different numbers of steps.
    Length,
}

/// The first place two traces disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Difference {
    /// 0-based step (the value is h_{step+1} / y_{step+1}).
    pub step: usize,
    /// Which signal.
    pub signal: Signal,
    /// Row of h or y.
    pub index: usize,
    /// Value in the first trace.
    pub left: i64,
    /// Value in the second trace.
    pub right: i64,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.signal {
            Signal::Length => write!(f, "lengths differ: {} vs {} steps", self.left, self.right),
            Signal::Hidden => write!(
                f,
                "step t={}: h_{} = {} vs {}",
                self.step + 1,
                self.index,
                self.left,
                self.right
            ),
            Signal::Output => write!(
                f,
                "step t={}: y_{} = {} vs {}",
                self.step + 1,
                self.index,
                self.left,
                self.right
            ),
        }
    }
}

/// The `format` tag of a JSON trace.
pub const TRACE_FORMAT: &str = "qornn.trace";

#[derive(Serialize)]
struct TraceStep<'a> {
    t: usize,
    x: &'a [i32],
    h: &'a [i32],
    y: &'a [i64],
}

/// Write the JSON trace of `seqs` and their `traces` (same order) to `out`, streaming one
/// step per line so that long traces never sit in memory twice.
pub fn write_json(
    out: &mut dyn Write,
    model: &QuantizedModel,
    seqs: &[Sequence],
    traces: &[Trace],
) -> io::Result<()> {
    let s = &model.shape;
    writeln!(
        out,
        "{{\"format\":\"{TRACE_FORMAT}\",\"version\":1,\"hidden\":{},\"input\":{},\"output\":{},\"sequences\":[",
        s.hidden, s.input, s.output
    )?;
    for (i, (seq, trace)) in seqs.iter().zip(traces).enumerate() {
        writeln!(out, "{}{{\"steps\":[", if i > 0 { "," } else { "" })?;
        for t in 0..trace.steps() {
            let step = TraceStep {
                t: t + 1,
                x: seq.step(t),
                h: trace.h(t),
                y: trace.y(t),
            };
            let sep = if t + 1 < trace.steps() { "," } else { "" };
            writeln!(out, "{}{sep}", serde_json::to_string(&step)?)?;
        }
        writeln!(out, "]}}")?;
    }
    writeln!(out, "]}}")
}

/// The VCD scope that holds the trace signals.
pub const VCD_SCOPE: &str = "qornn";

/// Write the trace as VCD with the documented names (`docs/traces.md`): in scope `qornn`,
/// `valid` pulses once per step; `seq`, `step`, `x_<j>`, `h_<i>`, `y_<k>` carry that step's
/// values. Step number s (counted over all sequences from 0) is at time 2s with `valid` = 1,
/// and `valid` drops at 2s + 1.
pub fn write_vcd(
    out: &mut dyn Write,
    model: &QuantizedModel,
    seqs: &[Sequence],
    traces: &[Trace],
) -> io::Result<()> {
    let mut w = vcd::Writer::new(out);
    w.timescale(1, vcd::TimescaleUnit::NS)?;
    w.add_module(VCD_SCOPE)?;
    let valid = w.add_wire(1, "valid")?;
    let seq_id = w.add_wire(32, "seq")?;
    let step_id = w.add_wire(32, "step")?;
    let bits = model.bits;
    let xs = (0..model.shape.input)
        .map(|j| w.add_wire(bits.input.get(), &format!("x_{j}")))
        .collect::<io::Result<Vec<_>>>()?;
    let hs = (0..model.shape.hidden)
        .map(|i| w.add_wire(bits.activation.get(), &format!("h_{i}")))
        .collect::<io::Result<Vec<_>>>()?;
    let ys = (0..model.shape.output)
        .map(|k| w.add_wire(bits.output_accumulator.get(), &format!("y_{k}")))
        .collect::<io::Result<Vec<_>>>()?;
    w.upscope()?;
    w.enddefinitions()?;
    // Values are written only when they change (VCD's own convention), the first step in full.
    let mut last: Vec<Option<i64>> = vec![None; 2 + xs.len() + hs.len() + ys.len()];
    let mut time = 0u64;
    for (s, (seq, trace)) in seqs.iter().zip(traces).enumerate() {
        for t in 0..trace.steps() {
            w.timestamp(time)?;
            w.change_scalar(valid, vcd::Value::V1)?;
            let values = [
                (seq_id, s as i64, Bits::new(32)),
                (step_id, t as i64 + 1, Bits::new(32)),
            ]
            .into_iter()
            .chain(
                xs.iter()
                    .zip(seq.step(t))
                    .map(|(id, &v)| (*id, v as i64, bits.input)),
            )
            .chain(
                hs.iter()
                    .zip(trace.h(t))
                    .map(|(id, &v)| (*id, v as i64, bits.activation)),
            )
            .chain(
                ys.iter()
                    .zip(trace.y(t))
                    .map(|(id, &v)| (*id, v, bits.output_accumulator)),
            );
            for ((id, v, width), seen) in values.zip(last.iter_mut()) {
                if *seen != Some(v) {
                    w.change_vector(id, vector(v, width))?;
                    *seen = Some(v);
                }
            }
            w.timestamp(time + 1)?;
            w.change_scalar(valid, vcd::Value::V0)?;
            time += 2;
        }
    }
    w.timestamp(time)?;
    w.flush()
}

/// The two's-complement bits of `v` at `width`, most significant first.
pub fn vector(v: i64, width: Bits) -> impl Iterator<Item = vcd::Value> {
    let k = width.get();
    (0..k).rev().map(move |b| {
        if (v >> b.min(63)) & 1 == 1 {
            vcd::Value::V1
        } else {
            vcd::Value::V0
        }
    })
}
