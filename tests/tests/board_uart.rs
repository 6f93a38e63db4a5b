//! The board top's UART path, byte by byte under Icarus Verilog: a host sends sequences in the
//! documented protocol (`docs/board.md`) and decodes what comes back. The core here is a
//! stand-in with the real core's streaming ports (a running sum of the inputs, cleared on a
//! sequence start), so that the framing is checked on its own; `board_core.rs` runs the v1
//! path with the emitted QORNN core, and the CLI's `board` tests run v2 with it under
//! Verilator through a pseudo-terminal. The board's blocks (`qornn_hdl::board`: UART and
//! framer) are also held to their rust-hdl models here, clock for clock on the same inputs.

use qornn_tests::{require_tool, run_uart_testbench, stand_in_core, stand_in_ports as ports};
use qornn_tools::board::protocol::{checksum, frame_header, CMD_ALL, CMD_LAST};
use qornn_tools::board::{
    board_top_verilog, decode_outputs, encode_sequence, uart_testbench_verilog, uart_verilog,
    CorePorts, Link,
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
        "{}{}{}",
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

/// Finish a per-clock testbench (its `initial` block open, each clock printing a `T …` line),
/// run it under Icarus and return the lines.
fn icarus_trace(mut tb: String) -> Vec<String> {
    tb += "    $display(\"DONE\");\n  end\nendmodule\n";
    let dir = tempfile::tempdir().unwrap();
    let v = dir.path().join("tb.v");
    std::fs::write(&v, tb).unwrap();
    let exe = dir.path().join("tb.vvp");
    let c = std::process::Command::new("iverilog")
        .arg("-o")
        .arg(&exe)
        .arg(&v)
        .output()
        .unwrap();
    assert!(c.status.success(), "{}", String::from_utf8_lossy(&c.stderr));
    let r = std::process::Command::new("vvp")
        .arg("-n")
        .arg(&exe)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&r.stdout).to_string();
    assert!(text.contains("DONE"), "{text}");
    text.lines()
        .filter_map(|l| l.strip_prefix("T "))
        .map(str::to_string)
        .collect()
}

/// One clock of stimulus for the UART pair: the receive line, and a send request with its byte.
#[derive(Clone, Copy)]
struct UartIn {
    rx: u64,
    start: u64,
    data: u8,
}

/// A line of 8N1 bytes at `cpb` clocks a bit with uneven gaps, one byte's stop bit low (a
/// framing error) and a byte right after it; send requests at pseudo-random clocks.
fn uart_stimulus(cpb: usize) -> Vec<UartIn> {
    let mut line = vec![1u64; 2 * cpb];
    let mut r = 0x2545_f491_u64;
    let mut next = |n: u64| {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        r % n
    };
    for i in 0..12 {
        let b = next(256) as u8;
        let mut bits = vec![0u64];
        bits.extend((0..8).map(|k| ((b >> k) & 1) as u64));
        bits.push((i != 5) as u64);
        for bit in bits {
            line.extend(std::iter::repeat_n(bit, cpb));
        }
        line.extend(std::iter::repeat_n(1, 1 + next(2 * cpb as u64) as usize));
    }
    line.extend(std::iter::repeat_n(1, 12 * cpb));
    line.iter()
        .map(|&rx| UartIn {
            rx,
            start: (next(7) == 0) as u64,
            data: next(256) as u8,
        })
        .collect()
}

/// The rust-hdl models' outputs after each rising edge: `valid data tx busy`.
fn uart_model_trace(cpb: u32, stim: &[UartIn]) -> Vec<String> {
    use qornn_hdl::board::uart::{UartRx, UartTx};
    use rust_hdl::prelude::*;
    let (mut rx, mut tx) = (UartRx::new(cpb), UartTx::new(cpb));
    rx.connect_all();
    tx.connect_all();
    let mut out = Vec::new();
    for s in stim {
        rx.rx.next = s.rx;
        tx.start.next = s.start;
        tx.data.next = s.data as u64;
        for level in [true, false] {
            rx.clock.next = Clock { clk: level };
            tx.clock.next = Clock { clk: level };
            simulate(&mut rx, 10);
            simulate(&mut tx, 10);
            if level {
                out.push(format!(
                    "{} {:02x} {} {}",
                    rx.valid.val(),
                    rx.data.val(),
                    tx.tx.val(),
                    tx.busy.val()
                ));
            }
        }
    }
    out
}

