//! `cargo xtask oracle`: the runtime oracle from the command line (the same code as the
//! `oracle` test of `cpycheck_rules`). See `fixtures/README.md`.

use anyhow::{Result, bail};
use cpycheck_oracle::fixture::Expectation;
use cpycheck_oracle::{MIN_PROVEN_SHARE, Options};

use crate::workspace_root;

pub const USAGE: &str = "\
usage: cargo xtask oracle [--fixture PATH] [--runtime-only] [--no-breaks] [--jobs N] [--verbose]

  Compiles every fixture as an extension module against python3.11-dbg (`.pyx` fixtures
  through the pinned Cython first), runs it, and checks that positives leak or crash as
  their header promises, that fixed twins are clean, that re-inserting each twin's `break:`
  bug is noticed, and that cpycheck reports exactly the `// expect:` (`# expect:`)
  diagnostics.

  --fixture PATH   only fixtures whose path contains PATH (e.g. fixtures/CPY101/goto_error.c)
  --runtime-only   skip the static half (cpycheck's diagnostics)
  --no-breaks      skip re-inserting the twins' bugs
  --jobs N         parallel compile-and-run jobs (default: the machine's parallelism)
  --verbose        one line of evidence per fixture
";

/// The static checker: cpycheck's `(line, code)` diagnostics for one file.
fn static_check(path: &str, bytes: &[u8]) -> Vec<Expectation> {
    let report = cpycheck_rules::check_file(path, bytes, &cpycheck_rules::Settings::default());
    report
        .diagnostics
        .iter()
        .map(|d| Expectation {
            line: report.source[..(d.span.start as usize).min(report.source.len())]
                .matches('\n')
                .count()
                + 1,
            code: d.code.to_string(),
        })
        .collect()
}

pub fn run(args: &[String]) -> Result<()> {
    let mut options = Options {
        runtime: true,
        breaks: true,
        static_check: Some(&static_check),
        ..Options::default()
    };
    let mut verbose = false;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--fixture" => {
                let Some(path) = args.next() else {
                    bail!("--fixture needs a path\n\n{USAGE}")
                };
                let path = path.trim_start_matches("./");
                options.filter = Some(path.strip_prefix("fixtures/").unwrap_or(path).to_string());
            }
            "--runtime-only" => options.static_check = None,
            "--no-breaks" => options.breaks = false,
            "--jobs" => {
                options.jobs = match args.next().map(|n| n.parse()) {
                    Some(Ok(n)) if n > 0 => n,
                    _ => bail!("--jobs needs a positive number\n\n{USAGE}"),
                }
            }
            "--verbose" | "-v" => verbose = true,
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(());
            }
            other => bail!("unknown option `{other}`\n\n{USAGE}"),
        }
    }
    let report = cpycheck_oracle::run(&workspace_root().join("fixtures"), &options)
        .map_err(anyhow::Error::msg)?;
    if verbose {
        for line in report.details() {
            println!("{line}");
        }
        println!();
    }
    let failures = report.failures();
    for failure in &failures {
        println!("FAILED {failure}\n");
    }
    for line in report.summary() {
        println!("{line}");
    }
    if !failures.is_empty() {
        bail!("the oracle failed for {} item(s)", failures.len());
    }
    if options.filter.is_none() && report.proven_share() < MIN_PROVEN_SHARE {
        bail!("too few positive fixtures proven at runtime");
    }
    Ok(())
}
