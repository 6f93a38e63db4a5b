//! One module per verb.

pub mod bench;
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
