//! Secrets stay secret. Two real `imbridge serve` processes at debug level
//! (`RUST_LOG=debug`): B stands in for three vendors (JMessage, Easemob,
//! RongCloud), A serves every seed dialect on them (so master secrets,
//! signature secrets, Easemob client credentials and user passwords travel
//! from A to B), plus a provider with a wrong secret and one that is down.
//! Traffic succeeds and fails (bad credentials, vendor refusals, vendor down,
//! unsupported operations); tokens are issued (easemob-hx, rongcloud-app,
//! RongCloud IM tokens, Easemob app tokens). Then A's and B's logs (one in
//! JSON, the other in text, and the other way round), every error body, both
//! `/metrics` texts and `imbridge translate` output are searched for every
//! secret, raw and Basic-encoded: none may be there.
//!
//! The same run checks that the logs are what operators need: JSON lines in
//! JSON, and the request id (`x-request-id`) on the request's events at A
//! and, sent along, at B.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use base64::Engine;
use serde_json::{json, Value};

use crate::harness::{body_text, free_port, wait_for_port, Answer, Jm, Setup, Wf, APP_KEY};

/// A's JMessage master secret (its callers' credentials).
const JM_FRONT: &str = "sEcReT-jm-front-4d1f9a";
/// B's JMessage master secret (A's provider credentials).
const JM_VENDOR: &str = "sEcReT-jm-vendor-77ab02";
/// A wrong vendor secret A's `jm-bad` provider sends.
const JM_WRONG: &str = "sEcReT-jm-wrong-0c9e4d";
/// WildfireChat signature secret of A.
const WF: &str = "sEcReT-wf-sign-5e31b7";
/// RongCloud app secret (B's, and A's provider's).
const RC: &str = "sEcReT-rc-app-a8d260";
/// Easemob client secret (B's, and A's provider's).
const EM: &str = "YXA6sEcReT-em-client-3b7c11";
/// A user password, and the one it is changed to.
const PW: &str = "sEcReT-user-pw-91f0c3";
const PW2: &str = "sEcReT-user-pw2-e5aa78";
const ORG: &str = "sec-org";
const APP: &str = "sec-app";
const CLIENT_ID: &str = "YXA6sec-client-id";

/// A running `imbridge serve` writing its logs to a file, killed on drop.
struct Server {
    child: Child,
    log: PathBuf,
}

