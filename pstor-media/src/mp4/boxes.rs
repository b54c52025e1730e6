//! ISO BMFF boxes as a tree whose sizes are known before any byte is made:
//! a box's contents are fixed bytes, child boxes, or *tables*, runs of
//! fixed-size entries generated later from the samples (so a movie of an
//! hour's frames is laid out without holding its tables).

/// A run of fixed-size entries a movie's sample tables hold; the bytes are
/// generated on demand ([`super::movie::Movie::read_at`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// `stts`: (count 1, duration) per sample, 8 bytes.
    Durations,
    /// `stss`: the 1-based number of each key sample, 4 bytes.
    KeySamples,
    /// `stsz`: each sample's size, 4 bytes.
    Sizes,
    /// `stsc`: (first chunk, samples per chunk, description) per chunk, 12 bytes.
    ChunkSamples,
    /// `co64`: each chunk's file offset, 8 bytes.
    ChunkOffsets,
    /// `mdat`'s payload: the samples' bytes, chunk after chunk.
    Data,
}

/// A part of a box's contents.
#[derive(Debug, Clone)]
pub enum Part {
    /// Bytes known now.
    Bytes(Vec<u8>),
    /// A child box.
    Box(Mp4Box),
    /// A table of this many bytes.
    Table(Table, u64),
}

/// A box: its type and its contents; [`Mp4Box::len`] is its encoded size.
#[derive(Debug, Clone)]
pub struct Mp4Box {
    kind: [u8; 4],
    parts: Vec<Part>,
}

/// Encoded bytes with the tables left as holes: what [`Mp4Box::flatten`] makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Fixed bytes.
    Bytes(Vec<u8>),
    /// A table of this many bytes.
    Table(Table, u64),
}

impl Mp4Box {
    /// An empty box of `kind`.
    pub fn new(kind: &[u8; 4]) -> Mp4Box {
        Mp4Box { kind: *kind, parts: Vec::new() }
    }

    /// A full box: version and 24-bit flags first.
    pub fn full(kind: &[u8; 4], version: u8, flags: u32) -> Mp4Box {
        let mut b = Mp4Box::new(kind);
        b.u32((u32::from(version) << 24) | (flags & 0x00ff_ffff));
        b
    }

    fn tail(&mut self) -> &mut Vec<u8> {
        if !matches!(self.parts.last(), Some(Part::Bytes(_))) {
            self.parts.push(Part::Bytes(Vec::new()));
        }
        match self.parts.last_mut() {
            Some(Part::Bytes(b)) => b,
            _ => unreachable!("a bytes part was just pushed"),
        }
    }

    /// Appends bytes.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Mp4Box {
        self.tail().extend_from_slice(b);
        self
    }
    /// Appends a big-endian u16.
    pub fn u16(&mut self, v: u16) -> &mut Mp4Box {
        self.bytes(&v.to_be_bytes())
    }
    /// Appends a big-endian u32.
    pub fn u32(&mut self, v: u32) -> &mut Mp4Box {
        self.bytes(&v.to_be_bytes())
    }
    /// Appends a big-endian u64.
    pub fn u64(&mut self, v: u64) -> &mut Mp4Box {
        self.bytes(&v.to_be_bytes())
    }
    /// Appends `n` zero bytes.
    pub fn zeros(&mut self, n: usize) -> &mut Mp4Box {
        let t = self.tail();
        t.resize(t.len() + n, 0);
        self
    }
    /// Appends a child box.
    pub fn child(&mut self, b: Mp4Box) -> &mut Mp4Box {
        self.parts.push(Part::Box(b));
        self
    }
    /// Appends a table of `len` bytes.
    pub fn table(&mut self, t: Table, len: u64) -> &mut Mp4Box {
        self.parts.push(Part::Table(t, len));
        self
    }

    fn contents_len(&self) -> u64 {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Bytes(b) => b.len() as u64,
                Part::Box(b) => b.len(),
                Part::Table(_, n) => *n,
            })
            .sum()
    }

    /// Whether the box needs the 64-bit size form (contents of 4 GiB or more).
    fn large(&self) -> bool {
        self.contents_len() + 8 > u64::from(u32::MAX)
    }

    /// The encoded size, header included.
    pub fn len(&self) -> u64 {
        self.contents_len() + if self.large() { 16 } else { 8 }
    }

    /// Never: a box has at least its header.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Appends the encoding to `out`, merging adjacent fixed bytes.
    pub fn flatten(&self, out: &mut Vec<Piece>) {
        let mut header = Vec::with_capacity(16);
        if self.large() {
            header.extend_from_slice(&1u32.to_be_bytes());
            header.extend_from_slice(&self.kind);
            header.extend_from_slice(&self.len().to_be_bytes());
        } else {
            header.extend_from_slice(&(self.len() as u32).to_be_bytes());
            header.extend_from_slice(&self.kind);
        }
        push_bytes(out, &header);
        for p in &self.parts {
            match p {
                Part::Bytes(b) => push_bytes(out, b),
                Part::Box(b) => b.flatten(out),
                Part::Table(t, n) => out.push(Piece::Table(*t, *n)),
            }
        }
    }

    /// The encoding of a box without tables.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut pieces = Vec::new();
        self.flatten(&mut pieces);
        pieces
            .into_iter()
            .flat_map(|p| match p {
                Piece::Bytes(b) => b,
                Piece::Table(_, n) => vec![0; n as usize],
            })
            .collect()
    }
}

