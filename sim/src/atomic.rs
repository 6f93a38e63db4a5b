//! Atomic file output: write a temporary file beside the target, then rename it over.
//!
//! A crash or a full disk leaves either the old file or the new one, never half of one.
//! Temporaries are named `.NAME.tmp-PID-SERIAL`; those a killed run left behind are removed
//! by the next write into the same folder, once their process is gone.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Distinguishes temporary files of concurrent writers within one process.
static SERIAL: AtomicU64 = AtomicU64::new(0);

/// How old (by modification time) a dead process's temporary must be before it is removed.
/// The PID check alone is not enough when the folder is shared with another machine or
/// container (its PIDs are not ours, so a live writer there looks dead here); a writer that is
/// still streaming keeps its file's mtime fresh.
pub const STALE_AFTER: Duration = Duration::from_secs(3600);

/// A fresh temporary path beside `path` (`.NAME.tmp-PID-SERIAL` in the same folder), for a
/// file or folder that is renamed over `path` once complete.
pub fn temporary_beside(path: &Path) -> std::io::Result<PathBuf> {
    let dir = parent_of(path);
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path"))?;
    Ok(dir.join(format!(
        ".{}.tmp-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        SERIAL.fetch_add(1, Ordering::Relaxed)
    )))
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The PID in a temporary's name `.NAME.tmp-PID-SERIAL`, if it is one.
fn temporary_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?;
    let (_, tail) = rest.rsplit_once(".tmp-")?;
    let (pid, serial) = tail.split_once('-')?;
    serial.parse::<u64>().ok()?;
    pid.parse().ok()
}

/// Whether process `pid` may still be running. Only Linux can tell (/proc); elsewhere every
/// process counts as alive, so nothing is removed.
fn may_be_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

/// Remove the temporaries (files or folders) in `dir` that a killed run left behind: those
/// whose process is gone and that have not been touched for [`STALE_AFTER`]. Best effort:
/// errors are ignored, since a leftover costs only disk space.
pub fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(temporary_pid) else {
            continue;
        };
        if may_be_alive(pid) {
            continue;
        }
        let Ok(meta) = entry.path().symlink_metadata() else {
            continue;
        };
        let old = meta
            .modified()
            .ok()
            .and_then(|m| m.elapsed().ok())
            .is_some_and(|age| age >= STALE_AFTER);
        if !old {
            continue;
        }
        let _ = if meta.is_dir() {
            std::fs::remove_dir_all(entry.path())
        } else {
            std::fs::remove_file(entry.path())
        };
    }
}

/// Make a rename in `dir` durable. Some platforms and file systems refuse to open or sync a
/// folder; the rename has happened either way, so that is not an error.
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Stream into `path` atomically: `f` writes to a buffered temporary file, which is synced
/// and renamed over `path` only when `f` succeeds. Missing parent folders are created, as a
/// user who names `build/core.v` expects.
pub fn write_with(
    path: &Path,
    f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let tmp = temporary_beside(path)?;
    let dir = parent_of(path);
    // `create_dir_all` says only "File exists" when a would-be folder is a file: name it.
    if let Some(file) = dir.ancestors().find(|a| a.is_file()) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            format!("{} is a file, not a folder", file.display()),
        ));
    }
    std::fs::create_dir_all(dir)?;
    remove_stale_temporaries(dir);
    let result = (|| {
        let mut w = BufWriter::new(std::fs::File::create(&tmp)?);
        f(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    } else {
        sync_dir(dir);
    }
    result
}

/// Write `bytes` to `path` atomically.
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_with(path, |w| w.write_all(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_write_keeps_the_old_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        write(&path, b"old").unwrap();
        let err = write_with(&path, |w| {
            w.write_all(b"half")?;
            Err(std::io::Error::other("disk full"))
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        write(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        let deep = dir.path().join("a/b/out.json");
        write(&deep, b"deep").unwrap();
        assert_eq!(std::fs::read(&deep).unwrap(), b"deep");
    }

    /// Backdate a file or folder's mtime past [`STALE_AFTER`].
    fn backdate(path: &Path) {
        let when = std::time::SystemTime::now() - STALE_AFTER - Duration::from_secs(60);
        std::fs::File::open(path)
            .unwrap()
            .set_modified(when)
            .unwrap();
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn leftovers_of_dead_processes_are_removed_by_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // No PID reaches 4e9 (Linux's pid_max is at most 2^22): this writer is dead.
        let dead_file = d.join(".trace.json.tmp-4000000000-0");
        let dead_dir = d.join(".verilator-abc.tmp-4000000000-1");
        std::fs::write(&dead_file, b"half").unwrap();
        std::fs::create_dir_all(dead_dir.join("obj_dir")).unwrap();
        backdate(&dead_file);
        backdate(&dead_dir);
        // Still ours (alive), dead but recently touched, and not a temporary at all: kept.
        let ours = d.join(format!(".x.json.tmp-{}-7", std::process::id()));
        let fresh = d.join(".y.json.tmp-4000000000-2");
        let other = d.join(".notes.tmp-keep");
        for p in [&ours, &fresh, &other] {
            std::fs::write(p, b"keep").unwrap();
        }
        backdate(&ours);
        backdate(&other);
        write(&d.join("out.json"), b"new").unwrap();
        assert!(!dead_file.exists(), "a dead writer's file is removed");
        assert!(!dead_dir.exists(), "a dead writer's folder is removed");
        for p in [&ours, &fresh, &other] {
            assert!(p.exists(), "{} is kept", p.display());
        }
        assert_eq!(std::fs::read(d.join("out.json")).unwrap(), b"new");
    }

    #[test]
    fn temporary_names_carry_the_pid() {
        assert_eq!(temporary_pid(".a.json.tmp-12-3"), Some(12));
        assert_eq!(temporary_pid(".a.tmp-b.json.tmp-12-3"), Some(12));
        assert_eq!(temporary_pid("a.json.tmp-12-3"), None);
        assert_eq!(temporary_pid(".a.json.tmp-12"), None);
        assert_eq!(temporary_pid(".a.json.tmp-x-3"), None);
        let t = temporary_beside(Path::new("dir/out.json")).unwrap();
        let name = t.file_name().unwrap().to_str().unwrap();
        assert_eq!(temporary_pid(name), Some(std::process::id()));
        assert_eq!(t.parent(), Some(Path::new("dir")));
    }
}
