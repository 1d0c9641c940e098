//! Kernel agreement for `invalid-target-for-table`: every target iptlint
//! restricts (and a few it does not) placed in every built-in chain of every
//! table, in a user chain jumped to from it, in the same chain after an
//! unconditional RETURN, and in a user chain nothing reaches. The real
//! iptables-restore refuses a placement exactly when iptlint reports an
//! error-level `invalid-target-for-table` (for iptables-legacy: one without
//! the note that legacy loads it anyway).
//!
//! Also for `bad-value` on NAT targets with a port: refused exactly when
//! the rule's protocol has no ports.

mod support;

use iptlint::diagnostics::Severity;
use iptlint::lint::{FileReport, Settings, check_source};
use iptlint::source::SourceFile;
use support::{Family, Kernel};

const TABLES: &[(&str, &[&str])] = &[
    ("filter", &["INPUT", "FORWARD", "OUTPUT"]),
    ("nat", &["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"]),
    (
        "mangle",
        &["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
    ),
    ("raw", &["PREROUTING", "OUTPUT"]),
    ("security", &["INPUT", "FORWARD", "OUTPUT"]),
];

/// Targets with the options they need, and matches the kernel allows only
/// in some hooks (ending in `-j ACCEPT`); every rule starts with `-p tcp`.
const TARGETS: &[&str] = &[
    "DNAT --to-destination 192.0.2.1",
    "SNAT --to-source 192.0.2.1",
    "MASQUERADE",
    "REDIRECT --to-ports 8080",
    "NETMAP --to 192.0.2.0/24",
    "REJECT",
    "TPROXY --on-port 1",
    "CT --notrack",
    "NOTRACK",
    "CHECKSUM --checksum-fill",
    "DSCP --set-dscp 1",
    "TOS --set-tos 1",
    "TTL --ttl-set 1",
    "ECN --ecn-tcp-remove",
    "CLASSIFY --set-class 1:1",
    "DROP",
    "ACCEPT",
    "LOG --log-prefix x",
    "MARK --set-mark 1",
    "TRACE",
    "SYNPROXY --mss 1460",
];

/// Rule tails placed like [`TARGETS`]: matches restricted to some hooks,
/// and a target restricted only with one option.
const RESTRICTED_TAILS: &[&str] = &[
    "-m owner --uid-owner 0 -j ACCEPT",
    "-m mac --mac-source 00:11:22:33:44:55 -j ACCEPT",
    "-m addrtype --dst-type LOCAL --limit-iface-in -j ACCEPT",
    "-m addrtype --dst-type LOCAL --limit-iface-out -j ACCEPT",
    "--syn -j TCPMSS --clamp-mss-to-pmtu",
    "-m physdev --physdev-out eth0 -j ACCEPT",
    "-m physdev --physdev-is-bridged --physdev-out eth0 -j ACCEPT",
    "-m rpfilter -j ACCEPT",
];

/// Every placement of every target, as (description, table text).
fn placements() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let tails = TARGETS
        .iter()
        .map(|target| format!("-j {target}"))
        .chain(RESTRICTED_TAILS.iter().map(|tail| tail.to_string()));
    let tails: Vec<String> = tails.collect();
    for (table, builtins) in TABLES {
        for target in &tails {
            let rule = |chain: &str| format!("-A {chain} -p tcp {target}\n");
            let wrap = |body: String| format!("*{table}\n:U - [0:0]\n{body}COMMIT\n");
            for builtin in *builtins {
                out.push((
                    format!("{target} in {table} {builtin}"),
                    wrap(rule(builtin)),
                ));
                out.push((
                    format!("{target} in {table} U, jumped to from {builtin}"),
                    wrap(format!("-A {builtin} -j U\n{}", rule("U"))),
                ));
                out.push((
                    format!("{target} in {table} {builtin} after an unconditional RETURN"),
                    wrap(format!("-A {builtin} -j RETURN\n{}", rule(builtin))),
                ));
            }
            out.push((
                format!("{target} in {table} U, which nothing reaches"),
                wrap(rule("U")),
            ));
        }
    }
    out
}

/// The report of iptlint's `check` on `text`, and its errors as
/// `name: message`.
fn iptlint_errors(text: &str) -> (FileReport, Vec<String>) {
    let report = check_source(SourceFile::new("t.rules", text), &Settings::default());
    let errors = report
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| format!("{}: {}", d.info.name, d.message))
        .collect();
    (report, errors)
}

fn iptlint_refuses(text: &str, kernel: &Kernel) -> (bool, Vec<String>) {
    let (report, errors) = iptlint_errors(text);
    assert!(!report.is_fatal(), "does not parse:\n{text}");
    let refused = report.diagnostics.iter().any(|d| {
        d.severity == Severity::Error
            && matches!(
                d.info.name,
                "invalid-target-for-table" | "invalid-match-for-hook"
            )
            && !kernel.loads_anyway(d)
    });
    (refused, errors)
}

