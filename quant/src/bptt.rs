//! The recurrent network's forward pass and hand-written backpropagation through time.
//!
//! `h_t = σ(W h_{t−1} + U x_t + b)`, `y_t = V h_t + c`, h₀ = 0, σ = ReLU or modReLU
//! (`sign(z)·relu(|z| + β)`, one β per unit). A batch is split over worker threads, each with
//! its own [`Workspace`] (allocated once, reused: nothing is allocated in the time loop).
//! The layout keeps every state: `H` is n × ((T+1)·B), block t (B columns) holds h_t of the
//! worker's B sequences. Only the recurrent product `W·h_{t−1}` (forward) and `Wᵀ·δ_{t+1}`
//! (backward) run per step; U·x, the outputs, and every weight gradient are each one large
//! matrix product over all steps.
//!
//! Both σ are recovered from h alone: ReLU is active where h > 0, modReLU where h ≠ 0, and
//! then `dσ/dz = 1`, `dσ/dβ = sign(h)`. So no pre-activation is stored.

use crate::real::{flush_denormals, gemm, view, view_mut, Real};
use crate::tensors::{reduce_shares, Tensors};
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// The hidden activation σ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// `max(z, 0)`.
    Relu,
    /// `sign(z)·max(|z| + β, 0)` with a learnt β per hidden unit.
    Modrelu,
}

impl Activation {
    /// All activations with their names in configuration files.
    pub const ALL: [(Activation, &'static str); 2] =
        [(Activation::Relu, "relu"), (Activation::Modrelu, "modrelu")];
}

crate::names::named_enum!(Activation, "activation");

/// Where the network is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Readout {
    /// An output at every step (copy task, language modelling).
    Every,
    /// Only after the last step (classification, adding task).
    Last,
}

/// The training loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LossKind {
    /// Softmax cross-entropy against class labels.
    CrossEntropy,
    /// Mean squared error against real targets.
    Mse,
}

/// Sizes and structure of a network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetShape {
    /// Hidden units n.
    pub n: usize,
    /// Inputs m.
    pub m: usize,
    /// Outputs d.
    pub d: usize,
    /// σ.
    pub activation: Activation,
    /// Output at every step or only the last.
    pub readout: Readout,
    /// The loss.
    pub loss: LossKind,
}

impl NetShape {
    /// Trainable parameters: `n² + n·m + n + d·n + d` (W, U, b, V, c), plus the n modReLU
    /// biases β with modReLU (ReLU has none).
    pub fn param_count(&self) -> usize {
        let (n, m, d) = (self.n, self.m, self.d);
        let beta = match self.activation {
            Activation::Modrelu => n,
            Activation::Relu => 0,
        };
        n * n + n * m + n + d * n + d + beta
    }
}

/// The weights one forward pass uses (already orthogonalised and fake-quantised).
/// Matrices are column-major: W n×n, U n×m, V d×n.
#[derive(Debug, Clone, Copy)]
pub struct Weights<'a, R> {
    /// Recurrent matrix.
    pub w: &'a [R],
    /// Input matrix.
    pub u: &'a [R],
    /// Hidden bias.
    pub b: &'a [R],
    /// modReLU bias (ignored with ReLU).
    pub beta: &'a [R],
    /// Output matrix.
    pub v: &'a [R],
    /// Output bias.
    pub c: &'a [R],
}

/// Which of the ORNN's six parameter tensors: the name a training step uses for each (an
/// optimiser slot, a learning-rate factor, a projection), instead of a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParamId {
    /// The recurrent matrix W (n×n).
    W,
    /// The input matrix U (n×m).
    U,
    /// The hidden bias b.
    B,
    /// The modReLU bias β (unused with ReLU).
    Beta,
    /// The output matrix V (d×n).
    V,
    /// The output bias c.
    C,
}

impl ParamId {
    /// All six, in the order of [`Params::parts`].
    pub const ALL: [ParamId; 6] = [
        ParamId::W,
        ParamId::U,
        ParamId::B,
        ParamId::Beta,
        ParamId::V,
        ParamId::C,
    ];

