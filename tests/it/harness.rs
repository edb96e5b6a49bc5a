//! Test harness: a real imbridge on ephemeral loopback ports with its own
//! SQLite file, and small HTTP clients for the dialects.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use deadpool_sqlite::rusqlite;
use imbridge::config::Config;
use imbridge::server::Running;
use reqwest::Method;
use serde_json::Value;
use tempfile::TempDir;

/// The JMessage credentials every test server uses.
pub const APP_KEY: &str = "testappkey00000000000001";
/// The JMessage master secret every test server uses.
pub const MASTER_SECRET: &str = "test-master-secret";
/// A second JMessage app some servers also serve (the app key of the seed's
/// cross-app examples).
pub const OTHER_APP_KEY: &str = "4f7aef34fb361292c566a1cd";
/// The master secret of the second app.
pub const OTHER_MASTER_SECRET: &str = "other-master-secret";

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A free loopback port for a test server.
///
/// Not `bind(0)`: the kernel may hand the same ephemeral port to a test
/// running in parallel, or to an outgoing connection, before our server binds
/// it; pingora then retries the bind forever while `wait_for_port` connects
/// to the other server. Ports come from below the ephemeral range
/// (32768-60999 on Linux), from a block of this process (nextest runs each
/// test in its own process) and a counter (tests sharing a process), and are
/// checked free by binding.
pub fn free_port() -> u16 {
    const FIRST: u32 = 20_000;
    const SPAN: u32 = 12_000;
    const BLOCK: u32 = 64;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let block = std::process::id() % (SPAN / BLOCK) * BLOCK;
    for _ in 0..SPAN {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = u16::try_from(FIRST + (block + n) % SPAN).unwrap();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {FIRST}..{}", FIRST + SPAN);
}

/// Waits until something accepts connections on `port`.
pub fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on port {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Ports and paths of one test server.
pub struct Setup {
    /// API port.
    pub port: u16,
    /// Admin port.
    pub admin_port: u16,
    /// Temp dir holding the database and media.
    pub dir: TempDir,
    /// Extra `key = value` lines of the `[providers.embedded]` table.
    pub embedded: String,
}

impl Setup {
    /// Fresh ports and a fresh temp dir.
    pub fn new() -> Self {
        Setup {
            port: free_port(),
            admin_port: free_port(),
            dir: tempfile::tempdir().unwrap(),
            embedded: String::new(),
        }
    }

    /// The same setup with more settings of the embedded store, as TOML
    /// `key = value` lines (e.g. `retract_window_secs = 1`).
    pub fn with_embedded(mut self, lines: &str) -> Self {
        self.embedded.push_str(lines);
        self.embedded.push('\n');
        self
    }

    /// The config text: all frontends on one port over the embedded store,
    /// plus `extra` TOML appended.
    pub fn config_text(&self, extra: &str) -> String {
        let dir = self.dir.path().display();
        let mappings = repo().join("mappings");
        format!(
            r#"
app_key = "{APP_KEY}"
mappings = "{mappings}"

[server]
listen = "127.0.0.1:{port}"
admin_listen = "127.0.0.1:{admin}"
threads = 2
max_body_bytes = 10485760
grace_period_secs = 0

[providers.embedded]
kind = "embedded"
path = "{dir}/imbridge.db"
media_dir = "{dir}/media"
media_base_url = "http://127.0.0.1:{port}/media"
{embedded}
[frontends.jmessage.params]
master_secret = "{MASTER_SECRET}"
{extra}
"#,
            mappings = mappings.display(),
            port = self.port,
            admin = self.admin_port,
            embedded = self.embedded,
        )
    }

    /// Writes the config to a file in the temp dir.
    pub fn write_config(&self, extra: &str) -> PathBuf {
        let path = self.dir.path().join("imbridge.toml");
        std::fs::write(&path, self.config_text(extra)).unwrap();
        path
    }
}

/// A running imbridge.
pub struct Imbridge {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// `http://127.0.0.1:ADMIN_PORT`.
    pub admin: String,
    /// Ports and temp dir.
    pub setup: Setup,
    /// HTTP client.
    pub http: reqwest::Client,
    _running: Running,
}

impl Imbridge {
    /// A server with the default frontends.
    pub fn start() -> Self {
        Self::start_with("")
    }

    /// A server with extra config appended.
    pub fn start_with(extra: &str) -> Self {
        Self::start_in(Setup::new(), extra)
    }

    /// A server in a prepared setup.
    pub fn start_in(setup: Setup, extra: &str) -> Self {
        let config = Config::from_toml(&setup.config_text(extra)).expect("test config parses");
        let running = imbridge::server::spawn(&config).expect("server builds");
        wait_for_port(setup.port);
        wait_for_port(setup.admin_port);
        Imbridge {
            base: format!("http://127.0.0.1:{}", setup.port),
            admin: format!("http://127.0.0.1:{}", setup.admin_port),
            setup,
            http: reqwest::Client::new(),
            _running: running,
        }
    }

    /// A server that also serves the JMessage app `OTHER_APP_KEY` on a listener
    /// of its own, over the same store; returns it with a client of that app.
    pub fn start_with_other_app() -> (Self, Jm) {
        let port = free_port();
        let im = Self::start_with(&format!(
            r#"
[frontends.other]
dialect = "jmessage"
listen = "127.0.0.1:{port}"
app_key = "{OTHER_APP_KEY}"

[frontends.other.params]
master_secret = "{OTHER_MASTER_SECRET}"
"#
        ));
        wait_for_port(port);
        let other = Jm {
            base: format!("http://127.0.0.1:{port}"),
            http: im.http.clone(),
            auth: Some((OTHER_APP_KEY.into(), OTHER_MASTER_SECRET.into())),
        };
        (im, other)
    }

    /// A JMessage client with the right credentials.
    pub fn jm(&self) -> Jm {
        Jm::for_port(self.setup.port)
    }

    /// The Prometheus text of the admin listener.
    pub async fn metrics(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.admin))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// The path of the SQLite file.
    pub fn db_path(&self) -> PathBuf {
        self.setup.dir.path().join("imbridge.db")
    }

    /// A read-only connection to the store's SQLite file, to check what an
    /// endpoint without a read-back API stored.
    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open_with_flags(
            self.db_path(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .expect("the store's database opens")
    }
}

/// An HTTP answer: status, headers and body (JSON when it parses).
#[derive(Debug)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Raw body.
    pub text: String,
    /// Parsed body (Null when empty or not JSON).
    pub json: Value,
    /// Content-Type header.
    pub content_type: Option<String>,
}

impl Answer {
    async fn from(resp: reqwest::Response) -> Answer {
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let text = resp.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            text,
            json,
            content_type,
        }
    }

    /// Asserts the status, showing the body when it differs.
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        self
    }

    /// Asserts the status and an empty body (JMessage's 204 and batch-delete 200).
    pub fn expect_empty(self, status: u16) -> Self {
        let a = self.expect(status);
        assert!(a.text.is_empty(), "expected an empty body, got {}", a.text);
        a
    }

    /// Asserts a JMessage error answer: status and error code.
    pub fn expect_jm_error(self, status: u16, code: i64) -> Self {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        assert_eq!(
            self.json["error"]["code"], code,
            "unexpected error code; body: {}",
            self.text
        );
        assert!(
            self.json["error"]["message"].is_string(),
            "error.message missing: {}",
            self.text
        );
        self
    }
}

