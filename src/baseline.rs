//! Baselines: adopt iptlint on dumps that are not clean yet.
//!
//! `iptlint check --write-baseline FILE` records today's findings, per file,
//! by [fingerprint](crate::fingerprint) with a count; `--baseline FILE` then
//! reports only findings that are new. Counting matters: when a rule was
//! flagged twice and is now flagged three times, one finding is new. Entries
//! that no longer match anything are *stale* (fixed, or the rule changed)
//! and are listed so the baseline can be refreshed.
//!
//! The file is JSON with one entry per line, sorted, so that a baseline under
//! version control diffs line by line:
//!
//! ```json
//! {"version": 1, "tool": "iptlint", "findings": [
//! {"file": "node.rules", "fingerprint": "…", "check": "unknown-option", "table": "filter", "chain": "FORWARD", "count": 1, "rule": "-A FORWARD … -j DROP"}
//! ]}
//! ```

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::diagnostics::Diagnostic;
use crate::diagnostics::codes::{SYNTAX_ERROR, UNREADABLE_INPUT};
use crate::fingerprint::{Fingerprint, fingerprint, normalised_line};
use crate::lint::FileReport;
use crate::source::SourceFile;

/// Version of the baseline file format.
pub const VERSION: u32 = 1;

/// One recorded finding (with how many times it occurred).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselineEntry {
    /// The file as given on the command line (a leading `./` removed).
    pub file: String,
    /// The finding's [`Fingerprint`].
    pub fingerprint: String,
    /// The check's name, for people reading the file.
    pub check: String,
    /// The table, when the finding has one.
    pub table: Option<String>,
    /// The chain, when the finding has one.
    pub chain: Option<String>,
    /// How many findings had this fingerprint.
    pub count: usize,
    /// The normalised line the finding pointed at, for people reading the file.
    pub rule: String,
}

/// The file as written.
#[derive(Debug, Serialize, Deserialize)]
struct BaselineFile {
    version: u32,
    #[serde(default)]
    tool: Option<String>,
    findings: Vec<BaselineEntry>,
}

/// A set of known findings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Baseline {
    /// By (file, fingerprint); ordered so that output is deterministic.
    entries: BTreeMap<(String, String), BaselineEntry>,
}

/// A baseline entry that matched fewer findings than it recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaleEntry {
    /// The entry.
    #[serde(flatten)]
    pub entry: BaselineEntry,
    /// How many of its `count` findings were not found this time.
    pub missing: usize,
}

/// What applying a baseline did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BaselineOutcome {
    /// Findings not reported because the baseline knows them.
    pub suppressed: usize,
    /// Entries of the checked files that matched less than they recorded.
    pub stale: Vec<StaleEntry>,
}

impl BaselineOutcome {
    /// Add another file's outcome.
    pub fn merge(&mut self, other: BaselineOutcome) {
        self.suppressed += other.suppressed;
        self.stale.extend(other.stale);
    }
}

/// The name a file is recorded under: as given, without leading `./`.
pub fn file_key(name: &str) -> &str {
    let mut name = name;
    while let Some(rest) = name.strip_prefix("./") {
        name = rest.trim_start_matches('/');
    }
    name
}

/// Whether a finding can be baselined: a file that cannot be read or parsed
/// always fails the run.
fn is_baselinable(diagnostic: &Diagnostic) -> bool {
    !std::ptr::eq(diagnostic.info, &SYNTAX_ERROR)
        && !std::ptr::eq(diagnostic.info, &UNREADABLE_INPUT)
}

impl Baseline {
    /// Record every baselinable finding of `reports`.
    pub fn from_reports(reports: &[FileReport]) -> Baseline {
        let mut baseline = Baseline::default();
        for report in reports {
            let file = file_key(&report.source.name).to_string();
            for diagnostic in report.diagnostics.iter().filter(|d| is_baselinable(d)) {
                let Fingerprint(print) = fingerprint(&report.source, diagnostic);
                baseline
                    .entries
                    .entry((file.clone(), print.clone()))
                    .and_modify(|entry| entry.count += 1)
                    .or_insert_with(|| BaselineEntry {
                        file: file.clone(),
                        fingerprint: print,
                        check: diagnostic.info.name.to_string(),
                        table: diagnostic.table.clone(),
                        chain: diagnostic.chain.clone(),
                        count: 1,
                        rule: normalised_line(&report.source, diagnostic),
                    });
            }
        }
        baseline
    }

    /// Parse a baseline file's text.
    pub fn parse(text: &str) -> Result<Baseline, String> {
        let file: BaselineFile = serde_json::from_str(text)
            .map_err(|error| format!("not an iptlint baseline: {error}"))?;
        if file.version != VERSION {
            return Err(format!(
                "baseline format version {} is not supported (this iptlint writes version {VERSION})",
                file.version
            ));
        }
        let mut baseline = Baseline::default();
        for entry in file.findings {
            let key = (file_key(&entry.file).to_string(), entry.fingerprint.clone());
            match baseline.entries.get_mut(&key) {
                Some(existing) => existing.count += entry.count,
                None => {
                    baseline.entries.insert(key, entry);
                }
            }
        }
        Ok(baseline)
    }

