//! The Verilator and Icarus harnesses on a stand-in core whose answers are known in closed
//! form: both simulators must produce exactly those answers, step by step, and Verilator's
//! second run must come from its build cache, and a second design reuses the first's
//! Verilator runtime objects and precompiled headers.

use qornn_sim::Sequence;
use qornn_tests::{require_tool, stand_in_core, stand_in_ports};
use qornn_tools::cosim::{run_iverilog, run_verilator, Dut};

fn expected(seqs: &[Sequence], d: usize, ky: u32) -> Vec<Vec<Vec<i64>>> {
    let wrap = |v: i64| (v << (64 - ky)) >> (64 - ky);
    seqs.iter()
        .map(|s| {
            let mut sum = 0i64;
            (0..s.steps())
                .map(|t| {
                    sum += s.step(t)[0] as i64;
                    (0..d).map(|k| wrap(sum * (k as i64 + 1))).collect()
                })
                .collect()
        })
        .collect()
}

fn dut(m: usize, kx: u32, d: usize, ky: u32) -> Dut {
    Dut {
        verilog: stand_in_core(m, kx, d, ky),
        ports: stand_in_ports(m, kx, d, ky),
        hidden: None,
    }
}

fn sequences(m: usize, kx: u32) -> Vec<Sequence> {
    let lo = -(1i32 << (kx - 1));
    let hi = (1i32 << (kx - 1)) - 1;
    vec![
        Sequence::from_flat(
            m,
            (0..5 * m as i32).map(|i| (i * 7) % (hi + 1) - 3).collect(),
        ),
        Sequence::from_flat(
            m,
            [lo, hi, hi, lo, 0, 1]
                .iter()
                .flat_map(|&v| std::iter::repeat_n(v, m))
                .collect(),
        ),
    ]
}

fn check(traces: &[qornn_sim::Trace], want: &[Vec<Vec<i64>>]) {
    assert_eq!(traces.len(), want.len());
    for (tr, w) in traces.iter().zip(want) {
        assert_eq!(tr.steps(), w.len());
        for (t, y) in w.iter().enumerate() {
            assert_eq!(tr.y(t), y.as_slice(), "step {t}");
        }
    }
}

#[test]
fn icarus_harness_reads_every_step() {
    if require_tool("iverilog").is_none() || require_tool("vvp").is_none() {
        return;
    }
    for (m, kx, d, ky) in [(1usize, 8u32, 2usize, 12u32), (3, 16, 5, 40), (2, 4, 1, 48)] {
        let dir = tempfile::tempdir().unwrap();
        let seqs = sequences(m, kx);
        let run = run_iverilog(
            &dut(m, kx, d, ky),
            &seqs,
            dir.path(),
            Some(&dir.path().join("t.vcd")),
        )
        .unwrap();
        check(&run.traces, &expected(&seqs, d, ky));
        assert!(run.cycles.iter().all(|&c| c >= 5), "{:?}", run.cycles);
        assert!(dir.path().join("t.vcd").is_file());
    }
}

/// The design builds in a Verilator cache (not its runtime folder, nor its lock files).
fn builds(cache: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("verilator-") && !name.starts_with("verilator-runtime-")
        })
        .collect()
}

