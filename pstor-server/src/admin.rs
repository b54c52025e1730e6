//! The administration subcommands (`check`, `init-space`, `spaces`,
//! `pool ...`): they open the data folder's engine directly, so they fail
//! with [`ServerError::InUse`] while a server has it open (manage a running
//! server over the SDK ports instead). `keys show` only reads the
//! credentials, so it works beside a running server.

use crate::config::{KindName, ServerConfig, StrategyName};
use crate::credentials;
use crate::error::ServerError;
use crate::provision::wait_job;
use crate::size::ByteSize;
use pstor_core::*;
use std::io::Write;
use std::path::PathBuf;

/// Opens the engine of the configuration's data folder for a short
/// administrative job (no background maintenance, no provisioning).
pub fn open_engine(cfg: &ServerConfig) -> Result<Engine, ServerError> {
    let engine_dir = cfg.data_dir.join("engine");
    if !engine_dir.exists() {
        return Err(ServerError::Config(format!(
            "{} holds no pstor engine (start `pstor-server run --data {}` once, or check the path)",
            cfg.data_dir.display(),
            cfg.data_dir.display()
        )));
    }
    let mut opts = cfg.engine_options();
    opts.background = false;
    Engine::open(opts).map_err(ServerError::engine)
}

/// Runs `f` on the engine, then closes it (cleanly) whatever `f` returned.
fn with_engine<T>(cfg: &ServerConfig, f: impl FnOnce(&Engine) -> Result<T, ServerError>) -> Result<T, ServerError> {
    let engine = open_engine(cfg)?;
    let out = f(&engine);
    let closed = engine.close();
    let v = out?;
    closed?;
    Ok(v)
}

fn io(e: std::io::Error) -> ServerError {
    ServerError::io("writing the output", e)
}

/// The invariant check; prints the report. `Ok(true)`: nothing unfixed.
pub fn check(cfg: &ServerConfig, repair: bool, out: &mut dyn Write) -> Result<bool, ServerError> {
    with_engine(cfg, |e| {
        let report = e.check(repair)?;
        writeln!(out, "checked {} segments, {} records", report.segments, report.records).map_err(io)?;
        for p in &report.problems {
            let at = match (p.space, p.segment) {
                (Some(s), Some(g)) => format!("space {s} segment {g}: "),
                (Some(s), None) => format!("space {s}: "),
                _ => String::new(),
            };
            let fixed = if p.repaired { " (repaired)" } else { "" };
            writeln!(out, "  {at}{}{fixed}", p.what).map_err(io)?;
        }
        let clean = report.is_clean();
        writeln!(out, "{}", if clean { "clean" } else { "PROBLEMS FOUND (run with --repair to fix what is safe)" })
            .map_err(io)?;
        Ok(clean)
    })
}

/// Initializes a folder into a storage space (created if missing), printing
/// progress. Nothing is created unless the data folder's engine opens.
pub fn init_space(
    cfg: &ServerConfig,
    path: PathBuf,
    capacity: ByteSize,
    segment_size: Option<ByteSize>,
    out: &mut dyn Write,
) -> Result<SpaceId, ServerError> {
    // The engine first: a data folder that holds none (or is in use) fails
    // here, before the space's folder is created.
    with_engine(cfg, |e| {
        std::fs::create_dir_all(&path).map_err(|e| ServerError::io(format!("creating {}", path.display()), e))?;
        let job = e.initialize_space(SpaceSpec {
            path: path.clone(),
            capacity: capacity.0,
            segment_size: segment_size.map(|s| s.0),
        })?;
        let id = wait_job(job, |p| {
            let _ = writeln!(out, "initializing {}: {p}%", path.display());
        })?;
        let info = e.space(id)?;
        writeln!(
            out,
            "storage space {id} ready at {}: {} in segments of {}",
            path.display(),
            ByteSize(info.capacity),
            ByteSize(info.segment_size)
        )
        .map_err(io)?;
        Ok(id)
    })
}

