//! Running points: the model each needs (trained once per weight width, cached under its
//! key), its synthesis, and the failures recorded for a retry.

use super::*;

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
    let opts = config.core_options(p.lanes);
    let work = dir.join("synth").join(p.key());
    let point =
        crate::synth::build_point(&model, &opts, target, config.hardware.seed, &work, false)
            .map_err(|e| PointError(e.to_string()))?;
    let base = PointResult {
        point: p.clone(),
        accuracy,
        luts: None,
        dsps: None,
        fmax_mhz: None,
        cycles_per_step: point.core.cycles_per_step,
        fits: false,
        error: None,
    };
    Ok(match point.synth {
        Ok(r) => PointResult {
            luts: Some(r.usage(Resource::Luts).used),
            dsps: Some(r.usage(Resource::Dsps).used),
            fmax_mhz: r.fmax(),
            fits: true,
            ..base
        },
        Err(e) => PointResult {
            error: Some(e.to_string()),
            ..base
        },
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
