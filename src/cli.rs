//! The command line: `iptlint check`, `iptlint rules`, `iptlint rule NAME`,
//! `iptlint dot`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use codespan_reporting::term::termcolor::ColorChoice;

use crate::baseline::{Baseline, BaselineOutcome};
use crate::checks;
use crate::config;
use crate::diagnostics::Severity;
use crate::lint::{self, FileReport, Settings};
use crate::render;

/// How a run ended. The process exit code is the discriminant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExitStatus {
    /// Nothing at or above `--fail-on`.
    Clean = 0,
    /// Findings at or above `--fail-on`.
    Findings = 1,
    /// Unreadable or unparsable input, or a usage error.
    Error = 2,
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> ExitCode {
        ExitCode::from(status as u8)
    }
}

/// A static analyzer for iptables-save dumps, kube-proxy aware.
#[derive(Debug, Parser)]
#[command(name = "iptlint", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check dumps and report findings (exit 0 clean, 1 findings, 2 error).
    Check(CheckArgs),
    /// List every check with its code, name, default level and summary.
    Rules,
    /// Explain one check: what it does, why it matters, an example, how to fix.
    Rule {
        /// The check's name (`undefined-target`) or code (`IPT101`).
        name: String,
    },
    /// Draw the jump graph as Graphviz DOT (or SVG through `dot`).
    Dot(crate::dot::DotArgs),
    /// Show where a kube-proxy service's new connections go: each path, each
    /// endpoint's exact share, the verdict (exit 2 for an unknown service).
    Explain(crate::explain::ExplainArgs),
    /// List the kube-proxy services of a dump: address, endpoints, spread, leak.
    Services(crate::explain::ServicesArgs),
}

/// Output formats of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// rustc-style diagnostics with source excerpts.
    Human,
    /// The JSON contract (see README).
    Json,
    /// One line per finding: `file:line:col: severity[CODE name] message`.
    Concise,
    /// SARIF 2.1.0 for GitHub code scanning and other SARIF viewers.
    Sarif,
    /// GitHub Actions workflow commands (`::error file=...::message`).
    Github,
}

/// When to color output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    /// When stdout is a terminal, unless NO_COLOR is set (CLICOLOR_FORCE forces it).
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Arguments of `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Dumps to check; `-` reads standard input (the default when none is given, unless it is a terminal).
    #[arg(value_name = "FILE")]
    pub files: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Exit 1 when a finding is at or above this severity.
    #[arg(long, value_enum, default_value_t = FailOn::Warning)]
    pub fail_on: FailOn,
    /// Exit 0 even with findings (errors reading input still exit 2).
    #[arg(long)]
    pub exit_zero: bool,
    /// Color output.
    #[arg(long, value_enum, default_value_t = ColorWhen::Auto)]
    pub color: ColorWhen,
    /// Print findings only, no summary line.
    #[arg(short, long)]
    pub quiet: bool,
    /// Report only findings that this baseline file does not record.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<String>,
    /// Record today's findings in this baseline file (the run then exits 0
    /// unless an input cannot be read or parsed).
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<String>,
    /// Configuration file [default: iptlint.toml in the current directory or
    /// the nearest parent that has one].
    #[arg(long, value_name = "FILE", conflicts_with = "isolated")]
    pub config: Option<PathBuf>,
    /// Read no configuration file: every check at its default level (for
    /// a run that must not depend on an iptlint.toml in a parent folder).
    #[arg(long)]
    pub isolated: bool,
    /// Report only these checks (names or codes, comma-separated); overrides
    /// the configuration file.
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    pub select: Vec<String>,
    /// Do not report these checks (names or codes, comma-separated);
    /// overrides the configuration file.
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    pub ignore: Vec<String>,
}

/// Thresholds for `--fail-on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Only errors fail the run.
    Error,
    /// Warnings and errors.
    Warning,
    /// Any finding.
    Note,
}

