//! The video codecs pstor understands, and their names.

use crate::MediaError;
use std::fmt;
use std::str::FromStr;

/// A video codec whose bitstream this crate parses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Codec {
    /// H.264 / AVC (ITU-T H.264, ISO/IEC 14496-10).
    H264,
    /// H.265 / HEVC (ITU-T H.265, ISO/IEC 23008-2).
    H265,
}

impl Codec {
    /// The name stored as a stream's codec in the engine: `"H264"` or
    /// `"H265"`.
    pub const fn name(self) -> &'static str {
        match self {
            Codec::H264 => "H264",
            Codec::H265 => "H265",
        }
    }

    /// The codec of a name, ignoring case: `H264`, `H.264`, `AVC`, `H265`,
    /// `H.265`, `HEVC`. `None` for anything else.
    pub fn from_name(name: &str) -> Option<Codec> {
        const NAMES: [(&str, Codec); 6] = [
            ("h264", Codec::H264),
            ("h.264", Codec::H264),
            ("avc", Codec::H264),
            ("h265", Codec::H265),
            ("h.265", Codec::H265),
            ("hevc", Codec::H265),
        ];
        NAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|&(_, c)| c)
    }

    /// The codec of an RTP payload format's encoding name (`a=rtpmap`,
    /// RFC 6184 `H264`, RFC 7798 `H265`; case-insensitive as SDP says, and
    /// as `retina` reports them, lower case). `None` for other encodings,
    /// which a recorder skips.
    pub fn from_rtp_encoding(encoding: &str) -> Option<Codec> {
        if encoding.eq_ignore_ascii_case("h264") {
            Some(Codec::H264)
        } else if encoding.eq_ignore_ascii_case("h265") {
            Some(Codec::H265)
        } else {
            None
        }
    }

    /// Bytes in this codec's NAL unit header: 1 for H.264, 2 for H.265.
    pub const fn nal_header_len(self) -> usize {
        match self {
            Codec::H264 => 1,
            Codec::H265 => 2,
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Codec {
    type Err = MediaError;

    /// [`Codec::from_name`], with [`MediaError::UnknownCodec`] for a name
    /// it does not know.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Codec::from_name(s).ok_or_else(|| MediaError::UnknownCodec(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for c in [Codec::H264, Codec::H265] {
            assert_eq!(Codec::from_name(c.name()), Some(c));
            assert_eq!(c.to_string(), c.name());
        }
        for (n, c) in [("h264", Codec::H264), ("H.264", Codec::H264), ("avc", Codec::H264), ("AVC", Codec::H264)] {
            assert_eq!(Codec::from_name(n), Some(c), "{n}");
        }
        for n in ["hevc", "HEVC", "H.265", "h265", "H265"] {
            assert_eq!(Codec::from_name(n), Some(Codec::H265), "{n}");
        }
        assert_eq!(Codec::from_name("vp8"), None);
        assert_eq!("MJPEG".parse::<Codec>(), Err(MediaError::UnknownCodec("MJPEG".into())));
        assert_eq!(Codec::from_rtp_encoding("h264"), Some(Codec::H264));
        assert_eq!(Codec::from_rtp_encoding("H265"), Some(Codec::H265));
        assert_eq!(Codec::from_rtp_encoding("hevc"), None, "not an RTP encoding name");
        assert_eq!(Codec::from_rtp_encoding("pcmu"), None);
    }
}
