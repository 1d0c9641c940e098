//! `shadowed-rule`: rules an earlier rule takes every packet from.

use super::flow_text::{ending_phrase, entry_note};
use super::{Check, Context, Findings};
use crate::analysis::ShadowBasis;
use crate::declare_code;
use crate::diagnostics::{CodeInfo, Diagnostic};
use crate::model::{Flow, Rule};
use crate::syntax::Span;

declare_code! {
    /// ## What it does
    /// Reports a rule that never fires because an earlier rule in the same
    /// chain matches every packet it matches and ends evaluation for them
    /// (a verdict, RETURN, a goto, or a jump to a chain that always ends
    /// with a verdict). Containment is decided on addresses and prefixes,
    /// ports and port ranges (multiport included), protocols, interfaces
    /// with `+` wildcards, negations, conntrack states, marks, address types
    /// and TCP flags, together with what is known about the packets that
    /// enter the chain. A rule with a match iptlint does not model is never
    /// claimed shadowed, and an earlier rule counts only if every condition
    /// of it is understood.
    ///
    /// The note says whether the two rules do different things (a likely
    /// bug: the later rule was meant to win) or the same (a redundant rule).
    /// Rules written exactly alike are left to `duplicate-rule`, and rules
    /// after one that ends evaluation for every packet to `unreachable-rule`.
    /// In a `KUBE-FW-*` chain, a source range inside an earlier one with the
    /// same target is not reported: kube-proxy writes one rule per
    /// `loadBalancerSourceRanges` entry, and overlapping entries are harmless.
    ///
    /// ## Why it matters
    /// The later rule is dead. When its target differs, traffic is handled
    /// by the earlier rule instead of the one written for it; in kube-proxy
    /// dumps an earlier `KUBE-SERVICES` rule for the same
    /// `-d IP -p tcp --dport P` sends a service's traffic to another
    /// service.
    ///
    /// ## Example
    /// ```text
    /// -A INPUT -s 10.0.0.0/8 -j ACCEPT
    /// -A INPUT -s 10.1.2.3/32 -j DROP
    /// ```
    ///
    /// ## How to fix
    /// Put the narrower rule first, narrow the earlier rule, or delete the
    /// later one when it is redundant.
    pub static SHADOWED_RULE = ("IPT122", "shadowed-rule", Warning, "an earlier rule takes every packet this rule matches");
}

/// The `shadowed-rule` check.
pub struct ShadowedRule;

/// For two rules iptables made of one line's address lists, where the
/// addresses that tell them apart are written: the later rule's, then the
/// earlier one's (`None` for rules of two lines, or a quoted list, whose
/// addresses share the word's span).
fn same_line_addresses(rule: &Rule<'_>, by: &Rule<'_>) -> Option<(Span, Span)> {
    if rule.line != by.line {
        return None;
    }
    [
        (&rule.source, &by.source),
        (&rule.destination, &by.destination),
    ]
    .into_iter()
    .find_map(|(ours, theirs)| match (ours, theirs) {
        (Some(ours), Some(theirs)) if ours.span != theirs.span => Some((ours.span, theirs.span)),
        _ => None,
    })
}

impl Check for ShadowedRule {
    fn info(&self) -> &'static CodeInfo {
        &SHADOWED_RULE
    }

    fn run(&self, cx: &Context<'_, '_>, out: &mut Findings) {
        let analysis = cx.analysis();
        for (t, table) in cx.dump.tables.iter().enumerate() {
            let flows = &analysis.tables[t];
            let graph = &cx.graph.tables[t];
            for (c, chain) in table.chains.iter().enumerate() {
                let flow = &flows.chains[c];
                for shadow in &flow.shadows {
                    let rule = &chain.rules[shadow.rule];
                    let by = &chain.rules[shadow.by];
                    let ending = ending_phrase(by, table, flows);
                    let mut diagnostic = match same_line_addresses(rule, by) {
                        // Two rules iptables made of one `-s a,b` line:
                        // "line 9 shadowed by line 9" would say nothing, the
                        // addresses tell them apart.
                        Some((ours, theirs)) => Diagnostic::new(
                            &SHADOWED_RULE,
                            ours,
                            format!(
                                "rule in {} is shadowed by another rule of the same line",
                                chain.name
                            ),
                        )
                        .with_primary_message("the rule made of this address never fires")
                        .with_secondary(
                            theirs,
                            format!(
                                "the rule made of this one comes first in {}, matches every packet the other matches, and {ending}",
                                chain.name
                            ),
                        ),
                        None => Diagnostic::new(
                            &SHADOWED_RULE,
                            rule.spec,
                            format!(
                                "rule in {} is shadowed by the rule at line {}",
                                chain.name, by.line
                            ),
                        )
                        .with_primary_message("this rule never fires")
                        .with_secondary(
                            by.spec,
                            format!(
                                "matches every packet the rule at line {} matches, and {ending}",
                                rule.line,
                            ),
                        ),
                    };
                    for (which, listed) in [("this rule", rule), ("the earlier rule", by)] {
                        if let Some(pair) = listed.address_pair(cx.src) {
                            diagnostic = diagnostic.with_note(format!(
                                "{which} is the one iptables makes of line {} for `{pair}`",
                                listed.line
                            ));
                        }
                    }
                    let ours = rule.target.as_ref().map(|t| t.span.text(cx.src));
                    let theirs = by.target.as_ref().map(|t| t.span.text(cx.src));
                    if ours.is_some() && ours == theirs && chain.name.starts_with("KUBE-FW-") {
                        // Overlapping loadBalancerSourceRanges of a Service,
                        // written one rule each by kube-proxy: harmless.
                        continue;
                    }
                    diagnostic = diagnostic.with_note(match (ours, theirs) {
                        (Some(ours), Some(theirs)) if ours == theirs => {
                            format!("both rules do `{ours}`: the later one is redundant")
                        }
                        (Some(ours), Some(_)) if rule.flow() == Flow::Continue => {
                            format!("`{ours}` never runs for any packet")
                        }
                        (Some(ours), Some(theirs)) => format!(
                            "the rules do different things (`{theirs}` first, then `{ours}`): \
                             packets meant for the later rule get the earlier one's"
                        ),
                        (None, _) => {
                            "the later rule only counts packets, and counts none".to_string()
                        }
                        (Some(ours), None) => format!("`{ours}` never runs"),
                    });
                    match shadow.basis {
                        ShadowBasis::Matches => {}
                        ShadowBasis::Entry => {
                            if let Some(note) = entry_note(c, chain, flow, graph) {
                                diagnostic = diagnostic.with_note(format!(
                                    "{note}; of those, the earlier rule matches all the later one does"
                                ));
                            }
                        }
                        ShadowBasis::EarlierRules => {
                            diagnostic = diagnostic.with_note(format!(
                                "the rule at line {} does not match all of them on its own: \
                                 other earlier rules take the rest",
                                by.line
                            ));
                        }
                    }
                    out.push(diagnostic.in_table(&table.name, Some(&chain.name)));
                }
            }
        }
    }
}
