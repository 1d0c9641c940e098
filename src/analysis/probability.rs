//! The exact distribution of outcomes of one new connection entering a chain.
//!
//! Evaluation follows the kernel: rules in order; a matching rule with a
//! verdict (ACCEPT, DROP, DNAT, ...) ends the table; `RETURN` and falling off
//! the end leave the chain; `-j CHAIN` continues after the rule only when the
//! callee leaves it; `-g CHAIN` never comes back, so the callee leaving it
//! means leaving the caller too.
//!
//! Each rule matches with a probability given what is known about the packet
//! ([`Packet`]): deterministic matches on the destination, protocol and port
//! are decided (0 or 1); `-m statistic --mode random` matches with the
//! probability the kernel really applies ([`Probability::effective`], a
//! multiple of 2^-31), independently of every other rule; `--mode nth --every
//! N` matches one in N of the connections reaching it (1/N for a stream of new
//! connections); a `!` turns p into 1 - p. Everything else (source address,
//! interfaces, marks, `-m recent` session affinity, ...) is a [`Condition`]
//! the dump cannot decide. A condition that only guards a rule whose effect
//! does not change the outcome (a jump to `KUBE-MARK-MASQ`, a LOG) is
//! ignored; one that does is split on: the analysis returns one [`Case`] per
//! combination of the conditions that matter ("if the client has affinity:
//! ...; otherwise: ...") instead of guessing.
//!
//! Results are memoised per chain (and per packet when the chain looks at
//! the packet), so analysing every service of a 10,000-service dump is linear
//! in its size. Evaluation uses an explicit stack: a chain nested 200,000
//! deep cannot overflow the call stack, and a jump loop yields an
//! [`Unresolved::Loop`] outcome rather than running forever.
//!
//! [`Probability::effective`]: crate::model::values::Probability::effective

use crate::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::rc::Rc;

use crate::model::matches::{MatchKind, RecentAction, StatisticMatch};
use crate::model::values::{IpNet, PortRange};
use crate::model::{Action, Flow, Negatable, Protocol, Rule, Table};
use crate::prefetch;
use crate::syntax::Span;

/// What is known about the first packet of a new connection.
///
/// `None` fields are unknown: matches on them become [`Condition`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Packet {
    /// The destination address (a service's cluster IP, external IP...).
    pub destination: Option<IpAddr>,
    /// Whether the destination is a local address of the node
    /// (`-m addrtype --dst-type LOCAL`): true for node ports, false for
    /// cluster IPs.
    pub destination_local: Option<bool>,
    /// The protocol.
    pub protocol: Option<Protocol>,
    /// The destination port.
    pub destination_port: Option<u16>,
}

/// What a [`Condition`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConditionKind {
    /// `-s NET`: the subject is the network.
    Source,
    /// `-m addrtype --src-type TYPE`.
    SourceType,
    /// `-d NET` when the destination is not known.
    Destination,
    /// `-m addrtype --dst-type TYPE` when it cannot be decided.
    DestinationType,
    /// `-p PROTO` when the protocol is not known.
    Protocol,
    /// A destination port match when the port is not known.
    DestinationPort,
    /// `-i IFACE`.
    InInterface,
    /// `-o IFACE`.
    OutInterface,
    /// `-m recent --rcheck/--update --name NAME`: whether the client is in
    /// the list (kube-proxy's session affinity).
    Affinity,
    /// Any other match, by its text.
    Other,
}

/// What a [`Condition`] tests: a network (kept typed, since every
/// kube-proxy masquerade rule has one and formatting it is not free) or a
/// name or text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    /// An address with its prefix.
    Net(IpNet),
    /// A type, interface, list name, protocol or match text.
    Text(String),
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Subject::Net(net) => net.fmt(f),
            Subject::Text(text) => f.write_str(text),
        }
    }
}

impl From<IpNet> for Subject {
    fn from(net: IpNet) -> Self {
        Subject::Net(net)
    }
}

impl From<String> for Subject {
    fn from(text: String) -> Self {
        Subject::Text(text)
    }
}

impl From<&str> for Subject {
    fn from(text: &str) -> Self {
        Subject::Text(text.to_string())
    }
}

/// A fact about a packet that the dump cannot decide (its source address,
/// whether the client has session affinity, a mark...). Two rules testing
/// the same fact share one condition, so cases stay consistent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Condition {
    /// What it is about.
    pub kind: ConditionKind,
    /// The network, type, interface, list name or match text.
    pub subject: Subject,
}

impl Condition {
    fn new(kind: ConditionKind, subject: impl Into<Subject>) -> Self {
        Condition {
            kind,
            subject: subject.into(),
        }
    }

    /// The condition in words, holding or not: `source in 10.0.0.0/8`,
    /// `the client has no affinity (recent list KUBE-SEP-X)`.
    pub fn describe(&self, holds: bool) -> String {
        let not = if holds { "" } else { " not" };
        let subject = &self.subject;
        match self.kind {
            ConditionKind::Source => format!("source{not} in {subject}"),
            ConditionKind::SourceType => format!("source address type is{not} {subject}"),
            ConditionKind::Destination => format!("destination{not} in {subject}"),
            ConditionKind::DestinationType => {
                format!("destination address type is{not} {subject}")
            }
            ConditionKind::Protocol => format!("protocol is{not} {subject}"),
            ConditionKind::DestinationPort => format!("destination port{not} in {subject}"),
            ConditionKind::InInterface => format!("input interface is{not} {subject}"),
            ConditionKind::OutInterface => format!("output interface is{not} {subject}"),
            ConditionKind::Affinity if holds => {
                format!("the client has affinity (recent list {subject})")
            }
            ConditionKind::Affinity => {
                format!("the client has no affinity (recent list {subject})")
            }
            ConditionKind::Other if holds => format!("`{subject}` matches"),
            ConditionKind::Other => format!("`{subject}` does not match"),
        }
    }
}

