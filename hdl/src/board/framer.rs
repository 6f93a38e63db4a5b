//! The board top's framer (a native leaf): the power-on reset, the receive FIFO, the parser
//! that turns frames into x_t (and, with run-time weights, weight bytes), and the sender that
//! answers (credits, outputs, statuses, identity, timer). The protocol is `docs/board.md`.
//!
//! `update()` keeps every register of the Verilog in [`Regs`] and computes the next values
//! from the current ones, statement by statement in the Verilog's order (a later assignment
//! wins, as with non-blocking assignments); the two are compared clock for clock in the tests.

use super::protocol::*;
use super::Link;
use crate::interface::CorePorts;
use crate::port::{get_field, sext, Port, WidePort};
use rust_hdl::prelude::*;

/// Where the identity block carries the model hash (8 bytes, little-endian).
pub const MODEL_HASH_AT: usize = 32;

const P_CMD: u8 = 0;
const P_LEN: u8 = 1;
const P_PAY: u8 = 2;
const P_CHK: u8 = 3;
const M_STEP: u8 = 0;
const M_LAST: u8 = 1;
const M_ALL: u8 = 2;
const M_LOAD: u8 = 3;
const K_NONE: u8 = 0;
const K_ABORT: u8 = 1;
const K_CREDIT: u8 = 2;
const K_ID: u8 = 3;
const K_TIMER: u8 = 4;
const K_Y: u8 = 5;
const K_STATUS: u8 = 6;

/// The framer's fixed parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Shape {
    /// m, k_x and the bytes per input code.
    pub m: usize,
    pub kx: usize,
    pub xb: usize,
    /// d, A_y and the bytes per output.
    pub d: usize,
    pub ky: usize,
    pub yb: usize,
    /// FIFO address bits.
    pub aw: u32,
    /// The silence limit (cycles) and its counter's sign bit.
    pub idle: i64,
    pub idle_w: u32,
    pub identity: [u8; IDENTITY_BYTES],
    /// Run-time weights: the load command and port.
    pub ram: bool,
}

impl Shape {
    pub fn x_bytes(&self) -> usize {
        self.m * self.xb
    }
    pub fn y_bytes(&self) -> usize {
        self.d * self.yb
    }
    pub fn hash0(&self) -> u64 {
        let mut h = [0u8; 8];
        h.copy_from_slice(&self.identity[MODEL_HASH_AT..MODEL_HASH_AT + 8]);
        u64::from_le_bytes(h)
    }
}

/// Every register of the framer (the FIFO's memory apart).
#[derive(Debug, Clone, Default)]
struct Regs {
    por: u8,
    soft_reset: u8,
    soft_quiet: bool,
    wr_ptr: usize,
    rd_ptr: usize,
    fifo_empty: bool,
    fifo_full: bool,
    rd_data: u8,
    rd_valid: bool,
    q_data: u8,
    pb_data: u8,
    q_valid: bool,
    pb_valid: bool,
    pb_step: bool,
    pb_s: bool,
    pb_frame: bool,
    pb_l: bool,
    pb_id: bool,
    pb_timer: bool,
    pb_nz: bool,
    pb_load: bool,
    pstate: u8,
    mode: u8,
    len_idx: u8,
    frame_len: u32,
    steps_left: u32,
    steps_one: bool,
    steps_dec: u32,
    steps_lo_zero: bool,
    len_nz: bool,
    frame_empty: bool,
    byte_mark: usize,
    sum: u8,
    start_next: bool,
    x_shift: Vec<u8>,
    have_step: bool,
    step_start: bool,
    x_hold: Vec<u8>,
    load_first_due: bool,
    chk_load: bool,
    hash_shift: u64,
    loaded_hash: u64,
    credits: u16,
    credits_nz: bool,
    y_buf: Vec<u8>,
    y_full: bool,
    y_final: bool,
    y_left: u32,
    y_one: bool,
    y_dec: u32,
    y_lo_zero: bool,
    keep_d: bool,
    final_d: bool,
    y_shift_d: bool,
    chk_done: bool,
    chk_ok: bool,
    chk_empty: bool,
    status_due: bool,
    final_sent: bool,
    status_code: u8,
    abort_due: bool,
    abort_code: u8,
    id_due: bool,
    timer_due: bool,
    cycles_lo: u32,
    cycles_hi: u32,
    cycles_carry: bool,
    timer_shift: u64,
    idle: i64,
    abort_now: bool,
    silent: bool,
    abort_why: u8,
    snd_kind: u8,
    snd_idx: u16,
    snd_left: u16,
    // registered from snd_idx (and the hash) a clock before they are sent
    id_byte: u8,
    snd_first: bool,
    credit_give: bool,
    // The outputs.
    tx_start: bool,
    tx_data: u8,
    x_valid: bool,
    x_start: bool,
    y_ready: bool,
    core_reset: bool,
    por_reset: bool,
    load_valid: bool,
    load_first: bool,
    load_byte: u8,
}

