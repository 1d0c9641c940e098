//! `iptlint rules` lists every check and `iptlint rule NAME` explains it.

use assert_cmd::Command;
use iptlint::checks::{REGISTRY, all_codes};

fn run(args: &[&str]) -> (i32, String, String) {
    let output = Command::cargo_bin("iptlint")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn rules_lists_every_code_with_its_level_and_summary() {
    let (code, out, _) = run(&["rules"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), all_codes().len());
    for info in all_codes() {
        let line = lines
            .iter()
            .find(|line| line.split_whitespace().nth(1) == Some(info.name))
            .unwrap_or_else(|| panic!("`iptlint rules` does not list {}", info.name));
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words[0], info.code);
        assert_eq!(words[2], info.severity.as_str());
        assert!(line.ends_with(info.summary), "{line}");
    }
    for name in [
        "undefined-target",
        "jump-cycle",
        "unreferenced-chain",
        "invalid-target-for-table",
        "duplicate-rule",
        "empty-chain",
        "jump-to-builtin-chain",
        "unused-suppression",
        "invalid-suppression",
        "invalid-config",
    ] {
        assert!(out.contains(name), "{name} missing from `iptlint rules`");
    }
}

#[test]
fn rule_explains_every_check_by_name_and_by_code() {
    for check in REGISTRY {
        let info = check.info();
        for key in [info.name, info.code] {
            let (code, out, _) = run(&["rule", key]);
            assert_eq!(code, 0, "iptlint rule {key}");
            assert!(
                out.starts_with(&format!(
                    "# {} ({}, default level: {})",
                    info.name, info.code, info.severity
                )),
                "{out}"
            );
            for section in [
                "## What it does",
                "## Why it matters",
                "## Example",
                "## How to fix",
            ] {
                assert!(
                    out.contains(section),
                    "`iptlint rule {key}` lacks {section}"
                );
            }
        }
    }
    let (code, out, _) = run(&["rule", "jump-cycle"]);
    assert_eq!(code, 0);
    assert!(out.contains("Too many links"), "{out}");
}

#[test]
fn rule_refuses_unknown_names() {
    let (code, out, err) = run(&["rule", "no-such-check"]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(err.contains("no check named `no-such-check`"), "{err}");
}
