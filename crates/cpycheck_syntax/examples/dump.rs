//! Debug helper: `cargo run -p cpycheck_syntax --example dump -- FILE [tree]` prints the model
//! (or the tree) of a file after source prep.
#![allow(clippy::print_stdout, clippy::print_stderr)]

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: dump FILE [tree]");
        std::process::exit(2);
    };
    let bytes = std::fs::read(&path).expect("readable file");
    let text = String::from_utf8_lossy(&bytes).into_owned();
    if args.next().as_deref() == Some("tree") {
        print!("{}", cpycheck_syntax::dump_tree(&text));
    } else {
        print!(
            "{}",
            cpycheck_syntax::dump_model(&cpycheck_syntax::parse(&text))
        );
    }
}
