//! Captured passwords (`[capture]`): plain passwords seen through imbridge
//! on registrations, password changes and logins are kept sealed in its
//! store, and `imbridge migrate` sets them on the target, so those users are
//! not `password_pending`. End to end: the app's imbridge serves JMessage
//! and haorenao on the embedded provider, the target is an Easemob emulator
//! that checks passwords itself.

use serde_json::json;

use crate::harness::{postgres_twins, Answer, Imbridge, Setup, MASTER_SECRET};
use crate::migrate::Migration;
use crate::migrate_sites::{Kind, Site};

/// The test's sealing key (not the shipped development key).
const KEY: &str = "5f1e0c2a9b7d4e3f8a6c1b0d2e4f6a8c9b7d5e3f1a2c4e6b8d0f1a3c5e7b9d2f";

fn frontends() -> String {
    format!(
        "\n[frontends.jmessage]\nprovider = \"embedded\"\n[frontends.jmessage.params]\n\
         master_secret = \"{MASTER_SECRET}\"\n[frontends.haorenao]\nprovider = \"embedded\"\n"
    )
}

/// Whether a plain password appears in the SQLite store's files (none on
/// PostgreSQL, where the table is read instead).
fn in_store_files(setup_dir: &std::path::Path, plain: &str) -> bool {
    ["state.db", "state.db-wal"].iter().any(|f| {
        std::fs::read(setup_dir.join(f))
            .is_ok_and(|b| b.windows(plain.len()).any(|w| w == plain.as_bytes()))
    })
}

#[tokio::test]
async fn captured_passwords_are_set_on_the_target_and_purged_after() {
    use crate::easemob::{APP, ORG};
    let target = Site::start(Kind::Easemob);
    let setup = Setup::new();
    let dir = setup.dir.path().to_path_buf();
    let plain = setup.head("") + &target.provider() + &frontends();
    let captured = format!("{plain}\n[capture]\npasswords = true\nkey = \"{KEY}\"\n");
    // Before capture is on: four users, none of whose passwords is kept.
    let a = Imbridge::start_text(setup, &plain);
    let users = ["amy", "bob", "carl", "dan"]
        .map(|u| json!({"username": u, "password": format!("{u}-secret-1")}));
    a.jm().post("/v1/users/", json!(users)).await.expect(201);
    let (setup, _) = a.stop();
    // Capture on: amy logs in, bob's password changes, eve registers; carl
    // and dan are seen no more.
    let a = Imbridge::start_text(setup, &captured);
    let login = a
        .post_form(
            "/im/user_get_token/",
            &[("username", "amy"), ("password", "amy-secret-1")],
        )
        .await
        .expect(200);
    assert_eq!(login.json["ret"], "ok", "{}", login.text);
    a.jm()
        .put(
            "/v1/users/bob/password",
            Some(json!({"new_password": "bob-secret-2"})),
        )
        .await
        .expect(204);
    a.jm()
        .post(
            "/v1/users/",
            json!([{"username": "eve", "password": "eve-secret-1"}]),
        )
        .await
        .expect(201);
    for pw in ["amy-secret-1", "bob-secret-2", "eve-secret-1"] {
        assert!(!in_store_files(&dir, pw), "{pw} kept in plain");
    }
    let config = dir.join("imbridge.toml");
    std::fs::write(&config, &captured).unwrap();
    let m = Migration {
        config: config.clone(),
        dir: tempfile::tempdir().unwrap(),
    };
    let run = m
        .run(&["--from", "embedded", "--to", "easemob", "--only", "users"])
        .await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.report["password_captured"], 3, "{}", run.stdout);
    assert_eq!(run.report["password_pending"]["count"], 2, "{}", run.stdout);
    assert_eq!(
        run.report["password_pending"]["users"],
        json!(["carl", "dan"])
    );
    assert!(
        run.stdout
            .contains("3 user(s) got the password imbridge captured"),
        "{}",
        run.stdout
    );
    for pw in [KEY, "amy-secret-1", "bob-secret-2"] {
        assert!(!run.stdout.contains(pw) && !run.stderr.contains(pw));
    }
    // On the target directly: the captured passwords work, the others not.
    let token = |user: &str, password: &str| {
        let http = a.http.clone();
        let url = format!("{}/{ORG}/{APP}/token", target.server.base);
        let body = json!({"grant_type": "password", "username": user, "password": password});
        async move { Answer::of(crate::harness::json_body(http.post(url), &body)).await }
    };
    token("amy", "amy-secret-1").await.expect(200);
    token("bob", "bob-secret-2").await.expect(200);
    token("bob", "bob-secret-1").await.expect(400);
    token("eve", "eve-secret-1").await.expect(200);
    token("carl", "carl-secret-1").await.expect(400);
    // carl logs in through imbridge now: captured; a rerun sets it on the
    // target and carl is pending no more.
    let login = a
        .post_form(
            "/im/user_get_token/",
            &[("username", "carl"), ("password", "carl-secret-1")],
        )
        .await
        .expect(200);
    assert_eq!(login.json["ret"], "ok", "{}", login.text);
    let rerun = m
        .run(&["--from", "embedded", "--to", "easemob", "--only", "users"])
        .await;
    assert_eq!(rerun.code, 0, "{}\n{}", rerun.stdout, rerun.stderr);
    assert_eq!(rerun.report["password_captured"], 1, "{}", rerun.stdout);
    assert_eq!(rerun.report["password_pending"]["users"], json!(["dan"]));
    token("carl", "carl-secret-1").await.expect(200);
    // After the migration: purged; a new run finds nothing captured.
    let purge = tokio::process::Command::new(env!("CARGO_BIN_EXE_imbridge"))
        .args(["migrate", "purge-passwords", "--config"])
        .arg(&config)
        .output()
        .await
        .unwrap();
    let said = String::from_utf8_lossy(&purge.stdout);
    assert!(purge.status.success(), "{said}");
    assert!(said.starts_with("4 captured password(s) of app"), "{said}");
    let after = m
        .run(&["--from", "embedded", "--to", "easemob", "--only", "users"])
        .await;
    assert_eq!(after.report["password_captured"], 0, "{}", after.stdout);
    assert_eq!(after.report["password_pending"]["users"], json!(["dan"]));
}

