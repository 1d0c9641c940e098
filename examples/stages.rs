//! Time each stage of `iptlint check` on one dump, one stage after the
//! other, with the process's resident memory after each: the figures of the
//! README's "Where the time goes" table.
//!
//! ```sh
//! cargo run --release --example stages -- DUMP
//! ```
//!
//! The packet and services analyses are first timed alone, then again inside
//! `checks::run_all` (which runs them side by side with the other checks);
//! each check is then timed alone on the analyses already made.

use std::time::{Duration, Instant};

use iptlint::analysis::Analysis;
use iptlint::analysis::services::services;
use iptlint::checks::{self, CheckOptions, Context, Findings, REGISTRY};
use iptlint::graph::DumpGraph;
use iptlint::model::build::build;

/// `VmRSS` and `VmHWM` (peak) of this process, from /proc (empty elsewhere).
fn memory() -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .filter(|line| line.starts_with("VmRSS") || line.starts_with("VmHWM"))
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(", ")
}

/// CPU time of the process so far (all threads, user and system), from
/// /proc in clock ticks of 10 ms (zero elsewhere).
fn cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name in parentheses may hold spaces: fields count from its end.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = after_name
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|field| field.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

/// Run `stage`, print how long it took (wall and CPU) and the memory after it.
fn timed<T>(name: &str, stage: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let cpu_start = cpu();
    let result = stage();
    let detail = format!(
        "CPU {:>4} ms  {}",
        (cpu() - cpu_start).as_millis(),
        memory()
    );
    print_stage(name, start.elapsed(), &detail);
    result
}

fn print_stage(name: &str, took: Duration, detail: &str) {
    println!("{name:<34} {:>9.1} ms  {detail}", took.as_secs_f64() * 1e3);
}

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: stages DUMP");
        std::process::exit(2);
    };
    let text = timed("read the file", || {
        std::fs::read_to_string(&path).unwrap_or_else(|error| {
            eprintln!("{path}: {error}");
            std::process::exit(2);
        })
    });
    let parsed = timed("parse and model", || build(&text));
    let graph = timed("jump graph", || DumpGraph::build(&parsed.dump));
    drop(timed("packet analysis alone", || {
        Analysis::of(&text, &parsed.dump, &graph)
    }));
    drop(timed("services analysis alone", || {
        services(&text, &parsed.dump, &graph)
    }));
    let cx = Context::new(&text, &parsed.dump, &graph, CheckOptions::default());
    let findings = timed("checks::run_all", || checks::run_all(&cx));
    println!("  ({} findings)", findings.len());
    for check in REGISTRY {
        let start = Instant::now();
        let mut out = Findings::default();
        check.run(&cx, &mut out);
        let detail = format!("{} findings", out.kept().len());
        print_stage(
            &format!("  {}", check.info().name),
            start.elapsed(),
            &detail,
        );
    }
    drop(cx);
    timed("free the graph", || drop(graph));
    timed("free the model (one thread)", || drop(parsed));
}
