//! Decoder configuration records: the avcC payload (AVCDecoderConfigurationRecord,
//! ISO/IEC 14496-15 §5.3.3.1) and the hvcC payload (HEVCDecoderConfigurationRecord,
//! §8.3.3.1), built from parameter sets and parsed back. A stream's codec
//! config in the engine is one of these, without the box header.

use crate::nal::{NalHeader, NalKind};
use crate::sps::{H264Sps, H265Sps, Sps, HIGH_PROFILES};
use crate::{AccessUnit, Codec, MediaError, Result};

/// A decoder configuration: the parameter sets and the NAL unit length
/// size.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DecoderConfig {
    /// The codec.
    pub codec: Codec,
    /// Bytes of each NAL unit's length prefix in samples (1, 2 or 4; the
    /// stored form uses 4).
    pub length_size: u8,
    /// H.265 video parameter sets.
    pub vps: Vec<Vec<u8>>,
    /// Sequence parameter sets.
    pub sps: Vec<Vec<u8>>,
    /// Picture parameter sets.
    pub pps: Vec<Vec<u8>>,
    /// Other NAL units of an hvcC's arrays (SEI), kept as (type, bytes).
    pub other: Vec<(u8, Vec<u8>)>,
}

struct Cursor<'a> {
    codec: Codec,
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8]> {
        let available = self.data.len() - self.pos;
        if n > available {
            return Err(MediaError::RecordTruncated {
                codec: self.codec,
                field,
                offset: self.pos,
                needed: n,
                available,
            });
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self, field: &'static str) -> Result<u8> {
        Ok(self.take(1, field)?[0])
    }
    fn u16(&mut self, field: &'static str) -> Result<u16> {
        let b = self.take(2, field)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn nal(&mut self, field: &'static str) -> Result<&'a [u8]> {
        let n = usize::from(self.u16(field)?);
        if n == 0 {
            return Err(MediaError::ZeroLengthNal { offset: self.pos - 2 });
        }
        self.take(n, field)
    }
}

fn length_size(codec: Codec, minus_one: u8) -> Result<u8> {
    match minus_one & 3 {
        2 => Err(MediaError::RecordLengthSize { codec }),
        m => Ok(m + 1),
    }
}

fn put_nal(out: &mut Vec<u8>, nal: &[u8]) -> Result<()> {
    let len = u16::try_from(nal.len()).map_err(|_| MediaError::TooMany {
        what: "parameter set bytes",
        count: nal.len(),
        max: usize::from(u16::MAX),
    })?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(nal);
    Ok(())
}

fn check_type(codec: Codec, nal: &[u8], want: NalKind, name: &'static str) -> Result<()> {
    let h = NalHeader::parse(codec, nal)?;
    if h.kind != want {
        return Err(MediaError::WrongNalType { codec, expected: name, found: h.nal_unit_type });
    }
    Ok(())
}

impl DecoderConfig {
    /// A configuration of these parameter sets with 4-byte lengths (the
    /// stored form). H.264 takes no VPS.
    pub fn new(codec: Codec, vps: Vec<Vec<u8>>, sps: Vec<Vec<u8>>, pps: Vec<Vec<u8>>) -> Result<DecoderConfig> {
        let c = DecoderConfig { codec, length_size: 4, vps, sps, pps, other: Vec::new() };
        c.check()?;
        Ok(c)
    }

    fn check(&self) -> Result<()> {
        let codec = self.codec;
        if codec == Codec::H265 && self.vps.is_empty() {
            return Err(MediaError::MissingParameterSet { codec, kind: "VPS" });
        }
        if self.sps.is_empty() {
            return Err(MediaError::MissingParameterSet { codec, kind: "SPS" });
        }
        if self.pps.is_empty() {
            return Err(MediaError::MissingParameterSet { codec, kind: "PPS" });
        }
        for v in &self.vps {
            check_type(codec, v, NalKind::Vps, "VPS")?;
        }
        for s in &self.sps {
            check_type(codec, s, NalKind::Sps, "SPS")?;
        }
        for p in &self.pps {
            check_type(codec, p, NalKind::Pps, "PPS")?;
        }
        // The record's fields come from the first SPS: it must parse.
        Sps::parse(codec, &self.sps[0])?;
        Ok(())
    }

    /// The configuration a key frame's in-band parameter sets make (each
    /// kind's sets in the order they appear); an error when it lacks one.
    pub fn from_access_unit(au: &AccessUnit<'_>) -> Result<DecoderConfig> {
        let (mut vps, mut sps, mut pps) = (Vec::new(), Vec::new(), Vec::new());
        for (kind, nal) in au.parameter_sets() {
            match kind {
                NalKind::Vps => vps.push(nal.to_vec()),
                NalKind::Sps => sps.push(nal.to_vec()),
                _ => pps.push(nal.to_vec()),
            }
        }
        DecoderConfig::new(au.codec(), vps, sps, pps)
    }

    /// The picture size of the first SPS.
    pub fn dimensions(&self) -> Result<(u32, u32)> {
        let sps = self.sps.first().ok_or(MediaError::MissingParameterSet { codec: self.codec, kind: "SPS" })?;
        Ok(Sps::parse(self.codec, sps)?.dimensions())
    }

    /// Whether `other` has the same parameter sets (a key frame that needs
    /// no new sample description).
    pub fn same_parameter_sets(&self, other: &DecoderConfig) -> bool {
        self.codec == other.codec && self.vps == other.vps && self.sps == other.sps && self.pps == other.pps
    }

    /// Parses an avcC (H.264) or hvcC (H.265) payload.
    pub fn parse(codec: Codec, record: &[u8]) -> Result<DecoderConfig> {
        let mut c = Cursor { codec, data: record, pos: 0 };
        let version = c.u8("configurationVersion")?;
        if version != 1 {
            return Err(MediaError::RecordVersion { codec, version });
        }
        let mut cfg = DecoderConfig { codec, length_size: 4, vps: vec![], sps: vec![], pps: vec![], other: vec![] };
        match codec {
            Codec::H264 => {
                c.take(3, "profile, compatibility, level")?;
                cfg.length_size = length_size(codec, c.u8("lengthSizeMinusOne")?)?;
                let n = c.u8("numOfSequenceParameterSets")? & 0x1f;
                for _ in 0..n {
                    cfg.sps.push(c.nal("sequenceParameterSetNALUnit")?.to_vec());
                }
                let n = c.u8("numOfPictureParameterSets")?;
                for _ in 0..n {
                    cfg.pps.push(c.nal("pictureParameterSetNALUnit")?.to_vec());
                }
                // The high-profile extension (chroma format, bit depths,
                // SPS extensions) repeats the SPS: not needed.
            }
            Codec::H265 => {
                c.take(20, "general profile, tier, level and format fields")?;
                cfg.length_size = length_size(codec, c.u8("lengthSizeMinusOne")?)?;
                let arrays = c.u8("numOfArrays")?;
                for _ in 0..arrays {
                    let offset = c.pos;
                    let array_type = c.u8("NAL_unit_type")? & 0x3f;
                    let n = c.u16("numNalus")?;
                    for _ in 0..n {
                        let nal = c.nal("nalUnit")?;
                        let h = NalHeader::parse(codec, nal)?;
                        if h.nal_unit_type != array_type {
                            return Err(MediaError::ArrayTypeMismatch { offset, array_type, found: h.nal_unit_type });
                        }
                        match h.kind {
                            NalKind::Vps => cfg.vps.push(nal.to_vec()),
                            NalKind::Sps => cfg.sps.push(nal.to_vec()),
                            NalKind::Pps => cfg.pps.push(nal.to_vec()),
                            _ => cfg.other.push((array_type, nal.to_vec())),
                        }
                    }
                }
            }
        }
        if codec == Codec::H264 {
            for s in &cfg.sps {
                check_type(codec, s, NalKind::Sps, "SPS")?;
            }
            for p in &cfg.pps {
                check_type(codec, p, NalKind::Pps, "PPS")?;
            }
        }
        if cfg.sps.is_empty() {
            return Err(MediaError::MissingParameterSet { codec, kind: "SPS" });
        }
        Ok(cfg)
    }

    /// The avcC / hvcC payload of this configuration.
    pub fn to_record(&self) -> Result<Vec<u8>> {
        self.check()?;
        let mut out = vec![1u8];
        let length_minus_one = self.length_size.clamp(1, 4) - 1;
        match self.codec {
            Codec::H264 => {
                let sps = H264Sps::parse(&self.sps[0])?;
                out.extend_from_slice(&[sps.profile_idc, sps.constraint_flags, sps.level_idc]);
                out.push(0xfc | length_minus_one);
                let count = |n: usize, max: usize, what| {
                    if n > max {
                        Err(MediaError::TooMany { what, count: n, max })
                    } else {
                        Ok(n as u8)
                    }
                };
                out.push(0xe0 | count(self.sps.len(), 31, "SPS in an avcC")?);
                for s in &self.sps {
                    put_nal(&mut out, s)?;
                }
                out.push(count(self.pps.len(), 255, "PPS in an avcC")?);
                for p in &self.pps {
                    put_nal(&mut out, p)?;
                }
                // As ffmpeg's muxers write it: the extension for every
                // profile but Baseline, Main and Extended.
                if HIGH_PROFILES.contains(&sps.profile_idc) {
                    out.push(0xfc | sps.chroma_format_idc);
                    out.push(0xf8 | (sps.bit_depth_luma - 8));
                    out.push(0xf8 | (sps.bit_depth_chroma - 8));
                    out.push(0);
                }
            }
            Codec::H265 => {
                let sps = H265Sps::parse(&self.sps[0])?;
                let p = sps.ptl;
                out.push((p.profile_space << 6) | (u8::from(p.tier) << 5) | p.profile_idc);
                out.extend_from_slice(&p.compatibility_flags.to_be_bytes());
                out.extend_from_slice(&p.constraint_flags.to_be_bytes()[2..]);
                out.push(p.level_idc);
                out.extend_from_slice(&[0xf0, 0x00]); // min_spatial_segmentation_idc 0
                out.push(0xfc); // parallelismType 0 (unknown)
                out.push(0xfc | sps.chroma_format_idc);
                out.push(0xf8 | (sps.bit_depth_luma - 8));
                out.push(0xf8 | (sps.bit_depth_chroma - 8));
                out.extend_from_slice(&[0, 0]); // avgFrameRate unknown
                                                // constantFrameRate 0, numTemporalLayers, temporalIdNested.
                out.push((sps.max_sub_layers << 3) | (u8::from(sps.temporal_id_nesting) << 2) | length_minus_one);
                let mut arrays: Vec<(u8, Vec<&[u8]>)> = vec![
                    (32, self.vps.iter().map(Vec::as_slice).collect()),
                    (33, self.sps.iter().map(Vec::as_slice).collect()),
                    (34, self.pps.iter().map(Vec::as_slice).collect()),
                ];
                for (t, nal) in &self.other {
                    match arrays.iter_mut().find(|(at, _)| at == t) {
                        Some((_, v)) => v.push(nal),
                        None => arrays.push((*t, vec![nal])),
                    }
                }
                out.push(arrays.len() as u8);
                for (t, nals) in arrays {
                    // array_completeness 1: every set of the stream is here
                    // (in-band copies only repeat them).
                    out.push(0x80 | t);
                    let n = u16::try_from(nals.len()).map_err(|_| MediaError::TooMany {
                        what: "NAL units in an hvcC array",
                        count: nals.len(),
                        max: usize::from(u16::MAX),
                    })?;
                    out.extend_from_slice(&n.to_be_bytes());
                    for nal in nals {
                        put_nal(&mut out, nal)?;
                    }
                }
            }
        }
        Ok(out)
    }
}
