//! NAL units: their headers and kinds, and the 4-byte length-prefixed
//! framing of a stored frame (`docs/media.md`).

use crate::{Codec, MediaError, Result};

/// What a NAL unit is, as far as storing and playing frames cares. The
/// same kinds for both codecs; [`NalKind::of`] maps each codec's
/// nal_unit_type numbers onto them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NalKind {
    /// H.265 video parameter set (type 32).
    Vps,
    /// Sequence parameter set (H.264 7, H.265 33).
    Sps,
    /// Picture parameter set (H.264 8, H.265 34).
    Pps,
    /// A slice a decoder can start at: H.264 IDR (5), H.265 IRAP
    /// (BLA, IDR, CRA: 16..=21). Its presence makes a frame a key frame.
    KeySlice,
    /// Any other coded slice (H.264 1..=4, H.265 0..=9).
    Slice,
    /// Supplemental enhancement information (H.264 6, H.265 39 and 40).
    Sei,
    /// Access unit delimiter (H.264 9, H.265 35).
    Aud,
    /// End of sequence (H.264 10, H.265 36).
    EndOfSequence,
    /// End of stream / end of bitstream (H.264 11, H.265 37).
    EndOfStream,
    /// Filler data (H.264 12, H.265 38).
    FillerData,
    /// Anything else (reserved, unspecified, extensions), with its
    /// nal_unit_type.
    Other(u8),
}

impl NalKind {
    /// The kind of a nal_unit_type of `codec`.
    pub fn of(codec: Codec, nal_unit_type: u8) -> NalKind {
        match codec {
            Codec::H264 => match nal_unit_type {
                1..=4 => NalKind::Slice,
                5 => NalKind::KeySlice,
                6 => NalKind::Sei,
                7 => NalKind::Sps,
                8 => NalKind::Pps,
                9 => NalKind::Aud,
                10 => NalKind::EndOfSequence,
                11 => NalKind::EndOfStream,
                12 => NalKind::FillerData,
                t => NalKind::Other(t),
            },
            Codec::H265 => match nal_unit_type {
                0..=9 => NalKind::Slice,
                16..=21 => NalKind::KeySlice,
                32 => NalKind::Vps,
                33 => NalKind::Sps,
                34 => NalKind::Pps,
                35 => NalKind::Aud,
                36 => NalKind::EndOfSequence,
                37 => NalKind::EndOfStream,
                38 => NalKind::FillerData,
                39 | 40 => NalKind::Sei,
                t => NalKind::Other(t),
            },
        }
    }

    /// A coded slice ([`NalKind::KeySlice`] or [`NalKind::Slice`]).
    pub fn is_slice(self) -> bool {
        matches!(self, NalKind::KeySlice | NalKind::Slice)
    }

    /// A VPS, SPS or PPS: what a key frame carries in front of its slices.
    pub fn is_parameter_set(self) -> bool {
        matches!(self, NalKind::Vps | NalKind::Sps | NalKind::Pps)
    }
}

/// A parsed NAL unit header (H.264 7.3.1, H.265 7.3.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NalHeader {
    /// nal_unit_type (5 bits in H.264, 6 in H.265).
    pub nal_unit_type: u8,
    /// Its kind.
    pub kind: NalKind,
    /// H.264 nal_ref_idc (0..=3); 0 for H.265.
    pub nal_ref_idc: u8,
    /// H.265 nuh_layer_id (0..=63); 0 for H.264.
    pub layer_id: u8,
    /// H.265 TemporalId (nuh_temporal_id_plus1 - 1, 0..=6); 0 for H.264.
    pub temporal_id: u8,
}

impl NalHeader {
    /// Parses the header at the start of `nal` (a NAL unit without start
    /// code or length prefix). Refuses a set forbidden_zero_bit, a header
    /// shorter than the codec's, and (H.265) nuh_temporal_id_plus1 = 0.
    pub fn parse(codec: Codec, nal: &[u8]) -> Result<NalHeader> {
        Self::parse_at(codec, nal, 0)
    }

