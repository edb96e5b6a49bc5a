//! Uploaded media: checked (size, real image), written atomically to the
//! media directory, recorded in the database, and served back by id.
//!
//! A file is written before its row; the operation that records it runs in
//! `write_recording`, which removes the file when the transaction fails.

use std::path::{Path, PathBuf};

use imagesize::ImageType;
use sha1::{Digest, Sha1};

use super::db::{tag, tag_column};
use super::EmbeddedProvider;
use crate::canonical::message::{MediaRef, MediaUpload};
use crate::canonical::model::{Media, MediaKind, Upload};
use crate::canonical::{Error, Reason, Result};
use crate::db::{Row, Tx};
use crate::provider::CallContext;

/// The columns [`media_from_row`] reads; the URL is built from the id.
macro_rules! media_columns {
    () => {
        "media_id, kind, crc32, size, filename, format, width, height, hash"
    };
}

/// A media file on disk whose row may not be committed yet.
#[derive(Debug, Clone)]
pub(super) struct StoredMedia {
    /// What `media.upload` returns.
    pub(super) media: Media,
    content_type: String,
    path: PathBuf,
}

impl StoredMedia {
    /// Removes the file (after the operation that wrote it failed).
    async fn discard(self) {
        if let Err(e) = tokio::fs::remove_file(&self.path).await {
            tracing::warn!(path = %self.path.display(), error = %e, "could not remove media file");
        }
    }
}

/// Records a written media file.
fn insert_media(tx: &Tx<'_>, app: &str, stored: &StoredMedia) -> Result<()> {
    let m = &stored.media;
    tx.execute(
        "INSERT INTO media (media_id, app, kind, crc32, size, filename, format, width, height, hash,
                            content_type, created)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        &[
            &m.media_id, &app, &tag(&m.kind), &m.crc32, &m.size, &m.filename, &m.format,
            &m.width, &m.height, &m.hash, &stored.content_type, &tx.now(),
        ],
    )?;
    Ok(())
}

/// The download URL of a media id under `base` (`media_base_url`).
fn url_of(base: &str, media_id: &str) -> String {
    format!("{}/{media_id}", base.trim_end_matches('/'))
}

/// A media file of `app` by id, its URL under `base`.
pub(super) fn find_media(
    tx: &Tx<'_>,
    app: &str,
    media_id: &str,
    base: &str,
) -> Result<Option<Media>> {
    tx.query_opt(
        concat!(
            "SELECT ",
            media_columns!(),
            " FROM media WHERE media_id = ?1 AND app = ?2"
        ),
        &[&media_id, &app],
        |r| media_from_row(r, base),
    )
}

fn media_from_row(row: &Row<'_>, base: &str) -> Result<Media> {
    let media_id: String = row.get(0)?;
    Ok(Media {
        url: url_of(base, &media_id),
        media_id,
        kind: tag_column(row, 1)?,
        crc32: row.get(2)?,
        size: row.get(3)?,
        filename: row.get(4)?,
        format: row.get(5)?,
        width: row.get(6)?,
        height: row.get(7)?,
        hash: row.get(8)?,
    })
}

/// Format name, content type, width and height of an image in a supported
/// format, else invalid_argument/media.
fn inspect_image(bytes: &[u8]) -> Result<(&'static str, &'static str, i64, i64)> {
    let not_image = || Error::invalid(Reason::Media, "not an image (jpg, png, gif, bmp or webp)");
    let (format, content_type) = match imagesize::image_type(bytes).map_err(|_| not_image())? {
        ImageType::Jpeg => ("jpg", "image/jpeg"),
        ImageType::Png => ("png", "image/png"),
        ImageType::Gif => ("gif", "image/gif"),
        ImageType::Bmp => ("bmp", "image/bmp"),
        ImageType::Webp => ("webp", "image/webp"),
        _ => return Err(not_image()),
    };
    let size = imagesize::blob_size(bytes).map_err(|_| not_image())?;
    let dim = |v: usize| i64::try_from(v).map_err(|_| not_image());
    Ok((format, content_type, dim(size.width)?, dim(size.height)?))
}

/// Writes `bytes` to `path` through a temporary file and a rename, synced.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("part");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

