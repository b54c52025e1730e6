//! The protocol's limits and their defaults (docs/sdk-protocol.md §8). The
//! server announces the two that clients must respect, `max_body` and
//! `max_in_flight`, in its `Hello`.

/// Overhead allowed on top of the largest frame or picture the engine
/// accepts: the batch or picture metadata around the data (a picture's
/// camera id, content type, bucket and key are under 1.5 KiB).
pub const BODY_OVERHEAD: u32 = 64 << 10;

/// Default largest frame body: pstor-core's largest video frame and
/// largest picture (16 MiB each, `EngineOptions::max_frame_bytes` and
/// `max_picture_bytes`) plus [`BODY_OVERHEAD`]. An append batch or a range
/// read item holding one maximal frame fits, and so does a put or a get of
/// a maximal picture.
pub const DEFAULT_MAX_BODY: u32 = (16 << 20) + BODY_OVERHEAD;

/// Largest body accepted before authentication (`Auth` is under 200
/// bytes): an unauthenticated peer cannot make the server buffer more.
pub const HANDSHAKE_MAX_BODY: u32 = 4096;

/// Default number of requests of one connection the server queues before
/// it stops reading from the socket (TCP backpressure does the rest).
/// Sixteen 256 KiB append batches (4 MiB) cover the bandwidth-delay product
/// of most links; a deeper queue only lets the received bytes go cold in
/// the CPU cache before the executor reads them (64 measured slower).
pub const DEFAULT_MAX_IN_FLIGHT: u32 = 16;

/// Default size a range read aims for per stream item (one item may be
/// larger when a single frame is).
pub const DEFAULT_READ_ITEM_BYTES: u32 = 256 << 10;

/// Most entries one page of a listing returns (streams, locks, pictures,
/// keys); a larger `limit` is lowered to it.
pub const MAX_PAGE: u32 = 1000;

/// Most events one poll returns.
pub const MAX_EVENTS_PER_POLL: u32 = 1000;

/// Longest wait of an event poll, in milliseconds; a longer `wait_ms` is
/// lowered to it.
pub const MAX_EVENT_WAIT_MS: u32 = 30_000;
