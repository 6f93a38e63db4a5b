//! The top of the core: the sequencer, P lanes with their ROM banks, the post-processor and
//! the state buffer, wired together (the wiring is combinational; every block's outputs are
//! registered, so the simulator settles in a few passes per clock edge).
//!
//! Ports (see `docs/core.md` for timing): `clock`, `reset`; `x_valid`, `x_ready`, `x_start`,
//! `x_data` (m·k_x bits); `y_valid`, `y_ready`, `y_data` (d·A_y bits); `h_data` (n·k_a bits,
//! debug: h_t when `y_valid`); `step_cycles` (32 bits: clocks of the last step).

use crate::config::{CoreConfig, CoreOptions, HdlError, WeightStore};
use crate::lane::{Lane, LaneParams};
use crate::load::Loader;
use crate::port::{Port, WidePort};
use crate::requant::{Requant, RequantParams};
use crate::rom::{lane_bank, WeightRom};
use crate::sequencer::Sequencer;
use crate::spram::SpramBank;
use crate::state::HiddenBuffer;
use qornn_sim::QuantizedModel;
use rust_hdl::prelude::*;
use std::fmt::Write as _;

/// The QORNN recurrent core.
#[derive(LogicBlock)]
pub struct QornnCore {
    /// Clock (rising edge).
    pub clock: Signal<In, Clock>,
    /// Synchronous reset, active high: idle, and the next step starts from h = 0.
    pub reset: Port<In>,
    /// x_t is offered on `x_data`.
    pub x_valid: Port<In>,
    /// The core takes x_t at a rising edge where `x_valid & x_ready`.
    pub x_ready: Port<Out>,
    /// With x_t: this step starts a new sequence (h_{t−1} = 0).
    pub x_start: Port<In>,
    /// x_t, m codes of k_x bits, element 0 in the low bits.
    pub x_data: WidePort<In>,
    /// y_t is on `y_data` (and h_t on `h_data`) until a rising edge with `y_ready`.
    pub y_valid: Port<Out>,
    /// The consumer takes y_t.
    pub y_ready: Port<In>,
    /// y_t, d accumulators of A_y bits, element 0 in the low bits.
    pub y_data: WidePort<Out>,
    /// h_t (debug), n codes of k_a bits, element 0 in the low bits.
    pub h_data: WidePort<Out>,
    /// Clocks the last step took, from taking x_t to raising `y_valid`.
    pub step_cycles: Port<Out>,
    /// A byte of a weight image arrives (run-time weights; unused with ROM weights).
    pub load_valid: Port<In>,
    /// It is the image's first byte.
    pub load_first: Port<In>,
    /// The byte ([`crate::load`] has the image's layout).
    pub load_byte: Port<In>,
    /// The schedule and the handshakes.
    pub seq: Sequencer,
    /// The MAC lanes.
    pub lanes: Vec<Lane>,
    /// Each lane's weight ROM bank (none with SPRAM weights).
    pub roms: Vec<WeightRom>,
    /// The SPRAM blocks holding the lane banks ([`WeightStore::Spram`]; otherwise none).
    pub sprams: Vec<SpramBank>,
    /// Bias, activation, requantisation; output bias.
    pub requant: Requant,
    /// The ping-pong hidden state.
    pub hbuf: HiddenBuffer,
    /// The weight loader: one with run-time weights, none with ROM weights.
    pub loader: Vec<Loader>,
    _cfg: CoreConfig,
}

