//! The meaning of a dump: tables, chains, rules, matches and targets, each
//! with the span it was written at.
//!
//! Built from [`crate::syntax`] lines by [`build::build`]. Checks, `explain`
//! and `dot` read only this model and the [`crate::graph`] built from it.

pub mod build;
pub mod matches;
pub mod rule;
pub mod targets;
pub mod values;

use std::borrow::Cow;
use std::collections::HashMap;

pub use matches::{Match, MatchKind};
pub use targets::{Action, Flow, Target};
pub use values::{AddressMatch, IpNet};

use crate::syntax::{Counters, Span, Word};

/// A value with the `!` that may invert it. Two are equal when they mean
/// the same, wherever and however they were written (the span is not
/// compared): `-s 10.0.0.1` and `--source 10.0.0.1/32` are one match.
#[derive(Debug, Clone, Copy)]
pub struct Negatable<T> {
    /// The value.
    pub value: T,
    /// Whether `!` inverts it.
    pub negated: bool,
    /// The option and its value(s), the `!` included.
    pub span: Span,
}

impl<T: PartialEq> PartialEq for Negatable<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value && self.negated == other.negated
    }
}

/// An option as written: `[!] --name value...`. Two are equal when their
/// canonical names, `!` and values (after quote removal) are, wherever
/// they were written.
#[derive(Debug, Clone)]
pub struct RawOption<'a> {
    /// Canonical long name, `--dport`.
    pub name: &'a str,
    /// Inverted by `!`.
    pub negated: bool,
    /// Its values.
    pub values: Vec<Word<'a>>,
    /// The option, its `!` and its values.
    pub span: Span,
}

impl PartialEq for RawOption<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.negated == other.negated
            && self.values.len() == other.values.len()
            && self
                .values
                .iter()
                .zip(&other.values)
                .all(|(a, b)| a.text == b.text)
    }
}

impl Eq for RawOption<'_> {}

/// An option of an untyped match or target as `-D` compares it: its name,
/// its `!` and its values.
pub type LoadedOption = (String, bool, Vec<String>);

/// The options of an untyped match or target as `-D` compares them: in no
/// particular order (each sets its own field of the extension's data, and
/// none may be given twice), each value made what `canonical` makes of it
/// given the option's name (where iptables reads one setting written
/// several ways).
pub fn unordered_options(
    options: &[RawOption<'_>],
    canonical: impl Fn(&str, &str) -> String,
) -> Vec<LoadedOption> {
    let mut loaded: Vec<LoadedOption> = options
        .iter()
        .map(|option| {
            let values = option
                .values
                .iter()
                .map(|word| canonical(option.name, &word.text));
            (option.name.to_string(), option.negated, values.collect())
        })
        .collect();
    loaded.sort();
    loaded
}

/// Address family of a dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Family {
    /// iptables.
    #[default]
    V4,
    /// ip6tables.
    V6,
}

/// The rule's `-p` as findings quote it: `-p udp` or `! -p tcp` in
/// backticks, or "no `-p`".
pub(crate) fn written_protocol(protocol: Option<&Negatable<Protocol>>) -> String {
    match protocol {
        Some(p) if p.negated => format!("`! -p {}`", p.value.name()),
        Some(p) => format!("`-p {}`", p.value.name()),
        None => "no `-p`".to_string(),
    }
}

impl Family {
    /// The other family.
    pub fn other(self) -> Family {
        match self {
            Family::V4 => Family::V6,
            Family::V6 => Family::V4,
        }
    }
}

/// `-p PROTO`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// `all` / `0`.
    All,
    /// An IP protocol number (tcp is 6, udp 17, icmp 1, ipv6-icmp 58).
    Number(u8),
}

impl Protocol {
    /// TCP.
    pub const TCP: Protocol = Protocol::Number(6);
    /// UDP.
    pub const UDP: Protocol = Protocol::Number(17);

