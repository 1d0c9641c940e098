//! From the words of a rule line to a restore command and a typed [`Rule`].
//!
//! Options are assigned the way iptables assigns them: an option belongs to
//! the target or the loaded match that defines it; `--dport` after
//! `-p tcp` without `-m tcp` loads the protocol's match implicitly; an
//! option nobody defines is an error. Values are taken like getopt takes
//! them, so `--mark -j` gives `--mark` the value `-j` (and an error).

use std::borrow::Cow;

use super::matches::{
    ExtensionSpec, MATCH_MODULES, Match, MatchKind, ONLY_LEGACY_REFUSES, OptionSpec, TcpFlags,
    build_match, match_spec,
};
use super::targets::{
    Action, CONNMARK_OPERATIONS, MARK_OPERATIONS, Target, build_action, is_extension, target_spec,
};
use super::values::{AddressMatch, parse_address};
use super::{Negatable, Protocol, RawOption, Rule, written_protocol};
use crate::checks::hooks::NFT_LOADS_NOTE;
use crate::diagnostics::codes::{
    ARGUMENT_LIMIT, BAD_NEGATION, BAD_VALUE, CONFLICTING_OPTION, EMPTY_RANGE, HOST_NAME_ADDRESS,
    IMPOSSIBLE_TCP_FLAGS, OBSOLETE_NEGATION, SYNTAX_ERROR, TRUNCATED_COMMENT, TRUNCATED_LOG_PREFIX,
    UNKNOWN_MODULE, UNKNOWN_OPTION,
};
use crate::diagnostics::{CodeInfo, Diagnostic, Severity, suggest};
use crate::syntax::{Arg, Counters, Span, Word};

/// Longest word iptables-restore accepts (its buffer is 1024 bytes).
pub const MAX_WORD_LEN: usize = 1023;
/// Most words iptables-restore accepts on one rule line.
pub const MAX_WORDS: usize = 255;

/// A restore command with its arguments.
///
/// Rules are boxed: a statement is moved from the interpreter through the
/// parsed lines into the model, and each move of a 272-byte rule was a
/// `memcpy`; a box is moved as a pointer (the interpreter builds the rule
/// in it), and its rule copied once into its chain (callgrind, `check` of
/// the 1k dump: `memcpy` 36.7M -> 22.9M of ~470M instructions).
#[derive(Debug, Clone, PartialEq)]
pub enum Statement<'a> {
    /// `-A CHAIN rule`.
    Append(Word<'a>, Box<Rule<'a>>),
    /// `-I CHAIN [N] rule`.
    Insert(Word<'a>, Option<u32>, Box<Rule<'a>>),
    /// `-D CHAIN rule` or `-D CHAIN N`.
    Delete(Word<'a>, RuleRef<'a>),
    /// `-R CHAIN N rule`.
    Replace(Word<'a>, u32, Box<Rule<'a>>),
    /// `-N CHAIN`.
    NewChain(Word<'a>),
    /// `-X [CHAIN]`.
    DeleteChain(Option<Word<'a>>),
    /// `-F [CHAIN]`.
    Flush(Option<Word<'a>>),
    /// `-Z [CHAIN [N]]`.
    Zero(Option<Word<'a>>, Option<u32>),
    /// `-P CHAIN POLICY`.
    Policy(Word<'a>, Word<'a>),
    /// `-E OLD NEW`.
    Rename(Word<'a>, Word<'a>),
}

/// Which rule `-D` deletes.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleRef<'a> {
    /// By 1-based position.
    Number(u32),
    /// By its specification.
    Spec(Box<Rule<'a>>),
}

/// What a rule line means, and what was wrong with it.
#[derive(Debug, Clone)]
pub struct Interpreted<'a> {
    /// The command; `None` when the line makes no sense (then a
    /// `syntax-error` is among the diagnostics).
    pub statement: Option<Statement<'a>>,
    /// Problems found in the line.
    pub diagnostics: Vec<Diagnostic>,
    /// `-s`/`-d` with more than one address: iptables adds a rule per pair.
    pub address_lists: Option<Box<AddressLists>>,
    /// Per family (IPv4, IPv6), where the line says `-4` or `-6`: how many
    /// of `diagnostics` were found before it. The restore of the other
    /// family stops reading the line there and skips it, so that one file
    /// can feed both iptables-restore and ip6tables-restore. Boxed: few
    /// lines have one, and every line is moved several times.
    pub family_markers: Option<Box<[Option<usize>; 2]>>,
}

impl Interpreted<'_> {
    fn refused(diagnostics: Vec<Diagnostic>) -> Self {
        Interpreted {
            statement: None,
            diagnostics,
            address_lists: None,
            family_markers: None,
        }
    }
}

/// The addresses of `-s a,b -d c,d`. iptables adds one rule per pair of a
/// source and a destination, sources outer (`-I` inserts each at the same
/// position, so they end up in reverse), deletes one per pair for `-D` and
/// refuses `-R`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AddressLists {
    /// `-s`'s addresses; empty when it has one or none (the rule's own).
    pub sources: Vec<Negatable<AddressMatch>>,
    /// `-d`'s addresses; empty when it has one or none.
    pub destinations: Vec<Negatable<AddressMatch>>,
}

impl AddressLists {
    /// How many rules iptables makes of the line.
    pub fn pair_count(&self) -> usize {
        self.sources.len().max(1) * self.destinations.len().max(1)
    }

    /// One rule per pair of addresses, in the order iptables adds them.
    pub fn rules<'a>(&self, rule: &Rule<'a>) -> Vec<Rule<'a>> {
        let sources: Vec<_> = if self.sources.is_empty() {
            vec![rule.source]
        } else {
            self.sources.iter().copied().map(Some).collect()
        };
        let destinations: Vec<_> = if self.destinations.is_empty() {
            vec![rule.destination]
        } else {
            self.destinations.iter().copied().map(Some).collect()
        };
        let mut rules = Vec::with_capacity(sources.len() * destinations.len());
        for source in &sources {
            for destination in &destinations {
                rules.push(Rule {
                    source: *source,
                    destination: *destination,
                    ..rule.clone()
                });
            }
        }
        rules
    }
}

struct ModuleBuilder<'a> {
    name: Cow<'a, str>,
    spec: Option<&'static ExtensionSpec>,
    span: Span,
    implicit: bool,
    options: Vec<RawOption<'a>>,
    /// An option was refused (given with one it excludes, or without its
    /// value) and left out, so what the module then lacks is not reported
    /// as well.
    refused_option: bool,
}

struct TargetBuilder<'a> {
    name: Cow<'a, str>,
    name_span: Span,
    span: Span,
    goto: bool,
    spec: Option<&'static ExtensionSpec>,
    options: Vec<RawOption<'a>>,
    /// As for [`ModuleBuilder::refused_option`].
    refused_option: bool,
}

/// Who takes an extension option, and how many values (when known).
#[derive(Clone, Copy)]
enum Owner {
    /// The rule's target, which knows the option.
    Target(&'static OptionSpec),
    /// The loaded match at this index, which knows the option.
    Module(usize, &'static OptionSpec),
    /// The protocol's match, loaded implicitly by the option.
    Implicit(&'static ExtensionSpec, &'static OptionSpec),
    /// A target iptlint does not know the options of.
    OpaqueTarget,
    /// A match iptlint does not know the options of, at this index.
    OpaqueModule(usize),
}

struct Interpreter<'a> {
    /// The words not read yet, the next one last (`pop` reads it).
    args: Vec<Arg<'a>>,
    diagnostics: Vec<Diagnostic>,
    negation: Option<Span>,
    command: Option<(char, Span)>,
    chain: Option<Word<'a>>,
    positional: Vec<Word<'a>>,
    /// Boxed from the start: the statement takes this box as it is.
    rule: Box<Rule<'a>>,
    modules: Vec<ModuleBuilder<'a>>,
    target: Option<TargetBuilder<'a>>,
    spec_span: Option<Span>,
    /// `-s`/`-d` lists of more than one address.
    address_lists: Option<Box<AddressLists>>,
    /// See [`Interpreted::family_markers`].
    family_markers: Option<Box<[Option<usize>; 2]>>,
}

/// Interpret the words of one rule line.
///
/// `word_count` is how many words the line has: `args` may hold only the
/// first [`crate::syntax::MAX_KEPT_WORDS`] of them. The words are taken out
/// of `args`, which is left empty (its room kept for the next line).
pub fn interpret<'a>(
    line: u32,
    span: Span,
    counters: Option<Counters>,
    args: &mut Vec<Arg<'a>>,
    word_count: usize,
) -> Interpreted<'a> {
    let mut diagnostics = Vec::new();
    let word_count = word_count.max(args.len());
    if word_count > MAX_WORDS {
        let mut diagnostic = Diagnostic::new(
            &ARGUMENT_LIMIT,
            span,
            format!("{word_count} words on one line; iptables-restore takes at most {MAX_WORDS}"),
        );
        if word_count > args.len() {
            diagnostic = diagnostic.with_note(format!(
                "iptlint read only the first {} words of this line",
                args.len()
            ));
        }
        diagnostics.push(diagnostic);
    }
    for arg in args.iter() {
        if let Arg::Word(word) = arg
            && word.text.len() > MAX_WORD_LEN
        {
            diagnostics.push(Diagnostic::new(
                &ARGUMENT_LIMIT,
                word.span,
                format!(
                    "a word of {} bytes; iptables-restore takes at most {MAX_WORD_LEN}",
                    word.text.len()
                ),
            ));
        }
    }
    let mut words = std::mem::take(args);
    words.reverse();
    let mut interpreter = Interpreter {
        args: words,
        diagnostics,
        negation: None,
        command: None,
        chain: None,
        positional: Vec::new(),
        rule: Box::new(Rule {
            line,
            span,
            spec: Span::new(span.end as usize, span.end as usize),
            counters,
            source: None,
            destination: None,
            in_interface: None,
            out_interface: None,
            protocol: None,
            fragment: None,
            matches: Vec::new(),
            target: None,
        }),
        modules: Vec::new(),
        target: None,
        spec_span: None,
        address_lists: None,
        family_markers: None,
    };
    interpreter.run();
    *args = std::mem::take(&mut interpreter.args);
    args.clear();
    let family_markers = interpreter.family_markers.take();
    Interpreted {
        family_markers,
        ..interpreter.finish()
    }
}

/// The match named after each protocol: what `-p tcp --dport 22` loads
/// implicitly, and what `-m tcp` needs `-p tcp` for. No `udplite` match in
/// iptables 1.8: `-p udplite --dport 5` is refused ("unknown option").
const PROTOCOL_MATCHES: &[(u8, &str)] = &[
    (6, "tcp"),
    (17, "udp"),
    (1, "icmp"),
    (58, "icmp6"),
    (132, "sctp"),
    (33, "dccp"),
    (50, "esp"),
    (51, "ah"),
    (135, "mh"),
];

/// Matches the kernel registers for one protocol that are not that
/// protocol's own match (so never loaded implicitly by `-p`): like those of
/// [`PROTOCOL_MATCHES`], a rule using one must say `-p` with that protocol,
/// not negated ("tcpmss match: only valid for protocol 6").
const PROTOCOL_BOUND_MATCHES: &[(u8, &str)] = &[(6, "tcpmss"), (6, "osf"), (108, "ipcomp")];

/// Targets the kernel takes on TCP rules only (`-p tcp`, not negated), with
/// what it says when refusing one: TCPOPTSTRIP's own message, and
/// SYNPROXY's `synproxy_tg4_check`/`synproxy_tg6_check`, which print none.
const TCP_TARGETS: &[(&str, &str)] = &[
    (
        "TCPOPTSTRIP",
        "TCPOPTSTRIP target: only valid for protocol 6",
    ),
    ("SYNPROXY", "Invalid argument"),
];

