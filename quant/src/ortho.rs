//! Orthogonal initialisation and the two ways of keeping W (approximately) orthogonal:
//! Björck iterations after spectral normalisation (differentiable, for STE-Björck) and projUNN
//! rank-one updates (projUNN-D, the direct polar projection; projUNN-T, the geodesic step),
//! both with the low-rank closed forms, O(n²) per step.

use crate::real::{dot, gemm, norm, view, view_mut, Real};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// A standard normal draw (Box–Muller).
pub fn gaussian(rng: &mut ChaCha8Rng) -> f64 {
    let u: f64 = rng.random();
    let v: f64 = rng.random();
    (-2.0 * (1.0 - u).ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// Henaff et al.'s initialisation: block-diagonal 2×2 rotations with angles uniform in
/// [−π, π] (a trailing 1 when n is odd). Column-major n × n.
pub fn henaff_init<R: Real>(n: usize, rng: &mut ChaCha8Rng) -> Vec<R> {
    let mut w = vec![R::zero(); n * n];
    let mut i = 0;
    while i + 1 < n {
        let th: f64 = rng.random_range(-std::f64::consts::PI..std::f64::consts::PI);
        let (s, c) = th.sin_cos();
        w[i + i * n] = R::c(c);
        w[i + (i + 1) * n] = R::c(-s);
        w[i + 1 + i * n] = R::c(s);
        w[i + 1 + (i + 1) * n] = R::c(c);
        i += 2;
    }
    if n % 2 == 1 {
        w[(n - 1) + (n - 1) * n] = R::one();
    }
    w
}

/// The negated cyclic shift, `W e_j = −e_{(j+1) mod n}`: a delay line of length n.
///
/// Every nonzero entry is −1, the one value the weight quantiser represents exactly
/// (α = max|W| = 1 maps to the code −2^(k−1), while +1 would be clipped to (2^(k−1) − 1)/2^(k−1)),
/// so the quantised W is exactly orthogonal at every bit width and keeps a state for any
/// number of steps. Only an odd activation (modReLU) passes the alternating signs.
pub fn shift_init<R: Real>(n: usize) -> Vec<R> {
    let mut w = vec![R::zero(); n * n];
    for j in 0..n {
        w[(j + 1) % n + j * n] = -R::one();
    }
    w
}

/// A Haar-random orthogonal matrix (QR of a Gaussian matrix by modified Gram–Schmidt, twice).
pub fn random_orthogonal<R: Real>(n: usize, rng: &mut ChaCha8Rng) -> Vec<R> {
    let mut q = vec![0.0f64; n * n];
    let mut j = 0;
    while j < n {
        let mut v: Vec<f64> = (0..n).map(|_| gaussian(rng)).collect();
        for _ in 0..2 {
            for k in 0..j {
                let col = &q[k * n..(k + 1) * n];
                let p: f64 = col.iter().zip(&v).map(|(a, b)| a * b).sum();
                v.iter_mut().zip(col).for_each(|(x, y)| *x -= p * y);
            }
        }
        let nv = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if nv > 1e-8 {
            q[j * n..(j + 1) * n]
                .iter_mut()
                .zip(&v)
                .for_each(|(d, s)| *d = s / nv);
            j += 1;
        }
    }
    q.into_iter().map(R::c).collect()
}

/// Power iteration for the largest singular value of a square matrix, with persistent
/// singular-vector estimates (so a few iterations per training step suffice).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PowerIteration<R> {
    /// Left singular vector estimate.
    pub u: Vec<R>,
    /// Right singular vector estimate.
    pub v: Vec<R>,
}

impl<R: Real> PowerIteration<R> {
    /// Start from a fixed non-degenerate vector.
    pub fn new(n: usize) -> Self {
        let u: Vec<R> = (0..n)
            .map(|i| R::c(1.0 + 0.37 * ((i * 7919 % 101) as f64 / 101.0)))
            .collect();
        let s = norm(&u);
        PowerIteration {
            u: u.iter().map(|&x| x / s).collect(),
            v: vec![R::zero(); n],
        }
    }

    /// Run `iters` iterations on the n × n matrix `a` (rectangular `rows × cols` allowed);
    /// returns σ = uᵀ A v.
    pub fn run(&mut self, a: &[R], rows: usize, cols: usize, iters: usize) -> R {
        if self.u.len() != rows || self.v.len() != cols {
            *self = PowerIteration::new(rows);
            self.v = vec![R::zero(); cols];
        }
        let mut av = vec![R::zero(); rows];
        let mut sigma = R::zero();
        for _ in 0..iters.max(1) {
            // v = Aᵀu / ‖·‖
            matvec_t(a, rows, cols, &self.u, &mut self.v);
            let nv = norm(&self.v);
            if nv <= R::min_positive_value() {
                return R::zero();
            }
            self.v.iter_mut().for_each(|x| *x /= nv);
            // u = A v / ‖·‖
            matvec(a, rows, cols, &self.v, &mut av);
            sigma = norm(&av);
            if sigma <= R::min_positive_value() {
                return R::zero();
            }
            self.u
                .iter_mut()
                .zip(&av)
                .for_each(|(d, &s)| *d = s / sigma);
        }
        sigma
    }
}

/// y = A x, A column-major rows × cols.
pub fn matvec<R: Real>(a: &[R], rows: usize, cols: usize, x: &[R], y: &mut [R]) {
    y.iter_mut().for_each(|v| *v = R::zero());
    for (j, &xj) in x.iter().enumerate().take(cols) {
        let col = &a[j * rows..(j + 1) * rows];
        y.iter_mut().zip(col).for_each(|(d, &c)| *d += c * xj);
    }
}

/// y = Aᵀ x, A column-major rows × cols.
pub fn matvec_t<R: Real>(a: &[R], rows: usize, cols: usize, x: &[R], y: &mut [R]) {
    for (j, yj) in y.iter_mut().enumerate().take(cols) {
        *yj = dot(&a[j * rows..(j + 1) * rows], x);
    }
}

/// Settings of the Björck orthogonalisation.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BjorckConfig {
    /// Björck iterations (15 in the paper).
    pub iters: usize,
    /// β of `W ← (1+β)W − βWWᵀW` (0.5).
    pub beta: f64,
    /// Power iterations per forward pass for the spectral norm (warm-started).
    pub power_iters: usize,
}

