//! `iptlint explain SERVICE [FILE]` and `iptlint services [FILE]`: where a
//! kube-proxy service's new connections go, and the list of services.

mod lines;

use std::io::Write;

use clap::Args;
use codespan_reporting::term::termcolor::{ColorChoice, StandardStream};
use serde::Serialize;

use crate::analysis::probability::{Case, Flows, Outcome, describe_all, describe_case};
use crate::analysis::services::{
    EPSILON, Entry, Quantisation, RejectedService, Service, Sketch, analyse, rejected_services,
    services, sketches,
};
use crate::cli::ExitStatus;
use crate::diagnostics::codes::SYNTAX_ERROR;
use crate::diagnostics::suggest::edit_distance;
use crate::graph::DumpGraph;
use crate::lint::FileReport;
use crate::model::build::{build, build_selected, build_source};
use crate::model::{Dump, Table};
use crate::render;
use crate::source::SourceFile;

/// Output formats of `explain` and `services`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For a person.
    Human,
    /// The JSON contract (see README).
    Json,
}

/// Arguments of `explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The service: `ns/svc:port`, `ns/svc` (when it has one port), a
    /// cluster IP (`10.96.0.10` or `10.96.0.10:53`), or one of its chains
    /// (`KUBE-SVC-...`, `KUBE-EXT-...`).
    #[arg(value_name = "SERVICE")]
    pub service: String,
    /// The dump; `-` reads standard input, as does nothing unless it is a terminal.
    #[arg(value_name = "FILE")]
    pub file: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

/// Arguments of `services`.
#[derive(Debug, Args)]
pub struct ServicesArgs {
    /// The dump; `-` reads standard input, as does nothing unless it is a terminal.
    #[arg(value_name = "FILE")]
    pub file: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

/// Read `path` (stdin for `-` or none), or say why not on stderr.
fn read(path: Option<&str>) -> Result<SourceFile, ExitStatus> {
    let path = path.unwrap_or("-");
    SourceFile::read(path).map_err(|error| {
        let name = if path == "-" { "<stdin>" } else { path };
        eprintln!("iptlint: cannot read `{name}`: {error}");
        ExitStatus::Error
    })
}

/// Print the syntax errors of `source` on stderr, rustc-style.
fn report_syntax_errors(source: &SourceFile, diagnostics: &[crate::diagnostics::Diagnostic]) {
    let report = FileReport {
        source: source.clone(),
        diagnostics: diagnostics
            .iter()
            .filter(|d| std::ptr::eq(d.info, &SYNTAX_ERROR))
            .cloned()
            .collect(),
    };
    let mut stderr = StandardStream::stderr(ColorChoice::Never);
    let _ = render::human::write_reports(&mut stderr, std::slice::from_ref(&report), true);
}

/// What a SERVICE argument designates.
#[derive(Debug)]
pub enum Resolution<'s> {
    /// One service.
    Found(&'s Sketch),
    /// A service kube-proxy rejects for lack of endpoints.
    Rejected(&'s RejectedService),
    /// Several services match: their names.
    Ambiguous(Vec<String>),
    /// Nothing matches: the closest names.
    Unknown(Vec<String>),
}

/// Resolve a SERVICE argument against the services of a dump, in this
/// order: exact name; chain name (`KUBE-SVC-...`, `KUBE-EXT-...`, or the
/// hash they share); address (`IP` or `IP:PORT` of any entry); `ns/svc`
/// for `ns/svc:PORT`.
pub fn resolve<'s>(
    query: &str,
    services: &'s [Sketch],
    rejected: &'s [RejectedService],
) -> Resolution<'s> {
    let one_or_many = |found: Vec<&'s Sketch>| match found.len() {
        0 => None,
        1 => Some(Resolution::Found(found[0])),
        _ => Some(Resolution::Ambiguous(
            found.iter().map(|s| describe_candidate(s)).collect(),
        )),
    };
    let exact: Vec<&Sketch> = services.iter().filter(|s| s.name == query).collect();
    if let Some(resolution) = one_or_many(exact) {
        return resolution;
    }
    if let Some(found) = rejected.iter().find(|r| r.name == query) {
        return Resolution::Rejected(found);
    }
    if query.starts_with("KUBE-") {
        let by_chain: Vec<&Sketch> = services
            .iter()
            .filter(|s| s.chain_names.iter().any(|name| name == query))
            .collect();
        if let Some(resolution) = one_or_many(by_chain) {
            return resolution;
        }
    }
    if let Some((ip, port)) = parse_address(query) {
        let by_address: Vec<&Sketch> = services
            .iter()
            .filter(|s| {
                s.addresses.iter().any(|&(address, service_port)| {
                    address == ip && port.is_none_or(|p| service_port == Some(p))
                })
            })
            .collect();
        if let Some(resolution) = one_or_many(by_address) {
            return resolution;
        }
        let rejected_here = rejected.iter().find(|r| {
            r.rules.iter().any(|rule| {
                rule.destination == Some(ip) && port.is_none_or(|p| rule.port == Some(p))
            })
        });
        if let Some(found) = rejected_here {
            return Resolution::Rejected(found);
        }
    }
    let prefix = format!("{query}:");
    let by_prefix: Vec<&Sketch> = services
        .iter()
        .filter(|s| s.name.starts_with(&prefix))
        .collect();
    let rejected_by_prefix: Vec<&RejectedService> = rejected
        .iter()
        .filter(|r| r.name.starts_with(&prefix))
        .collect();
    match (by_prefix.len(), rejected_by_prefix.len()) {
        (0, 1) => return Resolution::Rejected(rejected_by_prefix[0]),
        (_, 0) => {
            if let Some(resolution) = one_or_many(by_prefix) {
                return resolution;
            }
        }
        _ => {
            return Resolution::Ambiguous(
                by_prefix
                    .iter()
                    .map(|s| describe_candidate(s))
                    .chain(
                        rejected_by_prefix
                            .iter()
                            .map(|r| format!("{} (no endpoints)", r.name)),
                    )
                    .collect(),
            );
        }
    }
    let mut names: Vec<&str> = services
        .iter()
        .map(|s| s.name.as_str())
        .chain(rejected.iter().map(|r| r.name.as_str()))
        .collect();
    // One distance per name, not one per comparison.
    names.sort_by_cached_key(|name| (edit_distance(query, name), *name));
    names.dedup();
    Resolution::Unknown(names.into_iter().take(3).map(str::to_string).collect())
}

