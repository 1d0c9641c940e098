//! The parser and model build on arbitrary bytes: every line, alone and in
//! batches, must parse or give a located syntax error, never panic.
#![no_main]

use iptlint::model::build::build;
use iptlint::syntax::{line_ranges, parse_line_ending, parse_lines};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let parsed = build(&text);
    for diagnostic in &parsed.diagnostics {
        for label in &diagnostic.labels {
            assert!(label.span.start <= label.span.end);
            assert!(label.span.end as usize <= text.len());
        }
    }
    // A batch parses exactly when every one of its lines does, to the same lines.
    let ranges = line_ranges(&text);
    if ranges.is_empty() || text.contains('\r') {
        return;
    }
    let whole = ranges[0].start..ranges[ranges.len() - 1].end;
    let one_by_one: Option<Vec<_>> = ranges
        .iter()
        .enumerate()
        .map(|(index, range)| {
            // A quote left open takes the line's newline into its word.
            let newline_follows = text.as_bytes().get(range.end) == Some(&b'\n');
            parse_line_ending(&text[range.clone()], range.start, index as u32 + 1, newline_follows)
                .ok()
        })
        .collect();
    assert_eq!(parse_lines(&text, whole, 1), one_by_one);
});
