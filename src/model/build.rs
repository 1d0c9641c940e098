//! Build the [`Dump`] model from a source text.
//!
//! Lines are parsed and interpreted independently (in parallel for large
//! dumps, chunk by chunk so memory stays bounded), then applied in order to
//! tables and chains the way iptables-restore applies them.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use rayon::prelude::*;

use super::matches::{HashlimitMask, Match, MatchKind};
use super::rule::{AddressLists, Interpreted, RuleRef, Statement, interpret};
use super::targets::{Action, reject_type, reject_types};
use super::{
    Chain, Command, Dump, Family, Protocol, RawOption, Rule, Table, TableKind, written_protocol,
};
use crate::checks::hooks::NFT_LOADS_NOTE;
use crate::checks::legacy_walk::LEGACY_LOADS_NOTE;
use crate::diagnostics::codes::{
    BAD_COUNTERS, BAD_POLICY, BAD_VALUE, CHAIN_NAME_TOO_LONG, CRLF_LINE_ENDINGS, DUPLICATE_CHAIN,
    DUPLICATE_TABLE, MISSING_COMMIT, NUMBERED_NEW_RULE, POLICY_ON_USER_CHAIN, RULE_OUTSIDE_TABLE,
    SYNTAX_ERROR, TOO_COMPLEX, TOO_MANY_DIAGNOSTICS, UNDECLARED_CHAIN, UNKNOWN_OPTION,
    UNKNOWN_TABLE, UNTERMINATED_QUOTE, WHITESPACE_LINE,
};
use crate::diagnostics::{CodeInfo, Diagnostic};
use crate::syntax::{
    Arg, Counters, Issue, LineKind, Span, SyntaxError, Word, line_ranges, parse_line_reusing,
};

/// Diagnostics of one code kept while reading; more are only counted, so
/// a file of millions of broken lines needs bounded memory. (`check` shows
/// the first [`crate::lint::MAX_PER_CODE`] anyway.)
pub const MAX_KEPT_PER_CODE: usize = 10_000;
/// Rules and chains that restore commands other than `-A` may move or
/// search (`-I` at the front of a long chain, `-D`, `-X`, `-E`) before
/// iptlint stops applying them: real restore scripts stay far below; a
/// hostile one would otherwise take time quadratic in its length.
pub const WORK_BUDGET: u64 = 10_000_000;
/// Rules iptlint makes of `-s a,b -d c,d` lists past the first pair of
/// each line before it stops (iptables makes one rule per pair, so one line
/// of two 1023-byte lists would make 260,000): hand-written lists stay far
/// below.
pub const LIST_BUDGET: usize = 100_000;

/// Whether `rule` jumps or goes to the chain named `name` (by name: the
/// targets of a table are resolved once it is complete).
fn jumps_to(rule: &Rule<'_>, name: &str) -> bool {
    rule.target
        .as_ref()
        .is_some_and(|target| target.is_chain() && target.name == name)
}

/// Why iptables refuses `-X` of the user chain at `index` of `table`, at
/// `span`: it still has rules, or rules still jump to it. `None` when it
/// can be deleted.
fn undeletable(table: &Table<'_>, index: usize, span: Span) -> Option<Diagnostic> {
    let chain = &table.chains[index];
    if !chain.rules.is_empty() {
        return Some(
            Diagnostic::new(
                &BAD_VALUE,
                span,
                format!(
                    "`-X`: chain `{}` still has {} rule{}",
                    chain.name,
                    chain.rules.len(),
                    if chain.rules.len() == 1 { "" } else { "s" }
                ),
            )
            .with_note("iptables refuses to delete a chain that is not empty (nft: \"CHAIN_DEL failed (Device or resource busy)\")")
            .with_note(format!("flush it first: `-F {}`", chain.name)),
        );
    }
    let caller = table
        .chains
        .iter()
        .flat_map(|caller| &caller.rules)
        .find(|rule| jumps_to(rule, &chain.name))?;
    Some(
        Diagnostic::new(
            &BAD_VALUE,
            span,
            format!("`-X`: rules still jump to chain `{}`", chain.name),
        )
        .with_secondary(caller.target_span(), "a jump to it")
        .with_note("iptables refuses to delete a chain something jumps to (legacy: \"Too many links\"; nft: \"CHAIN_DEL failed (Device or resource busy)\")"),
    )
}

/// The verdicts libiptc and nf_tables reserve: no chain may take their
/// names.
const STANDARD_TARGETS: [&str; 4] = ["ACCEPT", "DROP", "QUEUE", "RETURN"];

/// Longest chain name the kernel accepts.
pub const MAX_CHAIN_NAME: usize = 28;
/// Lines parsed before they are applied to the model: large enough to
/// amortise the fork of the parallel parse, small enough that parsed lines
/// never pile up for a whole file.
const BATCH_LINES: usize = 16 * 1024;
/// Lines parsed by one parallel task: enough to amortise the task, few
/// enough that both cores get work.
const TASK_LINES: usize = 256;

/// A comment line, kept for suppression directives (`# iptlint: ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentLine {
    /// 1-based line number.
    pub line: u32,
    /// The whole line, `#` included.
    pub span: Span,
}

/// The model of one source text and what was found while building it.
#[derive(Debug, Clone)]
pub struct Parsed<'a> {
    /// The model.
    pub dump: Dump<'a>,
    /// Diagnostics from reading the dump.
    pub diagnostics: Vec<Diagnostic>,
    /// Comment lines mentioning `iptlint:`.
    pub directives: Vec<CommentLine>,
}

impl Parsed<'_> {
    /// Whether a line could not be read, so the model is incomplete.
    pub fn has_syntax_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| std::ptr::eq(d.info, &SYNTAX_ERROR))
    }
}

// Items live only between parsing a batch and applying it; boxing the large
// rule variant would cost an allocation per rule line for nothing.
#[allow(clippy::large_enum_variant)]
enum Item<'a> {
    Empty,
    Comment(u32, Span, &'a str),
    Table(Word<'a>, Span),
    Chain {
        name: Option<Word<'a>>,
        policy: Option<Word<'a>>,
        counters: Option<Counters>,
        line: u32,
        span: Span,
    },
    Commit(Span),
    Rule(u32, Span, Interpreted<'a>, RuleFacts),
    Whitespace(Span),
    Error(SyntaxError),
}

/// Parse consecutive lines, the first numbered `first_line`, one rule
/// line's words vector serving them all (see [`parse_line_reusing`]).
fn parse_items<'a>(
    src: &'a str,
    first_line: usize,
    ranges: &[std::ops::Range<usize>],
) -> Vec<(Item<'a>, Vec<Issue>)> {
    let mut spare = Vec::new();
    let mut items = Vec::with_capacity(ranges.len());
    for (index, range) in ranges.iter().enumerate() {
        let number = (first_line + index) as u32;
        // `\r\n` endings are reported once for the file (CRLF_LINE_ENDINGS)
        // and read as `\n`.
        let text = &src[range.clone()];
        let text = text.strip_suffix('\r').unwrap_or(text);
        let newline_follows = src.as_bytes().get(range.end) == Some(&b'\n');
        items.push(
            match parse_line_reusing(text, range.start, number, newline_follows, &mut spare) {
                Err(error) => (Item::Error(error), Vec::new()),
                Ok(line) => (
                    line_item(line.kind, number, line.span, &mut spare),
                    line.issues,
                ),
            },
        );
    }
    items
}

/// [`parse_items`] for the lines true in `keep` (from the first of
/// `ranges`); the others are empty items.
fn parse_kept_items<'a>(
    src: &'a str,
    first_line: usize,
    ranges: &[std::ops::Range<usize>],
    keep: &[bool],
) -> Vec<(Item<'a>, Vec<Issue>)> {
    let kept = |line: usize| keep.get(line).copied().unwrap_or(true);
    let mut items = Vec::with_capacity(ranges.len());
    let mut start = 0;
    while start < ranges.len() {
        let mut end = start + 1;
        while end < ranges.len() && kept(end) == kept(start) {
            end += 1;
        }
        if kept(start) {
            items.extend(parse_items(src, first_line + start, &ranges[start..end]));
        } else {
            items.extend((start..end).map(|_| (Item::Empty, Vec::new())));
        }
        start = end;
    }
    items
}

/// The item of a line; a rule line's emptied words vector is left in
/// `spare` for the next line (see [`parse_line_reusing`]).
fn line_item<'a>(
    kind: LineKind<'a>,
    number: u32,
    span: Span,
    spare: &mut Vec<Arg<'a>>,
) -> Item<'a> {
    match kind {
        LineKind::Empty => Item::Empty,
        LineKind::Comment(comment) => Item::Comment(number, span, comment),
        LineKind::Table { name } => Item::Table(name, span),
        LineKind::Chain {
            name,
            policy,
            counters,
        } => Item::Chain {
            name,
            policy,
            counters,
            line: number,
            span,
        },
        LineKind::Commit => Item::Commit(span),
        LineKind::Rule { args, .. } if args.is_empty() => Item::Whitespace(span),
        LineKind::Rule {
            counters,
            mut args,
            word_count,
        } => {
            let interpreted = interpret(number, span, counters, &mut args, word_count);
            *spare = args;
            let facts = match &interpreted.statement {
                Some(Statement::Append(_, rule)) => RuleFacts::of(rule),
                _ => RuleFacts::default(),
            };
            Item::Rule(number, span, interpreted, facts)
        }
    }
}

/// Build the model of `src`.
pub fn build(src: &str) -> Parsed<'_> {
    build_lines(src, line_ranges(src), None)
}

/// [`build`] for a file whose lines are known already (see
/// [`crate::source::SourceFile::line_ranges`]): finding a large dump's
/// newlines a second time was 0.6% of `check`.
pub fn build_source(source: &crate::source::SourceFile) -> Parsed<'_> {
    build_lines(&source.text, source.line_ranges(), None)
}

/// Build the model of the lines of `src` whose index (from 0) is true in
/// `keep`; the others are read as empty lines (not parsed), so spans and
/// line numbers stay those of `src`. What depends on the lines left out
/// (their rules, their errors) is not in the model: `explain` uses it to
/// read the chains one service needs.
pub fn build_selected<'a>(src: &'a str, keep: &[bool]) -> Parsed<'a> {
    build_lines(src, line_ranges(src), Some(keep))
}

/// Build the model of `src` from its lines' `ranges` (as [`line_ranges`]
/// gives them).
fn build_lines<'a>(
    src: &'a str,
    ranges: Vec<std::ops::Range<usize>>,
    keep: Option<&[bool]>,
) -> Parsed<'a> {
    let mut builder = Builder {
        src,
        dump: Dump {
            line_count: ranges.len() as u32,
            ..Dump::default()
        },
        tables: Vec::new(),
        table_slots: HashMap::default(),
        diagnostics: Vec::new(),
        omitted: Vec::new(),
        kept_per_code: HashMap::default(),
        directives: Vec::new(),
        current: None,
        last_chain: 0,
        header_families: [false; 2],
        address_families: [false; 2],
        family_known: false,
        work: 0,
        over_budget: None,
        list_rules: 0,
        over_list_budget: None,
        saw_family_dependent_match: false,
        made_builtins: Vec::new(),
        run_ahead: 0,
    };
    if let Some((index, range)) = ranges
        .iter()
        .enumerate()
        .find(|(_, r)| src[(*r).clone()].ends_with('\r'))
    {
        builder.diagnostics.push(
            Diagnostic::new(&CRLF_LINE_ENDINGS, Span::new(range.end - 1, range.end), "this file has CRLF (Windows) line endings")
                .with_primary_message("`\\r` before the newline")
                .with_note(format!(
                    "iptables-restore keeps the `\\r` in the last word and fails at line {}; iptlint reads on as if the `\\r` were not there",
                    index + 1
                )),
        );
    }
    // Batch `k + 1` is parsed (in parallel) while batch `k` is applied to
    // the model (in order, on one thread), so applying costs no wall time
    // as long as it is cheaper than parsing.
    let parse_batch = |batch_index: usize| {
        let first_line = batch_index * BATCH_LINES + 1;
        let end = ranges.len().min((batch_index + 1) * BATCH_LINES);
        let batch = &ranges[batch_index * BATCH_LINES..end];
        let parse = |(index, lines): (usize, &[std::ops::Range<usize>])| {
            let first = first_line + index * TASK_LINES;
            match keep {
                Some(keep) => {
                    parse_kept_items(src, first, lines, keep.get(first - 1..).unwrap_or(&[]))
                }
                None => parse_items(src, first, lines),
            }
        };
        if batch.len() > 2 * TASK_LINES {
            batch
                .par_chunks(TASK_LINES)
                .enumerate()
                .map(parse)
                .collect::<Vec<_>>()
        } else {
            batch.chunks(TASK_LINES).enumerate().map(parse).collect()
        }
    };
    let batches = ranges.len().div_ceil(BATCH_LINES);
    let mut pending = (batches > 0).then(|| parse_batch(0));
    for next in 1..=batches {
        let items = pending.take().expect("parsed before it is applied");
        let (parsed_next, ()) = rayon::join(
            || (next < batches).then(|| parse_batch(next)),
            || builder.apply_all(items),
        );
        pending = parsed_next;
    }
    builder.finish()
}

