//! The 8N1 UART of the board tops, in Verilog: a receiver that samples mid-bit and drops a
//! byte with a bad stop bit, and a transmitter; both down to 4 clocks per bit.

/// The UART receiver and transmitter modules (8N1, `CLKS_PER_BIT` parameter, ≥ 4).
pub fn uart_verilog() -> &'static str {
    r#"// 8N1 UART receiver: waits for the start bit, then samples each bit in its middle, one byte
// per `valid` pulse; a stop bit that is not high (a framing error) drops the byte. Works down
// to 4 clocks per bit (3 Mbaud at 12 MHz).
module qornn_uart_rx #(parameter CLKS_PER_BIT = 104) (
  input clock, input reset, input rx,
  output reg valid, output reg [7:0] data
);
  localparam CW = $clog2(CLKS_PER_BIT * 2) + 1;
  reg [1:0] sync = 2'b11;
  reg [CW-1:0] count = 0;
  reg [3:0] bits = 0;   // data bits taken; 8: the stop bit is next
  reg busy = 0;
  always @(posedge clock) begin
    sync <= {sync[0], rx};
    valid <= 1'b0;
    if (reset) begin
      busy <= 0; bits <= 0; count <= 0;
    end else if (!busy) begin
      // The start edge is seen two cycles late (the synchroniser): the first sample is due
      // one and a half bits after it.
      // The count runs down to −1, its sign bit: no compare of the whole count is on the path.
      if (sync[1] == 1'b0) begin busy <= 1; bits <= 0; count <= CLKS_PER_BIT + CLKS_PER_BIT / 2 - 2; end
    end else if (!count[CW-1]) begin
      count <= count - 1;
    end else if (bits == 4'd8) begin
      busy <= 0;
      if (sync[1] == 1'b1) valid <= 1'b1;
    end else begin
      data <= {sync[1], data[7:1]};
      bits <= bits + 4'd1;
      count <= CLKS_PER_BIT - 2;
    end
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
