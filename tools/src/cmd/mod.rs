//! One module per verb.

pub mod accuracy;
pub mod bench;
pub mod board;
pub mod cosim;
pub mod eval;
pub mod export;
pub mod flow;
pub mod golden;
pub mod hdl_sim;
pub mod input;
pub mod model;
pub mod sweep;
pub mod synth;
pub mod train;
pub mod vcd_diff;
pub mod verilog;

use anyhow::{Context, Result};
use qornn_sim::sequence::{load_inputs, Sequence};
use qornn_sim::QuantizedModel;
use std::path::Path;

pub use qornn_tools::settings::choice;

/// Load a model file and an input file checked against it; errors name the file.
pub fn load_model_and_inputs(
    model: &Path,
    input: &Path,
) -> Result<(QuantizedModel, Vec<Sequence>)> {
    let m = QuantizedModel::load(model).with_context(|| format!("{}", model.display()))?;
    let seqs = load_inputs(input, &m).with_context(|| format!("{}", input.display()))?;
    Ok((m, seqs))
}
