//! The compiled, runnable set: mappings compiled, frontends built with their
//! providers and params, routes grouped per listener. Built in one go from a
//! config and swapped as a whole (a failed build changes nothing).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::auth::capture::Sealer;
use crate::auth::logins::LoginGuard;
use crate::canonical::{Error, Op, OpName, Output, Result};
use crate::config::{Config, ProviderConfig};
use crate::frontend::{Frontend, RouteTable};
use crate::live::provider::Migrating;
use crate::live::Live;
use crate::mapping::compile::compile_dir;
use crate::mapping::diag::{self, Diagnostic};
use crate::mapping::plan::{Dialect, Segment};
use crate::metrics::Metrics;
use crate::migrate::lazy::LazyPasswords;
use crate::provider::embedded::EmbeddedProvider;
use crate::provider::hosted::Hosted;
use crate::provider::ids::IdMapped;
use crate::provider::vendor::VendorProvider;
use crate::provider::{CallContext, Provider, SharedProvider};
use crate::store::{Store, StoreConfig};

/// Why a config and its mappings could not be loaded.
#[derive(Debug, Default)]
pub struct LoadError {
    /// Problems in mapping files, with file and line.
    pub diagnostics: Vec<Diagnostic>,
    /// Problems in the config.
    pub problems: Vec<String>,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.diagnostics.is_empty() {
            writeln!(f, "{}", diag::render(&self.diagnostics))?;
        }
        for p in &self.problems {
            writeln!(f, "error: {p}")?;
        }
        write!(
            f,
            "{} problem(s) found",
            self.diagnostics.len() + self.problems.len()
        )
    }
}

impl std::error::Error for LoadError {}

/// The providers of a config and imbridge's own store, opened once and kept
/// across reloads (a reload reuses every provider whose settings did not
/// change, so stores stay open and token caches stay warm).
pub struct Providers {
    map: BTreeMap<String, SharedProvider>,
    /// Settings each provider was opened with.
    configs: BTreeMap<String, ProviderConfig>,
    /// The vendor providers by name, bound to their dialects by `Registry::build`.
    vendors: BTreeMap<String, Arc<VendorProvider>>,
    /// The embedded providers by name.
    stores: BTreeMap<String, Arc<EmbeddedProvider>>,
    /// The (first) embedded provider, when configured (serves media downloads).
    pub embedded: Option<Arc<EmbeddedProvider>>,
    /// imbridge's own state (tokens, passwords, ID map); none in dry runs.
    pub store: Option<Arc<Store>>,
    /// Live migrations' outbox (in the store); none in dry runs.
    pub live: Option<Arc<Live>>,
    /// Passwords of users `imbridge migrate` copied without one, set at
    /// their first login; none in dry runs.
    pub lazy: Option<Arc<LazyPasswords>>,
    /// Failed-login counters of every frontend; none in dry runs.
    pub logins: Option<Arc<LoginGuard>>,
    /// Seals the passwords captured for `imbridge migrate` (`[capture]`);
    /// none when capture is off and in dry runs.
    pub capture: Option<Arc<Sealer>>,
    store_config: StoreConfig,
}

impl Providers {
    /// No provider yet, for `config`.
    fn none(config: &Config) -> Providers {
        Providers {
            map: BTreeMap::new(),
            configs: config.providers.clone(),
            vendors: BTreeMap::new(),
            stores: BTreeMap::new(),
            embedded: None,
            store: None,
            live: None,
            lazy: None,
            logins: None,
            capture: None,
            store_config: config.store.clone(),
        }
    }

    /// Opens every configured provider and the store.
    pub fn open(config: &Config, metrics: Arc<Metrics>) -> anyhow::Result<Providers> {
        Self::reopen(config, metrics, None)
    }

