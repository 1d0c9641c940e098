//! `iptlint check` for CI: exit codes in every format, `--fail-on`,
//! `--exit-zero`, `--color`, `-q`, concise/SARIF/GitHub output, baselines and
//! several files in one run.

mod support;

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;
use support::{fixtures_dir, skip};

const FORMATS: &[&str] = &["human", "json", "concise", "sarif", "github"];

fn fixture(name: &str) -> String {
    fixtures_dir().join(name).display().to_string()
}

struct Run {
    stdout: String,
    stderr: String,
    code: i32,
}

fn check_in(dir: Option<&Path>, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Run {
    let mut command = Command::cargo_bin("iptlint").unwrap();
    command.arg("check").args(args);
    command.env_remove("NO_COLOR").env_remove("CLICOLOR_FORCE");
    for (key, value) in env {
        command.env(key, value);
    }
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    command.write_stdin(stdin.unwrap_or(""));
    let output = command.output().unwrap();
    Run {
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
        code: output.status.code().unwrap(),
    }
}

fn check(args: &[&str]) -> Run {
    check_in(None, args, None, &[])
}

const CLEAN: &str = "my-ngx-deploy.rules";
const ERROR: &str = "parse/unknown-option.rules";
const WARNING: &str = "parse/obsolete-negation-value.rules";

#[test]
fn exit_codes_are_the_same_in_every_format() {
    for format in FORMATS {
        let clean = check(&["--format", format, &fixture(CLEAN)]);
        assert_eq!(clean.code, 0, "{format}: {}{}", clean.stdout, clean.stderr);
        let findings = check(&["--format", format, &fixture(ERROR)]);
        assert_eq!(findings.code, 1, "{format}: {}", findings.stdout);
        let missing = check(&["--format", format, "no/such/file.rules"]);
        assert_eq!(missing.code, 2, "{format}: {}", missing.stdout);
        let broken = check_in(
            None,
            &["--format", format],
            Some("*filter\n[1:2 -A INPUT -j DROP\nCOMMIT\n"),
            &[],
        );
        assert_eq!(broken.code, 2, "{format}: {}", broken.stdout);
        // --exit-zero silences findings, never errors.
        let zero = check(&["--format", format, "--exit-zero", &fixture(ERROR)]);
        assert_eq!(zero.code, 0, "{format}");
        let zero = check(&["--format", format, "--exit-zero", "no/such/file.rules"]);
        assert_eq!(zero.code, 2, "{format}");
        // Machine formats still print their document when the exit code is 2.
        match *format {
            "json" => {
                let value: Value = serde_json::from_str(&missing.stdout).unwrap();
                assert_eq!(value["diagnostics"][0]["name"], "unreadable-input");
                let value: Value = serde_json::from_str(&broken.stdout).unwrap();
                assert_eq!(value["diagnostics"][0]["name"], "syntax-error");
                assert_eq!(value["diagnostics"][0]["file"], "<stdin>");
            }
            "sarif" => {
                let value: Value = serde_json::from_str(&broken.stdout).unwrap();
                let run = &value["runs"][0];
                assert_eq!(run["results"][0]["ruleId"], "IPT001");
                assert_eq!(run["invocations"][0]["executionSuccessful"], false);
                let value: Value = serde_json::from_str(&missing.stdout).unwrap();
                assert_eq!(value["runs"][0]["results"][0]["ruleId"], "IPT019");
            }
            "concise" => {
                assert!(
                    broken
                        .stdout
                        .starts_with("<stdin>:2:1: error[IPT001 syntax-error]"),
                    "{}",
                    broken.stdout
                );
            }
            "github" => assert!(broken.stdout.starts_with("::error file=<stdin>,line=2,")),
            _ => assert!(broken.stdout.contains("error[IPT001 syntax-error]")),
        }
    }
}

#[test]
fn fail_on_sets_the_threshold() {
    let warning = fixture(WARNING);
    assert_eq!(check(&[&warning]).code, 1);
    assert_eq!(check(&["--fail-on", "warning", &warning]).code, 1);
    assert_eq!(check(&["--fail-on", "note", &warning]).code, 1);
    assert_eq!(check(&["--fail-on", "error", &warning]).code, 0);
    assert_eq!(check(&["--fail-on", "error", &fixture(ERROR)]).code, 1);
    let bad = check(&["--fail-on", "fatal", &warning]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("--fail-on"), "{}", bad.stderr);
}

#[test]
fn a_note_fails_only_with_fail_on_note() {
    // 201 identical obsolete negations (`!` taken as the value, which
    // loads): 200 warnings and one
    // too-many-diagnostics note; with --baseline the warnings go away and
    // the note is all that is left.
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("*filter\n:INPUT ACCEPT [0:0]\n");
    for i in 0..201 {
        text.push_str(&format!(
            // LOG, not DROP: two complementary DROPs would hide the rest
            // (unreachable-rule), and only the negations are counted here.
            "-A INPUT -s 10.0.{}.{}/32 -i ! -j LOG\n",
            i / 200,
            i % 200
        ));
    }
    text.push_str("COMMIT\n");
    std::fs::write(dir.path().join("many.rules"), &text).unwrap();
    let run = check_in(
        Some(dir.path()),
        &["--format", "json", "many.rules"],
        None,
        &[],
    );
    let value: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(value["summary"]["warnings"], 200);
    assert_eq!(value["summary"]["notes"], 1);
    // Only warnings and a note: --fail-on error passes, note and warning fail.
    assert_eq!(
        check_in(
            Some(dir.path()),
            &["--fail-on", "error", "many.rules"],
            None,
            &[]
        )
        .code,
        0
    );
    assert_eq!(
        check_in(
            Some(dir.path()),
            &["--fail-on", "note", "many.rules"],
            None,
            &[]
        )
        .code,
        1
    );
}

#[test]
fn color_follows_the_flag_the_environment_and_the_terminal() {
    let file = fixture(WARNING);
    let ansi = |run: &Run| run.stdout.contains("\u{1b}[");
    let with = |args: &[&str], env: &[(&str, &str)]| {
        let mut all = vec![file.as_str()];
        all.extend_from_slice(args);
        check_in(None, &all, None, env)
    };
    assert!(ansi(&with(&["--color", "always"], &[])));
    assert!(ansi(&with(&["--color", "always"], &[("NO_COLOR", "1")])));
    assert!(!ansi(&with(
        &["--color", "never"],
        &[("CLICOLOR_FORCE", "1")]
    )));
    // auto: stdout is a pipe here.
    assert!(!ansi(&with(&[], &[])));
    assert!(!ansi(&with(&["--color", "auto"], &[])));
    assert!(ansi(&with(
        &["--color", "auto"],
        &[("CLICOLOR_FORCE", "1")]
    )));
    assert!(!ansi(&with(
        &["--color", "auto"],
        &[("CLICOLOR_FORCE", "0")]
    )));
    assert!(!ansi(&with(
        &["--color", "auto"],
        &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]
    )));
    // An empty NO_COLOR does not count (no-color.org).
    assert!(ansi(&with(
        &[],
        &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "")]
    )));

    // A real terminal, through util-linux `script`.
    let test = "color_follows_the_flag_the_environment_and_the_terminal";
    let script_ok = std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !script_ok {
        skip(
            test,
            "util-linux `script` is not installed: terminal case not tested",
        );
        return;
    }
    let binary = assert_cmd::cargo::cargo_bin("iptlint");
    let tty = |env: &str| {
        let command = format!("{env} {} check {file}", binary.display());
        let output = std::process::Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR_FORCE")
            .env("TERM", "xterm")
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let colored = tty("");
    assert!(colored.contains("obsolete-negation"), "{colored}");
    assert!(
        colored.contains("\u{1b}["),
        "no color on a terminal: {colored:?}"
    );
    let plain = tty("NO_COLOR=1");
    assert!(plain.contains("obsolete-negation"), "{plain}");
    assert!(
        !plain.contains("\u{1b}["),
        "color despite NO_COLOR: {plain:?}"
    );
}

