//! Hostile inputs through the real binary: a fixed, seeded set generated here
//! (not stored) at the sizes of issue 6, plus the inputs kept in
//! `fixtures/hostile/` (where crashes found by fuzzing go).
//!
//! Every input must end within [`TIME_LIMIT`] with exit 0, 1 or 2, without a
//! panic, and with JSON output whose every finding is located; exit 2 must
//! come with an error located at a line and column of the file. Peak memory
//! is not asserted here (the README's "Performance" section lists it per
//! input); what is asserted bounds it indirectly: the output stays small.

#[path = "../fuzz/src/grammar_tokens.rs"]
mod grammar_tokens;
mod support;

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use iptlint::generate::{GenConfig, generate};

/// Generous for a loaded 2-core CI machine; unloaded, the slowest input
/// here takes about 3 s in a release build.
const TIME_LIMIT: Duration = Duration::from_secs(30);
/// Output of `check --format json` on one input, at most (findings are
/// capped per code and texts cut; a 50 MB line must not be echoed).
const MAX_OUTPUT: usize = 4 << 20;

/// One hostile input: a name for messages and the bytes.
struct Case {
    name: &'static str,
    bytes: Vec<u8>,
}

fn case(name: &'static str, bytes: impl Into<Vec<u8>>) -> Case {
    Case {
        name,
        bytes: bytes.into(),
    }
}

/// Lines joined with `\n`, with a final newline.
fn lines(lines: impl IntoIterator<Item = String>) -> Vec<u8> {
    let mut text = String::new();
    for line in lines {
        text.push_str(&line);
        text.push('\n');
    }
    text.into_bytes()
}

/// A chain of `n` user chains jumping one to the next, in `filter`; with
/// `ring` the last jumps back to the first (with `-g` when `goto`).
fn jump_chain(n: usize, ring: bool, goto: bool) -> Vec<u8> {
    let flag = if goto { "-g" } else { "-j" };
    let mut text = String::from("*filter\n:INPUT ACCEPT [0:0]\n");
    for i in 0..n {
        writeln!(text, ":C{i} - [0:0]").unwrap();
    }
    writeln!(text, "-A INPUT {flag} C0").unwrap();
    for i in 0..n {
        if i + 1 < n || ring {
            writeln!(text, "-A C{i} {flag} C{}", (i + 1) % n).unwrap();
        }
    }
    text.push_str("COMMIT\n");
    text.into_bytes()
}

/// Grammar-relevant fragments for random soup, shared with the fuzzer.
const TOKENS: &[&str] = grammar_tokens::GRAMMAR_TOKENS;

