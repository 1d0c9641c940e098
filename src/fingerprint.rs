//! Stable identities of findings, for SARIF `partialFingerprints` and baselines.
//!
//! A fingerprint must survive what happens to a dump between two runs:
//! rules move up and down (so no line numbers), counters change on every
//! save (so `[packets:bytes]` is dropped) and spacing may differ (so runs of
//! whitespace collapse to one space). What it is made of: the check's name,
//! the table, the chain, the normalised text of the line the finding points
//! at, and the normalised text it points at within that line (two findings
//! of one check on one rule differ there). The hash is 128-bit FNV-1a,
//! implemented here because it is a dozen lines, has a published
//! specification and no dependency can change its output under us.

use crate::diagnostics::Diagnostic;
use crate::source::SourceFile;

/// The key under which SARIF results carry the fingerprint.
pub const SARIF_KEY: &str = "iptlintFingerprint/v1";

/// The stable identity of one finding: 32 lower-case hex digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fingerprint(pub String);

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The fingerprint of `diagnostic`, found in `source`.
pub fn fingerprint(source: &SourceFile, diagnostic: &Diagnostic) -> Fingerprint {
    let mut hash = Fnv1a128::new();
    hash.field(diagnostic.info.name.as_bytes());
    hash.field(diagnostic.table.as_deref().unwrap_or("").as_bytes());
    hash.field(diagnostic.chain.as_deref().unwrap_or("").as_bytes());
    hash.field(normalised_line(source, diagnostic).as_bytes());
    hash.field(normalised_span_text(source, diagnostic).as_bytes());
    Fingerprint(format!("{:032x}", hash.finish()))
}

/// The line `diagnostic` points at, without counters and with whitespace
/// collapsed: what identifies the rule (or declaration) across saves.
pub fn normalised_line(source: &SourceFile, diagnostic: &Diagnostic) -> String {
    let span = diagnostic.primary_span();
    let (line, _) = source.location(span.start as usize);
    if source.text.is_empty() {
        return String::new();
    }
    let text = &source.text[source.line_range(line)];
    normalise_rule_text(text)
}

/// Drop the `[packets:bytes]` counters of a rule line (leading) or a chain
/// declaration (trailing) and collapse runs of whitespace into one space.
pub fn normalise_rule_text(line: &str) -> String {
    let words: Vec<&str> = line.split_whitespace().collect();
    let mut start = 0;
    let mut end = words.len();
    if words.first().is_some_and(|word| is_counters(word)) {
        start = 1;
    }
    if words.first().is_some_and(|word| word.starts_with(':'))
        && end > start
        && is_counters(words[end - 1])
    {
        end -= 1;
    }
    words[start..end].join(" ")
}

fn normalised_span_text(source: &SourceFile, diagnostic: &Diagnostic) -> String {
    let range = diagnostic.primary_span().range();
    let text = source.text.get(range).unwrap_or("");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `[123:4567]`.
fn is_counters(word: &str) -> bool {
    word.strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|inner| inner.split_once(':'))
        .is_some_and(|(packets, bytes)| {
            !packets.is_empty()
                && !bytes.is_empty()
                && packets.bytes().all(|b| b.is_ascii_digit())
                && bytes.bytes().all(|b| b.is_ascii_digit())
        })
}

/// 128-bit FNV-1a (<http://www.isthe.com/chongo/tech/comp/fnv/>).
#[derive(Debug, Clone, Copy)]
pub struct Fnv1a128(u128);

impl Fnv1a128 {
    const OFFSET_BASIS: u128 = 0x6c62272e07bb014262b821756295c58d;
    const PRIME: u128 = 0x0000000001000000000000000000013b;

    /// A hash of nothing yet.
    pub fn new() -> Self {
        Fnv1a128(Self::OFFSET_BASIS)
    }

    /// Hash `bytes` as they are.
    pub fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 ^= u128::from(byte);
            self.0 = self.0.wrapping_mul(Self::PRIME);
        }
    }

    /// Hash one field, prefixed by its length so that field boundaries
    /// cannot be confused (`ab`,`c` differs from `a`,`bc`).
    pub fn field(&mut self, bytes: &[u8]) {
        self.write(&(bytes.len() as u64).to_le_bytes());
        self.write(bytes);
    }

    /// The hash value.
    pub fn finish(&self) -> u128 {
        self.0
    }
}

impl Default for Fnv1a128 {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::{Settings, check_source};

    #[test]
    fn fnv1a_128_matches_published_vectors() {
        // Test vectors from the FNV reference (fnv-hash test suite).
        let hash = |text: &str| {
            let mut h = Fnv1a128::new();
            h.write(text.as_bytes());
            format!("{:032x}", h.finish())
        };
        assert_eq!(hash(""), "6c62272e07bb014262b821756295c58d");
        assert_eq!(hash("a"), "d228cb696f1a8caf78912b704e4a8964");
        assert_eq!(hash("foobar"), "343e1662793c64bf6f0d3597ba446f18");
    }

    #[test]
    fn counters_and_spacing_do_not_matter() {
        assert_eq!(
            normalise_rule_text("[12:3456] -A INPUT  -p tcp\t-j DROP"),
            "-A INPUT -p tcp -j DROP"
        );
        assert_eq!(normalise_rule_text(":KUBE-X - [0:0]"), ":KUBE-X -");
        assert_eq!(
            normalise_rule_text("-A X -m comment --comment \"[1:2]\" -j DROP"),
            "-A X -m comment --comment \"[1:2]\" -j DROP"
        );
    }

    fn fingerprints(text: &str) -> Vec<(String, Fingerprint)> {
        let report = check_source(SourceFile::new("x", text), &Settings::default());
        report
            .diagnostics
            .iter()
            .map(|d| (d.info.name.to_string(), fingerprint(&report.source, d)))
            .collect()
    }

    #[test]
    fn fingerprints_survive_reordering_and_counters_but_not_edits() {
        let before = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -j ACCEPT\n-A INPUT -s ! 1.2.3.4 -j DROP\nCOMMIT\n";
        let after = "# saved again\n*filter\n:INPUT ACCEPT [9:99]\n[5:300] -A INPUT   -s ! 1.2.3.4 -j DROP\n-A INPUT -p tcp -j ACCEPT\nCOMMIT\n";
        let edited = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -j ACCEPT\n-A INPUT -s ! 1.2.3.5 -j DROP\nCOMMIT\n";
        let before = fingerprints(before);
        assert_eq!(before.len(), 1, "{before:?}");
        assert_eq!(before, fingerprints(after));
        assert_ne!(before, fingerprints(edited));
    }
}
