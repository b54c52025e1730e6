//! Sequence parameter sets: what a decoder configuration record and an MP4
//! sample entry need from them (profile, level, chroma format, bit depths,
//! picture size after cropping, H.264 timing).
//!
//! Parsing stops once those fields are read: nothing after them (H.264 HRD
//! parameters, the rest of H.265's SPS) is looked at, so a parameter set is
//! refused only for what is read. Each field read is range-checked against
//! the specification where a bad value would change how the rest is read
//! or what is reported.

mod h264;
mod h265;

pub use h264::{H264Sps, H264Timing, PicOrderCnt, HIGH_PROFILES};
pub use h265::{H265Sps, ProfileTierLevel};

use crate::bits::remove_emulation_prevention;
use crate::nal::NalHeader;
use crate::{Codec, MediaError, Result};
use std::borrow::Cow;

/// The largest picture width or height accepted, in luma samples. Far
/// beyond any camera (8K is 7680) and both codecs' top levels (~16,900),
/// while keeping derived sizes well inside 32 bits and an MP4 sample
/// entry's 16-bit width and height.
pub const MAX_DIMENSION: u32 = 32768;

/// Cropping offsets as coded in the SPS (H.264 frame_crop_*_offset, H.265
/// conf_win_*_offset), in the codec's crop units, not luma samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Crop {
    /// Left offset.
    pub left: u32,
    /// Right offset.
    pub right: u32,
    /// Top offset.
    pub top: u32,
    /// Bottom offset.
    pub bottom: u32,
}

impl Crop {
    /// Reads a crop window that `flag` says is present: four ue(v) offsets,
    /// named in that order (left, right, top, bottom) for error messages.
    fn read(r: &mut crate::bits::BitReader<'_>, flag: &'static str, names: [&'static str; 4]) -> Result<Option<Crop>> {
        if !r.flag(flag)? {
            return Ok(None);
        }
        let [left, right, top, bottom] = names;
        Ok(Some(Crop { left: r.ue(left)?, right: r.ue(right)?, top: r.ue(top)?, bottom: r.ue(bottom)? }))
    }
}

/// A parsed SPS of either codec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sps {
    /// An H.264 SPS.
    H264(H264Sps),
    /// An H.265 SPS.
    H265(H265Sps),
}

impl Sps {
    /// Parses the SPS NAL unit `nal` (header included) of `codec`.
    pub fn parse(codec: Codec, nal: &[u8]) -> Result<Sps> {
        Ok(match codec {
            Codec::H264 => Sps::H264(H264Sps::parse(nal)?),
            Codec::H265 => Sps::H265(H265Sps::parse(nal)?),
        })
    }

    /// The displayed picture size (width, height) in luma samples, after
    /// cropping.
    pub fn dimensions(&self) -> (u32, u32) {
        match self {
            Sps::H264(s) => s.dimensions(),
            Sps::H265(s) => s.dimensions(),
        }
    }

    /// chroma_format_idc: 0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4.
    pub fn chroma_format_idc(&self) -> u8 {
        match self {
            Sps::H264(s) => s.chroma_format_idc,
            Sps::H265(s) => s.chroma_format_idc,
        }
    }
}

/// The RBSP of `nal` after checking that its header is valid and of type
/// `expected_type`.
fn rbsp<'a>(codec: Codec, nal: &'a [u8], expected_type: u8, expected: &'static str) -> Result<Cow<'a, [u8]>> {
    let header = NalHeader::parse(codec, nal)?;
    if header.nal_unit_type != expected_type {
        return Err(MediaError::WrongNalType { codec, expected, found: header.nal_unit_type });
    }
    Ok(remove_emulation_prevention(&nal[codec.nal_header_len()..]))
}

/// Sub-sampling of chroma (SubWidthC, SubHeightC) for a chroma_format_idc
/// with chroma arrays (H.264 table 6-1, H.265 table 6-1); (1, 1) without.
fn chroma_subsampling(chroma_format_idc: u8, separate_colour_plane: bool) -> (u32, u32) {
    match (chroma_format_idc, separate_colour_plane) {
        (1, _) => (2, 2),
        (2, _) => (2, 1),
        _ => (1, 1),
    }
}

/// Checks a coded size and returns the size after cropping `crop` in units
/// of `unit_x` by `unit_y` luma samples.
fn cropped_size(
    context: &'static str,
    width: u64,
    height: u64,
    crop: Option<Crop>,
    unit_x: u32,
    unit_y: u32,
) -> Result<(u32, u32)> {
    let check = |field, v: u64| {
        if v == 0 || v > u64::from(MAX_DIMENSION) {
            Err(MediaError::OutOfRange {
                context,
                field,
                value: i64::try_from(v).unwrap_or(i64::MAX),
                min: 1,
                max: i64::from(MAX_DIMENSION),
            })
        } else {
            Ok(v as u32)
        }
    };
    let (width, height) = (check("coded width", width)?, check("coded height", height)?);
    let Some(c) = crop else { return Ok((width, height)) };
    let crop_width = u64::from(unit_x) * (u64::from(c.left) + u64::from(c.right));
    let crop_height = u64::from(unit_y) * (u64::from(c.top) + u64::from(c.bottom));
    if crop_width >= u64::from(width) || crop_height >= u64::from(height) {
        return Err(MediaError::CroppingTooLarge { context, width, height, crop_width, crop_height });
    }
    Ok((width - crop_width as u32, height - crop_height as u32))
}
