//! The real file system, through `std::fs` and `rustix` (for `fallocate` and
//! `statvfs`, which `std` does not offer). No unsafe code: rustix wraps the
//! system calls safely.

use super::{DirEntry, OpenMode, Storage, StorageFile, VolumeSpace};
use std::fs::{File, OpenOptions};
use std::io::{self, IoSlice};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

/// The operating system's file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsStorage;

impl OsStorage {
    /// A handle to the real file system.
    pub fn new() -> Self {
        OsStorage
    }
}

#[derive(Debug)]
struct OsFile(File);

impl Storage for OsStorage {
    fn is_native(&self) -> bool {
        true
    }

    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn StorageFile>> {
        let mut opts = OpenOptions::new();
        match mode {
            OpenMode::Read => opts.read(true),
            OpenMode::ReadWrite => opts.read(true).write(true),
            OpenMode::CreateNew => opts.read(true).write(true).create_new(true),
            OpenMode::CreateTruncate => opts.read(true).write(true).create(true).truncate(true),
        };
        Ok(Arc::new(OsFile(opts.open(path)?)))
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir_all(path)
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<DirEntry>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(path)? {
            let entry = entry?;
            out.push(DirEntry {
                name: entry.file_name().to_string_lossy().into_owned(),
                is_dir: entry.file_type()?.is_dir(),
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }

    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        File::open(path)?.sync_all()
    }

    fn lock_dir(&self, dir: &Path) -> io::Result<super::DirLock> {
        let file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(dir.join(super::LOCK_FILE))?;
        // Released by the kernel when the file is closed or the process dies
        // (kill -9 included), so a stale lock never blocks a restart.
        rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(io::Error::from)?;
        Ok(super::DirLock(Some(Box::new(file))))
    }

    fn volume_space(&self, path: &Path) -> io::Result<VolumeSpace> {
        let st = rustix::fs::statvfs(path).map_err(io::Error::from)?;
        Ok(VolumeSpace {
            total: st.f_blocks.saturating_mul(st.f_frsize),
            available: st.f_bavail.saturating_mul(st.f_frsize),
        })
    }
}

impl StorageFile for OsFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.0.read_at(buf, offset)
    }

    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.0.write_all_at(buf, offset)
    }

    fn write_all_vectored_at(&self, bufs: &[&[u8]], mut offset: u64) -> io::Result<()> {
        let mut slices: Vec<IoSlice<'_>> = bufs.iter().filter(|b| !b.is_empty()).map(|b| IoSlice::new(b)).collect();
        let mut rest = &mut slices[..];
        while !rest.is_empty() {
            // At most IOV_MAX (1024 on Linux) pieces per call.
            let batch = rest.len().min(1024);
            match rustix::io::pwritev(&self.0, &rest[..batch], offset) {
                Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
                Ok(n) => {
                    offset += n as u64;
                    IoSlice::advance_slices(&mut rest, n);
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    fn allocate(&self, offset: u64, len: u64) -> io::Result<()> {
        match rustix::fs::fallocate(&self.0, rustix::fs::FallocateFlags::empty(), offset, len) {
            Ok(()) => Ok(()),
            // Some file systems (old NFS, some FUSE mounts) lack fallocate:
            // write zeros instead, which allocates just as really.
            Err(rustix::io::Errno::OPNOTSUPP) | Err(rustix::io::Errno::NOSYS) => write_zeros(&self.0, offset, len),
            Err(e) => Err(e.into()),
        }
    }

    fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }

    fn will_need(&self, offset: u64, len: u64) {
        // Only a hint: the read that follows reports any real error.
        let _ = rustix::fs::fadvise(&self.0, offset, len, rustix::fs::Advice::WillNeed);
    }
}

fn write_zeros(file: &File, mut offset: u64, len: u64) -> io::Result<()> {
    let zeros = vec![0u8; 1 << 20];
    let end = offset + len;
    while offset < end {
        let n = (end - offset).min(zeros.len() as u64) as usize;
        file.write_all_at(&zeros[..n], offset)?;
        offset += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vectored_write_lands_as_the_concatenation() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = OsStorage::new().open(&dir.path().join("f"), OpenMode::CreateNew).expect("create");
        f.write_all_at(&[0xAA; 64], 0).expect("prefill");
        // More pieces than one pwritev takes (IOV_MAX), empty ones among them.
        let pieces: Vec<Vec<u8>> = (0..3000u32).map(|i| vec![i as u8; (i % 5) as usize]).collect();
        let refs: Vec<&[u8]> = pieces.iter().map(|p| &p[..]).collect();
        f.write_all_vectored_at(&refs, 10).expect("write");
        let want = refs.concat();
        let mut got = vec![0u8; want.len() + 20];
        let n = f.read_at(&mut got, 0).expect("read");
        assert_eq!(n, 64.max(10 + want.len()));
        assert_eq!(&got[..10], &[0xAA; 10]);
        assert_eq!(&got[10..10 + want.len()], &want[..]);
    }
}
