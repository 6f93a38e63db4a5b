//! Activation post-training quantisation and export to the integer [`QuantizedModel`].
//!
//! The constants follow `docs/fixed-point.md` section 7, with the accumulator scale derived
//! from the integer recurrence itself (`acc = ΣW·h·2^s_w + ΣU·x·2^s_u + b`):
//!
//! - W, U at k bits and V at k_v bits with the training quantiser (same codes as QAT used);
//! - the hidden scale `s_h` is the smallest scale covering the calibrated max|h| at k_a bits
//!   for which `s_U·s_x / (s_W·s_h)` is a power of two `2^e`; `e ≥ 0` gives `s_u = e`,
//!   `e < 0` gives `s_w = −e`;
//! - one accumulator unit is then worth `s_acc = s_W·s_h / 2^s_w` (= `s_U·s_x / 2^s_u`), so
//!   `b = rhe(b/s_acc)`, `β = rhe(β/s_acc)`, and the new hidden code is `a·s_acc/s_h`, i.e.
//!   `M/2^r ≈ s_W / 2^s_w` (M as large as fits 15 bits);
//! - `c = rhe(c / (s_V·s_h))`; the accumulator widths are those the width analysis requires.

use crate::bptt::{ActQuant, Activation as FloatAct, Readout, Stats, Targets};
use crate::model::Model;
use crate::quantize::{quantize, Quantized};
use crate::tasks::{InputQuant, Split, Task};
use qornn_sim::model::{
    Activation, Alignment, BitWidths, Provenance, QuantizedModel, Scales, MAX_ALIGN_SHIFT,
    MODEL_FORMAT, MODEL_VERSION,
};
use qornn_sim::{random::multiplier_for, width, Bits, Golden, ModelError, Sequence};
use thiserror::Error;

/// Why a model could not be exported.
#[derive(Debug, Error)]
pub enum ExportError {
    /// A width outside what the contract supports.
    #[error("cannot export: {0}")]
    Unsupported(String),
    /// The network is not an ORNN: the LSTM (the method named) is only a float reference.
    #[error("{0} is a float reference; it has no integer export")]
    FloatReference(&'static str),
    /// The built model failed validation (a bug if it happens).
    #[error("the exported model is invalid: {0}")]
    Invalid(#[from] ModelError),
}

/// Hidden-state widths an export supports; front ends check theirs against it before training.
pub const ACTIVATION_BITS: std::ops::RangeInclusive<u32> = 4..=16;

/// Check activation widths given as `option` (a CLI flag or a TOML key) before any work:
/// each must be in [`ACTIVATION_BITS`], and there must be at least one.
pub fn check_activation_bits(option: &str, widths: &[u32]) -> Result<(), String> {
    if widths.is_empty() {
        return Err(format!("{option}: give at least one activation width"));
    }
    match widths.iter().find(|k| !ACTIVATION_BITS.contains(k)) {
        Some(k) => Err(format!(
            "{option}: {k} activation bits is not supported (supported: {}–{})",
            ACTIVATION_BITS.start(),
            ACTIVATION_BITS.end()
        )),
        None => Ok(()),
    }
}

/// The fixed constants of a model that a core with run-time weights is built for: a model
/// exported *into* a frame shares them, so it can be loaded into that core's bitstream
/// (`qornn board load`). W's step is then `M·2^(s_w − r)` instead of its own α/2^(k−1), and
/// the hidden scale follows from U's own step and the frame's alignment shifts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    /// n, m and d.
    pub shape: qornn_sim::Shape,
    /// Every width, the accumulators' included.
    pub bits: BitWidths,
    /// Whether the activation is modReLU.
    pub modrelu: bool,
    /// The W·h / U·x alignment shifts.
    pub alignment: Alignment,
    /// The requantiser.
    pub requant: qornn_sim::model::Requant,
}

impl Frame {
    /// The frame of an integer model.
    pub fn of(m: &QuantizedModel) -> Frame {
        Frame {
            shape: m.shape,
            bits: m.bits,
            modrelu: m.modrelu_bias().is_some(),
            alignment: m.alignment,
            requant: m.requant,
        }
    }
}

/// Export settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExportOptions {
    /// Weight bits of W and U.
    pub weight_bits: u32,
    /// Weight bits of V.
    pub output_bits: u32,
    /// Hidden-state bits k_a (4–16).
    pub activation_bits: u32,
    /// max|h| measured on training data (calibration).
    pub max_abs_h: f64,
    /// Export into this frame (its widths must be the options'), or choose the constants.
    pub frame: Option<Frame>,
}

