//! `qornn board` end to end without a board: `qornn board sim` runs the board top of a model
//! under Verilator behind a pseudo-terminal, and `qornn board info`/`run` talk to that device
//! path exactly as to a USB UART: identify, run sequences in both modes, refuse another
//! model, catch a wrong output at the step an independent golden run predicts, and recover
//! from a byte lost or corrupted on the line.

use super::{have, qornn, text};
use qornn_sim::{Golden, QuantizedModel};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A simulated board; stopped (and its link removed) when dropped.
struct SimBoard {
    child: Child,
    link: PathBuf,
}

impl SimBoard {
    fn start(dir: &Path, model: &str, faults: &[&str]) -> SimBoard {
        let link = dir.join(format!("tty{}", faults.join("").replace('-', "")));
        let child = Command::new(env!("CARGO_BIN_EXE_qornn"))
            .args([
                "board", "sim", "--model", model, "--lanes", "2", "--baud", "3000000",
            ])
            .arg("--link")
            .arg(&link)
            .arg("--cache")
            .arg(super::verilator_cache())
            .args(faults)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("qornn board sim starts");
        // The first start builds the model under Verilator.
        let start = Instant::now();
        while !link.exists() {
            assert!(
                start.elapsed() < Duration::from_secs(600),
                "no terminal linked"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        SimBoard { child, link }
    }

    fn port(&self) -> &str {
        self.link.to_str().unwrap()
    }
}

impl Drop for SimBoard {
    fn drop(&mut self) {
        // SIGTERM, so the harness removes its link; then wait for it.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// `qornn board run` on `board` with model `model`, the input `in.json` and `extra` flags.
fn run_on(board: &SimBoard, d: &Path, model: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "board",
        "run",
        "--port",
        board.port(),
        "--model",
        model,
        "--input",
        "in.json",
    ];
    args.extend_from_slice(extra);
    qornn(&args, d)
}

/// `qornn board info --json` on `board`.
fn info_of(board: &SimBoard, d: &Path) -> serde_json::Value {
    let o = qornn(&["board", "info", "--port", board.port(), "--json"], d);
    assert!(o.status.success(), "{}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// `qornn board load` of `model` into `board` at 3 Mbaud.
fn load_on(board: &SimBoard, d: &Path, model: &str) -> Output {
    let port = board.port();
    qornn(
        &[
            "board", "load", "--port", port, "--baud", "3000000", "--model", model,
        ],
        d,
    )
}

fn setup(d: &Path) {
    for args in [
        &[
            "model", "random", "--hidden", "8", "--output", "2", "--seed", "3", "-o", "a.json",
        ][..],
        &[
            "model", "random", "--hidden", "8", "--output", "2", "--seed", "4", "-o", "b.json",
        ],
        &[
            "input",
            "random",
            "--model",
            "a.json",
            "--sequences",
            "3",
            "--steps",
            "40",
            "-o",
            "in.json",
        ],
    ] {
        let o = qornn(args, d);
        assert!(o.status.success(), "{args:?}: {}", text(&o));
    }
}

/// The first step of sequence 0 where models a and b give different y_t: computed here with
/// the golden model, not by the runner.
fn first_difference(d: &Path) -> usize {
    let a = QuantizedModel::load(&d.join("a.json")).unwrap();
    let b = QuantizedModel::load(&d.join("b.json")).unwrap();
    let seqs = qornn_sim::sequence::load_inputs(&d.join("in.json"), &a).unwrap();
    let (ta, tb) = (
        Golden::new(&a).unwrap().run(&seqs[0]),
        Golden::new(&b).unwrap().run(&seqs[0]),
    );
    (0..ta.steps())
        .find(|&t| ta.y(t) != tb.y(t))
        .expect("two random models differ")
}

#[test]
fn a_simulated_board_runs_sequences_through_a_pseudo_terminal() {
    if !have(&["verilator"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    let board = SimBoard::start(d, "a.json", &[]);
    let o = qornn(&["board", "info", "--port", board.port(), "--json"], d);
    assert!(o.status.success(), "{}", text(&o));
    let id: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(id["version"], 3);
    assert_eq!(id["weights_in_ram"], false);
    assert_eq!(
        (id["hidden"].as_u64(), id["outputs"].as_u64()),
        (Some(8), Some(2))
    );
    assert_eq!(id["baud"], 3_000_000);

    for mode in ["last", "all"] {
        let o = run_on(&board, d, "a.json", &["--mode", mode, "--json", "run.json"]);
        assert!(o.status.success(), "{mode}: {}", text(&o));
        assert!(
            text(&o).contains("every output equals the golden model's"),
            "{}",
            text(&o)
        );
        let run: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(d.join("run.json")).unwrap()).unwrap();
        assert_eq!(
            (run["steps"].as_u64(), run["equal"].as_bool()),
            (Some(120), Some(true))
        );
        assert!(run["board_steps_per_second"].as_f64().unwrap() > 0.0);
    }

    // Model b on a's bitstream: refused before anything runs (exit 2)…
    let o = run_on(&board, d, "b.json", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("holds another model"), "{}", text(&o));
    // …and, forced, caught at the first step where the two models' outputs differ (exit 1).
    let o = run_on(
        &board,
        d,
        "b.json",
        &["--mode", "all", "--ignore-model-hash"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let want = format!("MISMATCH at sequence 0, step {}:", first_difference(d));
    assert!(text(&o).contains(&want), "want `{want}` in {}", text(&o));
}

#[test]
fn a_byte_lost_or_corrupted_on_the_line_is_detected_and_the_run_recovers() {
    if !have(&["verilator"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    // Bytes 0–1 are the runner's identify and timer requests; 20 and 60 fall in frames.
    for (fault, cause) in [
        ("--corrupt-stop", "a byte was lost"),
        ("--corrupt-data", "a byte was corrupted"),
    ] {
        for byte in ["20", "60"] {
            let board = SimBoard::start(d, "a.json", &[fault, byte]);
            let o = run_on(&board, d, "a.json", &[]);
            assert!(o.status.success(), "{fault} {byte}: {}", text(&o));
            let t = text(&o);
            assert!(
                t.contains(cause) && t.contains("1 retries"),
                "{fault} {byte}: {t}"
            );
            assert!(t.contains("every output equals the golden model's"), "{t}");
        }
    }
    // Without retries the same fault is an error (exit 2) that names it.
    let board = SimBoard::start(d, "a.json", &["--corrupt-data", "20"]);
    let o = run_on(&board, d, "a.json", &["--retries", "0"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("checksum mismatch"), "{}", text(&o));
}

/// Model a with the rows of W, U, b, V and c reversed: another model of a's frame (each row
/// keeps its weights, so the same widths hold), written by the test, not by qornn.
fn same_frame(d: &Path) {
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("a.json")).unwrap()).unwrap();
    for key in ["w", "u", "b", "v", "c"] {
        m[key].as_array_mut().unwrap().reverse();
    }
    std::fs::write(d.join("c.json"), serde_json::to_string(&m).unwrap()).unwrap();
}

/// A folder with models a, b, c (c of a's frame) and an input, when Verilator is here.
fn frame_fixtures() -> Option<tempfile::TempDir> {
    if !have(&["verilator"]) {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    same_frame(dir.path());
    Some(dir)
}

#[test]
fn weights_loaded_at_run_time_serve_another_model_of_the_frame() {
    let Some(dir) = frame_fixtures() else {
        return;
    };
    let d = dir.path();
    // Bytes 0-3 are identify requests (info, the refused run, the refused load, the load);
    // byte 30 falls in the first load frame.
    let board = SimBoard::start(d, "a.json", &["--weights", "ram", "--corrupt-data", "30"]);
    let before = info_of(&board, d);
    assert_eq!(before["weights_in_ram"], true);
    // The bitstream powers up with a's weights, and runs c only once c is loaded.
    let o = run_on(&board, d, "c.json", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("load them first"), "{}", text(&o));
    let load = |model: &str| load_on(&board, d, model);
    // b is another frame (its own widths and requantiser): refused, nothing sent.
    let o = load("b.json");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("does not share the bitstream's frame"),
        "{}",
        text(&o)
    );
    // c goes in; the corrupted byte fails the first attempt's checksum and the retry lands.
    let o = load("c.json");
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("checksum mismatch") && text(&o).contains("loaded c.json"),
        "{}",
        text(&o)
    );
    let after = info_of(&board, d);
    assert_ne!(after["model_hash"], before["model_hash"]);
    assert_eq!(after["frame_hash"], before["frame_hash"]);
    for mode in ["last", "all"] {
        let o = run_on(&board, d, "c.json", &["--mode", mode]);
        assert!(o.status.success(), "{mode}: {}", text(&o));
        assert!(
            text(&o).contains("every output equals the golden model's"),
            "{}",
            text(&o)
        );
    }
    // And back to a, which now also runs from loaded weights.
    let o = load("a.json");
    assert!(o.status.success(), "{}", text(&o));
    let o = run_on(&board, d, "a.json", &["--mode", "all"]);
    assert!(o.status.success(), "{}", text(&o));
}

/// `--weights spram`: the lane banks in the UP5K's SPRAM (the vendor's cell under a
/// behavioural model in Verilator). The board holds no model until one is loaded (hash 0,
/// `board run` asks for the load), then runs it exactly as the golden model does.
#[test]
fn weights_loaded_into_spram_serve_a_model_of_the_frame() {
    let Some(dir) = frame_fixtures() else {
        return;
    };
    let d = dir.path();
    let board = SimBoard::start(d, "a.json", &["--weights", "spram"]);
    let id = info_of(&board, d);
    assert_eq!(id["weights_in_ram"], true);
    assert_eq!(id["model_hash"], 0, "{id}");
    let o = run_on(&board, d, "a.json", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("load them first"), "{}", text(&o));
    for model in ["c.json", "a.json"] {
        let o = load_on(&board, d, model);
        assert!(o.status.success(), "{model}: {}", text(&o));
        let o = run_on(&board, d, model, &["--mode", "all"]);
        assert!(o.status.success(), "{model}: {}", text(&o));
        assert!(
            text(&o).contains("every output equals the golden model's"),
            "{}",
            text(&o)
        );
    }
}
