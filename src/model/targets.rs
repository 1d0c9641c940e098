//! `-j TARGET` / `-g CHAIN`: what a rule does when it matches, and, decided
//! here and nowhere else, whether that ends the packet's trip through the table.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::LazyLock;

use super::matches::{ExtensionSpec, ValueError, check_required_options, opts, parse_tos};
use super::values::{
    IpNet, PortRange, c_strtoul, parse_dscp_class, parse_ipnet, parse_mark, parse_to_ports,
    parse_u32, xtables_strtoui,
};
use super::{Family, LoadedOption, RawOption, unordered_options};
use crate::collections::{HashMap, HashSet};
use crate::syntax::{Span, Word};

/// Targets iptlint knows the options of.
pub static TARGET_SPECS: &[ExtensionSpec] = &[
    ExtensionSpec {
        name: "ACCEPT",
        options: &[],
    },
    ExtensionSpec {
        name: "DROP",
        options: &[],
    },
    ExtensionSpec {
        name: "RETURN",
        options: &[],
    },
    ExtensionSpec {
        name: "QUEUE",
        options: &[],
    },
    ExtensionSpec {
        name: "REJECT",
        options: opts! { ["--reject-with"] = 1 },
    },
    ExtensionSpec {
        name: "NFQUEUE",
        options: opts! { ["--queue-num"] = 1, ["--queue-balance"] = 1, ["--queue-bypass"] = 0, ["--fail-open"] = 0, ["--queue-cpu-fanout"] = 0 },
    },
    ExtensionSpec {
        name: "DNAT",
        options: opts! { ["--to-destination", "--to"] = 1, ["--random"] = 0, ["--persistent"] = 0 },
    },
    ExtensionSpec {
        name: "SNAT",
        options: opts! { ["--to-source", "--to"] = 1, ["--random"] = 0, ["--random-fully"] = 0, ["--persistent"] = 0 },
    },
    ExtensionSpec {
        name: "MASQUERADE",
        options: opts! { ["--to-ports"] = 1, ["--random"] = 0, ["--random-fully"] = 0 },
    },
    ExtensionSpec {
        name: "REDIRECT",
        options: opts! { ["--to-ports"] = 1, ["--random"] = 0 },
    },
    ExtensionSpec {
        name: "NETMAP",
        options: opts! { ["--to"] = 1 },
    },
    ExtensionSpec {
        name: "LOG",
        options: opts! {
            ["--log-level"] = 1, ["--log-prefix"] = 1, ["--log-tcp-sequence"] = 0, ["--log-tcp-options"] = 0,
            ["--log-ip-options"] = 0, ["--log-uid"] = 0, ["--log-macdecode"] = 0,
        },
    },
    ExtensionSpec {
        name: "MARK",
        options: opts! { ["--set-xmark"] = 1, ["--set-mark"] = 1, ["--and-mark"] = 1, ["--or-mark"] = 1, ["--xor-mark"] = 1 },
    },
    ExtensionSpec {
        name: "CONNMARK",
        options: opts! {
            ["--set-xmark"] = 1, ["--set-mark"] = 1, ["--and-mark"] = 1, ["--or-mark"] = 1, ["--xor-mark"] = 1,
            ["--save-mark"] = 0, ["--restore-mark"] = 0, ["--nfmask"] = 1, ["--ctmask"] = 1, ["--mask"] = 1,
        },
    },
    ExtensionSpec {
        name: "NOTRACK",
        options: &[],
    },
    ExtensionSpec {
        name: "TRACE",
        options: &[],
    },
    ExtensionSpec {
        name: "CLASSIFY",
        options: opts! { ["--set-class"] = 1 },
    },
    ExtensionSpec {
        name: "TOS",
        options: opts! { ["--set-tos"] = 1, ["--and-tos"] = 1, ["--or-tos"] = 1, ["--xor-tos"] = 1 },
    },
    ExtensionSpec {
        name: "TEE",
        options: opts! { ["--gateway"] = 1, ["--oif"] = 1 },
    },
    ExtensionSpec {
        name: "DNPT",
        options: opts! { ["--src-pfx"] = 1, ["--dst-pfx"] = 1 },
    },
    ExtensionSpec {
        name: "SNPT",
        options: opts! { ["--src-pfx"] = 1, ["--dst-pfx"] = 1 },
    },
    ExtensionSpec {
        name: "IDLETIMER",
        options: opts! { ["--timeout"] = 1, ["--label"] = 1, ["--alarm"] = 0 },
    },
    ExtensionSpec {
        name: "CHECKSUM",
        options: opts! { ["--checksum-fill"] = 0 },
    },
    ExtensionSpec {
        name: "CONNSECMARK",
        options: opts! { ["--save"] = 0, ["--restore"] = 0 },
    },
    ExtensionSpec {
        name: "ECN",
        options: opts! {
            ["--ecn-tcp-remove"] = 0, ["--ecn-tcp-cwr"] = 1, ["--ecn-tcp-ece"] = 1,
            ["--ecn-ip-ect"] = 1,
        },
    },
    ExtensionSpec {
        name: "AUDIT",
        options: opts! { ["--type"] = 1 },
    },
    ExtensionSpec {
        name: "CT",
        options: opts! {
            ["--notrack"] = 0, ["--helper"] = 1, ["--timeout"] = 1, ["--ctevents"] = 1,
            ["--expevents"] = 1, ["--zone"] = 1, ["--zone-orig"] = 1, ["--zone-reply"] = 1,
        },
    },
    ExtensionSpec {
        name: "NFLOG",
        options: opts! {
            ["--nflog-group"] = 1, ["--nflog-prefix"] = 1, ["--nflog-range"] = 1,
            ["--nflog-size"] = 1, ["--nflog-threshold"] = 1,
        },
    },
];

/// Target extensions that do not end evaluation (the rule after them runs
/// next). Options of those without a [`TARGET_SPECS`] entry are kept raw.
pub const NON_TERMINAL_EXTENSIONS: &[&str] = &[
    "LOG",
    "NFLOG",
    "ULOG",
    "MARK",
    "CONNMARK",
    "SECMARK",
    "CONNSECMARK",
    "TRACE",
    "CT",
    "NOTRACK",
    "CLASSIFY",
    "DSCP",
    "TOS",
    "TTL",
    "HL",
    "TCPMSS",
    "CHECKSUM",
    "SET",
    "AUDIT",
    "IDLETIMER",
    "LED",
    "TEE",
    "CLUSTERIP",
    "HMARK",
    "RATEEST",
    "ECN",
    "TCPOPTSTRIP",
    "NFACCT",
    "IPV4OPTSSTRIP",
    "DNPT",
    "SNPT",
];

/// Target extensions that end evaluation besides the verdicts and NAT actions.
pub const TERMINAL_EXTENSIONS: &[&str] = &["TPROXY", "SYNPROXY", "TARPIT"];