/// The exported model and the hidden fake-quantiser that mirrors it in float.
#[derive(Debug, Clone)]
pub struct Exported {
    /// The integer model (validated).
    pub model: QuantizedModel,
    /// Hidden scale and width, for fake-quantised float evaluation.
    pub act_quant: ActQuant,
    /// The input coding.
    pub input: InputQuant,
    /// How many entries of W lie beyond the code range of a frame's W step and were clipped
    /// (always 0 without a frame: a model's own step covers its W).
    pub clipped_w: usize,
}

fn rows(q: &Quantized, r: usize, c: usize) -> Vec<Vec<i64>> {
    // column-major codes to a list of rows
    (0..r)
        .map(|i| (0..c).map(|j| q.codes[i + j * r]).collect())
        .collect()
}

fn rhe(x: f64) -> i64 {
    x.round_ties_even() as i64
}

/// A frame must have the export's own widths and activation.
fn check_frame(
    f: &Frame,
    opt: &ExportOptions,
    shape: qornn_sim::Shape,
    input_bits: u32,
    act: FloatAct,
) -> Result<(), ExportError> {
    if f.shape != shape {
        let s = |s: qornn_sim::Shape| format!("n={} m={} d={}", s.hidden, s.input, s.output);
        return Err(ExportError::Unsupported(format!(
            "the frame's shape is {}, this model's {}",
            s(f.shape),
            s(shape)
        )));
    }
    let b = &f.bits;
    for (what, frame, own) in [
        ("weight bits", b.weight.get(), opt.weight_bits),
        ("output weight bits", b.output_weight.get(), opt.output_bits),
        ("activation bits", b.activation.get(), opt.activation_bits),
        ("input bits", b.input.get(), input_bits),
    ] {
        if frame != own {
            return Err(ExportError::Unsupported(format!(
                "the frame has {frame} {what}, this export {own}"
            )));
        }
    }
    if f.modrelu != matches!(act, FloatAct::Modrelu) {
        return Err(ExportError::Unsupported(
            "the frame's activation differs from the model's".into(),
        ));
    }
    Ok(())
}

