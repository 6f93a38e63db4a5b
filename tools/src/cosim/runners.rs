//! Building and running the external simulators: the Verilator build cache (built aside,
//! stamped, validated before use) and the Icarus compile-and-run.

use super::cache::{cached_build, hold, BUILD_STAMP};
use super::protocol::*;
use super::testbench::*;
use super::*;
use crate::external::{run_logged, ToolError};
use qornn_sim::Sequence;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::time::Duration;

/// A stable hash of some text (for the build cache's folder names).
pub(super) fn hash_of(parts: &[&str]) -> String {
    let mut h = DefaultHasher::new();
    for p in parts {
        p.hash(&mut h);
    }
    format!("{:016x}", h.finish())
}

pub(super) fn write(path: &Path, text: &str) -> Result<(), CosimError> {
    std::fs::write(path, text).map_err(|source| CosimError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Whether a Verilator build can write a VCD. `--trace` adds the tracing code to the model,
/// which only costs build time: `qornn cosim --sim golden,verilator` on a random n = 64 core
/// with the cache's runtime already built took 3.0 s (3.8 s of CPU) without it and 4.3 s
/// (5.6 s) with it, and the simulations ran equally fast. So a run gets tracing only when it
/// asks for a VCD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tracing {
    /// No tracing code: the model cannot write a VCD.
    Off,
    /// Built with `--trace`: the model writes a VCD when its harness is given a file.
    Vcd,
}

impl Tracing {
    /// The builds that can serve a run asking for `self`, best first: a build with tracing
    /// serves a run without it too (cached from an earlier run with a VCD), never the reverse.
    fn served_by(self) -> &'static [Tracing] {
        match self {
            Tracing::Off => &[Tracing::Off, Tracing::Vcd],
            Tracing::Vcd => &[Tracing::Vcd],
        }
    }
}

/// Verilator's arguments before the top module and the files: C++ (with a VCD tracer if
/// `tracing` asks for one), every register and memory starting at zero (as in the golden
/// model), lint left to `hdl_verilog`'s own lint test.
pub(super) fn verilator_flags(tracing: Tracing) -> Vec<String> {
    let trace: &[&str] = match tracing {
        Tracing::Off => &[],
        Tracing::Vcd => &["--trace"],
    };
    ["--cc", "--exe", "-O2"]
        .iter()
        .chain(trace)
        .chain(&[
            "-Wno-fatal",
            "-Wno-WIDTH",
            "-Wno-lint",
            "-Wno-style",
            "--x-assign",
            "0",
            "--x-initial",
            "0",
            "-j",
            "2",
        ])
        .map(|s| s.to_string())
        .collect()
}

