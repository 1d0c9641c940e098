//! `-m MODULE` matches: which options each module takes (its schema, as the
//! iptables extension defines it) and their typed values.
//!
//! Modules named here are parsed and validated; any other module keeps its
//! options as an opaque list ([`MatchKind::Other`]).

use std::borrow::Cow;
use std::net::IpAddr;

use super::values::{
    IpNet, MarkValue, PortRange, Probability, c_atoll, c_number, c_strtoul, c_strtoul_checked,
    mask_prefix, parse_dscp, parse_dscp_class, parse_host_mask, parse_mac, parse_mark,
    parse_ordered_port_range, parse_port_list, parse_port_range, parse_probability,
    parse_service_port_range, parse_u32, parse_xtables_number, xtables_strtoui,
    xtables_strtoui_prefix,
};
use super::{Negatable, Protocol, RawOption, unordered_options};
use crate::syntax::Span;

/// One option a module accepts.
#[derive(Debug)]
pub struct OptionSpec {
    /// Long names, the canonical one first.
    pub names: &'static [&'static str],
    /// How many words follow it.
    pub arity: u8,
}

/// The options of one extension (match or target).
#[derive(Debug)]
pub struct ExtensionSpec {
    /// The extension's name as given to `-m` or `-j`.
    pub name: &'static str,
    /// Its options.
    pub options: &'static [OptionSpec],
}

impl ExtensionSpec {
    /// The spec of option `--name`, if this extension has it.
    pub fn option(&self, name: &str) -> Option<&'static OptionSpec> {
        self.options.iter().find(|spec| spec.names.contains(&name))
    }
}

/// `opts! { ["--long", "--alias"] = ARITY, ... }`: a `&[OptionSpec]`.
macro_rules! opts {
    ($( [$($name:literal),+] = $arity:literal ),* $(,)?) => {
        &[$( $crate::model::matches::OptionSpec { names: &[$($name),+], arity: $arity } ),*]
    };
}
pub(crate) use opts;

const PORT_OPTIONS: &[OptionSpec] = opts! {
    ["--sport", "--source-port"] = 1,
    ["--dport", "--destination-port"] = 1,
};

/// Every match module iptlint knows the options of.
pub static MATCH_SPECS: &[ExtensionSpec] = &[
    ExtensionSpec {
        name: "comment",
        options: opts! { ["--comment"] = 1 },
    },
    ExtensionSpec {
        name: "tcp",
        options: opts! {
            ["--sport", "--source-port"] = 1,
            ["--dport", "--destination-port"] = 1,
            ["--tcp-flags"] = 2,
            ["--syn"] = 0,
            ["--tcp-option"] = 1,
        },
    },
    ExtensionSpec {
        name: "udp",
        options: PORT_OPTIONS,
    },
    ExtensionSpec {
        name: "dccp",
        options: opts! { ["--sport", "--source-port"] = 1, ["--dport", "--destination-port"] = 1, ["--dccp-types"] = 1, ["--dccp-option"] = 1 },
    },
    ExtensionSpec {
        name: "sctp",
        options: opts! { ["--sport", "--source-port"] = 1, ["--dport", "--destination-port"] = 1, ["--chunk-types"] = 2 },
    },
    ExtensionSpec {
        name: "multiport",
        options: opts! {
            ["--sports", "--source-ports"] = 1,
            ["--dports", "--destination-ports"] = 1,
            ["--ports"] = 1,
        },
    },
    ExtensionSpec {
        name: "conntrack",
        options: opts! {
            ["--ctstate"] = 1, ["--ctproto"] = 1, ["--ctorigsrc"] = 1, ["--ctorigdst"] = 1,
            ["--ctreplsrc"] = 1, ["--ctrepldst"] = 1, ["--ctorigsrcport"] = 1,
            ["--ctorigdstport"] = 1, ["--ctreplsrcport"] = 1, ["--ctrepldstport"] = 1,
            ["--ctstatus"] = 1, ["--ctexpire"] = 1, ["--ctdir"] = 1,
        },
    },
    ExtensionSpec {
        name: "state",
        options: opts! { ["--state"] = 1 },
    },
    ExtensionSpec {
        name: "mark",
        options: opts! { ["--mark"] = 1 },
    },
    ExtensionSpec {
        name: "connmark",
        options: opts! { ["--mark"] = 1 },
    },
    ExtensionSpec {
        name: "addrtype",
        options: opts! { ["--src-type"] = 1, ["--dst-type"] = 1, ["--limit-iface-in"] = 0, ["--limit-iface-out"] = 0 },
    },
    ExtensionSpec {
        name: "statistic",
        options: opts! { ["--mode"] = 1, ["--probability"] = 1, ["--every"] = 1, ["--packet"] = 1 },
    },
    ExtensionSpec {
        name: "recent",
        options: opts! {
            ["--set"] = 0, ["--rcheck"] = 0, ["--update"] = 0, ["--remove"] = 0,
            ["--seconds"] = 1, ["--reap"] = 0, ["--hitcount"] = 1, ["--rttl"] = 0,
            ["--name"] = 1, ["--rsource"] = 0, ["--rdest"] = 0, ["--mask"] = 1,
        },
    },
    ExtensionSpec {
        name: "mac",
        options: opts! { ["--mac-source"] = 1 },
    },
    ExtensionSpec {
        name: "iprange",
        options: opts! { ["--src-range"] = 1, ["--dst-range"] = 1 },
    },
    ExtensionSpec {
        name: "set",
        options: opts! {
            ["--match-set", "--set"] = 2, ["--return-nomatch"] = 0, ["--update-counters"] = 0,
            ["--update-subcounters"] = 0, ["--packets-eq"] = 1, ["--packets-lt"] = 1,
            ["--packets-gt"] = 1, ["--bytes-eq"] = 1, ["--bytes-lt"] = 1, ["--bytes-gt"] = 1,
        },
    },
    ExtensionSpec {
        name: "limit",
        options: opts! { ["--limit"] = 1, ["--limit-burst"] = 1 },
    },
    ExtensionSpec {
        name: "physdev",
        options: opts! {
            ["--physdev-in"] = 1, ["--physdev-out"] = 1, ["--physdev-is-in"] = 0,
            ["--physdev-is-out"] = 0, ["--physdev-is-bridged"] = 0,
        },
    },
    ExtensionSpec {
        name: "owner",
        options: opts! {
            ["--uid-owner"] = 1, ["--gid-owner"] = 1, ["--socket-exists"] = 0, ["--suppl-groups"] = 0,
        },
    },
    ExtensionSpec {
        name: "icmp",
        options: opts! { ["--icmp-type"] = 1 },
    },
    ExtensionSpec {
        name: "icmp6",
        options: opts! { ["--icmpv6-type"] = 1 },
    },
    ExtensionSpec {
        name: "length",
        options: opts! { ["--length"] = 1 },
    },
    ExtensionSpec {
        name: "ttl",
        options: opts! { ["--ttl-eq"] = 1, ["--ttl-gt"] = 1, ["--ttl-lt"] = 1 },
    },
    ExtensionSpec {
        name: "hl",
        options: opts! { ["--hl-eq"] = 1, ["--hl-gt"] = 1, ["--hl-lt"] = 1 },
    },
    ExtensionSpec {
        name: "time",
        options: opts! {
            ["--datestart"] = 1, ["--datestop"] = 1, ["--timestart"] = 1, ["--timestop"] = 1,
            ["--monthdays"] = 1, ["--weekdays"] = 1, ["--contiguous"] = 0, ["--kerneltz"] = 0,
            ["--utc"] = 0, ["--localtz"] = 0,
        },
    },
    ExtensionSpec {
        name: "dscp",
        options: opts! { ["--dscp"] = 1, ["--dscp-class"] = 1 },
    },
    ExtensionSpec {
        name: "pkttype",
        options: opts! { ["--pkt-type"] = 1 },
    },
    // libxt_rpfilter: four flags, none of which takes a `!`.
    ExtensionSpec {
        name: "rpfilter",
        options: opts! { ["--loose"] = 0, ["--validmark"] = 0, ["--accept-local"] = 0, ["--invert"] = 0 },
    },
    ExtensionSpec {
        name: "connlimit",
        options: opts! { ["--connlimit-upto"] = 1, ["--connlimit-above"] = 1, ["--connlimit-mask"] = 1, ["--connlimit-saddr"] = 0, ["--connlimit-daddr"] = 0 },
    },
    ExtensionSpec {
        name: "esp",
        options: opts! { ["--espspi"] = 1 },
    },
    ExtensionSpec {
        name: "ipcomp",
        options: opts! { ["--ipcompspi"] = 1, ["--compres"] = 0 },
    },
    ExtensionSpec {
        name: "ah",
        // `--ahlen` and `--ahres` are ip6tables' (libip6t_ah).
        options: opts! { ["--ahspi"] = 1, ["--ahlen"] = 1, ["--ahres"] = 0 },
    },
    ExtensionSpec {
        name: "ecn",
        options: opts! { ["--ecn-tcp-cwr"] = 0, ["--ecn-tcp-ece"] = 0, ["--ecn-ip-ect"] = 1 },
    },
    ExtensionSpec {
        name: "hashlimit",
        options: opts! {
            ["--hashlimit-upto", "--hashlimit"] = 1, ["--hashlimit-above"] = 1, ["--hashlimit-burst"] = 1,
            ["--hashlimit-mode"] = 1, ["--hashlimit-name"] = 1, ["--hashlimit-htable-size"] = 1,
            ["--hashlimit-htable-max"] = 1, ["--hashlimit-htable-expire"] = 1,
            ["--hashlimit-htable-gcinterval"] = 1, ["--hashlimit-srcmask"] = 1,
            ["--hashlimit-dstmask"] = 1, ["--hashlimit-rate-match"] = 0, ["--hashlimit-rate-interval"] = 1,
        },
    },
    ExtensionSpec {
        name: "string",
        options: opts! {
            ["--from"] = 1, ["--to"] = 1, ["--algo"] = 1, ["--icase"] = 0, ["--string"] = 1,
            ["--hex-string"] = 1,
        },
    },
    ExtensionSpec {
        name: "helper",
        options: opts! { ["--helper"] = 1 },
    },
    ExtensionSpec {
        name: "devgroup",
        options: opts! { ["--src-group"] = 1, ["--dst-group"] = 1 },
    },
    ExtensionSpec {
        name: "cpu",
        options: opts! { ["--cpu"] = 1 },
    },
    ExtensionSpec {
        name: "quota",
        options: opts! { ["--quota"] = 1 },
    },
    ExtensionSpec {
        name: "connbytes",
        options: opts! { ["--connbytes"] = 1, ["--connbytes-dir"] = 1, ["--connbytes-mode"] = 1 },
    },
    ExtensionSpec {
        name: "tos",
        options: opts! { ["--tos"] = 1 },
    },
    ExtensionSpec {
        name: "u32",
        options: opts! { ["--u32"] = 1 },
    },
    // ip6tables' extension-header matches (libip6t_*).
    ExtensionSpec {
        name: "frag",
        options: opts! {
            ["--fragid"] = 1, ["--fraglen"] = 1, ["--fragres"] = 0, ["--fragfirst"] = 0,
            ["--fragmore"] = 0, ["--fraglast"] = 0,
        },
    },
    ExtensionSpec {
        name: "rt",
        options: opts! {
            ["--rt-type"] = 1, ["--rt-segsleft"] = 1, ["--rt-len"] = 1, ["--rt-0-res"] = 0,
            ["--rt-0-addrs"] = 1, ["--rt-0-not-strict"] = 0,
        },
    },
    ExtensionSpec {
        name: "hbh",
        options: opts! { ["--hbh-len"] = 1, ["--hbh-opts"] = 1 },
    },
    ExtensionSpec {
        name: "dst",
        options: opts! { ["--dst-len"] = 1, ["--dst-opts"] = 1 },
    },
    ExtensionSpec {
        name: "ipv6header",
        options: opts! { ["--header"] = 1, ["--soft"] = 0 },
    },
    ExtensionSpec {
        name: "mh",
        options: opts! { ["--mh-type"] = 1 },
    },
    ExtensionSpec {
        name: "eui64",
        options: &[],
    },
    ExtensionSpec {
        name: "policy",
        options: opts! {
            ["--dir"] = 1, ["--pol"] = 1, ["--strict"] = 0, ["--reqid"] = 1, ["--spi"] = 1,
            ["--proto"] = 1, ["--mode"] = 1, ["--tunnel-src"] = 1, ["--tunnel-dst"] = 1,
            ["--next"] = 0,
        },
    },
    ExtensionSpec {
        name: "srh",
        // ip6tables' segment routing header match (libip6t_srh): every
        // option loaded with ip6tables 1.8.9, legacy and nft, in a private
        // namespace; `--srh-len-eq` and the like are refused ("unknown
        // option").
        options: opts! {
            ["--srh-next-hdr"] = 1,
            ["--srh-hdr-len-eq"] = 1, ["--srh-hdr-len-gt"] = 1, ["--srh-hdr-len-lt"] = 1,
            ["--srh-segs-left-eq"] = 1, ["--srh-segs-left-gt"] = 1, ["--srh-segs-left-lt"] = 1,
            ["--srh-last-entry-eq"] = 1, ["--srh-last-entry-gt"] = 1, ["--srh-last-entry-lt"] = 1,
            ["--srh-tag"] = 1, ["--srh-psid"] = 1, ["--srh-nsid"] = 1, ["--srh-lsid"] = 1,
        },
    },
];

/// The options an extension cannot do without: groups of which one must be
/// given (none for an extension that needs nothing).
pub type RequiredOptions = fn(&str) -> &'static [&'static [&'static str]];

/// Options a module cannot do without, as iptables' final check of each
/// extension demands them: per module, groups of options of which one must
/// be given.
#[inline]
fn required_match_options(name: &str) -> &'static [&'static [&'static str]] {
    match name {
        "multiport" => &[&["--sports", "--dports", "--ports"]],
        "comment" => &[&["--comment"]],
        "owner" => &[&["--uid-owner", "--gid-owner", "--socket-exists"]],
        "physdev" => &[&[
            "--physdev-in",
            "--physdev-out",
            "--physdev-is-in",
            "--physdev-is-out",
            "--physdev-is-bridged",
        ]],
        "addrtype" => &[&["--src-type", "--dst-type"]],
        "iprange" => &[&["--src-range", "--dst-range"]],
        "connlimit" => &[&["--connlimit-above", "--connlimit-upto"]],
        "ecn" => &[&["--ecn-tcp-cwr", "--ecn-tcp-ece", "--ecn-ip-ect"]],
        "hashlimit" => &[
            &["--hashlimit-name"],
            &["--hashlimit-upto", "--hashlimit-above"],
        ],
        "dscp" => &[&["--dscp", "--dscp-class"]],
        "string" => &[&["--algo"], &["--string", "--hex-string"]],
        "helper" => &[&["--helper"]],
        "devgroup" => &[&["--src-group", "--dst-group"]],
        "cpu" => &[&["--cpu"]],
        "quota" => &[&["--quota"]],
        "connbytes" => &[
            &["--connbytes"],
            &["--connbytes-dir"],
            &["--connbytes-mode"],
        ],
        "tos" => &[&["--tos"]],
        "policy" => &[&["--dir"]],
        "u32" => &[&["--u32"]],
        "ipv6header" => &[&["--header"]],
        _ => &[],
    }
}

/// The first group `required` (such as `required_match_options`) gives
/// extension `name` that `options` leave out, as an error on the extension.
/// Inlined: it runs for every match and target, and most need nothing.
#[inline]
pub fn check_required_options(
    required: RequiredOptions,
    name: &str,
    options: &[RawOption<'_>],
    span: Span,
) -> Result<(), ValueError> {
    match required(name)
        .iter()
        .find(|group| !options.iter().any(|option| group.contains(&option.name)))
    {
        None => Ok(()),
        Some(group) => Err((span, missing_options(name, group))),
    }
}

/// "NAME: A, B or C is required".
#[cold]
fn missing_options(name: &str, group: &[&str]) -> String {
    let names = match group.split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    };
    format!("{name}: {names} is required")
}

/// The spec of module `name`, when iptlint knows its options.
/// Every match module of iptables 1.8 (`libxt_*`, `libipt_*` and
/// `libip6t_*` extensions that register a match), in either family: the
/// names `-m` loads. iptlint types some of them ([`match_spec`]) and keeps
/// the options of the others as written. A name outside this list is
/// refused by iptables ("Couldn't load match") unless an extension from
/// elsewhere (xtables-addons) provides it. `tests/kernel_targets.rs`
/// compares it with the extensions the installed iptables has.
pub const MATCH_MODULES: &[&str] = &[
    "addrtype",
    "ah",
    "bpf",
    "cgroup",
    "cluster",
    "comment",
    "connbytes",
    "connlabel",
    "connlimit",
    "connmark",
    "conntrack",
    "cpu",
    "dccp",
    "devgroup",
    "dscp",
    "dst",
    "ecn",
    "esp",
    "eui64",
    "frag",
    "hashlimit",
    "hbh",
    "helper",
    "hl",
    "icmp",
    "icmp6",
    "ipcomp",
    "iprange",
    "ipv6header",
    "ipvs",
    "length",
    "limit",
    "mac",
    "mark",
    "mh",
    "multiport",
    "nfacct",
    "osf",
    "owner",
    "physdev",
    "pkttype",
    "policy",
    "quota",
    "rateest",
    "realm",
    "recent",
    "rpfilter",
    "rt",
    "sctp",
    "set",
    "socket",
    "srh",
    "state",
    "statistic",
    "string",
    "tcp",
    "tcpmss",
    "time",
    "tos",
    "ttl",
    "u32",
    "udp",
];

/// The typed description of match module `name`, when iptlint has one.
pub fn match_spec(name: &str) -> Option<&'static ExtensionSpec> {
    // A scan, not a hash lookup: the modules found on nearly every rule
    // (comment, tcp, udp) come first in the list. Callgrind, 1,000-service
    // dump: 70 instructions a lookup scanning, 117 hashing.
    MATCH_SPECS.iter().find(|spec| spec.name == name)
}

