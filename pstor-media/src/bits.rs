//! Reading the bits of a raw byte sequence payload (RBSP): emulation
//! prevention removal, fixed-width fields and exp-Golomb codes (H.264
//! 7.2 and 9.1, H.265 7.2 and 9.2).

use crate::{MediaError, Result};
use std::borrow::Cow;

/// The RBSP of a NAL unit payload: every `00 00 03` becomes `00 00` (the
/// encoder inserted the 03 so that no start code appears inside a NAL
/// unit; H.264 7.4.1, H.265 7.4.2). Borrows when there is nothing to
/// remove.
pub fn remove_emulation_prevention(payload: &[u8]) -> Cow<'_, [u8]> {
    let has_escape = payload.windows(3).any(|w| w == [0, 0, 3]);
    if !has_escape {
        return Cow::Borrowed(payload);
    }
    let mut out = Vec::with_capacity(payload.len());
    let mut zeros = 0usize;
    for &b in payload {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    Cow::Owned(out)
}

/// A most-significant-bit-first reader over an RBSP. Every read names the
/// field it reads, so an error says which syntax element ran out or was
/// malformed, in which structure (the reader's `context`).
#[derive(Debug, Clone)]
pub struct BitReader<'a> {
    data: &'a [u8],
    /// Position in bits from the start of `data`.
    pos: usize,
    context: &'static str,
}

