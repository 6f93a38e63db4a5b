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

    /// Run one sequence as a frame; returns y_T (`Mode::Last`) or every y_t (`Mode::All`).
    pub fn run(
        &mut self,
        id: &Identity,
        seq: &Sequence,
        mode: Mode,
    ) -> Result<Vec<Vec<i64>>, HostError> {
        let steps = seq.steps();
        let total = u32::try_from(steps).map_err(|_| HostError::Refused(ErrorCode::Empty))?;
        let header = frame_header(mode.command(), total);
        let mut sum = checksum(&header[1..]);
        self.port.write_all(&header)?;
        let yb = bytes_for(id.output_bits as u32);
        let d = id.outputs as usize;
        let window = (id.window as usize).max(1);
        let mut outputs = Vec::with_capacity(if mode == Mode::All { steps } else { 1 });
        let (mut sent, mut acked, mut sealed) = (0usize, 0usize, false);
        let mut chunk = Vec::new();
        let mut y = vec![0u8; d * yb];
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
                        REPLY_ERROR => {
                            let code = self.byte("reading an error code")?;
                            return Err(HostError::Refused(ErrorCode::from_byte(code)));
                        }
                        got => {
                            return Err(HostError::Unexpected {
                                got,
                                expected: "a step credit",
                            })
                        }
                    },
                    Mode::All => {
                        self.bytes(&mut y, "reading y_t")?;
                        outputs.push(y.chunks_exact(yb).map(decode_output).collect());
                        acked += 1;
                    }
                }
            }
        }
        if mode == Mode::Last {
            self.bytes(&mut y, "reading y_T")?;
            outputs.push(y.chunks_exact(yb).map(decode_output).collect());
        }
        match self.byte("reading the frame's status")? {
            REPLY_OK => Ok(outputs),
            REPLY_ERROR => {
                let code = self.byte("reading an error code")?;
                Err(HostError::Refused(ErrorCode::from_byte(code)))
            }
            got => Err(HostError::Unexpected {
                got,
                expected: "the frame's status",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A port that answers from a script: what the host wrote is kept, reads hand out the
    /// script and then time out.
    struct Scripted {
        replies: Vec<u8>,
        at: usize,
        written: Vec<u8>,
        /// Queued after the replies whenever the host writes `I`.
        identity: Option<Vec<u8>>,
    }

    impl Read for Scripted {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.at == self.replies.len() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            // Two bytes at a time, so the host sees answers arrive in pieces.
            let k = buf.len().min(2).min(self.replies.len() - self.at);
            buf[..k].copy_from_slice(&self.replies[self.at..self.at + k]);
            self.at += k;
            Ok(k)
        }
    }

    impl Write for Scripted {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.written.extend_from_slice(buf);
            if let (Some(block), true) = (&self.identity, buf.contains(&CMD_IDENTIFY)) {
                self.replies.extend_from_slice(block);
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn host(replies: Vec<u8>) -> Host<Scripted> {
        Host::new(
            Scripted {
                replies,
                at: 0,
                written: Vec::new(),
                identity: None,
            },
            Duration::from_millis(20),
        )
    }

    fn id(window: u16) -> Identity {
        Identity {
            version: VERSION,
            weights_in_ram: false,
            hidden: 4,
            inputs: 2,
            outputs: 1,
            input_bits: 12,
            output_bits: 12,
            window,
            lanes: 1,
            clock_hz: 12_000_000,
            baud: 3_000_000,
            cycles_per_step: 20,
            idle_cycles: 1000,
            model_hash: 7,
        }
    }

    fn seq() -> Sequence {
        Sequence::from_flat(2, vec![1, -1, 300, -300, 5, 6])
    }

    #[test]
    fn a_last_output_frame_is_written_as_documented_and_its_answer_read() {
        // Three credits, y_T = -2 in two bytes, then OK.
        let mut h = host(vec![b'.', b'.', b'.', 0xfe, 0xff, b'=']);
        let ys = h.run(&id(8), &seq(), Mode::Last).unwrap();
        assert_eq!(ys, vec![vec![-2]]);
        let w = &h.port.written;
        // L, 3 steps (u32 LE), 3 × 2 codes × 2 bytes, checksum of everything after the L.
        assert_eq!(&w[..5], &[b'L', 3, 0, 0, 0]);
        assert_eq!(&w[5..9], &[1, 0, 0xff, 0xff]);
        assert_eq!(&w[9..13], &[0x2c, 0x01, 0xd4, 0xfe]);
        assert_eq!(w.len(), 5 + 12 + 1);
        let sum = w[1..17].iter().fold(0u8, |s, &b| s.wrapping_add(b));
        assert_eq!(w[17], sum);
    }

    #[test]
    fn the_host_keeps_within_its_window() {
        // Window 1: the second step may only go after the first credit. The script holds
        // no credit, so the host must stop after one step and time out waiting.
        let mut h = host(vec![]);
        let e = h.run(&id(1), &seq(), Mode::Last).unwrap_err();
        assert!(matches!(e, HostError::Timeout { .. }), "{e}");
        assert_eq!(h.port.written.len(), 5 + 4, "one step only");
    }

    #[test]
    fn every_output_mode_reads_one_y_per_step() {
        let mut h = host(vec![1, 0, 2, 0, 0xff, 0x0f, b'=']);
        let ys = h.run(&id(8), &seq(), Mode::All).unwrap();
        assert_eq!(ys, vec![vec![1], vec![2], vec![0x0fff]]);
        assert_eq!(h.port.written[0], b'A');
    }

    #[test]
    fn a_refusal_names_its_cause() {
        let mut h = host(vec![b'.', b'!', 2]);
        let e = h.run(&id(8), &seq(), Mode::Last).unwrap_err();
        assert!(matches!(e, HostError::Refused(ErrorCode::Timeout)), "{e}");
        assert!(e.to_string().contains("a byte was lost"), "{e}");
        let mut h = host(vec![b'.', b'.', b'.', 0, 0, b'!', 1]);
        let e = h.run(&id(8), &seq(), Mode::Last).unwrap_err();
        assert!(matches!(e, HostError::Refused(ErrorCode::Checksum)), "{e}");
        let mut h = host(vec![b'?']);
        let e = h.run(&id(8), &seq(), Mode::Last).unwrap_err();
        assert!(matches!(e, HostError::Unexpected { got: b'?', .. }), "{e}");
    }

    #[test]
    fn identify_refuses_a_port_without_a_qornn_board() {
        let mut h = host(b"hello, world, this is not a qornn board!".to_vec());
        let e = h.identify().unwrap_err();
        assert!(matches!(e, HostError::NotQornn(_)), "{e}");
        let mut h = host(id(3).encode().to_vec());
        assert_eq!(h.identify().unwrap(), id(3));
        assert_eq!(h.port.written, vec![b'I']);
    }

    #[test]
    fn resync_drops_stale_bytes_before_identifying() {
        // A timeout abort's `! 2` and half an answer are still on the line.
        let mut h = host(vec![b'!', 2, 0x55, 0x55]);
        h.port.identity = Some(id(3).encode().to_vec());
        assert_eq!(h.resync(Duration::from_millis(5), 2).unwrap(), id(3));
        assert_eq!(h.port.written, vec![b'I']);
        // Without the drain the stale bytes would have been read as the block.
        let mut h = host(vec![b'!', 2]);
        h.port.identity = Some(id(3).encode().to_vec());
        assert!(matches!(h.identify(), Err(HostError::NotQornn(_))));
    }
}
