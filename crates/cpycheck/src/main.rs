//! The `cpycheck` command line. The only crate that touches the filesystem and the terminal.
//!
//! Exit codes: 0 no findings; 1 findings, or a file that could not be analysed while others
//! were; 2 usage or configuration error, no file analysable at all, or an internal error.

mod args;
mod check;
mod debug;
mod explain;
mod headers;
mod inputs;
mod isolation;
mod output;
mod progress;
mod rule;
mod threads;
mod unknown_apis;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use clap::{CommandFactory, Parser};
use cpycheck_config::{ConfigError, ConfigFile, Overrides, Resolved};
use cpycheck_report::{RunStats, SarifRule, SarifTool, TextOptions};

use args::{CheckArgs, Cli, Command, Format, RuleArgs};

const EXIT_FINDINGS: u8 = 1;
const EXIT_ERROR: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => run_check(&args),
        Command::Rule(args) => run_rule(&args),
        Command::Debug(command) => match threads::run(|| debug::run(&command)) {
            Ok(dump) => {
                output::stdout(&dump);
                ExitCode::SUCCESS
            }
            Err(message) => {
                output::stderr(&format!("error: {message}\n"));
                ExitCode::from(EXIT_ERROR)
            }
        },
    }
}

fn run_check(args: &CheckArgs) -> ExitCode {
    let started = Instant::now();
    let resolved = match resolve(args) {
        Ok(resolved) => Arc::new(resolved),
        Err(ConfigError {
            path: None,
            message,
        }) => usage_error(&message),
        Err(err) => {
            let path = err
                .path
                .as_deref()
                .map(relative_display)
                .unwrap_or_default();
            output::stderr(&format!(
                "error: invalid configuration in {path}:\n{}\n",
                err.message
            ));
            return ExitCode::from(EXIT_ERROR);
        }
    };
    for warning in &resolved.warnings {
        output::stderr(&format!("warning: {warning}\n"));
    }
    if args.show_settings {
        output::stdout(&explain::settings(&resolved, !args.no_headers));
        return ExitCode::SUCCESS;
    }
    if args.show_files {
        let files = check::files(&args.paths, &resolved);
        output::stdout(&files.iter().map(|f| format!("{f}\n")).collect::<String>());
        if files.is_empty() {
            let reason = explain::no_files_reason(&args.paths, &resolved);
            output::stderr(&format!("warning: {reason}\n"));
        }
        return ExitCode::SUCCESS;
    }
    isolation::install_panic_hook();
    let progress = progress::Progress::new(
        std::io::stderr().is_terminal() && !args.quiet && args.stdin_filename.is_none(),
    );
    let outcome = match &args.stdin_filename {
        Some(name) => {
            let mut bytes = Vec::new();
            if let Err(err) = std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes) {
                output::stderr(&format!("error: cannot read stdin: {err}\n"));
                return ExitCode::from(EXIT_ERROR);
            }
            check::check_stdin(name, bytes, &resolved, !args.no_headers)
        }
        None => check::check_paths(&args.paths, &resolved, &progress, !args.no_headers),
    };
    let reports = outcome.reports;
    if reports.is_empty() {
        let reason = explain::no_files_reason(&args.paths, &resolved);
        output::stderr(&format!("warning: {reason}\n"));
    }
    let stats = RunStats {
        suppressed: outcome.suppressed,
        elapsed: Some(started.elapsed()),
        ..RunStats::from_reports(&reports)
    };

    let to_file = args.output_file.is_some();
    let opts = TextOptions {
        color: output::stdout_color() && !to_file,
    };
    let err_opts = TextOptions {
        color: output::stderr_color(),
    };
    let mut out = String::new();
    match args.format {
        Format::Json => out.push_str(&cpycheck_report::render_json(&reports, &stats)),
        Format::Sarif => out.push_str(&sarif(&reports, &stats)),
        Format::Github | Format::Gitlab => {
            out.push_str(&if args.format == Format::Github {
                cpycheck_report::render_github(&reports)
            } else {
                cpycheck_report::render_gitlab(&reports)
            });
            output::stderr(&cpycheck_report::render_errors(&reports, &err_opts));
        }
        Format::Text | Format::Concise => {
            if !args.statistics {
                out.push_str(&if args.format == Format::Text {
                    cpycheck_report::render_text(&reports, &opts)
                } else {
                    cpycheck_report::render_concise(&reports)
                });
            }
            output::stderr(&cpycheck_report::render_errors(&reports, &err_opts));
            if args.show_skipped {
                out.push_str(&explain::skipped(&reports));
            }
            if !args.quiet || args.statistics {
                out.push_str(&cpycheck_report::render_summary(&reports, &stats, &opts));
            }
        }
    }
    match &args.output_file {
        Some(path) => {
            if let Err(err) = std::fs::write(path, &out) {
                output::stderr(&format!("error: cannot write {}: {err}\n", path.display()));
                return ExitCode::from(EXIT_ERROR);
            }
        }
        None => output::stdout(&out),
    }
    exit_status(&reports, &stats, args.exit_zero)
}

