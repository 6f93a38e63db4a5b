//! Gathering a sweep: every point's result into a table, the Pareto fronts of accuracy against
//! each cost, and the merged report files.

use super::*;
use crate::plot::{Chart, Series, Style};
use crate::report::Table;

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
