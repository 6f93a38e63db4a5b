//! # qornn-sim — the integer contract and its golden model
//!
//! This crate owns [`QuantizedModel`], the one integer model that training exports and that the
//! hardware reproduces bit for bit, and [`Golden`], the reference implementation of
//! `docs/fixed-point.md`. It also writes the per-step traces (JSON and VCD) that all simulators
//! are compared on. It depends on no other qornn crate: every other part obeys it.
//!
//! ```
//! use qornn_sim::{random, Golden, Shape};
//! let model = random::random_model(&random::RandomSpec::new(
//!     Shape { hidden: 16, input: 2, output: 3 }, 4, 7));
//! let golden = Golden::new(&model).unwrap();
//! let seqs = random::random_sequences(&model, 1, 10, 1);
//! let trace = golden.run(&seqs[0]);
//! assert_eq!(trace.steps(), 10);
//! ```

#![warn(missing_docs)]

pub mod atomic;
pub mod batch;
pub mod fixed;
pub mod formats;
pub mod golden;
pub mod memory;
pub mod model;
pub mod random;
pub mod sequence;
pub mod trace;
pub mod vcd_diff;
pub mod width;

pub use batch::BatchState;
pub use fixed::Bits;
pub use golden::Golden;
pub use model::{Activation, ModelError, QuantizedModel, Shape};
pub use sequence::{InputError, Sequence};
pub use trace::Trace;
