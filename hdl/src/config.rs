//! The core's parameters, derived from a validated model and the user's choices, and every
//! reason a core cannot be built.

use qornn_sim::{ModelError, QuantizedModel};
use thiserror::Error;

/// Largest number of lanes a core may have.
pub const MAX_LANES: usize = 256;
/// Largest weight-ROM depth per lane (entries): beyond this no FPGA of ours holds the core.
pub const MAX_ROM_DEPTH: usize = 1 << 20;
/// Memory the core's construction and emission take per weight (an estimate with headroom).
const BYTES_PER_WEIGHT: u64 = 256;

/// How the lanes multiply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Multipliers {
    /// `$signed(a) * $signed(b)` on 16-bit operands: yosys maps it to SB_MAC16 (iCE40,
    /// `synth_ice40 -dsp`) or MULT18X18D (ECP5).
    #[default]
    Dsp,
    /// Shift-and-add in LUTs, at the operands' own widths: no DSP block is used.
    Lut,
    /// The first `dsp_lanes` lanes multiply in DSP blocks, the others in LUTs: a device's
    /// spare logic adds lanes beside its DSPs (`mixed:8` on a UP5K's eight SB_MAC16).
    Mixed {
        /// Lanes with a DSP multiplier (lanes 0 to dsp_lanes − 1).
        dsp_lanes: usize,
    },
}

impl Multipliers {
    /// Widest signed operand this style multiplies.
    pub fn max_operand_bits(self) -> u32 {
        match self {
            Multipliers::Dsp | Multipliers::Lut | Multipliers::Mixed { .. } => 16,
        }
    }

    /// Whether lane `lane` multiplies in a DSP block.
    pub fn uses_dsp(self, lane: usize) -> bool {
        match self {
            Multipliers::Dsp => true,
            Multipliers::Lut => false,
            Multipliers::Mixed { dsp_lanes } => lane < dsp_lanes,
        }
    }

    /// How many of `lanes` lanes use a DSP block.
    pub fn dsp_lanes(self, lanes: usize) -> usize {
        (0..lanes).filter(|&p| self.uses_dsp(p)).count()
    }

    /// The command-line name (`mixed` without its count; [`Display`](std::fmt::Display)
    /// writes `mixed:N`).
    pub fn name(self) -> &'static str {
        match self {
            Multipliers::Dsp => "dsp",
            Multipliers::Lut => "lut",
            Multipliers::Mixed { .. } => "mixed",
        }
    }
}

impl std::fmt::Display for Multipliers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Multipliers::Mixed { dsp_lanes } => write!(f, "mixed:{dsp_lanes}"),
            m => f.write_str(m.name()),
        }
    }
}

impl std::str::FromStr for Multipliers {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "dsp" => Ok(Multipliers::Dsp),
            "lut" => Ok(Multipliers::Lut),
            other => match other.strip_prefix("mixed:").map(str::parse::<usize>) {
                Some(Ok(dsp_lanes)) => Ok(Multipliers::Mixed { dsp_lanes }),
                _ => Err(format!(
                    "unknown multiplier style `{other}` (dsp, lut, or mixed:N for N DSP lanes \
                     and the rest in LUTs)"
                )),
            },
        }
    }
}

/// What the user chooses about a core; everything else comes from the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreOptions {
    /// P, the number of MAC lanes.
    pub lanes: usize,
    /// DSP or LUT multipliers.
    pub multipliers: Multipliers,
}

impl CoreOptions {
    /// P lanes with DSP multipliers.
    pub fn new(lanes: usize) -> Self {
        CoreOptions {
            lanes,
            multipliers: Multipliers::Dsp,
        }
    }
}

