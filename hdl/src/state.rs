//! The ping-pong hidden-state buffer (a native leaf).
//!
//! Two banks of n codes in one block RAM (bank bit on top of the address). The sequencer owns
//! the bank bits: the recurrent phase reads h_{t−1} from one bank while the post-processor
//! writes h_t into the other, and the output phase reads h_t from that other bank — it starts
//! while the last rows of h_t are still being written, each before it is read — and the
//! banks trade places when the step ends. Reads are synchronous (`rdata` one clock after `raddr`). A shadow register shows the whole
//! state on the wide debug port `h_data` (n codes of k_a bits, element 0 in the low bits).
//! Starting a sequence does not clear the RAM: the sequencer reads zeros instead (h₀ = 0).
//! The read register has no initial value, as a block RAM's output register has none on the
//! device (yosys' netlist is the same either way); nothing reads it before the first read.

use crate::config::{clog2, CoreConfig};
use crate::port::{get_field, put_field, sext, Port, WidePort};
use rust_hdl::prelude::*;

/// The hidden-state buffer.
#[derive(LogicBlock)]
pub struct HiddenBuffer {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset (bank 0 current).
    pub reset: Port<In>,
    /// Read address (row j).
    pub raddr: Port<In>,
    /// Read bank.
    pub rbank: Port<In>,
    /// The code at `raddr` of the previous clock.
    pub rdata: Port<Out>,
    /// Write enable.
    pub we: Port<In>,
    /// Write bank.
    pub wbank: Port<In>,
    /// Write address.
    pub waddr: Port<In>,
    /// Write data.
    pub wdata: Port<In>,
    /// Every written code, element i in bits i·k_a.
    pub h_data: WidePort<Out>,
    _n: usize,
    _stride: usize,
    _ka: usize,
    _mem: Vec<u64>,
    _shadow: Vec<u64>,
}

impl HiddenBuffer {
    /// The buffer of a core.
    pub fn new(cfg: &CoreConfig) -> Self {
        let n = cfg.hidden;
        let hb = clog2(n);
        let ka = cfg.activation_bits as usize;
        let h = WidePort::new(n * ka);
        let shadow = h.val().to_vec();
        HiddenBuffer {
            clock: Signal::default(),
            reset: Port::bit(),
            raddr: Port::new(hb),
            rbank: Port::bit(),
            rdata: Port::new(ka),
            we: Port::bit(),
            wbank: Port::bit(),
            waddr: Port::new(cfg.row_bits()),
            wdata: Port::new(ka),
            h_data: h,
            _n: n,
            _stride: 1 << hb,
            _ka: ka,
            _mem: vec![0; 2 << hb],
            _shadow: shadow,
        }
    }

    /// h_i of the debug port (settled).
    pub fn hidden(&self, i: usize) -> i32 {
        sext(
            get_field(self.h_data.val(), i * self._ka, self._ka),
            self._ka,
        ) as i32
    }
}

impl Logic for HiddenBuffer {
    #[inline]
    fn update(&mut self) {
        if !self.clock.pos_edge() {
            return;
        }
        if self.reset.is_high() {
            return;
        }
        let s = self._stride;
        let ra = self.rbank.val() as usize * s + (self.raddr.val() as usize & (s - 1));
        self.rdata.next = self._mem[ra];
        if self.we.is_high() {
            let wa = self.waddr.val() as usize;
            self._mem[self.wbank.val() as usize * s + (wa & (s - 1))] = self.wdata.val();
            put_field(&mut self._shadow, wa * self._ka, self._ka, self.wdata.val());
            self.h_data.next.clone_from(&self._shadow);
        }
    }

    fn connect(&mut self) {
        self.rdata.connect();
        self.h_data.connect();
    }

    fn hdl(&self) -> Verilog {
        let hb = clog2(self._n);
        let ka = self._ka;
        Verilog::Custom(format!(
            "// Ping-pong hidden state: bank bit on top of the address.
(* ram_style = \"block\" *)
reg [{ka1}:0] mem [0:{last}];
integer i;
initial begin
   for (i = 0; i < {depth}; i = i + 1) mem[i] = {ka}'d0;
   h_data = 0;
end
// The read in a block of its own, so that it has no ordering against the write: a read and a
// write of one address in one clock are left undefined (the sequencer never issues one).
always @(posedge clock) begin
   if (~reset) rdata <= mem[{{rbank, {raddr}}}];
end
always @(posedge clock) begin
   if (~reset) begin
      if (we) begin
         mem[{{wbank, {waddr}}}] <= wdata;
{shadow}      end
   end
end",
            ka1 = ka - 1,
            depth = 2 << hb,
            last = (2 << hb) - 1,
            raddr = low_bits("raddr", self.raddr.width(), hb),
            waddr = low_bits("waddr", self.waddr.width(), hb),
            shadow = (0..self._n)
                .map(|i| format!(
                    "         if (waddr == {i}) h_data[{}:{}] <= wdata;\n",
                    (i + 1) * ka - 1,
                    i * ka
                ))
                .collect::<String>(),
        ))
    }
}

/// The low `bits` bits of port `name` (`width` bits wide) as a Verilog expression. A 1-bit
/// port is declared as a scalar, which takes no part-select (`raddr[0:0]` does not compile
/// for n ≤ 2), so a port exactly `bits` wide is named whole.
fn low_bits(name: &str, width: usize, bits: usize) -> String {
    if width == bits {
        name.to_string()
    } else {
        format!("{name}[{}:0]", bits - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CoreOptions;
    use qornn_sim::random::{random_model, RandomSpec};
    use qornn_sim::Shape;

    fn tick(b: &mut HiddenBuffer) {
        b.clock.next = Clock { clk: true };
        simulate(b, 20);
        b.clock.next = Clock { clk: false };
        simulate(b, 20);
    }

    #[test]
    fn writes_go_to_the_write_bank() {
        let model = random_model(&RandomSpec::new(Shape::new(3, 1, 1), 4, 1));
        let cfg = CoreConfig::new(&model, &CoreOptions::new(1)).unwrap();
        let mut b = HiddenBuffer::new(&cfg);
        b.connect_all();
        for (i, v) in [(0u64, -5i64), (2, 7)] {
            b.we.set_bool(true);
            b.wbank.set(1);
            b.waddr.set(i);
            b.wdata.set_i64(v);
            b.raddr.set(i);
            tick(&mut b);
            assert_eq!(b.rdata.val_i64(), 0, "bank 0 is untouched");
        }
        b.we.set_bool(false);
        b.rbank.set(1);
        b.raddr.set(2);
        tick(&mut b);
        assert_eq!(b.rdata.val_i64(), 7);
        assert_eq!((b.hidden(0), b.hidden(1), b.hidden(2)), (-5, 0, 7));
    }
}
