//! ECP5's hand-instantiated MULT18X18D (`DspCell::Mult18x18d`): lanes whose operand and product
//! registers are the DSP block's own agree with the golden model under every simulator (plain,
//! packed and mixed lanes, most-negative codes and saturation included), and a cell written
//! with one register too few is caught: the model's registers are what make the latency right.

use crate::cosim_all::all_agree;
use crate::cosim_packed::{model, sequences};
use qornn_hdl::{CoreOptions, DspCell, Multipliers};
use qornn_sim::{Golden, Shape};
use qornn_tests::require_tool;
use qornn_tools::cosim::{core_dut, run_iverilog, Dut};

fn ecp5(lanes: usize, multipliers: Multipliers) -> CoreOptions {
    CoreOptions::with(lanes, multipliers).with_dsp(DspCell::Mult18x18d)
}

#[test]
fn registered_mult18x18d_lanes_agree_everywhere() {
    // (n, m, d, P, k_w, k_a, gain, modReLU, multipliers): 16-bit codes (the cell's 18-bit
    // operands sign-extended from 16), packed pairs, DSP lanes beside LUT lanes.
    let cases = [
        (12, 2, 3, 4, 8, 16, 4.0, true, Multipliers::Dsp),
        (16, 1, 4, 4, 4, 8, 6.0, false, Multipliers::Packed),
        (
            10,
            3,
            2,
            5,
            6,
            10,
            3.0,
            true,
            Multipliers::Mixed { dsp_lanes: 2 },
        ),
    ];
    for (i, (n, m, d, p, kw, ka, gain, modrelu, mul)) in cases.into_iter().enumerate() {
        let model = model(Shape::new(n, m, d), kw, ka, gain, modrelu, 70 + i as u64);
        let opts = ecp5(p, mul);
        let text = core_dut(&model, &opts, "qornn_core").unwrap().verilog;
        assert_eq!(
            text.matches("MULT18X18D #(.REG_INPUTA_CLK").count(),
            mul.dsp_lanes(p),
            "case {i}: one registered cell per DSP lane"
        );
        assert!(
            text.contains("`ifndef SYNTHESIS"),
            "case {i}: the model is hidden from yosys"
        );
        all_agree(&model, &opts, &sequences(&model, 2, 30, i as u64), 20);
    }
}

#[test]
fn a_cell_without_its_output_register_is_caught() {
    if require_tool("iverilog").is_none() {
        return;
    }
    let model = model(Shape::new(8, 1, 2), 4, 8, 2.0, false, 81);
    let seqs = sequences(&model, 1, 6, 5);
    let dut = core_dut(&model, &ecp5(2, Multipliers::Dsp), "qornn_core").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let good = run_iverilog(&dut, &seqs, &dir.path().join("good"), None).unwrap();
    let golden = Golden::new(&model).unwrap().run_batch(&seqs, 1);
    assert!(golden[0].first_difference(&good.traces[0]).is_none());
    // The instantiation, not the model, is changed: a product one clock early.
    let mutant = Dut {
        verilog: dut
            .verilog
            .replace(".REG_OUTPUT_CLK(\"CLK0\")", ".REG_OUTPUT_CLK(\"NONE\")"),
        ..dut.clone()
    };
    assert_ne!(mutant.verilog, dut.verilog);
    let bad = run_iverilog(&mutant, &seqs, &dir.path().join("bad"), None).unwrap();
    let d = golden[0]
        .first_difference(&bad.traces[0])
        .expect("a product one clock early changes h");
    assert_eq!(d.step, 0, "caught at the first step");
}