/// A 32-bit count less one, in two 16-bit halves with the low half's borrow registered.
fn dec_halves(v: u32, lo_zero: bool) -> u32 {
    let hi = ((v >> 16).wrapping_sub(lo_zero as u32)) & 0xffff;
    let lo = (v & 0xffff).wrapping_sub(1) & 0xffff;
    (hi << 16) | lo
}

/// The framer between the UART and the core.
#[derive(LogicBlock)]
pub struct Framer {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// A byte arrived on the line.
    pub rx_valid: Port<In>,
    /// The byte.
    pub rx_data: Port<In>,
    /// The transmitter is sending.
    pub tx_busy: Port<In>,
    /// Send `tx_data`.
    pub tx_start: Port<Out>,
    /// The byte to send.
    pub tx_data: Port<Out>,
    /// The power-on reset, for the UART (high for the first clocks).
    pub por_reset: Port<Out>,
    /// The core's reset: power-on, and after an abandoned frame.
    pub core_reset: Port<Out>,
    /// x_t for the core.
    pub x_valid: Port<Out>,
    /// It starts a sequence.
    pub x_start: Port<Out>,
    /// x_t, m codes of k_x bits.
    pub x_data: WidePort<Out>,
    /// The core takes x_t.
    pub x_ready: Port<In>,
    /// The core offers y_t.
    pub y_valid: Port<In>,
    /// y_t, d values of A_y bits.
    pub y_data: WidePort<In>,
    /// The framer takes y_t.
    pub y_ready: Port<Out>,
    /// A weight byte for the core's load port (run-time weights).
    pub load_valid: Port<Out>,
    /// It is the image's first.
    pub load_first: Port<Out>,
    /// The byte.
    pub load_byte: Port<Out>,
    _shape: Shape,
    _r: Regs,
    _fifo: Vec<u8>,
}

