//! `missing-terminal`: chains whose job is to end evaluation, but which let
//! packets through.

use crate::analysis::context::{is_kube_service_chain, walk_chain};
use crate::analysis::{Exit, PacketSet, TableFlow};
use crate::declare_code;
use crate::diagnostics::{CodeInfo, Diagnostic, Severity};
use crate::graph::ChainGraph;
use std::collections::BTreeMap;

use crate::model::{Action, Chain, Family, Flow, Rule, Table};

use super::flow_text::{entry_note, lines_phrase};
use super::{Check, Context, Findings};

declare_code! {
    /// ## What it does
    /// Reports a chain whose job is to end evaluation that lets some
    /// packets through, and says which:
    ///
    /// - a `KUBE-SEP-*` chain without a DNAT rule, or whose DNAT does not
    ///   match every packet entering it (`-p tcp` for udp packets);
    /// - a `KUBE-SVC-*` or `KUBE-SVL-*` chain whose last endpoint rule is
    ///   conditional (a `--probability` on the last rule), or that RETURNs;
    /// - a `KUBE-EXT-*`, `KUBE-FW-*` or `KUBE-XLB-*` chain that ends with an
    ///   unconditional rule and still lets packets fall off its end (kube-proxy
    ///   lets them fall through on purpose only after a conditional rule, a
    ///   comment-only rule or a jump to `KUBE-MARK-DROP`);
    /// - a chain a built-in chain reaches with `-g` that can fall off its
    ///   end: those packets get the built-in chain's policy and skip the rules
    ///   after the goto.
    ///
    /// A chain is blamed only for its own rules: a service chain whose
    /// endpoint chain lacks its DNAT is not reported, the endpoint chain is.
    /// It is an error for kube-proxy chains (`KUBE-*`), a warning otherwise.
    ///
    /// ## Why it matters
    /// A packet that falls through a service chain is not load-balanced: it
    /// goes back to `KUBE-SERVICES`, on to the next rules and usually out of
    /// the node un-NATed, to a cluster IP nothing answers. Behind a goto, a
    /// packet that falls off the end gets the built-in policy, often ACCEPT,
    /// without seeing the rules that follow the goto.
    ///
    /// ## Example
    /// ```text
    /// -A KUBE-SVC-X -m statistic --mode random --probability 0.5 -j KUBE-SEP-A
    /// -A KUBE-SVC-X -m statistic --mode random --probability 0.5 -j KUBE-SEP-B
    /// ```
    /// A quarter of the service's connections fall through `KUBE-SVC-X`.
    ///
    /// ## How to fix
    /// End the chain with an unconditional rule that gives the verdict: drop
    /// the `--probability` of the last endpoint rule, restore the DNAT rule
    /// of the endpoint chain, or end the goto's target with an explicit
    /// ACCEPT, DROP or REJECT.
    pub static MISSING_TERMINAL = ("IPT123", "missing-terminal", Error, "a chain meant to end evaluation lets packets fall through");
}

/// The `missing-terminal` check.
pub struct MissingTerminal;

/// What a kube-proxy chain is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Job {
    /// `KUBE-SEP-*`: DNAT to one endpoint.
    Endpoint,
    /// `KUBE-SVC-*`, `KUBE-SVL-*`: pick an endpoint.
    Service,
    /// `KUBE-EXT-*`, `KUBE-FW-*`, `KUBE-XLB-*`: external traffic, which
    /// kube-proxy lets fall through on purpose when it has nowhere to go.
    External,
}

fn job(table: &Table<'_>, name: &str) -> Option<Job> {
    if !is_kube_service_chain(table, name) {
        return None;
    }
    Some(if name.starts_with("KUBE-SEP-") {
        Job::Endpoint
    } else if name.starts_with("KUBE-SVC-") || name.starts_with("KUBE-SVL-") {
        Job::Service
    } else {
        Job::External
    })
}

/// Whether kube-proxy meant packets to fall off the end of an external chain:
/// its last rule is conditional, counts only, or marks for drop.
fn falls_through_on_purpose(chain: &Chain<'_>) -> bool {
    chain.rules.last().is_none_or(|last| {
        !last.is_unconditional()
            || last.target.is_none()
            || last
                .target
                .as_ref()
                .is_some_and(|t| t.name == "KUBE-MARK-DROP")
    })
}

