//! The runtime oracle: every fixture is compiled as a real extension module, run in a debug
//! interpreter, and proven to leak or crash — or to be clean — and, when a static checker is
//! given, checked to produce exactly the diagnostics its `// expect:` comments promise.
//!
//! Used by `cargo xtask oracle` and by the `oracle` test of `cpycheck_rules`. The fixture
//! format is documented in `fixtures/README.md`.

pub mod fixture;
pub mod runtime;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fixture::{Expectation, Fixture, Verdict};
use runtime::Toolchain;

/// A static checker: `(path as given, bytes) → (line, code)` diagnostics.
pub type StaticCheck<'a> = &'a (dyn Fn(&str, &[u8]) -> Vec<Expectation> + Sync);

/// What to run.
#[derive(Default)]
pub struct Options<'a> {
    /// Only fixtures whose relative path contains this.
    pub filter: Option<String>,
    /// Run the compiled modules (the runtime half).
    pub runtime: bool,
    /// Also re-insert the bugs named by the twins' `break:` lines and check they show.
    pub breaks: bool,
    /// The static half; `None` skips it.
    pub static_check: Option<StaticCheck<'a>>,
    /// Worker threads; 0 means the machine's parallelism.
    pub jobs: usize,
    /// Where compiled modules go; a fresh folder under the system temp dir when `None`.
    pub work_dir: Option<PathBuf>,
}

/// The outcome of one half for one fixture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A positive's bug was observed, or a twin ran clean; the evidence.
    Proven(String),
    /// Not run at runtime, by declaration; the reason.
    StaticOnly(String),
    /// Not requested.
    NotRun,
    /// The promise was not kept; why.
    Failed(String),
}

impl Outcome {
    pub fn is_failed(&self) -> bool {
        matches!(self, Outcome::Failed(_))
    }
}

/// Everything the oracle found out about one fixture.
#[derive(Clone, Debug)]
pub struct FixtureReport {
    pub rel_path: String,
    pub fixed: bool,
    pub runtime: Outcome,
    pub static_half: Outcome,
    pub elapsed: Duration,
}

/// One re-inserted bug in a fixed twin.
#[derive(Clone, Debug)]
pub struct BreakReport {
    pub rel_path: String,
    pub substitution: String,
    pub outcome: Outcome,
}

/// The oracle's findings over all fixtures.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub fixtures: Vec<FixtureReport>,
    pub breaks: Vec<BreakReport>,
    pub elapsed: Duration,
}

/// Proven share of positives required for acceptance.
pub const MIN_PROVEN_SHARE: f64 = 0.8;

impl Report {
    /// Per-group summary lines, then a total, e.g.
    /// `oracle: CPY101 proven 4, static-only 1, failed 0`.
    pub fn summary(&self) -> Vec<String> {
        #[derive(Default)]
        struct Counts {
            proven: usize,
            static_only: usize,
            failed: usize,
            twins_clean: usize,
            twins_failed: usize,
        }
        let mut groups: BTreeMap<&str, Counts> = BTreeMap::new();
        let mut total = Counts::default();
        for f in &self.fixtures {
            let failed = f.runtime.is_failed() || f.static_half.is_failed();
            for c in [
                groups.entry(fixture::group(&f.rel_path)).or_default(),
                &mut total,
            ] {
                match (f.fixed, failed, &f.runtime) {
                    (true, true, _) => c.twins_failed += 1,
                    (true, false, _) => c.twins_clean += 1,
                    (false, true, _) => c.failed += 1,
                    (false, false, Outcome::StaticOnly(_)) => c.static_only += 1,
                    (false, false, _) => c.proven += 1,
                }
            }
        }
        let line = |name: &str, c: &Counts| {
            format!(
                "oracle: {name} proven {}, static-only {}, failed {}; fixed twins clean {}, failed {}",
                c.proven, c.static_only, c.failed, c.twins_clean, c.twins_failed
            )
        };
        let mut out: Vec<String> = groups.iter().map(|(g, c)| line(g, c)).collect();
        out.push(line("total", &total));
        if !self.breaks.is_empty() {
            let caught = self
                .breaks
                .iter()
                .filter(|b| !b.outcome.is_failed())
                .count();
            out.push(format!(
                "oracle: re-inserted bugs caught {caught} of {}",
                self.breaks.len()
            ));
        }
        if self.fixtures.iter().any(|f| f.runtime != Outcome::NotRun) {
            out.push(format!(
                "oracle: proven at runtime {:.0}% of positives (need ≥ {:.0}%)",
                self.proven_share() * 100.0,
                MIN_PROVEN_SHARE * 100.0,
            ));
        }
        out.push(format!("oracle: took {:.1}s", self.elapsed.as_secs_f64()));
        out
    }

