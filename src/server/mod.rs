//! pingora glue: one `Server` with an API service per listener address and an
//! admin service. Nothing here knows about dialects.

mod admin;
mod api;
mod body;
pub mod conn;
pub mod media;
pub mod reload;
mod sweep;

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread::JoinHandle;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use pingora::server::configuration::ServerConf;
use pingora::server::{RunArgs, Server, ShutdownSignal, ShutdownSignalWatch};
use pingora::services::background::background_service;
use pingora::services::listening::Service;

use crate::config::{Config, ServerConfig};
use crate::metrics::Metrics;
use crate::registry::{Providers, Registry};
use conn::{Limits, Listener};

/// Where the running config comes from, for reloads.
#[derive(Debug, Clone)]
pub enum ConfigSource {
    /// A file (re-read on reload) plus the environment.
    File(Option<PathBuf>),
    /// A config given in code (tests): reloads recompile the mappings only.
    Fixed(Box<Config>),
}

/// State shared by every service of one server.
pub struct State {
    /// The current compiled set with its providers (swapped whole on reload;
    /// a request keeps the set it started with).
    pub registry: ArcSwap<Registry>,
    /// The config in force.
    pub config: ArcSwap<Config>,
    /// Where the config comes from.
    pub source: ConfigSource,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Request body cap.
    pub max_body: usize,
    /// Routes loaded and listeners started.
    pub ready: AtomicBool,
    /// SIGTERM received: `/readyz` answers 503 until the listeners close.
    pub draining: AtomicBool,
    /// One reload at a time.
    pub reloading: tokio::sync::Mutex<()>,
}