impl Framer {
    /// The framer of a board top for a core with `core`'s ports, talking as `link` says.
    pub fn new(core: &CorePorts, link: &Link) -> Self {
        let xb = (core.input_bits as usize).div_ceil(8);
        let yb = (core.output_bits as usize).div_ceil(8);
        let aw = link.fifo_bytes.max(2).next_power_of_two().trailing_zeros();
        let shape = Shape {
            m: core.inputs,
            kx: core.input_bits as usize,
            xb,
            d: core.outputs,
            ky: core.output_bits as usize,
            yb,
            aw,
            idle: link.idle_cycles as i64,
            idle_w: 32 - link.idle_cycles.max(1).leading_zeros() + 1,
            identity: link.identity,
            ram: core.load.is_some(),
        };
        let r = Regs {
            soft_quiet: true,
            fifo_empty: true,
            byte_mark: 0,
            x_shift: vec![0; shape.x_bytes()],
            x_hold: vec![0; shape.x_bytes()],
            y_buf: vec![0; shape.y_bytes()],
            loaded_hash: shape.hash0(),
            snd_first: true,
            idle: shape.idle,
            core_reset: true,
            por_reset: true,
            ..Regs::default()
        };
        let mut f = Framer {
            clock: Signal::default(),
            rx_valid: Port::bit(),
            rx_data: Port::new(8),
            tx_busy: Port::bit(),
            tx_start: Port::bit(),
            tx_data: Port::new(8),
            por_reset: Port::bit(),
            core_reset: Port::bit(),
            x_valid: Port::bit(),
            x_start: Port::bit(),
            x_data: WidePort::new(core.inputs * core.input_bits as usize),
            x_ready: Port::bit(),
            y_valid: Port::bit(),
            y_data: WidePort::new(core.outputs * core.output_bits as usize),
            y_ready: Port::bit(),
            load_valid: Port::bit(),
            load_first: Port::bit(),
            load_byte: Port::new(8),
            _fifo: vec![0; 1 << aw],
            _shape: shape,
            _r: r,
        };
        f.drive_outputs();
        f
    }

    /// The identity's byte at the current index (the Verilog's `id_byte`).
    fn id_byte(&self, o: &Regs) -> u8 {
        let idx = o.snd_idx as usize;
        let k = idx.wrapping_sub(MODEL_HASH_AT);
        if self._shape.ram && k < 8 {
            (o.loaded_hash >> (8 * k)) as u8
        } else {
            self._shape.identity.get(idx).copied().unwrap_or(0)
        }
    }

    /// The byte the sender would send now.
    fn snd_byte(&self, o: &Regs) -> u8 {
        match o.snd_kind {
            K_ABORT => {
                if o.snd_first {
                    REPLY_ERROR
                } else {
                    o.abort_code
                }
            }
            K_CREDIT => REPLY_CREDIT,
            K_ID => o.id_byte,
            K_TIMER => o.timer_shift as u8,
            K_Y => o.y_buf[0],
            K_STATUS => {
                if o.snd_first {
                    if o.status_code == 0 {
                        REPLY_OK
                    } else {
                        REPLY_ERROR
                    }
                } else {
                    o.status_code
                }
            }
            _ => 0,
        }
    }

    /// y_data as sent: each output sign-extended to its bytes, little-endian.
    fn y_wide(&self) -> Vec<u8> {
        let s = &self._shape;
        let mut out = Vec::with_capacity(s.y_bytes());
        for k in 0..s.d {
            let v = sext(get_field(self.y_data.val(), k * s.ky, s.ky), s.ky);
            out.extend_from_slice(&v.to_le_bytes()[..s.yb]);
        }
        out
    }

    /// The clearing of an abandoned frame (and of reset): the Verilog's `clear` list.
    fn clear(&self, n: &mut Regs) {
        n.pstate = P_CMD;
        n.have_step = false;
        n.x_valid = false;
        n.y_full = false;
        n.y_final = false;
        n.final_sent = false;
        n.chk_done = false;
        n.status_due = false;
        n.credits = 0;
        n.credits_nz = false;
        n.credit_give = false;
        n.keep_d = false;
        n.snd_kind = K_NONE;
        n.snd_idx = 0;
        n.idle = self._shape.idle;
        n.abort_now = false;
        n.rd_valid = false;
        n.q_valid = false;
        n.pb_valid = false;
        n.byte_mark = 0;
        n.load_valid = false;
        n.chk_load = false;
    }

    fn drive_outputs(&mut self) {
        let r = &self._r;
        self.tx_start.next = r.tx_start as u64;
        self.tx_data.next = r.tx_data as u64;
        self.por_reset.next = r.por_reset as u64;
        self.core_reset.next = r.core_reset as u64;
        self.x_valid.next = r.x_valid as u64;
        self.x_start.next = r.x_start as u64;
        self.y_ready.next = r.y_ready as u64;
        self.load_valid.next = r.load_valid as u64;
        self.load_first.next = r.load_first as u64;
        self.load_byte.next = r.load_byte as u64;
        let s = &self._shape;
        for j in 0..s.m {
            let mut raw = [0u8; 8];
            raw[..s.xb].copy_from_slice(&r.x_hold[j * s.xb..(j + 1) * s.xb]);
            self.x_data.set_field(j, s.kx, i64::from_le_bytes(raw));
        }
    }

