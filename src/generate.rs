//! A deterministic generator of kube-proxy-style `iptables-save` dumps whose
//! correct analysis is known in advance.
//!
//! [`generate`] plans a cluster (services, ports, endpoints, node ports,
//! external and load-balancer IPs) from a seed, writes the node's `filter` and
//! `nat` tables the way kube-proxy does and iptables-save prints them, injects
//! the requested [`Defect`]s, and returns the dump together with the known
//! answers: every service port's chains, endpoints and exact traffic shares,
//! and the line each injected defect should be reported at.
//!
//! The same [`GenConfig`] always produces the same bytes. Planning, defect
//! placement and simulated traffic draw from separate random streams, so
//! adding a defect or counters leaves the rest of the cluster unchanged, and
//! the cluster is the same in every [`Style`].
//!
//! ```
//! use iptlint::generate::{generate, Defect, GenConfig};
//!
//! let generated = generate(&GenConfig {
//!     services: 20,
//!     defects: vec![Defect::UnreachableRule],
//!     ..GenConfig::default()
//! });
//! let defect = &generated.defects[0];
//! assert_eq!(defect.check, "unreachable-rule");
//! assert!(generated.line(defect.line).unwrap().starts_with("-A KUBE-SVC-"));
//! ```
//!
//! A clean dump also contains what kube-proxy itself leaves behind: chains
//! that are jumped to but empty when nothing needs them (filter
//! KUBE-NODEPORTS, KUBE-EXTERNAL-SERVICES, KUBE-PROXY-FIREWALL, nat
//! KUBE-NODEPORTS) and, in legacy style, the KUBE-MARK-DROP helper.

mod assign;
mod base;
mod chain_name;
mod emit;
mod plan;
mod probability;
mod table;
mod traffic;

use std::net::Ipv4Addr;
use std::ops::RangeInclusive;

use fastrand::Rng;

use emit::{Anchor, Emitted, TableKind};
use table::TableLines;

/// Which kube-proxy generation the dump imitates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Style {
    /// kube-proxy >= 1.25 (v1.28 layout): `"ns/svc:port -> IP:PORT"` comments
    /// on service rules, `"ns/svc:port cluster IP"` in KUBE-SERVICES,
    /// probabilities written `%0.10f`, KUBE-EXT/KUBE-SVL/KUBE-FW chains and
    /// KUBE-PROXY-FIREWALL.
    #[default]
    Modern,
    /// kube-proxy ~1.16 (2019): plain `"ns/svc:port"` comments, probabilities
    /// written `%0.5f`, KUBE-XLB for local traffic policy, KUBE-MARK-DROP.
    Legacy,
    /// Modern, but KUBE-SVC/KUBE-SVL/KUBE-SEP rules carry no comments, as
    /// kube-proxy writes them above 1000 endpoints.
    NoComments,
}

/// A transport protocol of a service port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// TCP
    Tcp,
    /// UDP
    Udp,
}

impl Protocol {
    /// The lower-case name iptables and kube-proxy use (`tcp`, `udp`).
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// How serious a finding for an injected defect is expected to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeverityHint {
    /// The ruleset is broken: the kernel refuses it or traffic is lost.
    Error,
    /// The ruleset loads but does not do what kube-proxy intended.
    Warning,
    /// Harmless redundancy.
    Info,
}