fn cases() -> Vec<Case> {
    let mut rng = fastrand::Rng::with_seed(6);
    let kube = generate(&GenConfig {
        services: 300,
        seed: 6,
        ..GenConfig::default()
    })
    .text;
    let mut cases = vec![
        case("empty", ""),
        case("random bytes", {
            let mut bytes = vec![0u8; 4 << 20];
            rng.fill(&mut bytes);
            bytes
        }),
        case(
            "binary file",
            std::fs::read(std::env::current_exe().unwrap()).unwrap(),
        ),
        case(
            "invalid UTF-8",
            b"*filter\n-A INPUT -m comment --comment \"\xff\xfe\xc3\" -j DROP\n\xc0\xaf\nCOMMIT\n"
                .to_vec(),
        ),
        case(
            "NUL bytes",
            b"*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s 1.2.3.4\0 -j DROP\n\0\0\0\nCOMMIT\n\0"
                .to_vec(),
        ),
        case("truncated dump", kube[..kube.len() * 2 / 3].to_string()),
        case("dump cut inside a quote", {
            let at = kube.rfind("--comment \"").unwrap() + 14;
            kube[..at].to_string()
        }),
        case("CRLF dump", kube.replace('\n', "\r\n")),
        case(
            "50 MB single word",
            format!(
                "*filter\n-A INPUT -m comment --comment {} -j DROP\nCOMMIT\n",
                "x".repeat(50_000_000)
            ),
        ),
        case(
            "50 MB line of words",
            format!(
                "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT{}\nCOMMIT\n",
                " -j DROP".repeat(6_250_000)
            ),
        ),
        case(
            "50 MB line of `!`",
            format!("*filter\n-A INPUT {}\nCOMMIT\n", "! ".repeat(25_000_000)),
        ),
        case(
            "50 MB comment line",
            format!("#{}\n", "c".repeat(50_000_000)),
        ),
        case(
            "50 MB chain name",
            format!("*filter\n:{} - [0:0]\nCOMMIT\n", "C".repeat(50_000_000)),
        ),
        case(
            "50 MB counters",
            format!(
                "*filter\n[{}:1] -A INPUT -j DROP\nCOMMIT\n",
                "9".repeat(50_000_000)
            ),
        ),
        case(
            "200,000 chains jumping in a line",
            jump_chain(200_000, false, false),
        ),
        case(
            "200,000 chains jumping in a ring",
            jump_chain(200_000, true, false),
        ),
        case(
            "200,000 chains in a ring of gotos",
            jump_chain(200_000, true, true),
        ),
        case(
            "50,000 tables",
            lines((0..50_000).flat_map(|i| {
                [
                    format!("*t{i}"),
                    ":INPUT ACCEPT [0:0]".to_string(),
                    "-A INPUT -j ACCEPT".to_string(),
                    "COMMIT".to_string(),
                ]
            })),
        ),
        case(
            "50,000 copies of one table",
            lines((0..50_000).flat_map(|_| {
                [
                    "*filter",
                    ":INPUT ACCEPT [0:0]",
                    "-A INPUT -j ACCEPT",
                    "COMMIT",
                ]
                .map(str::to_string)
            })),
        ),
        case(
            "1,000,000 rules in one chain",
            lines(
                ["*filter".to_string(), ":INPUT ACCEPT [0:0]".to_string()]
                    .into_iter()
                    .chain((0..1_000_000u32).map(|i| {
                        format!(
                            "-A INPUT -s 10.{}.{}.{}/32 -j ACCEPT",
                            i >> 16 & 255,
                            i >> 8 & 255,
                            i & 255
                        )
                    }))
                    .chain(["COMMIT".to_string()]),
            ),
        ),
        case(
            "deeply nested quoting",
            format!(
                "*filter\n-A INPUT -m comment --comment {} -j DROP\n-A INPUT {}{}\nCOMMIT\n",
                "\"\\\"".repeat(1_000_000),
                "\"".repeat(2_000_001),
                "\\".repeat(1000)
            ),
        ),
        case(
            "a million `[`",
            format!("*filter\n{}\nCOMMIT\n", "[".repeat(1_000_000)),
        ),
        case("a million broken lines", "[x\n".repeat(1_000_000)),
        case("ten million empty lines", "\n".repeat(10_000_000)),
        case(
            "numbers out of range",
            format!(
                "*filter\n:INPUT ACCEPT [99999999999999999999999:1]\n-I INPUT 4294967295 -j DROP\n\
                 -I INPUT 99999999999999999999 -j DROP\n-R INPUT 4000000000 -j DROP\n\
                 -D INPUT 4000000000\n-A INPUT -m statistic --mode nth --every 4294967295 --packet 4294967294 -j DROP\n\
                 -A INPUT -m statistic --mode random --probability 1e308 -j DROP\n\
                 -A INPUT -m limit --limit 999999999999/sec --limit-burst 4294967295 -j DROP\n\
                 -A INPUT -p tcp --dport 65536:99999999999 -j DROP\n\
                 -A INPUT -m multiport --dports {} -j DROP\nCOMMIT\n",
                vec!["1:65535"; 100_000].join(",")
            ),
        ),
        case(
            "100,000 chains deleted one by one",
            lines(
                ["*filter".to_string()]
                    .into_iter()
                    .chain((0..100_000).map(|i| format!("-N C{i}")))
                    .chain((0..100_000).map(|i| format!("-X C{i}")))
                    .chain(["COMMIT".to_string()]),
            ),
        ),
        case(
            "100,000 chains renamed",
            lines(
                ["*filter".to_string()]
                    .into_iter()
                    .chain((0..100_000).map(|i| format!("-N C{i}")))
                    .chain((0..100_000).map(|i| format!("-E C{i} D{i}")))
                    .chain(["COMMIT".to_string()]),
            ),
        ),
        case(
            "200,000 inserts at the front",
            lines(
                ["*filter".to_string(), ":INPUT ACCEPT [0:0]".to_string()]
                    .into_iter()
                    .chain((0..200_000).map(|_| "-I INPUT 1 -j ACCEPT".to_string()))
                    .chain(["COMMIT".to_string()]),
            ),
        ),
        case(
            "100,000 deletes by specification",
            lines(
                ["*filter".to_string(), ":INPUT ACCEPT [0:0]".to_string()]
                    .into_iter()
                    .chain((0..100_000).map(|i| {
                        format!("-A INPUT -s 10.0.{}.{} -j ACCEPT", i >> 8 & 255, i & 255)
                    }))
                    .chain((0..100_000).map(|i| {
                        format!("-D INPUT -s 10.0.{}.{} -j ACCEPT", i >> 8 & 255, i & 255)
                    }))
                    .chain(["COMMIT".to_string()]),
            ),
        ),
        case(
            "-X of 100,000 empty chains beside 100,000 rules",
            lines(
                ["*filter".to_string(), ":INPUT ACCEPT [0:0]".to_string()]
                    .into_iter()
                    .chain((0..100_000).map(|i| format!(":C{i} - [0:0]")))
                    .chain((0..100_000).map(|_| "-A INPUT -j ACCEPT".to_string()))
                    .chain(["-X".to_string(), "COMMIT".to_string()]),
            ),
        ),
    ];
    // Lists of 255 addresses on -s and -d: 65,025 rules a line in iptables.
    let list: Vec<String> = (1..=255).map(|i| i.to_string()).collect();
    let list = list.join(",");
    cases.push(case(
        "address lists of 255 x 255 on 100 lines",
        lines(
            ["*filter".to_string(), ":INPUT ACCEPT [0:0]".to_string()]
                .into_iter()
                .chain((0..100).map(|_| format!("-A INPUT -s {list} -d {list} -j ACCEPT")))
                .chain(["COMMIT".to_string()]),
        ),
    ));
    // Random soup of grammar tokens: lines that are almost a dump.
    let mut soup = String::new();
    for _ in 0..200_000 {
        soup.push_str(TOKENS[rng.usize(..TOKENS.len())]);
        if rng.u8(..4) == 0 {
            soup.push(' ');
        }
    }
    cases.push(case("token soup", soup));
    // A real dump with random line-level damage.
    let mut damaged: Vec<String> = kube.lines().map(str::to_string).collect();
    for _ in 0..2_000 {
        let at = rng.usize(..damaged.len());
        match rng.u8(..5) {
            0 => {
                damaged.remove(at);
            }
            1 => {
                let line = damaged[rng.usize(..damaged.len())].clone();
                damaged.insert(at, line);
            }
            2 => {
                let mut cut = rng.usize(..=damaged[at].len());
                while !damaged[at].is_char_boundary(cut) {
                    cut -= 1;
                }
                damaged[at].truncate(cut);
            }
            3 => {
                let mut pos = rng.usize(..=damaged[at].len());
                while !damaged[at].is_char_boundary(pos) {
                    pos -= 1;
                }
                damaged[at].insert_str(pos, TOKENS[rng.usize(..TOKENS.len())]);
            }
            _ => {
                let other = rng.usize(..damaged.len());
                damaged.swap(at, other);
            }
        }
    }
    cases.push(case("damaged kube-proxy dump", damaged.join("\n")));
    cases
}

