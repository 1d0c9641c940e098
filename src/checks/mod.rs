//! Checks over the model and the jump graph.
//!
//! One file per check. Each check declares its [`CodeInfo`] with
//! [`crate::declare_code!`]; the code's doc comment, in the sections
//! What it does / Why it matters / Example / How to fix, is what
//! `iptlint rule NAME` prints. Register new checks in [`REGISTRY`].

pub mod chain_roles;
pub mod counter_skew;
pub mod duplicate_rule;
pub mod empty_chain;
pub mod hooks;
pub mod invalid_match_for_hook;
pub mod invalid_target_for_table;
pub mod jump_cycle;
pub mod jump_to_builtin_chain;
pub mod legacy_walk;
pub mod non_uniform_spread;
pub mod paths;
pub mod probability_leak;
pub mod service_without_endpoints;
pub mod undefined_target;
pub mod unreferenced_chain;

use std::sync::OnceLock;

use rayon::prelude::*;

use crate::analysis::Analysis;
use crate::analysis::services::{Quantisation, Service, map_services};
use crate::diagnostics::codes::{PARSE_CODES, TOO_MANY_DIAGNOSTICS};
use crate::diagnostics::{CodeInfo, Diagnostic};
use crate::graph::DumpGraph;
use crate::model::{Dump, TableKind};
use crate::syntax::Span;

/// What a check can look at.
pub struct Context<'d, 'a> {
    /// The source text the spans point into.
    pub src: &'a str,
    /// The model.
    pub dump: &'d Dump<'a>,
    /// The jump graphs, one per table of `dump`.
    pub graph: &'d DumpGraph,
    /// Parameters of checks set in the configuration.
    pub options: CheckOptions,
    /// The packet analysis, computed by the first check that asks for it.
    analysis: OnceLock<Analysis>,
    /// What the service-level checks found, likewise.
    service_findings: OnceLock<ServiceFindings>,
}

/// What the checks that judge one kube-proxy service at a time found, in
/// one parallel pass over the services (see [`Context::service_findings`]).
#[derive(Debug, Default)]
pub struct ServiceFindings {
    /// `non-uniform-spread`'s findings, in service order.
    pub non_uniform_spread: Vec<Diagnostic>,
    /// `probability-leak`'s findings, in service order.
    pub probability_leak: Vec<Diagnostic>,
    /// The services whose counters `counter-skew` can test, with the index
    /// of their table and the test; empty when the dump has no counters.
    /// The p-values are adjusted over all of them, so the verdicts wait
    /// until every service is tested.
    pub counter_tests: Vec<(usize, Service, counter_skew::GoodnessOfFit)>,
}

impl<'d, 'a> Context<'d, 'a> {
    /// What the checks look at, with the checks' parameters.
    pub fn new(
        src: &'a str,
        dump: &'d Dump<'a>,
        graph: &'d DumpGraph,
        options: CheckOptions,
    ) -> Self {
        Context {
            src,
            dump,
            graph,
            options,
            analysis: OnceLock::new(),
            service_findings: OnceLock::new(),
        }
    }

    /// Every kube-proxy service of the nat tables analysed once, in
    /// parallel, each looked at by every service-level check and then
    /// dropped: on a 10,000-service dump, keeping the analysed services
    /// for each check to walk took more memory than the dump's text, and
    /// each check analysing them itself took a third of `check`'s time.
    pub fn service_findings(&self) -> &ServiceFindings {
        self.service_findings.get_or_init(|| {
            let quantisations: Vec<Option<Quantisation>> = self
                .dump
                .tables
                .iter()
                .map(|table| (table.kind == TableKind::Nat).then(|| Quantisation::of(table)))
                .collect();
            let with_counters = self.dump.has_counters;
            let per_service = map_services(self.src, self.dump, |table, service| {
                let index = service.table_index;
                let quantisation = quantisations[index]
                    .as_ref()
                    .expect("services are found in nat tables");
                let spread = non_uniform_spread::finding(table, &service, quantisation);
                let leak = probability_leak::finding(table, &service);
                let test = with_counters
                    .then(|| counter_skew::goodness_of_fit(&service))
                    .flatten()
                    .map(|test| (index, service, test));
                (spread, leak, test)
            });
            let mut findings = ServiceFindings::default();
            for (spread, leak, test) in per_service {
                findings.non_uniform_spread.extend(spread);
                findings.probability_leak.extend(leak);
                findings.counter_tests.extend(test);
            }
            findings
        })
    }

