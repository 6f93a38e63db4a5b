//! Co-simulation of the emitted Verilog under Verilator (the fast path) and Icarus Verilog
//! (the second opinion), with testbenches generated here, collecting every step's outputs and
//! hidden state so they can be compared with the golden model.
//!
//! Both testbenches read the same stimulus file (`$readmemh` format, one word per step:
//! `{x_data, start}`, start-of-sequence in bit 0) and print one line per step:
//! `STEP <cycles> <y_data hex> <h_data hex>`. Verilator builds are cached by a hash of the
//! design, the harness and the Verilator version, so repeated runs do not rebuild.

use crate::board::CorePorts;
use crate::external::{find, run_logged, ToolError};
use crate::report::Table;
use crate::simulator::{check_request, Simulator};
use qornn_hdl::harness::{self, Outputs};
use qornn_hdl::CoreOptions;
use qornn_sim::{Golden, QuantizedModel, Sequence, Trace};
use std::collections::hash_map::DefaultHasher;
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use thiserror::Error;

/// A co-simulation could not run, or its output could not be read.
#[derive(Debug, Error)]
pub enum CosimError {
    /// A tool is missing or failed.
    #[error(transparent)]
    Tool(#[from] ToolError),
    /// A file could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The reason.
        source: std::io::Error,
    },
    /// The rust-hdl core could not be built or simulated.
    #[error(transparent)]
    Hdl(qornn_hdl::HdlError),
    /// An entry of the Verilator build cache cannot be used or made.
    #[error("{problem} (to clear the Verilator build cache, delete the folder {})", dir.display())]
    Cache {
        /// The cache entry.
        dir: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The request does not make sense (an unknown simulator, an invalid model).
    #[error("{0}")]
    Usage(String),
    /// The simulation's output is not what the testbench prints.
    #[error("cannot read the {sim} output: {problem}")]
    Output {
        /// The simulator.
        sim: &'static str,
        /// What is wrong.
        problem: String,
    },
}

/// The debug port that shows h_t, when the core has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HiddenPort {
    /// Port name (n codes of `bits`, element 0 in the low bits).
    pub name: String,
    /// n.
    pub hidden: usize,
    /// Bits per code.
    pub bits: u32,
}

/// The design under test.
#[derive(Debug, Clone)]
pub struct Dut {
    /// Self-contained Verilog of the core.
    pub verilog: String,
    /// Its streaming ports.
    pub ports: CorePorts,
    /// Its h_t debug port.
    pub hidden: Option<HiddenPort>,
}

impl Dut {
    /// Verilog text of an emitted qornn core (top module `top`) with its documented ports
    /// (`docs/core.md`) and its `h_data` debug port.
    pub fn qornn_core(verilog: String, top: &str, cfg: &qornn_hdl::CoreConfig) -> Dut {
        Dut {
            verilog,
            ports: CorePorts::qornn_core(top, cfg),
            hidden: Some(HiddenPort {
                name: "h_data".into(),
                hidden: cfg.hidden,
                bits: cfg.activation_bits,
            }),
        }
    }
}

/// The core emitted for `model` as a design under test.
pub fn core_dut(
    model: &qornn_sim::QuantizedModel,
    opts: &qornn_hdl::CoreOptions,
    top: &str,
) -> Result<Dut, qornn_hdl::HdlError> {
    let cfg = qornn_hdl::CoreConfig::new(model, opts)?;
    let verilog = qornn_hdl::verilog::emit(model, opts, top)?;
    Ok(Dut::qornn_core(verilog, top, &cfg))
}

/// What one simulator produced.
#[derive(Debug, Clone)]
pub struct CosimRun {
    /// One trace per sequence (h_t empty when the core has no hidden port).
    pub traces: Vec<Trace>,
    /// Clock cycles spent on each step (from accepting x_t to presenting y_t).
    pub cycles: Vec<u64>,
    /// Total simulated cycles.
    pub total_cycles: u64,
    /// Wall time of the simulation itself (not the build).
    pub wall: Duration,
    /// Wall time of the build (zero when the cache had it).
    pub build: Duration,
}