    /// Read a baseline file.
    pub fn read(path: &str) -> Result<Baseline, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| format!("cannot read baseline `{path}`: {error}"))?;
        Baseline::parse(&text).map_err(|error| format!("baseline `{path}`: {error}"))
    }

    /// The file's text: one entry per line, sorted by file and fingerprint.
    pub fn to_json(&self) -> String {
        let mut text =
            format!("{{\"version\": {VERSION}, \"tool\": \"iptlint\", \"findings\": [\n");
        let count = self.entries.len();
        for (index, entry) in self.entries.values().enumerate() {
            text.push_str(&serde_json::to_string(entry).expect("entries serialise"));
            text.push_str(if index + 1 < count { ",\n" } else { "\n" });
        }
        text.push_str("]}\n");
        text
    }

    /// Write the baseline to `path`.
    pub fn write(&self, path: &str) -> std::io::Result<()> {
        std::fs::write(path, self.to_json())
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Total findings recorded (entries times their counts).
    pub fn findings(&self) -> usize {
        self.entries.values().map(|entry| entry.count).sum()
    }

    /// The entries, sorted.
    pub fn entries(&self) -> impl Iterator<Item = &BaselineEntry> {
        self.entries.values()
    }

    /// Remove from `diagnostics` (findings of `source`) those the baseline
    /// knows, up to each entry's count, keeping the first ones in source
    /// order as known and the later ones as new.
    pub fn filter(
        &self,
        source: &SourceFile,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> BaselineOutcome {
        let file = file_key(&source.name);
        let mut used: HashMap<String, usize> = HashMap::new();
        let mut suppressed = 0;
        diagnostics.retain(|diagnostic| {
            if !is_baselinable(diagnostic) {
                return true;
            }
            let Fingerprint(print) = fingerprint(source, diagnostic);
            let Some(entry) = self.entries.get(&(file.to_string(), print.clone())) else {
                return true;
            };
            let count = used.entry(print).or_default();
            if *count < entry.count {
                *count += 1;
                suppressed += 1;
                false
            } else {
                true
            }
        });
        let stale = self
            .entries
            .range((file.to_string(), String::new())..)
            .take_while(|((entry_file, _), _)| entry_file == file)
            .filter_map(|((_, print), entry)| {
                let found = used.get(print).copied().unwrap_or(0);
                (found < entry.count).then(|| StaleEntry {
                    entry: entry.clone(),
                    missing: entry.count - found,
                })
            })
            .collect();
        BaselineOutcome { suppressed, stale }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::{Settings, check_source};

    /// Findings of the one check these tests use (identical rules also
    /// draw `duplicate-rule`, which would muddle the counts).
    fn report(name: &str, text: &str) -> FileReport {
        let mut settings = Settings::default();
        settings.select(&["obsolete-negation", "syntax-error"]);
        check_source(SourceFile::new(name, text), &settings)
    }

    const TWO: &str = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s ! 1.2.3.4 -j DROP\n-A INPUT -s ! 1.2.3.4 -j DROP\nCOMMIT\n";
    const THREE: &str = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s ! 1.2.3.4 -j DROP\n-A INPUT -p tcp -j ACCEPT\n-A INPUT -s ! 1.2.3.4 -j DROP\n-A INPUT -s ! 1.2.3.4 -j DROP\nCOMMIT\n";

    #[test]
    fn round_trips_through_its_file() {
        let baseline =
            Baseline::from_reports(&[report("./a.rules", TWO), report("b.rules", THREE)]);
        assert_eq!(baseline.len(), 2);
        assert_eq!(baseline.findings(), 5);
        let text = baseline.to_json();
        assert_eq!(text.lines().count(), 4, "{text}");
        let parsed = Baseline::parse(&text).unwrap();
        assert_eq!(parsed, baseline);
        assert_eq!(parsed.to_json(), text);
        assert!(parsed.entries().all(|e| e.check == "obsolete-negation"));
        assert_eq!(parsed.entries().next().unwrap().file, "a.rules");
    }

    #[test]
    fn counts_decide_what_is_new_and_what_is_stale() {
        let baseline = Baseline::from_reports(&[report("a.rules", TWO)]);
        let mut grown = report("a.rules", THREE);
        let outcome = baseline.filter(&grown.source.clone(), &mut grown.diagnostics);
        assert_eq!(outcome.suppressed, 2);
        assert!(outcome.stale.is_empty());
        assert_eq!(grown.diagnostics.len(), 1);
        // The new one is the last in source order.
        assert_eq!(
            grown
                .source
                .location(grown.diagnostics[0].primary_span().start as usize)
                .0,
            6
        );

        let baseline = Baseline::from_reports(&[report("a.rules", THREE)]);
        let mut shrunk = report("a.rules", TWO);
        let outcome = baseline.filter(&shrunk.source.clone(), &mut shrunk.diagnostics);
        assert_eq!(outcome.suppressed, 2);
        assert!(shrunk.diagnostics.is_empty());
        assert_eq!(outcome.stale.len(), 1);
        assert_eq!(outcome.stale[0].missing, 1);
        assert_eq!(outcome.stale[0].entry.count, 3);
    }

    #[test]
    fn files_are_kept_apart() {
        let baseline = Baseline::from_reports(&[report("a.rules", TWO)]);
        let mut other = report("b.rules", TWO);
        let outcome = baseline.filter(&other.source.clone(), &mut other.diagnostics);
        assert_eq!(outcome.suppressed, 0);
        assert_eq!(other.diagnostics.len(), 2);
        assert!(
            outcome.stale.is_empty(),
            "entries of a.rules are not stale for b.rules"
        );
    }

    #[test]
    fn syntax_errors_are_never_baselined() {
        let broken = report("a.rules", "*filter\n[1:2 -A INPUT\nCOMMIT\n");
        assert!(broken.is_fatal());
        assert!(Baseline::from_reports(&[broken]).is_empty());
    }

    #[test]
    fn bad_files_are_refused_with_a_reason() {
        assert!(
            Baseline::parse("[]")
                .unwrap_err()
                .contains("not an iptlint baseline")
        );
        assert!(
            Baseline::parse("{\"version\": 9, \"findings\": []}")
                .unwrap_err()
                .contains("version 9")
        );
    }
}
