//! The hdl crate's tests that need nothing outside it and the golden model: the rust-hdl core,
//! cycle by cycle, against the golden model on random models (every lane count and width,
//! saturation and most-negative codes), the cycle formula, and mutants caught.
//!
//! One test binary for the crate; each module is named after what it covers. Tests that run
//! emitted Verilog under external simulators or synthesis tools live in `tests/` (the
//! cross-crate binary).

mod core_sim;
mod weights_loaded;
