//! Issue #15, "Safe runs": caches that survive interrupted builds, no stale or overwritten
//! files, time limits on external tools, and golden runs that do not keep what they need not.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn qornn_cmd(args: &[&str], dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_qornn"));
    c.args(args).current_dir(dir);
    c
}

use super::{have, qornn, text};

fn ok(args: &[&str], dir: &Path) -> Output {
    let o = qornn(args, dir);
    assert!(o.status.success(), "qornn {args:?}: {}", text(&o));
    o
}

/// A refusal: exit code 2 and an `error:` line containing `needle`.
fn refused(o: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{}", text(o));
    assert!(
        stderr.contains("error:") && stderr.contains(needle),
        "expected `{needle}` in: {stderr}"
    );
}

fn script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Whether process `pid` is gone (or a zombie nobody reaped, which runs no more).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
    }
}

fn model_and_input(d: &Path, hidden: &str, steps: &str) {
    ok(
        &[
            "model", "random", "--hidden", hidden, "--input", "1", "--output", "2", "-o", "m.json",
        ],
        d,
    );
    ok(
        &[
            "input", "random", "--model", "m.json", "--steps", steps, "-o", "in.json",
        ],
        d,
    );
}

// ---- item 6: the Verilator build cache ----

/// An interrupted build leaves a 0-byte, non-executable model behind; the next run must
/// notice, say so, and rebuild, instead of failing with "Permission denied" forever.
#[test]
fn verilator_cache_rebuilds_a_damaged_entry() {
    if !have(&["verilator"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    model_and_input(d, "4", "5");
    let cosim = [
        "cosim",
        "--model",
        "m.json",
        "--input",
        "in.json",
        "--sim",
        "golden,verilator",
        "--lanes",
        "2",
        "--out",
        "out",
        "--cache",
        "cache",
    ];
    ok(&cosim, d);
    // One design entry, the Verilator runtime's objects kept for the next design
    // (`cosim/runtime.rs`), and no temporaries (beside the lock files' folder).
    let (runtime, entries): (Vec<PathBuf>, Vec<PathBuf>) = std::fs::read_dir(d.join("cache"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.ends_with(".locks"))
        .partition(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("verilator-runtime-")
        });
    assert_eq!(
        (entries.len(), runtime.len()),
        (1, 1),
        "one entry, one runtime folder and no temporaries: {entries:?} {runtime:?}"
    );
    let entry = &entries[0];
    assert!(entry
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("verilator-"));
    let exe = entry
        .join("obj_dir")
        .join(format!("V{}", qornn_hdl::verilog::DEFAULT_TOP));
    assert!(std::fs::metadata(&exe).unwrap().len() > 0);

    // What a killed linker leaves: the file, empty, not yet executable.
    std::fs::write(&exe, b"").unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = ok(&cosim, d);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("rebuilding") && stderr.contains(&*entry.to_string_lossy()),
        "{stderr}"
    );
    assert!(std::fs::metadata(&exe).unwrap().len() > 0);

    // A build that stopped before its stamp was written is not trusted either.
    std::fs::remove_file(entry.join("qornn-build-complete")).unwrap();
    let o = ok(&cosim, d);
    assert!(String::from_utf8_lossy(&o.stderr).contains("rebuilding"));
    // Now the entry is good: it is used as it is.
    let o = ok(&cosim, d);
    assert!(!String::from_utf8_lossy(&o.stderr).contains("rebuilding"));
    // The entry and the runtime folder, beside the lock files' folder: no temporaries.
    assert_eq!(std::fs::read_dir(d.join("cache")).unwrap().count(), 3);
}

// ---- item 8: stale and overwritten files ----

/// Fake yosys, nextpnr-ice40 and icepack that exit 0 and write their outputs only for the
/// first `$FAKE_WRITES` tools (0–3), as a tool that "succeeds" without output would.
fn fake_ice40_tools(bin: &Path) {
    std::fs::create_dir_all(bin).unwrap();
    script(
        &bin.join("yosys"),
        r#"[ "${FAKE_SLEEP:-0}" -gt 0 ] && sleep "$FAKE_SLEEP"
[ "${FAKE_WRITES:-0}" -ge 1 ] || exit 0
echo '{"modules": {"\\top": {"num_cells_by_type": {"SB_LUT4": 9}}}}' > stat.json
echo '{}' > synth.json"#,
    );
    script(
        &bin.join("nextpnr-ice40"),
        r#"[ "${FAKE_WRITES:-0}" -ge 2 ] || exit 0
echo '{"fmax": {"clk": {"achieved": 99.0}}, "utilization": {"ICESTORM_LC": {"available": 5280, "used": 9}}}' > pnr.json
echo layout > pnr.asc"#,
    );
    script(
        &bin.join("icepack"),
        r#"[ "${FAKE_WRITES:-0}" -ge 3 ] || exit 0
echo bits > "$2""#,
    );
}

/// `qornn synth` of a one-line design in `d`, with the fake tools of `d/bin` first on PATH.
fn fake_synth_command(d: &Path) -> Command {
    let path = format!(
        "{}:{}",
        d.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let args = [
        "synth",
        "--verilog",
        "top.v",
        "--top",
        "top",
        "--out",
        "out",
    ];
    let mut c = qornn_cmd(&args, d);
    c.env("PATH", path);
    c
}

fn fake_synth(d: &Path, writes: u32) -> Output {
    fake_synth_command(d)
        .args(["--target", "ice40-up5k"])
        .env("FAKE_WRITES", writes.to_string())
        .output()
        .unwrap()
}

/// `synth --out` into a folder of an earlier run: a tool that exits 0 without writing must
/// fail the build, not pass on the earlier run's netlist, report, layout or bitstream.
#[test]
fn synth_does_not_reuse_an_earlier_run_s_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fake_ice40_tools(&d.join("bin"));
    std::fs::write(d.join("top.v"), "module top; endmodule\n").unwrap();
    // With every tool writing, the fakes build: the failures below are the missing files.
    let o = fake_synth(d, 3);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read(d.join("out/design.bin")).unwrap(), b"bits\n");
    for (writes, missing) in [(0, "synth.json"), (1, "pnr.asc"), (2, "design.bin")] {
        let o = fake_synth(d, writes);
        refused(&o, "exited successfully but did not write it");
        refused(&o, missing);
        assert!(
            !d.join("out").join(missing).exists(),
            "{missing} is removed"
        );
    }
}

