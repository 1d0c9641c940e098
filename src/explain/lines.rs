//! The lines of a dump `explain` reads for one service.
//!
//! A kube-proxy dump is mostly the chains of its services: a `KUBE-SVC-*`
//! chain per service port and a `KUBE-SEP-*` chain per endpoint hold two
//! thirds of the lines of a 10,000-service dump, and one service needs only
//! its own. [`plan`] picks the lines from the text before anything is
//! parsed: every line but the rules of the per-service chains of the nat
//! table, and of those the chains of the services the query may name and
//! every chain they jump to. [`Plan::covers`] then checks on the model that
//! nothing the service's traffic can reach was left out; when the plan
//! cannot be made or does not cover, `explain` reads the whole dump.

use memchr::memmem;

use crate::analysis::services::{ENTRY_CHAINS, Sketch, service_chain_key};
use crate::collections::{HashMap, HashSet};
use crate::model::Dump;
use crate::model::values::{Probability, parse_probability};
use crate::syntax::line_ranges;

/// Which lines to read, and what the lines left out say about the dump.
#[derive(Debug)]
pub struct Plan<'a> {
    /// Per line of the dump, from 0: whether to read it.
    pub keep: Vec<bool>,
    /// Per-service chains whose rules are left out.
    skipped: HashSet<&'a str>,
    /// The `--probability` values of the rules left out, outside
    /// `KUBE-SEP-*` chains: the quantisation of the table counts them.
    pub skipped_probabilities: Vec<Probability>,
}

/// The rules of one per-service chain of the nat table, read from the text.
#[derive(Default)]
struct ServiceChain<'a> {
    name: &'a str,
    lines: Vec<usize>,
    /// Per-service chains its rules jump to.
    targets: Vec<&'a str>,
    /// Its `--probability` values (in `KUBE-SVC-*` and the like).
    probabilities: Vec<Probability>,
}