struct Builder<'a> {
    src: &'a str,
    dump: Dump<'a>,
    /// Closed tables in file order; `None` where a later copy replaced one.
    tables: Vec<Option<Table<'a>>>,
    /// Table name to its slot in `tables`.
    table_slots: HashMap<Cow<'a, str>, usize, foldhash::fast::RandomState>,
    diagnostics: Vec<Diagnostic>,
    /// Diagnostics counted but not kept, per code (see [`MAX_KEPT_PER_CODE`]).
    omitted: Vec<(&'static CodeInfo, usize, Span)>,
    kept_per_code: HashMap<&'static str, usize, foldhash::fast::RandomState>,
    directives: Vec<CommentLine>,
    current: Option<Table<'a>>,
    /// The chain the last rule command named: a dump's rules come chain by
    /// chain, and comparing with a name or two costs less than a hash
    /// lookup among tens of thousands, a cache miss or two each on a large
    /// dump (checked by name, so never stale).
    last_chain: usize,
    /// Which families an `iptables-save`/`ip6tables-save` header named
    /// (IPv4, IPv6): one decides the family; both mean concatenated dumps.
    header_families: [bool; 2],
    /// Which families the addresses of `-s`/`-d` were written in.
    address_families: [bool; 2],
    /// Whether something says which family the dump is (an `iptables-save`
    /// or `ip6tables-save` header, an address): without it, IPv4 is a guess.
    family_known: bool,
    /// Elements moved or scanned by restore commands so far (see [`WORK_BUDGET`]).
    work: u64,
    /// Where the work budget ran out.
    over_budget: Option<Span>,
    /// Rules made of address lists past each line's first (see [`LIST_BUDGET`]).
    list_rules: usize,
    /// Where the list budget ran out.
    over_list_budget: Option<Span>,
    /// A rule has a match or target whose validity depends on the family:
    /// `-m ah`, `-m hashlimit`, `-m policy`, `-m iprange`, `-m conntrack`
    /// with addresses, `-j TEE`, an extension of one
    /// family only (see
    /// [`Builder::check_family_dependent_rules`]).
    saw_family_dependent_match: bool,
    /// Built-in chains of the open table that iptables-nft has made
    /// though they are neither declared nor given a policy nor hold a rule
    /// now: flushed by name, or emptied of the rules they had (see
    /// [`Builder::missing_in_nft`]).
    made_builtins: Vec<usize>,
    /// How many of the lines right after the one being applied do the same:
    /// append to the same chain, or declare a chain. The room to make in
    /// that chain's rules, or in the table's chains, when they need more
    /// (see [`push_rule`] and [`Builder::declare_chain`]).
    run_ahead: usize,
}

