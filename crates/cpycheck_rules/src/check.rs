//! Runs the pipeline over one file.

use crate::rules::ENTRIES;
use cpycheck_diagnostics::{Diagnostic, FileReport, Severity, TraceStep};
use cpycheck_engine::{EngineContext, Finding, FindingKind, ReturnSummary, analyze};
use cpycheck_ir::{Body, Callee, LowerContext, Rvalue, StatementKind, lower_function};
use cpycheck_syntax::{FileModel, RegistrationKind};
use std::collections::{HashMap, HashSet};

/// Settings that affect analysis results.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Target Python version for `#if PY_VERSION_HEX` and versioned contracts.
    pub python_version: (u8, u8),
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            python_version: (3, 13),
        }
    }
}

/// Analyses one file's bytes. Bad input becomes `FileReport::error`, never a panic.
pub fn check_file(path: &str, bytes: &[u8], settings: &Settings) -> FileReport {
    let mut report = FileReport {
        path: path.to_string(),
        source: same_length_text(bytes),
        ..FileReport::default()
    };
    let prepared = match shim::prepare(bytes) {
        Ok(p) => p,
        Err(e) => {
            report.error = Some(e.to_string());
            return report;
        }
    };
    let model = cpycheck_syntax::parse(&prepared.text);
    if model.functions.is_empty() && model.error_regions > 10 {
        report.error = Some(format!(
            "does not look like C: no function definitions and {} parse errors",
            model.error_regions
        ));
        return report;
    }
    let cx = LowerContext {
        source: &report.source,
        object_types: &model.object_types,
    };
    report.functions_skipped = model.skipped_functions.len();
    let mut bodies = Vec::new();
    for f in &model.functions {
        if f.has_errors {
            report.functions_skipped += 1;
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
    for (function, f) in findings {
        if let Some(d) = to_diagnostic(&function, &f) {
            report.diagnostics.push(d);
        }
    }
    report.sort();
    report
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
        .filter(|r| !matches!(r.kind, RegistrationKind::Setter))
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

fn to_diagnostic(function: &str, f: &Finding) -> Option<Diagnostic> {
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
        let m = (rule.check)(f)?;
        Some(Diagnostic {
            code: rule.meta.code,
            rule: rule.meta.name,
            severity: Severity::Warning,
            message: m.message,
            span: f.span,
            function: Some(function.to_string()),
            labels: m.labels,
            help: m.help,
            notes: Vec::new(),
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

// TEMPORARY until source prep lands.
mod shim {
    pub struct Prepared {
        pub text: String,
    }
    pub fn prepare(bytes: &[u8]) -> Result<Prepared, String> {
        let text = super::same_length_text(bytes);
        let mut out = String::new();
        for line in text.split_inclusive('\n') {
            if line.trim_start().starts_with('#') {
                out.extend(line.chars().map(|c| if c == '\n' { '\n' } else { ' ' }));
            } else {
                out.push_str(line);
            }
        }
        Ok(Prepared { text: out })
    }
}
