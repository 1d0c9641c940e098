//! Scale of the packet analysis on a generated kube-proxy dump of 10,000
//! services (about 250,000 lines): it must take well under 100 ms in release
//! mode. Ignored by default (debug builds are far slower, and a timing on a
//! busy machine proves little); run with
//! `cargo test --release --test flow_scale -- --ignored --nocapture`.
//! `ROUNDS=N` sets how many analyses the best time is taken over.

use std::time::{Duration, Instant};

use iptlint::analysis::Analysis;
use iptlint::checks::{self, CheckOptions, Context};
use iptlint::generate::{GenConfig, generate};
use iptlint::graph::DumpGraph;
use iptlint::model::build::build;

#[test]
#[ignore = "timing; run in release mode"]
fn ten_thousand_services_analyse_quickly() {
    let generated = generate(&GenConfig {
        services: 10_000,
        ..GenConfig::default()
    });
    let text = &generated.text;
    let start = Instant::now();
    let parsed = build(text);
    let parse_time = start.elapsed();
    assert!(!parsed.has_syntax_errors());
    let graph = DumpGraph::build(&parsed.dump);
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let mut best = Duration::MAX;
    for _ in 0..rounds {
        let start = Instant::now();
        let analysis = Analysis::of(text, &parsed.dump, &graph);
        best = best.min(start.elapsed());
        // A clean dump: every service and endpoint chain ends with a
        // verdict, and nothing is hidden or shadowed (but overlapping
        // load-balancer source ranges, which a Service may well list).
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
                }
            }
        }
    }
    // The three checks that read the analysis, with a fresh context (so
    // the analysis is computed once more, as in a real run).
    let names = ["unreachable-rule", "shadowed-rule", "missing-terminal"];
    let start = Instant::now();
    let cx = Context::new(text, &parsed.dump, &graph, CheckOptions::default());
    let mut findings = checks::Findings::default();
    for check in checks::REGISTRY
        .iter()
        .filter(|check| names.contains(&check.info().name))
    {
        check.run(&cx, &mut findings);
    }
    let checks_time = start.elapsed();
    assert!(findings.kept().is_empty(), "{findings:?}");
    println!(
        "{} lines, {} service ports: parse {parse_time:?}, analysis {best:?} (best of {rounds}), \
         analysis and its three checks {checks_time:?}",
        generated.line_count,
        generated.services.len()
    );
}