fn severity_for(name: &str) -> Severity {
    if name.starts_with("KUBE-") {
        Severity::Error
    } else {
        Severity::Warning
    }
}

impl Check for MissingTerminal {
    fn info(&self) -> &'static CodeInfo {
        &MISSING_TERMINAL
    }

    fn run(&self, cx: &Context<'_, '_>, out: &mut Findings) {
        let analysis = cx.analysis();
        for (t, table) in cx.dump.tables.iter().enumerate() {
            let flows = &analysis.tables[t];
            let graph = &cx.graph.tables[t];
            let mut reported = vec![false; table.chains.len()];
            // Endpoint chains with a DNAT that does not match everything
            // entering them, by the one service chain that calls them: when a
            // service sends its endpoints packets none of them DNATs (udp to a
            // tcp service), that is one finding about the service, not one per
            // endpoint.
            let mut by_service: BTreeMap<usize, Vec<(usize, Diagnostic)>> = BTreeMap::new();
            for (c, chain) in table.chains.iter().enumerate() {
                let Some(job) = job(table, &chain.name) else {
                    continue;
                };
                let Some(diagnostic) = kube_chain(table, flows, graph, c, job, cx.dump.family)
                else {
                    continue;
                };
                reported[c] = true;
                let mut callers = graph.callers(c).map(|(from, _)| from);
                let service = match (callers.next(), callers.next()) {
                    (Some(from), None)
                        if job == Job::Endpoint
                            && dnat_rule(chain).is_some()
                            && self::job(table, &table.chains[from].name) == Some(Job::Service) =>
                    {
                        Some(from)
                    }
                    _ => None,
                };
                match service {
                    Some(service) => by_service.entry(service).or_default().push((c, diagnostic)),
                    None => out.push(diagnostic),
                }
            }
            for (service, endpoints) in by_service {
                if endpoints.len() == 1 {
                    out.extend(endpoints.into_iter().map(|(_, d)| d));
                } else {
                    out.push(service_endpoints(table, flows, graph, service, &endpoints));
                }
            }
            for (c, chain) in table.chains.iter().enumerate() {
                if chain.builtin {
                    gotos_from_builtin(table, flows, c, &mut reported, out);
                }
            }
        }
    }
}

/// The DNAT rule of an endpoint chain (its last, when several).
fn dnat_rule<'c, 'a>(chain: &'c Chain<'a>) -> Option<&'c Rule<'a>> {
    chain.rules.iter().rev().find(|rule| {
        rule.target
            .as_ref()
            .is_some_and(|t| matches!(t.action, Action::Dnat(_)))
    })
}

/// One finding for a service chain several of whose endpoint chains do not
/// DNAT every packet the service sends them.
fn service_endpoints(
    table: &Table<'_>,
    flows: &TableFlow,
    graph: &ChainGraph,
    service: usize,
    endpoints: &[(usize, Diagnostic)],
) -> Diagnostic {
    let chain = &table.chains[service];
    let mut diagnostic = Diagnostic::new(
        &MISSING_TERMINAL,
        chain.name_span,
        format!(
            "{} of the endpoint chains of {} do not DNAT every packet it sends them",
            endpoints.len(),
            chain.name
        ),
    )
    .with_severity(severity_for(&chain.name))
    .with_primary_message("the packets entering this service chain");
    for &(endpoint, _) in endpoints.iter().take(3) {
        let sep = &table.chains[endpoint];
        if let Some(rule) = dnat_rule(sep) {
            diagnostic = diagnostic.with_secondary(
                rule.spec,
                format!("the DNAT of {} matches only some of them", sep.name),
            );
        }
    }
    if let Some(Exit::FallsOff { packets, .. }) = flows.chains[endpoints[0].0]
        .exits
        .iter()
        .find(|exit| matches!(exit, Exit::FallsOff { .. }))
    {
        diagnostic =
            diagnostic.with_note(format!("the packets no DNAT takes: {}", packets.describe()));
    }
    if let Some(note) = entry_note(service, chain, &flows.chains[service], graph) {
        diagnostic = diagnostic.with_note(note);
    }
    let names: Vec<&str> = endpoints
        .iter()
        .map(|&(e, _)| table.chains[e].name.as_ref())
        .collect();
    diagnostic = diagnostic.with_note(format!(
        "the endpoint chains: {}{}",
        names.iter().take(5).copied().collect::<Vec<_>>().join(", "),
        if names.len() > 5 {
            format!(" and {} more", names.len() - 5)
        } else {
            String::new()
        }
    ));
    diagnostic.in_table(&table.name, Some(&chain.name))
}