#[test]
fn quiet_prints_findings_only() {
    for format in ["human", "concise", "github"] {
        let loud = check(&["--format", format, &fixture(WARNING)]);
        let quiet = check(&["--format", format, "-q", &fixture(WARNING)]);
        assert!(
            loud.stdout.contains("found 1 warning in 1 file"),
            "{format}"
        );
        assert!(!quiet.stdout.contains("found 1 warning"), "{format}");
        assert!(quiet.stdout.contains("obsolete-negation"), "{format}");
        assert_eq!(quiet.code, 1);
        let clean = check(&["--format", format, "--quiet", &fixture(CLEAN)]);
        assert_eq!(clean.stdout, "", "{format}");
    }
}

#[test]
fn concise_is_one_line_per_finding() {
    let run = check(&[
        "--format",
        "concise",
        "-q",
        &fixture(ERROR),
        &fixture(WARNING),
    ]);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines,
        vec![
            format!(
                "{}:5:50: error[IPT002 unknown-option] unknown option `--days`",
                fixture(ERROR)
            ),
            format!(
                "{}:4:10: warning[IPT010 obsolete-negation] `-i !` takes `!` as its value, not as a negation",
                fixture(WARNING)
            ),
        ]
    );
}

#[test]
fn several_files_are_reported_in_the_order_given() {
    let dir = tempfile::tempdir().unwrap();
    let mut names = Vec::new();
    for i in 0..12 {
        let name = format!("node-{i:02}.rules");
        // Every third file is clean, the others carry i+1 findings.
        let mut text = String::from("*filter\n:INPUT ACCEPT [0:0]\n");
        if i % 3 != 0 {
            for j in 0..=i {
                // LOG: DROPs of complementary sources would hide each other.
                text.push_str(&format!("-A INPUT -s ! 10.{i}.{j}.0/24 -j LOG\n"));
            }
        }
        text.push_str("COMMIT\n");
        std::fs::write(dir.path().join(&name), text).unwrap();
        names.push(name);
    }
    // Reverse order, a missing file in the middle.
    let mut args: Vec<&str> = vec!["--format", "concise", "-q"];
    let reversed: Vec<&String> = names.iter().rev().collect();
    args.extend(reversed[..6].iter().map(|s| s.as_str()));
    args.push("missing.rules");
    args.extend(reversed[6..].iter().map(|s| s.as_str()));
    let first = check_in(Some(dir.path()), &args, None, &[]);
    assert_eq!(first.code, 2);
    let files: Vec<&str> = first
        .stdout
        .lines()
        .map(|line| line.split(':').next().unwrap())
        .collect();
    let mut expected: Vec<String> = Vec::new();
    for name in &args[3..] {
        let i: Option<usize> = name.strip_prefix("node-").and_then(|n| n[..2].parse().ok());
        match i {
            Some(i) if i % 3 != 0 => expected.extend((0..=i).map(|_| name.to_string())),
            Some(_) => {}
            None => expected.push(name.to_string()),
        }
    }
    assert_eq!(files, expected);
    for _ in 0..3 {
        assert_eq!(
            check_in(Some(dir.path()), &args, None, &[]).stdout,
            first.stdout
        );
    }
    // JSON names the file of each finding too.
    let mut json_args = args.clone();
    json_args[1] = "json";
    let run = check_in(Some(dir.path()), &json_args, None, &[]);
    let value: Value = serde_json::from_str(&run.stdout).unwrap();
    let json_files: Vec<&str> = value["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["file"].as_str().unwrap())
        .collect();
    assert_eq!(json_files, expected);
    assert_eq!(value["summary"]["files"], 13);
}

fn sarif_of(dir: Option<&Path>, args: &[&str]) -> (Value, Run) {
    let mut all = vec!["--format", "sarif"];
    all.extend_from_slice(args);
    let run = check_in(dir, &all, None, &[]);
    (serde_json::from_str(&run.stdout).unwrap(), run)
}

fn drop_language_patterns(schema: &mut Value) -> usize {
    let mut dropped = 0;
    let mut stack = vec![schema];
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(map) => {
                if map.get("pattern").and_then(Value::as_str)
                    == Some("^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$")
                {
                    map.remove("pattern");
                    dropped += 1;
                }
                stack.extend(map.values_mut());
            }
            Value::Array(items) => stack.extend(items.iter_mut()),
            _ => {}
        }
    }
    dropped
}

