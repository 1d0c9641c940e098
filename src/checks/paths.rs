//! Breadth-first trees over a table's jump graph, to say how a chain is
//! reached (`PREROUTING -> KUBE-SERVICES -> KUBE-SVC-A`) without walking long
//! paths again for every finding: each query costs at most [`KEEP`] steps,
//! however deep the chain is.

use std::collections::VecDeque;

use petgraph::Direction;
use petgraph::graph::{EdgeIndex, NodeIndex};
use petgraph::visit::EdgeRef;

use crate::graph::{ChainGraph, Jump};
use crate::model::Table;

/// Chain names shown at the end of a long path; the middle is counted.
pub const KEEP: usize = 6;

/// Shortest jump paths from a set of root chains.
pub struct Tree {
    /// The edge each chain was first reached by (`None` for roots and
    /// unreached chains).
    pub back: Vec<Option<EdgeIndex>>,
    /// Jumps from the nearest root; `u32::MAX` when unreached.
    pub depth: Vec<u32>,
    /// The order chains were reached in (`u32::MAX` when unreached).
    pub order: Vec<u32>,
    /// The root each chain was reached from.
    root: Vec<u32>,
}

impl Tree {
    /// Walk from `roots`, following jumps in rule order, only those for
    /// which `follow(calling chain, jump)` holds.
    pub fn new(graph: &ChainGraph, roots: &[usize], follow: impl Fn(usize, &Jump) -> bool) -> Tree {
        let count = graph.graph.node_count();
        let mut tree = Tree {
            back: vec![None; count],
            depth: vec![u32::MAX; count],
            order: vec![u32::MAX; count],
            root: vec![u32::MAX; count],
        };
        let mut queue = VecDeque::new();
        let mut order = 0;
        for &root in roots {
            if tree.depth[root] == u32::MAX {
                tree.depth[root] = 0;
                tree.order[root] = order;
                tree.root[root] = root as u32;
                order += 1;
                queue.push_back(root);
            }
        }
        let mut edges = Vec::new();
        while let Some(chain) = queue.pop_front() {
            edges.clear();
            edges.extend(
                graph
                    .graph
                    .edges_directed(NodeIndex::new(chain), Direction::Outgoing)
                    .filter(|edge| follow(chain, edge.weight()))
                    .map(|edge| (edge.weight().rule, edge.id(), edge.target().index())),
            );
            edges.sort_unstable_by_key(|&(rule, _, _)| rule);
            for &(_, edge, next) in &edges {
                if tree.depth[next] == u32::MAX {
                    tree.depth[next] = tree.depth[chain] + 1;
                    tree.order[next] = order;
                    tree.root[next] = tree.root[chain];
                    tree.back[next] = Some(edge);
                    order += 1;
                    queue.push_back(next);
                }
            }
        }
        tree
    }

    /// Whether `chain` was reached.
    pub fn reached(&self, chain: usize) -> bool {
        self.depth[chain] != u32::MAX
    }

    /// The root `chain` was reached from, when reached.
    pub fn root_of(&self, chain: usize) -> Option<usize> {
        self.reached(chain).then(|| self.root[chain] as usize)
    }

    /// The jump `chain` was reached by, when it is no root.
    pub fn entry_jump(&self, graph: &ChainGraph, chain: usize) -> Option<Jump> {
        self.back[chain].map(|edge| graph.graph[edge])
    }

    /// `ROOT -> A -> CHAIN`, or `ROOT -> ... (N more) ... -> X -> CHAIN`
    /// for long paths; `None` when `chain` was not reached.
    pub fn describe(&self, graph: &ChainGraph, table: &Table<'_>, chain: usize) -> Option<String> {
        let root = self.root_of(chain)?;
        let mut tail = vec![chain];
        let mut at = chain;
        while tail.len() <= KEEP {
            let Some(edge) = self.back[at] else { break };
            at = graph.graph.edge_endpoints(edge)?.0.index();
            tail.push(at);
        }
        let name = |index: usize| table.chains[index].name.as_ref();
        let reached_root = *tail.last()? == root;
        tail.reverse();
        let written = tail
            .iter()
            .map(|&index| name(index))
            .collect::<Vec<_>>()
            .join(" -> ");
        // Chains between the root and the first one written.
        let hidden = self.depth[chain] as usize + 1 - tail.len() - usize::from(!reached_root);
        Some(match (reached_root, hidden) {
            (true, _) => written,
            (false, 0) => format!("{} -> {written}", name(root)),
            (false, _) => format!("{} -> ... ({hidden} more) ... -> {written}", name(root)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::DumpGraph;
    use crate::model::build::build;

    #[test]
    fn short_and_long_paths() {
        let mut src = String::from("*filter\n:INPUT ACCEPT [0:0]\n");
        for i in 0..20 {
            src.push_str(&format!(":C{i} - [0:0]\n"));
        }
        src.push_str("-A INPUT -j C0\n");
        for i in 0..19 {
            src.push_str(&format!("-A C{i} -j C{}\n", i + 1));
        }
        src.push_str("COMMIT\n");
        let parsed = build(&src);
        let graph = DumpGraph::build(&parsed.dump);
        let (table, graph) = (&parsed.dump.tables[0], &graph.tables[0]);
        let input = table.chain_index("INPUT").unwrap();
        let tree = Tree::new(graph, &[input], |_, _| true);
        let at = |name: &str| table.chain_index(name).unwrap();
        assert_eq!(
            tree.describe(graph, table, at("C2")).unwrap(),
            "INPUT -> C0 -> C1 -> C2"
        );
        assert_eq!(
            tree.describe(graph, table, at("C19")).unwrap(),
            "INPUT -> ... (13 more) ... -> C13 -> C14 -> C15 -> C16 -> C17 -> C18 -> C19"
        );
        assert_eq!(tree.describe(graph, table, input).unwrap(), "INPUT");
        let none = Tree::new(graph, &[input], |_, jump| jump.rule > 0);
        assert!(!none.reached(at("C0")));
    }
}