/// A condition and the value it takes.
pub type Literal = (Condition, bool);

/// Describe a conjunction of literals: `source in 10.0.0.0/8 and ...`.
pub fn describe_all(literals: &[Literal]) -> String {
    literals
        .iter()
        .map(|(condition, holds)| condition.describe(*holds))
        .collect::<Vec<_>>()
        .join(" and ")
}

/// Describe the conditions of a case, shortly: a client that has affinity
/// with one endpoint is described by that alone, and a client without any
/// affinity by one phrase.
pub fn describe_case(literals: &[Literal]) -> String {
    let has_affinity = literals
        .iter()
        .any(|(c, holds)| c.kind == ConditionKind::Affinity && *holds);
    let mut parts = Vec::new();
    let mut without: Vec<String> = Vec::new();
    for (condition, holds) in literals {
        if condition.kind != ConditionKind::Affinity {
            parts.push(condition.describe(*holds));
        } else if *holds {
            parts.push(condition.describe(true));
        } else if !has_affinity {
            without.push(condition.subject.to_string());
        }
    }
    match without.len() {
        0 => {}
        1 => {
            parts.push(Condition::new(ConditionKind::Affinity, without[0].as_str()).describe(false))
        }
        2..=3 => parts.push(format!(
            "the client has no affinity (recent lists {})",
            without.join(", ")
        )),
        n => parts.push(format!(
            "the client has no affinity (in none of {n} recent lists)"
        )),
    }
    if parts.is_empty() {
        "always".to_string()
    } else {
        parts.join(" and ")
    }
}

/// Why part of the traffic's fate cannot be computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unresolved {
    /// The jump closes a loop (the kernel refuses such a table).
    Loop,
    /// The jump goes to a chain the table does not declare.
    UndeclaredChain,
    /// More than [`MAX_CASES`] combinations of unknown conditions.
    TooManyCases,
}

/// Where a new connection ends up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// DNAT by rule `rule` of chain `chain`.
    Dnat {
        /// Chain index in the table.
        chain: usize,
        /// Rule index in the chain.
        rule: usize,
    },
    /// Another target that ends evaluation (ACCEPT, DROP, REJECT, SNAT,
    /// MASQUERADE, REDIRECT ...) at rule `rule` of chain `chain`.
    Verdict {
        /// Chain index in the table.
        chain: usize,
        /// Rule index in the chain.
        rule: usize,
    },
    /// Leaves the analysed chain (falls off its end or hits `RETURN`): back
    /// to its caller, or to the built-in chain's policy.
    Return,
    /// Cannot be computed, because of rule `rule` of chain `chain`.
    Unresolved {
        /// Chain index in the table.
        chain: usize,
        /// Rule index in the chain.
        rule: usize,
        /// Why.
        why: Unresolved,
    },
}

/// Outcomes and their probabilities, in the order they are first reached.
///
/// Outcomes a rule can reach structurally but with probability 0 (a
/// `--probability 0` rule) are kept with 0, so an endpoint that never gets
/// traffic still shows.
#[derive(Debug, Clone, Default)]
pub struct Distribution {
    items: Vec<(Outcome, f64)>,
    index: HashMap<Outcome, usize>,
}

/// Above this many outcomes a distribution keeps a hash index.
const INDEX_THRESHOLD: usize = 16;

impl Distribution {
    /// One outcome with probability 1.
    pub fn certain(outcome: Outcome) -> Self {
        let mut distribution = Distribution::default();
        distribution.add(outcome, 1.0);
        distribution
    }

    /// Add `probability` to `outcome`.
    pub fn add(&mut self, outcome: Outcome, probability: f64) {
        if let Some(position) = self.position(&outcome) {
            self.items[position].1 += probability;
            return;
        }
        self.items.push((outcome, probability));
        if !self.index.is_empty() {
            self.index.insert(outcome, self.items.len() - 1);
        } else if self.items.len() > INDEX_THRESHOLD {
            self.index = self
                .items
                .iter()
                .enumerate()
                .map(|(i, (o, _))| (*o, i))
                .collect();
        }
    }

    fn position(&self, outcome: &Outcome) -> Option<usize> {
        if self.index.is_empty() {
            self.items.iter().position(|(o, _)| o == outcome)
        } else {
            self.index.get(outcome).copied()
        }
    }

