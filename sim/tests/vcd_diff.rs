//! `vcd_diff` on traces whose differences are known from another path (the golden traces
//! compared in memory), on a hardware-style VCD with other names and timing, and on corrupt
//! files.

use proptest::prelude::*;
use qornn_sim::random::{random_model, random_sequences, RandomSpec};
use qornn_sim::trace::{self, Signal};
use qornn_sim::vcd_diff::{diff, wildcard, Align, DiffOptions, Outcome, VcdError};
use qornn_sim::{Golden, QuantizedModel, Sequence, Shape, Trace};
use std::io::Write;
use std::path::Path;

fn model(seed: u64) -> QuantizedModel {
    random_model(&RandomSpec::new(
        Shape {
            hidden: 12,
            input: 2,
            output: 3,
        },
        4,
        seed,
    ))
}

fn golden_vcd(model: &QuantizedModel, seqs: &[Sequence]) -> (Vec<u8>, Vec<Trace>) {
    let traces = Golden::new(model).unwrap().run_batch(seqs, 1);
    let mut out = Vec::new();
    trace::write_vcd(&mut out, model, seqs, &traces).unwrap();
    (out, traces)
}

fn run(a: &[u8], b: &[u8], opts: &DiffOptions) -> Result<Outcome, VcdError> {
    diff(a, Path::new("a.vcd"), b, Path::new("b.vcd"), opts)
}

