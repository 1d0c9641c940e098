//! Writes the planned services as kube-proxy would, into filter and nat
//! tables, injecting the assigned defects and remembering which rules and
//! chains the known answers refer to.

use std::net::Ipv4Addr;

use super::assign::Assignment;
use super::base::{
    BaseRecord, CLUSTER_CIDR, KubeChains, LOOPBACK, MARK_DROP, MARK_MASQ, write_legacy_base,
    write_modern_base,
};
use super::chain_name::chain_name;
use super::plan::PortPlan;
use super::probability::{ProbabilityTexts, Spread};
use super::table::{ChainId, Cidr, RuleId, RuleText, Table};
use super::{Defect, Protocol, Style};

/// kube-proxy's default ClientIP affinity timeout (3 hours).
const AFFINITY_SECONDS: u32 = 10800;
const NODEPORTS_COMMENT: &str = " -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\"";
const REJECT: &str = " -j REJECT --reject-with icmp-port-unreachable";

/// Which table a rule or chain lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TableKind {
    Filter,
    Nat,
}

impl TableKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            TableKind::Filter => "filter",
            TableKind::Nat => "nat",
        }
    }
}

/// What a known answer points at, resolved to a line once the dump is written.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Anchor {
    Rule(TableKind, RuleId),
    Chain(TableKind, ChainId),
}

/// One endpoint as written.
pub(crate) struct EndpointRecord {
    pub(crate) sep_chain: String,
    /// The endpoint's load-balancing rule in the cluster-policy chain.
    pub(crate) lb_rule: RuleId,
    pub(crate) dnat_rule: Option<RuleId>,
    /// Whether a packet entering the SEP chain is DNATed (and so leaves the
    /// service chain); false when the DNAT rule was removed.
    pub(crate) terminates: bool,
}

/// The local-policy chain (KUBE-SVL or KUBE-XLB) as written.
pub(crate) struct LocalRecord {
    pub(crate) chain: String,
    pub(crate) declared: Option<ChainId>,
    /// Indices into the port's endpoints.
    pub(crate) members: Vec<usize>,
    pub(crate) lb_rules: Vec<RuleId>,
    pub(crate) spread: Spread,
}

/// One service port as written.
pub(crate) struct PortRecord {
    pub(crate) svc_chain: String,
    pub(crate) svc_declared: Option<ChainId>,
    pub(crate) ext_chain: Option<String>,
    pub(crate) fw_chain: Option<String>,
    pub(crate) endpoints: Vec<EndpointRecord>,
    pub(crate) spread: Spread,
    pub(crate) local: Option<LocalRecord>,
    /// nat KUBE-SERVICES jump for the cluster IP, or the filter REJECT when the
    /// port has no endpoints.
    pub(crate) services_rule: Anchor,
    /// nat KUBE-SERVICES rule a ShadowedRule defect placed before
    /// `services_rule`, and the port whose chain it jumps to.
    pub(crate) shadowing: Option<(RuleId, usize)>,
    /// filter KUBE-SERVICES DNAT rule of an InvalidTargetForTable defect.
    pub(crate) filter_dnat_rule: Option<RuleId>,
}

/// An injected defect, before its anchor is resolved to a line.
pub(crate) struct DefectRecord {
    pub(crate) defect: Defect,
    pub(crate) chain: String,
    pub(crate) anchor: Anchor,
    pub(crate) port: usize,
    pub(crate) detail: String,
}

/// Everything written, ready for counters and layout.
pub(crate) struct Emitted {
    pub(crate) filter: Table,
    pub(crate) nat: Table,
    pub(crate) ports: Vec<PortRecord>,
    pub(crate) defects: Vec<DefectRecord>,
    pub(crate) base: BaseRecord,
}

/// How the rules of a load-balancing chain are commented.
#[derive(Clone, Copy, PartialEq, Eq)]
enum LbComment {
    None,
    /// `"ns/svc:port"` (legacy KUBE-SVC)
    Name,
    /// `"ns/svc:port -> IP:PORT"` (modern)
    Arrow,
    /// `"Balancing rule I for ns/svc:port"` (legacy KUBE-XLB)
    Balancing,
}

struct Emitter<'a> {
    style: Style,
    /// Whether KUBE-SVC/KUBE-SEP rules carry comments.
    endpoint_comments: bool,
    texts: ProbabilityTexts,
    filter: Table,
    nat: Table,
    chains: KubeChains,
    plans: &'a [PortPlan],
    records: Vec<PortRecord>,
    defects: Vec<DefectRecord>,
}

