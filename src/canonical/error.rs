//! Canonical errors: one kind from a fixed set, an optional reason naming what
//! went wrong, where the fault lies (client, provider, imbridge itself), and a
//! message a client may read. Dialects render these with their own status codes,
//! error codes and body shapes (`mapping::inbound::render`).

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The ten canonical error kinds every dialect knows how to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The request is malformed or a value is out of its allowed range.
    InvalidArgument,
    /// Missing or wrong credentials.
    Unauthenticated,
    /// The caller is known but may not do this.
    PermissionDenied,
    /// The thing the request names does not exist.
    NotFound,
    /// The thing the request would create exists already.
    AlreadyExists,
    /// A size, count or time limit was exceeded.
    LimitExceeded,
    /// The provider cannot do this operation.
    Unsupported,
    /// The provider could not be reached in time.
    UpstreamUnavailable,
    /// The provider answered with an error imbridge could not map.
    UpstreamError,
    /// A bug or an unexpected state inside imbridge.
    Internal,
}

impl ErrorKind {
    /// Every kind, in declaration order.
    pub const ALL: [ErrorKind; 10] = [
        ErrorKind::InvalidArgument,
        ErrorKind::Unauthenticated,
        ErrorKind::PermissionDenied,
        ErrorKind::NotFound,
        ErrorKind::AlreadyExists,
        ErrorKind::LimitExceeded,
        ErrorKind::Unsupported,
        ErrorKind::UpstreamUnavailable,
        ErrorKind::UpstreamError,
        ErrorKind::Internal,
    ];

    /// The snake_case name used in mapping files and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "invalid_argument",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::NotFound => "not_found",
            ErrorKind::AlreadyExists => "already_exists",
            ErrorKind::LimitExceeded => "limit_exceeded",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::UpstreamUnavailable => "upstream_unavailable",
            ErrorKind::UpstreamError => "upstream_error",
            ErrorKind::Internal => "internal",
        }
    }

    /// Parses a snake_case kind name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Who is at fault by default for this kind.
    pub fn default_source(self) -> Source {
        match self {
            ErrorKind::UpstreamUnavailable | ErrorKind::UpstreamError => Source::Provider,
            ErrorKind::Internal => Source::Internal,
            _ => Source::Client,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an error is about: lets a dialect pick a finer error code than the kind
/// alone (JMessage: user exists 899001, member exists 899011, friend 899070).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The application (app key).
    App,
    /// A user.
    User,
    /// A group.
    Group,
    /// A chatroom.
    Chatroom,
    /// A group or chatroom membership.
    Member,
    /// A friendship.
    Friend,
    /// A blacklist entry.
    Blacklist,
    /// A message.
    Message,
    /// An uploaded media file.
    Media,
    /// A sensitive word.
    Word,
    /// A user, system or conversation setting.
    Setting,
    /// A robot account.
    Robot,
    /// The request body (malformed, wrong type, too large).
    Body,
    /// A request parameter (path, query, header or body field).
    Param,
    /// The request path matches no route.
    Route,
    /// The path exists but not for this HTTP method.
    Method,
    /// Credentials: password, basic auth.
    Credentials,
    /// A proxy-issued or vendor token.
    Token,
    /// A request signature.
    Signature,
    /// A signature or token that is too old.
    Expired,
    /// Too many items in one batch.
    Batch,
    /// A group or chatroom that is full.
    Capacity,
    /// The retract window of a message has passed.
    RetractWindow,
    /// The message was retracted already.
    Retracted,
    /// The caller does not own the group.
    Owner,
    /// A setting that is on already.
    AlreadyOn,
    /// A setting that is off already.
    AlreadyOff,
    /// A mute or disable preventing the action.
    Forbidden,
    /// The provider did not answer in time: the call may or may not have
    /// taken effect.
    Timeout,
    /// Too many attempts in a time window (failed logins).
    Rate,
}

impl Reason {
    /// Every reason, in declaration order.
    pub const ALL: [Reason; 30] = [
        Reason::App,
        Reason::User,
        Reason::Group,
        Reason::Chatroom,
        Reason::Member,
        Reason::Friend,
        Reason::Blacklist,
        Reason::Message,
        Reason::Media,
        Reason::Word,
        Reason::Setting,
        Reason::Robot,
        Reason::Body,
        Reason::Param,
        Reason::Route,
        Reason::Method,
        Reason::Credentials,
        Reason::Token,
        Reason::Signature,
        Reason::Expired,
        Reason::Batch,
        Reason::Capacity,
        Reason::RetractWindow,
        Reason::Retracted,
        Reason::Owner,
        Reason::AlreadyOn,
        Reason::AlreadyOff,
        Reason::Forbidden,
        Reason::Timeout,
        Reason::Rate,
    ];

    /// The snake_case name used in mapping files.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::App => "app",
            Reason::User => "user",
            Reason::Group => "group",
            Reason::Chatroom => "chatroom",
            Reason::Member => "member",
            Reason::Friend => "friend",
            Reason::Blacklist => "blacklist",
            Reason::Message => "message",
            Reason::Media => "media",
            Reason::Word => "word",
            Reason::Setting => "setting",
            Reason::Robot => "robot",
            Reason::Body => "body",
            Reason::Param => "param",
            Reason::Route => "route",
            Reason::Method => "method",
            Reason::Credentials => "credentials",
            Reason::Token => "token",
            Reason::Signature => "signature",
            Reason::Expired => "expired",
            Reason::Batch => "batch",
            Reason::Capacity => "capacity",
            Reason::RetractWindow => "retract_window",
            Reason::Retracted => "retracted",
            Reason::Owner => "owner",
            Reason::AlreadyOn => "already_on",
            Reason::AlreadyOff => "already_off",
            Reason::Forbidden => "forbidden",
            Reason::Timeout => "timeout",
            Reason::Rate => "rate",
        }
    }

    /// Parses a snake_case reason name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

