//! An in-memory, fault-injecting [`Storage`]: the backend of the crash,
//! torn-write, ENOSPC and EIO tests.
//!
//! # Model
//!
//! Every file is an inode with two contents: `live` (what reads see, the page
//! cache) and `durable` (what the disk holds), plus the list of operations
//! done since the last `sync_data` (writes, truncations, allocations).
//! `sync_data` makes `durable` equal to `live` and clears that list.
//!
//! The namespace is likewise kept twice: the `live` names (what `open`,
//! `read_dir` and `exists` see) and the `durable` names. Creating, renaming
//! and removing a file changes only the live names; [`Storage::sync_dir`] of a
//! directory copies the live state of that directory's direct entries into
//! the durable names. Directories themselves are a simplification: they are
//! durable as soon as [`Storage::create_dir_all`] creates them, and
//! [`MemStorage::remove_dir_all`] removes them (and everything under them) at
//! once from both namespaces.
//!
//! [`MemStorage::crash_image`] builds what a power loss would leave: the
//! durable names, each file with its durable content plus a random, reordered
//! selection of its unsynced operations, large writes possibly torn at
//! 512-byte sector boundaries.
//!
//! Paths are used as given (no canonicalization, `..` is kept), except that
//! `.` components and trailing slashes are ignored, so `a/b` and `a/./b/` name
//! the same file. The empty path and `/` are directories that always exist.
//!
//! Errors carry the Linux error numbers a real file system would return
//! (`ENOENT`, `EEXIST`, `ENOTDIR`, `EISDIR`, `EBADF`, `EINVAL`, `ENOSPC`,
//! `EIO`), so both `kind()` and `raw_os_error()` can be checked.

use super::{DirEntry, OpenMode, Storage, StorageFile, VolumeSpace};
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io;
use std::ops::Bound;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// The unit a torn write is torn at.
const SECTOR: usize = 512;

const EBADF: i32 = 9;
const EEXIST: i32 = 17;
const EINVAL: i32 = 22;
const EIO: i32 = 5;
const EISDIR: i32 = 21;
const ENOENT: i32 = 2;
const ENOSPC: i32 = 28;
const ENOTDIR: i32 = 20;

/// Faults to inject.
///
/// Counters are shared by the whole storage and all its file handles, count
/// from 1, and count every call, including calls that fail (see `MemStats`).
#[derive(Debug, Clone, Default)]
pub struct FaultPlan {
    /// The Nth sync call (sync_data or sync_dir, counted from 1 across the
    /// whole storage) never completes: the storage freezes ("crashes") and
    /// that call and every later operation on this storage or on any file
    /// handle from it returns an error (io::ErrorKind::Other, message
    /// "simulated crash").
    pub crash_at_sync: Option<u64>,
    /// The Nth sync call returns EIO (io::Error::from_raw_os_error(5)); its
    /// pending writes stay non-durable. Later syncs work.
    pub fail_sync_at: Option<u64>,
    /// The Nth write_all_at call (counted from 1) returns ENOSPC
    /// (io::ErrorKind::StorageFull) without writing.
    pub enospc_at_write: Option<u64>,
    /// The Nth read_at call returns EIO.
    pub eio_at_read: Option<u64>,
    /// Every `allocate` call panics (the storage's lock released first):
    /// stands for a bug in a job thread, which must come out as
    /// `Error::Panic`, cleaned up, never as a hung or corrupt job.
    pub panic_on_allocate: bool,
    /// Every file's `sync_data` takes this long first (a slow disk), without
    /// holding up other operations: work queued behind syncs in flight.
    pub slow_sync: Option<std::time::Duration>,
}

/// Operation counters.
///
/// Every call is counted, also when it fails (by an injected fault, on an
/// unavailable path, or on a crashed storage).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemStats {
    /// `read_at` calls.
    pub reads: u64,
    /// `write_all_at` calls.
    pub writes: u64,
    /// `sync_data` and `sync_dir` calls.
    pub syncs: u64,
    /// Bytes written by successful `write_all_at` calls.
    pub bytes_written: u64,
}

/// An in-memory volume with fault injection and power-loss images.
///
/// File handles share the volume's state, so faults, crashes and
/// unavailability reach handles opened before they were set.
///
/// Durability model: each file has live content (what reads see) and durable
/// content (what survives [`MemStorage::crash_image`]); `sync_data` makes the
/// live content durable. Creating, renaming and removing files changes only
/// the live namespace until `sync_dir` of the parent directory. Directories
/// are durable as soon as `create_dir_all` creates them (a simplification).
/// The capacity bounds the live size of all files that have a live name or an
/// open handle.
pub struct MemStorage {
    state: Arc<Mutex<State>>,
}

type InodeId = u64;

/// An operation not yet made durable by `sync_data`.
#[derive(Debug, Clone)]
enum PendingOp {
    /// `write_all_at`.
    Write { offset: usize, data: Vec<u8> },
    /// Truncation to exactly this length (`CreateTruncate` of an existing file).
    SetLen(usize),
    /// `allocate`: the file grows to at least this length. Unlike `SetLen`,
    /// replaying it after a later write (reordering) never shrinks the file,
    /// as a real fallocate never does.
    Grow(usize),
}

impl PendingOp {
    fn apply(&self, content: &mut Vec<u8>) {
        match self {
            PendingOp::Write { offset, data } => write_into(content, *offset, data),
            PendingOp::SetLen(len) => content.resize(*len, 0),
            PendingOp::Grow(len) => {
                if content.len() < *len {
                    content.resize(*len, 0);
                }
            }
        }
    }

    /// Applies the operation as a power loss might have left it: not at all,
    /// whole, or (writes longer than a sector) only some of its sectors.
    fn apply_randomly(&self, content: &mut Vec<u8>, rng: &mut StdRng) {
        match self {
            PendingOp::Write { offset, data } if data.len() > SECTOR => match rng.gen_range(0..3u8) {
                0 => {}
                1 => write_into(content, *offset, data),
                _ => {
                    // Sectors are aligned on the file, as on the disk.
                    let end = offset + data.len();
                    let mut start = *offset;
                    while start < end {
                        let sector_end = ((start / SECTOR + 1) * SECTOR).min(end);
                        if rng.gen_bool(0.5) {
                            write_into(content, start, &data[start - offset..sector_end - offset]);
                        }
                        start = sector_end;
                    }
                }
            },
            _ => {
                if rng.gen_bool(0.5) {
                    self.apply(content);
                }
            }
        }
    }
}

