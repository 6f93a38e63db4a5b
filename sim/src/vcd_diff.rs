//! Compare two VCD files from different simulators, streaming: report equal, or the first
//! differing signal and sample with a few samples of context from both files.
//!
//! Simulators name and time things differently, so before comparing:
//! - **names** are normalised: scopes joined with `.`, rust-hdl's `$` separators read as `.`,
//!   bus ranges (`h[7:0]`) dropped; a signal of one file matches a signal of the other when one
//!   normalised name is a dot-suffix of the other (`TOP.core.h_0` matches `core.h_0`), or by an
//!   explicit `--map a=b`;
//! - **time** is aligned on a strobe (the k-th rising edge of `valid` in one file against the
//!   k-th in the other; values are sampled once everything at that timestamp is applied), on a
//!   clock (the same, on its rising edges), or on equal timestamps;
//! - **values** are compared as bit strings extended to the declared width (VCD's own rule:
//!   a leading 0, x or z extends, a leading 1 extends with 0).
//!
//! Neither file is loaded whole: each is read command by command, and only the current values
//! and the last few samples are kept, so traces of millions of cycles cost little memory.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Why a comparison could not be made.
#[derive(Debug, Error)]
pub enum VcdError {
    /// A file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The reason.
        source: std::io::Error,
    },
    /// A file is not valid VCD (or is truncated inside a command).
    #[error("{path}: not a valid VCD file{}: {message}", line.map(|l| format!(" (line {l})")).unwrap_or_default())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The line of the problem, when the parser knows it.
        line: Option<u64>,
        /// What is wrong.
        message: String,
    },
    /// A named signal is not in a file, or is there more than once.
    #[error("{path}: {problem}")]
    Signal {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// No signal is common to both files (after the selection and the name map).
    #[error("no signal to compare: {0}")]
    Nothing(String),
}

/// How samples of the two files are paired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Align {
    /// The k-th rising edge of this 1-bit signal in each file.
    Strobe(String),
    /// The k-th rising edge of this clock in each file (same rule as a strobe).
    Clock(String),
    /// Equal timestamps: every timestamp of either file is a sample.
    Time,
}

/// What to compare and how.
#[derive(Debug, Clone)]
pub struct DiffOptions {
    /// Patterns (`*`, `?`) on normalised names, matched against the whole name or its last
    /// component; empty means every signal the two files share.
    pub signals: Vec<String>,
    /// Explicit name pairs `(name in A, name in B)` for signals named differently.
    pub map: Vec<(String, String)>,
    /// The alignment.
    pub align: Align,
    /// Samples of context to show before the first difference.
    pub context: usize,
    /// Compare the signals that have partners and list the others, instead of failing with
    /// [`Outcome::Unmatched`].
    pub allow_missing: bool,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions {
            signals: Vec::new(),
            map: Vec::new(),
            align: Align::Strobe("valid".into()),
            context: 3,
            allow_missing: false,
        }
    }
}

/// One signal's value: a bit string, most significant bit first, as VCD characters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Val(Vec<u8>);

/// Write `bits` into `out` (its length is the declared width), extended or cut the VCD way:
/// a leading 0, x or z extends itself, a leading 1 extends with 0; extra leading bits drop.
fn set_bits(out: &mut [u8], bits: &[vcd::Value]) {
    let width = out.len();
    let given = &bits[bits.len().saturating_sub(width)..];
    let fill = match bits.first().map(|&v| value_char(v)) {
        Some(b'1') | None => b'0',
        Some(c) => c,
    };
    let pad = width - given.len();
    out[..pad].fill(fill);
    for (o, &v) in out[pad..].iter_mut().zip(given) {
        *o = value_char(v);
    }
}

impl Val {
    /// The value as a signed integer, when it has only 0 and 1 and at most 64 bits.
    pub fn as_signed(&self) -> Option<i64> {
        if self.0.is_empty() || self.0.len() > 64 || self.0.iter().any(|&c| c != b'0' && c != b'1')
        {
            return None;
        }
        let mut v: i64 = if self.0[0] == b'1' { -1 } else { 0 };
        for &c in &self.0 {
            v = (v << 1) | (c == b'1') as i64;
        }
        Some(v)
    }
}

