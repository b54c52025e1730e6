//! Keys of this server's own in the data folder: 32 random bytes, mode
//! 0600, made at the first start (the recorder's sealing key, the
//! playback links' signing key).

use crate::error::ServerError;
use std::path::Path;

/// The key in `<data_dir>/<name>`, made when the file does not exist. A
/// file of another length is damaged: an error, never a silent new key
/// (which would orphan what the old one sealed or signed).
pub fn load_or_create(data_dir: &Path, name: &str) -> Result<[u8; 32], ServerError> {
    let path = data_dir.join(name);
    match std::fs::read(&path) {
        Ok(k) => <[u8; 32]>::try_from(k.as_slice()).map_err(|_| {
            ServerError::io(
                format!("reading {}", path.display()),
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{} bytes instead of 32: the file is damaged", k.len()),
                ),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let k: [u8; 32] = rand::random();
            crate::manage::tls::write_private(&path, &k, 0o600)?;
            Ok(k)
        }
        Err(e) => Err(ServerError::io(format!("reading {}", path.display()), e)),
    }
}