impl QornnCore {
    /// Build the core for `model` (validated here) with the given options.
    pub fn new(model: &QuantizedModel, opts: &CoreOptions) -> Result<Self, HdlError> {
        let cfg = CoreConfig::new(model, opts)?;
        let lanes = (0..cfg.lanes)
            .map(|p| Lane::new(LaneParams::of(&cfg, p)))
            .collect();
        let ram = cfg.weights.loaded();
        let spram = cfg.weights == WeightStore::Spram;
        let group = cfg.spram_group();
        let sprams = (0..cfg.sprams())
            .map(|g| SpramBank::new(&cfg, group.min(cfg.lanes - g * group)))
            .collect();
        let roms = (0..if spram { 0 } else { cfg.lanes })
            .map(|p| {
                let rom = WeightRom::new(
                    &lane_bank(model, &cfg, p),
                    cfg.rom_bits(),
                    cfg.rom_addr_bits(),
                );
                if ram {
                    rom.writable()
                } else {
                    rom
                }
            })
            .collect();
        let requant = Requant::new(RequantParams::of(model, &cfg));
        let requant = if ram { requant.writable() } else { requant };
        let loader = if ram { vec![Loader::new(&cfg)] } else { vec![] };
        let mut core = QornnCore {
            clock: Signal::default(),
            reset: Port::bit(),
            x_valid: Port::bit(),
            x_ready: Port::bit(),
            x_start: Port::bit(),
            x_data: WidePort::new(cfg.input * cfg.input_bits as usize),
            y_valid: Port::bit(),
            y_ready: Port::bit(),
            y_data: WidePort::new(cfg.output * cfg.output_accumulator_bits as usize),
            h_data: WidePort::new(cfg.hidden * cfg.activation_bits as usize),
            step_cycles: Port::new(32),
            load_valid: Port::bit(),
            load_first: Port::bit(),
            load_byte: Port::new(8),
            seq: Sequencer::new(&cfg),
            lanes,
            roms,
            sprams,
            requant,
            hbuf: HiddenBuffer::new(&cfg),
            loader,
            _cfg: cfg,
        };
        core.connect_all();
        Ok(core)
    }

    /// Flip bit `bit` of the weight at `address` of lane `lane`'s ROM (fault injection: tests
    /// use it to prove that the comparisons catch a single wrong weight). Returns false when
    /// there is no such weight.
    pub fn flip_weight_bit(&mut self, lane: usize, address: usize, bit: usize) -> bool {
        if self.sprams.is_empty() {
            self.roms
                .get_mut(lane)
                .is_some_and(|rom| rom.flip_bit(address, bit))
        } else {
            let g = self._cfg.spram_group();
            self.sprams
                .get_mut(lane / g)
                .is_some_and(|s| s.flip_bit(lane % g, address, bit))
        }
    }

    /// The parameters it was built with.
    pub fn config(&self) -> &CoreConfig {
        &self._cfg
    }

    /// The glue, as Verilog (mirrors `update`).
    fn glue_verilog(&self) -> String {
        let p = self.lanes.len();
        let mut v = String::from(
            "// Wiring: token chain, ROM addresses, result OR, state buffer.\nalways @(*) begin\n",
        );
        let mut line = |s: String| {
            v += "   ";
            v += &s;
            v += ";\n";
        };
        for c in ["seq", "requant", "hbuf"] {
            line(format!("{c}$clock = clock"));
            line(format!("{c}$reset = reset"));
        }
        for i in 0..p {
            line(format!("lanes${i}$clock = clock"));
            line(format!("lanes${i}$reset = reset"));
            if self.sprams.is_empty() {
                line(format!("roms${i}$clock = clock"));
            }
        }
        for g in 0..self.sprams.len() {
            line(format!("sprams${g}$clock = clock"));
        }
        for s in ["x_valid", "x_start", "x_data", "y_ready"] {
            line(format!("seq${s} = {s}"));
        }
        line("seq$h_rdata = hbuf$rdata".into());
        for (a, b) in [
            ("rq_valid", "y_valid"),
            ("rq_last", "y_last"),
            ("rq_row", "y_row"),
            ("rq_y", "y_out"),
        ] {
            line(format!("seq${a} = requant${b}"));
        }
        for i in 0..p {
            for f in ["valid", "first", "last", "kind", "data", "addr", "active"] {
                let src = if i == 0 {
                    format!("seq$tok_{f}")
                } else {
                    format!("lanes${}$out_{f}", i - 1)
                };
                line(format!("lanes${i}$in_{f} = {src}"));
            }
            let src = if i == 0 {
                "seq$tok_addr".to_string()
            } else {
                format!("lanes${}$out_addr", i - 1)
            };
            if self.sprams.is_empty() {
                line(format!("roms${i}$address = {src}"));
                line(format!("lanes${i}$weight = roms${i}$data"));
            } else {
                // the group's first lane addresses the SPRAM; the others' slots are delayed
                let (g, slot) = (i / self._cfg.spram_group(), i % self._cfg.spram_group());
                if slot == 0 {
                    line(format!("sprams${g}$address = {src}"));
                }
                line(format!("lanes${i}$weight = sprams${g}$data{slot}"));
            }
        }
        let or = |f: &str| {
            (0..p)
                .map(|i| format!("lanes${i}${f}"))
                .collect::<Vec<_>>()
                .join(" | ")
        };
        line(format!("requant$in_valid = {}", or("res_valid")));
        line(format!("requant$in_acc = {}", or("res_acc")));
        line("hbuf$raddr = seq$h_raddr".into());
        line("hbuf$rbank = seq$h_rbank".into());
        line("hbuf$wbank = seq$h_wbank".into());
        line("hbuf$we = requant$h_valid".into());
        line("hbuf$waddr = requant$h_row".into());
        line("hbuf$wdata = requant$h_out".into());
        self.load_glue(&mut line);
        line("x_ready = seq$x_ready".into());
        line("y_valid = seq$y_valid".into());
        line("y_data = seq$y_data".into());
        line("h_data = hbuf$h_data".into());
        line("step_cycles = seq$step_cycles".into());
        let _ = writeln!(v, "end");
        v
    }
}