    /// One rising edge: every register's next value from the current ones.
    fn edge(&mut self) {
        let s = self._shape.clone();
        let o = self._r.clone();
        let mut n = o.clone();
        n.id_byte = self.id_byte(&o);
        n.snd_first = o.snd_idx == 0;
        let reset = o.por & 0x10 == 0;
        let rx_valid = self.rx_valid.is_high();
        let rx_data = self.rx_data.val() as u8;
        let (x_ready, y_valid) = (self.x_ready.is_high(), self.y_valid.is_high());
        let tx_busy = self.tx_busy.is_high();
        let last_x = s.x_bytes() - 1;
        let mask = (1usize << s.aw) - 1;
        // Power-on reset and the core's reset.
        if o.por & 0x10 == 0 {
            n.por = o.por + 1;
        }
        n.por_reset = reset;
        n.core_reset = reset || o.soft_reset != 0;
        // The FIFO: flags a cycle late, writes, the registered read.
        n.fifo_empty = o.wr_ptr == o.rd_ptr;
        n.fifo_full = (o.wr_ptr & mask) == (o.rd_ptr & mask) && o.wr_ptr != o.rd_ptr;
        let fifo_we = rx_valid && !o.fifo_full;
        let want_byte = !(o.pstate == P_PAY && o.have_step);
        let fifo_re =
            !o.fifo_empty && !o.rd_valid && !o.q_valid && !o.pb_valid && want_byte && o.soft_quiet;
        if fifo_re {
            n.rd_data = self._fifo[o.rd_ptr & mask];
        }
        if fifo_we {
            self._fifo[o.wr_ptr & mask] = rx_data;
        }
        // y_buf, in a block of its own.
        if o.keep_d {
            n.y_buf = self.y_wide();
        } else if o.y_shift_d {
            n.y_buf.remove(0);
            n.y_buf.push(0);
        }
        n.silent = o.pstate != P_CMD
            && o.fifo_empty
            && !o.rd_valid
            && !o.q_valid
            && !o.pb_valid
            && (o.pstate != P_PAY || !o.have_step)
            && !rx_valid;
        let credit_take = o.snd_kind == K_NONE && !o.abort_due && o.credits_nz;
        // The main block.
        n.cycles_lo = (o.cycles_lo + 1) & 0xff_ffff;
        n.cycles_carry = o.cycles_lo == 0xff_fffe;
        if o.cycles_carry {
            n.cycles_hi = (o.cycles_hi + 1) & 0xff_ffff;
        }
        n.steps_one = o.steps_left == 1;
        n.y_one = o.y_left == 1;
        n.steps_lo_zero = o.steps_left & 0xffff == 0;
        n.y_lo_zero = o.y_left & 0xffff == 0;
        n.steps_dec = dec_halves(o.steps_left, o.steps_lo_zero);
        n.y_dec = dec_halves(o.y_left, o.y_lo_zero);
        n.keep_d = false;
        n.y_shift_d = false;
        n.tx_start = false;
        n.y_ready = false;
        n.load_valid = false;
        n.rd_valid = fifo_re;
        n.q_valid = o.rd_valid;
        n.q_data = o.rd_data;
        n.pb_valid = o.q_valid;
        n.pb_data = o.q_data;
        n.pb_step = o.q_data == CMD_START || o.q_data == CMD_NEXT;
        n.pb_s = o.q_data == CMD_START;
        n.pb_frame = o.q_data == CMD_LAST || o.q_data == CMD_ALL;
        n.pb_l = o.q_data == CMD_LAST;
        n.pb_id = o.q_data == CMD_IDENTIFY;
        n.pb_timer = o.q_data == CMD_TIMER;
        n.pb_nz = o.q_data != 0;
        n.pb_load = s.ram && o.q_data == CMD_LOAD;
        if o.soft_reset != 0 {
            n.soft_reset = o.soft_reset - 1;
        }
        n.soft_quiet = o.soft_reset == 0 || o.soft_reset == 1;
        let ptr_mod = 2usize << s.aw;
        if fifo_we {
            n.wr_ptr = (o.wr_ptr + 1) % ptr_mod;
        }
        if fifo_re {
            n.rd_ptr = (o.rd_ptr + 1) % ptr_mod;
        }
        n.credit_give = o.x_valid && x_ready && o.mode == M_LAST;
        n.credits = (o.credits + o.credit_give as u16).wrapping_sub(credit_take as u16) & 0x3ff;
        n.credits_nz = o.credits != 0;
        if reset {
            self.clear(&mut n);
            n.abort_due = false;
            n.id_due = false;
            n.timer_due = false;
            n.wr_ptr = 0;
            n.rd_ptr = 0;
        } else if o.abort_now {
            self.clear(&mut n);
            n.rd_ptr = o.wr_ptr;
            n.soft_reset = 4;
            n.soft_quiet = false;
            n.abort_due = true;
            n.abort_code = o.abort_why;
        } else {
            self.main(&s, &o, &mut n, last_x, rx_valid, x_ready, y_valid, tx_busy);
        }
        self._r = n;
        self.drive_outputs();
    }

