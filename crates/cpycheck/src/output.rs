//! Writing to the terminal. Output goes through `std::io::Write` handles; a closed pipe
//! (`cpycheck check | head`) ends the output quietly.

use std::io::{self, IsTerminal, Write};

/// Colour on stdout: only on a terminal, and only when `NO_COLOR` is unset or empty.
pub fn stdout_color() -> bool {
    io::stdout().is_terminal() && !no_color()
}

/// Colour on stderr, by the same rules as [`stdout_color`].
pub fn stderr_color() -> bool {
    io::stderr().is_terminal() && !no_color()
}

fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

pub fn stdout(text: &str) {
    write_all(&mut io::stdout().lock(), text);
}

pub fn stderr(text: &str) {
    write_all(&mut io::stderr().lock(), text);
}

fn write_all(out: &mut impl Write, text: &str) {
    if text.is_empty() {
        return;
    }
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => {}
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(_) => std::process::exit(2),
    }
}
