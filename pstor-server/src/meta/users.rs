//! Accounts, sessions and API tokens as stored. Passwords are kept as
//! Argon2id hashes (PHC strings with their own salt and parameters);
//! session and API tokens as SHA-256 hashes, so the database never holds
//! anything that logs in.

use super::{MetaDb, MetaError};
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::Rng;
use rusqlite::{params, OptionalExtension};
use sha2::{Digest, Sha256};

/// The administrator (manual 3.2), created on first start.
pub const ADMIN: &str = "admin";

/// A stored account.
#[derive(Debug, Clone)]
pub struct UserRow {
    /// Its name.
    pub name: String,
    /// Argon2id PHC string.
    pub hash: String,
    /// The password is one-time (or reset): sessions may only change it.
    pub must_change: bool,
    /// When the password was last set (µs).
    pub changed_at: i64,
}

/// A stored session.
#[derive(Debug, Clone)]
pub struct SessionRow {
    /// SHA-256 of the cookie's token.
    pub token_hash: [u8; 32],
    /// Whose.
    pub user: String,
    /// The CSRF token state-changing requests must carry.
    pub csrf: String,
    /// Logged in with a must-change password.
    pub must_change: bool,
    /// Created (µs).
    pub created_at: i64,
    /// Last request (µs; written at most once a minute).
    pub last_seen: i64,
    /// The address it logged in from.
    pub ip: String,
}

/// An API token as listed (the token itself is shown once, at creation).
#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenRow {
    /// Its id.
    pub id: i64,
    /// What the admin called it.
    pub name: String,
    /// Whose rights it has.
    pub user: String,
    /// Created (µs).
    pub created_at: i64,
    /// Last used (µs), if ever.
    pub last_used: Option<i64>,
}

/// SHA-256 of a token.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// `n` random bytes as lowercase hex.
pub fn random_hex(n: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..n).map(|_| format!("{:02x}", rng.gen::<u8>())).collect()
}

/// A random one-time password: 16 characters from an alphabet without
/// look-alikes, always with letters and digits.
pub fn one_time_password() -> String {
    const LETTERS: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
    const DIGITS: &[u8] = b"23456789";
    let mut rng = rand::thread_rng();
    let mut pick = |set: &[u8]| set[rng.gen_range(0..set.len())] as char;
    let mut pw: String = (0..14).map(|i| if i % 3 == 2 { pick(DIGITS) } else { pick(LETTERS) }).collect();
    pw.push(pick(DIGITS));
    pw.push(pick(LETTERS));
    pw
}

/// The password rules (manual 3.3.1, and what a serious product needs):
/// 8 to 128 characters, at least two of lowercase letters, uppercase
/// letters, digits and other characters. The error says the rule.
pub fn check_password_rules(pw: &str) -> Result<(), String> {
    let n = pw.chars().count();
    let classes = [
        pw.chars().any(|c| c.is_lowercase()),
        pw.chars().any(|c| c.is_uppercase()),
        pw.chars().any(|c| c.is_ascii_digit()),
        pw.chars().any(|c| !c.is_alphanumeric()),
    ]
    .iter()
    .filter(|&&b| b)
    .count();
    if !(8..=128).contains(&n) || classes < 2 {
        return Err(format!(
            "a password needs 8 to 128 characters and at least two kinds of characters among lowercase letters, \
             uppercase letters, digits and symbols (this one has {n} characters of {classes} kind{})",
            if classes == 1 { "" } else { "s" }
        ));
    }
    Ok(())
}

/// Hashes a password with Argon2id (a fresh random salt). Costly by
/// design (~19 MiB, tens of milliseconds): call it off the async runtime.
pub fn hash_password(pw: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    match Argon2::default().hash_password(pw.as_bytes(), &salt) {
        Ok(h) => h.to_string(),
        // Only a salt or output of a wrong length fails; ours are right.
        Err(e) => unreachable!("argon2 with default parameters failed: {e}"),
    }
}

/// Whether `pw` matches a stored hash (a malformed hash matches nothing).
pub fn verify_password(hash: &str, pw: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(pw.as_bytes(), &h).is_ok())
}

fn user_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<UserRow> {
    Ok(UserRow { name: r.get(0)?, hash: r.get(1)?, must_change: r.get(2)?, changed_at: r.get(3)? })
}

fn session_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<SessionRow> {
    let hash: Vec<u8> = r.get(0)?;
    let token_hash = <[u8; 32]>::try_from(hash.as_slice()).unwrap_or([0; 32]);
    Ok(SessionRow {
        token_hash,
        user: r.get(1)?,
        csrf: r.get(2)?,
        must_change: r.get(3)?,
        created_at: r.get(4)?,
        last_seen: r.get(5)?,
        ip: r.get(6)?,
    })
}

impl MetaDb {
    /// An account.
    pub fn user(&self, name: &str) -> Result<Option<UserRow>, MetaError> {
        self.with(|c| {
            c.query_row("SELECT name, hash, must_change, changed_at FROM users WHERE name = ?1", [name], user_from)
                .optional()
        })
    }

    /// Creates `admin` with a one-time password when there is no account
    /// yet; returns that password (to be written to the data folder).
    pub fn ensure_admin(&self) -> Result<Option<String>, MetaError> {
        if self.user(ADMIN)?.is_some() {
            return Ok(None);
        }
        let pw = one_time_password();
        let hash = hash_password(&pw);
        let created = self.with(|c| {
            c.execute(
                "INSERT OR IGNORE INTO users (name, hash, must_change, changed_at) VALUES (?1, ?2, 1, ?3)",
                params![ADMIN, hash, super::now_us()],
            )
        })?;
        Ok((created == 1).then_some(pw))
    }