/// A defect to inject into one service port (chosen by the seed). The names
/// of the variants' checks ([`Defect::check`]) are iptlint check names.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Defect {
    /// The service chain's first load-balancing rule jumps to a KUBE-SEP chain
    /// that is never declared (its declaration and rules are gone). The
    /// kernel refuses the dump.
    UndefinedTarget,
    /// `reachable: true`: the first endpoint's KUBE-SEP chain jumps back to its
    /// KUBE-SVC chain (the kernel refuses the dump). `reachable: false`: a
    /// stale KUBE-SVC/KUBE-SEP pair that nothing reaches jumps to each other
    /// (the kernel accepts it). Reported at the SEP -> SVC rule.
    JumpCycle {
        /// Whether a built-in chain reaches the cycle.
        reachable: bool,
    },
    /// A stale KUBE-SEP chain with a DNAT rule that nothing jumps to.
    /// Reported at its declaration.
    UnreferencedChain,
    /// An extra rule after the service chain's final unconditional jump.
    UnreachableRule,
    /// An earlier nat KUBE-SERVICES rule with the same cluster IP, protocol
    /// and port jumps to another service's chain. Reported at the shadowed
    /// (the service's own) rule.
    ShadowedRule,
    /// The first endpoint's KUBE-SEP chain lacks its DNAT rule, so its share
    /// of the traffic returns and continues down the service chain. Reported
    /// at the chain's declaration.
    MissingTerminal,
    /// A DNAT rule in filter KUBE-SERVICES; the kernel refuses the dump.
    InvalidTargetForTable,
    /// The first endpoint's hairpin (KUBE-MARK-MASQ) rule is written twice.
    /// Reported at the second copy.
    DuplicateRule,
    /// A declared chain without rules that the first endpoint's KUBE-SEP chain
    /// jumps to. Reported at its declaration.
    EmptyChain,
    /// The service chain's probabilities give endpoint 0 `first_share` of the
    /// traffic and split the rest evenly. Reported at endpoint 0's rule.
    NonUniformSpread {
        /// Endpoint 0's share, in (0, 1).
        first_share: f64,
    },
    /// The last rule of the service chain gets a `--probability`, so `leaked`
    /// of all traffic falls through. Reported at that rule.
    ProbabilityLeak {
        /// The fraction of the service's traffic that falls through.
        leaked: f64,
    },
    /// With counters: endpoint 0's observed count is multiplied by `factor`
    /// and the other endpoints' counts are scaled so the total stays.
    /// Reported at endpoint 0's rule.
    CounterSkew {
        /// Multiplier of endpoint 0's count.
        factor: f64,
    },
}

impl Defect {
    /// The iptlint check expected to report this defect.
    pub fn check(self) -> &'static str {
        match self {
            Defect::UndefinedTarget => "undefined-target",
            Defect::JumpCycle { .. } => "jump-cycle",
            Defect::UnreferencedChain => "unreferenced-chain",
            Defect::UnreachableRule => "unreachable-rule",
            Defect::ShadowedRule => "shadowed-rule",
            Defect::MissingTerminal => "missing-terminal",
            Defect::InvalidTargetForTable => "invalid-target-for-table",
            Defect::DuplicateRule => "duplicate-rule",
            Defect::EmptyChain => "empty-chain",
            Defect::NonUniformSpread { .. } => "non-uniform-spread",
            Defect::ProbabilityLeak { .. } => "probability-leak",
            Defect::CounterSkew { .. } => "counter-skew",
        }
    }

    /// The severity a finding for this defect is expected to have.
    pub fn severity_hint(self) -> SeverityHint {
        match self {
            Defect::UndefinedTarget
            | Defect::JumpCycle { reachable: true }
            | Defect::MissingTerminal
            | Defect::InvalidTargetForTable
            | Defect::ProbabilityLeak { .. } => SeverityHint::Error,
            Defect::JumpCycle { reachable: false }
            | Defect::UnreferencedChain
            | Defect::UnreachableRule
            | Defect::ShadowedRule
            | Defect::EmptyChain
            | Defect::NonUniformSpread { .. }
            | Defect::CounterSkew { .. } => SeverityHint::Warning,
            Defect::DuplicateRule => SeverityHint::Info,
        }
    }

    /// Whether the kernel refuses to load a dump containing this defect.
    pub fn refused_by_kernel(self) -> bool {
        matches!(
            self,
            Defect::UndefinedTarget
                | Defect::JumpCycle { reachable: true }
                | Defect::InvalidTargetForTable
        )
    }
}