/// The stimulus file: one `{x_data, start}` word per step, in hex.
pub fn stimulus_memh(ports: &CorePorts, seqs: &[Sequence]) -> String {
    let kx = ports.input_bits as usize;
    let width = ports.inputs * kx + 1;
    let mut out = String::new();
    for seq in seqs {
        for t in 0..seq.steps() {
            let mut bits = vec![false; width];
            bits[0] = t == 0;
            for (j, &code) in seq.step(t).iter().enumerate() {
                for b in 0..kx {
                    bits[1 + j * kx + b] = (code >> b) & 1 == 1;
                }
            }
            out += &to_hex(&bits);
            out.push('\n');
        }
    }
    out
}

fn to_hex(bits: &[bool]) -> String {
    let digits = bits.len().div_ceil(4);
    (0..digits)
        .rev()
        .map(|d| {
            let v = (0..4).fold(0u32, |acc, b| {
                acc | ((bits.get(d * 4 + b).copied().unwrap_or(false) as u32) << b)
            });
            char::from_digit(v, 16).expect("a nibble")
        })
        .collect()
}

/// Bits of a hex string, least significant first.
fn from_hex(hex: &str) -> Option<Vec<bool>> {
    let mut bits = Vec::with_capacity(hex.len() * 4);
    for c in hex.chars().rev() {
        let v = c.to_digit(16)?;
        for b in 0..4 {
            bits.push((v >> b) & 1 == 1);
        }
    }
    Some(bits)
}

/// Field `index` of `bits` wide (at most 64), sign-extended.
fn field(bits: &[bool], index: usize, width: u32) -> i64 {
    let width = width.clamp(1, 64);
    let w = width as usize;
    let mut v: i64 = 0;
    for b in (0..w).rev() {
        v = (v << 1) | bits.get(index * w + b).copied().unwrap_or(false) as i64;
    }
    let shift = 64 - width;
    (v << shift) >> shift
}

/// Parse the `STEP` lines into traces, cutting at sequence boundaries.
fn parse_steps(
    sim: &'static str,
    text: &str,
    dut: &Dut,
    seqs: &[Sequence],
) -> Result<(Vec<Trace>, Vec<u64>), CosimError> {
    let bad = |problem: String| CosimError::Output { sim, problem };
    let p = &dut.ports;
    let n = dut.hidden.as_ref().map_or(0, |h| h.hidden);
    let mut lines = text.lines().filter(|l| l.starts_with("STEP "));
    let mut traces = Vec::with_capacity(seqs.len());
    let mut cycles = Vec::new();
    let mut y = vec![0i64; p.outputs];
    let mut h = vec![0i32; n];
    for (s, seq) in seqs.iter().enumerate() {
        let mut trace = Trace::with_capacity(n, p.outputs, seq.steps());
        for t in 0..seq.steps() {
            let line = lines.next().ok_or_else(|| {
                bad(format!(
                    "it stopped before sequence {s}, step {t} (see its log)"
                ))
            })?;
            let mut parts = line.split_whitespace().skip(1);
            let c = parts.next().and_then(|c| c.parse::<u64>().ok());
            let yb = parts.next().and_then(from_hex);
            let hb = if n > 0 {
                parts.next().and_then(from_hex)
            } else {
                Some(Vec::new())
            };
            let (Some(c), Some(yb), Some(hb)) = (c, yb, hb) else {
                return Err(bad(format!("malformed line `{line}`")));
            };
            for (k, v) in y.iter_mut().enumerate() {
                *v = field(&yb, k, p.output_bits);
            }
            if let Some(hp) = &dut.hidden {
                for (i, v) in h.iter_mut().enumerate() {
                    *v = field(&hb, i, hp.bits) as i32;
                }
            }
            trace.push(&h, &y);
            cycles.push(c);
        }
        traces.push(trace);
    }
    Ok((traces, cycles))
}

/// A stable hash of some text (for the build cache's folder names).
fn hash_of(parts: &[&str]) -> String {
    let mut h = DefaultHasher::new();
    for p in parts {
        p.hash(&mut h);
    }
    format!("{:016x}", h.finish())
}