/// Violations of the official schema.
fn schema_errors(value: &Value) -> Vec<String> {
    let mut schema: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures_dir().join("sarif/sarif-schema-2.1.0.json")).unwrap(),
    )
    .unwrap();
    // The official schema's `language` pattern (`...-[a-zA-Z]{2}]?$`, a
    // stray `]`, in `run` and `toolComponent`) is not a valid ECMA-262
    // regex, so the schema fails its own meta-schema; iptlint writes no
    // `language`, so drop that pattern.
    assert_eq!(drop_language_patterns(&mut schema), 2);
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the schema compiles");
    validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

fn validate_sarif(value: &Value) {
    // Typed: the serde-sarif model of SARIF 2.1.0.
    let typed: serde_sarif::sarif::Sarif =
        serde_json::from_value(value.clone()).expect("serde-sarif reads the log");
    assert_eq!(typed.version, serde_json::json!("2.1.0"));
    assert_eq!(typed.runs[0].tool.driver.name, "iptlint");
    assert_eq!(
        typed.runs[0].results.as_ref().map_or(0, Vec::len),
        value["runs"][0]["results"].as_array().unwrap().len()
    );
    // And the official OASIS schema.
    let errors = schema_errors(value);
    assert!(errors.is_empty(), "SARIF schema violations: {errors:#?}");
}