impl<'a> BitReader<'a> {
    /// A reader at the first bit of `data`; `context` names what is being
    /// parsed ("H.264 SPS") in errors.
    pub fn new(data: &'a [u8], context: &'static str) -> BitReader<'a> {
        BitReader { data, pos: 0, context }
    }

    /// What this reader parses, as given to [`BitReader::new`].
    pub fn context(&self) -> &'static str {
        self.context
    }

    /// Bits read so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bits left to read.
    pub fn bits_left(&self) -> usize {
        self.data.len() * 8 - self.pos
    }

    fn end(&self, field: &'static str) -> MediaError {
        MediaError::BitstreamEnd { context: self.context, field, bit: self.pos, len_bits: self.data.len() * 8 }
    }

    /// One bit, u(1), as a flag.
    pub fn flag(&mut self, field: &'static str) -> Result<bool> {
        let byte = *self.data.get(self.pos / 8).ok_or_else(|| self.end(field))?;
        let bit = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Ok(bit == 1)
    }

    /// `n` bits (0..=64), u(n), most significant first. More than 64 is
    /// refused as out of range.
    pub fn bits(&mut self, n: u32, field: &'static str) -> Result<u64> {
        self.check_width(n, 64)?;
        if (n as usize) > self.bits_left() {
            return Err(self.end(field));
        }
        let mut v = 0u64;
        for _ in 0..n {
            v = (v << 1) | u64::from(self.flag(field)?);
        }
        Ok(v)
    }

    /// `n` bits (0..=32), u(n), as a u32.
    pub fn u32(&mut self, n: u32, field: &'static str) -> Result<u32> {
        self.check_width(n, 32)?;
        Ok(self.bits(n, field)? as u32)
    }

    /// `n` bits (0..=8), u(n), as a u8.
    pub fn u8(&mut self, n: u32, field: &'static str) -> Result<u8> {
        self.check_width(n, 8)?;
        Ok(self.bits(n, field)? as u8)
    }

    fn check_width(&self, n: u32, max: u32) -> Result<()> {
        if n > max {
            return Err(self.out_of_range("bit count of a fixed-width read", i64::from(n), 0, i64::from(max)));
        }
        Ok(())
    }

    /// Skips `n` bits.
    pub fn skip(&mut self, n: usize, field: &'static str) -> Result<()> {
        if n > self.bits_left() {
            return Err(self.end(field));
        }
        self.pos += n;
        Ok(())
    }

    /// An unsigned exp-Golomb code, ue(v): up to 31 leading zeros, so any
    /// value 0..=2^32-2. A longer code is refused (no syntax element needs
    /// it, and it is what garbage looks like).
    pub fn ue(&mut self, field: &'static str) -> Result<u32> {
        let start = self.pos;
        let mut zeros = 0u32;
        while !self.flag(field).map_err(|_| self.end_at(field, start))? {
            zeros += 1;
            if zeros > 31 {
                return Err(MediaError::ExpGolombTooLong { context: self.context, field, bit: start });
            }
        }
        let suffix = self.bits(zeros, field).map_err(|_| self.end_at(field, start))?;
        // zeros <= 31: (2^zeros - 1) + suffix <= 2^32 - 2.
        Ok(((1u64 << zeros) - 1 + suffix) as u32)
    }

    /// A signed exp-Golomb code, se(v): ue k maps to (-1)^(k+1) * ceil(k/2).
    pub fn se(&mut self, field: &'static str) -> Result<i32> {
        let k = i64::from(self.ue(field)?);
        let magnitude = (k + 1) / 2;
        // k <= 2^32 - 2, so magnitude <= 2^31 - 1.
        Ok(if k % 2 == 1 { magnitude } else { -magnitude } as i32)
    }

    /// An end-of-data error for a field that started at `bit`.
    fn end_at(&self, field: &'static str, bit: usize) -> MediaError {
        MediaError::BitstreamEnd { context: self.context, field, bit, len_bits: self.data.len() * 8 }
    }

    /// A ue(v) that must lie in `min..=max`.
    pub fn ue_in(&mut self, field: &'static str, min: u32, max: u32) -> Result<u32> {
        let v = self.ue(field)?;
        if v < min || v > max {
            return Err(self.out_of_range(field, i64::from(v), i64::from(min), i64::from(max)));
        }
        Ok(v)
    }

    /// A se(v) that must lie in `min..=max`.
    pub fn se_in(&mut self, field: &'static str, min: i32, max: i32) -> Result<i32> {
        let v = self.se(field)?;
        if v < min || v > max {
            return Err(self.out_of_range(field, i64::from(v), i64::from(min), i64::from(max)));
        }
        Ok(v)
    }

    /// A [`MediaError::OutOfRange`] in this reader's context.
    pub fn out_of_range(&self, field: &'static str, value: i64, min: i64, max: i64) -> MediaError {
        MediaError::OutOfRange { context: self.context, field, value, min, max }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emulation_prevention() {
        assert!(matches!(remove_emulation_prevention(&[1, 2, 0, 0, 1]), Cow::Borrowed(_)));
        assert_eq!(&*remove_emulation_prevention(&[0, 0, 3, 1, 0, 0, 3]), [0, 0, 1, 0, 0]);
        assert_eq!(&*remove_emulation_prevention(&[0, 0, 3, 0, 0, 3, 0]), [0, 0, 0, 0, 0]);
        // 00 03 after a removed 03: the zero count restarts.
        assert_eq!(&*remove_emulation_prevention(&[0, 0, 3, 3, 0, 3]), [0, 0, 3, 0, 3]);
    }

    #[test]
    fn fields() {
        // 1 | 010 | 011 | 00100 | 0001000 | 1010 ...
        let data = [0b1010_0110, 0b0100_0001, 0b0001_0100];
        let mut r = BitReader::new(&data, "test");
        assert_eq!(r.ue("a").ok(), Some(0));
        assert_eq!(r.ue("b").ok(), Some(1));
        assert_eq!(r.se("c").ok(), Some(-1));
        assert_eq!(r.ue("d").ok(), Some(3));
        assert_eq!(r.ue("e").ok(), Some(7));
        assert_eq!(r.bits(5, "f").ok(), Some(0b10100));
        assert_eq!(r.bits_left(), 0);
        let e = r.flag("g").expect_err("must fail");
        assert_eq!(e.to_string(), "test: g needs bits past the end of the data (at bit 24 of 24)");

        let mut r = BitReader::new(&[0, 0, 0, 0, 1], "test");
        assert!(matches!(r.ue("long"), Err(MediaError::ExpGolombTooLong { bit: 0, .. })));
        // 31 zeros, a one, 31 ones: 2^32 - 2, the largest value.
        let mut r = BitReader::new(&[0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe], "test");
        assert_eq!(r.ue("max").ok(), Some(u32::MAX - 1));
        let mut r = BitReader::new(&[0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe], "test");
        assert_eq!(r.se("max").ok(), Some(-(i32::MAX)));
        let mut r = BitReader::new(&[0x01], "test");
        assert!(matches!(r.ue("cut"), Err(MediaError::BitstreamEnd { bit: 0, .. })));
        let mut r = BitReader::new(&[0xff; 9], "test");
        assert!(r.bits(65, "x").is_err());
        assert_eq!(r.bits(64, "x").ok(), Some(u64::MAX));
        let mut r = BitReader::new(&[0xff; 9], "test");
        assert!(r.u32(33, "x").is_err());
        assert!(r.u8(9, "x").is_err());
        assert_eq!(r.u8(8, "x").ok(), Some(0xff));
        assert!(r.skip(65, "x").is_err());
        assert!(r.skip(64, "x").is_ok());
        let mut r = BitReader::new(&[0b0001_0000], "test");
        assert_eq!(
            r.ue_in("ranged", 0, 6).expect_err("must fail").to_string(),
            "test: ranged = 7 is out of range (0..=6)"
        );
    }
}
