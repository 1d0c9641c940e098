//! `iptlint.toml`: per-check levels and ignore rules.
//!
//! ```toml
//! [checks]
//! unreferenced-chain = "allow"     # allow | note | warning | error
//! duplicate-rule = "error"
//!
//! [[ignore]]
//! check = "unreferenced-chain"
//! table = "nat"                    # optional
//! chain = "KUBE-SEP-*"             # optional glob: `*` any run, `?` one character
//! reason = "stale endpoint chains are removed by kube-proxy's next sync"
//!
//! [counter-skew]
//! significance = 0.001             # family-wise level of the chi-square tests
//! ```
//!
//! The file is found in the current directory or the nearest parent, or
//! given with `--config FILE`. Unknown keys, unknown check names, bad levels
//! and ignore rules without a reason are `invalid-config` errors that point
//! into the file; the run then exits 2 without checking anything.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::checks::CheckOptions;
use crate::declare_code;
use crate::diagnostics::codes::UNREADABLE_INPUT;
use crate::diagnostics::{CodeInfo, Diagnostic, Severity};
use crate::lint::FileReport;
use crate::model::TableKind;
use crate::source::SourceFile;
use crate::suppress::{resolve, suggest_check};
use crate::syntax::Span;

declare_code! {
    /// ## What it does
    /// Reports a problem in `iptlint.toml`: TOML that does not parse, a key
    /// iptlint does not know, a check name that is no iptlint check, a level
    /// other than `allow`, `note`, `warning` or `error`, an `[[ignore]]`
    /// entry without a `reason`, or a table that does not exist.
    ///
    /// ## Why it matters
    /// A misspelled setting would otherwise be silently ignored, and the
    /// findings it was meant to change would not change. iptlint stops (exit
    /// code 2) rather than check with a configuration it does not understand.
    ///
    /// ## Example
    /// ```text
    /// [checks]
    /// unreferenced-chains = "allow"
    /// ```
    ///
    /// ## How to fix
    /// Use the names `iptlint rules` lists and the keys described in the
    /// README.
    pub static INVALID_CONFIG = ("IPT192", "invalid-config", Error, "an iptlint.toml that iptlint cannot use");
}

/// The codes this module reports.
pub static CODES: &[&CodeInfo] = &[&INVALID_CONFIG];

/// The file name looked for.
pub const FILE_NAME: &str = "iptlint.toml";

/// A shell-style pattern over chain names: `*` matches any run of
/// characters, `?` any one character, everything else itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    pattern: Vec<char>,
}

impl Glob {
    /// A glob from its text.
    pub fn new(pattern: &str) -> Self {
        Glob {
            pattern: pattern.chars().collect(),
        }
    }

    /// Whether `text` matches the whole pattern. Iterative, with one
    /// backtracking point (the last `*`), so at worst linear in
    /// `pattern.len() * text.len()`.
    pub fn matches(&self, text: &str) -> bool {
        let text: Vec<char> = text.chars().collect();
        let pattern = &self.pattern;
        let (mut p, mut t) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while t < text.len() {
            if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
                p += 1;
                t += 1;
            } else if p < pattern.len() && pattern[p] == '*' {
                star = Some((p, t));
                p += 1;
            } else if let Some((star_p, star_t)) = star {
                p = star_p + 1;
                t = star_t + 1;
                star = Some((star_p, star_t + 1));
            } else {
                return false;
            }
        }
        pattern[p..].iter().all(|&c| c == '*')
    }
}

/// An `[[ignore]]` entry: findings of `check` in `table` and chains matching
/// `chain` are dropped.
#[derive(Debug, Clone)]
pub struct IgnoreRule {
    /// The check's name.
    pub check: &'static str,
    /// Only in this table, when given.
    pub table: Option<String>,
    /// Only in chains matching this glob, when given.
    pub chain: Option<Glob>,
    /// Why (required; kept for humans).
    pub reason: String,
}

impl IgnoreRule {
    /// Whether this rule drops `diagnostic`.
    pub fn matches(&self, diagnostic: &Diagnostic) -> bool {
        diagnostic.info.name == self.check
            && self
                .table
                .as_ref()
                .is_none_or(|table| diagnostic.table.as_deref() == Some(table.as_str()))
            && self.chain.as_ref().is_none_or(|glob| {
                diagnostic
                    .chain
                    .as_deref()
                    .is_some_and(|chain| glob.matches(chain))
            })
    }
}