/// How far a rule's target, once the rule matches, takes the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Evaluation goes on with the next rule.
    Continue,
    /// The packet leaves the current chain for its caller (`RETURN`).
    Return,
    /// The verdict for the table is decided (ACCEPT, DROP, DNAT...).
    Terminate,
    /// Control moves into another chain, to come back after it (`-j CHAIN`).
    Call,
    /// Control moves into another chain for good (`-g CHAIN`).
    Goto,
}

/// A NAT destination, `10.0.0.1-10.0.0.9:80-90` or `[fd00::1]:80`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NatAddress {
    /// First address, when given.
    pub first: Option<IpAddr>,
    /// Last address of a range (equal to `first` for one address).
    pub last: Option<IpAddr>,
    /// Ports, when given.
    pub ports: Option<PortRange>,
}

impl std::fmt::Display for NatAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let address = |f: &mut std::fmt::Formatter<'_>, addr: IpAddr| match addr {
            IpAddr::V6(v6) if self.ports.is_some() => write!(f, "[{v6}]"),
            other => write!(f, "{other}"),
        };
        if let Some(first) = self.first {
            address(f, first)?;
            if let Some(last) = self.last.filter(|last| *last != first) {
                f.write_str("-")?;
                address(f, last)?;
            }
        }
        if let Some(ports) = self.ports {
            write!(f, ":{}", ports.to_string().replace(':', "-"))?;
        }
        Ok(())
    }
}

/// What a rule does when it matches.
#[derive(Debug, Clone, PartialEq)]
pub enum Action<'a> {
    /// No `-j`: the rule only counts packets.
    None,
    /// `ACCEPT`.
    Accept,
    /// `DROP`.
    Drop,
    /// `REJECT [--reject-with TYPE]`: the type as written (see
    /// [`reject_type`] for the reply it names).
    Reject(Option<Cow<'a, str>>),
    /// `RETURN`.
    Return,
    /// `QUEUE` / `NFQUEUE`: the verdict is left to user space.
    Queue,
    /// `DNAT --to-destination`.
    Dnat(Vec<NatAddress>),
    /// `SNAT --to-source`.
    Snat(Vec<NatAddress>),
    /// `MASQUERADE [--to-ports]`.
    Masquerade(Option<PortRange>),
    /// `REDIRECT [--to-ports]`.
    Redirect(Option<PortRange>),
    /// `NETMAP --to`.
    Netmap(IpNet),
    /// `-j CHAIN` or `-g CHAIN` to a user chain (resolved against the table
    /// when the model is built; see [`Target::chain`]).
    Chain,
    /// Another target extension: LOG, MARK, CT, TPROXY ... with its options.
    Extension(Vec<RawOption<'a>>),
}

/// The target of a rule: `-j NAME ...` or `-g NAME`. Two are equal when
/// they name the same target the same way (`-j` or `-g`) with the same
/// options, wherever they were written.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    /// The name after `-j`/`-g`.
    pub name: Cow<'a, str>,
    /// Where the name was written.
    pub name_span: Span,
    /// `-j NAME` through the target's last option.
    pub span: Span,
    /// Written with `-g`.
    pub goto: bool,
    /// What it does.
    pub action: Action<'a>,
    /// For [`Action::Chain`]: the index of the chain in its table, when the
    /// table declares it.
    pub chain: Option<usize>,
}

impl PartialEq for Target<'_> {
    fn eq(&self, other: &Self) -> bool {
        // `chain` follows from the name (and is resolved only once the
        // table is complete), so it is not compared.
        self.name == other.name && self.goto == other.goto && self.action == other.action
    }
}

impl Target<'_> {
    /// Whether the kernel holds the two targets as the same (see
    /// [`crate::model::Rule::same_entry`]): equal, or REJECT both times with
    /// the same reply, `--reject-with` left out meaning `family`'s default
    /// and a type abbreviated or written by its alias meaning the type, or
    /// a target kept untyped with the same options as it loads them (see
    /// [`loaded_options`]).
    pub fn same_entry(&self, other: &Target<'_>, family: Family) -> bool {
        match (&self.action, &other.action) {
            (Action::Extension(a), Action::Extension(b)) => {
                self.name == other.name
                    && self.goto == other.goto
                    && loaded_options(&self.name, a) == loaded_options(&other.name, b)
            }
            (Action::Reject(a), Action::Reject(b)) => {
                let reply = |written: &Option<Cow<'_, str>>| {
                    reject_type(
                        family,
                        written.as_deref().unwrap_or(default_reject_type(family)),
                    )
                };
                self.name == other.name && self.goto == other.goto && reply(a) == reply(b)
            }
            _ => self == other,
        }
    }

    /// The one place that decides what a matching rule does to the evaluation.
    pub fn flow(&self) -> Flow {
        match &self.action {
            Action::None => Flow::Continue,
            Action::Return => Flow::Return,
            Action::Chain if self.goto => Flow::Goto,
            Action::Chain => Flow::Call,
            Action::Extension(_) if TERMINAL_EXTENSIONS.contains(&self.name.as_ref()) => {
                Flow::Terminate
            }
            Action::Extension(_) => Flow::Continue,
            Action::Accept
            | Action::Drop
            | Action::Reject(_)
            | Action::Queue
            | Action::Dnat(_)
            | Action::Snat(_)
            | Action::Masquerade(_)
            | Action::Redirect(_)
            | Action::Netmap(_) => Flow::Terminate,
        }
    }

    /// Whether this is a jump or goto to a user chain.
    pub fn is_chain(&self) -> bool {
        matches!(self.action, Action::Chain)
    }

    /// Whether this is a NAT action that only the nat table accepts.
    pub fn is_nat_action(&self) -> bool {
        matches!(
            self.action,
            Action::Dnat(_)
                | Action::Snat(_)
                | Action::Masquerade(_)
                | Action::Redirect(_)
                | Action::Netmap(_)
        )
    }
}

/// Whether `name` is a target extension rather than a user chain.
pub fn is_extension(name: &str) -> bool {
    // Asked of every rule's target, nearly always a user chain, which a
    // scan compares with every name: callgrind on a 1,000-service dump
    // counted 260 instructions a call scanning, 96 with one hash lookup.
    static EXTENSIONS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
        let specs = TARGET_SPECS.iter().map(|spec| spec.name);
        let others = NON_TERMINAL_EXTENSIONS.iter().chain(TERMINAL_EXTENSIONS);
        specs.chain(others.copied()).chain(["NFQUEUE"]).collect()
    });
    EXTENSIONS.contains(name)
}

/// The option spec of target `name`, when iptlint knows it.
pub fn target_spec(name: &str) -> Option<&'static ExtensionSpec> {
    // By hash, for the same reason as `is_extension` (148 -> 100
    // instructions a call); the first spec of a name wins, as in a scan.
    static BY_NAME: LazyLock<HashMap<&'static str, &'static ExtensionSpec>> = LazyLock::new(|| {
        let mut index = HashMap::default();
        for spec in TARGET_SPECS {
            index.entry(spec.name).or_insert(spec);
        }
        index
    });
    BY_NAME.get(name).copied()
}