#[test]
fn target_placements_agree_with_the_kernel() {
    let test = "target_placements_agree_with_the_kernel";
    let kernels = Kernel::all(test);
    if kernels.is_empty() {
        return;
    }
    let cases = placements();
    for kernel in &kernels {
        let verdicts: Vec<Result<(), String>> = std::thread::scope(|scope| {
            let workers: Vec<_> = cases
                .chunks(cases.len().div_ceil(3))
                .map(|chunk| {
                    scope.spawn(move || {
                        chunk
                            .iter()
                            .map(|(_, text)| kernel.restore(Family::V4, text, &[]))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|worker| worker.join().unwrap())
                .collect()
        });
        let mut disagreements = Vec::new();
        let mut refused = 0;
        for ((description, text), verdict) in cases.iter().zip(&verdicts) {
            let (says_refused, errors) = iptlint_refuses(text, kernel);
            if errors.iter().any(|e| {
                !e.starts_with("invalid-target-for-table")
                    && !e.starts_with("invalid-match-for-hook")
            }) {
                disagreements.push(format!("{description}: unexpected errors {errors:?}"));
            }
            match verdict {
                Err(stderr) if !says_refused => disagreements.push(format!(
                    "{description}: {} refuses ({}), iptlint does not",
                    kernel.backend,
                    stderr.lines().next().unwrap_or_default().trim()
                )),
                Ok(()) if says_refused => disagreements.push(format!(
                    "{description}: {} loads it, iptlint says {errors:?}",
                    kernel.backend
                )),
                Err(_) => refused += 1,
                Ok(()) => {}
            }
        }
        assert!(
            disagreements.is_empty(),
            "{} of {} placements disagree with {}:\n{}",
            disagreements.len(),
            cases.len(),
            kernel.backend,
            disagreements.join("\n")
        );
        assert!(
            refused > cases.len() / 4,
            "only {refused} refused placements"
        );
        eprintln!(
            "{}: {} placements, {refused} refused",
            kernel.backend,
            cases.len()
        );
    }
}

/// Loads of one-rule dumps compared with iptlint's errors: how many the
/// kernel refused, and every case where the two disagree.
#[derive(Default)]
struct Agreement {
    refused: usize,
    disagreements: Vec<String>,
}

impl Agreement {
    /// Load `text` with `kernel` and compare with iptlint's `bad-value`
    /// errors on it; `rule` names the case.
    fn compare(&mut self, kernel: &Kernel, family: Family, rule: &str, text: &str) {
        self.compare_errors(kernel, family, rule, text, "bad-value");
    }

    /// The same, with iptlint's errors whose name starts with `code` (all
    /// of them for "").
    fn compare_errors(
        &mut self,
        kernel: &Kernel,
        family: Family,
        rule: &str,
        text: &str,
        code: &str,
    ) {
        let (_, errors) = iptlint_errors(text);
        let says_refused = errors.iter().any(|e| e.starts_with(code));
        let description = format!("{} {family:?}: `{rule}`", kernel.backend);
        match kernel.restore(family, text, &[]) {
            Err(stderr) if !says_refused => self.disagreements.push(format!(
                "{description}: refused ({}), iptlint says {errors:?}",
                stderr.lines().next().unwrap_or_default().trim()
            )),
            Ok(()) if !errors.is_empty() => self
                .disagreements
                .push(format!("{description}: loads, iptlint says {errors:?}")),
            Err(_) => self.refused += 1,
            Ok(()) => {}
        }
    }

    /// Fail on any disagreement, else return how many loads were refused.
    fn refused(self) -> usize {
        assert!(
            self.disagreements.is_empty(),
            "{}",
            self.disagreements.join("\n")
        );
        self.refused
    }
}

/// NAT targets with and without a port, and what each needs.
const NAT_TARGETS: &[&str] = &[
    "DNAT --to-destination 192.0.2.1:80",
    "DNAT --to-destination 192.0.2.1-192.0.2.9:80-90",
    "DNAT --to-destination :80",
    "DNAT --to-destination 192.0.2.1",
    "SNAT --to-source 192.0.2.1:1024-2048",
    "MASQUERADE --to-ports 1024",
    "REDIRECT --to-ports 8080",
    "REDIRECT",
];

/// Protocol options written before the target.
const PROTOCOLS: &[&str] = &[
    "",
    "-p tcp",
    "-p udp",
    "-p sctp",
    "-p dccp",
    "-p icmp",
    "-p 6",
    "! -p tcp",
    "-p udplite",
    "-p esp",
    "-p all",
];

#[test]
fn nat_ports_need_a_protocol_with_ports_as_the_kernel_says() {
    let test = "nat_ports_need_a_protocol_with_ports_as_the_kernel_says";
    let kernels = Kernel::all(test);
    if kernels.is_empty() {
        return;
    }
    let mut agreement = Agreement::default();
    for kernel in &kernels {
        for target in NAT_TARGETS {
            for protocol in PROTOCOLS {
                // PREROUTING takes DNAT and REDIRECT, POSTROUTING SNAT and
                // MASQUERADE: only the port can be wrong.
                let chain = if target.starts_with("SNAT") || target.starts_with("MASQUERADE") {
                    "POSTROUTING"
                } else {
                    "PREROUTING"
                };
                let (target_name, target_options) = target.split_once(' ').unwrap_or((target, ""));
                // iptables checks the port when it reads the option: the
                // `-p` before the target, between the target and its
                // option, and after it.
                for rule in [
                    format!("{protocol} -j {target}"),
                    format!("-j {target_name} {protocol} {target_options}"),
                    format!("-j {target} {protocol}"),
                ] {
                    let text = format!("*nat\n:{chain} ACCEPT [0:0]\n-A {chain} {rule}\nCOMMIT\n");
                    agreement.compare(kernel, Family::V4, &rule, &text);
                }
            }
        }
    }
    // Each of the six targets with a port is refused in every placement
    // without a protocol with ports (no -p, udplite, esp, all: 4 × 3), and
    // with one of the seven protocols with ports written after the port.
    assert_eq!(agreement.refused(), 6 * (4 * 3 + 7) * kernels.len());
}

/// Where `-p` stands relative to `-m multiport` and its ports.
const MULTIPORT_RULES: &[&str] = &[
    "{p} -m multiport --dports 22,80",
    "-m multiport {p} --sports 1024:2048",
    "-m multiport --ports 53 {p}",
];

/// Protocols for the multiport placements.
const MULTIPORT_PROTOCOLS: &[&str] = &[
    "",
    "-p tcp",
    "-p udp",
    "-p udplite",
    "-p sctp",
    "-p dccp",
    "-p icmp",
    "! -p tcp",
    "-p all",
    "-p 17",
];

#[test]
fn multiport_needs_a_protocol_with_ports_before_them_as_iptables_says() {
    let test = "multiport_needs_a_protocol_with_ports_before_them_as_iptables_says";
    let kernels = Kernel::all(test);
    if kernels.is_empty() {
        return;
    }
    let mut agreement = Agreement::default();
    for kernel in &kernels {
        for placement in MULTIPORT_RULES {
            for protocol in MULTIPORT_PROTOCOLS {
                let rule = placement.replace("{p}", protocol);
                let text =
                    format!("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT {rule} -j ACCEPT\nCOMMIT\n");
                agreement.compare(kernel, Family::V4, &rule, &text);
            }
        }
    }
    // Refused: no -p, icmp, ! -p tcp and all in every placement (4 x 3),
    // and the six protocols with ports when written after the ports.
    assert_eq!(agreement.refused(), (4 * 3 + 6) * kernels.len());
}

/// `--reject-with` values: names, aliases, prefixes and case as iptables
/// matches them, types of the other family, and `tcp-reset` with and
/// without `-p tcp`.
const REJECT_RULES: &[&str] = &[
    "-j REJECT --reject-with icmp-host-prohibited",
    "-j REJECT --reject-with host-prohib",
    "-j REJECT --reject-with ICMP-NET",
    "-j REJECT --reject-with icmp-port-unreachable",
    "-j REJECT --reject-with icmp6-port-unreachable",
    "-j REJECT --reject-with icmp6-adm-prohibited",
    "-j REJECT --reject-with adm-prohibited",
    "-j REJECT --reject-with port-unreach",
    "-j REJECT --reject-with echo-reply",
    "-j REJECT --reject-with bogus",
    "-p tcp -j REJECT --reject-with tcp-reset",
    "-p tcp -j REJECT --reject-with tcp-rst",
    "-p tcp -j REJECT --reject-with tcp",
    "-p 6 -j REJECT --reject-with tcp-reset",
    "-j REJECT --reject-with tcp-reset -p tcp",
    "-p udp -j REJECT --reject-with tcp-reset",
    "! -p tcp -j REJECT --reject-with tcp-reset",
    "-j REJECT --reject-with tcp-reset",
];

#[test]
fn reject_types_agree_with_the_kernel_in_both_families() {
    let test = "reject_types_agree_with_the_kernel_in_both_families";
    let kernels = Kernel::all(test);
    if kernels.is_empty() {
        return;
    }
    let mut agreement = Agreement::default();
    for kernel in &kernels {
        for family in [Family::V4, Family::V6] {
            // The header tells iptlint the family, as ip6tables-save writes it.
            let header = match family {
                Family::V4 => "# Generated by iptables-save v1.8.9",
                Family::V6 => "# Generated by ip6tables-save v1.8.9",
            };
            for rule in REJECT_RULES {
                let text =
                    format!("{header}\n*filter\n:INPUT ACCEPT [0:0]\n-A INPUT {rule}\nCOMMIT\n");
                agreement.compare(kernel, family, rule, &text);
            }
        }
    }
    // Refused in IPv4: the 3 IPv6 types, echo-reply, bogus and the 3
    // tcp-reset rules without `-p tcp`; in IPv6: the 4 IPv4-only names
    // (icmp-host-prohibited, host-prohib, ICMP-NET, icmp-port-unreachable),
    // echo-reply, bogus, tcp-rst and the 3 without `-p tcp`.
    assert_eq!(agreement.refused(), (8 + 10) * kernels.len());
}

/// Rules of the INPUT chain whose options iptables or the kernel checks:
/// protocol matches against `-p`, reversed port ranges, log levels, limit
/// bursts, recent without a command, NFQUEUE numbers. `true`
/// when the kernel refuses the rule (asserted, so a changed kernel shows).
const FILTER_RULES: &[(&str, bool)] = &[
    ("-p tcp -m tcp --dport 22 -j ACCEPT", false),
    // A host name loads when it resolves (here from /etc/hosts): a
    // host-name-address warning, no error. Names of digits and dots never
    // resolve.
    ("-s localhost -j ACCEPT", false),
    ("-s 10.0.0.1,localhost/24 -j ACCEPT", false),
    ("-d 1.2.3.4.5 -j ACCEPT", true),
    // Numbers as xtables_strtoui reads them: a `+` before hexadecimal and
    // octal too (`+0100` is 64).
    ("-m mark --mark 5/+0xff -j ACCEPT", false),
    ("-m dscp --dscp +0x3f -j ACCEPT", false),
    ("-m dscp --dscp +0100 -j ACCEPT", true),
    ("-p 6 -m tcp -j ACCEPT", false),
    ("-m udp -p udp -j ACCEPT", false),
    ("-p icmp -m icmp --icmp-type 8 -j ACCEPT", false),
    ("-m tcp -j ACCEPT", true),
    ("-p udp -m tcp -j ACCEPT", true),
    ("! -p tcp -m tcp -j ACCEPT", true),
    ("-p tcp -m udp --dport 53 -j ACCEPT", true),
    ("-m icmp --icmp-type 8 -j ACCEPT", true),
    ("-p udplite --dport 5 -j ACCEPT", true),
    ("-p tcp --dport 5:5 -j ACCEPT", false),
    ("-p tcp --sport 10:5 -j ACCEPT", true),
    ("-p tcp --dport ssh:ftp -j ACCEPT", true),
    ("-p sctp --dport 10:5 -j ACCEPT", true),
    ("-p udp --sport 10:5 -j ACCEPT", false),
    ("-p dccp --dport 10:5 -j ACCEPT", false),
    ("-p tcp -m multiport --dports 5:6,7 -j ACCEPT", false),
    ("-p tcp -m multiport --dports 10:5 -j ACCEPT", true),
    ("-p tcp -m multiport --dports 5:5 -j ACCEPT", true),
    ("-j LOG --log-level 7", false),
    ("-j LOG --log-level 07", false),
    ("-j LOG --log-level 0x4", false),
    ("-j LOG --log-level +4", false),
    ("-j LOG --log-level panic", false),
    ("-j LOG --log-level warning", false),
    ("-j LOG --log-level 8", true),
    ("-j LOG --log-level 010", true),
    ("-j LOG --log-level warn", true),
    ("-j LOG --log-level WARNING", true),
    ("-m limit --limit 5/sec --limit-burst 1 -j ACCEPT", false),
    ("-m limit --limit 5/sec --limit-burst 10001 -j ACCEPT", true),
    ("-m limit --limit 10000/second -j ACCEPT", false),
    ("-m limit --limit 20000/second -j ACCEPT", true),
    ("-m limit --limit 1.5/s -j ACCEPT", false),
    ("-m limit --limit 0.5/s -j ACCEPT", true),
    ("-m limit --limit 5/MIN -j ACCEPT", false),
    ("-m limit --limit 5/seconds -j ACCEPT", true),
    ("-m limit --limit 2/day -j ACCEPT", false),
    ("-m limit --limit 1/hour --limit-burst 200 -j ACCEPT", false),
    ("-m recent --rcheck --seconds 10 -j ACCEPT", false),
    ("-m recent --name x -j ACCEPT", true),
    ("-j NFQUEUE --queue-num 65535", false),
    ("-j NFQUEUE --queue-num 0x10", false),
    ("-j NFQUEUE --queue-num 65536", true),
    ("-j NFQUEUE --queue-num -1", true),
    ("-j NFQUEUE --queue-balance 1:3", false),
    ("-j NFQUEUE --queue-balance 3:1", true),
    ("-j NFQUEUE --queue-balance 1:1", true),
    ("-m dscp --dscp 63 -j ACCEPT", false),
    ("-m dscp --dscp 0x3f -j ACCEPT", false),
    ("-m dscp --dscp 70 -j ACCEPT", true),
    ("-m dscp --dscp-class ef -j ACCEPT", false),
    ("-m dscp --dscp-class AF44 -j ACCEPT", true),
    ("-m dscp -j ACCEPT", true),
    // Options given twice, or with one they exclude.
    ("-m dscp --dscp 10 --dscp-class EF -j ACCEPT", true),
    ("-s 192.0.2.1 -s 192.0.2.2 -j ACCEPT", true),
    ("-s 192.0.2.1 -d 192.0.2.2 -j ACCEPT", false),
    ("-i eth0 -i eth1 -j ACCEPT", true),
    ("-p tcp -p udp -j ACCEPT", true),
    ("-f -f -j ACCEPT", true),
    ("-p tcp --dport 1 --destination-port 2 -j ACCEPT", true),
    ("-p tcp -m tcp --dport 1 -m tcp --dport 2 -j ACCEPT", false),
    (
        "-p tcp -m tcp --dport 1 -m comment --comment x --dport 2 -j ACCEPT",
        true,
    ),
    ("-m comment --comment a --comment b -j ACCEPT", true),
    (
        "-m comment --comment a -m comment --comment b -j ACCEPT",
        false,
    ),
    ("-p tcp --tcp-flags SYN SYN --syn -j ACCEPT", true),
    (
        "-m statistic --mode random --probability 0.5 --every 2 -j ACCEPT",
        true,
    ),
    (
        "-m statistic --mode nth --every 2 --packet 1 -j ACCEPT",
        false,
    ),
    // `--every` also requires `--packet`; the other way round too.
    ("-m statistic --mode nth --every 2 -j ACCEPT", true),
    ("-m statistic --mode nth --packet 0 -j ACCEPT", true),
    // libxt_limit reads the count with atoi: a sign is allowed.
    ("-m limit --limit +5/s -j ACCEPT", false),
    ("-p tcp -m multiport --sports 1 --dports 2 -j ACCEPT", true),
    (
        "-m conntrack --ctstate NEW --ctstate ESTABLISHED -j ACCEPT",
        true,
    ),
    ("-j LOG --log-level 4 --log-level 5", true),
    ("-j LOG --log-prefix a --log-level 1", false),
    ("-j NFQUEUE --queue-num 1 --queue-num 2", true),
    // recent: one command; what only refines --rcheck and --update is
    // refused with --set and --remove (by iptables or by the kernel).
    ("-m recent --set --rcheck -j ACCEPT", true),
    ("-m recent --seconds 5 --remove -j ACCEPT", true),
    ("-m recent --set --hitcount 2 -j ACCEPT", true),
    ("-m recent --set --rttl -j ACCEPT", true),
    ("-m recent --rcheck --reap -j ACCEPT", true),
    ("-m recent --rcheck --seconds 0 -j ACCEPT", true),
    (
        "-m recent --rcheck --seconds 5 --reap --rttl --hitcount 3 -j ACCEPT",
        false,
    ),
    ("-m recent --update --rttl --seconds 1 -j ACCEPT", false),
    ("-m ttl --ttl-gt 1 --ttl-lt 5 -j ACCEPT", true),
    (
        "-m connlimit --connlimit-above 2 --connlimit-upto 3 -j ACCEPT",
        true,
    ),
    (
        "-m connlimit --connlimit-above 2 --connlimit-saddr --connlimit-daddr -j ACCEPT",
        true,
    ),
    ("-m connlimit --connlimit-saddr -j ACCEPT", true),
    ("-m connlimit --connlimit-above foo -j ACCEPT", true),
    ("-m connlimit --connlimit-upto 0x10 -j ACCEPT", false),
    // Options a module requires, and the values iptables takes.
    ("-m addrtype --src-type LOCAL,UNICAST -j ACCEPT", false),
    ("-m addrtype ! --dst-type local,broadcast -j ACCEPT", false),
    ("-m addrtype --src-type LOCAL, -j ACCEPT", true),
    ("-m addrtype --limit-iface-in -j ACCEPT", true),
    ("-m conntrack -j ACCEPT", true),
    ("-m conntrack --ctdir reply -j ACCEPT", false),
    ("-m conntrack --ctdir FOO -j ACCEPT", true),
    ("-m conntrack ! --ctdir ORIGINAL -j ACCEPT", true),
    ("-m conntrack --ctstatus assured,NONE -j ACCEPT", false),
    ("-m conntrack --ctstatus ASSURED, -j ACCEPT", true),
    ("-m conntrack --ctproto 0x11 -j ACCEPT", false),
    ("-m conntrack --ctproto 300 -j ACCEPT", true),
    ("-m conntrack --ctexpire 5: -j ACCEPT", false),
    ("-m conntrack --ctexpire 5:foo -j ACCEPT", true),
    ("-p 017 -j ACCEPT", false),
    ("-p 256 -j ACCEPT", true),
    ("-m pkttype --pkt-type Multicast -j ACCEPT", false),
    ("-m pkttype --pkt-type otherhost -j ACCEPT", false),
    ("-m pkttype --pkt-type 3 -j ACCEPT", true),
    // Ports: C notation for tcp and multiport (`08` is a bad octal
    // number), decimal modulo 65536 for udp.
    ("-p tcp -m tcp --dport 0x16 -j ACCEPT", false),
    ("-p tcp -m tcp --dport 08 -j ACCEPT", true),
    ("-p tcp -m multiport --dports 22,08 -j ACCEPT", true),
    ("-p udp -m multiport --dports 0x35 -j ACCEPT", false),
    ("-p udp -m udp --dport 0x35 -j ACCEPT", true),
    ("-p udp -m udp --dport 08:65536 -j ACCEPT", false),
    // Interface names: iptables loads `/` and spaces with a warning (and
    // iptlint warns: no interface has such a name), not 16 characters.
    ("-i eth/0 -j ACCEPT", false),
    ("! -i \"eth 0\" -j ACCEPT", false),
    ("-i 0123456789abcdef -j ACCEPT", true),
    // SYNPROXY answers TCP handshakes only.
    ("-j SYNPROXY --mss 1460", true),
    ("! -p tcp -j SYNPROXY", true),
    ("-p 6 -j SYNPROXY --wscale 7 --sack-perm", false),
    // Matches the kernel binds to one protocol: `-p` with it, not negated.
    ("-m tcpmss --mss 1000 -j ACCEPT", true),
    ("! -p tcp -m tcpmss --mss 1000 -j ACCEPT", true),
    ("-p 6 -m tcpmss --mss 1000:1500 -j ACCEPT", false),
    ("-m ipcomp --ipcompspi 1 -j ACCEPT", true),
    ("-p ipcomp -m ipcomp --ipcompspi 1 -j ACCEPT", false),
    ("-p udp -m osf --genre Linux -j ACCEPT", true),
    // `-m state` knows five states; SNAT and DNAT are conntrack's only.
    ("-m state --state new,INVALID,UNTRACKED -j ACCEPT", false),
    ("-m state --state NEW,dnat -j ACCEPT", true),
    ("-m conntrack --ctstate NEW,dnat -j ACCEPT", false),
    // libxt_pkttype's aliases: `bcast` and `mcast`, not `ucast`.
    ("-m pkttype --pkt-type bcast -j ACCEPT", false),
    ("-m pkttype --pkt-type MCAST -j ACCEPT", false),
    ("-m pkttype --pkt-type ucast -j ACCEPT", true),
    ("-m pkttype -j ACCEPT", true),
    ("-m iprange -j ACCEPT", true),
    ("-p tcp -m multiport -j ACCEPT", true),
    ("-p tcp -m tcp --tcp-option 0x10 -j ACCEPT", false),
    ("-p tcp -m tcp --tcp-option 0 -j ACCEPT", true),
    ("-p tcp -m tcp --tcp-option 256 -j ACCEPT", true),
    ("-p icmp -m icmp --icmp-type echo-rep -j ACCEPT", false),
    ("-p icmp -m icmp --icmp-type PING -j ACCEPT", false),
    ("-p icmp -m icmp --icmp-type 3/1:2 -j ACCEPT", false),
    ("-p icmp -m icmp --icmp-type 0x03/0x01 -j ACCEPT", false),
    ("-p icmp -m icmp --icmp-type echo -j ACCEPT", true),
    ("-p icmp -m icmp --icmp-type foo -j ACCEPT", true),
    ("-p icmp -m icmp --icmp-type 256 -j ACCEPT", true),
    ("-p icmp -m icmp --icmp-type 3:4 -j ACCEPT", true),
    ("-p icmp -m icmp --icmp-type 3/ -j ACCEPT", true),
    ("-p icmp -m icmp --icmp-type 8x -j ACCEPT", true),
    ("-j MARK", true),
    ("-j CONNMARK --mask 1", true),
    ("-j CONNMARK --save-mark --mask 0xff", false),
    ("-j NFQUEUE --queue-num 1 --queue-balance 1:3", true),
    ("-j NFQUEUE --queue-num 1 --queue-cpu-fanout", true),
    ("-j NFQUEUE --queue-cpu-fanout --queue-balance 1:3", false),
    (
        "-m hashlimit --hashlimit-upto 5/sec --hashlimit-name a --hashlimit-mode srcip, -j ACCEPT",
        false,
    ),
    (
        "-m hashlimit --hashlimit-upto 5/sec --hashlimit-name a --hashlimit-mode SRCIP -j ACCEPT",
        true,
    ),
    (
        "-m hashlimit --hashlimit-upto 5/sec --hashlimit-above 5/sec --hashlimit-name a -j ACCEPT",
        true,
    ),
    ("-m hashlimit --hashlimit-above 5/sec -j ACCEPT", true),
    ("-m hashlimit --hashlimit-name a -j ACCEPT", true),
    (
        "-m time --timestart 9:5 --timestop 23:59:59 -j ACCEPT",
        false,
    ),
    ("-m time --timestart 10: -j ACCEPT", false),
    ("-m time --timestart 24:00 -j ACCEPT", true),
    ("-m time --timestart 10:60 -j ACCEPT", true),
    ("-m time --timestart 0x1:00 -j ACCEPT", true),
    ("-m time ! --timestart 10:00 -j ACCEPT", true),
    (
        "-m time --timestart 22:00 --timestop 06:00 --contiguous -j ACCEPT",
        false,
    ),
    ("-m time --timestart 10:00 --contiguous -j ACCEPT", true),
    ("-m time --kerneltz --utc -j ACCEPT", true),
    ("-m u32 -j ACCEPT", true),
    ("-m u32 --u32 0>>22&0x3C@0>>16=0x0:0x5 -j ACCEPT", false),
    ("-m u32 --u32 =1 -j ACCEPT", true),
    ("-m u32 --u32 0 -j ACCEPT", true),
    ("-m u32 --u32 0= -j ACCEPT", true),
    ("-m u32 --u32 0=1&2=3 -j ACCEPT", true),
    ("-m u32 --u32 0<2=1 -j ACCEPT", true),
    ("-m u32 --u32 0x=1 -j ACCEPT", true),
    ("-m u32 --u32 0&1&2&3&4&5&6&7&8&9=1 -j ACCEPT", false),
    ("-m u32 --u32 0&1&2&3&4&5&6&7&8&9&10=1 -j ACCEPT", true),
    ("-m u32 --u32 0=1,2,3,4,5,6,7,8,9,10,11 -j ACCEPT", true),
    (
        "-m u32 --u32 0=1&&0=1&&0=1&&0=1&&0=1&&0=1&&0=1&&0=1&&0=1&&0=1 -j ACCEPT",
        false,
    ),
    (
        "-m u32 --u32 0=1&&0=1&&0=1&&0=1&&0=1&&0=1&&0=1&&0=1&&0=1&&0=1&&0=1 -j ACCEPT",
        true,
    ),
    ("-m u32 ! --u32 0=-1 -j ACCEPT", true),
    ("-m u32 --u32 0=4294967296 -j ACCEPT", true),
    ("-m u32 --u32 \"0 >> 22 = 1\" -j ACCEPT", false),
    ("-m u32 --u32 0=1:2:3 -j ACCEPT", true),
    ("-m policy --pol none -j ACCEPT", true),
    (
        "-m policy --dir in --pol ipsec --proto esp -j ACCEPT",
        false,
    ),
    ("-m policy --dir in --pol ipsec --proto tcp -j ACCEPT", true),
    ("-m policy --dir in --pol ipsec --proto ESP -j ACCEPT", true),
    // The aliases of /etc/protocols, as written only.
    (
        "-m policy --dir in --pol ipsec --proto IPSEC-ESP -j ACCEPT",
        false,
    ),
    (
        "-m policy --dir in --pol ipsec --proto IPCOMP -j ACCEPT",
        false,
    ),
    (
        "-m policy --dir in --pol ipsec --proto ipsec-ah -j ACCEPT",
        true,
    ),
    (
        "-m policy --dir in --pol ipsec --proto esp --next --proto ah -j ACCEPT",
        true,
    ),
    (
        "-m policy --dir in --pol ipsec --strict --proto esp --next --proto ah -j ACCEPT",
        false,
    ),
    (
        "-m policy --dir in --pol ipsec --strict --proto esp --next -j ACCEPT",
        true,
    ),
    (
        "-m policy --dir in --pol ipsec --spi 5 --spi 6 -j ACCEPT",
        true,
    ),
    (
        "-m policy --dir in --pol ipsec --strict --spi 1 --next --spi 1 --spi 2 -j ACCEPT",
        true,
    ),
    (
        "-m policy --dir in --pol ipsec --strict --spi 1 --next --spi 2 --next --spi 3 --next --spi 4 -j ACCEPT",
        false,
    ),
    (
        "-m policy --dir in --pol ipsec --strict --spi 1 --next --spi 2 --next --spi 3 --next --spi 4 --next --spi 5 -j ACCEPT",
        true,
    ),
    (
        "-m policy --dir in --pol ipsec --tunnel-src 10.0.0.1 -j ACCEPT",
        true,
    ),
    (
        "-m policy --dir in --pol ipsec ! --mode tunnel --tunnel-dst 10.0.0.1 -j ACCEPT",
        true,
    ),
    (
        "-m policy --dir in --pol ipsec --tunnel-src 10.0.0.0/33 --mode tunnel -j ACCEPT",
        false,
    ),
    ("-m policy --dir in --pol none --strict -j ACCEPT", true),
    ("-m policy --dir in --pol none --proto esp -j ACCEPT", false),
    ("-m policy --dir in ! --pol none -j ACCEPT", true),
    ("-m policy --dir IN --pol none -j ACCEPT", true),
    ("-m policy --dir in --pol ipsec --foo -j ACCEPT", true),
    ("-m conntrack --ctorigsrc 10.0.0.0/33 -j ACCEPT", false),
    (
        "-m conntrack --ctorigsrc 10.0.0.0/4294967296 -j ACCEPT",
        true,
    ),
    ("-m conntrack --ctorigsrc 10.0.0.0/0x10 -j ACCEPT", false),
    ("-m conntrack --ctorigsrc 10.0.0.0/08 -j ACCEPT", true),
    (
        "-m conntrack --ctorigsrc 10.0.0.0/255.0.255.0 -j ACCEPT",
        false,
    ),
    (
        "-m conntrack --ctorigsrc 10.0.0.0/255.255.255 -j ACCEPT",
        false,
    ),
    ("-m conntrack --ctorigsrc 10.0.0.0/ffff:: -j ACCEPT", true),
    (
        "-m conntrack --ctorigsrc 10.0.0.0/1.16777216 -j ACCEPT",
        true,
    ),
    ("-m conntrack --ctorigsrcport 70000 -j ACCEPT", false),
    ("-m conntrack --ctorigsrcport 4294967297 -j ACCEPT", false),
    ("-m conntrack --ctorigsrcport 2147483648 -j ACCEPT", true),
    ("-m conntrack --ctorigsrcport -2 -j ACCEPT", true),
    ("-m conntrack --ctorigsrcport 0x10 -j ACCEPT", true),
    ("-m conntrack --ctorigsrcport : -j ACCEPT", false),
    ("-m conntrack --ctorigsrcport 5:3 -j ACCEPT", false),
    ("-m conntrack --ctorigsrcport 5::6 -j ACCEPT", true),
    ("-m conntrack --ctorigsrcport +5 -j ACCEPT", false),
    (
        "-m conntrack ! --ctorigdst 10.1.0.0/255.0.255.0 -j ACCEPT",
        false,
    ),
    ("-m string --string foo -j ACCEPT", true),
    ("-m string --algo bm --string foo -j ACCEPT", false),
    ("-m string --algo kmp -j ACCEPT", true),
    ("-m string --algo fsm --string a -j ACCEPT", true),
    (
        "-m string --algo bm --string a --hex-string |41| -j ACCEPT",
        true,
    ),
    ("-m string ! --algo bm --string a -j ACCEPT", true),
    ("-m string --algo bm ! --string a --icase -j ACCEPT", false),
    (
        "-m string --algo bm --string a --from 10 --to 5 -j ACCEPT",
        true,
    ),
    (
        "-m string --algo bm --string a --from 65536 -j ACCEPT",
        true,
    ),
    (
        "-m string --algo bm --string a --from 0x10 --to 16 -j ACCEPT",
        false,
    ),
    (
        "-m string --algo bm --string aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa -j ACCEPT",
        true,
    ),
    ("-m string --algo bm --string a --foo -j ACCEPT", true),
    ("-m helper -j ACCEPT", true),
    ("-m helper ! --helper ftp -j ACCEPT", false),
    ("-m devgroup -j ACCEPT", true),
    ("-m devgroup --src-group 1/0xf -j ACCEPT", false),
    ("-m cpu -j ACCEPT", true),
    ("-m cpu ! --cpu 4294967295 -j ACCEPT", false),
    ("-m cpu --cpu 4294967296 -j ACCEPT", true),
    ("-m quota --quota 18446744073709551615 -j ACCEPT", false),
    ("-m quota --quota x -j ACCEPT", true),
    ("-m connbytes --connbytes 10 -j ACCEPT", true),
    (
        "-m connbytes --connbytes 10: --connbytes-dir both --connbytes-mode bytes -j ACCEPT",
        false,
    ),
    (
        "-m connbytes --connbytes 10:5 --connbytes-dir both --connbytes-mode bytes -j ACCEPT",
        true,
    ),
    (
        "-m connbytes --connbytes 10 --connbytes-dir BOTH --connbytes-mode bytes -j ACCEPT",
        true,
    ),
    (
        "-m connbytes --connbytes 10 ! --connbytes-dir both --connbytes-mode bytes -j ACCEPT",
        true,
    ),
    ("-m tos -j ACCEPT", true),
    ("-m tos ! --tos minimize-cost -j ACCEPT", false),
    ("-m tos --tos 0x10/0x3f -j ACCEPT", false),
    ("-m tos --tos 256 -j ACCEPT", true),
    ("-m tos --tos 0x10/ -j ACCEPT", true),
    ("-m tos --tos normal -j ACCEPT", true),
    (
        "-m hashlimit --hashlimit-name a --hashlimit-upto 5/s -j ACCEPT",
        false,
    ),
    (
        "-m hashlimit --hashlimit-name a --hashlimit-upto 5/SEC -j ACCEPT",
        false,
    ),
    (
        "-m hashlimit --hashlimit-name a --hashlimit-upto 5/seconds -j ACCEPT",
        true,
    ),
    (
        "-m hashlimit --hashlimit-name a --hashlimit-upto 0/s -j ACCEPT",
        true,
    ),
    (
        "-m hashlimit --hashlimit-name a --hashlimit-upto 1000000/s -j ACCEPT",
        false,
    ),
    (
        "-m hashlimit --hashlimit-name a --hashlimit-upto 1000001/s -j ACCEPT",
        true,
    ),
    (
        "-m hashlimit --hashlimit-name a --hashlimit-upto 1000001/m -j ACCEPT",
        false,
    ),
    (
        "-m hashlimit --hashlimit-name a --hashlimit-upto -5/s -j ACCEPT",
        true,
    ),
    (
        "-m hashlimit --hashlimit-name a --hashlimit-upto 1.5/s -j ACCEPT",
        false,
    ),
    (
        "-m hashlimit --hashlimit-name a --hashlimit-upto 5kb/s -j ACCEPT",
        false,
    ),
    (
        "-m hashlimit --hashlimit-name a --hashlimit-upto 0b/s -j ACCEPT",
        true,
    ),
    (
        "-m hashlimit --hashlimit-name a --hashlimit-upto b/s -j ACCEPT",
        true,
    ),
    (
        "-m hashlimit --hashlimit-name a --hashlimit-upto 33554431kb/s -j ACCEPT",
        false,
    ),
    (
        "-m hashlimit --hashlimit-name a --hashlimit-upto 33554432kb/s -j ACCEPT",
        true,
    ),
    (
        "-m hashlimit --hashlimit-name a --hashlimit-upto 5/ -j ACCEPT",
        true,
    ),
    (
        "-m hashlimit --hashlimit-name a --hashlimit-upto 5/s --hashlimit-burst 0 -j ACCEPT",
        true,
    ),
    (
        "-m hashlimit --hashlimit-name a --hashlimit-upto 5/s --hashlimit-burst 1000000 -j ACCEPT",
        false,
    ),
    (
        "-m hashlimit --hashlimit-name a --hashlimit-upto 5/s --hashlimit-burst 1000001 -j ACCEPT",
        true,
    ),
    (
        "-m hashlimit --hashlimit-name a --hashlimit-upto 5/s --hashlimit-burst 976k -j ACCEPT",
        false,
    ),
    (
        "-m hashlimit --hashlimit-name a --hashlimit-upto 5/s --hashlimit-burst 977k -j ACCEPT",
        true,
    ),
    (
        "-m hashlimit --hashlimit-name a --hashlimit-upto 5/s --hashlimit-burst 5x -j ACCEPT",
        false,
    ),
    (
        "-m hashlimit --hashlimit-name a --hashlimit-upto 5/s --hashlimit-burst -1 -j ACCEPT",
        true,
    ),
    (
        "-m hashlimit --hashlimit-name a --hashlimit-upto 5/s --hashlimit-burst 08 -j ACCEPT",
        true,
    ),
    (
        "-m hashlimit --hashlimit-name a --hashlimit-upto 1/day --hashlimit-burst 1 -j ACCEPT",
        false,
    ),
    (
        "-m hashlimit --hashlimit-name a --hashlimit-upto 1/day --hashlimit-burst 2 -j ACCEPT",
        true,
    ),
    (
        "-m hashlimit --hashlimit-name a --hashlimit-upto 1/day -j ACCEPT",
        true,
    ),
    (
        "-m hashlimit --hashlimit-name a --hashlimit-upto 1/hour --hashlimit-burst 1000000 -j ACCEPT",
        false,
    ),
    (
        "-m hashlimit --hashlimit-name a --hashlimit-upto 5kb/s --hashlimit-burst 5 -j ACCEPT",
        true,
    ),
    (
        "-m hashlimit --hashlimit-name a --hashlimit-upto 5kb/s --hashlimit-burst 5k -j ACCEPT",
        false,
    ),
    (
        "-m hashlimit --hashlimit-name a --hashlimit-upto 1000001/m --hashlimit-rate-match -j ACCEPT",
        true,
    ),
    (
        "-m hashlimit --hashlimit-name a --hashlimit-upto 100/m --hashlimit-rate-match -j ACCEPT",
        false,
    ),
    (
        "-m hashlimit --hashlimit-name a --hashlimit-upto 33554432kb/s --hashlimit-rate-match -j ACCEPT",
        false,
    ),
    (
        "-m hashlimit --hashlimit-name a --hashlimit-upto 5/s --hashlimit-htable-expire 0 -j ACCEPT",
        true,
    ),
    (
        "-m hashlimit --hashlimit-name a --hashlimit-upto 5/s --hashlimit-htable-gcinterval 0 -j ACCEPT",
        true,
    ),
    (
        "-m hashlimit --hashlimit-name a --hashlimit-upto 5/s --hashlimit-htable-size 0x10 -j ACCEPT",
        false,
    ),
    (
        "-m hashlimit --hashlimit-name a --hashlimit-upto 5/s --hashlimit-htable-max 5x -j ACCEPT",
        true,
    ),
    (
        "-m hashlimit --hashlimit-name a --hashlimit-upto 5/s --hashlimit-rate-interval 5x -j ACCEPT",
        false,
    ),
    (
        "-m hashlimit --hashlimit-name a --hashlimit-upto 5/s --hashlimit-rate-interval -5 -j ACCEPT",
        true,
    ),
    (
        "-m hashlimit --hashlimit-name a --hashlimit-upto 5/s --hashlimit-mode srcip|dstip -j ACCEPT",
        false,
    ),
    (
        "-m hashlimit --hashlimit-name a --hashlimit-upto 5/s --hashlimit-mode , -j ACCEPT",
        false,
    ),
    (
        "-m hashlimit --hashlimit-name a --hashlimit-upto 5/s --hashlimit-mode src -j ACCEPT",
        true,
    ),
    (
        "-m hashlimit --hashlimit-name a --hashlimit-upto 5/s ! --hashlimit-mode srcip -j ACCEPT",
        true,
    ),
    (
        "-m hashlimit --hashlimit-name a ! --hashlimit-above 5/s -j ACCEPT",
        false,
    ),
    (
        "-m hashlimit --hashlimit-name . --hashlimit-upto 5/s -j ACCEPT",
        true,
    ),
    (
        "-m hashlimit --hashlimit-name .. --hashlimit-upto 5/s -j ACCEPT",
        true,
    ),
    (
        "-m hashlimit --hashlimit-name ... --hashlimit-upto 5/s -j ACCEPT",
        false,
    ),
    (
        "-m hashlimit --hashlimit-name a/b --hashlimit-upto 5/s -j ACCEPT",
        true,
    ),
    ("-m time --timestart +9:05: -j ACCEPT", false),
    ("-m time --timestart 9:+5 -j ACCEPT", false),
    ("-m time --timestart 9:5x -j ACCEPT", true),
    ("-m time --weekdays Mon,Tue -j ACCEPT", false),
    ("-m time --weekdays Monday -j ACCEPT", false),
    ("-m time --weekdays MON -j ACCEPT", true),
    ("-m time --weekdays S -j ACCEPT", true),
    ("-m time --weekdays 7 -j ACCEPT", false),
    ("-m time --weekdays 0 -j ACCEPT", true),
    ("-m time --weekdays Mon,,Tue -j ACCEPT", true),
    ("-m time --weekdays Mon, -j ACCEPT", false),
    ("-m time --weekdays 08 -j ACCEPT", true),
    ("-m time ! --weekdays Sa,Su -j ACCEPT", false),
    ("-m time --monthdays 1,15,31 -j ACCEPT", false),
    ("-m time --monthdays 32 -j ACCEPT", true),
    ("-m time --monthdays 123 -j ACCEPT", false),
    ("-m time --monthdays 0x1f -j ACCEPT", true),
    ("-m time --monthdays 1,,2 -j ACCEPT", false),
    ("-m time --monthdays -1 -j ACCEPT", true),
    ("-m time --datestart 2020-01-01T10:00:00 -j ACCEPT", false),
    ("-m time --datestart 2038 -j ACCEPT", false),
    ("-m time --datestart 1969 -j ACCEPT", true),
    ("-m time --datestart 2039 -j ACCEPT", true),
    ("-m time --datestart 2020-13 -j ACCEPT", true),
    ("-m time --datestart 2020-00 -j ACCEPT", false),
    ("-m time --datestart 1970-01-00 -j ACCEPT", true),
    ("-m time --datestart 2020-01-01T24 -j ACCEPT", true),
    ("-m time --datestart +2020 -j ACCEPT", false),
    ("-m time --datestart 0x7e4 -j ACCEPT", true),
    ("-m time --datestart 2020-- -j ACCEPT", false),
    ("-m time --datestart 2020-+ -j ACCEPT", true),
    ("-p esp --espspi 1 -j ACCEPT", false),
    ("-p 50 -m esp --espspi 1:5 -j ACCEPT", false),
    ("-m esp --espspi 1 -j ACCEPT", true),
    ("! -p esp -m esp --espspi 1 -j ACCEPT", true),
    ("-p ah --ahspi 1 -j ACCEPT", false),
    ("-p tcp -m ecn --ecn-tcp-ece -j ACCEPT", false),
    ("-m ecn --ecn-tcp-cwr -j ACCEPT", true),
    ("-p udp -m ecn --ecn-ip-ect 0x2 -j ACCEPT", false),
    ("-m ecn --ecn-ip-ect 4 -j ACCEPT", true),
    ("-m ecn -j ACCEPT", true),
    ("-j NFLOG --nflog-group 0x10 --nflog-threshold 65535", false),
    ("-j NFLOG --nflog-group 65536", true),
    ("-j NFLOG --nflog-group foo", true),
    ("-j NFLOG --nflog-size 4294967295", false),
    ("-j NFLOG --nflog-size 4294967296", true),
    ("-j NFLOG --nflog-size 5 --nflog-range 4", true),
    ("-j NFLOG --nflog-foo", true),
    ("-j NFLOG", false),
];

/// ICMPv6 types as ip6tables reads them: its own names (no `any`), any
/// unambiguous beginning of one, numbers with a code but no type range.
const ICMPV6_RULES: &[(&str, bool)] = &[
    (
        "-p icmpv6 -m icmp6 --icmpv6-type neighbour-s -j ACCEPT",
        false,
    ),
    ("-p icmpv6 -m icmp6 --icmpv6-type ping -j ACCEPT", false),
    ("-p icmpv6 -m icmp6 --icmpv6-type 1/3 -j ACCEPT", false),
    ("-p icmpv6 -m icmp6 --icmpv6-type neigh -j ACCEPT", true),
    ("-p icmpv6 -m icmp6 --icmpv6-type any -j ACCEPT", true),
    ("-p icmpv6 -m icmp6 --icmpv6-type 1:3 -j ACCEPT", true),
];

/// `-m ah` needs `-p ah` in IPv4 only: ip6tables' ah match looks for AH
/// among the extension headers; hashlimit's masks and the extensions of one
/// family only depend on it too. The dumps say their family in the header.
#[test]
fn family_dependent_rules_agree_with_the_kernel() {
    let test = "family_dependent_rules_agree_with_the_kernel";
    let kernels = Kernel::all(test);
    if kernels.is_empty() {
        return;
    }
    let rules = [
        ("-m ah --ahspi 1 -j ACCEPT", [true, false]),
        ("-p tcp -m ah --ahspi 1 -j ACCEPT", [true, false]),
        ("-p ah -m ah --ahspi 1 -j ACCEPT", [false, false]),
        // [refused in IPv4, refused in IPv6]
        // Extensions of one family only (libipt_*, libip6t_*); mh needs
        // its protocol.
        ("-m ttl --ttl-eq 5 -j ACCEPT", [false, true]),
        ("-m hl --hl-eq 5 -j ACCEPT", [true, false]),
        ("-p icmp -m icmp --icmp-type 8 -j ACCEPT", [false, true]),
        (
            "-p ipv6-icmp -m icmp6 --icmpv6-type 1 -j ACCEPT",
            [true, false],
        ),
        ("-m frag -j ACCEPT", [true, false]),
        ("-p tcp -m osf --genre Linux -j ACCEPT", [false, true]),
        ("-m rt -j ACCEPT", [true, false]),
        ("-p mh -m mh -j ACCEPT", [true, false]),
        ("-m mh -j ACCEPT", [true, true]),
        // Addresses of the dump's family only.
        (
            "-m policy --dir in --pol ipsec --mode tunnel --tunnel-src 10.0.0.1 -j ACCEPT",
            [false, true],
        ),
        (
            "-m policy --dir in --pol ipsec --mode tunnel --tunnel-dst fd00::1/64 -j ACCEPT",
            [true, false],
        ),
        (
            "-m hashlimit --hashlimit-name a --hashlimit-upto 5/s --hashlimit-srcmask 32",
            [false, false],
        ),
        (
            "-m hashlimit --hashlimit-name a --hashlimit-upto 5/s --hashlimit-srcmask 33",
            [true, false],
        ),
        (
            "-m hashlimit --hashlimit-name a --hashlimit-upto 5/s --hashlimit-dstmask 128",
            [true, false],
        ),
        (
            "-m hashlimit --hashlimit-name a --hashlimit-upto 5/s --hashlimit-srcmask 129",
            [true, true],
        ),
        (
            "-m hashlimit --hashlimit-name a --hashlimit-upto 5/s --hashlimit-srcmask 255.255.0.0",
            [false, true],
        ),
        (
            "-m hashlimit --hashlimit-name a --hashlimit-upto 5/s --hashlimit-srcmask ffff:ffff::",
            [true, false],
        ),
        (
            "-m hashlimit --hashlimit-name a --hashlimit-upto 5/s --hashlimit-srcmask 255.0.255.0",
            [true, true],
        ),
        (
            "-m hashlimit --hashlimit-name a --hashlimit-upto 5/s --hashlimit-dstmask ffff:0:ffff::",
            [true, true],
        ),
        // `-s`/`-d` as libxtables reads them: masks with gaps, prefixes
        // and IPv4 numbers in C notation, short IPv4 networks, `inet_aton`
        // forms, any name with a mask of zero, comma lists (one rule per
        // pair), and addresses of the other family.
        ("-s 10.0.0.0/255.0.255.0 -j ACCEPT", [false, true]),
        ("! -d 10.1.2.3/255.255.0.255 -j DROP", [false, true]),
        ("-s fd00::/ffff:0:ffff:: -j ACCEPT", [true, false]),
        ("-s fd00::/ffff:ffff:: -j ACCEPT", [true, false]),
        ("-s 10.0.0.0/010 -j ACCEPT", [false, true]),
        ("-s 10.0.0.0/0x10 -j ACCEPT", [false, true]),
        ("-s fd00::1/0x40 -j ACCEPT", [true, false]),
        ("-s 10.1 -j ACCEPT", [false, true]),
        ("-s 0x0a.0.0.1 -j ACCEPT", [false, true]),
        ("-s 0x0a000001 -j ACCEPT", [false, true]),
        ("-s nonsense/0 -j ACCEPT", [false, false]),
        // A mask of zero written as an address: the host is ignored, the
        // mask read in the tool's family only.
        ("-s nonsense/0.0.0.0 -j ACCEPT", [false, true]),
        ("-d fd00::1/0.0.0.0 -j ACCEPT", [false, true]),
        ("-s 10.0.0.1/:: -j ACCEPT", [true, false]),
        ("-s nonsense/::,fd00::1 -j ACCEPT", [true, false]),
        ("-s \"x/0.0.0.0\",fd00::1 -j ACCEPT", [true, true]),
        ("-s fd00::1/255.0.0.0 -j ACCEPT", [true, true]),
        ("-s ::ffff:1.2.3.4 -j ACCEPT", [false, false]),
        ("-s 10.0.0.0 -j ACCEPT", [false, true]),
        ("-d fd00::1 -j ACCEPT", [true, false]),
        (
            "-s 10.0.0.1,10.0.0.2 -d 10.0.0.3,10.0.0.4 -j ACCEPT",
            [false, true],
        ),
        ("-s 10.0.0.1/8,10.0.0.2 -j ACCEPT", [false, true]),
        ("-s fd00::1,fd00::2 -j ACCEPT", [true, false]),
        ("! -s 10.0.0.1,10.0.0.2 -j ACCEPT", [true, true]),
        ("-s 10.0.0.7,fd00::1 -j DROP", [true, true]),
        ("-s 10.0.0.1, -j ACCEPT", [true, true]),
        ("-s 10.0.0.1/8/8 -j ACCEPT", [true, true]),
        ("-s 1.2.3.4.5 -j ACCEPT", [true, true]),
        ("-s 010.0.0.0008 -j ACCEPT", [true, true]),
        ("-s 10.0.0.0/ -j ACCEPT", [true, true]),
        ("-s 10.0.0.1/-1 -j ACCEPT", [true, true]),
        ("-s 10.0.0.1/33 -j ACCEPT", [true, true]),
        ("-s fd00::/129 -j ACCEPT", [true, true]),
        // Addresses of conntrack and iprange, and ranges across families.
        ("-m conntrack --ctorigdst 10.0.0.1 -j ACCEPT", [false, true]),
        ("-m conntrack --ctreplsrc fd00::1 -j ACCEPT", [true, false]),
        (
            "-m conntrack --ctorigsrc 10.0.0.0/8 --ctrepldst fd00::/64 -j ACCEPT",
            [true, true],
        ),
        ("-m conntrack ! --ctorigsrc fd00::1 -j DROP", [true, false]),
        (
            "-m iprange --src-range 10.0.0.1-10.0.0.9 -j ACCEPT",
            [false, true],
        ),
        (
            "-m iprange --dst-range fd00::1-fd00::9 -j ACCEPT",
            [true, false],
        ),
        ("-m iprange ! --dst-range 10.0.0.1 -j ACCEPT", [false, true]),
        (
            "-m iprange --src-range 10.0.0.1-fd00::9 -j ACCEPT",
            [true, true],
        ),
        // ip6tables' extension-header matches: their values, option
        // order and exclusions (IPv4 has none of them).
        (
            "-m ipv6header --header frag,hop --soft -j ACCEPT",
            [true, false],
        ),
        (
            "-m ipv6header ! --header ipv6-frag,IPSEC-AH,,255 -j ACCEPT",
            [true, false],
        ),
        ("-m ipv6header --header tcp -j ACCEPT", [true, true]),
        ("-m ipv6header --soft -j ACCEPT", [true, true]),
        (
            "-m frag ! --fragid 0x10:20 --fragfirst --fragmore -j ACCEPT",
            [true, false],
        ),
        ("-m frag --fragmore --fraglast -j ACCEPT", [true, true]),
        ("-m frag --fragid 1:2:3 -j ACCEPT", [true, true]),
        (
            "-m rt --rt-type 0 --rt-0-res --rt-0-addrs fd00::1,fd00::2 --rt-0-not-strict -j ACCEPT",
            [true, false],
        ),
        ("-m rt --rt-0-res --rt-type 0 -j ACCEPT", [true, true]),
        (
            "-m rt ! --rt-type 0 --rt-0-addrs fd00::1 -j ACCEPT",
            [true, true],
        ),
        (
            "-m rt --rt-type 0 --rt-0-addrs 10.0.0.1 -j ACCEPT",
            [true, true],
        ),
        (
            "-m hbh ! --hbh-len 8 --hbh-opts 1:2,3 -j ACCEPT",
            [true, false],
        ),
        ("-m dst --dst-len x -j ACCEPT", [true, true]),
        ("-p mh -m mh ! --mh-type BU:be -j ACCEPT", [true, false]),
        ("-p mh -m mh --mh-type bogus -j ACCEPT", [true, true]),
        ("-p mh -m mh --mh-type 5:3 -j ACCEPT", [true, true]),
        ("-m eui64 -j ACCEPT", [true, false]),
        (
            "-m hbh --hbh-opts 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,0x10 -j ACCEPT",
            [true, false],
        ),
        (
            "-m hbh --hbh-opts 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17 -j ACCEPT",
            [true, true],
        ),
        ("-m dst --dst-opts 1:x -j ACCEPT", [true, true]),
        ("-m hbh ! --hbh-opts 1 -j ACCEPT", [true, true]),
        // The SPI ranges of esp, ah and ipcomp; ah's length and reserved
        // field are ip6tables' only.
        ("-p esp -m esp ! --espspi 0x10:20 -j ACCEPT", [false, false]),
        ("-p esp -m esp --espspi x -j ACCEPT", [true, true]),
        (
            "-p ah -m ah --ahspi 1:2 --ahlen 5 --ahres -j ACCEPT",
            [true, false],
        ),
        (
            "-p ipcomp -m ipcomp --ipcompspi 1:2 --compres -j ACCEPT",
            [false, false],
        ),
        (
            "-p ipcomp -m ipcomp --ipcompspi 1:2:3 -j ACCEPT",
            [true, true],
        ),
        // recent's mask is an address of the dump's family.
        (
            "-m recent --name a --rcheck --mask 255.255.255.0 -j ACCEPT",
            [false, true],
        ),
        (
            "-m recent --name a --set --mask ffff:ffff:: -j ACCEPT",
            [true, false],
        ),
        // The address types the IPv6 kernel does not match, negated or not,
        // in any case; the others load in both families.
        (
            "-m addrtype --src-type LOCAL,BROADCAST -j ACCEPT",
            [false, true],
        ),
        (
            "-m addrtype ! --dst-type broadcast -j ACCEPT",
            [false, true],
        ),
        ("-m addrtype --dst-type BLACKHOLE -j ACCEPT", [false, true]),
        ("-m addrtype --dst-type PROHIBIT -j ACCEPT", [false, true]),
        ("-m addrtype --dst-type THROW -j ACCEPT", [false, true]),
        ("-m addrtype --dst-type NAT -j ACCEPT", [false, true]),
        ("-m addrtype --dst-type XRESOLVE -j ACCEPT", [false, true]),
        (
            "-m addrtype --src-type UNSPEC,UNICAST,LOCAL,ANYCAST,MULTICAST,UNREACHABLE -j ACCEPT",
            [false, false],
        ),
    ];
    // eui64 reads the MAC address of packets coming in: not in OUTPUT.
    // ip6tables' prefix translation: mangle only, DNPT on the way in, SNPT
    // on the way out, prefixes up to /64 with no bit past the length.
    let npt = "--src-pfx fd00::/48 --dst-pfx fd01::/64";
    let placed = [
        (
            "filter",
            "OUTPUT",
            "-m eui64 -j ACCEPT".to_string(),
            [true, true],
        ),
        (
            "mangle",
            "PREROUTING",
            format!("-j DNPT {npt}"),
            [true, false],
        ),
        ("mangle", "OUTPUT", format!("-j DNPT {npt}"), [true, false]),
        (
            "mangle",
            "POSTROUTING",
            format!("-j DNPT {npt}"),
            [true, true],
        ),
        (
            "mangle",
            "POSTROUTING",
            format!("-j SNPT {npt}"),
            [true, false],
        ),
        ("mangle", "INPUT", format!("-j SNPT {npt}"), [true, false]),
        ("mangle", "FORWARD", format!("-j SNPT {npt}"), [true, true]),
        ("nat", "PREROUTING", format!("-j DNPT {npt}"), [true, true]),
        (
            "mangle",
            "PREROUTING",
            "-j DNPT --src-pfx fd00::1/64 --dst-pfx fd01::/64".to_string(),
            [true, true],
        ),
        (
            "mangle",
            "PREROUTING",
            "-j DNPT --src-pfx fd00::/65 --dst-pfx fd01::/65".to_string(),
            [true, true],
        ),
        (
            "mangle",
            "PREROUTING",
            "-j DNPT --src-pfx ::/0 --dst-pfx fd01::".to_string(),
            [true, true],
        ),
        (
            "mangle",
            "PREROUTING",
            "-j DNPT --dst-pfx fd01::/64".to_string(),
            [true, true],
        ),
    ];
    agree_in_both_families(
        &kernels,
        rules
            .iter()
            .map(|&(rule, refused)| ("filter", "INPUT", rule, refused))
            .chain(
                placed
                    .iter()
                    .map(|(table, chain, rule, refused)| (*table, *chain, rule.as_str(), *refused)),
            ),
    );
}

#[test]
fn icmpv6_types_agree_with_the_kernel() {
    let test = "icmpv6_types_agree_with_the_kernel";
    let kernels = Kernel::all(test);
    if kernels.is_empty() {
        return;
    }
    let mut agreement = Agreement::default();
    for kernel in &kernels {
        for (rule, _) in ICMPV6_RULES {
            let text = format!(
                "# Generated by ip6tables-save v1.8.9\n*filter\n:INPUT ACCEPT [0:0]\n-A INPUT {rule}\nCOMMIT\n"
            );
            agreement.compare_errors(kernel, Family::V6, rule, &text, "");
        }
    }
    let refused = ICMPV6_RULES.iter().filter(|rule| rule.1).count();
    assert_eq!(agreement.refused(), refused * kernels.len());
}

#[test]
fn option_values_agree_with_the_kernel() {
    let test = "option_values_agree_with_the_kernel";
    let kernels = Kernel::all(test);
    if kernels.is_empty() {
        return;
    }
    agree_rule_by_rule(
        &kernels,
        FILTER_RULES
            .iter()
            .map(|&(rule, refused)| ("filter", "INPUT", rule, refused)),
    );
    // A burst of 0 or one whose credits overflow the legacy kernel's 32-bit
    // arithmetic, TCPMSS on packets not required to be SYN: the legacy
    // kernel refuses them, nft loads them; the error's note says so.
    for text in [
        "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m limit --limit-burst 0 -j ACCEPT\nCOMMIT\n",
        "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m limit --limit 1/day -j ACCEPT\nCOMMIT\n",
        "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m limit --limit 1/hour --limit-burst 120 -j ACCEPT\nCOMMIT\n",
        "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m limit --limit-burst 10000 -j ACCEPT\nCOMMIT\n",
        "*mangle\n:FORWARD ACCEPT [0:0]\n-A FORWARD -p tcp -j TCPMSS --set-mss 1400\nCOMMIT\n",
        "*mangle\n:FORWARD ACCEPT [0:0]\n-A FORWARD -p tcp ! --syn -j TCPMSS --set-mss 1400\nCOMMIT\n",
    ] {
        let (report, errors) = iptlint_errors(text);
        let nft_loads = report.diagnostics.iter().any(|d| {
            d.notes
                .iter()
                .any(|n| n.starts_with(iptlint::checks::hooks::NFT_LOADS_NOTE))
        });
        assert!(errors.len() == 1 && nft_loads, "{errors:?}");
        for kernel in &kernels {
            let loaded = kernel.restore(Family::V4, text, &[]).is_ok();
            assert_eq!(
                loaded,
                kernel.backend == "nft",
                "{}: {text}",
                kernel.backend
            );
        }
    }
}

/// The word after the first `option` in `saved` (iptables-save's output
/// of a one-rule dump), or "" when there is none.
fn saved_value<'s>(saved: &'s str, option: &str) -> &'s str {
    saved
        .split_whitespace()
        .skip_while(|word| *word != option)
        .nth(1)
        .unwrap_or_default()
}

#[test]
fn long_comments_load_cut_to_255_bytes_as_iptlint_warns() {
    let test = "long_comments_load_cut_to_255_bytes_as_iptlint_warns";
    let kernels = Kernel::all(test);
    if kernels.is_empty() {
        return;
    }
    for length in [255, 256, 300] {
        let comment = "c".repeat(length);
        let text = format!(
            "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m comment --comment {comment} -j ACCEPT\nCOMMIT\n"
        );
        let (report, errors) = iptlint_errors(&text);
        assert!(errors.is_empty(), "{errors:?}");
        let warned = report
            .diagnostics
            .iter()
            .any(|d| d.info.name == "truncated-comment");
        assert_eq!(warned, length > 255, "{length} bytes");
        for kernel in &kernels {
            let saved = kernel.round_trip(Family::V4, &text).unwrap();
            let kept = saved_value(&saved, "--comment");
            assert_eq!(
                kept.len(),
                length.min(255),
                "{}: {length} bytes",
                kernel.backend
            );
        }
    }
}

/// A protocol match on a rule of another protocol: both backends refuse
/// it, but iptables-nft loads `! -p udp -m udp --dport 53` (as nf_tables'
/// `meta l4proto != udp th dport 53`) when the match tests ports or flags.
#[test]
fn protocol_matches_on_other_protocols_agree_with_each_backend() {
    let test = "protocol_matches_on_other_protocols_agree_with_each_backend";
    let rules = [
        "! -p udp -m udp --dport 53",
        "! -p udp -m udp --sport 53",
        "! -p udp -m udp",
        "-p tcp -m udp --dport 53",
        "-m udp --dport 53",
        "! -p tcp -m tcp --dport 53",
        "! -p tcp -m tcp --syn",
        "! -p tcp -m tcp --tcp-flags SYN SYN",
        "! -p tcp -m tcp",
        "! -p tcp -m tcp --tcp-option 2",
        "-p udp -m tcp --dport 53",
        "! -p sctp -m sctp --dport 53",
        "! -p dccp -m dccp --dport 53",
        "! -p icmp -m icmp --icmp-type 8",
        "-p all -m udp --dport 53",
    ];
    let mut loaded_by_nft = 0;
    for kernel in Kernel::all(test) {
        for rule in rules {
            let text = format!("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT {rule} -j ACCEPT\nCOMMIT\n");
            let loads = kernel.restore(Family::V4, &text, &[]).is_ok();
            let refusals = kernel.refusals_by_iptlint(&text);
            assert_eq!(
                loads,
                refusals.is_empty(),
                "{}: {rule}: {refusals:?}",
                kernel.backend
            );
            loaded_by_nft += usize::from(loads && kernel.backend == "nft");
        }
    }
    // Where both backends work, nft loads the five negated forms with a
    // port or flag test.
    assert!(loaded_by_nft == 0 || loaded_by_nft == 5, "{loaded_by_nft}");
}

#[test]
fn long_log_prefixes_load_cut_as_iptlint_warns() {
    let test = "long_log_prefixes_load_cut_as_iptlint_warns";
    let kernels = Kernel::all(test);
    if kernels.is_empty() {
        return;
    }
    // iptables-nft loads NFLOG as nf_tables' own `log`, which keeps 127
    // bytes: iptlint says so in a second note.
    for (target, option, kept) in [("LOG", "--log-prefix", 29), ("NFLOG", "--nflog-prefix", 63)] {
        for length in [kept - 1, kept, kept + 1, kept + 40, 127, 128, 200] {
            let prefix: String = "abcdefghij".chars().cycle().take(length).collect();
            let text = format!(
                "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j {target} {option} {prefix}\nCOMMIT\n"
            );
            let (report, errors) = iptlint_errors(&text);
            assert!(errors.is_empty(), "{errors:?}");
            let warning = report
                .diagnostics
                .iter()
                .find(|d| d.info.name == "truncated-log-prefix");
            assert_eq!(warning.is_some(), length > kept, "{target}, {length} bytes");
            let quoted = |note: &String| note.split('`').nth(1).map(str::to_string);
            for kernel in &kernels {
                // What iptlint says iptables-save will show: the prefix
                // when it does not warn, else its first note's text (the
                // second's, when it has one, for nft).
                let shown = match warning {
                    None => prefix.clone(),
                    Some(w) if kernel.backend == "nft" && w.notes.len() > 1 => {
                        quoted(&w.notes[1]).unwrap_or_else(|| prefix.clone())
                    }
                    Some(w) => quoted(&w.notes[0]).expect("the note quotes the prefix"),
                };
                let saved = kernel.round_trip(Family::V4, &text).unwrap();
                let loaded = saved_value(&saved, option);
                assert_eq!(
                    loaded, shown,
                    "{}: {target}, {length} bytes",
                    kernel.backend
                );
            }
        }
    }
}

/// Rules in a given table and built-in chain: interfaces against the
/// chain's direction, NAT port ranges, required NAT options, NETMAP
/// prefixes, TTL and DSCP values, TPROXY's protocol. `true` when the kernel
/// refuses the rule.
const CHAIN_RULES: &[(&str, &str, &str, bool)] = &[
    // The IPsec policy of decapsulation is known on the way in, that of
    // encapsulation on the way out (xt_policy's hook check).
    ("filter", "OUTPUT", "-m policy --dir in --pol none", true),
    ("filter", "OUTPUT", "-m policy --dir out --pol ipsec", false),
    ("filter", "FORWARD", "-m policy --dir in --pol ipsec", false),
    (
        "nat",
        "POSTROUTING",
        "-m policy --dir in --pol none -j ACCEPT",
        true,
    ),
    (
        "nat",
        "POSTROUTING",
        "-m policy --dir out --pol ipsec -j ACCEPT",
        false,
    ),
    // Values and options of CLASSIFY, TOS, TEE, IDLETIMER, CHECKSUM,
    // CONNSECMARK and AUDIT.
    (
        "mangle",
        "POSTROUTING",
        "-j CLASSIFY --set-class 10000:1x",
        false,
    ),
    ("mangle", "POSTROUTING", "-j CLASSIFY --set-class 1", true),
    ("mangle", "POSTROUTING", "-j CLASSIFY --set-class :1", true),
    (
        "mangle",
        "POSTROUTING",
        "-j TOS --set-tos minimize-delay",
        false,
    ),
    ("mangle", "POSTROUTING", "-j TOS --and-tos 256", true),
    (
        "mangle",
        "POSTROUTING",
        "-j TOS --xor-tos 1 --or-tos 2",
        true,
    ),
    (
        "mangle",
        "POSTROUTING",
        "-j TEE --gateway 10.0.0.1/24",
        true,
    ),
    (
        "mangle",
        "POSTROUTING",
        "-j IDLETIMER --timeout 0 --label a",
        true,
    ),
    (
        "mangle",
        "POSTROUTING",
        "-j IDLETIMER --timeout 0x10 --label a --alarm",
        false,
    ),
    (
        "mangle",
        "POSTROUTING",
        "-j CHECKSUM --checksum-fill --foo",
        true,
    ),
    (
        "mangle",
        "POSTROUTING",
        "-j CONNSECMARK --save --restore",
        true,
    ),
    (
        "mangle",
        "POSTROUTING",
        "-j AUDIT --type reject --foo",
        true,
    ),
    // The ECN target: bit values, remove excludes setting, TCP bits need
    // `-p tcp` (the kernel: "cannot use operation on non-tcp rule").
    (
        "mangle",
        "POSTROUTING",
        "-p tcp -j ECN --ecn-tcp-remove",
        false,
    ),
    ("mangle", "POSTROUTING", "-j ECN --ecn-tcp-remove", true),
    (
        "mangle",
        "POSTROUTING",
        "-p udp -j ECN --ecn-tcp-ece 1",
        true,
    ),
    (
        "mangle",
        "POSTROUTING",
        "-p tcp -j ECN --ecn-tcp-cwr 2",
        true,
    ),
    ("mangle", "POSTROUTING", "-j ECN --ecn-ip-ect 0x2", false),
    ("mangle", "POSTROUTING", "-j ECN --ecn-ip-ect 4", true),
    (
        "mangle",
        "POSTROUTING",
        "-p tcp -j ECN --ecn-tcp-remove --ecn-tcp-cwr 1",
        true,
    ),
    ("mangle", "POSTROUTING", "-j ECN --foo", true),
    // CT's options and event names; no target option takes `!`.
    (
        "raw",
        "PREROUTING",
        "-j CT --ctevents new,related,secmark",
        false,
    ),
    ("raw", "PREROUTING", "-j CT --ctevents NEW", true),
    ("raw", "PREROUTING", "-j CT --ctevents new,", true),
    ("raw", "PREROUTING", "-j CT --expevents related", true),
    ("raw", "PREROUTING", "-j CT --foo", true),
    ("raw", "PREROUTING", "-j CT ! --notrack", true),
    ("raw", "PREROUTING", "-j CT --notrack --zone 5", false),
    ("mangle", "PREROUTING", "-j MARK ! --set-mark 1", true),
    ("mangle", "PREROUTING", "-j LOG ! --log-prefix x", true),
    (
        "nat",
        "PREROUTING",
        "-p tcp -j DNAT ! --to-destination 10.0.0.1",
        true,
    ),
    // Target options iptables requires (its final checks), and
    // TCPOPTSTRIP's protocol (the kernel: "only valid for protocol 6").
    ("mangle", "PREROUTING", "-j AUDIT", true),
    ("mangle", "PREROUTING", "-j TEE", true),
    ("mangle", "PREROUTING", "-j IDLETIMER", true),
    ("mangle", "PREROUTING", "-j HMARK", true),
    ("mangle", "PREROUTING", "-j CONNSECMARK", true),
    ("mangle", "PREROUTING", "-j SET", true),
    ("mangle", "PREROUTING", "-j CHECKSUM", true),
    ("mangle", "PREROUTING", "-j TOS", true),
    ("mangle", "PREROUTING", "-j ECN", true),
    ("mangle", "PREROUTING", "-p tcp -j TPROXY", true),
    ("mangle", "PREROUTING", "-j IDLETIMER --timeout 5", true),
    (
        "mangle",
        "PREROUTING",
        "-j IDLETIMER --timeout 5 --label a",
        false,
    ),
    ("mangle", "PREROUTING", "-j HMARK --hmark-mod 5", true),
    (
        "mangle",
        "PREROUTING",
        "-p tcp -j TCPOPTSTRIP --strip-options mss",
        false,
    ),
    (
        "mangle",
        "PREROUTING",
        "-j TCPOPTSTRIP --strip-options mss",
        true,
    ),
    ("mangle", "PREROUTING", "! -p tcp -j TCPOPTSTRIP", true),
    ("mangle", "PREROUTING", "-j TEE --gateway 10.0.0.1", false),
    ("mangle", "PREROUTING", "-j AUDIT --type ACCEPT", false),
    ("mangle", "PREROUTING", "-j AUDIT --type foo", true),
    ("mangle", "PREROUTING", "-j CONNSECMARK --save", false),
    ("mangle", "PREROUTING", "-j CHECKSUM --checksum-fill", false),
    ("mangle", "PREROUTING", "-j TOS --and-tos 0x1", false),
    ("mangle", "PREROUTING", "-j ECN --ecn-ip-ect 1", false),
    // Shifted port maps (`FIRST-LAST/BASE`): DNAT, SNAT and MASQUERADE
    // take them, REDIRECT does not; DNAT has no --random-fully.
    (
        "nat",
        "PREROUTING",
        "-p tcp -j DNAT --to-destination 10.0.0.1:80-90/85",
        false,
    ),
    (
        "nat",
        "PREROUTING",
        "-p tcp -j DNAT --to-destination 10.0.0.1:80-90/ssh",
        false,
    ),
    (
        "nat",
        "PREROUTING",
        "-p tcp -j DNAT --to-destination 10.0.0.1:80-90/0",
        true,
    ),
    (
        "nat",
        "PREROUTING",
        "-p tcp -j DNAT --to-destination 10.0.0.1:80/85",
        true,
    ),
    (
        "nat",
        "PREROUTING",
        "-p tcp -j REDIRECT --to-ports 80-90/85",
        true,
    ),
    (
        "nat",
        "POSTROUTING",
        "-p tcp -j SNAT --to-source 10.0.0.1:80-90/85",
        false,
    ),
    (
        "nat",
        "POSTROUTING",
        "-p tcp -j MASQUERADE --to-ports 80-90/85",
        false,
    ),
    (
        "nat",
        "PREROUTING",
        "-p tcp -j DNAT --to-destination 10.0.0.1:80 --random-fully",
        true,
    ),
    ("filter", "INPUT", "-i eth0 -j ACCEPT", false),
    ("filter", "INPUT", "-o eth0 -j ACCEPT", true),
    ("filter", "OUTPUT", "-i eth0 -j ACCEPT", true),
    ("filter", "FORWARD", "-i eth0 -o eth1 -j ACCEPT", false),
    ("nat", "PREROUTING", "! -o eth0 -j ACCEPT", true),
    ("nat", "POSTROUTING", "-i eth0 -j ACCEPT", true),
    ("mangle", "POSTROUTING", "-o eth0 -j ACCEPT", false),
    (
        "nat",
        "PREROUTING",
        "-p tcp -j REDIRECT --to-ports 8070-8080",
        false,
    ),
    (
        "nat",
        "PREROUTING",
        "-p tcp -j REDIRECT --to-ports 8080-8070",
        true,
    ),
    (
        "nat",
        "PREROUTING",
        "-p tcp -j REDIRECT --to-ports 8080-8080",
        false,
    ),
    (
        "nat",
        "PREROUTING",
        "-p tcp -j REDIRECT --to-ports 8080-",
        true,
    ),
    (
        "nat",
        "PREROUTING",
        "-p tcp -j REDIRECT --to-ports -8080",
        true,
    ),
    (
        "nat",
        "PREROUTING",
        "-p tcp -j REDIRECT --to-ports 80:90",
        true,
    ),
    (
        "nat",
        "POSTROUTING",
        "-p udp -j MASQUERADE --to-ports 1024-",
        true,
    ),
    (
        "nat",
        "PREROUTING",
        "-p tcp -j DNAT --to-destination 10.0.0.1:80-90",
        false,
    ),
    (
        "nat",
        "PREROUTING",
        "-p tcp -j DNAT --to-destination 10.0.0.1:90-80",
        true,
    ),
    ("nat", "PREROUTING", "-j DNAT", true),
    ("nat", "PREROUTING", "-j NETMAP --to 10.0.0.0/24", false),
    ("nat", "PREROUTING", "-j NETMAP --to 10.0.0.0/40", false),
    ("nat", "PREROUTING", "-j NETMAP --to 10.0.0.0/-1", true),
    (
        "mangle",
        "PREROUTING",
        "-j MARK --set-mark 1 --or-mark 2",
        true,
    ),
    (
        "mangle",
        "PREROUTING",
        "-j CONNMARK --save-mark --nfmask 1 --ctmask 1",
        false,
    ),
    (
        "mangle",
        "PREROUTING",
        "-j CONNMARK --save-mark --restore-mark",
        true,
    ),
    (
        "mangle",
        "PREROUTING",
        "-j TTL --ttl-inc 1 --ttl-dec 1",
        true,
    ),
    (
        "mangle",
        "PREROUTING",
        "-j TTL --ttl-set 1 --ttl-set 2",
        true,
    ),
    ("mangle", "PREROUTING", "-j TTL", true),
    ("mangle", "PREROUTING", "-j DSCP", true),
    ("mangle", "PREROUTING", "-j DSCP --set-dscp-class EF", false),
    (
        "mangle",
        "PREROUTING",
        "-j DSCP --set-dscp-class af44",
        true,
    ),
    (
        "mangle",
        "PREROUTING",
        "-j DSCP --set-dscp 1 --set-dscp-class EF",
        true,
    ),
    ("raw", "PREROUTING", "-j CT --zone mark", false),
    ("raw", "PREROUTING", "-j CT --zone 0x10", false),
    ("raw", "PREROUTING", "-j CT --zone 70000", true),
    ("raw", "PREROUTING", "-j CT --zone abc", true),
    ("raw", "PREROUTING", "-j CT --zone 1 --zone 2", true),
    ("raw", "PREROUTING", "-j CT --helper ftp", true),
    ("raw", "PREROUTING", "! -p tcp -j CT --helper ftp", true),
    ("raw", "PREROUTING", "-p tcp -j CT --helper ftp", false),
    (
        "mangle",
        "FORWARD",
        "-p tcp --syn -j TCPMSS --set-mss 1400",
        false,
    ),
    (
        "mangle",
        "FORWARD",
        "-p tcp --tcp-flags ALL SYN -j TCPMSS --set-mss 1400",
        false,
    ),
    ("mangle", "FORWARD", "-p udp -j TCPMSS --set-mss 1400", true),
    ("mangle", "FORWARD", "-p tcp --syn -j TCPMSS", true),
    (
        "mangle",
        "FORWARD",
        "-p tcp --syn -j TCPMSS --set-mss 70000",
        true,
    ),
    ("mangle", "PREROUTING", "-j TTL --ttl-set 0", false),
    ("mangle", "PREROUTING", "-j TTL --ttl-set 300", true),
    ("mangle", "PREROUTING", "-j TTL --ttl-dec 1", false),
    ("mangle", "PREROUTING", "-j TTL --ttl-inc 0", true),
    ("mangle", "PREROUTING", "-j DSCP --set-dscp 0x3f", false),
    ("mangle", "PREROUTING", "-j DSCP --set-dscp 64", true),
    (
        "mangle",
        "PREROUTING",
        "-p udp -j TPROXY --on-port 80",
        false,
    ),
    (
        "mangle",
        "PREROUTING",
        "-j TPROXY --on-port 80 -p tcp",
        false,
    ),
    ("mangle", "PREROUTING", "-j TPROXY --on-port 80", true),
    (
        "mangle",
        "PREROUTING",
        "! -p tcp -j TPROXY --on-port 80",
        true,
    ),
];

#[test]
fn rules_of_built_in_chains_agree_with_the_kernel() {
    let test = "rules_of_built_in_chains_agree_with_the_kernel";
    let kernels = Kernel::all(test);
    if kernels.is_empty() {
        return;
    }
    agree_rule_by_rule(&kernels, CHAIN_RULES.iter().copied());
}

/// Load each rule (table, built-in chain, rule, whether the kernel refuses
/// it) alone with every kernel: iptlint's errors must agree with each
/// verdict, and the verdicts must be the ones written.
fn agree_rule_by_rule<'r>(
    kernels: &[Kernel],
    rules: impl Iterator<Item = (&'r str, &'r str, &'r str, bool)> + Clone,
) {
    let mut agreement = Agreement::default();
    for kernel in kernels {
        for (table, chain, rule, _) in rules.clone() {
            let text = format!("*{table}\n:{chain} ACCEPT [0:0]\n-A {chain} {rule}\nCOMMIT\n");
            agreement.compare_errors(kernel, Family::V4, rule, &text, "");
        }
    }
    let refused = rules.filter(|rule| rule.3).count();
    assert_eq!(agreement.refused(), refused * kernels.len());
}

/// [`agree_rule_by_rule`] in both families: each rule in a dump whose
/// header names the tool of the family, refused or not as `[IPv4, IPv6]`
/// says.
fn agree_in_both_families<'r>(
    kernels: &[Kernel],
    rules: impl Iterator<Item = (&'r str, &'r str, &'r str, [bool; 2])> + Clone,
) {
    let mut agreement = Agreement::default();
    for kernel in kernels {
        for (family, tool) in [(Family::V4, "iptables"), (Family::V6, "ip6tables")] {
            for (table, chain, rule, _) in rules.clone() {
                let text = format!(
                    "# Generated by {tool}-save v1.8.9\n*{table}\n:{chain} ACCEPT [0:0]\n-A {chain} {rule}\nCOMMIT\n"
                );
                agreement.compare_errors(kernel, family, rule, &text, "");
            }
        }
    }
    let refused: usize = rules
        .map(|(_, _, _, refused)| refused.iter().filter(|r| **r).count())
        .sum();
    assert_eq!(agreement.refused(), refused * kernels.len());
}

/// iptlint's list of match modules is the installed iptables' (the
/// lowercase `libxt_`/`libipt_`/`libip6t_` extensions), so that
/// `unknown-module` never fires on a real module; and a module iptables
/// does not have is refused by iptables-restore and warned about by
/// iptlint, with the module it was probably meant to be.
#[test]
fn match_modules_are_those_of_the_installed_iptables() {
    let test = "match_modules_are_those_of_the_installed_iptables";
    let kernels = Kernel::all(test);
    if kernels.is_empty() {
        return;
    }
    let folder = [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib64",
        "/usr/lib",
    ]
    .iter()
    .map(|lib| std::path::Path::new(lib).join("xtables"))
    .find(|folder| folder.join("libxt_tcp.so").exists());
    let Some(folder) = folder else {
        support::skip(test, "no xtables extension folder with libxt_tcp.so");
        return;
    };
    let mut installed: Vec<String> = std::fs::read_dir(&folder)
        .expect("readable")
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            let module = ["libxt_", "libipt_", "libip6t_"]
                .iter()
                .find_map(|prefix| name.strip_prefix(prefix))?
                .strip_suffix(".so")?;
            (module
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                && module != "standard")
                .then(|| module.to_string())
        })
        .collect();
    installed.sort();
    installed.dedup();
    let mut known: Vec<String> = iptlint::model::matches::MATCH_MODULES
        .iter()
        .map(|m| m.to_string())
        .collect();
    known.sort();
    assert_eq!(
        known,
        installed,
        "iptlint's MATCH_MODULES against {}",
        folder.display()
    );

    let text =
        "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m conntrak --ctstate NEW -j ACCEPT\nCOMMIT\n";
    let (report, errors) = iptlint_errors(text);
    assert!(errors.is_empty(), "{errors:?}");
    let warned: Vec<&str> = report
        .diagnostics
        .iter()
        .filter(|d| d.info.name == "unknown-module")
        .flat_map(|d| d.notes.iter().map(String::as_str))
        .collect();
    assert!(warned.contains(&"did you mean `conntrack`?"), "{warned:?}");
    for kernel in &kernels {
        for family in [Family::V4, Family::V6] {
            let refusal = kernel.restore(family, text, &[]).expect_err("refused");
            assert!(refusal.contains("Couldn't load match"), "{refusal}");
        }
    }
}

