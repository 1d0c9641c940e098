//! Lines of an iptables-save dump, as written: the pest grammar in
//! `grammar/iptables_save.pest` turned into a spanned AST.
//!
//! Nothing here knows what an option means; [`crate::model`] decides that.
//! Every node carries the [`Span`] of the bytes it came from, so any finding
//! can point at the exact text.

use std::borrow::Cow;
use std::ops::Range;

use pest::Parser as _;
use pest::error::{ErrorVariant, InputLocation};
use pest::iterators::Pair;

/// The pest parser generated from the grammar file.
#[derive(pest_derive::Parser)]
#[grammar = "../grammar/iptables_save.pest"]
pub struct LineParser;

/// A byte range in one source file. `u32` keeps AST nodes small; inputs over
/// 4 GiB are refused before parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Span {
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

impl Span {
    /// A span from byte offsets.
    pub fn new(start: usize, end: usize) -> Self {
        Span {
            start: start as u32,
            end: end as u32,
        }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// As a `Range<usize>`, the form codespan-reporting takes.
    pub fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }

    /// The text this span covers in `src`.
    pub fn text(self, src: &str) -> &str {
        &src[self.range()]
    }
}

/// One word of a rule line, after quote removal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word<'a> {
    /// The word as iptables sees it: quotes removed, `\x` inside quotes made `x`.
    pub text: Cow<'a, str>,
    /// Where the word was written, quotes included.
    pub span: Span,
}

impl Word<'_> {
    /// The word's text.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// A word or a lone `!`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg<'a> {
    /// `!`: inverts the option next to it.
    Bang(Span),
    /// Anything else.
    Word(Word<'a>),
}

impl Arg<'_> {
    /// Where the argument was written.
    pub fn span(&self) -> Span {
        match self {
            Arg::Bang(span) => *span,
            Arg::Word(word) => word.span,
        }
    }
}

/// `[packets:bytes]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    /// Packets that matched.
    pub packets: u64,
    /// Bytes that matched.
    pub bytes: u64,
    /// Where the counters were written, brackets included.
    pub span: Span,
}

/// What a line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineKind<'a> {
    /// Nothing at all.
    Empty,
    /// `# ...` in column 0; the text after `#`.
    Comment(&'a str),
    /// `*table`.
    Table {
        /// The table's name.
        name: Word<'a>,
    },
    /// `:CHAIN POLICY [p:b]`.
    Chain {
        /// The chain name; `None` for a bare `:`.
        name: Option<Word<'a>>,
        /// `ACCEPT`, `DROP` or `-`.
        policy: Option<Word<'a>>,
        /// Counters, when written.
        counters: Option<Counters>,
    },
    /// `COMMIT`.
    Commit,
    /// A rule or restore command: its optional counters and its words.
    Rule {
        /// `[p:b]` written before the command.
        counters: Option<Counters>,
        /// The words, in order: the first [`MAX_KEPT_WORDS`] of them.
        args: Vec<Arg<'a>>,
        /// How many words the line has, kept or not.
        word_count: usize,
    },
}

/// Words of one rule line kept in the AST. iptables-restore refuses a line
/// of more than 255 words; the rest of a longer line is counted, not kept,
/// so a hostile line of millions of words costs no memory.
pub const MAX_KEPT_WORDS: usize = 4096;

/// A line of the dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line<'a> {
    /// 1-based line number.
    pub number: u32,
    /// The line's bytes, without the line ending.
    pub span: Span,
    /// What it says.
    pub kind: LineKind<'a>,
    /// Things iptables accepts here but that are probably not what was meant.
    pub issues: Vec<Issue>,
}

/// Something readable but suspicious in a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issue {
    /// Counters that are not `[packets:bytes]` with two integers; iptables
    /// ignores them unless restoring with `-c`, then fails.
    BadCounters(Span, String),
    /// A `"` never closed: the rest of the line became part of one word.
    UnterminatedQuote(Span),
}

/// A line pest could not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// 1-based line number.
    pub line: u32,
    /// Where reading stopped (an empty span at the offending byte, or the
    /// offending token).
    pub span: Span,
    /// What was wrong, for a human.
    pub message: String,
}