/// Why a core cannot be built or run. Nothing is written before these checks pass.
#[derive(Debug, Error)]
pub enum HdlError {
    /// The model itself is invalid.
    #[error("invalid model: {0}")]
    Model(#[from] ModelError),
    /// P = 0.
    #[error("a core needs at least one lane (got --lanes 0)")]
    NoLanes,
    /// P > n: some lanes would own no row.
    #[error("{lanes} lanes but only {rows} hidden rows: at most {rows} lanes (lane p owns rows i ≡ p mod P)")]
    TooManyLanes {
        /// P.
        lanes: usize,
        /// n.
        rows: usize,
    },
    /// More lanes than this build supports.
    #[error("{lanes} lanes is more than the supported {MAX_LANES}")]
    LaneLimit {
        /// P.
        lanes: usize,
    },
    /// An operand is wider than the chosen multiplier takes.
    #[error(
        "{what} is {bits} bits, but {style} multipliers take at most {max}-bit signed operands"
    )]
    OperandTooWide {
        /// Which operand.
        what: &'static str,
        /// Its width.
        bits: u32,
        /// The style's limit.
        max: u32,
        /// The style.
        style: &'static str,
    },
    /// A lane's weight ROM would be absurdly deep.
    #[error(
        "each lane's weight ROM would hold {depth} weights (limit {MAX_ROM_DEPTH}): use more lanes"
    )]
    RomTooDeep {
        /// Entries per lane.
        depth: usize,
    },
    /// Building, simulating or emitting the core would not fit in memory.
    #[error(transparent)]
    Memory(#[from] qornn_sim::memory::MemoryError),
    /// A sequence does not fit the model.
    #[error("input: {0}")]
    Input(String),
    /// The design failed rust-hdl's structural checks (a bug of this crate).
    #[error("rust-hdl rejected the design: {0}")]
    Check(String),
    /// The simulated core stopped making progress.
    #[error("the simulated core is stuck: {0}")]
    Stuck(String),
    /// A file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The reason.
        source: std::io::Error,
    },
}

/// Everything the core's blocks need to know, derived from a validated model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreConfig {
    /// n.
    pub hidden: usize,
    /// m.
    pub input: usize,
    /// d.
    pub output: usize,
    /// P.
    pub lanes: usize,
    /// Multiplier style.
    pub multipliers: Multipliers,
    /// k_w (W and U).
    pub weight_bits: u32,
    /// k_v.
    pub output_weight_bits: u32,
    /// k_a.
    pub activation_bits: u32,
    /// k_x.
    pub input_bits: u32,
    /// A.
    pub accumulator_bits: u32,
    /// A_y.
    pub output_accumulator_bits: u32,
    /// modReLU (else ReLU).
    pub modrelu: bool,
    /// s_w.
    pub w_shift: u32,
    /// s_u.
    pub u_shift: u32,
    /// M.
    pub multiplier: i64,
    /// r.
    pub shift: u32,
}

impl CoreConfig {
    /// Validate `model` and the options, and derive the core's parameters.
    pub fn new(model: &QuantizedModel, opts: &CoreOptions) -> Result<Self, HdlError> {
        model.validate()?;
        let n = model.shape.hidden;
        if opts.lanes == 0 {
            return Err(HdlError::NoLanes);
        }
        if opts.lanes > n {
            return Err(HdlError::TooManyLanes {
                lanes: opts.lanes,
                rows: n,
            });
        }
        if opts.lanes > MAX_LANES {
            return Err(HdlError::LaneLimit { lanes: opts.lanes });
        }
        // Every weight becomes a ROM entry in the simulation and a line of Verilog: about 190
        // bytes each, measured at n = 1024; checked before any of it is allocated.
        let weights = qornn_sim::memory::product(&[n as u64, (n + model.shape.input) as u64])
            .saturating_add((model.shape.output * n) as u64);
        qornn_sim::memory::check(
            &format!("a core for n = {n} ({weights} weights)"),
            weights.saturating_mul(BYTES_PER_WEIGHT),
            "the core bakes every weight into its ROMs: use a smaller model",
        )?;
        let b = model.bits;
        let cfg = CoreConfig {
            hidden: n,
            input: model.shape.input,
            output: model.shape.output,
            lanes: opts.lanes,
            multipliers: opts.multipliers,
            weight_bits: b.weight.get(),
            output_weight_bits: b.output_weight.get(),
            activation_bits: b.activation.get(),
            input_bits: b.input.get(),
            accumulator_bits: b.accumulator.get(),
            output_accumulator_bits: b.output_accumulator.get(),
            modrelu: model.modrelu_bias().is_some(),
            w_shift: model.alignment.w_shift,
            u_shift: model.alignment.u_shift,
            multiplier: model.requant.multiplier,
            shift: model.requant.shift,
        };
        cfg.check_operands()?;
        if cfg.rom_depth() > MAX_ROM_DEPTH {
            return Err(HdlError::RomTooDeep {
                depth: cfg.rom_depth(),
            });
        }
        Ok(cfg)
    }

