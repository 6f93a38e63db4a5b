//! The float type of the training code, small linear-algebra helpers over column-major slices,
//! and the denormal flush.
//!
//! Everything numeric in this crate is generic over [`Real`] (`f32` for training, `f64` for the
//! finite-difference checks). Matrices are plain column-major `Vec`s viewed through faer, so that
//! parameters, optimiser state and checkpoints are flat vectors.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use std::fmt::Debug;

/// A real float type the training code runs on (`f32` or `f64`).
pub trait Real:
    faer::traits::RealField
    + num_traits::Float
    + Copy
    + Default
    + Debug
    + Send
    + Sync
    + std::iter::Sum
    + std::ops::AddAssign
    + std::ops::SubAssign
    + std::ops::MulAssign
    + 'static
{
    /// `x` converted (rounded) to this type.
    fn c(x: f64) -> Self;
    /// The value as `f64`.
    fn f(self) -> f64;
    /// tanh as the LSTM's gates compute it: for `f32` (training) the branch-free rational
    /// approximation [`tanh_f32`], which loops over slices vectorise; for `f64` (the
    /// finite-difference checks) the exact function.
    fn gate_tanh(self) -> Self;
    /// The logistic function through [`Real::gate_tanh`]: σ(x) = (1 + tanh(x/2)) / 2.
    #[inline]
    fn sigmoid(self) -> Self {
        let half = Self::c(0.5);
        half + half * (half * self).gate_tanh()
    }
}

impl Real for f32 {
    #[inline]
    fn c(x: f64) -> Self {
        x as f32
    }
    #[inline]
    fn f(self) -> f64 {
        self as f64
    }
    #[inline]
    fn gate_tanh(self) -> Self {
        tanh_f32(self)
    }
}

impl Real for f64 {
    #[inline]
    fn c(x: f64) -> Self {
        x
    }
    #[inline]
    fn f(self) -> f64 {
        self
    }
    #[inline]
    fn gate_tanh(self) -> Self {
        self.tanh()
    }
}

/// tanh in `f32` as a ratio of an odd degree-13 and an even degree-6 polynomial on
/// [−7.9053, 7.9053] (outside, tanh rounds to ±1 in `f32`): the approximation of Eigen's
/// `ptanh_float`, within 5·10⁻⁷ of the exact value (tested; 4.1·10⁻⁷ at worst). libm's
/// `tanhf` and `expf` took about 80 % of an LSTM training step; this has no branch and no
/// call, so the gate loops vectorise.
#[inline]
pub fn tanh_f32(x: f32) -> f32 {
    const CLAMP: f32 = 7.905_311;
    const A: [f32; 7] = [
        4.893_524_6e-3,
        6.372_619_3e-4,
        1.485_722_4e-5,
        5.122_297e-8,
        -8.604_672e-11,
        2.000_188e-13,
        -2.760_768_5e-16,
    ];
    const B: [f32; 4] = [4.893_525e-3, 2.268_434_6e-3, 1.185_347_1e-4, 1.198_258_4e-6];
    let x = x.clamp(-CLAMP, CLAMP);
    let x2 = x * x;
    let mut p = A[6];
    for a in A[..6].iter().rev() {
        p = p * x2 + a;
    }
    let mut q = B[3];
    for b in B[..3].iter().rev() {
        q = q * x2 + b;
    }
    x * p / q
}

/// A column-major `rows × cols` view of `s`.
#[inline]
pub fn view<R: Real>(s: &[R], rows: usize, cols: usize) -> MatRef<'_, R> {
    MatRef::from_column_major_slice(&s[..rows * cols], rows, cols)
}

/// A mutable column-major `rows × cols` view of `s`.
#[inline]
pub fn view_mut<R: Real>(s: &mut [R], rows: usize, cols: usize) -> MatMut<'_, R> {
    MatMut::from_column_major_slice_mut(&mut s[..rows * cols], rows, cols)
}

/// `dst = alpha·a·b` (or `dst += alpha·a·b` when `add`), single-threaded.
#[inline]
pub fn gemm<R: Real>(dst: MatMut<'_, R>, add: bool, a: MatRef<'_, R>, b: MatRef<'_, R>, alpha: R) {
    let acc = if add { Accum::Add } else { Accum::Replace };
    matmul(dst, acc, a, b, alpha, Par::Seq);
}

/// `‖AᵀA − I‖_F` of a square column-major matrix (distance from the orthogonal group).
pub fn orthogonality_error<R: Real>(a: &[R], n: usize) -> f64 {
    let mut g = vec![R::zero(); n * n];
    gemm(
        view_mut(&mut g, n, n),
        false,
        view(a, n, n).transpose(),
        view(a, n, n),
        R::one(),
    );
    let mut s = 0.0;
    for j in 0..n {
        for i in 0..n {
            let e = g[i + j * n].f() - if i == j { 1.0 } else { 0.0 };
            s += e * e;
        }
    }
    s.sqrt()
}

/// Set flush-to-zero and denormals-are-zero for the calling thread.
///
/// Gradients shrinking over hundreds of steps become denormal floats, which run many times
/// slower; every worker thread calls this before its first floating-point work.
pub fn flush_denormals() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: reads and writes the MXCSR control register of this thread only; bits 15 (FTZ)
    // and 6 (DAZ) change how denormal results and operands are treated, nothing else.
    unsafe {
        let mut csr: u32 = 0;
        std::arch::asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack));
        csr |= 0x8040;
        std::arch::asm!("ldmxcsr [{}]", in(reg) &csr, options(nostack));
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: sets the FZ bit (24) of this thread's FPCR; only denormal handling changes.
    unsafe {
        let mut fpcr: u64;
        std::arch::asm!("mrs {}, fpcr", out(reg) fpcr, options(nostack));
        fpcr |= 1 << 24;
        std::arch::asm!("msr fpcr, {}", in(reg) fpcr, options(nostack));
    }
}

/// Dot product of two slices.
#[inline]
pub fn dot<R: Real>(a: &[R], b: &[R]) -> R {
    a.iter().zip(b).fold(R::zero(), |s, (&x, &y)| s + x * y)
}

/// Euclidean norm of a slice.
#[inline]
pub fn norm<R: Real>(a: &[R]) -> R {
    dot(a, a).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The f32 gate functions against f64's exact ones over [−12, 12] (and the limits).
    #[test]
    fn gate_tanh_and_sigmoid_are_within_a_few_ulp() {
        let mut worst = (0.0f64, 0.0f64);
        for i in -240_000..=240_000 {
            // the f32 input itself, so that only the function's error is measured
            let x = (i as f64 * 5e-5) as f32;
            let e = x as f64;
            let t = (tanh_f32(x) as f64 - e.tanh()).abs();
            let s = (x.sigmoid() as f64 - 1.0 / (1.0 + (-e).exp())).abs();
            worst = (worst.0.max(t), worst.1.max(s));
        }
        assert!(worst.0 < 5e-7 && worst.1 < 5e-7, "worst errors {worst:?}");
        assert_eq!((tanh_f32(40.0), tanh_f32(-40.0)), (1.0, -1.0));
        assert_eq!(tanh_f32(0.0), 0.0);
        assert!(tanh_f32(f32::NAN).is_nan());
    }
}