/// Parse one line. `text` is the line without its ending; `offset` is where it
/// starts in the file, so spans are file offsets.
pub fn parse_line(text: &str, offset: usize, number: u32) -> Result<Line<'_>, SyntaxError> {
    parse_line_ending(text, offset, number, false)
}

/// [`parse_line`] for a line a newline ends when `newline_follows` (not
/// the file's last line without one): a quote left open takes that
/// newline into its word, as iptables-restore reads it.
pub fn parse_line_ending(
    text: &str,
    offset: usize,
    number: u32,
    newline_follows: bool,
) -> Result<Line<'_>, SyntaxError> {
    if let Some(at) = memchr::memchr(b'\n', text.as_bytes()) {
        // A line never holds a newline; refuse rather than read two lines as one.
        return Err(SyntaxError {
            line: number,
            span: Span::new(offset + at, offset + at),
            message: "a line cannot contain a newline".to_string(),
        });
    }
    parse_line_reusing(text, offset, number, newline_follows, &mut Vec::new())
}

/// [`parse_line_ending`] that fills a rule line's words into the vector
/// left in `spare` (emptied first) instead of a new one: a rule line's
/// words need a vector of a kilobyte and more, and allocating then freeing
/// one per line was a tenth of the allocator's work on a large dump. The
/// caller hands the vector back through `spare` once it is done with the
/// words.
///
/// `text` must hold no newline (a line of [`line_ranges`]): unlike
/// [`parse_line_ending`], this does not look for one, which cost 0.6% of
/// `check` on a large dump.
pub(crate) fn parse_line_reusing<'a>(
    text: &'a str,
    offset: usize,
    number: u32,
    newline_follows: bool,
    spare: &mut Vec<Arg<'a>>,
) -> Result<Line<'a>, SyntaxError> {
    let mut pairs = LineParser::parse(Rule::line, text).map_err(|error| {
        let at = match error.location {
            InputLocation::Pos(pos) => pos,
            InputLocation::Span((start, _)) => start,
        };
        SyntaxError {
            line: number,
            span: Span::new(offset + at, offset + at),
            message: describe_error(&error.variant, text, at),
        }
    })?;
    let pair = pairs
        .next()
        .expect("grammar: a line is one of its alternatives");
    Ok(line_of(pair, text, offset, number, newline_follows, spare))
}

/// The AST of one line from its pair; `text` is the line and `offset` where
/// it starts in the file; `newline_follows` when a newline ends it.
/// A rule line's words go into the vector taken from `spare`.
fn line_of<'a>(
    pair: Pair<'a, Rule>,
    text: &'a str,
    offset: usize,
    number: u32,
    newline_follows: bool,
    spare: &mut Vec<Arg<'a>>,
) -> Line<'a> {
    let span = Span::new(offset, offset + text.len());
    let mut issues = Vec::new();
    let mut kind = match pair.as_rule() {
        Rule::empty => LineKind::Empty,
        Rule::comment => LineKind::Comment(&text[1..]),
        Rule::commit => LineKind::Commit,
        Rule::table_header => {
            let name = pair.into_inner().next().expect("grammar: table name");
            LineKind::Table {
                name: plain_word(name, offset),
            }
        }
        Rule::chain_decl => chain_declaration(text, offset, &mut issues),
        Rule::command => {
            // The pair is the line's first `-`; the words are the whole line.
            let mut args = std::mem::take(spare);
            args.clear();
            let word_count = split_args(text, offset, &mut args, &mut issues);
            LineKind::Rule {
                counters: None,
                args,
                word_count,
            }
        }
        Rule::rule_line => {
            let mut counters = None;
            let mut args = std::mem::take(spare);
            args.clear();
            let mut word_count = 0;
            for inner in pair.into_inner() {
                match inner.as_rule() {
                    Rule::counters => {
                        counters =
                            parse_counters(inner.as_str(), pair_span(&inner, offset), &mut issues)
                    }
                    Rule::args => {
                        word_count = split_args(
                            inner.as_str(),
                            offset + inner.as_span().start(),
                            &mut args,
                            &mut issues,
                        )
                    }
                    Rule::command => {
                        // The pair is the command's `-`; its words run to the end of the line.
                        let start = inner.as_span().start();
                        word_count =
                            split_args(&text[start..], offset + start, &mut args, &mut issues)
                    }
                    _ => {}
                }
            }
            LineKind::Rule {
                counters,
                args,
                word_count,
            }
        }
        other => unreachable!("grammar: unexpected top-level rule {other:?}"),
    };
    if newline_follows
        && let LineKind::Rule { args, .. } = &mut kind
        && let Some(Arg::Word(last)) = args.last_mut()
        && issues.contains(&Issue::UnterminatedQuote(last.span))
    {
        // iptables-restore splits the line with its `\n`: an open quote
        // runs to the end and takes the newline into its word.
        last.text.to_mut().push('\n');
    }
    Line {
        number,
        span,
        kind,
        issues,
    }
}