impl QornnCore {
    /// The loader's wiring (run-time weights): its writes decoded by segment onto the lane
    /// banks and the post-processor's memories; with ROM weights every write port held low.
    fn load_glue(&self, line: &mut impl FnMut(String)) {
        let rab = self._cfg.rom_addr_bits();
        let Some(loader) = self.loader.first() else {
            for i in 0..self.roms.len() {
                line(format!("roms${i}$we = 1'b0"));
                line(format!("roms${i}$waddr = 0"));
                line(format!("roms${i}$wdata = 0"));
            }
            for f in ["wr_b", "wr_beta", "wr_c", "wr_addr", "wr_data"] {
                line(format!("requant${f} = 0"));
            }
            return;
        };
        let sb = loader.wr_seg.width();
        line("loader$0$clock = clock".into());
        line("loader$0$reset = reset".into());
        for f in ["valid", "first", "byte"] {
            line(format!("loader$0$in_{f} = load_{f}"));
        }
        let seg = |k: usize| format!("(loader$0$wr_seg == {sb}'d{k})");
        let wb = self._cfg.rom_bits();
        for i in 0..self.roms.len() {
            line(format!("roms${i}$we = loader$0$wr_valid & {}", seg(i)));
            line(format!("roms${i}$waddr = loader$0$wr_addr[{}:0]", rab - 1));
            line(format!("roms${i}$wdata = loader$0$wr_data[{}:0]", wb - 1));
        }
        let group = self._cfg.spram_group();
        for (g, bank) in self.sprams.iter().enumerate() {
            for slot in 0..crate::spram::MAX_SLOTS {
                let we = if slot < bank.slots() {
                    format!("loader$0$wr_valid & {}", seg(g * group + slot))
                } else {
                    "1'b0".to_string()
                };
                line(format!("sprams${g}$we{slot} = {we}"));
            }
            line(format!(
                "sprams${g}$waddr = loader$0$wr_addr[{}:0]",
                rab - 1
            ));
            line(format!("sprams${g}$wdata = loader$0$wr_data[{}:0]", wb - 1));
        }
        let (b, beta, c) = self.bias_segments();
        line(format!("requant$wr_b = loader$0$wr_valid & {}", seg(b)));
        match beta {
            Some(k) => line(format!("requant$wr_beta = loader$0$wr_valid & {}", seg(k))),
            None => line("requant$wr_beta = 1'b0".into()),
        }
        line(format!("requant$wr_c = loader$0$wr_valid & {}", seg(c)));
        line(format!(
            "requant$wr_addr = loader$0$wr_addr[{}:0]",
            self.requant.wr_addr.width() - 1
        ));
        line(format!(
            "requant$wr_data = loader$0$wr_data[{}:0]",
            self.requant.wr_data.width() - 1
        ));
    }

    /// The image segments of b, β (modReLU) and c: they follow the P lane banks.
    fn bias_segments(&self) -> (usize, Option<usize>, usize) {
        let p = self.lanes.len();
        if self._cfg.modrelu {
            (p, Some(p + 1), p + 2)
        } else {
            (p, None, p + 1)
        }
    }
}

