//! `qornn accuracy`: the accuracy grid (methods × weight bits × seeds per task) and the table
//! generated from its committed results.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use qornn_tools::accuracy::{self, Grid};
use qornn_tools::sweep::Shard;
use std::path::PathBuf;
use std::process::ExitCode;

/// `qornn accuracy run` / `qornn accuracy table`.
#[derive(Subcommand)]
pub enum AccuracyCommand {
    /// Train and evaluate the cells of a grid that have no result yet (one JSON file each).
    #[command(
        after_help = "Each cell trains one method at one weight width and seed, \
evaluates the float model, the fake-quantised model and the exported integer model (golden \
simulator, whole test split) at 8- and 12-bit activations, and writes DIR/<cell>.json with \
the commit and the command. A finished cell is skipped; an interrupted one resumes from its \
checkpoint in DIR/runs/. Exit 1 if a cell failed (a rerun retries it).\n\n\
Examples:\n  qornn accuracy run --grid results/accuracy/grid.toml --shard 0/2\n  \
nohup qornn accuracy run --grid results/accuracy/grid.toml --shard 1/2 --threads 1 &\n  \
qornn accuracy run --grid results/accuracy/grid.toml --only pfmnist--ste-bjorck-b4-s1"
    )]
    Run(RunArgs),
    /// Write docs/accuracy.md (and its plots) from the result files.
    #[command(
        after_help = "Example:\n  qornn accuracy table --grid results/accuracy/grid.toml \
-o docs/accuracy.md"
    )]
    Table(TableArgs),
}

/// Arguments of `qornn accuracy run`.
#[derive(Args)]
pub struct RunArgs {
    /// The grid file (TOML).
    #[arg(long)]
    grid: PathBuf,
    /// Result folder (default: the grid file's folder).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// This shard of the cells: `i/n`.
    #[arg(long, default_value = "0/1")]
    shard: String,
    /// Only the cell with this key.
    #[arg(long)]
    only: Option<String>,
    /// Worker threads per training run.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    threads: u32,
}

/// Arguments of `qornn accuracy table`.
#[derive(Args)]
pub struct TableArgs {
    /// The grid file (TOML).
    #[arg(long)]
    grid: PathBuf,
    /// Result folder (default: the grid file's folder).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The Markdown file to write (its plots go beside it).
    #[arg(short = 'o', long, default_value = "docs/accuracy.md")]
    output: PathBuf,
}

fn folder_of(grid: &std::path::Path, dir: &Option<PathBuf>) -> PathBuf {
    dir.clone().unwrap_or_else(|| {
        grid.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), |p| p.to_owned())
    })
}

/// Run `qornn accuracy`.
pub fn run(c: AccuracyCommand) -> Result<ExitCode> {
    match c {
        AccuracyCommand::Run(a) => {
            let grid = Grid::load(&a.grid)?;
            let shard = Shard::parse(&a.shard)?;
            if let Some(k) = &a.only {
                if !grid.cells().iter().any(|c| &c.key() == k) {
                    anyhow::bail!("--only {k}: the grid has no such cell");
                }
            }
            let dir = folder_of(&a.grid, &a.dir);
            let failed = accuracy::run_shard(
                &grid,
                &a.grid,
                &dir,
                shard,
                a.only.as_deref(),
                a.threads as usize,
            )?;
            if failed > 0 {
                eprintln!(
                    "{failed} cells failed; see {}",
                    dir.join("failed").display()
                );
                return Ok(ExitCode::from(1));
            }
            Ok(ExitCode::SUCCESS)
        }
        AccuracyCommand::Table(a) => {
            let grid = Grid::load(&a.grid)?;
            let dir = folder_of(&a.grid, &a.dir);
            let results = accuracy::load_results(&dir)?;
            let md = accuracy::table(&grid, &results, &a.output)?;
            qornn_sim::atomic::write(&a.output, md.as_bytes())
                .with_context(|| format!("writing {}", a.output.display()))?;
            println!("wrote {} ({} results)", a.output.display(), results.len());
            Ok(ExitCode::SUCCESS)
        }
    }
}
