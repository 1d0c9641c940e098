//! One line per finding, for grep and editors:
//! `file:line:col: severity[CODE name] message`.

use std::io::Write;

use super::Position;
use crate::lint::FileReport;

/// One finding's line (without the newline). Line breaks inside the message
/// are written as `\n` so that a finding is always exactly one line.
pub fn line(report: &FileReport, diagnostic: &crate::diagnostics::Diagnostic) -> String {
    let position = Position::of(report, diagnostic);
    format!(
        "{}:{}:{}: {}[{} {}] {}",
        report.source.name,
        position.line,
        position.column,
        diagnostic.severity,
        diagnostic.info.code,
        diagnostic.info.name,
        one_line(&diagnostic.message)
    )
}

/// `text` with CR and LF written as `\r` and `\n`.
pub fn one_line(text: &str) -> String {
    text.replace('\r', "\\r").replace('\n', "\\n")
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
    use crate::lint::{Settings, check_source};
    use crate::source::SourceFile;

    #[test]
    fn lines_name_file_position_severity_code_and_message() {
        let report = check_source(
            SourceFile::new(
                "dump.rules",
                "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m time --days Mon -j DROP\nCOMMIT\n",
            ),
            &Settings::default(),
        );
        let mut out = Vec::new();
        write(&mut out, &[report]).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "dump.rules:3:18: error[IPT002 unknown-option] unknown option `--days`\n"
        );
    }
}