/// The C++ harness that drives the Verilated core.
fn verilator_harness(dut: &Dut) -> String {
    let p = &dut.ports;
    let mut h = String::new();
    let _ = write!(
        h,
        r#"// Generated by qornn: drives the core step by step from a stimulus file.
#include "V{module}.h"
#include "verilated.h"
#include "verilated_vcd_c.h"
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

static bool get_bit(const std::vector<uint8_t>& bits, size_t i) {{ return i < bits.size() && bits[i]; }}
template <std::size_t N> static void put_bit(VlWide<N>& w, size_t i, bool v) {{
  if (v) w[i / 32] |= (1u << (i % 32)); else w[i / 32] &= ~(1u << (i % 32));
}}
template <typename T> static void put_bit(T& w, size_t i, bool v) {{
  if (v) w |= (T(1) << i); else w &= ~(T(1) << i);
}}
template <std::size_t N> static bool read_bit(const VlWide<N>& w, size_t i) {{ return (w[i / 32] >> (i % 32)) & 1; }}
template <typename T> static bool read_bit(const T& w, size_t i) {{ return (w >> i) & 1; }}
template <typename T> static std::string hex_of(const T& w, size_t width) {{
  std::string s;
  for (size_t d = (width + 3) / 4; d-- > 0;) {{
    unsigned v = 0;
    for (unsigned b = 0; b < 4; b++) if (d * 4 + b < width && read_bit(w, d * 4 + b)) v |= 1u << b;
    s += "0123456789abcdef"[v];
  }}
  return s;
}}

int main(int argc, char** argv) {{
  Verilated::commandArgs(argc, argv);
  const char* stim = argc > 1 ? argv[1] : "stimulus.memh";
  const char* vcd = argc > 2 ? argv[2] : nullptr;
  VerilatedContext* ctx = new VerilatedContext;
  V{module}* top = new V{module}{{ctx}};
  VerilatedVcdC* tfp = nullptr;
  if (vcd) {{ ctx->traceEverOn(true); tfp = new VerilatedVcdC; top->trace(tfp, 99); tfp->open(vcd); }}
  uint64_t time = 0, cycles = 0;
  auto tick = [&]() {{
    top->{clock} = 0; top->eval(); if (tfp) tfp->dump(time); time += 5;
    top->{clock} = 1; top->eval(); if (tfp) tfp->dump(time); time += 5;
    cycles++;
  }};
  std::ifstream in(stim);
  std::string line;
  top->{reset} = 1; top->{x_valid} = 0; top->{y_ready} = 0;
  for (int i = 0; i < 4; i++) tick();
  top->{reset} = 0;
  tick();
  const size_t xw = {xw};
  while (std::getline(in, line)) {{
    if (line.empty()) continue;
    std::vector<uint8_t> bits;
    for (size_t c = line.size(); c-- > 0;) {{
      unsigned v = (line[c] >= 'a') ? line[c] - 'a' + 10 : (line[c] >= 'A') ? line[c] - 'A' + 10 : line[c] - '0';
      for (int b = 0; b < 4; b++) bits.push_back((v >> b) & 1);
    }}
    top->{x_start} = get_bit(bits, 0);
    for (size_t i = 0; i < xw; i++) put_bit(top->{x_data}, i, get_bit(bits, i + 1));
    top->{x_valid} = 1;
    uint64_t start = cycles;
    top->eval();
    while (!top->{x_ready}) {{ tick(); if (cycles - start > 100000000ull) {{ std::printf("STUCK x_ready\n"); return 1; }} }}
    tick();
    top->{x_valid} = 0;
    top->eval();
    while (!top->{y_valid}) {{ tick(); if (cycles - start > 100000000ull) {{ std::printf("STUCK y_valid\n"); return 1; }} }}
    std::printf("STEP %llu %s %s\n", (unsigned long long)(cycles - start), hex_of(top->{y_data}, {yw}).c_str(), {h_hex});
    top->{y_ready} = 1;
    tick();
    top->{y_ready} = 0;
    top->eval();
  }}
  std::printf("CYCLES %llu\n", (unsigned long long)cycles);
  if (tfp) tfp->close();
  top->final();
  delete top;
  return 0;
}}
"#,
        module = p.module,
        clock = p.clock,
        reset = p.reset,
        x_valid = p.x_valid,
        x_ready = p.x_ready,
        x_data = p.x_data,
        x_start = p.x_start,
        y_valid = p.y_valid,
        y_ready = p.y_ready,
        y_data = p.y_data,
        xw = p.inputs * p.input_bits as usize,
        yw = p.outputs * p.output_bits as usize,
        h_hex = match &dut.hidden {
            Some(hp) => format!(
                "hex_of(top->{}, {}).c_str()",
                hp.name,
                hp.hidden * hp.bits as usize
            ),
            None => "\"\"".to_string(),
        },
    );
    h
}

