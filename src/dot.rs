//! `iptlint dot`: the jump graph of a dump as a Graphviz drawing.
//!
//! [`build`] turns a dump, its [`DumpGraph`], the findings of `check` and a
//! source of edge shares into a [`DotGraph`]; [`crate::render::dot`] writes
//! it. One cluster per table; built-in chains are entry points with their
//! policy, user chains boxes with their rule count, one edge per jump or
//! goto (goto dashed) labelled with the rule's line and, where known, the
//! share of traffic it carries; DNAT destinations are leaves. Findings are
//! drawn: jump cycles red, unreferenced chains grey, a missing terminal rule
//! orange with a double border.
//!
//! Narrowing: `--service S` keeps one kube-proxy service (its entries,
//! `KUBE-SERVICES`, its service and endpoint chains, its destinations);
//! `--chain C --depth N` the chains within N jumps of C, both ways. A whole
//! dump of more than [`DEFAULT_COLLAPSE_ABOVE`] chains collapses each
//! service's chains into one node so that Graphviz can still lay it out.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};

use crate::collections::{HashMap, HashSet};
use std::io::Write;
use std::process::{Command, Stdio};

use clap::{Args, ValueEnum};
use codespan_reporting::term::termcolor::{ColorChoice, StandardStream};

use crate::analysis::probability::Analyzer;
use crate::analysis::services::{self, Sketch};
use crate::cli::ExitStatus;
use crate::diagnostics::{Diagnostic, Severity};
use crate::graph::{ChainGraph, DumpGraph};
use crate::lint::{self, Settings};
use crate::model::matches::StatisticMatch;
use crate::model::{Action, Dump, MatchKind, Table, TableKind};
use crate::render::dot::{Cluster, DotGraph, Edge, Marks, Node, NodeKind, to_dot};
use crate::source::SourceFile;

/// Above this many chains an un-narrowed drawing collapses services.
pub const DEFAULT_COLLAPSE_ABOVE: usize = 500;

/// Chain name prefixes of kube-proxy's per-service chains.
pub const SERVICE_CHAIN_PREFIXES: &[&str] = &[
    "KUBE-SVC-",
    "KUBE-SVL-",
    "KUBE-EXT-",
    "KUBE-FW-",
    "KUBE-XLB-",
    "KUBE-SEP-",
];

/// Output formats of `dot`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DotFormat {
    /// Graphviz DOT text.
    Dot,
    /// SVG, rendered by Graphviz's `dot` program.
    Svg,
}

/// Arguments of `iptlint dot`.
#[derive(Debug, Args)]
pub struct DotArgs {
    /// The dump; `-` reads standard input, as does nothing unless it is a terminal.
    #[arg(value_name = "FILE")]
    pub file: Option<String>,
    /// Draw only this table.
    #[arg(long, value_name = "T")]
    pub table: Option<String>,
    /// Draw only this kube-proxy service (`ns/svc:port`, `ns/svc`, or one of its chains).
    #[arg(long, value_name = "S")]
    pub service: Option<String>,
    /// Draw only the chains around this chain.
    #[arg(long, value_name = "C", conflicts_with = "service")]
    pub chain: Option<String>,
    /// With `--chain`: how many jumps away, callers and callees.
    #[arg(long, value_name = "N", default_value_t = 2, requires = "chain")]
    pub depth: usize,
    /// Output format (default: `svg` when `-o` names a `.svg` file, else `dot`).
    #[arg(long, value_enum)]
    pub format: Option<DotFormat>,
    /// Write here instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<String>,
    /// Collapse each service's chains into one node above this many chains (0: never).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_COLLAPSE_ABOVE)]
    pub collapse_above: usize,
}

/// What to draw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Focus {
    /// Everything (collapsed when large).
    All,
    /// One service.
    Service(String),
    /// The neighbourhood of a chain.
    Chain {
        /// The chain's name.
        name: String,
        /// Jumps away, both directions.
        depth: usize,
    },
}

/// Options of [`build`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Only this table.
    pub table: Option<String>,
    /// What to draw.
    pub focus: Focus,
    /// Collapse services above this many chains (0: never).
    pub collapse_above: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            table: None,
            focus: Focus::All,
            collapse_above: DEFAULT_COLLAPSE_ABOVE,
        }
    }
}

/// The share of traffic an edge carries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Share {
    /// The fraction of all packets entering the chain that take this jump
    /// (a service's endpoint share): printed `20.0%`.
    OfChain(f64),
    /// The probability that the rule matches a packet that reaches it (the
    /// rule's own statistic match): printed `p=25.0%`.
    Conditional(f64),
}

impl Share {
    /// The edge label text.
    pub fn label(self) -> String {
        match self {
            Share::OfChain(share) => format!("{:.1}%", share * 100.0),
            Share::Conditional(p) => format!("p={:.1}%", p * 100.0),
        }
    }
}

/// Where the share labels of edges come from.
pub trait EdgeShares {
    /// The share carried by the jump of rule `rule` of chain `chain` in
    /// table `table` (indices into the dump), when there is one to show.
    fn share(&self, table: usize, chain: usize, rule: usize) -> Option<Share>;
}

/// Shares from each rule's own statistic match, as the kernel applies it
/// ([`crate::model::values::Probability::effective`]): the probability of
/// the jump for a packet that reaches the rule.
pub struct RuleProbabilities<'d, 'a> {
    dump: &'d Dump<'a>,
}

impl<'d, 'a> RuleProbabilities<'d, 'a> {
    /// Shares of `dump`'s statistic rules.
    pub fn new(dump: &'d Dump<'a>) -> Self {
        RuleProbabilities { dump }
    }
}

