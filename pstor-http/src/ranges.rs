//! What part of a file a request asks for and on which conditions (RFC
//! 9110 §13, §14): `Range` (one range is served as 206, several as the
//! whole file with 200, none satisfiable as 416), `If-Match`,
//! `If-Unmodified-Since`, `If-None-Match`, `If-Modified-Since` and
//! `If-Range`, evaluated in the RFC's order. Pure functions of the header
//! values.

use std::time::{Duration, SystemTime};

/// What a `Range` header asks of a file of a known length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeAsk {
    /// No (usable) range: the whole file.
    Whole,
    /// Bytes `first..=last`.
    Part {
        /// First byte.
        first: u64,
        /// Last byte (inclusive).
        last: u64,
    },
    /// Several ranges: served as the whole file (200), which RFC 9110
    /// allows; multipart answers help no player.
    Several,
    /// Byte ranges, none of which the file has: 416.
    Unsatisfiable,
}

/// Parses a `Range` header value for a file of `len` bytes. A header that
/// is not a well-formed `bytes=` range set is ignored (the whole file), as
/// RFC 9110 §14.2 says.
pub fn parse_range(value: &str, len: u64) -> RangeAsk {
    let Some(set) = value.trim().strip_prefix("bytes=").or_else(|| {
        let v = value.trim();
        v.get(..6).filter(|u| u.eq_ignore_ascii_case("bytes=")).map(|_| &v[6..])
    }) else {
        return RangeAsk::Whole;
    };
    let mut satisfiable: Vec<(u64, u64)> = Vec::new();
    let mut specs = 0usize;
    for spec in set.split(',') {
        let spec = spec.trim();
        if spec.is_empty() {
            continue;
        }
        specs += 1;
        let Some((a, b)) = spec.split_once('-') else { return RangeAsk::Whole };
        let num = |s: &str| -> Option<u64> {
            if s.is_empty() || s.len() > 19 || !s.bytes().all(|c| c.is_ascii_digit()) {
                None
            } else {
                s.parse().ok()
            }
        };
        let (a, b) = (a.trim(), b.trim());
        if a.is_empty() {
            // A suffix: the last `n` bytes.
            let Some(n) = num(b) else { return RangeAsk::Whole };
            if n > 0 && len > 0 {
                satisfiable.push((len - n.min(len), len - 1));
            }
            continue;
        }
        let Some(first) = num(a) else { return RangeAsk::Whole };
        let last = if b.is_empty() {
            u64::MAX
        } else {
            match num(b) {
                Some(l) if l >= first => l,
                _ => return RangeAsk::Whole,
            }
        };
        if first < len {
            satisfiable.push((first, last.min(len - 1)));
        }
    }
    match (specs, satisfiable.as_slice()) {
        (0, _) => RangeAsk::Whole,
        (_, []) => RangeAsk::Unsatisfiable,
        (1, [(first, last)]) => RangeAsk::Part { first: *first, last: *last },
        _ => RangeAsk::Several,
    }
}

/// The entity tags of an `If-Match` / `If-None-Match` list: `*`, or tags
/// with whether each is weak.
fn tags(value: &str) -> Option<Vec<(bool, &str)>> {
    let v = value.trim();
    if v == "*" {
        return None;
    }
    Some(
        v.split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| match t.strip_prefix("W/") {
                Some(rest) => (true, rest),
                None => (false, t),
            })
            .collect(),
    )
}

/// Whether `etag` (a strong tag, quotes included) is in the list, by the
/// strong comparison (`If-Match`, `If-Range`) or the weak one (`If-None-Match`).
pub fn tag_matches(list: &str, etag: &str, strong: bool) -> bool {
    match tags(list) {
        None => true,
        Some(ts) => ts.iter().any(|(weak, t)| *t == etag && !(strong && *weak)),
    }
}

/// An HTTP date (IMF-fixdate or the obsolete forms), to the second.
pub fn parse_date(value: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(value.trim()).ok()
}

/// A time as an HTTP date.
pub fn format_date(t: SystemTime) -> String {
    httpdate::fmt_http_date(t)
}

/// A µs UTC time as a `SystemTime` (before 1970: 1970).
pub fn system_time(us: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_micros(u64::try_from(us).unwrap_or(0))
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The conditional headers of a request (those present).
#[derive(Debug, Clone, Copy, Default)]
pub struct Conditions<'a> {
    /// `If-Match`.
    pub if_match: Option<&'a str>,
    /// `If-None-Match`.
    pub if_none_match: Option<&'a str>,
    /// `If-Modified-Since`.
    pub if_modified_since: Option<&'a str>,
    /// `If-Unmodified-Since`.
    pub if_unmodified_since: Option<&'a str>,
    /// `If-Range`.
    pub if_range: Option<&'a str>,
}

/// What the conditions say about answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Answer normally; `use_range`: honour the `Range` header (`If-Range`).
    Proceed {
        /// Whether a `Range` header applies.
        use_range: bool,
    },
    /// 304 Not Modified (GET and HEAD).
    NotModified,
    /// 412 Precondition Failed.
    Failed,
}

