//! `qornn board load`: write a model's weights into a bitstream built with run-time weights.

use super::{identify, open, PortArgs};
use anyhow::{bail, Context, Result};
use clap::Args;
use qornn_hdl::{CoreConfig, CoreOptions, Multipliers, WeightStore};
use qornn_sim::QuantizedModel;
use qornn_tools::board::protocol;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Arguments of `qornn board load`.
#[derive(Args)]
pub struct LoadArgs {
    #[command(flatten)]
    port: PortArgs,
    /// The integer model whose weights to load: it must share the bitstream's frame (shape,
    /// widths, activation, alignment shifts, requantiser M and r).
    #[arg(long)]
    model: PathBuf,
    /// Retries after a line error (a lost or corrupted byte).
    #[arg(long, default_value_t = 3)]
    retries: usize,
    /// Write a JSON summary here.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// Run `qornn board load`.
pub fn run(a: LoadArgs) -> Result<ExitCode> {
    let model = QuantizedModel::load(&a.model).with_context(|| format!("{}", a.model.display()))?;
    let mut host = open(&a.port)?;
    let id = identify(&mut host)?;
    if !id.weights_in_ram {
        bail!(
            "the board's bitstream has its weights baked in: build one with run-time weights \
             (`qornn synth --weights ram …`) to load models into it"
        );
    }
    let s = &model.shape;
    let shape = (id.hidden as usize, id.inputs as usize, id.outputs as usize);
    if shape != (s.hidden, s.input, s.output) {
        bail!(
            "the board's core is n = {}, m = {}, d = {}; {} is n = {}, m = {}, d = {}",
            shape.0,
            shape.1,
            shape.2,
            a.model.display(),
            s.hidden,
            s.input,
            s.output
        );
    }
    // The image's layout follows the lanes and the packing, which the identity carries.
    let multipliers = if id.packed {
        Multipliers::Packed
    } else {
        Multipliers::Dsp
    };
    let opts = CoreOptions::with(id.lanes as usize, multipliers).with_weights(WeightStore::Ram);
    let cfg = CoreConfig::new(&model, &opts)?;
    if protocol::frame_hash(&cfg) != id.frame_hash {
        bail!(
            "{} does not share the bitstream's frame (its hash {:016x}, the board's {:016x}): \
             the widths, activation, alignment shifts and requantiser M and r must all be the \
             bitstream's (`qornn model check` prints them)",
            a.model.display(),
            protocol::frame_hash(&cfg),
            id.frame_hash
        );
    }
    let payload = protocol::load_payload(&model, &cfg)?;
    let start_cycles = host.timer().context("reading the board's cycle counter")?;
    let start = Instant::now();
    let mut attempt = 0;
    loop {
        match host.load(&payload) {
            Ok(()) => break,
            Err(e) if e.is_line_error() && attempt < a.retries => {
                attempt += 1;
                eprintln!("line error ({e}); resynchronising and loading again");
                host.resync(Duration::from_millis(200), 5)?;
            }
            Err(e) => return Err(e).context("loading the weights"),
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let end_cycles = host.timer().context("reading the board's cycle counter")?;
    let cycles = end_cycles.wrapping_sub(start_cycles) & ((1u64 << 48) - 1);
    let board_seconds = cycles as f64 / id.clock_hz.max(1) as f64;
    let after = host.resync(Duration::from_millis(20), 3)?;
    let hash = protocol::model_hash(&model);
    if after.model_hash != hash {
        bail!(
            "the board accepted the load but reports model {:016x}, not {hash:016x}",
            after.model_hash
        );
    }
    println!(
        "loaded {} ({} bytes) in {board_seconds:.3} s of board time ({:.0} bytes/s at {} baud, \
         {:.0} % of the line; {wall:.2} s on this host); the board holds model {hash:016x}",
        a.model.display(),
        payload.len(),
        payload.len() as f64 / board_seconds.max(1e-12),
        id.baud,
        100.0 * payload.len() as f64 * 10.0 / (id.baud as f64 * board_seconds.max(1e-12)),
    );
    if let Some(path) = &a.json {
        let summary = serde_json::json!({
            "model": a.model.display().to_string(),
            "bytes": payload.len(),
            "board_seconds": board_seconds,
            "board_bytes_per_second": payload.len() as f64 / board_seconds.max(1e-12),
            "baud": id.baud,
            "host_seconds": wall,
            "retries": attempt,
            "identity": after,
        });
        qornn_sim::atomic::write(path, serde_json::to_string_pretty(&summary)?.as_bytes())
            .with_context(|| format!("{}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}
