//! `QuantizedModel`: the versioned integer model that training exports and hardware reproduces.
//!
//! The JSON layout and every field's meaning are specified in `docs/fixed-point.md`. A model is
//! only ever used after [`QuantizedModel::validate`] (the loaders call it), which checks every
//! field and proves by interval analysis that the declared accumulators cannot overflow.

use crate::fixed::Bits;
use crate::width::{self, WidthReport};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The `format` tag of a model file.
pub const MODEL_FORMAT: &str = "qornn.quantized-model";
/// The schema version this build reads and writes.
pub const MODEL_VERSION: u32 = 1;

/// Supported range of each width, as `docs/fixed-point.md` section 1 states.
pub const WEIGHT_BITS: std::ops::RangeInclusive<u32> = 2..=8;
/// Supported hidden-state (activation) widths.
pub const ACTIVATION_BITS: std::ops::RangeInclusive<u32> = 4..=16;
/// Supported input widths.
pub const INPUT_BITS: std::ops::RangeInclusive<u32> = 2..=16;
/// Supported accumulator widths (hidden and output).
pub const ACCUMULATOR_BITS: std::ops::RangeInclusive<u32> = 8..=48;
/// Largest requantisation multiplier: it must fit a signed 16-bit operand.
pub const MAX_MULTIPLIER: i64 = (1 << 15) - 1;
/// Largest requantisation shift.
pub const MAX_REQUANT_SHIFT: u32 = 62;
/// Largest alignment shift of the W·h and U·x sums.
pub const MAX_ALIGN_SHIFT: u32 = 16;
/// Largest accepted dimension.
pub const MAX_DIM: usize = 4096;

/// Why a model file or value was refused. Every variant names what is wrong.
#[derive(Debug, Error)]
pub enum ModelError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The text is not JSON, is truncated, or a field has the wrong JSON type.
    #[error("not a valid model file: {0}")]
    Json(String),
    /// The document is JSON but not a qornn model.
    #[error("field `format`: expected \"{MODEL_FORMAT}\", found {0}")]
    Format(String),
    /// A schema version this build does not know.
    #[error("field `version`: unknown schema version {found} (this qornn reads version {MODEL_VERSION})")]
    Version {
        /// The version in the file.
        found: i64,
    },
    /// A field has a value the contract does not allow.
    #[error("field `{field}`: {problem}")]
    Field {
        /// The field's path, e.g. `w[3][5]` or `bits.weight`.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A declared accumulator is narrower than the codes can drive it.
    #[error(
        "field `bits.{field}`: {declared} declared, but the codes need {required} \
         (short by {short} bit{plural}; worst row {row})",
        short = required.get() - declared.get(),
        plural = if required.get() - declared.get() == 1 { "" } else { "s" }
    )]
    Overflow {
        /// `accumulator` or `output_accumulator`.
        field: &'static str,
        /// The declared width.
        declared: Bits,
        /// The width the interval analysis requires.
        required: Bits,
        /// The row that needs the most bits.
        row: usize,
    },
}

impl ModelError {
    fn field(field: impl Into<String>, problem: impl Into<String>) -> Self {
        ModelError::Field {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

/// Dimensions of the network: hidden units n, inputs m, outputs d.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shape {
    /// n: the hidden state's length (rows and columns of W).
    pub hidden: usize,
    /// m: the input's length (columns of U).
    pub input: usize,
    /// d: the output's length (rows of V).
    pub output: usize,
}

impl Shape {
    /// n hidden units, m inputs, d outputs.
    pub const fn new(hidden: usize, input: usize, output: usize) -> Shape {
        Shape {
            hidden,
            input,
            output,
        }
    }
}

/// The bit widths of every integer quantity (spec section 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BitWidths {
    /// Codes of W and U.
    pub weight: Bits,
    /// Codes of V.
    pub output_weight: Bits,
    /// Codes of the hidden state h.
    pub activation: Bits,
    /// Codes of the input x.
    pub input: Bits,
    /// The hidden accumulator (also holds b and β).
    pub accumulator: Bits,
    /// The output accumulator (holds y and c).
    pub output_accumulator: Bits,
}

/// The hidden activation σ.
///
/// Read through [`ActivationFields`]: serde's internally tagged enums accept any extra field
/// beside a unit variant's tag, and the contract says unknown fields are errors, for `relu` as
/// for `modrelu`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "lowercase",
    deny_unknown_fields,
    try_from = "ActivationFields"
)]
pub enum Activation {
    /// `max(acc, 0)`.
    Relu,
    /// `sign(acc)·max(|acc| + β_i, 0)` with one integer β per hidden unit.
    Modrelu {
        /// β, in accumulator units, one per hidden unit.
        bias: Vec<i64>,
    },
}

