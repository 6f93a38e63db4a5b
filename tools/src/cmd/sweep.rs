//! `qornn sweep`: a grid of weight bits × lanes × targets; each point an independent job.

use anyhow::{Context, Result};
use clap::Args;
use qornn_tools::flow::FlowConfig;
use qornn_tools::sweep::{self, grid, Shard};
use qornn_tools::synth::Target;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `qornn sweep`.
#[derive(Args)]
#[command(
    after_help = "Each point (weight bits, lanes, target) trains the model of --config at \
that weight width (once per width: models are cached in DIR/models/), measures the integer \
model's test accuracy in the golden simulator, synthesises the core with that many lanes for \
that target, and writes DIR/points/<key>.json. --shard i/n runs every n-th point starting at i, \
so n machines can share a grid; `qornn sweep --merge` then gathers DIR/points/ into \
DIR/sweep.md, sweep.html, sweep.json and two Pareto plots (accuracy vs LUTs, accuracy vs \
latency).\n\n\
A Slurm job array, for example (DIR on a shared file system):\n  \
#SBATCH --array=0-7\n  \
qornn sweep --bits 3,4,5,6,8 --lanes 1,2,4,8 --dir sweep/ --shard $SLURM_ARRAY_TASK_ID/8\n\
and, after the array:\n  qornn sweep --merge --dir sweep/\n\n\
Examples:\n  qornn sweep --bits 3,4,5,6,8 --lanes 1,2,4,8 --targets ice40-up5k --dir sweep/\n  \
qornn sweep --config flow.toml --bits 4,5 --lanes 8,16 --targets ecp5-25k --dir sweep/ --shard 1/2"
)]
pub struct SweepArgs {
    /// Base settings (the [train], [export] and [hardware] tables of a flow configuration).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Weight widths.
    #[arg(long, value_delimiter = ',', default_value = "3,4,5,6,8")]
    bits: Vec<u32>,
    /// Lane counts.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8")]
    lanes: Vec<usize>,
    /// Targets.
    #[arg(long, value_delimiter = ',', default_value = "ice40-up5k")]
    targets: Vec<String>,
    /// The sweep folder.
    #[arg(long, default_value = "qornn-out/sweep")]
    dir: PathBuf,
    /// Run only this slice of the grid: i/n.
    #[arg(long, default_value = "0/1")]
    shard: String,
    /// Gather the points of every shard into the table and plots.
    #[arg(long)]
    merge: bool,
    /// Recompute points that already have a result.
    #[arg(long)]
    force: bool,
}

/// Run `qornn sweep`.
pub fn run(a: SweepArgs) -> Result<ExitCode> {
    if a.merge {
        print!("{}", sweep::merge(&a.dir)?);
        return Ok(ExitCode::SUCCESS);
    }
    let config = match &a.config {
        Some(p) => FlowConfig::from_toml(
            &std::fs::read_to_string(p).with_context(|| format!("{}", p.display()))?,
        )?,
        None => FlowConfig::default(),
    };
    for t in &a.targets {
        Target::parse(t).with_context(|| format!("unknown target `{t}`"))?;
    }
    check_list("--bits", &a.bits, |&b| (2..=8).contains(&b), "2 to 8")?;
    let n = config.train.hidden;
    check_list(
        "--lanes",
        &a.lanes,
        |&p| p >= 1 && p <= n,
        &format!("1 to n = {n}"),
    )?;
    check_list("--targets", &a.targets, |_| true, "")?;
    let shard = Shard::parse(&a.shard)?;
    let points = grid(&a.bits, &a.lanes, &a.targets);
    let mine = shard.select(&points);
    eprintln!(
        "sweep: {} of {} points in shard {}/{} → {}",
        mine.len(),
        points.len(),
        shard.index,
        shard.count,
        a.dir.display()
    );
    config.check()?;
    sweep::save_grid(&a.dir, &points)?;
    let failed = sweep::run_points(&config, &mine, &a.dir, a.force)?;
    if failed > 0 {
        eprintln!(
            "shard {}/{}: {failed} of {} points failed (see {}); a rerun retries them",
            shard.index,
            shard.count,
            mine.len(),
            a.dir.join("failed").display()
        );
        return Ok(ExitCode::from(1));
    }
    println!(
        "shard {}/{} done; gather with: qornn sweep --merge --dir {}",
        shard.index,
        shard.count,
        a.dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Refuse an empty list, a value outside its range and a value named twice, naming the option.
fn check_list<T: PartialEq + std::fmt::Display>(
    option: &str,
    values: &[T],
    ok: impl Fn(&T) -> bool,
    range: &str,
) -> Result<()> {
    if values.is_empty() {
        anyhow::bail!("{option} is empty");
    }
    for (i, v) in values.iter().enumerate() {
        if !ok(v) {
            anyhow::bail!("{option}: {v} is out of range ({range})");
        }
        if values[..i].contains(v) {
            anyhow::bail!("{option} names {v} twice");
        }
    }
    Ok(())
}