#[test]
fn sarif_validates_and_has_what_code_scanning_needs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("dumps")).unwrap();
    std::fs::copy(fixture(ERROR), dir.path().join("dumps/node a.rules")).unwrap();
    std::fs::copy(fixture(WARNING), dir.path().join("dumps/old.rules")).unwrap();
    let absolute = dir.path().join("dumps/old.rules").display().to_string();
    let (value, run) = sarif_of(
        Some(dir.path()),
        &["./dumps/node a.rules", &absolute, "dumps/missing.rules"],
    );
    assert_eq!(run.code, 2);
    validate_sarif(&value);
    assert_eq!(value["version"], "2.1.0");
    let run0 = &value["runs"][0];
    let driver = &run0["tool"]["driver"];
    assert_eq!(driver["name"], "iptlint");
    assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));
    assert!(
        driver["informationUri"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
    let rules = driver["rules"].as_array().unwrap();
    let codes = iptlint::checks::all_codes();
    assert_eq!(rules.len(), codes.len());
    for (rule, info) in rules.iter().zip(&codes) {
        assert_eq!(rule["id"], info.code);
        assert_eq!(rule["name"], info.name);
        assert_eq!(rule["shortDescription"]["text"], info.summary);
        assert!(!rule["fullDescription"]["text"].as_str().unwrap().is_empty());
        assert_eq!(rule["help"]["text"], info.explanation());
        assert_eq!(
            rule["defaultConfiguration"]["level"],
            info.severity.as_str()
        );
    }
    let results = run0["results"].as_array().unwrap();
    let uris: Vec<&str> = results
        .iter()
        .map(|r| {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(
        uris,
        vec![
            "dumps/node%20a.rules",
            "dumps/old.rules",
            "dumps/missing.rules"
        ]
    );
    let first = &results[0];
    assert_eq!(first["ruleId"], "IPT002");
    assert_eq!(
        rules[first["ruleIndex"].as_u64().unwrap() as usize]["id"],
        "IPT002"
    );
    assert_eq!(first["level"], "error");
    assert_eq!(
        first["message"]["text"]
            .as_str()
            .unwrap()
            .lines()
            .next()
            .unwrap(),
        "unknown option `--days`"
    );
    let region = &first["locations"][0]["physicalLocation"]["region"];
    assert_eq!(
        (
            region["startLine"].as_u64(),
            region["startColumn"].as_u64(),
            region["endLine"].as_u64(),
            region["endColumn"].as_u64()
        ),
        (Some(5), Some(50), Some(5), Some(56))
    );
    assert_eq!(results[1]["level"], "warning");
    assert!(first["partialFingerprints"][iptlint::fingerprint::SARIF_KEY].is_string());
    assert!(!run.stdout.contains("file://"));
    assert!(!run.stdout.contains(&dir.path().display().to_string()));
}

#[test]
fn the_schema_check_catches_broken_logs() {
    let (value, _) = sarif_of(None, &[&fixture(ERROR)]);
    assert!(schema_errors(&value).is_empty());
    let mut bad_level = value.clone();
    bad_level["runs"][0]["results"][0]["level"] = "fatal".into();
    assert!(!schema_errors(&bad_level).is_empty());
    let mut zero_line = value.clone();
    zero_line["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
        0.into();
    assert!(!schema_errors(&zero_line).is_empty());
    let mut stray = value;
    stray["runs"][0]["tool"]["driver"]["colour"] = "red".into();
    assert!(!schema_errors(&stray).is_empty());
}

#[test]
fn sarif_fingerprints_ignore_line_numbers_and_counters() {
    let dir = tempfile::tempdir().unwrap();
    let before = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -j ACCEPT\n-A INPUT -s ! 10.0.0.0/8 -j DROP\n-A INPUT -m time --days Mon -j DROP\nCOMMIT\n";
    let after = "# saved later\n*filter\n:INPUT ACCEPT [10:2000]\n[3:180] -A INPUT -m time --days Mon -j DROP\n[0:0] -A INPUT   -s ! 10.0.0.0/8 -j DROP\n[9:540] -A INPUT -p tcp -j ACCEPT\nCOMMIT\n";
    std::fs::write(dir.path().join("before.rules"), before).unwrap();
    std::fs::write(dir.path().join("after.rules"), after).unwrap();
    let prints = |name: &str| -> Vec<(String, String, u64)> {
        let (value, _) = sarif_of(Some(dir.path()), &[name]);
        validate_sarif(&value);
        let mut prints: Vec<(String, String, u64)> = value["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["ruleId"].as_str().unwrap().to_string(),
                    r["partialFingerprints"][iptlint::fingerprint::SARIF_KEY]
                        .as_str()
                        .unwrap()
                        .to_string(),
                    r["locations"][0]["physicalLocation"]["region"]["startLine"]
                        .as_u64()
                        .unwrap(),
                )
            })
            .collect();
        prints.sort();
        prints
    };
    let (a, b) = (prints("before.rules"), prints("after.rules"));
    assert_eq!(a.len(), 2);
    assert_eq!(b.len(), 2);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.0, y.0);
        assert_eq!(x.1, y.1, "fingerprint changed with the line");
        assert_ne!(x.2, y.2, "the test should move the rule");
    }
    assert_ne!(a[0].1, a[1].1);
}