/// Build the integer model from a prepared float model (call [`Model::prepare`] first; the
/// codes are those of the prepared weights).
pub fn export(
    model: &Model<f32>,
    task: &Task,
    opt: &ExportOptions,
    method: &str,
    notes: String,
) -> Result<Exported, ExportError> {
    let s = model.shape();
    let (n, m, d) = (s.n, s.m, s.d);
    for (what, k, lo, hi) in [
        ("weight bits", opt.weight_bits, 2, 8),
        ("output weight bits", opt.output_bits, 2, 8),
        (
            "activation bits",
            opt.activation_bits,
            *ACTIVATION_BITS.start(),
            *ACTIVATION_BITS.end(),
        ),
    ] {
        if !(lo..=hi).contains(&k) {
            return Err(ExportError::Unsupported(format!(
                "{what} {k} outside {lo}–{hi}"
            )));
        }
    }
    let input = task.input_quant();
    if let Some(f) = &opt.frame {
        check_frame(
            f,
            opt,
            qornn_sim::Shape::new(n, m, d),
            input.bits,
            s.activation,
        )?;
    }
    let qw = match &opt.frame {
        // The frame fixes W's step: M/2^r = s_W/2^s_w.
        Some(f) => crate::quantize::quantize_with_scale(
            model.w_orthogonal(),
            opt.weight_bits,
            f.requant.multiplier as f64
                * 2f64.powi(f.alignment.w_shift as i32 - f.requant.shift as i32),
        ),
        None => quantize(model.w_orthogonal(), opt.weight_bits),
    };
    let hmax_code = ((1i64 << (opt.activation_bits - 1)) - 1) as f64;
    let target = (opt.max_abs_h.max(1e-12)) / hmax_code;
    // Beyond ±2^(k−1) steps, which the model's own step never exceeds.
    let clipped_w = match &opt.frame {
        Some(_) => {
            let levels = (1i64 << (opt.weight_bits - 1)) as f64;
            let w = model.w_orthogonal();
            w.iter()
                .filter(|&&x| ((x as f64).abs() / qw.scale).round_ties_even() > levels)
                .count()
        }
        None => 0,
    };
    let qu = match &opt.frame {
        // In a frame, s_h = s_U·s_x/(s_W·2^e) with s_W and e fixed: U's step is its own, or
        // larger where that is what keeps the calibrated max|h| inside the hidden codes.
        Some(f) => {
            let e = f.alignment.u_shift as i32 - f.alignment.w_shift as i32;
            let own = quantize(&model.params.u, opt.weight_bits).scale;
            let needed = target * qw.scale * 2f64.powi(e) / input.scale;
            crate::quantize::quantize_with_scale(&model.params.u, opt.weight_bits, own.max(needed))
        }
        None => quantize(&model.params.u, opt.weight_bits),
    };
    let qv = quantize(&model.params.v, opt.output_bits);
    let (s_w, s_u, s_v, s_x) = (qw.scale, qu.scale, qv.scale, input.scale);
    let e = ((s_u * s_x) / (s_w * target)).log2().floor();
    let lim = MAX_ALIGN_SHIFT as f64;
    let e = match &opt.frame {
        Some(f) => f.alignment.u_shift as i32 - f.alignment.w_shift as i32,
        None => e.clamp(-lim, lim) as i32,
    };
    let s_h = s_u * s_x / (s_w * 2f64.powi(e));
    let (w_shift, u_shift) = match &opt.frame {
        Some(f) => (f.alignment.w_shift, f.alignment.u_shift),
        None if e >= 0 => (0u32, e as u32),
        None => ((-e) as u32, 0u32),
    };
    let s_acc = s_w * s_h / 2f64.powi(w_shift as i32);
    let b: Vec<i64> = model
        .params
        .b
        .iter()
        .map(|&v| rhe(v as f64 / s_acc))
        .collect();
    let activation = match s.activation {
        FloatAct::Relu => Activation::Relu,
        FloatAct::Modrelu => Activation::Modrelu {
            bias: model
                .params
                .beta
                .iter()
                .map(|&v| rhe(v as f64 / s_acc))
                .collect(),
        },
    };
    let c: Vec<i64> = model
        .params
        .c
        .iter()
        .map(|&v| rhe(v as f64 / (s_v * s_h)))
        .collect();
    let requant = match &opt.frame {
        Some(f) => f.requant,
        None => multiplier_for(s_w / 2f64.powi(w_shift as i32)),
    };
    let mut qm = QuantizedModel {
        format: MODEL_FORMAT.into(),
        version: MODEL_VERSION,
        shape: qornn_sim::Shape::new(n, m, d),
        bits: BitWidths {
            weight: Bits::new(opt.weight_bits),
            output_weight: Bits::new(opt.output_bits),
            activation: Bits::new(opt.activation_bits),
            input: Bits::new(input.bits),
            accumulator: Bits::new(48),
            output_accumulator: Bits::new(48),
        },
        activation,
        alignment: Alignment { w_shift, u_shift },
        requant,
        w: rows(&qw, n, n),
        u: rows(&qu, n, m),
        b,
        v: rows(&qv, d, n),
        c,
        provenance: Provenance {
            task: task.name().into(),
            method: method.into(),
            scales: Some(Scales {
                w: s_w,
                u: s_u,
                v: s_v,
                x: s_x,
                h: s_h,
            }),
            notes,
        },
    };
    // every accumulator constant must fit the widest accumulator before the analysis
    let big = Bits::new(48);
    let too_big = qm.b.iter().chain(&qm.c).any(|&v| !big.contains(v))
        || qm
            .modrelu_bias()
            .is_some_and(|b| b.iter().any(|&v| !big.contains(v)));
    if too_big {
        return Err(ExportError::Unsupported(
            "a bias does not fit a 48-bit accumulator (hidden scale far too small)".into(),
        ));
    }
    let report = width::analyse(&qm);
    for (what, need) in [
        ("hidden", report.hidden.required),
        ("output", report.output.required),
    ] {
        if need.get() > 48 {
            return Err(ExportError::Unsupported(format!(
                "the {what} accumulator needs {} bits (at most 48 supported)",
                need.get()
            )));
        }
    }
    qm.bits.accumulator = report.hidden.required.max(Bits::new(8));
    qm.bits.output_accumulator = report.output.required.max(Bits::new(8));
    if let Some(f) = &opt.frame {
        for (what, need, have) in [
            ("hidden", qm.bits.accumulator, f.bits.accumulator),
            (
                "output",
                qm.bits.output_accumulator,
                f.bits.output_accumulator,
            ),
        ] {
            if need.get() > have.get() {
                return Err(ExportError::Unsupported(format!(
                    "in the frame, the {what} accumulator needs {} bits; the frame has {}",
                    need.get(),
                    have.get()
                )));
            }
        }
        qm.bits = f.bits;
    }
    qm.validate()?;
    Ok(Exported {
        model: qm,
        act_quant: ActQuant {
            scale: s_h,
            bits: opt.activation_bits,
        },
        input,
        clipped_w,
    })
}

