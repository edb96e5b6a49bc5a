//! Auth primitives named by mapping files. Inbound: who is calling (HTTP Basic
//! against frontend params, signature headers with a freshness window and
//! replay check, a user's password — handed back to the pipeline, which
//! checks it as the operation `user.authenticate`, throttled — a token
//! imbridge issued). The schemes are written here once; mapping files only
//! pick one and name its parameters.

pub mod capture;
pub mod logins;
pub mod password;
pub mod secret;
pub mod signature;

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use http::HeaderMap;
use serde_json::Value;

use crate::canonical::auth::TokenScope;
use crate::canonical::user::UserAuthenticate;
use crate::canonical::{Error, Reason};
use crate::mapping::path::{Found, Path};
use crate::store::Store;
pub use secret::Secret;
use signature::Layout;

/// Parameter values of one frontend, by name.
pub type Params = HashMap<String, Secret>;

/// Who the caller turned out to be.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    /// The authenticated user, for per-user schemes.
    pub username: Option<String>,
}

/// What a scheme made of a request's credentials.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    /// The caller is known.
    Caller(Caller),
    /// A user's password, still to be checked: the pipeline runs it as the
    /// operation `user.authenticate` (on the provider, or against the
    /// passwords imbridge kept); when it holds, the user is the caller.
    Password(UserAuthenticate),
}

/// How inbound callers of a dialect authenticate.
#[derive(Debug)]
pub enum InboundAuth {
    /// Anyone may call.
    None,
    /// `Authorization: Basic base64(user:password)` against two params.
    Basic {
        /// Param holding the expected user name (e.g. `app_key`).
        username: String,
        /// Param holding the expected password (e.g. `master_secret`).
        password: String,
    },
    /// Signature headers over nonce, secret and timestamp.
    Signature(SignatureCheck),
    /// A username and password from the request, checked as the operation
    /// `user.authenticate` by the pipeline; the user becomes the caller.
    UserPassword {
        /// Where the username is.
        username: Path,
        /// Where the password is.
        password: Path,
        /// Usernames are case-insensitive: checked (and the caller named)
        /// in lower case (Easemob).
        lowercase: bool,
    },
    /// A user's `Authorization: Basic base64(username:password)`, checked
    /// like [`InboundAuth::UserPassword`] (Django REST framework's
    /// `BasicAuthentication`).
    UserBasic {
        /// Usernames are case-insensitive (see `UserPassword`).
        lowercase: bool,
    },
    /// The first scheme whose credentials the request presents (in order;
    /// the first scheme when it presents none), as an app accepting several
    /// kinds of credentials does (Django REST framework's authentication
    /// classes).
    Any(Vec<InboundAuth>),
    /// Values from the request that must equal frontend params (Easemob's
    /// `client_id`/`client_secret` in a token request), compared in constant time.
    Params(Vec<(String, Path)>),
    /// A token imbridge issued (`auth.token.issue`) to this frontend.
    IssuedToken {
        /// Where the token is.
        token: Path,
        /// A prefix to strip (`Bearer `, `Token `), compared case-insensitively.
        prefix: Option<String>,
        /// The scope the token must have; user tokens make their user the caller.
        scope: TokenScope,
    },
}

/// What a scheme may look at.
pub struct AuthInput<'a> {
    /// Request headers.
    pub headers: &'a HeaderMap,
    /// The input document (body, query, ...).
    pub input: &'a Value,
    /// Frontend params.
    pub params: &'a Params,
    /// Request time.
    pub now_ms: i64,
    /// Frontend name (tokens are per frontend).
    pub frontend: &'a str,
    /// imbridge's store (issued tokens).
    pub store: Option<&'a Store>,
}

/// A string the path finds, if any.
fn text_at(path: &Path, input: &Value) -> Option<String> {
    match path.find(input) {
        Found::One(Value::String(s)) => Some(s.clone()),
        Found::One(v @ Value::Number(_)) => Some(v.to_string()),
        _ => None,
    }
    .filter(|s| !s.is_empty())
}

