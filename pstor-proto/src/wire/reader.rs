//! The bounds-checked body reader.

use crate::error::ProtoError;
use bytes::Bytes;

/// Reads a body front to back. Every read checks the remaining length
/// first; `bytes` fields are slices of the body (no copy).
#[derive(Debug)]
pub struct Reader<'a> {
    body: &'a Bytes,
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `body`.
    pub fn new(body: &'a Bytes) -> Self {
        Reader { body, pos: 0 }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.body.len().saturating_sub(self.pos)
    }

    /// Fails unless every byte was read.
    pub fn finish(self) -> Result<(), ProtoError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(ProtoError::malformed(format!("{n} bytes left over after the last field"))),
        }
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], ProtoError> {
        let left = self.remaining();
        let end = self.pos.checked_add(n).filter(|_| n <= left);
        match end.and_then(|e| self.body.get(self.pos..e)) {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => Err(ProtoError::Truncated { what, need: n, left }),
        }
    }

    /// `N` raw bytes.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], ProtoError> {
        let s = self.take(N, "fixed-size field")?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// A u8.
    pub fn u8(&mut self) -> Result<u8, ProtoError> {
        Ok(self.array::<1>()?[0])
    }
    /// A u16.
    pub fn u16(&mut self) -> Result<u16, ProtoError> {
        self.array().map(u16::from_le_bytes)
    }
    /// A u32.
    pub fn u32(&mut self) -> Result<u32, ProtoError> {
        self.array().map(u32::from_le_bytes)
    }
    /// A u64.
    pub fn u64(&mut self) -> Result<u64, ProtoError> {
        self.array().map(u64::from_le_bytes)
    }
    /// An i32.
    pub fn i32(&mut self) -> Result<i32, ProtoError> {
        self.array().map(i32::from_le_bytes)
    }
    /// An i64.
    pub fn i64(&mut self) -> Result<i64, ProtoError> {
        self.array().map(i64::from_le_bytes)
    }
    /// A bool: 0 or 1.
    pub fn bool(&mut self) -> Result<bool, ProtoError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(ProtoError::malformed(format!("bool {b} (expected 0 or 1)"))),
        }
    }

    /// A string: u16 length + UTF-8.
    pub fn str(&mut self) -> Result<String, ProtoError> {
        let n = self.u16()? as usize;
        let s = self.take(n, "string")?;
        std::str::from_utf8(s).map(str::to_owned).map_err(|e| ProtoError::malformed(format!("string: {e}")))
    }

    /// Bytes: u32 length + raw, as a slice of the body.
    pub fn bytes(&mut self) -> Result<Bytes, ProtoError> {
        let n = self.u32()? as usize;
        let start = self.pos;
        self.take(n, "bytes")?;
        Ok(self.body.slice(start..start + n))
    }

    /// A list count (u32), refused if the remaining bytes cannot hold that
    /// many items of at least `min_item` bytes each.
    pub fn count(&mut self, min_item: usize) -> Result<usize, ProtoError> {
        let n = self.u32()? as usize;
        let need = n.saturating_mul(min_item.max(1));
        if need > self.remaining() {
            return Err(ProtoError::Truncated { what: "list", need, left: self.remaining() });
        }
        Ok(n)
    }
}
