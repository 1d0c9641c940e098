//! The JSON report: a stable contract for CI scripts.
//!
//! ```json
//! {"version": 1,
//!  "diagnostics": [{"code", "name", "severity", "message", "file", "line", "column",
//!                   "end_line", "end_column", "table", "chain", "notes"}],
//!  "summary": {"files", "errors", "warnings", "notes"}}
//! ```
//! Lines and columns are 1-based; `table` and `chain` are null where they do not apply.

use serde::Serialize;

use super::Position;
use crate::baseline::BaselineOutcome;
use crate::diagnostics::Severity;
use crate::lint::{FileReport, Summary};

/// Version of the JSON contract; bumped only on an incompatible change.
pub const VERSION: u32 = 1;

/// One diagnostic in the JSON report.
#[derive(Debug, Serialize)]
pub struct JsonDiagnostic<'r> {
    /// `IPT001`.
    pub code: &'static str,
    /// `syntax-error`.
    pub name: &'static str,
    /// `error`, `warning` or `note`.
    pub severity: Severity,
    /// The headline.
    pub message: &'r str,
    /// The file as given on the command line (`<stdin>` for stdin).
    pub file: &'r str,
    /// 1-based start line.
    pub line: usize,
    /// 1-based start column.
    pub column: usize,
    /// 1-based end line.
    pub end_line: usize,
    /// 1-based end column (exclusive).
    pub end_column: usize,
    /// The table, when one.
    pub table: Option<&'r str>,
    /// The chain, when one.
    pub chain: Option<&'r str>,
    /// Notes, as printed under the diagnostic.
    pub notes: &'r [String],
}

/// The whole JSON report.
#[derive(Debug, Serialize)]
pub struct JsonReport<'r> {
    /// [`VERSION`].
    pub version: u32,
    /// Every finding of every file, files in the order given.
    pub diagnostics: Vec<JsonDiagnostic<'r>>,
    /// Counts.
    pub summary: Summary,
    /// What `--baseline` suppressed and which of its entries are stale;
    /// absent without `--baseline`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<&'r BaselineOutcome>,
}

/// Build the report.
pub fn report(reports: &[FileReport]) -> JsonReport<'_> {
    let diagnostics = reports
        .iter()
        .flat_map(|report| {
            report.diagnostics.iter().map(move |diagnostic| {
                let position = Position::of(report, diagnostic);
                JsonDiagnostic {
                    code: diagnostic.info.code,
                    name: diagnostic.info.name,
                    severity: diagnostic.severity,
                    message: &diagnostic.message,
                    file: &report.source.name,
                    line: position.line,
                    column: position.column,
                    end_line: position.end_line,
                    end_column: position.end_column,
                    table: diagnostic.table.as_deref(),
                    chain: diagnostic.chain.as_deref(),
                    notes: &diagnostic.notes,
                }
            })
        })
        .collect();
    JsonReport {
        version: VERSION,
        diagnostics,
        summary: Summary::of(reports),
        baseline: None,
    }
}

/// Write the report as pretty JSON followed by a newline.
pub fn write(out: &mut dyn std::io::Write, reports: &[FileReport]) -> std::io::Result<()> {
    write_with_baseline(out, reports, None)
}

/// [`write()`], with what a baseline suppressed.
pub fn write_with_baseline(
    out: &mut dyn std::io::Write,
    reports: &[FileReport],
    baseline: Option<&BaselineOutcome>,
) -> std::io::Result<()> {
    let mut report = report(reports);
    report.baseline = baseline;
    serde_json::to_writer_pretty(&mut *out, &report)?;
    writeln!(out)
}
