//! Accumulator-width analysis by interval arithmetic over the actual codes
//! (`docs/fixed-point.md`, section 6).
//!
//! Every term's interval is widened to contain 0, so the row range bounds every partial sum
//! in any order: hardware may accumulate in whatever order suits it.

use crate::fixed::Bits;
use crate::model::{Activation, QuantizedModel};

/// A closed integer interval `[lo, hi]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    /// Lower bound.
    pub lo: i128,
    /// Upper bound.
    pub hi: i128,
}

impl Interval {
    /// The interval `[lo, hi]`.
    pub const fn new(lo: i128, hi: i128) -> Self {
        Interval { lo, hi }
    }

    /// The range of k-bit codes.
    pub fn of_bits(bits: Bits) -> Self {
        Interval::new(bits.min_code() as i128, bits.max_code() as i128)
    }

    /// The range of `c · v` for v in self.
    pub fn scale(self, c: i128) -> Self {
        let (a, b) = (self.lo * c, self.hi * c);
        Interval::new(a.min(b), a.max(b))
    }

    /// The smallest interval holding both self and 0.
    pub fn with_zero(self) -> Self {
        Interval::new(self.lo.min(0), self.hi.max(0))
    }

    /// The smallest interval holding both.
    pub fn hull(self, o: Interval) -> Self {
        Interval::new(self.lo.min(o.lo), self.hi.max(o.hi))
    }

    /// The signed width that holds the interval.
    pub fn bits(self) -> Bits {
        Bits::to_hold(self.lo, self.hi)
    }
}

impl std::ops::Add for Interval {
    type Output = Interval;

    /// The interval sum.
    fn add(self, o: Interval) -> Interval {
        Interval::new(self.lo + o.lo, self.hi + o.hi)
    }
}

/// The result of the analysis of one accumulator (hidden or output).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccumulatorWidth {
    /// The width the codes need.
    pub required: Bits,
    /// The row that needs it.
    pub worst_row: usize,
    /// The union of all rows' ranges (accumulator and, for the hidden one, activation).
    pub range: Interval,
}

/// Required widths of both accumulators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WidthReport {
    /// The hidden accumulator (holds acc, the activation, b and β).
    pub hidden: AccumulatorWidth,
    /// The output accumulator (holds y and c).
    pub output: AccumulatorWidth,
}

/// The range the hidden state's codes can take under this activation (it includes h₀ = 0).
pub fn hidden_range(model: &QuantizedModel) -> Interval {
    let full = Interval::of_bits(model.bits.activation);
    match model.activation {
        Activation::Relu => Interval::new(0, full.hi),
        Activation::Modrelu { .. } => full,
    }
}

/// Sum of the zero-widened term intervals `coeff · range · 2^shift`.
fn dot_range(row: &[i64], range: Interval, shift: u32) -> Interval {
    row.iter().fold(Interval::new(0, 0), |acc, &c| {
        acc + range.scale((c as i128) << shift).with_zero()
    })
}

/// Analyse a model whose widths and shapes are already valid (see
/// [`QuantizedModel::validate`], which calls this).
pub fn analyse(model: &QuantizedModel) -> WidthReport {
    let h = hidden_range(model);
    let x = Interval::of_bits(model.bits.input);
    let beta = model.modrelu_bias();
    let mut hidden = Worst::default();
    for i in 0..model.shape.hidden {
        let b = model.b[i] as i128;
        let acc = dot_range(&model.w[i], h, model.alignment.w_shift)
            + dot_range(&model.u[i], x, model.alignment.u_shift)
            + Interval::new(b, b).with_zero();
        let act = match beta {
            None => Interval::new(acc.lo.max(0), acc.hi.max(0)),
            Some(beta) => {
                let m = acc.lo.abs().max(acc.hi.abs()) + (beta[i] as i128).max(0);
                Interval::new(-m, m)
            }
        };
        let mut range = acc.hull(act);
        if let Some(beta) = beta {
            let bi = beta[i] as i128;
            range = range.hull(Interval::new(bi, bi));
        }
        hidden.see(i, range);
    }
    let mut output = Worst::default();
    for k in 0..model.shape.output {
        let c = model.c[k] as i128;
        let range = dot_range(&model.v[k], h, 0) + Interval::new(c, c).with_zero();
        output.see(k, range);
    }
    WidthReport {
        hidden: hidden.finish(),
        output: output.finish(),
    }
}

/// Running maximum of the required width over rows.
#[derive(Default)]
struct Worst {
    best: Option<(Bits, usize)>,
    range: Option<Interval>,
}

impl Worst {
    fn see(&mut self, row: usize, range: Interval) {
        let bits = range.bits();
        if self.best.is_none_or(|(b, _)| bits > b) {
            self.best = Some((bits, row));
        }
        self.range = Some(self.range.map_or(range, |r| r.hull(range)));
    }

    fn finish(self) -> AccumulatorWidth {
        let (required, worst_row) = self.best.unwrap_or((Bits::new(1), 0));
        AccumulatorWidth {
            required,
            worst_row,
            range: self.range.unwrap_or(Interval::new(0, 0)),
        }
    }
}