    /// Proven positives / all positives.
    pub fn proven_share(&self) -> f64 {
        let positives: Vec<_> = self.fixtures.iter().filter(|f| !f.fixed).collect();
        let proven = positives
            .iter()
            .filter(|f| matches!(f.runtime, Outcome::Proven(_)))
            .count();
        proven as f64 / positives.len().max(1) as f64
    }

    /// Every failure, one entry per fixture half or break.
    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        for f in &self.fixtures {
            if let Outcome::Failed(why) = &f.runtime {
                out.push(format!("{} (runtime): {why}", f.rel_path));
            }
            if let Outcome::Failed(why) = &f.static_half {
                out.push(format!("{} (static): {why}", f.rel_path));
            }
        }
        for b in &self.breaks {
            if let Outcome::Failed(why) = &b.outcome {
                out.push(format!(
                    "{} broken by `{}`: {why}",
                    b.rel_path, b.substitution
                ));
            }
        }
        out
    }

    /// One line per fixture: path, runtime evidence, static result.
    pub fn details(&self) -> Vec<String> {
        let show = |o: &Outcome| match o {
            Outcome::Proven(e) => e.lines().next().unwrap_or("").to_string(),
            Outcome::StaticOnly(r) => format!("static-only: {r}"),
            Outcome::NotRun => "not run".to_string(),
            Outcome::Failed(w) => format!("FAILED: {}", w.lines().next().unwrap_or("")),
        };
        let mut out: Vec<String> = self
            .fixtures
            .iter()
            .map(|f| {
                format!(
                    "{:<48} runtime: {} | static: {}",
                    f.rel_path,
                    show(&f.runtime),
                    show(&f.static_half)
                )
            })
            .collect();
        out.extend(self.breaks.iter().map(|b| {
            format!(
                "{:<48} break `{}`: {}",
                b.rel_path,
                b.substitution,
                show(&b.outcome)
            )
        }));
        out
    }
}

/// Checks one fixture's static half: the positive's expectations exactly, the twin silent.
pub fn check_static(f: &Fixture, check: StaticCheck<'_>) -> Outcome {
    let expected = match &f.expectations {
        Ok(e) => e,
        Err(e) => return Outcome::Failed(e.clone()),
    };
    let path = format!("fixtures/{}", f.rel_path);
    let actual = check(&path, f.source.as_bytes());
    let problems = fixture::compare(expected, &actual);
    if problems.is_empty() {
        Outcome::Proven(format!("{} diagnostic(s) as expected", actual.len()))
    } else {
        Outcome::Failed(problems.join("; "))
    }
}

/// One unit of runtime work: a fixture as written, or a twin with a bug re-inserted.
struct Job<'f> {
    fixture: &'f Fixture,
    /// `Some(i)`: apply the twin's `i`-th `break:` line.
    break_index: Option<usize>,
}