/// A kube-proxy service chain that lets packets through because of its own
/// rules (the kube-proxy chains it calls are assumed to do their job; they
/// are reported on their own).
fn kube_chain(
    table: &Table<'_>,
    flows: &TableFlow,
    graph: &ChainGraph,
    c: usize,
    job: Job,
    family: Family,
) -> Option<Diagnostic> {
    let chain = &table.chains[c];
    let flow = &flows.chains[c];
    if flow.verdict || flow.in_loop {
        // In a loop the entry set is widened to anything, and jump-cycle
        // reports the loop itself.
        return None;
    }
    if job == Job::External && falls_through_on_purpose(chain) {
        return None;
    }
    // An endpoint chain is one a service chain picks: a KUBE-SEP-named
    // chain only other chains call is a helper, judged by what calls it.
    if job == Job::Endpoint
        && !graph.callers(c).any(|(from, _)| {
            matches!(
                self::job(table, &table.chains[from].name),
                Some(Job::Service | Job::External)
            )
        })
    {
        return None;
    }
    // Callees that are kube-proxy service chains are reported on their own,
    // and a jump to an undeclared chain is undefined-target's finding.
    let assumed = |callee: Option<usize>| {
        callee.is_none_or(|callee| {
            flows.chains[callee].verdict || is_kube_service_chain(table, &table.chains[callee].name)
        })
    };
    let walk = walk_chain(table, family, c, &flow.entry, &assumed, None, None);
    if walk.exits.is_empty() {
        return None;
    }
    if !flow.origin.is_known() {
        // Nothing known enters it (a stale chain, or one whose callers are
        // outside a restore fragment): report only a chain no rule of which
        // can end evaluation, whatever enters it.
        let can_end = chain.rules.iter().any(|rule| match rule.flow() {
            Flow::Terminate | Flow::Goto => true,
            Flow::Call => rule.target.as_ref().is_some_and(|t| assumed(t.chain)),
            Flow::Return | Flow::Continue => false,
        });
        if can_end {
            return None;
        }
    }
    let has_dnat = chain.rules.iter().any(|rule| {
        rule.target
            .as_ref()
            .is_some_and(|t| matches!(t.action, Action::Dnat(_)))
    });
    let message = match job {
        Job::Endpoint if !has_dnat => format!(
            "{} has no DNAT rule: every packet entering it comes back to its caller",
            chain.name
        ),
        Job::Endpoint => format!("some packets entering {} are not DNAT-ed", chain.name),
        Job::Service | Job::External => {
            format!(
                "packets can fall through {} without being DNAT-ed",
                chain.name
            )
        }
    };
    let mut diagnostic = Diagnostic::new(&MISSING_TERMINAL, chain.name_span, message)
        .with_severity(severity_for(&chain.name))
        .with_primary_message("this chain is meant to end evaluation");
    diagnostic = describe_exits(diagnostic, table, chain, &flow.entry, &walk.exits);
    if let Some(note) = entry_note(c, chain, flow, graph) {
        diagnostic = diagnostic.with_note(note);
    }
    diagnostic = diagnostic.with_note(callers_note(table, graph, c));
    Some(diagnostic.in_table(&table.name, Some(&chain.name)))
}

