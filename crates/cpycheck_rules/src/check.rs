//! Runs the pipeline over one file.

use crate::registry::{Check, CythonContext, FileContext, FileFinding, RuleMeta};
use crate::rules::ENTRIES;
use cpycheck_contracts::annotation::Annotation;
use cpycheck_contracts::macros::lookup_macro;
use cpycheck_diagnostics::{Diagnostic, FileReport, Severity, SkippedEntry, TraceStep};
use cpycheck_engine::{
    EngineContext, Finding, FindingKind, ParamSummary, ReturnSummary, Summary, SummarySource,
    analyze,
};
use cpycheck_ir::{
    Body, Callee, DefineText, LocalKind, LocalMacros, LowerContext, OPAQUE_CALLEE, Rvalue,
    StatementKind, UndefText, lower_function,
};
use cpycheck_source::{Includes, LineIndex, NoIncludes};
use cpycheck_syntax::{FileModel, RegistrationKind};
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

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

/// Contracts of functions defined in the other files of a run, by name: what makes helper
/// summaries work across files.
#[derive(Clone, Debug, Default)]
pub struct ExternalSummaries {
    summaries: HashMap<String, Summary>,
}

impl ExternalSummaries {
    /// Collects the exported functions of every file. A name defined with different
    /// contracts in several files (platform variants of one helper) is left out.
    pub fn from_exports<'a>(exports: impl IntoIterator<Item = &'a FileExports>) -> Self {
        let mut summaries: HashMap<String, Summary> = HashMap::new();
        let mut conflicting: HashSet<String> = HashSet::new();
        for e in exports {
            for (name, summary) in &e.summaries {
                match summaries.get(name) {
                    Some(existing) if existing != summary => {
                        conflicting.insert(name.clone());
                    }
                    Some(_) => {}
                    None => {
                        summaries.insert(name.clone(), summary.clone());
                    }
                }
            }
        }
        for name in conflicting {
            summaries.remove(&name);
        }
        ExternalSummaries { summaries }
    }

    pub fn is_empty(&self) -> bool {
        self.summaries.is_empty()
    }

    /// Whether any of `calls` has a contract here: the file would learn something from a
    /// second analysis.
    pub fn knows_any(&self, calls: &[String]) -> bool {
        calls.iter().any(|c| self.summaries.contains_key(c))
    }
}

/// What a file offers to, and needs from, the other files of the run.
#[derive(Debug, Default)]
pub struct FileExports {
    /// Contracts of the file's non-`static` functions.
    pub summaries: Vec<(String, Summary)>,
    /// Functions the file calls that it neither defines nor finds in the API contracts.
    pub unresolved_calls: Vec<String>,
    /// What a second analysis needs, kept when the file calls unresolved functions.
    second_pass: Option<Box<SecondPass>>,
}

/// A file's lowered functions and what the engine found in each: [`recheck_file`] analyses
/// again only the functions that other files' summaries can change, without reading or
/// parsing the file again.
#[derive(Debug)]
struct SecondPass {
    /// The bodies whose analysis may read another file's summary; the others, which keep
    /// their outcome, are reduced to their name (memory). `None` when the caller chose
    /// to free them ([`FileExports::forget_bodies`]): the file is then parsed again.
    bodies: Option<Vec<Body>>,
    /// The callee-first order of the first analysis.
    order: Vec<usize>,
    input: EngineInput,
    /// One per body.
    outcomes: Vec<FunctionOutcome>,
    /// The diagnostics of the file rules, which do not depend on summaries.
    file_diagnostics: Vec<Diagnostic>,
}

/// What analysing one function gave.
#[derive(Clone, Debug)]
struct FunctionOutcome {
    findings: Vec<Finding>,
    /// The contract callers see: declared, else inferred.
    summary: Summary,
    incomplete: bool,
}
/// The skip reason of a function whose body contains parse error regions.
pub const SKIP_PARSE_ERRORS: &str = "parse error regions in the body";

/// The skip reason of a function with a statement or expression nested deeper than the
/// syntax model's cap ([`cpycheck_syntax::MAX_NESTING_DEPTH`], e.g. a long generated
/// `else if` chain).
pub const SKIP_TOO_DEEP: &str = "nested more than 256 levels deep";

/// The limit a function hits (counted per function) when the file's own macros nest deeper than the IR expands
/// them ([`cpycheck_ir::MAX_EXPANSION_DEPTH`]); the innermost use is an unknown call.
pub const LIMIT_MACRO_DEPTH: &str = "macros nested more than 16 deep, not expanded";

/// Whether a function is left unanalysed: parse errors that are not confined to single
/// statements, or an opaque statement that uses a macro holding control flow.
pub(crate) fn is_skipped(
    f: &cpycheck_syntax::Function,
    macros: &LocalMacros,
    source: &str,
) -> bool {
    f.has_errors || macros.opaque_hides_control_flow(f, source)
}

/// Analyses one file's bytes. Bad input becomes `FileReport::error`, never a panic.
pub fn check_file(path: &str, bytes: &[u8], settings: &Settings) -> FileReport {
    check_file_with(
        path,
        bytes,
        settings,
        &ExternalSummaries::default(),
        &NoIncludes,
    )
    .0
}

