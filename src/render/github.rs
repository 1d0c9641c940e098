//! GitHub Actions workflow commands: one `::error ...::message` (or
//! `::warning`, `::notice`) line per finding, which Actions turns into an
//! annotation on the file and line.
//!
//! Escaping follows the Actions runner (`ActionCommand.cs`): in the message
//! `%`, CR and LF become `%25`, `%0D` and `%0A`; in property values also `:`
//! and `,` become `%3A` and `%2C`.

use std::io::Write;

use super::Position;
use crate::diagnostics::{Diagnostic, Severity};
use crate::lint::FileReport;

/// Escape a workflow command's message.
pub fn escape_data(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            c => out.push(c),
        }
    }
    out
}

/// Escape a workflow command's property value.
pub fn escape_property(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            ':' => out.push_str("%3A"),
            ',' => out.push_str("%2C"),
            c => out.push(c),
        }
    }
    out
}

/// The command for one level.
pub fn command(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "notice",
    }
}

/// One finding's workflow command (without the newline). The notes follow
/// the message on lines of their own.
pub fn line(report: &FileReport, diagnostic: &Diagnostic) -> String {
    let position = Position::of(report, diagnostic);
    let mut properties = format!(
        "file={},line={},col={}",
        escape_property(crate::baseline::file_key(&report.source.name)),
        position.line,
        position.column
    );
    if position.end_line == position.line {
        properties.push_str(&format!(",endColumn={}", position.end_column));
    } else {
        properties.push_str(&format!(",endLine={}", position.end_line));
    }
    properties.push_str(&format!(
        ",title={}",
        escape_property(&format!(
            "iptlint {} {}",
            diagnostic.info.code, diagnostic.info.name
        ))
    ));
    let mut message = diagnostic.message.clone();
    for note in &diagnostic.notes {
        message.push_str("\n= ");
        message.push_str(note);
    }
    format!(
        "::{} {}::{}",
        command(diagnostic.severity),
        properties,
        escape_data(&message)
    )
}

/// Write every finding of every report, files in the order given.
pub fn write(out: &mut dyn Write, reports: &[FileReport]) -> std::io::Result<()> {
    for report in reports {
        for diagnostic in &report.diagnostics {
            writeln!(out, "{}", line(report, diagnostic))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_follows_the_runner() {
        assert_eq!(escape_data("100% a:b,c\r\nd"), "100%25 a:b,c%0D%0Ad");
        assert_eq!(
            escape_property("100% a:b,c\r\nd"),
            "100%25 a%3Ab%2Cc%0D%0Ad"
        );
        // Escaping `%` first means an escape in the input survives as text.
        assert_eq!(escape_data("%0A"), "%250A");
    }
}
