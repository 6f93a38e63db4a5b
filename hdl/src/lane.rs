//! One MAC lane of the systolic array (a native leaf: integer `update()`, hand-written Verilog).
//!
//! A lane sees a stream of *tokens* (operand, ROM address, flags) from its left neighbour (lane
//! 0 from the sequencer) and passes each one on to its right neighbour one cycle later: the
//! hidden vector moves one lane per cycle. Its own ROM bank is read at the token's address, so
//! the weight arrives together with the registered token. Six register stages, each with at
//! most one carry chain or one multiplier between registers:
//!
//! 1. token (`out_*`, forwarded to lane p+1; the ROM answers alongside);
//! 2. operands: the operand and the weight registered (the DSP block's input registers; on
//!    ECP5 nextpnr times MULT18X18D as combinational, so a block-RAM output must not feed it);
//! 3. product: 16×16 signed (DSP) or shift-and-add (LUT) (the DSP's output register);
//! 4. term: the product shifted by s_w (W), s_u (U) or 0 (V);
//! 5. accumulate (restarted by the token flagged `first`);
//! 6. result: after the token flagged `last`, the row's sum leaves on `res_valid`/`res_acc` for
//!    one cycle (zero otherwise, so lane results can be OR-ed) if p < the block's active lanes.
//!
//! All arithmetic wraps at the lane's accumulator width, in both descriptions; the model's
//! width analysis proves that no value of a real row ever wraps.

use crate::config::{CoreConfig, Multipliers};
use crate::dsp::mult18x18d;
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
    /// The core's multiplier style (this lane's: [`Multipliers::uses_dsp`] of its index).
    pub multipliers: Multipliers,
    /// Two W/U rows per token (a packed lane, [`CoreConfig::packed`]): the ROM word holds
    /// both weights, the high row's sum leaves `lanes` clocks after the low row's.
    pub packed: bool,
    /// P (how long a packed lane holds its high row's sum).
    pub lanes: usize,
    /// k_w: the width of each of a packed word's two weights.
    pub pair_bits: usize,
    /// This lane multiplies in a hand-instantiated MULT18X18D
    /// ([`CoreConfig::mult18x18d_lane`]).
    pub mult18x18d: bool,
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
            packed: cfg.packed,
            lanes: cfg.lanes,
            pair_bits: cfg.weight_bits as usize,
            mult18x18d: cfg.mult18x18d_lane(index),
        }
    }

    /// Bits of the hold counter of a packed lane (0..=P).
    fn wait_bits(&self) -> usize {
        crate::config::clog2(self.lanes + 1)
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
    _o: Stage,
    _m: Stage,
    _t: Stage,
    _acc: i64,
    _done: bool,
    _acc_hi: i64,
    _done_hi: bool,
    _hold: i64,
    _wait: usize,
}

