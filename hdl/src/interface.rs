//! The core's streaming interface as other Verilog sees it: the port names and widths that a
//! board top, a generated testbench or a user's own top instantiates (`docs/core.md`,
//! "Interface and timing").

/// The core's streaming interface, as the board top instantiates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorePorts {
    /// The core's module name.
    pub module: String,
    /// Clock input.
    pub clock: String,
    /// Synchronous reset input (active high).
    pub reset: String,
    /// Input handshake: valid (in), ready (out), data (in), start-of-sequence flag (in).
    pub x_valid: String,
    /// See `x_valid`.
    pub x_ready: String,
    /// See `x_valid`; m codes of `input_bits`, element 0 in the low bits.
    pub x_data: String,
    /// See `x_valid`.
    pub x_start: String,
    /// Output handshake: valid (out), ready (in), data (out).
    pub y_valid: String,
    /// See `y_valid`.
    pub y_ready: String,
    /// See `y_valid`; d accumulators of `output_bits`, element 0 in the low bits.
    pub y_data: String,
    /// Inputs per step m.
    pub inputs: usize,
    /// Bits per input code.
    pub input_bits: u32,
    /// Outputs per step d.
    pub outputs: usize,
    /// Bits per output.
    pub output_bits: u32,
    /// The weight load port, on a core with run-time weights.
    pub load: Option<LoadPorts>,
}

/// `write!` with a core's port names ([`CorePorts`] `$ports`) as the named arguments
/// `{module}`, `{clock}`, `{reset}`, `{x_valid}`, `{x_ready}`, `{x_data}`, `{x_start}`,
/// `{y_valid}`, `{y_ready}` and `{y_data}`, then any further arguments. The board top and the
/// generated testbenches (`qornn`'s co-simulation) instantiate the core through it, so the
/// port list is spelled once; a template must use all ten (an unused named argument does not
/// compile). `std::fmt::Write` (or `std::io::Write`) must be in scope, as for `write!`.
#[macro_export]
macro_rules! write_with_ports {
    ($out:expr, $ports:expr, $fmt:literal, $($rest:tt)*) => {
        write!(
            $out,
            $fmt,
            module = $ports.module,
            clock = $ports.clock,
            reset = $ports.reset,
            x_valid = $ports.x_valid,
            x_ready = $ports.x_ready,
            x_data = $ports.x_data,
            x_start = $ports.x_start,
            y_valid = $ports.y_valid,
            y_ready = $ports.y_ready,
            y_data = $ports.y_data,
            $($rest)*
        )
    };
}

/// The byte-wide weight load port of a core with run-time weights ([`crate::load`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadPorts {
    /// A byte of the image (in).
    pub valid: String,
    /// It is the image's first byte (in).
    pub first: String,
    /// The byte, 8 bits (in).
    pub byte: String,
}

impl CorePorts {
    /// The ports of the emitted qornn core (`docs/core.md`) named `module`.
    pub fn qornn_core(module: &str, cfg: &crate::CoreConfig) -> Self {
        let ports = Self::standard(
            module,
            cfg.input,
            cfg.input_bits,
            cfg.output,
            cfg.output_accumulator_bits,
        );
        CorePorts {
            load: cfg.weights.loaded().then(|| LoadPorts {
                valid: "load_valid".into(),
                first: "load_first".into(),
                byte: "load_byte".into(),
            }),
            ..ports
        }
    }

    /// The documented port names (`clock`, `reset`, `x_valid`, …, `y_data`) on a module with
    /// `inputs` codes of `input_bits` in and `outputs` values of `output_bits` out.
    pub fn standard(
        module: &str,
        inputs: usize,
        input_bits: u32,
        outputs: usize,
        output_bits: u32,
    ) -> Self {
        let s = |x: &str| x.to_string();
        CorePorts {
            module: s(module),
            clock: s("clock"),
            reset: s("reset"),
            x_valid: s("x_valid"),
            x_ready: s("x_ready"),
            x_data: s("x_data"),
            x_start: s("x_start"),
            y_valid: s("y_valid"),
            y_ready: s("y_ready"),
            y_data: s("y_data"),
            inputs,
            input_bits,
            outputs,
            output_bits,
            load: None,
        }
    }
}
