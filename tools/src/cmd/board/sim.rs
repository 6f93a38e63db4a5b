//! `qornn board sim`: the board top of a model under Verilator, behind a pseudo-terminal.

use anyhow::{Context, Result};
use clap::Args;
use qornn_hdl::{CoreOptions, Multipliers, WeightStore};
use qornn_sim::QuantizedModel;
use qornn_tools::board::bridge::{self, Faults};
use qornn_tools::board::{board_design, parse_board, Board, LinkOptions};
use std::path::PathBuf;

/// Arguments of `qornn board sim`.
#[derive(Args)]
pub struct SimArgs {
    /// The integer model.
    #[arg(long)]
    model: PathBuf,
    /// P, the number of MAC lanes.
    #[arg(long, default_value_t = 8)]
    lanes: usize,
    /// Multipliers: dsp, packed (two rows per DSP), lut or mixed:N.
    #[arg(long, default_value = "dsp")]
    multipliers: Multipliers,
    /// Weights: rom (baked in), ram or spram (loaded with `qornn board load`).
    #[arg(long, default_value = "rom")]
    weights: WeightStore,
    /// Simulate this board's clock and ports (default: 12 MHz, ports CLK/RX/TX).
    #[arg(long, value_parser = parse_board)]
    board: Option<&'static Board>,
    /// UART line rate.
    #[arg(long, default_value_t = qornn_tools::board::BAUD)]
    baud: u32,
    /// Board time (ms) after which a half-received frame is dropped.
    #[arg(long, default_value_t = 5)]
    idle_ms: u32,
    /// Where to link the pseudo-terminal.
    #[arg(long, default_value = "qornn-out/board-sim/tty")]
    link: PathBuf,
    /// The Verilator build cache.
    #[arg(long, default_value = "qornn-out/verilator-cache")]
    cache: PathBuf,
    /// Send the N-th byte to the board (from 0) with a low stop bit (a framing error).
    #[arg(long)]
    corrupt_stop: Option<u64>,
    /// Flip the lowest data bit of the N-th byte to the board (from 0).
    #[arg(long)]
    corrupt_data: Option<u64>,
}

/// Run `qornn board sim`: build, then become the simulation.
pub fn run(a: SimArgs) -> Result<std::process::ExitCode> {
    let model = QuantizedModel::load(&a.model).with_context(|| format!("{}", a.model.display()))?;
    let board = a.board;
    let opts = CoreOptions::with(a.lanes, a.multipliers).with_weights(a.weights);
    let link = LinkOptions {
        baud: a.baud,
        idle_ms: a.idle_ms,
    };
    let top = qornn_tools::board::BOARD_TOP;
    let design = board_design(&model, &opts, board, top, link)?;
    if let Some(dir) = a.link.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    eprintln!("board sim: building the board top under Verilator …");
    let built = bridge::build(&design, top, &a.cache)?;
    let id = &design.identity;
    eprintln!(
        "board sim: n = {}, {} lanes, {} weights, {} MHz, {} baud ({} clocks per bit); its terminal is {}",
        id.hidden,
        id.lanes,
        a.weights,
        id.clock_hz as f64 / 1e6,
        id.baud,
        design.link.clocks_per_bit,
        a.link.display()
    );
    let faults = Faults {
        corrupt_stop: a.corrupt_stop,
        corrupt_data: a.corrupt_data,
    };
    let mut cmd = bridge::command(&built, &a.link, design.link.clocks_per_bit, faults);
    // The simulation takes this process's place, so stopping it (Ctrl-C, kill) stops the
    // board and removes its link.
    use std::os::unix::process::CommandExt;
    let err = cmd.exec();
    Err(err).with_context(|| format!("cannot start {}", built.exe.display()))
}