impl EdgeShares for RuleProbabilities<'_, '_> {
    fn share(&self, table: usize, chain: usize, rule: usize) -> Option<Share> {
        let rule = self
            .dump
            .tables
            .get(table)?
            .chains
            .get(chain)?
            .rules
            .get(rule)?;
        rule.matches.iter().find_map(|m| match &m.kind {
            MatchKind::Statistic(StatisticMatch::Random(p)) => {
                let effective = p.value.effective();
                Some(Share::Conditional(if p.negated {
                    1.0 - effective
                } else {
                    effective
                }))
            }
            MatchKind::Statistic(StatisticMatch::Nth { every, negated, .. }) if *every > 0 => {
                let p = 1.0 / f64::from(*every);
                Some(Share::Conditional(if *negated { 1.0 - p } else { p }))
            }
            _ => None,
        })
    }
}

/// The shares of one analysed service's new connections.
#[derive(Default)]
struct ServiceRuleShares {
    /// Per (chain, rule): the share of the service's new connections it
    /// carries.
    rules: HashMap<(usize, usize), f64>,
    /// Chains whose every rule's share is exact (from the flows of the
    /// service's headline case): two rules jumping to the same chain each
    /// get their own share there.
    exact: HashSet<usize>,
}

/// Shares through whole kube-proxy services, from the load-balancing
/// analysis ([`crate::analysis::services`]): each jump on the way from a
/// service's main chain to an endpoint's DNAT rule (and the DNAT itself)
/// carries the share of the service's new connections (clients without
/// session affinity) that takes it (`20.0%`). On the endpoints' paths the
/// shares come from the flows of that case
/// ([`crate::analysis::probability::Analyzer::flows`]), rule by rule; where
/// the flows are not known, each hop carries the sum of the probabilities of
/// the endpoints reached through it. Other statistic rules fall back to
/// [`RuleProbabilities`]. Services are analysed lazily, only when an edge of
/// theirs is drawn, so narrowing a 10,000-service dump to one service
/// analyses one.
pub struct ServiceShares<'d, 'a> {
    src: &'d str,
    dump: &'d Dump<'a>,
    sketches: Vec<Sketch>,
    /// (table, chain) -> the services whose chains reach it.
    sketch_of: HashMap<(usize, usize), Vec<usize>>,
    /// Per analysed sketch: its shares.
    analysed: RefCell<HashMap<usize, ServiceRuleShares>>,
    fallback: RuleProbabilities<'d, 'a>,
}

impl<'d, 'a> ServiceShares<'d, 'a> {
    /// Shares of the services of `dump` (`src` is its text, `graph` its graph).
    pub fn new(src: &'d str, dump: &'d Dump<'a>, graph: &'d DumpGraph) -> Self {
        let sketches = services::sketches(dump);
        let mut owners: HashMap<(usize, usize), usize> = HashMap::default();
        for (index, sketch) in sketches.iter().enumerate() {
            for &chain in &sketch.chains {
                owners.entry((sketch.table_index, chain)).or_insert(index);
            }
        }
        // Every chain a service's chains reach (its endpoint chains, nested
        // chains, shared helpers), without entering another service's
        // chains: iterative, each service walking only its own subgraph.
        let mut sketch_of: HashMap<(usize, usize), Vec<usize>> = HashMap::default();
        for (index, sketch) in sketches.iter().enumerate() {
            let table = sketch.table_index;
            let mut seen: HashSet<usize> = sketch.chains.iter().copied().collect();
            let mut stack: Vec<usize> = sketch.chains.clone();
            while let Some(chain) = stack.pop() {
                sketch_of.entry((table, chain)).or_default().push(index);
                for (next, _) in graph.tables[table].callees(chain) {
                    let foreign = owners.get(&(table, next)).is_some_and(|&o| o != index);
                    if !foreign && seen.insert(next) {
                        stack.push(next);
                    }
                }
            }
        }
        ServiceShares {
            src,
            dump,
            sketches,
            sketch_of,
            analysed: RefCell::new(HashMap::default()),
            fallback: RuleProbabilities::new(dump),
        }
    }

    /// The services whose chains reach `chain`.
    fn candidates(&self, table: usize, chain: usize) -> &[usize] {
        self.sketch_of
            .get(&(table, chain))
            .map_or(&[], Vec::as_slice)
    }

    /// The share of rule `rule` of `chain` in service `sketch`, and whether
    /// it is that rule's own (see [`ServiceRuleShares::exact`]).
    fn share_in(&self, sketch: usize, chain: usize, rule: usize) -> Option<(f64, bool)> {
        let mut analysed = self.analysed.borrow_mut();
        let shares = analysed
            .entry(sketch)
            .or_insert_with(|| self.analyse(sketch));
        let share = shares.rules.get(&(chain, rule)).copied()?;
        Some((share, shares.exact.contains(&chain)))
    }

    fn analyse(&self, sketch: usize) -> ServiceRuleShares {
        let sketch = &self.sketches[sketch];
        let service = services::analyse(self.src, self.dump, sketch);
        let mut shares = ServiceRuleShares::default();
        for endpoint in &service.endpoints {
            let mut hops: Vec<(usize, usize)> = endpoint
                .path
                .iter()
                .map(|hop| (hop.chain, hop.rule))
                .collect();
            // A hop on the path twice (a loop) counts once.
            hops.sort_unstable();
            hops.dedup();
            for hop in hops {
                *shares.rules.entry(hop).or_default() += endpoint.probability;
            }
        }
        // Each endpoint has one path, through its busiest caller; when two
        // rules of a chain jump to the same chain (session affinity: a
        // `recent` rule and a statistic rule per endpoint), the flows tell
        // what each rule carries.
        let (Some(main), Some(case)) = (service.chain, service.headline_case()) else {
            return shares;
        };
        let table = &self.dump.tables[sketch.table_index];
        let mut analyzer = Analyzer::new(self.src, table);
        let Some(flows) = analyzer.flows(main, service.packet, &case.conditions) else {
            return shares;
        };
        let on_paths: HashSet<usize> = service
            .endpoints
            .iter()
            .flat_map(|endpoint| endpoint.path.iter().map(|hop| hop.chain))
            .collect();
        shares
            .rules
            .retain(|(chain, _), _| !on_paths.contains(chain));
        for (&(chain, rule), &taken) in &flows.rules {
            if on_paths.contains(&chain) {
                shares.rules.insert((chain, rule), taken);
            }
        }
        shares.exact = on_paths;
        shares
    }

