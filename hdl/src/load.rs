//! Weights loaded at run time ([`WeightStore::Ram`]): the load image, and the loader that
//! writes it into the core's memories.
//!
//! A core built with RAM weights has a byte-wide load port (`load_valid`, `load_first`,
//! `load_byte`). The image is the concatenation of the memories' words, each in ⌈width/8⌉
//! bytes, little-endian two's complement: lane 0's bank, …, lane P−1's bank (words as
//! [`lane_bank`] lays them out), then b, then β (modReLU only), then c. The byte that raises
//! `load_first` is the image's first; bytes past the image's end are ignored, so a frame may
//! carry a trailer (the board top's model hash).
//!
//! One build serves every model of the same **frame**: everything a [`CoreConfig`] derives
//! from a model other than its weights (shape, widths, activation, alignment shifts, the
//! requantiser's M and r, and the lanes). [`image`] refuses a model of another frame and says
//! which part differs.

use crate::config::{clog2, CoreConfig, HdlError};
use crate::port::{mask, to_bits, Port};
use crate::rom::lane_bank;
use qornn_sim::QuantizedModel;
use rust_hdl::prelude::*;

/// Which memory a segment of the image fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentKind {
    /// Lane p's weight bank.
    Lane(usize),
    /// The bias b.
    Bias,
    /// The modReLU bias β.
    ModreluBias,
    /// The output bias c.
    OutputBias,
}

/// One memory's part of the load image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// The memory.
    pub kind: SegmentKind,
    /// Words.
    pub depth: usize,
    /// Bits per word.
    pub width: usize,
}

impl Segment {
    /// Bytes per word in the image.
    pub fn word_bytes(&self) -> usize {
        self.width.div_ceil(8)
    }
}

/// The image's segments in order.
pub fn segments(cfg: &CoreConfig) -> Vec<Segment> {
    let a = cfg.accumulator_bits as usize;
    let mut s: Vec<Segment> = (0..cfg.lanes)
        .map(|p| Segment {
            kind: SegmentKind::Lane(p),
            depth: cfg.rom_depth(),
            width: cfg.rom_bits(),
        })
        .collect();
    s.push(Segment {
        kind: SegmentKind::Bias,
        depth: cfg.hidden,
        width: a,
    });
    if cfg.modrelu {
        s.push(Segment {
            kind: SegmentKind::ModreluBias,
            depth: cfg.hidden,
            width: a,
        });
    }
    s.push(Segment {
        kind: SegmentKind::OutputBias,
        depth: cfg.output,
        width: cfg.output_accumulator_bits as usize,
    });
    s
}

/// Bytes of the whole image.
pub fn image_bytes(cfg: &CoreConfig) -> usize {
    segments(cfg).iter().map(|s| s.depth * s.word_bytes()).sum()
}

/// What of `b`'s frame differs from `a`'s, one line per field (empty: the same frame).
pub fn frame_differences(a: &CoreConfig, b: &CoreConfig) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = |name: &str, x: String, y: String| {
        if x != y {
            out.push(format!("{name}: {x} in the build, {y} in the model"));
        }
    };
    field(
        "shape (n, m, d)",
        format!("{:?}", (a.hidden, a.input, a.output)),
        format!("{:?}", (b.hidden, b.input, b.output)),
    );
    let widths = |c: &CoreConfig| {
        format!(
            "k_w {} k_v {} k_a {} k_x {} A {} A_y {}",
            c.weight_bits,
            c.output_weight_bits,
            c.activation_bits,
            c.input_bits,
            c.accumulator_bits,
            c.output_accumulator_bits
        )
    };
    field("widths", widths(a), widths(b));
    let act = |c: &CoreConfig| if c.modrelu { "modReLU" } else { "ReLU" }.to_string();
    field("activation", act(a), act(b));
    field(
        "alignment (s_w, s_u)",
        format!("{:?}", (a.w_shift, a.u_shift)),
        format!("{:?}", (b.w_shift, b.u_shift)),
    );
    field(
        "requantiser (M, r)",
        format!("{:?}", (a.multiplier, a.shift)),
        format!("{:?}", (b.multiplier, b.shift)),
    );
    field(
        "lanes",
        format!("{} {}", a.lanes, a.multipliers),
        format!("{} {}", b.lanes, b.multipliers),
    );
    field("packed", a.packed.to_string(), b.packed.to_string());
    out
}

