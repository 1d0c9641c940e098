//! Agreement with the real iptables over every dump in ../shared/corpus:
//! a dump that `iptables-restore --test` accepts parses with no syntax error
//! (and, built into the model, none of the errors iptables would refuse);
//! a dump it refuses gets an error or warning on the line iptables names.

mod support;

use iptlint::diagnostics::Severity;
use iptlint::lint::{Settings, check_source};
use iptlint::source::SourceFile;
use support::{Family, Kernel, corpus_dir, failing_line, skip};

#[test]
fn every_corpus_dump_agrees_with_iptables_restore_test() {
    let test = "every_corpus_dump_agrees_with_iptables_restore_test";
    let Some(dir) = corpus_dir() else {
        skip(test, "../shared/corpus is absent");
        return;
    };
    let Some(kernel) = Kernel::get(test) else {
        return;
    };
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "rules"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 40,
        "expected the whole corpus, found {}",
        paths.len()
    );
    let mut disagreements = Vec::new();
    for path in &paths {
        let bytes = std::fs::read(path).unwrap();
        let source = SourceFile::from_bytes(path.display().to_string(), bytes);
        let text = source.text.clone();
        let family = manifest_family(&dir, path);
        let verdict = kernel.restore(family, &text, &["--test"]);
        let report = check_source(source, &Settings::default());
        let lines_flagged: Vec<usize> = report
            .diagnostics
            .iter()
            .filter(|d| d.severity >= Severity::Warning)
            .map(|d| report.source.location(d.primary_span().start as usize).0)
            .collect();
        match verdict {
            Ok(()) => {
                let refused: Vec<String> = report
                    .diagnostics
                    .iter()
                    .filter(|d| {
                        d.info.name == "syntax-error"
                            || iptlint::diagnostics::codes::PARSE_CODES
                                .iter()
                                .any(|c| std::ptr::eq(*c, d.info) && d.severity == Severity::Error)
                    })
                    .map(|d| {
                        format!(
                            "{} at line {}",
                            d.info.name,
                            report.source.location(d.primary_span().start as usize).0
                        )
                    })
                    .collect();
                if !refused.is_empty() {
                    disagreements.push(format!(
                        "{}: iptables accepts it, iptlint says {refused:?}",
                        path.display()
                    ));
                }
            }
            Err(stderr) => {
                let line = failing_line(&stderr);
                match line {
                    Some(line) if lines_flagged.contains(&line) => {}
                    _ => disagreements.push(format!(
                        "{}: iptables refuses it ({}) but iptlint flags lines {lines_flagged:?}",
                        path.display(),
                        stderr.trim()
                    )),
                }
            }
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} of {} dumps disagree:\n{}",
        disagreements.len(),
        paths.len(),
        disagreements.join("\n")
    );
}

/// The family MANIFEST.tsv gives for a corpus file (column `family`).
fn manifest_family(dir: &std::path::Path, path: &std::path::Path) -> Family {
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    let mut lines = manifest.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let column = header
        .iter()
        .position(|h| *h == "family")
        .expect("family column");
    let name = path.file_name().unwrap().to_string_lossy();
    let row = lines
        .map(|line| line.split('\t').collect::<Vec<_>>())
        .find(|row| row[0] == name)
        .unwrap_or_else(|| panic!("{name} is not in MANIFEST.tsv"));
    if row[column] == "ipv6" {
        Family::V6
    } else {
        Family::V4
    }
}
