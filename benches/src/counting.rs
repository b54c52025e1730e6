//! A storage backend that counts the positioned reads and the fdatasyncs the
//! engine makes through it, around the real file system: how `reads_per_get`
//! is measured, and how the raw baseline gets the engine's sync count.

use pstor_core::io::{DirEntry, DirLock, OpenMode, OsStorage, Storage, StorageFile, VolumeSpace};
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Calls counted so far.
#[derive(Debug, Default)]
pub struct Counters {
    pub reads: AtomicU64,
    pub read_bytes: AtomicU64,
    pub syncs: AtomicU64,
}

/// [`OsStorage`] with counters.
#[derive(Debug, Default)]
pub struct CountingStorage {
    os: OsStorage,
    pub counters: Arc<Counters>,
}

#[derive(Debug)]
struct CountingFile {
    file: Arc<dyn StorageFile>,
    counters: Arc<Counters>,
}

impl StorageFile for CountingFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.counters.reads.fetch_add(1, Ordering::Relaxed);
        let n = self.file.read_at(buf, offset)?;
        self.counters.read_bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
    fn write_all_vectored_at(&self, bufs: &[&[u8]], offset: u64) -> io::Result<()> {
        self.file.write_all_vectored_at(bufs, offset)
    }
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.file.write_all_at(buf, offset)
    }
    fn allocate(&self, offset: u64, len: u64) -> io::Result<()> {
        self.file.allocate(offset, len)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.counters.syncs.fetch_add(1, Ordering::Relaxed);
        self.file.sync_data()
    }
    fn len(&self) -> io::Result<u64> {
        self.file.len()
    }
    fn will_need(&self, offset: u64, len: u64) {
        self.file.will_need(offset, len)
    }
}

impl Storage for CountingStorage {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn StorageFile>> {
        let file = self.os.open(path, mode)?;
        Ok(Arc::new(CountingFile { file, counters: Arc::clone(&self.counters) }))
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.os.create_dir_all(path)
    }
    fn read_dir(&self, path: &Path) -> io::Result<Vec<DirEntry>> {
        self.os.read_dir(path)
    }
    fn is_dir(&self, path: &Path) -> bool {
        self.os.is_dir(path)
    }
    fn exists(&self, path: &Path) -> bool {
        self.os.exists(path)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.os.remove_file(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.os.rename(from, to)
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        self.os.sync_dir(path)
    }
    fn volume_space(&self, path: &Path) -> io::Result<VolumeSpace> {
        self.os.volume_space(path)
    }
    fn lock_dir(&self, dir: &Path) -> io::Result<DirLock> {
        self.os.lock_dir(dir)
    }
    fn is_native(&self) -> bool {
        self.os.is_native()
    }
}