impl fmt::Display for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bits = String::from_utf8_lossy(&self.0);
        match (self.as_signed(), self.0.len()) {
            (Some(v), 1) => write!(f, "{}", v & 1),
            (Some(v), _) => write!(f, "{v} (b{bits})"),
            (None, _) => write!(f, "b{bits}"),
        }
    }
}

fn value_char(v: vcd::Value) -> u8 {
    match v {
        vcd::Value::V0 => b'0',
        vcd::Value::V1 => b'1',
        vcd::Value::X => b'x',
        vcd::Value::Z => b'z',
    }
}

/// The first difference, with context.
#[derive(Debug, Clone)]
pub struct Mismatch {
    /// The sample index (0-based: the k-th strobe edge, clock edge or timestamp).
    pub sample: u64,
    /// The signal's normalised name in file A.
    pub signal: String,
    /// Time of the sample in A and in B.
    pub time: (u64, u64),
    /// The values in A and in B.
    pub values: (Val, Val),
    /// The differing signal's values at the samples before and at the difference:
    /// `(sample, value in A, value in B)`.
    pub context: Vec<(u64, Val, Val)>,
}

/// The result of a comparison. Only [`Outcome::Equal`] is a pass, and it is only returned when
/// at least one sample of at least one signal was compared and every signal of either file
/// (or of the selection) found its partner, unless missing partners were allowed.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Every compared signal is equal at every sample.
    Equal {
        /// Samples compared (at least 1).
        samples: u64,
        /// Signals compared (their full names in A).
        signals: Vec<String>,
        /// Signals left out because the other file has no partner for them (only with
        /// [`DiffOptions::allow_missing`]): `(file, name)`.
        unmatched: Vec<(PathBuf, String)>,
    },
    /// Some signals have no partner in the other file: nothing was compared.
    Unmatched {
        /// `(the file that has it, its name)` for every signal without a partner.
        signals: Vec<(PathBuf, String)>,
    },
    /// Neither file has a sample to compare (the strobe never rose, or no timestamp).
    NoSamples {
        /// The signals that would have been compared.
        signals: Vec<String>,
    },
    /// A signal differs.
    Different(Box<Mismatch>),
    /// Aligned on time, the k-th samples of the two files are at different instants.
    TimeSkew {
        /// The sample index.
        sample: u64,
        /// Its time in A and in B, in femtoseconds (after each file's `$timescale`).
        femtoseconds: (u128, u128),
    },
    /// One file has more samples than the other (all shared samples are equal).
    Length {
        /// Samples in A and in B.
        samples: (u64, u64),
    },
}

impl Outcome {
    /// Whether the comparison passed: samples were compared and all were equal.
    pub fn is_equal(&self) -> bool {
        matches!(self, Outcome::Equal { .. })
    }

    /// A one-line verdict naming what was covered: `equal: 20 samples of y_data, h_data`, or
    /// the first problem.
    pub fn summary(&self) -> String {
        match self {
            Outcome::Equal {
                samples,
                signals,
                unmatched,
            } => {
                // Long lists are shortened on one line; the JSON verdict keeps every name.
                let names = if signals.len() > 8 {
                    format!(
                        "{} signals ({}, …, {})",
                        signals.len(),
                        signals[..3].join(", "),
                        signals[signals.len() - 1]
                    )
                } else {
                    signals.join(", ")
                };
                let mut s = format!("equal: {samples} samples of {names}");
                if !unmatched.is_empty() {
                    let names: Vec<&str> = unmatched.iter().map(|(_, n)| n.as_str()).collect();
                    s += &format!(" (not compared: {})", names.join(", "));
                }
                s
            }
            Outcome::Unmatched { signals } => {
                let names: Vec<String> = signals
                    .iter()
                    .map(|(f, n)| format!("{n} of {}", f.display()))
                    .collect();
                format!("DIFFERENT: no partner for {}", names.join(", "))
            }
            Outcome::NoSamples { .. } => "NOTHING COMPARED: no sample in either file".into(),
            Outcome::TimeSkew {
                sample,
                femtoseconds,
            } => format!(
                "DIFFERENT: sample {sample} at {} fs vs {} fs",
                femtoseconds.0, femtoseconds.1
            ),
            Outcome::Different(m) => format!(
                "DIFFERENT: `{}` at sample {}: {} vs {}",
                m.signal, m.sample, m.values.0, m.values.1
            ),
            Outcome::Length { samples } => {
                format!("DIFFERENT lengths: {} vs {} samples", samples.0, samples.1)
            }
        }
    }
}