#[test]
fn verilator_harness_reads_every_step_and_caches_builds() {
    if require_tool("verilator").is_none() {
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    for (m, kx, d, ky) in [(1usize, 8u32, 2usize, 12u32), (3, 16, 5, 40)] {
        let work = tempfile::tempdir().unwrap();
        let seqs = sequences(m, kx);
        let dut = dut(m, kx, d, ky);
        // With a VCD first: that build (with --trace) serves the run without one too.
        let vcd = work.path().join("v.vcd");
        let first = run_verilator(&dut, &seqs, cache.path(), work.path(), Some(&vcd)).unwrap();
        check(&first.traces, &expected(&seqs, d, ky));
        assert!(first.build.as_millis() > 0);
        assert!(vcd.is_file());
        let again = run_verilator(&dut, &seqs, cache.path(), work.path(), None).unwrap();
        assert_eq!(
            again.build.as_millis(),
            0,
            "the second run must reuse the cached build"
        );
        check(&again.traces, &expected(&seqs, d, ky));
        assert_eq!(first.cycles, again.cycles);
    }
    // A third design asked for by two threads at once is built once: the second waits for
    // the first's build (the entry's lock) and runs it. (With VCDs, like the builds above, so
    // that all three share one runtime folder.)
    let (m, kx, d, ky) = (2usize, 8u32, 3usize, 20u32);
    let (dut, seqs) = (dut(m, kx, d, ky), sequences(m, kx));
    let runs: Vec<qornn_tools::cosim::CosimRun> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let work = tempfile::tempdir().unwrap();
                    let vcd = work.path().join("v.vcd");
                    run_verilator(&dut, &seqs, cache.path(), work.path(), Some(&vcd)).unwrap()
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    for run in &runs {
        check(&run.traces, &expected(&seqs, d, ky));
    }
    let built: Vec<bool> = runs.iter().map(|r| r.build.as_millis() > 0).collect();
    assert_eq!(
        built.iter().filter(|&&b| b).count(),
        1,
        "one of two simultaneous runs builds: {built:?}"
    );
    // The Verilator runtime is compiled by the first design's build only: the others link
    // the objects it kept (`cosim/runtime.rs`).
    let compiled_runtime: Vec<bool> = builds(cache.path())
        .into_iter()
        .map(|entry| {
            let log = std::fs::read_to_string(entry.join("build.log")).unwrap();
            log.contains("verilated.cpp")
        })
        .collect();
    assert_eq!(compiled_runtime.len(), 3);
    assert_eq!(
        compiled_runtime.iter().filter(|&&c| c).count(),
        1,
        "exactly one build compiles verilated.cpp"
    );
    // The headers every model file starts with are precompiled by the first build, kept
    // beside the runtime objects, and used by both builds: g++ warns (-Winvalid-pch) when it
    // has to read their text instead.
    let runtime = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().contains("runtime"))
        .expect("a runtime folder");
    for class in ["fast", "slow"] {
        let pch = runtime.join("pch").join(class).join("qornn_pch.h.gch");
        assert!(pch.is_file(), "{} missing", pch.display());
    }
    let logs: Vec<String> = builds(cache.path())
        .into_iter()
        .map(|entry| std::fs::read_to_string(entry.join("build.log")).unwrap())
        .collect();
    let precompiles = |log: &String| log.contains("-x c++-header");
    assert_eq!(logs.iter().filter(|l| precompiles(l)).count(), 1);
    // The first build compiles nothing that includes a header before precompiling it: g++
    // would read the header's text without a word. (make prints each command as it starts.)
    let first = logs.iter().find(|l| precompiles(l)).unwrap();
    for class in ["fast", "slow"] {
        let header = format!("pch/{class}/qornn_pch.h");
        let lines: Vec<&str> = first.lines().collect();
        let made = lines
            .iter()
            .position(|l| l.contains("-x c++-header") && l.contains(&header));
        let used = lines
            .iter()
            .position(|l| l.contains(&format!("-include {header}")));
        if let Some(used) = used {
            assert!(
                made.is_some_and(|made| made < used),
                "a {class} file was compiled before its header was precompiled:\n{first}"
            );
        }
    }
    for later in logs.iter().filter(|l| !precompiles(l)) {
        assert!(
            later.contains("-include ../../verilator-runtime-"),
            "a later build does not include the kept headers:\n{later}"
        );
    }
    for log in &logs {
        assert!(
            !log.contains("Winvalid-pch]"),
            "a header was not used:\n{log}"
        );
    }
}

/// A run without a VCD gets a build without Verilator's tracing code (slower to compile), which
/// cannot serve a later run with a VCD: that one builds with tracing.
#[test]
fn a_run_without_a_vcd_builds_without_tracing() {
    if require_tool("verilator").is_none() {
        return;
    }
    let (m, kx, d, ky) = (2usize, 4u32, 1usize, 48u32);
    let (dut, seqs) = (dut(m, kx, d, ky), sequences(m, kx));
    let work = tempfile::tempdir().unwrap();
    let cache = crate::verilator_cache();
    let traced = |build: &std::path::Path| {
        std::fs::read_dir(build.join("obj_dir"))
            .unwrap()
            .any(|f| f.unwrap().file_name().to_string_lossy().contains("__Trace"))
    };
    let plain = run_verilator(&dut, &seqs, &cache, work.path(), None).unwrap();
    check(&plain.traces, &expected(&seqs, d, ky));
    let vcd = work.path().join("v.vcd");
    let with_vcd = run_verilator(&dut, &seqs, &cache, work.path(), Some(&vcd)).unwrap();
    check(&with_vcd.traces, &expected(&seqs, d, ky));
    assert!(vcd.is_file());
    let builds: Vec<std::path::PathBuf> = [&plain, &with_vcd]
        .iter()
        .map(|run| {
            let exe = run
                .executable
                .as_ref()
                .expect("Verilator names its executable");
            exe.parent().unwrap().parent().unwrap().to_owned()
        })
        .collect();
    assert_ne!(builds[0], builds[1], "one build cannot serve both runs");
    assert!(
        !traced(&builds[0]),
        "the build for the run without a VCD has tracing code"
    );
    assert!(
        traced(&builds[1]),
        "the build for the VCD has no tracing code"
    );
}