/// What to generate. Fractions are probabilities per service, drawn
/// independently.
#[derive(Clone, Debug)]
pub struct GenConfig {
    /// Seed of every random choice; the same config gives the same dump.
    pub seed: u64,
    /// Number of Service objects. The first two are `default/kubernetes` and
    /// `kube-system/kube-dns` (3 ports); others have 1-3 ports.
    pub services: usize,
    /// Endpoints per service (pods behind it), drawn uniformly.
    pub endpoints: RangeInclusive<usize>,
    /// Fraction of service ports that are UDP.
    pub udp_fraction: f64,
    /// Fraction of services with 2 or 3 ports.
    pub multi_port_fraction: f64,
    /// Fraction of single-port services whose port is unnamed (`ns/svc`).
    pub unnamed_port_fraction: f64,
    /// Fraction of services of type NodePort.
    pub nodeport_fraction: f64,
    /// Fraction of services with external IPs.
    pub external_ip_fraction: f64,
    /// Fraction of services of type LoadBalancer with source ranges
    /// (KUBE-FW chains); they also get node ports.
    pub load_balancer_fraction: f64,
    /// Fraction of services with ClientIP session affinity.
    pub affinity_fraction: f64,
    /// Fraction of NodePort/LoadBalancer services with
    /// `externalTrafficPolicy: Local`; a third of their pods run on this node.
    pub local_policy_fraction: f64,
    /// Fraction of services without any endpoints.
    pub zero_endpoint_fraction: f64,
    /// Which kube-proxy generation to imitate.
    pub style: Style,
    /// When set, write `iptables-save -c` counters from that many simulated
    /// new connections per service port (see [`EndpointTruth::observed`]).
    pub counters: Option<u64>,
    /// Defects to inject, each into a different service port.
    pub defects: Vec<Defect>,
    /// Write `--probability` values as iptables-save prints them once the
    /// kernel holds the rules (`%.11f` of `round(P * 2^31) / 2^31`, e.g.
    /// `0.33333333349`) instead of as kube-proxy wrote them (`%0.10f` or
    /// `%0.5f` per [`Style`]). With it the dump is byte-for-byte what
    /// `iptables-save` prints after loading it.
    pub canonical_probabilities: bool,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            seed: 1,
            services: 50,
            endpoints: 1..=10,
            udp_fraction: 0.05,
            multi_port_fraction: 0.05,
            unnamed_port_fraction: 0.2,
            nodeport_fraction: 0.15,
            external_ip_fraction: 0.05,
            load_balancer_fraction: 0.05,
            affinity_fraction: 0.05,
            local_policy_fraction: 0.3,
            zero_endpoint_fraction: 0.03,
            style: Style::Modern,
            counters: None,
            defects: Vec::new(),
            canonical_probabilities: false,
        }
    }
}

/// A generated dump and its known answers.
#[derive(Clone, Debug)]
pub struct Generated {
    /// The dump, in iptables-save (or `iptables-save -c`) form.
    pub text: String,
    /// Number of lines in `text`.
    pub line_count: usize,
    /// Every service port, in the order kube-proxy wrote them.
    pub services: Vec<ServiceTruth>,
    /// The injected defects, in the order they were requested.
    pub defects: Vec<InjectedDefect>,
}

impl Generated {
    /// Line `number` (1-based) of the dump, without its newline.
    pub fn line(&self, number: usize) -> Option<&str> {
        self.text.lines().nth(number.checked_sub(1)?)
    }

    /// The service port named `name` (`ns/svc:port` or `ns/svc`).
    pub fn service(&self, name: &str) -> Option<&ServiceTruth> {
        self.services.iter().find(|s| s.name == name)
    }
}

