//! Test harness: a real imbridge on ephemeral loopback ports with its own
//! databases (SQLite files, or a throwaway PostgreSQL cluster: see
//! [`on_postgres`]), and small HTTP clients for the dialects.

use std::cell::Cell;
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use deadpool_sqlite::rusqlite;
use imbridge::config::Config;
use imbridge::db::{Db, Location};
use imbridge::server::Running;
use reqwest::Method;
use serde_json::Value;
use tempfile::TempDir;

use crate::pg::Postgres;
pub use crate::ports::free_port;
use crate::replicas::Replicas;

/// The JMessage credentials every test server uses.
pub const APP_KEY: &str = "testappkey00000000000001";
/// The JMessage master secret every test server uses.
pub const MASTER_SECRET: &str = "test-master-secret";
/// The WildfireChat admin secret every test server uses: the seed's own
/// (`http.admin.secret_key` default), so the seed's signature verifies.
pub const WILDFIRE_SECRET: &str = "123456";
/// The rongcloud-app page size of test servers: small, so member lists page.
pub const RC_PAGE_SIZE: usize = 3;

/// Every frontend of `config/imbridge.toml`, in its order.
pub const ALL_FRONTENDS: &[&str] = &[
    "jmessage",
    "haorenao",
    "easemob-hx",
    "wildfire",
    "rongcloud-app",
];
/// A second JMessage app some servers also serve (the app key of the seed's
/// cross-app examples).
pub const OTHER_APP_KEY: &str = "4f7aef34fb361292c566a1cd";
/// The master secret of the second app.
pub const OTHER_MASTER_SECRET: &str = "other-master-secret";

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Waits until something accepts connections on `port`.
pub fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on port {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

thread_local! {
    /// Whether new setups keep their databases in PostgreSQL ([`on_postgres`]).
    static POSTGRES: Cell<bool> = const { Cell::new(false) };
    /// Whether servers start as replicas behind a balancer
    /// ([`crate::replicas::on_replicas`]).
    static REPLICAS: Cell<bool> = const { Cell::new(false) };
}

/// Runs `test` (a `#[tokio::test]` function of the suite) with every
/// [`Setup`] it makes on a throwaway PostgreSQL cluster instead of SQLite
/// files: the store and the embedded provider in one database of their own.
pub fn on_postgres(test: fn()) {
    on_postgres_with(false, test);
}

/// [`on_postgres`], with every server started as replicas when `replicas`.
pub fn on_postgres_with(replicas: bool, test: fn()) {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            POSTGRES.set(false);
            REPLICAS.set(false);
        }
    }
    POSTGRES.set(true);
    REPLICAS.set(replicas);
    let _reset = Reset;
    test();
}

/// Defines, inside a test module, a module `on_postgres` with a twin of
/// each listed `#[tokio::test]` of the module: the same test with its
/// databases on a throwaway PostgreSQL cluster ([`on_postgres`]).
macro_rules! postgres_twins {
    ($($test:ident),* $(,)?) => {
        mod on_postgres {
            $(#[test]
            fn $test() {
                $crate::harness::on_postgres(super::$test)
            })*
        }
    };
}
pub(crate) use postgres_twins;

/// Defines, inside a test module, a module `on_replicas` with a twin of each
/// listed `#[tokio::test]` of the module: the same test against three
/// replicas behind haproxy on one PostgreSQL cluster
/// ([`crate::replicas::on_replicas`]).
macro_rules! replica_twins {
    ($($test:ident),* $(,)?) => {
        mod on_replicas {
            $(#[test]
            fn $test() {
                $crate::replicas::on_replicas(super::$test)
            })*
        }
    };
}
pub(crate) use replica_twins;

/// Ports and paths of one test server.
pub struct Setup {
    /// API port.
    pub port: u16,
    /// Admin port.
    pub admin_port: u16,
    /// Temp dir holding the databases (SQLite) and media.
    pub dir: TempDir,
    /// Extra `key = value` lines of the `[providers.embedded]` table.
    pub embedded: String,
    /// Extra `key = value` lines of the `[server]` table.
    pub server: String,
    /// The cluster holding the databases, when on PostgreSQL.
    pub pg: Option<Arc<Postgres>>,
}

