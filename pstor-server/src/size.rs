//! Byte sizes as operators write them: `512MiB`, `2GiB`, `1TB`, `1.5TiB`,
//! or a plain number of bytes.

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;
use std::str::FromStr;

/// A number of bytes, parsed from `N[.F][unit]`: units `B`, `K`/`KB`
/// (1000), `KiB` (1024), `M`/`MB`, `MiB`, `G`/`GB`, `GiB`, `T`/`TB`, `TiB`,
/// case-insensitive; at most 3 decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct ByteSize(pub u64);

const UNITS: &[(&str, u64)] = &[
    ("b", 1),
    ("k", 1000),
    ("kb", 1000),
    ("kib", 1 << 10),
    ("m", 1_000_000),
    ("mb", 1_000_000),
    ("mib", 1 << 20),
    ("g", 1_000_000_000),
    ("gb", 1_000_000_000),
    ("gib", 1 << 30),
    ("t", 1_000_000_000_000),
    ("tb", 1_000_000_000_000),
    ("tib", 1 << 40),
];

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let unit = unit.trim().to_ascii_lowercase();
        let mult =
            if unit.is_empty() {
                1
            } else {
                UNITS.iter().find(|(u, _)| *u == unit).map(|(_, m)| *m).ok_or_else(|| {
                    format!("{s:?}: unknown unit {unit:?} (use B, KB, KiB, MB, MiB, GB, GiB, TB or TiB)")
                })?
            };
        let (int, frac) = num.split_once('.').unwrap_or((num, ""));
        if int.is_empty() || frac.len() > 3 || !frac.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!("{s:?} is not a size (e.g. 512MiB, 2GiB, 1.5TB)"));
        }
        let int: u64 = int.parse().map_err(|_| format!("{s:?} is not a size (e.g. 512MiB, 2GiB, 1.5TB)"))?;
        let scale = 10u64.pow(frac.len() as u32);
        let frac: u64 = if frac.is_empty() { 0 } else { frac.parse().map_err(|_| format!("{s:?}: bad decimals"))? };
        let total = int
            .checked_mul(mult)
            .and_then(|v| v.checked_add(u64::try_from(frac as u128 * mult as u128 / scale as u128).ok()?))
            .ok_or_else(|| format!("{s:?} is too large"))?;
        Ok(ByteSize(total))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        for (unit, m) in [("TiB", 1u64 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
            if v >= m {
                return if v.is_multiple_of(m) {
                    write!(f, "{}{unit}", v / m)
                } else {
                    write!(f, "{:.2}{unit}", v as f64 / m as f64)
                };
            }
        }
        write!(f, "{v}B")
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size: a number of bytes or a string such as \"512MiB\" or \"2TB\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v).map(ByteSize).map_err(|_| E::custom("a size cannot be negative"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators_sizes_parse() {
        let p = |s: &str| s.parse::<ByteSize>().map(|b| b.0);
        assert_eq!(p("512MiB"), Ok(512 << 20));
        assert_eq!(p("2GiB"), Ok(2 << 30));
        assert_eq!(p("1TB"), Ok(1_000_000_000_000));
        assert_eq!(p("1.5 TiB"), Ok(3 << 39));
        assert_eq!(p("4096"), Ok(4096));
        assert_eq!(p("64kib"), Ok(64 << 10));
        for bad in ["", "MiB", "1.2345GB", "12XB", "-1GB", "1..2GB", "99999999999TiB"] {
            assert!(p(bad).is_err(), "{bad}");
        }
        assert_eq!(ByteSize(3 << 30).to_string(), "3GiB");
        assert_eq!(ByteSize(1536 << 20).to_string(), "1.50GiB");
    }
}
