//! The sequencer (a native leaf): the streaming handshakes and the step's schedule.
//!
//! - `x_ready` is high when idle and no output waits; `x_valid & x_ready` accepts x_t (and
//!   `x_start`: this step starts a sequence, so h_{t−1} reads as 0; so does the first step
//!   after reset).
//! - Recurrent phase: for each of the ⌈n/R⌉ row blocks (R = P rows, or 2P with packed lanes)
//!   it streams h_{t−1}[0..n] then x_t[0..m] to lane 0, one operand per cycle, each with its
//!   ROM address (the stream position), first/last-of-row flags and the number of rows the
//!   block holds.
//! - Right after the last recurrent token (or after `CoreConfig::out_gap` idle cycles when the
//!   last rows of h_t would not be written in time) the output phase streams h_t[0..n]
//!   ⌈d/P⌉ times (V rows) from the other state bank: a row of h_t is read (⌈n/R⌉−1)·R + q
//!   cycles into the phase (q: its place in the block), after it has been written (a static
//!   schedule: every stage has a fixed latency).
//! - When the last y row arrives, `y_valid` rises with `y_data` (d accumulators of A_y bits)
//!   and stays until `y_ready`; `step_cycles` holds the clocks from acceptance to `y_valid`;
//!   the state banks trade places.

use crate::config::{clog2, CoreConfig};
use crate::lane::{KIND_U, KIND_V, KIND_W};
use crate::port::{get_field, put_field, sext, to_bits, Port, WidePort};
use crate::verilog::{flag, next_is_last};
use rust_hdl::prelude::*;

/// The sequencer's states, in the order of their Verilog codes (the `localparam` line of the
/// emitted module is written from [`Phase::ALL`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Phase {
    /// Waiting for x_t (and for y_{t−1} to be taken).
    #[default]
    Idle,
    /// Streaming h_{t−1} and x_t through the W and U rows.
    Rec,
    /// Waiting for the last h_t rows to be written before the output phase reads them.
    RecWait,
    /// Streaming h_t through the V rows.
    Out,
    /// Waiting for the last output row to leave the post-processor.
    OutWait,
}

impl Phase {
    const ALL: [Phase; 5] = [
        Phase::Idle,
        Phase::Rec,
        Phase::RecWait,
        Phase::Out,
        Phase::OutWait,
    ];

    /// The name the emitted Verilog gives it.
    fn verilog_name(self) -> &'static str {
        match self {
            Phase::Idle => "IDLE",
            Phase::Rec => "REC",
            Phase::RecWait => "REC_WAIT",
            Phase::Out => "OUT",
            Phase::OutWait => "OUT_WAIT",
        }
    }

    /// `localparam IDLE = 3'd0, …;` for the emitted module.
    fn localparams() -> String {
        let codes: Vec<String> = Phase::ALL
            .iter()
            .map(|&p| format!("{} = 3'd{}", p.verilog_name(), p as u8))
            .collect();
        format!("localparam {};", codes.join(", "))
    }
}

/// The sequencer.
#[derive(LogicBlock)]
pub struct Sequencer {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset: idle, h = 0 for the next step.
    pub reset: Port<In>,
    /// x_t is offered.
    pub x_valid: Port<In>,
    /// x_t is taken at this clock if `x_valid`.
    pub x_ready: Port<Out>,
    /// x_t begins a sequence (h_{t−1} = 0).
    pub x_start: Port<In>,
    /// x_t: m codes of k_x bits, element 0 in the low bits.
    pub x_data: WidePort<In>,
    /// y_t is offered.
    pub y_valid: Port<Out>,
    /// y_t is taken at this clock if `y_valid`.
    pub y_ready: Port<In>,
    /// y_t: d accumulators of A_y bits, element 0 in the low bits.
    pub y_data: WidePort<Out>,
    /// Clocks of the last step, from accepting x_t to raising `y_valid`.
    pub step_cycles: Port<Out>,
    /// State-buffer read address.
    pub h_raddr: Port<Out>,
    /// State-buffer read bank (h_{t−1} in the recurrent phase, h_t in the output phase).
    pub h_rbank: Port<Out>,
    /// State-buffer write bank (h_t).
    pub h_wbank: Port<Out>,
    /// State-buffer read data.
    pub h_rdata: Port<In>,
    /// Token to lane 0: valid.
    pub tok_valid: Port<Out>,
    /// Token: first of a row.
    pub tok_first: Port<Out>,
    /// Token: last of a row.
    pub tok_last: Port<Out>,
    /// Token: W, U or V.
    pub tok_kind: Port<Out>,
    /// Token: the operand.
    pub tok_data: Port<Out>,
    /// Token: ROM address.
    pub tok_addr: Port<Out>,
    /// Token: lanes owning a row in this block.
    pub tok_active: Port<Out>,
    /// Post-processor output: a y row.
    pub rq_valid: Port<In>,
    /// ... the last y row.
    pub rq_last: Port<In>,
    /// ... its row (rows arrive in order; kept for the waveforms).
    pub rq_row: Port<In>,
    /// ... the y value.
    pub rq_y: Port<In>,
    _c: SeqParams,
    _r: SeqRegs,
}

