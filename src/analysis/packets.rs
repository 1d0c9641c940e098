//! Sets of packets, as the matches of rules describe them.
//!
//! A [`PacketSet`] is a product of one set per packet property iptlint
//! models: protocol, source and destination addresses and ports, input and
//! output interfaces, conntrack state, packet and connection marks, address
//! types, fragment position and TCP flags. A packet is in the set when each
//! of its properties is in the property's set. Properties a packet does not
//! have (the ports of an ICMP packet) count as "any value", which is why a
//! port or TCP-flag condition always comes with the protocol condition that
//! gives the packet those properties.
//!
//! Every operation errs on one known side, so analyses can prove things:
//! [`Dim::subset_of`] answers `true` only when it can prove the inclusion;
//! [`Dim::join`] and [`Dim::meet`] may return more than the exact union or
//! intersection, never less; [`Dim::minus`] returns a set between the exact
//! difference and the left operand. The set of a rule ([`RuleSet`]) says
//! whether it is exact: a match iptlint does not model (or cannot decide,
//! such as `-m statistic`) makes the rule "may match some packets", never
//! "matches all".

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::model::matches::{CtStates, StatisticMatch};
use crate::model::values::{MarkValue, PortRange};
use crate::model::{AddressMatch, Family, IpNet, MatchKind, Negatable, Protocol, Rule};

/// Most ranges a [`Values`] keeps after a join before merging neighbours.
pub const MAX_RANGES: usize = 32;
/// Most interface patterns an [`Interfaces`] keeps before giving up to "any".
pub const MAX_PATTERNS: usize = 16;
/// Most excluded marks a [`Marks`] keeps.
pub const MAX_EXCLUDED_MARKS: usize = 8;

/// What every dimension of a [`PacketSet`] offers. The sides on which each
/// operation may err are described in the module documentation.
pub trait Dim: Clone + PartialEq {
    /// Whether this is every value.
    fn is_any(&self) -> bool;
    /// Whether this is no value at all.
    fn is_empty(&self) -> bool;
    /// `true` only if every value of `self` is in `other`.
    fn subset_of(&self, other: &Self) -> bool;
    /// A superset of the intersection (exact for the sets a single rule builds).
    fn meet(&self, other: &Self) -> Self;
    /// A superset of the union.
    fn join(&self, other: &Self) -> Self;
    /// A set between `self \ other` and `self`.
    fn minus(&self, other: &Self) -> Self;
    /// `false` only if no value is in both.
    fn intersects(&self, other: &Self) -> bool {
        !self.meet(other).is_empty()
    }
}

// ---------------------------------------------------------------------------
// Ranges of integers: addresses and ports.

/// Builds the ranges of a [`Values`] from ranges given in increasing order.
struct RangesBuilder {
    ranges: Vec<(u128, u128)>,
    first: Option<(u128, u128)>,
}

impl RangesBuilder {
    fn new() -> Self {
        RangesBuilder {
            ranges: Vec::new(),
            first: None,
        }
    }

    /// Append a range that starts after every range already pushed, merging
    /// it with the last one when they touch.
    fn push(&mut self, lo: u128, hi: u128) {
        let last = if self.ranges.is_empty() {
            self.first.as_mut()
        } else {
            self.ranges.last_mut()
        };
        match last {
            Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
            Some(_) => {
                if self.ranges.is_empty() {
                    self.ranges.push(self.first.expect("a first range"));
                }
                self.ranges.push((lo, hi));
            }
            None => self.first = Some((lo, hi)),
        }
    }

    fn finish(self, width: Width) -> Values {
        let repr = match (self.first, self.ranges.is_empty()) {
            (None, _) => Repr::Wide(width, Vec::new()),
            (Some((0, hi)), true) if hi >= width.max() => Repr::All(width),
            (Some((lo, hi)), true) if hi <= u32::MAX as u128 => {
                Repr::Narrow(width, lo as u32, hi as u32)
            }
            (Some(range), true) => Repr::Wide(width, vec![range]),
            (Some(_), false) => Repr::Wide(width, self.ranges),
        };
        Values { repr }
    }
}

/// Which integers a [`Values`] ranges over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Width {
    Port,
    V4,
    V6,
}

impl Width {
    fn max(self) -> u128 {
        match self {
            Width::Port => 65535,
            Width::V4 => u32::MAX as u128,
            Width::V6 => u128::MAX,
        }
    }

    fn of(max: u128) -> Width {
        match max {
            65535 => Width::Port,
            m if m == u32::MAX as u128 => Width::V4,
            _ => Width::V6,
        }
    }
}

/// How a [`Values`] is stored: one range of ports or IPv4 addresses (the
/// common case) inline, anything else in a vector.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Repr {
    /// Every value.
    All(Width),
    /// One range whose ends fit in 32 bits.
    Narrow(Width, u32, u32),
    /// Sorted, disjoint, non-adjacent ranges: none, several, or one that
    /// does not fit [`Repr::Narrow`].
    Wide(Width, Vec<(u128, u128)>),
}

/// The ranges of a [`Values`], borrowed or, for one inline range, copied.
pub enum RangesView<'a> {
    /// One range.
    One([(u128, u128); 1]),
    /// Several (or none).
    Many(&'a [(u128, u128)]),
}

impl std::ops::Deref for RangesView<'_> {
    type Target = [(u128, u128)];

    fn deref(&self) -> &[(u128, u128)] {
        match self {
            RangesView::One(one) => one,
            RangesView::Many(many) => many,
        }
    }
}

/// A set of integers in `0..=max` (ports, or addresses of one family).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Values {
    repr: Repr,
}

impl Values {
    /// Every value up to `max` (65535, `u32::MAX` or `u128::MAX`).
    pub fn any(max: u128) -> Self {
        Values {
            repr: Repr::All(Width::of(max)),
        }
    }

    /// No value.
    pub fn none(max: u128) -> Self {
        Values {
            repr: Repr::Wide(Width::of(max), Vec::new()),
        }
    }

    fn width(&self) -> Width {
        match self.repr {
            Repr::All(w) | Repr::Narrow(w, ..) | Repr::Wide(w, _) => w,
        }
    }

    fn max(&self) -> u128 {
        self.width().max()
    }

    /// `lo..=hi`: empty when `lo > hi`, as the kernel's reversed ranges
    /// (`-p udp --dport 10:5`, `-m iprange --src-range B-A`), which no
    /// value falls in.
    pub fn range(max: u128, lo: u128, hi: u128) -> Self {
        if lo > hi {
            return Values::none(max);
        }
        let hi = hi.min(max);
        let mut builder = RangesBuilder::new();
        builder.push(lo, hi);
        builder.finish(Width::of(max))
    }

    /// The union of `ranges` (in any order); a reversed pair (`lo > hi`)
    /// holds nothing, as in [`Values::range`].
    pub fn from_ranges(max: u128, mut ranges: Vec<(u128, u128)>) -> Self {
        ranges.sort_unstable();
        let mut builder = RangesBuilder::new();
        for (lo, hi) in ranges.into_iter().filter(|(lo, hi)| lo <= hi) {
            builder.push(lo, hi.min(max));
        }
        builder.finish(Width::of(max))
    }

    /// The ranges, `None` for every value.
    pub fn ranges(&self) -> Option<RangesView<'_>> {
        match &self.repr {
            Repr::All(_) => None,
            Repr::Narrow(_, lo, hi) => Some(RangesView::One([(*lo as u128, *hi as u128)])),
            Repr::Wide(_, ranges) => Some(RangesView::Many(ranges)),
        }
    }

    /// The one value of a singleton set.
    pub fn single(&self) -> Option<u128> {
        match &self.repr {
            Repr::Narrow(_, lo, hi) if lo == hi => Some(*lo as u128),
            Repr::Wide(_, ranges) if ranges.len() == 1 && ranges[0].0 == ranges[0].1 => {
                Some(ranges[0].0)
            }
            _ => None,
        }
    }

    /// Every value not in `self`.
    pub fn complement(&self) -> Self {
        let Some(ranges) = self.ranges() else {
            return Values::none(self.max());
        };
        let max = self.max();
        let mut out = RangesBuilder::new();
        let mut next = 0u128;
        let mut open = true;
        for &(lo, hi) in ranges.iter() {
            if lo > next {
                out.push(next, lo - 1);
            }
            if hi >= max {
                open = false;
                break;
            }
            next = hi + 1;
        }
        if open {
            out.push(next, max);
        }
        out.finish(self.width())
    }

    /// Past [`MAX_RANGES`] ranges, the one range from the lowest value to the
    /// highest: joins of thousands of addresses (every service IP jumping to
    /// one chain) stay cheap, and further joins mostly fall inside.
    fn capped(self) -> Self {
        match self.repr {
            Repr::Wide(width, ranges) if ranges.len() > MAX_RANGES => {
                let mut builder = RangesBuilder::new();
                builder.push(ranges[0].0, ranges[ranges.len() - 1].1);
                builder.finish(width)
            }
            repr => Values { repr },
        }
    }
}

