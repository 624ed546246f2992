//! `cpycheck debug dump-tree|dump-model|dump-cfg FILE`: the intermediate stages, for one file.

use cpycheck_source::{PrepOptions, prepare};

use crate::args::{DebugArgs, DebugCommand};

/// Runs a debug command; the error is a message for the user.
pub fn run(command: &DebugCommand) -> Result<String, String> {
    if let DebugCommand::Cfg(args) | DebugCommand::Summaries(args) = command {
        let display = args.file.display();
        let bytes = std::fs::read(&args.file).map_err(|e| format!("cannot read {display}: {e}"))?;
        let settings = cpycheck_rules::Settings {
            python_version: args.python_version,
            ..cpycheck_rules::Settings::default()
        };
        return Ok(if matches!(command, DebugCommand::Cfg(_)) {
            cpycheck_rules::dump_cfg(&bytes, &settings)
        } else {
            cpycheck_rules::dump_summaries(&bytes, &settings)
        });
    }
    let (args, stage): (&DebugArgs, fn(&str) -> String) = match command {
        DebugCommand::Cfg(_) | DebugCommand::Summaries(_) => unreachable!("handled above"),
        DebugCommand::Tree(args) => (args, cpycheck_syntax::dump_tree),
        DebugCommand::Model(args) => (args, |text| {
            cpycheck_syntax::dump_model(&cpycheck_syntax::parse(text))
        }),
    };
    let display = args.file.display();
    let bytes = std::fs::read(&args.file).map_err(|e| format!("cannot read {display}: {e}"))?;
    let options = PrepOptions {
        python_version: args.python_version,
    };
    let prepared = prepare(&bytes, &options).map_err(|e| format!("{display}: {e}"))?;
    Ok(stage(&prepared.text))
}
