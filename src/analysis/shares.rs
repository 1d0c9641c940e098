//! How much of each service's traffic every rule carries, for labelling
//! the edges of a drawing (`iptlint dot`).

use std::collections::HashMap;

use super::services::{Service, services};
use crate::graph::DumpGraph;
use crate::model::Dump;

/// Per rule of every kube-proxy service's chains: the share of the
/// service's new connections (a client without affinity, entering its main
/// chain) that match it. Rules whose match depends on something the dump
/// does not decide (the source of a masquerade rule) have none.
#[derive(Debug, Clone, Default)]
pub struct ServiceShares {
    shares: HashMap<(usize, usize, usize), f64>,
}

impl ServiceShares {
    /// The shares of every service of `dump`, whose spans point into `src`.
    pub fn new(src: &str, dump: &Dump<'_>, graph: &DumpGraph) -> Self {
        Self::of_services(src, dump, &services(src, dump, graph))
    }

    /// The shares of the given services of `dump`.
    pub fn of_services(src: &str, dump: &Dump<'_>, found: &[Service]) -> Self {
        let mut shares = HashMap::new();
        for service in found {
            let (Some(main), Some(case)) = (service.chain, service.headline_case()) else {
                continue;
            };
            let table = &dump.tables[service.table_index];
            let mut analyzer = super::probability::Analyzer::new(src, table);
            let Some(flows) = analyzer.flows(main, service.packet, &case.conditions) else {
                continue;
            };
            for ((chain, rule), share) in flows.rules {
                // A chain shared by services (none in kube-proxy's layout)
                // keeps the first service's share.
                shares
                    .entry((service.table_index, chain, rule))
                    .or_insert(share);
            }
        }
        ServiceShares { shares }
    }

    /// The share of its service's new connections that rule `rule` of
    /// chain `chain` in table `table` carries, when it has one.
    pub fn of_rule(&self, table: usize, chain: usize, rule: usize) -> Option<f64> {
        self.shares.get(&(table, chain, rule)).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::build::build;

    #[test]
    fn shares_of_the_seed_service() {
        let src = include_str!("../../fixtures/my-ngx-deploy.rules");
        let parsed = build(src);
        let graph = DumpGraph::build(&parsed.dump);
        let shares = ServiceShares::new(src, &parsed.dump, &graph);
        let nat = &parsed.dump.tables[0];
        let svc = nat.chain_index("KUBE-SVC-LNJBOIUQQNHIUUAM").unwrap();
        for rule in 0..5 {
            let share = shares.of_rule(0, svc, rule).unwrap();
            assert!((share - 0.2).abs() < 1e-9, "rule {rule}: {share}");
        }
        // The DNAT rule of an endpoint chain carries that endpoint's share.
        let sep = nat.chain_index("KUBE-SEP-4NSVBZT5YEFFSKVT").unwrap();
        assert!((shares.of_rule(0, sep, 1).unwrap() - 0.2).abs() < 1e-9);
        // The hairpin masquerade rule depends on the source: no share.
        assert_eq!(shares.of_rule(0, sep, 0), None);
    }
}
