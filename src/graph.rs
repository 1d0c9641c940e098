//! The jump graph of each table: chains are nodes, `-j`/`-g` rules are edges.
//!
//! Every walk here is iterative (an explicit stack or queue), so a dump with
//! 200,000 chains jumping in a line cannot overflow the stack. Strongly
//! connected components come from `components_of`, an iterative Tarjan
//! over the edges in compressed rows (`Callees`), shared with the packet
//! analysis (petgraph's Tarjan is recursive, and its Kosaraju walks the
//! linked edge lists twice).

use std::sync::OnceLock;

use petgraph::Direction;
use petgraph::graph::{DiGraph, EdgeIndex, NodeIndex};
use petgraph::visit::EdgeRef;
use rayon::prelude::*;

use crate::model::{Dump, Table};
use crate::prefetch;
use crate::syntax::Span;

/// Chains per parallel task when reading a table's jumps: enough to
/// amortise a task, few enough that a kube-proxy table splits evenly.
const PARALLEL_CHAINS: usize = 1024;

/// A jump or goto from one chain to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Jump {
    /// Index of the rule in its chain.
    pub rule: usize,
    /// 1-based line of the rule.
    pub line: u32,
    /// The rule's `-j NAME` / `-g NAME`.
    pub span: Span,
    /// Written with `-g`.
    pub goto: bool,
}

/// The jump graph of one table. Node `i` is chain `i` of the table.
#[derive(Debug, Clone)]
pub struct ChainGraph {
    /// Nodes carry the chain index; edges the jump.
    pub graph: DiGraph<usize, Jump>,
    /// Per chain: whether any built-in chain reaches it (built-in chains
    /// reach themselves).
    pub reachable: Vec<bool>,
    /// The jumps in compressed rows and the strongly connected components,
    /// made on first use: the packet analysis and `jump-cycle` both need
    /// them, and each used to make its own.
    structure: OnceLock<(Callees, Components)>,
}

impl ChainGraph {
    /// Build the graph of `table`. Jumps to undeclared chains have no edge.
    pub fn build(table: &Table<'_>) -> Self {
        // Reading every rule is the work here (each chain's rules are an
        // allocation of their own, a cache miss unless asked for ahead, see
        // `crate::prefetch`), done in parallel: 15 ms of one thread on a
        // 10,000-service dump. The jumps come back in chain and rule order,
        // the order the edges were always added in (callers and callees
        // are listed in it).
        let jumps: Vec<(usize, usize, Jump)> = table
            .chains
            .par_iter()
            .enumerate()
            .with_min_len(PARALLEL_CHAINS)
            .flat_map_iter(|(from, chain)| {
                prefetch::chain_rules(table, from + 2);
                chain
                    .rules
                    .iter()
                    .enumerate()
                    .filter_map(move |(rule_index, rule)| {
                        let (to, target) = rule.jump_target().zip(rule.target.as_ref())?;
                        let jump = Jump {
                            rule: rule_index,
                            line: rule.line,
                            span: target.span,
                            goto: target.goto,
                        };
                        Some((from, to, jump))
                    })
            })
            .collect();
        let mut graph = DiGraph::with_capacity(table.chains.len(), jumps.len());
        for index in 0..table.chains.len() {
            graph.add_node(index);
        }
        for (from, to, jump) in jumps {
            graph.add_edge(NodeIndex::new(from), NodeIndex::new(to), jump);
        }
        let roots: Vec<usize> = (0..table.chains.len())
            .filter(|&i| table.chains[i].builtin)
            .collect();
        let reachable = reach(&graph, &roots);
        ChainGraph {
            graph,
            reachable,
            structure: OnceLock::new(),
        }
    }

    /// Node of chain `index`.
    pub fn node(&self, chain: usize) -> NodeIndex {
        NodeIndex::new(chain)
    }

