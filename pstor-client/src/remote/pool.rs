//! A small pool of authenticated connections to one port: a call takes
//! one (or opens one), uses it alone, and gives it back only if it is
//! still in step. An idle connection is checked before reuse (a
//! non-blocking peek: three system calls beside a round trip), since the
//! server may have closed it (idle timeout, shutdown, restart) even a
//! moment ago: a stale one costs a reconnect, not a failed call. One idle
//! for half the server's idle timeout is pinged first
//! ([`Conn::keep_alive`]), so a call does not race the server closing it.

use super::conn::{Conn, Endpoint, Failure};
use pstor_core::Result;
use pstor_proto::{Request, ServerMessage};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// The pool of one port.
#[derive(Debug)]
pub(crate) struct Pool {
    /// Where its connections go.
    pub ep: Endpoint,
    idle: Mutex<Vec<Conn>>,
    /// Idle connections kept; more are closed when given back.
    keep: usize,
    /// Set by [`Pool::clear`]: connections given back are closed.
    closed: AtomicBool,
}

impl Pool {
    /// An empty pool keeping at most `keep` idle connections.
    pub fn new(ep: Endpoint, keep: usize) -> Pool {
        Pool { ep, idle: Mutex::new(Vec::new()), keep: keep.max(1), closed: AtomicBool::new(false) }
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Conn>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An idle connection that is still open, or a new one.
    pub fn take(&self) -> Result<Conn> {
        loop {
            let Some(mut conn) = self.idle().pop() else { break };
            if conn.keep_alive() {
                return Ok(conn);
            }
        }
        Conn::open(&self.ep)
    }

    /// Gives a connection back (closed instead if enough are idle, or if
    /// the pool was cleared).
    pub fn put(&self, conn: Conn) {
        let mut idle = self.idle();
        if idle.len() < self.keep && !self.closed.load(Ordering::Acquire) {
            idle.push(conn);
        }
    }

    /// Closes every idle connection, and those given back later (a range
    /// read that outlives the backend's `close`).
    pub fn clear(&self) {
        let mut idle = self.idle();
        self.closed.store(true, Ordering::Release);
        idle.clear();
    }

    /// Runs `f` on a connection of the pool, which goes back unless `f`
    /// failed fatally.
    pub fn with<T>(&self, f: impl FnOnce(&mut Conn) -> std::result::Result<T, Failure>) -> Result<T> {
        let mut conn = self.take()?;
        match f(&mut conn) {
            Ok(v) => {
                self.put(conn);
                Ok(v)
            }
            Err(fail) => {
                if !fail.is_fatal() {
                    self.put(conn);
                }
                Err(fail.error)
            }
        }
    }

    /// One request, one reply.
    pub fn call(&self, req: &Request) -> Result<ServerMessage> {
        self.with(|c| c.call(req))
    }
}
