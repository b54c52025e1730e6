//! Range reads: one data connection per read, held exclusively while the
//! frames stream in; one stream item (about 256 KiB) buffered at a time,
//! so TCP's window is the flow control.

use super::conn::{remote, Conn, Failure};
use super::pool::Pool;
use pstor_core::{ErrorCode, Frame, Result, StreamId, Timestamp};
use pstor_proto::{Request, ServerMessage};
use std::sync::Arc;

/// The frames of a remote range read, as they arrive.
#[derive(Debug)]
pub(crate) struct RemoteFrames {
    pool: Arc<Pool>,
    /// `None` once the read has ended (the connection went back to the pool
    /// or was dropped).
    conn: Option<Conn>,
    id: u32,
    item: std::vec::IntoIter<Frame>,
    received: u64,
}

impl RemoteFrames {
    /// Sends the read request on a connection of its own and waits for the
    /// first answer, so that a read that cannot start (`StreamNotFound`,
    /// ...) fails here, as the engine's does.
    pub fn start(pool: Arc<Pool>, stream: StreamId, start: Timestamp, end: Timestamp) -> Result<RemoteFrames> {
        let mut conn = pool.take()?;
        let id = conn.send(&Request::ReadRange { stream, start, end }).map_err(|f| f.error)?;
        let mut frames = RemoteFrames { pool, conn: Some(conn), id, item: Vec::new().into_iter(), received: 0 };
        frames.next_item()?;
        Ok(frames)
    }

    /// Reads the next answer frame: a stream item (kept in `self.item`),
    /// the end, or an error. Ends the read unless it was an item.
    fn next_item(&mut self) -> Result<()> {
        let Some(conn) = self.conn.as_mut() else { return Ok(()) };
        let answer = conn.recv().and_then(|f| conn.answer(&f, self.id));
        match answer {
            Ok(ServerMessage::StreamItem(frames)) => {
                self.received += frames.len() as u64;
                self.item = frames.into_iter();
                Ok(())
            }
            Ok(ServerMessage::StreamEnd(end)) if end.frames == self.received => {
                self.finish(true);
                Ok(())
            }
            Ok(other) => {
                let ep = conn.ep.describe();
                self.finish(false);
                Err(remote(
                    ErrorCode::Protocol,
                    format!("the server at {ep} answered a range read with {other:?} after {} frames", self.received),
                ))
            }
            Err(Failure { error, fatal }) => {
                self.finish(!fatal);
                Err(error)
            }
        }
    }

    /// Ends the read: the connection goes back to the pool if it is in step.
    fn finish(&mut self, reuse: bool) {
        if let Some(conn) = self.conn.take() {
            if reuse {
                self.pool.put(conn);
            }
        }
    }
}

impl Iterator for RemoteFrames {
    type Item = Result<Frame>;

    fn next(&mut self) -> Option<Result<Frame>> {
        loop {
            if let Some(f) = self.item.next() {
                return Some(Ok(f));
            }
            self.conn.as_ref()?;
            if let Err(e) = self.next_item() {
                return Some(Err(e));
            }
        }
    }
}

// Dropping a read before its end drops its connection (`conn` is still
// `Some`): the server is mid-stream on it, so it cannot be reused.
