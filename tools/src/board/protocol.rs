//! The bytes on the UART (`docs/board.md`): commands, the identity block, frames and their
//! checksum, and the decoding of outputs. Pure functions of bytes, shared by the board top's
//! generator (which bakes the identity into the bitstream) and the host runner.

pub use qornn_hdl::board::protocol::*;

/// What a bitstream holds, as its identity block says: enough for a host to refuse a model
/// the bitstream was not built for, and to pace and time its frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Identity {
    /// Protocol version.
    pub version: u8,
    /// Whether W/U/V/bias are RAM written over the UART (else ROM baked into the bitstream).
    pub weights_in_ram: bool,
    /// Whether the lanes hold two rows a word (packed), which the load image's layout follows.
    pub packed: bool,
    /// Hidden units n.
    pub hidden: u16,
    /// Inputs per step m.
    pub inputs: u16,
    /// Outputs d.
    pub outputs: u16,
    /// Input code width k_x.
    pub input_bits: u8,
    /// Output width A_y (each output is sent in ⌈A_y/8⌉ bytes).
    pub output_bits: u8,
    /// Steps a host may send ahead of the credits it has received.
    pub window: u16,
    /// Multiply lanes of the core.
    pub lanes: u16,
    /// The board clock (Hz), which the core and the UART run on.
    pub clock_hz: u32,
    /// The UART line rate.
    pub baud: u32,
    /// Clock cycles the core takes per step (its own rate, without the UART).
    pub cycles_per_step: u32,
    /// Clock cycles of silence after which the board abandons a half-received frame.
    pub idle_cycles: u32,
    /// [`model_hash`] of the model whose weights the board holds: the one it was built from,
    /// or (run-time weights) the one last loaded; 0 while a load is under way or after one
    /// failed.
    pub model_hash: u64,
    /// [`frame_hash`] of the core: what a model must share to be loaded into it.
    pub frame_hash: u64,
}

impl Identity {
    /// The block as the board sends it.
    pub fn encode(&self) -> [u8; IDENTITY_BYTES] {
        let mut b = [0u8; IDENTITY_BYTES];
        b[0] = b'Q';
        b[1] = b'R';
        b[2] = self.version;
        b[3] = self.weights_in_ram as u8 | (self.packed as u8) << 1;
        b[4..6].copy_from_slice(&self.hidden.to_le_bytes());
        b[6..8].copy_from_slice(&self.inputs.to_le_bytes());
        b[8..10].copy_from_slice(&self.outputs.to_le_bytes());
        b[10] = self.input_bits;
        b[11] = self.output_bits;
        b[12..14].copy_from_slice(&self.window.to_le_bytes());
        b[14..16].copy_from_slice(&self.lanes.to_le_bytes());
        b[16..20].copy_from_slice(&self.clock_hz.to_le_bytes());
        b[20..24].copy_from_slice(&self.baud.to_le_bytes());
        b[24..28].copy_from_slice(&self.cycles_per_step.to_le_bytes());
        b[28..32].copy_from_slice(&self.idle_cycles.to_le_bytes());
        b[32..40].copy_from_slice(&self.model_hash.to_le_bytes());
        b[40..48].copy_from_slice(&self.frame_hash.to_le_bytes());
        b
    }

    /// Read a block; `None` when it does not start with the magic `QR`.
    pub fn decode(b: &[u8; IDENTITY_BYTES]) -> Option<Identity> {
        if &b[..2] != b"QR" {
            return None;
        }
        let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let u64_at = |i: usize| {
            let mut h = [0u8; 8];
            h.copy_from_slice(&b[i..i + 8]);
            u64::from_le_bytes(h)
        };
        Some(Identity {
            version: b[2],
            weights_in_ram: b[3] & 1 == 1,
            packed: b[3] & 2 == 2,
            hidden: u16_at(4),
            inputs: u16_at(6),
            outputs: u16_at(8),
            input_bits: b[10],
            output_bits: b[11],
            window: u16_at(12),
            lanes: u16_at(14),
            clock_hz: u32_at(16),
            baud: u32_at(20),
            cycles_per_step: u32_at(24),
            idle_cycles: u32_at(28),
            model_hash: u64_at(32),
            frame_hash: u64_at(40),
        })
    }

