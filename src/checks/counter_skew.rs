//! `counter-skew`: the counters of a `-c` dump do not fit a service's shares.

use statrs::distribution::{ChiSquared, ContinuousCDF};

use crate::analysis::services::{EPSILON, Endpoint, Service};
use crate::checks::{Check, Context, Findings};
use crate::declare_code;
use crate::diagnostics::{CodeInfo, Diagnostic};
use crate::model::Table;
use crate::syntax::Span;

declare_code! {
    /// ## What it does
    /// In a dump saved with counters (`iptables-save -c`), compares the
    /// number of new connections each endpoint of a service received (the
    /// packet counter of its load-balancing rule, or of its DNAT rule) with
    /// the share the rules give it, with a chi-square goodness-of-fit test.
    /// Only services where every endpoint expects at least 5 connections are
    /// tested, and the p-values are corrected for testing many services at
    /// once (Holm-Bonferroni); a service is reported when its corrected
    /// p-value is below the significance level (0.001 unless configured).
    ///
    /// ## Why it matters
    /// Rules that look right but counters that do not fit them mean the
    /// kernel spread traffic differently from what the dump says: a chain
    /// rewritten since the counters started (a kube-proxy resync, a scale-up),
    /// counters zeroed in part, or rules edited by hand and reverted.
    ///
    /// ## Example
    /// ```text
    /// [2000:120000] -A KUBE-SVC-X -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-A
    /// [1000:60000] -A KUBE-SVC-X -j KUBE-SEP-B
    /// ```
    /// Endpoint A got 2000 connections where 1500 were expected.
    ///
    /// ## How to fix
    /// Zero the counters (`iptables -t nat -Z`), collect traffic again and
    /// re-check; if the skew stays, find what rewrites the service chain.
    pub static COUNTER_SKEW = ("IPT203", "counter-skew", Warning, "a service's counters do not fit its endpoint shares");
}

/// The significance level unless configured (`[counter-skew] significance`
/// in `iptlint.toml`).
pub const DEFAULT_SIGNIFICANCE: f64 = 0.001;

/// The least expected count per endpoint for the chi-square test to hold.
pub const MIN_EXPECTED: f64 = 5.0;

/// The `counter-skew` check, at the significance level of
/// [`CheckOptions::counter_skew_significance`](crate::checks::CheckOptions).
pub struct CounterSkew;

impl Check for CounterSkew {
    fn info(&self) -> &'static CodeInfo {
        &COUNTER_SKEW
    }

    fn run(&self, cx: &Context<'_, '_>, out: &mut Findings) {
        out.extend(findings(cx, cx.options.counter_skew_significance));
    }
}

/// Which counters a test used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterSource {
    /// The main chain's jump towards each endpoint.
    Jump,
    /// Each endpoint's DNAT rule.
    Dnat,
}

/// A chi-square goodness-of-fit test of one service's counters.
#[derive(Debug, Clone)]
pub struct GoodnessOfFit {
    /// Indexes (in the service's endpoints) of the endpoints tested.
    pub endpoints: Vec<usize>,
    /// Observed new connections per tested endpoint.
    pub observed: Vec<u64>,
    /// Expected new connections per tested endpoint.
    pub expected: Vec<f64>,
    /// The chi-square statistic.
    pub statistic: f64,
    /// Degrees of freedom.
    pub degrees: usize,
    /// Probability of a statistic at least this large if the counters
    /// follow the shares.
    pub p_value: f64,
    /// Which counters.
    pub source: CounterSource,
}

/// The counter of `endpoint` from `source`.
fn counter(endpoint: &Endpoint, source: CounterSource) -> Option<u64> {
    match source {
        CounterSource::Jump => endpoint.jump_packets,
        CounterSource::Dnat => endpoint.dnat_packets,
    }
}

