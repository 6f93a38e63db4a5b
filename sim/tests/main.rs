//! Integration tests of qornn-sim: the contract, its golden model, traces and vcd-diff.
//!
//! One test binary for the crate (one link instead of one per file); each module is named
//! after what it covers. A new test goes into the module of what it tests, or a new module
//! declared here.

mod batch;
mod malformed;
#[allow(clippy::needless_range_loop)]
mod reference;
mod spec_examples;
mod spec_reference;
mod strategies;
mod vcd_diff;
mod width;