    /// Jumps into chain `chain`: (calling chain, jump).
    pub fn callers(&self, chain: usize) -> impl Iterator<Item = (usize, &Jump)> + '_ {
        self.graph
            .edges_directed(self.node(chain), Direction::Incoming)
            .map(|edge| (edge.source().index(), edge.weight()))
    }

    /// Jumps out of chain `chain`: (called chain, jump), in rule order.
    pub fn callees(&self, chain: usize) -> Vec<(usize, Jump)> {
        let mut out: Vec<(usize, Jump)> = self
            .graph
            .edges_directed(self.node(chain), Direction::Outgoing)
            .map(|edge| (edge.target().index(), *edge.weight()))
            .collect();
        out.sort_by_key(|(_, jump)| jump.rule);
        out
    }

    /// Groups of chains that jump to each other in a loop, each sorted by
    /// chain index; a chain that jumps to itself is a loop of one. Groups
    /// come out in order of their smallest chain index.
    pub fn cycles(&self) -> Vec<Vec<usize>> {
        let mut cycles: Vec<Vec<usize>> = self
            .components()
            .iter()
            .filter(|component| {
                component.len() > 1 || self.graph.find_edge(component[0], component[0]).is_some()
            })
            .map(|component| {
                let mut chains: Vec<usize> = component.iter().map(|node| node.index()).collect();
                chains.sort_unstable();
                chains
            })
            .collect();
        cycles.sort_unstable_by_key(|chains| chains[0]);
        cycles
    }

    /// The jumps in compressed rows.
    pub(crate) fn callee_rows(&self) -> &Callees {
        &self.structure().0
    }

    /// The strongly connected components, callees before callers (reverse
    /// topological order).
    pub fn components(&self) -> &Components {
        &self.structure().1
    }

    fn structure(&self) -> &(Callees, Components) {
        self.structure.get_or_init(|| {
            let callees = Callees::of(self);
            let components = components_of(&callees);
            (callees, components)
        })
    }

    /// Chains reachable from `start` (itself included), breadth first.
    pub fn reachable_from(&self, start: &[usize]) -> Vec<bool> {
        reach(&self.graph, start)
    }

    /// Per chain, which of `roots` reach it (each root reaches itself): bit
    /// `i` for `roots[i]`. At most 32 roots (a table's built-in chains are
    /// at most five); later ones are left out. One walk for all of them,
    /// in which a chain is visited again only when it learns of another
    /// root, instead of a walk of the whole table per root.
    pub fn reached_by(&self, roots: &[usize]) -> Vec<u32> {
        debug_assert!(roots.len() <= 32, "{} roots", roots.len());
        let mut reached_by = vec![0u32; self.graph.node_count()];
        let mut stack = Vec::with_capacity(roots.len());
        for (bit, &root) in roots.iter().take(32).enumerate() {
            reached_by[root] |= 1 << bit;
            stack.push(root);
        }
        while let Some(chain) = stack.pop() {
            let known = reached_by[chain];
            for next in self
                .graph
                .neighbors_directed(NodeIndex::new(chain), Direction::Outgoing)
            {
                let next = next.index();
                if reached_by[next] | known != reached_by[next] {
                    reached_by[next] |= known;
                    stack.push(next);
                }
            }
        }
        reached_by
    }

    /// A shortest path of jumps from any chain in `from` to `to`, as the
    /// edges taken; `None` when `to` is not reachable.
    pub fn path(&self, from: &[usize], to: usize) -> Option<Vec<EdgeIndex>> {
        let mut previous: Vec<Option<EdgeIndex>> = vec![None; self.graph.node_count()];
        let mut seen = vec![false; self.graph.node_count()];
        let mut queue = std::collections::VecDeque::new();
        for &start in from {
            seen[start] = true;
            queue.push_back(start);
        }
        while let Some(chain) = queue.pop_front() {
            if chain == to {
                let mut edges = Vec::new();
                let mut at = chain;
                while let Some(edge) = previous[at] {
                    edges.push(edge);
                    at = self
                        .graph
                        .edge_endpoints(edge)
                        .expect("edge exists")
                        .0
                        .index();
                }
                edges.reverse();
                return Some(edges);
            }
            for edge in self
                .graph
                .edges_directed(self.node(chain), Direction::Outgoing)
            {
                let next = edge.target().index();
                if !seen[next] {
                    seen[next] = true;
                    previous[next] = Some(edge.id());
                    queue.push_back(next);
                }
            }
        }
        None
    }
}