    /// Whether another rule of `chain` jumps or goes to the chain that rule
    /// `rule` jumps or goes to.
    fn shares_its_target(&self, table: usize, chain: usize, rule: usize) -> bool {
        let rules = &self.dump.tables[table].chains[chain].rules;
        let Some(target) = rules[rule].jump_target() else {
            return false;
        };
        rules
            .iter()
            .filter(|other| other.jump_target() == Some(target))
            .count()
            > 1
    }
}

impl EdgeShares for ServiceShares<'_, '_> {
    fn share(&self, table: usize, chain: usize, rule: usize) -> Option<Share> {
        let candidates = self.candidates(table, chain);
        if candidates.is_empty() {
            return self.fallback.share(table, chain, rule);
        }
        let found: Vec<(f64, bool)> = candidates
            .iter()
            .filter_map(|&sketch| self.share_in(sketch, chain, rule))
            .collect();
        let exact = !found.is_empty() && found.iter().all(|&(_, exact)| exact);
        // A share summed along endpoint paths does not say which of two
        // rules to the same chain carries how much: such rules show only
        // their own probability.
        if found.is_empty() || (!exact && self.shares_its_target(table, chain, rule)) {
            return self.fallback.share(table, chain, rule);
        }
        Some(Share::OfChain(found.iter().map(|&(share, _)| share).sum()))
    }
}

/// Findings that change how chains are drawn, read from `check`'s
/// diagnostics by check name (`jump-cycle`, `unreferenced-chain`,
/// `missing-terminal`); other findings on a chain become its tooltip.
#[derive(Debug, Clone, Default)]
pub struct Findings {
    marks: HashMap<(usize, usize), Marks>,
    notes: BTreeMap<(usize, usize), Vec<String>>,
}

impl Findings {
    /// Read the findings of `diagnostics` (of `dump`).
    pub fn from_diagnostics(
        dump: &Dump<'_>,
        graph: &DumpGraph,
        diagnostics: &[Diagnostic],
    ) -> Self {
        let mut findings = Findings::default();
        let mut cycles_of: HashMap<usize, Vec<Vec<usize>>> = HashMap::default();
        for diagnostic in diagnostics {
            let (Some(table_name), Some(chain_name)) = (&diagnostic.table, &diagnostic.chain)
            else {
                continue;
            };
            let Some(table) = dump
                .tables
                .iter()
                .position(|t| t.name == table_name.as_str())
            else {
                continue;
            };
            let Some(chain) = dump.tables[table].chain_index(chain_name) else {
                continue;
            };
            match diagnostic.info.name {
                "jump-cycle" => {
                    // The diagnostic names one chain of the loop; colour the
                    // whole strongly connected component it belongs to.
                    let cycles = cycles_of
                        .entry(table)
                        .or_insert_with(|| graph.tables[table].cycles());
                    let members = cycles
                        .iter()
                        .find(|cycle| cycle.binary_search(&chain).is_ok())
                        .cloned()
                        .unwrap_or_else(|| vec![chain]);
                    for member in members {
                        findings.marks.entry((table, member)).or_default().cycle = true;
                    }
                }
                "unreferenced-chain" => {
                    findings
                        .marks
                        .entry((table, chain))
                        .or_default()
                        .unreferenced = true;
                }
                "missing-terminal" => {
                    findings
                        .marks
                        .entry((table, chain))
                        .or_default()
                        .missing_terminal = true;
                }
                _ => {}
            }
            findings
                .notes
                .entry((table, chain))
                .or_default()
                .push(format!(
                    "{}[{} {}]: {}",
                    diagnostic.severity,
                    diagnostic.info.code,
                    diagnostic.info.name,
                    diagnostic.message
                ));
        }
        findings
    }

    /// The marks of a chain.
    pub fn marks(&self, table: usize, chain: usize) -> Marks {
        self.marks.get(&(table, chain)).copied().unwrap_or_default()
    }

    fn tooltip(&self, table: usize, chain: usize) -> Option<String> {
        self.notes
            .get(&(table, chain))
            .map(|notes| notes.join("\n"))
    }
}

/// The per-service chains of one kube-proxy service in one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceGroup {
    /// The service port name from the comments (`ns/svc:port`), or the
    /// name of its first service chain when the dump has no comments.
    pub name: String,
    /// Its chains (service chains and endpoint chains), by index.
    pub chains: Vec<usize>,
}

/// Whether `name` is one of kube-proxy's per-service chains.
pub fn is_service_chain(name: &str) -> bool {
    SERVICE_CHAIN_PREFIXES
        .iter()
        .any(|prefix| name.starts_with(prefix))
}

/// The service port name of a kube-proxy comment: its first word, when
/// that has the `ns/svc` form.
fn service_of_comment(comment: &str) -> Option<&str> {
    let word = comment.split_whitespace().next()?;
    (word.contains('/') && !word.starts_with('/')).then_some(word)
}

