//! The handshake (docs/sdk-protocol.md §3): mutual HMAC-SHA256
//! challenge-response over an access key and a secret key. No secret, and
//! nothing from which one could be tried offline without a nonce of each
//! side, goes over the wire.
//!
//! 1. Server, on accept: `Hello { nonce, port, max_body, max_in_flight,
//!    server_version, process }` (frame kind event, op [`op::HELLO`],
//!    request id 0); `process` (revision 1.1, [`ServerProcess`]) is the
//!    server instance id and idle timeout.
//! 2. Client: `Auth { access_key, client_nonce, proof }` (kind request, op
//!    [`op::AUTH`]) where `proof = HMAC-SHA256(secret_key, "pstor-auth-v1" ||
//!    port || server_nonce || client_nonce || access_key)`.
//! 3. Server: `AuthOk { server_proof }` (kind reply, op AUTH) where
//!    `server_proof = HMAC-SHA256(secret_key, "pstor-server-v1" ||
//!    client_nonce || server_nonce)`, which the client checks: the server
//!    knows the secret too. Or an error frame `PSTOR_AUTH_FAILED`, and the
//!    server closes.
//!
//! The client author calls [`ClientHandshake::answer_frame`] on the first
//! frame and [`ClientHandshake::finish_frame`] on the second; the server
//! [`ServerHandshake::new`], [`ServerHandshake::hello_frame`] and
//! [`ServerHandshake::verify_frame`].

use crate::frame::{frame_bytes, Kind, RawFrame};
use crate::message::{decode_server_frame, ErrorReply, ServerMessage};
use crate::op::{self, Port};
use crate::wire::{from_body, to_body, Reader, Wire, Writer};
use crate::ProtoError;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use pstor_core::ErrorCode;
use rand::RngCore;
use sha2::Sha256;

/// Bytes of a nonce.
pub const NONCE_LEN: usize = 32;
/// Bytes of a proof (an HMAC-SHA256).
pub const PROOF_LEN: usize = 32;
/// Domain label of the client's proof.
pub const CLIENT_LABEL: &[u8] = b"pstor-auth-v1";
/// Domain label of the server's proof.
pub const SERVER_LABEL: &[u8] = b"pstor-server-v1";

type HmacSha256 = Hmac<Sha256>;

/// The server's first frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// Fresh random bytes for this connection.
    pub nonce: [u8; NONCE_LEN],
    /// Which port this is.
    pub port: Port,
    /// Largest frame body the server accepts (and sends).
    pub max_body: u32,
    /// Requests the server queues per connection before it stops reading.
    pub max_in_flight: u32,
    /// The server's name and version, e.g. `pstor-server 0.1.0`.
    pub server_version: String,
    /// The server process (protocol revision 1.1): its instance id and idle
    /// timeout. `None` from a server before 1.1, whose Hello ends after
    /// `server_version`.
    pub process: Option<ServerProcess>,
}

/// What a Hello of protocol revision 1.1 adds (docs/sdk-protocol.md §3):
/// which server process this is, and how long it lets a connection idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerProcess {
    /// The server instance id: random, drawn anew at every server start
    /// (never 0). Two connections whose Hellos carry the same id reach the
    /// same server process, hence the same engine and its unsynced data; a
    /// different id means the server restarted in between.
    pub instance: u64,
    /// The server's idle timeout in milliseconds: a connection with no
    /// request for this long is closed (error 705). A client that wants to
    /// keep one open pings it before then.
    pub idle_timeout_ms: u32,
}

impl ServerProcess {
    /// Bytes on the wire.
    pub const LEN: usize = 8 + 4;

    /// A new server process: a fresh random instance id (the operating
    /// system's generator, never 0) and the idle timeout it enforces
    /// (saturated to `u32::MAX` ms).
    pub fn start(idle_timeout: std::time::Duration) -> ServerProcess {
        let mut b = [0u8; 8];
        rand::rngs::OsRng.fill_bytes(&mut b);
        ServerProcess {
            instance: u64::from_le_bytes(b).max(1),
            idle_timeout_ms: u32::try_from(idle_timeout.as_millis()).unwrap_or(u32::MAX),
        }
    }

