//! The 8N1 UART of the board tops (native leaves): a receiver that samples each bit in its
//! middle and drops a byte whose stop bit is low, and a transmitter; both down to 4 clocks per
//! bit (3 Mbaud at 12 MHz). `update()` and the Verilog describe the same registers, clock for
//! clock.

use crate::port::Port;
use rust_hdl::prelude::*;

/// Bits to hold `0..n`, as Verilog's `$clog2` (0 for n ≤ 1).
fn vlog_clog2(n: u64) -> u32 {
    if n <= 1 {
        0
    } else {
        64 - (n - 1).leading_zeros()
    }
}

/// The receiver: one byte per `valid` pulse.
#[derive(LogicBlock)]
pub struct UartRx {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset.
    pub reset: Port<In>,
    /// The line (idle high), asynchronous: it goes through a two-flop synchroniser.
    pub rx: Port<In>,
    /// A byte arrived (one clock).
    pub valid: Port<Out>,
    /// The byte, while `valid`.
    pub data: Port<Out>,
    _cpb: u32,
    _sync: u8,
    _count: i64,
    _bits: u8,
    _busy: bool,
    _data: u8,
}

impl UartRx {
    /// A receiver at `clocks_per_bit` (≥ 4) clocks per bit.
    pub fn new(clocks_per_bit: u32) -> Self {
        UartRx {
            clock: Signal::default(),
            reset: Port::bit(),
            rx: Port::bit(),
            valid: Port::bit(),
            data: Port::new(8),
            _cpb: clocks_per_bit.max(4),
            _sync: 0b111,
            _count: 0,
            _bits: 0,
            _busy: false,
            _data: 0,
        }
    }
}

impl Logic for UartRx {
    #[inline]
    fn update(&mut self) {
        if !self.clock.pos_edge() {
            return;
        }
        let cpb = self._cpb as i64;
        let line = (self._sync >> 1) & 1;
        let before = (self._sync >> 2) & 1;
        self._sync = ((self._sync << 1) | self.rx.val() as u8) & 7;
        self.valid.next = 0;
        if self.reset.is_high() {
            (self._busy, self._bits, self._count) = (false, 0, 0);
        } else if !self._busy {
            // A start bit begins with a falling edge, seen two clocks late (the synchroniser):
            // the first sample is due one and a half bits after it. An edge, not a low level:
            // after a framing error the line may still be low, and that is no start bit.
            if before == 1 && line == 0 {
                (self._busy, self._bits, self._count) = (true, 0, cpb + cpb / 2 - 2);
            }
        } else if self._count >= 0 {
            self._count -= 1;
        } else if self._bits == 8 {
            self._busy = false;
            if line == 1 {
                self.valid.next = 1;
            }
        } else {
            self._data = (line << 7) | (self._data >> 1);
            self.data.next = self._data as u64;
            self._bits += 1;
            self._count = cpb - 2;
        }
    }

    fn connect(&mut self) {
        self.valid.connect();
        self.data.connect();
    }

