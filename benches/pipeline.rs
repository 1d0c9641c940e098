//! Criterion benchmarks of the `check` pipeline, stage by stage, on generated
//! kube-proxy dumps: parse (the model build, pest included), graph build,
//! the checks, `explain` of one service (after the parse), and the whole
//! `check_source`.
//!
//! ```text
//! cargo bench --bench pipeline                       # 1,000 services (~29k lines)
//! IPTLINT_BENCH_SERVICES=10000 cargo bench --bench pipeline   # kube-proxy scale
//! ```
//!
//! The dump is generated once per run with [`iptlint::generate`] (seed 1),
//! the same generator `examples/gen-dump.rs` and `scripts/bench-vs-iptables.sh`
//! use, so the figures are comparable.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use iptlint::analysis::Analysis;
use iptlint::analysis::services::{Quantisation, analyse, sketches};
use iptlint::checks::{self, CheckOptions, Context};
use iptlint::explain::write_explanation;
use iptlint::generate::{GenConfig, generate};
use iptlint::graph::DumpGraph;
use iptlint::lint::{Settings, check_source};
use iptlint::model::build::build;
use iptlint::source::SourceFile;

/// Services in the generated dump: `IPTLINT_BENCH_SERVICES`, default 1,000.
fn services() -> usize {
    std::env::var("IPTLINT_BENCH_SERVICES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(1000)
}

fn pipeline(c: &mut Criterion) {
    let services = services();
    let dump = generate(&GenConfig {
        services,
        seed: 1,
        ..GenConfig::default()
    })
    .text;
    let mut group = c.benchmark_group(format!("{services}-services"));
    group.throughput(Throughput::Bytes(dump.len() as u64));
    // Large dumps take long per iteration: fewer samples keep `cargo bench` short.
    group.sample_size(if services > 2000 { 10 } else { 20 });
    group.measurement_time(Duration::from_secs(if services > 2000 { 20 } else { 5 }));

    group.bench_function("parse", |b| b.iter(|| build(black_box(&dump))));

    let parsed = build(&dump);
    assert!(
        !parsed.has_syntax_errors(),
        "the generated dump must parse cleanly"
    );
    group.bench_function("graph", |b| {
        b.iter(|| DumpGraph::build(black_box(&parsed.dump)))
    });

    let graph = DumpGraph::build(&parsed.dump);
    group.bench_function("analysis", |b| {
        b.iter(|| Analysis::of(black_box(&dump), &parsed.dump, &graph))
    });
    // A fresh context each time: the context caches the packet analysis.
    group.bench_function("checks", |b| {
        b.iter(|| {
            let cx = Context::new(&dump, &parsed.dump, &graph, CheckOptions::default());
            checks::run_all(black_box(&cx))
        })
    });

    // `iptlint explain SERVICE` after the parse: find the service's chains,
    // analyse where its traffic goes, and write the explanation.
    let all = sketches(&parsed.dump);
    let middle = all[all.len() / 2].name.clone();
    group.bench_function("explain", |b| {
        b.iter(|| {
            let graph = DumpGraph::build(&parsed.dump);
            let all = sketches(&parsed.dump);
            let sketch = all.iter().find(|s| s.name == middle).expect("service");
            let service = analyse(&dump, &parsed.dump, sketch);
            let quantisation = Quantisation::of(&parsed.dump.tables[service.table_index]);
            let mut out = Vec::new();
            write_explanation(
                &mut out,
                &dump,
                &parsed.dump,
                &graph,
                &service,
                &quantisation,
            )
            .expect("written to memory");
            out
        })
    });

    let settings = Settings::default();
    group.bench_function("check_source", |b| {
        b.iter(|| check_source(SourceFile::new("bench.rules", dump.clone()), &settings))
    });
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
