//! Weight ROM banks: one synchronous-read ROM per lane, with W, U and V interleaved so that a
//! lane reads exactly one weight per cycle, in the order the stream brings the operands.
//!
//! Lane p's bank holds, for each recurrent block b (rows i = b·P + p): W[i][0..n] then
//! U[i][0..m]; then, for each output block (rows k = b·P + p): V[k][0..n]. Rows past n (or d)
//! in the last block are zeros. With packed lanes a recurrent block has 2P rows and each word
//! holds two weights: row b·2P + P + p's above row b·2P + p's. The address of an operand is its position in the stream, so it
//! travels with the operand through the lanes.
//!
//! The ROM is a native leaf: a `reg` array with an `initial` block and a registered read, marked
//! `ram_style`/`rom_style` "block" so that yosys maps it to SB_RAM40_4K (iCE40) and DP16KD (ECP5)
//! rather than LUTs.

use crate::config::CoreConfig;
use crate::port::{to_bits, Port};
use qornn_sim::QuantizedModel;
use rust_hdl::prelude::*;

/// The words of lane `lane`'s bank, in address order (see the module docs). Packed, a
/// recurrent word holds the high row's weight above the low row's:
/// `w_hi·2^k_w + (w_lo mod 2^k_w)`.
pub fn lane_bank(model: &QuantizedModel, cfg: &CoreConfig, lane: usize) -> Vec<i64> {
    let (n, m, p) = (cfg.hidden, cfg.input, cfg.lanes);
    let rows = cfg.hidden_block_rows();
    let kw = cfg.weight_bits as usize;
    let mut out = Vec::with_capacity(cfg.rom_depth());
    // row i's weight at stream position j (W then U), zero past n
    let weight = |i: usize, j: usize| -> i64 {
        match (model.w.get(i), model.u.get(i)) {
            (Some(w), Some(u)) => {
                if j < n {
                    w[j]
                } else {
                    u[j - n]
                }
            }
            _ => 0,
        }
    };
    for b in 0..cfg.hidden_blocks() {
        let lo = b * rows + lane;
        for j in 0..n + m {
            out.push(if cfg.packed {
                let hi = weight(lo + p, j);
                hi * (1 << kw) + (weight(lo, j) & ((1 << kw) - 1))
            } else {
                weight(lo, j)
            });
        }
    }
    for b in 0..cfg.output_blocks() {
        let k = b * p + lane;
        let v = model.v.get(k);
        out.extend((0..n).map(|j| v.map_or(0, |r| r[j])));
    }
    out
}

/// A synchronous-read ROM: `data` is `contents[address]` one clock after `address`. Built
/// writable ([`WeightStore::Ram`](crate::WeightStore::Ram)), `we` writes `wdata` at `waddr`
/// (the loader's port; a read of the address being written returns the old word); otherwise
/// the write port is ignored and absent from the Verilog.
#[derive(LogicBlock)]
pub struct WeightRom {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Read address.
    pub address: Port<In>,
    /// The word at the address of the previous clock.
    pub data: Port<Out>,
    /// Write enable (writable banks only).
    pub we: Port<In>,
    /// Write address.
    pub waddr: Port<In>,
    /// Write data.
    pub wdata: Port<In>,
    _contents: Vec<u64>,
    _writable: bool,
}

impl WeightRom {
    /// A ROM of `contents` (signed values, stored as `width`-bit codes), `addr_bits` of address.
    pub fn new(contents: &[i64], width: usize, addr_bits: usize) -> Self {
        WeightRom {
            clock: Signal::default(),
            address: Port::new(addr_bits),
            data: Port::new(width),
            we: Port::bit(),
            waddr: Port::new(addr_bits),
            wdata: Port::new(width),
            _contents: contents.iter().map(|&v| to_bits(v, width)).collect(),
            _writable: false,
        }
    }

    /// The same memory with its write port enabled (initial contents kept).
    pub fn writable(mut self) -> Self {
        self._writable = true;
        self
    }

    /// Flip one stored bit (fault injection); false when out of range.
    pub fn flip_bit(&mut self, address: usize, bit: usize) -> bool {
        let width = self.data.width();
        match self._contents.get_mut(address) {
            Some(word) if bit < width => {
                *word ^= 1 << bit;
                true
            }
            _ => false,
        }
    }

    /// Number of words.
    pub fn depth(&self) -> usize {
        self._contents.len()
    }
}