impl Default for BjorckConfig {
    fn default() -> Self {
        BjorckConfig {
            iters: 15,
            beta: 0.5,
            power_iters: 3,
        }
    }
}

/// Forward state of spectral normalisation + Björck, kept for the backward pass.
#[derive(Debug, Clone)]
pub struct Bjorck<R> {
    n: usize,
    cfg: BjorckConfig,
    /// The spectral-norm power iteration (persistent across steps).
    pub power: PowerIteration<R>,
    sigma: R,
    /// W_0 … W_K (W_0 = A/σ).
    iterates: Vec<Vec<R>>,
    /// P_k = W_kᵀ W_k for k < K.
    grams: Vec<Vec<R>>,
    s: Vec<R>,
    t: Vec<R>,
}

impl<R: Real> Bjorck<R> {
    /// Prepare for n × n matrices.
    pub fn new(n: usize, cfg: BjorckConfig) -> Self {
        Bjorck {
            n,
            cfg,
            power: PowerIteration::new(n),
            sigma: R::one(),
            iterates: vec![vec![R::zero(); n * n]; cfg.iters + 1],
            grams: vec![vec![R::zero(); n * n]; cfg.iters],
            s: vec![R::zero(); n * n],
            t: vec![R::zero(); n * n],
        }
    }

    /// The settings.
    pub fn config(&self) -> BjorckConfig {
        self.cfg
    }

    /// σ of the last forward pass.
    pub fn sigma(&self) -> R {
        self.sigma
    }

