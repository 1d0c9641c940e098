//! `service-without-endpoints`: kube-proxy rejects a service's traffic.

use crate::analysis::services::rejected_services;
use crate::checks::{Check, Context, Findings};
use crate::declare_code;
use crate::diagnostics::{CodeInfo, Diagnostic};

declare_code! {
    /// ## What it does
    /// Notes a service whose traffic kube-proxy rejects because it has no
    /// ready endpoints: the `REJECT` rules commented
    /// `"ns/svc:port has no endpoints"` in the filter table.
    ///
    /// ## Why it matters
    /// Clients of the service get "connection refused" (ICMP port
    /// unreachable). That is kube-proxy working as designed, but often the
    /// first sign of a selector matching no pod or of pods failing their
    /// readiness probe.
    ///
    /// ## Example
    /// ```text
    /// -A KUBE-SERVICES -d 10.96.0.5/32 -p tcp -m comment --comment "default/web:http has no endpoints" -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable
    /// ```
    ///
    /// ## How to fix
    /// Check the service's selector and its pods' readiness
    /// (`kubectl get endpointslices -l kubernetes.io/service-name=NAME`).
    pub static SERVICE_WITHOUT_ENDPOINTS = ("IPT204", "service-without-endpoints", Note, "a service kube-proxy rejects because it has no endpoints");
}

/// The `service-without-endpoints` check.
pub struct ServiceWithoutEndpoints;

impl Check for ServiceWithoutEndpoints {
    fn info(&self) -> &'static CodeInfo {
        &SERVICE_WITHOUT_ENDPOINTS
    }

    fn run(&self, cx: &Context<'_, '_>, out: &mut Findings) {
        for service in rejected_services(cx.dump) {
            // Lead with the cluster-IP rule when there is one.
            let primary = service
                .rules
                .iter()
                .position(|rule| rule.destination.is_some())
                .unwrap_or(0);
            let first = &service.rules[primary];
            let mut diagnostic = Diagnostic::new(
                &SERVICE_WITHOUT_ENDPOINTS,
                first.span,
                format!(
                    "service `{}` has no endpoints: new connections to {} are rejected",
                    service.name,
                    first.address()
                ),
            )
            .with_primary_message("rejected here")
            .in_table(&service.table, Some(&first.chain_name));
            for (index, rule) in service.rules.iter().enumerate() {
                if index == primary {
                    continue;
                }
                diagnostic = diagnostic.with_secondary(
                    rule.span,
                    format!("{} rejected too ({})", rule.address(), rule.chain_name),
                );
            }
            out.push(diagnostic.with_note(
                "kube-proxy writes these rules while no pod behind the service is ready",
            ));
        }
    }
}
