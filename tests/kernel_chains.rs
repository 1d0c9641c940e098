//! Chain declarations (`:NAME POLICY [p:b]`), `-N`, `-X`, `-E` and the
//! rule numbers of `-I`, `-R`, `-D` and `-Z` as the kernel takes them,
//! with both backends: a built-in chain's line may come again
//! and sets its policy each time (`-` leaves it), a user chain is created
//! once (iptables-nft takes a second `:` line as the first), no chain may
//! take a standard target's name, and a name may not start with `!` or `-`
//! (iptables-legacy checks that only for `-N` and `-E`).
//!
//! Needs root, `unshare` and iptables; skips with a visible message
//! otherwise.

mod support;

use iptlint::model::build::build;
use support::{Family, Kernel};

/// Lines between `*filter` (or the table given) and `COMMIT`.
const CASES: &[(&str, &str)] = &[
    ("filter", ":X"),
    ("filter", ":INPUT"),
    ("filter", ":X -"),
    ("filter", ":INPUT - [0:0]"),
    ("filter", ":INPUT ACCEPT [0:0]\n:INPUT DROP [0:0]"),
    ("filter", ":INPUT DROP [0:0]\n:INPUT - [0:0]"),
    ("filter", ":INPUT DROP [0:0]\n:INPUT DROP [0:0]"),
    ("filter", ":INPUT ACCEPT [0:0]\n:INPUT"),
    ("filter", ":X - [0:0]\n:X - [0:0]"),
    ("filter", "-N X\n-N X"),
    ("filter", ":X - [0:0]\n-N X"),
    ("filter", "-N X\n:X - [0:0]"),
    ("filter", "-N INPUT"),
    ("filter", ":INPUT ACCEPT [0:0]\n-N INPUT"),
    ("filter", ":ACCEPT - [0:0]"),
    ("filter", ":DROP - [0:0]"),
    ("filter", ":QUEUE - [0:0]"),
    ("filter", ":RETURN - [0:0]"),
    ("filter", "-N ACCEPT"),
    ("filter", "-N RETURN"),
    ("filter", ":accept - [0:0]"),
    ("filter", ":LOG - [0:0]"),
    ("filter", ":!x - [0:0]"),
    ("filter", ":-x - [0:0]"),
    ("filter", ":x! - [0:0]"),
    ("filter", "-N !x"),
    ("filter", "-N -x"),
    ("filter", ":X - [0:0]\n-E X RETURN"),
    ("filter", ":X - [0:0]\n-E X !y"),
    ("filter", ":X - [0:0]\n-E X Y"),
    ("filter", ":X ACCEPT [0:0]"),
    ("filter", ":X DROP [1:2]"),
    ("filter", ":X - [0:0]\n-A INPUT -j X\n-X X"),
    ("filter", ":X - [0:0]\n-A X -j ACCEPT\n-X X"),
    ("filter", ":X - [0:0]\n-A X -j ACCEPT\n-F X\n-X X"),
    ("filter", ":X - [0:0]\n:Y - [0:0]\n-A Y -j X\n-X X"),
    ("filter", ":X - [0:0]\n-X X"),
    ("filter", "-X INPUT"),
    ("filter", ":X - [0:0]\n-X"),
    ("filter", ":X - [0:0]\n-A INPUT -j X\n-X"),
    ("filter", ":X - [0:0]\n-A X -j ACCEPT\n-X"),
    ("filter", ":X - [0:0]\n:Y - [0:0]\n-A Y -j X\n-X"),
    ("filter", ":X - [0:0]\n:Y - [0:0]\n-X"),
    ("filter", "-E INPUT Y"),
    // Rule numbers: from 1 to the chain's length (insertion: one more).
    ("filter", "-I INPUT 0 -j ACCEPT"),
    ("filter", "-I INPUT 00 -j ACCEPT"),
    ("filter", "-I INPUT 1 -j ACCEPT"),
    ("filter", "-I INPUT 01 -j ACCEPT"),
    ("filter", "-I INPUT 99999999999 -j ACCEPT"),
    ("filter", "-A INPUT -j ACCEPT\n-I INPUT 2 -j DROP"),
    ("filter", "-A INPUT -j ACCEPT\n-I INPUT 3 -j DROP"),
    ("filter", "-A INPUT -j ACCEPT\n-R INPUT 0 -j DROP"),
    ("filter", "-A INPUT -j ACCEPT\n-R INPUT 1 -j DROP"),
    ("filter", "-A INPUT -j ACCEPT\n-D INPUT 0"),
    ("filter", "-A INPUT -j ACCEPT\n-D INPUT 01"),
    ("filter", "-A INPUT -j ACCEPT\n-Z INPUT 0"),
    ("filter", "-A INPUT -j ACCEPT\n-Z INPUT 1"),
    ("filter", "-A INPUT -j ACCEPT\n-Z INPUT 2"),
    // `-R N` and `-Z N` of a rule the same restore adds: iptables-nft
    // crashes; `-D N` and `-I N` work with both.
    ("filter", "-I INPUT 1 -j ACCEPT\n-R INPUT 1 -j DROP"),
    ("filter", ":X - [0:0]\n-A X -j ACCEPT\n-R X 1 -j DROP"),
    ("filter", ":X - [0:0]\n-A X -j ACCEPT\n-Z X 1"),
    (
        "filter",
        "-A INPUT -j ACCEPT\n-A INPUT -j DROP\n-D INPUT 1\n-R INPUT 1 -j ACCEPT",
    ),
    ("filter", "-A INPUT -j ACCEPT\n-A INPUT -j DROP\n-D INPUT 1"),
    (
        "filter",
        "-A INPUT -j ACCEPT\n-I INPUT 1 -j DROP\n-D INPUT 2",
    ),
    ("filter", "-A INPUT -j ACCEPT\n-Z INPUT"),
    // iptables-nft makes a built-in chain once the restore declares it,
    // sets its policy, flushes it or adds a rule to it: `-Z` before that
    // is refused ("No chain/target/match by that name").
    ("filter", "-A INPUT -j ACCEPT\n-Z OUTPUT"),
    ("filter", ":INPUT ACCEPT [0:0]\n-Z OUTPUT"),
    ("filter", "-A INPUT -j ACCEPT\n-Z OUTPUT 1"),
    ("filter", "-A INPUT -j ACCEPT\n-F OUTPUT\n-Z OUTPUT"),
    ("filter", "-A INPUT -j ACCEPT\n-P OUTPUT DROP\n-Z OUTPUT"),
    ("filter", ":OUTPUT ACCEPT [0:0]\n-Z OUTPUT"),
    (
        "filter",
        "-A INPUT -j ACCEPT\n-A OUTPUT -j ACCEPT\n-D OUTPUT 1\n-Z OUTPUT",
    ),
    ("filter", "-A OUTPUT -j ACCEPT\n-F\n-Z OUTPUT"),
    ("filter", "-A INPUT -j ACCEPT\n-F\n-Z OUTPUT"),
    ("filter", "-A INPUT -j ACCEPT\n-Z"),
    ("nat", "-A OUTPUT -j ACCEPT\n-Z PREROUTING"),
    ("filter", ":INPUT accept [0:0]"),
    ("filter", ":INPUT REJECT [0:0]"),
    ("filter", ":INPUT RETURN [0:0]"),
    ("nat", ":PREROUTING - [0:0]\n:PREROUTING ACCEPT [0:0]"),
    (
        "nat",
        ":POSTROUTING ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:X - [0:0]",
    ),
];

