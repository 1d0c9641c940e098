//! `non-uniform-spread`: a service's endpoints do not get equal shares.

use crate::analysis::services::{Quantisation, Service};
use crate::checks::{Check, Context, Findings};
use crate::declare_code;
use crate::diagnostics::{CodeInfo, Diagnostic};
use crate::model::Table;
use crate::model::matches::{MatchKind, StatisticMatch};
use crate::syntax::Span;

declare_code! {
    /// ## What it does
    /// Computes, for every kube-proxy service in the nat table, the exact
    /// share of new connections each endpoint receives (following the
    /// `-m statistic` rules in order, with the probability the kernel really
    /// applies, `round(P * 2^31) / 2^31`), and reports a service whose
    /// endpoints do not each get `1/n` of its traffic, within what the
    /// rounding of the written probabilities explains: about 1e-9 for
    /// kube-proxy 1.17 and later (`%0.10f`), about 1e-5 before (`%0.5f`).
    ///
    /// ## Why it matters
    /// kube-proxy gives endpoint `i` of `n` the probability `1/(n-i)` so that
    /// every endpoint gets the same share. A hand-edited or corrupted chain
    /// silently overloads some pods and starves others.
    ///
    /// ## Example
    /// ```text
    /// -A KUBE-SVC-X -m statistic --mode random --probability 0.3000000000 -j KUBE-SEP-A
    /// -A KUBE-SVC-X -m statistic --mode random --probability 0.2500000000 -j KUBE-SEP-B
    /// -A KUBE-SVC-X -m statistic --mode random --probability 0.3333333333 -j KUBE-SEP-C
    /// -A KUBE-SVC-X -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-D
    /// -A KUBE-SVC-X -j KUBE-SEP-E
    /// ```
    /// Endpoints get 30.0%, 17.5%, 17.5%, 17.5%, 17.5% instead of 20% each.
    ///
    /// ## How to fix
    /// Let kube-proxy rewrite the chain (restart it or touch the service), or
    /// give endpoint `i` of `n` the probability `1/(n-i)` and leave the last
    /// rule unconditional. `iptlint explain SERVICE` shows every share.
    pub static NON_UNIFORM_SPREAD = ("IPT201", "non-uniform-spread", Warning, "a service's endpoints do not get equal shares of its new connections");
}

/// The `non-uniform-spread` check.
pub struct NonUniformSpread;

impl Check for NonUniformSpread {
    fn info(&self) -> &'static CodeInfo {
        &NON_UNIFORM_SPREAD
    }

    fn run(&self, cx: &Context<'_, '_>, out: &mut Findings) {
        out.extend_slice(&cx.service_findings().non_uniform_spread);
    }
}

/// Percentages with just enough decimals (at least one) to tell `value`
/// apart from `expected`.
pub fn percent_precision(value: f64, expected: f64) -> usize {
    (1..=10)
        .find(|&decimals| {
            format!("{:.*}", decimals, value * 100.0)
                != format!("{:.*}", decimals, expected * 100.0)
        })
        .unwrap_or(10)
}

/// `30.0%, 17.5%, ...`: at most `limit` shares, then how many more.
pub fn format_shares(shares: &[f64], decimals: usize, limit: usize) -> String {
    let mut parts: Vec<String> = shares
        .iter()
        .take(limit)
        .map(|share| format!("{:.*}%", decimals, share * 100.0))
        .collect();
    if shares.len() > limit {
        parts.push(format!("and {} more", shares.len() - limit));
    }
    parts.join(", ")
}

/// A load-balancing rule whose own probability is off kube-proxy's 1/(n-i).
struct WrongRule {
    /// Index of the endpoint it jumps to.
    endpoint: usize,
    /// Its statistic match (or its target when it has none).
    span: Span,
    /// The probability it matches with.
    probability: f64,
}

