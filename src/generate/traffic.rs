//! Simulated traffic for `iptables-save -c` counters.
//!
//! Every service port with endpoints receives the configured number of new
//! connections to its cluster IP from pods (inside the cluster CIDR, so no
//! masquerade rule matches and no affinity entry exists yet). Only the first
//! packet of a connection traverses the nat table, and the model counts only
//! that packet everywhere, so nat and filter counters agree. Each
//! load-balancing rule sees the packets that reach it and matches each with
//! its quantised probability, exactly as the kernel does; packets that fall
//! through a service chain are not DNATed and reach PREROUTING's policy.

use fastrand::Rng;

use super::Defect;
use super::assign::Assignment;
use super::emit::{Anchor, Emitted, TableKind};

/// Counters written for each port's endpoints (the load-balancing rule and its
/// DNAT rule carry the same count).
pub(crate) struct Observed {
    pub(crate) per_port: Vec<Vec<u64>>,
}

/// Simulates `connections` new connections per service port and writes the
/// counters into the tables. Each port's traffic has its own random stream
/// derived from `seed`, so a defect in one service leaves the counters of the
/// others unchanged.
pub(crate) fn simulate(
    emitted: &mut Emitted,
    assignments: &[Assignment],
    connections: u64,
    seed: u64,
) -> Observed {
    let mut per_port: Vec<Vec<u64>> = emitted
        .ports
        .iter()
        .map(|p| vec![0; p.endpoints.len()])
        .collect();
    let mut leftover = vec![0u64; emitted.ports.len()];
    let mut total = 0u64;

    for (source, left) in leftover.iter_mut().enumerate() {
        let record = &emitted.ports[source];
        if record.svc_declared.is_none() {
            continue;
        }
        total += connections;
        // A shadowing rule catches the port's traffic before its own rule.
        let (entry_rule, chain_port) = match (record.shadowing, record.services_rule) {
            (Some((shadowing_rule, partner)), _) => (shadowing_rule, partner),
            (None, Anchor::Rule(TableKind::Nat, rule)) => (rule, source),
            (None, _) => unreachable!("ports with endpoints have a nat services rule"),
        };
        emitted.nat.set_packets(entry_rule, connections);

        let chain = &emitted.ports[chain_port];
        let mut rng = Rng::with_seed(seed ^ (source as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut remaining = connections;
        for (j, &q) in chain.spread.quantized.iter().enumerate() {
            let matched = binomial(&mut rng, remaining, q);
            per_port[chain_port][j] += matched;
            if chain.endpoints[j].terminates {
                remaining -= matched;
            }
        }
        *left = remaining;
    }

    for assignment in assignments {
        if let Defect::CounterSkew { factor } = assignment.defect {
            skew(&mut per_port[assignment.port], factor);
        }
    }

    for (record, counts) in emitted.ports.iter().zip(&per_port) {
        for (endpoint, &count) in record.endpoints.iter().zip(counts) {
            emitted.nat.set_packets(endpoint.lb_rule, count);
            if let Some(dnat) = endpoint.dnat_rule {
                emitted.nat.set_packets(dnat, count);
            }
        }
    }

    // Undnatted packets still carry the cluster IP in filter; only a DNAT
    // rule planted there (InvalidTargetForTable) can match them.
    let mut stopped_in_filter = 0;
    for (index, record) in emitted.ports.iter().enumerate() {
        if let Some(rule) = record.filter_dnat_rule {
            emitted.filter.set_packets(rule, leftover[index]);
            stopped_in_filter += leftover[index];
        }
    }
    let base = &emitted.base;
    for &(table, rule) in &base.every_packet {
        match table {
            TableKind::Filter => emitted.filter.set_packets(rule, total),
            TableKind::Nat => emitted.nat.set_packets(rule, total),
        }
    }
    let not_dnatted: u64 = leftover.iter().sum();
    emitted
        .nat
        .set_policy_packets(base.nat_prerouting, not_dnatted);
    emitted.nat.set_policy_packets(base.nat_postrouting, total);
    emitted
        .filter
        .set_policy_packets(base.filter_forward, total - stopped_in_filter);

    Observed { per_port }
}

/// CounterSkew: endpoint 0's count times `factor` (at most the total), the
/// other endpoints scaled so the total stays the same.
fn skew(counts: &mut [u64], factor: f64) {
    let total: u64 = counts.iter().sum();
    let first = ((counts[0] as f64 * factor).round().max(0.0) as u64).min(total);
    let others_before = total - counts[0];
    let others_after = total - first;
    counts[0] = first;
    let others = &mut counts[1..];
    if others.is_empty() {
        return;
    }
    // Scale proportionally; hand the rounding remainder to the largest
    // fractional parts so the sum is exact.
    let mut assigned = 0u64;
    let other_count = others.len() as u128;
    let mut fractions: Vec<(u128, usize)> = Vec::with_capacity(others.len());
    for (j, count) in others.iter_mut().enumerate() {
        let (numerator, denominator) = if others_before == 0 {
            (u128::from(others_after), other_count)
        } else {
            (
                u128::from(*count) * u128::from(others_after),
                u128::from(others_before),
            )
        };
        let scaled = (numerator / denominator) as u64;
        fractions.push((numerator % denominator * 1_000_000 / denominator, j));
        *count = scaled;
        assigned += scaled;
    }
    fractions.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, j) in fractions
        .iter()
        .cycle()
        .take((others_after - assigned) as usize)
    {
        others[j] += 1;
    }
}

/// How many of `n` packets a rule with probability `q` matches: a sample of
/// Binomial(n, q). Exact up to 65,536 packets (few matches: geometric gaps
/// between them; otherwise one 31-bit random compare per packet, as the
/// kernel does), a rounded normal approximation beyond, where its error is
/// far below the sampling noise.
fn binomial(rng: &mut Rng, n: u64, q: f64) -> u64 {
    if n == 0 || q <= 0.0 {
        return 0;
    }
    if q >= 1.0 {
        return n;
    }
    // Work with the rarer outcome so the cheap paths apply to both tails.
    let (rare, flipped) = if q > 0.5 { (1.0 - q, true) } else { (q, false) };
    let mean = n as f64 * rare;
    let count = if mean <= 64.0 {
        // Gaps between rare events are geometric: O(events) work.
        let log_miss = (1.0 - rare).ln();
        let mut position = 0u64;
        let mut events = 0u64;
        loop {
            let gap = ((1.0 - rng.f64()).ln() / log_miss).floor();
            if gap >= (n - position) as f64 {
                break events;
            }
            position += gap as u64 + 1;
            events += 1;
        }
    } else if n <= 1 << 16 {
        // The kernel's test: (random & 0x7fffffff) < round(rare * 2^31).
        let threshold = (rare * 2_147_483_648.0).round() as u32;
        (0..n)
            .filter(|_| rng.u32(..) & 0x7fff_ffff < threshold)
            .count() as u64
    } else {
        let sd = (mean * (1.0 - rare)).sqrt();
        // Box-Muller.
        let u1 = 1.0 - rng.f64();
        let u2 = rng.f64();
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        (mean + sd * z).round().clamp(0.0, n as f64) as u64
    };
    if flipped { n - count } else { count }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binomial_mean_is_right_in_every_regime() {
        let mut rng = Rng::with_seed(7);
        for &(n, p) in &[
            (50u64, 0.3),
            (10_000, 0.01),
            (1_000_000, 0.25),
            (5_000, 0.9),
        ] {
            let runs = 400;
            let sum: u64 = (0..runs).map(|_| binomial(&mut rng, n, p)).sum();
            let mean = sum as f64 / runs as f64;
            let expected = n as f64 * p;
            let sd_of_mean = (n as f64 * p * (1.0 - p) / runs as f64).sqrt();
            assert!(
                (mean - expected).abs() < 5.0 * sd_of_mean,
                "n={n} p={p}: mean {mean}, expected {expected}"
            );
        }
    }

    #[test]
    fn skew_keeps_the_total() {
        let mut counts = vec![100, 100, 100, 100];
        skew(&mut counts, 2.5);
        assert_eq!(counts[0], 250);
        assert_eq!(counts.iter().sum::<u64>(), 400);
        assert_eq!(&counts[1..], &[50, 50, 50]);
        let mut counts = vec![10, 3, 0];
        skew(&mut counts, 0.0);
        assert_eq!(counts, vec![0, 13, 0]);
    }
}