/// The names of [`Activation`]'s variants, as the `kind` field spells them.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ActivationKind {
    Relu,
    Modrelu,
}

/// The fields an `activation` object may have, as written; turned into an [`Activation`] only
/// when they fit the kind.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActivationFields {
    kind: ActivationKind,
    bias: Option<Vec<i64>>,
}

impl TryFrom<ActivationFields> for Activation {
    type Error = String;

    fn try_from(f: ActivationFields) -> Result<Self, String> {
        match (f.kind, f.bias) {
            (ActivationKind::Relu, None) => Ok(Activation::Relu),
            (ActivationKind::Relu, Some(_)) => {
                Err("`relu` takes no `bias` (only `modrelu` has one)".into())
            }
            (ActivationKind::Modrelu, Some(bias)) => Ok(Activation::Modrelu { bias }),
            (ActivationKind::Modrelu, None) => Err("missing field `bias`".into()),
        }
    }
}

impl Activation {
    /// The short name used in reports and on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Modrelu { .. } => "modrelu",
        }
    }
}

/// Shifts that put the W·h and U·x sums on one scale (spec section 2, step 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Alignment {
    /// Left shift of Σ W·h.
    pub w_shift: u32,
    /// Left shift of Σ U·x.
    pub u_shift: u32,
}

/// The requantiser `h = sat(rhe(a·M, r))` (spec section 2, step 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requant {
    /// M, `1 ..= 2^15 - 1`.
    pub multiplier: i64,
    /// r, `0 ..= 62`.
    pub shift: u32,
}

/// Real scales of the codes (real value = scale × code). For reference only: no integer path
/// reads them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Scales {
    /// Scale of W's codes.
    pub w: f64,
    /// Scale of U's codes.
    pub u: f64,
    /// Scale of V's codes.
    pub v: f64,
    /// Scale of the input codes.
    pub x: f64,
    /// Scale of the hidden codes.
    pub h: f64,
}

/// Where a model came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// The task it was trained for (`copy`, `adding`, `smnist`, ...), or `random`.
    #[serde(default)]
    pub task: String,
    /// The training method (`ste-bjorck`, `ste-projunn-d`, `ptq`, `random`, ...).
    #[serde(default)]
    pub method: String,
    /// The float scales, when the model came from training.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scales: Option<Scales>,
    /// Anything else worth keeping (seed, command line, metrics).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub notes: String,
}

/// The integer QORNN: everything the hardware needs and nothing it does not.
///
/// ```
/// use qornn_sim::QuantizedModel;
/// let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/example-model.json")).unwrap();
/// let model = QuantizedModel::from_json(&text).unwrap();
/// assert_eq!(model.shape.hidden, 2);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuantizedModel {
    /// Always [`MODEL_FORMAT`].
    pub format: String,
    /// Always [`MODEL_VERSION`] for models this build writes.
    pub version: u32,
    /// n, m, d.
    pub shape: Shape,
    /// Bit widths.
    pub bits: BitWidths,
    /// σ.
    pub activation: Activation,
    /// The W·h / U·x alignment shifts.
    pub alignment: Alignment,
    /// The requantiser constants.
    pub requant: Requant,
    /// W, n rows of n codes.
    pub w: Vec<Vec<i64>>,
    /// U, n rows of m codes.
    pub u: Vec<Vec<i64>>,
    /// b, n accumulator codes.
    pub b: Vec<i64>,
    /// V, d rows of n codes.
    pub v: Vec<Vec<i64>>,
    /// c, d output-accumulator codes.
    pub c: Vec<i64>,
    /// Where it came from.
    #[serde(default)]
    pub provenance: Provenance,
}