/// The sequencer's fixed parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SeqParams {
    n: usize,
    m: usize,
    p: usize,
    /// Rows of a recurrent block (P, or 2P with packed lanes).
    hp: usize,
    hblocks: usize,
    oblocks: usize,
    h_last_active: usize,
    o_last_active: usize,
    kx: usize,
    ka: usize,
    kd: usize,
    ay: usize,
    jb: usize,
    bb: usize,
    gap: usize,
    wb: usize,
}

#[derive(Debug, Clone, Default)]
struct SeqRegs {
    st: Phase,
    blk: usize,
    j: usize,
    addr: u64,
    fresh: bool,
    zero: bool,
    bank: bool,
    wait: usize,
    x: Vec<u64>,
    y: Vec<u64>,
    cyc: u64,
    pv: bool,
    pfirst: bool,
    plast: bool,
    pkind: u64,
    pidx: usize,
    paddr: u64,
    pactive: u64,
}

impl Sequencer {
    /// The sequencer of a core.
    pub fn new(cfg: &CoreConfig) -> Self {
        let (n, m, d, p) = (cfg.hidden, cfg.input, cfg.output, cfg.lanes);
        let c = SeqParams {
            n,
            m,
            p,
            hp: cfg.hidden_block_rows(),
            hblocks: cfg.hidden_blocks(),
            oblocks: cfg.output_blocks(),
            h_last_active: cfg.last_hidden_lanes(),
            o_last_active: d - (cfg.output_blocks() - 1) * p,
            kx: cfg.input_bits as usize,
            ka: cfg.activation_bits as usize,
            kd: cfg.data_bits(),
            ay: cfg.output_accumulator_bits as usize,
            jb: clog2(n + m),
            bb: clog2(cfg.hidden_blocks().max(cfg.output_blocks())),
            gap: cfg.out_gap() as usize,
            wb: clog2(cfg.out_gap() as usize + 2),
        };
        let x_data = WidePort::new(m * c.kx);
        let y_data = WidePort::new(d * c.ay);
        let regs = SeqRegs {
            fresh: true,
            x: x_data.val().to_vec(),
            y: y_data.val().to_vec(),
            ..SeqRegs::default()
        };
        Sequencer {
            clock: Signal::default(),
            reset: Port::bit(),
            x_valid: Port::bit(),
            x_ready: Port::bit(),
            x_start: Port::bit(),
            x_data,
            y_valid: Port::bit(),
            y_ready: Port::bit(),
            y_data,
            step_cycles: Port::new(32),
            h_raddr: Port::new(clog2(n)),
            h_rbank: Port::bit(),
            h_wbank: Port::bit(),
            h_rdata: Port::new(c.ka),
            tok_valid: Port::bit(),
            tok_first: Port::bit(),
            tok_last: Port::bit(),
            tok_kind: Port::new(2),
            tok_data: Port::new(c.kd),
            tok_addr: Port::new(cfg.rom_addr_bits()),
            tok_active: Port::new(cfg.active_bits()),
            rq_valid: Port::bit(),
            rq_last: Port::bit(),
            rq_row: Port::new(cfg.row_bits()),
            rq_y: Port::new(c.ay),
            _c: c,
            _r: regs,
        }
    }