impl Setup {
    /// Fresh ports and a fresh temp dir (and a fresh cluster under
    /// [`on_postgres`]).
    pub fn new() -> Self {
        Setup {
            port: free_port(),
            admin_port: free_port(),
            dir: tempfile::tempdir().unwrap(),
            embedded: String::new(),
            server: String::new(),
            pg: POSTGRES.get().then(|| Arc::new(Postgres::start())),
        }
    }

    /// The same setup with more `[server]` settings, as TOML `key = value`
    /// lines (e.g. `header_timeout_secs = 1`).
    pub fn with_server(mut self, lines: &str) -> Self {
        self.server.push_str(lines);
        self.server.push('\n');
        self
    }

    /// Where the embedded provider's data is.
    pub fn provider_location(&self) -> Location {
        match &self.pg {
            Some(pg) => Location::Postgres(pg.url()),
            None => Location::Sqlite(self.dir.path().join("imbridge.db")),
        }
    }

    /// Where the store is.
    pub fn store_location(&self) -> Location {
        match &self.pg {
            Some(pg) => Location::Postgres(pg.url()),
            None => Location::Sqlite(self.dir.path().join("state.db")),
        }
    }

    /// `url = "…"` lines for `[store]` and `[providers.embedded]` on PostgreSQL.
    fn url_line(&self) -> String {
        self.pg
            .as_ref()
            .map(|pg| format!("url = \"{}\"\n", pg.url()))
            .unwrap_or_default()
    }

    /// The same setup with more settings of the embedded provider, as TOML
    /// `key = value` lines (e.g. `retract_window_secs = 1`).
    pub fn with_embedded(mut self, lines: &str) -> Self {
        self.embedded.push_str(lines);
        self.embedded.push('\n');
        self
    }

    /// The config text: all five frontends on one port over the embedded
    /// store (like `config/imbridge.toml`, with test credentials), plus
    /// `extra` TOML appended.
    pub fn config_text(&self, extra: &str) -> String {
        self.config_for(ALL_FRONTENDS, extra)
    }

    /// The config text serving only `frontends` (names of
    /// [`ALL_FRONTENDS`]), plus `extra` TOML appended.
    pub fn config_for(&self, frontends: &[&str], extra: &str) -> String {
        self.config_on(frontends, "embedded", extra)
    }

    /// The config text serving `frontends` on `provider` (a provider `extra`
    /// defines, or `embedded`).
    pub fn config_on(&self, frontends: &[&str], provider: &str, extra: &str) -> String {
        let tables = frontends
            .iter()
            .map(|name| format!("[frontends.{name}]\nprovider = \"{provider}\"\n"))
            .chain(frontends.iter().map(|name| match *name {
                "jmessage" => {
                    format!("[frontends.jmessage.params]\nmaster_secret = \"{MASTER_SECRET}\"\n")
                }
                "haorenao" | "easemob-hx" => String::new(),
                "wildfire" => {
                    format!("[frontends.wildfire.params]\nsecret = \"{WILDFIRE_SECRET}\"\n")
                }
                "rongcloud-app" => {
                    format!("[frontends.rongcloud-app.params]\npage_size = \"{RC_PAGE_SIZE}\"\n")
                }
                other => panic!("unknown frontend {other}"),
            }))
            .collect::<Vec<_>>()
            .join("\n");
        let head = self.head(&self.server);
        format!(
            r#"
{head}{embedded}
# The accounts of WildfireChat's /admin/customer and haorenao's
# /im/customer_service_get_info/, as the seeds show them.
[providers.embedded.customer]
id = "customer1"
name = "测试客户"

[providers.embedded.customer_service]
id = "haorenao_cs_001"
name = "客服"

{tables}
{extra}
"#,
            embedded = self.embedded,
        )
    }

