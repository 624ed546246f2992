//! Parse coverage of the Cython front end over a set of files (used for `bench/RESULTS.md`):
//!
//! ```text
//! cargo run --release -p cpycheck_cython --example coverage -- FILE...
//! ```
//!
//! Prints one line per file that has skipped constructs, each skipped construct with its line,
//! and a total: files fully understood / files read, constructs skipped by kind.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;

fn main() {
    let mut files = 0;
    let mut full = 0;
    let mut by_kind: BTreeMap<String, usize> = BTreeMap::new();
    let (mut classes, mut functions, mut externs, mut lines) = (0, 0, 0, 0);
    for path in std::env::args().skip(1) {
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{path}: {e}");
                continue;
            }
        };
        let text = String::from_utf8_lossy(&bytes);
        let file = cpycheck_cython::parse(&text);
        files += 1;
        lines += file.lines;
        classes += file.classes.len();
        externs += file.externs.len();
        functions +=
            file.functions.len() + file.classes.iter().map(|c| c.methods.len()).sum::<usize>();
        if file.fully_understood() {
            full += 1;
            continue;
        }
        println!("{path}: {} construct(s) skipped", file.skipped.len());
        for s in &file.skipped {
            let line = text[..(s.span.start as usize).min(text.len())]
                .matches('\n')
                .count()
                + 1;
            let snippet: String = text
                .get(s.span.range())
                .unwrap_or("")
                .chars()
                .take(70)
                .collect();
            println!("  {line}: {}: {}", s.what, snippet.replace('\n', " "));
            *by_kind.entry(s.what.clone()).or_default() += 1;
        }
    }
    println!(
        "files fully understood: {full} / {files}; {lines} logical lines, {classes} classes, {functions} functions and methods, {externs} extern functions"
    );
    for (kind, n) in by_kind {
        println!("skipped {kind}: {n}");
    }
}
