//! What opening the engine found: whether the last stop was clean, and per
//! storage space what recovery read, scanned, truncated or gave up on — so an
//! operator (and the server's start-up log) can tell a routine restart from
//! a crash recovery, and a crash recovery from lost data.

use crate::space::SpaceStatus;
use crate::types::SpaceId;
use std::path::PathBuf;
use std::time::Duration;

/// The report of one [`crate::Engine::open`] ([`crate::Engine::open_report`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// This open created the engine (no catalog existed): nothing to recover.
    pub created: bool,
    /// The last stop was a clean `close()`: every space put in service had
    /// its clean checkpoint (no tail was scanned), and the picture key
    /// index its clean mark.
    pub last_stop_clean: bool,
    /// One entry per storage space of the catalog, in catalog order.
    pub spaces: Vec<SpaceRecovery>,
    /// Of that, opening the picture key index and (after an unclean stop)
    /// reconciling it with the picture segments.
    pub key_index_took: Duration,
    /// How long the open took.
    pub took: Duration,
}

/// What opening found on one storage space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpaceRecovery {
    /// The space.
    pub space: SpaceId,
    /// Its folder.
    pub path: PathBuf,
    /// Its status after the open: `Normal` when in service, else why not
    /// (`Lost`, `Error`, `Uninitialized`; see `detail`).
    pub status: SpaceStatus,
    /// Why the space is not in service, if it is not.
    pub detail: Option<String>,
    /// Its checkpoint was written by a clean close.
    pub clean_checkpoint: bool,
    /// Segment headers read.
    pub segments: u32,
    /// Open segments whose tail past the checkpoint was scanned.
    pub scanned_segments: u32,
    /// Records and pictures those scans found past the checkpoint.
    pub recovered_entries: u64,
    /// Torn tails truncated at the first invalid record: (segment, why).
    pub truncated: Vec<(u32, String)>,
    /// Segments whose data was given up (an unreadable header, in
    /// `RecoveryMode::TolerateAnyCorruption`): made free. (segment, why)
    pub given_up: Vec<(u32, String)>,
    /// Seals a crash had cut short, queued again.
    pub seals_resumed: u32,
    /// How long this space took to load.
    pub took: Duration,
}

impl SpaceRecovery {
    /// An entry for `space` at `path` with nothing found yet.
    pub(crate) fn new(space: SpaceId, path: PathBuf) -> Self {
        SpaceRecovery {
            space,
            path,
            status: SpaceStatus::Normal,
            detail: None,
            clean_checkpoint: false,
            segments: 0,
            scanned_segments: 0,
            recovered_entries: 0,
            truncated: Vec::new(),
            given_up: Vec::new(),
            seals_resumed: 0,
            took: Duration::ZERO,
        }
    }

    /// The entry of a space that could not be put in service.
    pub(crate) fn not_in_service(space: SpaceId, path: PathBuf, status: SpaceStatus, why: String) -> Self {
        SpaceRecovery { status, detail: Some(why), ..SpaceRecovery::new(space, path) }
    }
}

impl std::fmt::Display for SpaceRecovery {
    /// One line for a log: "space 7 (/data/s1): clean, 64 segments in 3 ms".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "space {} ({}): ", self.space, self.path.display())?;
        if let Some(why) = &self.detail {
            return write!(f, "{:?}: {why}", self.status);
        }
        write!(f, "{}", if self.clean_checkpoint { "clean" } else { "recovered" })?;
        write!(f, ", {} segments", self.segments)?;
        if self.scanned_segments > 0 {
            write!(
                f,
                ", {} tails scanned ({} entries past the checkpoint)",
                self.scanned_segments, self.recovered_entries
            )?;
        }
        if !self.truncated.is_empty() {
            write!(f, ", {} torn tails truncated", self.truncated.len())?;
        }
        if !self.given_up.is_empty() {
            write!(f, ", {} segments given up", self.given_up.len())?;
        }
        if self.seals_resumed > 0 {
            write!(f, ", {} seals resumed", self.seals_resumed)?;
        }
        write!(f, " in {} ms", self.took.as_millis())
    }
}