/// Test a service's counters against its shares. `None` when there is
/// nothing to test: no counters, fewer than two endpoints with a share,
/// unresolved traffic, too little traffic for the test to hold, or session
/// affinity without per-rule counters.
pub fn goodness_of_fit(service: &Service) -> Option<GoodnessOfFit> {
    if service.unresolved > EPSILON {
        return None;
    }
    let tested: Vec<usize> = (0..service.endpoints.len())
        .filter(|&i| service.endpoints[i].probability > EPSILON)
        .collect();
    if tested.len() < 2 {
        return None;
    }
    let all_have = |source| {
        tested
            .iter()
            .all(|&i| counter(&service.endpoints[i], source).is_some())
    };
    // Affinity sends returning clients to their endpoint through other
    // rules: only the load-balancing rules' own counters follow the shares.
    let source = if all_have(CounterSource::Jump) {
        CounterSource::Jump
    } else if !service.affinity && all_have(CounterSource::Dnat) {
        CounterSource::Dnat
    } else {
        return None;
    };
    let observed: Vec<u64> = tested
        .iter()
        .map(|&i| counter(&service.endpoints[i], source).unwrap_or(0))
        .collect();
    let shares: Vec<f64> = tested
        .iter()
        .map(|&i| service.endpoints[i].probability)
        .collect();
    let total_share: f64 = shares.iter().sum();
    let total: u64 = observed.iter().sum();
    let expected: Vec<f64> = shares
        .iter()
        .map(|share| total as f64 * share / total_share)
        .collect();
    if expected.iter().any(|&e| e < MIN_EXPECTED) {
        return None;
    }
    let (statistic, degrees, p_value) = chi_square(&observed, &expected)?;
    Some(GoodnessOfFit {
        endpoints: tested,
        observed,
        expected,
        statistic,
        degrees,
        p_value,
        source,
    })
}

/// Pearson's chi-square statistic of `observed` against `expected`, its
/// degrees of freedom and its p-value.
pub fn chi_square(observed: &[u64], expected: &[f64]) -> Option<(f64, usize, f64)> {
    if observed.len() != expected.len() || observed.len() < 2 {
        return None;
    }
    let statistic: f64 = observed
        .iter()
        .zip(expected)
        .map(|(&o, &e)| (o as f64 - e).powi(2) / e)
        .sum();
    let degrees = observed.len() - 1;
    let distribution = ChiSquared::new(degrees as f64).ok()?;
    Some((statistic, degrees, distribution.sf(statistic)))
}

/// Holm-Bonferroni adjusted p-values, in the order given: a test is
/// rejected at family-wise level `alpha` when its adjusted p-value is at
/// most `alpha`.
pub fn holm_adjusted(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let mut adjusted = vec![0.0; m];
    let mut running: f64 = 0.0;
    for (rank, &index) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p_values[index]).min(1.0));
        adjusted[index] = running;
    }
    adjusted
}

/// Every `counter-skew` finding of a dump at family-wise level `significance`.
pub fn findings(cx: &Context<'_, '_>, significance: f64) -> Vec<Diagnostic> {
    let tests = &cx.service_findings().counter_tests;
    let p_values: Vec<f64> = tests.iter().map(|(_, _, test)| test.p_value).collect();
    let adjusted = holm_adjusted(&p_values);
    let count = tests.len();
    tests
        .iter()
        .zip(adjusted)
        .filter(|(_, adjusted)| *adjusted <= significance)
        .map(|((table, service, test), adjusted)| {
            diagnostic(
                &cx.dump.tables[*table],
                service,
                test,
                adjusted,
                count,
                significance,
            )
        })
        .collect()
}