    /// `out = Björck^K(A / σ_max(A))`. `power_iters` overrides the configured count (the first
    /// call of a run should use many, later ones few).
    pub fn forward(&mut self, a: &[R], power_iters: usize, out: &mut [R]) {
        let n = self.n;
        let sigma = self
            .power
            .run(a, n, n, power_iters)
            .max(R::min_positive_value());
        self.sigma = sigma;
        self.iterates[0]
            .iter_mut()
            .zip(a)
            .for_each(|(d, &x)| *d = x / sigma);
        let beta = R::c(self.cfg.beta);
        for k in 0..self.cfg.iters {
            let (done, rest) = self.iterates.split_at_mut(k + 1);
            let w = &done[k];
            let next = &mut rest[0];
            let p = &mut self.grams[k];
            gemm(
                view_mut(p, n, n),
                false,
                view(w, n, n).transpose(),
                view(w, n, n),
                R::one(),
            );
            // next = (1+β) w − β w P
            next.iter_mut()
                .zip(w)
                .for_each(|(d, &x)| *d = (R::one() + beta) * x);
            gemm(
                view_mut(next, n, n),
                true,
                view(w, n, n),
                view(p, n, n),
                -beta,
            );
        }
        out.copy_from_slice(&self.iterates[self.cfg.iters]);
    }

    /// Given dL/dout (in `grad`, overwritten as scratch), write dL/dA into `grad_a`.
    pub fn backward(&mut self, a: &[R], grad: &mut [R], grad_a: &mut [R]) {
        let n = self.n;
        let beta = R::c(self.cfg.beta);
        let g = grad;
        for k in (0..self.cfg.iters).rev() {
            let w = &self.iterates[k];
            let p = &self.grams[k];
            // S = Gᵀ W ; then S ← S + Sᵀ
            gemm(
                view_mut(&mut self.s, n, n),
                false,
                view(g, n, n).transpose(),
                view(w, n, n),
                R::one(),
            );
            for j in 0..n {
                for i in 0..j {
                    let x = self.s[i + j * n] + self.s[j + i * n];
                    self.s[i + j * n] = x;
                    self.s[j + i * n] = x;
                }
                self.s[j + j * n] *= R::c(2.0);
            }
            // T = G P + W S   ;  G ← (1+β) G − β T
            gemm(
                view_mut(&mut self.t, n, n),
                false,
                view(g, n, n),
                view(p, n, n),
                R::one(),
            );
            gemm(
                view_mut(&mut self.t, n, n),
                true,
                view(w, n, n),
                view(&self.s, n, n),
                R::one(),
            );
            g.iter_mut()
                .zip(&self.t)
                .for_each(|(d, &t)| *d = (R::one() + beta) * *d - beta * t);
        }
        // W_0 = A/σ, σ = uᵀ A v: dA = G/σ − (⟨G, A⟩/σ²) u vᵀ
        let sigma = self.sigma;
        let ga = dot(g, a) / (sigma * sigma);
        for j in 0..n {
            let vj = self.power.v[j];
            for i in 0..n {
                grad_a[i + j * n] = g[i + j * n] / sigma - ga * self.power.u[i] * vj;
            }
        }
    }
}

/// A few Björck steps in place (without normalisation): pulls a nearly orthogonal matrix back
/// onto the group, e.g. to remove the rounding drift of many projUNN steps.
pub fn bjorck_polish<R: Real>(w: &mut [R], n: usize, steps: usize) {
    let mut p = vec![R::zero(); n * n];
    let mut next = vec![R::zero(); n * n];
    for _ in 0..steps {
        gemm(
            view_mut(&mut p, n, n),
            false,
            view(w, n, n).transpose(),
            view(w, n, n),
            R::one(),
        );
        next.iter_mut()
            .zip(w.iter())
            .for_each(|(d, &x)| *d = R::c(1.5) * x);
        gemm(
            view_mut(&mut next, n, n),
            true,
            view(w, n, n),
            view(&p, n, n),
            R::c(-0.5),
        );
        w.copy_from_slice(&next);
    }
}