    /// Its position in [`Params::parts`] (and its optimiser slot).
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The six tensors of an ORNN, column-major (W n×n, U n×m, V d×n, biases as vectors): the
/// latent parameters of a model, and the gradients of the loss with respect to them, are the
/// same type.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Params<R> {
    /// W (its latent, for the Björck and projUNN parametrisations).
    pub w: Vec<R>,
    /// U.
    pub u: Vec<R>,
    /// b.
    pub b: Vec<R>,
    /// β.
    pub beta: Vec<R>,
    /// V.
    pub v: Vec<R>,
    /// c.
    pub c: Vec<R>,
}

/// Gradients: dL/d of each of [`Params`]' tensors, in the same layouts.
pub type Grads<R> = Params<R>;

impl<R: Real> Params<R> {
    /// Zeros for a network of this shape.
    pub fn zeros(s: &NetShape) -> Self {
        Params {
            w: vec![R::zero(); s.n * s.n],
            u: vec![R::zero(); s.n * s.m],
            b: vec![R::zero(); s.n],
            beta: vec![R::zero(); s.n],
            v: vec![R::zero(); s.d * s.n],
            c: vec![R::zero(); s.d],
        }
    }
}

impl<R: Real> Tensors<R, 6> for Params<R> {
    fn parts(&self) -> [&Vec<R>; 6] {
        [&self.w, &self.u, &self.b, &self.beta, &self.v, &self.c]
    }

    fn parts_mut(&mut self) -> [&mut Vec<R>; 6] {
        [
            &mut self.w,
            &mut self.u,
            &mut self.b,
            &mut self.beta,
            &mut self.v,
            &mut self.c,
        ]
    }
}

/// Targets of a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Targets {
    /// A class per (sequence, step) with [`Readout::Every`] (index `s·T + t`), or per sequence
    /// with [`Readout::Last`]; a negative label is ignored by the loss.
    Classes {
        /// The labels.
        labels: Vec<i32>,
        /// Steps before this one do not count toward the accuracy (copy task: only the copied
        /// symbols count).
        score_from: usize,
    },
    /// d real values per (sequence, step) or per sequence.
    Values(Vec<f32>),
}

/// A batch of equally long sequences.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Steps T.
    pub steps: usize,
    /// Sequences B.
    pub size: usize,
    /// Inputs per step m.
    pub width: usize,
    /// Inputs, `[sequence][step][input]`.
    pub x: Vec<f32>,
    /// What the outputs should be.
    pub targets: Targets,
}

impl Batch {
    /// Number of loss terms (labels that count, or real values).
    pub fn loss_terms(&self) -> usize {
        match &self.targets {
            Targets::Classes { labels, .. } => labels.iter().filter(|&&l| l >= 0).count(),
            Targets::Values(v) => v.len(),
        }
    }
}

/// Counts from a pass over a batch.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Stats {
    /// Sum of the loss terms (cross-entropy in nats, or squared errors).
    pub loss_sum: f64,
    /// Number of loss terms.
    pub loss_terms: usize,
    /// Correct argmax predictions among the scored positions.
    pub correct: usize,
    /// Scored positions.
    pub scored: usize,
    /// max |h| over all states (when asked for).
    pub max_abs_h: f64,
}

impl Stats {
    /// Mean loss.
    pub fn loss(&self) -> f64 {
        self.loss_sum / self.loss_terms.max(1) as f64
    }

    /// Accuracy over scored positions (0 when none).
    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.scored.max(1) as f64
    }

    /// Combine two.
    pub fn merge(&mut self, o: &Stats) {
        self.loss_sum += o.loss_sum;
        self.loss_terms += o.loss_terms;
        self.correct += o.correct;
        self.scored += o.scored;
        self.max_abs_h = self.max_abs_h.max(o.max_abs_h);
    }
}

/// Fake quantisation of the hidden state during a forward pass: `h ← s·sat(rhe(h/s))` with
/// the contract's saturation range (`[0, 2^(k−1)−1]` with ReLU, the full range with modReLU).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ActQuant {
    /// The real value of one hidden code.
    pub scale: f64,
    /// Hidden-code width.
    pub bits: u32,
}