/// [`check_file`], with the contracts of other files' functions, the package headers the
/// file includes (their macros join the file's; `includes` finds them), and what this file
/// exports to the others. A run analyses every file once without external summaries, then
/// again, with the summaries of all files, the files that call functions defined elsewhere.
pub fn check_file_with(
    path: &str,
    bytes: &[u8],
    settings: &Settings,
    external: &ExternalSummaries,
    includes: &dyn Includes,
) -> (FileReport, FileExports) {
    let mut exports = FileExports::default();
    let bytes = cpycheck_source::lone_cr_as_lf(bytes);
    let report = check_file_inner(path, &bytes, settings, external, includes, &mut exports);
    (report, exports)
}

impl FileExports {
    /// About how many bytes of memory the lowered functions kept for the second analysis
    /// take (0 when none are kept).
    pub fn kept_bytes(&self) -> usize {
        let Some(bodies) = self.second_pass.as_ref().and_then(|k| k.bodies.as_ref()) else {
            return 0;
        };
        bodies
            .iter()
            .map(|b| {
                let stmts: usize = b.blocks.iter().map(|bb| bb.stmts.len()).sum();
                std::mem::size_of::<Body>()
                    + b.locals.len() * (std::mem::size_of::<cpycheck_ir::Local>() + 16)
                    + b.blocks.len() * std::mem::size_of::<cpycheck_ir::BasicBlock>()
                    // A statement's places and names are small allocations of their own.
                    + stmts * (std::mem::size_of::<cpycheck_ir::Statement>() + 48)
            })
            .sum()
    }

    /// Frees the lowered functions kept for the second analysis: [`recheck_file`] then
    /// needs the file's bytes again, and parses them again.
    pub fn forget_bodies(&mut self) {
        if let Some(k) = &mut self.second_pass {
            k.bodies = None;
        }
    }

    /// Whether [`recheck_file`] needs the file's bytes.
    pub fn recheck_needs_bytes(&self) -> bool {
        self.second_pass
            .as_ref()
            .is_some_and(|k| k.bodies.is_none())
    }
}

/// The second analysis of a file, with the contracts of other files' functions: the report
/// [`check_file_with`] gives with `external`, computed from the report and the exports of
/// the file's first analysis (without `external`, same settings). Only the functions that
/// call one of `external`'s functions, directly or through other functions of the file, are
/// analysed again; the others keep their first results, which `external` cannot change.
///
/// `bytes` are the file's bytes, needed only when [`FileExports::recheck_needs_bytes`].
pub fn recheck_file(
    first: FileReport,
    exports: FileExports,
    bytes: Option<&[u8]>,
    settings: &Settings,
    external: &ExternalSummaries,
    includes: &dyn Includes,
) -> FileReport {
    let Some(kept) = exports.second_pass else {
        return first;
    };
    let SecondPass {
        bodies,
        order,
        input,
        outcomes,
        file_diagnostics,
    } = *kept;
    let bodies = match bodies {
        Some(bodies) => bodies,
        None => match bytes.map(|b| lowered_bodies(b, &first.source, settings, includes)) {
            Some(Ok(bodies)) if bodies.len() == outcomes.len() => bodies,
            _ => return first,
        },
    };
    let run = run_engine(&bodies, &input, settings, external, Some((order, outcomes)));
    let mut report = first;
    report.functions_incomplete = run.incomplete;
    report.diagnostics = engine_diagnostics(&report.source, &bodies, &run);
    report.diagnostics.extend(file_diagnostics);
    report.sort();
    report
}

/// The engine's findings as diagnostics, callees first.
fn engine_diagnostics(source: &str, bodies: &[Body], run: &EngineRun) -> Vec<Diagnostic> {
    if run.outcomes.iter().all(|o| o.findings.is_empty()) {
        return Vec::new();
    }
    let index = LineIndex::new(source);
    let mut out = Vec::new();
    for &i in &run.order {
        for f in &run.outcomes[i].findings {
            if let Some(d) = to_diagnostic(&index, &bodies[i].name, f) {
                out.push(d);
            }
        }
    }
    out
}

