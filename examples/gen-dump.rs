//! Writes a generated kube-proxy-style iptables-save dump to stdout.
//!
//! ```text
//! cargo run --release --example gen-dump -- --services 10000 --seed 1 \
//!     [--style modern|legacy|nocomment] [--counters N] [--endpoints MIN-MAX] \
//!     [--canonical] > dump.rules
//! ```
//!
//! `--canonical` writes probabilities as iptables-save prints them back from
//! the kernel (`%.11f`), making the dump identical to a kernel round trip.
//!
//! A one-line summary (lines, service ports, generation time) goes to stderr.

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use iptlint::generate::{GenConfig, Style, generate};

const USAGE: &str = "usage: gen-dump [--services N] [--seed N] [--style modern|legacy|nocomment] \
[--counters N] [--endpoints MIN-MAX] [--canonical]";

fn parse_args() -> Result<GenConfig, String> {
    let mut config = GenConfig::default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--help" | "-h" => return Err(USAGE.to_owned()),
            "--canonical" => {
                config.canonical_probabilities = true;
                continue;
            }
            _ => {}
        }
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let number = |value: &str| {
            value
                .parse::<u64>()
                .map_err(|e| format!("{flag} {value}: {e}"))
        };
        match flag.as_str() {
            "--services" => config.services = number(&value)? as usize,
            "--seed" => config.seed = number(&value)?,
            "--counters" => config.counters = Some(number(&value)?),
            "--style" => {
                config.style = match value.as_str() {
                    "modern" => Style::Modern,
                    "legacy" => Style::Legacy,
                    "nocomment" | "nocomments" => Style::NoComments,
                    other => return Err(format!("unknown style {other}\n{USAGE}")),
                }
            }
            "--endpoints" => {
                let (min, max) = value
                    .split_once('-')
                    .ok_or_else(|| format!("--endpoints wants MIN-MAX, got {value}"))?;
                let (min, max) = (number(min)? as usize, number(max)? as usize);
                if min > max {
                    return Err(format!("--endpoints {value}: MIN is above MAX"));
                }
                config.endpoints = min..=max;
            }
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    Ok(config)
}

fn main() -> ExitCode {
    let config = match parse_args() {
        Ok(config) => config,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let generated = generate(&config);
    let elapsed = started.elapsed();
    eprintln!(
        "gen-dump: {} lines, {} bytes, {} service ports in {:.1} ms",
        generated.line_count,
        generated.text.len(),
        generated.services.len(),
        elapsed.as_secs_f64() * 1e3
    );
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = stdout.write_all(generated.text.as_bytes()) {
        eprintln!("gen-dump: writing the dump: {error}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
