//! The core's parameters, derived from a validated model and the user's choices, and every
//! reason a core cannot be built.

use qornn_sim::{ModelError, QuantizedModel};
use thiserror::Error;

/// Largest number of lanes a core may have.
pub const MAX_LANES: usize = 256;
/// Largest weight-ROM depth per lane (entries): beyond this no FPGA of ours holds the core.
pub const MAX_ROM_DEPTH: usize = 1 << 20;
/// Words of one SB_SPRAM256KA (iCE40 UP5K).
pub const SPRAM_DEPTH: usize = 1 << 14;
/// Bits of an SB_SPRAM256KA word.
pub const SPRAM_WIDTH: usize = 16;
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
    /// Two MACs per DSP block: each lane computes two rows of W and U at once, their weights
    /// packed into the one 16-bit operand of a 16×16 product against the lane's data code
    /// (`docs/core.md`, "Packed lanes"). Needs 2·k_w + k_d ≤ 16 and 2P ≤ n; otherwise the
    /// core falls back to [`Multipliers::Dsp`] ([`CoreConfig::packed`] says which). V rows are
    /// computed one per lane, as with `Dsp`.
    Packed,
}

impl Multipliers {
    /// Widest signed operand this style multiplies.
    pub fn max_operand_bits(self) -> u32 {
        match self {
            Multipliers::Dsp
            | Multipliers::Lut
            | Multipliers::Mixed { .. }
            | Multipliers::Packed => 16,
        }
    }

    /// Whether lane `lane` multiplies in a DSP block.
    pub fn uses_dsp(self, lane: usize) -> bool {
        match self {
            Multipliers::Dsp | Multipliers::Packed => true,
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
            Multipliers::Packed => "packed",
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
            "packed" => Ok(Multipliers::Packed),
            other => match other.strip_prefix("mixed:").map(str::parse::<usize>) {
                Some(Ok(dsp_lanes)) => Ok(Multipliers::Mixed { dsp_lanes }),
                _ => Err(format!(
                    "unknown multiplier style `{other}` (dsp, lut, packed for two rows per DSP, \
                     or mixed:N for N DSP lanes and the rest in LUTs)"
                )),
            },
        }
    }
}

/// Written as its [`Display`](std::fmt::Display) text (`dsp`, `mixed:3`), as configuration
/// files and the command line spell it.
impl serde::Serialize for Multipliers {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Multipliers {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// How a DSP lane's multiplier is written: which cell holds its registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DspCell {
    /// `$signed(a) * $signed(b)` between fabric registers, for yosys to map (SB_MAC16 on
    /// iCE40, MULT18X18D on ECP5): portable, but on ECP5 yosys leaves the registers in the
    /// fabric, so every product crosses the routing to the DSP column and back.
    #[default]
    Inferred,
    /// ECP5's MULT18X18D instantiated by hand with its input and output registers enabled
    /// (`REG_INPUTA/B_CLK`, `REG_OUTPUT_CLK` = CLK0): the same two clocks of latency, timed
    /// inside the block. Simulators get a behavioural model in the same file (hidden from
    /// synthesis by `ifndef SYNTHESIS`, so yosys uses its own cell).
    Mult18x18d,
}

/// Where the weights live: baked into the bitstream, or written at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WeightStore {
    /// W, U, V, b, β and c are ROM contents fixed at build time.
    #[default]
    Rom,
    /// The same memories with a write port, fed by the core's byte-wide load port
    /// ([`crate::load`]): one build serves every model of the same frame (shape, widths,
    /// activation, alignment and requantiser constants). They power up holding the weights of
    /// the model the core was built from.
    Ram,
    /// Run-time weights as [`WeightStore::Ram`], but the lane banks in the UP5K's single-port
    /// SPRAM (SB_SPRAM256KA, 16 k words of 16 bits): ⌊16/s⌋ lanes share one SPRAM, s the bank
    /// word width rounded up to whole nibbles (the SPRAM's write mask), so n = 256 fits at
    /// 4-bit weights. SPRAM has no initial contents: the banks hold zeros until loaded.
    Spram,
}

impl WeightStore {
    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            WeightStore::Rom => "rom",
            WeightStore::Ram => "ram",
            WeightStore::Spram => "spram",
        }
    }

    /// The weights are written at run time through the load port (RAM or SPRAM).
    pub fn loaded(self) -> bool {
        self != WeightStore::Rom
    }
}

