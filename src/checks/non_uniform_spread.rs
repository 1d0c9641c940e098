//! `non-uniform-spread`: a service's endpoints do not get equal shares.

use crate::analysis::services::{Quantisation, Service, services_in_table};
use crate::checks::{Check, Context};
use crate::declare_code;
use crate::diagnostics::{CodeInfo, Diagnostic};
use crate::model::matches::MatchKind;
use crate::model::{Table, TableKind};

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

    fn run(&self, cx: &Context<'_, '_>, out: &mut Vec<Diagnostic>) {
        for (index, table) in cx.dump.tables.iter().enumerate() {
            if table.kind != TableKind::Nat {
                continue;
            }
            let quantisation = Quantisation::of(table);
            for service in services_in_table(cx.src, table, index) {
                if let Some(diagnostic) = finding(table, &service, &quantisation) {
                    out.push(diagnostic);
                }
            }
        }
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

fn finding(
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
    let (span, chain) = match worst.jump() {
        Some(jump) => {
            let rule = &table.chains[jump.chain].rules[jump.rule];
            let statistic = rule
                .matches
                .iter()
                .find(|m| matches!(m.kind, MatchKind::Statistic(_)))
                .map_or(rule.target_span(), |m| m.span);
            (statistic, table.chains[jump.chain].name.to_string())
        }
        None => (worst.span, worst.chain_name.clone()),
    };
    let mut diagnostic = Diagnostic::new(&NON_UNIFORM_SPREAD, span, message)
        .with_primary_message(format!(
            "{} gets {:.*}% of new connections",
            worst.destination_text(),
            decimals,
            worst.probability * 100.0
        ))
        .in_table(&service.table, Some(&chain));
    let n = service.endpoints.len();
    if let Some(position) = worst.jump().map(|_| spread.worst).filter(|&i| i + 1 < n) {
        diagnostic = diagnostic.with_note(format!(
            "kube-proxy gives endpoint {} of {n} `--probability {:.10}` (1/{}) so that each gets 1/{n}",
            position + 1,
            1.0 / (n - position) as f64,
            n - position
        ));
    }
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
