//! The body codec (docs/sdk-protocol.md §4): a [`Writer`], a bounds-checked
//! [`Reader`], and the [`Wire`] trait that every type crossing the wire
//! implements, from integers to pstor-core's spaces, pools and pictures.
//!
//! Primitives, all integers little-endian:
//!
//! | type | bytes |
//! |---|---|
//! | `u8` `u16` `u32` `u64` `i32` `i64` | 1, 2, 4, 8, 4, 8 |
//! | `bool` | u8, 0 or 1 (anything else is refused) |
//! | `str` | u16 length + UTF-8 |
//! | `bytes` | u32 length + raw bytes |
//! | `option<T>` | u8 tag (0 none, 1 some) + T if some |
//! | `list<T>` | u32 count + count × T |
//!
//! Decoding never panics and never allocates more than the remaining input
//! justifies: a length or count that the remaining bytes cannot hold is an
//! error before anything is allocated.

mod model;
mod reader;
mod writer;

pub use reader::Reader;
pub use writer::{Writer, GATHER_MIN};

use crate::error::ProtoError;
use bytes::Bytes;

/// A type with a wire encoding.
pub trait Wire: Sized {
    /// Fewest bytes an encoded value takes (bounds list counts before
    /// allocating).
    const MIN_LEN: usize;
    /// Appends the encoding.
    fn put(&self, w: &mut Writer);
    /// Decodes one value.
    fn get(r: &mut Reader<'_>) -> Result<Self, ProtoError>;
}

macro_rules! wire_int {
    ($($t:ty => $put:ident, $get:ident;)*) => {$(
        impl Wire for $t {
            const MIN_LEN: usize = std::mem::size_of::<$t>();
            fn put(&self, w: &mut Writer) {
                w.$put(*self);
            }
            fn get(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
                r.$get()
            }
        }
    )*};
}

wire_int! {
    u8 => u8, u8;
    u16 => u16, u16;
    u32 => u32, u32;
    u64 => u64, u64;
    i32 => i32, i32;
    i64 => i64, i64;
    bool => bool, bool;
}

impl Wire for String {
    const MIN_LEN: usize = 2;
    fn put(&self, w: &mut Writer) {
        w.str(self);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        r.str()
    }
}

impl Wire for Bytes {
    const MIN_LEN: usize = 4;
    fn put(&self, w: &mut Writer) {
        w.shared(self);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        r.bytes()
    }
}

impl<T: Wire> Wire for Option<T> {
    const MIN_LEN: usize = 1;
    fn put(&self, w: &mut Writer) {
        match self {
            None => w.u8(0),
            Some(v) => {
                w.u8(1);
                v.put(w);
            }
        }
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        match r.u8()? {
            0 => Ok(None),
            1 => T::get(r).map(Some),
            t => Err(ProtoError::malformed(format!("option tag {t} (expected 0 or 1)"))),
        }
    }
}

impl<T: Wire> Wire for Vec<T> {
    const MIN_LEN: usize = 4;
    fn put(&self, w: &mut Writer) {
        w.count(self.len());
        for v in self {
            v.put(w);
        }
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        let n = r.count(T::MIN_LEN)?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(T::get(r)?);
        }
        Ok(out)
    }
}

impl<A: Wire, B: Wire> Wire for (A, B) {
    const MIN_LEN: usize = A::MIN_LEN + B::MIN_LEN;
    fn put(&self, w: &mut Writer) {
        self.0.put(w);
        self.1.put(w);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        Ok((A::get(r)?, B::get(r)?))
    }
}

impl<const N: usize> Wire for [u8; N] {
    const MIN_LEN: usize = N;
    fn put(&self, w: &mut Writer) {
        w.raw(self);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        r.array()
    }
}

/// Encodes one value into a fresh body.
pub fn to_body<T: Wire>(v: &T) -> Bytes {
    let mut w = Writer::new();
    v.put(&mut w);
    w.into_body()
}

/// Decodes a whole body as one value; bytes left over are an error.
pub fn from_body<T: Wire>(body: &Bytes) -> Result<T, ProtoError> {
    let mut r = Reader::new(body);
    let v = T::get(&mut r)?;
    r.finish()?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Nested = (u64, (i64, (String, (Option<u32>, Vec<bool>))));

    #[test]
    fn primitives_round_trip() {
        let v: Nested = (u64::MAX, (-5, ("ça va".into(), (Some(7), vec![true, false]))));
        let b = to_body(&v);
        assert_eq!(from_body::<Nested>(&b), Ok(v));
    }

    #[test]
    fn bad_tags_and_leftovers_are_refused() {
        assert!(matches!(from_body::<bool>(&Bytes::from_static(&[2])), Err(ProtoError::Malformed(_))));
        assert!(matches!(from_body::<Option<u8>>(&Bytes::from_static(&[3, 0])), Err(ProtoError::Malformed(_))));
        assert!(matches!(from_body::<u8>(&Bytes::from_static(&[1, 2])), Err(ProtoError::Malformed(_))));
        assert!(matches!(from_body::<String>(&Bytes::from_static(&[2, 0, 0xff, 0xfe])), Err(ProtoError::Malformed(_))));
    }

    #[test]
    fn huge_counts_fail_before_allocating() {
        // 4 billion u64s announced, 4 bytes given.
        let b = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4]);
        assert!(matches!(from_body::<Vec<u64>>(&b), Err(ProtoError::Truncated { .. })));
        let b = Bytes::from_static(&[0xff, 0xff, 0xff, 0x7f, 1]);
        assert!(matches!(from_body::<Bytes>(&b), Err(ProtoError::Truncated { .. })));
    }
}