impl<'a> Builder<'a> {
    /// Apply parsed lines in order, with the issues found in each.
    fn apply_all(&mut self, mut items: Vec<Vec<(Item<'a>, Vec<Issue>)>>) {
        for index in 0..items.len() {
            let mut chunk = std::mem::take(&mut items[index]).into_iter();
            while let Some((item, issues)) = chunk.next() {
                // A run is counted once, at its first line.
                self.run_ahead = match run_kind(&item) {
                    Some(_) if self.run_ahead > 0 => self.run_ahead - 1,
                    Some(kind) => chunk
                        .as_slice()
                        .iter()
                        .chain(items[index + 1..].iter().flatten())
                        .take_while(|(next, _)| run_kind(next) == Some(kind))
                        .count(),
                    None => 0,
                };
                self.apply_one(item, issues);
            }
        }
    }

    /// Apply one parsed line with the issues found in it.
    fn apply_one(&mut self, item: Item<'a>, issues: Vec<Issue>) {
        for issue in issues {
            self.push(match issue {
                Issue::BadCounters(span, message) => Diagnostic::new(&BAD_COUNTERS, span, message)
                    .with_note("iptables-restore ignores them, but `iptables-restore -c` refuses the line"),
                Issue::UnterminatedQuote(span) => Diagnostic::new(
                    &UNTERMINATED_QUOTE,
                    span,
                    "this quote is never closed: the rest of the line becomes part of this word",
                )
                .with_primary_message("unclosed `\"` swallows everything up to the end of the line")
                .with_note("iptables-restore does not refuse the quote itself: the words after it, any `-j` target included, become this one word (the line is refused when that word is not a value its option takes)"),
            });
        }
        self.apply(item);
    }

    /// Keep a diagnostic, or only count it past [`MAX_KEPT_PER_CODE`] of its code.
    fn push(&mut self, diagnostic: Diagnostic) {
        let kept = self.kept_per_code.entry(diagnostic.info.name).or_default();
        if *kept < MAX_KEPT_PER_CODE {
            *kept += 1;
            self.diagnostics.push(diagnostic);
            return;
        }
        match self
            .omitted
            .iter_mut()
            .find(|(info, _, _)| std::ptr::eq(*info, diagnostic.info))
        {
            Some((_, count, _)) => *count += 1,
            None => self
                .omitted
                .push((diagnostic.info, 1, diagnostic.primary_span())),
        }
    }

    fn in_current(&self, diagnostic: Diagnostic, chain: Option<&str>) -> Diagnostic {
        match &self.current {
            Some(table) => diagnostic.in_table(&table.name, chain),
            None => diagnostic,
        }
    }

    fn apply(&mut self, item: Item<'a>) {
        match item {
            Item::Empty => {}
            Item::Comment(line, span, text) => {
                if let Some(family) = header_family(text) {
                    self.header_families[family as usize] = true;
                    self.family_known = true;
                }
                if text.contains("iptlint:") {
                    self.directives.push(CommentLine { line, span });
                }
            }
            Item::Whitespace(span) => self.push(
                Diagnostic::new(&WHITESPACE_LINE, span, "a line of only whitespace")
                    .with_note("iptables-restore skips only lines that are exactly empty"),
            ),
            Item::Error(error) => {
                self.push(Diagnostic::new(&SYNTAX_ERROR, error.span, error.message))
            }
            Item::Table(name, span) => self.open_table(name, span),
            Item::Chain {
                name,
                policy,
                counters,
                line,
                span,
            } => self.declare_chain(name, policy, counters, line, span, false),
            Item::Commit(span) => match self.current.take() {
                Some(mut table) => {
                    table.commit = Some(span);
                    self.close_table(table);
                }
                None => self.push(Diagnostic::new(
                    &RULE_OUTSIDE_TABLE,
                    span,
                    "`COMMIT` outside a table",
                )),
            },
            Item::Rule(line, span, interpreted, facts) => {
                self.rule_line(line, span, interpreted, facts)
            }
        }
    }

    fn open_table(&mut self, name: Word<'a>, span: Span) {
        if let Some(open) = self.current.take() {
            let diagnostic = Diagnostic::new(
                &MISSING_COMMIT,
                open.span,
                format!(
                    "table `{}` is not closed by COMMIT before the next table",
                    open.name
                ),
            )
            .with_secondary(span, "next table starts here")
            .in_table(&open.name, None);
            self.push(diagnostic);
            self.close_table(open);
        }
        if TableKind::from_name(&name.text) == TableKind::Unknown {
            self.push(
                Diagnostic::new(
                    &UNKNOWN_TABLE,
                    name.span,
                    format!("there is no table `{}`", name.text),
                )
                .with_note("tables are filter, nat, mangle, raw and security"),
            );
        }
        self.current = Some(Table::new(name.text, span));
        self.made_builtins.clear();
    }

    /// Whether chain `index` of the open table is a built-in chain that
    /// nf_tables does not have yet: iptables-nft makes one when the restore
    /// declares it, sets its policy, flushes it by name or adds a rule to
    /// it, and refuses a command on it before that ("No chain/target/match
    /// by that name"); iptables-legacy has every built-in chain. Never in
    /// a table that so far looks like a fragment for `iptables-restore
    /// --noflush` (no built-in chain declared, holding a rule or made: see
    /// [`Table::is_fragment`]): an earlier restore may have made the chain.
    fn missing_in_nft(&self, index: usize) -> bool {
        let table = self.current.as_ref().expect("open");
        let chain = &table.chains[index];
        chain.builtin
            && !chain.declared
            && chain.policy.is_none()
            && chain.rules.is_empty()
            && !self.made_builtins.contains(&index)
            && !(table.is_fragment() && self.made_builtins.is_empty())
    }

    /// Remember that iptables-nft has made chain `index` (see
    /// [`Builder::missing_in_nft`]).
    fn note_made(&mut self, index: usize) {
        if self.current.as_ref().expect("open").chains[index].builtin
            && !self.made_builtins.contains(&index)
        {
            self.made_builtins.push(index);
        }
    }

    fn close_table(&mut self, mut table: Table<'a>) {
        // Most chains of a kube-proxy dump hold 2 or 3 rules, and a `Vec`
        // grown by pushes has room for at least 4.
        for chain in &mut table.chains {
            chain.rules.shrink_to_fit();
        }
        // The chains themselves, grown by doubling: the 10k-service dump's
        // 70,000 chains had room for 131,072 (7.8 MB unused at the peak).
        table.chains.shrink_to_fit();
        let slot = self.tables.len();
        if let Some(earlier) = self
            .table_slots
            .insert(table.name.clone(), slot)
            .and_then(|index| self.tables[index].take())
        {
            self.push(
                Diagnostic::new(
                    &DUPLICATE_TABLE,
                    table.span,
                    format!(
                        "table `{}` appears twice; iptables-restore keeps only this copy",
                        table.name
                    ),
                )
                .with_secondary(earlier.span, "the rules of this copy are discarded")
                .in_table(&table.name, None),
            );
        }
        self.tables.push(Some(table));
    }

    /// A chain declared by a `:NAME POLICY [p:b]` line, or made by `-N
    /// NAME` (`command`), as iptables-restore declares it: a built-in
    /// chain's line sets its policy (`-` leaves it) and may come again, a
    /// user chain is created once.
    #[allow(clippy::too_many_arguments)]
    fn declare_chain(
        &mut self,
        name: Option<Word<'a>>,
        policy: Option<Word<'a>>,
        counters: Option<Counters>,
        line: u32,
        span: Span,
        command: bool,
    ) {
        let Some(name) = name else {
            self.push(Diagnostic::new(
                &SYNTAX_ERROR,
                span,
                "a chain declaration needs a name after `:`",
            ));
            return;
        };
        if self.current.is_none() {
            self.push(Diagnostic::new(
                &RULE_OUTSIDE_TABLE,
                span,
                format!("chain `{}` is declared outside a table", name.text),
            ));
            return;
        }
        self.check_chain_name(&name);
        self.check_new_chain_name(&name, !command);
        let table = self.current.as_ref().expect("checked above");
        let existing = table.chain_index(&name.text);
        let builtin = table.kind.builtin_chains().contains(&name.text.as_ref());
        let known_table = table.kind != TableKind::Unknown;
        // In a table iptables does not have, which chains are built in is unknown.
        match (&policy, builtin) {
            _ if !known_table => {}
            _ if command => {}
            (None, false) => {
                let d = Diagnostic::new(
                    &BAD_POLICY,
                    name.span,
                    format!("chain `{}` needs a policy: `-` for a user chain", name.text),
                )
                .with_note("iptables-restore refuses the line (\"policy invalid\")");
                let d = self.in_current(d, Some(&name.text));
                self.push(d);
            }
            (None, true) => {
                let d = Diagnostic::new(
                    &BAD_POLICY,
                    name.span,
                    format!("built-in chain `{}` needs a policy", name.text),
                );
                let d = self.in_current(d, Some(&name.text));
                self.push(d);
            }
            (Some(p), true) if !["ACCEPT", "DROP", "-"].contains(&p.text.as_ref()) => {
                let d = Diagnostic::new(
                    &BAD_POLICY,
                    p.span,
                    format!(
                        "`{}` is not a policy; built-in chains take ACCEPT or DROP",
                        p.text
                    ),
                );
                let d = self.in_current(d, Some(&name.text));
                self.push(d);
            }
            (Some(p), false) if p.text != "-" => {
                let d = Diagnostic::new(
                    &POLICY_ON_USER_CHAIN,
                    p.span,
                    format!("user chain `{}` cannot have a policy", name.text),
                )
                .with_primary_message("write `-` here")
                .with_note("only built-in chains have policies; end the chain with an explicit rule instead")
                .with_note(format!("{NFT_LOADS_NOTE}: it leaves the policy of a user chain out"));
                let d = self.in_current(d, Some(&name.text));
                self.push(d);
            }
            _ => {}
        }
        // `-` leaves a built-in chain's policy as it is (iptables-restore
        // sets a policy only when it is not `-`).
        let policy = policy.filter(|p| !(builtin && p.text == "-"));
        let table = self.current.as_mut().expect("checked above");
        match existing {
            Some(index) if builtin && !command && !table.chains[index].declared => {
                let chain = &mut table.chains[index];
                chain.declared = true;
                chain.span = span;
                chain.name_span = name.span;
                chain.line = line;
                chain.policy = policy.map(|p| p.text);
                chain.counters = counters;
            }
            // A built-in chain's line again: iptables-restore sets the
            // policy again, and the last one holds.
            Some(index) if builtin && !command => {
                let chain = &mut table.chains[index];
                let Some(policy) = policy else {
                    return;
                };
                let before = chain.policy_name().to_string();
                let first = chain.span;
                chain.policy = Some(policy.text.clone());
                if let Some(counters) = counters {
                    chain.counters = Some(counters);
                }
                if before != policy.text {
                    let d = Diagnostic::new(
                        &DUPLICATE_CHAIN,
                        policy.span,
                        format!(
                            "built-in chain `{}` is declared again with policy {}: it replaces {before}",
                            name.text, policy.text
                        ),
                    )
                    .with_severity(crate::diagnostics::Severity::Warning)
                    .with_secondary(first, "first declared here")
                    .with_note("iptables-restore sets the policy of each declaration in turn; the last one holds");
                    let d = self.in_current(d, Some(&name.text));
                    self.push(d);
                }
            }
            Some(index) => {
                let first = table.chains[index].span;
                let mut d = if builtin {
                    Diagnostic::new(
                        &DUPLICATE_CHAIN,
                        name.span,
                        format!("`-N {}`: a built-in chain exists by that name", name.text),
                    )
                } else {
                    Diagnostic::new(
                        &DUPLICATE_CHAIN,
                        name.span,
                        format!("chain `{}` is declared twice", name.text),
                    )
                    .with_secondary(first, "first declared here")
                };
                d = if command {
                    d.with_note("iptables-restore refuses the line (\"Chain already exists\")")
                } else {
                    d.with_note("iptables-legacy refuses the line (\"error creating chain: File exists\")")
                        .with_note(format!(
                            "{NFT_LOADS_NOTE}: it takes the second declaration of a user chain as the first"
                        ))
                };
                let d = self.in_current(d, Some(&name.text));
                self.push(d);
            }
            None => {
                // The declarations of a table come in a run: room for all
                // of them at once (a kube-proxy nat table has tens of
                // thousands of chains).
                if table.chains.len() == table.chains.capacity() {
                    table.chains.reserve(self.run_ahead + 1);
                    table.index.reserve(self.run_ahead + 1);
                }
                table.add_chain(Chain {
                    name: name.text,
                    span,
                    name_span: name.span,
                    line,
                    builtin: false,
                    declared: true,
                    policy: None,
                    counters,
                    rules: Vec::new(),
                    family_dependent: false,
                });
            }
        }
    }

    /// Names iptables refuses for a new chain: a standard target's (both
    /// backends), and one starting with `!` or `-` (refused by `-N` and
    /// `-E`; in a `:` declaration, a `declaration`, only by iptables-nft).
    fn check_new_chain_name(&mut self, name: &Word<'a>, declaration: bool) {
        let text: &str = &name.text;
        let d = if STANDARD_TARGETS.contains(&text) {
            Diagnostic::new(
                &BAD_VALUE,
                name.span,
                format!("a chain cannot be named `{text}`, a standard target"),
            )
            .with_note("iptables refuses it (\"chain name may not clash with target name\"; iptables-legacy-restore: \"error creating chain: File exists\")")
        } else if let Some(first) = text.chars().next().filter(|c| matches!(c, '!' | '-')) {
            let d = Diagnostic::new(
                &BAD_VALUE,
                name.span,
                format!("a chain name cannot start with `{first}`"),
            )
            .with_note(format!(
                "iptables refuses it (\"chain name not allowed to start with `{first}'\"): `{first}` would read as {}",
                if first == '!' { "a negation" } else { "an option" }
            ));
            if declaration {
                d.with_note(format!(
                    "{LEGACY_LOADS_NOTE}: iptables-legacy-restore checks the name of `-N` and `-E`, not of a `:` declaration"
                ))
            } else {
                d
            }
        } else {
            return;
        };
        let d = self.in_current(d, Some(text));
        self.push(d);
    }

    fn check_chain_name(&mut self, name: &Word<'a>) {
        if name.text.chars().count() > MAX_CHAIN_NAME {
            let d = Diagnostic::new(
                &CHAIN_NAME_TOO_LONG,
                name.span,
                format!(
                    "chain name `{}` is {} characters long",
                    name.text,
                    name.text.chars().count()
                ),
            )
            .with_note(format!("the kernel accepts at most {MAX_CHAIN_NAME}"));
            let d = self.in_current(d, Some(&name.text));
            self.push(d);
        }
    }

    /// Apply a rule command; `facts` are those of an `-A` line's rule
    /// (see [`RuleFacts`]).
    fn rule_line(&mut self, line: u32, span: Span, interpreted: Interpreted<'a>, facts: RuleFacts) {
        let Interpreted {
            statement,
            mut diagnostics,
            address_lists,
            family_markers,
        } = interpreted;
        // `-6` in an IPv4 dump (`-4` in an IPv6 one): iptables-restore stops
        // reading the line there and skips it.
        let skipped_from =
            family_markers.and_then(|markers| markers[self.family_so_far().other() as usize]);
        if let Some(kept) = skipped_from {
            diagnostics.truncate(kept);
        }
        let address_lists = address_lists
            .as_deref()
            .filter(|lists| self.within_list_budget(lists, span));
        let chain_name = statement
            .as_ref()
            .and_then(statement_chain)
            .map(|w| w.text.clone());
        for diagnostic in diagnostics {
            let d = self.in_current(diagnostic, chain_name.as_deref());
            self.push(d);
        }
        if skipped_from.is_some() {
            return;
        }
        let Some(statement) = statement else { return };
        if self.current.is_none() {
            self.push(Diagnostic::new(
                &RULE_OUTSIDE_TABLE,
                span,
                "a rule outside a table: no `*table` line before it",
            ));
            return;
        }
        let letter = statement_letter(&statement);
        if letter != 'A' {
            let table = self.current.as_mut().expect("checked above");
            table.commands.push(Command {
                letter,
                chain: chain_name.map(Cow::into_owned),
                line,
                span,
            });
        }
        let pairs = address_lists.map_or(1, AddressLists::pair_count);
        if !self.within_budget(&statement, span, pairs) {
            return;
        }
        match statement {
            Statement::Append(chain, rule) => {
                if let Some(index) = self.chain_for(&chain) {
                    // Kept apart from lists: a rule is moved once, not through an iterator.
                    match address_lists {
                        None => self.append(index, rule, facts),
                        Some(lists) => {
                            for rule in lists.rules(&rule) {
                                let facts = RuleFacts::of(&rule);
                                self.append(index, Box::new(rule), facts);
                            }
                        }
                    }
                }
            }
            Statement::Insert(chain, position, rule) => {
                if let Some(index) = self.chain_for(&chain) {
                    let added: Vec<Rule<'a>> = one_rule_per_address(*rule, address_lists).collect();
                    for rule in &added {
                        self.note_rule(index, RuleFacts::of(rule));
                    }
                    let rules = &mut self.current.as_mut().expect("open").chains[index].rules;
                    let at = position.unwrap_or(1).max(1) as usize - 1;
                    if at > rules.len() {
                        let d = Diagnostic::new(
                            &BAD_VALUE,
                            span,
                            format!(
                                "cannot insert at position {}: the chain has {} rules",
                                at + 1,
                                rules.len()
                            ),
                        );
                        let d = self.in_current(d, Some(&chain.text));
                        self.push(d);
                    } else {
                        // Each at the same position, as iptables inserts them.
                        for rule in added {
                            rules.insert(at, rule);
                        }
                    }
                }
            }
            Statement::Replace(chain, position, rule) => {
                if let Some(index) = self.chain_for(&chain) {
                    let facts = RuleFacts::of(&rule);
                    let rules = &mut self.current.as_mut().expect("open").chains[index].rules;
                    match rules.get_mut((position as usize).wrapping_sub(1)) {
                        Some(slot) => {
                            *slot = *rule;
                            // What the new rule says of the dump counts as
                            // an added rule's does: an address of the other
                            // family in `-R` is refused as in `-A`.
                            self.note_rule(index, facts);
                            let d = numbered_new_rule(span, 'R', &chain.text, position);
                            let d = self.in_current(d, Some(&chain.text));
                            self.push(d);
                        }
                        None => {
                            let d = Diagnostic::new(
                                &BAD_VALUE,
                                span,
                                format!("no rule {position} to replace"),
                            );
                            let d = self.in_current(d, Some(&chain.text));
                            self.push(d);
                        }
                    }
                }
            }
            Statement::Delete(chain, which) => {
                let family = self.family_so_far();
                if let Some(index) = self.chain_for(&chain) {
                    // The rule it deletes (if any) made the chain in nf_tables.
                    self.note_made(index);
                    let rules = &mut self.current.as_mut().expect("open").chains[index].rules;
                    let deleted = match which {
                        RuleRef::Number(n) => {
                            let position =
                                Some((n as usize).wrapping_sub(1)).filter(|i| *i < rules.len());
                            position.map(|i| rules.remove(i)).is_some()
                        }
                        // One rule per pair of addresses, each found as the
                        // kernel finds it (see `Rule::same_entry`).
                        RuleRef::Spec(spec) => {
                            one_rule_per_address(*spec, address_lists).all(|spec| {
                                let position =
                                    rules.iter().position(|r| r.same_entry(&spec, family));
                                position.map(|i| rules.remove(i)).is_some()
                            })
                        }
                    };
                    if !deleted {
                        let d = Diagnostic::new(&BAD_VALUE, span, "`-D`: no such rule in this chain")
                            .with_note("iptables-restore fails: \"Bad rule (does a matching rule exist in that chain?)\"");
                        let d = self.in_current(d, Some(&chain.text));
                        self.push(d);
                    }
                }
            }
            Statement::NewChain(name) => self.declare_chain(
                Some(name),
                Some(Word {
                    text: Cow::Borrowed("-"),
                    span,
                }),
                None,
                line,
                span,
                true,
            ),
            Statement::DeleteChain(Some(name)) => {
                if let Some(index) = self.chain_for(&name) {
                    let table = self.current.as_ref().expect("open");
                    let refusal = if table.chains[index].builtin {
                        Some(Diagnostic::new(
                            &BAD_VALUE,
                            name.span,
                            "built-in chains cannot be deleted",
                        ))
                    } else {
                        undeletable(table, index, name.span)
                    };
                    match refusal {
                        Some(d) => {
                            let d = self.in_current(d, Some(&name.text));
                            self.push(d);
                        }
                        None => self.current.as_mut().expect("open").remove_chain(index),
                    }
                }
            }
            Statement::DeleteChain(None) => {
                // iptables deletes the user chains one by one and stops at
                // the first it cannot delete; the model keeps them all then.
                let table = self.current.as_ref().expect("open");
                let called_from_builtin: HashSet<&str> = table
                    .chains
                    .iter()
                    .filter(|chain| chain.builtin)
                    .flat_map(|chain| &chain.rules)
                    .filter_map(|rule| rule.target.as_ref().filter(|t| t.is_chain()))
                    .map(|target| target.name.as_ref())
                    .collect();
                let refusal = (0..table.chains.len())
                    .filter(|&index| !table.chains[index].builtin)
                    .find_map(|index| {
                        let chain = &table.chains[index];
                        if chain.rules.is_empty()
                            && !called_from_builtin.contains(chain.name.as_ref())
                        {
                            // Only user chains call it, if any: they have
                            // rules, so they are the ones refused.
                            return None;
                        }
                        undeletable(table, index, span)
                    });
                match refusal {
                    Some(d) => self.push(d),
                    None => {
                        let table = self.current.as_mut().expect("open");
                        table.chains.retain(|chain| chain.builtin);
                        table.reindex();
                    }
                }
            }
            Statement::Flush(Some(name)) => {
                if let Some(index) = self.chain_for(&name) {
                    self.note_made(index);
                    self.current.as_mut().expect("open").chains[index]
                        .rules
                        .clear();
                }
            }
            Statement::Flush(None) => {
                let chains = self.current.as_ref().expect("open").chains.len();
                for index in 0..chains {
                    // A chain that had rules stays made in nf_tables.
                    if !self.current.as_ref().expect("open").chains[index]
                        .rules
                        .is_empty()
                    {
                        self.note_made(index);
                    }
                    self.current.as_mut().expect("open").chains[index]
                        .rules
                        .clear();
                }
            }
            Statement::Zero(chain, number) => {
                let Some(name) = chain else {
                    return;
                };
                let Some(index) = self.chain_for(&name) else {
                    return;
                };
                let rules = self.current.as_ref().expect("open").chains[index]
                    .rules
                    .len();
                let missing_in_nft = self.missing_in_nft(index);
                if let Some(number) = number.filter(|&n| n as usize > rules) {
                    let mut d = Diagnostic::new(
                        &BAD_VALUE,
                        span,
                        format!(
                            "`-Z {} {number}`: the chain has {rules} rule{}",
                            name.text,
                            if rules == 1 { "" } else { "s" }
                        ),
                    )
                    .with_note("iptables-legacy refuses the line (libiptc: no such rule)");
                    d = if missing_in_nft {
                        d.with_note(format!(
                            "iptables-nft refuses it too: {}",
                            nft_has_no_chain_yet(&name.text)
                        ))
                    } else {
                        d.with_note(format!("{NFT_LOADS_NOTE}: it zeroes nothing"))
                    };
                    let d = self.in_current(d, Some(&name.text));
                    self.push(d);
                } else if missing_in_nft {
                    let d = Diagnostic::new(
                        &UNDECLARED_CHAIN,
                        span,
                        format!(
                            "`-Z {}`: iptables-nft has no chain `{}` yet",
                            name.text, name.text
                        ),
                    )
                    .with_note(format!(
                        "iptables-nft refuses the line (\"No chain/target/match by that name\"): {}",
                        nft_has_no_chain_yet(&name.text)
                    ))
                    .with_note(format!("{LEGACY_LOADS_NOTE}: it has every built-in chain"));
                    let d = self.in_current(d, Some(&name.text));
                    self.push(d);
                } else if let Some(number) = number {
                    let d = numbered_new_rule(span, 'Z', &name.text, number);
                    let d = self.in_current(d, Some(&name.text));
                    self.push(d);
                }
            }
            Statement::Policy(name, policy) => {
                if let Some(index) = self.chain_for(&name) {
                    let table = self.current.as_mut().expect("open");
                    if !table.chains[index].builtin {
                        let d = Diagnostic::new(
                            &POLICY_ON_USER_CHAIN,
                            policy.span,
                            format!("user chain `{}` cannot have a policy", name.text),
                        );
                        let d = self.in_current(d, Some(&name.text));
                        self.push(d);
                    } else if policy.text != "ACCEPT" && policy.text != "DROP" {
                        let d = Diagnostic::new(
                            &BAD_POLICY,
                            policy.span,
                            format!(
                                "`{}` is not a policy; built-in chains take ACCEPT or DROP",
                                policy.text
                            ),
                        );
                        let d = self.in_current(d, Some(&name.text));
                        self.push(d);
                    } else {
                        table.chains[index].policy = Some(policy.text);
                    }
                }
            }
            Statement::Rename(old, new) => {
                self.check_chain_name(&new);
                self.check_new_chain_name(&new, false);
                if let Some(index) = self.chain_for(&old) {
                    let table = self.current.as_mut().expect("open");
                    if table.chains[index].builtin {
                        let d = Diagnostic::new(
                            &BAD_VALUE,
                            old.span,
                            "built-in chains cannot be renamed",
                        );
                        let d = self.in_current(d, Some(&old.text));
                        self.push(d);
                        return;
                    }
                    if table.chain_index(&new.text).is_some() {
                        let d = Diagnostic::new(
                            &DUPLICATE_CHAIN,
                            new.span,
                            format!("cannot rename to `{}`: that chain exists", new.text),
                        );
                        let d = self.in_current(d, Some(&old.text));
                        self.push(d);
                        return;
                    }
                    // nf_tables looks for the chain among those committed
                    // before this restore, and this one is not.
                    let d = Diagnostic::new(
                        &BAD_VALUE,
                        span,
                        format!("`-E {} {}` renames a chain this restore makes", old.text, new.text),
                    )
                    .with_note("iptables-nft refuses it (\"CHAIN_RENAME failed (No such file or directory)\"): it renames only chains that exist before the restore (`--noflush`)")
                    .with_note(format!("{LEGACY_LOADS_NOTE}: it renames the chain"));
                    let d = self.in_current(d, Some(&old.text));
                    self.push(d);
                    let table = self.current.as_mut().expect("open");
                    for chain in &mut table.chains {
                        for rule in &mut chain.rules {
                            if jumps_to(rule, &old.text)
                                && let Some(target) = &mut rule.target
                            {
                                target.name = Cow::Owned(new.text.to_string());
                            }
                        }
                    }
                    table.chains[index].name = new.text;
                    table.reindex();
                }
            }
        }
    }

    /// Charge the rules or chains `statement` moves or searches to the work
    /// budget; false (and the statement is skipped) once it is spent, so a
    /// restore script of a million `-I CHAIN 1` cannot take hours.
    fn within_budget(&mut self, statement: &Statement<'a>, span: Span, pairs: usize) -> bool {
        let Some(table) = &self.current else {
            return true;
        };
        let costly = matches!(
            statement,
            Statement::Insert(..)
                | Statement::Delete(..)
                | Statement::DeleteChain(_)
                | Statement::Flush(None)
                | Statement::Rename(..)
        );
        if !costly {
            return true;
        }
        if self.over_budget.is_some() {
            return false;
        }
        let chain_len = |name: &Word<'_>| {
            table
                .chain_index(&name.text)
                .map_or(0, |index| table.chains[index].rules.len())
        };
        let cost = match statement {
            // One insertion or search per pair of addresses of a list.
            Statement::Insert(chain, ..) | Statement::Delete(chain, _) => chain_len(chain) * pairs,
            Statement::DeleteChain(_) => table.chains.len() + table.rule_count(),
            Statement::Flush(None) => table.chains.len(),
            Statement::Rename(..) => table.chains.len() + table.rule_count(),
            _ => return true,
        } as u64;
        if self.work + cost > WORK_BUDGET {
            self.over_budget = Some(span);
            return false;
        }
        self.work += cost;
        true
    }