    /// The top of a config: app key, shipped mappings, this setup's
    /// listeners and store, and the embedded provider (without the lines of
    /// [`Setup::with_embedded`]); `server` adds `key = value` lines to
    /// `[server]`.
    pub fn head(&self, server: &str) -> String {
        let dir = self.dir.path().display();
        format!(
            r#"app_key = "{APP_KEY}"
mappings = "{mappings}"

[server]
listen = "127.0.0.1:{port}"
admin_listen = "127.0.0.1:{admin}"
threads = 2
grace_period_secs = 0
drain_secs = 0
{server}
[store]
path = "{dir}/state.db"
{url}
[providers.embedded]
kind = "embedded"
path = "{dir}/imbridge.db"
{url}media_dir = "{dir}/media"
media_base_url = "http://127.0.0.1:{port}/media"
"#,
            mappings = repo().join("mappings").display(),
            port = self.port,
            admin = self.admin_port,
            url = self.url_line(),
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
    /// The config text it runs with.
    pub config: String,
    running: Server,
}

/// What serves an [`Imbridge`]: a server in this process, or replicas
/// (processes) behind a balancer.
enum Server {
    /// Stops when dropped.
    InProcess {
        _server: Running,
    },
    Replicas(Replicas),
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

    /// A server serving only `frontends`.
    pub fn start_frontends(frontends: &[&str]) -> Self {
        let setup = Setup::new();
        let text = setup.config_for(frontends, "");
        Self::start_text(setup, &text)
    }

    /// A server in a prepared setup.
    pub fn start_in(setup: Setup, extra: &str) -> Self {
        let text = setup.config_text(extra);
        Self::start_text(setup, &text)
    }

    /// A server from complete config text (replicas behind a balancer
    /// under [`crate::replicas::on_replicas`]).
    pub fn start_text(setup: Setup, text: &str) -> Self {
        let config = Config::from_toml(text).expect("test config parses");
        let running = match REPLICAS.get() {
            true => Server::Replicas(Replicas::start(&setup, text)),
            false => Server::InProcess {
                _server: imbridge::server::spawn(&config).expect("server builds"),
            },
        };
        Self::started(setup, running, text)
    }

    /// A server reading its config from `file` (and reloading from it).
    pub fn start_file(setup: Setup, file: &std::path::Path) -> Self {
        let config = Config::load(Some(file)).expect("test config parses");
        let source = imbridge::server::ConfigSource::File(Some(file.to_path_buf()));
        let running = imbridge::server::spawn_from(&config, source).expect("server builds");
        let text = std::fs::read_to_string(file).expect("config file readable");
        Self::started(setup, Server::InProcess { _server: running }, &text)
    }

    fn started(setup: Setup, running: Server, text: &str) -> Self {
        wait_for_port(setup.port);
        wait_for_port(setup.admin_port);
        Imbridge {
            base: format!("http://127.0.0.1:{}", setup.port),
            admin: format!("http://127.0.0.1:{}", setup.admin_port),
            setup,
            http: reqwest::Client::new(),
            config: text.to_string(),
            running,
        }
    }

    /// The replicas, when it runs as replicas.
    pub fn replicas(&mut self) -> Option<&mut Replicas> {
        match &mut self.running {
            Server::Replicas(r) => Some(r),
            Server::InProcess { .. } => None,
        }
    }

    /// Stops the server and starts it again on the same ports, files and
    /// config: what it kept only in memory (caches, metrics) is gone.
    pub fn restart(self) -> Self {
        let (setup, config) = self.stop();
        Self::start_text(setup, &config)
    }

    /// Stops the server; its setup and config text start it again
    /// ([`Imbridge::start_text`]) on the same ports and files.
    pub fn stop(self) -> (Setup, String) {
        let Imbridge {
            setup,
            config,
            running,
            ..
        } = self;
        drop(running);
        (setup, config)
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
        match &self.running {
            Server::Replicas(r) => r.metrics().await,
            Server::InProcess { .. } => {
                body_text(self.http.get(format!("{}/metrics", self.admin))).await
            }
        }
    }

    /// One sample of the admin listener's metrics, by name and its exact
    /// labels as Prometheus prints them (`by="user",frontend="x"`); 0 when
    /// absent.
    pub async fn metric(&self, name: &str, labels: &str) -> f64 {
        let key = format!("{name}{{{labels}}} ");
        self.metrics()
            .await
            .lines()
            .find_map(|l| l.strip_prefix(&key))
            .map_or(0.0, |v| v.trim().parse().unwrap())
    }

    /// The path of the SQLite file.
    pub fn db_path(&self) -> PathBuf {
        self.setup.dir.path().join("imbridge.db")
    }

    /// The path of imbridge's own state (issued tokens).
    pub fn state_path(&self) -> PathBuf {
        self.setup.dir.path().join("state.db")
    }

    /// Moves the expiry of every token `frontend` issued (to `subject`, when
    /// given) into the past, as if their lifetime had run out. Only tokens
    /// not yet presented are affected at once (verified tokens are cached for
    /// `[store.tokens] recheck_secs`, 5 s).
    pub async fn expire_tokens(&self, frontend: &str, subject: Option<&str>) -> u64 {
        let (frontend, subject) = (frontend.to_owned(), subject.map(str::to_owned));
        self.state_db()
            .write(move |tx| {
                tx.execute(
                    "UPDATE tokens SET expires = issued - 1 \
                     WHERE frontend = ?1 AND (subject = ?2 OR ?2 IS NULL)",
                    &[&frontend, &subject],
                )
            })
            .await
            .unwrap()
    }

    /// A request to this server.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{}", self.base, path))
    }

    /// GET without credentials.
    pub async fn get(&self, path: &str) -> Answer {
        Answer::of(self.request(Method::GET, path)).await
    }

    /// POST of a JSON body without other credentials.
    pub async fn post_json(&self, path: &str, body: Value) -> Answer {
        Answer::of(json_body(self.request(Method::POST, path), &body)).await
    }

    /// POST of a form-urlencoded body without other credentials.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        Answer::of(self.request(Method::POST, path).form(fields)).await
    }

