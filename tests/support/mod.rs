//! Shared helpers for integration tests: the real kernel as an oracle, the
//! shared corpus, and visible skips.
//!
//! Kernel tests run `iptables-restore` inside a private network namespace
//! (`unshare -n`) made for that one call, so nothing touches the host's rules
//! and no packet leaves the namespace.
#![allow(dead_code)]

pub mod generated;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Print a skip message that CI logs show, even under libtest's capture.
pub fn skip(test: &str, reason: &str) {
    eprintln!("SKIP: {test}: {reason}");
    println!("SKIP: {test}: {reason}");
}

/// `../shared/corpus`, when present.
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    dir.is_dir().then_some(dir)
}

/// `fixtures/` of this repository.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Which iptables family a tool is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// iptables
    V4,
    /// ip6tables
    V6,
}

/// The real iptables, usable as root inside private network namespaces.
#[derive(Debug, Clone)]
pub struct Kernel {
    /// `legacy` or `nft`.
    pub backend: &'static str,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

impl Kernel {
    /// The kernel oracle, or `None` (after printing a SKIP line for `test`)
    /// when not root, or when `unshare` or iptables are missing.
    pub fn get(test: &str) -> Option<Kernel> {
        if !is_root() {
            skip(
                test,
                "needs root for `unshare -n` (run as root, as CI does)",
            );
            return None;
        }
        if !have("unshare") {
            skip(test, "needs `unshare` (util-linux)");
            return None;
        }
        for backend in ["legacy", "nft"] {
            if have(&format!("iptables-{backend}-restore")) {
                let kernel = Kernel { backend };
                // The namespace must actually work here (containers may forbid it).
                if kernel.restore(Family::V4, "*filter\nCOMMIT\n", &[]).is_ok() {
                    return Some(kernel);
                }
            }
        }
        skip(
            test,
            "needs iptables (apt-get install -y iptables) and a kernel that lets root create network namespaces",
        );
        None
    }

    /// Every backend (legacy and nf_tables) that works here, for tests that
    /// must agree with both; empty (after a SKIP line) when none does.
    pub fn all(test: &str) -> Vec<Kernel> {
        let Some(first) = Kernel::get(test) else {
            return Vec::new();
        };
        let mut kernels = vec![first];
        for backend in ["legacy", "nft"] {
            if kernels.iter().any(|k| k.backend == backend) {
                continue;
            }
            let kernel = Kernel { backend };
            if have(&kernel.tool(Family::V4, "restore"))
                && kernel.restore(Family::V4, "*filter\nCOMMIT\n", &[]).is_ok()
            {
                kernels.push(kernel);
            } else {
                skip(
                    test,
                    &format!("the {backend} backend is not usable; checked one backend only"),
                );
            }
        }
        kernels
    }

    /// Whether `finding`'s notes say that this backend loads the table
    /// anyway (iptables-legacy's walk or iptables-nft's checks differ from
    /// the other backend's), so that its error is no refusal here.
    pub fn loads_anyway(&self, finding: &iptlint::diagnostics::Diagnostic) -> bool {
        let note = match self.backend {
            "legacy" => iptlint::checks::legacy_walk::LEGACY_LOADS_NOTE,
            _ => iptlint::checks::hooks::NFT_LOADS_NOTE,
        };
        finding.notes.iter().any(|n| n.starts_with(note))
    }

    /// The command for `what` (`restore`, `save`) of this backend and family.
    pub fn tool(&self, family: Family, what: &str) -> String {
        let prefix = if family == Family::V6 {
            "ip6tables"
        } else {
            "iptables"
        };
        format!("{prefix}-{}-{what}", self.backend)
    }

    /// Load `dump` into a fresh namespace with `iptables-restore ARGS`;
    /// `Err` holds what iptables printed.
    pub fn restore(&self, family: Family, dump: &str, args: &[&str]) -> Result<(), String> {
        self.run_in_netns(
            &format!("{} {}", self.tool(family, "restore"), args.join(" ")),
            dump,
        )
        .map(|_| ())
    }