/// A set of conntrack states (`NEW,ESTABLISHED`), one bit each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CtStates(pub u8);

impl CtStates {
    /// Every state name, in bit order.
    pub const NAMES: [&'static str; 7] = [
        "INVALID",
        "NEW",
        "ESTABLISHED",
        "RELATED",
        "UNTRACKED",
        "SNAT",
        "DNAT",
    ];

    /// Whether every state of `other` is in `self`.
    pub fn contains(self, other: CtStates) -> bool {
        self.0 & other.0 == other.0
    }
}

/// The index of the first of `names` that `word` abbreviates, as the
/// extensions that read a list of names compare them, with
/// `strncasecmp(word, name, strlen(word))`: a prefix, in any case (`est` is
/// ESTABLISHED, `x` is XRESOLVE); `None` for an empty word.
fn abbreviation(names: &[&str], word: &str) -> Option<usize> {
    if word.is_empty() {
        return None;
    }
    names.iter().position(|name| {
        name.len() >= word.len()
            && name.as_bytes()[..word.len()].eq_ignore_ascii_case(word.as_bytes())
    })
}

/// States among `names` (a prefix of [`CtStates::NAMES`]), comma-separated,
/// each name abbreviated or not; the first word that names none is the
/// error.
fn parse_states_of<'t>(text: &'t str, names: &[&str]) -> Result<CtStates, &'t str> {
    let mut bits = 0u8;
    for name in text.split(',') {
        bits |= 1 << abbreviation(names, name).ok_or(name)?;
    }
    Ok(CtStates(bits))
}

/// `-m conntrack --ctstate` (libxt_conntrack's `conntrack_ps_states`).
fn parse_ct_states(text: &str) -> Result<CtStates, String> {
    parse_states_of(text, &CtStates::NAMES).map_err(|name| {
        format!(
            "`{name}` is not a conntrack state ({})",
            CtStates::NAMES.join(", ")
        )
    })
}

/// `-m state --state`: the states of [`parse_ct_states`] but SNAT and DNAT,
/// which only `-m conntrack --ctstate` knows (libxt_state: "Bad state").
fn parse_states(text: &str) -> Result<CtStates, String> {
    const STATE_NAMES: usize = 5;
    parse_states_of(text, &CtStates::NAMES[..STATE_NAMES]).map_err(|name| {
        if abbreviation(&CtStates::NAMES, name).is_some() {
            format!(
                "`{name}` is a state of `-m conntrack --ctstate` only; `-m state` knows {}",
                CtStates::NAMES[..STATE_NAMES].join(", ")
            )
        } else {
            format!(
                "`{name}` is not a conntrack state ({})",
                CtStates::NAMES[..STATE_NAMES].join(", ")
            )
        }
    })
}

/// `--ctstatus`: one or more of conntrack's status names, comma-separated,
/// abbreviated or not (libxt_conntrack's `conntrack_ps_status`).
fn parse_ct_status(text: &str) -> Result<(), String> {
    const NAMES: [&str; 5] = ["NONE", "EXPECTED", "SEEN_REPLY", "ASSURED", "CONFIRMED"];
    match text
        .split(',')
        .find(|name| abbreviation(&NAMES, name).is_none())
    {
        None => Ok(()),
        Some(bad) => Err(format!(
            "`{bad}` is not a conntrack status ({})",
            NAMES.join(", ")
        )),
    }
}

/// `ADDR[/LEN]` or `ADDR/MASK` of IPv6, the length up to 128 in C notation.
fn parse_ipv6_with_mask(text: &str) -> Result<(), String> {
    let (addr, mask) = text
        .split_once('/')
        .map_or((text, None), |(a, m)| (a, Some(m)));
    if addr.parse::<std::net::Ipv6Addr>().is_err() {
        return Err(format!("`{addr}` is not an IPv6 address"));
    }
    match mask {
        None => Ok(()),
        Some(mask) if mask.parse::<std::net::Ipv6Addr>().is_ok() => Ok(()),
        Some(mask) if xtables_strtoui(mask, 0, 128).is_some() => Ok(()),
        Some(mask) => Err(format!(
            "`{mask}` is neither a prefix length (0-128) nor a mask"
        )),
    }
}

/// The chunk list of `-m sctp --chunk-types`, as libxt_sctp 1.8.9 reads it
/// (each probed with iptables-restore on the legacy kernel): `ALL` or
/// `NONE` alone, else chunk names in any case, empty elements skipped, each
/// with `:FLAGS` of the letters its chunk has (DATA and I_DATA: I, U, B, E;
/// ABORT and SHUTDOWN_COMPLETE: T), in either case.
fn parse_sctp_chunks(text: &str) -> Result<(), String> {
    const CHUNKS: [(&str, &str); 22] = [
        ("DATA", "IUBE"),
        ("INIT", ""),
        ("INIT_ACK", ""),
        ("SACK", ""),
        ("HEARTBEAT", ""),
        ("HEARTBEAT_ACK", ""),
        ("ABORT", "T"),
        ("SHUTDOWN", ""),
        ("SHUTDOWN_ACK", ""),
        ("ERROR", ""),
        ("COOKIE_ECHO", ""),
        ("COOKIE_ACK", ""),
        ("ECN_ECNE", ""),
        ("ECN_CWR", ""),
        ("SHUTDOWN_COMPLETE", "T"),
        ("ASCONF", ""),
        ("ASCONF_ACK", ""),
        ("FORWARD_TSN", ""),
        ("I_DATA", "IUBE"),
        ("RE_CONFIG", ""),
        ("PAD", ""),
        ("I_FORWARD_TSN", ""),
    ];
    if text.eq_ignore_ascii_case("ALL") || text.eq_ignore_ascii_case("NONE") {
        return Ok(());
    }
    for chunk in text.split(',').filter(|chunk| !chunk.is_empty()) {
        let (name, flags) = chunk.split_once(':').unwrap_or((chunk, ""));
        let Some((_, allowed)) = CHUNKS
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
        else {
            return Err(format!("`{name}` is not an SCTP chunk type"));
        };
        if let Some(flag) = flags
            .chars()
            .find(|flag| !allowed.contains(flag.to_ascii_uppercase()))
        {
            return Err(format!("`{flag}` is not a flag of {name} chunks"));
        }
    }
    Ok(())
}

/// `--dccp-types`: packet type names, comma-separated, in any case; empty
/// elements are skipped (libxt_dccp's `parse_dccp_types`: iptables-save
/// writes `--dccp-types "DATA,"` back as `DATA`).
fn parse_dccp_types(text: &str) -> Result<(), String> {
    const NAMES: [&str; 11] = [
        "REQUEST", "RESPONSE", "DATA", "ACK", "DATAACK", "CLOSEREQ", "CLOSE", "RESET", "SYNC",
        "SYNCACK", "INVALID",
    ];
    match text.split(',').find(|name| {
        !name.is_empty() && !NAMES.iter().any(|known| known.eq_ignore_ascii_case(name))
    }) {
        None => Ok(()),
        Some(bad) => Err(format!(
            "`{bad}` is not a DCCP packet type ({})",
            NAMES.join(", ")
        )),
    }
}

/// `--ctexpire MIN[:MAX]`: seconds, either side may be left out.
fn parse_ct_expire(text: &str) -> Result<(), String> {
    let (min, max) = text.split_once(':').unwrap_or((text, ""));
    for side in [min, max].into_iter().filter(|side| !side.is_empty()) {
        parse_u32(side)?;
    }
    Ok(())
}

/// `--ctdir`: `ORIGINAL` or `REPLY`, in any case.
fn parse_ct_direction(text: &str) -> Result<(), String> {
    if ["ORIGINAL", "REPLY"]
        .iter()
        .any(|known| known.eq_ignore_ascii_case(text))
    {
        Ok(())
    } else {
        Err(format!("`{text}` is not a direction (ORIGINAL, REPLY)"))
    }
}

/// `--pkt-type`: libxt_pkttype's names, in any case, with its aliases
/// `bcast` and `mcast` (both load in iptables 1.8.9; `ucast` does not).
fn parse_packet_type(text: &str) -> Result<(), String> {
    const NAMES: [&str; 5] = ["unicast", "broadcast", "multicast", "host", "otherhost"];
    const ALIASES: [&str; 2] = ["bcast", "mcast"];
    if NAMES
        .iter()
        .chain(&ALIASES)
        .any(|known| known.eq_ignore_ascii_case(text))
    {
        Ok(())
    } else {
        Err(format!(
            "`{text}` is not a packet type ({})",
            NAMES.join(", ")
        ))
    }
}

/// The type names `-m icmp --icmp-type` knows, aliases included, in the
/// order of iptables' table (`iptables -p icmp -h`, iptables 1.8.9), with
/// the type and code each loads (`None`: every code; `any` is type 255),
/// as iptables-save prints them with either backend.
const ICMP_TYPES: &[(&str, u8, Option<u8>)] = &[
    ("any", 255, None),
    ("echo-reply", 0, None),
    ("pong", 0, None),
    ("destination-unreachable", 3, None),
    ("network-unreachable", 3, Some(0)),
    ("host-unreachable", 3, Some(1)),
    ("protocol-unreachable", 3, Some(2)),
    ("port-unreachable", 3, Some(3)),
    ("fragmentation-needed", 3, Some(4)),
    ("source-route-failed", 3, Some(5)),
    ("network-unknown", 3, Some(6)),
    ("host-unknown", 3, Some(7)),
    ("network-prohibited", 3, Some(9)),
    ("host-prohibited", 3, Some(10)),
    ("TOS-network-unreachable", 3, Some(11)),
    ("TOS-host-unreachable", 3, Some(12)),
    ("communication-prohibited", 3, Some(13)),
    ("host-precedence-violation", 3, Some(14)),
    ("precedence-cutoff", 3, Some(15)),
    ("source-quench", 4, None),
    ("redirect", 5, None),
    ("network-redirect", 5, Some(0)),
    ("host-redirect", 5, Some(1)),
    ("TOS-network-redirect", 5, Some(2)),
    ("TOS-host-redirect", 5, Some(3)),
    ("echo-request", 8, None),
    ("ping", 8, None),
    ("router-advertisement", 9, None),
    ("router-solicitation", 10, None),
    ("time-exceeded", 11, None),
    ("ttl-exceeded", 11, None),
    ("ttl-zero-during-transit", 11, Some(0)),
    ("ttl-zero-during-reassembly", 11, Some(1)),
    ("parameter-problem", 12, None),
    ("ip-header-bad", 12, Some(0)),
    ("required-option-missing", 12, Some(1)),
    ("timestamp-request", 13, None),
    ("timestamp-reply", 14, None),
    ("address-mask-request", 17, None),
    ("address-mask-reply", 18, None),
];

/// The same for `-m icmp6 --icmpv6-type` (`ip6tables -p icmpv6 -h`).
const ICMPV6_TYPES: &[(&str, u8, Option<u8>)] = &[
    ("destination-unreachable", 1, None),
    ("no-route", 1, Some(0)),
    ("communication-prohibited", 1, Some(1)),
    ("beyond-scope", 1, Some(2)),
    ("address-unreachable", 1, Some(3)),
    ("port-unreachable", 1, Some(4)),
    ("failed-policy", 1, Some(5)),
    ("reject-route", 1, Some(6)),
    ("packet-too-big", 2, None),
    ("time-exceeded", 3, None),
    ("ttl-exceeded", 3, None),
    ("ttl-zero-during-transit", 3, Some(0)),
    ("ttl-zero-during-reassembly", 3, Some(1)),
    ("parameter-problem", 4, None),
    ("bad-header", 4, Some(0)),
    ("unknown-header-type", 4, Some(1)),
    ("unknown-option", 4, Some(2)),
    ("echo-request", 128, None),
    ("ping", 128, None),
    ("echo-reply", 129, None),
    ("pong", 129, None),
    ("router-solicitation", 133, None),
    ("router-advertisement", 134, None),
    ("neighbour-solicitation", 135, None),
    ("neighbor-solicitation", 135, None),
    ("neighbour-advertisement", 136, None),
    ("neighbor-advertisement", 136, None),
    ("redirect", 137, None),
];

/// An ICMP type as iptables 1.8 reads it, and what the kernel loads for
/// it: a name of `types` or any unambiguous beginning of one, in any case;
/// otherwise `TYPE[/CODE]` or `TYPE/MIN:MAX` with numbers 0 to 255 in C's
/// notation (a range of types is refused).
fn parse_icmp_type(types: &[(&str, u8, Option<u8>)], text: &str) -> Result<IcmpType, String> {
    let starts_with_text = |name: &str| {
        name.len() >= text.len()
            && name.as_bytes()[..text.len()].eq_ignore_ascii_case(text.as_bytes())
    };
    let mut candidates = types.iter().filter(|(name, ..)| starts_with_text(name));
    match (candidates.next(), candidates.next()) {
        (Some(&(_, kind, code)), None) if !text.is_empty() => {
            return Ok(IcmpType {
                kind,
                codes: code.map_or((0, 255), |code| (code, code)),
            });
        }
        (Some((first, ..)), Some((second, ..))) if !text.is_empty() => {
            return Err(format!("`{text}` is ambiguous: `{first}` or `{second}`?"));
        }
        _ => {}
    }
    let byte = |part: &str| c_number(part).and_then(|number| u8::try_from(number).ok());
    let (kind, code) = match text.split_once('/') {
        Some((kind, code)) => (kind, Some(code)),
        None => (text, None),
    };
    if let Some((low, high)) = kind.split_once(':')
        && byte(low).is_some()
        && byte(high).is_some()
    {
        return Err(format!("`{text}`: ICMP type ranges are not supported"));
    }
    let Some(kind) = byte(kind) else {
        return Err(format!(
            "`{text}` is not an ICMP type (a name such as `echo-request`, or a number 0-255 with an optional `/CODE`)"
        ));
    };
    let codes = match code {
        None => Some((0, 255)),
        Some(code) => {
            let (low, high) = code.split_once(':').unwrap_or((code, code));
            byte(low).zip(byte(high))
        }
    };
    match codes {
        Some(codes) => Ok(IcmpType { kind, codes }),
        None => Err(format!(
            "`{text}`: the code after `/` is not a number 0-255 (or a range MIN:MAX)"
        )),
    }
}

