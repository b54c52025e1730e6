//! Address restrictions (manual 3.8.7, "client authorization IP segment"):
//! optional lists of client address ranges allowed on the management port
//! and on the SDK ports. An empty list allows every address (the default);
//! authentication is required either way.

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An address range: `10.1.0.0/16`, `192.168.1.7` (one address),
/// `fd00::/8`. An IPv4 range also matches the IPv4-mapped IPv6 form of its
/// addresses (`::ffff:10.1.2.3`, what a dual-stack socket reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    net: IpAddr,
    prefix: u8,
}

impl IpRange {
    /// Whether `ip` is in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                masked(u32::from(n).into(), 32, self.prefix) == masked(u32::from(a).into(), 32, self.prefix)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                masked(u128::from(n), 128, self.prefix) == masked(u128::from(a), 128, self.prefix)
            }
            _ => false,
        }
    }
}

fn masked(bits: u128, width: u8, prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        bits >> (width - prefix)
    }
}

impl FromStr for IpRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (addr, prefix) = s.split_once('/').map_or((s, None), |(a, p)| (a, Some(p)));
        let net: IpAddr = addr.parse().map_err(|_| format!("{s:?} is not an address or range like 10.1.0.0/16"))?;
        let width = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => width,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|&p| p <= width)
                .ok_or_else(|| format!("{s:?}: the prefix length must be 0 to {width}"))?,
        };
        Ok(IpRange { net, prefix })
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.net, self.prefix)
    }
}

impl Serialize for IpRange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IpRange {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The stored section (`access`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccessLists {
    /// Who may use the management port (6060); empty = everyone.
    pub management: Vec<IpRange>,
    /// Who may use the SDK ports (6036/6037); empty = everyone.
    pub sdk: Vec<IpRange>,
    /// Who may use the playback ports (6038/6039); empty = everyone.
    pub playback: Vec<IpRange>,
}

/// The lists in force, shared by every listener.
#[derive(Debug, Default)]
pub struct AccessControl {
    lists: RwLock<AccessLists>,
}

/// Which listener asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// The management port.
    Management,
    /// The SDK ports.
    Sdk,
    /// The playback and download ports.
    Playback,
}

impl AccessControl {
    /// With these lists.
    pub fn new(lists: AccessLists) -> Self {
        AccessControl { lists: RwLock::new(lists) }
    }

    /// Whether `ip` may use `service`.
    pub fn allows(&self, service: Service, ip: IpAddr) -> bool {
        let g = self.lists.read();
        let list = match service {
            Service::Management => &g.management,
            Service::Sdk => &g.sdk,
            Service::Playback => &g.playback,
        };
        list.is_empty() || list.iter().any(|r| r.contains(ip))
    }

    /// The lists in force.
    pub fn lists(&self) -> AccessLists {
        self.lists.read().clone()
    }

    /// Puts new lists in force.
    pub fn set(&self, lists: AccessLists) {
        *self.lists.write() = lists;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn ranges_match_their_addresses_only() {
        let r: IpRange = "10.1.0.0/16".parse().expect("range");
        assert!(r.contains(ip("10.1.200.3")) && !r.contains(ip("10.2.0.1")));
        assert!(r.contains(ip("::ffff:10.1.2.3")), "IPv4-mapped");
        let one: IpRange = "192.168.1.7".parse().expect("address");
        assert_eq!(one.to_string(), "192.168.1.7/32");
        assert!(one.contains(ip("192.168.1.7")) && !one.contains(ip("192.168.1.8")));
        let all: IpRange = "0.0.0.0/0".parse().expect("all v4");
        assert!(all.contains(ip("8.8.8.8")) && !all.contains(ip("::1")));
        let v6: IpRange = "fd00::/8".parse().expect("v6");
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        for bad in ["10.0.0.0/33", "::/129", "host", "10.0.0.0/x", ""] {
            assert!(bad.parse::<IpRange>().is_err(), "{bad}");
        }
    }

    #[test]
    fn empty_lists_allow_everyone() {
        let ac = AccessControl::default();
        assert!(ac.allows(Service::Sdk, ip("203.0.113.9")));
        ac.set(AccessLists {
            management: vec!["127.0.0.1".parse().expect("r")],
            sdk: Vec::new(),
            playback: Vec::new(),
        });
        assert!(ac.allows(Service::Management, ip("127.0.0.1")));
        assert!(!ac.allows(Service::Management, ip("127.0.0.2")));
        assert!(ac.allows(Service::Sdk, ip("127.0.0.2")));
        let json = serde_json::to_string(&ac.lists()).expect("json");
        assert_eq!(json, r#"{"management":["127.0.0.1/32"],"sdk":[],"playback":[]}"#);
    }
}
