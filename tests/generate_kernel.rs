//! Loads generated dumps into a real kernel, inside a private network
//! namespace (`unshare -n`), to prove they are what they claim: clean dumps
//! load, and the defects the kernel must refuse are refused.
//!
//! Needs root and iptables; otherwise each test prints `SKIP: ...` and passes.
//! Nothing here sends any network traffic.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use iptlint::generate::{Defect, GenConfig, Style, generate};

const STYLES: [Style; 3] = [Style::Modern, Style::Legacy, Style::NoComments];

/// The restore/save pair to use: the legacy backend if installed (it checks
/// the whole ruleset in the kernel), else the default one.
struct Iptables {
    restore: PathBuf,
    save: PathBuf,
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn is_root() -> bool {
    // The effective UID is the third field of the Uid line.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|uid| uid == "0"))
        })
        .unwrap_or(false)
}

/// The iptables binaries, or None (after printing why) when the test must be
/// skipped.
fn iptables(test: &str) -> Option<Iptables> {
    if !is_root() {
        eprintln!("SKIP: {test}: not root, cannot unshare a network namespace");
        return None;
    }
    if find_program("unshare").is_none() {
        eprintln!("SKIP: {test}: unshare not found");
        return None;
    }
    let pair = [
        ("iptables-legacy-restore", "iptables-legacy-save"),
        ("iptables-restore", "iptables-save"),
    ]
    .into_iter()
    .find_map(|(restore, save)| {
        Some(Iptables {
            restore: find_program(restore)?,
            save: find_program(save)?,
        })
    });
    if pair.is_none() {
        eprintln!("SKIP: {test}: iptables-restore not found");
    }
    pair
}

/// Runs `script` under `sh` in a fresh network namespace with the dump on
/// stdin.
fn in_private_netns(script: &str, dump: &str) -> Output {
    let mut child = Command::new("unshare")
        .args(["-n", "sh", "-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn unshare");
    // A refused dump may close stdin early; that shows in the exit status.
    let _ = child.stdin.take().unwrap().write_all(dump.as_bytes());
    child.wait_with_output().expect("wait for unshare")
}

fn quoted(path: &Path) -> String {
    format!("'{}'", path.display())
}

/// Loads `dump` (with counters if it has them) and returns the result.
fn load(ipt: &Iptables, dump: &str) -> Output {
    in_private_netns(&format!("{} -c", quoted(&ipt.restore)), dump)
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
    let Some(ipt) = iptables("clean_dumps_of_every_style_load") else {
        return;
    };
    for style in STYLES {
        for (counters, base) in [
            (None, config(style)),
            (Some(1000), config(style)),
            (Some(1000), busy_config(style)),
        ] {
            let generated = generate(&GenConfig { counters, ..base });
            let output = load(&ipt, &generated.text);
            assert!(
                output.status.success(),
                "{style:?} (counters {counters:?}) was refused: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

/// With kernel-form probabilities the dump is exactly what iptables-save
/// prints after loading it: same order, same canonical rule text, same
/// counters. Only the header and footer comments (dates) differ.
#[test]
fn canonical_dumps_survive_a_kernel_round_trip_unchanged() {
    let Some(ipt) = iptables("canonical_dumps_survive_a_kernel_round_trip_unchanged") else {
        return;
    };
    for style in STYLES {
        let generated = generate(&GenConfig {
            canonical_probabilities: true,
            counters: Some(500),
            ..busy_config(style)
        });
        let save = quoted(&ipt.save);
        let script = format!(
            "{} -c && {save} -c -t filter && {save} -c -t nat",
            quoted(&ipt.restore)
        );
        let output = in_private_netns(&script, &generated.text);
        assert!(
            output.status.success(),
            "{style:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let without_comments = |text: &str| {
            text.lines()
                .filter(|line| !line.starts_with('#'))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        let resaved = String::from_utf8(output.stdout).unwrap();
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
    let Some(ipt) = iptables("kernel_refuses_exactly_the_defects_it_must") else {
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
            let output = load(&ipt, &generated.text);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(
                !output.status.success(),
                defect.refused_by_kernel(),
                "{style:?} {defect:?}: exit {:?}, stderr: {stderr}",
                output.status.code()
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
