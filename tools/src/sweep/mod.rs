//! Design-space sweeps: a grid of (weight bits × lanes × target) points, each an independent
//! job whose result is one JSON file, so the grid can be split over machines (`--shard i/n`)
//! and gathered afterwards (`--merge`) into a table and Pareto plots.

use crate::flow::FlowConfig;
use crate::synth::{Resource, SynthError, Target};
use crate::training;
use qornn_quant::train::Trainer;
use qornn_sim::QuantizedModel;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use thiserror::Error;

mod merge;
mod run;
pub use merge::{merge, pareto_chart, pareto_front, table};
pub use run::{failure_path, run_points};

/// A sweep could not be planned or merged.
#[derive(Debug, Error)]
pub enum SweepError {
    /// `--shard` is not `i/n` with `0 ≤ i < n`.
    #[error("--shard takes i/n with 0 <= i < n, got `{0}`")]
    Shard(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The reason.
        source: std::io::Error,
    },
    /// A point's result file is not valid.
    #[error("{path}: not a sweep point result: {problem}")]
    Point {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// Nothing to merge.
    #[error("no point results in {0}")]
    Empty(PathBuf),
}

/// One point of the grid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Point {
    /// Weight bits (W and U).
    pub bits: u32,
    /// Processing lanes.
    pub lanes: usize,
    /// FPGA target name.
    pub target: String,
}

impl Point {
    /// A stable, file-name-safe key: `b4-l8-ice40-up5k`.
    pub fn key(&self) -> String {
        format!("b{}-l{}-{}", self.bits, self.lanes, self.target)
    }
}

/// The grid: every combination, in a fixed order.
pub fn grid(bits: &[u32], lanes: &[usize], targets: &[String]) -> Vec<Point> {
    let mut out = Vec::new();
    for &b in bits {
        for &l in lanes {
            for t in targets {
                out.push(Point {
                    bits: b,
                    lanes: l,
                    target: t.clone(),
                });
            }
        }
    }
    out
}

/// A slice of the grid: points whose index ≡ `index` (mod `count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard, from 0.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

impl Shard {
    /// All points in one shard.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Parse `i/n`.
    ///
    /// ```
    /// use qornn_tools::sweep::Shard;
    /// assert_eq!(Shard::parse("2/8").unwrap(), Shard { index: 2, count: 8 });
    /// assert!(Shard::parse("8/8").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<Shard, SweepError> {
        let bad = || SweepError::Shard(s.to_string());
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// This shard's items (points of a sweep, cells of an accuracy grid).
    pub fn select<'a, T>(&self, points: &'a [T]) -> Vec<&'a T> {
        points
            .iter()
            .enumerate()
            .filter(|(i, _)| i % self.count == self.index)
            .map(|(_, p)| p)
            .collect()
    }
}

/// What one point measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointResult {
    /// The point.
    pub point: Point,
    /// Task accuracy of the integer (golden) model, 0–1.
    pub accuracy: f64,
    /// LUTs (iCE40 logic cells / ECP5 LUT4s), when synthesised.
    pub luts: Option<u64>,
    /// DSP multipliers used.
    pub dsps: Option<u64>,
    /// Fmax in MHz.
    pub fmax_mhz: Option<f64>,
    /// Cycles per recurrent step.
    pub cycles_per_step: u64,
    /// Whether the design fits the device.
    pub fits: bool,
    /// Why the point failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl PointResult {
    /// Latency of one recurrent step at Fmax, in microseconds.
    pub fn latency_us(&self) -> Option<f64> {
        self.fmax_mhz.map(|f| self.cycles_per_step as f64 / f)
    }
}

/// Where a point's result lives inside a sweep folder.
pub fn result_path(dir: &Path, point: &Point) -> PathBuf {
    dir.join("points").join(format!("{}.json", point.key()))
}

