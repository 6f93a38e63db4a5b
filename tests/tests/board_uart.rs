//! The board top's UART path, byte by byte under Icarus Verilog: a host sends sequences in the
//! documented protocol and decodes what comes back. The core here is a stand-in with the real
//! core's streaming ports (a running sum of the inputs, cleared on `S`), so that the framing
//! is checked on its own; `board_core.rs` runs the same path with the emitted QORNN core.

use qornn_tests::{require_tool, run_uart_testbench, stand_in_core, stand_in_ports as ports};
use qornn_tools::board::{
    board_top_verilog, decode_outputs, encode_sequence, uart_testbench_verilog, uart_verilog,
};

#[test]
fn sequences_round_trip_through_the_uart() {
    if require_tool("iverilog").is_none() || require_tool("vvp").is_none() {
        return;
    }
    for (m, kx, d, ky) in [(1usize, 8u32, 2usize, 12u32), (2, 12, 3, 16), (1, 4, 1, 24)] {
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
        let bytes = run_uart_testbench(&design);
        assert_eq!(
            decode_outputs(&bytes, d, ky),
            want,
            "m={m} kx={kx} d={d} ky={ky}"
        );
    }
}
