//! Differential test against the kernel: rule lines of real dumps (every
//! table of the IPv4 corpus, else this repository's fixtures), each
//! mutated once by a seeded generator (a `!` or a stray word inserted, a
//! word dropped, replaced or swapped with the next, one character of a
//! word changed, an option repeated),
//! loaded one by one by the real iptables-restore in a private network
//! namespace, with each backend (legacy and nft) that works here. iptlint
//! must report an error on a line exactly when that backend refuses it
//! (errors whose note says the backend loads it anyway, and
//! `missing-terminal`, an error about where packets go and never a
//! refusal, aside).
//!
//! Lines whose fate depends on the machine rather than on the text are
//! left out: a module or target this kernel lacks ("Couldn't load match"),
//! a host name to resolve ("host/network `x' not found"), a user or group
//! name to look up. Each disagreement
//! is printed with the line and what iptables said; a run of this kind
//! found the refusals and false errors fixed on 2026-12-07 (required
//! options, option abbreviations, `!` after an option, ...).

mod support;

use std::collections::BTreeSet;

use iptlint::model::targets;
use support::{Family, Kernel, corpus_entries, fixtures_dir};

/// Mutated lines per run: each is a load of its own (about 2 ms).
const CASES: usize = 3000;

/// A fixed seed: the same lines on every run. `IPTLINT_DIFFERENTIAL_SEED`
/// (a number) picks other lines, to look further.
const SEED: u64 = 0x1ab5_f00d_2026_1207;

/// Words put in place of others: numbers at and past the limits, names of
/// other kinds, a `!`, an empty word.
const POOL: &[&str] = &[
    "!",
    "0",
    "-1",
    "65536",
    "abc",
    "1.2.3.4/33",
    "1.2.3.4",
    "tcp",
    "udp",
    "ACCEPT",
    "--dport",
    "-p",
    "80:70",
    "0x10",
    "NEW",
    "eth0",
    "+",
    "10/8",
    "999999999999",
    "1e3",
    "\"\"",
];

/// Characters put into words or in place of one of theirs.
const CHARS: &[char] = &[
    '0', '9', ':', '-', ',', '/', '.', '!', 'x', '"', '\\', '+', '*', '%',
];

/// Whether `name` is a target rather than a chain: the rest of a `-j`'s
/// words are declared as user chains, so that the jump itself is no reason
/// to refuse the line.
fn is_target(name: &str) -> bool {
    matches!(name, "ACCEPT" | "DROP" | "RETURN" | "QUEUE") || targets::is_extension(name)
}

/// What the kernel says of lines whose fate depends on the machine: its
/// modules, its resolver, its user and group database (`--uid-owner !` is
/// a user name looked up).
const MACHINE_DEPENDENT: &[&str] = &[
    "Couldn't load match",
    "Couldn't load target",
    "host/network",
    "Couldn't find target",
    "Bad value for \"--uid-owner\"",
    "Bad value for \"--gid-owner\"",
];

/// Options whose value the kernel looks up among what it has loaded: a
/// conntrack helper (`CT --helper ftp`) exists only when its module does,
/// and the kernel's refusal says only "line N failed".
const MACHINE_DEPENDENT_OPTIONS: &[&str] = &["--helper"];

/// splitmix64: small, seeded, the same everywhere.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The tables whose lines are mutated, with their built-in chains.
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

/// The `-A` lines of the [`TABLES`] of `text`, each with its table.
fn table_rules(text: &str) -> Vec<(&'static str, &str)> {
    let mut table = None;
    let mut rules = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix('*') {
            table = TABLES
                .iter()
                .find(|(known, _)| *known == name.trim())
                .map(|(known, _)| *known);
        } else if let Some(table) = table
            && line.starts_with("-A ")
        {
            rules.push((table, line));
        }
    }
    rules
}

/// The lines to mutate, with their tables: from the IPv4 dumps of the
/// corpus, else from the fixtures, sorted and without repeats.
fn source_lines() -> Vec<(&'static str, String)> {
    let files: Vec<std::path::PathBuf> = match corpus_entries() {
        Some(entries) => entries
            .into_iter()
            .filter(|entry| entry.family == Family::V4)
            .map(|entry| entry.path)
            .collect(),
        None => {
            let mut files = Vec::new();
            for dir in [fixtures_dir(), fixtures_dir().join("parse")] {
                for entry in std::fs::read_dir(dir).unwrap() {
                    let path = entry.unwrap().path();
                    if path.extension().is_some_and(|e| e == "rules") {
                        files.push(path);
                    }
                }
            }
            files
        }
    };
    let mut lines = BTreeSet::new();
    for file in files {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        lines.extend(
            table_rules(&text)
                .into_iter()
                .map(|(table, line)| (table, line.to_string())),
        );
    }
    lines.into_iter().collect()
}