    /// The operand-width check of the multiplier style.
    pub fn check_operands(&self) -> Result<(), HdlError> {
        let max = self.multipliers.max_operand_bits();
        let style = self.multipliers.name();
        for (what, bits) in [
            ("the weight code (k_w)", self.weight_bits),
            ("the output weight code (k_v)", self.output_weight_bits),
            ("the hidden code (k_a)", self.activation_bits),
            ("the input code (k_x)", self.input_bits),
        ] {
            if bits > max {
                return Err(HdlError::OperandTooWide {
                    what,
                    bits,
                    max,
                    style,
                });
            }
        }
        Ok(())
    }

    /// ⌈n/P⌉: row blocks of the recurrent phase.
    pub fn hidden_blocks(&self) -> usize {
        self.hidden.div_ceil(self.lanes)
    }

    /// ⌈d/P⌉: row blocks of the output phase.
    pub fn output_blocks(&self) -> usize {
        self.output.div_ceil(self.lanes)
    }

    /// Weights per lane ROM: ⌈n/P⌉·(n+m) recurrent, then ⌈d/P⌉·n output weights.
    pub fn rom_depth(&self) -> usize {
        self.hidden_blocks() * (self.hidden + self.input) + self.output_blocks() * self.hidden
    }

    /// Bits of a ROM address.
    pub fn rom_addr_bits(&self) -> usize {
        clog2(self.rom_depth())
    }

    /// Width of a weight as stored (max of k_w, k_v).
    pub fn rom_bits(&self) -> usize {
        self.weight_bits.max(self.output_weight_bits) as usize
    }

    /// Width of a streamed operand (max of k_a, k_x).
    pub fn data_bits(&self) -> usize {
        self.activation_bits.max(self.input_bits) as usize
    }

    /// A lane's accumulator width: max(A, A_y).
    pub fn lane_acc_bits(&self) -> usize {
        self.accumulator_bits.max(self.output_accumulator_bits) as usize
    }

    /// Bits of a lane-count value 0..=P.
    pub fn active_bits(&self) -> usize {
        clog2(self.lanes + 1)
    }

    /// Bits of a row index (hidden or output).
    pub fn row_bits(&self) -> usize {
        clog2(self.hidden.max(self.output))
    }

    /// The ideal cycles per step: ⌈n/P⌉·(n+m) + ⌈d/P⌉·n.
    pub fn ideal_cycles(&self) -> u64 {
        (self.hidden_blocks() * (self.hidden + self.input) + self.output_blocks() * self.hidden)
            as u64
    }

    /// Lanes that own a row in the last recurrent block (n − (⌈n/P⌉−1)·P).
    pub fn last_hidden_lanes(&self) -> usize {
        self.hidden - (self.hidden_blocks() - 1) * self.lanes
    }

    /// Lanes that own a row in the last output block.
    pub fn last_output_lanes(&self) -> usize {
        self.output - (self.output_blocks() - 1) * self.lanes
    }