/// A parsed `iptlint.toml`.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Per check name: its level, `None` for `allow`.
    pub levels: HashMap<String, Option<Severity>>,
    /// `[[ignore]]` entries in file order.
    pub ignores: Vec<IgnoreRule>,
    /// Parameters of checks (`[counter-skew] significance`).
    pub options: CheckOptions,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    checks: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    ignore: Vec<Spanned<RawIgnore>>,
    #[serde(default, rename = "counter-skew")]
    counter_skew: Option<RawCounterSkew>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCounterSkew {
    significance: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIgnore {
    check: Spanned<String>,
    table: Option<Spanned<String>>,
    chain: Option<Spanned<String>>,
    reason: Option<Spanned<String>>,
}

fn span_of<T>(value: &Spanned<T>) -> Span {
    let range = value.span();
    Span::new(range.start, range.end)
}

/// `iptlint.toml` in `start` or its nearest ancestor that has one.
pub fn discover(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|dir| dir.join(FILE_NAME))
        .find(|path| path.is_file())
}

/// Read and parse the configuration at `path`. On failure, the report to
/// print: the file with its `invalid-config` (or `unreadable-input`) errors.
pub fn load(path: &Path) -> Result<Config, Box<FileReport>> {
    let name = path.display().to_string();
    let source = match std::fs::read(path) {
        Ok(bytes) => SourceFile::from_bytes(name, bytes),
        Err(error) => {
            return Err(Box::new(FileReport {
                source: SourceFile::new(name.clone(), ""),
                diagnostics: vec![Diagnostic::new(
                    &UNREADABLE_INPUT,
                    Span::default(),
                    format!("cannot read configuration `{name}`: {error}"),
                )],
            }));
        }
    };
    parse(&source.text).map_err(|diagnostics| {
        Box::new(FileReport {
            source,
            diagnostics,
        })
    })
}

/// Parse the text of an `iptlint.toml`.
pub fn parse(text: &str) -> Result<Config, Vec<Diagnostic>> {
    let raw: RawConfig = toml::from_str(text).map_err(|error| {
        let span = error
            .span()
            .map_or(Span::default(), |range| Span::new(range.start, range.end));
        vec![
            Diagnostic::new(&INVALID_CONFIG, span, error.message().trim().to_string())
                .with_note("`[checks]` sets levels, `[[ignore]]` entries take `check`, `table`, `chain` and `reason`, `[counter-skew]` takes `significance`"),
        ]
    })?;
    let mut errors = Vec::new();
    let mut config = Config::default();
    for (name, level) in &raw.checks {
        let Some(check) = known_check(name, &mut errors) else {
            continue;
        };
        let severity = match level.get_ref().as_str() {
            "allow" => None,
            "note" => Some(Severity::Note),
            "warning" => Some(Severity::Warning),
            "error" => Some(Severity::Error),
            other => {
                errors.push(
                    Diagnostic::new(
                        &INVALID_CONFIG,
                        span_of(level),
                        format!("`{other}` is not a level"),
                    )
                    .with_primary_message("expected `allow`, `note`, `warning` or `error`"),
                );
                continue;
            }
        };
        config.levels.insert(check.to_string(), severity);
    }
    for entry in &raw.ignore {
        let raw_entry = entry.get_ref();
        let check = known_check(&raw_entry.check, &mut errors);
        let reason = match &raw_entry.reason {
            Some(reason) if !reason.get_ref().trim().is_empty() => Some(reason.get_ref().clone()),
            Some(reason) => {
                errors.push(
                    Diagnostic::new(&INVALID_CONFIG, span_of(reason), "empty reason")
                        .with_primary_message("say why these findings are fine"),
                );
                None
            }
            None => {
                errors.push(
                    Diagnostic::new(
                        &INVALID_CONFIG,
                        span_of(entry),
                        "`[[ignore]]` entry without a `reason`",
                    )
                    .with_primary_message("add `reason = \"...\"`")
                    .with_note("every ignore rule says why, for the next reader"),
                );
                None
            }
        };
        if let Some(table) = &raw_entry.table
            && TableKind::from_name(table.get_ref()) == TableKind::Unknown
        {
            errors.push(
                Diagnostic::new(
                    &INVALID_CONFIG,
                    span_of(table),
                    format!("there is no table `{}`", table.get_ref()),
                )
                .with_note("tables are filter, nat, mangle, raw and security"),
            );
            continue;
        }
        if let (Some(check), Some(reason)) = (check, reason) {
            config.ignores.push(IgnoreRule {
                check,
                table: raw_entry.table.as_ref().map(|t| t.get_ref().clone()),
                chain: raw_entry.chain.as_ref().map(|c| Glob::new(c.get_ref())),
                reason,
            });
        }
    }
    if let Some(significance) = raw
        .counter_skew
        .as_ref()
        .and_then(|section| section.significance.as_ref())
    {
        let value = *significance.get_ref();
        if value > 0.0 && value < 1.0 {
            config.options.counter_skew_significance = value;
        } else {
            errors.push(
                Diagnostic::new(
                    &INVALID_CONFIG,
                    span_of(significance),
                    format!("significance `{value}` is not between 0 and 1"),
                )
                .with_primary_message("a probability such as 0.001"),
            );
        }
    }
    if errors.is_empty() {
        Ok(config)
    } else {
        errors.sort_by_key(|d| d.primary_span().start);
        Err(errors)
    }
}

