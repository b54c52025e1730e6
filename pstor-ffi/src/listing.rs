//! Lists handed to C (spaces, pools, ranges, locks, pictures, events): a
//! snapshot taken by one call, read item by item with `*_len` and `*_at`,
//! freed by its own free function. Strings inside the items point into the
//! list, so they live exactly as long as it does.

use crate::ptr::Out;
use crate::result::{Failure, FfiResult};
use pstor_core::Error;
use std::ffi::{c_char, CString};

/// Owned NUL-terminated copies of strings whose pointers C is given.
#[derive(Debug, Default)]
pub struct Texts(Vec<CString>);

impl Texts {
    /// Keeps a copy of `s` (cut at an interior NUL, which C could not see
    /// past anyway) and returns its pointer, valid while `self` lives.
    pub fn add(&mut self, s: &str) -> *const c_char {
        let text = CString::new(s.split('\0').next().unwrap_or_default()).unwrap_or_default();
        let p = text.as_ptr(); // the heap buffer does not move with the CString
        self.0.push(text);
        p
    }

    /// [`Texts::add`], or NULL for `None`.
    pub fn add_opt(&mut self, s: Option<&str>) -> *const c_char {
        s.map_or(std::ptr::null(), |s| self.add(s))
    }
}

/// The items of a list and the strings they point to.
#[derive(Debug)]
pub struct Listing<T> {
    items: Vec<T>,
    _texts: Texts,
}

impl<T: Copy> Listing<T> {
    /// A list of `items` whose strings are in `texts`.
    pub fn new(items: Vec<T>, texts: Texts) -> Self {
        Listing { items, _texts: texts }
    }

    /// How many items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Writes item `i` to `out` (an index past the end is an invalid argument).
    pub fn write_at(&self, i: usize, out: *mut T) -> FfiResult<()> {
        let out = Out::new(out)?;
        let item = self.items.get(i).ok_or_else(|| {
            Failure::Engine(Error::InvalidArgument(format!(
                "index {i} is past the end of a list of {}",
                self.items.len()
            )))
        })?;
        out.write(*item);
        Ok(())
    }
}
