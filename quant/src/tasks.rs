//! The tasks: copy, adding, sequential / permuted image classification, character-level
//! language modelling.
//!
//! Every sequence is named by a 64-bit id: generated tasks draw it from a generator seeded by
//! the id, data sets index their examples with it. A run is therefore reproducible from its
//! seed, and resuming needs no random-generator state.

use crate::bptt::{Batch, LossKind, Readout, Targets};
use crate::data::{self, DataError, Images};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Copy task: symbols in the alphabet.
pub const COPY_ALPHABET: usize = 8;
/// Copy task: symbols to remember.
pub const COPY_LEN: usize = 10;
/// Test sequences of the generated tasks.
pub const GENERATED_TEST: usize = 1000;
/// The longest sequence any task accepts (far past what fits in memory for training, which a
/// memory check refuses with its own message; this bound only keeps the arithmetic exact).
pub const MAX_STEPS: usize = 1 << 32;

/// Which task, by name: what the command line and the flow's TOML choose (the parameters come
/// from other settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskKind {
    /// Copy (`delay`).
    Copy,
    /// Adding (`length`).
    Adding,
    /// Sequential image classification (`data`).
    Smnist,
    /// Permuted sequential image classification (`data`).
    Psmnist,
    /// Character-level language model (`text`, `length`).
    Charlm,
}

impl TaskKind {
    /// Every task with its name.
    pub const ALL: [(TaskKind, &'static str); 5] = [
        (TaskKind::Copy, "copy"),
        (TaskKind::Adding, "adding"),
        (TaskKind::Smnist, "smnist"),
        (TaskKind::Psmnist, "psmnist"),
        (TaskKind::Charlm, "charlm"),
    ];

    /// The task of this kind with its parameters: `delay` (copy), `length` (adding, charlm),
    /// `data` (image tasks), `text` (charlm); a missing path is an error naming it.
    pub fn spec(
        self,
        delay: usize,
        length: usize,
        data: Option<&std::path::Path>,
        text: Option<&std::path::Path>,
    ) -> Result<TaskSpec, String> {
        let need = |p: Option<&std::path::Path>, what: &str| {
            p.map(std::path::Path::to_path_buf)
                .ok_or_else(|| format!("task {self} needs {what}"))
        };
        Ok(match self {
            TaskKind::Copy => TaskSpec::Copy { delay },
            TaskKind::Adding => TaskSpec::Adding { steps: length },
            TaskKind::Smnist | TaskKind::Psmnist => TaskSpec::Image {
                dir: need(
                    data,
                    "a data folder (train.data in a flow file, --data on the command line)",
                )?,
                permuted: self == TaskKind::Psmnist,
                train_limit: 0,
                test_limit: 0,
            },
            TaskKind::Charlm => TaskSpec::CharLm {
                path: need(
                    text,
                    "a text file (train.text in a flow file, --text on the command line)",
                )?,
                steps: length,
            },
        })
    }
}

crate::names::named_enum!(TaskKind, "task");

/// Which task, with its parameters (stored in checkpoints).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskSpec {
    /// Copy 10 symbols of an alphabet of 8 after `delay` blanks (T = delay + 20).
    Copy {
        /// T0.
        delay: usize,
    },
    /// Sum the two marked values of a sequence of `steps` (value, marker) pairs.
    Adding {
        /// T.
        steps: usize,
    },
    /// Classify 28×28 images fed one pixel per step (T = 784).
    Image {
        /// Folder with the MNIST-layout IDX files.
        dir: PathBuf,
        /// Feed the pixels in a fixed random order (seed 0 permutation).
        permuted: bool,
        /// Use only the first this many training images (0: all).
        train_limit: usize,
        /// Use only the first this many test images (0: all).
        test_limit: usize,
    },
    /// Predict the next byte of a text file; chunks of `steps` bytes.
    CharLm {
        /// The text file.
        path: PathBuf,
        /// T.
        steps: usize,
    },
}