/// `--hashlimit-mode`: what the buckets are keyed by, separated by `,` or
/// `|` (libxt_hashlimit's `strtok`, so empty names are skipped and no name
/// at all is no key).
fn parse_hashlimit_mode(text: &str) -> Result<(), String> {
    const NAMES: [&str; 4] = ["srcip", "srcport", "dstip", "dstport"];
    match text
        .split([',', '|'])
        .find(|name| !name.is_empty() && !NAMES.contains(name))
    {
        None => Ok(()),
        Some(bad) => Err(format!("`{bad}` is not a key ({})", NAMES.join(", "))),
    }
}

/// `--hashlimit-name`: the kernel names a file in /proc/net/ipt_hashlimit
/// after it (`xt_check_proc_name`).
fn check_hashlimit_name(text: &str) -> Result<(), String> {
    if text.is_empty() {
        return Err("empty name".to_string());
    }
    if matches!(text, "." | "..") || text.contains('/') {
        return Err(format!(
            "the kernel refuses `{text}`: it names a file in /proc/net/ipt_hashlimit, so it cannot be `.`, `..` or contain `/`"
        ));
    }
    Ok(())
}

/// `--hashlimit-htable-*`: a 32-bit number in C notation, at least `min`
/// (the kernel refuses a garbage-collection interval or expiry of 0).
fn parse_hashlimit_number(text: &str, min: u64) -> Result<(), String> {
    match parse_xtables_number(text, u64::from(u32::MAX))? {
        number if number < min => Err(format!(
            "the kernel refuses {number} (a hashtable needs a garbage-collection interval and an expiry time)"
        )),
        _ => Ok(()),
    }
}

/// A `--hashlimit-srcmask`/`--hashlimit-dstmask` as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashlimitMask {
    /// A prefix length, 0 to 128.
    Length(u32),
    /// A contiguous mask written as an address of this family.
    Address {
        /// Written as an IPv6 address.
        v6: bool,
    },
}

impl HashlimitMask {
    /// Read a mask as iptables 1.8.9 does: a prefix length up to 128 (in
    /// either family) in C notation, or a mask written as an address; `None`
    /// when iptables refuses it or the mask is not contiguous (which the
    /// kernel refuses). Whether it suits the family is for
    /// [`HashlimitMask::refusal_in`], once the family is known.
    pub fn parse(text: &str) -> Option<HashlimitMask> {
        if let Some(length) = xtables_strtoui(text, 0, 128) {
            return Some(HashlimitMask::Length(length as u32));
        }
        let (bits, v6) = match text.parse::<IpAddr>().ok()? {
            IpAddr::V4(mask) => (u128::from(u32::from(mask)) << 96, false),
            IpAddr::V6(mask) => (u128::from(mask), true),
        };
        mask_prefix(bits).map(|_| HashlimitMask::Address { v6 })
    }

    /// Why the mask is refused in a dump of this family (IPv6 when `v6`).
    pub fn refusal_in(self, v6: bool) -> Option<&'static str> {
        match self {
            HashlimitMask::Length(length) if !v6 && length > 32 => {
                Some("the kernel refuses a prefix over 32 in IPv4")
            }
            HashlimitMask::Address { v6: written_v6 } if written_v6 != v6 => Some(if v6 {
                "ip6tables refuses an IPv4 mask"
            } else {
                "iptables refuses an IPv6 mask"
            }),
            _ => None,
        }
    }
}

/// A `--hashlimit-upto`/`--hashlimit-above` value as libxt_hashlimit
/// (revision 3) hands it to the kernel.
#[derive(Debug, Clone, Copy)]
enum HashlimitRate {
    /// Packets: millionths of a second between packets, and the seconds of
    /// the unit it was written in.
    Packets { average: u64, unit_seconds: u64 },
    /// Bytes (`Nb/s`, `Nkb/s`, `Nmb/s`): the cost of a 16-byte chunk.
    Bytes { cost: u32 },
}

/// libxt_hashlimit's `parse_bytes`, then `parse_rate`. The count is C's
/// `atoll` of the text (`1.5/s` is 1/s); `b/s` anywhere after the first
/// character makes it a byte rate, `k` or `m` before it multiplies by 1024
/// or 1048576; otherwise the unit, in any case, is a prefix of second,
/// minute, hour or day.
fn parse_hashlimit_rate(text: &str) -> Result<HashlimitRate, String> {
    const SCALE: u64 = 1_000_000;
    let count = c_atoll(text);
    let invalid = || {
        format!(
            "`{text}` is not a rate (N, N/second, N/minute, N/hour, N/day, or Nb/s, Nkb/s, Nmb/s; N from 1)"
        )
    };
    if let Some(at) = text.find("b/s").filter(|&at| at > 0)
        && count != 0
    {
        let factor = match text.as_bytes()[at - 1] {
            b'k' => 1024,
            b'm' => 1024 * 1024,
            _ => 1,
        };
        let chunks = ((count as u64).wrapping_mul(factor) >> 4) as u32;
        let Some(divisor) = chunks.checked_add(1) else {
            return Err(format!(
                "`{text}` makes iptables divide by zero (it crashes)"
            ));
        };
        return Ok(HashlimitRate::Bytes {
            cost: u32::MAX / divisor,
        });
    }
    let unit_seconds = match text.split_once('/') {
        None => 1,
        Some((_, unit)) => [
            ("second", 1),
            ("minute", 60),
            ("hour", 3600),
            ("day", 86_400),
        ]
        .into_iter()
        .find(|(name, _)| {
            !unit.is_empty()
                && unit.len() <= name.len()
                && name.as_bytes()[..unit.len()].eq_ignore_ascii_case(unit.as_bytes())
        })
        .map(|(_, seconds)| seconds)
        .ok_or_else(invalid)?,
    };
    if count == 0 {
        return Err(invalid());
    }
    match (SCALE * unit_seconds) / count as u64 {
        0 => Err(format!(
            "`{text}` is too fast: iptables takes at most 1000000 per second"
        )),
        average => Ok(HashlimitRate::Packets {
            average,
            unit_seconds,
        }),
    }
}

/// `--hashlimit-burst` as libxt_hashlimit's `parse_burst` reads it: a
/// number from 1 in C notation (no `-`), then `k` (×1024), `m` (×1048576) or
/// anything else (×1); without a suffix at most 1000000.
fn parse_hashlimit_burst(text: &str) -> Result<u64, String> {
    let invalid =
        || format!("`{text}` is not a burst (1 to 1000000, or a number of bytes with k or m)");
    let (count, read) = xtables_strtoui_prefix(text.as_bytes(), u64::MAX)
        .filter(|&(count, _)| count >= 1)
        .ok_or_else(invalid)?;
    let factor = match text.as_bytes().get(read) {
        None if count > 1_000_000 => return Err(invalid()),
        Some(b'k') => 1024,
        Some(b'm') => 1024 * 1024,
        _ => 1,
    };
    Ok(count.wrapping_mul(factor))
}

/// What iptables' final check and the kernel's `hashlimit_mt_check_common`
/// refuse in a rate with its burst (default 5 packets; none in bytes).
fn check_hashlimit_rate(
    rate: HashlimitRate,
    burst: Option<(u64, Span)>,
    rate_match: bool,
    rate_span: Span,
) -> Result<(), ValueError> {
    match rate {
        HashlimitRate::Packets {
            average,
            unit_seconds,
        } => {
            let (burst, burst_span) = burst.unwrap_or((5, rate_span));
            if burst > 1_000_000 {
                return Err((
                    burst_span,
                    format!("--hashlimit-burst: {burst} packets is over iptables' 1000000"),
                ));
            }
            if rate_match {
                let per_unit = average / unit_seconds;
                if per_unit == 0 || per_unit > u64::from(u32::MAX) {
                    return Err((
                        rate_span,
                        "--hashlimit-rate-match: the kernel refuses this rate (\"invalid rate\"): more than 1000000 per second".to_string(),
                    ));
                }
            } else if hashlimit_credits_overflow(average, burst) {
                return Err((
                    burst_span,
                    format!(
                        "--hashlimit-burst: the kernel refuses a burst of {burst} at this rate (\"overflow, try lower\", with HZ 250 or 1000)"
                    ),
                ));
            }
        }
        HashlimitRate::Bytes { cost } => {
            if let Some((burst, burst_span)) = burst {
                let chunk_bytes = (u64::from(u32::MAX / cost) - 1) << 4;
                if chunk_bytes == 0 {
                    return Err((
                        burst_span,
                        "--hashlimit-burst: at this byte rate iptables divides by zero (it crashes)"
                            .to_string(),
                    ));
                }
                if burst < chunk_bytes {
                    return Err((
                        burst_span,
                        format!(
                            "--hashlimit-burst: iptables refuses a burst smaller than {chunk_bytes} bytes at this rate"
                        ),
                    ));
                }
            }
            if !rate_match && cost == 1 {
                return Err((
                    rate_span,
                    "the kernel refuses byte rates of 32 GiB/s and more (\"overflow, rate too high\")"
                        .to_string(),
                ));
            }
        }
    }
    Ok(())
}

/// Whether the kernel's hashlimit (revision 2 and 3) refuses `average` with
/// `burst`: it compares the credits of `average * burst` and of `average` in
/// 64-bit arithmetic that wraps. `HZ * CREDITS_PER_JIFFY` is the same for HZ
/// 250 and 1000; checked against this machine's kernel by
/// `tests/kernel_targets.rs`.
fn hashlimit_credits_overflow(average: u64, burst: u64) -> bool {
    const CREDITS_PER_MICROSECOND: u64 = 137_438_953_472_000 / 1_000_000;
    let credits = |user: u64| user.wrapping_mul(CREDITS_PER_MICROSECOND);
    credits(average.wrapping_mul(burst)) < credits(average)
}

/// `--timestart`/`--timestop`: `hh:mm[:ss]`, each part read by C's
/// `strtoul` in decimal as libxt_time does (so a part may be empty or
/// signed), as seconds into the day.
fn parse_time_of_day(text: &str) -> Result<u32, String> {
    let invalid = || format!("`{text}` is not a time of day (hh:mm[:ss], up to 23:59:59)");
    let mut rest = text.as_bytes();
    let mut seconds = 0;
    // (the byte that must follow the part, or 0 for the end; largest value)
    for (index, (after, limit, scale)) in [(b':', 23, 3600), (b':', 59, 60), (0, 59, 1)]
        .into_iter()
        .enumerate()
    {
        let (value, read) = c_strtoul(rest, 10);
        let next = rest.get(read).copied();
        // The hour must be followed by `:`; the minutes by `:` or the end.
        let next_allowed = match next {
            None => index > 0,
            Some(byte) => after != 0 && byte == after,
        };
        let value = value as u32;
        if !next_allowed || value > limit {
            return Err(invalid());
        }
        seconds += value * scale;
        match next {
            None => break,
            Some(_) => rest = &rest[read + 1..],
        }
    }
    Ok(seconds)
}

/// The segments of a libxt_time day list as its `my_strseg` cuts them: at
/// commas, each kept to the `keep` bytes of its buffer; a trailing comma
/// ends the list, an empty segment elsewhere is read as an empty day.
fn time_day_segments(text: &str, keep: usize) -> impl Iterator<Item = (&str, &[u8])> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest.filter(|r| !r.is_empty())?;
        let segment = match current.split_once(',') {
            Some((segment, after)) => {
                rest = Some(after);
                segment
            }
            None => {
                rest = None;
                current
            }
        };
        Some((segment, &segment.as_bytes()[..segment.len().min(keep)]))
    })
}

/// `--weekdays`: days as names (only their first two letters are compared,
/// case-sensitively) or numbers from 1 (Monday), comma-separated.
fn parse_weekdays(text: &str) -> Result<(), String> {
    const NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    for (segment, read) in time_day_segments(text, 3) {
        let (number, digits) = c_strtoul(read, 0);
        if digits == read.len() {
            if number as u32 == 0 {
                return Err(if segment.is_empty() {
                    format!(
                        "`{text}` has an empty day, which iptables reads as day 0; the week starts with 1 (Mon)"
                    )
                } else {
                    format!(
                        "`{segment}` is day 0; the week starts with 1 (Mon) and ends with 7 (Sun)"
                    )
                });
            }
            continue;
        }
        if read.len() < 2 || !NAMES.iter().any(|name| name.as_bytes()[..2] == read[..2]) {
            return Err(format!(
                "`{segment}` is not a day of the week ({}, case-sensitive, or 1 to 7)",
                NAMES.join(", ")
            ));
        }
    }
    Ok(())
}

/// `--monthdays`: days of the month, 1 to 31, comma-separated; iptables
/// reads each with C's `strtoul` and keeps only its first two characters.
fn parse_monthdays(text: &str) -> Result<(), String> {
    for (segment, read) in time_day_segments(text, 2) {
        let (number, digits) = c_strtoul(read, 0);
        if digits != read.len() || number as u32 > 31 {
            return Err(format!(
                "`{segment}` is not a day of the month (1 to 31; iptables reads the first two characters of each day)"
            ));
        }
    }
    Ok(())
}

/// `--datestart`/`--datestop`: `YYYY[-MM[-DD[Thh[:mm[:ss]]]]]` from 1970 to
/// 2038, each part read by C's `strtoul` in decimal as libxt_time does. A
/// month or day 0 means the last of the one before, which `mktime` refuses
/// before 1970.
fn parse_date(text: &str) -> Result<(), String> {
    let invalid =
        || format!("`{text}` is not a date (YYYY[-MM[-DD[Thh[:mm[:ss]]]]], years 1970 to 2038)");
    // (the byte that must follow the part, or 0 for the end; its range)
    const PARTS: [(u8, u32, u32); 6] = [
        (b'-', 1970, 2038),
        (b'-', 0, 12),
        (b'T', 0, 31),
        (b':', 0, 23),
        (b':', 0, 59),
        (0, 0, 59),
    ];
    let mut values = [1970u32, 1, 1, 0, 0, 0];
    let mut rest = text.as_bytes();
    for (index, (after, min, max)) in PARTS.into_iter().enumerate() {
        let (value, read) = c_strtoul(rest, 10);
        let value = value as u32;
        let next = rest.get(read).copied();
        if next.is_some_and(|byte| after == 0 || byte != after) || !(min..=max).contains(&value) {
            return Err(invalid());
        }
        values[index] = value;
        match next {
            None => break,
            Some(_) => rest = &rest[read + 1..],
        }
    }
    if values[0] == 1970 && (values[1] == 0 || values[2] == 0) {
        return Err(format!(
            "`{text}` is before 1970-01-01 (a month or day 0 is the last of the one before)"
        ));
    }
    Ok(())
}

/// `--tcp-option`: a TCP option kind, 1 to 255 (0 is the end of the list).
fn parse_tcp_option(text: &str) -> Result<u8, String> {
    c_number(text)
        .and_then(|kind| u8::try_from(kind).ok())
        .filter(|&kind| kind != 0)
        .ok_or_else(|| format!("`{text}` is not a TCP option kind between 1 and 255"))
}

/// TCP flags as `--tcp-flags MASK COMP` (and `--syn`) give them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TcpFlags {
    /// Flags examined.
    pub mask: u8,
    /// Of those, the ones that must be set.
    pub comparison: u8,
}

