//! Suppressions written in the dump itself.
//!
//! - A comment line `# iptlint: disable=NAME[,NAME] -- reason` suppresses
//!   findings of those checks on the next rule or chain line (comments and
//!   empty lines in between are skipped).
//! - A rule with `-m comment --comment "iptlint:allow=NAME[,NAME]"` suppresses
//!   findings of those checks on that rule. The comment is part of the rule,
//!   so the suppression survives a round trip through the kernel
//!   (`iptables-restore` then `iptables-save`).
//!
//! A finding is suppressed when any of its labels (the primary one or a
//! secondary one) is on the suppressed line: a suppression on either copy of
//! a duplicated rule, or on any jump of a loop, silences that finding.
//! Names may be written as check names or codes. A suppression that
//! silences nothing is reported as `unused-suppression`; a directive that
//! cannot be understood (an unknown check, no reason) as
//! `invalid-suppression`.

use crate::collections::HashMap;

use crate::checks::{all_codes, find_code};
use crate::declare_code;
use crate::diagnostics::codes::{SYNTAX_ERROR, UNREADABLE_INPUT};
use crate::diagnostics::suggest;
use crate::diagnostics::{CodeInfo, Diagnostic};
use crate::model::MatchKind;
use crate::model::build::Parsed;
use crate::source::SourceFile;
use crate::syntax::Span;

declare_code! {
    /// ## What it does
    /// Reports a suppression (`# iptlint: disable=NAME -- reason` or
    /// `-m comment --comment "iptlint:allow=NAME"`) that silences no finding:
    /// the check it names reports nothing on the line it applies to.
    ///
    /// ## Why it matters
    /// A stale suppression hides the next real finding on that line, and
    /// misleads readers into thinking the line has a known problem. Usually
    /// the problem was fixed, or the suppression sits above the wrong line.
    ///
    /// ## Example
    /// ```text
    /// # iptlint: disable=duplicate-rule -- fixed in the last release
    /// -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
    /// ```
    ///
    /// ## How to fix
    /// Delete the suppression, or move it right above the line the finding
    /// points at.
    pub static UNUSED_SUPPRESSION = ("IPT190", "unused-suppression", Warning, "a suppression that silences nothing");
}

declare_code! {
    /// ## What it does
    /// Reports an iptlint suppression that cannot be understood: a comment
    /// line starting `# iptlint:` that is not `disable=NAME[,NAME] -- reason`,
    /// a name that is no iptlint check, or a `disable=` without a reason.
    ///
    /// ## Why it matters
    /// A misspelled check name silences nothing, and a suppression without a
    /// reason leaves the next reader guessing whether it is still needed.
    ///
    /// ## Example
    /// ```text
    /// # iptlint: disable=duplicate-rules
    /// ```
    ///
    /// ## How to fix
    /// Write `# iptlint: disable=NAME -- why this is fine` with names from
    /// `iptlint rules`.
    pub static INVALID_SUPPRESSION = ("IPT191", "invalid-suppression", Warning, "a suppression iptlint cannot understand");
}

/// The codes this module reports.
pub static CODES: &[&CodeInfo] = &[&UNUSED_SUPPRESSION, &INVALID_SUPPRESSION];

/// One check named by one suppression.
#[derive(Debug, Clone)]
struct Entry {
    /// The check's name (codes are resolved to names).
    name: &'static str,
    /// Where it was written (for a rule comment: the whole `-m comment`).
    span: Span,
    /// Whether it silenced something.
    used: bool,
}

/// A suppression of some checks on one line.
#[derive(Debug, Clone)]
struct Suppression {
    /// The 1-based line it applies to, `None` when no rule or chain follows.
    line: Option<u32>,
    entries: Vec<Entry>,
}

