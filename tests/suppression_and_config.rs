//! Suppressions in the dump, `iptlint.toml` and `--select`/`--ignore`, end to
//! end through the binary.

mod support;

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;
use support::{Family, Kernel};

/// A filter table with one duplicated rule: line 6 repeats line 5.
const DUPLICATE: &str = "*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
COMMIT
";

/// A nat table with two chains nothing reaches: a stale endpoint chain and
/// a hand-made one.
const STALE: &str = "*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-SEP-OLDAAAAAAAAAAAAA - [0:0]
:MY-OLD-CHAIN - [0:0]
-A POSTROUTING -o eth0 -j MASQUERADE
-A KUBE-SEP-OLDAAAAAAAAAAAAA -p tcp -m tcp -j DNAT --to-destination 10.180.0.9:80
-A MY-OLD-CHAIN -j RETURN
COMMIT
";

/// Run `iptlint check --format json ARGS` in `dir` on `dump` (as stdin);
/// returns the exit code and the (name, severity, line) of each finding.
fn check_json(dir: &Path, dump: &str, args: &[&str]) -> (i32, Vec<(String, String, u64)>) {
    let output = Command::cargo_bin("iptlint")
        .unwrap()
        .current_dir(dir)
        .args(["check", "--format", "json"])
        .args(args)
        .write_stdin(dump)
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let findings = json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["name"].as_str().unwrap().to_string(),
                d["severity"].as_str().unwrap().to_string(),
                d["line"].as_u64().unwrap(),
            )
        })
        .collect();
    (output.status.code().unwrap(), findings)
}

fn finding(name: &str, severity: &str, line: u64) -> (String, String, u64) {
    (name.to_string(), severity.to_string(), line)
}

fn empty_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn a_directive_suppresses_the_next_rule_only() {
    let dir = empty_dir();
    assert_eq!(
        check_json(dir.path(), DUPLICATE, &[]),
        (1, vec![finding("duplicate-rule", "warning", 6)])
    );
    let suppressed = DUPLICATE.replace(
        "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT",
        "# iptlint: disable=duplicate-rule -- the installer adds it twice\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT",
    );
    assert_eq!(check_json(dir.path(), &suppressed, &[]), (0, vec![]));
    // On the first copy it works too: the finding labels both copies.
    let on_first = DUPLICATE.replace(
        ":OUTPUT ACCEPT [0:0]\n",
        ":OUTPUT ACCEPT [0:0]\n# iptlint: disable=IPT105 -- the installer adds it twice\n",
    );
    assert_eq!(check_json(dir.path(), &on_first, &[]), (0, vec![]));
    // Above an unrelated rule it suppresses nothing, and says so.
    let misplaced = DUPLICATE.replace(
        ":OUTPUT ACCEPT [0:0]\n",
        ":OUTPUT ACCEPT [0:0]\n# iptlint: disable=duplicate-rule -- the installer adds it twice\n\n-A INPUT -p icmp -j ACCEPT\n",
    );
    assert_eq!(
        check_json(dir.path(), &misplaced, &[]),
        (
            1,
            vec![
                finding("unused-suppression", "warning", 5),
                finding("duplicate-rule", "warning", 9)
            ]
        )
    );
}

#[test]
fn rule_comments_suppress_and_survive_a_kernel_round_trip() {
    let dir = empty_dir();
    let commented = DUPLICATE.replace(
        "--dport 22 -j ACCEPT",
        "--dport 22 -m comment --comment \"iptlint:allow=duplicate-rule\" -j ACCEPT",
    );
    assert_eq!(check_json(dir.path(), &commented, &[]), (0, vec![]));
    // A comment naming a check that reports nothing on its rule is unused.
    let wrong_check = commented.replace("allow=duplicate-rule", "allow=empty-chain");
    let (code, findings) = check_json(dir.path(), &wrong_check, &[]);
    assert_eq!(code, 1);
    assert_eq!(
        findings,
        vec![
            finding("unused-suppression", "warning", 5),
            finding("duplicate-rule", "warning", 6),
            finding("unused-suppression", "warning", 6),
        ]
    );
    let test = "rule_comments_suppress_and_survive_a_kernel_round_trip";
    let Some(kernel) = Kernel::get(test) else {
        return;
    };
    let saved = kernel.round_trip(Family::V4, &commented).unwrap();
    assert!(saved.contains("iptlint:allow=duplicate-rule"), "{saved}");
    assert_eq!(check_json(dir.path(), &saved, &[]), (0, vec![]));
}

