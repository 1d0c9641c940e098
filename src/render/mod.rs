//! Output formats for `iptlint check`: one emitter per format.

pub mod human;
pub mod json;

use crate::diagnostics::Diagnostic;
use crate::lint::FileReport;

/// Where a diagnostic is, in 1-based lines and columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Start line.
    pub line: usize,
    /// Start column (characters).
    pub column: usize,
    /// End line.
    pub end_line: usize,
    /// End column (exclusive, characters).
    pub end_column: usize,
}

impl Position {
    /// The position of `diagnostic`'s primary label in `report`'s file.
    pub fn of(report: &FileReport, diagnostic: &Diagnostic) -> Self {
        let span = diagnostic.primary_span();
        let (line, column) = report.source.location(span.start as usize);
        let (end_line, end_column) = report.source.location(span.end as usize);
        Position {
            line,
            column,
            end_line,
            end_column,
        }
    }
}
