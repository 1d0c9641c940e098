//! Checks of the generator against its own known answers.

use std::collections::{HashMap, HashSet};

use super::*;

const STYLES: [Style; 3] = [Style::Modern, Style::Legacy, Style::NoComments];

fn config(style: Style, seed: u64) -> GenConfig {
    GenConfig {
        seed,
        services: 60,
        style,
        ..GenConfig::default()
    }
}

/// Every feature at high density, to exercise their combinations.
fn busy_config(style: Style, seed: u64) -> GenConfig {
    GenConfig {
        udp_fraction: 0.3,
        multi_port_fraction: 0.5,
        nodeport_fraction: 0.3,
        external_ip_fraction: 0.3,
        load_balancer_fraction: 0.3,
        affinity_fraction: 0.3,
        local_policy_fraction: 0.6,
        zero_endpoint_fraction: 0.1,
        ..config(style, seed)
    }
}

/// Every defect kind, with parameters.
fn all_defects() -> Vec<Defect> {
    vec![
        Defect::UndefinedTarget,
        Defect::JumpCycle { reachable: true },
        Defect::JumpCycle { reachable: false },
        Defect::UnreferencedChain,
        Defect::UnreachableRule,
        Defect::ShadowedRule,
        Defect::MissingTerminal,
        Defect::InvalidTargetForTable,
        Defect::DuplicateRule,
        Defect::EmptyChain,
        Defect::NonUniformSpread { first_share: 0.7 },
        Defect::ProbabilityLeak { leaked: 0.05 },
        Defect::CounterSkew { factor: 3.0 },
    ]
}

/// A dump split into what the tests need: each line's table, chain
/// declarations and rules per chain.
struct Parsed<'a> {
    /// Table of each 1-based line (index 0 unused).
    table_of_line: Vec<&'a str>,
    /// (table, chain) -> declaration line.
    declared: HashMap<(&'a str, &'a str), usize>,
    /// (table, chain) -> rule lines, in order.
    rules: HashMap<(&'a str, &'a str), Vec<usize>>,
    lines: Vec<&'a str>,
}

impl<'a> Parsed<'a> {
    fn new(text: &'a str) -> Self {
        let mut parsed = Parsed {
            table_of_line: vec![""],
            declared: HashMap::new(),
            rules: HashMap::new(),
            lines: vec![""],
        };
        let mut table = "";
        for (index, line) in text.lines().enumerate() {
            let number = index + 1;
            if let Some(name) = line.strip_prefix('*') {
                table = name;
            } else if let Some(decl) = line.strip_prefix(':') {
                let chain = decl.split(' ').next().unwrap();
                parsed.declared.insert((table, chain), number);
            } else if let Some(rule) = rule_body(line) {
                let chain = rule.split(' ').nth(1).unwrap();
                parsed.rules.entry((table, chain)).or_default().push(number);
            }
            parsed.table_of_line.push(table);
            parsed.lines.push(line);
        }
        parsed
    }

    /// Jump targets (`-j X`) of all rules of a table.
    fn targets(&self, table: &str) -> Vec<(&'a str, usize)> {
        let mut targets = Vec::new();
        for (number, line) in self.lines.iter().enumerate() {
            if self.table_of_line[number] != table {
                continue;
            }
            if let Some(target) = line.split(" -j ").nth(1) {
                targets.push((target.split(' ').next().unwrap(), number));
            }
        }
        targets
    }
}

/// The rule text after an optional `[p:b] ` prefix, if the line is a rule.
fn rule_body(line: &str) -> Option<&str> {
    let line = match line.strip_prefix('[') {
        Some(rest) => rest.split_once("] ")?.1,
        None => line,
    };
    line.starts_with("-A ").then_some(line)
}

fn packets(line: &str) -> u64 {
    let inner = line.strip_prefix('[').unwrap().split(']').next().unwrap();
    inner.split(':').next().unwrap().parse().unwrap()
}

/// Targets that are extensions rather than chains.
const TARGET_EXTENSIONS: [&str; 7] = [
    "ACCEPT",
    "DROP",
    "RETURN",
    "REJECT",
    "DNAT",
    "MARK",
    "MASQUERADE",
];

