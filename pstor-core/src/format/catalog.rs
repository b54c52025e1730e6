//! The engine catalog (docs/format.md §6): spaces, pools, streams, locks and
//! thresholds. The engine keeps it in `catalog.pst` in its data directory and
//! a copy in every storage space, so a space found on disk can be restored.

use super::codec::{bad, check_crc, DecodeError, Reader, Writer};
use super::FORMAT_VERSION;
use crate::types::*;

/// Magic of a catalog file.
pub const CATALOG_MAGIC: u32 = u32::from_le_bytes(*b"PCAT");
/// File name of the catalog (engine data directory and each space).
pub const CATALOG_FILE: &str = "catalog.pst";
/// Largest catalog accepted (bounds allocation when decoding).
pub const MAX_CATALOG_LEN: usize = 64 << 20;

/// A storage space known to the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpaceRef {
    /// Its id.
    pub id: SpaceId,
    /// Its superblock uuid.
    pub uuid: u128,
    /// Its folder.
    pub path: String,
}

/// Everything the engine must remember apart from the data itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    /// The engine's identity.
    pub engine_uuid: u128,
    /// Bumped on every change, so copies can be told apart by age.
    pub seq: u64,
    /// Storage thresholds.
    pub thresholds: Thresholds,
    /// Known spaces.
    pub spaces: Vec<SpaceRef>,
    /// Resource pools.
    pub pools: Vec<PoolConfig>,
    /// Registered streams.
    pub streams: Vec<StreamConfig>,
    /// Locks.
    pub locks: Vec<LockConfig>,
    /// The data folder the engine lives in (absolute path), recorded at
    /// open: a copy of the folder opened elsewhere is told from a move by it.
    /// `None` in catalogs written before it existed.
    pub home: Option<String>,
}

/// Flag bit of the catalog's flags field: the `home` string follows the locks.
const HAS_HOME: u16 = 1;

impl Catalog {
    /// Encodes with a trailing CRC.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(4096);
        w.u32(CATALOG_MAGIC);
        w.u16(FORMAT_VERSION);
        w.u16(if self.home.is_some() { HAS_HOME } else { 0 });
        w.u64(self.seq);
        w.u128(self.engine_uuid);
        w.u8(self.thresholds.overwrite_pct);
        w.u8(self.thresholds.alarm_pct);
        w.u8(self.thresholds.volume_free_pct);
        w.u8(0);
        w.u32(self.spaces.len() as u32);
        for s in &self.spaces {
            w.u32(s.id.0);
            w.u128(s.uuid);
            w.str(&s.path);
        }
        w.u32(self.pools.len() as u32);
        for p in &self.pools {
            w.u32(p.id.0);
            w.str(&p.name);
            w.u8(p.kind.code());
            w.u8(p.strategy.code());
            w.u8(p.max_lock_pct);
            w.u8(0);
            w.u32(p.cycle_days);
            w.u32(p.quotas.len() as u32);
            for (space, segs) in &p.quotas {
                w.u32(space.0);
                w.u32(*segs);
            }
        }
        w.u32(self.streams.len() as u32);
        for s in &self.streams {
            w.u64(s.id.0);
            w.u32(s.pool.0);
            w.str(&s.camera_id);
            w.u32(s.channel);
            w.u8(s.kind.code());
            w.str(&s.codec);
            w.blob(&s.codec_config);
        }
        w.u32(self.locks.len() as u32);
        for l in &self.locks {
            w.u64(l.id.0);
            match &l.target {
                LockTarget::Stream(s) => {
                    w.u8(1);
                    w.u64(s.0);
                }
                LockTarget::Pictures { pool, camera_id } => {
                    w.u8(2);
                    w.u32(pool.0);
                    w.str(camera_id);
                }
            }
            w.i64(l.start);
            w.i64(l.end);
            w.u8(l.expires.is_some() as u8);
            w.i64(l.expires.unwrap_or(0));
        }
        if let Some(home) = &self.home {
            w.str(home);
        }
        w.finish_crc()
    }

    /// Decodes and validates.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() > MAX_CATALOG_LEN {
            return Err(bad("catalog: too large"));
        }
        let body = check_crc(bytes, "catalog")?;
        let mut r = Reader::new(body);
        if r.u32()? != CATALOG_MAGIC {
            return Err(bad("catalog: bad magic"));
        }
        let version = r.u16()?;
        if version != FORMAT_VERSION {
            return Err(bad(format!("catalog: unsupported version {version}")));
        }
        let flags = r.u16()?;
        if flags & !HAS_HOME != 0 {
            return Err(bad(format!("catalog: unknown flags {flags:#x}")));
        }
        let seq = r.u64()?;
        let engine_uuid = r.u128()?;
        let thresholds =
            Thresholds { overwrite_pct: pct(r.u8()?)?, alarm_pct: pct(r.u8()?)?, volume_free_pct: pct(r.u8()?)? };
        r.u8()?;
        let mut spaces = Vec::new();
        for _ in 0..r.count(24)? {
            spaces.push(SpaceRef { id: SpaceId(r.u32()?), uuid: r.u128()?, path: r.str()? });
        }
        let mut pools = Vec::new();
        for _ in 0..r.count(20)? {
            let id = PoolId(r.u32()?);
            let name = r.str()?;
            let kind = PoolKind::from_code(r.u8()?).ok_or_else(|| bad("catalog: bad pool kind"))?;
            let strategy =
                OverwriteStrategy::from_code(r.u8()?).ok_or_else(|| bad("catalog: bad overwrite strategy"))?;
            let max_lock_pct = pct(r.u8()?)?;
            r.u8()?;
            let cycle_days = r.u32()?;
            let mut quotas = Vec::new();
            for _ in 0..r.count(8)? {
                quotas.push((SpaceId(r.u32()?), r.u32()?));
            }
            pools.push(PoolConfig { id, name, kind, strategy, cycle_days, max_lock_pct, quotas });
        }
        let mut streams = Vec::new();
        for _ in 0..r.count(29)? {
            streams.push(StreamConfig {
                id: StreamId(r.u64()?),
                pool: PoolId(r.u32()?),
                camera_id: r.str()?,
                channel: r.u32()?,
                kind: StreamKind::from_code(r.u8()?).ok_or_else(|| bad("catalog: bad stream kind"))?,
                codec: r.str()?,
                codec_config: r.blob()?.to_vec(),
            });
        }
        let mut locks = Vec::new();
        for _ in 0..r.count(42)? {
            let id = LockId(r.u64()?);
            let target = match r.u8()? {
                1 => LockTarget::Stream(StreamId(r.u64()?)),
                2 => LockTarget::Pictures { pool: PoolId(r.u32()?), camera_id: r.str()? },
                k => return Err(bad(format!("catalog: unknown lock kind {k}"))),
            };
            let start = r.i64()?;
            let end = r.i64()?;
            let has_expiry = r.u8()? != 0;
            let expiry = r.i64()?;
            if start > end {
                return Err(bad("catalog: lock ends before it starts"));
            }
            locks.push(LockConfig { id, target, start, end, expires: has_expiry.then_some(expiry) });
        }
        let home = if flags & HAS_HOME != 0 { Some(r.str()?) } else { None };
        r.expect_end()?;
        Ok(Catalog { engine_uuid, seq, thresholds, spaces, pools, streams, locks, home })
    }
}