    /// Bytes of one y_t.
    pub fn output_bytes(&self) -> usize {
        self.outputs as usize * bytes_for(self.output_bits as u32)
    }

    /// The core's own rate at the board clock (steps/s).
    pub fn core_steps_per_second(&self) -> f64 {
        self.clock_hz as f64 / self.cycles_per_step.max(1) as f64
    }
}

/// Bytes per code of `bits` bits.
pub fn bytes_for(bits: u32) -> usize {
    bits.div_ceil(8) as usize
}

/// The window a FIFO of `fifo_bytes` allows: the steps that fit beside a frame's header and
/// checksum (a host sends the next frame only after the last one's answer, so the header is
/// the oldest byte in the FIFO at worst).
pub fn window_for(fifo_bytes: usize, step_bytes: usize) -> usize {
    fifo_bytes.saturating_sub(FRAME_HEADER_BYTES + 1) / step_bytes.max(1)
}

/// The hash that ties a bitstream to its model: FNV-1a of the model's canonical JSON.
pub fn model_hash(model: &qornn_sim::QuantizedModel) -> u64 {
    let json = serde_json::to_vec(model).expect("a model always serialises");
    crate::fingerprint::fnv1a(&json)
}

/// The hash of a core's frame (`qornn_hdl::load`): shape, widths, activation, alignment,
/// requantiser, lanes and packing — what a model must share with a bitstream of run-time
/// weights to be loaded into it. FNV-1a of a canonical text of those fields.
pub fn frame_hash(cfg: &qornn_hdl::CoreConfig) -> u64 {
    let text = format!(
        "n={} m={} d={} kw={} kv={} ka={} kx={} A={} Ay={} modrelu={} sw={} su={} M={} r={} P={} packed={}",
        cfg.hidden,
        cfg.input,
        cfg.output,
        cfg.weight_bits,
        cfg.output_weight_bits,
        cfg.activation_bits,
        cfg.input_bits,
        cfg.accumulator_bits,
        cfg.output_accumulator_bits,
        cfg.modrelu,
        cfg.w_shift,
        cfg.u_shift,
        cfg.multiplier,
        cfg.shift,
        cfg.lanes,
        cfg.packed
    );
    crate::fingerprint::fnv1a(text.as_bytes())
}

/// The payload of a load frame: the model's weight image for a core configured as `cfg`,
/// then its [`model_hash`] (8 bytes, little-endian), which the board reports once the frame's
/// checksum has matched.
pub fn load_payload(
    model: &qornn_sim::QuantizedModel,
    cfg: &qornn_hdl::CoreConfig,
) -> Result<Vec<u8>, qornn_hdl::HdlError> {
    let mut out = qornn_hdl::load::image(model, cfg)?;
    out.extend_from_slice(&model_hash(model).to_le_bytes());
    Ok(out)
}

/// The checksum byte of a frame: the sum, modulo 256, of its step-count and payload bytes.
pub fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |s, &b| s.wrapping_add(b))
}

/// One step's codes as a frame carries them: each in ⌈k_x/8⌉ bytes, little-endian.
pub fn encode_step(out: &mut Vec<u8>, codes: &[i32], input_bits: u32) {
    for &code in codes {
        push_code(out, code as i64, input_bits);
    }
}

/// One input code in ⌈k_x/8⌉ bytes, little-endian two's complement.
fn push_code(out: &mut Vec<u8>, code: i64, input_bits: u32) {
    out.extend_from_slice(&code.to_le_bytes()[..bytes_for(input_bits)]);
}

/// The header of a frame of `steps` steps (`CMD_LAST` or `CMD_ALL`).
pub fn frame_header(command: u8, steps: u32) -> [u8; FRAME_HEADER_BYTES] {
    let s = steps.to_le_bytes();
    [command, s[0], s[1], s[2], s[3]]
}

