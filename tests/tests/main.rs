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

/// The Verilator build cache of the co-simulation tests: one for the whole binary, under
/// cargo's `target/tmp`, so the Verilator runtime is compiled once and a design that two
/// tests share is built once. Entries are keyed by a hash of the design and its harness, so
/// sharing cannot mix designs up; the cache's own behaviour (reuse, damaged entries) is
/// tested on private caches (`cosim_harness`, and the CLI tests' `safe_runs`).
pub(crate) fn verilator_cache() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("verilator-cache")
}