    /// The outcomes and their probabilities, in first-reached order.
    pub fn iter(&self) -> impl Iterator<Item = (Outcome, f64)> + '_ {
        self.items.iter().copied()
    }

    /// Number of distinct outcomes.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there is no outcome at all.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The probability of `outcome` (0 when absent).
    pub fn probability(&self, outcome: &Outcome) -> f64 {
        self.position(outcome).map_or(0.0, |i| self.items[i].1)
    }

    /// Total probability of DNAT outcomes.
    pub fn dnat_total(&self) -> f64 {
        self.total(|o| matches!(o, Outcome::Dnat { .. }))
    }

    /// Total probability of unresolved outcomes.
    pub fn unresolved_total(&self) -> f64 {
        self.total(|o| matches!(o, Outcome::Unresolved { .. }))
    }

    /// Total probability of outcomes that reach no DNAT and are not
    /// unresolved: falling through, other verdicts.
    pub fn elsewhere_total(&self) -> f64 {
        self.total(|o| matches!(o, Outcome::Return | Outcome::Verdict { .. }))
    }

    fn total(&self, keep: impl Fn(&Outcome) -> bool) -> f64 {
        self.items
            .iter()
            .filter(|(o, _)| keep(o))
            // From +0.0: an empty sum of f64 is -0.0.
            .fold(0.0, |total, (_, p)| total + p)
    }

    /// Whether every connection leaves the chain and nothing else can
    /// happen: a call to it changes no outcome.
    pub fn is_pure_return(&self) -> bool {
        self.items.len() == 1 && self.items[0].0 == Outcome::Return
    }

    /// Whether both give the same outcomes with probabilities within `tolerance`.
    pub fn approx_eq(&self, other: &Distribution, tolerance: f64) -> bool {
        let significant = |d: &Distribution| d.items.iter().filter(|(_, p)| *p > tolerance).count();
        significant(self) == significant(other)
            && self
                .items
                .iter()
                .all(|(o, p)| (other.probability(o) - p).abs() <= tolerance)
    }
}

/// One combination of unknown conditions and the distribution under it.
#[derive(Debug, Clone)]
pub struct Case {
    /// The conditions that decide this case; empty when nothing unknown matters.
    pub conditions: Vec<Literal>,
    /// Where new connections go in this case.
    pub distribution: Distribution,
}

/// At most this many cases per analysis; beyond, the rest is
/// [`Unresolved::TooManyCases`].
pub const MAX_CASES: usize = 128;

/// How much of the traffic entering a chain takes each rule, for one case.
#[derive(Debug, Clone, Default)]
pub struct Flows {
    /// Per `(chain, rule)`: the probability that a new connection entering
    /// the start chain matches that rule (for rules with a target whose
    /// match the case decides).
    pub rules: HashMap<(usize, usize), f64>,
    /// Per chain: the probability of entering it.
    pub chains: HashMap<usize, f64>,
    /// Per chain: the `(chain, rule)` jump that brings it the most traffic.
    pub main_caller: HashMap<usize, (usize, usize)>,
    /// The chain the flows start from.
    pub start: usize,
}

impl Flows {
    /// The jumps from the start chain to rule `rule` of `chain`, then that
    /// rule itself: `[(start, r0), (c1, r1), ..., (chain, rule)]`, following
    /// the busiest caller of each chain.
    pub fn path_to(&self, chain: usize, rule: usize) -> Vec<(usize, usize)> {
        // Kube-proxy's paths are three or four jumps long.
        let mut path = Vec::with_capacity(4);
        path.push((chain, rule));
        let mut at = chain;
        // The callers form no loop (`flows` gives up on a table with one);
        // the bound only makes sure of it.
        while at != self.start && path.len() <= self.main_caller.len() {
            let Some(&(caller, caller_rule)) = self.main_caller.get(&at) else {
                break;
            };
            path.push((caller, caller_rule));
            at = caller;
        }
        path.reverse();
        path
    }
}

/// Computes distributions over one table, memoising per chain.
pub struct Analyzer<'t, 'a> {
    src: &'t str,
    table: &'t Table<'a>,
    packets: HashMap<Packet, usize>,
    /// `(chain, None)`: valid for every packet; `(chain, Some(packet id))`:
    /// for that packet. Never holds results that depend on a case's
    /// conditions or on a loop.
    memo: HashMap<(usize, Option<usize>), Rc<Distribution>>,
}

struct Frame {
    chain: usize,
    rule: usize,
    out: Distribution,
    mass: f64,
    uses_packet: bool,
    /// Depends on the case's conditions or sits in a loop: memoise for this
    /// evaluation only.
    local: bool,
}

impl Frame {
    fn new(chain: usize) -> Self {
        Frame {
            chain,
            rule: 0,
            out: Distribution::default(),
            mass: 1.0,
            uses_packet: false,
            local: false,
        }
    }
}

impl<'t, 'a> Analyzer<'t, 'a> {
    /// An analyzer of `table`, whose spans point into `src`.
    pub fn new(src: &'t str, table: &'t Table<'a>) -> Self {
        Analyzer {
            src,
            table,
            packets: HashMap::default(),
            memo: HashMap::default(),
        }
    }

    /// The table analysed.
    pub fn table(&self) -> &'t Table<'a> {
        self.table
    }

