//! Export constants follow docs/fixed-point.md section 7, the integer model validates with the
//! declared widths equal to the required ones, and golden agrees with the fake-quantised
//! float model, also when the W·h sum needs the left shift (image inputs, s_x = 1/255).

use qornn_quant::data;
use qornn_quant::tasks::TaskSpec;
use qornn_quant::train::{Method, TrainConfig, Trainer};
use qornn_sim::width;
use std::io::Write;

fn check_constants(t: &mut Trainer, bits: u32) -> qornn_quant::export::Exported {
    t.prepare_for_export();
    let max_h = t.calibrate().expect("calibrate");
    assert!(max_h > 0.0);
    let exp = t.export(bits, max_h).expect("export");
    let m = &exp.model;
    let s = m.provenance.scales.expect("scales");
    let ratio = s.u * s.x / (s.w * s.h);
    let e = m.alignment.u_shift as i32 - m.alignment.w_shift as i32;
    assert!(
        (ratio - 2f64.powi(e)).abs() < 1e-9 * ratio,
        "{ratio} vs 2^{e}"
    );
    assert!(m.alignment.u_shift == 0 || m.alignment.w_shift == 0);
    // the hidden scale covers the calibrated maximum, within a factor 2
    let top = ((1i64 << (bits - 1)) - 1) as f64;
    assert!(s.h * top >= max_h * (1.0 - 1e-9) && s.h * top < 2.0 * max_h + 1e-12);
    let gain = m.requant.multiplier as f64 / 2f64.powi(m.requant.shift as i32);
    let want = s.w / 2f64.powi(m.alignment.w_shift as i32);
    assert!(
        (gain / want - 1.0).abs() < 1e-4,
        "M/2^r = {gain}, s_W/2^s_w = {want}"
    );
    assert!(
        m.requant.multiplier > (1 << 13),
        "multiplier {} not using its 15 bits",
        m.requant.multiplier
    );
    let rep = width::analyse(m);
    assert_eq!(
        m.bits.accumulator,
        rep.hidden.required.max(qornn_sim::Bits::new(8))
    );
    assert_eq!(
        m.bits.output_accumulator,
        rep.output.required.max(qornn_sim::Bits::new(8))
    );
    m.validate().expect("valid");
    exp
}

#[test]
fn copy_export_constants() {
    let mut c = TrainConfig::new(TaskSpec::Copy { delay: 8 }, Method::SteBjorck, 20);
    c.steps = 50;
    c.eval_every = 50;
    c.batch = 32;
    c.test_limit = 100;
    let mut t = Trainer::new(c).expect("config");
    t.run(|_, _| true, |_, _| true).expect("train");
    for bits in [6, 8, 12, 16] {
        let exp = check_constants(&mut t, bits);
        assert_eq!(exp.model.bits.input.get(), 2);
    }
}

#[test]
fn image_ptq_export_uses_the_w_shift_and_matches_golden() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (prefix, n) in [("train", 64usize), ("t10k", 40)] {
        // class k: a bright band at rows 2k..2k+3, on a noisy background
        let mut imgs = Vec::new();
        let mut labels = Vec::new();
        for i in 0..n {
            let k = i % 10;
            labels.push(k as u8);
            for p in 0..784usize {
                let row = p / 28;
                let v = if row / 2 == k {
                    230
                } else {
                    ((p * 7 + i * 13) % 50) as u8
                };
                imgs.push(v);
            }
        }
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&data::encode_idx(&[n as u32, 28, 28], &imgs))
            .expect("gz");
        std::fs::write(
            dir.path().join(format!("{prefix}-images-idx3-ubyte.gz")),
            e.finish().expect("gz"),
        )
        .expect("write");
        std::fs::write(
            dir.path().join(format!("{prefix}-labels-idx1-ubyte")),
            data::encode_idx(&[n as u32], &labels),
        )
        .expect("write");
    }
    let spec = TaskSpec::Image {
        dir: dir.path().to_owned(),
        permuted: false,
        train_limit: 0,
        test_limit: 0,
    };
    let mut c = TrainConfig::new(spec, Method::Ptq, 16);
    c.steps = 20;
    c.eval_every = 20;
    c.batch = 16;
    c.bits = 6;
    let mut t = Trainer::new(c).expect("config");
    t.run(|_, _| true, |_, _| true).expect("train");
    check_constants(&mut t, 12);
    // at 6 hidden bits the hidden scale is far above s_U·s_x / s_W: W·h is shifted left
    let exp = check_constants(&mut t, 6);
    assert!(exp.model.alignment.w_shift > 0, "{:?}", exp.model.alignment);
    assert_eq!(exp.model.bits.input.get(), 9);
    let rows = t.ptq_table(&[6, 12, 16]).expect("table");
    for r in &rows {
        assert!(
            (r.integer.accuracy - r.fake_quant.accuracy).abs() <= 0.05,
            "{r:?}"
        );
        assert!(
            (r.integer.loss - r.fake_quant.loss).abs() <= 0.05 * r.fake_quant.loss + 0.01,
            "{r:?}"
        );
    }
}

