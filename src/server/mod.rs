//! The network edge: accept loop, TLS, HTTP/1.1 and HTTP/2, limits, the admin listener,
//! reload triggers and graceful drain. Only this module and `upstream/` own sockets.

pub mod admin;
pub mod linger;
pub mod tls;
pub mod watch;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::app::{App, Runtime};
use crate::metrics::METRICS;

/// Listener settings.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Time a client has to send a request head (also how long an idle HTTP/1.1
    /// keep-alive connection may wait for its next request).
    pub header_read_timeout: Duration,
    /// How long in-flight requests may run after shutdown begins.
    pub drain_grace: Duration,
    /// Largest request head.
    pub max_header_bytes: usize,
    /// Most connections served at once.
    pub max_connections: usize,
    /// Time allowed for a TLS handshake.
    pub tls_handshake_timeout: Duration,
    /// How long a connection with no request in flight may stay silent.
    pub idle_timeout: Duration,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            header_read_timeout: Duration::from_secs(30),
            drain_grace: Duration::from_secs(30),
            max_header_bytes: 64 * 1024,
            max_connections: 10_000,
            tls_handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

impl ServerSettings {
    /// The settings of `app`'s configuration.
    pub fn from_app(app: &App) -> Self {
        let s = &app.config().server;
        ServerSettings {
            header_read_timeout: s.header_read_timeout.0,
            drain_grace: s.drain_grace.0,
            max_header_bytes: s.max_header_bytes.0 as usize,
            max_connections: s.max_connections,
            idle_timeout: s.idle_timeout.0,
            ..ServerSettings::default()
        }
    }
}

/// Serves a fixed `app` on `listener` until `shutdown` resolves (no reloads, no TLS).
pub async fn serve(app: Arc<App>, listener: TcpListener, settings: ServerSettings, shutdown: impl Future<Output = ()>) {
    match Runtime::new(app, None) {
        Ok(runtime) => serve_runtime(runtime, listener, settings, shutdown).await,
        Err(e) => tracing::error!(error = %e, "cannot start"),
    }
}

/// Serves `runtime` on `listener` until `shutdown` resolves, then stops accepting and
/// waits up to the grace period for in-flight requests.
pub async fn serve_runtime(
    runtime: Arc<Runtime>,
    listener: TcpListener,
    settings: ServerSettings,
    shutdown: impl Future<Output = ()>,
) {
    let mut http = ConnBuilder::new(TokioExecutor::new());
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout)
        .max_buf_size(settings.max_header_bytes.max(8192))
        .keep_alive(true);
    http.http2()
        .timer(TokioTimer::new())
        .max_header_list_size(settings.max_header_bytes as u32)
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(20));
    let tls = runtime
        .tls()
        .map(|r| tokio_rustls::TlsAcceptor::from(r.server_config()));
    let slots = Arc::new(Semaphore::new(settings.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // Past the connection limit, wait: the kernel's backlog holds the next clients.
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            () = shutdown.as_mut() => break,
        };
        let (socket, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and similar: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.as_mut() => break,
        };
        let _ = socket.set_nodelay(true);
        let runtime_for_conn = runtime.clone();
        let svc = hyper::service::service_fn(move |req| {
            let app = runtime_for_conn.app();
            async move { Ok::<_, std::convert::Infallible>(crate::service::handle(app, req, Some(peer)).await) }
        });
        // hyper's header-read timeout starts with the first byte: a client that connects
        // and sends nothing would hold its connection slot for ever.
        let first_byte = settings.header_read_timeout;
        METRICS.connections_open.inc();
        match &tls {
            None => {
                let http = http.clone();
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    // peek waits for a byte (readable() may answer at once on a fresh socket).
                    let mut one = [0u8; 1];
                    if matches!(tokio::time::timeout(first_byte, socket.peek(&mut one)).await, Ok(Ok(n)) if n > 0) {
                        let conn =
                            http.serve_connection_with_upgrades(linger::LingerIo::new(TokioIo::new(socket)), svc);
                        if let Err(e) = watcher.watch(conn).await {
                            tracing::debug!(error = %e, "connection ended with an error");
                        }
                    } else {
                        tracing::debug!(%peer, "closed a connection that sent nothing");
                    }
                    METRICS.connections_open.dec();
                    drop(permit);
                });
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                let http = http.clone();
                let watcher = graceful.watcher();
                let handshake_timeout = settings.tls_handshake_timeout;
                tokio::spawn(async move {
                    match tokio::time::timeout(handshake_timeout, acceptor.accept(socket)).await {
                        Ok(Ok(stream)) => {
                            let conn =
                                http.serve_connection_with_upgrades(linger::LingerIo::new(TokioIo::new(stream)), svc);
                            if let Err(e) = watcher.watch(conn).await {
                                tracing::debug!(error = %e, "TLS connection ended with an error");
                            }
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                    METRICS.connections_open.dec();
                    drop(permit);
                });
            }
        }
    }
    // Stop accepting at once: new connections are refused, and load balancers retry
    // elsewhere, instead of waiting in a backlog nobody serves.
    drop(listener);
    runtime.start_draining();
    tracing::info!("draining in-flight requests");
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("drained"),
        () = tokio::time::sleep(settings.drain_grace) => tracing::warn!("grace period over; closing remaining connections"),
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = term.recv() => {},
            _ = tokio::signal::ctrl_c() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
