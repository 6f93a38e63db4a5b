//! Cross-crate integration tests of qornn (the files in `tests/`), and the little they share.
//!
//! Tests that need an external tool (yosys, nextpnr, iverilog, verilator, ...) call
//! [`require_tool`]. When the environment variable `QORNN_REQUIRE_TOOLS=1` is set (CI sets it),
//! a missing tool fails the test loudly; otherwise the test says it is skipped and returns.

#![warn(missing_docs)]

use std::path::PathBuf;

/// The path of `name` on PATH, if it is there.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The path of `name`, or `None` (with a note on stderr) when it is missing and tools are not
/// required. Panics when it is missing and `QORNN_REQUIRE_TOOLS=1`.
pub fn require_tool(name: &str) -> Option<PathBuf> {
    match find_tool(name) {
        Some(p) => Some(p),
        None if tools_required() => panic!(
            "{name} is not on PATH, and QORNN_REQUIRE_TOOLS=1 says this test must run \
             (install it: see .ci/run)"
        ),
        None => {
            eprintln!(
                "SKIPPED: {name} is not on PATH (set QORNN_REQUIRE_TOOLS=1 to make this an error)"
            );
            None
        }
    }
}

/// Whether missing external tools are errors (CI) rather than skips.
pub fn tools_required() -> bool {
    std::env::var("QORNN_REQUIRE_TOOLS").is_ok_and(|v| v == "1")
}

/// A stand-in core with the real core's streaming ports, for testing the harnesses around it:
/// y_k = (Σ over the sequence of x_0) · (k + 1), with a few cycles of latency and honest
/// valid/ready on both sides.
pub fn stand_in_core(m: usize, kx: u32, d: usize, ky: u32) -> String {
    let mut outs = String::new();
    for k in 0..d {
        outs += &format!("  assign y_data[{k}*{ky} +: {ky}] = sum * {};\n", k + 1);
    }
    format!(
        r#"module stand_in (input clock, input reset, input x_valid, output x_ready, input [{xw}:0] x_data, input x_start,
                 output reg y_valid, input y_ready, output [{yw}:0] y_data);
  reg signed [{ky1}:0] sum = 0;
  reg [3:0] busy = 0;
  assign x_ready = (busy == 0) && !y_valid;
  always @(posedge clock) begin
    if (reset) begin sum <= 0; busy <= 0; y_valid <= 0; end
    else begin
      if (x_valid && x_ready) begin
        sum <= (x_start ? 0 : sum) + $signed(x_data[{kx1}:0]);
        busy <= 5;
      end else if (busy > 1) busy <= busy - 1;
      else if (busy == 1) begin busy <= 0; y_valid <= 1; end
      if (y_valid && y_ready) y_valid <= 0;
    end
  end
{outs}endmodule
"#,
        xw = m * kx as usize - 1,
        yw = d * ky as usize - 1,
        ky1 = ky - 1,
        kx1 = kx - 1,
    )
}

/// The ports of the stand-in core above (`stand_in`, m inputs of k_x bits, d outputs of k_y
/// bits), for a board top built around it.
pub fn stand_in_ports(m: usize, kx: u32, d: usize, ky: u32) -> qornn_tools::board::CorePorts {
    qornn_tools::board::CorePorts::standard("stand_in", m, kx, d, ky)
}

/// The independent i128 reference of `docs/fixed-point.md`, shared with the sim crate's tests
/// (one file, included in both test binaries).
#[path = "../sim/tests/spec_reference.rs"]
pub mod spec_reference;
pub use spec_reference::{round_half_even, round_half_up};

/// Every h_t and y_t of the reference with the rounding rule `round`, as a trace: with
/// [`round_half_even`] it is the spec; with another rule it predicts what a core with that
/// (wrong) rule computes, so mutation tests know where the difference must show.
pub fn reference_run(
    model: &qornn_sim::QuantizedModel,
    seq: &qornn_sim::Sequence,
    round: fn(i128, u32) -> i128,
) -> qornn_sim::Trace {
    reference_run_products(model, seq, round, &spec_reference::exact)
}

