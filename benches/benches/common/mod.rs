//! Set-up the criterion benches share: a pool over a space, a camera.

use pstor_core::*;

/// A pool of `kind` and `capacity` bytes on `space`, overwriting its oldest.
pub fn pool(engine: &Engine, space: SpaceId, name: &str, kind: PoolKind, capacity: u64) -> PoolId {
    engine
        .create_pool(PoolSpec {
            name: name.into(),
            kind,
            capacity,
            spaces: vec![space],
            strategy: OverwriteStrategy::OverwriteOldest,
            cycle_days: 0,
            max_lock_pct: 0,
        })
        .expect("pool")
}

/// A camera's main stream in `pool`.
pub fn camera(engine: &Engine, pool: PoolId, camera_id: &str) -> StreamId {
    engine
        .register_stream(StreamSpec {
            pool,
            camera_id: camera_id.into(),
            channel: 1,
            kind: StreamKind::Main,
            codec: "H264".into(),
            codec_config: Vec::new(),
        })
        .expect("register")
}