/// Group `table`'s per-service chains into services: chains linked by jumps
/// among per-service chains belong to one service (union-find, linear).
pub fn service_groups(table: &Table<'_>, graph: &ChainGraph) -> Vec<ServiceGroup> {
    let count = table.chains.len();
    let service: Vec<bool> = table
        .chains
        .iter()
        .map(|chain| is_service_chain(&chain.name))
        .collect();
    let mut parent: Vec<usize> = (0..count).collect();
    fn find(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    for edge in graph.graph.raw_edges() {
        let (a, b) = (edge.source().index(), edge.target().index());
        if service[a] && service[b] {
            let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
            if ra != rb {
                parent[ra.max(rb)] = ra.min(rb);
            }
        }
    }
    let mut members: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for chain in (0..count).filter(|&c| service[c]) {
        let root = find(&mut parent, chain);
        members.entry(root).or_default().push(chain);
    }
    members
        .into_values()
        .map(|chains| {
            let mut votes: HashMap<&str, usize> = HashMap::default();
            for &chain in &chains {
                let comments = table.chains[chain]
                    .rules
                    .iter()
                    .filter_map(|rule| rule.comment())
                    .chain(graph.callers(chain).filter_map(|(caller, jump)| {
                        table.chains[caller].rules.get(jump.rule)?.comment()
                    }));
                for name in comments.filter_map(service_of_comment) {
                    *votes.entry(name).or_default() += 1;
                }
            }
            let name = votes
                .into_iter()
                .max_by(|(a, m), (b, n)| m.cmp(n).then_with(|| b.cmp(a)))
                .map(|(name, _)| name.to_string())
                .unwrap_or_else(|| {
                    // Without comments, the chain choosing among endpoints
                    // names the service, as `iptlint explain` does.
                    let rank = |name: &str| {
                        [
                            "KUBE-SVC-",
                            "KUBE-SVL-",
                            "KUBE-XLB-",
                            "KUBE-EXT-",
                            "KUBE-FW-",
                        ]
                        .iter()
                        .position(|prefix| name.starts_with(prefix))
                        .unwrap_or(usize::MAX)
                    };
                    chains
                        .iter()
                        .map(|&c| table.chains[c].name.as_ref())
                        .min_by_key(|name| (rank(name), *name))
                        .unwrap_or_default()
                        .to_string()
                });
            ServiceGroup { name, chains }
        })
        .collect()
}

/// Chains drawn as one node: one service's, one namespace's services', or
/// every service's of a table.
#[derive(Debug, Clone)]
struct CollapsedGroup {
    /// First label line: `service ns/svc:port`, `namespace ns`, `kube-proxy services`.
    title: String,
    /// Services in it.
    services: usize,
    /// Its chains.
    chains: Vec<usize>,
}

/// How far a large drawing is collapsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Collapse {
    /// Every chain drawn.
    None,
    /// One node per service.
    Service,
    /// One node per namespace (the `ns` of `ns/svc:port`).
    Namespace,
    /// One node for all services of a table.
    All,
}

/// The namespace of a service name `ns/svc:port`, when it has one.
fn namespace_of(name: &str) -> Option<&str> {
    name.split_once('/').map(|(namespace, _)| namespace)
}

/// Group `services` as `level` says.
fn collapse_groups(services: Vec<ServiceGroup>, level: Collapse) -> Vec<CollapsedGroup> {
    match level {
        Collapse::None => Vec::new(),
        Collapse::Service => services
            .into_iter()
            .map(|group| CollapsedGroup {
                title: format!("service {}", group.name),
                services: 1,
                chains: group.chains,
            })
            .collect(),
        Collapse::Namespace => {
            let mut by_namespace: BTreeMap<String, CollapsedGroup> = BTreeMap::new();
            for group in services {
                let title = namespace_of(&group.name).map_or_else(
                    || "services without a name".to_string(),
                    |namespace| format!("namespace {namespace}"),
                );
                let entry = by_namespace
                    .entry(title.clone())
                    .or_insert_with(|| CollapsedGroup {
                        title,
                        services: 0,
                        chains: Vec::new(),
                    });
                entry.services += 1;
                entry.chains.extend(group.chains);
            }
            by_namespace.into_values().collect()
        }
        Collapse::All => {
            let mut all = CollapsedGroup {
                title: "kube-proxy services".to_string(),
                services: 0,
                chains: Vec::new(),
            };
            for group in services {
                all.services += 1;
                all.chains.extend(group.chains);
            }
            if all.services == 0 {
                Vec::new()
            } else {
                vec![all]
            }
        }
    }
}

/// Which chains of one table are drawn, and how.
struct TableView {
    /// Chains drawn as themselves.
    chains: Vec<bool>,
    /// Per chain: the collapsed service node it is drawn in.
    collapsed: Vec<Option<usize>>,
    /// Collapsed services (one, a namespace's, or all).
    groups: Vec<CollapsedGroup>,
    /// Whether DNAT destinations are drawn.
    destinations: bool,
}

/// Levenshtein distance, for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = (previous + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            previous = current;
        }
    }
    row[b.len()]
}

/// Chains reachable from `start` over edges in `direction`, up to `depth` jumps
/// (`usize::MAX`: any), breadth first.
fn walk(
    graph: &ChainGraph,
    start: &[usize],
    direction: petgraph::Direction,
    depth: usize,
    allowed: impl Fn(usize) -> bool,
    seen: &mut [bool],
) {
    let mut queue: VecDeque<(usize, usize)> = start.iter().map(|&c| (c, 0)).collect();
    let mut visited = vec![false; seen.len()];
    for &c in start {
        visited[c] = true;
        seen[c] = true;
    }
    while let Some((chain, distance)) = queue.pop_front() {
        if distance >= depth {
            continue;
        }
        for next in graph.graph.neighbors_directed(graph.node(chain), direction) {
            let next = next.index();
            if !visited[next] && allowed(next) {
                visited[next] = true;
                seen[next] = true;
                queue.push_back((next, distance + 1));
            }
        }
    }
}