fn dump(table: &str, lines: &str) -> String {
    format!("*{table}\n{lines}\nCOMMIT\n")
}

#[test]
fn chain_declarations_agree_with_each_backend() {
    let kernels = Kernel::all("chain_declarations_agree_with_each_backend");
    for kernel in &kernels {
        let dumps: Vec<String> = CASES.iter().map(|(t, lines)| dump(t, lines)).collect();
        // Each in a namespace of its own: a built-in chain exists in
        // nf_tables only once declared or given a rule.
        let verdicts: Vec<Result<(), String>> = dumps
            .iter()
            .map(|d| kernel.restore(Family::V4, d, &[]))
            .collect();
        let mut apart = Vec::new();
        let (mut refused, mut crashed) = (0, 0);
        for (dump, verdict) in dumps.iter().zip(&verdicts) {
            // iptables-nft 1.8.9 crashes on `-R CHAIN N` and `-Z CHAIN N`
            // of a rule the same restore adds, and loads nothing: a refusal
            // like any other (`numbered-new-rule`), but only of those lines.
            if let Err(message) = verdict
                && message.contains("Segmentation fault")
            {
                assert!(
                    kernel.backend == "nft" && (dump.contains("-R ") || dump.contains("-Z ")),
                    "{}: crashed on {dump}",
                    kernel.backend
                );
                crashed += 1;
            }
            let iptlint = kernel.refusals_by_iptlint(dump);
            refused += usize::from(verdict.is_err());
            if verdict.is_ok() != iptlint.is_empty() {
                apart.push(format!(
                    "{dump}{}: {verdict:?}\niptlint: {iptlint:?}\n",
                    kernel.backend
                ));
            }
        }
        eprintln!(
            "{}: {} cases, {refused} refused, {crashed} crashed",
            kernel.backend,
            CASES.len()
        );
        // Both outcomes are tested on each backend.
        assert!(
            (10..CASES.len() - 5).contains(&refused),
            "{}: {refused} refused",
            kernel.backend
        );
        assert!(apart.is_empty(), "{}", apart.join("\n"));
    }
}

/// The policy a built-in chain ends up with when its line comes twice (or
/// with `-`) is the one iptlint's model holds.
#[test]
fn the_last_policy_declared_holds() {
    let kernels = Kernel::all("the_last_policy_declared_holds");
    for kernel in &kernels {
        for lines in [
            ":INPUT ACCEPT [0:0]\n:INPUT DROP [0:0]",
            ":INPUT DROP [0:0]\n:INPUT - [0:0]",
            ":INPUT DROP [0:0]\n:INPUT ACCEPT [0:0]",
            ":INPUT - [0:0]",
        ] {
            let text = dump("filter", lines);
            let saved = kernel.round_trip(Family::V4, &text).unwrap();
            let loaded = saved
                .lines()
                .find_map(|line| line.strip_prefix(":INPUT "))
                .and_then(|rest| rest.split_whitespace().next())
                .expect("INPUT in the saved dump")
                .to_string();
            let parsed = build(&text);
            let modelled = parsed.dump.tables[0].chain("INPUT").unwrap().policy_name();
            assert_eq!(modelled, loaded, "{}: {lines}", kernel.backend);
        }
    }
}