#[test]
fn outputs_that_are_inputs_or_each_other_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    model_and_input(d, "4", "5");
    let model = std::fs::read(d.join("m.json")).unwrap();
    let input = std::fs::read(d.join("in.json")).unwrap();
    let golden = ["golden", "--model", "m.json", "--input", "in.json"];
    let with = |extra: &[&'static str]| [&golden[..], extra].concat();
    refused(
        &qornn(&with(&["--trace", "t.out", "--vcd", "t.out"]), d),
        "same file",
    );
    assert!(!d.join("t.out").exists(), "refused before any work");
    refused(
        &qornn(&with(&["--trace", "t.out", "--vcd", "./sub/../t.out"]), d),
        "same file",
    );
    refused(&qornn(&with(&["--trace", "m.json"]), d), "--model");
    refused(&qornn(&with(&["--vcd", "./in.json"]), d), "--input");
    refused(
        &qornn(
            &["input", "random", "--model", "m.json", "-o", "./m.json"],
            d,
        ),
        "same file",
    );
    assert_eq!(std::fs::read(d.join("m.json")).unwrap(), model);
    assert_eq!(std::fs::read(d.join("in.json")).unwrap(), input);
    // Different files still work.
    ok(&with(&["--trace", "t.json", "--vcd", "t.vcd"]), d);
}

// ---- item 9: time limits ----

