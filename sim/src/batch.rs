//! The batched golden path: many sequences advanced together, bit-exact with [`Golden`].
//!
//! Scoring a whole test split (10 000 sequences × 784 steps, at several activation widths)
//! one sequence at a time spends its time in one n × n matrix-*vector* product per step. A
//! block of sequences advanced together turns that into one matrix-*matrix* product W·H per
//! step, H holding the block's hidden states, so each code of W is loaded once for several
//! sequences, and the `i16` loops vectorise without any `unsafe`.
//!
//! Why this layout: every code of the contract fits an `i16` (weights ≤ 8 bits, activations
//! and inputs ≤ 16 bits), so W and the states are stored as `i16`, half the memory traffic of
//! the scalar model's `i32` and products the SIMD units multiply directly. Each lane's state
//! is one contiguous, zero-padded row; the rows of [`GROUP`] lanes are multiplied by one row
//! of W in a single pass, so each W code is loaded once per group and each lane's sum is a
//! contiguous `i16` dot product, the loop LLVM vectorises reliably on baseline x86-64 (SSE2)
//! without `unsafe`. (A sequence-minor n × B layout with a lane loop innermost was measured
//! first: LLVM unrolls the fixed lane tile and vectorises the column loop with gathers, 1.4×
//! the scalar speed; with a run-time lane count it loses the `i16` operand width and
//! multiplies in emulated `i32`.)
//!
//! Why it is exact: sums accumulate in `i32` only where the validated accumulator is at most
//! 32 bits (the width analysis bounds every partial sum in any order, and the scalar model
//! makes the same choice), in `i64` otherwise; activation, requantiser and output follow
//! `docs/fixed-point.md` term by term. `tests/batch.rs` checks it against [`Golden`] on
//! random models, saturation and most-negative codes included.

use crate::fixed::requantize;
use crate::golden::{parallel_map, Golden};
use crate::sequence::Sequence;

/// Lanes (sequences) whose dot products with one row of W are computed together: the row's
/// codes are loaded once for all of them, and the group's accumulators stay in registers.
pub const GROUP: usize = 4;
/// Sequences per block in [`Golden::run_last_output_batch`] and
/// [`Golden::run_outputs_batch`].
const BLOCK: usize = 16;
/// Rows are padded with zero codes to a multiple of this, so the vector loops have no tail.
const PAD: usize = 16;
/// Columns summed in `i32` before the wide path widens to `i64`: 256 products of at most
/// 2^22 in magnitude (an 8-bit weight times a 16-bit code) stay below 2^30.
const WIDE_CHUNK: usize = 256;

/// A matrix (row-major `rows × cols`) as `i16` rows of `stride` codes, zero-padded.
fn padded(flat: &[i32], rows: usize, cols: usize, stride: usize) -> Vec<i16> {
    let mut out = vec![0i16; rows * stride];
    for i in 0..rows {
        for j in 0..cols {
            // Weights are at most 8-bit codes: the cast is exact.
            out[i * stride + j] = flat[i * cols + j] as i16;
        }
    }
    out
}

/// `Σ_j w[j]·h_g[j]` for the [`GROUP`] lanes g, in wrapping `i32`: only called where the width
/// analysis proved the sums fit, so the modular result is the exact one (as the scalar `dot32`).
#[inline(always)]
fn dot_group(w: &[i16], h: [&[i16]; GROUP]) -> [i32; GROUP] {
    let len = w.len();
    let h = h.map(|hg| &hg[..len]);
    let mut acc = [0i32; GROUP];
    for j in 0..len {
        let wj = i32::from(w[j]);
        for g in 0..GROUP {
            acc[g] = acc[g].wrapping_add(wj * i32::from(h[g][j]));
        }
    }
    acc
}

/// [`dot_group`] in `i64` for accumulators wider than 32 bits: exact `i32` sums over chunks of
/// [`WIDE_CHUNK`] columns, added in `i64`.
#[inline(always)]
fn dot_group_wide(w: &[i16], h: [&[i16]; GROUP]) -> [i64; GROUP] {
    let mut acc = [0i64; GROUP];
    for (c, wc) in w.chunks(WIDE_CHUNK).enumerate() {
        let at = c * WIDE_CHUNK;
        let part = dot_group(wc, h.map(|hg| &hg[at..at + wc.len()]));
        for g in 0..GROUP {
            acc[g] += i64::from(part[g]);
        }
    }
    acc
}