/// Apply the suppressions of `parsed` to `diagnostics`, and add the findings
/// about the suppressions themselves. Unused suppressions are reported only
/// when `checks_ran`: after a syntax error most checks did not run, so most
/// suppressions would look unused.
pub fn apply(
    source: &SourceFile,
    parsed: &Parsed<'_>,
    diagnostics: &mut Vec<Diagnostic>,
    checks_ran: bool,
) {
    // Most dumps have no suppressions; skip the pass over every rule's
    // comments then (a kube-proxy dump has a comment on nearly every rule).
    if memchr::memmem::find(source.text.as_bytes(), b"iptlint:").is_none() {
        return;
    }
    let mut problems = Vec::new();
    let mut suppressions = directives(source, parsed, &mut problems);
    suppressions.extend(rule_comments(parsed, &mut problems));
    if suppressions.is_empty() {
        diagnostics.extend(problems);
        return;
    }
    let mut by_line: HashMap<u32, Vec<usize>> = HashMap::default();
    for (index, suppression) in suppressions.iter().enumerate() {
        if let Some(line) = suppression.line {
            by_line.entry(line).or_default().push(index);
        }
    }
    diagnostics.retain(|diagnostic| {
        if std::ptr::eq(diagnostic.info, &SYNTAX_ERROR)
            || std::ptr::eq(diagnostic.info, &UNREADABLE_INPUT)
        {
            return true;
        }
        let mut suppressed = false;
        for label in &diagnostic.labels {
            let line = source.location(label.span.start as usize).0 as u32;
            for &index in by_line.get(&line).into_iter().flatten() {
                for entry in &mut suppressions[index].entries {
                    if entry.name == diagnostic.info.name {
                        entry.used = true;
                        suppressed = true;
                    }
                }
            }
        }
        !suppressed
    });
    if checks_ran {
        for suppression in &suppressions {
            for entry in suppression.entries.iter().filter(|entry| !entry.used) {
                let message = match suppression.line {
                    Some(line) => format!(
                        "`{}` reports nothing on line {line}, so this suppression is unused",
                        entry.name
                    ),
                    None => format!(
                        "this suppression of `{}` is followed by no rule or chain line",
                        entry.name
                    ),
                };
                problems.push(
                    Diagnostic::new(&UNUSED_SUPPRESSION, entry.span, message)
                        .with_primary_message("suppresses nothing")
                        .with_note(
                            "delete it, or move it right above the line the finding points at",
                        ),
                );
            }
        }
    }
    diagnostics.extend(problems);
}

/// `# iptlint: disable=...` comment lines.
fn directives(
    source: &SourceFile,
    parsed: &Parsed<'_>,
    problems: &mut Vec<Diagnostic>,
) -> Vec<Suppression> {
    let src = source.text.as_str();
    let mut out = Vec::new();
    for comment in &parsed.directives {
        let text = comment.span.text(src);
        let base = comment.span.start as usize;
        let body = text.trim_start_matches('#');
        let Some(after) = body.trim_start().strip_prefix("iptlint:") else {
            // `iptlint:` further into an ordinary comment: not a directive.
            continue;
        };
        let after_offset = base + (text.len() - after.len());
        let trimmed = after.trim_start();
        let trimmed_offset = after_offset + (after.len() - trimmed.len());
        let Some(list) = trimmed.strip_prefix("disable=") else {
            problems.push(
                Diagnostic::new(
                    &INVALID_SUPPRESSION,
                    comment.span,
                    "unknown iptlint directive",
                )
                .with_primary_message("expected `# iptlint: disable=NAME[,NAME] -- reason`"),
            );
            continue;
        };
        let list_offset = trimmed_offset + "disable=".len();
        let (names_text, reason) = match list.find("--") {
            Some(at) => (&list[..at], Some(list[at + 2..].trim())),
            None => (list, None),
        };
        if reason.is_none_or(str::is_empty) {
            problems.push(
                Diagnostic::new(
                    &INVALID_SUPPRESSION,
                    comment.span,
                    "suppression without a reason",
                )
                .with_primary_message("add ` -- why this is fine` after the names")
                .with_note("the suppression still applies; the reason is for the next reader"),
            );
        }
        let entries = parse_names(names_text, list_offset, problems);
        if entries.is_empty() {
            continue;
        }
        out.push(Suppression {
            line: next_rule_or_chain_line(source, comment.line),
            entries,
        });
    }
    out
}

