//! `invalid-target-for-table`: a target the kernel refuses in this table, or
//! in a chain that a built-in chain of the wrong hook reaches.

use super::hooks::{HookCheck, HookReach, NFT_LOADS_NOTE};
use super::{Check, Context, Findings};
use crate::declare_code;
use crate::diagnostics::{CodeInfo, Diagnostic, Severity};
use crate::model::targets::{Action, Target};
use crate::model::{Table, TableKind};
use crate::syntax::Span;

declare_code! {
    /// ## What it does
    /// Reports a target that the kernel (or iptables) refuses where it is
    /// written:
    ///
    /// - NAT targets outside the nat table (DNAT, SNAT, MASQUERADE, REDIRECT,
    ///   NETMAP), REJECT outside filter, TPROXY, TTL, TOS, DSCP, ECN, HL,
    ///   DNPT, SNPT and CHECKSUM outside mangle, CT and NOTRACK outside raw, and TRACE
    ///   outside raw for iptables-legacy (iptables-nft loads it anywhere). The kernel
    ///   checks the table when the rule is added, even in a chain nothing
    ///   jumps to.
    /// - A target in a chain reached from a built-in chain whose hook it does
    ///   not support: DNAT and REDIRECT work only from PREROUTING and OUTPUT,
    ///   SNAT only from POSTROUTING and INPUT, MASQUERADE only from
    ///   POSTROUTING, TPROXY only from PREROUTING, DNPT only from PREROUTING
    ///   and OUTPUT, SNPT only from POSTROUTING and INPUT, SYNPROXY only from
    ///   INPUT and FORWARD, CLASSIFY (and TCPMSS with
    ///   `--clamp-mss-to-pmtu`) only from OUTPUT, FORWARD and POSTROUTING. The kernel checks this for every chain a
    ///   built-in chain reaches, through jumps and gotos.
    /// - `-j DROP` or `-P CHAIN DROP` in nat, which iptables refuses ("the nat
    ///   table is not intended for filtering"). A `:CHAIN DROP` policy line in
    ///   nat loads, and is reported as a warning: the nat table sees the
    ///   first packet of every connection, so that policy drops each new
    ///   connection no rule translates or accepts.
    ///
    /// ## Why it matters
    /// iptables-restore refuses the whole table ("Invalid argument"), so none
    /// of its rules load.
    ///
    /// ## Example
    /// ```text
    /// *filter
    /// -A KUBE-SERVICES -d 10.96.0.10/32 -p udp -m udp --dport 53 -j DNAT --to-destination 10.244.0.5:53
    /// COMMIT
    /// ```
    ///
    /// ## How to fix
    /// Move the rule to the table and built-in chain its target belongs to
    /// (DNAT in nat PREROUTING/OUTPUT, SNAT and MASQUERADE in nat
    /// POSTROUTING, REJECT in filter), or use a target this table supports
    /// (DROP instead of REJECT outside filter).
    pub static INVALID_TARGET_FOR_TABLE = ("IPT104", "invalid-target-for-table", Error, "a target the kernel refuses in this table or hook");
}

/// Where a target extension may be used, as the kernel enforces it.
struct Restriction {
    /// The target.
    target: &'static str,
    /// The only table it may be written in, when restricted.
    table: Option<TableKind>,
    /// The built-in chains (hooks) it may be reached from, when restricted.
    hooks: Option<&'static [&'static str]>,
}

