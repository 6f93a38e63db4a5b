//! `qornn board`: run sequences on a board (or a simulated one) and check every output
//! against the golden model.

use super::choice;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use qornn_sim::{Golden, QuantizedModel, Sequence};
use qornn_tools::board::host::{Host, Mode};
use qornn_tools::board::{protocol, Identity};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

mod load;
mod sim;
pub use load::LoadArgs;
pub use sim::SimArgs;

/// The board verbs.
#[derive(Subcommand)]
pub enum BoardCommand {
    /// Run an input file on a board and compare every output with the golden model.
    #[command(
        after_help = "Exits 0 when every output equals the golden model's, 1 at the first \
mismatch (which it prints), 2 on an error (no port, another bitstream, a board that stopped \
answering).\n\nExample:\n  qornn board run --port /dev/ttyUSB1 --baud 3000000 --model model.json \
--input input.json"
    )]
    Run(RunArgs),
    /// Ask a board what it holds: protocol, shape, widths, clock, line rate, model hash.
    #[command(after_help = "Example:\n  qornn board info --port /dev/ttyUSB1 --baud 3000000")]
    Info(InfoArgs),
    /// Write a model's weights into a bitstream built with run-time weights
    /// (`qornn synth --weights ram`): one bitstream then serves every model of its frame.
    #[command(
        after_help = "The model must share the bitstream's frame: shape, widths, activation, \
alignment shifts and requantiser (M, r). The board checks the frame's checksum and then reports \
the model's hash, which `qornn board run` checks.\n\nExample:\n  qornn board load --port \
/dev/ttyUSB1 --baud 3000000 --model model.json"
    )]
    Load(LoadArgs),
    /// A simulated board: the board top of a model under Verilator, its UART on a
    /// pseudo-terminal that `qornn board run --port LINK` talks to (until stopped).
    #[command(
        after_help = "Example:\n  qornn board sim --model model.json --baud 3000000 \
--link /tmp/qornn-board &\n  qornn board run --port /tmp/qornn-board --model model.json --input \
input.json"
    )]
    Sim(SimArgs),
}

/// How to reach a board.
#[derive(Args)]
pub struct PortArgs {
    /// The serial port (`/dev/ttyUSB1`, or a `qornn board sim` link).
    #[arg(long)]
    port: PathBuf,
    /// Its line rate: the one the bitstream was built with (`qornn synth --baud`).
    #[arg(long, default_value_t = qornn_tools::board::BAUD)]
    baud: u32,
    /// Seconds to wait for an answer before giving up.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
}

/// Arguments of `qornn board run`.
#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    port: PortArgs,
    /// The integer model the bitstream was built from.
    #[arg(long)]
    model: PathBuf,
    /// Input sequences (`qornn input random` or `qornn input task`).
    #[arg(long)]
    input: PathBuf,
    /// `last` (y_T of each sequence, a credit per step) or `all` (every y_t).
    #[arg(long, default_value = "last", value_parser = choice(Mode::ALL))]
    mode: Mode,
    /// Retries of a sequence after a line error (a lost or corrupted byte).
    #[arg(long, default_value_t = 3)]
    retries: usize,
    /// Run even when the board holds another model (its outputs will then differ).
    #[arg(long)]
    ignore_model_hash: bool,
    /// Write a JSON summary here.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// Arguments of `qornn board info`.
#[derive(Args)]
pub struct InfoArgs {
    #[command(flatten)]
    port: PortArgs,
    /// Print the identity as JSON.
    #[arg(long)]
    json: bool,
}

/// Run `qornn board …`.
pub fn run(c: BoardCommand) -> Result<ExitCode> {
    match c {
        BoardCommand::Run(a) => run_sequences(a),
        BoardCommand::Info(a) => info(a),
        BoardCommand::Sim(a) => sim::run(a),
        BoardCommand::Load(a) => load::run(a),
    }
}