fn push_bytes(out: &mut Vec<Piece>, b: &[u8]) {
    if let Some(Piece::Bytes(last)) = out.last_mut() {
        last.extend_from_slice(b);
    } else {
        out.push(Piece::Bytes(b.to_vec()));
    }
}

/// The unity transformation matrix of `mvhd` and `tkhd`.
pub const UNITY_MATRIX: [u32; 9] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];

/// Seconds from 1904-01-01 (the MP4 epoch) to 1970-01-01.
pub const MP4_EPOCH_OFFSET: u64 = 2_082_844_800;

/// An MP4 time (seconds since 1904) of a µs UTC timestamp.
pub fn mp4_time(ts_us: i64) -> u64 {
    (ts_us.div_euclid(1_000_000) as i128 + MP4_EPOCH_OFFSET as i128).clamp(0, u64::MAX as i128) as u64
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sizes_include_children_tables_and_headers() {
        let mut inner = Mp4Box::full(b"stsz", 0, 0);
        inner.u32(0).u32(3).table(Table::Sizes, 12);
        let mut outer = Mp4Box::new(b"stbl");
        outer.child(inner);
        assert_eq!(outer.len(), 8 + 8 + 4 + 8 + 12);
        let mut pieces = Vec::new();
        outer.flatten(&mut pieces);
        assert_eq!(pieces.len(), 2);
        let Piece::Bytes(head) = &pieces[0] else { panic!("bytes first") };
        assert_eq!(&head[..8], &[0, 0, 0, 40, b's', b't', b'b', b'l']);
        assert_eq!(&head[8..16], &[0, 0, 0, 32, b's', b't', b's', b'z']);
        assert_eq!(pieces[1], Piece::Table(Table::Sizes, 12));
    }

    #[test]
    fn a_box_of_4_gib_uses_the_64_bit_size() {
        let mut mdat = Mp4Box::new(b"mdat");
        mdat.table(Table::Data, 5 << 30);
        assert_eq!(mdat.len(), (5 << 30) + 16);
        let mut pieces = Vec::new();
        mdat.flatten(&mut pieces);
        let Piece::Bytes(head) = &pieces[0] else { panic!("bytes first") };
        assert_eq!(head.len(), 16);
        assert_eq!(&head[..8], &[0, 0, 0, 1, b'm', b'd', b'a', b't']);
        assert_eq!(u64::from_be_bytes(head[8..16].try_into().unwrap()), (5 << 30) + 16);
    }

    #[test]
    fn mp4_time_counts_from_1904() {
        assert_eq!(mp4_time(0), MP4_EPOCH_OFFSET);
        assert_eq!(mp4_time(1_500_000), MP4_EPOCH_OFFSET + 1);
    }
}
