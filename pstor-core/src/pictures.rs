//! The picture API: put, get (one positioned read), head, delete (an
//! in-place delete mark), listing a camera's pictures by time from segment
//! summaries and footers, and names (bucket + key) through the key index.

use crate::engine::{wait_syncs, Engine, Inner};
use crate::error::{Error, Result};
use crate::format::needle::{
    camera_bits, camera_hash, validate_meta, NeedleDraft, NeedleEntry, NeedleHeader, ENTRY_HAS_KEY, MAX_META_LEN,
    NEEDLE_HEADER_LEN,
};
use crate::format::segment::{encode_picture_footer, footer_len, SegmentUse, DATA_START};
use crate::keys::{Durability, FoundKey, SegKeys};
use crate::picture_id::PictureId;
use crate::picture_writer::PictureWriter;
use crate::recovery::{read_picture_footer, scan_picture_segment};
use crate::space::{IoCmd, Space};
use crate::store::Slot;
use crate::types::*;
use bytes::Bytes;
use std::collections::BinaryHeap;
use std::sync::Arc;

/// A picture as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picture {
    /// What is known about it.
    pub info: PictureInfo,
    /// The picture bytes (a slice of the one buffer read, no copy).
    pub data: Bytes,
}

/// A picture's metadata (`head`, listings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PictureInfo {
    /// Its id.
    pub id: PictureId,
    /// Camera, capture time, content type, key.
    pub meta: PictureMeta,
    /// When pstor stored it (µs UTC, engine clock).
    pub stored_at: Timestamp,
    /// Size of the picture data.
    pub size: u64,
    /// MD5 of the data (the S3 ETag).
    pub md5: [u8; 16],
}

impl PictureInfo {
    /// The MD5 as 32 lowercase hex digits (an S3 ETag without quotes).
    pub fn etag(&self) -> String {
        self.md5.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// A listing of pictures by capture time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PictureQuery {
    /// The pool.
    pub pool: PoolId,
    /// Only this camera's pictures (`None`: every camera).
    pub camera_id: Option<String>,
    /// Captured at or after (µs UTC).
    pub start: Timestamp,
    /// Captured at or before (µs UTC).
    pub end: Timestamp,
    /// At most this many results.
    pub limit: usize,
    /// Continue after this (capture time, id): the last result of the
    /// previous page.
    pub after: Option<(Timestamp, PictureId)>,
}

/// A listing candidate from an index entry: (capture time, id, meta length).
type Candidate = (Timestamp, PictureId, u16);

impl Engine {
    /// Stores a picture in a picture or mixed pool and returns its id once it
    /// is written and readable. It is durable after the next
    /// [`Engine::sync_pictures`] (or [`Engine::sync_all`]); concurrent puts
    /// and syncs share one fdatasync per data file (group commit).
    pub fn put_picture(&self, pool: PoolId, meta: &PictureMeta, data: &[u8]) -> Result<PictureId> {
        self.inner.check_open()?;
        let max = self.inner.opts.max_picture_bytes;
        if data.is_empty() || data.len() > max {
            return Err(Error::PictureSize { len: data.len(), max });
        }
        validate_meta(meta).map_err(Error::InvalidArgument)?;
        let writer = self.inner.picture_writer(pool)?;
        let stored_at = self.inner.clock.now();
        // A key put again names the new picture; the old one is deleted (as
        // an S3 overwrite) once the new one is durable, so no crash can bring
        // the old one back under the key, nor lose both.
        let previous = match &meta.key {
            Some(k) => self.inner.keys.get(k)?,
            None => None,
        };
        let draft = NeedleDraft::new(meta, stored_at, rand::random(), data);
        let id = writer.put(&self.inner, draft, meta.key.as_ref().map(|k| (k, stored_at)))?;
        if let Some(old) = previous.filter(|old| *old != id) {
            writer.replaced(old);
        }
        Ok(id)
    }

    /// Makes every picture put into `pool` so far durable (and its keys).
    pub fn sync_pictures(&self, pool: PoolId) -> Result<()> {
        self.inner.check_open()?;
        let writer = self.inner.picture_writer(pool)?;
        let replaced = writer.take_replaced();
        wait_syncs(&writer.spaces())?;
        self.inner.delete_replaced(replaced);
        self.inner.flush_keys()
    }