fn pair_span(pair: &Pair<'_, Rule>, offset: usize) -> Span {
    let s = pair.as_span();
    Span::new(offset + s.start(), offset + s.end())
}

fn plain_word<'a>(pair: Pair<'a, Rule>, offset: usize) -> Word<'a> {
    Word {
        span: pair_span(&pair, offset),
        text: Cow::Borrowed(pair.as_str()),
    }
}

/// The parts of a chain declaration line (`text`, from its `:`, starting
/// at `offset` in the file), read as the grammar's comment on `chain_decl`
/// says: an optional name, then after spaces or tabs an optional policy (a
/// word not starting with `[`), then after spaces or tabs optional counters
/// (`[` to the next `]`); whatever follows is ignored, as by iptables.
fn chain_declaration<'a>(text: &'a str, offset: usize, issues: &mut Vec<Issue>) -> LineKind<'a> {
    let bytes = text.as_bytes();
    let is_sep = |byte: &u8| *byte == b' ' || *byte == b'\t';
    let word_end = |from: usize| {
        bytes[from..]
            .iter()
            .position(is_sep)
            .map_or(bytes.len(), |len| from + len)
    };
    let separator_end = |from: usize| {
        bytes[from..]
            .iter()
            .position(|byte| !is_sep(byte))
            .map_or(bytes.len(), |len| from + len)
    };
    let word = |start: usize, end: usize| Word {
        text: Cow::Borrowed(&text[start..end]),
        span: Span::new(offset + start, offset + end),
    };
    // After the `:`.
    let mut at = 1;
    let name_end = word_end(at);
    let name = (name_end > at).then(|| word(at, name_end));
    at = name_end;
    let mut policy = None;
    let policy_start = separator_end(at);
    if policy_start > at && bytes.get(policy_start).is_some_and(|&byte| byte != b'[') {
        let end = word_end(policy_start);
        policy = Some(word(policy_start, end));
        at = end;
    }
    let mut counters = None;
    let counters_start = separator_end(at);
    if counters_start > at
        && bytes.get(counters_start) == Some(&b'[')
        && let Some(close) = memchr::memchr(b']', &bytes[counters_start..])
    {
        let end = counters_start + close + 1;
        counters = parse_counters(
            &text[counters_start..end],
            Span::new(offset + counters_start, offset + end),
            issues,
        );
    }
    LineKind::Chain {
        name,
        policy,
        counters,
    }
}

/// Counters `[packets:bytes]` (`written`, brackets included, at `span`).
fn parse_counters(written: &str, span: Span, issues: &mut Vec<Issue>) -> Option<Counters> {
    let text = &written[1..written.len() - 1];
    let parsed = text.split_once(':').and_then(|(packets, bytes)| {
        Some((packets.parse::<u64>().ok()?, bytes.parse::<u64>().ok()?))
    });
    match parsed {
        Some((packets, bytes)) => Some(Counters {
            packets,
            bytes,
            span,
        }),
        None => {
            issues.push(Issue::BadCounters(
                span,
                format!("`[{text}]` is not `[packets:bytes]` with two integers below 2^64"),
            ));
            None
        }
    }
}