/// The emitted Verilog's outputs under Icarus, the same way.
fn uart_verilog_trace(cpb: u32, stim: &[UartIn]) -> Vec<String> {
    let mut tb = uart_verilog(cpb);
    tb += "module tb;\n  reg clock = 0, reset = 0, rx = 1, start = 0; reg [7:0] d = 0;\n  \
           wire valid, tx, busy; wire [7:0] data;\n  \
           qornn_uart_rx r(.clock(clock), .reset(reset), .rx(rx), .valid(valid), .data(data));\n  \
           qornn_uart_tx t(.clock(clock), .reset(reset), .start(start), .data(d), .tx(tx), .busy(busy));\n  \
           initial begin\n";
    for s in stim {
        tb += &format!(
            "    rx = {}; start = {}; d = 8'h{:02x}; #1 clock = 1; #1 $display(\"T %0d %02x %0d %0d\", valid, data, tx, busy); clock = 0;\n",
            s.rx, s.start, s.data
        );
    }
    icarus_trace(tb)
}

#[test]
fn the_uart_verilog_and_its_rust_hdl_model_agree_clock_for_clock() {
    if !tools_present() {
        return;
    }
    for cpb in [4u32, 7] {
        let stim = uart_stimulus(cpb as usize);
        let model = uart_model_trace(cpb, &stim);
        let verilog = uart_verilog_trace(cpb, &stim);
        assert_eq!(model.len(), verilog.len());
        if let Some(t) = (0..model.len()).find(|&t| model[t] != verilog[t]) {
            panic!(
                "{cpb} clocks per bit, clock {t}: model `{}`, Verilog `{}`",
                model[t], verilog[t]
            );
        }
        // The trace is not idle: bytes were received and sent.
        assert!(model.iter().filter(|l| l.starts_with('1')).count() >= 10);
        assert!(model.iter().any(|l| l.ends_with('1')));
    }
}

/// One clock of the framer's inputs.
#[derive(Clone, Copy)]
struct FramerIn {
    rx_valid: bool,
    rx_data: u8,
    tx_busy: bool,
    x_ready: bool,
    y_valid: bool,
    y_seed: u64,
}

/// A byte script through every command (identify, timer, both frame kinds with good and bad
/// checksums, an empty frame, v1 steps, a weight load, stray bytes, a frame cut short and left
/// to time out), a byte every 30–50 clocks; the other inputs pseudo-random, independent of
/// the outputs, so both sides see exactly the same clocks.
fn framer_stimulus(step_bytes: usize) -> Vec<FramerIn> {
    let mut script: Vec<u8> = vec![b'I', b'T', b'?'];
    let frame = |cmd: u8, steps: u32, good: bool| {
        let mut f = frame_header(cmd, steps).to_vec();
        f.extend((0..steps as usize * step_bytes).map(|i| (i * 37 + 5) as u8));
        let sum = checksum(&f[1..]);
        f.push(if good { sum } else { sum ^ 0x40 });
        f
    };
    script.extend(frame(CMD_LAST, 3, true));
    script.extend(frame(CMD_ALL, 2, true));
    script.extend(frame(CMD_ALL, 1, false));
    script.extend(frame(CMD_LAST, 0, true));
    script.extend([b'S', 1, 2, 3, 4, 5, 6, b'X', 7, 8, 9, 10, 11, 12]);
    let mut load = frame_header(b'W', 12).to_vec();
    load.extend((0..12u8).map(|i| i.wrapping_mul(29)));
    load.push(checksum(&load[1..]));
    script.extend(&load);
    script.extend([b'I', b'T']);
    script.extend(&frame(CMD_ALL, 2, true)[..7]); // cut short: the silence ends it
    let mut r = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = |n: u64| {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        r % n
    };
    let mut out = Vec::new();
    let idle = |out: &mut Vec<FramerIn>, k: usize, next: &mut dyn FnMut(u64) -> u64| {
        for _ in 0..k {
            out.push(FramerIn {
                rx_valid: false,
                rx_data: 0,
                tx_busy: next(10) < 6,
                x_ready: next(5) == 0,
                y_valid: next(4) == 0,
                y_seed: next(1 << 40),
            });
        }
    };
    idle(&mut out, 40, &mut next);
    for &b in &script {
        let s = FramerIn {
            rx_valid: true,
            rx_data: b,
            tx_busy: next(10) < 6,
            x_ready: next(5) == 0,
            y_valid: next(4) == 0,
            y_seed: next(1 << 40),
        };
        out.push(s);
        let gap = 30 + next(21) as usize;
        idle(&mut out, gap, &mut next);
    }
    idle(&mut out, 1500, &mut next);
    out
}