    /// POST of raw bytes with a content type.
    pub async fn post_raw(&self, path: &str, content_type: &str, body: &[u8]) -> Answer {
        Answer::of(
            self.request(Method::POST, path)
                .header("content-type", content_type)
                .body(body.to_vec()),
        )
        .await
    }

    /// Registers users through JMessage (a JSON array of JMessage user
    /// objects), asserting the answer is one `{username}` per user, in order.
    pub async fn register(&self, users: Value) {
        crate::jm::register_users(&self.jm(), users).await;
    }

    /// An easemob-hx client holding a fresh admin token.
    pub async fn hx(&self) -> Hx {
        // The seed's getToken takes no parameters and no body.
        let a = Answer::of(self.request(Method::POST, "/hx/getToken"))
            .await
            .expect(200);
        let token = a.json["data"]["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no access_token in {}", a.text))
            .to_string();
        Hx {
            base: self.base.clone(),
            http: self.http.clone(),
            token,
        }
    }

    /// A WildfireChat admin client signing with the test secret.
    pub fn wf(&self) -> Wf {
        Wf {
            base: self.base.clone(),
            http: self.http.clone(),
            secret: WILDFIRE_SECRET.into(),
        }
    }

    /// A rongcloud-app client logged in as `username`.
    pub async fn rc(&self, username: &str, password: &str) -> Rc {
        let a = self
            .post_json(
                "/api/auth/token/",
                serde_json::json!({"username": username, "password": password}),
            )
            .await
            .expect(200);
        let token = a.json["token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token in {}", a.text))
            .to_string();
        self.rc_with(Some(&token))
    }

    /// A rongcloud-app client sending `Authorization: Token <token>` (or no
    /// Authorization header).
    pub fn rc_with(&self, token: Option<&str>) -> Rc {
        Rc {
            base: self.base.clone(),
            http: self.http.clone(),
            token: token.map(String::from),
            basic: None,
        }
    }

    /// A rongcloud-app client sending the user's `Authorization: Basic`
    /// credentials on every call instead of a token.
    pub fn rc_basic(&self, username: &str, password: &str) -> Rc {
        Rc {
            basic: Some((username.to_string(), password.to_string())),
            ..self.rc_with(None)
        }
    }

    /// The embedded provider's database (SQLite or PostgreSQL), to check
    /// what an API cannot show.
    pub fn provider_db(&self) -> Db {
        Db::connect(&self.setup.provider_location(), 1).expect("the provider's database opens")
    }

    /// The store's database (SQLite or PostgreSQL).
    pub fn state_db(&self) -> Db {
        Db::connect(&self.setup.store_location(), 1).expect("the store's database opens")
    }

    /// A read-only connection to the embedded provider's SQLite file (SQLite
    /// setups only; [`Imbridge::provider_db`] works on both), to check what
    /// an endpoint without a read-back API stored.
    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open_with_flags(
            self.db_path(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .expect("the store's database opens")
    }
}

