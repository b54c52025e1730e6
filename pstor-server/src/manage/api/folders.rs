//! The folder browser of "Add Storage Space" (manual 3.5.1): the server's
//! volumes with free and total bytes (`E:\[1755/2047(GB)]`), a folder's
//! children with those already initialized marked (not selectable), and
//! creating, renaming and deleting child folders. Everything stays inside
//! the browsable roots: `management.browse_roots` if set, else every
//! mounted storage filesystem but the system volume (`/`, and `/boot`),
//! which `management.browse_system_volume` adds. A folder that holds a
//! storage space, or lies under one, is never renamed or deleted.

use super::{Body, Params};
use crate::manage::error::{ApiCode, ApiError, ApiResult};
use crate::manage::{audited, blocking, State};
use crate::volumes::{self, DeviceType};
use axum::extract::State as S;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use pstor_core::io::{OsStorage, Storage};
use pstor_core::SUPERBLOCK_FILE;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Filesystems that can hold storage spaces.
const STORAGE_FS: &[&str] = &[
    "ext2", "ext3", "ext4", "xfs", "btrfs", "zfs", "f2fs", "jfs", "reiserfs", "exfat", "vfat", "ntfs", "ntfs3",
    "fuseblk", "nfs", "nfs4", "cifs", "smb3",
];

/// Children listed per folder at most.
const MAX_CHILDREN: usize = 10_000;

#[derive(Debug, Serialize)]
pub(super) struct VolumeView {
    path: String,
    fs_type: String,
    device_type: DeviceType,
    total: u64,
    free: u64,
}

/// The browsable roots, canonical.
fn roots(state: &State) -> Vec<PathBuf> {
    let m = &state.cfg;
    let mut out: Vec<PathBuf> = if m.browse_roots.is_empty() {
        volumes::mounts()
            .into_iter()
            .filter(|v| STORAGE_FS.contains(&v.fs_type.as_str()))
            .map(|v| v.mount_point)
            .filter(|p| m.browse_system_volume || (p != Path::new("/") && !p.starts_with("/boot")))
            .collect()
    } else {
        m.browse_roots.clone()
    };
    out = out.into_iter().filter_map(|p| std::fs::canonicalize(p).ok()).collect();
    out.sort();
    out.dedup();
    out
}

fn outside(path: &Path) -> ApiError {
    ApiError::new(
        ApiCode::NotFound,
        format!("{} is not inside a browsable volume (GET /api/v1/volumes lists them)", path.display()),
    )
}

/// `path` made canonical, if it is a folder in a root; with that root.
fn inside(state: &State, path: &Path) -> ApiResult<(PathBuf, PathBuf)> {
    let real = std::fs::canonicalize(path).map_err(|_| outside(path))?;
    if !real.is_dir() {
        return Err(ApiError::new(ApiCode::BadRequest, format!("{} is not a folder", path.display())));
    }
    let root = roots(state).into_iter().filter(|r| real.starts_with(r)).max_by_key(|r| r.components().count());
    root.map(|r| (real, r)).ok_or_else(|| outside(path))
}

/// The spaces' folders, canonical.
fn space_paths(state: &State) -> Vec<(u32, PathBuf)> {
    state.ctx.engine.spaces().into_iter().map(|s| (s.id.0, std::fs::canonicalize(&s.path).unwrap_or(s.path))).collect()
}

/// Refuses a folder that is, or lies under, or holds a space.
fn no_space_involved(state: &State, path: &Path) -> ApiResult<()> {
    let hit = space_paths(state).into_iter().find(|(_, p)| p.starts_with(path) || path.starts_with(p));
    if let Some((id, p)) = hit {
        return Err(ApiError::new(
            ApiCode::Conflict,
            format!("{} holds or lies in storage space {id} ({}): refused", path.display(), p.display()),
        ));
    }
    if path.join(SUPERBLOCK_FILE).exists() {
        return Err(ApiError::new(ApiCode::Conflict, format!("{} is a storage space: refused", path.display())));
    }
    Ok(())
}

fn volume_view(p: &Path, mounts: &[volumes::Mount]) -> VolumeView {
    let space = OsStorage.volume_space(p).ok();
    let m = volumes::mount_of(mounts, p);
    VolumeView {
        path: p.display().to_string(),
        fs_type: m.map_or_else(String::new, |m| m.fs_type.clone()),
        device_type: m.map_or(DeviceType::Local, volumes::device_type),
        total: space.map_or(0, |s| s.total),
        free: space.map_or(0, |s| s.available),
    }
}

