//! Ports whose width is chosen at run time (from the model), and fast to simulate.
//!
//! rust-hdl's `Signal<_, Bits<N>>` fixes the width at compile time and stores anything wider
//! than 32 bits as a heap bit vector. The core's widths come from a model file (an accumulator
//! may be 48 bits, `x_data` is m·k_x bits), so its ports are [`Port`]s: a plain `u64` of
//! two's-complement bits (up to 64 bits), or a [`WidePort`]: a vector of 64-bit words (any
//! width). Both implement rust-hdl's `Atom`/`Block`, so the simulator, the VCD writer and the
//! Verilog generator treat them like any other signal; their `bits()` is the run-time width.

use rust_hdl::core::ast::VerilogLiteral;
use rust_hdl::core::atom::{Atom, AtomKind};
use rust_hdl::core::block::Block;
use rust_hdl::core::constraint::PinConstraint;
use rust_hdl::core::direction::Direction;
use rust_hdl::core::logic::Logic;
use rust_hdl::core::probe::Probe;
use rust_hdl::core::signal::get_signal_id;
use rust_hdl::core::synth::VCDValue;
use rust_hdl::core::type_descriptor::{TypeDescriptor, TypeKind};
use std::marker::PhantomData;

/// The mask of the low `width` bits.
#[inline]
pub fn mask(width: usize) -> u64 {
    if width >= 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    }
}

/// The two's-complement bits of `v` at `width` (at most 64).
#[inline]
pub fn to_bits(v: i64, width: usize) -> u64 {
    (v as u64) & mask(width)
}

/// Sign-extend the low `width` bits of `bits`.
#[inline]
pub fn sext(bits: u64, width: usize) -> i64 {
    if width >= 64 {
        bits as i64
    } else {
        let s = 64 - width as u32;
        ((bits << s) as i64) >> s
    }
}

fn vcd_bits(width: usize, bit: impl Fn(usize) -> bool) -> VCDValue {
    let v = |b: bool| {
        if b {
            vcd06::Value::V1
        } else {
            vcd06::Value::V0
        }
    };
    if width == 1 {
        VCDValue::Single(v(bit(0)))
    } else {
        VCDValue::Vector((0..width).rev().map(|i| v(bit(i))).collect())
    }
}

fn descriptor(width: usize) -> TypeDescriptor {
    TypeDescriptor {
        name: format!("Bits::<{width}>"),
        kind: TypeKind::Bits(width),
    }
}

/// A signal of 1 to 64 bits with a run-time width. `next` is written by the driver; `val()`
/// is the settled value (two's-complement bits, masked to the width).
#[derive(Clone, Debug)]
pub struct Port<D: Direction> {
    /// The value being driven this delta cycle.
    pub next: u64,
    val: u64,
    prev: u64,
    changed: bool,
    claimed: bool,
    id: usize,
    width: usize,
    dir: PhantomData<D>,
}

impl<D: Direction> Port<D> {
    /// A port of `width` bits (1..=64), initially 0.
    pub fn new(width: usize) -> Self {
        assert!((1..=64).contains(&width), "a Port has 1 to 64 bits");
        Port {
            next: 0,
            val: 0,
            prev: 0,
            changed: false,
            claimed: false,
            id: get_signal_id(),
            width,
            dir: PhantomData,
        }
    }

    /// A one-bit port.
    pub fn bit() -> Self {
        Self::new(1)
    }

    /// Its width.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The settled bits.
    #[inline]
    pub fn val(&self) -> u64 {
        self.val
    }

    /// The settled value as a signed integer.
    #[inline]
    pub fn val_i64(&self) -> i64 {
        sext(self.val, self.width)
    }

    /// Whether a one-bit port is high.
    #[inline]
    pub fn is_high(&self) -> bool {
        self.val & 1 == 1
    }

    /// Drive a signed value (wrapped to the width).
    #[inline]
    pub fn set_i64(&mut self, v: i64) {
        self.next = to_bits(v, self.width);
    }

    /// Drive raw bits (masked to the width).
    #[inline]
    pub fn set(&mut self, v: u64) {
        self.next = v & mask(self.width);
    }

    /// Drive a one-bit value.
    #[inline]
    pub fn set_bool(&mut self, b: bool) {
        self.next = b as u64;
    }

    /// The value one settle ago (for edge detection).
    pub fn prev(&self) -> u64 {
        self.prev
    }

    /// Mark as driven (rust-hdl's connection check).
    pub fn connect(&mut self) {
        self.claimed = true;
    }
}

impl<D: Direction> Atom for Port<D> {
    fn bits(&self) -> usize {
        self.width
    }
    fn connected(&self) -> bool {
        self.claimed
    }
    fn changed(&self) -> bool {
        self.changed
    }
    fn kind(&self) -> AtomKind {
        D::KIND
    }
    fn descriptor(&self) -> TypeDescriptor {
        descriptor(self.width)
    }
    fn vcd(&self) -> VCDValue {
        vcd_bits(self.width, |i| (self.val >> i) & 1 == 1)
    }
    fn id(&self) -> usize {
        self.id
    }
    fn verilog(&self) -> VerilogLiteral {
        // Only constants use this, and a Port is never a constant.
        VerilogLiteral::from(self.val)
    }
    fn constraints(&self) -> Vec<PinConstraint> {
        vec![]
    }
}

impl<D: Direction> Logic for Port<D> {
    fn update(&mut self) {}
    fn connect(&mut self) {
        self.claimed = true;
    }
}