impl Server {
    fn start(config: &Path, log: PathBuf, ports: &[u16]) -> Server {
        let child = Command::new(env!("CARGO_BIN_EXE_imbridge"))
            .args(["serve", "--config"])
            .arg(config)
            .env("RUST_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("imbridge starts");
        let server = Server { child, log };
        for port in ports {
            wait_for_port(*port);
        }
        server
    }

    /// Stops the server; returns its log.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::fs::read_to_string(&self.log).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The top of a config of `setup` logging in `log_format`.
fn head(setup: &Setup, log_format: &str) -> String {
    setup.head(&format!("log_format = \"{log_format}\"\n")) + "\n"
}

fn provider(name: &str, dialect: &str, base: &str, params: &str) -> String {
    format!(
        "[providers.{name}]\nkind = \"vendor\"\ndialect = \"{dialect}\"\nbase_url = \"{base}\"\n\
         timeout_ms = 2000\nretries = 0\n\n[providers.{name}.params]\n{params}\n"
    )
}

fn frontend(
    name: &str,
    dialect: &str,
    listen: Option<u16>,
    provider: &str,
    params: &str,
) -> String {
    let listen = listen.map_or(String::new(), |p| format!("listen = \"127.0.0.1:{p}\"\n"));
    format!(
        "[frontends.{name}]\ndialect = \"{dialect}\"\n{listen}provider = \"{provider}\"\n\n\
         [frontends.{name}.params]\n{params}\n"
    )
}

fn basic(user: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

/// What the run produced, to be searched.
#[derive(Default)]
struct Evidence {
    /// (what, text).
    texts: Vec<(String, String)>,
    /// Tokens issued on the way (secrets too).
    tokens: Vec<String>,
}

impl Evidence {
    fn add(&mut self, what: impl Into<String>, text: impl Into<String>) {
        self.texts.push((what.into(), text.into()));
    }

    /// Records the body of a failed request.
    fn failed(&mut self, what: &str, a: Answer) -> Answer {
        assert!(
            a.status >= 400 || a.text.contains("failed") || a.json["code"] != 200,
            "{what} did not fail: {} {}",
            a.status,
            a.text
        );
        self.add(format!("error body of {what}"), a.text.clone());
        a
    }
}

async fn send(req: reqwest::RequestBuilder) -> Answer {
    Answer::of(req).await
}

/// Runs the whole scenario with A's logs in `a_format` and B's in
/// `b_format`.
async fn scenario(a_format: &str, b_format: &str) {
    let http = reqwest::Client::new();
    let mut ev = Evidence::default();

    // B: the three vendors.
    let b = Setup::new();
    let (b_em, b_rc) = (free_port(), free_port());
    let b_config = b.dir.path().join("b.toml");
    std::fs::write(
        &b_config,
        head(&b, b_format)
            + &frontend("jmessage", "jmessage", None, "embedded", &format!("master_secret = \"{JM_VENDOR}\"\n"))
            + &frontend(
                "easemob",
                "easemob",
                Some(b_em),
                "embedded",
                &format!("org_name = \"{ORG}\"\napp_name = \"{APP}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"{EM}\"\n"),
            )
            + &frontend("rongcloud", "rongcloud", Some(b_rc), "embedded", &format!("app_secret = \"{RC}\"\n")),
    )
    .unwrap();
    let vendor = Server::start(
        &b_config,
        b.dir.path().join("b.log"),
        &[b.port, b.admin_port, b_em, b_rc],
    );

    // A: every seed dialect over the vendors, and JMessage on each provider.
    let a = Setup::new();
    let (a_em, a_rc, a_bad, a_down) = (free_port(), free_port(), free_port(), free_port());
    // The provider that is down: a port held bound without listening, so
    // connections are refused and no other test's server can take it.
    let dead_socket = tokio::net::TcpSocket::new_v4().unwrap();
    dead_socket.bind(([127, 0, 0, 1], 0).into()).unwrap();
    let dead = dead_socket.local_addr().unwrap().port();
    let jm_params =
        |secret: &str| format!("app_key = \"{APP_KEY}\"\nmaster_secret = \"{secret}\"\n");
    let front = format!("master_secret = \"{JM_FRONT}\"\n");
    let a_config = a.dir.path().join("a.toml");
    std::fs::write(
        &a_config,
        head(&a, a_format)
            + &provider("jm", "jmessage", &format!("http://127.0.0.1:{}", b.port), &jm_params(JM_VENDOR))
            + &provider("jm-bad", "jmessage", &format!("http://127.0.0.1:{}", b.port), &jm_params(JM_WRONG))
            + &provider("down", "jmessage", &format!("http://127.0.0.1:{dead}"), &jm_params(JM_VENDOR))
            + &provider(
                "em",
                "easemob",
                &format!("http://127.0.0.1:{b_em}"),
                &format!("org_name = \"{ORG}\"\napp_name = \"{APP}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"{EM}\"\n"),
            )
            + &provider(
                "rc",
                "rongcloud",
                &format!("http://127.0.0.1:{b_rc}"),
                &format!("app_key = \"{APP_KEY}\"\napp_secret = \"{RC}\"\n"),
            )
            + &frontend("jmessage", "jmessage", None, "jm", &front)
            + &frontend("haorenao", "haorenao", None, "em", "")
            + &frontend("easemob-hx", "easemob-hx", None, "em", "")
            + &frontend("rongcloud-app", "rongcloud-app", None, "rc", "")
            + &frontend("wildfire", "wildfire", None, "embedded", &format!("secret = \"{WF}\"\n"))
            + &frontend("jm-easemob", "jmessage", Some(a_em), "em", &front)
            + &frontend("jm-rongcloud", "jmessage", Some(a_rc), "rc", &front)
            + &frontend("jm-bad", "jmessage", Some(a_bad), "jm-bad", &front)
            + &frontend("jm-down", "jmessage", Some(a_down), "down", &front),
    )
    .unwrap();
    let proxy = Server::start(
        &a_config,
        a.dir.path().join("a.log"),
        &[a.port, a.admin_port, a_em, a_rc, a_bad, a_down],
    );
    let jm_at = |port: u16| Jm::for_port(port).with_auth(Some((APP_KEY, JM_FRONT)));
    let jm = jm_at(a.port);
    let base = format!("http://127.0.0.1:{}", a.port);

    // JMessage on the JMessage vendor: users with passwords, a password
    // change, a message; a request id followed to B.
    let users = json!([{"username": "u1", "password": PW}, {"username": "u2", "password": PW}]);
    let r = jm.post("/v1/users/", users).await.expect(201);
    assert!(r.json[0].get("error").is_none(), "{}", r.text);
    let traced = send(
        http.get(format!("{base}/v1/users/u1"))
            .header(
                "authorization",
                format!("Basic {}", basic(APP_KEY, JM_FRONT)),
            )
            .header("x-request-id", "trace-me-4711"),
    )
    .await
    .expect(200);
    assert_eq!(traced.json["username"], "u1", "{}", traced.text);
    jm.put("/v1/users/u1/password", Some(json!({"new_password": PW2})))
        .await
        .expect(204);
    jm.post(
        "/v1/messages",
        json!({"version": 1, "target_type": "single", "target_id": "u2", "from_type": "user",
               "from_id": "u1", "msg_type": "text", "msg_body": {"text": "hi"}}),
    )
    .await
    .expect(201);
    ev.failed("an unknown user", jm.get("/v1/users/nobody").await);
    ev.failed(
        "a wrong master secret",
        jm.with_auth(Some((APP_KEY, "not-the-secret")))
            .get("/v1/users/u1")
            .await,
    );
    ev.failed(
        "another app's secret as master secret",
        jm.with_auth(Some((APP_KEY, JM_VENDOR)))
            .get("/v1/users/u1")
            .await,
    );
    // The vendor refuses A's credentials; the vendor is down.
    ev.failed(
        "a provider with a wrong secret",
        jm_at(a_bad).get("/v1/users/u1").await,
    );
    let down = send(
        http.get(format!("http://127.0.0.1:{a_down}/v1/users/u1"))
            .header(
                "authorization",
                format!("Basic {}", basic(APP_KEY, JM_FRONT)),
            )
            .header("x-request-id", "vendor-down-0815"),
    )
    .await;
    ev.failed("a provider that is down", down);

    // Easemob: client credentials for A's app token, passwords to B.
    let on_em = jm_at(a_em);
    on_em
        .post("/v1/users/", json!([{"username": "u3", "password": PW}]))
        .await
        .expect(201);
    on_em.get("/v1/users/u3").await.expect(200);
    on_em
        .put("/v1/users/u3/password", Some(json!({"new_password": PW2})))
        .await
        .expect(204);
    let login = send(
        http.post(format!("{base}/im/user_get_group_list/"))
            .form(&[("username", "u3"), ("password", PW2)]),
    )
    .await
    .expect(200);
    assert_eq!(login.json["ret"], "ok", "{}", login.text);
    ev.failed(
        "a haorenao login with a wrong password",
        send(
            http.post(format!("{base}/im/user_get_group_list/"))
                .form(&[("username", "u3"), ("password", PW)]),
        )
        .await,
    );
    let hx = send(http.post(format!("{base}/hx/getToken")))
        .await
        .expect(200);
    let hx_token = hx.json["data"]["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    ev.tokens.push(hx_token.clone());
    let got = send(
        http.post(format!("{base}/hx/getUser"))
            .json(&json!({"token": hx_token, "username": "u3"})),
    )
    .await
    .expect(200);
    assert_eq!(got.json["code"], 200, "{}", got.text);
    ev.failed(
        "an easemob-hx call with a wrong token",
        send(
            http.post(format!("{base}/hx/getUser"))
                .json(&json!({"token": "not-a-token", "username": "u3"})),
        )
        .await,
    );
    // B's Easemob token, asked for directly.
    let em_base = format!("http://127.0.0.1:{b_em}/{ORG}/{APP}");
    let t = send(http.post(format!("{em_base}/token")).json(
        &json!({"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": EM}),
    ))
    .await
    .expect(200);
    let em_token = t.json["access_token"].as_str().unwrap().to_string();
    ev.tokens.push(em_token.clone());
    send(
        http.get(format!("{em_base}/users/u3"))
            .bearer_auth(&em_token),
    )
    .await
    .expect(200);
    ev.failed(
        "an Easemob token request with a wrong secret",
        send(http.post(format!("{em_base}/token")).json(
            &json!({"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": JM_WRONG}),
        ))
        .await,
    );

    // RongCloud: signatures with the app secret; rongcloud-app logins and
    // tokens; what RongCloud cannot do.
    let on_rc = jm_at(a_rc);
    on_rc
        .post("/v1/users/", json!([{"username": "u4", "password": PW}]))
        .await
        .expect(201);
    on_rc.get("/v1/users/u4").await.expect(200);
    ev.failed("an unsupported operation", on_rc.get("/v1/groups/1").await);
    let t = send(
        http.post(format!("{base}/api/auth/token/"))
            .json(&json!({"username": "u4", "password": PW})),
    )
    .await
    .expect(200);
    let app_token = t.json["token"].as_str().unwrap().to_string();
    ev.tokens.push(app_token.clone());
    let im = send(
        http.get(format!("{base}/api/im/token/"))
            .header("authorization", format!("Token {app_token}")),
    )
    .await
    .expect(200);
    let im_token = im.json["key"].as_str().unwrap().to_string();
    ev.tokens.push(im_token);
    ev.failed(
        "a rongcloud-app login with a wrong password",
        send(
            http.post(format!("{base}/api/auth/token/"))
                .json(&json!({"username": "u4", "password": PW2})),
        )
        .await,
    );
    ev.failed(
        "a rongcloud-app call with a wrong token",
        send(
            http.get(format!("{base}/api/im/token/"))
                .header("authorization", "Token not-a-token"),
        )
        .await,
    );

    // WildfireChat signatures.
    let wf = Wf {
        base: base.clone(),
        http: http.clone(),
        secret: WF.into(),
    };
    let a1 = wf.post("/admin/get_setting", Some(json!({"id": 1}))).await;
    assert_eq!(a1.status, 200, "{}", a1.text);
    let forged = Wf {
        secret: "not-the-secret".into(),
        ..wf.clone()
    };
    ev.failed(
        "a WildfireChat call with a wrong signature",
        forged
            .post("/admin/get_setting", Some(json!({"id": 1})))
            .await,
    );

    // Metrics of both.
    for (who, admin) in [("A", a.admin_port), ("B", b.admin_port)] {
        let text = body_text(http.get(format!("http://127.0.0.1:{admin}/metrics"))).await;
        assert!(text.contains("imbridge_requests_total"), "{text}");
        ev.add(format!("/metrics of {who}"), text);
    }

    // imbridge translate, on A's config.
    let translations: &[(&str, &str, &str, Option<String>)] = &[
        (
            "jmessage",
            "POST",
            "/v1/users/",
            Some(json!([{"username": "x", "password": PW}]).to_string()),
        ),
        (
            "jmessage",
            "PUT",
            "/v1/users/u1/password",
            Some(json!({"new_password": PW2}).to_string()),
        ),
        ("jm-easemob", "GET", "/v1/users/u3", None),
        (
            "jm-easemob",
            "POST",
            "/v1/users/",
            Some(json!([{"username": "x", "password": PW}]).to_string()),
        ),
        (
            "jm-rongcloud",
            "POST",
            "/v1/users/",
            Some(json!([{"username": "x", "password": PW}]).to_string()),
        ),
        ("jm-bad", "GET", "/v1/users/u1", None),
        (
            "rongcloud-app",
            "POST",
            "/api/auth/token/",
            Some(json!({"username": "u4", "password": PW}).to_string()),
        ),
    ];
    for (fe, method, path, body) in translations {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_imbridge"));
        cmd.args(["translate", "--config"])
            .arg(&a_config)
            .args(["--frontend", fe, "--method", method, "--path", path])
            .args([
                "--header",
                &format!("authorization: Basic {}", basic(APP_KEY, JM_FRONT)),
            ]);
        if let Some(b) = body {
            cmd.args(["--body", b]);
        }
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "translate {fe} {method} {path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("\"op\""), "{stdout}");
        // The passwords of registrations and password changes are shown
        // redacted.
        if path.starts_with("/v1/users") && body.is_some() {
            assert!(stdout.contains("**REDACTED**"), "{stdout}");
        }
        ev.add(format!("translate {fe} {method} {path}"), stdout);
        ev.add(
            format!("translate {fe} {method} {path} (stderr)"),
            String::from_utf8_lossy(&out.stderr),
        );
    }

    // The logs.
    let a_log = proxy.stop();
    let b_log = vendor.stop();
    for (who, format, log) in [("A", a_format, &a_log), ("B", b_format, &b_log)] {
        assert!(
            log.lines().count() > 50,
            "{who}'s debug log is too short:\n{log}"
        );
        check_log(who, format, log);
        ev.add(format!("{who}'s {format} log"), log.clone());
    }
    // The request id travels: A's events of the request, B's too.
    assert!(
        request_logged(a_format, &a_log, "trace-me-4711", "DEBUG"),
        "A: {a_log}"
    );
    assert!(
        request_logged(b_format, &b_log, "trace-me-4711", "DEBUG"),
        "B: {b_log}"
    );
    assert!(
        request_logged(a_format, &a_log, "vendor-down-0815", "WARN"),
        "A: {a_log}"
    );

    // Nothing anywhere holds a secret.
    let mut secrets: Vec<(String, String)> = [JM_FRONT, JM_VENDOR, JM_WRONG, WF, RC, EM, PW, PW2]
        .iter()
        .map(|s| (s.to_string(), s.to_string()))
        .collect();
    for s in [JM_FRONT, JM_VENDOR, JM_WRONG] {
        secrets.push((format!("Basic {APP_KEY}:{s}"), basic(APP_KEY, s)));
    }
    for t in &ev.tokens {
        assert!(t.len() >= 16, "a short token: {t}");
        secrets.push((format!("issued token {t}"), t.clone()));
    }
    let mut leaks = Vec::new();
    for (what, text) in &ev.texts {
        for (name, secret) in &secrets {
            if let Some(at) = text.find(secret.as_str()) {
                let from = text[..at]
                    .char_indices()
                    .rev()
                    .nth(120)
                    .map_or(0, |(i, _)| i);
                let to = (at + secret.len() + 120).min(text.len());
                let to = (to..=text.len())
                    .find(|i| text.is_char_boundary(*i))
                    .unwrap();
                leaks.push(format!("{name} in {what}: …{}…", &text[from..to]));
            }
        }
        // Credentials in headers, whatever their value.
        if what.contains(" log") {
            for marker in ["Bearer ", "Basic ", "authorization: ", "\"authorization\""] {
                if text.contains(marker) {
                    leaks.push(format!("`{marker}` in {what}"));
                }
            }
        }
    }
    assert!(leaks.is_empty(), "secrets leaked:\n{}", leaks.join("\n"));
}

/// JSON logs are JSON lines with a timestamp, a level and fields; text logs
/// are not JSON.
fn check_log(who: &str, format: &str, log: &str) {
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let parsed = serde_json::from_str::<Value>(line);
        if format == "json" {
            let v = parsed.unwrap_or_else(|e| panic!("{who}: not a JSON line ({e}): {line}"));
            assert!(
                v["timestamp"].is_string() && v["level"].is_string() && v["fields"].is_object(),
                "{who}: {line}"
            );
        } else {
            assert!(parsed.is_err(), "{who}: a JSON line in a text log: {line}");
        }
    }
}

/// Whether the log has the request line of request `id` at `level`, with
/// the id on the event and on its span.
fn request_logged(format: &str, log: &str, id: &str, level: &str) -> bool {
    log.lines().any(|line| {
        if format == "json" {
            let Ok(v) = serde_json::from_str::<Value>(line) else {
                return false;
            };
            v["level"] == level
                && v["fields"]["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("request"))
                && v["fields"]["request_id"] == id
                && v["span"]["request_id"] == id
        } else {
            line.contains(level)
                && line.contains(&format!("request{{request_id={id}}}"))
                && line.contains(&format!("request_id={id} "))
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_json_proxy_logs_text_vendor_logs_errors_metrics_or_translate() {
    scenario("json", "text").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_text_proxy_logs_json_vendor_logs_errors_metrics_or_translate() {
    scenario("text", "json").await;
}