    /// The idle timeout.
    pub fn idle_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(u64::from(self.idle_timeout_ms))
    }
}

impl Wire for Hello {
    const MIN_LEN: usize = NONCE_LEN + 1 + 4 + 4 + 2;
    fn put(&self, w: &mut Writer) {
        w.raw(&self.nonce);
        w.u8(self.port.number());
        w.u32(self.max_body);
        w.u32(self.max_in_flight);
        w.str(&self.server_version);
        if let Some(p) = &self.process {
            w.u64(p.instance);
            w.u32(p.idle_timeout_ms);
        }
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        let nonce = r.array()?;
        let p = r.u8()?;
        let port = Port::from_number(p).ok_or_else(|| ProtoError::malformed(format!("port role {p}")))?;
        let (max_body, max_in_flight, server_version) = (r.u32()?, r.u32()?, r.str()?);
        // Revision 1.0 ends here; 1.1 adds the server process. Either is
        // exact (anything else is refused when the body is finished).
        let process = match r.remaining() {
            0 => None,
            _ => Some(ServerProcess { instance: r.u64()?, idle_timeout_ms: r.u32()? }),
        };
        Ok(Hello { nonce, port, max_body, max_in_flight, server_version, process })
    }
}

/// The client's answer to [`Hello`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    /// Which key pair.
    pub access_key: String,
    /// Fresh random bytes of the client.
    pub client_nonce: [u8; NONCE_LEN],
    /// [`client_proof`] with the secret key.
    pub proof: [u8; PROOF_LEN],
}

impl Wire for Auth {
    const MIN_LEN: usize = 2 + NONCE_LEN + PROOF_LEN;
    fn put(&self, w: &mut Writer) {
        w.str(&self.access_key);
        w.raw(&self.client_nonce);
        w.raw(&self.proof);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        Ok(Auth { access_key: r.str()?, client_nonce: r.array()?, proof: r.array()? })
    }
}

/// The server's acceptance, proving it holds the secret key too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthOk {
    /// [`server_proof`] with the secret key.
    pub server_proof: [u8; PROOF_LEN],
}

impl Wire for AuthOk {
    const MIN_LEN: usize = PROOF_LEN;
    fn put(&self, w: &mut Writer) {
        w.raw(&self.server_proof);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        Ok(AuthOk { server_proof: r.array()? })
    }
}

fn mac(secret: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length; the error case cannot happen.
    HmacSha256::new_from_slice(secret).unwrap_or_else(|_| HmacSha256::new(&Default::default()))
}

fn client_mac(secret: &[u8], port: Port, server_nonce: &[u8], client_nonce: &[u8], access_key: &str) -> HmacSha256 {
    let mut m = mac(secret);
    m.update(CLIENT_LABEL);
    m.update(&[port.number()]);
    m.update(server_nonce);
    m.update(client_nonce);
    m.update(access_key.as_bytes());
    m
}

fn server_mac(secret: &[u8], client_nonce: &[u8], server_nonce: &[u8]) -> HmacSha256 {
    let mut m = mac(secret);
    m.update(SERVER_LABEL);
    m.update(client_nonce);
    m.update(server_nonce);
    m
}

/// The client's proof: HMAC-SHA256(secret, "pstor-auth-v1" || port role
/// byte || server nonce || client nonce || access key).
pub fn client_proof(
    secret_key: &str,
    port: Port,
    server_nonce: &[u8; NONCE_LEN],
    client_nonce: &[u8; NONCE_LEN],
    access_key: &str,
) -> [u8; PROOF_LEN] {
    client_mac(secret_key.as_bytes(), port, server_nonce, client_nonce, access_key).finalize().into_bytes().into()
}

/// The server's proof: HMAC-SHA256(secret, "pstor-server-v1" || client
/// nonce || server nonce).
pub fn server_proof(
    secret_key: &str,
    client_nonce: &[u8; NONCE_LEN],
    server_nonce: &[u8; NONCE_LEN],
) -> [u8; PROOF_LEN] {
    server_mac(secret_key.as_bytes(), client_nonce, server_nonce).finalize().into_bytes().into()
}

