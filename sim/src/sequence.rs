//! Input sequences of integer codes and the input-file format (`docs/fixed-point.md`, section 9).

use crate::fixed::Bits;
use crate::model::QuantizedModel;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The `format` tag of an input file.
pub const INPUT_FORMAT: &str = "qornn.input";
/// The input-file schema version.
pub const INPUT_VERSION: u32 = 1;

/// Why an input file or sequence was refused.
#[derive(Debug, Error)]
pub enum InputError {
    /// The file could not be read or written.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// Not JSON, truncated, wrong types, wrong format tag or version.
    #[error("not a valid input file: {0}")]
    Format(String),
    /// A step has the wrong number of inputs.
    #[error("sequences[{seq}][{step}]: has {len} inputs, the model takes {want}")]
    Width {
        /// Sequence index.
        seq: usize,
        /// Step index (0-based).
        step: usize,
        /// Codes given.
        len: usize,
        /// The model's input length m.
        want: usize,
    },
    /// A code outside the model's input width.
    #[error("sequences[{seq}][{step}][{index}]: code {code} is outside the {bits}-bit input range [{min}, {max}]", bits = bits.get(), min = bits.min_code(), max = bits.max_code())]
    Code {
        /// Sequence index.
        seq: usize,
        /// Step index (0-based).
        step: usize,
        /// Input index.
        index: usize,
        /// The code.
        code: i64,
        /// The model's input width.
        bits: Bits,
    },
    /// A sequence without steps.
    #[error("sequences[{0}]: a sequence needs at least one step")]
    Empty(usize),
}

/// One input sequence: T steps of m codes, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sequence {
    width: usize,
    data: Vec<i32>,
}

impl Sequence {
    /// A sequence from T·m codes, `width` = m per step. The codes are not range-checked here;
    /// use [`Sequence::check`] against a model.
    ///
    /// # Panics
    /// When `width` is 0 or does not divide `data.len()`.
    pub fn from_flat(width: usize, data: Vec<i32>) -> Self {
        assert!(
            width > 0 && data.len().is_multiple_of(width),
            "ragged sequence"
        );
        Sequence { width, data }
    }

    /// Number of steps T.
    pub fn steps(&self) -> usize {
        self.data.len() / self.width
    }

    /// Codes per step m.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The codes of step t (0-based).
    pub fn step(&self, t: usize) -> &[i32] {
        &self.data[t * self.width..(t + 1) * self.width]
    }

    /// All codes, row-major.
    pub fn as_flat(&self) -> &[i32] {
        &self.data
    }

    /// Check the width and every code against a model's input (reported as sequence `seq`).
    pub fn check(&self, model: &QuantizedModel, seq: usize) -> Result<(), InputError> {
        let bits = model.bits.input;
        if self.width != model.shape.input {
            return Err(InputError::Width {
                seq,
                step: 0,
                len: self.width,
                want: model.shape.input,
            });
        }
        if let Some(pos) = self.data.iter().position(|&c| !bits.contains(c as i64)) {
            return Err(InputError::Code {
                seq,
                step: pos / self.width,
                index: pos % self.width,
                code: self.data[pos] as i64,
                bits,
            });
        }
        Ok(())
    }
}

/// The JSON document of an input file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct InputFile {
    format: String,
    version: u32,
    sequences: Vec<Vec<Vec<i64>>>,
}

/// Parse an input file's text into sequences checked against `model`.
pub fn parse_inputs(text: &str, model: &QuantizedModel) -> Result<Vec<Sequence>, InputError> {
    if let Some(hint) = crate::formats::wrong_kind(text, INPUT_FORMAT) {
        return Err(InputError::Format(hint));
    }
    let file: InputFile =
        serde_json::from_str(text).map_err(|e| InputError::Format(e.to_string()))?;
    if file.format != INPUT_FORMAT || file.version != INPUT_VERSION {
        return Err(InputError::Format(format!(
            "expected format \"{INPUT_FORMAT}\" version {INPUT_VERSION}, found \"{}\" version {}",
            file.format, file.version
        )));
    }
    let (m, bits) = (model.shape.input, model.bits.input);
    let mut out = Vec::with_capacity(file.sequences.len());
    for (s, steps) in file.sequences.iter().enumerate() {
        if steps.is_empty() {
            return Err(InputError::Empty(s));
        }
        let mut data = Vec::with_capacity(steps.len() * m);
        for (t, codes) in steps.iter().enumerate() {
            if codes.len() != m {
                return Err(InputError::Width {
                    seq: s,
                    step: t,
                    len: codes.len(),
                    want: m,
                });
            }
            for (j, &code) in codes.iter().enumerate() {
                if !bits.contains(code) {
                    return Err(InputError::Code {
                        seq: s,
                        step: t,
                        index: j,
                        code,
                        bits,
                    });
                }
                data.push(code as i32);
            }
        }
        out.push(Sequence { width: m, data });
    }
    Ok(out)
}

/// Read and parse an input file.
pub fn load_inputs(path: &Path, model: &QuantizedModel) -> Result<Vec<Sequence>, InputError> {
    let text = std::fs::read_to_string(path).map_err(|source| InputError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse_inputs(&text, model)
}

/// The text of an input file holding `seqs`.
pub fn inputs_to_json(seqs: &[Sequence]) -> String {
    let file = InputFile {
        format: INPUT_FORMAT.into(),
        version: INPUT_VERSION,
        sequences: seqs
            .iter()
            .map(|s| {
                (0..s.steps())
                    .map(|t| s.step(t).iter().map(|&c| c as i64).collect())
                    .collect()
            })
            .collect(),
    };
    serde_json::to_string(&file).expect("serialising integers cannot fail")
}

/// Write an input file atomically.
pub fn save_inputs(path: &Path, seqs: &[Sequence]) -> Result<(), InputError> {
    crate::atomic::write(path, inputs_to_json(seqs).as_bytes()).map_err(|source| InputError::Io {
        path: path.to_owned(),
        source,
    })
}
