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
//! sees another id and builds its own. The lock around the kept pool is held only to look at
//! it (never while threads spawn), and a child that inherits it locked (forked while another
//! thread of the parent held it) goes around it rather than waiting for a thread that is not
//! there.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

/// The kept pool: the process that built it, its thread count, the pool.
type Slot = Option<(u32, usize, Arc<rayon::ThreadPool>)>;

static POOL: Mutex<Slot> = Mutex::new(None);

/// The process whose thread holds `POOL` (0 when free). A child forked while a parent's thread
/// held the lock inherits it locked, with no thread left to release it: the child sees another
/// process's id here and goes around the slot instead of waiting forever.
static HOLDER: AtomicU32 = AtomicU32::new(0);

/// `POOL` locked by this thread, or `None` in a forked child whose copy of the lock was held
/// by a thread of the parent (it will never be released here).
struct Held(MutexGuard<'static, Slot>);

impl Drop for Held {
    fn drop(&mut self) {
        HOLDER.store(0, Ordering::Release);
    }
}

fn lock(pid: u32) -> Option<Held> {
    loop {
        let guard = match POOL.try_lock() {
            Ok(g) => g,
            Err(TryLockError::Poisoned(e)) => e.into_inner(),
            Err(TryLockError::WouldBlock) => {
                let holder = HOLDER.load(Ordering::Acquire);
                if holder != 0 && holder != pid {
                    return None;
                }
                // Held by another thread of this process for a few instructions.
                std::thread::yield_now();
                continue;
            }
        };
        HOLDER.store(pid, Ordering::Release);
        return Some(Held(guard));
    }
}

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
    if let Some(held) = lock(pid) {
        if let Some((p, k, pool)) = held.0.as_ref() {
            if *p == pid && *k == n {
                return Ok(Arc::clone(pool));
            }
        }
    }
    // Built outside the lock, so a fork while threads spawn finds the lock free.
    let pool = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .thread_name(|i| format!("specc-{i}"))
            .build()
            .map_err(|e| format!("cannot start {n} worker threads: {e}"))?,
    );
    let Some(mut held) = lock(pid) else {
        // A forked child with the parent's lock: this run uses its own pool, not kept.
        return Ok(pool);
    };
    match held.0.take() {
        // Another thread of this process kept one meanwhile: use that, drop ours.
        Some((p, k, kept)) if p == pid && k == n => {
            *held.0 = Some((p, k, Arc::clone(&kept)));
            return Ok(kept);
        }
        // The parent's pool in a forked child: its threads are not in this process, and
        // dropping it would signal them; it is left alone (a few bytes).
        Some((p, _, old)) if p != pid => std::mem::forget(old),
        // Another thread count: the old pool ends when the runs using it do.
        _ => {}
    }
    *held.0 = Some((pid, n, Arc::clone(&pool)));
    Ok(pool)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lock held by another process's thread (as a forked child inherits it) is gone around,
    /// not waited on: the run still gets a working pool.
    #[test]
    fn a_lock_inherited_from_the_parent_is_not_waited_on() {
        let held = POOL.lock().unwrap_or_else(|e| e.into_inner());
        HOLDER.store(std::process::id().wrapping_add(1), Ordering::Release);
        let p = pool(1).expect("a pool");
        assert_eq!(p.install(|| 6 * 7), 42);
        HOLDER.store(0, Ordering::Release);
        drop(held);
        assert_eq!(pool(1).expect("a pool").current_num_threads(), 1);
    }
}