    /// `-A`: append `rule`, whose facts are `facts`, to chain `index` of
    /// the open table. Taken boxed, so that it is copied once, from its box
    /// into the chain.
    fn append(&mut self, index: usize, rule: Box<Rule<'a>>, facts: RuleFacts) {
        self.note_rule(index, facts);
        push_rule(
            &mut self.current.as_mut().expect("open").chains[index].rules,
            rule,
            self.run_ahead,
        );
    }

    /// Whether the rules of a line's address lists fit in [`LIST_BUDGET`];
    /// past it, a line keeps its first pair only.
    fn within_list_budget(&mut self, lists: &AddressLists, span: Span) -> bool {
        let extra = lists.pair_count() - 1;
        if self.over_list_budget.is_some() || self.list_rules + extra > LIST_BUDGET {
            self.over_list_budget.get_or_insert(span);
            return false;
        }
        self.list_rules += extra;
        true
    }

    /// The chain a command names, or an `undeclared-chain` error.
    fn chain_for(&mut self, name: &Word<'a>) -> Option<usize> {
        let table = self.current.as_ref()?;
        // The chain of the last rule, else the one declared after it:
        // iptables-save writes the rules chain by chain in the order of the
        // declarations.
        for guess in [self.last_chain, self.last_chain + 1] {
            if table
                .chains
                .get(guess)
                .is_some_and(|chain| chain.name == name.text)
            {
                self.last_chain = guess;
                return Some(guess);
            }
        }
        match table.chain_index(&name.text) {
            Some(index) => {
                self.last_chain = index;
                Some(index)
            }
            None => {
                let d = Diagnostic::new(
                    &UNDECLARED_CHAIN,
                    name.span,
                    format!(
                        "chain `{}` is not declared in table `{}`",
                        name.text, table.name
                    ),
                )
                .with_note(format!("declare it first with `:{} - [0:0]`", name.text))
                .in_table(&table.name, Some(&name.text));
                self.push(d);
                None
            }
        }
    }

    /// Take in what a rule put in chain `index` of the open table (by
    /// `-A`, `-I` or `-R`) says of the dump, and mark the chain for the
    /// family's checks when the rule needs them.
    fn note_rule(&mut self, index: usize, facts: RuleFacts) {
        for (known, seen) in self.address_families.iter_mut().zip(facts.address_families) {
            *known |= seen;
        }
        self.family_known |= facts.address_families.contains(&true);
        self.dump.has_counters |= facts.has_counters;
        self.saw_family_dependent_match |= facts.family_dependent;
        self.current.as_mut().expect("open").chains[index].family_dependent |=
            facts.needs_family_check();
    }