/// A tool that hangs (here a shell that waits on a child of its own) is killed, child and
/// all, at its limit, with a message that says what ran out and how to change it.
#[test]
fn a_tool_past_its_time_limit_is_killed_with_its_children() {
    use qornn_tools::external::{run_logged_within, ToolError};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tool = d.join("hang");
    script(&tool, "sleep 30 &\necho $! > child.pid\nwait");
    let log = d.join("hang.log");
    let start = Instant::now();
    let err = run_logged_within(
        &tool.display().to_string(),
        &[],
        d,
        &log,
        Some(Duration::from_millis(700)),
    )
    .unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(10), "killed on time");
    assert!(matches!(err, ToolError::TimedOut { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "`{}` did not finish in 0.7 s (QORNN_TOOL_TIMEOUT to change); its log: {}",
            tool.display(),
            log.display()
        )
    );
    let child: u32 = std::fs::read_to_string(d.join("child.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !gone(child) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(gone(child), "the tool's own child {child} is killed too");
    assert_eq!(
        qornn_tools::external::default_timeout("nextpnr-ice40"),
        Duration::from_secs(3600)
    );
}

/// QORNN_TOOL_TIMEOUT reaches the tools the CLI runs, and a bad value is an error.
#[test]
fn qornn_tool_timeout_limits_the_cli_s_tools() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fake_ice40_tools(&d.join("bin"));
    std::fs::write(d.join("top.v"), "module top; endmodule\n").unwrap();
    let run = |limit: &str| {
        fake_synth_command(d)
            .env("FAKE_SLEEP", "30")
            .env("QORNN_TOOL_TIMEOUT", limit)
            .output()
            .unwrap()
    };
    let start = Instant::now();
    let o = run("1");
    assert!(start.elapsed() < Duration::from_secs(15));
    refused(
        &o,
        &format!(
            "`yosys` did not finish in 1 s (QORNN_TOOL_TIMEOUT to change); its log: {}",
            Path::new("out").join("yosys.log").display()
        ),
    );
    refused(
        &run("soon"),
        "QORNN_TOOL_TIMEOUT=`soon` is not a number of seconds",
    );
}

// ---- item 10: memory ----

/// The peak resident memory (MB) of `cmd`, sampled while it runs (Linux).
fn peak_rss_mb(mut cmd: Command) -> (Output, f64) {
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0u64;
    while child.try_wait().unwrap().is_none() {
        if let Ok(s) = std::fs::read_to_string(&status) {
            let kb = s
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0);
            peak_kb = peak_kb.max(kb);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    (child.wait_with_output().unwrap(), peak_kb as f64 / 1024.0)
}

/// Without --trace or --vcd, `golden` keeps no h_t: 500 000 steps at n = 64 would hold
/// 128 MB of them.
#[test]
fn golden_without_trace_does_not_keep_the_trace() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    model_and_input(d, "64", "500000");
    let (o, mb) = peak_rss_mb(qornn_cmd(
        &["golden", "--model", "m.json", "--input", "in.json"],
        d,
    ));
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("500000 steps"), "{}", text(&o));
    assert!(mb < 90.0, "golden peaked at {mb:.0} MB");
}

/// `input random` streams its file: 2 000 000 codes are 8 MB, their JSON tree over 100 MB.
#[test]
fn input_random_streams_its_output() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(
        &[
            "model", "random", "--hidden", "4", "--input", "1", "--output", "2", "-o", "m.json",
        ],
        d,
    );
    let (o, mb) = peak_rss_mb(qornn_cmd(
        &[
            "input", "random", "--model", "m.json", "--steps", "2000000", "-o", "in.json",
        ],
        d,
    ));
    assert!(o.status.success(), "{}", text(&o));
    assert!(mb < 50.0, "input random peaked at {mb:.0} MB");
    // The file reads back.
    ok(&["golden", "--model", "m.json", "--input", "in.json"], d);
}
