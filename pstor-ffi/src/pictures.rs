//! Pictures (snapshots, face and plate crops): put, sync, get (whole or a
//! byte range), head, delete, list by capture time, and by bucket + key.
//! Picture ids cross the boundary in their 32-character text form.
#![allow(non_camel_case_types)] // C names
#![allow(unsafe_code)] // `#[no_mangle]` exports only; pointers are handled in `ptr.rs`

use crate::engine::{backend_of, pstor_engine};
use crate::listing::{Listing, Texts};
use crate::ptr::{arg_ref, arg_slice, arg_str, free_handle, into_handle, Out};
use crate::result::{boundary, FfiResult, ResultCode};
use pstor_core::*;
use std::ffi::c_char;

/// Length of a picture id's text form, without the NUL.
pub const PSTOR_PICTURE_ID_LEN: usize = 32;

/// A picture id: 32 URL-safe characters and a NUL. Pass `text` wherever a
/// `const char *picture_id` is asked for.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pstor_picture_id {
    /// The id, NUL-terminated.
    pub text: [c_char; 33],
}

impl pstor_picture_id {
    fn new(id: &PictureId) -> Self {
        let mut text = [0 as c_char; 33];
        for (slot, b) in text.iter_mut().zip(id.to_string().bytes()) {
            *slot = b as c_char;
        }
        pstor_picture_id { text }
    }
}

fn parse_id(text: *const c_char) -> FfiResult<PictureId> {
    Ok(arg_str(text)?.parse::<PictureId>()?)
}

fn opt_str<'a>(p: *const c_char) -> FfiResult<Option<&'a str>> {
    if p.is_null() {
        Ok(None)
    } else {
        arg_str(p).map(Some)
    }
}

/// What is stored with a picture.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pstor_picture_meta {
    /// The camera that took it (1..=256 bytes).
    pub camera_id: *const c_char,
    /// When it was taken, µs UTC.
    pub captured_at: i64,
    /// MIME type such as "image/jpeg"; NULL for none.
    pub content_type: *const c_char,
    /// Bucket of its name; NULL for a picture without a name.
    pub bucket: *const c_char,
    /// Key of its name (with `bucket`); a key stored again replaces the
    /// older picture.
    pub key: *const c_char,
}

/// Stores a picture of `len` bytes in picture or mixed pool `pool` and
/// writes its id to `*out_id` once it is written and readable. Durable
/// after [`pstor_picture_sync`]. The bytes are the caller's; they are not
/// kept after the call.
#[no_mangle]
pub extern "C" fn pstor_picture_put(
    engine: *const pstor_engine,
    pool: u32,
    meta: *const pstor_picture_meta,
    data: *const u8,
    len: usize,
    out_id: *mut pstor_picture_id,
) -> ResultCode {
    boundary(|| {
        let e = backend_of(engine)?;
        let m = arg_ref(meta)?;
        let data = arg_slice(data, len)?;
        let out = Out::new(out_id)?;
        let key = match opt_str(m.bucket)? {
            Some(bucket) => Some(PictureKey { bucket: bucket.to_string(), key: arg_str(m.key)?.to_string() }),
            None => None,
        };
        let meta = PictureMeta {
            camera_id: arg_str(m.camera_id)?.to_string(),
            captured_at: m.captured_at,
            content_type: opt_str(m.content_type)?.unwrap_or_default().to_string(),
            key,
        };
        out.write(pstor_picture_id::new(&e.put_picture(PoolId(pool), &meta, data)?));
        Ok(())
    })
}

/// Makes every picture stored in `pool` so far durable (one fdatasync per
/// data file serves many callers).
#[no_mangle]
pub extern "C" fn pstor_picture_sync(engine: *const pstor_engine, pool: u32) -> ResultCode {
    boundary(|| Ok(backend_of(engine)?.sync_pictures(PoolId(pool))?))
}

/// What is known about a picture. The strings and the id belong to the
/// handle or list it came from.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pstor_picture_info {
    /// Its id.
    pub id: pstor_picture_id,
    /// The camera that took it.
    pub camera_id: *const c_char,
    /// When it was taken, µs UTC.
    pub captured_at: i64,
    /// Its MIME type ("" if none was given).
    pub content_type: *const c_char,
    /// Bucket of its name, or NULL.
    pub bucket: *const c_char,
    /// Key of its name, or NULL.
    pub key: *const c_char,
    /// When pstor stored it, µs UTC.
    pub stored_at: i64,
    /// Size of the picture in bytes.
    pub size: u64,
    /// MD5 of the bytes (the S3 ETag).
    pub md5: [u8; 16],
}

