//! The periodic sweep of the embedded providers' media directories (each
//! every `media_sweep_secs`, the first that long after start): orphan files
//! removed, lost ones counted (`EmbeddedProvider::sweep_media`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;

use super::State;

/// Sweeps media directories until shutdown.
pub struct Sweeper {
    /// Shared server state (the current providers).
    pub state: Arc<State>,
}

#[async_trait]
impl BackgroundService for Sweeper {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut last: HashMap<String, Instant> = HashMap::new();
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            let providers = self.state.registry.load().providers.clone();
            for (name, embedded) in providers.embedded_stores() {
                let every = Duration::from_secs(embedded.sweep_every_secs());
                let since = last.entry(name.clone()).or_insert_with(Instant::now);
                if every.is_zero() || since.elapsed() < every {
                    continue;
                }
                *since = Instant::now();
                match embedded.sweep_media().await {
                    Ok(sweep) => tracing::debug!(provider = %name, ?sweep, "media swept"),
                    Err(e) => tracing::warn!(provider = %name, error = %e, "media sweep failed"),
                }
            }
        }
    }
}
