//! SARIF 2.1.0, as GitHub code scanning takes it
//! (`github/codeql-action/upload-sarif`).
//!
//! One run; `tool.driver.rules` lists every code iptlint can report (so a
//! result's `ruleIndex` is stable across runs), with the check's
//! `iptlint rule` text as help. Locations are the paths given on the command
//! line, made relative (never absolute, never `file://`) because code
//! scanning resolves them against the repository root. Columns count
//! Unicode code points, which the run declares with `columnKind`.

use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use super::Position;
use crate::baseline::BaselineOutcome;
use crate::checks;
use crate::diagnostics::{CodeInfo, Diagnostic, Severity};
use crate::fingerprint::{SARIF_KEY, fingerprint};
use crate::lint::FileReport;

/// The schema the output declares.
pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The SARIF level of a severity.
pub fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<Run<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'a> {
    tool: Tool,
    invocations: Vec<Invocation>,
    column_kind: &'static str,
    results: Vec<SarifResult<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    properties: Option<RunProperties<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RunProperties<'a> {
    baseline: &'a BaselineOutcome,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Invocation {
    execution_successful: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Tool {
    driver: Driver,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: &'static str,
    version: &'static str,
    semantic_version: &'static str,
    information_uri: &'static str,
    rules: Vec<Rule>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Text {
    text: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Help {
    text: String,
    markdown: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    id: &'static str,
    name: &'static str,
    short_description: Text,
    full_description: Text,
    help: Help,
    default_configuration: Configuration,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    rule_id: &'static str,
    rule_index: usize,
    level: &'static str,
    message: Text,
    locations: Vec<Location>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    related_locations: Vec<Location>,
    partial_fingerprints: std::collections::BTreeMap<&'static str, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    baseline_state: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    properties: Option<ResultProperties<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResultProperties<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    table: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    chain: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<usize>,
    physical_location: PhysicalLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<Text>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    region: Region,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactLocation {
    uri: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: usize,
    start_column: usize,
    end_line: usize,
    end_column: usize,
}

/// The first section of a check's doc (`## What it does`), as one paragraph.
fn what_it_does(info: &CodeInfo) -> String {
    let explanation = info.explanation();
    let section: Vec<&str> = explanation
        .lines()
        .skip_while(|line| !line.starts_with("## What it does"))
        .skip(1)
        .take_while(|line| !line.starts_with("## "))
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    if section.is_empty() {
        info.summary.to_string()
    } else {
        section.join(" ")
    }
}

fn rule(info: &CodeInfo) -> Rule {
    let explanation = info.explanation();
    Rule {
        id: info.code,
        name: info.name,
        short_description: Text {
            text: info.summary.to_string(),
        },
        full_description: Text {
            text: what_it_does(info),
        },
        help: Help {
            text: explanation.clone(),
            markdown: explanation,
        },
        default_configuration: Configuration {
            level: level(info.severity),
        },
    }
}

/// The artifact URI of a file given on the command line: relative to the
/// working directory (where the workflow checked out the repository),
/// `./` removed, `/`-separated and percent-encoded. An absolute path is
/// made relative to the working directory (with `..` when outside it).
pub fn artifact_uri(name: &str) -> String {
    let path = Path::new(name);
    let relative: PathBuf = if path.is_absolute() {
        std::env::current_dir()
            .ok()
            .and_then(|cwd| relative_to(path, &cwd))
            .unwrap_or_else(|| {
                path.components()
                    .filter(|c| matches!(c, Component::Normal(_)))
                    .collect()
            })
    } else {
        path.to_path_buf()
    };
    let parts: Vec<String> = relative
        .components()
        .filter_map(|component| match component {
            Component::Normal(part) => Some(percent_encode(&part.to_string_lossy())),
            Component::ParentDir => Some("..".to_string()),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => None,
        })
        .collect();
    parts.join("/")
}

/// `path` relative to `base` (both absolute), lexically.
fn relative_to(path: &Path, base: &Path) -> Option<PathBuf> {
    let path: Vec<Component> = path.components().collect();
    let base: Vec<Component> = base.components().collect();
    let common = path.iter().zip(&base).take_while(|(a, b)| a == b).count();
    if common == 0 {
        return None;
    }
    let mut out = PathBuf::new();
    for _ in common..base.len() {
        out.push("..");
    }
    for component in &path[common..] {
        out.push(component.as_os_str());
    }
    Some(out)
}

/// Percent-encode everything but RFC 3986 unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn location(uri: &str, position: Position) -> PhysicalLocation {
    PhysicalLocation {
        artifact_location: ArtifactLocation {
            uri: uri.to_string(),
        },
        region: Region {
            start_line: position.line,
            start_column: position.column,
            end_line: position.end_line,
            end_column: position.end_column,
        },
    }
}

fn result<'a>(
    report: &'a FileReport,
    diagnostic: &'a Diagnostic,
    rule_index: usize,
    uri: &str,
    baseline_used: bool,
) -> SarifResult<'a> {
    let mut message = diagnostic.message.clone();
    for note in &diagnostic.notes {
        message.push_str("\nnote: ");
        message.push_str(note);
    }
    let related_locations = diagnostic
        .labels
        .iter()
        .filter(|label| !label.primary)
        .enumerate()
        .map(|(id, label)| {
            let (line, column) = report.source.location(label.span.start as usize);
            let (end_line, end_column) = report.source.location(label.span.end as usize);
            Location {
                id: Some(id),
                physical_location: location(
                    uri,
                    Position {
                        line,
                        column,
                        end_line,
                        end_column,
                    },
                ),
                message: (!label.message.is_empty()).then(|| Text {
                    text: label.message.clone(),
                }),
            }
        })
        .collect();
    let mut partial_fingerprints = std::collections::BTreeMap::new();
    partial_fingerprints.insert(SARIF_KEY, fingerprint(&report.source, diagnostic).0);
    let properties =
        (diagnostic.table.is_some() || diagnostic.chain.is_some()).then_some(ResultProperties {
            table: diagnostic.table.as_deref(),
            chain: diagnostic.chain.as_deref(),
        });
    SarifResult {
        rule_id: diagnostic.info.code,
        rule_index,
        level: level(diagnostic.severity),
        message: Text { text: message },
        locations: vec![Location {
            id: None,
            physical_location: location(uri, Position::of(report, diagnostic)),
            message: None,
        }],
        related_locations,
        partial_fingerprints,
        baseline_state: baseline_used.then_some("new"),
        properties,
    }
}

