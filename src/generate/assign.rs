//! Chooses which service port each requested defect is injected into.

use std::net::Ipv4Addr;

use fastrand::Rng;

use super::Defect;
use super::plan::{Allocator, PortPlan, ensure_endpoints};

/// A defect bound to the service port it is injected into.
#[derive(Clone, Debug)]
pub(crate) struct Assignment {
    pub(crate) defect: Defect,
    pub(crate) port: usize,
    /// ShadowedRule: the other service port whose chain the shadowing rule
    /// jumps to.
    pub(crate) partner: Option<usize>,
    /// UnreferencedChain: the address of the stale endpoint.
    pub(crate) stale_ip: Option<Ipv4Addr>,
}

/// Endpoints a service port needs for the defect to be expressible.
fn min_endpoints(defect: Defect) -> usize {
    match defect {
        Defect::UnreferencedChain | Defect::JumpCycle { reachable: false } => 0,
        // With a single endpoint the extra rule would duplicate the only
        // (unconditional) rule, and a spread or skew needs two endpoints.
        Defect::UnreachableRule | Defect::NonUniformSpread { .. } | Defect::CounterSkew { .. } => 2,
        _ => 1,
    }
}

/// Binds each defect to a distinct service port, preferring ports that
/// already fit and otherwise giving the chosen port enough endpoints.
///
/// # Panics
/// If there are fewer service ports than defects, or a ShadowedRule has no
/// second service port of the same protocol with endpoints to point at.
pub(crate) fn assign(
    defects: &[Defect],
    ports: &mut [PortPlan],
    alloc: &mut Allocator,
    rng: &mut Rng,
) -> Vec<Assignment> {
    assert!(
        defects.len() <= ports.len(),
        "{} defects need at least as many service ports, the plan has {}",
        defects.len(),
        ports.len()
    );
    let mut used = vec![false; ports.len()];
    let mut assignments = Vec::with_capacity(defects.len());
    for &defect in defects {
        let needed = min_endpoints(defect);
        // A shadowing rule only shadows when the partner's chain DNATs the
        // packets it receives: its endpoints must speak the same protocol
        // (a udp packet sent to a tcp service's chain comes back un-DNAT-ed
        // and still reaches the port's own rule).
        let partners = |ports: &[PortPlan], i: usize| -> Vec<usize> {
            (0..ports.len())
                .filter(|&j| {
                    j != i
                        && ports[j].protocol == ports[i].protocol
                        && !ports[j].endpoints.is_empty()
                })
                .collect()
        };
        let shadowable =
            |i: usize| !matches!(defect, Defect::ShadowedRule) || !partners(ports, i).is_empty();
        let fitting: Vec<usize> = (0..ports.len())
            .filter(|&i| !used[i] && ports[i].endpoints.len() >= needed && shadowable(i))
            .collect();
        let port = if fitting.is_empty() {
            let free: Vec<usize> = (0..ports.len())
                .filter(|&i| !used[i] && shadowable(i))
                .collect();
            assert!(
                !free.is_empty(),
                "{defect:?}: no free service port can take it"
            );
            let port = free[rng.usize(..free.len())];
            ensure_endpoints(&mut ports[port], needed, alloc, rng);
            port
        } else {
            fitting[rng.usize(..fitting.len())]
        };
        used[port] = true;

        let partner = matches!(defect, Defect::ShadowedRule).then(|| {
            let candidates = partners(ports, port);
            assert!(
                !candidates.is_empty(),
                "ShadowedRule needs a second service port of the same protocol with endpoints"
            );
            candidates[rng.usize(..candidates.len())]
        });
        let stale_ip = matches!(defect, Defect::UnreferencedChain).then(|| alloc.pod_ip(rng));
        assignments.push(Assignment {
            defect,
            port,
            partner,
            stale_ip,
        });
    }
    assignments
}
