//! `jump-cycle`: chains that jump (or go) to each other in a loop.

use std::collections::VecDeque;

use petgraph::Direction;
use petgraph::graph::{EdgeIndex, NodeIndex};
use petgraph::visit::EdgeRef;

use super::chain_roles::kube_depth;
use super::legacy_walk::{LEGACY_LOADS_NOTE, LegacyWalk};
use super::paths::Tree;
use super::{Check, Context, Findings};
use crate::declare_code;
use crate::diagnostics::{CodeInfo, Diagnostic, Severity};
use crate::graph::ChainGraph;
use crate::model::Table;

declare_code! {
    /// ## What it does
    /// Reports chains that jump to each other in a loop: `A -j B`, `B -j A`,
    /// through any number of chains, with `-j` or `-g`, including a chain that
    /// jumps to itself. One finding per group of chains that all reach each
    /// other; the primary label is on the jump that closes the loop when it
    /// is entered from a built-in chain, and every other jump of the loop gets
    /// a secondary label.
    ///
    /// ## Why it matters
    /// When a built-in chain can reach the loop, the kernel refuses to load
    /// the table ("Too many links"), whatever the rules match: it checks the
    /// graph, not the packets. That is an error. A loop that no built-in chain
    /// reaches loads, and is reported as a warning: it breaks the table the
    /// day someone adds a jump into it.
    ///
    /// ## Example
    /// ```text
    /// -A KUBE-SVC-GNZBNJ2PO5MGZ6GT -j KUBE-SEP-RS4RBKLTHTF2IUXJ
    /// -A KUBE-SEP-RS4RBKLTHTF2IUXJ -j KUBE-SVC-GNZBNJ2PO5MGZ6GT
    /// ```
    ///
    /// ## How to fix
    /// Remove or redirect the jump that closes the loop. If the loop is meant
    /// to retry with other matches, unroll it into distinct chains.
    pub static JUMP_CYCLE = ("IPT102", "jump-cycle", Error, "chains that jump to each other in a loop (error when a built-in chain reaches it)");
}

/// Secondary labels shown per loop; a loop through thousands of chains gets
/// the first ones and a count.
const MAX_LOOP_LABELS: usize = 12;
/// Chain names written out per path before the middle is elided.
const MAX_PATH_NAMES: usize = 12;

/// The `jump-cycle` check.
pub struct JumpCycle;

impl Check for JumpCycle {
    fn info(&self) -> &'static CodeInfo {
        &JUMP_CYCLE
    }

    fn run(&self, cx: &Context<'_, '_>, out: &mut Findings) {
        for (table, graph) in cx.dump.tables.iter().zip(&cx.graph.tables) {
            let cycles = graph.cycles();
            if cycles.is_empty() {
                continue;
            }
            let mut walker = LoopWalker::new(table, graph, &cycles);
            for (component, chains) in cycles.iter().enumerate() {
                out.push(walker.diagnose(component, chains));
            }
        }
    }
}

/// Per-table state shared by every loop of the table, so that the work is
/// linear in the size of the graph however many loops there are.
struct LoopWalker<'t, 'a> {
    table: &'t Table<'a>,
    graph: &'t ChainGraph,
    /// Component of each chain, `usize::MAX` outside any loop.
    component: Vec<usize>,
    /// Shortest paths from the built-in chains.
    from_builtins: Tree,
    /// Scratch for the walk inside one component.
    inner_by: Vec<Option<EdgeIndex>>,
    inner_seen: Vec<usize>,
    /// Chains on a loop that the legacy kernel's check finds.
    legacy_loops: Vec<bool>,
}

impl<'t, 'a> LoopWalker<'t, 'a> {
    fn new(table: &'t Table<'a>, graph: &'t ChainGraph, cycles: &[Vec<usize>]) -> Self {
        let count = table.chains.len();
        let mut component = vec![usize::MAX; count];
        for (index, chains) in cycles.iter().enumerate() {
            for &chain in chains {
                component[chain] = index;
            }
        }
        let builtins: Vec<usize> = (0..count).filter(|&i| table.chains[i].builtin).collect();
        let from_builtins = Tree::new(graph, &builtins, |_, _| true);
        LoopWalker {
            table,
            graph,
            component,
            from_builtins,
            inner_by: vec![None; count],
            inner_seen: vec![usize::MAX; count],
            legacy_loops: LegacyWalk::new(table).loops_found(table, graph),
        }
    }

    fn name(&self, chain: usize) -> &str {
        &self.table.chains[chain].name
    }

    /// The chain where the loop is entered: the first one a walk from the
    /// built-in chains meets; for an unreachable loop, one with a caller
    /// outside the loop, preferring the chain kube-proxy would jump to first.
    fn entry(&self, component: usize, chains: &[usize]) -> usize {
        if let Some(&first) = chains
            .iter()
            .filter(|&&chain| self.from_builtins.reached(chain))
            .min_by_key(|&&chain| self.from_builtins.order[chain])
        {
            return first;
        }
        let entered_from_outside = |chain: usize| {
            self.graph
                .callers(chain)
                .any(|(caller, _)| self.component[caller] != component)
        };
        let rank = |chain: usize| (kube_depth(self.name(chain)), chain);
        chains
            .iter()
            .copied()
            .filter(|&chain| entered_from_outside(chain))
            .min_by_key(|&chain| rank(chain))
            .or_else(|| chains.iter().copied().min_by_key(|&chain| rank(chain)))
            .expect("a loop has chains")
    }

