//! Design-space sweeps: a grid of (weight bits × lanes × target) points, each an independent
//! job whose result is one JSON file, so the grid can be split over machines (`--shard i/n`)
//! and gathered afterwards (`--merge`) into a table and Pareto plots.

use crate::board::board_design;
use crate::flow::FlowConfig;
use crate::plot::{Chart, Series, Style};
use crate::report::Table;
use crate::synth::{synthesize, Resource, SynthError, SynthOptions, Target};
use crate::training;
use qornn_hdl::CoreOptions;
use qornn_quant::train::Trainer;
use qornn_sim::QuantizedModel;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use thiserror::Error;

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

/// Indices of the Pareto-optimal points: no other point has cost ≤ and accuracy ≥ with one of
/// them strictly better. Points without a cost are left out.
pub fn pareto_front(points: &[(Option<f64>, f64)]) -> Vec<usize> {
    let mut front = Vec::new();
    for (i, &(ci, ai)) in points.iter().enumerate() {
        let Some(ci) = ci else { continue };
        let dominated = points.iter().enumerate().any(|(j, &(cj, aj))| {
            j != i && cj.is_some_and(|cj| cj <= ci && aj >= ai && (cj < ci || aj > ai))
        });
        if !dominated {
            front.push(i);
        }
    }
    front
}

/// The merged table as Markdown.
pub fn table(results: &[PointResult]) -> String {
    let mut t = Table::new(&[
        "bits",
        "lanes",
        "target",
        "accuracy",
        "LUTs",
        "DSPs",
        "Fmax (MHz)",
        "cycles/step",
        "latency (µs)",
        "fits",
    ]);
    let opt = |v: Option<String>| v.unwrap_or_else(|| "—".into());
    for r in results {
        t.row(vec![
            r.point.bits.to_string(),
            r.point.lanes.to_string(),
            r.point.target.clone(),
            format!("{:.2} %", 100.0 * r.accuracy),
            opt(r.luts.map(|v| v.to_string())),
            opt(r.dsps.map(|v| v.to_string())),
            opt(r.fmax_mhz.map(|v| format!("{v:.1}"))),
            r.cycles_per_step.to_string(),
            opt(r.latency_us().map(|v| format!("{v:.2}"))),
            if r.error.is_some() {
                "error".into()
            } else if r.fits {
                "yes".into()
            } else {
                "no".into()
            },
        ]);
    }
    t.to_markdown()
}

/// Accuracy against a cost, one series per weight width, with the Pareto front drawn through.
pub fn pareto_chart(
    results: &[PointResult],
    cost_label: &str,
    cost: impl Fn(&PointResult) -> Option<f64>,
) -> Chart {
    let mut widths: Vec<u32> = results.iter().map(|r| r.point.bits).collect();
    widths.sort_unstable();
    widths.dedup();
    let mut series: Vec<Series> = widths
        .iter()
        .map(|&b| {
            Series::new(
                format!("{b}-bit weights"),
                results
                    .iter()
                    .filter(|r| r.point.bits == b)
                    .filter_map(|r| Some((cost(r)?, 100.0 * r.accuracy)))
                    .collect(),
            )
        })
        .collect();
    let pts: Vec<(Option<f64>, f64)> = results.iter().map(|r| (cost(r), r.accuracy)).collect();
    let mut front: Vec<(f64, f64)> = pareto_front(&pts)
        .into_iter()
        .filter_map(|i| Some((pts[i].0?, 100.0 * pts[i].1)))
        .collect();
    front.sort_by(|a, b| a.0.total_cmp(&b.0));
    series.push(Series::new("Pareto front", front));
    Chart {
        style: Style::LinesAndPoints,
        ..Chart::lines(
            &format!("Accuracy vs {cost_label}"),
            cost_label,
            "accuracy (%)",
            series,
        )
    }
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

/// FNV-1a over `bytes`: a hash that stays the same across Rust versions and machines, so a
/// cache folder shared by shards on different hosts agrees on its keys.
fn stable_hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

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
    Ok(format!("b{bits}-{:016x}", stable_hash(text.as_bytes())))
}