impl TcpFlags {
    /// The SYN bit.
    pub const SYN: u8 = 0x02;
}

/// The names `--tcp-flags` takes, with their bits: one flag each, then
/// `ALL` and `NONE`.
const TCP_FLAG_NAMES: [(&str, u8); 8] = [
    ("FIN", 0x01),
    ("SYN", TcpFlags::SYN),
    ("RST", 0x04),
    ("PSH", 0x08),
    ("ACK", 0x10),
    ("URG", 0x20),
    ("ALL", 0x3f),
    ("NONE", 0),
];

impl TcpFlags {
    /// Flags `comparison` requires set that `mask` does not examine. The
    /// kernel compares the packet's flags under the mask with the
    /// comparison as written (`flags & mask == comparison`), so when there
    /// is any, no packet matches.
    pub fn unexamined(&self) -> u8 {
        self.comparison & !self.mask
    }

    /// `bits` as `--tcp-flags` writes them: `FIN,SYN`, `ALL`, `NONE`.
    pub fn names(bits: u8) -> String {
        if bits & 0x3f == 0x3f {
            return "ALL".to_string();
        }
        let names: Vec<&str> = TCP_FLAG_NAMES[..6]
            .iter()
            .filter(|(_, bit)| bits & bit != 0)
            .map(|(name, _)| *name)
            .collect();
        if names.is_empty() {
            "NONE".to_string()
        } else {
            names.join(",")
        }
    }
}

fn parse_tcp_flag_list(text: &str) -> Result<u8, String> {
    // libxt_tcp splits with strtok, which skips empty items: `""` and
    // `SYN,,ACK` load (a mask of no flags, SYN|ACK).
    text.split(',')
        .filter(|name| !name.is_empty())
        .try_fold(0u8, |bits, name| {
            TCP_FLAG_NAMES
                .iter()
                .find(|(known, _)| known.eq_ignore_ascii_case(name))
                .map(|(_, bit)| bits | bit)
                .ok_or_else(|| format!("`{name}` is not a TCP flag"))
        })
}

/// `-m tcp` / `-m udp` (and the ports of sctp and dccp).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PortMatch {
    /// `--sport`.
    pub source: Option<Negatable<PortRange>>,
    /// `--dport`.
    pub destination: Option<Negatable<PortRange>>,
    /// `--tcp-flags` or `--syn` (tcp only).
    pub flags: Option<Negatable<TcpFlags>>,
}

/// `-m multiport`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MultiportMatch {
    /// `--sports`.
    pub source: Option<Negatable<Vec<PortRange>>>,
    /// `--dports`.
    pub destination: Option<Negatable<Vec<PortRange>>>,
    /// `--ports`: source or destination.
    pub either: Option<Negatable<Vec<PortRange>>>,
}

/// `-m conntrack` (the typed part; other conntrack options are validated and kept raw).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConntrackMatch {
    /// `--ctstate`.
    pub state: Option<Negatable<CtStates>>,
    /// `--ctorigdst`.
    pub original_destination: Option<Negatable<IpNet>>,
    /// Whether options other than the typed ones are present.
    pub has_other_options: bool,
}

/// `-m addrtype`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AddrTypeMatch {
    /// `--src-type`, upper case (`LOCAL`, `UNICAST` ...).
    pub source: Option<Negatable<String>>,
    /// `--dst-type`.
    pub destination: Option<Negatable<String>>,
    /// `--limit-iface-in` or `--limit-iface-out`: the types as seen from
    /// the packet's input or output interface only.
    pub limit_iface: Option<LimitIface>,
}

/// Which interface `-m addrtype --limit-iface-*` looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitIface {
    /// `--limit-iface-in`: the input interface (no output hooks).
    In,
    /// `--limit-iface-out`: the output interface (no input hooks).
    Out,
}

/// The address types of `-m addrtype`, in the kernel's bit order.
pub const ADDRESS_TYPES: [&str; 12] = [
    "UNSPEC",
    "UNICAST",
    "LOCAL",
    "BROADCAST",
    "ANYCAST",
    "MULTICAST",
    "BLACKHOLE",
    "UNREACHABLE",
    "PROHIBIT",
    "THROW",
    "NAT",
    "XRESOLVE",
];

/// `-m statistic`. Equal when the same, wherever written.
#[derive(Debug, Clone)]
pub enum StatisticMatch {
    /// `--mode random --probability P`.
    Random(Negatable<Probability>),
    /// `--mode nth --every N --packet P`: the rule matches one packet in N.
    Nth {
        /// N.
        every: u32,
        /// Which packet of each N (0-based).
        packet: u32,
        /// `! --every`.
        negated: bool,
        /// Where the options were written.
        span: Span,
    },
}

impl PartialEq for StatisticMatch {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (StatisticMatch::Random(a), StatisticMatch::Random(b)) => a == b,
            (
                StatisticMatch::Nth {
                    every,
                    packet,
                    negated,
                    ..
                },
                StatisticMatch::Nth {
                    every: other_every,
                    packet: other_packet,
                    negated: other_negated,
                    ..
                },
            ) => (every, packet, negated) == (other_every, other_packet, other_negated),
            _ => false,
        }
    }
}

/// What a `-m recent` rule does with its list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecentAction {
    /// `--set`: add the address; always matches.
    Set,
    /// `--rcheck`: match if the address is listed.
    Check,
    /// `--update`: like check, and refresh the timestamp.
    Update,
    /// `--remove`: match and remove if listed.
    Remove,
}

/// `-m recent`.
#[derive(Debug, Clone, PartialEq)]
pub struct RecentMatch {
    /// The action.
    pub action: RecentAction,
    /// `!` on the action.
    pub negated: bool,
    /// `--name` (default `DEFAULT`).
    pub name: String,
    /// `--seconds`.
    pub seconds: Option<u32>,
    /// `--hitcount`.
    pub hitcount: Option<u32>,
    /// `--rdest` (otherwise the source address is recorded).
    pub destination_side: bool,
}

/// `-m iprange`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IpRangeMatch {
    /// `--src-range A-B`.
    pub source: Option<Negatable<(IpAddr, IpAddr)>>,
    /// `--dst-range A-B`.
    pub destination: Option<Negatable<(IpAddr, IpAddr)>>,
}

/// `-m set --match-set NAME src,dst`.
#[derive(Debug, Clone, PartialEq)]
pub struct SetMatch {
    /// The ipset's name.
    pub name: String,
    /// `src`/`dst` per dimension; `true` for `dst`.
    pub destination_flags: Vec<bool>,
    /// `! --match-set`.
    pub negated: bool,
}

/// `-m limit`.
#[derive(Debug, Clone, PartialEq)]
pub struct LimitMatch {
    /// Packets per second allowed on average.
    pub per_second: f64,
    /// `--limit-burst` (default 5).
    pub burst: u32,
}

/// `-m physdev`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PhysdevMatch {
    /// `--physdev-in`.
    pub input: Option<Negatable<String>>,
    /// `--physdev-out`.
    pub output: Option<Negatable<String>>,
    /// `--physdev-is-bridged`: `Some(false)` as written, `Some(true)` with
    /// a `!` in front.
    pub is_bridged: Option<bool>,
    /// `--physdev-is-out`, with or without `!`.
    pub is_out: bool,
}

/// `-m owner`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OwnerMatch {
    /// `--uid-owner` as an inclusive range, or a user name.
    pub uid: Option<Negatable<String>>,
    /// `--gid-owner`.
    pub gid: Option<Negatable<String>>,
    /// `--socket-exists`.
    pub socket_exists: bool,
}

/// `-m icmp --icmp-type` / `-m icmp6 --icmpv6-type`: a type name or `TYPE[/CODE]`.
/// Two are equal when they load the same type and codes, however written.
#[derive(Debug, Clone)]
pub struct IcmpMatch {
    /// As written (`echo-request`, `8`, `3/4`, `any`).
    pub icmp_type: Negatable<String>,
    /// What the kernel loads for it.
    pub loaded: IcmpType,
}

impl PartialEq for IcmpMatch {
    fn eq(&self, other: &Self) -> bool {
        self.icmp_type.negated == other.icmp_type.negated && self.loaded == other.loaded
    }
}

/// An ICMP type and range of codes as the kernel's icmp match keeps them:
/// `echo-request`, `ping` and `8` are type 8 with codes 0 to 255,
/// `port-unreachable` and `3/3` type 3 with code 3; `any` is type 255.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpType {
    /// The type.
    pub kind: u8,
    /// The lowest and highest code, as written (a reversed range loads).
    pub codes: (u8, u8),
}

/// `-m ttl` / `-m hl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TtlMatch {
    /// `--ttl-eq N` (negatable).
    Equal(u8, bool),
    /// `--ttl-gt N`.
    Greater(u8),
    /// `--ttl-lt N`.
    Less(u8),
}

/// The typed content of a match.
#[derive(Debug, Clone, PartialEq)]
pub enum MatchKind<'a> {
    /// `-m comment --comment TEXT`.
    Comment(Cow<'a, str>),
    /// `-m tcp`.
    Tcp(PortMatch),
    /// `-m udp` (also sctp and dccp ports).
    Udp(PortMatch),
    /// `-m multiport`.
    Multiport(Box<MultiportMatch>),
    /// `-m conntrack`.
    Conntrack(ConntrackMatch),
    /// `-m state --state`.
    State(Negatable<CtStates>),
    /// `-m mark --mark` (`connmark` too: see [`Match::name`]).
    Mark(Negatable<MarkValue>),
    /// `-m addrtype`.
    AddrType(Box<AddrTypeMatch>),
    /// `-m statistic`.
    Statistic(StatisticMatch),
    /// `-m recent`.
    Recent(RecentMatch),
    /// `-m mac --mac-source`.
    Mac(Negatable<[u8; 6]>),
    /// `-m iprange`.
    IpRange(Box<IpRangeMatch>),
    /// `-m set`.
    Set(Box<SetMatch>),
    /// `-m limit`.
    Limit(LimitMatch),
    /// `-m physdev`.
    Physdev(Box<PhysdevMatch>),
    /// `-m owner`.
    Owner(Box<OwnerMatch>),
    /// `-m icmp` / `-m icmp6`.
    Icmp(IcmpMatch),
    /// `-m length --length MIN[:MAX]`.
    Length(Negatable<(u16, u16)>),
    /// `-m ttl` / `-m hl`.
    Ttl(TtlMatch),
    /// A module whose options iptlint validates by name only, or does not
    /// know at all: its options as written.
    Other(Vec<RawOption<'a>>),
}

/// One `-m MODULE ...` (or a protocol match loaded implicitly by `-p tcp --dport`).
/// Two are equal when the kernel would hold the same match: same module
/// and content, whether `-m` was written or `-p` loaded it, wherever it was.
#[derive(Debug, Clone)]
pub struct Match<'a> {
    /// The module name as written.
    pub name: Cow<'a, str>,
    /// `-m MODULE` through its last option.
    pub span: Span,
    /// Loaded by `-p PROTO` without `-m`.
    pub implicit: bool,
    /// Typed content.
    pub kind: MatchKind<'a>,
}

impl PartialEq for Match<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.kind == other.kind
    }
}

impl<'a> Match<'a> {
    /// Whether the kernel holds the two matches as the same, as `-D`
    /// compares them: equal, or both of one module iptlint keeps untyped
    /// with the same options in any order (except `-m policy`, whose
    /// options describe its elements in order), a packet type in any case
    /// and a DSCP value in any of C's notations. Checked against both
    /// backends in `tests/kernel_delete.rs`.
    pub fn same_entry(&self, other: &Match<'_>) -> bool {
        match (&self.kind, &other.kind) {
            (MatchKind::Other(a), MatchKind::Other(b)) if self.name != "policy" => {
                let canonical = |option: &str, value: &str| match option {
                    "--pkt-type" => value.to_ascii_lowercase(),
                    "--dscp" => {
                        c_number(value).map_or_else(|| value.to_string(), |n| n.to_string())
                    }
                    _ => value.to_string(),
                };
                self.name == other.name
                    && unordered_options(a, canonical) == unordered_options(b, canonical)
            }
            _ => self == other,
        }
    }

    /// The options as written, for a match iptlint keeps untyped
    /// ([`MatchKind::Other`]); none for a typed one.
    pub fn untyped_options(&self) -> &[RawOption<'a>] {
        match &self.kind {
            MatchKind::Other(options) => options,
            _ => &[],
        }
    }
}

/// A value error: where and what.
pub type ValueError = (Span, String);

/// The end of a [`ValueError`]'s message when only iptables-legacy refuses
/// the value: the interpreter turns it into the note that iptables-nft
/// loads the table anyway.
pub(crate) const ONLY_LEGACY_REFUSES: &str = "; iptables-nft loads it";

fn value<'o>(option: &'o RawOption<'_>, index: usize) -> (&'o str, Span) {
    let word = &option.values[index];
    (word.text.as_ref(), word.span)
}

fn typed<T>(
    option: &RawOption<'_>,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<Negatable<T>, ValueError> {
    let (text, span) = value(option, 0);
    let parsed = parse(text).map_err(|message| (span, format!("{}: {message}", option.name)))?;
    Ok(Negatable {
        value: parsed,
        negated: option.negated,
        span: option.span,
    })
}

fn not_negatable(option: &RawOption<'_>) -> Result<(), ValueError> {
    if option.negated {
        return Err((
            option.span,
            format!("{} cannot be inverted with `!`", option.name),
        ));
    }
    Ok(())
}

