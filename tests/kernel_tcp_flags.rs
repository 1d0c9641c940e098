//! `--tcp-flags MASK COMP` (and `--syn`) match the packets iptlint's packet
//! analysis says they match, measured with the kernel's own counters: in a
//! private network namespace, connections to a closed port on `lo` send a
//! SYN and get a RST,ACK back, and counting rules (no target) in OUTPUT
//! test each flag match on both. The kernel compares the flags under the
//! mask with COMP as written, so `--tcp-flags SYN FIN,SYN` matches no
//! packet (iptlint warns: `impossible-tcp-flags`) and `! --tcp-flags SYN
//! FIN,SYN` every one.
//!
//! Needs root, `unshare`, `ip` and iptables; skips with a visible message
//! otherwise. No packet leaves the namespace.

mod support;

use iptlint::analysis::packets::RuleSet;
use iptlint::lint::{Settings, check_source};
use iptlint::model::Family;
use iptlint::model::build::build;
use iptlint::source::SourceFile;
use support::Kernel;

/// The flag matches tested, as written after `-p tcp -m tcp --dport 9`.
const FLAG_MATCHES: &[&str] = &[
    "--tcp-flags SYN SYN",
    "--tcp-flags SYN FIN,SYN",
    "! --tcp-flags SYN FIN,SYN",
    "--tcp-flags SYN,ACK SYN",
    "--tcp-flags SYN,ACK FIN",
    "! --tcp-flags SYN,ACK FIN",
    "--tcp-flags ALL SYN",
    "--tcp-flags NONE NONE",
    "--tcp-flags FIN,SYN,RST,ACK SYN",
    "--syn",
    "! --syn",
    "--tcp-flags RST,ACK RST,ACK",
    "--tcp-flags ACK ACK",
    "--tcp-flags ACK SYN,ACK",
    "! --tcp-flags ACK SYN,ACK",
    "--tcp-flags RST ALL",
    "! --tcp-flags RST ALL",
    "--tcp-flags ALL RST,ACK",
    "--tcp-flags RST,ACK NONE",
];

/// The packets: the client's SYN to port 9 and the RST,ACK that answers it.
const PACKETS: [(&str, u8); 2] = [("--dport 9", 0x02), ("--sport 9", 0x14)];

/// Connections made; each sends one SYN and receives one RST,ACK.
const CONNECTIONS: u64 = 3;

fn dump() -> String {
    let mut dump = String::from("*filter\n:OUTPUT ACCEPT [0:0]\n");
    for (port, _) in PACKETS {
        for flags in FLAG_MATCHES {
            dump.push_str(&format!("-A OUTPUT -o lo -p tcp -m tcp {port} {flags}\n"));
        }
    }
    dump.push_str("COMMIT\n");
    dump
}

#[test]
fn flag_matches_count_what_the_analysis_predicts() {
    let Some(kernel) = Kernel::get("flag_matches_count_what_the_analysis_predicts") else {
        return;
    };
    let dump = dump();
    let restore = kernel.tool(support::Family::V4, "restore");
    let save = kernel.tool(support::Family::V4, "save");
    let script = format!(
        "set -e
ip link set lo up
{restore}
bash -c 'for i in $(seq {CONNECTIONS}); do (exec 3<>/dev/tcp/127.0.0.1/9) 2>/dev/null; done' || true
{save} -c -t filter"
    );
    let saved = kernel.run_in_netns(&script, &dump).expect("loads and runs");
    let counts: Vec<u64> = saved
        .lines()
        .filter(|line| line.contains("-A OUTPUT"))
        .map(|line| {
            let packets = line.trim_start_matches('[').split(':').next().unwrap();
            packets
                .parse()
                .unwrap_or_else(|_| panic!("counters in {line}"))
        })
        .collect();
    assert_eq!(counts.len(), PACKETS.len() * FLAG_MATCHES.len(), "{saved}");

    let parsed = build(&dump);
    assert!(
        parsed
            .diagnostics
            .iter()
            .all(|d| d.info.name == "impossible-tcp-flags")
    );
    let rules = &parsed.dump.tables[0].chain("OUTPUT").unwrap().rules;
    let mut wrong = Vec::new();
    let mut outcomes = [0usize; 2];
    for (index, rule) in rules.iter().enumerate() {
        let (port, flags) = PACKETS[index / FLAG_MATCHES.len()];
        let written = FLAG_MATCHES[index % FLAG_MATCHES.len()];
        let ruleset = RuleSet::of(rule, Family::V4);
        assert!(ruleset.exact, "`{written}` is not modelled exactly");
        let predicted = ruleset.set.tcp_flags.0 & (1 << flags) != 0;
        let counted = counts[index];
        assert!(
            counted == 0 || counted == CONNECTIONS,
            "{counted} for {port} {written}"
        );
        outcomes[usize::from(predicted)] += 1;
        if predicted != (counted > 0) {
            wrong.push(format!(
                "{port} {written}: iptlint says {}, the kernel counted {counted}",
                if predicted {
                    "matches"
                } else {
                    "never matches"
                }
            ));
        }
    }
    eprintln!(
        "{} flag matches: {outcomes:?} (no match, match)",
        rules.len()
    );
    assert!(
        outcomes.iter().all(|&n| n >= 8),
        "{outcomes:?}: both outcomes tested"
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // Each warning is on a match the kernel found constant: one without
    // `!` that counted nothing, one with `!` that counted every packet.
    // The list holds eight such matches, tested on both packets.
    let report = check_source(
        SourceFile::new("flags.rules", dump.clone()),
        &Settings::default(),
    );
    let warned: Vec<usize> = report
        .diagnostics
        .iter()
        .filter(|d| d.info.name == "impossible-tcp-flags")
        .map(|d| report.source.location(d.primary_span().start as usize).0 - 3)
        .collect();
    assert_eq!(warned.len(), 16, "{warned:?}");
    for index in warned {
        let written = FLAG_MATCHES[index % FLAG_MATCHES.len()];
        let twin = (index + FLAG_MATCHES.len()) % rules.len();
        let total = counts[index] + counts[twin];
        let constant = if written.starts_with('!') {
            2 * CONNECTIONS
        } else {
            0
        };
        assert_eq!(
            total, constant,
            "`{written}` is warned about but the kernel counted {total}"
        );
    }
}
