//! Reversed ranges against the real kernel: `-p udp --dport 5000:4000` and
//! `-m iprange --dst-range B-A` load, and the kernel's counters show they
//! never match (and, inverted, always do). iptlint must read them the same
//! way: an `empty-range` warning on each, and a model in which the rule
//! cannot match the packets sent.
//!
//! Needs root, `unshare` and iptables (CI installs them); skips with a
//! visible message otherwise. The packets are sent from inside a private
//! network namespace to a dummy device and never leave it.

mod support;

use std::net::{IpAddr, Ipv4Addr};

use iptlint::analysis::probability::{Analyzer, Packet};
use iptlint::model::Protocol;
use iptlint::model::build::build;
use support::Kernel;

const PACKETS: usize = 20;
const DESTINATION: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 5);
const PORT: u16 = 4500;

/// Counting rules (no target), so that each rule's counter is independent
/// of the others; `true` when the rule matches udp to 192.0.2.5:4500.
const RULES: &[(&str, bool)] = &[
    ("-p udp -m udp --dport 5000:4000", false),
    ("-p udp -m udp ! --dport 5000:4000", true),
    ("-p udp -m udp --dport 4000:5000", true),
    ("-p udp -m udp --sport 10:5", false),
    ("-m iprange --dst-range 192.0.2.9-192.0.2.1", false),
    ("-m iprange ! --dst-range 192.0.2.9-192.0.2.1", true),
    ("-m iprange --dst-range 192.0.2.1-192.0.2.9", true),
];

fn dump() -> String {
    let mut text = String::from("*filter\n:OUTPUT ACCEPT [0:0]\n");
    for (rule, _) in RULES {
        text.push_str(&format!("-A OUTPUT {rule}\n"));
    }
    text.push_str("COMMIT\n");
    text
}

/// Load the dump, send [`PACKETS`] udp packets to 192.0.2.5:4500 from
/// inside the namespace, and return the packet counter of each rule.
fn kernel_counts(kernel: &Kernel) -> Vec<u64> {
    let saved = kernel
        .send_udp(&dump(), "filter", (&DESTINATION.to_string(), PORT), PACKETS)
        .unwrap_or_else(|error| panic!("{}: {error}", kernel.backend));
    saved
        .lines()
        .filter(|line| line.starts_with('[') && line.contains("-A OUTPUT"))
        .map(|line| {
            let packets = &line[1..line.find(':').expect("[packets:bytes]")];
            packets.parse().expect("a packet count")
        })
        .collect()
}

#[test]
fn reversed_ranges_never_match_in_the_kernel_nor_in_iptlint() {
    let text = dump();
    let parsed = build(&text);
    let warned: Vec<u32> = parsed
        .diagnostics
        .iter()
        .filter(|d| d.info.name == "empty-range")
        .map(|d| {
            let start = d.primary_span().start;
            text[..start as usize].lines().count() as u32
        })
        .collect();
    // Lines 3, 4, 6, 7, 8 hold the reversed ranges (line 1 is `*filter`).
    assert_eq!(warned, vec![3, 4, 6, 7, 8]);
    assert!(!parsed.has_syntax_errors());
    assert!(
        parsed
            .diagnostics
            .iter()
            .all(|d| d.info.name == "empty-range"),
        "{:#?}",
        parsed.diagnostics
    );

    let table = &parsed.dump.tables[0];
    let analyzer = Analyzer::new(&text, table);
    let packet = Packet {
        destination: Some(IpAddr::V4(DESTINATION)),
        destination_local: Some(false),
        protocol: Some(Protocol::UDP),
        destination_port: Some(PORT),
    };
    let rules = &table.chain("OUTPUT").expect("declared").rules;
    assert_eq!(rules.len(), RULES.len());
    for (rule, (written, matches)) in rules.iter().zip(RULES) {
        // Only the source port stays open: the packet's is not known.
        let iptlint_matches = analyzer.rule_conditions(rule, packet).is_some();
        assert_eq!(iptlint_matches, *matches, "iptlint on `{written}`");
    }

    let kernels = Kernel::all("reversed_ranges_never_match_in_the_kernel_nor_in_iptlint");
    for kernel in &kernels {
        let counts = kernel_counts(kernel);
        assert_eq!(counts.len(), RULES.len(), "{}: {counts:?}", kernel.backend);
        for (count, (written, matches)) in counts.iter().zip(RULES) {
            // The source port of the packets sent is some ephemeral port,
            // above 10, so `--sport 10:5` would not match it either way.
            let expected = if *matches { PACKETS as u64 } else { 0 };
            assert_eq!(*count, expected, "{}: `{written}`", kernel.backend);
        }
    }
}
