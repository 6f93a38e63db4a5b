//! The board top's blocks: the core behind a UART byte stream (`docs/board.md`). The UART
//! ([`uart`]) and the framer ([`framer`]) are native leaves with rust-hdl models; [`top`]
//! wires them to the core.

use protocol::IDENTITY_BYTES;

/// How the board top talks: line rate, FIFO, silence timeout and the identity it reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Clock cycles per UART bit (≥ 4).
    pub clocks_per_bit: u32,
    /// Bytes of the receive FIFO (a power of two; 512 is one iCE40 block RAM).
    pub fifo_bytes: usize,
    /// Cycles of silence mid-frame after which the board abandons the frame.
    pub idle_cycles: u32,
    /// The identity block the board sends on `I`.
    pub identity: [u8; IDENTITY_BYTES],
}

impl Link {
    /// The default FIFO: one iCE40 block RAM (512 × 8).
    pub const FIFO_BYTES: usize = 512;

    /// A link at `clocks_per_bit` with the default FIFO, a silence timeout of 64 bytes' time
    /// (for simulations) and an identity of zeros; boards use [`super::board_design`].
    pub fn for_simulation(clocks_per_bit: u32) -> Link {
        Link {
            clocks_per_bit,
            fifo_bytes: Self::FIFO_BYTES,
            idle_cycles: 640 * clocks_per_bit,
            identity: [0; IDENTITY_BYTES],
        }
    }
}

pub mod framer;
mod framer_verilog;
pub mod protocol;
pub mod top;
pub mod uart;
