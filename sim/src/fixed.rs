//! Integer primitives of the contract: bit widths, round-half-to-even shifts and saturation.
//!
//! These are the only arithmetic rules of `docs/fixed-point.md` beyond `+` and `*`; every
//! implementation (golden, rust-hdl, Verilog) must reproduce them exactly.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A two's-complement bit width, e.g. the 4 of "4-bit weights".
///
/// ```
/// use qornn_sim::Bits;
/// let b = Bits::new(4);
/// assert_eq!((b.min_code(), b.max_code()), (-8, 7));
/// assert!(b.contains(-8) && !b.contains(8));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Bits(pub u32);

impl Bits {
    /// A width of `k` bits.
    pub const fn new(k: u32) -> Self {
        Bits(k)
    }

    /// The number of bits.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// The most negative k-bit code, `-2^(k-1)`.
    pub const fn min_code(self) -> i64 {
        -(1i64 << (self.0 - 1))
    }

    /// The most positive k-bit code, `2^(k-1) - 1`.
    pub const fn max_code(self) -> i64 {
        (1i64 << (self.0 - 1)) - 1
    }

    /// Whether `v` is a k-bit code.
    pub const fn contains(self, v: i64) -> bool {
        v >= self.min_code() && v <= self.max_code()
    }

    /// The smallest signed width that holds every value of `[lo, hi]` (at least 1).
    ///
    /// ```
    /// use qornn_sim::Bits;
    /// assert_eq!(Bits::to_hold(-8, 7), Bits::new(4));
    /// assert_eq!(Bits::to_hold(0, 8), Bits::new(5));
    /// assert_eq!(Bits::to_hold(0, 0), Bits::new(1));
    /// ```
    pub fn to_hold(lo: i128, hi: i128) -> Self {
        let mut k = 1u32;
        while k < 127 {
            let min = -(1i128 << (k - 1));
            let max = (1i128 << (k - 1)) - 1;
            if lo >= min && hi <= max {
                break;
            }
            k += 1;
        }
        Bits(k)
    }
}

impl fmt::Display for Bits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bits", self.0)
    }
}

/// `p / 2^r` rounded to nearest, ties to even (`rhe` in the spec). `r` must be below 63.
///
/// ```
/// use qornn_sim::fixed::round_shift_half_even;
/// assert_eq!(round_shift_half_even(10, 2), 2); // 2.5 -> 2
/// assert_eq!(round_shift_half_even(14, 2), 4); // 3.5 -> 4
/// assert_eq!(round_shift_half_even(-14, 2), -4);
/// ```
#[inline]
pub fn round_shift_half_even(p: i64, r: u32) -> i64 {
    if r == 0 {
        return p;
    }
    let q = p >> r; // floor
    let e = p - (q << r); // 0 <= e < 2^r
    let half = 1i64 << (r - 1);
    if e > half || (e == half && (q & 1) == 1) {
        q + 1
    } else {
        q
    }
}

/// Clamp `v` to the `bits`-bit two's-complement range (`sat_k` in the spec).
#[inline]
pub fn saturate(v: i64, bits: Bits) -> i64 {
    v.clamp(bits.min_code(), bits.max_code())
}

