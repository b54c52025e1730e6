//! A storage space at run time: its data files, its status, and its one I/O
//! thread. All writes to a space go through that thread's FIFO queue, so the
//! order of header, record and footer writes is the order they were queued,
//! and one `fdatasync` per dirty data file serves every writer that asked for a
//! sync while it was queued (group commit). Reads do not queue: readers call
//! `pread` directly and run concurrently with the writer.

use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::events::{EventFeed, EventKind};
use crate::format::needle::{
    camera_bits, NeedleEntry, NeedleHeader, DELETE_MARK, DELETE_MARK_OFFSET, NEEDLE_HEADER_LEN,
};
use crate::format::record::EncodedRecord;
use crate::format::segment::{
    encode_footer, encode_picture_footer, RecordEntry, SegmentHeader, SegmentUse, DATA_START,
};
use crate::format::superblock::SuperBlock;
use crate::io::{read_exact_at, OpenMode, Storage, StorageFile};
use crate::types::*;
use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Status of a storage space (manual 3.5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpaceStatus {
    /// Known to the engine, but its folder holds no space (no superblock):
    /// wiped by hand. It may be deleted, then initialized again.
    Uninitialized,
    /// Being initialized (see progress).
    Initializing,
    /// In service.
    Normal,
    /// Its segments are being scanned (see progress).
    Scanning,
    /// Being restored from disk into this engine (see progress).
    Restoring,
    /// Its folder vanished or became unreadable.
    Lost,
    /// A fatal I/O error (failed fsync or write); no more writes go to it.
    Error,
}

impl SpaceStatus {
    fn code(self) -> u8 {
        self as u8
    }
    fn from_code(c: u8) -> Self {
        match c {
            0 => SpaceStatus::Uninitialized,
            1 => SpaceStatus::Initializing,
            2 => SpaceStatus::Normal,
            3 => SpaceStatus::Scanning,
            4 => SpaceStatus::Restoring,
            5 => SpaceStatus::Lost,
            _ => SpaceStatus::Error,
        }
    }
}

/// Locks a folder for this engine, mapping "held elsewhere" to [`Error::InUse`].
pub(crate) fn lock_dir(storage: &dyn Storage, dir: &Path) -> Result<crate::io::DirLock> {
    storage.lock_dir(dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::WouldBlock => Error::InUse(dir.to_path_buf()),
        _ => Error::io(format!("locking {}", dir.display()), e),
    })
}

/// Name of the `n`th data file of a space.
pub(crate) fn data_file_name(n: u32) -> String {
    format!("seg-{n:05}.dat")
}

/// An unsealed segment: records are appended by one stream (video) or needles
/// by a pool's picture writer; the I/O thread lists each one here once it is
/// written, so readers see it.
#[derive(Debug)]
pub(crate) struct OpenSeg {
    pub index: u32,
    pub generation: u32,
    pub pool: PoolId,
    /// The stream (video); 0 for a picture segment.
    pub stream: StreamId,
    /// Video or Picture.
    pub usage: SegmentUse,
    pub inner: Mutex<OpenInner>,
    /// Its seal is queued: it takes no more records and becomes sealed soon.
    pub sealing: AtomicBool,
}

#[derive(Debug, Default)]
pub(crate) struct OpenInner {
    /// Video records written to the file, in order.
    pub records: Vec<RecordEntry>,
    /// Needles written to the file, in order (picture segments).
    pub needles: Vec<NeedleEntry>,
    /// How many of them are durable (covered by a completed fdatasync).
    pub durable: usize,
    /// Picture segments: capture-time range and camera filter of the needles.
    pub pictures: Option<(Timestamp, Timestamp)>,
    pub cameras: u64,
}

impl OpenInner {
    /// Records or needles written.
    pub fn len(&self) -> usize {
        self.records.len() + self.needles.len()
    }
    pub fn push_needle(&mut self, e: NeedleEntry) {
        self.pictures = Some(match self.pictures {
            Some((a, b)) => (a.min(e.captured_at), b.max(e.captured_at)),
            None => (e.captured_at, e.captured_at),
        });
        self.cameras |= camera_bits(e.camera_hash);
        self.needles.push(e);
    }
    /// (first, last) timestamp of what is written, if anything.
    pub fn time_range(&self) -> Option<(Timestamp, Timestamp)> {
        match (self.records.first(), self.records.last()) {
            (Some(f), Some(l)) => Some((f.first_ts, l.last_ts)),
            _ => self.pictures,
        }
    }
    /// End of the last record or needle.
    pub fn used(&self) -> u64 {
        let r = self.records.last().map(|r| r.end());
        let n = self.needles.last().map(|n| n.end());
        r.or(n).unwrap_or(DATA_START)
    }
}