fn describe_candidate(service: &Sketch) -> String {
    let address = match service.cluster {
        Some((std::net::IpAddr::V6(ip), Some(port))) => format!("[{ip}]:{port}"),
        Some((ip, Some(port))) => format!("{ip}:{port}"),
        Some((ip, None)) => ip.to_string(),
        None => "no cluster IP".to_string(),
    };
    let chains = service.chain_names.join(", ");
    if service.named_by_comment {
        format!("{} ({address}; {chains})", service.name)
    } else {
        format!("{} ({address})", service.name)
    }
}

/// `10.0.0.1`, `10.0.0.1:80`, `fd00::1`, `[fd00::1]:80`.
fn parse_address(text: &str) -> Option<(std::net::IpAddr, Option<u16>)> {
    if let Ok(ip) = text.parse() {
        return Some((ip, None));
    }
    text.parse::<std::net::SocketAddr>()
        .ok()
        .map(|socket| (socket.ip(), Some(socket.port())))
}

/// The `explain` JSON contract.
#[derive(Debug, Serialize)]
pub struct ExplainJson {
    /// The service's name.
    pub service: String,
    /// Its table.
    pub table: String,
    /// Rules that send traffic to it.
    pub entries: Vec<EntryJson>,
    /// Its endpoints with their exact shares.
    pub endpoints: Vec<EndpointJson>,
    /// Share of new connections that reach no endpoint.
    pub fallthrough: f64,
    /// Whether every share is within `tolerance` of `1/n`.
    pub uniform: bool,
    /// The tolerance used.
    pub tolerance: f64,
}

/// An entry in [`ExplainJson`].
#[derive(Debug, Serialize)]
pub struct EntryJson {
    /// Chain of the rule.
    pub chain: String,
    /// 1-based line of the rule.
    pub line: u32,
}

/// An endpoint in [`ExplainJson`].
#[derive(Debug, Serialize)]
pub struct EndpointJson {
    /// Chain of the DNAT rule.
    pub chain: String,
    /// The DNAT destination.
    pub destination: String,
    /// Exact probability that a new connection ends here.
    pub probability: f64,
    /// 1-based line of the DNAT rule.
    pub line: u32,
}

impl ExplainJson {
    /// The JSON view of a service.
    pub fn of(service: &Service, quantisation: &Quantisation) -> Self {
        ExplainJson {
            service: service.name.clone(),
            table: service.table.clone(),
            entries: service
                .entries
                .iter()
                .map(|e| EntryJson {
                    chain: e.chain_name.clone(),
                    line: e.line,
                })
                .collect(),
            endpoints: service
                .endpoints
                .iter()
                .map(|e| EndpointJson {
                    chain: e.chain_name.clone(),
                    destination: e.destination_text(),
                    probability: e.probability,
                    line: e.line,
                })
                .collect(),
            fallthrough: service.fallthrough,
            uniform: is_uniform(service, quantisation.tolerance),
            tolerance: quantisation.tolerance,
        }
    }

    /// The JSON view of a service without endpoints.
    pub fn of_rejected(service: &RejectedService) -> Self {
        ExplainJson {
            service: service.name.clone(),
            table: service.table.clone(),
            entries: service
                .rules
                .iter()
                .map(|r| EntryJson {
                    chain: r.chain_name.clone(),
                    line: r.line,
                })
                .collect(),
            endpoints: Vec::new(),
            fallthrough: 1.0,
            uniform: true,
            tolerance: crate::analysis::services::MODERN_TOLERANCE,
        }
    }
}

/// Uniform within `tolerance`; a service without endpoints is trivially
/// uniform, one with unresolved traffic is not.
fn is_uniform(service: &Service, tolerance: f64) -> bool {
    service
        .spread(tolerance)
        .map_or(service.unresolved <= EPSILON, |spread| spread.uniform)
}

