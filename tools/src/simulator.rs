//! The four implementations of the integer step, as a type, and what a request for a
//! comparison between them must hold before anything runs.

use crate::external::{self, ToolError};
use std::fmt;
use std::str::FromStr;

/// One implementation of the integer step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Simulator {
    /// `qornn-sim`'s golden model: the reference the others are compared with.
    Golden,
    /// The core's rust-hdl cycle simulation.
    RustHdl,
    /// The emitted Verilog under Verilator.
    Verilator,
    /// The emitted Verilog under Icarus Verilog.
    Iverilog,
}

impl Simulator {
    /// Every simulator with its command-line name, in the order a full comparison runs them.
    pub const ALL: [(Simulator, &'static str); 4] = [
        (Simulator::Golden, "golden"),
        (Simulator::RustHdl, "rust-hdl"),
        (Simulator::Verilator, "verilator"),
        (Simulator::Iverilog, "iverilog"),
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        Simulator::ALL
            .iter()
            .find(|(s, _)| *s == self)
            .map_or("?", |(_, n)| n)
    }

    /// The external programs it needs (none for the two in-process ones).
    pub fn programs(self) -> &'static [&'static str] {
        match self {
            Simulator::Golden | Simulator::RustHdl => &[],
            Simulator::Verilator => &["verilator"],
            Simulator::Iverilog => &["iverilog", "vvp"],
        }
    }

    /// The first program it needs that is not installed, if any.
    pub fn missing_tool(self) -> Option<ToolError> {
        self.programs().iter().find_map(|p| external::find(p).err())
    }
}

impl fmt::Display for Simulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Simulator {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Simulator::ALL
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(sim, _)| *sim)
            .ok_or_else(|| {
                let all: Vec<&str> = Simulator::ALL.iter().map(|(_, n)| *n).collect();
                format!("unknown simulator `{s}` (one of: {})", all.join(", "))
            })
    }
}

/// Why a requested comparison would prove nothing, or cannot run.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// A simulator named twice.
    #[error("`{0}` is named twice in the simulators to run")]
    Twice(Simulator),
    /// Only the golden model: it would be compared with itself.
    #[error("nothing to compare: the golden model is the reference, so name at least one other simulator (rust-hdl, verilator, iverilog)")]
    OnlyReference,
    /// No steps in the input.
    #[error("the input has no steps (0 sequences, or only empty ones): a comparison of nothing is not a pass")]
    NoSteps,
    /// A tool is missing.
    #[error("{sim} cannot run: {source}")]
    Missing {
        /// The simulator that needs it.
        sim: Simulator,
        /// The missing program.
        source: ToolError,
    },
}

/// Check a request before running anything: no simulator twice, at least one besides the
/// golden reference, at least one step of input, and every external program present.
pub fn check_request(sims: &[Simulator], steps: usize) -> Result<(), RequestError> {
    for (i, s) in sims.iter().enumerate() {
        if sims[..i].contains(s) {
            return Err(RequestError::Twice(*s));
        }
    }
    if sims.iter().all(|s| *s == Simulator::Golden) {
        return Err(RequestError::OnlyReference);
    }
    if steps == 0 {
        return Err(RequestError::NoSteps);
    }
    for &sim in sims {
        if let Some(source) = sim.missing_tool() {
            return Err(RequestError::Missing { sim, source });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for (sim, name) in Simulator::ALL {
            assert_eq!(name.parse::<Simulator>().unwrap(), sim);
            assert_eq!(sim.to_string(), name);
        }
        assert!("modelsim"
            .parse::<Simulator>()
            .unwrap_err()
            .contains("one of"));
    }

    #[test]
    fn vacuous_requests_are_refused() {
        use Simulator::*;
        assert!(matches!(
            check_request(&[Golden], 10),
            Err(RequestError::OnlyReference)
        ));
        assert!(matches!(
            check_request(&[RustHdl, RustHdl], 10),
            Err(RequestError::Twice(RustHdl))
        ));
        assert!(matches!(
            check_request(&[Golden, RustHdl], 0),
            Err(RequestError::NoSteps)
        ));
        assert!(check_request(&[Golden, RustHdl], 1).is_ok());
        assert!(check_request(&[RustHdl], 1).is_ok());
    }
}