fn write_into(content: &mut Vec<u8>, offset: usize, data: &[u8]) {
    let end = offset + data.len();
    if content.len() < end {
        content.resize(end, 0);
    }
    content[offset..end].copy_from_slice(data);
}

#[derive(Debug, Default)]
struct Inode {
    live: Vec<u8>,
    durable: Vec<u8>,
    pending: Vec<PendingOp>,
    /// Names in the live namespace.
    live_links: u32,
    /// Names in the durable namespace.
    durable_links: u32,
    /// Open handles.
    open: u32,
}

impl Inode {
    /// The bytes this inode takes from the volume's capacity.
    fn charged(&self) -> u64 {
        if self.live_links > 0 || self.open > 0 {
            self.live.len() as u64
        } else {
            0
        }
    }

    fn is_orphan(&self) -> bool {
        self.live_links == 0 && self.durable_links == 0 && self.open == 0
    }
}

#[derive(Debug)]
struct State {
    capacity: u64,
    /// Sum of [`Inode::charged`] over all inodes.
    used: u64,
    inodes: BTreeMap<InodeId, Inode>,
    next_ino: InodeId,
    live: BTreeMap<PathBuf, InodeId>,
    durable: BTreeMap<PathBuf, InodeId>,
    /// Directories (live and durable at once), roots excluded.
    dirs: BTreeSet<PathBuf>,
    /// Prefixes under which every operation fails with EIO.
    unavailable: BTreeSet<PathBuf>,
    faults: FaultPlan,
    stats: MemStats,
    crashed: bool,
}

impl State {
    fn new(capacity: u64, faults: FaultPlan) -> Self {
        State {
            capacity,
            used: 0,
            inodes: BTreeMap::new(),
            next_ino: 1,
            live: BTreeMap::new(),
            durable: BTreeMap::new(),
            dirs: BTreeSet::new(),
            unavailable: BTreeSet::new(),
            faults,
            stats: MemStats::default(),
            crashed: false,
        }
    }

    /// Changes an inode, keeping `used` right and dropping the inode once
    /// nothing refers to it any more.
    fn update<R>(&mut self, ino: InodeId, f: impl FnOnce(&mut Inode) -> R) -> Option<R> {
        let inode = self.inodes.get_mut(&ino)?;
        let before = inode.charged();
        let result = f(inode);
        let after = inode.charged();
        let orphan = inode.is_orphan();
        self.used = self.used + after - before;
        if orphan {
            self.inodes.remove(&ino);
        }
        Some(result)
    }

    fn new_inode(&mut self) -> InodeId {
        let ino = self.next_ino;
        self.next_ino += 1;
        self.inodes.insert(ino, Inode::default());
        ino
    }

    fn link_live(&mut self, path: PathBuf, ino: InodeId) {
        self.update(ino, |i| i.live_links += 1);
        if let Some(old) = self.live.insert(path, ino) {
            self.update(old, |i| i.live_links -= 1);
        }
    }

    fn unlink_live(&mut self, path: &Path) -> Option<InodeId> {
        let ino = self.live.remove(path)?;
        self.update(ino, |i| i.live_links -= 1);
        Some(ino)
    }

    fn link_durable(&mut self, path: PathBuf, ino: InodeId) {
        self.update(ino, |i| i.durable_links += 1);
        if let Some(old) = self.durable.insert(path, ino) {
            self.update(old, |i| i.durable_links -= 1);
        }
    }

    fn unlink_durable(&mut self, path: &Path) {
        if let Some(ino) = self.durable.remove(path) {
            self.update(ino, |i| i.durable_links -= 1);
        }
    }

    fn check_alive(&self) -> io::Result<()> {
        if self.crashed {
            Err(crash_error())
        } else {
            Ok(())
        }
    }

    fn is_unavailable(&self, path: &Path) -> bool {
        self.unavailable.iter().any(|prefix| path.starts_with(prefix))
    }

    fn check_available(&self, path: &Path) -> io::Result<()> {
        if self.is_unavailable(path) {
            Err(os_error(EIO))
        } else {
            Ok(())
        }
    }

    fn is_dir(&self, path: &Path) -> bool {
        is_root(path) || self.dirs.contains(path)
    }

    /// Fails unless `path` is an existing directory.
    fn check_dir(&self, path: &Path) -> io::Result<()> {
        if self.is_dir(path) {
            Ok(())
        } else if self.live.contains_key(path) {
            Err(os_error(ENOTDIR))
        } else {
            Err(os_error(ENOENT))
        }
    }

    /// Fails unless the parent of `path` is an existing directory.
    fn check_parent(&self, path: &Path) -> io::Result<()> {
        match path.parent() {
            Some(parent) => self.check_dir(parent),
            None => Err(os_error(EISDIR)),
        }
    }

    /// Counts a sync call and applies the sync faults to it.
    fn begin_sync(&mut self, path: &Path) -> io::Result<()> {
        self.stats.syncs += 1;
        let n = self.stats.syncs;
        self.check_alive()?;
        if self.faults.crash_at_sync == Some(n) {
            self.crashed = true;
            return Err(crash_error());
        }
        self.check_available(path)?;
        if self.faults.fail_sync_at == Some(n) {
            return Err(os_error(EIO));
        }
        Ok(())
    }

    /// Fails with ENOSPC if growing inode `ino` to `new_len` bytes would
    /// exceed the capacity. The inode must be charged (it has an open handle).
    fn check_growth(&self, ino: InodeId, new_len: u64) -> io::Result<()> {
        let inode = self.inodes.get(&ino).ok_or_else(lost_inode)?;
        let growth = new_len.saturating_sub(inode.live.len() as u64);
        if growth > self.capacity.saturating_sub(self.used) {
            return Err(os_error(ENOSPC));
        }
        Ok(())
    }

    /// The live files directly inside `dir`.
    fn live_children(&self, dir: &Path) -> Vec<(PathBuf, InodeId)> {
        children(&self.live, dir).map(|(p, ino)| (p.clone(), *ino)).collect()
    }
}

/// The entries of `map` whose parent is exactly `dir`.
fn children<'a, V>(map: &'a BTreeMap<PathBuf, V>, dir: &'a Path) -> impl Iterator<Item = (&'a PathBuf, &'a V)> + 'a {
    // Paths order component-wise, so the descendants of `dir` directly
    // follow it.
    map.range::<Path, _>((Bound::Excluded(dir), Bound::Unbounded))
        .take_while(move |(p, _)| p.starts_with(dir))
        .filter(move |(p, _)| p.parent() == Some(dir))
}

