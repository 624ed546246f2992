//! Runs the pipeline over one file.

use crate::registry::{Check, FileContext, FileFinding, RuleMeta};
use crate::rules::ENTRIES;
use cpycheck_contracts::annotation::Annotation;
use cpycheck_contracts::macros::lookup_macro;
use cpycheck_diagnostics::{Diagnostic, FileReport, Severity, TraceStep};
use cpycheck_engine::{EngineContext, Finding, FindingKind, ReturnSummary, analyze};
use cpycheck_ir::{
    Body, Callee, DefineText, LocalMacros, LowerContext, Rvalue, StatementKind, lower_function,
};
use cpycheck_source::LineIndex;
use cpycheck_syntax::{FileModel, RegistrationKind};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Settings that affect analysis results.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Target Python version for `#if PY_VERSION_HEX` and versioned contracts.
    pub python_version: (u8, u8),
    /// Contracts the user declared for functions by name (configuration file), in addition to
    /// the C-API table and to `/* cpycheck: ... */` comments in the sources.
    pub contracts: BTreeMap<String, Vec<Annotation>>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            python_version: (3, 13),
            contracts: BTreeMap::new(),
        }
    }
}

/// The skip reason of a function whose body contains parse error regions.
pub const SKIP_PARSE_ERRORS: &str = "parse error regions in the body";

/// Analyses one file's bytes. Bad input becomes `FileReport::error`, never a panic.
pub fn check_file(path: &str, bytes: &[u8], settings: &Settings) -> FileReport {
    let mut report = FileReport {
        path: path.to_string(),
        source: same_length_text(bytes),
        ..FileReport::default()
    };
    let (model, macros) = match front_end(bytes, settings) {
        Ok(parsed) => parsed,
        Err(e) => {
            report.error = Some(e.to_string());
            return report;
        }
    };
    // A header with no function bodies is just declarations we could not all read (C++,
    // platform SDK typedefs); any other file like that is not C at all.
    let is_header = [".h", ".hh", ".hpp"].iter().any(|ext| path.ends_with(ext));
    if model.functions.is_empty() && model.error_regions > 10 && !is_header {
        report.error = Some(format!(
            "does not look like C: no function definitions and {} parse errors",
            model.error_regions
        ));
        return report;
    }
    let cx = LowerContext {
        source: &report.source,
        object_types: &model.object_types,
        macros: &macros,
    };
    report.parse_error_regions = model.error_regions;
    report.functions_skipped = model.skipped_functions.len();
    for skipped in &model.skipped_functions {
        *report
            .skip_reasons
            .entry(skipped.reason.clone())
            .or_default() += 1;
    }
    let mut bodies = Vec::new();
    for f in &model.functions {
        if f.has_errors {
            report.functions_skipped += 1;
            *report
                .skip_reasons
                .entry(SKIP_PARSE_ERRORS.to_string())
                .or_default() += 1;
            continue;
        }
        bodies.push(lower_function(f, &cx));
    }
    let registered = registered_functions(&model);
    let mut summaries: HashMap<String, ReturnSummary> = HashMap::new();
    let mut findings = Vec::new();
    for i in callee_first_order(&bodies) {
        let body = &bodies[i];
        let lookup = |name: &str| summaries.get(name).copied();
        let ecx = EngineContext {
            registered: registered.contains(body.name.as_str()),
            python_version: settings.python_version,
            summary: &lookup,
        };
        let result = analyze(body, &ecx);
        report.functions_analyzed += 1;
        if result.incomplete {
            report.functions_incomplete += 1;
        }
        summaries.insert(body.name.clone(), result.returns);
        findings.extend(result.findings.into_iter().map(|f| (body.name.clone(), f)));
    }
    let index = LineIndex::new(&report.source);
    for (function, f) in findings {
        if let Some(d) = to_diagnostic(&index, &function, &f) {
            report.diagnostics.push(d);
        }
    }
    let fcx = FileContext {
        path,
        source: &report.source,
        model: &model,
        bodies: &bodies,
        python_version: settings.python_version,
    };
    let mut file_diagnostics = Vec::new();
    for rule in ENTRIES {
        if let Check::File(check) = rule.check {
            file_diagnostics.extend(
                check(&fcx)
                    .into_iter()
                    .map(|f| file_diagnostic(&rule.meta, f)),
            );
        }
    }
    report.diagnostics.extend(file_diagnostics);
    report.sort();
    report
}

/// The CFG of every function in the file, as text (`cpycheck debug dump-cfg`).
pub fn dump_cfg(bytes: &[u8], settings: &Settings) -> String {
    let (model, macros) = match front_end(bytes, settings) {
        Ok(parsed) => parsed,
        Err(e) => return format!("error: {e}\n"),
    };
    let source = same_length_text(bytes);
    let cx = LowerContext {
        source: &source,
        object_types: &model.object_types,
        macros: &macros,
    };
    let mut out = String::new();
    for f in &model.functions {
        if f.has_errors {
            out.push_str(&format!("fn {} (skipped: parse error regions)\n\n", f.name));
            continue;
        }
        out.push_str(&format!("{}\n", lower_function(f, &cx)));
    }
    out
}

