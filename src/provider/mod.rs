//! Providers execute canonical operations: `embedded` (the built-in store) or a
//! vendor's server API. Each declares what it can do, so a frontend × provider
//! pair that cannot work answers `unsupported` instead of failing oddly.

pub mod embedded;
pub mod hosted;
pub mod ids;
pub mod vendor;

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use crate::canonical::fields::Keeps;
use crate::canonical::{Op, OpName, Output, Result};

/// A file that came with the request (multipart), referenced by
/// `Upload::slot` from the canonical request.
#[derive(Debug, Clone)]
pub struct Attachment {
    /// The multipart field name.
    pub field: String,
    /// The client's file name.
    pub filename: Option<String>,
    /// The declared content type.
    pub content_type: Option<String>,
    /// The bytes.
    pub bytes: Bytes,
}

/// Everything about a call that is not the operation itself.
#[derive(Debug, Clone, Default)]
pub struct CallContext {
    /// The app the frontend serves (scopes users, groups, rooms).
    pub app_key: String,
    /// The request id, passed on to vendors and logs.
    pub request_id: String,
    /// Files uploaded with the request.
    pub attachments: Arc<Vec<Attachment>>,
}

impl CallContext {
    /// The attachment an `Upload` refers to.
    pub fn attachment(&self, slot: usize) -> Option<&Attachment> {
        self.attachments.get(slot)
    }
}

/// Where canonical operations run.
#[async_trait]
pub trait Provider: Send + Sync {
    /// The provider's name as configured (used in messages and metrics).
    fn name(&self) -> &str;

    /// Whether the provider can run `op`. Called at load time for the
    /// capability matrix and before every call; the default says yes to every
    /// operation but those imbridge runs itself (`OpName::is_local`).
    fn supports(&self, op: OpName) -> bool {
        !op.is_local()
    }

    /// Whether the provider's `op` (a list) answers every entity, not only
    /// those imbridge has seen; the default: whenever it supports `op`.
    fn enumerates(&self, op: OpName) -> bool {
        self.supports(op)
    }

    /// The fields of each entity the provider keeps (stores and reads
    /// back); the default keeps every field.
    fn keeps(&self) -> Keeps {
        Keeps::all()
    }

    /// Runs one operation. Called once per inbound request after the request
    /// was extracted and authenticated; errors are canonical errors.
    async fn execute(&self, op: Op, ctx: &CallContext) -> Result<Output>;
}

/// A shared provider handle.
pub type SharedProvider = Arc<dyn Provider>;