/// One register stage of a lane's pipeline (token flags and the stage's value).
#[derive(Debug, Clone, Copy, Default)]
struct Stage {
    valid: bool,
    first: bool,
    last: bool,
    kind: u64,
    active: u64,
    /// O: the operand; M: the product; T: the shifted product (the term) — of the low row
    /// when packed.
    value: i64,
    /// O: the weight word.
    weight: i64,
    /// Packed, M and T: the high row's product and term.
    value_hi: i64,
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
            _o: Stage::default(),
            _m: Stage::default(),
            _t: Stage::default(),
            _acc: 0,
            _done: false,
            _acc_hi: 0,
            _done_hi: false,
            _hold: 0,
            _wait: 0,
        }
    }

    /// The low and high weights of a W/U word of a packed lane (the high is 0 unpacked and
    /// for V, whose word is one weight).
    fn weights(&self, kind: u64, word: i64) -> (i64, i64) {
        let p = &self._p;
        if !p.packed || kind == KIND_V {
            return (word, 0);
        }
        let k = p.pair_bits;
        let bits = to_bits(word, p.weight_bits);
        (sext(bits, k), sext(bits >> k, k))
    }

    fn verilog(&self) -> String {
        let p = &self._p;
        if p.packed {
            return self.packed_verilog();
        }
        let kd = p.data_bits;
        let kw = p.weight_bits;
        let lw = p.acc_bits;
        let dsp = p.multipliers.uses_dsp(p.index);
        let (prod_bits, prod_expr) = match dsp {
            true => (
                32,
                format!(
                    "$signed({}) * $signed({})",
                    sign_extend("o_data", kd, 16),
                    sign_extend("o_w", kw, 16)
                ),
            ),
            false => {
                let pw = kd + kw;
                let mut terms = Vec::new();
                for b in 0..kw {
                    let t = format!("({{{pw}{{o_w[{b}]}}}} & (dx <<< {b}))");
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
        let dx = if dsp {
            String::new()
        } else {
            format!(
                "wire signed [{pw1}:0] dx = $signed(o_data);\n",
                pw1 = kd + kw - 1
            )
        };
        let kind_shift = format!(
            "(m_kind == 2'd0) ? (prod_l <<< {sw}) : (m_kind == 2'd1) ? (prod_l <<< {su}) : prod_l",
            sw = p.w_shift,
            su = p.u_shift
        );
        let ab = p.active_bits;
        let stage = ProductStage::new(
            p,
            prod_bits,
            &prod_expr,
            &sign_extend("out_data", kd, 16),
            &sign_extend("weight", kw, 16),
        );
        format!(
            "// Lane {index}: token stage (out_*, the ROM answers alongside), operand stage (o_*: the
// DSP's input registers), product stage (m_*: its output register), term stage (t_*: the
// product shifted by kind), accumulate stage (acc), result stage (res_*).
reg o_valid, o_first, o_last, m_valid, m_first, m_last, t_valid, t_first, t_last, done;
reg [1:0] o_kind, m_kind;
reg [{ab1}:0] o_active, m_active, t_active;
reg signed [{kd1}:0] o_data;
reg signed [{kw1}:0] o_w;
{prod_decl}
reg signed [{lw1}:0] term;
reg signed [{lw1}:0] acc;
{dx}wire signed [{lw1}:0] prod_l = prod;
{prod_inst}initial begin
   o_valid = 0; o_first = 0; o_last = 0; o_kind = 0; o_active = 0; o_data = 0; o_w = 0;
   m_valid = 0; m_first = 0; m_last = 0; m_kind = 0; m_active = 0;{prod_init}
   t_valid = 0; t_first = 0; t_last = 0; t_active = 0; term = 0; acc = 0; done = 0;
{TOKEN_INIT}
end
{DATA_REGISTERS}
   o_data <= out_data; o_w <= weight;
   m_first <= o_first; m_last <= o_last; m_kind <= o_kind; m_active <= o_active;
{prod_stmt}   t_first <= m_first; t_last <= m_last; t_active <= m_active;
   term <= {kind_shift};
   if (t_valid) acc <= (t_first ? {lw}'sd0 : acc) + term;
end
always @(posedge clock) begin
   if (reset) begin
      out_valid <= 1'b0; o_valid <= 1'b0; m_valid <= 1'b0; t_valid <= 1'b0; done <= 1'b0;
      res_valid <= 1'b0;
      res_acc <= {lw}'d0;
   end else begin
      res_valid <= done;
      res_acc <= done ? acc : {lw}'sd0;
      done <= t_valid & t_last & ({ab}'d{index} < t_active);
{FORWARD}
   end
end",
            index = p.index,
            prod_decl = stage.decl,
            prod_stmt = stage.stmt,
            prod_inst = stage.inst,
            prod_init = stage.init,
            ab1 = ab - 1,
            kd1 = kd - 1,
            kw1 = kw - 1,
            lw1 = lw - 1,
        )
    }
}

impl Lane {
    /// The packed lane's Verilog (see `docs/core.md`, "Packed lanes"). `PACK_S` is the guard
    /// shift, [`pack_shift`](crate::config::pack_shift): every width that depends on it is
    /// written in terms of it, so one number changes the packing (the tests' guard-bit mutant).
    fn packed_verilog(&self) -> String {
        let p = &self._p;
        let kd = p.data_bits;
        let k = p.pair_bits;
        let lw = p.acc_bits;
        let ab = p.active_bits;
        let stage = ProductStage::new(
            p,
            32,
            &format!("$signed(o_w) * $signed({})", sign_extend("o_data", kd, 16)),
            "(out_kind == 2'd2) ? a_one : a_pair",
            &sign_extend("out_data", kd, 16),
        );
        format!(
            "// Lane {index}, packed: a W/U token carries the weights of two rows, row b·2P+{index} (low)
// and row b·2P+P+{index} (high), as one 16-bit operand: the high weight above PACK_S bits, the
// low weight offset by 2^(k_w-1) (its sign bit inverted) in the low bits. One 16x16 product
// holds both rows' products; the term stage splits it: the low row's is the low PACK_S bits less
// the offset times the code, the high row's the bits above, plus the low part's borrow. The high
// row's sum leaves {lanes} clocks after the low row's (hold, hwait). V tokens carry one weight.
localparam PACK_S = {shift};
reg o_valid, o_first, o_last, m_valid, m_first, m_last, m_pair, t_valid, t_first, t_last, t_pair;
reg done, done_hi;
reg [1:0] o_kind, m_kind;
reg [{ab1}:0] o_active, m_active, t_active;
reg signed [{kd1}:0] o_data, m_data;
reg signed [15:0] o_w;
{prod_decl}
reg signed [{lw1}:0] term, term_hi, acc, acc_hi, hold;
reg [{hb1}:0] hwait;
wire [{k1}:0] w_lo = weight[{k1}:0];
wire [{k1}:0] w_hi = weight[{kk1}:{k}];
wire signed [15:0] a_pair = $signed({{w_hi, {{(PACK_S-{k}){{1'b0}}}}, ~w_lo[{k1}], w_lo[{k1}-1:0]}});
wire signed [15:0] a_one = $signed(weight);
wire signed [PACK_S-1:0] lo_raw = prod[PACK_S-1:0];
wire signed [31-PACK_S:0] hi_raw = prod[31:PACK_S];
wire signed [{lw1}:0] lo_l = lo_raw - (m_data <<< {k1});
wire signed [{lw1}:0] hi_l = hi_raw + $signed({{1'b0, prod[PACK_S-1]}});
wire signed [{lw1}:0] prod_l = prod;
wire hi_fire = (hwait == {hb}'d1);
{prod_inst}initial begin
   o_valid = 0; o_first = 0; o_last = 0; o_kind = 0; o_active = 0; o_data = 0; o_w = 0;
   m_valid = 0; m_first = 0; m_last = 0; m_pair = 0; m_kind = 0; m_active = 0; m_data = 0;
  {prod_init} t_valid = 0; t_first = 0; t_last = 0; t_pair = 0; t_active = 0; term = 0;
   term_hi = 0; acc = 0; acc_hi = 0; hold = 0; hwait = 0; done = 0; done_hi = 0;
{TOKEN_INIT}
end
{DATA_REGISTERS}
   o_data <= out_data; o_w <= (out_kind == 2'd2) ? a_one : a_pair;
   m_first <= o_first; m_last <= o_last; m_kind <= o_kind; m_active <= o_active;
   m_data <= o_data; m_pair <= (o_kind != 2'd2);
{prod_stmt}   t_first <= m_first; t_last <= m_last; t_active <= m_active; t_pair <= m_pair;
   term <= (m_kind == 2'd0) ? (lo_l <<< {sw}) : (m_kind == 2'd1) ? (lo_l <<< {su}) : prod_l;
   term_hi <= (m_kind == 2'd0) ? (hi_l <<< {sw}) : (hi_l <<< {su});
   if (t_valid) begin
      acc <= (t_first ? {lw}'sd0 : acc) + term;
      acc_hi <= (t_first ? {lw}'sd0 : acc_hi) + term_hi;
   end
   if (done_hi) hold <= acc_hi;
end
always @(posedge clock) begin
   if (reset) begin
      out_valid <= 1'b0; o_valid <= 1'b0; m_valid <= 1'b0; t_valid <= 1'b0; done <= 1'b0;
      done_hi <= 1'b0; hwait <= {hb}'d0;
      res_valid <= 1'b0;
      res_acc <= {lw}'d0;
   end else begin
      res_valid <= done | hi_fire;
      res_acc <= done ? acc : hi_fire ? hold : {lw}'sd0;
      done <= t_valid & t_last & ({ab}'d{index} < t_active);
      done_hi <= t_valid & t_last & t_pair & ({ab}'d{hi_index} < t_active);
      if (done_hi) hwait <= {hb}'d{lanes};
      else if (hwait != {hb}'d0) hwait <= hwait - 1'b1;
{FORWARD}
   end
end",
            index = p.index,
            hi_index = p.lanes + p.index,
            prod_decl = stage.decl,
            prod_stmt = stage.stmt,
            prod_inst = stage.inst,
            prod_init = stage.init,
            lanes = p.lanes,
            shift = crate::config::pack_shift(k as u32, kd as u32),
            ab1 = ab - 1,
            kd1 = kd - 1,
            k1 = k - 1,
            kk1 = 2 * k - 1,
            lw1 = lw - 1,
            hb = p.wait_bits(),
            hb1 = p.wait_bits() - 1,
            sw = p.w_shift,
            su = p.u_shift,
        )
    }
}

/// The product register of a lane: `prod <= expr` in the fabric, after operand registers
/// that yosys may map into the DSP, or a MULT18X18D whose own registers take the operands as
/// they leave the token stage and hold the product (the same two clocks; the plain lane's fabric
/// `o_data`/`o_w` then feed nothing and synthesis drops them).
struct ProductStage {
    /// The declaration of `prod`.
    decl: String,
    /// The clocked statement that computes it (empty when the DSP cell does).
    stmt: String,
    /// The DSP cell's instance (empty in the fabric).
    inst: String,
    /// `prod`'s initial value (a register only).
    init: &'static str,
}

impl ProductStage {
    /// `prod` of `bits` bits: `expr` of the operand registers, or the cell's product of
    /// `a_next` and `b_next` (the operands one clock earlier, as they enter those registers).
    fn new(p: &LaneParams, bits: usize, expr: &str, a_next: &str, b_next: &str) -> Self {
        if p.mult18x18d {
            ProductStage {
                decl: "wire signed [31:0] prod;".to_string(),
                stmt: String::new(),
                inst: mult18x18d("mul", a_next, b_next, "prod"),
                init: "",
            }
        } else {
            ProductStage {
                decl: format!("reg signed [{}:0] prod;", bits - 1),
                stmt: format!("   prod <= {expr};\n"),
                inst: String::new(),
                init: " prod = 0;",
            }
        }
    }
}

/// Both lanes' valid pipeline (Verilog, inside the reset's `else`).
const FORWARD: &str = "      t_valid <= m_valid;
      m_valid <= o_valid;
      o_valid <= out_valid;
      out_valid <= in_valid;";

/// Both lanes' last initial values (Verilog, the end of the `initial` block): the token
/// stage's registers and the result.
const TOKEN_INIT: &str =
    "   out_valid = 0; out_first = 0; out_last = 0; out_kind = 0; out_data = 0; out_addr = 0;
   out_active = 0; res_valid = 0; res_acc = 0;";

/// The head of both lanes' data-register block (Verilog, a block without reset): the token
/// stage's data and the operand stage's control fields; each lane goes on with its own operand
/// and product registers. Only the valid flags are reset ([`FORWARD`]), so the data path from
/// the hidden-state RAM's output has no reset gate in front of its flip-flops (on ECP5 that
/// gate was a LUT level on the critical path).
const DATA_REGISTERS: &str =
    "// Data registers: no reset, so that yosys can pack them into the DSP block.
always @(posedge clock) begin
   out_first <= in_first; out_last <= in_last; out_kind <= in_kind;
   out_data <= in_data; out_addr <= in_addr; out_active <= in_active;
   o_first <= out_first; o_last <= out_last; o_kind <= out_kind; o_active <= out_active;";

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
        let reset = self.reset.is_high();
        let (t, m, o) = (self._t, self._m, self._o);
        let (acc_old, done_old) = (self._acc, self._done);
        let (acc_hi_old, done_hi_old) = (self._acc_hi, self._done_hi);
        let (hold_old, wait_old) = (self._hold, self._wait);
        // The data registers shift regardless of reset, as in the Verilog (whose DSP-packed
        // registers have none); reset clears the valid flags.
        // Accumulate stage.
        if t.valid {
            let wrap = |v: i64| sext(to_bits(v, p.acc_bits), p.acc_bits);
            let (base, base_hi) = if t.first {
                (0, 0)
            } else {
                (acc_old, acc_hi_old)
            };
            self._acc = wrap(base.wrapping_add(t.value));
            self._acc_hi = wrap(base_hi.wrapping_add(t.value_hi));
        }
        // Term stage: the product shifted by s_w (W), s_u (U) or 0 (V).
        let shift = match m.kind {
            KIND_W => p.w_shift,
            KIND_U => p.u_shift,
            _ => 0,
        };
        self._t = Stage {
            valid: m.valid && !reset,
            value: sext(to_bits(m.value << shift, p.acc_bits), p.acc_bits),
            value_hi: sext(to_bits(m.value_hi << shift, p.acc_bits), p.acc_bits),
            weight: 0,
            ..m
        };
        // Product stage: the registered operand times the registered weight (packed: times
        // each of the word's two weights).
        let (w_lo, w_hi) = self.weights(o.kind, o.weight);
        self._m = Stage {
            valid: o.valid && !reset,
            value: o.value * w_lo,
            value_hi: o.value * w_hi,
            weight: 0,
            ..o
        };
        // Operand stage: the token's operand and the weight its ROM read returned.
        self._o = Stage {
            valid: self.out_valid.is_high() && !reset,
            first: self.out_first.is_high(),
            last: self.out_last.is_high(),
            kind: self.out_kind.val(),
            active: self.out_active.val(),
            value: self.out_data.val_i64(),
            weight: self.weight.val_i64(),
            value_hi: 0,
        };
        // Token data: registered whatever the reset (only its valid flag is reset).
        self.out_first.next = self.in_first.val();
        self.out_last.next = self.in_last.val();
        self.out_kind.next = self.in_kind.val();
        self.out_data.next = self.in_data.val();
        self.out_addr.next = self.in_addr.val();
        self.out_active.next = self.in_active.val();
        if reset {
            self._done = false;
            self._done_hi = false;
            self._wait = 0;
            self.out_valid.next = 0;
            self.res_valid.next = 0;
            self.res_acc.next = 0;
            return;
        }
        // Result stage: the finished row's sum, one clock after its last term.
        self._done = t.valid && t.last && (p.index as u64) < t.active;
        // Packed: the high row's sum, held for P clocks so that the block's rows leave the
        // lanes in row order (low rows 0..P, then high rows P..2P).
        self._done_hi = p.packed
            && t.valid
            && t.last
            && t.kind != KIND_V
            && ((p.lanes + p.index) as u64) < t.active;
        let hi_fire = wait_old == 1;
        if done_hi_old {
            self._hold = acc_hi_old;
            self._wait = p.lanes;
        } else if wait_old > 0 {
            self._wait = wait_old - 1;
        }
        self.res_valid.set_bool(done_old || hi_fire);
        self.res_acc.set_i64(if done_old {
            acc_old
        } else if hi_fire {
            hold_old
        } else {
            0
        });
        // Token stage: the token's valid flag (its data was registered above).
        self.out_valid.next = self.in_valid.val();
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
        for step in 0..ops.len() + 10 {
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
            packed: false,
            lanes: 2,
            pair_bits: 4,
            mult18x18d: false,
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
            v.contains("$signed({{8{o_data[7]}}, o_data}) * $signed({{12{o_w[3]}}, o_w})"),
            "{v}"
        );
        let v = Lane::new(params(Multipliers::Lut)).verilog();
        assert!(v.contains("- ({12{o_w[3]}} & (dx <<< 3))"), "{v}");
        assert!(!v.contains(" * "), "{v}");
        // Mixed: lane 1 of `mixed:1` is past the DSP lanes, so it multiplies in LUTs.
        let v = Lane::new(params(Multipliers::Mixed { dsp_lanes: 1 })).verilog();
        assert!(!v.contains(" * ") && v.contains("dx <<< 3"), "{v}");
        let v = Lane::new(params(Multipliers::Mixed { dsp_lanes: 2 })).verilog();
        assert!(v.contains(" * "), "{v}");
    }
}