    /// Opens the providers of `config`, reusing those of `previous` whose
    /// settings are unchanged. Embedded stores and imbridge's store cannot
    /// move while running: changing their settings needs a restart.
    pub fn reopen(
        config: &Config,
        metrics: Arc<Metrics>,
        previous: Option<&Providers>,
    ) -> anyhow::Result<Providers> {
        let mut out = Providers::none(config);
        out.capture = config
            .capture_sealer()
            .map_err(anyhow::Error::msg)?
            .map(Arc::new);
        let store = match previous.and_then(|p| p.store.clone()) {
            Some(s) if previous.is_some_and(|p| p.store_config == config.store) => s,
            Some(_) => anyhow::bail!("changing [store] settings needs a restart"),
            None => {
                let store = Store::open(&config.store)?;
                let counters = store.token_counters();
                metrics.adopt(vec![
                    Box::new(counters.revoked.clone()),
                    Box::new(counters.refused.clone()),
                ]);
                Arc::new(store)
            }
        };
        for (name, pc) in &config.providers {
            let unchanged = previous.is_some_and(|p| p.configs.get(name) == Some(pc));
            let provider: SharedProvider = match pc {
                ProviderConfig::Embedded(cfg) => {
                    let e = match previous.and_then(|p| p.stores.get(name)) {
                        Some(e) if unchanged => e.clone(),
                        Some(_) => anyhow::bail!(
                            "changing the settings of embedded provider `{name}` needs a restart"
                        ),
                        None => Arc::new(
                            EmbeddedProvider::open(name, cfg)?.counted(metrics.media.clone()),
                        ),
                    };
                    out.embedded.get_or_insert_with(|| e.clone());
                    out.stores.insert(name.clone(), e.clone());
                    e
                }
                ProviderConfig::Vendor(cfg) => {
                    let v = match previous.and_then(|p| p.vendors.get(name)) {
                        Some(v) if unchanged => v.clone(),
                        _ => Arc::new(VendorProvider::new(
                            name,
                            cfg,
                            metrics.clone(),
                            Some(store.clone()),
                        )?),
                    };
                    out.vendors.insert(name.clone(), v.clone());
                    v
                }
            };
            out.map.insert(name.clone(), provider);
        }
        out.host_vendor_ops(out.embedded.clone().map(|e| e as SharedProvider));
        out.lazy = Some(Arc::new(LazyPasswords::new(
            out.map.clone(),
            store.clone(),
            metrics.clone(),
        )));
        out.live = Some(match previous.and_then(|p| p.live.clone()) {
            Some(l) => l,
            None => Live::open(store.clone(), metrics.clone())?,
        });
        out.store = Some(store);
        out.logins = Some(match previous.and_then(|p| p.logins.clone()) {
            Some(l) => {
                l.configure(&config.logins);
                l
            }
            None => Arc::new(LoginGuard::new(
                config.logins.clone(),
                metrics.logins_throttled.clone(),
            )),
        });
        Ok(out)
    }

    /// Providers that know their capabilities but open no store and call no
    /// vendor (for `imbridge check`): vendor providers are built (that is
    /// offline), the embedded provider is a stand-in.
    pub fn dry(config: &Config) -> anyhow::Result<Providers> {
        let mut out = Providers::none(config);
        for (name, pc) in &config.providers {
            let provider: SharedProvider = match pc {
                ProviderConfig::Embedded(_) => Arc::new(Dry { name: name.clone() }),
                ProviderConfig::Vendor(cfg) => {
                    let v = Arc::new(VendorProvider::new(
                        name,
                        cfg,
                        Arc::new(Metrics::new()),
                        None,
                    )?);
                    out.vendors.insert(name.clone(), v.clone());
                    v
                }
            };
            out.map.insert(name.clone(), provider);
        }
        let host = config.providers.iter().find_map(|(name, pc)| {
            matches!(pc, ProviderConfig::Embedded(_)).then(|| out.map[name].clone())
        });
        out.host_vendor_ops(host);
        Ok(out)
    }

