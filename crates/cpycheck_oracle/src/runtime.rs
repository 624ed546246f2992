//! Compiling a fixture against the debug interpreter, running it, and judging the evidence.

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::fixture::{Header, Verdict};

/// The debug interpreter the oracle runs fixtures in.
pub const PYTHON: &str = "python3.11d";
/// Its `-config` script, for the include flags.
pub const PYTHON_CONFIG: &str = "python3.11d-config";
/// The C compiler.
pub const CC: &str = "gcc";
/// What to install when the toolchain is missing.
pub const INSTALL_HINT: &str = "apt-get install python3.11-dbg python3.11-dev gcc";
/// The Cython release the `.pyx` fixtures are compiled with (pinned: the generated
/// `tp_clear` is part of what the fixtures prove).
pub const CYTHON_VERSION: &str = "3.0.11";
/// Environment variable naming the `cython` executable to use.
pub const CYTHON_ENV: &str = "CPYCHECK_CYTHON";

/// A leak is proven when the interpreter's total reference count (or its count of
/// allocated blocks) grows by at least this much per call, on average, in *every* measured
/// window of `repeat` calls (after the warm-up). One reference lost per call gives 1.0;
/// the margin absorbs a few references of one-off cache effects.
pub const LEAK_MIN_PER_CALL: f64 = 0.9;
/// A twin is clean when, in at least one measured window, both growths stay below this
/// per call in absolute value (at most 100 references or blocks over the default 1,000
/// calls). A per-call leak grows in every window; a one-off cache fill (a dict resize, a
/// type cache entry) shows in one window only, so the best window is the steady state.
pub const CLEAN_MAX_PER_CALL: f64 = 0.1;
/// Number of consecutive measured windows of `repeat` calls.
pub const WINDOWS: u32 = 2;
/// Wall-clock limit for one run of one fixture.
pub const TIME_LIMIT: Duration = Duration::from_secs(20);

/// Stderr fragments that show the debug build caught memory or refcount corruption.
const FATAL_MARKERS: &[&str] = &[
    "Fatal Python error",
    "negative ref count",
    "Debug memory block at address",
    "bad ID: Allocated using API",
    "deallocating None",
    "Segmentation fault",
    "AddressSanitizer",
];
/// Stderr fragments specific to a reference count dropping below zero.
const UNDERFLOW_MARKERS: &[&str] = &["negative ref count", "deallocating None"];

/// The compiler and the debug interpreter, as found on this machine.
#[derive(Clone, Debug)]
pub struct Toolchain {
    pub include_flags: Vec<String>,
    pub ext_suffix: String,
    /// The Cython compiler, found by [`Toolchain::detect_cython`] when Cython fixtures run.
    pub cython: Option<PathBuf>,
}

/// Where `.ci/run` installs the pinned Cython: `$HOME/.cache/cpycheck/cython-<version>`.
fn cached_cython() -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    Some(
        PathBuf::from(home)
            .join(".cache/cpycheck")
            .join(format!("cython-{CYTHON_VERSION}"))
            .join("bin/cython"),
    )
}

/// The hint printed when the pinned Cython is missing.
pub fn cython_install_hint() -> String {
    format!(
        "install it with `python3.11 -m venv ~/.cache/cpycheck/cython-{CYTHON_VERSION} && \
         ~/.cache/cpycheck/cython-{CYTHON_VERSION}/bin/pip install cython=={CYTHON_VERSION}` \
         (what .ci/run does), or set {CYTHON_ENV} to a Cython {CYTHON_VERSION} executable"
    )
}

impl Toolchain {
    /// Finds gcc and the debug interpreter, or says what to install.
    pub fn detect() -> Result<Toolchain, String> {
        let missing = |what: &str, err: String| {
            format!(
                "the runtime oracle needs {what}, which is not usable here ({err}); \
                 install it with `{INSTALL_HINT}`"
            )
        };
        let output = |cmd: &str, args: &[&str]| -> Result<String, String> {
            let out = Command::new(cmd)
                .args(args)
                .output()
                .map_err(|e| missing(cmd, e.to_string()))?;
            if !out.status.success() {
                return Err(missing(cmd, format!("`{cmd}` exited with {}", out.status)));
            }
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        };
        output(CC, &["--version"])?;
        let includes = output(PYTHON_CONFIG, &["--includes"])?;
        let ext_suffix = output(
            PYTHON,
            &[
                "-c",
                "import sys, sysconfig; assert hasattr(sys, 'gettotalrefcount'); \
                 print(sysconfig.get_config_var('EXT_SUFFIX'))",
            ],
        )?;
        Ok(Toolchain {
            include_flags: includes.split_whitespace().map(str::to_string).collect(),
            ext_suffix,
            cython: None,
        })
    }

