//! Loads generated dumps into a real kernel, inside a private network
//! namespace (`unshare -n`), to prove they are what they claim: clean dumps
//! load, and the defects the kernel must refuse are refused.
//!
//! Needs root and iptables; otherwise each test prints `SKIP: ...` and passes.
//! Nothing here sends any network traffic.

mod support;

use iptlint::generate::{Defect, GenConfig, Style, generate};
use support::{Family, Kernel};

const STYLES: [Style; 3] = [Style::Modern, Style::Legacy, Style::NoComments];

/// Loads `dump` with its counters (`iptables-restore -c`).
fn load(kernel: &Kernel, dump: &str) -> Result<(), String> {
    kernel.restore(Family::V4, dump, &["-c"])
}

fn config(style: Style) -> GenConfig {
    GenConfig {
        seed: 2024,
        services: 50,
        style,
        ..GenConfig::default()
    }
}

/// Every feature at high density (LB firewalls, local policy, affinity,
/// external IPs, UDP, multi-port), so each rule form meets the kernel.
fn busy_config(style: Style) -> GenConfig {
    GenConfig {
        udp_fraction: 0.3,
        multi_port_fraction: 0.5,
        nodeport_fraction: 0.3,
        external_ip_fraction: 0.3,
        load_balancer_fraction: 0.3,
        affinity_fraction: 0.3,
        local_policy_fraction: 0.6,
        zero_endpoint_fraction: 0.1,
        ..config(style)
    }
}

#[test]
fn clean_dumps_of_every_style_load() {
    let Some(kernel) = Kernel::get("clean_dumps_of_every_style_load") else {
        return;
    };
    for style in STYLES {
        for (counters, base) in [
            (None, config(style)),
            (Some(1000), config(style)),
            (Some(1000), busy_config(style)),
        ] {
            let generated = generate(&GenConfig { counters, ..base });
            if let Err(stderr) = load(&kernel, &generated.text) {
                panic!("{style:?} (counters {counters:?}) was refused: {stderr}");
            }
        }
    }
}

/// With kernel-form probabilities the dump is exactly what iptables-save
/// prints after loading it: same order, same canonical rule text, same
/// counters. Only the header and footer comments (dates) differ.
#[test]
fn canonical_dumps_survive_a_kernel_round_trip_unchanged() {
    let Some(kernel) = Kernel::get("canonical_dumps_survive_a_kernel_round_trip_unchanged") else {
        return;
    };
    for style in STYLES {
        let generated = generate(&GenConfig {
            canonical_probabilities: true,
            counters: Some(500),
            ..busy_config(style)
        });
        let save = kernel.tool(Family::V4, "save");
        let script = format!(
            "{} -c && {save} -c -t filter && {save} -c -t nat",
            kernel.tool(Family::V4, "restore")
        );
        let resaved = kernel
            .run_in_netns(&script, &generated.text)
            .unwrap_or_else(|stderr| panic!("{style:?}: {stderr}"));
        let without_comments = |text: &str| {
            text.lines()
                .filter(|line| !line.starts_with('#'))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        let (ours, kernel) = (
            without_comments(&generated.text),
            without_comments(&resaved),
        );
        assert_eq!(ours.len(), kernel.len(), "{style:?}: line counts differ");
        for (number, (a, b)) in ours.iter().zip(&kernel).enumerate() {
            assert_eq!(a, b, "{style:?}: non-comment line {} differs", number + 1);
        }
    }
}

#[test]
fn kernel_refuses_exactly_the_defects_it_must() {
    let Some(kernel) = Kernel::get("kernel_refuses_exactly_the_defects_it_must") else {
        return;
    };
    let defects = [
        Defect::UndefinedTarget,
        Defect::JumpCycle { reachable: true },
        Defect::InvalidTargetForTable,
        Defect::JumpCycle { reachable: false },
        Defect::UnreferencedChain,
        Defect::UnreachableRule,
        Defect::ShadowedRule,
        Defect::MissingTerminal,
        Defect::DuplicateRule,
        Defect::EmptyChain,
        Defect::NonUniformSpread { first_share: 0.8 },
        Defect::ProbabilityLeak { leaked: 0.02 },
        Defect::CounterSkew { factor: 4.0 },
    ];
    for style in STYLES {
        for defect in defects {
            let generated = generate(&GenConfig {
                defects: vec![defect],
                counters: Some(100),
                ..config(style)
            });
            let result = load(&kernel, &generated.text);
            let stderr = result.clone().err().unwrap_or_default();
            assert_eq!(
                result.is_err(),
                defect.refused_by_kernel(),
                "{style:?} {defect:?}: stderr: {stderr}"
            );
            if defect == Defect::UndefinedTarget {
                // Both backends name the missing chain.
                let line = generated.line(generated.defects[0].line).unwrap();
                let missing = line.rsplit("-j ").next().unwrap();
                assert!(stderr.contains(missing), "{style:?}: {stderr}");
            }
        }
    }
}
