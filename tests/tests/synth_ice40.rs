//! Synthesis orchestration end to end on iCE40 (yosys + nextpnr-ice40 + icepack) with small
//! hand-written designs: the report is parsed, and a design with too many multipliers is
//! refused, naming the resource.

use qornn_tests::require_tool;
use qornn_tools::synth::{synthesize, Resource, SynthError, SynthOptions, Target};

/// `lanes` registered signed 16×16 multiply-accumulates fed from a ROM.
fn mac_array(lanes: usize) -> String {
    let mut v = String::from("module top(input clk, input [7:0] a, output reg [7:0] y);\n");
    v += "  reg [15:0] rom [0:255];\n  reg [7:0] addr = 0;\n  reg [15:0] w = 0;\n";
    v += "  integer k;\n  initial for (k = 0; k < 256; k = k + 1) rom[k] = k * 37;\n";
    v += "  always @(posedge clk) begin addr <= addr + 1; w <= rom[addr]; end\n";
    for i in 0..lanes {
        v += &format!("  reg signed [31:0] acc{i} = 0;\n  always @(posedge clk) acc{i} <= acc{i} + $signed({{a, a}} ^ 16'd{i}) * $signed(w);\n");
    }
    let sum: Vec<String> = (0..lanes).map(|i| format!("acc{i}")).collect();
    v += &format!(
        "  wire [31:0] all = {};\n  always @(posedge clk) y <= all[31:24] ^ all[7:0];\nendmodule\n",
        sum.join(" ^ ")
    );
    v
}

fn options() -> SynthOptions {
    SynthOptions {
        target: Target::ICE40_UP5K,
        top: "top".parse().unwrap(),
        seeds: vec![1],
        freq_mhz: 30.0,
        constraints: None,
        bitstream: true,
    }
}

