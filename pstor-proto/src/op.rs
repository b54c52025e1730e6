//! Operation numbers, the port that serves each, and the two ports' roles.
//! The numbers are stable: a number never changes meaning, and a retired
//! one is never reused (docs/sdk-protocol.md §5 is the reference table; a
//! test keeps it in step).

/// The two SDK ports (manual 1.5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Port {
    /// 6036: management and inspection (spaces, pools, streams, locks,
    /// inspection, thresholds, events, check).
    Signalling,
    /// 6037: bulk data (appends, range reads, pictures).
    Data,
}

impl Port {
    /// Its role byte in the handshake: 1 signalling, 2 data.
    pub fn number(self) -> u8 {
        match self {
            Port::Signalling => 1,
            Port::Data => 2,
        }
    }

    /// The port with this role byte.
    pub fn from_number(b: u8) -> Option<Port> {
        match b {
            1 => Some(Port::Signalling),
            2 => Some(Port::Data),
            _ => None,
        }
    }

    /// The manual's default TCP port number.
    pub fn default_port(self) -> u16 {
        match self {
            Port::Signalling => 6036,
            Port::Data => 6037,
        }
    }

    /// "signalling" or "data".
    pub fn name(self) -> &'static str {
        match self {
            Port::Signalling => "signalling",
            Port::Data => "data",
        }
    }
}

/// Which port serves an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Served {
    /// Only the signalling port (6036).
    Signalling,
    /// Only the data port (6037).
    Data,
    /// Both.
    Both,
}

impl Served {
    /// Whether `port` serves it.
    pub fn on(self, port: Port) -> bool {
        matches!((self, port), (Served::Both, _) | (Served::Signalling, Port::Signalling) | (Served::Data, Port::Data))
    }
}

/// One operation: its number, name and port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpInfo {
    /// The number in the frame header.
    pub op: u16,
    /// Its name (as in docs/sdk-protocol.md).
    pub name: &'static str,
    /// Where it is served.
    pub served: Served,
}

/// The server's first frame (kind event): its nonce and limits.
pub const HELLO: u16 = 0x0001;
/// The client's answer (kind request) and the server's `AuthOk` (kind reply).
pub const AUTH: u16 = 0x0002;