    /// Emit the pre-token of stream position `j` of the current block (registered).
    fn emit(&mut self, kind_out: bool) {
        let c = self._c;
        let r = &mut self._r;
        let (len, blocks, last_active) = if kind_out {
            (c.n, c.oblocks, c.o_last_active)
        } else {
            (c.n + c.m, c.hblocks, c.h_last_active)
        };
        r.pv = true;
        r.pfirst = r.j == 0;
        r.plast = r.j == len - 1;
        r.pkind = if kind_out {
            KIND_V
        } else if r.j < c.n {
            KIND_W
        } else {
            KIND_U
        };
        r.pidx = if r.j < c.n { r.j } else { r.j - c.n };
        r.paddr = r.addr;
        r.pactive = if r.blk == blocks - 1 {
            last_active
        } else if kind_out {
            c.p
        } else {
            c.hp
        } as u64;
        r.addr += 1;
        if r.j == len - 1 {
            r.j = 0;
            if r.blk == blocks - 1 {
                r.blk = 0;
                r.st = if kind_out {
                    Phase::OutWait
                } else if c.gap == 0 {
                    Phase::Out
                } else {
                    r.wait = c.gap;
                    Phase::RecWait
                };
            } else {
                r.blk += 1;
            }
        } else {
            r.j += 1;
        }
    }

    fn clocked(&mut self) {
        let c = self._c;
        // y rows arrive in order 0..d: shift each in at the top (no row decoder, no reset).
        if self.rq_valid.is_high() {
            let d = self.y_data.width() / c.ay;
            let y = &mut self._r.y;
            for k in 0..d - 1 {
                let v = get_field(y, (k + 1) * c.ay, c.ay);
                put_field(y, k * c.ay, c.ay, v);
            }
            put_field(y, (d - 1) * c.ay, c.ay, self.rq_y.val());
            self.y_data.next.clone_from(&self._r.y);
        }
        if self.reset.is_high() {
            let r = &mut self._r;
            r.st = Phase::Idle;
            r.fresh = true;
            r.pv = false;
            r.cyc = 0;
            r.bank = false;
            self.y_valid.next = 0;
            return;
        }
        let cyc = self._r.cyc;
        let y_valid = self.y_valid.is_high();
        let accept = self._r.st == Phase::Idle && !y_valid && self.x_valid.is_high();
        if self._r.st != Phase::Idle {
            self._r.cyc = (self._r.cyc + 1) & 0xffff_ffff;
        }
        if y_valid && self.y_ready.is_high() {
            self.y_valid.next = 0;
        }
        match self._r.st {
            Phase::Idle => {
                self._r.pv = false;
                if accept {
                    let r = &mut self._r;
                    r.x.clone_from_slice(self.x_data.val());
                    r.zero = self.x_start.is_high() || r.fresh;
                    r.fresh = false;
                    r.st = Phase::Rec;
                    r.j = 0;
                    r.blk = 0;
                    r.addr = 0;
                    r.cyc = 1;
                }
            }
            Phase::Rec => self.emit(false),
            Phase::RecWait => {
                let r = &mut self._r;
                r.pv = false;
                if r.wait == 1 {
                    r.st = Phase::Out;
                }
                r.wait = r.wait.saturating_sub(1);
            }
            Phase::Out => self.emit(true),
            Phase::OutWait => {
                self._r.pv = false;
                if self.rq_valid.is_high() && self.rq_last.is_high() {
                    self._r.st = Phase::Idle;
                    self._r.bank = !self._r.bank;
                    self.y_valid.next = 1;
                    self.step_cycles.next = cyc;
                }
            }
        }
    }

    fn combinational(&mut self) {
        let c = self._c;
        let r = &self._r;
        self.x_ready
            .set_bool(r.st == Phase::Idle && !self.y_valid.is_high());
        self.h_raddr.set(r.j as u64);
        self.h_rbank
            .set_bool(if r.st == Phase::Out { !r.bank } else { r.bank });
        self.h_wbank.set_bool(!r.bank);
        self.tok_valid.set_bool(r.pv);
        self.tok_first.set_bool(r.pfirst);
        self.tok_last.set_bool(r.plast);
        self.tok_kind.set(r.pkind);
        self.tok_addr.set(r.paddr);
        self.tok_active.set(r.pactive);
        let data = if r.pkind == KIND_U {
            sext(get_field(&r.x, r.pidx * c.kx, c.kx), c.kx)
        } else if r.zero && r.pkind == KIND_W {
            0
        } else {
            self.h_rdata.val_i64()
        };
        self.tok_data.next = to_bits(data, c.kd);
    }