fn framer_link() -> Link {
    let mut link = Link::for_simulation(4);
    link.idle_cycles = 400;
    for (i, b) in link.identity.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(13) ^ 0x5a;
    }
    link
}

/// The y_data bits of a clock (d values of A_y bits) from its seed.
fn y_words(seed: u64, bits: usize) -> Vec<u64> {
    let mut w = vec![0u64; bits.div_ceil(64)];
    for (i, word) in w.iter_mut().enumerate() {
        *word = seed.rotate_left(i as u32 * 17) ^ (seed >> 3);
    }
    if !bits.is_multiple_of(64) {
        let last = w.len() - 1;
        w[last] &= (1u64 << (bits % 64)) - 1;
    }
    w
}

fn framer_model_trace(ports: &CorePorts, stim: &[FramerIn]) -> Vec<String> {
    use qornn_hdl::board::framer::Framer;
    use rust_hdl::prelude::*;
    let mut f = Framer::new(ports, &framer_link());
    f.connect_all();
    let yw = ports.outputs * ports.output_bits as usize;
    let mut out = Vec::new();
    for s in stim {
        f.rx_valid.next = s.rx_valid as u64;
        f.rx_data.next = s.rx_data as u64;
        f.tx_busy.next = s.tx_busy as u64;
        f.x_ready.next = s.x_ready as u64;
        f.y_valid.next = s.y_valid as u64;
        f.y_data.next = y_words(s.y_seed, yw);
        for level in [true, false] {
            f.clock.next = Clock { clk: level };
            simulate(&mut f, 10);
            if level {
                let x: Vec<String> = f
                    .x_data
                    .val()
                    .iter()
                    .rev()
                    .map(|w| format!("{w:016x}"))
                    .collect();
                out.push(format!(
                    "{} {:02x} {} {} {} {} {} {} {} {} {:02x}",
                    f.tx_start.val(),
                    f.tx_data.val(),
                    f.por_reset.val(),
                    f.core_reset.val(),
                    f.x_valid.val(),
                    f.x_start.val(),
                    x.join(""),
                    f.y_ready.val(),
                    f.load_valid.val(),
                    f.load_first.val(),
                    f.load_byte.val()
                ));
            }
        }
    }
    out
}