/// What CONNMARK can do: each excludes the others, one is required.
pub const CONNMARK_OPERATIONS: &[&str] = &[
    "--set-xmark",
    "--set-mark",
    "--and-mark",
    "--or-mark",
    "--xor-mark",
    "--save-mark",
    "--restore-mark",
];

/// What MARK can do: CONNMARK's first five.
pub const MARK_OPERATIONS: &[&str] = CONNMARK_OPERATIONS.split_at(5).0;

/// Options a target extension cannot do without (iptables' final checks;
/// the others' are in [`build_action`]).
fn required_target_options(name: &str) -> &'static [&'static [&'static str]] {
    match name {
        "AUDIT" => &[&["--type"]],
        "TEE" => &[&["--gateway"]],
        "DNPT" | "SNPT" => &[&["--src-pfx"], &["--dst-pfx"]],
        "IDLETIMER" => &[&["--timeout"], &["--label"]],
        "HMARK" => &[&["--hmark-mod"], &["--hmark-rnd"]],
        "CLASSIFY" => &[&["--set-class"]],
        "SECMARK" => &[&["--selctx"]],
        "CONNSECMARK" => &[&["--save", "--restore"]],
        "SET" => &[&["--add-set", "--del-set", "--map-set"]],
        "CHECKSUM" => &[&["--checksum-fill"]],
        "TOS" => &[&["--set-tos", "--and-tos", "--or-tos", "--xor-tos"]],
        "ECN" => &[&[
            "--ecn-tcp-remove",
            "--ecn-tcp-cwr",
            "--ecn-tcp-ece",
            "--ecn-ip-ect",
        ]],
        "TPROXY" => &[&["--on-port"]],
        _ => &[],
    }
}

/// A DNPT/SNPT prefix `ADDRESS[/LENGTH]`: an IPv6 network (a length left
/// out is 128) that ip6t_NPT takes only up to /64 and with no bit set past
/// the length; the kernel refuses the rest when the table is committed
/// ("Invalid argument"), which `ip6tables-restore --test` does not see.
fn parse_npt_prefix(text: &str) -> Result<(), String> {
    let (address, length) = text.split_once('/').unwrap_or((text, "128"));
    let Ok(address) = address.parse::<std::net::Ipv6Addr>() else {
        return Err(format!("`{address}` is not an IPv6 address"));
    };
    let length = match length.parse::<u8>() {
        Ok(length) if length <= 128 => length,
        _ => return Err(format!("`{length}` is not a prefix length (0 to 128)")),
    };
    if length > 64 {
        return Err(format!(
            "`{text}`: the kernel takes prefixes up to /64 (a length left out is /128)"
        ));
    }
    let host_mask = u128::MAX >> length;
    if u128::from(address) & host_mask != 0 {
        let network = std::net::Ipv6Addr::from(u128::from(address) & !host_mask);
        return Err(format!(
            "`{text}` has bits set past the prefix, which the kernel refuses (`{network}/{length}`)"
        ));
    }
    Ok(())
}

/// Microseconds per second: the unit of RATEEST's times.
const RATEEST_UNITS_PER_SECOND: f64 = 1_000_000.0;

/// A time as libxt_RATEEST reads it (`RATEEST_get_time`): a decimal number
/// (`strtod`), in seconds with `s`/`sec`/`secs`, milliseconds with
/// `ms`/`msec`/`msecs`, microseconds with `us`/`usec`/`usecs` or with no
/// unit, any case; then stored in an `unsigned int` (truncated; a negative
/// or huge number converts as on x86-64). `Err(())` for what iptables calls a
/// bad value; `Ok(None)` for forms `strtod` may read that this does not
/// (leading spaces, hexadecimal, `inf`), left unchecked.
fn rateest_time(text: &str) -> Result<Option<u32>, ()> {
    let bytes = text.as_bytes();
    let mut end = 0;
    if matches!(bytes.first(), Some(b'+' | b'-')) {
        end = 1;
    }
    let digits_start = end;
    if matches!(
        bytes.get(digits_start..digits_start + 2),
        Some(b"0x" | b"0X")
    ) {
        return Ok(None);
    }
    while bytes.get(end).is_some_and(u8::is_ascii_digit) {
        end += 1;
    }
    let mut digits = end - digits_start;
    if bytes.get(end) == Some(&b'.') {
        end += 1;
        let fraction_start = end;
        while bytes.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
        digits += end - fraction_start;
    }
    if digits == 0 {
        let first = bytes.first().copied().unwrap_or(b' ');
        let unreadable_here = first.is_ascii_whitespace()
            || text
                .get(..3)
                .is_some_and(|p| p.eq_ignore_ascii_case("inf") || p.eq_ignore_ascii_case("nan"));
        return if unreadable_here { Ok(None) } else { Err(()) };
    }
    if matches!(bytes.get(end), Some(b'e' | b'E')) {
        let mut exponent_end = end + 1;
        if matches!(bytes.get(exponent_end), Some(b'+' | b'-')) {
            exponent_end += 1;
        }
        let exponent_digits = exponent_end;
        while bytes.get(exponent_end).is_some_and(u8::is_ascii_digit) {
            exponent_end += 1;
        }
        if exponent_end > exponent_digits {
            end = exponent_end;
        }
    }
    let number: f64 = text[..end].parse().map_err(|_| ())?;
    let unit = &text[end..];
    let scale = if unit.is_empty() {
        1.0
    } else if ["s", "sec", "secs"]
        .iter()
        .any(|u| unit.eq_ignore_ascii_case(u))
    {
        RATEEST_UNITS_PER_SECOND
    } else if ["ms", "msec", "msecs"]
        .iter()
        .any(|u| unit.eq_ignore_ascii_case(u))
    {
        RATEEST_UNITS_PER_SECOND / 1000.0
    } else if ["us", "usec", "usecs"]
        .iter()
        .any(|u| unit.eq_ignore_ascii_case(u))
    {
        1.0
    } else {
        return Err(());
    };
    // x86-64 converts through a 64-bit integer and keeps its low half; out
    // of that integer's range the conversion gives 2^63, whose low half is 0.
    let time = number * scale;
    Ok(Some(if time.abs() < 9.2e18 {
        time as i64 as u32
    } else {
        0
    }))
}