/// What a pass computes.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PassOptions {
    /// Run the backward pass and fill the gradients.
    pub backward: bool,
    /// Fake-quantise the hidden state.
    pub act_quant: Option<ActQuant>,
    /// Record max |h|.
    pub calibrate: bool,
}

/// The bytes one forward + backward pass over `size` sequences of `steps` steps allocates: the
/// batch's inputs and targets, and a workspace's inputs, states, deltas and outputs (every
/// buffer is `R`, 4 or 8 bytes). Training checks this before allocating anything.
pub fn pass_bytes(s: &NetShape, steps: usize, size: usize, real_bytes: usize) -> u64 {
    use qornn_sim::memory::product;
    let (n, m, d) = (s.n as u64, s.m as u64, s.d as u64);
    let (t, b, r) = (steps as u64, size as u64, real_bytes as u64);
    let out_cols = match s.readout {
        Readout::Every => product(&[t, b]),
        Readout::Last => b,
    };
    let terms = [
        product(&[2, m, t, b, r]), // the batch's x and the workspace's copy
        product(&[n, t.saturating_add(1), b, r]), // h_0 … h_T
        product(&[n, t, b, r]),    // δ
        product(&[3, d, out_cols, r]), // y, dy and the targets
    ];
    terms.iter().fold(0u64, |a, &x| a.saturating_add(x))
}

/// One worker's buffers.
#[derive(Debug, Clone, Default)]
pub struct Workspace<R> {
    steps: usize,
    size: usize,
    x: Vec<R>,
    h: Vec<R>,
    delta: Vec<R>,
    y: Vec<R>,
    dy: Vec<R>,
    /// Gradients of this worker's share (scaled for the whole batch).
    pub grads: Grads<R>,
    /// Counts of this worker's share.
    pub stats: Stats,
}

impl<R: Real> Workspace<R> {
    fn prepare(&mut self, s: &NetShape, steps: usize, size: usize) {
        let out_cols = match s.readout {
            Readout::Every => steps * size,
            Readout::Last => size,
        };
        let grow = |v: &mut Vec<R>, len: usize| {
            if v.len() != len {
                v.clear();
                v.resize(len, R::zero());
            }
        };
        grow(&mut self.x, s.m * steps * size);
        grow(&mut self.h, s.n * (steps + 1) * size);
        grow(&mut self.delta, s.n * steps * size);
        grow(&mut self.y, s.d * out_cols);
        grow(&mut self.dy, s.d * out_cols);
        if self.grads.w.len() != s.n * s.n
            || self.grads.u.len() != s.n * s.m
            || self.grads.v.len() != s.d * s.n
        {
            self.grads = Grads::zeros(s);
        }
        self.steps = steps;
        self.size = size;
        self.stats = Stats::default();
    }

    /// The hidden states of the last pass: n × ((T+1)·B), block t = h_t.
    pub fn states(&self) -> &[R] {
        &self.h
    }

    /// The outputs of the last pass: d × (T·B) (every step) or d × B (last step).
    pub fn outputs(&self) -> &[R] {
        &self.y
    }
}