/// What a service port is and what the dump does with its traffic.
#[derive(Clone, Debug)]
pub struct ServiceTruth {
    /// `ns/svc:port`, or `ns/svc` for an unnamed port.
    pub name: String,
    /// Namespace of the service.
    pub namespace: String,
    /// Name of the service.
    pub service: String,
    /// Name of the port; empty for an unnamed port.
    pub port_name: String,
    /// Protocol of the port.
    pub protocol: Protocol,
    /// The service's cluster IP.
    pub cluster_ip: Ipv4Addr,
    /// The service port.
    pub port: u16,
    /// The port on the endpoints.
    pub target_port: u16,
    /// KUBE-SVC chain name (declared only when there are endpoints).
    pub svc_chain: String,
    /// Line of the KUBE-SVC declaration, when declared.
    pub svc_chain_line: Option<usize>,
    /// Line of the cluster-IP rule: the nat KUBE-SERVICES jump, or the filter
    /// KUBE-SERVICES REJECT when there are no endpoints.
    pub services_rule_line: usize,
    /// The node port, if any.
    pub nodeport: Option<u16>,
    /// The health-check node port of a LoadBalancer with local traffic policy
    /// (only written in the modern styles).
    pub health_check_nodeport: Option<u16>,
    /// External IPs.
    pub external_ips: Vec<Ipv4Addr>,
    /// The load balancer, if any.
    pub load_balancer: Option<LoadBalancerTruth>,
    /// KUBE-EXT chain (modern styles, externally reachable, with endpoints).
    pub external_chain: Option<String>,
    /// KUBE-FW chain (load balancer with source ranges, with endpoints).
    pub firewall_chain: Option<String>,
    /// ClientIP session affinity (`-m recent` rules).
    pub affinity: bool,
    /// The local-traffic-policy chain, for externalTrafficPolicy Local.
    pub local_policy: Option<LocalPolicyTruth>,
    /// The endpoints in KUBE-SVC order, with their exact shares.
    pub endpoints: Vec<EndpointTruth>,
    /// Exact fraction of new connections entering KUBE-SVC that match no
    /// load-balancing rule, `prod (1 - q_j)`: 0 for a clean service (the
    /// last rule always matches), positive with a ProbabilityLeak defect, 0
    /// when there are no endpoints (and no KUBE-SVC chain). A MissingTerminal
    /// endpoint's share is counted as matched here, although its packets
    /// return from the SEP chain and continue down KUBE-SVC.
    pub fallthrough: f64,
    /// With counters: the simulated new connections sent to the cluster IP
    /// (None without endpoints). They all reach KUBE-SVC unless a
    /// ShadowedRule diverts them to another service's chain.
    pub connections: Option<u64>,
}

/// A service's load balancer.
#[derive(Clone, Debug)]
pub struct LoadBalancerTruth {
    /// The load-balancer IP.
    pub ip: Ipv4Addr,
    /// `loadBalancerSourceRanges`, as `a.b.c.d/len`.
    pub source_ranges: Vec<String>,
}

/// The chain choosing among this node's endpoints (externalTrafficPolicy
/// Local): KUBE-SVL in modern styles, KUBE-XLB in legacy.
#[derive(Clone, Debug)]
pub struct LocalPolicyTruth {
    /// Chain name.
    pub chain: String,
    /// Line of its declaration; None when modern kube-proxy skips the chain
    /// because the node has no local endpoint.
    pub chain_line: Option<usize>,
    /// The local endpoints, with their shares within this chain.
    pub endpoints: Vec<EndpointTruth>,
    /// Fraction that falls through the chain: 0 with local endpoints, 1
    /// without.
    pub fallthrough: f64,
}

/// One endpoint of a service port.
#[derive(Clone, Debug)]
pub struct EndpointTruth {
    /// KUBE-SEP chain name.
    pub sep_chain: String,
    /// Endpoint address.
    pub ip: Ipv4Addr,
    /// Endpoint port.
    pub port: u16,
    /// Exact share of the chain's new connections that jump to this endpoint:
    /// `q_i * prod_{j<i} (1 - q_j)` with `q = round(P * 2^31) / 2^31` of the
    /// written probability `P` (1 for the unconditional last rule), as the
    /// kernel computes it. Session affinity is not modelled (fresh clients).
    pub probability: f64,
    /// Line of the load-balancing rule that jumps to the endpoint.
    pub rule_line: usize,
    /// Line of the endpoint's DNAT rule; None when a defect removed it
    /// (MissingTerminal, UndefinedTarget).
    pub dnat_line: Option<usize>,
    /// Whether the pod runs on this node.
    pub local: bool,
    /// With counters: the packet count written on the load-balancing rule
    /// (and on the DNAT rule). Sampled with the quantised probabilities, so
    /// it is consistent with `probability`, unless a CounterSkew defect
    /// altered it. In [`LocalPolicyTruth`] it is 0: only cluster-IP traffic
    /// is simulated.
    pub observed: Option<u64>,
}