/// Plan which lines of `src` to read to explain `query`; `None` when the
/// dump is not one this can be done for: a restore script with commands
/// other than `-A` (which may move rules between the lines), more than one
/// nat table, or service chains that jump to the chains of other services
/// (the first kube-proxy, whose endpoint chains were `KUBE-SVC-*` too).
pub fn plan<'a>(src: &'a str, query: &str) -> Option<Plan<'a>> {
    let ranges = line_ranges(src);
    let mut keep = vec![true; ranges.len()];
    let mut chains: Vec<ServiceChain<'_>> = Vec::new();
    let mut chain_slots: HashMap<&str, usize> = HashMap::default();
    // iptables-save writes a chain's rules together: the slot of the last.
    let mut last: Option<(&str, usize)> = None;
    let mut entry_lines = Vec::new();
    // `:KUBE-SEP-*` lines: a chain per endpoint, declared only for the
    // endpoints read (nothing else jumps to them).
    let mut endpoint_declarations = Vec::new();
    let mut in_nat = false;
    let mut nat_tables = 0;
    let mut declared_chains: HashSet<&str> = HashSet::default();
    // The last ` -j `/` -g `: a comment before it may hold the text too.
    let jump = memmem::FinderRev::new(" -j ");
    let goto = memmem::FinderRev::new(" -g ");
    // As iptables-save writes it: what the model reads as a random match.
    // Written any other way, the plan is not made.
    let probability = memmem::Finder::new(" -m statistic --mode random --probability ");
    let any_probability = memmem::Finder::new("--probability");
    for (index, range) in ranges.iter().enumerate() {
        let text = &src[range.clone()];
        let text = text.strip_suffix('\r').unwrap_or(text);
        if let Some(table) = text.strip_prefix('*') {
            in_nat = table.trim_end() == "nat";
            nat_tables += usize::from(in_nat);
            if nat_tables > 1 {
                return None;
            }
            continue;
        }
        if text.trim_end() == "COMMIT" {
            // A rule after it is outside any table: the model drops it.
            in_nat = false;
            continue;
        }
        // `iptables-save -c` writes `[packets:bytes]` before the command.
        let command = match text.strip_prefix('[') {
            Some(rest) => rest.split_once("] ").map_or(rest, |(_, command)| command),
            None => text,
        };
        if !command.starts_with('-') {
            if in_nat && let Some(declared) = text.strip_prefix(':') {
                let name = first_word(declared);
                if name.starts_with("KUBE-SEP-") {
                    endpoint_declarations.push((name, index));
                }
                declared_chains.insert(name);
            }
            continue;
        }
        let after_command = command.strip_prefix("-A ")?;
        let chain = first_word(after_command);
        if ENTRY_CHAINS.contains(&chain) {
            entry_lines.push(index);
        }
        if !in_nat || !is_service_chain(chain) {
            continue;
        }
        let keyed = service_chain_key(chain);
        if !declared_chains.contains(chain) {
            // iptables-restore refuses the rule, which the lines left out
            // would not show (nor what it leaves out of the model).
            return None;
        }
        keep[index] = false;
        let slot = match last {
            Some((name, slot)) if name == chain => slot,
            _ => {
                let slot = *chain_slots.entry(chain).or_insert_with(|| {
                    chains.push(ServiceChain {
                        name: chain,
                        ..ServiceChain::default()
                    });
                    chains.len() - 1
                });
                last = Some((chain, slot));
                slot
            }
        };
        let entry = &mut chains[slot];
        entry.lines.push(index);
        let target = jump
            .rfind(command.as_bytes())
            .or_else(|| goto.rfind(command.as_bytes()))
            .map(|at| first_word(&command[at + 4..]))
            .filter(|target| is_service_chain(target));
        if let Some(target) = target {
            if keyed.is_some() && service_chain_key(target).is_some_and(|k| Some(k) != keyed) {
                return None;
            }
            entry.targets.push(target);
        }
        if keyed.is_some() {
            let written = any_probability.find_iter(command.as_bytes()).count();
            let mut read = 0;
            for at in probability.find_iter(command.as_bytes()) {
                let value = first_word(&command[at + probability.needle().len()..]);
                entry.probabilities.extend(parse_probability(value));
                read += 1;
            }
            if read != written {
                return None;
            }
        }
    }
    // The chains of the services the query may name: by a chain's hash,
    // or by the entries whose text holds the query or its name without
    // the port. Taking too many costs time only.
    let mut wanted_keys: HashSet<&str> = HashSet::default();
    if query.starts_with("KUBE-") {
        wanted_keys.extend(service_chain_key(query));
    }
    // An address as the dump writes it (`[fd00::1]:80` is `fd00::1`).
    let address = super::parse_address(query).map(|(ip, _)| ip.to_string());
    let needles: Vec<memmem::Finder<'static>> = [
        Some(query),
        query.split_once(':').map(|(name, _)| name),
        query.rsplit_once(':').map(|(name, _)| name),
        address.as_deref(),
    ]
    .into_iter()
    .flatten()
    .filter(|needle| !needle.is_empty())
    .map(|needle| memmem::Finder::new(needle).into_owned())
    .collect();
    for &index in &entry_lines {
        let text = &src[ranges[index].clone()];
        if needles
            .iter()
            .any(|needle| needle.find(text.as_bytes()).is_some())
            && let Some(at) = jump.rfind(text.as_bytes())
            && let Some(key) = service_chain_key(first_word(&text[at + 4..]))
        {
            wanted_keys.insert(key);
        }
    }
    let mut read = vec![false; chains.len()];
    let mut wanted: Vec<usize> = (0..chains.len())
        .filter(|&slot| {
            service_chain_key(chains[slot].name).is_some_and(|key| wanted_keys.contains(key))
        })
        .collect();
    while let Some(slot) = wanted.pop() {
        if std::mem::replace(&mut read[slot], true) {
            continue;
        }
        wanted.extend(
            chains[slot]
                .targets
                .iter()
                .filter_map(|target| chain_slots.get(target)),
        );
    }
    let mut skipped = HashSet::default();
    let mut skipped_probabilities = Vec::new();
    for (chain, read) in chains.into_iter().zip(read) {
        if read {
            for line in chain.lines {
                keep[line] = true;
            }
        } else {
            skipped.insert(chain.name);
            skipped_probabilities.extend(chain.probabilities);
        }
    }
    for (name, line) in endpoint_declarations {
        if skipped.contains(name) {
            keep[line] = false;
        }
    }
    Some(Plan {
        keep,
        skipped,
        skipped_probabilities,
    })
}

