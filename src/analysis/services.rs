//! kube-proxy services in a nat table, and where their traffic goes.
//!
//! A service port is found from its entries (the rules of `KUBE-SERVICES`
//! for its cluster, external and load-balancer IPs, and of `KUBE-NODEPORTS`
//! for its node port) and from its chains: `KUBE-SVC-*` (cluster traffic
//! policy), `KUBE-SVL-*` (local policy), `KUBE-EXT-*` (external traffic),
//! `KUBE-FW-*` (load-balancer source ranges) and the older `KUBE-XLB-*`.
//! kube-proxy names all of them with the same hash of the service port name
//! and protocol, so they are grouped by that suffix, with or without
//! comments (kube-proxy drops most comments above 1000 endpoints). The
//! service is named from the comments (`ns/svc:port`) when there are any,
//! otherwise by its main chain.
//!
//! Its endpoints and their exact shares come from
//! [`Analyzer`]: the distribution of a new
//! connection to its cluster IP entering its main chain (`KUBE-SVC-*`, or
//! `KUBE-SVL-*`/`KUBE-XLB-*` when there is none), for a client without
//! session affinity.

use crate::collections::HashMap;
use std::net::IpAddr;

use rayon::prelude::*;

use super::probability::{
    Analyzer, Case, ConditionKind, Flows, Literal, Outcome, Packet, Subject, describe_all,
};
use crate::graph::DumpGraph;
use crate::model::matches::{MatchKind, RecentAction, StatisticMatch};
use crate::model::targets::NatAddress;
use crate::model::values::{PROBABILITY_SCALE, Probability};
use crate::model::{Action, Dump, Protocol, Rule, Table, TableKind};
use crate::prefetch;
use crate::syntax::Span;

/// Prefixes of the chains kube-proxy makes per service port.
pub const SERVICE_CHAIN_PREFIXES: [&str; 5] = [
    "KUBE-SVC-",
    "KUBE-SVL-",
    "KUBE-EXT-",
    "KUBE-FW-",
    "KUBE-XLB-",
];

/// Chains whose jumps to service chains are a service's entries:
/// kube-proxy's, and the first iptables proxier's portals (2015).
pub const ENTRY_CHAINS: [&str; 4] = [
    "KUBE-SERVICES",
    "KUBE-NODEPORTS",
    "KUBE-PORTALS-CONTAINER",
    "KUBE-PORTALS-HOST",
];

/// Prefixes of the chains that choose among endpoints, most preferred first.
const MAIN_CHAIN_PREFIXES: [&str; 3] = ["KUBE-SVC-", "KUBE-SVL-", "KUBE-XLB-"];

/// Shares and leaks smaller than this are floating-point noise.
pub const EPSILON: f64 = 1e-12;

/// The hash suffix of a per-service chain name (`KUBE-SVC-ABC` -> `ABC`).
pub fn service_chain_key(name: &str) -> Option<&str> {
    SERVICE_CHAIN_PREFIXES
        .iter()
        .find_map(|prefix| name.strip_prefix(prefix))
        .filter(|key| !key.is_empty())
}

/// The service port name in a kube-proxy comment: `ns/svc:port` from
/// `"ns/svc:port cluster IP"`, `"ns/svc:port -> 10.0.0.5:80"`,
/// `ns/svc:port`, `"ns/svc:port has no endpoints"`.
pub fn service_name_from_comment(comment: &str) -> Option<&str> {
    let text = comment.split(" -> ").next().unwrap_or(comment);
    let text = [
        " cluster IP",
        " external IP",
        " loadbalancer IP",
        " has no endpoints",
        " has no local endpoints",
    ]
    .iter()
    .find_map(|suffix| text.strip_suffix(suffix))
    .unwrap_or(text);
    let (namespace, rest) = text.split_once('/')?;
    let valid = !namespace.is_empty()
        && !rest.is_empty()
        && !text.contains(char::is_whitespace)
        && !rest.contains('/');
    valid.then_some(text)
}

/// How traffic enters a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// `KUBE-SERVICES -d CLUSTER_IP`.
    ClusterIp,
    /// `KUBE-SERVICES -d EXTERNAL_IP`.
    ExternalIp,
    /// `KUBE-SERVICES -d LOAD_BALANCER_IP`.
    LoadBalancer,
    /// `KUBE-NODEPORTS --dport NODE_PORT`.
    NodePort,
}

impl EntryKind {
    /// In words: `cluster IP`, `node port` ...
    pub fn label(self) -> &'static str {
        match self {
            EntryKind::ClusterIp => "cluster IP",
            EntryKind::ExternalIp => "external IP",
            EntryKind::LoadBalancer => "load-balancer IP",
            EntryKind::NodePort => "node port",
        }
    }
}

/// A rule that sends a service's traffic into its chains.
#[derive(Debug, Clone)]
pub struct Entry {
    /// What kind of address it serves.
    pub kind: EntryKind,
    /// The chain holding the rule (`KUBE-SERVICES`, `KUBE-NODEPORTS`).
    pub chain: usize,
    /// Its name.
    pub chain_name: String,
    /// Rule index in that chain.
    pub rule: usize,
    /// 1-based line of the rule.
    pub line: u32,
    /// The rule's `-j`/`-g`.
    pub span: Span,
    /// The chain it jumps to.
    pub target: usize,
    /// Its name.
    pub target_name: String,
    /// What is known of a new connection it sends.
    pub packet: Packet,
    /// Conditions of the entry rule that the packet does not decide (legacy
    /// external-IP rules test the source type, for example).
    pub conditions: Vec<Literal>,
    /// The fate of such a connection entering `target`, per case.
    pub cases: Vec<Case>,
}

