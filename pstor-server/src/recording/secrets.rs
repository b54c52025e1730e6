//! Camera passwords at rest: sealed with ChaCha20-Poly1305 under a key of
//! this server's own, `<data_dir>/recording.key` (32 random bytes, mode
//! 0600, made at the first start). The metadata database holds only the
//! sealed form, and its backups travel onto the storage spaces without the
//! key: restored on a reinstalled server, such schedules say their
//! credentials cannot be decrypted until the password is entered again.

use crate::error::ServerError;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use std::path::Path;

/// The key file's name in the data folder.
pub const KEY_FILE: &str = "recording.key";

/// Version byte in front of a sealed secret.
const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;

/// The sealing key.
pub struct Secrets {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(..)")
    }
}

impl Secrets {
    /// Loads the key of `data_dir`, making it at the first start.
    pub fn open(data_dir: &Path) -> Result<Secrets, ServerError> {
        let key = crate::keyfile::load_or_create(data_dir, KEY_FILE)?;
        Ok(Secrets { cipher: ChaCha20Poly1305::new(Key::from_slice(&key)) })
    }

    /// Seals `secret`: version, nonce, ciphertext with its tag.
    pub fn seal(&self, secret: &str) -> Vec<u8> {
        let nonce: [u8; NONCE_LEN] = rand::random();
        let mut out = vec![VERSION];
        out.extend_from_slice(&nonce);
        // Encrypting a byte slice in memory cannot fail (only lengths far
        // beyond any password could).
        let ct = self.cipher.encrypt(Nonce::from_slice(&nonce), secret.as_bytes()).unwrap_or_default();
        out.extend_from_slice(&ct);
        out
    }

    /// Opens a sealed secret; an error in words when it was sealed under
    /// another key (a restored database) or is damaged.
    pub fn open_sealed(&self, sealed: &[u8]) -> Result<String, String> {
        let undecryptable = || {
            "the stored camera password cannot be decrypted (metadata restored from another installation?): enter it again".to_string()
        };
        if sealed.len() < 1 + NONCE_LEN + 16 || sealed[0] != VERSION {
            return Err(undecryptable());
        }
        let (nonce, ct) = sealed[1..].split_at(NONCE_LEN);
        let plain = self.cipher.decrypt(Nonce::from_slice(nonce), ct).map_err(|_| undecryptable())?;
        String::from_utf8(plain).map_err(|_| undecryptable())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn seals_opens_and_refuses_another_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Secrets::open(dir.path()).expect("made");
        let mode = std::fs::metadata(dir.path().join(KEY_FILE)).expect("key").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let sealed = s.seal("hunter22");
        assert!(!sealed.windows(8).any(|w| w == b"hunter22"), "not in the clear");
        assert_ne!(sealed, s.seal("hunter22"), "a fresh nonce each time");
        assert_eq!(Secrets::open(dir.path()).expect("reopened").open_sealed(&sealed).as_deref(), Ok("hunter22"));
        let other = tempfile::tempdir().expect("tempdir");
        let e = Secrets::open(other.path()).expect("other").open_sealed(&sealed).expect_err("other key");
        assert!(e.contains("cannot be decrypted"), "{e}");
        let mut damaged = sealed.clone();
        let last = damaged.len() - 1;
        damaged[last] ^= 1;
        assert!(s.open_sealed(&damaged).is_err());
        assert!(s.open_sealed(b"").is_err());
        std::fs::write(dir.path().join(KEY_FILE), b"short").expect("damage");
        assert!(Secrets::open(dir.path()).is_err());
    }
}
