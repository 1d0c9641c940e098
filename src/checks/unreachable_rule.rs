//! `unreachable-rule`: rules no packet ever reaches.

use super::flow_text::{ending_phrase, entry_note, lines_phrase};
use super::{Check, Context, Findings};
use crate::declare_code;
use crate::diagnostics::{CodeInfo, Diagnostic};
use crate::model::{Chain, Table};

declare_code! {
    /// ## What it does
    /// Reports a rule that is never evaluated because an earlier rule in the
    /// same chain ends evaluation for every packet that reaches it: an
    /// unconditional ACCEPT, DROP, RETURN, DNAT or goto, or a jump to a chain
    /// that always ends with a verdict. "Every packet" takes into account
    /// what is known about the packets entering the chain: every packet
    /// entering a `KUBE-SVC-*` chain is tcp (or udp) to one address and
    /// port, so its final unconditional jump to a `KUBE-SEP-*` chain whose
    /// DNAT rule matches `-p tcp` ends evaluation for all of them.
    ///
    /// A run of dead rules at the end of a chain is reported once, at its
    /// first rule, with the number of rules that follow.
    ///
    /// ## Why it matters
    /// A rule that never runs does nothing: whatever it was meant to allow,
    /// block or count does not happen, and whoever reads the ruleset is
    /// misled about what it does.
    ///
    /// ## Example
    /// ```text
    /// -A KUBE-SVC-X -m statistic --mode random --probability 0.5 -j KUBE-SEP-A
    /// -A KUBE-SVC-X -j KUBE-SEP-B
    /// -A KUBE-SVC-X -j KUBE-SEP-C
    /// ```
    /// `KUBE-SEP-B` DNATs every packet it receives, so the last rule never runs.
    ///
    /// ## How to fix
    /// Move the rule before the one that hides it, give the earlier rule a
    /// narrower match, or delete the dead rule.
    pub static UNREACHABLE_RULE = ("IPT121", "unreachable-rule", Warning, "a rule no packet reaches: an earlier rule always ends evaluation");
}

/// The `unreachable-rule` check.
pub struct UnreachableRule;

/// kube-proxy before 1.24 ended every `KUBE-FW-*` chain (and `KUBE-XLB-*`
/// without local endpoints) with a jump to `KUBE-MARK-DROP` as a safety
/// net, even after an unconditional jump to the service: dead by design,
/// not worth a warning on a clean node.
fn is_kube_safety_net(table: &Table<'_>, chain: &Chain<'_>, first: usize) -> bool {
    crate::analysis::context::is_kube_service_chain(table, &chain.name)
        && (chain.name.starts_with("KUBE-FW-") || chain.name.starts_with("KUBE-XLB-"))
        && chain.rules[first..].iter().all(|rule| {
            rule.target
                .as_ref()
                .is_some_and(|t| t.name == "KUBE-MARK-DROP")
        })
}

/// Why the chain a hiding rule jumps to always ends with a verdict, when
/// that depends on what enters it (a DNAT with `-p tcp` for tcp packets).
fn callee_verdict_note(
    rule: &crate::model::Rule<'_>,
    table: &Table<'_>,
    flows: &crate::analysis::TableFlow,
    graph: &crate::graph::ChainGraph,
) -> Option<String> {
    let callee = rule.target.as_ref()?.chain?;
    let flow = &flows.chains[callee];
    let verdict_rule = &table.chains[callee].rules[flow.verdict_rule?];
    if !flow.verdict || verdict_rule.is_unconditional() {
        return None;
    }
    let note = entry_note(callee, &table.chains[callee], flow, graph)?;
    Some(format!(
        "{note}, and its rule at line {} matches all of them",
        verdict_rule.line
    ))
}

impl Check for UnreachableRule {
    fn info(&self) -> &'static CodeInfo {
        &UNREACHABLE_RULE
    }

    fn run(&self, cx: &Context<'_, '_>, out: &mut Findings) {
        let analysis = cx.analysis();
        for (t, table) in cx.dump.tables.iter().enumerate() {
            let flows = &analysis.tables[t];
            let graph = &cx.graph.tables[t];
            for (c, chain) in table.chains.iter().enumerate() {
                let flow = &flows.chains[c];
                let Some(run) = &flow.hidden else { continue };
                if is_kube_safety_net(table, chain, run.first) {
                    continue;
                }
                let first = &chain.rules[run.first];
                let by = &chain.rules[run.hidden_by];
                let message = if run.count == 1 {
                    format!("rule in {} is never evaluated", chain.name)
                } else {
                    format!(
                        "{} rules at the end of {} are never evaluated",
                        run.count, chain.name
                    )
                };
                let mut diagnostic = Diagnostic::new(&UNREACHABLE_RULE, first.spec, message)
                    .with_primary_message("no packet reaches this rule")
                    .with_secondary(
                        by.target_span(),
                        format!(
                            "every packet that reaches line {} {}",
                            by.line,
                            ending_phrase(by, table, flows)
                        ),
                    );
                if run.count > 1 {
                    diagnostic = diagnostic.with_note(format!(
                        "the {} rules after it ({}) are never evaluated either",
                        run.count - 1,
                        lines_phrase(chain, run.first + 1, run.count - 1)
                    ));
                }
                if !run.alone {
                    diagnostic = diagnostic.with_note(format!(
                        "rules before line {} already ended evaluation for the other packets",
                        by.line
                    ));
                } else if !by.is_unconditional()
                    && let Some(note) = entry_note(c, chain, flow, graph)
                {
                    diagnostic = diagnostic.with_note(format!(
                        "{note}, and the rule at line {} matches all of them",
                        by.line
                    ));
                }
                if let Some(note) = callee_verdict_note(by, table, flows, graph) {
                    diagnostic = diagnostic.with_note(note);
                }
                out.push(diagnostic.in_table(&table.name, Some(&chain.name)));
            }
        }
    }
}
