//! Boards: the core behind a UART byte stream, and the host that runs sequences through it.
//!
//! The protocol is `docs/board.md` (v2): frames of whole sequences paced by credits, answered
//! with the last or every output and a checksum status; an identity block that ties a
//! bitstream to its model; a cycle counter for timing. [`protocol`] has its bytes,
//! [`verilog`] the board top that speaks it, [`host`] the runner that drives it over a serial
//! port, and [`bridge`] a board simulated under Verilator behind a pseudo-terminal, so the
//! runner is tested exactly as it talks to a USB UART.

pub mod bridge;
pub mod host;
pub mod protocol;
pub mod testbench;

pub use protocol::{bytes_for, decode_outputs, encode_sequence, Identity};
pub use qornn_hdl::board::top::board_top_verilog;
pub use qornn_hdl::board::uart::uart_verilog;
pub use qornn_hdl::board::Link;
pub use testbench::uart_testbench_verilog;

/// A board this project has pin constraints for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Board {
    /// The command-line name.
    pub name: &'static str,
    /// The FPGA target it carries (a `synth::Target` name).
    pub target: &'static str,
    /// The constraints file under `constraints/`.
    pub constraints: &'static str,
    /// Its text, built into the binary (so `qornn synth --board` works from anywhere).
    pub constraints_text: &'static str,
    /// The on-board oscillator (Hz).
    pub clock_hz: u32,
    /// Top-level port names: clock, UART receive (into the FPGA), UART transmit.
    pub ports: (&'static str, &'static str, &'static str),
}

/// Boards with constraints in `constraints/`.
pub const BOARDS: &[Board] = &[
    Board {
        name: "icebreaker",
        target: "ice40-up5k",
        constraints: "icebreaker.pcf",
        constraints_text: include_str!("../../../constraints/icebreaker.pcf"),
        clock_hz: 12_000_000,
        ports: ("CLK", "RX", "TX"),
    },
    Board {
        name: "ulx3s-25f",
        target: "ecp5-25k",
        constraints: "ulx3s.lpf",
        constraints_text: include_str!("../../../constraints/ulx3s.lpf"),
        clock_hz: 25_000_000,
        ports: ("clk_25mhz", "ftdi_txd", "ftdi_rxd"),
    },
];

/// Look a board up by name.
pub fn board(name: &str) -> Option<&'static Board> {
    BOARDS.iter().find(|b| b.name == name)
}

/// Look a board up by name for the command line: an unknown name lists the known ones.
pub fn parse_board(name: &str) -> Result<&'static Board, String> {
    board(name).ok_or_else(|| {
        let all: Vec<&str> = BOARDS.iter().map(|b| b.name).collect();
        format!("unknown board `{name}` (one of: {})", all.join(", "))
    })
}

/// The core's streaming interface; it lives with the core's description in `qornn-hdl`.
pub use qornn_hdl::interface::CorePorts;

/// The board top's module name when the user gives none.
pub const BOARD_TOP: &str = "qornn_top";

/// [`BOARD_TOP`] as a checked module name.
pub fn default_top() -> qornn_hdl::name::ModuleName {
    BOARD_TOP.parse().expect("BOARD_TOP is an identifier")
}

/// The UART line rate when none is chosen (the v1 rate; boards with an FT2232H run 3 Mbaud).
pub const BAUD: u32 = 115_200;

/// Why a board design cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum BoardError {
    /// The core itself.
    #[error(transparent)]
    Hdl(#[from] qornn_hdl::HdlError),
    /// A line rate the clock cannot make.
    #[error("--baud {baud}: {problem}")]
    Baud {
        /// The rate asked for.
        baud: u32,
        /// What is wrong with it and what would work.
        problem: String,
    },
    /// A model too large to describe in the identity block.
    #[error("the board protocol carries sizes up to 65535: {0}")]
    TooLarge(String),
}

/// The link settings chosen at build time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkOptions {
    /// UART line rate.
    pub baud: u32,
    /// Silence, in milliseconds of board time, after which a half-received frame is dropped.
    pub idle_ms: u32,
}

impl Default for LinkOptions {
    fn default() -> Self {
        // 100 ms: longer than any USB UART's latency (an FTDI's timer is 16 ms by default).
        LinkOptions {
            baud: BAUD,
            idle_ms: 100,
        }
    }
}

/// Clock cycles per UART bit for `baud` at `clock_hz`: the nearest whole number, at least 4
/// (the receiver samples mid-bit) and within 2 % of the rate (8N1 leaves about 5 % for both
/// ends together).
pub fn clocks_per_bit(clock_hz: u32, baud: u32) -> Result<u32, BoardError> {
    let fail = |problem: String| BoardError::Baud { baud, problem };
    if baud == 0 {
        return Err(fail("a line rate must be positive".into()));
    }
    let cpb = (clock_hz as u64 + baud as u64 / 2) / baud as u64;
    let mhz = clock_hz as f64 / 1e6;
    if cpb < 4 {
        return Err(fail(format!(
            "at {mhz} MHz the UART needs at least 4 clock cycles per bit: at most {} baud",
            clock_hz / 4
        )));
    }
    let actual = clock_hz as f64 / cpb as f64;
    let error = (actual - baud as f64).abs() / baud as f64;
    if error > 0.02 {
        let near: Vec<String> = [cpb + 1, cpb, cpb - 1]
            .iter()
            .filter(|&&c| c >= 4)
            .map(|&c| format!("{}", clock_hz as u64 / c))
            .collect();
        return Err(fail(format!(
            "at {mhz} MHz the nearest rate is {actual:.0} baud ({:.1} % off; 2 % is the limit): \
             rates this clock makes exactly include {}",
            error * 100.0,
            near.join(", ")
        )));
    }
    Ok(cpb as u32)
}

