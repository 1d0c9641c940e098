//! `invalid-match-for-hook`: a match the kernel allows only in some hooks,
//! in a chain that a built-in chain of another hook reaches.

use super::hooks::{HookCheck, HookReach};
use super::{Check, Context, Findings};
use crate::declare_code;
use crate::diagnostics::{CodeInfo, Diagnostic};
use crate::model::TableKind;
use crate::model::matches::{LimitIface, Match, MatchKind};

declare_code! {
    /// ## What it does
    /// Reports a match used in a chain that a built-in chain reaches whose
    /// netfilter hook the match does not support:
    ///
    /// - `-m owner` (the local socket's user, group or process) only from
    ///   OUTPUT and POSTROUTING: only locally generated packets have one.
    /// - `-m mac --mac-source` only from PREROUTING, INPUT and FORWARD:
    ///   only received packets have a source MAC address.
    /// - `-m addrtype --limit-iface-in` only from PREROUTING, INPUT and
    ///   FORWARD, and `--limit-iface-out` only from FORWARD, OUTPUT and
    ///   POSTROUTING: the interface they look at must exist in the hook.
    /// - `-m physdev --physdev-out` or `--physdev-is-out` not from OUTPUT,
    ///   unless the rule also has `--physdev-is-bridged`.
    /// - `-m devgroup --src-group` only from PREROUTING, INPUT and
    ///   FORWARD, `--dst-group` only from FORWARD, OUTPUT and POSTROUTING
    ///   (the device a packet came in by, the one it leaves by).
    /// - `-m rpfilter` (reverse-path filtering) only from PREROUTING, and
    ///   only in the raw and mangle tables (the kernel checks the table
    ///   even in a chain nothing reaches).
    /// - `-m policy --dir in` (the IPsec policy a packet was decapsulated
    ///   with) only from PREROUTING, INPUT and FORWARD, and `--dir out` (the
    ///   one it will be encapsulated with) only from FORWARD, OUTPUT and
    ///   POSTROUTING.
    ///
    /// The kernel checks the hooks for every chain a built-in chain reaches,
    /// through jumps and gotos, whatever the table; for the addrtype and
    /// physdev options iptables-nft checks only rules written in a
    /// built-in chain, and the finding then says that iptables-legacy alone
    /// refuses the table.
    ///
    /// ## Why it matters
    /// iptables-restore refuses the whole table ("Invalid argument"), so
    /// none of its rules load.
    ///
    /// ## Example
    /// ```text
    /// -A INPUT -m owner --uid-owner 1000 -j ACCEPT
    /// ```
    ///
    /// ## How to fix
    /// Move the rule to a chain of a hook the match supports (an owner
    /// match belongs in OUTPUT), or match on something the hook knows
    /// (the source address instead of the owner in INPUT).
    pub static INVALID_MATCH_FOR_HOOK = ("IPT108", "invalid-match-for-hook", Error, "a match the kernel refuses in a chain this hook reaches");
}

