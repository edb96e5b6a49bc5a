//! Tests of the embedded provider on a real database, driven through
//! `Provider::execute` with requests written as JSON (as mappings produce
//! them). Each test runs twice, on a SQLite file in a temporary directory and
//! on a throwaway PostgreSQL cluster ([`on_both_backends!`]).

/// Defines, for each test body `name(backend)` listed, a test
/// `sqlite::name` and a test `postgres::name`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::Backend::Sqlite).await
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::Backend::Postgres).await
            })*
        }
    };
}

mod admin;
mod groups;
mod history;
mod media;
mod messages;
mod persistence;
mod rooms;
mod social;
mod users;

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{json, Value};
use tempfile::TempDir;

use super::{EmbeddedConfig, EmbeddedProvider, HashParams};
use crate::auth::Secret;
use crate::canonical::{Error, ErrorKind, OpName, Reason, Result};
use crate::provider::{Attachment, CallContext, Provider};
use crate::test_pg::Postgres;

/// The app most tests run as.
const APP: &str = "app1";

/// A second app, for cross-app tests.
const OTHER_APP: &str = "app2";

/// The database a test runs on.
#[derive(Debug, Clone, Copy)]
enum Backend {
    /// A SQLite file.
    Sqlite,
    /// A throwaway PostgreSQL cluster.
    Postgres,
}

/// An embedded provider on a database and a media directory of its own.
struct Harness {
    dir: TempDir,
    cfg: EmbeddedConfig,
    provider: EmbeddedProvider,
    /// The cluster, on PostgreSQL.
    pg: Option<Postgres>,
}

impl Harness {
    /// A provider on SQLite with the default configuration but cheap
    /// password hashes.
    fn new() -> Self {
        Self::on(Backend::Sqlite)
    }

    /// A provider on `backend`.
    fn on(backend: Backend) -> Self {
        Self::on_with(backend, |_| {})
    }

    /// A provider on `backend` whose configuration `adjust` changes.
    fn on_with(backend: Backend, adjust: impl FnOnce(&mut EmbeddedConfig)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let pg = matches!(backend, Backend::Postgres).then(Postgres::start);
        let mut cfg = EmbeddedConfig {
            path: dir.path().join("db/imbridge.db"),
            media_dir: dir.path().join("media"),
            media_base_url: "http://media.test/media".to_owned(),
            password_hash: HashParams {
                memory_kib: 64,
                iterations: 1,
                parallelism: 1,
            },
            url: pg.as_ref().map(|pg| Secret::new(pg.url())),
            ..EmbeddedConfig::default()
        };
        adjust(&mut cfg);
        let provider = EmbeddedProvider::open("embedded", &cfg).expect("open provider");
        Harness {
            dir,
            cfg,
            provider,
            pg,
        }
    }

    /// Drops the provider and opens the same database again.
    fn reopen(self) -> Self {
        let Harness {
            dir,
            cfg,
            provider,
            pg,
        } = self;
        drop(provider);
        let provider = EmbeddedProvider::open("embedded", &cfg).expect("reopen provider");
        Harness {
            dir,
            cfg,
            provider,
            pg,
        }
    }

    /// Makes group "g" of `owner` with `members`; its id.
    async fn group(&self, owner: &str, members: &[&str]) -> String {
        let made = self
            .ok(
                "group.create",
                json!({"owner": owner, "name": "g", "members": members}),
            )
            .await;
        made["id"].as_str().expect("a group id").to_owned()
    }

    /// Runs operation `op` for `app` with a JSON request; the result as JSON.
    async fn call_in(&self, app: &str, op: &str, request: Value) -> Result<Value> {
        self.call_ctx(context(app, Vec::new()), op, request).await
    }

    /// Runs operation `op` with a prepared context.
    async fn call_ctx(&self, ctx: CallContext, op: &str, request: Value) -> Result<Value> {
        let name = OpName::parse(op).unwrap_or_else(|| panic!("unknown op {op}"));
        let op = name.decode_request(request).expect("request decodes");
        let output = self.provider.execute(op, &ctx).await?;
        assert_eq!(output.name(), name);
        Ok(output.to_json())
    }

    /// Uploads the 1×1 PNG as `name` into [`APP`]; returns the stored media.
    async fn upload_png(&self, name: &str) -> Value {
        let ctx = context(APP, vec![(name, PNG_1X1)]);
        let request = json!({"kind": "image", "file": upload(0)});
        self.call_ctx(ctx, "media.upload", request)
            .await
            .unwrap_or_else(|e| panic!("media.upload failed: {e}"))
    }

    /// Runs `op` in [`APP`], expecting success.
    async fn ok(&self, op: &str, request: Value) -> Value {
        self.call_in(APP, op, request)
            .await
            .unwrap_or_else(|e| panic!("{op} failed: {e}"))
    }

    /// Runs `op` in [`APP`], expecting a failure.
    async fn fail(&self, op: &str, request: Value) -> Error {
        match self.call_in(APP, op, request).await {
            Ok(v) => panic!("{op} succeeded unexpectedly: {v}"),
            Err(e) => e,
        }
    }

    /// Registers users of `app` with password `pw`.
    async fn users_in(&self, app: &str, names: &[&str]) {
        let users: Vec<Value> = names
            .iter()
            .map(|n| json!({"username": n, "password": "pw"}))
            .collect();
        let out = self
            .call_in(app, "user.register", json!({"users": users}))
            .await
            .expect("register");
        for item in out["items"].as_array().expect("items") {
            assert!(item.get("error").is_none(), "register failed: {item}");
        }
    }

    /// Registers users of [`APP`] with password `pw`.
    async fn users(&self, names: &[&str]) {
        self.users_in(APP, names).await;
    }
}

/// A context of `app` carrying `files`.
fn context(app: &str, files: Vec<(&str, &[u8])>) -> CallContext {
    let attachments = files
        .into_iter()
        .map(|(name, bytes)| Attachment {
            field: "file".to_owned(),
            filename: Some(name.to_owned()),
            content_type: None,
            bytes: Bytes::copy_from_slice(bytes),
        })
        .collect();
    CallContext {
        app_key: app.to_owned(),
        request_id: "test".to_owned(),
        attachments: Arc::new(attachments),
    }
}

/// Asserts the kind and reason of an error.
#[track_caller]
fn expect(error: &Error, kind: ErrorKind, reason: Reason) {
    assert_eq!(
        (error.kind, error.reason),
        (kind, Some(reason)),
        "unexpected error {error}"
    );
}

/// The usernames of a list of user-shaped JSON objects.
fn names(items: &Value) -> Vec<String> {
    items
        .as_array()
        .expect("array")
        .iter()
        .map(|i| i["username"].as_str().expect("username").to_owned())
        .collect()
}

/// A valid 1×1 PNG.
const PNG_1X1: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0A, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

/// The upload reference of attachment `slot`.
fn upload(slot: usize) -> Value {
    json!({"slot": slot, "field": "file", "size": 0})
}
