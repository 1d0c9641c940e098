//! `duplicate-rule`: the same rule written twice in one chain.

use crate::collections::HashMap;

use super::{Check, Context, Findings};
use crate::declare_code;
use crate::diagnostics::{CodeInfo, Diagnostic};
use crate::model::{AddressMatch, Flow};
use crate::prefetch;

declare_code! {
    /// ## What it does
    /// Reports a rule whose specification (everything after `-A CHAIN`,
    /// counters aside) is exactly that of an earlier rule of the same chain.
    ///
    /// ## Why it matters
    /// When the rule ends evaluation (ACCEPT, DROP, DNAT, RETURN, `-g`), the
    /// second copy never sees a packet (unless it uses a match that decides
    /// per copy, such as `-m statistic` or `-m limit`, where the copy changes
    /// the odds or the rate): it is dead weight that every packet
    /// not matching it still pays for. When it does not (LOG, MARK, a `-j`
    /// to a chain), every matching packet is logged, marked or sent through
    /// the chain twice. Either way it usually means a script added a rule
    /// without checking whether it was already there (`iptables -A` instead
    /// of `iptables -C || iptables -A`).
    ///
    /// ## Example
    /// ```text
    /// -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
    /// -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
    /// ```
    ///
    /// ## How to fix
    /// Delete the second copy, and make the script that adds it idempotent
    /// (`iptables -C` before `iptables -A`).
    pub static DUPLICATE_RULE = ("IPT105", "duplicate-rule", Warning, "the same rule twice in one chain");
}

/// Matches whose result differs between two copies of the same rule: each
/// copy has its own counter, bucket or random draw.
const DECIDES_PER_COPY: &[&str] = &[
    "statistic",
    "limit",
    "hashlimit",
    "recent",
    "quota",
    "connlimit",
    "nth",
    "random",
];

/// Chains of at most this many rules are searched for copies pair by pair
/// rather than through a map of the rules seen.
const SMALL_CHAIN: usize = 8;

/// The `duplicate-rule` check.
pub struct DuplicateRule;