#[test]
fn a_trace_equals_itself() {
    let m = model(1);
    let seqs = random_sequences(&m, 3, 40, 2);
    let (vcd, _) = golden_vcd(&m, &seqs);
    match run(&vcd, &vcd, &DiffOptions::default()).unwrap() {
        Outcome::Equal { samples, signals } => {
            assert_eq!(samples, 120);
            assert_eq!(signals.len(), 2 + 2 + 12 + 3); // seq, step, x, h, y
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_flipped_weight_bit_is_found_at_the_right_step_and_signal() {
    let m = model(3);
    let seqs = random_sequences(&m, 1, 200, 4);
    let (good, good_traces) = golden_vcd(&m, &seqs);
    for (i, j) in [(0, 0), (5, 7), (11, 3)] {
        let mut bad_model = m.clone();
        bad_model.w[i][j] ^= 1; // flip the low bit: stays a valid 4-bit code
        let (bad, bad_traces) = golden_vcd(&bad_model, &seqs);
        let want = good_traces[0]
            .first_difference(&bad_traces[0])
            .expect("the flip changes the trace");
        let opts = DiffOptions {
            signals: vec!["h_*".into(), "y_*".into()],
            ..DiffOptions::default()
        };
        match run(&good, &bad, &opts).unwrap() {
            Outcome::Different(mm) => {
                assert_eq!(mm.sample, want.step as u64, "flip W[{i}][{j}]");
                let prefix = if want.signal == Signal::Hidden {
                    "h"
                } else {
                    "y"
                };
                // The VCD names signals in declaration order: h before y, low index first, as
                // first_difference scans; the first differing one must be the same signal.
                assert_eq!(mm.signal, format!("qornn.{prefix}_{}", want.index));
                assert_eq!(mm.values.0.as_signed(), Some(want.left));
                assert_eq!(mm.values.1.as_signed(), Some(want.right));
                assert_eq!(mm.context.last().unwrap().0, mm.sample);
                assert!(mm.context.len() <= 4);
            }
            other => panic!("flip W[{i}][{j}] not found: {other:?}"),
        }
    }
}

/// Write the trace as a hardware simulator would: nested scopes with `$`, bus ranges, a clock,
/// `valid` rising some cycles into each step, values changing between strobes, vectors written
/// with their leading zeros dropped.
fn hardware_style_vcd(model: &QuantizedModel, seqs: &[Sequence], traces: &[Trace]) -> Vec<u8> {
    let mut out = Vec::new();
    let n = model.shape.hidden;
    let ka = model.bits.activation.get() as usize;
    writeln!(
        out,
        "$timescale 1ps $end\n$scope module TOP $end\n$scope module core$lanes $end"
    )
    .unwrap();
    writeln!(out, "$var wire 1 ! clock $end\n$var reg 1 \" valid $end").unwrap();
    for i in 0..n {
        writeln!(out, "$var reg {ka} h{i} h_{i} [{}:0] $end", ka - 1).unwrap();
    }
    writeln!(out, "$upscope $end\n$upscope $end\n$enddefinitions $end").unwrap();
    let bin = |v: i32| {
        let full: String = (0..ka)
            .rev()
            .map(|b| if (v >> b) & 1 == 1 { '1' } else { '0' })
            .collect();
        let trimmed = full.trim_start_matches('0');
        if trimmed.is_empty() {
            "0".to_string()
        } else if full.starts_with('1') {
            full
        } else {
            trimmed.to_string()
        }
    };
    let mut time = 0u64;
    for (_, trace) in seqs.iter().zip(traces) {
        for t in 0..trace.steps() {
            for cycle in 0..7u64 {
                writeln!(out, "#{time}\n1!").unwrap();
                if cycle == 2 {
                    // garbage on the bus between strobes must not matter
                    writeln!(out, "b{} h0", bin(-1)).unwrap();
                }
                if cycle == 5 {
                    writeln!(out, "1\"").unwrap();
                    for (i, &v) in trace.h(t).iter().enumerate() {
                        writeln!(out, "b{} h{i}", bin(v)).unwrap();
                    }
                }
                if cycle == 6 {
                    writeln!(out, "0\"").unwrap();
                }
                writeln!(out, "#{}\n0!", time + 5).unwrap();
                time += 10;
            }
        }
    }
    out
}

#[test]
fn other_names_and_timing_compare_equal_on_the_strobe() {
    let m = model(5);
    let seqs = random_sequences(&m, 2, 30, 6);
    let (gold, traces) = golden_vcd(&m, &seqs);
    let hw = hardware_style_vcd(&m, &seqs, &traces);
    let opts = DiffOptions {
        signals: vec!["h_*".into()],
        ..DiffOptions::default()
    };
    match run(&gold, &hw, &opts).unwrap() {
        Outcome::Equal { samples, signals } => {
            assert_eq!(samples, 60);
            assert_eq!(signals.len(), 12);
        }
        other => panic!("{other:?}"),
    }
    // Aligned on the clock instead, the sample counts differ (7 clock edges a step).
    let clock = DiffOptions {
        align: Align::Clock("clock".into()),
        signals: vec!["h_3".into()],
        ..DiffOptions::default()
    };
    assert!(run(&hw, &hw, &clock).is_ok());
    // The same hardware trace of a model with a flipped bit differs.
    let mut bad = m.clone();
    bad.w[2][2] ^= 2;
    let bad_traces = Golden::new(&bad).unwrap().run_batch(&seqs, 1);
    let hw_bad = hardware_style_vcd(&bad, &seqs, &bad_traces);
    assert!(matches!(
        run(&gold, &hw_bad, &opts).unwrap(),
        Outcome::Different(_)
    ));
}

#[test]
fn explicit_maps_and_missing_signals() {
    let m = model(7);
    let seqs = random_sequences(&m, 1, 10, 8);
    let (gold, _) = golden_vcd(&m, &seqs);
    let mapped = DiffOptions {
        signals: vec!["nothing".into()],
        map: vec![
            ("h_1".into(), "h_1".into()),
            ("y_0".into(), "qornn.y_0".into()),
        ],
        ..DiffOptions::default()
    };
    assert!(matches!(
        run(&gold, &gold, &mapped).unwrap(),
        Outcome::Equal { .. }
    ));
    let wrong_map = DiffOptions {
        map: vec![("h_1".into(), "h_2".into())],
        signals: vec!["zz".into()],
        ..DiffOptions::default()
    };
    assert!(matches!(
        run(&gold, &gold, &wrong_map).unwrap(),
        Outcome::Different(_)
    ));
    let missing = DiffOptions {
        align: Align::Strobe("done".into()),
        ..DiffOptions::default()
    };
    let err = run(&gold, &gold, &missing).unwrap_err().to_string();
    assert!(err.contains("no signal named `done`"), "{err}");
}

#[test]
fn different_lengths_are_reported() {
    let m = model(9);
    let long = random_sequences(&m, 1, 30, 1);
    let short = vec![Sequence::from_flat(2, long[0].as_flat()[..2 * 20].to_vec())];
    let (a, _) = golden_vcd(&m, &long);
    let (b, _) = golden_vcd(&m, &short);
    match run(&a, &b, &DiffOptions::default()).unwrap() {
        Outcome::Length { samples } => assert_eq!(samples, (30, 20)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn corrupt_and_truncated_files_get_clear_errors() {
    let m = model(11);
    let seqs = random_sequences(&m, 1, 20, 1);
    let (gold, _) = golden_vcd(&m, &seqs);
    let err = run(b"this is not vcd", &gold, &DiffOptions::default()).unwrap_err();
    assert!(matches!(err, VcdError::Parse { .. }), "{err}");
    // Cut inside the header.
    let err = run(&gold[..100], &gold, &DiffOptions::default()).unwrap_err();
    assert!(err.to_string().contains("a.vcd"), "{err}");
    // Cut in the middle of a value change.
    let text = String::from_utf8(gold.clone()).unwrap();
    let cut = text.rfind("\nb").unwrap() + 3;
    let err = run(&gold[..cut], &gold, &DiffOptions::default()).unwrap_err();
    assert!(matches!(err, VcdError::Parse { .. }), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn damaged_files_never_panic(cut in 0usize..4000, edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8)) {
        let m = model(13);
        let seqs = random_sequences(&m, 1, 15, 1);
        let (gold, _) = golden_vcd(&m, &seqs);
        let mut bad = gold.clone();
        for (at, b) in edits {
            let i = at.index(bad.len());
            bad[i] = b;
        }
        bad.truncate(cut.min(bad.len()));
        let _ = run(&bad, &gold, &DiffOptions::default());
    }

    #[test]
    fn wildcard_matches_like_a_shell(a in "[a-c_]{0,6}", b in "[a-c_]{0,6}") {
        prop_assert!(wildcard("*", &a));
        let (prefix, joined) = (format!("{}*", a), format!("{}{}", a, b));
        let suffix = format!("*{}", b);
        prop_assert!(wildcard(&prefix, &joined));
        prop_assert!(wildcard(&suffix, &joined));
        prop_assert_eq!(wildcard(&a, &b), a == b);
    }
}