/// One step of a path: rule `rule` of chain `chain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hop {
    /// Chain index.
    pub chain: usize,
    /// Rule index in the chain.
    pub rule: usize,
    /// 1-based line.
    pub line: u32,
}

/// Where part of a service's traffic is DNATed.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The chain of the DNAT rule (`KUBE-SEP-*`).
    pub chain: usize,
    /// Its name.
    pub chain_name: String,
    /// Rule index of the DNAT rule.
    pub rule: usize,
    /// 1-based line of the DNAT rule.
    pub line: u32,
    /// The DNAT rule's target, for labels.
    pub span: Span,
    /// The first `--to-destination`.
    pub destination: Option<NatAddress>,
    /// The exact probability that a new connection entering the main chain
    /// ends here.
    pub probability: f64,
    /// The jumps from the main chain to the DNAT rule, the DNAT rule last.
    pub path: Vec<Hop>,
    /// The DNAT rule records the client for session affinity (`-m recent --set`).
    pub affinity: bool,
    /// When the endpoint's chain marks the connection for masquerade
    /// (`KUBE-MARK-MASQ`), in words.
    pub masquerade: Option<String>,
    /// Packet counter of the DNAT rule (`iptables-save -c`).
    pub dnat_packets: Option<u64>,
    /// Packet counter of the main chain's rule that jumps towards the
    /// endpoint, when it leads to this endpoint only.
    pub jump_packets: Option<u64>,
}

impl Endpoint {
    /// The destination as written, or `?`.
    pub fn destination_text(&self) -> String {
        self.destination
            .map_or_else(|| "?".to_string(), |d| d.to_string())
    }

    /// The rule of the main chain that jumps towards this endpoint.
    pub fn jump(&self) -> Option<Hop> {
        (self.path.len() >= 2).then(|| self.path[0])
    }
}

/// A kube-proxy service port in a nat table.
#[derive(Debug, Clone)]
pub struct Service {
    /// `ns/svc:port` (or `ns/svc`) from the comments; without comments the
    /// main chain's name.
    pub name: String,
    /// Whether the name comes from a comment.
    pub named_by_comment: bool,
    /// The hash suffix shared by its chains.
    pub key: String,
    /// The table's name (`nat`).
    pub table: String,
    /// Index of the table in the dump.
    pub table_index: usize,
    /// Protocol of the service port, when known.
    pub protocol: Option<Protocol>,
    /// The cluster IP, when a cluster-IP entry exists.
    pub cluster_ip: Option<IpAddr>,
    /// The service port.
    pub port: Option<u16>,
    /// Rules that send traffic into its chains, in dump order.
    pub entries: Vec<Entry>,
    /// Its chains (SVC, SVL, EXT, FW, XLB), in table order.
    pub chains: Vec<usize>,
    /// The chain choosing among endpoints: `KUBE-SVC-*`, else
    /// `KUBE-SVL-*`, else `KUBE-XLB-*`.
    pub chain: Option<usize>,
    /// Its name.
    pub chain_name: Option<String>,
    /// The packet the main chain was analysed with.
    pub packet: Packet,
    /// The fate of a new connection entering the main chain, per case.
    pub cases: Vec<Case>,
    /// Index in `cases` of the case the shares below describe: a client
    /// without session affinity.
    pub headline: usize,
    /// Endpoints in the order the main chain reaches them, with their shares
    /// in the headline case.
    pub endpoints: Vec<Endpoint>,
    /// Share of new connections that reach no endpoint (fall through, or end
    /// in another verdict) in the headline case.
    pub fallthrough: f64,
    /// Share that cannot be computed (a loop, an undeclared chain).
    pub unresolved: f64,
    /// The main chain uses `-m recent` session affinity.
    pub affinity: bool,
}

impl Service {
    /// The headline case, when the service has a main chain.
    pub fn headline_case(&self) -> Option<&Case> {
        self.cases.get(self.headline)
    }

    /// `10.96.0.1:80`, or what is known of it.
    pub fn address(&self) -> String {
        match (self.cluster_ip, self.port) {
            (Some(IpAddr::V6(ip)), Some(port)) => format!("[{ip}]:{port}"),
            (Some(ip), Some(port)) => format!("{ip}:{port}"),
            (Some(ip), None) => ip.to_string(),
            (None, Some(port)) => format!("*:{port}"),
            (None, None) => "-".to_string(),
        }
    }

