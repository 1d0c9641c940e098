//! The checks that read the packet analysis (`unreachable-rule`,
//! `shadowed-rule`, `missing-terminal`) on generated kube-proxy dumps with
//! known answers (`iptlint::generate`): each injected defect is found by
//! its check at the line and chain the generator names, with the severity
//! it names; clean dumps, in every style and with every feature, get no
//! finding at all from these checks.

mod support;

use iptlint::diagnostics::{Diagnostic, Severity};
use iptlint::generate::{Defect, GenConfig, Style, generate};
use iptlint::lint::FileReport;
use support::generated::{assert_all_defects_found_at_once, check, line_of};

/// The checks this test speaks for.
const CHECKS: &[&str] = &["unreachable-rule", "shadowed-rule", "missing-terminal"];

const STYLES: [Style; 3] = [Style::Modern, Style::Legacy, Style::NoComments];

/// The defects of these checks and the severity each must be reported at.
const DEFECTS: &[(Defect, Severity)] = &[
    (Defect::UnreachableRule, Severity::Warning),
    (Defect::ShadowedRule, Severity::Warning),
    (Defect::MissingTerminal, Severity::Error),
];

fn config(seed: u64, style: Style, defects: Vec<Defect>) -> GenConfig {
    GenConfig {
        seed,
        services: 40,
        style,
        defects,
        // Every feature often, so defects land next to each rule form.
        nodeport_fraction: 0.4,
        external_ip_fraction: 0.3,
        load_balancer_fraction: 0.3,
        affinity_fraction: 0.3,
        local_policy_fraction: 0.5,
        zero_endpoint_fraction: 0.1,
        multi_port_fraction: 0.3,
        udp_fraction: 0.3,
        ..GenConfig::default()
    }
}

fn describe(report: &FileReport, diagnostics: &[&Diagnostic]) -> Vec<String> {
    diagnostics
        .iter()
        .map(|d| {
            format!(
                "{} {:?} {:?} line {}: {}",
                d.info.name,
                d.table,
                d.chain,
                line_of(report, d),
                d.message
            )
        })
        .collect()
}

#[test]
fn clean_generated_dumps_give_nothing() {
    let mut problems = Vec::new();
    for style in STYLES {
        for seed in 0..10 {
            for counters in [None, Some(5000)] {
                let generated = generate(&GenConfig {
                    counters,
                    ..config(seed, style, Vec::new())
                });
                let report = check(&generated);
                let ours: Vec<&Diagnostic> = report
                    .diagnostics
                    .iter()
                    .filter(|d| CHECKS.contains(&d.info.name))
                    .collect();
                if !ours.is_empty() {
                    problems.push(format!(
                        "{style:?} seed {seed} counters {counters:?}: {:#?}",
                        describe(&report, &ours)
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn each_injected_defect_is_found_at_its_line_and_chain() {
    let mut problems = Vec::new();
    let mut found = 0;
    for &(defect, severity) in DEFECTS {
        for style in STYLES {
            for seed in 0..8 {
                let generated = generate(&config(seed, style, vec![defect]));
                let injected = &generated.defects[0];
                let report = check(&generated);
                let context = format!("{defect:?} {style:?} seed {seed} ({})", injected.detail);
                let ours: Vec<&Diagnostic> = report
                    .diagnostics
                    .iter()
                    .filter(|d| d.info.name == injected.check)
                    .collect();
                let hit = ours.iter().find(|d| {
                    d.table.as_deref() == Some(injected.table.as_str())
                        && d.chain.as_deref() == Some(injected.chain.as_str())
                        && line_of(&report, d) == injected.line
                });
                match hit {
                    None => problems.push(format!(
                        "{context}: no `{}` at line {} chain {}; found {:#?}",
                        injected.check,
                        injected.line,
                        injected.chain,
                        describe(&report, &ours)
                    )),
                    Some(d) if d.severity != severity => problems.push(format!(
                        "{context}: severity {:?}, expected {severity:?}",
                        d.severity
                    )),
                    Some(_) => found += 1,
                }
                // The defect is reported once, where it is, and nothing else
                // in the dump is a finding of these checks.
                let all: Vec<&Diagnostic> = report
                    .diagnostics
                    .iter()
                    .filter(|d| CHECKS.contains(&d.info.name))
                    .collect();
                if all.len() != 1 {
                    problems.push(format!(
                        "{context}: {} findings from these checks: {:#?}",
                        all.len(),
                        describe(&report, &all)
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(found, DEFECTS.len() * STYLES.len() * 8);
}

#[test]
fn all_defects_at_once_are_all_found() {
    let defects: Vec<Defect> = DEFECTS.iter().map(|(defect, _)| *defect).collect();
    assert_all_defects_found_at_once(&STYLES, &defects, 80, config);
}

/// Defects of other checks, and what these checks say about them: nothing,
/// except that a leaking probability (the last endpoint rule of a service
/// keeps a `--probability`) also lets packets fall through the service chain.
#[test]
fn other_defects_get_nothing_from_these_checks_but_what_they_cause() {
    let others = [
        Defect::UndefinedTarget,
        Defect::JumpCycle { reachable: true },
        Defect::JumpCycle { reachable: false },
        Defect::UnreferencedChain,
        Defect::InvalidTargetForTable,
        Defect::DuplicateRule,
        Defect::EmptyChain,
        Defect::NonUniformSpread { first_share: 0.7 },
        Defect::ProbabilityLeak { leaked: 0.1 },
        Defect::CounterSkew { factor: 1.5 },
    ];
    let mut problems = Vec::new();
    for defect in others {
        for style in STYLES {
            for seed in 0..4 {
                let generated = generate(&GenConfig {
                    counters: Some(20_000),
                    ..config(seed, style, vec![defect])
                });
                let injected = &generated.defects[0];
                let report = check(&generated);
                let ours: Vec<&Diagnostic> = report
                    .diagnostics
                    .iter()
                    .filter(|d| CHECKS.contains(&d.info.name))
                    .collect();
                let expected = match defect {
                    // The service chain itself falls through, where its last
                    // (conditional) endpoint rule is.
                    Defect::ProbabilityLeak { .. } => {
                        ours.len() == 1
                            && ours[0].info.name == "missing-terminal"
                            && ours[0].chain.as_deref() == Some(injected.chain.as_str())
                    }
                    _ => ours.is_empty(),
                };
                if !expected {
                    problems.push(format!(
                        "{defect:?} {style:?} seed {seed} ({}): {:#?}",
                        injected.detail,
                        describe(&report, &ours)
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