/// Write the SARIF log of `reports`; `baseline` is what a `--baseline`
/// suppressed (results are then marked `"baselineState": "new"`).
pub fn write(
    out: &mut dyn std::io::Write,
    reports: &[FileReport],
    baseline: Option<&BaselineOutcome>,
) -> std::io::Result<()> {
    let codes = checks::all_codes();
    let rules: Vec<Rule> = codes.iter().map(|info| rule(info)).collect();
    let mut results = Vec::new();
    for report in reports {
        let uri = artifact_uri(&report.source.name);
        for diagnostic in &report.diagnostics {
            let rule_index = codes
                .iter()
                .position(|info| info.code == diagnostic.info.code)
                .unwrap_or(0);
            results.push(result(
                report,
                diagnostic,
                rule_index,
                &uri,
                baseline.is_some(),
            ));
        }
    }
    let log = Log {
        schema: SCHEMA,
        version: "2.1.0",
        runs: vec![Run {
            tool: Tool {
                driver: Driver {
                    name: "iptlint",
                    version: env!("CARGO_PKG_VERSION"),
                    semantic_version: env!("CARGO_PKG_VERSION"),
                    information_uri: env!("CARGO_PKG_REPOSITORY"),
                    rules,
                },
            },
            invocations: vec![Invocation {
                execution_successful: !reports.iter().any(FileReport::is_fatal),
            }],
            column_kind: "unicodeCodePoints",
            results,
            properties: baseline.map(|baseline| RunProperties { baseline }),
        }],
    };
    serde_json::to_writer_pretty(&mut *out, &log)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_relative_and_encoded() {
        assert_eq!(artifact_uri("./dumps/node a.rules"), "dumps/node%20a.rules");
        assert_eq!(artifact_uri("././x.rules"), "x.rules");
        assert_eq!(artifact_uri("<stdin>"), "%3Cstdin%3E");
        let cwd = std::env::current_dir().unwrap();
        let inside = cwd.join("fixtures").join("x.rules");
        assert_eq!(
            artifact_uri(&inside.display().to_string()),
            "fixtures/x.rules"
        );
        let outside = cwd.parent().unwrap().join("y.rules");
        assert_eq!(artifact_uri(&outside.display().to_string()), "../y.rules");
    }

    #[test]
    fn full_description_is_the_first_section() {
        let info = checks::find_code("unknown-option").unwrap();
        let text = what_it_does(info);
        assert!(text.starts_with("Reports an option"), "{text}");
        assert!(!text.contains("##"));
    }
}
