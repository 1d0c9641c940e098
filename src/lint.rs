//! The `check` pipeline: read, parse, build the graph, run the checks, apply
//! the suppressions written in the dump, then the configured severities and
//! ignore rules. Several files are checked in parallel and
//! reported in the order given.

use std::collections::HashMap;

use rayon::prelude::*;

use crate::checks::{self, Context};
use crate::config::{Config, INVALID_CONFIG, IgnoreRule};
use crate::diagnostics::codes::{
    INVALID_UTF8, SYNTAX_ERROR, TOO_MANY_DIAGNOSTICS, UNREADABLE_INPUT,
};
use crate::diagnostics::{Diagnostic, Severity};
use crate::graph::DumpGraph;
use crate::model::Dump;
use crate::model::build::build_source;
use crate::source::SourceFile;
use crate::syntax::Span;

/// Diagnostics of one code shown per file before the rest are summarised.
pub const MAX_PER_CODE: usize = 200;

/// How findings are filtered and graded.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Per code name: the severity to report it at, or `None` to drop it.
    pub levels: HashMap<String, Option<Severity>>,
    /// `[[ignore]]` rules of the configuration: matching findings are dropped.
    pub ignores: Vec<IgnoreRule>,
    /// Parameters of checks.
    pub options: crate::checks::CheckOptions,
    /// Leave each file's model and analyses allocated when its report is
    /// made, for a process that ends right after: freeing the hundreds of
    /// thousands of rules, packet sets and services of a large dump took
    /// 40 ms of a 0.6 s `check` (the operating system takes the memory
    /// back at exit at no cost). The CLI sets it for a single input only,
    /// so that checking many files never holds all their models at once.
    pub keep_memory_until_exit: bool,
}

impl Settings {
    /// The settings of a configuration file.
    pub fn from_config(config: Config) -> Self {
        Settings {
            levels: config.levels,
            ignores: config.ignores,
            options: config.options,
            keep_memory_until_exit: false,
        }
    }

    /// Report only the checks named in `names` (canonical names): every
    /// other code is dropped, except that a file that cannot be read or
    /// parsed is still reported. A selected check the configuration file
    /// allows is reported again, at its default level.
    pub fn select(&mut self, names: &[&str]) {
        for info in checks::all_codes() {
            if !names.contains(&info.name) {
                self.levels.insert(info.name.to_string(), None);
            } else if self.levels.get(info.name) == Some(&None) {
                self.levels.remove(info.name);
            }
        }
    }

    /// Drop the checks named in `names`.
    pub fn ignore(&mut self, names: &[&str]) {
        for name in names {
            self.levels.insert(name.to_string(), None);
        }
    }

    fn apply(&self, diagnostics: &mut Vec<Diagnostic>) {
        if self.levels.is_empty() && self.ignores.is_empty() {
            return;
        }
        diagnostics.retain_mut(|diagnostic| {
            // A file that cannot be read or parsed stays an error whatever the configuration says.
            if std::ptr::eq(diagnostic.info, &SYNTAX_ERROR)
                || std::ptr::eq(diagnostic.info, &UNREADABLE_INPUT)
            {
                return true;
            }
            if self.ignores.iter().any(|rule| rule.matches(diagnostic)) {
                return false;
            }
            match self.levels.get(diagnostic.info.name) {
                Some(Some(severity)) => {
                    diagnostic.severity = *severity;
                    true
                }
                Some(None) => false,
                None => true,
            }
        });
    }
}

/// What was found in one file.
#[derive(Debug, Clone)]
pub struct FileReport {
    /// The file (its text is what the spans point into).
    pub source: SourceFile,
    /// Findings in source order.
    pub diagnostics: Vec<Diagnostic>,
}

impl FileReport {
    /// Whether the file could not be read or parsed (exit code 2).
    pub fn is_fatal(&self) -> bool {
        is_fatal(&self.diagnostics)
    }
}

/// Whether `diagnostics` say that their file could not be read or parsed.
pub fn is_fatal(diagnostics: &[Diagnostic]) -> bool {
    diagnostics.iter().any(|d| {
        std::ptr::eq(d.info, &SYNTAX_ERROR)
            || std::ptr::eq(d.info, &UNREADABLE_INPUT)
            || std::ptr::eq(d.info, &INVALID_CONFIG)
    })
}

/// Drop a model on every thread: freeing the hundreds of thousands of
/// rules of a large dump one by one took 20 ms, a twentieth of `check`.
fn free_in_parallel(parsed: crate::model::build::Parsed<'_>) {
    parsed
        .dump
        .tables
        .into_par_iter()
        .for_each(|table| table.chains.into_par_iter().for_each(drop));
}

