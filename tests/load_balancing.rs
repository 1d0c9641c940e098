//! Load-balancing analysis on hand-written dumps: exact shares (computed
//! here from the written probabilities, the kernel's way), cases for
//! session affinity and source ranges, services without comments, and the
//! `explain` and `services` commands.

mod support;

use assert_cmd::Command;
use iptlint::analysis::probability::{ConditionKind, Outcome};
use iptlint::analysis::services::{EntryKind, Quantisation, Service, analyse, services, sketches};
use iptlint::graph::DumpGraph;
use iptlint::model::build::build;
use serde_json::Value;
use support::fixtures_dir;

/// What the kernel applies for a written `--probability`.
fn kernel(written: f64) -> f64 {
    (written * 2_147_483_648.0).round() / 2_147_483_648.0
}

/// Shares of a flat chain of rules with these match probabilities (the
/// last one usually 1): rule i gets `q_i * prod_{j<i} (1 - q_j)`.
fn flat_shares(probabilities: &[f64]) -> Vec<f64> {
    let mut reach = 1.0;
    probabilities
        .iter()
        .map(|q| {
            let share = reach * q;
            reach *= 1.0 - q;
            share
        })
        .collect()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(fixtures_dir().join(path)).unwrap()
}

fn analysed(text: &str) -> Vec<Service> {
    let parsed = build(text);
    assert!(!parsed.has_syntax_errors(), "{:#?}", parsed.diagnostics);
    let graph = DumpGraph::build(&parsed.dump);
    services(text, &parsed.dump, &graph)
}

fn shares(service: &Service) -> Vec<f64> {
    service.endpoints.iter().map(|e| e.probability).collect()
}

fn assert_close(got: &[f64], expected: &[f64], tolerance: f64) {
    assert_eq!(got.len(), expected.len(), "{got:?} vs {expected:?}");
    for (g, e) in got.iter().zip(expected) {
        assert!((g - e).abs() <= tolerance, "{got:?} vs {expected:?}");
    }
}

fn iptlint() -> Command {
    let mut command = Command::cargo_bin("iptlint").unwrap();
    command.current_dir(env!("CARGO_MANIFEST_DIR"));
    command
}

/// Run iptlint; (stdout, stderr, exit code).
fn run(args: &[&str]) -> (String, String, i32) {
    let output = iptlint().args(args).output().unwrap();
    (
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
        output.status.code().unwrap(),
    )
}

#[test]
fn seed_example_gives_five_endpoints_at_20_percent() {
    let (stdout, stderr, code) = run(&[
        "explain",
        "default/my-ngx-deploy-svc:80-80",
        "fixtures/my-ngx-deploy.rules",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let json: Value = serde_json::from_str(&stdout).unwrap();
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            "endpoints",
            "entries",
            "fallthrough",
            "service",
            "table",
            "tolerance",
            "uniform"
        ]
    );
    assert_eq!(json["service"], "default/my-ngx-deploy-svc:80-80");
    assert_eq!(json["table"], "nat");
    assert_eq!(json["uniform"], true);
    assert_eq!(json["fallthrough"], 0.0);
    assert_eq!(json["tolerance"], 1e-9);
    assert_eq!(
        json["entries"],
        serde_json::json!([{"chain": "KUBE-SERVICES", "line": 40}])
    );
    let endpoints = json["endpoints"].as_array().unwrap();
    assert_eq!(endpoints.len(), 5);
    let written = [0.20000000019, 0.25, 0.33333333349, 0.5, 1.0];
    let expected = flat_shares(&written.map(kernel));
    for (endpoint, share) in endpoints.iter().zip(expected) {
        let probability = endpoint["probability"].as_f64().unwrap();
        assert!((probability - 0.2).abs() < 1e-9, "{endpoint}");
        assert!((probability - share).abs() < 1e-15, "{endpoint}");
        let keys: Vec<&str> = endpoint
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys.len(), 4, "{endpoint}");
        assert!(endpoint["chain"].as_str().unwrap().starts_with("KUBE-SEP-"));
    }
    assert_eq!(endpoints[0]["destination"], "10.244.0.63:80");
    assert_eq!(endpoints[0]["line"], 30);
}

