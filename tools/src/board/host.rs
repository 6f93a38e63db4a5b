//! The host side of the protocol over any byte port (a serial port, a pseudo-terminal, a test
//! double): identify, read the cycle counter, run frames paced by the board's credits, and
//! resynchronise after an error. Reads wait at most the port's own timeout; a board that says
//! nothing for that long is a [`HostError::Timeout`].

use super::protocol::*;
use qornn_sim::Sequence;
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

/// What can go wrong talking to a board.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// Nothing arrived for the port's timeout.
    #[error("the board sent nothing for {waited:.1?} while {during}")]
    Timeout {
        /// How long the host waited.
        waited: Duration,
        /// What it was waiting for.
        during: String,
    },
    /// The board refused a frame.
    #[error("the board refused the sequence: {0}")]
    Refused(ErrorCode),
    /// A byte that the protocol does not allow where it came.
    #[error("the board sent {got:#04x} where {expected} was due")]
    Unexpected {
        /// The byte.
        got: u8,
        /// What the host expected.
        expected: &'static str,
    },
    /// A sequence longer than a frame's u32 step count.
    #[error("a sequence of {0} steps is longer than a frame carries (2^32 − 1)")]
    TooLong(usize),
    /// An identity block without the magic: another bitstream, or a port with no board.
    #[error(
        "no qornn board answers here (the identity began {0:02x?}, not \"QR\"): is the bitstream \
         a qornn board top, built with this port's baud rate?"
    )]
    NotQornn(Vec<u8>),
    /// The port itself.
    #[error("serial port: {0}")]
    Io(#[from] io::Error),
}

impl HostError {
    /// Whether a resynchronisation and a retry can cure it (a line error, not a wrong board).
    pub fn is_line_error(&self) -> bool {
        matches!(
            self,
            HostError::Timeout { .. } | HostError::Refused(_) | HostError::Unexpected { .. }
        )
    }
}

/// Which outputs a frame returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Only y_T (sequence classification); the board sends a credit per step.
    Last,
    /// Every y_t; each one is the step's credit.
    All,
}

impl Mode {
    /// Every mode and its command-line name.
    pub const ALL: &'static [(Mode, &'static str)] = &[(Mode::Last, "last"), (Mode::All, "all")];

    /// Its command-line name.
    pub fn name(self) -> &'static str {
        Mode::ALL
            .iter()
            .find(|(m, _)| *m == self)
            .map_or("?", |(_, n)| n)
    }

    fn command(self) -> u8 {
        match self {
            Mode::Last => CMD_LAST,
            Mode::All => CMD_ALL,
        }
    }
}

/// A board behind a byte port.
pub struct Host<P> {
    port: P,
    inbox: Vec<u8>,
    next: usize,
    timeout: Duration,
}

impl<P: Read + Write> Host<P> {
    /// A host on `port`, whose reads time out after `timeout` (as the port was opened with).
    pub fn new(port: P, timeout: Duration) -> Self {
        Host {
            port,
            inbox: Vec::new(),
            next: 0,
            timeout,
        }
    }