/// Inbound signature verification.
#[derive(Debug)]
pub struct SignatureCheck {
    /// Order and separators of the signed string.
    pub layout: Layout,
    /// Param holding the shared secret.
    pub secret: String,
    /// Header names (first found wins) of the nonce.
    pub nonce: Vec<String>,
    /// Header names of the timestamp.
    pub timestamp: Vec<String>,
    /// Header names of the signature.
    pub sign: Vec<String>,
    /// Header names of an app key that must equal the `app_key` param.
    pub app_key: Vec<String>,
    /// Maximum age of the timestamp; none disables the check.
    pub max_age: Option<Duration>,
    /// How long a signature is remembered after its first use, to refuse
    /// its replays (in the store, so on every replica); none accepts replays.
    pub replay: Option<Duration>,
}

fn header<'a>(headers: &'a HeaderMap, names: &[String]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|n| headers.get(n.as_str()))
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn param<'a>(params: &'a Params, name: &str) -> Result<&'a Secret, Error> {
    params
        .get(name)
        .ok_or_else(|| Error::internal(format!("frontend param `{name}` is not configured")))
}

impl InboundAuth {
    /// Checks a request's credentials. Called once per request, after the
    /// body is parsed and before the canonical request is built.
    pub async fn check(&self, cx: &AuthInput<'_>) -> Result<Verdict, Error> {
        self.verdict(cx, true).await
    }

    /// [`Self::check`]; with `record` false a signature is verified but not
    /// recorded against replays ([`Self::record`] does that later).
    async fn verdict(&self, cx: &AuthInput<'_>, record: bool) -> Result<Verdict, Error> {
        let scheme = self.chosen(cx);
        let folded = |user: String, fold: bool| match fold {
            true => user.to_lowercase(),
            false => user,
        };
        match scheme {
            InboundAuth::UserPassword {
                username,
                password,
                lowercase: fold,
            } => {
                let user = text_at(username, cx.input).map(|u| folded(u, *fold));
                let (Some(username), Some(password)) = (user, text_at(password, cx.input)) else {
                    return Err(Error::unauthenticated(
                        Reason::Credentials,
                        "username and password are required",
                    ));
                };
                Ok(Verdict::Password(UserAuthenticate { username, password }))
            }
            InboundAuth::UserBasic { lowercase: fold } => {
                let (user, password) = basic_credentials(cx.headers).ok_or_else(|| {
                    Error::unauthenticated(Reason::Credentials, "Basic authentication failed")
                })?;
                Ok(Verdict::Password(UserAuthenticate {
                    username: folded(user, *fold),
                    password,
                }))
            }
            InboundAuth::Signature(check) if !record => {
                check.verify(cx, false).await.map(Verdict::Caller)
            }
            scheme => scheme.caller(cx).await.map(Verdict::Caller),
        }
    }

    /// The scheme that decides this request: itself, or for `Any` the first
    /// whose credentials the request presents.
    fn chosen(&self, cx: &AuthInput<'_>) -> &InboundAuth {
        match self {
            InboundAuth::Any(schemes) => schemes
                .iter()
                .find(|s| s.presented(cx))
                .unwrap_or(&schemes[0]),
            scheme => scheme,
        }
    }