impl Dim for Values {
    fn intersects(&self, other: &Self) -> bool {
        let (Some(a), Some(b)) = (self.ranges(), other.ranges()) else {
            return !self.is_empty() && !other.is_empty();
        };
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            if a[i].0.max(b[j].0) <= a[i].1.min(b[j].1) {
                return true;
            }
            if a[i].1 < b[j].1 {
                i += 1;
            } else {
                j += 1;
            }
        }
        false
    }

    fn is_any(&self) -> bool {
        matches!(self.repr, Repr::All(_))
    }

    fn is_empty(&self) -> bool {
        matches!(&self.repr, Repr::Wide(_, ranges) if ranges.is_empty())
    }

    fn subset_of(&self, other: &Self) -> bool {
        match (&self.repr, &other.repr) {
            (_, Repr::All(_)) => return true,
            (Repr::All(_), _) => return false,
            (Repr::Narrow(_, a, b), Repr::Narrow(_, c, d)) => return c <= a && b <= d,
            _ => {}
        }
        let (Some(ours), Some(theirs)) = (self.ranges(), other.ranges()) else {
            unreachable!("handled above")
        };
        // Two pointers: each of our ranges lies inside one of theirs.
        let mut j = 0;
        for &(lo, hi) in ours.iter() {
            while j < theirs.len() && theirs[j].1 < lo {
                j += 1;
            }
            if j == theirs.len() || theirs[j].0 > lo || theirs[j].1 < hi {
                return false;
            }
        }
        true
    }

    fn meet(&self, other: &Self) -> Self {
        match (&self.repr, &other.repr) {
            (Repr::All(_), _) => return other.clone(),
            (_, Repr::All(_)) => return self.clone(),
            (Repr::Narrow(w, a, b), Repr::Narrow(_, c, d)) => {
                let (lo, hi) = (*a.max(c), *b.min(d));
                return Values {
                    repr: if lo <= hi {
                        Repr::Narrow(*w, lo, hi)
                    } else {
                        Repr::Wide(*w, Vec::new())
                    },
                };
            }
            _ => {}
        }
        let (Some(a), Some(b)) = (self.ranges(), other.ranges()) else {
            unreachable!("handled above")
        };
        let mut out = RangesBuilder::new();
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            let lo = a[i].0.max(b[j].0);
            let hi = a[i].1.min(b[j].1);
            if lo <= hi {
                out.push(lo, hi);
            }
            if a[i].1 < b[j].1 {
                i += 1;
            } else {
                j += 1;
            }
        }
        out.finish(self.width())
    }

    fn join(&self, other: &Self) -> Self {
        if other.subset_of(self) {
            return self.clone();
        }
        let (Some(a), Some(b)) = (self.ranges(), other.ranges()) else {
            return Values {
                repr: Repr::All(self.width()),
            };
        };
        // Merge the two sorted lists.
        let mut out = RangesBuilder::new();
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            let take_a = j == b.len() || (i < a.len() && a[i].0 <= b[j].0);
            let (lo, hi) = if take_a {
                i += 1;
                a[i - 1]
            } else {
                j += 1;
                b[j - 1]
            };
            out.push(lo, hi);
        }
        out.finish(self.width()).capped()
    }

    fn minus(&self, other: &Self) -> Self {
        let difference = self.meet(&other.complement());
        // Keep the representation small: a difference that would split the
        // set into too many pieces is left undone (a superset is allowed).
        if difference.ranges().is_some_and(|r| r.len() > MAX_RANGES) {
            self.clone()
        } else {
            difference
        }
    }
}

// ---------------------------------------------------------------------------
// Bit sets: protocols, conntrack states, address types, fragments, TCP flags.

/// The 256 IP protocol numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protocols([u64; 4]);

impl Protocols {
    /// Every protocol.
    pub const ANY: Protocols = Protocols([u64::MAX; 4]);
    /// No protocol.
    pub const NONE: Protocols = Protocols([0; 4]);

    /// One protocol.
    pub fn one(number: u8) -> Self {
        let mut bits = [0u64; 4];
        bits[number as usize / 64] |= 1 << (number % 64);
        Protocols(bits)
    }

    /// Whether `number` is in the set.
    pub fn contains(&self, number: u8) -> bool {
        self.0[number as usize / 64] & (1 << (number % 64)) != 0
    }

    /// Every protocol not in the set.
    pub fn complement(&self) -> Self {
        Protocols(self.0.map(|word| !word))
    }

    /// The protocols in the set, in number order.
    pub fn members(&self) -> impl Iterator<Item = u8> + '_ {
        (0..=255u8).filter(|&n| self.contains(n))
    }

    /// How many protocols are in the set.
    pub fn count(&self) -> u32 {
        self.0.iter().map(|w| w.count_ones()).sum()
    }
}

impl Dim for Protocols {
    fn intersects(&self, other: &Self) -> bool {
        (0..4).any(|i| self.0[i] & other.0[i] != 0)
    }
    fn is_any(&self) -> bool {
        *self == Protocols::ANY
    }
    fn is_empty(&self) -> bool {
        *self == Protocols::NONE
    }
    fn subset_of(&self, other: &Self) -> bool {
        (0..4).all(|i| self.0[i] & !other.0[i] == 0)
    }
    fn meet(&self, other: &Self) -> Self {
        Protocols(std::array::from_fn(|i| self.0[i] & other.0[i]))
    }
    fn join(&self, other: &Self) -> Self {
        Protocols(std::array::from_fn(|i| self.0[i] | other.0[i]))
    }
    fn minus(&self, other: &Self) -> Self {
        Protocols(std::array::from_fn(|i| self.0[i] & !other.0[i]))
    }
}

macro_rules! bitset_dim {
    ($(#[$doc:meta])* $name:ident, $bits:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name(pub u64);

        impl $name {
            /// Every value.
            pub const ANY: $name = $name(if $bits == 64 { u64::MAX } else { (1u64 << $bits) - 1 });
        }

        impl Dim for $name {
            fn intersects(&self, other: &Self) -> bool {
                self.0 & other.0 != 0
            }
            fn is_any(&self) -> bool {
                self.0 == Self::ANY.0
            }
            fn is_empty(&self) -> bool {
                self.0 == 0
            }
            fn subset_of(&self, other: &Self) -> bool {
                self.0 & !other.0 == 0
            }
            fn meet(&self, other: &Self) -> Self {
                $name(self.0 & other.0)
            }
            fn join(&self, other: &Self) -> Self {
                $name(self.0 | other.0)
            }
            fn minus(&self, other: &Self) -> Self {
                $name(self.0 & !other.0)
            }
        }
    };
}

bitset_dim!(
    /// Conntrack states: one bit per (state, SNAT-ed, DNAT-ed) combination,
    /// state one of INVALID, NEW, ESTABLISHED, RELATED, UNTRACKED; bit
    /// `state * 4 + snat * 2 + dnat`. `--ctstate SNAT`/`DNAT` are properties of
    /// the connection, not states of their own, hence the product.
    CtSet,
    20
);

bitset_dim!(
    /// Address types of `-m addrtype` (UNSPEC, UNICAST, LOCAL, ... in the
    /// kernel's order), one bit each.
    AddrTypes,
    12
);

bitset_dim!(
    /// Fragment position: bit 0 for a whole packet or first fragment, bit 1
    /// for a second or later fragment (`-f`).
    Fragments,
    2
);

bitset_dim!(
    /// TCP flags: one bit per combination of FIN, SYN, RST, PSH, ACK, URG.
    TcpFlagSet,
    64
);

/// Names of the address types, in bit order (the order `-m addrtype` knows them in).
pub use crate::model::matches::ADDRESS_TYPES as ADDRESS_TYPE_NAMES;

impl CtSet {
    /// The combinations `--ctstate STATES` matches.
    pub fn matching(states: CtStates) -> Self {
        let mut bits = 0u64;
        for main in 0..5u8 {
            for snat in 0..2u8 {
                for dnat in 0..2u8 {
                    let matches = states.0 & (1 << main) != 0
                        || (snat == 1 && states.0 & (1 << 5) != 0)
                        || (dnat == 1 && states.0 & (1 << 6) != 0);
                    if matches {
                        bits |= 1 << (main * 4 + snat * 2 + dnat);
                    }
                }
            }
        }
        CtSet(bits)
    }

    /// Which of INVALID, NEW, ESTABLISHED, RELATED, UNTRACKED some combination has.
    fn main_states(self) -> u8 {
        (0..5u8).fold(0, |acc, main| {
            if self.0 & (0xf << (main * 4)) != 0 {
                acc | (1 << main)
            } else {
                acc
            }
        })
    }
}

impl AddrTypes {
    /// The set of one or more comma-separated type names; `None` for an unknown name.
    pub fn parse(text: &str) -> Option<Self> {
        text.split(',').try_fold(AddrTypes(0), |acc, name| {
            ADDRESS_TYPE_NAMES
                .iter()
                .position(|known| known.eq_ignore_ascii_case(name))
                .map(|bit| AddrTypes(acc.0 | (1 << bit)))
        })
    }
}

impl Fragments {
    /// Whole packets and first fragments: what port and flag matches see.
    pub const HEADS: Fragments = Fragments(1);
    /// Second and later fragments (`-f`).
    pub const LATER: Fragments = Fragments(2);
}

impl TcpFlagSet {
    /// The combinations `--tcp-flags MASK COMP` matches: those whose
    /// flags under the mask are COMP. The kernel does not mask COMP
    /// (`(flags & mask) == comparison`), so a COMP with a flag outside the
    /// mask matches none.
    pub fn matching(mask: u8, comparison: u8) -> Self {
        let mut bits = 0u64;
        for flags in 0..64u8 {
            if flags & mask & 0x3f == comparison & 0x3f {
                bits |= 1 << flags;
            }
        }
        TcpFlagSet(bits)
    }
}

// ---------------------------------------------------------------------------
// Interfaces.

/// An interface name, or a prefix when written with a trailing `+`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// The name, or the prefix without its `+`.
    pub name: Box<str>,
    /// Written with a trailing `+`: any interface whose name starts with `name`.
    pub wildcard: bool,
}