/// Builds the pingora server for a config: opens providers, compiles the
/// mappings, adds one service per listener, the admin service and the
/// reload watcher.
pub fn build(config: &Config, source: ConfigSource) -> anyhow::Result<(Server, Arc<State>)> {
    check_admin(&config.server)?;
    let metrics = Arc::new(Metrics::new());
    let providers = Arc::new(Providers::open(config, metrics.clone())?);
    let registry = Registry::build(config, &providers).map_err(|e| anyhow::anyhow!("{e}"))?;
    let state = Arc::new(State {
        registry: ArcSwap::from_pointee(registry),
        config: ArcSwap::from_pointee(config.clone()),
        source,
        metrics,
        max_body: config.server.max_body_bytes,
        ready: AtomicBool::new(true),
        draining: AtomicBool::new(false),
        reloading: tokio::sync::Mutex::new(()),
    });
    let conf = ServerConf {
        threads: config.server.threads.max(1),
        grace_period_seconds: Some(config.server.grace_period_secs),
        graceful_shutdown_timeout_seconds: Some(5),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let addrs: Vec<String> = state
        .registry
        .load()
        .listeners
        .iter()
        .map(|l| l.addr.clone())
        .collect();
    let limits = Limits::of(&config.server);
    for (i, addr) in addrs.into_iter().enumerate() {
        let app = api::ApiApp {
            state: state.clone(),
            listener: i,
            addr: addr.clone(),
        };
        let listener = Listener::new(app, limits, state.metrics.clone(), addr.clone());
        let mut svc = Service::new(format!("api {addr}"), listener);
        svc.add_tcp(&addr);
        server.add_service(svc);
    }
    let admin_app = admin::AdminApp {
        state: state.clone(),
    };
    let mut admin = Service::new(
        "admin".to_string(),
        Listener::new(admin_app, limits, state.metrics.clone(), "admin".into()),
    );
    admin.add_tcp(&config.server.admin_listen);
    admin.threads = Some(1);
    server.add_service(admin);
    let current = state.clone();
    server.add_service(background_service(
        "outbox",
        crate::live::worker::Service {
            providers: move || current.registry.load().providers.clone(),
        },
    ));
    server.add_service(background_service(
        "media sweep",
        sweep::Sweeper {
            state: state.clone(),
        },
    ));
    server.add_service(background_service(
        "reload",
        reload::Watcher {
            state: state.clone(),
        },
    ));
    Ok((server, state))
}

/// Refuses an admin listener beyond loopback without a token, and empty tokens.
fn check_admin(server: &ServerConfig) -> anyhow::Result<()> {
    match &server.admin_token {
        Some(t) if t.expose().trim().is_empty() => {
            anyhow::bail!("[server] admin_token is empty: set a long random token or remove it")
        }
        Some(_) => Ok(()),
        None if is_loopback(&server.admin_listen) => Ok(()),
        None => anyhow::bail!(
            "[server] admin_listen {} is not a loopback address: set [server] admin_token \
             (IMBRIDGE_SERVER__ADMIN_TOKEN) so that /metrics and /reload need it",
            server.admin_listen
        ),
    }
}

/// Whether a listen address only accepts local connections.
pub fn is_loopback(addr: &str) -> bool {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Runs until SIGTERM (graceful: `/readyz` answers 503 for `[server]
/// drain_secs`, then the listeners close and in-flight requests finish) or
/// SIGINT; SIGHUP, a change of the config or mapping files, or `POST
/// /reload` on the admin listener reload.
pub fn run(config: &Config, file: Option<PathBuf>) -> anyhow::Result<()> {
    let (server, state) = build(config, ConfigSource::File(file))?;
    server.run(RunArgs {
        shutdown_signal: Box::new(Signals {
            state: state.clone(),
            drain: std::time::Duration::from_secs(config.server.drain_secs),
        }),
    });
    // pingora's runtimes are gone by now, and the SQLite pool closes its
    // connections on tokio's blocking pool: dropping the state here without
    // a runtime panics (exit code 101 after SIGTERM). Drop it inside one; the
    // runtime's own drop waits for those closes.
    tokio::runtime::Builder::new_current_thread()
        .build()?
        .block_on(async move { drop(state) });
    Ok(())
}

/// The shutdown signals: SIGTERM drains first (readiness off for `drain`,
/// so load balancers stop sending), then shuts down gracefully; SIGINT stops
/// at once; SIGQUIT hands the listeners to a new process (pingora's upgrade).
struct Signals {
    state: Arc<State>,
    drain: std::time::Duration,
}

#[async_trait]
impl ShutdownSignalWatch for Signals {
    async fn recv(&self) -> ShutdownSignal {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int), Ok(mut quit)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::quit()),
        ) else {
            tracing::error!("cannot watch signals; stopping");
            return ShutdownSignal::FastShutdown;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => return ShutdownSignal::FastShutdown,
            _ = quit.recv() => return ShutdownSignal::GracefulUpgrade,
        }
        self.state
            .draining
            .store(true, std::sync::atomic::Ordering::Release);
        tracing::info!(
            secs = self.drain.as_secs(),
            "SIGTERM: draining (readyz 503) before closing the listeners"
        );
        tokio::select! {
            _ = tokio::time::sleep(self.drain) => ShutdownSignal::GracefulTerminate,
            _ = int.recv() => ShutdownSignal::FastShutdown,
        }
    }
}

/// A server running on its own thread, stopped on drop (for tests and
/// embedding).
pub struct Running {
    stop: Option<tokio::sync::oneshot::Sender<ShutdownSignal>>,
    thread: Option<JoinHandle<()>>,
    /// Shared state (metrics, registry).
    pub state: Arc<State>,
}

struct OneShot(tokio::sync::Mutex<Option<tokio::sync::oneshot::Receiver<ShutdownSignal>>>);

#[async_trait]
impl ShutdownSignalWatch for OneShot {
    async fn recv(&self) -> ShutdownSignal {
        let rx = self.0.lock().await.take();
        match rx {
            Some(rx) => rx.await.unwrap_or(ShutdownSignal::FastShutdown),
            None => std::future::pending().await,
        }
    }
}

/// Starts a server on a background thread.
pub fn spawn(config: &Config) -> anyhow::Result<Running> {
    spawn_from(config, ConfigSource::Fixed(Box::new(config.clone())))
}

/// Starts a server on a background thread, reloading from `source`.
pub fn spawn_from(config: &Config, source: ConfigSource) -> anyhow::Result<Running> {
    let (server, state) = build(config, source)?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let thread = std::thread::spawn(move || {
        server.run(RunArgs {
            shutdown_signal: Box::new(OneShot(tokio::sync::Mutex::new(Some(rx)))),
        });
    });
    Ok(Running {
        stop: Some(tx),
        thread: Some(thread),
        state,
    })
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(ShutdownSignal::FastShutdown);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
