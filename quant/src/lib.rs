//! # qornn-quant — training quantised orthogonal RNNs and exporting them
//!
//! Hand-written BPTT over faer ([`bptt`]), the weight quantiser with its straight-through
//! estimator ([`quantize`]), Björck and projUNN orthogonalisation ([`ortho`]), and a
//! full-precision LSTM as the float reference ([`lstm`]).

#![warn(missing_docs)]

pub mod bench;
pub mod bptt;
pub mod data;
pub mod export;
pub mod lstm;
pub mod model;
pub mod names;
pub mod optim;
pub mod ortho;
pub mod quantize;
pub mod real;
pub mod tasks;
pub mod tensors;
pub mod train;