    /// Parse a protocol name or number as iptables does.
    pub fn parse(text: &str) -> Result<Protocol, String> {
        // Numbers in C's notation, as strtoul reads them: `0x11` and `017`
        // are 17 and 15.
        if let Some(number) = values::c_number(text)
            && let Ok(number) = u8::try_from(number)
        {
            return Ok(if number == 0 {
                Protocol::All
            } else {
                Protocol::Number(number)
            });
        }
        PROTOCOL_NAMES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(text))
            .map(|(_, number)| {
                if *number == 0 {
                    Protocol::All
                } else {
                    Protocol::Number(*number)
                }
            })
            .ok_or_else(|| format!("unknown protocol `{text}`"))
    }

    /// The conventional name, for messages.
    pub fn name(self) -> Cow<'static, str> {
        match self {
            Protocol::All => Cow::Borrowed("all"),
            Protocol::Number(number) => PROTOCOL_NAMES
                .iter()
                .find(|(_, n)| *n == number)
                .map_or_else(
                    || Cow::Owned(number.to_string()),
                    |(name, _)| Cow::Borrowed(*name),
                ),
        }
    }
}

/// Names iptables resolves itself or finds in /etc/protocols.
const PROTOCOL_NAMES: &[(&str, u8)] = &[
    ("all", 0),
    ("tcp", 6),
    ("udp", 17),
    ("icmp", 1),
    ("ipv6-icmp", 58),
    ("icmpv6", 58),
    ("sctp", 132),
    ("udplite", 136),
    ("dccp", 33),
    ("gre", 47),
    ("esp", 50),
    ("ah", 51),
    ("igmp", 2),
    ("ipencap", 4),
    ("ipip", 94),
    ("ipv6", 41),
    ("ipv6-route", 43),
    ("ipv6-frag", 44),
    ("ipv6-nonxt", 59),
    ("ipv6-opts", 60),
    ("mh", 135),
    ("ipv6-mh", 135),
    ("rsvp", 46),
    ("ospf", 89),
    ("vrrp", 112),
    ("pim", 103),
    ("l2tp", 115),
    ("egp", 8),
    ("eigrp", 88),
    ("etherip", 97),
    ("encap", 98),
    ("ipcomp", 108),
    ("isis", 124),
    ("mpls-in-ip", 137),
    ("ip", 0),
];

/// A rule: what it matches and what it does.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule<'a> {
    /// 1-based line number.
    pub line: u32,
    /// The whole line.
    pub span: Span,
    /// The words after `-A CHAIN`: the rule as iptables compares it.
    pub spec: Span,
    /// `[packets:bytes]`, when the dump has them.
    pub counters: Option<Counters>,
    /// `-s`.
    pub source: Option<Negatable<AddressMatch>>,
    /// `-d`.
    pub destination: Option<Negatable<AddressMatch>>,
    /// `-i` (a trailing `+` is a wildcard). Boxed, like `-o`, because few
    /// rules have one and a rule is copied and stored by the hundred
    /// thousand: inline, the two took 80 of a rule's bytes.
    pub in_interface: Option<Box<Negatable<Cow<'a, str>>>>,
    /// `-o`.
    pub out_interface: Option<Box<Negatable<Cow<'a, str>>>>,
    /// `-p`.
    pub protocol: Option<Negatable<Protocol>>,
    /// `-f`: only second and later fragments (inverted: only first fragments and whole packets).
    pub fragment: Option<Negatable<()>>,
    /// `-m` modules, in order.
    pub matches: Vec<Match<'a>>,
    /// `-j` / `-g`; `None` for a rule that only counts.
    pub target: Option<Target<'a>>,
}

impl<'a> Rule<'a> {
    /// The index of the declared chain this rule jumps (`-j`) or goes
    /// (`-g`) to; `None` for any other target and for an undeclared chain.
    pub fn jump_target(&self) -> Option<usize> {
        self.target
            .as_ref()
            .filter(|target| target.is_chain())
            .and_then(|target| target.chain)
    }

