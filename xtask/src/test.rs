//! `cargo xtask test`: the whole test suite from a fresh machine in one command.
//!
//! It checks every prerequisite of the runtime oracle first and names all the missing ones
//! at once, with one command that installs them; it provisions the pinned Cython itself (a
//! venv under `~/.cache/cpycheck`, from PyPI); then it runs `cargo test --workspace
//! --no-fail-fast`, so a failure in one test binary does not hide the others.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};
use cpycheck_oracle::runtime::{CYTHON_VERSION, Toolchain};

const USAGE: &str = "\
usage: cargo xtask test [--static] [-- ARGS...]

  --static   only the static tests: everything but the runtime oracle (no gcc, Python or
             Cython needed)
  ARGS       passed to `cargo test` after `--` (a test name filter, --nocapture, ...)
";

/// The Debian/Ubuntu packages the oracle needs, by the command that shows each is there.
const APT_PACKAGES: &[(&str, &[&str], &str)] = &[
    ("gcc", &["--version"], "gcc"),
    (
        "python3.11d",
        &["-c", "import sys; assert hasattr(sys, 'gettotalrefcount')"],
        "python3.11-dbg",
    ),
    ("python3.11d-config", &["--includes"], "python3.11-dev"),
    (
        "python3.11",
        &["-c", "import ensurepip, venv"],
        "python3.11-venv",
    ),
];

pub fn run(args: &[String]) -> Result<()> {
    let (ours, passed) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], &args[i + 1..]),
        None => (args, &[][..]),
    };
    let mut static_only = false;
    for arg in ours {
        match arg.as_str() {
            "--static" => static_only = true,
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(());
            }
            other => bail!("unknown option `{other}`\n\n{USAGE}"),
        }
    }
    let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cargo
        .current_dir(crate::workspace_root())
        .args(["test", "--workspace", "--no-fail-fast"]);
    if static_only {
        cargo.args(["--", "--skip", "oracle"]).args(passed);
    } else {
        let cython = prerequisites()?;
        cargo.env("CPYCHECK_CYTHON", cython);
        if !passed.is_empty() {
            cargo.arg("--").args(passed);
        }
    }
    let status = cargo.status().context("running cargo test")?;
    if !status.success() {
        bail!("cargo test failed ({status}); the failing tests are listed above");
    }
    Ok(())
}

/// Checks the oracle's system prerequisites, all at once, and provisions the pinned Cython.
/// Returns the Cython executable.
fn prerequisites() -> Result<PathBuf> {
    let missing: Vec<&str> = APT_PACKAGES
        .iter()
        .filter(|(cmd, args, _)| {
            !Command::new(cmd)
                .args(*args)
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .map(|(_, _, package)| *package)
        .collect();
    if !missing.is_empty() {
        bail!(
            "the runtime oracle needs packages that are missing: {}.\n\
             Install them all with:\n\n    sudo apt-get install {}\n\n\
             (on Debian or Ubuntu; `cargo xtask test --static` runs the other tests without them)",
            missing.join(", "),
            missing.join(" ")
        );
    }
    let mut toolchain = Toolchain::detect().map_err(anyhow::Error::msg)?;
    if toolchain.detect_cython().is_err() {
        provision_cython()?;
        toolchain.detect_cython().map_err(anyhow::Error::msg)?;
    }
    toolchain
        .cython
        .context("Cython was found but its path was not kept")
}

/// Installs the pinned Cython into `~/.cache/cpycheck/cython-<version>`, where the oracle
/// looks for it.
fn provision_cython() -> Result<()> {
    let home = std::env::var_os("HOME").context("HOME is not set: cannot place the Cython venv")?;
    let venv = PathBuf::from(home)
        .join(".cache/cpycheck")
        .join(format!("cython-{CYTHON_VERSION}"));
    eprintln!("installing Cython {CYTHON_VERSION} into {}", venv.display());
    let _ = std::fs::remove_dir_all(&venv);
    let ok = Command::new("python3.11")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .is_ok_and(|s| s.success())
        && Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", &format!("cython=={CYTHON_VERSION}")])
            .status()
            .is_ok_and(|s| s.success());
    if !ok {
        bail!(
            "could not install Cython {CYTHON_VERSION} into {} (is PyPI reachable?)",
            venv.display()
        );
    }
    Ok(())
}