fn check_file_inner(
    path: &str,
    bytes: &[u8],
    settings: &Settings,
    external: &ExternalSummaries,
    includes: &dyn Includes,
    exports: &mut FileExports,
) -> FileReport {
    if cpycheck_cython::is_cython_path(path) {
        return check_cython_module(path, bytes, None);
    }
    let mut report = FileReport {
        path: path.to_string(),
        source: same_length_text(bytes),
        ..FileReport::default()
    };
    let (model, macros) = match front_end(bytes, settings, includes) {
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
        report.skipped.push(SkippedEntry {
            span: skipped.span,
            name: skipped.name.clone(),
            reason: skipped.reason.clone(),
        });
    }
    // Lowering is per function: in parallel, kept in file order.
    let lowered: Vec<Option<Body>> = model
        .functions
        .par_iter()
        .map(|f| (!is_skipped(f, &macros, &report.source)).then(|| lower_function(f, &cx)))
        .collect();
    let mut bodies = Vec::new();
    for (f, body) in model.functions.iter().zip(lowered) {
        let Some(body) = body else {
            report.functions_skipped += 1;
            let reason = if f.too_deep {
                SKIP_TOO_DEEP
            } else {
                SKIP_PARSE_ERRORS
            };
            *report.skip_reasons.entry(reason.to_string()).or_default() += 1;
            report.skipped.push(SkippedEntry {
                span: f.span,
                name: Some(f.name.clone()),
                reason: reason.to_string(),
            });
            continue;
        };
        if body.macro_depth_exceeded {
            *report
                .limits
                .entry(LIMIT_MACRO_DEPTH.to_string())
                .or_default() += 1;
        }
        if f.opaque_regions > 0 {
            report.functions_opaque += 1;
        }
        bodies.push(body);
    }
    let input = EngineInput::new(&report.source, &model, &bodies, settings);
    let fcx = FileContext::new(
        path,
        &report.source,
        &model,
        &bodies,
        settings.python_version,
    );
    // The file rules read the model and the lowered functions, not the engine's results:
    // they run while the engine does, on the threads its dependencies leave idle.
    let (run, file_diagnostics) = rayon::join(
        || run_engine(&bodies, &input, settings, external, None),
        || file_rules(&fcx),
    );
    for f in &model.functions {
        // Only contracts that tell a caller something: the others would make callers be
        // analysed again for nothing.
        if !f.is_static
            && let Some(s) = run.summaries.get(&f.name)
            && s.is_informative()
        {
            exports.summaries.push((f.name.clone(), s.clone()));
        }
    }
    exports.unresolved_calls = unresolved_calls(&bodies, &run.summaries);
    report.functions_analyzed += bodies.len();
    report.functions_incomplete += run.incomplete;
    if input.contract_error.is_some() {
        report.error.clone_from(&input.contract_error);
    }
    report.diagnostics = engine_diagnostics(&report.source, &bodies, &run);
    if !exports.unresolved_calls.is_empty() {
        let may_change = may_read_other_files(&bodies, &run.order, &input, settings);
        let bodies = bodies
            .into_iter()
            .zip(may_change)
            .map(|(body, keep)| if keep { body } else { name_only(body) })
            .collect();
        exports.second_pass = Some(Box::new(SecondPass {
            bodies: Some(bodies),
            order: run.order,
            input,
            outcomes: run.outcomes,
            file_diagnostics: file_diagnostics.clone(),
        }));
    }
    report.diagnostics.extend(file_diagnostics);
    report.sort();
    report
}

