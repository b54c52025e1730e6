//! The H.265 sequence parameter set (H.265 7.3.2.2.1), as far as the bit
//! depths: the general profile, tier and level an hvcC repeats, the chroma
//! format and the picture size after the conformance window.

use super::{chroma_subsampling, cropped_size, rbsp, Crop};
use crate::bits::BitReader;
use crate::{Codec, Result};

const CONTEXT: &str = "H.265 SPS";

/// The general part of profile_tier_level (H.265 7.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProfileTierLevel {
    /// general_profile_space (0..=3).
    pub profile_space: u8,
    /// general_tier_flag.
    pub tier: bool,
    /// general_profile_idc (0..=31).
    pub profile_idc: u8,
    /// general_profile_compatibility_flag[0..32], first flag most
    /// significant.
    pub compatibility_flags: u32,
    /// The 48 bits from general_progressive_source_flag on (the hvcC's
    /// general_constraint_indicator_flags).
    pub constraint_flags: u64,
    /// general_level_idc.
    pub level_idc: u8,
}

/// A parsed H.265 SPS.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct H265Sps {
    /// sps_video_parameter_set_id.
    pub vps_id: u8,
    /// sps_max_sub_layers_minus1 + 1 (1..=7).
    pub max_sub_layers: u8,
    /// sps_temporal_id_nesting_flag.
    pub temporal_id_nesting: bool,
    /// The general profile, tier and level.
    pub ptl: ProfileTierLevel,
    /// sps_seq_parameter_set_id (0..=15).
    pub sps_id: u32,
    /// chroma_format_idc.
    pub chroma_format_idc: u8,
    /// separate_colour_plane_flag.
    pub separate_colour_plane: bool,
    /// pic_width_in_luma_samples.
    pub coded_width: u32,
    /// pic_height_in_luma_samples.
    pub coded_height: u32,
    /// The conformance window, if coded.
    pub conformance_window: Option<Crop>,
    /// Luma bit depth (8..=16).
    pub bit_depth_luma: u8,
    /// Chroma bit depth (8..=16).
    pub bit_depth_chroma: u8,
    width: u32,
    height: u32,
}

impl ProfileTierLevel {
    /// Reads profile_tier_level(1, max_sub_layers_minus1), keeping the
    /// general part.
    fn read(r: &mut BitReader<'_>, max_sub_layers_minus1: u8) -> Result<ProfileTierLevel> {
        let profile_space = r.u8(2, "general_profile_space")?;
        let tier = r.flag("general_tier_flag")?;
        let profile_idc = r.u8(5, "general_profile_idc")?;
        let compatibility_flags = r.u32(32, "general_profile_compatibility_flags")?;
        let constraint_flags = r.bits(48, "general constraint flags")?;
        let level_idc = r.u8(8, "general_level_idc")?;
        let mut present = [(false, false); 7];
        for p in present.iter_mut().take(usize::from(max_sub_layers_minus1)) {
            *p = (r.flag("sub_layer_profile_present_flag")?, r.flag("sub_layer_level_present_flag")?);
        }
        if max_sub_layers_minus1 > 0 {
            r.skip(2 * (8 - usize::from(max_sub_layers_minus1)), "reserved_zero_2bits")?;
        }
        for &(profile, level) in present.iter().take(usize::from(max_sub_layers_minus1)) {
            if profile {
                r.skip(88, "sub-layer profile")?;
            }
            if level {
                r.skip(8, "sub_layer_level_idc")?;
            }
        }
        Ok(ProfileTierLevel { profile_space, tier, profile_idc, compatibility_flags, constraint_flags, level_idc })
    }
}

impl H265Sps {
    /// Parses an SPS NAL unit (header included).
    pub fn parse(nal: &[u8]) -> Result<H265Sps> {
        let data = rbsp(Codec::H265, nal, 33, "SPS")?;
        let mut r = BitReader::new(&data, CONTEXT);
        let vps_id = r.u8(4, "sps_video_parameter_set_id")?;
        let max_sub_layers_minus1 = r.u8(3, "sps_max_sub_layers_minus1")?;
        if max_sub_layers_minus1 > 6 {
            return Err(r.out_of_range("sps_max_sub_layers_minus1", i64::from(max_sub_layers_minus1), 0, 6));
        }
        let temporal_id_nesting = r.flag("sps_temporal_id_nesting_flag")?;
        let ptl = ProfileTierLevel::read(&mut r, max_sub_layers_minus1)?;
        let sps_id = r.ue_in("sps_seq_parameter_set_id", 0, 15)?;
        let chroma_format_idc = r.ue_in("chroma_format_idc", 0, 3)? as u8;
        let separate_colour_plane = chroma_format_idc == 3 && r.flag("separate_colour_plane_flag")?;
        let coded_width = r.ue("pic_width_in_luma_samples")?;
        let coded_height = r.ue("pic_height_in_luma_samples")?;
        let conformance_window = Crop::read(
            &mut r,
            "conformance_window_flag",
            ["conf_win_left_offset", "conf_win_right_offset", "conf_win_top_offset", "conf_win_bottom_offset"],
        )?;
        let bit_depth_luma = r.ue_in("bit_depth_luma_minus8", 0, 8)? as u8 + 8;
        let bit_depth_chroma = r.ue_in("bit_depth_chroma_minus8", 0, 8)? as u8 + 8;
        let chroma_array_type = if separate_colour_plane { 0 } else { chroma_format_idc };
        let (unit_x, unit_y) = chroma_subsampling(chroma_array_type, separate_colour_plane);
        let (width, height) =
            cropped_size(CONTEXT, u64::from(coded_width), u64::from(coded_height), conformance_window, unit_x, unit_y)?;
        Ok(H265Sps {
            vps_id,
            max_sub_layers: max_sub_layers_minus1 + 1,
            temporal_id_nesting,
            ptl,
            sps_id,
            chroma_format_idc,
            separate_colour_plane,
            coded_width,
            coded_height,
            conformance_window,
            bit_depth_luma,
            bit_depth_chroma,
            width,
            height,
        })
    }

    /// The displayed size (width, height) after the conformance window.
    pub fn dimensions(&self) -> (u32, u32) {
        (self.width, self.height)
    }
}
