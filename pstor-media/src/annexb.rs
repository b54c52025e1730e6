//! Annex B byte streams (H.264 Annex B, H.265 Annex B): NAL units behind
//! `00 00 01` / `00 00 00 01` start codes, as raw `.h264` / `.hevc` files
//! hold them. pstor never stores this form; tests and benches use it to
//! turn encoder output into stored frames.

use crate::nal::{NalHeader, NalKind};
use crate::Codec;

/// The NAL units of an Annex B byte stream, without start codes and
/// without the zero bytes around them (leading_zero_8bits,
/// trailing_zero_8bits, the first byte of a 4-byte start code). Bytes
/// before the first start code are skipped. Never fails: whatever lies
/// between two start codes is a NAL unit, empty ones are dropped.
pub fn nal_units(stream: &[u8]) -> AnnexBNals<'_> {
    let pos = find_start_code(stream, 0).map_or(stream.len(), |at| at + 3);
    AnnexBNals { stream, pos }
}

/// Iterator of [`nal_units`].
#[derive(Debug, Clone)]
pub struct AnnexBNals<'a> {
    stream: &'a [u8],
    /// Start of the next NAL unit (just after a start code).
    pos: usize,
}

/// Position of the next `00 00 01` at or after `from`.
fn find_start_code(s: &[u8], from: usize) -> Option<usize> {
    s.get(from..)?.windows(3).position(|w| w == [0, 0, 1]).map(|p| from + p)
}

impl<'a> Iterator for AnnexBNals<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        while self.pos < self.stream.len() {
            let start = self.pos;
            let end = match find_start_code(self.stream, start) {
                Some(at) => {
                    self.pos = at + 3;
                    at
                }
                None => {
                    self.pos = self.stream.len();
                    self.stream.len()
                }
            };
            // A NAL unit never ends in a zero byte (its RBSP ends with the
            // stop bit, and emulation prevention escapes cabac_zero_words),
            // so trailing zeros belong to the next start code or padding.
            let mut nal = &self.stream[start..end];
            while let [rest @ .., 0] = nal {
                nal = rest;
            }
            if !nal.is_empty() {
                return Some(nal);
            }
        }
        None
    }
}

impl std::iter::FusedIterator for AnnexBNals<'_> {}

/// The access units of an Annex B byte stream, each as its NAL units.
///
/// A new access unit starts, once the current one has a slice, at an
/// access unit delimiter, a parameter set, a (prefix) SEI or the first
/// slice of a new picture (H.264 7.4.1.2.3, H.265 7.4.2.4.4). "First slice"
/// is first_mb_in_slice = 0 / first_slice_segment_in_pic_flag = 1, so
/// H.264 arbitrary slice order is not followed; encoders' output is
/// grouped right. NAL units whose header does not parse stay in the
/// current access unit.
pub fn access_units(codec: Codec, stream: &[u8]) -> AccessUnits<'_> {
    AccessUnits { codec, nals: nal_units(stream).peekable() }
}

/// Iterator of [`access_units`].
#[derive(Debug, Clone)]
pub struct AccessUnits<'a> {
    codec: Codec,
    nals: std::iter::Peekable<AnnexBNals<'a>>,
}

/// Whether `nal` starts a new access unit when the current one already
/// has a slice.
fn starts_access_unit(codec: Codec, nal: &[u8]) -> bool {
    let Ok(h) = NalHeader::parse(codec, nal) else { return false };
    // The first bit after the header: first_mb_in_slice = 0 is ue(v) "1";
    // first_slice_segment_in_pic_flag is a plain flag.
    let first_slice = || nal.get(codec.nal_header_len()).is_some_and(|b| b & 0x80 != 0);
    match (codec, h.kind) {
        (_, NalKind::Aud | NalKind::Vps | NalKind::Sps | NalKind::Pps) => true,
        (_, NalKind::KeySlice | NalKind::Slice) => first_slice(),
        (Codec::H264, NalKind::Sei) => true,
        (Codec::H265, NalKind::Sei) => h.nal_unit_type == 39,
        (Codec::H264, NalKind::Other(t)) => (14..=18).contains(&t),
        (Codec::H265, NalKind::Other(t)) => (41..=44).contains(&t) || (48..=55).contains(&t),
        _ => false,
    }
}

impl<'a> Iterator for AccessUnits<'a> {
    type Item = Vec<&'a [u8]>;

    fn next(&mut self) -> Option<Vec<&'a [u8]>> {
        let mut au = Vec::new();
        let mut has_slice = false;
        while let Some(nal) = self.nals.peek().copied() {
            if has_slice && starts_access_unit(self.codec, nal) {
                break;
            }
            has_slice |= NalHeader::parse(self.codec, nal).is_ok_and(|h| h.kind.is_slice());
            au.push(nal);
            self.nals.next();
        }
        (!au.is_empty()).then_some(au)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_start_codes() {
        let s = [0, 0, 0, 1, 0x67, 1, 0, 0, 1, 0x68, 2, 0, 0, 0, 0, 1, 0x65, 0, 0, 3, 0, 9, 0, 0];
        let nals: Vec<_> = nal_units(&s).collect();
        assert_eq!(nals, [&[0x67, 1][..], &[0x68, 2], &[0x65, 0, 0, 3, 0, 9]]);
        assert_eq!(nal_units(&[7, 7, 0, 0, 1, 9, 0, 0, 1, 0, 0, 1]).collect::<Vec<_>>(), [&[9][..]]);
        assert_eq!(nal_units(&[1, 2, 3]).count(), 0);
        assert_eq!(nal_units(&[]).count(), 0);
        assert_eq!(nal_units(&[0, 0, 1]).count(), 0);
    }

    #[test]
    fn groups_access_units() {
        // SPS PPS IDR(first_mb 0) IDR(first_mb 1) P(first_mb 0) SEI P
        let s = [
            0, 0, 1, 0x67, 0x42, 0, 0, 1, 0x68, 0xce, 0, 0, 1, 0x65, 0x88, 0, 0, 1, 0x65, 0x40, 0, 0, 1, 0x41, 0x9a, 0,
            0, 1, 0x06, 0x05, 0, 0, 1, 0x41, 0x9a,
        ];
        let aus: Vec<_> = access_units(Codec::H264, &s).collect();
        assert_eq!(aus.len(), 3);
        assert_eq!(aus[0].len(), 4, "both slices of the IDR picture");
        assert_eq!(aus[1], [&[0x41, 0x9a][..]]);
        assert_eq!(aus[2].len(), 2, "SEI then its picture");
    }
}
