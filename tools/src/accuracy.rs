//! The accuracy grid behind `docs/accuracy.md`: methods × weight bits × seeds per task setting,
//! each cell an independent training run whose result is one small JSON file, so the grid is
//! computed in shards over several sittings and the table is generated from committed results,
//! never typed.
//!
//! A grid file (TOML) holds `[[group]]`s; each names its methods, weight widths and seeds and
//! takes its training settings in the flow's `[train]` vocabulary (`group.train`), plus an
//! optional `epochs` for data-set tasks. Full-precision methods (`fp-*`, `lstm`) ignore the
//! widths and run once per seed.

use crate::flow::TrainSection;
use crate::plot::{Chart, Series, Style};
use crate::report::Table;
use crate::sweep::Shard;
use crate::training;
use qornn_quant::train::{Method, Trainer};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Activation widths every cell's integer model is evaluated at.
pub const ACTIVATION_WIDTHS: [u32; 2] = [8, 12];

/// A grid could not be read, run or tabulated.
#[derive(Debug, Error)]
pub enum AccuracyError {
    /// The grid file is not valid.
    #[error("{path}: {problem}")]
    Grid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The reason.
        source: std::io::Error,
    },
    /// A result file is not valid.
    #[error("{path}: not a cell result: {problem}")]
    Result {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
}

/// The grid file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grid {
    /// Task settings with their methods, widths and seeds.
    pub group: Vec<Group>,
}

/// One task setting of the grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// A short, file-name-safe name (`pfmnist`, `copy1000-shift`).
    pub name: String,
    /// What the rows of this group's table say about it (budget, start, …).
    #[serde(default)]
    pub about: String,
    /// Methods (command-line names).
    pub methods: Vec<String>,
    /// Weight bits of the quantised methods.
    pub bits: Vec<u32>,
    /// Seeds.
    pub seeds: Vec<u64>,
    /// Passes over the training set (data-set tasks; replaces `train.steps`).
    #[serde(default)]
    pub epochs: Option<u64>,
    /// Training settings, in the flow's `[train]` vocabulary.
    #[serde(default)]
    pub train: TrainSection,
}

/// One training run of the grid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    /// The group's name.
    pub group: String,
    /// The method's command-line name.
    pub method: String,
    /// Weight bits (none for a full-precision method).
    pub bits: Option<u32>,
    /// Seed.
    pub seed: u64,
}

impl Cell {
    /// A stable, file-name-safe key: `pfmnist--ste-bjorck-b4-s1`.
    pub fn key(&self) -> String {
        let b = self.bits.map_or("fp".to_string(), |b| format!("b{b}"));
        format!("{}--{}-{b}-s{}", self.group, self.method, self.seed)
    }
}

/// Whether a method trains in full precision, so that its weight width does not matter.
fn full_precision(method: Method) -> bool {
    !method.qat() && method != Method::Ptq
}

impl Grid {
    /// Read and check a grid file: known methods, widths 2–8, names safe for files, every
    /// group's training settings valid.
    pub fn load(path: &Path) -> Result<Grid, AccuracyError> {
        let bad = |problem: String| AccuracyError::Grid {
            path: path.to_owned(),
            problem,
        };
        let text = std::fs::read_to_string(path).map_err(|source| AccuracyError::Io {
            path: path.to_owned(),
            source,
        })?;
        let grid: Grid = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
        for g in &grid.group {
            if g.name.is_empty()
                || !g
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(bad(format!(
                    "group name `{}`: use letters, digits, - and _",
                    g.name
                )));
            }
            for m in &g.methods {
                Method::parse(m).ok_or_else(|| bad(format!("{}: unknown method `{m}`", g.name)))?;
            }
            if let Some(b) = g.bits.iter().find(|b| !(2..=8).contains(*b)) {
                return Err(bad(format!("{}: weight bits {b} outside 2–8", g.name)));
            }
            if g.seeds.is_empty() || g.methods.is_empty() {
                return Err(bad(format!("{}: no seeds or no methods", g.name)));
            }
            g.train_config(&g.methods[0], g.bits.first().copied(), g.seeds[0])
                .map_err(|e| bad(format!("{}: {e}", g.name)))?;
        }
        Ok(grid)
    }

    /// Every cell, in a fixed order.
    pub fn cells(&self) -> Vec<Cell> {
        let mut out = Vec::new();
        for g in &self.group {
            for m in &g.methods {
                let fp = Method::parse(m).is_some_and(full_precision);
                let widths: Vec<Option<u32>> = if fp {
                    vec![None]
                } else {
                    g.bits.iter().map(|&b| Some(b)).collect()
                };
                for &seed in &g.seeds {
                    for &bits in &widths {
                        out.push(Cell {
                            group: g.name.clone(),
                            method: m.clone(),
                            bits,
                            seed,
                        });
                    }
                }
            }
        }
        out
    }
}