/// Normalise a hierarchical VCD name: `.`-joined, `$` read as `.`, bus range dropped.
pub fn normalise(scopes: &[String], reference: &str) -> String {
    let base = match reference.find('[') {
        Some(i) if i > 0 => reference[..i].trim_end(),
        _ => reference,
    };
    scopes
        .iter()
        .map(String::as_str)
        .chain(std::iter::once(base))
        .flat_map(|s| s.split(['.', '$']))
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(".")
}

/// Whether `name` is `other` or ends with `.other`.
fn is_suffix(name: &str, other: &str) -> bool {
    name == other
        || (name.ends_with(other) && name.as_bytes()[name.len() - other.len() - 1] == b'.')
}

/// Whether `text` matches the wildcard pattern (`*` any run, `?` one character).
pub fn wildcard(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

fn selected(pattern: &str, name: &str) -> bool {
    wildcard(pattern, name) || wildcard(pattern, name.rsplit('.').next().unwrap_or(name))
}

/// A declared variable: its normalised name, id code and width.
#[derive(Debug, Clone)]
struct Decl {
    /// The name used for matching: normalised, relative to the alignment signal's scope.
    name: String,
    /// The whole normalised name, for reports.
    full: String,
    code: vcd::IdCode,
    width: usize,
}

fn declarations(header: &vcd::Header) -> Vec<Decl> {
    fn walk(items: &[vcd::ScopeItem], path: &mut Vec<String>, out: &mut Vec<Decl>) {
        for item in items {
            match item {
                vcd::ScopeItem::Scope(s) => {
                    path.push(s.identifier.clone());
                    walk(&s.items, path, out);
                    path.pop();
                }
                vcd::ScopeItem::Var(v) => out.push(Decl {
                    name: normalise(path, &v.reference),
                    full: normalise(path, &v.reference),
                    code: v.code,
                    width: v.size as usize,
                }),
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(&header.items, &mut Vec::new(), &mut out);
    out
}

/// Find the one declaration named `name` (exactly, or as a dot-suffix).
fn find<'a>(decls: &'a [Decl], name: &str, path: &Path) -> Result<&'a Decl, VcdError> {
    let name = normalise(&[], name);
    if let Some(d) = decls.iter().find(|d| d.name == name || d.full == name) {
        return Ok(d);
    }
    let mut hits: Vec<&Decl> = decls.iter().filter(|d| is_suffix(&d.full, &name)).collect();
    // Prefer the shallowest signal: `y_valid` is the top's port, not a sub-block's input.
    let depth = |d: &Decl| d.full.matches('.').count();
    if let Some(min) = hits.iter().map(|d| depth(d)).min() {
        hits.retain(|d| depth(d) == min);
    }
    match hits.as_slice() {
        [one] => Ok(one),
        [] => Err(VcdError::Signal {
            path: path.to_owned(),
            problem: format!("no signal named `{name}`"),
        }),
        many => Err(VcdError::Signal {
            path: path.to_owned(),
            problem: format!(
                "`{name}` is ambiguous: {}",
                many.iter()
                    .map(|d| d.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
    }
}

/// Reads one file's samples.
struct Sampler<R: BufRead> {
    path: PathBuf,
    parser: vcd::Parser<R>,
    /// For each id code, the compared signals it drives.
    slots: HashMap<vcd::IdCode, Vec<usize>>,
    /// Where each compared signal's bits start in `values`; the last entry is the end.
    offsets: Vec<usize>,
    /// Every compared signal's current bits, back to back.
    values: Vec<u8>,
    /// The alignment signal and its last bit.
    strobe: Option<(vcd::IdCode, u8)>,
    /// Every declared id code and its width: a change of any other code, or one wider than
    /// its declaration, is an error rather than something to skip.
    declared: HashMap<vcd::IdCode, usize>,
    /// Femtoseconds per time unit of this file (its `$timescale`; 1 ns when it has none).
    fs_per_unit: u128,
    /// The current timestamp.
    time: u64,
    /// The time of the sample last returned.
    sample_time: u64,
    /// The strobe rose at the current timestamp.
    pending: bool,
    /// A timestamp has been seen.
    started: bool,
    done: bool,
}

impl<R: BufRead> Sampler<R> {
    /// Read the header; the declarations come back beside the sampler.
    fn open(path: &Path, reader: R) -> Result<(Self, Vec<Decl>), VcdError> {
        let mut parser = vcd::Parser::new(reader);
        let header = parser
            .parse_header()
            .map_err(|e| parse_error(path, &parser, e))?;
        let decls = declarations(&header);
        let declared = decls.iter().map(|d| (d.code, d.width)).collect();
        let fs_per_unit = header.timescale.map_or(1_000_000, |(v, unit)| {
            use vcd::TimescaleUnit::*;
            let fs: u128 = match unit {
                S => 1_000_000_000_000_000,
                MS => 1_000_000_000_000,
                US => 1_000_000_000,
                NS => 1_000_000,
                PS => 1_000,
                FS => 1,
            };
            fs * u128::from(v)
        });
        Ok((
            Sampler {
                path: path.to_owned(),
                parser,
                slots: HashMap::new(),
                offsets: vec![0],
                values: Vec::new(),
                strobe: None,
                declared,
                fs_per_unit,
                time: 0,
                sample_time: 0,
                pending: false,
                started: false,
                done: false,
            },
            decls,
        ))
    }

    fn watch(&mut self, signals: &[Decl], strobe: Option<vcd::IdCode>) {
        for (slot, d) in signals.iter().enumerate() {
            self.slots.entry(d.code).or_default().push(slot);
            self.values.extend(std::iter::repeat_n(b'x', d.width));
            self.offsets.push(self.values.len());
        }
        self.strobe = strobe.map(|id| (id, b'x'));
    }

    fn change(&mut self, id: vcd::IdCode, bits: &[vcd::Value]) -> Result<(), VcdError> {
        let Some(&width) = self.declared.get(&id) else {
            return Err(self.invalid(format!("a value change for `{id}`, which no $var declares")));
        };
        if bits.len() > width {
            return Err(self.invalid(format!(
                "a {}-bit value for `{id}`, which is declared {width} bits wide",
                bits.len()
            )));
        }
        if let Some((sid, last)) = &mut self.strobe {
            if *sid == id {
                let now = bits.last().map_or(b'x', |&v| value_char(v));
                if *last != b'1' && now == b'1' {
                    self.pending = true;
                }
                *last = now;
            }
        }
        if let Some(slots) = self.slots.get(&id) {
            for &slot in slots {
                let range = self.offsets[slot]..self.offsets[slot + 1];
                set_bits(&mut self.values[range], bits);
            }
        }
        Ok(())
    }

    fn invalid(&self, message: String) -> VcdError {
        VcdError::Parse {
            path: self.path.clone(),
            line: Some(self.parser.line()),
            message,
        }
    }

    /// The time of the sample last returned, in femtoseconds.
    fn sample_fs(&self) -> u128 {
        u128::from(self.sample_time) * self.fs_per_unit
    }

    /// Advance to the next sample: its values are then in `self.values`, its time in
    /// `self.sample_time`. `Ok(false)` at the end of the file.
    fn next_sample(&mut self) -> Result<bool, VcdError> {
        if self.done {
            return Ok(false);
        }
        let mut bits: Vec<vcd::Value> = Vec::new();
        loop {
            let cmd = match self.parser.next() {
                None => {
                    self.done = true;
                    self.sample_time = self.time;
                    // A strobe that rose at the last timestamp, or the last timestamp itself.
                    let last = if self.strobe.is_some() {
                        self.pending
                    } else {
                        self.started
                    };
                    self.pending = false;
                    return Ok(last);
                }
                Some(Err(e)) => return Err(parse_error(&self.path, &self.parser, e)),
                Some(Ok(c)) => c,
            };
            match cmd {
                vcd::Command::Timestamp(t) => {
                    if self.started && t < self.time {
                        return Err(self
                            .invalid(format!("time goes backwards, from #{} to #{t}", self.time)));
                    }
                    let emit = if self.strobe.is_some() {
                        std::mem::take(&mut self.pending)
                    } else {
                        self.started
                    };
                    self.sample_time = self.time;
                    self.time = t;
                    self.started = true;
                    if emit {
                        return Ok(true);
                    }
                }
                vcd::Command::ChangeScalar(id, v) => self.change(id, &[v])?,
                vcd::Command::ChangeVector(id, v) => {
                    bits.clear();
                    bits.extend(v.iter());
                    self.change(id, &bits)?;
                }
                _ => {}
            }
        }
    }
}

fn parse_error<R: BufRead>(path: &Path, parser: &vcd::Parser<R>, e: std::io::Error) -> VcdError {
    let known = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<vcd::ParseError>());
    let line = Some(known.map_or(parser.line(), |p| p.line()));
    let message = match e.kind() {
        std::io::ErrorKind::UnexpectedEof => "the file ends inside a command (truncated?)".into(),
        _ => e.to_string(),
    };
    VcdError::Parse {
        path: path.to_owned(),
        line,
        message,
    }
}

/// The signals to compare, pair by pair, and the ones that found no partner.
struct Pairs {
    left: Vec<Decl>,
    right: Vec<Decl>,
    unmatched: Vec<(PathBuf, String)>,
}

/// Whether `d` takes part: it passes the selection and is not the alignment signal.
fn wanted(d: &Decl, opts: &DiffOptions, align: Option<&str>) -> bool {
    !align.is_some_and(|s| is_suffix(&d.name, s))
        && (opts.signals.is_empty() || opts.signals.iter().any(|p| selected(p, &d.name)))
}

/// Pick the signals to compare: A's signals that pass the selection, each paired with its one
/// match in B (by name or through the map). The alignment signal is not compared. A wanted
/// signal of either file without a partner in the other is listed in `unmatched`.
fn pair(
    a: &[Decl],
    b: &[Decl],
    opts: &DiffOptions,
    paths: (&Path, &Path),
) -> Result<Pairs, VcdError> {
    let align = match &opts.align {
        Align::Strobe(s) | Align::Clock(s) => Some(normalise(&[], s)),
        Align::Time => None,
    };
    let mut left = Vec::new();
    let mut right = Vec::new();
    let mut unmatched = Vec::new();
    for (from, to) in &opts.map {
        left.push(find(a, from, paths.0)?.clone());
        right.push(find(b, to, paths.1)?.clone());
    }
    let mapped = left.len();
    let candidates = |d: &Decl| -> Vec<&Decl> {
        b.iter()
            .filter(|e| is_suffix(&e.name, &d.name) || is_suffix(&d.name, &e.name))
            .collect()
    };
    for d in a {
        if left[..mapped].iter().any(|l| l.name == d.name)
            || left.iter().any(|l| l.full == d.full)
            || !wanted(d, opts, align.as_deref())
        {
            continue;
        }
        let mut matches = candidates(d);
        // A simulator may declare one signal in several places (aliases): keep one of each.
        matches.sort_by(|x, y| x.full.cmp(&y.full));
        matches.dedup_by(|x, y| x.full == y.full);
        // Then the ones sharing the most trailing name components (`seq.y_data` pairs with
        // `core.seq.y_data` rather than with the top's `y_data`).
        let shared = |e: &Decl| {
            d.name
                .rsplit('.')
                .zip(e.name.rsplit('.'))
                .take_while(|(x, y)| x == y)
                .count()
        };
        if let Some(best) = matches.iter().map(|e| shared(e)).max() {
            matches.retain(|e| shared(e) == best);
        }
        match matches.as_slice() {
            [one] => {
                left.push(d.clone());
                right.push((*one).clone());
            }
            [] => unmatched.push((paths.0.to_owned(), d.full.clone())),
            many => {
                // Prefer an exact name when several scopes hold a suffix match.
                if let Some(exact) = many.iter().find(|e| e.name == d.name) {
                    left.push(d.clone());
                    right.push((*exact).clone());
                } else {
                    return Err(VcdError::Signal {
                        path: paths.1.to_owned(),
                        problem: format!(
                            "`{}` matches several signals: {}",
                            d.name,
                            many.iter()
                                .map(|e| e.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    });
                }
            }
        }
    }
    // B's wanted signals that no signal of A could pair with (aliases of a paired signal and
    // the mapped ones count as paired).
    let mut seen = std::collections::HashSet::new();
    for e in b {
        let partnered = right.iter().any(|r| r.full == e.full || r.code == e.code)
            || left
                .iter()
                .any(|d| is_suffix(&e.name, &d.name) || is_suffix(&d.name, &e.name));
        if !partnered && wanted(e, opts, align.as_deref()) && seen.insert(e.full.clone()) {
            unmatched.push((paths.1.to_owned(), e.full.clone()));
        }
    }
    if let Some((l, r)) = left.iter().zip(&right).find(|(l, r)| l.width != r.width) {
        return Err(VcdError::Signal {
            path: paths.1.to_owned(),
            problem: format!(
                "`{}` is {} bits wide here but `{}` is {} bits in {}: bit-exact traces declare equal widths",
                r.full,
                r.width,
                l.full,
                l.width,
                paths.0.display()
            ),
        });
    }
    if left.is_empty() && unmatched.is_empty() {
        return Err(VcdError::Nothing(if opts.signals.is_empty() {
            "neither file declares a signal besides the alignment signal".into()
        } else {
            format!("nothing matches {}", opts.signals.join(", "))
        }));
    }
    Ok(Pairs {
        left,
        right,
        unmatched,
    })
}

/// Find the alignment signal and rename every declaration relative to its scope, so that
/// `qornn.h_0` (strobe `qornn.valid`) matches `TOP.core.h_0` (strobe `TOP.core.valid`).
fn relative_to_strobe(
    decls: &mut [Decl],
    align: &Align,
    path: &Path,
) -> Result<Option<vcd::IdCode>, VcdError> {
    let (Align::Strobe(name) | Align::Clock(name)) = align else {
        return Ok(None);
    };
    let strobe = find(decls, name, path)?;
    if strobe.width != 1 {
        return Err(VcdError::Signal {
            path: path.to_owned(),
            problem: format!(
                "the alignment signal `{}` is {} bits wide: a strobe or clock is one bit",
                strobe.full, strobe.width
            ),
        });
    }
    let code = strobe.code;
    if let Some(dot) = strobe.full.rfind('.') {
        let root = strobe.full[..=dot].to_string();
        for d in decls.iter_mut() {
            if let Some(rest) = d.full.strip_prefix(&root) {
                d.name = rest.to_string();
            }
        }
    }
    Ok(Some(code))
}

/// Compare two VCD files.
pub fn diff_files(a: &Path, b: &Path, opts: &DiffOptions) -> Result<Outcome, VcdError> {
    let open = |p: &Path| {
        std::fs::File::open(p)
            .map(std::io::BufReader::new)
            .map_err(|source| VcdError::Io {
                path: p.to_owned(),
                source,
            })
    };
    diff(open(a)?, a, open(b)?, b, opts)
}

/// Compare two VCD streams (`a_name`, `b_name` are used in messages).
pub fn diff<A: BufRead, B: BufRead>(
    a: A,
    a_name: &Path,
    b: B,
    b_name: &Path,
    opts: &DiffOptions,
) -> Result<Outcome, VcdError> {
    let (mut sa, mut a_decls) = Sampler::open(a_name, a)?;
    let (mut sb, mut b_decls) = Sampler::open(b_name, b)?;
    let a_strobe = relative_to_strobe(&mut a_decls, &opts.align, a_name)?;
    let b_strobe = relative_to_strobe(&mut b_decls, &opts.align, b_name)?;
    let Pairs {
        left,
        right,
        unmatched,
    } = pair(&a_decls, &b_decls, opts, (a_name, b_name))?;
    if !unmatched.is_empty() && (!opts.allow_missing || left.is_empty()) {
        return Ok(Outcome::Unmatched { signals: unmatched });
    }
    sa.watch(&left, a_strobe);
    sb.watch(&right, b_strobe);

    let slot = |values: &[u8], offsets: &[usize], i: usize| {
        Val(values[offsets[i]..offsets[i + 1]].to_vec())
    };
    // The last few samples, as (sample, A's bits, B's bits); buffers are recycled.
    // Grown as samples come, never sized from the user's count.
    let mut history: VecDeque<(u64, Vec<u8>, Vec<u8>)> = VecDeque::new();
    let mut sample = 0u64;
    loop {
        let (more_a, more_b) = (sa.next_sample()?, sb.next_sample()?);
        if !more_a || !more_b {
            let signals = left.into_iter().map(|d| d.full).collect();
            if more_a == more_b {
                return Ok(if sample == 0 {
                    Outcome::NoSamples { signals }
                } else {
                    Outcome::Equal {
                        samples: sample,
                        signals,
                        unmatched,
                    }
                });
            }
            let (mut na, mut nb) = (sample + more_a as u64, sample + more_b as u64);
            while sa.next_sample()? {
                na += 1;
            }
            while sb.next_sample()? {
                nb += 1;
            }
            return Ok(Outcome::Length { samples: (na, nb) });
        }
        // Aligned on time, the k-th samples must also be at one instant, in absolute units.
        if opts.align == Align::Time && sa.sample_fs() != sb.sample_fs() {
            return Ok(Outcome::TimeSkew {
                sample,
                femtoseconds: (sa.sample_fs(), sb.sample_fs()),
            });
        }
        if sa.values != sb.values {
            let i = (0..left.len())
                .find(|&i| slot(&sa.values, &sa.offsets, i) != slot(&sb.values, &sb.offsets, i))
                .expect("equal widths, so some slot differs");
            let context = history
                .iter()
                .map(|(k, va, vb)| (*k, slot(va, &sa.offsets, i), slot(vb, &sb.offsets, i)))
                .chain(std::iter::once((
                    sample,
                    slot(&sa.values, &sa.offsets, i),
                    slot(&sb.values, &sb.offsets, i),
                )))
                .collect();
            return Ok(Outcome::Different(Box::new(Mismatch {
                sample,
                signal: left[i].full.clone(),
                time: (sa.sample_time, sb.sample_time),
                values: (
                    slot(&sa.values, &sa.offsets, i),
                    slot(&sb.values, &sb.offsets, i),
                ),
                context,
            })));
        }
        if opts.context > 0 {
            let (mut va, mut vb) = if history.len() == opts.context {
                let (_, va, vb) = history.pop_front().expect("non-empty");
                (va, vb)
            } else {
                (Vec::new(), Vec::new())
            };
            va.clone_from(&sa.values);
            vb.clone_from(&sb.values);
            history.push_back((sample, va, vb));
        }
        sample += 1;
    }
}