    /// Finds Cython {CYTHON_VERSION}: `$CPYCHECK_CYTHON`, else `cython` on `PATH`, else the
    /// copy `.ci/run` installs under `~/.cache/cpycheck`. Any other version is an error.
    pub fn detect_cython(&mut self) -> Result<(), String> {
        let mut candidates: Vec<PathBuf> = Vec::new();
        if let Some(explicit) = std::env::var_os(CYTHON_ENV) {
            candidates.push(PathBuf::from(explicit));
        } else {
            candidates.push(PathBuf::from("cython"));
            candidates.extend(cached_cython());
        }
        let mut seen = Vec::new();
        for candidate in candidates {
            match Command::new(&candidate).arg("--version").output() {
                Ok(out) => {
                    let text = format!(
                        "{}{}",
                        String::from_utf8_lossy(&out.stdout),
                        String::from_utf8_lossy(&out.stderr)
                    );
                    let version = text.split_whitespace().last().unwrap_or("").to_string();
                    if out.status.success() && version == CYTHON_VERSION {
                        self.cython = Some(candidate);
                        return Ok(());
                    }
                    seen.push(format!("{} is version {version:?}", candidate.display()));
                }
                Err(e) => seen.push(format!("{}: {e}", candidate.display())),
            }
        }
        Err(format!(
            "the runtime oracle needs Cython {CYTHON_VERSION} for the .pyx fixtures ({}); {}",
            seen.join("; "),
            cython_install_hint()
        ))
    }

