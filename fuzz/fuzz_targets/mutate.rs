//! Structure-aware: real dumps (the project's fixtures, ../shared/corpus when
//! present, and a generated kube-proxy dump) with whole lines and words
//! deleted, duplicated, swapped, truncated or spliced with tokens that matter
//! to the grammar, run through the whole `check` pipeline.
#![no_main]

use std::sync::LazyLock;

use arbitrary::Arbitrary;
use codespan_reporting::term::termcolor::NoColor;
use iptlint::generate::{GenConfig, generate};
use iptlint::lint::{Settings, check_source};
use iptlint::render;
use iptlint::source::SourceFile;
use libfuzzer_sys::fuzz_target;

/// Seed dumps, split into lines.
static SEEDS: LazyLock<Vec<Vec<String>>> = LazyLock::new(|| {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut texts = vec![
        generate(&GenConfig {
            services: 12,
            ..GenConfig::default()
        })
        .text,
    ];
    for dir in ["fixtures", "fixtures/parse", "../shared/corpus"] {
        let Ok(entries) = std::fs::read_dir(format!("{root}/{dir}")) else {
            continue;
        };
        let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            if path.extension().is_some_and(|e| e == "rules")
                && let Ok(bytes) = std::fs::read(&path)
            {
                texts.push(String::from_utf8_lossy(&bytes).into_owned());
            }
        }
    }
    texts
        .into_iter()
        .map(|text| text.lines().map(str::to_owned).collect())
        .collect()
});

const TOKENS: &[&str] = &[
    "\"",
    "\\",
    " ",
    "\t",
    "!",
    "[",
    "]",
    "[0:0]",
    ":",
    "*",
    "#",
    "-",
    "--",
    "COMMIT",
    "*filter",
    "*nat",
    "-A",
    "-I",
    "-D",
    "-R",
    "-N",
    "-X",
    "-E",
    "-F",
    "-P",
    "-Z",
    "-j",
    "-g",
    "-m",
    "-p",
    "tcp",
    "--dport",
    "--comment",
    "-s",
    "0.0.0.0/0",
    "::/0",
    "ACCEPT",
    "DROP",
    "RETURN",
    "DNAT",
    "--to-destination",
    "KUBE-SERVICES",
    "\r",
    "\0",
    "\u{fffd}",
    "4294967296",
    "-1",
];

#[derive(Debug, Arbitrary)]
enum Edit {
    DeleteLine(u16),
    DuplicateLine(u16, u16),
    SwapLines(u16, u16),
    TruncateLine(u16, u16),
    InsertToken(u16, u16, u8),
    DeleteWord(u16, u8),
    ReplaceWord(u16, u8, u8),
    InsertText(u16, String),
    CutFile(u16),
}

#[derive(Debug, Arbitrary)]
struct Input {
    seed: u8,
    edits: Vec<Edit>,
    crlf: bool,
}

fn pick(len: usize, index: u16) -> Option<usize> {
    (len > 0).then(|| index as usize % len)
}

fn boundary(text: &str, at: u16) -> usize {
    let mut at = (at as usize).min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fuzz_target!(|input: Input| {
    let seeds = &*SEEDS;
    let mut lines = seeds[input.seed as usize % seeds.len()].clone();
    for edit in input.edits.iter().take(64) {
        let len = lines.len();
        match *edit {
            Edit::DeleteLine(i) => {
                if let Some(i) = pick(len, i) {
                    lines.remove(i);
                }
            }
            Edit::DuplicateLine(i, j) => {
                if let (Some(i), Some(j)) = (pick(len, i), pick(len + 1, j)) {
                    let line = lines[i].clone();
                    lines.insert(j, line);
                }
            }
            Edit::SwapLines(i, j) => {
                if let (Some(i), Some(j)) = (pick(len, i), pick(len, j)) {
                    lines.swap(i, j);
                }
            }
            Edit::TruncateLine(i, at) => {
                if let Some(i) = pick(len, i) {
                    let at = boundary(&lines[i], at);
                    lines[i].truncate(at);
                }
            }
            Edit::InsertToken(i, at, token) => {
                if let Some(i) = pick(len, i) {
                    let at = boundary(&lines[i], at);
                    lines[i].insert_str(at, TOKENS[token as usize % TOKENS.len()]);
                }
            }
            Edit::DeleteWord(i, word) | Edit::ReplaceWord(i, word, _) => {
                if let Some(i) = pick(len, i) {
                    let mut words: Vec<&str> = lines[i].split(' ').collect();
                    if let Some(w) = pick(words.len(), word as u16) {
                        if let Edit::ReplaceWord(_, _, token) = *edit {
                            words[w] = TOKENS[token as usize % TOKENS.len()];
                        } else {
                            words.remove(w);
                        }
                    }
                    lines[i] = words.join(" ");
                }
            }
            Edit::InsertText(i, ref text) => {
                let at = pick(len + 1, i).unwrap_or(0);
                lines.insert(at, text.clone());
            }
            Edit::CutFile(i) => {
                if let Some(i) = pick(len, i) {
                    lines.truncate(i);
                }
            }
        }
    }
    let ending = if input.crlf { "\r\n" } else { "\n" };
    let text = lines.join(ending) + ending;
    let report = check_source(SourceFile::new("mutated.rules", text), &Settings::default());
    let reports = [report];
    let mut out = NoColor::new(Vec::new());
    render::human::write_reports(&mut out, &reports, false).expect("human output");
    render::json::write(&mut Vec::new(), &reports).expect("json output");
});