/// Run the forward (and optionally backward) pass of `range` of the batch's sequences in one
/// workspace. `scale` multiplies every loss term's gradient (1 / number of terms of the whole
/// batch, so the worker shares add up to the mean loss's gradient).
pub fn run_chunk<R: Real>(
    ws: &mut Workspace<R>,
    s: &NetShape,
    wts: &Weights<'_, R>,
    batch: &Batch,
    range: Range<usize>,
    scale: R,
    opt: PassOptions,
) {
    let (n, m, d) = (s.n, s.m, s.d);
    let steps = batch.steps;
    let bsz = range.len();
    ws.prepare(s, steps, bsz);
    let tb = steps * bsz;
    let nb = n * bsz;
    // gather x: column t·B + j
    for (j, g) in range.clone().enumerate() {
        for t in 0..steps {
            let src = &batch.x[(g * steps + t) * m..(g * steps + t + 1) * m];
            let dst = &mut ws.x[(t * bsz + j) * m..(t * bsz + j + 1) * m];
            dst.iter_mut()
                .zip(src)
                .for_each(|(d, &v)| *d = R::c(v as f64));
        }
    }
    forward(ws, s, wts, opt.act_quant);
    if opt.calibrate {
        ws.stats.max_abs_h = ws.h.iter().fold(0.0f64, |a, &v| a.max(v.f().abs()));
    }
    loss_and_dy(ws, s, batch, range, scale);
    if !opt.backward {
        return;
    }
    // δ starts as Vᵀ·dY
    match s.readout {
        Readout::Every => gemm(
            view_mut(&mut ws.delta, n, tb),
            false,
            view(wts.v, d, n).transpose(),
            view(&ws.dy, d, tb),
            R::one(),
        ),
        Readout::Last => {
            let last = (steps - 1) * nb;
            ws.delta[..last].iter_mut().for_each(|v| *v = R::zero());
            gemm(
                view_mut(&mut ws.delta[last..], n, bsz),
                false,
                view(wts.v, d, n).transpose(),
                view(&ws.dy, d, bsz),
                R::one(),
            );
        }
    }
    let wt = view(wts.w, n, n).transpose();
    for t in (1..=steps).rev() {
        // δ block t−1 belongs to h_t
        let (lo, hi) = ws.delta.split_at_mut(t * nb);
        let cur = &mut lo[(t - 1) * nb..];
        if t < steps {
            gemm(
                view_mut(cur, n, bsz),
                true,
                wt,
                view(&hi[..nb], n, bsz),
                R::one(),
            );
        }
        let h = &ws.h[t * nb..(t + 1) * nb];
        match s.activation {
            Activation::Relu => cur.iter_mut().zip(h).for_each(|(g, &hv)| {
                if hv <= R::zero() {
                    *g = R::zero();
                }
            }),
            Activation::Modrelu => cur.iter_mut().zip(h).for_each(|(g, &hv)| {
                if hv == R::zero() {
                    *g = R::zero();
                }
            }),
        }
    }
    let gr = &mut ws.grads;
    gemm(
        view_mut(&mut gr.w, n, n),
        false,
        view(&ws.delta, n, tb),
        view(&ws.h, n, tb).transpose(),
        R::one(),
    );
    gemm(
        view_mut(&mut gr.u, n, m),
        false,
        view(&ws.delta, n, tb),
        view(&ws.x, m, tb).transpose(),
        R::one(),
    );
    row_sums(&ws.delta, n, tb, &mut gr.b);
    gr.beta.iter_mut().for_each(|v| *v = R::zero());
    if s.activation == Activation::Modrelu {
        for col in 0..tb {
            let dcol = &ws.delta[col * n..(col + 1) * n];
            let hcol = &ws.h[(col + bsz) * n..(col + bsz + 1) * n];
            for i in 0..n {
                gr.beta[i] += dcol[i] * hcol[i].signum();
            }
        }
    }
    let (hout, ocols) = match s.readout {
        Readout::Every => (&ws.h[nb..], tb),
        Readout::Last => (&ws.h[steps * nb..], bsz),
    };
    gemm(
        view_mut(&mut gr.v, d, n),
        false,
        view(&ws.dy, d, ocols),
        view(hout, n, ocols).transpose(),
        R::one(),
    );
    row_sums(&ws.dy, d, ocols, &mut gr.c);
}

fn row_sums<R: Real>(a: &[R], rows: usize, cols: usize, out: &mut [R]) {
    out.iter_mut().for_each(|v| *v = R::zero());
    for col in a.chunks_exact(rows).take(cols) {
        out.iter_mut().zip(col).for_each(|(o, &v)| *o += v);
    }
}