/// Within a chain, a rule whose matches (comments aside) equal an earlier
/// rule's is a duplicate, or shadowed when the earlier rule ends the packet's
/// traversal (ACCEPT, DROP, REJECT, DNAT, or a service/endpoint chain).
fn assert_no_same_match_rules(parsed: &Parsed, what: &str) {
    for (&(table, chain), rules) in &parsed.rules {
        let mut seen: HashMap<String, &str> = HashMap::new();
        for &n in rules {
            let rule = rule_body(parsed.lines[n]).unwrap();
            let (matches, target) = rule.rsplit_once(" -j ").unwrap_or((rule, ""));
            // Drop the comment match: it does not change what the rule matches.
            let matches = match matches.split_once(" -m comment --comment \"") {
                Some((before, after)) => {
                    format!("{before}{}", after.split_once('"').unwrap().1)
                }
                None => matches.to_owned(),
            };
            if let Some(earlier) = seen.insert(matches.clone(), target) {
                let terminal = ["ACCEPT", "DROP", "REJECT", "DNAT"]
                    .iter()
                    .any(|t| earlier.split(' ').next() == Some(t))
                    || earlier.starts_with("KUBE-SVC-")
                    || earlier.starts_with("KUBE-SEP-");
                assert!(
                    !terminal && earlier != target,
                    "{what}: {table} {chain}: line {n} has the same matches as an earlier rule ({earlier})"
                );
            }
        }
    }
}

#[test]
fn same_seed_same_dump_other_seed_other_dump() {
    for style in STYLES {
        let mut cfg = config(style, 42);
        cfg.defects = all_defects();
        cfg.counters = Some(1000);
        let first = generate(&cfg);
        let second = generate(&cfg);
        assert_eq!(first.text, second.text);
        assert_eq!(
            format!("{:?}{:?}", first.services, first.defects),
            format!("{:?}{:?}", second.services, second.defects)
        );
        cfg.seed = 43;
        assert_ne!(generate(&cfg).text, first.text);
    }
}

#[test]
fn clean_dumps_are_structurally_sound() {
    for style in STYLES {
        for (seed, cfg) in (0..5)
            .flat_map(|seed| [config(style, seed), busy_config(style, seed)].map(|c| (seed, c)))
        {
            let generated = generate(&cfg);
            let parsed = Parsed::new(&generated.text);
            assert_eq!(parsed.lines.len() - 1, generated.line_count);
            for (table, chains) in [("filter", 6), ("nat", 4)] {
                // Every jump goes to a declared chain or a target extension.
                for (target, line) in parsed.targets(table) {
                    assert!(
                        TARGET_EXTENSIONS.contains(&target)
                            || parsed.declared.contains_key(&(table, target)),
                        "{style:?}/{seed}: line {line} jumps to undeclared {target}"
                    );
                }
                assert!(parsed.declared.keys().filter(|(t, _)| *t == table).count() >= chains);
            }
            // Every declared user chain is referenced, except the KUBE-MARK-DROP
            // helper legacy kubelet keeps.
            let referenced: HashSet<(&str, &str)> = ["filter", "nat"]
                .into_iter()
                .flat_map(|table| {
                    parsed
                        .targets(table)
                        .into_iter()
                        .map(move |(t, _)| (table, t))
                })
                .collect();
            for &(table, chain) in parsed.declared.keys() {
                let builtin = chain.chars().all(|c| c.is_ascii_uppercase()) && !chain.contains('-');
                if builtin || chain == "KUBE-MARK-DROP" {
                    continue;
                }
                assert!(
                    referenced.contains(&(table, chain)),
                    "{style:?}/{seed}: {table} {chain} is never jumped to"
                );
                assert!(chain.len() <= 28, "{chain} is too long");
            }
            assert_no_same_match_rules(&parsed, &format!("{style:?}/{seed}"));
            // The nodeports rule is the last rule of nat KUBE-SERVICES.
            let services = &parsed.rules[&("nat", "KUBE-SERVICES")];
            assert!(parsed.lines[*services.last().unwrap()].contains("-j KUBE-NODEPORTS"));
            assert!(generated.defects.is_empty());
        }
    }
}