impl Group {
    /// The training configuration of one cell.
    fn train_config(
        &self,
        method: &str,
        bits: Option<u32>,
        seed: u64,
    ) -> Result<qornn_quant::train::TrainConfig, crate::flow::FlowError> {
        let mut section = self.train.clone();
        section.method = method.parse().map_err(crate::flow::FlowError::Config)?;
        if let Some(b) = bits {
            section.bits = b;
        }
        section.seed = seed;
        crate::flow::FlowConfig {
            train: section,
            ..Default::default()
        }
        .train_config()
    }
}

/// Float, fake-quantised and integer results at one activation width.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Integer {
    /// Hidden-state bits.
    pub activation_bits: u32,
    /// Fake-quantised float model: accuracy and loss.
    pub fake_quant_accuracy: f64,
    /// Fake-quantised loss.
    pub fake_quant_loss: f64,
    /// The exported integer model in the golden simulator, on the whole test split.
    pub integer_accuracy: f64,
    /// Its loss.
    pub integer_loss: f64,
}

/// What one cell measured: everything the table needs, and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellResult {
    /// The cell.
    pub cell: Cell,
    /// Task name (`copy`, `adding`, `psmnist`, …).
    pub task: String,
    /// Hidden units.
    pub hidden: usize,
    /// Trainable parameters.
    pub params: usize,
    /// Optimiser steps.
    pub steps: u64,
    /// Passes over the training set, for data-set tasks.
    pub epochs: Option<u64>,
    /// The trained model on the test split: accuracy (0–1).
    pub float_accuracy: f64,
    /// Its loss (nats per scored position, or squared error).
    pub float_loss: f64,
    /// The task's memoryless baseline loss, where it has one.
    pub baseline_loss: Option<f64>,
    /// The integer model at each of [`ACTIVATION_WIDTHS`] (empty for a float-only method).
    pub integer: Vec<Integer>,
    /// Training time (s).
    pub train_seconds: f64,
    /// `git rev-parse HEAD` of the code that ran it.
    pub commit: String,
    /// The command that reproduces it.
    pub command: String,
}

/// The commit this binary was built from (`-dirty` with uncommitted changes), recorded by
/// `build.rs`: the code that produced a result, whatever HEAD is when the run ends.
fn git_commit() -> String {
    env!("QORNN_BUILD_COMMIT").to_string()
}