fn picture_info(p: &PictureInfo, texts: &mut Texts) -> pstor_picture_info {
    let key = p.meta.key.as_ref();
    pstor_picture_info {
        id: pstor_picture_id::new(&p.id),
        camera_id: texts.add(&p.meta.camera_id),
        captured_at: p.meta.captured_at,
        content_type: texts.add(&p.meta.content_type),
        bucket: texts.add_opt(key.map(|k| k.bucket.as_str())),
        key: texts.add_opt(key.map(|k| k.key.as_str())),
        stored_at: p.stored_at,
        size: p.size,
        md5: p.md5,
    }
}

/// A picture read back (opaque): its info and (unless it came from
/// [`pstor_picture_head`]) its bytes. Read-only: any number of threads.
/// Freed by [`pstor_picture_free`] only.
pub struct pstor_picture {
    info: pstor_picture_info,
    data: bytes::Bytes,
    _texts: Texts,
}

fn write_picture(info: &PictureInfo, data: bytes::Bytes, out: Out<*mut pstor_picture>) {
    let mut texts = Texts::default();
    let info = picture_info(info, &mut texts);
    out.write(into_handle(pstor_picture { info, data, _texts: texts }));
}

/// Reads picture `picture_id` (exactly one positioned read, checksums
/// verified) into `*out_picture`. A malformed id fails with
/// `PSTOR_INVALID_PICTURE_ID`; an unknown, stale or deleted one with
/// `PSTOR_PICTURE_NOT_FOUND`; damaged bytes with `PSTOR_CORRUPT`.
#[no_mangle]
pub extern "C" fn pstor_picture_get(
    engine: *const pstor_engine,
    picture_id: *const c_char,
    out_picture: *mut *mut pstor_picture,
) -> ResultCode {
    boundary(|| {
        let e = backend_of(engine)?;
        let id = parse_id(picture_id)?;
        let out = Out::new(out_picture)?;
        let p = e.get_picture(&id)?;
        write_picture(&p.info, p.data, out);
        Ok(())
    })
}

/// Reads `len` bytes from `offset` of a picture (an HTTP Range) into
/// `*out_picture`; the info still describes the whole picture.
#[no_mangle]
pub extern "C" fn pstor_picture_get_range(
    engine: *const pstor_engine,
    picture_id: *const c_char,
    offset: u64,
    len: u64,
    out_picture: *mut *mut pstor_picture,
) -> ResultCode {
    boundary(|| {
        let e = backend_of(engine)?;
        let id = parse_id(picture_id)?;
        let out = Out::new(out_picture)?;
        let p = e.get_picture_range(&id, offset, len)?;
        write_picture(&p.info, p.data, out);
        Ok(())
    })
}

/// Reads a picture's info without its bytes (one small read) into
/// `*out_picture`; its data is empty.
#[no_mangle]
pub extern "C" fn pstor_picture_head(
    engine: *const pstor_engine,
    picture_id: *const c_char,
    out_picture: *mut *mut pstor_picture,
) -> ResultCode {
    boundary(|| {
        let e = backend_of(engine)?;
        let id = parse_id(picture_id)?;
        let out = Out::new(out_picture)?;
        write_picture(&e.head_picture(&id)?, bytes::Bytes::new(), out);
        Ok(())
    })
}

/// Reads the picture stored under `bucket` + `key` into `*out_picture`;
/// `PSTOR_KEY_NOT_FOUND` if there is none.
#[no_mangle]
pub extern "C" fn pstor_picture_get_by_key(
    engine: *const pstor_engine,
    bucket: *const c_char,
    key: *const c_char,
    out_picture: *mut *mut pstor_picture,
) -> ResultCode {
    boundary(|| {
        let e = backend_of(engine)?;
        let key = PictureKey { bucket: arg_str(bucket)?.to_string(), key: arg_str(key)?.to_string() };
        let out = Out::new(out_picture)?;
        let p = e.get_picture_by_key(&key)?;
        write_picture(&p.info, p.data, out);
        Ok(())
    })
}

/// Writes the picture's info to `*out_info`; its strings stay valid until
/// the picture is freed.
#[no_mangle]
pub extern "C" fn pstor_picture_info_of(
    picture: *const pstor_picture,
    out_info: *mut pstor_picture_info,
) -> ResultCode {
    boundary(|| {
        let p = arg_ref(picture)?;
        Out::new(out_info)?.write(p.info);
        Ok(())
    })
}

