//! Repository tasks: `cargo xtask <command>`.
//!
//! Commands:
//! - `codegen`: regenerate `crates/cpycheck_contracts/src/generated.rs` from the contract data.
//! - `codegen --check`: fail if the committed file is out of date.
//! - `oracle`: compile and run every fixture against python3.11-dbg (see `fixtures/README.md`).
//! - `test`: the whole test suite, prerequisites checked (and Cython provisioned) first.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod oracle;
mod test;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  codegen [--check]   regenerate the API contracts table (--check: only verify it is current)
  oracle [--help]     compile and run every fixture, prove leaks/crashes/clean twins
  test [--static]     every test (--no-fail-fast), after checking the prerequisites
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("codegen") => codegen(&args[1..]),
        Some("oracle") => oracle::run(&args[1..]),
        Some("test") => test::run(&args[1..]),
        Some("help" | "-h" | "--help") => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(anyhow::anyhow!("unknown command `{other}`\n\n{USAGE}")),
        None => Err(anyhow::anyhow!("no command given\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root: xtask lives one level below it.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is inside the workspace")
        .to_path_buf()
}

fn codegen(args: &[String]) -> Result<()> {
    let check = match args {
        [] => false,
        [flag] if flag == "--check" => true,
        _ => bail!("usage: cargo xtask codegen [--check]"),
    };
    let crate_dir = workspace_root().join("crates/cpycheck_contracts");
    let read = |rel: &str| {
        let path = crate_dir.join(rel);
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
    };
    let refcounts = read("data/refcounts.dat")?;
    let corrections = read("data/corrections.toml")?;
    let generated = cpycheck_contracts::codegen::generate(&refcounts, &corrections)
        .map_err(anyhow::Error::msg)?;
    let target = crate_dir.join("src/generated.rs");
    let shown = "crates/cpycheck_contracts/src/generated.rs";
    let current = std::fs::read_to_string(&target).unwrap_or_default();
    if current == generated {
        println!("{shown} is up to date");
        return Ok(());
    }
    if check {
        bail!("{shown} is out of date: run `cargo xtask codegen`");
    }
    std::fs::write(&target, generated).with_context(|| format!("writing {}", target.display()))?;
    println!("wrote {shown}");
    Ok(())
}
