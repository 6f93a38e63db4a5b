//! Memory budgets: refuse work that cannot fit before allocating for it.
//!
//! Sizes come from users (`--batch`, `--delay`, `--steps`, a model's n). Allocating from such a
//! number without a look first ends in "memory allocation of 480000000000 bytes failed" and a
//! SIGABRT, which no caller can catch. Every command that allocates in proportion to a user's
//! number estimates the bytes first and asks [`check`], which compares them with what the
//! machine has and says which option to lower.

use std::fmt;

/// Why a piece of work was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} would need {} of memory, but this machine has {} available: {hint}",
    Bytes(*.needed), Bytes(*.available))]
pub struct MemoryError {
    /// What would have been allocated.
    pub what: String,
    /// The estimate.
    pub needed: u64,
    /// What the machine offers.
    pub available: u64,
    /// Which option to lower.
    pub hint: String,
}

/// A byte count printed the way people read it (`1.5 GiB`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
        let mut v = self.0 as f64;
        let mut u = 0;
        while v >= 1024.0 && u + 1 < UNITS.len() {
            v /= 1024.0;
            u += 1;
        }
        if u == 0 {
            write!(f, "{} B", self.0)
        } else {
            write!(f, "{v:.1} {}", UNITS[u])
        }
    }
}

/// Memory this process may use: `MemAvailable` of `/proc/meminfo`, or, where that cannot be
/// read, 16 GiB (a figure that still refuses the absurd while letting real work through).
pub fn available() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| parse_meminfo(&text))
        .unwrap_or(16 << 30)
}

fn parse_meminfo(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// The product of `factors` in bytes, or `u64::MAX` when it overflows (which [`check`] then
/// refuses like any other impossible size).
pub fn product(factors: &[u64]) -> u64 {
    factors
        .iter()
        .try_fold(1u64, |acc, &f| acc.checked_mul(f))
        .unwrap_or(u64::MAX)
}

/// Refuse `needed` bytes of `what` when they exceed 90 % of [`available`] memory; `hint` names
/// the option to lower.
pub fn check(what: &str, needed: u64, hint: &str) -> Result<(), MemoryError> {
    check_against(what, needed, available(), hint)
}

/// [`check`] against a given amount of memory (for tests and for callers with a budget).
pub fn check_against(
    what: &str,
    needed: u64,
    available: u64,
    hint: &str,
) -> Result<(), MemoryError> {
    if needed <= available / 10 * 9 {
        Ok(())
    } else {
        Err(MemoryError {
            what: what.to_string(),
            needed,
            available,
            hint: hint.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_is_read_in_kib() {
        let text = "MemTotal:       24000000 kB\nMemFree:  100 kB\nMemAvailable:   2000 kB\n";
        assert_eq!(parse_meminfo(text), Some(2_048_000));
        assert_eq!(parse_meminfo("MemTotal: 5 kB\n"), None);
    }

    #[test]
    fn an_overflowing_product_is_refused() {
        assert_eq!(product(&[1 << 40, 1 << 40]), u64::MAX);
        assert_eq!(product(&[3, 4, 5]), 60);
        let e = check_against("the states", u64::MAX, 1 << 30, "lower --batch").unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("the states") && text.contains("lower --batch"),
            "{text}"
        );
        assert!(check_against("x", 900, 1000, "").is_ok());
        assert!(check_against("x", 901, 1000, "").is_err());
    }

    #[test]
    fn bytes_read_like_a_person_writes_them() {
        assert_eq!(Bytes(512).to_string(), "512 B");
        assert_eq!(Bytes(3 << 29).to_string(), "1.5 GiB");
    }
}
