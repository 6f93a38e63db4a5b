//! Names that reach Verilog text and tool scripts.
//!
//! A module name typed by a user ends up inside the emitted Verilog, a yosys script
//! (`synth_ice40 -top NAME`), a Verilator command line and generated testbenches. Anything but
//! a plain identifier could change what those tools do (`x; script other.ys`, yosys's `!` shell
//! escape) or produce Verilog no simulator accepts (`module`), so such a name is refused when it
//! is parsed, before it reaches any of them: holding a [`ModuleName`] is the proof.

use std::fmt;
use std::str::FromStr;

/// Every reserved word of Verilog-2005 and SystemVerilog-2017 (yosys reads our files with
/// `-sv`, so a SystemVerilog keyword is as fatal there as a Verilog one).
const KEYWORDS: &[&str] = &[
    "accept_on",
    "alias",
    "always",
    "always_comb",
    "always_ff",
    "always_latch",
    "and",
    "assert",
    "assign",
    "assume",
    "automatic",
    "before",
    "begin",
    "bind",
    "bins",
    "binsof",
    "bit",
    "break",
    "buf",
    "bufif0",
    "bufif1",
    "byte",
    "case",
    "casex",
    "casez",
    "cell",
    "chandle",
    "checker",
    "class",
    "clocking",
    "cmos",
    "config",
    "const",
    "constraint",
    "context",
    "continue",
    "cover",
    "covergroup",
    "coverpoint",
    "cross",
    "deassign",
    "default",
    "defparam",
    "design",
    "disable",
    "dist",
    "do",
    "edge",
    "else",
    "end",
    "endcase",
    "endchecker",
    "endclass",
    "endclocking",
    "endconfig",
    "endfunction",
    "endgenerate",
    "endgroup",
    "endinterface",
    "endmodule",
    "endpackage",
    "endprimitive",
    "endprogram",
    "endproperty",
    "endspecify",
    "endsequence",
    "endtable",
    "endtask",
    "enum",
    "event",
    "eventually",
    "expect",
    "export",
    "extends",
    "extern",
    "final",
    "first_match",
    "for",
    "force",
    "foreach",
    "forever",
    "fork",
    "forkjoin",
    "function",
    "generate",
    "genvar",
    "global",
    "highz0",
    "highz1",
    "if",
    "iff",
    "ifnone",
    "ignore_bins",
    "illegal_bins",
    "implements",
    "implies",
    "import",
    "incdir",
    "include",
    "initial",
    "inout",
    "input",
    "inside",
    "instance",
    "int",
    "integer",
    "interconnect",
    "interface",
    "intersect",
    "join",
    "join_any",
    "join_none",
    "large",
    "let",
    "liblist",
    "library",
    "local",
    "localparam",
    "logic",
    "longint",
    "macromodule",
    "matches",
    "medium",
    "modport",
    "module",
    "nand",
    "negedge",
    "nettype",
    "new",
    "nexttime",
    "nmos",
    "nor",
    "noshowcancelled",
    "not",
    "notif0",
    "notif1",
    "null",
    "or",
    "output",
    "package",
    "packed",
    "parameter",
    "pmos",
    "posedge",
    "primitive",
    "priority",
    "program",
    "property",
    "protected",
    "pull0",
    "pull1",
    "pulldown",
    "pullup",
    "pulsestyle_ondetect",
    "pulsestyle_onevent",
    "pure",
    "rand",
    "randc",
    "randcase",
    "randsequence",
    "rcmos",
    "real",
    "realtime",
    "ref",
    "reg",
    "reject_on",
    "release",
    "repeat",
    "restrict",
    "return",
    "rnmos",
    "rpmos",
    "rtran",
    "rtranif0",
    "rtranif1",
    "s_always",
    "s_eventually",
    "s_nexttime",
    "s_until",
    "s_until_with",
    "scalared",
    "sequence",
    "shortint",
    "shortreal",
    "showcancelled",
    "signed",
    "small",
    "soft",
    "solve",
    "specify",
    "specparam",
    "static",
    "string",
    "strong",
    "strong0",
    "strong1",
    "struct",
    "super",
    "supply0",
    "supply1",
    "sync_accept_on",
    "sync_reject_on",
    "table",
    "tagged",
    "task",
    "this",
    "throughout",
    "time",
    "timeprecision",
    "timeunit",
    "tran",
    "tranif0",
    "tranif1",
    "tri",
    "tri0",
    "tri1",
    "triand",
    "trior",
    "trireg",
    "type",
    "typedef",
    "union",
    "unique",
    "unique0",
    "unsigned",
    "until",
    "until_with",
    "untyped",
    "use",
    "uwire",
    "var",
    "vectored",
    "virtual",
    "void",
    "wait",
    "wait_order",
    "wand",
    "weak",
    "weak0",
    "weak1",
    "while",
    "wildcard",
    "wire",
    "with",
    "within",
    "wor",
    "xnor",
    "xor",
];