    fn hdl(&self) -> Verilog {
        let cw = vlog_clog2(2 * self._cpb as u64) + 1;
        Verilog::Custom(format!(
            "// 8N1 receiver, {cpb} clocks per bit: waits for the start bit, then samples each bit in
// its middle; a stop bit that is not high (a framing error) drops the byte, and the next
// start bit is a falling edge (not a low level, which a framing error may leave). The count
// runs down to -1, its sign bit: no compare of the whole count is on the path.
reg [2:0] sync;
reg [{cw1}:0] count;
reg [3:0] bits;
reg busy;
initial begin sync = 3'b111; count = 0; bits = 0; busy = 0; valid = 0; data = 0; end
always @(posedge clock) begin
   sync <= {{sync[1:0], rx}};
   valid <= 1'b0;
   if (reset) begin
      busy <= 0; bits <= 0; count <= 0;
   end else if (!busy) begin
      if (sync[2:1] == 2'b10) begin busy <= 1; bits <= 0; count <= {cw}'d{first}; end
   end else if (!count[{cw1}]) begin
      count <= count - {cw}'d1;
   end else if (bits == 4'd8) begin
      busy <= 0;
      if (sync[1] == 1'b1) valid <= 1'b1;
   end else begin
      data <= {{sync[1], data[7:1]}};
      bits <= bits + 4'd1;
      count <= {cw}'d{next};
   end
end",
            cpb = self._cpb,
            cw1 = cw - 1,
            first = self._cpb + self._cpb / 2 - 2,
            next = self._cpb - 2,
        ))
    }
}

/// The transmitter: `start` with `data` while `busy` is low sends one 8N1 frame.
#[derive(LogicBlock)]
pub struct UartTx {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset.
    pub reset: Port<In>,
    /// Send `data` (taken when not busy).
    pub start: Port<In>,
    /// The byte to send.
    pub data: Port<In>,
    /// The line (idle high).
    pub tx: Port<Out>,
    /// A frame is on the line.
    pub busy: Port<Out>,
    _cpb: u32,
    _count: u32,
    _tick: bool,
    _bits_left: u8,
    _frame: u16,
}

impl UartTx {
    /// A transmitter at `clocks_per_bit` (≥ 4) clocks per bit.
    pub fn new(clocks_per_bit: u32) -> Self {
        let mut tx = UartTx {
            clock: Signal::default(),
            reset: Port::bit(),
            start: Port::bit(),
            data: Port::new(8),
            tx: Port::bit(),
            busy: Port::bit(),
            _cpb: clocks_per_bit.max(4),
            _count: 0,
            _tick: false,
            _bits_left: 0,
            _frame: 0x3ff,
        };
        tx.tx.next = 1;
        tx
    }
}

impl Logic for UartTx {
    #[inline]
    fn update(&mut self) {
        if !self.clock.pos_edge() {
            return;
        }
        let active = self.busy.is_high();
        if self.reset.is_high() {
            self.busy.next = 0;
            self.tx.next = 1;
            (self._count, self._tick) = (0, false);
        } else if !active {
            self.tx.next = 1;
            if self.start.is_high() {
                self._frame = 0x200 | ((self.data.val() as u16) << 1);
                self.busy.next = 1;
                (self._count, self._tick, self._bits_left) = (0, false, 10);
            }
        } else {
            self.tx.next = (self._frame & 1) as u64;
            let tick = self._tick;
            // The end of a bit is a registered flag: no wide compare before the shift.
            self._tick = self._count == self._cpb - 2;
            if tick {
                self._count = 0;
                self._frame = 0x200 | (self._frame >> 1);
                if self._bits_left == 1 {
                    self.busy.next = 0;
                }
                self._bits_left -= 1;
            } else {
                self._count += 1;
            }
        }
    }

    fn connect(&mut self) {
        self.tx.connect();
        self.busy.connect();
    }

    fn hdl(&self) -> Verilog {
        let cw = vlog_clog2(self._cpb as u64) + 1;
        Verilog::Custom(format!(
            "// 8N1 transmitter, {cpb} clocks per bit: the frame is a shift register and the end of
// a bit a registered flag, so no wide compare or mux is on the clock's path.
reg [{cw1}:0] count;
reg tick;
reg [3:0] bits_left;
reg [9:0] frame;
initial begin count = 0; tick = 0; bits_left = 0; frame = 10'h3ff; tx = 1'b1; busy = 1'b0; end
always @(posedge clock) begin
   if (reset) begin
      busy <= 0; tx <= 1'b1; count <= 0; tick <= 0;
   end else if (!busy) begin
      tx <= 1'b1;
      if (start) begin
         frame <= {{1'b1, data, 1'b0}};
         busy <= 1; count <= 0; tick <= 0; bits_left <= 4'd10;
      end
   end else begin
      tx <= frame[0];
      tick <= (count == {cw}'d{last});
      if (tick) begin
         count <= 0;
         frame <= {{1'b1, frame[9:1]}};
         if (bits_left == 4'd1) busy <= 0;
         bits_left <= bits_left - 4'd1;
      end else count <= count + {cw}'d1;
   end
end",
            cpb = self._cpb,
            cw1 = cw - 1,
            last = self._cpb - 2,
        ))
    }
}

/// The receiver and transmitter at `clocks_per_bit`, as the modules `qornn_uart_rx`
/// (clock, reset, rx → valid, data) and `qornn_uart_tx` (clock, reset, start, data → tx, busy).
pub fn uart_verilog(clocks_per_bit: u32) -> String {
    module_verilog(&UartRx::new(clocks_per_bit), "qornn_uart_rx")
        + &module_verilog(&UartTx::new(clocks_per_bit), "qornn_uart_tx")
}

/// A leaf's Verilog as a module of its own named `name`.
pub fn module_verilog<L: Block>(leaf: &L, name: &str) -> String {
    let mut defines = ModuleDefines::default();
    leaf.accept(name, &mut defines);
    defines.defines()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The line levels of 8N1 frames, `cpb` clocks a bit, `gap` idle clocks between frames;
    /// `bad_stop` frames have a low stop bit. Written from the 8N1 definition, not the blocks.
    fn line(bytes: &[(u8, bool)], cpb: usize, gap: usize) -> Vec<u64> {
        let mut out = vec![1; 3 * cpb];
        for &(b, bad_stop) in bytes {
            let mut bits = vec![0u64];
            bits.extend((0..8).map(|i| ((b >> i) & 1) as u64));
            bits.push(!bad_stop as u64);
            for bit in bits {
                out.extend(std::iter::repeat_n(bit, cpb));
            }
            out.extend(std::iter::repeat_n(1, gap));
        }
        out.extend(std::iter::repeat_n(1, 3 * cpb));
        out
    }

    #[test]
    fn the_receiver_takes_every_good_byte_and_drops_a_framing_error() {
        for cpb in [4usize, 5, 7, 104] {
            let bytes = [
                (0x55, false),
                (0x00, false),
                (0xa7, true),
                (0xff, false),
                (0x81, false),
            ];
            let mut rx = UartRx::new(cpb as u32);
            rx.connect_all();
            let mut got = Vec::new();
            for level in line(&bytes, cpb, 1) {
                rx.rx.next = level;
                rx.clock.next = Clock { clk: true };
                simulate(&mut rx, 10);
                rx.clock.next = Clock { clk: false };
                simulate(&mut rx, 10);
                if rx.valid.is_high() {
                    got.push(rx.data.val() as u8);
                }
            }
            assert_eq!(got, vec![0x55, 0x00, 0xff, 0x81], "{cpb} clocks per bit");
        }
    }

    #[test]
    fn the_transmitter_sends_8n1_frames_of_exactly_ten_bits() {
        for cpb in [4usize, 6, 104] {
            let mut tx = UartTx::new(cpb as u32);
            tx.connect_all();
            let mut levels = Vec::new();
            let mut queue = vec![0x3cu8, 0x00, 0xff, 0x96];
            queue.reverse();
            for _ in 0..(4 * 12 * cpb) {
                if !tx.busy.is_high() {
                    if let Some(b) = queue.pop() {
                        tx.start.next = 1;
                        tx.data.next = b as u64;
                    }
                }
                tx.clock.next = Clock { clk: true };
                simulate(&mut tx, 10);
                tx.start.next = 0;
                tx.clock.next = Clock { clk: false };
                simulate(&mut tx, 10);
                levels.push(tx.tx.val());
            }
            // An independent decoder: a falling edge starts a frame, each bit sampled in its middle.
            let mut got = Vec::new();
            let mut t = 1;
            while t < levels.len() {
                if levels[t - 1] == 1 && levels[t] == 0 {
                    let bit = |k: usize| levels[t + k * cpb + cpb / 2];
                    assert_eq!(bit(0), 0, "start bit");
                    got.push((1..=8).fold(0u8, |b, k| b | ((bit(k) as u8) << (k - 1))));
                    assert_eq!(bit(9), 1, "stop bit");
                    // Every bit lasts exactly one bit time.
                    for k in 0..10 {
                        let cell = &levels[t + k * cpb..t + (k + 1) * cpb];
                        assert!(cell.iter().all(|&l| l == bit(k)), "bit {k} at {cpb}");
                    }
                    t += 10 * cpb - cpb / 2;
                } else {
                    t += 1;
                }
            }
            assert_eq!(got, vec![0x3c, 0x00, 0xff, 0x96], "{cpb} clocks per bit");
        }
    }
}
