//! Key pairs: loaded from the configuration and a credentials file; on
//! first start, one pair is generated into that file (mode 0600). The
//! secret keys are never logged.

use crate::config::{KeyPair, ServerConfig};
use crate::error::ServerError;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The credentials file: `[[keys]]` tables.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct CredentialsFile {
    #[serde(default)]
    keys: Vec<KeyPair>,
}

/// The access keys the server accepts, with their secrets.
#[derive(Clone, Default)]
pub struct KeyStore {
    secrets: HashMap<String, String>,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Access keys only: the secrets stay out of every log.
        f.debug_struct("KeyStore").field("access_keys", &self.secrets.keys().collect::<Vec<_>>()).finish()
    }
}

impl KeyStore {
    /// A store of these pairs.
    pub fn new(pairs: impl IntoIterator<Item = KeyPair>) -> Self {
        KeyStore { secrets: pairs.into_iter().map(|p| (p.access_key, p.secret_key)).collect() }
    }

    /// The secret key of an access key.
    pub fn secret(&self, access_key: &str) -> Option<String> {
        self.secrets.get(access_key).cloned()
    }

    /// How many pairs.
    pub fn len(&self) -> usize {
        self.secrets.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// The keys the configuration gives: its pairs, plus the credentials
    /// file's (generated with one new pair if it does not exist).
    pub fn load(cfg: &ServerConfig) -> Result<KeyStore, ServerError> {
        let mut pairs = cfg.keys.pairs.clone();
        if let Some(path) = cfg.credentials_path() {
            if path.exists() {
                pairs.extend(read_file(&path)?);
            } else {
                let pair = generate();
                write_file(&path, std::slice::from_ref(&pair))?;
                tracing::info!(
                    file = %path.display(),
                    access_key = %pair.access_key,
                    "generated a key pair for the SDK ports (the secret key is in the file, mode 0600)"
                );
                pairs.push(pair);
            }
        }
        for p in &pairs {
            if p.access_key.is_empty() || p.access_key.len() > 128 || p.secret_key.len() < 16 {
                return Err(ServerError::Credentials(format!(
                    "access key {:?}: access keys are 1..=128 characters and secret keys at least 16",
                    p.access_key
                )));
            }
        }
        if pairs.is_empty() {
            return Err(ServerError::Credentials("no key pair configured: nobody could connect".into()));
        }
        Ok(KeyStore::new(pairs))
    }
}

/// The keys in force while the server runs (manual 3.8.5): the store, and
/// the reset of a pair of the credentials file, which every connection
/// authenticated with the old pair sees ([`KeyRing::watch`]) and closes on.
#[derive(Debug)]
pub struct KeyRing {
    store: parking_lot::RwLock<KeyStore>,
    /// The credentials file (its pairs can be reset), if any.
    file: Option<std::path::PathBuf>,
    /// Access keys written in the configuration itself (not resettable).
    from_config: Vec<String>,
    changes: tokio::sync::watch::Sender<u64>,
}

impl KeyRing {
    /// The keys of `cfg` as loaded.
    pub fn new(store: KeyStore, cfg: &ServerConfig) -> KeyRing {
        KeyRing {
            store: parking_lot::RwLock::new(store),
            file: cfg.credentials_path(),
            from_config: cfg.keys.pairs.iter().map(|p| p.access_key.clone()).collect(),
            changes: tokio::sync::watch::channel(0).0,
        }
    }

    /// The secret key of an access key.
    pub fn secret(&self, access_key: &str) -> Option<String> {
        self.store.read().secret(access_key)
    }

    /// How many pairs.
    pub fn len(&self) -> usize {
        self.store.read().len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.store.read().is_empty()
    }

    /// The access keys, sorted, each with whether it can be reset (it is
    /// in the credentials file, not written in the configuration).
    pub fn access_keys(&self) -> Vec<(String, bool)> {
        let mut keys: Vec<(String, bool)> =
            self.store.read().secrets.keys().map(|k| (k.clone(), !self.from_config.contains(k))).collect();
        keys.sort();
        keys
    }

    /// A pair, secret included (the key download).
    pub fn pair(&self, access_key: &str) -> Option<KeyPair> {
        self.secret(access_key).map(|secret_key| KeyPair { access_key: access_key.to_string(), secret_key })
    }

    /// Replaces a pair of the credentials file with a new one (new access
    /// key and secret), rewrites the file, and tells every connection.
    pub fn reset(&self, access_key: &str) -> Result<KeyPair, ServerError> {
        let file = self.file.as_ref().filter(|_| !self.from_config.iter().any(|k| k == access_key));
        let Some(file) = file else {
            return Err(ServerError::Credentials(format!(
                "access key {access_key:?} is written in the configuration file: change it there"
            )));
        };
        let mut pairs = read_file(file)?;
        let Some(slot) = pairs.iter_mut().find(|p| p.access_key == access_key) else {
            return Err(ServerError::Credentials(format!("no access key {access_key:?} in {}", file.display())));
        };
        let new = generate();
        *slot = new.clone();
        write_file(file, &pairs)?;
        {
            let mut store = self.store.write();
            store.secrets.remove(access_key);
            store.secrets.insert(new.access_key.clone(), new.secret_key.clone());
        }
        self.changes.send_modify(|n| *n += 1);
        tracing::info!(old = access_key, new = %new.access_key, "a key pair was reset: connections of the old pair close");
        Ok(new)
    }