fn diagnostic(
    table: &Table<'_>,
    service: &Service,
    test: &GoodnessOfFit,
    adjusted: f64,
    count: usize,
    significance: f64,
) -> Diagnostic {
    let residual =
        |k: usize| (test.observed[k] as f64 - test.expected[k]) / test.expected[k].sqrt();
    let by_residual = |a: &usize, b: &usize| residual(*a).total_cmp(&residual(*b));
    let over = (0..test.observed.len())
        .max_by(by_residual)
        .expect("two endpoints");
    let under = (0..test.observed.len())
        .min_by(by_residual)
        .expect("two endpoints");
    let describe = |k: usize| {
        let endpoint = &service.endpoints[test.endpoints[k]];
        format!(
            "{} got {} vs {:.0} expected",
            endpoint.destination_text(),
            test.observed[k],
            test.expected[k]
        )
    };
    let message = format!(
        "service `{}`: counters do not fit the endpoint shares (chi-square p {}): {}; {}",
        service.name,
        format_p(test.p_value),
        describe(over),
        describe(under)
    );
    // The first endpoint among the furthest off: with two endpoints, both
    // are equally far, and the first is the one whose rule decides.
    let mut worst = 0;
    for k in 1..test.observed.len() {
        if residual(k).abs() > residual(worst).abs() * (1.0 + 1e-12) {
            worst = k;
        }
    }
    let (span, chain) = counted_rule(
        table,
        &service.endpoints[test.endpoints[worst]],
        test.source,
    );
    let kind = match test.source {
        CounterSource::Jump => "load-balancing rules",
        CounterSource::Dnat => "DNAT rules",
    };
    Diagnostic::new(&COUNTER_SKEW, span, message)
        .with_primary_message(format!(
            "counted {}, expected {:.0} of {} new connections",
            test.observed[worst],
            test.expected[worst],
            test.observed.iter().sum::<u64>()
        ))
        .in_table(&service.table, Some(&chain))
        .with_note(format!(
            "chi-square = {:.1} with {} degree{} of freedom over the packet counters of the {kind}; Holm-Bonferroni adjusted p {} over {count} tested service{}, significance level {significance}",
            test.statistic,
            test.degrees,
            if test.degrees == 1 { "" } else { "s" },
            format_p(adjusted),
            if count == 1 { "" } else { "s" }
        ))
        .with_note(
            "the nat table sees only the first packet of each connection, so its counters count new connections",
        )
}

/// `= 3.20e-5`, or `< 1e-300` when the p-value underflows.
fn format_p(p: f64) -> String {
    if p < 1e-300 {
        "< 1e-300".to_string()
    } else {
        format!("= {p:.2e}")
    }
}

/// The counters' span (or the rule's target) of the rule counted for `endpoint`.
fn counted_rule(table: &Table<'_>, endpoint: &Endpoint, source: CounterSource) -> (Span, String) {
    let (chain, rule) = match (source, endpoint.jump()) {
        (CounterSource::Jump, Some(jump)) => (jump.chain, jump.rule),
        _ => (endpoint.chain, endpoint.rule),
    };
    let rule_ref = &table.chains[chain].rules[rule];
    let span = rule_ref
        .counters
        .map_or(rule_ref.target_span(), |counters| counters.span);
    (span, table.chains[chain].name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chi_square_against_known_values() {
        // A fair die rolled 60 times: statistic 0, p = 1.
        let (statistic, degrees, p) = chi_square(&[10; 6], &[10.0; 6]).unwrap();
        assert_eq!((statistic, degrees), (0.0, 5));
        assert!((p - 1.0).abs() < 1e-12);
        // Statistic 11.07 with 5 degrees of freedom is the 95% quantile.
        let observed = [5, 10, 10, 10, 10, 15];
        let (statistic, _, p) = chi_square(&observed, &[10.0; 6]).unwrap();
        assert!((statistic - 5.0).abs() < 1e-12);
        assert!((p - 0.4158801869955079).abs() < 1e-9, "{p}");
    }

    #[test]
    fn holm_steps_down() {
        let adjusted = holm_adjusted(&[0.01, 0.04, 0.03, 0.005]);
        // Sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 -> max 0.06.
        let expected = [0.03, 0.06, 0.06, 0.02];
        for (got, want) in adjusted.iter().zip(expected) {
            assert!((got - want).abs() < 1e-12, "{adjusted:?}");
        }
    }
}