    /// Whether the endpoint shares are uniform within `tolerance`.
    ///
    /// `None` when there is nothing to judge: no endpoint, or part of the
    /// traffic cannot be computed. With a leak, only shares above `1/n`
    /// make the spread non-uniform (the leak itself is reported apart).
    pub fn spread(&self, tolerance: f64) -> Option<Spread> {
        if self.endpoints.is_empty() || self.unresolved > EPSILON {
            return None;
        }
        let expected = 1.0 / self.endpoints.len() as f64;
        let leaking = self.fallthrough > EPSILON;
        let deviation = |e: &Endpoint| e.probability - expected;
        let judged = |e: &Endpoint| {
            if leaking {
                deviation(e)
            } else {
                deviation(e).abs()
            }
        };
        // The first of equally bad endpoints: with two endpoints at 60% and
        // 40%, the first is the one its rule favours.
        let mut worst = 0;
        for index in 1..self.endpoints.len() {
            if judged(&self.endpoints[index]) > judged(&self.endpoints[worst]) + EPSILON {
                worst = index;
            }
        }
        Some(Spread {
            uniform: judged(&self.endpoints[worst]) <= tolerance,
            expected,
            worst,
            deviation: deviation(&self.endpoints[worst]),
        })
    }
}

/// The verdict on a service's endpoint shares.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// Every share within tolerance of `1/n`.
    pub uniform: bool,
    /// `1/n`.
    pub expected: f64,
    /// Index of the endpoint furthest from `expected`.
    pub worst: usize,
    /// Its share minus `expected`.
    pub deviation: f64,
}

/// Where a dump's probabilities come from, and so how far from `1/n` a
/// share may be by rounding alone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quantisation {
    /// The most common number of decimals of the written probabilities.
    pub decimals: Option<u8>,
    /// What wrote them.
    pub origin: Origin,
    /// The largest deviation from `1/n` that rounding explains.
    pub tolerance: f64,
}

/// What wrote a dump's `--probability` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// No random statistic match at all.
    None,
    /// kube-proxy before 1.17: `%0.5f`.
    Legacy,
    /// kube-proxy 1.17 and later: `%0.10f`.
    Modern,
    /// iptables-save printing the kernel's values (`%.11f`), from values
    /// first written with 5 decimals (`legacy`) or more.
    Resaved {
        /// The values fit 5-decimal originals.
        legacy: bool,
    },
    /// Another number of decimals.
    Other,
}

/// Tolerance for kube-proxy >= 1.17: 10 decimals give shares within about
/// 3e-10 of `1/n` (measured for up to 3000 endpoints).
pub const MODERN_TOLERANCE: f64 = 1e-9;
/// Tolerance for kube-proxy < 1.17: 5 decimals give shares within about
/// 5e-6 of `1/n`.
pub const LEGACY_TOLERANCE: f64 = 1e-5;

impl Quantisation {
    /// The quantisation of the random probabilities written in `table`
    /// (outside `KUBE-SEP-*` chains).
    pub fn of(table: &Table<'_>) -> Self {
        Self::of_with(table, &[])
    }

    /// [`Quantisation::of`] a table with `more` probabilities (those of
    /// rules `explain` did not read).
    pub fn of_with(table: &Table<'_>, more: &[Probability]) -> Self {
        // kube-proxy's endpoint chains (KUBE-SEP-*, the bulk of a large
        // dump) never hold statistic rules; skipping them halves the work.
        let probabilities: Vec<Probability> = table
            .chains
            .iter()
            .filter(|chain| !chain.name.starts_with("KUBE-SEP-"))
            .flat_map(|chain| &chain.rules)
            .flat_map(|rule| &rule.matches)
            .filter_map(|m| match &m.kind {
                MatchKind::Statistic(StatisticMatch::Random(p)) => Some(p.value),
                _ => None,
            })
            .chain(more.iter().copied())
            .collect();
        let mut counts: HashMap<u8, usize> = HashMap::default();
        for p in &probabilities {
            *counts.entry(p.decimals).or_default() += 1;
        }
        let Some(decimals) = counts
            .iter()
            .max_by_key(|(decimals, count)| (**count, **decimals))
            .map(|(decimals, _)| *decimals)
        else {
            return Quantisation {
                decimals: None,
                origin: Origin::None,
                tolerance: MODERN_TOLERANCE,
            };
        };
        let origin = match decimals {
            5 => Origin::Legacy,
            10 => Origin::Modern,
            11 => Origin::Resaved {
                legacy: probabilities.iter().all(fits_five_decimals),
            },
            _ => Origin::Other,
        };
        let tolerance = match origin {
            Origin::Legacy | Origin::Resaved { legacy: true } => LEGACY_TOLERANCE,
            Origin::Other if decimals <= 5 => LEGACY_TOLERANCE,
            Origin::Other => 10f64.powi(-i32::from(decimals)).max(MODERN_TOLERANCE),
            _ => MODERN_TOLERANCE,
        };
        Quantisation {
            decimals: Some(decimals),
            origin,
            tolerance,
        }
    }

