//! What bounds a running query: a [`Cancel`] flag someone else may raise, and a [`MemoryPool`]
//! that the growing state of every worker thread reserves from.
//!
//! ```text
//! QueryOptions { cancel, memory_limit } ─▶ execute: Cancel::check between batches and morsels
//!                                                   MemoryPool ◀─ Reservation::set(bytes) per state
//! ```
//!
//! In: the options of a query. Out: [`Error::Cancelled`] once the flag is raised (each worker
//! stops within one batch), and [`Error::MemoryLimit`] when the GROUP BY state of all workers
//! together, or the rows a query collects, would pass the budget. The budget defaults to
//! [`DEFAULT_MEMORY_FRACTION`] of the memory the process can actually get
//! ([`available_memory`]): the smaller of the system's `MemAvailable` and the cgroup's limit.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

pub use crate::error::MemoryUse;
use crate::error::{Error, Result};

/// A cancellation flag shared by a query and whoever may stop it (another thread, a signal
/// handler). Cloning shares the flag; once raised it stays raised.
///
/// ```
/// use qjit::Cancel;
///
/// let cancel = Cancel::new();
/// let handle = cancel.clone();
/// assert!(cancel.check().is_ok());
/// handle.cancel();
/// assert!(matches!(cancel.check(), Err(qjit::Error::Cancelled)));
/// ```
#[derive(Clone, Debug, Default)]
pub struct Cancel {
    flag: Arc<AtomicBool>,
    /// The tasks waiting in [`Cancel::cancelled`], woken by [`Cancel::cancel`].
    waiting: Arc<Mutex<Vec<std::task::Waker>>>,
}

impl Cancel {
    /// A flag that is not raised.
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// A cancellation that reads `flag` (for example one a signal handler sets, such as
    /// `signal_hook::flag::register`'s): the query stops once it is `true`. A flag raised
    /// without [`Cancel::cancel`] wakes no task: [`Cancel::cancelled`] sees it when polled.
    pub fn from_flag(flag: Arc<AtomicBool>) -> Cancel {
        Cancel {
            flag,
            waiting: Arc::default(),
        }
    }

    /// Raises the flag: every query using it stops at its next check, and every task waiting
    /// in [`Cancel::cancelled`] wakes.
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::SeqCst);
        let waiting = match self.waiting.lock() {
            Ok(mut w) => std::mem::take(&mut *w),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        for waker in waiting {
            waker.wake();
        }
    }

    /// Whether the flag is raised.
    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    /// [`Error::Cancelled`] if the flag is raised.
    pub fn check(&self) -> Result<()> {
        match self.is_cancelled() {
            true => Err(Error::Cancelled),
            false => Ok(()),
        }
    }

    /// A future that completes once [`Cancel::cancel`] is called (at once if the flag is
    /// raised): it needs no timer, so it completes even while every worker of an async runtime
    /// is busy.
    ///
    /// ```
    /// let cancel = qjit::Cancel::new();
    /// let waiter = cancel.clone();
    /// let handle = std::thread::spawn(move || futures_lite_block_on(waiter.cancelled()));
    /// cancel.cancel();
    /// handle.join().unwrap();
    /// # fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     use std::task::{Context, Poll, Wake, Waker};
    /// #     struct Unpark(std::thread::Thread);
    /// #     impl Wake for Unpark { fn wake(self: std::sync::Arc<Self>) { self.0.unpark() } }
    /// #     let waker = Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    /// #     let mut f = std::pin::pin!(f);
    /// #     loop {
    /// #         if let Poll::Ready(v) = f.as_mut().poll(&mut Context::from_waker(&waker)) { return v; }
    /// #         std::thread::park();
    /// #     }
    /// # }
    /// ```
    pub fn cancelled(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let cancel = self.clone();
        std::future::poll_fn(move |cx| {
            if cancel.is_cancelled() {
                return std::task::Poll::Ready(());
            }
            if let Ok(mut waiting) = cancel.waiting.lock() {
                if !waiting.iter().any(|w| w.will_wake(cx.waker())) {
                    waiting.push(cx.waker().clone());
                }
            }
            // Raised between the first check and the registration: `cancel` may have taken
            // the list before this waker was in it.
            match cancel.is_cancelled() {
                true => std::task::Poll::Ready(()),
                false => std::task::Poll::Pending,
            }
        })
    }
}