impl OpenSeg {
    pub fn new(
        index: u32,
        generation: u32,
        pool: PoolId,
        stream: StreamId,
        usage: SegmentUse,
        records: Vec<RecordEntry>,
        needles: Vec<NeedleEntry>,
    ) -> Self {
        let mut inner = OpenInner { records, ..OpenInner::default() };
        for n in needles {
            inner.push_needle(n);
        }
        inner.durable = inner.len();
        OpenSeg { index, generation, pool, stream, usage, inner: Mutex::new(inner), sealing: AtomicBool::new(false) }
    }
    pub fn records(&self) -> Vec<RecordEntry> {
        self.inner.lock().records.clone()
    }
    pub fn needles(&self) -> Vec<NeedleEntry> {
        self.inner.lock().needles.clone()
    }
    /// What the segment is once sealed, `None` if it holds nothing.
    pub fn summary(&self) -> Option<crate::store::Sealed> {
        let g = self.inner.lock();
        let (first_ts, last_ts) = g.time_range()?;
        Some(crate::store::Sealed {
            pool: self.pool,
            stream: self.stream,
            usage: self.usage,
            first_ts,
            last_ts,
            used: g.used(),
            entries: g.len() as u32,
            cameras: g.cameras,
        })
    }
    /// The footer (entries + trailer) that seals it.
    pub fn encode_footer(&self) -> Vec<u8> {
        let g = self.inner.lock();
        match self.usage {
            SegmentUse::Picture => encode_picture_footer(self.generation, &g.needles),
            _ => encode_footer(self.generation, &g.records),
        }
    }
}

/// Called by the I/O thread when a seal finished (or failed).
pub(crate) type SealDone = Box<dyn FnOnce(Result<()>) + Send>;

/// Work for a space's I/O thread.
pub(crate) enum IoCmd {
    /// Write a record and list it in its open segment.
    Record { offset: u64, data: EncodedRecord, entry: RecordEntry, open: Arc<OpenSeg> },
    /// Write a needle, list it in its open picture segment, then answer.
    Needle { offset: u64, data: Vec<u8>, entry: NeedleEntry, open: Arc<OpenSeg>, done: Sender<Result<()>> },
    /// Set the delete mark of the needle at `offset` if it still is the one
    /// named (generation, cookie), and with `durable` fdatasync it at once
    /// (otherwise the next sync covers it); answers whether it was live.
    MarkDeleted { index: u32, offset: u64, generation: u32, cookie: u32, durable: bool, done: Sender<Result<bool>> },
    /// Write a segment header; `durable` = fdatasync it before anything
    /// queued after it for that segment is written (an allocation must be on
    /// disk before records overwrite the segment's previous life). Commands
    /// for other segments go on meanwhile.
    Header { index: u32, data: Vec<u8>, durable: bool },
    /// Make the open segment's records durable, then write its footer.
    Seal { open: Arc<OpenSeg>, done: SealDone },
    /// Rewrite the footer of a sealed segment whose footer was found invalid
    /// (a crash tore it), if the segment still has that generation and use.
    Footer { index: u32, generation: u32, usage: SegmentUse, used: u64, footer: Vec<u8> },
    /// Make everything queued so far durable.
    Sync { done: Sender<Result<()>> },
    /// Answer once everything queued so far is written (not synced).
    Barrier { done: Sender<()> },
}

/// A storage space.
#[derive(Debug)]
pub(crate) struct Space {
    pub id: SpaceId,
    pub path: PathBuf,
    pub sb: SuperBlock,
    files: Vec<Arc<dyn StorageFile>>,
    status: AtomicU8,
    progress: AtomicU8,
    tx: Mutex<Option<Sender<IoCmd>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Keeps other engines out of this folder while it is attached.
    lock: Mutex<Option<crate::io::DirLock>>,
}