/// Turn a known module's raw options into its typed form.
pub fn build_match<'a>(
    name: &str,
    options: Vec<RawOption<'a>>,
    span: Span,
) -> Result<MatchKind<'a>, ValueError> {
    check_required_options(required_match_options, name, &options, span)?;
    Ok(match name {
        "comment" => {
            let mut text = Cow::Borrowed("");
            for option in options {
                not_negatable(&option)?;
                text = option
                    .values
                    .into_iter()
                    .next()
                    .map(|word| word.text)
                    .unwrap_or_default();
            }
            MatchKind::Comment(text)
        }
        "tcp" | "udp" | "sctp" | "dccp" => {
            let mut ports = PortMatch::default();
            let mut other = false;
            for option in &options {
                match option.name {
                    "--sport" | "--dport" => {
                        // libxt_tcp and libxt_sctp refuse a reversed range;
                        // udp and dccp load it.
                        let range = if matches!(name, "tcp" | "sctp") {
                            typed(option, parse_ordered_port_range)?
                        } else {
                            typed(option, parse_port_range)?
                        };
                        if option.name == "--sport" {
                            ports.source = Some(range);
                        } else {
                            ports.destination = Some(range);
                        }
                    }
                    "--tcp-flags" => {
                        let (mask_text, mask_span) = value(option, 0);
                        let (comp_text, comp_span) = value(option, 1);
                        let mask = parse_tcp_flag_list(mask_text).map_err(|m| (mask_span, m))?;
                        let comparison =
                            parse_tcp_flag_list(comp_text).map_err(|m| (comp_span, m))?;
                        ports.flags = Some(Negatable {
                            value: TcpFlags { mask, comparison },
                            negated: option.negated,
                            span: option.span,
                        });
                    }
                    "--tcp-option" => {
                        typed(option, parse_tcp_option)?;
                        other = true;
                    }
                    "--dccp-types" => {
                        typed(option, parse_dccp_types)?;
                        other = true;
                    }
                    "--chunk-types" => {
                        let (kind, kind_span) = value(option, 0);
                        if !["any", "all", "only"]
                            .iter()
                            .any(|known| known.eq_ignore_ascii_case(kind))
                        {
                            return Err((
                                kind_span,
                                format!("--chunk-types: `{kind}` is not `all`, `any` or `only`"),
                            ));
                        }
                        let (chunks, chunks_span) = value(option, 1);
                        parse_sctp_chunks(chunks)
                            .map_err(|m| (chunks_span, format!("--chunk-types: {m}")))?;
                        other = true;
                    }
                    "--dccp-option" => {
                        // libxt_dccp: a number in C notation from 1 to 255.
                        typed(option, |text| {
                            xtables_strtoui(text, 1, 255)
                                .ok_or_else(|| format!("`{text}` is not an option number (1-255)"))
                        })?;
                        other = true;
                    }
                    "--syn" => {
                        ports.flags = Some(Negatable {
                            value: TcpFlags {
                                mask: 0x17,
                                comparison: TcpFlags::SYN,
                            },
                            negated: option.negated,
                            span: option.span,
                        })
                    }
                    _ => other = true,
                }
            }
            if other && name != "tcp" {
                return Ok(MatchKind::Other(options));
            }
            if name == "tcp" {
                if other {
                    // --tcp-option: validated, kept raw; the ports stay unknown
                    // to analyses that would otherwise over-trust them.
                    return Ok(MatchKind::Other(options));
                }
                MatchKind::Tcp(ports)
            } else {
                MatchKind::Udp(ports)
            }
        }
        "srh" => {
            // libxt_srh: numbers in C notation, a tag of 16 bits and the
            // rest of 8; segment ids an IPv6 address with a prefix length
            // up to 128 or a mask ("neither a valid network mask nor valid
            // CIDR (0-128)").
            for option in &options {
                match option.name {
                    "--srh-tag" => {
                        typed(option, |text| parse_xtables_number(text, 65535))?;
                    }
                    "--srh-psid" | "--srh-nsid" | "--srh-lsid" => {
                        typed(option, parse_ipv6_with_mask)?;
                    }
                    _ => {
                        typed(option, |text| parse_xtables_number(text, 255))?;
                    }
                }
            }
            MatchKind::Other(options)
        }
        "multiport" => {
            let mut multiport = MultiportMatch::default();
            for option in &options {
                let list = typed(option, parse_port_list)?;
                match option.name {
                    "--sports" => multiport.source = Some(list),
                    "--dports" => multiport.destination = Some(list),
                    _ => multiport.either = Some(list),
                }
            }
            MatchKind::Multiport(Box::new(multiport))
        }
        "conntrack" => {
            if options.is_empty() {
                return Err((
                    span,
                    "conntrack: at least one option is required".to_string(),
                ));
            }
            let mut conntrack = ConntrackMatch::default();
            for option in &options {
                match option.name {
                    "--ctproto" => {
                        typed(option, Protocol::parse)?;
                        conntrack.has_other_options = true;
                    }
                    "--ctstatus" => {
                        typed(option, parse_ct_status)?;
                        conntrack.has_other_options = true;
                    }
                    "--ctexpire" => {
                        typed(option, parse_ct_expire)?;
                        conntrack.has_other_options = true;
                    }
                    "--ctdir" => {
                        not_negatable(option)?;
                        typed(option, parse_ct_direction)?;
                        conntrack.has_other_options = true;
                    }
                    "--ctstate" => conntrack.state = Some(typed(option, parse_ct_states)?),
                    "--ctorigdst" => {
                        let destination = typed(option, parse_host_mask)?;
                        match destination.value {
                            Some(net) => {
                                conntrack.original_destination = Some(Negatable {
                                    value: net,
                                    negated: destination.negated,
                                    span: destination.span,
                                })
                            }
                            // A mask that is not a prefix: nothing to reason with.
                            None => conntrack.has_other_options = true,
                        }
                    }
                    "--ctorigsrc" | "--ctreplsrc" | "--ctrepldst" => {
                        typed(option, parse_host_mask)?;
                        conntrack.has_other_options = true;
                    }
                    "--ctorigsrcport" | "--ctorigdstport" | "--ctreplsrcport"
                    | "--ctrepldstport" => {
                        typed(option, parse_service_port_range)?;
                        conntrack.has_other_options = true;
                    }
                    _ => conntrack.has_other_options = true,
                }
            }
            MatchKind::Conntrack(conntrack)
        }
        "state" => match options.first() {
            Some(option) => MatchKind::State(typed(option, parse_states)?),
            None => return Err((span, "state: --state is required".to_string())),
        },
        "mark" | "connmark" => match options.first() {
            Some(option) => MatchKind::Mark(typed(option, parse_mark)?),
            None => return Err((span, format!("{name}: --mark is required"))),
        },
        "addrtype" => {
            let mut addrtype = AddrTypeMatch::default();
            // One type or several separated by commas (any of them
            // matches), abbreviated or not (libxt_addrtype's `parse_type`),
            // kept by their whole names.
            let parse_type = |text: &str| -> Result<String, String> {
                let names: Result<Vec<&str>, String> = text
                    .split(',')
                    .map(|name| {
                        abbreviation(&ADDRESS_TYPES, name)
                            .map(|index| ADDRESS_TYPES[index])
                            .ok_or_else(|| {
                                format!(
                                    "`{name}` is not an address type ({})",
                                    ADDRESS_TYPES.join(", ")
                                )
                            })
                    })
                    .collect();
                Ok(names?.join(","))
            };
            for option in &options {
                match option.name {
                    "--src-type" => addrtype.source = Some(typed(option, parse_type)?),
                    "--dst-type" => addrtype.destination = Some(typed(option, parse_type)?),
                    "--limit-iface-in" => addrtype.limit_iface = Some(LimitIface::In),
                    _ => addrtype.limit_iface = Some(LimitIface::Out),
                }
            }
            MatchKind::AddrType(Box::new(addrtype))
        }
        "statistic" => build_statistic(&options, span)?,
        "recent" => build_recent(&options, span)?,
        "mac" => match options.first() {
            Some(option) => MatchKind::Mac(typed(option, parse_mac)?),
            None => return Err((span, "mac: --mac-source is required".to_string())),
        },
        "iprange" => {
            let mut range = IpRangeMatch::default();
            for option in &options {
                let parsed = typed(option, parse_ip_range)?;
                if option.name == "--src-range" {
                    range.source = Some(parsed);
                } else {
                    range.destination = Some(parsed);
                }
            }
            MatchKind::IpRange(Box::new(range))
        }
        "set" => {
            let Some(option) = options.iter().find(|o| o.name == "--match-set") else {
                return Err((span, "set: --match-set is required".to_string()));
            };
            let (flags_text, flags_span) = value(option, 1);
            let destination_flags = flags_text
                .split(',')
                .map(|flag| match flag {
                    "src" => Ok(false),
                    "dst" => Ok(true),
                    other => Err((flags_span, format!("set: `{other}` is not `src` or `dst`"))),
                })
                .collect::<Result<Vec<_>, _>>()?;
            MatchKind::Set(Box::new(SetMatch {
                name: value(option, 0).0.to_string(),
                destination_flags,
                negated: option.negated,
            }))
        }
        "limit" => {
            let mut limit = LimitMatch {
                per_second: 3.0 / 3600.0,
                burst: 5,
            };
            // The kernel's `avg` (1/10000 s between packets) of iptables'
            // default 3/hour, and where to point at an overflow.
            let mut average = KERNEL_LIMIT_SCALE * 3600 / 3;
            let mut at = span;
            for option in &options {
                not_negatable(option)?;
                let (text, value_span) = value(option, 0);
                at = value_span;
                if option.name == "--limit" {
                    (limit.per_second, average) = parse_rate(text).map_err(|m| (value_span, m))?;
                } else {
                    limit.burst =
                        parse_u32(text).map_err(|m| (value_span, format!("--limit-burst: {m}")))?;
                    // iptables takes at most 10,000; the kernel's `limit`
                    // match (iptables-legacy) refuses 0.
                    if limit.burst == 0 {
                        return Err((
                            value_span,
                            format!(
                                "--limit-burst: iptables-legacy refuses a burst of 0 (the kernel's limit match: \"Overflow, try lower\"){ONLY_LEGACY_REFUSES}"
                            ),
                        ));
                    }
                    if limit.burst > 10_000 {
                        return Err((
                            value_span,
                            format!("--limit-burst: `{text}` is over iptables' 10000"),
                        ));
                    }
                }
            }
            if legacy_limit_overflows(average, limit.burst) {
                return Err((
                    at,
                    format!(
                        "--limit-burst: iptables-legacy refuses a burst of {} at this rate (the kernel's limit match: \"Overflow, try lower\", with HZ 250 or 1000){ONLY_LEGACY_REFUSES}",
                        limit.burst
                    ),
                ));
            }
            MatchKind::Limit(limit)
        }
        "physdev" => {
            let mut physdev = PhysdevMatch::default();
            for option in &options {
                match option.name {
                    "--physdev-in" => physdev.input = Some(typed(option, |t| Ok(t.to_string()))?),
                    "--physdev-out" => physdev.output = Some(typed(option, |t| Ok(t.to_string()))?),
                    "--physdev-is-bridged" => physdev.is_bridged = Some(option.negated),
                    "--physdev-is-out" => physdev.is_out = true,
                    _ => {}
                }
            }
            MatchKind::Physdev(Box::new(physdev))
        }
        "owner" => {
            let mut owner = OwnerMatch::default();
            for option in &options {
                match option.name {
                    "--uid-owner" => owner.uid = Some(typed(option, |t| Ok(t.to_string()))?),
                    "--gid-owner" => owner.gid = Some(typed(option, |t| Ok(t.to_string()))?),
                    "--socket-exists" => owner.socket_exists = true,
                    // libxt_owner reads the supplementary groups into the
                    // `--gid-owner` given before it.
                    "--suppl-groups" if owner.gid.is_none() => {
                        return Err((
                            option.span,
                            "owner: --suppl-groups needs --gid-owner before it (iptables: \"you need to use --gid-owner first\")".to_string(),
                        ));
                    }
                    _ => {}
                }
            }
            MatchKind::Owner(Box::new(owner))
        }
        "icmp" | "icmp6" => match options.first() {
            Some(option) => {
                let types = if name == "icmp" {
                    ICMP_TYPES
                } else {
                    ICMPV6_TYPES
                };
                let loaded = typed(option, |text| parse_icmp_type(types, text))?;
                MatchKind::Icmp(IcmpMatch {
                    icmp_type: Negatable {
                        value: value(option, 0).0.to_string(),
                        negated: loaded.negated,
                        span: loaded.span,
                    },
                    loaded: loaded.value,
                })
            }
            None => return Err((span, format!("{name}: a type option is required"))),
        },
        "length" => match options.first() {
            // libxtables' range of two numbers in C notation, either left
            // out: `:5` is 0:5, `0x10:` 16:65535, and `""` 0 (iptables-save
            // of what iptables-restore 1.8.9 loads).
            Some(option) => MatchKind::Length(typed(option, |text| {
                super::values::port_bounds(text, |length| {
                    if length.is_empty() {
                        return Ok(0);
                    }
                    c_number(length)
                        .and_then(|n| u16::try_from(n).ok())
                        .ok_or_else(|| format!("`{length}` is not a length (0-65535)"))
                })
            })?),
            None => return Err((span, "length: --length is required".to_string())),
        },
        "ttl" | "hl" => match options.first() {
            Some(option) => {
                let (text, value_span) = value(option, 0);
                // In C notation, as libxtables reads a number: 0x10 is 16.
                let number = c_number(text)
                    .and_then(|n| u8::try_from(n).ok())
                    .ok_or_else(|| {
                        (
                            value_span,
                            format!("{}: `{text}` is not between 0 and 255", option.name),
                        )
                    })?;
                if option.name.ends_with("-eq") {
                    MatchKind::Ttl(TtlMatch::Equal(number, option.negated))
                } else {
                    not_negatable(option)?;
                    if option.name.ends_with("-gt") {
                        MatchKind::Ttl(TtlMatch::Greater(number))
                    } else {
                        MatchKind::Ttl(TtlMatch::Less(number))
                    }
                }
            }
            None => return Err((span, format!("{name}: a comparison is required"))),
        },
        "pkttype" => match options.first() {
            Some(option) => {
                typed(option, parse_packet_type)?;
                MatchKind::Other(options)
            }
            None => return Err((span, "pkttype: --pkt-type is required".to_string())),
        },
        "connlimit" => {
            for option in &options {
                if matches!(option.name, "--connlimit-upto" | "--connlimit-above") {
                    typed(option, parse_u32)?;
                }
            }
            MatchKind::Other(options)
        }
        "ecn" => {
            if let Some(option) = options.iter().find(|o| o.name == "--ecn-ip-ect") {
                typed(option, |text| {
                    c_number(text)
                        .filter(|&codepoint| codepoint <= 3)
                        .ok_or_else(|| format!("`{text}` is not an ECN codepoint (0 to 3)"))
                })?;
            }
            MatchKind::Other(options)
        }
        "hashlimit" => {
            let rate = match options
                .iter()
                .find(|o| matches!(o.name, "--hashlimit-upto" | "--hashlimit-above"))
            {
                Some(option) => Some((
                    typed(option, parse_hashlimit_rate)?.value,
                    value(option, 0).1,
                )),
                None => None,
            };
            let mut burst: Option<(u64, Span)> = None;
            let mut rate_match = false;
            // Its other options take no `!`: the interpreter refuses that
            // (`NOT_INVERTIBLE` in rule.rs) before they come here.
            for option in &options {
                match option.name {
                    "--hashlimit-name" => {
                        typed(option, check_hashlimit_name)?;
                    }
                    "--hashlimit-mode" => {
                        typed(option, parse_hashlimit_mode)?;
                    }
                    "--hashlimit-burst" => {
                        burst = Some((
                            typed(option, parse_hashlimit_burst)?.value,
                            value(option, 0).1,
                        ));
                    }
                    "--hashlimit-htable-size" | "--hashlimit-htable-max" => {
                        typed(option, |text| parse_hashlimit_number(text, 0))?;
                    }
                    "--hashlimit-htable-gcinterval" | "--hashlimit-htable-expire" => {
                        typed(option, |text| parse_hashlimit_number(text, 1))?;
                    }
                    "--hashlimit-srcmask" | "--hashlimit-dstmask" => {
                        typed(option, |text| {
                            HashlimitMask::parse(text).ok_or_else(|| {
                                format!("`{text}` is not a prefix length (0 to 32, 128 in IPv6) or a contiguous mask")
                            })
                        })?;
                    }
                    "--hashlimit-rate-interval" => {
                        typed(option, |text| {
                            // libxt_hashlimit reads it with `atoi`.
                            if c_atoll(text) as i32 <= 0 {
                                Err(format!("`{text}` is not a number of seconds from 1"))
                            } else {
                                Ok(())
                            }
                        })?;
                    }
                    "--hashlimit-rate-match" => rate_match = true,
                    _ => {}
                }
            }
            if let Some((rate, rate_span)) = rate {
                check_hashlimit_rate(rate, burst, rate_match, rate_span)?;
            }
            MatchKind::Other(options)
        }
        "time" => {
            let mut day_seconds = [0u32, 24 * 3600 - 1];
            for option in &options {
                match option.name {
                    "--timestart" | "--timestop" | "--datestart" | "--datestop" => {
                        not_negatable(option)?;
                        if option.name.starts_with("--time") {
                            let seconds = typed(option, parse_time_of_day)?.value;
                            day_seconds[usize::from(option.name == "--timestop")] = seconds;
                        } else {
                            typed(option, parse_date)?;
                        }
                    }
                    "--weekdays" => {
                        typed(option, parse_weekdays)?;
                    }
                    "--monthdays" => {
                        typed(option, parse_monthdays)?;
                    }
                    _ => {}
                }
            }
            if let Some(option) = options.iter().find(|o| o.name == "--contiguous")
                && day_seconds[1] > day_seconds[0]
            {
                return Err((
                    option.span,
                    "time: --contiguous only makes sense when --timestop is before --timestart (a range past midnight)".to_string(),
                ));
            }
            MatchKind::Other(options)
        }
        "dscp" => {
            // Typed values are not kept: nothing analyses DSCP.
            for option in &options {
                if option.name == "--dscp" {
                    typed(option, parse_dscp)?;
                } else {
                    typed(option, parse_dscp_class)?;
                }
            }
            MatchKind::Other(options)
        }
        "string" => {
            let mut from_to = [0u64, u64::from(u16::MAX)];
            // `!` on --algo, --from, --to and --icase is refused before
            // they come here (`NOT_INVERTIBLE` in rule.rs).
            for option in &options {
                match option.name {
                    "--algo" => {
                        typed(option, |text| match text {
                            "bm" | "kmp" => Ok(()),
                            _ => Err(format!("the kernel has no text search `{text}` (bm, kmp)")),
                        })?;
                    }
                    "--from" | "--to" => {
                        let offset = typed(option, |text| {
                            xtables_strtoui(text, 0, u64::from(u16::MAX)).ok_or_else(|| {
                                format!("`{text}` is not an offset between 0 and 65535")
                            })
                        })?;
                        from_to[usize::from(option.name == "--to")] = offset.value;
                    }
                    "--icase" => {}
                    "--string" => {
                        typed(option, |text| {
                            if text.len() > 128 {
                                Err(format!("{} bytes is over iptables' 128", text.len()))
                            } else {
                                Ok(())
                            }
                        })?;
                    }
                    _ => {}
                }
            }
            if from_to[0] > from_to[1]
                && let Some(to) = options.iter().find(|o| o.name == "--to")
            {
                return Err((
                    value(to, 0).1,
                    format!(
                        "--to: the kernel refuses an offset before --from ({} > {})",
                        from_to[0], from_to[1]
                    ),
                ));
            }
            MatchKind::Other(options)
        }
        "cpu" | "quota" => {
            let max = if name == "cpu" {
                u64::from(u32::MAX)
            } else {
                u64::MAX
            };
            for option in &options {
                typed(option, |text| parse_xtables_number(text, max))?;
            }
            MatchKind::Other(options)
        }
        "connbytes" => {
            // `!` on --connbytes-dir and --connbytes-mode is refused before
            // they come here (`NOT_INVERTIBLE` in rule.rs).
            for option in &options {
                match option.name {
                    "--connbytes" => {
                        typed(option, parse_connbytes_range)?;
                    }
                    "--connbytes-dir" => {
                        typed(option, |text| one_of(text, &["original", "reply", "both"]))?;
                    }
                    _ => {
                        typed(option, |text| one_of(text, &["packets", "bytes", "avgpkt"]))?;
                    }
                }
            }
            MatchKind::Other(options)
        }
        "tos" => {
            for option in &options {
                typed(option, parse_tos)?;
            }
            MatchKind::Other(options)
        }
        "policy" => {
            check_policy(&options)?;
            MatchKind::Other(options)
        }
        "u32" => {
            for option in &options {
                typed(option, parse_u32_tests)?;
            }
            MatchKind::Other(options)
        }
        "frag" | "hbh" | "dst" | "esp" | "ah" | "ipcomp" => {
            for option in &options {
                match option.name {
                    "--fragid" | "--espspi" | "--ahspi" | "--ipcompspi" => {
                        typed(option, parse_u32_range)?;
                    }
                    "--fraglen" | "--hbh-len" | "--dst-len" | "--ahlen" => {
                        typed(option, parse_u32)?;
                    }
                    "--hbh-opts" | "--dst-opts" => {
                        not_negatable(option)?;
                        typed(option, parse_header_options)?;
                    }
                    _ => not_negatable(option)?,
                }
            }
            MatchKind::Other(options)
        }
        "rt" => {
            check_rt(&options)?;
            MatchKind::Other(options)
        }
        "ipv6header" => {
            for option in &options {
                match option.name {
                    "--header" => {
                        typed(option, parse_ipv6_headers)?;
                    }
                    _ => not_negatable(option)?,
                }
            }
            MatchKind::Other(options)
        }
        "mh" => {
            for option in &options {
                typed(option, parse_mh_types)?;
            }
            MatchKind::Other(options)
        }
        _ => MatchKind::Other(options),
    })
}