/// The requantiser `sat(rhe(a·M, r))` for activations that fit `i32`, without branches:
/// `rhe(p, r) = (p + 2^(r−1) − 1 + ⌊p / 2^r⌋ mod 2) >> r` (a tie rounds up exactly when the
/// floor is odd). No overflow: |p| < 2^46 here.
#[derive(Clone, Copy)]
struct NarrowRequant {
    multiplier: i64,
    shift: u32,
    bias: i64,
    odd: i64,
    lo: i64,
    hi: i64,
}

impl NarrowRequant {
    fn new(g: &Golden) -> Self {
        let r = g.shift;
        NarrowRequant {
            multiplier: g.multiplier,
            shift: r,
            // r = 0 is the identity: no rounding term at all.
            bias: if r == 0 { 0 } else { (1i64 << (r - 1)) - 1 },
            odd: if r == 0 { 0 } else { 1 },
            lo: g.activation_bits.min_code(),
            hi: g.activation_bits.max_code(),
        }
    }

    #[inline(always)]
    fn apply(self, a: i32) -> i16 {
        let p = i64::from(a) * self.multiplier;
        let q = (p + self.bias + ((p >> self.shift) & self.odd)) >> self.shift;
        // Activations are at most 16-bit codes: the cast after saturation is exact.
        q.clamp(self.lo, self.hi) as i16
    }
}

/// The hidden states of up to `lanes` sequences, advanced together by one model.
///
/// Every lane starts at h₀ = 0 and is independent of the others; a step feeds each lane its
/// own input. Lanes are processed in groups of [`GROUP`]; a partly used group costs a whole
/// one. No allocation happens after [`BatchState::new`].
#[derive(Debug, Clone)]
pub struct BatchState<'g> {
    golden: &'g Golden,
    lanes: usize,
    groups: usize,
    /// Codes per stored row of W and V (n padded) and of U (m padded).
    ns: usize,
    ms: usize,
    w: Vec<i16>,
    u: Vec<i16>,
    v: Vec<i16>,
    /// h_t of every lane, lane-major: lane s's state is `h[s·ns..s·ns + n]`.
    h: Vec<i16>,
    /// The other half of the ping-pong buffer.
    next: Vec<i16>,
    /// The inputs of the next step, lane-major with stride `ms`.
    x: Vec<i16>,
}

impl<'g> BatchState<'g> {
    /// A state of `lanes` sequences (at least one), all at h₀ = 0.
    pub fn new(golden: &'g Golden, lanes: usize) -> Self {
        assert!(lanes > 0, "a batch needs at least one lane");
        let (n, m, d) = (golden.n, golden.m, golden.d);
        let groups = lanes.div_ceil(GROUP);
        let (ns, ms) = (n.next_multiple_of(PAD), m.next_multiple_of(PAD));
        let slots = groups * GROUP;
        BatchState {
            golden,
            lanes,
            groups,
            ns,
            ms,
            w: padded(&golden.w, n, n, ns),
            u: padded(&golden.u, n, m, ms),
            v: padded(&golden.v, d, n, ns),
            h: vec![0; slots * ns],
            next: vec![0; slots * ns],
            x: vec![0; slots * ms],
        }
    }

    /// The number of lanes (sequences) this state advances.
    pub fn lanes(&self) -> usize {
        self.lanes
    }

    /// Put every lane back at h₀ = 0, to start a new block of sequences.
    pub fn reset(&mut self) {
        self.h.fill(0);
    }

    /// One recurrent step of every lane: `x` holds `lanes × m` input codes, lane s's at
    /// `x[s·m..(s+1)·m]`. The codes must be in the model's input range (sequences checked
    /// against the model guarantee it), as for [`Golden::step`].
    pub fn step(&mut self, x: &[i32]) {
        let m = self.golden.m;
        assert_eq!(x.len(), self.lanes * m, "batch input of the wrong length");
        for s in 0..self.lanes {
            self.load(s, Some(&x[s * m..(s + 1) * m]));
        }
        self.advance();
    }

    /// The hidden state h_t of lane `lane`, written into `h` (length n).
    pub fn hidden_into(&self, lane: usize, h: &mut [i32]) {
        assert!(
            lane < self.lanes,
            "lane {lane} of a batch of {}",
            self.lanes
        );
        assert_eq!(h.len(), self.golden.n, "hidden state of the wrong length");
        let row = &self.h[lane * self.ns..];
        for (hj, &code) in h.iter_mut().zip(row) {
            *hj = i32::from(code);
        }
    }