#[test]
fn nested_calls_gotos_and_nth_mode() {
    let found = analysed(&read("lb/nested.rules"));
    assert_eq!(found.len(), 1);
    let service = &found[0];
    assert_eq!(service.name, "lab/nested:http");
    // Half calls ZONE-A, which DNATs 1/2 then 1/2 of the rest and returns
    // the last quarter; that and the other half go to ZONE-B by goto, which
    // sends one connection in three to N3.
    let zone_b = 0.5 + 0.5 * 0.25;
    assert_close(
        &shares(service),
        &[0.25, 0.125, zone_b / 3.0, zone_b * 2.0 / 3.0],
        1e-15,
    );
    assert_eq!(service.fallthrough, 0.0);
    // The third rule of KUBE-SVC-NESTED is never reached (the goto takes
    // everything), so N1 is reached through ZONE-A only.
    let hops: Vec<u32> = service.endpoints[0].path.iter().map(|h| h.line).collect();
    assert_eq!(hops, [26, 29, 21]);
    let hops: Vec<u32> = service.endpoints[3].path.iter().map(|h| h.line).collect();
    assert_eq!(hops, [27, 32, 24]);
}

#[test]
fn negated_statistic_matches() {
    let found = analysed(&read("lb/negated.rules"));
    let first = 1.0 - kernel(0.6666666667);
    let second = 1.0 - kernel(0.5);
    assert_close(
        &shares(&found[0]),
        &flat_shares(&[first, second, 1.0]),
        1e-15,
    );
    let quantisation = Quantisation::of(&build(&read("lb/negated.rules")).dump.tables[0]);
    assert!(found[0].spread(quantisation.tolerance).unwrap().uniform);
}

#[test]
fn modern_services_with_node_ports_load_balancers_and_affinity() {
    let text = read("lb/modern.rules");
    let found = analysed(&text);
    let names: Vec<&str> = found.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["shop/web:http", "shop/cache:redis", "shop/dns:dns"]);

    let web = &found[0];
    let written = [kernel(0.33333333349), kernel(0.5), 1.0];
    assert_close(&shares(web), &flat_shares(&written), 1e-15);
    let kinds: Vec<EntryKind> = web.entries.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EntryKind::ClusterIp,
            EntryKind::LoadBalancer,
            EntryKind::NodePort
        ]
    );
    // The load balancer only lets 198.51.100.0/24 in; the rest falls
    // through KUBE-FW (the filter table drops it).
    let balancer = &web.entries[1];
    assert_eq!(balancer.cases.len(), 2);
    assert_eq!(
        balancer.cases[0].conditions[0].0.kind,
        ConditionKind::Source
    );
    assert!(balancer.cases[0].conditions[0].1);
    assert!((balancer.cases[0].distribution.dnat_total() - 1.0).abs() < 1e-15);
    assert_eq!(
        balancer.cases[1].distribution.probability(&Outcome::Return),
        1.0
    );
    // The node port goes through KUBE-EXT (masquerade, then the service).
    let node_port = &web.entries[2];
    assert_eq!(node_port.packet.destination_port, Some(30080));
    assert_eq!(node_port.cases.len(), 1);
    assert!(
        node_port.cases[0]
            .distribution
            .approx_eq(&web.cases[web.headline].distribution, 1e-15)
    );
    assert!(web.endpoints.iter().all(|e| {
        e.masquerade
            .as_deref()
            .is_some_and(|m| m.contains("hairpin"))
    }));

    // Session affinity: a returning client goes to its endpoint, a new one
    // is spread 50/50.
    let cache = &found[1];
    assert!(cache.affinity);
    assert_eq!(cache.cases.len(), 3);
    assert_eq!(cache.headline, 2);
    assert!(cache.cases[2].conditions.iter().all(|(_, holds)| !holds));
    assert_close(&shares(cache), &[0.5, 0.5], 0.0);
    for (case, endpoint) in cache.cases[..2].iter().zip(&cache.endpoints) {
        let outcomes: Vec<_> = case.distribution.iter().collect();
        assert_eq!(
            outcomes,
            [(
                Outcome::Dnat {
                    chain: endpoint.chain,
                    rule: endpoint.rule
                },
                1.0
            )]
        );
    }
    assert!(cache.endpoints.iter().all(|e| e.affinity));

    // No comments on the endpoint chains: found and named all the same.
    let dns = &found[2];
    assert_eq!(dns.protocol, Some(iptlint::model::Protocol::UDP));
    assert_eq!(dns.address(), "10.96.0.53:53");
    assert_close(&shares(dns), &[0.5, 0.5], 0.0);
}