/// Undo the runner's escaping of a workflow command's message.
fn unescape_data(text: &str) -> String {
    text.replace("%0A", "\n")
        .replace("%0D", "\r")
        .replace("%25", "%")
}

fn unescape_property(text: &str) -> String {
    unescape_data(&text.replace("%3A", ":").replace("%2C", ","))
}

#[test]
fn github_lines_are_well_formed_workflow_commands() {
    let dir = tempfile::tempdir().unwrap();
    // A file name that needs escaping in a property, and findings with notes.
    let name = "odd,name:100%.rules";
    std::fs::copy(fixture(ERROR), dir.path().join(name)).unwrap();
    std::fs::copy(fixture(WARNING), dir.path().join("old.rules")).unwrap();
    let args = ["--format", "github", "-q", name, "old.rules"];
    let run = check_in(Some(dir.path()), &args, None, &[]);
    assert_eq!(run.code, 1);
    let json = check_in(
        Some(dir.path()),
        &["--format", "json", name, "old.rules"],
        None,
        &[],
    );
    let json: Value = serde_json::from_str(&json.stdout).unwrap();
    let diagnostics = json["diagnostics"].as_array().unwrap();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), diagnostics.len());
    for (line, diagnostic) in lines.iter().zip(diagnostics) {
        let rest = line.strip_prefix("::").expect("starts with ::");
        let (command, rest) = rest.split_once(' ').unwrap();
        let expected_command = match diagnostic["severity"].as_str().unwrap() {
            "error" => "error",
            "warning" => "warning",
            _ => "notice",
        };
        assert_eq!(command, expected_command);
        let (properties, message) = rest.split_once("::").unwrap();
        assert!(!message.contains('\n') && !message.contains('\r'));
        let mut seen = std::collections::HashMap::new();
        for property in properties.split(',') {
            let (key, value) = property.split_once('=').unwrap();
            assert!(!value.contains(':'), "unescaped `:` in {property}");
            assert!(
                ["file", "line", "col", "endLine", "endColumn", "title"].contains(&key),
                "{key}"
            );
            seen.insert(key, unescape_property(value));
        }
        assert_eq!(seen["file"], diagnostic["file"].as_str().unwrap());
        assert_eq!(seen["line"], diagnostic["line"].to_string());
        assert_eq!(seen["col"], diagnostic["column"].to_string());
        assert_eq!(seen["endColumn"], diagnostic["end_column"].to_string());
        assert_eq!(
            seen["title"],
            format!(
                "iptlint {} {}",
                diagnostic["code"].as_str().unwrap(),
                diagnostic["name"].as_str().unwrap()
            )
        );
        let mut expected = diagnostic["message"].as_str().unwrap().to_string();
        for note in diagnostic["notes"].as_array().unwrap() {
            expected.push_str("\n= ");
            expected.push_str(note.as_str().unwrap());
        }
        assert_eq!(unescape_data(message), expected);
    }
    assert!(
        run.stdout.contains("file=odd%2Cname%3A100%25.rules,"),
        "{}",
        run.stdout
    );
}

