//! Every match and target option that takes one value, given each of a
//! fixed set of values just inside and just outside the usual forms
//! (numbers past their width, C notation, ranges, lists, addresses,
//! names), loaded alone by the real iptables-restore in a private network
//! namespace, with each backend (legacy and nft) that works here. iptlint
//! must report an error exactly when that backend refuses the line (an
//! error whose note says the backend loads it anyway is no refusal).
//!
//! Left out: what depends on the machine rather than on the text (a module
//! the kernel lacks, a host or device group name to look up, a conntrack
//! timeout policy). The same loads, run by a script on 2026-12-07 before
//! this test and the fixes it led to, found 324 disagreements in 2,574
//! match option values and 12 in 936 target option values: numbers in C
//! notation where iptlint wanted decimal (`--ttl-eq 0x10`), host masks,
//! ranges and gateways in inet_aton's and libxtables' shorter forms,
//! values of `-m dccp`, `-m srh` and `-m devgroup` that iptlint did not
//! check, a mask on `--or-mark`, an open `--queue-balance` range.

mod support;

use iptlint::model::matches::MATCH_SPECS;
use iptlint::model::targets::TARGET_SPECS;
use support::{Family, Kernel};

/// Values given to every option.
const VALUES: &[&str] = &[
    "0",
    "-1",
    "65536",
    "0x10",
    "1:2",
    "2:1",
    "a",
    "1,2",
    "1/2",
    "1.5",
    "4294967296",
    "010",
    ":5",
    "5:",
    "1.2.3.4",
    "1.2.3.4/33",
    "ffff",
    "!x",
];

/// Modules of ip6tables alone, loaded by ip6tables-restore.
const IPV6_MODULES: &[&str] = &[
    "ah",
    "dst",
    "eui64",
    "frag",
    "hbh",
    "ipv6header",
    "mh",
    "rt",
    "srh",
    "icmp6",
    "hl",
];

/// What the kernel says of values whose fate depends on the machine.
const MACHINE_DEPENDENT: &[&str] = &[
    "Couldn't load match",
    "host/network",
    "could not map name",
    "Temporary failure in name resolution",
];

/// The `-p` a module needs to load.
fn protocol_for(module: &str) -> &'static str {
    match module {
        "tcp" => "-p tcp ",
        "udp" => "-p udp ",
        "sctp" => "-p sctp ",
        "dccp" => "-p dccp ",
        "udplite" => "-p udplite ",
        "icmp" => "-p icmp ",
        "icmp6" => "-p ipv6-icmp ",
        "mh" => "-p mh ",
        _ => "",
    }
}

/// The dump holding one rule, in the filter table's INPUT chain (`-m
/// devgroup --dst-group` and the like are refused there, by both).
fn dump_of(line: &str) -> String {
    format!("*filter\n:INPUT ACCEPT [0:0]\n{line}\nCOMMIT\n")
}

/// One load: the family of the tool, the dump, and its rule line.
struct Case {
    family: Family,
    dump: String,
    line: String,
}

/// Load every case alone in a private namespace and hold iptlint's errors
/// to each verdict; asserts that no case disagrees and that at least nine
/// in ten were compared.
fn compare(kernel: &Kernel, cases: &[Case], what: &str) {
    let dumps: Vec<(Family, &str)> = cases
        .iter()
        .map(|case| (case.family, case.dump.as_str()))
        .collect();
    let verdicts = kernel.restore_each(&dumps);
    let (mut compared, mut refused) = (0, 0);
    let mut disagreements = Vec::new();
    for (case, verdict) in cases.iter().zip(&verdicts) {
        let said = verdict
            .as_ref()
            .err()
            .and_then(|said| said.lines().next())
            .unwrap_or_default();
        if verdict.is_err() && MACHINE_DEPENDENT.iter().any(|m| said.contains(m)) {
            continue;
        }
        compared += 1;
        let errors = kernel.refusals_by_iptlint(&case.dump);
        let line = &case.line;
        match verdict {
            Ok(()) if !errors.is_empty() => {
                disagreements.push(format!("kernel loads, iptlint says {errors:?}\n  {line}"))
            }
            Ok(()) => {}
            Err(_) => {
                refused += 1;
                if errors.is_empty() {
                    disagreements
                        .push(format!("kernel refuses ({said}), iptlint passes\n  {line}"));
                }
            }
        }
    }
    println!(
        "{compared} {what} compared ({refused} refused by the {} kernel), {} disagreements",
        kernel.backend,
        disagreements.len()
    );
    assert!(
        compared * 10 >= cases.len() * 9,
        "only {compared} of {} compared",
        cases.len()
    );
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

#[test]
fn iptlint_refuses_an_option_value_exactly_when_the_kernel_does() {
    let test = "iptlint_refuses_an_option_value_exactly_when_the_kernel_does";
    let kernels = Kernel::all(test);
    if kernels.is_empty() {
        return;
    }
    let mut cases = Vec::new();
    for spec in MATCH_SPECS {
        let family = if IPV6_MODULES.contains(&spec.name) {
            Family::V6
        } else {
            Family::V4
        };
        for option in spec.options.iter().filter(|option| option.arity == 1) {
            for value in VALUES {
                let line = format!(
                    "-A INPUT {}-m {} {} {value} -j ACCEPT",
                    protocol_for(spec.name),
                    spec.name,
                    option.names[0]
                );
                cases.push(Case {
                    family,
                    dump: dump_of(&line),
                    line,
                });
            }
        }
    }
    assert!(cases.len() > 2000, "only {} cases", cases.len());
    for kernel in &kernels {
        compare(kernel, &cases, "match option values");
    }
}

/// The table each target is loaded in (filter for the rest).
fn table_for(target: &str) -> &'static str {
    match target {
        "DNAT" | "SNAT" | "MASQUERADE" | "REDIRECT" | "NETMAP" => "nat",
        "CT" => "raw",
        "CHECKSUM" | "CLASSIFY" | "DNPT" | "SNPT" | "ECN" | "TOS" | "TEE" | "CONNSECMARK" => {
            "mangle"
        }
        _ => "filter",
    }
}

/// The same for target options, each in a user chain of a table that
/// takes the target (nothing reaches the chain, so no hook is checked).
/// `CT --timeout` names a timeout policy the kernel must hold: left out.
#[test]
fn iptlint_refuses_a_target_option_value_exactly_when_the_kernel_does() {
    let test = "iptlint_refuses_a_target_option_value_exactly_when_the_kernel_does";
    let kernels = Kernel::all(test);
    if kernels.is_empty() {
        return;
    }
    let mut cases = Vec::new();
    for spec in TARGET_SPECS {
        let family = if matches!(spec.name, "DNPT" | "SNPT") {
            Family::V6
        } else {
            Family::V4
        };
        let protocol = if matches!(
            spec.name,
            "DNAT" | "SNAT" | "MASQUERADE" | "REDIRECT" | "ECN" | "REJECT"
        ) {
            "-p tcp "
        } else {
            ""
        };
        let options = spec.options.iter().filter(|option| option.arity == 1);
        for option in
            options.filter(|option| !(spec.name == "CT" && option.names[0] == "--timeout"))
        {
            for value in VALUES {
                let line = format!(
                    "-A X {protocol}-j {} {} {value}",
                    spec.name, option.names[0]
                );
                cases.push(Case {
                    family,
                    dump: format!("*{}\n:X - [0:0]\n{line}\nCOMMIT\n", table_for(spec.name)),
                    line,
                });
            }
        }
    }
    assert!(cases.len() > 800, "only {} cases", cases.len());
    for kernel in &kernels {
        compare(kernel, &cases, "target option values");
    }
}