    /// Read whatever the port has, waiting up to its timeout for at least one byte.
    fn fill(&mut self, during: &str) -> Result<(), HostError> {
        if self.next == self.inbox.len() {
            self.inbox.clear();
            self.next = 0;
        }
        let mut chunk = [0u8; 4096];
        let start = Instant::now();
        loop {
            match self.port.read(&mut chunk) {
                Ok(0) => {}
                Ok(k) => {
                    self.inbox.extend_from_slice(&chunk[..k]);
                    return Ok(());
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                    ) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
            if start.elapsed() >= self.timeout {
                return Err(HostError::Timeout {
                    waited: start.elapsed(),
                    during: during.to_string(),
                });
            }
        }
    }

    fn byte(&mut self, during: &str) -> Result<u8, HostError> {
        if self.next == self.inbox.len() {
            self.fill(during)?;
        }
        self.next += 1;
        Ok(self.inbox[self.next - 1])
    }

    fn bytes(&mut self, out: &mut [u8], during: &str) -> Result<(), HostError> {
        for b in out.iter_mut() {
            *b = self.byte(during)?;
        }
        Ok(())
    }

    /// The refusal whose `!` was just read: its code, or the line error that stopped it.
    fn refusal(&mut self) -> HostError {
        match self.byte("reading an error code") {
            Ok(code) => HostError::Refused(ErrorCode::from_byte(code)),
            Err(e) => e,
        }
    }

    fn buffered(&self) -> usize {
        self.inbox.len() - self.next
    }

    /// Ask the board what it holds.
    pub fn identify(&mut self) -> Result<Identity, HostError> {
        self.port.write_all(&[CMD_IDENTIFY])?;
        self.port.flush()?;
        let mut b = [0u8; IDENTITY_BYTES];
        self.bytes(&mut b, "reading the identity block")?;
        Identity::decode(&b).ok_or_else(|| HostError::NotQornn(b[..4].to_vec()))
    }

    /// The board's cycle counter.
    pub fn timer(&mut self) -> Result<u64, HostError> {
        self.port.write_all(&[CMD_TIMER])?;
        self.port.flush()?;
        let mut b = [0u8; 8];
        self.bytes(&mut b[..TIMER_BYTES], "reading the cycle counter")?;
        Ok(u64::from_le_bytes(b))
    }

    /// Drop everything the board sends until it has been quiet for `quiet`, then identify:
    /// after an error the board may be mid-frame (it gives up after its idle time, and says
    /// so) or mid-answer. Tries `attempts` times.
    pub fn resync(&mut self, quiet: Duration, attempts: usize) -> Result<Identity, HostError> {
        let mut last = None;
        for _ in 0..attempts.max(1) {
            self.drain(quiet)?;
            match self.identify() {
                Ok(id) => return Ok(id),
                Err(e) if e.is_line_error() || matches!(e, HostError::NotQornn(_)) => {
                    last = Some(e)
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.expect("at least one attempt"))
    }

    /// Discard input until none arrives for `quiet`.
    fn drain(&mut self, quiet: Duration) -> Result<(), HostError> {
        self.inbox.clear();
        self.next = 0;
        let saved = self.timeout;
        self.timeout = quiet;
        let result = loop {
            match self.fill("draining") {
                Ok(()) => {
                    self.inbox.clear();
                    self.next = 0;
                }
                Err(HostError::Timeout { .. }) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        self.timeout = saved;
        result
    }

    /// Send a load frame (`payload`: [`load_payload`]'s image and model hash) and wait for its
    /// status. The board drains its FIFO far faster than the line fills it, so the frame goes
    /// out in one piece.
    pub fn load(&mut self, payload: &[u8]) -> Result<(), HostError> {
        let len = u32::try_from(payload.len()).map_err(|_| HostError::TooLong(payload.len()))?;
        let header = frame_header(CMD_LOAD, len);
        let sum = checksum(&header[1..]).wrapping_add(checksum(payload));
        let mut frame = Vec::with_capacity(payload.len() + FRAME_HEADER_BYTES + 1);
        frame.extend_from_slice(&header);
        frame.extend_from_slice(payload);
        frame.push(sum);
        self.port.write_all(&frame)?;
        self.port.flush()?;
        match self.byte("waiting for the load's status")? {
            REPLY_OK => Ok(()),
            REPLY_ERROR => Err(self.refusal()),
            got => Err(HostError::Unexpected {
                got,
                expected: "the load's status",
            }),
        }
    }

    /// Run one sequence as a frame; returns y_T (`Mode::Last`) or every y_t (`Mode::All`).
    pub fn run(
        &mut self,
        id: &Identity,
        seq: &Sequence,
        mode: Mode,
    ) -> Result<Vec<Vec<i64>>, HostError> {
        let steps = seq.steps();
        let total = u32::try_from(steps).map_err(|_| HostError::TooLong(steps))?;
        let header = frame_header(mode.command(), total);
        let mut sum = checksum(&header[1..]);
        self.port.write_all(&header)?;
        let yb = bytes_for(id.output_bits as u32);
        let window = (id.window as usize).max(1);
        let mut outputs = Vec::with_capacity(if mode == Mode::All { steps } else { 1 });
        let (mut sent, mut acked, mut sealed) = (0usize, 0usize, false);
        let mut chunk = Vec::new();
        let mut y = vec![0u8; id.output_bytes()];
        loop {
            chunk.clear();
            while sent < steps && sent - acked < window {
                encode_step(&mut chunk, seq.step(sent), id.input_bits as u32);
                sent += 1;
            }
            sum = sum.wrapping_add(checksum(&chunk));
            if sent == steps && !sealed {
                chunk.push(sum);
                sealed = true;
            }
            if !chunk.is_empty() {
                self.port.write_all(&chunk)?;
                self.port.flush()?;
            }
            if acked == steps {
                break;
            }
            // Wait for one answer, then take every answer already here.
            let mut first = true;
            while acked < steps && (first || self.buffered() > 0) {
                first = false;
                match mode {
                    Mode::Last => match self.byte("waiting for step credits")? {
                        REPLY_CREDIT => acked += 1,
                        REPLY_ERROR => return Err(self.refusal()),
                        got => {
                            return Err(HostError::Unexpected {
                                got,
                                expected: "a step credit",
                            })
                        }
                    },
                    Mode::All => {
                        self.bytes(&mut y, "reading y_t")?;
                        outputs.push(decode_y(&y, yb));
                        acked += 1;
                    }
                }
            }
        }
        if mode == Mode::Last {
            self.bytes(&mut y, "reading y_T")?;
            outputs.push(decode_y(&y, yb));
        }
        match self.byte("reading the frame's status")? {
            REPLY_OK => Ok(outputs),
            REPLY_ERROR => Err(self.refusal()),
            got => Err(HostError::Unexpected {
                got,
                expected: "the frame's status",
            }),
        }
    }
}

/// One y_t from its bytes (d outputs of `yb` bytes each).
fn decode_y(bytes: &[u8], yb: usize) -> Vec<i64> {
    bytes.chunks_exact(yb).map(decode_output).collect()
}

#[cfg(test)]
#[path = "host_tests.rs"]
mod tests;
