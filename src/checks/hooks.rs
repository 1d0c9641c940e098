//! Which built-in chains (hooks) reach a chain: for the checks of
//! extensions the kernel allows only in some hooks, which it enforces for
//! every chain a built-in chain reaches, through jumps and gotos.

use std::cell::OnceCell;

use super::legacy_walk::{LEGACY_LOADS_NOTE, LegacyWalk};
use super::paths::Tree;
use crate::diagnostics::{CodeInfo, Diagnostic};
use crate::graph::ChainGraph;
use crate::model::Table;
use crate::syntax::Span;

/// The note prefix iptlint adds where `iptables-nft` would load a table
/// that `iptables-legacy` refuses.
pub const NFT_LOADS_NOTE: &str = "iptables-nft loads this table anyway";

/// How the kernel enforces where an extension may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookCheck {
    /// By the extension's hook mask: both backends check every chain a
    /// built-in chain reaches (DNAT, `-m owner`).
    Mask,
    /// By the extension's own check of the hooks it is called from:
    /// iptables-legacy runs it for every chain a built-in chain reaches,
    /// iptables-nft only for rules written in a built-in chain (`TCPMSS
    /// --clamp-mss-to-pmtu`, `-m addrtype --limit-iface-in`).
    Entry,
}

/// `A`, `A and B`, `A, B and C`.
pub fn and_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Which built-in chains reach each chain of one table.
pub struct HookReach<'g, 'a> {
    table: &'g Table<'a>,
    graph: &'g ChainGraph,
    /// The built-in chains, by chain index.
    hooks: Vec<usize>,
    /// Per chain: bit `i` set when `hooks[i]` reaches it.
    reached_by: Vec<u32>,
    /// Per built-in chain (in the order of `hooks`): shortest paths from
    /// it, made when a finding shows one. Made for every built-in chain
    /// up front, these walks of the whole table were two thirds of
    /// `invalid-target-for-table`'s instructions on a kube-proxy dump
    /// (callgrind), for findings it did not have.
    trees: Vec<OnceCell<Tree>>,
    /// The same as the legacy kernel's check walks it, and per built-in
    /// chain (in the order of `hooks`) the chains that walk reaches. Made
    /// on first use: only a rule a wrong hook reaches needs it, and walking
    /// every rule of a large table for it was most of this check's time on
    /// a dump with no such rule.
    legacy: OnceCell<(LegacyWalk, Vec<Vec<bool>>)>,
}

impl<'g, 'a> HookReach<'g, 'a> {
    pub fn new(table: &'g Table<'a>, graph: &'g ChainGraph) -> Self {
        let hooks: Vec<usize> = table
            .chains
            .iter()
            .enumerate()
            .filter(|(_, chain)| chain.builtin)
            .map(|(index, _)| index)
            .collect();
        HookReach {
            table,
            graph,
            reached_by: graph.reached_by(&hooks),
            trees: hooks.iter().map(|_| OnceCell::new()).collect(),
            hooks,
            legacy: OnceCell::new(),
        }
    }

    /// Shortest paths from `hooks[index]`.
    fn tree(&self, index: usize) -> &Tree {
        self.trees[index].get_or_init(|| Tree::new(self.graph, &[self.hooks[index]], |_, _| true))
    }

    fn legacy(&self) -> &(LegacyWalk, Vec<Vec<bool>>) {
        self.legacy.get_or_init(|| {
            let legacy = LegacyWalk::new(self.table);
            let reach = self
                .hooks
                .iter()
                .map(|&hook| legacy.reach(self.graph, &[hook]))
                .collect();
            (legacy, reach)
        })
    }

    fn hook_allowed(&self, hook: usize, allowed: &[&str]) -> bool {
        allowed.contains(&self.table.chains[hook].name.as_ref())
    }

    /// Whether the legacy kernel's check also sees rule `rule` of `chain`
    /// reached from a hook outside `allowed`.
    fn legacy_refuses(&self, chain: usize, rule: usize, allowed: &[&str]) -> bool {
        let (legacy, legacy_reach) = self.legacy();
        legacy.visits(chain, rule)
            && self
                .hooks
                .iter()
                .zip(legacy_reach)
                .any(|(&hook, reached)| reached[chain] && !self.hook_allowed(hook, allowed))
    }

    /// A built-in chain outside `allowed` that reaches `chain`, with the
    /// jump into `chain` on a shortest path from it and that path written out.
    #[allow(clippy::type_complexity)]
    fn wrong_hook(
        &self,
        chain: usize,
        allowed: &[&str],
    ) -> Option<(usize, Option<(Span, String)>)> {
        let index = (0..self.hooks.len().min(32)).find(|&index| {
            self.reached_by[chain] & (1 << index) != 0
                && !self.hook_allowed(self.hooks[index], allowed)
        })?;
        let hook = self.hooks[index];
        if hook == chain {
            return Some((hook, None));
        }
        let tree = self.tree(index);
        let jump = tree.entry_jump(self.graph, chain)?;
        let path = tree.describe(self.graph, self.table, chain)?;
        Some((hook, Some((jump.span, path))))
    }
    /// The error `info` for `what` (`` `DNAT` ``, `` `-m owner` ``), written
    /// at `span` in rule `rule` of chain `chain`, when a built-in chain
    /// outside `allowed` reaches that chain and the kernel refuses it there
    /// (see [`HookCheck`]); `None` otherwise.
    pub fn wrong_hook_diagnostic(
        &self,
        info: &'static CodeInfo,
        (chain, rule): (usize, usize),
        what: impl FnOnce() -> String,
        span: Span,
        (allowed, check): (&[&str], HookCheck),
    ) -> Option<Diagnostic> {
        let (hook, entry) = self.wrong_hook(chain, allowed)?;
        let legacy_refuses = self.legacy_refuses(chain, rule, allowed);
        let nft_refuses = hook == chain || check == HookCheck::Mask;
        if !legacy_refuses && !nft_refuses {
            return None;
        }
        let what = what();
        let hook_name = &self.table.chains[hook].name;
        let mut diagnostic = Diagnostic::new(
            info,
            span,
            if hook == chain {
                format!("{what} is not valid in {hook_name}")
            } else {
                format!(
                    "{what} in chain `{}`, which {hook_name} reaches",
                    self.table.chains[chain].name
                )
            },
        )
        .with_primary_message(format!("{what} works only from {}", and_list(allowed)));
        if let Some((span, path)) = entry {
            diagnostic = diagnostic
                .with_secondary(span, format!("reached from {hook_name} through here"))
                .with_note(format!("the path: {path}"));
        }
        const WHY: &str = "because it checks every chain a built-in chain reaches";
        Some(match (legacy_refuses, nft_refuses) {
            (true, true) => diagnostic.with_note(format!(
                "the kernel refuses the table (\"Invalid argument\") {WHY}"
            )),
            (false, _) => diagnostic
                .with_note(format!("iptables-nft refuses the table (\"Invalid argument\") {WHY}"))
                .with_note(format!(
                    "{LEGACY_LOADS_NOTE}: its check stops at a rule without conditions that accepts, drops or returns, and this rule is only reached after one"
                )),
            (true, false) => diagnostic
                .with_note(format!("iptables-legacy refuses the table (\"Invalid argument\") {WHY}"))
                .with_note(format!(
                    "{NFT_LOADS_NOTE}: it checks where {what} is used only for rules written in a built-in chain"
                )),
        })
    }
}