/// Where the kernel lets a match be used: what the finding calls it, the
/// built-in chains it may be reached from, and how the kernel checks.
type HookRule = (&'static str, &'static [&'static str], HookCheck);

/// The [`HookRule`] of a match the kernel restricts (checked against
/// iptables 1.8.9, legacy and nf_tables, by `tests/kernel_targets.rs`).
fn hook_rule(m: &Match<'_>) -> Option<HookRule> {
    const INPUT_SIDE: &[&str] = &["PREROUTING", "INPUT", "FORWARD"];
    const OUTPUT_SIDE: &[&str] = &["FORWARD", "OUTPUT", "POSTROUTING"];
    // The bridge port a packet leaves by is not known yet in OUTPUT,
    // unless the rule asks for bridged packets.
    const NOT_OUTPUT: &[&str] = &["PREROUTING", "INPUT", "FORWARD", "POSTROUTING"];
    Some(match &m.kind {
        MatchKind::Other(_) if m.name == "rpfilter" => {
            ("`-m rpfilter`", &["PREROUTING"], HookCheck::Mask)
        }
        // xt_policy: the policy of decapsulation on the way in, of
        // encapsulation on the way out.
        MatchKind::Other(options) if m.name == "policy" => {
            let dir = options.iter().find(|o| o.name == "--dir")?;
            match dir.values.first()?.text.as_ref() {
                "in" => ("`-m policy --dir in`", INPUT_SIDE, HookCheck::Mask),
                "out" => ("`-m policy --dir out`", OUTPUT_SIDE, HookCheck::Mask),
                _ => return None,
            }
        }
        // xt_devgroup: the group of the device a packet came in by, of the
        // one it leaves by.
        MatchKind::Other(options) if m.name == "devgroup" => {
            let has = |name: &str| options.iter().any(|o| o.name == name);
            match (has("--src-group"), has("--dst-group")) {
                (true, true) => (
                    "`-m devgroup --src-group --dst-group`",
                    &["FORWARD"][..],
                    HookCheck::Mask,
                ),
                (true, false) => ("`-m devgroup --src-group`", INPUT_SIDE, HookCheck::Mask),
                (false, true) => ("`-m devgroup --dst-group`", OUTPUT_SIDE, HookCheck::Mask),
                (false, false) => return None,
            }
        }
        // ip6t_eui64 reads the source MAC address of packets coming in.
        MatchKind::Other(_) if m.name == "eui64" => ("`-m eui64`", INPUT_SIDE, HookCheck::Mask),
        MatchKind::Owner(_) => ("`-m owner`", &["OUTPUT", "POSTROUTING"], HookCheck::Mask),
        MatchKind::Mac(_) => ("`-m mac`", INPUT_SIDE, HookCheck::Mask),
        MatchKind::AddrType(addrtype) => match addrtype.limit_iface? {
            LimitIface::In => (
                "`-m addrtype --limit-iface-in`",
                INPUT_SIDE,
                HookCheck::Entry,
            ),
            LimitIface::Out => (
                "`-m addrtype --limit-iface-out`",
                OUTPUT_SIDE,
                HookCheck::Entry,
            ),
        },
        MatchKind::Physdev(physdev) if physdev.is_bridged != Some(false) => {
            if physdev.output.is_some() {
                ("`-m physdev --physdev-out`", NOT_OUTPUT, HookCheck::Entry)
            } else if physdev.is_out {
                (
                    "`-m physdev --physdev-is-out`",
                    NOT_OUTPUT,
                    HookCheck::Entry,
                )
            } else {
                return None;
            }
        }
        _ => return None,
    })
}

/// Matches the kernel allows in some tables only, whatever the chain:
/// `xt_rpfilter` ("only valid in 'raw' or 'mangle' table").
const TABLE_RULES: &[(&str, &[TableKind])] = &[("rpfilter", &[TableKind::Raw, TableKind::Mangle])];

/// The `invalid-match-for-hook` check.
pub struct InvalidMatchForHook;

impl Check for InvalidMatchForHook {
    fn info(&self) -> &'static CodeInfo {
        &INVALID_MATCH_FOR_HOOK
    }

    fn run(&self, cx: &Context<'_, '_>, out: &mut Findings) {
        for (table, graph) in cx.dump.tables.iter().zip(&cx.graph.tables) {
            let mut hooks: Option<HookReach> = None;
            for (index, chain) in table.chains.iter().enumerate() {
                for (rule_index, rule) in chain.rules.iter().enumerate() {
                    for m in &rule.matches {
                        if let Some((_, tables)) = TABLE_RULES
                            .iter()
                            .find(|(name, _)| m.name == *name)
                            .filter(|(_, tables)| {
                                table.kind != TableKind::Unknown && !tables.contains(&table.kind)
                            })
                        {
                            let names: Vec<&str> = tables.iter().map(|t| t.name()).collect();
                            out.push(
                                Diagnostic::new(
                                    &INVALID_MATCH_FOR_HOOK,
                                    m.span,
                                    format!("`-m {}` is not valid in the {} table", m.name, table.name),
                                )
                                .with_primary_message(format!("the kernel accepts it only in {}", names.join(" and ")))
                                .with_note("the kernel refuses the rule (\"Invalid argument\") wherever it is in this table, so iptables-restore loads nothing of it")
                                .in_table(&table.name, Some(&chain.name)),
                            );
                            continue;
                        }
                        let Some((what, hooks_allowed, check)) = hook_rule(m) else {
                            continue;
                        };
                        let reach = hooks.get_or_insert_with(|| HookReach::new(table, graph));
                        if let Some(diagnostic) = reach.wrong_hook_diagnostic(
                            &INVALID_MATCH_FOR_HOOK,
                            (index, rule_index),
                            || what.to_string(),
                            m.span,
                            (hooks_allowed, check),
                        ) {
                            out.push(diagnostic.in_table(&table.name, Some(&chain.name)));
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::test_support::findings;

    #[test]
    fn matches_out_of_their_hooks_directly_or_through_jumps() {
        let src = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:U - [0:0]\n\
            -A INPUT -m owner --uid-owner 0 -j ACCEPT\n\
            -A OUTPUT -m owner --uid-owner 0 -j ACCEPT\n\
            -A FORWARD -j U\n\
            -A U -m mac --mac-source 00:11:22:33:44:55 -j ACCEPT\n\
            -A OUTPUT -g U\n\
            -A INPUT -m addrtype --dst-type LOCAL --limit-iface-in -j ACCEPT\n\
            -A INPUT -m addrtype --dst-type LOCAL --limit-iface-out -j ACCEPT\n\
            -A OUTPUT -m physdev --physdev-out eth0 -j ACCEPT\n\
            -A OUTPUT -m physdev --physdev-is-bridged --physdev-out eth0 -j ACCEPT\n\
            -A OUTPUT -m policy --dir out --pol ipsec -j ACCEPT\n\
            -A INPUT -m policy --dir out --pol ipsec -j ACCEPT\n\
            COMMIT\n";
        let found = findings(src, &INVALID_MATCH_FOR_HOOK);
        let summary: Vec<(&str, &str)> = found
            .iter()
            .map(|d| (d.message.as_str(), d.primary_span().text(src)))
            .collect();
        assert_eq!(
            summary,
            [
                ("`-m owner` is not valid in INPUT", "-m owner --uid-owner 0"),
                (
                    "`-m mac` in chain `U`, which OUTPUT reaches",
                    "-m mac --mac-source 00:11:22:33:44:55"
                ),
                (
                    "`-m addrtype --limit-iface-out` is not valid in INPUT",
                    "-m addrtype --dst-type LOCAL --limit-iface-out"
                ),
                (
                    "`-m physdev --physdev-out` is not valid in OUTPUT",
                    "-m physdev --physdev-out eth0"
                ),
                (
                    "`-m policy --dir out` is not valid in INPUT",
                    "-m policy --dir out --pol ipsec"
                ),
            ]
        );
        assert_eq!(found[1].labels[1].span.text(src), "-g U");
    }

    /// As the legacy kernel takes them (iptables-restore 1.8.9: "line 3
    /// failed" for `--dst-group` in INPUT).
    #[test]
    fn device_groups_where_the_device_is_known() {
        let src = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n\
            -A INPUT -m devgroup --dst-group 1 -j ACCEPT\n\
            -A INPUT -m devgroup --src-group 1 -j ACCEPT\n\
            -A OUTPUT -m devgroup --src-group 1 -j ACCEPT\n\
            -A OUTPUT -m devgroup --dst-group 1 -j ACCEPT\n\
            -A FORWARD -m devgroup --src-group 1 --dst-group 2 -j ACCEPT\n\
            -A INPUT -m devgroup --src-group 1 --dst-group 2 -j ACCEPT\n\
            COMMIT\n";
        let messages: Vec<String> = findings(src, &INVALID_MATCH_FOR_HOOK)
            .iter()
            .map(|d| d.message.clone())
            .collect();
        assert_eq!(
            messages,
            [
                "`-m devgroup --dst-group` is not valid in INPUT",
                "`-m devgroup --src-group` is not valid in OUTPUT",
                "`-m devgroup --src-group --dst-group` is not valid in INPUT",
            ]
        );
    }

    #[test]
    fn rpfilter_only_in_raw_and_mangle_prerouting() {
        let src = "*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n\
            -A PREROUTING -m rpfilter --invert -j DROP\n\
            -A OUTPUT -m rpfilter -j ACCEPT\nCOMMIT\n\
            *nat\n:PREROUTING ACCEPT [0:0]\n:U - [0:0]\n\
            -A PREROUTING -m rpfilter -j ACCEPT\n\
            -A U -m rpfilter -j ACCEPT\nCOMMIT\n";
        let messages: Vec<String> = findings(src, &INVALID_MATCH_FOR_HOOK)
            .into_iter()
            .map(|d| d.message)
            .collect();
        assert_eq!(
            messages,
            [
                "`-m rpfilter` is not valid in OUTPUT",
                "`-m rpfilter` is not valid in the nat table",
                // Even in a chain nothing reaches: the table is checked when
                // the rule is added.
                "`-m rpfilter` is not valid in the nat table",
            ]
        );
    }
}