/// A model's core as a board design, ready for synthesis or simulation.
#[derive(Debug, Clone)]
pub struct BoardDesign {
    /// One Verilog text: the core, the UART and the top.
    pub verilog: String,
    /// The core's configuration.
    pub cfg: qornn_hdl::CoreConfig,
    /// What the bitstream will say it holds.
    pub identity: Identity,
    /// How it talks.
    pub link: Link,
    /// Its clock and UART port names.
    pub pins: (&'static str, &'static str, &'static str),
}

/// The clock and top ports of a design for `board`, or for free pin placement at 12 MHz.
fn clock_and_pins(board: Option<&Board>) -> (u32, (&'static str, &'static str, &'static str)) {
    match board {
        Some(b) => (b.clock_hz, b.ports),
        None => (12_000_000, ("CLK", "RX", "TX")),
    }
}

/// Everything needed to build a model's core as a board design: one Verilog text holding the
/// core, the UART and the top (named `top`), for a board or, without one, for free pin
/// placement at 12 MHz.
pub fn board_design(
    model: &qornn_sim::QuantizedModel,
    opts: &qornn_hdl::CoreOptions,
    board: Option<&Board>,
    top: &str,
    link: LinkOptions,
) -> Result<BoardDesign, BoardError> {
    if let Err(e) = top.parse::<qornn_hdl::name::ModuleName>() {
        return Err(qornn_hdl::HdlError::Check(e.to_string()).into());
    }
    let cfg = qornn_hdl::CoreConfig::new(model, opts)?;
    let core_name = format!("{top}_core");
    let core = qornn_hdl::verilog::emit(model, opts, &core_name)?;
    let ports = CorePorts::qornn_core(&core_name, &cfg);
    let (clock_hz, pins) = clock_and_pins(board);
    let cpb = clocks_per_bit(clock_hz, link.baud)?;
    let idle_cycles =
        (clock_hz as u64 * link.idle_ms as u64 / 1000).clamp(1, u32::MAX as u64) as u32;
    let identity = identity_of(model, &cfg, clock_hz, clock_hz / cpb, idle_cycles)?;
    let link = Link {
        clocks_per_bit: cpb,
        fifo_bytes: Link::FIFO_BYTES,
        idle_cycles,
        identity: identity.encode(),
    };
    let text = format!("{core}\n{}", board_top_verilog(&ports, top, pins, &link));
    Ok(BoardDesign {
        verilog: text,
        cfg,
        identity,
        link,
        pins,
    })
}

/// The identity block of a model's board design.
fn identity_of(
    model: &qornn_sim::QuantizedModel,
    cfg: &qornn_hdl::CoreConfig,
    clock_hz: u32,
    baud: u32,
    idle_cycles: u32,
) -> Result<Identity, BoardError> {
    let small = |what: &str, v: usize| {
        u16::try_from(v).map_err(|_| BoardError::TooLarge(format!("{what} = {v}")))
    };
    let step_bytes = cfg.input * bytes_for(cfg.input_bits);
    Ok(Identity {
        version: protocol::VERSION,
        weights_in_ram: cfg.weights.loaded(),
        packed: cfg.packed,
        hidden: small("n", cfg.hidden)?,
        inputs: small("m", cfg.input)?,
        outputs: small("d", cfg.output)?,
        input_bits: cfg.input_bits as u8,
        output_bits: cfg.output_accumulator_bits as u8,
        window: small(
            "the window",
            protocol::window_for(Link::FIFO_BYTES, step_bytes),
        )?,
        lanes: small("lanes", cfg.lanes)?,
        clock_hz,
        baud,
        cycles_per_step: cfg.cycles_per_step().min(u32::MAX as u64) as u32,
        idle_cycles,
        // SPRAM has no initial contents: the board holds no model until one is loaded
        model_hash: match cfg.weights {
            qornn_hdl::WeightStore::Spram => 0,
            _ => protocol::model_hash(model),
        },
        frame_hash: protocol::frame_hash(cfg),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_board_pins_its_three_ports() {
        for b in BOARDS {
            let (clk, rx, tx) = b.ports;
            for port in [clk, rx, tx] {
                let placed = b.constraints_text.lines().any(|l| {
                    (l.starts_with("set_io") || l.starts_with("LOCATE COMP"))
                        && l.split_whitespace().any(|w| w.trim_matches('"') == port)
                });
                assert!(placed, "{}: no pin for {port}", b.name);
            }
        }
    }

    #[test]
    fn line_rates_are_checked_against_the_clock() {
        assert_eq!(clocks_per_bit(12_000_000, 3_000_000).unwrap(), 4);
        assert_eq!(clocks_per_bit(12_000_000, 115_200).unwrap(), 104);
        assert_eq!(clocks_per_bit(25_000_000, 1_000_000).unwrap(), 25);
        // 25 MHz / 8 is 3.125 Mbaud, 4.2 % off: refused, with rates that work.
        let e = clocks_per_bit(25_000_000, 3_000_000)
            .unwrap_err()
            .to_string();
        assert!(e.contains("4.2 % off") && e.contains("2777777"), "{e}");
        let e = clocks_per_bit(12_000_000, 4_000_000)
            .unwrap_err()
            .to_string();
        assert!(e.contains("at most 3000000 baud"), "{e}");
        assert!(clocks_per_bit(12_000_000, 0).is_err());
    }
}