fn pct(v: u8) -> Result<u8, DecodeError> {
    if v > 100 {
        return Err(bad(format!("catalog: percentage {v} > 100")));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> Catalog {
        Catalog {
            engine_uuid: 42,
            seq: 3,
            thresholds: Thresholds::default(),
            spaces: vec![SpaceRef { id: SpaceId(1), uuid: 2, path: "/data/s1".into() }],
            pools: vec![PoolConfig {
                id: PoolId(9),
                name: "video".into(),
                kind: PoolKind::Video,
                strategy: OverwriteStrategy::OverwriteOldest,
                cycle_days: 30,
                max_lock_pct: 20,
                quotas: vec![(SpaceId(1), 10)],
            }],
            streams: vec![StreamConfig {
                id: StreamId(5),
                pool: PoolId(9),
                camera_id: "cam-1".into(),
                channel: 1,
                kind: StreamKind::Main,
                codec: "H264".into(),
                codec_config: vec![1, 2, 3],
            }],
            locks: vec![
                LockConfig {
                    id: LockId(8),
                    target: LockTarget::Stream(StreamId(5)),
                    start: 1,
                    end: 2,
                    expires: Some(9),
                },
                LockConfig {
                    id: LockId(9),
                    target: LockTarget::Pictures { pool: PoolId(3), camera_id: "cam".into() },
                    start: 1,
                    end: 2,
                    expires: None,
                },
            ],
            home: Some("/data/engine".into()),
        }
    }

    #[test]
    fn round_trip_and_corruption() {
        let c = sample();
        let b = c.encode();
        assert_eq!(Catalog::decode(&b).expect("decode"), c);
        for i in 0..b.len() {
            let mut x = b.clone();
            x[i] ^= 0x08;
            assert!(Catalog::decode(&x).is_err());
        }
        assert!(Catalog::decode(&b[..b.len() - 1]).is_err());
    }

    #[test]
    fn a_catalog_without_home_still_decodes_and_unknown_flags_are_refused() {
        let c = Catalog { home: None, ..sample() };
        let b = c.encode();
        assert_eq!(b[6..8], [0, 0], "no flag: the layout of catalogs written before `home`");
        assert_eq!(Catalog::decode(&b).expect("decode"), c);
        let mut flagged = sample().encode();
        flagged[6] |= 2;
        let n = flagged.len() - 4;
        let crc = crc32fast::hash(&flagged[..n]);
        flagged[n..].copy_from_slice(&crc.to_le_bytes());
        assert!(Catalog::decode(&flagged).expect_err("flag 2").to_string().contains("unknown flags"));
    }
}
