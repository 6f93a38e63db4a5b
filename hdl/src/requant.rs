//! The row post-processor (a native leaf): bias, activation, requantisation — or, in the output
//! phase, the output bias.
//!
//! Row sums arrive one per cycle at most, in row order (lane 0's row, lane 1's, ...). A row
//! counter, restarted by `start` (which also latches the phase), indexes the bias ROMs.
//! Four register stages:
//!
//! 1. register the sum; read b[i] (and β[i]) or c[k] from their ROMs;
//! 2. `s = acc + b`, activation (ReLU, or modReLU `sign(s)·max(|s| + β, 0)`) — or `y = acc + c`;
//! 3. `a·M`, M a constant (shift-and-add: no DSP block);
//! 4. round half to even by r and saturate to k_a bits, exactly as the spec's hardware note:
//!    `q = p >>> r`, +1 when bit r−1 is set and (a lower bit is set, or bit r is set).
//!
//! Widths: the sum is taken at A+2 bits (cannot wrap), the activation kept at A bits and the
//! product at A+16 bits, all of which the model's width analysis proves sufficient.

use crate::config::CoreConfig;
use crate::port::{sext, to_bits, Port};
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

/// The post-processor.
#[derive(LogicBlock)]
pub struct Requant {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset.
    pub reset: Port<In>,
    /// Restart the row counter; latch `mode_y`.
    pub start: Port<In>,
    /// The phase that `start` begins: 0 recurrent (h rows), 1 output (y rows).
    pub mode_y: Port<In>,
    /// A row sum arrives.
    pub in_valid: Port<In>,
    /// The row sum (lane accumulator width).
    pub in_acc: Port<In>,
    /// A processed row leaves.
    pub out_valid: Port<Out>,
    /// It is an output row (y), else a hidden row (h).
    pub out_is_y: Port<Out>,
    /// It is the last row of its phase.
    pub out_last: Port<Out>,
    /// Its index.
    pub out_row: Port<Out>,
    /// The new hidden code (hidden rows).
    pub out_h: Port<Out>,
    /// The output accumulator (output rows).
    pub out_y: Port<Out>,
    _p: RequantParams,
    _cnt: usize,
    _is_y: bool,
    _s1: Stage,
    _s2: Stage,
    _s3: Stage,
}

#[derive(Debug, Clone, Copy, Default)]
struct Stage {
    valid: bool,
    is_y: bool,
    last: bool,
    row: usize,
    /// Stage 1: the sum; 2: the activation; 3: the product.
    value: i64,
    /// Stage 1: b or c as read; 2 and 3: y.
    bias: i64,
    /// Stage 1: β.
    beta: i64,
    /// Stage 1: c.
    cbias: i64,
}

