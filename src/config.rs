//! Configuration: `config/imbridge.toml` (or `--config FILE`) overridden by
//! `IMBRIDGE_`-prefixed environment variables, `__` separating nested keys
//! (`IMBRIDGE_FRONTENDS__JMESSAGE__PARAMS__MASTER_SECRET=...`). Secrets can
//! come from the environment only and never be written in the file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::auth::capture::{CaptureConfig, Sealer};
use crate::auth::logins::LoginLimits;
use crate::auth::Secret;
use crate::live::MigrationConfig;
use crate::provider::embedded::EmbeddedConfig;
use crate::provider::vendor::VendorConfig;
use crate::store::StoreConfig;

/// The shipped configuration files: their secrets are development values.
const SHIPPED: [&str; 4] = [
    include_str!("../config/imbridge.toml"),
    include_str!("../config/emulators.toml"),
    include_str!("../config/replicas.toml"),
    include_str!("../config/compatibility.toml"),
];

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The app every frontend serves unless it names its own.
    #[serde(default = "default_app_key")]
    pub app_key: String,
    /// Directory of mapping files.
    #[serde(default = "default_mappings")]
    pub mappings: PathBuf,
    /// Listeners and limits.
    #[serde(default)]
    pub server: ServerConfig,
    /// Providers by name.
    #[serde(default = "default_providers")]
    pub providers: BTreeMap<String, ProviderConfig>,
    /// Frontends by name.
    #[serde(default)]
    pub frontends: BTreeMap<String, FrontendConfig>,
    /// imbridge's own state (issued tokens).
    #[serde(default)]
    pub store: StoreConfig,
    /// Limits on failed logins.
    #[serde(default)]
    pub logins: LoginLimits,
    /// Plain passwords kept sealed for `imbridge migrate` (off unless set).
    #[serde(default)]
    pub capture: CaptureConfig,
}

fn default_app_key() -> String {
    "imbridge0dev0app0key0001".to_string()
}

fn default_mappings() -> PathBuf {
    "mappings".into()
}

fn default_providers() -> BTreeMap<String, ProviderConfig> {
    BTreeMap::from([(
        "embedded".to_string(),
        ProviderConfig::Embedded(EmbeddedConfig::default()),
    )])
}

/// Listeners, threads and limits.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Default API listener of frontends.
    pub listen: String,
    /// Admin listener (`/metrics`, `/healthz`, `/readyz`).
    pub admin_listen: String,
    /// Worker threads of the API listeners.
    pub threads: usize,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Seconds in-flight requests get to finish after SIGTERM.
    pub grace_period_secs: u64,
    /// Log format: `text` or `json`.
    pub log_format: String,
    /// Most open connections per listener; more are answered 503 and closed.
    pub max_connections: usize,
    /// Seconds a client gets to send a complete request head, counted from
    /// its first byte (on a new connection, from the connect).
    pub header_timeout_secs: u64,
    /// Seconds a request body may take before `min_body_rate` applies.
    pub body_timeout_secs: u64,
    /// Slowest accepted body upload, in bytes per second, after
    /// `body_timeout_secs`: a body must have sent `min_body_rate × (t −
    /// body_timeout_secs)` bytes at any time t.
    pub min_body_rate: u64,
    /// Seconds writing one response may take.
    pub write_timeout_secs: u64,
    /// Seconds an idle keep-alive connection stays open.
    pub idle_timeout_secs: u64,
    /// Seconds a request may take from its head to its answer being ready
    /// (body, auth, provider and rendering together).
    pub request_timeout_secs: u64,
    /// Seconds between SIGTERM and closing the listeners, while `/readyz`
    /// answers 503 so load balancers stop sending traffic.
    pub drain_secs: u64,
    /// Bearer token the admin listener requires (`Authorization: Bearer
    /// ...`); required when `admin_listen` is not a loopback address.
    pub admin_token: Option<Secret>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8080".into(),
            admin_listen: "127.0.0.1:8081".into(),
            threads: 2,
            max_body_bytes: 10 * 1024 * 1024,
            grace_period_secs: 5,
            log_format: "text".into(),
            max_connections: 1024,
            header_timeout_secs: 10,
            body_timeout_secs: 10,
            min_body_rate: 64 * 1024,
            write_timeout_secs: 10,
            idle_timeout_secs: 60,
            request_timeout_secs: 60,
            drain_secs: 5,
            admin_token: None,
        }
    }
}

