//! The hardware plots of the report: resources and speed against lanes.

use super::*;
use crate::synth::{Resource, SynthReport};
use std::path::Path;

pub(super) fn hardware_plots(rep: &FlowReport, out: &Path) {
    use crate::plot::{Chart, Series, Style};
    let mut luts = Vec::new();
    let mut steps = Vec::new();
    for (target, points) in &rep.synthesis {
        let ok: Vec<(&SynthPoint, &SynthReport)> = points
            .iter()
            .filter_map(|p| p.result.as_ref().ok().map(|r| (p, r)))
            .collect();
        luts.push(Series::new(
            target.clone(),
            ok.iter()
                .map(|(p, r)| (p.lanes as f64, r.usage(Resource::Luts).used as f64))
                .collect(),
        ));
        steps.push(Series::new(
            target.clone(),
            ok.iter()
                .filter_map(|(p, r)| {
                    Some((p.lanes as f64, p.core.at(r.fmax()?).steps_per_second / 1e3))
                })
                .collect(),
        ));
    }
    if luts.iter().any(|s| !s.points.is_empty()) {
        let mk = |title: &str, y: &str, s: Vec<Series>| Chart {
            style: Style::LinesAndPoints,
            ..Chart::lines(title, "MAC lanes", y, s)
        };
        for (chart, file) in [
            (
                mk("Logic against lanes", "LUTs (logic cells)", luts),
                "resources_vs_lanes.png",
            ),
            (
                mk(
                    "Speed against lanes (at Fmax)",
                    "thousand steps per second",
                    steps,
                ),
                "steps_vs_lanes.png",
            ),
        ] {
            if let Err(e) = chart.save(&out.join(file)) {
                eprintln!("warning: no {file}: {e}");
            }
        }
    }
}
