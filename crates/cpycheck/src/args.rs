//! Command-line arguments (clap derive).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use cpycheck_config::parse_python_version;

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
    /// The package headers whose macros the file reads, and those that could not be read
    #[command(name = "dump-headers")]
    Headers(DebugArgs),
    /// The C-API-style callees (`Py*`, `_Py*`) that have no contract, counted over many files
    #[command(name = "unknown-apis")]
    UnknownApis(UnknownApisArgs),
}

#[derive(Debug, clap::Args)]
pub struct UnknownApisArgs {
    /// C files, and directories searched recursively for `.c` files
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,

    /// Target Python version (`X.Y`) for `#if PY_VERSION_HEX`
    #[arg(long, value_name = "X.Y", default_value = "3.13", value_parser = parse_python_version)]
    pub python_version: (u8, u8),

    /// Do not read the macros of the package's headers
    #[arg(long)]
    pub no_headers: bool,
}

#[derive(Debug, clap::Args)]
pub struct DebugArgs {
    /// The C file
    pub file: PathBuf,

    /// Target Python version (`X.Y`) for `#if PY_VERSION_HEX`
    ///
    /// [default: `python-version` from the configuration, else 3.13]
    #[arg(long, value_name = "X.Y", value_parser = parse_python_version)]
    pub python_version: Option<(u8, u8)>,

    /// Do not read the macros of the package's headers
    #[arg(long)]
    pub no_headers: bool,

    /// Use this configuration file instead of looking for one (its `python-version` and
    /// `contracts` apply, as in `check`)
    #[arg(long, value_name = "FILE", conflicts_with = "isolated")]
    pub config: Option<PathBuf>,

    /// Ignore configuration files
    #[arg(long)]
    pub isolated: bool,
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Files or directories to analyse. Directories are searched recursively for `.c` and
    /// `.h` files, honouring `.gitignore`; files named explicitly are always analysed
    /// (unless excluded by `exclude`).
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,

    /// Output format
    #[arg(long, alias = "output-format", value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Write the report to this file instead of stdout (no colour); errors and warnings
    /// still go to stderr
    #[arg(long, value_name = "FILE")]
    pub output_file: Option<PathBuf>,

    /// Exit with status 0 even when there are findings or files that could not be analysed
    /// (usage, configuration and internal errors still exit with 2)
    #[arg(long)]
    pub exit_zero: bool,

    /// Read one file's source from stdin and report it under this name (which also picks
    /// the C or Cython reader and the configuration); the paths are not read
    #[arg(long, value_name = "PATH")]
    pub stdin_filename: Option<PathBuf>,

    /// Target Python version (`X.Y`), for `#if PY_VERSION_HEX` and versioned APIs
    ///
    /// [default: `python-version` from the configuration, else 3.13]
    #[arg(long, value_name = "X.Y", value_parser = parse_python_version)]
    pub python_version: Option<(u8, u8)>,

    /// Report only these rules: comma-separated codes, code prefixes (`CPY101`, `CPY1`) or
    /// rule names. Replaces `select` from the configuration
    #[arg(long, value_delimiter = ',', value_name = "CODES")]
    pub select: Option<Vec<String>>,

    /// Report these rules too, on top of `--select` or the configuration's selection
    #[arg(long, value_delimiter = ',', value_name = "CODES")]
    pub extend_select: Vec<String>,

    /// Do not report these rules: comma-separated codes, code prefixes or rule names.
    /// Replaces `ignore` from the configuration
    #[arg(long, value_delimiter = ',', value_name = "CODES")]
    pub ignore: Option<Vec<String>>,

    /// Do not report these rules either, on top of `--ignore` or the configuration's
    #[arg(long, value_delimiter = ',', value_name = "CODES")]
    pub extend_ignore: Vec<String>,

    /// Glob patterns of files and directories not to analyse (comma-separated). Replaces
    /// `exclude` from the configuration
    #[arg(long, value_delimiter = ',', value_name = "GLOBS")]
    pub exclude: Option<Vec<String>>,

    /// Glob patterns not to analyse, on top of `--exclude` or the configuration's
    #[arg(long, value_delimiter = ',', value_name = "GLOBS")]
    pub extend_exclude: Vec<String>,

    /// Use this configuration file (`cpycheck.toml`, or a `pyproject.toml` with a
    /// `[tool.cpycheck]` table) instead of looking for one
    #[arg(long, value_name = "FILE", conflicts_with = "isolated")]
    pub config: Option<PathBuf>,

    /// Ignore configuration files: use the defaults and the command line only
    #[arg(long)]
    pub isolated: bool,

    /// Also report the preview rules (`cpycheck rule --all` marks them), whose precision on
    /// real code is not yet measured at 90% or above
    #[arg(long)]
    pub preview: bool,

    /// Report `cpycheck: ignore` comments that suppressed nothing (as CPY001)
    #[arg(long)]
    pub warn_unused_ignores: bool,

    /// Print the number of findings per rule and the summary, not the findings themselves
    #[arg(long)]
    pub statistics: bool,

    /// Print the files that would be analysed, one per line, and exit
    #[arg(long, conflicts_with = "show_settings")]
    pub show_files: bool,

    /// Print the settings in force (configuration file, rules reported, exclusions) and exit
    #[arg(long)]
    pub show_settings: bool,

    /// After the findings, list the functions that were not analysed (with the reason) and
    /// the files with functions analysed incompletely
    #[arg(long)]
    pub show_skipped: bool,

    /// Print diagnostics and errors only, without the summary or a progress bar
    #[arg(long, short)]
    pub quiet: bool,

    /// Do not read the macros of the package's own headers: analyse each file with the
    /// macros it defines itself (and the Python API's) only
    #[arg(long)]
    pub no_headers: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Source snippets with the numbered path to each finding
    Text,
    /// One line per finding: `file:line:col: warning: message [CODE]`
    Concise,
    /// The versioned JSON document
    Json,
    /// SARIF 2.1.0, for GitHub code scanning and other CI dashboards
    Sarif,
    /// GitHub Actions workflow commands (`::warning file=...`), shown on pull requests
    Github,
    /// GitLab Code Quality JSON (`codequality` report artifact)
    Gitlab,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_definition_is_valid() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