/// The request with `body` as its JSON body (`content-type: application/json`).
pub fn json_body(req: reqwest::RequestBuilder, body: &Value) -> reqwest::RequestBuilder {
    req.header("content-type", "application/json")
        .body(serde_json::to_vec(body).unwrap())
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
    /// Sends a request and reads the whole answer.
    pub async fn of(req: reqwest::RequestBuilder) -> Answer {
        Answer::from(req.send().await.unwrap()).await
    }

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

    /// Uploads `bytes` named `filename` as a resource of `kind` (`image`,
    /// `file`, `voice`): a multipart POST to `/v1/resource?type=<kind>` with
    /// the file in the field `filename`.
    pub async fn upload(&self, kind: &str, filename: &str, bytes: Vec<u8>) -> Answer {
        let part = reqwest::multipart::Part::bytes(bytes).file_name(filename.to_string());
        let form = reqwest::multipart::Form::new().part("filename", part);
        Answer::from(
            self.request(Method::POST, &format!("/v1/resource?type={kind}"))
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

/// Runs the imbridge binary with `args` in the repository root; returns
/// whether it succeeded, its stdout and its stderr.
pub fn run_imbridge(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_imbridge"))
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Sends a request and returns the answer's body as text, whatever its
/// status.
pub async fn body_text(req: reqwest::RequestBuilder) -> String {
    req.send().await.unwrap().text().await.unwrap()
}

/// GETs `url` (a media link an answer gave) and returns the body's bytes.
pub async fn download(http: &reqwest::Client, url: &str) -> Vec<u8> {
    let resp = http.get(url).send().await.unwrap();
    resp.bytes().await.unwrap().to_vec()
}

/// Path of a file under `tests/`.
pub fn test_file(rel: &str) -> PathBuf {
    repo().join("tests").join(rel)
}

/// An easemob-hx (`/hx/...`) client: every call is a POST of a JSON body
/// carrying the admin token as `token`.
#[derive(Clone)]
pub struct Hx {
    /// Base URL.
    pub base: String,
    /// HTTP client.
    pub http: reqwest::Client,
    /// The token from `/hx/getToken`.
    pub token: String,
}

impl Hx {
    /// POSTs `body` plus `token` to `path`.
    pub async fn call(&self, path: &str, mut body: Value) -> Answer {
        body["token"] = Value::String(self.token.clone());
        self.raw(path, body).await
    }

    /// POSTs `body` as it is (no token added).
    pub async fn raw(&self, path: &str, body: Value) -> Answer {
        Answer::of(json_body(
            self.http.post(format!("{}{}", self.base, path)),
            &body,
        ))
        .await
    }
}

/// A WildfireChat admin API client, written from the vendor's description:
/// POST with a JSON body and headers `nonce`, `timestamp` (ms) and
/// `sign = hex(sha1(nonce|secret|timestamp))`.
#[derive(Clone)]
pub struct Wf {
    /// Base URL.
    pub base: String,
    /// HTTP client.
    pub http: reqwest::Client,
    /// The admin secret.
    pub secret: String,
}

/// Signature headers of one WildfireChat call.
#[derive(Debug, Clone)]
pub struct Signed {
    /// `nonce` header.
    pub nonce: String,
    /// `timestamp` header (ms).
    pub timestamp: String,
    /// `sign` header.
    pub sign: String,
}

impl Wf {
    /// `hex(sha1(nonce|secret|timestamp))`.
    pub fn sign(&self, nonce: &str, timestamp: &str) -> String {
        use sha1::Digest;
        let mut h = sha1::Sha1::new();
        h.update(format!("{nonce}|{}|{timestamp}", self.secret).as_bytes());
        hex::encode(h.finalize())
    }

    /// Fresh headers: a random nonce and the current time.
    pub fn fresh(&self) -> Signed {
        let nonce = rand::random::<u32>().to_string();
        let timestamp = chrono::Utc::now().timestamp_millis().to_string();
        self.signed_at(&nonce, &timestamp)
    }

    /// Headers for a given nonce and timestamp.
    pub fn signed_at(&self, nonce: &str, timestamp: &str) -> Signed {
        Signed {
            sign: self.sign(nonce, timestamp),
            nonce: nonce.into(),
            timestamp: timestamp.into(),
        }
    }

    /// A signed POST with fresh headers; `None` sends no body.
    pub async fn post(&self, path: &str, body: Option<Value>) -> Answer {
        self.post_signed(path, body, Some(&self.fresh())).await
    }

    /// A POST with the given headers (or none at all).
    pub async fn post_signed(
        &self,
        path: &str,
        body: Option<Value>,
        signed: Option<&Signed>,
    ) -> Answer {
        let mut req = self.http.post(format!("{}{}", self.base, path));
        if let Some(s) = signed {
            req = req
                .header("nonce", &s.nonce)
                .header("timestamp", &s.timestamp)
                .header("sign", &s.sign);
        }
        if let Some(b) = body {
            req = json_body(req, &b);
        }
        Answer::of(req).await
    }
}

/// A rongcloud-app (`/api/...`) client: `Authorization: Token <token>`.
#[derive(Clone)]
pub struct Rc {
    /// Base URL.
    pub base: String,
    /// HTTP client.
    pub http: reqwest::Client,
    /// The token from `/api/auth/token/`, if any.
    pub token: Option<String>,
    /// Username and password sent as `Authorization: Basic`, if any.
    pub basic: Option<(String, String)>,
}

impl Rc {
    /// A request to `path`, or to an absolute URL (a `next` link).
    pub fn request(&self, method: Method, path_or_url: &str) -> reqwest::RequestBuilder {
        let url = if path_or_url.starts_with("http") {
            path_or_url.to_string()
        } else {
            format!("{}{}", self.base, path_or_url)
        };
        let mut req = self.http.request(method, url);
        if let Some(t) = &self.token {
            req = req.header("authorization", format!("Token {t}"));
        } else if let Some((user, password)) = &self.basic {
            req = req.basic_auth(user, Some(password));
        }
        req
    }

    /// GET of a path or absolute URL.
    pub async fn get(&self, path_or_url: &str) -> Answer {
        Answer::of(self.request(Method::GET, path_or_url)).await
    }

    /// POST of a JSON body.
    pub async fn post_json(&self, path: &str, body: Value) -> Answer {
        Answer::of(json_body(self.request(Method::POST, path), &body)).await
    }

    /// POST of a form-urlencoded body.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        Answer::of(self.request(Method::POST, path).form(fields)).await
    }

    /// POST of a multipart form: text fields plus one file.
    pub async fn post_multipart(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        file: Option<(&str, &str, Vec<u8>)>,
    ) -> Answer {
        let mut form = reqwest::multipart::Form::new();
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        if let Some((field, name, bytes)) = file {
            let part = reqwest::multipart::Part::bytes(bytes)
                .file_name(name.to_string())
                .mime_str("image/png")
                .unwrap();
            form = form.part(field.to_string(), part);
        }
        Answer::of(self.request(Method::POST, path).multipart(form)).await
    }
}

/// A real PNG image of `width` × `height` pixels of one RGB colour
/// (uncompressed deflate blocks, CRCs and Adler-32 computed here).
pub fn png(width: u32, height: u32, rgb: [u8; 3]) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc = crc32fast::Hasher::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&crc.finalize().to_be_bytes());
    }
    // Each row: filter type 0 (none), then the pixels.
    let row: Vec<u8> = std::iter::once(0)
        .chain(rgb.iter().copied().cycle().take(3 * width as usize))
        .collect();
    let raw = row.repeat(height as usize);
    // zlib stream of stored blocks.
    let mut z = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65535).collect();
    for (i, block) in blocks.iter().enumerate() {
        z.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        z.extend_from_slice(&len.to_le_bytes());
        z.extend_from_slice(&(!len).to_le_bytes());
        z.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for byte in &raw {
        a = (a + u32::from(*byte)) % 65521;
        b = (b + a) % 65521;
    }
    z.extend_from_slice(&((b << 16) | a).to_be_bytes());
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, deflate, no filter, no interlace
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &z);
    chunk(&mut out, b"IEND", &[]);
    out
}

/// Runs an official SDK scenario script (`tests/sdk/<script>`) with the
/// Python of venv `target/py/<venv>` (made by `.ci/setup --tests`), with
/// `args`; asserts it succeeded and returns the JSON summary it prints last.
/// A missing venv fails the test, never skips it.
pub async fn run_sdk_scenario(venv: &str, script: &str, args: &[&str]) -> Value {
    let python = repo().join("target/py").join(venv).join("bin/python");
    assert!(
        python.exists(),
        "the {venv} SDK venv is missing ({}): run `.ci/setup --tests`",
        python.display()
    );
    let out = tokio::process::Command::new(python)
        .arg(test_file(&format!("sdk/{script}")))
        .args(args)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .await
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the SDK scenario failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("summary `{last}`: {e}"))
}