    /// Sets a password (hash already made) and whether it must change.
    pub fn set_password(&self, name: &str, hash: &str, must_change: bool) -> Result<(), MetaError> {
        self.with(|c| {
            c.execute(
                "UPDATE users SET hash = ?2, must_change = ?3, changed_at = ?4 WHERE name = ?1",
                params![name, hash, must_change, super::now_us()],
            )
            .map(drop)
        })
    }

    /// Every session (loaded at start).
    pub fn sessions(&self) -> Result<Vec<SessionRow>, MetaError> {
        self.with(|c| {
            let mut st =
                c.prepare("SELECT token_hash, user, csrf, must_change, created_at, last_seen, ip FROM sessions")?;
            let rows = st.query_map([], session_from)?.collect();
            rows
        })
    }

    /// Stores a new session.
    pub fn insert_session(&self, s: &SessionRow) -> Result<(), MetaError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO sessions (token_hash, user, csrf, must_change, created_at, last_seen, ip)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![&s.token_hash[..], s.user, s.csrf, s.must_change, s.created_at, s.last_seen, s.ip],
            )
            .map(drop)
        })
    }

    /// Records a session's last request.
    pub fn touch_session(&self, token_hash: &[u8; 32], last_seen: i64) -> Result<(), MetaError> {
        self.with(|c| {
            c.execute("UPDATE sessions SET last_seen = ?2 WHERE token_hash = ?1", params![&token_hash[..], last_seen])
                .map(drop)
        })
    }

    /// Removes sessions: one (`Some`) or all of a user's.
    pub fn delete_sessions(&self, token_hash: Option<&[u8; 32]>, user: &str) -> Result<(), MetaError> {
        self.with(|c| {
            match token_hash {
                Some(h) => c.execute("DELETE FROM sessions WHERE token_hash = ?1", [&h[..]]),
                None => c.execute("DELETE FROM sessions WHERE user = ?1", [user]),
            }
            .map(drop)
        })
    }

    /// Stores an API token's hash; its id.
    pub fn insert_token(&self, name: &str, hash: &[u8; 32], user: &str) -> Result<i64, MetaError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO api_tokens (name, token_hash, user, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![name, &hash[..], user, super::now_us()],
            )?;
            Ok(c.last_insert_rowid())
        })
    }

    /// The API tokens, oldest first.
    pub fn tokens(&self) -> Result<Vec<TokenRow>, MetaError> {
        self.with(|c| {
            let mut st = c.prepare("SELECT id, name, user, created_at, last_used FROM api_tokens ORDER BY id")?;
            let rows = st
                .query_map([], |r| {
                    Ok(TokenRow {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        user: r.get(2)?,
                        created_at: r.get(3)?,
                        last_used: r.get(4)?,
                    })
                })?
                .collect();
            rows
        })
    }

    /// The token with this hash (its id and user), marked used now.
    pub fn use_token(&self, hash: &[u8; 32]) -> Result<Option<(i64, String)>, MetaError> {
        self.with(|c| {
            let found = c
                .query_row("SELECT id, user FROM api_tokens WHERE token_hash = ?1", [&hash[..]], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            if let Some((id, _)) = &found {
                c.execute("UPDATE api_tokens SET last_used = ?2 WHERE id = ?1", params![id, super::now_us()])?;
            }
            Ok(found)
        })
    }

    /// Revokes a token; whether it existed.
    pub fn delete_token(&self, id: i64) -> Result<bool, MetaError> {
        self.with(|c| c.execute("DELETE FROM api_tokens WHERE id = ?1", [id]).map(|n| n == 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_rules_say_what_they_want() {
        assert!(check_password_rules("abcdefg1").is_ok());
        assert!(check_password_rules("Abcdefgh").is_ok());
        assert!(check_password_rules("abc!efgh").is_ok());
        let e = check_password_rules("abcdefgh").expect_err("one class");
        assert!(e.contains("at least two kinds") && e.contains("1 kind)"), "{e}");
        let e = check_password_rules("aB1").expect_err("short");
        assert!(e.contains("8 to 128") && e.contains("3 characters"), "{e}");
        assert!(check_password_rules(&"aB".repeat(65)).is_err());
        for _ in 0..20 {
            let pw = one_time_password();
            assert!(check_password_rules(&pw).is_ok(), "{pw}");
        }
    }

    #[test]
    fn hashes_verify_only_their_password() {
        let h = hash_password("Secret-one");
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password(&h, "Secret-one"));
        assert!(!verify_password(&h, "Secret-two"));
        assert!(!verify_password("not a hash", "Secret-one"));
        assert_ne!(h, hash_password("Secret-one"), "salted");
    }

    #[test]
    fn the_admin_is_created_once_with_a_one_time_password() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = MetaDb::open(dir.path()).expect("open");
        let pw = db.ensure_admin().expect("create").expect("a new password");
        assert!(db.ensure_admin().expect("again").is_none());
        let u = db.user(ADMIN).expect("read").expect("exists");
        assert!(u.must_change && verify_password(&u.hash, &pw));
        let t = db.insert_token("script", &token_hash("pst_x"), ADMIN).expect("token");
        assert_eq!(db.use_token(&token_hash("pst_x")).expect("use"), Some((t, ADMIN.to_string())));
        assert!(db.tokens().expect("list")[0].last_used.is_some());
        assert!(db.delete_token(t).expect("delete") && !db.delete_token(t).expect("again"));
        assert_eq!(db.use_token(&token_hash("pst_x")).expect("use"), None);
    }
}