/// The trained, exported model of one weight width and its integer test accuracy, cached under
/// [`model_key`].
fn model_for(
    config: &FlowConfig,
    bits: u32,
    dir: &Path,
) -> Result<(QuantizedModel, f64), PointError> {
    let models = dir.join("models");
    std::fs::create_dir_all(&models)?;
    let key = model_key(config, bits)?;
    let path = models.join(format!("{key}.json"));
    let acc_path = models.join(format!("{key}.accuracy"));
    let cached = || -> Result<Option<(QuantizedModel, f64)>, PointError> {
        if !(path.is_file() && acc_path.is_file()) {
            return Ok(None);
        }
        let acc: f64 = std::fs::read_to_string(&acc_path)?
            .trim()
            .parse()
            .map_err(|e| PointError(format!("{}: {e}", acc_path.display())))?;
        if !(0.0..=1.0).contains(&acc) {
            return Err(PointError(format!(
                "{}: accuracy {acc} is not in 0–1 (delete the file to retrain)",
                acc_path.display()
            )));
        }
        Ok(Some((QuantizedModel::load(&path)?, acc)))
    };
    if let Some(hit) = cached()? {
        return Ok(hit);
    }
    // Shards sharing the folder train each model once: the others wait for it.
    let _lock = crate::lock::FolderLock::wait_take(&models, &format!("{key}.lock"))
        .map_err(|e| PointError(e.to_string()))?;
    // Another shard may have finished it while we waited.
    if let Some(hit) = cached()? {
        return Ok(hit);
    }
    let mut c = config.clone();
    c.train.bits = bits;
    let mut trainer = Trainer::new(c.train_config()?)?;
    training::drive(&mut trainer, &models.join(format!("{key}-train")), true)?;
    let k = c.export.activation_bits;
    let rows = trainer.ptq_table(&[k])?;
    let max_h = trainer.calibrate()?;
    let exp = trainer.export(k, max_h)?;
    exp.model.save(&path)?;
    let acc = rows[0].integer.accuracy;
    qornn_sim::atomic::write(&acc_path, format!("{acc}\n").as_bytes())?;
    Ok((exp.model, acc))
}

fn run_point(config: &FlowConfig, p: &Point, dir: &Path) -> Result<PointResult, PointError> {
    let (model, accuracy) = model_for(config, p.bits, dir)?;
    let target = Target::parse(&p.target)
        .ok_or_else(|| PointError(format!("unknown target `{}`", p.target)))?;
    let opts = CoreOptions {
        lanes: p.lanes,
        multipliers: config.hardware.multipliers.parse().map_err(PointError)?,
    };
    let design = board_design(
        &model,
        &opts,
        None,
        crate::board::BOARD_TOP,
        Default::default(),
    )
    .map_err(|e| PointError(e.to_string()))?;
    let (text, cfg) = (design.verilog, design.cfg);
    let work = dir.join("synth").join(p.key());
    std::fs::create_dir_all(&work)?;
    let v = work.join("top.v");
    qornn_sim::atomic::write(&v, text.as_bytes())?;
    let so = SynthOptions {
        target,
        top: crate::board::default_top(),
        seeds: vec![config.hardware.seed],
        freq_mhz: target.default_freq_mhz(),
        constraints: None,
        bitstream: false,
    };
    let base = PointResult {
        point: p.clone(),
        accuracy,
        luts: None,
        dsps: None,
        fmax_mhz: None,
        cycles_per_step: cfg.cycles_per_step(),
        fits: false,
        error: None,
    };
    Ok(match synthesize(&v, &work, &so) {
        Ok(r) => PointResult {
            luts: Some(r.usage(Resource::Luts).used),
            dsps: Some(r.usage(Resource::Dsps).used),
            fmax_mhz: r.fmax(),
            fits: true,
            ..base
        },
        Err(e) if e.does_not_fit() => PointResult {
            error: Some(e.to_string()),
            ..base
        },
        Err(e) => return Err(e.into()),
    })
}

