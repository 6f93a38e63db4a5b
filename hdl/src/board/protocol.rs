//! The bytes on the UART (`docs/board.md`): commands, replies, error codes and the sizes of
//! the fixed blocks. The board top's framer and the host runner (`qornn_tools::board`) both
//! read them from here.

/// Protocol version the board tops speak (the identity's third byte). v3 added the weight
/// load (`W`) and the frame hash.
pub const VERSION: u8 = 3;

/// Host → board: one step of a new sequence (v1), answered by y_t.
pub const CMD_START: u8 = b'S';
/// Host → board: one step continuing the sequence (v1), answered by y_t.
pub const CMD_NEXT: u8 = b'X';
/// Host → board: a whole sequence, answered by a credit per step and y_T at the end.
pub const CMD_LAST: u8 = b'L';
/// Host → board: a whole sequence, answered by every y_t.
pub const CMD_ALL: u8 = b'A';
/// Host → board: ask for the identity block.
pub const CMD_IDENTIFY: u8 = b'I';
/// Host → board: ask for the board's cycle counter (6 bytes, little-endian).
pub const CMD_TIMER: u8 = b'T';
/// Host → board: a weight image for a bitstream with run-time weights, framed like a sequence
/// (the count is in bytes), answered by the frame's status.
pub const CMD_LOAD: u8 = b'W';

/// Board → host: one step taken from the FIFO by the core (last-output frames).
pub const REPLY_CREDIT: u8 = b'.';
/// Board → host: the frame's checksum matched; its outputs stand.
pub const REPLY_OK: u8 = b'=';
/// Board → host: the frame failed; an [`ErrorCode`] byte follows.
pub const REPLY_ERROR: u8 = b'!';

/// Bytes of the identity block.
pub const IDENTITY_BYTES: usize = 48;
/// Bytes of the cycle counter.
pub const TIMER_BYTES: usize = 6;
/// Bytes of a frame's header: the command and the step count (u32, little-endian).
pub const FRAME_HEADER_BYTES: usize = 5;

/// Why the board refused a frame (the byte after [`REPLY_ERROR`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The checksum byte did not match the frame's bytes: a byte was corrupted on the line.
    Checksum,
    /// The frame stopped arriving mid-way (a byte was lost): the board gave up on it and reset
    /// the core.
    Timeout,
    /// A frame of zero steps.
    Empty,
    /// More bytes arrived than the FIFO holds: the host ignored its window.
    Overflow,
    /// A code this host does not know.
    Unknown(u8),
}

impl ErrorCode {
    /// The code's byte.
    pub fn byte(self) -> u8 {
        match self {
            ErrorCode::Checksum => 1,
            ErrorCode::Timeout => 2,
            ErrorCode::Empty => 3,
            ErrorCode::Overflow => 4,
            ErrorCode::Unknown(b) => b,
        }
    }

    /// The code a byte stands for.
    pub fn from_byte(b: u8) -> ErrorCode {
        match b {
            1 => ErrorCode::Checksum,
            2 => ErrorCode::Timeout,
            3 => ErrorCode::Empty,
            4 => ErrorCode::Overflow,
            b => ErrorCode::Unknown(b),
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ErrorCode::Checksum => write!(f, "checksum mismatch (a byte was corrupted)"),
            ErrorCode::Timeout => write!(f, "the frame stopped mid-way (a byte was lost)"),
            ErrorCode::Empty => write!(f, "a frame of zero steps"),
            ErrorCode::Overflow => write!(f, "the board's FIFO overflowed"),
            ErrorCode::Unknown(b) => write!(f, "unknown error code {b}"),
        }
    }
}