impl Logic for QornnCore {
    #[inline]
    fn update(&mut self) {
        let clk = self.clock.val();
        let rst = self.reset.val();
        self.seq.clock.next = clk;
        self.seq.reset.next = rst;
        self.requant.clock.next = clk;
        self.requant.reset.next = rst;
        self.hbuf.clock.next = clk;
        self.hbuf.reset.next = rst;
        // Sequencer.
        self.seq.x_valid.next = self.x_valid.val();
        self.seq.x_start.next = self.x_start.val();
        self.seq.x_data.next.clone_from_slice(self.x_data.val());
        self.seq.y_ready.next = self.y_ready.val();
        self.seq.h_rdata.next = self.hbuf.rdata.val();
        self.seq.rq_valid.next = self.requant.y_valid.val();
        self.seq.rq_last.next = self.requant.y_last.val();
        self.seq.rq_row.next = self.requant.y_row.val();
        self.seq.rq_y.next = self.requant.y_out.val();
        // Token chain and ROMs.
        let (mut res_valid, mut res_acc) = (0u64, 0u64);
        for i in 0..self.lanes.len() {
            let (v, f, l, k, d, a, act) = if i == 0 {
                let s = &self.seq;
                (
                    s.tok_valid.val(),
                    s.tok_first.val(),
                    s.tok_last.val(),
                    s.tok_kind.val(),
                    s.tok_data.val(),
                    s.tok_addr.val(),
                    s.tok_active.val(),
                )
            } else {
                let s = &self.lanes[i - 1];
                (
                    s.out_valid.val(),
                    s.out_first.val(),
                    s.out_last.val(),
                    s.out_kind.val(),
                    s.out_data.val(),
                    s.out_addr.val(),
                    s.out_active.val(),
                )
            };
            let we = self
                .loader
                .first()
                .map(|l| (l.wr_valid.val() & (l.wr_seg.val() == i as u64) as u64, l));
            let w = if let Some(rom) = self.roms.get_mut(i) {
                rom.clock.next = clk;
                rom.address.next = a;
                match we {
                    Some((we, l)) => {
                        rom.we.next = we;
                        rom.waddr.set(l.wr_addr.val());
                        rom.wdata.set(l.wr_data.val());
                    }
                    None => rom.we.next = 0,
                }
                rom.data.val()
            } else {
                let group = self._cfg.spram_group();
                let bank = &mut self.sprams[i / group];
                let slot = i % group;
                if slot == 0 {
                    bank.clock.next = clk;
                    bank.address.next = a;
                    for s in bank.slots()..crate::spram::MAX_SLOTS {
                        bank.we(s).next = 0;
                    }
                }
                match we {
                    Some((we, l)) => {
                        bank.we(slot).next = we;
                        bank.waddr.set(l.wr_addr.val());
                        bank.wdata.set(l.wr_data.val());
                    }
                    None => bank.we(slot).next = 0,
                }
                bank.data(slot)
            };
            let lane = &mut self.lanes[i];
            lane.clock.next = clk;
            lane.reset.next = rst;
            lane.in_valid.next = v;
            lane.in_first.next = f;
            lane.in_last.next = l;
            lane.in_kind.next = k;
            lane.in_data.next = d;
            lane.in_addr.next = a;
            lane.in_active.next = act;
            lane.weight.next = w;
            res_valid |= lane.res_valid.val();
            res_acc |= lane.res_acc.val();
        }
        // The loader and the post-processor's write ports.
        let (b, beta, c) = self.bias_segments();
        if let Some(l) = self.loader.first_mut() {
            l.clock.next = clk;
            l.reset.next = rst;
            l.in_valid.next = self.load_valid.val();
            l.in_first.next = self.load_first.val();
            l.in_byte.next = self.load_byte.val();
            let (v, s) = (l.wr_valid.val(), l.wr_seg.val());
            let rq = &mut self.requant;
            rq.wr_b.next = v & (s == b as u64) as u64;
            rq.wr_beta.next = v & beta.is_some_and(|k| s == k as u64) as u64;
            rq.wr_c.next = v & (s == c as u64) as u64;
            rq.wr_addr.set(l.wr_addr.val());
            rq.wr_data.set(l.wr_data.val());
        }
        // Post-processor and state buffer.
        let rq = &mut self.requant;
        rq.in_valid.next = res_valid;
        rq.in_acc.next = res_acc;
        self.hbuf.raddr.next = self.seq.h_raddr.val();
        self.hbuf.rbank.next = self.seq.h_rbank.val();
        self.hbuf.wbank.next = self.seq.h_wbank.val();
        self.hbuf.we.next = rq.h_valid.val();
        self.hbuf.waddr.next = rq.h_row.val();
        self.hbuf.wdata.next = rq.h_out.val();
        // Outputs.
        self.x_ready.next = self.seq.x_ready.val();
        self.y_valid.next = self.seq.y_valid.val();
        self.y_data.next.clone_from_slice(self.seq.y_data.val());
        self.h_data.next.clone_from_slice(self.hbuf.h_data.val());
        self.step_cycles.next = self.seq.step_cycles.val();
    }

