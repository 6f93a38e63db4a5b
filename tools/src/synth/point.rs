//! One design point: a model's core with some core options, inside the board top with free
//! pins, synthesised for one target. The one function the flow, the sweep and `qornn synth`
//! share to build a point, so that the top, its name and the throughput formula are written
//! once.

use super::{synthesize, CoreFacts, SynthError, SynthOptions, SynthReport, Target};
use crate::board::{board_design, BoardError, BOARD_TOP};
use qornn_hdl::CoreOptions;
use qornn_sim::QuantizedModel;
use std::path::{Path, PathBuf};

/// Why a point could not be built (a design that does not fit is a result, not this).
#[derive(Debug, thiserror::Error)]
pub enum PointBuildError {
    /// The board design.
    #[error(transparent)]
    Board(#[from] BoardError),
    /// Its folder or Verilog file.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The reason.
        source: std::io::Error,
    },
    /// A tool failed.
    #[error(transparent)]
    Synth(#[from] SynthError),
}

/// A built point.
#[derive(Debug)]
pub struct DesignPoint {
    /// What the core does per step.
    pub core: CoreFacts,
    /// The synthesis report, or why the design does not fit the target.
    pub synth: Result<SynthReport, SynthError>,
}

/// Build `model`'s core with `opts` in the board top (free pins) into `dir/top.v`, and
/// synthesise it for `target` with placer seed `seed` (and a bitstream when asked).
pub fn build_point(
    model: &QuantizedModel,
    opts: &CoreOptions,
    target: Target,
    seed: u64,
    dir: &Path,
    bitstream: bool,
) -> Result<DesignPoint, PointBuildError> {
    // The family decides how DSP lanes are written (the caller's options say what, not how).
    let opts = &opts.clone().with_dsp(target.family().dsp_cell);
    let design = board_design(model, opts, None, BOARD_TOP, Default::default())?;
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| PointBuildError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let v = dir.join("top.v");
    qornn_sim::atomic::write(&v, design.verilog.as_bytes()).map_err(io(&v))?;
    let so = SynthOptions {
        target,
        top: crate::board::default_top(),
        seeds: vec![seed],
        freq_mhz: target.default_freq_mhz(),
        constraints: None,
        bitstream,
    };
    let synth = match synthesize(&v, dir, &so) {
        Ok(report) => Ok(report),
        Err(e) if e.does_not_fit() => Err(e),
        Err(e) => return Err(e.into()),
    };
    Ok(DesignPoint {
        core: CoreFacts::of(&design.cfg, model),
        synth,
    })
}