    /// Idle cycles between the last recurrent token and the first output token. A row of h_t
    /// in lane p of the last block is written into the state buffer
    /// `LANE_STAGES + H_STAGES + 1 + p` clocks after the last recurrent token, and the output
    /// phase reads it `(⌈n/P⌉−1)·P + p` clocks after its start: it must start at least
    /// `LANE_STAGES + H_STAGES + 1 − (⌈n/P⌉−1)·P` clocks after the recurrent phase ends
    /// (earlier blocks are written earlier still). Zero whenever n ≥ P + 17.
    pub fn out_gap(&self) -> u64 {
        (LANE_STAGES + H_STAGES + 1)
            .saturating_sub(((self.hidden_blocks() - 1) * self.lanes) as u64)
    }

    /// The clocks a step takes beyond the ideal (see `docs/core.md`): the gap before the
    /// output phase, the systolic skew of the last output row (it leaves lane L_y − 1), and
    /// the output rows' path: the sequencer's token register, the lane stages and the
    /// post-processor's output stages ([`Y_PATH`] in all).
    pub fn pipeline_depth(&self) -> u64 {
        self.out_gap() + (self.last_output_lanes() - 1) as u64 + Y_PATH
    }

    /// Cycles per step the core takes: ideal + pipeline depth. The core counts it too
    /// (`step_cycles`), and tests check the two agree.
    pub fn cycles_per_step(&self) -> u64 {
        self.ideal_cycles() + self.pipeline_depth()
    }
}

/// Register stages of a lane, from its token register to its result register.
pub const LANE_STAGES: u64 = 6;
pub use crate::requant::{H_STAGES, Y_STAGES};
/// The output rows' fixed path: the sequencer's token register, the lane, the
/// post-processor's output stages.
pub const Y_PATH: u64 = 1 + LANE_STAGES + Y_STAGES;

/// Bits to hold `0..n` (at least 1).
pub fn clog2(n: usize) -> usize {
    let mut b = 1;
    while (1usize << b) < n {
        b += 1;
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use qornn_sim::random::{random_model, RandomSpec};
    use qornn_sim::Shape;

    fn model(n: usize) -> QuantizedModel {
        random_model(&RandomSpec::new(
            Shape {
                hidden: n,
                input: 3,
                output: 2,
            },
            4,
            1,
        ))
    }

    #[test]
    fn lanes_are_checked() {
        let m = model(8);
        assert!(matches!(
            CoreConfig::new(&m, &CoreOptions::new(0)),
            Err(HdlError::NoLanes)
        ));
        assert!(matches!(
            CoreConfig::new(&m, &CoreOptions::new(9)),
            Err(HdlError::TooManyLanes { lanes: 9, rows: 8 })
        ));
        let c = CoreConfig::new(&m, &CoreOptions::new(3)).unwrap();
        assert_eq!((c.hidden_blocks(), c.output_blocks()), (3, 1));
        assert_eq!(c.rom_depth(), 3 * 11 + 8);
        assert_eq!(c.ideal_cycles(), 41);
    }

    #[test]
    fn invalid_models_and_wide_operands_are_refused() {
        let mut m = model(8);
        m.w[0][0] = 1000;
        assert!(matches!(
            CoreConfig::new(&m, &CoreOptions::new(2)),
            Err(HdlError::Model(_))
        ));
        let mut c = CoreConfig::new(&model(8), &CoreOptions::new(2)).unwrap();
        c.activation_bits = 18;
        let e = c.check_operands().unwrap_err();
        assert!(e.to_string().contains("18 bits"), "{e}");
    }

    #[test]
    fn clog2_holds() {
        assert_eq!(clog2(1), 1);
        assert_eq!(clog2(2), 1);
        assert_eq!(clog2(3), 2);
        assert_eq!(clog2(256), 8);
        assert_eq!(clog2(257), 9);
    }
}
