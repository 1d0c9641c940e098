//! `undefined-target`: a `-j`/`-g` to a chain the table does not declare, or
//! declares only after the jump.

use crate::collections::HashMap;

use super::{Check, Context, Findings};
use crate::declare_code;
use crate::diagnostics::{CodeInfo, Diagnostic, suggest};
use crate::model::targets::is_extension;
use crate::model::{Action, Rule, Table};

declare_code! {
    /// ## What it does
    /// Reports a rule whose `-j NAME` or `-g NAME` names a chain that its table
    /// does not declare: neither a `:NAME - [0:0]` line nor `-N NAME`, and no
    /// target extension of that name. It also reports a jump written before
    /// the chain's declaration, and a jump to a chain that a later `-X`
    /// deletes. `-g` (goto) always names a chain: `-g ACCEPT` or `-g LOG`
    /// is reported too, as iptables refuses it.
    ///
    /// ## Why it matters
    /// iptables-restore refuses the whole table ("Couldn't load target",
    /// "Chain 'NAME' does not exist", "goto 'NAME' is not a chain"): none
    /// of its rules load, whatever else is right in it. Jumps cannot cross
    /// tables, so a chain of the same name in another table does not help.
    /// A chain must be declared before the first rule that jumps to it, and
    /// a chain something still jumps to cannot be deleted.
    ///
    /// ## Example
    /// ```text
    /// *nat
    /// :KUBE-SVC-GNZBNJ2PO5MGZ6GT - [0:0]
    /// -A KUBE-SVC-GNZBNJ2PO5MGZ6GT -j KUBE-SEP-RS4RBKLTHTF2IUXJ
    /// COMMIT
    /// ```
    ///
    /// ## How to fix
    /// Declare the chain at the top of the table (`:NAME - [0:0]`), fix the
    /// spelling of the target (names are case-sensitive), or delete the rule.
    /// For kube-proxy, a missing `KUBE-SEP-*` chain means the dump was edited
    /// or truncated; let kube-proxy resync instead of patching it.
    pub static UNDEFINED_TARGET = ("IPT101", "undefined-target", Error, "a jump to a chain the table does not declare (before the jump)");
}

/// Chain names compared per table while looking for spelling suggestions:
/// each suggestion costs a pass over the table's chain names, so a dump
/// with thousands of undefined targets among thousands of chains gets
/// suggestions for the first few only (a dump that broken needs no more).
const SUGGESTION_BUDGET: usize = 1_000_000;

/// The `undefined-target` check.
pub struct UndefinedTarget;

impl Check for UndefinedTarget {
    fn info(&self) -> &'static CodeInfo {
        &UNDEFINED_TARGET
    }

    fn run(&self, cx: &Context<'_, '_>, out: &mut Findings) {
        for table in &cx.dump.tables {
            let mut suggestions: HashMap<&str, Option<&str>> = HashMap::default();
            let mut budget = SUGGESTION_BUDGET;
            for chain in &table.chains {
                for rule in &chain.rules {
                    let Some(target) = &rule.target else { continue };
                    if target.action != Action::Chain {
                        continue;
                    }
                    let diagnostic = match target.chain {
                        None => {
                            let suggestion =
                                *suggestions.entry(target.name.as_ref()).or_insert_with(|| {
                                    let cost = table.chains.len();
                                    (budget >= cost)
                                        .then(|| {
                                            budget -= cost;
                                            closest_chain(table, &target.name)
                                        })
                                        .flatten()
                                });
                            undefined(cx, table, rule, &target.name, suggestion)
                        }
                        Some(index) => {
                            let declared = &table.chains[index];
                            if declared.builtin || !declared.declared || declared.line <= rule.line
                            {
                                continue;
                            }
                            Diagnostic::new(
                                &UNDEFINED_TARGET,
                                target.name_span,
                                format!(
                                    "jump to chain `{}` before it is declared",
                                    target.name
                                ),
                            )
                            .with_primary_message(format!(
                                "`{}` does not exist yet at line {}",
                                target.name, rule.line
                            ))
                            .with_secondary(declared.name_span, "declared only here")
                            .with_note(
                                "iptables-restore creates chains in file order and refuses a jump to a chain it has not created yet",
                            )
                            .with_note(format!(
                                "move the declaration `:{} - [0:0]` to the top of the table",
                                target.name
                            ))
                        }
                    };
                    out.push(diagnostic.in_table(&table.name, Some(&chain.name)));
                }
            }
        }
    }
}