/// Writes all service ports in `plans` with the defects in `assignments`.
/// `canonical_probabilities` writes `--probability` as iptables-save prints
/// it back from the kernel instead of as kube-proxy wrote it.
pub(crate) fn emit(
    style: Style,
    canonical_probabilities: bool,
    plans: &[PortPlan],
    assignments: &[Assignment],
) -> Emitted {
    let mut filter = Table::new("filter", &["INPUT", "FORWARD", "OUTPUT"]);
    let mut nat = Table::new("nat", &["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"]);
    // About 2.5 nat rules per endpoint plus 3 per port.
    let endpoints: usize = plans.iter().map(|p| p.endpoints.len()).sum();
    nat.reserve(endpoints * 5 / 2 + plans.len() * 3 + 16);
    filter.reserve(plans.len() / 8 + 16);

    let (base, chains) = match style {
        Style::Legacy => write_legacy_base(&mut filter, &mut nat),
        Style::Modern | Style::NoComments => write_modern_base(&mut filter, &mut nat),
    };
    let mut emitter = Emitter {
        style,
        endpoint_comments: style != Style::NoComments,
        texts: if canonical_probabilities {
            ProbabilityTexts::as_saved()
        } else {
            ProbabilityTexts::kube_proxy(if style == Style::Legacy { 5 } else { 10 })
        },
        filter,
        nat,
        chains,
        plans,
        records: Vec::with_capacity(plans.len()),
        defects: Vec::with_capacity(assignments.len()),
    };

    let mut by_port: Vec<Option<&Assignment>> = vec![None; plans.len()];
    for assignment in assignments {
        by_port[assignment.port] = Some(assignment);
    }
    for (index, plan) in plans.iter().enumerate() {
        let record = emitter.write_port(index, plan, by_port[index]);
        emitter.records.push(record);
    }

    // Must follow every service rule, as kube-proxy notes in the comment.
    let nat_services = emitter.chains.nat_services;
    emitter.nat.push(nat_services, |r| {
        r.raw(NODEPORTS_COMMENT)
            .raw(" -m addrtype --dst-type LOCAL")
            .jump("KUBE-NODEPORTS");
    });

    // Report defects in the order they were requested.
    let mut defects = emitter.defects;
    defects.sort_by_key(|d| {
        assignments
            .iter()
            .position(|a| a.port == d.port)
            .unwrap_or(usize::MAX)
    });
    Emitted {
        filter: emitter.filter,
        nat: emitter.nat,
        ports: emitter.records,
        defects,
        base,
    }
}

/// What the style-specific service rules produced.
struct ServiceRules {
    services_rule: RuleId,
    shadowing: Option<(RuleId, usize)>,
    ext_chain: Option<String>,
    fw_chain: Option<String>,
    local: Option<LocalRecord>,
}