/// What one execution of a query runs under ([`crate::QueryOptions::limits`]).
#[derive(Debug)]
pub struct Limits {
    /// Checked between batches and between morsels.
    pub cancel: Cancel,
    /// The budget of the query's growing state.
    pub memory: MemoryPool,
    /// Counts the morsels done, for a progress bar.
    pub progress: Progress,
}

impl Limits {
    /// No cancellation and no memory limit.
    pub fn none() -> Limits {
        Limits {
            cancel: Cancel::new(),
            memory: MemoryPool::new(usize::MAX),
            progress: Progress::default(),
        }
    }
}

/// How far a running query is: the morsels of its scan (a Parquet file's row groups) done, of
/// how many. Clones share the counts; another thread reads them to draw a progress bar.
#[derive(Clone, Debug, Default)]
pub struct Progress(Arc<ProgressCounts>);

#[derive(Debug, Default)]
struct ProgressCounts {
    total: AtomicUsize,
    done: AtomicUsize,
}

impl Progress {
    /// Counts that nothing has advanced yet.
    pub fn new() -> Progress {
        Progress::default()
    }

    /// The morsels of the scan under way (0 before it starts).
    pub fn total(&self) -> usize {
        self.0.total.load(Ordering::Relaxed)
    }

    /// The morsels done.
    pub fn done(&self) -> usize {
        self.0.done.load(Ordering::Relaxed)
    }

    /// A scan of `total` morsels starts.
    pub(crate) fn start(&self, total: usize) {
        self.0.done.store(0, Ordering::Relaxed);
        self.0.total.store(total, Ordering::Relaxed);
    }

    /// One more morsel is done.
    pub(crate) fn advance(&self) {
        self.0.done.fetch_add(1, Ordering::Relaxed);
    }
}

/// A memory budget shared by every worker of one query: each piece of growing state holds a
/// [`Reservation`] and resizes it as the state grows; the sum may not pass the limit.
#[derive(Debug)]
pub struct MemoryPool {
    limit: usize,
    used: AtomicUsize,
}

impl MemoryPool {
    /// A pool of `limit` bytes.
    pub fn new(limit: usize) -> MemoryPool {
        MemoryPool {
            limit,
            used: AtomicUsize::new(0),
        }
    }

    /// The bytes reserved now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// The limit in bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// An empty reservation for `what`.
    pub fn reserve(&self, what: MemoryUse) -> Reservation<'_> {
        Reservation {
            pool: self,
            what,
            bytes: 0,
        }
    }

    /// Takes `bytes` more, unless that passes the limit (then nothing is taken).
    fn grow(&self, bytes: usize, what: MemoryUse) -> Result<()> {
        let mut used = self.used.load(Ordering::Relaxed);
        loop {
            let next = used.saturating_add(bytes);
            if next > self.limit {
                return Err(Error::MemoryLimit {
                    what,
                    limit: self.limit as u64,
                });
            }
            match self
                .used
                .compare_exchange_weak(used, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(now) => used = now,
            }
        }
    }

    fn shrink(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::Relaxed);
    }
}

/// Bytes of a [`MemoryPool`] held for one piece of state; given back when dropped.
#[derive(Debug)]
pub struct Reservation<'a> {
    pool: &'a MemoryPool,
    what: MemoryUse,
    bytes: usize,
}