/// Run `explain`.
pub fn explain(args: &ExplainArgs) -> std::io::Result<ExitStatus> {
    if args.file.is_none() {
        // `iptlint explain dump.rules`: the service left out, the dump
        // taken for it. Said before anything waits on standard input.
        if std::path::Path::new(&args.service).is_file() {
            eprintln!(
                "iptlint: `{0}` is a file, not a service: the service comes first \
                 (`iptlint explain SERVICE {0}`); `iptlint services {0}` lists them",
                args.service
            );
            return Ok(ExitStatus::Error);
        }
        if let Some(refusal) = crate::source::terminal_stdin_refusal("explain SERVICE") {
            eprintln!("iptlint: {refusal}");
            return Ok(ExitStatus::Error);
        }
    }
    // `iptlint explain dump.rules ns/svc`: the two swapped, said instead
    // of "cannot read `ns/svc`".
    if let Some(file) = args.file.as_deref()
        && file != "-"
        && !std::path::Path::new(file).exists()
        && std::path::Path::new(&args.service).is_file()
    {
        eprintln!(
            "iptlint: `{0}` is a file and `{1}` is not: the service comes first \
             (`iptlint explain {1} {0}`)",
            args.service, file
        );
        return Ok(ExitStatus::Error);
    }
    let source = match read(args.file.as_deref()) {
        Ok(source) => source,
        Err(status) => return Ok(status),
    };
    let mut out = std::io::stdout().lock();
    // First the lines the service needs; the whole dump when they do not
    // settle it (an unknown or ambiguous name, a broken line among them,
    // a dump the plan cannot be made for).
    let mut err = std::io::stderr().lock();
    if let Some(status) =
        explain_needed_lines(&args.service, args.format, &source.text, &mut out, &mut err)?
    {
        return Ok(status);
    }
    let parsed = build_source(&source);
    if parsed.has_syntax_errors() {
        report_syntax_errors(&source, &parsed.diagnostics);
        return Ok(ExitStatus::Error);
    }
    let status = explain_parsed(
        &args.service,
        args.format,
        &source.text,
        &parsed.dump,
        None,
        &mut out,
        &mut err,
    );
    // The process ends right after: the model is left to the exit rather
    // than freed rule by rule (20 ms on a 10,000-service dump).
    std::mem::forget(parsed);
    status.map(|status| status.expect("the whole dump settles every query"))
}

/// [`explain`] from the lines [`lines::plan`] picks; `None` when they do
/// not settle it.
fn explain_needed_lines(
    query: &str,
    format: Format,
    src: &str,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Option<ExitStatus>> {
    let Some(plan) = lines::plan(src, query) else {
        return Ok(None);
    };
    let parsed = build_selected(src, &plan.keep);
    if parsed.has_syntax_errors() {
        return Ok(None);
    }
    explain_parsed(query, format, src, &parsed.dump, Some(&plan), out, err)
}

/// Which lines of a dump `explain` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// Only those its service needs, when they settle the query.
    NeededLines,
    /// All of them.
    WholeDump,
}

/// What `iptlint explain` writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explained {
    /// How it ends.
    pub status: ExitStatus,
    /// Its standard output.
    pub out: String,
    /// Its standard error.
    pub err: String,
}

/// What `iptlint explain QUERY --format FORMAT` writes for the dump `src`,
/// read as `reading` says; `None` when the lines read do not settle the
/// query, and for a dump with syntax errors. For tests and fuzzing: both
/// readings give the same.
pub fn explanation(
    query: &str,
    src: &str,
    format: Format,
    reading: Reading,
) -> std::io::Result<Option<Explained>> {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let status = match reading {
        Reading::NeededLines => explain_needed_lines(query, format, src, &mut out, &mut err)?,
        Reading::WholeDump => {
            let parsed = build(src);
            if parsed.has_syntax_errors() {
                return Ok(None);
            }
            explain_parsed(query, format, src, &parsed.dump, None, &mut out, &mut err)?
        }
    };
    Ok(status.map(|status| Explained {
        status,
        out: String::from_utf8_lossy(&out).into_owned(),
        err: String::from_utf8_lossy(&err).into_owned(),
    }))
}