    /// Whether the request carries this scheme's kind of credentials (right
    /// or wrong).
    fn presented(&self, cx: &AuthInput<'_>) -> bool {
        let authorization = || {
            cx.headers
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
        };
        match self {
            InboundAuth::None => true,
            InboundAuth::Basic { .. } | InboundAuth::UserBasic { .. } => {
                authorization().is_some_and(|v| strip_prefix_ignore_case(v, "Basic ").is_some())
            }
            InboundAuth::Signature(check) => header(cx.headers, &check.sign).is_some(),
            InboundAuth::UserPassword { username, .. } => text_at(username, cx.input).is_some(),
            InboundAuth::Params(fields) => fields
                .iter()
                .any(|(_, path)| text_at(path, cx.input).is_some()),
            InboundAuth::IssuedToken { token, prefix, .. } => {
                text_at(token, cx.input).is_some_and(|raw| {
                    prefix
                        .as_deref()
                        .is_none_or(|p| strip_prefix_ignore_case(&raw, p).is_some())
                })
            }
            InboundAuth::Any(schemes) => schemes.iter().any(|s| s.presented(cx)),
        }
    }

    /// Whether the scheme decides from the request head alone (headers,
    /// frontend params): then a request it refuses is refused before its
    /// body is read.
    pub fn reads_head_only(&self) -> bool {
        let in_headers = |p: &Path| {
            let t = p.text();
            t.starts_with("$.headers.") || t.starts_with("$.headers[")
        };
        match self {
            InboundAuth::None | InboundAuth::UserPassword { .. } => false,
            InboundAuth::Basic { .. } | InboundAuth::UserBasic { .. } => true,
            InboundAuth::Signature(_) => true,
            InboundAuth::Params(fields) => fields.iter().all(|(_, p)| in_headers(p)),
            InboundAuth::IssuedToken { token, .. } => in_headers(token),
            InboundAuth::Any(schemes) => schemes.iter().all(InboundAuth::reads_head_only),
        }
    }

    /// For a scheme that [reads the head only](Self::reads_head_only), on
    /// an input of headers alone: its verdict on the request's credentials
    /// (none for other schemes). Nothing is recorded: when the request runs
    /// on this verdict, [`Self::record`] records a signature against
    /// replays.
    pub async fn check_head(&self, cx: &AuthInput<'_>) -> Option<Result<Verdict, Error>> {
        match self.reads_head_only() {
            true => Some(self.verdict(cx, false).await),
            false => None,
        }
    }

