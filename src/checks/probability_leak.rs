//! `probability-leak`: part of a service's traffic reaches no endpoint.

use crate::analysis::probability::Outcome;
use crate::analysis::services::{EPSILON, Service};
use crate::checks::{Check, Context, Findings};
use crate::declare_code;
use crate::diagnostics::{CodeInfo, Diagnostic, Severity};
use crate::model::Table;
use crate::model::matches::MatchKind;

declare_code! {
    /// ## What it does
    /// Computes, for every kube-proxy service in the nat table, the exact
    /// share of new connections that reach none of its endpoints: the last
    /// load-balancing rule is conditional (it has a `--probability`), an
    /// endpoint chain falls through, or a rule on the way ends evaluation
    /// with another verdict. A warning, or an error when more than 1% of
    /// the traffic is lost.
    ///
    /// ## Why it matters
    /// A connection that falls off the service chain goes on through
    /// `KUBE-SERVICES` un-NATed, towards the cluster IP itself, which no
    /// host answers: the client sees a timeout for that share of its
    /// connections.
    ///
    /// ## Example
    /// ```text
    /// -A KUBE-SVC-X -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-A
    /// -A KUBE-SVC-X -m statistic --mode random --probability 0.9000000000 -j KUBE-SEP-B
    /// ```
    /// 5% of new connections reach no endpoint.
    ///
    /// ## How to fix
    /// Make the last load-balancing rule unconditional (kube-proxy never
    /// writes a probability on it), and give every `KUBE-SEP-*` chain its
    /// DNAT rule; or let kube-proxy rewrite the chains.
    pub static PROBABILITY_LEAK = ("IPT202", "probability-leak", Warning, "part of a service's new connections reaches no endpoint");
}

/// Above this share of lost traffic a leak is an error.
pub const ERROR_SHARE: f64 = 0.01;

/// The `probability-leak` check.
pub struct ProbabilityLeak;

impl Check for ProbabilityLeak {
    fn info(&self) -> &'static CodeInfo {
        &PROBABILITY_LEAK
    }

    fn run(&self, cx: &Context<'_, '_>, out: &mut Findings) {
        out.extend_slice(&cx.service_findings().probability_leak);
    }
}

/// The finding on one service, if traffic reaches none of its endpoints.
pub(crate) fn finding(table: &Table<'_>, service: &Service) -> Option<Diagnostic> {
    let main = service.chain?;
    if service.endpoints.is_empty()
        || service.unresolved > EPSILON
        || service.fallthrough <= EPSILON
    {
        return None;
    }
    let case = service.headline_case()?;
    let chain = &table.chains[main];
    let last = chain.rules.last()?;
    let leaked = service.fallthrough;
    let message = format!(
        "service `{}`: {} of new connections reach no endpoint",
        service.name,
        percent(leaked)
    );
    let falls_off = case.distribution.probability(&Outcome::Return);
    // Point at what makes the last rule conditional, when it is a statistic match.
    let span = last
        .matches
        .iter()
        .find(|m| matches!(m.kind, MatchKind::Statistic(_)))
        .map_or(last.target_span(), |m| m.span);
    let mut diagnostic = Diagnostic::new(&PROBABILITY_LEAK, span, message)
        .in_table(&service.table, Some(&chain.name));
    diagnostic = if falls_off > EPSILON {
        diagnostic.with_primary_message(format!(
            "{} fall off the end of {} after this rule",
            percent(falls_off),
            chain.name
        ))
    } else {
        diagnostic.with_primary_message(format!("the last rule of {}", chain.name))
    };
    for (outcome, share) in case.distribution.iter() {
        if let Outcome::Verdict { chain, rule } = outcome
            && share > EPSILON
        {
            let rule = &table.chains[chain].rules[rule];
            let target = rule.target.as_ref().map_or("", |t| t.name.as_ref());
            diagnostic = diagnostic.with_secondary(
                rule.target_span(),
                format!("{} end here with {target}", percent(share)),
            );
        }
    }
    if leaked > ERROR_SHARE {
        diagnostic = diagnostic.with_severity(Severity::Error);
    }
    if falls_off > EPSILON {
        diagnostic = diagnostic.with_note(
            "a connection that falls off the service chain goes on un-NATed towards the service address, which no host answers",
        );
    }
    Some(diagnostic.with_note(format!(
        "kube-proxy makes the last rule of {} unconditional so that every new connection reaches an endpoint",
        chain.name
    )))
}

fn percent(share: f64) -> String {
    if share >= 0.001 {
        format!("{:.2}%", share * 100.0)
    } else {
        format!("{:.3e}%", share * 100.0)
    }
}