    /// `REJECT --reject-with`: which reply a type names depends on the
    /// family, known only once the whole dump is read. A type iptables does
    /// not know is refused when the line is read; `tcp-reset` on a rule that
    /// does not say `-p tcp` is refused by the kernel when the table is
    /// committed (`ipt_REJECT`'s check: "TCP_RESET invalid for non-tcp").
    ///
    /// `-m ah` also depends on the family: IPv4's ah match needs `-p ah`
    /// (the kernel: "only valid for protocol 51"), IPv6's, which finds AH
    /// among the extension headers, does not. Checked only when something
    /// says the dump is IPv4. So are hashlimit's grouping masks: iptables
    /// 1.8.9 takes prefixes up to 128 in both families, the IPv4 kernel
    /// refuses those over 32, and each family refuses a mask written as an
    /// address of the other. And the extensions only one family has
    /// (`-m ttl` in IPv4, `-m hl` in IPv6, ...), and addresses of the other
    /// family in `-m policy` tunnels and `-j TEE --gateway`.
    fn check_family_dependent_rules(&mut self) {
        let family = self.dump.family;
        let check_matches = self.family_known && self.saw_family_dependent_match;
        let ah_needs_protocol = family == Family::V4 && check_matches;
        // Addresses of the family the dump is not: the header decides it,
        // or without one (or with both) the IPv6 addresses.
        let check_addresses = match self.header_families {
            [true, true] => false,
            _ => self.address_families[family.other() as usize],
        };
        let (src, family_known) = (self.src, self.family_known);
        let chain_findings = |table: &Table<'a>, chain: &Chain<'a>| {
            let mut found = Vec::new();
            // Unless some addresses are of the other family, only the rules
            // marked when they were added (see `RuleFacts`) can have a
            // finding here: reading every rule of a kube-proxy dump again
            // for them took 10 - 14 ms of two threads on the 10k dump.
            if !check_addresses && !chain.family_dependent {
                return found;
            }
            // The rules of one `-s a,b -d c,d` line share their addresses,
            // reported once (a line's rules are all in its chain).
            let mut reported_addresses = HashSet::new();
            for rule in &chain.rules {
                if check_addresses {
                    found.extend(
                        wrong_family_rule_addresses(rule, family)
                            .filter(|d| reported_addresses.insert(d.primary_span()))
                            .map(|d| d.in_table(&table.name, Some(&chain.name))),
                    );
                }
                if check_matches {
                    found.extend(
                        wrong_family_extensions(rule, family)
                            .chain(wrong_family_addresses(rule, family, src))
                            .chain(
                                (family == Family::V6)
                                    .then(|| addrtype_types_not_in_ipv6(rule))
                                    .into_iter()
                                    .flatten(),
                            )
                            .map(|d| d.in_table(&table.name, Some(&chain.name))),
                    );
                }
                let masks = rule.matches.iter().flat_map(hashlimit_masks);
                for (option, mask) in masks.filter(|_| check_matches) {
                    if let Some(reason) = mask.refusal_in(family == Family::V6) {
                        found.push(
                            Diagnostic::new(
                                &BAD_VALUE,
                                option.values[0].span,
                                format!("{}: {reason}", option.name),
                            )
                            .in_table(&table.name, Some(&chain.name)),
                        );
                    }
                }
                if ah_needs_protocol
                    && let Some(ah) = rule.matches.iter().find(|m| m.name == "ah" && !m.implicit)
                    && !rule
                        .protocol
                        .as_ref()
                        .is_some_and(|p| p.value == Protocol::Number(51) && !p.negated)
                {
                    let has = written_protocol(rule.protocol.as_ref());
                    found.push(
                            Diagnostic::new(
                                &BAD_VALUE,
                                ah.span,
                                format!("`-m ah` needs `-p ah` in IPv4; the rule has {has}"),
                            )
                            .with_note("the kernel refuses the rule when the table is committed (\"ah match: only valid for protocol 51\"); `iptables-restore --test` does not see it; ip6tables' ah match needs no `-p`")
                            .in_table(&table.name, Some(&chain.name)),
                        );
                }
                if ah_needs_protocol {
                    // libipt_ah has `--ahspi` only; `--ahlen` and
                    // `--ahres` are libip6t_ah's.
                    let ip6_only = rule
                        .matches
                        .iter()
                        .filter(|m| m.name == "ah")
                        .flat_map(Match::untyped_options)
                        .filter(|option| matches!(option.name, "--ahlen" | "--ahres"));
                    found.extend(ip6_only.map(|option| {
                            Diagnostic::new(
                                &UNKNOWN_OPTION,
                                option.span,
                                format!("`{}` is an option of ip6tables' ah match; iptables' has only `--ahspi`", option.name),
                            )
                            .with_note("iptables-restore refuses the line (\"unknown option\")")
                            .in_table(&table.name, Some(&chain.name))
                        }));
                }
                let Some(target) = &rule.target else {
                    continue;
                };
                let Action::Reject(Some(written)) = &target.action else {
                    continue;
                };
                let resolved = match reject_type(family, written) {
                    // Without a header or an address the family is a
                    // guess: a type of the other family is taken as a
                    // sign of it, not as a mistake.
                    None if !family_known => reject_type(family.other(), written),
                    resolved => resolved,
                };
                let diagnostic = match resolved {
                    None => {
                        let known: Vec<String> = reject_types(family)
                            .map(|name| format!("`{name}`"))
                            .collect();
                        let family = match family {
                            Family::V4 => "iptables",
                            Family::V6 => "ip6tables",
                        };
                        Diagnostic::new(
                            &BAD_VALUE,
                            target.span,
                            format!("`--reject-with {written}`: unknown reject type for {family}"),
                        )
                        .with_note(format!(
                            "{family} knows {}, or a prefix of one",
                            known.join(", ")
                        ))
                    }
                    Some("tcp-reset")
                        if !rule
                            .protocol
                            .as_ref()
                            .is_some_and(|p| p.value == Protocol::TCP && !p.negated) =>
                    {
                        let has = written_protocol(rule.protocol.as_ref());
                        Diagnostic::new(
                                &BAD_VALUE,
                                target.span,
                                format!("`--reject-with {written}` needs `-p tcp`; the rule has {has}"),
                            )
                            .with_note("the kernel refuses the rule when the table is committed (\"TCP_RESET invalid for non-tcp\"); `iptables-restore --test` does not see it")
                    }
                    _ => continue,
                };
                found.push(diagnostic.in_table(&table.name, Some(&chain.name)));
            }
            found
        };
        // In parallel, chain by chain: one pass over every rule, on the
        // critical path between parsing and the checks (2% of `check`'s
        // instructions on a 10,000-service dump, callgrind).
        let mut found = Vec::new();
        for table in &self.dump.tables {
            let per_chain: Vec<Vec<Diagnostic>> = table
                .chains
                .par_iter()
                .map(|chain| chain_findings(table, chain))
                .collect();
            found.extend(per_chain.into_iter().flatten());
        }
        for diagnostic in found {
            self.push(diagnostic);
        }
    }

    /// The dump's family by what was read so far: its header, else an
    /// IPv6 address, else IPv4.
    fn family_so_far(&self) -> Family {
        match self.header_families {
            [false, true] => Family::V6,
            [true, false] => Family::V4,
            // No header (or both): an IPv6 address says IPv6.
            _ if self.address_families[Family::V6 as usize] => Family::V6,
            _ => Family::V4,
        }
    }

    fn finish(mut self) -> Parsed<'a> {
        if let Some(open) = self.current.take() {
            let d = Diagnostic::new(
                &MISSING_COMMIT,
                open.span,
                format!("table `{}` is not closed by COMMIT", open.name),
            )
            .with_note(format!(
                "iptables-restore reports \"COMMIT expected at line {}\" and loads nothing of it",
                self.dump.line_count + 1
            ))
            .in_table(&open.name, None);
            self.push(d);
            self.close_table(open);
        }
        self.dump.family = self.family_so_far();
        self.dump.tables = std::mem::take(&mut self.tables)
            .into_iter()
            .flatten()
            .collect();
        self.check_family_dependent_rules();
        if let Some(span) = self.over_budget {
            self.push(
                Diagnostic::new(
                    &TOO_COMPLEX,
                    span,
                    "iptlint stopped applying restore commands that move or search rules or chains here",
                )
                .with_primary_message("this command and later `-I -D -X -E` and `-F`/`-X` without a chain are not applied")
                .with_note(format!(
                    "they had moved or compared {WORK_BUDGET} rules and chains; the model iptlint checks is incomplete"
                )),
            );
        }
        if let Some(span) = self.over_list_budget {
            self.push(
                Diagnostic::new(
                    &TOO_COMPLEX,
                    span,
                    "iptlint stopped making one rule per address of `-s`/`-d` lists here",
                )
                .with_primary_message("from this line on, a rule keeps only the first address of each list")
                .with_note(format!(
                    "the lists before it had made {} rules past each line's first; the model iptlint checks is incomplete",
                    self.list_rules
                )),
            );
        }
        for (info, count, span) in std::mem::take(&mut self.omitted) {
            self.diagnostics.push(Diagnostic::new(
                &TOO_MANY_DIAGNOSTICS,
                span,
                format!(
                    "{count} more `{}` diagnostics found while reading were not kept (the first {MAX_KEPT_PER_CODE} were)",
                    info.name
                ),
            ));
        }
        // In parallel: one pass over every rule of the dump, 20 ms of one
        // thread on a 10,000-service dump.
        for table in &mut self.dump.tables {
            let Table { chains, index, .. } = table;
            chains.par_iter_mut().for_each(|chain| {
                for rule in &mut chain.rules {
                    if let Some(target) = rule.target.as_mut().filter(|t| t.is_chain()) {
                        target.chain = index.get(target.name.as_ref()).copied();
                    }
                }
            });
        }
        self.diagnostics
            .sort_by_key(|d| (d.primary_span().start, std::cmp::Reverse(d.severity)));
        Parsed {
            dump: self.dump,
            diagnostics: self.diagnostics,
            directives: self.directives,
        }
    }
}

/// What one rule says of the dump as a whole: the families its addresses
/// are written in, whether it has counters, whether it needs the checks
/// that depend on the family. Read where a line is parsed, while its rule
/// is in cache, rather than where the rule is added to the model, a batch
/// of lines later: reading each rule's matches and NAT addresses again
/// there was 2.0% of `check`'s time on a 10,000-service dump (perf, one
/// thread; 0.3% where it is now), most of it waiting for memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct RuleFacts {
    /// Its addresses (`-s`, `-d`, a NAT target's) name these families
    /// (IPv4, IPv6).
    address_families: [bool; 2],
    /// It has `[packets:bytes]`.
    has_counters: bool,
    /// A match or target whose validity depends on the family (see
    /// [`Builder::saw_family_dependent_match`]).
    family_dependent: bool,
    /// A REJECT target with a type (`--reject-with`), whose reply depends
    /// on the family.
    reject_type: bool,
}

impl RuleFacts {
    fn of(rule: &Rule<'_>) -> Self {
        let mut facts = RuleFacts {
            has_counters: rule.counters.is_some(),
            ..RuleFacts::default()
        };
        // `any/0` and host names load in either family: they say nothing
        // of the dump's; `any/0.0.0.0` does (see `AddressMatch::family`).
        for address in [&rule.source, &rule.destination].into_iter().flatten() {
            if let Some(family) = address.value.family() {
                facts.address_families[family as usize] = true;
            }
        }
        for address in nat_addresses(rule) {
            facts.address_families[usize::from(address.is_ipv6())] = true;
        }
        facts.family_dependent = rule.matches.iter().any(|m| {
            matches!(
                m.name.as_ref(),
                "ah" | "hashlimit" | "policy" | "iprange" | "addrtype" | "recent"
            ) || matches!(&m.kind, MatchKind::Conntrack(c) if c.has_other_options || c.original_destination.is_some())
                || family_only(&m.name, false).is_some()
        }) || rule.target.as_ref().is_some_and(|t| {
            matches!(t.name.as_ref(), "TEE" | "TPROXY") || family_only(&t.name, true).is_some()
        });
        facts.reject_type = rule
            .target
            .as_ref()
            .is_some_and(|t| matches!(t.action, Action::Reject(Some(_))));
        facts
    }

    /// Whether [`Builder::check_family_dependent_rules`] has something to
    /// look at in the rule besides its `-s` and `-d`.
    fn needs_family_check(self) -> bool {
        self.family_dependent || self.reject_type
    }
}

/// Append to a chain's rules, doubling the capacity from 1 rather than
/// from 4 as `Vec::push` does: most chains of a kube-proxy dump have one to
/// three rules of 272 bytes each, and the slack of pushed vectors was a
/// third of the model.
///
/// `ahead` rules are known to follow (see [`Builder::run_ahead`]): the
/// vector is given room for them at once. Growing a vector of rules moves
/// them, and growing each of a kube-proxy dump's tens of thousands of
/// two-rule chains from one rule to two was 1.7% of `check`'s instructions
/// (callgrind, 1k dump).
fn push_rule<'a>(rules: &mut Vec<Rule<'a>>, rule: Box<Rule<'a>>, ahead: usize) {
    if rules.len() == rules.capacity() {
        rules.reserve_exact(rules.capacity().max(1).max(ahead + 1));
    }
    rules.push(*rule);
}

/// What a run of parsed lines does line after line (see
/// [`Builder::run_ahead`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum RunKind<'i> {
    /// `-A` to the chain of this name.
    Append(&'i str),
    /// `:CHAIN ...`.
    Declare,
}

/// What `item` does, when lines in a run can do it.
fn run_kind<'i>(item: &'i Item<'_>) -> Option<RunKind<'i>> {
    match item {
        Item::Rule(
            _,
            _,
            Interpreted {
                statement: Some(Statement::Append(chain, _)),
                ..
            },
            _,
        ) => Some(RunKind::Append(&chain.text)),
        Item::Chain { .. } => Some(RunKind::Declare),
        _ => None,
    }
}