/// [`explain`] once the dump is read and parsed: from the
/// lines of `plan` when given, and then `None` when they do not settle it.
fn explain_parsed(
    query: &str,
    format: Format,
    src: &str,
    dump: &Dump<'_>,
    plan: Option<&lines::Plan<'_>>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Option<ExitStatus>> {
    let all = sketches(dump);
    let rejected = rejected_services(dump);
    match resolve(query, &all, &rejected) {
        Resolution::Found(sketch) => {
            let table = &dump.tables[sketch.table_index];
            let unread_probabilities = match plan {
                Some(plan) if !plan.covers(dump, sketch, &all) => return Ok(None),
                Some(plan) => &plan.skipped_probabilities[..],
                None => &[],
            };
            let service = &analyse(src, dump, sketch);
            let quantisation = Quantisation::of_with(table, unread_probabilities);
            match format {
                Format::Json => {
                    serde_json::to_writer_pretty(
                        &mut *out,
                        &ExplainJson::of(service, &quantisation),
                    )?;
                    writeln!(out)?;
                }
                Format::Human => {
                    let graph = DumpGraph::build(dump);
                    write_explanation(&mut *out, src, dump, &graph, service, &quantisation)?
                }
            }
            Ok(Some(ExitStatus::Clean))
        }
        Resolution::Rejected(service) => {
            if plan.is_some_and(|plan| !plan.names_read(dump, &all)) {
                return Ok(None);
            }
            match format {
                Format::Json => {
                    serde_json::to_writer_pretty(&mut *out, &ExplainJson::of_rejected(service))?;
                    writeln!(out)?;
                }
                Format::Human => write_rejected(&mut *out, service)?,
            }
            Ok(Some(ExitStatus::Clean))
        }
        // Candidates and close names are the services' names: the lines
        // read must give them all.
        Resolution::Ambiguous(_) | Resolution::Unknown(_)
            if plan.is_some_and(|plan| !plan.names_read(dump, &all)) =>
        {
            Ok(None)
        }
        Resolution::Ambiguous(candidates) => {
            writeln!(
                err,
                "iptlint: `{query}` matches {} services; name one of them:",
                candidates.len()
            )?;
            for candidate in candidates {
                writeln!(err, "  {candidate}")?;
            }
            Ok(Some(ExitStatus::Error))
        }
        Resolution::Unknown(closest) => {
            if closest.is_empty() {
                writeln!(
                    err,
                    "iptlint: no service `{query}`: this dump has no kube-proxy services"
                )?;
            } else {
                writeln!(
                    err,
                    "iptlint: no service `{query}`; the closest names are: {}",
                    closest.join(", ")
                )?;
            }
            Ok(Some(ExitStatus::Error))
        }
    }
}