/// The shipped development key is refused while a listener serves beyond
/// loopback (by `imbridge migrate` and `imbridge check`, as by `serve`),
/// and the message never shows the key.
#[tokio::test]
async fn the_shipped_capture_key_is_refused_beyond_loopback() {
    let shipped = imbridge::config::Config::from_toml(include_str!("../../config/imbridge.toml"))
        .unwrap()
        .capture
        .key
        .expect("the shipped config has a development capture key");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    let text = format!(
        "[server]\nlisten = \"0.0.0.0:1\"\n[store]\npath = \"{0}/s.db\"\n\
         [providers.embedded]\nkind = \"embedded\"\npath = \"{0}/e.db\"\n\
         [providers.other]\nkind = \"embedded\"\npath = \"{0}/o.db\"\n\
         [capture]\npasswords = true\nkey = \"{1}\"\n",
        dir.path().display(),
        shipped.expose()
    );
    std::fs::write(&config, text).unwrap();
    let m = Migration {
        config,
        dir: tempfile::tempdir().unwrap(),
    };
    let check = tokio::process::Command::new(env!("CARGO_BIN_EXE_imbridge"))
        .args(["check", "--config"])
        .arg(&m.config)
        .output()
        .await
        .unwrap();
    let said = String::from_utf8_lossy(&check.stderr);
    assert!(!check.status.success(), "{said}");
    assert!(
        said.contains("development value") && !said.contains(shipped.expose()),
        "{said}"
    );
    let run = m.run(&["--from", "embedded", "--to", "other"]).await;
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("development value") && !run.stderr.contains(shipped.expose()),
        "{}",
        run.stderr
    );
}

postgres_twins!(captured_passwords_are_set_on_the_target_and_purged_after);