/// Checked against iptables 1.8.9 (legacy and nf_tables) and Linux 6.x by
/// `tests/kernel_targets.rs`.
const RESTRICTIONS: &[Restriction] = &[
    Restriction {
        target: "DNAT",
        table: Some(TableKind::Nat),
        hooks: Some(&["PREROUTING", "OUTPUT"]),
    },
    Restriction {
        target: "REDIRECT",
        table: Some(TableKind::Nat),
        hooks: Some(&["PREROUTING", "OUTPUT"]),
    },
    Restriction {
        target: "SNAT",
        table: Some(TableKind::Nat),
        hooks: Some(&["POSTROUTING", "INPUT"]),
    },
    Restriction {
        target: "MASQUERADE",
        table: Some(TableKind::Nat),
        hooks: Some(&["POSTROUTING"]),
    },
    Restriction {
        target: "NETMAP",
        table: Some(TableKind::Nat),
        hooks: None,
    },
    Restriction {
        target: "REJECT",
        table: Some(TableKind::Filter),
        hooks: None,
    },
    Restriction {
        target: "TPROXY",
        table: Some(TableKind::Mangle),
        hooks: Some(&["PREROUTING"]),
    },
    // ip6t_NPT: the destination prefix is rewritten on the way in, the
    // source prefix on the way out.
    Restriction {
        target: "DNPT",
        table: Some(TableKind::Mangle),
        hooks: Some(&["PREROUTING", "OUTPUT"]),
    },
    Restriction {
        target: "SNPT",
        table: Some(TableKind::Mangle),
        hooks: Some(&["POSTROUTING", "INPUT"]),
    },
    Restriction {
        target: "CT",
        table: Some(TableKind::Raw),
        hooks: None,
    },
    Restriction {
        target: "NOTRACK",
        table: Some(TableKind::Raw),
        hooks: None,
    },
    Restriction {
        target: "CHECKSUM",
        table: Some(TableKind::Mangle),
        hooks: None,
    },
    Restriction {
        target: "DSCP",
        table: Some(TableKind::Mangle),
        hooks: None,
    },
    Restriction {
        target: "TOS",
        table: Some(TableKind::Mangle),
        hooks: None,
    },
    Restriction {
        target: "TTL",
        table: Some(TableKind::Mangle),
        hooks: None,
    },
    Restriction {
        target: "HL",
        table: Some(TableKind::Mangle),
        hooks: None,
    },
    Restriction {
        target: "ECN",
        table: Some(TableKind::Mangle),
        hooks: None,
    },
    Restriction {
        target: "CLASSIFY",
        table: None,
        hooks: Some(&["OUTPUT", "FORWARD", "POSTROUTING"]),
    },
    // xt_SYNPROXY answers the handshake of connections to this host or
    // through it.
    Restriction {
        target: "SYNPROXY",
        table: None,
        hooks: Some(&["INPUT", "FORWARD"]),
    },
];

fn restriction(target: &str) -> Option<&'static Restriction> {
    RESTRICTIONS.iter().find(|r| r.target == target)
}

/// Targets the legacy kernel allows in one table only, and iptables-nft
/// in every table: `xt_TRACE` is registered for raw (its nft emulation
/// sets `nftrace` wherever it is written).
const LEGACY_ONLY_TABLES: &[(&str, TableKind)] = &[("TRACE", TableKind::Raw)];

/// Hooks a target may be reached from only when it has an option: TCPMSS
/// clamps to the path MTU only in FORWARD, OUTPUT and POSTROUTING ("path-MTU
/// clamping only supported in FORWARD, OUTPUT and POSTROUTING hooks"), a
/// [`HookCheck::Entry`] check.
const OPTION_HOOKS: &[(&str, &str, &[&str])] = &[(
    "TCPMSS",
    "--clamp-mss-to-pmtu",
    &["FORWARD", "OUTPUT", "POSTROUTING"],
)];

/// The option and its hooks, when [`OPTION_HOOKS`] restricts `target`.
fn option_hooks(target: &Target<'_>) -> Option<(&'static str, &'static [&'static str])> {
    let Action::Extension(options) = &target.action else {
        return None;
    };
    OPTION_HOOKS
        .iter()
        .find(|(name, option, _)| target.name == *name && options.iter().any(|o| o.name == *option))
        .map(|&(_, option, hooks)| (option, hooks))
}

/// The `invalid-target-for-table` check.
pub struct InvalidTargetForTable;

