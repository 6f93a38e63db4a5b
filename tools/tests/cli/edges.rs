//! Every verb's options at their edges (0, 1, huge, negative, NaN, nonsense): a clear refusal
//! — exit code 2 and exactly one `error:` line — never a panic (exit 101), an abort (a signal)
//! or minutes of work before the refusal.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Run `qornn args…` in `dir` and check it refused cleanly, quickly, naming `says`.
fn refuses(dir: &Path, args: &[&str], says: &str) {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_qornn"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the qornn binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let shown = format!("qornn {}", args.join(" "));
    assert_eq!(
        out.status.code(),
        Some(2),
        "{shown}: wanted exit 2 (a clear error), got {:?}\n{stderr}",
        out.status
    );
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{shown}: wanted one error line:\n{stderr}");
    assert!(
        errors[0].contains(says),
        "{shown}: the error does not say {says:?}:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{shown} panicked:\n{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{shown} took {:?} to refuse",
        started.elapsed()
    );
}

fn ok(dir: &Path, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_qornn"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the qornn binary runs");
    assert!(
        out.status.success(),
        "qornn {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A small model, an input for it, an empty input, a text and a VCD, in a fresh folder.
fn fixtures() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(
        d,
        &[
            "model", "random", "--hidden", "8", "--input", "2", "--output", "2", "-o", "m.json",
        ],
    );
    ok(
        d,
        &[
            "input",
            "random",
            "--model",
            "m.json",
            "--sequences",
            "1",
            "--steps",
            "5",
            "-o",
            "in.json",
        ],
    );
    let text = std::fs::read_to_string(d.join("in.json")).unwrap();
    let mut empty: serde_json::Value = serde_json::from_str(&text).unwrap();
    empty["sequences"] = serde_json::json!([]);
    std::fs::write(d.join("empty.json"), empty.to_string()).unwrap();
    std::fs::write(
        d.join("t.txt"),
        "the quick brown fox jumps over the lazy dog. ".repeat(200),
    )
    .unwrap();
    ok(
        d,
        &[
            "golden", "--model", "m.json", "--input", "in.json", "--vcd", "g.vcd",
        ],
    );
    dir
}

#[test]
fn training_settings_are_refused_before_any_training() {
    let dir = fixtures();
    let d = dir.path();
    let t = |extra: &[&str], says: &str| {
        let mut args = vec!["train", "--steps", "1", "--out", "run"];
        args.extend_from_slice(extra);
        refuses(d, &args, says);
    };
    t(
        &["--task", "charlm", "--text", "t.txt", "--length", "0"],
        "--length 0",
    );
    t(&["--task", "copy", "--delay", "0"], "--delay 0");
    t(&["--task", "copy", "--delay", "100000000"], "memory");
    t(&["--batch", "100000000"], "memory");
    t(&["--batch", "0"], "batch");
    t(&["--hidden", "0"], "hidden");
    t(&["--bjorck-beta", "NaN"], "β");
    t(&["--bjorck-beta=-1"], "β");
    t(&["--bjorck-iters", "0"], "iterations");
    t(&["--threads", "0"], "threads");
    t(&["--bits", "99"], "bits");
    t(&["--activation-bits", "99"], "--activation-bits");
    t(&["--ptq-widths", "3,8"], "--ptq-widths");
    t(&["--lr=-1"], "learning rate");
}

#[test]
fn hardware_options_at_their_edges() {
    let dir = fixtures();
    let d = dir.path();
    // one command line a row, split at spaces (no argument here holds one but the
    // synthesis top, which is a row of its own)
    for (line, says) in [
        ("verilog --model m.json --lanes 0 -o c.v", "lane"),
        ("verilog --model m.json --lanes 9 -o c.v", "lanes"),
        (
            "verilog --model m.json --lanes 1 --top module -o c.v",
            "keyword",
        ),
        (
            "verilog --model m.json --lanes 1 --top a;b -o c.v",
            "identifier",
        ),
        ("synth --model m.json --freq NaN --out s", "MHz"),
        ("synth --model m.json --target xc7 --out s", "xc7"),
        (
            "hdl-sim --model m.json --input empty.json --lanes 1",
            "no steps",
        ),
        (
            "cosim --model m.json --input in.json --sim golden",
            "nothing to compare",
        ),
        (
            "cosim --model m.json --input in.json --sim rust-hdl,rust-hdl",
            "twice",
        ),
        (
            "cosim --model m.json --input empty.json --sim rust-hdl",
            "no steps",
        ),
        (
            "cosim --model m.json --input in.json --sim modelsim",
            "modelsim",
        ),
    ] {
        let args: Vec<&str> = line.split(' ').collect();
        refuses(d, &args, says);
    }
    refuses(
        d,
        &[
            "synth",
            "--verilog",
            "c.v",
            "--top",
            "qornn_core; script other.ys;",
            "--out",
            "s",
        ],
        "identifier",
    );
}

#[test]
fn comparison_and_sweep_options_at_their_edges() {
    let dir = fixtures();
    let d = dir.path();
    refuses(
        d,
        &["vcd-diff", "g.vcd", "g.vcd", "--context", "1000000000000"],
        "context",
    );
    refuses(d, &["vcd-diff", "g.vcd", "missing.vcd"], "missing.vcd");
    refuses(d, &["sweep", "--bits", "99", "--dir", "sw"], "--bits");
    refuses(d, &["sweep", "--bits", "4,4", "--dir", "sw"], "twice");
    refuses(d, &["sweep", "--lanes", "0", "--dir", "sw"], "--lanes");
    refuses(d, &["sweep", "--lanes", "100000", "--dir", "sw"], "--lanes");
    for (toml, says) in [
        ("[hardware]\nsynth_lanes = [0]\n", "synth_lanes"),
        ("[hardware]\ntargets = []\n", "targets"),
        ("[hardware]\nlanes = 1000\n", "hardware.lanes"),
        ("[hardware]\nsynth = \"maybe\"\n", "hardware.synth"),
        ("[export]\nactivation_bits = 40\n", "export.activation_bits"),
        ("[train]\nlength = 0\ntask = \"adding\"\n", "adding"),
    ] {
        std::fs::write(d.join("f.toml"), toml).unwrap();
        refuses(d, &["flow", "--config", "f.toml", "--out", "fl"], says);
        assert!(
            !d.join("fl").join("train").exists(),
            "{toml}: training started"
        );
    }
}