/// The rank-one approximation σ·u·vᵀ of a matrix by warm-started power iteration:
/// returns (a, b) with `a·bᵀ ≈ m` (a = σu, b = v).
pub fn rank_one<R: Real>(
    m: &[R],
    rows: usize,
    cols: usize,
    state: &mut PowerIteration<R>,
    iters: usize,
) -> (Vec<R>, Vec<R>) {
    let sigma = state.run(m, rows, cols, iters);
    let a = state.u.iter().map(|&x| x * sigma).collect();
    (a, state.v.clone())
}

/// An orthonormal basis (1 or 2 columns) of span{x, y}; `None` when both vanish.
fn basis2<R: Real>(x: &[R], y: &[R]) -> Option<Vec<Vec<R>>> {
    let nx = norm(x);
    let ny = norm(y);
    let (first, second) = if nx >= ny { (x, y) } else { (y, x) };
    let nf = nx.max(ny);
    if nf <= R::min_positive_value() {
        return None;
    }
    let q1: Vec<R> = first.iter().map(|&v| v / nf).collect();
    let mut q2: Vec<R> = second.to_vec();
    for _ in 0..2 {
        let p = dot(&q1, &q2);
        q2.iter_mut().zip(&q1).for_each(|(d, &q)| *d -= p * q);
    }
    let n2 = norm(&q2);
    if n2 <= R::c(1e-6) * nf.max(norm(second)) || n2 <= R::min_positive_value() {
        return Some(vec![q1]);
    }
    q2.iter_mut().for_each(|v| *v /= n2);
    Some(vec![q1, q2])
}

/// Eigen-decomposition of a symmetric 2 × 2 matrix [[p, q], [q, r]]: (λ, unit eigenvectors).
fn sym2_eigen(p: f64, q: f64, r: f64) -> ([f64; 2], [[f64; 2]; 2]) {
    let mean = 0.5 * (p + r);
    let d = (0.25 * (p - r) * (p - r) + q * q).sqrt();
    let l = [mean + d, mean - d];
    if q.abs() <= 1e-300 {
        return if p >= r {
            ([p, r], [[1.0, 0.0], [0.0, 1.0]])
        } else {
            ([r, p], [[0.0, 1.0], [1.0, 0.0]])
        };
    }
    // eigenvector for λ: (λ − r, q) (or (q, λ − p)); pick the better-conditioned one
    let vec_for = |lam: f64| {
        let (a, b) = if (lam - r).abs() > (lam - p).abs() {
            (lam - r, q)
        } else {
            (q, lam - p)
        };
        let s = (a * a + b * b).sqrt();
        [a / s, b / s]
    };
    let e0 = vec_for(l[0]);
    // the second is orthogonal to the first
    (l, [e0, [-e0[1], e0[0]]])
}

/// The projUNN projector kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Projunn {
    /// projUNN-D: W ← polar(W + a bᵀ).
    Direct,
    /// projUNN-T: W ← W·exp(skew(Wᵀ a bᵀ)), the geodesic step along the tangent projection.
    Tangent,
}