/// The addresses of NAT and TPROXY targets are read in the tool's family
/// only: ip6tables refuses `--to-destination 10.0.0.1` ("Bad IP address"),
/// iptables refuses `[fd00::1]`, `NETMAP --to fd00::/64` and `TPROXY
/// --on-ip fd00::1` ("Address family for hostname not supported").
#[test]
fn target_addresses_agree_with_the_kernel_in_both_families() {
    let test = "target_addresses_agree_with_the_kernel_in_both_families";
    let kernels = Kernel::all(test);
    if kernels.is_empty() {
        return;
    }
    // [refused in IPv4, refused in IPv6]
    let rules = [
        (
            "nat",
            "PREROUTING",
            "-p tcp -j DNAT --to-destination 10.0.0.1:80",
            [false, true],
        ),
        (
            "nat",
            "PREROUTING",
            "-p tcp -j DNAT --to-destination [fd00::1]:80",
            [true, false],
        ),
        (
            "nat",
            "PREROUTING",
            "-j DNAT --to-destination 10.0.0.1-10.0.0.9",
            [false, true],
        ),
        (
            "nat",
            "PREROUTING",
            "-j DNAT --to-destination ::ffff:10.0.0.1",
            [true, false],
        ),
        (
            "nat",
            "PREROUTING",
            "-j NETMAP --to fd00::/64",
            [true, false],
        ),
        (
            "nat",
            "POSTROUTING",
            "-p tcp -j SNAT --to-source 10.0.0.1:1000-2000",
            [false, true],
        ),
        (
            "nat",
            "POSTROUTING",
            "-j SNAT --to-source fd00::1",
            [true, false],
        ),
        (
            "mangle",
            "PREROUTING",
            "-p tcp -j TPROXY --on-port 1 --on-ip 10.0.0.1",
            [false, true],
        ),
        (
            "mangle",
            "PREROUTING",
            "-p tcp -j TPROXY --on-port 1 --on-ip fd00::1",
            [true, false],
        ),
    ];
    agree_in_both_families(&kernels, rules.into_iter());
}
