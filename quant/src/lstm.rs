//! A full-precision LSTM, the float reference the ORNNs are compared with (`--method lstm`).
//!
//! ```text
//! [i; f; g; o] = [σ; σ; tanh; σ](W·[h_{t−1}; x_t] + b)
//! c_t = f ⊙ c_{t−1} + i ⊙ g,   h_t = o ⊙ tanh(c_t),   y_t = V h_t + c,   h₀ = c₀ = 0
//! ```
//!
//! The readout, the losses, the batches and the metrics are the ORNN's ([`crate::bptt`]), so
//! every task runs unchanged. It is never quantised or exported.
//!
//! Layout (column-major, per worker, B sequences): `Z` is (n+m) × ((T+1)·B) and block t holds
//! `[h_t; x_{t+1}]`, the very operand of step t+1, so the four gates of the whole share are one
//! product `[4n × (n+m)]·[(n+m) × B]` per step, and dW is one product `dA·Zᵀ` over all steps.
//! The activated gates of step t (4n × B) are stored and overwritten in place by their
//! pre-activation gradients during the backward pass (they are not needed after that), and
//! the cell states are kept, n × ((T+1)·B). Only `W_hᵀ·dA_t` (W_h: the first n columns of W,
//! contiguous) runs per step backwards. Buffers are allocated once per shape and reused.

use crate::bptt::{output_loss, run_shares, Batch, LossKind, Readout, Stats};
use crate::real::{gemm, view, view_mut, Real};
use crate::tasks::{Split, Task};
use crate::tensors::{reduce_shares, Tensors};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// Sizes and structure of an LSTM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LstmShape {
    /// Hidden (and cell) units n.
    pub n: usize,
    /// Inputs m.
    pub m: usize,
    /// Outputs d.
    pub d: usize,
    /// Output at every step or only the last.
    pub readout: Readout,
    /// The loss.
    pub loss: LossKind,
}

impl LstmShape {
    /// Trainable parameters: `4(n² + n·m + n) + d·n + d` (four gates, each with a recurrent
    /// matrix, an input matrix and a bias; the readout).
    pub fn param_count(&self) -> usize {
        let (n, m, d) = (self.n, self.m, self.d);
        4 * (n * n + n * m + n) + d * n + d
    }

    /// Columns of W: n recurrent, then m input.
    fn cols(&self) -> usize {
        self.n + self.m
    }
}

/// The LSTM hidden size whose parameter count is closest to that of an ORNN with
/// `ornn_hidden` units, `input` inputs and `output` outputs (ties: the smaller LSTM).
///
/// For the "equal-parameter" rows of a comparison: an LSTM of the same n has about four times
/// the ORNN's weights, so a results table reports the LSTM both at the ORNN's n (equal n) and
/// at this size (equal parameters, about n/2 for large n). The ORNN count is
/// `n² + n·m + n + d·n + d` (ReLU; modReLU's n extra biases do not change the answer by more
/// than a unit), the LSTM's `4(n² + n·m + n) + d·n + d`.
pub fn lstm_hidden_for_params(ornn_hidden: usize, input: usize, output: usize) -> usize {
    let (m, d) = (input, output);
    let ornn = |n: usize| n * n + n * m + n + d * n + d;
    let lstm = |n: usize| 4 * (n * n + n * m + n) + d * n + d;
    let target = ornn(ornn_hidden);
    // the LSTM count grows with n and already exceeds the ORNN's at n = ornn_hidden
    (1..=ornn_hidden.max(1))
        .min_by_key(|&n| lstm(n).abs_diff(target))
        .unwrap_or(1)
}

/// LSTM parameters, or gradients with the same layout. Column-major: W is 4n × (n+m) with the
/// gate rows in the order i, f, g, o and the columns `[h; x]`; b 4n; V d×n; c d.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LstmParams<R> {
    /// Gate weights `[W_h W_x]`.
    pub w: Vec<R>,
    /// Gate biases.
    pub b: Vec<R>,
    /// Output matrix.
    pub v: Vec<R>,
    /// Output bias.
    pub c: Vec<R>,
}

