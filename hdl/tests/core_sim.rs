//! The rust-hdl core against the golden model: random models (n 4..64, P 1..8 including P not
//! dividing n, every weight width 2–8, activation widths 4–16, ReLU and modReLU, uniform codes
//! with the most negative ones, saturation via gain), every h_t and y_t; cycles per step
//! against the formula; and a core with one flipped weight bit must be caught.

use qornn_hdl::harness::{run, run_core, Outputs};
use qornn_hdl::{CoreConfig, CoreOptions, Multipliers, QornnCore};
use qornn_sim::random::{random_model, random_sequences, RandomSpec, WeightStyle};
use qornn_sim::{Bits, Golden, QuantizedModel, Shape};

/// A small deterministic generator for the sweep's choices.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

fn spec(i: u64, r: &mut Lcg) -> (RandomSpec, usize) {
    let n = 4 + r.next(61) as usize; // 4..=64
    let shape = Shape::new(n, 1 + r.next(4) as usize, 1 + r.next(5) as usize);
    let mut s = RandomSpec::new(shape, 2 + (i % 7) as u32, 1000 + i);
    s.output_weight_bits = Bits::new(2 + r.next(7) as u32);
    s.activation_bits = Bits::new(4 + (i % 13) as u32);
    s.input_bits = Bits::new(2 + r.next(15) as u32);
    s.modrelu = i % 2 == 1;
    s.style = if i.is_multiple_of(3) {
        WeightStyle::Orthogonal
    } else {
        WeightStyle::Uniform
    };
    s.gain = [1.0, 3.0, 20.0][(i % 3) as usize];
    let lanes = 1 + r.next(8.min(n as u64)) as usize;
    (s, lanes)
}

fn compare(model: &QuantizedModel, opts: &CoreOptions, steps: usize, seed: u64) -> Vec<u64> {
    let seqs = random_sequences(model, 2, steps, seed);
    let got = run(model, opts, &seqs, &Outputs::default()).expect("the core runs");
    let golden = Golden::new(model).expect("a valid model");
    for (s, seq) in seqs.iter().enumerate() {
        let want = golden.run(seq);
        if let Some(d) = want.first_difference(&got.traces[s]) {
            panic!(
                "n={} m={} d={} P={} {:?}: sequence {s}: {d} (golden vs core)",
                model.shape.hidden,
                model.shape.input,
                model.shape.output,
                opts.lanes,
                opts.multipliers
            );
        }
    }
    got.step_cycles
}

#[test]
fn random_models_equal_the_golden_model() {
    let mut r = Lcg(7);
    let mut saturated = 0;
    let mut most_negative = 0;
    let mut packed = 0;
    for i in 0..240u64 {
        let (mut s, lanes) = spec(i, &mut r);
        // every fourth core in LUTs, every fourth packed: those get codes narrow enough to
        // pack where their weights allow (2·k_w + k_d ≤ 16); the rest fall back to DSP lanes
        let multipliers = match i % 4 {
            0 => Multipliers::Lut,
            1 => Multipliers::Packed,
            _ => Multipliers::Dsp,
        };
        let room = 16u32.saturating_sub(2 * s.weight_bits.get());
        if multipliers == Multipliers::Packed && room >= 4 {
            s.activation_bits = Bits::new(s.activation_bits.get().min(room));
            s.input_bits = Bits::new(s.input_bits.get().min(room));
        }
        let model = random_model(&s);
        let min_w = s.weight_bits.min_code();
        most_negative += model.w.iter().flatten().any(|&w| w == min_w) as usize;
        let golden = Golden::new(&model).unwrap();
        let seqs = random_sequences(&model, 1, 6, i);
        let t = golden.run(&seqs[0]);
        let max_h = s.activation_bits.max_code() as i32;
        saturated += (0..t.steps()).any(|k| t.h(k).contains(&max_h)) as usize;
        let opts = CoreOptions::with(lanes, multipliers);
        packed += CoreConfig::new(&model, &opts).is_ok_and(|c| c.packed) as usize;
        compare(&model, &opts, 6, i);
    }
    assert!(packed >= 25, "only {packed} cores packed two rows a lane");
    assert!(
        saturated >= 5,
        "only {saturated} models saturate: the sweep lost its teeth"
    );
    assert!(
        most_negative >= 5,
        "only {most_negative} models use the most negative weight"
    );
}

#[test]
fn widest_and_largest_cores_equal_the_golden_model() {
    // n = 64 with P = 8 and P = 7 (not dividing n); 16-bit activations with modReLU.
    for (lanes, modrelu, ka, seed) in [
        (8usize, false, 8u32, 1u64),
        (7, true, 16, 2),
        (3, true, 4, 3),
    ] {
        let mut s = RandomSpec::new(Shape::new(64, 3, 10), 8, seed);
        s.modrelu = modrelu;
        s.activation_bits = Bits::new(ka);
        s.style = WeightStyle::Uniform;
        s.gain = 2.0;
        compare(&random_model(&s), &CoreOptions::new(lanes), 3, seed);
    }
}

