//! Structure-aware and differential: real dumps changed line by line and
//! word by word (see the `iptlint_fuzz` library); every service of the
//! changed dump, by its name (and a typo of it), its first chain and its
//! address, must be explained from the lines it needs exactly as from the
//! whole dump, when the whole dump has no syntax error.
#![no_main]

use iptlint::analysis::services::sketches;
use iptlint::explain::{Format, Reading, explanation};
use iptlint::model::build::build;
use iptlint_fuzz::Input;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: Input| {
    let text = input.text();
    let parsed = build(&text);
    let mut queries = Vec::new();
    for sketch in sketches(&parsed.dump).iter().take(8) {
        queries.push(sketch.name.clone());
        queries.push(format!("{}x", sketch.name));
        queries.extend(sketch.chain_names.first().cloned());
        queries.extend(
            sketch
                .addresses
                .first()
                .map(|(address, _)| address.to_string()),
        );
    }
    for query in queries {
        for format in [Format::Human, Format::Json] {
            let needed = explanation(&query, &text, format, Reading::NeededLines).expect("written");
            let whole = explanation(&query, &text, format, Reading::WholeDump).expect("written");
            // A dump with a syntax error among the lines not read is
            // explained all the same (documented); the whole dump is not.
            if let (Some(needed), Some(whole)) = (needed, whole) {
                assert_eq!(needed, whole, "{query}");
            }
        }
    }
});