#[test]
fn configuration_is_found_in_a_parent_directory() {
    let dir = empty_dir();
    let nested = dir.path().join("nodes/node-1");
    std::fs::create_dir_all(&nested).unwrap();
    std::fs::write(
        dir.path().join("iptlint.toml"),
        "[checks]\nduplicate-rule = \"error\"\nunreferenced-chain = \"allow\"\n",
    )
    .unwrap();
    assert_eq!(
        check_json(&nested, DUPLICATE, &[]),
        (1, vec![finding("duplicate-rule", "error", 6)])
    );
    assert_eq!(check_json(&nested, STALE, &[]), (0, vec![]));
    // The command line overrides the file.
    assert_eq!(
        check_json(&nested, DUPLICATE, &["--ignore", "duplicate-rule"]),
        (0, vec![])
    );
    // --select reports a check the file allows, at its default level.
    assert_eq!(
        check_json(&nested, STALE, &["--select", "IPT103"]),
        (
            1,
            vec![
                finding("unreferenced-chain", "warning", 6),
                finding("unreferenced-chain", "warning", 7)
            ]
        )
    );
    assert_eq!(
        check_json(&nested, DUPLICATE, &["--select", "IPT103"]),
        (0, vec![])
    );
    // --isolated reads no file at all.
    assert_eq!(
        check_json(&nested, DUPLICATE, &["--isolated"]),
        (1, vec![finding("duplicate-rule", "warning", 6)])
    );
    // An explicit --config wins over the discovered file.
    let other = dir.path().join("strict.toml");
    std::fs::write(&other, "[checks]\n").unwrap();
    assert_eq!(
        check_json(&nested, STALE, &["--config", other.to_str().unwrap()]),
        (
            1,
            vec![
                finding("unreferenced-chain", "warning", 6),
                finding("unreferenced-chain", "warning", 7)
            ]
        )
    );
}

#[test]
fn select_and_ignore_on_the_command_line() {
    let dir = empty_dir();
    let both = format!("{DUPLICATE}{STALE}");
    let (code, all) = check_json(dir.path(), &both, &[]);
    assert_eq!((code, all.len()), (1, 3));
    assert_eq!(
        check_json(dir.path(), &both, &["--select", "duplicate-rule"]),
        (1, vec![finding("duplicate-rule", "warning", 6)])
    );
    assert_eq!(
        check_json(dir.path(), &both, &["--ignore", "duplicate-rule,IPT103"]),
        (0, vec![])
    );
    let output = Command::cargo_bin("iptlint")
        .unwrap()
        .current_dir(dir.path())
        .args(["check", "--select", "duplicate-rules", "-"])
        .write_stdin(DUPLICATE)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no check named `duplicate-rules`; did you mean `duplicate-rule`?"),
        "{stderr}"
    );
}

#[test]
fn ignore_rules_match_check_table_and_chain_glob() {
    let dir = empty_dir();
    std::fs::write(
        dir.path().join("iptlint.toml"),
        "[[ignore]]\ncheck = \"unreferenced-chain\"\ntable = \"nat\"\nchain = \"KUBE-SEP-*\"\nreason = \"kube-proxy deletes stale endpoint chains on its next sync\"\n\n[[ignore]]\ncheck = \"unreferenced-chain\"\ntable = \"filter\"\nchain = \"MY-*\"\nreason = \"not this table\"\n",
    )
    .unwrap();
    assert_eq!(
        check_json(dir.path(), STALE, &[]),
        (1, vec![finding("unreferenced-chain", "warning", 7)])
    );
}

/// Run `iptlint check --color never --config iptlint.toml -` in a directory
/// holding `config`; returns the exit code and the rendered output.
fn rendered_config_error(config: &str) -> (i32, String) {
    let dir = empty_dir();
    std::fs::write(dir.path().join("iptlint.toml"), config).unwrap();
    let output = Command::cargo_bin("iptlint")
        .unwrap()
        .current_dir(dir.path())
        .args(["check", "--color", "never", "--config", "iptlint.toml", "-"])
        .write_stdin(DUPLICATE)
        .output()
        .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn configuration_errors_point_into_the_file_and_exit_2() {
    let (code, out) = rendered_config_error(
        "[checks]\nunreferenced-chains = \"allow\"\nduplicate-rule = \"off\"\n\n[[ignore]]\ncheck = \"empty-chain\"\nchain = \"KUBE-*\"\n",
    );
    assert_eq!(code, 2);
    insta::assert_snapshot!("config_errors", out);
    let (code, out) = rendered_config_error("[checks]\n[output]\nformat = \"json\"\n");
    assert_eq!(code, 2);
    insta::assert_snapshot!("config_unknown_key", out);
}

#[test]
fn configuration_errors_in_json() {
    let dir = empty_dir();
    std::fs::write(
        dir.path().join("iptlint.toml"),
        "[checks]\nnope = \"allow\"\n",
    )
    .unwrap();
    let output = Command::cargo_bin("iptlint")
        .unwrap()
        .current_dir(dir.path())
        .args(["check", "--format", "json", "-"])
        .write_stdin(DUPLICATE)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    let diagnostic = &json["diagnostics"][0];
    assert_eq!(diagnostic["name"], "invalid-config");
    assert_eq!(
        (diagnostic["line"].as_u64(), diagnostic["column"].as_u64()),
        (Some(2), Some(1))
    );
    assert!(
        diagnostic["file"]
            .as_str()
            .unwrap()
            .ends_with("iptlint.toml")
    );
}
