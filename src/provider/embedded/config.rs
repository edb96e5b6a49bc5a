//! Configuration of the embedded provider: where it keeps its files, its limits,
//! the configured accounts and the password hashing cost.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use crate::auth::password::HashParams;
use crate::auth::Secret;

/// Image types: checked at upload, shown inline when downloaded.
pub const IMAGE_TYPES: &[&str] = &[
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/bmp",
    "image/webp",
];

/// Types uploads may have by default: [`IMAGE_TYPES`], audio, video and
/// common documents. None is rendered as a page by browsers.
pub const MEDIA_TYPES: &[&str] = &[
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/bmp",
    "image/webp",
    "application/octet-stream",
    "application/pdf",
    "application/zip",
    "application/gzip",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "text/plain",
    "text/csv",
    "audio/aac",
    "audio/amr",
    "audio/mpeg",
    "audio/mp4",
    "audio/ogg",
    "audio/wav",
    "audio/webm",
    "video/mp4",
    "video/mpeg",
    "video/quicktime",
    "video/webm",
];

/// Settings of the embedded provider; every field has a default, so an empty
/// table gives a working provider under `data/`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddedConfig {
    /// The SQLite database file (created with its directory when missing),
    /// when no `url` is set.
    pub path: PathBuf,
    /// PostgreSQL URL (`postgres://user:password@host:port/db`): the data
    /// lives there instead of `path`, shared by every replica using it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<Secret>,
    /// The directory uploaded media files are written to.
    pub media_dir: PathBuf,
    /// Public base URL of media downloads; a file's URL is `{media_base_url}/{media_id}`.
    pub media_base_url: String,
    /// Largest accepted upload, in bytes.
    pub max_media_bytes: u64,
    /// Content types uploads may have (images are checked to be what they
    /// say); others are refused with the dialect's invalid_argument/media.
    /// The default: images, audio, video and common documents — never
    /// HTML, SVG, scripts or XML.
    pub media_types: Vec<String>,
    /// Bytes of media an app may keep, all uploads together; an upload past
    /// it is refused with limit_exceeded/media. 0: no quota.
    pub media_quota_bytes: u64,
    /// Seconds a media file may lie on disk without its record before the
    /// sweep removes it (an upload whose record was never committed, so
    /// never acknowledged).
    pub media_orphan_grace_secs: u64,
    /// Seconds between two sweeps of the media directory; 0: never.
    pub media_sweep_secs: u64,
    /// Default maximum number of members of a group.
    pub group_max_members: i64,
    /// Maximum number of members of a chatroom.
    pub room_max_members: i64,
    /// How long after sending a message its sender may retract it, in seconds.
    pub retract_window_secs: u64,
    /// Number of pooled database connections.
    pub pool_size: usize,
    /// The account `customer.get` returns.
    pub customer: AccountConfig,
    /// The account `customer_service.get` returns.
    pub customer_service: AccountConfig,
    /// Cost of the argon2id password hashes of new passwords.
    pub password_hash: HashParams,
}

impl Default for EmbeddedConfig {
    fn default() -> Self {
        EmbeddedConfig {
            path: PathBuf::from("data/imbridge.db"),
            url: None,
            media_dir: PathBuf::from("data/media"),
            media_base_url: "http://127.0.0.1:8080/media".to_owned(),
            max_media_bytes: 8 * 1024 * 1024,
            media_types: MEDIA_TYPES.iter().map(|t| t.to_string()).collect(),
            media_quota_bytes: 10 * 1024 * 1024 * 1024,
            media_orphan_grace_secs: 3600,
            media_sweep_secs: 3600,
            group_max_members: 500,
            room_max_members: 10_000,
            retract_window_secs: 180,
            pool_size: 4,
            customer: AccountConfig::new("imbridge", "imbridge"),
            customer_service: AccountConfig::new("imbridge_cs", "imbridge"),
            password_hash: HashParams::default(),
        }
    }
}

/// An account configured for every app (customer, customer service).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    /// Account id.
    pub id: String,
    /// Display name.
    pub name: String,
}

impl AccountConfig {
    /// An account with this id and name.
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        AccountConfig {
            id: id.into(),
            name: name.into(),
        }
    }
}
