//! The `cpycheck` command line. The only crate that touches the filesystem and the terminal.
//!
//! Exit codes: 0 no findings; 1 findings; 2 usage error, or a file that could not be
//! analysed (unreadable, binary, internal error) — findings in the other files are still
//! reported.

mod args;
mod check;
mod debug;
mod filter;
mod isolation;
mod output;
mod rule;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use cpycheck_report::{RunStats, TextOptions};
use cpycheck_rules::Settings;

use args::{CheckArgs, Cli, Command, Format, RuleArgs};
use filter::RuleFilter;

const EXIT_FINDINGS: u8 = 1;
const EXIT_ERROR: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => run_check(&args),
        Command::Rule(args) => run_rule(&args),
        Command::Debug(command) => match debug::run(&command) {
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
    let filter = match RuleFilter::new(&args.select, &args.ignore) {
        Ok(filter) => filter,
        Err(message) => usage_error(&message),
    };
    let settings = Settings {
        python_version: args.python_version,
        ..Settings::default()
    };
    isolation::install_panic_hook();
    let reports = check::check_paths(&args.paths, &settings, &filter);
    let stats = RunStats::from_reports(&reports);

    let opts = TextOptions {
        color: output::stdout_color(),
    };
    let err_opts = TextOptions {
        color: output::stderr_color(),
    };
    match args.format {
        Format::Json => output::stdout(&cpycheck_report::render_json(&reports, &stats)),
        Format::Text | Format::Concise => {
            let body = if args.format == Format::Text {
                cpycheck_report::render_text(&reports, &opts)
            } else {
                cpycheck_report::render_concise(&reports)
            };
            output::stdout(&body);
            output::stderr(&cpycheck_report::render_errors(&reports, &err_opts));
            if !args.quiet {
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

fn run_rule(args: &RuleArgs) -> ExitCode {
    if args.all {
        output::stdout(&rule::render_all(cpycheck_rules::all_rules()));
        return ExitCode::SUCCESS;
    }
    let code = args.code.as_deref().unwrap_or_default();
    match cpycheck_rules::rule(code) {
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