/// The bytes that end a run of bare word characters: the separators and
/// the quote.
const WORD_STOP: [bool; 256] = {
    let mut stop = [false; 256];
    stop[b' ' as usize] = true;
    stop[b'\t' as usize] = true;
    stop[b'"' as usize] = true;
    stop
};

/// Cut the text the grammar's `args` rule matched into words, at the spaces
/// and tabs outside quotes that the rule accepted as separators; `start` is
/// the text's offset in the file. Keeps the first [`MAX_KEPT_WORDS`] words
/// and returns how many there are.
fn split_args<'a>(
    text: &'a str,
    start: usize,
    args: &mut Vec<Arg<'a>>,
    issues: &mut Vec<Issue>,
) -> usize {
    let mut count = 0;
    let bytes = text.as_bytes();
    // Room for the words of a long kube-proxy rule: growing this vector
    // from empty was 6% of parsing a dump (counting separators first cost
    // as much as it saved).
    args.reserve(48);
    let mut at = 0;
    while at < bytes.len() {
        while at < bytes.len() && (bytes[at] == b' ' || bytes[at] == b'\t') {
            at += 1;
        }
        if at == bytes.len() {
            // Trailing spaces: `args` runs to the end of the line.
            break;
        }
        let word_start = at;
        // Most words have no quote: find their end with one table load per
        // byte. Three comparisons per byte were half of this function's
        // instructions (callgrind, 1,000-service dump: 594.1M -> 588.1M
        // for `check`).
        at += bytes[at..]
            .iter()
            .position(|&byte| WORD_STOP[usize::from(byte)])
            .unwrap_or(bytes.len() - at);
        let mut quoted = false;
        let has_quote = at < bytes.len() && bytes[at] == b'"';
        // The word is one quoted span without escapes (every quoted comment
        // kube-proxy writes): it can borrow the input.
        let mut simply_quoted = false;
        if has_quote {
            // Quoted, only a closing quote ends the word (iptables ends a
            // word at its closing quote: `"a"b` is two words, `a` and `b`;
            // 1.8.9: "Bad argument `b'"), and a backslash makes the next
            // byte literal. A quote never closed runs to the end. One memchr
            // search per quote or backslash instead of a match per byte, and
            // no second pass to see whether the word borrows: 524.3M ->
            // 511.0M instructions for `check` (callgrind, 1k dump, -2.5%).
            // (The bare runs stay a table load per byte: memchr3 cost 1.1%
            // more, their words being too short for its vectors, and eight
            // bytes at a time by hand saved only 0.24%.)
            let opening = at;
            let mut escaped = false;
            quoted = true;
            at += 1;
            while let Some(found) = memchr::memchr2(b'"', b'\\', &bytes[at.min(bytes.len())..]) {
                at += found + 1;
                if bytes[at - 1] == b'"' {
                    quoted = false;
                    break;
                }
                escaped = true;
                at += 1;
            }
            if quoted {
                at = bytes.len();
            }
            simply_quoted = opening == word_start && !quoted && !escaped;
        }
        let at_end = at.min(bytes.len());
        let written = &text[word_start..at_end];
        let span = Span::new(start + word_start, start + at_end);
        if quoted {
            issues.push(Issue::UnterminatedQuote(span));
        }
        count += 1;
        if count > MAX_KEPT_WORDS {
            at = at_end;
            continue;
        }
        let text = if !has_quote {
            Cow::Borrowed(written)
        } else if simply_quoted {
            Cow::Borrowed(&written[1..written.len() - 1])
        } else {
            Cow::Owned(unquote(written))
        };
        // iptables compares the word after quote removal, so `"!"` inverts too.
        args.push(if text == "!" {
            Arg::Bang(span)
        } else {
            Arg::Word(Word { text, span })
        });
        at = at_end;
    }
    count
}

/// Remove quotes as iptables does (xshared.c:add_param_to_argv): `"` toggles
/// quoting, and inside quotes a backslash makes the next character literal.
fn unquote(written: &str) -> String {
    let mut text = String::with_capacity(written.len());
    let mut quoted = false;
    let mut chars = written.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => quoted = !quoted,
            '\\' if quoted => {
                if let Some(next) = chars.next() {
                    text.push(next);
                }
            }
            other => text.push(other),
        }
    }
    text
}

