//! The engine's home: which data folder a catalog belongs to. The catalog
//! names its storage spaces by absolute path, so a copy of the data folder
//! (`cp -r`) opened elsewhere would write the original engine's spaces, and
//! a moved folder would look for its spaces where they no longer are. Every
//! open records its folder in the catalog and leaves a fresh instance mark
//! in it, which tells another name of the same folder (a symlink, a bind
//! mount) from a copy, and a copy (the original still there) from a move.

use crate::error::{Error, Result};
use crate::format::catalog::{Catalog, CATALOG_FILE};
use crate::format::superblock::{SuperBlock, SUPERBLOCK_FILE};
use crate::io::{read_whole, OpenMode, Storage};
use std::path::{Path, PathBuf};

/// The instance mark in the engine data directory: 16 random bytes,
/// rewritten at every open.
pub(crate) const INSTANCE_FILE: &str = "instance.pst";

/// An absolute form of `path` (relative paths against the working folder).
pub(crate) fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        return path.to_path_buf();
    }
    std::fs::canonicalize(path).or_else(|_| std::path::absolute(path)).unwrap_or_else(|_| path.to_path_buf())
}

/// Checks `catalog` against the folder `data_dir` it is being opened from:
/// refuses a copy whose original still exists ([`Error::EngineCopied`]),
/// follows a move (spaces that moved along are found at their new paths),
/// and records the folder. Returns whether the catalog changed.
pub(crate) fn settle(storage: &dyn Storage, data_dir: &Path, catalog: &mut Catalog) -> Result<bool> {
    let here = absolute(data_dir);
    let mark: [u8; 16] = rand::random();
    // Only compared during this open: no fsync (an open after a crash must
    // not queue behind the dead writer's dirty pages for it).
    let mark_path = here.join(INSTANCE_FILE);
    storage
        .open(&mark_path, OpenMode::CreateTruncate)
        .and_then(|f| f.write_all_at(&mark, 0))
        .map_err(|e| Error::io(format!("writing {}", mark_path.display()), e))?;
    let here_str = here.to_string_lossy().into_owned();
    let Some(home) = catalog.home.clone() else {
        catalog.home = Some(here_str);
        return Ok(true);
    };
    if home == here_str {
        return Ok(false);
    }
    let home = PathBuf::from(home);
    // Another name of this very folder shows the mark just written.
    if read_whole(storage, &home.join(INSTANCE_FILE)).ok().as_deref() == Some(&mark[..]) {
        return Ok(false);
    }
    let original = read_whole(storage, &home.join(CATALOG_FILE)).ok().and_then(|b| Catalog::decode(&b).ok());
    if original.is_some_and(|c| c.engine_uuid == catalog.engine_uuid) {
        return Err(Error::EngineCopied { here, original: home });
    }
    // Moved (or the original is gone): spaces that moved along with the
    // folder are found at the same place relative to it.
    for space in &mut catalog.spaces {
        if let Some(moved) = moved_path(storage, &home, &here, Path::new(&space.path), space.uuid) {
            space.path = moved.to_string_lossy().into_owned();
        }
    }
    catalog.home = Some(here_str);
    Ok(true)
}

/// Where the space at `path` (uuid `uuid`) is now if it moved with the data
/// folder from `old` to `new`: tried at the same place relative to `old`,
/// then to each parent `old` and `new` share the name of (so a space beside
/// the engine folder, as the server lays them out, is found too). `None` if
/// it is still at `path`, or found nowhere.
fn moved_path(storage: &dyn Storage, old: &Path, new: &Path, path: &Path, uuid: u128) -> Option<PathBuf> {
    let holds_it = |p: &Path| {
        read_whole(storage, &p.join(SUPERBLOCK_FILE))
            .ok()
            .and_then(|b| SuperBlock::decode(&b).ok())
            .is_some_and(|sb| sb.space_uuid == uuid)
    };
    if holds_it(path) {
        return None;
    }
    let (mut old, mut new) = (old, new);
    loop {
        if let Ok(rest) = path.strip_prefix(old) {
            let candidate = new.join(rest);
            if holds_it(&candidate) {
                return Some(candidate);
            }
        }
        if old.file_name().is_none() || old.file_name() != new.file_name() {
            return None;
        }
        old = old.parent()?;
        new = new.parent()?;
    }
}