fn children_set<'a>(set: &'a BTreeSet<PathBuf>, dir: &'a Path) -> impl Iterator<Item = &'a PathBuf> + 'a {
    set.range::<Path, _>((Bound::Excluded(dir), Bound::Unbounded))
        .take_while(move |p| p.starts_with(dir))
        .filter(move |p| p.parent() == Some(dir))
}

/// Drops `.` components and trailing slashes.
fn normalize(path: &Path) -> PathBuf {
    path.components().filter(|c| !matches!(c, Component::CurDir)).collect()
}

/// The empty path (the current directory) or `/`.
fn is_root(path: &Path) -> bool {
    path.parent().is_none()
}

fn os_error(code: i32) -> io::Error {
    io::Error::from_raw_os_error(code)
}

fn crash_error() -> io::Error {
    io::Error::other("simulated crash")
}

fn lost_inode() -> io::Error {
    io::Error::other("MemStorage: inode of an open handle vanished")
}

fn to_usize(n: u64) -> io::Result<usize> {
    usize::try_from(n).map_err(|_| os_error(ENOSPC))
}

impl MemStorage {
    /// A volume of `capacity` bytes, no faults.
    pub fn new(capacity: u64) -> Self {
        Self::with_faults(capacity, FaultPlan::default())
    }

    /// A volume of `capacity` bytes with faults to inject.
    pub fn with_faults(capacity: u64, plan: FaultPlan) -> Self {
        MemStorage { state: Arc::new(Mutex::new(State::new(capacity, plan))) }
    }

    /// Replaces the fault plan; the operation counters keep counting (so a
    /// plan set later refers to absolute call numbers, see [`MemStorage::stats`]).
    pub fn set_faults(&self, plan: FaultPlan) {
        self.state.lock().faults = plan;
    }

    /// Whether a `crash_at_sync` fault has frozen the storage.
    pub fn is_crashed(&self) -> bool {
        self.state.lock().crashed
    }

    /// The image a power loss would leave right now: a NEW independent
    /// MemStorage (no faults, not crashed, counters at zero, same capacity)
    /// whose namespace is the durable namespace and each file's content is
    /// its durable content plus, decided by a seeded RNG
    /// (rand::rngs::StdRng::seed_from_u64(seed)), each unsynced pending
    /// operation either dropped, applied whole, or (for writes longer than
    /// 512 bytes) torn: only a random subset of its 512-byte sectors applied.
    /// Pending operations are applied in a shuffled order (reordering). Works
    /// whether or not this storage has crashed.
    ///
    /// The same seed on the same state gives the same image. Directories are
    /// all kept (they are durable at once); unavailable prefixes are not.
    pub fn crash_image(&self, seed: u64) -> MemStorage {
        let st = self.state.lock();
        let mut rng = StdRng::seed_from_u64(seed);
        let mut image = State::new(st.capacity, FaultPlan::default());
        image.dirs = st.dirs.clone();
        image.next_ino = st.next_ino;
        let survivors: BTreeSet<InodeId> = st.durable.values().copied().collect();
        for ino in survivors {
            let Some(inode) = st.inodes.get(&ino) else { continue };
            let mut content = inode.durable.clone();
            let mut order: Vec<&PendingOp> = inode.pending.iter().collect();
            order.shuffle(&mut rng);
            for op in order {
                op.apply_randomly(&mut content, &mut rng);
            }
            image.inodes.insert(ino, Inode { live: content.clone(), durable: content, ..Inode::default() });
        }
        for (path, ino) in &st.durable {
            image.link_live(path.clone(), *ino);
            image.link_durable(path.clone(), *ino);
        }
        MemStorage { state: Arc::new(Mutex::new(image)) }
    }

    /// Makes every operation on paths under `prefix` (including already open
    /// handles of files under it) fail with EIO while `unavailable` is true:
    /// simulates a vanished or unreadable volume.
    ///
    /// Handles are matched by the path they were opened with. `is_dir` and
    /// `exists` answer `false` for such paths. Several prefixes may be
    /// unavailable at once.
    pub fn set_unavailable(&self, prefix: &Path, unavailable: bool) {
        let prefix = normalize(prefix);
        let mut st = self.state.lock();
        if unavailable {
            st.unavailable.insert(prefix);
        } else {
            st.unavailable.remove(&prefix);
        }
    }

    /// Removes a directory and everything under it from the namespace (live
    /// and durable), like `rm -rf`; open handles keep working on their inode,
    /// as on Linux.
    pub fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        let path = normalize(path);
        let mut st = self.state.lock();
        st.check_alive()?;
        st.check_available(&path)?;
        if is_root(&path) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "MemStorage: refusing to remove a root directory"));
        }
        st.check_dir(&path)?;
        st.dirs.retain(|d| !d.starts_with(&path));
        let live: Vec<PathBuf> = st.live.keys().filter(|p| p.starts_with(&path)).cloned().collect();
        for p in live {
            st.unlink_live(&p);
        }
        let durable: Vec<PathBuf> = st.durable.keys().filter(|p| p.starts_with(&path)).cloned().collect();
        for p in durable {
            st.unlink_durable(&p);
        }
        Ok(())
    }

    /// Operation counters since this storage was made.
    pub fn stats(&self) -> MemStats {
        self.state.lock().stats
    }

    /// Flips bit `bit` (0-7) of the byte at `offset` of file `path`, in both
    /// the live and the durable content (simulates bit rot on disk).
    ///
    /// The byte is flipped in each content that is long enough; it is an
    /// error (`InvalidInput`) if neither is.
    pub fn corrupt(&self, path: &Path, offset: u64, bit: u8) -> io::Result<()> {
        if bit > 7 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "MemStorage::corrupt: bit must be 0-7"));
        }
        let path = normalize(path);
        let mut st = self.state.lock();
        st.check_alive()?;
        st.check_available(&path)?;
        let ino = *st.live.get(&path).ok_or_else(|| os_error(ENOENT))?;
        let inode = st.inodes.get_mut(&ino).ok_or_else(lost_inode)?;
        let mut flipped = false;
        if let Ok(offset) = usize::try_from(offset) {
            for content in [&mut inode.live, &mut inode.durable] {
                if let Some(byte) = content.get_mut(offset) {
                    *byte ^= 1 << bit;
                    flipped = true;
                }
            }
        }
        if flipped {
            Ok(())
        } else {
            Err(io::Error::new(io::ErrorKind::InvalidInput, "MemStorage::corrupt: offset beyond the end of the file"))
        }
    }
}

