//! Kernel agreement for the graph checks: for hundreds of random chain graphs
//! (loops, gotos, self-jumps, undefined targets, chains declared after the
//! jump, reachable and unreachable parts), the real iptables-restore refuses
//! a table exactly when iptlint reports an error-level `jump-cycle` or
//! `undefined-target` (for iptables-legacy: one without the note that legacy
//! loads it anyway, see `iptlint::checks::legacy_walk`). Runs against every
//! backend (legacy and nf_tables) that works here, each table in its own
//! `unshare -n` namespace.

mod support;

use iptlint::diagnostics::Severity;
use iptlint::lint::{Settings, check_source};
use iptlint::source::SourceFile;
use support::{Family, Kernel};

/// Tables and their built-in chains the generator writes.
const TABLES: &[(&str, &[&str])] = &[
    ("filter", &["INPUT", "FORWARD", "OUTPUT"]),
    ("nat", &["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"]),
    (
        "mangle",
        &["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
    ),
    ("raw", &["PREROUTING", "OUTPUT"]),
];

/// The checks whose error-level findings mean "the kernel refuses this".
const REFUSAL_CHECKS: &[&str] = &["jump-cycle", "undefined-target"];

/// A random table of `rng`: only jumps, gotos and harmless targets, so the
/// only reasons the kernel can refuse it are loops and undefined targets.
fn random_table(rng: &mut fastrand::Rng) -> String {
    let (table, builtins) = TABLES[rng.usize(..TABLES.len())];
    let users: Vec<String> = (0..rng.usize(1..=8)).map(|i| format!("C{i}")).collect();
    // One chain may be created with `-N` just before its own rules, possibly
    // after other rules already jumped to it.
    let late = (rng.f64() < 0.15).then(|| rng.usize(..users.len()));
    let mut text = format!("*{table}\n");
    for builtin in builtins {
        text.push_str(&format!(":{builtin} ACCEPT [0:0]\n"));
    }
    for (index, user) in users.iter().enumerate() {
        if late != Some(index) {
            text.push_str(&format!(":{user} - [0:0]\n"));
        }
    }
    let mut chains: Vec<(String, bool)> = builtins
        .iter()
        .map(|b| (b.to_string(), true))
        .chain(users.iter().map(|u| (u.clone(), false)))
        .collect();
    rng.shuffle(&mut chains);
    for (chain, builtin) in &chains {
        if late.is_some_and(|index| users[index] == *chain) {
            text.push_str(&format!("-N {chain}\n"));
        }
        let count = if *builtin {
            rng.usize(0..=3)
        } else {
            rng.usize(0..=4)
        };
        for _ in 0..count {
            let condition =
                ["", "-p tcp ", "-s 10.0.0.0/8 ", "-m comment --comment c "][rng.usize(..4)];
            let flag = if rng.bool() { "-j" } else { "-g" };
            let roll = rng.f64();
            let target = if roll < 0.3 {
                format!("{flag} {}", users[rng.usize(..users.len())])
            } else if roll < 0.33 && !builtin {
                format!("{flag} {chain}")
            } else if roll < 0.35 {
                format!("{flag} UNDEFINED{}", rng.usize(..3))
            } else {
                ["-j ACCEPT", "-j RETURN", "-j LOG --log-prefix x", ""][rng.usize(..4)].to_string()
            };
            text.push_str(&format!("-A {chain} {condition}{target}\n").replace("  ", " "));
        }
    }
    text.push_str("COMMIT\n");
    text
}

/// What iptlint says about `text` for `backend`: whether it reports a
/// refusal, and every error-level finding as `name at line N`. A finding
/// noting that iptables-legacy loads the table anyway is no refusal there.
fn iptlint_verdict(text: &str, kernel: &Kernel) -> (bool, Vec<String>) {
    let report = check_source(
        SourceFile::new("generated.rules", text),
        &Settings::default(),
    );
    assert!(
        !report.is_fatal(),
        "generated table does not parse:\n{text}"
    );
    let errors: Vec<String> = report
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| {
            format!(
                "{} at line {}",
                d.info.name,
                report.source.location(d.primary_span().start as usize).0
            )
        })
        .collect();
    let refused = report.diagnostics.iter().any(|d| {
        d.severity == Severity::Error
            && REFUSAL_CHECKS.contains(&d.info.name)
            && !kernel.loads_anyway(d)
    });
    (refused, errors)
}

#[test]
fn random_chain_graphs_agree_with_the_kernel() {
    let test = "random_chain_graphs_agree_with_the_kernel";
    let kernels = Kernel::all(test);
    if kernels.is_empty() {
        return;
    }
    let cases: usize = 500;
    let mut rng = fastrand::Rng::with_seed(0x1971_0712);
    let tables: Vec<String> = (0..cases).map(|_| random_table(&mut rng)).collect();
    for kernel in &kernels {
        let verdicts: Vec<Result<(), String>> = std::thread::scope(|scope| {
            let workers: Vec<_> = tables
                .chunks(cases.div_ceil(3))
                .map(|chunk| {
                    scope.spawn(move || {
                        chunk
                            .iter()
                            .map(|text| kernel.restore(Family::V4, text, &[]))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|worker| worker.join().unwrap())
                .collect()
        });
        let (mut refused_count, mut loaded_with_loop, mut backends_differ) = (0, 0, 0);
        let mut disagreements = Vec::new();
        for (text, verdict) in tables.iter().zip(&verdicts) {
            let (says_refused, errors) = iptlint_verdict(text, kernel);
            if says_refused != iptlint_verdict(text, &Kernel { backend: "nft" }).0 {
                backends_differ += 1;
            }
            let other_errors: Vec<&String> = errors
                .iter()
                .filter(|e| !REFUSAL_CHECKS.iter().any(|c| e.starts_with(c)))
                .collect();
            if !other_errors.is_empty() {
                disagreements.push(format!("unexpected errors {other_errors:?} in\n{text}"));
            }
            match verdict {
                Err(stderr) if !says_refused => disagreements.push(format!(
                    "{} refuses ({}) but iptlint reports no refusal in\n{text}",
                    kernel.backend,
                    stderr.trim()
                )),
                Ok(()) if says_refused => disagreements.push(format!(
                    "{} loads it but iptlint reports {errors:?} in\n{text}",
                    kernel.backend
                )),
                Err(_) => refused_count += 1,
                Ok(()) => {
                    let report =
                        check_source(SourceFile::new("g", text.as_str()), &Settings::default());
                    if report
                        .diagnostics
                        .iter()
                        .any(|d| d.info.name == "jump-cycle")
                    {
                        loaded_with_loop += 1;
                    }
                }
            }
        }
        assert!(
            disagreements.is_empty(),
            "{} of {cases} tables disagree with {}:\n{}",
            disagreements.len(),
            kernel.backend,
            disagreements.join("\n---\n")
        );
        // The generator must exercise both sides, or agreement means little.
        assert!(
            refused_count >= cases / 5,
            "only {refused_count} refused tables"
        );
        assert!(
            cases - refused_count >= cases / 5,
            "only {} loaded tables",
            cases - refused_count
        );
        assert!(
            loaded_with_loop >= 5,
            "only {loaded_with_loop} loaded tables with a loop"
        );
        if kernel.backend == "legacy" {
            assert!(
                backends_differ >= 1,
                "no table where only iptables-nft refuses"
            );
        }
        eprintln!(
            "{}: {cases} tables, {refused_count} refused, {loaded_with_loop} loaded with a jump-cycle finding, {backends_differ} where legacy and nft differ",
            kernel.backend
        );
    }
}