    /// What is known about the packets entering each chain and what becomes
    /// of them; computed once, shared by the checks that need it.
    pub fn analysis(&self) -> &Analysis {
        self.analysis
            .get_or_init(|| Analysis::of(self.src, self.dump, self.graph))
    }
}

/// Parameters of checks, from `iptlint.toml`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CheckOptions {
    /// `[counter-skew] significance`: the family-wise significance level of
    /// the `counter-skew` test.
    pub counter_skew_significance: f64,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            counter_skew_significance: counter_skew::DEFAULT_SIGNIFICANCE,
        }
    }
}

/// A check: one diagnostic code and the analysis that finds it.
pub trait Check: Sync {
    /// The code this check reports.
    fn info(&self) -> &'static CodeInfo;
    /// Put this check's findings in `out`.
    fn run(&self, cx: &Context<'_, '_>, out: &mut Findings);
}

/// Findings of one check kept per file; past this many the rest are only
/// counted. Far more than anyone reads (the output shows the first
/// [`crate::lint::MAX_PER_CODE`] of each code), but a dump of a million
/// identical rules would otherwise make a million `duplicate-rule`
/// diagnostics: a gigabyte of memory for a 34 MB file.
pub const MAX_KEPT_PER_CHECK: usize = 10_000;

/// Where a check puts its findings: the first [`MAX_KEPT_PER_CHECK`] are
/// kept, the others counted.
#[derive(Debug, Default)]
pub struct Findings {
    kept: Vec<Diagnostic>,
    omitted: usize,
    first_omitted: Option<Span>,
}

impl Findings {
    /// Keep `diagnostic`, or count it when the check has found enough.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        if self.is_full() {
            self.omit(diagnostic.primary_span());
        } else {
            self.kept.push(diagnostic);
        }
    }

    /// Whether further findings are only counted: a check that finds one
    /// per rule can then call [`Findings::omit`] instead of writing a
    /// diagnostic nobody will see.
    pub fn is_full(&self) -> bool {
        self.kept.len() >= MAX_KEPT_PER_CHECK
    }

    /// Count a finding at `span` without keeping it.
    pub fn omit(&mut self, span: Span) {
        self.omitted += 1;
        self.first_omitted.get_or_insert(span);
    }

    /// Keep clones of `diagnostics`, as [`Findings::push`] would.
    pub fn extend_slice(&mut self, diagnostics: &[Diagnostic]) {
        self.extend(diagnostics.iter().cloned());
    }

    /// The findings kept so far.
    pub fn kept(&self) -> &[Diagnostic] {
        &self.kept
    }

    /// The findings, with a `too-many-diagnostics` note saying how many
    /// more `info`'s check found when it found too many.
    pub fn into_diagnostics(mut self, info: &'static CodeInfo) -> Vec<Diagnostic> {
        if let Some(span) = self.first_omitted {
            self.kept.push(Diagnostic::new(
                &TOO_MANY_DIAGNOSTICS,
                span,
                format!(
                    "{} more `{}` findings were not kept (the first {MAX_KEPT_PER_CHECK} were)",
                    self.omitted, info.name
                ),
            ));
        }
        self.kept
    }
}

impl Extend<Diagnostic> for Findings {
    fn extend<I: IntoIterator<Item = Diagnostic>>(&mut self, diagnostics: I) {
        for diagnostic in diagnostics {
            self.push(diagnostic);
        }
    }
}

mod flow_text;
pub mod missing_terminal;
pub mod shadowed_rule;
pub mod unreachable_rule;

/// Every check, in code order.
pub static REGISTRY: &[&dyn Check] = &[
    &undefined_target::UndefinedTarget,
    &jump_cycle::JumpCycle,
    &unreferenced_chain::UnreferencedChain,
    &invalid_target_for_table::InvalidTargetForTable,
    &invalid_match_for_hook::InvalidMatchForHook,
    &duplicate_rule::DuplicateRule,
    &empty_chain::EmptyChain,
    &jump_to_builtin_chain::JumpToBuiltinChain,
    &non_uniform_spread::NonUniformSpread,
    &probability_leak::ProbabilityLeak,
    &counter_skew::CounterSkew,
    &service_without_endpoints::ServiceWithoutEndpoints,
    &unreachable_rule::UnreachableRule,
    &shadowed_rule::ShadowedRule,
    &missing_terminal::MissingTerminal,
];