impl Space {
    /// Opens the data files of an initialized space (does not start I/O).
    pub fn open(storage: &dyn Storage, path: &Path, sb: SuperBlock) -> Result<Self> {
        let lock = lock_dir(storage, path)?;
        let nfiles = sb.segment_count.div_ceil(sb.segments_per_file);
        let mut files = Vec::with_capacity(nfiles as usize);
        for n in 0..nfiles {
            let p = path.join(data_file_name(n));
            let f =
                storage.open(&p, OpenMode::ReadWrite).map_err(|e| Error::io(format!("opening {}", p.display()), e))?;
            let want = sb.segments_in_file(n) as u64 * sb.segment_size;
            let have = f.len().map_err(|e| Error::io(format!("sizing {}", p.display()), e))?;
            if have < want {
                return Err(Error::Corrupt(format!(
                    "{} is {have} bytes, expected {want} (truncated data file)",
                    p.display()
                )));
            }
            files.push(f);
        }
        Ok(Space {
            id: sb.space_id,
            path: path.to_path_buf(),
            sb,
            files,
            status: AtomicU8::new(SpaceStatus::Scanning.code()),
            progress: AtomicU8::new(0),
            tx: Mutex::new(None),
            thread: Mutex::new(None),
            lock: Mutex::new(Some(lock)),
        })
    }

    pub fn status(&self) -> SpaceStatus {
        SpaceStatus::from_code(self.status.load(Ordering::SeqCst))
    }

    /// Sets the status; returns the previous one.
    pub fn set_status(&self, s: SpaceStatus) -> SpaceStatus {
        SpaceStatus::from_code(self.status.swap(s.code(), Ordering::SeqCst))
    }

    pub fn progress(&self) -> u8 {
        self.progress.load(Ordering::Relaxed)
    }

    pub fn set_progress(&self, p: u8) {
        self.progress.store(p.min(100), Ordering::Relaxed);
    }

    /// Whether new data may be written here.
    pub fn writable(&self) -> bool {
        self.status() == SpaceStatus::Normal
    }

    /// Fails unless the space can serve reads.
    pub fn check_readable(&self) -> Result<()> {
        match self.status() {
            SpaceStatus::Lost => Err(Error::SpaceLost(self.id)),
            _ => Ok(()),
        }
    }

    fn locate(&self, index: u32, offset: u64) -> Result<(&Arc<dyn StorageFile>, u64)> {
        let spf = self.sb.segments_per_file;
        let file = self
            .files
            .get((index / spf) as usize)
            .ok_or_else(|| Error::Corrupt(format!("segment {index} beyond the space")))?;
        Ok((file, (index % spf) as u64 * self.sb.segment_size + offset))
    }

    /// Reads bytes of a segment.
    pub fn read(&self, index: u32, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.check_readable()?;
        if offset + buf.len() as u64 > self.sb.segment_size {
            return Err(Error::Corrupt(format!("read beyond the end of segment {index}")));
        }
        let (file, off) = self.locate(index, offset)?;
        read_exact_at(file.as_ref(), buf, off)
            .map_err(|e| Error::io(format!("reading segment {index} of space {}", self.id), e))
    }

    /// Hints that bytes of a segment will be read soon (readahead).
    pub fn will_need(&self, index: u32, offset: u64, len: u64) {
        if let Ok((file, off)) = self.locate(index, offset) {
            file.will_need(off, len);
        }
    }

    /// Writes bytes of a segment directly (initialization and repair only;
    /// in service every write goes through the I/O thread).
    pub fn write_direct(&self, index: u32, offset: u64, data: &[u8]) -> Result<()> {
        self.write_pieces_direct(index, offset, &[data])
    }

    /// As [`Space::write_direct`], for consecutive pieces (one vectored write).
    pub fn write_pieces_direct(&self, index: u32, offset: u64, pieces: &[&[u8]]) -> Result<()> {
        let (file, off) = self.locate(index, offset)?;
        let res = match pieces {
            [one] => file.write_all_at(one, off),
            many => file.write_all_vectored_at(many, off),
        };
        res.map_err(|e| Error::io(format!("writing segment {index} of space {}", self.id), e))
    }