/// Writes a pointer to the picture's bytes to `*out_data` and their number
/// to `*out_len`. The bytes belong to the picture, valid until it is freed
/// (not a copy: the buffer of the one read).
#[no_mangle]
pub extern "C" fn pstor_picture_data(
    picture: *const pstor_picture,
    out_data: *mut *const u8,
    out_len: *mut usize,
) -> ResultCode {
    boundary(|| {
        let p = arg_ref(picture)?;
        let (out_data, out_len) = (Out::new(out_data)?, Out::new(out_len)?);
        out_data.write(p.data.as_ptr());
        out_len.write(p.data.len());
        Ok(())
    })
}

/// Frees a picture and its bytes. NULL is a no-op.
#[no_mangle]
pub extern "C" fn pstor_picture_free(picture: *mut pstor_picture) {
    let _ = boundary(|| {
        free_handle(picture);
        Ok(())
    });
}

/// Deletes a picture: it is never served again, also after a crash (the
/// delete is durable when this returns).
#[no_mangle]
pub extern "C" fn pstor_picture_delete(engine: *const pstor_engine, picture_id: *const c_char) -> ResultCode {
    boundary(|| {
        let e = backend_of(engine)?;
        Ok(e.delete_picture(&parse_id(picture_id)?)?)
    })
}

/// Deletes the picture stored under `bucket` + `key`.
#[no_mangle]
pub extern "C" fn pstor_picture_delete_by_key(
    engine: *const pstor_engine,
    bucket: *const c_char,
    key: *const c_char,
) -> ResultCode {
    boundary(|| {
        let e = backend_of(engine)?;
        let key = PictureKey { bucket: arg_str(bucket)?.to_string(), key: arg_str(key)?.to_string() };
        Ok(e.delete_picture_by_key(&key)?)
    })
}

/// A listing of pictures by capture time: one page.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pstor_picture_query {
    /// The pool.
    pub pool: u32,
    /// Only this camera's pictures; NULL for every camera.
    pub camera_id: *const c_char,
    /// Captured at or after, µs UTC.
    pub start: i64,
    /// Captured at or before, µs UTC.
    pub end: i64,
    /// At most this many pictures.
    pub limit: usize,
    /// The next page: the id of the last picture of the previous page (with
    /// `after_captured_at`); NULL for the first page.
    pub after_id: *const c_char,
    /// The capture time of that last picture.
    pub after_captured_at: i64,
}

/// Pictures as listed (opaque). Read-only: any number of threads. Freed by
/// [`pstor_picture_list_free`] only.
pub struct pstor_picture_list(Listing<pstor_picture_info>);

/// Lists one page of pictures, by capture time then id, into `*out_list`.
/// Deleted and overwritten pictures are left out. Memory is bounded by
/// `limit`, whatever the range holds.
#[no_mangle]
pub extern "C" fn pstor_picture_list_new(
    engine: *const pstor_engine,
    query: *const pstor_picture_query,
    out_list: *mut *mut pstor_picture_list,
) -> ResultCode {
    boundary(|| {
        let e = backend_of(engine)?;
        let q = arg_ref(query)?;
        let out = Out::new(out_list)?;
        let after = match q.after_id.is_null() {
            true => None,
            false => Some((q.after_captured_at, parse_id(q.after_id)?)),
        };
        let found = e.list_pictures(&PictureQuery {
            pool: PoolId(q.pool),
            camera_id: opt_str(q.camera_id)?.map(str::to_string),
            start: q.start,
            end: q.end,
            limit: q.limit,
            after,
        })?;
        let mut texts = Texts::default();
        let items = found.iter().map(|p| picture_info(p, &mut texts)).collect();
        out.write(into_handle(pstor_picture_list(Listing::new(items, texts))));
        Ok(())
    })
}

/// The number of pictures in the list (0 for NULL).
#[no_mangle]
pub extern "C" fn pstor_picture_list_len(list: *const pstor_picture_list) -> usize {
    arg_ref(list).map_or(0, |l| l.0.len())
}

/// Writes picture `index` of the list to `*out_info`; its strings stay
/// valid until the list is freed.
#[no_mangle]
pub extern "C" fn pstor_picture_list_at(
    list: *const pstor_picture_list,
    index: usize,
    out_info: *mut pstor_picture_info,
) -> ResultCode {
    boundary(|| arg_ref(list)?.0.write_at(index, out_info))
}

/// Frees the list and its strings. NULL is a no-op.
#[no_mangle]
pub extern "C" fn pstor_picture_list_free(list: *mut pstor_picture_list) {
    let _ = boundary(|| {
        free_handle(list);
        Ok(())
    });
}