/// In kube-proxy's layout (endpoint i reached by rule i of the main chain,
/// nothing else conditional), the first rule whose probability is not
/// 1/(n-i) within `tolerance`.
fn first_wrong_rule(table: &Table<'_>, service: &Service, tolerance: f64) -> Option<WrongRule> {
    let n = service.endpoints.len();
    let main = service.chain?;
    let mut previous = None;
    for (index, endpoint) in service.endpoints.iter().enumerate() {
        let jump = endpoint.jump().filter(|jump| jump.chain == main)?;
        if previous.is_some_and(|rule| rule >= jump.rule) {
            return None;
        }
        previous = Some(jump.rule);
        let rule = &table.chains[main].rules[jump.rule];
        let (probability, span) = rule
            .matches
            .iter()
            .find_map(|m| match &m.kind {
                MatchKind::Statistic(StatisticMatch::Random(p)) => {
                    let q = p.value.effective();
                    Some((if p.negated { 1.0 - q } else { q }, m.span))
                }
                MatchKind::Statistic(StatisticMatch::Nth { every, negated, .. }) => {
                    let q = 1.0 / f64::from(*every);
                    Some((if *negated { 1.0 - q } else { q }, m.span))
                }
                _ => None,
            })
            .unwrap_or((1.0, rule.target_span()));
        if (probability - 1.0 / (n - index) as f64).abs() > tolerance {
            return Some(WrongRule {
                endpoint: index,
                span,
                probability,
            });
        }
    }
    None
}

/// `1/3` when the probability is one over a small number, else a
/// percentage without trailing zeros (`30%`, `25.01%`).
fn fraction(probability: f64) -> String {
    match (1..=1000).find(|&n| (probability * n as f64 - 1.0).abs() < 1e-9 * n as f64) {
        Some(1) => "all".to_string(),
        Some(n) => format!("1/{n}"),
        None => {
            let text = format!("{:.4}", probability * 100.0);
            format!("{}%", text.trim_end_matches('0').trim_end_matches('.'))
        }
    }
}

/// The finding on one service, if its spread is not uniform.
pub(crate) fn finding(
    table: &Table<'_>,
    service: &Service,
    quantisation: &Quantisation,
) -> Option<Diagnostic> {
    let spread = service.spread(quantisation.tolerance)?;
    if spread.uniform {
        return None;
    }
    let worst = &service.endpoints[spread.worst];
    let decimals = percent_precision(worst.probability, spread.expected);
    let shares: Vec<f64> = service.endpoints.iter().map(|e| e.probability).collect();
    let message = format!(
        "service `{}`: endpoints get {} (expected {:.*}% each)",
        service.name,
        format_shares(&shares, decimals, 12),
        decimals,
        spread.expected * 100.0
    );
    let n = service.endpoints.len();
    let mut diagnostic = match first_wrong_rule(table, service, quantisation.tolerance) {
        // The usual case: kube-proxy's layout with one rule off 1/(n-i).
        Some(wrong) => {
            let endpoint = &service.endpoints[wrong.endpoint];
            let remaining = n - wrong.endpoint;
            Diagnostic::new(&NON_UNIFORM_SPREAD, wrong.span, message)
                .with_primary_message(format!(
                    "matches {} of the connections reaching it, so {} gets {:.*}%",
                    fraction(wrong.probability),
                    endpoint.destination_text(),
                    decimals,
                    endpoint.probability * 100.0
                ))
                .with_note(format!(
                    "kube-proxy gives endpoint {} of {n} the probability 1/{remaining} (`--probability {:.*}`) so that each gets 1/{n}",
                    wrong.endpoint + 1,
                    usize::from(quantisation.decimals.unwrap_or(10).clamp(5, 11)),
                    1.0 / remaining as f64
                ))
        }
        None => {
            let span = worst
                .jump()
                .map_or(worst.span, |jump| table.chains[jump.chain].rules[jump.rule].target_span());
            Diagnostic::new(&NON_UNIFORM_SPREAD, span, message).with_primary_message(format!(
                "{} gets {:.*}% of new connections",
                worst.destination_text(),
                decimals,
                worst.probability * 100.0
            ))
        }
    }
    .in_table(&service.table, service.chain_name.as_deref());
    diagnostic = diagnostic.with_note(quantisation.note());
    if service.fallthrough > crate::analysis::services::EPSILON {
        diagnostic = diagnostic.with_note(format!(
            "{:.2}% of new connections reach no endpoint (see `probability-leak`)",
            service.fallthrough * 100.0
        ));
    }
    Some(diagnostic.with_note(format!(
        "`iptlint explain {}` shows the path to every endpoint",
        service.name
    )))
}