/// Build the drawing. Errors name what was not found (a table, service or chain).
pub fn build(
    dump: &Dump<'_>,
    graph: &DumpGraph,
    findings: &Findings,
    shares: &dyn EdgeShares,
    options: &Options,
) -> Result<DotGraph, String> {
    let tables: Vec<usize> = match &options.table {
        Some(name) => {
            let index = dump
                .tables
                .iter()
                .position(|table| table.name == name.as_str())
                .ok_or_else(|| {
                    let names: Vec<&str> = dump.tables.iter().map(|t| t.name.as_ref()).collect();
                    format!(
                        "no table `{name}` in the dump (it has: {})",
                        names.join(", ")
                    )
                })?;
            vec![index]
        }
        None => (0..dump.tables.len()).collect(),
    };
    let mut label = Vec::new();
    let mut views: Vec<(usize, TableView)> = Vec::new();
    match &options.focus {
        Focus::All => {
            let total: usize = tables.iter().map(|&t| dump.tables[t].chains.len()).sum();
            let limit = options.collapse_above;
            let services: Vec<Vec<ServiceGroup>> = if limit > 0 && total > limit {
                tables
                    .iter()
                    .map(|&t| service_groups(&dump.tables[t], &graph.tables[t]))
                    .collect()
            } else {
                tables.iter().map(|_| Vec::new()).collect()
            };
            // Collapse as little as keeps the node count at the limit: per
            // service, else per namespace, else all services in one node.
            let in_services: usize = services.iter().flatten().map(|g| g.chains.len()).sum();
            let others = total - in_services;
            let service_count: usize = services.iter().map(Vec::len).sum();
            let namespace_count: usize = services
                .iter()
                .map(|groups| {
                    let mut names: Vec<Option<&str>> =
                        groups.iter().map(|g| namespace_of(&g.name)).collect();
                    names.sort_unstable();
                    names.dedup();
                    names.len()
                })
                .sum();
            let level = if limit == 0 || total <= limit {
                Collapse::None
            } else if others + service_count <= limit {
                Collapse::Service
            } else if others + namespace_count <= limit {
                Collapse::Namespace
            } else {
                Collapse::All
            };
            for (&t, groups) in tables.iter().zip(services) {
                let count = dump.tables[t].chains.len();
                let mut view = TableView {
                    chains: vec![true; count],
                    collapsed: vec![None; count],
                    groups: collapse_groups(groups, level),
                    destinations: true,
                };
                for (index, group) in view.groups.iter().enumerate() {
                    for &chain in &group.chains {
                        view.chains[chain] = false;
                        view.collapsed[chain] = Some(index);
                    }
                }
                views.push((t, view));
            }
            let how = match level {
                Collapse::None => None,
                Collapse::Service => {
                    Some("the chains of each kube-proxy service are collapsed into one node")
                }
                Collapse::Namespace => Some(
                    "the chains of the kube-proxy services of each namespace are collapsed into one node",
                ),
                Collapse::All => Some(
                    "the chains of all kube-proxy services are collapsed into one node per table",
                ),
            };
            if let Some(how) = how {
                label.push(format!(
                    "{total} chains: too many to draw one by one, so {how} \
                     ({service_count} services)"
                ));
                label
                    .push("narrow with --service S or --chain C --depth N to see them".to_string());
            }
        }
        Focus::Service(wanted) => {
            let mut found: Vec<String> = Vec::new();
            let mut candidates: Vec<String> = Vec::new();
            for &t in &tables {
                let table = &dump.tables[t];
                let chain_graph = &graph.tables[t];
                let groups = service_groups(table, chain_graph);
                let exact: Vec<&ServiceGroup> =
                    groups.iter().filter(|g| g.name == *wanted).collect();
                let matching: Vec<&ServiceGroup> = if !exact.is_empty() {
                    exact
                } else {
                    let by_service: Vec<&ServiceGroup> = groups
                        .iter()
                        .filter(|g| {
                            g.name
                                .strip_prefix(wanted.as_str())
                                .is_some_and(|rest| rest.starts_with(':'))
                        })
                        .collect();
                    if !by_service.is_empty() {
                        by_service
                    } else {
                        groups
                            .iter()
                            .filter(|g| g.chains.iter().any(|&c| table.chains[c].name == *wanted))
                            .collect()
                    }
                };
                candidates.extend(groups.iter().map(|g| g.name.clone()));
                if matching.is_empty() {
                    continue;
                }
                found.extend(matching.iter().map(|g| g.name.clone()));
                let count = table.chains.len();
                let mut member = vec![false; count];
                for group in &matching {
                    for &chain in &group.chains {
                        member[chain] = true;
                    }
                }
                let service_chains: Vec<usize> = (0..count).filter(|&c| member[c]).collect();
                // Everything that leads to the service: KUBE-SERVICES, the
                // built-in entries, KUBE-NODEPORTS for node ports.
                let mut chains = member.clone();
                walk(
                    chain_graph,
                    &service_chains,
                    petgraph::Direction::Incoming,
                    usize::MAX,
                    |_| true,
                    &mut chains,
                );
                views.push((
                    t,
                    TableView {
                        chains,
                        collapsed: vec![None; count],
                        groups: Vec::new(),
                        destinations: true,
                    },
                ));
            }
            if found.is_empty() {
                candidates.sort();
                candidates.dedup();
                candidates.sort_by_key(|name| distance(name, wanted));
                candidates.truncate(5);
                return Err(if candidates.is_empty() {
                    format!("no service `{wanted}`: the dump has no kube-proxy service chains")
                } else {
                    format!(
                        "no service `{wanted}`; the closest are: {}",
                        candidates.join(", ")
                    )
                });
            }
            found.sort();
            found.dedup();
            label.push(format!(
                "service {}: its entries, service and endpoint chains and destinations \
                 (jumps to shared helper chains such as KUBE-MARK-MASQ not drawn)",
                found.join(", ")
            ));
        }
        Focus::Chain { name, depth } => {
            for &t in &tables {
                let table = &dump.tables[t];
                let Some(start) = table.chain_index(name) else {
                    continue;
                };
                let count = table.chains.len();
                let mut chains = vec![false; count];
                for direction in [petgraph::Direction::Outgoing, petgraph::Direction::Incoming] {
                    walk(
                        &graph.tables[t],
                        &[start],
                        direction,
                        *depth,
                        |_| true,
                        &mut chains,
                    );
                }
                views.push((
                    t,
                    TableView {
                        chains,
                        collapsed: vec![None; count],
                        groups: Vec::new(),
                        destinations: true,
                    },
                ));
            }
            if views.is_empty() {
                let mut candidates: Vec<&str> = tables
                    .iter()
                    .flat_map(|&t| dump.tables[t].chains.iter().map(|c| c.name.as_ref()))
                    .collect();
                candidates.sort_unstable();
                candidates.dedup();
                candidates.sort_by_key(|candidate| distance(candidate, name));
                candidates.truncate(5);
                return Err(format!(
                    "no chain `{name}` in {}; the closest are: {}",
                    options
                        .table
                        .as_deref()
                        .map_or("the dump".to_string(), |t| format!("table `{t}`")),
                    candidates.join(", ")
                ));
            }
            label.push(format!(
                "chain {name} and the chains up to {depth} jump{} away, callers and callees",
                if *depth == 1 { "" } else { "s" }
            ));
        }
    }
    let clusters = views
        .iter()
        .map(|(t, view)| cluster(dump, graph, findings, shares, *t, view))
        .collect();
    Ok(DotGraph { label, clusters })
}

