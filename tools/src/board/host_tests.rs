//! The host against a scripted port: the bytes it writes, the answers it reads, its window,
//! and its errors.
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
        packed: false,
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
        frame_hash: 9,
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
    let mut h = host(b"hello, world, this is not a qornn board, not at all!".to_vec());
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

#[test]
fn a_load_frame_is_written_as_documented_and_its_status_read() {
    let payload: Vec<u8> = (0u8..10).collect();
    let mut h = host(vec![b'=']);
    h.load(&payload).unwrap();
    let w = &h.port.written;
    // W, 10 bytes (u32 LE), the payload, the checksum of everything after the W.
    assert_eq!(&w[..5], &[b'W', 10, 0, 0, 0]);
    assert_eq!(&w[5..15], &payload[..]);
    assert_eq!(w[15], 10 + (0..10).sum::<u8>());
    assert_eq!(w.len(), 16);
    let mut h = host(vec![b'!', 1]);
    let e = h.load(&payload).unwrap_err();
    assert!(matches!(e, HostError::Refused(ErrorCode::Checksum)), "{e}");
    assert!(e.is_line_error());
}
