//! `cpycheck debug unknown-apis PATHS`: the C-API-style callees (`Py*`, `_Py*`) that have no
//! contract, over many files, most-called first. A name one of the files defines is that
//! project's own function and is left out. This is how the contracts table's coverage of
//! what real extensions call is measured (`bench/RESULTS.md`).

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use cpycheck_source::{Includes, NoIncludes};
use ignore::WalkBuilder;
use rayon::prelude::*;

use crate::args::UnknownApisArgs;
use crate::headers::HeaderCache;

/// The report, as text: a summary line, then one tab-separated line per name (call sites,
/// files, name). Files that cannot be read or prepared are listed as `error:` lines.
pub fn run(args: &UnknownApisArgs) -> String {
    let files = collect(&args.paths);
    let cache = HeaderCache::default();
    let settings = cpycheck_rules::Settings {
        python_version: args.python_version,
        ..cpycheck_rules::Settings::default()
    };
    let results: Vec<(PathBuf, Result<cpycheck_rules::ApiCalls, String>)> = files
        .par_iter()
        .map(|path| {
            let result = std::fs::read(path)
                .map_err(|e| e.to_string())
                .and_then(|bytes| {
                    let base = path.parent().unwrap_or(Path::new(""));
                    let file_includes = cache.for_file(path, base);
                    let includes: &dyn Includes = if args.no_headers {
                        &NoIncludes
                    } else {
                        &file_includes
                    };
                    cpycheck_rules::unknown_api_calls(&bytes, &settings, includes)
                });
            (path.clone(), result)
        })
        .collect();
    let defined: HashSet<&str> = results
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok())
        .flat_map(|c| c.defined.iter().map(String::as_str))
        .collect();
    // name -> (call sites, files)
    let mut names: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut errors = String::new();
    let mut calling_files = 0;
    for (path, result) in &results {
        match result {
            Ok(calls) => {
                let mut any = false;
                for (name, &sites) in &calls.unknown {
                    if defined.contains(name.as_str()) {
                        continue;
                    }
                    let entry = names.entry(name).or_default();
                    entry.0 += sites;
                    entry.1 += 1;
                    any = true;
                }
                calling_files += usize::from(any);
            }
            Err(e) => {
                let _ = writeln!(errors, "error: {}: {e}", path.display());
            }
        }
    }
    let mut rows: Vec<(&str, usize, usize)> =
        names.into_iter().map(|(n, (s, f))| (n, s, f)).collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(b.2.cmp(&a.2)).then(a.0.cmp(b.0)));
    let sites: usize = rows.iter().map(|r| r.1).sum();
    let mut out = format!(
        "# {} API-style names without a contract, {sites} call sites, in {calling_files} of {} files\n",
        rows.len(),
        results.len()
    );
    out.push_str("sites\tfiles\tname\n");
    for (name, sites, files) in rows {
        let _ = writeln!(out, "{sites}\t{files}\t{name}");
    }
    out.push_str(&errors);
    out
}

/// Files as given; directories walked for `.c` files (honouring `.gitignore`, as `check`
/// does). Sorted, without duplicates.
fn collect(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let walker = WalkBuilder::new(path).require_git(false).build();
            for entry in walker.flatten() {
                let is_c = entry.path().extension().is_some_and(|e| e == "c");
                if is_c && entry.file_type().is_some_and(|t| !t.is_dir()) {
                    files.push(entry.into_path());
                }
            }
        } else {
            files.push(path.clone());
        }
    }
    files.sort();
    files.dedup();
    files
}
