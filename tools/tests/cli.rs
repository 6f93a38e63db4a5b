//! The `qornn` command as a user runs it: exit codes, messages, files.

use std::path::Path;
use std::process::{Command, Output};

fn qornn(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_qornn"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the qornn binary runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The Verilator build cache the simulated boards share: one for the whole binary, under
/// cargo's `target/tmp`, so the Verilator runtime and each board top are built once. Entries
/// are keyed by a hash of the design, so sharing cannot mix designs up; the cache's own
/// behaviour is tested on a private cache (`safe_runs`).
pub(crate) fn verilator_cache() -> std::path::PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("verilator-cache")
}

/// Whether the tools are here; without them the test is skipped (unless required).
pub(crate) fn have(tools: &[&str]) -> bool {
    if let Some(t) = tools
        .iter()
        .find(|t| qornn_tools::external::find(t).is_err())
    {
        assert!(
            std::env::var("QORNN_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "{t} is required (QORNN_REQUIRE_TOOLS=1) but not installed"
        );
        eprintln!("SKIPPED: {t} is not installed");
        return false;
    }
    true
}

#[test]
fn random_model_check_input_golden_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = qornn(
        &[
            "model",
            "random",
            "--hidden",
            "16",
            "--input",
            "2",
            "--output",
            "3",
            "--modrelu",
            "--seed",
            "5",
            "-o",
            "m.json",
        ],
        d,
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = qornn(&["model", "check", "m.json", "--json"], d);
    assert!(o.status.success(), "{}", text(&o));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["shape"]["hidden"], 16);
    assert_eq!(summary["activation"], "modrelu");
    assert_eq!(
        summary["bits"]["accumulator"],
        summary["required"]["accumulator"]
    );
    let o = qornn(
        &[
            "input",
            "random",
            "--model",
            "m.json",
            "--sequences",
            "3",
            "--steps",
            "25",
            "-o",
            "in.json",
        ],
        d,
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = qornn(
        &[
            "golden", "--model", "m.json", "--input", "in.json", "--trace", "t.json", "--vcd",
            "t.vcd",
        ],
        d,
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("75 steps"), "{}", text(&o));
    let trace: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("t.json")).unwrap()).unwrap();
    assert_eq!(trace["sequences"].as_array().unwrap().len(), 3);
    assert_eq!(trace["sequences"][2]["steps"].as_array().unwrap().len(), 25);
    assert_eq!(
        trace["sequences"][0]["steps"][0]["h"]
            .as_array()
            .unwrap()
            .len(),
        16
    );
    // The VCD parses and declares the documented signals.
    let mut parser = vcd::Parser::new(std::io::BufReader::new(
        std::fs::File::open(d.join("t.vcd")).unwrap(),
    ));
    let header = parser.parse_header().unwrap();
    for name in ["valid", "seq", "step", "x_1", "h_15", "y_2"] {
        assert!(
            header.find_var(&["qornn", name]).is_some(),
            "missing {name}"
        );
    }
}

/// The simulators run in their own working folders: with the default, relative `--out` and
/// `--cache` (as the README's first command uses them) the Verilator model built in the cache
/// must still be found and run.
#[test]
fn cosim_runs_verilator_from_relative_folders() {
    if !have(&["verilator", "iverilog", "vvp"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for args in [
        &[
            "model", "random", "--hidden", "8", "--input", "2", "--output", "2", "-o", "m.json",
        ][..],
        &[
            "input",
            "random",
            "--model",
            "m.json",
            "--sequences",
            "2",
            "--steps",
            "6",
            "-o",
            "in.json",
        ],
    ] {
        let o = qornn(args, d);
        assert!(o.status.success(), "{}", text(&o));
    }
    let o = qornn(
        &[
            "cosim", "--model", "m.json", "--input", "in.json", "--lanes", "2", "--vcd",
        ],
        d,
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(d.join("qornn-out/cosim").is_dir() && d.join("qornn-out/cache").is_dir());
    let vcds = std::fs::read_dir(d.join("qornn-out/cosim"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "vcd")
        })
        .count();
    assert!(vcds >= 2, "{}", text(&o));
}

#[test]
fn bad_inputs_exit_non_zero_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("trunc.json"),
        "{\"format\": \"qornn.quantized-model\", \"vers",
    )
    .unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["model", "check", "missing.json"], "missing.json"),
        (&["model", "check", "trunc.json"], "not a valid model file"),
        (
            &["model", "random", "--weight-bits", "9", "-o", "x.json"],
            "weight bits",
        ),
        (
            &["model", "random", "--activation-bits", "20", "-o", "x.json"],
            "activation bits",
        ),
        (
            &["model", "random", "--hidden", "0", "-o", "x.json"],
            "hidden",
        ),
        (
            &["golden", "--model", "trunc.json", "--input", "x.json"],
            "trunc.json",
        ),
    ];
    for (args, needle) in cases {
        let o = qornn(args, d);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(
            stderr.starts_with("error: ") && stderr.contains(needle),
            "{args:?}: {stderr}"
        );
    }
    assert!(
        !d.join("x.json").exists(),
        "a refused model must not be written"
    );
    // An input code outside the model's range is refused, naming where it is.
    let o = qornn(
        &[
            "model",
            "random",
            "--hidden",
            "4",
            "--input",
            "1",
            "--input-bits",
            "4",
            "-o",
            "m.json",
        ],
        d,
    );
    assert!(o.status.success());
    std::fs::write(
        d.join("in.json"),
        r#"{"format":"qornn.input","version":1,"sequences":[[[1],[9]]]}"#,
    )
    .unwrap();
    let o = qornn(&["golden", "--model", "m.json", "--input", "in.json"], d);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("sequences[0][1][0]"), "{}", text(&o));
}

