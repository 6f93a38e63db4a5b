//! One MAC lane of the systolic array (a native leaf: integer `update()`, hand-written Verilog).
//!
//! A lane sees a stream of *tokens* (operand, ROM address, flags) from its left neighbour (lane
//! 0 from the sequencer) and passes each one on to its right neighbour one cycle later: the
//! hidden vector moves one lane per cycle. Its own ROM bank is read at the token's address, so
//! the weight arrives together with the registered token (stage 1). Stage 2 multiplies
//! (16×16 signed, or shift-and-add), stage 3 shifts the product by s_w (W), s_u (U) or 0 (V)
//! and accumulates; the token flagged `last` completes the row, whose sum leaves on
//! `res_valid`/`res_acc` for one cycle (zero otherwise, so lane results can be OR-ed).
//!
//! All arithmetic wraps at the lane's accumulator width, in both descriptions; the model's
//! width analysis proves that no value of a real row ever wraps.

use crate::config::{CoreConfig, Multipliers};
use crate::port::{sext, to_bits, Port};
use rust_hdl::prelude::*;

/// Token kind: a W·h operand (shift s_w).
pub const KIND_W: u64 = 0;
/// Token kind: a U·x operand (shift s_u).
pub const KIND_U: u64 = 1;
/// Token kind: a V·h operand (no shift).
pub const KIND_V: u64 = 2;

/// The fixed parameters of a lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LaneParams {
    /// This lane's index p.
    pub index: usize,
    /// Operand width (max of k_a, k_x).
    pub data_bits: usize,
    /// Weight width (max of k_w, k_v).
    pub weight_bits: usize,
    /// Accumulator width (max of A, A_y).
    pub acc_bits: usize,
    /// ROM address width.
    pub addr_bits: usize,
    /// Width of the active-lane count.
    pub active_bits: usize,
    /// s_w.
    pub w_shift: u32,
    /// s_u.
    pub u_shift: u32,
    /// DSP or LUT multiplication.
    pub multipliers: Multipliers,
}

impl LaneParams {
    /// Lane `index` of a core.
    pub fn of(cfg: &CoreConfig, index: usize) -> Self {
        LaneParams {
            index,
            data_bits: cfg.data_bits(),
            weight_bits: cfg.rom_bits(),
            acc_bits: cfg.lane_acc_bits(),
            addr_bits: cfg.rom_addr_bits(),
            active_bits: cfg.active_bits(),
            w_shift: cfg.w_shift,
            u_shift: cfg.u_shift,
            multipliers: cfg.multipliers,
        }
    }
}

/// One MAC lane.
#[derive(LogicBlock)]
pub struct Lane {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset (clears the valid flags).
    pub reset: Port<In>,
    /// Incoming token: valid.
    pub in_valid: Port<In>,
    /// Incoming token: first operand of a row (the accumulator restarts).
    pub in_first: Port<In>,
    /// Incoming token: last operand of a row (the row's sum is emitted).
    pub in_last: Port<In>,
    /// Incoming token: W, U or V.
    pub in_kind: Port<In>,
    /// Incoming token: the operand (h_j or x_j), two's complement.
    pub in_data: Port<In>,
    /// Incoming token: the ROM address of its weight.
    pub in_addr: Port<In>,
    /// Incoming token: how many lanes own a row in this block.
    pub in_active: Port<In>,
    /// The weight read from this lane's ROM at `in_addr` (one cycle later).
    pub weight: Port<In>,
    /// Forwarded token (registered): valid.
    pub out_valid: Port<Out>,
    /// Forwarded token: first.
    pub out_first: Port<Out>,
    /// Forwarded token: last.
    pub out_last: Port<Out>,
    /// Forwarded token: kind.
    pub out_kind: Port<Out>,
    /// Forwarded token: operand.
    pub out_data: Port<Out>,
    /// Forwarded token: ROM address.
    pub out_addr: Port<Out>,
    /// Forwarded token: active lanes.
    pub out_active: Port<Out>,
    /// A row's sum is on `res_acc` this cycle.
    pub res_valid: Port<Out>,
    /// The row's sum (zero when `res_valid` is low).
    pub res_acc: Port<Out>,
    _p: LaneParams,
    _prod_valid: bool,
    _prod_first: bool,
    _prod_last: bool,
    _prod_kind: u64,
    _prod_active: u64,
    _prod: i64,
    _acc: i64,
}

