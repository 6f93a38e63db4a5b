//! Folder locks: one process at a time writes a run's output folder.
//!
//! Two `qornn flow` runs sharing one `--out` would interleave their files (one model's report
//! beside another's Verilog) and both exit 0. A lock file created exclusively, holding the
//! holder's pid, prevents that; a lock left by a process that died (its pid gone from `/proc`)
//! is taken over, so a killed run never blocks the next one.

use std::io::Write;
use std::path::{Path, PathBuf};

/// A held lock; the file is removed when this is dropped.
#[derive(Debug)]
pub struct FolderLock(PathBuf);

/// Why a lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// A live process holds it.
    #[error("{folder} is in use by another qornn run (process {pid}); wait for it, or use another folder")]
    Busy {
        /// The locked folder.
        folder: PathBuf,
        /// The holder.
        pid: String,
    },
    /// The lock file could not be created.
    #[error("cannot lock {path}: {source}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The reason.
        source: std::io::Error,
    },
}

/// Whether the process that wrote `holder` (a pid) is still running. Where `/proc` does not
/// exist a holder is taken to be alive: a stale lock is then removed by hand, never stolen.
fn holder_alive(holder: &str) -> bool {
    if !Path::new("/proc/self").exists() {
        return true;
    }
    holder
        .trim()
        .parse::<u32>()
        .is_ok_and(|pid| Path::new(&format!("/proc/{pid}")).exists())
}

impl FolderLock {
    /// Try once to take the lock file `name` in `folder` (created if missing).
    pub fn try_take(folder: &Path, name: &str) -> Result<FolderLock, LockError> {
        let path = folder.join(name);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(folder).map_err(io)?;
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    writeln!(f, "{}", std::process::id()).map_err(io)?;
                    return Ok(FolderLock(path));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&path).unwrap_or_default();
                    if holder_alive(&holder) {
                        return Err(LockError::Busy {
                            folder: folder.to_owned(),
                            pid: holder.trim().to_string(),
                        });
                    }
                    // The holder died: take its lock over.
                    let _ = std::fs::remove_file(&path);
                }
                Err(e) => return Err(io(e)),
            }
        }
        Err(LockError::Busy {
            folder: folder.to_owned(),
            pid: "?".into(),
        })
    }

    /// Take the lock, waiting (and saying so on stderr every 5 s) while a live process holds it.
    pub fn wait_take(folder: &Path, name: &str) -> Result<FolderLock, LockError> {
        loop {
            match Self::try_take(folder, name) {
                Err(LockError::Busy { pid, .. }) => {
                    eprintln!(
                        "      waiting: process {pid} holds {}",
                        folder.join(name).display()
                    );
                    std::thread::sleep(std::time::Duration::from_secs(5));
                }
                other => return other,
            }
        }
    }
}

impl Drop for FolderLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_holder_keeps_the_folder_and_a_dead_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let held = FolderLock::try_take(dir.path(), ".lock").unwrap();
        let err = FolderLock::try_take(dir.path(), ".lock").unwrap_err();
        assert!(err.to_string().contains("in use"), "{err}");
        drop(held);
        assert!(!dir.path().join(".lock").exists());
        // A pid that cannot be running (beyond Linux's pid_max).
        std::fs::write(dir.path().join(".lock"), "4294967295\n").unwrap();
        FolderLock::try_take(dir.path(), ".lock").unwrap();
    }
}
