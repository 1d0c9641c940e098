//! Snapshot tests of the checks that read the packet analysis
//! (`unreachable-rule`, `shadowed-rule`, `missing-terminal`): every fixture
//! under `fixtures/checks/NAME/` is checked with the real binary
//! (`--color never`), its rendered output and exit code snapshotted, and a
//! `fires*` fixture must produce the check while a `silent*` one must not.

mod support;

use std::path::Path;

use assert_cmd::Command;
use support::fixtures_dir;

const CHECKS: [&str; 3] = ["unreachable-rule", "shadowed-rule", "missing-terminal"];

/// Run `iptlint check` on `path` (relative to the repository) and return
/// the rendered report with its exit code, and the JSON findings' names.
fn run(relative: &str) -> (String, Vec<(String, u64, String)>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let human = Command::cargo_bin("iptlint")
        .unwrap()
        .current_dir(root)
        .args(["check", "--color", "never", relative])
        .output()
        .unwrap();
    let json = Command::cargo_bin("iptlint")
        .unwrap()
        .current_dir(root)
        .args(["check", "--format", "json", relative])
        .output()
        .unwrap();
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let findings = value["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["name"].as_str().unwrap().to_string(),
                d["line"].as_u64().unwrap(),
                d["severity"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let rendered = format!(
        "exit code: {}\n{}",
        human.status.code().unwrap(),
        String::from_utf8(human.stdout).unwrap()
    );
    (rendered, findings)
}

#[test]
fn every_fixture_fires_or_stays_silent_as_named() {
    for check in CHECKS {
        let dir = fixtures_dir().join("checks").join(check);
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".rules"))
            .collect();
        names.sort();
        assert!(
            names.iter().any(|n| n.starts_with("fires")) && names.iter().any(|n| n.starts_with("silent")),
            "{check} needs fires* and silent* fixtures"
        );
        for name in names {
            let relative = format!("fixtures/checks/{check}/{name}");
            let (rendered, findings) = run(&relative);
            let fired = findings.iter().filter(|(n, _, _)| n == check).count();
            if name.starts_with("fires") {
                assert!(fired > 0, "{relative} should fire {check}:\n{rendered}");
            } else {
                assert_eq!(fired, 0, "{relative} should not fire {check}:\n{rendered}");
            }
            insta::assert_snapshot!(format!("{check}__{}", name.trim_end_matches(".rules")), rendered);
        }
    }
}

/// The findings of one fixture as (check, line, severity).
fn findings_of(relative: &str) -> Vec<(String, u64, String)> {
    run(relative).1
}

#[test]
fn the_rule_after_the_last_jump_of_a_service_is_unreachable() {
    let findings = findings_of("fixtures/checks/unreachable-rule/fires-kube-svc.rules");
    assert_eq!(
        findings,
        vec![("unreachable-rule".to_string(), 24, "warning".to_string())]
    );
    // A udp service whose endpoint DNATs only tcp: reachable, but the
    // endpoint is reported.
    let findings = findings_of("fixtures/checks/unreachable-rule/silent-kube-udp.rules");
    assert_eq!(
        findings,
        vec![("missing-terminal".to_string(), 10, "error".to_string())]
    );
}

#[test]
fn a_run_of_dead_rules_is_reported_once() {
    let findings = findings_of("fixtures/checks/unreachable-rule/fires-accept-all.rules");
    assert_eq!(
        findings,
        vec![("unreachable-rule".to_string(), 9, "warning".to_string())]
    );
}

#[test]
fn shadowed_rules_are_found_at_their_lines() {
    let lines = |relative: &str| -> Vec<u64> {
        findings_of(relative)
            .into_iter()
            .filter(|(n, _, _)| n == "shadowed-rule")
            .map(|(_, line, _)| line)
            .collect()
    };
    assert_eq!(lines("fixtures/checks/shadowed-rule/fires-kube-services.rules"), [18]);
    assert_eq!(
        lines("fixtures/checks/shadowed-rule/fires-containment.rules"),
        [8, 10, 12, 14, 16, 18]
    );
    assert_eq!(lines("fixtures/checks/shadowed-rule/fires-context.rules"), [10]);
}

#[test]
fn missing_terminal_severity_follows_the_chain() {
    let findings = findings_of("fixtures/checks/missing-terminal/fires-goto.rules");
    assert_eq!(
        findings,
        vec![("missing-terminal".to_string(), 7, "warning".to_string())]
    );
    let findings = findings_of("fixtures/checks/missing-terminal/fires-sep-without-dnat.rules");
    assert_eq!(
        findings,
        vec![("missing-terminal".to_string(), 9, "error".to_string())]
    );
}