    /// fdatasync of every data file (initialization and repair only).
    pub fn sync_all_direct(&self) -> Result<()> {
        for f in &self.files {
            f.sync_data().map_err(|e| Error::io(format!("syncing space {}", self.id), e))?;
        }
        Ok(())
    }

    /// Starts the I/O thread.
    /// `writeback_bytes`: see [`crate::EngineOptions::writeback_bytes`].
    pub fn start_io(
        self: &Arc<Self>,
        depth: usize,
        writeback_bytes: u64,
        events: Arc<EventFeed>,
        clock: Arc<dyn Clock>,
    ) {
        let (tx, rx) = crossbeam_channel::bounded(depth.max(1));
        let me = Arc::clone(self);
        let (ev, ck) = (Arc::clone(&events), Arc::clone(&clock));
        let handle = std::thread::Builder::new()
            .name(format!("pstor-io-{}", self.id))
            .spawn(move || IoThread::new(me, ev, ck, writeback_bytes).run(rx));
        match handle {
            Ok(h) => {
                *self.tx.lock() = Some(tx);
                *self.thread.lock() = Some(h);
            }
            Err(e) => {
                self.set_status(SpaceStatus::Error);
                events.emit(
                    clock.now(),
                    EventKind::SpaceStatus { space: self.id, status: SpaceStatus::Error, detail: e.to_string() },
                );
            }
        }
    }

    /// Queues work for the I/O thread (blocks while the queue is full: backpressure).
    pub fn submit(&self, cmd: IoCmd) -> Result<()> {
        let tx = self.tx.lock().clone();
        match tx {
            Some(tx) => tx.send(cmd).map_err(|_| Error::SpaceFailed(self.id)),
            None => Err(Error::SpaceFailed(self.id)),
        }
    }

    /// Queues a sync and returns the receiver of its result.
    pub fn sync_async(&self) -> Result<crossbeam_channel::Receiver<Result<()>>> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.submit(IoCmd::Sync { done: tx })?;
        Ok(rx)
    }

    /// Waits until everything queued so far has been written.
    pub fn barrier(&self) -> Result<()> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.submit(IoCmd::Barrier { done: tx })?;
        rx.recv().map_err(|_| Error::SpaceFailed(self.id))
    }

    /// Stops the I/O thread after it has done everything queued.
    pub fn stop_io(&self) {
        self.tx.lock().take();
        if let Some(h) = self.thread.lock().take() {
            let _ = h.join();
        }
    }

    /// Lets other engines use the folder (after close or delete).
    pub fn release_lock(&self) {
        self.lock.lock().take();
    }

    /// Header bytes for segment `index` in a new state.
    pub fn header_bytes(
        &self,
        index: u32,
        generation: u32,
        usage: SegmentUse,
        pool: PoolId,
        stream: StreamId,
        now: Timestamp,
    ) -> Vec<u8> {
        SegmentHeader { space_uuid: self.sb.space_uuid, index, generation, usage, pool, stream, stamped_at: now }
            .encode()
    }
}

impl SuperBlock {
    /// Segments held by data file `n` (the last file may hold fewer).
    pub(crate) fn segments_in_file(&self, n: u32) -> u32 {
        let start = n * self.segments_per_file;
        self.segment_count.saturating_sub(start).min(self.segments_per_file)
    }
}

struct IoThread {
    space: Arc<Space>,
    events: Arc<EventFeed>,
    clock: Arc<dyn Clock>,
    /// Data files written since the last sync was handed to the syncer.
    dirty: BTreeSet<usize>,
    /// Bytes written since then.
    unsynced_bytes: u64,
    /// Hand a sync to the syncer unasked once `unsynced_bytes` reaches this
    /// (0: never).
    writeback_bytes: u64,
    /// Open segments written since the last sync was handed to the syncer.
    touched: Vec<Arc<OpenSeg>>,
    /// The space's syncer thread (see [`SyncJob`]).
    syncer: Option<(Sender<SyncJob>, JoinHandle<()>)>,
    /// Where the syncer reports syncs that have work after them.
    after_rx: Receiver<SyncDone>,
    after_tx: Sender<SyncDone>,
    /// Syncs with work after them handed off, and reported done, so far
    /// (reports come back in hand-off order).
    issued: u64,
    completed: u64,
    /// Commands for segments whose allocation header is not durable yet,
    /// held back in order.
    held: HashMap<u32, Vec<IoCmd>>,
    /// Syncs and barriers that came while syncs with work after them were
    /// outstanding, each with the count it waits for: they cover what was
    /// queued before them, held commands and footers included.
    parked: Vec<(u64, Parked)>,
}