#[test]
fn model_fields_and_files_given_in_the_wrong_place() {
    let dir = fixtures();
    let d = dir.path();
    refuses(
        d,
        &["model", "random", "--hidden", "0", "-o", "z.json"],
        "hidden",
    );
    refuses(
        d,
        &[
            "model",
            "random",
            "--hidden",
            "8",
            "--weight-bits",
            "99",
            "-o",
            "z.json",
        ],
        "bits",
    );
    // A model where a checkpoint is expected is named as such.
    refuses(d, &["eval", "--checkpoint", "m.json"], "m.json");
    refuses(
        d,
        &["export", "--checkpoint", "m.json", "-o", "e.json"],
        "m.json",
    );
}

#[test]
fn a_flow_folder_in_use_by_a_live_run_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("fl")).unwrap();
    // This test process is alive: it stands for another flow writing into `fl`.
    std::fs::write(
        d.join("fl/.qornn-flow.lock"),
        format!("{}\n", std::process::id()),
    )
    .unwrap();
    refuses(d, &["flow", "--out", "fl", "--steps", "1"], "in use");
    assert!(
        !d.join("fl/train").exists(),
        "the second run started training"
    );
}

#[test]
fn verilog_for_an_ecp5_part_instantiates_registered_dsps() {
    let dir = fixtures();
    let d = dir.path();
    // (--target, registered MULT18X18D instances expected in a 2-lane DSP core)
    for (target, cells) in [(None, 0), (Some("ice40-up5k"), 0), (Some("ecp5-25k"), 2)] {
        let mut args = vec!["verilog", "--model", "m.json", "--lanes", "2", "-o", "c.v"];
        if let Some(t) = target {
            args.extend(["--target", t]);
        }
        ok(d, &args);
        let v = std::fs::read_to_string(d.join("c.v")).unwrap();
        assert_eq!(
            v.matches(".REG_OUTPUT_CLK(\"CLK0\")").count(),
            cells,
            "{target:?}"
        );
        assert_eq!(v.contains("`ifndef SYNTHESIS"), cells > 0, "{target:?}");
    }
}

#[test]
fn model_check_says_before_synthesis_whether_a_core_fits() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let make = |n: &str, out: &str| {
        ok(
            d,
            &[
                "model", "random", "--hidden", n, "--input", "1", "--output", "10", "-o", out,
            ],
        )
    };
    make("128", "m128.json");
    make("256", "m256.json");
    let check = |model: &str, target: &str| {
        Command::new(env!("CARGO_BIN_EXE_qornn"))
            .args(["model", "check", model, "--target", target, "--lanes", "8"])
            .current_dir(d)
            .output()
            .unwrap()
    };
    // n = 128 at 4 bits fills a UP5K's 30 block RAMs exactly (as `qornn synth` reports).
    let o = check("m128.json", "ice40-up5k");
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("block RAMs 30 of 30") && out.contains("fits"),
        "{out}"
    );
    // n = 256: each lane's bank is 32 blocks × 257 + 2 × 256 = 8736 four-bit words, nine
    // 1024 × 4 RAMs, so 72 for eight lanes, + 1 (state) + 2 (b) + 2 (c) + 1 (FIFO) = 78 (SPRAM
    // banks are not built): refused, exit 1.
    let o = check("m256.json", "ice40-up5k");
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("does not fit: needs 78 block RAMs, ice40-up5k has 30"),
        "{out}"
    );
    // The same model fits an ECP5-25F's 56 DP16KD.
    assert_eq!(check("m256.json", "ecp5-25k").status.code(), Some(0));
}

/// `export --frame-of`: a frame of another shape, or a file that is no model, is refused
/// before anything is written; a run exported into its own model's frame keeps that frame.
#[test]
fn export_into_a_frame_refuses_another_shape_and_keeps_its_own() {
    let dir = fixtures();
    let d = dir.path();
    ok(
        d,
        &[
            "train",
            "--task",
            "copy",
            "--delay",
            "4",
            "--hidden",
            "8",
            "--bits",
            "4",
            "--steps",
            "3",
            "--batch",
            "4",
            "--test-limit",
            "8",
            "--out",
            "run",
        ],
    );
    let export = |frame: &'static str| {
        [
            "export",
            "--checkpoint",
            "run/checkpoint.json",
            "--test-limit",
            "8",
            "--frame-of",
            frame,
            "-o",
            "e.json",
        ]
    };
    refuses(d, &export("m.json"), "shape");
    refuses(d, &export("t.txt"), "t.txt");
    assert!(
        !d.join("e.json").exists(),
        "a refused export wrote its output"
    );
    ok(d, &export("run/model.json"));
    let read = |p: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(d.join(p)).unwrap()).unwrap()
    };
    let (own, framed) = (read("run/model.json"), read("e.json"));
    for key in ["shape", "bits", "alignment", "requant", "w", "u", "v", "b"] {
        assert_eq!(own[key], framed[key], "{key}");
    }
}