impl Lane {
    /// A lane with the given parameters.
    pub fn new(p: LaneParams) -> Self {
        Lane {
            clock: Signal::default(),
            reset: Port::bit(),
            in_valid: Port::bit(),
            in_first: Port::bit(),
            in_last: Port::bit(),
            in_kind: Port::new(2),
            in_data: Port::new(p.data_bits),
            in_addr: Port::new(p.addr_bits),
            in_active: Port::new(p.active_bits),
            weight: Port::new(p.weight_bits),
            out_valid: Port::bit(),
            out_first: Port::bit(),
            out_last: Port::bit(),
            out_kind: Port::new(2),
            out_data: Port::new(p.data_bits),
            out_addr: Port::new(p.addr_bits),
            out_active: Port::new(p.active_bits),
            res_valid: Port::bit(),
            res_acc: Port::new(p.acc_bits),
            _p: p,
            _prod_valid: false,
            _prod_first: false,
            _prod_last: false,
            _prod_kind: 0,
            _prod_active: 0,
            _prod: 0,
            _acc: 0,
        }
    }

    fn verilog(&self) -> String {
        let p = &self._p;
        let kd = p.data_bits;
        let kw = p.weight_bits;
        let lw = p.acc_bits;
        let (prod_bits, prod_expr) = match p.multipliers {
            Multipliers::Dsp => (
                32,
                format!(
                    "$signed({}) * $signed({})",
                    sign_extend("out_data", kd, 16),
                    sign_extend("weight", kw, 16)
                ),
            ),
            Multipliers::Lut => {
                let pw = kd + kw;
                let mut terms = Vec::new();
                for b in 0..kw {
                    let t = format!("({{{pw}{{weight[{b}]}}}} & (dx <<< {b}))");
                    terms.push(if b + 1 == kw {
                        format!("- {t}")
                    } else if b == 0 {
                        t
                    } else {
                        format!("+ {t}")
                    });
                }
                (pw, terms.join(" "))
            }
        };
        let dx = match p.multipliers {
            Multipliers::Lut => format!(
                "wire signed [{pw1}:0] dx = $signed(out_data);\n",
                pw1 = kd + kw - 1
            ),
            Multipliers::Dsp => String::new(),
        };
        let kind_shift = format!(
            "(prod_kind == 2'd0) ? (prod_l <<< {sw}) : (prod_kind == 2'd1) ? (prod_l <<< {su}) : prod_l",
            sw = p.w_shift,
            su = p.u_shift
        );
        let ab = p.active_bits;
        format!(
            "// Lane {index}: token stage (out_*), product stage (prod*), accumulate stage (acc).
reg prod_valid, prod_first, prod_last;
reg [1:0] prod_kind;
reg [{ab1}:0] prod_active;
reg signed [{pb1}:0] prod;
reg signed [{lw1}:0] acc;
{dx}wire signed [{lw1}:0] prod_l = prod;
wire signed [{lw1}:0] term = {kind_shift};
wire signed [{lw1}:0] sum = (prod_first ? {lw}'sd0 : acc) + term;
wire done = prod_valid & prod_last & ({ab}'d{index} < prod_active);
initial begin
   prod_valid = 0; prod_first = 0; prod_last = 0; prod_kind = 0; prod_active = 0;
   prod = 0; acc = 0;
   out_valid = 0; out_first = 0; out_last = 0; out_kind = 0; out_data = 0; out_addr = 0;
   out_active = 0; res_valid = 0; res_acc = 0;
end
always @(posedge clock) begin
   if (reset) begin
      out_valid <= 1'b0;
      prod_valid <= 1'b0;
      res_valid <= 1'b0;
      res_acc <= {lw}'d0;
   end else begin
      if (prod_valid) acc <= sum;
      res_valid <= done;
      res_acc <= done ? sum : {lw}'sd0;
      prod_valid <= out_valid;
      prod_first <= out_first;
      prod_last <= out_last;
      prod_kind <= out_kind;
      prod_active <= out_active;
      prod <= {prod_expr};
      out_valid <= in_valid;
      out_first <= in_first;
      out_last <= in_last;
      out_kind <= in_kind;
      out_data <= in_data;
      out_addr <= in_addr;
      out_active <= in_active;
   end
end",
            index = p.index,
            ab1 = ab - 1,
            pb1 = prod_bits - 1,
            lw1 = lw - 1,
        )
    }
}

/// Verilog that sign-extends the `from`-bit signal `name` to `to` bits.
pub fn sign_extend(name: &str, from: usize, to: usize) -> String {
    if to > from {
        format!(
            "{{{{{e}{{{name}[{top}]}}}}, {name}}}",
            e = to - from,
            top = from - 1
        )
    } else {
        name.to_string()
    }
}

impl Logic for Lane {
    #[inline]
    fn update(&mut self) {
        if !self.clock.pos_edge() {
            return;
        }
        let p = self._p;
        if self.reset.is_high() {
            self.out_valid.next = 0;
            self._prod_valid = false;
            self.res_valid.next = 0;
            self.res_acc.next = 0;
            return;
        }
        // Stage 3: shift and accumulate.
        let shift = match self._prod_kind {
            KIND_W => p.w_shift,
            KIND_U => p.u_shift,
            _ => 0,
        };
        let term = sext(to_bits(self._prod << shift, p.acc_bits), p.acc_bits);
        let base = if self._prod_first { 0 } else { self._acc };
        let sum = sext(to_bits(base.wrapping_add(term), p.acc_bits), p.acc_bits);
        if self._prod_valid {
            self._acc = sum;
        }
        let done = self._prod_valid && self._prod_last && (p.index as u64) < self._prod_active;
        self.res_valid.set_bool(done);
        self.res_acc.set_i64(if done { sum } else { 0 });
        // Stage 2: multiply the registered operand by the weight that arrived with it.
        self._prod_valid = self.out_valid.is_high();
        self._prod_first = self.out_first.is_high();
        self._prod_last = self.out_last.is_high();
        self._prod_kind = self.out_kind.val();
        self._prod_active = self.out_active.val();
        self._prod = self.out_data.val_i64() * self.weight.val_i64();
        // Stage 1: register (and forward) the token.
        self.out_valid.next = self.in_valid.val();
        self.out_first.next = self.in_first.val();
        self.out_last.next = self.in_last.val();
        self.out_kind.next = self.in_kind.val();
        self.out_data.next = self.in_data.val();
        self.out_addr.next = self.in_addr.val();
        self.out_active.next = self.in_active.val();
    }

    fn connect(&mut self) {
        self.out_valid.connect();
        self.out_first.connect();
        self.out_last.connect();
        self.out_kind.connect();
        self.out_data.connect();
        self.out_addr.connect();
        self.out_active.connect();
        self.res_valid.connect();
        self.res_acc.connect();
    }

    fn hdl(&self) -> Verilog {
        Verilog::Custom(self.verilog())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tick(l: &mut Lane) {
        l.clock.next = Clock { clk: true };
        simulate(l, 20);
        l.clock.next = Clock { clk: false };
        simulate(l, 20);
    }

    /// Feed one row of (operand, weight, kind) through a lane and read its sum.
    fn row(p: LaneParams, ops: &[(i64, i64, u64)], active: u64) -> Option<i64> {
        let mut l = Lane::new(p);
        l.connect_all();
        let mut weights = std::collections::VecDeque::new();
        let mut out = None;
        for step in 0..ops.len() + 6 {
            if let Some((d, w, k)) = ops.get(step) {
                l.in_valid.set_bool(true);
                l.in_first.set_bool(step == 0);
                l.in_last.set_bool(step + 1 == ops.len());
                l.in_kind.set(*k);
                l.in_data.set_i64(*d);
                l.in_active.set(active);
                weights.push_back(*w);
            } else {
                l.in_valid.set_bool(false);
            }
            tick(&mut l);
            // The ROM answers one cycle after the address: the weight of the token now in
            // stage 1 is on the weight port.
            if l.out_valid.is_high() {
                let w = weights.pop_front().unwrap_or(0);
                l.weight.set_i64(w);
                simulate(&mut l, 20);
            }
            if l.res_valid.is_high() {
                out = Some(l.res_acc.val_i64());
            }
        }
        out
    }

    fn params(m: Multipliers) -> LaneParams {
        LaneParams {
            index: 1,
            data_bits: 8,
            weight_bits: 4,
            acc_bits: 20,
            addr_bits: 4,
            active_bits: 2,
            w_shift: 0,
            u_shift: 2,
            multipliers: m,
        }
    }

    #[test]
    fn lane_accumulates_shifted_products() {
        for m in [Multipliers::Dsp, Multipliers::Lut] {
            let p = params(m);
            // The worked example's row 0 without bias: 3·10 − 5·3 + (2·5 << 2) = 55.
            let ops = [(10, 3, KIND_W), (3, -5, KIND_W), (5, 2, KIND_U)];
            assert_eq!(row(p, &ops, 2), Some(55));
            // Most negative codes: −128 · −8 = 1024.
            assert_eq!(row(p, &[(-128, -8, KIND_V)], 2), Some(1024));
            // A lane past the block's active count emits nothing.
            assert_eq!(row(p, &ops, 1), None);
        }
    }

    #[test]
    fn lane_verilog_names_its_ports() {
        let v = Lane::new(params(Multipliers::Dsp)).verilog();
        assert!(
            v.contains(
                "$signed({{8{out_data[7]}}, out_data}) * $signed({{12{weight[3]}}, weight})"
            ),
            "{v}"
        );
        let v = Lane::new(params(Multipliers::Lut)).verilog();
        assert!(v.contains("- ({12{weight[3]}} & (dx <<< 3))"), "{v}");
        assert!(!v.contains(" * "), "{v}");
    }
}