#[test]
fn every_verb_explains_itself_with_an_example() {
    let dir = tempfile::tempdir().unwrap();
    for verb in [
        &["model", "random"][..],
        &["model", "check"],
        &["input", "random"],
        &["golden"],
        &["board", "run"],
        &["board", "info"],
        &["board", "sim"],
    ] {
        let mut args = verb.to_vec();
        args.push("--help");
        let o = qornn(&args, dir.path());
        assert!(o.status.success());
        assert!(
            text(&o).contains("Example"),
            "{verb:?} --help has no example"
        );
    }
}

// Where a new CLI test goes: beside the verb's other tests here, or, for bad input at the
// edges of an option, in `cli/edges.rs` (one test binary for the whole command).
#[path = "cli/edges.rs"]
mod edges;

// `qornn board` through a simulated board on a pseudo-terminal.
#[path = "cli/board.rs"]
mod board;

/// The accuracy machinery end to end on a grid of two tiny cells: run, skip on rerun, table.
#[test]
fn a_two_cell_accuracy_grid_runs_and_tabulates() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("res")).unwrap();
    std::fs::write(
        d.join("res/grid.toml"),
        "[[group]]\nname = \"tiny\"\nabout = \"copy T0 = 5, n = 8, 30 steps\"\n\
         methods = [\"fp-bjorck\", \"ste-bjorck\"]\nbits = [4]\nseeds = [1]\n\
         [group.train]\ntask = \"copy\"\ndelay = 5\nhidden = 8\nsteps = 30\neval_every = 15\n\
         batch = 16\ntest_limit = 64\nthreads = 1\n",
    )
    .unwrap();
    let o = qornn(&["accuracy", "run", "--grid", "res/grid.toml"], d);
    assert!(o.status.success(), "{}", text(&o));
    for key in ["tiny--fp-bjorck-fp-s1", "tiny--ste-bjorck-b4-s1"] {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.join(format!("res/{key}.json"))).unwrap())
                .unwrap();
        let acc = v["float_accuracy"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&acc), "{key}: {v}");
        assert_eq!(v["steps"], 30, "{key}");
        assert!(v["command"].as_str().unwrap().contains(key));
    }
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("res/tiny--ste-bjorck-b4-s1.json")).unwrap())
            .unwrap();
    let widths: Vec<u64> = v["integer"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["activation_bits"].as_u64().unwrap())
        .collect();
    assert_eq!(widths, vec![8, 12]);
    // A rerun finds both cells done.
    let o = qornn(&["accuracy", "run", "--grid", "res/grid.toml"], d);
    assert!(
        o.status.success() && text(&o).matches("done already").count() == 2,
        "{}",
        text(&o)
    );
    let o = qornn(
        &[
            "accuracy",
            "table",
            "--grid",
            "res/grid.toml",
            "-o",
            "docs/accuracy.md",
        ],
        d,
    );
    assert!(o.status.success(), "{}", text(&o));
    let md = std::fs::read_to_string(d.join("docs/accuracy.md")).unwrap();
    let row = |m: &str| {
        md.lines()
            .find(|l| l.starts_with(&format!("| `{m}`")))
            .unwrap_or_else(|| panic!("no {m} row in\n{md}"))
            .to_string()
    };
    // Each row holds a number from its result file, not a placeholder.
    let fp = v["integer"][0]["integer_accuracy"].as_f64().unwrap() * 100.0;
    assert!(row("ste-bjorck").contains(&format!("{fp:.2}")), "{md}");
    assert!(!row("fp-bjorck").contains('—'), "{md}");
    assert!(d.join("docs/accuracy-tiny.png").is_file());
}

// Safe runs: caches, stale files, outputs that are inputs, tool timeouts, streaming memory.
#[path = "cli/safe_runs.rs"]
mod safe_runs;