/// Fresh random bytes from the operating system's generator.
pub fn nonce() -> [u8; NONCE_LEN] {
    let mut n = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut n);
    n
}

/// The server's side of one connection's handshake.
#[derive(Debug, Clone)]
pub struct ServerHandshake {
    hello: Hello,
}

impl ServerHandshake {
    /// A handshake with a fresh nonce, whose Hello has no server process
    /// (revision 1.0); see [`ServerHandshake::with_process`].
    pub fn new(port: Port, server_version: &str, max_body: u32, max_in_flight: u32) -> Self {
        ServerHandshake {
            hello: Hello {
                nonce: nonce(),
                port,
                max_body,
                max_in_flight,
                server_version: server_version.to_owned(),
                process: None,
            },
        }
    }

    /// The same handshake with the server process in its Hello (revision
    /// 1.1): what pstor-server sends.
    pub fn with_process(mut self, process: ServerProcess) -> Self {
        self.hello.process = Some(process);
        self
    }

    /// What the server says first.
    pub fn hello(&self) -> &Hello {
        &self.hello
    }

    /// The `Hello` frame to send on accept.
    pub fn hello_frame(&self) -> Bytes {
        // A Hello is under 100 bytes plus the version string: it fits.
        frame_bytes(Kind::Event, op::HELLO, 0, &to_body(&self.hello), u32::MAX).unwrap_or_default()
    }

    /// Checks the client's `Auth`; `secret_for` gives the secret key of an
    /// access key. An unknown access key costs the same HMAC as a known
    /// one (a dummy secret), and the proof is compared in constant time.
    pub fn verify(&self, auth: &Auth, secret_for: impl FnOnce(&str) -> Option<String>) -> Result<AuthOk, ProtoError> {
        let h = &self.hello;
        let secret = secret_for(&auth.access_key);
        let known = secret.is_some();
        let key = secret.unwrap_or_else(|| String::from_utf8_lossy(&nonce()).into_owned());
        let ok = client_mac(key.as_bytes(), h.port, &h.nonce, &auth.client_nonce, &auth.access_key)
            .verify_slice(&auth.proof)
            .is_ok();
        if !(known && ok) {
            return Err(ProtoError::AuthFailed("unknown access key or wrong secret key".into()));
        }
        Ok(AuthOk { server_proof: server_proof(&key, &auth.client_nonce, &h.nonce) })
    }

    /// Decodes the client's `Auth` frame and verifies it. Success: the
    /// access key and the `AuthOk` frame to send. Failure: the error to
    /// answer with (as an error frame, [`ErrorReply::to_frame`]) before
    /// closing.
    pub fn verify_frame(
        &self,
        frame: &RawFrame,
        secret_for: impl FnOnce(&str) -> Option<String>,
    ) -> Result<(String, Bytes), ProtoError> {
        let h = &frame.header;
        if h.kind != Kind::Request || h.op != op::AUTH {
            return Err(ProtoError::AuthFailed(format!(
                "expected the handshake's auth request, got a {} frame of op {:#06x}",
                h.kind.name(),
                h.op
            )));
        }
        let auth: Auth = from_body(&frame.body)?;
        let ok = self.verify(&auth, secret_for)?;
        let bytes = frame_bytes(Kind::Reply, op::AUTH, h.request_id, &to_body(&ok), u32::MAX)?;
        Ok((auth.access_key, bytes))
    }
}

/// The client's side of the handshake.
#[derive(Debug, Clone)]
pub struct ClientHandshake {
    access_key: String,
    secret_key: String,
    expected: Option<([u8; NONCE_LEN], Hello)>,
}

impl ClientHandshake {
    /// A handshake with these credentials.
    pub fn new(access_key: impl Into<String>, secret_key: impl Into<String>) -> Self {
        ClientHandshake { access_key: access_key.into(), secret_key: secret_key.into(), expected: None }
    }

    /// The answer to `hello` (with a fresh client nonce, remembered to check
    /// the server's proof).
    pub fn answer(&mut self, hello: &Hello) -> Auth {
        let client_nonce = nonce();
        let proof = client_proof(&self.secret_key, hello.port, &hello.nonce, &client_nonce, &self.access_key);
        self.expected = Some((client_nonce, hello.clone()));
        Auth { access_key: self.access_key.clone(), client_nonce, proof }
    }

