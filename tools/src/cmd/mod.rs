//! One module per verb.

pub mod cosim;
pub mod golden;
pub mod hdl_sim;
pub mod input;
pub mod model;
pub mod synth;
pub mod vcd_diff;
pub mod verilog;
