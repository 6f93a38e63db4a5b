//! The row post-processor (a native leaf): bias, activation, requantisation — or, for output
//! rows, the output bias.
//!
//! Row sums arrive one per cycle at most, in row order: the n hidden rows of a step, then its d
//! output rows. A row counter (h rows 0..n, then y rows 0..d, then h again) indexes the bias
//! ROMs. Hidden rows leave on `h_*` after eleven register stages, output rows on `y_*` after
//! four; each stage has at most one short carry chain or two LUT levels:
//!
//! 1. register the sum; read b[i] (and β[i]) or c[k] from their ROMs;
//!    Then (stage 1b) the sum again and the ROM words, in fabric registers: a block RAM's
//!    output is slow (5.6 ns clock-to-out on ECP5) and may sit far from the adder, so it feeds
//!    only a register;
//! 2. `s = acc + b` at A+2 bits — or `y = acc + c` at A_y bits (then the `y_*` register);
//! 3. modReLU: `s + β`, `s − β`, the sign and `s ≠ 0` (ReLU: `s` and its sign);
//! 4. the activation `a` (ReLU `max(s, 0)`; modReLU `sign(s)·max(|s| + β, 0)`, which is
//!    `max(s + β, 0)` for s > 0 and `min(s − β, 0)` for s < 0), kept at A bits;
//! 5. – 6. `a·M`, M a constant: its canonical signed digits give at most 8 shifted copies of
//!    ±a (plus one constant for the negations), reduced by carry-save adders (two levels per
//!    stage) to two vectors at A+16 bits;
//! 7. – 8. those two added, low half then high half (the carry registered between);
//! 9. round half to even by r — `q = p >>> r`, +1 when bit r−1 is set and (a lower bit is set,
//!    or bit r is set) — as an increment flag; saturation flags `q ≥ 2^(k_a−1) − 1` and
//!    `q < −2^(k_a−1)` from bit tests on `p >>> r` (no wide comparator);
//! 10. `h = max ? 2^(k_a−1) − 1 : min ? −2^(k_a−1) : (q + inc)` at k_a bits (exact: q + inc
//!     only overflows when q is the maximum, which the first flag covers).
//!
//! Widths: every value of a real row fits (the model's width analysis); the Verilog computes
//! the same function as `update()` on any register contents, valid or not.

use crate::config::{clog2, CoreConfig};
use crate::port::{sext, to_bits, Port};
use crate::verilog::{flag, next_is_last};
use qornn_sim::QuantizedModel;
use rust_hdl::prelude::*;

/// The fixed parameters of the post-processor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequantParams {
    /// n.
    pub hidden: usize,
    /// d.
    pub output: usize,
    /// A.
    pub acc_bits: usize,
    /// A_y.
    pub out_acc_bits: usize,
    /// Lane accumulator width (the input's width).
    pub lane_bits: usize,
    /// k_a.
    pub act_bits: usize,
    /// Row index width.
    pub row_bits: usize,
    /// M.
    pub multiplier: i64,
    /// r.
    pub shift: u32,
    /// b.
    pub b: Vec<i64>,
    /// β when the activation is modReLU.
    pub beta: Option<Vec<i64>>,
    /// c.
    pub c: Vec<i64>,
}

impl RequantParams {
    /// The post-processor of a core for `model`.
    pub fn of(model: &QuantizedModel, cfg: &CoreConfig) -> Self {
        RequantParams {
            hidden: cfg.hidden,
            output: cfg.output,
            acc_bits: cfg.accumulator_bits as usize,
            out_acc_bits: cfg.output_accumulator_bits as usize,
            lane_bits: cfg.lane_acc_bits(),
            act_bits: cfg.activation_bits as usize,
            row_bits: cfg.row_bits(),
            multiplier: cfg.multiplier,
            shift: cfg.shift,
            b: model.b.clone(),
            beta: model.modrelu_bias().map(<[i64]>::to_vec),
            c: model.c.clone(),
        }
    }
}