/// The input codes of a batch's sequences for the integer model.
pub fn batch_sequences(task: &Task, split: Split, ids: &[u64]) -> Vec<Sequence> {
    let batch = task.batch(split, ids);
    let q = task.input_quant();
    let per = batch.steps * batch.width;
    (0..batch.size)
        .map(|j| {
            let codes = batch.x[j * per..(j + 1) * per]
                .iter()
                .map(|&x| (x as f64 / q.scale).round_ties_even() as i32)
                .collect();
            Sequence::from_flat(batch.width, codes)
        })
        .collect()
}

/// Run the golden integer model over the sequences `ids` of a split and score it like the
/// float model (outputs are read as `y·s_V·s_h`).
pub fn evaluate_golden(
    exp: &Exported,
    task: &Task,
    split: Split,
    ids: &[u64],
    threads: usize,
) -> Result<Stats, ExportError> {
    let golden = Golden::new(&exp.model)?;
    let out_scale = exp.model.provenance.scales.map_or(1.0, |s| s.v * s.h);
    let (_, d, readout, _) = task.io();
    let steps = task.steps();
    let mut total = Stats::default();
    for part in ids.chunks(256) {
        let seqs = batch_sequences(task, split, part);
        let batch = task.batch(split, part);
        // The batched golden path: bit-exact with `Golden::run` (a proptest says so), and
        // several times faster on whole test sets.
        let results: Vec<Vec<Vec<i64>>> = match readout {
            Readout::Every => golden
                .run_outputs_batch(&seqs, threads)
                .into_iter()
                .map(|flat| flat.chunks(d.max(1)).map(<[i64]>::to_vec).collect())
                .collect(),
            Readout::Last => golden
                .run_last_output_batch(&seqs, threads)
                .into_iter()
                .map(|y| vec![y])
                .collect(),
        };
        for (j, ys) in results.iter().enumerate() {
            for (k, y) in ys.iter().enumerate() {
                let t = match readout {
                    Readout::Every => k,
                    Readout::Last => steps - 1,
                };
                let yr: Vec<f64> = y.iter().map(|&v| v as f64 * out_scale).collect();
                match &batch.targets {
                    Targets::Classes { labels, score_from } => {
                        let label = match readout {
                            Readout::Every => labels[j * steps + t],
                            Readout::Last => labels[j],
                        };
                        if label < 0 {
                            continue;
                        }
                        let mx = yr.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                        let z: f64 = yr.iter().map(|v| (v - mx).exp()).sum();
                        total.loss_sum += z.ln() + mx - yr[label as usize];
                        total.loss_terms += 1;
                        if t >= *score_from {
                            total.scored += 1;
                            // the contract's argmax (lowest index on ties), on the integers
                            if crate::bptt::argmax(y) == label as usize {
                                total.correct += 1;
                            }
                        }
                    }
                    Targets::Values(vals) => {
                        let base = match readout {
                            Readout::Every => (j * steps + t) * d,
                            Readout::Last => j * d,
                        };
                        for kk in 0..d {
                            let e = yr[kk] - vals[base + kk] as f64;
                            total.loss_sum += e * e;
                        }
                        total.loss_terms += d;
                    }
                }
            }
        }
    }
    Ok(total)
}