impl QuantizedModel {
    /// Parse and validate a model from JSON text.
    pub fn from_json(text: &str) -> Result<Self, ModelError> {
        if let Some(hint) = crate::formats::wrong_kind(text, MODEL_FORMAT) {
            return Err(ModelError::Json(hint));
        }
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| ModelError::Json(e.to_string()))?;
        check_header(&value)?;
        // Deserialised again from the text, not from `value`: a JSON map keeps only the last
        // of two equal keys, and a duplicated field must be an error, not a silent choice.
        let mut de = serde_json::Deserializer::from_str(text);
        let model: QuantizedModel = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            ModelError::field(path, e.into_inner().to_string())
        })?;
        model.validate()?;
        Ok(model)
    }

    /// Read, parse and validate a model file.
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_json(&text)
    }

    /// The model as pretty JSON (after validating it, so nothing invalid is ever written).
    pub fn to_json(&self) -> Result<String, ModelError> {
        self.validate()?;
        serde_json::to_string_pretty(self).map_err(|e| ModelError::Json(e.to_string()))
    }

    /// Validate, then write atomically (temporary file in the same folder, then rename).
    pub fn save(&self, path: &Path) -> Result<(), ModelError> {
        let text = self.to_json()?;
        crate::atomic::write(path, text.as_bytes()).map_err(|source| ModelError::Io {
            path: path.to_owned(),
            source,
        })
    }

    /// Check every field against the contract, then prove the accumulators wide enough.
    pub fn validate(&self) -> Result<WidthReport, ModelError> {
        if self.format != MODEL_FORMAT {
            return Err(ModelError::Format(format!("\"{}\"", self.format)));
        }
        if self.version != MODEL_VERSION {
            return Err(ModelError::Version {
                found: self.version as i64,
            });
        }
        self.check_widths()?;
        self.check_shapes()?;
        self.check_codes()?;
        self.check_constants()?;
        let report = width::analyse(self);
        for (field, declared, need) in [
            ("accumulator", self.bits.accumulator, report.hidden.required),
            (
                "output_accumulator",
                self.bits.output_accumulator,
                report.output.required,
            ),
        ] {
            if need > declared {
                let row = if field == "accumulator" {
                    report.hidden.worst_row
                } else {
                    report.output.worst_row
                };
                return Err(ModelError::Overflow {
                    field,
                    declared,
                    required: need,
                    row,
                });
            }
        }
        Ok(report)
    }

    fn check_widths(&self) -> Result<(), ModelError> {
        let b = &self.bits;
        let checks = [
            ("bits.weight", b.weight, &WEIGHT_BITS),
            ("bits.output_weight", b.output_weight, &WEIGHT_BITS),
            ("bits.activation", b.activation, &ACTIVATION_BITS),
            ("bits.input", b.input, &INPUT_BITS),
            ("bits.accumulator", b.accumulator, &ACCUMULATOR_BITS),
            (
                "bits.output_accumulator",
                b.output_accumulator,
                &ACCUMULATOR_BITS,
            ),
        ];
        for (field, bits, range) in checks {
            if !range.contains(&bits.get()) {
                return Err(ModelError::field(
                    field,
                    format!(
                        "{} bits is not supported (supported: {}–{})",
                        bits.get(),
                        range.start(),
                        range.end()
                    ),
                ));
            }
        }
        Ok(())
    }

    fn check_shapes(&self) -> Result<(), ModelError> {
        let Shape {
            hidden: n,
            input: m,
            output: d,
        } = self.shape;
        for (field, v) in [("shape.hidden", n), ("shape.input", m), ("shape.output", d)] {
            if v == 0 || v > MAX_DIM {
                return Err(ModelError::field(
                    field,
                    format!("{v} is not a supported dimension (1–{MAX_DIM})"),
                ));
            }
        }
        check_matrix("w", &self.w, n, n)?;
        check_matrix("u", &self.u, n, m)?;
        check_matrix("v", &self.v, d, n)?;
        check_len("b", self.b.len(), n, "shape.hidden")?;
        check_len("c", self.c.len(), d, "shape.output")?;
        if let Activation::Modrelu { bias } = &self.activation {
            check_len("activation.bias", bias.len(), n, "shape.hidden")?;
        }
        Ok(())
    }

    fn check_codes(&self) -> Result<(), ModelError> {
        let b = &self.bits;
        check_matrix_codes("w", &self.w, b.weight)?;
        check_matrix_codes("u", &self.u, b.weight)?;
        check_matrix_codes("v", &self.v, b.output_weight)?;
        check_codes("b", &self.b, b.accumulator)?;
        check_codes("c", &self.c, b.output_accumulator)?;
        if let Activation::Modrelu { bias } = &self.activation {
            check_codes("activation.bias", bias, b.accumulator)?;
        }
        Ok(())
    }

    fn check_constants(&self) -> Result<(), ModelError> {
        let Requant { multiplier, shift } = self.requant;
        if !(1..=MAX_MULTIPLIER).contains(&multiplier) {
            return Err(ModelError::field(
                "requant.multiplier",
                format!("{multiplier} is outside 1–{MAX_MULTIPLIER}"),
            ));
        }
        if shift > MAX_REQUANT_SHIFT {
            return Err(ModelError::field(
                "requant.shift",
                format!("{shift} is above the largest shift {MAX_REQUANT_SHIFT}"),
            ));
        }
        for (field, s) in [
            ("alignment.w_shift", self.alignment.w_shift),
            ("alignment.u_shift", self.alignment.u_shift),
        ] {
            if s > MAX_ALIGN_SHIFT {
                return Err(ModelError::field(
                    field,
                    format!("{s} is above the largest alignment shift {MAX_ALIGN_SHIFT}"),
                ));
            }
        }
        Ok(())
    }

    /// Bits of constant memory the hardware stores: W, U, V codes and the b, β, c constants.
    pub fn memory_bits(&self) -> u64 {
        let Shape {
            hidden: n,
            input: m,
            output: d,
        } = self.shape;
        let (n, m, d) = (n as u64, m as u64, d as u64);
        let bits = &self.bits;
        let beta = match self.activation {
            Activation::Relu => 0,
            Activation::Modrelu { .. } => n * bits.accumulator.get() as u64,
        };
        (n * n + n * m) * bits.weight.get() as u64
            + d * n * bits.output_weight.get() as u64
            + n * bits.accumulator.get() as u64
            + beta
            + d * bits.output_accumulator.get() as u64
    }

    /// The modReLU biases, or `None` for ReLU.
    pub fn modrelu_bias(&self) -> Option<&[i64]> {
        match &self.activation {
            Activation::Relu => None,
            Activation::Modrelu { bias } => Some(bias),
        }
    }
}

