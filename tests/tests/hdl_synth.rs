//! The emitted core maps as intended: DSP multipliers become SB_MAC16 (iCE40) and MULT18X18D
//! (ECP5), one per lane, LUT multipliers none; weight banks become block RAM on both, as many
//! blocks as `qornn model check --target` counts before synthesis ([`Fit`]).

use qornn_hdl::{verilog, CoreConfig, CoreOptions, Multipliers};
use qornn_sim::random::{random_model, RandomSpec};
use qornn_sim::Shape;
use qornn_tests::require_tool;
use qornn_tools::synth::{Fit, Target};
use std::process::Command;

fn count(log: &str, cell: &str) -> usize {
    log.lines()
        .rev()
        .find_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some(cell)).then(|| w.next().and_then(|n| n.parse().ok()))?
        })
        .unwrap_or(0)
}

#[test]
fn dsp_and_block_ram_inference_on_ice40_and_ecp5() {
    let Some(yosys) = require_tool("yosys") else {
        return;
    };
    let model = random_model(&RandomSpec::new(Shape::new(24, 2, 3), 4, 1));
    let dir = tempfile::tempdir().unwrap();
    for mul in [
        Multipliers::Dsp,
        Multipliers::Lut,
        Multipliers::Mixed { dsp_lanes: 3 },
    ] {
        let opts = CoreOptions::with(4, mul);
        let path = dir.path().join(format!("{}.v", mul.name()));
        // One multiplier per DSP lane, none for the LUT lanes.
        let want_mac = mul.dsp_lanes(opts.lanes);
        std::fs::write(&path, verilog::emit(&model, &opts, "core").unwrap()).unwrap();
        let cfg = CoreConfig::new(&model, &opts).unwrap();
        for (synth, mac, ram, target) in [
            (
                "synth_ice40 -dsp -flatten",
                "SB_MAC16",
                "SB_RAM40_4K",
                Target::ICE40_UP5K,
            ),
            ("synth_ecp5", "MULT18X18D", "DP16KD", Target::ECP5_25K),
        ] {
            let out = Command::new(&yosys)
                .arg("-p")
                .arg(format!(
                    "read_verilog {}; {synth} -top core",
                    path.display()
                ))
                .output()
                .expect("yosys runs");
            let log = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "{synth} fails:\n{log}");
            assert_eq!(count(&log, mac), want_mac, "{synth} {mul}: {mac}");
            assert!(count(&log, ram) >= 4, "{synth}: weight banks not in {ram}");
            // The bare core has no receive FIFO.
            let fit = Fit::of(&cfg, target, 0);
            assert_eq!(
                count(&log, ram) as u64,
                fit.block_rams.used,
                "{synth} {mul}: block RAMs against the estimate {fit:?}"
            );
        }
    }
}
