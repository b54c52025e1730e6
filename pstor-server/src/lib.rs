//! # pstor-server
//!
//! The standalone pstor service: the engine behind the SDK ports of the
//! manual (6036 signalling, 6037 data), speaking the protocol of
//! `pstor-proto` (`docs/sdk-protocol.md`). Operators run the binary
//! (`pstor-server run`, `docs/server.md`); tests and benches start it
//! in-process:
//!
//! ```no_run
//! use pstor_server::{Server, ServerConfig};
//! # fn main() -> Result<(), pstor_server::ServerError> {
//! let mut cfg = ServerConfig::default(); // the embedded default, in ./pstor-data
//! cfg.listen.bind = "127.0.0.1".parse().expect("address");
//! cfg.listen.signalling_port = 0; // any free port
//! cfg.listen.data_port = 0;
//! let server = Server::start(cfg)?;
//! println!("signalling {} data {}", server.signalling_addr(), server.data_addr());
//! server.shutdown()?; // graceful: the engine closes clean
//! # Ok(()) }
//! ```
//!
//! Threads: tokio (two workers) runs the accept loops and each
//! connection's socket reader and writer; each connection has an executor
//! thread that makes its engine calls, in order; the engine does its disk
//! I/O on its own threads. No disk I/O runs on the async runtime.
//!
//! The web management service (6060, [`manage`]) is a third listener on
//! the same runtime, over the same engine, with the metadata database
//! ([`meta`]: users, sessions, settings, the log). Playback and download
//! ([`playback`], 6038 signalling and 6039 data) are two more HTTP(S)
//! listeners beside it; the picture ports (6011/6120) come later.

pub mod access;
pub mod admin;
mod buffers;
pub mod config;
mod conn;
pub mod credentials;
mod dispatch;
mod error;
mod events;
pub mod http;
mod jobs;
pub mod keyfile;
pub mod local_time;
pub mod logging;
pub mod manage;
pub mod meta;
pub mod metrics;
pub mod playback;
pub mod provision;
pub mod recording;
pub mod server;
pub mod shares;
pub mod size;
pub mod sntp;
pub mod volumes;

pub use config::ServerConfig;
pub use error::ServerError;
pub use server::{RunningServer, Server};
pub use size::ByteSize;
