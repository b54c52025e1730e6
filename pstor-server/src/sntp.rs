//! SNTP (RFC 4330) for the NTP setting of the manual (3.8): pstor asks a
//! time server how far this host's clock is off and reports it (in the
//! API and the log). It does not set the clock: that is the host's time
//! service's job (chrony, systemd-timesyncd), which has the right to.
//!
//! The codec is pure and checks every reply field it relies on; the query
//! is one UDP exchange with a timeout.

use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::time::Duration;

/// Seconds from 1900-01-01 (NTP's epoch) to 1970-01-01.
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;
/// The packet length without extensions.
pub const PACKET_LEN: usize = 48;

/// A 32.32 fixed-point NTP timestamp.
pub type NtpTime = u64;

/// µs since 1970 as an NTP timestamp.
pub fn ntp_from_us(us: i64) -> NtpTime {
    let us = u64::try_from(us).unwrap_or(0);
    let secs = us / 1_000_000 + NTP_UNIX_OFFSET;
    // Rounded up, so that converting back (rounding down) gives `us` again.
    let frac = ((us % 1_000_000) << 32).div_ceil(1_000_000);
    (secs << 32) | frac
}

/// An NTP timestamp as µs since 1970.
pub fn us_from_ntp(t: NtpTime) -> i64 {
    let secs = (t >> 32).saturating_sub(NTP_UNIX_OFFSET);
    let frac_us = ((t & 0xffff_ffff) * 1_000_000) >> 32;
    i64::try_from(secs * 1_000_000 + frac_us).unwrap_or(i64::MAX)
}

/// A client request: version 4, mode 3, our transmit time.
pub fn request(transmit: NtpTime) -> [u8; PACKET_LEN] {
    let mut p = [0u8; PACKET_LEN];
    p[0] = 4 << 3 | 3;
    p[40..48].copy_from_slice(&transmit.to_be_bytes());
    p
}

/// The fields of a reply that matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    /// Leap indicator (3: the server's clock is not synchronized).
    pub leap: u8,
    /// Protocol version.
    pub version: u8,
    /// 4 = server.
    pub mode: u8,
    /// 1 (primary) to 15; 0 is a kiss-o'-death.
    pub stratum: u8,
    /// Our request's transmit time, echoed.
    pub originate: NtpTime,
    /// When the server received the request.
    pub receive: NtpTime,
    /// When it sent the reply.
    pub transmit: NtpTime,
}

/// Why a reply is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SntpError {
    /// Too short.
    #[error("the reply is {0} bytes, an NTP packet has 48")]
    Short(usize),
    /// Not a server's reply, or a version we do not speak.
    #[error("not an NTP server reply (version {version}, mode {mode})")]
    NotAReply {
        /// Version.
        version: u8,
        /// Mode.
        mode: u8,
    },
    /// Kiss-o'-death or an unsynchronized server.
    #[error("the server's clock is not usable (stratum {stratum}, leap indicator {leap}{kiss})")]
    Unsynchronized {
        /// Stratum.
        stratum: u8,
        /// Leap indicator.
        leap: u8,
        /// The kiss code, if any.
        kiss: String,
    },
    /// The reply does not answer our request.
    #[error("the reply does not answer this request (its originate timestamp differs)")]
    Mismatch,
    /// No reply, or the network failed.
    #[error("{0}")]
    Network(String),
}

/// Decodes a reply's fixed fields.
pub fn decode(b: &[u8]) -> Result<Reply, SntpError> {
    if b.len() < PACKET_LEN {
        return Err(SntpError::Short(b.len()));
    }
    let u64_at =
        |i: usize| u64::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4], b[i + 5], b[i + 6], b[i + 7]]);
    Ok(Reply {
        leap: b[0] >> 6,
        version: (b[0] >> 3) & 7,
        mode: b[0] & 7,
        stratum: b[1],
        originate: u64_at(24),
        receive: u64_at(32),
        transmit: u64_at(40),
    })
}

/// What one exchange measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Measurement {
    /// Server clock minus ours, µs (positive: ours is behind).
    pub offset_us: i64,
    /// Round-trip delay, µs.
    pub delay_us: i64,
    /// The server's stratum.
    pub stratum: u8,
}

/// The offset and delay of an exchange sent at `t1` and answered at `t4`
/// (our clock, µs), after checking the reply.
pub fn measure(raw: &[u8], t1: NtpTime, t4_us: i64) -> Result<Measurement, SntpError> {
    let r = decode(raw)?;
    if !(3..=4).contains(&r.version) || r.mode != 4 {
        return Err(SntpError::NotAReply { version: r.version, mode: r.mode });
    }
    if r.stratum == 0 || r.stratum > 15 || r.leap == 3 {
        let kiss = if r.stratum == 0 {
            let code: String = raw[12..16].iter().filter(|c| c.is_ascii_alphanumeric()).map(|&c| c as char).collect();
            format!(", kiss code {code:?}")
        } else {
            String::new()
        };
        return Err(SntpError::Unsynchronized { stratum: r.stratum, leap: r.leap, kiss });
    }
    if r.originate != t1 || r.transmit == 0 {
        return Err(SntpError::Mismatch);
    }
    let (t1, t2, t3, t4) = (us_from_ntp(t1), us_from_ntp(r.receive), us_from_ntp(r.transmit), t4_us);
    let offset_us = ((t2 - t1) + (t3 - t4)) / 2;
    let delay_us = ((t4 - t1) - (t3 - t2)).max(0);
    Ok(Measurement { offset_us, delay_us, stratum: r.stratum })
}

