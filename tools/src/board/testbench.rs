//! A host in Verilog, for the tests: an Icarus Verilog testbench that plays bytes into a board
//! top's receive pin and prints what comes back, byte by byte at the line rate.

use std::fmt::Write;

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
