//! Records the commit the binary is built from (with `-dirty` for uncommitted changes), so a
//! result file names the code that produced it, not whatever HEAD is when the run ends.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    let id = if dirty {
        format!("{commit}-dirty")
    } else {
        commit
    };
    println!("cargo:rustc-env=QORNN_BUILD_COMMIT={id}");
    for path in [
        "../.git/HEAD",
        "../.git/index",
        "src",
        "../sim/src",
        "../quant/src",
        "../hdl/src",
    ] {
        println!("cargo:rerun-if-changed={path}");
    }
}
