//! Uploaded media: checked (size, type on the allow-list, real image, the
//! app's quota), written atomically to the media directory, recorded in the
//! database, and served back by id.
//!
//! A file is written before its row; the operation that records it runs in
//! `write_recording`, which removes the file when the transaction fails.
//! A file whose row never came (a crash in between) was never acknowledged:
//! the sweep removes it once it is older than `media_orphan_grace_secs`.
//! A recorded upload is never removed by the sweep: its id was answered,
//! and whoever holds it may send or show it at any time.

use std::path::{Path, PathBuf};

use imagesize::ImageType;
use prometheus::{IntCounterVec, IntGaugeVec, Opts};
use sha1::{Digest, Sha1};

use super::db::{tag, tag_column};
use super::EmbeddedProvider;
use crate::canonical::message::{MediaRef, MediaUpload};
use crate::canonical::model::{Media, MediaKind, Upload};
use crate::canonical::{Error, ErrorKind, Reason, Result};
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

/// Counters of the media of embedded providers, registered with the
/// process metrics.
#[derive(Debug, Clone)]
pub struct MediaCounters {
    /// `imbridge_media_refused_total{provider,reason}`: uploads refused
    /// (reason: size, type, quota).
    pub refused: IntCounterVec,
    /// `imbridge_media_orphans_removed_total{provider,kind}`: files the sweep
    /// removed (kind: file — no record —, part — an unfinished write).
    pub orphans_removed: IntCounterVec,
    /// `imbridge_media_orphan_bytes_removed_total{provider}`: their bytes.
    pub orphan_bytes_removed: IntCounterVec,
    /// `imbridge_media_missing_files{provider}`: records whose file is not
    /// on disk, at the last sweep (lost files: never removed, to be looked
    /// at).
    pub missing_files: IntGaugeVec,
}

impl Default for MediaCounters {
    fn default() -> Self {
        let counter = |name: &str, help: &str, labels: &[&str]| {
            IntCounterVec::new(Opts::new(name, help), labels).expect("static metric definition")
        };
        MediaCounters {
            refused: counter(
                "imbridge_media_refused_total",
                "Uploads refused, by provider and reason: size, type, quota.",
                &["provider", "reason"],
            ),
            orphans_removed: counter(
                "imbridge_media_orphans_removed_total",
                "Media files without a record removed by the sweep, by kind: file, part (unfinished write).",
                &["provider", "kind"],
            ),
            orphan_bytes_removed: counter(
                "imbridge_media_orphan_bytes_removed_total",
                "Bytes of the media files the sweep removed.",
                &["provider"],
            ),
            missing_files: IntGaugeVec::new(
                Opts::new(
                    "imbridge_media_missing_files",
                    "Media records whose file was not on disk at the last sweep.",
                ),
                &["provider"],
            )
            .expect("static metric definition"),
        }
    }
}

/// What one sweep of the media directory did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Sweep {
    /// Files without a record removed.
    pub files: u64,
    /// Unfinished writes removed.
    pub parts: u64,
    /// Bytes removed.
    pub bytes: u64,
    /// Records whose file is missing.
    pub missing: u64,
}

/// Bytes of media `app` keeps.
fn used_bytes(tx: &Tx<'_>, app: &str) -> Result<i64> {
    let used = tx.query_opt(
        "SELECT bytes FROM media_usage WHERE app = ?1",
        &[&app],
        |r| r.get(0),
    )?;
    Ok(used.unwrap_or(0))
}

/// Whether `bytes` is past `quota` (0: none).
fn past(bytes: i64, quota: u64) -> Result<()> {
    match quota != 0 && u64::try_from(bytes).unwrap_or(0) > quota {
        true => Err(Error::limit(
            Reason::Media,
            format!("the app's media quota of {quota} bytes is used up"),
        )),
        false => Ok(()),
    }
}

/// Refuses `adding` bytes to `app`'s media past `quota` (0: none), without
/// adding them (the check before a file is written).
fn check_quota(tx: &Tx<'_>, app: &str, adding: i64, quota: u64) -> Result<()> {
    past(used_bytes(tx, app)?.saturating_add(adding), quota)
}

/// Adds `adding` bytes to `app`'s media, refused past `quota` (the
/// transaction then rolls back): the row's lock makes concurrent uploads of
/// one app take turns, so the quota holds exactly on every backend.
fn add_usage(tx: &Tx<'_>, app: &str, adding: i64, quota: u64) -> Result<()> {
    tx.execute(
        "INSERT INTO media_usage (app, bytes) VALUES (?1, ?2)
         ON CONFLICT (app) DO UPDATE SET bytes = media_usage.bytes + excluded.bytes",
        &[&app, &adding],
    )?;
    past(used_bytes(tx, app)?, quota)
}