    /// What two rules written the same share: the text after `-A CHAIN`
    /// and, as the rules of one `-s a,b` line share their text, the
    /// addresses (`duplicate-rule` reports such copies).
    pub fn copy_key<'s>(
        &self,
        src: &'s str,
    ) -> (&'s str, Option<AddressMatch>, Option<AddressMatch>) {
        (
            self.spec.text(src),
            self.source.map(|a| a.value),
            self.destination.map(|a| a.value),
        )
    }

    /// Whether the kernel would hold the two rules as one entry, as
    /// `iptables -D RULE` compares them: the same addresses, interfaces,
    /// protocol and fragment flag, the same matches in the same order and
    /// the same target, however each was spelled (`-p 6` and `-p tcp`, `-s
    /// 10.0.0.1` and `-s 10.0.0.1/32`, `--dport ssh` and `--dport 22`, `-m
    /// tcp` written or loaded by `-p tcp`, `-j REJECT` with its default
    /// `--reject-with` of `family` or an abbreviation of a type). Counters
    /// are not compared. Options iptlint keeps untyped ([`RawOption`])
    /// compare by their text.
    pub fn same_entry(&self, other: &Rule<'_>, family: Family) -> bool {
        // No `-p`, and no `-s`/`-d`, is what `-p all` and `-s 0.0.0.0/0` load.
        let protocol = |rule: &Rule<'_>| {
            rule.protocol
                .filter(|p| p.negated || p.value != Protocol::All)
                .map(|p| (p.value, p.negated))
        };
        let loaded =
            |a: Option<Negatable<AddressMatch>>| a.filter(|a| a.negated || !a.value.is_any());
        let same_address = |a: Option<Negatable<AddressMatch>>,
                            b: Option<Negatable<AddressMatch>>| {
            match (loaded(a), loaded(b)) {
                (None, None) => true,
                (Some(a), Some(b)) => a.negated == b.negated && a.value.loads_as(&b.value),
                _ => false,
            }
        };
        protocol(self) == protocol(other)
            && same_address(self.source, other.source)
            && same_address(self.destination, other.destination)
            && self.in_interface == other.in_interface
            && self.out_interface == other.out_interface
            && self.fragment == other.fragment
            && self.matches.len() == other.matches.len()
            && self
                .matches
                .iter()
                .zip(&other.matches)
                .all(|(a, b)| a.same_entry(b))
            && match (&self.target, &other.target) {
                (Some(a), Some(b)) => a.same_entry(b, family),
                (a, b) => a == b,
            }
    }

    /// Whether the two rules are written the same (see [`Rule::copy_key`]).
    pub fn is_copy_of(&self, other: &Rule<'_>, src: &str) -> bool {
        self.copy_key(src) == other.copy_key(src)
    }

    /// For one of the rules iptables makes of a `-s a,b -d c,d` line, the
    /// pair of addresses it has, as `-s a -d c`; `None` for any other rule.
    /// (An address of a list keeps the span of its own text, one given
    /// alone the span of its option, which starts with `-` or `!`.)
    pub fn address_pair(&self, src: &str) -> Option<String> {
        let options = [("-s", &self.source), ("-d", &self.destination)];
        let listed =
            |address: &Negatable<AddressMatch>| !address.span.text(src).starts_with(['-', '!']);
        if !options
            .iter()
            .any(|(_, address)| address.as_ref().is_some_and(listed))
        {
            return None;
        }
        let written: Vec<String> = options
            .iter()
            .filter_map(|(option, address)| {
                let address = address.as_ref()?;
                let text = address.span.text(src);
                Some(if listed(address) {
                    format!("{option} {text}")
                } else {
                    text.to_string()
                })
            })
            .collect();
        Some(written.join(" "))
    }

    /// What a matching rule does to the evaluation.
    pub fn flow(&self) -> Flow {
        self.target.as_ref().map_or(Flow::Continue, Target::flow)
    }

    /// The text of the first `-m comment`.
    pub fn comment(&self) -> Option<&str> {
        self.matches.iter().find_map(|m| match &m.kind {
            MatchKind::Comment(text) => Some(text.as_ref()),
            _ => None,
        })
    }

    /// Whether the rule matches every packet: no address, interface,
    /// protocol or fragment condition and no match module other than
    /// `comment`.
    pub fn is_unconditional(&self) -> bool {
        self.source.is_none()
            && self.destination.is_none()
            && self.in_interface.is_none()
            && self.out_interface.is_none()
            && self.protocol.is_none()
            && self.fragment.is_none()
            && self
                .matches
                .iter()
                .all(|m| matches!(m.kind, MatchKind::Comment(_)))
    }

    /// Where the rule's `-j`/`-g` was written, or the whole line without one.
    pub fn target_span(&self) -> Span {
        self.target.as_ref().map_or(self.span, |target| target.span)
    }
}