fn reach(graph: &DiGraph<usize, Jump>, roots: &[usize]) -> Vec<bool> {
    let mut seen = vec![false; graph.node_count()];
    let mut stack: Vec<usize> = Vec::with_capacity(roots.len());
    for &root in roots {
        if !seen[root] {
            seen[root] = true;
            stack.push(root);
        }
    }
    while let Some(chain) = stack.pop() {
        for next in graph.neighbors_directed(NodeIndex::new(chain), Direction::Outgoing) {
            if !seen[next.index()] {
                seen[next.index()] = true;
                stack.push(next.index());
            }
        }
    }
    seen
}

/// The graphs of every table of a dump, in the dump's table order.
#[derive(Debug, Clone)]
pub struct DumpGraph {
    /// One per table.
    pub tables: Vec<ChainGraph>,
}

impl DumpGraph {
    /// Build the graphs of all tables.
    pub fn build(dump: &Dump<'_>) -> Self {
        DumpGraph {
            tables: dump.tables.par_iter().map(ChainGraph::build).collect(),
        }
    }
}

/// The jump graph's edges in compressed rows: each chain's callees (with
/// repeats, one per jump) in one slice. Walking petgraph's linked edge
/// lists is a cache miss per edge on a large dump.
#[derive(Debug, Clone)]
pub(crate) struct Callees {
    start: Vec<u32>,
    next: Vec<u32>,
}

impl Callees {
    /// The rows of `graph`.
    pub(crate) fn of(graph: &ChainGraph) -> Self {
        let n = graph.graph.node_count();
        let mut start = vec![0u32; n + 1];
        for edge in graph.graph.raw_edges() {
            start[edge.source().index() + 1] += 1;
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut next = vec![0u32; graph.graph.edge_count()];
        for edge in graph.graph.raw_edges() {
            let from = edge.source().index();
            next[fill[from] as usize] = edge.target().index() as u32;
            fill[from] += 1;
        }
        Callees { start, next }
    }

    /// The chains `chain` jumps or goes to.
    pub(crate) fn of_chain(&self, chain: usize) -> &[u32] {
        &self.next[self.start[chain] as usize..self.start[chain + 1] as usize]
    }
}

/// Strongly connected components of a jump graph, callees before callers
/// (as Tarjan's algorithm finds them); each a slice of chains. In two vectors
/// rather than a vector per component: a kube-proxy table has tens of
/// thousands of components of one chain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Components {
    /// The chains, component after component.
    nodes: Vec<NodeIndex>,
    /// Per component, one past its last chain in `nodes`.
    ends: Vec<u32>,
}

impl Components {
    /// How many components.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are none (a table without chains).
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Component `index`, when there is one.
    pub fn get(&self, index: usize) -> Option<&[NodeIndex]> {
        (index < self.len()).then(|| &self[index])
    }

    /// The components in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &[NodeIndex]> + ExactSizeIterator {
        (0..self.len()).map(|index| &self[index])
    }
}

impl std::ops::Index<usize> for Components {
    type Output = [NodeIndex];

    fn index(&self, index: usize) -> &[NodeIndex] {
        let start = index
            .checked_sub(1)
            .map_or(0, |before| self.ends[before] as usize);
        &self.nodes[start..self.ends[index] as usize]
    }
}

