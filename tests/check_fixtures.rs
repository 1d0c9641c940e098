//! The per-check fixtures under `fixtures/checks/NAME/`: every registered
//! check (and every suppression code) has a dump that makes it fire and one
//! that keeps it silent, and the rendered output of every fixture is pinned
//! by an insta snapshot (labels on the right spans, exit code).
//!
//! Both tests iterate `REGISTRY` and the fixture folders, so checks added
//! later are covered by the same rules.

mod support;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use iptlint::checks::REGISTRY;
use iptlint::diagnostics::CodeInfo;
use iptlint::lint::{Settings, check_source};
use iptlint::source::SourceFile;
use support::fixtures_dir;

fn checks_dir() -> PathBuf {
    fixtures_dir().join("checks")
}

/// The `.rules` files of one fixture folder whose names start with `prefix`.
fn fixture_files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|entry| entry.unwrap().path())
                .filter(|path| {
                    path.extension().is_some_and(|e| e == "rules")
                        && path
                            .file_name()
                            .unwrap()
                            .to_string_lossy()
                            .starts_with(prefix)
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Every code that must have fixtures: the registered checks and the codes
/// about suppressions.
fn codes_with_fixtures() -> Vec<&'static CodeInfo> {
    REGISTRY
        .iter()
        .map(|check| check.info())
        .chain(iptlint::suppress::CODES.iter().copied())
        .collect()
}

fn names_found(path: &Path) -> Vec<&'static str> {
    let source = SourceFile::from_bytes(path.display().to_string(), std::fs::read(path).unwrap());
    let report = check_source(source, &Settings::default());
    assert!(
        !report.is_fatal(),
        "{} does not parse: {:#?}",
        path.display(),
        report.diagnostics
    );
    report.diagnostics.iter().map(|d| d.info.name).collect()
}

#[test]
fn every_check_has_fixtures_that_fire_and_stay_silent() {
    let mut problems = Vec::new();
    for info in codes_with_fixtures() {
        let dir = checks_dir().join(info.name);
        let fires = fixture_files(&dir, "fires");
        let silent = fixture_files(&dir, "silent");
        if fires.is_empty() || silent.is_empty() {
            problems.push(format!(
                "{}: needs fixtures/checks/{}/fires*.rules and silent*.rules",
                info.name, info.name
            ));
        }
        for path in &fires {
            if !names_found(path).contains(&info.name) {
                problems.push(format!("{} does not fire `{}`", path.display(), info.name));
            }
        }
        for path in &silent {
            if names_found(path).contains(&info.name) {
                problems.push(format!("{} fires `{}`", path.display(), info.name));
            }
        }
    }
    // Every folder is named after a code, so a misspelled folder cannot hide.
    let known: Vec<&str> = iptlint::checks::all_codes()
        .iter()
        .map(|i| i.name)
        .collect();
    for entry in std::fs::read_dir(checks_dir()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if !known.contains(&name.as_str()) {
            problems.push(format!("fixtures/checks/{name}: no code of that name"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_fixture_renders_as_snapshotted() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut count = 0;
    let mut folders: Vec<PathBuf> = std::fs::read_dir(checks_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .collect();
    folders.sort();
    for folder in folders {
        for path in fixture_files(&folder, "") {
            let relative = path.strip_prefix(root).unwrap();
            let output = Command::cargo_bin("iptlint")
                .unwrap()
                .current_dir(root)
                .env_remove("NO_COLOR")
                .env_remove("CLICOLOR_FORCE")
                .args(["check", "--color", "never"])
                .arg(relative)
                .output()
                .unwrap();
            let rendered = format!(
                "exit code: {}\n{}{}",
                output.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            let name = format!(
                "{}__{}",
                folder.file_name().unwrap().to_string_lossy(),
                path.file_stem().unwrap().to_string_lossy()
            );
            insta::with_settings!({ description => relative.display().to_string(), omit_expression => true }, {
                insta::assert_snapshot!(name, rendered);
            });
            count += 1;
        }
    }
    assert!(count >= 14, "only {count} fixtures found");
}

/// Codes whose error-level findings mean iptables-restore refuses the dump.
fn is_refusal(info: &CodeInfo) -> bool {
    iptlint::diagnostics::codes::PARSE_CODES
        .iter()
        .any(|code| std::ptr::eq(*code, info))
        || [
            "undefined-target",
            "jump-cycle",
            "invalid-target-for-table",
            "invalid-match-for-hook",
            "jump-to-builtin-chain",
        ]
        .contains(&info.name)
}

#[test]
fn fixtures_agree_with_the_kernel() {
    let test = "fixtures_agree_with_the_kernel";
    let kernels = support::Kernel::all(test);
    let mut disagreements = Vec::new();
    let mut checked = 0;
    for folder in std::fs::read_dir(checks_dir()).unwrap() {
        for path in fixture_files(&folder.unwrap().path(), "") {
            let text = std::fs::read_to_string(&path).unwrap();
            let report = check_source(SourceFile::new("f", text.as_str()), &Settings::default());
            for kernel in &kernels {
                let refused_by_iptlint = report.diagnostics.iter().any(|d| {
                    d.severity == iptlint::diagnostics::Severity::Error
                        && is_refusal(d.info)
                        && !kernel.loads_anyway(d)
                });
                let verdict = kernel.restore(support::Family::V4, &text, &[]);
                if verdict.is_err() != refused_by_iptlint {
                    disagreements.push(format!(
                        "{}: {} says {:?}, iptlint refusal: {refused_by_iptlint}",
                        path.display(),
                        kernel.backend,
                        verdict
                    ));
                }
                checked += 1;
            }
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
    if !kernels.is_empty() {
        assert!(checked >= 20, "only {checked} fixture loads");
    }
}
