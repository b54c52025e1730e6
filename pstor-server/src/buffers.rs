//! Receive buffers for large request bodies, reused across requests and
//! connections.
//!
//! Why: an append body (a batch of video frames, about 256 KiB) is read
//! into its own buffer, and the engine keeps the frames by reference until
//! their chunk is written, at the next sync at the latest. A fresh buffer
//! per request means fresh pages: the allocator hands large blocks back to
//! the kernel when they are freed, and every page of the next one is
//! faulted in and zeroed again (a quarter of the server's CPU at 1 GB/s of
//! video). The pool keeps freed buffers, up to a byte budget, so the next
//! body lands in memory that is already mapped.
//!
//! A buffer goes back to the pool when the last `Bytes` that shares it is
//! dropped ([`Bytes::from_owner`]), whoever drops it: the executor, the
//! engine once it wrote the chunk, or a reply in flight.

use bytes::Bytes;
use parking_lot::Mutex;
use std::sync::Arc;

/// Bodies at least this large are read into pooled buffers; smaller ones
/// are split off the connection's read buffer.
pub const POOLED_MIN: usize = 64 << 10;
/// Size classes are powers of two from `POOLED_MIN` up.
const MIN_CLASS: u32 = POOLED_MIN.trailing_zeros();
/// Classes up to 2^31 bytes (bodies are limited to u32 lengths).
const CLASSES: usize = 32 - MIN_CLASS as usize;

/// Free buffers by size class, holding at most `budget` bytes.
#[derive(Debug)]
pub struct BufferPool {
    free: Mutex<Free>,
    budget: usize,
}

#[derive(Debug, Default)]
struct Free {
    by_class: Vec<Vec<Vec<u8>>>,
    bytes: usize,
}

/// What a pool keeps (for tests).
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Bytes of free buffers kept.
    pub free_bytes: usize,
    /// Free buffers kept.
    pub free_buffers: usize,
}

impl BufferPool {
    /// A pool that keeps at most `budget` bytes of free buffers (0: keeps
    /// none, every body gets a fresh buffer).
    pub fn new(budget: usize) -> Arc<BufferPool> {
        Arc::new(BufferPool { free: Mutex::new(Free { by_class: vec![Vec::new(); CLASSES], bytes: 0 }), budget })
    }

    /// An empty buffer with room for `len` bytes: a kept one of `len`'s
    /// class if there is one, else a new one.
    pub fn take(&self, len: usize) -> Vec<u8> {
        let class = class_of(len);
        let kept = {
            let mut free = self.free.lock();
            let got = free.by_class.get_mut(class).and_then(Vec::pop);
            if let Some(b) = &got {
                free.bytes -= b.capacity();
            }
            got
        };
        match kept {
            Some(b) => b,
            None => Vec::with_capacity(class_len(class).max(len)),
        }
    }

    /// `buf` (filled) as `Bytes` that give the buffer back to this pool
    /// when the last of them is dropped.
    pub fn share(self: &Arc<Self>, buf: Vec<u8>) -> Bytes {
        Bytes::from_owner(Pooled { buf, pool: Arc::clone(self) })
    }

    /// Keeps `buf` for a later [`BufferPool::take`] if it is of a class
    /// and the budget allows; frees it otherwise.
    fn give_back(&self, mut buf: Vec<u8>) {
        let cap = buf.capacity();
        let class = class_of(cap);
        if class_len(class) != cap {
            return; // not one of ours
        }
        buf.clear();
        let mut free = self.free.lock();
        if free.bytes + cap > self.budget {
            return;
        }
        free.bytes += cap;
        if let Some(list) = free.by_class.get_mut(class) {
            list.push(buf);
        }
    }

    /// What the pool keeps now.
    #[cfg(test)]
    pub fn stats(&self) -> PoolStats {
        let free = self.free.lock();
        PoolStats { free_bytes: free.bytes, free_buffers: free.by_class.iter().map(Vec::len).sum() }
    }
}

/// The class of a buffer of `len` bytes: the smallest power of two at or
/// above it (at least `POOLED_MIN`), as an index.
fn class_of(len: usize) -> usize {
    let bits = len.max(1).next_power_of_two().trailing_zeros().max(MIN_CLASS);
    (bits - MIN_CLASS) as usize
}

/// The capacity of class `class`'s buffers.
fn class_len(class: usize) -> usize {
    1usize << (class as u32 + MIN_CLASS)
}

/// A pooled buffer lent to `Bytes`.
struct Pooled {
    buf: Vec<u8>,
    pool: Arc<BufferPool>,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        self.pool.give_back(std::mem::take(&mut self.buf));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_powers_of_two_from_the_minimum() {
        assert_eq!(class_of(0), 0);
        assert_eq!(class_of(POOLED_MIN), 0);
        assert_eq!(class_of(POOLED_MIN + 1), 1);
        assert_eq!(class_len(class_of(300 << 10)), 512 << 10);
        assert_eq!(class_len(class_of(16 << 20)), 16 << 20);
    }

    #[test]
    fn a_buffer_comes_back_when_its_last_slice_is_dropped_and_is_reused() {
        let pool = BufferPool::new(1 << 20);
        let mut b = pool.take(300 << 10);
        assert_eq!(b.capacity(), 512 << 10);
        b.extend_from_slice(&[7u8; 300 << 10]);
        let addr = b.as_ptr();
        let bytes = pool.share(b);
        let slice = bytes.slice(10..20);
        drop(bytes);
        assert_eq!(pool.stats().free_buffers, 0, "a slice still holds it");
        assert_eq!(&slice[..], &[7u8; 10]);
        drop(slice);
        assert_eq!(pool.stats(), PoolStats { free_bytes: 512 << 10, free_buffers: 1 });
        let again = pool.take(257 << 10);
        assert_eq!(again.as_ptr(), addr, "the same memory, reused");
        assert!(again.is_empty());
        assert_eq!(pool.stats().free_buffers, 0);
    }

    #[test]
    fn the_budget_bounds_what_is_kept() {
        let pool = BufferPool::new(1 << 20);
        let bufs: Vec<Bytes> = (0..3).map(|_| pool.share(pool.take(512 << 10))).collect();
        drop(bufs);
        assert_eq!(pool.stats(), PoolStats { free_bytes: 1 << 20, free_buffers: 2 });
        let none = BufferPool::new(0);
        drop(none.share(none.take(POOLED_MIN)));
        assert_eq!(none.stats().free_buffers, 0);
    }
}