/// Options of one match or target that exclude each other, found by
/// loading each pair with iptables 1.8 ("option ... cannot be used together
/// with ..."). A name is the match's or target's; options by their
/// canonical names.
const EXCLUSIVE_OPTIONS: &[(&str, &[&str])] = &[
    ("tcp", &["--syn", "--tcp-flags"]),
    ("addrtype", &["--limit-iface-in", "--limit-iface-out"]),
    ("multiport", &["--sports", "--dports", "--ports"]),
    ("dscp", &["--dscp", "--dscp-class"]),
    ("statistic", &["--probability", "--every"]),
    ("statistic", &["--probability", "--packet"]),
    ("recent", &["--set", "--rcheck", "--update", "--remove"]),
    // What only refines `--rcheck` and `--update`: iptables refuses
    // `--rttl` with `--set` or `--remove`, the kernel's recent match the
    // other two ("Invalid argument").
    ("recent", &["--set", "--rttl"]),
    ("recent", &["--remove", "--rttl"]),
    ("recent", &["--set", "--seconds"]),
    ("recent", &["--remove", "--seconds"]),
    ("recent", &["--set", "--hitcount"]),
    ("recent", &["--remove", "--hitcount"]),
    ("ttl", &["--ttl-eq", "--ttl-gt", "--ttl-lt"]),
    ("hl", &["--hl-eq", "--hl-gt", "--hl-lt"]),
    ("connlimit", &["--connlimit-upto", "--connlimit-above"]),
    ("connlimit", &["--connlimit-saddr", "--connlimit-daddr"]),
    ("hashlimit", &["--hashlimit-upto", "--hashlimit-above"]),
    ("string", &["--string", "--hex-string"]),
    ("TOS", &["--set-tos", "--and-tos", "--or-tos", "--xor-tos"]),
    ("CONNSECMARK", &["--save", "--restore"]),
    ("ECN", &["--ecn-tcp-remove", "--ecn-tcp-cwr"]),
    ("ECN", &["--ecn-tcp-remove", "--ecn-tcp-ece"]),
    ("time", &["--kerneltz", "--utc"]),
    ("time", &["--localtz", "--utc"]),
    ("NFQUEUE", &["--queue-num", "--queue-balance"]),
    ("NFLOG", &["--nflog-size", "--nflog-range"]),
    ("DSCP", &["--set-dscp", "--set-dscp-class"]),
    ("TTL", &["--ttl-set", "--ttl-inc", "--ttl-dec"]),
    ("frag", &["--fragmore", "--fraglast"]),
    ("MARK", MARK_OPERATIONS),
    ("CONNMARK", CONNMARK_OPERATIONS),
];