    /// Wraps every vendor provider so that the operations its mapping hosts
    /// run on `host` (the first embedded provider).
    fn host_vendor_ops(&mut self, host: Option<SharedProvider>) {
        for (name, vendor) in &self.vendors {
            self.map
                .insert(name.clone(), Hosted::wrap(vendor.clone(), host.clone()));
        }
    }

    /// A provider by name.
    pub fn get(&self, name: &str) -> Option<&SharedProvider> {
        self.map.get(name)
    }

    /// The embedded providers by name.
    pub fn embedded_stores(&self) -> impl Iterator<Item = (&String, &Arc<EmbeddedProvider>)> {
        self.stores.iter()
    }

    /// Whether every database answers: the store's and each embedded
    /// provider's (for `/readyz`); the first that does not, by name
    /// (`store`, `provider NAME`), with its error.
    pub async fn databases_ready(&self) -> Result<(), (String, Error)> {
        if let Some(store) = &self.store {
            store.health().await.map_err(|e| ("store".to_owned(), e))?;
        }
        for (name, embedded) in &self.stores {
            embedded
                .database_health()
                .await
                .map_err(|e| (format!("provider {name}"), e))?;
        }
        Ok(())
    }

    /// Every provider with its name and, for vendor providers, its dialect
    /// (`embedded` for the store), in name order.
    pub fn all(&self) -> Vec<(&str, String, &SharedProvider)> {
        self.map
            .iter()
            .map(|(name, p)| {
                let kind = self
                    .vendors
                    .get(name)
                    .map_or_else(|| "embedded".to_string(), |v| v.dialect_name().to_string());
                (name.as_str(), kind, p)
            })
            .collect()
    }
}

struct Dry {
    name: String,
}

#[async_trait]
impl Provider for Dry {
    fn name(&self) -> &str {
        &self.name
    }

    fn supports(&self, op: OpName) -> bool {
        !op.is_local()
    }

    async fn execute(&self, op: Op, _ctx: &CallContext) -> Result<Output> {
        Err(Error::unsupported(&self.name, op.name().as_str()))
    }
}

/// The routes of one listener address.
pub struct Listener {
    /// Address (`127.0.0.1:8080`).
    pub addr: String,
    /// Its routes.
    pub table: RouteTable,
}

/// Everything that serves requests, compiled.
pub struct Registry {
    /// Listeners, in config order of first use.
    pub listeners: Vec<Listener>,
    /// All compiled dialects.
    pub dialects: Vec<Arc<Dialect>>,
    /// The providers and store it runs on.
    pub providers: Arc<Providers>,
}

/// The path prefix under which the embedded provider serves media downloads.
pub const MEDIA_PREFIX: &str = "media";