impl<R: Real> LstmParams<R> {
    /// Zeros of a network of this shape.
    pub fn zeros(s: &LstmShape) -> Self {
        LstmParams {
            w: vec![R::zero(); 4 * s.n * s.cols()],
            b: vec![R::zero(); 4 * s.n],
            v: vec![R::zero(); s.d * s.n],
            c: vec![R::zero(); s.d],
        }
    }

    /// Whether the lengths are those of `s`.
    pub fn fits(&self, s: &LstmShape) -> bool {
        let (n, k, d) = (s.n, s.cols(), s.d);
        self.w.len() == 4 * n * k
            && self.b.len() == 4 * n
            && self.v.len() == d * n
            && self.c.len() == d
    }
}

impl<R: Real> Tensors<R, 4> for LstmParams<R> {
    fn parts(&self) -> [&Vec<R>; 4] {
        [&self.w, &self.b, &self.v, &self.c]
    }

    fn parts_mut(&mut self) -> [&mut Vec<R>; 4] {
        [&mut self.w, &mut self.b, &mut self.v, &mut self.c]
    }
}

/// An LSTM: its shape and parameters (nothing else persists).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LstmModel<R> {
    /// Structure.
    pub shape: LstmShape,
    /// Parameters.
    pub params: LstmParams<R>,
}

impl<R: Real> LstmModel<R> {
    /// A freshly initialised LSTM: W uniform in ±1/√n (the common LSTM default), gate biases 0
    /// except the forget gate's, 1 (so the cell keeps its state early in training, as in
    /// Jozefowicz et al. 2015); V Kaiming-normal and c = 0 like the ORNN's readout.
    pub fn new(shape: LstmShape, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = shape.n;
        let bound = 1.0 / (n.max(1) as f64).sqrt();
        let mut p = LstmParams::zeros(&shape);
        p.w.iter_mut()
            .for_each(|v| *v = R::c(rng.random_range(-bound..bound)));
        p.b[n..2 * n].iter_mut().for_each(|v| *v = R::one());
        let std = (2.0 / n.max(1) as f64).sqrt();
        p.v.iter_mut()
            .for_each(|v| *v = R::c(std * crate::ortho::gaussian(&mut rng)));
        LstmModel { shape, params: p }
    }

    /// Trainable parameters.
    pub fn param_count(&self) -> usize {
        self.shape.param_count()
    }
}

/// One worker's buffers.
#[derive(Debug, Clone, Default)]
pub struct LstmWorkspace<R> {
    steps: usize,
    size: usize,
    z: Vec<R>,
    gates: Vec<R>,
    cell: Vec<R>,
    delta: Vec<R>,
    dcell: Vec<R>,
    y: Vec<R>,
    dy: Vec<R>,
    /// Gradients of this worker's share (scaled for the whole batch).
    pub grads: LstmParams<R>,
    /// Counts of this worker's share.
    pub stats: Stats,
}

/// The bytes one forward + backward pass over `size` sequences of `steps` steps allocates: the
/// buffers [`LstmWorkspace`] sizes in `prepare`, plus the batch's inputs and targets (every
/// value `real_bytes`). Training checks this before allocating, as it does
/// [`crate::bptt::pass_bytes`] for the ORNN.
pub fn pass_bytes(s: &LstmShape, steps: usize, size: usize, real_bytes: usize) -> u64 {
    use qornn_sim::memory::product;
    let (n, k, m, d) = (s.n as u64, s.cols() as u64, s.m as u64, s.d as u64);
    let (t, b, r) = (steps as u64, size as u64, real_bytes as u64);
    let out_cols = match s.readout {
        Readout::Every => product(&[t, b]),
        Readout::Last => b,
    };
    let t1 = t.saturating_add(1);
    let terms = [
        product(&[m, t, b, r]),        // the batch's x
        product(&[k, t1, b, r]),       // z = [h; x] per step
        product(&[4, n, t, b, r]),     // the gates (then their gradients)
        product(&[n, t1, b, r]),       // c_0 … c_T
        product(&[n, t, b, r]),        // δ
        product(&[3, d, out_cols, r]), // y, dy and the targets
    ];
    terms.iter().fold(0u64, |a, &x| a.saturating_add(x))
}

