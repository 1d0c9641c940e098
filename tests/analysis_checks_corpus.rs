//! No false positives from the checks that read the packet analysis
//! (`unreachable-rule`, `shadowed-rule`, `missing-terminal`) on real dumps:
//! every dump of ../shared/corpus that the kernel loads (MANIFEST.tsv,
//! column `netns_load_nft`) gets no error from them and exactly the warnings
//! listed below, each checked by hand against the dump. The kube-proxy dumps
//! (and the bundled `fixtures/my-ngx-deploy.rules`) get no finding at all.

mod support;

use iptlint::diagnostics::Severity;
use iptlint::lint::{Settings, check_source};
use iptlint::source::SourceFile;
use support::{accepted_corpus_dumps, fixtures_dir, is_kube_proxy_dump};

/// The checks this test speaks for.
const CHECKS: &[&str] = &["unreachable-rule", "shadowed-rule", "missing-terminal"];

/// Warnings the accepted dumps really deserve: (file, check, lines).
const EXPECTED_WARNINGS: &[(&str, &str, &[usize])] = &[
    // Line 117 DNATs exactly the packets line 116 DNATs (eth1, tcp NEW to
    // port 24562), to another host; in invalid_ext and invalid_vpn,
    // `-s/-d 192.0.0.0/29` come after `-s/-d 192.0.0.0/24`, and
    // `-s/-d 255.255.255.255/32` after `-s/-d 240.0.0.0/4`, all DROP.
    (
        "diekmann__home-user.rules",
        "shadowed-rule",
        &[117, 190, 191, 208, 209, 222, 223, 240, 241],
    ),
    // After `-j filter_DEFAULT`, whose last rule is an unconditional DROP.
    ("diekmann__memphis-testbed.rules", "unreachable-rule", &[44]),
    // After `-j LOGGING` and `-j LOGGING_FORWARD`, which end with `-j DROP`.
    (
        "diekmann__pastebin-bbWXHaTn.rules",
        "unreachable-rule",
        &[55, 61],
    ),
    // INPUT starts with `-j STATEFUL`, which accepts RELATED, ESTABLISHED and
    // NEW and sends everything else to DUMP, ending in `-j DROP`: the 31
    // rules after it never run.
    ("diekmann__ringofsaturn.rules", "unreachable-rule", &[9]),
    // After an unconditional `-A DEFAULT_INPUT -j DROP`.
    (
        "diekmann__synology-legacyiface.rules",
        "unreachable-rule",
        &[18],
    ),
];

/// Findings of these checks on one file: (check, severity, line).
fn findings(name: &str, bytes: Vec<u8>) -> Vec<(&'static str, Severity, usize)> {
    let report = check_source(SourceFile::from_bytes(name, bytes), &Settings::default());
    report
        .diagnostics
        .iter()
        .filter(|d| CHECKS.contains(&d.info.name))
        .map(|d| {
            (
                d.info.name,
                d.severity,
                report.source.location(d.primary_span().start as usize).0,
            )
        })
        .collect()
}

#[test]
fn accepted_corpus_dumps_get_only_their_real_defects() {
    let test = "accepted_corpus_dumps_get_only_their_real_defects";
    let Some(accepted) = accepted_corpus_dumps(test) else {
        return;
    };
    let mut problems = Vec::new();
    for (name, bytes) in accepted {
        let ours = findings(&name, bytes);
        for (check, severity, line) in &ours {
            if *severity == Severity::Error {
                problems.push(format!("{name}: error {check} at line {line}"));
            }
        }
        for check in CHECKS {
            let found: Vec<usize> = ours
                .iter()
                .filter(|(c, s, _)| c == check && *s == Severity::Warning)
                .map(|(_, _, line)| *line)
                .collect();
            let expected: Vec<usize> = EXPECTED_WARNINGS
                .iter()
                .filter(|(file, c, _)| *file == name && c == check)
                .flat_map(|(_, _, lines)| lines.iter().copied())
                .collect();
            if found != expected {
                problems.push(format!(
                    "{name}: {check} warns at lines {found:?}, expected {expected:?}"
                ));
            }
        }
        if is_kube_proxy_dump(&name) && !ours.is_empty() {
            problems.push(format!("{name}: a kube-proxy dump gets {ours:?}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_bundled_kube_proxy_dump_is_clean() {
    let path = fixtures_dir().join("my-ngx-deploy.rules");
    let ours = findings("my-ngx-deploy.rules", std::fs::read(path).unwrap());
    assert!(ours.is_empty(), "{ours:?}");
}