    /// Changes to the keys (a counter), for connections to re-check theirs.
    pub fn watch(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }
}

/// The pairs the configuration names, as [`KeyStore::load`] would find
/// them (the file's pairs after those written in the configuration), without
/// generating any: a missing credentials file is an error here.
pub fn configured(cfg: &ServerConfig) -> Result<Vec<KeyPair>, ServerError> {
    let mut pairs = cfg.keys.pairs.clone();
    if let Some(path) = cfg.credentials_path() {
        if !path.exists() {
            return Err(ServerError::Credentials(format!(
                "no credentials file at {} (the server generates it on its first start: run `pstor-server run` \
                 with the same --data or --config once)",
                path.display()
            )));
        }
        pairs.extend(read_file(&path)?);
    }
    Ok(pairs)
}

/// Shell lines that export a pair as `PSTOR_ACCESS_KEY` and
/// `PSTOR_SECRET_KEY`, the variables the examples and test scripts read:
/// `eval "$(pstor-server keys show)"`. Both values are single-quoted, so any
/// character survives the shell.
pub fn shell_exports(pair: &KeyPair) -> String {
    format!(
        "export PSTOR_ACCESS_KEY={}\nexport PSTOR_SECRET_KEY={}\n",
        shell_quote(&pair.access_key),
        shell_quote(&pair.secret_key)
    )
}

/// `s` as one POSIX shell word: in single quotes, each `'` written `'\''`.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A new random pair: an access key `PSAK` + 16 characters, a secret key of
/// 40 characters (about 238 bits), from the operating system's generator.
pub fn generate() -> KeyPair {
    const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    const ANY: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = rand::rngs::OsRng;
    let mut pick = |set: &[u8], n: usize| -> String {
        (0..n).map(|_| set.get(rng.gen_range(0..set.len())).copied().map_or('A', char::from)).collect()
    };
    let access_key = format!("PSAK{}", pick(UPPER, 16));
    let secret_key = pick(ANY, 40);
    KeyPair { access_key, secret_key }
}

fn read_file(path: &Path) -> Result<Vec<KeyPair>, ServerError> {
    let meta = std::fs::metadata(path).map_err(|e| ServerError::io(format!("reading {}", path.display()), e))?;
    if meta.permissions().mode() & 0o077 != 0 {
        tracing::warn!(
            file = %path.display(),
            "the credentials file is readable by other users: chmod 600 it"
        );
    }
    let text = std::fs::read_to_string(path).map_err(|e| ServerError::io(format!("reading {}", path.display()), e))?;
    let file: CredentialsFile =
        toml::from_str(&text).map_err(|e| ServerError::Credentials(format!("{}: {e}", path.display())))?;
    Ok(file.keys)
}

/// Writes a credentials file, mode 0600 from its creation (temp file,
/// fsync, rename).
pub fn write_file(path: &Path, pairs: &[KeyPair]) -> Result<(), ServerError> {
    let io = |e| ServerError::io(format!("writing {}", path.display()), e);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let body = toml::to_string(&CredentialsFile { keys: pairs.to_vec() })
        .map_err(|e| ServerError::Credentials(e.to_string()))?;
    let tmp = path.with_extension("toml.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp).map_err(io)?;
    f.write_all(
        format!(
            "# pstor-server credentials: access key + secret key pairs for the SDK ports 6036/6037.\n# Keep this file \
             private (mode 0600). Clients authenticate by HMAC; the secret never crosses the wire.\n{body}"
        )
        .as_bytes(),
    )
    .map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_pairs_are_written_private_and_read_back() {
        let dir = tempfile::tempdir().expect("tmp");
        let cfg = ServerConfig { data_dir: dir.path().to_path_buf(), ..ServerConfig::default() };
        let first = KeyStore::load(&cfg).expect("generated");
        assert_eq!(first.len(), 1);
        let path = dir.path().join("credentials.toml");
        let mode = std::fs::metadata(&path).expect("file").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let again = KeyStore::load(&cfg).expect("read back");
        assert_eq!(format!("{again:?}"), format!("{first:?}"));
        let a = generate();
        assert!(a.access_key.starts_with("PSAK") && a.access_key.len() == 20 && a.secret_key.len() == 40);
        assert_ne!(a, generate());
        assert!(!format!("{first:?}").contains(&read_file(&path).expect("read")[0].secret_key));
        assert_eq!(configured(&cfg).expect("configured"), read_file(&path).expect("read"));
    }

    #[test]
    fn configured_never_generates() {
        let dir = tempfile::tempdir().expect("tmp");
        let cfg = ServerConfig { data_dir: dir.path().to_path_buf(), ..ServerConfig::default() };
        let e = configured(&cfg).expect_err("no file");
        assert!(e.to_string().contains("no credentials file at"), "{e}");
        assert!(!dir.path().join("credentials.toml").exists());
    }

    #[test]
    fn exports_are_single_quoted() {
        let pair = KeyPair { access_key: "PSAK1".into(), secret_key: "it's $HOME".into() };
        assert_eq!(shell_exports(&pair), "export PSTOR_ACCESS_KEY='PSAK1'\nexport PSTOR_SECRET_KEY='it'\\''s $HOME'\n");
    }
}