/// `--u32 TESTS` as libxt_u32 reads it: `LOCATION=VALUE[&&LOCATION=VALUE]...`
/// where a location is numbers joined by `&`, `<<`, `>>` or `@`, and a
/// value is ranges (`N` or `N:M`) joined by `,`; numbers are 32-bit in C
/// notation; white space is skipped between items; at most 10 tests, 10
/// numbers in a location and 10 ranges in a value (the kernel's sizes).
/// Errors say the byte offset, as iptables does.
fn parse_u32_tests(text: &str) -> Result<(), String> {
    const MAX: usize = 10;
    let bytes = text.as_bytes();
    let mut at = 0;
    let (mut tests, mut numbers, mut ranges) = (0, 0, 0);
    let mut in_value = false;
    let number = |at: &mut usize| match xtables_strtoui_prefix(&bytes[*at..], u64::from(u32::MAX)) {
        Some((_, read)) => {
            *at += read;
            Ok(())
        }
        None => Err(format!("at char {at}: not a number or out of range")),
    };
    loop {
        while bytes.get(at).is_some_and(u8::is_ascii_whitespace) {
            at += 1;
        }
        let Some(&byte) = bytes.get(at) else {
            if !in_value {
                return Err("abrupt end of input after location specifier".to_string());
            }
            if ranges == 0 {
                return Err("test ended with no value specified".to_string());
            }
            if tests + 1 > MAX {
                return Err(format!(
                    "at char {at}: too many \"&&\"s (at most {MAX} tests)"
                ));
            }
            return Ok(());
        };
        if !in_value {
            if byte == b'=' {
                if numbers == 0 {
                    return Err(format!("at char {at}: location spec missing"));
                }
                at += 1;
                in_value = true;
                continue;
            }
            if numbers != 0 {
                match byte {
                    b'&' | b'@' => {}
                    b'<' | b'>' => {
                        at += 1;
                        if bytes.get(at) != Some(&byte) {
                            return Err(format!(
                                "at char {at}: a second '{}' was expected",
                                char::from(byte)
                            ));
                        }
                    }
                    _ => return Err(format!("at char {at}: operator expected")),
                }
                at += 1;
            }
            number(&mut at)?;
            numbers += 1;
            if numbers > MAX {
                return Err(format!(
                    "at char {at}: too many operators (at most {MAX} numbers in a location)"
                ));
            }
        } else if byte == b'&' {
            at += 1;
            if bytes.get(at) != Some(&b'&') {
                return Err(format!("at char {at}: a second '&' was expected"));
            }
            if ranges == 0 {
                return Err(format!("at char {at}: value spec missing"));
            }
            tests += 1;
            if tests + 1 > MAX {
                return Err(format!(
                    "at char {at}: too many \"&&\"s (at most {MAX} tests)"
                ));
            }
            at += 1;
            (in_value, numbers, ranges) = (false, 0, 0);
        } else {
            if ranges > 0 {
                if byte != b',' {
                    return Err(format!("at char {at}: expected \",\" or \"&&\""));
                }
                at += 1;
            }
            number(&mut at)?;
            while bytes.get(at).is_some_and(u8::is_ascii_whitespace) {
                at += 1;
            }
            if bytes.get(at) == Some(&b':') {
                at += 1;
                number(&mut at)?;
            }
            ranges += 1;
            if ranges > MAX {
                return Err(format!(
                    "at char {at}: too many \",\"s (at most {MAX} ranges in a value)"
                ));
            }
        }
    }
}

/// The options of one element of a policy match.
const POLICY_ELEMENT_OPTIONS: [&str; 6] = [
    "--reqid",
    "--spi",
    "--proto",
    "--mode",
    "--tunnel-src",
    "--tunnel-dst",
];

/// `-m policy` as libxt_policy's parser and final check, and the kernel's
/// limit of 4 elements, read it. Its elements are separated by `--next`;
/// each takes an element option once.
fn check_policy(options: &[RawOption<'_>]) -> Result<(), ValueError> {
    let mut none_policy = false;
    let mut strict = None;
    let mut nexts = Vec::new();
    // `!` on --pol, --strict and --next is refused before they come here
    // (`NOT_INVERTIBLE` in rule.rs).
    for option in options {
        match option.name {
            "--dir" => {
                not_negatable(option)?;
                typed(option, |text| one_of(text, &["in", "out"]))?;
            }
            "--pol" => {
                typed(option, |text| one_of(text, &["none", "ipsec"]))?;
                none_policy = value(option, 0).0 == "none";
            }
            "--strict" => strict = Some(option.span),
            "--next" => nexts.push(option.span),
            "--reqid" | "--spi" => {
                typed(option, |text| {
                    parse_xtables_number(text, u64::from(u32::MAX))
                })?;
            }
            "--proto" => {
                typed(option, |text| {
                    // Not lowercased, unlike `-p`: looked up as written,
                    // names and the aliases /etc/protocols (netbase) gives
                    // the three (getprotobyname is case-sensitive, so
                    // `IPSEC-ESP` loads and `ESP` or `ipsec-esp` does not).
                    let protocol = match text {
                        "IPSEC-ESP" => Ok(Protocol::Number(50)),
                        "IPSEC-AH" => Ok(Protocol::Number(51)),
                        "IPCOMP" => Ok(Protocol::Number(108)),
                        _ if text.bytes().any(|b| b.is_ascii_uppercase()) => {
                            Err(format!("unknown protocol `{text}`"))
                        }
                        _ => Protocol::parse(text),
                    }?;
                    match protocol {
                        Protocol::Number(50 | 51 | 108) => Ok(()),
                        _ => Err(format!("`{text}` is not ah, esp or ipcomp")),
                    }
                })?;
            }
            "--mode" => {
                typed(option, |text| one_of(text, &["tunnel", "transport"]))?;
            }
            "--tunnel-src" | "--tunnel-dst" => {
                typed(option, parse_host_mask)?;
            }
            _ => {}
        }
    }
    if none_policy {
        if let Some(strict) = strict {
            return Err((
                strict,
                "policy: --strict with --pol none, which matches packets without a policy"
                    .to_string(),
            ));
        }
        if let Some(&next) = nexts.first() {
            return Err((
                next,
                "policy: --next with --pol none, which has no policy elements".to_string(),
            ));
        }
        return Ok(());
    }
    if strict.is_none()
        && let Some(&next) = nexts.first()
    {
        return Err((
            next,
            "policy: --next needs --strict (elements are matched in order only then)".to_string(),
        ));
    }
    if let Some(&fifth) = nexts.get(3) {
        return Err((
            fifth,
            "policy: the kernel takes at most 4 policy elements".to_string(),
        ));
    }
    for (index, element) in options.split(|option| option.name == "--next").enumerate() {
        let element: Vec<&RawOption<'_>> = element
            .iter()
            .filter(|option| POLICY_ELEMENT_OPTIONS.contains(&option.name))
            .collect();
        for (position, option) in element.iter().enumerate() {
            if element[..position]
                .iter()
                .any(|earlier| earlier.name == option.name)
            {
                return Err((
                    option.span,
                    format!(
                        "policy: {} given twice in element {index} (separate elements with --next)",
                        option.name
                    ),
                ));
            }
        }
        if let Some(tunnel) = element
            .iter()
            .find(|option| matches!(option.name, "--tunnel-src" | "--tunnel-dst"))
            && !element.iter().any(|option| {
                option.name == "--mode" && !option.negated && value(option, 0).0 == "tunnel"
            })
        {
            return Err((
                tunnel.span,
                format!("policy: {} needs --mode tunnel in its element", tunnel.name),
            ));
        }
        if let Some(strict) = strict
            && element.is_empty()
        {
            return Err((
                index.checked_sub(1).map_or(strict, |before| nexts[before]),
                format!(
                    "policy: element {index} is empty, which --strict refuses (give it --reqid, --spi, --proto, --mode or a tunnel address)"
                ),
            ));
        }
    }
    Ok(())
}

/// `text` if it is one of `names` (case-sensitive).
fn one_of(text: &str, names: &[&str]) -> Result<(), String> {
    if names.contains(&text) {
        Ok(())
    } else {
        Err(format!("`{text}` is not one of {}", names.join(", ")))
    }
}

/// `N` or `N:M` of 32-bit numbers in C notation, as libxtables' `UINT32RC`
/// options take them (`--fragid`, `--rt-segsleft`): a side left out is 0 or
/// the largest; a reversed range loads (and matches nothing).
fn parse_u32_range(text: &str) -> Result<(), String> {
    let mut sides = text.split(':');
    for side in sides.by_ref().take(2) {
        if !side.is_empty() && c_number(side).is_none() {
            return Err(format!(
                "`{side}` is not an integer between 0 and 4294967295"
            ));
        }
    }
    match sides.next() {
        Some(_) => Err(format!("`{text}` has more than two numbers")),
        None => Ok(()),
    }
}

/// `--hbh-opts`/`--dst-opts`: up to 16 options `TYPE[:LENGTH]`,
/// comma-separated, each a number in C notation (kept modulo 256), as
/// libip6t_hbh's `parse_options` reads them.
fn parse_header_options(text: &str) -> Result<(), String> {
    const MAX: usize = 16;
    for (index, item) in text.split(',').enumerate() {
        if index == MAX {
            return Err(format!("more than {MAX} options"));
        }
        let (kind, length) = match item.split_once(':') {
            Some(_) if index == MAX - 1 => {
                return Err(format!(
                    "option {MAX} cannot have a length (ip6tables refuses it)"
                ));
            }
            Some((kind, length)) => (kind, Some(length)),
            None => (item, None),
        };
        for (what, number) in std::iter::once(("type", kind)).chain(length.map(|l| ("length", l))) {
            match c_strtoul_checked(number.as_bytes(), 0) {
                (Some(_), read) if read > 0 && read == number.len() => {}
                _ => return Err(format!("`{number}` is not an option {what} (a number)")),
            }
        }
    }
    Ok(())
}

/// `-m rt`'s values and the order libip6t_rt wants: the type-0 options
/// after `--rt-type 0` ("`--rt-type 0' required before `--rt-0-addrs'"),
/// `--rt-0-not-strict` after `--rt-0-addrs`.
fn check_rt(options: &[RawOption<'_>]) -> Result<(), ValueError> {
    let (mut type_zero, mut addresses) = (false, false);
    for option in options {
        let needs = match option.name {
            "--rt-type" => {
                type_zero = typed(option, parse_u32)?.value == 0 && !option.negated;
                continue;
            }
            "--rt-segsleft" => {
                typed(option, parse_u32_range)?;
                continue;
            }
            "--rt-len" => {
                typed(option, parse_u32)?;
                continue;
            }
            "--rt-0-res" | "--rt-0-addrs" => (!type_zero).then_some("`--rt-type 0`"),
            _ => (!addresses).then_some("`--rt-0-addrs`"),
        };
        not_negatable(option)?;
        if let Some(needs) = needs {
            return Err((
                option.span,
                format!("{} needs {needs} before it", option.name),
            ));
        }
        if option.name == "--rt-0-addrs" {
            typed(option, parse_rt_addresses)?;
            addresses = true;
        }
    }
    Ok(())
}

/// `--rt-0-addrs`: up to 16 IPv6 addresses, comma-separated, numeric.
fn parse_rt_addresses(text: &str) -> Result<(), String> {
    const MAX: usize = 16;
    for (index, address) in text.split(',').enumerate() {
        if index == MAX {
            return Err(format!("more than {MAX} addresses"));
        }
        address
            .parse::<std::net::Ipv6Addr>()
            .map_err(|_| format!("`{address}` is not an IPv6 address"))?;
    }
    Ok(())
}

/// `--header`: extension headers, comma-separated (empty items skipped), by
/// libip6t_ipv6header's names and numbers or by a name /etc/protocols gives
/// their numbers; no other protocol ("unknown header `6' specified").
fn parse_ipv6_headers(text: &str) -> Result<(), String> {
    const NAMES: [&str; 33] = [
        "hop-by-hop",
        "protocol",
        "hop",
        "dst",
        "route",
        "frag",
        "auth",
        "esp",
        "none",
        "prot",
        "0",
        "60",
        "43",
        "44",
        "51",
        "50",
        "59",
        "255",
        // /etc/protocols, names and aliases (getprotobyname is case-sensitive).
        "ip",
        "IP",
        "hopopt",
        "HOPOPT",
        "ipv6-route",
        "IPv6-Route",
        "ipv6-frag",
        "IPv6-Frag",
        "IPSEC-ESP",
        "ah",
        "IPSEC-AH",
        "ipv6-nonxt",
        "IPv6-NoNxt",
        "ipv6-opts",
        "IPv6-Opts",
    ];
    match text
        .split(',')
        .find(|name| !name.is_empty() && !NAMES.contains(name))
    {
        None => Ok(()),
        Some(bad) => Err(format!(
            "`{bad}` is not an extension header (hop-by-hop, dst, route, frag, auth, esp, none, protocol, or their numbers)"
        )),
    }
}

/// `--mh-type TYPE[:TYPE]`: a mobility header type by name (any prefix of
/// one, in any case: libip6t_mh's `strncasecmp`) or number to 255; a range
/// may leave out a side, not run backwards.
fn parse_mh_types(text: &str) -> Result<(), String> {
    const NAMES: [(&str, u8); 16] = [
        ("binding-refresh-request", 0),
        ("brr", 0),
        ("home-test-init", 1),
        ("hoti", 1),
        ("careof-test-init", 2),
        ("coti", 2),
        ("home-test", 3),
        ("hot", 3),
        ("careof-test", 4),
        ("cot", 4),
        ("binding-update", 5),
        ("bu", 5),
        ("binding-acknowledgement", 6),
        ("ba", 6),
        ("binding-error", 7),
        ("be", 7),
    ];
    let one = |name: &str| -> Result<u8, String> {
        let prefix_of = |known: &str| {
            known.len() >= name.len() && known[..name.len()].eq_ignore_ascii_case(name)
        };
        // An exact name wins over an earlier one it is a prefix of.
        NAMES
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
            .or_else(|| NAMES.iter().find(|(known, _)| prefix_of(known)))
            .map(|&(_, number)| number)
            .or_else(|| xtables_strtoui(name, 0, 255).map(|number| number as u8))
            .ok_or_else(|| format!("`{name}` is not a mobility header type (a name such as binding-update, or 0 to 255)"))
    };
    let (low, high) = match text.split_once(':') {
        None => return one(text).map(drop),
        Some((low, high)) => (
            if low.is_empty() { 0 } else { one(low)? },
            if high.is_empty() { 255 } else { one(high)? },
        ),
    };
    if low > high {
        return Err(format!("`{text}` is a reversed range (min > max)"));
    }
    Ok(())
}

/// `--connbytes FROM[:TO]`: 64-bit counts in C notation; a side left out
/// is 0 or no limit; FROM may not exceed TO.
fn parse_connbytes_range(text: &str) -> Result<(), String> {
    let (from, to) = text.split_once(':').unwrap_or((text, text));
    let bound = |side: &str, default: u64| {
        if side.is_empty() {
            return Ok(default);
        }
        xtables_strtoui(side, 0, u64::MAX)
            .ok_or_else(|| format!("`{side}` is not a count between 0 and 18446744073709551615"))
    };
    let (from, to) = (bound(from, 0)?, bound(to, u64::MAX)?);
    if from > to {
        return Err(format!("`{text}` is a reversed range ({from} > {to})"));
    }
    Ok(())
}

/// `--tos VALUE[/MASK]` (numbers to 255 in C notation) or one of the
/// names iptables knows, in any case.
pub fn parse_tos(text: &str) -> Result<(), String> {
    const NAMES: [&str; 5] = [
        "Minimize-Delay",
        "Maximize-Throughput",
        "Maximize-Reliability",
        "Minimize-Cost",
        "Normal-Service",
    ];
    let (value, mask) = match text.split_once('/') {
        Some((value, mask)) => (value, Some(mask)),
        None => (text, None),
    };
    let byte = |part: &str| xtables_strtoui(part, 0, 255).is_some();
    if byte(value) && mask.is_none_or(byte) {
        return Ok(());
    }
    if mask.is_none() && NAMES.iter().any(|name| name.eq_ignore_ascii_case(text)) {
        return Ok(());
    }
    Err(format!(
        "`{text}` is not a TOS value (0 to 255, with an optional /MASK) or one of {}",
        NAMES.join(", ")
    ))
}

fn build_statistic<'a>(options: &[RawOption<'a>], span: Span) -> Result<MatchKind<'a>, ValueError> {
    let find = |name: &str| options.iter().find(|option| option.name == name);
    let Some(mode) = find("--mode") else {
        return Err((span, "statistic: --mode is required".to_string()));
    };
    // libxt_statistic inverts only the test: --probability and --every.
    not_negatable(mode)?;
    if let Some(packet) = find("--packet") {
        not_negatable(packet)?;
    }
    match value(mode, 0).0 {
        "random" => {
            let Some(probability) = find("--probability") else {
                return Err((
                    mode.span,
                    "statistic: --mode random needs --probability".to_string(),
                ));
            };
            Ok(MatchKind::Statistic(StatisticMatch::Random(typed(
                probability,
                parse_probability,
            )?)))
        }
        "nth" => {
            let Some(every) = find("--every") else {
                return Err((mode.span, "statistic: --mode nth needs --every".to_string()));
            };
            let every_value = typed(every, parse_u32)?;
            if every_value.value == 0 {
                return Err((
                    every.span,
                    "statistic: --every must be at least 1".to_string(),
                ));
            }
            // libxt_statistic: "option \"--every\" also requires \"--packet\"".
            let Some(packet) = find("--packet") else {
                return Err((
                    every.span,
                    "statistic: --every needs --packet (the packet to match, from 0): iptables refuses it alone".to_string(),
                ));
            };
            let packet_value = typed(packet, parse_u32)?;
            if packet_value.value >= every_value.value {
                return Err((
                    packet.span,
                    "statistic: --packet must be less than --every".to_string(),
                ));
            }
            let packet = packet_value.value;
            Ok(MatchKind::Statistic(StatisticMatch::Nth {
                every: every_value.value,
                packet,
                negated: every.negated,
                span,
            }))
        }
        other => Err((
            value(mode, 0).1,
            format!("statistic: `{other}` is not a mode (random, nth)"),
        )),
    }
}