fn undefined(
    cx: &Context<'_, '_>,
    table: &Table<'_>,
    rule: &Rule<'_>,
    name: &str,
    suggestion: Option<&str>,
) -> Diagnostic {
    let target = rule.target.as_ref().expect("a rule with a chain target");
    if target.goto && is_extension(name) {
        return Diagnostic::new(
            &UNDEFINED_TARGET,
            target.name_span,
            format!("`-g {name}`: `{name}` is a target, and `-g` goes to a chain"),
        )
        .with_primary_message("not a chain")
        .with_note(refusal(name, true))
        .with_note(format!("to apply `{name}` here, write `-j {name}`"));
    }
    let mut diagnostic = Diagnostic::new(
        &UNDEFINED_TARGET,
        target.name_span,
        format!("jump to undefined chain `{name}`"),
    )
    .with_primary_message(format!("no chain `{name}` in table `{}`", table.name));
    if let Some(deletion) = table
        .commands
        .iter()
        .find(|command| command.letter == 'X' && command.chain.as_deref() == Some(name))
    {
        diagnostic = diagnostic
            .with_secondary(deletion.span, "deleted here")
            .with_note(format!(
                "`-X {name}` at line {} deletes the chain while this rule jumps to it; iptables-restore refuses to delete a chain in use",
                deletion.line
            ));
    } else if let Some(suggestion) = suggestion {
        let declared = table.chain(suggestion).expect("suggested from this table");
        diagnostic = diagnostic
            .with_secondary(
                declared.name_span,
                format!("`{suggestion}` is declared here"),
            )
            .with_note(format!("did you mean `{suggestion}`?"));
    } else if !target.goto
        && let Some(extension) = case_insensitive_extension(name)
    {
        diagnostic = diagnostic.with_note(format!(
            "target names are case-sensitive: did you mean `{extension}`?"
        ));
    }
    if let Some(other) = cx
        .dump
        .tables
        .iter()
        .find(|other| other.name != table.name && other.chain_index(name).is_some())
    {
        diagnostic = diagnostic.with_note(format!(
            "`{name}` is declared in table `{}`, but a rule can only jump to chains of its own table",
            other.name
        ));
    }
    diagnostic.with_note(refusal(name, target.goto))
}

/// What iptables-restore says of a jump (`goto`: a `-g`) to `name`, which
/// is no chain of the table.
fn refusal(name: &str, goto: bool) -> String {
    if goto {
        format!(
            "iptables-restore refuses the whole table: \"goto '{name}' is not a chain\" (iptables-nft: \"Chain '{name}' does not exist\")"
        )
    } else {
        "iptables-restore refuses the whole table: \"Couldn't load target\"".to_string()
    }
}

/// A target extension or verdict whose name differs from `name` only in case.
fn case_insensitive_extension(name: &str) -> Option<String> {
    let upper = name.to_ascii_uppercase();
    (upper != name
        && (is_extension(&upper) || matches!(upper.as_str(), "ACCEPT" | "DROP" | "RETURN")))
    .then_some(upper)
}

/// The user chain of `table` whose name is closest to `name`, when close
/// enough to be a likely misspelling (see [`suggest::closest`]).
fn closest_chain<'t>(table: &'t Table<'_>, name: &str) -> Option<&'t str> {
    suggest::closest(
        name,
        table
            .chains
            .iter()
            .filter(|chain| !chain.builtin)
            .map(|chain| chain.name.as_ref()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::test_support::findings;

    #[test]
    fn undefined_and_late_declarations() {
        let src = "*filter\n:INPUT ACCEPT [0:0]\n:LOG-DROP - [0:0]\n-A INPUT -j LOGDROP\n-A INPUT -j LATER\n:LATER - [0:0]\n-A INPUT -j LOG-DROP\nCOMMIT\n";
        let found = findings(src, &UNDEFINED_TARGET);
        assert_eq!(found.len(), 2, "{found:#?}");
        assert_eq!(found[0].message, "jump to undefined chain `LOGDROP`");
        assert!(found[0].notes.iter().any(|n| n.contains("`LOG-DROP`")));
        assert_eq!(
            found[1].message,
            "jump to chain `LATER` before it is declared"
        );
    }

    #[test]
    fn a_goto_names_a_chain_never_a_target() {
        let src = "*filter\n:INPUT ACCEPT [0:0]\n:X - [0:0]\n-A INPUT -g ACCEPT\n-A INPUT -g LOG\n-A INPUT -g accept\n-A INPUT -g X\n-A INPUT -j LOG\nCOMMIT\n";
        let found = findings(src, &UNDEFINED_TARGET);
        let messages: Vec<&str> = found.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "`-g ACCEPT`: `ACCEPT` is a target, and `-g` goes to a chain",
                "`-g LOG`: `LOG` is a target, and `-g` goes to a chain",
                "jump to undefined chain `accept`",
            ]
        );
        assert!(found[0].notes[0].contains("goto 'ACCEPT' is not a chain"));
        assert_eq!(
            found[0].notes[1],
            "to apply `ACCEPT` here, write `-j ACCEPT`"
        );
        // Not "did you mean `ACCEPT`": `-g ACCEPT` is refused as well.
        assert!(
            found[2].notes.iter().all(|n| !n.contains("did you mean")),
            "{:?}",
            found[2].notes
        );
        assert!(
            found[2]
                .notes
                .iter()
                .any(|n| n.contains("goto 'accept' is not a chain"))
        );
    }

    #[test]
    fn deleted_chains_and_other_tables() {
        // A jump added after `-X` (one before it would make iptables refuse
        // the `-X`, as `bad-value` says).
        let src = "*nat\n:X - [0:0]\nCOMMIT\n*filter\n:U - [0:0]\n:X - [0:0]\n-X X\n-A U -j X\n-A U -j accept\nCOMMIT\n";
        let found = findings(src, &UNDEFINED_TARGET);
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(found[0].notes[0].contains("`-X X` at line 7"));
        assert!(found[0].notes.iter().any(|n| n.contains("table `nat`")));
        assert!(found[1].notes[0].contains("`ACCEPT`"));
    }
}