/// The Verilator version line (part of the build cache key).
pub(super) fn verilator_version() -> Result<String, CosimError> {
    let out = crate::external::output_of("verilator", &["--version"])?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Build the Verilator model of `dut` into the cache folder `entry`: in a temporary folder
/// beside it, renamed into place only once the executable and its stamp are complete, so an
/// interrupted build never leaves an entry that later runs trust. Returns the build time.
fn build_verilator(
    verilog: &str,
    top: &str,
    harness: &str,
    entry: &Path,
    exe_name: &str,
    version: &str,
    tracing: Tracing,
) -> Result<Duration, CosimError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| CosimError::Io { path, source }
    };
    let cache = entry.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(cache).map_err(io(cache))?;
    // Folders of builds that a killed run left behind.
    qornn_sim::atomic::remove_stale_temporaries(cache);
    let tmp = qornn_sim::atomic::temporary_beside(entry).map_err(io(entry))?;
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    write(&tmp.join("design.v"), verilog)?;
    write(&tmp.join("harness.cpp"), harness)?;
    let flags = verilator_flags(tracing);
    let args: Vec<String> = flags
        .iter()
        .cloned()
        .chain([
            "--top-module".into(),
            top.to_string(),
            "design.v".into(),
            "harness.cpp".into(),
        ])
        .collect();
    // A failed build keeps its temporary folder, so that the log it names can be read; the
    // next build into this cache removes it once this process is gone.
    let mut took = run_logged("verilator", &args, &tmp, &tmp.join("verilate.log"))?;
    let obj_dir = tmp.join("obj_dir");
    let prefix = format!("V{top}");
    let classes_mk = obj_dir.join(format!("{prefix}_classes.mk"));
    let classes = std::fs::read_to_string(&classes_mk).map_err(io(&classes_mk))?;
    let runtime_objects = runtime::global_objects(&classes);
    let runtime_dir = runtime::runtime_dir(cache, version, &flags);
    // The first builds into a cache make its runtime one at a time: the others wait and
    // take it rather than compile it beside it.
    let _runtime = (!runtime::is_complete(&runtime_dir))
        .then(|| hold(cache, &runtime_dir))
        .transpose()?;
    let plan = runtime::plan(&runtime_dir, &obj_dir, &runtime_objects).map_err(io(&obj_dir))?;
    let makefile = obj_dir.join("qornn.mk");
    write(&makefile, &runtime::makefile(&prefix, &plan))?;
    let make: Vec<String> = ["-j", "2", "-f", "qornn.mk", exe_name]
        .map(String::from)
        .to_vec();
    took += run_logged("make", &make, &obj_dir, &tmp.join("build.log"))?;
    if !plan.seeded {
        runtime::keep(&runtime_dir, &obj_dir, &runtime_objects);
    }
    let built = tmp.join("obj_dir").join(exe_name);
    let len = std::fs::metadata(&built)
        .ok()
        .filter(|m| m.is_file() && m.len() > 0)
        .map(|m| m.len())
        .ok_or_else(|| CosimError::Cache {
            dir: entry.to_owned(),
            problem: format!(
                "Verilator reported success but did not build {} (its log: {})",
                built.display(),
                tmp.join("build.log").display()
            ),
        })?;
    qornn_sim::atomic::write(&tmp.join(BUILD_STAMP), len.to_string().as_bytes())
        .map_err(io(&tmp.join(BUILD_STAMP)))?;
    if let Err(e) = std::fs::rename(&tmp, entry) {
        // Another run may have built the same design meanwhile; its entry is as good.
        let _ = std::fs::remove_dir_all(&tmp);
        if cached_build(entry, &entry.join("obj_dir").join(exe_name)) != Ok(true) {
            return Err(CosimError::Cache {
                dir: entry.to_owned(),
                problem: format!("cannot move the new build into {}: {e}", entry.display()),
            });
        }
    }
    qornn_sim::atomic::sync_dir(cache);
    Ok(took)
}

/// A Verilator executable from the build cache.
#[derive(Debug, Clone)]
pub struct VerilatorBuild {
    /// The executable.
    pub exe: std::path::PathBuf,
    /// Its cache folder (delete it to force a rebuild).
    pub entry: std::path::PathBuf,
    /// How long building it took (zero when it came from the cache).
    pub build_time: Duration,
}

/// The Verilator executable of `verilog` (top module `top`) with the C++ `harness`, from the
/// build cache under `cache` (one folder per hash of the design, the harness, the Verilator
/// version and its arguments), built there first if no build that serves `tracing` is there
/// (a damaged one is removed and rebuilt).
pub fn verilator_build(
    verilog: &str,
    top: &str,
    harness: &str,
    cache: &Path,
    tracing: Tracing,
) -> Result<VerilatorBuild, CosimError> {
    let cache = &std::path::absolute(cache).unwrap_or_else(|_| cache.to_owned());
    let version = verilator_version()?;
    let entry_of = |t: Tracing| {
        let flags = verilator_flags(t).join(" ");
        cache.join(format!(
            "verilator-{}",
            hash_of(&[verilog, harness, &version, &flags])
        ))
    };
    let exe_name = format!("V{top}");
    let entry = entry_of(tracing);
    let exe = entry.join("obj_dir").join(&exe_name);
    // Another process or test thread may be building this very design into the cache: wait
    // for it and take its build, rather than compile the same C++ twice.
    let _building = hold(cache, &entry)?;
    for &t in tracing.served_by() {
        let served = entry_of(t);
        let served_exe = served.join("obj_dir").join(&exe_name);
        match cached_build(&served, &served_exe) {
            Ok(true) => {
                return Ok(VerilatorBuild {
                    exe: served_exe,
                    entry: served,
                    build_time: Duration::ZERO,
                })
            }
            Ok(false) => {}
            // Only the entry whose lock this run holds is removed; another kind of build
            // that is damaged is just not used.
            Err(why) if served == entry => {
                eprintln!(
                    "cosim: the cached Verilator build {} is unusable ({why}); rebuilding it",
                    entry.display()
                );
                match std::fs::remove_dir_all(&entry) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(CosimError::Cache {
                            dir: entry.clone(),
                            problem: format!("cannot remove the unusable cached build: {e}"),
                        })
                    }
                    _ => {}
                }
            }
            Err(_) => {}
        }
    }
    // Errors about the cache say which folder to delete to clear it.
    let in_cache = |e: CosimError| match e {
        CosimError::Io { path, source } => CosimError::Cache {
            dir: entry.clone(),
            problem: format!("{}: {source}", path.display()),
        },
        e => e,
    };
    let build_time = build_verilator(verilog, top, harness, &entry, &exe_name, &version, tracing)
        .map_err(in_cache)?;
    Ok(VerilatorBuild {
        exe,
        entry,
        build_time,
    })
}

