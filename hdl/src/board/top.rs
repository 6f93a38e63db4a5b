//! The board top: the UART, the framer and the core, wired (one Verilog text).

use super::framer::Framer;
use super::uart::{module_verilog, uart_verilog};
use super::Link;
use crate::interface::CorePorts;
use std::fmt::Write;

/// The board top named `top` with pins `ports` (clock, UART receive, UART transmit) around a
/// core with `core`'s ports: the UART modules, the framer (`{top}_framer`) and the top that
/// wires them. The core's own Verilog is not included.
pub fn board_top_verilog(
    core: &CorePorts,
    top: &str,
    ports: (&str, &str, &str),
    link: &Link,
) -> String {
    let (clk, rx, tx) = ports;
    let framer_name = format!("{top}_framer");
    let mut v = uart_verilog(link.clocks_per_bit);
    v += &module_verilog(&Framer::new(core, link), &framer_name);
    let xw = core.inputs * core.input_bits as usize;
    let yw = core.outputs * core.output_bits as usize;
    let load = match &core.load {
        Some(l) => format!(
            ",\n    .{}(load_valid), .{}(load_first), .{}(load_byte)",
            l.valid, l.first, l.byte
        ),
        None => String::new(),
    };
    let _ = crate::write_with_ports!(
        v,
        core,
        "// qornn board top, protocol v3 (docs/board.md): the core behind a UART byte stream.
module {top} (input {clk}, input {rx}, output {tx});
  wire por_reset, core_reset, rx_valid, tx_start, tx_busy;
  wire x_valid, x_start, x_ready, y_valid, y_ready, load_valid, load_first;
  wire [7:0] rx_data, tx_data, load_byte;
  wire [{x1}:0] x_data;
  wire [{y1}:0] y_data;
  qornn_uart_rx uart_rx (.clock({clk}), .reset(por_reset), .rx({rx}), .valid(rx_valid), .data(rx_data));
  qornn_uart_tx uart_tx (.clock({clk}), .reset(por_reset), .start(tx_start), .data(tx_data), .tx({tx}), .busy(tx_busy));
  {framer_name} framer (
    .clock({clk}), .rx_valid(rx_valid), .rx_data(rx_data), .tx_busy(tx_busy),
    .tx_start(tx_start), .tx_data(tx_data), .por_reset(por_reset), .core_reset(core_reset),
    .x_valid(x_valid), .x_start(x_start), .x_data(x_data), .x_ready(x_ready),
    .y_valid(y_valid), .y_data(y_data), .y_ready(y_ready),
    .load_valid(load_valid), .load_first(load_first), .load_byte(load_byte)
  );
  {module} core (
    .{clock}({clk}), .{reset}(core_reset),
    .{x_valid}(x_valid), .{x_ready}(x_ready), .{x_data}(x_data), .{x_start}(x_start),
    .{y_valid}(y_valid), .{y_ready}(y_ready), .{y_data}(y_data){load}
  );
endmodule
",
        x1 = xw - 1,
        y1 = yw - 1,
    );
    v
}