    /// The body of the main block outside reset and abort.
    #[allow(clippy::too_many_arguments)]
    fn main(
        &self,
        s: &Shape,
        o: &Regs,
        n: &mut Regs,
        last_x: usize,
        rx_valid: bool,
        x_ready: bool,
        y_valid: bool,
        tx_busy: bool,
    ) {
        if o.silent {
            n.idle = o.idle - 1;
            if o.idle < 0 {
                n.abort_now = true;
                n.abort_why = ErrorCode::Timeout.byte();
            }
        } else {
            n.idle = s.idle;
        }
        if rx_valid && o.fifo_full {
            n.abort_now = true;
            n.abort_why = ErrorCode::Overflow.byte();
        }
        if o.pb_valid {
            let pb = o.pb_data;
            match o.pstate {
                P_CMD => {
                    if o.pb_step {
                        n.mode = M_STEP;
                        n.pstate = P_PAY;
                        n.steps_left = 1;
                        n.start_next = o.pb_s;
                        n.y_left = 1;
                    }
                    if o.pb_frame {
                        n.mode = if o.pb_l { M_LAST } else { M_ALL };
                        n.pstate = P_LEN;
                        n.len_idx = 0;
                        n.sum = 0;
                        n.start_next = true;
                        n.chk_done = false;
                    }
                    if o.pb_load {
                        n.mode = M_LOAD;
                        n.pstate = P_LEN;
                        n.len_idx = 0;
                        n.sum = 0;
                        n.chk_done = false;
                        n.loaded_hash = 0;
                        n.load_first_due = true;
                    }
                    if o.pb_id {
                        n.id_due = true;
                    }
                    if o.pb_timer {
                        n.timer_due = true;
                        n.timer_shift = ((o.cycles_hi as u64) << 24) | o.cycles_lo as u64;
                    }
                }
                P_LEN => {
                    let len = ((pb as u32) << 24) | (o.frame_len >> 8);
                    n.frame_len = len;
                    n.steps_left = len;
                    n.y_left = len;
                    n.sum = o.sum.wrapping_add(pb);
                    n.len_idx = (o.len_idx + 1) & 3;
                    n.len_nz = (o.len_idx != 0 && o.len_nz) || o.pb_nz;
                    if o.len_idx == 3 {
                        let nz = o.len_nz || o.pb_nz;
                        n.frame_empty = !nz;
                        n.pstate = if nz { P_PAY } else { P_CHK };
                    }
                }
                P_PAY => {
                    n.sum = o.sum.wrapping_add(pb);
                    if o.mode == M_LOAD {
                        n.load_valid = true;
                        n.load_first = o.load_first_due;
                        n.load_first_due = false;
                        n.load_byte = pb;
                        n.hash_shift = ((pb as u64) << 56) | (o.hash_shift >> 8);
                        n.steps_left = o.steps_dec;
                        if o.steps_one {
                            n.pstate = P_CHK;
                        }
                    } else {
                        n.x_shift.remove(0);
                        n.x_shift.push(pb);
                        if o.byte_mark == last_x {
                            n.byte_mark = 0;
                            n.have_step = true;
                            n.step_start = o.start_next;
                            n.start_next = false;
                            n.steps_left = o.steps_dec;
                            if o.steps_one {
                                n.pstate = if o.mode == M_STEP { P_CMD } else { P_CHK };
                            }
                        } else {
                            n.byte_mark = o.byte_mark + 1;
                        }
                    }
                }
                _ => {
                    n.pstate = P_CMD;
                    n.chk_done = true;
                    n.chk_ok = pb == o.sum;
                    n.chk_empty = o.frame_empty;
                    n.chk_load = o.mode == M_LOAD;
                    if o.mode == M_LOAD && pb == o.sum && !o.frame_empty {
                        n.loaded_hash = o.hash_shift;
                    }
                }
            }
        }
        // Hand the assembled step to the core.
        if o.x_valid && x_ready {
            n.x_valid = false;
        } else if o.have_step && !o.x_valid {
            n.x_hold = o.x_shift.clone();
            n.x_start = o.step_start;
            n.x_valid = true;
            n.have_step = false;
        }
        // Take y_t from the core.
        if y_valid && !o.y_ready && !o.y_full {
            n.y_ready = true;
            n.y_left = o.y_dec;
            n.keep_d = o.mode != M_LAST || o.y_one;
            n.final_d = o.mode != M_STEP && o.y_one;
        }
        if o.keep_d {
            n.y_full = true;
            n.y_final = o.final_d;
        }
        // The frame's status.
        if o.chk_done && (o.final_sent || o.chk_empty || o.chk_load) {
            n.final_sent = false;
            n.chk_done = false;
            n.chk_load = false;
            n.status_due = true;
            n.status_code = if o.chk_empty {
                ErrorCode::Empty.byte()
            } else if o.chk_ok {
                0
            } else {
                ErrorCode::Checksum.byte()
            };
        }
        // Choose the next answer; then send it byte by byte.
        if o.snd_kind == K_NONE {
            n.snd_idx = 0;
            if o.abort_due {
                n.snd_kind = K_ABORT;
                n.snd_left = 2;
                n.abort_due = false;
            } else if o.credits_nz {
                n.snd_kind = K_CREDIT;
                n.snd_left = 1;
            } else if o.id_due {
                n.snd_kind = K_ID;
                n.snd_left = IDENTITY_BYTES as u16;
                n.id_due = false;
            } else if o.timer_due {
                n.snd_kind = K_TIMER;
                n.snd_left = TIMER_BYTES as u16;
                n.timer_due = false;
            } else if o.y_full {
                n.snd_kind = K_Y;
                n.snd_left = s.y_bytes() as u16;
            } else if o.status_due {
                n.snd_kind = K_STATUS;
                n.snd_left = if o.status_code == 0 { 1 } else { 2 };
                n.status_due = false;
            }
        } else if !tx_busy && !o.tx_start {
            n.tx_data = self.snd_byte(o);
            n.tx_start = true;
            n.snd_idx = if o.snd_left == 1 {
                0
            } else {
                o.snd_idx.wrapping_add(1)
            };
            n.y_shift_d = o.snd_kind == K_Y;
            if o.snd_kind == K_TIMER {
                n.timer_shift = o.timer_shift >> 8;
            }
            n.snd_left = o.snd_left.wrapping_sub(1);
            if o.snd_left == 1 {
                n.snd_kind = K_NONE;
                if o.snd_kind == K_Y {
                    n.y_full = false;
                    if o.y_final {
                        n.y_final = false;
                        n.final_sent = true;
                    }
                }
            }
        }
    }
}

