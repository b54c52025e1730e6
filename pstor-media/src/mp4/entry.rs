//! Sample descriptions (`stsd` entries): `avc1` with its `avcC`, `hvc1`
//! with its `hvcC`, made from a decoder configuration. The samples keep
//! their in-band parameter sets (the stored form), identical to the
//! entry's: every decoder takes that, and each key frame stays
//! self-describing when a file is cut again.

use super::boxes::Mp4Box;
use crate::nal::{length_prefixed, NalHeader, NalKind, LENGTH_PREFIX};
use crate::{Codec, DecoderConfig, MediaError, Result};

/// A sample description ready to be written: the configuration's box and
/// the picture size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleEntry {
    /// The configuration it describes.
    pub config: DecoderConfig,
    /// Picture width (cropped).
    pub width: u16,
    /// Picture height (cropped).
    pub height: u16,
}

impl SampleEntry {
    /// The entry of a decoder configuration (its first SPS gives the size).
    pub fn new(config: DecoderConfig) -> Result<SampleEntry> {
        let (w, h) = config.dimensions()?;
        let fit = |v: u32| u16::try_from(v).map_err(|_| MediaError::PictureTooLarge { width: w, height: h });
        Ok(SampleEntry { width: fit(w)?, height: fit(h)?, config })
    }

    /// The RFC 6381 codec string (`avc1.4D401E`, `hvc1.1.6.L93.B0`): what
    /// Media Source Extensions and an HLS `CODECS` attribute ask for.
    pub fn codec_string(&self) -> Result<String> {
        let sps =
            self.config.sps.first().ok_or(MediaError::MissingParameterSet { codec: self.config.codec, kind: "SPS" })?;
        Ok(match crate::sps::Sps::parse(self.config.codec, sps)? {
            crate::sps::Sps::H264(s) => {
                format!("avc1.{:02X}{:02X}{:02X}", s.profile_idc, s.constraint_flags, s.level_idc)
            }
            crate::sps::Sps::H265(s) => {
                let p = s.ptl;
                let space = ["", "A", "B", "C"][usize::from(p.profile_space & 3)];
                let mut out = format!(
                    "hvc1.{space}{}.{:X}.{}{}",
                    p.profile_idc,
                    p.compatibility_flags.reverse_bits(),
                    if p.tier { 'H' } else { 'L' },
                    p.level_idc
                );
                let bytes: Vec<u8> = (0..6).map(|i| (p.constraint_flags >> (40 - 8 * i)) as u8).collect();
                let kept = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
                for b in &bytes[..kept] {
                    out.push_str(&format!(".{b:X}"));
                }
                out
            }
        })
    }

    /// The `avc1` / `hvc1` box.
    pub fn to_box(&self) -> Result<Mp4Box> {
        let (kind, record_kind, name) = match self.config.codec {
            Codec::H264 => (b"avc1", b"avcC", "pstor H.264"),
            Codec::H265 => (b"hvc1", b"hvcC", "pstor H.265"),
        };
        let mut b = Mp4Box::new(kind);
        b.zeros(6).u16(1); // reserved, data_reference_index
        b.zeros(16); // pre_defined, reserved, pre_defined[3]
        b.u16(self.width).u16(self.height);
        b.u32(0x0048_0000).u32(0x0048_0000); // 72 dpi
        b.u32(0).u16(1); // reserved, frame_count
        let mut compressor = [0u8; 32];
        compressor[0] = name.len() as u8;
        compressor[1..=name.len()].copy_from_slice(name.as_bytes());
        b.bytes(&compressor);
        b.u16(0x0018).u16(0xffff); // depth, pre_defined -1
        let mut record = Mp4Box::new(record_kind);
        record.bytes(&self.config.to_record()?);
        b.child(record);
        Ok(b)
    }
}

/// What the start of a key frame says of its configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lead {
    /// Its parameter sets, complete.
    Config(DecoderConfig),
    /// The bytes end before its first slice: read more of the frame.
    NeedMore,
}

/// The decoder configuration of a key frame's in-band parameter sets,
/// from the frame's first bytes (`lead` may end anywhere: the parameter
/// sets come before the first slice). A frame whose parameter sets are
/// missing or broken is an error.
pub fn key_frame_config(codec: Codec, lead: &[u8], whole: bool) -> Result<Lead> {
    let (mut vps, mut sps, mut pps) = (Vec::new(), Vec::new(), Vec::new());
    let mut pos = 0;
    // Walks the length prefixes by hand: the first slice's header is
    // enough, its body may lie beyond the lead.
    while pos < lead.len() {
        let Some(prefix) = lead.get(pos..pos + LENGTH_PREFIX) else { break };
        let declared = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
        let at = pos + LENGTH_PREFIX;
        if declared == 0 {
            return Err(MediaError::ZeroLengthNal { offset: pos });
        }
        let available = &lead[at..];
        let nal = &available[..declared.min(available.len())];
        if nal.len() < codec.nal_header_len() {
            break;
        }
        let h = NalHeader::parse_at(codec, nal, at)?;
        if h.kind.is_slice() {
            return DecoderConfig::new(codec, vps, sps, pps).map(Lead::Config);
        }
        if nal.len() < declared {
            break;
        }
        match h.kind {
            NalKind::Vps => vps.push(nal.to_vec()),
            NalKind::Sps => sps.push(nal.to_vec()),
            NalKind::Pps => pps.push(nal.to_vec()),
            _ => {}
        }
        pos = at + declared;
    }
    if whole {
        // The whole frame and no slice (or a NAL unit overrunning it).
        return match length_prefixed(lead).find_map(|r| r.err()) {
            Some(e) => Err(e),
            None => Err(MediaError::NoSlice { codec, nals: length_prefixed(lead).count() }),
        };
    }
    Ok(Lead::NeedMore)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::nal::append_length_prefixed;

    fn config() -> DecoderConfig {
        DecoderConfig::parse(Codec::H264, include_bytes!("../../tests/data/h264_main_96x64.avcC")).unwrap()
    }

    fn key_frame() -> Vec<u8> {
        let mut f = Vec::new();
        let c = config();
        for nal in [&[0x09, 0xf0][..], &c.sps[0], &c.pps[0], &[0x65, 0x88, 0x84, 0x00, 0x33][..]] {
            append_length_prefixed(nal, &mut f).unwrap();
        }
        f
    }

    #[test]
    fn the_config_comes_from_the_lead_and_a_short_lead_asks_for_more() {
        let f = key_frame();
        let Lead::Config(c) = key_frame_config(Codec::H264, &f, true).unwrap() else { panic!("a config") };
        assert!(c.same_parameter_sets(&config()));
        // Up to the slice's prefix is enough; inside the SPS is not.
        assert_eq!(key_frame_config(Codec::H264, &f[..f.len() - 3], false).unwrap(), Lead::Config(c.clone()));
        assert_eq!(key_frame_config(Codec::H264, &f[..12], false).unwrap(), Lead::NeedMore);
        assert!(key_frame_config(Codec::H264, &f[..12], true).is_err());
        let e = SampleEntry::new(c).unwrap();
        assert_eq!((e.width, e.height), (96, 64));
        let b = e.to_box().unwrap().to_bytes();
        assert_eq!(&b[4..8], b"avc1");
        assert_eq!(e.codec_string().unwrap(), "avc1.4D400A", "Main profile, level 1.0 (ffprobe says so of the vector)");
        assert_eq!(b.len() as u64, e.to_box().unwrap().len());
    }
}