    /// One sentence on where the tolerance comes from.
    pub fn note(&self) -> String {
        let tolerance = format!("{:.0e}", self.tolerance);
        match (self.origin, self.decimals) {
            (Origin::None, _) => format!(
                "no `--probability` in this table; shares within {tolerance} of 1/n count as uniform"
            ),
            (Origin::Legacy, _) => format!(
                "probabilities are written with 5 decimals (`%0.5f`, kube-proxy before 1.17); rounding alone moves a share by up to about 5e-6, so shares within {tolerance} of 1/n count as uniform"
            ),
            (Origin::Modern, _) => format!(
                "probabilities are written with 10 decimals (`%0.10f`, kube-proxy 1.17 and later) and the kernel keeps multiples of 2^-31; shares within {tolerance} of 1/n count as uniform"
            ),
            (Origin::Resaved { legacy: true }, _) => format!(
                "probabilities are printed by iptables-save (11 decimals) from values written with 5 decimals (kube-proxy before 1.17); shares within {tolerance} of 1/n count as uniform"
            ),
            (Origin::Resaved { legacy: false }, _) => format!(
                "probabilities are printed by iptables-save (11 decimals) from values written with 10 decimals (kube-proxy 1.17 and later); shares within {tolerance} of 1/n count as uniform"
            ),
            (Origin::Other, Some(decimals)) => format!(
                "probabilities are written with {decimals} decimals; shares within {tolerance} of 1/n count as uniform"
            ),
            (Origin::Other, None) => format!("shares within {tolerance} of 1/n count as uniform"),
        }
    }
}

/// Whether a stored probability is what 5 written decimals give.
fn fits_five_decimals(p: &Probability) -> bool {
    let value = f64::from(p.stored) / PROBABILITY_SCALE;
    let five = (value * 1e5).round() / 1e5;
    (five * PROBABILITY_SCALE).round() as u32 == p.stored
}

/// Every service of every nat table of `dump`, in dump order (the order of
/// `KUBE-SERVICES`, then services only found by their chains).
pub fn services(src: &str, dump: &Dump<'_>, graph: &DumpGraph) -> Vec<Service> {
    debug_assert_eq!(dump.tables.len(), graph.tables.len());
    map_services(src, dump, |_, service| service)
}

/// Services analysed per parallel task. Each task has its own [`Analyzer`],
/// whose memo then re-learns the chains services share (`KUBE-MARK-MASQ`):
/// a few rules per task, against tens of rules per service.
const SERVICES_PER_TASK: usize = 64;