/// Prints a key pair as shell `export` lines (`PSTOR_ACCESS_KEY`,
/// `PSTOR_SECRET_KEY`): the pair of `access_key`, else the first one
/// configured. Reads the credentials file only: never creates it, never
/// opens the engine.
pub fn keys_show(cfg: &ServerConfig, access_key: Option<&str>, out: &mut dyn Write) -> Result<(), ServerError> {
    let pairs = credentials::configured(cfg)?;
    let pair = match access_key {
        Some(k) => pairs
            .iter()
            .find(|p| p.access_key == k)
            .ok_or_else(|| ServerError::Credentials(format!("no key pair with access key {k:?}")))?,
        None => pairs.first().ok_or_else(|| ServerError::Credentials("no key pair configured".into()))?,
    };
    out.write_all(credentials::shell_exports(pair).as_bytes()).map_err(io)
}

/// Gives `admin` a new one-time password (written to
/// `<data_dir>/initial-admin-password`, mode 0600) and ends its sessions:
/// the way back in after a forgotten password. The server must be stopped
/// (the engine's folder lock is taken to make sure).
pub fn reset_admin_password(cfg: &ServerConfig, out: &mut dyn Write) -> Result<(), ServerError> {
    with_engine(cfg, |_| {
        let db = crate::meta::MetaDb::open(&cfg.data_dir)?;
        let pw = crate::meta::users::one_time_password();
        let hash = crate::meta::users::hash_password(&pw);
        if db.user(crate::meta::users::ADMIN)?.is_none() {
            crate::manage::ensure_admin(&db, &cfg.data_dir)?;
        } else {
            db.set_password(crate::meta::users::ADMIN, &hash, true)?;
            db.delete_sessions(None, crate::meta::users::ADMIN)?;
            crate::manage::write_password_file(&cfg.data_dir.join(crate::manage::INITIAL_PASSWORD_FILE), &pw)?;
        }
        let file = cfg.data_dir.join(crate::manage::INITIAL_PASSWORD_FILE);
        writeln!(out, "admin has a new one-time password in {} (log in with it, then choose a new one)", file.display())
            .map_err(io)
    })
}

/// Empties the allowed address ranges of every port: the way back in
/// after shutting yourself out. The server must be stopped.
pub fn clear_access(cfg: &ServerConfig, out: &mut dyn Write) -> Result<(), ServerError> {
    with_engine(cfg, |_| {
        let db = crate::meta::MetaDb::open(&cfg.data_dir)?;
        db.put_setting(crate::manage::api::ACCESS_SETTING, &crate::access::AccessLists::default())?;
        writeln!(out, "the allowed address ranges are cleared: every address may connect (and must authenticate)")
            .map_err(io)
    })
}

/// Lists the storage spaces.
pub fn spaces(cfg: &ServerConfig, out: &mut dyn Write) -> Result<(), ServerError> {
    with_engine(cfg, |e| {
        writeln!(out, "{:>10}  {:<12} {:>10} {:>10} {:>10}  path", "id", "status", "capacity", "used", "reserved")
            .map_err(io)?;
        for s in e.spaces() {
            writeln!(
                out,
                "{:>10}  {:<12} {:>10} {:>10} {:>10}  {}",
                s.id,
                format!("{:?}", s.status),
                ByteSize(s.capacity).to_string(),
                ByteSize(s.used).to_string(),
                ByteSize(s.reserved).to_string(),
                s.path.display()
            )
            .map_err(io)?;
        }
        Ok(())
    })
}

/// A pool's settings for `pool create`.
#[derive(Debug, Clone)]
pub struct NewPool {
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: KindName,
    /// Capacity.
    pub capacity: ByteSize,
    /// Spaces by id or path; empty = all.
    pub spaces: Vec<String>,
    /// Strategy.
    pub strategy: StrategyName,
    /// Cycle in days.
    pub cycle_days: u32,
    /// Max lock percent.
    pub max_lock_pct: u8,
}

/// Changes for `pool edit`.
#[derive(Debug, Clone, Default)]
pub struct PoolChanges {
    /// New name.
    pub name: Option<String>,
    /// New capacity.
    pub capacity: Option<ByteSize>,
    /// New strategy.
    pub strategy: Option<StrategyName>,
    /// New cycle.
    pub cycle_days: Option<u32>,
    /// New max lock percent.
    pub max_lock_pct: Option<u8>,
}

