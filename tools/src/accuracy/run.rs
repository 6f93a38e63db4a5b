//! Running cells: train and evaluate one, run a shard of the grid (skipping finished cells,
//! recording failures), and read the results back.

use super::*;

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