impl fmt::Debug for MemStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("MemStorage");
        match self.state.try_lock() {
            Some(st) => d
                .field("capacity", &st.capacity)
                .field("used", &st.used)
                .field("files", &st.live.len())
                .field("dirs", &st.dirs.len())
                .field("crashed", &st.crashed)
                .field("stats", &st.stats)
                .finish(),
            None => d.finish_non_exhaustive(),
        }
    }
}

impl Storage for MemStorage {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn StorageFile>> {
        let path = normalize(path);
        let mut st = self.state.lock();
        st.check_alive()?;
        st.check_available(&path)?;
        if st.is_dir(&path) {
            return Err(os_error(EISDIR));
        }
        st.check_parent(&path)?;
        let existing = st.live.get(&path).copied();
        let ino = match (mode, existing) {
            (OpenMode::Read | OpenMode::ReadWrite, None) => return Err(os_error(ENOENT)),
            (OpenMode::Read | OpenMode::ReadWrite, Some(ino)) => ino,
            (OpenMode::CreateNew, Some(_)) => return Err(os_error(EEXIST)),
            (OpenMode::CreateNew | OpenMode::CreateTruncate, None) => {
                let ino = st.new_inode();
                st.link_live(path.clone(), ino);
                ino
            }
            (OpenMode::CreateTruncate, Some(ino)) => {
                st.update(ino, |inode| {
                    let op = PendingOp::SetLen(0);
                    op.apply(&mut inode.live);
                    inode.pending.push(op);
                });
                ino
            }
        };
        st.update(ino, |inode| inode.open += 1).ok_or_else(lost_inode)?;
        drop(st);
        Ok(Arc::new(MemFile { state: Arc::clone(&self.state), ino, path, writable: mode != OpenMode::Read }))
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let path = normalize(path);
        let mut st = self.state.lock();
        st.check_alive()?;
        st.check_available(&path)?;
        let mut missing = Vec::new();
        for dir in path.ancestors() {
            if st.is_dir(dir) {
                break;
            }
            if st.live.contains_key(dir) {
                return Err(os_error(if dir == path { EEXIST } else { ENOTDIR }));
            }
            missing.push(dir.to_path_buf());
        }
        st.dirs.extend(missing);
        Ok(())
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<DirEntry>> {
        let path = normalize(path);
        let st = self.state.lock();
        st.check_alive()?;
        st.check_available(&path)?;
        st.check_dir(&path)?;
        let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
        let mut out: Vec<DirEntry> = children(&st.live, &path)
            .filter_map(|(p, _)| name(p).map(|name| DirEntry { name, is_dir: false }))
            .chain(children_set(&st.dirs, &path).filter_map(|p| name(p).map(|name| DirEntry { name, is_dir: true })))
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn is_dir(&self, path: &Path) -> bool {
        let path = normalize(path);
        let st = self.state.lock();
        !st.crashed && !st.is_unavailable(&path) && st.is_dir(&path)
    }

    fn exists(&self, path: &Path) -> bool {
        let path = normalize(path);
        let st = self.state.lock();
        !st.crashed && !st.is_unavailable(&path) && (st.is_dir(&path) || st.live.contains_key(&path))
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let path = normalize(path);
        let mut st = self.state.lock();
        st.check_alive()?;
        st.check_available(&path)?;
        if st.is_dir(&path) {
            return Err(os_error(EISDIR));
        }
        st.unlink_live(&path).map(|_| ()).ok_or_else(|| os_error(ENOENT))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let (from, to) = (normalize(from), normalize(to));
        let mut st = self.state.lock();
        st.check_alive()?;
        st.check_available(&from)?;
        st.check_available(&to)?;
        if st.is_dir(&from) {
            return Err(io::Error::new(io::ErrorKind::Unsupported, "MemStorage cannot rename directories"));
        }
        let ino = *st.live.get(&from).ok_or_else(|| os_error(ENOENT))?;
        if st.is_dir(&to) {
            return Err(os_error(EISDIR));
        }
        st.check_parent(&to)?;
        if from != to {
            // Link first: unlinking first could drop the inode.
            st.link_live(to, ino);
            st.unlink_live(&from);
        }
        Ok(())
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        let path = normalize(path);
        let mut st = self.state.lock();
        st.begin_sync(&path)?;
        st.check_dir(&path)?;
        let live = st.live_children(&path);
        let gone: Vec<PathBuf> =
            children(&st.durable, &path).filter(|(p, _)| !st.live.contains_key(*p)).map(|(p, _)| p.clone()).collect();
        for p in gone {
            st.unlink_durable(&p);
        }
        for (p, ino) in live {
            st.link_durable(p, ino);
        }
        Ok(())
    }

    fn volume_space(&self, path: &Path) -> io::Result<VolumeSpace> {
        let path = normalize(path);
        let st = self.state.lock();
        st.check_alive()?;
        st.check_available(&path)?;
        if !st.is_dir(&path) && !st.live.contains_key(&path) {
            return Err(os_error(ENOENT));
        }
        Ok(VolumeSpace { total: st.capacity, available: st.capacity.saturating_sub(st.used) })
    }
}

/// An open file of a [`MemStorage`].
struct MemFile {
    state: Arc<Mutex<State>>,
    ino: InodeId,
    /// The path the file was opened with (for [`MemStorage::set_unavailable`]).
    path: PathBuf,
    writable: bool,
}

impl fmt::Debug for MemFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemFile")
            .field("path", &self.path)
            .field("ino", &self.ino)
            .field("writable", &self.writable)
            .finish()
    }
}

impl MemFile {
    /// Fails if the storage crashed or the file's path is unavailable.
    fn usable(&self, st: &State) -> io::Result<()> {
        st.check_alive()?;
        st.check_available(&self.path)
    }

    fn check_writable(&self) -> io::Result<()> {
        if self.writable {
            Ok(())
        } else {
            Err(os_error(EBADF))
        }
    }
}