fn fit<R: Real>(v: &mut Vec<R>, len: usize) {
    if v.len() != len {
        v.clear();
        v.resize(len, R::zero());
    }
}

impl<R: Real> LstmWorkspace<R> {
    fn prepare(&mut self, s: &LstmShape, steps: usize, size: usize, backward: bool) {
        let (n, k, d) = (s.n, s.cols(), s.d);
        let out_cols = match s.readout {
            Readout::Every => steps * size,
            Readout::Last => size,
        };
        fit(&mut self.z, k * (steps + 1) * size);
        fit(&mut self.gates, 4 * n * steps * size);
        fit(&mut self.cell, n * (steps + 1) * size);
        fit(&mut self.y, d * out_cols);
        fit(&mut self.dy, d * out_cols);
        if backward {
            fit(&mut self.delta, n * steps * size);
            fit(&mut self.dcell, n * size);
            if !self.grads.fits(s) {
                self.grads = LstmParams::zeros(s);
            }
        }
        self.steps = steps;
        self.size = size;
        self.stats = Stats::default();
    }

    /// The outputs of the last pass: d × (T·B) (every step) or d × B (last step).
    pub fn outputs(&self) -> &[R] {
        &self.y
    }
}

/// Run the forward (and, with `backward`, the backward) pass of the sequences `range` of
/// `batch` in one workspace; `scale` multiplies every loss term's gradient (1 / the number of
/// terms of the whole batch, so that worker shares add up to the mean loss's gradient).
pub fn run_chunk<R: Real>(
    ws: &mut LstmWorkspace<R>,
    model: &LstmModel<R>,
    batch: &Batch,
    range: Range<usize>,
    scale: R,
    backward: bool,
) {
    let s = &model.shape;
    let (n, m, d, k) = (s.n, s.m, s.d, s.cols());
    let steps = batch.steps;
    let bsz = range.len();
    ws.prepare(s, steps, bsz, backward);
    // x_t into the input rows of Z's block t−1; h₀ = 0; the last block's inputs stay 0
    let kb = k * bsz;
    ws.z[..kb].iter_mut().for_each(|v| *v = R::zero());
    ws.z[steps * kb..].iter_mut().for_each(|v| *v = R::zero());
    for (j, g) in range.clone().enumerate() {
        for t in 0..steps {
            let src = &batch.x[(g * steps + t) * m..(g * steps + t + 1) * m];
            let col = (t * bsz + j) * k;
            ws.z[col + n..col + k]
                .iter_mut()
                .zip(src)
                .for_each(|(d, &v)| *d = R::c(v as f64));
        }
    }
    forward(ws, model);
    ws.stats = output_loss(
        &ws.y,
        &mut ws.dy,
        d,
        s.readout,
        (steps, bsz),
        batch,
        range,
        scale,
    );
    if backward {
        backward_pass(ws, model);
    }
}

/// The hidden states that feed the readout: rows 0..n of Z's blocks 1..=T (every step) or
/// of block T (last step), as a strided view, with its column count.
fn readout_states<'a, R: Real>(
    z: &'a [R],
    s: &LstmShape,
    steps: usize,
    bsz: usize,
) -> (faer::MatRef<'a, R>, usize) {
    let (n, k) = (s.n, s.cols());
    let (first, cols) = match s.readout {
        Readout::Every => (1, steps * bsz),
        Readout::Last => (steps, bsz),
    };
    let h = view(&z[first * k * bsz..], k, cols).subrows(0, n);
    (h, cols)
}