/// Report a wrong `format` or `version` before the field-by-field parse, so that a model of a
/// newer schema says so instead of listing the fields this build does not know.
fn check_header(value: &serde_json::Value) -> Result<(), ModelError> {
    let obj = value
        .as_object()
        .ok_or_else(|| ModelError::Json("the document is not a JSON object".into()))?;
    match obj.get("format") {
        Some(serde_json::Value::String(s)) if s == MODEL_FORMAT => {}
        Some(other) => return Err(ModelError::Format(other.to_string())),
        None => return Err(ModelError::field("format", "missing")),
    }
    match obj.get("version").and_then(|v| v.as_i64()) {
        Some(v) if v == MODEL_VERSION as i64 => Ok(()),
        Some(v) => Err(ModelError::Version { found: v }),
        None => Err(ModelError::field("version", "missing or not an integer")),
    }
}

fn check_len(field: &str, len: usize, want: usize, dim: &str) -> Result<(), ModelError> {
    if len != want {
        return Err(ModelError::field(
            field,
            format!("has {len} entries, but {dim} is {want}"),
        ));
    }
    Ok(())
}

fn check_matrix(field: &str, rows: &[Vec<i64>], r: usize, c: usize) -> Result<(), ModelError> {
    if rows.len() != r {
        return Err(ModelError::field(
            field,
            format!("has {} rows, expected {r} × {c}", rows.len()),
        ));
    }
    for (i, row) in rows.iter().enumerate() {
        if row.len() != c {
            return Err(ModelError::field(
                format!("{field}[{i}]"),
                format!(
                    "has {} entries, expected {c} ({field} is {r} × {c})",
                    row.len()
                ),
            ));
        }
    }
    Ok(())
}

fn check_codes(field: &str, codes: &[i64], bits: Bits) -> Result<(), ModelError> {
    for (j, &v) in codes.iter().enumerate() {
        if !bits.contains(v) {
            return Err(ModelError::field(
                format!("{field}[{j}]"),
                format!(
                    "code {v} is outside the {}-bit range [{}, {}]",
                    bits.get(),
                    bits.min_code(),
                    bits.max_code()
                ),
            ));
        }
    }
    Ok(())
}

fn check_matrix_codes(field: &str, rows: &[Vec<i64>], bits: Bits) -> Result<(), ModelError> {
    for (i, row) in rows.iter().enumerate() {
        check_codes(&format!("{field}[{i}]"), row, bits)?;
    }
    Ok(())
}