/// libxt_RATEEST's final check of `--rateest-interval` and
/// `--rateest-ewmalog` (each 0 when not given): the interval must fit one
/// of 250 ms, 500 ms, 1 s, 2 s, 4 s or 8 s ("interval value is too large"),
/// and the averaging time must make a weight 2^-k with k from 1 to 30 for
/// that interval ("ewmalog value is out of range"). Checked against
/// iptables-restore 1.8.9 on the values of the tests below.
fn check_rateest_times(
    interval: Option<&Word<'_>>,
    ewmalog: Option<&Word<'_>>,
    target: Span,
) -> Result<(), ValueError> {
    let read = |word: Option<&Word<'_>>, what: &str| -> Result<Option<u32>, ValueError> {
        match word {
            None => Ok(Some(0)),
            Some(word) => rateest_time(&word.text).map_err(|()| {
                (
                    word.span,
                    format!(
                        "RATEEST: bad {what} value `{}` (a number, then s, ms or us)",
                        word.text
                    ),
                )
            }),
        }
    };
    let (Some(interval_time), Some(ewmalog_time)) =
        (read(interval, "interval")?, read(ewmalog, "ewmalog")?)
    else {
        return Ok(());
    };
    let at = |word: Option<&Word<'_>>| word.map_or(target, |w| w.span);
    let interval_time = f64::from(interval_time);
    if !(0..=5)
        .any(|shift| interval_time <= f64::from(1u32 << shift) * (RATEEST_UNITS_PER_SECOND / 4.0))
    {
        return Err((
            at(interval),
            "RATEEST: interval value is too large (8 s at most)".to_string(),
        ));
    }
    // k = 31 never ends the search: in C, `1 << 31` overflows an `int` to
    // a negative number, and the weight then exceeds 1.
    let k = (1..31)
        .find(|&k| {
            let weight = 1.0 - 1.0 / f64::from(1u32 << k);
            interval_time / -weight.ln() > f64::from(ewmalog_time)
        })
        .unwrap_or(32);
    // libxt_RATEEST keeps the last k that was not enough.
    let ewma_log = k - 1;
    if ewma_log == 0 || ewma_log >= 31 {
        return Err((
            at(ewmalog),
            "RATEEST: ewmalog value is out of range for this interval".to_string(),
        ));
    }
    Ok(())
}

