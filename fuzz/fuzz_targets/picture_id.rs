//! Picture ids from arbitrary text and bytes: an `InvalidPictureId` error
//! or an id whose text and binary forms give it back.
#![no_main]

use pstor_core::PictureId;
use std::str::FromStr;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(id) = PictureId::from_str(text) {
            assert_eq!(id.to_string(), text, "a parsed id formats back to its text");
            assert_eq!(PictureId::from_bytes(&id.to_bytes()).ok(), Some(id));
        }
    }
    if let Ok(id) = PictureId::from_bytes(data) {
        assert_eq!(id.to_bytes().as_slice(), data);
        assert_eq!(PictureId::from_str(&id.to_string()).ok(), Some(id));
    }
});
