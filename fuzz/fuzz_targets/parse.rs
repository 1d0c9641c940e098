//! The parser and model build on arbitrary bytes: every line must parse or
//! give a syntax error located in that line, never panic.
#![no_main]

use iptlint::model::build::build;
use iptlint::syntax::{LineKind, Span, line_ranges, parse_line_ending};
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
    // Each line alone: what it says, or where it is broken, lies inside it.
    for (index, range) in line_ranges(&text).into_iter().enumerate() {
        let number = index as u32 + 1;
        let within = |span: Span| range.start <= span.start as usize && span.end as usize <= range.end;
        // A quote left open takes the line's newline into its word.
        let newline_follows = text.as_bytes().get(range.end) == Some(&b'\n');
        match parse_line_ending(&text[range.clone()], range.start, number, newline_follows) {
            Err(error) => {
                assert_eq!(error.line, number);
                assert!(within(error.span));
            }
            Ok(line) => {
                assert_eq!((line.number, line.span), (number, Span::new(range.start, range.end)));
                if let LineKind::Rule { args, word_count, .. } = &line.kind {
                    assert!(args.len() <= *word_count);
                    assert!(args.iter().all(|arg| within(arg.span())));
                }
            }
        }
    }
});
