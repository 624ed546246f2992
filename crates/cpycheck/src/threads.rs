//! The threads that run analyses: `check` and the `debug` commands alike get the same pool,
//! with the same stack size, so a file that analyses under `check` also dumps under `debug`.

/// Stack size of the analysis threads. Deeply nested input should be handled by bounded
/// recursion in the analysis crates; this is the safety margin behind that.
pub const STACK_SIZE: usize = 64 * 1024 * 1024;

/// Runs `f` on the analysis pool (its rayon jobs, the per-function tasks of
/// `cpycheck_rules` included, run there too); only if the pool cannot be built does `f` run
/// on the calling thread.
pub fn run<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    match rayon::ThreadPoolBuilder::new()
        .stack_size(STACK_SIZE)
        .thread_name(|i| format!("cpycheck-{i}"))
        .build()
    {
        Ok(pool) => pool.install(f),
        Err(_) => f(),
    }
}