fn forward<R: Real>(
    ws: &mut Workspace<R>,
    s: &NetShape,
    wts: &Weights<'_, R>,
    aq: Option<ActQuant>,
) {
    let (n, m, d) = (s.n, s.m, s.d);
    let (steps, bsz) = (ws.steps, ws.size);
    let tb = steps * bsz;
    let nb = n * bsz;
    ws.h[..nb].iter_mut().for_each(|v| *v = R::zero());
    // all U·x_t at once, plus b
    gemm(
        view_mut(&mut ws.h[nb..], n, tb),
        false,
        view(wts.u, n, m),
        view(&ws.x, m, tb),
        R::one(),
    );
    for col in ws.h[nb..].chunks_exact_mut(n) {
        col.iter_mut().zip(wts.b).for_each(|(v, &b)| *v += b);
    }
    let w = view(wts.w, n, n);
    let q = aq.map(|q| {
        let k = q.bits;
        let hi = ((1i64 << (k - 1)) - 1) as f64;
        let lo = match s.activation {
            Activation::Relu => 0.0,
            Activation::Modrelu => -((1i64 << (k - 1)) as f64),
        };
        (q.scale, lo, hi)
    });
    for t in 1..=steps {
        let (prev, cur) = ws.h.split_at_mut(t * nb);
        let cur = &mut cur[..nb];
        gemm(
            view_mut(cur, n, bsz),
            true,
            w,
            view(&prev[(t - 1) * nb..], n, bsz),
            R::one(),
        );
        match s.activation {
            Activation::Relu => cur.iter_mut().for_each(|v| *v = v.max(R::zero())),
            Activation::Modrelu => {
                for col in cur.chunks_exact_mut(n) {
                    col.iter_mut().zip(wts.beta).for_each(|(v, &be)| {
                        let a = (v.abs() + be).max(R::zero());
                        *v = if *v > R::zero() {
                            a
                        } else if *v < R::zero() {
                            -a
                        } else {
                            R::zero()
                        };
                    });
                }
            }
        }
        if let Some((sc, lo, hi)) = q {
            cur.iter_mut().for_each(|v| {
                let code = (v.f() / sc).round_ties_even().clamp(lo, hi);
                *v = R::c(code * sc);
            });
        }
    }
    match s.readout {
        Readout::Every => gemm(
            view_mut(&mut ws.y, d, tb),
            false,
            view(wts.v, d, n),
            view(&ws.h[nb..], n, tb),
            R::one(),
        ),
        Readout::Last => gemm(
            view_mut(&mut ws.y, d, bsz),
            false,
            view(wts.v, d, n),
            view(&ws.h[steps * nb..], n, bsz),
            R::one(),
        ),
    }
    for col in ws.y.chunks_exact_mut(d) {
        col.iter_mut().zip(wts.c).for_each(|(v, &c)| *v += c);
    }
}

/// Index of the largest value (lowest index on ties), as the contract's argmax.
pub fn argmax<R: PartialOrd + Copy>(y: &[R]) -> usize {
    let mut best = 0;
    for (k, v) in y.iter().enumerate() {
        if *v > y[best] {
            best = k;
        }
    }
    best
}

fn loss_and_dy<R: Real>(
    ws: &mut Workspace<R>,
    s: &NetShape,
    batch: &Batch,
    range: Range<usize>,
    scale: R,
) {
    let max_h = ws.stats.max_abs_h;
    ws.stats = output_loss(
        &ws.y,
        &mut ws.dy,
        s.d,
        s.readout,
        (ws.steps, ws.size),
        batch,
        range,
        scale,
    );
    ws.stats.max_abs_h = max_h;
}

