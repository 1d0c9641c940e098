//! Structure-aware: real dumps changed line by line and word by word (see
//! the `iptlint_fuzz` library), run through the whole `check` pipeline.
#![no_main]

use codespan_reporting::term::termcolor::NoColor;
use iptlint::lint::{Settings, check_source};
use iptlint::render;
use iptlint::source::SourceFile;
use iptlint_fuzz::Input;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: Input| {
    let text = input.text();
    let report = check_source(SourceFile::new("mutated.rules", text), &Settings::default());
    let reports = [report];
    let mut out = NoColor::new(Vec::new());
    render::human::write_reports(&mut out, &reports, false).expect("human output");
    render::json::write(&mut Vec::new(), &reports).expect("json output");
});
