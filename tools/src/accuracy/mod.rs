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
use qornn_quant::lstm::lstm_hidden_for_params;
use qornn_quant::train::{Method, Trainer};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use thiserror::Error;

mod run;
mod table;
pub use run::{load_results, result_path, run_cell, run_shard};
pub use table::table;
#[cfg(test)]
use table::{cell_text, Metric};

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

/// A row of the grid: a training method by its command-line name, or `lstm-equal-params`, the
/// LSTM at the parameter count of the group's ORNN (an LSTM of the same n has about four times
/// its weights, so the table shows the LSTM both ways).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Row {
    /// A method at the group's `hidden`.
    Method(Method),
    /// [`Method::Lstm`] at [`lstm_hidden_for_params`] of the group's `hidden`.
    LstmEqualParams,
}

impl Row {
    /// The name of the equal-parameter LSTM row.
    pub const LSTM_EQUAL_PARAMS: &'static str = "lstm-equal-params";

    /// The row a grid names, if it is one.
    pub fn parse(name: &str) -> Option<Row> {
        if name == Self::LSTM_EQUAL_PARAMS {
            Some(Row::LstmEqualParams)
        } else {
            Method::parse(name).map(Row::Method)
        }
    }

    /// The method it trains.
    pub fn method(self) -> Method {
        match self {
            Row::Method(m) => m,
            Row::LstmEqualParams => Method::Lstm,
        }
    }

    /// Whether it trains in full precision, so that the weight width does not matter.
    fn full_precision(self) -> bool {
        full_precision(self.method())
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
            if g.seeds.is_empty() || g.methods.is_empty() {
                return Err(bad(format!("{}: no seeds or no methods", g.name)));
            }
            for m in &g.methods {
                let row = Row::parse(m)
                    .ok_or_else(|| bad(format!("{}: unknown method `{m}`", g.name)))?;
                g.settings(row, g.bits.first().copied(), g.seeds[0])
                    .map_err(|e| bad(format!("{}: {m}: {e}", g.name)))?;
            }
            if let Some(b) = g.bits.iter().find(|b| !(2..=8).contains(*b)) {
                return Err(bad(format!("{}: weight bits {b} outside 2–8", g.name)));
            }
        }
        Ok(grid)
    }

    /// Every cell, in a fixed order.
    pub fn cells(&self) -> Vec<Cell> {
        let mut out = Vec::new();
        for g in &self.group {
            for m in &g.methods {
                let fp = Row::parse(m).is_some_and(Row::full_precision);
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
    /// The group's settings for one row, width and seed, checked without reading any data (the
    /// equal-parameter LSTM still at the group's `hidden`).
    fn settings(
        &self,
        row: Row,
        bits: Option<u32>,
        seed: u64,
    ) -> Result<qornn_quant::train::TrainConfig, String> {
        let mut section = self.train.clone();
        section.method = row.method();
        if let Some(b) = bits {
            section.bits = b;
        }
        section.seed = seed;
        section.config().map_err(|e| e.to_string())
    }

    /// The training configuration of one cell.
    fn train_config(
        &self,
        method: &str,
        bits: Option<u32>,
        seed: u64,
    ) -> Result<qornn_quant::train::TrainConfig, String> {
        let row = Row::parse(method).ok_or_else(|| format!("unknown method `{method}`"))?;
        let mut config = self.settings(row, bits, seed)?;
        if row == Row::LstmEqualParams {
            let task = qornn_quant::tasks::Task::load(&config.task).map_err(|e| e.to_string())?;
            let (m, d, _, _) = task.io();
            config.hidden = lstm_hidden_for_params(config.hidden, m, d);
        }
        Ok(config)
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
    fn the_lstm_rows_train_at_equal_n_and_at_equal_parameters() {
        let grid: Grid = toml::from_str(
            "[[group]]\nname = \"g\"\nmethods = [\"lstm\", \"lstm-equal-params\"]\n\
             bits = [4]\nseeds = [1]\n[group.train]\ntask = \"copy\"\ndelay = 20\nhidden = 64\n",
        )
        .unwrap();
        let keys: Vec<String> = grid.cells().iter().map(Cell::key).collect();
        assert_eq!(keys, ["g--lstm-fp-s1", "g--lstm-equal-params-fp-s1"]);
        let g = &grid.group[0];
        let same_n = g.train_config("lstm", None, 1).unwrap();
        assert_eq!((same_n.method, same_n.hidden), (Method::Lstm, 64));
        let equal = g.train_config("lstm-equal-params", None, 1).unwrap();
        assert_eq!(equal.method, Method::Lstm);
        // the copy task at delay 20 reads 10 one-hot codes and writes 9 classes
        let task = qornn_quant::tasks::Task::load(&equal.task).unwrap();
        let (m, d, _, _) = task.io();
        let ornn = 64 * 64 + 64 * m + 64 + d * 64 + d;
        let lstm = |n: usize| 4 * (n * n + n * m + n) + d * n + d;
        assert!(equal.hidden < 64 && equal.hidden > 16, "{}", equal.hidden);
        let gap = lstm(equal.hidden).abs_diff(ornn);
        assert!(
            gap <= lstm(equal.hidden + 1) - lstm(equal.hidden),
            "{} parameters against the ornn's {ornn}",
            lstm(equal.hidden)
        );
        assert!(g.train_config("lstm-wrong", None, 1).is_err());
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