/// Build the typed action of target `name` from its options.
pub fn build_action<'a>(
    name: &str,
    options: Vec<RawOption<'a>>,
    span: Span,
) -> Result<Action<'a>, ValueError> {
    check_required_options(required_target_options, name, &options, span)?;
    let first_value = |option_name: &str| {
        options
            .iter()
            .find(|option| option.name == option_name)
            .and_then(|option| option.values.first())
    };
    Ok(match name {
        "ACCEPT" => Action::Accept,
        "DROP" => Action::Drop,
        "RETURN" => Action::Return,
        "QUEUE" => Action::Queue,
        "NFQUEUE" => {
            // C notation, as xtables' strtoul reads it: `0x10` is 16.
            let queue = |text: &str| parse_u32(text).ok().filter(|&n| n <= u32::from(u16::MAX));
            if let Some(word) = first_value("--queue-num")
                && queue(&word.text).is_none()
            {
                return Err((
                    word.span,
                    format!(
                        "--queue-num: `{}` is not a queue number (0 to 65535)",
                        word.text
                    ),
                ));
            }
            if let Some(word) = first_value("--queue-balance") {
                // Either end may be left out, as libxtables reads a range:
                // `:5` is 0:5, `5:` 5:65535.
                let end = |text: &str, missing: u32| {
                    if text.is_empty() {
                        Some(missing)
                    } else {
                        queue(text)
                    }
                };
                let range = word.text.split_once(':').and_then(|(first, last)| {
                    Some((end(first, 0)?, end(last, u32::from(u16::MAX))?))
                        .filter(|(first, last)| first < last)
                });
                if range.is_none() {
                    return Err((
                        word.span,
                        format!(
                            "--queue-balance: `{}` is not FIRST:LAST with queue numbers, FIRST below LAST",
                            word.text
                        ),
                    ));
                }
            }
            if let Some(option) = options.iter().find(|o| o.name == "--queue-cpu-fanout")
                && first_value("--queue-balance").is_none()
            {
                return Err((
                    option.span,
                    "NFQUEUE: --queue-cpu-fanout needs --queue-balance (it picks a queue of the range by CPU)".to_string(),
                ));
            }
            Action::Queue
        }
        // As written: which reply it names depends on the family, known
        // once the whole dump is read (see [`reject_type`]).
        "AUDIT" => {
            if let Some(word) = first_value("--type")
                && !["accept", "drop", "reject"]
                    .iter()
                    .any(|known| known.eq_ignore_ascii_case(&word.text))
            {
                return Err((
                    word.span,
                    format!("--type: `{}` is not accept, drop or reject", word.text),
                ));
            }
            Action::Extension(options)
        }
        "CLASSIFY" => {
            // libxt_CLASSIFY: sscanf("%x:%x"), so what follows the minor
            // number is ignored.
            if let Some(word) = first_value("--set-class") {
                let text = word.text.as_bytes();
                let (_, major_digits) = c_strtoul(text, 16);
                let minor_digits = if major_digits > 0 && text.get(major_digits) == Some(&b':') {
                    c_strtoul(&text[major_digits + 1..], 16).1
                } else {
                    0
                };
                if minor_digits == 0 {
                    return Err((
                        word.span,
                        format!(
                            "--set-class: `{}` is not MAJOR:MINOR in hexadecimal",
                            word.text
                        ),
                    ));
                }
            }
            Action::Extension(options)
        }
        "TOS" => {
            for option in &options {
                let word = &option.values[0];
                let parsed = if option.name == "--set-tos" {
                    parse_tos(&word.text)
                } else {
                    xtables_strtoui(&word.text, 0, 255)
                        .map(|_| ())
                        .ok_or_else(|| format!("`{}` is not between 0 and 255", word.text))
                };
                parsed.map_err(|message| (word.span, format!("{}: {message}", option.name)))?;
            }
            Action::Extension(options)
        }
        "DNPT" | "SNPT" => {
            for option in &options {
                let word = &option.values[0];
                parse_npt_prefix(&word.text)
                    .map_err(|message| (word.span, format!("{}: {message}", option.name)))?;
            }
            Action::Extension(options)
        }
        "TEE" => {
            // A numeric host as getaddrinfo reads it. xt_TEE refuses the
            // all-zero address (iptables-restore 1.8.9: "line N failed").
            if let Some(word) = first_value("--gateway") {
                match super::values::numeric_host(&word.text) {
                    None => {
                        return Err((
                            word.span,
                            format!("--gateway: `{}` is not an IP address", word.text),
                        ));
                    }
                    Some(gateway) if gateway.is_unspecified() => {
                        return Err((
                            word.span,
                            format!(
                                "--gateway: `{}` is {gateway}, which the kernel refuses as a gateway",
                                word.text
                            ),
                        ));
                    }
                    Some(_) => {}
                }
            }
            Action::Extension(options)
        }
        "ECN" => {
            for (option, high) in [
                ("--ecn-tcp-cwr", 1),
                ("--ecn-tcp-ece", 1),
                ("--ecn-ip-ect", 3),
            ] {
                if let Some(word) = first_value(option)
                    && xtables_strtoui(&word.text, 0, high).is_none()
                {
                    return Err((
                        word.span,
                        format!("{option}: `{}` is not between 0 and {high}", word.text),
                    ));
                }
            }
            Action::Extension(options)
        }
        "IDLETIMER" => {
            // The kernel refuses a timeout of 0 ("Invalid argument").
            if let Some(word) = first_value("--timeout")
                && xtables_strtoui(&word.text, 1, u64::from(u32::MAX)).is_none()
            {
                return Err((
                    word.span,
                    format!(
                        "--timeout: `{}` is not a number of seconds from 1 to 4294967295",
                        word.text
                    ),
                ));
            }
            Action::Extension(options)
        }
        "RATEEST" => {
            check_rateest_times(
                first_value("--rateest-interval"),
                first_value("--rateest-ewmalog"),
                span,
            )?;
            Action::Extension(options)
        }
        "REJECT" => Action::Reject(first_value("--reject-with").map(|word| word.text.clone())),
        "DNAT" | "SNAT" => {
            let option_name = if name == "DNAT" {
                "--to-destination"
            } else {
                "--to-source"
            };
            // Sized exactly: `Vec::push` makes room for four, and a
            // kube-proxy dump has a DNAT rule with one address per
            // endpoint (6.7 MB of slack on a 10,000-service dump).
            let given = || options.iter().filter(|option| option.name == option_name);
            let mut addresses = Vec::with_capacity(given().count());
            for option in given() {
                let word = &option.values[0];
                addresses.push(
                    parse_nat_address(&word.text)
                        .map_err(|m| (word.span, format!("{option_name}: {m}")))?,
                );
            }
            if addresses.is_empty() {
                return Err((span, format!("{name}: {option_name} is required")));
            }
            if name == "DNAT" {
                Action::Dnat(addresses)
            } else {
                Action::Snat(addresses)
            }
        }
        "MASQUERADE" | "REDIRECT" => {
            let ports = match first_value("--to-ports") {
                Some(word) => Some(
                    parse_to_ports(&word.text, name == "MASQUERADE")
                        .map_err(|m| (word.span, format!("--to-ports: {m}")))?,
                ),
                None => None,
            };
            if name == "MASQUERADE" {
                Action::Masquerade(ports)
            } else {
                Action::Redirect(ports)
            }
        }
        "NETMAP" => match first_value("--to") {
            Some(word) => Action::Netmap(
                parse_ipnet(&netmap_prefix_clamped(&word.text))
                    .map_err(|m| (word.span, format!("--to: {m}")))?,
            ),
            None => return Err((span, "NETMAP: --to is required".to_string())),
        },
        "MARK" | "CONNMARK" => {
            // "MARK: One of the --set-xmark, --{and,or,xor,set}-mark options
            // is required", "CONNMARK target: No operation specified".
            let operations = if name == "MARK" {
                MARK_OPERATIONS
            } else {
                CONNMARK_OPERATIONS
            };
            if !options
                .iter()
                .any(|option| operations.contains(&option.name))
            {
                return Err((
                    span,
                    format!("{name}: one of {} is required", operations.join(", ")),
                ));
            }
            let mut options = options;
            for option in &mut options {
                if let Some(word) = option.values.first_mut() {
                    // A bit operation takes one number, no `/MASK` (MARK and
                    // CONNMARK: "bad value for option \"--and-mark\"").
                    if matches!(option.name, "--and-mark" | "--or-mark" | "--xor-mark")
                        && word.text.contains('/')
                    {
                        return Err((
                            word.span,
                            format!("{}: `{}` takes no mask", option.name, word.text),
                        ));
                    }
                    let value = parse_mark(&word.text)
                        .map_err(|m| (word.span, format!("{}: {m}", option.name)))?;
                    if let Some((canonical, text)) = canonical_mark(option.name, value) {
                        option.name = canonical;
                        word.text = Cow::Owned(text);
                    }
                }
            }
            Action::Extension(options)
        }
        "TTL" | "HL" | "DSCP" => {
            // xtables' integer options: TTL/HL set 0..255, change by 1..255;
            // DSCP 0..63. C notation, as strtoul reads it.
            let ranges: &[(&str, u32, u32)] = match name {
                "TTL" => &[
                    ("--ttl-set", 0, 255),
                    ("--ttl-inc", 1, 255),
                    ("--ttl-dec", 1, 255),
                ],
                "HL" => &[
                    ("--hl-set", 0, 255),
                    ("--hl-inc", 1, 255),
                    ("--hl-dec", 1, 255),
                ],
                _ => &[("--set-dscp", 0, 63)],
            };
            for &(option, low, high) in ranges {
                if let Some(word) = first_value(option)
                    && !parse_u32(&word.text).is_ok_and(|n| (low..=high).contains(&n))
                {
                    return Err((
                        word.span,
                        format!("{option}: `{}` is not between {low} and {high}", word.text),
                    ));
                }
            }
            if let Some(word) = first_value("--set-dscp-class") {
                parse_dscp_class(&word.text)
                    .map_err(|m| (word.span, format!("--set-dscp-class: {m}")))?;
            }
            // Each of them must be told what to do ("You must specify an
            // action", "Parameter --set-dscp is required").
            let actions: Vec<&str> = ranges
                .iter()
                .map(|&(option, ..)| option)
                .chain((name == "DSCP").then_some("--set-dscp-class"))
                .collect();
            if !options.iter().any(|option| actions.contains(&option.name)) {
                return Err((
                    span,
                    format!("{name}: one of {} is required", actions.join(", ")),
                ));
            }
            Action::Extension(options)
        }
        "TCPMSS" => {
            let set_mss = first_value("--set-mss");
            if set_mss.is_none() && !options.iter().any(|o| o.name == "--clamp-mss-to-pmtu") {
                return Err((
                    span,
                    "TCPMSS: --set-mss or --clamp-mss-to-pmtu is required".to_string(),
                ));
            }
            if let Some(word) = set_mss
                && !parse_u32(&word.text).is_ok_and(|mss| mss <= 65535)
            {
                return Err((
                    word.span,
                    format!("--set-mss: `{}` is not between 0 and 65535", word.text),
                ));
            }
            Action::Extension(options)
        }
        "CT" => {
            // A zone is a 16-bit number (C notation) or `mark`.
            for zone in ["--zone", "--zone-orig", "--zone-reply"] {
                if let Some(word) = first_value(zone)
                    && word.text != "mark"
                    && !parse_u32(&word.text).is_ok_and(|id| id <= 65535)
                {
                    return Err((
                        word.span,
                        format!(
                            "{zone}: `{}` is not a zone (0 to 65535, or `mark`)",
                            word.text
                        ),
                    ));
                }
            }
            // libxt_CT's event tables, names compared exactly, each
            // comma-separated name (even an empty one) looked up.
            for (option, names) in [
                (
                    "--ctevents",
                    &[
                        "new",
                        "related",
                        "destroy",
                        "reply",
                        "assured",
                        "protoinfo",
                        "helper",
                        "mark",
                        "natseqinfo",
                        "secmark",
                    ][..],
                ),
                ("--expevents", &["new"][..]),
            ] {
                if let Some(word) = first_value(option)
                    && let Some(bad) = word.text.split(',').find(|event| !names.contains(event))
                {
                    return Err((
                        word.span,
                        format!("{option}: `{bad}` is not an event ({})", names.join(", ")),
                    ));
                }
            }
            Action::Extension(options)
        }
        "NFLOG" => {
            // xtables' integer types: the group and threshold are 16-bit,
            // the size 32-bit; C notation, as strtoul reads it.
            for (option, high) in [
                ("--nflog-group", u32::from(u16::MAX)),
                ("--nflog-threshold", u32::from(u16::MAX)),
                ("--nflog-size", u32::MAX),
                ("--nflog-range", u32::MAX),
            ] {
                if let Some(word) = first_value(option)
                    && !parse_u32(&word.text).is_ok_and(|n| n <= high)
                {
                    return Err((
                        word.span,
                        format!("{option}: `{}` is not between 0 and {high}", word.text),
                    ));
                }
            }
            if let Some(word) = first_value("--nflog-prefix") {
                check_log_prefix("--nflog-prefix", word)?;
            }
            Action::Extension(options)
        }
        "LOG" => {
            if let Some(word) = first_value("--log-prefix") {
                check_log_prefix("--log-prefix", word)?;
            }
            if let Some(word) = first_value("--log-level")
                && !is_log_level(&word.text)
            {
                return Err((
                    word.span,
                    format!(
                        "--log-level: `{}` is not a log level (0 to 7, or emerg, alert, crit, error, warning, notice, info, debug, panic)",
                        word.text
                    ),
                ));
            }
            Action::Extension(options)
        }
        _ => Action::Extension(options),
    })
}

