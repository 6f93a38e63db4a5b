//! A network's parameters, or the gradients of a loss with respect to them (one type for
//! both), seen as a fixed list of flat tensors: all that the optimiser, gradient clipping and
//! the reduction of the workers' shares of a batch need to know of a network. The ORNN's
//! [`crate::bptt::Params`] and the LSTM's [`crate::lstm::LstmParams`] implement it.

use crate::bptt::Stats;
use crate::real::Real;

/// A fixed list of `N` flat tensors, in the optimiser's order.
pub trait Tensors<R: Real, const N: usize> {
    /// The tensors, in a fixed order (the optimiser's slots).
    fn parts(&self) -> [&Vec<R>; N];

    /// The tensors, mutable, in the same order.
    fn parts_mut(&mut self) -> [&mut Vec<R>; N];

    /// Add `other` element-wise (one worker's share of a batch's gradient into another's).
    fn add(&mut self, other: &Self) {
        for (a, b) in self.parts_mut().into_iter().zip(other.parts()) {
            a.iter_mut().zip(b).for_each(|(x, &y)| *x += y);
        }
    }

    /// The tensors' lengths, in order.
    fn sizes(&self) -> Vec<usize> {
        self.parts().iter().map(|p| p.len()).collect()
    }
}

/// Merge the shares of the first `used` workers of a batch into the first worker's: their
/// statistics always, their gradients (into the first worker's) with `backward`. `share`
/// names a worker's statistics and gradient buffer.
pub(crate) fn reduce_shares<W, G, R, const N: usize>(
    workers: &mut [W],
    used: usize,
    backward: bool,
    share: impl Fn(&mut W) -> (Stats, &mut G),
) -> Stats
where
    R: Real,
    G: Tensors<R, N>,
{
    let Some((first, rest)) = workers.split_first_mut() else {
        return Stats::default();
    };
    let (mut stats, total) = share(first);
    for ws in rest.iter_mut().take(used.saturating_sub(1)) {
        let (s, g) = share(ws);
        stats.merge(&s);
        if backward {
            total.add(g);
        }
    }
    stats
}