impl Plan<'_> {
    /// Whether every service of `all` has the name it has in the whole
    /// dump: a service its entries do not name is named by its chains'
    /// comments, which must then have been read.
    pub fn names_read(&self, dump: &Dump<'_>, all: &[Sketch]) -> bool {
        all.iter().all(|sketch| {
            let table = &dump.tables[sketch.table_index];
            sketch.named_by_comment
                || sketch
                    .chains
                    .iter()
                    .all(|&c| !self.skipped.contains(table.chains[c].name.as_ref()))
        })
    }

    /// Whether the model read by this plan holds everything `explain` of
    /// `sketch` looks at: the names of the services of `all`, and the rules
    /// of every chain the sketch's entries and chains reach.
    pub fn covers(&self, dump: &Dump<'_>, sketch: &Sketch, all: &[Sketch]) -> bool {
        if !self.names_read(dump, all) {
            return false;
        }
        let table = &dump.tables[sketch.table_index];
        let mut seen = vec![false; table.chains.len()];
        let mut stack: Vec<usize> = sketch
            .chains
            .iter()
            .copied()
            .chain(sketch.entries.iter().map(|&(_, _, target)| target))
            .collect();
        while let Some(chain) = stack.pop() {
            if std::mem::replace(&mut seen[chain], true) {
                continue;
            }
            if self.skipped.contains(table.chains[chain].name.as_ref()) {
                return false;
            }
            for rule in &table.chains[chain].rules {
                match rule.target.as_ref() {
                    // A chain whose declaration was not read.
                    Some(target) if self.skipped.contains(target.name.as_ref()) => return false,
                    Some(_) => stack.extend(rule.jump_target()),
                    None => {}
                }
            }
        }
        true
    }
}

/// A chain of one service: its endpoint chains and those with its hash.
fn is_service_chain(name: &str) -> bool {
    name.starts_with("KUBE-SEP-") || service_chain_key(name).is_some()
}

/// The text up to the first space.
fn first_word(text: &str) -> &str {
    memchr::memchr(b' ', text.as_bytes()).map_or(text, |end| &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::services::sketches;
    use crate::generate::{GenConfig, generate};
    use crate::model::build::build;

    #[test]
    fn a_service_reads_its_own_chains_and_not_the_others() {
        let dump = generate(&GenConfig {
            services: 50,
            seed: 4,
            ..GenConfig::default()
        })
        .text;
        let parsed = build(&dump);
        let all = sketches(&parsed.dump);
        let (asked, other) = (&all[10], &all[20]);
        let plan = plan(&dump, &asked.name).expect("a kube-proxy dump");
        let lines: Vec<&str> = dump.lines().collect();
        let read = |prefix: &str| -> Vec<bool> {
            lines
                .iter()
                .zip(&plan.keep)
                .filter(|(line, _)| line.starts_with(prefix))
                .map(|(_, keep)| *keep)
                .collect()
        };
        let own = read(&format!("-A KUBE-SVC-{}", asked.key));
        assert!(!own.is_empty() && own.iter().all(|keep| *keep));
        let others = read(&format!("-A KUBE-SVC-{}", other.key));
        assert!(!others.is_empty() && others.iter().all(|keep| !*keep));
        assert!(read("-A KUBE-SERVICES").iter().all(|keep| *keep));
        let kept = plan.keep.iter().filter(|keep| **keep).count();
        assert!(kept * 3 < lines.len(), "{kept} of {} lines", lines.len());
        // Restore commands that move rules, a second nat table, a service
        // chain not declared: no plan.
        for text in [
            "*nat\n:X - [0:0]\n-I X 1 -j ACCEPT\nCOMMIT\n",
            "*nat\nCOMMIT\n*nat\nCOMMIT\n",
            "*nat\n-A KUBE-SVC-X -m statistic --mode random --probability 0.5 -j KUBE-SEP-Y\nCOMMIT\n",
            // A probability written otherwise than iptables-save writes it.
            "*nat\n:KUBE-SVC-X - [0:0]\n-A KUBE-SVC-X -m statistic --probability 0.5 --mode random -j KUBE-SEP-Y\nCOMMIT\n",
        ] {
            assert!(super::plan(text, "x").is_none(), "{text}");
        }
        // The target is the last `-j`, not one quoted in a comment before it
        // (which would look like a jump to another service's chain).
        let commented = "*nat\n:KUBE-SVC-X - [0:0]\n:KUBE-SEP-Y - [0:0]\n\
            -A KUBE-SVC-X -m comment --comment \"a -j KUBE-SVC-Z\" -j KUBE-SEP-Y\nCOMMIT\n";
        assert!(super::plan(commented, "x").is_some());
    }
}
