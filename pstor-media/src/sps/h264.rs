//! The H.264 sequence parameter set (H.264 7.3.2.1.1), as far as the
//! picture size and the VUI timing.

use super::{chroma_subsampling, cropped_size, rbsp, Crop};
use crate::bits::BitReader;
use crate::{Codec, Result};

const CONTEXT: &str = "H.264 SPS";

/// profile_idc values whose SPS has the chroma format, bit depth and
/// scaling matrix fields (H.264 7.3.2.1.1).
pub const HIGH_PROFILES: [u8; 13] = [100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135];

/// How picture order counts are coded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PicOrderCnt {
    /// Type 0, with log2_max_pic_order_cnt_lsb.
    Type0 {
        /// log2_max_pic_order_cnt_lsb_minus4 + 4.
        log2_max_lsb: u8,
    },
    /// Type 1 (cycle of offsets).
    Type1,
    /// Type 2 (output order is decoding order).
    Type2,
}

/// VUI timing information.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct H264Timing {
    /// num_units_in_tick.
    pub num_units_in_tick: u32,
    /// time_scale.
    pub time_scale: u32,
    /// fixed_frame_rate_flag.
    pub fixed_frame_rate: bool,
}

/// A parsed H.264 SPS.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct H264Sps {
    /// profile_idc.
    pub profile_idc: u8,
    /// constraint_set0..5 flags and the two reserved bits, as coded.
    pub constraint_flags: u8,
    /// level_idc.
    pub level_idc: u8,
    /// seq_parameter_set_id (0..=31).
    pub sps_id: u32,
    /// chroma_format_idc (1 unless a high profile says otherwise).
    pub chroma_format_idc: u8,
    /// separate_colour_plane_flag.
    pub separate_colour_plane: bool,
    /// Luma bit depth (8..=14).
    pub bit_depth_luma: u8,
    /// Chroma bit depth (8..=14).
    pub bit_depth_chroma: u8,
    /// log2_max_frame_num_minus4 + 4.
    pub log2_max_frame_num: u8,
    /// Picture order count type.
    pub pic_order_cnt: PicOrderCnt,
    /// max_num_ref_frames.
    pub max_num_ref_frames: u32,
    /// frame_mbs_only_flag (false: fields may be coded).
    pub frame_mbs_only: bool,
    /// Coded width in macroblocks.
    pub width_mbs: u32,
    /// Coded height in map units (macroblocks, or macroblock pairs).
    pub height_map_units: u32,
    /// The frame cropping, if coded.
    pub crop: Option<Crop>,
    /// VUI timing, if present.
    pub timing: Option<H264Timing>,
    width: u32,
    height: u32,
}

fn skip_scaling_list(r: &mut BitReader<'_>, size: usize) -> Result<()> {
    let (mut last, mut next) = (8i32, 8i32);
    for _ in 0..size {
        if next != 0 {
            let delta = r.se_in("delta_scale", -128, 127)?;
            next = (last + delta + 256) % 256;
        }
        last = if next == 0 { last } else { next };
    }
    Ok(())
}

fn skip_hrd(r: &mut BitReader<'_>) -> Result<()> {
    let cpb_cnt = r.ue_in("cpb_cnt_minus1", 0, 31)? + 1;
    r.skip(8, "bit_rate_scale, cpb_size_scale")?;
    for _ in 0..cpb_cnt {
        r.ue("bit_rate_value_minus1")?;
        r.ue("cpb_size_value_minus1")?;
        r.flag("cbr_flag")?;
    }
    r.skip(20, "HRD delay lengths")
}