fn statement_chain<'s, 'a>(statement: &'s Statement<'a>) -> Option<&'s Word<'a>> {
    match statement {
        Statement::Append(chain, _)
        | Statement::Insert(chain, _, _)
        | Statement::Delete(chain, _)
        | Statement::Replace(chain, _, _)
        | Statement::NewChain(chain)
        | Statement::Policy(chain, _)
        | Statement::Rename(chain, _) => Some(chain),
        Statement::DeleteChain(chain) | Statement::Flush(chain) | Statement::Zero(chain, _) => {
            chain.as_ref()
        }
    }
}

/// Why iptables-nft has no built-in chain `name` at a command on it (see
/// [`Builder::missing_in_nft`]).
fn nft_has_no_chain_yet(name: &str) -> String {
    format!(
        "nf_tables has a built-in chain only once the restore declares it (`:{name} ACCEPT [0:0]`), sets its policy, flushes it or adds a rule to it"
    )
}

/// The error for `-R CHAIN N` (`letter` `R`) or `-Z CHAIN N` of rule N
/// of the model: a rule this restore adds, which iptables-nft cannot find
/// (see [`NUMBERED_NEW_RULE`]).
fn numbered_new_rule(span: Span, letter: char, chain: &str, number: u32) -> Diagnostic {
    let (verb, done) = match letter {
        'R' => ("replaces", "replaces the rule"),
        _ => ("zeroes the counters of", "zeroes the rule's counters"),
    };
    Diagnostic::new(
        &NUMBERED_NEW_RULE,
        span,
        format!("`-{letter} {chain} {number}` {verb} a rule this restore adds"),
    )
    .with_note("iptables-nft looks for the rule among those loaded before the restore: iptables-nft-restore 1.8.9 crashes on this line (segmentation fault) and loads nothing")
    .with_note(format!("{LEGACY_LOADS_NOTE}: it {done}"))
}

fn statement_letter(statement: &Statement<'_>) -> char {
    match statement {
        Statement::Append(..) => 'A',
        Statement::Insert(..) => 'I',
        Statement::Delete(..) => 'D',
        Statement::Replace(..) => 'R',
        Statement::NewChain(_) => 'N',
        Statement::DeleteChain(_) => 'X',
        Statement::Flush(_) => 'F',
        Statement::Zero(..) => 'Z',
        Statement::Policy(..) => 'P',
        Statement::Rename(..) => 'E',
    }
}

/// An extension only one family's iptables has: a libipt_* or libip6t_*
/// extension with no twin of the same name in the other family.
#[derive(Debug, Clone, Copy)]
struct FamilyOnly {
    /// Only in ip6tables (else only in iptables).
    v6: bool,
    /// What the other family calls the same thing.
    twin: Option<&'static str>,
}

/// The family-only extension `name` (a target when `target`), if it is one.
fn family_only(name: &str, target: bool) -> Option<FamilyOnly> {
    let (v6, twin) = match (target, name) {
        (false, "icmp") => (false, Some("icmp6")),
        (false, "ttl") => (false, Some("hl")),
        (false, "realm" | "osf") => (false, None),
        (true, "TTL") => (false, Some("HL")),
        (true, "ECN" | "CLUSTERIP") => (false, None),
        (true, "ULOG") => (false, Some("NFLOG")),
        (false, "icmp6") => (true, Some("icmp")),
        (false, "hl") => (true, Some("ttl")),
        (false, "dst" | "eui64" | "frag" | "hbh" | "ipv6header" | "mh" | "rt" | "srh") => {
            (true, None)
        }
        (true, "HL") => (true, Some("TTL")),
        (true, "DNPT" | "SNPT") => (true, None),
        _ => return None,
    };
    Some(FamilyOnly { v6, twin })
}

/// The matches and target of `rule` that the dump's family does not have:
/// iptables-restore cannot load them ("Couldn't load match").
fn wrong_family_extensions<'r>(
    rule: &'r Rule<'_>,
    family: Family,
) -> impl Iterator<Item = Diagnostic> + 'r {
    let dump_v6 = family == Family::V6;
    let matches = rule
        .matches
        .iter()
        .map(|m| (m.name.as_ref(), m.span, false));
    let target = rule
        .target
        .as_ref()
        .filter(|t| !matches!(t.action, Action::Chain))
        .map(|t| (t.name.as_ref(), t.name_span, true));
    matches.chain(target).filter_map(move |(name, span, is_target)| {
        let only = family_only(name, is_target)?;
        if only.v6 == dump_v6 {
            return None;
        }
        let (kind, written) = if is_target {
            ("target", format!("-j {name}"))
        } else {
            ("match", format!("-m {name}"))
        };
        let (has, lacks) = if only.v6 {
            ("ip6tables", "iptables")
        } else {
            ("iptables", "ip6tables")
        };
        let mut diagnostic = Diagnostic::new(
            &UNKNOWN_OPTION,
            span,
            format!("`{written}` is an {has} {kind}; this dump is {lacks}', which has no `{name}` {kind}"),
        );
        if let Some(twin) = only.twin {
            diagnostic = diagnostic.with_note(format!(
                "{lacks}-restore refuses the line (\"Couldn't load {kind}\"); {lacks}' counterpart is `{twin}`"
            ));
        }
        Some(diagnostic)
    })
}

/// Addresses of the other family in the options that take one of the
/// dump's family: `-m policy --tunnel-src/--tunnel-dst`, `-j TEE --gateway`
/// (iptables' getaddrinfo: "Address family for hostname not supported").
fn wrong_family_addresses<'r>(
    rule: &'r Rule<'_>,
    family: Family,
    src: &'r str,
) -> impl Iterator<Item = Diagnostic> + 'r {
    let policy = rule
        .matches
        .iter()
        .filter(|m| m.name == "policy")
        .flat_map(Match::untyped_options);
    let tee = rule
        .target
        .iter()
        .filter(|t| matches!(t.name.as_ref(), "TEE" | "TPROXY"))
        .flat_map(|t| match &t.action {
            Action::Extension(options) => options.as_slice(),
            _ => &[],
        });
    let raw = policy
        .chain(tee)
        .filter(|option| {
            matches!(
                option.name,
                "--tunnel-src" | "--tunnel-dst" | "--gateway" | "--on-ip"
            )
        })
        .filter_map(move |option| {
            let word = option.values.first()?;
            let address: IpAddr = word.text.split('/').next()?.parse().ok()?;
            other_family(option.name, address, family, word.span)
        });
    // conntrack, iprange and recent keep typed values only (recent not even
    // its mask): their text is read again.
    let typed = rule
        .matches
        .iter()
        .filter(|m| matches!(m.name.as_ref(), "conntrack" | "iprange" | "recent"))
        .flat_map(move |m| option_words(src, m.span))
        .filter(|(option, _)| {
            matches!(
                option.text(src),
                "--ctorigsrc"
                    | "--ctorigdst"
                    | "--ctreplsrc"
                    | "--ctrepldst"
                    | "--src-range"
                    | "--dst-range"
                    | "--mask"
            )
        })
        .filter_map(move |(option, value)| {
            // `A-B` for a range (both ends of one family, or iprange's own
            // error), `ADDR[/MASK]` for conntrack, an address for recent's mask.
            let text = value.text(src);
            let (first, last) = text
                .split_once('-')
                .unwrap_or((text.split('/').next().unwrap_or(text), ""));
            let first: IpAddr = first.parse().ok()?;
            if last
                .parse::<IpAddr>()
                .is_ok_and(|last| last.is_ipv4() != first.is_ipv4())
            {
                return None;
            }
            other_family(option.text(src), first, family, value)
        });
    raw.chain(typed)
}

/// `-m addrtype` types the IPv6 kernel does not match (`addrtype_mt_checkentry_v1`:
/// "ipv6 does not support BROADCAST matching", "ipv6 BLACKHOLE matching not
/// supported", "ipv6 PROHIBIT (THROW, NAT ..) matching not supported"):
/// ip6tables takes them, the kernel refuses the rule when the table is
/// committed, with or without `!`.
fn addrtype_types_not_in_ipv6<'r>(rule: &'r Rule<'_>) -> impl Iterator<Item = Diagnostic> + 'r {
    const NOT_IN_IPV6: [&str; 6] = [
        "BROADCAST",
        "BLACKHOLE",
        "PROHIBIT",
        "THROW",
        "NAT",
        "XRESOLVE",
    ];
    rule.matches
        .iter()
        .filter_map(|m| match &m.kind {
            MatchKind::AddrType(addrtype) => Some(addrtype),
            _ => None,
        })
        .flat_map(|addrtype| [&addrtype.source, &addrtype.destination])
        .flatten()
        .filter_map(|types| {
            let refused: Vec<&str> = types
                .value
                .split(',')
                .filter(|name| NOT_IN_IPV6.contains(name))
                .collect();
            (!refused.is_empty()).then(|| {
                Diagnostic::new(
                    &BAD_VALUE,
                    types.span,
                    format!(
                        "ip6tables' addrtype match cannot match {}; this dump is IPv6",
                        refused.join(", ")
                    ),
                )
                .with_note("the IPv6 kernel refuses the rule when the table is committed (\"ipv6 does not support BROADCAST matching\", \"... PROHIBIT (THROW, NAT ..) matching not supported\"); `ip6tables-restore --test` does not see it; IPv6 has UNSPEC, UNICAST, LOCAL, ANYCAST, MULTICAST and UNREACHABLE")
            })
        })
}

/// An option and the word after it, in the text of `span`.
fn option_words(src: &str, span: Span) -> impl Iterator<Item = (Span, Span)> + '_ {
    let text = span.text(src);
    let mut words = text
        .split(' ')
        .scan(span.start as usize, |offset, word| {
            let at = *offset;
            *offset += word.len() + 1;
            Some(Span::new(at, at + word.len()))
        })
        .filter(|word| word.start != word.end)
        .peekable();
    std::iter::from_fn(move || {
        let option = words.next()?;
        Some((option, *words.peek()?))
    })
}

/// `option: \`ADDR\` is an IPv6 address; this dump is iptables' (IPv4)` when
/// `address` is of the other family.
fn other_family(option: &str, address: IpAddr, family: Family, span: Span) -> Option<Diagnostic> {
    if address.is_ipv6() == (family == Family::V6) {
        return None;
    }
    let (written, dump) = match family {
        Family::V4 => ("an IPv6", "iptables' (IPv4)"),
        Family::V6 => ("an IPv4", "ip6tables' (IPv6)"),
    };
    Some(Diagnostic::new(
        &BAD_VALUE,
        span,
        format!("{option}: `{address}` is {written} address; this dump is {dump}"),
    ))
}

/// The rules iptables adds for `rule`: one, or one per pair of addresses
/// of `-s a,b -d c,d`.
fn one_rule_per_address<'a>(
    rule: Rule<'a>,
    lists: Option<&AddressLists>,
) -> impl Iterator<Item = Rule<'a>> {
    let expanded = lists.map(|lists| lists.rules(&rule)).unwrap_or_default();
    let single = expanded.is_empty().then_some(rule);
    single.into_iter().chain(expanded)
}

/// The comment names the tool that wrote the dump: `iptables-save`
/// (`iptables-nft-save`, `iptables-legacy-save`) or `ip6tables-save`.
fn header_family(comment: &str) -> Option<Family> {
    let tool = comment
        .split_whitespace()
        .find(|word| word.ends_with("-save") && word.contains("tables"))?;
    if tool.starts_with("ip6tables") {
        Some(Family::V6)
    } else if tool.starts_with("iptables") {
        Some(Family::V4)
    } else {
        None
    }
}

/// `-s`/`-d` addresses of the other family: iptables looks them up as host
/// names and finds none ("host/network `fd00::1' not found").
fn wrong_family_rule_addresses<'r>(
    rule: &'r Rule<'_>,
    family: Family,
) -> impl Iterator<Item = Diagnostic> + 'r {
    let nat = rule.target.iter().flat_map(move |target| {
        let option = match target.action {
            Action::Dnat(_) => "--to-destination",
            Action::Snat(_) => "--to-source",
            _ => "--to",
        };
        nat_addresses(rule)
            .filter_map(move |address| other_family(option, address, family, target.span))
    });
    [("-s", &rule.source), ("-d", &rule.destination)]
        .into_iter()
        .filter_map(move |(option, address)| {
            let address = address.as_ref()?;
            let value = &address.value;
            if value.is_host_name() {
                return None;
            }
            if value.is_any() {
                return wrong_family_zero_mask(option, value.zero_mask_family()?, family, address.span);
            }
            // getaddrinfo reads an IPv4-mapped IPv6 address as IPv4.
            let mapped =
                matches!(value.net.addr, IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some());
            if family == Family::V4 && mapped {
                return None;
            }
            let tool = match family {
                Family::V4 => "iptables",
                Family::V6 => "ip6tables",
            };
            Some(
                other_family(option, value.net.addr, family, address.span)?.with_note(format!(
                    "{tool}-restore reads it as a host name and refuses the line (\"host/network not found\")"
                )),
            )
        })
        .chain(nat)
}