fn framer_verilog_trace(ports: &CorePorts, stim: &[FramerIn]) -> Vec<String> {
    use qornn_hdl::board::framer::Framer;
    let xw = ports.inputs * ports.input_bits as usize;
    let yw = ports.outputs * ports.output_bits as usize;
    let x_words = xw.div_ceil(64);
    let mut tb =
        qornn_hdl::board::uart::module_verilog(&Framer::new(ports, &framer_link()), "framer");
    let _ = std::fmt::Write::write_fmt(
        &mut tb,
        format_args!(
            "module tb;\n  reg clock = 0, rx_valid = 0, tx_busy = 0, x_ready = 0, y_valid = 0;\n  \
             reg [7:0] rx_data = 0; reg [{y1}:0] y_data = 0;\n  \
             wire tx_start, por_reset, core_reset, x_valid, x_start, y_ready, load_valid, load_first;\n  \
             wire [7:0] tx_data, load_byte; wire [{x1}:0] x_data;\n  \
             wire [{xp1}:0] x_pad = x_data;\n  \
             framer f(.clock(clock), .rx_valid(rx_valid), .rx_data(rx_data), .tx_busy(tx_busy), \
             .tx_start(tx_start), .tx_data(tx_data), .por_reset(por_reset), .core_reset(core_reset), \
             .x_valid(x_valid), .x_start(x_start), .x_data(x_data), .x_ready(x_ready), .y_valid(y_valid), \
             .y_data(y_data), .y_ready(y_ready), .load_valid(load_valid), .load_first(load_first), \
             .load_byte(load_byte));\n  initial begin\n",
            y1 = yw - 1,
            x1 = xw - 1,
            xp1 = 64 * x_words - 1,
        ),
    );
    for s in stim {
        let y: Vec<String> = y_words(s.y_seed, yw)
            .iter()
            .rev()
            .map(|w| format!("{w:016x}"))
            .collect();
        tb += &format!(
            "    rx_valid = {}; rx_data = 8'h{:02x}; tx_busy = {}; x_ready = {}; y_valid = {}; y_data = {}'h{}; \
             #1 clock = 1; #1 $display(\"T %0d %02x %0d %0d %0d %0d %h %0d %0d %0d %02x\", tx_start, tx_data, \
             por_reset, core_reset, x_valid, x_start, x_pad, y_ready, load_valid, load_first, load_byte); clock = 0;\n",
            s.rx_valid as u8,
            s.rx_data,
            s.tx_busy as u8,
            s.x_ready as u8,
            s.y_valid as u8,
            64 * y.len(),
            y.join(""),
        );
    }
    icarus_trace(tb)
}

#[test]
fn the_framer_verilog_and_its_rust_hdl_model_agree_clock_for_clock() {
    if !tools_present() {
        return;
    }
    // m = 1 of 8 bits, d = 1 of 8 bits, ROM weights; m = 2 of 12 bits (two bytes a code), d = 3
    // of 20 bits (three bytes an output), run-time weights.
    let rom = ports(1, 8, 1, 8);
    let ram = CorePorts {
        load: Some(qornn_hdl::interface::LoadPorts {
            valid: "load_valid".into(),
            first: "load_first".into(),
            byte: "load_byte".into(),
        }),
        ..ports(2, 12, 3, 20)
    };
    for (name, p, step_bytes) in [("rom", &rom, 1), ("ram", &ram, 4)] {
        let stim = framer_stimulus(step_bytes);
        let model = framer_model_trace(p, &stim);
        let verilog = framer_verilog_trace(p, &stim);
        assert_eq!(model.len(), verilog.len());
        if let Some(t) = (0..model.len()).find(|&t| model[t] != verilog[t]) {
            let from = t.saturating_sub(3);
            panic!(
                "{name}: clock {t}: model\n{}\nVerilog\n{}",
                model[from..=t].join("\n"),
                verilog[from..=t].join("\n")
            );
        }
        // Bytes were sent, steps handed over, and (ram) weight bytes passed on.
        let col = |l: &String, k: usize| l.split(' ').nth(k).unwrap().to_string();
        assert!(
            model.iter().filter(|l| col(l, 0) == "1").count() > 60,
            "{name}"
        );
        assert!(model.iter().any(|l| col(l, 4) == "1"), "{name}");
        assert_eq!(
            model.iter().filter(|l| col(l, 8) == "1").count(),
            if name == "ram" { 12 } else { 0 },
            "{name}"
        );
    }
}
