//! Configuration, in ruff's three layers: the options a file says ([`Options`]), found by
//! [`discover`]ing `cpycheck.toml` or `[tool.cpycheck]` in `pyproject.toml` upwards from the
//! analysed path, merged with the command line's [`Overrides`] into [`Resolved`] settings.
//! Also the suppression comments (`// cpycheck: ignore[CPY101]`), applied after analysis.
//!
//! Reading files is the only IO here: configuration files ([`discover`], [`load`]), and
//! [`read`], the bounded reader of regular files that the CLI also uses for sources;
//! everything else works on values it is given.

mod discovery;
mod options;
mod python_version;
pub mod read;
mod resolve;
mod selection;
pub mod suppression;

pub use discovery::{
    CPYCHECK_TOML, ConfigError, ConfigFile, PYPROJECT_TOML, absolute, discover, load, normalise,
};
pub use options::Options;
pub use python_version::{PYTHON_VERSIONS, parse_python_version};
pub use resolve::{DEFAULT_PYTHON_VERSION, Overrides, Resolved};
pub use selection::{RuleFilter, known_rules, rule_code, rule_prefix};