fn tiny_copy(seed: u64) -> Trainer {
    let mut c = TrainConfig::new(TaskSpec::Copy { delay: 8 }, Method::SteBjorck, 16);
    c.steps = 40;
    c.eval_every = 40;
    c.batch = 16;
    c.test_limit = 50;
    c.seed = seed;
    let mut t = Trainer::new(c).expect("config");
    t.run(|_, _| true, |_, _| true).expect("train");
    t.prepare_for_export();
    t
}

/// A model exported into another's frame shares its constants (so it loads into a bitstream
/// built with run-time weights for the other), its W codes are its own W at the frame's step
/// (read back from the two exports' real values, not recomputed), the hidden codes still
/// cover the calibrated max|h|, and a frame of other widths is refused.
#[test]
fn export_into_a_frame_keeps_the_frame_and_the_weights() {
    use qornn_quant::export::Frame;
    let mut a = tiny_copy(1);
    let mut b = tiny_copy(2);
    let (ha, hb) = (a.calibrate().expect("cal"), b.calibrate().expect("cal"));
    let own_a = a.export(12, ha).expect("export a").model;
    let own_b = b.export(12, hb).expect("export b").model;
    let frame = Frame::of(&own_a);
    assert_ne!(Frame::of(&own_b), frame, "two seeds should differ in frame");

    // into its own frame: the same codes (c may move by one code: the frame's W step is
    // M·2^(s_w−r), the model's own is α/2^(k−1), equal to 1e-4)
    let again = a.export_into(12, ha, Some(frame)).expect("into own frame");
    assert_eq!(again.clipped_w, 0);
    let m = &again.model;
    assert_eq!(
        (&m.w, &m.u, &m.v, &m.b),
        (&own_a.w, &own_a.u, &own_a.v, &own_a.b)
    );
    assert!(m.c.iter().zip(&own_a.c).all(|(x, y)| (x - y).abs() <= 1));

    let into = b
        .export_into(12, hb, Some(frame))
        .expect("b into a's frame");
    let m = &into.model;
    m.validate().expect("valid");
    assert_eq!(Frame::of(m), frame);
    let (sf, so) = (
        m.provenance.scales.expect("scales"),
        own_b.provenance.scales.expect("scales"),
    );
    let want_step = frame.requant.multiplier as f64
        * 2f64.powi(frame.alignment.w_shift as i32 - frame.requant.shift as i32);
    assert!((sf.w - want_step).abs() <= 1e-12 * want_step);
    // both codings are within half a step of the same W, except where one of them clipped
    let top = (1i64 << 3) - 1;
    let mut compared = 0;
    for (rf, ro) in m.w.iter().zip(&own_b.w) {
        for (&cf, &co) in rf.iter().zip(ro) {
            if cf.abs() < top && co.abs() < top {
                let gap = (cf as f64 * sf.w - co as f64 * so.w).abs();
                assert!(
                    gap <= (sf.w + so.w) / 2.0 + 1e-12,
                    "{cf}·{} vs {co}·{}",
                    sf.w,
                    so.w
                );
                compared += 1;
            }
        }
    }
    assert!(compared > 16 * 16 / 2, "only {compared} entries compared");
    let hmax = ((1i64 << 11) - 1) as f64;
    assert!(
        sf.h * hmax >= hb * (1.0 - 1e-9),
        "h scale {} for max|h| {hb}",
        sf.h
    );

    let mut other = frame;
    other.bits.activation = qornn_sim::Bits::new(8);
    let err = b
        .export_into(12, hb, Some(other))
        .expect_err("other widths");
    assert!(err.to_string().contains("activation bits"), "{err}");
}
