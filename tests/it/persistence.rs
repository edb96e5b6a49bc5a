//! The real binary (`imbridge serve --config FILE`) keeps what clients wrote:
//! users, groups, friends, a blacklist, rooms, messages and media written
//! through HTTP are all there, unchanged, after a SIGKILL and a restart on the
//! same config, and still behave (retract, download, fresh ids). SIGTERM stops
//! the server cleanly within a few seconds.

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{download, postgres_twins, wait_for_port, Jm, Setup};
use crate::jm::*;

/// A running `imbridge serve`, killed when dropped (a failing test leaves no
/// server behind).
struct Server {
    child: Child,
}

impl Server {
    /// Starts the binary on `config` and waits until both listeners accept.
    fn start(setup: &Setup, config: &Path) -> Server {
        let child = Command::new(env!("CARGO_BIN_EXE_imbridge"))
            .args(["serve", "--config"])
            .arg(config)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("imbridge starts");
        let server = Server { child };
        wait_for_port(setup.port);
        wait_for_port(setup.admin_port);
        server
    }

    /// SIGKILL, and wait until the process is gone.
    fn kill_9(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }

    /// Sends SIGTERM; returns the exit status, or panics after `limit`.
    fn terminate(mut self, limit: Duration) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success(), "kill -TERM {pid}");
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "still running {limit:?} after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What the first life of the server wrote, to be found after the restart.
struct Written {
    gid: i64,
    room: i64,
    msg_id: i64,
    media_id: String,
    image: Vec<u8>,
}

/// Writes users, a group, friends, a blacklist, a room, a message, media,
/// sensitive words and switches through HTTP.
async fn write_everything(jm: &Jm) -> Written {
    register_users(jm, json!([full_user("javen")])).await;
    register(jm, &["fang", "tom", "eddie", "annie"]).await;
    jm.put(
        "/v1/users/javen",
        Some(json!({"nickname": "Hello JMessage"})),
    )
    .await
    .expect(204);
    let gid = create_group(jm, "tom", "群聊天室", &["eddie", "annie"]).await;
    jm.put(
        &format!("/groups/owner/{gid}"),
        Some(json!({"username": "eddie"})),
    )
    .await
    .expect(204);
    jm.post("/v1/users/javen/friends", json!(["fang", "tom"]))
        .await
        .expect(201);
    jm.put(
        "/v1/users/javen/friends",
        Some(json!([{"username": "fang", "note_name": "Fang", "others": "x"}])),
    )
    .await
    .expect(204);
    jm.put("/v1/users/javen/blacklist", Some(json!(["annie"])))
        .await
        .expect(204);
    let room = create_room(jm, "tom", "room", &["fang"]).await;
    let msg_id = sent_id(jm, text_message("fang", "single", json!("javen"), "hi")).await;
    let image = png(6, 2);
    let up = jm.upload("image", "a.png", image.clone()).await.expect(200);
    jm.post("/v1/sensitiveword", json!(["FUCK"]))
        .await
        .expect(204);
    jm.put("/v1/sdkregister/status?status=0", None)
        .await
        .expect(204);
    Written {
        gid,
        room,
        msg_id,
        media_id: text(&up.json["media_id"]),
        image,
    }
}

#[tokio::test]
async fn everything_survives_sigkill_and_restart() {
    let setup = Setup::new();
    let config = setup.write_config("");
    let jm = Jm::for_port(setup.port);

    let first = Server::start(&setup, &config);
    let written = write_everything(&jm).await;
    let before = snapshot(&jm).await;
    first.kill_9();

    let _second = Server::start(&setup, &config);
    // A new client: the old one's pooled connections died with the process.
    let jm = Jm::for_port(setup.port);
    assert_eq!(
        snapshot(&jm).await,
        before,
        "data changed across the restart"
    );
    let javen = jm.get("/v1/users/javen").await.expect(200).json;
    assert_eq!(javen["nickname"], "Hello JMessage");
    assert_eq!(
        group_members(&jm, written.gid).await,
        ["eddie:1", "tom:0", "annie:0"]
    );
    assert_eq!(room_members(&jm, written.room).await.len(), 2);
    // The message is still there to retract, once.
    let retract = format!("/v1/messages/fang/{}/retract", written.msg_id);
    jm.call(reqwest::Method::POST, &retract, None)
        .await
        .expect_empty(204);
    jm.call(reqwest::Method::POST, &retract, None)
        .await
        .expect_jm_error(409, 855004);
    // The media still downloads, byte for byte.
    let a = jm
        .get(&format!("/v1/resource?mediaId={}", written.media_id))
        .await
        .expect(200);
    let bytes = download(&jm.http, &text(&a.json["url"])).await;
    assert_eq!(bytes, written.image);
    // New ids continue after the old ones.
    let gid = create_group(&jm, "tom", "after", &[]).await;
    assert!(gid > written.gid, "gid {gid} reused after {}", written.gid);
    let msg_id = sent_id(&jm, text_message("tom", "single", json!("fang"), "hi")).await;
    assert!(
        msg_id > written.msg_id,
        "msg_id {msg_id} after {}",
        written.msg_id
    );
}

#[tokio::test]
async fn sigterm_stops_the_server_cleanly() {
    let setup = Setup::new();
    let config = setup.write_config("");
    let server = Server::start(&setup, &config);
    let jm = Jm::for_port(setup.port);
    register(&jm, &["javen"]).await;
    let status = server.terminate(Duration::from_secs(5));
    assert!(status.success(), "exit after SIGTERM: {status}");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", setup.port)).is_err(),
        "still listening after exit"
    );
}

/// Settings and secrets come from `IMBRIDGE_`-prefixed environment variables
/// (`__` for nesting), over the file: the listener moves and the JMessage
/// master secret is the environment's.
#[tokio::test]
async fn environment_overrides_the_config_file() {
    let setup = Setup::new();
    let config = setup.write_config("");
    let moved = crate::harness::free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_imbridge"))
        .args(["serve", "--config"])
        .arg(&config)
        .env("RUST_LOG", "warn")
        .env("IMBRIDGE_SERVER__LISTEN", format!("127.0.0.1:{moved}"))
        .env(
            "IMBRIDGE_FRONTENDS__JMESSAGE__PARAMS__MASTER_SECRET",
            "secret-from-env",
        )
        .stdout(Stdio::null())
        .spawn()
        .expect("imbridge starts");
    wait_for_port(moved);
    let base = format!("http://127.0.0.1:{moved}");
    let jm = |secret: &str| Jm {
        base: base.clone(),
        http: reqwest::Client::new(),
        auth: Some((crate::harness::APP_KEY.into(), secret.into())),
    };
    jm("secret-from-env")
        .get("/v1/sdkregister/status")
        .await
        .expect(200);
    jm(crate::harness::MASTER_SECRET)
        .get("/v1/sdkregister/status")
        .await
        .expect_jm_error(401, 899008);
    child.kill().unwrap();
    child.wait().unwrap();
}

postgres_twins!(everything_survives_sigkill_and_restart);