/// `sat_k(rhe(p, r))` the way the hardware computes it (bit tests, no division).
pub fn round_saturate(p: i64, r: u32, act_bits: usize) -> i64 {
    let q = if r == 0 {
        p
    } else {
        let fl = p >> r;
        let half_bit = (p >> (r - 1)) & 1 == 1;
        let below = r >= 2 && (p & ((1i64 << (r - 1)) - 1)) != 0;
        let odd = fl & 1 == 1;
        fl + (half_bit && (below || odd)) as i64
    };
    let max = (1i64 << (act_bits - 1)) - 1;
    q.clamp(-max - 1, max)
}

/// The canonical signed digits of `m` (non-adjacent form): (bit, +1 or −1), low bit first.
pub fn csd_digits(m: i64) -> Vec<(u32, i64)> {
    let mut x = m;
    let mut out = Vec::new();
    let mut bit = 0;
    while x != 0 {
        if x & 1 == 1 {
            let d = 2 - (x & 3);
            out.push((bit, d));
            x -= d;
        }
        x >>= 1;
        bit += 1;
    }
    out
}

/// Register stages between a hidden row's sum at the input and its code on `h_out`.
pub const H_STAGES: u64 = 11;
/// Register stages between an output row's sum at the input and `y_out`.
pub const Y_STAGES: u64 = 4;
/// The hidden path's stages after stage 2 (3 to 9): the delay line of `update()`.
const H_LINE: usize = 7;

/// The post-processor.
#[derive(LogicBlock)]
pub struct Requant {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset: the row counter restarts at hidden row 0.
    pub reset: Port<In>,
    /// A row sum arrives.
    pub in_valid: Port<In>,
    /// The row sum (lane accumulator width).
    pub in_acc: Port<In>,
    /// A hidden row's new code leaves.
    pub h_valid: Port<Out>,
    /// Its row.
    pub h_row: Port<Out>,
    /// The code.
    pub h_out: Port<Out>,
    /// An output row leaves.
    pub y_valid: Port<Out>,
    /// It is the last output row.
    pub y_last: Port<Out>,
    /// Its row.
    pub y_row: Port<Out>,
    /// The output accumulator.
    pub y_out: Port<Out>,
    /// Write b[`wr_addr`] (run-time weights only).
    pub wr_b: Port<In>,
    /// Write β[`wr_addr`].
    pub wr_beta: Port<In>,
    /// Write c[`wr_addr`].
    pub wr_c: Port<In>,
    /// The row written.
    pub wr_addr: Port<In>,
    /// The value written (its low A or A_y bits).
    pub wr_data: Port<In>,
    _p: RequantParams,
    _writable: bool,
    _cnt: usize,
    _is_y: bool,
    _s1: Stage1,
    _s1d: Stage1,
    _s2: Stage2,
    _line: [HStage; H_LINE],
}

#[derive(Debug, Clone, Copy, Default)]
struct Stage1 {
    valid: bool,
    is_y: bool,
    last: bool,
    row: usize,
    acc: i64,
    b: i64,
    beta: i64,
    c: i64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Stage2 {
    valid: bool,
    is_y: bool,
    last: bool,
    row: usize,
    s: i64,
    beta: i64,
    y: i64,
}

#[derive(Debug, Clone, Copy, Default)]
struct HStage {
    valid: bool,
    row: usize,
    h: i64,
}

impl Requant {
    /// A post-processor with the given parameters.
    pub fn new(p: RequantParams) -> Self {
        Requant {
            clock: Signal::default(),
            reset: Port::bit(),
            in_valid: Port::bit(),
            in_acc: Port::new(p.lane_bits),
            h_valid: Port::bit(),
            h_row: Port::new(p.row_bits),
            h_out: Port::new(p.act_bits),
            y_valid: Port::bit(),
            y_last: Port::bit(),
            y_row: Port::new(p.row_bits),
            y_out: Port::new(p.out_acc_bits),
            wr_b: Port::bit(),
            wr_beta: Port::bit(),
            wr_c: Port::bit(),
            wr_addr: Port::new(p.row_bits),
            wr_data: Port::new(p.lane_bits),
            _writable: false,
            _p: p,
            _cnt: 0,
            _is_y: false,
            _s1: Stage1::default(),
            _s1d: Stage1::default(),
            _s2: Stage2::default(),
            _line: [HStage::default(); H_LINE],
        }
    }

