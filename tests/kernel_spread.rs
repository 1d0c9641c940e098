//! The kernel as the oracle of iptlint's shares: a generated dump with UDP
//! services is loaded into a private network namespace (`unshare -n`) whose
//! only way out is a veth pair (or dummy device) inside the namespace; a few
//! thousand new UDP flows go to one service's cluster IP; the DNAT counters
//! read back with `iptables-save -c` must fit iptlint's exact shares by a
//! chi-square test, both for a fair service and for one with an injected
//! skew (which must also not fit the uniform spread). Then `iptlint check`
//! on the real `-c` dump must not report `counter-skew`.
//!
//! Needs root, iptables and bash (its `/dev/udp` sends the datagrams);
//! otherwise the test prints `SKIP: ...` and passes. No packet leaves the
//! namespace: every route points at the namespace's own devices.

mod support;

use iptlint::analysis::services::{Service, services};
use iptlint::checks::counter_skew::chi_square;
use iptlint::generate::{Defect, GenConfig, Generated, Style, generate};
use iptlint::graph::DumpGraph;
use iptlint::lint::{Settings, check_source};
use iptlint::model::build::build;
use iptlint::source::SourceFile;
use support::{Kernel, skip};

/// New UDP flows sent to the service.
const FLOWS: usize = 3000;

/// Below this p-value a fit is rejected.
const LEVEL: f64 = 0.001;

fn generated(seed: u64, defects: Vec<Defect>) -> Generated {
    generate(&GenConfig {
        seed,
        services: 8,
        endpoints: 4..=6,
        style: Style::Modern,
        udp_fraction: 1.0,
        // A returning client keeps its endpoint under affinity, and all our
        // flows come from one address: keep affinity out.
        affinity_fraction: 0.0,
        zero_endpoint_fraction: 0.0,
        defects,
        ..GenConfig::default()
    })
}

/// Load `dump`, send `FLOWS` new UDP flows to `ip:port` from inside the
/// namespace, and return `iptables-save -c -t nat`.
fn send_flows(kernel: &Kernel, dump: &str, ip: &str, port: u16) -> Result<String, String> {
    kernel.send_udp(dump, "nat", (ip, port), FLOWS)
}

fn analysed(text: &str) -> Vec<Service> {
    let parsed = build(text);
    assert!(!parsed.has_syntax_errors(), "{:#?}", parsed.diagnostics);
    let graph = DumpGraph::build(&parsed.dump);
    services(text, &parsed.dump, &graph)
}

/// Observed DNAT counts of `name` in a `-c` dump, with iptlint's shares.
fn counts_and_shares(saved: &str, name: &str) -> (Vec<u64>, Vec<f64>) {
    let found = analysed(saved);
    let service = found
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("{name} not in the saved dump"));
    let counts = service
        .endpoints
        .iter()
        .map(|e| e.dnat_packets.expect("iptables-save -c writes counters"))
        .collect();
    let shares = service.endpoints.iter().map(|e| e.probability).collect();
    (counts, shares)
}

fn p_value(counts: &[u64], shares: &[f64]) -> f64 {
    let total: u64 = counts.iter().sum();
    let expected: Vec<f64> = shares.iter().map(|s| total as f64 * s).collect();
    chi_square(counts, &expected)
        .expect("two endpoints or more")
        .2
}

/// Messages of the findings named `check` in `iptlint check` of `saved`.
fn findings(saved: &str, check: &str) -> Vec<String> {
    let report = check_source(SourceFile::new("saved.rules", saved), &Settings::default());
    assert!(!report.is_fatal(), "{:#?}", report.diagnostics);
    report
        .diagnostics
        .iter()
        .filter(|d| d.info.name == check)
        .map(|d| d.message.clone())
        .collect()
}

#[test]
fn the_kernel_spreads_new_flows_as_iptlint_computes() {
    let test = "the_kernel_spreads_new_flows_as_iptlint_computes";
    let Some(kernel) = Kernel::get(test) else {
        return;
    };
    if !std::process::Command::new("sh")
        .args(["-c", "command -v bash && command -v ip"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        skip(test, "needs bash (for /dev/udp) and ip (iproute2)");
        return;
    }

    // Fair: the largest service of a clean dump.
    let fair = generated(7, Vec::new());
    let service = fair
        .services
        .iter()
        .max_by_key(|s| s.endpoints.len())
        .unwrap();
    let saved = send_flows(
        &kernel,
        &fair.text,
        &service.cluster_ip.to_string(),
        service.port,
    )
    .unwrap_or_else(|stderr| panic!("the namespace run failed: {stderr}"));
    let (counts, shares) = counts_and_shares(&saved, &service.name);
    let total: u64 = counts.iter().sum();
    println!(
        "fair {} ({} endpoints): counts {counts:?} of {total}",
        service.name,
        counts.len()
    );
    // Flows reusing a source port of an earlier flow are not new
    // connections; most are.
    assert!(total as usize > FLOWS / 2, "only {total} new flows counted");
    // The shares the analysis computed on the original dump are the same.
    for (share, truth) in shares.iter().zip(&service.endpoints) {
        assert!((share - truth.probability).abs() < 1e-9);
    }
    let p = p_value(&counts, &shares);
    assert!(
        p > LEVEL,
        "fair spread rejected: p = {p}, counts {counts:?}"
    );
    let skew = findings(&saved, "counter-skew");
    assert!(skew.is_empty(), "{skew:#?}");

    // Skewed: endpoint 0 gets half of the traffic.
    let skewed = generated(7, vec![Defect::NonUniformSpread { first_share: 0.5 }]);
    let name = &skewed.defects[0].service;
    let service = skewed.service(name).unwrap();
    let saved = send_flows(
        &kernel,
        &skewed.text,
        &service.cluster_ip.to_string(),
        service.port,
    )
    .unwrap_or_else(|stderr| panic!("the namespace run failed: {stderr}"));
    let (counts, shares) = counts_and_shares(&saved, name);
    println!("skewed {name}: counts {counts:?}, shares {shares:?}");
    assert!((shares[0] - 0.5).abs() < 1e-9);
    let p = p_value(&counts, &shares);
    assert!(
        p > LEVEL,
        "skewed prediction rejected: p = {p}, counts {counts:?}"
    );
    let uniform = vec![1.0 / shares.len() as f64; shares.len()];
    let p_uniform = p_value(&counts, &uniform);
    assert!(
        p_uniform < 1e-9,
        "the kernel's skewed spread fits the uniform one: p = {p_uniform}"
    );
    // The rules are skewed (non-uniform-spread) but the counters fit them.
    let skew = findings(&saved, "counter-skew");
    assert!(skew.is_empty(), "{skew:#?}");
    let spread = findings(&saved, "non-uniform-spread");
    assert_eq!(spread.len(), 1, "{spread:#?}");
    assert!(spread[0].contains(name.as_str()), "{spread:#?}");
}