impl Pattern {
    /// `eth0` or `eth+`.
    pub fn parse(text: &str) -> Self {
        match text.strip_suffix('+') {
            Some(prefix) => Pattern {
                name: prefix.into(),
                wildcard: true,
            },
            None => Pattern {
                name: text.into(),
                wildcard: false,
            },
        }
    }

    /// Whether every name this pattern matches is matched by `other`.
    pub fn within(&self, other: &Pattern) -> bool {
        if other.wildcard {
            self.name.starts_with(&*other.name)
        } else {
            !self.wildcard && self.name == other.name
        }
    }

    /// Whether no name matches both.
    pub fn disjoint(&self, other: &Pattern) -> bool {
        !self.within(other) && !other.within(self)
    }

    fn is_everything(&self) -> bool {
        self.wildcard && self.name.is_empty()
    }
}

impl std::fmt::Display for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.name, if self.wildcard { "+" } else { "" })
    }
}

/// A set of interface names (the empty name stands for "no interface", as in
/// OUTPUT for `-i`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interfaces {
    /// The names matched by one of the patterns.
    Only(Vec<Pattern>),
    /// Every name matched by none of the patterns (`Except([])` is any).
    Except(Vec<Pattern>),
}

impl Interfaces {
    /// Every interface.
    pub const fn any() -> Self {
        Interfaces::Except(Vec::new())
    }

    /// `-i PATTERN` or `! -i PATTERN`.
    pub fn from_rule(text: &str, negated: bool) -> Self {
        let pattern = Pattern::parse(text);
        match (pattern.is_everything(), negated) {
            (true, false) => Interfaces::any(),
            (true, true) => Interfaces::Only(Vec::new()),
            (false, false) => Interfaces::Only(vec![pattern]),
            (false, true) => Interfaces::Except(vec![pattern]),
        }
    }

    fn complement(&self) -> Self {
        match self {
            Interfaces::Only(p) => Interfaces::Except(p.clone()),
            Interfaces::Except(p) => Interfaces::Only(p.clone()),
        }
    }
}

/// Patterns without those inside another one of the list.
fn minimal_cover(mut patterns: Vec<Pattern>) -> Vec<Pattern> {
    let mut keep: Vec<Pattern> = Vec::with_capacity(patterns.len());
    patterns.sort_by(|a, b| {
        a.name
            .len()
            .cmp(&b.name.len())
            .then(b.wildcard.cmp(&a.wildcard))
    });
    for pattern in patterns {
        if !keep.iter().any(|k| pattern.within(k)) {
            keep.push(pattern);
        }
    }
    keep.sort_by(|a, b| a.name.cmp(&b.name));
    keep
}

impl Dim for Interfaces {
    fn is_any(&self) -> bool {
        matches!(self, Interfaces::Except(p) if p.is_empty())
    }

    fn is_empty(&self) -> bool {
        matches!(self, Interfaces::Only(p) if p.is_empty())
    }

    fn subset_of(&self, other: &Self) -> bool {
        match (self, other) {
            (Interfaces::Only(a), Interfaces::Only(b)) => {
                a.iter().all(|p| b.iter().any(|q| p.within(q)))
            }
            (Interfaces::Only(a), Interfaces::Except(b)) => {
                a.iter().all(|p| b.iter().all(|q| p.disjoint(q)))
            }
            (Interfaces::Except(a), Interfaces::Except(b)) => {
                b.iter().all(|q| a.iter().any(|p| q.within(p)))
            }
            (Interfaces::Except(_), Interfaces::Only(_)) => self.is_empty(),
        }
    }

    fn meet(&self, other: &Self) -> Self {
        match (self, other) {
            (Interfaces::Only(a), Interfaces::Only(b)) => {
                let mut out = Vec::new();
                for p in a {
                    for q in b {
                        if p.within(q) {
                            out.push(p.clone());
                        } else if q.within(p) {
                            out.push(q.clone());
                        }
                    }
                }
                Interfaces::Only(minimal_cover(out))
            }
            (Interfaces::Only(a), Interfaces::Except(b))
            | (Interfaces::Except(b), Interfaces::Only(a)) => Interfaces::Only(
                a.iter()
                    .filter(|p| !b.iter().any(|q| p.within(q)))
                    .cloned()
                    .collect(),
            ),
            (Interfaces::Except(a), Interfaces::Except(b)) => {
                Interfaces::Except(minimal_cover(a.iter().chain(b).cloned().collect()))
            }
        }
    }

    fn join(&self, other: &Self) -> Self {
        match (self, other) {
            (Interfaces::Only(a), Interfaces::Only(b)) => {
                let union = minimal_cover(a.iter().chain(b).cloned().collect());
                if union.len() > MAX_PATTERNS {
                    Interfaces::any()
                } else {
                    Interfaces::Only(union)
                }
            }
            (Interfaces::Only(a), Interfaces::Except(b))
            | (Interfaces::Except(b), Interfaces::Only(a)) => Interfaces::Except(
                b.iter()
                    .filter(|q| a.iter().all(|p| p.disjoint(q)))
                    .cloned()
                    .collect(),
            ),
            (Interfaces::Except(a), Interfaces::Except(b)) => {
                // Excluded from the union: names excluded by both.
                let mut both: Vec<Pattern> = a
                    .iter()
                    .filter(|p| b.iter().any(|q| p.within(q)))
                    .cloned()
                    .collect();
                both.extend(b.iter().filter(|q| a.iter().any(|p| q.within(p))).cloned());
                Interfaces::Except(minimal_cover(both))
            }
        }
    }

    fn minus(&self, other: &Self) -> Self {
        let difference = self.meet(&other.complement());
        match &difference {
            Interfaces::Except(p) if p.len() > MAX_PATTERNS => self.clone(),
            _ => difference,
        }
    }
}

// ---------------------------------------------------------------------------
// Marks.

/// A set of 32-bit marks: those with `mark & mask == value` and, for each
/// excluded `(value, mask)`, `mark & mask != value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marks {
    mask: u32,
    value: u32,
    excluded: Vec<(u32, u32)>,
    empty: bool,
}

impl Marks {
    /// Every mark.
    pub const fn any() -> Self {
        Marks {
            mask: 0,
            value: 0,
            excluded: Vec::new(),
            empty: false,
        }
    }

    fn nothing() -> Self {
        Marks {
            empty: true,
            ..Marks::any()
        }
    }

    /// `--mark VALUE/MASK`, or `! --mark VALUE/MASK`.
    pub fn from_rule(mark: MarkValue, negated: bool) -> Self {
        // The kernel compares `mark & mask` with the value as given: a value
        // with bits outside the mask never matches.
        let impossible = mark.value & !mark.mask != 0;
        match (impossible, negated) {
            (true, false) => Marks::nothing(),
            (true, true) => Marks::any(),
            (false, false) => Marks {
                mask: mark.mask,
                value: mark.value,
                ..Marks::any()
            },
            (false, true) => Marks {
                excluded: vec![(mark.value, mark.mask)],
                ..Marks::any()
            }
            .normalized(),
        }
    }

    /// Whether every mark of `self` avoids `mark & mask == value`.
    fn excludes(&self, value: u32, mask: u32) -> bool {
        if self.empty {
            return true;
        }
        // Known bits that contradict the excluded pattern.
        if (self.value ^ value) & self.mask & mask != 0 {
            return true;
        }
        // A stronger exclusion: m&k' != v' with k' inside mask and v' agreeing.
        self.excluded
            .iter()
            .any(|&(v, k)| k & !mask == 0 && value & k == v)
    }

    fn normalized(mut self) -> Self {
        if self.empty {
            return Marks::nothing();
        }
        // An exclusion the known bits force is a contradiction; one they
        // already rule out says nothing.
        let (mask, value) = (self.mask, self.value);
        if self
            .excluded
            .iter()
            .any(|&(v, k)| k & !mask == 0 && value & k == v)
        {
            return Marks::nothing();
        }
        self.excluded.retain(|&(v, k)| (value ^ v) & mask & k == 0);
        self.excluded.sort_unstable();
        self.excluded.dedup();
        self
    }

    /// The known bits and their values.
    pub fn known(&self) -> (u32, u32) {
        (self.value, self.mask)
    }

    /// The excluded `(value, mask)` patterns.
    pub fn excluded(&self) -> &[(u32, u32)] {
        &self.excluded
    }
}

impl Dim for Marks {
    fn is_any(&self) -> bool {
        !self.empty && self.mask == 0 && self.excluded.is_empty()
    }

    fn is_empty(&self) -> bool {
        self.empty
    }

    fn subset_of(&self, other: &Self) -> bool {
        if self.empty {
            return true;
        }
        if other.empty {
            return false;
        }
        self.mask & other.mask == other.mask
            && self.value & other.mask == other.value
            && other.excluded.iter().all(|&(v, k)| self.excludes(v, k))
    }