impl Check for InvalidTargetForTable {
    fn info(&self) -> &'static CodeInfo {
        &INVALID_TARGET_FOR_TABLE
    }

    fn run(&self, cx: &Context<'_, '_>, out: &mut Findings) {
        for (table, graph) in cx.dump.tables.iter().zip(&cx.graph.tables) {
            if table.kind == TableKind::Unknown {
                continue;
            }
            let mut hooks: Option<HookReach> = None;
            for (index, chain) in table.chains.iter().enumerate() {
                for (rule_index, rule) in chain.rules.iter().enumerate() {
                    let Some(target) = &rule.target else { continue };
                    let in_table = |d: Diagnostic| d.in_table(&table.name, Some(&chain.name));
                    if table.kind == TableKind::Nat && target.name == "DROP" {
                        out.push(in_table(
                            Diagnostic::new(
                                &INVALID_TARGET_FOR_TABLE,
                                target.name_span,
                                "`DROP` in the nat table",
                            )
                            .with_primary_message("iptables refuses DROP in nat")
                            .with_note("iptables-restore fails: \"The nat table is not intended for filtering, the use of DROP is therefore inhibited\"")
                            .with_note("drop the packets in the filter table (or mangle or raw) instead"),
                        ));
                        continue;
                    }
                    // `-g REJECT` names a chain (`undefined-target`); only
                    // the nat table's DROP test above reads the name first.
                    if target.goto {
                        continue;
                    }
                    let restriction = restriction(&target.name);
                    if let Some(allowed) = restriction
                        .and_then(|r| r.table)
                        .filter(|&allowed| allowed != table.kind)
                    {
                        out.push(in_table(
                            Diagnostic::new(
                                &INVALID_TARGET_FOR_TABLE,
                                target.name_span,
                                format!(
                                    "`{}` is not valid in the {} table",
                                    target.name, table.name
                                ),
                            )
                            .with_primary_message(format!(
                                "only the {} table accepts `{}`",
                                allowed.name(),
                                target.name
                            ))
                            .with_note("the kernel refuses the rule (\"Invalid argument\"), so iptables-restore loads nothing of this table"),
                        ));
                        continue;
                    }
                    if let Some(&(_, allowed)) = LEGACY_ONLY_TABLES
                        .iter()
                        .find(|(name, allowed)| target.name == *name && *allowed != table.kind)
                    {
                        out.push(in_table(
                            Diagnostic::new(
                                &INVALID_TARGET_FOR_TABLE,
                                target.name_span,
                                format!(
                                    "`{}` is not valid in the {} table for iptables-legacy",
                                    target.name, table.name
                                ),
                            )
                            .with_primary_message(format!(
                                "iptables-legacy accepts `{}` only in the {} table",
                                target.name,
                                allowed.name()
                            ))
                            .with_note(format!(
                                "{NFT_LOADS_NOTE}: its `{}` works in every table",
                                target.name
                            ))
                            .with_note(format!(
                                "the legacy kernel refuses the rule (\"Invalid argument\"); write it in the {} table to load on both",
                                allowed.name()
                            )),
                        ));
                        continue;
                    }
                    let (allowed_hooks, option) = match restriction.and_then(|r| r.hooks) {
                        Some(hooks) => ((hooks, HookCheck::Mask), None),
                        None => match option_hooks(target) {
                            Some((option, hooks)) => ((hooks, HookCheck::Entry), Some(option)),
                            None => continue,
                        },
                    };
                    let reach = hooks.get_or_insert_with(|| HookReach::new(table, graph));
                    let Some(diagnostic) = reach.wrong_hook_diagnostic(
                        &INVALID_TARGET_FOR_TABLE,
                        (index, rule_index),
                        || match option {
                            Some(option) => format!("`{} {option}`", target.name),
                            None => format!("`{}`", target.name),
                        },
                        target.name_span,
                        allowed_hooks,
                    ) else {
                        continue;
                    };
                    out.push(in_table(diagnostic));
                }
            }
            nat_drop_policies(cx.src, table, out);
        }
    }
}

