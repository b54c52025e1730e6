//! The storage backend: every byte pstor reads or writes goes through these
//! two traits, so that crash, torn-write, ENOSPC and EIO tests can run against
//! an in-memory backend ([`MemStorage`]) as fast and deterministically as the
//! real one ([`OsStorage`]) runs against the file system.

mod mem;
mod os;

pub use mem::{FaultPlan, MemStats, MemStorage};
pub use os::OsStorage;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How [`Storage::open`] opens a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Open an existing file for reading only.
    Read,
    /// Open an existing file for reading and writing.
    ReadWrite,
    /// Create a new file for reading and writing; fails if it exists.
    CreateNew,
    /// Create the file if missing, truncate it if present.
    CreateTruncate,
}

/// A directory entry returned by [`Storage::read_dir`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// The entry's file name (no directory part).
    pub name: String,
    /// Whether the entry is a directory.
    pub is_dir: bool,
}

/// Space figures of the volume that holds a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VolumeSpace {
    /// Total bytes of the volume.
    pub total: u64,
    /// Bytes available to this process.
    pub available: u64,
}

/// A file system, real or simulated.
pub trait Storage: Send + Sync + std::fmt::Debug {
    /// Opens a file.
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn StorageFile>>;
    /// Creates a directory and its parents.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Lists a directory.
    fn read_dir(&self, path: &Path) -> io::Result<Vec<DirEntry>>;
    /// Whether the path exists and is a directory.
    fn is_dir(&self, path: &Path) -> bool;
    /// Whether the path exists (file or directory).
    fn exists(&self, path: &Path) -> bool;
    /// Removes a file.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Atomically renames a file (durable after [`Storage::sync_dir`] of the parent).
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Makes the directory's entries (created, renamed, removed files) durable.
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
    /// Space figures of the volume holding `path`.
    fn volume_space(&self, path: &Path) -> io::Result<VolumeSpace>;
    /// Takes an exclusive lock on the directory `dir` for this process (so
    /// two engines never write one folder), held until the guard is dropped.
    /// Fails with `WouldBlock` if another holder has it. Backends without
    /// other processes (in-memory) need not lock.
    fn lock_dir(&self, dir: &Path) -> io::Result<DirLock> {
        let _ = dir;
        Ok(DirLock(None))
    }
    /// Whether `path` is a real file-system path that other libraries may
    /// open themselves (the key index database). In-memory backends say no,
    /// and the engine keeps such state in memory, rebuilt at every open.
    fn is_native(&self) -> bool {
        false
    }
}

/// Holds a directory lock from [`Storage::lock_dir`] until dropped.
#[derive(Debug)]
pub struct DirLock(pub Option<Box<dyn std::any::Any + Send + Sync>>);

/// Name of the lock file in an engine data directory or a space folder.
pub const LOCK_FILE: &str = "pstor.lock";

/// An open file.
#[allow(clippy::len_without_is_empty)] // a file's length, not a collection
pub trait StorageFile: Send + Sync + std::fmt::Debug {
    /// Reads up to `buf.len()` bytes at `offset`; returns how many were read.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
    /// Writes all of `buf` at `offset`.
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// Writes `bufs` one after the other from `offset` on. The default makes
    /// one contiguous write of their concatenation (a storage that counts
    /// writes or injects faults by write sees one write); [`OsStorage`]'s
    /// files make vectored positioned writes instead, without the copy.
    fn write_all_vectored_at(&self, bufs: &[&[u8]], offset: u64) -> io::Result<()> {
        self.write_all_at(&bufs.concat(), offset)
    }
    /// Really allocates `len` bytes starting at `offset` (fallocate), extending the file.
    fn allocate(&self, offset: u64, len: u64) -> io::Result<()>;
    /// Makes the file's data (and the size) durable (fdatasync).
    fn sync_data(&self) -> io::Result<()>;
    /// The file's current length.
    fn len(&self) -> io::Result<u64>;
    /// A hint that `len` bytes at `offset` will be read soon (readahead);
    /// it may be ignored.
    fn will_need(&self, _offset: u64, _len: u64) {}
}

/// Reads exactly `buf.len()` bytes at `offset`, failing with `UnexpectedEof` if
/// the file ends first.
pub fn read_exact_at(file: &dyn StorageFile, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    while !buf.is_empty() {
        match file.read_at(buf, offset) {
            Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "file ended before the expected bytes")),
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads a whole small file.
pub fn read_whole(storage: &dyn Storage, path: &Path) -> io::Result<Vec<u8>> {
    let file = storage.open(path, OpenMode::Read)?;
    let len = usize::try_from(file.len()?).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "file too large"))?;
    let mut buf = vec![0u8; len];
    read_exact_at(file.as_ref(), &mut buf, 0)?;
    Ok(buf)
}

/// Replaces `path` atomically and durably with `bytes`: write a temporary
/// file, fdatasync it, rename it over `path`, fsync the directory. A crash at
/// any point leaves either the old or the new content, never a mix.
pub fn write_atomic(storage: &dyn Storage, path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = temp_path(path);
    let file = storage.open(&tmp, OpenMode::CreateTruncate)?;
    file.write_all_at(bytes, 0)?;
    file.sync_data()?;
    drop(file);
    storage.rename(&tmp, path)?;
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    storage.sync_dir(dir)
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".tmp");
    path.with_file_name(name)
}
