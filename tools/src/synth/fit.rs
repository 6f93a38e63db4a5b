//! Whether a core fits a device, before synthesis: its block RAMs counted from the core's own
//! memories ([`CoreConfig::memories`]) and the family's block-RAM shapes, its DSP blocks from
//! its lanes. `qornn model check --target` prints it; the counts match yosys' mapping of the
//! emitted Verilog (each memory in the fewest blocks of one shape).

use super::{Resource, Target, Usage};
use qornn_hdl::{CoreConfig, Memory};
use serde::Serialize;

/// One memory (or `count` alike) and the block RAMs it takes.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryFit {
    /// What it holds.
    pub name: &'static str,
    /// How many alike.
    pub count: usize,
    /// Words.
    pub depth: usize,
    /// Bits per word.
    pub width: usize,
    /// Block RAMs for one of them.
    pub blocks_each: usize,
}

/// The fit of one core on one device.
#[derive(Debug, Clone, Serialize)]
pub struct Fit {
    /// The device's name.
    pub target: &'static str,
    /// Each memory and its blocks.
    pub memories: Vec<MemoryFit>,
    /// Block RAMs, the board top's receive FIFO included.
    pub block_rams: Usage,
    /// DSP blocks (one per DSP lane).
    pub dsps: Usage,
    /// SPRAM blocks (the lane banks with `--weights spram`; otherwise none).
    pub sprams: Usage,
}

/// Block RAMs of one shape list for a memory of `depth` × `width`: the best single shape.
pub fn blocks_for(shapes: &[(usize, usize)], depth: usize, width: usize) -> usize {
    shapes
        .iter()
        .map(|&(d, w)| depth.div_ceil(d) * width.div_ceil(w))
        .min()
        .unwrap_or(usize::MAX)
}

impl Fit {
    /// The core of `cfg` inside a board top with a `fifo_bytes` receive FIFO, on `target`.
    pub fn of(cfg: &CoreConfig, target: Target, fifo_bytes: usize) -> Fit {
        let shapes = target.family().block_ram_shapes;
        let mut mems = cfg.memories();
        mems.push(Memory {
            name: "board top receive FIFO",
            count: 1,
            depth: fifo_bytes,
            width: 8,
        });
        let memories: Vec<MemoryFit> = mems
            .iter()
            .map(|m| MemoryFit {
                name: m.name,
                count: m.count,
                depth: m.depth,
                width: m.width,
                blocks_each: blocks_for(shapes, m.depth, m.width),
            })
            .collect();
        let used = memories.iter().fold(0usize, |s, m| {
            s.saturating_add(m.count.saturating_mul(m.blocks_each))
        });
        Fit {
            target: target.name(),
            memories,
            block_rams: Usage {
                used: used as u64,
                available: target.capacity(Resource::BlockRams),
            },
            dsps: Usage {
                used: cfg.multipliers.dsp_lanes(cfg.lanes) as u64,
                available: target.capacity(Resource::Dsps),
            },
            sprams: Usage {
                used: cfg.sprams() as u64,
                available: target.capacity(Resource::Sprams),
            },
        }
    }

    /// Block RAMs, DSPs and SPRAMs all fit.
    pub fn fits(&self) -> bool {
        self.block_rams.fits() && self.dsps.fits() && self.sprams.fits()
    }

    /// What does not fit, in words (empty when it fits).
    pub fn refusals(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (need, what) in [
            (self.block_rams, "block RAMs"),
            (self.dsps, "DSP blocks"),
            (self.sprams, "SPRAM blocks"),
        ] {
            if !need.fits() {
                out.push(format!(
                    "needs {} {what}, {} has {}",
                    need.used, self.target, need.available
                ));
            }
        }
        out
    }

    /// The fit as text, one memory a line.
    pub fn text(&self) -> String {
        let mut s = format!("  fit on {}:\n", self.target);
        for m in &self.memories {
            s += &format!(
                "    {:<28} {:>3} × {:>6} words × {:>2} bits: {:>3} block RAM{}\n",
                m.name,
                m.count,
                m.depth,
                m.width,
                m.count * m.blocks_each,
                if m.count * m.blocks_each == 1 {
                    ""
                } else {
                    "s"
                }
            );
        }
        s += &format!(
            "    block RAMs {} of {}, DSP blocks {} of {}, SPRAMs {} of {} (the weights live in {})\n",
            self.block_rams.used,
            self.block_rams.available,
            self.dsps.used,
            self.dsps.available,
            self.sprams.used,
            self.sprams.available,
            if self.sprams.used > 0 {
                "SPRAM"
            } else {
                "block RAM"
            }
        );
        s += &if self.fits() {
            "    fits (LUTs and speed: after synthesis, `qornn synth`)\n".to_string()
        } else {
            format!("    does not fit: {}\n", self.refusals().join("; "))
        };
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_take_the_best_single_shape() {
        let ice40 = super::super::ICE40.block_ram_shapes;
        // 2320 four-bit words: three 1024 × 4 blocks (two 2048 × 2 would need two columns).
        assert_eq!(blocks_for(ice40, 2320, 4), 3);
        assert_eq!(blocks_for(ice40, 128, 17), 2); // two 256 × 16 side by side
        assert_eq!(blocks_for(ice40, 512, 8), 1);
        let ecp5 = super::super::ECP5.block_ram_shapes;
        assert_eq!(blocks_for(ecp5, 1160, 4), 1); // one 4096 × 4
        assert_eq!(blocks_for(ecp5, 128, 17), 1); // one 1024 × 18
    }
}