fn forward<R: Real>(ws: &mut LstmWorkspace<R>, model: &LstmModel<R>) {
    let s = &model.shape;
    let p = &model.params;
    let (n, k, d) = (s.n, s.cols(), s.d);
    let (steps, bsz) = (ws.steps, ws.size);
    let (nb, kb, gb) = (n * bsz, k * bsz, 4 * n * bsz);
    let w = view(&p.w, 4 * n, k);
    ws.cell[..nb].iter_mut().for_each(|v| *v = R::zero());
    for t in 0..steps {
        let gate = &mut ws.gates[t * gb..(t + 1) * gb];
        // all four gates of the share: W·[h_t; x_{t+1}]
        gemm(
            view_mut(gate, 4 * n, bsz),
            false,
            w,
            view(&ws.z[t * kb..], k, bsz),
            R::one(),
        );
        let (c_prev, c_next) = ws.cell.split_at_mut((t + 1) * nb);
        let c_prev = &c_prev[t * nb..];
        let c_next = &mut c_next[..nb];
        let z_next = &mut ws.z[(t + 1) * kb..(t + 2) * kb];
        for j in 0..bsz {
            let a = &mut gate[j * 4 * n..(j + 1) * 4 * n];
            a.iter_mut().zip(&p.b).for_each(|(v, &b)| *v += b);
            let (ai, rest) = a.split_at_mut(n);
            let (af, rest) = rest.split_at_mut(n);
            let (ag, ao) = rest.split_at_mut(n);
            let cp = &c_prev[j * n..(j + 1) * n];
            let cn = &mut c_next[j * n..(j + 1) * n];
            let h = &mut z_next[j * k..j * k + n];
            for u in 0..n {
                let (i, f, g, o) = (
                    ai[u].sigmoid(),
                    af[u].sigmoid(),
                    ag[u].gate_tanh(),
                    ao[u].sigmoid(),
                );
                (ai[u], af[u], ag[u], ao[u]) = (i, f, g, o);
                let c = f * cp[u] + i * g;
                cn[u] = c;
                h[u] = o * c.gate_tanh();
            }
        }
    }
    let (h, cols) = readout_states(&ws.z, s, steps, bsz);
    gemm(
        view_mut(&mut ws.y, d, cols),
        false,
        view(&p.v, d, n),
        h,
        R::one(),
    );
    for col in ws.y.chunks_exact_mut(d) {
        col.iter_mut().zip(&p.c).for_each(|(v, &c)| *v += c);
    }
}

fn backward_pass<R: Real>(ws: &mut LstmWorkspace<R>, model: &LstmModel<R>) {
    let s = &model.shape;
    let p = &model.params;
    let (n, k, d) = (s.n, s.cols(), s.d);
    let (steps, bsz) = (ws.steps, ws.size);
    let (nb, gb) = (n * bsz, 4 * n * bsz);
    let tb = steps * bsz;
    // δ block t = dL/dh_{t+1}, first from the readout
    let vt = view(&p.v, d, n).transpose();
    match s.readout {
        Readout::Every => gemm(
            view_mut(&mut ws.delta, n, tb),
            false,
            vt,
            view(&ws.dy, d, tb),
            R::one(),
        ),
        Readout::Last => {
            let last = (steps - 1) * nb;
            ws.delta[..last].iter_mut().for_each(|v| *v = R::zero());
            gemm(
                view_mut(&mut ws.delta[last..], n, bsz),
                false,
                vt,
                view(&ws.dy, d, bsz),
                R::one(),
            );
        }
    }
    ws.dcell.iter_mut().for_each(|v| *v = R::zero());
    let wht = view(&p.w, 4 * n, n).transpose();
    for t in (0..steps).rev() {
        let gate = &mut ws.gates[t * gb..(t + 1) * gb];
        let dh = &ws.delta[t * nb..(t + 1) * nb];
        let cp = &ws.cell[t * nb..(t + 1) * nb];
        let cn = &ws.cell[(t + 1) * nb..(t + 2) * nb];
        for j in 0..bsz {
            let a = &mut gate[j * 4 * n..(j + 1) * 4 * n];
            let (gi, rest) = a.split_at_mut(n);
            let (gf, rest) = rest.split_at_mut(n);
            let (gg, go) = rest.split_at_mut(n);
            let dc = &mut ws.dcell[j * n..(j + 1) * n];
            let col = j * n..(j + 1) * n;
            let (dh, cp, cn) = (&dh[col.clone()], &cp[col.clone()], &cn[col]);
            for u in 0..n {
                let (i, f, g, o) = (gi[u], gf[u], gg[u], go[u]);
                let tc = cn[u].gate_tanh();
                let dcu = dc[u] + dh[u] * o * (R::one() - tc * tc);
                // the cell gradient flows on through the forget gate
                dc[u] = dcu * f;
                gi[u] = dcu * g * i * (R::one() - i);
                gf[u] = dcu * cp[u] * f * (R::one() - f);
                gg[u] = dcu * i * (R::one() - g * g);
                go[u] = dh[u] * tc * o * (R::one() - o);
            }
        }
        if t > 0 {
            // dL/dh_t gets W_hᵀ·dA_t
            gemm(
                view_mut(&mut ws.delta[(t - 1) * nb..t * nb], n, bsz),
                true,
                wht,
                view(&ws.gates[t * gb..], 4 * n, bsz),
                R::one(),
            );
        }
    }
    let gr = &mut ws.grads;
    // dW = dA·Zᵀ over all steps (Z's blocks 0..T are the operands of steps 1..=T)
    gemm(
        view_mut(&mut gr.w, 4 * n, k),
        false,
        view(&ws.gates, 4 * n, tb),
        view(&ws.z, k, tb).transpose(),
        R::one(),
    );
    row_sums(&ws.gates, 4 * n, tb, &mut gr.b);
    let (h, cols) = readout_states(&ws.z, s, steps, bsz);
    gemm(
        view_mut(&mut gr.v, d, n),
        false,
        view(&ws.dy, d, cols),
        h.transpose(),
        R::one(),
    );
    row_sums(&ws.dy, d, cols, &mut gr.c);
}