#[test]
fn baselines_round_trip_and_report_only_new_findings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.rules");
    let rule = |net: &str| format!("-A INPUT -s ! {net} -j DROP\n");
    let dump = |rules: &[String]| {
        format!(
            "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -j ACCEPT\n{}COMMIT\n",
            rules.concat()
        )
    };
    let twice = vec![
        rule("10.0.0.0/8"),
        rule("10.0.0.0/8"),
        rule("192.168.0.0/16"),
    ];
    std::fs::write(&path, dump(&twice)).unwrap();
    let at = Some(dir.path());
    // Only the check this test is about: identical rules also draw
    // `duplicate-rule`, whose count would muddle the arithmetic below.
    let check_in =
        |dir: Option<&Path>, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]| {
            let mut all = vec!["--select", "obsolete-negation"];
            all.extend_from_slice(args);
            check_in(dir, &all, stdin, env)
        };
    let sarif_of = |dir: Option<&Path>, args: &[&str]| {
        let mut all = vec!["--select", "obsolete-negation"];
        all.extend_from_slice(args);
        sarif_of(dir, &all)
    };
    let written = check_in(
        at,
        &["--write-baseline", "baseline.json", "./node.rules"],
        None,
        &[],
    );
    assert_eq!(
        written.code, 0,
        "writing a baseline succeeds: {}",
        written.stderr
    );
    assert!(
        written.stderr.contains("wrote 3 findings (2 entries)"),
        "{}",
        written.stderr
    );
    let text = std::fs::read_to_string(dir.path().join("baseline.json")).unwrap();
    let parsed: Value = serde_json::from_str(&text).unwrap();
    let entries = parsed["findings"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert!(entries.iter().all(|e| e["file"] == "node.rules"));
    let counts: Vec<u64> = entries
        .iter()
        .map(|e| e["count"].as_u64().unwrap())
        .collect();
    assert_eq!(counts.iter().sum::<u64>(), 3);
    // Writing again gives the same bytes.
    check_in(
        at,
        &["--write-baseline", "again.json", "node.rules"],
        None,
        &[],
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("again.json")).unwrap(),
        text
    );

    // Same dump, reordered and with counters: nothing new.
    let moved = format!(
        "*filter\n:INPUT ACCEPT [5:100]\n[1:60] {}[2:120] {}-A INPUT -p tcp -j ACCEPT\n{}COMMIT\n",
        twice[2], twice[0], twice[1]
    );
    std::fs::write(&path, moved).unwrap();
    let same = check_in(
        at,
        &["--baseline", "baseline.json", "node.rules"],
        None,
        &[],
    );
    assert_eq!(same.code, 0, "{}", same.stdout);
    assert!(
        same.stdout.contains("no findings in 1 file"),
        "{}",
        same.stdout
    );
    assert!(
        same.stdout.contains("baseline: 3 known findings not shown"),
        "{}",
        same.stdout
    );

    // A third copy of a known rule and a new rule: two new findings, the
    // later copy being the new one.
    let grown = vec![
        rule("10.0.0.0/8"),
        rule("10.0.0.0/8"),
        rule("192.168.0.0/16"),
        rule("10.0.0.0/8"),
        rule("172.16.0.0/12"),
    ];
    std::fs::write(&path, dump(&grown)).unwrap();
    let new = check_in(
        at,
        &[
            "--baseline",
            "baseline.json",
            "--format",
            "concise",
            "node.rules",
        ],
        None,
        &[],
    );
    assert_eq!(new.code, 1);
    let lines: Vec<&str> = new
        .stdout
        .lines()
        .filter(|l| l.contains("IPT010"))
        .collect();
    assert_eq!(lines.len(), 2, "{}", new.stdout);
    assert!(lines[0].starts_with("node.rules:7:"), "{}", lines[0]);
    assert!(lines[1].starts_with("node.rules:8:"), "{}", lines[1]);

    // One known rule fixed: stale entry listed, nothing new.
    std::fs::write(&path, dump(&[rule("10.0.0.0/8"), rule("10.0.0.0/8")])).unwrap();
    let fixed = check_in(
        at,
        &["--baseline", "baseline.json", "node.rules"],
        None,
        &[],
    );
    assert_eq!(fixed.code, 0);
    assert!(
        fixed.stdout.contains("baseline: 1 stale entry"),
        "{}",
        fixed.stdout
    );
    assert!(
        fixed.stdout.contains(
            "node.rules: obsolete-negation in filter/INPUT: -A INPUT -s ! 192.168.0.0/16 -j DROP"
        ),
        "{}",
        fixed.stdout
    );
    let json = check_in(
        at,
        &[
            "--baseline",
            "baseline.json",
            "--format",
            "json",
            "node.rules",
        ],
        None,
        &[],
    );
    let value: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["baseline"]["suppressed"], 2);
    assert_eq!(value["baseline"]["stale"][0]["missing"], 1);
    // SARIF marks what is reported as new.
    std::fs::write(&path, dump(&grown)).unwrap();
    let (sarif, _) = sarif_of(at, &["--baseline", "baseline.json", "node.rules"]);
    validate_sarif(&sarif);
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert!(results.iter().all(|r| r["baselineState"] == "new"));

    // A broken baseline is a usage error.
    std::fs::write(dir.path().join("bad.json"), "{").unwrap();
    let bad = check_in(at, &["--baseline", "bad.json", "node.rules"], None, &[]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("baseline `bad.json`"), "{}", bad.stderr);
    // Syntax errors are never baselined.
    std::fs::write(&path, "*filter\n[1:2 -A INPUT\nCOMMIT\n").unwrap();
    check_in(
        at,
        &["--write-baseline", "broken.json", "node.rules"],
        None,
        &[],
    );
    let broken = check_in(at, &["--baseline", "broken.json", "node.rules"], None, &[]);
    assert_eq!(broken.code, 2);
}

/// `iptlint check dump | head`: when the reader has gone, the run ends
/// quietly (no "Broken pipe" error, exit 0) in every format, as ripgrep does.
#[test]
fn a_closed_stdout_ends_the_run_quietly() {
    for format in FORMATS {
        let (reader, writer) = std::io::pipe().unwrap();
        // Closed before iptlint starts: its first write fails, whatever the
        // timing.
        drop(reader);
        let output = std::process::Command::new(assert_cmd::cargo::cargo_bin("iptlint"))
            .args(["check", "--format", format, &fixture(ERROR)])
            .stdout(writer)
            .output()
            .unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr, "", "{format}");
        assert_eq!(output.status.code(), Some(0), "{format}");
    }
}
