//! Media downloads from the API listener, safe to serve from the API's own
//! origin: only images (checked at upload) are shown inline; every other
//! file is an attachment whose type is on [`MEDIA_TYPES`] or else
//! `application/octet-stream`; browsers may not sniff or run anything
//! (`X-Content-Type-Options: nosniff`, a sandboxing CSP). Files are streamed
//! from disk, never read whole into memory.

use std::path::Path;

use http::Response;

use super::conn::Answer;
use crate::provider::embedded::{IMAGE_TYPES, MEDIA_TYPES};

/// How a stored content type is served: the type sent and whether the file
/// is shown inline (images) or downloaded.
pub fn served_type(stored: &str) -> (&'static str, bool) {
    let essence = stored
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if let Some(t) = IMAGE_TYPES.iter().find(|t| **t == essence) {
        return (t, true);
    }
    let t = MEDIA_TYPES
        .iter()
        .find(|t| **t == essence)
        .unwrap_or(&"application/octet-stream");
    (t, false)
}

/// A media file ready to be streamed.
pub struct Download {
    file: tokio::fs::File,
    len: u64,
    content_type: &'static str,
    inline: bool,
}

impl Download {
    /// Opens a stored file; none when it is gone (logged).
    pub async fn open(path: &Path, stored_type: &str, media_id: &str) -> Option<Download> {
        let opened = async {
            let file = tokio::fs::File::open(path).await?;
            let len = file.metadata().await?.len();
            Ok::<_, std::io::Error>((file, len))
        };
        match opened.await {
            Ok((file, len)) => {
                let (content_type, inline) = served_type(stored_type);
                Some(Download {
                    file,
                    len,
                    content_type,
                    inline,
                })
            }
            Err(e) => {
                tracing::error!(media_id, error = %e, "media file unreadable");
                None
            }
        }
    }

    /// The answer streaming the file.
    pub fn answer(self, request_id: &str) -> Answer {
        let mut head = Response::builder()
            .status(200)
            .header("content-type", self.content_type)
            .header("content-length", self.len)
            .header("x-content-type-options", "nosniff")
            .header("content-security-policy", "default-src 'none'; sandbox")
            .header("x-request-id", request_id);
        if !self.inline {
            head = head.header("content-disposition", "attachment");
        }
        Answer::File {
            head: head.body(()).unwrap_or_default(),
            file: self.file,
            len: self.len,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_checked_images_are_inline_and_unknown_types_are_octet_streams() {
        assert_eq!(served_type("image/png"), ("image/png", true));
        assert_eq!(served_type("IMAGE/JPEG; x=y"), ("image/jpeg", true));
        assert_eq!(
            served_type("image/svg+xml"),
            ("application/octet-stream", false)
        );
        assert_eq!(
            served_type("text/html"),
            ("application/octet-stream", false)
        );
        assert_eq!(
            served_type("text/plain; charset=utf-8"),
            ("text/plain", false)
        );
        assert_eq!(served_type("audio/amr"), ("audio/amr", false));
    }
}