#[test]
fn truth_lines_point_at_the_right_rules() {
    for style in STYLES {
        let generated = generate(&GenConfig {
            services: 120,
            ..config(style, 9)
        });
        let line = |n: usize| generated.line(n).unwrap();
        for service in &generated.services {
            let services_rule = line(service.services_rule_line);
            assert!(
                services_rule.starts_with(&format!(
                    "-A KUBE-SERVICES -d {}/32 -p {}",
                    service.cluster_ip,
                    service.protocol.as_str()
                )),
                "{services_rule}"
            );
            assert!(services_rule.contains(&format!("--dport {} ", service.port)));
            if service.endpoints.is_empty() {
                assert!(services_rule.ends_with("-j REJECT --reject-with icmp-port-unreachable"));
                assert_eq!(service.svc_chain_line, None);
                continue;
            }
            assert!(services_rule.ends_with(&format!("-j {}", service.svc_chain)));
            assert_eq!(
                line(service.svc_chain_line.unwrap()),
                format!(":{} - [0:0]", service.svc_chain)
            );
            for endpoint in &service.endpoints {
                let rule = line(endpoint.rule_line);
                assert!(
                    rule.starts_with(&format!("-A {} ", service.svc_chain)),
                    "{rule}"
                );
                assert!(
                    rule.ends_with(&format!("-j {}", endpoint.sep_chain)),
                    "{rule}"
                );
                let dnat = line(endpoint.dnat_line.unwrap());
                assert!(dnat.starts_with(&format!("-A {} -p ", endpoint.sep_chain)));
                assert!(dnat.ends_with(&format!(
                    "-j DNAT --to-destination {}:{}",
                    endpoint.ip, endpoint.port
                )));
            }
            if let Some(local) = &service.local_policy {
                if let Some(chain_line) = local.chain_line {
                    assert_eq!(line(chain_line), format!(":{} - [0:0]", local.chain));
                }
                for endpoint in &local.endpoints {
                    assert!(endpoint.local);
                    assert!(line(endpoint.rule_line).starts_with(&format!("-A {} ", local.chain)));
                    assert!(
                        line(endpoint.rule_line).ends_with(&format!("-j {}", endpoint.sep_chain))
                    );
                }
            }
        }
    }
}

#[test]
fn clean_shares_sum_to_one() {
    for style in STYLES {
        for canonical_probabilities in [false, true] {
            let generated = generate(&GenConfig {
                services: 300,
                endpoints: 1..=40,
                canonical_probabilities,
                ..config(style, 5)
            });
            for service in generated
                .services
                .iter()
                .filter(|s| !s.endpoints.is_empty())
            {
                let sum: f64 = service.endpoints.iter().map(|e| e.probability).sum();
                assert!((sum - 1.0).abs() < 1e-12, "{}: {sum}", service.name);
                assert_eq!(service.fallthrough, 0.0);
                if let Some(local) = service
                    .local_policy
                    .as_ref()
                    .filter(|l| !l.endpoints.is_empty())
                {
                    let sum: f64 = local.endpoints.iter().map(|e| e.probability).sum();
                    assert!((sum - 1.0).abs() < 1e-12, "{}: {sum}", local.chain);
                }
            }
        }
    }
}

#[test]
fn legacy_five_digit_probabilities_stay_within_1e5_of_uniform() {
    let generated = generate(&GenConfig {
        services: 400,
        ..config(Style::Legacy, 11)
    });
    let mut checked = 0;
    for service in &generated.services {
        let n = service.endpoints.len() as f64;
        for endpoint in &service.endpoints {
            assert!(
                (endpoint.probability - 1.0 / n).abs() < 1e-5,
                "{}: {} vs 1/{n}",
                service.name,
                endpoint.probability
            );
            checked += 1;
        }
        // The written values really have five decimals.
        if service.endpoints.len() > 1 {
            let first = generated.line(service.endpoints[0].rule_line).unwrap();
            let written = first
                .split("--probability ")
                .nth(1)
                .unwrap()
                .split(' ')
                .next()
                .unwrap();
            assert_eq!(written.len(), 7, "{written}");
        }
    }
    assert!(checked > 1000);
}

#[test]
fn modern_shares_match_kube_proxy_test_expectations() {
    // 3 endpoints: 0.3333333333 / 0.5000000000 / unconditional, as in
    // kubernetes__itp-cluster-3eps-v1.28.rules; the kernel turns these into
    // 0.33333333349 and 0.5 exactly.
    let mut texts = probability::ProbabilityTexts::kube_proxy(10);
    let (shares, fallthrough) = texts.spread(3, None).shares();
    let q0 = 715_827_883.0 / 2_147_483_648.0;
    assert_eq!(shares, vec![q0, (1.0 - q0) * 0.5, (1.0 - q0) * 0.5]);
    assert_eq!(fallthrough, 0.0);
}

