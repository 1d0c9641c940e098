//! A command given no FILE reads standard input, except from a terminal:
//! `iptlint check` typed alone in a shell says how to give a dump and exits
//! 2 instead of waiting silently for Ctrl-D. `explain` given a dump where
//! the service belongs, or the dump and the service swapped, says so.
//!
//! The terminal is a pseudo-terminal made by util-linux's `script`; the
//! tests that need it skip with a message where `script` is missing.

mod support;

use std::process::{Command, Stdio};

use support::{fixtures_dir, skip};

const REFUSAL: &str = "no dump to read: standard input is a terminal";

fn iptlint() -> String {
    assert_cmd::cargo::cargo_bin("iptlint")
        .display()
        .to_string()
}

fn fixture(name: &str) -> String {
    fixtures_dir().join(name).display().to_string()
}

/// Run iptlint with `args` on a pseudo-terminal (standard input, output and
/// error all on it); its exit code and what it wrote. `None` without
/// `script`. `timeout` ends a run that waits on the terminal after all.
fn on_terminal(test: &str, args: &[&str]) -> Option<(i32, String)> {
    if Command::new("script").arg("--version").output().is_err() {
        skip(
            test,
            "util-linux `script` (a pseudo-terminal) is not installed",
        );
        return None;
    }
    let command = std::iter::once(iptlint())
        .chain(args.iter().map(|arg| arg.to_string()))
        .map(|word| format!("'{word}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let output = Command::new("timeout")
        .args(["20", "script", "-qec", &command, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Some((
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).replace("\r\n", "\n"),
    ))
}

#[test]
fn commands_without_a_file_do_not_wait_on_a_terminal() {
    let test = "commands_without_a_file_do_not_wait_on_a_terminal";
    for (args, usage) in [
        (&["check"][..], "`iptlint check FILE`"),
        (&["check", "--format", "json"][..], "`iptlint check FILE`"),
        (&["services"][..], "`iptlint services FILE`"),
        (&["dot"][..], "`iptlint dot FILE`"),
        (
            &["explain", "default/my-ngx-deploy-svc"][..],
            "`iptlint explain SERVICE FILE`",
        ),
    ] {
        let Some((code, output)) = on_terminal(test, args) else {
            return;
        };
        assert_eq!(code, 2, "{args:?}: {output}");
        assert!(output.contains(REFUSAL), "{args:?}: {output}");
        assert!(output.contains(usage), "{args:?}: {output}");
    }
}

#[test]
fn a_file_or_an_explicit_dash_is_read_on_a_terminal() {
    let test = "a_file_or_an_explicit_dash_is_read_on_a_terminal";
    let dump = fixture("my-ngx-deploy.rules");
    let Some((code, output)) = on_terminal(test, &["check", &dump]) else {
        return;
    };
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("no findings in 1 file"), "{output}");
    // `-` asks for the terminal: it is read (here to its immediate end).
    let (code, output) = on_terminal(test, &["check", "-"]).unwrap();
    assert_eq!(code, 0, "{output}");
    assert!(!output.contains(REFUSAL), "{output}");
    let (code, output) =
        on_terminal(test, &["explain", "default/my-ngx-deploy-svc", &dump]).unwrap();
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("10.244.0.63:80"), "{output}");
}

#[test]
fn piped_input_is_read_without_a_file() {
    let dump = std::fs::read_to_string(fixture("my-ngx-deploy.rules")).unwrap();
    for (args, expected) in [
        (&["check"][..], "no findings in 1 file"),
        (&["services"][..], "default/my-ngx-deploy-svc:80-80"),
        (
            &["explain", "default/my-ngx-deploy-svc"][..],
            "10.244.0.63:80",
        ),
    ] {
        let output = assert_cmd::Command::cargo_bin("iptlint")
            .unwrap()
            .args(args)
            .write_stdin(dump.as_str())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {stdout}");
        assert!(stdout.contains(expected), "{args:?}: {stdout}");
    }
}

/// Stdin redirected from a file, small or large enough to be read in
/// parallel parts, is read from where its offset stands (a shell's `{ head
/// -n 4; iptlint check; } < dump` leaves it past what was read before), and
/// left at the end as reading it through would.
#[test]
fn a_file_on_stdin_is_read_from_its_offset_to_the_end() {
    use std::io::{Seek, SeekFrom};
    // A table with an undefined target, then a clean dump, padded for the
    // large case past the size read in parts (8 MiB), to a length no part
    // size divides.
    let skipped = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j NOWHERE\nCOMMIT\n";
    for padded_to in [0, (9 << 20) + 12_345] {
        let mut dump = String::from(skipped);
        dump.push_str(&std::fs::read_to_string(fixture("my-ngx-deploy.rules")).unwrap());
        let padding = "# padding, as a long dump's comments would be\n";
        while dump.len() < padded_to {
            dump.push_str(padding);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dump.rules");
        std::fs::write(&path, &dump).unwrap();
        let run = |offset: usize| {
            let mut file = std::fs::File::open(&path).unwrap();
            file.seek(SeekFrom::Start(offset as u64)).unwrap();
            let output = Command::new(iptlint())
                .args(["check", "-"])
                .stdin(file.try_clone().unwrap())
                .output()
                .unwrap();
            // The child's descriptor shares this one's offset.
            let left_at = file.stream_position().unwrap();
            (output, left_at)
        };
        let (whole, left_at) = run(0);
        let stdout = String::from_utf8_lossy(&whole.stdout);
        assert_eq!(whole.status.code(), Some(1), "{padded_to}: {stdout}");
        assert!(stdout.contains("NOWHERE"), "{padded_to}: {stdout}");
        assert_eq!(left_at, dump.len() as u64, "{padded_to}");
        let (rest, left_at) = run(skipped.len());
        let stdout = String::from_utf8_lossy(&rest.stdout);
        assert_eq!(rest.status.code(), Some(0), "{padded_to}: {stdout}");
        assert!(
            stdout.contains("no findings in 1 file"),
            "{padded_to}: {stdout}"
        );
        assert_eq!(left_at, dump.len() as u64, "{padded_to}");
    }
}

#[test]
fn explain_given_a_dump_for_the_service_says_the_service_comes_first() {
    let dump = fixture("my-ngx-deploy.rules");
    // The dump is piped too: the mistake is reported, not a search of the
    // piped dump for a service named like the file.
    let output = assert_cmd::Command::cargo_bin("iptlint")
        .unwrap()
        .args(["explain", &dump])
        .write_stdin(std::fs::read_to_string(&dump).unwrap())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "`{dump}` is a file, not a service: the service comes first \
             (`iptlint explain SERVICE {dump}`); `iptlint services {dump}` lists them"
        )),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn explain_given_the_dump_then_the_service_says_they_are_swapped() {
    let dump = fixture("my-ngx-deploy.rules");
    let output = assert_cmd::Command::cargo_bin("iptlint")
        .unwrap()
        .args(["explain", &dump, "default/my-ngx-deploy-svc"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "iptlint: `{dump}` is a file and `default/my-ngx-deploy-svc` is not: the service \
             comes first (`iptlint explain default/my-ngx-deploy-svc {dump}`)\n"
        )
    );
    assert!(output.stdout.is_empty());
    // In the right order, the same words explain the service.
    let output = assert_cmd::Command::cargo_bin("iptlint")
        .unwrap()
        .args(["explain", "default/my-ngx-deploy-svc", &dump])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&output.stdout).starts_with("default/my-ngx-deploy-svc:80-80: tcp"),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}