/// The Icarus Verilog testbench: same protocol and output lines as the Verilator harness.
fn iverilog_testbench(dut: &Dut, steps: usize, vcd: Option<&Path>) -> String {
    let p = &dut.ports;
    let xw = p.inputs * p.input_bits as usize;
    let yw = p.outputs * p.output_bits as usize;
    let (h_decl, h_conn, h_fmt, h_arg) = match &dut.hidden {
        Some(hp) => (
            format!("  wire [{}:0] h_data;\n", hp.hidden * hp.bits as usize - 1),
            format!(", .{}(h_data)", hp.name),
            " %h",
            ", h_data",
        ),
        None => (String::new(), String::new(), " ", ""),
    };
    let dump = vcd.map_or(String::new(), |v| {
        format!(
            "  initial begin $dumpfile(\"{}\"); $dumpvars(0, tb.dut); end\n",
            v.display()
        )
    });
    format!(
        r#"`timescale 1ns/1ns
module tb;
  reg clock = 0;
  reg reset = 1;
  reg x_valid = 0, x_start = 0, y_ready = 0;
  reg [{xw1}:0] x_data = 0;
  wire x_ready, y_valid;
  wire [{yw1}:0] y_data;
{h_decl}  {module} dut (.{clock}(clock), .{reset}(reset), .{x_valid}(x_valid), .{x_ready}(x_ready),
    .{x_data}(x_data), .{x_start}(x_start), .{y_valid}(y_valid), .{y_ready}(y_ready), .{y_data}(y_data){h_conn});
{dump}  reg [{xw}:0] stim [0:{last}];
  integer s;
  reg [63:0] cycles = 0, start = 0;
  always #5 clock = !clock;
  always @(posedge clock) cycles <= cycles + 1;
  initial begin
    $readmemh("stimulus.memh", stim);
    repeat (4) @(posedge clock);
    #1 reset = 0;
    @(posedge clock); #1;
    for (s = 0; s < {steps}; s = s + 1) begin
      x_start = stim[s][0];
      x_data = stim[s][{xw}:1];
      x_valid = 1;
      start = cycles;
      #0;
      while (!x_ready) begin @(posedge clock); #1; end
      @(posedge clock); #1;
      x_valid = 0;
      while (!y_valid) begin @(posedge clock); #1; end
      $display("STEP %0d %h{h_fmt}", cycles - start, y_data{h_arg});
      y_ready = 1;
      @(posedge clock); #1;
      y_ready = 0;
    end
    $display("CYCLES %0d", cycles);
    $finish;
  end
endmodule
"#,
        xw1 = xw - 1,
        yw1 = yw - 1,
        last = steps.max(1) - 1,
        module = p.module,
        clock = p.clock,
        reset = p.reset,
        x_valid = p.x_valid,
        x_ready = p.x_ready,
        x_data = p.x_data,
        x_start = p.x_start,
        y_valid = p.y_valid,
        y_ready = p.y_ready,
        y_data = p.y_data,
    )
}

fn write(path: &Path, text: &str) -> Result<(), CosimError> {
    std::fs::write(path, text).map_err(|source| CosimError::Io {
        path: path.to_owned(),
        source,
    })
}