/// Source prep, the syntax model and the file's own macros: what lowering needs.
fn front_end(
    bytes: &[u8],
    settings: &Settings,
) -> Result<(FileModel, LocalMacros), cpycheck_source::PrepError> {
    let opts = cpycheck_source::PrepOptions {
        python_version: settings.python_version,
    };
    let prepared = cpycheck_source::prepare(bytes, &opts)?;
    let model = cpycheck_syntax::parse(&prepared.text);
    let macros = LocalMacros::new(
        prepared.defines.iter().map(|d| DefineText {
            name: &d.name,
            params: d.params.as_deref(),
            body: &d.body,
        }),
        |name| lookup_macro(name).is_some() || cpycheck_contracts::lookup(name).is_some(),
    );
    Ok((model, macros))
}

/// The file's text with each invalid UTF-8 byte replaced by `?`, so offsets stay those of the
/// bytes on disk.
fn same_length_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => {
            let mut out = String::with_capacity(bytes.len());
            for chunk in bytes.utf8_chunks() {
                out.push_str(chunk.valid());
                out.extend(std::iter::repeat_n('?', chunk.invalid().len()));
            }
            out
        }
    }
}

fn registered_functions(model: &FileModel) -> HashSet<&str> {
    let mut set: HashSet<&str> = model
        .registrations
        .iter()
        .filter(|r| match &r.kind {
            RegistrationKind::Setter => false,
            // Destructors own (and free) `self`: their parameter is not a borrowed reference.
            RegistrationKind::Slot { slot } => !matches!(
                slot.as_str(),
                "tp_dealloc" | "tp_free" | "tp_finalize" | "tp_del"
            ),
            _ => true,
        })
        .map(|r| r.function.as_str())
        .collect();
    for f in &model.functions {
        if f.name.starts_with("PyInit_") {
            set.insert(&f.name);
        }
    }
    set
}

/// Orders functions so that callees come before their callers (post-order over the call
/// graph; recursion is cut where a cycle closes, and the callee then has no summary yet).
fn callee_first_order(bodies: &[Body]) -> Vec<usize> {
    let index: HashMap<&str, usize> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| (b.name.as_str(), i))
        .collect();
    let callees: Vec<Vec<usize>> = bodies
        .iter()
        .map(|b| {
            let mut out = Vec::new();
            for block in &b.blocks {
                for s in &block.stmts {
                    if let StatementKind::Assign {
                        value: Rvalue::Call(c),
                        ..
                    } = &s.kind
                        && let Callee::Named(n) = &c.callee
                        && let Some(&j) = index.get(n.as_str())
                    {
                        out.push(j);
                    }
                }
            }
            out
        })
        .collect();
    let mut state = vec![0u8; bodies.len()]; // 0 new, 1 on stack, 2 done
    let mut order = Vec::with_capacity(bodies.len());
    for root in 0..bodies.len() {
        if state[root] != 0 {
            continue;
        }
        // Iterative DFS: (node, next child index).
        let mut stack = vec![(root, 0usize)];
        state[root] = 1;
        while let Some(&mut (n, ref mut k)) = stack.last_mut() {
            if let Some(&c) = callees[n].get(*k) {
                *k += 1;
                if state[c] == 0 {
                    state[c] = 1;
                    stack.push((c, 0));
                }
            } else {
                state[n] = 2;
                order.push(n);
                stack.pop();
            }
        }
    }
    order
}

/// "also at lines 12, 40" for findings that happen at several places.
fn also_at_note(index: &LineIndex, f: &Finding) -> Vec<String> {
    if f.also_at.is_empty() {
        return Vec::new();
    }
    let mut lines: Vec<usize> = f
        .also_at
        .iter()
        .map(|s| index.line_col(s.start).0)
        .collect();
    lines.sort_unstable();
    lines.dedup();
    let list: Vec<String> = lines.iter().map(usize::to_string).collect();
    let what = if matches!(f.kind, FindingKind::Leak { .. }) {
        "also leaked"
    } else {
        "also"
    };
    vec![format!(
        "{what} at line{} {}",
        if lines.len() > 1 { "s" } else { "" },
        list.join(", ")
    )]
}

fn to_diagnostic(source: &LineIndex, function: &str, f: &Finding) -> Option<Diagnostic> {
    if let FindingKind::Reveal { state } = &f.kind {
        return Some(Diagnostic {
            code: "reveal",
            rule: "reveal",
            severity: Severity::Warning,
            message: format!("revealed: {state}"),
            span: f.span,
            function: Some(function.to_string()),
            labels: Vec::new(),
            help: None,
            notes: Vec::new(),
            trace: Vec::new(),
        });
    }
    ENTRIES.iter().find_map(|rule| {
        let Check::Finding(check) = rule.check else {
            return None;
        };
        let m = check(f)?;
        Some(Diagnostic {
            code: rule.meta.code,
            rule: rule.meta.name,
            severity: Severity::Warning,
            message: m.message,
            span: f.span,
            function: Some(function.to_string()),
            labels: m.labels,
            help: m.help,
            notes: also_at_note(source, f),
            trace: f
                .trace
                .iter()
                .map(|s| TraceStep {
                    span: s.span,
                    message: s.message.clone(),
                })
                .collect(),
        })
    })
}

fn file_diagnostic(meta: &RuleMeta, f: FileFinding) -> Diagnostic {
    Diagnostic {
        code: meta.code,
        rule: meta.name,
        severity: Severity::Warning,
        message: f.message.message,
        span: f.span,
        function: f.function,
        labels: f.message.labels,
        help: f.message.help,
        notes: f.notes,
        trace: f.trace,
    }
}
