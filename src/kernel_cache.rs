//! The kernel cache on disk: the object code of compiled kernels, shared by every qjit process
//! of a user, so that a kernel compiled once loads in a fraction of a millisecond in the next
//! process instead of running LLVM's optimizer and code generator again. Entries are opaque
//! bytes here; `crate::jit` stores two kinds: objects (machine code, keyed by the kernel's IR)
//! and plan entries (keyed by its typed plan: which object, and what lowering found), so that a
//! plan seen before needs no code generation either.
//!
//! ```text
//! key (a 128-bit digest of everything that decides the machine code, made by `crate::jit`)
//!   ─get─▶ <dir>/<32 hex digits>.qjk ─checked─▶ object code, or a miss
//!   ─put─▶ <dir>/.tmp-… written whole ─rename─▶ <dir>/<32 hex digits>.qjk ─▶ evict past the bound
//! ```
//!
//! Nothing read from the directory is trusted: an entry starts with a header (magic bytes, the
//! format version, its own key, the payload's length and an XXH3 checksum of the payload), and
//! an entry that is truncated, corrupt, of another format or another key, or unreadable is a
//! miss: the kernel is compiled again and the entry rewritten. Writes go to a temporary file
//! in the same directory, renamed over the entry when complete, so processes that share a
//! directory never see half an entry. The directory is bounded in bytes: past the bound, the
//! entries used least recently (a hit touches its entry's modification time) are removed. A
//! directory that cannot be created or written costs the cache, never the query: the first
//! such failure is kept for `--timing` to report.
//!
//! Where it lives: `--cache-dir DIR`, else `$QJIT_CACHE_DIR`, else `$XDG_CACHE_HOME/qjit`,
//! else `~/.cache/qjit` ([`KernelCache::default_dir`]). The command line uses it unless told
//! `--no-cache`; the library only when asked ([`crate::EngineBuilder::cache_dir`]).

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use crate::error::{Error, Result};

/// The bytes a cache directory holds at most by default.
pub const DEFAULT_CACHE_BYTES: u64 = 256 << 20;

/// The first bytes of every entry.
const MAGIC: [u8; 8] = *b"QJITKRN\0";

/// The entry format; an entry of another version is a miss.
pub const FORMAT_VERSION: u32 = 1;

/// Magic, version, reserved word, key, payload length, checksum.
const HEADER_BYTES: usize = 8 + 4 + 4 + 16 + 8 + 8;

/// The file name extension of entries.
const ENTRY_EXTENSION: &str = "qjk";

/// The prefix of temporary files being written.
const TEMP_PREFIX: &str = ".tmp-";

/// A temporary file older than this was left by a process that died while writing it, and is
/// removed by the next eviction.
const STALE_TEMP: Duration = Duration::from_secs(600);

/// The key of an entry: a 128-bit digest of what decides the kernel's machine code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CacheKey(pub u128);

impl CacheKey {
    /// The digest of `material`.
    pub fn of(material: &[u8]) -> CacheKey {
        CacheKey(twox_hash::XxHash3_128::oneshot(material))
    }

    fn file_name(&self) -> String {
        format!("{:032x}.{ENTRY_EXTENSION}", self.0)
    }
}

/// What a cache directory holds ([`KernelCache::info`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheInfo {
    pub entries: usize,
    pub bytes: u64,
}

/// A kernel cache directory.
#[derive(Debug)]
pub struct KernelCache {
    dir: PathBuf,
    max_bytes: u64,
    /// The first failure to create or write the directory, if any.
    problem: Mutex<Option<String>>,
}

