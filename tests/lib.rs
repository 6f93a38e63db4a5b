//! Cross-crate integration tests of qornn (the files in `tests/`), and the little they share.
//!
//! Tests that need an external tool (yosys, nextpnr, iverilog, verilator, ...) call
//! [`require_tool`]. When the environment variable `QORNN_REQUIRE_TOOLS=1` is set (CI sets it),
//! a missing tool fails the test loudly; otherwise the test says it is skipped and returns.

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