#[test]
fn a_small_design_builds_and_its_report_is_parsed() {
    for tool in ["yosys", "nextpnr-ice40", "icepack"] {
        if require_tool(tool).is_none() {
            return;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let v = dir.path().join("top.v");
    std::fs::write(&v, mac_array(2)).unwrap();
    let report = synthesize(&v, &dir.path().join("build"), &options()).unwrap();
    assert_eq!(report.usage(Resource::Dsps).used, 2);
    assert_eq!(report.usage(Resource::Dsps).available, 8);
    assert!(report.usage(Resource::Luts).used > 0);
    assert!(
        report.usage(Resource::BlockRams).used >= 1,
        "the ROM should map to block RAM: {:?}",
        report.cells
    );
    let fmax = report.fmax().expect("a timed clock");
    assert!(fmax > 10.0 && fmax < 1000.0, "{fmax}");
    let bit = report.bitstream.as_ref().unwrap();
    assert!(std::fs::metadata(bit).unwrap().len() > 1000);
    assert_eq!(report.seed_fmax_mhz.len(), 1);

    // Several seeds: one netlist, one placement each, the fastest kept and packed.
    let build = dir.path().join("seeds");
    let many = synthesize(
        &v,
        &build,
        &SynthOptions {
            seeds: vec![1, 2, 3],
            ..options()
        },
    )
    .unwrap();
    assert_eq!(
        many.seed_fmax_mhz.keys().copied().collect::<Vec<_>>(),
        [1, 2, 3]
    );
    let best = many.seed_fmax_mhz.values().copied().fold(0.0, f64::max);
    assert_eq!(many.seed_fmax_mhz[&many.seed], best);
    assert_eq!(
        many.fmax(),
        Some(best),
        "the kept report is the kept seed's"
    );
    for s in [1, 2, 3] {
        assert!(build.join(format!("pnr-{s}.json")).is_file());
    }
    assert!(
        build.join("pnr.asc").is_file() && many.bitstream.as_ref().is_some_and(|b| b.is_file())
    );
    let md = many.to_markdown(None);
    assert!(md.contains(&format!("kept seed {}", many.seed)), "{md}");
}

#[test]
fn too_many_multipliers_do_not_fit_and_say_so() {
    if require_tool("yosys").is_none()
        || require_tool("nextpnr-ice40").is_none()
        || require_tool("icepack").is_none()
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let v = dir.path().join("top.v");
    std::fs::write(&v, mac_array(12)).unwrap();
    match synthesize(&v, &dir.path().join("build"), &options()) {
        Err(
            e @ SynthError::DoesNotFit {
                resource: Resource::Dsps,
                used: 12,
                available: 8,
                ..
            },
        ) => {
            assert!(e.to_string().contains("DSP multipliers"), "{e}");
        }
        other => panic!("expected a DSP overflow, got {other:?}"),
    }
}

/// A small trained-size model's core, inside the UART board top with the iCEBreaker's pins,
/// all the way to a bitstream: one SB_MAC16 per lane, weights in block RAM, Fmax parsed.
#[test]
fn a_model_core_builds_for_the_icebreaker() {
    if !qornn_tests::require_tools(&["yosys", "nextpnr-ice40", "icepack"]) {
        return;
    }
    let build = qornn_tests::board_build("icebreaker", 3, Default::default());
    let (v, dir, cfg) = (&build.verilog, build.dir.path(), &build.design.cfg);
    let constraints = build.constraints.clone();
    let report = synthesize(
        v,
        &dir.join("build"),
        &SynthOptions {
            top: "qornn_top".parse().unwrap(),
            constraints: Some(constraints),
            ..options()
        },
    )
    .unwrap();
    assert_eq!(
        report.usage(Resource::Dsps).used,
        cfg.lanes as u64,
        "{:?}",
        report.cells
    );
    assert!(report.usage(Resource::BlockRams).used >= cfg.lanes as u64);
    assert_eq!(report.usage(Resource::Pins).used, 3);
    for r in Resource::ALL {
        let u = report.usage(r);
        assert!(u.used <= u.available, "{r}: {u:?}");
    }
    assert!(report.usage(Resource::Luts).used > 100);
    assert!(report.fmax().is_some_and(|f| f > 5.0));
    assert!(report.bitstream.as_ref().is_some_and(|b| b.is_file()));
}

/// A bare design with more port bits than the package has pins is refused before place and
/// route, naming the pins (yosys leaves the ports unbuffered, so no SB_IO cell counts them).
#[test]
fn a_design_with_more_port_bits_than_pins_is_refused_before_place_and_route() {
    if require_tool("yosys").is_none() || require_tool("nextpnr-ice40").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let v = dir.path().join("top.v");
    std::fs::write(
        &v,
        "module top(input clk, input [31:0] a, output reg [31:0] y);\n\
         always @(posedge clk) y <= a + 32'd1;\nendmodule\n",
    )
    .unwrap();
    match synthesize(&v, &dir.path().join("build"), &options()) {
        Err(SynthError::DoesNotFit {
            resource: Resource::Pins,
            used,
            available,
            ..
        }) => assert_eq!((used, available), (65, 39)),
        other => panic!("expected a pin overflow, got {other:?}"),
    }
    assert!(
        !dir.path().join("build/pnr.asc").exists(),
        "place and route ran"
    );
}

/// `--weights spram`: the lane banks become SB_SPRAM256KA cells, as many as the fit check
/// counts before synthesis (⌈P/G⌉, G lanes a block), and leave the block RAMs to the rest.
#[test]
fn spram_weight_banks_map_to_the_up5k_spram_cells_the_fit_check_counts() {
    if !qornn_tests::require_tools(&["yosys", "nextpnr-ice40"]) {
        return;
    }
    use qornn_sim::random::{random_model, RandomSpec};
    let model = random_model(&RandomSpec::new(qornn_sim::Shape::new(16, 1, 4), 4, 3));
    let opts = qornn_hdl::CoreOptions::new(4).with_weights(qornn_hdl::WeightStore::Spram);
    let design =
        qornn_tools::board::board_design(&model, &opts, None, "qornn_top", Default::default())
            .unwrap();
    let cfg = &design.cfg;
    let fit = qornn_tools::synth::Fit::of(
        cfg,
        Target::ICE40_UP5K,
        qornn_tools::board::Link::FIFO_BYTES,
    );
    assert!(cfg.sprams() >= 1 && fit.sprams.used == cfg.sprams() as u64);
    let dir = tempfile::tempdir().unwrap();
    let v = dir.path().join("top.v");
    std::fs::write(&v, &design.verilog).unwrap();
    let report = synthesize(
        &v,
        &dir.path().join("build"),
        &SynthOptions {
            top: "qornn_top".parse().unwrap(),
            bitstream: false,
            ..options()
        },
    )
    .unwrap();
    assert_eq!(
        report.usage(Resource::Sprams).used,
        fit.sprams.used,
        "{:?}",
        report.cells
    );
    assert_eq!(
        report.usage(Resource::BlockRams).used,
        fit.block_rams.used,
        "{:?}",
        report.cells
    );
    assert_eq!(report.usage(Resource::Dsps).used, 4);
}
