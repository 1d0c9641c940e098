//! Findings: their codes, their severities, and their spanned labels.
//!
//! Every diagnostic iptlint can emit has a [`CodeInfo`] with a stable code
//! (`IPTnnn`) and a kebab-case name, both part of the JSON contract. Parse-level
//! codes live in [`codes`]; each check declares its own in `src/checks/`.

pub mod codes;
pub mod suggest;

use std::fmt;

use serde::Serialize;

use crate::syntax::Span;

/// How serious a finding is. Ordered: `Note < Warning < Error`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing.
    Note,
    /// Probably a mistake.
    Warning,
    /// iptables would refuse it, or traffic goes where it should not.
    Error,
}

impl Severity {
    /// The lower-case name used in JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The fixed facts of one diagnostic code.
#[derive(Debug)]
pub struct CodeInfo {
    /// Stable code, `IPT001`.
    pub code: &'static str,
    /// Stable kebab-case name, `syntax-error`.
    pub name: &'static str,
    /// Severity unless configured otherwise.
    pub severity: Severity,
    /// One line for `iptlint rules`.
    pub summary: &'static str,
    /// The long explanation printed by `iptlint rule NAME`, in sections
    /// What it does / Why it matters / Example / How to fix.
    pub doc: &'static str,
}

impl CodeInfo {
    /// The documentation with the one-space indent of `///` comments removed.
    pub fn explanation(&self) -> String {
        let mut text = String::with_capacity(self.doc.len());
        for line in self.doc.lines() {
            text.push_str(line.strip_prefix(' ').unwrap_or(line));
            text.push('\n');
        }
        text.trim().to_string() + "\n"
    }
}

/// Declare a diagnostic code whose doc comment is its `iptlint rule` text.
#[macro_export]
macro_rules! declare_code {
    ($(#[doc = $doc:expr])* $vis:vis static $ident:ident = ($code:literal, $name:literal, $severity:ident, $summary:literal);) => {
        $(#[doc = $doc])*
        $vis static $ident: $crate::diagnostics::CodeInfo = $crate::diagnostics::CodeInfo {
            code: $code,
            name: $name,
            severity: $crate::diagnostics::Severity::$severity,
            summary: $summary,
            doc: concat!($($doc, "\n"),*),
        };
    };
}

/// A label on a span of the dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// The text it points at.
    pub span: Span,
    /// What to say there (may be empty).
    pub message: String,
    /// The primary label says where the problem is; others add context.
    pub primary: bool,
}

/// One finding in one file.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    /// Which code.
    pub info: &'static CodeInfo,
    /// Severity after configuration.
    pub severity: Severity,
    /// The headline.
    pub message: String,
    /// The primary label first, then secondary ones.
    pub labels: Vec<Label>,
    /// Notes printed under the labels.
    pub notes: Vec<String>,
    /// The table it concerns, when one.
    pub table: Option<String>,
    /// The chain it concerns, when one.
    pub chain: Option<String>,
}

impl Diagnostic {
    /// A diagnostic of `info` at its default severity with a primary label on `span`.
    pub fn new(info: &'static CodeInfo, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            info,
            severity: info.severity,
            message: message.into(),
            labels: vec![Label {
                span,
                message: String::new(),
                primary: true,
            }],
            notes: Vec::new(),
            table: None,
            chain: None,
        }
    }

    /// Set the primary label's text.
    pub fn with_primary_message(mut self, message: impl Into<String>) -> Self {
        self.labels[0].message = message.into();
        self
    }

    /// Add a secondary label.
    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            message: message.into(),
            primary: false,
        });
        self
    }

    /// Add a note.
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// Say which table (and chain) this is about.
    pub fn in_table(mut self, table: &str, chain: Option<&str>) -> Self {
        self.table = Some(table.to_string());
        self.chain = chain.map(str::to_string);
        self
    }

    /// Override the severity.
    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    /// The primary span.
    pub fn primary_span(&self) -> Span {
        self.labels
            .iter()
            .find(|label| label.primary)
            .map_or(Span::default(), |label| label.span)
    }
}