impl std::fmt::Display for WeightStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for WeightStore {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "rom" => Ok(WeightStore::Rom),
            "ram" => Ok(WeightStore::Ram),
            "spram" => Ok(WeightStore::Spram),
            other => Err(format!(
                "unknown weight store `{other}` (rom: baked into the bitstream; ram: loaded at \
                 run time; spram: loaded at run time into the UP5K's SPRAM)"
            )),
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
    /// How DSP lanes write their multiplier (chosen from the target device).
    pub dsp: DspCell,
    /// ROM or run-time-loaded weights.
    pub weights: WeightStore,
}

impl CoreOptions {
    /// P lanes with DSP multipliers.
    pub fn new(lanes: usize) -> Self {
        Self::with(lanes, Multipliers::Dsp)
    }

    /// P lanes with the given multipliers.
    pub fn with(lanes: usize, multipliers: Multipliers) -> Self {
        CoreOptions {
            lanes,
            multipliers,
            dsp: DspCell::Inferred,
            weights: WeightStore::Rom,
        }
    }

    /// The same core with DSP lanes written for `dsp`.
    pub fn with_dsp(mut self, dsp: DspCell) -> Self {
        self.dsp = dsp;
        self
    }

    /// The same core with its weights in `weights`.
    pub fn with_weights(mut self, weights: WeightStore) -> Self {
        self.weights = weights;
        self
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
    /// The lane banks do not fit SPRAM.
    #[error("SPRAM weight banks: {0}")]
    Spram(String),
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

/// One memory of the core (or `count` alike): `depth` words of `width` bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// What it holds.
    pub name: &'static str,
    /// How many such memories there are.
    pub count: usize,
    /// Words.
    pub depth: usize,
    /// Bits per word.
    pub width: usize,
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
    /// How DSP lanes write their multiplier.
    pub dsp: DspCell,
    /// ROM or run-time-loaded weights.
    pub weights: WeightStore,
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
    /// Whether the lanes are packed (two W/U rows per lane and DSP): [`Multipliers::Packed`]
    /// asked for and [`packing_fits`] allows it.
    pub packed: bool,
}

/// Guard shift of a packed lane: the low row's product occupies the bits below it. The low
/// weight is stored offset by 2^(k_w−1) (its sign bit inverted: 0..2^k_w − 1), so its product
/// with a k_d-bit code lies strictly within ±2^(k_w+k_d−1): k_w + k_d bits hold it exactly.
pub fn pack_shift(weight_bits: u32, data_bits: u32) -> u32 {
    weight_bits + data_bits
}

/// Why a core of these widths and sizes cannot pack two rows per lane, if it cannot: the
/// packed operand `w_hi·2^S + (w_lo + 2^(k_w−1))` is 2·k_w + k_d bits and must fit the DSP's
/// 16-bit signed port, and the high rows leave a lane P cycles after the low ones, so a block
/// (n + m cycles) must last at least 2P cycles (2P ≤ n).
pub fn packing_fits(
    weight_bits: u32,
    data_bits: u32,
    lanes: usize,
    hidden: usize,
) -> Result<(), String> {
    let operand = weight_bits + pack_shift(weight_bits, data_bits);
    if operand > 16 {
        return Err(format!(
            "two {weight_bits}-bit weights against {data_bits}-bit codes need a \
             {operand}-bit operand (2·k_w + k_d ≤ 16)"
        ));
    }
    if 2 * lanes > hidden {
        return Err(format!(
            "{lanes} lanes of two rows need n ≥ {} (n = {hidden})",
            2 * lanes
        ));
    }
    Ok(())
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
            dsp: opts.dsp,
            weights: opts.weights,
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
            packed: false,
        };
        let cfg = CoreConfig {
            packed: opts.multipliers == Multipliers::Packed
                && packing_fits(cfg.weight_bits, cfg.data_bits() as u32, cfg.lanes, n).is_ok(),
            ..cfg
        };
        cfg.check_operands()?;
        if cfg.rom_depth() > MAX_ROM_DEPTH {
            return Err(HdlError::RomTooDeep {
                depth: cfg.rom_depth(),
            });
        }
        if cfg.weights == WeightStore::Spram {
            cfg.check_spram().map_err(HdlError::Spram)?;
        }
        Ok(cfg)
    }

    /// The options this configuration was built with.
    pub fn options(&self) -> CoreOptions {
        CoreOptions {
            lanes: self.lanes,
            multipliers: self.multipliers,
            dsp: self.dsp,
            weights: self.weights,
        }
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

    /// Rows of a recurrent block: P, or 2P with packed lanes (lane p owns rows b·2P + p and
    /// b·2P + P + p of block b).
    pub fn hidden_block_rows(&self) -> usize {
        if self.packed {
            2 * self.lanes
        } else {
            self.lanes
        }
    }

    /// Why `Packed` multipliers fell back to one row per lane, if they did.
    pub fn packing_refused(&self) -> Option<String> {
        match self.multipliers {
            Multipliers::Packed if !self.packed => packing_fits(
                self.weight_bits,
                self.data_bits() as u32,
                self.lanes,
                self.hidden,
            )
            .err(),
            _ => None,
        }
    }

    /// MACs the lanes do per cycle in the recurrent phase (P, or 2P packed).
    pub fn macs_per_cycle(&self) -> usize {
        self.hidden_block_rows()
    }

    /// ⌈n/R⌉ with R = [`hidden_block_rows`](Self::hidden_block_rows): row blocks of the
    /// recurrent phase.
    pub fn hidden_blocks(&self) -> usize {
        self.hidden.div_ceil(self.hidden_block_rows())
    }

    /// ⌈d/P⌉: row blocks of the output phase.
    pub fn output_blocks(&self) -> usize {
        self.output.div_ceil(self.lanes)
    }

    /// Words per lane ROM: ⌈n/R⌉·(n+m) recurrent (a word holds two weights when packed),
    /// then ⌈d/P⌉·n output weights.
    pub fn rom_depth(&self) -> usize {
        self.hidden_blocks() * (self.hidden + self.input) + self.output_blocks() * self.hidden
    }

    /// Bits of a ROM address.
    pub fn rom_addr_bits(&self) -> usize {
        clog2(self.rom_depth())
    }

    /// Width of a ROM word: max(k_w, k_v), or max(2·k_w, k_v) when packed (the high row's
    /// weight above the low row's).
    pub fn rom_bits(&self) -> usize {
        let w = if self.packed {
            2 * self.weight_bits
        } else {
            self.weight_bits
        };
        w.max(self.output_weight_bits) as usize
    }

    /// Bits of a lane's slot in a shared SPRAM word: the bank word rounded up to whole
    /// nibbles, since SB_SPRAM256KA's write mask has one bit per nibble.
    pub fn spram_slot_bits(&self) -> usize {
        self.rom_bits().div_ceil(4) * 4
    }

    /// Lanes that share one SPRAM: as many slots as its 16-bit word holds.
    pub fn spram_group(&self) -> usize {
        (SPRAM_WIDTH / self.spram_slot_bits()).max(1)
    }

    /// SPRAM blocks of the lane banks (0 unless the weights are in SPRAM).
    pub fn sprams(&self) -> usize {
        match self.weights {
            WeightStore::Spram => self.lanes.div_ceil(self.spram_group()),
            _ => 0,
        }
    }

    /// Why the lane banks cannot live in SPRAM, if they cannot.
    pub fn check_spram(&self) -> Result<(), String> {
        if self.rom_bits() > SPRAM_WIDTH {
            return Err(format!(
                "a bank word of {} bits is wider than the SPRAM's {SPRAM_WIDTH}",
                self.rom_bits()
            ));
        }
        if self.rom_depth() > SPRAM_DEPTH {
            return Err(format!(
                "each lane's bank holds {} words, an SPRAM {SPRAM_DEPTH}: use more lanes",
                self.rom_depth()
            ));
        }
        Ok(())
    }

    /// Lane `lane` multiplies in a hand-instantiated MULT18X18D (a DSP lane, [`DspCell::Mult18x18d`]).
    pub fn mult18x18d_lane(&self, lane: usize) -> bool {
        self.dsp == DspCell::Mult18x18d && self.multipliers.uses_dsp(lane)
    }

    /// Every memory the core declares for block RAM, as the emitted Verilog sizes it: the
    /// lanes' weight banks (unless they are in SPRAM: [`CoreConfig::sprams`]), the ping-pong hidden state, and the post-processor's b, c (and β)
    /// ROMs, each padded to a power of two. What a device's block RAMs must hold
    /// (`qornn model check --target`).
    pub fn memories(&self) -> Vec<Memory> {
        let pow2 = |n: usize| 1usize << clog2(n);
        let a = self.accumulator_bits as usize;
        let mut m = Vec::new();
        if self.weights != WeightStore::Spram {
            m.push(Memory {
                name: "weight banks (one per lane)",
                count: self.lanes,
                depth: self.rom_depth().max(1),
                width: self.rom_bits(),
            });
        }
        m.extend([
            Memory {
                name: "hidden state (two banks)",
                count: 1,
                depth: 2 * pow2(self.hidden),
                width: self.activation_bits as usize,
            },
            Memory {
                name: "bias b",
                count: 1,
                depth: pow2(self.hidden),
                width: a,
            },
            Memory {
                name: "output bias c",
                count: 1,
                depth: pow2(self.output),
                width: self.output_accumulator_bits as usize,
            },
        ]);
        if self.modrelu {
            m.push(Memory {
                name: "modReLU bias β",
                count: 1,
                depth: pow2(self.hidden),
                width: a,
            });
        }
        m
    }

    /// Width of a streamed operand (max of k_a, k_x).
    pub fn data_bits(&self) -> usize {
        self.activation_bits.max(self.input_bits) as usize
    }

    /// A lane's accumulator width: max(A, A_y).
    pub fn lane_acc_bits(&self) -> usize {
        self.accumulator_bits.max(self.output_accumulator_bits) as usize
    }

    /// Bits of a block's row count 0..=R (R = P, or 2P when packed).
    pub fn active_bits(&self) -> usize {
        clog2(self.hidden_block_rows() + 1)
    }

    /// Bits of a row index (hidden or output).
    pub fn row_bits(&self) -> usize {
        clog2(self.hidden.max(self.output))
    }

    /// The ideal cycles per step: ⌈n/R⌉·(n+m) + ⌈d/P⌉·n.
    pub fn ideal_cycles(&self) -> u64 {
        (self.hidden_blocks() * (self.hidden + self.input) + self.output_blocks() * self.hidden)
            as u64
    }

    /// Rows of the last recurrent block (n − (⌈n/R⌉−1)·R).
    pub fn last_hidden_lanes(&self) -> usize {
        self.hidden - (self.hidden_blocks() - 1) * self.hidden_block_rows()
    }

    /// Lanes that own a row in the last output block.
    pub fn last_output_lanes(&self) -> usize {
        self.output - (self.output_blocks() - 1) * self.lanes
    }

    /// Idle cycles between the last recurrent token and the first output token. The row at
    /// position q of the last block (lane p's low row, q = p; packed, its high row, q = P + p,
    /// which leaves the lane P clocks later) is written into the state buffer
    /// `LANE_STAGES + H_STAGES + 1 + q` clocks after the last recurrent token, and the output
    /// phase reads it `(⌈n/R⌉−1)·R + q` clocks after its start: it must start at least
    /// `LANE_STAGES + H_STAGES + 1 − (⌈n/R⌉−1)·R` clocks after the recurrent phase ends
    /// (earlier blocks are written earlier still). Zero whenever n ≥ R + 18.
    pub fn out_gap(&self) -> u64 {
        (LANE_STAGES + H_STAGES + 1)
            .saturating_sub(((self.hidden_blocks() - 1) * self.hidden_block_rows()) as u64)
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
        random_model(&RandomSpec::new(Shape::new(n, 3, 2), 4, 1))
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
    fn packing_needs_room_in_the_operand_and_the_block() {
        assert!(packing_fits(4, 8, 8, 128).is_ok());
        assert!(packing_fits(4, 9, 8, 128)
            .unwrap_err()
            .contains("17-bit operand"));
        assert!(packing_fits(3, 8, 8, 15).unwrap_err().contains("n ≥ 16"));
        assert_eq!(pack_shift(4, 8), 12);
        // n = 16, m = 3, d = 2, 4-bit weights, 8-bit codes, P = 4: blocks of 8 rows.
        let m = random_model(&RandomSpec::new(Shape::new(16, 3, 2), 4, 1));
        let c = CoreConfig::new(&m, &CoreOptions::with(4, Multipliers::Packed)).unwrap();
        assert!(c.packed && c.packing_refused().is_none());
        assert_eq!((c.hidden_block_rows(), c.hidden_blocks()), (8, 2));
        assert_eq!(
            (c.rom_bits(), c.active_bits(), c.macs_per_cycle()),
            (8, 4, 8)
        );
        // ⌈16/8⌉·(16+3) + ⌈2/4⌉·16 against ⌈16/4⌉·19 + 16 unpacked
        assert_eq!(c.ideal_cycles(), 54);
        assert_eq!(c.rom_depth(), 54);
        let plain = CoreConfig::new(&m, &CoreOptions::new(4)).unwrap();
        assert_eq!((plain.ideal_cycles(), plain.rom_bits()), (92, 4));
        // the last block's rows and the gap: n = 20 with P = 4 leaves 4 rows in block 2
        let m = random_model(&RandomSpec::new(Shape::new(20, 1, 2), 4, 1));
        let c = CoreConfig::new(&m, &CoreOptions::with(4, Multipliers::Packed)).unwrap();
        assert_eq!((c.hidden_blocks(), c.last_hidden_lanes()), (3, 4));
        // row 16 is written 6 (lane) + 11 (post-processor) + 1 (RAM) clocks after the last token
        assert_eq!(c.out_gap(), 18 - 16);
        assert_eq!("packed".parse::<Multipliers>(), Ok(Multipliers::Packed));
        assert_eq!(Multipliers::Packed.to_string(), "packed");
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