/// The load image of `model` for a core configured as `cfg`: refused when the model's frame
/// differs from the core's.
pub fn image(model: &QuantizedModel, cfg: &CoreConfig) -> Result<Vec<u8>, HdlError> {
    let own = CoreConfig::new(model, &cfg.options())?;
    let diff = frame_differences(cfg, &own);
    if !diff.is_empty() {
        return Err(HdlError::Check(format!(
            "the model's frame differs from the core's: {}",
            diff.join("; ")
        )));
    }
    let mut out = Vec::with_capacity(image_bytes(cfg));
    for seg in segments(cfg) {
        let words: Vec<i64> = match seg.kind {
            SegmentKind::Lane(p) => lane_bank(model, cfg, p),
            SegmentKind::Bias => model.b.clone(),
            SegmentKind::ModreluBias => model.modrelu_bias().unwrap_or_default().to_vec(),
            SegmentKind::OutputBias => model.c.clone(),
        };
        for &w in words.iter().take(seg.depth) {
            let bits = to_bits(w, seg.width);
            out.extend_from_slice(&bits.to_le_bytes()[..seg.word_bytes()]);
        }
    }
    Ok(out)
}

/// The loader (a native leaf): assembles the image's bytes into words and writes each, one
/// clock after its last byte, as `wr_valid` with the segment, address and word.
#[derive(LogicBlock)]
pub struct Loader {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset.
    pub reset: Port<In>,
    /// A byte of the image arrives.
    pub in_valid: Port<In>,
    /// It is the image's first byte.
    pub in_first: Port<In>,
    /// The byte.
    pub in_byte: Port<In>,
    /// A word is written.
    pub wr_valid: Port<Out>,
    /// Its segment (index into [`segments`]).
    pub wr_seg: Port<Out>,
    /// Its address in the segment's memory.
    pub wr_addr: Port<Out>,
    /// The word (low bits; each memory takes its own width).
    pub wr_data: Port<Out>,
    _segs: Vec<Segment>,
    _lanes: usize,
    _seg: usize,
    _addr: usize,
    _idx: usize,
    _word: u64,
}

impl Loader {
    /// The loader of a core configured as `cfg`.
    pub fn new(cfg: &CoreConfig) -> Self {
        let segs = segments(cfg);
        let depth = segs.iter().map(|s| s.depth).max().unwrap_or(1);
        let bytes = segs.iter().map(Segment::word_bytes).max().unwrap_or(1);
        Loader {
            clock: Signal::default(),
            reset: Port::bit(),
            in_valid: Port::bit(),
            in_first: Port::bit(),
            in_byte: Port::new(8),
            wr_valid: Port::bit(),
            wr_seg: Port::new(clog2(segs.len() + 1)),
            wr_addr: Port::new(clog2(depth)),
            wr_data: Port::new(8 * bytes),
            _lanes: cfg.lanes,
            _segs: segs,
            _seg: 0,
            _addr: 0,
            _idx: 0,
            _word: 0,
        }
    }

    /// Segment `seg`'s last byte index within a word and last address; `None` past the end.
    fn limits(&self, seg: usize) -> Option<(usize, usize)> {
        self._segs
            .get(seg)
            .map(|s| (s.word_bytes() - 1, s.depth.max(1) - 1))
    }
}

impl Logic for Loader {
    #[inline]
    fn update(&mut self) {
        if !self.clock.pos_edge() {
            return;
        }
        self.wr_valid.next = 0;
        if self.reset.is_high() {
            (self._seg, self._addr, self._idx, self._word) = (0, 0, 0, 0);
            return;
        }
        if !self.in_valid.is_high() {
            return;
        }
        let first = self.in_first.is_high();
        let (seg, addr, idx) = if first {
            (0, 0, 0)
        } else {
            (self._seg, self._addr, self._idx)
        };
        let Some((byte_last, addr_last)) = self.limits(seg) else {
            // Past the image: a trailer byte, ignored (a first byte always has a segment).
            return;
        };
        let dw = self.wr_data.width();
        let base = if idx == 0 { 0 } else { self._word };
        let word = (base | (self.in_byte.val() << (8 * idx))) & mask(dw);
        if idx == byte_last {
            self.wr_valid.next = 1;
            self.wr_seg.next = seg as u64;
            self.wr_addr.next = addr as u64;
            self.wr_data.next = word;
            (self._idx, self._word) = (0, 0);
            (self._seg, self._addr) = if addr == addr_last {
                (seg + 1, 0)
            } else {
                (seg, addr + 1)
            };
        } else {
            (self._seg, self._addr, self._idx, self._word) = (seg, addr, idx + 1, word);
        }
    }