/// A JMessage REST client (Basic auth, JSON bodies).
#[derive(Clone)]
pub struct Jm {
    /// Base URL.
    pub base: String,
    /// HTTP client.
    pub http: reqwest::Client,
    /// Basic auth pair, if any.
    pub auth: Option<(String, String)>,
}

impl Jm {
    /// A client of the test app for a server listening on `port`.
    pub fn for_port(port: u16) -> Jm {
        Jm {
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
            auth: Some((APP_KEY.into(), MASTER_SECRET.into())),
        }
    }

    /// The same client with other credentials (or none).
    pub fn with_auth(&self, auth: Option<(&str, &str)>) -> Jm {
        Jm {
            auth: auth.map(|(a, b)| (a.to_string(), b.to_string())),
            ..self.clone()
        }
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some((user, pass)) = &self.auth {
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
            req = req.header("authorization", format!("Basic {token}"));
        }
        req
    }

    /// Sends a request with an optional JSON body.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let mut req = self.request(method, path);
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json; charset=utf-8")
                .body(serde_json::to_vec(&b).unwrap());
        }
        Answer::from(req.send().await.unwrap()).await
    }

    /// Sends raw bytes with a content type.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Answer {
        let req = self
            .request(method, path)
            .header("content-type", content_type)
            .body(body);
        Answer::from(req.send().await.unwrap()).await
    }

    /// Sends a multipart upload.
    pub async fn upload(&self, path: &str, field: &str, filename: &str, bytes: Vec<u8>) -> Answer {
        let part = reqwest::multipart::Part::bytes(bytes).file_name(filename.to_string());
        let form = reqwest::multipart::Form::new().part(field.to_string(), part);
        Answer::from(
            self.request(Method::POST, path)
                .multipart(form)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// GET.
    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None).await
    }

    /// POST with a JSON body.
    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(body)).await
    }

    /// PUT with an optional JSON body.
    pub async fn put(&self, path: &str, body: Option<Value>) -> Answer {
        self.call(Method::PUT, path, body).await
    }

    /// DELETE with an optional JSON body.
    pub async fn delete(&self, path: &str, body: Option<Value>) -> Answer {
        self.call(Method::DELETE, path, body).await
    }
}

/// Asserts that `value` has every field of `shape` with the JSON type named
/// there ("string", "integer", "number", "boolean", "array", "object", "null"),
/// and, when `exact`, no other fields.
pub fn assert_shape(value: &Value, shape: &[(&str, &str)], exact: bool) {
    let obj = value
        .as_object()
        .unwrap_or_else(|| panic!("expected an object, got {value}"));
    for (field, ty) in shape {
        let v = obj
            .get(*field)
            .unwrap_or_else(|| panic!("field `{field}` missing in {value}"));
        let ok = match *ty {
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "array" => v.is_array(),
            "object" => v.is_object(),
            "null" => v.is_null(),
            other => panic!("unknown type {other}"),
        };
        assert!(ok, "field `{field}` should be {ty}, got {v} in {value}");
    }
    if exact {
        for key in obj.keys() {
            assert!(
                shape.iter().any(|(f, _)| f == key),
                "unexpected field `{key}` in {value}"
            );
        }
    }
}

/// Path of a file under `tests/`.
pub fn test_file(rel: &str) -> PathBuf {
    repo().join("tests").join(rel)
}