    /// Checks the server's proof (in constant time); success gives the
    /// server's `Hello` (its limits).
    pub fn finish(&self, ok: &AuthOk) -> Result<Hello, ProtoError> {
        let Some((client_nonce, hello)) = &self.expected else {
            return Err(ProtoError::AuthFailed("AuthOk before Hello".into()));
        };
        if server_mac(self.secret_key.as_bytes(), client_nonce, &hello.nonce).verify_slice(&ok.server_proof).is_err() {
            return Err(ProtoError::AuthFailed(
                "the server's proof is wrong: it does not hold this secret key (wrong server?)".into(),
            ));
        }
        Ok(hello.clone())
    }

    /// Takes the server's first frame and gives the `Auth` frame to send.
    /// An error frame instead of `Hello` (the server is busy) comes back as
    /// that error; `port` is the port the caller meant to reach (a server
    /// answering as the other one is an error).
    pub fn answer_frame(&mut self, frame: &RawFrame, port: Port) -> Result<Bytes, pstor_core::Error> {
        let hello = match decode_server_frame(frame)? {
            ServerMessage::Hello(h) => h,
            ServerMessage::Error(e) => return Err(e.into_error()),
            _ => return Err(ProtoError::UnexpectedKind { expected: "hello", got: frame.header.kind.name() }.into()),
        };
        if hello.port != port {
            return Err(pstor_core::Error::Remote {
                code: ErrorCode::Protocol,
                message: format!("connected to the {} port, expected the {} port", hello.port.name(), port.name()),
            });
        }
        let auth = self.answer(&hello);
        Ok(frame_bytes(Kind::Request, op::AUTH, 0, &to_body(&auth), hello.max_body)?)
    }

    /// Takes the server's answer to `Auth`: `AuthOk` (checked) gives the
    /// server's `Hello`; an error frame gives its error
    /// (`PSTOR_AUTH_FAILED`).
    pub fn finish_frame(&self, frame: &RawFrame) -> Result<Hello, pstor_core::Error> {
        match decode_server_frame(frame)? {
            ServerMessage::AuthOk(ok) => Ok(self.finish(&ok)?),
            ServerMessage::Error(e) => Err(e.into_error()),
            _ => Err(ProtoError::UnexpectedKind { expected: "auth reply", got: frame.header.kind.name() }.into()),
        }
    }
}