    /// [`NalHeader::parse`] of a NAL unit found at `offset` of a larger
    /// buffer, so errors name that offset.
    pub(crate) fn parse_at(codec: Codec, nal: &[u8], offset: usize) -> Result<NalHeader> {
        let bad = |problem| MediaError::BadNalHeader { codec, offset, problem };
        if nal.len() < codec.nal_header_len() {
            return Err(bad(if nal.is_empty() { "empty NAL unit" } else { "NAL unit shorter than its 2-byte header" }));
        }
        if nal[0] & 0x80 != 0 {
            return Err(bad("forbidden_zero_bit is set"));
        }
        Ok(match codec {
            Codec::H264 => {
                let nal_unit_type = nal[0] & 0x1f;
                NalHeader {
                    nal_unit_type,
                    kind: NalKind::of(codec, nal_unit_type),
                    nal_ref_idc: (nal[0] >> 5) & 3,
                    layer_id: 0,
                    temporal_id: 0,
                }
            }
            Codec::H265 => {
                let nal_unit_type = (nal[0] >> 1) & 0x3f;
                let temporal_id_plus1 = nal[1] & 7;
                if temporal_id_plus1 == 0 {
                    return Err(bad("nuh_temporal_id_plus1 is 0"));
                }
                NalHeader {
                    nal_unit_type,
                    kind: NalKind::of(codec, nal_unit_type),
                    nal_ref_idc: 0,
                    layer_id: ((nal[0] & 1) << 5) | (nal[1] >> 3),
                    temporal_id: temporal_id_plus1 - 1,
                }
            }
        })
    }
}

/// Bytes in a stored frame's NAL unit length prefix.
pub const LENGTH_PREFIX: usize = 4;

/// The NAL units of a buffer of 4-byte big-endian length-prefixed NAL
/// units (a stored frame; `avcC`/`hvcC` samples with lengthSizeMinusOne 3).
/// Each item is the NAL unit's offset in the buffer (of its first byte,
/// after the prefix) and its bytes. After an error (a truncated prefix, a
/// zero length, a length beyond the buffer) the iterator ends.
pub fn length_prefixed(buf: &[u8]) -> LengthPrefixed<'_> {
    LengthPrefixed { buf, pos: 0, failed: false }
}

/// Iterator of [`length_prefixed`].
#[derive(Debug, Clone)]
pub struct LengthPrefixed<'a> {
    buf: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> Iterator for LengthPrefixed<'a> {
    type Item = Result<(usize, &'a [u8])>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        let offset = self.pos;
        let rest = &self.buf[offset..];
        let result = match rest {
            [a, b, c, d, tail @ ..] => {
                let declared = u32::from_be_bytes([*a, *b, *c, *d]) as usize;
                if declared == 0 {
                    Err(MediaError::ZeroLengthNal { offset })
                } else if declared > tail.len() {
                    Err(MediaError::NalOverrun { offset, declared, available: tail.len() })
                } else {
                    self.pos = offset + LENGTH_PREFIX + declared;
                    Ok((offset + LENGTH_PREFIX, &tail[..declared]))
                }
            }
            _ => Err(MediaError::TruncatedLength { offset, available: rest.len() }),
        };
        self.failed = result.is_err();
        Some(result)
    }
}

impl std::iter::FusedIterator for LengthPrefixed<'_> {}