impl Requant {
    /// A post-processor with the given parameters.
    pub fn new(p: RequantParams) -> Self {
        Requant {
            clock: Signal::default(),
            reset: Port::bit(),
            start: Port::bit(),
            mode_y: Port::bit(),
            in_valid: Port::bit(),
            in_acc: Port::new(p.lane_bits),
            out_valid: Port::bit(),
            out_is_y: Port::bit(),
            out_last: Port::bit(),
            out_row: Port::new(p.row_bits),
            out_h: Port::new(p.act_bits),
            out_y: Port::new(p.out_acc_bits),
            _p: p,
            _cnt: 0,
            _is_y: false,
            _s1: Stage::default(),
            _s2: Stage::default(),
            _s3: Stage::default(),
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
        let rom = |name: &str, vals: &[i64], w: usize| {
            let mut s = format!(
                "(* ram_style = \"block\", rom_style = \"block\" *)\nreg [{}:0] {name} [0:{}];\ninitial begin\n",
                w - 1,
                vals.len() - 1
            );
            for (i, &v) in vals.iter().enumerate() {
                s += &format!("   {name}[{i}] = {};\n", hex(v, w));
            }
            s + "end\n"
        };
        let mut roms = rom("b_rom", &p.b, a) + &rom("c_rom", &p.c, ay);
        let beta = p.beta.as_deref();
        if let Some(beta) = beta {
            roms += &rom("beta_rom", beta, a);
        }
        let act = if beta.is_some() {
            format!(
                "wire signed [{a1}:0] mag = s_neg ? -s : s;
wire signed [{a1}:0] t = mag + $signed(s1_beta);
wire signed [{a1}:0] tp = t[{a1}] ? {a2}'sd0 : t;
wire signed [{a1}:0] act = (s == {a2}'sd0) ? {a2}'sd0 : (s_neg ? -tp : tp);",
                a1 = a + 1,
                a2 = a + 2
            )
        } else {
            format!(
                "wire signed [{a1}:0] act = s_neg ? {a2}'sd0 : s;",
                a1 = a + 1,
                a2 = a + 2
            )
        };
        let beta_read = if beta.is_some() {
            "      s1_beta <= beta_rom[h_addr];\n".to_string()
        } else {
            String::new()
        };
        let beta_decl = if beta.is_some() {
            format!("reg signed [{}:0] s1_beta;\n", a - 1)
        } else {
            String::new()
        };
        // a·M as shift-and-add over M's set bits.
        let m = p.multiplier as u64;
        let terms: Vec<String> = (0..15)
            .filter(|b| (m >> b) & 1 == 1)
            .map(|b| format!("(ax <<< {b})"))
            .collect();
        let prod = if terms.is_empty() {
            format!("{pw}'sd0")
        } else {
            terms.join(" + ")
        };
        let round = if r == 0 {
            "wire signed [QW1:0] qr = pq;".replace("QW1", &(qw - 1).to_string())
        } else {
            let below = if r >= 2 {
                format!("(|pq[{}:0])", r - 2)
            } else {
                "1'b0".to_string()
            };
            format!(
                "wire signed [{qw1}:0] fl = pq >>> {r};
wire inc = pq[{r1}] & ({below} | pq[{r}]);
wire signed [{qw1}:0] qr = fl + {{{{{qw1}{{1'b0}}}}, inc}};",
                qw1 = qw - 1,
                r1 = r - 1
            )
        };
        let hmax = (1i64 << (ka - 1)) - 1;
        let nlast = p.hidden - 1;
        let dlast = p.output - 1;
        format!(
            "// Row post-processor: bias, activation, requantisation (or output bias).
{roms}reg [{rb1}:0] cnt;
reg is_y;
reg s1_valid, s1_is_y, s1_last;
reg [{rb1}:0] s1_row;
reg signed [{lw1}:0] s1_acc;
reg signed [{a1}:0] s1_b;
reg signed [{ay1}:0] s1_c;
{beta_decl}reg s2_valid, s2_is_y, s2_last;
reg [{rb1}:0] s2_row;
reg signed [{a1}:0] s2_a;
reg signed [{ay1}:0] s2_y;
reg s3_valid, s3_is_y, s3_last;
reg [{rb1}:0] s3_row;
reg signed [{pw1}:0] s3_p;
reg signed [{ay1}:0] s3_y;
wire [{rb1}:0] h_addr = (cnt < {n}) ? cnt : {rb}'d0;
wire [{rb1}:0] y_addr = (cnt < {d}) ? cnt : {rb}'d0;
wire row_last = is_y ? (cnt == {rb}'d{dlast}) : (cnt == {rb}'d{nlast});
wire signed [{a2_1}:0] s = $signed(s1_acc[{a1}:0]) + $signed(s1_b);
wire s_neg = s[{a2_1}];
{act}
wire signed [{pw1}:0] ax = s2_a;
wire signed [{qw1}:0] pq = s3_p;
{round}
localparam signed [{qw1}:0] HMAX = {qw}'sd{hmax};
localparam signed [{qw1}:0] HMIN = -{qw}'sd{hmin};
initial begin
   cnt = 0; is_y = 0; s1_valid = 0; s2_valid = 0; s3_valid = 0;
   out_valid = 0; out_is_y = 0; out_last = 0; out_row = 0; out_h = 0; out_y = 0;
end
always @(posedge clock) begin
   if (reset) begin
      cnt <= {rb}'d0; is_y <= 1'b0;
      s1_valid <= 1'b0; s2_valid <= 1'b0; s3_valid <= 1'b0; out_valid <= 1'b0;
   end else begin
      out_valid <= s3_valid; out_is_y <= s3_is_y; out_last <= s3_last; out_row <= s3_row;
      out_y <= s3_y;
      out_h <= (qr > HMAX) ? HMAX[{ka1}:0] : (qr < HMIN) ? HMIN[{ka1}:0] : qr[{ka1}:0];
      s3_valid <= s2_valid; s3_is_y <= s2_is_y; s3_last <= s2_last; s3_row <= s2_row;
      s3_p <= {prod};
      s3_y <= s2_y;
      s2_valid <= s1_valid; s2_is_y <= s1_is_y; s2_last <= s1_last; s2_row <= s1_row;
      s2_a <= act[{a1}:0];
      s2_y <= s1_acc[{ay1}:0] + s1_c;
      s1_valid <= in_valid; s1_is_y <= is_y; s1_last <= row_last; s1_row <= cnt;
      s1_acc <= in_acc;
      s1_b <= b_rom[h_addr];
      s1_c <= c_rom[y_addr];
{beta_read}      if (start) begin
         cnt <= {rb}'d0; is_y <= mode_y;
      end else if (in_valid) cnt <= cnt + {rb}'d1;
   end
end",
            rb1 = rb - 1,
            lw1 = lw - 1,
            a1 = a - 1,
            ay1 = ay - 1,
            a2_1 = a + 1,
            pw1 = pw - 1,
            qw1 = qw - 1,
            ka1 = ka - 1,
            n = p.hidden,
            d = p.output,
            hmin = hmax + 1,
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
            self._s2.valid = false;
            self._s3.valid = false;
            self.out_valid.next = 0;
            return;
        }
        let p = &self._p;
        let (a, ay, lw) = (p.acc_bits, p.out_acc_bits, p.lane_bits);
        // Stage 4: round and saturate.
        let s3 = self._s3;
        self.out_valid.set_bool(s3.valid);
        self.out_is_y.set_bool(s3.is_y);
        self.out_last.set_bool(s3.last);
        self.out_row.set(s3.row as u64);
        self.out_y.set_i64(s3.bias);
        let pw = a + 16;
        let pq = sext(to_bits(s3.value, pw), pw);
        self.out_h.set_i64(round_saturate(pq, p.shift, p.act_bits));
        // Stage 3: a·M.
        let s2 = self._s2;
        self._s3 = Stage {
            value: sext(to_bits(s2.value.wrapping_mul(p.multiplier), pw), pw),
            ..s2
        };
        // Stage 2: bias and activation, or output bias.
        let s1 = self._s1;
        let s = sext(to_bits(s1.value, lw), a) + s1.bias;
        let act = self.activation(s, s1.beta);
        let y = sext(to_bits(sext(to_bits(s1.value, lw), ay) + s1.cbias, ay), ay);
        self._s2 = Stage {
            value: sext(to_bits(act, a), a),
            bias: y,
            ..s1
        };
        // Stage 1: register the sum, read the biases.
        let p = &self._p;
        let h_addr = if self._cnt < p.hidden { self._cnt } else { 0 };
        let y_addr = if self._cnt < p.output { self._cnt } else { 0 };
        let count = if self._is_y { p.output } else { p.hidden };
        self._s1 = Stage {
            valid: self.in_valid.is_high(),
            is_y: self._is_y,
            last: self._cnt == count - 1,
            row: self._cnt,
            value: self.in_acc.val_i64(),
            bias: p.b[h_addr],
            beta: p.beta.as_ref().map_or(0, |b| b[h_addr]),
            cbias: p.c[y_addr],
        };
        if self.start.is_high() {
            self._cnt = 0;
            self._is_y = self.mode_y.is_high();
        } else if self.in_valid.is_high() {
            self._cnt = (self._cnt + 1) & ((1 << p.row_bits) - 1);
        }
    }

    fn connect(&mut self) {
        self.out_valid.connect();
        self.out_is_y.connect();
        self.out_last.connect();
        self.out_row.connect();
        self.out_h.connect();
        self.out_y.connect();
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

    /// Push row sums through the post-processor and collect (is_y, row, h, y, last).
    fn run(p: RequantParams, mode_y: bool, sums: &[i64]) -> Vec<(bool, u64, i64, i64, bool)> {
        let mut q = Requant::new(p);
        q.connect_all();
        q.start.set_bool(true);
        q.mode_y.set_bool(mode_y);
        tick(&mut q);
        q.start.set_bool(false);
        let mut out = Vec::new();
        for i in 0..sums.len() + 6 {
            if let Some(&s) = sums.get(i) {
                q.in_valid.set_bool(true);
                q.in_acc.set_i64(s);
            } else {
                q.in_valid.set_bool(false);
            }
            tick(&mut q);
            if q.out_valid.is_high() {
                out.push((
                    q.out_is_y.is_high(),
                    q.out_row.val(),
                    q.out_h.val_i64(),
                    q.out_y.val_i64(),
                    q.out_last.is_high(),
                ));
            }
        }
        out
    }

    #[test]
    fn worked_example_of_the_spec() {
        // Row sums without bias: 55 and 56 (→ acc 59 and 50 after b).
        let out = run(params(None), false, &[55, 56]);
        assert_eq!(
            out,
            vec![(false, 0, 22, 0, false), (false, 1, 19, 0, true)]
                .into_iter()
                .map(|(a, b, c, _, e)| (a, b, c, out[b as usize].3, e))
                .collect::<Vec<_>>()
        );
        let out = run(params(Some(vec![-20, -60])), false, &[55, 56]);
        assert_eq!((out[0].2, out[1].2), (15, 0));
        // Output phase: y = acc + c.
        let out = run(params(None), true, &[-16]);
        assert_eq!(out, vec![(true, 0, out[0].2, -11, true)]);
    }

    #[test]
    fn verilog_rounds_as_the_spec_says() {
        let v = Requant::new(params(None)).verilog();
        assert!(
            v.contains("wire inc = pq[2] & ((|pq[1:0]) | pq[3]);"),
            "{v}"
        );
        assert!(v.contains("(ax <<< 0) + (ax <<< 1)"), "{v}");
        assert!(v.contains("b_rom[1] = 16'hfffa;"), "{v}");
    }
}