    /// The source text.
    pub fn src(&self) -> &'t str {
        self.src
    }

    fn packet_id(&mut self, packet: Packet) -> usize {
        let next = self.packets.len();
        *self.packets.entry(packet).or_insert(next)
    }

    /// Every case of a new connection `packet` entering `chain`: one per
    /// combination of the unknown conditions that change its fate, in
    /// "holds" before "does not hold" order.
    pub fn cases(&mut self, chain: usize, packet: Packet) -> Vec<Case> {
        self.cases_given(chain, packet, &[])
    }

    /// Like [`Analyzer::cases`], with some conditions already fixed.
    pub fn cases_given(&mut self, chain: usize, packet: Packet, given: &[Literal]) -> Vec<Case> {
        let mut cases = Vec::new();
        let mut work = vec![given.to_vec()];
        // Depth first, "does not hold" first: the case where no condition
        // holds (a client without affinity) is found before any cut at
        // MAX_CASES; the list is reversed at the end into reading order.
        while let Some(assignment) = work.pop() {
            match self.distribution(chain, packet, &assignment) {
                Ok(distribution) => cases.push(Case {
                    conditions: assignment,
                    distribution,
                }),
                Err(condition) => {
                    if cases.len() + work.len() + 2 > MAX_CASES {
                        cases.push(Case {
                            conditions: assignment,
                            distribution: Distribution::certain(Outcome::Unresolved {
                                chain,
                                rule: 0,
                                why: Unresolved::TooManyCases,
                            }),
                        });
                        continue;
                    }
                    let mut holds = assignment.clone();
                    holds.push((condition.clone(), true));
                    let mut otherwise = assignment;
                    otherwise.push((condition, false));
                    work.push(holds);
                    work.push(otherwise);
                }
            }
        }
        cases.reverse();
        cases
    }

    /// The distribution of a new connection `packet` entering `chain` when
    /// the conditions in `assignment` take the given values, or the first
    /// condition outside `assignment` that changes the outcome.
    pub fn distribution(
        &mut self,
        chain: usize,
        packet: Packet,
        assignment: &[Literal],
    ) -> Result<Distribution, Condition> {
        self.evaluate(chain, packet, assignment)
            .map(|result| (*result).clone())
    }

    fn lookup(&self, chain: usize, packet: usize) -> Option<(Rc<Distribution>, bool)> {
        if let Some(found) = self.memo.get(&(chain, None)) {
            return Some((found.clone(), false));
        }
        self.memo
            .get(&(chain, Some(packet)))
            .map(|found| (found.clone(), true))
    }

    fn evaluate(
        &mut self,
        start: usize,
        packet: Packet,
        assignment: &[Literal],
    ) -> Result<Rc<Distribution>, Condition> {
        let packet_id = self.packet_id(packet);
        if let Some((found, _)) = self.lookup(start, packet_id) {
            return Ok(found);
        }
        let table = self.table;
        let src = self.src;
        // Results that depend on this assignment: (distribution, uses packet).
        let mut local_memo: HashMap<usize, (Rc<Distribution>, bool)> = HashMap::default();
        let mut on_stack: HashSet<usize> = HashSet::default();
        let mut stack = vec![Frame::new(start)];
        prefetch_chain(table, start);
        on_stack.insert(start);
        loop {
            let frame = stack.last_mut().expect("the stack is never empty here");
            let rules = &table.chains[frame.chain].rules;
            if frame.rule >= rules.len() || frame.mass == 0.0 {
                let mut frame = stack.pop().expect("a frame");
                on_stack.remove(&frame.chain);
                if frame.mass > 0.0 {
                    frame.out.add(Outcome::Return, frame.mass);
                }
                let result = Rc::new(frame.out);
                if frame.local {
                    local_memo.insert(frame.chain, (result.clone(), frame.uses_packet));
                } else {
                    let key = (frame.chain, frame.uses_packet.then_some(packet_id));
                    self.memo.insert(key, result.clone());
                }
                match stack.last_mut() {
                    Some(parent) => {
                        parent.uses_packet |= frame.uses_packet;
                        parent.local |= frame.local;
                        continue;
                    }
                    None => return Ok(result),
                }
            }
            let rule = &rules[frame.rule];
            let matched = match_rule(src, rule, &packet, assignment);
            frame.uses_packet |= matched.uses_packet;
            frame.local |= matched.uses_assignment;
            if matched.never {
                frame.rule += 1;
                continue;
            }
            let (q, m) = (matched.probability, frame.mass);
            let here = (frame.chain, frame.rule);
            match rule.flow() {
                Flow::Continue => frame.rule += 1,
                flow @ (Flow::Return | Flow::Terminate) => {
                    if let Some(condition) = matched.unassigned {
                        return Err(condition);
                    }
                    let outcome = match (flow, rule.target.as_ref().map(|t| &t.action)) {
                        (Flow::Return, _) => Outcome::Return,
                        (_, Some(Action::Dnat(_))) => Outcome::Dnat {
                            chain: here.0,
                            rule: here.1,
                        },
                        _ => Outcome::Verdict {
                            chain: here.0,
                            rule: here.1,
                        },
                    };
                    frame.out.add(outcome, m * q);
                    frame.mass = m * (1.0 - q);
                    frame.rule += 1;
                }
                flow @ (Flow::Call | Flow::Goto) => {
                    let target = rule.target.as_ref().and_then(|t| t.chain);
                    let callee = match target {
                        None => Rc::new(Distribution::certain(Outcome::Unresolved {
                            chain: here.0,
                            rule: here.1,
                            why: Unresolved::UndeclaredChain,
                        })),
                        Some(callee) => {
                            if let Some((found, uses_packet)) = self.lookup(callee, packet_id) {
                                frame.uses_packet |= uses_packet;
                                found
                            } else if let Some((found, uses_packet)) = local_memo.get(&callee) {
                                frame.uses_packet |= uses_packet;
                                frame.local = true;
                                found.clone()
                            } else if on_stack.contains(&callee) {
                                frame.local = true;
                                Rc::new(Distribution::certain(Outcome::Unresolved {
                                    chain: here.0,
                                    rule: here.1,
                                    why: Unresolved::Loop,
                                }))
                            } else {
                                // Evaluate the callee first; this rule runs again after.
                                on_stack.insert(callee);
                                stack.push(Frame::new(callee));
                                prefetch_chain(table, callee);
                                continue;
                            }
                        }
                    };
                    let call = flow == Flow::Call;
                    if call && callee.is_pure_return() {
                        frame.rule += 1;
                        continue;
                    }
                    if let Some(condition) = matched.unassigned {
                        return Err(condition);
                    }
                    let mut back = 0.0;
                    for (outcome, p) in callee.iter() {
                        if call && outcome == Outcome::Return {
                            back += p;
                        } else {
                            frame.out.add(outcome, m * q * p);
                        }
                    }
                    frame.mass = m * (1.0 - q) + m * q * back;
                    frame.rule += 1;
                }
            }
        }
    }

    /// How the traffic entering `start` spreads over rules and chains in
    /// the case `assignment` (a case returned by [`Analyzer::cases`]).
    /// `None` when a loop is reachable or the case leaves a condition open.
    pub fn flows(&mut self, start: usize, packet: Packet, assignment: &[Literal]) -> Option<Flows> {
        let table = self.table;
        let order = topological_order(table, start)?;
        let mut flows = Flows {
            start,
            ..Flows::default()
        };
        // Sized once: rehashing as they grew from empty was a tenth of this
        // function's instructions (callgrind, 1k dump).
        let rules: usize = order
            .iter()
            .map(|&chain| table.chains[chain].rules.len())
            .sum();
        flows.rules.reserve(rules);
        flows.chains.reserve(order.len());
        flows.main_caller.reserve(order.len());
        flows.chains.insert(start, 1.0);
        let mut best_in: HashMap<usize, f64> = HashMap::default();
        best_in.reserve(order.len());
        for chain in order {
            let entering = flows.chains.get(&chain).copied().unwrap_or(0.0);
            let mut m = entering;
            for (index, rule) in table.chains[chain].rules.iter().enumerate() {
                let Some(target) = &rule.target else { continue };
                let matched = match_rule(self.src, rule, &packet, assignment);
                if matched.never {
                    continue;
                }
                let flow = rule.flow();
                if matched.unassigned.is_some() {
                    // Only harmless rules may stay open in a resolved case.
                    continue;
                }
                let taken = m * matched.probability;
                *flows.rules.entry((chain, index)).or_insert(0.0) += taken;
                match flow {
                    Flow::Continue => {}
                    Flow::Return | Flow::Terminate => m -= taken,
                    Flow::Call | Flow::Goto => {
                        let Some(callee) = target.chain else {
                            m -= taken;
                            continue;
                        };
                        *flows.chains.entry(callee).or_insert(0.0) += taken;
                        let best = best_in.entry(callee).or_insert(-1.0);
                        if taken > *best {
                            *best = taken;
                            flows.main_caller.insert(callee, (chain, index));
                        }
                        if flow == Flow::Call {
                            // The shared result, not a copy of it.
                            let back = self
                                .evaluate(callee, packet, assignment)
                                .ok()?
                                .probability(&Outcome::Return);
                            m = m - taken + taken * back;
                        } else {
                            m -= taken;
                        }
                    }
                }
                if m < 0.0 {
                    m = 0.0;
                }
            }
        }
        Some(flows)
    }

    /// The conditions under which `rule` matches `packet` when nothing else
    /// is known, or `None` when it cannot match. The probability of a
    /// statistic match is not a condition and is left out.
    pub fn rule_conditions(&self, rule: &Rule<'_>, packet: Packet) -> Option<Vec<Literal>> {
        rule_literals(self.src, rule, &packet)
    }
}