fn write_rejected(out: &mut dyn Write, service: &RejectedService) -> std::io::Result<()> {
    writeln!(
        out,
        "{}: no endpoints ({} table)",
        service.name, service.table
    )?;
    writeln!(out)?;
    for rule in &service.rules {
        writeln!(
            out,
            "  {} line {}: new connections to {} are rejected",
            rule.chain_name,
            rule.line,
            rule.address()
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "Verdict: kube-proxy rejects this service's traffic until a pod behind it is ready"
    )
}

/// `12.50%`, with more decimals for tiny shares.
fn percent(share: f64) -> String {
    if share == 0.0 || share >= 0.0001 {
        format!("{:.2}%", share * 100.0)
    } else {
        format!("{:.2e}%", share * 100.0)
    }
}

fn chain_name<'t>(table: &'t Table<'_>, chain: usize) -> &'t str {
    &table.chains[chain].name
}

/// Rules of `chain` before `before` that jump to `KUBE-MARK-MASQ` for `entry`'s packets.
fn masquerade_rules(
    src: &str,
    table: &Table<'_>,
    chain: usize,
    before: usize,
    packet: crate::analysis::probability::Packet,
) -> Vec<(u32, String)> {
    let analyzer = crate::analysis::probability::Analyzer::new(src, table);
    table.chains[chain].rules[..before]
        .iter()
        .filter(|rule| {
            rule.target
                .as_ref()
                .is_some_and(|t| t.name == "KUBE-MARK-MASQ")
        })
        .filter_map(|rule| {
            analyzer.rule_conditions(rule, packet).map(|conditions| {
                let when = if conditions.is_empty() {
                    "always".to_string()
                } else {
                    format!("when {}", describe_all(&conditions))
                };
                (rule.line, when)
            })
        })
        .collect()
}

/// Summarise one case of an entry against the service's headline distribution.
fn summarise_case(table: &Table<'_>, case: &Case, service: &Service) -> String {
    let distribution = &case.distribution;
    if let Some(headline) = service.headline_case()
        && !service.endpoints.is_empty()
        && distribution.approx_eq(&headline.distribution, 1e-12)
    {
        return match service.endpoints.len() {
            1 => "the endpoint below".to_string(),
            n => format!("the {n} endpoints below"),
        };
    }
    let mut parts: Vec<String> = Vec::new();
    let items: Vec<(Outcome, f64)> = distribution.iter().filter(|(_, p)| *p > EPSILON).collect();
    let shown = 6;
    for (outcome, share) in items.iter().take(shown) {
        parts.push(describe_outcome(table, *outcome, *share, items.len() == 1));
    }
    if items.len() > shown {
        parts.push(format!("and {} more", items.len() - shown));
    }
    if parts.is_empty() {
        "nothing".to_string()
    } else {
        parts.join(", ")
    }
}

/// The first `--to-destination` of a DNAT rule.
fn dnat_destination(table: &Table<'_>, chain: usize, rule: usize) -> String {
    match table.chains[chain].rules[rule]
        .target
        .as_ref()
        .map(|t| &t.action)
    {
        Some(crate::model::Action::Dnat(addresses)) => addresses
            .first()
            .map_or_else(|| "?".to_string(), |a| a.to_string()),
        _ => "?".to_string(),
    }
}

fn describe_outcome(table: &Table<'_>, outcome: Outcome, share: f64, only: bool) -> String {
    let text = match outcome {
        Outcome::Dnat { chain, rule } => format!(
            "DNAT to {} ({} line {})",
            dnat_destination(table, chain, rule),
            chain_name(table, chain),
            table.chains[chain].rules[rule].line
        ),
        Outcome::Verdict { chain, rule } => {
            let rule_ref = &table.chains[chain].rules[rule];
            let target = rule_ref.target.as_ref().map_or("?", |t| t.name.as_ref());
            format!(
                "{target} ({} line {})",
                chain_name(table, chain),
                rule_ref.line
            )
        }
        Outcome::Return => "falls through, reaching no endpoint".to_string(),
        Outcome::Unresolved { chain, rule, why } => {
            let line = table.chains[chain].rules.get(rule).map_or(0, |r| r.line);
            let why = match why {
                crate::analysis::probability::Unresolved::Loop => "a jump loop",
                crate::analysis::probability::Unresolved::UndeclaredChain => {
                    "a jump to an undeclared chain"
                }
                crate::analysis::probability::Unresolved::TooManyCases => {
                    "too many unknown conditions"
                }
            };
            format!(
                "unresolved: {why} at {} line {line}",
                chain_name(table, chain)
            )
        }
    };
    if only {
        text
    } else {
        format!("{text} {}", percent(share))
    }
}

fn write_entry(
    out: &mut dyn Write,
    src: &str,
    table: &Table<'_>,
    entry: &Entry,
    service: &Service,
) -> std::io::Result<()> {
    let address = match (entry.packet.destination, entry.packet.destination_port) {
        (Some(std::net::IpAddr::V6(ip)), Some(port)) => format!("[{ip}]:{port}"),
        (Some(ip), Some(port)) => format!("{ip}:{port}"),
        (Some(ip), None) => ip.to_string(),
        (None, Some(port)) => port.to_string(),
        (None, None) => "any".to_string(),
    };
    let protocol = entry
        .packet
        .protocol
        .map_or(String::new(), |p| format!("/{}", p.name()));
    writeln!(
        out,
        "  {} {address}{protocol}: {} line {} -> {}",
        entry.kind.label(),
        entry.chain_name,
        entry.line,
        entry.target_name
    )?;
    if !entry.conditions.is_empty() {
        writeln!(out, "      only when {}", describe_all(&entry.conditions))?;
    }
    for (line, when) in masquerade_rules(src, table, entry.chain, entry.rule, entry.packet) {
        writeln!(
            out,
            "      masquerade: {} line {line} marks it {when}",
            entry.chain_name
        )?;
    }
    if Some(entry.target) != service.chain {
        let rules = table.chains[entry.target].rules.len();
        for (line, when) in masquerade_rules(src, table, entry.target, rules, entry.packet) {
            writeln!(
                out,
                "      masquerade: {} line {line} marks it {when}",
                entry.target_name
            )?;
        }
    }
    let as_main = entry.cases.len() == service.cases.len()
        && entry
            .cases
            .iter()
            .zip(&service.cases)
            .all(|(a, b)| a.distribution.approx_eq(&b.distribution, 1e-12));
    if as_main && service.cases.len() > 1 {
        writeln!(out, "      -> the cases and endpoints below")?;
    } else if entry.cases.len() == 1 && entry.cases[0].conditions.is_empty() {
        writeln!(
            out,
            "      -> {}",
            summarise_case(table, &entry.cases[0], service)
        )?;
    } else {
        for case in &entry.cases {
            writeln!(
                out,
                "      if {}: {}",
                describe_case(&case.conditions),
                summarise_case(table, case, service)
            )?;
        }
    }
    Ok(())
}

/// Write the human explanation of `service`, a service of `dump` whose
/// spans point into `src`.
pub fn write_explanation(
    out: &mut dyn Write,
    src: &str,
    dump: &Dump<'_>,
    graph: &DumpGraph,
    service: &Service,
    quantisation: &Quantisation,
) -> std::io::Result<()> {
    let table = &dump.tables[service.table_index];
    let protocol = service
        .protocol
        .map_or_else(|| "protocol unknown".to_string(), |p| p.name().to_string());
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    writeln!(
        out,
        "{}: {protocol}, cluster IP {}, {} ({} table)",
        service.name,
        service.address(),
        plural(service.endpoints.len(), "endpoint"),
        service.table
    )?;
    if !service.named_by_comment {
        writeln!(
            out,
            "  (no comment names this service; it is named after its chain)"
        )?;
    }

    writeln!(out)?;
    writeln!(out, "Entries")?;
    if service.entries.is_empty() {
        writeln!(
            out,
            "  none: neither KUBE-SERVICES nor KUBE-NODEPORTS jumps to this service's chains"
        )?;
    }
    let mut hooked: Vec<usize> = Vec::new();
    for entry in &service.entries {
        if !hooked.contains(&entry.chain) {
            hooked.push(entry.chain);
            let mut callers: Vec<(u32, String)> = graph.tables[service.table_index]
                .callers(entry.chain)
                .map(|(caller, jump)| {
                    (
                        jump.line,
                        format!("{} line {}", chain_name(table, caller), jump.line),
                    )
                })
                .collect();
            callers.sort();
            let callers: Vec<String> = callers.into_iter().map(|(_, text)| text).collect();
            if callers.is_empty() {
                writeln!(
                    out,
                    "  nothing in this dump jumps to {} (kube-proxy hooks it from PREROUTING and OUTPUT)",
                    entry.chain_name
                )?;
            } else {
                writeln!(
                    out,
                    "  {} is reached from {}",
                    entry.chain_name,
                    callers.join(", ")
                )?;
            }
        }
        write_entry(out, src, table, entry, service)?;
    }

    writeln!(out)?;
    let Some(main) = service.chain else {
        writeln!(
            out,
            "Endpoints: none (no KUBE-SVC, KUBE-SVL or KUBE-XLB chain for this service)"
        )?;
        return Ok(());
    };
    let main_chain = &table.chains[main];
    writeln!(
        out,
        "Endpoints: {} (line {}) chooses among {}",
        main_chain.name,
        main_chain.line,
        service.endpoints.len()
    )?;
    for (line, when) in masquerade_rules(src, table, main, main_chain.rules.len(), service.packet) {
        writeln!(
            out,
            "  masquerade: {} line {line} marks it {when}",
            main_chain.name
        )?;
    }
    if service.cases.len() > 1 {
        let mut analyzer = crate::analysis::probability::Analyzer::new(src, table);
        for (index, case) in service.cases.iter().enumerate() {
            let mut summary = if index == service.headline {
                "the spread below".to_string()
            } else {
                summarise_case(table, case, service)
            };
            // One endpoint for sure (a client with affinity): show its path.
            let only: Vec<(Outcome, f64)> = case.distribution.iter().collect();
            if let [(Outcome::Dnat { chain, rule }, _)] = only.as_slice()
                && let Some(flows) = analyzer.flows(main, service.packet, &case.conditions)
            {
                let path = flows.path_to(*chain, *rule);
                summary = format!(
                    "DNAT to {} via {}",
                    dnat_destination(table, *chain, *rule),
                    format_path(table, main, &path, Some(&flows))
                );
            }
            writeln!(out, "  if {}: {summary}", describe_case(&case.conditions))?;
        }
    }
    let width = service
        .endpoints
        .iter()
        .map(|e| e.destination_text().len())
        .max()
        .unwrap_or(0)
        .max("destination".len());
    let number_width = service.endpoints.len().to_string().len();
    if !service.endpoints.is_empty() {
        writeln!(
            out,
            "  {:>number_width$}  {:>7}  {:<14}  {:<width$}  path",
            "#", "share", "probability", "destination"
        )?;
    }
    let headline_flows = service.headline_case().and_then(|case| {
        crate::analysis::probability::Analyzer::new(src, table).flows(
            main,
            service.packet,
            &case.conditions,
        )
    });
    for (index, endpoint) in service.endpoints.iter().enumerate() {
        let hops: Vec<(usize, usize)> = endpoint.path.iter().map(|h| (h.chain, h.rule)).collect();
        let mut flags = Vec::new();
        if let Some(masquerade) = &endpoint.masquerade {
            // "hairpin" says it all in a table of a hundred lines.
            let short = masquerade.split(" (").next().unwrap_or(masquerade);
            flags.push(format!("masquerade: {short}"));
        }
        if endpoint.affinity {
            flags.push("records affinity".to_string());
        }
        let flags = if flags.is_empty() {
            String::new()
        } else {
            format!("  [{}]", flags.join("; "))
        };
        writeln!(
            out,
            "  {:>number_width$}  {:>7}  {:<14.12}  {:<width$}  {} (DNAT){flags}",
            index + 1,
            percent(endpoint.probability),
            endpoint.probability,
            endpoint.destination_text(),
            format_path(table, main, &hops, headline_flows.as_ref()),
        )?;
    }
    if let Some(case) = service.headline_case() {
        for (outcome, share) in case.distribution.iter() {
            if !matches!(outcome, Outcome::Dnat { .. }) && share > EPSILON {
                writeln!(
                    out,
                    "  {:>number_width$}  {:>7}  {:<14.12}  {}",
                    "-",
                    percent(share),
                    share,
                    describe_outcome(table, outcome, share, true)
                )?;
            }
        }
    }

    writeln!(out)?;
    write_verdict(out, service, quantisation)
}

/// `line 42 -> KUBE-SEP-X line 30`: the first hop in `main` by line only.
/// With the case's `flows`, a hop lists every rule of its chain that sends
/// traffic of the case to the same next chain (`lines 42, 43 -> ...`), since
/// the path follows only the busiest of them.
fn format_path(
    table: &Table<'_>,
    main: usize,
    hops: &[(usize, usize)],
    flows: Option<&Flows>,
) -> String {
    hops.iter()
        .enumerate()
        .map(|(step, &(chain, rule))| {
            let next = hops.get(step + 1).map(|&(next, _)| next);
            let lines = match (flows, next) {
                (Some(flows), Some(next)) => rules_into(table, flows, chain, next),
                _ => Vec::new(),
            };
            let lines = if lines.len() > 1 {
                let lines: Vec<String> = lines.iter().map(u32::to_string).collect();
                format!("lines {}", lines.join(", "))
            } else {
                format!("line {}", table.chains[chain].rules[rule].line)
            };
            if step == 0 && chain == main {
                lines
            } else {
                format!("{} {lines}", chain_name(table, chain))
            }
        })
        .collect::<Vec<_>>()
        .join(" -> ")
}

/// The lines of the rules of `chain` that send some traffic of `flows` to
/// chain `next`, in order.
fn rules_into(table: &Table<'_>, flows: &Flows, chain: usize, next: usize) -> Vec<u32> {
    table.chains[chain]
        .rules
        .iter()
        .enumerate()
        .filter(|(index, rule)| {
            rule.jump_target() == Some(next)
                && flows
                    .rules
                    .get(&(chain, *index))
                    .is_some_and(|&taken| taken > EPSILON)
        })
        .map(|(_, rule)| rule.line)
        .collect()
}

fn write_verdict(
    out: &mut dyn Write,
    service: &Service,
    quantisation: &Quantisation,
) -> std::io::Result<()> {
    let n = service.endpoints.len();
    match service.spread(quantisation.tolerance) {
        None if service.unresolved > EPSILON => writeln!(
            out,
            "Verdict: not judged: {} of new connections cannot be followed (see above)",
            percent(service.unresolved)
        )?,
        None => writeln!(out, "Verdict: no endpoint receives traffic")?,
        Some(_) if n == 1 => writeln!(out, "Verdict: a single endpoint")?,
        Some(spread) if spread.uniform && service.fallthrough > EPSILON => writeln!(
            out,
            "Verdict: no endpoint is favoured: none gets more than {} (1/{n}) within {:.0e}",
            percent(spread.expected),
            quantisation.tolerance
        )?,
        Some(spread) if spread.uniform => writeln!(
            out,
            "Verdict: uniform: each of the {n} endpoints gets {} (1/{n}) within {:.0e}",
            percent(spread.expected),
            quantisation.tolerance
        )?,
        Some(spread) => {
            let worst = &service.endpoints[spread.worst];
            writeln!(
                out,
                "Verdict: NOT uniform: endpoint {} ({}) gets {} where 1/{n} is {}",
                spread.worst + 1,
                worst.destination_text(),
                percent(worst.probability),
                percent(spread.expected)
            )?
        }
    }
    if service.fallthrough > EPSILON {
        writeln!(
            out,
            "         LEAK: {} of new connections reach no endpoint",
            percent(service.fallthrough)
        )?;
    } else if n > 0 && service.unresolved <= EPSILON {
        writeln!(
            out,
            "         no leak: every new connection reaches an endpoint"
        )?;
    }
    if service.affinity {
        writeln!(
            out,
            "         shares are for clients without affinity; returning clients keep their endpoint"
        )?;
    }
    writeln!(out, "         {}", quantisation.note())
}

/// One line of `services` JSON.
#[derive(Debug, Serialize)]
pub struct ServiceLineJson {
    /// The service's name.
    pub service: String,
    /// Its table.
    pub table: String,
    /// `IP:PORT` of its cluster IP, or what is known.
    pub address: String,
    /// `tcp`, `udp`... or null.
    pub protocol: Option<String>,
    /// Number of endpoints.
    pub endpoints: usize,
    /// Uniform spread (null when not judged).
    pub uniform: Option<bool>,
    /// Share of new connections reaching no endpoint.
    pub fallthrough: f64,
}

/// Run `services`.
pub fn list(args: &ServicesArgs) -> std::io::Result<ExitStatus> {
    if args.file.is_none()
        && let Some(refusal) = crate::source::terminal_stdin_refusal("services")
    {
        eprintln!("iptlint: {refusal}");
        return Ok(ExitStatus::Error);
    }
    let source = match read(args.file.as_deref()) {
        Ok(source) => source,
        Err(status) => return Ok(status),
    };
    let parsed = build_source(&source);
    if parsed.has_syntax_errors() {
        report_syntax_errors(&source, &parsed.diagnostics);
        return Ok(ExitStatus::Error);
    }
    let graph = DumpGraph::build(&parsed.dump);
    let lines = service_lines(&source.text, &parsed.dump, &graph);
    // Left to the exit, as in `explain`.
    std::mem::forget(graph);
    std::mem::forget(parsed);
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &serde_json::json!({ "services": lines }))?;
            writeln!(out)?;
        }
        Format::Human => write_service_lines(&mut out, &lines)?,
    }
    Ok(ExitStatus::Clean)
}