pub(crate) fn open(p: &PortArgs) -> Result<Host<Box<dyn serialport::SerialPort>>> {
    if !(p.timeout.is_finite() && p.timeout > 0.0) {
        bail!("--timeout {}: give a positive number of seconds", p.timeout);
    }
    let timeout = Duration::from_secs_f64(p.timeout);
    let path = p.port.to_string_lossy();
    // Reads wait a little at a time; the host counts up to the whole timeout itself.
    let port = serialport::new(path.as_ref(), p.baud)
        .timeout(Duration::from_millis(50).min(timeout))
        .open()
        .with_context(|| format!("cannot open the serial port {}", p.port.display()))?;
    Ok(Host::new(port, timeout))
}

/// Identify, after dropping whatever an earlier run left on the line.
pub(crate) fn identify(host: &mut Host<Box<dyn serialport::SerialPort>>) -> Result<Identity> {
    let id = host
        .resync(Duration::from_millis(100), 3)
        .context("the board does not identify itself")?;
    if id.version != protocol::VERSION {
        bail!(
            "the board speaks protocol v{}, this qornn v{}: rebuild the bitstream with this qornn",
            id.version,
            protocol::VERSION
        );
    }
    Ok(id)
}

fn info(a: InfoArgs) -> Result<ExitCode> {
    let mut host = open(&a.port)?;
    let id = identify(&mut host)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&id)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("qornn board, protocol v{}", id.version);
    println!(
        "  core      n = {}, m = {}, d = {}, {} lanes, {} cycles/step",
        id.hidden, id.inputs, id.outputs, id.lanes, id.cycles_per_step
    );
    println!(
        "  widths    k_x = {}, A_y = {}; weights in {}",
        id.input_bits,
        id.output_bits,
        if id.weights_in_ram { "RAM" } else { "ROM" }
    );
    println!(
        "  clock     {} MHz, {} baud, window {} steps, idle timeout {} cycles",
        id.clock_hz as f64 / 1e6,
        id.baud,
        id.window,
        id.idle_cycles
    );
    println!("  model     hash {:016x}", id.model_hash);
    println!("  frame     hash {:016x}", id.frame_hash);
    Ok(ExitCode::SUCCESS)
}

/// The bitstream must hold this model: same shape, widths and hash.
fn check_model(
    id: &Identity,
    model: &QuantizedModel,
    path: &Path,
    ignore_hash: bool,
) -> Result<()> {
    let s = &model.shape;
    let shape = (id.hidden as usize, id.inputs as usize, id.outputs as usize);
    if shape != (s.hidden, s.input, s.output) || id.input_bits as u32 != model.bits.input.get() {
        bail!(
            "the board holds a core for n = {}, m = {}, d = {}, k_x = {}; {} is n = {}, m = {}, \
             d = {}, k_x = {}: flash the bitstream built from this model",
            shape.0,
            shape.1,
            shape.2,
            id.input_bits,
            path.display(),
            s.hidden,
            s.input,
            s.output,
            model.bits.input.get()
        );
    }
    let hash = protocol::model_hash(model);
    if id.model_hash != hash && !ignore_hash && id.weights_in_ram {
        bail!(
            "the board holds another model's weights (hash {:016x}; {} is {hash:016x}): load \
             them first (`qornn board load --model {}`), or pass --ignore-model-hash",
            id.model_hash,
            path.display(),
            path.display()
        );
    }
    if id.model_hash != hash && !ignore_hash {
        bail!(
            "the board holds another model (hash {:016x}; {} is {hash:016x}): flash the \
             bitstream built from it (`qornn synth --model {}`), or pass --ignore-model-hash",
            id.model_hash,
            path.display(),
            path.display()
        );
    }
    Ok(())
}

/// A difference between the board and the golden model.
struct Mismatch {
    sequence: usize,
    step: usize,
    want: Vec<i64>,
    got: Vec<i64>,
}

