//! How the legacy iptables kernel (`ip_tables`, used by `iptables-legacy`)
//! walks a table when it checks it for loops and for targets used from the
//! wrong hook, where that differs from the nf_tables backend.
//!
//! The legacy check (`mark_source_chains` in the kernel) follows each chain
//! rule by rule from every hook, chasing jumps and gotos, but treats a rule
//! with no condition at all and a standard verdict (ACCEPT, DROP, RETURN,
//! QUEUE) as the end of the chain: rules after it are never visited, so a
//! loop or a misplaced DNAT reachable only through them is not noticed and
//! the table loads. nf_tables checks every rule, so `iptables-nft` refuses
//! the same table. Both were observed with iptables 1.8.9 on Linux 6.x (see
//! `tests/kernel_graph_agreement.rs`).
//!
//! "No condition" is the kernel's structural notion: no match module at all
//! (a `-m comment` counts as one), no `-i`/`-o`, no `-f`, `-p` absent or
//! `all`, and `-s`/`-d` absent or `/0`.

use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

use crate::graph::ChainGraph;
use crate::model::{Action, AddressMatch, Negatable, Protocol, Rule, Table};

/// The note prefix iptlint adds where `iptables-legacy` would load a table
/// that `iptables-nft` refuses.
pub const LEGACY_LOADS_NOTE: &str = "iptables-legacy loads this table anyway";

/// Whether the legacy kernel stops walking a chain at `rule`.
pub fn stops_legacy_walk(rule: &Rule<'_>) -> bool {
    let verdict = rule.target.as_ref().is_some_and(|target| {
        matches!(
            target.action,
            Action::Accept | Action::Drop | Action::Return
        ) || target.name == "QUEUE"
    });
    let any_address = |address: &Option<Negatable<AddressMatch>>| {
        address
            .as_ref()
            .is_none_or(|address| !address.negated && address.value.is_any())
    };
    verdict
        && rule.matches.is_empty()
        && rule.fragment.is_none()
        && rule.in_interface.is_none()
        && rule.out_interface.is_none()
        && rule
            .protocol
            .as_ref()
            .is_none_or(|p| !p.negated && p.value == Protocol::All)
        && any_address(&rule.source)
        && any_address(&rule.destination)
}

/// Which rules of one table the legacy kernel's check visits.
pub struct LegacyWalk {
    /// Per chain: the index of the first rule the walk stops at (the rule
    /// itself is visited, later ones are not), or the number of rules.
    stop: Vec<usize>,
}

impl LegacyWalk {
    /// The walk of `table`.
    pub fn new(table: &Table<'_>) -> Self {
        LegacyWalk {
            stop: table
                .chains
                .iter()
                .map(|chain| {
                    chain
                        .rules
                        .iter()
                        .position(stops_legacy_walk)
                        .unwrap_or(chain.rules.len())
                })
                .collect(),
        }
    }

    /// Whether rule `rule` of chain `chain` is visited (when the chain is).
    pub fn visits(&self, chain: usize, rule: usize) -> bool {
        rule <= self.stop[chain]
    }

    /// The line-order index of the rule the walk of `chain` stops at, when
    /// one stops it before its end.
    pub fn stop(&self, chain: usize, rules: usize) -> Option<usize> {
        (self.stop[chain] < rules).then_some(self.stop[chain])
    }

    /// Chains the walk reaches from `roots`.
    pub fn reach(&self, graph: &ChainGraph, roots: &[usize]) -> Vec<bool> {
        let mut seen = vec![false; graph.graph.node_count()];
        let mut stack = Vec::new();
        for &root in roots {
            if !seen[root] {
                seen[root] = true;
                stack.push(root);
            }
        }
        while let Some(chain) = stack.pop() {
            for edge in graph
                .graph
                .edges_directed(NodeIndex::new(chain), Direction::Outgoing)
            {
                let next = edge.target().index();
                if !seen[next] && self.visits(chain, edge.weight().rule) {
                    seen[next] = true;
                    stack.push(next);
                }
            }
        }
        seen
    }

    /// Chains on a loop that the legacy check finds: a loop of visited jumps
    /// among chains the walk reaches from the built-in chains.
    pub fn loops_found(&self, table: &Table<'_>, graph: &ChainGraph) -> Vec<bool> {
        let roots: Vec<usize> = (0..table.chains.len())
            .filter(|&i| table.chains[i].builtin)
            .collect();
        let reached = self.reach(graph, &roots);
        let mut visible: DiGraph<(), ()> = DiGraph::with_capacity(reached.len(), 0);
        for _ in 0..reached.len() {
            visible.add_node(());
        }
        for edge in graph.graph.edge_references() {
            let (from, to) = (edge.source().index(), edge.target().index());
            if reached[from] && self.visits(from, edge.weight().rule) {
                visible.add_edge(NodeIndex::new(from), NodeIndex::new(to), ());
            }
        }
        let mut on_loop = vec![false; reached.len()];
        for component in petgraph::algo::kosaraju_scc(&visible) {
            if component.len() > 1 || visible.find_edge(component[0], component[0]).is_some() {
                for node in component {
                    on_loop[node.index()] = true;
                }
            }
        }
        on_loop
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::build::build;

    fn first_rule_stops(line: &str) -> bool {
        let src = format!("*filter\n{line}\nCOMMIT\n");
        let parsed = build(&src);
        stops_legacy_walk(&parsed.dump.tables[0].chains[0].rules[0])
    }

    #[test]
    fn structurally_unconditional_verdicts_stop_the_walk() {
        assert!(first_rule_stops("-A INPUT -j ACCEPT"));
        assert!(first_rule_stops("-A INPUT -s 0.0.0.0/0 -j DROP"));
        assert!(first_rule_stops("-A INPUT -p all -j RETURN"));
        assert!(!first_rule_stops(
            "-A INPUT -m comment --comment x -j RETURN"
        ));
        assert!(!first_rule_stops("-A INPUT -i + -j ACCEPT"));
        assert!(!first_rule_stops("-A INPUT -j REJECT"));
        assert!(!first_rule_stops("-A INPUT ! -s 0.0.0.0/0 -j ACCEPT"));
    }
}