    /// Reads a picture with exactly one positioned read of its record,
    /// verifying header, cookie, generation and both checksums.
    pub fn get_picture(&self, id: &PictureId) -> Result<Picture> {
        self.inner.check_open()?;
        let space = self.inner.picture_space(id)?;
        let mut buf = vec![0u8; id.len as usize];
        space.read(id.segment, id.offset as u64, &mut buf)?;
        let buf = Bytes::from(buf);
        let (h, info) = self.inner.verify_head(id, &buf)?;
        let data = buf.slice(h.head_len()..);
        if let Err(e) = h.verify_data(&data) {
            return Err(self.inner.bad_picture(id, e.to_string()));
        }
        Ok(Picture { info, data })
    }

    /// Reads `len` bytes of a picture from `offset` (an HTTP Range). The whole
    /// record is still read once and verified.
    pub fn get_picture_range(&self, id: &PictureId, offset: u64, len: u64) -> Result<Picture> {
        self.inner.check_open()?;
        let mut p = self.get_picture(id)?;
        let end = offset.checked_add(len).filter(|&e| e <= p.data.len() as u64).ok_or_else(|| {
            Error::InvalidArgument(format!("range {offset}+{len} is outside the picture's {} bytes", p.data.len()))
        })?;
        p.data = p.data.slice(offset as usize..end as usize);
        Ok(p)
    }

    /// A picture's metadata, verified, with one small read (not its data).
    pub fn head_picture(&self, id: &PictureId) -> Result<PictureInfo> {
        self.inner.check_open()?;
        let space = self.inner.picture_space(id)?;
        let n = (id.len as usize).min(NEEDLE_HEADER_LEN + MAX_META_LEN);
        let mut buf = vec![0u8; n];
        space.read(id.segment, id.offset as u64, &mut buf)?;
        Ok(self.inner.verify_head(id, &buf)?.1)
    }

    /// Deletes a picture: it is never served again, also after a restart or a
    /// crash (the delete mark is durable when this returns). Its space is
    /// reclaimed when its segment is recycled.
    pub fn delete_picture(&self, id: &PictureId) -> Result<()> {
        self.inner.check_open()?;
        let info = self.head_picture(id)?;
        if !self.inner.mark_deleted(id)? {
            return Err(Error::PictureNotFound(id.to_string()));
        }
        if let Some(k) = &info.meta.key {
            self.inner.keys.remove(k, *id);
            self.inner.flush_keys()?;
        }
        Ok(())
    }

    /// The id of the picture stored under `key`.
    pub fn picture_id_for_key(&self, key: &PictureKey) -> Result<PictureId> {
        self.inner.check_open()?;
        self.inner.keys.get(key)?.ok_or_else(|| Error::KeyNotFound { bucket: key.bucket.clone(), key: key.key.clone() })
    }

    /// Reads the picture stored under `key` (see [`Engine::get_picture`]).
    pub fn get_picture_by_key(&self, key: &PictureKey) -> Result<Picture> {
        let id = self.picture_id_for_key(key)?;
        self.get_picture(&id).map_err(|e| self.inner.stale_key(key, id, e))
    }

    /// Deletes the picture stored under `key`.
    pub fn delete_picture_by_key(&self, key: &PictureKey) -> Result<()> {
        let id = self.picture_id_for_key(key)?;
        self.delete_picture(&id).map_err(|e| self.inner.stale_key(key, id, e))
    }

    /// Keys of a bucket in order, starting with `prefix`, after `after`, at
    /// most `limit` (for the S3 face's listings).
    pub fn list_keys(
        &self,
        bucket: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, PictureId)>> {
        self.inner.check_open()?;
        self.inner.flush_keys()?;
        self.inner.keys.list(bucket, prefix, after, limit)
    }

