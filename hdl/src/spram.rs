//! Lane banks in the UP5K's SPRAM ([`WeightStore::Spram`](crate::WeightStore::Spram)).
//!
//! SB_SPRAM256KA is single-ported, 16 k words of 16 bits, with a write mask of one bit per
//! nibble and no initial contents. G = ⌊16/s⌋ lanes share one block (s: the bank word width
//! rounded up to whole nibbles), lane g·G + i in slot i (bits i·s and up). Only lane g·G's
//! address reaches the block: the token chain registers every lane's address once, so lane
//! g·G + i presents the same address i clocks later, and its slot is delayed by i registers
//! after the block's output. Each lane then sees exactly what a bank of its own would return.
//!
//! Writes (the loader, while the core is idle) take the address port: one slot's nibbles are
//! written and the block's output reads 0 that clock (the vendor's model: undefined), so a
//! load during a run would corrupt that run's reads, as it would its weights anyway.

use crate::config::{CoreConfig, SPRAM_WIDTH};
use crate::port::{mask, Port};
use rust_hdl::prelude::*;

/// Most lanes one SPRAM serves (4-bit slots).
pub const MAX_SLOTS: usize = SPRAM_WIDTH / 4;

/// One SPRAM and the slot delays of the lanes it serves.
#[derive(LogicBlock)]
pub struct SpramBank {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// The first lane's read address.
    pub address: Port<In>,
    /// Slot 0's word (the first lane's), one clock after `address`.
    pub data0: Port<Out>,
    /// Slot 1's word, one clock later.
    pub data1: Port<Out>,
    /// Slot 2's word, two clocks later.
    pub data2: Port<Out>,
    /// Slot 3's word, three clocks later.
    pub data3: Port<Out>,
    /// Write slot 0 (the loader's port).
    pub we0: Port<In>,
    /// Write slot 1.
    pub we1: Port<In>,
    /// Write slot 2.
    pub we2: Port<In>,
    /// Write slot 3.
    pub we3: Port<In>,
    /// Write address.
    pub waddr: Port<In>,
    /// Write data (one bank word).
    pub wdata: Port<In>,
    _mem: Vec<u64>,
    _slots: usize,
    _slot_bits: usize,
    _dout: u64,
    _delay: Vec<Vec<u64>>,
}

impl SpramBank {
    /// The block serving `slots` lanes of `cfg` (its banks' width and address bits).
    pub fn new(cfg: &CoreConfig, slots: usize) -> Self {
        let (w, ab) = (cfg.rom_bits(), cfg.rom_addr_bits());
        SpramBank {
            clock: Signal::default(),
            address: Port::new(ab),
            data0: Port::new(w),
            data1: Port::new(w),
            data2: Port::new(w),
            data3: Port::new(w),
            we0: Port::bit(),
            we1: Port::bit(),
            we2: Port::bit(),
            we3: Port::bit(),
            waddr: Port::new(ab),
            wdata: Port::new(w),
            _mem: vec![0; cfg.rom_depth().max(1)],
            _slots: slots.clamp(1, MAX_SLOTS),
            _slot_bits: cfg.spram_slot_bits(),
            _dout: 0,
            _delay: (0..MAX_SLOTS).map(|i| vec![0; i]).collect(),
        }
    }

    /// Lanes served.
    pub fn slots(&self) -> usize {
        self._slots
    }

    /// Flip one stored bit of slot `slot`'s word at `address` (fault injection).
    pub fn flip_bit(&mut self, slot: usize, address: usize, bit: usize) -> bool {
        let w = self.data0.width();
        match self._mem.get_mut(address) {
            Some(word) if bit < w && slot < self._slots => {
                *word ^= 1 << (slot * self._slot_bits + bit);
                true
            }
            _ => false,
        }
    }

    /// Slot `slot`'s word (the lane's weight).
    pub fn data(&self, slot: usize) -> u64 {
        [&self.data0, &self.data1, &self.data2, &self.data3][slot.min(MAX_SLOTS - 1)].val()
    }

    /// Slot `slot`'s write enable.
    pub fn we(&mut self, slot: usize) -> &mut Port<In> {
        match slot {
            0 => &mut self.we0,
            1 => &mut self.we1,
            2 => &mut self.we2,
            _ => &mut self.we3,
        }
    }

    fn slot_word(&self, word: u64, slot: usize) -> u64 {
        (word >> (slot * self._slot_bits)) & mask(self.data0.width())
    }
}

impl Logic for SpramBank {
    #[inline]
    fn update(&mut self) {
        if self.clock.pos_edge() {
            let we = [&self.we0, &self.we1, &self.we2, &self.we3].map(|p| p.is_high());
            let old = self._dout;
            // Each slot's delay line shifts in what the block returned last clock.
            for (i, line) in self._delay.iter_mut().enumerate().skip(1) {
                line.rotate_right(1);
                line[0] = (old >> (i * self._slot_bits)) & mask(self._slot_bits);
            }
            if we.iter().any(|&b| b) {
                let s = self._slot_bits;
                if let Some(word) = self._mem.get_mut(self.waddr.val() as usize) {
                    for (i, _) in we.iter().enumerate().filter(|(_, &b)| b) {
                        let m = mask(s) << (i * s);
                        *word = (*word & !m) | ((self.wdata.val() << (i * s)) & m);
                    }
                }
                self._dout = 0;
            } else {
                self._dout = self
                    ._mem
                    .get(self.address.val() as usize)
                    .copied()
                    .unwrap_or(0);
            }
            self.data0.next = self.slot_word(self._dout, 0);
            let w = self.data0.width();
            let last = |line: &Vec<u64>| line.last().copied().unwrap_or(0) & mask(w);
            self.data1.next = last(&self._delay[1]);
            self.data2.next = last(&self._delay[2]);
            self.data3.next = last(&self._delay[3]);
        }
    }