/// Ask for the matches of the rules of `chain` and the rules of the chains
/// it calls before the walk reads them (see [`crate::prefetch`]): a
/// service's endpoint chains lie far apart in a large model.
fn prefetch_chain(table: &Table<'_>, chain: usize) {
    prefetch::chain_matches(table, chain);
    prefetch::callee_rules(table, chain);
}

/// Chains reachable from `start` in an order where every caller comes
/// before its callees; `None` when a loop is reachable.
fn topological_order(table: &Table<'_>, start: usize) -> Option<Vec<usize>> {
    let callees = |chain: usize| {
        table.chains[chain]
            .rules
            .iter()
            .filter_map(|rule| rule.jump_target())
    };
    let mut reached = vec![start];
    let mut seen: HashSet<usize> = HashSet::from_iter([start]);
    let mut index = 0;
    while index < reached.len() {
        let chain = reached[index];
        index += 1;
        for callee in callees(chain) {
            if seen.insert(callee) {
                reached.push(callee);
            }
        }
    }
    let mut incoming: HashMap<usize, usize> = reached.iter().map(|&c| (c, 0)).collect();
    for &chain in &reached {
        for callee in callees(chain) {
            *incoming.get_mut(&callee).expect("reached") += 1;
        }
    }
    let mut ready: Vec<usize> = reached
        .iter()
        .copied()
        .filter(|c| incoming[c] == 0)
        .collect();
    let mut order = Vec::with_capacity(reached.len());
    while let Some(chain) = ready.pop() {
        order.push(chain);
        for callee in callees(chain) {
            let count = incoming.get_mut(&callee).expect("reached");
            *count -= 1;
            if *count == 0 {
                ready.push(callee);
            }
        }
    }
    (order.len() == reached.len()).then_some(order)
}

/// How a rule matches a packet in one case.
#[derive(Debug, Clone)]
struct RuleMatch {
    /// It cannot match.
    never: bool,
    /// The probability it matches when every condition holds.
    probability: f64,
    /// The first condition it depends on that the case does not fix.
    unassigned: Option<Condition>,
    /// A packet field decided something.
    uses_packet: bool,
    /// A condition of the case decided something.
    uses_assignment: bool,
}