    /// The outputs `y = V·h + c` of every lane, written into `y` (`lanes × d`, lane s's
    /// output at `y[s·d..(s+1)·d]`).
    pub fn output_into(&self, y: &mut [i64]) {
        let (g, d, ns) = (self.golden, self.golden.d, self.ns);
        assert_eq!(y.len(), self.lanes * d, "batch output of the wrong length");
        for grp in 0..self.groups {
            let h = self.group_rows(&self.h, grp, ns);
            for k in 0..d {
                let row = &self.v[k * ns..(k + 1) * ns];
                let vh = if g.narrow_output {
                    dot_group(row, h).map(i64::from)
                } else {
                    dot_group_wide(row, h)
                };
                for (l, &s) in vh.iter().enumerate() {
                    let lane = grp * GROUP + l;
                    if lane < self.lanes {
                        y[lane * d + k] = s + g.c[k];
                    }
                }
            }
        }
    }

    /// The rows (of `stride` codes) of the lanes of group `grp` in a lane-major buffer.
    fn group_rows<'a>(&self, buf: &'a [i16], grp: usize, stride: usize) -> [&'a [i16]; GROUP] {
        std::array::from_fn(|l| {
            let lane = grp * GROUP + l;
            &buf[lane * stride..(lane + 1) * stride]
        })
    }

    /// Set lane `lane`'s next input; `None` feeds zeros (a valid code, so an idle lane stays
    /// inside the proven ranges).
    fn load(&mut self, lane: usize, x: Option<&[i32]>) {
        let m = self.golden.m;
        let row = &mut self.x[lane * self.ms..lane * self.ms + m];
        for (j, xj) in row.iter_mut().enumerate() {
            let code = x.map_or(0, |x| x[j]);
            debug_assert!(self.golden.input_bits.contains(i64::from(code)));
            // Inputs are at most 16-bit codes: the cast is exact.
            *xj = code as i16;
        }
    }

    /// Advance every lane by the loaded inputs, with the widest integer SIMD the CPU has: the
    /// same code ([`Self::advance_portable`]) compiled once more for AVX2, where the i16 × i16
    /// → i32 multiply-adds of the dot products take 256-bit lanes instead of SSE2's 128.
    fn advance(&mut self) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above; the function is otherwise the
            // portable one, so its results are the same bits.
            unsafe { self.advance_avx2() };
            return;
        }
        self.advance_portable();
    }

    /// [`Self::advance_portable`] compiled with AVX2 enabled.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn advance_avx2(&mut self) {
        self.advance_portable();
    }

    #[inline(always)]
    fn advance_portable(&mut self) {
        let g = self.golden;
        let (ns, ms) = (self.ns, self.ms);
        let rq = NarrowRequant::new(g);
        for grp in 0..self.groups {
            let h = self.group_rows(&self.h, grp, ns);
            let x = self.group_rows(&self.x, grp, ms);
            for i in 0..g.n {
                let (w, u) = (&self.w[i * ns..(i + 1) * ns], &self.u[i * ms..(i + 1) * ms]);
                let mut codes = [0i16; GROUP];
                if g.narrow_hidden {
                    // Everything up to the activation fits i32 (the width analysis bounds
                    // the shifted sums, the accumulator and |acc| + β).
                    let (wh, ux) = (dot_group(w, h), dot_group(u, x));
                    let bi = g.b[i] as i32;
                    for l in 0..GROUP {
                        let acc = (wh[l] << g.w_shift) + (ux[l] << g.u_shift) + bi;
                        let a = match &g.beta {
                            None => acc.max(0),
                            Some(beta) => acc.signum() * (acc.abs() + beta[i] as i32).max(0),
                        };
                        codes[l] = rq.apply(a);
                    }
                } else {
                    let (wh, ux) = (dot_group_wide(w, h), dot_group_wide(u, x));
                    for l in 0..GROUP {
                        let acc = (wh[l] << g.w_shift) + (ux[l] << g.u_shift) + g.b[i];
                        let a = match &g.beta {
                            None => acc.max(0),
                            Some(beta) => acc.signum() * (acc.abs() + beta[i]).max(0),
                        };
                        codes[l] = requantize(a, g.multiplier, g.shift, g.activation_bits) as i16;
                    }
                }
                for (l, &code) in codes.iter().enumerate() {
                    self.next[(grp * GROUP + l) * ns + i] = code;
                }
            }
        }
        std::mem::swap(&mut self.h, &mut self.next);
    }

    /// Run one block (at most `lanes` sequences) from h₀ = 0 and return each one's last
    /// output y_T (y = c, the output of h₀, for a sequence without steps).
    fn last_outputs(&mut self, block: &[&Sequence]) -> Vec<Vec<i64>> {
        let d = self.golden.d;
        let mut out = vec![vec![0i64; d]; block.len()];
        let mut y = vec![0i64; self.lanes * d];
        self.run_block(block, |t, y_fn| {
            if block.iter().any(|s| s.steps() == t) {
                y_fn(&mut y);
                for (s, seq) in block.iter().enumerate() {
                    if seq.steps() == t {
                        out[s].copy_from_slice(&y[s * d..(s + 1) * d]);
                    }
                }
            }
        });
        out
    }

    /// Run one block and return every y_t of each sequence, `T × d` row-major.
    fn all_outputs(&mut self, block: &[&Sequence]) -> Vec<Vec<i64>> {
        let d = self.golden.d;
        let mut out: Vec<Vec<i64>> = block.iter().map(|s| vec![0; s.steps() * d]).collect();
        let mut y = vec![0i64; self.lanes * d];
        self.run_block(block, |t, y_fn| {
            if t == 0 {
                return; // y_0 is not part of the answer
            }
            y_fn(&mut y);
            for (s, seq) in block.iter().enumerate() {
                if t <= seq.steps() {
                    out[s][(t - 1) * d..t * d].copy_from_slice(&y[s * d..(s + 1) * d]);
                }
            }
        });
        out
    }

    /// Reset, then advance `block` to its longest length. Before the first step and after
    /// every step t (1-based), `visit(t, output)` may call `output` to compute every lane's
    /// y_t. A lane whose sequence has ended is fed zeros and its results are ignored.
    fn run_block(
        &mut self,
        block: &[&Sequence],
        mut visit: impl FnMut(usize, &mut dyn FnMut(&mut [i64])),
    ) {
        assert!(block.len() <= self.lanes, "a block larger than the batch");
        let m = self.golden.m;
        for seq in block {
            assert_eq!(seq.width(), m, "a sequence of the wrong input width");
        }
        self.reset();
        let steps = block.iter().map(|s| s.steps()).max().unwrap_or(0);
        for t in 0..=steps {
            visit(t, &mut |y| self.output_into(y));
            if t == steps {
                break;
            }
            for s in 0..self.lanes {
                let x = block
                    .get(s)
                    .filter(|seq| t < seq.steps())
                    .map(|seq| seq.step(t));
                self.load(s, x);
            }
            self.advance();
        }
    }
}