/// One mutation of `line` (its `-A CHAIN` kept).
fn mutate(line: &str, random: &mut Random) -> String {
    let mut words: Vec<String> = line.split(' ').map(str::to_string).collect();
    if words.len() < 4 {
        return line.to_string();
    }
    let at = 2 + random.below(words.len() - 2);
    match random.below(8) {
        0 => words.insert(at, "!".to_string()),
        1 => {
            words.remove(at);
        }
        2 => words[at] = POOL[random.below(POOL.len())].to_string(),
        3 if at + 1 < words.len() => words.swap(at, at + 1),
        4 => words.insert(at, POOL[random.below(POOL.len())].to_string()),
        5 | 6 => {
            // One character of a word deleted, doubled, replaced or put in:
            // values just off their form (`8O`, `1.2.3.4/3x`, `80::90`).
            let mut chars: Vec<char> = words[at].chars().collect();
            let i = random.below(chars.len() + 1);
            let other = CHARS[random.below(CHARS.len())];
            match (random.below(4), i < chars.len()) {
                (0, true) => {
                    chars.remove(i);
                }
                (1, true) => chars.insert(i, chars[i]),
                (2, true) => chars[i] = other,
                _ => chars.insert(i, other),
            }
            words[at] = chars.into_iter().collect();
        }
        _ => {
            let options: Vec<usize> = (2..words.len() - 1)
                .filter(|&i| words[i].starts_with('-'))
                .collect();
            if !options.is_empty() {
                let option = options[random.below(options.len())];
                let repeated = words[option..option + 2].to_vec();
                words.extend(repeated);
            }
        }
    }
    words.join(" ")
}

/// Table `table` holding `line`, with its chain and the chains it jumps
/// to declared.
fn dump_of(table: &str, line: &str) -> String {
    let builtin = TABLES
        .iter()
        .find(|(known, _)| *known == table)
        .map_or(&[][..], |(_, chains)| *chains);
    let words: Vec<&str> = line.split(' ').collect();
    let mut chains = BTreeSet::new();
    chains.insert(words[1]);
    for pair in words.windows(2) {
        if matches!(pair[0], "-j" | "-g" | "--jump" | "--goto")
            && !pair[1].starts_with('-')
            && !pair[1].is_empty()
            && !is_target(pair[1])
        {
            chains.insert(pair[1]);
        }
    }
    let mut dump = format!("*{table}\n");
    for chain in chains {
        let policy = if builtin.contains(&chain) {
            "ACCEPT"
        } else {
            "-"
        };
        dump.push_str(&format!(":{chain} {policy} [0:0]\n"));
    }
    dump.push_str(line);
    dump.push_str("\nCOMMIT\n");
    dump
}

#[test]
fn iptlint_refuses_a_mutated_line_exactly_when_the_kernel_does() {
    let test = "iptlint_refuses_a_mutated_line_exactly_when_the_kernel_does";
    let kernels = Kernel::all(test);
    if kernels.is_empty() {
        return;
    }
    let lines = source_lines();
    assert!(lines.len() >= 50, "only {} source lines", lines.len());
    let seed = std::env::var("IPTLINT_DIFFERENTIAL_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or(SEED);
    let mut random = Random(seed);
    // Each case: its table, its mutated line, the dump holding it.
    let cases: Vec<(&str, String, String)> = (0..CASES)
        .map(|_| {
            let (table, line) = &lines[random.below(lines.len())];
            let case = mutate(line, &mut random);
            let dump = dump_of(table, &case);
            (*table, case, dump)
        })
        .collect();
    let dumps: Vec<(Family, &str)> = cases
        .iter()
        .map(|(_, _, dump)| (Family::V4, dump.as_str()))
        .collect();
    // Each backend on its own: they refuse different lines (a note of
    // iptlint's finding says which loads a line the other refuses).
    for kernel in &kernels {
        compare(kernel, &cases, &dumps);
    }
}

/// Load `dumps` (those of `cases`) into `kernel` and hold iptlint's
/// refusals to its verdicts.
fn compare(kernel: &Kernel, cases: &[(&str, String, String)], dumps: &[(Family, &str)]) {
    let verdicts = kernel.restore_each(dumps);
    let (mut compared, mut refused) = (0, 0);
    let mut disagreements = Vec::new();
    for ((table, case, dump), verdict) in cases.iter().zip(&verdicts) {
        if let Err(said) = verdict
            && (MACHINE_DEPENDENT.iter().any(|m| said.contains(m))
                || case
                    .split(' ')
                    .any(|word| MACHINE_DEPENDENT_OPTIONS.contains(&word)))
        {
            continue;
        }
        compared += 1;
        let errors = kernel.refusals_by_iptlint(dump);
        match verdict {
            Ok(()) if !errors.is_empty() => disagreements.push(format!(
                "kernel loads, iptlint says {errors:?}\n  *{table} {case}"
            )),
            Err(said) => {
                refused += 1;
                if errors.is_empty() {
                    let said = said.lines().next().unwrap_or_default();
                    disagreements
                        .push(format!("kernel refuses ({said}), iptlint passes\n  {case}"));
                }
            }
            Ok(()) => {}
        }
    }
    println!(
        "{compared} mutated lines compared ({refused} refused by the {} kernel), {} disagreements",
        kernel.backend,
        disagreements.len()
    );
    // Most lines must count: a harness that compared nothing proves nothing.
    assert!(compared >= CASES * 3 / 4, "only {compared} lines compared");
    assert!(
        refused > 0 && refused < compared,
        "{refused} of {compared} refused"
    );
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}