/// What libxt_LOG and libxt_NFLOG refuse in a prefix: an empty one
/// ("Argument must have a minimum length of 1 characters") and a newline,
/// which only an unclosed quote brings in, the line's end being part of
/// the word ("Newlines not allowed in --log-prefix", said by both).
fn check_log_prefix(option: &str, word: &Word<'_>) -> Result<(), ValueError> {
    if word.text.is_empty() {
        return Err((
            word.span,
            format!(
                "{option}: an empty prefix (iptables: \"Argument must have a minimum length of 1 characters\")"
            ),
        ));
    }
    if word.text.contains('\n') {
        return Err((
            word.span,
            format!(
                "{option}: the unclosed quote takes the line's newline into the prefix (iptables: \"Newlines not allowed in --log-prefix\")"
            ),
        ));
    }
    Ok(())
}

/// NETMAP's `--to` with a prefix length over the address's width made that
/// width, as iptables does (`10.0.0.0/40` loads as `10.0.0.0/32`).
fn netmap_prefix_clamped(text: &str) -> Cow<'_, str> {
    let Some((address, prefix)) = text.split_once('/') else {
        return Cow::Borrowed(text);
    };
    let width = if address.contains(':') { 128 } else { 32 };
    match prefix.parse::<u64>() {
        Ok(length) if length > width && prefix.bytes().all(|b| b.is_ascii_digit()) => {
            Cow::Owned(format!("{address}/{width}"))
        }
        _ => Cow::Borrowed(text),
    }
}

/// A syslog level as iptables reads `--log-level` (xtoptions.c): a number
/// from 0 to 7 in C notation (`07`, `0x4`), or one of its names, lower case.
fn is_log_level(text: &str) -> bool {
    log_level(text).is_some()
}

/// The number of a `--log-level` (see [`is_log_level`]).
fn log_level(text: &str) -> Option<u32> {
    const NAMES: &[(&str, u32)] = &[
        ("alert", 1),
        ("crit", 2),
        ("debug", 7),
        ("emerg", 0),
        ("error", 3),
        ("info", 6),
        ("notice", 5),
        ("panic", 0),
        ("warning", 4),
    ];
    match NAMES.iter().find(|(name, _)| *name == text) {
        Some(&(_, level)) => Some(level),
        None => parse_u32(text).ok().filter(|&level| level <= 7),
    }
}