/// The strongly connected components of the jump graph, callees before
/// callers (reverse topological order), by an iterative Tarjan over the
/// compressed rows: several times faster than petgraph's linked edge
/// lists on a dump with a hundred thousand jumps, and no recursion (a dump
/// with 200,000 chains in a line must work).
pub(crate) fn components_of(callees: &Callees) -> Components {
    let Callees { start, next } = callees;
    let n = start.len() - 1;
    const UNSEEN: u32 = u32::MAX;
    let mut order = vec![UNSEEN; n];
    let mut low = vec![0u32; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<u32> = Vec::new();
    // (node, position in its adjacency row)
    let mut calls: Vec<(u32, u32)> = Vec::new();
    let mut counter = 0u32;
    let mut components = Components {
        nodes: Vec::with_capacity(n),
        ends: Vec::new(),
    };
    for root in 0..n {
        if order[root] != UNSEEN {
            continue;
        }
        calls.push((root as u32, start[root]));
        order[root] = counter;
        low[root] = counter;
        counter += 1;
        stack.push(root as u32);
        on_stack[root] = true;
        while let Some(&mut (node, ref mut at)) = calls.last_mut() {
            let v = node as usize;
            if *at < start[v + 1] {
                let w = next[*at as usize] as usize;
                *at += 1;
                if order[w] == UNSEEN {
                    order[w] = counter;
                    low[w] = counter;
                    counter += 1;
                    stack.push(w as u32);
                    on_stack[w] = true;
                    calls.push((w as u32, start[w]));
                } else if on_stack[w] {
                    low[v] = low[v].min(order[w]);
                }
                continue;
            }
            calls.pop();
            if let Some(&(parent, _)) = calls.last() {
                let p = parent as usize;
                low[p] = low[p].min(low[v]);
            }
            if low[v] == order[v] {
                loop {
                    let w = stack.pop().expect("the root is on the stack") as usize;
                    on_stack[w] = false;
                    components.nodes.push(NodeIndex::new(w));
                    if w == v {
                        break;
                    }
                }
                components.ends.push(components.nodes.len() as u32);
            }
        }
    }
    components
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::build::build;

    fn graph_of(src: &str) -> (crate::model::build::Parsed<'_>, DumpGraph) {
        let parsed = build(src);
        let graph = DumpGraph::build(&parsed.dump);
        (parsed, graph)
    }

    #[test]
    fn components_are_slices_callees_first() {
        // A loop of two chains (A, B) called from INPUT, which also calls C.
        let src = "*filter\n:INPUT ACCEPT [0:0]\n:A - [0:0]\n:B - [0:0]\n:C - [0:0]\n-A INPUT -j A\n-A INPUT -j C\n-A A -j B\n-A B -j A\nCOMMIT\n";
        let (parsed, graph) = graph_of(src);
        let table = &parsed.dump.tables[0];
        let g = &graph.tables[0];
        let components = g.components();
        let names = |component: &[NodeIndex]| {
            let mut names: Vec<&str> = component
                .iter()
                .map(|node| table.chains[node.index()].name.as_ref())
                .collect();
            names.sort_unstable();
            names
        };
        let all: Vec<Vec<&str>> = components.iter().map(names).collect();
        // INPUT after both of its callees; FORWARD and OUTPUT alone.
        let position = |name: &str| all.iter().position(|c| c.contains(&name)).unwrap();
        assert!(all.contains(&vec!["A", "B"]), "{all:?}");
        assert!(position("INPUT") > position("A") && position("INPUT") > position("C"));
        assert_eq!(components.len(), 5);
        assert_eq!(components.iter().rev().count(), 5);
        assert!(components.get(5).is_none());
        assert_eq!(components.get(0), Some(&components[0]));
        assert_eq!(components.iter().map(<[NodeIndex]>::len).sum::<usize>(), 6);
        // The same components, asked for again, are not made again.
        assert!(std::ptr::eq(components, g.components()));
        assert_eq!(
            g.cycles(),
            vec![{
                let mut loop_chains = vec![
                    table.chain_index("A").unwrap(),
                    table.chain_index("B").unwrap(),
                ];
                loop_chains.sort_unstable();
                loop_chains
            }]
        );
    }

    #[test]
    fn reached_by_is_reachability_from_each_root() {
        // Two roots sharing chains, a loop reached from one of them, a
        // chain nothing reaches, and a chain reached only through the loop.
        let src = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:A - [0:0]\n:B - [0:0]\n:C - [0:0]\n:D - [0:0]\n:E - [0:0]\n-A INPUT -j A\n-A FORWARD -j B\n-A A -j B\n-A B -j C\n-A C -j B\n-A C -g E\nCOMMIT\n";
        let (parsed, graph) = graph_of(src);
        let table = &parsed.dump.tables[0];
        let g = &graph.tables[0];
        let roots: Vec<usize> = ["INPUT", "FORWARD", "OUTPUT", "D"]
            .iter()
            .map(|name| table.chain_index(name).unwrap())
            .collect();
        let reached_by = g.reached_by(&roots);
        for (bit, &root) in roots.iter().enumerate() {
            let reached: Vec<bool> = reached_by.iter().map(|m| m & (1 << bit) != 0).collect();
            assert_eq!(reached, g.reachable_from(&[root]), "root {root}");
        }
        let mask = |name: &str| reached_by[table.chain_index(name).unwrap()];
        assert_eq!(mask("E"), 0b011);
        assert_eq!(mask("A"), 0b001);
        assert_eq!(mask("OUTPUT"), 0b100);
        assert_eq!(mask("D"), 0b1000);
    }

    #[test]
    fn edges_roots_and_reachability() {
        let src = "*filter\n:INPUT ACCEPT [0:0]\n:A - [0:0]\n:B - [0:0]\n:C - [0:0]\n-A INPUT -j A\n-A A -g B\n-A C -j B\nCOMMIT\n";
        let (parsed, graph) = graph_of(src);
        let table = &parsed.dump.tables[0];
        let g = &graph.tables[0];
        let index = |name: &str| table.chain_index(name).unwrap();
        assert!(g.reachable[index("INPUT")]);
        assert!(g.reachable[index("A")]);
        assert!(g.reachable[index("B")]);
        assert!(!g.reachable[index("C")]);
        let callees = g.callees(index("A"));
        assert_eq!(callees.len(), 1);
        assert!(callees[0].1.goto);
        assert_eq!(callees[0].1.line, 7);
        assert_eq!(g.callers(index("B")).count(), 2);
        assert!(g.cycles().is_empty());
        let path = g.path(&[index("INPUT")], index("B")).unwrap();
        assert_eq!(path.len(), 2);
    }

    #[test]
    fn cycles_include_self_jumps() {
        let src = "*filter\n:A - [0:0]\n:B - [0:0]\n:S - [0:0]\n-A A -j B\n-A B -g A\n-A S -j S\nCOMMIT\n";
        let (parsed, graph) = graph_of(src);
        let table = &parsed.dump.tables[0];
        let names: Vec<Vec<&str>> = graph.tables[0]
            .cycles()
            .iter()
            .map(|c| c.iter().map(|&i| table.chains[i].name.as_ref()).collect())
            .collect();
        assert_eq!(names, vec![vec!["A", "B"], vec!["S"]]);
    }

    #[test]
    fn long_chains_of_jumps_do_not_overflow_the_stack() {
        let n = 200_000;
        let mut src = String::from("*filter\n:INPUT ACCEPT [0:0]\n");
        for i in 0..n {
            src.push_str(&format!(":C{i} - [0:0]\n"));
        }
        src.push_str("-A INPUT -j C0\n");
        for i in 0..n {
            // The last chain jumps back to the first: one loop of 200,000 chains.
            src.push_str(&format!("-A C{i} -j C{}\n", (i + 1) % n));
        }
        src.push_str("COMMIT\n");
        let (parsed, graph) = graph_of(&src);
        assert!(parsed.diagnostics.is_empty());
        let g = &graph.tables[0];
        assert!(g.reachable.iter().all(|&r| r));
        assert_eq!(g.cycles().len(), 1);
        assert_eq!(g.cycles()[0].len(), n);
    }
}