    /// What [`Self::check_head`] left undone: a signature recorded as used
    /// (refused when it was).
    pub async fn record(&self, cx: &AuthInput<'_>) -> Result<(), Error> {
        match self.chosen(cx) {
            InboundAuth::Signature(check) => match check.parts(cx.headers) {
                Some((nonce, ts, sign)) => check.remember(cx, nonce, ts, sign).await,
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }

    /// The caller, for the schemes that settle it themselves.
    async fn caller(&self, cx: &AuthInput<'_>) -> Result<Caller, Error> {
        let (headers, params, now_ms) = (cx.headers, cx.params, cx.now_ms);
        match self {
            InboundAuth::None => Ok(Caller::default()),
            InboundAuth::Basic { username, password } => {
                let expected_user = param(params, username)?;
                let expected_pass = param(params, password)?;
                let missing =
                    || Error::unauthenticated(Reason::Credentials, "Basic authentication failed");
                let (user, pass) = basic_credentials(headers).ok_or_else(missing)?;
                // Evaluate both comparisons so timing does not reveal which failed.
                let user_ok = expected_user.matches(&user);
                let pass_ok = expected_pass.matches(&pass);
                if user_ok & pass_ok {
                    Ok(Caller::default())
                } else {
                    Err(missing())
                }
            }
            InboundAuth::Signature(check) => check.verify(cx, true).await,
            InboundAuth::UserPassword { .. } | InboundAuth::UserBasic { .. } => Err(
                Error::internal("user passwords are checked by the pipeline"),
            ),
            InboundAuth::Any(_) => Err(Error::internal("`any` is resolved by `check`")),
            InboundAuth::Params(fields) => {
                let mut ok = !fields.is_empty();
                for (name, path) in fields {
                    let given = text_at(path, cx.input).unwrap_or_default();
                    // Compare all of them, so timing does not tell which one failed.
                    ok &= param(params, name)?.matches(&given);
                }
                if ok {
                    Ok(Caller::default())
                } else {
                    Err(Error::unauthenticated(
                        Reason::Credentials,
                        "invalid client credentials",
                    ))
                }
            }
            InboundAuth::IssuedToken {
                token,
                prefix,
                scope,
            } => {
                let missing = || Error::unauthenticated(Reason::Credentials, "a token is required");
                let raw = text_at(token, cx.input).ok_or_else(missing)?;
                let value = match prefix {
                    Some(p) => strip_prefix_ignore_case(&raw, p)
                        .ok_or_else(missing)?
                        .trim()
                        .to_string(),
                    None => raw,
                };
                let store = cx
                    .store
                    .ok_or_else(|| Error::internal("issued tokens need the store"))?;
                let record = store.verify(cx.frontend, &value, now_ms).await?;
                if record.scope != *scope {
                    let invalid = Error::unauthenticated(Reason::Token, "invalid token");
                    return Err(store.refused(cx.frontend, "scope", invalid));
                }
                Ok(Caller {
                    username: record.subject,
                })
            }
        }
    }
}

impl SignatureCheck {
    /// Checks the signature headers; with `record`, also records the
    /// signature as used, refusing it when it was.
    async fn verify(&self, cx: &AuthInput<'_>, record: bool) -> Result<Caller, Error> {
        let (headers, params, now_ms) = (cx.headers, cx.params, cx.now_ms);
        let Some((nonce, ts, sign)) = self.parts(headers) else {
            return Err(Error::unauthenticated(
                Reason::Signature,
                "request is not signed",
            ));
        };
        let Some(ts_ms) = signature::timestamp_ms(ts) else {
            return Err(Error::unauthenticated(
                Reason::Signature,
                "request is not signed",
            ));
        };
        if !self.app_key.is_empty() {
            let expected = param(params, "app_key")?;
            if !header(headers, &self.app_key).is_some_and(|k| expected.matches(k)) {
                return Err(Error::unauthenticated(
                    Reason::Credentials,
                    "app key mismatch",
                ));
            }
        }
        if let Some(max_age) = self.max_age {
            let age = now_ms
                .checked_sub(ts_ms)
                .map_or(u64::MAX, i64::unsigned_abs);
            if age > max_age.as_millis() as u64 {
                return Err(Error::unauthenticated(Reason::Expired, "signature expired"));
            }
        }
        let secret = param(params, &self.secret)?;
        let expected = self.layout.sign(nonce, secret.expose(), ts);
        if !secret::constant_time_eq(expected.as_bytes(), sign.to_ascii_lowercase().as_bytes()) {
            return Err(Error::unauthenticated(Reason::Credentials, "auth failure"));
        }
        if record {
            self.remember(cx, nonce, ts, sign).await?;
        }
        Ok(Caller::default())
    }

    /// The nonce, timestamp and signature headers, when all are there.
    fn parts<'h>(&self, headers: &'h HeaderMap) -> Option<(&'h str, &'h str, &'h str)> {
        Some((
            header(headers, &self.nonce)?,
            header(headers, &self.timestamp)?,
            header(headers, &self.sign)?,
        ))
    }

    /// Records a verified signature as used, refusing it when it was
    /// (nothing to do when replays are accepted).
    async fn remember(
        &self,
        cx: &AuthInput<'_>,
        nonce: &str,
        ts: &str,
        sign: &str,
    ) -> Result<(), Error> {
        if let Some(remember) = self.replay {
            let store = cx
                .store
                .ok_or_else(|| Error::internal("refusing replays needs the store"))?;
            // The signature as checked: in lower case, so that the same
            // one in capitals is a replay too.
            let key = format!("{nonce}\u{0}{ts}\u{0}{}", sign.to_ascii_lowercase());
            let until_ms = cx.now_ms.saturating_add(remember.as_millis() as i64);
            // Check and record in one step: of concurrent uses, on any
            // replica, one is first.
            if !store.first_use(cx.frontend, &key, until_ms).await? {
                return Err(Error::unauthenticated(
                    Reason::Expired,
                    "signature already used",
                ));
            }
        }
        Ok(())
    }
}

/// The user name and password of an `Authorization: Basic` header.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = strip_prefix_ignore_case(value, "Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, pass) = text.split_once(':')?;
    (!user.is_empty()).then(|| (user.to_string(), pass.to_string()))
}

