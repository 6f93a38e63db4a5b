//! What a build produced: resource use, Fmax, throughput at Fmax, and the parsers of the
//! tools' own reports (yosys `stat -json`, nextpnr `--report`, nextpnr's log).

use super::{Resource, SynthError, Target};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Use of one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Used by the design.
    pub used: u64,
    /// On the device.
    pub available: u64,
}

impl Usage {
    /// The design needs no more than the device has.
    pub fn fits(self) -> bool {
        self.used <= self.available
    }
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
    /// MACs the lanes do per cycle in the recurrent phase: P, or 2P with packed lanes.
    #[serde(default)]
    pub macs_per_cycle: usize,
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
    /// The facts of a core built for `model`.
    pub fn of(cfg: &qornn_hdl::CoreConfig, model: &qornn_sim::QuantizedModel) -> CoreFacts {
        CoreFacts {
            cycles_per_step: cfg.cycles_per_step(),
            // n·(n + m) for W and U, d·n for V.
            macs_per_step: (cfg.hidden * (cfg.hidden + cfg.input) + cfg.output * cfg.hidden) as u64,
            weight_memory_bits: model.memory_bits(),
            lanes: cfg.lanes,
            macs_per_cycle: cfg.macs_per_cycle(),
        }
    }

    /// The share of the lanes' peak (`macs_per_cycle` × Fmax) that the step's MACs use: below
    /// 1 by the output phase's single rows, the partial last blocks and the pipeline's fill.
    pub fn lane_utilisation(&self) -> f64 {
        self.macs_per_step as f64
            / (self.macs_per_cycle.max(1) as u64 * self.cycles_per_step.max(1)) as f64
    }

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
                "- {} lanes ({} MACs per cycle), {} cycles per step: **{} steps/s**, {:.2} GMAC/s at Fmax ({:.0} % of the lanes' peak {:.2} GMAC/s)\n- weight memory: {} bits\n",
                core.lanes,
                core.macs_per_cycle,
                core.cycles_per_step,
                grouped(tp.steps_per_second as u64),
                tp.macs_per_second / 1e9,
                100.0 * core.lane_utilisation(),
                core.macs_per_cycle as f64 * f / 1e3,
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

/// The first line of nextpnr's utilisation table whose use exceeds what the device has.
pub(super) fn utilisation_over(log: &str) -> Option<(u64, u64)> {
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
pub(super) fn read_report_json(path: &Path) -> Result<serde_json::Value, SynthError> {
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
pub(super) fn top_port_bits(path: &Path, top: &str) -> Result<u64, SynthError> {
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

/// What nextpnr's report says.
#[derive(Debug, Clone, PartialEq)]
pub struct PnrReport {
    /// Resources used, as nextpnr counts them after packing.
    pub used: Vec<(Resource, Usage)>,
    /// Achieved Fmax per clock (MHz).
    pub fmax_mhz: BTreeMap<String, f64>,
}

impl PnrReport {
    /// The lowest Fmax over all clocks (0 when none was timed).
    pub fn worst_fmax(&self) -> f64 {
        self.fmax_mhz
            .values()
            .copied()
            .reduce(f64::min)
            .unwrap_or(0.0)
    }
}

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
    Ok(PnrReport {
        used,
        fmax_mhz: fmax,
    })
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
        let pnr = read_pnr_report(&rep, Target::ICE40_UP5K).unwrap();
        assert!(pnr.used.contains(&(
            Resource::Dsps,
            Usage {
                used: 1,
                available: 8
            }
        )));
        assert!(pnr.used.contains(&(
            Resource::Luts,
            Usage {
                used: 12,
                available: 5280
            }
        )));
        assert_eq!(pnr.fmax_mhz["clk"], 127.9);
        assert_eq!(pnr.worst_fmax(), 127.9);
        std::fs::write(&rep, "{\"fmax\": ").unwrap();
        assert!(matches!(
            read_pnr_report(&rep, Target::ICE40_UP5K),
            Err(SynthError::Report { .. })
        ));
    }
}