impl H264Sps {
    /// Parses an SPS NAL unit (header included).
    pub fn parse(nal: &[u8]) -> Result<H264Sps> {
        let data = rbsp(Codec::H264, nal, 7, "SPS")?;
        let mut r = BitReader::new(&data, CONTEXT);
        let profile_idc = r.u8(8, "profile_idc")?;
        let constraint_flags = r.u8(8, "constraint_set flags")?;
        let level_idc = r.u8(8, "level_idc")?;
        let sps_id = r.ue_in("seq_parameter_set_id", 0, 31)?;
        let (mut chroma_format_idc, mut separate_colour_plane, mut depth_l, mut depth_c) = (1u8, false, 8u8, 8u8);
        if HIGH_PROFILES.contains(&profile_idc) {
            chroma_format_idc = r.ue_in("chroma_format_idc", 0, 3)? as u8;
            if chroma_format_idc == 3 {
                separate_colour_plane = r.flag("separate_colour_plane_flag")?;
            }
            depth_l = r.ue_in("bit_depth_luma_minus8", 0, 6)? as u8 + 8;
            depth_c = r.ue_in("bit_depth_chroma_minus8", 0, 6)? as u8 + 8;
            r.flag("qpprime_y_zero_transform_bypass_flag")?;
            if r.flag("seq_scaling_matrix_present_flag")? {
                let lists = if chroma_format_idc == 3 { 12 } else { 8 };
                for i in 0..lists {
                    if r.flag("seq_scaling_list_present_flag")? {
                        skip_scaling_list(&mut r, if i < 6 { 16 } else { 64 })?;
                    }
                }
            }
        }
        let log2_max_frame_num = r.ue_in("log2_max_frame_num_minus4", 0, 12)? as u8 + 4;
        let pic_order_cnt = match r.ue_in("pic_order_cnt_type", 0, 2)? {
            0 => PicOrderCnt::Type0 { log2_max_lsb: r.ue_in("log2_max_pic_order_cnt_lsb_minus4", 0, 12)? as u8 + 4 },
            1 => {
                r.flag("delta_pic_order_always_zero_flag")?;
                r.se("offset_for_non_ref_pic")?;
                r.se("offset_for_top_to_bottom_field")?;
                let n = r.ue_in("num_ref_frames_in_pic_order_cnt_cycle", 0, 255)?;
                for _ in 0..n {
                    r.se("offset_for_ref_frame")?;
                }
                PicOrderCnt::Type1
            }
            _ => PicOrderCnt::Type2,
        };
        let max_num_ref_frames = r.ue_in("max_num_ref_frames", 0, 16)?;
        r.flag("gaps_in_frame_num_value_allowed_flag")?;
        let width_mbs = r.ue_in("pic_width_in_mbs_minus1", 0, 2047)? + 1;
        let height_map_units = r.ue_in("pic_height_in_map_units_minus1", 0, 2047)? + 1;
        let frame_mbs_only = r.flag("frame_mbs_only_flag")?;
        if !frame_mbs_only {
            r.flag("mb_adaptive_frame_field_flag")?;
        }
        r.flag("direct_8x8_inference_flag")?;
        let crop = Crop::read(
            &mut r,
            "frame_cropping_flag",
            ["frame_crop_left_offset", "frame_crop_right_offset", "frame_crop_top_offset", "frame_crop_bottom_offset"],
        )?;
        let mut timing = None;
        if r.flag("vui_parameters_present_flag")? {
            // The VUI is optional information: one cut short or odd (some
            // cameras') costs only the timing, never the stream.
            timing = Self::vui_timing(&mut r).unwrap_or(None);
        }
        let field_factor = if frame_mbs_only { 1 } else { 2 };
        let chroma_array_type = if separate_colour_plane { 0 } else { chroma_format_idc };
        let (sub_w, sub_h) = chroma_subsampling(chroma_array_type, separate_colour_plane);
        let (unit_x, unit_y) = if chroma_array_type == 0 { (1, field_factor) } else { (sub_w, sub_h * field_factor) };
        let (width, height) = cropped_size(
            CONTEXT,
            u64::from(width_mbs) * 16,
            u64::from(height_map_units) * 16 * u64::from(field_factor),
            crop,
            unit_x,
            unit_y,
        )?;
        Ok(H264Sps {
            profile_idc,
            constraint_flags,
            level_idc,
            sps_id,
            chroma_format_idc,
            separate_colour_plane,
            bit_depth_luma: depth_l,
            bit_depth_chroma: depth_c,
            log2_max_frame_num,
            pic_order_cnt,
            max_num_ref_frames,
            frame_mbs_only,
            width_mbs,
            height_map_units,
            crop,
            timing,
            width,
            height,
        })
    }

    /// The VUI up to its timing information (E.1.1); a VUI cut short
    /// before the timing simply has none.
    fn vui_timing(r: &mut BitReader<'_>) -> Result<Option<H264Timing>> {
        if r.flag("aspect_ratio_info_present_flag")? && r.u8(8, "aspect_ratio_idc")? == 255 {
            r.skip(32, "sar_width, sar_height")?;
        }
        if r.flag("overscan_info_present_flag")? {
            r.flag("overscan_appropriate_flag")?;
        }
        if r.flag("video_signal_type_present_flag")? {
            r.skip(4, "video_format, video_full_range_flag")?;
            if r.flag("colour_description_present_flag")? {
                r.skip(24, "colour description")?;
            }
        }
        if r.flag("chroma_loc_info_present_flag")? {
            r.ue("chroma_sample_loc_type_top_field")?;
            r.ue("chroma_sample_loc_type_bottom_field")?;
        }
        if !r.flag("timing_info_present_flag")? {
            return Ok(None);
        }
        let num_units_in_tick = r.u32(32, "num_units_in_tick")?;
        let time_scale = r.u32(32, "time_scale")?;
        let fixed_frame_rate = r.flag("fixed_frame_rate_flag")?;
        // The HRD parameters follow; they are read only to check them.
        if r.flag("nal_hrd_parameters_present_flag")? {
            skip_hrd(r)?;
        }
        Ok(Some(H264Timing { num_units_in_tick, time_scale, fixed_frame_rate }))
    }

    /// The displayed size (width, height) after cropping.
    pub fn dimensions(&self) -> (u32, u32) {
        (self.width, self.height)
    }
}