impl EmbeddedProvider {
    /// Checks an uploaded file and writes it to the media directory; the
    /// caller records it with [`insert_media`] (or discards it).
    pub(super) async fn write_media(
        &self,
        ctx: &CallContext,
        kind: MediaKind,
        upload: &Upload,
    ) -> Result<StoredMedia> {
        let file = ctx
            .attachment(upload.slot)
            .ok_or_else(|| Error::invalid(Reason::Param, "the uploaded file is missing"))?;
        let bytes = file.bytes.clone();
        if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > self.cfg.max_media_bytes {
            let max = self.cfg.max_media_bytes;
            return Err(Error::limit(
                Reason::Media,
                format!("files may have at most {max} bytes"),
            ));
        }
        let filename = file.filename.clone().or_else(|| upload.name.clone());
        let (format, content_type, width, height) = match kind {
            MediaKind::Image => {
                let (format, content_type, w, h) = inspect_image(&bytes)?;
                (
                    Some(format.to_owned()),
                    content_type.to_owned(),
                    Some(w),
                    Some(h),
                )
            }
            MediaKind::File | MediaKind::Voice => {
                let extension = filename
                    .as_deref()
                    .and_then(|n| Path::new(n).extension())
                    .map(|e| e.to_string_lossy().to_lowercase());
                let content_type = file
                    .content_type
                    .clone()
                    .unwrap_or_else(|| "application/octet-stream".to_owned());
                (extension, content_type, None, None)
            }
        };
        let media_id = format!("{}/{}", tag(&kind), uuid::Uuid::new_v4().simple());
        let path = self.cfg.media_dir.join(&media_id);
        let size = i64::try_from(bytes.len()).map_err(Error::internal)?;
        let target = path.clone();
        // Checksums of up to the upload limit are blocking work too.
        let (crc32, hash) = tokio::task::spawn_blocking(move || {
            write_atomically(&target, &bytes)
                .map(|()| (crc32fast::hash(&bytes), hex::encode(Sha1::digest(&bytes))))
        })
        .await
        .map_err(Error::internal)?
        .map_err(|e| Error::internal(format_args!("writing {}: {e}", path.display())))?;
        let media = Media {
            url: url_of(&self.cfg.media_base_url, &media_id),
            media_id,
            kind,
            crc32: Some(i64::from(crc32)),
            size: Some(size),
            filename,
            format,
            width,
            height,
            hash: Some(hash),
        };
        Ok(StoredMedia {
            media,
            content_type,
            path,
        })
    }

    /// Runs `f` in a write transaction that also records `media` (written
    /// beforehand by [`Self::write_media`]); when it fails, the file is removed.
    pub(super) async fn write_recording<R, F>(
        &self,
        app: &str,
        media: Option<StoredMedia>,
        f: F,
    ) -> Result<R>
    where
        F: Fn(&Tx<'_>) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        let (app, row) = (app.to_owned(), media.clone());
        let result = self
            .db
            .write(move |tx| {
                if let Some(row) = &row {
                    insert_media(tx, &app, row)?;
                }
                f(tx)
            })
            .await;
        if let (Err(_), Some(media)) = (&result, media) {
            media.discard().await;
        }
        result
    }

    /// `media.upload`.
    pub(super) async fn media_upload(&self, ctx: &CallContext, req: MediaUpload) -> Result<Media> {
        let stored = self.write_media(ctx, req.kind, &req.file).await?;
        let media = stored.media.clone();
        self.write_recording(&ctx.app_key, Some(stored), |_| Ok(()))
            .await?;
        Ok(media)
    }

    /// `media.url`: not_found/media for an unknown id.
    pub(super) async fn media_url(&self, app: &str, req: MediaRef) -> Result<Media> {
        let (app, base) = (app.to_owned(), self.cfg.media_base_url.clone());
        let id = req.media_id.clone();
        self.db
            .read(move |tx| find_media(tx, &app, &id, &base))
            .await?
            .ok_or_else(|| {
                Error::not_found(
                    Reason::Media,
                    format!("media {} does not exist", req.media_id),
                )
            })
    }

    /// The file and content type of a recorded media id (only recorded ids
    /// map to paths, so a crafted id cannot escape the media directory).
    pub(super) async fn stored_media_file(&self, media_id: &str) -> Option<(PathBuf, String)> {
        let id = media_id.to_owned();
        let found = self
            .db
            .read(move |tx| {
                tx.query_opt(
                    "SELECT content_type FROM media WHERE media_id = ?1",
                    &[&id],
                    |r| r.get(0),
                )
            })
            .await;
        match found {
            Ok(content_type) => content_type.map(|ct| (self.cfg.media_dir.join(media_id), ct)),
            Err(_) => None,
        }
    }
}