#[test]
fn cycles_per_step_follow_the_formula() {
    for (n, m, d, lanes) in [
        (64usize, 1usize, 10usize, 8usize),
        (64, 3, 2, 7),
        (96, 2, 4, 8),
        (10, 2, 3, 3),
    ] {
        let model = random_model(&RandomSpec::new(Shape::new(n, m, d), 4, 5));
        let opts = CoreOptions::new(lanes);
        let cfg = CoreConfig::new(&model, &opts).unwrap();
        let ideal = (n.div_ceil(lanes) * (n + m) + d.div_ceil(lanes) * n) as u64;
        assert_eq!(cfg.ideal_cycles(), ideal);
        let cycles = compare(&model, &opts, 2, 9);
        for &c in &cycles {
            assert_eq!(
                c,
                cfg.cycles_per_step(),
                "n={n} P={lanes}: the core's own count"
            );
        }
        if n >= 64 {
            let over = cycles[0] as f64 / ideal as f64 - 1.0;
            assert!(
                over <= 0.05,
                "n={n} m={m} d={d} P={lanes}: {} cycles per step, {:.1}% over the ideal {ideal}",
                cycles[0],
                100.0 * over
            );
        }
    }
}

#[test]
fn a_flipped_weight_bit_is_caught() {
    let model = random_model(&RandomSpec::new(Shape::new(12, 2, 3), 6, 21));
    let opts = CoreOptions::new(4);
    let seqs = random_sequences(&model, 1, 5, 3);
    let want = Golden::new(&model).unwrap().run(&seqs[0]);
    let clean = run(&model, &opts, &seqs, &Outputs::default()).unwrap();
    assert_eq!(want.first_difference(&clean.traces[0]), None);
    // W[1][0] lives in lane 1 at address 0; flip its sign bit.
    let mut core = QornnCore::new(&model, &opts).unwrap();
    assert!(core.flip_weight_bit(1, 0, 5));
    let broken = run_core(core, &model, &seqs, &Outputs::default()).unwrap();
    let diff = want
        .first_difference(&broken.traces[0])
        .expect("a flipped weight must change the trace");
    // h_0 = 0 hides W at the first step; from then on row 1 (lane 1's first row) differs.
    assert_eq!(diff.index, 1, "{diff}");
}

/// In the rust-hdl RTL dump, `y_ready` (and `x_valid`) are driven between clock edges, as a
/// testbench drives them: never at the timestamp of a rising `clock`, where a VCD reader could
/// not tell whether the edge saw the handshake (issue #16).
#[test]
fn the_rtl_dump_shows_handshakes_settled_before_the_edge() {
    let model = random_model(&RandomSpec::new(Shape::new(6, 1, 2), 4, 5));
    let seqs = random_sequences(&model, 1, 4, 1);
    let dir = tempfile::tempdir().unwrap();
    let vcd = dir.path().join("rtl.vcd");
    run(
        &model,
        &CoreOptions::new(2),
        &seqs,
        &Outputs {
            rtl_vcd: Some(vcd.clone()),
            trace_vcd: None,
        },
    )
    .unwrap();
    let text = std::fs::read_to_string(&vcd).unwrap();
    // The top scope's codes of `clock`, `y_ready` and `x_valid` (first declaration of each).
    let code = |name: &str| -> String {
        text.lines()
            .find_map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                (w.len() >= 5 && w[0] == "$var" && w[4] == name).then(|| w[3].to_string())
            })
            .unwrap_or_else(|| panic!("no {name} in the dump"))
    };
    let (clock, ready, valid) = (code("clock"), code("y_ready"), code("x_valid"));
    let mut rises = (0, 0);
    let mut at_edge = Vec::new();
    for block in text.split("\n#").skip(1) {
        let mut lines = block.lines();
        let time = lines.next().unwrap_or("").to_string();
        let changes: Vec<&str> = lines.collect();
        let rose = |c: &str| changes.iter().any(|l| *l == format!("1{c}"));
        if rose(&ready) {
            rises.0 += 1;
        }
        if rose(&valid) {
            rises.1 += 1;
        }
        if rose(&clock) && (rose(&ready) || rose(&valid)) {
            at_edge.push(time);
        }
    }
    assert!(rises.0 >= 4 && rises.1 >= 4, "handshakes seen: {rises:?}");
    assert!(
        at_edge.is_empty(),
        "handshake inputs change at clock edges: #{at_edge:?}"
    );
}
