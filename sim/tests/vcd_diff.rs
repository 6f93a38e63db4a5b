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
    random_model(&RandomSpec::new(Shape::new(12, 2, 3), 4, seed))
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
        Outcome::Equal {
            samples, signals, ..
        } => {
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
        Outcome::Equal {
            samples, signals, ..
        } => {
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

/// A small hand-written VCD: `valid` (1 bit, code `!`), then `vars` as `(code, name, width)`,
/// then `body` after `$enddefinitions`.
fn hand_vcd(timescale: &str, vars: &[(&str, &str, usize)], body: &str) -> Vec<u8> {
    let mut s = format!("$timescale {timescale} $end\n$scope module top $end\n");
    s += "$var wire 1 ! valid $end\n";
    for (code, name, width) in vars {
        s += &format!("$var wire {width} {code} {name} $end\n");
    }
    s += "$upscope $end\n$enddefinitions $end\n";
    s += body;
    s.into_bytes()
}

const TWO_SAMPLES: &str = "#0\n0!\nb01 \"\nb1 #\n#1\n1!\n#2\n0!\nb10 \"\n#3\n1!\n#4\n";
/// [`TWO_SAMPLES`] for a file that declares only `h`.
const TWO_SAMPLES_H: &str = "#0\n0!\nb01 \"\n#1\n1!\n#2\n0!\nb10 \"\n#3\n1!\n#4\n";

#[test]
fn a_signal_missing_from_the_other_file_is_a_difference_not_a_pass() {
    let a = hand_vcd("1 ns", &[("\"", "h", 2), ("#", "y", 1)], TWO_SAMPLES);
    let b = hand_vcd("1 ns", &[("\"", "h", 2)], TWO_SAMPLES_H);
    match run(&a, &b, &DiffOptions::default()).unwrap() {
        Outcome::Unmatched { signals } => {
            assert_eq!(
                signals,
                vec![(Path::new("a.vcd").to_owned(), "top.y".to_string())]
            )
        }
        other => panic!("{other:?}"),
    }
    // The other way round too: B's extra signal has no partner in A.
    assert!(matches!(
        run(&b, &a, &DiffOptions::default()).unwrap(),
        Outcome::Unmatched { .. }
    ));
    // With --allow-missing the rest is compared and the verdict lists what was left out.
    let allow = DiffOptions {
        allow_missing: true,
        ..DiffOptions::default()
    };
    match run(&a, &b, &allow).unwrap() {
        Outcome::Equal {
            samples,
            signals,
            unmatched,
        } => {
            assert_eq!((samples, signals), (2, vec!["top.h".to_string()]));
            assert_eq!(unmatched.len(), 1);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn no_sample_is_not_equal() {
    // The strobe never rises.
    let a = hand_vcd(
        "1 ns",
        &[("\"", "h", 2)],
        "#0\n0!\nb01 \"\n#1\nb10 \"\n#2\n",
    );
    assert!(matches!(
        run(&a, &a, &DiffOptions::default()).unwrap(),
        Outcome::NoSamples { .. }
    ));
    // Header only.
    let h = hand_vcd("1 ns", &[("\"", "h", 2)], "");
    assert!(matches!(
        run(&h, &h, &DiffOptions::default()).unwrap(),
        Outcome::NoSamples { .. }
    ));
}

#[test]
fn a_multi_bit_strobe_is_refused() {
    let a = hand_vcd("1 ns", &[("\"", "h", 2)], TWO_SAMPLES_H);
    let opts = DiffOptions {
        align: Align::Strobe("h".into()),
        ..DiffOptions::default()
    };
    let err = run(&a, &a, &opts).unwrap_err().to_string();
    assert!(err.contains("2 bits wide"), "{err}");
}

#[test]
fn timescales_are_honoured_when_aligning_on_time() {
    let body = "#0\nb01 \"\n#5\nb10 \"\n#7\n";
    let ns = hand_vcd("1 ns", &[("\"", "h", 2)], body);
    let ps = hand_vcd("1 ps", &[("\"", "h", 2)], body);
    let ps1000 = hand_vcd(
        "1 ps",
        &[("\"", "h", 2)],
        "#0\nb01 \"\n#5000\nb10 \"\n#7000\n",
    );
    let time = DiffOptions {
        align: Align::Time,
        ..DiffOptions::default()
    };
    assert!(matches!(
        run(&ns, &ps, &time).unwrap(),
        Outcome::TimeSkew {
            sample: 1,
            femtoseconds: (5_000_000, 5_000)
        }
    ));
    assert!(run(&ns, &ps1000, &time).unwrap().is_equal());
}

#[test]
fn malformed_value_changes_are_errors() {
    let vars = [("\"", "h", 2)];
    let good = hand_vcd("1 ns", &vars, TWO_SAMPLES_H);
    for (body, says) in [
        ("#0\n0!\nb101 \"\n#1\n1!\n#2\n", "3-bit value"),
        ("#0\n0!\nb01 %\n#1\n1!\n#2\n", "no $var declares"),
        ("#5\n0!\nb01 \"\n#1\n1!\n#2\n", "time goes backwards"),
    ] {
        let bad = hand_vcd("1 ns", &vars, body);
        let err = run(&bad, &good, &DiffOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains(says), "{body:?}: {err}");
    }
}

#[test]
fn a_huge_context_costs_nothing_up_front() {
    let a = hand_vcd("1 ns", &[("\"", "h", 2)], TWO_SAMPLES_H);
    let opts = DiffOptions {
        context: usize::MAX,
        ..DiffOptions::default()
    };
    assert!(run(&a, &a, &opts).unwrap().is_equal());
}