/// A chain of a table.
#[derive(Debug, Clone, PartialEq)]
pub struct Chain<'a> {
    /// Its name.
    pub name: Cow<'a, str>,
    /// Where it was declared (`:NAME ...` line or `-N NAME` command); for
    /// a built-in chain never declared, the table header.
    pub span: Span,
    /// Where the name was written.
    pub name_span: Span,
    /// Line of the declaration, 0 when never declared.
    pub line: u32,
    /// Built-in chain of its table.
    pub builtin: bool,
    /// Declared in the dump (built-in chains exist even when not declared).
    pub declared: bool,
    /// `ACCEPT`/`DROP` for built-in chains.
    pub policy: Option<Cow<'a, str>>,
    /// Counters of the declaration.
    pub counters: Option<Counters>,
    /// Its rules in evaluation order.
    pub rules: Vec<Rule<'a>>,
    /// Some rule put in it has a match or target whose validity depends on
    /// the dump's family, or a REJECT type: the model builder reads the
    /// rules of such chains again once the family is known, and only
    /// those (see `RuleFacts` in `model::build`).
    pub(crate) family_dependent: bool,
}

impl Chain<'_> {
    /// The policy applied when a packet falls off this built-in chain.
    pub fn policy_name(&self) -> &str {
        self.policy.as_deref().unwrap_or("ACCEPT")
    }
}

/// Which table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TableKind {
    /// `filter`.
    Filter,
    /// `nat`.
    Nat,
    /// `mangle`.
    Mangle,
    /// `raw`.
    Raw,
    /// `security`.
    Security,
    /// A name iptables does not know.
    Unknown,
}

impl TableKind {
    /// The table's name (`?` for one iptables does not know).
    pub fn name(self) -> &'static str {
        match self {
            TableKind::Filter => "filter",
            TableKind::Nat => "nat",
            TableKind::Mangle => "mangle",
            TableKind::Raw => "raw",
            TableKind::Security => "security",
            TableKind::Unknown => "?",
        }
    }

    /// From the name after `*`.
    pub fn from_name(name: &str) -> TableKind {
        match name {
            "filter" => TableKind::Filter,
            "nat" => TableKind::Nat,
            "mangle" => TableKind::Mangle,
            "raw" => TableKind::Raw,
            "security" => TableKind::Security,
            _ => TableKind::Unknown,
        }
    }

    /// Built-in chains in hook order.
    pub fn builtin_chains(self) -> &'static [&'static str] {
        match self {
            TableKind::Filter | TableKind::Security => &["INPUT", "FORWARD", "OUTPUT"],
            TableKind::Nat => &["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
            TableKind::Mangle => &["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
            TableKind::Raw => &["PREROUTING", "OUTPUT"],
            TableKind::Unknown => &[],
        }
    }
}

/// A restore command other than `-A` (`-I -D -R -N -X -F -Z -P -E`), as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The command letter: `I`, `D`, `R`, `N`, `X`, `F`, `Z`, `P` or `E`.
    pub letter: char,
    /// The chain it names, when one.
    pub chain: Option<String>,
    /// 1-based line number.
    pub line: u32,
    /// The whole line.
    pub span: Span,
}