/// Train and evaluate one cell; its run folder (checkpoint, curves) is `runs/KEY/` under `dir`,
/// so an interrupted cell resumes from its last checkpoint.
pub fn run_cell(
    grid: &Grid,
    cell: &Cell,
    dir: &Path,
    grid_path: &Path,
    threads: usize,
) -> Result<CellResult, String> {
    let g = grid
        .group
        .iter()
        .find(|g| g.name == cell.group)
        .ok_or("no such group")?;
    let mut config = g
        .train_config(&cell.method, cell.bits, cell.seed)
        .map_err(|e| e.to_string())?;
    config.threads = threads.max(1);
    let run_dir = dir.join("runs").join(cell.key());
    let ck_path = run_dir.join(training::CHECKPOINT);
    let mut trainer = if ck_path.is_file() {
        let ck = Trainer::load_checkpoint(&ck_path).map_err(|e| e.to_string())?;
        Trainer::resume(ck, config.threads).map_err(|e| e.to_string())?
    } else {
        Trainer::new(config).map_err(|e| e.to_string())?
    };
    if let Some(e) = g.epochs {
        let per = trainer
            .task
            .steps_per_epoch(trainer.config.batch)
            .ok_or("epochs applies to data-set tasks")?;
        trainer.config.steps = e * per;
        trainer.config.eval_every = per;
    }
    training::drive(&mut trainer, &run_dir, true).map_err(|e| e.to_string())?;
    let method = trainer.config.method;
    let integer = if !method.exportable() {
        Vec::new()
    } else {
        trainer
            .ptq_table(&ACTIVATION_WIDTHS)
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|r| Integer {
                activation_bits: r.activation_bits,
                fake_quant_accuracy: r.fake_quant.accuracy,
                fake_quant_loss: r.fake_quant.loss,
                integer_accuracy: r.integer.accuracy,
                integer_loss: r.integer.loss,
            })
            .collect()
    };
    let last = trainer.history.last().ok_or("no evaluation was logged")?;
    Ok(CellResult {
        cell: cell.clone(),
        task: trainer.task.name().to_string(),
        hidden: trainer.config.hidden,
        params: trainer.param_count(),
        steps: trainer.step,
        epochs: g.epochs,
        float_accuracy: last.test_acc,
        float_loss: last.test_loss,
        baseline_loss: trainer.task.baseline(),
        integer,
        train_seconds: trainer.seconds,
        commit: git_commit(),
        command: format!(
            "qornn accuracy run --grid {} --only {}",
            grid_path.display(),
            cell.key()
        ),
    })
}

/// Where a cell's result lives.
pub fn result_path(dir: &Path, cell: &Cell) -> PathBuf {
    dir.join(format!("{}.json", cell.key()))
}

/// Run the cells of `shard` that have no result yet; returns how many failed (their errors go
/// to stderr and into `dir/failed/KEY.txt`; a rerun retries them).
pub fn run_shard(
    grid: &Grid,
    grid_path: &Path,
    dir: &Path,
    shard: Shard,
    only: Option<&str>,
    threads: usize,
) -> Result<usize, AccuracyError> {
    let cells = grid.cells();
    let mine: Vec<&Cell> = shard
        .select(&cells)
        .into_iter()
        .filter(|c| only.is_none_or(|k| c.key() == k))
        .collect();
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| AccuracyError::Io { path, source }
    };
    let mut failed = 0;
    for (i, cell) in mine.iter().enumerate() {
        let path = result_path(dir, cell);
        if path.is_file() {
            eprintln!("[{}/{}] {}: done already", i + 1, mine.len(), cell.key());
            continue;
        }
        eprintln!("[{}/{}] {} …", i + 1, mine.len(), cell.key());
        match run_cell(grid, cell, dir, grid_path, threads) {
            Ok(r) => {
                let text = serde_json::to_string_pretty(&r).expect("a result serialises");
                qornn_sim::atomic::write(&path, text.as_bytes()).map_err(io(&path))?;
                eprintln!(
                    "      float {:.2} %{}",
                    100.0 * r.float_accuracy,
                    r.integer
                        .iter()
                        .map(|x| format!(
                            ", integer {:.2} % at {} bits",
                            100.0 * x.integer_accuracy,
                            x.activation_bits
                        ))
                        .collect::<String>()
                );
            }
            Err(e) => {
                failed += 1;
                eprintln!("      failed (retried on the next run): {e}");
                let f = dir.join("failed").join(format!("{}.txt", cell.key()));
                qornn_sim::atomic::write(&f, e.as_bytes()).map_err(io(&f))?;
            }
        }
    }
    Ok(failed)
}

/// Every result file of `dir`, checked.
pub fn load_results(dir: &Path) -> Result<Vec<CellResult>, AccuracyError> {
    let files = crate::report::json_files(dir)
        .map_err(|(path, source)| AccuracyError::Io { path, source })?;
    let mut out = Vec::new();
    for (path, text) in files {
        let bad = |problem: String| AccuracyError::Result {
            path: path.clone(),
            problem,
        };
        let r: CellResult = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if path.file_stem().and_then(|s| s.to_str()) != Some(r.cell.key().as_str()) {
            return Err(bad(format!("it holds cell {}", r.cell.key())));
        }
        let accs = std::iter::once(r.float_accuracy)
            .chain(r.integer.iter().map(|x| x.integer_accuracy))
            .chain(r.integer.iter().map(|x| x.fake_quant_accuracy));
        if accs.clone().any(|a| !(0.0..=1.0).contains(&a)) {
            return Err(bad("an accuracy outside 0–1".into()));
        }
        out.push(r);
    }
    out.sort_by_key(|r| r.cell.key());
    Ok(out)
}