/// Appends `nal` to `out` behind its 4-byte big-endian length. Refuses an
/// empty NAL unit (it would make the frame unreadable) and one of 4 GiB or
/// more.
pub fn append_length_prefixed(nal: &[u8], out: &mut Vec<u8>) -> Result<()> {
    if nal.is_empty() {
        return Err(MediaError::ZeroLengthNal { offset: out.len() });
    }
    let len = u32::try_from(nal.len()).map_err(|_| MediaError::NalTooLong { len: nal.len() })?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(nal);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        let h = NalHeader::parse(Codec::H264, &[0x67, 0x42]).expect("SPS");
        assert_eq!((h.nal_unit_type, h.kind, h.nal_ref_idc), (7, NalKind::Sps, 3));
        assert_eq!(NalHeader::parse(Codec::H264, &[0x65]).expect("IDR").kind, NalKind::KeySlice);
        assert_eq!(NalHeader::parse(Codec::H264, &[0x41]).expect("P").kind, NalKind::Slice);
        assert_eq!(NalHeader::parse(Codec::H264, &[0x18]).expect("STAP-A").kind, NalKind::Other(24));
        let bad = NalHeader::parse(Codec::H264, &[0xe7]).expect_err("must fail");
        assert_eq!(bad.to_string(), "H264 NAL unit at offset 0: forbidden_zero_bit is set");

        let h = NalHeader::parse(Codec::H265, &[0x40, 0x01]).expect("VPS");
        assert_eq!((h.nal_unit_type, h.kind, h.layer_id, h.temporal_id), (32, NalKind::Vps, 0, 0));
        assert_eq!(NalHeader::parse(Codec::H265, &[0x2a, 0x01]).expect("CRA").kind, NalKind::KeySlice);
        assert_eq!(NalHeader::parse(Codec::H265, &[0x04, 0x02]).expect("TSA_N").temporal_id, 1);
        let h = NalHeader::parse(Codec::H265, &[0x4f, 0xf9]).expect("layer 63");
        assert_eq!((h.nal_unit_type, h.layer_id, h.temporal_id), (39, 63, 0));
        assert!(NalHeader::parse(Codec::H265, &[0x40]).is_err());
        assert!(NalHeader::parse(Codec::H265, &[0x40, 0x00]).is_err(), "temporal_id_plus1 0");
        assert!(NalHeader::parse(Codec::H264, &[]).is_err());
    }

    #[test]
    fn kinds() {
        for t in 16..=21 {
            assert_eq!(NalKind::of(Codec::H265, t), NalKind::KeySlice);
        }
        assert_eq!(NalKind::of(Codec::H265, 22), NalKind::Other(22));
        assert_eq!(NalKind::of(Codec::H265, 40), NalKind::Sei);
        assert!(NalKind::Vps.is_parameter_set() && !NalKind::Sei.is_parameter_set());
        assert!(NalKind::KeySlice.is_slice() && !NalKind::Aud.is_slice());
    }

    #[test]
    fn framing() {
        let mut buf = Vec::new();
        append_length_prefixed(&[0x67, 1, 2], &mut buf).expect("append");
        append_length_prefixed(&[0x68], &mut buf).expect("append");
        assert_eq!(buf, [0, 0, 0, 3, 0x67, 1, 2, 0, 0, 0, 1, 0x68]);
        let nals: Vec<_> = length_prefixed(&buf).collect::<Result<_>>().expect("parse");
        assert_eq!(nals, [(4, &[0x67, 1, 2][..]), (11, &[0x68][..])]);
        assert_eq!(append_length_prefixed(&[], &mut buf), Err(MediaError::ZeroLengthNal { offset: 12 }));

        let errs = |b: &[u8]| length_prefixed(b).find_map(|r| r.err()).expect("an error");
        assert_eq!(errs(&[0, 0, 0]), MediaError::TruncatedLength { offset: 0, available: 3 });
        assert_eq!(errs(&[0, 0, 0, 1, 9, 0, 0]), MediaError::TruncatedLength { offset: 5, available: 2 });
        assert_eq!(errs(&[0, 0, 0, 0]), MediaError::ZeroLengthNal { offset: 0 });
        assert_eq!(errs(&[0, 0, 0, 5, 1, 2]), MediaError::NalOverrun { offset: 0, declared: 5, available: 2 });
        assert_eq!(
            errs(&[0xff, 0xff, 0xff, 0xff, 1]).to_string(),
            "NAL unit at offset 0 declares 4294967295 bytes but only 1 follow"
        );
        let mut it = length_prefixed(&[0, 0, 0, 0, 0, 0, 0, 1, 5]);
        assert!(matches!(it.next(), Some(Err(_))));
        assert!(it.next().is_none(), "ends after an error");
        assert_eq!(length_prefixed(&[]).count(), 0);
    }
}