/// Runs the oracle over the fixtures under `root`.
pub fn run(root: &Path, options: &Options<'_>) -> Result<Report, String> {
    let start = Instant::now();
    let fixtures: Vec<Fixture> = fixture::load_all(root)
        .map_err(|e| format!("cannot read fixtures under {}: {e}", root.display()))?
        .into_iter()
        .filter(|f| {
            options
                .filter
                .as_ref()
                .is_none_or(|p| f.rel_path.contains(p))
        })
        .collect();
    if fixtures.is_empty() {
        return Err(format!("no fixtures found under {}", root.display()));
    }
    let toolchain = if options.runtime || options.breaks {
        let mut tc = Toolchain::detect()?;
        if fixtures.iter().any(|f| f.lang == fixture::Lang::Cython) {
            tc.detect_cython()?;
        }
        Some(tc)
    } else {
        None
    };
    let work_dir = match &options.work_dir {
        Some(d) => d.clone(),
        None => {
            // Unique per run, also when two runs share a process (parallel tests).
            static RUNS: AtomicUsize = AtomicUsize::new(0);
            std::env::temp_dir().join(format!(
                "cpycheck-oracle-{}-{}",
                std::process::id(),
                RUNS.fetch_add(1, Ordering::Relaxed)
            ))
        }
    };
    std::fs::create_dir_all(&work_dir).map_err(|e| format!("cannot create {work_dir:?}: {e}"))?;
    let driver = work_dir.join("driver.py");
    std::fs::write(&driver, runtime::DRIVER).map_err(|e| format!("cannot write driver: {e}"))?;

    let mut jobs = Vec::new();
    for f in &fixtures {
        if options.runtime {
            jobs.push(Job {
                fixture: f,
                break_index: None,
            });
        }
        if let (true, Ok(h)) = (options.breaks, &f.header) {
            jobs.extend((0..h.breaks.len()).map(|i| Job {
                fixture: f,
                break_index: Some(i),
            }));
        }
    }
    let results: Mutex<Vec<Option<(Outcome, Duration)>>> = Mutex::new(vec![None; jobs.len()]);
    if let Some(tc) = &toolchain {
        let next = AtomicUsize::new(0);
        let threads = if options.jobs == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            options.jobs
        };
        std::thread::scope(|s| {
            for _ in 0..threads.min(jobs.len()) {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(job) = jobs.get(i) else { break };
                        let t = Instant::now();
                        let outcome = run_job(tc, job, &work_dir.join(format!("job{i}")), &driver);
                        results.lock().expect("results lock")[i] = Some((outcome, t.elapsed()));
                    }
                });
            }
        });
    }
    let results = results.into_inner().expect("results lock");

    let mut report = Report::default();
    for f in &fixtures {
        let (runtime, elapsed) = jobs
            .iter()
            .zip(&results)
            .find(|(j, _)| std::ptr::eq(j.fixture, f) && j.break_index.is_none())
            .and_then(|(_, r)| r.clone())
            .unwrap_or((Outcome::NotRun, Duration::ZERO));
        let mut static_half = match options.static_check {
            Some(check) => check_static(f, check),
            None => Outcome::NotRun,
        };
        let problems = f.lint();
        if !problems.is_empty() {
            static_half = Outcome::Failed(format!("malformed fixture: {}", problems.join("; ")));
        }
        report.fixtures.push(FixtureReport {
            rel_path: f.rel_path.clone(),
            fixed: f.fixed,
            runtime,
            static_half,
            elapsed,
        });
    }
    for (job, result) in jobs.iter().zip(&results) {
        let (Some(i), Ok(h)) = (job.break_index, &job.fixture.header) else {
            continue;
        };
        let b = &h.breaks[i];
        report.breaks.push(BreakReport {
            rel_path: job.fixture.rel_path.clone(),
            substitution: format!("s/{}/{}/ => {}", b.find, b.replace, b.expect)
                .replace('\n', "\\n"),
            outcome: result
                .as_ref()
                .map_or(Outcome::NotRun, |(outcome, _)| outcome.clone()),
        });
    }
    let _ = std::fs::remove_dir_all(&work_dir);
    report.elapsed = start.elapsed();
    Ok(report)
}

fn run_job(tc: &Toolchain, job: &Job<'_>, dir: &Path, driver: &Path) -> Outcome {
    let f = job.fixture;
    let header = match &f.header {
        Ok(h) => h,
        Err(e) => return Outcome::Failed(format!("bad oracle header: {e}")),
    };
    let (source, expected) = match job.break_index {
        None => (f.source.clone(), header.verdict.clone()),
        Some(i) => {
            let b = &header.breaks[i];
            match b.apply(&f.source) {
                Ok(s) => (s, b.expect.clone()),
                Err(e) => return Outcome::Failed(e),
            }
        }
    };
    let source = match f.lang {
        fixture::Lang::C => source,
        fixture::Lang::Cython => match tc.cythonize(&source, &f.module, dir) {
            Ok(c) => c,
            Err(e) => return Outcome::Failed(e),
        },
    };
    if let Verdict::StaticOnly(reason) = &expected {
        // Still compiled: a static-only fixture must remain a buildable module.
        return match tc.compile(&source, &f.module, dir) {
            Ok(_) => Outcome::StaticOnly(reason.clone()),
            Err(e) => Outcome::Failed(e),
        };
    }
    let so = match tc.compile(&source, &f.module, dir) {
        Ok(so) => so,
        Err(e) => return Outcome::Failed(e),
    };
    let result = match runtime::run(&so, &f.module, header, driver) {
        Ok(r) => r,
        Err(e) => return Outcome::Failed(e),
    };
    match runtime::judge(&expected, &result) {
        Ok(evidence) => {
            if job.break_index.is_some() {
                // The broken twin must fail the clean verdict the twin itself promises.
                if runtime::judge(&Verdict::Clean, &result).is_ok() {
                    return Outcome::Failed(format!(
                        "the broken twin still passes as clean ({evidence})"
                    ));
                }
            }
            Outcome::Proven(evidence)
        }
        Err(why) => Outcome::Failed(why),
    }
}