fn describe_error(variant: &ErrorVariant<Rule>, text: &str, at: usize) -> String {
    let ErrorVariant::ParsingError { positives, .. } = variant else {
        return "cannot parse this line".to_string();
    };
    if text.starts_with('[') && !text[..at].contains(']') {
        return "expected `]` to close the counters `[packets:bytes]`".to_string();
    }
    if text[at..].starts_with("\"") {
        return "unexpected `\"`".to_string();
    }
    let names: Vec<&str> = positives
        .iter()
        .filter_map(|rule| rule_name(*rule))
        .collect();
    if names.is_empty() {
        "cannot parse this line".to_string()
    } else {
        format!("expected {}", names.join(" or "))
    }
}

fn rule_name(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::name => "a name",
        Rule::counters => "counters `[packets:bytes]`",
        Rule::args | Rule::command => "a word",
        Rule::EOI => "the end of the line",
        _ => return None,
    })
}

/// Byte ranges of the lines of `src`, line endings excluded. A final line
/// without `\n` counts; a trailing `\n` does not start another line.
pub fn line_ranges(src: &str) -> Vec<Range<usize>> {
    line_ranges_between(newlines(src.as_bytes()).into_iter(), src.len())
}

/// [`line_ranges`] of a text of `len` bytes whose `\n`s are at `newlines`,
/// in order.
pub(crate) fn line_ranges_between(
    newlines: impl ExactSizeIterator<Item = usize>,
    len: usize,
) -> Vec<Range<usize>> {
    let mut ranges = Vec::with_capacity(newlines.len() + 1);
    let mut start = 0;
    for newline in newlines {
        ranges.push(start..newline);
        start = newline + 1;
    }
    if start < len {
        ranges.push(start..len);
    }
    ranges
}

/// Inputs at least this large have their newlines found by several threads,
/// a part each: one thread took 5 ms on a 32 MB dump, before the parallel
/// parse can start.
const PARALLEL_SCAN_MIN: usize = 4 << 20;
/// The part of the input one thread scans.
const SCAN_PART: usize = 1 << 20;

