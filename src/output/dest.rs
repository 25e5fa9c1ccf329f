//! Where a result's bytes go: standard output, a file written atomically, or memory.
//!
//! Every write is checked. A failed or short write is [`Error::Write`], naming the destination
//! and the system's reason; standard output closed by its reader (`EPIPE`, the usual `| head`)
//! is [`Error::OutputClosed`], which the command reports by exiting quietly with status 141, as
//! a process stopped by `SIGPIPE` does.
//!
//! Standard output is written through its file descriptor, not Rust's `Stdout`, which treats a
//! closed descriptor (`EBADF`) as a sink that accepts everything.
//!
//! A file ([`Destination::file`]) is written under a temporary name beside it and renamed onto
//! it when complete ([`Destination::commit`]); dropped uncommitted, it is removed. The temporary
//! names of the files being written are kept in a list that [`remove_unfinished`] empties, for a
//! process that exits without unwinding.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, Result};

/// Set when the process started with standard output closed ([`check_stdout`]).
static STDOUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Records that the process started with standard output closed: writes to
/// [`Destination::stdout`] then fail with `EBADF`, as they would have on the closed descriptor.
///
/// Rust's runtime opens `/dev/null` onto a closed standard descriptor before `main`, so the
/// check must run earlier: the `qjit` binary does it in an `.init_array` constructor
/// ([`stdout_is_closed`]).
pub fn set_stdout_closed() {
    STDOUT_CLOSED.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Whether descriptor 1 is closed (meaningful only before Rust's runtime starts, see
/// [`set_stdout_closed`]).
pub fn stdout_is_closed() -> bool {
    #[cfg(unix)]
    // SAFETY: fcntl(F_GETFD) only queries a descriptor.
    return unsafe { libc::fcntl(1, libc::F_GETFD) } == -1;
    #[cfg(not(unix))]
    return false;
}

/// The temporary files being written, for [`remove_unfinished`].
static UNFINISHED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Removes the temporary files of every output file still being written (for a process about
/// to exit without finishing them).
pub fn remove_unfinished() {
    if let Ok(files) = UNFINISHED.lock() {
        for f in files.iter() {
            let _ = std::fs::remove_file(f);
        }
    }
}

/// A destination for a result's bytes.
pub enum Destination {
    /// The process's standard output.
    Stdout(Stdout),
    /// A file written under a temporary name until committed.
    File(AtomicFile),
    /// Bytes kept in memory.
    Memory(Vec<u8>),
}

impl Destination {
    /// Standard output.
    pub fn stdout() -> Destination {
        Destination::Stdout(Stdout::new())
    }

    /// `path`, written atomically: the file appears, complete, when committed.
    ///
    /// # Errors
    ///
    /// [`Error::File`] when the temporary file beside `path` cannot be created.
    pub fn file(path: &Path) -> Result<Destination> {
        Ok(Destination::File(AtomicFile::create(path)?))
    }

    /// What the destination is, as messages name it.
    pub fn name(&self) -> String {
        match self {
            Destination::Stdout(_) => "standard output".into(),
            Destination::File(f) => f.target.display().to_string(),
            Destination::Memory(_) => "memory".into(),
        }
    }

    /// Turns an I/O error of this destination into qjit's error.
    pub fn error(&self, e: io::Error) -> Error {
        match (self, e.kind()) {
            (Destination::Stdout(_), io::ErrorKind::BrokenPipe) => Error::OutputClosed,
            _ => Error::Write {
                target: self.name(),
                reason: e.to_string(),
            },
        }
    }

    /// Flushes what is written and, for a file, moves it into place.
    pub fn commit(&mut self) -> Result<()> {
        let result = match self {
            Destination::Stdout(s) => s.flush(),
            Destination::File(f) => f.commit(),
            Destination::Memory(_) => Ok(()),
        };
        result.map_err(|e| self.error(e))
    }
}

impl Write for Destination {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Destination::Stdout(s) => s.write(buf),
            Destination::File(f) => f.file()?.write(buf),
            Destination::Memory(m) => m.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Destination::Stdout(s) => s.write_all(buf),
            Destination::File(f) => f.file()?.write_all(buf),
            Destination::Memory(m) => m.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Destination::Stdout(s) => s.flush(),
            Destination::File(f) => f.file()?.flush(),
            Destination::Memory(_) => Ok(()),
        }
    }
}

/// Standard output, written through file descriptor 1 (see the module docs).
pub struct Stdout {
    #[cfg(unix)]
    fd: std::mem::ManuallyDrop<File>,
    #[cfg(not(unix))]
    out: io::Stdout,
}

impl Stdout {
    #[cfg(unix)]
    fn new() -> Stdout {
        use std::os::fd::FromRawFd;
        // SAFETY: descriptor 1 is the process's standard output, which nothing else in qjit
        // writes or closes; `ManuallyDrop` keeps this `File` from closing it. If it is closed,
        // writes fail with EBADF, which is the point.
        let fd = unsafe { File::from_raw_fd(1) };
        Stdout {
            fd: std::mem::ManuallyDrop::new(fd),
        }
    }

    #[cfg(not(unix))]
    fn new() -> Stdout {
        Stdout { out: io::stdout() }
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if STDOUT_CLOSED.load(std::sync::atomic::Ordering::Relaxed) {
            #[cfg(unix)]
            return Err(io::Error::from_raw_os_error(libc::EBADF));
        }
        #[cfg(unix)]
        return (&*self.fd).write(buf);
        #[cfg(not(unix))]
        return self.out.write(buf);
    }

    fn flush(&mut self) -> io::Result<()> {
        #[cfg(unix)]
        return Ok(());
        #[cfg(not(unix))]
        return self.out.flush();
    }
}

/// A file written under a temporary name beside its target, renamed onto it when committed and
/// removed when dropped uncommitted.
pub struct AtomicFile {
    target: PathBuf,
    temporary: PathBuf,
    file: Option<File>,
}

impl AtomicFile {
    fn create(target: &Path) -> Result<AtomicFile> {
        let name = target
            .file_name()
            .ok_or_else(|| Error::File {
                path: target.display().to_string(),
                reason: "is not a file name; give --output the path of a file".into(),
            })?
            .to_string_lossy()
            .into_owned();
        let temporary = target.with_file_name(format!(".{name}.qjit-{}.tmp", std::process::id()));
        let file = File::create(&temporary).map_err(|e| Error::File {
            path: target.display().to_string(),
            reason: format!("cannot create the output file beside it: {e}"),
        })?;
        if let Ok(mut files) = UNFINISHED.lock() {
            files.push(temporary.clone());
        }
        Ok(AtomicFile {
            target: target.to_path_buf(),
            temporary,
            file: Some(file),
        })
    }

    fn file(&mut self) -> io::Result<&mut File> {
        self.file
            .as_mut()
            .ok_or_else(|| io::Error::other("the file is already complete"))
    }

    fn commit(&mut self) -> io::Result<()> {
        let Some(mut file) = self.file.take() else {
            return Ok(());
        };
        let result = file
            .flush()
            .and_then(|_| std::fs::rename(&self.temporary, &self.target));
        if result.is_err() {
            let _ = std::fs::remove_file(&self.temporary);
        }
        self.forget_temporary();
        result
    }

    fn forget_temporary(&self) {
        if let Ok(mut files) = UNFINISHED.lock() {
            files.retain(|f| f != &self.temporary);
        }
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.temporary);
            self.forget_temporary();
        }
    }
}