/// `GET /api/v1/volumes`.
pub(super) async fn list_volumes(S(state): S<Arc<State>>) -> ApiResult<Json<Vec<VolumeView>>> {
    blocking(move || {
        let mounts = volumes::mounts();
        Ok(Json(roots(&state).iter().map(|r| volume_view(r, &mounts)).collect()))
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PathQuery {
    path: PathBuf,
}

#[derive(Debug, Serialize)]
struct Child {
    name: String,
    path: String,
    /// Already a storage space (of this engine or found on disk).
    initialized: bool,
    space: Option<u32>,
    /// Can be chosen for a new space.
    selectable: bool,
}

/// `GET /api/v1/folders?path=`: a folder's child folders.
pub(super) async fn list(S(state): S<Arc<State>>, Params(q): Params<PathQuery>) -> ApiResult<Json<serde_json::Value>> {
    blocking(move || {
        let (dir, root) = inside(&state, &q.path)?;
        let spaces = space_paths(&state);
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| ApiError::engine(pstor_core::ErrorCode::Io, format!("listing {}: {e}", dir.display())))?;
        let mut children: Vec<Child> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .take(MAX_CHILDREN)
            .map(|e| {
                let path = e.path();
                let space = spaces.iter().find(|(_, p)| p == &path).map(|(id, _)| *id);
                let initialized = space.is_some() || path.join(SUPERBLOCK_FILE).exists();
                let inside_space = spaces.iter().any(|(_, p)| path.starts_with(p));
                Child {
                    name: e.file_name().to_string_lossy().into_owned(),
                    path: path.display().to_string(),
                    initialized,
                    space,
                    selectable: !initialized && !inside_space,
                }
            })
            .collect();
        children.sort_by(|a, b| a.name.cmp(&b.name));
        let mounts = volumes::mounts();
        Ok(Json(serde_json::json!({
            "path": dir.display().to_string(),
            "volume": volume_view(&root, &mounts),
            "children": children,
        })))
    })
    .await
}

/// A child folder's name: one path component, no NUL, at most 255 bytes.
fn check_name(name: &str) -> ApiResult<()> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) || name.len() > 255 {
        return Err(ApiError::new(
            ApiCode::BadRequest,
            format!("{name:?} is not a folder name (one component, 1 to 255 bytes, no '/')"),
        ));
    }
    Ok(())
}

fn io_error(what: &str, p: &Path, e: std::io::Error) -> ApiError {
    let code = match e.kind() {
        std::io::ErrorKind::AlreadyExists => {
            return ApiError::new(ApiCode::Conflict, format!("{} already exists", p.display()))
        }
        std::io::ErrorKind::DirectoryNotEmpty => {
            return ApiError::new(
                ApiCode::Conflict,
                format!("{} is not empty: only empty folders are deleted here", p.display()),
            )
        }
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
            return ApiError::new(ApiCode::Conflict, format!("{what} {}: {e}", p.display()))
        }
        _ => pstor_core::ErrorCode::Io,
    };
    ApiError::engine(code, format!("{what} {}: {e}", p.display()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewFolder {
    /// The parent folder.
    path: PathBuf,
    name: String,
}

/// `POST /api/v1/folders`: creates a child folder.
pub(super) async fn create(S(state): S<Arc<State>>, Body(f): Body<NewFolder>) -> ApiResult<Response> {
    check_name(&f.name)?;
    let made = blocking(move || {
        let (dir, _) = inside(&state, &f.path)?;
        if spaces_under(&state, &dir) {
            no_space_involved(&state, &dir)?;
        }
        let new = dir.join(&f.name);
        std::fs::create_dir(&new).map_err(|e| io_error("creating", &new, e))?;
        Ok(new)
    })
    .await?;
    let what = format!("created folder {}", made.display());
    Ok(audited(what, (StatusCode::CREATED, Json(serde_json::json!({ "path": made })))))
}

/// Whether `dir` lies in a space (creating a folder there is refused too).
fn spaces_under(state: &State, dir: &Path) -> bool {
    space_paths(state).iter().any(|(_, p)| dir.starts_with(p))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RenameFolder {
    path: PathBuf,
    new_name: String,
}

/// `PATCH /api/v1/folders`: renames a folder within its parent.
pub(super) async fn rename(S(state): S<Arc<State>>, Body(r): Body<RenameFolder>) -> ApiResult<Response> {
    check_name(&r.new_name)?;
    let (from, to) = blocking(move || {
        let (path, root) = inside(&state, &r.path)?;
        if path == root {
            return Err(ApiError::new(ApiCode::Conflict, "a volume's root is not renamed"));
        }
        no_space_involved(&state, &path)?;
        let to = path.parent().unwrap_or(&root).join(&r.new_name);
        if to.exists() {
            return Err(ApiError::new(ApiCode::Conflict, format!("{} already exists", to.display())));
        }
        std::fs::rename(&path, &to).map_err(|e| io_error("renaming", &path, e))?;
        Ok((path, to))
    })
    .await?;
    let what = format!("renamed folder {} to {}", from.display(), to.display());
    Ok(audited(what, Json(serde_json::json!({ "path": to }))))
}

/// `DELETE /api/v1/folders?path=`: deletes an empty folder.
pub(super) async fn delete(S(state): S<Arc<State>>, Params(q): Params<PathQuery>) -> ApiResult<Response> {
    let gone = blocking(move || {
        let (path, root) = inside(&state, &q.path)?;
        if path == root {
            return Err(ApiError::new(ApiCode::Conflict, "a volume's root is not deleted"));
        }
        no_space_involved(&state, &path)?;
        std::fs::remove_dir(&path).map_err(|e| io_error("deleting", &path, e))?;
        Ok(path)
    })
    .await?;
    Ok(audited(format!("deleted folder {}", gone.display()), StatusCode::NO_CONTENT))
}