/// The offsets of the `\n`s of `bytes`, in order.
pub fn newlines(bytes: &[u8]) -> Vec<usize> {
    use rayon::prelude::*;
    if bytes.len() < PARALLEL_SCAN_MIN {
        return memchr::memchr_iter(b'\n', bytes).collect();
    }
    let parts: Vec<Vec<usize>> = bytes
        .par_chunks(SCAN_PART)
        .enumerate()
        .map(|(index, part)| {
            let offset = index * SCAN_PART;
            memchr::memchr_iter(b'\n', part)
                .map(|at| offset + at)
                .collect()
        })
        .collect();
    let mut all = Vec::with_capacity(parts.iter().map(Vec::len).sum());
    for part in parts {
        all.extend(part);
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule_words(line: &str) -> Vec<String> {
        match parse_line(line, 0, 1).unwrap().kind {
            LineKind::Rule { args, .. } => args
                .into_iter()
                .map(|arg| match arg {
                    Arg::Bang(_) => "!".to_string(),
                    Arg::Word(word) => format!("<{}>", word.text),
                })
                .collect(),
            other => panic!("not a rule: {other:?}"),
        }
    }

    #[test]
    fn splits_words_like_iptables() {
        assert_eq!(
            rule_words("-A INPUT -m comment --comment \"a b\" -j ACCEPT"),
            [
                "<-A>",
                "<INPUT>",
                "<-m>",
                "<comment>",
                "<--comment>",
                "<a b>",
                "<-j>",
                "<ACCEPT>"
            ]
        );
        // A closing quote ends the word (iptables-restore 1.8.9:
        // `--comment ab"cd ef"gh` is refused, "Bad argument `gh'").
        assert_eq!(rule_words("ab\"cd ef\"gh"), ["<abcd ef>", "<gh>"]);
        assert_eq!(rule_words("\"\""), ["<>"]);
        assert_eq!(rule_words("'a b'"), ["<'a>", "<b'>"]);
        assert_eq!(rule_words("a\\b"), ["<a\\b>"]);
        assert_eq!(rule_words("\"say \\\"hi\\\" \\\\ \""), ["<say \"hi\" \\ >"]);
        assert_eq!(
            rule_words("-A\tX  ! -s !x"),
            ["<-A>", "<X>", "!", "<-s>", "<!x>"]
        );
        assert_eq!(rule_words("-s ! 10.0.0.0/8"), ["<-s>", "!", "<10.0.0.0/8>"]);
        assert_eq!(rule_words("-A X \r"), ["<-A>", "<X>", "<\r>"]);
        assert_eq!(rule_words("\"!\" -s"), ["!", "<-s>"]);
        assert_eq!(rule_words("-A X \"a\\\" b\""), ["<-A>", "<X>", "<a\" b>"]);
        assert_eq!(rule_words("\"a\"\"b\""), ["<a>", "<b>"]);
        assert_eq!(rule_words("\"\"\"\""), ["<>", "<>"]);
        assert_eq!(rule_words("\""), ["<>"]);
    }

    /// `command` takes its whole line and `rule_line` matches its words
    /// with `args` and `quoted` (see the grammar): a line read as a command
    /// and the same line behind counters must give the same words and
    /// issues, and both must read every line (iptables-restore does).
    #[test]
    fn command_and_rule_line_read_the_same_words() {
        let lines = [
            "-A X",
            "-A X -m comment --comment \"ns/svc:http\" -j KUBE-SEP-ABC",
            "-A X \"a\\\" b\" c",
            "-A X \"say \\\"hi\\\" \\\\ \" -j ACCEPT",
            "-A X ab\"cd ef\"gh \"\" !",
            "-A X -m comment --comment \"open -j ACCEPT",
            "-A X \"a\\",
            "-A\tX  \t",
            "-A X \"a\"\"b\"",
            "-\"",
            "-A X \\\" \"\\",
        ];
        for line in lines {
            let behind_counters = format!("[0:0] {line}");
            let (direct, counted) =
                match (parse_line(line, 0, 1), parse_line(&behind_counters, 0, 1)) {
                    (Ok(direct), Ok(counted)) => (direct, counted),
                    (a, b) => panic!("{line}: {a:?}, behind counters {b:?}"),
                };
            let (LineKind::Rule { args: a, .. }, LineKind::Rule { args: b, .. }) =
                (direct.kind, counted.kind)
            else {
                panic!("{line}: not a rule line")
            };
            let texts = |args: &[Arg<'_>]| {
                args.iter()
                    .map(|arg| match arg {
                        Arg::Bang(_) => "!".to_string(),
                        Arg::Word(word) => format!("<{}>", word.text),
                    })
                    .collect::<Vec<_>>()
            };
            assert_eq!(texts(&a), texts(&b), "{line}");
            assert_eq!(direct.issues.len(), counted.issues.len(), "{line}");
        }
    }

    /// iptables-restore loads a line whose open quote ends in a lone
    /// backslash (checked with 1.8.9, legacy and nft): the word is what
    /// came before it, and the quote is still never closed.
    #[test]
    fn a_backslash_at_the_end_of_an_open_quote() {
        let line = parse_line("-A X -m comment --comment \"dns \\", 0, 1).unwrap();
        assert_eq!(
            line.issues,
            vec![Issue::UnterminatedQuote(Span::new(26, 32))]
        );
        assert_eq!(
            rule_words("-A X -m comment --comment \"dns \\"),
            ["<-A>", "<X>", "<-m>", "<comment>", "<--comment>", "<dns >"]
        );
    }

    /// iptables-restore reads a line with its newline: a quote left open
    /// takes it into the word (`--comment "abc` loads as the comment
    /// `abc` and a newline; `--log-prefix "abc` is refused, "Newlines not
    /// allowed in --log-prefix", iptables 1.8.9 in a private namespace).
    /// The file's last line, without a newline, has none to take.
    #[test]
    fn an_open_quote_takes_the_newline_that_ends_its_line() {
        let last_word = |text: &str, newline_follows: bool| {
            let line = parse_line_ending(text, 0, 1, newline_follows).unwrap();
            let LineKind::Rule { args, .. } = line.kind else {
                panic!()
            };
            let Some(Arg::Word(word)) = args.last() else {
                panic!()
            };
            word.text.to_string()
        };
        assert_eq!(last_word("-A X -j LOG --log-prefix \"abc", true), "abc\n");
        assert_eq!(last_word("-A X -j LOG --log-prefix \"abc", false), "abc");
        assert_eq!(
            last_word("-A X -m comment --comment \"dns \\", true),
            "dns \n"
        );
        assert_eq!(last_word("-A X -j LOG --log-prefix \"abc\"", true), "abc");
    }

    #[test]
    fn word_spans_include_quotes() {
        let line = parse_line("-A X \"q\"", 100, 7).unwrap();
        let LineKind::Rule { args, .. } = line.kind else {
            panic!()
        };
        assert_eq!(args[2].span(), Span::new(105, 108));
        assert_eq!(line.span, Span::new(100, 108));
        assert_eq!(line.number, 7);
    }

    #[test]
    fn structural_lines() {
        assert_eq!(parse_line("", 0, 1).unwrap().kind, LineKind::Empty);
        assert_eq!(
            parse_line("# hi", 0, 1).unwrap().kind,
            LineKind::Comment(" hi")
        );
        assert_eq!(parse_line("COMMIT", 0, 1).unwrap().kind, LineKind::Commit);
        assert!(matches!(
            parse_line("COMMIT ", 0, 1).unwrap().kind,
            LineKind::Rule { .. }
        ));
        let LineKind::Table { name } = parse_line("*nat", 0, 1).unwrap().kind else {
            panic!()
        };
        assert_eq!(name.text, "nat");
        let LineKind::Chain {
            name,
            policy,
            counters,
        } = parse_line(":INPUT DROP [3:180]", 0, 1).unwrap().kind
        else {
            panic!()
        };
        assert_eq!(name.unwrap().text, "INPUT");
        assert_eq!(policy.unwrap().text, "DROP");
        let counters = counters.unwrap();
        assert_eq!((counters.packets, counters.bytes), (3, 180));
        assert_eq!(counters.span, Span::new(12, 19));
        let LineKind::Chain {
            policy, counters, ..
        } = parse_line(":X -", 0, 1).unwrap().kind
        else {
            panic!()
        };
        assert_eq!(policy.unwrap().text, "-");
        assert!(counters.is_none());
    }

    /// Each part of a chain declaration as the PEG rule
    /// `":" ~ name? ~ (sep ~ policy)? ~ (sep ~ counters)? ~ sep? ~ rest`
    /// reads it: (name, policy, counters as written, issues).
    #[test]
    fn chain_declaration_parts() {
        type Parts<'a> = (
            Option<&'a str>,
            Option<&'a str>,
            Option<(u64, u64, Span)>,
            usize,
        );
        fn parts<'a>(line: &'a str) -> Parts<'a> {
            let parsed = parse_line(line, 10, 1).unwrap();
            let LineKind::Chain {
                name,
                policy,
                counters,
            } = parsed.kind
            else {
                panic!("{line}: not a chain declaration")
            };
            let text = |word: Word<'a>| -> &'a str {
                let Cow::Borrowed(text) = word.text else {
                    panic!()
                };
                assert_eq!(
                    &line[word.span.start as usize - 10..word.span.end as usize - 10],
                    text
                );
                text
            };
            let counters = counters.map(|c| (c.packets, c.bytes, c.span));
            (
                name.map(text),
                policy.map(text),
                counters,
                parsed.issues.len(),
            )
        }
        let span = |start: usize, end: usize| Span::new(10 + start, 10 + end);
        assert_eq!(parts(":"), (None, None, None, 0));
        assert_eq!(
            parts(":KUBE-SEP-X - [0:0]"),
            (Some("KUBE-SEP-X"), Some("-"), Some((0, 0, span(14, 19))), 0)
        );
        // No name: a policy may still follow the spaces.
        assert_eq!(parts(": ACCEPT"), (None, Some("ACCEPT"), None, 0));
        // A word starting with `[` is not a policy: counters right after the name.
        assert_eq!(
            parts(":X\t[1:2]"),
            (Some("X"), None, Some((1, 2, span(3, 8))), 0)
        );
        // Counters run to the first `]`, spaces included (then refused as numbers).
        assert_eq!(
            parts(":X - [0: 0] more words"),
            (Some("X"), Some("-"), None, 1)
        );
        // No `]`: no counters, and nothing to complain about (iptables ignores it).
        assert_eq!(parts(":X - [0:0"), (Some("X"), Some("-"), None, 0));
        // Without a space, brackets belong to the name or the policy.
        assert_eq!(parts(":X[0:0]"), (Some("X[0:0]"), None, None, 0));
        assert_eq!(
            parts(":X DROP[0:0]"),
            (Some("X"), Some("DROP[0:0]"), None, 0)
        );
        // Counters only after spaces; trailing words and spaces ignored.
        assert_eq!(parts(":X -  \t "), (Some("X"), Some("-"), None, 0));
        assert_eq!(parts(":X - extra [1:1]"), (Some("X"), Some("-"), None, 0));
    }

    #[test]
    fn rule_counters() {
        let LineKind::Rule { counters, args, .. } =
            parse_line("[12:3400] -A INPUT -j DROP", 0, 1).unwrap().kind
        else {
            panic!()
        };
        assert_eq!(counters.unwrap().packets, 12);
        assert_eq!(args.len(), 4);
    }

    #[test]
    fn errors_point_at_the_column() {
        let error = parse_line("[12:3 -A X", 50, 3).unwrap_err();
        assert_eq!(error.line, 3);
        assert_eq!(
            error.span.start, 50,
            "points at the `[` that is never closed"
        );
        assert!(error.message.contains("`]`"), "{}", error.message);
    }

    #[test]
    fn suspicious_but_accepted_by_iptables() {
        // iptables-restore reads an unclosed quote to the end of the line.
        let line = parse_line("-A X -m comment --comment \"open -j ACCEPT", 0, 3).unwrap();
        assert_eq!(
            line.issues,
            vec![Issue::UnterminatedQuote(Span::new(26, 41))]
        );
        let LineKind::Rule { args, .. } = line.kind else {
            panic!()
        };
        assert_eq!(args.len(), 6);
        // Without -c, iptables-restore only needs the `]`.
        let line = parse_line("[12:x] -A X", 50, 1).unwrap();
        assert!(
            matches!(&line.issues[0], Issue::BadCounters(span, _) if *span == Span::new(50, 56))
        );
        let line = parse_line("[99999999999999999999999:0]-A X", 0, 1).unwrap();
        assert_eq!(line.issues.len(), 1);
        let LineKind::Rule { counters, args, .. } = line.kind else {
            panic!()
        };
        assert!(counters.is_none());
        assert_eq!(args.len(), 2);
    }

    #[test]
    fn line_ranges_split_on_newlines() {
        // Large enough to be scanned in parts, with a line across each
        // part's end and lines ending right at one.
        let long: String = (0..PARALLEL_SCAN_MIN / 7 + SCAN_PART)
            .map(|i| if i % 3 == 0 { "ab\n" } else { "abcdefg\n" })
            .collect();
        let expected: Vec<usize> = long.match_indices('\n').map(|(at, _)| at).collect();
        assert!(long.len() > PARALLEL_SCAN_MIN && expected.len() > 1000);
        assert_eq!(newlines(long.as_bytes()), expected);
        let ranges = line_ranges(&long);
        assert_eq!(ranges.len(), expected.len());
        assert!(ranges.iter().all(|r| !long[r.clone()].contains('\n')));
        assert_eq!(line_ranges("a\nbc\n"), vec![0..1, 2..4]);
        assert_eq!(line_ranges("a\n\nb"), vec![0..1, 2..2, 3..4]);
        assert!(line_ranges("").is_empty());
    }
}
