//! A file opened once and read at explicit offsets, so that every worker of a query reads its
//! row groups through the one handle ([`SharedFile`]): the handles of one open file (its clones)
//! share a read position, which concurrent seeks and reads would race on.
//!
//! In: a [`File`]. Out: a cheaply cloned reader that the parquet crate takes as a
//! [`ChunkReader`], and [`SharedFile::read_vec_at`] for qjit's own decoder.

use std::fs::File;
use std::io::{BufReader, Read};
use std::sync::Arc;

use bytes::Bytes;
use parquet::errors::ParquetError;
use parquet::file::reader::{ChunkReader, Length};

/// An open file shared by the readers of one query; each read names its offset.
#[derive(Clone, Debug)]
pub struct SharedFile {
    file: Arc<File>,
    /// The file's length when it was opened.
    len: u64,
}

impl SharedFile {
    /// Shares `file`, whose length is `len` bytes.
    pub fn new(file: File, len: u64) -> SharedFile {
        SharedFile {
            file: Arc::new(file),
            len,
        }
    }

    /// The `len` bytes from `offset` on, in a vector of their own; an `UnexpectedEof` error if
    /// the file ends first. The bytes go straight into fresh memory, which is not zeroed first
    /// (a column chunk is megabytes: zeroing it cost a scan as much as reading it).
    pub fn read_vec_at(&self, len: usize, offset: u64) -> std::io::Result<Vec<u8>> {
        // A length past the end (a corrupt footer's) is refused before it is allocated.
        if offset.saturating_add(len as u64) > self.len {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let mut buf: Vec<u8> = Vec::with_capacity(len);
        #[cfg(unix)]
        {
            use std::os::unix::io::AsRawFd;
            let fd = self.file.as_raw_fd();
            while buf.len() < len {
                let at = offset
                    .checked_add(buf.len() as u64)
                    .and_then(|o| libc::off_t::try_from(o).ok())
                    .ok_or_else(|| std::io::Error::other("a read past the largest file offset"))?;
                let want = len - buf.len();
                let rest = &mut buf.spare_capacity_mut()[..want];
                // SAFETY: `rest` is writable memory of `rest.len()` bytes that the vector owns;
                // `pread` writes at most that many bytes into it and reports how many.
                let n = unsafe {
                    libc::pread(fd, rest.as_mut_ptr().cast::<libc::c_void>(), rest.len(), at)
                };
                match n {
                    0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                    n if n > 0 => {
                        // SAFETY: `pread` initialized the next `n` bytes (n <= rest.len()).
                        unsafe { buf.set_len(buf.len() + n as usize) };
                    }
                    _ => {
                        let e = std::io::Error::last_os_error();
                        if e.kind() != std::io::ErrorKind::Interrupted {
                            return Err(e);
                        }
                    }
                }
            }
        }
        #[cfg(not(unix))]
        {
            buf.resize(len, 0);
            let mut filled = 0;
            while filled < len {
                match read_at(&self.file, &mut buf[filled..], offset + filled as u64) {
                    Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(buf)
    }
}

/// Reads into `buf` from `offset` without moving any read position that another reader of the
/// file relies on.
#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

/// Reads into `buf` from `offset` (Windows moves the handle's position too, but every read here
/// names its own).
#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

/// A reader from an offset of a [`SharedFile`].
pub struct ReadAt {
    file: SharedFile,
    offset: u64,
}

impl Read for ReadAt {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = read_at(&self.file.file, buf, self.offset)?;
        self.offset += n as u64;
        Ok(n)
    }
}

impl Length for SharedFile {
    fn len(&self) -> u64 {
        self.len
    }
}

impl ChunkReader for SharedFile {
    type T = BufReader<ReadAt>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        Ok(BufReader::new(ReadAt {
            file: self.clone(),
            offset: start,
        }))
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        let buffer = self
            .read_vec_at(length, start)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::UnexpectedEof => ParquetError::EOF(format!(
                    "expected {length} bytes at offset {start}, the file ends before"
                )),
                _ => ParquetError::from(e),
            })?;
        Ok(buffer.into())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn reads_at_offsets_from_many_threads_through_one_handle() {
        let mut file = tempfile::tempfile().expect("a file");
        let data: Vec<u8> = (0..=255u8).cycle().take(1 << 16).collect();
        file.write_all(&data).expect("written");
        let shared = SharedFile::new(file, data.len() as u64);
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let (shared, data) = (shared.clone(), &data);
                s.spawn(move || {
                    for i in 0..200u64 {
                        let start = (t * 977 + i * 331) % 60_000;
                        let bytes = shared.get_bytes(start, 1000).expect("read");
                        assert_eq!(&bytes[..], &data[start as usize..start as usize + 1000]);
                        let mut read = vec![0; 10];
                        shared
                            .get_read(start)
                            .and_then(|mut r| Ok(r.read_exact(&mut read)?))
                            .expect("read");
                        assert_eq!(read, data[start as usize..start as usize + 10]);
                    }
                });
            }
        });
        assert!(matches!(
            shared.get_bytes(65_000, 1000),
            Err(ParquetError::EOF(_))
        ));
    }

    #[test]
    fn reads_a_vector_to_the_last_byte_and_refuses_lengths_past_the_end() {
        let mut file = tempfile::tempfile().expect("a file");
        let data: Vec<u8> = (0..=255u8).cycle().take(3 << 20).collect();
        file.write_all(&data).expect("written");
        let shared = SharedFile::new(file, data.len() as u64);
        // A few megabytes (more than one read may return), up to the file's last byte.
        let start = 1234;
        let all = shared
            .read_vec_at(data.len() - start, start as u64)
            .expect("read");
        assert_eq!(all, data[start..]);
        assert_eq!(shared.read_vec_at(0, 7).expect("read"), Vec::<u8>::new());
        // One byte too many, and a length a corrupt footer might give: refused, not allocated.
        for (len, at) in [(data.len() - start + 1, start as u64), (usize::MAX, 0)] {
            let e = shared.read_vec_at(len, at).expect_err("past the end");
            assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
        }
    }
}