fn build_recent<'a>(options: &[RawOption<'a>], span: Span) -> Result<MatchKind<'a>, ValueError> {
    let mut recent = RecentMatch {
        action: RecentAction::Check,
        negated: false,
        name: "DEFAULT".to_string(),
        seconds: None,
        hitcount: None,
        destination_side: false,
    };
    // A second command, and options that do not go with the command, are
    // `conflicting-option` errors (rule.rs) and never reach this point.
    let mut action_seen = false;
    let mut reap = None;
    for option in options {
        let action = match option.name {
            "--set" => Some(RecentAction::Set),
            "--rcheck" => Some(RecentAction::Check),
            "--update" => Some(RecentAction::Update),
            "--remove" => Some(RecentAction::Remove),
            _ => None,
        };
        if let Some(action) = action {
            action_seen = true;
            recent.action = action;
            recent.negated = option.negated;
            continue;
        }
        // libxt_recent lets only the four commands be inverted.
        not_negatable(option)?;
        match option.name {
            "--name" => {
                let (name, name_span) = value(option, 0);
                // xt_recent's check: the list is a file of
                // /proc/net/xt_recent, so no empty name, `.`, `..` or `/`.
                if name.is_empty() || name == "." || name == ".." || name.contains('/') {
                    return Err((
                        name_span,
                        format!(
                            "--name: the kernel refuses a recent list named `{name}` (it is a file of /proc/net/xt_recent: not empty, `.`, `..`, nor with a `/`); iptables-restore fails at COMMIT"
                        ),
                    ));
                }
                recent.name = name.to_string();
            }
            "--seconds" => {
                let seconds = typed(option, parse_u32)?.value;
                if seconds == 0 {
                    return Err((
                        value(option, 0).1,
                        "--seconds: `0` is not an integer between 1 and 4294967295".to_string(),
                    ));
                }
                recent.seconds = Some(seconds);
            }
            "--reap" => reap = Some(option.span),
            "--hitcount" => {
                let hitcount = typed(option, parse_u32)?.value;
                // xt_recent's check: "hitcount (N) is larger than allowed
                // maximum (65535)", and the kernel refuses the rule.
                if hitcount > u32::from(u16::MAX) {
                    return Err((
                        value(option, 0).1,
                        format!("--hitcount: {hitcount} is more than the kernel's 65535"),
                    ));
                }
                recent.hitcount = Some(hitcount);
            }
            "--rdest" => recent.destination_side = true,
            "--mask" => {
                // libxt_recent reads it with getaddrinfo: IPv4 also in
                // inet_aton's forms (`0x10` is 0.0.0.16, `10.1` 10.0.0.1).
                typed(option, |t| match super::values::numeric_host(t) {
                    Some(_) => Ok(()),
                    None => Err(format!("`{t}` is not a mask")),
                })?;
            }
            _ => {}
        }
    }
    if !action_seen {
        return Err((
            span,
            "recent: needs one of --set, --rcheck, --update, --remove".to_string(),
        ));
    }
    if let Some(reap) = reap
        && recent.seconds.is_none()
    {
        return Err((
            reap,
            "recent: --reap needs --seconds (the age past which entries are removed)".to_string(),
        ));
    }
    Ok(MatchKind::Recent(recent))
}

fn parse_ip_range(text: &str) -> Result<(IpAddr, IpAddr), String> {
    let (lo, hi) = text.split_once('-').unwrap_or((text, text));
    // libxt_iprange reads IPv4 as libxtables' numeric_to_ipaddr: `1.5` is
    // 1.5.0.0, `010` is 8.0.0.0.
    let parse = |t: &str| {
        t.parse::<IpAddr>()
            .ok()
            .or_else(|| {
                super::values::numeric_to_ipaddr(t, false)
                    .map(|a| IpAddr::from(std::net::Ipv4Addr::from(a)))
            })
            .ok_or_else(|| format!("`{t}` is not an IP address"))
    };
    let (lo, hi) = (parse(lo)?, parse(hi)?);
    if lo.is_ipv4() != hi.is_ipv4() {
        // iptables: "iprange: Bad value" in either family.
        return Err(format!(
            "`{text}` goes from one address family to the other"
        ));
    }
    Ok((lo, hi))
}

/// `3/min`, `10/second`, `1/s`: packets per second.
/// `XT_LIMIT_SCALE`: the kernel's limit match counts time in 1/10000 s.
const KERNEL_LIMIT_SCALE: u32 = 10_000;

/// Whether the legacy kernel's limit match refuses `average` with `burst`
/// (`limit_mt_check`: "Overflow, try lower"). It compares the credits of
/// `average * burst` and of `average` in 32-bit arithmetic that wraps, so
/// some bursts are refused and larger ones accepted. The credits depend on
/// the kernel's HZ through `HZ * CREDITS_PER_JIFFY`, which is 32000 for both
/// HZ 250 and 1000 (most distributions); checked against this machine's
/// kernel by `tests/kernel_targets.rs`. iptables-nft does not run this check.
fn legacy_limit_overflows(average: u32, burst: u32) -> bool {
    const HZ_TIMES_CREDITS_PER_JIFFY: u32 = 32_000;
    let credits = |user: u32| {
        if user > u32::MAX / HZ_TIMES_CREDITS_PER_JIFFY {
            (user / KERNEL_LIMIT_SCALE).wrapping_mul(HZ_TIMES_CREDITS_PER_JIFFY)
        } else {
            user * HZ_TIMES_CREDITS_PER_JIFFY / KERNEL_LIMIT_SCALE
        }
    };
    credits(average.wrapping_mul(burst)) < credits(average)
}