fn match_rule(src: &str, rule: &Rule<'_>, packet: &Packet, assignment: &[Literal]) -> RuleMatch {
    let mut reader = Reader::new(src, packet);
    reader.rule(rule);
    let mut result = RuleMatch {
        never: reader.never,
        probability: reader.probability,
        unassigned: None,
        uses_packet: reader.uses_packet,
        uses_assignment: false,
    };
    if result.never {
        return result;
    }
    for (condition, wanted) in reader.literals {
        match assignment.iter().find(|(c, _)| *c == condition) {
            Some((_, value)) => {
                result.uses_assignment = true;
                if *value != wanted {
                    result.never = true;
                    return result;
                }
            }
            None => {
                if result.unassigned.is_none() {
                    result.unassigned = Some(condition);
                }
            }
        }
    }
    result
}

fn rule_literals(src: &str, rule: &Rule<'_>, packet: &Packet) -> Option<Vec<Literal>> {
    let mut reader = Reader::new(src, packet);
    reader.rule(rule);
    (!reader.never).then_some(reader.literals)
}

/// Reads a rule's matches against a packet: what is decided, the
/// probability, and the conditions left.
struct Reader<'s, 'p> {
    src: &'s str,
    packet: &'p Packet,
    never: bool,
    probability: f64,
    literals: Vec<Literal>,
    uses_packet: bool,
}

fn host(addr: IpAddr) -> IpNet {
    IpNet {
        addr,
        prefix: if addr.is_ipv4() { 32 } else { 128 },
    }
}

fn port_in(ranges: &[PortRange], port: u16) -> bool {
    ranges.iter().any(|r| r.lo <= port && port <= r.hi)
}

impl<'s, 'p> Reader<'s, 'p> {
    fn new(src: &'s str, packet: &'p Packet) -> Self {
        Reader {
            src,
            packet,
            never: false,
            probability: 1.0,
            literals: Vec::new(),
            uses_packet: false,
        }
    }

