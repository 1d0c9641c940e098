//! The whole `check` pipeline on arbitrary bytes, rendered in every format.
#![no_main]

use codespan_reporting::term::termcolor::NoColor;
use iptlint::lint::{Settings, check_source};
use iptlint::render;
use iptlint::source::SourceFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let report = check_source(
        SourceFile::from_bytes("fuzz.rules", data.to_vec()),
        &Settings::default(),
    );
    let reports = [report];
    let mut out = NoColor::new(Vec::new());
    render::human::write_reports(&mut out, &reports, false).expect("human output");
    render::json::write(&mut Vec::new(), &reports).expect("json output");
    render::concise::write(&mut Vec::new(), &reports).expect("concise output");
    render::github::write(&mut Vec::new(), &reports).expect("github output");
});