#[test]
fn services_without_any_comment() {
    let found = analysed(&read("lb/no-comments.rules"));
    let names: Vec<&str> = found.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["KUBE-SVC-PLAINAAAAAAAAAAA", "KUBE-SVC-QUIETAAAAAAAAAAA"]
    );
    assert!(found.iter().all(|s| !s.named_by_comment));
    let written = [kernel(0.3333333333), kernel(0.5), 1.0];
    assert_close(&shares(&found[0]), &flat_shares(&written), 1e-15);
    // Found by cluster IP, with or without the port.
    for query in ["10.96.3.1:443", "10.96.3.1", "KUBE-SVC-PLAINAAAAAAAAAAA"] {
        let (stdout, stderr, code) = run(&[
            "explain",
            query,
            "fixtures/lb/no-comments.rules",
            "--format",
            "json",
        ]);
        assert_eq!(code, 0, "{query}: {stderr}");
        let json: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(json["service"], "KUBE-SVC-PLAINAAAAAAAAAAA");
        assert_eq!(json["endpoints"].as_array().unwrap().len(), 3);
    }
}

#[test]
fn unknown_and_ambiguous_services_exit_2() {
    let (stdout, stderr, code) = run(&["explain", "shop/wbe", "fixtures/lb/modern.rules"]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert!(
        stderr.contains(
            "no service `shop/wbe`; the closest names are: shop/web:http, shop/dns:dns, shop/cache:redis"
        ),
        "{stderr}"
    );
    // Names are matched exactly but ranked ignoring case: a name typed in
    // capitals still puts its service first.
    let (_, stderr, code) = run(&["explain", "SHOP/CACHE", "fixtures/lb/modern.rules"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("the closest names are: shop/cache:redis, shop/dns:dns, shop/web:http"),
        "{stderr}"
    );

    let two_ports = "*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-SVC-AAAA - [0:0]\n:KUBE-SVC-BBBB - [0:0]\n\
        -A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m comment --comment \"web/front:http cluster IP\" -m tcp --dport 80 -j KUBE-SVC-AAAA\n\
        -A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m comment --comment \"web/front:https cluster IP\" -m tcp --dport 443 -j KUBE-SVC-BBBB\n\
        -A KUBE-SVC-AAAA -p tcp -j DNAT --to-destination 10.244.0.1:80\n\
        -A KUBE-SVC-BBBB -p tcp -j DNAT --to-destination 10.244.0.1:443\n\
        COMMIT\n";
    for query in ["web/front", "10.96.0.1"] {
        let output = iptlint()
            .args(["explain", query])
            .write_stdin(two_ports)
            .output()
            .unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(2), "{query}");
        assert!(stderr.contains("matches 2 services"), "{stderr}");
        assert!(stderr.contains("web/front:http ("), "{stderr}");
        assert!(stderr.contains("web/front:https ("), "{stderr}");
    }
    // Each is found by its full name or address.
    let output = iptlint()
        .args(["explain", "10.96.0.1:443", "-", "--format", "json"])
        .write_stdin(two_ports)
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["service"], "web/front:https");

    let (_, stderr, code) = run(&["explain", "x/y", "fixtures/parse/unknown-option.rules"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no kube-proxy services"), "{stderr}");
    let (_, stderr, code) = run(&["explain", "x/y", "no/such/file.rules"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot read"), "{stderr}");
}

#[test]
fn unparsable_input_exits_2_with_the_syntax_error() {
    let output = iptlint()
        .args(["explain", "a/b"])
        .write_stdin("*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -j ACCEPT -j DROP\nCOMMIT\n")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("syntax-error"), "{stderr}");
    assert!(stderr.contains("<stdin>:3:"), "{stderr}");
}

#[test]
fn explain_output_is_snapshotted() {
    for (name, query, file) in [
        (
            "seed",
            "default/my-ngx-deploy-svc:80-80",
            "fixtures/my-ngx-deploy.rules",
        ),
        ("web", "shop/web", "fixtures/lb/modern.rules"),
        ("cache", "10.96.0.20:6379", "fixtures/lb/modern.rules"),
        ("empty", "shop/empty", "fixtures/lb/modern.rules"),
        ("nested", "lab/nested:http", "fixtures/lb/nested.rules"),
        (
            "two_rules_one_endpoint",
            "ns/web:http",
            "fixtures/lb/two-rules-one-endpoint.rules",
        ),
        (
            "skewed",
            "shop/skewed:http",
            "fixtures/checks/non-uniform-spread/fires.rules",
        ),
        (
            "leaky",
            "shop/leaky:http",
            "fixtures/checks/probability-leak/fires.rules",
        ),
    ] {
        let (stdout, stderr, code) = run(&["explain", query, file]);
        assert_eq!(code, 0, "{name}: {stderr}");
        insta::assert_snapshot!(format!("explain_{name}"), stdout);
    }
}

#[test]
fn services_lists_one_line_per_service() {
    let (stdout, _, code) = run(&["services", "fixtures/lb/modern.rules"]);
    assert_eq!(code, 0);
    insta::assert_snapshot!("services_modern", stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 5);
    assert!(lines[1].starts_with("shop/web:http ") && lines[1].contains("10.96.0.10:80"));
    assert!(lines[4].contains("rejected (no endpoints)"));

    let (stdout, _, _) = run(&[
        "services",
        "fixtures/checks/non-uniform-spread/fires.rules",
        "--format",
        "json",
    ]);
    let json: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        json["services"],
        serde_json::json!([{
            "service": "shop/skewed:http", "table": "nat", "address": "10.96.0.30:80",
            "protocol": "tcp", "endpoints": 5, "uniform": false, "fallthrough": 0.0
        }])
    );
    // Standard input by default.
    let output = iptlint()
        .arg("services")
        .write_stdin(read("my-ngx-deploy.rules"))
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains("default/my-ngx-deploy-svc:80-80  10.96.129.200:80  tcp"),
        "{stdout}"
    );
}

/// A service of `n` endpoints as kube-proxy >= 1.17 writes it.
fn service_of(n: usize) -> String {
    let mut text =
        String::from("*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-SVC-WIDEAAAAAAAAAAAA - [0:0]\n");
    for i in 0..n {
        text.push_str(&format!(":KUBE-SEP-WIDE{i:012} - [0:0]\n"));
    }
    text.push_str("-A KUBE-SERVICES -d 10.96.9.9/32 -p tcp -m comment --comment \"big/wide:http cluster IP\" -m tcp --dport 80 -j KUBE-SVC-WIDEAAAAAAAAAAAA\n");
    for i in 0..n {
        text.push_str(&format!(
            "-A KUBE-SEP-WIDE{i:012} -s 10.244.{}.{}/32 -j KUBE-MARK-MASQ\n-A KUBE-SEP-WIDE{i:012} -p tcp -m tcp -j DNAT --to-destination 10.244.{}.{}:8080\n",
            i / 250,
            i % 250 + 1,
            i / 250,
            i % 250 + 1
        ));
    }
    for i in 0..n {
        let probability = if i + 1 < n {
            format!(
                "-m statistic --mode random --probability {:.10} ",
                1.0 / (n - i) as f64
            )
        } else {
            String::new()
        };
        text.push_str(&format!(
            "-A KUBE-SVC-WIDEAAAAAAAAAAAA -m comment --comment \"big/wide:http -> 10.244.{}.{}:8080\" {probability}-j KUBE-SEP-WIDE{i:012}\n",
            i / 250,
            i % 250 + 1
        ));
    }
    text.push_str(
        ":KUBE-MARK-MASQ - [0:0]\n-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000\nCOMMIT\n",
    );
    // Declarations must come before the rules that use them.
    let (declarations, rules): (Vec<&str>, Vec<&str>) = text
        .lines()
        .partition(|line| line.starts_with(':') || line.starts_with('*'));
    let rules: Vec<&str> = rules.into_iter().filter(|l| *l != "COMMIT").collect();
    format!(
        "{}\n{}\nCOMMIT\n",
        declarations.join("\n"),
        rules.join("\n")
    )
}

#[test]
fn a_hundred_endpoints_stay_readable() {
    let output = iptlint()
        .args(["explain", "big/wide:http"])
        .write_stdin(service_of(100))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let endpoint_lines: Vec<&str> = stdout
        .lines()
        .filter(|line| line.contains("(DNAT)"))
        .collect();
    assert_eq!(endpoint_lines.len(), 100);
    for line in &endpoint_lines {
        let columns: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(columns[1], "1.00%", "{line}");
        let probability: f64 = columns[2].parse().unwrap();
        assert!((probability - 0.01).abs() < 1e-9, "{line}");
        assert!(line.chars().count() < 160, "{line}");
    }
    assert!(
        stdout
            .contains("Verdict: uniform: each of the 100 endpoints gets 1.00% (1/100) within 1e-9")
    );
    insta::assert_snapshot!("explain_hundred", stdout);
}

/// `explain`'s lookup and analysis of one service among ten thousand (its
/// speed is measured by the `explain` criterion benchmark, not here).
#[test]
fn explaining_one_service_of_ten_thousand_finds_its_endpoints() {
    let generated = iptlint::generate::generate(&iptlint::generate::GenConfig {
        services: 10_000,
        zero_endpoint_fraction: 0.0,
        ..Default::default()
    });
    let parsed = build(&generated.text);
    let wanted = &generated.services[generated.services.len() / 2];
    let found = sketches(&parsed.dump);
    let sketch = found.iter().find(|s| s.name == wanted.name).unwrap();
    let service = analyse(&generated.text, &parsed.dump, sketch);
    let quantisation = Quantisation::of(parsed.dump.table("nat").unwrap());
    let mut got: Vec<(String, f64)> = service
        .endpoints
        .iter()
        .map(|e| (e.destination_text(), e.probability))
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    let mut expected: Vec<(String, f64)> = wanted
        .endpoints
        .iter()
        .map(|e| (format!("{}:{}", e.ip, e.port), e.probability))
        .collect();
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got.len(), expected.len());
    for ((got_at, got_share), (want_at, want_share)) in got.iter().zip(&expected) {
        assert_eq!(got_at, want_at);
        assert!(
            (got_share - want_share).abs() < 1e-9,
            "{got_at}: {got_share} vs {want_share}"
        );
    }
    assert!(service.spread(quantisation.tolerance).unwrap().uniform);
}