/// DROP policies in nat: refused when set with `-P`, loaded (but dropping
/// every new connection that falls through) when written `:CHAIN DROP`.
fn nat_drop_policies(src: &str, table: &Table<'_>, out: &mut Findings) {
    if table.kind != TableKind::Nat {
        return;
    }
    for command in table.commands.iter().filter(|c| c.letter == 'P') {
        let text = command.span.text(src);
        let Some(policy) = text
            .split_ascii_whitespace()
            .last()
            .filter(|p| *p == "DROP")
        else {
            continue;
        };
        let start = command.span.start as usize + text.rfind(policy).expect("found above");
        out.push(
            Diagnostic::new(
                &INVALID_TARGET_FOR_TABLE,
                Span::new(start, start + policy.len()),
                "DROP policy in the nat table",
            )
            .with_primary_message("iptables refuses to set this policy")
            .with_note("iptables-restore fails: \"The nat table is not intended for filtering, the use of DROP is therefore inhibited\"")
            .in_table(&table.name, command.chain.as_deref()),
        );
    }
    for chain in &table.chains {
        if !chain.builtin || !chain.declared || chain.policy.as_deref() != Some("DROP") {
            continue;
        }
        let after_name = chain.name_span.end as usize;
        let line = &src[after_name..chain.span.end as usize];
        let Some(offset) = line.find("DROP") else {
            // The DROP came from a `-P` command, reported above.
            continue;
        };
        let start = after_name + offset;
        out.push(
            Diagnostic::new(
                &INVALID_TARGET_FOR_TABLE,
                Span::new(start, start + 4),
                format!("DROP policy on nat chain `{}`", chain.name),
            )
            .with_severity(Severity::Warning)
            .with_primary_message("loads, but the nat table is not meant for filtering")
            .with_note("the nat table sees the first packet of every connection: this policy drops each new connection that no rule translates or accepts")
            .with_note("`iptables -t nat -P` refuses this policy; filter in the filter table and keep ACCEPT here")
            .in_table(&table.name, Some(&chain.name)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::test_support::findings;

    #[test]
    fn trace_outside_raw_is_refused_by_iptables_legacy_only() {
        let src = "*raw\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j TRACE\nCOMMIT\n\
            *filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j TRACE\nCOMMIT\n";
        let found = findings(src, &INVALID_TARGET_FOR_TABLE);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(
            found[0].message,
            "`TRACE` is not valid in the filter table for iptables-legacy"
        );
        assert!(found[0].notes[0].starts_with(NFT_LOADS_NOTE));
    }

    #[test]
    fn tables_hooks_and_nat_drops() {
        let src = "*filter\n:U - [0:0]\n-A U -j DNAT --to-destination 1.2.3.4\n-A INPUT -j REJECT\nCOMMIT\n*nat\n:POSTROUTING DROP [0:0]\n:U - [0:0]\n:V - [0:0]\n-A POSTROUTING -g U\n-A U -j V\n-A V -j DNAT --to-destination 1.2.3.4\n-A PREROUTING -j DNAT --to-destination 1.2.3.4\n-A PREROUTING -j MASQUERADE\n-A OUTPUT -j DROP\n-P OUTPUT DROP\nCOMMIT\n";
        let found = findings(src, &INVALID_TARGET_FOR_TABLE);
        let summary: Vec<(&str, &str, Severity)> = found
            .iter()
            .map(|d| (d.message.as_str(), d.primary_span().text(src), d.severity))
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "`DNAT` is not valid in the filter table",
                    "DNAT",
                    Severity::Error
                ),
                (
                    "DROP policy on nat chain `POSTROUTING`",
                    "DROP",
                    Severity::Warning
                ),
                (
                    "`DNAT` in chain `V`, which POSTROUTING reaches",
                    "DNAT",
                    Severity::Error
                ),
                (
                    "`MASQUERADE` is not valid in PREROUTING",
                    "MASQUERADE",
                    Severity::Error
                ),
                ("`DROP` in the nat table", "DROP", Severity::Error),
                ("DROP policy in the nat table", "DROP", Severity::Error),
            ]
        );
        assert_eq!(found[2].labels[1].span.text(src), "-j V");
        assert!(
            found[2]
                .notes
                .contains(&"the path: POSTROUTING -> U -> V".to_string())
        );
    }
}
