//! Integration tests of qornn-quant: gradients, orthogonality, training, checkpoints, export.
//!
//! One test binary for the crate (one link instead of one per file); each module is named
//! after what it covers. A new test goes into the module of what it tests, or a new module
//! declared here.

mod checkpoint;
mod data_files;
mod export;
mod gradients;
mod lstm_gradients;
mod lstm_train;
mod orthogonal;
mod tasks_smoke;
mod train_copy;
