//! The packet analysis at kube-proxy scale: on a generated dump of 10,000
//! services (about 280,000 lines), every service and endpoint chain ends
//! with a verdict and nothing is hidden or shadowed. How long it takes is
//! measured by the `checks` criterion benchmark and
//! `scripts/bench-vs-iptables.sh`, not here.

use iptlint::analysis::Analysis;
use iptlint::checks::{self, CheckOptions, Context};
use iptlint::generate::{GenConfig, generate};
use iptlint::graph::DumpGraph;
use iptlint::model::build::build;

#[test]
fn ten_thousand_services_analyse_cleanly() {
    let generated = generate(&GenConfig {
        services: 10_000,
        ..GenConfig::default()
    });
    let text = &generated.text;
    let parsed = build(text);
    assert!(!parsed.has_syntax_errors());
    let graph = DumpGraph::build(&parsed.dump);
    let analysis = Analysis::of(text, &parsed.dump, &graph);
    // A clean dump: every service and endpoint chain ends with a verdict,
    // and nothing is hidden or shadowed (but overlapping load-balancer
    // source ranges, which a Service may well list).
    let mut service_chains = 0;
    for (table, flows) in parsed.dump.tables.iter().zip(&analysis.tables) {
        for (chain, flow) in table.chains.iter().zip(&flows.chains) {
            assert!(flow.hidden.is_none(), "{}", chain.name);
            assert!(
                flow.shadows.is_empty() || chain.name.starts_with("KUBE-FW-"),
                "{}",
                chain.name
            );
            if chain.name.starts_with("KUBE-SEP-") || chain.name.starts_with("KUBE-SVC-") {
                assert!(flow.verdict, "{}", chain.name);
                service_chains += 1;
            }
        }
    }
    assert!(
        service_chains > 20_000,
        "{service_chains} service and endpoint chains"
    );
    // The three checks that read the analysis find nothing either.
    let names = ["unreachable-rule", "shadowed-rule", "missing-terminal"];
    let cx = Context::new(text, &parsed.dump, &graph, CheckOptions::default());
    let mut findings = checks::Findings::default();
    for check in checks::REGISTRY
        .iter()
        .filter(|check| names.contains(&check.info().name))
    {
        check.run(&cx, &mut findings);
    }
    assert!(findings.kept().is_empty(), "{findings:?}");
}