/// The options of an untyped target as the kernel keeps them, for
/// comparing two rules the way `-D` does: in no particular order (each
/// sets its own field of the target's data; none may be given twice), and
/// where iptables writes one setting several ways, in one of them:
/// - LOG's `--log-level` by number, left out when it is the default 4
///   (`warning`), as iptables-save leaves it out;
/// - CONNMARK's `--save-mark` and `--restore-mark` with both masks
///   written: `--mask M` is `--nfmask M --ctmask M`, and each defaults to
///   0xffffffff, as iptables-save prints them.
///
/// (MARK's and CONNMARK's ways of setting a mark are made one when the
/// rule is read: see `canonical_mark`.)
pub fn loaded_options(target: &str, options: &[RawOption<'_>]) -> Vec<LoadedOption> {
    let mut loaded = unordered_options(options, |option, value| match (target, option) {
        ("LOG", "--log-level") => {
            log_level(value).map_or_else(|| value.to_string(), |l| l.to_string())
        }
        _ => value.to_string(),
    });
    match target {
        "LOG" => {
            loaded.retain(|(name, _, values)| !(name == "--log-level" && values[..] == ["4"]));
        }
        "CONNMARK"
            if loaded
                .iter()
                .any(|(name, ..)| name == "--save-mark" || name == "--restore-mark") =>
        {
            let (mut nfmask, mut ctmask) = (u32::MAX, u32::MAX);
            for (name, _, values) in &loaded {
                let Some(mask) = values.first().and_then(|text| parse_u32(text).ok()) else {
                    continue;
                };
                match name.as_str() {
                    "--mask" => (nfmask, ctmask) = (mask, mask),
                    "--nfmask" => nfmask = mask,
                    "--ctmask" => ctmask = mask,
                    _ => {}
                }
            }
            loaded
                .retain(|(name, ..)| !matches!(name.as_str(), "--mask" | "--nfmask" | "--ctmask"));
            loaded.push(("--nfmask".to_string(), false, vec![nfmask.to_string()]));
            loaded.push(("--ctmask".to_string(), false, vec![ctmask.to_string()]));
            loaded.sort();
        }
        _ => {}
    }
    loaded
}

/// MARK's and CONNMARK's ways of setting a mark as the kernel keeps them
/// (libxt_MARK.c revision 2, libxt_CONNMARK.c revision 1): every form is
/// one `--set-xmark VALUE/MASK`, which is what iptables-save prints, so
/// `--or-mark 0x4000` and `--set-xmark 0x4000/0x4000` are the same rule
/// (checked against both backends in `tests/kernel_delete.rs`).
fn canonical_mark(option: &str, given: super::values::MarkValue) -> Option<(&'static str, String)> {
    let explicit_mask = given.mask != u32::MAX;
    let (mark, mask) = match option {
        "--set-xmark" => (given.value, given.mask),
        "--set-mark" if explicit_mask => (given.value, given.value | given.mask),
        "--set-mark" => (given.value, u32::MAX),
        "--or-mark" => (given.value, given.value),
        "--and-mark" => (0, !given.value),
        "--xor-mark" => (given.value, 0),
        _ => return None,
    };
    Some(("--set-xmark", format!("{mark:#x}/{mask:#x}")))
}

/// Parse a NAT destination: `ADDR[-ADDR][:PORT[-PORT]]`, IPv6 in brackets.
pub fn parse_nat_address(text: &str) -> Result<NatAddress, String> {
    let (addresses, ports) = if let Some(rest) = text.strip_prefix('[') {
        let (inside, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("`{text}`: missing `]`"))?;
        let ports = after.strip_prefix(':');
        if ports.is_none() && !after.is_empty() {
            return Err(format!("`{text}`: expected `:PORT` after `]`"));
        }
        (inside, ports)
    } else {
        // One `:` separates the port; more make an IPv6 address without one.
        let bytes = text.as_bytes();
        match memchr::memchr(b':', bytes) {
            Some(colon) if memchr::memchr(b':', &bytes[colon + 1..]).is_none() => {
                (&text[..colon], Some(&text[colon + 1..]))
            }
            _ => (text, None),
        }
    };
    let (first, last) = if addresses.is_empty() {
        (None, None)
    } else {
        let parse = |t: &str| {
            t.parse::<IpAddr>()
                .map_err(|_| format!("`{t}` is not an IP address"))
        };
        // A single address (nearly every DNAT) is parsed once.
        match memchr::memchr(b'-', addresses.as_bytes()) {
            Some(dash) => (
                Some(parse(&addresses[..dash])?),
                Some(parse(&addresses[dash + 1..])?),
            ),
            None => {
                let only = parse(addresses)?;
                (Some(only), Some(only))
            }
        }
    };
    // Written as `--to-ports` is, shifted port maps included.
    let ports = ports.map(|ports| parse_to_ports(ports, true)).transpose()?;
    if first.is_none() && ports.is_none() {
        return Err("empty NAT destination".to_string());
    }
    Ok(NatAddress { first, last, ports })
}

/// `REJECT --reject-with` types of iptables, in the order its
/// `libipt_REJECT.c` tries them: (name, alias).
const REJECT_TYPES_V4: &[(&str, &str)] = &[
    ("icmp-net-unreachable", "net-unreach"),
    ("icmp-host-unreachable", "host-unreach"),
    ("icmp-proto-unreachable", "proto-unreach"),
    ("icmp-port-unreachable", "port-unreach"),
    ("icmp-net-prohibited", "net-prohib"),
    ("icmp-host-prohibited", "host-prohib"),
    ("tcp-reset", "tcp-rst"),
    ("icmp-admin-prohibited", "admin-prohib"),
];

/// The same for ip6tables (`libip6t_REJECT.c`).
const REJECT_TYPES_V6: &[(&str, &str)] = &[
    ("icmp6-no-route", "no-route"),
    ("icmp6-adm-prohibited", "adm-prohibited"),
    ("icmp6-addr-unreachable", "addr-unreach"),
    ("icmp6-port-unreachable", "port-unreach"),
    ("tcp-reset", "tcp-reset"),
    ("icmp6-policy-fail", "policy-fail"),
    ("icmp6-reject-route", "reject-route"),
];

/// The reply a `--reject-with` value names in `family`, by its canonical
/// name (the one iptables-save prints), or `None` when iptables refuses it.
/// iptables takes the first type whose name or alias starts with the value,
/// ignoring case: `tcp` is `tcp-reset`, `ICMP-HOST` is
/// `icmp-host-unreachable`.
pub fn reject_type(family: Family, written: &str) -> Option<&'static str> {
    let starts = |name: &str| {
        name.len() >= written.len()
            && name.as_bytes()[..written.len()].eq_ignore_ascii_case(written.as_bytes())
    };
    reject_table(family)
        .iter()
        .find(|(name, alias)| starts(name) || starts(alias))
        .map(|(name, _)| *name)
}

/// The reply of `-j REJECT` without `--reject-with` (what iptables-save
/// then writes).
pub fn default_reject_type(family: Family) -> &'static str {
    match family {
        Family::V4 => "icmp-port-unreachable",
        Family::V6 => "icmp6-port-unreachable",
    }
}

/// The `--reject-with` types of `family`, for a diagnostic.
pub fn reject_types(family: Family) -> impl Iterator<Item = &'static str> {
    reject_table(family).iter().map(|(name, _)| *name)
}

