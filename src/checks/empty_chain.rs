//! `empty-chain`: a user chain without rules that something jumps to.

use super::chain_roles::is_placeholder;
use super::{Check, Context, Findings};
use crate::declare_code;
use crate::diagnostics::{CodeInfo, Diagnostic};

declare_code! {
    /// ## What it does
    /// Reports a user chain that has no rules although some rule jumps or
    /// goes to it. Hook chains that kube-proxy, kubelet and Docker create
    /// up front and fill only when needed (`KUBE-NODEPORTS`,
    /// `KUBE-EXTERNAL-SERVICES`, `DOCKER`, ...) are left alone; kube-proxy's
    /// per-service and per-endpoint chains (`KUBE-SVC-*`, `KUBE-SEP-*`, ...)
    /// are not.
    ///
    /// ## Why it matters
    /// A `-j` to an empty chain does nothing: the packet comes straight back.
    /// A `-g` to one ends in the calling chain's caller (or the built-in
    /// policy). Either way the rules that were meant to be there are missing,
    /// for instance a `KUBE-SEP-*` chain whose DNAT rule was lost.
    ///
    /// ## Example
    /// ```text
    /// :LOGGING - [0:0]
    /// -A INPUT -j LOGGING
    /// ```
    ///
    /// ## How to fix
    /// Add the chain's rules, or delete the jump and the chain.
    pub static EMPTY_CHAIN = ("IPT106", "empty-chain", Note, "a user chain with no rules that something jumps to");
}

/// Jumps into the chain labelled before the rest are counted.
const MAX_LABELLED_JUMPS: usize = 3;

/// The `empty-chain` check.
pub struct EmptyChain;

impl Check for EmptyChain {
    fn info(&self) -> &'static CodeInfo {
        &EMPTY_CHAIN
    }

    fn run(&self, cx: &Context<'_, '_>, out: &mut Findings) {
        for (table, graph) in cx.dump.tables.iter().zip(&cx.graph.tables) {
            for (index, chain) in table.chains.iter().enumerate() {
                if chain.builtin || !chain.rules.is_empty() || is_placeholder(&chain.name) {
                    continue;
                }
                let mut jumps: Vec<(usize, crate::graph::Jump)> =
                    graph.callers(index).map(|(c, j)| (c, *j)).collect();
                if jumps.is_empty() {
                    continue;
                }
                jumps.sort_by_key(|&(caller, jump)| (jump.line, caller));
                let mut diagnostic = Diagnostic::new(
                    &EMPTY_CHAIN,
                    chain.name_span,
                    format!("chain `{}` has no rules, but rules jump to it", chain.name),
                )
                .with_primary_message("declared here, with no rules");
                for &(caller, jump) in jumps.iter().take(MAX_LABELLED_JUMPS) {
                    diagnostic = diagnostic.with_secondary(
                        jump.span,
                        format!(
                            "{} from `{}`",
                            if jump.goto { "goes here" } else { "jumps here" },
                            table.chains[caller].name
                        ),
                    );
                }
                if jumps.len() > MAX_LABELLED_JUMPS {
                    diagnostic =
                        diagnostic.with_note(format!("{} jumps in all lead here", jumps.len()));
                }
                let effect = if jumps.iter().any(|(_, jump)| jump.goto) {
                    "a `-j` to it returns at once and a `-g` to it returns to the caller's caller: its rules are probably missing"
                } else {
                    "a jump to it returns at once: its rules are probably missing"
                };
                out.push(
                    diagnostic
                        .with_note(effect)
                        .in_table(&table.name, Some(&chain.name)),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::test_support::findings;

    #[test]
    fn empty_chains_with_callers_but_not_placeholders() {
        let src = "*filter\n:INPUT ACCEPT [0:0]\n:LOGGING - [0:0]\n:UNUSED - [0:0]\n:KUBE-NODEPORTS - [0:0]\n-A INPUT -j LOGGING\n-A INPUT -j KUBE-NODEPORTS\nCOMMIT\n";
        let found = findings(src, &EMPTY_CHAIN);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].primary_span().text(src), "LOGGING");
        assert_eq!(found[0].labels[1].span.text(src), "-j LOGGING");
    }
}