/// Labels and notes saying how packets get out of `chain`.
fn describe_exits(
    mut diagnostic: Diagnostic,
    table: &Table<'_>,
    chain: &Chain<'_>,
    entry: &PacketSet,
    exits: &[Exit],
) -> Diagnostic {
    // What falls through, unless it is simply everything that enters (the
    // entry note says that already).
    let falling = |packets: &PacketSet| {
        (packets != entry).then(|| format!("the packets that fall through: {}", packets.describe()))
    };
    for exit in exits.iter().take(3) {
        diagnostic = match exit {
            Exit::Return { rule } => diagnostic.with_secondary(
                chain.rules[*rule].target_span(),
                "packets matching this rule return to the caller",
            ),
            Exit::Goto { rule, target } => diagnostic.with_secondary(
                chain.rules[*rule].target_span(),
                format!(
                    "packets go to {} here, which can return without a verdict",
                    target.map_or("an undeclared chain", |t| table.chains[t].name.as_ref())
                ),
            ),
            Exit::FallsOff {
                last_partial: Some(rule),
                packets,
            } => {
                let rule = &chain.rules[*rule];
                let diagnostic = diagnostic.with_secondary(
                    rule.spec,
                    format!(
                        "packets not matched by the rule at line {} fall off the end of {}",
                        rule.line, chain.name
                    ),
                );
                match falling(packets) {
                    Some(note) => diagnostic.with_note(note),
                    None => diagnostic,
                }
            }
            Exit::FallsOff {
                last_partial: None,
                packets,
            } => match chain.rules.last() {
                Some(last) => {
                    let diagnostic = diagnostic.with_secondary(
                        last.spec,
                        format!(
                            "no rule of {} ({}) ends evaluation for these packets",
                            chain.name,
                            lines_phrase(chain, 0, chain.rules.len())
                        ),
                    );
                    match falling(packets) {
                        Some(note) => diagnostic.with_note(note),
                        None => diagnostic,
                    }
                }
                None => diagnostic.with_note(format!("{} has no rules", chain.name)),
            },
        };
    }
    diagnostic
}

/// "called from KUBE-SVC-X at line N: packets that come back continue there".
fn callers_note(table: &Table<'_>, graph: &ChainGraph, c: usize) -> String {
    let mut callers: Vec<(u32, usize, bool)> = graph
        .callers(c)
        .map(|(from, jump)| (jump.line, from, jump.goto))
        .collect();
    callers.sort_unstable();
    match callers.as_slice() {
        [] => "nothing jumps to it in this table".to_string(),
        [(line, from, goto), rest @ ..] => {
            let more = if rest.is_empty() {
                String::new()
            } else {
                format!(" (and {} more)", rest.len())
            };
            if *goto {
                format!(
                    "reached by the goto at line {line} in {}{more}: packets that fall through \
                     go back to the chain that called {}",
                    table.chains[*from].name, table.chains[*from].name
                )
            } else {
                format!(
                    "called from {} at line {line}{more}: packets that come back continue with \
                     the rule after it",
                    table.chains[*from].name
                )
            }
        }
    }
}

/// A goto from built-in chain `b` into a chain that can fall off its end,
/// while rules follow the goto: those packets get the policy instead.
fn gotos_from_builtin(
    table: &Table<'_>,
    flows: &TableFlow,
    b: usize,
    reported: &mut [bool],
    out: &mut Findings,
) {
    let builtin = &table.chains[b];
    let evaluated = flows.chains[b]
        .hidden
        .as_ref()
        .map_or(builtin.rules.len(), |h| h.first);
    for (i, rule) in builtin.rules.iter().enumerate().take(evaluated) {
        let Some(target) = rule.target.as_ref().filter(|t| t.goto) else {
            continue;
        };
        let Some(callee) = target.chain else { continue };
        let flow = &flows.chains[callee];
        if flow.verdict || flow.in_loop || reported[callee] || i + 1 >= evaluated {
            continue;
        }
        let falls_off = flow.exits.iter().find_map(|exit| match exit {
            Exit::FallsOff { packets, .. } => Some(packets),
            _ => None,
        });
        let Some(packets) = falls_off else { continue };
        reported[callee] = true;
        let chain = &table.chains[callee];
        let diagnostic = Diagnostic::new(
            &MISSING_TERMINAL,
            chain.name_span,
            format!(
                "packets that fall off the end of {} get the {} policy of {}",
                chain.name,
                builtin.policy_name(),
                builtin.name
            ),
        )
        .with_severity(severity_for(&chain.name))
        .with_primary_message("this chain can fall off its end")
        .with_secondary(
            target.span,
            format!(
                "`-g` here: packets never come back to {}",
                builtin.name
            ),
        )
        .with_note(format!(
            "the {} rules of {} after line {} never see them",
            evaluated - i - 1,
            builtin.name,
            rule.line
        ))
        .with_note(format!("the packets that fall through: {}", packets.describe()))
        .with_note(format!(
            "end {} with an explicit verdict, or use `-j` if the rules after line {} should see them",
            chain.name, rule.line
        ));
        out.push(diagnostic.in_table(&table.name, Some(&chain.name)));
    }
}