/// Tells apart the temporary files of one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl KernelCache {
    /// A cache in `dir` (created when first written), bounded to [`DEFAULT_CACHE_BYTES`].
    pub fn new(dir: impl Into<PathBuf>) -> KernelCache {
        KernelCache::with_max_bytes(dir, DEFAULT_CACHE_BYTES)
    }

    /// A cache in `dir` that holds at most `max_bytes` bytes of entries.
    pub fn with_max_bytes(dir: impl Into<PathBuf>, max_bytes: u64) -> KernelCache {
        KernelCache {
            dir: dir.into(),
            max_bytes,
            problem: Mutex::new(None),
        }
    }

    /// The user's cache directory: `$QJIT_CACHE_DIR`, else `$XDG_CACHE_HOME/qjit`, else
    /// `$HOME/.cache/qjit`; `None` when none of them is set.
    pub fn default_dir() -> Option<PathBuf> {
        let set = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        if let Some(dir) = set("QJIT_CACHE_DIR") {
            return Some(PathBuf::from(dir));
        }
        if let Some(dir) = set("XDG_CACHE_HOME") {
            return Some(PathBuf::from(dir).join("qjit"));
        }
        set("HOME").map(|home| PathBuf::from(home).join(".cache").join("qjit"))
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The first failure to create or write the directory in this process, if any: the
    /// queries ran without storing their kernels.
    pub fn problem(&self) -> Option<String> {
        self.problem.lock().ok().and_then(|p| p.clone())
    }

    /// The object code stored under `key`, or `None` (no entry, or one that is unreadable,
    /// truncated, corrupt, of another format or another key). A hit marks the entry used.
    pub fn get(&self, key: CacheKey) -> Option<Vec<u8>> {
        let path = self.dir.join(key.file_name());
        let mut bytes = vec![];
        File::open(&path).ok()?.read_to_end(&mut bytes).ok()?;
        let payload = checked_payload(&bytes, key)?;
        // Least recently used: a hit is a use. Failing to mark it only ages the entry.
        if let Ok(file) = File::options().write(true).open(&path) {
            let _ = file.set_modified(SystemTime::now());
        }
        Some(payload.to_vec())
    }

    /// Stores `object` under `key`, atomically, then removes the least recently used entries
    /// past the bound. A failure is kept ([`KernelCache::problem`]) and returned; the caller
    /// goes on without the cache.
    pub fn put(&self, key: CacheKey, object: &[u8]) -> std::result::Result<(), String> {
        let stored = self.write_entry(key, object);
        match &stored {
            Ok(()) => self.evict(),
            Err(e) => {
                if let Ok(mut problem) = self.problem.lock() {
                    problem.get_or_insert_with(|| e.clone());
                }
            }
        }
        stored
    }

    fn write_entry(&self, key: CacheKey, object: &[u8]) -> std::result::Result<(), String> {
        let shown = self.dir.display();
        fs::create_dir_all(&self.dir).map_err(|e| format!("cannot create {shown}: {e}"))?;
        let temp = self.dir.join(format!(
            "{TEMP_PREFIX}{}-{}-{:032x}",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed),
            key.0
        ));
        let mut bytes = Vec::with_capacity(HEADER_BYTES + object.len());
        bytes.extend_from_slice(&MAGIC);
        bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        bytes.extend_from_slice(&0u32.to_le_bytes());
        bytes.extend_from_slice(&key.0.to_le_bytes());
        bytes.extend_from_slice(&(object.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&twox_hash::XxHash3_64::oneshot(object).to_le_bytes());
        bytes.extend_from_slice(object);
        let written = File::create(&temp)
            .and_then(|mut f| f.write_all(&bytes))
            .and_then(|()| fs::rename(&temp, self.dir.join(key.file_name())));
        if let Err(e) = written {
            let _ = fs::remove_file(&temp);
            return Err(format!("cannot write to {shown}: {e}"));
        }
        Ok(())
    }

    /// The entries and their bytes (temporary files not counted).
    pub fn info(&self) -> Result<CacheInfo> {
        let entries = match self.entries() {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => vec![],
            Err(e) => return Err(self.dir_error(e)),
        };
        Ok(CacheInfo {
            entries: entries.len(),
            bytes: entries.iter().map(|e| e.bytes).sum(),
        })
    }

    /// Removes every entry (and temporary file); returns how many entries there were.
    pub fn clear(&self) -> Result<usize> {
        let listing = match fs::read_dir(&self.dir) {
            Ok(listing) => listing,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(self.dir_error(e)),
        };
        let mut removed = 0;
        for item in listing.flatten() {
            let name = item.file_name();
            let name = name.to_string_lossy();
            let is_entry = is_entry_name(&name);
            if is_entry || name.starts_with(TEMP_PREFIX) {
                match fs::remove_file(item.path()) {
                    Ok(()) => removed += usize::from(is_entry),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(self.dir_error(e)),
                }
            }
        }
        Ok(removed)
    }

    fn dir_error(&self, e: std::io::Error) -> Error {
        Error::File {
            path: self.dir.display().to_string(),
            reason: format!("cannot read the kernel cache directory: {e}"),
        }
    }

    /// The entries of the directory, with their sizes and last uses.
    fn entries(&self) -> std::io::Result<Vec<Entry>> {
        Ok(self.listing()?.0)
    }

    /// One pass over the directory: its entries, and the temporary files left by processes
    /// that died writing them (older than [`STALE_TEMP`]).
    fn listing(&self) -> std::io::Result<(Vec<Entry>, Vec<PathBuf>)> {
        let (mut entries, mut stale) = (vec![], vec![]);
        for item in fs::read_dir(&self.dir)?.flatten() {
            let name = item.file_name();
            let name = name.to_string_lossy();
            let Ok(meta) = item.metadata() else {
                continue;
            };
            let used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            if is_entry_name(&name) {
                entries.push(Entry {
                    path: item.path(),
                    bytes: meta.len(),
                    used,
                });
            } else if name.starts_with(TEMP_PREFIX)
                && used.elapsed().is_ok_and(|age| age > STALE_TEMP)
            {
                stale.push(item.path());
            }
        }
        Ok((entries, stale))
    }

    /// Removes the entries used least recently until the rest fit the bound, and temporary
    /// files left by processes that died writing them. Another process may remove the same
    /// files at the same time: a file already gone is no error.
    fn evict(&self) {
        let Ok((mut entries, stale)) = self.listing() else {
            return;
        };
        for path in stale {
            let _ = fs::remove_file(path);
        }
        let mut total: u64 = entries.iter().map(|e| e.bytes).sum();
        if total > self.max_bytes {
            entries.sort_by_key(|e| e.used);
            for entry in entries {
                if total <= self.max_bytes {
                    break;
                }
                let _ = fs::remove_file(&entry.path);
                total = total.saturating_sub(entry.bytes);
            }
        }
    }
}