/// A provider: where operations run.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProviderConfig {
    /// The built-in IM backend (the embedded provider).
    Embedded(EmbeddedConfig),
    /// A vendor's server API, described by a dialect's `outbound:` half.
    Vendor(VendorConfig),
}

/// A frontend: a dialect served on a listener.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FrontendConfig {
    /// Dialect (mapping file name); the frontend's name when absent.
    #[serde(default)]
    pub dialect: Option<String>,
    /// Listener address; `server.listen` when absent.
    #[serde(default)]
    pub listen: Option<String>,
    /// Provider name; `embedded` when absent.
    #[serde(default = "default_provider")]
    pub provider: String,
    /// App served; the top-level `app_key` when absent.
    #[serde(default)]
    pub app_key: Option<String>,
    /// Dialect params (credentials, accounts).
    #[serde(default)]
    pub params: BTreeMap<String, Secret>,
    /// A live migration of this frontend's app to another provider.
    #[serde(default)]
    pub migration: Option<MigrationConfig>,
}

fn default_provider() -> String {
    "embedded".into()
}

impl FrontendConfig {
    /// The dialect this frontend serves.
    pub fn dialect<'a>(&'a self, name: &'a str) -> &'a str {
        self.dialect.as_deref().unwrap_or(name)
    }
}

impl Config {
    /// The default config file.
    pub const DEFAULT_FILE: &'static str = "config/imbridge.toml";

