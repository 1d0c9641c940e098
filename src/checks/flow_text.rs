//! Phrases shared by the checks that read the packet analysis
//! (`unreachable-rule`, `shadowed-rule`, `missing-terminal`).

use crate::analysis::{ChainFlow, TableFlow};
use crate::graph::ChainGraph;
use crate::model::{Chain, Flow, Rule, Table};

/// What a rule does to the packets it matches, when it ends evaluation for
/// them: "ends evaluation with DNAT", "returns to the caller", "jumps to
/// KUBE-SEP-X, which always ends with a verdict".
pub fn ending_phrase(rule: &Rule<'_>, table: &Table<'_>, flows: &TableFlow) -> String {
    let Some(target) = &rule.target else {
        return "only counts packets".to_string();
    };
    let verdict = |chain: Option<usize>| chain.is_some_and(|c| flows.chains[c].verdict);
    match rule.flow() {
        Flow::Terminate => format!("ends evaluation with {}", target.name),
        Flow::Return => "returns to the calling chain".to_string(),
        Flow::Goto if verdict(target.chain) => format!(
            "goes to {}, which always ends with a verdict{}",
            target.name,
            verdict_rule_suffix(target.chain, table, flows)
        ),
        Flow::Goto => format!("goes to {} and never comes back", target.name),
        Flow::Call if verdict(target.chain) => format!(
            "jumps to {}, which always ends with a verdict{}",
            target.name,
            verdict_rule_suffix(target.chain, table, flows)
        ),
        Flow::Call => format!("jumps to {}", target.name),
        Flow::Continue => format!("continues after {}", target.name),
    }
}

/// ` (its rule at line N)` for the rule that completes a chain's verdict.
fn verdict_rule_suffix(chain: Option<usize>, table: &Table<'_>, flows: &TableFlow) -> String {
    chain
        .and_then(|c| {
            let rule = flows.chains[c].verdict_rule?;
            Some(format!(
                " (its rule at line {})",
                table.chains[c].rules[rule].line
            ))
        })
        .unwrap_or_default()
}

/// "every packet entering CHAIN is tcp to ... (from the jump at line N)",
/// or `None` when nothing is known about them.
pub fn entry_note(
    chain_index: usize,
    chain: &Chain<'_>,
    flow: &ChainFlow,
    graph: &ChainGraph,
) -> Option<String> {
    if flow.entry.is_any() {
        return None;
    }
    let mut lines: Vec<u32> = graph.callers(chain_index).map(|(_, j)| j.line).collect();
    lines.sort_unstable();
    let from = match lines.as_slice() {
        [] => String::new(),
        [one] => format!(" (from the jump at line {one})"),
        [first, second] => format!(" (from the jumps at lines {first} and {second})"),
        [first, second, rest @ ..] => format!(
            " (from the jumps at lines {first}, {second} and {} more)",
            rest.len()
        ),
    };
    Some(format!(
        "every packet entering {} is {}{from}",
        chain.name,
        flow.entry.describe()
    ))
}

/// `line N` or `lines N-M` for a run of rules.
pub fn lines_phrase(chain: &Chain<'_>, first: usize, count: usize) -> String {
    let first_line = chain.rules[first].line;
    if count <= 1 {
        format!("line {first_line}")
    } else {
        format!("lines {first_line}-{}", chain.rules[first + count - 1].line)
    }
}
