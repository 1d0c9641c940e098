//! Output formats for `iptlint check`: one emitter per format.

pub mod concise;
pub mod dot;
pub mod github;
pub mod human;
pub mod json;
pub mod sarif;

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

/// The lines that say what `--baseline` did: how many known findings were
/// not shown, and each stale entry (fixed, or the rule changed).
pub fn baseline_lines(outcome: &crate::baseline::BaselineOutcome) -> Vec<String> {
    let mut lines = Vec::new();
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    lines.push(format!(
        "baseline: {} known finding{} not shown",
        outcome.suppressed,
        plural(outcome.suppressed)
    ));
    if !outcome.stale.is_empty() {
        lines.push(format!(
            "baseline: {} stale entr{} (no longer found; refresh with --write-baseline):",
            outcome.stale.len(),
            if outcome.stale.len() == 1 { "y" } else { "ies" }
        ));
        for stale in &outcome.stale {
            let entry = &stale.entry;
            let place = match (&entry.table, &entry.chain) {
                (Some(table), Some(chain)) => format!(" in {table}/{chain}"),
                (Some(table), None) => format!(" in {table}"),
                _ => String::new(),
            };
            lines.push(format!(
                "  {}: {}{}{}: {}",
                entry.file,
                entry.check,
                place,
                if stale.missing > 1 {
                    format!(" (x{})", stale.missing)
                } else {
                    String::new()
                },
                concise::one_line(&entry.rule)
            ));
        }
    }
    lines
}