impl Check for DuplicateRule {
    fn info(&self) -> &'static CodeInfo {
        &DUPLICATE_RULE
    }

    fn run(&self, cx: &Context<'_, '_>, out: &mut Findings) {
        type Key<'s> = (&'s str, Option<AddressMatch>, Option<AddressMatch>);
        let mut first_seen: HashMap<Key<'_>, usize> = HashMap::default();
        for table in &cx.dump.tables {
            for (index, chain) in table.chains.iter().enumerate() {
                prefetch::chain_rules(table, index + 2);
                if chain.rules.len() < 2 {
                    continue;
                }
                // A small chain (a kube-proxy dump has tens of thousands of
                // two-rule endpoint chains) compares each rule with those
                // before it: cheaper than hashing every rule's text.
                let small = chain.rules.len() <= SMALL_CHAIN;
                // Clearing a map costs its capacity, not its length: after
                // the 10,000 rules of KUBE-SERVICES, clearing it again for
                // each of 70,000 small chains was 7% of `check`'s
                // instructions on a 10,000-service dump (callgrind).
                if !small {
                    if first_seen.capacity() > 4 * chain.rules.len().max(16) {
                        first_seen = HashMap::default();
                    } else {
                        first_seen.clear();
                    }
                }
                for (index, rule) in chain.rules.iter().enumerate() {
                    let first = if small {
                        chain.rules[..index]
                            .iter()
                            .position(|earlier| earlier.is_copy_of(rule, cx.src))
                            .unwrap_or(index)
                    } else {
                        *first_seen.entry(rule.copy_key(cx.src)).or_insert(index)
                    };
                    if first == index {
                        continue;
                    }
                    if out.is_full() {
                        out.omit(rule.spec);
                        continue;
                    }
                    let original = &chain.rules[first];
                    let consequence = match rule.flow() {
                        _ if rule
                            .matches
                            .iter()
                            .any(|m| DECIDES_PER_COPY.contains(&m.name.as_ref())) =>
                        {
                            "each copy keeps its own state or draws its own random number, so the second copy changes what the rule does (it is not dead)"
                        }
                        Flow::Terminate | Flow::Return | Flow::Goto => {
                            "the first copy ends evaluation for every packet both match, so no packet ever reaches this copy"
                        }
                        Flow::Call => {
                            "every packet the first copy sends to the chain and that comes back is sent through it again"
                        }
                        Flow::Continue => {
                            "every packet it matches is handled twice (counted, logged or marked again)"
                        }
                    };
                    let mut diagnostic = Diagnostic::new(
                        &DUPLICATE_RULE,
                        rule.spec,
                        format!(
                            "rule repeats line {} of chain `{}`",
                            original.line, chain.name
                        ),
                    )
                    .with_primary_message("this rule is written twice")
                    .with_secondary(original.spec, "first written here")
                    .with_note(consequence);
                    if let Some(pair) = rule.address_pair(cx.src) {
                        diagnostic = diagnostic.with_note(format!(
                            "both are the rule iptables makes of their line for `{pair}`"
                        ));
                    }
                    out.push(diagnostic.in_table(&table.name, Some(&chain.name)));
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
    fn same_spec_in_the_same_chain_only() {
        let src = "*filter\n:A - [0:0]\n[1:2] -A INPUT -p tcp -j ACCEPT\n-A INPUT -p udp -j ACCEPT\n[3:4] -A INPUT -p tcp -j ACCEPT\n-A A -p tcp -j ACCEPT\n-A INPUT -p tcp -j ACCEPT\nCOMMIT\n";
        let found = findings(src, &DUPLICATE_RULE);
        assert_eq!(found.len(), 2, "{found:#?}");
        assert_eq!(found[0].message, "rule repeats line 3 of chain `INPUT`");
        assert_eq!(found[0].primary_span().text(src), "-p tcp -j ACCEPT");
        assert_eq!(found[1].labels[1].span, found[0].labels[1].span);
    }

    #[test]
    fn small_and_larger_chains_point_every_copy_at_the_first() {
        // One chain searched pair by pair, one through the map: in both,
        // the third copy repeats the first, not the second.
        let chain = |name: &str, rules: usize, first_line: usize| {
            let mut text = String::new();
            for index in 0..rules - 3 {
                text.push_str(&format!(
                    "-A {name} -p tcp --dport {} -j ACCEPT\n",
                    index + 100
                ));
            }
            for _ in 0..3 {
                text.push_str(&format!("-A {name} -p udp -j DROP\n"));
            }
            let first_copy = first_line + rules - 3;
            let message = format!("rule repeats line {first_copy} of chain `{name}`");
            (text, vec![message; 2])
        };
        // Line 4 is the first rule line.
        let (small, small_expected) = chain("SMALL", SMALL_CHAIN, 4);
        let (large, large_expected) = chain("LARGE", SMALL_CHAIN + 1, 4 + SMALL_CHAIN);
        let src = format!("*filter\n:SMALL - [0:0]\n:LARGE - [0:0]\n{small}{large}COMMIT\n");
        let found = findings(&src, &DUPLICATE_RULE);
        let messages: Vec<&str> = found.iter().map(|d| d.message.as_str()).collect();
        let expected: Vec<&str> = small_expected
            .iter()
            .chain(&large_expected)
            .map(String::as_str)
            .collect();
        assert_eq!(messages, expected);
    }

    #[test]
    fn copies_are_found_in_small_chains_after_a_large_one() {
        // A chain large enough that the map of rules seen is replaced, not
        // cleared, for the chains after it; then chains of one rule (never a
        // copy), and chains with copies.
        let mut src = String::from("*filter\n:BIG - [0:0]\n:ONE - [0:0]\n:SMALL - [0:0]\n");
        for port in 1..=300 {
            src.push_str(&format!("-A BIG -p tcp --dport {port} -j ACCEPT\n"));
        }
        src.push_str("-A BIG -p tcp --dport 7 -j ACCEPT\n");
        src.push_str("-A ONE -p tcp --dport 7 -j ACCEPT\n");
        src.push_str("-A SMALL -p udp -j ACCEPT\n-A SMALL -p tcp --dport 7 -j ACCEPT\n-A SMALL -p udp -j ACCEPT\n");
        src.push_str("COMMIT\n");
        let found = findings(&src, &DUPLICATE_RULE);
        let messages: Vec<&str> = found.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "rule repeats line 11 of chain `BIG`",
                "rule repeats line 307 of chain `SMALL`"
            ]
        );
    }
}