/// A table of the dump: `*name` ... `COMMIT`.
#[derive(Debug, Clone, PartialEq)]
pub struct Table<'a> {
    /// Its name.
    pub name: Cow<'a, str>,
    /// Which table.
    pub kind: TableKind,
    /// The `*name` line.
    pub span: Span,
    /// The `COMMIT` line, when present.
    pub commit: Option<Span>,
    /// Chains: built-in ones first in hook order, then user chains in
    /// declaration order.
    pub chains: Vec<Chain<'a>>,
    /// Restore commands other than `-A`, in file order.
    pub commands: Vec<Command>,
    /// Chain name to index. Keys borrow the dump like the chains do, and
    /// foldhash is several times cheaper than std's SipHash on short names
    /// (a lookup per rule line); its seed is random, so a dump cannot be
    /// crafted to make lookups collide.
    index: HashMap<Cow<'a, str>, usize, foldhash::fast::RandomState>,
}

impl<'a> Table<'a> {
    /// An empty table with its built-in chains.
    pub fn new(name: Cow<'a, str>, span: Span) -> Self {
        let kind = TableKind::from_name(&name);
        let mut table = Table {
            name,
            kind,
            span,
            commit: None,
            chains: Vec::new(),
            commands: Vec::new(),
            index: HashMap::default(),
        };
        for builtin in kind.builtin_chains() {
            table.add_chain(Chain {
                name: Cow::Borrowed(builtin),
                span,
                name_span: span,
                line: 0,
                builtin: true,
                declared: false,
                policy: None,
                counters: None,
                rules: Vec::new(),
                family_dependent: false,
            });
        }
        table
    }

    /// Add a chain; returns its index.
    pub fn add_chain(&mut self, chain: Chain<'a>) -> usize {
        let index = self.chains.len();
        self.index.insert(chain.name.clone(), index);
        self.chains.push(chain);
        index
    }

    /// Index of the chain named `name`.
    pub fn chain_index(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// The chain named `name`.
    pub fn chain(&self, name: &str) -> Option<&Chain<'a>> {
        self.chain_index(name).map(|index| &self.chains[index])
    }

    /// Remove chain `index`, keeping the others' order and re-indexing.
    pub fn remove_chain(&mut self, index: usize) {
        self.chains.remove(index);
        self.reindex();
    }

    /// Rebuild the name index after chains were renamed or removed.
    pub fn reindex(&mut self) {
        self.index = self
            .chains
            .iter()
            .enumerate()
            .map(|(index, chain)| (chain.name.clone(), index))
            .collect();
    }

    /// Whether this table is a fragment meant for `iptables-restore
    /// --noflush` (as kube-proxy writes): no built-in chain is declared or
    /// has rules, so the hooks that reach its chains live elsewhere.
    pub fn is_fragment(&self) -> bool {
        self.chains
            .iter()
            .filter(|chain| chain.builtin)
            .all(|chain| !chain.declared && chain.rules.is_empty())
    }

    /// Number of rules in all chains.
    pub fn rule_count(&self) -> usize {
        self.chains.iter().map(|chain| chain.rules.len()).sum()
    }
}

/// A whole dump.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Dump<'a> {
    /// Address family, from the header or the addresses.
    pub family: Family,
    /// The tables in file order (a table written twice appears once, as its last copy).
    pub tables: Vec<Table<'a>>,
    /// Lines of the file.
    pub line_count: u32,
    /// Whether rule or chain counters were written (`iptables-save -c`).
    pub has_counters: bool,
}

impl<'a> Dump<'a> {
    /// The table named `name`.
    pub fn table(&self, name: &str) -> Option<&Table<'a>> {
        self.tables.iter().find(|table| table.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_by_name_or_by_number_in_c_notation() {
        assert_eq!(Protocol::parse("TCP"), Ok(Protocol::TCP));
        assert_eq!(Protocol::parse("17"), Ok(Protocol::UDP));
        // strtoul's bases: `0x11` is 17 and `017` is 15.
        assert_eq!(Protocol::parse("0x11"), Ok(Protocol::UDP));
        assert_eq!(Protocol::parse("017"), Ok(Protocol::Number(15)));
        assert_eq!(Protocol::parse("0"), Ok(Protocol::All));
        assert_eq!(Protocol::parse("00"), Ok(Protocol::All));
        assert!(Protocol::parse("256").is_err());
        assert!(Protocol::parse("foo").is_err());
    }
}