    /// Pictures of a pool (optionally of one camera) captured in
    /// `[start, end]`, ordered by capture time then id. Candidates come from
    /// segment summaries (time range, camera filter) and footer indexes; each
    /// result is then verified with one small read, so deleted pictures are
    /// left out. Memory stays bounded by the segments and `limit`.
    pub fn list_pictures(&self, q: &PictureQuery) -> Result<Vec<PictureInfo>> {
        self.inner.check_open()?;
        if q.start > q.end {
            return Err(Error::InvalidArgument(format!("range {}..{} ends before it starts", q.start, q.end)));
        }
        {
            let st = self.inner.lock_state();
            if !st.pool(q.pool)?.kind.accepts_pictures() {
                let kind = st.pool(q.pool)?.kind;
                return Err(Error::WrongPoolKind { pool: q.pool, kind });
            }
        }
        let cam = q.camera_id.as_deref().map(camera_hash);
        let mut after = q.after;
        let mut out = Vec::new();
        while out.len() < q.limit {
            let want = q.limit - out.len();
            let page = self.inner.picture_candidates(q, cam, after, want)?;
            let exhausted = page.len() < want;
            for (ts, id, meta_len) in page {
                after = Some((ts, id));
                let space = match self.inner.picture_space(&id) {
                    Ok(s) => s,
                    Err(Error::PictureNotFound(_)) => continue,
                    Err(e) => return Err(e),
                };
                let mut buf = vec![0u8; NEEDLE_HEADER_LEN + meta_len as usize];
                space.read(id.segment, id.offset as u64, &mut buf)?;
                match self.inner.verify_head(&id, &buf) {
                    Ok((_, info)) if q.camera_id.as_ref().is_none_or(|c| *c == info.meta.camera_id) => out.push(info),
                    // Deleted, recycled meanwhile, or another camera with the
                    // same hash. A corrupt picture cannot be served either: it
                    // is left out here and reported by `check`.
                    Ok(_) | Err(Error::PictureNotFound(_)) | Err(Error::Corrupt(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            if exhausted {
                break;
            }
        }
        Ok(out)
    }
}

impl Inner {
    /// Sets a picture's delete mark, durably before answering, if the id
    /// still names a live picture; returns whether it did.
    pub(crate) fn mark_deleted(&self, id: &PictureId) -> Result<bool> {
        let space = self.picture_space(id)?;
        let (tx, rx) = crossbeam_channel::bounded(1);
        space.submit(mark_cmd(id, true, tx))?;
        rx.recv().map_err(|_| Error::SpaceFailed(space.id))?
    }

    /// Writes the key index changes whose pictures are durable.
    pub(crate) fn flush_keys(&self) -> Result<()> {
        self.keys.flush(|| {
            let st = self.lock_state();
            let mut d = Durability::default();
            for rt in st.spaces.values() {
                for slot in &rt.slots {
                    if let Slot::Open(o) = slot {
                        if o.usage == SegmentUse::Picture {
                            let n = o.inner.lock().durable as u32;
                            d.0.insert((rt.space.id, o.index), (o.generation, n));
                        }
                    }
                }
            }
            d
        })
    }

    /// Queues delete marks for pictures whose key now names a newer, durable
    /// picture (best effort: a stale id is simply skipped; the next sync makes
    /// the marks durable, and until then the key index already names the new
    /// picture).
    pub(crate) fn delete_replaced(&self, replaced: Vec<PictureId>) {
        for id in replaced {
            if let Ok(space) = self.picture_space(&id) {
                let (tx, _) = crossbeam_channel::bounded(1);
                let _ = space.submit(mark_cmd(&id, false, tx));
            }
        }
    }

    /// Indexes the keys of picture segments the key index does not cover
    /// (after an unclean stop, a lost index, or a restored space).
    pub(crate) fn reconcile_keys(&self, only: Option<SpaceId>) -> Result<()> {
        let segs: Vec<(Arc<Space>, Slot, SegKeys)> = {
            let st = self.lock_state();
            let mut v = Vec::new();
            for rt in st.spaces.values().filter(|rt| only.is_none_or(|s| s == rt.space.id)) {
                for (i, slot) in rt.slots.iter().enumerate() {
                    let count = match slot {
                        Slot::Open(o) if o.usage == SegmentUse::Picture => o.inner.lock().needles.len() as u32,
                        Slot::Sealed(s) if s.usage == SegmentUse::Picture => s.entries,
                        _ => continue,
                    };
                    let seg = SegKeys { space: rt.space.id, segment: i as u32, generation: rt.gens[i], count };
                    v.push((Arc::clone(&rt.space), slot.clone(), seg));
                }
            }
            v
        };
        let keys: Vec<SegKeys> = segs.iter().map(|s| s.2.clone()).collect();
        self.flush_keys()?;
        let mut stale = Vec::new();
        for (seg, start) in self.keys.uncovered(&keys)? {
            let Some((space, slot, _)) = segs.iter().find(|s| s.2.space == seg.space && s.2.segment == seg.segment)
            else {
                continue;
            };
            let entries = self.picture_entries(space, seg.segment, seg.generation, slot)?;
            let mut found = Vec::new();
            for e in entries.iter().skip(start as usize).filter(|e| e.flags & ENTRY_HAS_KEY != 0) {
                let id = PictureId {
                    space: seg.space,
                    segment: seg.segment,
                    generation: seg.generation,
                    offset: e.offset,
                    len: e.len,
                    cookie: e.cookie,
                };
                let mut buf = vec![0u8; e.head_len()];
                space.read(seg.segment, e.offset as u64, &mut buf)?;
                // Deleted needles count too (their key was deleted then);
                // damaged ones are left out (check reports them).
                let Ok(h) = NeedleHeader::parse(&buf) else { continue };
                if h.generation != id.generation || h.cookie != id.cookie {
                    continue;
                }
                if let Ok((PictureMeta { key: Some(key), .. }, stored_at)) = h.verify_head(&buf) {
                    found.push(FoundKey { key, id, stored_at, deleted: h.deleted });
                }
            }
            let losers = self.keys.cover(&SegKeys { count: entries.len() as u32, ..seg }, &found)?;
            stale.extend(losers);
        }
        // Pictures a newer put of their key replaced, whose delete a crash cut
        // off: delete them now, durably.
        for id in stale {
            match self.mark_deleted(&id) {
                Ok(_) | Err(Error::PictureNotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The pool's picture writer, created on first use.
    pub(crate) fn picture_writer(&self, pool: PoolId) -> Result<Arc<PictureWriter>> {
        // Writers exist only for picture pools (a pool's kind never changes,
        // and deleting a pool removes its writer): no engine lock per put.
        if let Some(w) = self.picture_writers.read().get(&pool) {
            return Ok(Arc::clone(w));
        }
        {
            let st = self.lock_state();
            let p = st.pool(pool)?;
            if !p.kind.accepts_pictures() {
                return Err(Error::WrongPoolKind { pool, kind: p.kind });
            }
        }
        let mut map = self.picture_writers.write();
        Ok(Arc::clone(map.entry(pool).or_insert_with(|| Arc::new(PictureWriter::new(pool)))))
    }

    /// The space holding a picture, after checking the id against the
    /// segment table (bounds, generation, segment use).
    pub(crate) fn picture_space(&self, id: &PictureId) -> Result<Arc<Space>> {
        let not_found = || Error::PictureNotFound(id.to_string());
        let st = self.lock_state();
        let Some(rt) = st.spaces.get(&id.space) else {
            return Err(if st.detached.contains_key(&id.space) { Error::SpaceLost(id.space) } else { not_found() });
        };
        let seg = rt.space.sb.segment_size;
        let fits = (id.offset as u64) >= DATA_START
            && (id.len as usize) > NEEDLE_HEADER_LEN
            && id.offset as u64 + id.len as u64 <= seg.saturating_sub(footer_len(1).min(seg));
        if !fits || rt.gens.get(id.segment as usize) != Some(&id.generation) {
            return Err(not_found());
        }
        // Only what was written: an id past the end (a needle a crash cut
        // off, or a forged offset) names nothing.
        let (usage, used) = match rt.slots.get(id.segment as usize) {
            Some(Slot::Open(o)) => (o.usage, o.inner.lock().used()),
            Some(Slot::Sealed(s)) => (s.usage, s.used),
            _ => (SegmentUse::Free, 0),
        };
        if usage != SegmentUse::Picture || id.offset as u64 + id.len as u64 > used {
            return Err(not_found());
        }
        rt.space.check_readable()?;
        Ok(Arc::clone(&rt.space))
    }

    /// Verifies a record's header and meta against its id. A record that is
    /// not the one named (forged or stale id) is `PictureNotFound`; one that
    /// is but fails its checksum is `Corrupt`.
    pub(crate) fn verify_head(&self, id: &PictureId, buf: &[u8]) -> Result<(NeedleHeader, PictureInfo)> {
        let not_found = || Error::PictureNotFound(id.to_string());
        let h = match NeedleHeader::parse(buf) {
            Ok(h) => h,
            Err(e) if names(buf, id) => return Err(self.bad_picture(id, e.to_string())),
            Err(_) => return Err(not_found()),
        };
        if h.generation != id.generation || h.cookie != id.cookie || h.total_len() != id.len as u64 {
            return Err(not_found());
        }
        let (meta, stored_at) = match h.verify_head(buf) {
            Ok(m) => m,
            Err(e) => return Err(self.bad_picture(id, e.to_string())),
        };
        if h.deleted {
            return Err(not_found());
        }
        let info = PictureInfo { id: *id, meta, stored_at, size: h.data_len as u64, md5: h.md5 };
        Ok((h, info))
    }

    /// A record that names the id but does not verify: overwritten under the
    /// reader (segment recycled meanwhile) or corrupt.
    pub(crate) fn bad_picture(&self, id: &PictureId, why: String) -> Error {
        let recycled = {
            let st = self.lock_state();
            st.spaces.get(&id.space).and_then(|rt| rt.gens.get(id.segment as usize)) != Some(&id.generation)
        };
        if recycled {
            Error::PictureNotFound(id.to_string())
        } else {
            Error::Corrupt(format!("picture {id} (space {} segment {}): {why}", id.space, id.segment))
        }
    }

    /// A key whose picture is gone (deleted, overwritten) is dropped from
    /// the index and reported as not found.
    fn stale_key(&self, key: &PictureKey, id: PictureId, e: Error) -> Error {
        match e {
            Error::PictureNotFound(_) => {
                self.keys.remove(key, id);
                Error::KeyNotFound { bucket: key.bucket.clone(), key: key.key.clone() }
            }
            e => e,
        }
    }

    /// The next `want` candidates of a listing after `after`, in order.
    fn picture_candidates(
        &self,
        q: &PictureQuery,
        cam: Option<u64>,
        after: Option<(Timestamp, PictureId)>,
        want: usize,
    ) -> Result<Vec<Candidate>> {
        let bits = cam.map(camera_bits);
        let views: Vec<(Arc<Space>, u32, u32, Slot)> = {
            let st = self.lock_state();
            let mut v = Vec::new();
            for rt in st.spaces.values() {
                for (i, slot) in rt.slots.iter().enumerate() {
                    let Some(sp) = slot.span() else { continue };
                    if sp.pool != q.pool || sp.usage != SegmentUse::Picture || !sp.has_data() {
                        continue;
                    }
                    if sp.last_ts < q.start || sp.first_ts > q.end || bits.is_some_and(|b| sp.cameras & b != b) {
                        continue;
                    }
                    v.push((Arc::clone(&rt.space), i as u32, rt.gens[i], slot.clone()));
                }
            }
            v
        };
        // The `want` smallest (time, id) after the cursor: a max-heap bounded
        // to `want`, so a busy day does not become a huge vector.
        let mut heap: BinaryHeap<Candidate> = BinaryHeap::with_capacity(want.saturating_add(1).min(4096));
        for (space, index, gen, slot) in views {
            if space.check_readable().is_err() {
                continue;
            }
            let entries = self.picture_entries(&space, index, gen, &slot)?;
            for e in entries.iter() {
                if e.captured_at < q.start || e.captured_at > q.end || cam.is_some_and(|c| c != e.camera_hash) {
                    continue;
                }
                let id = PictureId {
                    space: space.id,
                    segment: index,
                    generation: gen,
                    offset: e.offset,
                    len: e.len,
                    cookie: e.cookie,
                };
                let c = (e.captured_at, id, e.meta_len);
                if after.is_some_and(|a| (c.0, c.1) <= a) {
                    continue;
                }
                heap.push(c);
                if heap.len() > want {
                    heap.pop();
                }
            }
        }
        Ok(heap.into_sorted_vec())
    }

    /// A picture segment's entries: live for an open one; footer (cached) or
    /// a scan for a sealed one.
    pub(crate) fn picture_entries(
        &self,
        space: &Space,
        index: u32,
        gen: u32,
        slot: &Slot,
    ) -> Result<Arc<Vec<NeedleEntry>>> {
        match slot {
            Slot::Open(o) => Ok(Arc::new(o.needles())),
            Slot::Free => Ok(Arc::new(Vec::new())),
            Slot::Sealed(_) => {
                let key = (space.id, index, gen);
                if let Some(e) = self.picture_footers.get(&key) {
                    return Ok(e);
                }
                let entries = match read_picture_footer(space, index, gen)? {
                    Some(e) => e,
                    None => {
                        // A torn footer: the needles themselves are the truth;
                        // write the footer again (best effort).
                        let scanned = scan_picture_segment(space, index, gen, Vec::new())?.needles;
                        if let Some(last) = scanned.last() {
                            let footer = encode_picture_footer(gen, &scanned);
                            let used = last.end();
                            let cmd =
                                IoCmd::Footer { index, generation: gen, usage: SegmentUse::Picture, used, footer };
                            let _ = space.submit(cmd);
                        }
                        scanned
                    }
                };
                let entries = Arc::new(entries);
                self.picture_footers.insert(key, Arc::clone(&entries));
                Ok(entries)
            }
        }
    }
}

fn mark_cmd(id: &PictureId, durable: bool, done: crossbeam_channel::Sender<Result<bool>>) -> IoCmd {
    IoCmd::MarkDeleted {
        index: id.segment,
        offset: id.offset as u64,
        generation: id.generation,
        cookie: id.cookie,
        durable,
        done,
    }
}

/// Whether bytes start like the record an id names (magic, picture kind,
/// generation, cookie): then a failed check is corruption, not a bad id.
fn names(buf: &[u8], id: &PictureId) -> bool {
    let word = |at: usize| buf.get(at..at + 4).map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]));
    word(0) == Some(crate::format::record::RECORD_MAGIC)
        && buf.get(4) == Some(&crate::format::needle::KIND_PICTURE)
        && word(8) == Some(id.generation)
        && word(16) == Some(id.cookie)
}
