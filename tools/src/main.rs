//! `qornn`: the command-line front of the toolkit. A thin layer over the library crates:
//! each verb parses its arguments here and calls `qornn-sim`, `qornn-quant` or `qornn-hdl`.

mod cmd;

use clap::{Parser, Subcommand};

/// Quantized orthogonal RNNs, from training to an FPGA core, bit-exact at every stage.
#[derive(Parser)]
#[command(name = "qornn", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a (quantised) orthogonal RNN on a task and export its integer model.
    Train(Box<cmd::train::TrainArgs>),
    /// Export the integer model of a training checkpoint at a given activation width.
    Export(cmd::export::ExportArgs),
    /// Float, fake-quantised and integer (golden) metrics of a training checkpoint.
    Eval(cmd::eval::EvalArgs),
    /// Benchmarks (training forward + backward time, optionally against PyTorch).
    #[command(
        subcommand,
        after_help = "Example:\n  qornn bench train --python ~/torchref/bin/python"
    )]
    Bench(cmd::bench::BenchCommand),
    /// Create, check and summarise integer models (QuantizedModel JSON files).
    #[command(subcommand)]
    Model(cmd::model::ModelCommand),
    /// Create input files of integer codes.
    #[command(subcommand)]
    Input(cmd::input::InputCommand),
    /// Run the bit-exact golden model over an input file.
    Golden(cmd::golden::GoldenArgs),
    /// Compare two VCD files from different simulators: equal, or the first difference.
    VcdDiff(cmd::vcd_diff::VcdDiffArgs),
    /// Run sequences on a board (or a simulated one) and check them against the golden model.
    #[command(subcommand)]
    Board(cmd::board::BoardCommand),
    /// Synthesise, place and route, and pack a bitstream (iCE40 UP5K, ECP5).
    Synth(cmd::synth::SynthArgs),
    /// Emit the systolic recurrent core for a model as one self-contained Verilog file.
    Verilog(cmd::verilog::VerilogArgs),
    /// Simulate the core in rust-hdl, clock by clock, and compare it with the golden model.
    HdlSim(cmd::hdl_sim::HdlSimArgs),
    /// Run golden, rust-hdl, Verilator and Icarus on the same inputs and compare every step.
    Cosim(cmd::cosim::CosimArgs),
    /// The whole flow: train, export, co-simulate, Verilog, synthesise, report.
    Flow(cmd::flow::FlowArgs),
    /// The accuracy grid (methods × weight bits × seeds) and the table made from its results.
    #[command(subcommand)]
    Accuracy(cmd::accuracy::AccuracyCommand),
    /// A grid of weight bits × lanes × targets, shardable over machines, merged into Pareto plots.
    Sweep(cmd::sweep::SweepArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(a) => cmd::train::run(*a),
        Command::Export(a) => cmd::export::run(a),
        Command::Eval(a) => cmd::eval::run(a),
        Command::Bench(c) => cmd::bench::run(c),
        Command::Model(c) => cmd::model::run(c),
        Command::Input(c) => cmd::input::run(c),
        Command::Golden(a) => cmd::golden::run(a),
        Command::VcdDiff(a) => cmd::vcd_diff::run(a),
        Command::Synth(a) => cmd::synth::run(a),
        Command::Board(c) => cmd::board::run(c),
        Command::Verilog(a) => cmd::verilog::run(a),
        Command::HdlSim(a) => cmd::hdl_sim::run(a),
        Command::Cosim(a) => cmd::cosim::run(a),
        Command::Flow(a) => cmd::flow::run(a),
        Command::Sweep(a) => cmd::sweep::run(a),
        Command::Accuracy(c) => cmd::accuracy::run(c),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", error_chain(&e));
            std::process::ExitCode::from(2)
        }
    }
}

/// The error and its causes on one line, each cause once: many library errors already quote
/// their cause in their own message (`cannot read m.json: No such file or directory`), and
/// printing the chain as well would say it twice.
fn error_chain(e: &anyhow::Error) -> String {
    let mut line = e.to_string();
    for cause in e.chain().skip(1) {
        let text = cause.to_string();
        if text.contains(&line) {
            // A bare context (`m.json`) that its cause repeats in full.
            line = text;
        } else if !line.contains(&text) {
            line += ": ";
            line += &text;
        }
    }
    line
}