/// Check one source.
pub fn check_source(source: SourceFile, settings: &Settings) -> FileReport {
    let (diagnostics, ()) = check_source_with(&source, settings, |_, _| ());
    FileReport {
        source,
        diagnostics,
    }
}

/// Check one source, and hand its findings (as [`check_source`] reports
/// them) and the model and graph they were found on (`None` when the dump
/// does not parse) to `then` before the model is freed: for commands that
/// draw or explain what `check` read, without reading it twice.
pub fn check_source_with<R>(
    source: &SourceFile,
    settings: &Settings,
    then: impl FnOnce(&[Diagnostic], Option<(&Dump<'_>, &DumpGraph)>) -> R,
) -> (Vec<Diagnostic>, R) {
    analyse(source, settings, true, then)
}

/// Check one source without capping the findings per code (see
/// [`cap_per_code`]): for baselines, which must see every finding.
pub fn analyse_source(source: SourceFile, settings: &Settings) -> FileReport {
    let (diagnostics, ()) = analyse(&source, settings, false, |_, _| ());
    FileReport {
        source,
        diagnostics,
    }
}

/// Parse, check, grade and sort, capping the findings per code when `cap`;
/// then `then`, then the model is freed (or left to the exit, see
/// [`Settings::keep_memory_until_exit`]).
fn analyse<R>(
    source: &SourceFile,
    settings: &Settings,
    cap: bool,
    then: impl FnOnce(&[Diagnostic], Option<(&Dump<'_>, &DumpGraph)>) -> R,
) -> (Vec<Diagnostic>, R) {
    let parsed = build_source(source);
    let mut diagnostics = parsed.diagnostics.clone();
    if let Some(at) = source.invalid_utf8_at {
        diagnostics.push(
            Diagnostic::new(
                &INVALID_UTF8,
                Span::new(at, at + 1),
                "this file is not valid UTF-8",
            )
            .with_primary_message("first invalid byte here")
            .with_note("invalid bytes are shown as U+FFFD; iptlint reads on"),
        );
    }
    let checks_run = !parsed.has_syntax_errors();
    let graph = checks_run.then(|| DumpGraph::build(&parsed.dump));
    if let Some(graph) = &graph {
        let cx = Context::new(&source.text, &parsed.dump, graph, settings.options);
        diagnostics.extend(checks::run_all(&cx));
        if settings.keep_memory_until_exit {
            std::mem::forget(cx);
        }
    }
    crate::suppress::apply(source, &parsed, &mut diagnostics, checks_run);
    settings.apply(&mut diagnostics);
    for diagnostic in &mut diagnostics {
        shorten_texts(diagnostic);
    }
    diagnostics.sort_by_key(|d| {
        (
            d.primary_span().start,
            std::cmp::Reverse(d.severity),
            d.info.code,
        )
    });
    if cap {
        cap_per_code(&mut diagnostics);
    }
    let result = then(&diagnostics, graph.as_ref().map(|g| (&parsed.dump, g)));
    if settings.keep_memory_until_exit {
        std::mem::forget(graph);
        std::mem::forget(parsed);
    } else {
        drop(graph);
        free_in_parallel(parsed);
    }
    (diagnostics, result)
}

/// Longest message, note or label text kept (in bytes): messages quote
/// words of the dump, and a hostile dump's words can be megabytes long.
pub const MAX_TEXT: usize = 1024;

/// Cut every text of `diagnostic` to [`MAX_TEXT`] bytes.
fn shorten_texts(diagnostic: &mut Diagnostic) {
    shorten(&mut diagnostic.message);
    for note in &mut diagnostic.notes {
        shorten(note);
    }
    for label in &mut diagnostic.labels {
        shorten(&mut label.message);
    }
    for name in [&mut diagnostic.table, &mut diagnostic.chain]
        .into_iter()
        .flatten()
    {
        shorten(name);
    }
}

fn shorten(text: &mut String) {
    if text.len() <= MAX_TEXT {
        return;
    }
    let total = text.len();
    text.truncate(crate::source::floor_char_boundary(text, MAX_TEXT));
    text.push_str(&format!("… ({total} bytes in all)"));
}

/// Keep the first [`MAX_PER_CODE`] diagnostics of each code and say how many more there were.
pub fn cap_per_code(diagnostics: &mut Vec<Diagnostic>) {
    let mut counts: HashMap<&'static str, usize> = HashMap::new();
    let mut dropped: Vec<(&'static str, usize, Span)> = Vec::new();
    diagnostics.retain(|diagnostic| {
        let count = counts.entry(diagnostic.info.name).or_default();
        *count += 1;
        if *count <= MAX_PER_CODE {
            return true;
        }
        match dropped
            .iter_mut()
            .find(|(name, _, _)| *name == diagnostic.info.name)
        {
            Some(entry) => entry.1 += 1,
            None => dropped.push((diagnostic.info.name, 1, diagnostic.primary_span())),
        }
        false
    });
    for (name, count, span) in dropped {
        diagnostics.push(Diagnostic::new(
            &TOO_MANY_DIAGNOSTICS,
            span,
            format!("{count} more `{name}` diagnostics not shown (the first {MAX_PER_CODE} are)"),
        ));
    }
}

/// Check a file by path (`-` is stdin). An unreadable file gives a report
/// with one `unreadable-input` error.
pub fn check_path(path: &str, settings: &Settings) -> FileReport {
    let mut report = analyse_path(path, settings);
    cap_per_code(&mut report.diagnostics);
    report
}

/// [`check_path`] without capping the findings per code.
pub fn analyse_path(path: &str, settings: &Settings) -> FileReport {
    match SourceFile::read(path) {
        Ok(source) => analyse_source(source, settings),
        Err(error) => {
            let name = if path == "-" { "<stdin>" } else { path };
            FileReport {
                source: SourceFile::new(name, ""),
                diagnostics: vec![Diagnostic::new(
                    &UNREADABLE_INPUT,
                    Span::default(),
                    format!("cannot read `{name}`: {error}"),
                )],
            }
        }
    }
}

/// Check several paths in parallel; reports come back in the order given.
pub fn check_paths(paths: &[String], settings: &Settings) -> Vec<FileReport> {
    paths
        .par_iter()
        .map(|path| check_path(path, settings))
        .collect()
}

/// [`check_paths`] without capping the findings per code.
pub fn analyse_paths(paths: &[String], settings: &Settings) -> Vec<FileReport> {
    paths
        .par_iter()
        .map(|path| analyse_path(path, settings))
        .collect()
}

/// Counts of findings by severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// Files checked.
    pub files: usize,
    /// Error findings.
    pub errors: usize,
    /// Warning findings.
    pub warnings: usize,
    /// Note findings.
    pub notes: usize,
}

impl Summary {
    /// Count the findings of `reports`.
    pub fn of(reports: &[FileReport]) -> Self {
        let mut summary = Summary {
            files: reports.len(),
            ..Summary::default()
        };
        for diagnostic in reports.iter().flat_map(|r| &r.diagnostics) {
            match diagnostic.severity {
                Severity::Error => summary.errors += 1,
                Severity::Warning => summary.warnings += 1,
                Severity::Note => summary.notes += 1,
            }
        }
        summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_survive_any_configuration() {
        let mut settings = Settings::default();
        settings.levels.insert("syntax-error".into(), None);
        let report = check_source(
            SourceFile::new("x", "*filter\n[1:2 -A INPUT\nCOMMIT\n"),
            &settings,
        );
        assert!(report.is_fatal());
    }

    #[test]
    fn levels_override_and_allow() {
        let text = "*filter\n-A INPUT -i ! -j DROP\nCOMMIT\n";
        let default = check_source(SourceFile::new("x", text), &Settings::default());
        assert_eq!(default.diagnostics[0].severity, Severity::Warning);
        let mut settings = Settings::default();
        settings
            .levels
            .insert("obsolete-negation".into(), Some(Severity::Error));
        let raised = check_source(SourceFile::new("x", text), &settings);
        assert_eq!(raised.diagnostics[0].severity, Severity::Error);
        settings.levels.insert("obsolete-negation".into(), None);
        assert!(
            check_source(SourceFile::new("x", text), &settings)
                .diagnostics
                .is_empty()
        );
    }

    #[test]
    fn floods_of_one_code_are_capped() {
        let text = "[garbage\n".repeat(1000);
        let report = check_source(SourceFile::new("x", text), &Settings::default());
        assert_eq!(report.diagnostics.len(), MAX_PER_CODE + 1);
        let last = report.diagnostics.last().unwrap();
        assert_eq!(last.info.name, "too-many-diagnostics");
        assert!(
            last.message.starts_with("800 more `syntax-error`"),
            "{}",
            last.message
        );
    }

    #[test]
    fn unreadable_paths_are_reported() {
        let report = check_path("/definitely/not/here.rules", &Settings::default());
        assert!(report.is_fatal());
        assert_eq!(report.diagnostics[0].info.name, "unreadable-input");
    }
}