/// Where a failed attempt at a point is recorded (beside, not among, the results: a failure is
/// retried on the next run and never merged).
pub fn failure_path(dir: &Path, point: &Point) -> PathBuf {
    dir.join("failed").join(format!("{}.json", point.key()))
}

/// Run `points` (skipping those with a result unless `force`), each into `dir/points/`. A point
/// that fails is recorded in `dir/failed/` and the others go on; returns how many failed, so the
/// shard can exit non-zero.
pub fn run_points(
    config: &FlowConfig,
    points: &[&Point],
    dir: &Path,
    force: bool,
) -> Result<usize, SweepError> {
    let mut failed = 0;
    for (i, p) in points.iter().enumerate() {
        if !force && result_path(dir, p).is_file() {
            eprintln!("[{}/{}] {}: done already", i + 1, points.len(), p.key());
            continue;
        }
        eprintln!("[{}/{}] {} …", i + 1, points.len(), p.key());
        let failure = failure_path(dir, p);
        match run_point(config, p, dir) {
            Ok(result) => {
                save_result(dir, &result)?;
                let _ = std::fs::remove_file(&failure);
            }
            Err(e) => {
                failed += 1;
                eprintln!("      failed (retried on the next run): {}", e.0);
                let text = serde_json::json!({"point": p, "error": e.0}).to_string();
                let io = |source| SweepError::Io {
                    path: failure.clone(),
                    source,
                };
                std::fs::create_dir_all(dir.join("failed")).map_err(io)?;
                qornn_sim::atomic::write(&failure, text.as_bytes()).map_err(io)?;
            }
        }
    }
    Ok(failed)
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

/// Gather every point of `dir` into `sweep.md`, `sweep.html`, `sweep.json` and the Pareto
/// plots; returns the Markdown.
pub fn merge(dir: &Path) -> Result<String, SweepError> {
    let results = load_results(dir)?;
    let grid: Option<Vec<Point>> = std::fs::read_to_string(dir.join("grid.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let status = match &grid {
        Some(g) => {
            let missing: Vec<String> = g
                .iter()
                .filter(|p| !results.iter().any(|r| &r.point == *p))
                .map(Point::key)
                .collect();
            if missing.is_empty() {
                format!(
                    "{} of {} points: the grid is complete.",
                    results.len(),
                    g.len()
                )
            } else {
                eprintln!(
                    "warning: the grid is incomplete: {} of {} points missing ({})",
                    missing.len(),
                    g.len(),
                    missing.join(", ")
                );
                format!(
                    "**Incomplete grid**: {} of {} points; missing: {}.",
                    results.len(),
                    g.len(),
                    missing.join(", ")
                )
            }
        }
        None => format!(
            "{} points (no grid.json: completeness unknown).",
            results.len()
        ),
    };
    let mut md = format!("# qornn sweep\n\n{status}\n\n{}", table(&results));
    let charts = [
        (
            "pareto_luts.png",
            "LUTs",
            pareto_chart(&results, "LUTs", |r| r.luts.map(|v| v as f64)),
        ),
        (
            "pareto_latency.png",
            "latency per step (µs)",
            pareto_chart(&results, "latency per step (µs)", |r| r.latency_us()),
        ),
    ];
    for (file, label, chart) in charts {
        match chart.save(&dir.join(file)) {
            Ok(()) => md += &format!("\n![accuracy vs {label}]({file})\n"),
            Err(e) => eprintln!("warning: no {file}: {e}"),
        }
    }
    crate::report::write_report(dir, "sweep", "qornn sweep", &results, &md).map_err(|source| {
        SweepError::Io {
            path: dir.to_owned(),
            source,
        }
    })?;
    Ok(md)
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
