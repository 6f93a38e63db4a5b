//! # qornn-tools — orchestration of the external FPGA tools
//!
//! The `qornn` binary is a thin layer over the library crates (`qornn-sim`, `qornn-quant`,
//! `qornn-hdl`) and over this library, which runs the tools FPGA engineers already trust —
//! yosys, nextpnr, icepack/ecppack, Verilator, Icarus Verilog — finds them on PATH, says how to
//! install a missing one, and turns their reports into typed results.

#![warn(missing_docs)]

pub mod accuracy;
pub mod board;
pub mod cosim;
pub mod external;
pub mod fingerprint;
pub mod flow;
pub mod lock;
pub mod plot;
pub mod report;
pub mod settings;
pub mod simulator;
pub mod sweep;
pub mod synth;
pub mod training;