/// projUNN-D in place: `w ← polar(w + a bᵀ)` for orthogonal `w`, by the rank-2 closed form
/// `(I + S)^(−1/2) = I + Q D diag((1+λ)^(−1/2) − 1) Dᵀ Qᵀ` with S = â bᵀ + b âᵀ + ‖a‖² b bᵀ,
/// â = wᵀ a, Q an orthonormal basis of span{b, â}. Returns false (and leaves `w`) when the
/// update would make the matrix singular.
pub fn projunn_d<R: Real>(w: &mut [R], n: usize, a: &[R], b: &[R]) -> bool {
    let mut ah = vec![R::zero(); n];
    matvec_t(w, n, n, a, &mut ah);
    let Some(q) = basis2(b, &ah) else {
        return true;
    };
    let aa = dot(a, a).f();
    let bq: Vec<f64> = q.iter().map(|qi| dot(qi, b).f()).collect();
    let aq: Vec<f64> = q.iter().map(|qi| dot(qi, &ah).f()).collect();
    let k = q.len();
    let s = |i: usize, j: usize| aq[i] * bq[j] + bq[i] * aq[j] + aa * bq[i] * bq[j];
    let (lams, vecs): (Vec<f64>, Vec<Vec<f64>>) = if k == 1 {
        (vec![s(0, 0)], vec![vec![1.0]])
    } else {
        let (l, e) = sym2_eigen(s(0, 0), s(0, 1), s(1, 1));
        (l.to_vec(), e.iter().map(|v| v.to_vec()).collect())
    };
    if lams.iter().any(|&l| 1.0 + l <= 1e-12) {
        return false;
    }
    // A = w + a bᵀ (in place), then A ← A + Σ_i s_i (A u_i) u_iᵀ
    for j in 0..n {
        let bj = b[j];
        w[j * n..(j + 1) * n]
            .iter_mut()
            .zip(a)
            .for_each(|(d, &ai)| *d += ai * bj);
    }
    let us: Vec<Vec<R>> = vecs
        .iter()
        .map(|e| {
            (0..n)
                .map(|r| R::c((0..k).map(|c| e[c] * q[c][r].f()).sum::<f64>()))
                .collect()
        })
        .collect();
    let aus: Vec<Vec<R>> = us
        .iter()
        .map(|u| {
            let mut au = vec![R::zero(); n];
            matvec(w, n, n, u, &mut au);
            au
        })
        .collect();
    for ((u, au), &l) in us.iter().zip(&aus).zip(&lams) {
        let si = R::c(1.0 / (1.0 + l).sqrt() - 1.0);
        for j in 0..n {
            let f = si * u[j];
            w[j * n..(j + 1) * n]
                .iter_mut()
                .zip(au)
                .for_each(|(d, &x)| *d += x * f);
        }
    }
    true
}

/// projUNN-T in place: `w ← w·exp(Ω)`, Ω = (â bᵀ − b âᵀ)/2 (â = wᵀ a), the projection of the
/// update a bᵀ onto the tangent space at w followed by the exponential map; Ω has rank 2, so
/// `exp(Ω) = I + Q (R_θ − I) Qᵀ` with a plane rotation R_θ.
pub fn projunn_t<R: Real>(w: &mut [R], n: usize, a: &[R], b: &[R]) {
    let mut ah = vec![R::zero(); n];
    matvec_t(w, n, n, a, &mut ah);
    let Some(q) = basis2(&ah, b) else {
        return;
    };
    if q.len() < 2 {
        return; // â ∥ b: the skew part vanishes
    }
    let aq: Vec<f64> = q.iter().map(|qi| dot(qi, &ah).f()).collect();
    let bq: Vec<f64> = q.iter().map(|qi| dot(qi, b).f()).collect();
    // Ω₂ = (â_q b_qᵀ − b_q â_qᵀ)/2 = [[0, −θ], [θ, 0]]
    let theta = 0.5 * (aq[1] * bq[0] - bq[1] * aq[0]);
    let (s, c) = theta.sin_cos();
    let m = [[c - 1.0, -s], [s, c - 1.0]]; // R_θ − I
    let mut wq = [vec![R::zero(); n], vec![R::zero(); n]];
    matvec(w, n, n, &q[0], &mut wq[0]);
    matvec(w, n, n, &q[1], &mut wq[1]);
    // w += Σ_{i,j} (W q_i) m_ij q_jᵀ
    for col in 0..n {
        let mut f = [R::zero(); 2];
        for (i, fi) in f.iter_mut().enumerate() {
            *fi = R::c(m[i][0] * q[0][col].f() + m[i][1] * q[1][col].f());
        }
        let dst = &mut w[col * n..(col + 1) * n];
        for r in 0..n {
            dst[r] += wq[0][r] * f[0] + wq[1][r] * f[1];
        }
    }
}
