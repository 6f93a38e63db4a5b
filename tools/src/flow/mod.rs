//! `qornn flow`: from a task to a verified, synthesised core in one run, with a report.
//!
//! Stages, each timed and announced: train → export (PTQ of the activations, float /
//! fake-quant / integer side by side) → co-simulate the core (golden vs rust-hdl on short
//! sequences, vs Verilator on whole test sequences, vs Icarus on one) and compare VCDs → emit
//! Verilog → synthesise (when the tools are there; otherwise the report says how to get them)
//! → `report.md`, `report.html`, `report.json` and the plots. A failed stage stops the flow with
//! its message; everything produced so far stays, and the report says where it stopped.
//!
//! Everything the command line can set is a field of [`FlowConfig`] (TOML); the resolved
//! configuration is written beside the report (`flow.toml`) so a run can be repeated exactly.

mod config;
mod plots;
mod report;
mod stages;

pub use config::{ExportSection, FlowConfig, HardwareSection, SynthMode, TrainSection};
pub use report::{markdown, CosimRow, FlowReport, StageLog, SynthPoint};
pub use stages::run;

use std::path::PathBuf;
use thiserror::Error;

/// Why the flow stopped.
#[derive(Debug, Error)]
pub enum FlowError {
    /// The configuration is wrong.
    #[error("flow configuration: {0}")]
    Config(String),
    /// A stage failed.
    #[error("stage `{stage}` failed: {message}")]
    Stage {
        /// The stage.
        stage: &'static str,
        /// What went wrong.
        message: String,
    },
    /// Another run holds the output folder.
    #[error(transparent)]
    Locked(#[from] crate::lock::LockError),
    /// The co-simulation found a difference: the flow stops there.
    #[error("co-simulation mismatch: {0}")]
    Mismatch(String),
    /// An output could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The reason.
        source: std::io::Error,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use qornn_hdl::Multipliers;
    use qornn_quant::bptt::Activation;
    use qornn_quant::model::Init;
    use qornn_quant::optim::OptimizerKind;

    #[test]
    fn an_empty_file_is_the_default_flow_and_the_config_round_trips() {
        let c = FlowConfig::from_toml("").unwrap();
        assert_eq!(c, FlowConfig::default());
        let again = FlowConfig::from_toml(&c.to_toml()).unwrap();
        assert_eq!(again, c);
        let t = c.train_config().unwrap();
        assert_eq!((t.hidden, t.bits), (64, 4));
        let long = FlowConfig::from_toml(
            "[train]\ndelay = 1000\ninit = \"shift\"\northo_lr_factor = 0.01\nclip = 1.0",
        )
        .unwrap()
        .train_config()
        .unwrap();
        assert_eq!(long.init, Init::Shift);
        assert_eq!((long.ortho_lr_factor, long.clip), (0.01, 1.0));
    }

    #[test]
    fn configuration_names_are_the_checkpoint_names() {
        let json = |v: serde_json::Value| v.as_str().unwrap().to_string();
        for (v, n) in Activation::ALL {
            assert_eq!(json(serde_json::to_value(v).unwrap()), n);
        }
        for (v, n) in OptimizerKind::ALL {
            assert_eq!(json(serde_json::to_value(v).unwrap()), n);
        }
        for (v, n) in Init::ALL {
            assert_eq!(json(serde_json::to_value(v).unwrap()), n);
        }
    }

    #[test]
    fn bad_configurations_say_what_is_wrong() {
        for (text, needle) in [
            ("[train]\ntask = \"sorting\"", "sorting"),
            ("[train]\nmethod = \"magic\"", "magic"),
            ("[train]\nmethod = \"lstm\"", "float reference"),
            ("[train]\nhidden = \"big\"", "hidden"),
            ("[trian]\nhidden = 3", "trian"),
            ("[train]\ntask = \"smnist\"", "train.data"),
            ("[train]\ninit = \"identity\"", "identity"),
            ("[train]\northo_lr_factor = -1.0", "learning-rate factor"),
            ("[train]\nclip = -2.0", "clipping"),
            (
                "[train]\ninit = \"shift\"\nactivation = \"relu\"",
                "modrelu",
            ),
        ] {
            let err = FlowConfig::from_toml(text)
                .and_then(|c| c.train_config().map(|_| ()))
                .unwrap_err();
            assert!(err.to_string().contains(needle), "{text}: {err}");
        }
        // The hardware table is typed: a wrong word is refused where the file is read, and the
        // message names its key.
        for (text, needles) in [
            (
                "[hardware]\ntargets = [\"xc7a35t\"]",
                ["hardware.targets", "xc7a35t"],
            ),
            ("[hardware]\nsynth = \"maybe\"", ["hardware.synth", "maybe"]),
            (
                "[hardware]\nmultipliers = \"dps\"",
                ["hardware.multipliers", "dps"],
            ),
        ] {
            let err = FlowConfig::from_toml(text).unwrap_err().to_string();
            assert!(needles.iter().all(|n| err.contains(n)), "{text}: {err}");
        }
        let c = FlowConfig::from_toml(
            "[hardware]\nmultipliers = \"mixed:3\"\nsynth = \"off\"\ntargets = [\"ecp5-25k\"]",
        )
        .unwrap();
        assert_eq!(c.hardware.multipliers, Multipliers::Mixed { dsp_lanes: 3 });
        assert_eq!(c.hardware.synth, SynthMode::Off);
        assert_eq!(c.hardware.targets, [crate::synth::Target::ECP5_25K]);
        assert_eq!(FlowConfig::from_toml(&c.to_toml()).unwrap(), c);
    }
}
