//! Stage 5 of the flow: the core in the board top, synthesised for each target and lane count
//! (skipped, and said so, when a tool is missing under `synth = "auto"`).

use super::*;

/// Stage 5, synthesis: skipped (and said so) when a tool is missing under `auto`; a failure
/// under `on`.
pub(super) fn synthesis_stage(
    config: &FlowConfig,
    model: &QuantizedModel,
    targets: &[Target],
    out: &Path,
    r: &mut Runner,
) -> Result<(), FlowError> {
    let hw = &config.hardware;
    let missing: Vec<String> = targets
        .iter()
        .flat_map(|t| t.programs())
        .filter_map(|p| crate::external::find(p).err().map(|e| e.to_string()))
        .collect();
    match (hw.synth, missing.is_empty()) {
        (SynthMode::Off, _) => r.skip("synthesise", "hardware.synth = \"off\"".into()),
        (SynthMode::Auto, false) => {
            r.report.skipped_synth.push(missing.join("; "));
            r.skip("synthesise", missing.join("; "))
        }
        // Asked for explicitly: a missing tool is a failure, not a skipped check.
        (SynthMode::On, false) => r.stage("synthesise", |_| {
            Err(stage_err("synthesise")(format!(
                "hardware.synth = \"on\" but {}",
                missing.join("; ")
            )))
        })?,
        (SynthMode::On | SynthMode::Auto, true) => r.stage("synthesise", |rep| {
            synthesise(config, model, targets, out, rep)
        })?,
    }

    Ok(())
}

fn synthesise(
    config: &FlowConfig,
    model: &QuantizedModel,
    targets: &[Target],
    out: &Path,
    rep: &mut FlowReport,
) -> Result<(), FlowError> {
    let hw = &config.hardware;
    let lanes = if hw.synth_lanes.is_empty() {
        vec![hw.lanes]
    } else {
        hw.synth_lanes.clone()
    };
    // `FlowConfig::check` refused lane counts outside 1..=n before training.
    for &target in targets {
        let mut points = Vec::new();
        for &p in &lanes {
            let opts = config.core_options(p);
            let dir = out
                .join("synth")
                .join(format!("{}-{p}lanes", target.name()));
            eprintln!("      {target}, {p} lanes …");
            // Not fitting is a result worth reporting beside the points that fit; a tool that
            // failed is not: the stage fails and says where.
            let point = synth::build_point(model, &opts, target, hw.seed, &dir, true)
                .map_err(|e| stage_err("synthesise")(format!("{target}, {p} lanes: {e}")))?;
            points.push(SynthPoint {
                lanes: p,
                result: point.synth.map_err(|e| e.to_string()),
                core: point.core,
            });
        }
        rep.synthesis.push((target.name().to_string(), points));
    }
    Ok(())
}
