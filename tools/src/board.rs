//! Board tops: the core behind a UART byte stream, so a host can run sequences on a real board.
//!
//! The protocol (`docs/board.md`): the host sends, per time step, one command byte — `S` (0x53)
//! starts a new sequence from h₀ = 0, `X` (0x58) continues the current one — then the m input
//! codes, each as ⌈k_x/8⌉ bytes, little-endian two's complement. After the step the board sends
//! the d outputs y_t, each as ⌈A_y/8⌉ bytes, little-endian, sign-extended. 8N1 framing.
//!
//! The UART receiver, transmitter and the framing are plain Verilog written here (small, and
//! simulated byte by byte under Icarus Verilog in the tests); the core inside is the emitted
//! qornn core, whose streaming ports [`CorePorts`] names.

use std::fmt::Write;

/// A board this project has pin constraints for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Board {
    /// The command-line name.
    pub name: &'static str,
    /// The FPGA target it carries (a `synth::Target` name).
    pub target: &'static str,
    /// The constraints file under `constraints/`.
    pub constraints: &'static str,
    /// Its text, built into the binary (so `qornn synth --board` works from anywhere).
    pub constraints_text: &'static str,
    /// The on-board oscillator (Hz).
    pub clock_hz: u32,
    /// Top-level port names: clock, UART receive (into the FPGA), UART transmit.
    pub ports: (&'static str, &'static str, &'static str),
}

/// Boards with constraints in `constraints/`.
pub const BOARDS: &[Board] = &[
    Board {
        name: "icebreaker",
        target: "ice40-up5k",
        constraints: "icebreaker.pcf",
        constraints_text: include_str!("../../constraints/icebreaker.pcf"),
        clock_hz: 12_000_000,
        ports: ("CLK", "RX", "TX"),
    },
    Board {
        name: "ulx3s-25f",
        target: "ecp5-25k",
        constraints: "ulx3s.lpf",
        constraints_text: include_str!("../../constraints/ulx3s.lpf"),
        clock_hz: 25_000_000,
        ports: ("clk_25mhz", "ftdi_txd", "ftdi_rxd"),
    },
];

/// Look a board up by name.
pub fn board(name: &str) -> Option<&'static Board> {
    BOARDS.iter().find(|b| b.name == name)
}

/// The core's streaming interface; it lives with the core's description in `qornn-hdl`.
pub use qornn_hdl::interface::CorePorts;

/// Bytes per code of `bits` bits.
pub fn bytes_for(bits: u32) -> usize {
    bits.div_ceil(8) as usize
}

/// The UART receiver and transmitter modules (8N1, `CLKS_PER_BIT` parameter).
pub fn uart_verilog() -> &'static str {
    r#"// 8N1 UART receiver: samples mid-bit, one byte per `valid` pulse. The middle and the end of a