    fn meet(&self, other: &Self) -> Self {
        if self.empty || other.empty || (self.value ^ other.value) & self.mask & other.mask != 0 {
            return Marks::nothing();
        }
        let mut excluded = self.excluded.clone();
        excluded.extend_from_slice(&other.excluded);
        let mut out = Marks {
            mask: self.mask | other.mask,
            value: self.value | other.value,
            excluded,
            empty: false,
        }
        .normalized();
        // Dropping exclusions only grows the set, which a meet may do.
        out.excluded.truncate(MAX_EXCLUDED_MARKS);
        out
    }

    fn join(&self, other: &Self) -> Self {
        if self.empty {
            return other.clone();
        }
        if other.empty {
            return self.clone();
        }
        let mask = self.mask & other.mask & !(self.value ^ other.value);
        let mut excluded: Vec<(u32, u32)> = self
            .excluded
            .iter()
            .chain(&other.excluded)
            .copied()
            .filter(|&(v, k)| self.excludes(v, k) && other.excludes(v, k))
            .collect();
        excluded.truncate(MAX_EXCLUDED_MARKS);
        Marks {
            mask,
            value: self.value & mask,
            excluded,
            empty: false,
        }
        .normalized()
    }

    fn minus(&self, other: &Self) -> Self {
        if other.empty || self.empty {
            return self.clone();
        }
        match (other.mask, other.excluded.as_slice()) {
            // self \ {m & k == v} = self ∩ {m & k != v}
            (k, []) if k != 0 => self.meet(&Marks {
                excluded: vec![(other.value, k)],
                ..Marks::any()
            }),
            // self \ {m & k != v} = self ∩ {m & k == v}
            (0, [(v, k)]) => self.meet(&Marks {
                mask: *k,
                value: *v,
                ..Marks::any()
            }),
            _ => self.clone(),
        }
    }
}

// ---------------------------------------------------------------------------
// The product.

/// The properties most rules leave alone: interfaces and marks.
#[derive(Debug, Clone, PartialEq)]
struct ExtraDims {
    in_interface: Interfaces,
    out_interface: Interfaces,
    mark: Marks,
    connmark: Marks,
}

static ANY_EXTRA: ExtraDims = ExtraDims {
    in_interface: Interfaces::any(),
    out_interface: Interfaces::any(),
    mark: Marks::any(),
    connmark: Marks::any(),
};

/// Apply `$m!(field)` to every field of [`ExtraDims`].
macro_rules! for_each_extra {
    ($m:ident) => {
        $m!(in_interface);
        $m!(out_interface);
        $m!(mark);
        $m!(connmark);
    };
}

/// Interfaces and marks, boxed and absent when nothing is known, so that
/// the common [`PacketSet`] stays small. A [`Dim`] of its own whose
/// [`Dim::minus`] is exact when only one of its parts differs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Extra(Option<Box<ExtraDims>>);

impl Extra {
    fn dims(&self) -> &ExtraDims {
        self.0.as_deref().unwrap_or(&ANY_EXTRA)
    }

    fn dims_mut(&mut self) -> &mut ExtraDims {
        self.0.get_or_insert_with(|| Box::new(ANY_EXTRA.clone()))
    }

    fn from_dims(dims: ExtraDims) -> Self {
        if dims == ANY_EXTRA {
            Extra(None)
        } else {
            Extra(Some(Box::new(dims)))
        }
    }
}

impl Dim for Extra {
    fn is_any(&self) -> bool {
        self.0.is_none() || *self.dims() == ANY_EXTRA
    }

    fn is_empty(&self) -> bool {
        let Some(dims) = self.0.as_deref() else {
            return false;
        };
        macro_rules! empty {
            ($f:ident) => {
                if dims.$f.is_empty() {
                    return true;
                }
            };
        }
        for_each_extra!(empty);
        false
    }

    fn subset_of(&self, other: &Self) -> bool {
        if other.0.is_none() {
            return true;
        }
        let (a, b) = (self.dims(), other.dims());
        macro_rules! sub {
            ($f:ident) => {
                if !a.$f.subset_of(&b.$f) {
                    return false;
                }
            };
        }
        for_each_extra!(sub);
        true
    }

    fn intersects(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (None, None) => return true,
            (None, Some(_)) => return !other.is_empty(),
            (Some(_), None) => return !self.is_empty(),
            (Some(_), Some(_)) => {}
        }
        let (a, b) = (self.dims(), other.dims());
        macro_rules! inter {
            ($f:ident) => {
                if !a.$f.intersects(&b.$f) {
                    return false;
                }
            };
        }
        for_each_extra!(inter);
        true
    }

    fn meet(&self, other: &Self) -> Self {
        match (&self.0, &other.0) {
            (None, _) => other.clone(),
            (_, None) => self.clone(),
            (Some(a), Some(b)) => Extra::from_dims(ExtraDims {
                in_interface: a.in_interface.meet(&b.in_interface),
                out_interface: a.out_interface.meet(&b.out_interface),
                mark: a.mark.meet(&b.mark),
                connmark: a.connmark.meet(&b.connmark),
            }),
        }
    }

    fn join(&self, other: &Self) -> Self {
        match (&self.0, &other.0) {
            (None, _) | (_, None) => Extra(None),
            (Some(a), Some(b)) => Extra::from_dims(ExtraDims {
                in_interface: a.in_interface.join(&b.in_interface),
                out_interface: a.out_interface.join(&b.out_interface),
                mark: a.mark.join(&b.mark),
                connmark: a.connmark.join(&b.connmark),
            }),
        }
    }

    fn minus(&self, other: &Self) -> Self {
        let (a, b) = (self.dims(), other.dims());
        let differing = [
            !a.in_interface.subset_of(&b.in_interface),
            !a.out_interface.subset_of(&b.out_interface),
            !a.mark.subset_of(&b.mark),
            !a.connmark.subset_of(&b.connmark),
        ];
        if differing.iter().filter(|d| **d).count() != 1 {
            return self.clone();
        }
        let mut dims = a.clone();
        if differing[0] {
            dims.in_interface = a.in_interface.minus(&b.in_interface);
        } else if differing[1] {
            dims.out_interface = a.out_interface.minus(&b.out_interface);
        } else if differing[2] {
            dims.mark = a.mark.minus(&b.mark);
        } else {
            dims.connmark = a.connmark.minus(&b.connmark);
        }
        Extra::from_dims(dims)
    }
}

/// What is known about a set of packets: one set per property.
#[derive(Debug, Clone, PartialEq)]
pub struct PacketSet {
    /// `-p`.
    pub protocols: Protocols,
    /// `-s`, `-m iprange --src-range`.
    pub source: Values,
    /// `-d`, `-m iprange --dst-range`.
    pub destination: Values,
    /// `--sport`, `-m multiport --sports`.
    pub source_ports: Values,
    /// `--dport`, `-m multiport --dports`.
    pub destination_ports: Values,
    /// `-m conntrack --ctstate`, `-m state --state`.
    pub states: CtSet,
    /// `-m addrtype --src-type`.
    pub source_type: AddrTypes,
    /// `-m addrtype --dst-type`.
    pub destination_type: AddrTypes,
    /// `-f`; port and flag matches see only heads.
    pub fragments: Fragments,
    /// `--tcp-flags`, `--syn`.
    pub tcp_flags: TcpFlagSet,
    /// `-i`, `-o`, `-m mark`, `-m connmark` (see the accessors).
    pub extra: Extra,
}

/// Apply `$m!(field)` to every field of a [`PacketSet`].
macro_rules! for_each_dim {
    ($m:ident) => {
        $m!(protocols);
        $m!(source);
        $m!(destination);
        $m!(source_ports);
        $m!(destination_ports);
        $m!(states);
        $m!(source_type);
        $m!(destination_type);
        $m!(fragments);
        $m!(tcp_flags);
        $m!(extra);
    };
}

/// Names of the dimensions, for [`PacketSet::differing_dims`].
const DIM_COUNT: usize = 11;

fn address_max(family: Family) -> u128 {
    match family {
        Family::V4 => u32::MAX as u128,
        Family::V6 => u128::MAX,
    }
}

impl PacketSet {
    /// Every packet of `family`.
    pub fn any(family: Family) -> Self {
        let addresses = address_max(family);
        PacketSet {
            protocols: Protocols::ANY,
            source: Values::any(addresses),
            destination: Values::any(addresses),
            source_ports: Values::any(65535),
            destination_ports: Values::any(65535),
            states: CtSet::ANY,
            source_type: AddrTypes::ANY,
            destination_type: AddrTypes::ANY,
            fragments: Fragments::ANY,
            tcp_flags: TcpFlagSet::ANY,
            extra: Extra(None),
        }
    }

    /// Whether no packet is in the set.
    pub fn is_empty(&self) -> bool {
        macro_rules! empty {
            ($f:ident) => {
                if self.$f.is_empty() {
                    return true;
                }
            };
        }
        for_each_dim!(empty);
        false
    }

    /// Whether the set says nothing: every packet.
    pub fn is_any(&self) -> bool {
        macro_rules! any {
            ($f:ident) => {
                if !self.$f.is_any() {
                    return false;
                }
            };
        }
        for_each_dim!(any);
        true
    }