impl Registry {
    /// Compiles the mappings and builds every frontend of `config`.
    pub fn build(
        config: &Config,
        providers: &Arc<Providers>,
    ) -> std::result::Result<Registry, LoadError> {
        let (dialects, diagnostics) = compile_dir(&config.mappings);
        let mut err = LoadError {
            diagnostics,
            problems: Vec::new(),
        };
        if config.frontends.is_empty() {
            err.problems.push("no frontends are configured".into());
        }
        let mut bindings = Vec::new();
        for vendor in providers.vendors.values() {
            match dialects.iter().find(|d| d.name == vendor.dialect_name()) {
                Some(d) => match vendor.prepare(d.clone()) {
                    Ok(b) => bindings.push((vendor.clone(), b)),
                    Err(p) => err.problems.push(p),
                },
                None if err.diagnostics.is_empty() => err.problems.push(format!(
                    "provider `{}`: no mapping file defines dialect `{}`",
                    vendor.name(),
                    vendor.dialect_name()
                )),
                None => {}
            }
        }
        let mut by_addr: Vec<(String, Vec<Arc<Frontend>>)> = Vec::new();
        for (name, fc) in &config.frontends {
            let dialect_name = fc.dialect(name);
            let Some(dialect) = dialects.iter().find(|d| d.name == dialect_name) else {
                if err.diagnostics.is_empty() {
                    err.problems.push(format!(
                        "frontend `{name}`: no mapping file defines dialect `{dialect_name}` in {} (found: {})",
                        config.mappings.display(),
                        dialects.iter().map(|d| d.name.as_str()).collect::<Vec<_>>().join(", ")
                    ));
                }
                continue;
            };
            if dialect.inbound.is_none() {
                err.problems.push(format!(
                    "frontend `{name}`: dialect `{dialect_name}` has no inbound half"
                ));
                continue;
            }
            let Some(provider) = providers.get(&fc.provider) else {
                err.problems.push(format!(
                    "frontend `{name}`: unknown provider `{}`",
                    fc.provider
                ));
                continue;
            };
            let provider = match &fc.migration {
                Some(m) => {
                    let problems = m.problems(name, &fc.provider, |p| providers.get(p).is_some());
                    if !problems.is_empty() {
                        err.problems.extend(problems);
                        continue;
                    }
                    match (providers.get(&m.to), &providers.live) {
                        (Some(new), Some(live)) => Arc::new(Migrating::new(
                            name,
                            provider.clone(),
                            new.clone(),
                            m.clone(),
                            live.clone(),
                        )) as SharedProvider,
                        _ => provider.clone(),
                    }
                }
                None => provider.clone(),
            };
            let provider = IdMapped::wrap(provider, providers.store.as_ref(), dialect);
            match Frontend::new(
                name.clone(),
                dialect.clone(),
                config.app_key_of(fc),
                &fc.params,
                provider,
                providers.store.clone(),
                providers.lazy.clone(),
            ) {
                Ok(mut fe) => {
                    fe.logins = providers.logins.clone();
                    fe.capture = providers.capture.clone();
                    let addr = config.listen_of(fc).to_string();
                    match by_addr.iter_mut().find(|(a, _)| *a == addr) {
                        Some((_, list)) => list.push(Arc::new(fe)),
                        None => by_addr.push((addr, vec![Arc::new(fe)])),
                    }
                }
                Err(p) => err.problems.push(p),
            }
        }
        if by_addr
            .iter()
            .any(|(a, _)| *a == config.server.admin_listen)
        {
            err.problems.push(format!(
                "the admin listener {} is also a frontend listener",
                config.server.admin_listen
            ));
        }
        for d in &dialects {
            media_collisions(d, &mut err.diagnostics);
        }
        // In address order: a reload with the same addresses keeps each
        // listener's index, which the running services hold.
        by_addr.sort_by(|a, b| a.0.cmp(&b.0));
        let mut listeners = Vec::new();
        for (addr, frontends) in by_addr {
            match RouteTable::build(frontends) {
                Ok(table) => listeners.push(Listener { addr, table }),
                Err(mut d) => err.diagnostics.append(&mut d),
            }
        }
        if err.diagnostics.is_empty() && err.problems.is_empty() {
            // Only a fully valid build touches the providers.
            for (vendor, binding) in bindings {
                vendor.install(binding);
            }
            Ok(Registry {
                listeners,
                dialects,
                providers: providers.clone(),
            })
        } else {
            Err(err)
        }
    }

    /// The frontend × operation capability matrix, as text.
    pub fn capability_matrix(&self) -> String {
        let mut out = String::new();
        for l in &self.listeners {
            for fe in l.table.frontends() {
                let Some(inbound) = &fe.dialect().inbound else {
                    continue;
                };
                let ops = fe.canonical_ops();
                let unsupported: Vec<&str> = ops
                    .iter()
                    .filter(|op| !fe.provider.supports(**op))
                    .map(|op| op.as_str())
                    .collect();
                out.push_str(&format!(
                    "{} ({}) on {} -> provider {}: {} routes, {} of {} operations supported",
                    fe.name,
                    fe.dialect().name,
                    l.addr,
                    fe.provider.name(),
                    inbound.routes.len(),
                    ops.len() - unsupported.len(),
                    ops.len()
                ));
                if !unsupported.is_empty() {
                    out.push_str(&format!("; unsupported: {}", unsupported.join(", ")));
                }
                out.push('\n');
            }
        }
        out
    }
}