/// The findings of the file rules, in rule order (the rules run in parallel).
fn file_rules(fcx: &FileContext<'_>) -> Vec<Diagnostic> {
    let found: Vec<Vec<Diagnostic>> = ENTRIES
        .par_iter()
        .map(|rule| match rule.check {
            Check::File(check) => check(fcx)
                .into_iter()
                .map(|f| file_diagnostic(&rule.meta, f))
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    found.into_iter().flatten().collect()
}

/// Analyses a Cython module (`.pyx`) together with its companion `.pxd` (the declarations
/// Cython reads with it: class attributes, base classes, extern functions), given as bytes.
/// A companion that is not text is ignored.
pub fn check_cython_module(path: &str, bytes: &[u8], companion: Option<&[u8]>) -> FileReport {
    let bytes = &*cpycheck_source::lone_cr_as_lf(bytes);
    let companion = companion.map(cpycheck_source::lone_cr_as_lf);
    let companion = companion.as_deref();
    let mut report = FileReport {
        path: path.to_string(),
        source: same_length_text(bytes),
        ..FileReport::default()
    };
    check_cython(path, bytes, companion, &mut report);
    report.sort();
    report
}

/// The lowered functions of a file, as [`check_file_with`] lowers them.
fn lowered_bodies(
    bytes: &[u8],
    source: &str,
    settings: &Settings,
    includes: &dyn Includes,
) -> Result<Vec<Body>, cpycheck_source::PrepError> {
    let (model, macros) = front_end(bytes, settings, includes)?;
    let cx = LowerContext {
        source,
        object_types: &model.object_types,
        macros: &macros,
    };
    let lowered: Vec<Option<Body>> = model
        .functions
        .par_iter()
        .map(|f| (!is_skipped(f, &macros, source)).then(|| lower_function(f, &cx)))
        .collect();
    Ok(lowered.into_iter().flatten().collect())
}

/// Per body: whether its analysis may read a summary from another file, directly (a call
/// to a name that is neither an API, nor declared, nor a function of the file analysed
/// before it) or through a function of the file whose own may.
fn may_read_other_files(
    bodies: &[Body],
    order: &[usize],
    input: &EngineInput,
    settings: &Settings,
) -> Vec<bool> {
    let index = CalleeIndex::new(bodies, order);
    let mut out = vec![false; bodies.len()];
    for &i in order {
        out[i] = called_names(&bodies[i]).any(|name| {
            if is_api(name, settings) || input.declared.contains_key(name) {
                return false;
            }
            match index.seen_from(name, i) {
                Some(j) => out[j],
                None => true,
            }
        });
    }
    out
}

/// Which function of the file a call by name sees: the one of that name analysed last
/// before the caller in callee-first order (a file may define a name twice under `#if`).
struct CalleeIndex<'b> {
    /// Per body: its position in the order.
    pos: Vec<usize>,
    /// Bodies by name, in the order.
    by_name: HashMap<&'b str, Vec<usize>>,
}

impl<'b> CalleeIndex<'b> {
    fn new(bodies: &'b [Body], order: &[usize]) -> CalleeIndex<'b> {
        let mut pos = vec![0; bodies.len()];
        for (k, &i) in order.iter().enumerate() {
            pos[i] = k;
        }
        let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
        for &i in order {
            by_name.entry(bodies[i].name.as_str()).or_default().push(i);
        }
        CalleeIndex { pos, by_name }
    }

    /// The body a call to `name` from body `caller` sees, if the file defines one before it.
    fn seen_from(&self, name: &str, caller: usize) -> Option<usize> {
        self.by_name
            .get(name)?
            .iter()
            .rev()
            .find(|&&j| self.pos[j] < self.pos[caller])
            .copied()
    }
}

/// Calls to `name` follow its API contract (the engine looks no further).
fn is_api(name: &str, settings: &Settings) -> bool {
    cpycheck_contracts::lookup(name)
        .is_some_and(|c| c.since.is_none_or(|v| v <= settings.python_version))
}

/// A body reduced to its name: what a function that is not analysed again needs.
fn name_only(body: Body) -> Body {
    Body {
        locals: Vec::new(),
        params: Vec::new(),
        blocks: Vec::new(),
        ..body
    }
}

/// The Cython pipeline: the Cython front end, then the Cython rules.
fn check_cython(path: &str, bytes: &[u8], companion: Option<&[u8]>, report: &mut FileReport) {
    if let Some(offset) = bytes.iter().position(|&b| b == 0) {
        report.error = Some(format!(
            "not a text file (NUL byte at offset {offset}), skipped"
        ));
        return;
    }
    let mut file = cpycheck_cython::parse(&report.source);
    if let Some(pxd) = companion.filter(|b| !b.contains(&0)) {
        file.add_companion(&cpycheck_cython::parse(&same_length_text(pxd)));
    }
    report.functions_analyzed =
        file.functions.len() + file.classes.iter().map(|c| c.methods.len()).sum::<usize>();
    // Constructs the reader skipped: each may hide a function or a declaration.
    report.functions_skipped = file.skipped.len();
    let cx = CythonContext {
        path,
        source: &report.source,
        file: &file,
    };
    let mut diagnostics = Vec::new();
    for rule in ENTRIES {
        if let Check::Cython(check) = rule.check {
            diagnostics.extend(
                check(&cx)
                    .into_iter()
                    .map(|f| file_diagnostic(&rule.meta, f)),
            );
        }
    }
    report.diagnostics.extend(diagnostics);
}

/// The CFG of every function in the file, as text (`cpycheck debug dump-cfg`).
pub fn dump_cfg(bytes: &[u8], settings: &Settings, includes: &dyn Includes) -> String {
    let bytes = &*cpycheck_source::lone_cr_as_lf(bytes);
    let (model, macros) = match front_end(bytes, settings, includes) {
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
        if is_skipped(f, &macros, &source) {
            out.push_str(&format!("fn {} (skipped: parse error regions)\n\n", f.name));
            continue;
        }
        out.push_str(&format!("{}\n", lower_function(f, &cx)));
    }
    out
}

/// The contract inferred (or declared) for every function of the file, as text (`cpycheck
/// debug dump-summaries`).
pub fn dump_summaries(bytes: &[u8], settings: &Settings, includes: &dyn Includes) -> String {
    let bytes = &*cpycheck_source::lone_cr_as_lf(bytes);
    let (model, macros) = match front_end(bytes, settings, includes) {
        Ok(parsed) => parsed,
        Err(e) => return format!("error: {e}\n"),
    };
    let source = same_length_text(bytes);
    let cx = LowerContext {
        source: &source,
        object_types: &model.object_types,
        macros: &macros,
    };
    let bodies: Vec<Body> = model
        .functions
        .iter()
        .filter(|f| !is_skipped(f, &macros, &source))
        .map(|f| lower_function(f, &cx))
        .collect();
    let input = EngineInput::new(&source, &model, &bodies, settings);
    let run = run_engine(
        &bodies,
        &input,
        settings,
        &ExternalSummaries::default(),
        None,
    );
    let mut out = String::new();
    if let Some(e) = &input.contract_error {
        out.push_str(&format!("error: {e}\n"));
    }
    for b in &bodies {
        let Some(s) = run.summaries.get(&b.name) else {
            continue;
        };
        let params: Vec<String> = b
            .params
            .iter()
            .zip(&s.params)
            .map(|(&p, effect)| format!("{}: {effect:?}", b.local(p).name))
            .collect();
        out.push_str(&format!(
            "{}: returns {:?}, params [{}], runs_python {} ({:?})\n",
            b.name,
            s.returns,
            params.join(", "),
            s.runs_python,
            s.source
        ));
    }
    out
}

/// What running the ownership engine over a file's functions gives.
struct EngineRun {
    /// One per body, in the order of `bodies`.
    outcomes: Vec<FunctionOutcome>,
    /// Callees first: the order in which findings are reported.
    order: Vec<usize>,
    /// Every function's contract: declared, else inferred.
    summaries: HashMap<String, Summary>,
    incomplete: usize,
}

/// What the engine needs to know of a file besides its functions' bodies.
#[derive(Debug)]
struct EngineInput {
    /// Functions registered with Python (their object parameters are borrowed).
    registered: HashSet<String>,
    /// `tp_iternext` slots: NULL alone is a valid result.
    quiet_null: HashSet<String>,
    /// Contracts the user declared (comments, configuration).
    declared: HashMap<String, Summary>,
    /// Destructor slots, whose contract is fixed.
    destructor_contracts: HashMap<String, Summary>,
    /// A declared contract that could not be read (then none is used).
    contract_error: Option<String>,
}

impl EngineInput {
    fn new(source: &str, model: &FileModel, bodies: &[Body], settings: &Settings) -> Self {
        let (declared, contract_error) = match declared_contracts(source, bodies, settings) {
            Ok(declared) => (declared, None),
            Err(e) => (HashMap::new(), Some(e)),
        };
        let quiet_null = model
            .registrations
            .iter()
            .filter(|r| {
                matches!(&r.kind, RegistrationKind::Slot { slot }
                    if slot.trim_start_matches("Py_") == "tp_iternext")
            })
            .map(|r| r.function.clone())
            .collect();
        let destructor_contracts = destructors(model)
            .into_iter()
            .filter_map(|name| {
                let body = bodies.iter().find(|b| b.name == name)?;
                let mut fixed = Summary::unknown(body.params.len());
                fixed.source = cpycheck_engine::SummarySource::Declared;
                Some((name.to_string(), fixed))
            })
            .collect();
        EngineInput {
            registered: registered_functions(model)
                .into_iter()
                .map(str::to_string)
                .collect(),
            quiet_null,
            declared,
            destructor_contracts,
            contract_error,
        }
    }
}

/// Analyses every function, callees first so that callers see their summaries. Functions
/// whose callees are done are analysed in parallel; each sees exactly the summaries it would
/// see analysed one at a time in callee-first order, so the results do not depend on the
/// number of threads. With `previous` (the outcomes of a first analysis without `external`),
/// only the functions that can see one of `external`'s summaries are analysed again.
fn run_engine(
    bodies: &[Body],
    input: &EngineInput,
    settings: &Settings,
    external: &ExternalSummaries,
    previous: Option<(Vec<usize>, Vec<FunctionOutcome>)>,
) -> EngineRun {
    let declared = &input.declared;
    let (order, previous) = match previous {
        Some((order, outcomes)) => (order, Some(outcomes)),
        None => (callee_first_order(bodies), None),
    };
    let disagreeing = disagreeing_externals(bodies, external);
    let plan = Plan::new(bodies, &order, declared, external, settings);
    let mut previous = previous.filter(|p| p.len() == bodies.len());
    let results: Vec<OnceLock<FunctionOutcome>> = bodies.iter().map(|_| OnceLock::new()).collect();
    if let Some(prev) = &mut previous {
        for (i, outcome) in prev.iter_mut().enumerate() {
            if !plan.changed[i] {
                let _ = results[i].set(FunctionOutcome {
                    findings: std::mem::take(&mut outcome.findings),
                    summary: outcome.summary.clone(),
                    incomplete: outcome.incomplete,
                });
            }
        }
    }
    let jobs = Jobs {
        bodies,
        settings,
        external,
        disagreeing: &disagreeing,
        input,
        local_callees: &plan.local_callees,
        results: &results,
        waiting: plan
            .local_callees
            .iter()
            .map(|callees| {
                let pending = callees.iter().filter(|&&(_, j)| results[j].get().is_none());
                AtomicUsize::new(pending.count())
            })
            .collect(),
        dependents: &plan.dependents,
    };
    rayon::scope(|scope| {
        for &i in &order {
            if results[i].get().is_none() && jobs.waiting[i].load(Ordering::Acquire) == 0 {
                let jobs = &jobs;
                scope.spawn(move |scope| jobs.run(i, scope));
            }
        }
    });
    let outcomes: Vec<FunctionOutcome> = results
        .into_iter()
        .map(|r| r.into_inner().expect("every function is analysed"))
        .collect();
    let mut summaries: HashMap<String, Summary> = HashMap::new();
    let mut incomplete = 0;
    for &i in &order {
        if outcomes[i].incomplete {
            incomplete += 1;
        }
        summaries.insert(bodies[i].name.clone(), outcomes[i].summary.clone());
    }
    EngineRun {
        outcomes,
        order,
        summaries,
        incomplete,
    }
}

/// Which summaries each function's analysis reads, so that it can run as soon as they are
/// known.
struct Plan<'b> {
    /// Per body: the functions of the file whose summaries its calls see, by callee name
    /// (the one analysed last before it in callee-first order; a name with no declared
    /// contract and no such function is looked up in `external`).
    local_callees: Vec<Vec<(&'b str, usize)>>,
    /// Per body: the bodies whose `local_callees` name it.
    dependents: Vec<Vec<usize>>,
    /// Per body: its analysis may see a summary from `external`, directly or through the
    /// summary of a function of the file.
    changed: Vec<bool>,
}

impl<'b> Plan<'b> {
    fn new(
        bodies: &'b [Body],
        order: &[usize],
        declared: &HashMap<String, Summary>,
        external: &ExternalSummaries,
        settings: &Settings,
    ) -> Plan<'b> {
        let index = CalleeIndex::new(bodies, order);
        let mut local_callees = Vec::with_capacity(bodies.len());
        let mut reads_external = vec![false; bodies.len()];
        for (i, body) in bodies.iter().enumerate() {
            let mut names: Vec<&str> = called_names(body).collect();
            names.sort_unstable();
            names.dedup();
            let mut callees = Vec::new();
            for name in names {
                if declared.contains_key(name) {
                    continue;
                }
                match index.seen_from(name, i) {
                    Some(j) => callees.push((name, j)),
                    None => {
                        reads_external[i] |=
                            external.summaries.contains_key(name) && !is_api(name, settings);
                    }
                }
            }
            local_callees.push(callees);
        }
        let mut dependents = vec![Vec::new(); bodies.len()];
        for (i, callees) in local_callees.iter().enumerate() {
            for &(_, j) in callees {
                dependents[j].push(i);
            }
        }
        // Callees come first in `order`, so one pass propagates the change to callers.
        let mut changed = reads_external;
        for &i in order {
            if !changed[i] {
                changed[i] = local_callees[i].iter().any(|&(_, j)| changed[j]);
            }
        }
        Plan {
            local_callees,
            dependents,
            changed,
        }
    }
}

/// What the analysis of each function needs, shared by the threads.
struct Jobs<'r, 'b> {
    bodies: &'b [Body],
    settings: &'r Settings,
    external: &'r ExternalSummaries,
    /// Names in `external` whose definition does not fit this file's calls.
    disagreeing: &'r HashSet<&'b str>,
    input: &'r EngineInput,
    local_callees: &'r [Vec<(&'b str, usize)>],
    results: &'r [OnceLock<FunctionOutcome>],
    /// Per body: how many of its `local_callees` are not analysed yet.
    waiting: Vec<AtomicUsize>,
    dependents: &'r [Vec<usize>],
}

