//! The Verilator build cache's bookkeeping: when an entry can be trusted, and the locks that
//! make concurrent runs wait for one build instead of compiling the same design side by side.
//! (Unlike an output folder's lock, `crate::lock`, which refuses a second run, a build lock
//! waits: the second run wants the very build the first is making.)

use super::CosimError;
use std::path::Path;

/// The file of a cache entry written last, once its executable is complete: an entry without
/// it is the remains of an interrupted build. It holds the executable's size.
pub(super) const BUILD_STAMP: &str = "qornn-build-complete";

/// Why a cached Verilator build cannot be used: `Ok(false)` when there is none, `Ok(true)`
/// when it is complete, `Err(reason)` when it is there but damaged.
pub(super) fn cached_build(entry: &Path, exe: &Path) -> Result<bool, String> {
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

/// The folder of a build cache that holds its lock files.
const LOCKS: &str = ".locks";

/// Hold the lock of the cache folder `what` (a build entry or the runtime folder), waiting
/// while another process or thread holds it; released when the returned file is dropped.
pub(super) fn hold(cache: &Path, what: &Path) -> Result<std::fs::File, CosimError> {
    let name = what.file_name().unwrap_or(what.as_os_str());
    let dir = cache.join(LOCKS);
    let path = dir.join(name).with_extension("lock");
    let fail = |source| CosimError::Cache {
        dir: dir.clone(),
        problem: format!("cannot lock {}: {source}", path.display()),
    };
    std::fs::create_dir_all(&dir).map_err(fail)?;
    let file = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(fail)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            eprintln!(
                "cosim: waiting for another run's build ({})",
                path.display()
            );
            file.lock().map_err(fail)?;
        }
        // A file system without locks: builds proceed unserialised, as before there were any.
        Err(std::fs::TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Unsupported => {}
        Err(std::fs::TryLockError::Error(e)) => return Err(fail(e)),
    }
    Ok(file)
}