/// How a task's cells are scored in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Metric {
    /// Accuracy in percent, higher is better.
    Accuracy,
    /// Mean squared error, lower is better.
    Mse,
    /// Bits per character, lower is better.
    Bpc,
}

impl Metric {
    fn of(task: &str) -> Metric {
        match task {
            "adding" => Metric::Mse,
            "charlm" => Metric::Bpc,
            _ => Metric::Accuracy,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy (%)",
            Metric::Mse => "test MSE",
            Metric::Bpc => "bits per character",
        }
    }

    /// The value shown for an accuracy and a loss.
    fn value(self, accuracy: f64, loss: f64) -> f64 {
        match self {
            Metric::Accuracy => 100.0 * accuracy,
            Metric::Mse => loss,
            Metric::Bpc => loss / std::f64::consts::LN_2,
        }
    }
}

/// Mean and spread (max − min) of a column of seeds, formatted.
fn cell_text(values: &[f64], metric: Metric) -> String {
    if values.is_empty() {
        return "—".into();
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let digits = if metric == Metric::Accuracy { 2 } else { 4 };
    let mut s = format!("{mean:.digits$}");
    if values.len() > 1 {
        let (lo, hi) = values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
                (l.min(v), h.max(v))
            });
        s += &format!(" ± {:.digits$} ({} seeds)", (hi - lo) / 2.0, values.len());
    }
    s
}