    /// `true` only if every packet of `self` is in `other`.
    pub fn subset_of(&self, other: &PacketSet) -> bool {
        if self.is_empty() {
            return true;
        }
        macro_rules! sub {
            ($f:ident) => {
                if !other.$f.is_any() && !self.$f.subset_of(&other.$f) {
                    return false;
                }
            };
        }
        for_each_dim!(sub);
        true
    }

    /// `false` only if no packet is in both (no allocation).
    pub fn intersects(&self, other: &PacketSet) -> bool {
        macro_rules! inter {
            ($f:ident) => {
                if !(other.$f.is_any() && !self.$f.is_empty()) && !self.$f.intersects(&other.$f) {
                    return false;
                }
            };
        }
        for_each_dim!(inter);
        true
    }

    /// Grow `self` to a superset of `other` too; whether it changed.
    pub fn absorb(&mut self, other: &PacketSet) -> bool {
        if other.subset_of(self) {
            return false;
        }
        let joined = self.join(other);
        let changed = joined != *self;
        *self = joined;
        changed
    }

    /// A superset of the packets in both.
    pub fn meet(&self, other: &PacketSet) -> PacketSet {
        macro_rules! meet {
            ($f:ident) => {
                if other.$f.is_any() {
                    self.$f.clone()
                } else if self.$f.is_any() {
                    other.$f.clone()
                } else {
                    self.$f.meet(&other.$f)
                }
            };
        }
        PacketSet {
            protocols: meet!(protocols),
            source: meet!(source),
            destination: meet!(destination),
            source_ports: meet!(source_ports),
            destination_ports: meet!(destination_ports),
            states: meet!(states),
            source_type: meet!(source_type),
            destination_type: meet!(destination_type),
            fragments: meet!(fragments),
            tcp_flags: meet!(tcp_flags),
            extra: meet!(extra),
        }
    }

    /// A superset of the packets in either.
    pub fn join(&self, other: &PacketSet) -> PacketSet {
        if self.is_empty() {
            return other.clone();
        }
        if other.is_empty() {
            return self.clone();
        }
        macro_rules! join {
            ($f:ident) => {
                self.$f.join(&other.$f)
            };
        }
        PacketSet {
            protocols: join!(protocols),
            source: join!(source),
            destination: join!(destination),
            source_ports: join!(source_ports),
            destination_ports: join!(destination_ports),
            states: join!(states),
            source_type: join!(source_type),
            destination_type: join!(destination_type),
            fragments: join!(fragments),
            tcp_flags: join!(tcp_flags),
            extra: join!(extra),
        }
    }

    /// Which dimensions of `self` are not provably inside `other`'s, as a bit
    /// mask in field order.
    #[allow(unused_assignments)] // the macro's last `index += 1`
    fn differing_dims(&self, other: &PacketSet) -> u32 {
        let mut bits = 0u32;
        let mut index = 0;
        macro_rules! differs {
            ($f:ident) => {
                if !other.$f.is_any() && !self.$f.subset_of(&other.$f) {
                    bits |= 1 << index;
                }
                index += 1;
            };
        }
        for_each_dim!(differs);
        debug_assert_eq!(index, DIM_COUNT);
        bits
    }

    /// The packets of `self` not in `other`, or a superset of them inside
    /// `self`. Exact when `other` differs from `self` in at most one
    /// dimension (then the difference is taken in that dimension alone);
    /// otherwise `self` is returned unchanged.
    pub fn minus(&self, other: &PacketSet) -> PacketSet {
        let mut out = self.clone();
        out.subtract(other);
        out
    }

    /// [`PacketSet::minus`] in place.
    #[allow(unused_assignments)] // the macro's last `index += 1`
    pub fn subtract(&mut self, other: &PacketSet) {
        let differing = self.differing_dims(other);
        if differing == 0 {
            self.protocols = Protocols::NONE;
            return;
        }
        if differing.count_ones() > 1 {
            return;
        }
        let mut index = 0;
        macro_rules! minus {
            ($f:ident) => {
                if differing & (1 << index) != 0 {
                    self.$f = self.$f.minus(&other.$f);
                }
                index += 1;
            };
        }
        for_each_dim!(minus);
    }

    /// Forget what targets may change: marks and conntrack state (MARK,
    /// CONNMARK, CT, NOTRACK, or anything a called chain does).
    pub fn widen_mutable(&mut self) {
        self.states = CtSet::ANY;
        if let Some(mut dims) = self.extra.0.take() {
            dims.mark = Marks::any();
            dims.connmark = Marks::any();
            self.extra = Extra::from_dims(*dims);
        }
    }

    /// Whether the set constrains something a target may change.
    pub fn constrains_mutable(&self) -> bool {
        !self.states.is_any() || !self.mark().is_any() || !self.connmark().is_any()
    }

    /// `-i`.
    pub fn in_interface(&self) -> &Interfaces {
        &self.extra.dims().in_interface
    }

    /// `-o`.
    pub fn out_interface(&self) -> &Interfaces {
        &self.extra.dims().out_interface
    }

    /// `-m mark --mark`.
    pub fn mark(&self) -> &Marks {
        &self.extra.dims().mark
    }

    /// `-m connmark --mark`.
    pub fn connmark(&self) -> &Marks {
        &self.extra.dims().connmark
    }

    /// A short description for messages, e.g. `tcp to 10.96.0.1/32 port 443`.
    pub fn describe(&self) -> String {
        if self.is_empty() {
            return "no packet".to_string();
        }
        let mut parts: Vec<String> = Vec::new();
        if !self.protocols.is_any() {
            parts.push(describe_protocols(&self.protocols));
        }
        if !self.source.is_any() {
            parts.push(format!("from {}", describe_addresses(&self.source)));
        }
        if !self.source_ports.is_any() {
            parts.push(format!(
                "source port {}",
                describe_ports(&self.source_ports)
            ));
        }
        if !self.destination.is_any() {
            parts.push(format!("to {}", describe_addresses(&self.destination)));
        }
        if !self.destination_ports.is_any() {
            parts.push(format!("port {}", describe_ports(&self.destination_ports)));
        }
        if !self.in_interface().is_any() {
            parts.push(format!(
                "in on {}",
                describe_interfaces(self.in_interface())
            ));
        }
        if !self.out_interface().is_any() {
            parts.push(format!(
                "out on {}",
                describe_interfaces(self.out_interface())
            ));
        }
        if !self.states.is_any() {
            parts.push(format!("ctstate {}", describe_states(self.states)));
        }
        if !self.mark().is_any() {
            parts.push(format!("mark {}", describe_marks(self.mark())));
        }
        if !self.connmark().is_any() {
            parts.push(format!("connmark {}", describe_marks(self.connmark())));
        }
        if !self.source_type.is_any() {
            parts.push(format!("source type {}", describe_types(self.source_type)));
        }
        if !self.destination_type.is_any() {
            parts.push(format!(
                "destination type {}",
                describe_types(self.destination_type)
            ));
        }
        // Port and flag conditions already imply "not a later fragment".
        let implied_heads = !self.source_ports.is_any()
            || !self.destination_ports.is_any()
            || !self.tcp_flags.is_any();
        let said = self.fragments.is_any() || implied_heads && self.fragments == Fragments::HEADS;
        if !said {
            parts.push(
                if self.fragments == Fragments::LATER {
                    "later fragments"
                } else {
                    "not later fragments"
                }
                .to_string(),
            );
        }
        if !self.tcp_flags.is_any() {
            parts.push("some TCP flags".to_string());
        }
        if parts.is_empty() {
            "any packet".to_string()
        } else {
            parts.join(" ")
        }
    }
}

fn describe_protocols(protocols: &Protocols) -> String {
    let name = |n: u8| Protocol::Number(n).name().into_owned();
    if protocols.count() <= 4 {
        let names: Vec<String> = protocols.members().map(name).collect();
        names.join(" or ")
    } else {
        let missing: Vec<String> = protocols.complement().members().take(4).map(name).collect();
        format!("not {}", missing.join(" or "))
    }
}

/// Ranges as prefixes where they are prefixes; `!` and the complement when
/// that is shorter.
fn describe_addresses(values: &Values) -> String {
    let Some(ranges) = values.ranges() else {
        return "anywhere".to_string();
    };
    let complement = values.complement();
    let complement_ranges: &[(u128, u128)] =
        &complement.ranges().map(|r| r.to_vec()).unwrap_or_default();
    if complement_ranges.len() < ranges.len() && !complement_ranges.is_empty() {
        return format!("not {}", list_ranges(complement_ranges, values.max(), true));
    }
    list_ranges(&ranges, values.max(), true)
}

fn describe_ports(values: &Values) -> String {
    let Some(ranges) = values.ranges() else {
        return "any".to_string();
    };
    let complement = values.complement();
    let complement_ranges: &[(u128, u128)] =
        &complement.ranges().map(|r| r.to_vec()).unwrap_or_default();
    if complement_ranges.len() < ranges.len() && !complement_ranges.is_empty() {
        return format!(
            "not {}",
            list_ranges(complement_ranges, values.max(), false)
        );
    }
    list_ranges(&ranges, values.max(), false)
}