/// The longest name accepted: far beyond any real module name, short enough for every tool.
pub const MAX_NAME_LEN: usize = 128;

/// A Verilog module name that is safe to paste into Verilog and tool scripts: ASCII letters,
/// digits and `_`, not starting with a digit, not a (System)Verilog keyword, at most
/// [`MAX_NAME_LEN`] characters.
///
/// ```
/// use qornn_hdl::name::ModuleName;
/// assert!("qornn_core".parse::<ModuleName>().is_ok());
/// assert!("qornn_core; script x.ys".parse::<ModuleName>().is_err());
/// assert!("module".parse::<ModuleName>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModuleName(String);

/// Why a string is not a [`ModuleName`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The empty string.
    #[error("a module name cannot be empty")]
    Empty,
    /// Too long.
    #[error("a module name of {0} characters is longer than the {MAX_NAME_LEN} accepted")]
    TooLong(usize),
    /// A character that is not a letter, digit or `_`, or a leading digit.
    #[error("`{name}` is not a Verilog identifier: {why} (use letters, digits and _, not starting with a digit)")]
    NotIdentifier {
        /// The name, with control characters escaped.
        name: String,
        /// Which character is wrong.
        why: String,
    },
    /// A reserved word.
    #[error("`{0}` is a Verilog keyword and cannot name a module")]
    Keyword(String),
}

impl ModuleName {
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ModuleName {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, NameError> {
        if s.is_empty() {
            return Err(NameError::Empty);
        }
        let len = s.chars().count();
        if len > MAX_NAME_LEN {
            return Err(NameError::TooLong(len));
        }
        let shown = || s.escape_default().to_string();
        if let Some((i, c)) = s
            .chars()
            .enumerate()
            .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '_'))
        {
            return Err(NameError::NotIdentifier {
                name: shown(),
                why: format!("character {} is `{}`", i + 1, c.escape_default()),
            });
        }
        if s.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(NameError::NotIdentifier {
                name: shown(),
                why: "it starts with a digit".into(),
            });
        }
        if KEYWORDS.contains(&s) {
            return Err(NameError::Keyword(s.to_string()));
        }
        Ok(ModuleName(s.to_string()))
    }
}

impl fmt::Display for ModuleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ModuleName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl serde::Serialize for ModuleName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for ModuleName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_syntax_and_keywords_are_refused() {
        for bad in [
            "",
            "qornn_core; script other.ys;",
            "a b",
            "!rm",
            "top\n",
            "9lives",
            "module",
            "wire",
            "logic",
            "endmodule",
            "a$b",
            "é",
        ] {
            assert!(bad.parse::<ModuleName>().is_err(), "{bad:?} was accepted");
        }
        assert!("x".repeat(MAX_NAME_LEN + 1).parse::<ModuleName>().is_err());
        for good in ["qornn_core", "_t", "Top9", "modules", "wire_1"] {
            assert_eq!(good.parse::<ModuleName>().unwrap().as_str(), good);
        }
    }
}
