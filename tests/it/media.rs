//! Uploads as an attacker would send them, through JMessage's
//! `/v1/resource`: types off the allow-list (HTML and friends) and uploads
//! past the app's quota are refused in the dialect and counted, nothing of
//! them left on disk; the sweep removes files no record acknowledges and
//! keeps every acknowledged upload.

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::harness::{Answer, Imbridge, Setup, APP_KEY, MASTER_SECRET};

/// Uploads `bytes` as a JMessage `type=file` resource with `content_type`.
async fn upload(im: &Imbridge, bytes: Vec<u8>, name: &str, content_type: &str) -> Answer {
    let part = reqwest::multipart::Part::bytes(bytes)
        .file_name(name.to_string())
        .mime_str(content_type)
        .unwrap();
    Answer::of(
        im.http
            .post(format!("{}/v1/resource?type=file", im.base))
            .basic_auth(APP_KEY, Some(MASTER_SECRET))
            .multipart(reqwest::multipart::Form::new().part("filename", part)),
    )
    .await
}

/// The files under `dir`, recursively.
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        match path.is_dir() {
            true => out.extend(files(&path)),
            false => out.push(path),
        }
    }
    out
}

#[tokio::test]
async fn media_types_off_the_allow_list_are_refused_in_the_dialect() {
    let im = Imbridge::start();
    let media = im.setup.dir.path().join("media");
    let page = b"<script>alert(document.cookie)</script>".to_vec();
    let refused = [
        ("x.html", "text/html"),
        ("x.html", "TEXT/HTML; charset=utf-8"),
        ("x.svg", "image/svg+xml"),
        ("x.xhtml", "application/xhtml+xml"),
        ("x.js", "application/javascript"),
        ("x.xml", "text/xml"),
    ];
    for (name, content_type) in refused {
        upload(&im, page.clone(), name, content_type)
            .await
            .expect_jm_error(400, 899003);
    }
    let labels = "provider=\"embedded\",reason=\"type\"";
    assert_eq!(im.metric("imbridge_media_refused_total", labels).await, 6.0);
    assert!(files(&media).is_empty(), "{:?}", files(&media));
    // Documents, audio and files without a type are taken.
    for (name, content_type) in [
        ("a.pdf", "application/pdf"),
        ("a.amr", "audio/amr"),
        ("a.bin", "application/octet-stream"),
    ] {
        upload(&im, b"%PDF-1.4 data".to_vec(), name, content_type)
            .await
            .expect(200);
    }
    assert_eq!(files(&media).len(), 3);
}

#[tokio::test]
async fn uploads_past_the_media_quota_are_refused_in_the_dialect() {
    let setup = Setup::new().with_embedded("media_quota_bytes = 5000");
    let im = Imbridge::start_in(setup, "");
    let media = im.setup.dir.path().join("media");
    for _ in 0..2 {
        upload(&im, vec![7; 2000], "a.bin", "application/octet-stream")
            .await
            .expect(200);
    }
    // 4000 kept: 2000 more is past 5000, 1000 is not.
    for _ in 0..3 {
        upload(&im, vec![7; 2000], "a.bin", "application/octet-stream")
            .await
            .expect_jm_error(413, 899003);
    }
    let labels = "provider=\"embedded\",reason=\"quota\"";
    assert_eq!(im.metric("imbridge_media_refused_total", labels).await, 3.0);
    assert_eq!(files(&media).len(), 2);
    upload(&im, vec![7; 1000], "a.bin", "application/octet-stream")
        .await
        .expect(200);
    upload(&im, vec![7; 1], "a.bin", "application/octet-stream")
        .await
        .expect_jm_error(413, 899003);
}

/// Sets a file's modification time `ago`.
fn age(path: &Path, ago: Duration) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - ago).unwrap();
}

#[tokio::test]
async fn the_media_sweep_removes_orphans_and_keeps_acknowledged_uploads() {
    let setup = Setup::new().with_embedded("media_sweep_secs = 1\nmedia_orphan_grace_secs = 600");
    let im = Imbridge::start_in(setup, "");
    let media = im.setup.dir.path().join("media");
    let hour = Duration::from_secs(3600);
    // Two acknowledged uploads, old: kept whatever their age; one loses its
    // file (counted as missing, its record kept).
    let mut kept = Vec::new();
    for _ in 0..2 {
        let a = upload(&im, vec![1; 100], "a.bin", "application/octet-stream")
            .await
            .expect(200);
        kept.push(a.json["media_id"].as_str().unwrap().to_string());
    }
    age(&media.join(&kept[0]), hour);
    std::fs::remove_file(media.join(&kept[1])).unwrap();
    // Never acknowledged: an old file without a record, an old unfinished
    // write; and a young file without a record (an upload under way).
    let orphan = media.join("file/0123456789abcdef0123456789abcdef");
    let part = media.join("file/fedcba9876543210fedcba9876543210.part");
    let young = media.join("file/00000000000000000000000000000000");
    for (path, len) in [(&orphan, 300), (&part, 200), (&young, 50)] {
        std::fs::write(path, vec![0; len]).unwrap();
    }
    age(&orphan, hour);
    age(&part, hour);

    let removed = |kind: &'static str| {
        let labels = format!("kind=\"{kind}\",provider=\"embedded\"");
        let im = &im;
        async move {
            im.metric("imbridge_media_orphans_removed_total", &labels)
                .await
        }
    };
    let started = std::time::Instant::now();
    while removed("file").await < 1.0 && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(removed("file").await, 1.0);
    assert_eq!(removed("part").await, 1.0);
    let bytes = im
        .metric(
            "imbridge_media_orphan_bytes_removed_total",
            "provider=\"embedded\"",
        )
        .await;
    assert_eq!(bytes, 500.0);
    let missing = im
        .metric("imbridge_media_missing_files", "provider=\"embedded\"")
        .await;
    assert_eq!(missing, 1.0);
    assert!(!orphan.exists() && !part.exists());
    assert!(young.exists());
    let resp = im
        .http
        .get(format!("{}/media/{}", im.base, kept[0]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.bytes().await.unwrap().len(), 100);
    // A further sweep removes nothing more.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(removed("file").await, 1.0);
    assert!(young.exists() && media.join(&kept[0]).exists());
}
