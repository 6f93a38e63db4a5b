//! The Verilator runtime library (`verilated.cpp`, its VCD writer and its thread pool),
//! compiled once per build cache instead of once per design.
//!
//! Every Verilator model links the same runtime objects, compiled with the same flags, and they
//! are most of a small design's build time (a 32-unit core: 22 of its 36 s of make). The first
//! build into a cache keeps them in `verilator-runtime-<key>/`; later builds copy them into
//! their `obj_dir` before running make, which then compiles only the design and the harness.
//! The key hashes everything the objects depend on: the Verilator version, its arguments and
//! the `verilated.mk` that holds the compiler and its flags.

use super::runners::hash_of;
use std::path::{Path, PathBuf};

/// The stamp of a complete runtime folder: one line `name size` per object.
const RUNTIME_STAMP: &str = "qornn-runtime-complete";

/// The runtime folder for builds by Verilator `version` with these arguments, inside `cache`.
pub(super) fn runtime_dir(cache: &Path, version: &str, args: &[String]) -> PathBuf {
    let makefile = verilator_root()
        .map(|root| root.join("include").join("verilated.mk"))
        .and_then(|mk| std::fs::read_to_string(mk).ok())
        .unwrap_or_default();
    let key = hash_of(&[version, &args.join(" "), &makefile]);
    cache.join(format!("verilator-runtime-{key}"))
}

/// `VERILATOR_ROOT` as Verilator reports it (under Verilator's time limit, like every tool).
fn verilator_root() -> Option<PathBuf> {
    let exe = crate::external::find("verilator").ok()?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("--getenv").arg("VERILATOR_ROOT");
    let limit = crate::external::timeout_for("verilator").ok()?;
    let out = crate::external::output_within("verilator", cmd, limit).ok()?;
    let root = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !root.is_empty()).then(|| PathBuf::from(root))
}

/// The runtime objects a generated model links, from its `<prefix>_classes.mk`
/// (`VM_GLOBAL_FAST` and `VM_GLOBAL_SLOW`: `verilated`, `verilated_vcd_c`, …).
pub(super) fn global_objects(classes_mk: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut in_list = false;
    for line in classes_mk.lines() {
        let line = line.trim();
        if line.starts_with("VM_GLOBAL_FAST") || line.starts_with("VM_GLOBAL_SLOW") {
            in_list = line.ends_with('\\');
            continue;
        }
        if in_list {
            let name = line.trim_end_matches('\\').trim();
            if !name.is_empty() {
                names.push(format!("{name}.o"));
            }
            in_list = line.ends_with('\\');
        }
    }
    names
}

/// The objects of a complete runtime folder (name and size each), or `None` when it is
/// missing, incomplete or damaged.
fn stamped_objects(dir: &Path) -> Option<Vec<(String, u64)>> {
    let stamp = std::fs::read_to_string(dir.join(RUNTIME_STAMP)).ok()?;
    let objects: Vec<(String, u64)> = stamp
        .lines()
        .map(|l| {
            let (name, size) = l.split_once(' ')?;
            Some((name.to_string(), size.parse().ok()?))
        })
        .collect::<Option<_>>()?;
    let intact = objects.iter().all(|(name, size)| {
        std::fs::metadata(dir.join(name)).is_ok_and(|m| m.is_file() && m.len() == *size)
    });
    (intact && !objects.is_empty()).then_some(objects)
}

/// Copy the cached runtime objects that `wanted` names into `obj_dir`, newer than its
/// makefile, so make takes them as built. Returns whether every wanted object was there.
pub(super) fn seed(dir: &Path, obj_dir: &Path, wanted: &[String]) -> bool {
    let Some(objects) = stamped_objects(dir) else {
        return false;
    };
    if wanted.is_empty() || !wanted.iter().all(|w| objects.iter().any(|(n, _)| n == w)) {
        return false;
    }
    wanted.iter().all(|name| {
        let to = obj_dir.join(name);
        std::fs::copy(dir.join(name), &to).is_ok()
            && std::fs::File::options()
                .write(true)
                .open(&to)
                .and_then(|f| f.set_modified(std::time::SystemTime::now()))
                .is_ok()
    })
}

/// Keep the runtime objects of a finished build (in `obj_dir`) as the cache's runtime folder
/// `dir`: written beside it and renamed into place, so a reader sees all of them or none.
/// A failure only costs later builds their head start, so it is not an error.
pub(super) fn keep(dir: &Path, obj_dir: &Path, objects: &[String]) {
    if objects.is_empty() || stamped_objects(dir).is_some() {
        return;
    }
    let Ok(tmp) = qornn_sim::atomic::temporary_beside(dir) else {
        return;
    };
    // The stamp, `name size` per object, from the sizes the copies wrote.
    let stamp: Option<String> = std::fs::create_dir_all(&tmp).ok().and_then(|()| {
        objects
            .iter()
            .map(|name| {
                let len = std::fs::copy(obj_dir.join(name), tmp.join(name)).ok()?;
                (len > 0).then(|| format!("{name} {len}\n"))
            })
            .collect()
    });
    let done = stamp.is_some_and(|stamp| {
        qornn_sim::atomic::write(&tmp.join(RUNTIME_STAMP), stamp.as_bytes()).is_ok()
    }) && {
        // A damaged folder of an earlier run is replaced; a complete one that another
        // build put there meanwhile is as good as ours.
        let _ = std::fs::remove_dir_all(dir);
        std::fs::rename(&tmp, dir).is_ok()
    };
    if !done {
        let _ = std::fs::remove_dir_all(&tmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runtime_objects_are_read_from_the_classes_makefile() {
        let mk = "VM_TRACE = 1\nVM_CLASSES_FAST += \\\n\tVtop \\\n\nVM_GLOBAL_FAST += \\\n\tverilated \\\n\tverilated_vcd_c \\\n\tverilated_threads \\\n\nVM_GLOBAL_SLOW += \\\n\n# end\n";
        assert_eq!(
            global_objects(mk),
            ["verilated.o", "verilated_vcd_c.o", "verilated_threads.o"]
        );
        assert!(global_objects("VM_TRACE = 1\n").is_empty());
    }

    #[test]
    fn a_damaged_runtime_folder_is_not_used() {
        let d = tempfile::tempdir().unwrap();
        let (cache, obj) = (d.path().join("rt"), d.path().join("obj"));
        std::fs::create_dir_all(&obj).unwrap();
        std::fs::write(obj.join("verilated.o"), b"object code").unwrap();
        let wanted = vec!["verilated.o".to_string()];
        keep(&cache, &obj, &wanted);
        let fresh = d.path().join("obj2");
        std::fs::create_dir_all(&fresh).unwrap();
        assert!(seed(&cache, &fresh, &wanted));
        assert_eq!(
            std::fs::read(fresh.join("verilated.o")).unwrap(),
            b"object code"
        );
        // An object the folder does not hold, then a truncated object: not used.
        assert!(!seed(&cache, &fresh, &["verilated_fst_c.o".to_string()]));
        std::fs::write(cache.join("verilated.o"), b"obj").unwrap();
        assert!(!seed(&cache, &fresh, &wanted));
        // The next build replaces the damaged folder.
        keep(&cache, &obj, &wanted);
        assert!(seed(&cache, &fresh, &wanted));
    }
}