/// `NAME[,NAME]` starting at byte `offset`: the known names as entries,
/// unknown ones reported.
fn parse_names(text: &str, offset: usize, problems: &mut Vec<Diagnostic>) -> Vec<Entry> {
    let mut entries = Vec::new();
    let problems_before = problems.len();
    let mut start = 0;
    for part in text.split(',') {
        let leading = part.len() - part.trim_start().len();
        let name = part.trim();
        let span = Span::new(
            offset + start + leading,
            offset + start + leading + name.len(),
        );
        start += part.len() + 1;
        if name.is_empty() {
            continue;
        }
        match resolve(name) {
            Some(name) => entries.push(Entry {
                name,
                span,
                used: false,
            }),
            None => problems.push(unknown_check(name, span)),
        }
    }
    if entries.is_empty() && problems.len() == problems_before {
        problems.push(
            Diagnostic::new(
                &INVALID_SUPPRESSION,
                Span::new(offset, offset + text.len()),
                "suppression names no check",
            )
            .with_primary_message("expected check names, as `iptlint rules` lists them"),
        );
    }
    entries
}

/// The canonical name of the check named (or coded) `name`.
pub fn resolve(name: &str) -> Option<&'static str> {
    find_code(name).map(|info| info.name)
}

/// An `invalid-suppression` for the unknown check `name` written at `span`.
fn unknown_check(name: &str, span: Span) -> Diagnostic {
    let diagnostic = Diagnostic::new(
        &INVALID_SUPPRESSION,
        span,
        format!("no check named `{name}`"),
    )
    .with_primary_message("unknown check");
    match suggest_check(name) {
        Some(close) => diagnostic.with_note(format!("did you mean `{close}`?")),
        None => diagnostic.with_note("`iptlint rules` lists every check"),
    }
}

/// The check name closest to `name`, when close enough to be a misspelling.
pub fn suggest_check(name: &str) -> Option<&'static str> {
    suggest::closest(name, all_codes().into_iter().map(|info| info.name))
}

/// The first line after `line` that is a rule or a chain declaration.
fn next_rule_or_chain_line(source: &SourceFile, line: u32) -> Option<u32> {
    for next in line as usize + 1..=source.line_count() {
        let text = &source.text[source.line_range(next)];
        match text.as_bytes().first() {
            None | Some(b'#') => continue,
            Some(b':' | b'-' | b'[') => return Some(next as u32),
            Some(_) => return None,
        }
    }
    None
}

/// `-m comment --comment "iptlint:allow=..."` on rules.
fn rule_comments(parsed: &Parsed<'_>, problems: &mut Vec<Diagnostic>) -> Vec<Suppression> {
    let mut out = Vec::new();
    let rules = parsed
        .dump
        .tables
        .iter()
        .flat_map(|table| &table.chains)
        .flat_map(|chain| &chain.rules);
    for rule in rules {
        for found in &rule.matches {
            let MatchKind::Comment(text) = &found.kind else {
                continue;
            };
            let Some(at) = text.find("iptlint:allow=") else {
                continue;
            };
            let list = &text[at + "iptlint:allow=".len()..];
            let list = list.split("--").next().unwrap_or_default();
            let list = list.split_whitespace().next().unwrap_or_default();
            let mut entries = Vec::new();
            for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                match resolve(name) {
                    Some(name) => entries.push(Entry {
                        name,
                        span: found.span,
                        used: false,
                    }),
                    None => problems.push(unknown_check(name, found.span)),
                }
            }
            if entries.is_empty() {
                continue;
            }
            out.push(Suppression {
                line: Some(rule.line),
                entries,
            });
        }
    }
    out
}
