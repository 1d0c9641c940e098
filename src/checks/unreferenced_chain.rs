//! `unreferenced-chain`: a user chain that no built-in chain reaches.

use super::chain_roles::is_unreferenced_by_design;
use super::{Check, Context, Findings};
use crate::declare_code;
use crate::diagnostics::{CodeInfo, Diagnostic};

declare_code! {
    /// ## What it does
    /// Reports a user chain that no built-in chain reaches through any chain
    /// of jumps and gotos, and says whether nothing jumps to it at all or only
    /// other unreachable chains do.
    ///
    /// Tables whose built-in chains have no rules are not checked: they are
    /// fragments for `iptables-restore --noflush` (as kube-proxy writes them)
    /// or were saved after one was loaded, and the hooks that reach their
    /// chains live elsewhere. Chains that tools create unreferenced on
    /// purpose are not reported either: kube-proxy's and kubelet's canary
    /// chains, kube-proxy's old `KUBE-MARK-DROP` helper, ufw's helper chains
    /// and Shorewall's `shorewall` marker.
    ///
    /// ## Why it matters
    /// None of the chain's rules ever sees a packet, so whatever it was meant
    /// to allow, block or translate does not happen. Stale `KUBE-SEP-*` chains
    /// left behind by kube-proxy are the classic case: a service's endpoint
    /// moved, but its old chain is still in the dump.
    ///
    /// ## Example
    /// ```text
    /// :KUBE-SEP-OLDENDPOINTAAAAA - [0:0]
    /// -A KUBE-SEP-OLDENDPOINTAAAAA -p tcp -m tcp -j DNAT --to-destination 10.244.1.7:80
    /// ```
    ///
    /// ## How to fix
    /// Delete the chain (`-X`) if it is stale, or add the jump that was meant
    /// to reach it.
    pub static UNREFERENCED_CHAIN = ("IPT103", "unreferenced-chain", Warning, "a user chain that no built-in chain reaches");
}

/// Callers named in the note before the rest are counted.
const MAX_CALLERS_NAMED: usize = 5;

/// The `unreferenced-chain` check.
pub struct UnreferencedChain;

impl Check for UnreferencedChain {
    fn info(&self) -> &'static CodeInfo {
        &UNREFERENCED_CHAIN
    }

    fn run(&self, cx: &Context<'_, '_>, out: &mut Findings) {
        for (table, graph) in cx.dump.tables.iter().zip(&cx.graph.tables) {
            // A fragment for `--noflush`, or a table saved after one was
            // loaded: its chains are reached from hooks the file does not
            // hold, so every one of them would be reported.
            if table
                .chains
                .iter()
                .filter(|chain| chain.builtin)
                .all(|chain| chain.rules.is_empty())
            {
                continue;
            }
            for (index, chain) in table.chains.iter().enumerate() {
                if chain.builtin || graph.reachable[index] || is_unreferenced_by_design(&chain.name)
                {
                    continue;
                }
                let mut callers: Vec<(usize, crate::graph::Jump)> = graph
                    .callers(index)
                    .filter(|&(caller, _)| caller != index)
                    .map(|(caller, jump)| (caller, *jump))
                    .collect();
                callers.sort_by_key(|&(caller, jump)| (caller, jump.rule));
                let mut diagnostic = if callers.is_empty() {
                    Diagnostic::new(
                        &UNREFERENCED_CHAIN,
                        chain.name_span,
                        format!("chain `{}` is never used: nothing jumps to it", chain.name),
                    )
                    .with_primary_message("declared here")
                } else {
                    let mut names: Vec<&str> = callers
                        .iter()
                        .map(|&(caller, _)| table.chains[caller].name.as_ref())
                        .collect();
                    names.dedup();
                    let shown = names
                        .iter()
                        .take(MAX_CALLERS_NAMED)
                        .map(|name| format!("`{name}`"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let more = names.len().saturating_sub(MAX_CALLERS_NAMED);
                    let mut diagnostic = Diagnostic::new(
                        &UNREFERENCED_CHAIN,
                        chain.name_span,
                        format!(
                            "chain `{}` is never used: only unreachable chains jump to it",
                            chain.name
                        ),
                    )
                    .with_primary_message("declared here")
                    .with_secondary(
                        callers[0].1.span,
                        format!(
                            "`{}` {} here, but nothing reaches `{}` either",
                            names[0],
                            if callers[0].1.goto { "goes" } else { "jumps" },
                            names[0]
                        ),
                    )
                    .with_note(format!(
                        "jumped to only from {shown}{}, which no built-in chain reaches",
                        if more > 0 {
                            format!(" and {more} more")
                        } else {
                            String::new()
                        }
                    ));
                    if callers.len() > 1 {
                        diagnostic = diagnostic
                            .with_note(format!("{} jumps in all lead here", callers.len()));
                    }
                    diagnostic
                };
                diagnostic = diagnostic.with_note(match chain.rules.len() {
                    0 => "it has no rules either; delete it".to_string(),
                    1 => "its rule never sees a packet".to_string(),
                    n => format!("none of its {n} rules ever sees a packet"),
                });
                out.push(diagnostic.in_table(&table.name, Some(&chain.name)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::test_support::findings;

    #[test]
    fn says_who_jumps_to_an_unreachable_chain() {
        let src = "*filter\n:INPUT ACCEPT [0:0]\n:USED - [0:0]\n:STALE - [0:0]\n:BELOW - [0:0]\n:KUBE-KUBELET-CANARY - [0:0]\n-A INPUT -j USED\n-A STALE -j BELOW\n-A BELOW -j BELOW\nCOMMIT\n";
        let found = findings(src, &UNREFERENCED_CHAIN);
        let messages: Vec<&str> = found.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "chain `STALE` is never used: nothing jumps to it",
                "chain `BELOW` is never used: only unreachable chains jump to it",
            ]
        );
        assert_eq!(found[1].labels[1].span.text(src), "-j BELOW");
    }

    #[test]
    fn restore_fragments_are_not_checked() {
        let fragment = "*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-SVC-X - [0:0]\n-A KUBE-SERVICES -j KUBE-SVC-X\nCOMMIT\n";
        assert!(findings(fragment, &UNREFERENCED_CHAIN).is_empty());
        let resaved = "*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -j RETURN\nCOMMIT\n";
        assert!(findings(resaved, &UNREFERENCED_CHAIN).is_empty());
        let hooked = "*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n:STALE - [0:0]\n-A PREROUTING -j KUBE-SERVICES\nCOMMIT\n";
        assert_eq!(findings(hooked, &UNREFERENCED_CHAIN).len(), 1);
    }
}