impl<'r> Jobs<'r, '_> {
    /// Analyses body `i`, then starts the callers that were waiting only for it.
    fn run<'s>(&'s self, i: usize, scope: &rayon::Scope<'s>) {
        let outcome = self.analyse(i);
        let _ = self.results[i].set(outcome);
        for &d in &self.dependents[i] {
            if self.waiting[d].fetch_sub(1, Ordering::AcqRel) == 1 {
                scope.spawn(move |scope| self.run(d, scope));
            }
        }
    }

    fn analyse(&self, i: usize) -> FunctionOutcome {
        let body = &self.bodies[i];
        let callees = &self.local_callees[i];
        let declared = &self.input.declared;
        let lookup = |name: &str| {
            declared
                .get(name)
                .or_else(|| {
                    callees
                        .iter()
                        .find(|&&(n, _)| n == name)
                        .and_then(|&(_, j)| self.results[j].get())
                        .map(|o| &o.summary)
                })
                .or_else(|| {
                    self.external
                        .summaries
                        .get(name)
                        .filter(|_| !self.disagreeing.contains(name))
                })
                .or_else(|| accessor_default(name))
        };
        let ecx = EngineContext {
            registered: self.input.registered.contains(&body.name),
            null_is_quiet: self.input.quiet_null.contains(&body.name),
            python_version: self.settings.python_version,
            summary: &lookup,
            declared: declared
                .get(&body.name)
                .or_else(|| self.input.destructor_contracts.get(&body.name)),
        };
        let result = analyze(body, &ecx);
        FunctionOutcome {
            findings: result.findings,
            summary: declared.get(&body.name).cloned().unwrap_or(result.summary),
            incomplete: result.incomplete,
        }
    }
}