impl Reservation<'_> {
    /// Holds exactly `bytes` (the state's size now): more is an [`Error::MemoryLimit`] if the
    /// pool does not have it (the reservation then keeps what it had); less gives the rest
    /// back.
    pub fn set(&mut self, bytes: usize) -> Result<()> {
        if bytes > self.bytes {
            self.pool.grow(bytes - self.bytes, self.what)?;
        } else {
            self.pool.shrink(self.bytes - bytes);
        }
        self.bytes = bytes;
        Ok(())
    }

    /// The bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.pool.shrink(self.bytes);
    }
}

/// The share of [`available_memory`] a query may use by default. The rest is left for what is
/// not accounted (input batches being decoded, the result being assembled, the allocator's
/// slack) and for other processes.
pub const DEFAULT_MEMORY_FRACTION: f64 = 0.8;

/// The default memory limit: [`DEFAULT_MEMORY_FRACTION`] of [`available_memory`], or no limit
/// where that cannot be read.
pub fn default_memory_limit() -> usize {
    available_memory().map_or(usize::MAX, |bytes| {
        (bytes as f64 * DEFAULT_MEMORY_FRACTION) as usize
    })
}

/// The memory this process can get: the smaller of `/proc/meminfo`'s `MemAvailable` and the
/// memory limit of its cgroup (v2 `memory.max`, v1 `memory.limit_in_bytes`) where one is set.
/// `None` where neither can be read (not Linux).
pub fn available_memory() -> Option<u64> {
    let system = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| mem_available(&text));
    let cgroup = std::fs::read_to_string("/proc/self/cgroup")
        .ok()
        .and_then(|text| {
            cgroup_limit_files(&text, Path::new("/sys/fs/cgroup"))
                .iter()
                .filter_map(|f| std::fs::read_to_string(f).ok())
                .filter_map(|text| cgroup_limit(&text))
                .min()
        });
    match (system, cgroup) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// `MemAvailable` of a `/proc/meminfo` text, in bytes.
fn mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))?;
    let kib: u64 = line.trim().trim_end_matches("kB").trim().parse().ok()?;
    kib.checked_mul(1024)
}

/// The contents of a cgroup limit file as bytes: `None` for `max` (v2) or a value so large it
/// means no limit (v1 writes the largest page-aligned `i64`).
fn cgroup_limit(text: &str) -> Option<u64> {
    let bytes: u64 = text.trim().parse().ok()?;
    (bytes < 1 << 60).then_some(bytes)
}

/// The files that may hold the memory limit of the cgroups in `/proc/self/cgroup` (`proc`),
/// under the cgroup file system mounted at `root`: the process's own group, and the root of the
/// mount (inside a container with a cgroup namespace, the group is the mount's root).
fn cgroup_limit_files(proc: &str, root: &Path) -> Vec<PathBuf> {
    let mut files = vec![];
    for line in proc.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let relative = path.trim_start_matches('/');
        if id == "0" && controllers.is_empty() {
            for dir in [root.join(relative), root.to_path_buf()] {
                files.push(dir.join("memory.max"));
            }
        } else if controllers.split(',').any(|c| c == "memory") {
            let mount = root.join("memory");
            for dir in [mount.join(relative), mount.clone()] {
                files.push(dir.join("memory.limit_in_bytes"));
            }
        }
    }
    files.dedup();
    files
}