/// Evaluates the conditions against the file's validators, in RFC 9110
/// §13.2.2's order (`get_or_head`: the request is GET or HEAD).
pub fn evaluate(c: &Conditions<'_>, etag: &str, last_modified: SystemTime, get_or_head: bool) -> Verdict {
    let modified = secs(last_modified);
    if let Some(m) = c.if_match {
        if !tag_matches(m, etag, true) {
            return Verdict::Failed;
        }
    } else if let Some(d) = c.if_unmodified_since.and_then(parse_date) {
        if modified > secs(d) {
            return Verdict::Failed;
        }
    }
    if let Some(n) = c.if_none_match {
        if tag_matches(n, etag, false) {
            return if get_or_head { Verdict::NotModified } else { Verdict::Failed };
        }
    } else if let Some(d) = c.if_modified_since.and_then(parse_date) {
        if get_or_head && modified <= secs(d) {
            return Verdict::NotModified;
        }
    }
    let use_range = match c.if_range {
        None => true,
        Some(v) if v.trim_start().starts_with('"') || v.trim_start().starts_with("W/") => {
            // A weak tag never matches If-Range (strong comparison).
            !v.trim_start().starts_with("W/") && v.trim() == etag
        }
        Some(v) => parse_date(v).is_some_and(|d| secs(d) == modified),
    };
    Verdict::Proceed { use_range }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ranges_as_rfc_9110_reads_them() {
        let n = 1000;
        assert_eq!(parse_range("bytes=0-499", n), RangeAsk::Part { first: 0, last: 499 });
        assert_eq!(parse_range("bytes=500-", n), RangeAsk::Part { first: 500, last: 999 });
        assert_eq!(parse_range("bytes=900-5000", n), RangeAsk::Part { first: 900, last: 999 });
        assert_eq!(parse_range("bytes=-100", n), RangeAsk::Part { first: 900, last: 999 });
        assert_eq!(parse_range("bytes=-5000", n), RangeAsk::Part { first: 0, last: 999 });
        assert_eq!(parse_range("Bytes= 0-0 ", n), RangeAsk::Part { first: 0, last: 0 });
        assert_eq!(parse_range("bytes=1000-", n), RangeAsk::Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", n), RangeAsk::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,5-6", n), RangeAsk::Several);
        assert_eq!(parse_range("bytes=0-1,2000-", n), RangeAsk::Several);
        // Malformed: ignored.
        for bad in
            ["bytes=5-1", "bytes=a-b", "items=0-1", "bytes=", "bytes=--1", "bytes=1", "bytes=99999999999999999999-"]
        {
            assert_eq!(parse_range(bad, n), RangeAsk::Whole, "{bad}");
        }
    }

    #[test]
    fn conditions_in_the_rfcs_order() {
        let tag = "\"abc\"";
        let t = system_time(1_700_000_000_000_000);
        let date = format_date(t);
        let earlier = format_date(system_time(1_600_000_000_000_000));
        let run = |c: Conditions<'_>| evaluate(&c, tag, t, true);
        assert_eq!(run(Conditions::default()), Verdict::Proceed { use_range: true });
        assert_eq!(run(Conditions { if_none_match: Some("\"abc\""), ..Default::default() }), Verdict::NotModified);
        assert_eq!(
            run(Conditions { if_none_match: Some("W/\"abc\", \"x\""), ..Default::default() }),
            Verdict::NotModified
        );
        assert_eq!(run(Conditions { if_none_match: Some("*"), ..Default::default() }), Verdict::NotModified);
        assert_eq!(
            run(Conditions { if_none_match: Some("\"x\""), ..Default::default() }),
            Verdict::Proceed { use_range: true }
        );
        assert_eq!(run(Conditions { if_match: Some("\"x\""), ..Default::default() }), Verdict::Failed);
        assert_eq!(run(Conditions { if_match: Some("W/\"abc\""), ..Default::default() }), Verdict::Failed);
        assert_eq!(
            run(Conditions { if_match: Some("\"abc\""), ..Default::default() }),
            Verdict::Proceed { use_range: true }
        );
        assert_eq!(run(Conditions { if_modified_since: Some(&date), ..Default::default() }), Verdict::NotModified);
        assert_eq!(
            run(Conditions { if_modified_since: Some(&earlier), ..Default::default() }),
            Verdict::Proceed { use_range: true }
        );
        // If-None-Match wins over If-Modified-Since.
        assert_eq!(
            run(Conditions { if_none_match: Some("\"x\""), if_modified_since: Some(&date), ..Default::default() }),
            Verdict::Proceed { use_range: true }
        );
        assert_eq!(run(Conditions { if_unmodified_since: Some(&earlier), ..Default::default() }), Verdict::Failed);
        assert_eq!(
            run(Conditions { if_range: Some("\"abc\""), ..Default::default() }),
            Verdict::Proceed { use_range: true }
        );
        assert_eq!(
            run(Conditions { if_range: Some("\"old\""), ..Default::default() }),
            Verdict::Proceed { use_range: false }
        );
        assert_eq!(
            run(Conditions { if_range: Some("W/\"abc\""), ..Default::default() }),
            Verdict::Proceed { use_range: false }
        );
        assert_eq!(
            run(Conditions { if_range: Some(&date), ..Default::default() }),
            Verdict::Proceed { use_range: true }
        );
        assert_eq!(
            run(Conditions { if_range: Some(&earlier), ..Default::default() }),
            Verdict::Proceed { use_range: false }
        );
        assert_eq!(
            run(Conditions { if_range: Some("garbage"), ..Default::default() }),
            Verdict::Proceed { use_range: false }
        );
    }
}