fn chain_node_id(table: usize, chain: usize) -> String {
    format!("t{table}_c{chain}")
}

fn cluster(
    dump: &Dump<'_>,
    graph: &DumpGraph,
    findings: &Findings,
    shares: &dyn EdgeShares,
    t: usize,
    view: &TableView,
) -> Cluster {
    let table = &dump.tables[t];
    let chain_graph = &graph.tables[t];
    let cycles: HashSet<usize> = (0..table.chains.len())
        .filter(|&c| findings.marks(t, c).cycle)
        .collect();
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    // The service each per-service chain belongs to, shown under its name.
    let named_groups = if table.kind == TableKind::Nat {
        service_groups(table, chain_graph)
    } else {
        Vec::new()
    };
    let mut service_of: HashMap<usize, &str> = HashMap::default();
    for group in &named_groups {
        for &chain in &group.chains {
            service_of.insert(chain, group.name.as_str());
        }
    }
    for (index, chain) in table.chains.iter().enumerate() {
        if !view.chains[index] {
            continue;
        }
        let marks = findings.marks(t, index);
        let mut lines = vec![chain.name.to_string()];
        let kind = if chain.builtin {
            lines.push(format!("policy {}", chain.policy_name()));
            NodeKind::Entry
        } else {
            let rules = chain.rules.len();
            lines.push(format!("{rules} rule{}", if rules == 1 { "" } else { "s" }));
            if !chain.name.starts_with("KUBE-SEP-")
                && let Some(service) = service_of.get(&index)
                && *service != chain.name
            {
                lines.push((*service).to_string());
            }
            NodeKind::Chain
        };
        if marks.cycle {
            lines.push("jump cycle".to_string());
        }
        if marks.unreferenced {
            lines.push("unreferenced".to_string());
        }
        if marks.missing_terminal {
            lines.push("missing terminal rule".to_string());
        }
        nodes.push(Node {
            id: chain_node_id(t, index),
            lines,
            kind,
            marks,
            tooltip: findings.tooltip(t, index),
        });
    }
    for (index, group) in view.groups.iter().enumerate() {
        let mut marks = Marks::default();
        let mut notes = Vec::new();
        for &chain in &group.chains {
            let chain_marks = findings.marks(t, chain);
            marks.cycle |= chain_marks.cycle;
            marks.unreferenced |= chain_marks.unreferenced;
            marks.missing_terminal |= chain_marks.missing_terminal;
            if let Some(tooltip) = findings.tooltip(t, chain) {
                notes.push(format!("{}: {tooltip}", table.chains[chain].name));
            }
        }
        let endpoints = group
            .chains
            .iter()
            .filter(|&&c| table.chains[c].name.starts_with("KUBE-SEP-"))
            .count();
        let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        let mut counts = Vec::new();
        if group.services != 1 || !group.title.starts_with("service ") {
            counts.push(plural(group.services, "service"));
        }
        counts.push(plural(group.chains.len(), "chain"));
        counts.push(plural(endpoints, "endpoint"));
        let mut lines = vec![group.title.clone(), counts.join(", ")];
        if marks.cycle {
            lines.push("jump cycle".to_string());
        }
        if marks.unreferenced {
            lines.push("unreferenced".to_string());
        }
        if marks.missing_terminal {
            lines.push("missing terminal rule".to_string());
        }
        nodes.push(Node {
            id: format!("t{t}_s{index}"),
            lines,
            kind: NodeKind::Service,
            marks,
            tooltip: (!notes.is_empty()).then(|| {
                const SHOWN: usize = 20;
                let more = notes.len().saturating_sub(SHOWN);
                notes.truncate(SHOWN);
                if more > 0 {
                    notes.push(format!("... and {more} more"));
                }
                notes.join("\n")
            }),
        });
    }
    let node_of = |chain: usize| -> Option<String> {
        if view.chains[chain] {
            Some(chain_node_id(t, chain))
        } else {
            view.collapsed[chain].map(|group| format!("t{t}_s{group}"))
        }
    };
    // Edges between drawn nodes. Between collapsed nodes several jumps make
    // one edge, so that a collapsed drawing stays small.
    let mut merged: BTreeMap<(String, String, bool), (usize, u32, bool)> = BTreeMap::new();
    for from in 0..table.chains.len() {
        let Some(from_node) = node_of(from) else {
            continue;
        };
        for (to, jump) in chain_graph.callees(from) {
            let Some(to_node) = node_of(to) else { continue };
            let cycle = cycles.contains(&from) && cycles.contains(&to);
            if view.chains[from] && view.chains[to] {
                let mut lines = vec![format!("line {}", jump.line)];
                if let Some(share) = shares.share(t, from, jump.rule) {
                    lines.push(share.label());
                }
                edges.push(Edge {
                    from: from_node.clone(),
                    to: to_node,
                    lines,
                    goto: jump.goto,
                    cycle,
                });
            } else if from_node != to_node {
                let entry = merged
                    .entry((from_node.clone(), to_node, jump.goto))
                    .or_insert((0, jump.line, false));
                entry.0 += 1;
                entry.2 |= cycle;
            }
        }
    }
    for ((from, to, goto), (count, line, cycle)) in merged {
        edges.push(Edge {
            from,
            to,
            lines: vec![if count == 1 {
                format!("line {line}")
            } else {
                format!("{count} jumps")
            }],
            goto,
            cycle,
        });
    }
    if view.destinations {
        let mut destinations: BTreeMap<String, String> = BTreeMap::new();
        for (index, chain) in table.chains.iter().enumerate() {
            if !view.chains[index] {
                continue;
            }
            for (rule_index, rule) in chain.rules.iter().enumerate() {
                let Some(Action::Dnat(addresses)) = rule.target.as_ref().map(|t| &t.action) else {
                    continue;
                };
                let mut lines = vec![format!("line {} DNAT", rule.line)];
                if let Some(share) = shares.share(t, index, rule_index) {
                    lines.push(share.label());
                }
                for address in addresses {
                    let text = address.to_string();
                    let next = destinations.len();
                    let id = destinations
                        .entry(text.clone())
                        .or_insert_with(|| format!("t{t}_d{next}"))
                        .clone();
                    edges.push(Edge {
                        from: chain_node_id(t, index),
                        to: id,
                        lines: lines.clone(),
                        goto: false,
                        cycle: false,
                    });
                }
            }
        }
        let mut leaves: Vec<(String, String)> = destinations.into_iter().collect();
        leaves.sort_by(|a, b| a.1.len().cmp(&b.1.len()).then_with(|| a.1.cmp(&b.1)));
        for (text, id) in leaves {
            nodes.push(Node {
                id,
                lines: vec![text],
                kind: NodeKind::Destination,
                marks: Marks::default(),
                tooltip: None,
            });
        }
    }
    let rules = table.rule_count();
    Cluster {
        name: table.name.to_string(),
        label: format!(
            "table {} ({} chain{}, {rules} rule{})",
            table.name,
            table.chains.len(),
            if table.chains.len() == 1 { "" } else { "s" },
            if rules == 1 { "" } else { "s" }
        ),
        nodes,
        edges,
    }
}