/// The canonical name of the check `name` names, or an error at its span.
fn known_check(name: &Spanned<String>, errors: &mut Vec<Diagnostic>) -> Option<&'static str> {
    let text = name.get_ref();
    if let Some(check) = resolve(text) {
        return Some(check);
    }
    let diagnostic = Diagnostic::new(
        &INVALID_CONFIG,
        span_of(name),
        format!("no check named `{text}`"),
    )
    .with_primary_message("unknown check");
    errors.push(match suggest_check(text) {
        Some(close) => diagnostic.with_note(format!("did you mean `{close}`?")),
        None => diagnostic.with_note("`iptlint rules` lists every check"),
    });
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let glob = Glob::new("KUBE-SEP-*");
        assert!(glob.matches("KUBE-SEP-ABC"));
        assert!(glob.matches("KUBE-SEP-"));
        assert!(!glob.matches("KUBE-SVC-ABC"));
        assert!(Glob::new("*-?").matches("A-B-C"));
        assert!(!Glob::new("*-?").matches("A-BC"));
        assert!(Glob::new("a*b*c").matches("aXbYbZc"));
        assert!(!Glob::new("a*b*c").matches("aXbYbZ"));
        assert!(Glob::new("*").matches(""));
        assert!(!Glob::new("").matches("x"));
    }

    #[test]
    fn levels_and_ignores() {
        let config = parse(
            "[checks]\nunreferenced-chain = \"allow\"\nIPT105 = \"error\"\n\n[[ignore]]\ncheck = \"empty-chain\"\ntable = \"nat\"\nchain = \"KUBE-SEP-*\"\nreason = \"kube-proxy resyncs\"\n",
        )
        .unwrap();
        assert_eq!(config.levels["unreferenced-chain"], None);
        assert_eq!(config.levels["duplicate-rule"], Some(Severity::Error));
        assert_eq!(config.ignores.len(), 1);
        assert_eq!(config.ignores[0].check, "empty-chain");
    }

    fn errors_of(text: &str) -> Vec<(String, String)> {
        parse(text)
            .unwrap_err()
            .iter()
            .map(|d| (d.message.clone(), d.primary_span().text(text).to_string()))
            .collect()
    }

    #[test]
    fn errors_point_into_the_file() {
        assert_eq!(
            errors_of("[checks]\nunreferenced-chains = \"allow\"\nempty-chain = \"off\"\n"),
            [
                (
                    "no check named `unreferenced-chains`".to_string(),
                    "unreferenced-chains".to_string()
                ),
                ("`off` is not a level".to_string(), "\"off\"".to_string()),
            ]
        );
        let unknown_key = errors_of("[checks]\n[output]\nformat = \"json\"\n");
        assert_eq!(unknown_key.len(), 1);
        assert!(
            unknown_key[0].0.contains("unknown field `output`"),
            "{unknown_key:?}"
        );
        assert_eq!(unknown_key[0].1, "output");
        let no_reason = errors_of("[[ignore]]\ncheck = \"empty-chain\"\nchain = \"X*\"\n");
        assert_eq!(no_reason[0].0, "`[[ignore]]` entry without a `reason`");
        let bad_key =
            errors_of("[[ignore]]\ncheck = \"empty-chain\"\nreason = \"r\"\nchains = \"X\"\n");
        assert!(
            bad_key[0].0.contains("unknown field `chains`"),
            "{bad_key:?}"
        );
        assert_eq!(bad_key[0].1, "chains");
        let bad_table =
            errors_of("[[ignore]]\ncheck = \"empty-chain\"\nreason = \"r\"\ntable = \"nats\"\n");
        assert_eq!(bad_table[0].1, "\"nats\"");
    }

    #[test]
    fn counter_skew_significance() {
        assert_eq!(
            parse("").unwrap().options.counter_skew_significance,
            crate::checks::counter_skew::DEFAULT_SIGNIFICANCE
        );
        let config = parse("[counter-skew]\nsignificance = 1e-6\n").unwrap();
        assert_eq!(config.options.counter_skew_significance, 1e-6);
        let out_of_range = errors_of("[counter-skew]\nsignificance = 1.5\n");
        assert_eq!(
            out_of_range,
            [(
                "significance `1.5` is not between 0 and 1".to_string(),
                "1.5".to_string()
            )]
        );
        let unknown = errors_of("[counter-skew]\nalpha = 0.01\n");
        assert!(
            unknown[0].0.contains("unknown field `alpha`"),
            "{unknown:?}"
        );
    }
}