/// The addresses a NAT target maps to (`DNAT --to-destination`, `SNAT
/// --to-source`, `NETMAP --to`): each tool reads only its family's
/// ("Bad IP address", "Address family for hostname not supported").
fn nat_addresses<'r>(rule: &'r Rule<'_>) -> impl Iterator<Item = IpAddr> + 'r {
    let (ranges, netmap) = match rule.target.as_ref().map(|t| &t.action) {
        Some(Action::Dnat(ranges) | Action::Snat(ranges)) => (ranges.as_slice(), None),
        Some(Action::Netmap(net)) => (&[][..], Some(net.addr)),
        _ => (&[][..], None),
    };
    ranges
        .iter()
        .flat_map(|range| range.first.into_iter().chain(range.last))
        .chain(netmap)
}

/// A mask of zero written as an address of the other family: iptables
/// ignores the host of a zero mask but reads the mask in its own family.
fn wrong_family_zero_mask(
    option: &str,
    written_in: Family,
    family: Family,
    span: Span,
) -> Option<Diagnostic> {
    if written_in == family {
        return None;
    }
    let (mask_family, tool, dump) = match written_in {
        Family::V4 => ("an IPv4", "ip6tables", "ip6tables' (IPv6)"),
        Family::V6 => ("an IPv6", "iptables", "iptables' (IPv4)"),
    };
    let any = match family {
        Family::V4 => "0.0.0.0/0",
        Family::V6 => "::/0",
    };
    Some(
        Diagnostic::new(
            &BAD_VALUE,
            span,
            format!("{option}: a mask of zero written as {mask_family} address; this dump is {dump}"),
        )
        .with_note(format!(
            "{tool}-restore reads a mask only in its own family and refuses the line (\"invalid mask specified\")"
        ))
        .with_note(format!("write `{any}` (or a prefix length of 0) for any address")),
    )
}

