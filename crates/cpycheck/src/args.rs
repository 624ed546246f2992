//! Command-line arguments (clap derive).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Finds reference-counting and ownership bugs in Python C extensions.
#[derive(Debug, Parser)]
#[command(name = "cpycheck", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Analyse C files and directories (recursive, honouring .gitignore)
    Check(CheckArgs),
    /// Print a rule's documentation, or list all rules
    Rule(RuleArgs),
    /// Show what one stage of the pipeline makes of a file
    #[command(subcommand)]
    Debug(DebugCommand),
}

#[derive(Debug, Subcommand)]
pub enum DebugCommand {
    /// The tree-sitter tree of the prepared source
    #[command(name = "dump-tree")]
    Tree(DebugArgs),
    /// The syntax model: functions, registrations, object types, skipped functions
    #[command(name = "dump-model")]
    Model(DebugArgs),
    /// The control-flow graph (IR) of every function, as the ownership engine sees it
    #[command(name = "dump-cfg")]
    Cfg(DebugArgs),
    /// The contract of every function: inferred from its body, or declared
    #[command(name = "dump-summaries")]
    Summaries(DebugArgs),
}

#[derive(Debug, clap::Args)]
pub struct DebugArgs {
    /// The C file
    pub file: PathBuf,

    /// Target Python version (`X.Y`) for `#if PY_VERSION_HEX`
    #[arg(long, value_name = "X.Y", default_value = "3.13", value_parser = parse_python_version)]
    pub python_version: (u8, u8),
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Files or directories to analyse. Directories are searched recursively for `.c` and
    /// `.h` files, honouring `.gitignore`; files named explicitly are always analysed.
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,

    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Target Python version (`X.Y`), for `#if PY_VERSION_HEX` and versioned APIs
    #[arg(long, value_name = "X.Y", default_value = "3.13", value_parser = parse_python_version)]
    pub python_version: (u8, u8),

    /// Report only these rules: comma-separated codes or code prefixes (`CPY101`, `CPY1`)
    #[arg(long, value_delimiter = ',', value_name = "CODES")]
    pub select: Vec<String>,

    /// Do not report these rules: comma-separated codes or code prefixes
    #[arg(long, value_delimiter = ',', value_name = "CODES")]
    pub ignore: Vec<String>,

    /// Print diagnostics and errors only, without the summary
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Source snippets with the numbered path to each finding
    Text,
    /// One line per finding: `file:line:col: warning: message [CODE]`
    Concise,
    /// The versioned JSON document
    Json,
}

#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("which").required(true).args(["code", "all"]))]
pub struct RuleArgs {
    /// A rule code (`CPY101`) or name (`reference-leak`)
    pub code: Option<String>,

    /// List every rule: code, name and summary
    #[arg(long)]
    pub all: bool,
}

/// The oldest and newest Python versions `--python-version` accepts.
pub const PYTHON_VERSIONS: ((u8, u8), (u8, u8)) = ((3, 6), (3, 15));

/// Parses `X.Y` within [`PYTHON_VERSIONS`].
pub fn parse_python_version(text: &str) -> Result<(u8, u8), String> {
    let ((lo_major, lo_minor), (hi_major, hi_minor)) = PYTHON_VERSIONS;
    let range = format!("{lo_major}.{lo_minor} to {hi_major}.{hi_minor}");
    let parsed = text.split_once('.').and_then(|(major, minor)| {
        let digits =
            |s: &str| !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit());
        if digits(major) && digits(minor) {
            Some((major.parse::<u8>().ok()?, minor.parse::<u8>().ok()?))
        } else {
            None
        }
    });
    match parsed {
        Some(version) if PYTHON_VERSIONS.0 <= version && version <= PYTHON_VERSIONS.1 => {
            Ok(version)
        }
        Some(_) => Err(format!("unsupported Python version (supported: {range})")),
        None => Err(format!(
            "expected a version like `3.13` (supported: {range})"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_versions() {
        assert_eq!(parse_python_version("3.13"), Ok((3, 13)));
        assert_eq!(parse_python_version("3.6"), Ok((3, 6)));
        for bad in [
            "", "3", "3.", ".13", "3.13.1", "2.7", "4.0", "3.99", "x.y", "3.-1", "+3.1", "3.1000",
        ] {
            assert!(parse_python_version(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn clap_definition_is_valid() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