/// The lower-cased type of a content type, without its parameters.
fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Records a written media file, within `quota` bytes of the app's media.
fn insert_media(tx: &Tx<'_>, app: &str, stored: &StoredMedia, quota: u64) -> Result<()> {
    let m = &stored.media;
    add_usage(tx, app, m.size.unwrap_or(0), quota)?;
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

/// The files under `dir` last modified more than `grace` ago: their paths
/// relative to `dir` (`/`-separated, as media ids are) and sizes.
fn old_files(dir: &Path, grace: std::time::Duration) -> std::io::Result<Vec<(String, u64)>> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    let now = std::time::SystemTime::now();
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            if meta.is_dir() {
                pending.push(entry.path());
                continue;
            }
            let age = meta
                .modified()
                .ok()
                .and_then(|m| now.duration_since(m).ok());
            if !meta.is_file() || age.is_none_or(|a| a < grace) {
                continue;
            }
            let path = entry.path();
            let Ok(rel) = path.strip_prefix(dir) else {
                continue;
            };
            let id: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push((id.join("/"), meta.len()));
        }
    }
    Ok(out)
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
            return Err(self.refused(
                "size",
                Error::limit(Reason::Media, format!("files may have at most {max} bytes")),
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
        if !self
            .cfg
            .media_types
            .iter()
            .any(|t| essence(t) == essence(&content_type))
        {
            let refused = format!("files of type {} are not accepted", essence(&content_type));
            return Err(self.refused("type", Error::invalid(Reason::Media, refused)));
        }
        let size = i64::try_from(bytes.len()).map_err(Error::internal)?;
        // Checked again when recorded; this spares writing a refused file.
        let (app, quota) = (ctx.app_key.clone(), self.cfg.media_quota_bytes);
        let within = self
            .db
            .read(move |tx| check_quota(tx, &app, size, quota))
            .await;
        within.map_err(|e| match e.kind {
            ErrorKind::LimitExceeded => self.refused("quota", e),
            _ => e,
        })?;
        let media_id = format!("{}/{}", tag(&kind), uuid::Uuid::new_v4().simple());
        let path = self.cfg.media_dir.join(&media_id);
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
        let quota = self.cfg.media_quota_bytes;
        let result = self
            .db
            .write(move |tx| {
                if let Some(row) = &row {
                    insert_media(tx, &app, row, quota)?;
                }
                f(tx)
            })
            .await;
        if let (Err(e), Some(media)) = (&result, media) {
            if e.kind == ErrorKind::LimitExceeded && e.reason == Some(Reason::Media) {
                self.counters
                    .refused
                    .with_label_values(&[&self.name, "quota"])
                    .inc();
            }
            media.discard().await;
        }
        result
    }

    /// Counts an upload refused for `reason`; returns `err`.
    fn refused(&self, reason: &str, err: Error) -> Error {
        self.counters
            .refused
            .with_label_values(&[&self.name, reason])
            .inc();
        err
    }

    /// Sweeps the media directory: removes files without a record and
    /// unfinished writes older than `media_orphan_grace_secs` (younger ones
    /// may belong to an upload under way), and counts records whose file
    /// is missing. Recorded files are never removed.
    pub async fn sweep_media(&self) -> Result<Sweep> {
        let grace = std::time::Duration::from_secs(self.cfg.media_orphan_grace_secs);
        let dir = self.cfg.media_dir.clone();
        let old = tokio::task::spawn_blocking(move || old_files(&dir, grace))
            .await
            .map_err(Error::internal)?
            .map_err(|e| Error::internal(format_args!("listing media: {e}")))?;
        let mut sweep = Sweep::default();
        let (parts, files): (Vec<_>, Vec<_>) =
            old.into_iter().partition(|(id, _)| id.ends_with(".part"));
        let ids: Vec<String> = files.iter().map(|(id, _)| id.clone()).collect();
        let recorded = self
            .db
            .read(move |tx| {
                let mut out = std::collections::HashSet::new();
                for id in &ids {
                    let found: Option<String> = tx.query_opt(
                        "SELECT media_id FROM media WHERE media_id = ?1",
                        &[id],
                        |r| r.get(0),
                    )?;
                    out.extend(found);
                }
                Ok(out)
            })
            .await?;
        for (id, len) in parts
            .iter()
            .chain(files.iter().filter(|(id, _)| !recorded.contains(id)))
        {
            let path = self.cfg.media_dir.join(id);
            if let Err(e) = tokio::fs::remove_file(&path).await {
                tracing::warn!(path = %path.display(), error = %e, "could not remove orphan media file");
                continue;
            }
            tracing::info!(path = %path.display(), bytes = len, "orphan media file removed");
            match id.ends_with(".part") {
                true => sweep.parts += 1,
                false => sweep.files += 1,
            }
            sweep.bytes += len;
        }
        sweep.missing = self.missing_files().await?;
        let c = &self.counters;
        c.orphans_removed
            .with_label_values(&[&self.name, "file"])
            .inc_by(sweep.files);
        c.orphans_removed
            .with_label_values(&[&self.name, "part"])
            .inc_by(sweep.parts);
        c.orphan_bytes_removed
            .with_label_values(&[&self.name])
            .inc_by(sweep.bytes);
        c.missing_files
            .with_label_values(&[&self.name])
            .set(i64::try_from(sweep.missing).unwrap_or(i64::MAX));
        Ok(sweep)
    }

    /// How many recorded media files are not on disk (read by pages).
    async fn missing_files(&self) -> Result<u64> {
        let (mut after, mut missing) = (String::new(), 0u64);
        loop {
            let from = after.clone();
            let page: Vec<String> = self
                .db
                .read(move |tx| {
                    tx.query_all(
                        "SELECT media_id FROM media WHERE media_id > ?1 ORDER BY media_id LIMIT 1000",
                        &[&from],
                        |r| r.get(0),
                    )
                })
                .await?;
            let Some(last) = page.last() else {
                return Ok(missing);
            };
            after = last.clone();
            // One blocking task a page, not one a file.
            let dir = self.cfg.media_dir.clone();
            let gone = tokio::task::spawn_blocking(move || {
                let exists = |id: &String| dir.join(id).try_exists().unwrap_or(true);
                page.iter().filter(|id| !exists(id)).count() as u64
            });
            missing += gone.await.map_err(Error::internal)?;
        }
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
