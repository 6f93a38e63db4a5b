//! The golden model: the integer recurrence of `docs/fixed-point.md`, fast and exact.
//!
//! [`Golden`] flattens a validated [`QuantizedModel`] into row-major `i32` codes once; each step
//! is then two small integer matrix-vector products, the activation and the requantiser, with
//! no floating point and no allocation. When the validated accumulator width is at most 32 bits
//! the dot products accumulate in `i32` (the width analysis proves every partial sum fits),
//! which vectorises twice as wide as `i64`.

use crate::fixed::{requantize, Bits};
use crate::model::{ModelError, QuantizedModel};
use crate::sequence::Sequence;
use crate::trace::Trace;

/// A validated model, laid out for the integer recurrence.
#[derive(Debug, Clone)]
pub struct Golden {
    pub(crate) n: usize,
    pub(crate) m: usize,
    pub(crate) d: usize,
    pub(crate) w: Vec<i32>,
    pub(crate) u: Vec<i32>,
    pub(crate) v: Vec<i32>,
    pub(crate) b: Vec<i64>,
    pub(crate) c: Vec<i64>,
    pub(crate) beta: Option<Vec<i64>>,
    pub(crate) w_shift: u32,
    pub(crate) u_shift: u32,
    pub(crate) multiplier: i64,
    pub(crate) shift: u32,
    pub(crate) activation_bits: Bits,
    pub(crate) input_bits: Bits,
    pub(crate) narrow_hidden: bool,
    pub(crate) narrow_output: bool,
}

/// Scratch state of one sequence: the two halves of the ping-pong hidden buffer.
#[derive(Debug, Clone)]
pub struct State {
    h: Vec<i32>,
    next: Vec<i32>,
}

impl State {
    /// The current hidden state h_t.
    pub fn hidden(&self) -> &[i32] {
        &self.h
    }
}

fn flatten(rows: &[Vec<i64>]) -> Vec<i32> {
    rows.iter().flatten().map(|&c| c as i32).collect()
}

/// Σ a·b, accumulated in i32: only called where the width analysis proved it fits.
#[inline]
fn dot32(a: &[i32], b: &[i32]) -> i64 {
    a.iter()
        .zip(b)
        .fold(0i32, |s, (&x, &y)| s.wrapping_add(x.wrapping_mul(y))) as i64
}

#[inline]
fn dot64(a: &[i32], b: &[i32]) -> i64 {
    a.iter()
        .zip(b)
        .fold(0i64, |s, (&x, &y)| s + x as i64 * y as i64)
}

impl Golden {
    /// Validate `model` and lay it out for simulation.
    pub fn new(model: &QuantizedModel) -> Result<Self, ModelError> {
        model.validate()?;
        let bits = model.bits;
        Ok(Golden {
            n: model.shape.hidden,
            m: model.shape.input,
            d: model.shape.output,
            w: flatten(&model.w),
            u: flatten(&model.u),
            v: flatten(&model.v),
            b: model.b.clone(),
            c: model.c.clone(),
            beta: model.modrelu_bias().map(<[i64]>::to_vec),
            w_shift: model.alignment.w_shift,
            u_shift: model.alignment.u_shift,
            multiplier: model.requant.multiplier,
            shift: model.requant.shift,
            activation_bits: bits.activation,
            input_bits: bits.input,
            narrow_hidden: bits.accumulator.get() <= 32,
            narrow_output: bits.output_accumulator.get() <= 32,
        })
    }

    /// Hidden length n.
    pub fn hidden(&self) -> usize {
        self.n
    }

    /// Input length m.
    pub fn input(&self) -> usize {
        self.m
    }

    /// Output length d.
    pub fn output(&self) -> usize {
        self.d
    }

    /// The input code width.
    pub fn input_bits(&self) -> Bits {
        self.input_bits
    }

    /// A fresh state, h₀ = 0.
    pub fn start(&self) -> State {
        State {
            h: vec![0; self.n],
            next: vec![0; self.n],
        }
    }

    /// A state holding a given h (length n), e.g. to check one step of the spec by hand.
    pub fn state_with(&self, h: &[i32]) -> State {
        assert_eq!(h.len(), self.n, "hidden state of the wrong length");
        State {
            h: h.to_vec(),
            next: vec![0; self.n],
        }
    }

    /// One recurrent step: `state` goes from h_{t-1} to h_t. The input codes must be in range
    /// (a [`Sequence`] checked against this model guarantees it).
    pub fn step(&self, state: &mut State, x: &[i32]) {
        debug_assert_eq!(x.len(), self.m);
        let dot = if self.narrow_hidden { dot32 } else { dot64 };
        for i in 0..self.n {
            let wh = dot(&self.w[i * self.n..(i + 1) * self.n], &state.h);
            let ux = dot(&self.u[i * self.m..(i + 1) * self.m], x);
            let acc = (wh << self.w_shift) + (ux << self.u_shift) + self.b[i];
            let a = match &self.beta {
                None => acc.max(0),
                Some(beta) => acc.signum() * (acc.abs() + beta[i]).max(0),
            };
            state.next[i] = requantize(a, self.multiplier, self.shift, self.activation_bits) as i32;
        }
        std::mem::swap(&mut state.h, &mut state.next);
    }

    /// The output `y = V·h + c` of the current state, written into `y` (length d).
    pub fn output_into(&self, state: &State, y: &mut [i64]) {
        let dot = if self.narrow_output { dot32 } else { dot64 };
        for (k, yk) in y.iter_mut().enumerate() {
            *yk = dot(&self.v[k * self.n..(k + 1) * self.n], &state.h) + self.c[k];
        }
    }

    /// Run a whole sequence from h₀ = 0 and keep every h_t and y_t.
    pub fn run(&self, seq: &Sequence) -> Trace {
        let mut trace = Trace::with_capacity(self.n, self.d, seq.steps());
        let mut state = self.start();
        let mut y = vec![0i64; self.d];
        for t in 0..seq.steps() {
            self.step(&mut state, seq.step(t));
            self.output_into(&state, &mut y);
            trace.push(&state.h, &y);
        }
        trace
    }

    /// Run a whole sequence and return only the last output y_T (for classification).
    pub fn run_last_output(&self, seq: &Sequence) -> Vec<i64> {
        let mut state = self.start();
        for t in 0..seq.steps() {
            self.step(&mut state, seq.step(t));
        }
        let mut y = vec![0i64; self.d];
        self.output_into(&state, &mut y);
        y
    }

    /// Run many sequences, split over `threads` worker threads; results keep input order.
    pub fn run_batch(&self, seqs: &[Sequence], threads: usize) -> Vec<Trace> {
        parallel_map(seqs, threads, |s| self.run(s))
    }
}

/// Map `f` over `items` on up to `threads` scoped threads, keeping the order.
pub fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        return items.iter().map(&f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().map(&f).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a golden worker thread panicked"))
            .collect()
    })
}