impl FailOn {
    fn severity(self) -> Severity {
        match self {
            FailOn::Error => Severity::Error,
            FailOn::Warning => Severity::Warning,
            FailOn::Note => Severity::Note,
        }
    }
}

impl ColorWhen {
    /// Resolve against the environment and the terminal.
    pub fn choice(self) -> ColorChoice {
        let env_set =
            |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0");
        match self {
            ColorWhen::Always => ColorChoice::Always,
            ColorWhen::Never => ColorChoice::Never,
            ColorWhen::Auto if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) => {
                ColorChoice::Never
            }
            ColorWhen::Auto if env_set("CLICOLOR_FORCE") => ColorChoice::Always,
            ColorWhen::Auto if std::io::stdout().is_terminal() => ColorChoice::Auto,
            ColorWhen::Auto => ColorChoice::Never,
        }
    }
}

/// Run the command line; the process exits with the returned code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() {
                ExitStatus::Error.into()
            } else {
                ExitStatus::Clean.into()
            };
        }
    };
    match run(cli) {
        Ok(status) => status.into(),
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => ExitStatus::Clean.into(),
        Err(error) => {
            eprintln!("iptlint: {error}");
            ExitStatus::Error.into()
        }
    }
}

/// Run a parsed command line.
pub fn run(cli: Cli) -> std::io::Result<ExitStatus> {
    match cli.command {
        Command::Check(args) => check(args),
        Command::Dot(args) => crate::dot::run(args),
        Command::Rules => {
            let mut out = std::io::stdout().lock();
            for info in checks::all_codes() {
                writeln!(
                    out,
                    "{:<7} {:<28} {:<8} {}",
                    info.code,
                    info.name,
                    info.severity.as_str(),
                    info.summary
                )?;
            }
            Ok(ExitStatus::Clean)
        }
        Command::Explain(args) => crate::explain::explain(&args),
        Command::Services(args) => crate::explain::list(&args),
        Command::Rule { name } => match checks::find_code(&name) {
            Some(info) => {
                let mut out = std::io::stdout().lock();
                writeln!(
                    out,
                    "# {} ({}, default level: {})\n",
                    info.name, info.code, info.severity
                )?;
                writeln!(out, "{}\n", info.summary)?;
                write!(out, "{}", info.explanation())?;
                Ok(ExitStatus::Clean)
            }
            None => {
                eprintln!("iptlint: no check named `{name}`; `iptlint rules` lists them");
                Ok(ExitStatus::Error)
            }
        },
    }
}

fn check(args: CheckArgs) -> std::io::Result<ExitStatus> {
    let files = if args.files.is_empty() {
        if let Some(refusal) = crate::source::terminal_stdin_refusal("check") {
            eprintln!("iptlint: {refusal}");
            return Ok(ExitStatus::Error);
        }
        vec!["-".to_string()]
    } else {
        args.files.clone()
    };
    let baseline = match args.baseline.as_deref().map(Baseline::read).transpose() {
        Ok(baseline) => baseline,
        Err(error) => {
            eprintln!("iptlint: {error}");
            return Ok(ExitStatus::Error);
        }
    };
    let mut settings = match settings(&args) {
        Ok(settings) => settings,
        Err(SettingsError::Usage(message)) => {
            eprintln!("iptlint: {message}");
            return Ok(ExitStatus::Error);
        }
        Err(SettingsError::Config(report)) => {
            render_check(&args, std::slice::from_ref(&report), None)?;
            return Ok(ExitStatus::Error);
        }
    };
    // One file: the process ends right after its report (see the field).
    settings.keep_memory_until_exit = files.len() == 1;
    // Uncapped first: a baseline must see every finding, not the first
    // `MAX_PER_CODE` of each code.
    let mut reports = lint::analyse_paths(&files, &settings);
    if let Some(path) = &args.write_baseline {
        let written = Baseline::from_reports(&reports);
        if let Err(error) = written.write(path) {
            eprintln!("iptlint: cannot write baseline `{path}`: {error}");
            return Ok(ExitStatus::Error);
        }
        if !args.quiet {
            eprintln!(
                "iptlint: wrote {} finding{} ({} entr{}) to baseline `{path}`",
                written.findings(),
                if written.findings() == 1 { "" } else { "s" },
                written.len(),
                if written.len() == 1 { "y" } else { "ies" },
            );
        }
    }
    let outcome = baseline.map(|baseline| {
        let mut outcome = BaselineOutcome::default();
        for report in &mut reports {
            outcome.merge(baseline.filter(&report.source, &mut report.diagnostics));
        }
        outcome
    });
    for report in &mut reports {
        lint::cap_per_code(&mut report.diagnostics);
    }
    render_check(&args, &reports, outcome.as_ref())?;
    let status = exit_status(&reports, args.fail_on.severity(), args.exit_zero);
    Ok(
        if args.write_baseline.is_some() && status == ExitStatus::Findings {
            ExitStatus::Clean
        } else {
            status
        },
    )
}

