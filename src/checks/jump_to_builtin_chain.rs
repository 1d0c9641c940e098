//! `jump-to-builtin-chain`: `-j INPUT` and the like.

use super::{Check, Context, Findings};
use crate::declare_code;
use crate::diagnostics::{CodeInfo, Diagnostic};

declare_code! {
    /// ## What it does
    /// Reports a `-j` or `-g` to a built-in chain of the table (`INPUT`,
    /// `PREROUTING`, ...).
    ///
    /// ## Why it matters
    /// Built-in chains are entered only from their netfilter hook; the kernel
    /// refuses a rule that jumps to one ("Operation not supported" with
    /// nf_tables, "line N failed" with legacy iptables), and with it the whole
    /// table.
    ///
    /// ## Example
    /// ```text
    /// -A DOCKER-USER -j FORWARD
    /// ```
    ///
    /// ## How to fix
    /// Move the rules you want to share into a user chain and jump to that
    /// from every chain that needs them, or use `-j RETURN` to go back to
    /// the calling chain.
    pub static JUMP_TO_BUILTIN_CHAIN = ("IPT107", "jump-to-builtin-chain", Error, "a jump to a built-in chain, which the kernel refuses");
}

/// The `jump-to-builtin-chain` check.
pub struct JumpToBuiltinChain;

impl Check for JumpToBuiltinChain {
    fn info(&self) -> &'static CodeInfo {
        &JUMP_TO_BUILTIN_CHAIN
    }

    fn run(&self, cx: &Context<'_, '_>, out: &mut Findings) {
        for (table, graph) in cx.dump.tables.iter().zip(&cx.graph.tables) {
            // The jump graph's edges into the built-in chains are these
            // jumps: reading them, not every rule of the table, saves a
            // walk over the whole model (4 ms on a 10,000-service dump).
            // In chain and rule order, as the findings were always made.
            let mut jumps: Vec<(usize, usize)> = table
                .kind
                .builtin_chains()
                .iter()
                .filter_map(|name| table.chain_index(name))
                .flat_map(|builtin| {
                    graph
                        .callers(builtin)
                        .map(|(chain, jump)| (chain, jump.rule))
                })
                .collect();
            jumps.sort_unstable();
            for (chain, rule) in jumps {
                let chain = &table.chains[chain];
                let Some(target) = &chain.rules[rule].target else {
                    continue;
                };
                out.push(
                        Diagnostic::new(
                            &JUMP_TO_BUILTIN_CHAIN,
                            target.name_span,
                            format!("jump to built-in chain `{}`", target.name),
                        )
                        .with_primary_message("built-in chains are entered only from their hook")
                        .with_note("the kernel refuses the rule, so iptables-restore loads nothing of this table")
                        .with_note("put the shared rules in a user chain and jump to it instead")
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
    fn jumps_and_gotos_to_builtin_chains() {
        let src = "*filter\n:U - [0:0]\n-A U -j FORWARD\n-A U -g INPUT\n-A INPUT -j U\nCOMMIT\n";
        let found = findings(src, &JUMP_TO_BUILTIN_CHAIN);
        let spans: Vec<&str> = found.iter().map(|d| d.primary_span().text(src)).collect();
        assert_eq!(spans, ["FORWARD", "INPUT"]);
    }
}