impl Emitter<'_> {
    fn write_port(
        &mut self,
        index: usize,
        plan: &PortPlan,
        assignment: Option<&Assignment>,
    ) -> PortRecord {
        let svc_chain = chain_name("KUBE-SVC-", &[&plan.name, plan.protocol.as_str()]);
        let record = if plan.endpoints.is_empty() {
            self.write_port_without_endpoints(plan, svc_chain)
        } else {
            self.write_port_with_endpoints(index, plan, svc_chain, assignment)
        };
        if plan.first_of_service
            && let (Some(hc), Some(chain)) =
                (plan.health_check_nodeport, self.chains.filter_nodeports)
        {
            // kube-proxy opens the health-check port whether or not the
            // service has endpoints. It writes the rule once per service
            // port, which gives a multi-port service identical ACCEPT rules;
            // writing it once keeps clean dumps free of shadowed rules.
            self.filter.push(chain, |r| {
                r.proto(Protocol::Tcp)
                    .comment(format_args!("{} health check node port", plan.name))
                    .dport(Protocol::Tcp, hc)
                    .jump("ACCEPT");
            });
        }
        match assignment {
            Some(Assignment {
                defect: Defect::UnreferencedChain,
                stale_ip: Some(stale_ip),
                ..
            }) => self.write_unreferenced_chain(index, plan, *stale_ip),
            Some(Assignment {
                defect: Defect::JumpCycle { reachable: false },
                ..
            }) => self.write_unreachable_cycle(index, plan),
            _ => {}
        }
        record
    }

    fn push_defect(
        &mut self,
        port: usize,
        defect: Defect,
        chain: String,
        anchor: Anchor,
        detail: String,
    ) {
        self.defects.push(DefectRecord {
            defect,
            chain,
            anchor,
            port,
            detail,
        });
    }

    fn write_port_without_endpoints(&mut self, plan: &PortPlan, svc_chain: String) -> PortRecord {
        let (proto, port) = (plan.protocol, plan.port);
        let services_rule = self.filter.push(self.chains.filter_services, |r| {
            r.dst(Cidr::host(plan.cluster_ip))
                .proto(proto)
                .comment(format_args!("{} has no endpoints", plan.name))
                .dport(proto, port)
                .raw(REJECT);
        });
        let external = self.chains.filter_external;
        let lb_ip = plan.load_balancer.as_ref().map(|lb| &lb.ip);
        for &ip in plan.external_ips.iter().chain(lb_ip) {
            self.filter.push(external, |r| {
                r.dst(Cidr::host(ip))
                    .proto(proto)
                    .comment(format_args!("{} has no endpoints", plan.name))
                    .dport(proto, port)
                    .raw(REJECT);
            });
        }
        if let Some(nodeport) = plan.nodeport {
            self.filter.push(external, |r| {
                r.proto(proto)
                    .comment(format_args!("{} has no endpoints", plan.name))
                    .raw(" -m addrtype --dst-type LOCAL")
                    .dport(proto, nodeport)
                    .raw(REJECT);
            });
        }
        PortRecord {
            svc_chain,
            svc_declared: None,
            ext_chain: None,
            fw_chain: None,
            endpoints: Vec::new(),
            spread: Spread::default(),
            local: None,
            services_rule: Anchor::Rule(TableKind::Filter, services_rule),
            shadowing: None,
            filter_dnat_rule: None,
        }
    }

    fn write_port_with_endpoints(
        &mut self,
        index: usize,
        plan: &PortPlan,
        svc_chain: String,
        assignment: Option<&Assignment>,
    ) -> PortRecord {
        let defect = assignment.map(|a| a.defect);
        let proto_name = plan.protocol.as_str();
        let sep_chains: Vec<String> = plan
            .endpoints
            .iter()
            .map(|ep| {
                let endpoint = format!("{}:{}", ep.ip, ep.port);
                chain_name("KUBE-SEP-", &[&plan.name, proto_name, &endpoint])
            })
            .collect();
        let (dnat_rules, terminates) =
            self.write_endpoint_chains(index, plan, &sep_chains, &svc_chain, defect);

        // The cluster-policy chain.
        let svc = self.nat.declare(svc_chain.clone());
        if self.style != Style::Legacy {
            let (proto, port) = (plan.protocol, plan.port);
            self.nat.push(svc, |r| {
                r.not_src(CLUSTER_CIDR)
                    .dst(Cidr::host(plan.cluster_ip))
                    .proto(proto)
                    .comment(format_args!("{} cluster IP", plan.name))
                    .dport(proto, port)
                    .jump(MARK_MASQ);
            });
        }
        let all: Vec<usize> = (0..plan.endpoints.len()).collect();
        let spread_defect = defect.filter(|d| {
            matches!(
                d,
                Defect::NonUniformSpread { .. } | Defect::ProbabilityLeak { .. }
            )
        });
        let spread = self.texts.spread(all.len(), spread_defect);
        let lb_comment = match self.style {
            Style::Modern => LbComment::Arrow,
            Style::Legacy => LbComment::Name,
            Style::NoComments => LbComment::None,
        };
        let lb_rules = self.write_lb_rules(svc, plan, &all, &sep_chains, &spread, lb_comment);
        match defect {
            Some(Defect::UnreachableRule) => {
                let rule = self.nat.push(svc, |r| {
                    write_lb_comment(r, lb_comment, plan, 0, 0);
                    r.jump(&sep_chains[0]);
                });
                self.push_defect(
                    index,
                    Defect::UnreachableRule,
                    svc_chain.clone(),
                    Anchor::Rule(TableKind::Nat, rule),
                    format!("rule after the final unconditional jump of {svc_chain}"),
                );
            }
            Some(d @ Defect::UndefinedTarget) => self.push_defect(
                index,
                d,
                svc_chain.clone(),
                Anchor::Rule(TableKind::Nat, lb_rules[0]),
                format!("{svc_chain} jumps to undeclared {}", sep_chains[0]),
            ),
            Some(d @ (Defect::NonUniformSpread { .. } | Defect::CounterSkew { .. })) => self
                .push_defect(
                    index,
                    d,
                    svc_chain.clone(),
                    Anchor::Rule(TableKind::Nat, lb_rules[0]),
                    format!(
                        "{svc_chain}: endpoint 0 ({}) is off its uniform share",
                        sep_chains[0]
                    ),
                ),
            Some(d @ Defect::ProbabilityLeak { .. }) => self.push_defect(
                index,
                d,
                svc_chain.clone(),
                Anchor::Rule(TableKind::Nat, *lb_rules.last().expect("has endpoints")),
                format!("the last rule of {svc_chain} is not unconditional"),
            ),
            _ => {}
        }

        let rules = match self.style {
            Style::Legacy => {
                self.write_legacy_service_rules(index, plan, assignment, &svc_chain, &sep_chains)
            }
            Style::Modern | Style::NoComments => {
                self.write_modern_service_rules(index, plan, assignment, &svc_chain, &sep_chains)
            }
        };

        let mut filter_dnat_rule = None;
        if defect == Some(Defect::InvalidTargetForTable) {
            let ep = &plan.endpoints[0];
            let (proto, port) = (plan.protocol, plan.port);
            let rule = self.filter.push(self.chains.filter_services, |r| {
                r.dst(Cidr::host(plan.cluster_ip))
                    .proto(proto)
                    .comment(format_args!("{} cluster IP", plan.name))
                    .dport(proto, port)
                    .dnat(ep.ip, ep.port);
            });
            filter_dnat_rule = Some(rule);
            self.push_defect(
                index,
                Defect::InvalidTargetForTable,
                "KUBE-SERVICES".into(),
                Anchor::Rule(TableKind::Filter, rule),
                "DNAT in the filter table".into(),
            );
        }

        let endpoints = sep_chains
            .into_iter()
            .zip(lb_rules)
            .zip(dnat_rules.into_iter().zip(terminates))
            .map(
                |((sep_chain, lb_rule), (dnat_rule, terminates))| EndpointRecord {
                    sep_chain,
                    lb_rule,
                    dnat_rule,
                    terminates,
                },
            )
            .collect();
        PortRecord {
            svc_chain,
            svc_declared: Some(svc),
            ext_chain: rules.ext_chain,
            fw_chain: rules.fw_chain,
            endpoints,
            spread,
            local: rules.local,
            services_rule: Anchor::Rule(TableKind::Nat, rules.services_rule),
            shadowing: rules.shadowing,
            filter_dnat_rule,
        }
    }

    /// The KUBE-SEP chains; returns each endpoint's DNAT rule and whether a
    /// packet entering the chain is DNATed.
    fn write_endpoint_chains(
        &mut self,
        index: usize,
        plan: &PortPlan,
        sep_chains: &[String],
        svc_chain: &str,
        defect: Option<Defect>,
    ) -> (Vec<Option<RuleId>>, Vec<bool>) {
        let comments = self.endpoint_comments;
        let proto = plan.protocol;
        let mut dnat_rules = Vec::with_capacity(sep_chains.len());
        let mut terminates = Vec::with_capacity(sep_chains.len());
        for (i, (ep, sep_name)) in plan.endpoints.iter().zip(sep_chains).enumerate() {
            let first = i == 0;
            if first && defect == Some(Defect::UndefinedTarget) {
                // The chain was never declared; the kernel refuses the jump,
                // so for counting it is treated like a normal endpoint.
                dnat_rules.push(None);
                terminates.push(true);
                continue;
            }
            let sep = self.nat.declare(sep_name.clone());
            let hairpin = |r: &mut RuleText, target: &str| {
                r.src(Cidr::host(ep.ip));
                if comments {
                    r.comment(format_args!("{}", plan.name));
                }
                r.jump(target);
            };
            let hairpin_rule = self.nat.push(sep, |r| hairpin(r, MARK_MASQ));
            if first {
                match defect {
                    Some(d @ Defect::DuplicateRule) => {
                        let copy = self.nat.push_copy(hairpin_rule);
                        self.push_defect(
                            index,
                            d,
                            sep_name.clone(),
                            Anchor::Rule(TableKind::Nat, copy),
                            format!("the hairpin rule of {sep_name} is repeated"),
                        );
                    }
                    Some(d @ Defect::EmptyChain) => {
                        let empty_name =
                            chain_name("KUBE-SEP-", &[&plan.name, proto.as_str(), "empty"]);
                        let empty = self.nat.declare(empty_name.clone());
                        self.nat.push(sep, |r| hairpin(r, &empty_name));
                        self.push_defect(
                            index,
                            d,
                            empty_name.clone(),
                            Anchor::Chain(TableKind::Nat, empty),
                            format!("{sep_name} jumps to the empty chain {empty_name}"),
                        );
                    }
                    Some(d @ Defect::JumpCycle { reachable: true }) => {
                        let back = self.nat.push(sep, |r| hairpin(r, svc_chain));
                        self.push_defect(
                            index,
                            d,
                            sep_name.clone(),
                            Anchor::Rule(TableKind::Nat, back),
                            format!("{sep_name} jumps back to {svc_chain}"),
                        );
                    }
                    Some(d @ Defect::MissingTerminal) => {
                        self.push_defect(
                            index,
                            d,
                            sep_name.clone(),
                            Anchor::Chain(TableKind::Nat, sep),
                            format!("{sep_name} has no DNAT rule"),
                        );
                        dnat_rules.push(None);
                        terminates.push(false);
                        continue;
                    }
                    _ => {}
                }
            }
            let dnat = self.nat.push(sep, |r| {
                r.proto(proto);
                if comments {
                    r.comment(format_args!("{}", plan.name));
                }
                if plan.affinity {
                    r.recent_set(sep_name);
                }
                r.proto_match(proto).dnat(ep.ip, ep.port);
            });
            dnat_rules.push(Some(dnat));
            terminates.push(true);
        }
        (dnat_rules, terminates)
    }

    /// Session-affinity rules (if any) and then the load-balancing rules of
    /// `members`; returns the load-balancing rules.
    fn write_lb_rules(
        &mut self,
        chain: ChainId,
        plan: &PortPlan,
        members: &[usize],
        sep_chains: &[String],
        spread: &Spread,
        comment: LbComment,
    ) -> Vec<RuleId> {
        if plan.affinity {
            // kube-proxy comments affinity rules like SVC rules, and like
            // legacy SVC rules in KUBE-XLB.
            let affinity_comment = if comment == LbComment::Balancing {
                LbComment::Name
            } else {
                comment
            };
            for (k, &member) in members.iter().enumerate() {
                self.nat.push(chain, |r| {
                    write_lb_comment(r, affinity_comment, plan, member, k);
                    r.recent_rcheck(&sep_chains[member], AFFINITY_SECONDS)
                        .jump(&sep_chains[member]);
                });
            }
        }
        let texts = &self.texts;
        members
            .iter()
            .zip(&spread.written)
            .enumerate()
            .map(|(k, (&member, written))| {
                self.nat.push(chain, |r| {
                    write_lb_comment(r, comment, plan, member, k);
                    if let Some(text) = texts.text(written) {
                        r.probability(text);
                    }
                    r.jump(&sep_chains[member]);
                })
            })
            .collect()
    }

    /// The ShadowedRule defect: a rule for this port's cluster IP and port,
    /// written before the port's own rule, that jumps to another port's chain.
    fn write_shadowing_rule(
        &mut self,
        plan: &PortPlan,
        assignment: Option<&Assignment>,
    ) -> Option<(RuleId, usize)> {
        let partner = match assignment {
            Some(Assignment {
                defect: Defect::ShadowedRule,
                partner: Some(partner),
                ..
            }) => *partner,
            _ => return None,
        };
        let other = &self.plans[partner];
        let other_chain = chain_name("KUBE-SVC-", &[&other.name, other.protocol.as_str()]);
        let (proto, port) = (plan.protocol, plan.port);
        let rule = self.nat.push(self.chains.nat_services, |r| {
            r.dst(Cidr::host(plan.cluster_ip))
                .proto(proto)
                .comment(format_args!("{} cluster IP", other.name))
                .dport(proto, port)
                .jump(&other_chain);
        });
        Some((rule, partner))
    }

    fn record_shadowing(
        &mut self,
        index: usize,
        plan: &PortPlan,
        shadowing: Option<(RuleId, usize)>,
        shadowed: RuleId,
    ) {
        if let Some((_, partner)) = shadowing {
            self.push_defect(
                index,
                Defect::ShadowedRule,
                "KUBE-SERVICES".into(),
                Anchor::Rule(TableKind::Nat, shadowed),
                format!(
                    "the cluster-IP rule of {} is shadowed by an earlier rule jumping to {}'s chain",
                    plan.name, self.plans[partner].name
                ),
            );
        }
    }

    /// KUBE-SVL/KUBE-EXT/KUBE-FW and the KUBE-SERVICES/KUBE-NODEPORTS entries
    /// of kube-proxy >= 1.25.
    fn write_modern_service_rules(
        &mut self,
        index: usize,
        plan: &PortPlan,
        assignment: Option<&Assignment>,
        svc_chain: &str,
        sep_chains: &[String],
    ) -> ServiceRules {
        let (proto, port, name) = (plan.protocol, plan.port, plan.name.as_str());
        let hash_parts = [name, proto.as_str()];
        let externally = plan.externally_accessible();
        let local_policy = plan.local_policy && externally;
        let lb_comment = if self.endpoint_comments {
            LbComment::Arrow
        } else {
            LbComment::None
        };

        let local = local_policy.then(|| {
            let chain = chain_name("KUBE-SVL-", &hash_parts);
            let members: Vec<usize> = (0..plan.endpoints.len())
                .filter(|&i| plan.endpoints[i].local)
                .collect();
            if members.is_empty() {
                // kube-proxy drops such traffic in filter instead (below).
                return LocalRecord {
                    chain,
                    declared: None,
                    members,
                    lb_rules: Vec::new(),
                    spread: Spread::default(),
                };
            }
            let declared = self.nat.declare(chain.clone());
            let spread = self.texts.spread(members.len(), None);
            let lb_rules =
                self.write_lb_rules(declared, plan, &members, sep_chains, &spread, lb_comment);
            LocalRecord {
                chain,
                declared: Some(declared),
                members,
                lb_rules,
                spread,
            }
        });

        let ext_chain = externally.then(|| chain_name("KUBE-EXT-", &hash_parts));
        if let Some(ext_name) = &ext_chain {
            let ext = self.nat.declare(ext_name.clone());
            if let Some(local) = &local {
                self.nat.push(ext, |r| {
                    r.src(CLUSTER_CIDR)
                        .comment(format_args!("pod traffic for {name} external destinations"))
                        .jump(svc_chain);
                });
                self.nat.push(ext, |r| {
                    r.comment(format_args!(
                        "masquerade LOCAL traffic for {name} external destinations"
                    ))
                    .raw(" -m addrtype --src-type LOCAL")
                    .jump(MARK_MASQ);
                });
                self.nat.push(ext, |r| {
                    r.comment(format_args!(
                        "route LOCAL traffic for {name} external destinations"
                    ))
                    .raw(" -m addrtype --src-type LOCAL")
                    .jump(svc_chain);
                });
                if local.declared.is_some() {
                    self.nat.push(ext, |r| {
                        r.jump(&local.chain);
                    });
                }
            } else {
                self.nat.push(ext, |r| {
                    r.comment(format_args!(
                        "masquerade traffic for {name} external destinations"
                    ))
                    .jump(MARK_MASQ);
                });
                self.nat.push(ext, |r| {
                    r.jump(svc_chain);
                });
            }
        }
        let ext_target = ext_chain.as_deref().unwrap_or(svc_chain);

        let fw_chain = plan.load_balancer.as_ref().map(|lb| {
            let fw_name = chain_name("KUBE-FW-", &hash_parts);
            let fw = self.nat.declare(fw_name.clone());
            for &range in &lb.source_ranges {
                self.nat.push(fw, |r| {
                    r.src(range)
                        .comment(format_args!("{name} loadbalancer IP"))
                        .jump(ext_target);
                });
            }
            self.nat.push(fw, |r| {
                r.comment(format_args!(
                    "other traffic to {name} will be dropped by KUBE-PROXY-FIREWALL"
                ));
            });
            if let Some(proxy_firewall) = self.chains.filter_proxy_firewall {
                self.filter.push(proxy_firewall, |r| {
                    r.dst(Cidr::host(lb.ip))
                        .proto(proto)
                        .comment(format_args!("{name} traffic not accepted by {fw_name}"))
                        .dport(proto, port)
                        .jump("DROP");
                });
            }
            fw_name
        });

        let services = self.chains.nat_services;
        let shadowing = self.write_shadowing_rule(plan, assignment);
        let services_rule = self.nat.push(services, |r| {
            r.dst(Cidr::host(plan.cluster_ip))
                .proto(proto)
                .comment(format_args!("{name} cluster IP"))
                .dport(proto, port)
                .jump(svc_chain);
        });
        self.record_shadowing(index, plan, shadowing, services_rule);
        for &ip in &plan.external_ips {
            self.nat.push(services, |r| {
                r.dst(Cidr::host(ip))
                    .proto(proto)
                    .comment(format_args!("{name} external IP"))
                    .dport(proto, port)
                    .jump(ext_target);
            });
        }
        if let (Some(lb), Some(fw)) = (&plan.load_balancer, &fw_chain) {
            self.nat.push(services, |r| {
                r.dst(Cidr::host(lb.ip))
                    .proto(proto)
                    .comment(format_args!("{name} loadbalancer IP"))
                    .dport(proto, port)
                    .jump(fw);
            });
        }
        if let Some(nodeport) = plan.nodeport {
            self.nat.push(self.chains.nat_nodeports, |r| {
                r.proto(proto)
                    .comment(format_args!("{name}"))
                    .dport(proto, nodeport)
                    .jump(ext_target);
            });
        }
        if local.as_ref().is_some_and(|l| l.declared.is_none()) {
            let external = self.chains.filter_external;
            let lb_ip = plan.load_balancer.as_ref().map(|lb| &lb.ip);
            for &ip in plan.external_ips.iter().chain(lb_ip) {
                self.filter.push(external, |r| {
                    r.dst(Cidr::host(ip))
                        .proto(proto)
                        .comment(format_args!("{name} has no local endpoints"))
                        .dport(proto, port)
                        .jump("DROP");
                });
            }
            if let Some(nodeport) = plan.nodeport {
                self.filter.push(external, |r| {
                    r.proto(proto)
                        .comment(format_args!("{name} has no local endpoints"))
                        .raw(" -m addrtype --dst-type LOCAL")
                        .dport(proto, nodeport)
                        .jump("DROP");
                });
            }
        }
        ServiceRules {
            services_rule,
            shadowing,
            ext_chain,
            fw_chain,
            local,
        }
    }

    /// KUBE-XLB/KUBE-FW and the KUBE-SERVICES/KUBE-NODEPORTS entries of
    /// kube-proxy ~1.16.
    fn write_legacy_service_rules(
        &mut self,
        index: usize,
        plan: &PortPlan,
        assignment: Option<&Assignment>,
        svc_chain: &str,
        sep_chains: &[String],
    ) -> ServiceRules {
        let (proto, port, name) = (plan.protocol, plan.port, plan.name.as_str());
        let hash_parts = [name, proto.as_str()];
        let local_policy = plan.local_policy && plan.externally_accessible();

        let local = local_policy.then(|| {
            let chain = chain_name("KUBE-XLB-", &hash_parts);
            let xlb = self.nat.declare(chain.clone());
            self.nat.push(xlb, |r| {
                r.src(CLUSTER_CIDR)
                    .comment(format_args!(
                        "Redirect pods trying to reach external loadbalancer VIP to clusterIP"
                    ))
                    .jump(svc_chain);
            });
            self.nat.push(xlb, |r| {
                r.comment(format_args!("masquerade LOCAL traffic for {name} LB IP"))
                    .raw(" -m addrtype --src-type LOCAL")
                    .jump(MARK_MASQ);
            });
            self.nat.push(xlb, |r| {
                r.comment(format_args!(
                    "route LOCAL traffic for {name} LB IP to service chain"
                ))
                .raw(" -m addrtype --src-type LOCAL")
                .jump(svc_chain);
            });
            let members: Vec<usize> = (0..plan.endpoints.len())
                .filter(|&i| plan.endpoints[i].local)
                .collect();
            let (lb_rules, spread) = if members.is_empty() {
                self.nat.push(xlb, |r| {
                    r.comment(format_args!("{name} has no local endpoints"))
                        .jump(MARK_DROP);
                });
                (Vec::new(), Spread::default())
            } else {
                let spread = self.texts.spread(members.len(), None);
                let rules = self.write_lb_rules(
                    xlb,
                    plan,
                    &members,
                    sep_chains,
                    &spread,
                    LbComment::Balancing,
                );
                (rules, spread)
            };
            LocalRecord {
                chain,
                declared: Some(xlb),
                members,
                lb_rules,
                spread,
            }
        });
        let external_target = local.as_ref().map_or(svc_chain, |l| l.chain.as_str());

        let fw_chain = plan.load_balancer.as_ref().map(|lb| {
            let fw_name = chain_name("KUBE-FW-", &hash_parts);
            let fw = self.nat.declare(fw_name.clone());
            if local.is_none() {
                self.nat.push(fw, |r| {
                    r.comment(format_args!("{name} loadbalancer IP"))
                        .jump(MARK_MASQ);
                });
            }
            for &range in &lb.source_ranges {
                self.nat.push(fw, |r| {
                    r.src(range)
                        .comment(format_args!("{name} loadbalancer IP"))
                        .jump(external_target);
                });
            }
            self.nat.push(fw, |r| {
                r.comment(format_args!("{name} loadbalancer IP"))
                    .jump(MARK_DROP);
            });
            fw_name
        });

        let services = self.chains.nat_services;
        let cluster_ip_rule = |r: &mut RuleText, masq: bool, target: &str| {
            if masq {
                r.not_src(CLUSTER_CIDR);
            }
            r.dst(Cidr::host(plan.cluster_ip))
                .proto(proto)
                .comment(format_args!("{name} cluster IP"))
                .dport(proto, port)
                .jump(target);
        };
        self.nat
            .push(services, |r| cluster_ip_rule(r, true, MARK_MASQ));
        let shadowing = self.write_shadowing_rule(plan, assignment);
        let services_rule = self
            .nat
            .push(services, |r| cluster_ip_rule(r, false, svc_chain));
        self.record_shadowing(index, plan, shadowing, services_rule);
        for &ip in &plan.external_ips {
            let external_ip_rule = |r: &mut RuleText, extra: &str, target: &str| {
                r.dst(Cidr::host(ip))
                    .proto(proto)
                    .comment(format_args!("{name} external IP"))
                    .dport(proto, port);
                if !extra.is_empty() {
                    r.raw(extra);
                }
                r.jump(target);
            };
            self.nat
                .push(services, |r| external_ip_rule(r, "", MARK_MASQ));
            // Traffic not coming from a bridge or this node, and traffic to a
            // local external IP, goes to the service.
            self.nat.push(services, |r| {
                external_ip_rule(
                    r,
                    " -m physdev ! --physdev-is-in -m addrtype ! --src-type LOCAL",
                    svc_chain,
                )
            });
            self.nat.push(services, |r| {
                external_ip_rule(r, " -m addrtype --dst-type LOCAL", svc_chain)
            });
        }
        if let (Some(lb), Some(fw)) = (&plan.load_balancer, &fw_chain) {
            self.nat.push(services, |r| {
                r.dst(Cidr::host(lb.ip))
                    .proto(proto)
                    .comment(format_args!("{name} loadbalancer IP"))
                    .dport(proto, port)
                    .jump(fw);
            });
        }
        if let Some(nodeport) = plan.nodeport {
            let nodeports = self.chains.nat_nodeports;
            let masq_source = local.is_some().then_some(LOOPBACK);
            self.nat.push(nodeports, |r| {
                if let Some(source) = masq_source {
                    r.src(source);
                }
                r.proto(proto)
                    .comment(format_args!("{name}"))
                    .dport(proto, nodeport)
                    .jump(MARK_MASQ);
            });
            self.nat.push(nodeports, |r| {
                r.proto(proto)
                    .comment(format_args!("{name}"))
                    .dport(proto, nodeport)
                    .jump(external_target);
            });
        }
        ServiceRules {
            services_rule,
            shadowing,
            ext_chain: None,
            fw_chain,
            local,
        }
    }

    /// UnreferencedChain: a stale endpoint chain left behind, that nothing
    /// jumps to.
    fn write_unreferenced_chain(&mut self, index: usize, plan: &PortPlan, stale_ip: Ipv4Addr) {
        let proto = plan.protocol;
        let endpoint = format!("{stale_ip}:{}", plan.target_port);
        let name = chain_name("KUBE-SEP-", &[&plan.name, proto.as_str(), &endpoint]);
        let sep = self.nat.declare(name.clone());
        let comments = self.endpoint_comments;
        self.nat.push(sep, |r| {
            r.src(Cidr::host(stale_ip));
            if comments {
                r.comment(format_args!("{}", plan.name));
            }
            r.jump(MARK_MASQ);
        });
        self.nat.push(sep, |r| {
            r.proto(proto);
            if comments {
                r.comment(format_args!("{}", plan.name));
            }
            r.proto_match(proto).dnat(stale_ip, plan.target_port);
        });
        self.push_defect(
            index,
            Defect::UnreferencedChain,
            name.clone(),
            Anchor::Chain(TableKind::Nat, sep),
            format!("stale endpoint chain {name} ({endpoint}) is never jumped to"),
        );
    }

    /// JumpCycle { reachable: false }: a stale SVC/SEP pair jumping to each
    /// other that no built-in chain reaches (the kernel accepts it).
    fn write_unreachable_cycle(&mut self, index: usize, plan: &PortPlan) {
        let parts = [plan.name.as_str(), plan.protocol.as_str(), "stale"];
        let svc_name = chain_name("KUBE-SVC-", &parts);
        let sep_name = chain_name("KUBE-SEP-", &parts);
        let svc = self.nat.declare(svc_name.clone());
        let sep = self.nat.declare(sep_name.clone());
        self.nat.push(svc, |r| {
            r.jump(&sep_name);
        });
        let back = self.nat.push(sep, |r| {
            r.jump(&svc_name);
        });
        self.push_defect(
            index,
            Defect::JumpCycle { reachable: false },
            sep_name.clone(),
            Anchor::Rule(TableKind::Nat, back),
            format!("{svc_name} and {sep_name} jump to each other (unreachable)"),
        );
    }
}

/// Writes the comment of a load-balancing or affinity rule for endpoint
/// `member`, the `k`-th rule of its chain.
fn write_lb_comment(
    r: &mut RuleText,
    comment: LbComment,
    plan: &PortPlan,
    member: usize,
    k: usize,
) {
    let name = &plan.name;
    match comment {
        LbComment::None => {}
        LbComment::Name => {
            r.comment(format_args!("{name}"));
        }
        LbComment::Arrow => {
            let ep = &plan.endpoints[member];
            r.comment(format_args!("{name} -> {}:{}", ep.ip, ep.port));
        }
        LbComment::Balancing => {
            r.comment(format_args!("Balancing rule {k} for {name}"));
        }
    }
}
