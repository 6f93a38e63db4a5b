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