fn run_sequences(a: RunArgs) -> Result<ExitCode> {
    let (model, seqs) = super::load_model_and_inputs(&a.model, &a.input)?;
    if seqs.is_empty() {
        bail!("{}: no sequences to run", a.input.display());
    }
    let golden = Golden::new(&model)?;
    let mut host = open(&a.port)?;
    let id = identify(&mut host)?;
    check_model(&id, &model, &a.model, a.ignore_model_hash)?;
    let steps: usize = seqs.iter().map(|s| s.steps()).sum();
    let bar = ProgressBar::new(steps as u64).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} steps ({per_sec}, {eta})")
            .expect("a valid template"),
    );
    let start_cycles = host.timer().context("reading the board's cycle counter")?;
    let start = Instant::now();
    let mut retried = 0usize;
    let mut mismatch = None;
    for (i, seq) in seqs.iter().enumerate() {
        let got = run_with_retries(&mut host, &id, seq, a.mode, a.retries, &mut retried)
            .with_context(|| format!("sequence {i}"))?;
        bar.inc(seq.steps() as u64);
        if let Some(m) = compare(&golden, seq, &got, a.mode, i) {
            mismatch = Some(m);
            break;
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let end_cycles = host.timer().context("reading the board's cycle counter")?;
    bar.finish_and_clear();
    let cycles = end_cycles.wrapping_sub(start_cycles) & ((1u64 << 48) - 1);
    let board_rate = steps as f64 * id.clock_hz as f64 / cycles.max(1) as f64;
    let core_rate = id.core_steps_per_second();
    let host_rate = steps as f64 / wall.max(1e-9);
    if let Some(m) = &mismatch {
        println!(
            "MISMATCH at sequence {}, step {}: board y = {:?}, golden y = {:?}",
            m.sequence, m.step, m.got, m.want
        );
    } else {
        println!(
            "{} sequences, {steps} steps ({} outputs): every output equals the golden model's",
            seqs.len(),
            a.mode.name()
        );
        println!(
            "board: {board_rate:.0} steps/s at its {} MHz clock ({:.1} % of the core's own \
             {core_rate:.0}); host: {host_rate:.0} steps/s over {wall:.2} s; {retried} retries",
            id.clock_hz as f64 / 1e6,
            100.0 * board_rate / core_rate,
        );
    }
    if let Some(path) = &a.json {
        let summary = serde_json::json!({
            "sequences": seqs.len(),
            "steps": steps,
            "mode": a.mode.name(),
            "equal": mismatch.is_none(),
            "mismatch": mismatch.as_ref().map(|m| serde_json::json!({
                "sequence": m.sequence, "step": m.step, "board": m.got, "golden": m.want,
            })),
            "board_cycles": cycles,
            "board_steps_per_second": board_rate,
            "core_steps_per_second": core_rate,
            "host_steps_per_second": host_rate,
            "retries": retried,
            "identity": id,
        });
        qornn_sim::atomic::write(path, serde_json::to_string_pretty(&summary)?.as_bytes())
            .with_context(|| format!("{}", path.display()))?;
    }
    Ok(if mismatch.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// One sequence; a line error resynchronises and tries again, up to `retries` times.
fn run_with_retries(
    host: &mut Host<Box<dyn serialport::SerialPort>>,
    id: &Identity,
    seq: &Sequence,
    mode: Mode,
    retries: usize,
    retried: &mut usize,
) -> Result<Vec<Vec<i64>>> {
    let mut attempt = 0;
    loop {
        match host.run(id, seq, mode) {
            Ok(ys) => return Ok(ys),
            Err(e) if e.is_line_error() && attempt < retries => {
                attempt += 1;
                *retried += 1;
                eprintln!("line error ({e}); resynchronising and retrying");
                let again = host.resync(Duration::from_millis(200), 5)?;
                if again != *id {
                    bail!("after resynchronising the board identifies as another bitstream");
                }
            }
            Err(e) if e.is_line_error() => {
                return Err(e).context(format!("after {retries} retries"))
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The first output that differs from the golden model's.
fn compare(
    golden: &Golden,
    seq: &Sequence,
    got: &[Vec<i64>],
    mode: Mode,
    sequence: usize,
) -> Option<Mismatch> {
    let mismatch = |step: usize, want: &[i64], got: Option<&Vec<i64>>| {
        let got = got.map(Vec::as_slice).unwrap_or(&[]);
        (got != want).then(|| Mismatch {
            sequence,
            step,
            want: want.to_vec(),
            got: got.to_vec(),
        })
    };
    match mode {
        // Only y_T is compared: the golden model need not keep a trace.
        Mode::Last => mismatch(seq.steps() - 1, &golden.run_last_output(seq), got.first()),
        Mode::All => {
            let trace = golden.run(seq);
            (0..trace.steps()).find_map(|t| mismatch(t, trace.y(t), got.get(t)))
        }
    }
}