/// Parses a memory size: a number of bytes with an optional unit, `B`, `KB`/`MB`/`GB`/`TB`
/// (powers of 1000), `K`/`M`/`G`/`T` or `KiB`/`MiB`/`GiB`/`TiB` (powers of 1024), any case,
/// with or without a space; a fraction is allowed (`1.5GiB`). `none` or `unlimited` is no limit
/// (`usize::MAX`).
///
/// ```
/// use qjit::exec::parse_memory_size;
///
/// assert_eq!(parse_memory_size("512MiB"), Ok(512 << 20));
/// assert_eq!(parse_memory_size("2GB"), Ok(2_000_000_000));
/// assert_eq!(parse_memory_size("1.5 KiB"), Ok(1536));
/// assert!(parse_memory_size("lots").is_err());
/// ```
pub fn parse_memory_size(text: &str) -> std::result::Result<usize, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("none") || text.eq_ignore_ascii_case("unlimited") {
        return Ok(usize::MAX);
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let bad = || {
        format!(
            "'{text}' is not a memory size; write it as 512MiB, 2GB, 1.5GiB or a number of bytes"
        )
    };
    let value: f64 = number.parse().map_err(|_| bad())?;
    let unit: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        _ => return Err(bad()),
    };
    let bytes = value * unit as f64;
    if !bytes.is_finite() || bytes >= usize::MAX as f64 {
        return Err(format!("memory size '{text}' is too large"));
    }
    if bytes < 1.0 {
        return Err(format!(
            "memory size '{text}' is less than one byte; give a positive size"
        ));
    }
    Ok(bytes as usize)
}

pub use crate::error::format_bytes;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_share_one_limit_and_give_back_on_drop() {
        let pool = MemoryPool::new(1000);
        let mut a = pool.reserve(MemoryUse::GroupBy);
        let mut b = pool.reserve(MemoryUse::GroupBy);
        a.set(600).unwrap();
        b.set(400).unwrap();
        assert_eq!(pool.used(), 1000);
        let e = b.set(401).unwrap_err();
        assert!(matches!(e, Error::MemoryLimit { limit: 1000, .. }), "{e:?}");
        // A failed request takes nothing.
        assert_eq!((pool.used(), b.bytes()), (1000, 400));
        a.set(100).unwrap();
        b.set(900).unwrap();
        drop(b);
        assert_eq!(pool.used(), 100);
        drop(a);
        assert_eq!(pool.used(), 0);
    }

    #[test]
    fn memory_sizes_parse_with_units() {
        assert_eq!(parse_memory_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_memory_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_memory_size("1 mb"), Ok(1_000_000));
        assert_eq!(parse_memory_size("2G"), Ok(2 << 30));
        assert_eq!(parse_memory_size("unlimited"), Ok(usize::MAX));
        for bad in ["", "MiB", "1.2.3", "12 parsecs", "0", "0.1", "-5MiB"] {
            assert!(parse_memory_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn byte_counts_read_for_people() {
        assert_eq!(format_bytes(1000), "1000 bytes");
        assert_eq!(format_bytes(1 << 20), "1.0 MiB");
        assert_eq!(format_bytes(3 << 29), "1.5 GiB");
    }

    #[test]
    fn available_memory_reads_meminfo_and_cgroup_limits() {
        let meminfo = "MemTotal:       24000000 kB\nMemAvailable:   23416848 kB\n";
        assert_eq!(mem_available(meminfo), Some(23_416_848 * 1024));
        assert_eq!(mem_available("MemTotal: 5 kB\n"), None);
        assert_eq!(cgroup_limit("max\n"), None);
        assert_eq!(cgroup_limit("9223372036854771712\n"), None);
        assert_eq!(cgroup_limit("1073741824\n"), Some(1 << 30));

        let root = Path::new("/cg");
        let v2 = cgroup_limit_files("0::/user.slice/app\n", root);
        assert_eq!(
            v2,
            [
                PathBuf::from("/cg/user.slice/app/memory.max"),
                PathBuf::from("/cg/memory.max")
            ]
        );
        let v1 = cgroup_limit_files("5:cpu:/\n4:memory:/box/7\n0::/\n", root);
        assert_eq!(
            v1[..2],
            [
                PathBuf::from("/cg/memory/box/7/memory.limit_in_bytes"),
                PathBuf::from("/cg/memory/memory.limit_in_bytes")
            ]
        );
        // On Linux there is always an answer, and the default leaves a fifth of it.
        if cfg!(target_os = "linux") {
            let available = available_memory().unwrap();
            assert!(available > 0);
            assert!(default_memory_limit() as u64 <= available);
        }
    }
}