/// `docs/accuracy.md` from the results of `dir` (and the grid, for the rows that have no
/// result yet), with one plot per group written beside `out`.
pub fn table(grid: &Grid, results: &[CellResult], out: &Path) -> Result<String, AccuracyError> {
    let mut md = String::from(
        "# Accuracy: QORNN against its full-precision baselines\n\n\
         Generated by `qornn accuracy table` from the result files in `results/accuracy/` \
         (one per cell, each with the commit and the command that produced it); do not edit by \
         hand. Quantised rows show the **integer model** (the exported `QuantizedModel` run by \
         the golden simulator over the whole test split) at 8-bit activations, then 12-bit; \
         full-precision rows (`fp-*`, `lstm`) show the float model. `—`: not computed yet.\n\n",
    );
    for g in &grid.group {
        let rows: Vec<&CellResult> = results.iter().filter(|r| r.cell.group == g.name).collect();
        let task = rows
            .first()
            .map_or(g.train.task.to_string(), |r| r.task.clone());
        let task = task.as_str();
        let metric = Metric::of(task);
        md += &format!("## {} (`{}`)\n\n{}\n\n", g.name, task, g.about);
        if let Some(r) = rows.first() {
            md += &format!(
                "n = {}, {}; metric: {}{}.\n\n",
                r.hidden,
                match r.epochs {
                    Some(e) => format!("{e} epochs"),
                    None => format!("{} steps", r.steps),
                },
                metric.label(),
                r.baseline_loss.map_or(String::new(), |b| format!(
                    " (memoryless baseline loss {b:.4})"
                ))
            );
        }
        let mut header: Vec<String> = vec!["method".into(), "params".into()];
        header.push("full precision".into());
        header.extend(g.bits.iter().map(|b| format!("{b}-bit W (a8 / a12)")));
        let hdr: Vec<&str> = header.iter().map(String::as_str).collect();
        let mut t = Table::new(&hdr);
        let mut series = Vec::new();
        for m in &g.methods {
            let of = |bits: Option<u32>| -> Vec<&CellResult> {
                rows.iter()
                    .copied()
                    .filter(|r| &r.cell.method == m && r.cell.bits == bits)
                    .collect()
            };
            let fp = Method::parse(m).is_some_and(full_precision);
            let params = rows
                .iter()
                .find(|r| &r.cell.method == m)
                .map_or("—".into(), |r| crate::report::grouped(r.params as u64));
            let mut cells = vec![format!("`{m}`"), params];
            let mut points = Vec::new();
            if fp {
                let rs = of(None);
                let vals: Vec<f64> = rs
                    .iter()
                    .map(|r| metric.value(r.float_accuracy, r.float_loss))
                    .collect();
                cells.push(cell_text(&vals, metric));
                cells.extend(g.bits.iter().map(|_| String::new()));
                if !vals.is_empty() {
                    let mean = vals.iter().sum::<f64>() / vals.len() as f64;
                    points = g.bits.iter().map(|&b| (b as f64, mean)).collect();
                }
            } else {
                cells.push(String::new());
                for &b in &g.bits {
                    let rs = of(Some(b));
                    let at = |k: u32| -> Vec<f64> {
                        rs.iter()
                            .flat_map(|r| r.integer.iter().filter(|x| x.activation_bits == k))
                            .map(|x| metric.value(x.integer_accuracy, x.integer_loss))
                            .collect()
                    };
                    let (a8, a12) = (at(8), at(12));
                    cells.push(if a8.is_empty() {
                        "—".into()
                    } else {
                        format!("{} / {}", cell_text(&a8, metric), cell_text(&a12, metric))
                    });
                    if !a8.is_empty() {
                        points.push((b as f64, a8.iter().sum::<f64>() / a8.len() as f64));
                    }
                }
            }
            t.row(cells);
            if !points.is_empty() {
                series.push(Series::new(m.clone(), points));
            }
        }
        md += &t.to_markdown();
        if !series.is_empty() {
            let file = format!("accuracy-{}.png", g.name);
            let mut chart = Chart::lines(
                &format!("{}: {} against weight bits", g.name, metric.label()),
                "weight bits (W, U)",
                metric.label(),
                series,
            );
            chart.style = Style::LinesAndPoints;
            let folder = out.parent().filter(|p| !p.as_os_str().is_empty());
            let folder = folder.unwrap_or(Path::new("."));
            let png = folder.join(&file);
            let saved = std::fs::create_dir_all(folder)
                .map_err(|e| e.to_string())
                .and_then(|()| chart.save(&png).map_err(|e| e.to_string()));
            match saved {
                Ok(()) => md += &format!("\n![{} against weight bits]({file})\n", g.name),
                Err(e) => eprintln!("warning: no {file}: {e}"),
            }
        }
        md += "\n";
        let missing = grid
            .cells()
            .iter()
            .filter(|c| c.group == g.name && !rows.iter().any(|r| &r.cell == *c))
            .count();
        if missing > 0 {
            md += &format!("{missing} cells of this group have no result yet.\n\n");
        }
    }
    md += "## Provenance\n\n";
    let mut by_commit: BTreeMap<&str, usize> = BTreeMap::new();
    for r in results {
        *by_commit.entry(r.commit.as_str()).or_default() += 1;
    }
    for (c, n) in by_commit {
        md += &format!("- {n} cells at commit `{c}`\n");
    }
    md += "\nEach result file names the command that reproduces it (`command`).\n";
    Ok(md)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_precision_methods_run_once_per_seed() {
        let grid: Grid = toml::from_str(
            "[[group]]\nname = \"g\"\nmethods = [\"fp-bjorck\", \"ste-bjorck\", \"ptq\"]\n\
             bits = [3, 4]\nseeds = [1, 2]\n",
        )
        .unwrap();
        let keys: Vec<String> = grid.cells().iter().map(Cell::key).collect();
        assert_eq!(keys.len(), 2 + 4 + 4, "{keys:?}");
        assert!(keys.contains(&"g--fp-bjorck-fp-s2".to_string()));
        assert!(keys.contains(&"g--ptq-b3-s1".to_string()));
    }

    #[test]
    fn seeds_show_their_spread() {
        assert_eq!(
            cell_text(&[80.0, 82.0], Metric::Accuracy),
            "81.00 ± 1.00 (2 seeds)"
        );
        assert_eq!(cell_text(&[], Metric::Mse), "—");
        assert!((Metric::Bpc.value(0.0, std::f64::consts::LN_2) - 1.0).abs() < 1e-12);
    }
}