    /// The edges of a shortest loop from `entry` back to it, inside the component.
    fn shortest_loop(&mut self, component: usize, entry: usize) -> Vec<EdgeIndex> {
        let mut queue = VecDeque::from([entry]);
        self.inner_seen[entry] = component;
        while let Some(chain) = queue.pop_front() {
            for (edge, next) in sorted_out_edges(self.graph, chain) {
                if next == entry {
                    let mut edges = vec![edge];
                    let mut at = chain;
                    while at != entry {
                        let back = self.inner_by[at].expect("walked in");
                        edges.push(back);
                        at = self.source(back);
                    }
                    edges.reverse();
                    return edges;
                }
                if self.component[next] == component && self.inner_seen[next] != component {
                    self.inner_seen[next] = component;
                    self.inner_by[next] = Some(edge);
                    queue.push_back(next);
                }
            }
        }
        unreachable!("every chain of a strongly connected component lies on a loop")
    }

    fn source(&self, edge: EdgeIndex) -> usize {
        self.graph
            .graph
            .edge_endpoints(edge)
            .expect("edge")
            .0
            .index()
    }

    fn target(&self, edge: EdgeIndex) -> usize {
        self.graph
            .graph
            .edge_endpoints(edge)
            .expect("edge")
            .1
            .index()
    }

    fn diagnose(&mut self, component: usize, chains: &[usize]) -> Diagnostic {
        let entry = self.entry(component, chains);
        let edges = self.shortest_loop(component, entry);
        let closing = *edges.last().expect("a loop has a jump");
        let closing_jump = self.graph.graph[closing];
        let closing_chain = self.source(closing);
        let reachable = self.from_builtins.reached(entry);
        let mut names: Vec<&str> = edges.iter().map(|&e| self.name(self.source(e))).collect();
        names.push(self.name(entry));

        let message = if edges.len() == 1 {
            format!("chain `{}` jumps to itself", self.name(entry))
        } else if reachable {
            format!(
                "jump loop through {} chains, reachable from a built-in chain",
                edges.len()
            )
        } else {
            format!(
                "jump loop through {} chains that no built-in chain reaches",
                edges.len()
            )
        };
        let verb = |goto: bool| if goto { "goes" } else { "jumps" };
        let mut diagnostic = Diagnostic::new(&JUMP_CYCLE, closing_jump.span, message)
            .with_primary_message(format!(
                "{} back to `{}`, closing the loop",
                verb(closing_jump.goto),
                self.name(entry)
            ))
            .with_severity(if reachable {
                Severity::Error
            } else {
                Severity::Warning
            });
        for &edge in edges[..edges.len() - 1].iter().take(MAX_LOOP_LABELS) {
            let jump = self.graph.graph[edge];
            diagnostic = diagnostic.with_secondary(
                jump.span,
                format!("{} to `{}`", verb(jump.goto), self.name(self.target(edge))),
            );
        }
        diagnostic = diagnostic.with_note(format!("the loop: {}", elide(&names)));
        if edges.len() - 1 > MAX_LOOP_LABELS {
            diagnostic = diagnostic.with_note(format!(
                "{} more jumps of the loop are not labelled",
                edges.len() - 1 - MAX_LOOP_LABELS
            ));
        }
        if chains.len() > edges.len() {
            let group: Vec<&str> = chains.iter().map(|&chain| self.name(chain)).collect();
            diagnostic = diagnostic.with_note(format!(
                "{} chains in all reach each other: {}",
                chains.len(),
                elide_list(&group)
            ));
        }
        diagnostic = if reachable {
            let how = if self.table.chains[entry].builtin {
                format!("built-in chain `{}` is part of the loop", self.name(entry))
            } else {
                let path = self
                    .from_builtins
                    .describe(self.graph, self.table, entry)
                    .expect("reached");
                format!("a built-in chain reaches the loop: {path}")
            };
            if chains.iter().any(|&chain| self.legacy_loops[chain]) {
                diagnostic.with_note(format!(
                    "the kernel refuses the whole table (\"Too many links\"): {how}"
                ))
            } else {
                diagnostic
                    .with_note(format!(
                        "iptables-nft refuses the whole table (\"Too many links\"): {how}"
                    ))
                    .with_note(format!(
                        "{LEGACY_LOADS_NOTE}: its loop check stops at a rule without conditions that accepts, drops or returns, and every way into this loop comes after one"
                    ))
            }
        } else if self
            .table
            .chains
            .iter()
            .filter(|chain| chain.builtin)
            .all(|chain| chain.rules.is_empty())
        {
            diagnostic.with_note(
                "this table's built-in chains have no rules (a fragment for `iptables-restore --noflush`?): it loads on its own, but the kernel refuses it if rules already loaded jump into the loop",
            )
        } else {
            diagnostic.with_note(
                "no built-in chain reaches the loop, so the table loads; the kernel will refuse it once a jump into the loop is added",
            )
        };
        diagnostic.in_table(&self.table.name, Some(self.name(closing_chain)))
    }
}

