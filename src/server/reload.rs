//! Hot reload of config and mappings: on SIGHUP, on a change of the config
//! file or a mapping file, or on `POST /reload` at the admin listener. The new
//! set is built and validated completely first, then swapped in atomically;
//! requests under way finish on the set they started with. A broken edit
//! changes nothing: the old set keeps serving, the precise error is logged
//! and returned, and `imbridge_reloads_total{result="failed"}` counts it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use notify::{RecursiveMode, Watcher as _};
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;

use super::{ConfigSource, State};
use crate::config::Config;
use crate::registry::{Providers, Registry};

/// Reloads config and mappings; `trigger` labels the metric.
pub async fn reload(state: &State, trigger: &str) -> Result<(), String> {
    let _one_at_a_time = state.reloading.lock().await;
    let result = rebuild(state).await;
    let m = &state.metrics;
    match &result {
        Ok(()) => {
            m.reloads.with_label_values(&[trigger, "ok"]).inc();
            m.last_reload_ok.set(1);
            m.last_reload
                .set(chrono::Utc::now().timestamp_millis() as f64 / 1000.0);
            tracing::info!(trigger, "config and mappings reloaded");
        }
        Err(e) => {
            m.reloads.with_label_values(&[trigger, "failed"]).inc();
            m.last_reload_ok.set(0);
            tracing::error!(trigger, error = %e, "reload failed; the previous config and mappings keep serving");
        }
    }
    result
}

async fn rebuild(state: &State) -> Result<(), String> {
    let config = match &state.source {
        ConfigSource::File(path) => {
            let path = path.clone();
            tokio::task::spawn_blocking(move || Config::load(path.as_deref()))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("bad configuration: {e}"))?
        }
        ConfigSource::Fixed(c) => (**c).clone(),
    };
    let current = state.registry.load_full();
    let running = state.config.load_full();
    if listeners(&config) != listeners(&running)
        || config.server.admin_listen != running.server.admin_listen
    {
        return Err("listener addresses changed: that needs a restart".into());
    }
    let cfg = config.clone();
    let metrics = state.metrics.clone();
    // Opening stores and compiling reads files and builds templates: keep it
    // off the async threads. Listeners come in address order, so the same
    // addresses keep their indexes.
    let registry = tokio::task::spawn_blocking(move || {
        let providers = Providers::reopen(&cfg, metrics, Some(&current.providers))
            .map_err(|e| e.to_string())?;
        Registry::build(&cfg, &Arc::new(providers)).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())??;
    state.registry.store(Arc::new(registry));
    state.config.store(Arc::new(config));
    Ok(())
}

fn listeners(config: &Config) -> Vec<String> {
    let mut addrs: Vec<String> = config
        .frontends
        .values()
        .map(|f| config.listen_of(f).to_string())
        .collect();
    addrs.sort();
    addrs.dedup();
    addrs
}

/// Watches for SIGHUP and for changes of the config and mapping files.
pub struct Watcher {
    /// The server's state.
    pub state: Arc<State>,
}

impl Watcher {
    fn watched(&self) -> Vec<PathBuf> {
        let config = self.state.config.load();
        let mut paths = vec![config.mappings.clone()];
        if let ConfigSource::File(Some(file)) = &self.state.source {
            paths.push(file.clone());
        } else if let ConfigSource::File(None) = &self.state.source {
            paths.push(PathBuf::from(Config::DEFAULT_FILE));
        }
        paths
    }
}

#[async_trait]
impl BackgroundService for Watcher {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "no SIGHUP reloads");
                None
            }
        };
        let (tx, mut changes) = tokio::sync::mpsc::unbounded_channel();
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if event.is_ok_and(|e| e.kind.is_modify() || e.kind.is_create() || e.kind.is_remove()) {
                let _ = tx.send(());
            }
        });
        let _watcher = match watcher {
            Ok(mut w) => {
                for path in self.watched() {
                    if let Err(e) = w.watch(&path, RecursiveMode::Recursive) {
                        tracing::warn!(path = %path.display(), error = %e, "not watching for changes");
                    }
                }
                Some(w)
            }
            Err(e) => {
                tracing::warn!(error = %e, "no file-change reloads");
                None
            }
        };
        loop {
            let trigger = tokio::select! {
                _ = shutdown.changed() => return,
                Some(()) = async { match hangup.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => "signal",
                Some(()) = changes.recv() => {
                    // Editors write in several steps: wait for quiet, then reload once.
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    while changes.try_recv().is_ok() {}
                    "file"
                }
            };
            let _ = reload(&self.state, trigger).await;
        }
    }
}
