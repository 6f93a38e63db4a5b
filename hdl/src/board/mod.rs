//! The board top's blocks: the core behind a UART byte stream (`docs/board.md`).

pub mod uart;
