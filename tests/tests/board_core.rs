//! What goes on the board has been run before it gets there: the emitted QORNN core inside the
//! UART board top, driven byte by byte under Icarus Verilog by a host speaking the documented
//! protocol, answers every step with the golden model's y_t.

use qornn_hdl::{verilog, CoreConfig, CoreOptions};
use qornn_sim::random::{random_model, random_sequences, RandomSpec};
use qornn_sim::{Bits, Golden, Shape};
use qornn_tests::{require_tool, run_uart_testbench};
use qornn_tools::board::{
    board_top_verilog, bytes_for, decode_outputs, encode_sequence, uart_testbench_verilog,
    CorePorts, Link,
};

#[test]
fn the_board_top_answers_with_the_golden_outputs() {
    if require_tool("iverilog").is_none() || require_tool("vvp").is_none() {
        return;
    }
    for (n, m, d, kx, lanes, modrelu, seed) in
        [(8, 1, 2, 8, 3, false, 1u64), (6, 2, 3, 12, 2, true, 2)]
    {
        let mut spec = RandomSpec::new(Shape::new(n, m, d), 4, seed);
        spec.input_bits = Bits::new(kx);
        spec.modrelu = modrelu;
        let model = random_model(&spec);
        let opts = CoreOptions::new(lanes);
        let cfg = CoreConfig::new(&model, &opts).unwrap();
        let seqs = random_sequences(&model, 2, 4, seed + 10);
        let golden = Golden::new(&model).unwrap();
        let mut host = Vec::new();
        let mut want = Vec::new();
        for s in &seqs {
            let steps: Vec<Vec<i64>> = (0..s.steps())
                .map(|t| s.step(t).iter().map(|&c| c as i64).collect())
                .collect();
            host.extend(encode_sequence(&steps, kx));
            let trace = golden.run(s);
            want.extend((0..trace.steps()).map(|t| trace.y(t).to_vec()));
        }
        let ky = cfg.output_accumulator_bits;
        let ports = CorePorts::qornn_core("core", &cfg);
        let io = ("clk", "rx", "tx");
        let cpb = 8;
        let design = format!(
            "{}\n{}\n{}",
            verilog::emit(&model, &opts, "core").unwrap(),
            board_top_verilog(&ports, "board_top", io, &Link::for_simulation(cpb)),
            uart_testbench_verilog(
                "board_top",
                io,
                cpb,
                &host,
                1 + m * bytes_for(kx),
                d * bytes_for(ky)
            ),
        );
        let bytes = run_uart_testbench(&design);
        assert_eq!(
            decode_outputs(&bytes, d, ky),
            want,
            "n={n} m={m} d={d} lanes={lanes}"
        );
    }
}
