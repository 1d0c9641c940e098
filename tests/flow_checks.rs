//! The checks that read the packet analysis (`unreachable-rule`,
//! `shadowed-rule`, `missing-terminal`) on their fixtures, through the real
//! binary: each finding at the line and severity the fixture was written
//! for. (`check_fixtures.rs` snapshots the rendered output of every fixture
//! and checks that `fires*` fixtures fire and `silent*` ones do not.)

use std::path::Path;

use assert_cmd::Command;

/// Run `iptlint check --format json` on `relative` (a path in the
/// repository): the findings as (name, line, severity).
fn findings_of(relative: &str) -> Vec<(String, u64, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let json = Command::cargo_bin("iptlint")
        .unwrap()
        .current_dir(root)
        .args(["check", "--format", "json", relative])
        .output()
        .unwrap();
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    value["diagnostics"]
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
        .collect()
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
    assert_eq!(
        lines("fixtures/checks/shadowed-rule/fires-kube-services.rules"),
        [18]
    );
    assert_eq!(
        lines("fixtures/checks/shadowed-rule/fires-containment.rules"),
        [8, 10, 12, 14, 16, 18]
    );
    assert_eq!(
        lines("fixtures/checks/shadowed-rule/fires-context.rules"),
        [10]
    );
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