fn list_ranges(ranges: &[(u128, u128)], max: u128, addresses: bool) -> String {
    let mut out = String::new();
    for (i, &(lo, hi)) in ranges.iter().enumerate() {
        if i == 3 {
            let _ = write!(out, " and {} more", ranges.len() - 3);
            break;
        }
        if i > 0 {
            out.push(',');
        }
        if addresses {
            out.push_str(&describe_address_range(lo, hi, max));
        } else if lo == hi {
            let _ = write!(out, "{lo}");
        } else {
            let _ = write!(out, "{lo}:{hi}");
        }
    }
    out
}

fn address_text(value: u128, max: u128) -> String {
    if max == u32::MAX as u128 {
        Ipv4Addr::from(value as u32).to_string()
    } else {
        Ipv6Addr::from(value).to_string()
    }
}

fn describe_address_range(lo: u128, hi: u128, max: u128) -> String {
    let width = if max == u32::MAX as u128 { 32 } else { 128 };
    let size = hi - lo;
    if size == u128::MAX || (size.wrapping_add(1)).is_power_of_two() {
        let host_bits = if size == u128::MAX {
            128
        } else {
            (size + 1).trailing_zeros()
        };
        if host_bits == 128 || lo & ((1u128 << host_bits) - 1) == 0 {
            return format!("{}/{}", address_text(lo, max), width - host_bits);
        }
    }
    format!("{}-{}", address_text(lo, max), address_text(hi, max))
}

fn describe_interfaces(interfaces: &Interfaces) -> String {
    let (patterns, negated) = match interfaces {
        Interfaces::Only(p) => (p, false),
        Interfaces::Except(p) => (p, true),
    };
    let names: Vec<String> = patterns.iter().map(Pattern::to_string).collect();
    format!(
        "{}{}",
        if negated { "not " } else { "" },
        names.join(" or ")
    )
}

fn describe_states(states: CtSet) -> String {
    let main = states.main_states();
    let names: Vec<&str> = (0..5)
        .filter(|bit| main & (1 << bit) != 0)
        .map(|bit| CtStates::NAMES[bit])
        .collect();
    names.join(",")
}

fn describe_marks(marks: &Marks) -> String {
    let (value, mask) = marks.known();
    let mut parts = Vec::new();
    if mask != 0 {
        parts.push(format!("{value:#x}/{mask:#x}"));
    }
    for (v, k) in marks.excluded() {
        parts.push(format!("not {v:#x}/{k:#x}"));
    }
    parts.join(" ")
}

fn describe_types(types: AddrTypes) -> String {
    let names: Vec<&str> = (0..12)
        .filter(|bit| types.0 & (1 << bit) != 0)
        .map(|bit| ADDRESS_TYPE_NAMES[bit])
        .collect();
    names.join(",")
}

// ---------------------------------------------------------------------------
// From rules to sets.

/// The packets a rule's matches select.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSet {
    /// Every packet the rule can match is in `set` (a superset when not exact).
    pub set: PacketSet,
    /// The rule matches exactly the packets of `set`: every condition is modelled.
    pub exact: bool,
    /// The rule has a match iptlint does not know the meaning of (an
    /// unknown module or options kept raw). Such a rule is never claimed
    /// shadowed.
    pub opaque: bool,
}

fn address_values(net: &IpNet, family: Family) -> Option<Values> {
    let max = address_max(family);
    let (bits, width) = match (net.addr, family) {
        (IpAddr::V4(v4), Family::V4) => (u32::from(v4) as u128, 32u32),
        (IpAddr::V6(v6), Family::V6) => (u128::from(v6), 128u32),
        _ => return None,
    };
    let host_bits = width - net.prefix as u32;
    if host_bits == width {
        return Some(Values::any(max));
    }
    let host_mask = if host_bits == 0 {
        0
    } else {
        (1u128 << host_bits) - 1
    };
    let lo = bits & !host_mask;
    Some(Values::range(max, lo, lo | host_mask))
}

fn ip_value(addr: IpAddr, family: Family) -> Option<u128> {
    match (addr, family) {
        (IpAddr::V4(v4), Family::V4) => Some(u32::from(v4) as u128),
        (IpAddr::V6(v6), Family::V6) => Some(u128::from(v6)),
        _ => None,
    }
}

fn port_values(ranges: &[PortRange]) -> Values {
    if let [one] = ranges {
        return Values::range(65535, one.lo as u128, one.hi as u128);
    }
    Values::from_ranges(
        65535,
        ranges
            .iter()
            .map(|r| (r.lo as u128, r.hi as u128))
            .collect(),
    )
}

fn negate_if(values: Values, negated: bool) -> Values {
    if negated { values.complement() } else { values }
}

impl RuleSet {
    /// The set of packets `rule` matches, in a dump of `family`.
    pub fn of(rule: &Rule<'_>, family: Family) -> RuleSet {
        let mut out = RuleSet {
            set: PacketSet::any(family),
            exact: true,
            opaque: false,
        };
        // Built in place: a PacketSet is a few hundred bytes, and this runs
        // twice for every rule of the dump.
        Builder {
            out: &mut out,
            family,
        }
        .rule(rule);
        // Conditions that turned out to say nothing leave no box behind.
        if let Some(dims) = out.set.extra.0.take() {
            out.set.extra = Extra::from_dims(*dims);
        }
        out
    }
}

struct Builder<'o> {
    out: &'o mut RuleSet,
    family: Family,
}

