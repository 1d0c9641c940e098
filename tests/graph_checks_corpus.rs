//! No false positives from the graph checks on real dumps: every dump of
//! ../shared/corpus that the kernel loads (MANIFEST.tsv, column
//! `netns_load_nft`) gets no error from them, and exactly the warnings listed
//! below, each a defect the dump really has (checked by hand: the chain is
//! declared and no `-j`/`-g` names it, or the rule is written twice). The
//! kube-proxy dumps get no finding at all, not even a note.

mod support;

use iptlint::diagnostics::Severity;
use iptlint::lint::{Settings, check_source};
use iptlint::source::SourceFile;
use support::{accepted_corpus_dumps, is_kube_proxy_dump};

/// The checks this test speaks for.
const CHECKS: &[&str] = &[
    "undefined-target",
    "jump-cycle",
    "unreferenced-chain",
    "invalid-target-for-table",
    "duplicate-rule",
    "empty-chain",
    "jump-to-builtin-chain",
];

/// Warnings the accepted dumps really deserve: (file, check, chain).
const EXPECTED_WARNINGS: &[(&str, &str, &[&str])] = &[
    // An IPv6 chain set (dhcpv6, icmpv6-*, link-local, multicast) declared in
    // an IPv4 dump; nothing jumps to any of it.
    (
        "diekmann__home-user.rules",
        "unreferenced-chain",
        &[
            "dhcpv6",
            "icmpv6-forward",
            "icmpv6-input",
            "icmpv6-local",
            "icmpv6-related",
            "ll",
            "mc",
            "mc-ll",
        ],
    ),
    (
        "diekmann__memphis-testbed.rules",
        "unreferenced-chain",
        &["LOG_RECENT_DROP"],
    ),
    // OpenWrt's wan zone is declared but never hooked (no `-j zone_wan`), so
    // its chains and the ones only it jumps to are dead; one helper too.
    (
        "diekmann__openwrt-AA.rules",
        "unreferenced-chain",
        &[
            "forwarding_wan",
            "input_wan",
            "zone_lan_DROP",
            "zone_wan",
            "zone_wan_DROP",
            "zone_wan_REJECT",
            "zone_wan_forward",
        ],
    ),
    // `-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT` twice in FORWARD.
    ("diekmann__openwrt-AA.rules", "duplicate-rule", &["FORWARD"]),
    // `-p tcp -m tcp --dport 13001 -j ACCEPT` twice in INPUT.
    (
        "diekmann__pastebin-bbWXHaTn.rules",
        "duplicate-rule",
        &["INPUT"],
    ),
    // A Freifunk gateway with per-interface chains for interfaces it no longer has.
    (
        "diekmann__sargon.rules",
        "unreferenced-chain",
        &[
            "DROP-log",
            "bat-input",
            "icvpn-fwd-in",
            "icvpn-fwd-out",
            "mesh-fwd-in",
            "mesh-fwd-out",
            "peering-fwd-in",
            "peering-fwd-out",
            "peering-input",
            "uplink-fwd-in",
            "uplink-fwd-out",
        ],
    ),
    (
        "diekmann__sargon.rules",
        "duplicate-rule",
        &["icvpn-fwd-in", "mesh-fwd-in", "mesh-fwd-in"],
    ),
    // Shorewall's logging helpers, unused by this configuration.
    (
        "diekmann__sqrl-shorewall-2014.rules",
        "unreferenced-chain",
        &["logdrop", "logreject"],
    ),
    (
        "netfilter__ipt-save-filter-2003.rules",
        "unreferenced-chain",
        &["accept_log"],
    ),
];

#[test]
fn accepted_corpus_dumps_get_only_their_real_defects() {
    let test = "accepted_corpus_dumps_get_only_their_real_defects";
    let Some(accepted) = accepted_corpus_dumps(test) else {
        return;
    };
    let mut problems = Vec::new();
    for (name, bytes) in accepted {
        let report = check_source(
            SourceFile::from_bytes(name.clone(), bytes),
            &Settings::default(),
        );
        let ours: Vec<_> = report
            .diagnostics
            .iter()
            .filter(|d| CHECKS.contains(&d.info.name))
            .collect();
        for diagnostic in ours.iter().filter(|d| d.severity == Severity::Error) {
            problems.push(format!(
                "{name}: error {}: {}",
                diagnostic.info.name, diagnostic.message
            ));
        }
        for check in CHECKS {
            let mut found: Vec<&str> = ours
                .iter()
                .filter(|d| d.info.name == *check && d.severity == Severity::Warning)
                .map(|d| d.chain.as_deref().unwrap_or("?"))
                .collect();
            found.sort_unstable();
            let expected: Vec<&str> = EXPECTED_WARNINGS
                .iter()
                .filter(|(file, c, _)| *file == name && c == check)
                .flat_map(|(_, _, chains)| chains.iter().copied())
                .collect();
            if found != expected {
                problems.push(format!(
                    "{name}: {check} warns on {found:?}, expected {expected:?}"
                ));
            }
        }
        if is_kube_proxy_dump(&name) && !ours.is_empty() {
            problems.push(format!(
                "{name}: a kube-proxy dump gets {:?}",
                ours.iter().map(|d| &d.message).collect::<Vec<_>>()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