impl Logic for Framer {
    fn update(&mut self) {
        if self.clock.pos_edge() {
            self.edge();
        }
    }

    fn connect(&mut self) {
        for p in [
            &mut self.tx_start,
            &mut self.tx_data,
            &mut self.por_reset,
            &mut self.core_reset,
            &mut self.x_valid,
            &mut self.x_start,
            &mut self.y_ready,
            &mut self.load_valid,
            &mut self.load_first,
            &mut self.load_byte,
        ] {
            p.connect();
        }
        self.x_data.connect();
    }

    fn hdl(&self) -> Verilog {
        Verilog::Custom(super::framer_verilog::body(&self._shape))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A framer with a stand-in core (takes every x_t at once, answers y = the step's first
    /// byte, three clocks later) and a stand-in UART (a byte every 40 clocks in; each byte
    /// sent keeps the transmitter busy 40 clocks), driven clock by clock.
    struct Bench {
        f: Framer,
        sent: Vec<u8>,
        loaded: Vec<(bool, u8)>,
        busy: u32,
        y_due: Option<(u32, u64)>,
    }

    impl Bench {
        fn new(ram: bool) -> Bench {
            let mut core = CorePorts::standard("core", 1, 8, 1, 8);
            if ram {
                core.load = Some(crate::interface::LoadPorts {
                    valid: "load_valid".into(),
                    first: "load_first".into(),
                    byte: "load_byte".into(),
                });
            }
            let mut link = Link::for_simulation(4);
            link.identity[0] = b'Q';
            link.identity[47] = 0x77;
            let mut f = Framer::new(&core, &link);
            f.connect_all();
            Bench {
                f,
                sent: Vec::new(),
                loaded: Vec::new(),
                busy: 0,
                y_due: None,
            }
        }

        fn clock(&mut self, rx: Option<u8>) {
            let f = &mut self.f;
            f.rx_valid.next = rx.is_some() as u64;
            f.rx_data.next = rx.unwrap_or(0) as u64;
            f.tx_busy.next = (self.busy > 0) as u64;
            let ready = self.y_due.is_none() && !f.y_valid.is_high();
            f.x_ready.next = ready as u64;
            simulate(f, 10);
            // The handshake happens at this edge when x_valid is high with x_ready.
            let take = ready && f.x_valid.is_high();
            let x = f.x_data.val()[0];
            f.clock.next = Clock { clk: true };
            simulate(f, 10);
            f.clock.next = Clock { clk: false };
            simulate(f, 10);
            self.busy = self.busy.saturating_sub(1);
            if f.tx_start.is_high() {
                self.sent.push(f.tx_data.val() as u8);
                self.busy = 40;
            }
            if f.load_valid.is_high() {
                self.loaded
                    .push((f.load_first.is_high(), f.load_byte.val() as u8));
            }
            if take {
                self.y_due = Some((3, x));
            }
            if f.y_ready.is_high() {
                f.y_valid.next = 0;
            }
            if let Some((k, y)) = self.y_due {
                if k == 0 {
                    f.y_valid.next = 1;
                    f.y_data.next = vec![y];
                    self.y_due = None;
                } else {
                    self.y_due = Some((k - 1, y));
                }
            }
        }

        /// Send `bytes`, then wait; return what came back.
        fn exchange(&mut self, bytes: &[u8]) -> Vec<u8> {
            self.sent.clear();
            for _ in 0..40 {
                self.clock(None);
            }
            for &b in bytes {
                self.clock(Some(b));
                for _ in 0..39 {
                    self.clock(None);
                }
            }
            for _ in 0..3000 {
                self.clock(None);
            }
            self.sent.clone()
        }
    }

    fn frame(cmd: u8, payload: &[u8], good: bool) -> Vec<u8> {
        let mut f = vec![cmd];
        f.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        f.extend_from_slice(payload);
        let sum = f[1..].iter().fold(0u8, |s, &b| s.wrapping_add(b));
        f.push(if good { sum } else { sum ^ 1 });
        f
    }

    #[test]
    fn the_framer_answers_every_command_as_the_protocol_says() {
        let mut b = Bench::new(false);
        let id = b.exchange(&[CMD_IDENTIFY]);
        assert_eq!(id.len(), IDENTITY_BYTES);
        assert_eq!((id[0], id[47]), (b'Q', 0x77));
        // A last-output frame of steps 5, 9: two credits, y_T = 9, the status.
        let got = b.exchange(&frame(CMD_LAST, &[5, 9], true)[..]);
        assert_eq!(got, vec![REPLY_CREDIT, REPLY_CREDIT, 9, REPLY_OK]);
        // Every output; then a corrupted checksum: the outputs, then `! 1`.
        assert_eq!(
            b.exchange(&frame(CMD_ALL, &[3, 4], true)),
            vec![3, 4, REPLY_OK]
        );
        let bad = ErrorCode::Checksum.byte();
        assert_eq!(
            b.exchange(&frame(CMD_ALL, &[3], false)),
            vec![3, REPLY_ERROR, bad]
        );
        // v1 steps answer y_t alone; a frame of zero steps is refused; the timer has 6 bytes.
        assert_eq!(b.exchange(&[CMD_START, 7, CMD_NEXT, 8]), vec![7, 8]);
        let empty = ErrorCode::Empty.byte();
        assert_eq!(
            b.exchange(&frame(CMD_LAST, &[], true)),
            vec![REPLY_ERROR, empty]
        );
        assert_eq!(b.exchange(&[CMD_TIMER]).len(), TIMER_BYTES);
        // A frame cut short is abandoned after the silence, and said so.
        let cut = &frame(CMD_LAST, &[1, 2, 3], true)[..6];
        let timeout = ErrorCode::Timeout.byte();
        let got = b.exchange(cut);
        assert_eq!(&got[got.len() - 2..], &[REPLY_ERROR, timeout], "{got:?}");
        // Without run-time weights a load is not a command: nothing answers.
        assert_eq!(
            b.exchange(&frame(CMD_LOAD, &[1; 9], true)),
            Vec::<u8>::new()
        );
    }

    #[test]
    fn a_load_frame_feeds_the_load_port_and_sets_the_hash_only_when_whole() {
        let mut b = Bench::new(true);
        let mut payload: Vec<u8> = (1..=5).collect();
        payload.extend_from_slice(&0x0123_4567_89ab_cdef_u64.to_le_bytes());
        assert_eq!(b.exchange(&frame(CMD_LOAD, &payload, true)), vec![REPLY_OK]);
        let want: Vec<(bool, u8)> = payload
            .iter()
            .enumerate()
            .map(|(i, &v)| (i == 0, v))
            .collect();
        assert_eq!(b.loaded, want);
        let hash = |id: &[u8]| u64::from_le_bytes(id[32..40].try_into().unwrap());
        assert_eq!(hash(&b.exchange(&[CMD_IDENTIFY])), 0x0123_4567_89ab_cdef);
        // A corrupted load: refused, and the board no longer claims any model.
        let bad = ErrorCode::Checksum.byte();
        assert_eq!(
            b.exchange(&frame(CMD_LOAD, &payload, false)),
            vec![REPLY_ERROR, bad]
        );
        assert_eq!(hash(&b.exchange(&[CMD_IDENTIFY])), 0);
    }
}