#[test]
fn corpus_kubernetes_dumps() {
    let Some(dir) = support::corpus_dir() else {
        support::skip("corpus_kubernetes_dumps", "../shared/corpus is absent");
        return;
    };
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    // kube-proxy v1.28, and the same dump after a kernel round trip.
    for name in [
        "kubernetes__overall-iptables-rules-v1.28.rules",
        "derived__overall-iptables-rules-v1.28.resaved-by-iptables-nft-1.8.9.rules",
    ] {
        let found = analysed(&read(name));
        let summary: Vec<(&str, usize)> = found
            .iter()
            .map(|s| (s.name.as_str(), s.endpoints.len()))
            .collect();
        assert_eq!(
            summary,
            [
                ("ns1/svc1:p80", 1),
                ("ns2/svc2:p80", 1),
                ("ns3/svc3:p80", 1),
                ("ns4/svc4:p80", 2),
                ("ns5/svc5:p80", 1)
            ],
            "{name}"
        );
        assert_close(&shares(&found[3]), &[0.5, 0.5], 0.0);
        // ns2 has externalTrafficPolicy Local and no local endpoint: from
        // outside, its external IP leads nowhere; pods and the node itself
        // reach the cluster chain.
        let external = &found[1].entries[1];
        assert_eq!(external.kind, EntryKind::ExternalIp);
        let reaching: Vec<f64> = external
            .cases
            .iter()
            .map(|case| case.distribution.dnat_total())
            .collect();
        assert_eq!(reaching, [1.0, 1.0, 0.0], "{name}");
    }
    // The first iptables proxier (2015): portals, and endpoint chains
    // named KUBE-SVC-* as well.
    let found = analysed(&read("kubernetes__userspace-era-node-2015.rules"));
    let names: Vec<&str> = found.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "default/kubernetes:",
            "kube-system/kube-dns:dns",
            "kube-system/kube-dns:dns-tcp"
        ]
    );
    assert!(
        found
            .iter()
            .all(|s| s.endpoints.len() == 1 && s.entries.len() == 2)
    );
    // No dump the kernel accepts gets a load-balancing warning.
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rules") {
            continue;
        }
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        let report = iptlint::lint::check_source(
            iptlint::source::SourceFile::new(path.display().to_string(), text),
            &iptlint::lint::Settings::default(),
        );
        let ours: Vec<&str> = report
            .diagnostics
            .iter()
            .filter(|d| {
                ["non-uniform-spread", "probability-leak", "counter-skew"].contains(&d.info.name)
            })
            .map(|d| d.message.as_str())
            .collect();
        assert!(ours.is_empty(), "{}: {ours:#?}", path.display());
    }
}