    fn verilog(&self) -> String {
        let c = &self._c;
        let sext_to = |expr: &str, from: usize| {
            if c.kd > from {
                format!(
                    "{{{{{e}{{{expr}[{t}]}}}}, {expr}}}",
                    e = c.kd - from,
                    t = from - 1
                )
            } else {
                expr.to_string()
            }
        };
        let jb1 = c.jb - 1;
        let bb1 = c.bb - 1;
        let ab1 = self.tok_addr.width() - 1;
        let act1 = self.tok_active.width() - 1;
        let hb = self.h_raddr.width();
        format!(
            "// Sequencer: handshakes, the step's schedule, the token source of lane 0.
{phases}
reg [2:0] st;
reg [{jb1}:0] j;
reg [{bb1}:0] blk;
reg [{ab1}:0] addr;
reg fresh, zero, bank;
reg [{wb1}:0] wait_cnt;
reg [{xw1}:0] x_reg;
reg [31:0] cyc;
reg pv, pfirst, plast;
reg [1:0] pkind;
// The token's data source, registered with it: x (a U token) or a zero h (a W token of a
// sequence's first step), so that the state RAM's slow output meets one LUT, not a decode.
reg psel_x, psel_zero;
reg [{ab1}:0] paddr;
reg [{act1}:0] pactive;
// j_end / blk_end: j and blk are at the last position of their block / phase. Registered one
// clock ahead, so that no counter comparison lies between the counters and their enables.
reg j_end, blk_end;
// One-hot flags beside the state code, kept by the same transitions: `run` (REC or OUT: tokens
// flow), `rec` (REC) and `idle` (IDLE), so that the counters' enables start from single flops.
reg run, rec, idle;
wire j_h = (j < {n}); // stream position j is an h operand (else an x one)
wire [{act1}:0] last_active = rec ? {actw}'d{h_last} : {actw}'d{o_last};
// x_el: the input element at stream position j, registered with the token as px.
reg [{kx1}:0] x_el, px;
always @(*) begin
   case (j - {jb}'d{n})
{x_cases}      default: x_el = {kx}'d0;
   endcase
end
initial begin
   st = IDLE; j = 0; blk = 0; addr = 0; fresh = 1'b1; zero = 1'b0; x_reg = 0; cyc = 0;
   bank = 1'b0; wait_cnt = 0;
   pv = 1'b0; pfirst = 1'b0; plast = 1'b0; pkind = 2'd0; psel_x = 1'b0; psel_zero = 1'b0; px = 0; paddr = 0; pactive = 0;
   j_end = 1'b0; blk_end = 1'b0; run = 1'b0; rec = 1'b0; idle = 1'b1;
   y_valid = 1'b0; y_data = 0; step_cycles = 32'd0;
end
always @(*) begin
   x_ready = idle & ~y_valid;
   h_raddr = j[{hb1}:0];
   h_rbank = (st == OUT) ? ~bank : bank;
   h_wbank = ~bank;
   tok_valid = pv;
   tok_first = pfirst;
   tok_last = plast;
   tok_kind = pkind;
   tok_addr = paddr;
   tok_active = pactive;
   if (psel_x) tok_data = {x_ext};
   else if (psel_zero) tok_data = {kd}'d0;
   else tok_data = {h_ext};
end
// y rows arrive in order 0..d: each is shifted in at the top.
always @(posedge clock) if (rq_valid) y_data <= {y_shift};
always @(posedge clock) begin
   if (reset) begin
      st <= IDLE; fresh <= 1'b1; pv <= 1'b0; cyc <= 32'd0; y_valid <= 1'b0; bank <= 1'b0;
      run <= 1'b0; rec <= 1'b0; idle <= 1'b1;
   end else begin
      if (!idle) cyc <= cyc + 32'd1;
      if (y_valid & y_ready) y_valid <= 1'b0;
      if (idle) begin
            pv <= 1'b0;
            if (x_valid & ~y_valid) begin
               x_reg <= x_data;
               zero <= x_start | fresh;
               fresh <= 1'b0;
               st <= REC; j <= 0; blk <= 0; addr <= 0; cyc <= 32'd1;
               run <= 1'b1; rec <= 1'b1; idle <= 1'b0;
               j_end <= {rec_j_end0}; blk_end <= {rec_blk_end0};
            end
      end else if (run) begin
            pv <= 1'b1;
            pfirst <= (j == 0);
            plast <= j_end;
            pkind <= rec ? (j_h ? 2'd0 : 2'd1) : 2'd2;
            psel_x <= rec & ~j_h;
            psel_zero <= zero & rec & j_h;
            px <= x_el;
            paddr <= addr;
            pactive <= blk_end ? last_active : {full_active};
            addr <= addr + 1'b1;
            if (j_end) begin
               j <= 0;
               if (blk_end) begin
                  blk <= 0;
                  // The next phase is the output phase (after REC) or none (after OUT).
                  j_end <= {out_j_end0}; blk_end <= {out_blk_end0};
                  st <= rec ? {after_rec} : OUT_WAIT;
                  rec <= 1'b0;
                  run <= {run_after};
{load_wait}
               end else begin
                  blk <= blk + 1'b1;
                  j_end <= rec ? {rec_j_end0} : {out_j_end0};
                  blk_end <= rec ? {rec_blk_next} : {out_blk_next};
               end
            end else begin
               j <= j + 1'b1;
               j_end <= rec ? {rec_j_next} : {out_j_next};
            end
      end else if (st == REC_WAIT) begin
            pv <= 1'b0;
            if (wait_cnt == {wbw}'d1) begin st <= OUT; run <= 1'b1; end
            wait_cnt <= wait_cnt - 1'b1;
      end else begin // OUT_WAIT
            pv <= 1'b0;
            if (rq_valid & rq_last) begin
               st <= IDLE; idle <= 1'b1;
               bank <= ~bank;
               y_valid <= 1'b1;
               step_cycles <= cyc;
            end
      end
   end
end",
            xw1 = c.m * c.kx - 1,
            kx1 = c.kx - 1,
            kx = c.kx,
            kd = c.kd,
            n = c.n,
            full_active = if c.hp == c.p {
                format!("{}'d{}", act1 + 1, c.p)
            } else {
                format!("(rec ? {w}'d{} : {w}'d{})", c.hp, c.p, w = act1 + 1)
            },
            jb = c.jb,
            actw = act1 + 1,
            hb1 = hb - 1,
            rec_j_end0 = flag(c.n + c.m == 1),
            out_j_end0 = flag(c.n == 1),
            rec_blk_end0 = flag(c.hblocks == 1),
            out_blk_end0 = flag(c.oblocks == 1),
            rec_j_next = next_is_last("j", c.jb, c.n + c.m - 1),
            out_j_next = next_is_last("j", c.jb, c.n - 1),
            rec_blk_next = next_is_last("blk", c.bb, c.hblocks - 1),
            out_blk_next = next_is_last("blk", c.bb, c.oblocks - 1),
            h_last = c.h_last_active,
            o_last = c.o_last_active,
            x_ext = sext_to("px", c.kx),
            x_cases = (0..c.m)
                .map(|j| format!(
                    "      {j}: x_el = x_reg[{}:{}];\n",
                    (j + 1) * c.kx - 1,
                    j * c.kx
                ))
                .collect::<String>(),
            y_shift = if self.y_data.width() > c.ay {
                format!("{{rq_y, y_data[{}:{}]}}", self.y_data.width() - 1, c.ay)
            } else {
                "rq_y".to_string()
            },
            h_ext = sext_to("h_rdata", c.ka),
            wb1 = c.wb - 1,
            wbw = c.wb,
            after_rec = if c.gap == 0 {
                Phase::Out
            } else {
                Phase::RecWait
            }
            .verilog_name(),
            phases = Phase::localparams(),
            // REC goes straight to OUT (tokens keep flowing) unless it waits; OUT ends the run.
            run_after = if c.gap == 0 { "rec" } else { "1'b0" },
            load_wait = if c.gap == 0 {
                String::new()
            } else {
                format!("                  wait_cnt <= {}'d{};\n", c.wb, c.gap)
            },
        )
    }
}

impl Logic for Sequencer {
    #[inline]
    fn update(&mut self) {
        if self.clock.pos_edge() {
            self.clocked();
        }
        self.combinational();
    }

    fn connect(&mut self) {
        self.x_ready.connect();
        self.y_valid.connect();
        self.y_data.connect();
        self.step_cycles.connect();
        self.h_raddr.connect();
        self.tok_valid.connect();
        self.tok_first.connect();
        self.tok_last.connect();
        self.tok_kind.connect();
        self.tok_data.connect();
        self.tok_addr.connect();
        self.tok_active.connect();
        self.h_rbank.connect();
        self.h_wbank.connect();
    }

    fn hdl(&self) -> Verilog {
        Verilog::Custom(self.verilog())
    }
}