/// The requantiser of one hidden unit: `sat_ka(rhe(a · M, r))`.
///
/// ```
/// use qornn_sim::{Bits, fixed::requantize};
/// // 59 · 3 / 8 = 22.125 -> 22 (the worked example of docs/fixed-point.md)
/// assert_eq!(requantize(59, 3, 3, Bits::new(8)), 22);
/// assert_eq!(requantize(59, 3, 3, Bits::new(4)), 7); // saturated
/// ```
#[inline]
pub fn requantize(a: i64, multiplier: i64, shift: u32, bits: Bits) -> i64 {
    saturate(round_shift_half_even(a * multiplier, shift), bits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The spec's table, computed by hand (docs/fixed-point.md, section 3).
    #[test]
    fn rounding_table_of_the_spec() {
        let table = [
            (10, 2, 2),
            (14, 2, 4),
            (11, 2, 3),
            (9, 2, 2),
            (-10, 2, -2),
            (-14, 2, -4),
            (-11, 2, -3),
            (-9, 2, -2),
            (7, 0, 7),
            (1, 1, 0),
            (3, 1, 2),
        ];
        for (p, r, want) in table {
            assert_eq!(round_shift_half_even(p, r), want, "rhe({p}, {r})");
        }
    }

    /// Independent reference: exact rational rounding with i128 division.
    fn rhe_reference(p: i64, r: u32) -> i64 {
        let den = 1i128 << r;
        let p = p as i128;
        let q = p.div_euclid(den);
        let twice_rem = 2 * p.rem_euclid(den);
        let out = match twice_rem.cmp(&den) {
            std::cmp::Ordering::Less => q,
            std::cmp::Ordering::Greater => q + 1,
            std::cmp::Ordering::Equal => {
                if q % 2 == 0 {
                    q
                } else {
                    q + 1
                }
            }
        };
        out as i64
    }

    proptest! {
        #[test]
        fn rhe_matches_rational_rounding(p in -(1i64 << 62)..(1i64 << 62), r in 0u32..40) {
            prop_assert_eq!(round_shift_half_even(p, r), rhe_reference(p, r));
        }

        #[test]
        fn rhe_is_within_half(p in -(1i64 << 50)..(1i64 << 50), r in 1u32..30) {
            let q = round_shift_half_even(p, r) as i128;
            let err = (q << r) - p as i128; // (q - p/2^r) · 2^r
            prop_assert!(err.abs() <= 1i128 << (r - 1));
            if err.abs() == 1i128 << (r - 1) {
                prop_assert_eq!(q % 2, 0, "a tie must round to even");
            }
        }

        #[test]
        fn rhe_is_odd_symmetric(p in -(1i64 << 50)..(1i64 << 50), r in 0u32..30) {
            // Ties to even is symmetric about zero, unlike ties away or ties up.
            prop_assert_eq!(round_shift_half_even(-p, r), -round_shift_half_even(p, r));
        }

        #[test]
        fn saturation_clamps_into_range(v in any::<i64>(), k in 2u32..=48) {
            let b = Bits::new(k);
            let s = saturate(v, b);
            prop_assert!(b.contains(s));
            if b.contains(v) { prop_assert_eq!(s, v); }
            else if v > 0 { prop_assert_eq!(s, b.max_code()); }
            else { prop_assert_eq!(s, b.min_code()); }
        }

        #[test]
        fn requantize_is_scaled_rounding(a in -(1i64 << 40)..(1i64 << 40), m in 1i64..(1 << 15), r in 0u32..=62, k in 4u32..=16) {
            let b = Bits::new(k);
            let exact = a as f64 * m as f64 / (2f64).powi(r as i32);
            let got = requantize(a, m, r, b);
            prop_assert!(b.contains(got));
            // Where the real value lies inside the range, the code is within 1/2 of it
            // (f64 is exact enough here: |a·M| < 2^55).
            if exact > b.min_code() as f64 && exact < b.max_code() as f64 {
                prop_assert!((got as f64 - exact).abs() <= 0.5);
            }
            prop_assert_eq!(got, saturate(rhe_reference(a * m, r), b));
        }

        #[test]
        fn to_hold_is_minimal(lo in -(1i128 << 70)..0i128, hi in 0i128..(1i128 << 70)) {
            let b = Bits::to_hold(lo, hi);
            let k = b.get();
            prop_assert!(lo >= -(1i128 << (k - 1)) && hi < (1i128 << (k - 1)));
            if k > 1 {
                let k = k - 1;
                prop_assert!(!(lo >= -(1i128 << (k - 1)) && hi < (1i128 << (k - 1))));
            }
        }
    }
}