fn row_sums<R: Real>(a: &[R], rows: usize, cols: usize, out: &mut [R]) {
    out.iter_mut().for_each(|v| *v = R::zero());
    for col in a.chunks_exact(rows).take(cols) {
        out.iter_mut().zip(col).for_each(|(o, &v)| *o += v);
    }
}

/// A batch runner for the LSTM: the batch is split over `threads` workers as with the ORNN's
/// [`crate::bptt::Engine`], each with its own workspace, and the gradients are summed.
#[derive(Debug, Clone, Default)]
pub struct LstmEngine<R> {
    workers: Vec<LstmWorkspace<R>>,
}

impl<R: Real> LstmEngine<R> {
    /// A runner over `threads` threads (at least 1).
    pub fn new(threads: usize) -> Self {
        LstmEngine {
            workers: (0..threads.max(1))
                .map(|_| LstmWorkspace::default())
                .collect(),
        }
    }

    /// Threads used.
    pub fn threads(&self) -> usize {
        self.workers.len()
    }

    /// Run the batch; the gradients (with `backward`) are those of the mean loss.
    pub fn run(
        &mut self,
        model: &LstmModel<R>,
        batch: &Batch,
        backward: bool,
    ) -> (Stats, Option<&LstmParams<R>>) {
        let scale = R::c(1.0 / batch.loss_terms().max(1) as f64);
        let used = run_shares(&mut self.workers, batch.size, |ws, r| {
            run_chunk(ws, model, batch, r, scale, backward)
        });
        let stats = reduce_shares(&mut self.workers, used, backward, |ws| {
            (ws.stats, &mut ws.grads)
        });
        (stats, backward.then_some(&self.workers[0].grads))
    }

    /// The first worker's workspace (its states and outputs, for inspection in tests).
    pub fn first_workspace(&self) -> &LstmWorkspace<R> {
        &self.workers[0]
    }
}

/// Evaluate an LSTM on the sequences `ids` of a split, in chunks small enough that the stored
/// states stay near 64 MB (an LSTM keeps about 6n + m values per sequence step).
pub fn evaluate_ids(
    engine: &mut LstmEngine<f32>,
    task: &Task,
    model: &LstmModel<f32>,
    split: Split,
    ids: &[u64],
) -> Stats {
    let s = model.shape;
    let per_seq = task.steps() * (6 * s.n + s.m).max(16);
    let chunk = ((1 << 24) / per_seq.max(1)).clamp(16, 1024);
    let mut total = Stats::default();
    for part in ids.chunks(chunk) {
        let batch = task.batch(split, part);
        let (st, _) = engine.run(model, &batch, false);
        total.merge(&st);
    }
    total
}