    /// Loads `file` (or the default file when it exists) and the environment.
    pub fn load(file: Option<&Path>) -> Result<Config, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Config::empty()));
        match file {
            Some(f) => figment = figment.merge(Toml::file_exact(f)),
            None => {
                if Path::new(Self::DEFAULT_FILE).exists() {
                    figment = figment.merge(Toml::file_exact(Self::DEFAULT_FILE));
                }
            }
        }
        Self::from_figment(figment.merge(Env::prefixed("IMBRIDGE_").split("__")))
    }

    /// Extracts a config from any figment (tests build their own).
    pub fn from_figment(figment: Figment) -> Result<Config, Box<figment::Error>> {
        figment.extract().map_err(Box::new)
    }

    /// Parses TOML text alone (no environment).
    pub fn from_toml(text: &str) -> Result<Config, Box<figment::Error>> {
        Self::from_figment(
            Figment::from(Serialized::defaults(Config::empty())).merge(Toml::string(text)),
        )
    }

    fn empty() -> Config {
        Config {
            app_key: default_app_key(),
            mappings: default_mappings(),
            server: ServerConfig::default(),
            providers: default_providers(),
            frontends: BTreeMap::new(),
            store: StoreConfig::default(),
            logins: LoginLimits::default(),
            capture: CaptureConfig::default(),
        }
    }

    /// The app key of a frontend: its own, else the config's.
    pub fn app_key_of(&self, fe: &FrontendConfig) -> String {
        fe.app_key.clone().unwrap_or_else(|| self.app_key.clone())
    }

    /// The listener of a frontend.
    pub fn listen_of<'a>(&'a self, fe: &'a FrontendConfig) -> &'a str {
        fe.listen.as_deref().unwrap_or(&self.server.listen)
    }

    /// The sealer of captured passwords when `[capture] passwords` is on;
    /// `Err` says why its key is refused (missing, malformed, or the shipped
    /// development key while a listener serves beyond loopback).
    pub fn capture_sealer(&self) -> Result<Option<Sealer>, String> {
        let shipped: Vec<Secret> = SHIPPED
            .iter()
            .filter_map(|text| Config::from_toml(text).ok())
            .filter_map(|c| c.capture.key)
            .collect();
        let beyond = std::iter::once(self.server.listen.as_str())
            .chain(self.frontends.values().map(|fc| self.listen_of(fc)))
            .find(|listen| !crate::server::is_loopback(listen));
        self.capture.sealer(&shipped, beyond)
    }

    /// Warnings for frontends that serve beyond loopback with a secret from
    /// one of the shipped configuration files (development values, public).
    pub fn development_secrets(&self) -> Vec<String> {
        let shipped: Vec<String> = SHIPPED
            .iter()
            .filter_map(|text| Config::from_toml(text).ok())
            .flat_map(|c| c.frontends.into_values())
            .flat_map(|fc| fc.params.into_values())
            .map(|secret| secret.expose().to_string())
            .collect();
        let mut warnings = Vec::new();
        for (name, fc) in &self.frontends {
            let listen = self.listen_of(fc);
            if crate::server::is_loopback(listen) {
                continue;
            }
            for (param, value) in &fc.params {
                if shipped.iter().any(|s| value.matches(s)) {
                    warnings.push(format!(
                        "frontends.{name}.params.{param} is a development value shipped in config/ \
                         and {name} listens on {listen}: set your own \
                         (IMBRIDGE_FRONTENDS__{}__PARAMS__{})",
                        name.to_uppercase(),
                        param.to_uppercase()
                    ));
                }
            }
        }
        warnings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_nested_frontends() {
        let c = Config::from_toml(
            r#"
            [frontends.jmessage.params]
            master_secret = "s3cret"
            [providers.embedded]
            kind = "embedded"
            path = "/tmp/x.db"
            "#,
        )
        .unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:8080");
        let fe = &c.frontends["jmessage"];
        assert_eq!(fe.dialect("jmessage"), "jmessage");
        assert_eq!(fe.provider, "embedded");
        assert_eq!(fe.params["master_secret"].expose(), "s3cret");
        assert!(format!("{c:?}").contains("REDACTED"));
        match &c.providers["embedded"] {
            ProviderConfig::Embedded(e) => assert_eq!(e.path, PathBuf::from("/tmp/x.db")),
            ProviderConfig::Vendor(_) => panic!("embedded expected"),
        }
    }

    #[test]
    fn empty_secrets_are_refused_at_load() {
        let err =
            Config::from_toml("[frontends.jmessage.params]\nmaster_secret = \"\"").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("cannot be empty"), "{text}");
        assert!(text.contains("master_secret"), "{text}");
    }

    #[test]
    fn shipped_secrets_beyond_loopback_are_warned_about() {
        for text in SHIPPED {
            Config::from_toml(text).expect("shipped configs parse");
        }
        let config = |listen: &str, secret: &str| {
            Config::from_toml(&format!(
                "[server]\nlisten = \"{listen}\"\n[frontends.wildfire.params]\nsecret = \"{secret}\""
            ))
            .unwrap()
            .development_secrets()
        };
        assert!(config("127.0.0.1:8080", "123456").is_empty());
        assert!(config("0.0.0.0:8080", "a-long-random-value").is_empty());
        let warned = config("0.0.0.0:8080", "123456");
        assert_eq!(warned.len(), 1, "{warned:?}");
        assert!(
            warned[0].contains("frontends.wildfire.params.secret")
                && warned[0].contains("IMBRIDGE_FRONTENDS__WILDFIRE__PARAMS__SECRET"),
            "{warned:?}"
        );
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = Config::from_toml("[server]\nlisten_addr = \"x\"").unwrap_err();
        assert!(err.to_string().contains("listen_addr"), "{err}");
    }
}