/// Run `iptlint check --format json` on `path` and assert the contract.
fn check_file(name: &str, path: &Path) {
    let started = Instant::now();
    let output = Command::cargo_bin("iptlint")
        .unwrap()
        .args(["check", "--format", "json", "--color", "never"])
        .arg(path)
        .timeout(TIME_LIMIT)
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let code = output.status.code();
    assert!(
        matches!(code, Some(0..=2)),
        "{name}: exit {:?} after {elapsed:?} (limit {TIME_LIMIT:?}); stderr: {}",
        output.status,
        &stderr[..stderr.len().min(2000)]
    );
    assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    assert!(
        output.stdout.len() <= MAX_OUTPUT,
        "{name}: {} bytes of output",
        output.stdout.len()
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{name}: output is not JSON: {e}"));
    let diagnostics = json["diagnostics"].as_array().expect("diagnostics array");
    for d in diagnostics {
        let line = d["line"].as_u64().unwrap_or(0);
        let column = d["column"].as_u64().unwrap_or(0);
        assert!(line >= 1 && column >= 1, "{name}: unlocated finding {d}");
        assert!(
            d["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{name}: {d}"
        );
    }
    if code == Some(2) {
        assert!(
            diagnostics
                .iter()
                .any(|d| d["severity"] == "error" && d["file"] == path.to_str().unwrap()),
            "{name}: exit 2 without a located error: {json}"
        );
    }
    eprintln!(
        "{name}: exit {code:?}, {} findings, {elapsed:.2?}",
        diagnostics.len()
    );
}

#[test]
fn hostile_inputs_end_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hostile.rules");
    for case in cases() {
        std::fs::write(&path, &case.bytes).unwrap();
        check_file(case.name, &path);
    }
}

#[test]
fn long_lines_are_located_not_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.rules");
    std::fs::write(
        &path,
        format!(
            "*filter\n-A INPUT -j DROP --bogus {}\nCOMMIT\n",
            "y".repeat(1_000_000)
        ),
    )
    .unwrap();
    let output = Command::cargo_bin("iptlint")
        .unwrap()
        .args(["check", "--color", "never"])
        .arg(&path)
        .timeout(TIME_LIMIT)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.len() < 20_000, "{} bytes", stdout.len());
    assert!(
        stdout.contains(&format!("at {}:2:", path.display())),
        "{stdout}"
    );
    assert!(stdout.contains("not shown"), "{stdout}");
}

/// Inputs kept as files in `fixtures/hostile/`: crashes fuzzing finds go
/// there (none so far), with hand-made inputs mixing the grammar's error paths.
#[test]
fn stored_hostile_inputs_end_cleanly() {
    let dir = support::fixtures_dir().join("hostile");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "{} is empty", dir.display());
    for path in paths {
        check_file(&path.display().to_string(), &path);
    }
}
