//! The running server: the engine, the two accept loops on a tokio
//! runtime, and the graceful shutdown.

use crate::access::{AccessControl, AccessLists, Service};
use crate::buffers::BufferPool;
use crate::config::ServerConfig;
use crate::conn::{self, ConnShared};
use crate::credentials::{KeyRing, KeyStore};
use crate::dispatch::Context;
use crate::error::ServerError;
use crate::events::EventWatch;
use crate::jobs::Jobs;
use crate::manage::{self, ServicePorts};
use crate::meta::logs::{LogLevel, LogLimits};
use crate::meta::MetaDb;
use crate::provision;
use crate::shares::Shares;
use pstor_core::Engine;
use pstor_proto::{Port, ServerProcess};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::runtime::Runtime;
use tokio::sync::{watch, Semaphore};
use tracing::{error, info, warn};

/// Exit status of the process when a second signal cuts a graceful
/// shutdown short.
pub const SECOND_SIGNAL_EXIT: i32 = 130;

/// Starts servers.
#[derive(Debug)]
pub struct Server;

impl Server {
    /// Opens the engine (provisioning spaces and pools: the embedded
    /// default or the configuration's), loads the keys, binds both ports and
    /// starts serving on a runtime of its own. Call it from outside any
    /// async runtime. The bound addresses are also written to
    /// `<data_dir>/ports`.
    pub fn start(config: ServerConfig) -> Result<RunningServer, ServerError> {
        config.validate()?;
        let keys = KeyStore::load(&config)?;
        // Network shares first: the spaces on them then open Normal.
        let db = Arc::new(MetaDb::open(&config.data_dir)?);
        let shares = Arc::new(Shares::new(&config.data_dir));
        shares.mount_all(&db);
        let engine = provision::open(&config)?;
        Self::serve(&config, keys, engine.clone(), db, shares).inspect_err(|_| {
            let _ = engine.close();
        })
    }

