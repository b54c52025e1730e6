//! A stored frame: one access unit of 4-byte length-prefixed NAL units,
//! checked whole, with what the recorder and playback need to know of it
//! (key frame or not, the parameter sets it carries).

use crate::nal::{length_prefixed, NalHeader, NalKind};
use crate::{Codec, MediaError, Result};

/// A parsed stored frame; borrows the frame's bytes.
#[derive(Debug, Clone)]
pub struct AccessUnit<'a> {
    codec: Codec,
    nals: Vec<(NalHeader, &'a [u8])>,
    key: bool,
}

impl<'a> AccessUnit<'a> {
    /// Checks `data` as a stored frame of `codec`: whole length-prefixed
    /// NAL units (none empty, none overrunning), each with a valid header,
    /// and at least one coded slice.
    pub fn parse(codec: Codec, data: &'a [u8]) -> Result<AccessUnit<'a>> {
        if data.is_empty() {
            return Err(MediaError::EmptyFrame);
        }
        let mut nals = Vec::new();
        let mut key = false;
        let mut slices = 0usize;
        for item in length_prefixed(data) {
            let (offset, nal) = item?;
            let header = NalHeader::parse_at(codec, nal, offset)?;
            key |= header.kind == NalKind::KeySlice;
            slices += usize::from(header.kind.is_slice());
            nals.push((header, nal));
        }
        if slices == 0 {
            return Err(MediaError::NoSlice { codec, nals: nals.len() });
        }
        Ok(AccessUnit { codec, nals, key })
    }

    /// Its codec.
    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// A key frame: decoding can start here (H.264 IDR slice, H.265 IRAP).
    pub fn is_key(&self) -> bool {
        self.key
    }

    /// Its NAL units with their headers, in order.
    pub fn nals(&self) -> impl Iterator<Item = (NalHeader, &'a [u8])> + '_ {
        self.nals.iter().copied()
    }

    /// How many NAL units it has.
    pub fn nal_count(&self) -> usize {
        self.nals.len()
    }

    fn first(&self, kind: NalKind) -> Option<&'a [u8]> {
        self.nals.iter().find(|(h, _)| h.kind == kind).map(|&(_, n)| n)
    }

    /// Its first H.265 VPS.
    pub fn vps(&self) -> Option<&'a [u8]> {
        self.first(NalKind::Vps)
    }

    /// Its first SPS.
    pub fn sps(&self) -> Option<&'a [u8]> {
        self.first(NalKind::Sps)
    }

    /// Its first PPS.
    pub fn pps(&self) -> Option<&'a [u8]> {
        self.first(NalKind::Pps)
    }

    /// Every parameter set it carries (VPS, SPS, PPS), in order.
    pub fn parameter_sets(&self) -> impl Iterator<Item = (NalKind, &'a [u8])> + '_ {
        self.nals.iter().filter(|(h, _)| h.kind.is_parameter_set()).map(|&(h, n)| (h.kind, n))
    }
}