/// Work the I/O thread does once a sync it handed off is done, so that it
/// never waits for an fdatasync itself: seals and allocations in a burst
/// share sync rounds while other segments' writes go on.
enum AfterSync {
    /// The sealed segment's records are durable: write its footer.
    Footer { open: Arc<OpenSeg>, done: SealDone },
    /// The allocation header of segment `index` is durable: write what was
    /// held back for it.
    Gate { index: u32 },
}

/// The syncer's report of a sync with work after it.
struct SyncDone {
    after: AfterSync,
    result: Result<()>,
}

/// A sync or barrier waiting for outstanding [`AfterSync`] work.
enum Parked {
    Sync(Sender<Result<()>>),
    Barrier(Sender<()>),
}

/// A sync handed from the I/O thread to the syncer: the files written before
/// it, how many records of each open segment that makes durable, and who
/// waits. The syncer runs the fdatasyncs while the I/O thread goes on
/// writing (an fdatasync covers every write completed before it starts), so
/// writes are not stalled by syncs. Jobs are done in order, and the syncer
/// merges the jobs queued behind a running one (group commit).
struct SyncJob {
    files: BTreeSet<usize>,
    marks: Vec<(Arc<OpenSeg>, usize)>,
    waiters: Vec<Sender<Result<()>>>,
    /// Work for the I/O thread once done, reported on the sender.
    after: Vec<(AfterSync, Sender<SyncDone>)>,
}

/// Marks a space failed (once) with an event.
fn fail_space(space: &Space, events: &EventFeed, clock: &dyn Clock, detail: &str) {
    let prev = space.set_status(SpaceStatus::Error);
    if prev != SpaceStatus::Error {
        events.emit(
            clock.now(),
            EventKind::SpaceStatus { space: space.id, status: SpaceStatus::Error, detail: detail.to_string() },
        );
    }
}

/// The error a sync of a space that is not in service reports, if any.
fn unsyncable(space: &Space) -> Option<Error> {
    // Writes to a lost or failed space were dropped: never confirm them.
    match space.status() {
        SpaceStatus::Error => Some(Error::SpaceFailed(space.id)),
        SpaceStatus::Lost => Some(Error::SpaceLost(space.id)),
        _ => None,
    }
}

fn run_syncer(space: Arc<Space>, events: Arc<EventFeed>, clock: Arc<dyn Clock>, rx: Receiver<SyncJob>) {
    while let Ok(mut job) = rx.recv() {
        // Merge whatever queued up while the previous round ran.
        while let Ok(more) = rx.try_recv() {
            job.files.extend(more.files);
            job.marks.extend(more.marks);
            job.waiters.extend(more.waiters);
            job.after.extend(more.after);
        }
        let mut result = unsyncable(&space).map_or(Ok(()), Err);
        if result.is_ok() {
            for &i in &job.files {
                if let Some(f) = space.files.get(i) {
                    if let Err(e) = f.sync_data() {
                        // No retry: after a failed fsync the kernel may have
                        // dropped the dirty pages, so a later success would lie.
                        fail_space(&space, &events, clock.as_ref(), &format!("fdatasync failed: {e}"));
                        result = Err(Error::SpaceFailed(space.id));
                        break;
                    }
                }
            }
        }
        if result.is_ok() {
            for (o, n) in job.marks {
                let mut g = o.inner.lock();
                g.durable = g.durable.max(n);
            }
        }
        let answer = || match &result {
            Ok(()) => Ok(()),
            Err(Error::SpaceLost(id)) => Err(Error::SpaceLost(*id)),
            Err(_) => Err(Error::SpaceFailed(space.id)),
        };
        for w in job.waiters {
            let _ = w.send(answer());
        }
        for (after, tx) in job.after {
            let _ = tx.send(SyncDone { after, result: answer() });
        }
    }
}

