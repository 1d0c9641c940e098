//! What the structure-aware fuzz targets share: real dumps (the project's
//! fixtures, ../shared/corpus when present, and a generated kube-proxy
//! dump) with whole lines and words deleted, duplicated, swapped, truncated
//! or spliced with tokens that matter to the grammar.

use std::sync::LazyLock;

use arbitrary::Arbitrary;
use iptlint::generate::{GenConfig, generate};

mod grammar_tokens;

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

const TOKENS: &[&str] = grammar_tokens::GRAMMAR_TOKENS;

/// One change to a seed dump.
#[derive(Debug, Arbitrary)]
pub enum Edit {
    /// Delete a line.
    DeleteLine(u16),
    /// Copy a line to another place.
    DuplicateLine(u16, u16),
    /// Swap two lines.
    SwapLines(u16, u16),
    /// Cut a line at a byte.
    TruncateLine(u16, u16),
    /// Insert one of the tokens into a line.
    InsertToken(u16, u16, u8),
    /// Delete a word of a line.
    DeleteWord(u16, u8),
    /// Replace a word of a line by a token.
    ReplaceWord(u16, u8, u8),
    /// Insert a line of any text.
    InsertText(u16, String),
    /// Cut the file at a line.
    CutFile(u16),
}

/// A seed dump and the changes made to it.
#[derive(Debug, Arbitrary)]
pub struct Input {
    /// Which seed dump.
    pub seed: u8,
    /// The changes, the first 64 applied in order.
    pub edits: Vec<Edit>,
    /// Whether lines end in `\r\n`.
    pub crlf: bool,
}

impl Input {
    /// The seed dump with the changes made.
    pub fn text(&self) -> String {
        let seeds = &*SEEDS;
        let mut lines = seeds[self.seed as usize % seeds.len()].clone();
        for edit in self.edits.iter().take(64) {
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
        let ending = if self.crlf { "\r\n" } else { "\n" };
        lines.join(ending) + ending
    }
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