    fn connect(&mut self) {
        self.data0.connect();
        self.data1.connect();
        self.data2.connect();
        self.data3.connect();
    }

    fn hdl(&self) -> Verilog {
        let (w, s, ab) = (self.data0.width(), self._slot_bits, self.address.width());
        let wide = |name: &str| {
            if ab < 14 {
                format!("{{{}'d0, {name}}}", 14 - ab)
            } else {
                name.to_string()
            }
        };
        let slots = self._slots;
        // every slot gets the word, zero-extended to its nibbles; the mask picks the slot
        let pad = |x: &str| {
            if s > w {
                format!("{{{}'d0, {x}}}", s - w)
            } else {
                x.to_string()
            }
        };
        let unused = SPRAM_WIDTH - slots * s;
        let mut datain: Vec<String> = (0..slots).rev().map(|_| pad("wdata")).collect();
        let mut maskwren: Vec<String> = (0..slots)
            .rev()
            .map(|i| format!("{{{}{{we{i}}}}}", s / 4))
            .collect();
        if unused > 0 {
            datain.insert(0, format!("{unused}'d0"));
            maskwren.insert(0, format!("{}'d0", unused / 4));
        }
        let mut regs = String::new();
        let mut shifts = String::new();
        let mut outs = String::new();
        for i in 1..MAX_SLOTS {
            if i >= slots {
                outs += &format!("   data{i} = {w}'d0;\n");
                continue;
            }
            for k in 0..i {
                regs += &format!("reg [{}:0] slot{i}_{k};\n", w - 1);
                let src = if k == 0 {
                    format!("dout[{}:{}]", i * s + w - 1, i * s)
                } else {
                    format!("slot{i}_{}", k - 1)
                };
                shifts += &format!("   slot{i}_{k} <= {src};\n");
            }
            outs += &format!("   data{i} = slot{i}_{};\n", i - 1);
        }
        Verilog::Custom(format!(
            "// Lane banks in one SPRAM: slot i serves the i-th lane of the group, i clocks later.
wire wr = we0 | we1 | we2 | we3;
wire [15:0] dout;
SB_SPRAM256KA spram (
   .ADDRESS(wr ? {waddr} : {address}),
   .DATAIN({{{datain}}}),
   .MASKWREN({{{maskwren}}}),
   .WREN(wr),
   .CHIPSELECT(1'b1),
   .CLOCK(clock),
   .STANDBY(1'b0),
   .SLEEP(1'b0),
   .POWEROFF(1'b1),
   .DATAOUT(dout)
);
{regs}always @(posedge clock) begin
{shifts}end
always @(*) begin
   data0 = dout[{w1}:0];
{outs}end",
            waddr = wide("waddr"),
            address = wide("address"),
            datain = datain.join(", "),
            maskwren = maskwren.join(", "),
            w1 = w - 1,
        ))
    }
}

/// A behavioural SB_SPRAM256KA for simulators, the subset qornn drives (always selected,
/// never in standby, sleep or power-off): a write stores the masked nibbles and the output
/// reads 0 that clock (the vendor's model: undefined); the contents start as zeros. Not for
/// synthesis: yosys, which defines SYNTHESIS, skips it and uses its own cell.
pub const SB_SPRAM256KA_SIM: &str = r#"`ifndef SYNTHESIS
// Simulation model of the iCE40 UP5K SB_SPRAM256KA (Lattice TN1314), the subset qornn drives.
module SB_SPRAM256KA (
   input [13:0] ADDRESS,
   input [15:0] DATAIN,
   input [3:0] MASKWREN,
   input WREN, CHIPSELECT, CLOCK, STANDBY, SLEEP, POWEROFF,
   output reg [15:0] DATAOUT
);
   reg [15:0] mem [0:16383];
   integer i;
   initial begin
      for (i = 0; i < 16384; i = i + 1) mem[i] = 16'd0;
      DATAOUT = 16'd0;
   end
   always @(posedge CLOCK) begin
      if (WREN) begin
         if (MASKWREN[0]) mem[ADDRESS][3:0] <= DATAIN[3:0];
         if (MASKWREN[1]) mem[ADDRESS][7:4] <= DATAIN[7:4];
         if (MASKWREN[2]) mem[ADDRESS][11:8] <= DATAIN[11:8];
         if (MASKWREN[3]) mem[ADDRESS][15:12] <= DATAIN[15:12];
         DATAOUT <= 16'd0;
      end else begin
         DATAOUT <= mem[ADDRESS];
      end
   end
endmodule
`endif
"#;
