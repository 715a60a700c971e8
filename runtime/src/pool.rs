//! The worker threads of parallel runs: one rayon pool per process, reused by every run, with
//! thread counts capped at the core count.
//!
//! Threads beyond the cores bring no speed to compute-bound work, so a request for more (a
//! typo like `--threads 1000000`) gets the core count rather than a million threads. Building a
//! pool spawns its threads, so the pool is kept and reused; a run that asks for a different
//! count replaces it (the old one ends when its last run does), so at most one is kept.
//!
//! A pool's threads do not survive `fork()`: a child that used its parent's pool would wait
//! forever for threads that do not exist (a Python `multiprocessing` or DataLoader worker
//! forked after a run). The kept pool is tagged with the process id that built it; a child
//! sees another id and builds its own.

use std::sync::{Arc, Mutex};

/// The kept pool: the process that built it, its thread count, the pool.
type Slot = Option<(u32, usize, Arc<rayon::ThreadPool>)>;

static POOL: Mutex<Slot> = Mutex::new(None);

/// The machine's core count (1 if unknown).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The thread count a run uses when `requested` are asked for: 0 means one per core, and
/// anything above the core count is capped to it.
pub fn threads(requested: usize) -> usize {
    let cores = cores();
    if requested == 0 {
        cores
    } else {
        requested.min(cores)
    }
}

/// The process's pool of `threads(requested)` threads, built on first use (and again in a
/// forked child, or for another thread count).
pub fn pool(requested: usize) -> Result<Arc<rayon::ThreadPool>, String> {
    let n = threads(requested);
    let pid = std::process::id();
    let mut slot = POOL.lock().unwrap_or_else(|e| e.into_inner());
    match slot.take() {
        Some((p, k, pool)) if p == pid && k == n => {
            *slot = Some((p, k, Arc::clone(&pool)));
            return Ok(pool);
        }
        // The parent's pool in a forked child: its threads are not in this process, and
        // dropping it would signal them; it is left alone (a few bytes).
        Some((p, _, pool)) if p != pid => std::mem::forget(pool),
        // Another thread count: the old pool ends when the runs using it do.
        _ => {}
    }
    let pool = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .thread_name(|i| format!("specc-{i}"))
            .build()
            .map_err(|e| format!("cannot start {n} worker threads: {e}"))?,
    );
    *slot = Some((pid, n, Arc::clone(&pool)));
    Ok(pool)
}
