//! Cross-crate tests: golden = rust-hdl = Verilator = Icarus, VCDs, synthesis, boards, flow, sweep.
//!
//! One test binary for the crate (one link instead of one per file); each module is named
//! after what it covers. A new test goes into the module of what it tests, or a new module
//! declared here.

mod board_core;
mod board_uart;
mod cosim_all;
mod cosim_dsp;
mod cosim_harness;
mod cosim_packed;
mod cosim_vcd;
mod flow;
mod hdl_synth;
mod hdl_verilog;
mod sweep;
mod synth_ecp5;
mod synth_ice40;