    fn connect(&mut self) {
        self.wr_valid.connect();
        self.wr_seg.connect();
        self.wr_addr.connect();
        self.wr_data.connect();
    }

    fn hdl(&self) -> Verilog {
        let sb = self.wr_seg.width();
        let ab = self.wr_addr.width();
        let dw = self.wr_data.width();
        // The lanes' segments share their limits; the others each have a case arm.
        let lane = self._segs[0];
        let mut arms = String::new();
        for (i, s) in self._segs.iter().enumerate().skip(self._lanes) {
            arms += &format!(
                "      {sb}'d{i}: begin live = 1; byte_last = 3'd{}; addr_last = {ab}'d{}; end\n",
                s.word_bytes() - 1,
                s.depth.max(1) - 1
            );
        }
        Verilog::Custom(format!(
            "// Weight loader: image bytes into words, one write a clock after a word's last byte.
reg [{sb1}:0] seg;
reg [{ab1}:0] addr;
reg [2:0] idx;
reg [{dw1}:0] word;
initial begin seg = 0; addr = 0; idx = 0; word = 0; wr_valid = 0; wr_seg = 0; wr_addr = 0; wr_data = 0; end
wire [{sb1}:0] cseg = in_first ? {sb}'d0 : seg;
wire [{ab1}:0] caddr = in_first ? {ab}'d0 : addr;
wire [2:0] cidx = in_first ? 3'd0 : idx;
reg live;
reg [2:0] byte_last;
reg [{ab1}:0] addr_last;
always @(*) begin
   if (cseg < {sb}'d{lanes}) begin
      live = 1; byte_last = 3'd{lane_bl}; addr_last = {ab}'d{lane_al};
   end else case (cseg)
{arms}      default: begin live = 0; byte_last = 3'd0; addr_last = {ab}'d0; end
   endcase
end
wire [{dw1}:0] base = cidx == 3'd0 ? {dw}'d0 : word;
wire [{dw1}:0] wnext = base | ({byte_wide} << (cidx * 8));
always @(posedge clock) begin
   wr_valid <= 1'b0;
   if (reset) begin
      seg <= 0; addr <= 0; idx <= 0; word <= 0;
   end else if (in_valid && live) begin
      if (cidx == byte_last) begin
         wr_valid <= 1'b1; wr_seg <= cseg; wr_addr <= caddr; wr_data <= wnext;
         idx <= 3'd0; word <= {dw}'d0;
         if (caddr == addr_last) begin seg <= cseg + {sb}'d1; addr <= {ab}'d0; end
         else begin seg <= cseg; addr <= caddr + {ab}'d1; end
      end else begin
         seg <= cseg; addr <= caddr; idx <= cidx + 3'd1; word <= wnext;
      end
   end
end",
            sb1 = sb - 1,
            ab1 = ab - 1,
            dw1 = dw - 1,
            lanes = self._lanes,
            lane_bl = lane.word_bytes() - 1,
            lane_al = lane.depth.max(1) - 1,
            byte_wide = if dw == 8 {
                "in_byte".to_string()
            } else {
                format!("{{{{{}{{1'b0}}}}, in_byte}}", dw - 8)
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CoreOptions, WeightStore};
    use qornn_sim::random::{random_model, RandomSpec};
    use qornn_sim::Shape;

    fn ram(lanes: usize) -> CoreOptions {
        CoreOptions::new(lanes).with_weights(WeightStore::Ram)
    }

    /// Drive `bytes` into a loader, one every `gap` clocks, collecting its writes.
    fn drive(loader: &mut Loader, bytes: &[u8], gap: usize) -> Vec<(u64, u64, u64)> {
        loader.connect_all();
        let mut writes = Vec::new();
        let clock = |l: &mut Loader, writes: &mut Vec<(u64, u64, u64)>| {
            l.clock.next = Clock { clk: true };
            simulate(l, 10);
            l.clock.next = Clock { clk: false };
            simulate(l, 10);
            if l.wr_valid.is_high() {
                writes.push((l.wr_seg.val(), l.wr_addr.val(), l.wr_data.val()));
            }
        };
        for (i, &b) in bytes.iter().enumerate() {
            loader.in_valid.next = 1;
            loader.in_first.next = (i == 0) as u64;
            loader.in_byte.next = b as u64;
            clock(loader, &mut writes);
            loader.in_valid.next = 0;
            loader.in_first.next = 0;
            for _ in 1..gap {
                clock(loader, &mut writes);
            }
        }
        for _ in 0..2 {
            clock(loader, &mut writes);
        }
        writes
    }

    #[test]
    fn the_image_is_every_memory_in_order_little_endian() {
        // n = 5, m = 2, d = 3, P = 2: banks of 3·7 + 2·5 = 31 one-byte words, then b, c.
        let model = random_model(&RandomSpec::new(Shape::new(5, 2, 3), 4, 3));
        let cfg = CoreConfig::new(&model, &ram(2)).unwrap();
        let img = image(&model, &cfg).unwrap();
        let (a, ay) = (
            cfg.accumulator_bits as usize,
            cfg.output_accumulator_bits as usize,
        );
        let (ab, ayb) = (a.div_ceil(8), ay.div_ceil(8));
        assert_eq!(img.len(), 2 * 31 + 5 * ab + 3 * ayb);
        assert_eq!(img.len(), image_bytes(&cfg));
        // Lane 1's first word is W[1][0]'s 4-bit code.
        assert_eq!(img[31], (model.w[1][0] & 15) as u8);
        // b[1], then c[2], read back from their bytes by hand.
        let word = |at: usize, len: usize, width: usize| {
            let mut raw = [0u8; 8];
            raw[..len].copy_from_slice(&img[at..at + len]);
            let s = 64 - width as u32;
            ((u64::from_le_bytes(raw) << s) as i64) >> s
        };
        assert_eq!(word(62 + ab, ab, a), model.b[1]);
        assert_eq!(word(62 + 5 * ab + 2 * ayb, ayb, ay), model.c[2]);
    }

    #[test]
    fn a_model_of_another_frame_is_refused_with_what_differs() {
        let model = random_model(&RandomSpec::new(Shape::new(6, 2, 2), 4, 3));
        let cfg = CoreConfig::new(&model, &ram(2)).unwrap();
        let mut other = model.clone();
        other.requant.multiplier += 1;
        let e = image(&other, &cfg).unwrap_err().to_string();
        assert!(e.contains("requantiser (M, r)"), "{e}");
        let wider = random_model(&RandomSpec::new(Shape::new(7, 2, 2), 4, 3));
        let e = image(&wider, &cfg).unwrap_err().to_string();
        assert!(
            e.contains("shape (n, m, d): (6, 2, 2) in the build, (7, 2, 2)"),
            "{e}"
        );
    }

    #[test]
    fn the_loader_writes_every_word_where_the_image_says() {
        let spec = RandomSpec {
            modrelu: true,
            ..RandomSpec::new(Shape::new(5, 2, 3), 4, 3)
        };
        let model = random_model(&spec);
        let cfg = CoreConfig::new(&model, &ram(2)).unwrap();
        let img = image(&model, &cfg).unwrap();
        // The reference: each segment's words as the ROM blocks store them.
        let mut want = Vec::new();
        for (i, seg) in segments(&cfg).iter().enumerate() {
            let words: Vec<i64> = match seg.kind {
                SegmentKind::Lane(p) => lane_bank(&model, &cfg, p),
                SegmentKind::Bias => model.b.clone(),
                SegmentKind::ModreluBias => model.modrelu_bias().unwrap().to_vec(),
                SegmentKind::OutputBias => model.c.clone(),
            };
            for (a, &w) in words.iter().enumerate() {
                want.push((i as u64, a as u64, to_bits(w, seg.width)));
            }
        }
        // A trailer after the image is ignored; so is the gap between bytes.
        let mut bytes = img.clone();
        bytes.extend_from_slice(&[0xaa; 8]);
        for gap in [1, 3] {
            let got = drive(&mut Loader::new(&cfg), &bytes, gap);
            let got: Vec<_> = got
                .into_iter()
                .map(|(s, a, d)| (s, a, d & mask(segments(&cfg)[s as usize].width)))
                .collect();
            assert_eq!(got, want, "gap {gap}");
        }
    }
}