    /// Translates the Cython `source` of module `module` to C in `dir`.
    pub fn cythonize(&self, source: &str, module: &str, dir: &Path) -> Result<String, String> {
        let cython = self.cython.as_ref().ok_or_else(|| {
            format!(
                "Cython not detected; install it with `{}`",
                cython_install_hint()
            )
        })?;
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {dir:?}: {e}"))?;
        let pyx = dir.join(format!("{module}.pyx"));
        std::fs::write(&pyx, source).map_err(|e| format!("cannot write {pyx:?}: {e}"))?;
        let c_file = dir.join(format!("{module}.cython.c"));
        let out = Command::new(cython)
            .args(["-3", "-o"])
            .arg(&c_file)
            .arg(&pyx)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", cython.display()))?;
        if !out.status.success() {
            return Err(format!(
                "cython failed:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        std::fs::read_to_string(&c_file).map_err(|e| format!("cannot read {c_file:?}: {e}"))
    }

    /// Compiles `source` as module `module` into `dir`; returns the shared object's path.
    pub fn compile(&self, source: &str, module: &str, dir: &Path) -> Result<PathBuf, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {dir:?}: {e}"))?;
        let c_file = dir.join(format!("{module}.c"));
        std::fs::write(&c_file, source).map_err(|e| format!("cannot write {c_file:?}: {e}"))?;
        let so = dir.join(format!("{module}{}", self.ext_suffix));
        let out = Command::new(CC)
            .args(["-shared", "-fPIC", "-O0", "-g", "-Wall"])
            .args(&self.include_flags)
            .arg("-o")
            .arg(&so)
            .arg(&c_file)
            .output()
            .map_err(|e| format!("cannot run {CC}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "compilation failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(so)
    }
}

/// How far the driver got before the process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    Started,
    Imported,
    Setup,
    WarmedUp,
    Done,
}

/// Reference and block growth over one window of measured calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub refs: i64,
    pub blocks: i64,
}

/// Reference and block growth over the measured windows.
#[derive(Clone, Debug, PartialEq)]
pub struct Measurement {
    /// Calls per window.
    pub calls: u64,
    pub windows: Vec<Window>,
    /// Exceptions raised by the call, as `Name×count`.
    pub exceptions: String,
}

impl Measurement {
    fn per_call(&self, n: i64) -> f64 {
        n as f64 / self.calls.max(1) as f64
    }

    /// The smallest per-call growth over the windows: (refs, blocks).
    pub fn min_growth(&self) -> (f64, f64) {
        let refs = self.windows.iter().map(|w| w.refs).min().unwrap_or(0);
        let blocks = self.windows.iter().map(|w| w.blocks).min().unwrap_or(0);
        (self.per_call(refs), self.per_call(blocks))
    }

    /// The per-call growth closest to zero over the windows: (refs, blocks).
    pub fn steady_growth(&self) -> (f64, f64) {
        let refs = self.windows.iter().map(|w| w.refs).min_by_key(|n| n.abs());
        let blocks = self
            .windows
            .iter()
            .map(|w| w.blocks)
            .min_by_key(|n| n.abs());
        (
            self.per_call(refs.unwrap_or(0)),
            self.per_call(blocks.unwrap_or(0)),
        )
    }
}

/// What one run of a fixture produced.
#[derive(Clone, Debug)]
pub struct RunResult {
    pub stage: Stage,
    /// `Some(code)` for a normal exit.
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub timed_out: bool,
    pub measurement: Option<Measurement>,
    pub stderr: String,
    pub elapsed: Duration,
}

impl RunResult {
    fn exit_text(&self) -> String {
        if self.timed_out {
            format!("timed out after {}s", TIME_LIMIT.as_secs())
        } else if let Some(sig) = self.signal {
            format!("killed by signal {sig} ({})", signal_name(sig))
        } else {
            format!("exit code {}", self.exit_code.unwrap_or(-1))
        }
    }

    /// The first stderr line carrying one of `markers`.
    fn marker_line(&self, markers: &[&str]) -> Option<&str> {
        self.stderr
            .lines()
            .find(|l| markers.iter().any(|m| l.contains(m)))
            .map(str::trim)
    }

    fn stderr_tail(&self) -> String {
        let lines: Vec<&str> = self.stderr.lines().collect();
        lines[lines.len().saturating_sub(8)..].join("\n")
    }

    fn describe_growth(&self) -> String {
        match &self.measurement {
            Some(m) => format!(
                "{} per call over {}×{} calls{}",
                m.windows
                    .iter()
                    .map(|w| format!(
                        "{:+.2} refs {:+.2} blocks",
                        m.per_call(w.refs),
                        m.per_call(w.blocks)
                    ))
                    .collect::<Vec<_>>()
                    .join(" / "),
                m.windows.len(),
                m.calls,
                if m.exceptions.is_empty() {
                    String::new()
                } else {
                    format!(", raised {}", m.exceptions)
                }
            ),
            None => "no measurement".to_string(),
        }
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        _ => "signal",
    }
}

/// The driver script, kept as a Python file next to this module.
pub const DRIVER: &str = include_str!("driver.py");

/// Runs `call` from `header` against the compiled module in a fresh debug interpreter.
pub fn run(so: &Path, module: &str, header: &Header, driver: &Path) -> Result<RunResult, String> {
    let config = serde_json::json!({
        "module": module,
        "path": so.to_string_lossy(),
        "setup": header.setup.join("\n"),
        "call": header.call.as_deref().unwrap_or("None"),
        "warmup": header.warmup,
        "repeat": header.repeat,
        "windows": WINDOWS,
    });
    let start = Instant::now();
    let mut child = Command::new(PYTHON)
        .args(["-X", "dev", "-X", "faulthandler", "-s"])
        .arg(driver)
        .arg(config.to_string())
        .env("PYTHONMALLOC", "debug")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("PYTHONPATH")
        .env_remove("PYTHONSTARTUP")
        .env_remove("PYTHONHOME")
        .current_dir(so.parent().unwrap_or(Path::new(".")))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {PYTHON}: {e}"))?;
    // Drain both pipes on threads so a chatty child cannot block on a full pipe.
    let mut out_pipe = child.stdout.take().expect("piped stdout");
    let mut err_pipe = child.stderr.take().expect("piped stderr");
    let out_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out_pipe.read_to_end(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err_pipe.read_to_end(&mut s);
        s
    });
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if start.elapsed() > TIME_LIMIT {
            timed_out = true;
            let _ = child.kill();
            break child.wait().map_err(|e| e.to_string())?;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stdout = String::from_utf8_lossy(&out_reader.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).into_owned();
    let mut stage = Stage::Started;
    let mut measurement = None;
    for line in stdout.lines() {
        let Some(json) = line.strip_prefix("ORACLE ") else {
            continue;
        };
        let Ok(value) = serde_json::from_str::<serde_json::Value>(json) else {
            continue;
        };
        stage = match value["stage"].as_str() {
            Some("imported") => Stage::Imported,
            Some("setup") => Stage::Setup,
            Some("warmed-up") => Stage::WarmedUp,
            Some("done") => {
                let mut exceptions: Vec<String> = value["exceptions"]
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| format!("{k}×{}", v.as_u64().unwrap_or(0)))
                            .collect()
                    })
                    .unwrap_or_default();
                exceptions.sort();
                let windows = value["windows"]
                    .as_array()
                    .map(|ws| {
                        ws.iter()
                            .map(|w| Window {
                                refs: w["refs"].as_i64().unwrap_or(0),
                                blocks: w["blocks"].as_i64().unwrap_or(0),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                measurement = Some(Measurement {
                    calls: value["calls"].as_u64().unwrap_or(0),
                    windows,
                    exceptions: exceptions.join(", "),
                });
                Stage::Done
            }
            _ => stage,
        };
    }
    Ok(RunResult {
        stage,
        exit_code: status.code(),
        signal: status.signal(),
        timed_out,
        measurement,
        stderr,
        elapsed: start.elapsed(),
    })
}

/// Judges a run against the promised verdict: `Ok(evidence)` or `Err(why not)`.
pub fn judge(expected: &Verdict, run: &RunResult) -> Result<String, String> {
    if run.timed_out {
        return Err(run.exit_text());
    }
    let normal_exit = run.exit_code == Some(0) && run.stage == Stage::Done;
    match expected {
        Verdict::StaticOnly(reason) => Ok(format!("static-only: {reason}")),
        Verdict::Leak | Verdict::Clean if !normal_exit => Err(format!(
            "expected a normal exit, got {} at stage {:?}:\n{}",
            run.exit_text(),
            run.stage,
            run.stderr_tail()
        )),
        Verdict::Leak => {
            let m = run.measurement.as_ref().ok_or("no measurement")?;
            let (refs, blocks) = m.min_growth();
            if !m.windows.is_empty() && (refs >= LEAK_MIN_PER_CALL || blocks >= LEAK_MIN_PER_CALL) {
                Ok(format!("leaks: {}", run.describe_growth()))
            } else {
                Err(format!(
                    "expected growth ≥ {LEAK_MIN_PER_CALL} per call, got {}",
                    run.describe_growth()
                ))
            }
        }
        Verdict::Clean => {
            let m = run.measurement.as_ref().ok_or("no measurement")?;
            if m.exceptions.contains("SystemError") {
                return Err(format!("expected no SystemError, got {}", m.exceptions));
            }
            let (refs, blocks) = m.steady_growth();
            if !m.windows.is_empty()
                && refs.abs() < CLEAN_MAX_PER_CALL
                && blocks.abs() < CLEAN_MAX_PER_CALL
            {
                Ok(format!("clean: {}", run.describe_growth()))
            } else {
                Err(format!(
                    "expected |growth| < {CLEAN_MAX_PER_CALL} per call, got {}",
                    run.describe_growth()
                ))
            }
        }
        Verdict::UseAfterFree | Verdict::Crash | Verdict::RefcountUnderflow => {
            if run.stage < Stage::Setup {
                return Err(format!(
                    "the process ended before the call ran ({} at stage {:?}):\n{}",
                    run.exit_text(),
                    run.stage,
                    run.stderr_tail()
                ));
            }
            let abnormal = run.signal.is_some()
                || (run.exit_code != Some(0) && run.marker_line(FATAL_MARKERS).is_some());
            if !abnormal {
                return Err(format!(
                    "expected the process to die, got {} at stage {:?} ({}):\n{}",
                    run.exit_text(),
                    run.stage,
                    run.describe_growth(),
                    run.stderr_tail()
                ));
            }
            let when = if run.stage == Stage::Done {
                "at exit"
            } else {
                "during the calls"
            };
            let marker = run
                .marker_line(FATAL_MARKERS)
                .unwrap_or("no fatal error message");
            if *expected == Verdict::RefcountUnderflow {
                return match run.marker_line(UNDERFLOW_MARKERS) {
                    Some(line) => Ok(format!("{} {when}: {line}", run.exit_text())),
                    None => Err(format!(
                        "expected a negative-refcount error, got {} {when}: {marker}",
                        run.exit_text()
                    )),
                };
            }
            Ok(format!("{} {when}: {marker}", run.exit_text()))
        }
    }
}