/// Asks `host:port` once (blocking, at most `timeout`).
pub fn query(host: &str, port: u16, timeout: Duration) -> Result<Measurement, SntpError> {
    let net = |what: &str, e: std::io::Error| SntpError::Network(format!("{what} {host}:{port}: {e}"));
    let addr: SocketAddr = (host, port)
        .to_socket_addrs()
        .map_err(|e| net("resolving", e))?
        .next()
        .ok_or_else(|| SntpError::Network(format!("{host} has no address")))?;
    let local: SocketAddr = if addr.is_ipv4() { "0.0.0.0:0".parse() } else { "[::]:0".parse() }
        .map_err(|_| SntpError::Network("no local address".into()))?;
    let sock = UdpSocket::bind(local).map_err(|e| net("opening a socket for", e))?;
    sock.set_read_timeout(Some(timeout)).map_err(|e| net("setting a timeout for", e))?;
    sock.connect(addr).map_err(|e| net("reaching", e))?;
    let t1 = ntp_from_us(crate::meta::now_us());
    sock.send(&request(t1)).map_err(|e| net("sending to", e))?;
    let mut buf = [0u8; 512];
    let n = sock.recv(&mut buf).map_err(|e| match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            SntpError::Network(format!("{host}:{port} did not answer within {} s", timeout.as_secs()))
        }
        _ => net("receiving from", e),
    })?;
    measure(&buf[..n], t1, crate::meta::now_us())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reply as a server would send it.
    fn reply(originate: NtpTime, receive: NtpTime, transmit: NtpTime, stratum: u8) -> [u8; PACKET_LEN] {
        let mut p = [0u8; PACKET_LEN];
        p[0] = 4 << 3 | 4;
        p[1] = stratum;
        p[24..32].copy_from_slice(&originate.to_be_bytes());
        p[32..40].copy_from_slice(&receive.to_be_bytes());
        p[40..48].copy_from_slice(&transmit.to_be_bytes());
        p
    }

    #[test]
    fn timestamps_round_trip_to_the_microsecond() {
        for us in [0i64, 1_700_000_000_123_456, 1_796_000_000_999_999] {
            assert_eq!(us_from_ntp(ntp_from_us(us)), us, "{us}");
        }
        assert_eq!(request(7)[0], 0x23);
    }

    #[test]
    fn offset_and_delay_from_the_four_times() {
        // We send at 1000 s, the server (2 s ahead) receives 10 ms later and
        // answers 1 ms after; we get it 21 ms after sending.
        let s = 1_000_000_000i64;
        let t1 = ntp_from_us(s);
        let p = reply(t1, ntp_from_us(s + 2_000_000 + 10_000), ntp_from_us(s + 2_000_000 + 11_000), 2);
        let m = measure(&p, t1, s + 21_000).expect("usable");
        assert!((m.offset_us - 2_000_000).abs() <= 1, "{m:?}");
        assert!((m.delay_us - 20_000).abs() <= 1, "{m:?}");
    }

    #[test]
    fn unusable_replies_are_refused_with_the_reason() {
        let t1 = ntp_from_us(5_000_000);
        assert_eq!(measure(&[0u8; 10], t1, 0), Err(SntpError::Short(10)));
        let mut kod = reply(t1, t1, t1, 0);
        kod[12..16].copy_from_slice(b"RATE");
        assert!(measure(&kod, t1, 0).expect_err("kiss").to_string().contains("RATE"));
        assert_eq!(measure(&reply(t1 + 1, t1, t1, 2), t1, 0), Err(SntpError::Mismatch));
        let mut client = reply(t1, t1, t1, 2);
        client[0] = 4 << 3 | 3;
        assert!(matches!(measure(&client, t1, 0), Err(SntpError::NotAReply { .. })));
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_decode_or_fail_cleanly(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..100), t1 in 0u64.., t4 in 0i64..) {
            let _ = measure(&bytes, t1, t4);
        }
    }

    #[test]
    fn a_real_udp_exchange_with_a_local_responder() {
        let server = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let port = server.local_addr().expect("addr").port();
        let t = std::thread::spawn(move || {
            let mut b = [0u8; 48];
            let (_, from) = server.recv_from(&mut b).expect("request");
            let originate = u64::from_be_bytes(b[40..48].try_into().expect("8 bytes"));
            let now = ntp_from_us(crate::meta::now_us() + 1_500_000);
            server.send_to(&reply(originate, now, now, 3), from).expect("reply");
        });
        let m = query("127.0.0.1", port, Duration::from_secs(5)).expect("measured");
        t.join().expect("responder");
        assert!((m.offset_us - 1_500_000).abs() < 100_000, "{m:?}");
        let silent = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let e = query("127.0.0.1", silent.local_addr().expect("addr").port(), Duration::from_millis(300))
            .expect_err("no answer");
        assert!(e.to_string().contains("did not answer"), "{e}");
    }
}