impl Golden {
    /// Run many sequences from h₀ = 0 and return each one's last output y_T (what
    /// classification accuracy needs), in input order; bit-exact with
    /// [`Golden::run_last_output`]. Sequences are advanced 16 at a time (grouped by
    /// length, so unequal lengths waste little), the blocks split over `threads` threads.
    pub fn run_last_output_batch(&self, seqs: &[Sequence], threads: usize) -> Vec<Vec<i64>> {
        self.run_blocks(seqs, threads, BatchState::last_outputs)
    }

    /// Run many sequences and return every output y_1..y_T of each (for tasks scored at every
    /// step, e.g. copy), `T × d` row-major per sequence, in input order; bit-exact with the
    /// outputs of [`Golden::run`].
    pub fn run_outputs_batch(&self, seqs: &[Sequence], threads: usize) -> Vec<Vec<i64>> {
        self.run_blocks(seqs, threads, BatchState::all_outputs)
    }

    /// Group `seqs` into blocks of similar length (longest first), deal the blocks to the
    /// threads in turn (so long blocks spread out), run each block with one reused state per
    /// thread, and put the results back in input order.
    fn run_blocks<'g>(
        &'g self,
        seqs: &[Sequence],
        threads: usize,
        run: fn(&mut BatchState<'g>, &[&Sequence]) -> Vec<Vec<i64>>,
    ) -> Vec<Vec<i64>> {
        let mut order: Vec<usize> = (0..seqs.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(seqs[i].steps()));
        let blocks: Vec<&[usize]> = order.chunks(BLOCK).collect();
        let threads = threads.clamp(1, blocks.len().max(1));
        let parts: Vec<Vec<&[usize]>> = (0..threads)
            .map(|k| blocks.iter().skip(k).step_by(threads).copied().collect())
            .collect();
        let done = parallel_map(&parts, threads, |part| {
            let mut state = BatchState::new(self, BLOCK);
            let mut results = Vec::new();
            for &block in part {
                let block_seqs: Vec<&Sequence> = block.iter().map(|&i| &seqs[i]).collect();
                results.extend(block.iter().copied().zip(run(&mut state, &block_seqs)));
            }
            results
        });
        let mut out = vec![Vec::new(); seqs.len()];
        for (i, y) in done.into_iter().flatten() {
            out[i] = y;
        }
        out
    }
}
