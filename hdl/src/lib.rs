//! # qornn-hdl — the QORNN systolic recurrent core in rust-hdl
//!
//! This crate describes the integer step of `docs/fixed-point.md` as a parameterised hardware
//! core (P MAC lanes with their own weight ROM banks, a requantiser and a ping-pong state
//! buffer, behind valid/ready streams), simulates it cycle by cycle against the golden model of
//! `qornn-sim`, and emits one self-contained Verilog file with the model's weights baked in.
//! The architecture, timing and signal names are in `docs/core.md`.
//!
//! ```
//! use qornn_hdl::{harness, CoreOptions};
//! use qornn_sim::{random, Golden, Shape};
//! let model = random::random_model(&random::RandomSpec::new(
//!     Shape { hidden: 6, input: 2, output: 2 }, 4, 7));
//! let seqs = random::random_sequences(&model, 1, 3, 1);
//! let run = harness::run(&model, &CoreOptions::new(4), &seqs, &harness::Outputs::default()).unwrap();
//! assert_eq!(run.traces[0], Golden::new(&model).unwrap().run(&seqs[0]));
//! ```

#![warn(missing_docs)]

pub mod board;
pub mod config;
pub mod core;
pub mod dsp;
pub mod harness;
pub mod interface;
pub mod lane;
pub mod load;
pub mod name;
pub mod port;
pub mod requant;
pub mod rom;
pub mod sequencer;
pub mod spram;
pub mod state;
pub mod verilog;

pub use config::{CoreConfig, CoreOptions, DspCell, HdlError, Memory, Multipliers, WeightStore};
pub use core::QornnCore;
