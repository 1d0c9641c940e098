//! Scale of the packet analysis: a kube-proxy dump of 10,000 services must
//! analyse in well under 100 ms in release mode. Ignored by default (debug
//! builds are far slower); run with
//! `cargo test --release --test flow_scale -- --ignored --nocapture`.

use std::time::Instant;

use iptlint::analysis::Analysis;
use iptlint::graph::DumpGraph;
use iptlint::model::build::build;

/// A kube-proxy-like nat table in iptables-save's layout: user chains
/// sorted by name, rules grouped by chain.
fn synthetic(services: usize) -> String {
    use std::collections::BTreeMap;
    let mut chains: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut seed = 1u64;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize
    };
    chains.insert(
        "KUBE-MARK-MASQ".into(),
        vec!["-j MARK --or-mark 0x4000".into()],
    );
    chains.insert("KUBE-NODEPORTS".into(), Vec::new());
    let mut services_rules = Vec::new();
    for i in 0..services {
        let ip = format!("10.{}.{}.{}", 96 + i / 65536, (i / 256) % 256, i % 256);
        let svc = format!(
            "KUBE-SVC-{:016X}",
            (i as u64).wrapping_mul(0x9E3779B97F4A7C15)
        );
        let proto = if next() % 10 == 0 { "udp" } else { "tcp" };
        let port = 1 + next() % 65000;
        let endpoints = 1 + next() % 10;
        services_rules.push(format!("-d {ip}/32 -p {proto} -m comment --comment \"ns/s{i}:p cluster IP\" -m {proto} --dport {port} -j {svc}"));
        let mut svc_rules = vec![format!(
            "! -s 10.244.0.0/16 -d {ip}/32 -p {proto} -m comment --comment \"ns/s{i}:p cluster IP\" -m {proto} --dport {port} -j KUBE-MARK-MASQ"
        )];
        for e in 0..endpoints {
            let n = i * 10 + e;
            let sep = format!(
                "KUBE-SEP-{:016X}",
                (n as u64).wrapping_mul(0xD1B54A32D192ED03)
            );
            let ep = format!("10.{}.{}.{}", 244 + n / 65536, (n / 256) % 256, n % 256);
            let statistic = if e + 1 < endpoints {
                format!(
                    " -m statistic --mode random --probability {:.10}",
                    1.0 / (endpoints - e) as f64
                )
            } else {
                String::new()
            };
            svc_rules.push(format!(
                "-m comment --comment \"ns/s{i}:p -> {ep}:80\"{statistic} -j {sep}"
            ));
            chains.insert(sep, vec![
                format!("-s {ep}/32 -m comment --comment \"ns/s{i}:p\" -j KUBE-MARK-MASQ"),
                format!("-p {proto} -m comment --comment \"ns/s{i}:p\" -m {proto} -j DNAT --to-destination {ep}:80"),
            ]);
        }
        chains.insert(svc, svc_rules);
    }
    services_rules.push("-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS".into());
    chains.insert("KUBE-SERVICES".into(), services_rules);
    let mut text = String::from(
        "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n",
    );
    for name in chains.keys() {
        text.push_str(&format!(":{name} - [0:0]\n"));
    }
    text.push_str("-A PREROUTING -j KUBE-SERVICES\n-A OUTPUT -j KUBE-SERVICES\n");
    for (name, rules) in &chains {
        for rule in rules {
            text.push_str(&format!("-A {name} {rule}\n"));
        }
    }
    text.push_str("COMMIT\n");
    text
}

#[test]
#[ignore = "timing; run in release mode"]
fn ten_thousand_services_analyse_quickly() {
    let text = synthetic(10_000);
    let start = Instant::now();
    let parsed = build(&text);
    let parse_time = start.elapsed();
    let graph = DumpGraph::build(&parsed.dump);
    let mut best = std::time::Duration::MAX;
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    for _ in 0..rounds {
        let start = Instant::now();
        let analysis = Analysis::of(&text, &parsed.dump, &graph);
        best = best.min(start.elapsed());
        assert!(analysis.tables[0].chains.iter().all(|c| c.hidden.is_none()));
    }
    let mut exact = 0usize;
    for table in &parsed.dump.tables {
        for chain in &table.chains {
            for rule in &chain.rules {
                exact += iptlint::analysis::RuleSet::of(rule, parsed.dump.family).exact as usize;
            }
        }
    }
    println!(
        "{} lines: parse {:?}, analysis {:?} (best of 5); {exact} rules modelled exactly",
        text.lines().count(),
        parse_time,
        best
    );
}