/// Every service of a dump, with endpoint-less (rejected) ones after.
pub fn service_lines(src: &str, dump: &Dump<'_>, graph: &DumpGraph) -> Vec<ServiceLineJson> {
    let all = services(src, dump, graph);
    let quantisations: Vec<Quantisation> = dump.tables.iter().map(Quantisation::of).collect();
    let mut lines: Vec<ServiceLineJson> = all
        .iter()
        .map(|service| {
            let quantisation = &quantisations[service.table_index];
            ServiceLineJson {
                service: service.name.clone(),
                table: service.table.clone(),
                address: service.address(),
                protocol: service.protocol.map(|p| p.name().to_string()),
                endpoints: service.endpoints.len(),
                uniform: service.spread(quantisation.tolerance).map(|s| s.uniform),
                fallthrough: service.fallthrough,
            }
        })
        .collect();
    for rejected in rejected_services(dump) {
        if all.iter().any(|s| s.name == rejected.name) {
            continue;
        }
        let first = &rejected.rules[0];
        let mut address = first.address();
        let protocol = first.protocol.map(|p| p.name().to_string());
        if let Some(protocol) = &protocol {
            address = address
                .trim_end_matches(&format!("/{protocol}"))
                .to_string();
        }
        lines.push(ServiceLineJson {
            service: rejected.name.clone(),
            table: rejected.table.clone(),
            address,
            protocol,
            endpoints: 0,
            uniform: None,
            fallthrough: 1.0,
        });
    }
    lines
}

