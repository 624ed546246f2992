//! Debug helper: `cargo run -p cpycheck_syntax --example prep -- FILE` prints the prepared
//! text of a file.
#![allow(clippy::print_stdout)]

fn main() {
    let path = std::env::args().nth(1).expect("usage: prep FILE");
    let bytes = std::fs::read(path).expect("readable file");
    match cpycheck_source::prepare(&bytes, &cpycheck_source::PrepOptions::default()) {
        Ok(p) => print!("{}", p.text),
        Err(e) => println!("error: {e}"),
    }
}