    /// Load `dump` into a fresh namespace and return `iptables-save -c` of it.
    pub fn round_trip(&self, family: Family, dump: &str) -> Result<String, String> {
        self.run_in_netns(
            &format!(
                "{} && {} -c",
                self.tool(family, "restore"),
                self.tool(family, "save")
            ),
            dump,
        )
    }

    /// Load `dump` (IPv4) into a fresh namespace, send `count` UDP packets
    /// to `ip:port` from inside it, and return `iptables-save -c -t TABLE`.
    /// The packets go to a device that is connected to nothing outside the
    /// namespace: a dummy, or a veth pair with both ends inside.
    pub fn send_udp(
        &self,
        dump: &str,
        table: &str,
        (ip, port): (&str, u16),
        count: usize,
    ) -> Result<String, String> {
        let restore = self.tool(Family::V4, "restore");
        let save = self.tool(Family::V4, "save");
        let script = format!(
            "set -e
ip link set lo up
if ! ip link add iptl0 type dummy 2>/dev/null; then
  ip link add iptl0 type veth peer name iptl1
  ip link set iptl1 up
fi
ip link set iptl0 up
ip addr add 192.0.2.1/24 dev iptl0
ip route add default dev iptl0
{restore}
bash -c 'for i in $(seq {count}); do printf x > /dev/udp/{ip}/{port}; done' 2>/dev/null || true
{save} -c -t {table}"
        );
        self.run_in_netns(&script, dump)
    }

    /// Load each of `dumps` alone, by the restore of its family, in one
    /// fresh namespace (a table a refused dump leaves nothing of, a loaded
    /// one is replaced by the next): `Ok`, or what iptables printed. A
    /// line with `-h` (or a word read as short options starting with it,
    /// `-hitcount`) makes iptables-restore print its help and exit 0
    /// having loaded nothing: that is a refusal too.
    pub fn restore_each(&self, dumps: &[(Family, &str)]) -> Vec<Result<(), String>> {
        if dumps.is_empty() {
            return Vec::new();
        }
        let dir = tempfile::tempdir().unwrap();
        for (i, (family, dump)) in dumps.iter().enumerate() {
            let extension = match family {
                Family::V4 => "v4",
                Family::V6 => "v6",
            };
            std::fs::write(dir.path().join(format!("{i}.{extension}")), dump).unwrap();
        }
        let (v4, v6) = (
            self.tool(Family::V4, "restore"),
            self.tool(Family::V6, "restore"),
        );
        let script = format!(
            "cd '{}' && for i in $(seq 0 {}); do if [ -f $i.v4 ]; then f=$i.v4; t='{v4}'; else f=$i.v6; t='{v6}'; fi; if $t < $f >$i.out 2>$i.err; then if grep -q '^Usage:' $i.out; then echo help; else echo ok; fi; else echo refused; fi; done",
            dir.path().display(),
            dumps.len() - 1
        );
        let out = self
            .run_in_netns(&script, "")
            .expect("the loop itself runs");
        let verdicts: Vec<&str> = out.lines().collect();
        assert_eq!(verdicts.len(), dumps.len(), "one verdict per dump");
        verdicts
            .iter()
            .enumerate()
            .map(|(i, verdict)| match *verdict {
                "ok" => Ok(()),
                "help" => Err("printed its help (`-h`) and loaded nothing".to_string()),
                _ => Err(std::fs::read_to_string(dir.path().join(format!("{i}.err")))
                    .unwrap()
                    .trim()
                    .to_string()),
            })
            .collect()
    }