/// The contract of a callee nothing else knows whose API-style name reads like an accessor
/// (`PyArray_NDIM`, `PyFoo_Check`, `PyFoo_GET_SIZE`: see
/// `cpycheck_contracts::naming::reads_as_accessor`): it borrows its arguments and runs no
/// Python code; what it returns stays unknown. Other unknown callees keep the conservative
/// policy (they may steal or store what they are given).
fn accessor_default(name: &str) -> Option<&'static Summary> {
    /// More arguments than any accessor macro takes; later ones stay unknown.
    const PARAMS: usize = 16;
    static ACCESSOR: std::sync::LazyLock<Summary> = std::sync::LazyLock::new(|| Summary {
        returns: ReturnSummary::Unknown,
        params: vec![ParamSummary::Borrow; PARAMS],
        runs_python: false,
        error_sets_exception: None,
        mutates: vec![false; PARAMS],
        source: SummarySource::Inferred,
        noreturn: false,
    });
    cpycheck_contracts::naming::reads_as_accessor(name).then(|| &*ACCESSOR)
}

/// The names of the functions `body` calls directly.
fn called_names(body: &Body) -> impl Iterator<Item = &str> {
    body.blocks
        .iter()
        .flat_map(|block| &block.stmts)
        .filter_map(|s| match &s.kind {
            StatementKind::Assign {
                value: Rvalue::Call(c),
                ..
            } => match &c.callee {
                Callee::Named(n) => Some(n.as_str()),
                _ => None,
            },
            _ => None,
        })
}