    fn connect(&mut self) {
        self.seq.clock.connect();
        self.requant.clock.connect();
        self.hbuf.clock.connect();
        for p in [
            &mut self.seq.reset,
            &mut self.seq.x_valid,
            &mut self.seq.x_start,
            &mut self.seq.y_ready,
            &mut self.seq.h_rdata,
            &mut self.seq.rq_valid,
            &mut self.seq.rq_last,
            &mut self.seq.rq_row,
            &mut self.seq.rq_y,
            &mut self.requant.reset,
            &mut self.requant.in_valid,
            &mut self.requant.in_acc,
            &mut self.hbuf.reset,
            &mut self.hbuf.raddr,
            &mut self.hbuf.rbank,
            &mut self.hbuf.we,
            &mut self.hbuf.wbank,
            &mut self.hbuf.waddr,
            &mut self.hbuf.wdata,
        ] {
            p.connect();
        }
        self.x_ready.connect();
        self.y_valid.connect();
        self.step_cycles.connect();
        self.seq.x_data.connect();
        self.y_data.connect();
        self.h_data.connect();
        for lane in &mut self.lanes {
            lane.clock.connect();
            for p in [
                &mut lane.reset,
                &mut lane.in_valid,
                &mut lane.in_first,
                &mut lane.in_last,
                &mut lane.in_kind,
                &mut lane.in_data,
                &mut lane.in_addr,
                &mut lane.in_active,
                &mut lane.weight,
            ] {
                p.connect();
            }
        }
        for bank in &mut self.sprams {
            bank.clock.connect();
            for p in [
                &mut bank.address,
                &mut bank.we0,
                &mut bank.we1,
                &mut bank.we2,
                &mut bank.we3,
                &mut bank.waddr,
                &mut bank.wdata,
            ] {
                p.connect();
            }
        }
        for rom in &mut self.roms {
            rom.clock.connect();
            rom.address.connect();
            rom.we.connect();
            rom.waddr.connect();
            rom.wdata.connect();
        }
        for p in [
            &mut self.requant.wr_b,
            &mut self.requant.wr_beta,
            &mut self.requant.wr_c,
            &mut self.requant.wr_addr,
            &mut self.requant.wr_data,
        ] {
            p.connect();
        }
        for l in &mut self.loader {
            l.clock.connect();
            for p in [
                &mut l.reset,
                &mut l.in_valid,
                &mut l.in_first,
                &mut l.in_byte,
            ] {
                p.connect();
            }
        }
    }

    fn hdl(&self) -> Verilog {
        Verilog::Custom(self.glue_verilog())
    }
}

#[cfg(test)]
mod tests {
    use crate::harness::{run, Outputs};
    use crate::{CoreOptions, Multipliers};
    use qornn_sim::random::{random_model, random_sequences, RandomSpec, WeightStyle};
    use qornn_sim::{Bits, Golden, Shape};

    fn check(spec: &RandomSpec, lanes: usize, steps: usize) {
        let model = random_model(spec);
        let seqs = random_sequences(&model, 2, steps, spec.seed);
        let golden = Golden::new(&model).unwrap();
        for mul in [Multipliers::Dsp, Multipliers::Lut] {
            let opts = CoreOptions::with(lanes, mul);
            let got = run(&model, &opts, &seqs, &Outputs::default()).unwrap();
            for (s, seq) in seqs.iter().enumerate() {
                let want = golden.run(seq);
                if let Some(d) = want.first_difference(&got.traces[s]) {
                    panic!("{spec:?} P={lanes}: sequence {s}: {d} (golden vs core)");
                }
            }
        }
    }

    #[test]
    fn small_cores_equal_the_golden_model() {
        let shape = Shape::new(6, 2, 3);
        let mut spec = RandomSpec::new(shape, 4, 11);
        check(&spec, 1, 4);
        check(&spec, 4, 4);
        spec.modrelu = true;
        spec.style = WeightStyle::Uniform;
        spec.gain = 4.0;
        spec.activation_bits = Bits::new(5);
        check(&spec, 6, 4);
    }
}