/// Run the sequences under Verilator. `cache` holds the builds (one folder per design hash);
/// `work` gets the stimulus, the outputs and, with `vcd`, the trace.
pub fn run_verilator(
    dut: &Dut,
    seqs: &[Sequence],
    cache: &Path,
    work: &Path,
    vcd: Option<&Path>,
) -> Result<CosimRun, CosimError> {
    // The simulator runs in `work`: every path it is given must not depend on our directory.
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_owned());
    let (cache, work) = (&absolute(cache), &absolute(work));
    let harness = verilator_harness(dut);
    let tracing = match vcd {
        Some(_) => Tracing::Vcd,
        None => Tracing::Off,
    };
    let built = verilator_build(&dut.verilog, &dut.ports.module, &harness, cache, tracing)?;
    let (exe, build, build_time) = (built.exe, built.entry, built.build_time);
    std::fs::create_dir_all(work).map_err(|source| CosimError::Io {
        path: work.to_owned(),
        source,
    })?;
    let stim = work.join("stimulus.memh");
    write(&stim, &stimulus_memh(&dut.ports, seqs))?;
    let mut args = vec![stim.display().to_string()];
    if let Some(v) = vcd {
        args.push(absolute(v).display().to_string());
    }
    let log = work.join("verilator.out");
    let exe_path = exe.display().to_string();
    let wall = run_logged(&exe_path, &args, work, &log).map_err(|e| match e {
        // The executable is there but cannot be started: a damaged cache entry.
        ToolError::Io { name, source } => CosimError::Cache {
            dir: build.clone(),
            problem: format!("cannot run `{name}`: {source}"),
        },
        e => e.into(),
    })?;
    let run = collect("verilator", dut, seqs, &log, wall, build_time)?;
    Ok(CosimRun {
        executable: Some(exe),
        ..run
    })
}

/// Run the sequences under Icarus Verilog in `work`.
pub fn run_iverilog(
    dut: &Dut,
    seqs: &[Sequence],
    work: &Path,
    vcd: Option<&Path>,
) -> Result<CosimRun, CosimError> {
    std::fs::create_dir_all(work).map_err(|source| CosimError::Io {
        path: work.to_owned(),
        source,
    })?;
    let steps: usize = seqs.iter().map(|s| s.steps()).sum();
    write(
        &work.join("stimulus.memh"),
        &stimulus_memh(&dut.ports, seqs),
    )?;
    write(&work.join("design.v"), &dut.verilog)?;
    let vcd_abs = vcd.map(|v| std::path::absolute(v).unwrap_or(v.to_owned()));
    write(
        &work.join("tb.v"),
        &iverilog_testbench(dut, steps, vcd_abs.as_deref()),
    )?;
    let args: Vec<String> = ["-g2012", "-o", "sim.vvp", "tb.v", "design.v"]
        .map(String::from)
        .to_vec();
    let build_time = run_logged("iverilog", &args, work, &work.join("iverilog.log"))?;
    let log = work.join("vvp.out");
    let wall = run_logged("vvp", &["-n".into(), "sim.vvp".into()], work, &log)?;
    collect("iverilog", dut, seqs, &log, wall, build_time)
}
