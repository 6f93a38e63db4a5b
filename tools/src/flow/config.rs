//! The flow's settings: the TOML file, its defaults, and every check made before training.

use super::FlowError;
use crate::synth::Target;
use qornn_hdl::{CoreOptions, Multipliers};
use qornn_quant::train::TrainConfig;
use serde::{Deserialize, Serialize};

/// The whole flow's settings. Every field has a default: an empty file is the default flow
/// (copy task, n = 64, 4-bit STE-Björck, 8 lanes, iCE40 UP5K).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FlowConfig {
    /// Training.
    pub train: TrainSection,
    /// Export of the integer model.
    pub export: ExportSection,
    /// The core, its simulations and synthesis.
    pub hardware: HardwareSection,
}

/// The `[train]` table: the training vocabulary, with the flow's defaults for missing keys.
pub type TrainSection = crate::settings::TrainSettings;

/// The `[export]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExportSection {
    /// Hidden-state bits of the exported model.
    pub activation_bits: u32,
    /// Widths compared in the float / fake-quant / integer table and plot.
    pub compare_activation_bits: Vec<u32>,
}

impl Default for ExportSection {
    fn default() -> Self {
        ExportSection {
            activation_bits: 12,
            compare_activation_bits: vec![6, 8, 10, 12, 16],
        }
    }
}

/// The `[hardware]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HardwareSection {
    /// MAC lanes of the core that is simulated and emitted.
    pub lanes: usize,
    /// The lanes' multipliers (`dsp`, `lut`, `packed` or `mixed:N`).
    pub multipliers: Multipliers,
    /// Test sequences simulated in rust-hdl.
    pub rust_hdl_sequences: usize,
    /// Test sequences simulated under Verilator (whole sequences).
    pub verilator_sequences: usize,
    /// Test sequences simulated under Icarus Verilog.
    pub iverilog_sequences: usize,
    /// Whether to synthesise.
    pub synth: SynthMode,
    /// Devices to synthesise for.
    pub targets: Vec<Target>,
    /// Lane counts to synthesise (resources and speed against lanes); empty: just `lanes`.
    pub synth_lanes: Vec<usize>,
    /// Placer seed.
    pub seed: u64,
}

impl Default for HardwareSection {
    fn default() -> Self {
        HardwareSection {
            lanes: 8,
            multipliers: Multipliers::Dsp,
            rust_hdl_sequences: 4,
            verilator_sequences: 200,
            iverilog_sequences: 1,
            synth: SynthMode::Auto,
            targets: vec![Target::ICE40_UP5K],
            synth_lanes: vec![2, 4, 8],
            seed: 1,
        }
    }
}

impl FlowConfig {
    /// Parse a TOML configuration (unknown keys are errors; an error names its key).
    pub fn from_toml(text: &str) -> Result<FlowConfig, FlowError> {
        let de = toml::Deserializer::new(text);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            FlowError::Config(if key == "." {
                inner.to_string()
            } else {
                format!("{key}: {inner}")
            })
        })
    }

    /// The configuration as TOML (the resolved one, with every default written out).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a flow configuration serialises")
    }

    /// The training configuration it describes, refusing a float-only method: the flow
    /// exports and builds hardware, so it refuses such a network before training it.
    pub fn train_config(&self) -> Result<TrainConfig, FlowError> {
        let c = self
            .train
            .config()
            .map_err(|e| FlowError::Config(e.to_string()))?;
        if !c.method.exportable() {
            return Err(FlowError::Config(format!(
                "train.method `{}`: {}",
                c.method,
                qornn_quant::export::ExportError::FloatReference(c.method.name())
            )));
        }
        Ok(c)
    }

    /// Check every setting that can be checked before training, naming the TOML key: the
    /// training settings, the export widths, lanes against n, the synthesis mode, targets and
    /// lane counts, the co-simulation sizes.
    pub fn check(&self) -> Result<(), FlowError> {
        let bad = |m: String| Err(FlowError::Config(m));
        self.train_config()?;
        let e = &self.export;
        qornn_quant::export::check_activation_bits("export.activation_bits", &[e.activation_bits])
            .map_err(FlowError::Config)?;
        qornn_quant::export::check_activation_bits(
            "export.compare_activation_bits",
            &e.compare_activation_bits,
        )
        .map_err(FlowError::Config)?;
        let hw = &self.hardware;
        let n = self.train.hidden;
        if hw.lanes == 0 || hw.lanes > n {
            return bad(format!(
                "hardware.lanes = {}: a core of n = {n} rows takes 1 to {n} lanes",
                hw.lanes
            ));
        }
        if let Some(p) = hw.synth_lanes.iter().find(|&&p| p == 0 || p > n) {
            return bad(format!(
                "hardware.synth_lanes holds {p}: a core of n = {n} rows takes 1 to {n} lanes"
            ));
        }
        if let Some((i, p)) = hw
            .synth_lanes
            .iter()
            .enumerate()
            .find(|(i, p)| hw.synth_lanes[..*i].contains(p))
        {
            return bad(format!(
                "hardware.synth_lanes names {p} twice (entry {})",
                i + 1
            ));
        }
        let targets = &hw.targets;
        if targets.is_empty() && hw.synth != SynthMode::Off {
            return bad(
                "hardware.targets is empty: name a device, or set hardware.synth = \"off\"".into(),
            );
        }
        if let Some((i, t)) = targets
            .iter()
            .enumerate()
            .find(|(i, t)| targets[..*i].contains(t))
        {
            return bad(format!(
                "hardware.targets names {t} twice (entry {})",
                i + 1
            ));
        }
        if hw.rust_hdl_sequences == 0 {
            return bad(
                "hardware.rust_hdl_sequences = 0: the co-simulation would compare nothing".into(),
            );
        }
        Ok(())
    }

    /// The core options of `lanes` lanes with the configured multipliers.
    pub fn core_options(&self, lanes: usize) -> CoreOptions {
        CoreOptions::with(lanes, self.hardware.multipliers)
    }
}

/// `hardware.synth`: whether the flow synthesises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SynthMode {
    /// When the tools are installed; skipped, and said so in the report, when one is missing.
    Auto,
    /// Always: a missing tool fails the stage.
    On,
    /// Never.
    Off,
}