    fn serve(
        cfg: &ServerConfig,
        keys: KeyStore,
        engine: Engine,
        db: Arc<MetaDb>,
        shares: Arc<Shares>,
    ) -> Result<RunningServer, ServerError> {
        let keys = Arc::new(KeyRing::new(keys, cfg));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("pstor-net")
            .enable_all()
            .build()
            .map_err(|e| ServerError::io("starting the network runtime", e))?;
        let bind = |port: u16| -> Result<std::net::TcpListener, ServerError> {
            let addr = SocketAddr::new(cfg.listen.bind, port);
            let l = std::net::TcpListener::bind(addr).map_err(|source| ServerError::Bind { addr, source })?;
            l.set_nonblocking(true).map_err(|source| ServerError::Bind { addr, source })?;
            Ok(l)
        };
        let listeners =
            [(Port::Signalling, bind(cfg.listen.signalling_port)?), (Port::Data, bind(cfg.listen.data_port)?)];
        let addr =
            |l: &std::net::TcpListener| l.local_addr().map_err(|e| ServerError::io("reading a bound address", e));
        let (signalling, data) = (addr(&listeners[0].1)?, addr(&listeners[1].1)?);
        let log_limits =
            LogLimits { max_entries: cfg.management.log_max_entries, max_age_days: cfg.management.log_max_age_days };
        db.prune_logs(log_limits)?;
        let access = Arc::new(AccessControl::new(db.setting::<AccessLists>(manage::api::ACCESS_SETTING)?));
        let events = EventWatch::start(&engine, Some((Arc::clone(&db), log_limits)))
            .map_err(|e| ServerError::io("starting the event thread", e))?;
        let limits = cfg.limits.clone();
        let recording = crate::recording::Recording::start(
            engine.clone(),
            runtime.handle().clone(),
            Arc::clone(&db),
            &cfg.data_dir,
            cfg.recording.options(),
        )?;
        let ctx = Arc::new(Context {
            engine,
            jobs: Jobs::default(),
            events,
            max_body: limits.max_body(),
            read_batch: limits.read_batch.0 as usize,
            stopping: AtomicBool::new(false),
            in_progress: AtomicUsize::new(0),
            metrics: crate::metrics::ServerMetrics::default(),
            recording,
        });
        let management = if cfg.management.enabled {
            let ports = ServicePorts { signalling, data, management: None };
            Some(manage::prepare(
                cfg,
                Arc::clone(&ctx),
                Arc::clone(&db),
                Arc::clone(&access),
                Arc::clone(&keys),
                Arc::clone(&shares),
                ports,
            )?)
        } else {
            None
        };
        let management_addr = management.as_ref().and_then(|m| m.state.ports.management);
        let management_state = management.as_ref().map(|m| Arc::clone(&m.state));
        let playback = if cfg.playback.enabled {
            Some(crate::playback::prepare(
                cfg,
                Arc::clone(&ctx),
                management_state.clone(),
                Arc::clone(&access),
                Arc::clone(&keys),
            )?)
        } else {
            None
        };
        let bound = |l: &std::net::TcpListener| l.local_addr().ok();
        let playback_addrs = playback.as_ref().and_then(|p| bound(&p.signalling).zip(bound(&p.data)));
        let shared = Arc::new(ConnShared {
            ctx,
            access,
            keys,
            buffers: BufferPool::new(usize::try_from(limits.receive_pool.0).unwrap_or(usize::MAX)),
            process: ServerProcess::start(limits.idle_timeout()),
            limits,
            server_version: format!("pstor-server {}", env!("CARGO_PKG_VERSION")),
        });
        let max_connections = shared.limits.max_connections;
        let conns = Arc::new(Semaphore::new(max_connections as usize));
        let (stop_tx, stop_rx) = watch::channel(false);
        {
            let _rt = runtime.enter();
            for (port, l) in listeners {
                let l = TcpListener::from_std(l).map_err(|e| ServerError::io("registering a listener", e))?;
                runtime.spawn(accept_loop(l, port, Arc::clone(&shared), Arc::clone(&conns), stop_rx.clone()));
            }
            runtime.spawn(crate::shares::keep_mounted(shares, Arc::clone(&db), stop_rx.clone()));
            if let Some(m) = management {
                let l = TcpListener::from_std(m.listener).map_err(|e| ServerError::io("registering a listener", e))?;
                runtime.spawn(manage::backups::schedule(Arc::clone(&m.state), stop_rx.clone()));
                runtime.spawn(manage::ntp::schedule(Arc::clone(&m.state), stop_rx.clone()));
                runtime.spawn(manage::accept_loop(l, m.state, stop_rx.clone()));
            }
            if let Some(p) = playback {
                crate::playback::spawn(p, &runtime, &stop_rx)?;
            }
        }
        let ports = provision::ports_file(&cfg.data_dir);
        let mut lines = format!("signalling={signalling}\ndata={data}\n");
        if let Some(m) = management_addr {
            lines.push_str(&format!("management={m}\n"));
        }
        if let Some((s, d)) = playback_addrs {
            lines.push_str(&format!("playback={s}\nplayback_data={d}\n"));
        }
        std::fs::write(&ports, lines).map_err(|e| ServerError::io(format!("writing {}", ports.display()), e))?;
        info!(
            %signalling,
            %data,
            keys = shared.keys.len(),
            max_connections,
            "listening (SDK signalling and data ports; every connection must authenticate)"
        );
        if let Some(addr) = management_addr {
            let scheme = if cfg.management.plain_http { "http" } else { "https" };
            info!(%addr, url = %format!("{scheme}://{addr}/api/v1"), "management service listening (log in as admin)");
        }
        if let Some((s, d)) = playback_addrs {
            info!(signalling = %s, data = %d, "playback and download listening (sessions, API tokens or signed links)");
        }
        let started = format!("service started (pstor-server {})", env!("CARGO_PKG_VERSION"));
        db.system_log(LogLevel::Info, &started, "ok", log_limits);
        Ok(RunningServer {
            runtime: Some(runtime),
            shared,
            conns,
            max_connections,
            stop: stop_tx,
            signalling,
            data,
            management: management_addr,
            management_state,
            playback: playback_addrs,
            db,
            log_limits,
        })
    }
}