/// `text` without `prefix`, compared ignoring ASCII case (`Bearer`, `bearer`).
fn strip_prefix_ignore_case<'t>(text: &'t str, prefix: &str) -> Option<&'t str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::ErrorKind;

    #[test]
    fn prefixes_match_ignoring_case_and_never_split_a_character() {
        assert_eq!(
            strip_prefix_ignore_case("bearer abc", "Bearer "),
            Some("abc")
        );
        assert_eq!(strip_prefix_ignore_case("BASIC x", "Basic "), Some("x"));
        assert_eq!(strip_prefix_ignore_case("Beare€x", "Bearer "), None);
        assert_eq!(strip_prefix_ignore_case("Bea", "Bearer "), None);
    }

    /// Runs a scheme on headers alone.
    fn check(
        auth: &InboundAuth,
        headers: &HeaderMap,
        params: &Params,
        now_ms: i64,
    ) -> Result<Verdict, Error> {
        futures::executor::block_on(check_in(None, auth, headers, params, now_ms))
    }

    /// Runs a scheme on headers alone, with `store` (issued tokens, replays).
    async fn check_in(
        store: Option<&Store>,
        auth: &InboundAuth,
        headers: &HeaderMap,
        params: &Params,
        now_ms: i64,
    ) -> Result<Verdict, Error> {
        let cx = AuthInput {
            headers,
            input: &Value::Null,
            params,
            now_ms,
            frontend: "test",
            store,
        };
        auth.check(&cx).await
    }

    /// A store in a temp dir (where replays are refused) and a runtime for it
    /// (a store closes its connections on the runtime).
    struct Kept {
        store: Option<Store>,
        rt: tokio::runtime::Runtime,
        _dir: tempfile::TempDir,
    }

    impl Drop for Kept {
        fn drop(&mut self) {
            let _in = self.rt.enter();
            self.store.take();
        }
    }

    impl Kept {
        fn new() -> Kept {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            let dir = tempfile::tempdir().unwrap();
            let config = crate::store::StoreConfig::sqlite(dir.path().join("state.db"));
            let store = {
                let _in = rt.enter();
                Store::open(&config).unwrap()
            };
            Kept {
                store: Some(store),
                rt,
                _dir: dir,
            }
        }

        /// Runs a scheme on headers alone, with this store.
        fn check(
            &self,
            auth: &InboundAuth,
            headers: &HeaderMap,
            params: &Params,
            now_ms: i64,
        ) -> Result<Verdict, Error> {
            let checked = check_in(self.store.as_ref(), auth, headers, params, now_ms);
            self.rt.block_on(checked)
        }
    }

    #[test]
    fn user_password_can_fold_usernames_to_lower_case() {
        let path = |p: &str| Path::compile(crate::mapping::path::Root::Doc, p, p).unwrap();
        let input = serde_json::json!({"body": {"username": "Tom.K", "password": "pw"}});
        for (lowercase, expected) in [(true, "tom.k"), (false, "Tom.K")] {
            let auth = InboundAuth::UserPassword {
                username: path("$.body.username"),
                password: path("$.body.password"),
                lowercase,
            };
            let cx = AuthInput {
                headers: &HeaderMap::new(),
                input: &input,
                params: &Params::new(),
                now_ms: 0,
                frontend: "test",
                store: None,
            };
            let verdict = futures::executor::block_on(auth.check(&cx)).unwrap();
            let login = UserAuthenticate {
                username: expected.into(),
                password: "pw".into(),
            };
            assert_eq!(verdict, Verdict::Password(login));
        }
    }

    fn params() -> Params {
        Params::from([
            ("app_key".to_string(), Secret::new("appkey1")),
            ("master_secret".to_string(), Secret::new("secret1")),
            ("secret".to_string(), Secret::new("123456")),
        ])
    }

    #[test]
    fn basic_auth_accepts_the_configured_pair_only() {
        let auth = InboundAuth::Basic {
            username: "app_key".into(),
            password: "master_secret".into(),
        };
        let mut h = HeaderMap::new();
        assert_eq!(
            check(&auth, &h, &params(), 0).unwrap_err().reason,
            Some(Reason::Credentials)
        );
        h.insert(
            "authorization",
            "Basic YXBwa2V5MTpzZWNyZXQx".parse().unwrap(),
        );
        assert!(check(&auth, &h, &params(), 0).is_ok());
        h.insert(
            "authorization",
            "Basic YXBwa2V5MTpzZWNyZXQy".parse().unwrap(),
        );
        assert!(check(&auth, &h, &params(), 0).is_err());
    }

    #[test]
    fn any_lets_the_presented_credentials_decide_else_the_first_scheme() {
        let auth = InboundAuth::Any(vec![
            wildfire(None),
            InboundAuth::UserBasic { lowercase: true },
        ]);
        // Nothing presented: the first scheme's refusal.
        let none = check(&auth, &HeaderMap::new(), &params(), 0).unwrap_err();
        assert_eq!(none.reason, Some(Reason::Signature));
        // A user's Basic credentials: a password login of that user.
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            "Basic QW15OnMzY3JldDpvaw==".parse().unwrap(),
        );
        match check(&auth, &h, &params(), 0).unwrap() {
            Verdict::Password(login) => {
                assert_eq!((&*login.username, &*login.password), ("amy", "s3cret:ok"));
            }
            other => panic!("not a password login: {other:?}"),
        }
        // Basic without a user name, or not base64: refused, not passed on.
        for bad in ["Basic OnB3", "Basic %%%"] {
            h.insert("authorization", bad.parse().unwrap());
            let e = check(&auth, &h, &params(), 0).unwrap_err();
            assert_eq!(e.reason, Some(Reason::Credentials), "{bad}");
        }
        // A (wrong) signature presented: the signature decides.
        let e = check(&auth, &signed("n", "1", "bad"), &params(), 0).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unauthenticated);
        assert_eq!(e.reason, Some(Reason::Credentials));
    }

    fn wildfire(max_age: Option<Duration>) -> InboundAuth {
        InboundAuth::Signature(SignatureCheck {
            layout: Layout::parse("{nonce}|{secret}|{timestamp}").unwrap(),
            secret: "secret".into(),
            nonce: vec!["nonce".into()],
            timestamp: vec!["timestamp".into()],
            sign: vec!["sign".into()],
            app_key: vec![],
            max_age,
            replay: Some(Duration::from_secs(60)),
        })
    }

    fn signed(nonce: &str, ts: &str, sign: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("nonce", nonce.parse().unwrap());
        h.insert("timestamp", ts.parse().unwrap());
        h.insert("sign", sign.parse().unwrap());
        h
    }

    #[test]
    fn signature_seed_vector_then_replay() {
        let auth = wildfire(None);
        let kept = Kept::new();
        let h = signed(
            "76616",
            "1558350862502",
            "b98f9b0717f59febccf1440067a7f50d9b31bdde",
        );
        // No freshness check: replays are remembered from now on.
        let now = chrono::Utc::now().timestamp_millis();
        // Without the store, replays cannot be refused: nothing is accepted.
        assert_eq!(
            check(&auth, &h, &params(), now).unwrap_err().kind,
            ErrorKind::Internal
        );
        assert!(kept.check(&auth, &h, &params(), now).is_ok());
        let replay = kept.check(&auth, &h, &params(), now).unwrap_err();
        assert_eq!(replay.reason, Some(Reason::Expired));
        // The same signature in capitals is the same signature.
        let upper = signed(
            "76616",
            "1558350862502",
            "B98F9B0717F59FEBCCF1440067A7F50D9B31BDDE",
        );
        let replay = kept.check(&auth, &upper, &params(), now).unwrap_err();
        assert_eq!(replay.reason, Some(Reason::Expired));
    }

    /// A timestamp is accepted while within `max_age` of now in either
    /// direction, so a signature stays valid for up to 2 × `max_age` after
    /// its first use; replays must be refused for all of that time.
    #[test]
    fn future_signatures_cannot_be_replayed_after_max_age() {
        let text = r#"
dialect: t
params:
  secret: {secret: true}
inbound:
  prefixes: [/t]
  auth:
    scheme: signature
    layout: "{nonce}|{secret}|{timestamp}"
    secret: secret
    headers: {nonce: [nonce], timestamp: [timestamp], sign: [sign]}
    max_age_secs: 1
  routes:
    - {op: health.check, method: POST, path: /t}
"#;
        let dialect = crate::mapping::compile::compile_file(std::path::Path::new("t.yaml"), text)
            .expect("test mapping compiles");
        let auth = dialect.inbound.expect("inbound").auth.clone();
        // The store first: opening it may take seconds on a loaded machine.
        let kept = Kept::new();
        let now = || chrono::Utc::now().timestamp_millis();
        let ts = (now() + 900).to_string();
        let sign = Layout::parse("{nonce}|{secret}|{timestamp}")
            .unwrap()
            .sign("1", "123456", &ts);
        let h = signed("1", &ts, &sign);
        assert!(kept.check(&auth, &h, &params(), now()).is_ok());
        // Past max_age after the first use, but the timestamp is still fresh.
        std::thread::sleep(Duration::from_millis(1100));
        let replay = kept.check(&auth, &h, &params(), now()).unwrap_err();
        assert_eq!(replay.reason, Some(Reason::Expired));
    }

    /// The same signature sent many times at once is accepted once.
    #[test]
    fn concurrent_replays_are_refused() {
        let auth = std::sync::Arc::new(wildfire(None));
        let kept = std::sync::Arc::new(Kept::new());
        for round in 0..50 {
            let nonce = round.to_string();
            let sign = Layout::parse("{nonce}|{secret}|{timestamp}").unwrap().sign(
                &nonce,
                "123456",
                "1558350862502",
            );
            let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let (auth, barrier, kept) = (auth.clone(), barrier.clone(), kept.clone());
                    let h = signed(&nonce, "1558350862502", &sign);
                    std::thread::spawn(move || {
                        barrier.wait();
                        let now = chrono::Utc::now().timestamp_millis();
                        kept.check(&auth, &h, &params(), now).is_ok()
                    })
                })
                .collect();
            let accepted = handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .filter(|ok| *ok)
                .count();
            assert_eq!(accepted, 1, "round {round}");
        }
    }

    #[test]
    fn signature_freshness_and_mismatch() {
        let auth = wildfire(Some(Duration::from_secs(7200)));
        let h = signed(
            "76616",
            "1558350862502",
            "b98f9b0717f59febccf1440067a7f50d9b31bdde",
        );
        let now = 1_558_350_862_502 + 3 * 3600 * 1000;
        assert_eq!(
            check(&auth, &h, &params(), now).unwrap_err().reason,
            Some(Reason::Expired)
        );
        let bad = signed("76616", "1558350862502", "00");
        assert_eq!(
            check(&auth, &bad, &params(), 1_558_350_862_502)
                .unwrap_err()
                .reason,
            Some(Reason::Credentials)
        );
        assert_eq!(
            check(&auth, &HeaderMap::new(), &params(), 0)
                .unwrap_err()
                .reason,
            Some(Reason::Signature)
        );
    }
}