/// How many queued commands a sync may absorb before it runs, so a steady
/// stream of writes cannot postpone it forever.
const GROUP_COMMIT_MAX: usize = 4096;

impl IoThread {
    fn new(space: Arc<Space>, events: Arc<EventFeed>, clock: Arc<dyn Clock>, writeback_bytes: u64) -> Self {
        let (tx, rx) = crossbeam_channel::unbounded();
        let (sp, ev, ck) = (Arc::clone(&space), Arc::clone(&events), Arc::clone(&clock));
        let syncer = std::thread::Builder::new()
            .name(format!("pstor-sync-{}", space.id))
            .spawn(move || run_syncer(sp, ev, ck, rx))
            .ok()
            .map(|h| (tx, h));
        let (after_tx, after_rx) = crossbeam_channel::unbounded();
        IoThread {
            space,
            events,
            clock,
            dirty: BTreeSet::new(),
            unsynced_bytes: 0,
            writeback_bytes,
            touched: Vec::new(),
            syncer,
            after_rx,
            after_tx,
            issued: 0,
            completed: 0,
            held: HashMap::new(),
            parked: Vec::new(),
        }
    }

    fn run(mut self, rx: Receiver<IoCmd>) {
        let after_rx = self.after_rx.clone();
        loop {
            let mut syncs = Vec::new();
            crossbeam_channel::select! {
                recv(rx) -> cmd => match cmd {
                    Ok(cmd) => self.handle(cmd, &mut syncs),
                    Err(_) => break,
                },
                recv(after_rx) -> done => {
                    if let Ok(done) = done {
                        self.after_sync(done, &mut syncs);
                    }
                }
            }
            if !syncs.is_empty() {
                // Group commit: absorb whatever else is already queued.
                for _ in 0..GROUP_COMMIT_MAX {
                    match rx.try_recv() {
                        Ok(c) => self.handle(c, &mut syncs),
                        Err(_) => break,
                    }
                }
                // The syncer answers them; this thread goes on writing.
                self.hand_off(syncs);
            } else if self.writeback_bytes > 0 && self.unsynced_bytes >= self.writeback_bytes {
                // Nobody asked yet: start the disk on what is written so far
                // (the syncer merges it with a sync that queues behind it).
                self.hand_off(Vec::new());
            }
        }
        // Queue closed: finish the work waiting on syncs in flight, then make
        // everything durable before the thread ends.
        while self.completed < self.issued {
            let mut syncs = Vec::new();
            match after_rx.recv() {
                Ok(done) => self.after_sync(done, &mut syncs),
                Err(_) => break,
            }
            if !syncs.is_empty() {
                self.hand_off(syncs);
            }
        }
        let _ = self.sync();
        if let Some((tx, h)) = self.syncer.take() {
            drop(tx);
            let _ = h.join();
        }
    }

    /// Hands a sync of everything written so far to the syncer.
    fn hand_off(&mut self, waiters: Vec<Sender<Result<()>>>) {
        self.hand_off_with(waiters, Vec::new());
    }

    /// Hands a sync of everything written so far to the syncer, with `after`
    /// to do once it is done (see [`AfterSync`]).
    fn sync_then(&mut self, after: AfterSync) {
        self.issued += 1;
        let tx = self.after_tx.clone();
        self.hand_off_with(Vec::new(), vec![(after, tx)]);
    }

    /// The work after a sync the syncer reports done; then the syncs and
    /// barriers that waited for it.
    fn after_sync(&mut self, done: SyncDone, syncs: &mut Vec<Sender<Result<()>>>) {
        self.completed += 1;
        match done.after {
            AfterSync::Footer { open, done: sealed } => {
                sealed(done.result.and_then(|()| self.write_footer(&open)));
            }
            AfterSync::Gate { index } => {
                // On a failed sync the space is failed: the held writes are
                // refused one by one, with their own answers.
                for cmd in self.held.remove(&index).unwrap_or_default() {
                    self.handle(cmd, syncs);
                }
                // A barrier parked behind the gate was submitted after the
                // held commands: it also waits for the work they just
                // issued (a seal's footer), or the engine would look for
                // that seal before it lands and call a pool full.
                let issued = self.issued;
                for (n, p) in &mut self.parked {
                    if matches!(p, Parked::Barrier(_)) {
                        *n = (*n).max(issued);
                    }
                }
            }
        }
        let completed = self.completed;
        let (ready, waiting): (Vec<_>, Vec<_>) = self.parked.drain(..).partition(|(n, _)| *n <= completed);
        self.parked = waiting;
        for (_, p) in ready {
            match p {
                Parked::Sync(done) => syncs.push(done),
                Parked::Barrier(done) => {
                    let _ = done.send(());
                }
            }
        }
    }

