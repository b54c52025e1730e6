//! # pstor-client
//!
//! What the pstor SDKs hold instead of an engine: an `Arc<dyn` [`Backend`]`>`.
//! The C SDK (`pstor-ffi`), its C++ face (`pstor-cxx`) and the Python
//! package (`pstor-py`) make every call through the [`Backend`] trait, so
//! the same handles and calls work whichever backend sits behind them:
//!
//! - **embedded**: the engine in this process, [`pstor_core::Engine`],
//!   opened on a data folder by [`open_local`];
//! - **remote**: a client of a `pstor-server`, opened by [`connect`] with
//!   the server's address and keys ([`RemoteOptions`]), speaking the SDK
//!   protocol (ports 6036/6037). See [`remote`] for its connections,
//!   pipelined appends, durability contract and what it does not offer.
//!
//! ```
//! use pstor_client::{open_local, Backend};
//! use pstor_core::*;
//! # fn main() -> Result<()> {
//! # let tmp = tempfile::tempdir().unwrap();
//! let mut opts = EngineOptions::new(tmp.path().join("engine"));
//! opts.min_space_capacity = 1 << 20; // tiny spaces, for the example
//! opts.segment_size = 256 << 10;
//! let backend = open_local(opts)?;
//! std::fs::create_dir(tmp.path().join("space1")).unwrap();
//! let spec = SpaceSpec { path: tmp.path().join("space1"), capacity: 4 << 20, segment_size: None };
//! let space = backend.initialize_space(spec)?.wait()?;
//! assert_eq!(backend.spaces()?[0].id, space);
//! backend.close()?;
//! assert_eq!(backend.spaces().unwrap_err().code(), ErrorCode::Closed);
//! # Ok(()) }
//! ```
//!
//! It is **not** an engine of its own and adds no behaviour: the embedded
//! backend is `pstor_core::Engine` itself, behind the trait, and the remote
//! one forwards each call to the server's engine. Nothing here is async; a
//! remote backend blocks the calling thread like the engine's own calls do
//! (`std::net`, no runtime, no threads of its own).

pub mod backend;
pub mod remote;

pub use backend::{open_local, Backend, FrameStream, SpaceJobHandle};
pub use remote::{connect, RemoteOptions};
