//! The text protocol between qornn and its testbenches: the stimulus file (`$readmemh`, one
//! word `{x_data, start}` per step) and the `STEP <cycles> <y hex> <h hex>` lines they print.

use super::*;
use crate::board::CorePorts;
use qornn_sim::{Sequence, Trace};
use std::path::Path;
use std::time::Duration;

/// The stimulus file: one `{x_data, start}` word per step, in hex.
pub fn stimulus_memh(ports: &CorePorts, seqs: &[Sequence]) -> String {
    let kx = ports.input_bits as usize;
    let width = ports.inputs * kx + 1;
    let mut out = String::new();
    for seq in seqs {
        for t in 0..seq.steps() {
            let mut bits = vec![false; width];
            bits[0] = t == 0;
            for (j, &code) in seq.step(t).iter().enumerate() {
                for b in 0..kx {
                    bits[1 + j * kx + b] = (code >> b) & 1 == 1;
                }
            }
            out += &to_hex(&bits);
            out.push('\n');
        }
    }
    out
}

pub(super) fn to_hex(bits: &[bool]) -> String {
    let digits = bits.len().div_ceil(4);
    (0..digits)
        .rev()
        .map(|d| {
            let v = (0..4).fold(0u32, |acc, b| {
                acc | ((bits.get(d * 4 + b).copied().unwrap_or(false) as u32) << b)
            });
            char::from_digit(v, 16).expect("a nibble")
        })
        .collect()
}

/// Bits of a hex string, least significant first.
pub(super) fn from_hex(hex: &str) -> Option<Vec<bool>> {
    let mut bits = Vec::with_capacity(hex.len() * 4);
    for c in hex.chars().rev() {
        let v = c.to_digit(16)?;
        for b in 0..4 {
            bits.push((v >> b) & 1 == 1);
        }
    }
    Some(bits)
}

/// Field `index` of `bits` wide (at most 64), sign-extended.
pub(super) fn field(bits: &[bool], index: usize, width: u32) -> i64 {
    let width = width.clamp(1, 64);
    let w = width as usize;
    let mut v: i64 = 0;
    for b in (0..w).rev() {
        v = (v << 1) | bits.get(index * w + b).copied().unwrap_or(false) as i64;
    }
    let shift = 64 - width;
    (v << shift) >> shift
}

/// Parse the `STEP` lines into traces, cutting at sequence boundaries.
pub(super) fn parse_steps(
    sim: &'static str,
    text: &str,
    dut: &Dut,
    seqs: &[Sequence],
) -> Result<(Vec<Trace>, Vec<u64>), CosimError> {
    let bad = |problem: String| CosimError::Output { sim, problem };
    let p = &dut.ports;
    let n = dut.hidden.as_ref().map_or(0, |h| h.hidden);
    let mut lines = text.lines().filter(|l| l.starts_with("STEP "));
    let mut traces = Vec::with_capacity(seqs.len());
    let mut cycles = Vec::new();
    let mut y = vec![0i64; p.outputs];
    let mut h = vec![0i32; n];
    for (s, seq) in seqs.iter().enumerate() {
        let mut trace = Trace::with_capacity(n, p.outputs, seq.steps());
        for t in 0..seq.steps() {
            let line = lines.next().ok_or_else(|| {
                bad(format!(
                    "it stopped before sequence {s}, step {t} (see its log)"
                ))
            })?;
            let mut parts = line.split_whitespace().skip(1);
            let c = parts.next().and_then(|c| c.parse::<u64>().ok());
            let yb = parts.next().and_then(from_hex);
            let hb = if n > 0 {
                parts.next().and_then(from_hex)
            } else {
                Some(Vec::new())
            };
            let (Some(c), Some(yb), Some(hb)) = (c, yb, hb) else {
                return Err(bad(format!("malformed line `{line}`")));
            };
            for (k, v) in y.iter_mut().enumerate() {
                *v = field(&yb, k, p.output_bits);
            }
            if let Some(hp) = &dut.hidden {
                for (i, v) in h.iter_mut().enumerate() {
                    *v = field(&hb, i, hp.bits) as i32;
                }
            }
            trace.push(&h, &y);
            cycles.push(c);
        }
        traces.push(trace);
    }
    Ok((traces, cycles))
}

pub(super) fn collect(
    sim: &'static str,
    dut: &Dut,
    seqs: &[Sequence],
    log: &Path,
    wall: Duration,
    build: Duration,
) -> Result<CosimRun, CosimError> {
    let text = std::fs::read_to_string(log).map_err(|source| CosimError::Io {
        path: log.to_owned(),
        source,
    })?;
    let (traces, cycles) = parse_steps(sim, &text, dut, seqs)?;
    let total_cycles = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("CYCLES ")
                .and_then(|c| c.trim().parse().ok())
        })
        .unwrap_or(0);
    Ok(CosimRun {
        traces,
        cycles,
        total_cycles,
        wall,
        build,
        executable: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_fields_round_trip_signed_codes() {
        let mut bits = Vec::new();
        for &v in &[-3i64, 5, -128, 127] {
            for b in 0..8 {
                bits.push((v >> b) & 1 == 1);
            }
        }
        let hex = to_hex(&bits);
        assert_eq!(hex, "7f8005fd");
        let back = from_hex(&hex).unwrap();
        let vals: Vec<i64> = (0..4).map(|i| field(&back, i, 8)).collect();
        assert_eq!(vals, vec![-3, 5, -128, 127]);
    }
}