/// Render DOT text to SVG with Graphviz's `dot` program.
pub fn render_svg(dot: &str) -> Result<Vec<u8>, String> {
    let mut child = match Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(
                "SVG output needs Graphviz's `dot` program, which is not installed: \
                 install Graphviz (`apt-get install graphviz`, `dnf install graphviz`, \
                 `brew install graphviz`; see https://graphviz.org/download/), \
                 or write DOT with `--format dot` and render it elsewhere"
                    .to_string(),
            );
        }
        Err(error) => return Err(format!("cannot run Graphviz's `dot`: {error}")),
    };
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let text = dot.to_string();
    // Feed stdin from another thread: `dot` may fill its stdout pipe before
    // it has read all of its input.
    let feeder = std::thread::spawn(move || stdin.write_all(text.as_bytes()));
    let output = child
        .wait_with_output()
        .map_err(|error| format!("Graphviz's `dot` failed: {error}"))?;
    let _ = feeder.join();
    if !output.status.success() {
        return Err(format!(
            "Graphviz's `dot` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(output.stdout)
}

/// Run `iptlint dot`.
pub fn run(args: DotArgs) -> std::io::Result<ExitStatus> {
    if args.file.is_none()
        && let Some(refusal) = crate::source::terminal_stdin_refusal("dot")
    {
        eprintln!("iptlint: {refusal}");
        return Ok(ExitStatus::Error);
    }
    let path = args.file.clone().unwrap_or_else(|| "-".to_string());
    let source = match SourceFile::read(&path) {
        Ok(source) => source,
        Err(error) => {
            let name = if path == "-" { "<stdin>" } else { &path };
            eprintln!("iptlint: cannot read `{name}`: {error}");
            return Ok(ExitStatus::Error);
        }
    };
    let options = Options {
        table: args.table.clone(),
        focus: match (&args.service, &args.chain) {
            (Some(service), _) => Focus::Service(service.clone()),
            (None, Some(chain)) => Focus::Chain {
                name: chain.clone(),
                depth: args.depth,
            },
            (None, None) => Focus::All,
        },
        collapse_above: args.collapse_above,
    };
    // The model `check` read is drawn before it is freed: one parse.
    let settings = Settings {
        keep_memory_until_exit: true,
        ..Settings::default()
    };
    let (diagnostics, drawn) = lint::check_source_with(&source, &settings, |diagnostics, model| {
        let (dump, graph) = model?;
        let findings = Findings::from_diagnostics(dump, graph, diagnostics);
        let shares = ServiceShares::new(&source.text, dump, graph);
        Some(self::build(dump, graph, &findings, &shares, &options).map(|d| to_dot(&d)))
    });
    let text = match drawn {
        Some(Ok(text)) => text,
        Some(Err(message)) => {
            eprintln!("iptlint: {message}");
            return Ok(ExitStatus::Error);
        }
        None => {
            let errors = lint::FileReport {
                source,
                diagnostics: diagnostics
                    .into_iter()
                    .filter(|d| d.severity == Severity::Error)
                    .collect(),
            };
            let mut stderr = StandardStream::stderr(ColorChoice::Auto);
            crate::render::human::write_reports(&mut stderr, &[errors], false)?;
            eprintln!("iptlint: cannot draw a dump that does not parse");
            return Ok(ExitStatus::Error);
        }
    };
    let format = args.format.unwrap_or_else(|| {
        if args
            .output
            .as_deref()
            .is_some_and(|o| o.to_ascii_lowercase().ends_with(".svg"))
        {
            DotFormat::Svg
        } else {
            DotFormat::Dot
        }
    });
    let bytes = match format {
        DotFormat::Dot => text.into_bytes(),
        DotFormat::Svg => match render_svg(&text) {
            Ok(svg) => svg,
            Err(message) => {
                eprintln!("iptlint: {message}");
                return Ok(ExitStatus::Error);
            }
        },
    };
    match &args.output {
        Some(path) => {
            if let Err(error) = std::fs::write(path, &bytes) {
                eprintln!("iptlint: cannot write `{path}`: {error}");
                return Ok(ExitStatus::Error);
            }
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(&bytes)?;
            out.flush()?;
        }
    }
    Ok(ExitStatus::Clean)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::declare_code;
    use crate::diagnostics::CodeInfo;
    use crate::syntax::Span;

    declare_code! {
        /// Stand-in for the check of that name.
        static CYCLE = ("IPT900", "jump-cycle", Error, "test");
    }
    declare_code! {
        /// Stand-in for the check of that name.
        static UNREFERENCED = ("IPT901", "unreferenced-chain", Warning, "test");
    }
    declare_code! {
        /// Stand-in for the check of that name.
        static MISSING = ("IPT902", "missing-terminal", Warning, "test");
    }
    declare_code! {
        /// Some other check.
        static OTHER = ("IPT903", "other-check", Note, "test");
    }

    const DUMP: &str = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n:LOOP-A - [0:0]\n:LOOP-B - [0:0]\n:LOOP-C - [0:0]\n:STALE - [0:0]\n:LOGDROP - [0:0]\n-A INPUT -j LOOP-A\n-A LOOP-A -j LOOP-B\n-A LOOP-B -j LOOP-C\n-A LOOP-C -g LOOP-A\n-A FORWARD -g LOGDROP\n-A LOGDROP -j LOG\nCOMMIT\n";

    fn diagnostic(info: &'static CodeInfo, chain: &str) -> Diagnostic {
        Diagnostic::new(info, Span::default(), format!("{} \"here\"", info.name))
            .in_table("filter", Some(chain))
    }

    #[test]
    fn findings_colour_whole_cycles_and_flag_chains() {
        let parsed = crate::model::build::build(DUMP);
        let graph = DumpGraph::build(&parsed.dump);
        let diagnostics = vec![
            // One diagnostic per loop, on one of its chains.
            diagnostic(&CYCLE, "LOOP-B"),
            diagnostic(&UNREFERENCED, "STALE"),
            diagnostic(&MISSING, "LOGDROP"),
            diagnostic(&OTHER, "LOGDROP"),
            // Unknown chains and tables are ignored, not fatal.
            diagnostic(&OTHER, "NO-SUCH-CHAIN"),
            Diagnostic::new(&OTHER, Span::default(), "x").in_table("nat", Some("X")),
        ];
        let findings = Findings::from_diagnostics(&parsed.dump, &graph, &diagnostics);
        let table = &parsed.dump.tables[0];
        let marks = |name: &str| findings.marks(0, table.chain_index(name).unwrap());
        for name in ["LOOP-A", "LOOP-B", "LOOP-C"] {
            assert!(marks(name).cycle, "{name}");
        }
        assert!(!marks("INPUT").cycle);
        assert!(marks("STALE").unreferenced && !marks("STALE").cycle);
        assert!(marks("LOGDROP").missing_terminal);

        let drawing = build(
            &parsed.dump,
            &graph,
            &findings,
            &RuleProbabilities::new(&parsed.dump),
            &Options::default(),
        )
        .unwrap();
        let node = |name: &str| {
            drawing
                .nodes()
                .find(|n| n.lines[0] == name)
                .unwrap_or_else(|| panic!("no node {name}"))
        };
        assert!(node("LOOP-C").lines.contains(&"jump cycle".to_string()));
        assert!(node("STALE").lines.contains(&"unreferenced".to_string()));
        assert!(
            node("LOGDROP")
                .lines
                .contains(&"missing terminal rule".to_string())
        );
        let tooltip = node("LOGDROP").tooltip.clone().unwrap();
        assert!(
            tooltip.contains("note[IPT903 other-check]: other-check \"here\""),
            "{tooltip}"
        );
        // Edges inside the loop are red, the entry into it is not.
        let red: Vec<(&str, &str)> = drawing
            .edges()
            .filter(|e| e.cycle)
            .map(|e| {
                let name =
                    |id: &str| drawing.nodes().find(|n| n.id == id).unwrap().lines[0].as_str();
                (name(&e.from), name(&e.to))
            })
            .collect();
        assert_eq!(
            red,
            vec![
                ("LOOP-A", "LOOP-B"),
                ("LOOP-B", "LOOP-C"),
                ("LOOP-C", "LOOP-A")
            ]
        );
        let text = to_dot(&drawing);
        let line_of = |name: &str| {
            text.lines()
                .find(|l| l.contains(&format!("label=\"{name}\\n")))
                .unwrap()
                .to_string()
        };
        assert!(line_of("LOOP-A").contains("color=\"red\""));
        assert!(line_of("STALE").contains("fillcolor=\"grey90\""));
        assert!(line_of("LOGDROP").contains("peripheries=2"));
        assert!(!line_of("INPUT").contains("red"));
    }

    #[test]
    fn rule_probabilities_use_the_kernel_value() {
        let dump = "*nat\n:PREROUTING ACCEPT [0:0]\n:S - [0:0]\n:E - [0:0]\n-A S -m statistic --mode random --probability 0.33333 -j E\n-A S -m statistic --mode random ! --probability 0.25 -j E\n-A S -m statistic --mode nth --every 4 --packet 0 -j E\n-A S -j E\nCOMMIT\n";
        let parsed = crate::model::build::build(dump);
        assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
        let shares = RuleProbabilities::new(&parsed.dump);
        let s = parsed.dump.tables[0].chain_index("S").unwrap();
        let Some(Share::Conditional(p)) = shares.share(0, s, 0) else {
            panic!()
        };
        assert_eq!(p, (0.33333f64 * 2f64.powi(31)).round() / 2f64.powi(31));
        assert_ne!(p, 0.33333);
        assert_eq!(shares.share(0, s, 1), Some(Share::Conditional(0.75)));
        assert_eq!(shares.share(0, s, 2), Some(Share::Conditional(0.25)));
        assert_eq!(shares.share(0, s, 3), None);
        assert_eq!(Share::Conditional(p).label(), "p=33.3%");
        assert_eq!(Share::OfChain(0.2000000002).label(), "20.0%");
    }
}