/// Source prep, the syntax model and the file's own macros (with those of the package
/// headers it includes): what lowering needs.
pub(crate) fn front_end(
    bytes: &[u8],
    settings: &Settings,
    includes: &dyn Includes,
) -> Result<(FileModel, LocalMacros), cpycheck_source::PrepError> {
    let opts = cpycheck_source::PrepOptions {
        python_version: settings.python_version,
    };
    let prepared = cpycheck_source::prepare_with(bytes, &opts, includes)?;
    // Which header macros the file can reach needs only the prepared text: found while the
    // text is parsed.
    let (model, used) = rayon::join(
        || cpycheck_syntax::parse(&prepared.text),
        || used_header_macros(&prepared),
    );
    // The file's enum constants expand to their values, as a `#define` of the same name
    // would (a real `#define` of that name wins). Headers bring thousands of defines and
    // a file few enum constants: look the defines up among the constants.
    let mut defined: HashSet<&str> = HashSet::new();
    if !model.enum_constants.is_empty() {
        let constants: HashSet<&str> = model
            .enum_constants
            .iter()
            .map(|(name, _)| name.as_str())
            .collect();
        defined.extend(
            prepared
                .defines
                .iter()
                .map(|d| d.name.as_str())
                .filter(|name| constants.contains(name)),
        );
    }
    let enum_values: Vec<(&str, String)> = model
        .enum_constants
        .iter()
        .filter(|(name, _)| !defined.contains(name.as_str()))
        .map(|(name, v)| (name.as_str(), v.to_string()))
        .collect();
    let macros = LocalMacros::new(
        prepared
            .defines
            .iter()
            .filter(|d| d.header.is_none() || used.contains(d.name.as_str()))
            .map(|d| DefineText {
                name: &d.name,
                params: d.params.as_deref(),
                body: &d.body,
                at: d.span.start as usize,
            })
            .chain(enum_values.iter().map(|(name, v)| DefineText {
                name,
                params: None,
                body: v,
                at: 0,
            })),
        {
            // Positions among the defines kept above.
            let mut kept = Vec::with_capacity(prepared.defines.len() + 1);
            let mut n = 0;
            kept.push(0);
            for d in &prepared.defines {
                if d.header.is_none() || used.contains(d.name.as_str()) {
                    n += 1;
                }
                kept.push(n);
            }
            prepared
                .undefs
                .iter()
                .map(|u| UndefText {
                    name: &u.name,
                    at: u.span.start as usize,
                    after: kept[u.after],
                })
                .collect::<Vec<_>>()
        },
        |name| lookup_macro(name).is_some() || cpycheck_contracts::lookup(name).is_some(),
    );
    Ok((model, macros))
}

/// The names of header macros the file can reach: those its text and its own macros use,
/// and those their bodies use, transitively. A package header may define thousands of macros; only these
/// are worth parsing.
fn used_header_macros(prepared: &cpycheck_source::Prepared) -> HashSet<&str> {
    let mut bodies: HashMap<&str, Vec<&str>> = HashMap::new();
    for d in prepared.defines.iter().filter(|d| d.header.is_some()) {
        bodies.entry(d.name.as_str()).or_default().push(&d.body);
    }
    let mut used = HashSet::new();
    if bodies.is_empty() {
        return used;
    }
    let own_bodies = prepared.defines.iter().filter(|d| d.header.is_none());
    let mut work: Vec<&str> = identifiers(&prepared.text)
        .chain(own_bodies.flat_map(|d| identifiers(&d.body)))
        .filter(|w| bodies.contains_key(w))
        .collect();
    while let Some(name) = work.pop() {
        if !used.insert(name) {
            continue;
        }
        for body in bodies.get(name).into_iter().flatten() {
            work.extend(identifiers(body).filter(|w| bodies.contains_key(w) && !used.contains(w)));
        }
    }
    used
}

/// The identifier-like words of `text` (also inside literals and comments: an
/// over-approximation is harmless here).
fn identifiers(text: &str) -> impl Iterator<Item = &str> {
    let b = text.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut i = 0;
    std::iter::from_fn(move || {
        loop {
            while i < b.len() && !word(b[i]) {
                i += 1;
            }
            if i >= b.len() {
                return None;
            }
            let start = i;
            while i < b.len() && word(b[i]) {
                i += 1;
            }
            // ASCII bytes only: `start..i` are character boundaries.
            if !b[start].is_ascii_digit() {
                return Some(&text[start..i]);
            }
        }
    })
}