fn render_check(
    args: &CheckArgs,
    reports: &[FileReport],
    baseline: Option<&BaselineOutcome>,
) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Human => {
            drop(out);
            render::human::emit(reports, args.color.choice(), args.quiet)?;
            out = std::io::stdout().lock();
        }
        Format::Json => return render::json::write_with_baseline(&mut out, reports, baseline),
        Format::Sarif => return render::sarif::write(&mut out, reports, baseline),
        Format::Concise => render::concise::write(&mut out, reports)?,
        Format::Github => render::github::write(&mut out, reports)?,
    }
    if !args.quiet {
        if args.format != Format::Human {
            writeln!(
                out,
                "{}",
                render::human::summary_line(&lint::Summary::of(reports))
            )?;
        }
        for line in baseline.map(render::baseline_lines).unwrap_or_default() {
            writeln!(out, "{line}")?;
        }
    }
    out.flush()
}

/// Why no settings could be made.
enum SettingsError {
    /// A bad command line (unknown check in `--select`/`--ignore`).
    Usage(String),
    /// A configuration file that cannot be read or used, as a report on it.
    Config(FileReport),
}

/// The settings of a `check` run: the configuration file (given or found),
/// then `--select` and `--ignore` on top.
fn settings(args: &CheckArgs) -> Result<Settings, SettingsError> {
    let path = match &args.config {
        Some(path) => Some(path.clone()),
        None if args.isolated => None,
        None => std::env::current_dir()
            .ok()
            .and_then(|dir| config::discover(&dir)),
    };
    let mut settings = match path {
        Some(path) => Settings::from_config(
            config::load(&path).map_err(|report| SettingsError::Config(*report))?,
        ),
        None => Settings::default(),
    };
    let resolve_all =
        |names: &[String], option: &str| -> Result<Vec<&'static str>, SettingsError> {
            names
                .iter()
                .filter(|name| !name.trim().is_empty())
                .map(|name| {
                    crate::suppress::resolve(name.trim()).ok_or_else(|| {
                        let hint = crate::suppress::suggest_check(name.trim())
                            .map_or_else(String::new, |close| format!("; did you mean `{close}`?"));
                        SettingsError::Usage(format!(
                            "{option}: no check named `{name}`{hint} (`iptlint rules` lists them)"
                        ))
                    })
                })
                .collect()
        };
    if !args.select.is_empty() {
        settings.select(&resolve_all(&args.select, "--select")?);
    }
    settings.ignore(&resolve_all(&args.ignore, "--ignore")?);
    Ok(settings)
}

/// The exit status for these reports.
pub fn exit_status(reports: &[FileReport], fail_on: Severity, exit_zero: bool) -> ExitStatus {
    if reports.iter().any(FileReport::is_fatal) {
        ExitStatus::Error
    } else if !exit_zero
        && reports
            .iter()
            .flat_map(|r| &r.diagnostics)
            .any(|d| d.severity >= fail_on)
    {
        ExitStatus::Findings
    } else {
        ExitStatus::Clean
    }
}