/// An entry file.
struct Entry {
    path: PathBuf,
    bytes: u64,
    used: SystemTime,
}

/// Whether `name` is an entry's: 32 hex digits and the extension.
fn is_entry_name(name: &str) -> bool {
    name.strip_suffix(ENTRY_EXTENSION)
        .and_then(|stem| stem.strip_suffix('.'))
        .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The payload of an entry's `bytes` if its header is whole and says format
/// [`FORMAT_VERSION`], key `key`, and the length and checksum of the rest.
fn checked_payload(bytes: &[u8], key: CacheKey) -> Option<&[u8]> {
    let (header, payload) = bytes.split_at_checked(HEADER_BYTES)?;
    let word = |at: usize, n: usize| header.get(at..at + n);
    let u32_at = |at| Some(u32::from_le_bytes(word(at, 4)?.try_into().ok()?));
    let u64_at = |at| Some(u64::from_le_bytes(word(at, 8)?.try_into().ok()?));
    let ok = word(0, 8)? == MAGIC
        && u32_at(8)? == FORMAT_VERSION
        && u128::from_le_bytes(word(16, 16)?.try_into().ok()?) == key.0
        && u64_at(32)? == payload.len() as u64
        && u64_at(40)? == twox_hash::XxHash3_64::oneshot(payload);
    ok.then_some(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry_path(cache: &KernelCache, key: CacheKey) -> PathBuf {
        cache.dir().join(key.file_name())
    }

    #[test]
    fn entries_round_trip_and_damaged_ones_are_misses() {
        let dir = tempfile::tempdir().unwrap();
        let cache = KernelCache::new(dir.path().join("nested"));
        let key = CacheKey::of(b"kernel one");
        assert_eq!(cache.get(key), None);
        cache.put(key, b"object code").unwrap();
        assert_eq!(cache.get(key).as_deref(), Some(&b"object code"[..]));
        assert_eq!(
            cache.info().unwrap(),
            CacheInfo {
                entries: 1,
                bytes: (HEADER_BYTES + 11) as u64
            }
        );
        let path = entry_path(&cache, key);
        let good = fs::read(&path).unwrap();
        let mut damaged: Vec<Vec<u8>> = vec![
            vec![],
            good[..HEADER_BYTES - 1].to_vec(),
            good[..good.len() - 1].to_vec(),
        ];
        for at in [0, 8, 16, 32, 40, HEADER_BYTES, good.len() - 1] {
            let mut flipped = good.clone();
            flipped[at] ^= 0x40;
            damaged.push(flipped);
        }
        for bytes in damaged {
            fs::write(&path, &bytes).unwrap();
            assert_eq!(cache.get(key), None, "{bytes:?}");
        }
        // Another key's entry under this key's name is a miss too.
        let other = CacheKey::of(b"kernel two");
        cache.put(other, b"object code").unwrap();
        fs::copy(entry_path(&cache, other), &path).unwrap();
        assert_eq!(cache.get(key), None);
        // Rewriting repairs it.
        cache.put(key, b"object code").unwrap();
        assert_eq!(cache.get(key).as_deref(), Some(&b"object code"[..]));
        assert_eq!(cache.clear().unwrap(), 2);
        assert_eq!(cache.info().unwrap().entries, 0);
    }

    #[test]
    fn the_least_recently_used_entries_go_past_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let size = (HEADER_BYTES + 100) as u64;
        let cache = KernelCache::with_max_bytes(dir.path(), 3 * size);
        let keys: Vec<CacheKey> = (0..5u8).map(|i| CacheKey::of(&[i])).collect();
        let old = SystemTime::now() - Duration::from_secs(3600);
        for (i, key) in keys.iter().take(3).enumerate() {
            cache.put(*key, &[0; 100]).unwrap();
            // Distinct last uses, oldest first, an hour back.
            let when = old + Duration::from_secs(i as u64 * 60);
            File::options()
                .write(true)
                .open(entry_path(&cache, *key))
                .unwrap()
                .set_modified(when)
                .unwrap();
        }
        // A hit makes entry 0 the most recently used.
        assert!(cache.get(keys[0]).is_some());
        cache.put(keys[3], &[0; 100]).unwrap();
        cache.put(keys[4], &[0; 100]).unwrap();
        let kept: Vec<bool> = keys.iter().map(|k| cache.get(*k).is_some()).collect();
        assert_eq!(kept, vec![true, false, false, true, true]);
        assert_eq!(cache.info().unwrap().bytes, 3 * size);
    }

    #[test]
    fn temporary_files_of_dead_writers_are_swept_and_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let cache = KernelCache::new(dir.path());
        let old = dir.path().join(format!("{TEMP_PREFIX}1-0-dead"));
        let fresh = dir.path().join(format!("{TEMP_PREFIX}2-0-writing"));
        fs::write(&old, b"half").unwrap();
        fs::write(&fresh, b"half").unwrap();
        File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(SystemTime::now() - STALE_TEMP - Duration::from_secs(60))
            .unwrap();
        cache.put(CacheKey::of(b"k"), b"object").unwrap();
        assert!(!old.exists());
        assert!(fresh.exists());
        assert_eq!(cache.info().unwrap().entries, 1);
    }

    #[cfg(unix)]
    #[test]
    fn an_unwritable_directory_costs_only_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        // A file where the directory should be: neither root nor anyone can write into it.
        let blocked = dir.path().join("file");
        fs::write(&blocked, b"").unwrap();
        let cache = KernelCache::new(blocked.join("cache"));
        let key = CacheKey::of(b"k");
        assert!(cache.put(key, b"x").is_err());
        assert_eq!(cache.get(key), None);
        assert!(cache.problem().unwrap().contains("cannot create"));
    }

    #[test]
    fn entry_names_are_recognized() {
        assert!(is_entry_name(&CacheKey::of(b"x").file_name()));
        assert!(!is_entry_name(".tmp-1-2-00000000000000000000000000000000"));
        assert!(!is_entry_name("notes.qjk"));
    }
}