#[test]
fn no_comment_style_drops_only_endpoint_comments() {
    let generated = generate(&config(Style::NoComments, 3));
    let parsed = Parsed::new(&generated.text);
    for (&(table, chain), rules) in &parsed.rules {
        if table == "nat" && (chain.starts_with("KUBE-SEP-") || chain.starts_with("KUBE-SVC-")) {
            for &n in rules {
                let rule = parsed.lines[n];
                // Only the cluster-IP masquerade rule keeps its comment.
                assert!(
                    !rule.contains("-m comment")
                        || rule.ends_with("-j KUBE-MARK-MASQ") && rule.contains("cluster IP"),
                    "{rule}"
                );
            }
        }
    }
    assert!(generated.text.contains("cluster IP\" -m tcp"));
}

/// How closely a requested share is met: legacy style writes probabilities
/// with five decimals, so the exact truth differs from the request by up to
/// about 1e-5.
const REQUESTED: f64 = 2e-5;

/// Checks that a defect's line holds the text the defect is about.
fn check_defect_line(
    generated: &Generated,
    parsed: &Parsed,
    defect: &InjectedDefect,
    clean: &Generated,
) {
    let line = parsed.lines[defect.line];
    let what = format!("{:?} at line {}: {line}", defect.defect, defect.line);
    assert_eq!(parsed.table_of_line[defect.line], defect.table, "{what}");
    let service = generated.service(&defect.service).unwrap();
    let rule = rule_body(line);
    if let Some(rule) = rule {
        assert!(rule.starts_with(&format!("-A {} ", defect.chain)), "{what}");
    } else {
        assert_eq!(line, format!(":{} - [0:0]", defect.chain), "{what}");
    }
    let table = defect.table.as_str();
    let chain = defect.chain.as_str();
    let jumps_to = |target: &str| {
        parsed
            .targets(table)
            .into_iter()
            .filter(|&(t, _)| t == target)
            .map(|(_, n)| n)
            .collect::<Vec<_>>()
    };
    let rules_of = |chain: &str| {
        parsed
            .rules
            .get(&(table, chain))
            .cloned()
            .unwrap_or_default()
    };
    match defect.defect {
        Defect::UndefinedTarget => {
            let target = line.rsplit("-j ").next().unwrap();
            assert_eq!(target, service.endpoints[0].sep_chain, "{what}");
            assert!(!parsed.declared.contains_key(&(table, target)), "{what}");
        }
        Defect::JumpCycle { reachable } => {
            let target = line.rsplit("-j ").next().unwrap();
            // The other half of the cycle jumps back to this chain.
            assert!(
                rules_of(target)
                    .iter()
                    .any(|&n| parsed.lines[n].ends_with(&format!("-j {chain}"))),
                "{what}"
            );
            assert_eq!(target == service.svc_chain, reachable, "{what}");
            if !reachable {
                assert_eq!(jumps_to(target).len(), 1, "{what}");
                assert_eq!(jumps_to(chain).len(), 1, "{what}");
            }
        }
        Defect::UnreferencedChain | Defect::MissingTerminal | Defect::EmptyChain => {
            let rules = rules_of(chain);
            let has_dnat = rules.iter().any(|&n| parsed.lines[n].contains("-j DNAT"));
            match defect.defect {
                Defect::UnreferencedChain => {
                    assert!(jumps_to(chain).is_empty() && has_dnat, "{what}")
                }
                Defect::MissingTerminal => {
                    assert!(!has_dnat && !rules.is_empty(), "{what}");
                    assert_eq!(service.endpoints[0].sep_chain, chain);
                    assert_eq!(service.endpoints[0].dnat_line, None);
                }
                _ => assert!(rules.is_empty() && !jumps_to(chain).is_empty(), "{what}"),
            }
        }
        Defect::UnreachableRule => {
            let rules = rules_of(chain);
            let position = rules.iter().position(|&n| n == defect.line).unwrap();
            let previous = parsed.lines[rules[position - 1]];
            assert!(
                !previous.contains("-m statistic") && !previous.contains("-m recent"),
                "{what}"
            );
            assert_eq!(
                rules[position - 1],
                service.endpoints.last().unwrap().rule_line
            );
        }
        Defect::ShadowedRule => {
            assert_eq!(defect.line, service.services_rule_line, "{what}");
            let key = format!(
                "-d {}/32 -p {}",
                service.cluster_ip,
                service.protocol.as_str()
            );
            let port = format!("--dport {} ", service.port);
            let rules = rules_of(chain);
            let position = rules.iter().position(|&n| n == defect.line).unwrap();
            assert!(
                rules[..position].iter().any(|&n| {
                    let earlier = parsed.lines[n];
                    earlier.contains(&key)
                        && earlier.contains(&port)
                        && earlier.contains("-j KUBE-SVC-")
                        && !earlier.ends_with(&service.svc_chain)
                        // The partner speaks the same protocol, so its
                        // endpoints DNAT these packets and none come back.
                        && generated.services.iter().any(|partner| {
                            earlier.ends_with(&partner.svc_chain)
                                && partner.protocol == service.protocol
                        })
                }),
                "{what}"
            );
        }
        Defect::InvalidTargetForTable => {
            assert_eq!(table, "filter");
            assert!(line.contains("-j DNAT --to-destination"), "{what}");
        }
        Defect::DuplicateRule => {
            assert_eq!(rule, rule_body(parsed.lines[defect.line - 1]), "{what}");
        }
        Defect::NonUniformSpread { first_share } => {
            assert_eq!(defect.line, service.endpoints[0].rule_line, "{what}");
            assert!(line.contains("--probability 0.7"), "{what}");
            assert!((service.endpoints[0].probability - first_share).abs() < REQUESTED);
            let rest = (1.0 - first_share) / (service.endpoints.len() - 1) as f64;
            for endpoint in &service.endpoints[1..] {
                assert!((endpoint.probability - rest).abs() < REQUESTED, "{what}");
            }
        }
        Defect::ProbabilityLeak { leaked } => {
            assert_eq!(defect.line, service.endpoints.last().unwrap().rule_line);
            assert!(line.contains("--probability"), "{what}");
            assert_eq!(*rules_of(chain).last().unwrap(), defect.line, "{what}");
            assert!(
                (service.fallthrough - leaked).abs() < REQUESTED,
                "{}",
                service.fallthrough
            );
            let sum: f64 = service.endpoints.iter().map(|e| e.probability).sum();
            assert!((sum + service.fallthrough - 1.0).abs() < 1e-12);
        }
        Defect::CounterSkew { factor } => {
            assert_eq!(defect.line, service.endpoints[0].rule_line, "{what}");
            let observed: Vec<u64> = service
                .endpoints
                .iter()
                .map(|e| e.observed.unwrap())
                .collect();
            assert_eq!(packets(line), observed[0], "{what}");
            let unskewed = clean_observed(clean, &service.name);
            assert_eq!(observed.iter().sum::<u64>(), unskewed.iter().sum::<u64>());
            assert_eq!(observed[0], (unskewed[0] as f64 * factor).round() as u64);
        }
    }
}