/// A `--limit` rate as iptables reads it (libxt_limit's `parse_rate`):
/// packets per second, and the kernel's `avg` (1/10000 s between packets).
/// The count is C's `atoi` of the text (`1.5/s` is 1/s, `0.5/s` is refused);
/// the unit, in any case, is a prefix of second, minute, hour or day.
fn parse_rate(text: &str) -> Result<(f64, u32), String> {
    let (count, unit) = text.split_once('/').unwrap_or((text, "s"));
    let seconds: u32 = ["second", "minute", "hour", "day"]
        .iter()
        .zip([1, 60, 3600, 86400])
        .find(|(name, _)| {
            !unit.is_empty()
                && name
                    .get(..unit.len())
                    .is_some_and(|n| n.eq_ignore_ascii_case(unit))
        })
        .map(|(_, seconds)| seconds)
        .ok_or_else(|| format!("--limit: `{unit}` is not a unit (second, minute, hour, day)"))?;
    // atoi: white space, then a sign (a `-` wraps to a rate too fast).
    let digits = count.trim_start();
    let digits = digits.strip_prefix('+').unwrap_or(digits);
    let digits = &digits[..digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len())];
    let count = digits
        .parse::<u32>()
        .ok()
        .filter(|&count| count > 0)
        .ok_or_else(|| {
            format!("--limit: `{text}` is not a rate like 3/min (iptables reads a whole number of packets first)")
        })?;
    let average = KERNEL_LIMIT_SCALE * seconds / count;
    if average == 0 {
        return Err(format!(
            "--limit: `{text}` is too fast: iptables takes at most 10000/second"
        ));
    }
    Ok((f64::from(count) / f64::from(seconds), average))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ct_states_and_flags() {
        assert_eq!(parse_ct_states("NEW,ESTABLISHED").unwrap(), CtStates(0b110));
        assert!(parse_ct_states("BOGUS").is_err());
        assert_eq!(parse_tcp_flag_list("FIN,SYN,RST,ACK").unwrap(), 0x17);
        assert_eq!(parse_tcp_flag_list("ALL").unwrap(), 0x3f);
    }

    /// States, statuses and address types read as libxt_conntrack,
    /// libxt_state and libxt_addrtype read them: any beginning of a name, in
    /// any case (each loaded or refused by iptables-restore 1.8.9 on the
    /// legacy kernel: `--state e` loads, `--state S` is "Bad state").
    #[test]
    fn names_of_lists_may_be_abbreviated() {
        assert_eq!(parse_ct_states("est,REL,n").unwrap(), CtStates(0b1110));
        assert_eq!(parse_ct_states("S,d").unwrap(), CtStates(0b110_0000));
        assert!(parse_ct_states("NEWX").is_err() && parse_ct_states("new,").is_err());
        assert_eq!(parse_states("i,u").unwrap(), CtStates(0b1_0001));
        assert_eq!(
            parse_states("S").unwrap_err(),
            "`S` is a state of `-m conntrack --ctstate` only; `-m state` knows INVALID, NEW, ESTABLISHED, RELATED, UNTRACKED"
        );
        assert!(parse_ct_status("n,e,S,a,c,exp").is_ok() && parse_ct_status("ne").is_err());
        // The first name a beginning fits: `un` is UNSPEC, not UNICAST.
        assert_eq!(abbreviation(&ADDRESS_TYPES, "un"), Some(0));
        assert_eq!(abbreviation(&ADDRESS_TYPES, "uni"), Some(1));
        assert_eq!(abbreviation(&ADDRESS_TYPES, "x"), Some(11));
        assert_eq!(abbreviation(&ADDRESS_TYPES, ""), None);
        assert_eq!(abbreviation(&ADDRESS_TYPES, "LOCALS"), None);
    }

    /// Each as iptables-restore 1.8.9 loads it and iptables-save writes it
    /// back (legacy kernel): `--length ":5"` is 0:5, `--ttl-eq 0x10` 16,
    /// `--src-range 1.5-010` 1.5.0.0-8.0.0.0, `--ctorigsrc 1.5` 1.0.0.5,
    /// `--dccp-types "DATA,"` DATA.
    #[test]
    fn numbers_and_addresses_in_libxtables_forms() {
        assert!(parse_dccp_types("request,DATA,").is_ok() && parse_dccp_types("").is_ok());
        assert!(parse_dccp_types("REQ").is_err() && parse_dccp_types("0").is_err());
        for loads in [
            "ALL",
            "none",
            "DATA,",
            ",data:iube",
            "ABORT:T",
            "abort:tt",
            "INIT:",
            "",
        ] {
            assert!(parse_sctp_chunks(loads).is_ok(), "{loads}");
        }
        for refused in ["FOO", "1", "DATA:X", "INIT:B", "DATA:T", "DATA,ALL", "AUTH"] {
            assert!(parse_sctp_chunks(refused).is_err(), "{refused}");
        }
        let dccp_option = |text: &str| {
            let option = RawOption {
                name: "--dccp-option",
                negated: false,
                span: Span::default(),
                values: vec![crate::syntax::Word {
                    text: Cow::Owned(text.to_string()),
                    span: Span::default(),
                }],
            };
            build_match("dccp", vec![option], Span::default()).is_ok()
        };
        assert!(dccp_option("0x10") && dccp_option("255") && dccp_option("010"));
        assert!(!dccp_option("0") && !dccp_option("256") && !dccp_option("a"));
        assert_eq!(
            parse_ip_range("1.5-010").unwrap(),
            (
                "1.5.0.0".parse::<IpAddr>().unwrap(),
                "8.0.0.0".parse::<IpAddr>().unwrap()
            )
        );
        assert!(parse_ip_range("65536").is_err());
        assert_eq!(
            parse_host_mask("1.5").unwrap().unwrap().addr,
            "1.0.0.5".parse::<IpAddr>().unwrap()
        );
        assert!(parse_host_mask("1.2.3.4.5").is_err());
    }

    #[test]
    fn icmp_types_as_iptables_reads_them() {
        let ok = |text| parse_icmp_type(ICMP_TYPES, text).is_ok();
        // Names and any unambiguous beginning, in any case.
        assert!(ok("echo-request") && ok("PING") && ok("echo-rep") && ok("TOS-host-r"));
        assert!(ok("any") && ok("redirect"));
        // Beginnings of several names.
        let ambiguous = parse_icmp_type(ICMP_TYPES, "echo").unwrap_err();
        assert!(
            ambiguous.contains("`echo-reply` or `echo-request`"),
            "{ambiguous}"
        );
        assert!(!ok("ttl") && !ok("host") && !ok("a"));
        // Numbers in C's notation, a code or a range of codes, no range of types.
        assert!(ok("8") && ok("0x03/0x01") && ok("010") && ok("3/1:2") && ok("3/2:1"));
        assert!(!ok("256") && !ok("3/256") && !ok("3/") && !ok("/3") && !ok("8x"));
        assert!(
            parse_icmp_type(ICMP_TYPES, "3:4")
                .unwrap_err()
                .contains("ranges")
        );
        assert!(!ok("echo-request/0") && !ok(""));
        // What each loads: the type and its range of codes.
        let loaded = |text| parse_icmp_type(ICMP_TYPES, text).map(|t| (t.kind, t.codes));
        assert_eq!(loaded("ping"), Ok((8, (0, 255))));
        assert_eq!(loaded("echo-request"), loaded("8"));
        assert_eq!(loaded("Port-Unr"), Ok((3, (3, 3))));
        assert_eq!(loaded("3/3"), loaded("port-unreachable"));
        assert_eq!(loaded("any"), loaded("255"));
        assert_eq!(loaded("3/2:1"), Ok((3, (2, 1))));
        assert_eq!(
            parse_icmp_type(ICMPV6_TYPES, "echo-request").map(|t| t.kind),
            Ok(128)
        );
        // ICMPv6 has its own names and no `any`.
        assert!(parse_icmp_type(ICMPV6_TYPES, "neighbour-s").is_ok());
        assert!(parse_icmp_type(ICMPV6_TYPES, "neigh").is_err());
        assert!(parse_icmp_type(ICMPV6_TYPES, "any").is_err());
    }

    #[test]
    fn conntrack_packet_type_and_tcp_option_values() {
        assert!(parse_ct_status("assured,NONE").is_ok());
        assert!(parse_ct_status("ASSURED,").is_err());
        assert!(parse_ct_expire("5:").is_ok() && parse_ct_expire(":5").is_ok());
        assert!(parse_ct_expire("0x10:20").is_ok() && parse_ct_expire("5:foo").is_err());
        assert!(parse_ct_direction("reply").is_ok() && parse_ct_direction("Orig").is_err());
        assert!(parse_packet_type("Multicast").is_ok() && parse_packet_type("3").is_err());
        assert_eq!(parse_tcp_option("0x10"), Ok(16));
        assert!(parse_tcp_option("0").is_err() && parse_tcp_option("256").is_err());
    }

    #[test]
    fn times_of_day_and_hashlimit_keys() {
        assert_eq!(parse_time_of_day("9:5"), Ok(9 * 3600 + 5 * 60));
        assert_eq!(parse_time_of_day("23:59:59"), Ok(86_399));
        assert_eq!(parse_time_of_day("10:"), Ok(36_000));
        assert_eq!(parse_time_of_day(":10"), Ok(600));
        assert_eq!(parse_time_of_day("+9:05:"), Ok(9 * 3600 + 5 * 60));
        assert_eq!(parse_time_of_day("-0:"), Ok(0));
        for bad in [
            "10", "24:00", "10:60", "1:2:3:4", "0x1:00", "-1:00", "9:5x", "",
        ] {
            assert!(parse_time_of_day(bad).is_err(), "{bad}");
        }
        assert!(parse_hashlimit_mode("srcip,dstport").is_ok());
        assert!(
            parse_hashlimit_mode("srcip,").is_ok() && parse_hashlimit_mode("srcip|dstip").is_ok()
        );
        // strtok skips empty names: no name at all is no key, as iptables loads it.
        assert!(parse_hashlimit_mode(",").is_ok());
        assert!(parse_hashlimit_mode("SRCIP").is_err() && parse_hashlimit_mode("src").is_err());
    }

    #[test]
    fn required_options_name_what_is_missing() {
        let missing = |name: &str| {
            check_required_options(required_match_options, name, &[], Span::new(0, 0))
                .unwrap_err()
                .1
        };
        assert_eq!(missing("connbytes"), "connbytes: --connbytes is required");
        assert_eq!(
            missing("multiport"),
            "multiport: --sports, --dports or --ports is required"
        );
        assert_eq!(missing("string"), "string: --algo is required");
        // iptables-restore 1.8.9: "comment: option \"--comment\" must be specified".
        assert_eq!(missing("comment"), "comment: --comment is required");
        // `-m limit` alone loads (3/hour, burst 5).
        assert!(
            check_required_options(required_match_options, "limit", &[], Span::new(0, 0)).is_ok()
        );
    }

    #[test]
    fn policy_elements_as_libxt_policy_checks_them() {
        let check = |rule: &str| {
            let src =
                format!("*filter\n:FORWARD ACCEPT [0:0]\n-A FORWARD -m policy {rule}\nCOMMIT\n");
            let parsed = crate::model::build::build(&src);
            parsed
                .diagnostics
                .iter()
                .map(|d| d.message.clone())
                .collect::<Vec<_>>()
        };
        assert!(check("--dir in --pol ipsec --strict --proto esp --next --mode tunnel --tunnel-src 10.0.0.1").is_empty());
        for (rule, message) in [
            ("--pol ipsec", "policy: --dir is required"),
            (
                "--dir in --pol ipsec --proto esp --next --proto ah",
                "policy: --next needs --strict",
            ),
            (
                "--dir in --pol ipsec --strict --spi 1 --spi 2",
                "policy: --spi given twice in element 0",
            ),
            (
                "--dir in --pol ipsec --strict --spi 1 --next",
                "policy: element 1 is empty",
            ),
            (
                "--dir in --pol ipsec --tunnel-dst 10.0.0.1",
                "policy: --tunnel-dst needs --mode tunnel",
            ),
            (
                "--dir in --pol none --strict",
                "policy: --strict with --pol none",
            ),
            (
                "--dir in --pol ipsec --proto udp",
                "--proto: `udp` is not ah, esp or ipcomp",
            ),
        ] {
            let found = check(rule);
            assert!(
                found.len() == 1 && found[0].starts_with(message),
                "{rule}: {found:?}"
            );
        }
    }

    #[test]
    fn u32_tests_as_libxt_u32_reads_them() {
        for good in [
            "0>>22&0x3C@0>>16=0x0:0x5",
            "0=1,2:3",
            " 0 >> 22 = 1 && 4 = 5 ",
            "0=+1",
        ] {
            assert_eq!(parse_u32_tests(good), Ok(()), "{good}");
        }
        for (bad, message) in [
            ("=1", "at char 0: location spec missing"),
            ("0", "abrupt end of input after location specifier"),
            ("0=", "test ended with no value specified"),
            ("0=1&2=3", "at char 4: a second '&' was expected"),
            ("0x=1", "at char 1: operator expected"),
            ("0=-1", "at char 2: not a number or out of range"),
            ("0=1=2", "at char 3: expected \",\" or \"&&\""),
        ] {
            assert_eq!(parse_u32_tests(bad), Err(message.to_string()), "{bad}");
        }
        assert!(parse_u32_tests("0&1&2&3&4&5&6&7&8&9&10=1").is_err());
        assert!(parse_u32_tests(&["0=1"; 11].join("&&")).is_err());
        assert!(parse_u32_tests(&["0=1"; 10].join("&&")).is_ok());
    }

    #[test]
    fn tos_and_connbytes_values() {
        for good in [
            "0x10",
            "255",
            "0x10/0x3f",
            "Minimize-Delay",
            "MINIMIZE-COST",
            "+5",
        ] {
            assert!(parse_tos(good).is_ok(), "{good}");
        }
        for bad in [
            "256",
            "0x10/256",
            "0x10/",
            "/5",
            "normal",
            "Minimize-Delay/0xff",
        ] {
            assert!(parse_tos(bad).is_err(), "{bad}");
        }
        for good in ["10", "10:", ":10", "5:5", "0x10", "18446744073709551615"] {
            assert!(parse_connbytes_range(good).is_ok(), "{good}");
        }
        for bad in ["10:5", "x", "-1", "18446744073709551616"] {
            assert!(parse_connbytes_range(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hashlimit_values_as_libxt_hashlimit_reads_them() {
        let packets = |text| match parse_hashlimit_rate(text) {
            Ok(HashlimitRate::Packets {
                average,
                unit_seconds,
            }) => Some((average, unit_seconds)),
            _ => None,
        };
        assert_eq!(packets("5/s"), Some((200_000, 1)));
        assert_eq!(packets("5/MIN"), Some((12_000_000, 60)));
        assert_eq!(packets("1.5/s"), Some((1_000_000, 1)));
        assert_eq!(packets("1/day"), Some((86_400_000_000, 86_400)));
        for bad in [
            "5/seconds",
            "5/",
            "0/s",
            "x/s",
            "1000001/s",
            "-5/s",
            "b/s",
            "0b/s",
        ] {
            assert!(parse_hashlimit_rate(bad).is_err(), "{bad}");
        }
        assert!(matches!(
            parse_hashlimit_rate("5kb/s"),
            Ok(HashlimitRate::Bytes { cost }) if cost == u32::MAX / 321
        ));
        assert_eq!(parse_hashlimit_burst("5k"), Ok(5 * 1024));
        assert_eq!(parse_hashlimit_burst("5x"), Ok(5));
        for bad in ["0", "-1", "1000001", "x", "08"] {
            assert!(parse_hashlimit_burst(bad).is_err(), "{bad}");
        }
        // The kernel's credits wrap at 64 bits: 1/day takes a burst of 1 only.
        assert!(!hashlimit_credits_overflow(86_400_000_000, 1));
        assert!(hashlimit_credits_overflow(86_400_000_000, 2));
        assert!(!hashlimit_credits_overflow(3_600_000_000, 1_000_000));
        assert_eq!(
            HashlimitMask::parse("0x10"),
            Some(HashlimitMask::Length(16))
        );
        assert_eq!(
            HashlimitMask::parse("255.255.0.0"),
            Some(HashlimitMask::Address { v6: false })
        );
        assert_eq!(HashlimitMask::parse("255.0.255.0"), None);
        assert_eq!(HashlimitMask::parse("129"), None);
        assert!(HashlimitMask::Length(33).refusal_in(false).is_some());
        assert!(HashlimitMask::Length(33).refusal_in(true).is_none());
        assert!(
            HashlimitMask::Address { v6: false }
                .refusal_in(true)
                .is_some()
        );
        assert!(check_hashlimit_name(".").is_err() && check_hashlimit_name("a/b").is_err());
        assert!(check_hashlimit_name("...").is_ok());
    }

    #[test]
    fn days_and_dates_as_libxt_time_reads_them() {
        // Each verdict below was checked against iptables 1.8.9 (legacy and
        // nft); tests/kernel_targets.rs runs the same rules there.
        for good in [
            "Mon", "Monday", "Su", "7", "8", "1234", "-1", "+1", "Mon,", "0x3",
        ] {
            assert!(parse_weekdays(good).is_ok(), "{good}");
        }
        for bad in [
            "MON", "mon", "Mx", "S", "0", "-0", "0x0", "1,,2", ",Mon", "12x", "08",
        ] {
            assert!(parse_weekdays(bad).is_err(), "{bad}");
        }
        for good in ["0", "31", "1,,2", ",1", "1,", "123", "+1", "07"] {
            assert!(parse_monthdays(good).is_ok(), "{good}");
        }
        for bad in ["32", "0x1f", "0x", "-1", "1x", "08", "x"] {
            assert!(parse_monthdays(bad).is_err(), "{bad}");
        }
        for good in [
            "2020",
            "2038",
            "2038-12-31T23:59:59",
            "2020-00",
            "2020-02-31",
            "2020-01-01T",
            "2020-",
            "+2020",
            "02020",
            "2020-1-1T1",
            "1970-01-01T00:00:00",
        ] {
            assert!(parse_date(good).is_ok(), "{good}");
        }
        for bad in [
            "1969",
            "2039",
            "2020-13",
            "1970-00",
            "1970-01-00",
            "2020-01-32",
            "2020-01-01T24",
            "2020-01-01T23:60",
            "2020-01-01T23:59:60",
            "x",
            "",
            "0x7e4",
            "2020-01-01X",
        ] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("3/min").unwrap(), (0.05, 200_000));
        assert_eq!(parse_rate("10/s").unwrap(), (10.0, 1_000));
        assert_eq!(parse_rate("5/MIN").unwrap(), (5.0 / 60.0, 120_000));
        assert_eq!(parse_rate("1.5/s").unwrap(), (1.0, 10_000));
        assert_eq!(parse_rate("7").unwrap(), (7.0, 1_428));
        for refused in ["3/fortnight", "0.5/s", "20000/second", "x/s", "5/"] {
            assert!(parse_rate(refused).is_err(), "{refused}");
        }
        // The legacy kernel's overflow check, as measured on this machine.
        let hour = 36_000_000;
        assert!(legacy_limit_overflows(hour, 120) && !legacy_limit_overflows(hour, 119));
        assert!(!legacy_limit_overflows(hour, 200));
        assert!(legacy_limit_overflows(864_000_000, 5));
        assert!(!legacy_limit_overflows(432_000_000, 5));
    }

    #[test]
    fn every_spec_has_unique_option_names() {
        for spec in MATCH_SPECS {
            let mut names: Vec<_> = spec.options.iter().flat_map(|o| o.names.iter()).collect();
            let before = names.len();
            names.sort();
            names.dedup();
            assert_eq!(before, names.len(), "{}", spec.name);
        }
    }
}