impl Builder<'_> {
    fn address(&mut self, source: bool, condition: &Option<Negatable<AddressMatch>>) {
        let Some(condition) = condition else { return };
        let (net, sparse) = (condition.value.net, condition.value.is_sparse());
        let net = if condition.value.is_any() {
            IpNet::any(self.family == Family::V6)
        } else {
            net
        };
        if sparse {
            // The mask has gaps: the rule matches part of `net`, so `net`
            // bounds it, and its complement says nothing.
            self.out.exact = false;
            if condition.negated {
                return;
            }
        }
        match address_values(&net, self.family) {
            Some(values) => {
                let values = negate_if(values, condition.negated);
                let dim = if source {
                    &mut self.out.set.source
                } else {
                    &mut self.out.set.destination
                };
                *dim = if dim.is_any() {
                    values
                } else {
                    dim.meet(&values)
                };
            }
            // An address of the other family: iptables refuses it anyway.
            None => self.out.exact = false,
        }
    }

    fn ports(&mut self, source: bool, values: Values) {
        let dim = if source {
            &mut self.out.set.source_ports
        } else {
            &mut self.out.set.destination_ports
        };
        *dim = if dim.is_any() {
            values
        } else {
            dim.meet(&values)
        };
        // Port matches never match second and later fragments, negated or not.
        self.out.set.fragments = self.out.set.fragments.meet(&Fragments::HEADS);
    }

    fn rule(&mut self, rule: &Rule<'_>) {
        self.address(true, &rule.source);
        self.address(false, &rule.destination);
        if let Some(interface) = &rule.in_interface {
            self.out.set.extra.dims_mut().in_interface =
                Interfaces::from_rule(&interface.value, interface.negated);
        }
        if let Some(interface) = &rule.out_interface {
            self.out.set.extra.dims_mut().out_interface =
                Interfaces::from_rule(&interface.value, interface.negated);
        }
        if let Some(protocol) = &rule.protocol {
            let set = match protocol.value {
                Protocol::All => Protocols::ANY,
                Protocol::Number(n) => Protocols::one(n),
            };
            self.out.set.protocols = if protocol.negated {
                set.complement()
            } else {
                set
            };
        }
        if let Some(fragment) = &rule.fragment {
            self.out.set.fragments = if fragment.negated {
                Fragments::HEADS
            } else {
                Fragments::LATER
            };
        }
        for m in &rule.matches {
            self.module(m.name.as_ref(), &m.kind);
        }
    }

    fn module(&mut self, name: &str, kind: &MatchKind<'_>) {
        match kind {
            MatchKind::Comment(_) => {}
            MatchKind::Tcp(ports) | MatchKind::Udp(ports) => {
                if let Some(p) = &ports.source {
                    self.ports(true, negate_if(port_values(&[p.value]), p.negated));
                }
                if let Some(p) = &ports.destination {
                    self.ports(false, negate_if(port_values(&[p.value]), p.negated));
                }
                if let Some(flags) = &ports.flags {
                    let set = TcpFlagSet::matching(flags.value.mask, flags.value.comparison);
                    let set = if flags.negated {
                        TcpFlagSet(!set.0)
                    } else {
                        set
                    };
                    self.out.set.tcp_flags = self.out.set.tcp_flags.meet(&set);
                    self.out.set.fragments = self.out.set.fragments.meet(&Fragments::HEADS);
                }
                // `-m tcp` alone still skips later fragments.
                self.out.set.fragments = self.out.set.fragments.meet(&Fragments::HEADS);
            }
            MatchKind::Multiport(multiport) => {
                if let Some(p) = &multiport.source {
                    self.ports(true, negate_if(port_values(&p.value), p.negated));
                }
                if let Some(p) = &multiport.destination {
                    self.ports(false, negate_if(port_values(&p.value), p.negated));
                }
                if multiport.either.is_some() {
                    // Source or destination: not a product; keep the superset.
                    self.out.exact = false;
                }
                self.out.set.fragments = self.out.set.fragments.meet(&Fragments::HEADS);
            }
            MatchKind::Conntrack(conntrack) => {
                if let Some(state) = &conntrack.state {
                    self.states(state);
                }
                if conntrack.original_destination.is_some() || conntrack.has_other_options {
                    self.out.exact = false;
                }
            }
            MatchKind::State(state) => self.states(state),
            MatchKind::Mark(mark) => {
                let set = Marks::from_rule(mark.value, mark.negated);
                let dims = self.out.set.extra.dims_mut();
                if name == "connmark" {
                    dims.connmark = dims.connmark.meet(&set);
                } else {
                    dims.mark = dims.mark.meet(&set);
                }
            }
            MatchKind::AddrType(addrtype) => {
                if addrtype.limit_iface.is_some() {
                    // Types as seen from one interface: not the same property.
                    self.out.exact = false;
                    return;
                }
                for (condition, source) in
                    [(&addrtype.source, true), (&addrtype.destination, false)]
                {
                    let Some(condition) = condition else { continue };
                    match AddrTypes::parse(&condition.value) {
                        Some(types) => {
                            let types = if condition.negated {
                                AddrTypes(AddrTypes::ANY.0 & !types.0)
                            } else {
                                types
                            };
                            let dim = if source {
                                &mut self.out.set.source_type
                            } else {
                                &mut self.out.set.destination_type
                            };
                            *dim = dim.meet(&types);
                        }
                        None => self.out.exact = false,
                    }
                }
            }
            MatchKind::IpRange(range) => {
                for (condition, source) in [(&range.source, true), (&range.destination, false)] {
                    let Some(condition) = condition else { continue };
                    let (lo, hi) = condition.value;
                    match (ip_value(lo, self.family), ip_value(hi, self.family)) {
                        (Some(lo), Some(hi)) => {
                            let values = negate_if(
                                Values::range(address_max(self.family), lo, hi),
                                condition.negated,
                            );
                            let dim = if source {
                                &mut self.out.set.source
                            } else {
                                &mut self.out.set.destination
                            };
                            *dim = dim.meet(&values);
                        }
                        _ => self.out.exact = false,
                    }
                }
            }
            MatchKind::Recent(recent) => {
                use crate::model::matches::RecentAction;
                match (recent.action, recent.negated) {
                    // `--set` records the address and always matches.
                    (RecentAction::Set, false) => {}
                    (RecentAction::Set, true) => self.out.set.protocols = Protocols::NONE,
                    // Whether the address is listed depends on history.
                    _ => self.out.exact = false,
                }
            }
            MatchKind::Statistic(StatisticMatch::Random(_))
            | MatchKind::Statistic(StatisticMatch::Nth { .. })
            | MatchKind::Limit(_)
            | MatchKind::Set(_)
            | MatchKind::Mac(_)
            | MatchKind::Physdev(_)
            | MatchKind::Owner(_)
            | MatchKind::Icmp(_)
            | MatchKind::Length(_)
            | MatchKind::Ttl(_) => {
                // Known conditions iptlint does not evaluate: they only narrow
                // the rule, so the set stays a superset.
                self.out.exact = false;
            }
            MatchKind::Other(_) => {
                self.out.exact = false;
                self.out.opaque = true;
            }
        }
    }

    fn states(&mut self, state: &Negatable<CtStates>) {
        let set = CtSet::matching(state.value);
        let set = if state.negated {
            CtSet(CtSet::ANY.0 & !set.0)
        } else {
            set
        };
        self.out.set.states = self.out.set.states.meet(&set);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::build::build;

    /// The sets of the rules of chain `X` in filter of a dump built from `rules`.
    fn sets(rules: &[&str]) -> Vec<RuleSet> {
        let mut src = String::from("*filter\n:X - [0:0]\n");
        for rule in rules {
            src.push_str("-A X ");
            src.push_str(rule);
            src.push('\n');
        }
        src.push_str("COMMIT\n");
        let parsed = build(&src);
        // Reversed ranges are read (and warned about) on purpose.
        assert!(
            parsed
                .diagnostics
                .iter()
                .all(|d| std::ptr::eq(d.info, &crate::diagnostics::codes::EMPTY_RANGE)),
            "{:?}",
            parsed.diagnostics
        );
        let family = parsed.dump.family;
        parsed.dump.tables[0]
            .chain("X")
            .unwrap()
            .rules
            .iter()
            .map(|rule| RuleSet::of(rule, family))
            .collect()
    }

    fn set(rule: &str) -> PacketSet {
        let rs = sets(&[rule]).remove(0);
        assert!(rs.exact, "{rule} should be exact");
        rs.set
    }

    #[test]
    fn address_prefixes_nest() {
        let wide = set("-d 10.0.0.0/8 -j ACCEPT");
        let narrow = set("-d 10.1.0.0/16 -j ACCEPT");
        let host = set("-d 10.1.2.3 -j ACCEPT");
        let other = set("-d 11.0.0.0/8 -j ACCEPT");
        assert!(narrow.subset_of(&wide));
        assert!(host.subset_of(&narrow));
        assert!(!wide.subset_of(&narrow));
        assert!(!other.subset_of(&wide));
        // Host bits written in the address do not matter, as in the kernel.
        assert!(set("-d 10.1.2.3/16 -j ACCEPT").subset_of(&narrow));
        assert!(narrow.subset_of(&set("-d 10.1.2.3/16 -j ACCEPT")));
        // /0 is every address.
        assert!(set("-s 0.0.0.0/0 -j ACCEPT").is_any());
    }

    #[test]
    fn negated_addresses() {
        let not_ten = set("! -s 10.0.0.0/8 -j ACCEPT");
        assert!(set("-s 11.0.0.0/8 -j ACCEPT").subset_of(&not_ten));
        assert!(!set("-s 10.1.0.0/16 -j ACCEPT").subset_of(&not_ten));
        // Not-10/8 is inside not-10.1/16.
        assert!(not_ten.subset_of(&set("! -s 10.1.0.0/16 -j ACCEPT")));
        assert!(!set("! -s 10.1.0.0/16 -j ACCEPT").subset_of(&not_ten));
        // An address and its negation cover everything and share nothing.
        let ten = set("-s 10.0.0.0/8 -j ACCEPT");
        assert!(ten.meet(&not_ten).is_empty());
        assert!(ten.join(&not_ten).is_any());
        assert!(PacketSet::any(Family::V4).minus(&ten) == not_ten);
    }

    #[test]
    fn ip_ranges_and_prefixes() {
        let range = set("-m iprange --src-range 10.0.0.10-10.0.0.20 -j ACCEPT");
        assert!(set("-s 10.0.0.16/30 -j ACCEPT").subset_of(&range));
        assert!(!set("-s 10.0.0.16/28 -j ACCEPT").subset_of(&range));
        assert!(range.subset_of(&set("-s 10.0.0.0/27 -j ACCEPT")));
    }

    #[test]
    fn reversed_ranges_hold_no_packet() {
        // The kernel loads these and matches nothing with them (and, with
        // `!`, everything the rest of the rule matches).
        for rule in [
            "-p udp -m udp --dport 5000:4000 -j ACCEPT",
            "-p udp -m udp --sport 10:5 -j ACCEPT",
            "-m iprange --src-range 10.0.0.9-10.0.0.1 -j ACCEPT",
            "-m iprange --dst-range 10.0.0.9-10.0.0.1 -j ACCEPT",
        ] {
            assert!(set(rule).is_empty(), "{rule}");
        }
        // (A port match sees only first fragments, hence the full range.)
        let udp = set("-p udp -m udp --dport 0:65535 -j ACCEPT");
        let inverted = set("-p udp -m udp ! --dport 5000:4000 -j ACCEPT");
        assert!(udp.subset_of(&inverted) && inverted.subset_of(&udp));
        let any = set("-j ACCEPT");
        let inverted = set("-m iprange ! --src-range 10.0.0.9-10.0.0.1 -j ACCEPT");
        assert!(any.subset_of(&inverted));
        // A reversed pair among others adds nothing.
        let some = Values::from_ranges(65535, vec![(10, 5), (20, 30)]);
        let expected = Values::range(65535, 20, 30);
        assert!(some.subset_of(&expected) && expected.subset_of(&some));
        assert!(Values::from_ranges(65535, vec![(10, 5)]).is_empty());
    }

    #[test]
    fn ports_ranges_and_multiport() {
        let range = set("-p tcp -m tcp --dport 1000:2000 -j ACCEPT");
        assert!(set("-p tcp -m tcp --dport 1500 -j ACCEPT").subset_of(&range));
        assert!(!set("-p tcp -m tcp --dport 999:1500 -j ACCEPT").subset_of(&range));
        let multi = set("-p tcp -m multiport --dports 22,80,443,8000:8100 -j ACCEPT");
        assert!(set("-p tcp -m tcp --dport 443 -j ACCEPT").subset_of(&multi));
        assert!(set("-p tcp -m multiport --dports 80,8050 -j ACCEPT").subset_of(&multi));
        assert!(!set("-p tcp -m multiport --dports 80,8200 -j ACCEPT").subset_of(&multi));
        let not_ssh = set("-p tcp -m tcp ! --dport 22 -j ACCEPT");
        assert!(set("-p tcp -m tcp --dport 80 -j ACCEPT").subset_of(&not_ssh));
        assert!(!set("-p tcp -m tcp --dport 22 -j ACCEPT").subset_of(&not_ssh));
        // A port condition is not implied by the protocol alone ...
        assert!(!set("-p tcp -j ACCEPT").subset_of(&range));
        // ... and the protocol alone contains every port of it.
        assert!(range.subset_of(&set("-p tcp -j ACCEPT")));
        assert!(!range.subset_of(&set("-p udp -j ACCEPT")));
        // Port matches skip later fragments; `-p tcp` alone does not.
        assert!(!set("-p tcp -j ACCEPT").subset_of(&set("-p tcp -m tcp ! --dport 22 -j ACCEPT")));
    }

    #[test]
    fn protocols_and_negation() {
        let tcp = set("-p tcp -j ACCEPT");
        let not_tcp = set("! -p tcp -j ACCEPT");
        assert!(set("-p udp -j ACCEPT").subset_of(&not_tcp));
        assert!(!tcp.subset_of(&not_tcp));
        assert!(tcp.join(&not_tcp).is_any());
        assert!(set("-p all -j ACCEPT").is_any());
        assert_eq!(tcp.describe(), "tcp");
    }

    #[test]
    fn interface_wildcards() {
        let eth = set("-i eth+ -j ACCEPT");
        let eth0 = set("-i eth0 -j ACCEPT");
        let not_eth = set("! -i eth+ -j ACCEPT");
        let not_eth0 = set("! -i eth0 -j ACCEPT");
        assert!(eth0.subset_of(&eth));
        assert!(!eth.subset_of(&eth0));
        assert!(set("-i eth1+ -j ACCEPT").subset_of(&eth));
        assert!(set("-i wlan0 -j ACCEPT").subset_of(&not_eth));
        assert!(!eth0.subset_of(&not_eth));
        assert!(not_eth.subset_of(&not_eth0));
        assert!(!not_eth0.subset_of(&not_eth));
        assert!(set("-i eth1 -j ACCEPT").subset_of(&not_eth0));
        assert!(set("-i + -j ACCEPT").is_any());
        assert!(eth.meet(&not_eth).is_empty());
        assert!(eth.join(&not_eth).is_any());
        assert_eq!(
            PacketSet::any(Family::V4)
                .minus(&eth0)
                .in_interface()
                .clone(),
            Interfaces::Except(vec![Pattern::parse("eth0")])
        );
        // eth0 or wlan0, minus eth+ leaves wlan0.
        let either = eth0.join(&set("-i wlan0 -j ACCEPT"));
        assert_eq!(
            either.minus(&eth).in_interface().clone(),
            Interfaces::Only(vec![Pattern::parse("wlan0")])
        );
    }

    #[test]
    fn conntrack_states() {
        let established = set("-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT");
        let state = set("-m state --state ESTABLISHED -j ACCEPT");
        assert!(state.subset_of(&established));
        assert!(!established.subset_of(&state));
        let not_new = set("-m conntrack ! --ctstate NEW -j ACCEPT");
        assert!(established.subset_of(&not_new));
        // DNAT is a property of the connection: an ESTABLISHED connection
        // may or may not be DNAT-ed, so `--ctstate DNAT` does not contain it.
        let dnat = set("-m conntrack --ctstate DNAT -j ACCEPT");
        assert!(!state.subset_of(&dnat));
        let kube = set("-m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP");
        assert!(!set("-m conntrack --ctstate NEW -j ACCEPT").subset_of(&kube));
        assert!(kube.subset_of(&not_new.join(&set("-m conntrack --ctstate NEW -j ACCEPT"))));
        assert!(established.meet(&kube).is_empty());
    }

    #[test]
    fn marks_with_masks() {
        let masq = set("-m mark --mark 0x4000/0x4000 -j ACCEPT");
        let not_masq = set("-m mark ! --mark 0x4000/0x4000 -j RETURN");
        let exact = set("-m mark --mark 0x4001 -j ACCEPT");
        assert!(exact.subset_of(&masq));
        assert!(!masq.subset_of(&exact));
        assert!(masq.meet(&not_masq).is_empty());
        assert!(masq.join(&not_masq).is_any());
        assert_eq!(PacketSet::any(Family::V4).minus(&not_masq), masq);
        assert_eq!(PacketSet::any(Family::V4).minus(&masq), not_masq);
        assert!(set("-m mark --mark 0x0/0x4000 -j ACCEPT").subset_of(&not_masq));
        // 0x4001 has bit 0 and bit 14: in 0x1/0x1, not outside 0x4000/0x4000.
        assert!(!set("-m mark --mark 0x1/0x1 -j ACCEPT").subset_of(&not_masq));
        // A stronger exclusion implies a weaker one.
        assert!(not_masq.subset_of(&set("-m mark ! --mark 0x4000 -j ACCEPT")));
        assert!(!set("-m mark ! --mark 0x4000 -j ACCEPT").subset_of(&not_masq));
        // A value outside its mask never matches.
        assert!(set("-m mark --mark 0x3/0x1 -j ACCEPT").is_empty());
        // connmark is its own property.
        assert!(!set("-m connmark --mark 0x4000/0x4000 -j ACCEPT").subset_of(&masq));
    }

    #[test]
    fn address_types_fragments_and_flags() {
        let local = set("-m addrtype --dst-type LOCAL -j ACCEPT");
        let not_local = set("-m addrtype ! --dst-type LOCAL -j ACCEPT");
        assert!(local.meet(&not_local).is_empty());
        assert!(!local.subset_of(&set("-m addrtype --src-type LOCAL -j ACCEPT")));
        let fragments = set("-f -j DROP");
        assert!(
            fragments
                .meet(&set("-p tcp -m tcp --dport 80 -j ACCEPT"))
                .is_empty()
        );
        assert!(
            set("-p tcp -m tcp --syn -j ACCEPT")
                .subset_of(&set("-p tcp -m tcp --tcp-flags SYN,ACK SYN -j ACCEPT"))
        );
        assert!(
            !set("-p tcp -m tcp --tcp-flags SYN,ACK SYN -j ACCEPT")
                .subset_of(&set("-p tcp -m tcp --syn -j ACCEPT"))
        );
        assert!(
            set("-p tcp -m tcp --syn -j ACCEPT")
                .meet(&set("-p tcp -m tcp ! --syn -j ACCEPT"))
                .is_empty()
        );
    }

    #[test]
    fn undecidable_and_unknown_matches() {
        let rules = sets(&[
            "-m statistic --mode random --probability 0.5 -j A",
            "-m recent --rcheck --name X -j A",
            "-m recent --set --name X -p tcp -j DNAT --to-destination 1.2.3.4:80",
            "-m string --string foo --algo bm -j DROP",
            "-m limit --limit 1/s -j LOG",
        ]);
        assert!(!rules[0].exact && !rules[0].opaque && rules[0].set.is_any());
        assert!(!rules[1].exact && !rules[1].opaque);
        assert!(rules[2].exact, "--set always matches");
        assert!(!rules[3].exact && rules[3].opaque);
        assert!(!rules[4].exact && !rules[4].opaque);
    }

    #[test]
    fn minus_is_exact_in_one_dimension_only() {
        let any = PacketSet::any(Family::V4);
        let tcp = set("-p tcp -j ACCEPT");
        let rest = any.minus(&tcp);
        assert!(!rest.protocols.contains(6) && rest.protocols.contains(17));
        // Two differing dimensions: left alone.
        assert_eq!(any.minus(&set("-p tcp -m tcp --dport 80 -j ACCEPT")), any);
        // tcp minus tcp port 80 is not a product: port 80 stays for later
        // fragments, which port matches never see.
        assert_eq!(tcp.minus(&set("-p tcp -m tcp --dport 80 -j ACCEPT")), tcp);
        // Within tcp heads, the port is the only difference.
        let heads = set("-p tcp -m tcp -j ACCEPT");
        let rest = heads.minus(&set("-p tcp -m tcp --dport 80 -j ACCEPT"));
        assert!(!rest.destination_ports.is_any());
        assert!(!set("-p tcp -m tcp --dport 80 -j ACCEPT").subset_of(&rest));
        assert!(set("-p tcp -m tcp --dport 81 -j ACCEPT").subset_of(&rest));
        assert!(tcp.minus(&tcp).is_empty());
    }

    #[test]
    fn joins_stay_small() {
        let mut joined = set("-d 10.0.0.0/32 -j ACCEPT");
        for i in 1..1000u32 {
            joined = joined.join(&set(&format!(
                "-d 10.0.{}.{} -j ACCEPT",
                i / 256,
                (i * 2) % 256
            )));
        }
        let ranges = joined.destination.ranges().unwrap();
        assert!(ranges.len() <= MAX_RANGES);
        // Still a superset of every address joined in.
        assert!(set("-d 10.0.3.230 -j ACCEPT").subset_of(&joined));
        assert!(set("-d 10.0.0.0 -j ACCEPT").subset_of(&joined));
    }

    #[test]
    fn descriptions() {
        let kube = set("-d 172.30.0.44/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-X");
        assert_eq!(kube.describe(), "tcp to 172.30.0.44/32 port 80");
        assert_eq!(
            set("! -s 10.0.0.0/8 -p udp -j ACCEPT").describe(),
            "udp from not 10.0.0.0/8"
        );
        assert_eq!(PacketSet::any(Family::V4).describe(), "any packet");
    }
}