fn find_pool(e: &Engine, which: &str) -> Result<PoolId, ServerError> {
    let pools = e.pools();
    if let Some(p) = pools.iter().find(|p| p.config.name == which) {
        return Ok(p.config.id);
    }
    which.parse::<u32>().ok().and_then(|n| pools.iter().find(|p| p.config.id.0 == n)).map(|p| p.config.id).ok_or_else(
        || ServerError::Engine(Error::InvalidArgument(format!("no resource pool named or numbered {which:?}"))),
    )
}

fn find_space(e: &Engine, which: &str) -> Result<SpaceId, ServerError> {
    let spaces = e.spaces();
    let canon = |p: &std::path::Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let want = canon(std::path::Path::new(which));
    spaces
        .iter()
        .find(|s| canon(&s.path) == want || which.parse::<u32>().ok() == Some(s.id.0))
        .map(|s| s.id)
        .ok_or_else(|| {
            ServerError::Engine(Error::InvalidArgument(format!("no storage space at or numbered {which:?}")))
        })
}

/// Lists the pools.
pub fn pool_list(cfg: &ServerConfig, out: &mut dyn Write) -> Result<(), ServerError> {
    with_engine(cfg, |e| {
        writeln!(
            out,
            "{:>10}  {:<16} {:<8} {:<9} {:>10} {:>10} {:>10} {:>6} {:>5}",
            "id", "name", "kind", "status", "capacity", "used", "locked", "cycle", "lock%"
        )
        .map_err(io)?;
        for p in e.pools() {
            let c = &p.config;
            writeln!(
                out,
                "{:>10}  {:<16} {:<8} {:<9} {:>10} {:>10} {:>10} {:>6} {:>5}",
                c.id,
                c.name,
                format!("{:?}", c.kind),
                format!("{:?}", p.status),
                ByteSize(p.capacity).to_string(),
                ByteSize(p.used).to_string(),
                ByteSize(p.locked).to_string(),
                c.cycle_days,
                c.max_lock_pct
            )
            .map_err(io)?;
        }
        Ok(())
    })
}

/// Creates a pool.
pub fn pool_create(cfg: &ServerConfig, p: NewPool, out: &mut dyn Write) -> Result<PoolId, ServerError> {
    with_engine(cfg, |e| {
        let spaces = p.spaces.iter().map(|s| find_space(e, s)).collect::<Result<Vec<_>, _>>()?;
        let id = e.create_pool(PoolSpec {
            name: p.name.clone(),
            kind: p.kind.into(),
            capacity: p.capacity.0,
            spaces,
            strategy: p.strategy.into(),
            cycle_days: p.cycle_days,
            max_lock_pct: p.max_lock_pct,
        })?;
        writeln!(out, "resource pool {id} {:?} created ({})", p.name, p.capacity).map_err(io)?;
        Ok(id)
    })
}

/// Edits a pool (by name or id).
pub fn pool_edit(cfg: &ServerConfig, which: &str, c: PoolChanges, out: &mut dyn Write) -> Result<(), ServerError> {
    with_engine(cfg, |e| {
        let id = find_pool(e, which)?;
        e.edit_pool(
            id,
            PoolEdit {
                name: c.name,
                capacity: c.capacity.map(|b| b.0),
                strategy: c.strategy.map(Into::into),
                cycle_days: c.cycle_days,
                max_lock_pct: c.max_lock_pct,
            },
        )?;
        writeln!(out, "resource pool {id} changed").map_err(io)?;
        Ok(())
    })
}

/// Deletes a pool (by name or id).
pub fn pool_delete(cfg: &ServerConfig, which: &str, out: &mut dyn Write) -> Result<(), ServerError> {
    with_engine(cfg, |e| {
        let id = find_pool(e, which)?;
        e.delete_pool(id)?;
        writeln!(out, "resource pool {id} deleted").map_err(io)?;
        Ok(())
    })
}
