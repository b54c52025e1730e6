//! Picture ids: where a picture lives (space, segment, generation, offset,
//! length) plus its random cookie, as 24 bytes and as a fixed 32-character
//! URL-safe text (base64url without padding, docs/format.md §11.5).
//!
//! An id is a capability, not a key into a table: `get` reads exactly the
//! bytes it names and then checks the cookie and generation in the record
//! header, so a forged or stale id fails with a typed error, never returns
//! another picture's bytes.

use crate::error::{Error, Result};
use crate::types::SpaceId;
use std::fmt;
use std::str::FromStr;

/// Length of the binary form.
pub const PICTURE_ID_BYTES: usize = 24;
/// Length of the text form.
pub const PICTURE_ID_CHARS: usize = 32;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The id of a stored picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PictureId {
    /// Storage space holding it.
    pub space: SpaceId,
    /// Segment index in the space.
    pub segment: u32,
    /// Generation of the segment when the picture was written.
    pub generation: u32,
    /// Offset of the record in the segment.
    pub offset: u32,
    /// Length of the whole record.
    pub len: u32,
    /// Random cookie, also stored in the record header.
    pub cookie: u32,
}

impl PictureId {
    /// The 24-byte binary form (little-endian fields in declaration order).
    pub fn to_bytes(&self) -> [u8; PICTURE_ID_BYTES] {
        let mut b = [0u8; PICTURE_ID_BYTES];
        for (i, v) in
            [self.space.0, self.segment, self.generation, self.offset, self.len, self.cookie].into_iter().enumerate()
        {
            b[i * 4..i * 4 + 4].copy_from_slice(&v.to_le_bytes());
        }
        b
    }

    /// Parses the binary form.
    pub fn from_bytes(b: &[u8]) -> Result<Self> {
        if b.len() != PICTURE_ID_BYTES {
            return Err(Error::InvalidPictureId(format!("{} bytes, expected {PICTURE_ID_BYTES}", b.len())));
        }
        let f = |i: usize| u32::from_le_bytes([b[i * 4], b[i * 4 + 1], b[i * 4 + 2], b[i * 4 + 3]]);
        Ok(PictureId { space: SpaceId(f(0)), segment: f(1), generation: f(2), offset: f(3), len: f(4), cookie: f(5) })
    }
}

impl fmt::Display for PictureId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.to_bytes();
        let mut out = [0u8; PICTURE_ID_CHARS];
        // 24 bytes = 8 groups of 3 bytes = 8 groups of 4 characters.
        for (g, chunk) in b.chunks_exact(3).enumerate() {
            let n = (chunk[0] as u32) << 16 | (chunk[1] as u32) << 8 | chunk[2] as u32;
            for k in 0..4 {
                out[g * 4 + k] = ALPHABET[((n >> (18 - 6 * k)) & 63) as usize];
            }
        }
        // The alphabet is ASCII, so this cannot fail.
        f.write_str(std::str::from_utf8(&out).map_err(|_| fmt::Error)?)
    }
}

fn sextet(c: u8) -> Option<u32> {
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'-' => 62,
        b'_' => 63,
        _ => return None,
    } as u32)
}

impl FromStr for PictureId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let s = s.as_bytes();
        if s.len() != PICTURE_ID_CHARS {
            return Err(Error::InvalidPictureId(format!("{} characters, expected {PICTURE_ID_CHARS}", s.len())));
        }
        let mut b = [0u8; PICTURE_ID_BYTES];
        for (g, chunk) in s.chunks_exact(4).enumerate() {
            let mut n = 0u32;
            for &c in chunk {
                let v = sextet(c)
                    .ok_or_else(|| Error::InvalidPictureId(format!("character {:?} is not base64url", c as char)))?;
                n = n << 6 | v;
            }
            b[g * 3] = (n >> 16) as u8;
            b[g * 3 + 1] = (n >> 8) as u8;
            b[g * 3 + 2] = n as u8;
        }
        PictureId::from_bytes(&b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_text_form() {
        let id = PictureId { space: SpaceId(0), segment: 0, generation: 0, offset: 0, len: 0, cookie: 0 };
        assert_eq!(id.to_string(), "A".repeat(32));
        let id = PictureId { space: SpaceId(u32::MAX), segment: 1, generation: 2, offset: 4096, len: 99, cookie: 7 };
        let s = id.to_string();
        assert_eq!(s.len(), PICTURE_ID_CHARS);
        assert!(s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_eq!(s.parse::<PictureId>().expect("parse"), id);
    }

    #[test]
    fn bad_text_is_a_typed_error() {
        for bad in
            ["", "short", &"A".repeat(31), &"A".repeat(33), &format!("{}=", "A".repeat(31)), "ä".repeat(16).as_str()]
        {
            assert!(matches!(bad.parse::<PictureId>(), Err(Error::InvalidPictureId(_))), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn text_round_trip(f in proptest::array::uniform6(any::<u32>())) {
            let id = PictureId { space: SpaceId(f[0]), segment: f[1], generation: f[2], offset: f[3], len: f[4], cookie: f[5] };
            let s = id.to_string();
            prop_assert_eq!(s.len(), PICTURE_ID_CHARS);
            prop_assert_eq!(s.parse::<PictureId>().expect("parse"), id);
            prop_assert_eq!(PictureId::from_bytes(&id.to_bytes()).expect("bytes"), id);
        }

        #[test]
        fn arbitrary_text_never_panics(s in ".{0,40}") {
            let _ = s.parse::<PictureId>();
        }
    }
}
