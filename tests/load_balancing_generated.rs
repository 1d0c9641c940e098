//! The load-balancing analysis on generated kube-proxy dumps with known
//! answers (`iptlint::generate`, whose `ServiceTruth` shares are computed by
//! the generator from the probabilities it wrote, independently of
//! iptlint's analysis): exact shares for every endpoint of every service,
//! in every style, and the checks `non-uniform-spread`, `probability-leak`
//! and `counter-skew` firing exactly on the injected defects.

use iptlint::analysis::probability::Analyzer;
use iptlint::analysis::services::{Service, fresh_client_case, services};
use iptlint::diagnostics::{Diagnostic, Severity};
use iptlint::generate::{Defect, GenConfig, Generated, ServiceTruth, Style, generate};
use iptlint::graph::DumpGraph;
use iptlint::lint::{FileReport, Settings, check_source};
use iptlint::model::build::build;
use iptlint::source::SourceFile;

/// The checks whose findings must match the injected defects exactly.
const CHECKS: &[&str] = &["non-uniform-spread", "probability-leak", "counter-skew"];

const STYLES: [Style; 3] = [Style::Modern, Style::Legacy, Style::NoComments];

fn config(seed: u64, style: Style) -> GenConfig {
    GenConfig {
        seed,
        services: 40,
        style,
        // Every feature often, so services come in every shape.
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

fn analysed(generated: &Generated) -> Vec<Service> {
    let parsed = build(&generated.text);
    assert!(!parsed.has_syntax_errors(), "{:#?}", parsed.diagnostics);
    let graph = DumpGraph::build(&parsed.dump);
    services(&generated.text, &parsed.dump, &graph)
}

/// Compare iptlint's service with the generator's truth; problems as text.
fn compare(truth: &ServiceTruth, found: Option<&Service>, context: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(service) = found else {
        return vec![format!(
            "{context}: {} ({}) not found",
            truth.name, truth.svc_chain
        )];
    };
    if service.name != truth.name {
        problems.push(format!(
            "{context}: {} named `{}`",
            truth.name, service.name
        ));
    }
    if service.cluster_ip != Some(truth.cluster_ip.into()) || service.port != Some(truth.port) {
        problems.push(format!(
            "{context}: {} at {}, expected {}:{}",
            truth.name,
            service.address(),
            truth.cluster_ip,
            truth.port
        ));
    }
    // Endpoints whose DNAT rule a defect removed are no endpoints.
    let expected: Vec<_> = truth
        .endpoints
        .iter()
        .filter(|e| e.dnat_line.is_some())
        .collect();
    if expected.len() != service.endpoints.len() {
        problems.push(format!(
            "{context}: {} has {} endpoints, expected {}",
            truth.name,
            service.endpoints.len(),
            expected.len()
        ));
        return problems;
    }
    for (truth_endpoint, endpoint) in expected.iter().zip(&service.endpoints) {
        if endpoint.chain_name != truth_endpoint.sep_chain
            || Some(endpoint.line as usize) != truth_endpoint.dnat_line
            || endpoint.destination_text()
                != format!("{}:{}", truth_endpoint.ip, truth_endpoint.port)
        {
            problems.push(format!(
                "{context}: {} endpoint {} at line {} is {} line {}",
                truth.name,
                endpoint.destination_text(),
                endpoint.line,
                truth_endpoint.sep_chain,
                truth_endpoint.dnat_line.unwrap_or(0)
            ));
        }
        if (endpoint.probability - truth_endpoint.probability).abs() > 1e-9 {
            problems.push(format!(
                "{context}: {} endpoint {}: {} != {}",
                truth.name,
                endpoint.destination_text(),
                endpoint.probability,
                truth_endpoint.probability
            ));
        }
        if endpoint.jump().map(|j| j.line as usize) != Some(truth_endpoint.rule_line) {
            problems.push(format!(
                "{context}: {} endpoint {} reached from line {:?}, expected {}",
                truth.name,
                endpoint.destination_text(),
                endpoint.jump().map(|j| j.line),
                truth_endpoint.rule_line
            ));
        }
    }
    if (service.fallthrough - truth.fallthrough).abs() > 1e-9 {
        problems.push(format!(
            "{context}: {} falls through {} != {}",
            truth.name, service.fallthrough, truth.fallthrough
        ));
    }
    if service.affinity != truth.affinity {
        problems.push(format!("{context}: {} affinity differs", truth.name));
    }
    problems
}

/// Check every service of `generated` against its truth, including the
/// local-traffic-policy chains of the modern styles (KUBE-SVL).
fn compare_all(generated: &Generated, context: &str) -> (usize, Vec<String>) {
    let found = analysed(generated);
    let mut problems = Vec::new();
    let mut endpoints = 0;
    for truth in generated
        .services
        .iter()
        .filter(|t| t.svc_chain_line.is_some())
    {
        let service = found
            .iter()
            .find(|s| s.chain_name.as_deref() == Some(truth.svc_chain.as_str()));
        endpoints += truth.endpoints.len();
        problems.extend(compare(truth, service, context));
    }
    // Zero-endpoint services have no nat chains, hence no service here.
    let with_chains = generated
        .services
        .iter()
        .filter(|t| t.svc_chain_line.is_some())
        .count();
    if found.len() != with_chains {
        problems.push(format!(
            "{context}: {} services found, {with_chains} have chains",
            found.len()
        ));
    }
    let parsed = build(&generated.text);
    let nat = parsed.dump.table("nat").expect("a nat table");
    let mut analyzer = Analyzer::new(&generated.text, nat);
    for truth in &generated.services {
        let Some(local) = &truth.local_policy else {
            continue;
        };
        if !local.chain.starts_with("KUBE-SVL-") || local.chain_line.is_none() {
            continue;
        }
        let chain = nat.chain_index(&local.chain).expect("declared");
        let service = found
            .iter()
            .find(|s| s.chain_name.as_deref() == Some(truth.svc_chain.as_str()))
            .expect("found above");
        let cases = analyzer.cases(chain, service.packet);
        let fresh = &cases[fresh_client_case(&cases)];
        let shares: Vec<f64> = fresh
            .distribution
            .iter()
            .filter(|(o, _)| matches!(o, iptlint::analysis::probability::Outcome::Dnat { .. }))
            .map(|(_, p)| p)
            .collect();
        let expected: Vec<f64> = local.endpoints.iter().map(|e| e.probability).collect();
        if fresh.conditions.iter().any(|(_, holds)| *holds)
            || shares.len() != expected.len()
            || shares
                .iter()
                .zip(&expected)
                .any(|(a, b)| (a - b).abs() > 1e-9)
        {
            problems.push(format!(
                "{context}: {} local chain {}: {shares:?} != {expected:?}",
                truth.name, local.chain
            ));
        }
    }
    (endpoints, problems)
}

#[test]
fn every_endpoint_share_is_exact_in_every_style() {
    let mut problems = Vec::new();
    let mut endpoints = 0;
    for style in STYLES {
        for canonical in [false, true] {
            for seed in 0..4 {
                let generated = generate(&GenConfig {
                    canonical_probabilities: canonical,
                    endpoints: 1..=32,
                    ..config(seed, style)
                });
                let (count, found) = compare_all(
                    &generated,
                    &format!("{style:?} canonical={canonical} seed {seed}"),
                );
                endpoints += count;
                problems.extend(found);
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(endpoints > 1000, "only {endpoints} endpoints compared");
}

#[test]
fn every_size_from_1_to_32_endpoints() {
    let mut problems = Vec::new();
    for style in STYLES {
        for n in 1..=32 {
            let mut variants = vec![Vec::new()];
            if n >= 2 {
                // 0.7 is 1/n for no n > 1, so the spread is really skewed.
                variants.push(vec![Defect::NonUniformSpread { first_share: 0.7 }]);
                variants.push(vec![Defect::ProbabilityLeak { leaked: 0.03 }]);
            }
            for defects in variants {
                let generated = generate(&GenConfig {
                    seed: n as u64,
                    services: 4,
                    endpoints: n..=n,
                    style,
                    defects: defects.clone(),
                    ..GenConfig::default()
                });
                let context = format!("{style:?} n={n} {defects:?}");
                let (_, found) = compare_all(&generated, &context);
                problems.extend(found);
                let report = check(&generated);
                let findings: Vec<String> = ours(&report)
                    .iter()
                    .map(|d| (d.info.name, line_of(&report, d)))
                    .map(|(name, line)| format!("{name} at line {line}"))
                    .collect();
                let expected: Vec<String> = generated
                    .defects
                    .iter()
                    .map(|d| format!("{} at line {}", d.check, d.line))
                    .collect();
                if findings != expected {
                    problems.push(format!(
                        "{context}: found {findings:?}, expected {expected:?}"
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn check(generated: &Generated) -> FileReport {
    let report = check_source(
        SourceFile::new("generated.rules", generated.text.as_str()),
        &Settings::default(),
    );
    assert!(!report.is_fatal(), "{:#?}", report.diagnostics);
    report
}

fn ours(report: &FileReport) -> Vec<&Diagnostic> {
    report
        .diagnostics
        .iter()
        .filter(|d| CHECKS.contains(&d.info.name))
        .collect()
}

fn line_of(report: &FileReport, diagnostic: &Diagnostic) -> usize {
    report
        .source
        .location(diagnostic.primary_span().start as usize)
        .0
}

fn describe(report: &FileReport, diagnostic: &Diagnostic) -> String {
    format!(
        "{} ({:?}) at line {} chain {:?}: {}",
        diagnostic.info.name,
        diagnostic.severity,
        line_of(report, diagnostic),
        diagnostic.chain,
        diagnostic.message
    )
}

/// Defects of these checks, with the counters they need.
fn defects() -> Vec<(Defect, Option<u64>)> {
    vec![
        (Defect::NonUniformSpread { first_share: 0.6 }, None),
        (Defect::NonUniformSpread { first_share: 0.05 }, None),
        (Defect::ProbabilityLeak { leaked: 0.05 }, None),
        (Defect::ProbabilityLeak { leaked: 0.004 }, None),
        (Defect::CounterSkew { factor: 1.6 }, Some(6000)),
        (Defect::CounterSkew { factor: 0.5 }, Some(6000)),
        // The spread defects with honest counters next to them.
        (Defect::NonUniformSpread { first_share: 0.6 }, Some(6000)),
        (Defect::ProbabilityLeak { leaked: 0.05 }, Some(6000)),
    ]
}

#[test]
fn each_injected_defect_is_found_exactly() {
    let mut problems = Vec::new();
    let mut found = 0;
    let mut cases = 0;
    for (defect, counters) in defects() {
        for style in STYLES {
            for seed in 0..5 {
                cases += 1;
                let generated = generate(&GenConfig {
                    counters,
                    defects: vec![defect],
                    ..config(seed, style)
                });
                let injected = &generated.defects[0];
                let report = check(&generated);
                let context = format!("{defect:?} {style:?} seed {seed} ({})", injected.detail);
                let findings = ours(&report);
                let expected_severity = match defect {
                    Defect::ProbabilityLeak { leaked } if leaked > 0.01 => Severity::Error,
                    _ => Severity::Warning,
                };
                match findings.as_slice() {
                    [d] if d.info.name == injected.check
                        && d.chain.as_deref() == Some(injected.chain.as_str())
                        && line_of(&report, d) == injected.line
                        && d.severity == expected_severity
                        && d.message.contains(&format!("`{}`", injected.service)) =>
                    {
                        found += 1
                    }
                    _ => problems.push(format!(
                        "{context}: expected one {} ({expected_severity:?}) at line {} chain {}; found {:#?}",
                        injected.check,
                        injected.line,
                        injected.chain,
                        findings
                            .iter()
                            .map(|d| describe(&report, d))
                            .collect::<Vec<_>>()
                    )),
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(found, cases);
}

#[test]
fn all_three_defects_at_once() {
    for style in STYLES {
        let generated = generate(&GenConfig {
            services: 70,
            counters: Some(6000),
            defects: vec![
                Defect::NonUniformSpread { first_share: 0.7 },
                Defect::ProbabilityLeak { leaked: 0.1 },
                Defect::CounterSkew { factor: 2.0 },
            ],
            ..config(11, style)
        });
        let report = check(&generated);
        let findings = ours(&report);
        assert_eq!(
            findings.len(),
            3,
            "{style:?}: {:#?}",
            findings
                .iter()
                .map(|d| describe(&report, d))
                .collect::<Vec<_>>()
        );
        for injected in &generated.defects {
            assert!(
                findings
                    .iter()
                    .any(|d| d.info.name == injected.check && line_of(&report, d) == injected.line),
                "{style:?}: {} at line {} not found",
                injected.check,
                injected.line
            );
        }
    }
}

#[test]
fn clean_dumps_with_honest_counters_give_nothing() {
    let mut tested = 0;
    for style in STYLES {
        for canonical in [false, true] {
            for seed in 0..6 {
                for counters in [None, Some(5000)] {
                    let generated = generate(&GenConfig {
                        services: 70,
                        counters,
                        canonical_probabilities: canonical,
                        ..config(100 + seed, style)
                    });
                    let report = check(&generated);
                    let findings: Vec<String> =
                        ours(&report).iter().map(|d| describe(&report, d)).collect();
                    assert!(
                        findings.is_empty(),
                        "{style:?} canonical={canonical} seed {seed} counters {counters:?}: {findings:#?}"
                    );
                    // Every service without endpoints gets its note, once.
                    let notes = report
                        .diagnostics
                        .iter()
                        .filter(|d| d.info.name == "service-without-endpoints")
                        .count();
                    let empty = generated
                        .services
                        .iter()
                        .filter(|s| s.endpoints.is_empty())
                        .count();
                    assert_eq!(notes, empty, "{style:?} seed {seed}");
                    tested += generated.services.len();
                }
            }
        }
    }
    assert!(tested > 3000);
}