/// The error frame a server sends when authentication fails.
pub fn auth_failed_frame(e: &ProtoError) -> Bytes {
    ErrorReply::new(ErrorCode::AuthFailed, e.to_string()).to_frame(op::AUTH, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::decode_frame;
    use std::time::Duration;

    fn frame(b: &Bytes) -> RawFrame {
        decode_frame(b, u32::MAX).expect("decodes").expect("complete").0
    }

    fn keys(k: &str) -> Option<String> {
        (k == "AK1").then(|| "secret-1".to_string())
    }

    #[test]
    fn good_handshake_both_ways() {
        let server = ServerHandshake::new(Port::Data, "pstor-server test", 1 << 20, 8);
        let mut client = ClientHandshake::new("AK1", "secret-1");
        let auth = client.answer_frame(&frame(&server.hello_frame()), Port::Data).expect("answer");
        let (key, ok) = server.verify_frame(&frame(&auth), keys).expect("verified");
        assert_eq!(key, "AK1");
        let hello = client.finish_frame(&frame(&ok)).expect("server proof checks");
        assert_eq!((hello.max_body, hello.max_in_flight), (1 << 20, 8));
    }

    /// A 1.1 Hello carries the server process, byte for byte as in
    /// docs/sdk-protocol.md §3; a 1.0 Hello (without it) still decodes.
    #[test]
    fn hello_carries_the_server_process() {
        let process = ServerProcess { instance: 0x0102_0304_0506_0708, idle_timeout_ms: 1500 };
        let server = ServerHandshake::new(Port::Data, "v", 1 << 20, 8).with_process(process);
        let body = frame(&server.hello_frame()).body;
        let n = NONCE_LEN + 1 + 4 + 4 + 2 + 1;
        assert_eq!(body.len(), n + ServerProcess::LEN);
        assert_eq!(&body[n..n + 8], &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(&body[n + 8..], &1500u32.to_le_bytes());
        let mut client = ClientHandshake::new("AK1", "secret-1");
        let auth = client.answer_frame(&frame(&server.hello_frame()), Port::Data).expect("answer");
        let (_, ok) = server.verify_frame(&frame(&auth), keys).expect("verified");
        let hello = client.finish_frame(&frame(&ok)).expect("ok");
        assert_eq!(hello.process, Some(process));
        assert_eq!(hello.process.map(|p| p.idle_timeout()), Some(std::time::Duration::from_millis(1500)));
        let old: Hello =
            from_body(&frame(&ServerHandshake::new(Port::Data, "v", 1, 1).hello_frame()).body).expect("1.0");
        assert_eq!(old.process, None);
        // Anything but the two layouts is refused.
        let mut cut = body.to_vec();
        cut.pop();
        assert!(from_body::<Hello>(&Bytes::from(cut)).is_err());
        let mut long = body.to_vec();
        long.push(0);
        assert!(from_body::<Hello>(&Bytes::from(long)).is_err());
        // Instance ids are random and never 0.
        let (a, b) = (ServerProcess::start(Duration::from_secs(2)), ServerProcess::start(Duration::from_secs(2)));
        assert!(a.instance != b.instance && a.instance != 0 && a.idle_timeout_ms == 2000);
    }

    #[test]
    fn wrong_secret_or_unknown_key_fails() {
        let server = ServerHandshake::new(Port::Signalling, "t", 1 << 20, 8);
        for (ak, sk) in [("AK1", "wrong"), ("AK2", "secret-1"), ("", "")] {
            let auth = ClientHandshake::new(ak, sk).answer(server.hello());
            assert!(matches!(server.verify(&auth, keys), Err(ProtoError::AuthFailed(_))), "{ak}/{sk}");
        }
    }

    #[test]
    fn proofs_bind_both_nonces_port_and_key() {
        let (s, c) = ([1u8; 32], [2u8; 32]);
        let p = client_proof("k", Port::Data, &s, &c, "AK");
        assert_ne!(p, client_proof("k", Port::Signalling, &s, &c, "AK"));
        assert_ne!(p, client_proof("k", Port::Data, &[3; 32], &c, "AK"));
        assert_ne!(p, client_proof("k", Port::Data, &s, &[3; 32], "AK"));
        assert_ne!(p, client_proof("k", Port::Data, &s, &c, "AK2"));
        // A replayed Auth fails against a new connection's nonce.
        let first = ServerHandshake::new(Port::Data, "t", 1, 1);
        let auth = ClientHandshake::new("AK1", "secret-1").answer(first.hello());
        assert!(first.verify(&auth, keys).is_ok());
        let second = ServerHandshake::new(Port::Data, "t", 1, 1);
        assert!(second.verify(&auth, keys).is_err());
    }

    #[test]
    fn client_refuses_a_server_without_the_secret() {
        let server = ServerHandshake::new(Port::Data, "t", 1, 1);
        let mut client = ClientHandshake::new("AK1", "secret-1");
        let auth = client.answer(server.hello());
        let forged = AuthOk { server_proof: server_proof("other", &auth.client_nonce, &server.hello().nonce) };
        assert!(matches!(client.finish(&forged), Err(ProtoError::AuthFailed(_))));
        let good = server.verify(&auth, keys).expect("ok");
        assert!(client.finish(&good).is_ok());
    }

    #[test]
    fn busy_server_and_wrong_port_are_reported() {
        let busy = ErrorReply::new(ErrorCode::Busy, "too many connections").to_frame(0, 0);
        let err = ClientHandshake::new("a", "b").answer_frame(&frame(&busy), Port::Data).expect_err("busy");
        assert_eq!(err.code(), ErrorCode::Busy);
        let s = ServerHandshake::new(Port::Signalling, "t", 1, 1);
        let err = ClientHandshake::new("a", "b").answer_frame(&frame(&s.hello_frame()), Port::Data).expect_err("port");
        assert_eq!(err.code(), ErrorCode::Protocol);
    }
}
