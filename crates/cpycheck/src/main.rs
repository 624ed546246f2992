//! The `cpycheck` command line. The only crate that touches the filesystem and the terminal.
//!
//! Exit codes: 0 no findings; 1 findings; 2 usage or configuration error, or a file that
//! could not be analysed (unreadable, binary, internal error) — findings in the other
//! files are still reported.

mod args;
mod check;
mod debug;
mod headers;
mod inputs;
mod isolation;
mod output;
mod progress;
mod rule;
mod threads;

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
    isolation::install_panic_hook();
    let progress = progress::Progress::new(std::io::stderr().is_terminal() && !args.quiet);
    let outcome = check::check_paths(&args.paths, &resolved, &progress, !args.no_headers);
    let reports = outcome.reports;
    let stats = RunStats {
        suppressed: outcome.suppressed,
        elapsed: Some(started.elapsed()),
        ..RunStats::from_reports(&reports)
    };

    let opts = TextOptions {
        color: output::stdout_color(),
    };
    let err_opts = TextOptions {
        color: output::stderr_color(),
    };
    match args.format {
        Format::Json => output::stdout(&cpycheck_report::render_json(&reports, &stats)),
        Format::Sarif => {
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
            output::stdout(&cpycheck_report::render_sarif(&reports, &stats, &tool));
        }
        Format::Text | Format::Concise => {
            if !args.statistics {
                let body = if args.format == Format::Text {
                    cpycheck_report::render_text(&reports, &opts)
                } else {
                    cpycheck_report::render_concise(&reports)
                };
                output::stdout(&body);
            }
            output::stderr(&cpycheck_report::render_errors(&reports, &err_opts));
            if !args.quiet || args.statistics {
                output::stdout(&cpycheck_report::render_summary(&reports, &stats, &opts));
            }
        }
    }

    if stats.files_with_errors > 0 {
        ExitCode::from(EXIT_ERROR)
    } else if reports.iter().any(|r| !r.diagnostics.is_empty()) {
        ExitCode::from(EXIT_FINDINGS)
    } else {
        ExitCode::SUCCESS
    }
}

/// Finds and reads the configuration (unless `--isolated`), then merges the command line
/// into it.
fn resolve(args: &CheckArgs) -> Result<Resolved, ConfigError> {
    let config = if args.isolated {
        None
    } else if let Some(path) = &args.config {
        Some(cpycheck_config::load(path)?)
    } else {
        discover(&args.paths)?
    };
    let overrides = Overrides {
        select: args.select.clone(),
        ignore: args.ignore.clone(),
        exclude: args.exclude.clone(),
        python_version: args.python_version,
        warn_unused_ignores: args.warn_unused_ignores,
    };
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    Resolved::new(config.as_ref(), &overrides, &cwd)
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
fn relative_display(path: &Path) -> String {
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