// bit are registered flags (set one cycle ahead) and the byte is a shift register, so no wide
// compare or bit decoder is on the clock's path. Needs CLKS_PER_BIT >= 8.
module qornn_uart_rx #(parameter CLKS_PER_BIT = 104) (
  input clock, input reset, input rx,
  output reg valid, output reg [7:0] data
);
  localparam CW = $clog2(CLKS_PER_BIT) + 1;
  reg [1:0] sync = 2'b11;
  reg [CW-1:0] count = 0;
  reg mid = 0, last = 0;
  reg [3:0] bit_index = 0;
  reg [1:0] state = 0; // 0 idle, 1 start, 2 data, 3 stop
  always @(posedge clock) begin
    sync <= {sync[0], rx};
    valid <= 1'b0;
    mid <= (count == (CLKS_PER_BIT / 2) - 2);
    last <= (count == CLKS_PER_BIT - 2);
    if (reset) begin
      state <= 0; count <= 0; bit_index <= 0; mid <= 0; last <= 0;
    end else case (state)
      0: if (sync[1] == 1'b0) begin state <= 1; count <= 0; end
      1: if (mid) begin
           count <= 0;
           if (sync[1] == 1'b0) begin state <= 2; bit_index <= 0; end else state <= 0;
         end else count <= count + 1;
      2: if (last) begin
           count <= 0;
           data <= {sync[1], data[7:1]};
           if (bit_index == 7) state <= 3; else bit_index <= bit_index + 1;
         end else count <= count + 1;
      3: if (last) begin
           count <= 0; state <= 0;
           if (sync[1] == 1'b1) valid <= 1'b1; // a framing error drops the byte
         end else count <= count + 1;
    endcase
  end
endmodule

// 8N1 UART transmitter: `start` with `data` when `busy` is low. The frame is a shift register
// and the end of a bit is a registered flag, so no wide compare or mux is on the clock's path.
module qornn_uart_tx #(parameter CLKS_PER_BIT = 104) (
  input clock, input reset, input start, input [7:0] data,
  output reg tx, output busy
);
  localparam CW = $clog2(CLKS_PER_BIT) + 1;
  reg [CW-1:0] count = 0;
  reg tick = 0;
  reg [3:0] bits_left = 0;
  reg [9:0] frame = 10'h3ff;
  reg active = 0;
  assign busy = active;
  initial tx = 1'b1;
  always @(posedge clock) begin
    if (reset) begin
      active <= 0; tx <= 1'b1; count <= 0; tick <= 0;
    end else if (!active) begin
      tx <= 1'b1;
      if (start) begin
        frame <= {1'b1, data, 1'b0};
        active <= 1; count <= 0; tick <= 0; bits_left <= 4'd10;
      end
    end else begin
      tx <= frame[0];
      tick <= (count == CLKS_PER_BIT - 2);
      if (tick) begin
        count <= 0;
        frame <= {1'b1, frame[9:1]};
        if (bits_left == 4'd1) active <= 0;
        bits_left <= bits_left - 4'd1;
      end else count <= count + 1;
    end
  end
endmodule
"#
}

/// The board top: UART in, framing into x_t, the core, y_t framed back out.
pub fn board_top_verilog(
    core: &CorePorts,
    top: &str,
    ports: (&str, &str, &str),
    clks_per_bit: u32,
) -> String {
    let (clk, rx, tx) = ports;
    let xb = bytes_for(core.input_bits);
    let yb = bytes_for(core.output_bits);
    let x_bytes = core.inputs * xb;
    let y_bytes = core.outputs * yb;
    let (m, kx, d, ky) = (core.inputs, core.input_bits, core.outputs, core.output_bits);
    let mut v = String::new();
    let _ = write!(
        v,
        r#"// qornn board top: the core behind a UART byte stream (see docs/board.md).
module {top} (input {clk}, input {rx}, output {tx});
  // Power-on reset: 16 cycles.
  reg [4:0] por = 0;
  wire reset = !por[4];
  always @(posedge {clk}) if (!por[4]) por <= por + 1;

  wire rx_valid; wire [7:0] rx_data;
  qornn_uart_rx #(.CLKS_PER_BIT({clks_per_bit})) uart_rx (.clock({clk}), .reset(reset), .rx({rx}), .valid(rx_valid), .data(rx_data));
  reg tx_start = 0; reg [7:0] tx_data = 0; wire tx_busy;
  qornn_uart_tx #(.CLKS_PER_BIT({clks_per_bit})) uart_tx (.clock({clk}), .reset(reset), .start(tx_start), .data(tx_data), .tx({tx}), .busy(tx_busy));

  // Receive: a command byte ('S' new sequence, 'X' next step), then {x_bytes} payload bytes.
  reg [{xw}:0] x_buf = 0;
  reg [15:0] rx_count = 0;
  reg have_cmd = 0;
  reg x_start = 0;
  reg x_valid = 0;
  wire x_ready;
  // The codes as the core takes them: element j in bits [j*{kx} +: {kx}].
  wire [{xcore}:0] x_data;
  genvar j;
  generate for (j = 0; j < {m}; j = j + 1) begin : unpack_x
    assign x_data[j*{kx} +: {kx}] = x_buf[j*{xb8} +: {kx}];
  end endgenerate

  always @(posedge {clk}) begin
    if (reset) begin
      have_cmd <= 0; rx_count <= 0; x_valid <= 0;
    end else begin
      if (x_valid && x_ready) x_valid <= 0;
      if (rx_valid && !x_valid) begin
        if (!have_cmd) begin
          if (rx_data == 8'h53 || rx_data == 8'h58) begin
            have_cmd <= 1; x_start <= (rx_data == 8'h53); rx_count <= 0;
          end
        end else begin
          {x_shift} // bytes arrive low first: a shift, not a decoder
          if (rx_count == {x_last}) begin have_cmd <= 0; x_valid <= 1; end
          rx_count <= rx_count + 1;
        end
      end
    end
  end

  wire y_valid; wire [{ycore}:0] y_data;
  reg y_ready = 0;
  {module} core (
    .{c_clock}({clk}), .{c_reset}(reset),
    .{c_x_valid}(x_valid), .{c_x_ready}(x_ready), .{c_x_data}(x_data), .{c_x_start}(x_start),
    .{c_y_valid}(y_valid), .{c_y_ready}(y_ready), .{c_y_data}(y_data)
  );

  // Transmit: latch y_t, send {y_bytes} bytes (each output sign-extended to {yb} bytes).
  reg [{yw}:0] y_buf = 0;
  reg [15:0] tx_count = 0;
  reg sending = 0;
  wire [{yw}:0] y_wide;
  genvar k;
  generate for (k = 0; k < {d}; k = k + 1) begin : pack_y
    assign y_wide[k*{yb8} +: {yb8}] = {y_ext};
  end endgenerate
  always @(posedge {clk}) begin
    tx_start <= 0;
    y_ready <= 0;
    if (reset) begin
      sending <= 0; tx_count <= 0;
    end else if (!sending) begin
      if (y_valid && !y_ready) begin y_buf <= y_wide; y_ready <= 1; sending <= 1; tx_count <= 0; end
    end else if (!tx_busy && !tx_start) begin
      tx_data <= y_buf[7:0];
      y_buf <= y_buf >> 8;
      tx_start <= 1;
      if (tx_count == {y_last}) sending <= 0;
      tx_count <= tx_count + 1;
    end
  end
endmodule
"#,
        xw = x_bytes * 8 - 1,
        x_shift = if x_bytes == 1 {
            "x_buf <= rx_data;".to_string()
        } else {
            format!("x_buf <= {{rx_data, x_buf[{}:8]}};", x_bytes * 8 - 1)
        },
        xcore = m * kx as usize - 1,
        xb8 = xb * 8,
        x_last = x_bytes - 1,
        ycore = d * ky as usize - 1,
        yw = y_bytes * 8 - 1,
        yb8 = yb * 8,
        y_ext = if yb * 8 == ky as usize {
            format!("y_data[k*{ky} +: {ky}]")
        } else {
            format!(
                "{{{{{}{{y_data[k*{ky} + {}]}}}}, y_data[k*{ky} +: {ky}]}}",
                yb * 8 - ky as usize,
                ky - 1
            )
        },
        y_last = y_bytes - 1,
        module = core.module,
        c_clock = core.clock,
        c_reset = core.reset,
        c_x_valid = core.x_valid,
        c_x_ready = core.x_ready,
        c_x_data = core.x_data,
        c_x_start = core.x_start,
        c_y_valid = core.y_valid,
        c_y_ready = core.y_ready,
        c_y_data = core.y_data,
    );
    v
}

/// An Icarus Verilog testbench that plays `host` bytes into the top's UART receive pin as a
/// host would: one step (`step_bytes` bytes) at a time, each after the previous step's answer
/// (`answer_bytes` bytes) has arrived. It prints each received byte as `BYTE xx` (then `DONE`),
/// or `TIMEOUT`.
pub fn uart_testbench_verilog(
    top: &str,
    ports: (&str, &str, &str),
    clks_per_bit: u32,
    host: &[u8],
    step_bytes: usize,
    answer_bytes: usize,
) -> String {
    let expect = host.len() / step_bytes.max(1) * answer_bytes;
    let (clk, rx, tx) = ports;
    let mut bytes = String::new();
    for (i, b) in host.iter().enumerate() {
        let _ = writeln!(bytes, "    host[{i}] = 8'h{b:02x};");
    }
    let n = host.len().max(1);
    let bit_time = clks_per_bit;
    // Generous time: every byte in and out at the line rate, plus the core's work.
    let limit = (host.len() + expect + 16) as u64 * 12 * clks_per_bit as u64 + 2_000_000;
    format!(
        r#"`timescale 1ns/1ns
module tb;
  reg clk = 0;
  always #1 clk = !clk;
  reg line = 1'b1;
  wire out_line;
  {top} dut (.{clk}(clk), .{rx}(line), .{tx}(out_line));
  reg [7:0] host [0:{last}];
  integer i, b, rb, got;
  initial begin
{bytes}  end
  // Host transmitter: 8N1 at {bit_time} clock cycles per bit.
  initial begin
    repeat (100) @(posedge clk);
    for (i = 0; i < {count}; i = i + 1) begin
      if (i % {step_bytes} == 0) wait (got >= (i / {step_bytes}) * {answer_bytes});
      line = 1'b0; repeat ({bit_time}) @(posedge clk);
      for (b = 0; b < 8; b = b + 1) begin line = host[i][b]; repeat ({bit_time}) @(posedge clk); end
      line = 1'b1; repeat ({bit_time}) @(posedge clk);
      repeat (2) @(posedge clk);
    end
  end
  // Host receiver: sample mid-bit.
  reg [7:0] byte_in;
  initial got = 0;
  initial begin
    while (got < {expect}) begin
      @(negedge out_line);
      repeat ({half}) @(posedge clk);
      for (rb = 0; rb < 8; rb = rb + 1) begin repeat ({bit_time}) @(posedge clk); byte_in[rb] = out_line; end
      repeat ({bit_time}) @(posedge clk);
      $display("BYTE %02x", byte_in);
      got = got + 1;
    end
    $display("DONE");
    $finish;
  end
  initial begin #{limit2}; $display("TIMEOUT"); $finish; end
endmodule
"#,
        last = n - 1,
        count = host.len(),
        half = bit_time / 2,
        limit2 = limit * 2,
    )
}

/// The board top's module name when the user gives none.
pub const BOARD_TOP: &str = "qornn_top";

/// [`BOARD_TOP`] as a checked module name.
pub fn default_top() -> qornn_hdl::name::ModuleName {
    BOARD_TOP.parse().expect("BOARD_TOP is an identifier")
}

/// The UART line rate the board tops use.
pub const BAUD: u32 = 115_200;

/// Everything needed to build a model's core as a board design: one Verilog text holding the
/// core, the UART and the top (named `top`), for a board or, without one, for free pin
/// placement at `clock_hz`.
pub fn board_design(
    model: &qornn_sim::QuantizedModel,
    opts: &qornn_hdl::CoreOptions,
    board: Option<&Board>,
    top: &str,
) -> Result<(String, qornn_hdl::CoreConfig), qornn_hdl::HdlError> {
    if let Err(e) = top.parse::<qornn_hdl::name::ModuleName>() {
        return Err(qornn_hdl::HdlError::Check(e.to_string()));
    }
    let cfg = qornn_hdl::CoreConfig::new(model, opts)?;
    let core_name = format!("{top}_core");
    let core = qornn_hdl::verilog::emit(model, opts, &core_name)?;
    let ports = CorePorts::qornn_core(&core_name, &cfg);
    let (clock_hz, pins) = match board {
        Some(b) => (b.clock_hz, b.ports),
        None => (12_000_000, ("CLK", "RX", "TX")),
    };
    let cpb = (clock_hz + BAUD / 2) / BAUD;
    let text = format!(
        "{core}\n{}\n{}",
        uart_verilog(),
        board_top_verilog(&ports, top, pins, cpb)
    );
    Ok((text, cfg))
}

/// The host side of the protocol: the bytes that run one sequence (of m-code steps).
pub fn encode_sequence(steps: &[Vec<i64>], input_bits: u32) -> Vec<u8> {
    let xb = bytes_for(input_bits);
    let mut out = Vec::new();
    for (t, x) in steps.iter().enumerate() {
        out.push(if t == 0 { b'S' } else { b'X' });
        for &code in x {
            out.extend_from_slice(&code.to_le_bytes()[..xb]);
        }
    }
    out
}

/// The host side of the protocol: d outputs per step from the bytes the board sent.
pub fn decode_outputs(bytes: &[u8], outputs: usize, output_bits: u32) -> Vec<Vec<i64>> {
    let yb = bytes_for(output_bits);
    bytes
        .chunks_exact(outputs * yb)
        .map(|step| {
            step.chunks_exact(yb)
                .map(|b| {
                    let mut raw = [0u8; 8];
                    raw[..yb].copy_from_slice(b);
                    let v = i64::from_le_bytes(raw);
                    let shift = 64 - 8 * yb as u32;
                    (v << shift) >> shift
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_board_pins_its_three_ports() {
        for b in BOARDS {
            let (clk, rx, tx) = b.ports;
            for port in [clk, rx, tx] {
                let placed = b.constraints_text.lines().any(|l| {
                    (l.starts_with("set_io") || l.starts_with("LOCATE COMP"))
                        && l.split_whitespace().any(|w| w.trim_matches('"') == port)
                });
                assert!(placed, "{}: no pin for {port}", b.name);
            }
        }
    }

    #[test]
    fn protocol_round_trips_signed_codes() {
        let bytes = encode_sequence(&[vec![-3, 5], vec![127, -128]], 8);
        assert_eq!(bytes, vec![b'S', 0xfd, 5, b'X', 127, 0x80]);
        let wide = encode_sequence(&[vec![-300]], 12);
        assert_eq!(wide, vec![b'S', 0xd4, 0xfe]);
        let out = decode_outputs(&[0xd4, 0xfe, 0xff, 0x10, 0, 0], 1, 20);
        assert_eq!(out, vec![vec![-300], vec![16]]);
    }
}