    /// Hands a sync to the syncer (see [`SyncJob`]).
    fn hand_off_with(&mut self, waiters: Vec<Sender<Result<()>>>, after: Vec<(AfterSync, Sender<SyncDone>)>) {
        // Snapshot what is written now: that is what the fdatasync covers.
        let marks: Vec<(Arc<OpenSeg>, usize)> = self
            .touched
            .drain(..)
            .map(|o| {
                let n = o.inner.lock().len();
                (o, n)
            })
            .collect();
        self.unsynced_bytes = 0;
        let job = SyncJob { files: std::mem::take(&mut self.dirty), marks, waiters, after };
        let unsent = match &self.syncer {
            Some((tx, _)) => tx.send(job).err().map(|e| (e.0, "the syncer thread is gone")),
            None => Some((job, "could not start the syncer thread")),
        };
        if let Some((job, why)) = unsent {
            self.fail(why);
            for w in job.waiters {
                let _ = w.send(Err(Error::SpaceFailed(self.space.id)));
            }
            for (after, tx) in job.after {
                let _ = tx.send(SyncDone { after, result: Err(Error::SpaceFailed(self.space.id)) });
            }
        }
    }

    /// The segment a command writes into, if held back commands for it
    /// must stay in order with it.
    fn segment_of(cmd: &IoCmd) -> Option<u32> {
        match cmd {
            IoCmd::Record { open, .. } | IoCmd::Needle { open, .. } | IoCmd::Seal { open, .. } => Some(open.index),
            IoCmd::Header { index, .. } | IoCmd::Footer { index, .. } => Some(*index),
            IoCmd::MarkDeleted { .. } | IoCmd::Sync { .. } | IoCmd::Barrier { .. } => None,
        }
    }

    fn handle(&mut self, cmd: IoCmd, syncs: &mut Vec<Sender<Result<()>>>) {
        if let Some(held) = Self::segment_of(&cmd).and_then(|i| self.held.get_mut(&i)) {
            held.push(cmd);
            return;
        }
        match cmd {
            IoCmd::Record { offset, data, entry, open } => {
                if self.write_pieces(open.index, offset, &data.pieces()) {
                    open.inner.lock().records.push(entry);
                    self.touch(open);
                }
            }
            IoCmd::Needle { offset, data, entry, open, done } => {
                let res = if self.write(open.index, offset, &data) {
                    open.inner.lock().push_needle(entry);
                    self.touch(open);
                    Ok(())
                } else {
                    Err(self.unwritable())
                };
                let _ = done.send(res);
            }
            IoCmd::MarkDeleted { index, offset, generation, cookie, durable, done } => {
                let _ = done.send(self.mark_deleted(index, offset, generation, cookie, durable));
            }
            IoCmd::Header { index, data, durable } => {
                if self.write(index, 0, &data) && durable {
                    self.held.insert(index, Vec::new());
                    self.sync_then(AfterSync::Gate { index });
                }
            }
            IoCmd::Seal { open, done } => {
                // Records first, durably; only then the footer that vouches
                // for them. An empty segment is freed by the engine instead.
                if open.inner.lock().len() == 0 {
                    done(Ok(()));
                } else {
                    self.sync_then(AfterSync::Footer { open, done });
                }
            }
            IoCmd::Footer { index, generation, usage, used, footer } => {
                self.rewrite_footer(index, generation, usage, used, &footer)
            }
            IoCmd::Sync { done } if self.completed < self.issued => self.parked.push((self.issued, Parked::Sync(done))),
            IoCmd::Sync { done } => syncs.push(done),
            IoCmd::Barrier { done } if self.completed < self.issued => {
                self.parked.push((self.issued, Parked::Barrier(done)))
            }
            IoCmd::Barrier { done } => {
                let _ = done.send(());
            }
        }
    }