fn write_service_lines(out: &mut dyn Write, lines: &[ServiceLineJson]) -> std::io::Result<()> {
    if lines.is_empty() {
        return writeln!(out, "no kube-proxy services in this dump");
    }
    let name_width = lines
        .iter()
        .map(|l| l.service.len())
        .max()
        .unwrap_or(0)
        .max("SERVICE".len());
    let address_width = lines
        .iter()
        .map(|l| l.address.len())
        .max()
        .unwrap_or(0)
        .max("ADDRESS".len());
    writeln!(
        out,
        "{:<name_width$}  {:<address_width$}  {:<5}  {:>9}  {:<11}  LEAK",
        "SERVICE", "ADDRESS", "PROTO", "ENDPOINTS", "SPREAD"
    )?;
    for line in lines {
        let spread = match (line.uniform, line.endpoints) {
            (_, 0) => "-",
            (Some(true), _) => "uniform",
            (Some(false), _) => "NON-UNIFORM",
            (None, _) => "unresolved",
        };
        let leak = if line.endpoints == 0 {
            if line.table == "nat" {
                "no endpoint".to_string()
            } else {
                "rejected (no endpoints)".to_string()
            }
        } else if line.fallthrough > EPSILON {
            percent(line.fallthrough)
        } else {
            "none".to_string()
        };
        writeln!(
            out,
            "{:<name_width$}  {:<address_width$}  {:<5}  {:>9}  {:<11}  {leak}",
            line.service,
            line.address,
            line.protocol.as_deref().unwrap_or("-"),
            line.endpoints,
            spread
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::generate::{GenConfig, Style, generate};

    /// Explain every service of `src`, by every name it answers to, from
    /// the lines it needs and from the whole dump, and require the same
    /// output whenever the needed lines settle it. Returns how many did.
    fn explain_as_the_whole_dump(name: &str, src: &str) -> usize {
        let whole = build(src);
        if whole.has_syntax_errors() {
            return 0;
        }
        let mut queries: Vec<String> = Vec::new();
        for sketch in sketches(&whole.dump) {
            queries.push(sketch.name.clone());
            queries.extend(
                sketch
                    .name
                    .rsplit_once(':')
                    .map(|(short, _)| short.to_string()),
            );
            queries.extend(sketch.chain_names.iter().cloned());
            for (address, port) in &sketch.addresses {
                queries.push(address.to_string());
                queries.extend(port.map(|port| format!("{address}:{port}")));
            }
        }
        queries.extend(rejected_services(&whole.dump).into_iter().map(|r| r.name));
        queries.push("no/such-service:none".to_string());
        // A typo: the closest names.
        queries.extend(queries.first().map(|name| format!("{name}x")));
        // `explanation(.., Reading::WholeDump)` without building the model
        // again for every query.
        let mut settled = 0;
        for query in queries {
            for format in [Format::Human, Format::Json] {
                let needed = explanation(&query, src, format, Reading::NeededLines).unwrap();
                let Some(needed) = needed else { continue };
                let (mut out, mut err) = (Vec::new(), Vec::new());
                let status =
                    explain_parsed(&query, format, src, &whole.dump, None, &mut out, &mut err);
                let expected = Explained {
                    status: status.unwrap().expect("settled by the whole dump"),
                    out: String::from_utf8_lossy(&out).into_owned(),
                    err: String::from_utf8_lossy(&err).into_owned(),
                };
                assert_eq!(needed, expected, "{name}: {query} ({format:?})");
                settled += 1;
            }
        }
        settled
    }

    #[test]
    fn the_lines_a_service_needs_explain_it_as_the_whole_dump() {
        let mut settled = 0;
        for (seed, style) in [
            (1, Style::Modern),
            (2, Style::Legacy),
            (3, Style::NoComments),
        ] {
            let config = GenConfig {
                services: 60,
                seed,
                style,
                nodeport_fraction: 0.3,
                external_ip_fraction: 0.2,
                load_balancer_fraction: 0.2,
                local_policy_fraction: 0.5,
                zero_endpoint_fraction: 0.1,
                counters: (seed == 2).then_some(10_000),
                ..GenConfig::default()
            };
            let dump = generate(&config).text;
            let found = explain_as_the_whole_dump(&format!("generated {style:?}"), &dump);
            // Every service, by every name, in both formats, except names
            // shared by several services (those need the whole dump).
            assert!(
                found > 60 * 2 * 3,
                "{style:?}: only {found} settled from the lines needed"
            );
            settled += found;
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut dumps = vec![root.join("fixtures/my-ngx-deploy.rules")];
        // fixtures/explain: dumps the explain fuzz target found a difference in.
        for folder in ["fixtures/lb", "fixtures/explain", "../shared/corpus"] {
            // The corpus of real dumps is beside the checkout, when it is.
            if let Ok(entries) = std::fs::read_dir(root.join(folder)) {
                dumps.extend(entries.map(|entry| entry.unwrap().path()));
            }
        }
        for path in dumps {
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            settled += explain_as_the_whole_dump(&path.display().to_string(), &text);
        }
        assert!(settled > 1000, "{settled}");
    }
}
