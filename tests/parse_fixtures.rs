//! Every parse-level diagnostic has a fixture named after it in
//! `fixtures/parse/`; its rendered output is snapshotted (with the exit
//! code), and the real iptables agrees with what iptlint says of it.

mod support;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use iptlint::diagnostics::Severity;
use iptlint::diagnostics::codes::PARSE_CODES;
use iptlint::lint::{Settings, check_source};
use iptlint::source::SourceFile;
use support::{Family, Kernel, failing_line, fixtures_dir};

/// Codes that no dump can trigger on its own.
const NOT_FROM_A_DUMP: &[&str] = &["unreadable-input", "too-many-diagnostics"];

fn parse_fixtures() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(fixtures_dir().join("parse"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "rules"))
        .collect();
    paths.sort();
    paths
}

fn stem(path: &Path) -> String {
    path.file_stem().unwrap().to_string_lossy().into_owned()
}

fn check(path: &Path) -> iptlint::lint::FileReport {
    let source = SourceFile::from_bytes(stem(path), std::fs::read(path).unwrap());
    check_source(source, &Settings::default())
}

#[test]
fn every_parse_code_has_a_fixture_that_fires_it() {
    for info in PARSE_CODES {
        if NOT_FROM_A_DUMP.contains(&info.name) {
            continue;
        }
        let path = fixtures_dir()
            .join("parse")
            .join(format!("{}.rules", info.name));
        assert!(path.exists(), "no fixture {}", path.display());
        let report = check(&path);
        assert!(
            report.diagnostics.iter().any(|d| d.info.name == info.name),
            "{} does not fire {}: {:?}",
            path.display(),
            info.name,
            report
                .diagnostics
                .iter()
                .map(|d| d.info.name)
                .collect::<Vec<_>>()
        );
    }
}

#[test]
fn rendered_diagnostics_and_exit_codes() {
    for path in parse_fixtures() {
        let output = Command::cargo_bin("iptlint")
            .unwrap()
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["check", "--color", "never"])
            .arg(format!("fixtures/parse/{}.rules", stem(&path)))
            .output()
            .unwrap();
        let rendered = format!(
            "exit code: {}\n{}",
            output.status.code().unwrap(),
            String::from_utf8_lossy(&output.stdout)
        );
        insta::assert_snapshot!(format!("parse__{}", stem(&path)), rendered);
    }
}

#[test]
fn the_kernel_agrees_with_every_parse_fixture() {
    let test = "the_kernel_agrees_with_every_parse_fixture";
    let Some(kernel) = Kernel::get(test) else {
        return;
    };
    let mut disagreements = Vec::new();
    for path in parse_fixtures() {
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        let report = check(&path);
        let flagged: Vec<usize> = report
            .diagnostics
            .iter()
            .filter(|d| d.severity >= Severity::Warning)
            .map(|d| report.source.location(d.primary_span().start as usize).0)
            .collect();
        // An error whose note says this backend loads the table anyway
        // is the other backend's refusal.
        let errors: Vec<&str> = report
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error && !kernel.loads_anyway(d))
            .map(|d| d.info.name)
            .collect();
        match kernel.restore(Family::V4, &text, &[]) {
            Ok(()) if errors.is_empty() => {}
            Ok(()) => disagreements.push(format!(
                "{}: kernel loads it, iptlint says {errors:?}",
                stem(&path)
            )),
            Err(stderr) => {
                let line = failing_line(&stderr);
                let at_end = line.is_some_and(|l| l >= report.source.line_count())
                    && report
                        .diagnostics
                        .iter()
                        .any(|d| d.info.name == "missing-commit");
                let agrees = line.is_some_and(|l| flagged.contains(&l)) || at_end;
                if !agrees {
                    disagreements.push(format!(
                        "{}: kernel refuses it ({}), iptlint flags lines {flagged:?} with errors {errors:?}",
                        stem(&path),
                        stderr.trim()
                    ));
                }
            }
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}