    fn text(&self, span: Span) -> String {
        let text = self.src.get(span.range()).unwrap_or("?");
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// A decided match on a packet field.
    fn decide(&mut self, hit: bool) {
        self.uses_packet = true;
        if !hit {
            self.never = true;
        }
    }

    fn literal(&mut self, kind: ConditionKind, subject: impl Into<Subject>, holds: bool) {
        self.literals.push((Condition::new(kind, subject), holds));
    }

    /// An undecidable option, by its text with any `!` turned into the
    /// literal's polarity.
    fn opaque<T>(&mut self, option: &Negatable<T>) {
        let text = self.text(option.span);
        let plain = text.trim_start_matches('!').trim_start().to_string();
        self.literal(ConditionKind::Other, plain, !option.negated);
    }

    fn rule(&mut self, rule: &Rule<'_>) {
        if let Some(source) = &rule.source {
            if source.value.is_sparse() {
                self.opaque(source);
            } else {
                self.literal(ConditionKind::Source, source.value.net, !source.negated);
            }
        }
        if let Some(destination) = &rule.destination {
            match self.packet.destination {
                _ if destination.value.is_sparse() => self.opaque(destination),
                Some(addr) => self.decide(
                    (destination.value.is_any() || destination.value.net.contains(&host(addr)))
                        != destination.negated,
                ),
                None => self.literal(
                    ConditionKind::Destination,
                    destination.value.net,
                    !destination.negated,
                ),
            }
        }
        if let Some(interface) = &rule.in_interface {
            self.literal(
                ConditionKind::InInterface,
                interface.value.to_string(),
                !interface.negated,
            );
        }
        if let Some(interface) = &rule.out_interface {
            self.literal(
                ConditionKind::OutInterface,
                interface.value.to_string(),
                !interface.negated,
            );
        }
        if let Some(protocol) = &rule.protocol {
            self.protocol(protocol.value, protocol.negated);
        }
        if let Some(fragment) = &rule.fragment {
            // The first packet of a connection is never a second or later fragment.
            if !fragment.negated {
                self.never = true;
            }
        }
        for m in &rule.matches {
            if self.never {
                return;
            }
            self.one_match(&m.name, m.span, &m.kind);
        }
    }

    fn protocol(&mut self, protocol: Protocol, negated: bool) {
        if protocol == Protocol::All {
            if negated {
                self.never = true;
            }
            return;
        }
        match self.packet.protocol {
            Some(known) => self.decide((known == protocol) != negated),
            None => self.literal(
                ConditionKind::Protocol,
                protocol.name().into_owned(),
                !negated,
            ),
        }
    }

    fn destination_port(&mut self, ranges: &[PortRange], negated: bool, span: Span) {
        match self.packet.destination_port {
            Some(port) => self.decide(port_in(ranges, port) != negated),
            None => {
                let text = self.text(span);
                let plain = text.trim_start_matches('!').trim_start().to_string();
                self.literal(ConditionKind::DestinationPort, plain, !negated);
            }
        }
    }

    fn one_match(&mut self, name: &str, span: Span, kind: &MatchKind<'_>) {
        match kind {
            MatchKind::Comment(_) => {}
            MatchKind::Tcp(ports) | MatchKind::Udp(ports) => {
                // `-m tcp` only matches tcp packets (likewise udp, sctp ...).
                // Told apart without reading the name where the kind or
                // the length says it: the name's bytes are in the dump's
                // text, a cache miss per rule on a large dump.
                let module = match kind {
                    MatchKind::Tcp(_) => Ok(Protocol::TCP),
                    // udp, the only three-letter one of udp, sctp and dccp.
                    _ if name.len() == 3 => Ok(Protocol::UDP),
                    _ => Protocol::parse(name),
                };
                if let (Ok(module), Some(known)) = (module, self.packet.protocol)
                    && module != Protocol::All
                {
                    self.decide(module == known);
                    if self.never {
                        return;
                    }
                }
                if let Some(destination) = &ports.destination {
                    self.destination_port(
                        std::slice::from_ref(&destination.value),
                        destination.negated,
                        destination.span,
                    );
                }
                if let Some(source) = &ports.source
                    && !self.reversed(source.value.is_reversed(), source.negated)
                {
                    self.opaque(source);
                }
                if let Some(flags) = &ports.flags {
                    self.opaque(flags);
                }
            }
            MatchKind::Multiport(multiport) => {
                if let Some(destination) = &multiport.destination {
                    self.destination_port(
                        &destination.value,
                        destination.negated,
                        destination.span,
                    );
                }
                if let Some(source) = &multiport.source {
                    self.opaque(source);
                }
                if let Some(either) = &multiport.either {
                    match self.packet.destination_port {
                        // The destination port alone makes `--ports` match.
                        Some(port) if port_in(&either.value, port) => self.decide(!either.negated),
                        _ => self.opaque(either),
                    }
                }
            }
            MatchKind::Conntrack(conntrack) => {
                if let Some(state) = &conntrack.state {
                    self.new_state(state.value.0, state.negated);
                }
                if let Some(original) = &conntrack.original_destination {
                    match self.packet.destination {
                        Some(addr) => {
                            self.decide(original.value.contains(&host(addr)) != original.negated)
                        }
                        None => self.literal(
                            ConditionKind::Destination,
                            original.value,
                            !original.negated,
                        ),
                    }
                }
                if conntrack.has_other_options {
                    self.literal(ConditionKind::Other, self.text(span), true);
                }
            }
            MatchKind::State(state) => self.new_state(state.value.0, state.negated),
            MatchKind::AddrType(addrtype) => {
                if let Some(source) = &addrtype.source {
                    self.literal(
                        ConditionKind::SourceType,
                        source.value.clone(),
                        !source.negated,
                    );
                }
                if let Some(destination) = &addrtype.destination {
                    match self.packet.destination_local {
                        Some(local) if destination.value == "LOCAL" => {
                            self.decide(local != destination.negated)
                        }
                        _ => self.literal(
                            ConditionKind::DestinationType,
                            destination.value.clone(),
                            !destination.negated,
                        ),
                    }
                }
            }
            MatchKind::Statistic(StatisticMatch::Random(probability)) => {
                let p = probability.value.effective();
                self.probability *= if probability.negated { 1.0 - p } else { p };
            }
            MatchKind::Statistic(StatisticMatch::Nth { every, negated, .. }) => {
                let p = 1.0 / f64::from(*every);
                self.probability *= if *negated { 1.0 - p } else { p };
            }
            MatchKind::Recent(recent) => match recent.action {
                // `--set` records the address and always matches.
                RecentAction::Set => {
                    if recent.negated {
                        self.never = true;
                    }
                }
                RecentAction::Check | RecentAction::Update => self.literal(
                    ConditionKind::Affinity,
                    recent.name.clone(),
                    !recent.negated,
                ),
                RecentAction::Remove => self.literal(ConditionKind::Other, self.text(span), true),
            },
            MatchKind::IpRange(range) => {
                if let Some(destination) = &range.destination {
                    match self.packet.destination {
                        Some(addr) => {
                            let (lo, hi) = destination.value;
                            let inside = lo <= addr && addr <= hi && lo.is_ipv4() == addr.is_ipv4();
                            self.decide(inside != destination.negated);
                        }
                        None => {
                            let (lo, hi) = destination.value;
                            if !self.reversed(lo > hi, destination.negated) {
                                self.opaque(destination);
                            }
                        }
                    }
                }
                if let Some(source) = &range.source {
                    let (lo, hi) = source.value;
                    if !self.reversed(lo > hi, source.negated) {
                        self.opaque(source);
                    }
                }
            }
            _ => self.literal(ConditionKind::Other, self.text(span), true),
        }
    }

    /// A range written backwards, which no value falls in (see
    /// [`PortRange::is_reversed`]): the match fails whatever the packet, or
    /// with `!` holds whatever it is. Returns whether the range was one.
    fn reversed(&mut self, reversed: bool, negated: bool) -> bool {
        if reversed && !negated {
            self.never = true;
        }
        reversed
    }

    /// `--ctstate`/`--state` for the first packet of a new connection.
    fn new_state(&mut self, bits: u8, negated: bool) {
        const NEW: u8 = 1 << 1;
        if (bits & NEW != 0) == negated {
            self.never = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::build::build;

    fn analyse(src: &str, chain: &str, packet: Packet) -> Vec<Case> {
        let parsed = build(src);
        assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
        let table = &parsed.dump.tables[0];
        let mut analyzer = Analyzer::new(src, table);
        analyzer.cases(table.chain_index(chain).unwrap(), packet)
    }

    fn tcp(ip: &str, port: u16) -> Packet {
        Packet {
            destination: Some(ip.parse().unwrap()),
            destination_local: Some(false),
            protocol: Some(Protocol::TCP),
            destination_port: Some(port),
        }
    }

    fn shares(case: &Case) -> Vec<f64> {
        case.distribution
            .iter()
            .filter(|(o, _)| matches!(o, Outcome::Dnat { .. }))
            .map(|(_, p)| p)
            .collect()
    }

    #[test]
    fn nested_calls_return_and_gotos_do_not() {
        // A: half the traffic calls B, which DNATs half of what it gets and
        // returns the rest; A then DNATs everything left. C is reached by
        // goto: its fall-through leaves A, not C.
        let src = "*nat\n:A - [0:0]\n:B - [0:0]\n:C - [0:0]\n\
            -A A -m statistic --mode random --probability 0.5 -j B\n\
            -A A -m statistic --mode random --probability 0.5 -g C\n\
            -A A -p tcp -j DNAT --to-destination 10.0.0.3:80\n\
            -A B -m statistic --mode random --probability 0.5 -p tcp -j DNAT --to-destination 10.0.0.1:80\n\
            -A C -m statistic --mode random --probability 0.5 -p tcp -j DNAT --to-destination 10.0.0.2:80\n\
            COMMIT\n";
        let cases = analyse(src, "A", tcp("10.96.0.1", 80));
        assert_eq!(cases.len(), 1);
        let d = &cases[0].distribution;
        // B DNATs 0.25; 0.75 continues; goto C takes 0.375: 0.1875 DNAT, 0.1875 leaves A.
        assert_eq!(shares(&cases[0]), vec![0.25, 0.1875, 0.375]);
        assert_eq!(d.probability(&Outcome::Return), 0.1875);
    }

    #[test]
    fn nth_and_negated_statistics() {
        let src = "*nat\n:A - [0:0]\n\
            -A A -m statistic --mode nth --every 4 --packet 0 -p tcp -j DNAT --to-destination 10.0.0.1:80\n\
            -A A -m statistic --mode random ! --probability 0.25 -p tcp -j DNAT --to-destination 10.0.0.2:80\n\
            -A A -p tcp -j DNAT --to-destination 10.0.0.3:80\n\
            COMMIT\n";
        let cases = analyse(src, "A", tcp("10.96.0.1", 80));
        assert_eq!(shares(&cases[0]), vec![0.25, 0.75 * 0.75, 0.75 * 0.25]);
    }

    #[test]
    fn harmless_unknowns_are_ignored_and_deciding_ones_split() {
        let src = "*nat\n:A - [0:0]\n:MASQ - [0:0]\n\
            -A A ! -s 10.0.0.0/8 -j MASQ\n\
            -A A -d 10.96.0.2/32 -p tcp -j DNAT --to-destination 10.0.0.9:80\n\
            -A A -m recent --rcheck --name X -p tcp -j DNAT --to-destination 10.0.0.1:80\n\
            -A A -p tcp -j DNAT --to-destination 10.0.0.2:80\n\
            -A MASQ -j MARK --set-xmark 0x4000/0x4000\n\
            COMMIT\n";
        let cases = analyse(src, "A", tcp("10.96.0.1", 80));
        assert_eq!(cases.len(), 2);
        assert_eq!(cases[0].conditions.len(), 1);
        assert_eq!(cases[0].conditions[0].0.kind, ConditionKind::Affinity);
        assert!(cases[0].conditions[0].1);
        assert_eq!(shares(&cases[0]), vec![1.0]);
        assert!(!cases[1].conditions[0].1);
        let outcomes: Vec<_> = cases[1].distribution.iter().collect();
        assert_eq!(outcomes.len(), 1);
        assert!(matches!(outcomes[0], (Outcome::Dnat { rule: 3, .. }, 1.0)));
    }

    #[test]
    fn loops_and_undeclared_chains_are_unresolved() {
        let src = "*nat\n:A - [0:0]\n:B - [0:0]\n\
            -A A -m statistic --mode random --probability 0.5 -j B\n\
            -A A -p tcp -j DNAT --to-destination 10.0.0.1:80\n\
            -A B -j A\n\
            COMMIT\n";
        let cases = analyse(src, "A", tcp("10.96.0.1", 80));
        let d = &cases[0].distribution;
        assert_eq!(d.unresolved_total(), 0.5);
        assert_eq!(d.dnat_total(), 0.5);
    }

    #[test]
    fn deep_nesting_does_not_overflow_the_stack() {
        let n = 100_000;
        let mut src = String::from("*nat\n");
        for i in 0..n {
            src.push_str(&format!(":C{i} - [0:0]\n"));
        }
        for i in 0..n - 1 {
            src.push_str(&format!("-A C{i} -j C{}\n", i + 1));
        }
        src.push_str(&format!(
            "-A C{} -p tcp -j DNAT --to-destination 10.0.0.1:80\nCOMMIT\n",
            n - 1
        ));
        let cases = analyse(&src, "C0", tcp("10.96.0.1", 80));
        assert_eq!(shares(&cases[0]), vec![1.0]);
    }

    #[test]
    fn flows_follow_the_busiest_path() {
        let src = "*nat\n:A - [0:0]\n:B - [0:0]\n\
            -A A -m statistic --mode random --probability 0.25 -j B\n\
            -A A -j B\n\
            -A B -p tcp -j DNAT --to-destination 10.0.0.1:80\n\
            COMMIT\n";
        let parsed = build(src);
        let table = &parsed.dump.tables[0];
        let (a, b) = (
            table.chain_index("A").unwrap(),
            table.chain_index("B").unwrap(),
        );
        let mut analyzer = Analyzer::new(src, table);
        let flows = analyzer.flows(a, tcp("10.96.0.1", 80), &[]).unwrap();
        assert_eq!(flows.rules[&(a, 0)], 0.25);
        assert_eq!(flows.rules[&(a, 1)], 0.75);
        assert_eq!(flows.chains[&b], 1.0);
        assert_eq!(flows.path_to(b, 0), vec![(a, 1), (b, 0)]);
    }
}