    /// iptlint's findings on `dump` that say this kernel refuses it, as
    /// `name: message`: errors, but those this backend loads anyway and
    /// `missing-terminal` (an error about where packets go, never a
    /// refusal).
    pub fn refusals_by_iptlint(&self, dump: &str) -> Vec<String> {
        let report = iptlint::lint::check_source(
            iptlint::source::SourceFile::new("case.rules", dump),
            &iptlint::lint::Settings::default(),
        );
        report
            .diagnostics
            .iter()
            .filter(|d| {
                d.severity == iptlint::diagnostics::Severity::Error
                    && !self.loads_anyway(d)
                    && d.info.name != "missing-terminal"
            })
            .map(|d| format!("{}: {}", d.info.name, d.message))
            .collect()
    }

    /// Run `script` under `sh -c` in a fresh network namespace with `stdin`.
    pub fn run_in_netns(&self, script: &str, stdin: &str) -> Result<String, String> {
        let mut child = Command::new("unshare")
            .args(["-n", "sh", "-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run unshare: {e}"))?;
        let mut input = child.stdin.take().expect("piped");
        let stdin = stdin.to_string();
        let writer = std::thread::spawn(move || {
            let _ = input.write_all(stdin.as_bytes());
        });
        let output = child.wait_with_output().map_err(|e| e.to_string())?;
        let _ = writer.join();
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    }
}

/// What MANIFEST.tsv says about one corpus file.
#[derive(Debug, Clone)]
pub struct CorpusEntry {
    /// The file.
    pub path: PathBuf,
    /// `ipv4` or `ipv6`.
    pub family: Family,
    /// Whether a real load (`iptables-nft-restore` in a private namespace)
    /// succeeded when the corpus was made (column `netns_load_nft`).
    pub loads: bool,
}

/// Every `.rules` file of the corpus with its MANIFEST.tsv row, sorted by
/// name; `None` when the corpus is absent.
pub fn corpus_entries() -> Option<Vec<CorpusEntry>> {
    let dir = corpus_dir()?;
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    let mut lines = manifest.lines();
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h.starts_with(name))
            .unwrap_or_else(|| panic!("no column {name} in MANIFEST.tsv"))
    };
    let (family, load) = (column("family"), column("netns_load_nft"));
    let mut entries: Vec<CorpusEntry> = lines
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let row: Vec<&str> = line.split('\t').collect();
            CorpusEntry {
                path: dir.join(row[0]),
                family: if row[family] == "ipv6" {
                    Family::V6
                } else {
                    Family::V4
                },
                loads: row[load].trim() == "ok",
            }
        })
        .collect();
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Some(entries)
}

/// The dumps of the corpus that the kernel loads, as (file name, bytes),
/// asserting there are at least 30; `None`, after a visible skip of `test`,
/// when the corpus is absent.
pub fn accepted_corpus_dumps(test: &str) -> Option<Vec<(String, Vec<u8>)>> {
    let Some(entries) = corpus_entries() else {
        skip(test, "../shared/corpus is absent");
        return None;
    };
    let accepted: Vec<(String, Vec<u8>)> = entries
        .iter()
        .filter(|entry| entry.loads)
        .map(|entry| {
            let name = entry
                .path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (name, std::fs::read(&entry.path).unwrap())
        })
        .collect();
    assert!(
        accepted.len() >= 30,
        "only {} accepted dumps",
        accepted.len()
    );
    Some(accepted)
}

/// Whether a corpus file is a kube-proxy dump (which deserves no finding
/// from the structural checks).
pub fn is_kube_proxy_dump(name: &str) -> bool {
    name.starts_with("kubernetes__") || name.starts_with("derived__")
}

/// The line number iptables names in an error ("Error occurred at line: N",
/// "line N failed", "line N: ...").
pub fn failing_line(stderr: &str) -> Option<usize> {
    for marker in ["Error occurred at line: ", "line "] {
        for (index, _) in stderr.match_indices(marker) {
            let digits: String = stderr[index + marker.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if let Ok(line) = digits.parse() {
                return Some(line);
            }
        }
    }
    None
}