/// The grouping masks of a `-m hashlimit` match, with their options.
fn hashlimit_masks<'m, 'a>(
    found: &'m Match<'a>,
) -> impl Iterator<Item = (&'m RawOption<'a>, HashlimitMask)> {
    let options = if found.name == "hashlimit" {
        found.untyped_options()
    } else {
        &[]
    };
    options.iter().filter_map(|option| {
        matches!(option.name, "--hashlimit-srcmask" | "--hashlimit-dstmask")
            .then(|| HashlimitMask::parse(&option.values[0].text))
            .flatten()
            .map(|mask| (option, mask))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::Severity;

    fn names(parsed: &Parsed<'_>) -> Vec<&'static str> {
        parsed.diagnostics.iter().map(|d| d.info.name).collect()
    }

    #[test]
    fn address_lists_make_one_rule_per_pair_as_iptables_does() {
        let text = "*filter\n:INPUT ACCEPT [0:0]\n\
            -A INPUT -s 10.0.0.9 -j ACCEPT\n\
            -I INPUT 1 -s 10.0.0.1,10.0.0.2 -d 10.0.0.3,10.0.0.4 -j ACCEPT\n\
            -A INPUT -s 10.0.0.5,10.0.0.6 -j DROP\n\
            -D INPUT -s 10.0.0.5,10.0.0.6 -j DROP\n\
            COMMIT\n";
        let parsed = build(text);
        assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
        let pairs: Vec<String> = parsed.dump.tables[0].chains[0]
            .rules
            .iter()
            .map(|rule| {
                let address = |a: &Option<crate::model::Negatable<crate::model::AddressMatch>>| {
                    a.map_or("-".to_string(), |a| a.value.net.addr.to_string())
                };
                format!("{} {}", address(&rule.source), address(&rule.destination))
            })
            .collect();
        // Inserted one after the other at position 1: in reverse.
        assert_eq!(
            pairs,
            [
                "10.0.0.2 10.0.0.4",
                "10.0.0.2 10.0.0.3",
                "10.0.0.1 10.0.0.4",
                "10.0.0.1 10.0.0.3",
                "10.0.0.9 -",
            ]
        );
        let replaced = build(
            "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\n-R INPUT 1 -s 10.0.0.1,10.0.0.2 -j DROP\nCOMMIT\n",
        );
        assert_eq!(names(&replaced), ["bad-value"]);
        let inverted = build(
            "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT ! -s 10.0.0.1,10.0.0.2 -j DROP\nCOMMIT\n",
        );
        assert_eq!(names(&inverted), ["bad-negation"]);
    }

    #[test]
    fn address_lists_stop_at_the_list_budget() {
        let list: Vec<String> = (1..=255).map(|i| i.to_string()).collect();
        let line = format!("-A INPUT -s {0} -d {0} -j ACCEPT\n", list.join(","));
        let text = format!("*filter\n:INPUT ACCEPT [0:0]\n{line}{line}COMMIT\n");
        let parsed = build(&text);
        // The first line makes its 65,025 rules; the second would pass
        // the budget and keeps its first pair.
        assert_eq!(parsed.dump.tables[0].chains[0].rules.len(), 255 * 255 + 1);
        let too_complex: Vec<_> = parsed
            .diagnostics
            .iter()
            .filter(|d| d.info.name == "too-complex")
            .collect();
        assert_eq!(too_complex.len(), 1);
        let second_line = "*filter\n:INPUT ACCEPT [0:0]\n".len() + line.len();
        assert_eq!(too_complex[0].primary_span().start as usize, second_line);
    }

    #[test]
    fn addresses_of_the_other_family_are_refused_once_the_family_is_known() {
        let errors = |text: &str| -> Vec<String> {
            build(text)
                .diagnostics
                .iter()
                .map(|d| d.message.clone())
                .collect()
        };
        let v4 = "# Generated by iptables-nft-save v1.8.9 (nf_tables)\n";
        let v6 = "# Generated by ip6tables-save v1.8.9\n";
        let body = |rule: &str| format!("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT {rule}\nCOMMIT\n");
        assert_eq!(
            errors(&format!(
                "{v4}{}",
                body("-s 10.0.0.1,fd00::1 -d 10.0.0.2,10.0.0.3 -j DROP")
            )),
            ["-s: `fd00::1` is an IPv6 address; this dump is iptables' (IPv4)"]
        );
        assert_eq!(
            errors(&format!("{v6}{}", body("-d 10.0.0.1 -j DROP"))),
            ["-d: `10.0.0.1` is an IPv4 address; this dump is ip6tables' (IPv6)"]
        );
        assert_eq!(
            errors(&format!(
                "{v6}{}",
                body(
                    "-m conntrack --ctorigsrc 10.0.0.0/8 -m iprange --dst-range 10.0.0.1-10.0.0.5 -j DROP"
                )
            )),
            [
                "--ctorigsrc: `10.0.0.0` is an IPv4 address; this dump is ip6tables' (IPv6)",
                "--dst-range: `10.0.0.1` is an IPv4 address; this dump is ip6tables' (IPv6)"
            ]
        );
        // Loaded by both: a mask of zero, an IPv4-mapped address in IPv4.
        assert!(errors(&format!("{v6}{}", body("-s 10.0.0.1/0 -j DROP"))).is_empty());
        assert!(errors(&format!("{v4}{}", body("-s ::ffff:10.0.0.1 -j DROP"))).is_empty());
        // No header: IPv6 addresses make it IPv6; both headers: concatenated dumps.
        assert_eq!(
            errors(&body("-s fd00::1 -d 10.0.0.1 -j DROP")),
            ["-d: `10.0.0.1` is an IPv4 address; this dump is ip6tables' (IPv6)"]
        );
        let mangle = "*mangle\n:INPUT ACCEPT [0:0]\n-A INPUT -s fd00::1 -j DROP\nCOMMIT\n";
        assert!(errors(&format!("{v4}{}{v6}{mangle}", body("-s 10.0.0.1 -j DROP"))).is_empty());
        // A rule `-R` puts in place is read as an added one.
        let replaced = format!(
            "{v4}*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s 10.0.0.1 -j DROP\n-R INPUT 1 -s fd00::1 -j DROP\nCOMMIT\n"
        );
        let found = errors(&replaced);
        assert!(
            found.contains(
                &"-s: `fd00::1` is an IPv6 address; this dump is iptables' (IPv4)".to_string()
            ),
            "{found:?}"
        );
    }

    #[test]
    fn reject_types_are_read_in_the_dump_s_family() {
        let messages = |header: &str, rule: &str| -> Vec<String> {
            let text = format!("{header}*filter\n:INPUT ACCEPT [0:0]\n-A INPUT {rule}\nCOMMIT\n");
            build(&text)
                .diagnostics
                .iter()
                .map(|d| d.message.clone())
                .collect()
        };
        let v4 = "# Generated by iptables-save v1.8.9\n";
        let v6 = "# Generated by ip6tables-save v1.8.9\n";
        assert_eq!(
            messages(v4, "-j REJECT --reject-with icmp6-port-unreachable"),
            ["`--reject-with icmp6-port-unreachable`: unknown reject type for iptables"]
        );
        assert_eq!(
            messages(v6, "-j REJECT --reject-with host-prohib"),
            ["`--reject-with host-prohib`: unknown reject type for ip6tables"]
        );
        // Without a header or an address the family is a guess, and a type
        // of either family is taken as it.
        assert!(messages("", "-j REJECT --reject-with icmp6-adm-prohibited").is_empty());
        assert_eq!(
            messages("", "-j REJECT --reject-with nonsense"),
            ["`--reject-with nonsense`: unknown reject type for iptables"]
        );
        // Prefixes and case, as iptables matches them.
        assert!(messages(v4, "-p tcp -j REJECT --reject-with TCP").is_empty());
        assert!(messages(v4, "-j REJECT --reject-with icmp-h").is_empty());
        assert_eq!(
            messages(v6, "-p udp -j REJECT --reject-with tcp-reset"),
            ["`--reject-with tcp-reset` needs `-p tcp`; the rule has `-p udp`"]
        );
        assert_eq!(
            messages(v4, "! -p tcp -j REJECT --reject-with tcp-rst"),
            ["`--reject-with tcp-rst` needs `-p tcp`; the rule has `! -p tcp`"]
        );
    }

    fn rules_of<'p>(parsed: &'p Parsed<'_>, table: &str, chain: &str) -> Vec<&'p str> {
        let table = parsed.dump.table(table).unwrap();
        table
            .chain(chain)
            .unwrap()
            .rules
            .iter()
            .map(|r| r.target.as_ref().map_or("", |t| t.name.as_ref()))
            .collect()
    }

    #[test]
    fn tables_chains_and_builtins() {
        let parsed = build(
            "*nat\n:PREROUTING ACCEPT [5:300]\n:KUBE-SERVICES - [0:0]\n-A PREROUTING -j KUBE-SERVICES\n-A OUTPUT -j KUBE-SERVICES\nCOMMIT\n",
        );
        assert!(parsed.diagnostics.is_empty(), "{:?}", names(&parsed));
        let nat = parsed.dump.table("nat").unwrap();
        assert_eq!(
            nat.chains.len(),
            5,
            "four built-in chains and one user chain"
        );
        let prerouting = nat.chain("PREROUTING").unwrap();
        assert!(prerouting.builtin && prerouting.declared);
        assert_eq!(prerouting.counters.unwrap().packets, 5);
        let output = nat.chain("OUTPUT").unwrap();
        assert!(
            output.builtin && !output.declared,
            "built-in chains exist without a declaration"
        );
        assert_eq!(
            output.rules[0].target.as_ref().unwrap().chain,
            nat.chain_index("KUBE-SERVICES")
        );
        assert!(!nat.is_fragment());
        assert_eq!(parsed.dump.family, Family::V4);
    }

    #[test]
    fn restore_commands_are_applied_in_order() {
        let src = "*filter\n:INPUT ACCEPT [0:0]\n-N A\n-N STALE\n-A INPUT -j DROP\n-I INPUT -j ACCEPT\n-I INPUT 2 -j A\n-A INPUT -j RETURN\n-D INPUT -j DROP\n-D INPUT 1\n-X STALE\n-P INPUT DROP\n-E A B\nCOMMIT\n";
        let parsed = build(src);
        // Only iptables-nft refuses the rename of a chain this restore made.
        assert_eq!(names(&parsed), ["bad-value"]);
        assert!(parsed.diagnostics[0].notes[1].starts_with(LEGACY_LOADS_NOTE));
        let filter = parsed.dump.table("filter").unwrap();
        assert_eq!(rules_of(&parsed, "filter", "INPUT"), ["B", "RETURN"]);
        assert!(filter.chain("STALE").is_none());
        assert!(filter.chain("A").is_none() && filter.chain("B").is_some());
        assert_eq!(filter.chain("INPUT").unwrap().policy_name(), "DROP");
        let letters: String = filter.commands.iter().map(|c| c.letter).collect();
        assert_eq!(letters, "NNIIDDXPE");
        assert_eq!(
            filter.chain("INPUT").unwrap().rules[0]
                .target
                .as_ref()
                .unwrap()
                .chain,
            filter.chain_index("B")
        );
    }

    /// iptables-nft makes a built-in chain once the restore declares it,
    /// sets its policy, flushes it by name or adds a rule to it; `-Z` of it
    /// before that is its refusal alone, and so is `-R`/`-Z N` of a rule
    /// the restore added (see `tests/kernel_chains.rs` for both backends).
    #[test]
    fn commands_iptables_nft_cannot_run() {
        let messages = |src: &str| -> Vec<String> {
            let parsed = build(src);
            for d in &parsed.diagnostics {
                assert!(
                    d.notes.iter().any(|n| n.starts_with(LEGACY_LOADS_NOTE)),
                    "{src}: {d:?}"
                );
            }
            parsed
                .diagnostics
                .iter()
                .map(|d| d.message.clone())
                .collect()
        };
        let made = "-A INPUT -j ACCEPT\n-F OUTPUT\n-P FORWARD DROP\n-Z OUTPUT\n-Z FORWARD";
        assert!(messages(&format!("*filter\n{made}\nCOMMIT\n")).is_empty());
        assert_eq!(
            messages("*filter\n-A INPUT -j ACCEPT\n-F\n-Z OUTPUT\n-Z INPUT\nCOMMIT\n"),
            ["`-Z OUTPUT`: iptables-nft has no chain `OUTPUT` yet"]
        );
        // A table that could be a fragment for `--noflush`: the chain may
        // have been made by an earlier restore.
        assert!(messages("*filter\n-Z OUTPUT\nCOMMIT\n").is_empty());
        assert_eq!(
            messages(
                "*filter\n:X - [0:0]\n-A X -j ACCEPT\n-I X 1 -j DROP\n-R X 2 -j DROP\n-Z X 1\n-D X 1\n-Z X\nCOMMIT\n"
            ),
            [
                "`-R X 2` replaces a rule this restore adds",
                "`-Z X 1` zeroes the counters of a rule this restore adds"
            ]
        );
    }

    /// `-D` finds a rule written another way as the kernel does (each pair
    /// checked against both backends in `tests/kernel_delete.rs`).
    #[test]
    fn delete_finds_the_rule_however_written() {
        let pairs = [
            ("-p icmp --icmp-type ping", "-p icmp --icmp-type 8/0:255"),
            ("-j LOG --log-level warning", "-j LOG"),
            (
                "-j CONNMARK --save-mark",
                "-j CONNMARK --save-mark --mask 0xffffffff",
            ),
            ("-j CONNMARK --or-mark 4", "-j CONNMARK --set-xmark 0x4/0x4"),
            (
                "-m string --algo bm --string abc",
                "-m string --string abc --algo bm",
            ),
            (
                "-m pkttype --pkt-type BROADCAST",
                "-m pkttype --pkt-type broadcast",
            ),
            ("-m dscp --dscp 0xa", "-m dscp --dscp 10"),
        ];
        for (added, deleted) in pairs {
            let src = format!("*filter\n-A INPUT {added}\n-D INPUT {deleted}\nCOMMIT\n");
            let parsed = build(&src);
            assert_eq!(names(&parsed), Vec::<&str>::new(), "{src}");
            let filter = parsed.dump.table("filter").unwrap();
            assert!(filter.chain("INPUT").unwrap().rules.is_empty(), "{src}");
        }
        let src = "*filter\n-A INPUT -m dscp --dscp 10\n-D INPUT -m dscp --dscp 11\nCOMMIT\n";
        assert_eq!(names(&build(src)), ["bad-value"]);
    }

    #[test]
    fn fragments_have_no_builtin_chains_in_use() {
        let parsed = build(
            "*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-SVC-X - [0:0]\n-A KUBE-SERVICES -j KUBE-SVC-X\nCOMMIT\n",
        );
        assert!(parsed.dump.table("nat").unwrap().is_fragment());
    }

    /// The diagnostics of a one-rule dump written by `tool`: each message
    /// with the text it points at.
    fn one_rule_findings(
        tool: &str,
        table: &str,
        chain: &str,
        rule: &str,
    ) -> Vec<(String, String)> {
        let src = format!(
            "# Generated by {tool}-save v1.8.9\n*{table}\n:{chain} ACCEPT [0:0]\n-A {chain} {rule}\nCOMMIT\n"
        );
        build(&src)
            .diagnostics
            .iter()
            .map(|d| (d.message.clone(), d.primary_span().text(&src).to_string()))
            .collect()
    }

    #[test]
    fn tee_gateways_of_the_other_family() {
        let messages = |tool: &str, gateway: &str| {
            one_rule_findings(
                tool,
                "mangle",
                "PREROUTING",
                &format!("-j TEE --gateway {gateway}"),
            )
            .into_iter()
            .map(|(message, _)| message)
            .collect::<Vec<_>>()
        };
        assert_eq!(
            messages("iptables", "fd00::1"),
            ["--gateway: `fd00::1` is an IPv6 address; this dump is iptables' (IPv4)"]
        );
        assert_eq!(
            messages("ip6tables", "10.0.0.1"),
            ["--gateway: `10.0.0.1` is an IPv4 address; this dump is ip6tables' (IPv6)"]
        );
        assert!(messages("iptables", "10.0.0.1").is_empty());
        assert!(messages("ip6tables", "fd00::1").is_empty());
    }

    #[test]
    fn addrtype_types_and_recent_masks_in_the_dump_s_family() {
        let errors = |tool: &str, rule: &str| one_rule_findings(tool, "filter", "INPUT", rule);
        let broadcast =
            "-m addrtype --src-type LOCAL -m addrtype ! --dst-type broadcast,nat -j DROP";
        assert!(errors("iptables", broadcast).is_empty());
        assert_eq!(
            errors("ip6tables", broadcast),
            [(
                "ip6tables' addrtype match cannot match BROADCAST, NAT; this dump is IPv6"
                    .to_string(),
                "! --dst-type broadcast,nat".to_string()
            )]
        );
        let mask = "-m recent --name a --rcheck --mask 255.255.0.0 -j DROP";
        assert!(errors("iptables", mask).is_empty());
        assert_eq!(
            errors("ip6tables", mask),
            [(
                "--mask: `255.255.0.0` is an IPv4 address; this dump is ip6tables' (IPv6)"
                    .to_string(),
                "255.255.0.0".to_string()
            )]
        );
    }

    #[test]
    fn interface_names_no_interface_can_have_load_with_a_warning() {
        let src = "*filter\n:FORWARD ACCEPT [0:0]\n-A FORWARD ! -i eth/0 -o \"eth 0\" -j ACCEPT\n-A FORWARD -i 0123456789abcdef -j ACCEPT\nCOMMIT\n";
        let parsed = build(src);
        let found: Vec<(Severity, &str)> = parsed
            .diagnostics
            .iter()
            .map(|d| (d.severity, d.primary_span().text(src)))
            .collect();
        assert_eq!(
            found,
            [
                (Severity::Warning, "eth/0"),
                (Severity::Warning, "\"eth 0\""),
                (Severity::Error, "0123456789abcdef"),
            ]
        );
        // The rule is kept, with its interfaces.
        let filter = parsed.dump.table("filter").unwrap();
        let rule = &filter.chains[filter.chain_index("FORWARD").unwrap()].rules[0];
        assert_eq!(rule.in_interface.as_ref().unwrap().value, "eth/0");
        assert_eq!(rule.out_interface.as_ref().unwrap().value, "eth 0");
    }

    #[test]
    fn family_from_header_or_addresses() {
        assert_eq!(
            build("# Generated by ip6tables-save v1.8.9\n*filter\nCOMMIT\n")
                .dump
                .family,
            Family::V6
        );
        assert_eq!(
            build("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s fd00::/8 -j ACCEPT\nCOMMIT\n")
                .dump
                .family,
            Family::V6
        );
        assert_eq!(
            build("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s 10.0.0.0/8 -j ACCEPT\nCOMMIT\n")
                .dump
                .family,
            Family::V4
        );
    }

    #[test]
    fn rule_facts_say_what_each_rule_tells_of_the_dump() {
        let parsed = build(
            "*nat\n:A - [0:0]\n[1:2] -A A -s 10.0.0.1/32 -j ACCEPT\n-A A -m addrtype --dst-type LOCAL -j RETURN\n-A A -s 0/0 -p tcp -j DNAT --to-destination [fd00::1]:80\n-A A -j ACCEPT\n-A A -p tcp -j REJECT --reject-with tcp-reset\n-A A -j REJECT\nCOMMIT\n",
        );
        let table = &parsed.dump.tables[0];
        let chain = &table.chains[table.chain_index("A").expect("declared")];
        let facts: Vec<RuleFacts> = chain.rules.iter().map(RuleFacts::of).collect();
        let expected =
            |families: [bool; 2], has_counters: bool, family_dependent: bool| RuleFacts {
                address_families: families,
                has_counters,
                family_dependent,
                reject_type: false,
            };
        assert_eq!(
            facts,
            [
                expected([true, false], true, false),
                // `addrtype`'s types differ between the families.
                expected([false, false], false, true),
                // `0/0` loads in either family; the NAT address says IPv6.
                expected([false, true], false, false),
                expected([false, false], false, false),
                // A REJECT type names a reply of one family.
                RuleFacts {
                    reject_type: true,
                    ..expected([false, false], false, false)
                },
                expected([false, false], false, false),
            ]
        );
        let needs: Vec<bool> = facts.iter().map(|f| f.needs_family_check()).collect();
        assert_eq!(needs, [false, true, false, false, true, false]);
        // What the builder made of them, line after line.
        assert!(parsed.dump.has_counters);
        assert!(chain.family_dependent);
        let plain = build("*nat\n:A - [0:0]\n-A A -s 10.0.0.1/32 -j ACCEPT\nCOMMIT\n");
        assert!(!plain.dump.has_counters);
        let table = &plain.dump.tables[0];
        assert!(!table.chains[table.chain_index("A").unwrap()].family_dependent);
    }

    #[test]
    fn structural_errors_keep_the_rest_readable() {
        let parsed = build(
            "-A INPUT -j ACCEPT\n*filter\n:INPUT ACCEPT [0:0]\n:X - [0:0]\n:X - [0:0]\n:Y DROP [0:0]\n-A NOPE -j ACCEPT\n*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n",
        );
        assert_eq!(
            names(&parsed),
            [
                "rule-outside-table",
                "missing-commit",
                "duplicate-chain",
                "policy-on-user-chain",
                "undeclared-chain"
            ]
        );
        assert_eq!(
            parsed.dump.tables.len(),
            2,
            "the unclosed table is still modelled"
        );
    }

    #[test]
    fn the_last_copy_of_a_table_wins() {
        let parsed = build(
            "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\nCOMMIT\n*filter\n:INPUT DROP [0:0]\nCOMMIT\n",
        );
        assert_eq!(names(&parsed), ["duplicate-table"]);
        let filter = parsed.dump.table("filter").unwrap();
        assert!(filter.chain("INPUT").unwrap().rules.is_empty());
        assert_eq!(filter.chain("INPUT").unwrap().policy_name(), "DROP");
    }
}