/// The loss terms, accuracy counts and `dL/dy` (times `scale`) of the outputs `y` (d × T·B
/// with [`Readout::Every`], d × B with [`Readout::Last`]) of the sequences `range` of `batch`.
/// Shared by the ORNN and the LSTM, so that both report the same metrics.
#[allow(clippy::too_many_arguments)] // the outputs, their layout, and the batch share
pub(crate) fn output_loss<R: Real>(
    y: &[R],
    dy: &mut [R],
    d: usize,
    readout: Readout,
    (steps, bsz): (usize, usize),
    batch: &Batch,
    range: Range<usize>,
    scale: R,
) -> Stats {
    let cols = match readout {
        Readout::Every => steps * bsz,
        Readout::Last => bsz,
    };
    let mut st = Stats::default();
    for col in 0..cols {
        let (t, j) = match readout {
            Readout::Every => (col / bsz, col % bsz),
            Readout::Last => (steps - 1, col),
        };
        let g = range.start + j;
        let y = &y[col * d..(col + 1) * d];
        let dy = &mut dy[col * d..(col + 1) * d];
        match &batch.targets {
            Targets::Classes { labels, score_from } => {
                let label = match readout {
                    Readout::Every => labels[g * steps + t],
                    Readout::Last => labels[g],
                };
                if label < 0 {
                    dy.iter_mut().for_each(|v| *v = R::zero());
                    continue;
                }
                let label = label as usize;
                let mx = y.iter().fold(R::neg_infinity(), |a, &v| a.max(v));
                let mut z = R::zero();
                for (o, &v) in dy.iter_mut().zip(y) {
                    *o = (v - mx).exp();
                    z += *o;
                }
                st.loss_sum += (z.ln() + mx - y[label.min(d - 1)]).f();
                st.loss_terms += 1;
                for o in dy.iter_mut() {
                    *o = *o / z * scale;
                }
                if label < d {
                    dy[label] -= scale;
                }
                if t >= *score_from {
                    st.scored += 1;
                    if argmax(y) == label {
                        st.correct += 1;
                    }
                }
            }
            Targets::Values(vals) => {
                let base = match readout {
                    Readout::Every => (g * steps + t) * d,
                    Readout::Last => g * d,
                };
                for k in 0..d {
                    let e = y[k] - R::c(vals[base + k] as f64);
                    st.loss_sum += (e * e).f();
                    dy[k] = R::c(2.0) * e * scale;
                }
                st.loss_terms += d;
            }
        }
    }
    st
}

/// Split `size` sequences into contiguous shares, one per worker (at most `workers.len()`),
/// and run `f` on each share with its own worker: the first share on the calling thread, the
/// others on scoped threads. Returns how many workers ran (0 for an empty batch, when the
/// first worker still ran on the empty range). Shared by the ORNN's and the LSTM's engines.
pub(crate) fn run_shares<W: Send>(
    workers: &mut [W],
    size: usize,
    f: impl Fn(&mut W, Range<usize>) + Sync,
) -> usize {
    let threads = workers.len().max(1);
    let chunk = size.div_ceil(threads).max(1);
    let ranges: Vec<Range<usize>> = (0..threads)
        .map(|i| (i * chunk).min(size)..((i + 1) * chunk).min(size))
        .filter(|r| !r.is_empty())
        .collect();
    let used = ranges.len();
    flush_denormals();
    if used <= 1 {
        f(&mut workers[0], 0..size);
    } else {
        let (first, rest) = workers.split_at_mut(1);
        let f = &f;
        std::thread::scope(|scope| {
            for (ws, r) in rest.iter_mut().zip(ranges[1..].iter().cloned()) {
                scope.spawn(move || {
                    // the control register is per thread
                    flush_denormals();
                    f(ws, r);
                });
            }
            f(&mut first[0], ranges[0].clone());
        });
    }
    used
}

/// A batch runner: the batch is split over `threads` workers, each with its own workspace.
#[derive(Debug, Clone, Default)]
pub struct Engine<R> {
    workers: Vec<Workspace<R>>,
    threads: usize,
}

impl<R: Real> Engine<R> {
    /// A runner over `threads` threads (at least 1).
    pub fn new(threads: usize) -> Self {
        let threads = threads.max(1);
        Engine {
            workers: (0..threads).map(|_| Workspace::default()).collect(),
            threads,
        }
    }

    /// Threads used.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Run the batch; the gradients (when `opt.backward`) are those of the mean loss.
    pub fn run(
        &mut self,
        s: &NetShape,
        wts: &Weights<'_, R>,
        batch: &Batch,
        opt: PassOptions,
    ) -> (Stats, Option<&Grads<R>>) {
        let terms = batch.loss_terms().max(1);
        let scale = R::c(1.0 / terms as f64);
        let used = run_shares(&mut self.workers, batch.size, |ws, r| {
            run_chunk(ws, s, wts, batch, r, scale, opt)
        });
        let stats = reduce_shares(&mut self.workers, used, opt.backward, |ws| {
            (ws.stats, &mut ws.grads)
        });
        let grads = if opt.backward {
            Some(&self.workers[0].grads)
        } else {
            None
        };
        (stats, grads)
    }

    /// The first worker's workspace (its states and outputs, for inspection in tests).
    pub fn first_workspace(&self) -> &Workspace<R> {
        &self.workers[0]
    }
}