/// How inputs become integer codes for the exported model: `x = scale · code`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct InputQuant {
    /// Real value of code 1.
    pub scale: f64,
    /// Code width.
    pub bits: u32,
}

/// Train or test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// Training data.
    Train,
    /// Held-out data.
    Test,
}

/// A task with its data loaded.
#[derive(Debug, Clone)]
pub struct Task {
    /// What it is.
    pub spec: TaskSpec,
    data: TaskData,
}

#[derive(Debug, Clone)]
enum TaskData {
    Generated,
    Image {
        train: Images,
        test: Images,
        order: Vec<usize>,
    },
    Text {
        vocab: Vec<u8>,
        train: Vec<u8>,
        test: Vec<u8>,
    },
}

fn mix(a: u64, b: u64) -> u64 {
    // splitmix64 of a combination: decorrelates neighbouring ids
    let mut z = a
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(b)
        .wrapping_add(0x6A09_E667_F3BC_C909);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Task {
    /// Load the task's data (nothing to load for generated tasks).
    pub fn load(spec: &TaskSpec) -> Result<Task, DataError> {
        let data = match spec {
            TaskSpec::Copy { delay } => {
                if *delay == 0 || *delay > MAX_STEPS {
                    return Err(DataError::Unusable {
                        path: PathBuf::from("copy"),
                        problem: format!(
                            "--delay {delay}: the copy task needs a delay of 1 to {MAX_STEPS}"
                        ),
                    });
                }
                TaskData::Generated
            }
            TaskSpec::Adding { steps } => {
                if *steps < 2 || *steps > MAX_STEPS {
                    return Err(DataError::Unusable {
                        path: PathBuf::from("adding"),
                        problem: format!(
                            "--length {steps}: the adding task needs 2 to {MAX_STEPS} steps"
                        ),
                    });
                }
                TaskData::Generated
            }
            TaskSpec::Image {
                dir,
                permuted,
                train_limit,
                test_limit,
            } => {
                let (mut train, mut test) = data::load_mnist_dir(dir)?;
                for (set, limit) in [(&mut train, *train_limit), (&mut test, *test_limit)] {
                    if limit > 0 && limit < set.len() {
                        set.labels.truncate(limit);
                        set.data.truncate(limit * set.pixels);
                    }
                }
                if train.is_empty() || test.is_empty() {
                    return Err(DataError::Unusable {
                        path: dir.clone(),
                        problem: "a split has no images".into(),
                    });
                }
                let mut order: Vec<usize> = (0..train.pixels).collect();
                if *permuted {
                    order.shuffle(&mut ChaCha8Rng::seed_from_u64(0));
                }
                TaskData::Image { train, test, order }
            }
            TaskSpec::CharLm { path, steps } => {
                if *steps == 0 || *steps > MAX_STEPS {
                    return Err(DataError::Unusable {
                        path: path.clone(),
                        problem: format!(
                            "--length {steps}: character-level chunks need 1 to {MAX_STEPS} bytes"
                        ),
                    });
                }
                // Both splits (90 % / 10 %) must hold at least one chunk of steps + 1 bytes.
                let text = data::load_text(path, 10 * (steps + 1))?;
                let mut seen = [false; 256];
                text.iter().for_each(|&c| seen[c as usize] = true);
                let vocab: Vec<u8> = (0..=255u8).filter(|&c| seen[c as usize]).collect();
                let mut index = [0u8; 256];
                for (i, &c) in vocab.iter().enumerate() {
                    index[c as usize] = i as u8;
                }
                let ids: Vec<u8> = text.iter().map(|&c| index[c as usize]).collect();
                let cut = ids.len() * 9 / 10;
                TaskData::Text {
                    vocab,
                    train: ids[..cut].to_vec(),
                    test: ids[cut..].to_vec(),
                }
            }
        };
        Ok(Task {
            spec: spec.clone(),
            data,
        })
    }

    /// A short name (`copy`, `adding`, `smnist`, `psmnist`, `charlm`).
    pub fn name(&self) -> &'static str {
        match &self.spec {
            TaskSpec::Copy { .. } => "copy",
            TaskSpec::Adding { .. } => "adding",
            TaskSpec::Image {
                permuted: false, ..
            } => "smnist",
            TaskSpec::Image { permuted: true, .. } => "psmnist",
            TaskSpec::CharLm { .. } => "charlm",
        }
    }

    /// Inputs m, outputs d, readout, loss.
    pub fn io(&self) -> (usize, usize, Readout, LossKind) {
        match (&self.spec, &self.data) {
            (TaskSpec::Copy { .. }, _) => (
                COPY_ALPHABET + 2,
                COPY_ALPHABET + 1,
                Readout::Every,
                LossKind::CrossEntropy,
            ),
            (TaskSpec::Adding { .. }, _) => (2, 1, Readout::Last, LossKind::Mse),
            (TaskSpec::Image { .. }, _) => (1, 10, Readout::Last, LossKind::CrossEntropy),
            (_, TaskData::Text { vocab, .. }) => (
                vocab.len(),
                vocab.len(),
                Readout::Every,
                LossKind::CrossEntropy,
            ),
            (TaskSpec::CharLm { .. }, _) => (1, 1, Readout::Every, LossKind::CrossEntropy),
        }
    }

    /// Steps per sequence.
    pub fn steps(&self) -> usize {
        match (&self.spec, &self.data) {
            (TaskSpec::Copy { delay }, _) => delay + 2 * COPY_LEN,
            (TaskSpec::Adding { steps }, _) => *steps,
            (_, TaskData::Image { train, .. }) => train.pixels,
            (TaskSpec::CharLm { steps, .. }, _) => *steps,
            _ => 1,
        }
    }

    /// How inputs are coded for the integer model.
    pub fn input_quant(&self) -> InputQuant {
        match &self.spec {
            TaskSpec::Copy { .. } | TaskSpec::CharLm { .. } => InputQuant {
                scale: 1.0,
                bits: 2,
            },
            TaskSpec::Adding { .. } => InputQuant {
                scale: 1.0 / 127.0,
                bits: 8,
            },
            TaskSpec::Image { .. } => InputQuant {
                scale: 1.0 / 255.0,
                bits: 9,
            },
        }
    }

    /// The memoryless baseline of the loss, where the task has one: copy
    /// `10·ln 8 / (T0 + 20)`, adding `1/6` (predicting 1 always).
    pub fn baseline(&self) -> Option<f64> {
        match &self.spec {
            TaskSpec::Copy { delay } => {
                Some(COPY_LEN as f64 * (COPY_ALPHABET as f64).ln() / (delay + 2 * COPY_LEN) as f64)
            }
            TaskSpec::Adding { .. } => Some(1.0 / 6.0),
            _ => None,
        }
    }

    /// Size of a split (`None`: generated, unlimited for training).
    pub fn len(&self, split: Split) -> Option<usize> {
        match (&self.data, split) {
            (TaskData::Generated, Split::Train) => None,
            (TaskData::Generated, Split::Test) => Some(GENERATED_TEST),
            (TaskData::Image { train, .. }, Split::Train) => Some(train.len()),
            (TaskData::Image { test, .. }, Split::Test) => Some(test.len()),
            (TaskData::Text { train, .. }, Split::Train) => {
                Some(train.len().saturating_sub(1) / self.steps())
            }
            (TaskData::Text { test, .. }, Split::Test) => {
                Some(test.len().saturating_sub(1) / self.steps())
            }
        }
    }

    /// Ids of the training sequences of optimiser step `step` of a run seeded `seed`
    /// (`epoch_len` steps per epoch for data sets: a fresh shuffle each epoch).
    pub fn train_ids(&self, seed: u64, step: u64, batch: usize) -> Vec<u64> {
        match self.len(Split::Train) {
            None => (0..batch as u64).map(|j| mix(mix(seed, step), j)).collect(),
            Some(n) => {
                let per_epoch = (n / batch).max(1) as u64;
                let epoch = step / per_epoch;
                let k = (step % per_epoch) as usize;
                let mut order: Vec<u64> = (0..n as u64).collect();
                order.shuffle(&mut ChaCha8Rng::seed_from_u64(mix(seed, epoch)));
                (0..batch).map(|j| order[(k * batch + j) % n]).collect()
            }
        }
    }

    /// Optimiser steps per pass over the training set (data sets), or `None`.
    pub fn steps_per_epoch(&self, batch: usize) -> Option<u64> {
        self.len(Split::Train).map(|n| (n / batch).max(1) as u64)
    }

    /// Ids of the test set (at most `limit` when nonzero).
    pub fn test_ids(&self, limit: usize) -> Vec<u64> {
        let n = self.len(Split::Test).unwrap_or(GENERATED_TEST);
        let n = if limit > 0 { n.min(limit) } else { n };
        (0..n as u64).collect()
    }

    /// The batch of sequences `ids` of a split.
    pub fn batch(&self, split: Split, ids: &[u64]) -> Batch {
        let (m, d, readout, _) = self.io();
        let steps = self.steps();
        let size = ids.len();
        let mut x = vec![0.0f32; size * steps * m];
        let mut labels: Vec<i32> = Vec::new();
        let mut values: Vec<f32> = Vec::new();
        let mut score_from = 0;
        for (j, &id) in ids.iter().enumerate() {
            let xs = &mut x[j * steps * m..(j + 1) * steps * m];
            match (&self.spec, &self.data) {
                (TaskSpec::Copy { delay }, _) => {
                    let mut rng = ChaCha8Rng::seed_from_u64(mix(id, split as u64 + 11));
                    let syms: Vec<usize> = (0..COPY_LEN)
                        .map(|_| rng.random_range(1..=COPY_ALPHABET))
                        .collect();
                    for t in 0..steps {
                        let input = if t < COPY_LEN {
                            syms[t]
                        } else if t == COPY_LEN + delay {
                            COPY_ALPHABET + 1
                        } else {
                            0
                        };
                        xs[t * m + input] = 1.0;
                        // the first symbol is due at the marker, the last 9 steps later
                        let out = if t >= COPY_LEN + delay {
                            syms[t - COPY_LEN - delay]
                        } else {
                            0
                        };
                        labels.push(out as i32);
                    }
                    score_from = delay + COPY_LEN;
                }
                (TaskSpec::Adding { .. }, _) => {
                    let mut rng = ChaCha8Rng::seed_from_u64(mix(id, split as u64 + 23));
                    let half = steps / 2;
                    let i1 = rng.random_range(0..half);
                    let i2 = rng.random_range(half..steps);
                    let mut sum = 0.0;
                    for t in 0..steps {
                        let v = rng.random_range(0..=127u32) as f32 / 127.0;
                        xs[t * m] = v;
                        if t == i1 || t == i2 {
                            xs[t * m + 1] = 1.0;
                            sum += v;
                        }
                    }
                    values.push(sum);
                }
                (_, TaskData::Image { train, test, order }) => {
                    let set = if split == Split::Train { train } else { test };
                    let i = id as usize % set.len();
                    let img = set.image(i);
                    for (t, &p) in order.iter().enumerate() {
                        xs[t] = img[p] as f32 / 255.0;
                    }
                    labels.push(set.labels[i] as i32);
                }
                (_, TaskData::Text { train, test, .. }) => {
                    let text = if split == Split::Train { train } else { test };
                    let start = match split {
                        Split::Train => mix(id, 31) as usize % (text.len() - steps).max(1),
                        Split::Test => (id as usize * steps) % (text.len() - steps).max(1),
                    };
                    for t in 0..steps {
                        xs[t * m + text[start + t] as usize] = 1.0;
                        labels.push(text[start + t + 1] as i32);
                    }
                }
                _ => {}
            }
        }
        let _ = d;
        let targets = if values.is_empty() {
            Targets::Classes { labels, score_from }
        } else {
            Targets::Values(values)
        };
        let _ = readout;
        Batch {
            steps,
            size,
            width: m,
            x,
            targets,
        }
    }
}