fn clean_observed(clean: &Generated, name: &str) -> Vec<u64> {
    let service = clean.service(name).unwrap();
    service
        .endpoints
        .iter()
        .map(|e| e.observed.unwrap())
        .collect()
}

#[test]
fn defect_lines_point_at_the_right_text() {
    for style in STYLES {
        for base in [1, 2, 3]
            .map(|seed| config(style, seed))
            .into_iter()
            .chain([busy_config(style, 4)])
        {
            let mut cfg = GenConfig {
                counters: Some(2000),
                ..base
            };
            let clean = generate(&cfg);
            cfg.defects = all_defects();
            let generated = generate(&cfg);
            assert_eq!(generated.defects.len(), cfg.defects.len());
            let parsed = Parsed::new(&generated.text);
            for (defect, requested) in generated.defects.iter().zip(&cfg.defects) {
                assert_eq!(defect.defect, *requested);
                assert_eq!(defect.check, requested.check());
                check_defect_line(&generated, &parsed, defect, &clean);
            }
            // Defects land in distinct service ports.
            let services: HashSet<&str> = generated
                .defects
                .iter()
                .map(|d| d.service.as_str())
                .collect();
            assert_eq!(services.len(), generated.defects.len());
        }
    }
}

#[test]
fn defects_leave_other_services_alone() {
    let clean = generate(&config(Style::Modern, 4));
    let defective = generate(&GenConfig {
        defects: vec![Defect::MissingTerminal, Defect::ShadowedRule],
        ..config(Style::Modern, 4)
    });
    let touched: HashSet<&str> = defective
        .defects
        .iter()
        .map(|d| d.service.as_str())
        .collect();
    assert_eq!(clean.services.len(), defective.services.len());
    for (a, b) in clean.services.iter().zip(&defective.services) {
        assert_eq!(a.name, b.name);
        if !touched.contains(a.name.as_str()) {
            assert_eq!(
                format!(
                    "{:?}",
                    a.endpoints
                        .iter()
                        .map(|e| (&e.sep_chain, e.ip, e.probability))
                        .collect::<Vec<_>>()
                ),
                format!(
                    "{:?}",
                    b.endpoints
                        .iter()
                        .map(|e| (&e.sep_chain, e.ip, e.probability))
                        .collect::<Vec<_>>()
                )
            );
        }
    }
}