fn reject_table(family: Family) -> &'static [(&'static str, &'static str)] {
    match family {
        Family::V4 => REJECT_TYPES_V4,
        Family::V6 => REJECT_TYPES_V6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::matches::{MATCH_SPECS, match_spec};

    /// The options of `-j NAME WORDS...` as [`loaded_options`] gives them.
    fn loaded(name: &str, words: &str) -> Vec<LoadedOption> {
        use crate::model::rule::{Interpreted, Statement, interpret};
        use crate::syntax::{LineKind, parse_line};
        let line = format!("-A X -j {name} {words}");
        let parsed = parse_line(&line, 0, 1).expect("a rule line");
        let LineKind::Rule {
            counters,
            mut args,
            word_count,
        } = parsed.kind
        else {
            panic!("{line}: not a rule line")
        };
        let Interpreted {
            statement: Some(Statement::Append(_, rule)),
            ..
        } = interpret(1, parsed.span, counters, &mut args, word_count)
        else {
            panic!("{line}: not an append")
        };
        match rule.target.map(|target| target.action) {
            Some(Action::Extension(options)) => loaded_options(name, &options),
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn untyped_targets_compare_as_the_kernel_keeps_them() {
        // LOG: the level by number, the default 4 left out, any order.
        assert_eq!(loaded("LOG", ""), loaded("LOG", "--log-level warning"));
        assert_eq!(loaded("LOG", ""), loaded("LOG", "--log-level 0x4"));
        assert_eq!(
            loaded("LOG", "--log-level debug --log-prefix x"),
            loaded("LOG", "--log-prefix x --log-level 7")
        );
        assert_ne!(loaded("LOG", "--log-level 5"), loaded("LOG", ""));
        assert_ne!(
            loaded("LOG", "--log-prefix x"),
            loaded("LOG", "--log-prefix y")
        );
        // CONNMARK: saving and restoring with both masks written.
        assert_eq!(
            loaded("CONNMARK", "--save-mark"),
            loaded("CONNMARK", "--save-mark --mask 0xffffffff")
        );
        assert_eq!(
            loaded("CONNMARK", "--restore-mark --mask 0xff"),
            loaded("CONNMARK", "--restore-mark --ctmask 255 --nfmask 0xff")
        );
        assert_ne!(
            loaded("CONNMARK", "--restore-mark --nfmask 0xff"),
            loaded("CONNMARK", "--restore-mark --mask 0xff")
        );
        assert_ne!(
            loaded("CONNMARK", "--save-mark"),
            loaded("CONNMARK", "--restore-mark")
        );
        // Setting a mark is one `--set-xmark` once read.
        assert_eq!(
            loaded("CONNMARK", "--and-mark 0xf"),
            loaded("CONNMARK", "--set-xmark 0x0/0xfffffff0")
        );
    }

    /// What iptables-restore 1.8.9 (legacy, in a private namespace) said of
    /// `-j RATEEST --rateest-name x` with these interval and ewmalog
    /// values (`None`: not given): loaded, or refused by which check.
    #[test]
    fn rateest_times_as_iptables_checks_them() {
        let cases: &[(Option<&str>, Option<&str>, Option<&str>)] = &[
            (Some("250ms"), Some("1s"), None),
            (Some("3s"), Some("8s"), None),
            (Some("1"), Some("2"), None),
            (Some("0.5s"), Some("2s"), None),
            (Some("1s"), Some("4s"), None),
            (Some("1us"), Some("4s"), None),
            (Some("1e3ms"), Some("4s"), None),
            (Some("1SEC"), Some("4s"), None),
            (Some("1.5"), Some("4s"), None),
            (Some("1us"), Some("1000s"), None),
            (Some("1us"), Some("1500s"), Some("ewmalog")),
            (Some("1s"), Some("1s"), Some("ewmalog")),
            (Some("1s"), Some("100ms"), Some("ewmalog")),
            (Some("8s"), Some("8s"), Some("ewmalog")),
            (Some("250ms"), Some("250ms"), Some("ewmalog")),
            (Some("1s"), None, Some("ewmalog")),
            (None, None, Some("ewmalog")),
            (Some("0s"), Some("4s"), Some("ewmalog")),
            (Some("16s"), Some("32s"), Some("interval value")),
            (Some("-1s"), Some("4s"), Some("interval value")),
            (Some("1e12"), Some("4s"), Some("interval value")),
            (Some("1e30s"), Some("4s"), Some("ewmalog")),
            (Some("1xs"), Some("4s"), Some("bad interval")),
            (Some("abc"), Some("4s"), Some("bad interval")),
            (Some("2 s"), Some("4s"), Some("bad interval")),
        ];
        let word = |text: &'static str| Word {
            text: Cow::Borrowed(text),
            span: Span::new(1, 2),
        };
        for &(interval, ewmalog, refused) in cases {
            let (interval_word, ewmalog_word) = (interval.map(word), ewmalog.map(word));
            let result = check_rateest_times(
                interval_word.as_ref(),
                ewmalog_word.as_ref(),
                Span::new(0, 1),
            );
            match (refused, result) {
                (None, Ok(())) => {}
                (Some(what), Err((_, message))) => assert!(
                    message.contains(what),
                    "{interval:?} {ewmalog:?}: {message}, expected {what}"
                ),
                (refused, result) => {
                    panic!("{interval:?} {ewmalog:?}: {result:?}, iptables: {refused:?}")
                }
            }
        }
    }

    #[test]
    fn extensions_are_looked_up_by_exact_name() {
        for spec in TARGET_SPECS {
            assert!(std::ptr::eq(target_spec(spec.name).unwrap(), spec));
            assert!(is_extension(spec.name), "{}", spec.name);
        }
        for spec in MATCH_SPECS {
            assert!(std::ptr::eq(match_spec(spec.name).unwrap(), spec));
        }
        for name in NON_TERMINAL_EXTENSIONS.iter().chain(TERMINAL_EXTENSIONS) {
            assert!(is_extension(name), "{name}");
        }
        assert!(is_extension("NFQUEUE"));
        // Names are case-sensitive, as in iptables: `dnat` is a user chain.
        for chain in ["KUBE-SERVICES", "dnat", "DNAT ", "", "LOG-AND-DROP"] {
            assert!(!is_extension(chain), "{chain:?}");
            assert!(target_spec(chain).is_none(), "{chain:?}");
        }
        assert!(match_spec("TCP").is_none());
    }

    #[test]
    fn reject_types_match_as_iptables_matches_them() {
        // The first type whose name or alias starts with the value, in
        // libipt_REJECT.c's order, ignoring case.
        assert_eq!(reject_type(Family::V4, "tcp"), Some("tcp-reset"));
        assert_eq!(reject_type(Family::V4, "TCP-RST"), Some("tcp-reset"));
        assert_eq!(
            reject_type(Family::V4, "icmp-h"),
            Some("icmp-host-unreachable")
        );
        assert_eq!(
            reject_type(Family::V4, "host-prohib"),
            Some("icmp-host-prohibited")
        );
        assert_eq!(reject_type(Family::V4, ""), Some("icmp-net-unreachable"));
        assert_eq!(reject_type(Family::V4, "icmp6-port-unreachable"), None);
        assert_eq!(reject_type(Family::V4, "echo-reply"), None);
        assert_eq!(
            reject_type(Family::V6, "port-unreach"),
            Some("icmp6-port-unreachable")
        );
        assert_eq!(reject_type(Family::V6, "tcp-rst"), None);
        assert_eq!(reject_type(Family::V6, "icmp-port-unreachable"), None);
        assert_eq!(reject_types(Family::V6).count(), 7);
    }

    #[test]
    fn nat_addresses() {
        let plain = parse_nat_address("10.244.0.63:80").unwrap();
        assert_eq!(plain.to_string(), "10.244.0.63:80");
        assert_eq!(plain.ports, Some(PortRange { lo: 80, hi: 80 }));
        let v6 = parse_nat_address("[fd00::1]:8080").unwrap();
        assert_eq!(v6.to_string(), "[fd00::1]:8080");
        assert_eq!(parse_nat_address("fd00::1").unwrap().to_string(), "fd00::1");
        assert_eq!(
            parse_nat_address("10.0.0.1-10.0.0.9:80-90")
                .unwrap()
                .to_string(),
            "10.0.0.1-10.0.0.9:80-90"
        );
        assert!(parse_nat_address("10.0.0.300:80").is_err());
        assert!(parse_nat_address("").is_err());
    }

    #[test]
    fn flow_is_decided_by_the_target() {
        let target = |name: &str, action: Action<'static>, goto: bool| Target {
            name: Cow::Owned(name.to_string()),
            name_span: Span::default(),
            span: Span::default(),
            goto,
            action,
            chain: None,
        };
        assert_eq!(
            target("ACCEPT", Action::Accept, false).flow(),
            Flow::Terminate
        );
        assert_eq!(target("RETURN", Action::Return, false).flow(), Flow::Return);
        assert_eq!(target("X", Action::Chain, false).flow(), Flow::Call);
        assert_eq!(target("X", Action::Chain, true).flow(), Flow::Goto);
        assert_eq!(
            target("LOG", Action::Extension(vec![]), false).flow(),
            Flow::Continue
        );
        assert_eq!(
            target("TPROXY", Action::Extension(vec![]), false).flow(),
            Flow::Terminate
        );
        assert_eq!(
            target("DNAT", Action::Dnat(vec![]), false).flow(),
            Flow::Terminate
        );
    }
}