async fn accept_loop(
    listener: TcpListener,
    port: Port,
    shared: Arc<ConnShared>,
    conns: Arc<Semaphore>,
    stop: watch::Receiver<bool>,
) {
    let mut stopped = stop.clone();
    loop {
        tokio::select! {
            _ = conn::wait_shutdown(&mut stopped) => break,
            r = listener.accept() => match r {
                Ok((_, peer)) if !shared.access.allows(Service::Sdk, peer.ip()) => {
                    warn!(%peer, port = port.name(), "connection refused: the address is not in the SDK ports' allowed ranges");
                }
                Ok((stream, peer)) => match Arc::clone(&conns).try_acquire_owned() {
                    Ok(permit) => {
                        let gauge = shared.ctx.metrics.sdk_connections.clone();
                        gauge.inc();
                        let served = conn::serve(stream, peer, port, Arc::clone(&shared), permit, stop.clone());
                        tokio::spawn(async move {
                            served.await;
                            gauge.dec();
                        });
                    }
                    Err(_) => {
                        let max = shared.limits.max_connections;
                        warn!(%peer, port = port.name(), max, "connection refused: at max_connections");
                        tokio::spawn(conn::refuse(stream, max));
                    }
                },
                Err(e) => {
                    // Out of file descriptors and the like: do not spin.
                    warn!(port = port.name(), error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
    info!(port = port.name(), "stopped accepting connections");
}

/// A server that is serving. [`RunningServer::shutdown`] stops it
/// gracefully; dropping it does the same.
#[derive(Debug)]
pub struct RunningServer {
    runtime: Option<Runtime>,
    shared: Arc<ConnShared>,
    conns: Arc<Semaphore>,
    max_connections: u32,
    stop: watch::Sender<bool>,
    signalling: SocketAddr,
    data: SocketAddr,
    management: Option<SocketAddr>,
    management_state: Option<Arc<manage::State>>,
    playback: Option<(SocketAddr, SocketAddr)>,
    db: Arc<MetaDb>,
    log_limits: LogLimits,
}

impl RunningServer {
    /// Where the management service listens (None when disabled).
    pub fn management_addr(&self) -> Option<SocketAddr> {
        self.management
    }

    /// Where the playback signalling (6038) and data (6039) ports listen
    /// (None when disabled).
    pub fn playback_addrs(&self) -> Option<(SocketAddr, SocketAddr)> {
        self.playback
    }

    /// The management service's router, for in-process requests (tests:
    /// `tower::ServiceExt::oneshot`, with a `manage::auth::PeerAddr`
    /// extension saying who calls). None when the service is disabled.
    pub fn management_router(&self) -> Option<axum::Router> {
        self.management_state.as_ref().map(|s| manage::router(Arc::clone(s)))
    }

    /// The metadata database.
    pub fn metadata(&self) -> &Arc<MetaDb> {
        &self.db
    }

    /// Where the signalling port listens.
    pub fn signalling_addr(&self) -> SocketAddr {
        self.signalling
    }

    /// Where the data port listens.
    pub fn data_addr(&self) -> SocketAddr {
        self.data
    }

    /// The address of a port.
    pub fn addr(&self, port: Port) -> SocketAddr {
        match port {
            Port::Signalling => self.signalling,
            Port::Data => self.data,
        }
    }

    /// The engine it serves.
    pub fn engine(&self) -> &Engine {
        &self.shared.ctx.engine
    }

    /// Connections open now.
    pub fn connections(&self) -> usize {
        (self.max_connections as usize).saturating_sub(self.conns.available_permits())
    }

    /// Requests being executed now, over all connections (a long poll or a
    /// range read counts until its last frame is queued).
    pub fn requests_in_progress(&self) -> usize {
        self.shared.ctx.in_progress.load(Ordering::SeqCst)
    }

    /// Graceful shutdown: stop accepting; let the requests already received
    /// finish (at most `shutdown_grace`; range reads and event polls stop
    /// early); sync everything and close the engine, which leaves the
    /// clean-shutdown marker (the next start scans nothing).
    pub fn shutdown(mut self) -> Result<(), ServerError> {
        self.stop_now()
    }

    /// Serves until SIGTERM or SIGINT, then shuts down gracefully; a second
    /// signal during the shutdown exits the process at once with status
    /// [`SECOND_SIGNAL_EXIT`]. `ready` runs once the signal handlers are in
    /// place (the binary prints its `listening` line there).
    pub fn run_until_signal(self, ready: impl FnOnce(&RunningServer)) -> Result<(), ServerError> {
        use tokio::signal::unix::{signal, SignalKind};
        let Some(rt) = self.runtime.as_ref() else { return Ok(()) };
        let (mut term, mut int) = {
            let _rt = rt.enter();
            let io = |e| ServerError::io("installing the signal handlers", e);
            (signal(SignalKind::terminate()).map_err(io)?, signal(SignalKind::interrupt()).map_err(io)?)
        };
        ready(&self);
        let which = rt.block_on(async {
            tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            }
        });
        info!(signal = which, "shutting down gracefully (a second SIGTERM or SIGINT exits at once)");
        rt.spawn(async move {
            let second = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            error!(signal = second, "second signal: exiting at once, without a clean shutdown");
            std::process::exit(SECOND_SIGNAL_EXIT);
        });
        self.shutdown()
    }

    fn stop_now(&mut self) -> Result<(), ServerError> {
        let Some(rt) = self.runtime.take() else { return Ok(()) };
        let ctx = &self.shared.ctx;
        info!(connections = self.connections(), "shutting down: no new connections, finishing requests in progress");
        self.stop.send_replace(true);
        ctx.stopping.store(true, Ordering::SeqCst);
        ctx.events.stop();
        // Cameras first: their writers sync what they wrote.
        ctx.recording.shutdown();
        let grace = self.shared.limits.shutdown_grace();
        let all_done =
            rt.block_on(async { tokio::time::timeout(grace, self.conns.acquire_many(self.max_connections)).await });
        if all_done.is_err() {
            warn!(
                connections = self.connections(),
                grace_secs = grace.as_secs(),
                "connections still busy after the grace period: closing the engine under them"
            );
        }
        self.db.system_log(LogLevel::Info, "service stopping (graceful shutdown)", "ok", self.log_limits);
        let synced = ctx.engine.sync_all();
        if let Err(e) = &synced {
            error!(error = %e, "final sync failed");
        }
        let closed = ctx.engine.close();
        rt.shutdown_timeout(Duration::from_secs(1));
        closed?;
        synced?;
        info!("stopped cleanly (clean-shutdown marker written)");
        Ok(())
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Err(e) = self.stop_now() {
            error!(error = %e, "shutdown failed");
        }
    }
}