/// The file's text with each invalid UTF-8 byte replaced by `?`, so offsets stay those of the
/// bytes on disk.
pub(crate) fn same_length_text(bytes: &[u8]) -> String {
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

/// The contracts the user declared: `cpycheck:` comments in the file, then the configuration
/// file's `contracts` (a comment wins). Errors name the contract that cannot be read.
fn declared_contracts(
    source: &str,
    bodies: &[Body],
    settings: &Settings,
) -> Result<HashMap<String, Summary>, String> {
    let index = LineIndex::new(source);
    let (found, errors) = crate::annotations::source_contracts(source);
    if let Some(e) = errors.first() {
        let (line, col) = index.line_col(e.span.start);
        return Err(format!("contract comment at {line}:{col}: {}", e.message));
    }
    let defined: HashMap<&str, Vec<&str>> = bodies
        .iter()
        .map(|b| {
            let params = b.params.iter().map(|&p| b.local(p).name.as_str()).collect();
            (b.name.as_str(), params)
        })
        .collect();
    let mut out = HashMap::new();
    for (name, annotations) in &settings.contracts {
        let summary = match defined.get(name.as_str()) {
            Some(params) => Summary::declared(annotations, params)
                .map_err(|e| format!("configured contract of `{name}`: {e}"))?,
            // Not defined here: only parameters given by position can be placed; words
            // naming a parameter apply in the file that defines the function.
            None => {
                let positional: Vec<Annotation> = annotations
                    .iter()
                    .filter(|a| !names_a_parameter(a))
                    .cloned()
                    .collect();
                let params = vec![""; max_position(&positional)];
                Summary::declared(&positional, &params)
                    .map_err(|e| format!("configured contract of `{name}`: {e}"))?
            }
        };
        out.insert(name.clone(), summary);
    }
    for c in found {
        let params: Vec<&str> = c.params.iter().map(String::as_str).collect();
        let summary = Summary::declared(&c.annotations, &params).map_err(|e| {
            let (line, col) = index.line_col(c.span.start);
            format!("contract comment at {line}:{col}: {e}")
        })?;
        out.insert(c.function, summary);
    }
    Ok(out)
}

fn names_a_parameter(a: &Annotation) -> bool {
    use cpycheck_contracts::annotation::Param;
    matches!(
        a,
        Annotation::Steals(Param::Name(_)) | Annotation::StealsOnSuccess(Param::Name(_))
    )
}

fn max_position(annotations: &[Annotation]) -> usize {
    use cpycheck_contracts::annotation::Param;
    annotations
        .iter()
        .filter_map(|a| match a {
            Annotation::Steals(Param::Position(k))
            | Annotation::StealsOnSuccess(Param::Position(k)) => Some(*k),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

/// Named callees with no contract: not an API, not defined (or declared) in this file.
fn unresolved_calls(bodies: &[Body], known: &HashMap<String, Summary>) -> Vec<String> {
    let mut out: Vec<String> = bodies
        .iter()
        .flat_map(|b| &b.blocks)
        .flat_map(|block| &block.stmts)
        .filter_map(|s| match &s.kind {
            StatementKind::Assign {
                value: Rvalue::Call(c),
                ..
            } => match &c.callee {
                Callee::Named(n)
                    if n != OPAQUE_CALLEE
                        && !known.contains_key(n)
                        && cpycheck_contracts::lookup(n).is_none() =>
                {
                    Some(n.clone())
                }
                _ => None,
            },
            _ => None,
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Functions of other files whose definition does not fit how this file calls them: the
/// same name defined differently per platform (`PyObject *f(PyObject *, PyObject *)` in one
/// file, `long f(void)` in another). A call with another number of arguments, or an object
/// result stored into a variable that is not a pointer, means this file sees another
/// declaration: the other file's summary is not used.
fn disagreeing_externals<'a>(bodies: &'a [Body], external: &ExternalSummaries) -> HashSet<&'a str> {
    let mut out = HashSet::new();
    if external.is_empty() {
        return out;
    }
    for body in bodies {
        for s in body.blocks.iter().flat_map(|b| &b.stmts) {
            let StatementKind::Assign {
                dest,
                value: Rvalue::Call(c),
            } = &s.kind
            else {
                continue;
            };
            let Callee::Named(name) = &c.callee else {
                continue;
            };
            let Some(summary) = external.summaries.get(name) else {
                continue;
            };
            let returns_object = matches!(
                summary.returns,
                ReturnSummary::New | ReturnSummary::Borrowed | ReturnSummary::Arg(_)
            );
            let into_scalar = dest.as_local().is_some_and(|l| {
                let local = body.local(l);
                local.kind != LocalKind::Temp && local.ty.pointers == 0 && !local.ty.array
            });
            if c.args.len() != summary.params.len() || (returns_object && into_scalar) {
                out.insert(name.as_str());
            }
        }
    }
    out
}

fn is_destructor_slot(slot: &str) -> bool {
    matches!(slot, "tp_dealloc" | "tp_free" | "tp_finalize" | "tp_del")
}

/// Destructor slots: they own `self` and free it; their contract is fixed by the
/// interpreter, not something to infer (or to find inconsistent).
fn destructors(model: &FileModel) -> HashSet<&str> {
    model
        .registrations
        .iter()
        .filter(|r| {
            matches!(&r.kind, RegistrationKind::Slot { slot }
                if is_destructor_slot(slot))
        })
        .map(|r| r.function.as_str())
        .collect()
}

fn registered_functions(model: &FileModel) -> HashSet<&str> {
    let mut set: HashSet<&str> = model
        .registrations
        .iter()
        .filter(|r| match &r.kind {
            RegistrationKind::Setter => false,
            // Destructors own (and free) `self`: their parameter is not a borrowed reference.
            RegistrationKind::Slot { slot } => !is_destructor_slot(slot),
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