impl Logic for WeightRom {
    #[inline]
    fn update(&mut self) {
        if self.clock.pos_edge() {
            let a = self.address.val() as usize;
            self.data.next = self._contents.get(a).copied().unwrap_or(0);
            if self._writable && self.we.is_high() {
                if let Some(word) = self._contents.get_mut(self.waddr.val() as usize) {
                    *word = self.wdata.val();
                }
            }
        }
    }

    fn connect(&mut self) {
        self.data.connect();
    }

    fn hdl(&self) -> Verilog {
        let w = self.data.width();
        let digits = w.div_ceil(4);
        let mut init = String::new();
        for (a, v) in self._contents.iter().enumerate() {
            init += &format!("   mem[{a}] = {w}'h{v:0digits$x};\n");
        }
        Verilog::Custom(format!(
            "(* ram_style = \"block\", rom_style = \"block\" *)
reg [{w1}:0] mem [0:{last}];
initial begin
{init}end
always @(posedge clock) begin
   data <= mem[address];
end{write}",
            w1 = w - 1,
            last = self._contents.len().max(1) - 1,
            write = if self._writable {
                "\n// The loader's write port (run-time weights).\nalways @(posedge clock) begin\n   if (we) mem[waddr] <= wdata;\nend"
            } else {
                ""
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CoreOptions;
    use qornn_sim::random::{random_model, RandomSpec};
    use qornn_sim::Shape;

    #[test]
    fn banks_interleave_w_u_v_per_lane() {
        let model = random_model(&RandomSpec::new(Shape::new(5, 2, 3), 4, 3));
        let cfg = CoreConfig::new(&model, &CoreOptions::new(2)).unwrap();
        let bank = lane_bank(&model, &cfg, 1);
        assert_eq!(bank.len(), cfg.rom_depth());
        // block 0 of lane 1 is row 1: W[1][..], U[1][..]
        assert_eq!(&bank[0..5], &model.w[1][..]);
        assert_eq!(&bank[5..7], &model.u[1][..]);
        // block 2 of lane 1 would be row 5 (past n = 5): zeros
        assert!(bank[14..21].iter().all(|&v| v == 0));
        // output block 0 of lane 1 is V[1]
        assert_eq!(&bank[21..26], &model.v[1][..]);
        // output block 1 of lane 1 would be row 3 (past d = 3): zeros
        assert!(bank[26..31].iter().all(|&v| v == 0));
    }

    #[test]
    fn packed_banks_hold_two_rows_a_word() {
        let model = random_model(&RandomSpec::new(Shape::new(10, 2, 3), 4, 5));
        let cfg = CoreConfig::new(
            &model,
            &CoreOptions::with(2, crate::config::Multipliers::Packed),
        )
        .unwrap();
        assert!(cfg.packed);
        let bank = lane_bank(&model, &cfg, 1);
        assert_eq!(bank.len(), cfg.rom_depth());
        // block 0 of lane 1: rows 1 (low) and 3 (high), W then U
        for (j, &word) in bank[..12].iter().enumerate() {
            let (lo, hi) = if j < 10 {
                (model.w[1][j], model.w[3][j])
            } else {
                (model.u[1][j - 10], model.u[3][j - 10])
            };
            assert_eq!(word >> 4, hi, "high weight of column {j}");
            assert_eq!(((word & 15) ^ 8) - 8, lo, "low weight of column {j}");
        }
        // block 2 of lane 1: row 9 (low) and row 11 (past n: zero)
        assert!((0..12).all(|j| bank[24 + j] >> 4 == 0));
        // output block 0 of lane 1 is V[1], one weight a word
        assert_eq!(&bank[36..46], &model.v[1][..]);
    }

    #[test]
    fn rom_reads_one_clock_late_and_emits_block_ram() {
        let mut rom = WeightRom::new(&[3, -4, 7, -8], 4, 2);
        rom.connect_all();
        for (addr, want) in [(1u64, -4i64), (3, -8), (0, 3)] {
            rom.address.next = addr;
            rom.clock.next = Clock { clk: false };
            simulate(&mut rom, 10);
            assert_ne!(rom.data.val_i64(), want, "must not read before the edge");
            rom.clock.next = Clock { clk: true };
            simulate(&mut rom, 10);
            assert_eq!(rom.data.val_i64(), want);
        }
        let Verilog::Custom(v) = rom.hdl() else {
            panic!("custom Verilog expected")
        };
        assert!(v.contains("rom_style = \"block\""));
        assert!(v.contains("mem[1] = 4'hc;"), "{v}");
    }
}
