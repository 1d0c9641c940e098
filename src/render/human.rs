//! rustc-style diagnostics through codespan-reporting.

use std::ops::Range;

use codespan_reporting::diagnostic::{
    Diagnostic as CsDiagnostic, Label as CsLabel, Severity as CsSeverity,
};
use codespan_reporting::files::{Error as FilesError, Files};
use codespan_reporting::term::termcolor::{BufferedStandardStream, ColorChoice, WriteColor};
use codespan_reporting::term::{self, Config};

use crate::diagnostics::{Diagnostic, Severity};
use crate::lint::{FileReport, Summary};

/// The reports as codespan's file database (file id = index).
struct ReportFiles<'r>(&'r [FileReport]);

impl<'r> Files<'r> for ReportFiles<'r> {
    type FileId = usize;
    type Name = &'r str;
    type Source = &'r str;

    fn name(&'r self, id: usize) -> Result<&'r str, FilesError> {
        self.0
            .get(id)
            .map(|r| r.source.name.as_str())
            .ok_or(FilesError::FileMissing)
    }

    fn source(&'r self, id: usize) -> Result<&'r str, FilesError> {
        self.0
            .get(id)
            .map(|r| r.source.text.as_str())
            .ok_or(FilesError::FileMissing)
    }

    fn line_index(&'r self, id: usize, byte_index: usize) -> Result<usize, FilesError> {
        let report = self.0.get(id).ok_or(FilesError::FileMissing)?;
        Ok(report.source.location(byte_index).0 - 1)
    }

    fn line_range(&'r self, id: usize, line_index: usize) -> Result<Range<usize>, FilesError> {
        let report = self.0.get(id).ok_or(FilesError::FileMissing)?;
        let count = report.source.line_count();
        if line_index >= count {
            return Err(FilesError::LineTooLarge {
                given: line_index,
                max: count.saturating_sub(1),
            });
        }
        let range = report.source.line_range(line_index + 1);
        // codespan wants the newline included so that end-of-line spans render.
        let end = (range.end + 1).min(report.source.text.len());
        Ok(range.start..end.max(range.end))
    }
}

/// Longest source line (in bytes) printed under a finding.
pub const MAX_SHOWN_LINE: usize = 4096;

/// Turn one finding into a codespan diagnostic of file `file`.
pub fn to_codespan(file: usize, diagnostic: &Diagnostic) -> CsDiagnostic<usize> {
    let severity = match diagnostic.severity {
        Severity::Error => CsSeverity::Error,
        Severity::Warning => CsSeverity::Warning,
        Severity::Note => CsSeverity::Note,
    };
    let labels = diagnostic
        .labels
        .iter()
        .map(|label| {
            let make = if label.primary {
                CsLabel::primary
            } else {
                CsLabel::secondary
            };
            make(file, label.span.range()).with_message(label.message.clone())
        })
        .collect();
    CsDiagnostic::new(severity)
        .with_code(format!("{} {}", diagnostic.info.code, diagnostic.info.name))
        .with_message(diagnostic.message.clone())
        .with_labels(labels)
        .with_notes(diagnostic.notes.clone())
}

/// Print every report, then (unless `quiet`) a summary line.
pub fn emit(reports: &[FileReport], color: ColorChoice, quiet: bool) -> std::io::Result<()> {
    // Buffered: codespan writes a diagnostic a few bytes at a time, and an
    // unbuffered stdout made that one system call per line (3,471 for the
    // 332 notes of the 10k-service dump).
    let mut stdout = BufferedStandardStream::stdout(color);
    write_reports(&mut stdout, reports, quiet)
}

/// Write every report to `out`.
pub fn write_reports(
    out: &mut dyn WriteColor,
    reports: &[FileReport],
    quiet: bool,
) -> std::io::Result<()> {
    let files = ReportFiles(reports);
    let config = Config::default();
    for (id, report) in reports.iter().enumerate() {
        for diagnostic in &report.diagnostics {
            let mut shown = to_codespan(id, diagnostic);
            if let Some(long) = diagnostic.labels.iter().find_map(|label| {
                let (line, column) = report.source.location(label.span.start as usize);
                let length = report.source.line_range(line).len();
                (length > MAX_SHOWN_LINE).then_some((line, column, length))
            }) {
                // codespan prints whole lines: a 50 MB line once per finding
                // would bury the findings. Say where instead.
                let (line, column, length) = long;
                shown.labels.clear();
                shown.notes.insert(
                    0,
                    format!(
                        "at {}:{line}:{column} (a line of {length} bytes, not shown)",
                        report.source.name
                    ),
                );
            }
            term::emit(out, &config, &files, &shown).map_err(|error| match error {
                // Kept as is, so that a closed pipe (`| head`) stays a
                // broken pipe, which ends the run quietly.
                codespan_reporting::files::Error::Io(error) => error,
                other => std::io::Error::other(other),
            })?;
        }
    }
    if !quiet {
        writeln!(out, "{}", summary_line(&Summary::of(reports)))?;
    }
    out.flush()
}

/// `found 2 errors and 1 warning in 1 file`, or `no findings in 3 files`.
pub fn summary_line(summary: &Summary) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let files = plural(summary.files, "file");
    let parts: Vec<String> = [
        (summary.errors, "error"),
        (summary.warnings, "warning"),
        (summary.notes, "note"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, word)| plural(n, word))
    .collect();
    match parts.len() {
        0 => format!("no findings in {files}"),
        1 => format!("found {} in {files}", parts[0]),
        _ => format!(
            "found {} and {} in {files}",
            parts[..parts.len() - 1].join(", "),
            parts[parts.len() - 1]
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_lines() {
        let summary = |errors, warnings, notes| Summary {
            files: 1,
            errors,
            warnings,
            notes,
        };
        assert_eq!(summary_line(&summary(0, 0, 0)), "no findings in 1 file");
        assert_eq!(summary_line(&summary(2, 0, 0)), "found 2 errors in 1 file");
        assert_eq!(
            summary_line(&summary(1, 1, 3)),
            "found 1 error, 1 warning and 3 notes in 1 file"
        );
    }
}
