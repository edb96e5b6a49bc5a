//! Media uploads and downloads.

use serde_json::json;
use sha1::{Digest, Sha1};

use super::{context, expect, upload, Backend, Harness, APP, OTHER_APP, PNG_1X1};
use crate::canonical::{ErrorKind, Reason};

async fn upload_png_image(backend: Backend) {
    let h = Harness::on(backend);
    let media = h.upload_png("pic.PNG").await;
    let id = media["media_id"].as_str().unwrap();
    let hex = id.strip_prefix("image/").unwrap();
    assert_eq!(hex.len(), 32);
    assert!(hex.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(
        media,
        json!({"media_id": id, "kind": "image", "crc32": crc32fast::hash(PNG_1X1),
               "size": PNG_1X1.len(), "filename": "pic.PNG", "format": "png", "width": 1,
               "height": 1, "hash": hex::encode(Sha1::digest(PNG_1X1)),
               "url": format!("http://media.test/media/{id}")})
    );
    assert_eq!(h.ok("media.url", json!({"media_id": id})).await, media);
    let (path, content_type) = h.provider.media_file(id).await.unwrap();
    assert_eq!(
        (
            std::fs::read(&path).unwrap().as_slice(),
            content_type.as_str()
        ),
        (PNG_1X1, "image/png")
    );
    assert!(path.starts_with(&h.cfg.media_dir));
    // Media ids are per app for media.url; unknown ids are not found.
    let e = h
        .call_in(OTHER_APP, "media.url", json!({"media_id": id}))
        .await
        .unwrap_err();
    expect(&e, ErrorKind::NotFound, Reason::Media);
    let e = h.fail("media.url", json!({"media_id": "image/0000"})).await;
    expect(&e, ErrorKind::NotFound, Reason::Media);
    assert!(h.provider.media_file("../../etc/passwd").await.is_none());
}

async fn upload_files_and_rejects(backend: Backend) {
    let h = Harness::on_with(backend, |cfg| cfg.max_media_bytes = 16);
    let ctx = context(
        APP,
        vec![
            ("Notes.TXT", b"hello"),
            ("big.bin", &[0u8; 17]),
            ("cut.png", &PNG_1X1[..12]),
        ],
    );
    let file = h
        .call_ctx(
            ctx.clone(),
            "media.upload",
            json!({"kind": "file", "file": upload(0)}),
        )
        .await
        .unwrap();
    assert!(file["media_id"].as_str().unwrap().starts_with("file/"));
    assert_eq!(
        (file["format"].as_str(), file["size"].as_i64()),
        (Some("txt"), Some(5))
    );
    assert!(file.get("width").is_none());
    let (_, content_type) = h
        .provider
        .media_file(file["media_id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(content_type, "application/octet-stream");
    let voice = h
        .call_ctx(
            ctx.clone(),
            "media.upload",
            json!({"kind": "voice", "file": upload(0)}),
        )
        .await
        .unwrap();
    assert!(voice["media_id"].as_str().unwrap().starts_with("voice/"));

    let cases = [
        (
            json!({"kind": "file", "file": upload(1)}),
            ErrorKind::LimitExceeded,
            Reason::Media,
        ),
        (
            json!({"kind": "image", "file": upload(2)}),
            ErrorKind::InvalidArgument,
            Reason::Media,
        ),
        (
            json!({"kind": "image", "file": upload(0)}),
            ErrorKind::InvalidArgument,
            Reason::Media,
        ),
        (
            json!({"kind": "file", "file": upload(7)}),
            ErrorKind::InvalidArgument,
            Reason::Param,
        ),
    ];
    for (req, kind, reason) in cases {
        let e = h
            .call_ctx(ctx.clone(), "media.upload", req)
            .await
            .unwrap_err();
        expect(&e, kind, reason);
    }
    assert!(
        !h.cfg.media_dir.join("image").exists(),
        "rejected images were not written"
    );
}

on_both_backends!(upload_png_image, upload_files_and_rejects,);