/// Analyse every service of every nat table of `dump`, in parallel, and
/// hand each to `map` as soon as it is analysed; the results come back in
/// dump order, as [`services`] would list them.
///
/// The checks use this so that no service outlives the look they take at
/// it: the 10,000 analysed services of a large node, all kept, took more
/// memory than the dump's text.
pub fn map_services<T, F>(src: &str, dump: &Dump<'_>, map: F) -> Vec<T>
where
    T: Send,
    F: Fn(&Table<'_>, Service) -> T + Sync,
{
    let mut out = Vec::new();
    for (index, table) in dump.tables.iter().enumerate() {
        if table.kind != TableKind::Nat {
            continue;
        }
        let sketches = sketches_in_table(table, index);
        out.par_extend(
            sketches
                .into_par_iter()
                .chunks(SERVICES_PER_TASK)
                .flat_map_iter(|chunk| {
                    let mut analyzer = Analyzer::new(src, table);
                    let mains: Vec<Option<usize>> = chunk.iter().map(|s| s.main).collect();
                    chunk
                        .into_iter()
                        .enumerate()
                        .map(|(index, sketch)| {
                            prefetch_services_ahead(table, &mains, index);
                            map(table, build_service(&mut analyzer, table, sketch))
                        })
                        .collect::<Vec<T>>()
                }),
        );
    }
    out
}

/// While the service at `index` of `mains` (their main chains) is
/// analysed, ask for what the next ones will read, one step of the way
/// each, since each step reads what the one before asked for: a main
/// chain's record five services ahead, its rules four ahead, their matches
/// and the records of the endpoint chains three ahead, the endpoint chains'
/// rules two ahead and their matches one ahead (see [`crate::prefetch`]).
fn prefetch_services_ahead(table: &Table<'_>, mains: &[Option<usize>], index: usize) {
    let main = |distance: usize| mains.get(index + distance).copied().flatten();
    // The main chains, two services further than the endpoint chains.
    prefetch::walk_ahead(table, |distance| main(distance + 2));
    if let Some(chain) = main(2) {
        prefetch::callee_rules(table, chain);
    }
    if let Some(chain) = main(1) {
        prefetch::callee_matches(table, chain);
    }
}

/// Analyse one service found by [`sketches`]; `src` and `dump` must be
/// those it was found in.
pub fn analyse(src: &str, dump: &Dump<'_>, sketch: &Sketch) -> Service {
    let table = &dump.tables[sketch.table_index];
    let mut analyzer = Analyzer::new(src, table);
    build_service(&mut analyzer, table, sketch.clone())
}

/// A service port found in a nat table before its traffic is analysed:
/// cheap to list, name and look up (`explain` analyses only the one asked
/// for).
#[derive(Debug, Clone)]
pub struct Sketch {
    /// The hash suffix shared by its chains.
    pub key: String,
    /// `ns/svc:port` from the comments, else the main chain's name.
    pub name: String,
    /// Whether the name comes from a comment.
    pub named_by_comment: bool,
    /// Index of the table in the dump.
    pub table_index: usize,
    /// Entry rules: (chain, rule index, target chain).
    pub entries: Vec<(usize, usize, usize)>,
    /// Its chains (SVC, SVL, EXT, FW, XLB), in table order.
    pub chains: Vec<usize>,
    /// The chain choosing among endpoints.
    pub main: Option<usize>,
    /// Names of its chains and of the chains its entries jump to.
    pub chain_names: Vec<String>,
    /// Destination addresses and ports its entries match.
    pub addresses: Vec<(IpAddr, Option<u16>)>,
    /// Cluster IP and port, when a cluster-IP entry gives them.
    pub cluster: Option<(IpAddr, Option<u16>)>,
}

/// Every service of every nat table of `dump`, found but not analysed.
pub fn sketches(dump: &Dump<'_>) -> Vec<Sketch> {
    dump.tables
        .iter()
        .enumerate()
        .filter(|(_, table)| table.kind == TableKind::Nat)
        .flat_map(|(index, table)| sketches_in_table(table, index))
        .collect()
}

/// Every service of one nat table, found but not analysed.
pub fn sketches_in_table(table: &Table<'_>, table_index: usize) -> Vec<Sketch> {
    // One pass over the chain names: the hash key of every service chain,
    // numbered in table order. Everything after works on these numbers.
    let mut key_ids: HashMap<&str, usize> = HashMap::default();
    let mut keys: Vec<&str> = Vec::new();
    let key_of: Vec<Option<usize>> = table
        .chains
        .iter()
        .map(|chain| {
            let key = service_chain_key(&chain.name)?;
            Some(*key_ids.entry(key).or_insert_with(|| {
                keys.push(key);
                keys.len() - 1
            }))
        })
        .collect();
    let mut entries: Vec<Vec<(usize, usize, usize)>> = vec![Vec::new(); keys.len()];
    let mut chains: Vec<Vec<usize>> = vec![Vec::new(); keys.len()];
    // Services come in the order of their entries (KUBE-SERVICES first),
    // then those only found by their chains.
    let mut order: Vec<usize> = Vec::with_capacity(keys.len());
    let mut placed = vec![false; keys.len()];
    for entry_chain in ENTRY_CHAINS {
        let Some(chain) = table.chain_index(entry_chain) else {
            continue;
        };
        for (index, rule) in table.chains[chain].rules.iter().enumerate() {
            let Some(target) = rule.jump_target() else {
                continue;
            };
            if let Some(key) = key_of[target] {
                entries[key].push((chain, index, target));
                if !std::mem::replace(&mut placed[key], true) {
                    order.push(key);
                }
            }
        }
    }
    // Service chains another service's chain jumps to: the endpoint chains
    // of the first iptables proxier (2015), which were named KUBE-SVC-* too.
    let mut called_across = vec![false; table.chains.len()];
    for (index, chain) in table.chains.iter().enumerate() {
        let Some(key) = key_of[index] else {
            continue;
        };
        chains[key].push(index);
        if !std::mem::replace(&mut placed[key], true) {
            order.push(key);
        }
        for target in chain.rules.iter().filter_map(Rule::jump_target) {
            if key_of[target].is_some_and(|k| k != key) {
                called_across[target] = true;
            }
        }
    }
    order.retain(|&key| !entries[key].is_empty() || !chains[key].iter().all(|&c| called_across[c]));
    order
        .into_iter()
        .map(|key| {
            sketch(
                table,
                table_index,
                keys[key].to_string(),
                std::mem::take(&mut entries[key]),
                std::mem::take(&mut chains[key]),
            )
        })
        .collect()
}

fn sketch(
    table: &Table<'_>,
    table_index: usize,
    key: String,
    entries: Vec<(usize, usize, usize)>,
    chains: Vec<usize>,
) -> Sketch {
    // The group holds every chain named PREFIX-KEY, so look there.
    let main = MAIN_CHAIN_PREFIXES.iter().find_map(|prefix| {
        chains
            .iter()
            .copied()
            .find(|&c| table.chains[c].name.starts_with(prefix))
    });
    let entry_rules = || entries.iter().map(|&(c, r, _)| &table.chains[c].rules[r]);
    let main_rules = main.iter().flat_map(|&m| &table.chains[m].rules);
    let comment_name = entry_rules()
        .chain(main_rules.clone())
        .chain(chains.iter().flat_map(|&c| &table.chains[c].rules))
        .chain(
            main_rules
                .filter_map(Rule::jump_target)
                .flat_map(|callee| &table.chains[callee].rules),
        )
        .find_map(|rule| rule.comment().and_then(service_name_from_comment))
        .map(str::to_string);
    let mut chain_names: Vec<String> = chains
        .iter()
        .chain(entries.iter().map(|(_, _, target)| target))
        .map(|&c| table.chains[c].name.to_string())
        .collect();
    chain_names.sort();
    chain_names.dedup();
    let mut addresses = Vec::new();
    let (mut cluster_of_main, mut any_cluster) = (None, None);
    for &(chain, rule, target) in &entries {
        let rule_ref = &table.chains[chain].rules[rule];
        let kind = entry_kind(
            &table.chains[chain].name,
            rule_ref,
            &table.chains[target].name,
        );
        let packet = entry_packet(rule_ref, kind);
        if let Some(destination) = packet.destination {
            let address = (destination, packet.destination_port);
            addresses.push(address);
            if kind == EntryKind::ClusterIp {
                any_cluster = any_cluster.or(Some(address));
                if Some(target) == main {
                    cluster_of_main = cluster_of_main.or(Some(address));
                }
            }
        }
    }
    let cluster = cluster_of_main.or(any_cluster);
    let named_by_comment = comment_name.is_some();
    let name = comment_name
        .or_else(|| main.map(|m| table.chains[m].name.to_string()))
        .or_else(|| chains.first().map(|&c| table.chains[c].name.to_string()))
        .unwrap_or_else(|| key.clone());
    Sketch {
        key,
        name,
        named_by_comment,
        table_index,
        entries,
        chains,
        main,
        chain_names,
        addresses,
        cluster,
    }
}

fn entry_kind(entry_chain: &str, rule: &Rule<'_>, target_name: &str) -> EntryKind {
    if entry_chain == "KUBE-NODEPORTS" {
        return EntryKind::NodePort;
    }
    if let Some(comment) = rule.comment() {
        if comment.ends_with(" external IP") {
            return EntryKind::ExternalIp;
        }
        if comment.ends_with(" loadbalancer IP") {
            return EntryKind::LoadBalancer;
        }
        if comment.ends_with(" cluster IP") {
            return EntryKind::ClusterIp;
        }
    }
    if target_name.starts_with("KUBE-FW-") {
        EntryKind::LoadBalancer
    } else if target_name.starts_with("KUBE-EXT-") || target_name.starts_with("KUBE-XLB-") {
        EntryKind::ExternalIp
    } else {
        EntryKind::ClusterIp
    }
}

/// The destination port a rule requires, when it is one port.
fn rule_port(rule: &Rule<'_>) -> Option<u16> {
    rule.matches.iter().find_map(|m| match &m.kind {
        MatchKind::Tcp(ports) | MatchKind::Udp(ports) => ports
            .destination
            .as_ref()
            .filter(|d| !d.negated && d.value.lo == d.value.hi)
            .map(|d| d.value.lo),
        MatchKind::Multiport(multiport) => multiport
            .destination
            .as_ref()
            .filter(|d| !d.negated && d.value.len() == 1 && d.value[0].lo == d.value[0].hi)
            .map(|d| d.value[0].lo),
        _ => None,
    })
}

fn rule_protocol(rule: &Rule<'_>) -> Option<Protocol> {
    rule.protocol
        .as_ref()
        .filter(|p| !p.negated && p.value != Protocol::All)
        .map(|p| p.value)
}

fn entry_packet(rule: &Rule<'_>, kind: EntryKind) -> Packet {
    Packet {
        destination: rule
            .destination
            .as_ref()
            .filter(|d| !d.negated && d.value.net.is_host())
            .map(|d| d.value.net.addr),
        destination_local: match kind {
            EntryKind::NodePort => Some(true),
            EntryKind::ClusterIp => Some(false),
            EntryKind::ExternalIp | EntryKind::LoadBalancer => None,
        },
        protocol: rule_protocol(rule),
        destination_port: rule_port(rule),
    }
}

/// The protocol a chain's rules (or those of the chains it jumps to) name,
/// for services without entries.
fn guess_protocol(table: &Table<'_>, chain: usize) -> Option<Protocol> {
    let rules = &table.chains[chain].rules;
    rules.iter().find_map(rule_protocol).or_else(|| {
        rules
            .iter()
            .filter_map(Rule::jump_target)
            .find_map(|callee| table.chains[callee].rules.iter().find_map(rule_protocol))
    })
}

/// The index of the case of a client without session affinity: the first
/// case in which no `-m recent` condition holds (0 when there is none).
pub fn fresh_client_case(cases: &[Case]) -> usize {
    cases
        .iter()
        .position(|case| {
            case.conditions
                .iter()
                .all(|(c, holds)| c.kind != ConditionKind::Affinity || !holds)
        })
        .unwrap_or(0)
}

fn build_service(analyzer: &mut Analyzer<'_, '_>, table: &Table<'_>, sketch: Sketch) -> Service {
    let entries: Vec<Entry> = sketch
        .entries
        .iter()
        .map(|&(chain, rule_index, target)| {
            let rule = &table.chains[chain].rules[rule_index];
            let chain_name = table.chains[chain].name.to_string();
            let target_name = table.chains[target].name.to_string();
            let kind = entry_kind(&chain_name, rule, &target_name);
            let packet = entry_packet(rule, kind);
            let conditions = analyzer.rule_conditions(rule, packet).unwrap_or_default();
            let cases = analyzer.cases(target, packet);
            Entry {
                kind,
                chain,
                chain_name,
                rule: rule_index,
                line: rule.line,
                span: rule.target_span(),
                target,
                target_name,
                packet,
                conditions,
                cases,
            }
        })
        .collect();
    let main = sketch.main;
    let cluster_entry = entries
        .iter()
        .find(|e| e.kind == EntryKind::ClusterIp && Some(e.target) == main)
        .or_else(|| entries.iter().find(|e| e.kind == EntryKind::ClusterIp));
    let packet = match (cluster_entry, main) {
        (Some(entry), _) => entry.packet,
        (None, Some(main)) => Packet {
            protocol: entries
                .iter()
                .find_map(|e| e.packet.protocol)
                .or_else(|| guess_protocol(table, main)),
            ..Packet::default()
        },
        (None, None) => Packet::default(),
    };
    let (cases, headline) = match main {
        Some(main) => {
            // The cluster-IP entry usually analysed this very chain already.
            let cases = match cluster_entry {
                Some(entry) if entry.target == main => entry.cases.clone(),
                _ => analyzer.cases(main, packet),
            };
            let headline = fresh_client_case(&cases);
            (cases, headline)
        }
        None => (Vec::new(), 0),
    };
    let mut endpoints = Vec::new();
    let (mut fallthrough, mut unresolved) = (0.0, 0.0);
    if let (Some(main), Some(case)) = (main, cases.get(headline)) {
        let flows = analyzer.flows(main, packet, &case.conditions);
        for (outcome, probability) in case.distribution.iter() {
            if let Outcome::Dnat { chain, rule } = outcome {
                endpoints.push(endpoint(
                    analyzer,
                    table,
                    packet,
                    (chain, rule),
                    probability,
                    flows.as_ref(),
                ));
            }
        }
        fallthrough = case.distribution.elsewhere_total();
        unresolved = case.distribution.unresolved_total();
        // A jump counter describes one endpoint only when no other endpoint
        // is reached through the same rule.
        let mut jumps: HashMap<(usize, usize), usize> = HashMap::default();
        for e in &endpoints {
            if let Some(jump) = e.jump() {
                *jumps.entry((jump.chain, jump.rule)).or_default() += 1;
            }
        }
        for e in &mut endpoints {
            if let Some(jump) = e.jump().filter(|j| jumps[&(j.chain, j.rule)] == 1) {
                e.jump_packets = table.chains[jump.chain].rules[jump.rule]
                    .counters
                    .map(|c| c.packets);
            }
        }
    }
    let affinity = main.is_some_and(|main| {
        table.chains[main].rules.iter().any(|rule| {
            rule.matches.iter().any(|m| {
                matches!(&m.kind, MatchKind::Recent(r)
                    if matches!(r.action, RecentAction::Check | RecentAction::Update))
            })
        })
    });
    let cluster = cluster_entry.map(|e| e.packet);
    Service {
        name: sketch.name,
        named_by_comment: sketch.named_by_comment,
        key: sketch.key,
        table: table.name.to_string(),
        table_index: sketch.table_index,
        protocol: packet.protocol,
        cluster_ip: cluster.and_then(|p| p.destination),
        port: cluster.and_then(|p| p.destination_port),
        entries,
        chains: sketch.chains,
        chain: main,
        chain_name: main.map(|m| table.chains[m].name.to_string()),
        packet,
        cases,
        headline,
        endpoints,
        fallthrough,
        unresolved,
        affinity,
    }
}

fn endpoint(
    analyzer: &Analyzer<'_, '_>,
    table: &Table<'_>,
    packet: Packet,
    (chain, rule_index): (usize, usize),
    probability: f64,
    flows: Option<&Flows>,
) -> Endpoint {
    let rules = &table.chains[chain].rules;
    let rule = &rules[rule_index];
    let destination = match rule.target.as_ref().map(|t| &t.action) {
        Some(Action::Dnat(addresses)) => addresses.first().copied(),
        _ => None,
    };
    let affinity = rule.matches.iter().any(
        |m| matches!(&m.kind, MatchKind::Recent(r) if r.action == RecentAction::Set && !r.negated),
    );
    let masquerade = rules[..rule_index]
        .iter()
        .filter(|r| {
            r.target
                .as_ref()
                .is_some_and(|t| t.name == "KUBE-MARK-MASQ")
        })
        .find_map(|r| analyzer.rule_conditions(r, packet))
        .map(|conditions| {
            let hairpin = destination.and_then(|d| d.first).is_some_and(|ip| {
                conditions.len() == 1
                    && conditions[0].0.kind == ConditionKind::Source
                    && conditions[0].1
                    && matches!(conditions[0].0.subject,
                        Subject::Net(net) if net.addr == ip && net.is_host())
            });
            if hairpin {
                "hairpin (the endpoint connects to itself)".to_string()
            } else if conditions.is_empty() {
                "always".to_string()
            } else {
                format!("when {}", describe_all(&conditions))
            }
        });
    let path = flows
        .map(|flows| {
            flows
                .path_to(chain, rule_index)
                .into_iter()
                .map(|(c, r)| Hop {
                    chain: c,
                    rule: r,
                    line: table.chains[c].rules[r].line,
                })
                .collect()
        })
        .unwrap_or_else(|| {
            vec![Hop {
                chain,
                rule: rule_index,
                line: rule.line,
            }]
        });
    Endpoint {
        chain,
        chain_name: table.chains[chain].name.to_string(),
        rule: rule_index,
        line: rule.line,
        span: rule.target_span(),
        destination,
        probability,
        path,
        affinity,
        masquerade,
        dnat_packets: rule.counters.map(|c| c.packets),
        jump_packets: None,
    }
}

/// A service whose traffic kube-proxy rejects because it has no endpoints.
#[derive(Debug, Clone)]
pub struct RejectedService {
    /// `ns/svc:port`.
    pub name: String,
    /// The table of the REJECT rules (`filter`).
    pub table: String,
    /// The REJECT rules, in dump order.
    pub rules: Vec<RejectRule>,
}

/// One `"ns/svc:port has no endpoints" -j REJECT` rule.
#[derive(Debug, Clone)]
pub struct RejectRule {
    /// Its chain's name.
    pub chain_name: String,
    /// 1-based line.
    pub line: u32,
    /// The rule's target.
    pub span: Span,
    /// The address and port it rejects, as far as written.
    pub destination: Option<IpAddr>,
    /// The destination port.
    pub port: Option<u16>,
    /// The protocol.
    pub protocol: Option<Protocol>,
}

impl RejectRule {
    /// `10.96.0.1:80/tcp`, or what is known of it.
    pub fn address(&self) -> String {
        let mut text = match (self.destination, self.port) {
            (Some(IpAddr::V6(ip)), Some(port)) => format!("[{ip}]:{port}"),
            (Some(ip), Some(port)) => format!("{ip}:{port}"),
            (Some(ip), None) => ip.to_string(),
            (None, Some(port)) => format!("port {port}"),
            (None, None) => "any address".to_string(),
        };
        if let Some(protocol) = self.protocol {
            text.push('/');
            text.push_str(&protocol.name());
        }
        text
    }
}

/// Services that kube-proxy rejects for lack of endpoints: REJECT rules
/// commented `"ns/svc:port has no endpoints"`, grouped by service.
pub fn rejected_services(dump: &Dump<'_>) -> Vec<RejectedService> {
    let mut services: Vec<RejectedService> = Vec::new();
    let mut by_name: HashMap<(String, String), usize> = HashMap::default();
    for table in &dump.tables {
        for chain in &table.chains {
            for rule in &chain.rules {
                let rejects = rule
                    .target
                    .as_ref()
                    .is_some_and(|t| matches!(t.action, Action::Reject(_)));
                let Some(comment) = rule.comment().filter(|_| rejects) else {
                    continue;
                };
                if !comment.ends_with(" has no endpoints") {
                    continue;
                }
                let Some(name) = service_name_from_comment(comment) else {
                    continue;
                };
                let reject = RejectRule {
                    chain_name: chain.name.to_string(),
                    line: rule.line,
                    span: rule.target_span(),
                    destination: rule
                        .destination
                        .as_ref()
                        .filter(|d| !d.negated && d.value.net.is_host())
                        .map(|d| d.value.net.addr),
                    port: rule_port(rule),
                    protocol: rule_protocol(rule),
                };
                let key = (table.name.to_string(), name.to_string());
                match by_name.get(&key) {
                    Some(&index) => services[index].rules.push(reject),
                    None => {
                        by_name.insert(key, services.len());
                        services.push(RejectedService {
                            name: name.to_string(),
                            table: table.name.to_string(),
                            rules: vec![reject],
                        });
                    }
                }
            }
        }
    }
    services
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::build::build;

    #[test]
    fn names_from_comments() {
        assert_eq!(
            service_name_from_comment("default/web:http cluster IP"),
            Some("default/web:http")
        );
        assert_eq!(
            service_name_from_comment("ns/svc:p80 -> 10.180.0.5:80"),
            Some("ns/svc:p80")
        );
        assert_eq!(service_name_from_comment("ns1/svc1"), Some("ns1/svc1"));
        assert_eq!(
            service_name_from_comment("ns/svc:p has no endpoints"),
            Some("ns/svc:p")
        );
        assert_eq!(
            service_name_from_comment("masquerade traffic for ns/svc:p external destinations"),
            None
        );
        assert_eq!(
            service_name_from_comment("kubernetes service portals"),
            None
        );
    }

    #[test]
    fn keys_of_service_chains() {
        assert_eq!(service_chain_key("KUBE-SVC-ABC"), Some("ABC"));
        assert_eq!(service_chain_key("KUBE-FW-ABC"), Some("ABC"));
        assert_eq!(service_chain_key("KUBE-SEP-ABC"), None);
        assert_eq!(service_chain_key("KUBE-SVC-"), None);
    }

    fn quantisation(probabilities: &[&str]) -> Quantisation {
        let mut src = String::from("*nat\n:A - [0:0]\n");
        for p in probabilities {
            src.push_str(&format!(
                "-A A -m statistic --mode random --probability {p} -j ACCEPT\n"
            ));
        }
        src.push_str("COMMIT\n");
        let parsed = build(&src);
        Quantisation::of(&parsed.dump.tables[0])
    }

    #[test]
    fn eras_from_decimals() {
        assert_eq!(quantisation(&[]).origin, Origin::None);
        let legacy = quantisation(&["0.33333", "0.50000"]);
        assert_eq!(legacy.origin, Origin::Legacy);
        assert_eq!(legacy.tolerance, LEGACY_TOLERANCE);
        let modern = quantisation(&["0.3333333333", "0.5000000000"]);
        assert_eq!(modern.origin, Origin::Modern);
        assert_eq!(modern.tolerance, MODERN_TOLERANCE);
        // 0.33333 stored by the kernel prints as 0.33332999982.
        let resaved_legacy = quantisation(&["0.33332999982", "0.50000000000"]);
        assert_eq!(resaved_legacy.origin, Origin::Resaved { legacy: true });
        assert_eq!(resaved_legacy.tolerance, LEGACY_TOLERANCE);
        let resaved_modern = quantisation(&["0.33333333349", "0.50000000000"]);
        assert_eq!(resaved_modern.origin, Origin::Resaved { legacy: false });
        assert_eq!(resaved_modern.tolerance, MODERN_TOLERANCE);
        // Hand-written short values never widen the tolerance beyond legacy.
        assert_eq!(quantisation(&["0.3"]).tolerance, LEGACY_TOLERANCE);
    }
}
