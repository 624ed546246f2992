//! `cpycheck debug dump-tree|dump-model|dump-cfg|dump-summaries|dump-headers FILE`: the
//! intermediate stages, for one file; `cpycheck debug unknown-apis PATHS` (see
//! `unknown_apis.rs`).

use std::fmt::Write as _;
use std::path::Path;

use cpycheck_source::{Includes, NoIncludes, PrepOptions, prepare_with};

use crate::args::DebugCommand;
use crate::headers::HeaderCache;

/// Runs a debug command; the error is a message for the user.
pub fn run(command: &DebugCommand) -> Result<String, String> {
    let args = match command {
        DebugCommand::Tree(args)
        | DebugCommand::Model(args)
        | DebugCommand::Cfg(args)
        | DebugCommand::Summaries(args)
        | DebugCommand::Headers(args) => args,
        DebugCommand::UnknownApis(args) => return Ok(crate::unknown_apis::run(args)),
    };
    let overrides = cpycheck_config::Overrides {
        python_version: args.python_version,
        ..cpycheck_config::Overrides::default()
    };
    let resolved = crate::resolve_with(
        std::slice::from_ref(&args.file),
        args.config.as_deref(),
        args.isolated,
        &overrides,
    )
    .map_err(|err| match &err.path {
        Some(path) => format!(
            "invalid configuration in {}:\n{}",
            crate::relative_display(path),
            err.message
        ),
        None => err.message,
    })?;
    let settings = resolved.settings;
    let display = crate::inputs::escape_path(&args.file);
    let bytes = cpycheck_config::read::read_file(
        &args.file,
        resolved.max_file_size,
        cpycheck_config::read::Binary::Accept,
    )
    .map_err(|e| match e {
        cpycheck_config::read::ReadError::Io(e) => format!("cannot read {display}: {e}"),
        other => format!("{display}: {other}"),
    })?;
    let bytes = cpycheck_source::lone_cr_as_lf(&bytes).into_owned();
    let cache = HeaderCache::default();
    let base = args.file.parent().unwrap_or(Path::new(""));
    let file_includes = cache.for_file(&args.file, base);
    let includes: &dyn Includes = if args.no_headers {
        &NoIncludes
    } else {
        &file_includes
    };
    match command {
        DebugCommand::Cfg(_) => return Ok(cpycheck_rules::dump_cfg(&bytes, &settings, includes)),
        DebugCommand::Summaries(_) => {
            return Ok(cpycheck_rules::dump_summaries(&bytes, &settings, includes));
        }
        _ => {}
    }
    let options = PrepOptions {
        python_version: settings.python_version,
    };
    let prepared =
        prepare_with(&bytes, &options, includes).map_err(|e| format!("{display}: {e}"))?;
    Ok(match command {
        DebugCommand::Tree(_) => cpycheck_syntax::dump_tree(&prepared.text),
        DebugCommand::Model(_) => {
            cpycheck_syntax::dump_model(&cpycheck_syntax::parse(&prepared.text))
        }
        _ => {
            let mut out = String::new();
            for h in &prepared.headers {
                let n = prepared
                    .defines
                    .iter()
                    .filter(|d| d.header.as_ref() == Some(h))
                    .count();
                let _ = writeln!(out, "{} ({n} macros)", h.display());
            }
            for note in cache.notes() {
                let _ = writeln!(out, "not read: {note}");
            }
            out
        }
    })
}
