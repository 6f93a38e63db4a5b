//! Optimisers (Adam, RMSprop), step learning-rate decay and gradient-norm clipping.
//!
//! The optimiser produces an update (`−lr · direction`) per parameter; the trainer adds it to
//! ordinary parameters and hands it to the projUNN projector for an orthogonal W.

use serde::{Deserialize, Serialize};

/// Which optimiser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Adam (β₁ = 0.9, β₂ = 0.999, ε = 1e−8).
    Adam,
    /// RMSprop (α = 0.99, ε = 1e−8), as in the projUNN and QORNN experiments.
    Rmsprop,
}

impl OptimizerKind {
    /// All optimisers with their names in configuration files.
    pub const ALL: [(OptimizerKind, &'static str); 2] = [
        (OptimizerKind::Adam, "adam"),
        (OptimizerKind::Rmsprop, "rmsprop"),
    ];
}

crate::names::named_enum!(OptimizerKind, "optimiser");

/// Learning rate schedule: `lr · factor^⌊step / every⌋`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    /// Base learning rate.
    pub lr: f64,
    /// Decay period in optimiser steps (0: constant).
    pub every: u64,
    /// Multiplier per period.
    pub factor: f64,
}

impl Schedule {
    /// The learning rate at `step`.
    pub fn at(&self, step: u64) -> f64 {
        match step.checked_div(self.every) {
            None => self.lr,
            Some(k) => self.lr * self.factor.powi(k.min(i32::MAX as u64) as i32),
        }
    }
}

/// Optimiser state for a list of parameter tensors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Optimizer {
    /// Which one.
    pub kind: OptimizerKind,
    /// Steps taken.
    pub step: u64,
    first: Vec<Vec<f32>>,
    second: Vec<Vec<f32>>,
}

impl Optimizer {
    /// State for tensors of the given lengths.
    pub fn new(kind: OptimizerKind, sizes: &[usize]) -> Self {
        Optimizer {
            kind,
            step: 0,
            first: sizes.iter().map(|&n| vec![0.0; n]).collect(),
            second: sizes.iter().map(|&n| vec![0.0; n]).collect(),
        }
    }

    /// Lengths of the tensors this state is for (to check a resumed run's state).
    pub fn sizes(&self) -> Vec<usize> {
        self.first.iter().map(|v| v.len()).collect()
    }

    /// Start a new step (call once before the [`Optimizer::update`]s of a step).
    pub fn begin_step(&mut self) {
        self.step += 1;
    }

    /// The update of tensor `idx` for gradient `g` at learning rate `lr`, written into `out`.
    pub fn update(&mut self, idx: usize, g: &[f32], lr: f64, out: &mut [f32]) {
        let t = self.step.max(1) as i32;
        match self.kind {
            OptimizerKind::Adam => {
                let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8f64);
                let c1 = 1.0 - b1.powi(t);
                let c2 = 1.0 - b2.powi(t);
                let step = (lr / c1) as f32;
                let c2s = c2.sqrt() as f32;
                let (m, v) = (&mut self.first[idx], &mut self.second[idx]);
                for i in 0..g.len() {
                    m[i] = b1 as f32 * m[i] + (1.0 - b1 as f32) * g[i];
                    v[i] = b2 as f32 * v[i] + (1.0 - b2 as f32) * g[i] * g[i];
                    out[i] = -step * m[i] / (v[i].sqrt() / c2s + eps as f32);
                }
            }
            OptimizerKind::Rmsprop => {
                let (alpha, eps) = (0.99f32, 1e-8f32);
                let v = &mut self.second[idx];
                for i in 0..g.len() {
                    v[i] = alpha * v[i] + (1.0 - alpha) * g[i] * g[i];
                    out[i] = -(lr as f32) * g[i] / (v[i].sqrt() + eps);
                }
            }
        }
    }
}

/// Scale gradients so their global norm is at most `max_norm`; returns the norm before.
pub fn clip_norm(parts: &mut [&mut Vec<f32>], max_norm: f64) -> f64 {
    let norm = parts
        .iter()
        .flat_map(|p| p.iter())
        .map(|&x| (x as f64) * (x as f64))
        .sum::<f64>()
        .sqrt();
    if max_norm > 0.0 && norm > max_norm && norm.is_finite() {
        let s = (max_norm / norm) as f32;
        parts
            .iter_mut()
            .for_each(|p| p.iter_mut().for_each(|x| *x *= s));
    }
    norm
}