    fn touch(&mut self, open: Arc<OpenSeg>) {
        if !self.touched.iter().any(|t| Arc::ptr_eq(t, &open)) {
            self.touched.push(open);
        }
    }

    /// The error for a write refused because the space is not in service.
    fn unwritable(&self) -> Error {
        match self.space.status() {
            SpaceStatus::Lost => Error::SpaceLost(self.space.id),
            _ => Error::SpaceFailed(self.space.id),
        }
    }

    fn mark_deleted(&mut self, index: u32, offset: u64, generation: u32, cookie: u32, durable: bool) -> Result<bool> {
        // This thread is the only writer: if the needle at `offset` is still
        // the one named, no newer life of the segment has overwritten it.
        let mut hb = [0u8; NEEDLE_HEADER_LEN];
        self.space.read(index, offset, &mut hb)?;
        match NeedleHeader::parse(&hb) {
            Ok(h) if h.generation == generation && h.cookie == cookie && !h.deleted => {}
            _ => return Ok(false),
        }
        if !self.write(index, offset + DELETE_MARK_OFFSET, &DELETE_MARK.to_le_bytes()) {
            return Err(self.unwritable());
        }
        if durable {
            self.sync()?;
        }
        Ok(true)
    }

    /// Writes unless the space is failed; a failure poisons the space.
    fn write(&mut self, index: u32, offset: u64, data: &[u8]) -> bool {
        self.write_pieces(index, offset, &[data])
    }

    /// As [`IoThread::write`], for consecutive pieces.
    fn write_pieces(&mut self, index: u32, offset: u64, pieces: &[&[u8]]) -> bool {
        if self.space.status() != SpaceStatus::Normal {
            return false;
        }
        let spf = self.space.sb.segments_per_file;
        match self.space.write_pieces_direct(index, offset, pieces) {
            Ok(()) => {
                self.unsynced_bytes += pieces.iter().map(|p| p.len() as u64).sum::<u64>();
                self.dirty.insert((index / spf) as usize);
                true
            }
            Err(e) => {
                self.fail(&e.to_string());
                false
            }
        }
    }

    /// Makes everything written so far durable and waits for it (seals,
    /// allocations, delete marks need it before going on).
    fn sync(&mut self) -> Result<()> {
        if let Some(e) = unsyncable(&self.space) {
            return Err(e);
        }
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.hand_off(vec![tx]);
        rx.recv().map_err(|_| Error::SpaceFailed(self.space.id))?
    }

    /// Writes the footer of a segment being sealed, whose records are durable.
    fn write_footer(&mut self, open: &Arc<OpenSeg>) -> Result<()> {
        let used = open.inner.lock().used();
        let footer = open.encode_footer();
        let offset = self.space.sb.segment_size - footer.len() as u64;
        if used > offset || offset < DATA_START {
            return Err(Error::Corrupt(format!("segment {}: footer does not fit", open.index)));
        }
        if !self.write(open.index, offset, &footer) {
            return Err(Error::SpaceFailed(self.space.id));
        }
        Ok(())
    }

    fn rewrite_footer(&mut self, index: u32, generation: u32, usage: SegmentUse, used: u64, footer: &[u8]) {
        // This thread is the only writer: if the header on disk still shows
        // that generation, no record of a newer life exists to overwrite.
        let mut hb = [0u8; crate::format::segment::SEGMENT_HEADER_LEN];
        let current = self.space.read(index, 0, &mut hb).ok().and_then(|_| SegmentHeader::decode(&hb).ok());
        if !current.is_some_and(|h| h.generation == generation && h.usage == usage) {
            return;
        }
        let Some(offset) = self.space.sb.segment_size.checked_sub(footer.len() as u64) else { return };
        if used > offset || self.sync().is_err() {
            return;
        }
        self.write(index, offset, footer);
    }

    fn fail(&self, detail: &str) {
        fail_space(&self.space, &self.events, self.clock.as_ref(), detail);
    }
}

/// Progress and cancellation of a long space job (initialize, restore).
#[derive(Debug, Default)]
pub(crate) struct JobControl {
    pub progress: AtomicU8,
    pub cancel: AtomicBool,
}
