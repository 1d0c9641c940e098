//! Checking generated kube-proxy dumps with injected defects
//! (`iptlint::generate`), for the tests that hold checks to the answers the
//! generator knows.

use iptlint::diagnostics::Diagnostic;
use iptlint::generate::{Defect, GenConfig, Generated, Style, generate};
use iptlint::lint::{FileReport, Settings, check_source};
use iptlint::source::SourceFile;

/// `iptlint check` of a generated dump, which must be readable.
pub fn check(generated: &Generated) -> FileReport {
    let report = check_source(
        SourceFile::new("generated.rules", generated.text.as_str()),
        &Settings::default(),
    );
    assert!(!report.is_fatal(), "{:#?}", report.diagnostics);
    report
}

/// The 1-based line a finding points at.
pub fn line_of(report: &FileReport, diagnostic: &Diagnostic) -> usize {
    report
        .source
        .location(diagnostic.primary_span().start as usize)
        .0
}

/// Every defect of `defects` injected into one dump of each style (made by
/// `config(seed, style, defects)` with `services` services) is found by its
/// check, in its chain, at its line.
pub fn assert_all_defects_found_at_once(
    styles: &[Style],
    defects: &[Defect],
    services: usize,
    config: fn(u64, Style, Vec<Defect>) -> GenConfig,
) {
    for &style in styles {
        let generated = generate(&GenConfig {
            services,
            ..config(77, style, defects.to_vec())
        });
        let report = check(&generated);
        for injected in &generated.defects {
            assert!(
                report
                    .diagnostics
                    .iter()
                    .any(|d| d.info.name == injected.check
                        && d.chain.as_deref() == Some(injected.chain.as_str())
                        && line_of(&report, d) == injected.line),
                "{style:?}: {} at line {} not found",
                injected.check,
                injected.line
            );
        }
    }
}
