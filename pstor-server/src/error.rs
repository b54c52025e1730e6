//! The server's own errors (starting, configuration, administration);
//! errors of requests travel to clients as error frames instead.

use std::net::SocketAddr;
use std::path::PathBuf;

/// What can stop the server from starting or an admin command from working.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The configuration is wrong.
    #[error("configuration: {0}")]
    Config(String),
    /// The engine refused (the message says why).
    #[error(transparent)]
    Engine(#[from] pstor_core::Error),
    /// The data folder is held by another engine (a running server).
    #[error(
        "the data folder {0} is in use by another pstor engine (is pstor-server running? stop it first, or manage it \
         over the SDK ports)"
    )]
    InUse(PathBuf),
    /// A port could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file or the runtime could not be set up.
    #[error("{context}: {source}")]
    Io {
        /// What the server was doing.
        context: String,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// The credentials file is unusable.
    #[error("credentials: {0}")]
    Credentials(String),
    /// The metadata database cannot be opened or written.
    #[error(transparent)]
    Metadata(#[from] crate::meta::MetaError),
}

impl ServerError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        ServerError::Io { context: context.into(), source }
    }

    /// An engine error, with "in use" said in the server's words.
    pub(crate) fn engine(e: pstor_core::Error) -> Self {
        match e {
            pstor_core::Error::InUse(p) => ServerError::InUse(p),
            e => ServerError::Engine(e),
        }
    }
}