/// Outgoing jumps of `chain` in rule order, as (edge, called chain).
fn sorted_out_edges(graph: &ChainGraph, chain: usize) -> Vec<(EdgeIndex, usize)> {
    let mut edges: Vec<(EdgeIndex, usize, usize)> = graph
        .graph
        .edges_directed(NodeIndex::new(chain), Direction::Outgoing)
        .map(|edge| (edge.id(), edge.target().index(), edge.weight().rule))
        .collect();
    edges.sort_by_key(|&(_, _, rule)| rule);
    edges
        .into_iter()
        .map(|(edge, target, _)| (edge, target))
        .collect()
}

/// `A -> B -> C`, with the middle elided for long paths.
fn elide(names: &[&str]) -> String {
    if names.len() <= MAX_PATH_NAMES {
        return names.join(" -> ");
    }
    let head = &names[..MAX_PATH_NAMES / 2];
    let tail = &names[names.len() - MAX_PATH_NAMES / 2..];
    format!(
        "{} -> ... ({} more) ... -> {}",
        head.join(" -> "),
        names.len() - MAX_PATH_NAMES,
        tail.join(" -> ")
    )
}

/// `A, B, C`, with a count for long lists.
fn elide_list(names: &[&str]) -> String {
    if names.len() <= MAX_PATH_NAMES {
        return names.join(", ");
    }
    format!(
        "{}, and {} more",
        names[..MAX_PATH_NAMES].join(", "),
        names.len() - MAX_PATH_NAMES
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::test_support::findings;

    #[test]
    fn reachable_loops_are_errors_and_start_at_the_entry() {
        let src = "*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SEP-B - [0:0]\n:KUBE-SERVICES - [0:0]\n:KUBE-SVC-A - [0:0]\n-A PREROUTING -j KUBE-SERVICES\n-A KUBE-SEP-B -j KUBE-SVC-A\n-A KUBE-SERVICES -j KUBE-SVC-A\n-A KUBE-SVC-A -j KUBE-SEP-B\nCOMMIT\n";
        let found = findings(src, &JUMP_CYCLE);
        assert_eq!(found.len(), 1);
        let d = &found[0];
        assert_eq!(d.severity, Severity::Error);
        assert_eq!(d.chain.as_deref(), Some("KUBE-SEP-B"));
        assert_eq!(d.primary_span().text(src), "-j KUBE-SVC-A");
        assert!(
            d.notes
                .contains(&"the loop: KUBE-SVC-A -> KUBE-SEP-B -> KUBE-SVC-A".to_string()),
            "{:?}",
            d.notes
        );
        assert!(
            d.notes
                .iter()
                .any(|n| n.ends_with("PREROUTING -> KUBE-SERVICES -> KUBE-SVC-A"))
        );
    }

    #[test]
    fn unreachable_loops_and_self_gotos_are_warnings() {
        let src = "*filter\n:KUBE-SEP-B - [0:0]\n:KUBE-SVC-AAAAAAAAAAAAAAAA - [0:0]\n:S - [0:0]\n-A KUBE-SEP-B -j KUBE-SVC-AAAAAAAAAAAAAAAA\n-A KUBE-SVC-AAAAAAAAAAAAAAAA -g KUBE-SEP-B\n-A S -g S\nCOMMIT\n";
        let found = findings(src, &JUMP_CYCLE);
        assert_eq!(found.len(), 2);
        assert!(found[0].notes.iter().any(|n| n.contains("--noflush")));
        // The loop is entered at the service chain, as kube-proxy would enter it.
        assert_eq!(found[0].chain.as_deref(), Some("KUBE-SEP-B"));
        assert!(found.iter().all(|d| d.severity == Severity::Warning));
        assert_eq!(
            found[0].message,
            "jump loop through 2 chains that no built-in chain reaches"
        );
        assert_eq!(found[1].message, "chain `S` jumps to itself");
        assert_eq!(found[1].primary_span().text(src), "-g S");
    }

    #[test]
    fn a_ring_of_200000_chains_is_one_finding() {
        let n = 200_000;
        let mut src = String::from("*filter\n:INPUT ACCEPT [0:0]\n");
        for i in 0..n {
            src.push_str(&format!(":C{i} - [0:0]\n"));
        }
        src.push_str("-A INPUT -j C0\n");
        for i in 0..n {
            src.push_str(&format!("-A C{i} -j C{}\n", (i + 1) % n));
        }
        src.push_str("COMMIT\n");
        let found = findings(&src, &JUMP_CYCLE);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].chain.as_deref(), Some("C199999"));
        assert_eq!(found[0].labels.len(), 1 + MAX_LOOP_LABELS);
        assert!(
            found[0].notes[0].contains("(199989 more)"),
            "{}",
            found[0].notes[0]
        );
    }
}