    /// The same post-processor with write ports on its b, β and c memories.
    pub fn writable(mut self) -> Self {
        self._writable = true;
        self
    }

    /// The loader's writes of this clock (after the reads: a read of the row being written
    /// returns the old value, as the Verilog's separate write block does).
    fn write_biases(&mut self) {
        if !self._writable {
            return;
        }
        let (a, ay) = (self._p.acc_bits, self._p.out_acc_bits);
        let addr = self.wr_addr.val() as usize;
        let data = self.wr_data.val();
        if self.wr_b.is_high() {
            if let Some(v) = self._p.b.get_mut(addr) {
                *v = sext(data, a);
            }
        }
        if self.wr_beta.is_high() {
            if let Some(v) = self._p.beta.as_mut().and_then(|b| b.get_mut(addr)) {
                *v = sext(data, a);
            }
        }
        if self.wr_c.is_high() {
            if let Some(v) = self._p.c.get_mut(addr) {
                *v = sext(data, ay);
            }
        }
    }

    fn activation(&self, s: i64, beta: i64) -> i64 {
        if self._p.beta.is_some() {
            let neg = s < 0;
            let t = s.abs() + beta;
            let tp = if t < 0 { 0 } else { t };
            if s == 0 {
                0
            } else if neg {
                -tp
            } else {
                tp
            }
        } else if s < 0 {
            0
        } else {
            s
        }
    }

    /// The hidden code of stage 2's contents: activation, ·M, rounding and saturation.
    fn hidden_code(&self, s2: &Stage2) -> i64 {
        let p = &self._p;
        let a = p.acc_bits;
        let pw = a + 16;
        let act = sext(to_bits(self.activation(s2.s, s2.beta), a), a);
        let prod = sext(to_bits(act.wrapping_mul(p.multiplier), pw), pw);
        round_saturate(prod, p.shift, p.act_bits)
    }