/// A defect that was injected and where it should be reported.
#[derive(Clone, Debug)]
pub struct InjectedDefect {
    /// The defect as requested.
    pub defect: Defect,
    /// iptlint check name, e.g. `"jump-cycle"`.
    pub check: &'static str,
    /// Table of the finding (`"filter"` or `"nat"`).
    pub table: String,
    /// Chain the finding is about.
    pub chain: String,
    /// 1-based line of the rule or chain declaration the finding should
    /// point at.
    pub line: usize,
    /// Expected severity.
    pub severity_hint: SeverityHint,
    /// The service port the defect was injected into.
    pub service: String,
    /// A human-readable description.
    pub detail: String,
}

/// The date written in the header and footer comments; fixed, so that output
/// depends only on the config.
const SAVE_DATE: &str = "Mon Jan  5 10:00:00 2026";

/// Seed offsets of the independent random streams.
const DEFECT_STREAM: u64 = 0x9e37_79b9_7f4a_7c15;
const TRAFFIC_STREAM: u64 = 0xc2b2_ae3d_27d4_eb4f;

/// Generates a dump and its known answers.
///
/// # Panics
/// If `config.endpoints` is empty, if there are fewer service ports than
/// defects, if a ShadowedRule finds no second service port of the same
/// protocol with endpoints,
/// if CounterSkew is requested without counters, or if the address ranges
/// run out (beyond about 300,000 services).
pub fn generate(config: &GenConfig) -> Generated {
    assert!(
        !config.endpoints.is_empty(),
        "GenConfig::endpoints is an empty range"
    );
    assert!(
        config.counters.is_some()
            || !config
                .defects
                .iter()
                .any(|d| matches!(d, Defect::CounterSkew { .. })),
        "CounterSkew needs GenConfig::counters"
    );

    let mut plan_rng = Rng::with_seed(config.seed);
    let (mut plans, mut alloc) = plan::plan(config, &mut plan_rng);
    let mut defect_rng = Rng::with_seed(config.seed ^ DEFECT_STREAM);
    let assignments = assign::assign(&config.defects, &mut plans, &mut alloc, &mut defect_rng);

    let mut emitted = emit::emit(
        config.style,
        config.canonical_probabilities,
        &plans,
        &assignments,
    );
    let observed = config.counters.map(|connections| {
        traffic::simulate(
            &mut emitted,
            &assignments,
            connections,
            config.seed ^ TRAFFIC_STREAM,
        )
    });

    let saved_by = match config.style {
        Style::Legacy => "iptables-save v1.8.9",
        Style::Modern | Style::NoComments => "iptables-save v1.8.9 (nf_tables)",
    };
    let mut text =
        String::with_capacity(emitted.filter.estimated_len() + emitted.nat.estimated_len());
    let mut line = 0u32;
    let with_counters = config.counters.is_some();
    let filter_lines =
        emitted
            .filter
            .write(&mut text, &mut line, saved_by, SAVE_DATE, with_counters);
    let nat_lines = emitted
        .nat
        .write(&mut text, &mut line, saved_by, SAVE_DATE, with_counters);
    let lines = Lines {
        filter: filter_lines,
        nat: nat_lines,
    };

    let services = plans
        .iter()
        .enumerate()
        .map(|(index, plan)| {
            let observed = observed.as_ref().map(|o| o.per_port[index].as_slice());
            service_truth(plan, &emitted, index, &lines, observed, config.counters)
        })
        .collect();
    let defects = emitted
        .defects
        .iter()
        .map(|record| InjectedDefect {
            defect: record.defect,
            check: record.defect.check(),
            table: anchor_table(record.anchor).name().to_owned(),
            chain: record.chain.clone(),
            line: lines.resolve(record.anchor),
            severity_hint: record.defect.severity_hint(),
            service: plans[record.port].name.clone(),
            detail: record.detail.clone(),
        })
        .collect();

    Generated {
        text,
        line_count: line as usize,
        services,
        defects,
    }
}