impl<D: Direction> Block for Port<D> {
    fn connect_all(&mut self) {}
    #[inline]
    fn update_all(&mut self) {
        self.changed = self.val != self.next;
        if self.changed {
            self.prev = self.val;
            self.val = self.next;
        }
    }
    fn has_changed(&self) -> bool {
        self.changed
    }
    fn accept(&self, name: &str, probe: &mut dyn Probe) {
        probe.visit_atom(name, self);
    }
}

/// A signal of any run-time width, packed in 64-bit words (bit 0 of word 0 is bit 0).
/// The core's `x_data`, `y_data` and `h_data` are vectors of codes, element 0 in the low bits.
#[derive(Clone, Debug)]
pub struct WidePort<D: Direction> {
    /// The value being driven this delta cycle.
    pub next: Vec<u64>,
    val: Vec<u64>,
    changed: bool,
    claimed: bool,
    id: usize,
    width: usize,
    dir: PhantomData<D>,
}

impl<D: Direction> WidePort<D> {
    /// A port of `width` bits (at least 1), initially 0.
    pub fn new(width: usize) -> Self {
        assert!(width >= 1, "a WidePort has at least 1 bit");
        let words = width.div_ceil(64);
        WidePort {
            next: vec![0; words],
            val: vec![0; words],
            changed: false,
            claimed: false,
            id: get_signal_id(),
            width,
            dir: PhantomData,
        }
    }

    /// Its width.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The settled words.
    pub fn val(&self) -> &[u64] {
        &self.val
    }

    /// Field `index` of `field_width` bits (at most 64) of the settled value, sign-extended.
    pub fn field(&self, index: usize, field_width: usize) -> i64 {
        sext(
            get_field(&self.val, index * field_width, field_width),
            field_width,
        )
    }

    /// Drive field `index` of `field_width` bits with `v` (wrapped).
    pub fn set_field(&mut self, index: usize, field_width: usize, v: i64) {
        put_field(
            &mut self.next,
            index * field_width,
            field_width,
            to_bits(v, field_width),
        );
    }

    /// Mark as driven (rust-hdl's connection check).
    pub fn connect(&mut self) {
        self.claimed = true;
    }
}

/// `width` bits (at most 64) of `words` starting at bit `lsb`.
pub fn get_field(words: &[u64], lsb: usize, width: usize) -> u64 {
    let (w, b) = (lsb / 64, lsb % 64);
    let lo = words.get(w).copied().unwrap_or(0) >> b;
    let hi = if b > 0 && b + width > 64 {
        words.get(w + 1).copied().unwrap_or(0) << (64 - b)
    } else {
        0
    };
    (lo | hi) & mask(width)
}

/// Write `width` bits (at most 64) of `v` into `words` at bit `lsb`.
pub fn put_field(words: &mut [u64], lsb: usize, width: usize, v: u64) {
    for i in 0..width {
        let bit = lsb + i;
        let (w, b) = (bit / 64, bit % 64);
        if let Some(word) = words.get_mut(w) {
            if (v >> i) & 1 == 1 {
                *word |= 1 << b;
            } else {
                *word &= !(1 << b);
            }
        }
    }
}

impl<D: Direction> Atom for WidePort<D> {
    fn bits(&self) -> usize {
        self.width
    }
    fn connected(&self) -> bool {
        self.claimed
    }
    fn changed(&self) -> bool {
        self.changed
    }
    fn kind(&self) -> AtomKind {
        D::KIND
    }
    fn descriptor(&self) -> TypeDescriptor {
        descriptor(self.width)
    }
    fn vcd(&self) -> VCDValue {
        vcd_bits(self.width, |i| (self.val[i / 64] >> (i % 64)) & 1 == 1)
    }
    fn id(&self) -> usize {
        self.id
    }
    fn verilog(&self) -> VerilogLiteral {
        VerilogLiteral::from(self.val[0])
    }
    fn constraints(&self) -> Vec<PinConstraint> {
        vec![]
    }
}

impl<D: Direction> Logic for WidePort<D> {
    fn update(&mut self) {}
    fn connect(&mut self) {
        self.claimed = true;
    }
}

impl<D: Direction> Block for WidePort<D> {
    fn connect_all(&mut self) {}
    fn update_all(&mut self) {
        self.changed = self.val != self.next;
        if self.changed {
            self.val.clone_from(&self.next);
        }
    }
    fn has_changed(&self) -> bool {
        self.changed
    }
    fn accept(&self, name: &str, probe: &mut dyn Probe) {
        probe.visit_atom(name, self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_hdl::core::direction::{In, Out};

    #[test]
    fn port_wraps_and_sign_extends() {
        let mut p: Port<Out> = Port::new(4);
        p.set_i64(-8);
        p.update_all();
        assert!(p.has_changed());
        assert_eq!((p.val(), p.val_i64()), (8, -8));
        p.set_i64(7);
        p.update_all();
        assert_eq!(p.val_i64(), 7);
        p.update_all();
        assert!(!p.has_changed());
        let mut q: Port<In> = Port::new(64);
        q.set_i64(i64::MIN);
        q.update_all();
        assert_eq!(q.val_i64(), i64::MIN);
    }

    #[test]
    fn wide_fields_cross_words() {
        let mut w: WidePort<Out> = WidePort::new(3 * 48);
        for (k, v) in [(0usize, -1i64), (1, 1 << 46), (2, -(1 << 47))] {
            w.set_field(k, 48, v);
        }
        w.update_all();
        assert_eq!(w.field(0, 48), -1);
        assert_eq!(w.field(1, 48), 1 << 46);
        assert_eq!(w.field(2, 48), -(1 << 47));
        assert_eq!(w.bits(), 144);
    }
}