macro_rules! ops {
    ($($(#[$doc:meta])* $name:ident = $num:literal, $text:literal, $served:ident;)*) => {
        $($(#[$doc])* pub const $name: u16 = $num;)*
        /// Every request operation (not the handshake), in number order.
        pub const OPS: &[OpInfo] = &[$(OpInfo { op: $num, name: $text, served: Served::$served },)*];
    };
}

ops! {
    /// Round trip; answers at once (both ports).
    PING = 0x0003, "ping", Both;
    /// Lists the storage spaces.
    LIST_SPACES = 0x0100, "list_spaces", Signalling;
    /// One storage space.
    GET_SPACE = 0x0101, "get_space", Signalling;
    /// Starts initializing a folder into a space; answers with a job id.
    INITIALIZE_SPACE = 0x0102, "initialize_space", Signalling;
    /// Starts restoring a space found on disk; answers with a job id.
    RESTORE_SPACE = 0x0103, "restore_space", Signalling;
    /// Deletes a lost or uninitialized space from the engine.
    DELETE_SPACE = 0x0104, "delete_space", Signalling;
    /// Re-initializes a space (wipes it), with its confirmation.
    REINITIALIZE_SPACE = 0x0105, "reinitialize_space", Signalling;
    /// Progress and result of a space job.
    JOB_STATUS = 0x0106, "job_status", Signalling;
    /// Asks a space job to stop.
    CANCEL_JOB = 0x0107, "cancel_job", Signalling;
    /// Lists the resource pools.
    LIST_POOLS = 0x0200, "list_pools", Signalling;
    /// One resource pool.
    GET_POOL = 0x0201, "get_pool", Signalling;
    /// Creates a resource pool.
    CREATE_POOL = 0x0202, "create_pool", Signalling;
    /// Edits a resource pool.
    EDIT_POOL = 0x0203, "edit_pool", Signalling;
    /// Deletes a resource pool.
    DELETE_POOL = 0x0204, "delete_pool", Signalling;
    /// Registers a stream.
    REGISTER_STREAM = 0x0300, "register_stream", Signalling;
    /// Finds a stream by camera, channel and kind.
    FIND_STREAM = 0x0301, "find_stream", Signalling;
    /// Lists streams, a page at a time.
    LIST_STREAMS = 0x0302, "list_streams", Signalling;
    /// One stream.
    GET_STREAM = 0x0303, "get_stream", Signalling;
    /// Recorded time ranges of a stream (both ports).
    RECORDED_RANGES = 0x0304, "recorded_ranges", Both;
    /// Locks a stream's time range.
    LOCK_STREAM = 0x0400, "lock_stream", Signalling;
    /// Locks a camera's pictures in a pool.
    LOCK_PICTURES = 0x0401, "lock_pictures", Signalling;
    /// Lists the locks in force, a page at a time.
    LIST_LOCKS = 0x0402, "list_locks", Signalling;
    /// Changes a lock's expiry.
    EXTEND_LOCK = 0x0403, "extend_lock", Signalling;
    /// Removes a lock.
    UNLOCK = 0x0404, "unlock", Signalling;
    /// Video inspection of one day.
    INSPECT_DAY = 0x0500, "inspect_day", Signalling;
    /// Video inspection of today so far.
    INSPECT_TODAY = 0x0501, "inspect_today", Signalling;
    /// Video inspection of a month, per day.
    INSPECT_MONTH = 0x0502, "inspect_month", Signalling;
    /// The server's date today (its calendar, in its UTC offset).
    TODAY = 0x0503, "today", Signalling;
    /// The storage thresholds.
    GET_THRESHOLDS = 0x0600, "get_thresholds", Signalling;
    /// Sets the storage thresholds.
    SET_THRESHOLDS = 0x0601, "set_thresholds", Signalling;
    /// Events after a sequence number (a long poll: the subscription).
    POLL_EVENTS = 0x0602, "poll_events", Signalling;
    /// The engine's invariant check.
    CHECK = 0x0603, "check", Signalling;
    /// Events of every kind, camera status included (revision 1.2).
    POLL_ALL_EVENTS = 0x0604, "poll_all_events", Signalling;
    /// Recording schedules, searched, a page at a time (revision 1.2).
    LIST_SCHEDULES = 0x0700, "list_schedules", Signalling;
    /// One recording schedule with its camera's status (revision 1.2).
    GET_SCHEDULE = 0x0701, "get_schedule", Signalling;
    /// Creates a recording schedule (revision 1.2).
    CREATE_SCHEDULE = 0x0702, "create_schedule", Signalling;
    /// Replaces a recording schedule (revision 1.2).
    REPLACE_SCHEDULE = 0x0703, "replace_schedule", Signalling;
    /// Deletes a recording schedule (revision 1.2).
    DELETE_SCHEDULE = 0x0704, "delete_schedule", Signalling;
    /// Starts or stops an event on an event schedule (revision 1.2).
    SCHEDULE_EVENT = 0x0705, "schedule_event", Signalling;
    /// Appends a batch of frames to a stream.
    APPEND = 0x1000, "append", Data;
    /// Makes a stream's buffered frames visible to readers.
    FLUSH_STREAM = 0x1001, "flush_stream", Data;
    /// Makes streams' frames durable (none listed: all).
    SYNC = 0x1002, "sync", Data;
    /// Reads a time range as a stream of frame batches.
    READ_RANGE = 0x1003, "read_range", Data;
    /// Accepts a stream's appends again after a refused one was reported.
    RESUME_STREAM = 0x1004, "resume_stream", Data;
    /// Stores a picture.
    PUT_PICTURE = 0x1100, "put_picture", Data;
    /// Makes a pool's pictures durable.
    SYNC_PICTURES = 0x1101, "sync_pictures", Data;
    /// Reads a picture.
    GET_PICTURE = 0x1102, "get_picture", Data;
    /// Reads part of a picture.
    GET_PICTURE_RANGE = 0x1103, "get_picture_range", Data;
    /// A picture's metadata.
    HEAD_PICTURE = 0x1104, "head_picture", Data;
    /// Reads the picture under a bucket and key.
    GET_PICTURE_BY_KEY = 0x1105, "get_picture_by_key", Data;
    /// The id of the picture under a bucket and key.
    PICTURE_ID_FOR_KEY = 0x1106, "picture_id_for_key", Data;
    /// Deletes a picture.
    DELETE_PICTURE = 0x1107, "delete_picture", Data;
    /// Deletes the picture under a bucket and key.
    DELETE_PICTURE_BY_KEY = 0x1108, "delete_picture_by_key", Data;
    /// Lists pictures by capture time, a page at a time.
    LIST_PICTURES = 0x1109, "list_pictures", Data;
    /// Lists a bucket's keys, a page at a time.
    LIST_KEYS = 0x110A, "list_keys", Data;
}

/// What is known about an operation number.
pub fn info(op: u16) -> Option<&'static OpInfo> {
    OPS.binary_search_by_key(&op, |o| o.op).ok().and_then(|i| OPS.get(i))
}

/// An operation's name, or `"unknown"`.
pub fn name(op: u16) -> &'static str {
    match op {
        HELLO => "hello",
        AUTH => "auth",
        _ => info(op).map_or("unknown", |o| o.name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_unique_and_sorted() {
        for w in OPS.windows(2) {
            assert!(w[0].op < w[1].op, "{} and {} out of order", w[0].name, w[1].name);
        }
        assert!(OPS.iter().all(|o| o.op != HELLO && o.op != AUTH));
        assert_eq!(info(PING).map(|o| o.served), Some(Served::Both));
        assert_eq!(info(0x7777), None);
        assert!(Served::Data.on(Port::Data) && !Served::Data.on(Port::Signalling));
    }

    /// docs/sdk-protocol.md lists every operation with its number and port.
    #[test]
    fn the_reference_table_matches() {
        let doc = include_str!("../../docs/sdk-protocol.md");
        let rows: Vec<(u16, String, String)> = doc
            .lines()
            .filter_map(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                let num = cells.get(1)?.trim_matches('`').strip_prefix("0x")?;
                let op = u16::from_str_radix(num, 16).ok()?;
                Some((op, cells.get(2)?.trim_matches('`').to_string(), cells.get(3)?.to_string()))
            })
            .filter(|(op, _, _)| *op != HELLO && *op != AUTH)
            .collect();
        let want: Vec<(u16, String, String)> = OPS
            .iter()
            .map(|o| {
                let port = match o.served {
                    Served::Signalling => "6036",
                    Served::Data => "6037",
                    Served::Both => "both",
                };
                (o.op, o.name.to_string(), port.to_string())
            })
            .collect();
        assert_eq!(rows, want, "docs/sdk-protocol.md's operation table is out of step with op::OPS");
    }
}