#[test]
fn counters_are_consistent_with_the_shares() {
    let connections = 200_000;
    let generated = generate(&GenConfig {
        counters: Some(connections),
        services: 40,
        ..config(Style::Modern, 8)
    });
    let line = |n: usize| generated.line(n).unwrap();
    let mut with_endpoints = 0;
    for service in &generated.services {
        if service.endpoints.is_empty() {
            assert_eq!(service.connections, None);
            continue;
        }
        with_endpoints += 1;
        assert_eq!(service.connections, Some(connections));
        assert_eq!(packets(line(service.services_rule_line)), connections);
        let observed: Vec<u64> = service
            .endpoints
            .iter()
            .map(|e| e.observed.unwrap())
            .collect();
        assert_eq!(
            observed.iter().sum::<u64>(),
            connections,
            "{}",
            service.name
        );
        for (endpoint, &count) in service.endpoints.iter().zip(&observed) {
            assert_eq!(packets(line(endpoint.rule_line)), count);
            assert_eq!(packets(line(endpoint.dnat_line.unwrap())), count);
            // Within 6 standard deviations of the exact share.
            let p = endpoint.probability;
            let sd = (connections as f64 * p * (1.0 - p)).sqrt();
            assert!(
                (count as f64 - connections as f64 * p).abs() <= 6.0 * sd + 1.0,
                "{}: {count} vs {p}",
                service.name
            );
        }
    }
    let total = with_endpoints * connections;
    assert!(generated.text.contains(":PREROUTING ACCEPT [0:0]"));
    assert!(
        generated
            .text
            .contains(&format!(":POSTROUTING ACCEPT [{total}:{}]", total * 60))
    );
    assert!(
        generated
            .text
            .contains(&format!(":FORWARD ACCEPT [{total}:{}]", total * 60))
    );
}

#[test]
fn leaked_and_unterminated_traffic_reaches_the_prerouting_policy() {
    let connections = 100_000u64;
    let generated = generate(&GenConfig {
        counters: Some(connections),
        defects: vec![Defect::ProbabilityLeak { leaked: 0.1 }],
        ..config(Style::Legacy, 2)
    });
    let leak = generated.service(&generated.defects[0].service).unwrap();
    let dnatted: u64 = leak.endpoints.iter().map(|e| e.observed.unwrap()).sum();
    let prerouting = generated
        .text
        .lines()
        .skip_while(|&l| l != "*nat")
        .nth(1)
        .unwrap();
    assert!(
        prerouting.starts_with(":PREROUTING ACCEPT ["),
        "{prerouting}"
    );
    assert_eq!(
        packets(&prerouting[":PREROUTING ACCEPT ".len()..]),
        connections - dnatted
    );
    let expected = connections as f64 * 0.1;
    assert!(((connections - dnatted) as f64 - expected).abs() < 6.0 * (expected * 0.9).sqrt());
}

#[test]
#[should_panic(expected = "CounterSkew needs GenConfig::counters")]
fn counter_skew_without_counters_is_refused() {
    generate(&GenConfig {
        defects: vec![Defect::CounterSkew { factor: 2.0 }],
        ..GenConfig::default()
    });
}

#[test]
fn defects_fit_even_when_no_service_has_endpoints() {
    let generated = generate(&GenConfig {
        services: 10,
        zero_endpoint_fraction: 1.0,
        defects: vec![
            Defect::NonUniformSpread { first_share: 0.6 },
            Defect::ShadowedRule,
        ],
        ..GenConfig::default()
    });
    assert_eq!(generated.defects.len(), 2);
    let spread = generated.service(&generated.defects[0].service).unwrap();
    assert!(spread.endpoints.len() >= 2);
}