/// The Verilator version line (part of the build cache key).
fn verilator_version() -> Result<String, CosimError> {
    let exe = find("verilator")?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("--version");
    let out = crate::external::output_within(
        "verilator",
        cmd,
        crate::external::timeout_for("verilator")?,
    )?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The file of a cache entry written last, once its executable is complete: an entry without
/// it is the remains of an interrupted build. It holds the executable's size.
const BUILD_STAMP: &str = "qornn-build-complete";

/// Why a cached Verilator build cannot be used: `Ok(false)` when there is none, `Ok(true)`
/// when it is complete, `Err(reason)` when it is there but damaged.
fn cached_build(entry: &Path, exe: &Path) -> Result<bool, String> {
    if !entry.exists() {
        return Ok(false);
    }
    let stamp = std::fs::read_to_string(entry.join(BUILD_STAMP))
        .map_err(|_| "it has no completion stamp, so its build was interrupted".to_string())?;
    let meta = std::fs::metadata(exe).map_err(|e| format!("{}: {e}", exe.display()))?;
    if !meta.is_file() || meta.len() == 0 {
        return Err(format!("{} is empty or not a file", exe.display()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o111 == 0 {
            return Err(format!("{} is not executable", exe.display()));
        }
    }
    if stamp.trim().parse::<u64>().ok() != Some(meta.len()) {
        return Err(format!("{} changed since it was built", exe.display()));
    }
    Ok(true)
}

/// Build the Verilator model of `dut` into the cache folder `entry`: in a temporary folder
/// beside it, renamed into place only once the executable and its stamp are complete, so an
/// interrupted build never leaves an entry that later runs trust. Returns the build time.
fn build_verilator(
    dut: &Dut,
    harness: &str,
    entry: &Path,
    exe_name: &str,
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
    write(&tmp.join("design.v"), &dut.verilog)?;
    write(&tmp.join("harness.cpp"), harness)?;
    let args: Vec<String> = [
        "--cc",
        "--exe",
        "--build",
        "-O2",
        "--trace",
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
        "--top-module",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([
        dut.ports.module.clone(),
        "design.v".into(),
        "harness.cpp".into(),
    ])
    .collect();
    // A failed build keeps its temporary folder, so that the log it names can be read; the
    // next build into this cache removes it once this process is gone.
    let took = run_logged("verilator", &args, &tmp, &tmp.join("build.log"))?;
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
    let version = verilator_version()?;
    let build = cache.join(format!(
        "verilator-{}",
        hash_of(&[&dut.verilog, &harness, &version])
    ));
    let exe_name = format!("V{}", dut.ports.module);
    let exe = build.join("obj_dir").join(&exe_name);
    // Errors about the cache say which folder to delete to clear it.
    let in_cache = |e: CosimError| match e {
        CosimError::Io { path, source } => CosimError::Cache {
            dir: build.clone(),
            problem: format!("{}: {source}", path.display()),
        },
        e => e,
    };
    let mut build_time = Duration::ZERO;
    let usable = match cached_build(&build, &exe) {
        Ok(usable) => usable,
        Err(why) => {
            eprintln!(
                "cosim: the cached Verilator build {} is unusable ({why}); rebuilding it",
                build.display()
            );
            std::fs::remove_dir_all(&build).map_err(|e| CosimError::Cache {
                dir: build.clone(),
                problem: format!("cannot remove the unusable cached build: {e}"),
            })?;
            false
        }
    };
    if !usable {
        build_time = build_verilator(dut, &harness, &build, &exe_name).map_err(in_cache)?;
    }
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
    collect("verilator", dut, seqs, &log, wall, build_time)
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

fn collect(
    sim: &'static str,
    dut: &Dut,
    seqs: &[Sequence],
    log: &Path,
    wall: Duration,
    build: Duration,
) -> Result<CosimRun, CosimError> {
    let text = std::fs::read_to_string(log).map_err(|source| CosimError::Io {
        path: log.to_owned(),
        source,
    })?;
    let (traces, cycles) = parse_steps(sim, &text, dut, seqs)?;
    let total_cycles = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("CYCLES ")
                .and_then(|c| c.trim().parse().ok())
        })
        .unwrap_or(0);
    Ok(CosimRun {
        traces,
        cycles,
        total_cycles,
        wall,
        build,
    })
}

/// Time a closure (for callers that run the golden or rust-hdl simulations beside these).
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

/// One simulator's row of the table.
pub struct SimResult {
    /// The simulator.
    pub sim: Simulator,
    /// Steps simulated.
    pub steps: usize,
    /// Clock cycles in all (none for the golden model).
    pub cycles: Option<u64>,
    /// Wall time of the simulation.
    pub wall: Duration,
    /// The first difference from the golden model, if any.
    pub mismatch: Option<String>,
}

/// Run the chosen simulators on `seqs` and compare each with the golden model.
pub fn cosimulate(
    model: &QuantizedModel,
    opts: &CoreOptions,
    seqs: &[Sequence],
    sims: &[Simulator],
    out: &Path,
    cache: &Path,
    vcd: bool,
) -> Result<Vec<SimResult>, CosimError> {
    let steps: usize = seqs.iter().map(|s| s.steps()).sum();
    // Everything that would make the verdict vacuous, or stop half-way, is refused up front.
    check_request(sims, steps).map_err(|e| CosimError::Usage(e.to_string()))?;
    std::fs::create_dir_all(out).map_err(|source| CosimError::Io {
        path: out.to_owned(),
        source,
    })?;
    let golden = Golden::new(model).map_err(|e| CosimError::Usage(e.to_string()))?;
    let (reference, golden_wall) = timed(|| golden.run_batch(seqs, 2));
    let vcd_path = |name: &str| vcd.then(|| out.join(format!("{name}.vcd")));
    let compare = |traces: &[Trace]| -> Option<String> {
        if traces.len() != reference.len() {
            return Some(format!(
                "{} sequences instead of {}",
                traces.len(),
                reference.len()
            ));
        }
        reference
            .iter()
            .zip(traces)
            .enumerate()
            .find_map(|(s, (g, t))| {
                g.first_difference(t)
                    .map(|d| format!("sequence {s}, {d} (golden vs this)"))
            })
    };
    let mut rows = Vec::new();
    for &sim in sims {
        eprintln!(
            "cosim: {sim} over {} sequences, {steps} steps …",
            seqs.len()
        );
        let row = match sim {
            Simulator::Golden => {
                if let Some(p) = vcd_path("golden") {
                    qornn_sim::atomic::write_with(&p, |w| {
                        qornn_sim::trace::write_vcd(w, model, seqs, &reference)
                    })
                    .map_err(|source| CosimError::Io {
                        path: p.clone(),
                        source,
                    })?;
                }
                SimResult {
                    sim,
                    steps,
                    cycles: None,
                    wall: golden_wall,
                    mismatch: None,
                }
            }
            Simulator::RustHdl => {
                let outputs = Outputs {
                    trace_vcd: vcd_path("rust-hdl"),
                    rtl_vcd: None,
                };
                let (run, wall) = timed(|| harness::run(model, opts, seqs, &outputs));
                let run = run.map_err(CosimError::Hdl)?;
                SimResult {
                    sim,
                    steps,
                    cycles: Some(run.total_cycles),
                    wall,
                    mismatch: compare(&run.traces),
                }
            }
            Simulator::Verilator | Simulator::Iverilog => {
                let dut = core_dut(model, opts, qornn_hdl::verilog::DEFAULT_TOP)
                    .map_err(CosimError::Hdl)?;
                let name = sim.name();
                let work = out.join(name);
                let run = if sim == Simulator::Verilator {
                    run_verilator(&dut, seqs, cache, &work, vcd_path(name).as_deref())?
                } else {
                    run_iverilog(&dut, seqs, &work, vcd_path(name).as_deref())?
                };
                SimResult {
                    sim,
                    steps,
                    cycles: Some(run.total_cycles),
                    wall: run.wall,
                    mismatch: compare(&run.traces),
                }
            }
        };
        rows.push(row);
    }
    Ok(rows)
}

/// The results as a Markdown table.
pub fn table(rows: &[SimResult]) -> String {
    let mut t = Table::new(&[
        "simulator",
        "steps",
        "cycles",
        "cycles/step",
        "wall time",
        "vs golden",
    ]);
    for r in rows {
        t.row(vec![
            r.sim.to_string(),
            r.steps.to_string(),
            r.cycles.map_or("—".into(), |c| c.to_string()),
            r.cycles.map_or("—".into(), |c| {
                format!("{:.1}", c as f64 / r.steps.max(1) as f64)
            }),
            format!("{:.3} s", r.wall.as_secs_f64()),
            match &r.mismatch {
                None if r.sim == Simulator::Golden => "(the reference)".into(),
                None => "equal".into(),
                Some(m) => format!("**MISMATCH** {m}"),
            },
        ]);
    }
    t.to_markdown()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_fields_round_trip_signed_codes() {
        let mut bits = Vec::new();
        for &v in &[-3i64, 5, -128, 127] {
            for b in 0..8 {
                bits.push((v >> b) & 1 == 1);
            }
        }
        let hex = to_hex(&bits);
        assert_eq!(hex, "7f8005fd");
        let back = from_hex(&hex).unwrap();
        let vals: Vec<i64> = (0..4).map(|i| field(&back, i, 8)).collect();
        assert_eq!(vals, vec![-3, 5, -128, 127]);
    }
}