impl StorageFile for MemFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let mut st = self.state.lock();
        st.stats.reads += 1;
        let n = st.stats.reads;
        self.usable(&st)?;
        if st.faults.eio_at_read == Some(n) {
            return Err(os_error(EIO));
        }
        let live = &st.inodes.get(&self.ino).ok_or_else(lost_inode)?.live;
        let start = match usize::try_from(offset) {
            Ok(start) if start < live.len() => start,
            _ => return Ok(0),
        };
        let count = buf.len().min(live.len() - start);
        buf[..count].copy_from_slice(&live[start..start + count]);
        Ok(count)
    }

    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let mut st = self.state.lock();
        st.stats.writes += 1;
        let n = st.stats.writes;
        self.usable(&st)?;
        self.check_writable()?;
        if st.faults.enospc_at_write == Some(n) {
            return Err(os_error(ENOSPC));
        }
        if buf.is_empty() {
            return Ok(());
        }
        let end = offset.checked_add(buf.len() as u64).ok_or_else(|| os_error(EINVAL))?;
        st.check_growth(self.ino, end)?;
        to_usize(end)?;
        let op = PendingOp::Write { offset: to_usize(offset)?, data: buf.to_vec() };
        st.update(self.ino, |inode| {
            op.apply(&mut inode.live);
            inode.pending.push(op);
        })
        .ok_or_else(lost_inode)?;
        st.stats.bytes_written += buf.len() as u64;
        Ok(())
    }

    fn allocate(&self, offset: u64, len: u64) -> io::Result<()> {
        let mut st = self.state.lock();
        if st.faults.panic_on_allocate {
            drop(st);
            panic!("simulated bug: allocate called");
        }
        self.usable(&st)?;
        self.check_writable()?;
        if len == 0 {
            return Err(os_error(EINVAL));
        }
        let end = offset.checked_add(len).ok_or_else(|| os_error(EINVAL))?;
        st.check_growth(self.ino, end)?;
        let end = to_usize(end)?;
        st.update(self.ino, |inode| {
            if inode.live.len() < end {
                let op = PendingOp::Grow(end);
                op.apply(&mut inode.live);
                inode.pending.push(op);
            }
        })
        .ok_or_else(lost_inode)
    }

    fn sync_data(&self) -> io::Result<()> {
        let slow = self.state.lock().faults.slow_sync;
        if let Some(d) = slow {
            std::thread::sleep(d);
        }
        let mut st = self.state.lock();
        st.begin_sync(&self.path)?;
        let inode = st.inodes.get_mut(&self.ino).ok_or_else(lost_inode)?;
        inode.durable.clone_from(&inode.live);
        inode.pending.clear();
        Ok(())
    }

    fn len(&self) -> io::Result<u64> {
        let st = self.state.lock();
        self.usable(&st)?;
        Ok(st.inodes.get(&self.ino).ok_or_else(lost_inode)?.live.len() as u64)
    }
}

