//! The board top's UART path, byte by byte under Icarus Verilog: a host sends sequences in the
//! documented protocol (`docs/board.md`) and decodes what comes back. The core here is a
//! stand-in with the real core's streaming ports (a running sum of the inputs, cleared on a
//! sequence start), so that the framing is checked on its own; `board_core.rs` runs the v1
//! path with the emitted QORNN core, and the CLI's `board` tests run v2 with it under
//! Verilator through a pseudo-terminal.

use qornn_tests::{require_tool, run_uart_testbench, stand_in_core, stand_in_ports as ports};
use qornn_tools::board::protocol::{checksum, frame_header, CMD_ALL, CMD_LAST};
use qornn_tools::board::{
    board_top_verilog, decode_outputs, encode_sequence, uart_testbench_verilog, uart_verilog, Link,
};

/// The stand-in's outputs: the running sum of input 0 times k + 1, wrapped to A_y bits.
fn stand_in_outputs(seq: &[Vec<i64>], d: usize, ky: u32) -> Vec<Vec<i64>> {
    let wrap = |v: i64| (v << (64 - ky)) >> (64 - ky);
    let mut sum = 0i64;
    seq.iter()
        .map(|x| {
            sum += x[0];
            (0..d).map(|k| wrap(sum * (k as i64 + 1))).collect()
        })
        .collect()
}

/// The stand-in's streaming shape: m inputs of k_x bits, d outputs of A_y bits.
#[derive(Clone, Copy)]
struct Shape {
    m: usize,
    kx: u32,
    d: usize,
    ky: u32,
}

/// The UART, the stand-in, the board top at `cpb` clocks per bit, and a testbench playing
/// `host` in pieces of `step` bytes, each after `answer` bytes came back.
fn design(s: Shape, cpb: u32, host: &[u8], step: usize, answer: usize) -> String {
    let io = ("clk", "rx", "tx");
    let Shape { m, kx, d, ky } = s;
    format!(
        "{}{}{}{}",
        uart_verilog(),
        stand_in_core(m, kx, d, ky),
        board_top_verilog(
            &ports(m, kx, d, ky),
            "board_top",
            io,
            &Link::for_simulation(cpb)
        ),
        uart_testbench_verilog("board_top", io, cpb, host, step, answer)
    )
}

fn tools_present() -> bool {
    require_tool("iverilog").is_some() && require_tool("vvp").is_some()
}

#[test]
fn v1_steps_round_trip_through_the_uart_down_to_four_clocks_per_bit() {
    if !tools_present() {
        return;
    }
    for (m, kx, d, ky, cpb) in [
        (1usize, 8u32, 2usize, 12u32, 8u32),
        (2, 12, 3, 16, 4),
        (1, 4, 1, 24, 5),
    ] {
        let seqs: Vec<Vec<Vec<i64>>> = vec![
            vec![vec![3; m], vec![-2; m], vec![5; m]],
            vec![vec![-(1 << (kx - 1)); m], vec![(1 << (kx - 1)) - 1; m]],
        ];
        let mut host = Vec::new();
        let mut want = Vec::new();
        for s in &seqs {
            host.extend(encode_sequence(s, kx));
            want.extend(stand_in_outputs(s, d, ky));
        }
        let yb = ky.div_ceil(8) as usize;
        let step_bytes = 1 + m * kx.div_ceil(8) as usize;
        let shape = Shape { m, kx, d, ky };
        let bytes = run_uart_testbench(&design(shape, cpb, &host, step_bytes, d * yb));
        assert_eq!(
            decode_outputs(&bytes, d, ky),
            want,
            "m={m} kx={kx} d={d} ky={ky} cpb={cpb}"
        );
    }
}

/// A v2 frame's bytes: header, steps, checksum (`bad` adds one to it).
fn frame(command: u8, seq: &[Vec<i64>], xb: usize, bad: bool) -> Vec<u8> {
    let mut f = frame_header(command, seq.len() as u32).to_vec();
    for x in seq {
        for &c in x {
            f.extend_from_slice(&c.to_le_bytes()[..xb]);
        }
    }
    f.push(checksum(&f[1..]).wrapping_add(bad as u8));
    f
}

#[test]
fn v2_frames_answer_with_credits_outputs_and_a_checksum_status() {
    if !tools_present() {
        return;
    }
    let (m, kx, d, ky, cpb) = (2usize, 12u32, 2usize, 12u32, 4u32);
    let yb = 2;
    let seq: Vec<Vec<i64>> = vec![vec![3, 0], vec![-2047, 1], vec![2047, 0], vec![-9, 0]];
    let ys = stand_in_outputs(&seq, d, ky);
    let y_bytes = |y: &[i64]| -> Vec<u8> {
        y.iter()
            .flat_map(|v| v.to_le_bytes()[..yb].to_vec())
            .collect()
    };
    // One exchange: a last-output frame, an every-output frame, a frame whose checksum is off,
    // a frame of zero steps; the host sends each after the last one's answer.
    let frames = [
        frame(CMD_LAST, &seq, 2, false),
        frame(CMD_ALL, &seq, 2, false),
        frame(CMD_LAST, &seq, 2, true),
        frame(CMD_LAST, &[], 2, false),
    ];
    let mut want = Vec::new();
    want.extend(std::iter::repeat_n(b'.', seq.len()));
    want.extend(y_bytes(ys.last().unwrap()));
    want.push(b'=');
    let answers_1 = want.len();
    for y in &ys {
        want.extend(y_bytes(y));
    }
    want.push(b'=');
    let answers_2 = want.len() - answers_1;
    want.extend(std::iter::repeat_n(b'.', seq.len()));
    want.extend(y_bytes(ys.last().unwrap()));
    want.extend([b'!', 1]);
    want.extend([b'!', 3]);
    // The testbench paces by fixed-size steps: run each frame on its own.
    let answers = [answers_1, answers_2, seq.len() + d * yb + 2, 2];
    let mut got = Vec::new();
    for (f, &n) in frames.iter().zip(&answers) {
        let shape = Shape { m, kx, d, ky };
        got.extend(run_uart_testbench(&design(shape, cpb, f, f.len(), n)));
    }
    assert_eq!(got, want);
}