/// The exit status of a run (README, "Exit codes"). A file that cannot be analysed (not
/// text, unreadable, vanished) while others are is reported like a finding, with status 1,
/// so a CI step that accepts findings is not failed by one odd file, and the file is
/// named on stderr, in JSON and in SARIF. Status 2 is kept for what no finding can
/// explain: no file could be analysed at all, or cpycheck itself failed (an internal
/// error). `--exit-zero` turns 1 into 0.
fn exit_status(
    reports: &[cpycheck_diagnostics::FileReport],
    stats: &RunStats,
    exit_zero: bool,
) -> ExitCode {
    let internal = reports.iter().any(|r| {
        r.error
            .as_deref()
            .is_some_and(|e| e.starts_with(check::INTERNAL_ERROR))
    });
    if internal || (stats.files_with_errors > 0 && stats.files_analyzed == 0) {
        ExitCode::from(EXIT_ERROR)
    } else if exit_zero {
        ExitCode::SUCCESS
    } else if stats.files_with_errors > 0 || reports.iter().any(|r| !r.diagnostics.is_empty()) {
        ExitCode::from(EXIT_FINDINGS)
    } else {
        ExitCode::SUCCESS
    }
}

/// The SARIF log, with every rule's docs.
fn sarif(reports: &[cpycheck_diagnostics::FileReport], stats: &RunStats) -> String {
    let metas = rule::all_rules();
    let docs: Vec<String> = metas.iter().map(|m| rule::docs_markdown(m)).collect();
    let rules: Vec<SarifRule<'_>> = metas
        .iter()
        .zip(&docs)
        .map(|(meta, docs)| SarifRule {
            code: meta.code,
            name: meta.name,
            summary: meta.summary(),
            docs,
        })
        .collect();
    let tool = SarifTool {
        name: "cpycheck",
        version: env!("CARGO_PKG_VERSION"),
        rules: &rules,
    };
    cpycheck_report::render_sarif(reports, stats, &tool)
}

/// Finds and reads the configuration (unless `--isolated`), then merges the command line
/// into it.
fn resolve(args: &CheckArgs) -> Result<Resolved, ConfigError> {
    let overrides = Overrides {
        select: args.select.clone(),
        extend_select: args.extend_select.clone(),
        ignore: args.ignore.clone(),
        extend_ignore: args.extend_ignore.clone(),
        exclude: args.exclude.clone(),
        extend_exclude: args.extend_exclude.clone(),
        python_version: args.python_version,
        warn_unused_ignores: args.warn_unused_ignores,
        preview: args.preview,
    };
    // Read from stdin, the file is configured as if it were at its given name.
    let paths = match &args.stdin_filename {
        Some(name) => std::slice::from_ref(name),
        None => &args.paths[..],
    };
    resolve_with(paths, args.config.as_deref(), args.isolated, &overrides)
}

/// The configuration of `paths` (the file given, none when `isolated`, else the one found
/// upwards) merged with `overrides`. `check` and the debug commands resolve alike.
pub(crate) fn resolve_with(
    paths: &[PathBuf],
    config: Option<&Path>,
    isolated: bool,
    overrides: &Overrides,
) -> Result<Resolved, ConfigError> {
    let config = if isolated {
        None
    } else if let Some(path) = config {
        Some(cpycheck_config::load(path)?)
    } else {
        discover(paths)?
    };
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    Resolved::new(config.as_ref(), overrides, &cwd)
}

/// The configuration of the analysed paths: the first found upwards from each path. Paths
/// that lead to two different files are an error: one run has one configuration.
fn discover(paths: &[PathBuf]) -> Result<Option<ConfigFile>, ConfigError> {
    let mut found: Option<ConfigFile> = None;
    for path in paths {
        let Some(config) = cpycheck_config::discover(path)? else {
            continue;
        };
        match &found {
            Some(first) if first.path != config.path => {
                return Err(ConfigError {
                    path: None,
                    message: format!(
                        "the paths belong to different configuration files ({} and {}); \
                         run cpycheck once per project, or choose one with --config",
                        relative_display(&first.path),
                        relative_display(&config.path)
                    ),
                });
            }
            Some(_) => {}
            None => found = Some(config),
        }
    }
    Ok(found)
}

/// A path for messages: relative to the current directory when it is under it.
pub(crate) fn relative_display(path: &Path) -> String {
    let cwd = std::env::current_dir()
        .map(|c| cpycheck_config::absolute(&c))
        .unwrap_or_default();
    inputs::escape_path(path.strip_prefix(&cwd).unwrap_or(path))
}

fn run_rule(args: &RuleArgs) -> ExitCode {
    if args.all {
        output::stdout(&rule::render_all(&rule::all_rules()));
        return ExitCode::SUCCESS;
    }
    let code = args.code.as_deref().unwrap_or_default();
    match rule::find_rule(code) {
        Some(meta) => {
            output::stdout(&rule::render_rule(meta));
            ExitCode::SUCCESS
        }
        None => usage_error(&format!(
            "unknown rule `{code}` (`cpycheck rule --all` lists the rules)"
        )),
    }
}

/// Reports a usage error the way clap does and exits with code 2.
fn usage_error(message: &str) -> ! {
    Cli::command()
        .error(clap::error::ErrorKind::InvalidValue, message)
        .exit()
}
