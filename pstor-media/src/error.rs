//! What can be wrong with a bitstream, a stored frame or a decoder
//! configuration record.

use crate::Codec;

/// A [`Result`](std::result::Result) whose error is a [`MediaError`].
pub type Result<T> = std::result::Result<T, MediaError>;

/// Why bytes were refused. Every parser of this crate returns one of these
/// instead of panicking; messages name the offset, the length or the field
/// concerned and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// A codec name this crate does not know.
    #[error("unknown codec {0:?} (expected H264 or H265)")]
    UnknownCodec(String),

    /// A stored frame without any coded slice (only parameter sets, SEI,
    /// delimiters): nothing to decode.
    #[error("{codec} frame of {nals} NAL units has no coded slice")]
    NoSlice {
        /// The codec.
        codec: Codec,
        /// NAL units it has.
        nals: usize,
    },
    /// A stored frame with no bytes: it must hold at least one NAL unit.
    #[error("empty frame: a stored frame holds at least one NAL unit")]
    EmptyFrame,
    /// Fewer than 4 bytes left where a NAL unit's length prefix starts.
    #[error("truncated length prefix at offset {offset}: 4 bytes needed, {available} left")]
    TruncatedLength {
        /// Offset of the length prefix in the buffer.
        offset: usize,
        /// Bytes left from there.
        available: usize,
    },
    /// A length prefix of 0: NAL units have at least a header.
    #[error("zero-length NAL unit at offset {offset}")]
    ZeroLengthNal {
        /// Offset of the length prefix in the buffer.
        offset: usize,
    },
    /// A length prefix larger than the bytes that follow it.
    #[error("NAL unit at offset {offset} declares {declared} bytes but only {available} follow")]
    NalOverrun {
        /// Offset of the length prefix in the buffer.
        offset: usize,
        /// The length the prefix declares.
        declared: usize,
        /// Bytes after the prefix.
        available: usize,
    },
    /// A NAL unit too long for a 4-byte length prefix (4 GiB or more).
    #[error("NAL unit of {len} bytes does not fit a 4-byte length prefix")]
    NalTooLong {
        /// Its length.
        len: usize,
    },
    /// A NAL unit header that is not valid for the codec.
    #[error("{codec} NAL unit at offset {offset}: {problem}")]
    BadNalHeader {
        /// The codec whose header rules were applied.
        codec: Codec,
        /// Offset of the NAL unit in the buffer it came from (0 for a NAL
        /// unit parsed on its own).
        offset: usize,
        /// What is wrong (forbidden_zero_bit set, header too short, ...).
        problem: &'static str,
    },
    /// A NAL unit of another type than the parser expects (e.g. a PPS
    /// given to the SPS parser).
    #[error("{codec} {expected} expected, found NAL unit type {found}")]
    WrongNalType {
        /// The codec.
        codec: Codec,
        /// What was expected ("SPS", "PPS", "VPS").
        expected: &'static str,
        /// The nal_unit_type found.
        found: u8,
    },

    /// A field extends past the end of the RBSP.
    #[error("{context}: {field} needs bits past the end of the data (at bit {bit} of {len_bits})")]
    BitstreamEnd {
        /// What was being parsed ("H.264 SPS", ...).
        context: &'static str,
        /// The field being read.
        field: &'static str,
        /// Bit position where it starts.
        bit: usize,
        /// Bits in the data.
        len_bits: usize,
    },
    /// An exp-Golomb code with more than 31 leading zero bits: its value
    /// would not fit 32 bits, which no syntax element of these codecs needs.
    #[error("{context}: exp-Golomb code of {field} at bit {bit} exceeds 32 bits")]
    ExpGolombTooLong {
        /// What was being parsed.
        context: &'static str,
        /// The field being read.
        field: &'static str,
        /// Bit position where the code starts.
        bit: usize,
    },
    /// A syntax element outside the range the specification allows (or,
    /// for picture dimensions, outside what this crate accepts).
    #[error("{context}: {field} = {value} is out of range ({min}..={max})")]
    OutOfRange {
        /// What was being parsed.
        context: &'static str,
        /// The field (or derived value) concerned.
        field: &'static str,
        /// Its value.
        value: i64,
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value.
        max: i64,
    },
    /// Cropping (H.264 frame cropping, H.265 conformance window) that
    /// leaves no picture.
    #[error("{context}: cropping {crop_width}x{crop_height} luma samples leaves nothing of the {width}x{height} coded picture")]
    CroppingTooLarge {
        /// What was being parsed.
        context: &'static str,
        /// Coded width in luma samples.
        width: u32,
        /// Coded height in luma samples.
        height: u32,
        /// Luma samples cropped horizontally (left + right).
        crop_width: u64,
        /// Luma samples cropped vertically (top + bottom).
        crop_height: u64,
    },

    /// A decoder configuration record ends inside a field.
    #[error("{codec} decoder configuration record truncated at offset {offset}: {field} needs {needed} bytes, {available} left")]
    RecordTruncated {
        /// The codec (avcC for H.264, hvcC for H.265).
        codec: Codec,
        /// The field being read.
        field: &'static str,
        /// Offset of the field in the record.
        offset: usize,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes left from the offset.
        available: usize,
    },
    /// A configurationVersion other than 1.
    #[error("{codec} decoder configuration record version {version} is not supported (expected 1)")]
    RecordVersion {
        /// The codec.
        codec: Codec,
        /// The version found.
        version: u8,
    },
    /// lengthSizeMinusOne = 2: 3-byte NAL unit lengths are not allowed.
    #[error(
        "{codec} decoder configuration record: lengthSizeMinusOne = 2 (3-byte lengths) is not allowed (0, 1 or 3)"
    )]
    RecordLengthSize {
        /// The codec.
        codec: Codec,
    },
    /// A NAL unit in an hvcC array whose type differs from the array's.
    #[error("hvcC array at offset {offset} is of NAL unit type {array_type} but holds one of type {found}")]
    ArrayTypeMismatch {
        /// Offset of the array in the record.
        offset: usize,
        /// The array's NAL_unit_type.
        array_type: u8,
        /// The type of the NAL unit found in it.
        found: u8,
    },
    /// Parameter sets that lack a kind a decoder configuration needs.
    #[error("{codec} parameter sets have no {kind} (a decoder configuration needs at least one)")]
    MissingParameterSet {
        /// The codec.
        codec: Codec,
        /// "VPS", "SPS" or "PPS".
        kind: &'static str,
    },
    /// More of something than a record can hold (SPS count, NAL length).
    #[error("{what}: {count} exceeds the limit of {max}")]
    TooMany {
        /// What was counted.
        what: &'static str,
        /// How many there are.
        count: usize,
        /// The most the format can hold.
        max: usize,
    },
    /// A picture size an MP4 sample description cannot hold (16 bits).
    #[error("picture size {width}x{height} does not fit an MP4 sample description (at most 65535x65535)")]
    PictureTooLarge {
        /// Width.
        width: u32,
        /// Height.
        height: u32,
    },
}
