//! Hot reload under load: good reloads (admin endpoint, file change, SIGHUP)
//! swap the mappings with zero failed requests; a broken edit is refused with
//! file and line, counted, and the old mappings keep serving.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::harness::{free_port, repo, wait_for_port, Imbridge, Jm, Setup, APP_KEY, MASTER_SECRET};

/// Copies the shipped mappings into the setup's dir and writes a config that
/// reads them from there.
fn editable(setup: &Setup) -> std::path::PathBuf {
    let dir = setup.dir.path().join("mappings");
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(repo().join("mappings")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "yaml") {
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    let text = setup.config_text("").replace(
        &format!("mappings = \"{}\"", repo().join("mappings").display()),
        &format!("mappings = \"{}\"", dir.display()),
    );
    let file = setup.dir.path().join("imbridge.toml");
    std::fs::write(&file, text).unwrap();
    file
}

/// Replaces `from` by `to` in a mapping file.
fn edit(dir: &Path, file: &str, from: &str, to: &str) {
    let path = dir.join("mappings").join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{from} not in {file}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

/// The answer of `GET /v1/sdkregister/status`, whose shape the edits change.
async fn status_body(im: &Imbridge) -> serde_json::Value {
    im.jm().get("/v1/sdkregister/status").await.expect(200).json
}

async fn reload(im: &Imbridge) -> reqwest::Response {
    im.http
        .post(format!("{}/reload", im.admin))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reloads_under_load_never_fail_a_request() {
    let setup = Setup::new();
    let file = editable(&setup);
    let im = Arc::new(Imbridge::start_file(setup, &file));
    let dir = im.setup.dir.path().to_path_buf();
    assert_eq!(status_body(&im).await, serde_json::json!({"status": 1}));

    // Steady load: every answer must be the JMessage 200 of one version or the other.
    let stop = Arc::new(AtomicBool::new(false));
    let (served, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut load = Vec::new();
    for _ in 0..4 {
        let (im, stop, served, failed) = (im.clone(), stop.clone(), served.clone(), failed.clone());
        load.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let a = im.jm().get("/v1/sdkregister/status").await;
                if a.status == 200 && a.json.get("status").is_some() {
                    served.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }

    // 1. A good edit, reloaded through the admin endpoint.
    let anchor = "      path: /v1/sdkregister/status\n      response:\n        body:\n";
    edit(
        &dir,
        "jmessage.yaml",
        anchor,
        &format!("{anchor}          version: 2\n"),
    );
    let r = reload(&im).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(status_body(&im).await["version"], 2);

    // 2. A broken edit: refused with file and line, the old mappings keep serving.
    edit(&dir, "jmessage.yaml", "version: 2", "version: {$nope: 1}");
    let r = reload(&im).await;
    assert_eq!(r.status(), 422);
    let problems = r.text().await.unwrap();
    assert!(
        problems.contains("jmessage.yaml:") && problems.contains("unknown function `$nope`"),
        "{problems}"
    );
    assert_eq!(status_body(&im).await["version"], 2);

    // 3. Fixing the file reloads by itself (file watch).
    edit(&dir, "jmessage.yaml", "version: {$nope: 1}", "version: 3");
    let mut version = serde_json::Value::Null;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        version = status_body(&im).await["version"].clone();
        if version == 3 {
            break;
        }
    }
    assert_eq!(version, 3, "the file change was not picked up");

    // 4. SIGHUP reloads too (this test runs in its own process under nextest).
    edit(&dir, "jmessage.yaml", "version: 3", "version: 4");
    // SAFETY: raise() only sends a signal to this process.
    unsafe { libc_raise() };
    let mut version = serde_json::Value::Null;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        version = status_body(&im).await["version"].clone();
        if version == 4 {
            break;
        }
    }
    assert_eq!(version, 4);

    stop.store(true, Ordering::Relaxed);
    for l in load {
        l.await.unwrap();
    }
    assert!(
        served.load(Ordering::Relaxed) > 100,
        "too little load to mean anything"
    );
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "requests failed during reloads"
    );

    let metrics = im.metrics().await;
    assert!(
        metrics.contains("imbridge_reloads_total{result=\"failed\",trigger=\"admin\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("imbridge_reloads_total{result=\"ok\",trigger=\"admin\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("trigger=\"file\""), "{metrics}");
    assert!(
        metrics.contains("imbridge_config_last_reload_successful 1"),
        "{metrics}"
    );
}

/// Renaming frontends reorders them, not their listeners: a reload with the
/// same addresses is taken and both listeners keep serving.
#[tokio::test]
async fn renaming_frontends_on_the_same_listeners_reloads() {
    let setup = Setup::new();
    const OTHER_SECRET: &str = "the-other-master-secret";
    let other = free_port();
    let head = setup.head("");
    let config = |first: &str, second: &str| {
        format!(
            "{head}\n[frontends.{first}]\ndialect = \"jmessage\"\nprovider = \"embedded\"\n\
             listen = \"127.0.0.1:{other}\"\n[frontends.{first}.params]\nmaster_secret = \"{OTHER_SECRET}\"\n\
             [frontends.{second}]\ndialect = \"jmessage\"\nprovider = \"embedded\"\n\
             [frontends.{second}.params]\nmaster_secret = \"{MASTER_SECRET}\"\n",
        )
    };
    let file = setup.dir.path().join("imbridge.toml");
    // By name, `a` (the other port) comes first; after the rename, `c` does.
    std::fs::write(&file, config("a", "b")).unwrap();
    let im = Imbridge::start_file(setup, &file);
    wait_for_port(other);
    std::fs::write(&file, config("d", "c")).unwrap();
    let r = reload(&im).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    // Each listener still serves its own frontend.
    let on_other = Jm::for_port(other);
    on_other.get("/v1/sdkregister/status").await.expect(401);
    let on_other = on_other.with_auth(Some((APP_KEY, OTHER_SECRET)));
    on_other.get("/v1/sdkregister/status").await.expect(200);
    im.jm().get("/v1/sdkregister/status").await.expect(200);
}

/// Sends SIGHUP to this process.
unsafe fn libc_raise() {
    extern "C" {
        fn raise(sig: i32) -> i32;
    }
    const SIGHUP: i32 = 1;
    raise(SIGHUP);
}