/// [`reference_run`] with each product of the recurrent row sums computed by `product`
/// ([`spec_reference::reference_with_products`]): what a core with that multiplier computes.
pub fn reference_run_products(
    model: &qornn_sim::QuantizedModel,
    seq: &qornn_sim::Sequence,
    round: fn(i128, u32) -> i128,
    product: &dyn Fn(spec_reference::Product) -> i128,
) -> qornn_sim::Trace {
    let (n, d) = (model.shape.hidden, model.shape.output);
    let (hs, ys) = spec_reference::reference_with_products(model, seq, round, product);
    let mut trace = qornn_sim::Trace::with_capacity(n, d, seq.steps());
    for (h, y) in hs.iter().zip(&ys) {
        let h32: Vec<i32> = h.iter().map(|&v| v as i32).collect();
        let y64: Vec<i64> = y.iter().map(|&v| v as i64).collect();
        trace.push(&h32, &y64);
    }
    trace
}

/// Run a UART testbench (`qornn_tools::board::uart_testbench_verilog` with its design) under
/// Icarus Verilog and return the bytes the host received. Panics when it does not compile or
/// does not finish.
pub fn run_uart_testbench(design: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let v = dir.path().join("tb.v");
    std::fs::write(&v, design).expect("the testbench is written");
    let exe = dir.path().join("tb.vvp");
    let c = std::process::Command::new("iverilog")
        .args(["-g2012", "-o"])
        .arg(&exe)
        .arg(&v)
        .output()
        .expect("iverilog runs");
    assert!(
        c.status.success(),
        "iverilog: {}",
        String::from_utf8_lossy(&c.stderr)
    );
    let r = std::process::Command::new("vvp")
        .arg("-n")
        .arg(&exe)
        .output()
        .expect("vvp runs");
    let text = String::from_utf8_lossy(&r.stdout);
    assert!(text.contains("DONE"), "no complete answer: {text}");
    text.lines()
        .filter_map(|l| l.strip_prefix("BYTE "))
        .map(|h| u8::from_str_radix(h.trim(), 16).expect("a hex byte"))
        .collect()
}

/// Whether every tool is on PATH (each missing one is a skip, or under
/// `QORNN_REQUIRE_TOOLS=1` a failure, as [`require_tool`] says).
pub fn require_tools(names: &[&str]) -> bool {
    names.iter().all(|t| require_tool(t).is_some())
}

/// A board design of a small random model (n = 16, m = 1, d = 4, 4-bit W, 4 lanes) for
/// `board`, written to `top.v` in a new temporary folder; with the board's constraints file.
pub struct BoardBuild {
    /// The folder (removed when dropped).
    pub dir: tempfile::TempDir,
    /// The design's Verilog.
    pub verilog: PathBuf,
    /// The board's constraints in `constraints/`.
    pub constraints: PathBuf,
    /// The design.
    pub design: qornn_tools::board::BoardDesign,
}

/// See [`BoardBuild`].
pub fn board_build(board: &str, seed: u64, link: qornn_tools::board::LinkOptions) -> BoardBuild {
    use qornn_sim::random::{random_model, RandomSpec};
    let shape = qornn_sim::Shape::new(16, 1, 4);
    let model = random_model(&RandomSpec::new(shape, 4, seed));
    let b = qornn_tools::board::board(board).expect("a known board");
    let opts = qornn_hdl::CoreOptions::new(4);
    let design = qornn_tools::board::board_design(&model, &opts, Some(b), "qornn_top", link)
        .expect("the design builds");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let verilog = dir.path().join("top.v");
    std::fs::write(&verilog, &design.verilog).expect("top.v is written");
    let constraints = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../constraints")
        .join(b.constraints);
    BoardBuild {
        dir,
        verilog,
        constraints,
        design,
    }
}