/// Write one point's result atomically.
pub fn save_result(dir: &Path, r: &PointResult) -> Result<(), SweepError> {
    let path = result_path(dir, &r.point);
    let io = |source| SweepError::Io {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(path.parent().expect("points/ has a parent")).map_err(io)?;
    let text = serde_json::to_string_pretty(r).expect("a point result serialises");
    qornn_sim::atomic::write(&path, text.as_bytes()).map_err(io)
}

/// Read every point result of a sweep folder (from any number of shards), sorted by key.
pub fn load_results(dir: &Path) -> Result<Vec<PointResult>, SweepError> {
    let points = dir.join("points");
    let files = crate::report::json_files(&points)
        .map_err(|(path, source)| SweepError::Io { path, source })?;
    let mut out = Vec::new();
    for (path, text) in files {
        let r: PointResult = serde_json::from_str(&text).map_err(|e| SweepError::Point {
            path: path.clone(),
            problem: e.to_string(),
        })?;
        check_result(&path, &r)?;
        out.push(r);
    }
    if out.is_empty() {
        return Err(SweepError::Empty(points));
    }
    out.sort_by_key(|r| r.point.key());
    Ok(out)
}

/// Why one point failed (recorded in its result; the sweep goes on).
#[derive(Debug)]
pub struct PointError(pub String);

macro_rules! point_error_from {
    ($($t:ty),*) => {$(
        impl From<$t> for PointError {
            fn from(e: $t) -> Self {
                PointError(e.to_string())
            }
        }
    )*};
}
point_error_from!(
    std::io::Error,
    qornn_sim::ModelError,
    qornn_quant::train::TrainError,
    qornn_quant::export::ExportError,
    crate::training::TrainingError,
    crate::flow::FlowError,
    qornn_hdl::HdlError,
    SynthError
);

/// The cache key of the model a point needs: its weight width and a hash of everything else
/// that determines the trained and exported model (the whole training configuration and the
/// export width). Changing any setting on an existing folder trains anew instead of silently
/// reusing a model trained under other settings.
pub fn model_key(config: &FlowConfig, bits: u32) -> Result<String, PointError> {
    let mut c = config.clone();
    c.train.bits = bits;
    let train = c.train_config()?;
    let identity = serde_json::json!({
        "train": train,
        "activation_bits": c.export.activation_bits,
        "qornn": env!("CARGO_PKG_VERSION"),
    });
    let text = serde_json::to_string(&identity).map_err(|e| PointError(e.to_string()))?;
    Ok(format!(
        "b{bits}-{:016x}",
        crate::fingerprint::fnv1a(text.as_bytes())
    ))
}

/// Save the whole grid a sweep folder is meant to hold, so that `--merge` can say which points
/// are still missing. Shards of one grid write the same file; a different grid is refused.
pub fn save_grid(dir: &Path, points: &[Point]) -> Result<(), SweepError> {
    let path = dir.join("grid.json");
    let io = |source| SweepError::Io {
        path: path.clone(),
        source,
    };
    let text = serde_json::to_string_pretty(points).expect("points serialise");
    if let Ok(old) = std::fs::read_to_string(&path) {
        if old != text {
            return Err(SweepError::Point {
                path,
                problem: "this folder holds another grid (other --bits, --lanes or --targets): \
                          use another --dir, or delete grid.json to change it"
                    .into(),
            });
        }
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(io)?;
    qornn_sim::atomic::write(&path, text.as_bytes()).map_err(io)
}

/// Refuse a result no run could have produced.
fn check_result(path: &Path, r: &PointResult) -> Result<(), SweepError> {
    let bad = |problem: String| {
        Err(SweepError::Point {
            path: path.to_owned(),
            problem,
        })
    };
    let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    if name != r.point.key() {
        return bad(format!(
            "it holds point {} but is named {name}.json",
            r.point.key()
        ));
    }
    if !(0.0..=1.0).contains(&r.accuracy) {
        return bad(format!("accuracy {} is not in 0–1", r.accuracy));
    }
    if r.cycles_per_step == 0 {
        return bad("0 cycles per step".into());
    }
    if r.fmax_mhz.is_some_and(|f| !(f.is_finite() && f > 0.0)) {
        return bad(format!("Fmax {:?} MHz", r.fmax_mhz));
    }
    if r.fits && r.luts.is_none() {
        return bad("it fits but has no LUT count".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_grid() {
        let g = grid(
            &[3, 4, 5],
            &[1, 2, 4, 8],
            &["ice40-up5k".into(), "ecp5-25k".into()],
        );
        assert_eq!(g.len(), 24);
        let mut seen: Vec<String> = (0..5)
            .flat_map(|i| {
                Shard { index: i, count: 5 }
                    .select(&g)
                    .into_iter()
                    .map(|p| p.key())
                    .collect::<Vec<_>>()
            })
            .collect();
        seen.sort();
        let mut all: Vec<String> = g.iter().map(|p| p.key()).collect();
        all.sort();
        assert_eq!(seen, all);
    }

    #[test]
    fn shard_parsing_rejects_nonsense() {
        for bad in ["", "1", "3/3", "a/b", "1/0", "-1/2"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pareto_front_keeps_only_undominated_points() {
        // (cost, accuracy): 1 dominates 2 (cheaper and better); 3 is dearer but best.
        let pts = [
            (Some(10.0), 0.9),
            (Some(5.0), 0.95),
            (Some(6.0), 0.9),
            (Some(20.0), 0.99),
            (None, 1.0),
        ];
        assert_eq!(pareto_front(&pts), vec![1, 3]);
    }

    #[test]
    fn results_merge_from_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        for (i, p) in grid(&[4, 5], &[2], &["ice40-up5k".into()])
            .into_iter()
            .enumerate()
        {
            save_result(
                dir.path(),
                &PointResult {
                    point: p,
                    accuracy: 0.8 + i as f64 / 10.0,
                    luts: Some(1000 + i as u64),
                    dsps: Some(2),
                    fmax_mhz: Some(50.0),
                    cycles_per_step: 100,
                    fits: true,
                    error: None,
                },
            )
            .unwrap();
        }
        let rs = load_results(dir.path()).unwrap();
        assert_eq!(rs.len(), 2);
        assert_eq!(rs[0].latency_us(), Some(2.0));
        assert!(table(&rs).contains("| 5 | 2 | ice40-up5k | 90.00 % |"));
        pareto_chart(&rs, "LUTs", |r| r.luts.map(|v| v as f64))
            .save(&dir.path().join("p.svg"))
            .unwrap();
        std::fs::write(dir.path().join("points/broken.json"), "{").unwrap();
        assert!(matches!(
            load_results(dir.path()),
            Err(SweepError::Point { .. })
        ));
    }
}