impl Drop for MemFile {
    fn drop(&mut self) {
        self.state.lock().update(self.ino, |inode| inode.open -= 1);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // unwrap is the clearest assertion in tests
mod tests {
    use super::super::{read_whole, write_atomic};
    use super::*;

    fn p(s: &str) -> &Path {
        Path::new(s)
    }

    /// A storage with directory `d` and durable file `d/f` holding `content`.
    fn with_file(capacity: u64, content: &[u8]) -> MemStorage {
        let s = MemStorage::new(capacity);
        s.create_dir_all(p("d")).unwrap();
        let f = s.open(p("d/f"), OpenMode::CreateNew).unwrap();
        f.write_all_at(content, 0).unwrap();
        f.sync_data().unwrap();
        s.sync_dir(p("d")).unwrap();
        s
    }

    fn read(s: &MemStorage, path: &str) -> Vec<u8> {
        read_whole(s, p(path)).unwrap()
    }

    fn is_crash(e: &io::Error) -> bool {
        e.kind() == io::ErrorKind::Other && e.to_string() == "simulated crash"
    }

    #[test]
    fn synced_data_survives_crash_image_byte_identical() {
        let content: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
        let s = with_file(1 << 20, &content);
        for seed in 0..50 {
            let image = s.crash_image(seed);
            assert!(!image.is_crashed());
            assert_eq!(image.stats(), MemStats::default());
            assert_eq!(read(&image, "d/f"), content);
        }
        // The image is independent of its origin.
        let image = s.crash_image(0);
        image.open(p("d/f"), OpenMode::ReadWrite).unwrap().write_all_at(b"xyz", 0).unwrap();
        assert_eq!(read(&s, "d/f"), content);
    }

    #[test]
    fn unsynced_write_is_dropped_applied_or_torn_never_foreign() {
        let old = vec![0xAAu8; 2048];
        let s = with_file(1 << 20, &old);
        let f = s.open(p("d/f"), OpenMode::ReadWrite).unwrap();
        // 2048 bytes at 1024: 2 sectors overwrite old data, 2 extend the file.
        f.write_all_at(&[0xBB; 2048], 1024).unwrap();
        let mut applied_whole = old[..1024].to_vec();
        applied_whole.extend_from_slice(&[0xBB; 2048]);
        assert_eq!(read(&s, "d/f"), applied_whole);
        let (mut dropped, mut applied, mut torn) = (0, 0, 0);
        for seed in 0..300 {
            let got = read(&s.crash_image(seed), "d/f");
            assert!(got.len() == 2048 || got.len() == 2560 || got.len() == 3072, "length {}", got.len());
            for (i, sector) in got.chunks(SECTOR).enumerate() {
                let first = sector[0];
                assert!(sector.iter().all(|&b| b == first), "sector {i} is mixed");
                match i {
                    0 | 1 => assert_eq!(first, 0xAA),
                    2 | 3 => assert!(first == 0xAA || first == 0xBB),
                    // Beyond the old end: the new data or a hole.
                    _ => assert!(first == 0xBB || first == 0),
                }
            }
            if got == old {
                dropped += 1;
            } else if got == applied_whole {
                applied += 1;
            } else {
                torn += 1;
            }
        }
        assert!(dropped > 0 && applied > 0 && torn > 0, "dropped {dropped} applied {applied} torn {torn}");
        // Same seed, same image.
        assert_eq!(read(&s.crash_image(7), "d/f"), read(&s.crash_image(7), "d/f"));
    }

    #[test]
    fn small_unsynced_writes_are_atomic_and_reordered() {
        let s = with_file(1 << 20, &[0; 8]);
        let f = s.open(p("d/f"), OpenMode::ReadWrite).unwrap();
        f.write_all_at(&[1; 8], 0).unwrap();
        f.write_all_at(&[2; 8], 0).unwrap();
        let mut seen = BTreeSet::new();
        for seed in 0..200 {
            let got = read(&s.crash_image(seed), "d/f");
            assert_eq!(got.len(), 8);
            assert!(got.iter().all(|&b| b == got[0]));
            seen.insert(got[0]);
        }
        // Dropped, first write only, second write last, first write last.
        assert_eq!(seen, BTreeSet::from([0, 1, 2]));
    }

    #[test]
    fn rename_needs_sync_dir_to_survive() {
        let s = with_file(1 << 20, b"hello");
        s.rename(p("d/f"), p("d/g")).unwrap();
        assert!(!s.exists(p("d/f")));
        assert_eq!(read(&s, "d/g"), b"hello");
        let image = s.crash_image(1);
        assert_eq!(read(&image, "d/f"), b"hello");
        assert!(!image.exists(p("d/g")));

        s.sync_dir(p("d/")).unwrap();
        let image = s.crash_image(1);
        assert!(!image.exists(p("d/f")));
        assert_eq!(read(&image, "d/g"), b"hello");
    }

    #[test]
    fn new_file_needs_sync_dir_and_removal_too() {
        let s = with_file(1 << 20, b"old");
        let f = s.open(p("d/new"), OpenMode::CreateNew).unwrap();
        f.write_all_at(b"data", 0).unwrap();
        f.sync_data().unwrap();
        assert!(!s.crash_image(0).exists(p("d/new")));
        s.sync_dir(p("d")).unwrap();
        assert_eq!(read(&s.crash_image(0), "d/new"), b"data");

        s.remove_file(p("d/f")).unwrap();
        assert_eq!(read(&s.crash_image(0), "d/f"), b"old");
        s.sync_dir(p("./d")).unwrap();
        assert!(!s.crash_image(0).exists(p("d/f")));
    }

    #[test]
    fn create_truncate_is_pending_until_sync() {
        let s = with_file(1 << 20, b"old content");
        let f = s.open(p("d/f"), OpenMode::CreateTruncate).unwrap();
        assert_eq!(f.len().unwrap(), 0);
        let mut outcomes = BTreeSet::new();
        for seed in 0..50 {
            outcomes.insert(read(&s.crash_image(seed), "d/f"));
        }
        assert_eq!(outcomes, BTreeSet::from([Vec::new(), b"old content".to_vec()]));
        f.sync_data().unwrap();
        assert_eq!(read(&s.crash_image(0), "d/f"), b"");
    }

    #[test]
    fn crash_at_sync_freezes_the_storage() {
        let s = with_file(1 << 20, b"synced");
        let syncs = s.stats().syncs;
        assert_eq!(syncs, 2);
        s.set_faults(FaultPlan { crash_at_sync: Some(syncs + 2), ..FaultPlan::default() });
        let f = s.open(p("d/f"), OpenMode::ReadWrite).unwrap();
        f.write_all_at(b"second", 0).unwrap();
        f.sync_data().unwrap(); // sync number syncs + 1 works
        f.write_all_at(b"third!", 0).unwrap();
        let e = f.sync_data().unwrap_err();
        assert!(is_crash(&e), "{e:?}");
        assert!(s.is_crashed());
        let mut buf = [0u8; 6];
        assert!(is_crash(&f.read_at(&mut buf, 0).unwrap_err()));
        assert!(is_crash(&f.write_all_at(b"x", 0).unwrap_err()));
        assert!(is_crash(&f.len().unwrap_err()));
        assert!(is_crash(&f.sync_data().unwrap_err()));
        assert!(is_crash(&s.open(p("d/f"), OpenMode::Read).unwrap_err()));
        assert!(is_crash(&s.sync_dir(p("d")).unwrap_err()));
        assert!(is_crash(&s.read_dir(p("d")).unwrap_err()));
        assert!(is_crash(&s.create_dir_all(p("e")).unwrap_err()));
        assert!(!s.exists(p("d/f")));
        // Clearing the faults does not revive it.
        s.set_faults(FaultPlan::default());
        assert!(is_crash(&f.read_at(&mut buf, 0).unwrap_err()));
        for seed in 0..50 {
            let got = read(&s.crash_image(seed), "d/f");
            assert!(got == b"second" || got == b"third!", "{got:?}");
        }
    }

    #[test]
    fn fail_sync_at_gives_eio_once_and_keeps_writes_pending() {
        let s = with_file(1 << 20, b"aaaa");
        s.set_faults(FaultPlan { fail_sync_at: Some(3), ..FaultPlan::default() });
        let f = s.open(p("d/f"), OpenMode::ReadWrite).unwrap();
        f.write_all_at(b"bbbb", 0).unwrap();
        let e = f.sync_data().unwrap_err();
        assert_eq!(e.raw_os_error(), Some(5));
        assert!(!s.is_crashed());
        let outcomes: BTreeSet<Vec<u8>> = (0..50).map(|seed| read(&s.crash_image(seed), "d/f")).collect();
        assert_eq!(outcomes, BTreeSet::from([b"aaaa".to_vec(), b"bbbb".to_vec()]));
        f.sync_data().unwrap();
        assert_eq!(read(&s.crash_image(0), "d/f"), b"bbbb");
        s.sync_dir(p("d")).unwrap();
    }

    #[test]
    fn enospc_by_capacity() {
        let s = MemStorage::new(1000);
        s.create_dir_all(p("d")).unwrap();
        let f = s.open(p("d/a"), OpenMode::CreateNew).unwrap();
        f.write_all_at(&[1; 600], 0).unwrap();
        let g = s.open(p("d/b"), OpenMode::CreateNew).unwrap();
        let e = g.write_all_at(&[2; 401], 0).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(28));
        assert_eq!(e.kind(), io::ErrorKind::StorageFull);
        assert_eq!(g.len().unwrap(), 0);
        assert_eq!(g.allocate(0, 401).unwrap_err().raw_os_error(), Some(28));
        g.write_all_at(&[2; 400], 0).unwrap();
        assert_eq!(s.volume_space(p("d")).unwrap(), VolumeSpace { total: 1000, available: 0 });
        // Overwriting in place needs no space.
        f.write_all_at(&[3; 600], 0).unwrap();
        // Removing a file frees its space only once its last handle is gone.
        s.remove_file(p("d/a")).unwrap();
        assert_eq!(s.volume_space(p("d")).unwrap().available, 0);
        f.write_all_at(b"still works", 0).unwrap();
        drop(f);
        assert_eq!(s.volume_space(p("d")).unwrap().available, 600);
        g.allocate(0, 1000).unwrap();
        assert_eq!(g.len().unwrap(), 1000);
        assert_eq!(s.volume_space(p("")).unwrap().available, 0);
        // Truncation frees space.
        drop(g);
        s.open(p("d/b"), OpenMode::CreateTruncate).unwrap();
        assert_eq!(s.volume_space(p("/")).unwrap().available, 1000);
    }

    #[test]
    fn enospc_at_write() {
        let s = MemStorage::with_faults(1 << 20, FaultPlan { enospc_at_write: Some(2), ..FaultPlan::default() });
        let f = s.open(p("f"), OpenMode::CreateNew).unwrap();
        f.write_all_at(b"one", 0).unwrap();
        assert_eq!(f.write_all_at(b"two", 3).unwrap_err().raw_os_error(), Some(28));
        assert_eq!(read(&s, "f"), b"one");
        f.write_all_at(b"three", 3).unwrap();
        assert_eq!(read(&s, "f"), b"onethree");
        assert_eq!(s.stats().writes, 3);
        assert_eq!(s.stats().bytes_written, 8);
    }

    #[test]
    fn eio_at_read() {
        let s = with_file(1 << 20, b"abc");
        s.set_faults(FaultPlan { eio_at_read: Some(s.stats().reads + 2), ..FaultPlan::default() });
        let f = s.open(p("d/f"), OpenMode::Read).unwrap();
        let mut buf = [0u8; 3];
        assert_eq!(f.read_at(&mut buf, 0).unwrap(), 3);
        assert_eq!(f.read_at(&mut buf, 0).unwrap_err().raw_os_error(), Some(5));
        assert_eq!(f.read_at(&mut buf, 0).unwrap(), 3);
    }

    #[test]
    fn unavailable_prefix_fails_handles_with_eio_and_recovers() {
        let s = with_file(1 << 20, b"data");
        s.create_dir_all(p("other")).unwrap();
        let f = s.open(p("d/f"), OpenMode::ReadWrite).unwrap();
        s.set_unavailable(p("d/"), true);
        let mut buf = [0u8; 4];
        assert_eq!(f.read_at(&mut buf, 0).unwrap_err().raw_os_error(), Some(5));
        assert_eq!(f.write_all_at(b"x", 0).unwrap_err().raw_os_error(), Some(5));
        assert_eq!(f.sync_data().unwrap_err().raw_os_error(), Some(5));
        assert_eq!(f.len().unwrap_err().raw_os_error(), Some(5));
        assert_eq!(s.open(p("d/f"), OpenMode::Read).unwrap_err().raw_os_error(), Some(5));
        assert_eq!(s.read_dir(p("d")).unwrap_err().raw_os_error(), Some(5));
        assert_eq!(s.volume_space(p("d")).unwrap_err().raw_os_error(), Some(5));
        assert!(!s.exists(p("d/f")));
        assert!(!s.is_dir(p("d")));
        // Other paths are unaffected.
        assert!(s.is_dir(p("other")));
        s.open(p("other/g"), OpenMode::CreateNew).unwrap();
        s.set_unavailable(p("./d"), false);
        assert_eq!(f.read_at(&mut buf, 0).unwrap(), 4);
        assert_eq!(&buf, b"data");
        f.sync_data().unwrap();
    }

    #[test]
    fn corrupt_flips_one_bit_live_and_durable() {
        let s = with_file(1 << 20, &[0u8; 16]);
        s.corrupt(p("d/f"), 5, 3).unwrap();
        let mut expected = vec![0u8; 16];
        expected[5] = 8;
        assert_eq!(read(&s, "d/f"), expected);
        assert_eq!(read(&s.crash_image(0), "d/f"), expected);
        s.corrupt(p("d/f"), 5, 3).unwrap();
        assert_eq!(read(&s, "d/f"), vec![0u8; 16]);
        assert_eq!(s.corrupt(p("d/f"), 16, 0).unwrap_err().kind(), io::ErrorKind::InvalidInput);
        assert_eq!(s.corrupt(p("d/f"), 0, 8).unwrap_err().kind(), io::ErrorKind::InvalidInput);
        assert_eq!(s.corrupt(p("d/nope"), 0, 0).unwrap_err().kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn stats_count_every_call() {
        let s = MemStorage::with_faults(
            1 << 20,
            FaultPlan { fail_sync_at: Some(1), enospc_at_write: Some(1), eio_at_read: Some(1), ..FaultPlan::default() },
        );
        let f = s.open(p("f"), OpenMode::CreateNew).unwrap();
        assert!(f.write_all_at(b"abc", 0).is_err());
        f.write_all_at(b"abcd", 0).unwrap();
        f.write_all_at(b"ef", 4).unwrap();
        let mut buf = [0u8; 8];
        assert!(f.read_at(&mut buf, 0).is_err());
        assert_eq!(f.read_at(&mut buf, 0).unwrap(), 6);
        assert_eq!(f.read_at(&mut buf, 4).unwrap(), 2);
        assert_eq!(f.read_at(&mut buf, 6).unwrap(), 0);
        assert_eq!(f.read_at(&mut buf, 100).unwrap(), 0);
        assert!(f.sync_data().is_err());
        f.sync_data().unwrap();
        s.sync_dir(p("")).unwrap();
        f.allocate(0, 100).unwrap();
        assert_eq!(s.stats(), MemStats { reads: 5, writes: 3, syncs: 3, bytes_written: 6 });
    }

    #[test]
    fn namespace_rules() {
        let s = MemStorage::new(1 << 20);
        assert_eq!(s.open(p("a/f"), OpenMode::CreateNew).unwrap_err().kind(), io::ErrorKind::NotFound);
        s.create_dir_all(p("a/b/")).unwrap();
        s.create_dir_all(p("a/./b")).unwrap();
        assert!(s.is_dir(p("a")) && s.is_dir(p("a/b")) && s.is_dir(p("")) && s.is_dir(p(".")));
        assert_eq!(s.open(p("a/f"), OpenMode::Read).unwrap_err().kind(), io::ErrorKind::NotFound);
        assert_eq!(s.open(p("a/f"), OpenMode::ReadWrite).unwrap_err().kind(), io::ErrorKind::NotFound);
        s.open(p("a/./f"), OpenMode::CreateNew).unwrap().write_all_at(b"x", 0).unwrap();
        assert_eq!(s.open(p("a/f"), OpenMode::CreateNew).unwrap_err().kind(), io::ErrorKind::AlreadyExists);
        assert!(s.exists(p("a/f/")) && !s.is_dir(p("a/f")));
        assert_eq!(s.open(p("a/b"), OpenMode::Read).unwrap_err().raw_os_error(), Some(EISDIR));
        assert_eq!(s.open(p("a/f/g"), OpenMode::CreateNew).unwrap_err().raw_os_error(), Some(ENOTDIR));
        assert_eq!(s.create_dir_all(p("a/f")).unwrap_err().kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(s.create_dir_all(p("a/f/x")).unwrap_err().raw_os_error(), Some(ENOTDIR));
        s.open(p("a/e"), OpenMode::CreateTruncate).unwrap();
        s.open(p("a/a.tmp"), OpenMode::CreateTruncate).unwrap();
        s.create_dir_all(p("a/b/c")).unwrap();
        s.create_dir_all(p("a0")).unwrap();
        let names: Vec<(String, bool)> = s.read_dir(p("a")).unwrap().into_iter().map(|e| (e.name, e.is_dir)).collect();
        assert_eq!(names, vec![("a.tmp".into(), false), ("b".into(), true), ("e".into(), false), ("f".into(), false)]);
        let top: Vec<String> = s.read_dir(p(".")).unwrap().into_iter().map(|e| e.name).collect();
        assert_eq!(top, vec!["a", "a0"]);
        assert_eq!(s.read_dir(p("nope")).unwrap_err().kind(), io::ErrorKind::NotFound);
        assert_eq!(s.read_dir(p("a/f")).unwrap_err().raw_os_error(), Some(ENOTDIR));
        assert_eq!(s.remove_file(p("a/b")).unwrap_err().raw_os_error(), Some(EISDIR));
        assert_eq!(s.remove_file(p("a/zz")).unwrap_err().kind(), io::ErrorKind::NotFound);
        assert_eq!(s.rename(p("a/zz"), p("a/y")).unwrap_err().kind(), io::ErrorKind::NotFound);
        assert_eq!(s.rename(p("a/f"), p("nope/y")).unwrap_err().kind(), io::ErrorKind::NotFound);
        assert_eq!(s.rename(p("a/b"), p("a/y")).unwrap_err().kind(), io::ErrorKind::Unsupported);
        s.rename(p("a/f"), p("a/f")).unwrap();
        s.rename(p("a/f"), p("a/e")).unwrap();
        assert_eq!(read(&s, "a/e"), b"x");
        let read_only = s.open(p("a/e"), OpenMode::Read).unwrap();
        assert_eq!(read_only.write_all_at(b"y", 0).unwrap_err().raw_os_error(), Some(EBADF));
        assert_eq!(read_only.allocate(0, 1).unwrap_err().raw_os_error(), Some(EBADF));
        assert_eq!(s.volume_space(p("a/zz")).unwrap_err().kind(), io::ErrorKind::NotFound);
        // Absolute paths are a separate tree.
        s.create_dir_all(p("/abs/x")).unwrap();
        assert!(s.is_dir(p("/abs/x")) && !s.is_dir(p("abs")));
        let root: Vec<String> = s.read_dir(p("/")).unwrap().into_iter().map(|e| e.name).collect();
        assert_eq!(root, vec!["abs"]);
    }

    #[test]
    fn remove_dir_all_keeps_open_handles_working() {
        let s = with_file(1 << 20, b"kept");
        s.create_dir_all(p("d/sub")).unwrap();
        s.open(p("d/sub/g"), OpenMode::CreateNew).unwrap();
        let f = s.open(p("d/f"), OpenMode::ReadWrite).unwrap();
        s.remove_dir_all(p("d")).unwrap();
        assert!(!s.exists(p("d")) && !s.exists(p("d/f")) && !s.exists(p("d/sub/g")));
        assert!(!s.crash_image(0).exists(p("d/f")));
        f.write_all_at(b"more", 4).unwrap();
        f.sync_data().unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(f.read_at(&mut buf, 0).unwrap(), 8);
        assert_eq!(&buf, b"keptmore");
        assert_eq!(s.remove_dir_all(p("d")).unwrap_err().kind(), io::ErrorKind::NotFound);
        drop(f);
        assert_eq!(s.volume_space(p("")).unwrap().available, 1 << 20);
        assert!(s.state.lock().inodes.is_empty());
    }

    #[test]
    fn write_atomic_survives_every_crash_point() {
        let old = vec![b'o'; 3000];
        let new = vec![b'n'; 1700];
        // k = 1: crash in sync_data, 2: in sync_dir, 3: no crash.
        for k in 1..=3 {
            for stale_tmp in [false, true] {
                let s = MemStorage::new(1 << 20);
                s.create_dir_all(p("d")).unwrap();
                write_atomic(&s, p("d/f"), &old).unwrap();
                if stale_tmp {
                    let t = s.open(p("d/f.tmp"), OpenMode::CreateNew).unwrap();
                    t.write_all_at(&[b'x'; 700], 0).unwrap();
                    t.sync_data().unwrap();
                    s.sync_dir(p("d")).unwrap();
                }
                s.set_faults(FaultPlan { crash_at_sync: Some(s.stats().syncs + k), ..FaultPlan::default() });
                let result = write_atomic(&s, p("d/f"), &new);
                assert_eq!(result.is_ok(), k == 3);
                assert_eq!(s.is_crashed(), k < 3);
                for seed in 0..100 {
                    let got = read(&s.crash_image(seed), "d/f");
                    assert!(got == old || got == new, "k {k} seed {seed}: {} bytes", got.len());
                    if k == 3 {
                        assert_eq!(got, new);
                    }
                }
            }
        }
    }

    #[test]
    fn shared_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<MemStorage>();
        let s = Arc::new(MemStorage::new(1 << 20));
        let f = s.open(p("f"), OpenMode::CreateNew).unwrap();
        std::thread::scope(|scope| {
            for t in 0..4u8 {
                let f = Arc::clone(&f);
                scope.spawn(move || {
                    for i in 0..100u64 {
                        f.write_all_at(&[t; 10], (u64::from(t) * 100 + i) * 10).unwrap();
                    }
                    f.sync_data().unwrap();
                });
            }
        });
        assert_eq!(f.len().unwrap(), 4000);
        assert_eq!(s.stats().writes, 400);
        assert!(format!("{s:?}").contains("capacity"));
    }
}
