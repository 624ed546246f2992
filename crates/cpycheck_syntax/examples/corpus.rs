//! Parse-quality probe: `cargo run -p cpycheck_syntax --example corpus -- DIR...` runs
//! source prep and the syntax model over every `.c` file and counts functions that contain
//! error regions.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|x| x == "c") {
            out.push(p);
        }
    }
}

fn main() {
    let verbose = std::env::var_os("VERBOSE").is_some();
    let mut files = Vec::new();
    for d in std::env::args().skip(1) {
        collect(Path::new(&d), &mut files);
    }
    files.sort();
    let opts = cpycheck_source::PrepOptions::default();
    let (mut total, mut bad, mut regions, mut skipped) = (0, 0, 0, 0);
    for f in &files {
        let bytes = std::fs::read(f).expect("readable");
        let prepared = match cpycheck_source::prepare(&bytes, &opts) {
            Ok(p) => p,
            Err(e) => {
                println!("{}: {e}", f.display());
                continue;
            }
        };
        // RAW=1 parses the file as it is, for comparison.
        let model = if std::env::var_os("RAW").is_some() {
            cpycheck_syntax::parse(&String::from_utf8_lossy(&bytes))
        } else {
            cpycheck_syntax::parse(&prepared.text)
        };
        let idx = cpycheck_source::LineIndex::new(&prepared.text);
        total += model.functions.len();
        regions += model.error_regions;
        skipped += model.skipped_functions.len();
        for func in &model.functions {
            if func.has_errors {
                bad += 1;
                if verbose {
                    println!(
                        "  {}:{} {}",
                        f.display(),
                        idx.line_col(func.span.start).0,
                        func.name
                    );
                }
            }
        }
    }
    println!(
        "files {} functions {} with-errors {} ({:.2}% clean) error-regions {} skipped {}",
        files.len(),
        total,
        bad,
        100.0 * (total - bad) as f64 / total.max(1) as f64,
        regions,
        skipped
    );
}