/// The frame `data` without its parameter-set NAL units, still
/// length-prefixed: what a frame is apart from the in-band parameter sets
/// (the tests compare recorded frames with a file's samples this way).
pub fn without_parameter_sets(codec: Codec, data: &[u8]) -> Result<Vec<u8>> {
    let au = AccessUnit::parse(codec, data)?;
    let mut out = Vec::with_capacity(data.len());
    for (h, nal) in au.nals() {
        if !h.kind.is_parameter_set() {
            out.extend_from_slice(&(nal.len() as u32).to_be_bytes());
            out.extend_from_slice(nal);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::append_length_prefixed;
    use proptest::prelude::*;

    fn frame(nals: &[&[u8]]) -> Vec<u8> {
        let mut v = Vec::new();
        for n in nals {
            append_length_prefixed(n, &mut v).expect("append");
        }
        v
    }

    #[test]
    fn h264_key_frames_and_their_parameter_sets() {
        let f = frame(&[&[0x09, 0xf0], &[0x67, 0x42, 0x00, 0x1e], &[0x68, 0xce], &[0x06, 5], &[0x65, 0x88, 0x84]]);
        let au = AccessUnit::parse(Codec::H264, &f).expect("valid");
        assert!(au.is_key());
        assert_eq!(au.nal_count(), 5);
        assert_eq!(au.sps(), Some(&[0x67, 0x42, 0x00, 0x1e][..]));
        assert_eq!(au.pps(), Some(&[0x68, 0xce][..]));
        assert_eq!(au.vps(), None);
        assert_eq!(au.parameter_sets().count(), 2);
        let bare = without_parameter_sets(Codec::H264, &f).expect("strip");
        assert_eq!(bare, frame(&[&[0x09, 0xf0], &[0x06, 5], &[0x65, 0x88, 0x84]]));
        let p = frame(&[&[0x41, 0x9a]]);
        assert!(!AccessUnit::parse(Codec::H264, &p).expect("P frame").is_key());
    }

    #[test]
    fn h265_irap_is_key() {
        for t in [16u8, 19, 20, 21] {
            let f = frame(&[&[0x40, 0x01, 0x0c], &[0x42, 0x01, 1], &[0x44, 0x01, 2], &[t << 1, 0x01, 0xaf]]);
            let au = AccessUnit::parse(Codec::H265, &f).expect("valid");
            assert!(au.is_key(), "type {t}");
            assert!(au.vps().is_some() && au.sps().is_some() && au.pps().is_some());
        }
        let trail = frame(&[&[0x02, 0x01, 0xd0]]);
        assert!(!AccessUnit::parse(Codec::H265, &trail).expect("TRAIL_R").is_key());
    }

    #[test]
    fn malformed_frames_are_refused_with_where() {
        assert_eq!(AccessUnit::parse(Codec::H264, &[]).expect_err("must fail"), MediaError::EmptyFrame);
        let e = AccessUnit::parse(Codec::H264, &frame(&[&[0x67, 1], &[0x68, 2]])).expect_err("must fail");
        assert_eq!(e, MediaError::NoSlice { codec: Codec::H264, nals: 2 });
        assert!(e.to_string().contains("no coded slice"), "{e}");
        let e = AccessUnit::parse(Codec::H264, &frame(&[&[0x65, 1], &[0xe5, 2]])).expect_err("must fail");
        assert!(e.to_string().contains("offset 10") && e.to_string().contains("forbidden_zero_bit"), "{e}");
        let e = AccessUnit::parse(Codec::H265, &frame(&[&[0x26, 0x00, 1]])).expect_err("must fail");
        assert!(e.to_string().contains("temporal_id_plus1"), "{e}");
        assert!(AccessUnit::parse(Codec::H264, &[0, 0, 0, 9, 0x65]).is_err());
        assert!(AccessUnit::parse(Codec::H264, &[0, 0, 1, 0x65]).is_err(), "Annex B is not the stored form");
    }

    proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..256), h265 in any::<bool>()) {
            let codec = if h265 { Codec::H265 } else { Codec::H264 };
            if let Ok(au) = AccessUnit::parse(codec, &data) {
                let n: usize = au.nals().map(|(_, n)| n.len() + 4).sum();
                prop_assert_eq!(n, data.len());
                let bare = without_parameter_sets(codec, &data);
                prop_assert!(bare.is_ok());
            }
        }

        #[test]
        fn written_frames_parse_back(nals in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..40), 1..8)) {
            // Force valid H.264 headers: the last is a slice.
            let mut nals = nals;
            for n in &mut nals { n[0] &= 0x7f; }
            let last = nals.len() - 1;
            nals[last][0] = 0x41;
            let refs: Vec<&[u8]> = nals.iter().map(Vec::as_slice).collect();
            let f = frame(&refs);
            let au = AccessUnit::parse(Codec::H264, &f).expect("valid");
            let back: Vec<&[u8]> = au.nals().map(|(_, n)| n).collect();
            prop_assert_eq!(back, refs);
        }
    }
}