    fn verilog(&self) -> String {
        let p = &self._p;
        let a = p.acc_bits;
        let ay = p.out_acc_bits;
        let ka = p.act_bits;
        let lw = p.lane_bits;
        let rb = p.row_bits;
        let pw = a + 16;
        let r = p.shift as usize;
        let qw = pw.max(r + 2);
        let hex = |v: i64, w: usize| format!("{w}'h{:x}", to_bits(v, w));
        // Each ROM is padded with zeros to a power of two and read with the low bits of the
        // row counter: every address is in range, so no comparison lies before the block RAM
        // (the padding rows are read only for rows of the other kind, whose value is unused).
        let rom = |name: &str, vals: &[i64], w: usize| {
            let depth = 1usize << clog2(vals.len());
            let mut s = format!(
                "(* ram_style = \"block\", rom_style = \"block\" *)\nreg [{}:0] {name} [0:{}];\ninitial begin\n",
                w - 1,
                depth - 1
            );
            for i in 0..depth {
                let v = vals.get(i).copied().unwrap_or(0);
                s += &format!("   {name}[{i}] = {};\n", hex(v, w));
            }
            s + "end\n"
        };
        let mut roms = rom("b_rom", &p.b, a) + &rom("c_rom", &p.c, ay);
        let beta = p.beta.as_deref();
        if let Some(beta) = beta {
            roms += &rom("beta_rom", beta, a);
        }
        if self._writable {
            let (hb1, yb1) = (clog2(p.hidden) - 1, clog2(p.output) - 1);
            roms += &format!(
                "// The loader's write ports (run-time weights).\nalways @(posedge clock) begin\n   \
                 if (wr_b) b_rom[wr_addr[{hb1}:0]] <= wr_data[{}:0];\n   \
                 if (wr_c) c_rom[wr_addr[{yb1}:0]] <= wr_data[{}:0];\n{}end\n",
                a - 1,
                ay - 1,
                if beta.is_some() {
                    format!("   if (wr_beta) beta_rom[wr_addr[{hb1}:0]] <= wr_data[{}:0];\n", a - 1)
                } else {
                    String::new()
                }
            );
        }
        let (a1, a2, a2_1) = (a - 1, a + 2, a + 1);
        // Stages 3 and 4: the activation.
        let (s3_regs, s3_logic, act) = if beta.is_some() {
            (
                format!("reg signed [{a2_1}:0] s3_sp, s3_sm;\nreg s3_neg, s3_nz;\n"),
                format!(
                    "      s3_sp <= s2_s + s2_beta_x;\n      s3_sm <= s2_s - s2_beta_x;\n      s3_neg <= s2_s[{a2_1}];\n      s3_nz <= |s2_s;\n"
                ),
                format!(
                    "wire signed [{a2_1}:0] act = ~s3_nz ? {a2}'sd0 : s3_neg ? (s3_sm[{a2_1}] ? s3_sm : {a2}'sd0) : (s3_sp[{a2_1}] ? {a2}'sd0 : s3_sp);"
                ),
            )
        } else {
            (
                format!("reg signed [{a2_1}:0] s3_sp;\nreg s3_neg;\n"),
                format!("      s3_sp <= s2_s;\n      s3_neg <= s2_s[{a2_1}];\n"),
                format!("wire signed [{a2_1}:0] act = s3_neg ? {a2}'sd0 : s3_sp;"),
            )
        };
        let beta_read = if beta.is_some() {
            "      s1_beta <= beta_rom[h_addr];\n      s1d_beta <= s1_beta;\n      s2_beta <= s1d_beta;\n".to_string()
        } else {
            String::new()
        };
        let beta_decl = if beta.is_some() {
            format!(
                "reg signed [{a1}:0] s1_beta, s1d_beta, s2_beta;\nwire signed [{a2_1}:0] s2_beta_x = s2_beta;\n"
            )
        } else {
            String::new()
        };
        // Stages 5 and 6: a·M as carry-save additions of ±(a << i) over M's signed digits.
        let digits = csd_digits(p.multiplier);
        let mut mul = format!("wire [{}:0] ax = {{{{16{{s4_a[{a1}]}}}}, s4_a}};\n", pw - 1);
        let mut vecs: Vec<String> = Vec::new();
        let mut negs = 0u64;
        for (k, &(bit, d)) in digits.iter().enumerate() {
            let e = if d > 0 {
                format!("ax << {bit}")
            } else {
                negs += 1;
                format!("~(ax << {bit})")
            };
            mul += &format!("wire [{}:0] mt{k} = {e};\n", pw - 1);
            vecs.push(format!("mt{k}"));
        }
        if negs > 0 {
            mul += &format!("wire [{}:0] mtk = {pw}'d{negs};\n", pw - 1);
            vecs.push("mtk".into());
        }
        if vecs.is_empty() {
            vecs.push(format!("{pw}'d0"));
        }
        let mut level = 0;
        let mut csa = |vecs: Vec<String>, mul: &mut String| -> Vec<String> {
            let mut next = Vec::new();
            for (g, ch) in vecs.chunks(3).enumerate() {
                if let [x, y, z] = ch {
                    let n = format!("cs{level}_{g}");
                    *mul += &format!(
                        "wire [{w1}:0] {n}s = {x} ^ {y} ^ {z};\nwire [{w1}:0] {n}c = (({x} & {y}) | ({x} & {z}) | ({y} & {z})) << 1;\n",
                        w1 = pw - 1
                    );
                    next.push(format!("{n}s"));
                    next.push(format!("{n}c"));
                } else {
                    next.extend(ch.iter().cloned());
                }
            }
            level += 1;
            next
        };
        for _ in 0..2 {
            if vecs.len() > 2 {
                vecs = csa(vecs, &mut mul);
            }
        }
        assert!(vecs.len() <= 4, "at most 9 terms");
        let m1n = vecs.len();
        let m1_regs = (0..m1n).map(|i| format!("m1_v{i}")).collect::<Vec<_>>();
        let mut m1_logic = String::new();
        for (i, v) in vecs.iter().enumerate() {
            m1_logic += &format!("      m1_v{i} <= {v};\n");
        }
        let mut vecs2 = m1_regs.clone();
        for _ in 0..2 {
            if vecs2.len() > 2 {
                vecs2 = csa(vecs2, &mut mul);
            }
        }
        assert!(vecs2.len() <= 2);
        let x2 = vecs2[0].clone();
        let y2 = vecs2.get(1).cloned().unwrap_or(format!("{pw}'d0"));
        // Stages 7 and 8: the two vectors added, low half then high half.
        let k = pw / 2;
        let hk = pw - k;
        let slo = if r >= 2 {
            format!("|m3_lo[{}:0]", k.min(r - 1) - 1)
        } else {
            "1'b0".into()
        };
        // Stage 9: rounding and saturation flags, from bit tests of pq.
        let bit = |i: usize| format!("pq[{}]", i.min(qw - 1));
        let fl = |i: usize| bit(r + i);
        let inc = if r == 0 {
            "1'b0".to_string()
        } else {
            let mut sticky = vec!["m4_slo".to_string()];
            if r >= 2 {
                sticky.extend((k..=r - 2).map(bit));
            }
            format!("{} & ({} | {})", bit(r - 1), sticky.join(" | "), bit(r))
        };
        let f = qw - r;
        let upper: Vec<String> = (ka - 1..=(f - 1).max(ka - 1)).map(fl).collect();
        let upper = upper.join(", ");
        let low: Vec<String> = (0..ka - 1).rev().map(fl).collect();
        let low = low.join(", ");
        let flo: Vec<String> = (0..ka).rev().map(fl).collect();
        let flo = flo.join(", ");
        let sgn = bit(qw - 1);
        let hmax = (1i64 << (ka - 1)) - 1;
        format!(
            "// Row post-processor: bias, activation, requantisation (or output bias).
{roms}reg [{rb1}:0] cnt;
reg is_y;
reg s1_valid, s1_is_y, s1_last;
reg [{rb1}:0] s1_row;
reg signed [{lw1}:0] s1_acc;
reg signed [{a1}:0] s1_b;
reg signed [{ay1}:0] s1_c;
reg s1d_valid, s1d_is_y, s1d_last;
reg [{rb1}:0] s1d_row;
reg signed [{lw1}:0] s1d_acc;
reg signed [{a1}:0] s1d_b;
reg signed [{ay1}:0] s1d_c;
{beta_decl}reg s2_valid, s2_is_y, s2_last;
reg [{rb1}:0] s2_row;
reg signed [{a2_1}:0] s2_s;
reg signed [{ay1}:0] s2_y;
{s3_regs}reg signed [{a1}:0] s4_a;
reg [{pw1}:0] {m1_decl};
reg [{pw1}:0] m2_x, m2_y;
reg [{k1}:0] m3_lo, m4_lo;
reg m3_c, m4_slo;
reg [{hk1}:0] m3_xh, m3_yh, m4_hi;
reg q1_max, q1_min, q1_inc;
reg [{ka1}:0] q1_fl;
reg hv3, hv4, hv5, hv6, hv7, hv8, hv9;
reg [{rb1}:0] hr3, hr4, hr5, hr6, hr7, hr8, hr9;
wire [{hb1}:0] h_addr = cnt[{hb1}:0];
wire [{yb1}:0] y_addr = cnt[{yb1}:0];
// cnt is at the last row of its kind; registered one row ahead, off the lanes' valid path.
reg row_last;
{act}
{mul}wire [{k}:0] lo_sum = {{1'b0, m2_x[{k1}:0]}} + {{1'b0, m2_y[{k1}:0]}};
wire [{hk}:0] hi_sum = {{m3_xh, 1'b1}} + {{m3_yh, m3_c}};
wire [{qw1}:0] pq = {{{qext}m4_hi, m4_lo}};
wire up_zero = ~|{{{upper}}};
wire up_ones = &{{{upper}}};
wire low_ones = &{{{low}}};
wire inc = {inc};
// s1_b, s1_c and s1_beta, the ROMs' read registers, have no initial value, as a block RAM's
// output register has none on the device.
initial begin
   cnt = 0; is_y = 0; row_last = {h_last0}; s1_valid = 0; s2_valid = 0; s1_is_y = 0; s1_last = 0; s1_row = 0;
   s1_acc = 0; s1d_valid = 0; s1d_is_y = 0; s1d_last = 0; s1d_row = 0; s1d_acc = 0; s1d_b = 0;
   s1d_c = 0; s2_is_y = 0; s2_last = 0; s2_row = 0; s2_s = 0; s2_y = 0;
   {init_beta}s3_sp = 0; s3_neg = 0; {init_nz}s4_a = 0; {init_m1}m2_x = 0; m2_y = 0;
   m3_lo = 0; m4_lo = 0; m3_c = 0; m4_slo = 0; m3_xh = 0; m3_yh = 0; m4_hi = 0;
   q1_max = 0; q1_min = 0; q1_inc = 0; q1_fl = 0;
   hr3 = 0; hr4 = 0; hr5 = 0; hr6 = 0; hr7 = 0; hr8 = 0; hr9 = 0;
   hv3 = 0; hv4 = 0; hv5 = 0; hv6 = 0; hv7 = 0; hv8 = 0; hv9 = 0;
   h_valid = 0; h_row = 0; h_out = 0; y_valid = 0; y_last = 0; y_row = 0; y_out = 0;
end
always @(posedge clock) begin
   if (reset) begin
      cnt <= {rb}'d0; is_y <= 1'b0; row_last <= {h_last0};
      s1_valid <= 1'b0; s1d_valid <= 1'b0; s2_valid <= 1'b0; h_valid <= 1'b0; y_valid <= 1'b0;
      hv3 <= 1'b0; hv4 <= 1'b0; hv5 <= 1'b0; hv6 <= 1'b0; hv7 <= 1'b0; hv8 <= 1'b0;
      hv9 <= 1'b0;
   end else begin
      // Output rows: stage 3 (the fourth register, after 1b) is the y register.
      y_valid <= s2_valid & s2_is_y; y_last <= s2_last; y_row <= s2_row; y_out <= s2_y;
      // Hidden rows: stage 10 (11 with stage 1b).
      h_valid <= hv9; h_row <= hr9;
      h_out <= q1_max ? {ka}'d{hmax} : q1_min ? {ka}'d{hmin} : (q1_fl + {{{{{ka1}{{1'b0}}}}, q1_inc}});
      // Stage 9.
      hv9 <= hv8; hr9 <= hr8;
      q1_max <= ~{sgn} & (~up_zero | low_ones);
      q1_min <= {sgn} & ~up_ones;
      q1_inc <= inc;
      q1_fl <= {{{flo}}};
      // Stage 8.
      hv8 <= hv7; hr8 <= hr7;
      m4_hi <= hi_sum[{hk}:1]; m4_lo <= m3_lo; m4_slo <= {slo};
      // Stage 7.
      hv7 <= hv6; hr7 <= hr6;
      m3_lo <= lo_sum[{k1}:0]; m3_c <= lo_sum[{k}];
      m3_xh <= m2_x[{pw1}:{k}]; m3_yh <= m2_y[{pw1}:{k}];
      // Stage 6.
      hv6 <= hv5; hr6 <= hr5;
      m2_x <= {x2s}; m2_y <= {y2s};
      // Stage 5.
      hv5 <= hv4; hr5 <= hr4;
{m1_logic}      // Stage 4.
      hv4 <= hv3; hr4 <= hr3;
      s4_a <= act[{a1}:0];
      // Stage 3.
      hv3 <= s2_valid & ~s2_is_y; hr3 <= s2_row;
{s3_logic}      // Stage 2.
      s2_valid <= s1d_valid; s2_is_y <= s1d_is_y; s2_last <= s1d_last; s2_row <= s1d_row;
      s2_s <= $signed(s1d_acc[{a1}:0]) + $signed(s1d_b);
      s2_y <= s1d_acc[{ay1}:0] + s1d_c;
      // Stage 1b.
      s1d_valid <= s1_valid; s1d_is_y <= s1_is_y; s1d_last <= s1_last; s1d_row <= s1_row;
      s1d_acc <= s1_acc; s1d_b <= s1_b; s1d_c <= s1_c;
      // Stage 1.
      s1_valid <= in_valid; s1_is_y <= is_y; s1_last <= row_last; s1_row <= cnt;
      s1_acc <= in_acc;
      s1_b <= b_rom[h_addr];
      s1_c <= c_rom[y_addr];
{beta_read}      if (in_valid) begin
         if (row_last) begin
            cnt <= {rb}'d0; is_y <= ~is_y; row_last <= is_y ? {h_last0} : {y_last0};
         end else begin
            cnt <= cnt + {rb}'d1; row_last <= is_y ? {y_next} : {h_next};
         end
      end
   end
end",
            rb1 = rb - 1,
            hb1 = clog2(p.hidden) - 1,
            yb1 = clog2(p.output) - 1,
            h_last0 = flag(p.hidden == 1),
            y_last0 = flag(p.output == 1),
            h_next = next_is_last("cnt", rb, p.hidden - 1),
            y_next = next_is_last("cnt", rb, p.output - 1),
            lw1 = lw - 1,
            ay1 = ay - 1,
            pw1 = pw - 1,
            qw1 = qw - 1,
            ka1 = ka - 1,
            k1 = k - 1,
            hk1 = hk - 1,
            qext = if qw > pw {
                format!("{{{}{{m4_hi[{}]}}}}, ", qw - pw, hk - 1)
            } else {
                String::new()
            },
            m1_decl = m1_regs.join(", "),
            init_beta = if beta.is_some() { "s1d_beta = 0; s2_beta = 0; " } else { "" },
            init_nz = if beta.is_some() { "s3_sm = 0; s3_nz = 0; " } else { "" },
            init_m1 = m1_regs.iter().map(|r| format!("{r} = 0; ")).collect::<String>(),
            x2s = x2,
            y2s = y2,
            hmin = to_bits(-hmax - 1, ka),
        )
    }
}

impl Logic for Requant {
    #[inline]
    fn update(&mut self) {
        if !self.clock.pos_edge() {
            return;
        }
        if self.reset.is_high() {
            self._cnt = 0;
            self._is_y = false;
            self._s1.valid = false;
            self._s1d.valid = false;
            self._s2.valid = false;
            for s in &mut self._line {
                s.valid = false;
            }
            self.h_valid.next = 0;
            self.y_valid.next = 0;
            self.write_biases();
            return;
        }
        let p = &self._p;
        let (a, ay, lw) = (p.acc_bits, p.out_acc_bits, p.lane_bits);
        // Output rows leave from stage 2.
        let s2 = self._s2;
        self.y_valid.set_bool(s2.valid && s2.is_y);
        self.y_last.set_bool(s2.last);
        self.y_row.set(s2.row as u64);
        self.y_out.set_i64(s2.y);
        // Hidden rows: stages 3..9 are a delay line of the finished code.
        let end = self._line[H_LINE - 1];
        self.h_valid.set_bool(end.valid);
        self.h_row.set(end.row as u64);
        self.h_out.set_i64(end.h);
        self._line.copy_within(0..H_LINE - 1, 1);
        self._line[0] = HStage {
            valid: s2.valid && !s2.is_y,
            row: s2.row,
            h: self.hidden_code(&s2),
        };
        // Stage 2: bias, or output bias.
        let p = &self._p;
        let s1 = self._s1d;
        self._s2 = Stage2 {
            valid: s1.valid,
            is_y: s1.is_y,
            last: s1.last,
            row: s1.row,
            s: sext(to_bits(s1.acc, lw), a) + s1.b,
            beta: s1.beta,
            y: sext(to_bits(sext(to_bits(s1.acc, lw), ay) + s1.c, ay), ay),
        };
        // Stage 1b: stage 1 again, in fabric registers.
        self._s1d = self._s1;
        // Stage 1: register the sum, read the biases.
        let h_addr = if self._cnt < p.hidden { self._cnt } else { 0 };
        let y_addr = if self._cnt < p.output { self._cnt } else { 0 };
        let count = if self._is_y { p.output } else { p.hidden };
        let row_last = self._cnt == count - 1;
        self._s1 = Stage1 {
            valid: self.in_valid.is_high(),
            is_y: self._is_y,
            last: row_last,
            row: self._cnt,
            acc: self.in_acc.val_i64(),
            b: p.b[h_addr],
            beta: p.beta.as_ref().map_or(0, |b| b[h_addr]),
            c: p.c[y_addr],
        };
        if self.in_valid.is_high() {
            if row_last {
                self._cnt = 0;
                self._is_y = !self._is_y;
            } else {
                self._cnt = (self._cnt + 1) & ((1 << p.row_bits) - 1);
            }
        }
        self.write_biases();
    }

    fn connect(&mut self) {
        self.h_valid.connect();
        self.h_row.connect();
        self.h_out.connect();
        self.y_valid.connect();
        self.y_last.connect();
        self.y_row.connect();
        self.y_out.connect();
    }

    fn hdl(&self) -> Verilog {
        Verilog::Custom(self.verilog())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qornn_sim::fixed::requantize;
    use qornn_sim::Bits;

    #[test]
    fn hardware_rounding_equals_the_spec() {
        for r in 0..=20u32 {
            for p in -5000i64..5000 {
                for k in [4usize, 8, 16] {
                    assert_eq!(
                        round_saturate(p, r, k),
                        requantize(p, 1, r, Bits::new(k as u32)),
                        "p={p} r={r} k={k}"
                    );
                }
            }
        }
        assert_eq!(
            round_saturate(i64::MIN / 2, 62, 8),
            requantize(i64::MIN / 2, 1, 62, Bits::new(8))
        );
    }

    fn params(beta: Option<Vec<i64>>) -> RequantParams {
        RequantParams {
            hidden: 2,
            output: 1,
            acc_bits: 16,
            out_acc_bits: 16,
            lane_bits: 16,
            act_bits: 8,
            row_bits: 1,
            multiplier: 3,
            shift: 3,
            b: vec![4, -6],
            beta,
            c: vec![5],
        }
    }

    fn tick(q: &mut Requant) {
        q.clock.next = Clock { clk: true };
        simulate(q, 20);
        q.clock.next = Clock { clk: false };
        simulate(q, 20);
    }

    /// Push row sums through the post-processor (n = 2 hidden rows, then d = 1 output row, ...)
    /// and collect (is_y, row, h or y, last), with the clock each left at.
    fn run(p: RequantParams, sums: &[i64]) -> Vec<(bool, u64, i64, bool, usize)> {
        let mut q = Requant::new(p);
        q.connect_all();
        let mut out = Vec::new();
        for i in 0..sums.len() + 12 {
            if let Some(&s) = sums.get(i) {
                q.in_valid.set_bool(true);
                q.in_acc.set_i64(s);
            } else {
                q.in_valid.set_bool(false);
            }
            tick(&mut q);
            if q.h_valid.is_high() {
                out.push((false, q.h_row.val(), q.h_out.val_i64(), false, i));
            }
            if q.y_valid.is_high() {
                out.push((
                    true,
                    q.y_row.val(),
                    q.y_out.val_i64(),
                    q.y_last.is_high(),
                    i,
                ));
            }
        }
        out
    }

    #[test]
    fn worked_example_of_the_spec() {
        // Row sums without bias: 55 and 56 (→ acc 59 and 50 after b); then the output row.
        let out = run(params(None), &[55, 56, -16]);
        assert_eq!(
            out,
            vec![
                (true, 0, -11, true, 2 + Y_STAGES as usize - 1),
                (false, 0, 22, false, H_STAGES as usize - 1),
                (false, 1, 19, false, H_STAGES as usize),
            ]
        );
        let out = run(params(Some(vec![-20, -60])), &[55, 56]);
        assert_eq!((out[0].2, out[1].2), (15, 0));
    }

    #[test]
    fn canonical_signed_digits_sum_to_m() {
        for m in 1..(1i64 << 15) {
            let d = csd_digits(m);
            assert_eq!(d.iter().map(|&(b, s)| s << b).sum::<i64>(), m);
            assert!(d.len() <= 8, "{m}: {d:?}");
            assert!(d.windows(2).all(|w| w[1].0 > w[0].0 + 1), "{m}: {d:?}");
        }
    }

    #[test]
    fn verilog_rounds_as_the_spec_says() {
        let v = Requant::new(params(None)).verilog();
        assert!(v.contains("wire inc = pq[2] & (m4_slo | pq[3]);"), "{v}");
        assert!(v.contains("wire [31:0] mt0 = ~(ax << 0);"), "{v}");
        assert!(v.contains("wire [31:0] mt1 = ax << 2;"), "{v}");
        assert!(v.contains("b_rom[1] = 16'hfffa;"), "{v}");
    }
}
