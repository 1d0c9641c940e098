//! The graph checks on generated kube-proxy dumps with known answers
//! (`iptlint::generate`): each injected defect is found by its check at the
//! line and chain the generator names, with the right severity where the
//! kernel decides it; clean dumps get no finding at all from these checks.

mod support;

use iptlint::diagnostics::Severity;
use iptlint::generate::{Defect, GenConfig, Style, generate};
use support::generated::{assert_all_defects_found_at_once, check, line_of};

/// The checks this test speaks for, plus the suppression codes (a clean dump
/// has no suppressions, so they must stay silent too).
const CHECKS: &[&str] = &[
    "undefined-target",
    "jump-cycle",
    "unreferenced-chain",
    "invalid-target-for-table",
    "duplicate-rule",
    "empty-chain",
    "jump-to-builtin-chain",
    "unused-suppression",
    "invalid-suppression",
];

const STYLES: [Style; 3] = [Style::Modern, Style::Legacy, Style::NoComments];

/// The defects of these checks, with the severity iptlint must give them
/// when the kernel decides it (refused: error; loads: not an error).
const DEFECTS: &[(Defect, Option<Severity>)] = &[
    (Defect::UndefinedTarget, Some(Severity::Error)),
    (Defect::JumpCycle { reachable: true }, Some(Severity::Error)),
    (
        Defect::JumpCycle { reachable: false },
        Some(Severity::Warning),
    ),
    (Defect::UnreferencedChain, Some(Severity::Warning)),
    (Defect::InvalidTargetForTable, Some(Severity::Error)),
    (Defect::DuplicateRule, None),
    (Defect::EmptyChain, None),
];

fn config(seed: u64, style: Style, defects: Vec<Defect>) -> GenConfig {
    GenConfig {
        seed,
        services: 30,
        style,
        defects,
        // Every feature often, so defects land next to each rule form.
        nodeport_fraction: 0.3,
        external_ip_fraction: 0.2,
        load_balancer_fraction: 0.2,
        affinity_fraction: 0.2,
        local_policy_fraction: 0.4,
        zero_endpoint_fraction: 0.1,
        multi_port_fraction: 0.3,
        udp_fraction: 0.2,
        ..GenConfig::default()
    }
}

#[test]
fn each_injected_defect_is_found_at_its_line_and_chain() {
    let mut problems = Vec::new();
    let mut found = 0;
    for &(defect, severity) in DEFECTS {
        for style in STYLES {
            for seed in 0..6 {
                let generated = generate(&config(seed, style, vec![defect]));
                let injected = &generated.defects[0];
                let report = check(&generated);
                let hit = report.diagnostics.iter().find(|d| {
                    d.info.name == injected.check
                        && d.table.as_deref() == Some(injected.table.as_str())
                        && d.chain.as_deref() == Some(injected.chain.as_str())
                        && line_of(&report, d) == injected.line
                });
                let context = format!("{defect:?} {style:?} seed {seed} ({})", injected.detail);
                match hit {
                    None => problems.push(format!(
                        "{context}: no `{}` at line {} chain {}; found {:?}",
                        injected.check,
                        injected.line,
                        injected.chain,
                        report
                            .diagnostics
                            .iter()
                            .map(|d| format!(
                                "{} {:?} line {}",
                                d.info.name,
                                d.chain,
                                line_of(&report, d)
                            ))
                            .collect::<Vec<_>>()
                    )),
                    Some(d) if severity.is_some_and(|s| s != d.severity) => problems.push(format!(
                        "{context}: severity {:?}, expected {severity:?}",
                        d.severity
                    )),
                    Some(_) => found += 1,
                }
                // Nothing else in the dump is an error from these checks.
                for d in &report.diagnostics {
                    if CHECKS.contains(&d.info.name)
                        && d.severity == Severity::Error
                        && d.info.name != injected.check
                    {
                        problems.push(format!(
                            "{context}: unexpected error {}: {}",
                            d.info.name, d.message
                        ));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(found, DEFECTS.len() * STYLES.len() * 6);
}

#[test]
fn all_defects_at_once_are_all_found() {
    let defects: Vec<Defect> = DEFECTS.iter().map(|(defect, _)| *defect).collect();
    assert_all_defects_found_at_once(&STYLES, &defects, 60, config);
}

#[test]
fn clean_generated_dumps_give_nothing() {
    for style in STYLES {
        for seed in 0..8 {
            for counters in [None, Some(5000)] {
                let generated = generate(&GenConfig {
                    counters,
                    ..config(seed, style, Vec::new())
                });
                let report = check(&generated);
                let ours: Vec<String> = report
                    .diagnostics
                    .iter()
                    .filter(|d| CHECKS.contains(&d.info.name))
                    .map(|d| {
                        format!(
                            "{} at line {}: {}",
                            d.info.name,
                            line_of(&report, d),
                            d.message
                        )
                    })
                    .collect();
                assert!(ours.is_empty(), "{style:?} seed {seed}: {ours:#?}");
            }
        }
    }
}