impl Registry {
    /// The frontend × provider capability matrix as Markdown: for every
    /// frontend of the config and every provider of the config (not only the
    /// frontend's own), which of the frontend's operations the provider can
    /// run. `docs/compatibility.md` is this output.
    pub fn capability_markdown(&self, all: &Providers) -> String {
        let providers = all.all();
        // What a vendor's mapping says of an operation: a note when it runs
        // it, the reason when it cannot.
        let remark = |name: &str, op: OpName| all.vendors.get(name).and_then(|v| v.remark(op));
        let mut frontends: Vec<&Arc<Frontend>> = self
            .listeners
            .iter()
            .flat_map(|l| l.table.frontends())
            .collect();
        frontends.sort_by(|a, b| a.name.cmp(&b.name));
        let header = |out: &mut String, first: &str| {
            out.push_str(&format!("| {first} |"));
            for (name, kind, _) in &providers {
                if *name == kind.as_str() {
                    out.push_str(&format!(" {name} |"));
                } else {
                    out.push_str(&format!(" {name} ({kind}) |"));
                }
            }
            out.push_str("\n|---|");
            out.push_str(&"---|".repeat(providers.len()));
            out.push('\n');
        };
        let mut out = String::from(
            "# Compatibility: frontends × providers\n\n\
             Generated by `imbridge check --markdown` from the mappings of this\n\
             repository; do not edit (a test fails when it is stale). A frontend\n\
             answers an operation its provider cannot run with the canonical\n\
             `unsupported` error in its own dialect, naming the provider. A\n\
             numbered mark refers to the notes under each table: conditions of\n\
             a ✓ (requests carrying what the provider cannot keep are refused,\n\
             naming it), what imbridge keeps for the vendor, the vendor's reason\n\
             for a —.\n\n\
             ## Summary: operations supported\n\n",
        );
        header(&mut out, "frontend");
        for fe in &frontends {
            let ops = fe.canonical_ops();
            out.push_str(&format!("| {} |", fe.name));
            for (_, _, p) in &providers {
                let n = ops.iter().filter(|op| p.supports(**op)).count();
                out.push_str(&format!(" {n} of {} |", ops.len()));
            }
            out.push('\n');
        }
        for fe in &frontends {
            out.push_str(&format!(
                "\n## {} (dialect {})\n\n",
                fe.name,
                fe.dialect().name
            ));
            header(&mut out, "operation");
            let mut notes: Vec<String> = Vec::new();
            for op in fe.canonical_ops() {
                out.push_str(&format!("| `{op}` |"));
                for (name, _, p) in &providers {
                    out.push_str(if p.supports(op) { " ✓" } else { " —" });
                    if let Some(r) = remark(name, op) {
                        notes.push(format!("{name}, `{op}`: {r}"));
                        out.push_str(&format!(" [{}]", notes.len()));
                    }
                    out.push_str(" |");
                }
                out.push('\n');
            }
            if !notes.is_empty() {
                out.push('\n');
                for (i, n) in notes.iter().enumerate() {
                    out.push_str(&format!("{}. {n}\n", i + 1));
                }
            }
        }
        out
    }
}

fn media_collisions(d: &Dialect, out: &mut Vec<Diagnostic>) {
    let Some(inbound) = &d.inbound else { return };
    for r in &inbound.routes {
        for p in &r.patterns {
            if matches!(p.segments.first(), Some(Segment::Literal(s)) if s == MEDIA_PREFIX) {
                out.push(Diagnostic {
                    file: d.file.clone(),
                    line: r.line,
                    col: 1,
                    width: 1,
                    code: "E020",
                    message: format!(
                        "path {} collides with the media downloads under /{MEDIA_PREFIX}/",
                        p.text
                    ),
                    hint: Some("choose another path".into()),
                    source_line: None,
                });
            }
        }
    }
}