/// Every code iptlint can report: parse-level codes, the checks', then the
/// codes of suppressions and configuration.
pub fn all_codes() -> Vec<&'static CodeInfo> {
    PARSE_CODES
        .iter()
        .copied()
        .chain(REGISTRY.iter().map(|check| check.info()))
        .chain(crate::suppress::CODES.iter().copied())
        .chain(crate::config::CODES.iter().copied())
        .collect()
}

/// The code named `name` (kebab-case) or with code `name` (`IPT001`).
pub fn find_code(name: &str) -> Option<&'static CodeInfo> {
    all_codes()
        .into_iter()
        .find(|info| info.name == name || info.code.eq_ignore_ascii_case(name))
}

/// Run every check, in parallel; findings come back in registry order.
pub fn run_all(cx: &Context<'_, '_>) -> Vec<Diagnostic> {
    // The two shared analyses first, side by side: a check that waited for
    // one (in its `OnceLock`) would hold a thread that could be helping.
    rayon::join(|| cx.analysis(), || cx.service_findings());
    REGISTRY
        .par_iter()
        .map(|check| {
            let mut out = Findings::default();
            check.run(cx, &mut out);
            out.into_diagnostics(check.info())
        })
        .collect::<Vec<_>>()
        .into_iter()
        .flatten()
        .collect()
}

/// Helpers for the checks' unit tests.
#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use crate::model::build::build;

    /// The findings of `info`'s check on `src`, in source order. Panics when
    /// `src` does not parse cleanly, so that a test cannot pass on a typo.
    pub fn findings(src: &str, info: &'static CodeInfo) -> Vec<Diagnostic> {
        let parsed = build(src);
        assert!(
            !parsed.has_syntax_errors(),
            "test input does not parse: {:#?}",
            parsed.diagnostics
        );
        let graph = DumpGraph::build(&parsed.dump);
        let cx = Context::new(src, &parsed.dump, &graph, CheckOptions::default());
        let check = REGISTRY
            .iter()
            .find(|check| std::ptr::eq(check.info(), info))
            .expect("a registered check");
        let mut out = Findings::default();
        check.run(&cx, &mut out);
        let mut out = out.into_diagnostics(info);
        out.sort_by_key(|d| d.primary_span().start);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_keeps_its_first_findings_and_counts_the_rest() {
        let mut src = String::from("*filter\n:INPUT ACCEPT [0:0]\n");
        for _ in 0..MAX_KEPT_PER_CHECK + 6 {
            src.push_str("-A INPUT -s 10.0.0.1/32 -j ACCEPT\n");
        }
        src.push_str("COMMIT\n");
        let found = test_support::findings(&src, &duplicate_rule::DUPLICATE_RULE);
        let kept = found
            .iter()
            .filter(|d| std::ptr::eq(d.info, &duplicate_rule::DUPLICATE_RULE))
            .count();
        assert_eq!(kept, MAX_KEPT_PER_CHECK);
        let notes: Vec<&Diagnostic> = found
            .iter()
            .filter(|d| std::ptr::eq(d.info, &TOO_MANY_DIAGNOSTICS))
            .collect();
        assert_eq!(notes.len(), 1, "{notes:#?}");
        assert_eq!(
            notes[0].message,
            "5 more `duplicate-rule` findings were not kept (the first 10000 were)"
        );
        // At the first copy not kept: the rules start on line 3, the first
        // is the original, the next MAX_KEPT_PER_CHECK are kept.
        let line = src[..notes[0].primary_span().start as usize]
            .matches('\n')
            .count()
            + 1;
        assert_eq!(line, 3 + 1 + MAX_KEPT_PER_CHECK);
    }

    #[test]
    fn codes_and_names_are_unique_and_well_formed() {
        let codes = all_codes();
        let mut seen_codes = std::collections::HashSet::new();
        let mut seen_names = std::collections::HashSet::new();
        for info in &codes {
            assert!(seen_codes.insert(info.code), "duplicate code {}", info.code);
            assert!(seen_names.insert(info.name), "duplicate name {}", info.name);
            assert!(
                info.code.len() == 6 && info.code.starts_with("IPT"),
                "{}",
                info.code
            );
            assert!(
                info.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{}",
                info.name
            );
            let doc = info.explanation();
            for section in [
                "## What it does",
                "## Why it matters",
                "## Example",
                "## How to fix",
            ] {
                assert!(doc.contains(section), "{} lacks {section}", info.name);
            }
        }
    }
}
