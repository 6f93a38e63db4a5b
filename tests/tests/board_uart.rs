//! The board top's UART path, byte by byte under Icarus Verilog: a host sends sequences in the
//! documented protocol and decodes what comes back. The core here is a stand-in with the real
//! core's streaming ports (a running sum of the inputs, cleared on `S`), so that the framing
//! is checked on its own; `hdl_board.rs` runs the same path with the emitted QORNN core.

use qornn_tests::require_tool;
use qornn_tools::board::{
    board_top_verilog, decode_outputs, encode_sequence, uart_testbench_verilog, uart_verilog,
    CorePorts,
};
use std::process::Command;

/// y_k = (Σ over the sequence of x_0) · (k + 1), with a few cycles of latency and honest
/// valid/ready on both sides.
fn stand_in_core(m: usize, kx: u32, d: usize, ky: u32) -> String {
    let mut outs = String::new();
    for k in 0..d {
        outs += &format!("  assign y_data[{k}*{ky} +: {ky}] = sum * {};\n", k + 1);
    }
    format!(
        r#"module stand_in (input clock, input reset, input x_valid, output x_ready, input [{xw}:0] x_data, input x_start,
                 output reg y_valid, input y_ready, output [{yw}:0] y_data);
  reg signed [{ky1}:0] sum = 0;
  reg [3:0] busy = 0;
  assign x_ready = (busy == 0) && !y_valid;
  always @(posedge clock) begin
    if (reset) begin sum <= 0; busy <= 0; y_valid <= 0; end
    else begin
      if (x_valid && x_ready) begin
        sum <= (x_start ? 0 : sum) + $signed(x_data[{kx1}:0]);
        busy <= 5;
      end else if (busy > 1) busy <= busy - 1;
      else if (busy == 1) begin busy <= 0; y_valid <= 1; end
      if (y_valid && y_ready) y_valid <= 0;
    end
  end
{outs}endmodule
"#,
        xw = m * kx as usize - 1,
        yw = d * ky as usize - 1,
        ky1 = ky - 1,
        kx1 = kx - 1,
    )
}

fn ports(m: usize, kx: u32, d: usize, ky: u32) -> CorePorts {
    let s = |x: &str| x.to_string();
    CorePorts {
        module: s("stand_in"),
        clock: s("clock"),
        reset: s("reset"),
        x_valid: s("x_valid"),
        x_ready: s("x_ready"),
        x_data: s("x_data"),
        x_start: s("x_start"),
        y_valid: s("y_valid"),
        y_ready: s("y_ready"),
        y_data: s("y_data"),
        inputs: m,
        input_bits: kx,
        outputs: d,
        output_bits: ky,
    }
}

#[test]
fn sequences_round_trip_through_the_uart() {
    if require_tool("iverilog").is_none() || require_tool("vvp").is_none() {
        return;
    }
    for (m, kx, d, ky) in [(1usize, 8u32, 2usize, 12u32), (2, 12, 3, 16), (1, 4, 1, 24)] {
        let dir = tempfile::tempdir().unwrap();
        let cpb = 8;
        let seqs: Vec<Vec<Vec<i64>>> = vec![
            vec![vec![3; m], vec![-2; m], vec![5; m]],
            vec![vec![-(1 << (kx - 1)); m], vec![(1 << (kx - 1)) - 1; m]],
        ];
        let mut host = Vec::new();
        let mut want = Vec::new();
        for s in &seqs {
            host.extend(encode_sequence(s, kx));
            let mut sum = 0i64;
            for x in s {
                sum += x[0];
                let wrap = |v: i64| (v << (64 - ky)) >> (64 - ky);
                want.push(
                    (0..d)
                        .map(|k| wrap(sum * (k as i64 + 1)))
                        .collect::<Vec<_>>(),
                );
            }
        }
        let yb = ky.div_ceil(8) as usize;
        let step_bytes = 1 + m * kx.div_ceil(8) as usize;
        let p = ports(m, kx, d, ky);
        let io = ("clk", "rx", "tx");
        let design = format!(
            "{}{}{}{}",
            uart_verilog(),
            stand_in_core(m, kx, d, ky),
            board_top_verilog(&p, "board_top", io, cpb),
            uart_testbench_verilog("board_top", io, cpb, &host, step_bytes, d * yb)
        );
        let v = dir.path().join("tb.v");
        std::fs::write(&v, design).unwrap();
        let exe = dir.path().join("tb.vvp");
        let c = Command::new("iverilog")
            .args(["-g2005", "-o"])
            .arg(&exe)
            .arg(&v)
            .output()
            .unwrap();
        assert!(
            c.status.success(),
            "iverilog: {}",
            String::from_utf8_lossy(&c.stderr)
        );
        let r = Command::new("vvp").arg("-n").arg(&exe).output().unwrap();
        let text = String::from_utf8_lossy(&r.stdout);
        assert!(text.contains("DONE"), "no answer: {text}");
        let bytes: Vec<u8> = text
            .lines()
            .filter_map(|l| l.strip_prefix("BYTE "))
            .map(|h| u8::from_str_radix(h.trim(), 16).unwrap())
            .collect();
        assert_eq!(
            decode_outputs(&bytes, d, ky),
            want,
            "m={m} kx={kx} d={d} ky={ky}"
        );
    }
}