/// Where an error comes from; feeds the `outcome` metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The caller sent something wrong.
    Client,
    /// The provider (vendor) failed or refused.
    Provider,
    /// imbridge itself failed.
    Internal,
}

/// A canonical error: what went wrong, about what, whose fault, and a message
/// safe to show the client. Internal causes go to the logs only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Error {
    /// The canonical kind.
    pub kind: ErrorKind,
    /// What the error is about, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// A message for the client (never a secret, never an internal cause).
    pub message: String,
    /// Who is at fault.
    #[serde(skip, default = "client_source")]
    pub source: Source,
}

fn client_source() -> Source {
    Source::Client
}

impl Error {
    /// A new error of `kind` with a client-facing message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            reason: None,
            message: message.into(),
            source: kind.default_source(),
        }
    }

    /// Sets the reason.
    pub fn with_reason(mut self, reason: Reason) -> Self {
        self.reason = Some(reason);
        self
    }

    /// Sets the source.
    pub fn with_source(mut self, source: Source) -> Self {
        self.source = source;
        self
    }

    /// `invalid_argument` about `reason`.
    pub fn invalid(reason: Reason, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message).with_reason(reason)
    }

    /// `not_found` about `reason`.
    pub fn not_found(reason: Reason, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message).with_reason(reason)
    }

    /// `already_exists` about `reason`.
    pub fn exists(reason: Reason, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::AlreadyExists, message).with_reason(reason)
    }

    /// `permission_denied` about `reason`.
    pub fn denied(reason: Reason, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::PermissionDenied, message).with_reason(reason)
    }

    /// `limit_exceeded` about `reason`.
    pub fn limit(reason: Reason, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::LimitExceeded, message).with_reason(reason)
    }

    /// `unauthenticated` about `reason`.
    pub fn unauthenticated(reason: Reason, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthenticated, message).with_reason(reason)
    }

    /// `internal`: logs the cause and shows the client a generic message.
    pub fn internal(cause: impl fmt::Display) -> Self {
        tracing::error!(cause = %cause, "internal error");
        Self::new(ErrorKind::Internal, "internal error")
    }

    /// `unsupported`: the named provider cannot run `op`.
    pub fn unsupported(provider: &str, op: &str) -> Self {
        Self::new(
            ErrorKind::Unsupported,
            format!("operation {op} is not supported by provider {provider}"),
        )
        .with_source(Source::Provider)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason {
            Some(r) => write!(f, "{}/{}: {}", self.kind, r.as_str(), self.message),
            None => write!(f, "{}: {}", self.kind, self.message),
        }
    }
}

impl std::error::Error for Error {}

/// Result of a canonical operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;
