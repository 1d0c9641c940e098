//! Chain declarations (`:NAME POLICY [p:b]`), `-N` and `-E` as the kernel
//! takes them, with both backends: a built-in chain's line may come again
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
        let verdicts = kernel.restore_each(
            &dumps
                .iter()
                .map(|d| (Family::V4, d.as_str()))
                .collect::<Vec<_>>(),
        );
        let mut apart = Vec::new();
        let mut refused = 0;
        for (dump, verdict) in dumps.iter().zip(&verdicts) {
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
            "{}: {} cases, {refused} refused",
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
