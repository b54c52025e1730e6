//! Serving an axum router over HTTP/1.1 and HTTP/2, in plain TCP or TLS:
//! the accept loop every HTTP port shares (management 6060, playback
//! 6038/6039), with a cap on connections, a handshake and header timeout,
//! and the client's address put into each request
//! ([`crate::manage::auth::PeerAddr`]).

use crate::manage::auth::PeerAddr;
use axum::extract::Request;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tower::ServiceExt;

/// Time a client has for its TLS handshake and for each request's headers.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until `stop`, at most `max_connections`
/// at once (more wait in the kernel's backlog); `port` names the service
/// in logs.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    max_connections: usize,
    port: &'static str,
    mut stop: watch::Receiver<bool>,
) {
    let conns = Arc::new(Semaphore::new(max_connections));
    loop {
        let permit = tokio::select! {
            _ = crate::conn::wait_shutdown(&mut stop) => break,
            p = Arc::clone(&conns).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            _ = crate::conn::wait_shutdown(&mut stop) => break,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((stream, peer)) => {
                let (router, acceptor) = (router.clone(), acceptor.clone());
                tokio::spawn(async move {
                    serve_connection(stream, peer, router, acceptor, port).await;
                    drop(permit);
                });
            }
            Err(e) => {
                tracing::warn!(port, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    tracing::info!(port, "stopped accepting connections");
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    router: Router,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    port: &'static str,
) {
    let _ = stream.set_nodelay(true);
    let ip = peer.ip();
    let svc = tower::service_fn(move |mut req: Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(PeerAddr(ip));
        router.clone().oneshot(req)
    });
    let svc = hyper_util::service::TowerToHyperService::new(svc);
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(HANDSHAKE_TIMEOUT);
    builder.http2().timer(TokioTimer::new()).max_concurrent_streams(64);
    let served = match acceptor {
        Some(a) => match tokio::time::timeout(HANDSHAKE_TIMEOUT, a.accept(stream)).await {
            Ok(Ok(tls)) => builder.serve_connection(TokioIo::new(tls), svc).await,
            Ok(Err(e)) => {
                tracing::debug!(%peer, port, error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, port, "TLS handshake timed out");
                return;
            }
        },
        None => builder.serve_connection(TokioIo::new(stream), svc).await,
    };
    if let Err(e) = served {
        tracing::debug!(%peer, port, error = %e, "connection ended with an error");
    }
}