/// The v1 exchange: the bytes that run one sequence (of m-code steps), step by step.
pub fn encode_sequence(steps: &[Vec<i64>], input_bits: u32) -> Vec<u8> {
    let mut out = Vec::new();
    for (t, x) in steps.iter().enumerate() {
        out.push(if t == 0 { CMD_START } else { CMD_NEXT });
        for &code in x {
            push_code(&mut out, code, input_bits);
        }
    }
    out
}

/// One output as sent: ⌈A_y/8⌉ bytes, little-endian, sign-extended.
pub fn decode_output(b: &[u8]) -> i64 {
    let mut raw = [0u8; 8];
    raw[..b.len()].copy_from_slice(b);
    let shift = 64 - 8 * b.len() as u32;
    (i64::from_le_bytes(raw) << shift) >> shift
}

/// d outputs per step from the bytes the board sent.
pub fn decode_outputs(bytes: &[u8], outputs: usize, output_bits: u32) -> Vec<Vec<i64>> {
    let yb = bytes_for(output_bits);
    bytes
        .chunks_exact(outputs * yb)
        .map(|step| step.chunks_exact(yb).map(decode_output).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn identity() -> Identity {
        Identity {
            version: VERSION,
            weights_in_ram: true,
            packed: true,
            hidden: 128,
            inputs: 1,
            outputs: 10,
            input_bits: 8,
            output_bits: 20,
            window: 506,
            lanes: 8,
            clock_hz: 12_000_000,
            baud: 3_000_000,
            cycles_per_step: 2_100,
            idle_cycles: 240_000,
            model_hash: 0x0123_4567_89ab_cdef,
            frame_hash: 0xfedc_ba98_7654_3210,
        }
    }

    #[test]
    fn the_identity_block_round_trips_and_is_laid_out_as_documented() {
        let id = identity();
        let b = id.encode();
        assert_eq!(&b[..4], b"QR\x03\x03");
        // n = 128 at bytes 4–5, the hashes' low bytes first at 32 and 40 (docs/board.md's table).
        assert_eq!((b[4], b[5]), (128, 0));
        assert_eq!((b[32], b[40]), (0xef, 0x10));
        assert_eq!(Identity::decode(&b), Some(id));
        let mut bad = b;
        bad[0] = b'X';
        assert_eq!(Identity::decode(&bad), None);
    }

    #[test]
    fn the_window_leaves_room_for_a_header_and_a_checksum() {
        assert_eq!(window_for(512, 1), 506);
        assert_eq!(window_for(512, 4), 126);
        assert_eq!(window_for(4, 1), 0);
    }

    #[test]
    fn v1_steps_round_trip_signed_codes() {
        let bytes = encode_sequence(&[vec![-3, 5], vec![127, -128]], 8);
        assert_eq!(bytes, vec![b'S', 0xfd, 5, b'X', 127, 0x80]);
        let wide = encode_sequence(&[vec![-300]], 12);
        assert_eq!(wide, vec![b'S', 0xd4, 0xfe]);
        let out = decode_outputs(&[0xd4, 0xfe, 0xff, 0x10, 0, 0], 1, 20);
        assert_eq!(out, vec![vec![-300], vec![16]]);
    }

    proptest! {
        #[test]
        fn outputs_decode_to_the_sign_extended_code(bits in 2u32..=40, raw in any::<i64>()) {
            // Any A_y-bit two's-complement value, sent in ⌈A_y/8⌉ bytes.
            let v = (raw << (64 - bits)) >> (64 - bits);
            let yb = bytes_for(bits);
            let bytes = &v.to_le_bytes()[..yb];
            prop_assert_eq!(decode_output(bytes), v);
        }

        #[test]
        fn steps_encode_every_code_in_its_bytes(bits in 2u32..=16, codes in proptest::collection::vec(any::<i16>(), 1..5)) {
            let codes: Vec<i32> = codes.iter().map(|&c| ((c as i32) << (32 - bits)) >> (32 - bits)).collect();
            let mut out = Vec::new();
            encode_step(&mut out, &codes, bits);
            let xb = bytes_for(bits);
            prop_assert_eq!(out.len(), codes.len() * xb);
            for (chunk, &c) in out.chunks(xb).zip(&codes) {
                prop_assert_eq!(decode_output(chunk), c as i64);
            }
        }
    }
}
