//! The bytes pstor puts on disk. `docs/format.md` is the authority; every
//! offset and size here mirrors a line of it. Decoders never panic and never
//! allocate more than the input can justify (they are fuzzed).

pub(crate) mod catalog;
pub(crate) mod checkpoint;
pub(crate) mod codec;
pub(crate) mod needle;
pub(crate) mod record;
pub(crate) mod segment;
pub(crate) mod superblock;

pub use codec::DecodeError;

/// On-disk format version written by this build (all structures).
pub const FORMAT_VERSION: u16 = 2;
