//! Signed links: a URL a player without a cookie can fetch until it
//! expires. The query carries `exp` (Unix seconds), `key` (the access key
//! whose secret signed it, or [`SERVER_KEY`] for links this server hands
//! out) and, last, `sig`: the hex HMAC-SHA256, under that secret, of the
//! path and query exactly as sent up to `&sig=` (percent-encoding
//! included), e.g. `/api/v1/streams/7/view.mp4?start=...&end=...&exp=1767225600&key=AK...`.
//! A VMS holding an SDK key pair (manual 3.8.5) signs links itself,
//! without asking the server.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The `key` of links signed with this server's own key
/// (`<data_dir>/playback.key`); no access key has this form.
pub const SERVER_KEY: &str = "~server";

/// The server's signing key's file in the data folder.
pub const KEY_FILE: &str = "playback.key";

/// Why a signed link is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// The signature, key or form is wrong.
    #[error("{0}")]
    Bad(String),
    /// It expired.
    #[error("the link expired at {0} (Unix seconds): ask for a new one")]
    Expired(i64),
}

/// The hex HMAC-SHA256 of `message` under `secret`.
pub fn sign(secret: &[u8], message: &str) -> String {
    // HMAC takes keys of any length: new_from_slice cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| <Hmac<Sha256> as Mac>::new(&Default::default()));
    mac.update(message.as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// `path_and_query` (which has a query) with `exp`, `key` and `sig` appended.
pub fn signed(path_and_query: &str, key: &str, secret: &[u8], expires: i64) -> String {
    let sep = if path_and_query.contains('?') { '&' } else { '?' };
    let unsigned = format!("{path_and_query}{sep}exp={expires}&key={}", encode(key));
    let sig = sign(secret, &unsigned);
    format!("{unsigned}&sig={sig}")
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
pub fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Undoes percent-encoding (and `+` for a space) of a query value; `None`
/// when the result is not UTF-8 or an escape is malformed.
pub fn percent_decode(v: &str) -> Option<String> {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(h, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// A link's signature parts, if its query has them: the signed message,
/// `exp`, `key` and `sig`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkParts {
    /// What was signed: path and query up to `&sig=`.
    pub message: String,
    /// Expiry, Unix seconds.
    pub expires: i64,
    /// The key id.
    pub key: String,
    /// The signature (hex).
    pub sig: String,
}

/// The signature parts of a request (`None`: not a signed request, no
/// `sig`). A `sig` that is not the last parameter, or a missing or
/// malformed `exp`/`key`, is an error.
pub fn parts(path: &str, query: Option<&str>) -> Result<Option<LinkParts>, LinkError> {
    let Some(q) = query else { return Ok(None) };
    let pairs: Vec<(&str, &str)> = q.split('&').map(|kv| kv.split_once('=').unwrap_or((kv, ""))).collect();
    let Some(sig_at) = pairs.iter().position(|(k, _)| *k == "sig") else { return Ok(None) };
    // An HLS player adds its blocking-reload parameters (`_HLS_msn`, ...)
    // to a playlist's URL: after the signature, and not signed.
    let after_ok = pairs[sig_at + 1..].iter().all(|(k, _)| k.starts_with("_HLS_"));
    if !after_ok || sig_at == 0 {
        return Err(LinkError::Bad("sig must be the last parameter of a signed link, after exp and key".into()));
    }
    let signed_query = &q[..q.find("&sig=").ok_or_else(|| LinkError::Bad("malformed sig".into()))?];
    let one = |name: &str| -> Result<String, LinkError> {
        let mut found = pairs[..sig_at].iter().filter(|(k, _)| *k == name);
        match (found.next(), found.next()) {
            (Some((_, v)), None) => {
                percent_decode(v).ok_or_else(|| LinkError::Bad(format!("{name} is not valid percent-encoded UTF-8")))
            }
            (None, _) => Err(LinkError::Bad(format!("a signed link needs {name}"))),
            _ => Err(LinkError::Bad(format!("{name} appears twice"))),
        }
    };
    let expires = one("exp")?.parse::<i64>().map_err(|_| LinkError::Bad("exp must be Unix seconds".into()))?;
    Ok(Some(LinkParts {
        message: format!("{path}?{signed_query}"),
        expires,
        key: one("key")?,
        sig: pairs[sig_at].1.to_ascii_lowercase(),
    }))
}

/// Checks a link's signature with `secret` (the key's) at `now` (Unix
/// seconds), refusing lifetimes beyond `max_secs` from now.
pub fn verify(p: &LinkParts, secret: &[u8], now: i64, max_secs: i64) -> Result<(), LinkError> {
    let want = sign(secret, &p.message);
    if !crate::manage::auth::same(want.as_bytes(), p.sig.as_bytes()) {
        return Err(LinkError::Bad("the link's signature does not match (signed with another key, or changed)".into()));
    }
    if now > p.expires {
        return Err(LinkError::Expired(p.expires));
    }
    if p.expires - now > max_secs {
        return Err(LinkError::Bad(format!(
            "the link is valid for {} s; links may live at most {max_secs} s (playback.link_max_hours)",
            p.expires - now
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_link_verifies_and_any_change_breaks_it() {
        let url = signed("/api/v1/streams/7/view.mp4?start=1&end=2", "AK1", b"secret", 2000);
        let (path, query) = url.split_once('?').expect("a query");
        let p = parts(path, Some(query)).expect("parts").expect("signed");
        assert_eq!((p.key.as_str(), p.expires), ("AK1", 2000));
        assert_eq!(verify(&p, b"secret", 1000, 3600), Ok(()));
        assert!(matches!(verify(&p, b"other", 1000, 3600), Err(LinkError::Bad(_))));
        assert_eq!(verify(&p, b"secret", 2001, 3600), Err(LinkError::Expired(2000)));
        assert!(matches!(verify(&p, b"secret", 1000, 500), Err(LinkError::Bad(m)) if m.contains("at most")));
        let changed = query.replace("end=2", "end=3");
        let q = parts(path, Some(&changed)).expect("parts").expect("signed");
        assert!(verify(&q, b"secret", 1000, 3600).is_err());
        let other_path = parts("/api/v1/streams/8/view.mp4", Some(query)).expect("parts").expect("signed");
        assert!(verify(&other_path, b"secret", 1000, 3600).is_err());
        // A player's _HLS_ parameters after the signature are not signed.
        let reload = format!("{query}&_HLS_msn=12");
        let r = parts(path, Some(&reload)).expect("parts").expect("signed");
        assert_eq!(verify(&r, b"secret", 1000, 3600), Ok(()));
        assert!(parts(path, Some(&format!("{query}&end=9"))).is_err(), "nothing else after sig");
        // The server's key id is percent-encoded in the query and decoded back.
        let s = signed("/x?a=1", SERVER_KEY, b"k", 5);
        assert!(s.contains("key=~server"));
    }

    #[test]
    fn malformed_signed_queries_are_refused_and_unsigned_ones_are_not_links() {
        assert_eq!(parts("/p", None), Ok(None));
        assert_eq!(parts("/p", Some("start=1&end=2")), Ok(None));
        for q in [
            "sig=ab",
            "exp=1&sig=ab&key=x",
            "exp=x&key=k&sig=ab",
            "key=k&sig=ab",
            "exp=1&exp=2&key=k&sig=ab",
            "exp=1&key=%ZZ&sig=ab",
        ] {
            assert!(parts("/p", Some(q)).is_err(), "{q}");
        }
    }
}
