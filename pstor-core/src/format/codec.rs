//! Little-endian byte cursors used by every on-disk decoder. Reading never
//! panics: running off the end is a [`DecodeError`], and lengths read from disk
//! are checked against what is left before anything is allocated.

use std::fmt;

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecodeError {}

/// Shorthand for building a [`DecodeError`].
pub(crate) fn bad(msg: impl Into<String>) -> DecodeError {
    DecodeError(msg.into())
}

/// Appends little-endian values to a buffer.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn with_capacity(n: usize) -> Self {
        Writer { buf: Vec::with_capacity(n) }
    }
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u128(&mut self, v: u128) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn bytes(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }
    /// A u32 length followed by the bytes.
    pub fn blob(&mut self, v: &[u8]) {
        self.u32(v.len() as u32);
        self.buf.extend_from_slice(v);
    }
    pub fn str(&mut self, v: &str) {
        self.blob(v.as_bytes());
    }
    /// Appends the CRC-32 (IEEE, crc32fast) of everything written so far.
    pub fn finish_crc(mut self) -> Vec<u8> {
        let crc = crc32fast::hash(&self.buf);
        self.u32(crc);
        self.buf
    }
}

/// Reads little-endian values from a slice.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.remaining() {
            return Err(bad(format!("truncated: wanted {n} bytes at offset {}, {} left", self.pos, self.remaining())));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    pub fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_le_bytes(self.array()?))
    }
    pub fn u128(&mut self) -> Result<u128, DecodeError> {
        Ok(u128::from_le_bytes(self.array()?))
    }
    pub fn blob(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    pub fn str(&mut self) -> Result<String, DecodeError> {
        let b = self.blob()?;
        String::from_utf8(b.to_vec()).map_err(|_| bad("string is not UTF-8"))
    }
    /// A count of items each at least `min_item_len` bytes long, checked
    /// against the bytes left so a corrupt count cannot make us allocate.
    pub fn count(&mut self, min_item_len: usize) -> Result<usize, DecodeError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_item_len.max(1)) > self.remaining() {
            return Err(bad(format!("count {n} exceeds the bytes left")));
        }
        Ok(n)
    }
    pub fn expect_end(&self) -> Result<(), DecodeError> {
        if self.remaining() != 0 {
            return Err(bad(format!("{} trailing bytes", self.remaining())));
        }
        Ok(())
    }
}

/// Splits `bytes` into body and trailing CRC and checks it.
pub(crate) fn check_crc<'a>(bytes: &'a [u8], what: &str) -> Result<&'a [u8], DecodeError> {
    if bytes.len() < 4 {
        return Err(bad(format!("{what}: too short for a checksum")));
    }
    let (body, tail) = bytes.split_at(bytes.len() - 4);
    let mut t = [0u8; 4];
    t.copy_from_slice(tail);
    let stored = u32::from_le_bytes(t);
    let actual = crc32fast::hash(body);
    if stored != actual {
        return Err(bad(format!("{what}: checksum mismatch (stored {stored:#010x}, computed {actual:#010x})")));
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_truncation() {
        let mut w = Writer::default();
        w.u8(1);
        w.u16(2);
        w.u32(3);
        w.u64(4);
        w.i64(-5);
        w.u128(6);
        w.str("cam");
        let bytes = w.finish_crc();
        let body = check_crc(&bytes, "t").expect("crc");
        let mut r = Reader::new(body);
        assert_eq!(r.u8().expect("u8"), 1);
        assert_eq!(r.u16().expect("u16"), 2);
        assert_eq!(r.u32().expect("u32"), 3);
        assert_eq!(r.u64().expect("u64"), 4);
        assert_eq!(r.i64().expect("i64"), -5);
        assert_eq!(r.u128().expect("u128"), 6);
        assert_eq!(r.str().expect("str"), "cam");
        r.expect_end().expect("end");
        assert!(Reader::new(&[1, 2]).u32().is_err());
        let mut flipped = bytes.clone();
        flipped[3] ^= 1;
        assert!(check_crc(&flipped, "t").is_err());
    }

    #[test]
    fn huge_count_is_refused_without_allocating() {
        let mut w = Writer::default();
        w.u32(u32::MAX);
        let mut r = Reader::new(&w.buf);
        assert!(r.count(8).is_err());
    }
}