/// The error for `option` of the match (`is_match`) or target `name`,
/// which already has `earlier`: the same option again (checked only when
/// `known`: iptlint knows the extension's options), or one that
/// [`EXCLUSIVE_OPTIONS`] says it excludes. Called for every option of
/// every rule, so nothing is allocated unless there is an error.
fn conflict(
    (name, is_match): (&str, bool),
    earlier: &[RawOption<'_>],
    option: &RawOption<'_>,
    known: bool,
) -> Option<Diagnostic> {
    if earlier.is_empty() {
        return None;
    }
    let owner = || format!("`-{} {name}`", if is_match { 'm' } else { 'j' });
    // Each element of a policy match (elements are separated by `--next`)
    // takes these once; build_match checks them per element.
    let repeatable = is_match
        && name == "policy"
        && matches!(
            option.name,
            "--reqid" | "--spi" | "--proto" | "--mode" | "--tunnel-src" | "--tunnel-dst" | "--next"
        );
    if known
        && !repeatable
        && let Some(first) = earlier.iter().find(|e| e.name == option.name)
    {
        return Some(
            error(
                &CONFLICTING_OPTION,
                option.span,
                format!("`{}` can only be given once in {}", option.name, owner()),
            )
            .with_secondary(first.span, "first given here")
            .with_note(format!(
                "iptables-restore refuses the line (\"option \\\"{}\\\" can only be used once\"){}",
                option.name,
                if is_match {
                    "; a new `-m` starts a new match that may take it again"
                } else {
                    ""
                }
            )),
        );
    }
    let (other, group) = EXCLUSIVE_OPTIONS
        .iter()
        .filter(|(owner_name, group)| *owner_name == name && group.contains(&option.name))
        .find_map(|(_, group)| {
            earlier
                .iter()
                .find(|e| e.name != option.name && group.contains(&e.name))
                .map(|other| (other, group))
        })?;
    Some(
        error(
            &CONFLICTING_OPTION,
            option.span,
            format!(
                "`{}` cannot be used together with `{}` in {}",
                option.name,
                other.name,
                owner()
            ),
        )
        .with_secondary(other.span, "given here")
        .with_note(format!(
            "{} takes only one of {}; iptables-restore refuses the line",
            owner(),
            group
                .iter()
                .map(|name| format!("`{name}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    )
}

/// The longest comment the kernel keeps (`XT_MAX_COMMENT_LEN` is 256, the
/// last byte a NUL).
const MAX_COMMENT: usize = 255;
/// The longest LOG prefix the kernel keeps: `xt_log_info.prefix` is 30
/// bytes, the last a NUL (both backends).
const MAX_LOG_PREFIX: usize = 29;
/// The longest NFLOG prefix iptables-legacy loads (`xt_nflog_info.prefix`
/// is 64 bytes) and the longest iptables-nft does (it loads NFLOG as nf_tables'
/// own `log`, whose prefix is 128 bytes).
const MAX_NFLOG_PREFIX: (usize, usize) = (63, 127);

/// The first `kept` bytes of `text`, to the char boundary below them: what
/// iptables-save shows of a text the kernel cut.
fn cut(text: &str, kept: usize) -> &str {
    &text[..crate::source::floor_char_boundary(text, kept)]
}

/// Match options iptables 1.8.9 refuses to invert (`! --opt`), by module:
/// each probed with `-m MODULE ! --opt` through iptables-legacy-restore
/// (ip6tables for `ipv6header`), which says "MODULE: option \"--opt\"
/// cannot be inverted" (`set`: "--opt option cannot be inverted"). Such an
/// option is left out of its module, whose builder in `matches.rs` then
/// never sees it; the builders refuse the other options that take no `!`
/// as they read them (`not_negatable`).
const NOT_INVERTIBLE: &[(&str, &[&str])] = &[
    ("addrtype", &["--limit-iface-in", "--limit-iface-out"]),
    ("connbytes", &["--connbytes-dir", "--connbytes-mode"]),
    (
        "connlimit",
        &["--connlimit-mask", "--connlimit-saddr", "--connlimit-daddr"],
    ),
    (
        "hashlimit",
        &[
            "--hashlimit-burst",
            "--hashlimit-mode",
            "--hashlimit-name",
            "--hashlimit-htable-size",
            "--hashlimit-htable-max",
            "--hashlimit-htable-expire",
            "--hashlimit-htable-gcinterval",
            "--hashlimit-srcmask",
            "--hashlimit-dstmask",
            "--hashlimit-rate-match",
            "--hashlimit-rate-interval",
        ],
    ),
    ("ipv6header", &["--soft"]),
    ("owner", &["--suppl-groups"]),
    ("policy", &["--pol", "--strict", "--next"]),
    (
        "rpfilter",
        &["--loose", "--validmark", "--accept-local", "--invert"],
    ),
    (
        "set",
        &[
            "--return-nomatch",
            "--packets-lt",
            "--packets-gt",
            "--bytes-lt",
            "--bytes-gt",
        ],
    ),
    ("string", &["--from", "--to", "--algo", "--icase"]),
    (
        "time",
        &["--contiguous", "--kerneltz", "--utc", "--localtz"],
    ),
];

/// iptables' own long options (iptables-legacy 1.8.9's `original_opts`)
/// with the short form each stands for: getopt_long takes an unambiguous
/// prefix of any of them (`--proto tcp`), as of a loaded extension's.
const BUILTIN_LONG_OPTIONS: &[(&str, &str)] = &[
    ("--append", "-A"),
    ("--delete", "-D"),
    ("--check", "-C"),
    ("--insert", "-I"),
    ("--replace", "-R"),
    ("--list", "-L"),
    ("--list-rules", "-S"),
    ("--flush", "-F"),
    ("--zero", "-Z"),
    ("--new-chain", "-N"),
    ("--delete-chain", "-X"),
    ("--rename-chain", "-E"),
    ("--policy", "-P"),
    ("--source", "-s"),
    ("--destination", "-d"),
    ("--src", "-s"),
    ("--dst", "-d"),
    ("--protocol", "-p"),
    ("--in-interface", "-i"),
    ("--jump", "-j"),
    ("--table", "-t"),
    ("--match", "-m"),
    ("--numeric", "-n"),
    ("--out-interface", "-o"),
    ("--verbose", "-v"),
    ("--wait", "-w"),
    ("--wait-interval", "-W"),
    ("--exact", "-x"),
    ("--fragments", "-f"),
    ("--version", "-V"),
    ("--help", "-h"),
    ("--line-numbers", "-0"),
    ("--modprobe", "-M"),
    ("--set-counters", "-c"),
    ("--goto", "-g"),
    ("--ipv4", "-4"),
    ("--ipv6", "-6"),
];

/// Whether iptables' option parser takes `word` for an option (`-x`,
/// `--name`), not for a value.
fn is_option(word: &str) -> bool {
    word.len() > 1 && word.starts_with('-')
}

/// iptables' own options (not an extension's), by what they do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Builtin {
    /// `-A`, `-I`, ...: the command letter.
    Command(char),
    /// `-s` or `-d`.
    Address { is_source: bool },
    /// `-i` or `-o`.
    Interface { is_in: bool },
    /// `-p`.
    Protocol,
    /// `-f`.
    Fragment,
    /// `-m`.
    Match,
    /// `-j`, or `-g` when `goto`.
    Target { goto: bool },
    /// `-c`.
    Counters,
    /// `-4` or `-6`.
    Family { is_ipv6: bool },
    /// `-t`.
    Table,
}

/// Which of iptables' own options `option` is, by its short or long name.
/// The short forms, most of a rule's options, are told apart by their
/// letter, and each arm of the interpreter then knows which of its options
/// it has without comparing names again (callgrind, `check` of the 1k dump:
/// 0.4% fewer instructions than matching each word against the names).
fn builtin_option(option: &str) -> Option<Builtin> {
    use Builtin::*;
    if let &[b'-', letter] = option.as_bytes() {
        return Some(match letter {
            b'A' | b'I' | b'D' | b'R' | b'N' | b'X' | b'F' | b'Z' | b'P' | b'E' => {
                Command(char::from(letter))
            }
            b's' | b'd' => Address {
                is_source: letter == b's',
            },
            b'i' | b'o' => Interface {
                is_in: letter == b'i',
            },
            b'p' => Protocol,
            b'f' => Fragment,
            b'm' => Match,
            b'j' | b'g' => Target {
                goto: letter == b'g',
            },
            b'c' => Counters,
            b'4' | b'6' => Family {
                is_ipv6: letter == b'6',
            },
            b't' => Table,
            _ => return None,
        });
    }
    Some(match option {
        "--append" => Command('A'),
        "--insert" => Command('I'),
        "--delete" => Command('D'),
        "--replace" => Command('R'),
        "--new-chain" | "--new" => Command('N'),
        "--delete-chain" => Command('X'),
        "--flush" => Command('F'),
        "--zero" => Command('Z'),
        "--policy" => Command('P'),
        "--rename-chain" => Command('E'),
        "--source" | "--src" => Address { is_source: true },
        "--destination" | "--dst" => Address { is_source: false },
        "--in-interface" => Interface { is_in: true },
        "--out-interface" => Interface { is_in: false },
        "--protocol" => Protocol,
        "--fragment" => Fragment,
        "--match" => Match,
        "--jump" => Target { goto: false },
        "--goto" => Target { goto: true },
        "--set-counters" => Counters,
        "--ipv4" => Family { is_ipv6: false },
        "--ipv6" => Family { is_ipv6: true },
        "--table" => Table,
        _ => return None,
    })
}

fn error(info: &'static CodeInfo, span: Span, message: impl Into<String>) -> Diagnostic {
    Diagnostic::new(info, span, message)
}

impl<'a> Interpreter<'a> {
    fn run(&mut self) {
        while let Some(arg) = self.args.pop() {
            match arg {
                Arg::Bang(span) => {
                    if let Some(first) = self.negation {
                        self.diagnostics.push(
                            error(&BAD_NEGATION, span, "multiple `!` flags are not allowed")
                                .with_secondary(first, "first `!` here"),
                        );
                    }
                    self.negation = Some(span);
                    if self.args.last().is_none() {
                        self.diagnostics.push(error(
                            &BAD_NEGATION,
                            span,
                            "`!` at the end of the line inverts nothing",
                        ));
                    }
                }
                Arg::Word(word) => self.word(word),
            }
        }
    }

    fn mark_spec(&mut self, span: Span) {
        self.spec_span = Some(self.spec_span.map_or(span, |s| s.to(span)));
    }

    fn take_negation(&mut self) -> Option<Span> {
        self.negation.take()
    }

    /// The addresses of `-s`/`-d`'s value: the first, and all of them
    /// when it is a comma list (iptables adds one rule per address).
    /// `None` when one is refused (reported here).
    fn addresses(
        &mut self,
        value: &Word<'a>,
        option_span: Span,
        negated: bool,
    ) -> Option<(Negatable<AddressMatch>, Vec<Negatable<AddressMatch>>)> {
        let one = |address| Negatable {
            value: address,
            negated,
            span: option_span,
        };
        if !value.text.contains(',') {
            return match parse_address(&value.text) {
                Ok(address) => {
                    self.note_host_name(&address, &value.text, value.span);
                    Some((one(address), Vec::new()))
                }
                Err(message) => {
                    self.diagnostics
                        .push(error(&BAD_VALUE, value.span, message));
                    None
                }
            };
        }
        if negated {
            self.diagnostics.push(
                error(
                    &BAD_NEGATION,
                    option_span,
                    "`!` cannot invert a list of addresses",
                )
                .with_note("iptables-restore: \"! not allowed with multiple source or destination IP addresses\""),
            );
            return None;
        }
        // Sub-spans only when the word is written as it reads (no quotes):
        // an address of a list is pointed at alone.
        let plain = (value.span.end - value.span.start) as usize == value.text.len();
        let mut addresses = Vec::new();
        let mut offset = 0;
        for element in value.text.split(',') {
            let span = if plain {
                let start = value.span.start as usize + offset;
                Span::new(start, start + element.len())
            } else {
                value.span
            };
            offset += element.len() + 1;
            match parse_address(element) {
                Ok(address) => {
                    self.note_host_name(&address, element, span);
                    addresses.push(Negatable {
                        span,
                        ..one(address)
                    })
                }
                Err(message) => {
                    self.diagnostics.push(error(&BAD_VALUE, span, message));
                    return None;
                }
            }
        }
        Some((addresses[0], addresses))
    }

    /// Warn about a `-m` module iptables does not have; a name too long
    /// for any is an error.
    fn unknown_module(&mut self, name: &Word<'a>) {
        // XT_EXTENSION_MAXNAMELEN, with its NUL: libxtables refuses a longer
        // name before it looks for the module.
        const MAX_NAME: usize = 28;
        if name.text.len() > MAX_NAME {
            self.diagnostics.push(
                error(
                    &BAD_VALUE,
                    name.span,
                    format!(
                        "`-m {}`: a match module's name has at most {MAX_NAME} characters",
                        name.text.escape_debug()
                    ),
                )
                .with_note(format!(
                    "iptables refuses the line: \"Invalid match name \"{}\" ({MAX_NAME} chars max)\"",
                    name.text.escape_debug()
                )),
            );
            return;
        }
        let mut diagnostic = Diagnostic::new(
            &UNKNOWN_MODULE,
            name.span,
            format!("iptables has no match module `{}`", name.text),
        )
        .with_primary_message("unknown module")
        .with_note("iptables refuses the line (\"Couldn't load match\") unless an extension from elsewhere (xtables-addons) provides the module");
        if let Some(close) = suggest::closest(&name.text, MATCH_MODULES.iter().copied()) {
            diagnostic = diagnostic.with_note(format!("did you mean `{close}`?"));
        }
        self.diagnostics.push(diagnostic);
    }

    /// Warn about an address of `-s`/`-d` written as a host name.
    fn note_host_name(&mut self, address: &AddressMatch, written: &str, span: Span) {
        if !address.is_host_name() {
            return;
        }
        let name = written.rsplit_once('/').map_or(written, |(name, _)| name);
        self.diagnostics.push(
            Diagnostic::new(
                &HOST_NAME_ADDRESS,
                span,
                format!("`{name}` is a host name: iptables looks it up when it loads the rule"),
            )
            .with_primary_message("not an address")
            .with_note("the kernel holds one rule per address found then; the line is refused when the name does not resolve (\"host/network not found\")")
            .with_note("iptlint does not resolve names: it reads the rule as matching some addresses it cannot know; write the addresses instead"),
        );
    }

    fn refuse_negation(&mut self, what: &str) {
        if let Some(bang) = self.take_negation() {
            self.diagnostics.push(error(
                &BAD_NEGATION,
                bang,
                format!("{what} cannot be inverted with `!`"),
            ));
        }
    }

    /// Take the `n` values of an option, accepting the old `--opt ! value`
    /// negation before them. Returns the values, whether the old negation
    /// was used, and the end of the last value.
    fn take_values(&mut self, option: &Word<'a>, n: u8) -> Option<(Vec<Word<'a>>, Option<Span>)> {
        let old_negation = self.take_old_negation(option, n);
        let mut values = Vec::with_capacity(n as usize);
        for _ in 0..n {
            values.push(self.next_value(option, n)?);
        }
        Some((values, old_negation))
    }

    /// [`Self::take_values`] for an option with one value, without a
    /// vector: the built-in options (`-s -d -i -o -p -m -j`) are most of a
    /// rule's words.
    fn take_value(&mut self, option: &Word<'a>) -> Option<(Word<'a>, Option<Span>)> {
        let old_negation = self.take_old_negation(option, 1);
        let value = self.next_value(option, 1)?;
        Some((value, old_negation))
    }

    /// The `!` of the old `--opt ! value` form, with its error: iptables
    /// 1.4.12 and later read that `!` as the option's value, so the word
    /// after it is left over and iptables-restore refuses the line (`-s !
    /// 10.0.0.0/8`: "Bad argument `10.0.0.0/8'"). Where no value follows
    /// (`-i ! -j ACCEPT`, or the end of the line), the `!` is left to be
    /// the value, as iptables takes it, with a warning.
    fn take_old_negation(&mut self, option: &Word<'a>, n: u8) -> Option<Span> {
        if n == 0 {
            return None;
        }
        let Some(&Arg::Bang(span)) = self.args.last() else {
            return None;
        };
        // The stack's top is the next word: the one after the `!` is below it.
        let value_follows = match self.args.len().checked_sub(2).map(|i| &self.args[i]) {
            Some(Arg::Word(word)) => !is_option(&word.text),
            Some(Arg::Bang(_)) => true,
            None => false,
        };
        let at = span_between(option.span, span);
        if !value_follows {
            // A quoted `"!"` (`--comment "!"`) was written as a value.
            let quoted = span.end - span.start > 1;
            if quoted {
                return None;
            }
            self.diagnostics.push(
                error(
                    &OBSOLETE_NEGATION,
                    at,
                    format!(
                        "`{} !` takes `!` as its value, not as a negation",
                        option.text
                    ),
                )
                .with_severity(Severity::Warning)
                .with_primary_message(format!("the value of `{}` is `!`", option.text))
                .with_note("iptables >= 1.4.12 reads a `!` after an option as the option's value (iptables <= 1.4.10 wrote `--opt ! value` for `! --opt value`)"),
            );
            return None;
        }
        self.args.pop();
        self.diagnostics.push(
            error(
                &OBSOLETE_NEGATION,
                at,
                format!(
                    "`{} !` puts the `!` after the option; iptables >= 1.4.12 refuses this",
                    option.text
                ),
            )
            .with_primary_message("write `! ".to_string() + &option.text + "` instead")
            .with_note(format!(
                "iptables >= 1.4.12 takes this `!` for the value of `{}`: iptables-restore refuses `!` as a value, or the word left over after it (\"Bad argument\")",
                option.text
            ))
            .with_note("this is the form written by iptables <= 1.4.10"),
        );
        Some(span)
    }

    /// The next value of an option that takes `n`, or an error when the
    /// line ends first.
    fn next_value(&mut self, option: &Word<'a>, n: u8) -> Option<Word<'a>> {
        match self.args.pop() {
            Some(Arg::Word(value)) => Some(value),
            Some(Arg::Bang(span)) => Some(Word {
                text: Cow::Borrowed("!"),
                span,
            }),
            None => {
                self.diagnostics.push(error(
                    &BAD_VALUE,
                    option.span,
                    format!(
                        "option `{}` needs {} value{}",
                        option.text,
                        n,
                        if n == 1 { "" } else { "s" }
                    ),
                ));
                None
            }
        }
    }

    /// Remember that `owner` lost an option to an error already reported.
    fn note_refused_option(&mut self, owner: Owner) {
        match owner {
            Owner::Module(index, _) | Owner::OpaqueModule(index) => {
                self.modules[index].refused_option = true;
            }
            Owner::Target(_) | Owner::OpaqueTarget => {
                if let Some(target) = &mut self.target {
                    target.refused_option = true;
                }
            }
            Owner::Implicit(..) => {}
        }
    }

    fn word(&mut self, word: Word<'a>) {
        let text: &str = &word.text;
        if !is_option(text) {
            self.refuse_negation("a plain word");
            self.positional_or_stray(word);
            return;
        }
        let option = builtin_option(text);
        if let Some(Builtin::Command(letter)) = option {
            self.refuse_negation("a command");
            self.command_word(letter, word);
            return;
        }
        self.mark_spec(word.span);
        match option {
            Some(Builtin::Command(_)) => unreachable!("handled above"),
            Some(Builtin::Address { is_source }) => {
                let negation = self.take_negation();
                let Some((value, old)) = self.take_value(&word) else {
                    return;
                };
                let value = &value;
                self.mark_spec(value.span);
                if self.given_twice(if is_source { 's' } else { 'd' }, word.span) {
                    return;
                }
                let option_span = negation.unwrap_or(word.span).to(value.span);
                let negated = negation.is_some() || old.is_some();
                let Some((first, addresses)) = self.addresses(value, option_span, negated) else {
                    return;
                };
                let first = Some(first);
                if !addresses.is_empty() {
                    let lists = self.address_lists.get_or_insert_default();
                    if is_source {
                        lists.sources = addresses;
                    } else {
                        lists.destinations = addresses;
                    }
                }
                if is_source {
                    self.rule.source = first;
                } else {
                    self.rule.destination = first;
                }
            }
            Some(Builtin::Interface { is_in }) => {
                let negation = self.take_negation();
                let Some((value, old)) = self.take_value(&word) else {
                    return;
                };
                self.mark_spec(value.span);
                if self.given_twice(if is_in { 'i' } else { 'o' }, word.span) {
                    return;
                }
                if value.text.is_empty() || value.text.len() > 15 {
                    self.diagnostics.push(error(
                        &BAD_VALUE,
                        value.span,
                        format!(
                            "`{}` is not an interface name (1 to 15 characters)",
                            value.text
                        ),
                    ));
                    return;
                }
                if value.text.contains(['/', ' ']) {
                    // iptables loads it, warning "weird character in
                    // interface"; no interface can have that name.
                    self.diagnostics.push(
                        error(
                            &BAD_VALUE,
                            value.span,
                            format!(
                                "`{}` cannot be an interface name (the kernel allows no `/` or space in one): no packet comes in or goes out by it",
                                value.text
                            ),
                        )
                        .with_severity(Severity::Warning)
                        .with_note("iptables loads the rule anyway (\"Warning: weird character in interface\")"),
                    );
                }
                let parsed = Some(Box::new(Negatable {
                    span: negation.unwrap_or(word.span).to(value.span),
                    negated: negation.is_some() || old.is_some(),
                    value: value.text,
                }));
                if is_in {
                    self.rule.in_interface = parsed;
                } else {
                    self.rule.out_interface = parsed;
                }
            }
            Some(Builtin::Protocol) => {
                let negation = self.take_negation();
                let Some((value, old)) = self.take_value(&word) else {
                    return;
                };
                let value = &value;
                self.mark_spec(value.span);
                if self.given_twice('p', word.span) {
                    return;
                }
                match Protocol::parse(&value.text) {
                    Ok(protocol) => {
                        self.rule.protocol = Some(Negatable {
                            value: protocol,
                            negated: negation.is_some() || old.is_some(),
                            span: negation.unwrap_or(word.span).to(value.span),
                        })
                    }
                    Err(message) => self
                        .diagnostics
                        .push(error(&BAD_VALUE, value.span, message)),
                }
            }
            Some(Builtin::Fragment) => {
                let negation = self.take_negation();
                if self.given_twice('f', word.span) {
                    return;
                }
                self.rule.fragment = Some(Negatable {
                    value: (),
                    negated: negation.is_some(),
                    span: negation.unwrap_or(word.span).to(word.span),
                });
            }
            Some(Builtin::Match) => {
                self.refuse_negation("`-m`");
                let Some((name, _)) = self.take_value(&word) else {
                    return;
                };
                self.mark_spec(name.span);
                if name.text.is_empty() || name.text.starts_with('-') {
                    self.diagnostics.push(error(
                        &BAD_VALUE,
                        name.span,
                        format!("`-m` needs a module name, found `{}`", name.text),
                    ));
                    return;
                }
                let spec = match_spec(&name.text);
                if spec.is_none() && !MATCH_MODULES.contains(&name.text.as_ref()) {
                    self.unknown_module(&name);
                }
                self.modules.push(ModuleBuilder {
                    spec,
                    span: word.span.to(name.span),
                    name: name.text,
                    implicit: false,
                    options: Vec::new(),
                    refused_option: false,
                });
            }
            Some(Builtin::Target { goto }) => {
                self.refuse_negation("a target");
                let Some((name, _)) = self.take_value(&word) else {
                    return;
                };
                self.mark_spec(name.span);
                if let Some(previous) = &self.target {
                    self.diagnostics.push(
                        error(&SYNTAX_ERROR, word.span, "a rule can have only one target")
                            .with_secondary(previous.span, "first target here"),
                    );
                    return;
                }
                self.target = Some(TargetBuilder {
                    // `-g` names a chain: iptables loads no target for it,
                    // so a target's options after it are unknown options.
                    spec: if goto { None } else { target_spec(&name.text) },
                    name_span: name.span,
                    span: word.span.to(name.span),
                    goto,
                    name: name.text,
                    options: Vec::new(),
                    refused_option: false,
                });
            }
            Some(Builtin::Counters) => {
                let Some((values, _)) = self.take_values(&word, 2) else {
                    return;
                };
                let parse = |w: &Word<'_>| w.text.parse::<u64>().ok();
                match (parse(&values[0]), parse(&values[1])) {
                    (Some(packets), Some(bytes)) => {
                        self.rule.counters = Some(Counters {
                            packets,
                            bytes,
                            span: word.span.to(values[1].span),
                        })
                    }
                    _ => self.diagnostics.push(error(
                        &BAD_VALUE,
                        values[0].span.to(values[1].span),
                        "`-c` needs two counters: packets and bytes",
                    )),
                }
            }
            Some(Builtin::Family { is_ipv6 }) => {
                let family = usize::from(is_ipv6);
                let seen = self.diagnostics.len();
                self.family_markers.get_or_insert_default()[family].get_or_insert(seen);
            }
            Some(Builtin::Table) => {
                self.diagnostics.push(error(
                    &SYNTAX_ERROR,
                    word.span,
                    "`-t` cannot be used in iptables-restore input: the table is the enclosing `*table`",
                ));
                self.args.pop();
            }
            None if text.starts_with("--") => self.extension_option(word),
            None => {
                self.refuse_negation("an unknown option");
                self.diagnostics.push(error(
                    &UNKNOWN_OPTION,
                    word.span,
                    format!("unknown option `{text}`"),
                ));
            }
        }
    }

    fn command_word(&mut self, letter: char, word: Word<'a>) {
        if let Some((_, first)) = self.command {
            self.diagnostics.push(
                error(
                    &SYNTAX_ERROR,
                    word.span,
                    "only one command is allowed per line",
                )
                .with_secondary(first, "first command here"),
            );
            return;
        }
        self.command = Some((letter, word.span));
        let needs_chain = matches!(letter, 'A' | 'I' | 'D' | 'R' | 'N' | 'P' | 'E');
        match self.args.last() {
            Some(Arg::Word(next)) if needs_chain || !next.text.starts_with('-') => {
                let Some(Arg::Word(chain)) = self.args.pop() else {
                    unreachable!()
                };
                self.chain = Some(chain);
            }
            _ if needs_chain => {
                self.diagnostics.push(error(
                    &SYNTAX_ERROR,
                    word.span,
                    format!("`{}` needs a chain name", word.text),
                ));
                return;
            }
            _ => return,
        }
        let positional_count = match letter {
            'P' | 'E' => 1,
            'I' | 'R' | 'D' | 'Z' => usize::from(matches!(
                self.args.last(),
                Some(Arg::Word(next)) if next.text.bytes().all(|b| b.is_ascii_digit()) && !next.text.is_empty()
            )),
            _ => 0,
        };
        for _ in 0..positional_count {
            match self.args.pop() {
                Some(Arg::Word(value)) => self.positional.push(value),
                _ => {
                    self.diagnostics.push(error(
                        &SYNTAX_ERROR,
                        word.span,
                        format!("`{}` needs another argument", word.text),
                    ));
                }
            }
        }
    }

    fn positional_or_stray(&mut self, word: Word<'a>) {
        self.diagnostics.push(error(
            &UNKNOWN_OPTION,
            word.span,
            format!(
                "unexpected argument `{}`: it belongs to no option",
                word.text
            ),
        ));
    }

    fn extension_option(&mut self, word: Word<'a>) {
        let name: &str = &word.text;
        // 1. a target that knows the option; 2. a loaded match that knows it
        // (latest first); 3. the protocol's match, loaded implicitly.
        let in_target = self
            .target
            .as_ref()
            .and_then(|t| t.spec)
            .and_then(|s| s.option(name));
        let in_module = if in_target.is_none() {
            self.modules
                .iter()
                .enumerate()
                .rev()
                .find_map(|(i, m)| m.spec.and_then(|s| s.option(name)).map(|spec| (i, spec)))
        } else {
            None
        };
        let mut ambiguous = Vec::new();
        if in_target.is_none() && in_module.is_none() {
            match self.abbreviated(name) {
                Ok(full) => {
                    // Read on as if the whole name were written.
                    self.word(Word {
                        text: Cow::Borrowed(full),
                        span: word.span,
                    });
                    return;
                }
                Err(candidates) => ambiguous = candidates,
            }
        }
        let negation = self.take_negation();
        let owner = if let Some(spec) = in_target {
            Some(Owner::Target(spec))
        } else if let Some((index, spec)) = in_module {
            Some(Owner::Module(index, spec))
        } else if let Some((spec, option)) = self.implicit_protocol_spec(name) {
            Some(Owner::Implicit(spec, option))
        } else if self
            .target
            .as_ref()
            .is_some_and(|t| !t.goto && t.spec.is_none() && is_extension(&t.name))
        {
            Some(Owner::OpaqueTarget)
        } else {
            self.modules
                .iter()
                .rposition(|m| m.spec.is_none())
                .map(Owner::OpaqueModule)
        };
        let Some(owner) = owner else {
            let known_here = self
                .modules
                .iter()
                .map(|m| format!("`-m {}`", m.name))
                .chain(self.target.iter().map(|t| format!("`-j {}`", t.name)))
                .collect::<Vec<_>>();
            let mut diagnostic = error(
                &UNKNOWN_OPTION,
                word.span,
                format!("unknown option `{name}`"),
            );
            diagnostic = if known_here.is_empty() {
                diagnostic.with_note(
                    "no match module is loaded; options like this one follow `-m MODULE`",
                )
            } else {
                diagnostic.with_note(format!(
                    "no option of that name in {}",
                    known_here.join(", ")
                ))
            };
            if ambiguous.len() > 1 {
                diagnostic = diagnostic.with_note(format!(
                    "`{name}` abbreviates {}: iptables takes an abbreviation only when it names one option",
                    ambiguous.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")
                ));
            }
            if let Some(hint) = renamed_option_hint(name) {
                diagnostic = diagnostic.with_note(hint);
            }
            self.diagnostics.push(diagnostic);
            // Skip what looks like its values so they are not reported as stray.
            while matches!(self.args.last(), Some(Arg::Word(w)) if !w.text.starts_with('-')) {
                self.args.pop();
            }
            return;
        };
        let arity = match owner {
            Owner::Target(option) | Owner::Module(_, option) | Owner::Implicit(_, option) => {
                Some(option.arity)
            }
            Owner::OpaqueTarget | Owner::OpaqueModule(_) => None,
        };
        let (values, old) = match arity {
            Some(n) => match self.take_values(&word, n) {
                Some(taken) => taken,
                None => {
                    self.note_refused_option(owner);
                    return;
                }
            },
            None => self.take_opaque_values(),
        };
        let canonical: &'a str = match owner {
            // An option's first name is the one iptables-save writes.
            Owner::Target(option) | Owner::Module(_, option) | Owner::Implicit(_, option) => {
                option.names[0]
            }
            Owner::OpaqueTarget | Owner::OpaqueModule(_) => match &word.text {
                Cow::Borrowed(text) => text,
                Cow::Owned(_) => "--?",
            },
        };
        let end = values.last().map_or(word.span, |value| value.span);
        self.mark_spec(end);
        let option = RawOption {
            name: canonical,
            negated: negation.is_some() || old.is_some(),
            span: negation.unwrap_or(word.span).to(end),
            values,
        };
        // Options iptables refuses with this one: the same option again
        // (not checked in unknown matches, which may take an option several
        // times, as the elements of `-m policy` do; every target here is one
        // of iptables' own), or one it excludes.
        let conflict = match owner {
            Owner::Target(_) | Owner::OpaqueTarget => self
                .target
                .as_ref()
                .and_then(|target| conflict((&target.name, false), &target.options, &option, true)),
            Owner::Module(index, _) | Owner::OpaqueModule(index) => {
                let module = &self.modules[index];
                let known = module.spec.is_some();
                conflict((&module.name, true), &module.options, &option, known)
            }
            Owner::Implicit(..) => None,
        };
        if let Some(diagnostic) = conflict {
            self.diagnostics.push(diagnostic);
            self.note_refused_option(owner);
            return;
        }
        // No target of iptables 1.8 lets an option be inverted.
        if option.negated && matches!(owner, Owner::Target(_) | Owner::OpaqueTarget) {
            let target = self.target.as_ref().map_or("", |t| &t.name);
            self.diagnostics.push(
                error(
                    &BAD_NEGATION,
                    option.span,
                    format!(
                        "`{}` of `-j {target}` cannot be inverted with `!`",
                        option.name
                    ),
                )
                .with_note("iptables-restore refuses the line: target options take no `!`"),
            );
        }
        if option.negated
            && let Owner::Module(index, _) | Owner::OpaqueModule(index) = owner
        {
            let module = &self.modules[index].name;
            if NOT_INVERTIBLE
                .iter()
                .any(|(name, options)| name == module && options.contains(&option.name))
            {
                self.diagnostics.push(
                    error(
                        &BAD_NEGATION,
                        option.span,
                        format!(
                            "`{}` of `-m {module}` cannot be inverted with `!`",
                            option.name
                        ),
                    )
                    .with_note(format!(
                        "iptables-restore refuses the line: \"{module}: option \"{}\" cannot be inverted\"",
                        option.name
                    )),
                );
                // Left out, as a conflicting option is: the module's own
                // checks neither see it nor miss it.
                self.note_refused_option(owner);
                return;
            }
        }
        match owner {
            Owner::Target(_) | Owner::OpaqueTarget => {
                let target = self.target.as_mut().expect("owner is the target");
                target.span = target.span.to(option.span);
                target.options.push(option);
            }
            Owner::Module(index, _) | Owner::OpaqueModule(index) => {
                let module = &mut self.modules[index];
                module.span = module.span.to(option.span);
                module.options.push(option);
            }
            Owner::Implicit(spec, _) => self.modules.push(ModuleBuilder {
                name: Cow::Borrowed(spec.name),
                spec: Some(spec),
                span: option.span,
                implicit: true,
                options: vec![option],
                refused_option: false,
            }),
        }
    }

    fn implicit_protocol_spec(
        &self,
        option: &str,
    ) -> Option<(&'static ExtensionSpec, &'static OptionSpec)> {
        let spec = self.implicit_protocol_match()?;
        spec.option(option).map(|o| (spec, o))
    }

    /// The match of the rule's `-p` protocol when it is not loaded yet:
    /// iptables loads it for an option no loaded extension knows.
    fn implicit_protocol_match(&self) -> Option<&'static ExtensionSpec> {
        let protocol = self.rule.protocol.as_ref().filter(|p| !p.negated)?;
        let &(_, module) = PROTOCOL_MATCHES
            .iter()
            .find(|(number, _)| protocol.value == Protocol::Number(*number))?;
        if self.modules.iter().any(|m| m.name == module) {
            return None;
        }
        match_spec(module)
    }

    /// The option `written` abbreviates, as getopt_long reads a long
    /// option that is not the whole name of one: the one option (of
    /// iptables' own and the loaded extensions') whose name it begins
    /// (`-m multiport --dport` is `--dports`); else, as iptables then loads
    /// the protocol's match and reads the option again, that match's
    /// option of that whole name (`Err(vec![])`: read it as written) or
    /// the one it begins. An iptables option comes back as its short form.
    /// `Err` holds the names it could stand for: none, or several
    /// (ambiguous, which iptables refuses as an unknown option).
    fn abbreviated(&self, written: &str) -> Result<&'static str, Vec<&'static str>> {
        let mut builtins: Vec<(&'static str, &'static str)> = Vec::new();
        for &(long, short) in BUILTIN_LONG_OPTIONS {
            if long.starts_with(written) && !builtins.iter().any(|&(_, s)| s == short) {
                builtins.push((long, short));
            }
        }
        fn add(
            options: &mut Vec<&'static super::matches::OptionSpec>,
            spec: &'static ExtensionSpec,
            written: &str,
        ) {
            for option in spec.options {
                if option.names.iter().any(|n| n.starts_with(written))
                    && !options.iter().any(|o| std::ptr::eq(*o, option))
                {
                    options.push(option);
                }
            }
        }
        let mut options = Vec::new();
        let loaded = self.target.as_ref().and_then(|t| t.spec).into_iter();
        for spec in loaded.chain(self.modules.iter().filter_map(|m| m.spec)) {
            add(&mut options, spec, written);
        }
        if builtins.is_empty()
            && options.is_empty()
            && let Some(spec) = self.implicit_protocol_match()
        {
            if spec.option(written).is_some() {
                // The whole name of the protocol match's option.
                return Err(Vec::new());
            }
            add(&mut options, spec, written);
        }
        match (builtins.as_slice(), options.as_slice()) {
            ([(_, short)], []) => Ok(short),
            ([], [option]) => Ok(option.names[0]),
            _ => Err(builtins
                .iter()
                .map(|&(long, _)| long)
                .chain(options.iter().map(|o| o.names[0]))
                .collect()),
        }
    }

    /// Values of an option whose arity iptlint does not know: the words up
    /// to the next option.
    fn take_opaque_values(&mut self) -> (Vec<Word<'a>>, Option<Span>) {
        let mut values = Vec::new();
        let mut old = None;
        loop {
            match self.args.last() {
                Some(Arg::Word(w)) if !is_option(&w.text) => {
                    let Some(Arg::Word(w)) = self.args.pop() else {
                        unreachable!()
                    };
                    values.push(w);
                }
                Some(Arg::Bang(span)) if values.is_empty() => {
                    // `--opt ! value` (old form) unless the `!` belongs to the next option.
                    let span = *span;
                    match self.args.iter().rev().nth(1) {
                        Some(Arg::Word(w)) if !w.text.starts_with('-') => {
                            self.args.pop();
                            old = Some(span);
                        }
                        _ => break,
                    }
                }
                _ => break,
            }
        }
        (values, old)
    }

    /// iptables accepts a port in a NAT target only when the rule names a
    /// protocol with ports (xtables' `libxt_NAT.c`: tcp, udp, sctp, dccp,
    /// or icmp, whose id stands in for a port; `! -p tcp` counts, since
    /// iptables looks at the number and not at the `!`). It checks while
    /// reading the option with the port, so a `-p` written after that option
    /// does not count: `-j DNAT --to-destination 10.1.1.1:80 -p tcp` is
    /// refused. `to_options` are the spans of the target's `--to-destination`,
    /// `--to-source` or `--to-ports` options, in the order written.
    fn check_nat_ports(&mut self, name: &str, action: &Action<'_>, to_options: &[Span]) {
        let with_port = match action {
            Action::Dnat(addresses) | Action::Snat(addresses) => addresses
                .iter()
                .position(|address| address.ports.is_some())
                .and_then(|index| to_options.get(index)),
            Action::Masquerade(Some(_)) | Action::Redirect(Some(_)) => to_options.first(),
            _ => None,
        };
        let Some(&option) = with_port else {
            return;
        };
        let has_ports = |protocol: &Negatable<Protocol>| {
            matches!(protocol.value, Protocol::Number(6 | 17 | 132 | 33 | 1))
        };
        let (message, too_late) = match &self.rule.protocol {
            Some(protocol) if has_ports(protocol) && protocol.span.start < option.start => return,
            Some(protocol) if has_ports(protocol) => (
                format!(
                    "{name} with a port needs `-p tcp`, `udp`, `sctp` or `dccp` written before the port; the rule's `-p {}` comes after it",
                    protocol.value.name()
                ),
                true,
            ),
            Some(protocol) => (
                format!(
                    "{name} with a port needs `-p tcp`, `udp`, `sctp` or `dccp`; the rule has `-p {}`",
                    protocol.value.name()
                ),
                false,
            ),
            None => (
                format!(
                    "{name} with a port needs `-p tcp`, `udp`, `sctp` or `dccp`; the rule has no `-p`"
                ),
                false,
            ),
        };
        let mut diagnostic = error(&BAD_VALUE, option, message).with_note(
            "iptables-restore refuses it: \"Need TCP, UDP, SCTP or DCCP with port specification\"",
        );
        if too_late {
            diagnostic = diagnostic.with_note(
                "iptables reads the options in order and checks the port when it reads it",
            );
        }
        self.diagnostics.push(diagnostic);
    }

    /// `-m multiport` takes ports only after a `-p` of a protocol with
    /// ports, not negated (xtables' `libxt_multiport.c` checks it while
    /// reading the ports, so a `-p` written after them does not count).
    fn check_multiport_protocol(&mut self, option: Span) {
        let protocol = self.rule.protocol.as_ref();
        let before = protocol.filter(|protocol| protocol.span.start < option.start);
        let message = match (before, protocol) {
            (Some(p), _) if p.negated => {
                "`-m multiport` only works with `-p tcp`, `udp`, `udplite`, `sctp` or `dccp`, not with a negated `-p`".to_string()
            }
            (Some(p), _) if matches!(p.value, Protocol::Number(6 | 17 | 136 | 132 | 33)) => return,
            (Some(p), _) if p.value != Protocol::All => format!(
                "`-m multiport` only works with `-p tcp`, `udp`, `udplite`, `sctp` or `dccp`; the rule has `-p {}`",
                p.value.name()
            ),
            (None, Some(p)) if p.value != Protocol::All => format!(
                "`-m multiport` needs `-p tcp`, `udp`, `udplite`, `sctp` or `dccp` written before its ports; the rule's `-p {}` comes after them",
                p.value.name()
            ),
            _ => "`-m multiport` needs `-p tcp`, `udp`, `udplite`, `sctp` or `dccp` before its ports".to_string(),
        };
        self.diagnostics.push(
            error(&BAD_VALUE, option, message)
                .with_note("iptables-restore refuses it while reading the ports"),
        );
    }

    /// The kernel keeps the first [`MAX_COMMENT`] bytes of a comment and
    /// drops the rest without a word.
    fn check_comment_length(&mut self, text: &str, span: Span) {
        if text.len() <= MAX_COMMENT {
            return;
        }
        self.diagnostics.push(
            Diagnostic::new(
                &TRUNCATED_COMMENT,
                span,
                format!(
                    "this comment has {} bytes; iptables keeps the first {MAX_COMMENT}",
                    text.len()
                ),
            )
            .with_note(format!(
                "what iptables-save will show: `{}`",
                cut(text, MAX_COMMENT)
            )),
        );
    }

    /// The kernel keeps the first [`MAX_LOG_PREFIX`] bytes of a LOG prefix
    /// (of an NFLOG one: see [`MAX_NFLOG_PREFIX`]) and drops the rest
    /// without a word.
    fn check_log_prefix_length(&mut self, target: &str, options: &[RawOption<'_>]) {
        let (option, kept, kept_by_nft) = match target {
            "LOG" => ("--log-prefix", MAX_LOG_PREFIX, MAX_LOG_PREFIX),
            "NFLOG" => ("--nflog-prefix", MAX_NFLOG_PREFIX.0, MAX_NFLOG_PREFIX.1),
            _ => return,
        };
        let Some(prefix) = options
            .iter()
            .find(|o| o.name == option)
            .and_then(|o| o.values.first())
        else {
            return;
        };
        if prefix.text.len() <= kept {
            return;
        }
        let length = prefix.text.len();
        let mut diagnostic = Diagnostic::new(
            &TRUNCATED_LOG_PREFIX,
            prefix.span,
            format!("this prefix has {length} bytes; {target} keeps the first {kept}"),
        )
        .with_note(format!(
            "what the log lines and iptables-save will show: `{}`",
            cut(&prefix.text, kept)
        ));
        if kept_by_nft != kept {
            diagnostic = diagnostic.with_note(if length <= kept_by_nft {
                format!("iptables-nft keeps it whole (up to {kept_by_nft} bytes)")
            } else {
                format!(
                    "iptables-nft keeps {kept_by_nft} bytes: `{}`",
                    cut(&prefix.text, kept_by_nft)
                )
            });
        }
        self.diagnostics.push(diagnostic);
    }

    /// An error when the rule already has the built-in option `-FLAG`
    /// (`s`, `d`, `i`, `o`, `p` or `f`), written again at `span`; `true`
    /// when it did.
    fn given_twice(&mut self, flag: char, span: Span) -> bool {
        let rule = &self.rule;
        let earlier = match flag {
            's' => rule.source.as_ref().map(|n| n.span),
            'd' => rule.destination.as_ref().map(|n| n.span),
            'i' => rule.in_interface.as_ref().map(|i| i.span),
            'o' => rule.out_interface.as_ref().map(|i| i.span),
            'p' => rule.protocol.as_ref().map(|p| p.span),
            _ => rule.fragment.as_ref().map(|f| f.span),
        };
        let Some(earlier) = earlier else {
            return false;
        };
        self.diagnostics.push(
            error(
                &CONFLICTING_OPTION,
                span,
                format!("`-{flag}` can only be given once in a rule"),
            )
            .with_secondary(earlier, "first given here")
            .with_note(format!(
                "iptables-restore refuses the line (\"multiple -{flag} flags not allowed\")"
            )),
        );
        true
    }

    /// `--tcp-flags` whose comparison needs a flag the mask does not
    /// examine, which the kernel loads and never matches.
    fn check_tcp_flags(&mut self, kind: &MatchKind<'_>) {
        let MatchKind::Tcp(ports) = kind else {
            return;
        };
        let Some(flags) = &ports.flags else {
            return;
        };
        let unexamined = flags.value.unexamined();
        if unexamined == 0 {
            return;
        }
        let (mask, comparison) = (flags.value.mask, flags.value.comparison);
        self.diagnostics.push(
            Diagnostic::new(
                &IMPOSSIBLE_TCP_FLAGS,
                flags.span,
                format!(
                    "`--tcp-flags {} {}` requires {} set, which the mask does not examine: no packet matches",
                    TcpFlags::names(mask),
                    TcpFlags::names(comparison),
                    TcpFlags::names(unexamined)
                ),
            )
            .with_primary_message(if flags.negated {
                "with its `!` the match takes every TCP packet"
            } else {
                "the match never matches"
            })
            .with_note("the kernel compares the packet's flags under the mask with the second list as written; iptables loads the rule")
            .with_note(format!(
                "to require {} among the flags examined, add it to the mask: `--tcp-flags {} {}`",
                TcpFlags::names(unexamined),
                TcpFlags::names(mask | comparison),
                TcpFlags::names(comparison)
            )),
        );
    }

    /// Ranges the udp, dccp and iprange matches load backwards, so that no
    /// packet falls in them (tcp, sctp and multiport refuse them when read).
    fn check_empty_ranges(&mut self, kind: &MatchKind<'_>) {
        let mut reversed: Vec<(Span, String, bool)> = Vec::new();
        match kind {
            MatchKind::Udp(ports) | MatchKind::Tcp(ports) => {
                for range in [&ports.source, &ports.destination].into_iter().flatten() {
                    if range.value.is_reversed() {
                        reversed.push((range.span, range.value.to_string(), range.negated));
                    }
                }
            }
            MatchKind::IpRange(ranges) => {
                for range in [&ranges.source, &ranges.destination].into_iter().flatten() {
                    let (first, last) = range.value;
                    if first > last {
                        reversed.push((range.span, format!("{first}-{last}"), range.negated));
                    }
                }
            }
            _ => {}
        }
        for (span, text, negated) in reversed {
            let effect = if negated {
                "with its `!` the match takes every packet"
            } else {
                "the match never matches"
            };
            self.diagnostics.push(
                Diagnostic::new(
                    &EMPTY_RANGE,
                    span,
                    format!("`{text}` is a reversed range: no packet falls in it"),
                )
                .with_primary_message(effect)
                .with_note("iptables loads it, but the kernel tests `first <= value <= last`, which no value passes; write the lower end first"),
            );
        }
    }

    /// The protocol matches (`-m tcp`, `udp`, `sctp`, `dccp`, `icmp`,
    /// `icmp6`) are valid only on a rule of their protocol, not
    /// negated: the kernel refuses the rule when the table is committed
    /// (`xt_check_match`: "tcp match: only valid for protocol 6"), wherever
    /// the `-p` is written.
    fn check_match_protocol(&mut self, name: &str, span: Span, kind: &MatchKind<'_>) {
        // IPv6's ah match needs no `-p ah`: checked once the family is
        // known (build.rs, `check_family_dependent_rules`).
        if name == "ah" {
            return;
        }
        let Some(&(number, _)) = PROTOCOL_MATCHES
            .iter()
            .chain(PROTOCOL_BOUND_MATCHES)
            .find(|(_, module)| *module == name)
        else {
            return;
        };
        let protocol = self.rule.protocol.as_ref();
        if protocol.is_some_and(|p| p.value == Protocol::Number(number) && !p.negated) {
            return;
        }
        let has = written_protocol(protocol);
        let wanted = Protocol::Number(number).name();
        let mut diagnostic = error(
            &BAD_VALUE,
            span,
            format!("`-m {name}` needs `-p {wanted}`; the rule has {has}"),
        )
        .with_note(format!(
            "the kernel refuses the rule when the table is committed (\"{name} match: only valid for protocol {number}\"); `iptables-restore --test` does not see it"
        ));
        // iptables-nft turns `! -p udp -m udp --dport 53` into nf_tables'
        // `meta l4proto != udp th dport 53` (probed: with a port or flag
        // test it loads; with none, or tcp's --tcp-option, it is refused).
        let negated_own_protocol =
            protocol.is_some_and(|p| p.negated && p.value == Protocol::Number(number));
        let tests_ports_or_flags = match kind {
            MatchKind::Tcp(ports) | MatchKind::Udp(ports) if matches!(name, "tcp" | "udp") => {
                ports.source.is_some() || ports.destination.is_some() || ports.flags.is_some()
            }
            _ => false,
        };
        if negated_own_protocol && tests_ports_or_flags {
            diagnostic = diagnostic.with_note(format!(
                "{NFT_LOADS_NOTE}: it loads the rule as nf_tables' `meta l4proto != {wanted}` with a test of the transport header, which reads the ports (and flags) of every other protocol"
            ));
        }
        self.diagnostics.push(diagnostic);
    }

    /// iptables refuses `-o` on a rule of PREROUTING or INPUT, whose
    /// packets have no output interface yet, and `-i` on one of OUTPUT or
    /// POSTROUTING ("Can't use -o with INPUT"). It goes by the chain's name,
    /// so a user chain reached from INPUT is not checked.
    fn check_interface_direction(rule: &Rule<'_>, chain: &str, diagnostics: &mut Vec<Diagnostic>) {
        let (interface, option) = match chain {
            "PREROUTING" | "INPUT" => (rule.out_interface.as_ref(), "-o"),
            "OUTPUT" | "POSTROUTING" => (rule.in_interface.as_ref(), "-i"),
            _ => return,
        };
        if let Some(interface) = interface {
            let span = interface.span;
            let direction = if option == "-o" { "output" } else { "input" };
            diagnostics.push(
                error(&BAD_VALUE, span, format!("iptables refuses `{option}` in {chain}"))
                    .with_note(format!(
                        "packets in {chain} have no {direction} interface to match (\"Can't use {option} with {chain}\")"
                    )),
            );
        }
    }

    /// An error unless the rule has a `-p`, not negated, that `accepts`:
    /// the kernel checks the protocol of these targets when the table is
    /// committed, wherever the `-p` is written, so `iptables-restore
    /// --test` does not see it. `needs` and `kernel_says` word the error;
    /// `true` when the protocol is fine.
    fn require_protocol(
        &mut self,
        span: Span,
        needs: &str,
        accepts: impl Fn(Protocol) -> bool,
        kernel_says: &str,
    ) -> bool {
        let protocol = self.rule.protocol.as_ref();
        if protocol.is_some_and(|p| !p.negated && accepts(p.value)) {
            return true;
        }
        let has = written_protocol(protocol);
        self.diagnostics.push(
            error(&BAD_VALUE, span, format!("{needs}; the rule has {has}")).with_note(format!(
                "the kernel refuses the rule when the table is committed (\"{kernel_says}\"); `iptables-restore --test` does not see it"
            )),
        );
        false
    }

    /// TCPMSS rewrites the MSS option of TCP SYN packets: the kernel
    /// refuses it without `-p tcp` (both backends), and iptables-legacy's
    /// kernel check also wants a tcp match that requires SYN (`--syn`, or
    /// `--tcp-flags` with SYN among the flags that must be set, not
    /// inverted); iptables-nft loads the rule without.
    fn check_tcpmss_packets(&mut self, span: Span) {
        if !self.require_protocol(
            span,
            "TCPMSS needs `-p tcp`",
            |p| p == Protocol::TCP,
            "TCPMSS target: only valid for protocol 6",
        ) {
            return;
        }
        let requires_syn = self.rule.matches.iter().any(|m| match &m.kind {
            MatchKind::Tcp(ports) => ports
                .flags
                .as_ref()
                .is_some_and(|flags| !flags.negated && flags.value.comparison & TcpFlags::SYN != 0),
            _ => false,
        });
        if !requires_syn {
            self.diagnostics.push(
                error(
                    &BAD_VALUE,
                    span,
                    "TCPMSS without a match on SYN packets: iptables-legacy refuses the rule",
                )
                .with_note("add `--syn` (or `--tcp-flags SYN,RST SYN`): the legacy kernel check requires it (\"Only works on TCP SYN packets\"), and only SYN packets carry an MSS to change")
                .with_note(format!("{NFT_LOADS_NOTE}: it does not check the packets TCPMSS gets")),
            );
        }
    }

    fn finish(mut self) -> Interpreted<'a> {
        // Exact: a `Vec` grown by pushes holds at least 4 matches of 160
        // bytes, which was a third of the model of a kube-proxy dump.
        self.rule.matches.reserve_exact(self.modules.len());
        for module in std::mem::take(&mut self.modules) {
            let first_option = module.options.first().map(|option| option.span);
            let kind = match module.spec {
                Some(_) => match build_match(&module.name, module.options, module.span) {
                    Ok(MatchKind::Comment(text)) => {
                        self.check_comment_length(&text, first_option.unwrap_or(module.span));
                        MatchKind::Comment(text)
                    }
                    Ok(MatchKind::Multiport(ports)) => {
                        if let Some(option) = first_option {
                            self.check_multiport_protocol(option);
                        }
                        MatchKind::Multiport(ports)
                    }
                    Ok(kind) => {
                        self.check_empty_ranges(&kind);
                        self.check_tcp_flags(&kind);
                        kind
                    }
                    // `-m recent --seconds 5 --remove`: `--remove` was
                    // refused, and "needs one of --set, ..." would only
                    // repeat that.
                    Err(_) if module.refused_option => MatchKind::Other(Vec::new()),
                    Err((span, message)) => {
                        let diagnostic = match message.strip_suffix(ONLY_LEGACY_REFUSES) {
                            Some(message) => error(&BAD_VALUE, span, message)
                                .with_note(format!("{NFT_LOADS_NOTE}: it checks no such limit")),
                            None => error(&BAD_VALUE, span, message),
                        };
                        self.diagnostics.push(diagnostic);
                        MatchKind::Other(Vec::new())
                    }
                },
                None => MatchKind::Other(module.options),
            };
            if !module.implicit {
                self.check_match_protocol(&module.name, module.span, &kind);
            }
            if let MatchKind::Other(options) = &kind
                && module.name == "ecn"
                && let Some(option) = options.iter().find(|o| o.name.starts_with("--ecn-tcp-"))
            {
                // ecn_mt_check: the TCP header's ECE and CWR bits only on TCP.
                self.require_protocol(
                    option.span,
                    &format!("`-m ecn {}` needs `-p tcp`", option.name),
                    |p| p == Protocol::TCP,
                    "Invalid argument",
                );
            }
            self.rule.matches.push(Match {
                name: module.name,
                span: module.span,
                implicit: module.implicit,
                kind,
            });
        }
        if let Some(target) = self.target.take() {
            // `-g ACCEPT` is a goto to a chain named ACCEPT, which cannot
            // exist: `undefined-target` reports it.
            let action = if !target.goto && is_extension(&target.name) {
                let to_options: Vec<Span> = target
                    .options
                    .iter()
                    .filter(|option| {
                        matches!(
                            option.name,
                            "--to-destination" | "--to-source" | "--to-ports"
                        )
                    })
                    .map(|option| option.span)
                    .collect();
                let ecn_tcp_option = (target.name == "ECN")
                    .then(|| {
                        target
                            .options
                            .iter()
                            .find(|o| o.name.starts_with("--ecn-tcp-"))
                    })
                    .flatten()
                    .map(|option| option.span);
                let ct_helper = (target.name == "CT")
                    .then(|| target.options.iter().find(|o| o.name == "--helper"))
                    .flatten()
                    .map(|option| option.span);
                match build_action(&target.name, target.options, target.span) {
                    Ok(action) => {
                        self.check_nat_ports(&target.name, &action, &to_options);
                        if let Action::Extension(options) = &action {
                            self.check_log_prefix_length(&target.name, options);
                        }
                        // TPROXY takes TCP and UDP; a conntrack helper works
                        // on one layer 4 protocol.
                        if target.name == "TPROXY" {
                            self.require_protocol(
                                target.span,
                                "TPROXY needs `-p tcp` or `-p udp`",
                                |p| matches!(p, Protocol::Number(6 | 17)),
                                "Can be used only with -p tcp or -p udp",
                            );
                        }
                        if let Some(helper) = ct_helper {
                            self.require_protocol(
                                helper,
                                "`CT --helper` needs the rule's protocol (`-p tcp`, `-p udp`...)",
                                |p| p != Protocol::All,
                                "You must specify a L4 protocol and not use inversions on it",
                            );
                        }
                        if target.name == "TCPMSS" {
                            self.check_tcpmss_packets(target.span);
                        }
                        if let Some(span) = ecn_tcp_option {
                            self.require_protocol(
                                span,
                                "`-j ECN` on TCP bits needs `-p tcp`",
                                |p| p == Protocol::TCP,
                                "ipt_ECN: cannot use operation on non-tcp rule",
                            );
                        }
                        if let Some(&(name, kernel_says)) =
                            TCP_TARGETS.iter().find(|(name, _)| target.name == *name)
                        {
                            self.require_protocol(
                                target.span,
                                &format!("{name} needs `-p tcp`"),
                                |p| p == Protocol::TCP,
                                kernel_says,
                            );
                        }
                        action
                    }
                    Err(_) if target.refused_option => Action::Extension(Vec::new()),
                    Err((span, message)) => {
                        self.diagnostics.push(error(&BAD_VALUE, span, message));
                        Action::Extension(Vec::new())
                    }
                }
            } else {
                if let Some(option) = target.options.first() {
                    self.diagnostics.push(error(
                        &UNKNOWN_OPTION,
                        option.span,
                        format!("`{}` is a chain, which takes no options", target.name),
                    ));
                }
                if target.name.is_empty() {
                    self.diagnostics
                        .push(error(&BAD_VALUE, target.name_span, "empty target name"));
                }
                Action::Chain
            };
            self.rule.target = Some(Target {
                name: target.name,
                name_span: target.name_span,
                span: target.span,
                goto: target.goto,
                action,
                chain: None,
            });
        }
        if let Some(spec) = self.spec_span {
            self.rule.spec = spec;
        }
        let Some((letter, command_span)) = self.command else {
            self.diagnostics.push(error(
                &SYNTAX_ERROR,
                self.rule.span,
                "a rule line needs a command such as `-A CHAIN`",
            ));
            return Interpreted::refused(self.diagnostics);
        };
        let Some(chain) = self.chain else {
            return Interpreted {
                statement: match letter {
                    'X' => Some(Statement::DeleteChain(None)),
                    'F' => Some(Statement::Flush(None)),
                    'Z' => Some(Statement::Zero(None, None)),
                    _ => None,
                },
                diagnostics: self.diagnostics,
                address_lists: None,
                family_markers: None,
            };
        };
        if chain.text.is_empty() {
            self.diagnostics
                .push(error(&SYNTAX_ERROR, chain.span, "empty chain name"));
            return Interpreted::refused(self.diagnostics);
        }
        if matches!(letter, 'A' | 'I' | 'R' | 'D') {
            Self::check_interface_direction(&self.rule, &chain.text, &mut self.diagnostics);
        }
        // iptables reads a rule number from 1 to INT_MAX
        // (xtables_strtoui), and refuses the line otherwise.
        if let Some(word) = self
            .positional
            .first()
            .filter(|_| matches!(letter, 'I' | 'R' | 'D' | 'Z'))
            && !word
                .text
                .parse::<u32>()
                .is_ok_and(|n| (1..=i32::MAX as u32).contains(&n))
        {
            self.diagnostics.push(error(
                &BAD_VALUE,
                word.span,
                format!(
                    "`{}` is not a rule number: rules are numbered from 1",
                    word.text
                ),
            ));
            return Interpreted::refused(self.diagnostics);
        }
        let number = |word: Option<&Word<'_>>| word.and_then(|w| w.text.parse::<u32>().ok());
        let has_spec = self.spec_span.is_some();
        let statement = match letter {
            'A' => Statement::Append(chain, self.rule),
            'I' => Statement::Insert(chain, number(self.positional.first()), self.rule),
            'D' => match number(self.positional.first()) {
                Some(n) => Statement::Delete(chain, RuleRef::Number(n)),
                None => Statement::Delete(chain, RuleRef::Spec(self.rule)),
            },
            'R' => match number(self.positional.first()) {
                Some(n) => Statement::Replace(chain, n, self.rule),
                None => {
                    self.diagnostics.push(error(
                        &SYNTAX_ERROR,
                        command_span,
                        "`-R` needs a rule number",
                    ));
                    return Interpreted::refused(self.diagnostics);
                }
            },
            'N' => Statement::NewChain(chain),
            'X' => Statement::DeleteChain(Some(chain)),
            'F' => Statement::Flush(Some(chain)),
            'Z' => Statement::Zero(Some(chain), number(self.positional.first())),
            'P' => match self.positional.pop() {
                Some(policy) => Statement::Policy(chain, policy),
                None => {
                    return Interpreted::refused(self.diagnostics);
                }
            },
            _ => match self.positional.pop() {
                Some(new_name) => Statement::Rename(chain, new_name),
                None => {
                    return Interpreted::refused(self.diagnostics);
                }
            },
        };
        if has_spec && !matches!(letter, 'A' | 'I' | 'D' | 'R') {
            self.diagnostics.push(error(
                &SYNTAX_ERROR,
                self.spec_span.unwrap_or(command_span),
                "this command takes no rule specification",
            ));
        }
        if letter == 'R' && self.address_lists.is_some() {
            self.diagnostics.push(
                error(
                    &BAD_VALUE,
                    self.spec_span.unwrap_or(command_span),
                    "`-R` replaces one rule, but a list of addresses makes several",
                )
                .with_note(
                    "iptables-restore: \"Replacement rule does not specify a unique address\"",
                ),
            );
            return Interpreted::refused(self.diagnostics);
        }
        Interpreted {
            statement: Some(statement),
            diagnostics: self.diagnostics,
            address_lists: self.address_lists,
            family_markers: None,
        }
    }
}

fn span_between(a: Span, b: Span) -> Span {
    a.to(b)
}

/// Options renamed or removed in iptables' history, for a helpful note.
fn renamed_option_hint(name: &str) -> Option<&'static str> {
    Some(match name {
        "--days" => "`-m time --days` was renamed `--weekdays` in iptables 1.4",
        "--timestart" | "--timestop" => "`--timestart`/`--timestop` belong to `-m time`",
        "--state" => "`--state` belongs to `-m state` (or use `-m conntrack --ctstate`)",
        "--ctstate" => "`--ctstate` belongs to `-m conntrack`",
        "--comment" => "`--comment` belongs to `-m comment`",
        "--dport" | "--sport" => {
            "`--dport`/`--sport` need `-p tcp` or `-p udp` (or `-m tcp`/`-m udp`) before them"
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::matches::{CtStates, StatisticMatch};
    use crate::model::values::PortRange;
    use crate::syntax::{LineKind, parse_line};

    #[test]
    fn builtin_options_by_short_and_long_name() {
        // iptables' own options (xshared.c's `original_opts`), short and long.
        let pairs = [
            ("-A", "--append"),
            ("-I", "--insert"),
            ("-D", "--delete"),
            ("-R", "--replace"),
            ("-N", "--new-chain"),
            ("-N", "--new"),
            ("-X", "--delete-chain"),
            ("-F", "--flush"),
            ("-Z", "--zero"),
            ("-P", "--policy"),
            ("-E", "--rename-chain"),
            ("-s", "--source"),
            ("-s", "--src"),
            ("-d", "--destination"),
            ("-d", "--dst"),
            ("-i", "--in-interface"),
            ("-o", "--out-interface"),
            ("-p", "--protocol"),
            ("-f", "--fragment"),
            ("-m", "--match"),
            ("-j", "--jump"),
            ("-g", "--goto"),
            ("-c", "--set-counters"),
            ("-4", "--ipv4"),
            ("-6", "--ipv6"),
            ("-t", "--table"),
        ];
        for (short, long) in pairs {
            let by_short = builtin_option(short);
            assert!(by_short.is_some(), "{short}");
            assert_eq!(by_short, builtin_option(long), "{short} {long}");
        }
        let distinct: std::collections::HashSet<String> = pairs
            .iter()
            .map(|(short, _)| format!("{:?}", builtin_option(short)))
            .collect();
        assert_eq!(distinct.len(), 23, "each short option means its own thing");
        for other in ["-x", "--dport", "-", "--", "-AA", "--APPEND"] {
            assert_eq!(builtin_option(other), None, "{other}");
        }
    }

    fn interpret_line(text: &str) -> Interpreted<'_> {
        let line = parse_line(text, 0, 1).unwrap();
        let LineKind::Rule {
            counters,
            args,
            word_count,
        } = line.kind
        else {
            panic!("not a rule line")
        };
        let mut args = args;
        interpret(1, line.span, counters, &mut args, word_count)
    }

    #[test]
    fn nat_ports_need_a_protocol_with_ports() {
        let messages = |text| -> Vec<String> {
            interpret_line(text)
                .diagnostics
                .iter()
                .map(|d| format!("{}: {}", d.info.name, d.message))
                .collect()
        };
        assert_eq!(
            messages("-A PREROUTING -j DNAT --to-destination 10.1.1.1:80"),
            [
                "bad-value: DNAT with a port needs `-p tcp`, `udp`, `sctp` or `dccp`; the rule has no `-p`"
            ]
        );
        assert_eq!(
            messages("-A POSTROUTING -p udplite -j MASQUERADE --to-ports 1024"),
            [
                "bad-value: MASQUERADE with a port needs `-p tcp`, `udp`, `sctp` or `dccp`; the rule has `-p udplite`"
            ]
        );
        // iptables checks the port when it reads it: a `-p` after it is too late.
        assert_eq!(
            messages("-A PREROUTING -j DNAT --to-destination 10.1.1.1:80 -p tcp"),
            [
                "bad-value: DNAT with a port needs `-p tcp`, `udp`, `sctp` or `dccp` written before the port; the rule's `-p tcp` comes after it"
            ]
        );
        // A second `--to-destination` is refused for being a second one
        // before its port is read, by iptables as by iptlint.
        assert_eq!(
            messages(
                "-A PREROUTING -j DNAT --to-destination 10.1.1.1 --to-destination 10.1.1.2:80 -p udp"
            ),
            ["conflicting-option: `--to-destination` can only be given once in `-j DNAT`"]
        );
        for fine in [
            "-A PREROUTING -p tcp -j DNAT --to-destination 10.1.1.1:80",
            "-A PREROUTING -j DNAT -p tcp --to-destination 10.1.1.1:80",
            "-A PREROUTING -j REDIRECT -p udp --to-ports 8080",
            "-A PREROUTING -j DNAT --to-destination 10.1.1.1 -p tcp",
            "-A PREROUTING ! -p udp -j REDIRECT --to-ports 8080",
            "-A PREROUTING -p icmp -j DNAT --to-destination 10.1.1.1:80",
            "-A PREROUTING -j DNAT --to-destination 10.1.1.1",
            "-A POSTROUTING -j MASQUERADE",
        ] {
            assert!(messages(fine).is_empty(), "{fine}: {:?}", messages(fine));
        }
    }

    fn appended(text: &str) -> Rule<'_> {
        let interpreted = interpret_line(text);
        assert!(
            interpreted.diagnostics.is_empty(),
            "{:?}",
            interpreted.diagnostics
        );
        match interpreted.statement {
            Some(Statement::Append(_, rule)) => *rule,
            other => panic!("{other:?}"),
        }
    }

    fn codes(text: &str) -> Vec<&'static str> {
        interpret_line(text)
            .diagnostics
            .iter()
            .map(|d| d.info.name)
            .collect()
    }

    /// The options of `-m srh` as ip6tables 1.8.9 takes them (each loaded
    /// by ip6tables-restore, legacy and nft, in a private namespace).
    #[test]
    fn segment_routing_header_options() {
        let every = "-A INPUT -m srh --srh-next-hdr 17 ! --srh-hdr-len-eq 8 --srh-hdr-len-gt 1 \
            --srh-hdr-len-lt 9 --srh-segs-left-eq 1 --srh-segs-left-gt 0 --srh-segs-left-lt 3 \
            --srh-last-entry-eq 1 --srh-last-entry-gt 0 --srh-last-entry-lt 2 --srh-tag 5 \
            --srh-psid 2001:db8::/64 --srh-nsid 2001:db8::/64 --srh-lsid 2001:db8::/64 -j ACCEPT";
        assert_eq!(codes(every), Vec::<&str>::new());
        assert_eq!(
            codes("-A INPUT -m srh --srh-len-eq 8 -j ACCEPT"),
            ["unknown-option"]
        );
        assert_eq!(codes("-A INPUT -j ACCEPT -m srh --srh-tag"), ["bad-value"]);
    }

    #[test]
    fn basic_matches_with_negation() {
        let rule = appended(
            "-A KUBE-SERVICES ! -s 10.244.0.0/16 -d 10.96.129.200/32 -p tcp -i eth+ -j KUBE-MARK-MASQ",
        );
        let source = rule.source.unwrap();
        assert!(source.negated);
        assert_eq!(source.value.net.prefix, 16);
        assert_eq!(
            rule.destination.unwrap().value.net.to_string(),
            "10.96.129.200/32"
        );
        assert_eq!(rule.protocol.unwrap().value, Protocol::TCP);
        assert_eq!(rule.in_interface.unwrap().value, "eth+");
        let target = rule.target.unwrap();
        assert_eq!(target.name, "KUBE-MARK-MASQ");
        assert_eq!(target.action, Action::Chain);
    }

    /// iptables loads no target for `-g NAME`: NAME is a chain's name, and
    /// a target's options after it are unknown (iptables-restore 1.8.9,
    /// legacy and nft: `-g MARK --set-mark 1` is `unknown option
    /// "--set-mark"`).
    /// Refused by iptables-restore 1.8.9, legacy and nft: `statistic:
    /// option "--mode" cannot be inverted`, the same for `--packet`; and by
    /// the kernel's xt_recent, "hitcount (65536) is larger than allowed
    /// maximum (65535)".
    #[test]
    fn statistic_mode_is_not_inverted_and_recent_counts_to_65535() {
        for (line, expected) in [
            (
                "-A X -m statistic ! --mode random --probability 0.5",
                "bad-value",
            ),
            (
                "-A X -m statistic --mode nth --every 2 ! --packet 0",
                "bad-value",
            ),
            (
                "-A X -m recent --update --hitcount 65536 --name A",
                "bad-value",
            ),
        ] {
            assert_eq!(codes(line), [expected], "{line}");
        }
        for fine in [
            "-A X -m statistic --mode random ! --probability 0.5",
            "-A X -m statistic --mode nth ! --every 2 --packet 0",
            "-A X -m recent --update --hitcount 65535 --name A",
        ] {
            assert_eq!(codes(fine), Vec::<&str>::new(), "{fine}");
        }
    }

    /// As iptables-restore 1.8.9 (legacy) loads or refuses them.
    #[test]
    fn target_values_in_libxtables_forms() {
        for (line, expected) in [
            ("-A X -j MARK --or-mark 0x10", &[][..]),
            ("-A X -j MARK --or-mark 1/2", &["bad-value"][..]),
            ("-A X -j CONNMARK --and-mark 1/2", &["bad-value"][..]),
            ("-A X -j NFQUEUE --queue-balance :5", &[][..]),
            ("-A X -j NFQUEUE --queue-balance 5:", &[][..]),
            ("-A X -j NFQUEUE --queue-balance 5:5", &["bad-value"][..]),
            ("-A X -j TEE --gateway 1.5", &[][..]),
            ("-A X -j TEE --gateway 0", &["bad-value"][..]),
            ("-A X -j TEE --gateway 1.2.3.4.5", &["bad-value"][..]),
        ] {
            assert_eq!(codes(line), expected, "{line}");
        }
    }

    #[test]
    fn options_iptables_will_not_invert() {
        assert_eq!(
            codes("-A X -m hashlimit --hashlimit-upto 1/s ! --hashlimit-name a"),
            ["bad-negation"]
        );
        assert_eq!(codes("-A X -m time ! --utc"), ["bad-negation"]);
        assert_eq!(codes("-A X -m rpfilter ! --invert"), ["bad-negation"]);
        // iptables-restore 1.8.9: unknown option "--dport".
        assert_eq!(
            codes("-A X -m rpfilter --invert --dport 1"),
            ["unknown-option"]
        );
        for fine in [
            "-A X -m hashlimit ! --hashlimit-upto 1/s --hashlimit-name a",
            "-A X -m string --algo bm ! --string x",
            "-A X -m rpfilter --invert",
        ] {
            assert_eq!(codes(fine), Vec::<&str>::new(), "{fine}");
        }
    }

    #[test]
    fn module_names_are_at_most_28_characters() {
        // Loaded by no kernel: the first is "Couldn't load match" (a module
        // from elsewhere could have the name), the second "Invalid match
        // name" whatever is installed.
        assert_eq!(
            codes("-A INPUT -m abcdefghijklmnopqrstuvwxyz12 -j ACCEPT"),
            ["unknown-module"]
        );
        let long = interpret_line("-A INPUT -m abcdefghijklmnopqrstuvwxyz123 -j ACCEPT");
        let messages: Vec<_> = long
            .diagnostics
            .iter()
            .map(|d| (d.info.name, d.message.as_str()))
            .collect();
        assert_eq!(
            messages,
            [(
                "bad-value",
                "`-m abcdefghijklmnopqrstuvwxyz123`: a match module's name has at most 28 characters"
            )]
        );
    }

    #[test]
    fn a_goto_loads_no_target() {
        let rule = appended("-A INPUT -p tcp -g LOG");
        let target = rule.target.unwrap();
        assert!(target.goto);
        assert_eq!(target.action, Action::Chain);
        assert_eq!(codes("-A INPUT -g MARK --set-mark 1"), ["unknown-option"]);
        assert_eq!(codes("-A INPUT -g X --log-prefix x"), ["unknown-option"]);
        assert_eq!(codes("-A INPUT -j MARK --set-mark 1"), Vec::<&str>::new());
    }

    #[test]
    fn implicit_protocol_match() {
        let rule = appended("-A INPUT -p tcp --dport 22 -j ACCEPT");
        assert_eq!(rule.matches.len(), 1);
        assert!(rule.matches[0].implicit);
        let MatchKind::Tcp(ports) = &rule.matches[0].kind else {
            panic!()
        };
        assert_eq!(
            ports.destination.as_ref().unwrap().value,
            PortRange { lo: 22, hi: 22 }
        );
    }

    #[test]
    fn options_go_to_the_module_that_defines_them() {
        let rule = appended(
            "-A X -p tcp -m tcp -m comment --comment \"a b\" --dport 80 -m statistic --mode random --probability 0.20000000019 -j KUBE-SEP-A",
        );
        assert_eq!(rule.comment(), Some("a b"));
        let MatchKind::Tcp(ports) = &rule.matches[0].kind else {
            panic!()
        };
        assert_eq!(ports.destination.as_ref().unwrap().value.lo, 80);
        let MatchKind::Statistic(StatisticMatch::Random(p)) = &rule.matches[2].kind else {
            panic!()
        };
        assert!((p.value.effective() - 0.2).abs() < 1e-9);
    }

    #[test]
    fn conntrack_negated_state() {
        let rule = appended("-A F -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP");
        let MatchKind::Conntrack(ct) = &rule.matches[0].kind else {
            panic!()
        };
        let state = ct.state.as_ref().unwrap();
        assert!(state.negated);
        assert!(state.value.contains(CtStates(0b100)));
    }

    #[test]
    fn nat_targets() {
        let rule = appended("-A KUBE-SEP-X -p tcp -m tcp -j DNAT --to-destination 10.244.0.63:80");
        let Some(Target {
            action: Action::Dnat(to),
            ..
        }) = &rule.target
        else {
            panic!()
        };
        assert_eq!(to[0].to_string(), "10.244.0.63:80");
        let rule = appended("-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000");
        assert_eq!(rule.target.unwrap().flow(), crate::model::Flow::Continue);
    }

    #[test]
    fn long_options_may_be_abbreviated_as_getopt_allows() {
        // iptables-restore 1.8.9 (legacy, private namespace) loaded each of
        // these, as the rule of the whole names, and refused the ambiguous
        // ones ("unknown option").
        fn appended(line: &str) -> Rule<'_> {
            let interpreted = interpret_line(line);
            let errors: Vec<_> = interpreted
                .diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .map(|d| d.message.clone())
                .collect();
            assert_eq!(errors, Vec::<String>::new(), "{line}");
            let Some(Statement::Append(_, rule)) = interpreted.statement else {
                panic!("{line}")
            };
            *rule
        }
        let rule = appended("-A INPUT -m mac --mac 00:30:4F:2E:70:72 -j ACCEPT");
        assert!(matches!(rule.matches[0].kind, MatchKind::Mac(_)));
        let rule = appended("-A INPUT -m comment --comm x -j ACCEPT");
        assert!(matches!(&rule.matches[0].kind, MatchKind::Comment(text) if text == "x"));
        let rule = appended("-A INPUT -j LOG --log-p x");
        let Some(Action::Extension(options)) = rule.target.map(|t| t.action) else {
            panic!()
        };
        assert_eq!(options[0].name, "--log-prefix");
        // multiport is loaded: `--dport` begins its `--dports` only, and
        // tcp (loaded only for an option no loaded match knows) is not.
        let rule = appended("-A INPUT -p tcp -m multiport --dport 80 -j ACCEPT");
        assert_eq!(rule.matches.len(), 1);
        let MatchKind::Multiport(ports) = &rule.matches[0].kind else {
            panic!()
        };
        assert!(ports.destination.is_some());
        // Nothing loaded knows `--dp`: the protocol's match does.
        let rule = appended("-A INPUT -p tcp --sport 1 --dp 2 -j ACCEPT");
        let MatchKind::Tcp(ports) = &rule.matches[0].kind else {
            panic!()
        };
        assert_eq!(ports.destination.as_ref().unwrap().value.to_string(), "2");
        // iptables' own options.
        let rule = appended("-A INPUT --proto tcp --sou 1.2.3.4 --in-i eth0 --ju ACCEPT");
        assert_eq!(rule.protocol.unwrap().value, Protocol::TCP);
        assert!(rule.source.is_some() && rule.in_interface.is_some());
        assert_eq!(rule.target.unwrap().name, "ACCEPT");
        // Ambiguous: `--in` is --insert or --in-interface; `--d` with tcp
        // loaded is --delete, --destination, --dport ...
        for ambiguous in [
            "-A INPUT --in eth0 -j ACCEPT",
            "-A INPUT -p tcp -m tcp --d 80 -j ACCEPT",
        ] {
            let interpreted = interpret_line(ambiguous);
            assert!(
                interpreted
                    .diagnostics
                    .iter()
                    .any(|d| d.message.starts_with("unknown option")),
                "{ambiguous}"
            );
        }
    }

    #[test]
    fn options_iptables_requires_and_those_it_will_not_invert() {
        // Each line's fate in iptables-restore 1.8.9 (legacy, loading into
        // a private namespace's kernel); iptlint passed the refused ones
        // until a differential run against the kernel found them.
        let errors = |line: &str| -> Vec<String> {
            interpret_line(line)
                .diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .map(|d| d.message.clone())
                .collect()
        };
        for refused in [
            // "comment: option \"--comment\" must be specified"
            "-A OUTPUT -m comment -j ACCEPT",
            "-A OUTPUT -m comment --comment x -j ACCEPT -m comment",
            // "owner: At least one of --uid-owner, --gid-owner or --socket-exists is required"
            "-A OUTPUT -m owner -j ACCEPT",
            // "you need to use --gid-owner first"
            "-A OUTPUT -m owner --suppl-groups --gid-owner 0 -j ACCEPT",
            // "PHYSDEV: no physdev option specified"
            "-A FORWARD -m physdev -j ACCEPT",
            // "recent: option \"--name\" cannot be inverted."
            "-A OUTPUT -m recent --set ! --name x",
            "-A OUTPUT -m recent --rcheck ! --seconds 5",
            "-A OUTPUT -m recent --set ! --rsource",
            // the kernel: "line 1 failed" (EINVAL at commit)
            "-A OUTPUT -m recent --set --name a/b",
            "-A OUTPUT -m recent --set --name ..",
            r#"-A OUTPUT -m recent --set --name """#,
            // "getaddrinfo: Name or service not known"
            "-A OUTPUT -m recent --set --mask 1.2.3.4.5",
            "-A OUTPUT -m recent --set --mask 4294967296",
            // "Argument must have a minimum length of 1 characters"
            r#"-A INPUT -j LOG --log-prefix """#,
            r#"-A INPUT -j NFLOG --nflog-prefix """#,
            // "Unknown TCP flag `BOGUS'"
            "-A OUTPUT -p tcp -m tcp --tcp-flags SYN,BOGUS SYN -j ACCEPT",
        ] {
            assert_eq!(errors(refused).len(), 1, "{refused}");
        }
        for loaded in [
            // libxt_tcp's strtok skips empty flag names.
            r#"-A OUTPUT -p tcp -m tcp --tcp-flags "" SYN -j ACCEPT"#,
            "-A OUTPUT -p tcp -m tcp --tcp-flags SYN,,ACK ,SYN -j ACCEPT",
            "-A OUTPUT -m owner --gid-owner 0 --suppl-groups -j ACCEPT",
            "-A OUTPUT -m owner ! --socket-exists -j ACCEPT",
            "-A FORWARD -m physdev --physdev-is-in -j ACCEPT",
            "-A OUTPUT -m recent ! --set --name x",
            "-A OUTPUT -m recent --set --name a.b",
            // getaddrinfo's inet_aton forms: 0.0.0.16, 10.0.0.1, 1.1.0.0
            "-A OUTPUT -m recent --set --mask 0x10",
            "-A OUTPUT -m recent --set --mask 10.1",
            "-A OUTPUT -m recent --set --mask 1.65536",
        ] {
            assert_eq!(errors(loaded), Vec::<String>::new(), "{loaded}");
        }
    }

    #[test]
    fn a_bang_after_an_option_is_its_value_when_no_value_follows() {
        // Each line's fate in iptables-restore 1.8.9, legacy and nft, in a
        // private namespace: `!` followed by a value is refused ("Bad
        // argument `eth0'", "unknown protocol \"!\""), `!` followed by an
        // option or the end of the line is the value (`-i !` loads).
        let findings = |line: &str| -> Vec<(&'static str, Severity)> {
            interpret_line(line)
                .diagnostics
                .iter()
                .map(|d| (d.info.name, d.severity))
                .collect()
        };
        let refused = ("obsolete-negation", Severity::Error);
        let value = ("obsolete-negation", Severity::Warning);
        assert_eq!(findings("-A INPUT -i ! eth0 -j ACCEPT"), [refused]);
        assert_eq!(findings("-A INPUT -p ! tcp -j ACCEPT"), [refused]);
        assert_eq!(findings("-A INPUT -i ! -j ACCEPT"), [value]);
        assert_eq!(findings("-A FORWARD -j ACCEPT -o !"), [value]);
        assert_eq!(
            findings(r#"-A INPUT -m comment --comment "!" -j ACCEPT"#),
            []
        );
        assert_eq!(
            findings("-A INPUT -p ! -j ACCEPT"),
            [value, ("bad-value", Severity::Error)]
        );
        assert_eq!(
            findings("-A INPUT -i ! ! eth0 -j ACCEPT"),
            [refused, ("unknown-option", Severity::Error)]
        );
        let Some(Statement::Append(_, rule)) = interpret_line("-A INPUT -i ! -j ACCEPT").statement
        else {
            panic!()
        };
        let interface = rule.in_interface.unwrap();
        assert_eq!((&*interface.value, interface.negated), ("!", false));
        assert_eq!(rule.target.unwrap().name, "ACCEPT");
    }

    #[test]
    fn old_negation_is_parsed_and_warned() {
        let interpreted = interpret_line("-A INPUT -s ! 10.0.0.0/8 -p tcp --dport ! 22 -j DROP");
        let names: Vec<_> = interpreted
            .diagnostics
            .iter()
            .map(|d| d.info.name)
            .collect();
        assert_eq!(names, ["obsolete-negation", "obsolete-negation"]);
        let Some(Statement::Append(_, rule)) = interpreted.statement else {
            panic!()
        };
        assert!(rule.source.unwrap().negated);
        let MatchKind::Tcp(ports) = &rule.matches[0].kind else {
            panic!()
        };
        assert!(ports.destination.as_ref().unwrap().negated);
    }

    #[test]
    fn errors_that_leave_the_rule_understandable() {
        assert_eq!(
            codes("-A FORWARD -m time --days Mon -j DROP"),
            ["unknown-option"]
        );
        assert_eq!(
            codes("-A X -m mac --mac-source XX:XX:XX:XX:XX:XX -j RETURN"),
            ["bad-value"]
        );
        assert_eq!(
            codes("-A X -m mark --mark  -j ACCEPT"),
            ["unknown-option", "bad-value"]
        );
        assert_eq!(codes("-A X ! ! -s 1.2.3.4 -j DROP"), ["bad-negation"]);
        assert_eq!(codes("-A X -s 1.2.3.4 !"), ["bad-negation"]);
        assert_eq!(codes("-A X -s 10.0.0.300 -j DROP"), ["bad-value"]);
        assert_eq!(codes("-A X --something-else -j DROP"), ["unknown-option"]);
        assert_eq!(
            codes("-A X -m statistic --mode random --probability 2 -j DROP"),
            ["bad-value"]
        );
        assert_eq!(
            codes("-A X -j KUBE-SEP-A --to-destination 1.2.3.4"),
            ["unknown-option"]
        );
    }

    #[test]
    fn a_line_without_command_is_a_syntax_error() {
        let interpreted = interpret_line("-s 1.2.3.4 -j DROP");
        assert!(interpreted.statement.is_none());
        assert_eq!(interpreted.diagnostics[0].info.name, "syntax-error");
    }

    #[test]
    fn restore_commands() {
        assert!(
            matches!(interpret_line("-N FOO").statement, Some(Statement::NewChain(w)) if w.text == "FOO")
        );
        assert!(matches!(
            interpret_line("-X").statement,
            Some(Statement::DeleteChain(None))
        ));
        assert!(
            matches!(interpret_line("-P INPUT DROP").statement, Some(Statement::Policy(_, p)) if p.text == "DROP")
        );
        assert!(matches!(
            interpret_line("-I INPUT 2 -j ACCEPT").statement,
            Some(Statement::Insert(_, Some(2), _))
        ));
        assert!(matches!(
            interpret_line("-D INPUT 3").statement,
            Some(Statement::Delete(_, RuleRef::Number(3)))
        ));
        assert!(
            matches!(interpret_line("-E OLD NEW").statement, Some(Statement::Rename(_, n)) if n.text == "NEW")
        );
    }

    #[test]
    fn opaque_modules_keep_their_options() {
        let rule = appended("-A INPUT -m string --string \"GET /\" --algo bm -j DROP");
        let MatchKind::Other(options) = &rule.matches[0].kind else {
            panic!()
        };
        assert_eq!(options.len(), 2);
        assert_eq!(options[0].values[0].text, "GET /");
    }

    #[test]
    fn spec_span_covers_the_rule_words() {
        let text = "[1:2] -A INPUT -s 1.2.3.4/32 -j DROP";
        let rule = appended(text);
        assert_eq!(rule.spec.text(text), "-s 1.2.3.4/32 -j DROP");
        assert_eq!(rule.counters.unwrap().packets, 1);
    }
}