/// Line positions of both tables.
struct Lines {
    filter: TableLines,
    nat: TableLines,
}

impl Lines {
    fn table(&self, kind: TableKind) -> &TableLines {
        match kind {
            TableKind::Filter => &self.filter,
            TableKind::Nat => &self.nat,
        }
    }

    fn resolve(&self, anchor: Anchor) -> usize {
        match anchor {
            Anchor::Rule(kind, rule) => self.table(kind).rule(rule),
            Anchor::Chain(kind, chain) => self.table(kind).chain(chain),
        }
    }
}

fn anchor_table(anchor: Anchor) -> TableKind {
    match anchor {
        Anchor::Rule(kind, _) | Anchor::Chain(kind, _) => kind,
    }
}

fn service_truth(
    plan: &plan::PortPlan,
    emitted: &Emitted,
    index: usize,
    lines: &Lines,
    observed: Option<&[u64]>,
    connections: Option<u64>,
) -> ServiceTruth {
    let record = &emitted.ports[index];
    let nat = &lines.nat;
    let (shares, fallthrough) = record.spread.shares();
    let endpoints = record
        .endpoints
        .iter()
        .enumerate()
        .map(|(i, endpoint)| {
            let ep = &plan.endpoints[i];
            EndpointTruth {
                sep_chain: endpoint.sep_chain.clone(),
                ip: ep.ip,
                port: ep.port,
                probability: shares[i],
                rule_line: nat.rule(endpoint.lb_rule),
                dnat_line: endpoint.dnat_rule.map(|rule| nat.rule(rule)),
                local: ep.local,
                observed: observed.map(|counts| counts[i]),
            }
        })
        .collect::<Vec<_>>();
    let local_policy = record.local.as_ref().map(|local| {
        let (shares, fallthrough) = local.spread.shares();
        LocalPolicyTruth {
            chain: local.chain.clone(),
            chain_line: local.declared.map(|chain| nat.chain(chain)),
            endpoints: local
                .members
                .iter()
                .zip(&local.lb_rules)
                .zip(shares)
                .map(|((&member, &rule), share)| EndpointTruth {
                    probability: share,
                    rule_line: nat.rule(rule),
                    // Simulated traffic only uses the cluster IP.
                    observed: observed.map(|_| 0),
                    ..endpoints[member].clone()
                })
                .collect(),
            fallthrough: if local.members.is_empty() {
                1.0
            } else {
                fallthrough
            },
        }
    });
    ServiceTruth {
        name: plan.name.clone(),
        namespace: plan.namespace.clone(),
        service: plan.service.clone(),
        port_name: plan.port_name.clone(),
        protocol: plan.protocol,
        cluster_ip: plan.cluster_ip,
        port: plan.port,
        target_port: plan.target_port,
        svc_chain: record.svc_chain.clone(),
        svc_chain_line: record.svc_declared.map(|chain| nat.chain(chain)),
        services_rule_line: lines.resolve(record.services_rule),
        nodeport: plan.nodeport,
        health_check_nodeport: plan.health_check_nodeport,
        external_ips: plan.external_ips.clone(),
        load_balancer: plan.load_balancer.as_ref().map(|lb| LoadBalancerTruth {
            ip: lb.ip,
            source_ranges: lb.source_ranges.iter().map(ToString::to_string).collect(),
        }),
        external_chain: record.ext_chain.clone(),
        firewall_chain: record.fw_chain.clone(),
        affinity: plan.affinity,
        local_policy,
        fallthrough: if record.endpoints.is_empty() {
            0.0
        } else {
            fallthrough
        },
        endpoints,
        connections: connections.filter(|_| !record.endpoints.is_empty()),
    }
}

#[cfg(test)]
mod tests;
