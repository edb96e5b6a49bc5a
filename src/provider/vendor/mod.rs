//! Vendor providers: a vendor's server API described by the `outbound:` half
//! of a mapping file. Each canonical operation runs as one or more HTTP calls
//! on a pooled client, with the vendor's auth, timeouts on every call, retries
//! only for idempotent calls, and the vendor's errors mapped to canonical ones.

pub mod auth;
pub mod config;
pub mod guard;
pub mod http;

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use async_trait::async_trait;
use rand::Rng;

use self::guard::Guard;
use self::http::{parse_base, Http, Sent};
use crate::canonical::fields::Keeps;
use crate::canonical::{Error, Op, OpName, Output, Result};
use crate::golden::record::{self, Tape};
use crate::mapping::outbound::token::{self, Token};
use crate::mapping::outbound::{Answer, Binding, Next, Outgoing, Run};
use crate::mapping::plan::Dialect;
use crate::metrics::Metrics;
use crate::provider::{CallContext, Provider};
use crate::store::Store;
pub use config::VendorConfig;

/// A vendor provider.
pub struct VendorProvider {
    name: String,
    cfg: VendorConfig,
    http: Http,
    bound: ArcSwapOption<Binding>,
    tokens: moka::future::Cache<(), Token>,
    metrics: Arc<Metrics>,
    /// imbridge's records of what the vendor cannot keep (store steps);
    /// none in dry runs.
    store: Option<Arc<Store>>,
    /// Circuit breaker, concurrency limit, deadline, token back-off.
    guard: Guard,
}

/// A number no other call of this process draws at the same time
/// (`$.fresh_id`: vendors that want client-made ids).
fn fresh_id() -> i64 {
    chrono::Utc::now().timestamp_millis() * 1000 + rand::rng().random_range(0..1000)
}

impl VendorProvider {
    /// A provider for `cfg` over HTTP, keeping what the vendor cannot in
    /// `store`; it serves once a dialect is installed.
    pub fn new(
        name: &str,
        cfg: &VendorConfig,
        metrics: Arc<Metrics>,
        store: Option<Arc<Store>>,
    ) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(cfg.connect_timeout_ms))
            .timeout(Duration::from_millis(cfg.timeout_ms))
            .pool_idle_timeout(Duration::from_secs(90))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(VendorProvider {
            name: name.to_string(),
            cfg: cfg.clone(),
            http: Http {
                client,
                base_url: cfg.base_url.clone(),
                base: parse_base(&cfg.base_url),
                max_bytes: cfg.max_response_bytes,
                provider: name.to_string(),
                timeout: Duration::from_millis(cfg.timeout_ms),
            },
            bound: ArcSwapOption::empty(),
            tokens: auth::token_cache(),
            guard: Guard::new(name, cfg, &metrics),
            metrics,
            store,
        })
    }

    /// The dialect this provider is configured with.
    pub fn dialect_name(&self) -> &str {
        &self.cfg.dialect
    }

    /// Checks that `dialect` can drive this provider (it has an outbound half
    /// and every required param is set) and binds it; nothing changes until
    /// `install`.
    pub fn prepare(&self, dialect: Arc<Dialect>) -> std::result::Result<Binding, String> {
        Binding::new(&self.name, dialect, &self.cfg.params)
    }

    /// Makes a prepared binding the provider's (calls under way finish with
    /// the binding they started with).
    pub fn install(&self, binding: Binding) {
        self.bound.store(Some(Arc::new(binding)));
    }

    /// What the mapping says of `op` on this vendor: the operation's note
    /// when it runs it, else the reason it cannot (when the file gives one).
    pub fn remark(&self, op: OpName) -> Option<String> {
        let bound = self.bound.load();
        let outbound = bound.as_ref()?.outbound();
        match outbound.ops.get(&op) {
            Some(plan) => plan.note.clone(),
            None if outbound.hosted.contains(&op) => {
                Some("imbridge runs it itself, on its embedded provider".to_string())
            }
            None => outbound.unsupported.get(&op).cloned(),
        }
    }

    /// Whether imbridge runs `op` itself for this vendor (`hosted:`).
    pub fn hosts(&self, op: OpName) -> bool {
        self.bound
            .load()
            .as_ref()
            .is_some_and(|b| b.outbound().hosted.contains(&op))
    }

    fn bound(&self) -> Result<Arc<Binding>> {
        self.bound
            .load_full()
            .ok_or_else(|| Error::internal(format!("provider {} has no dialect bound", self.name)))
    }

    /// Sends with retries for idempotent calls; records metrics. With
    /// `signed`, every attempt gets the binding's static credentials afresh
    /// (a new nonce: a vendor that refuses replays refuses a signature it
    /// saw, even when its answer to that attempt was lost).
    async fn send(
        &self,
        op: OpName,
        out: &Outgoing,
        ctx: &CallContext,
        signed: Option<(&Binding, i64)>,
    ) -> Result<Answer> {
        let attempts = 1 + if out.idempotent { self.cfg.retries } else { 0 };
        let mut last_error = None;
        for attempt in 0..attempts {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
            }
            let mut req = out.clone();
            if let Some((binding, now_ms)) = signed {
                req.headers.extend(auth::static_headers(
                    &binding.outbound().auth,
                    &binding.params,
                    now_ms,
                )?);
            }
            let started = std::time::Instant::now();
            let sent = self.http.send(&req, ctx).await;
            self.metrics
                .provider_call_duration
                .with_label_values(&[self.name.as_str()])
                .observe(started.elapsed().as_secs_f64());
            let label = match &sent {
                Sent::Answer(a) => a.status.to_string(),
                Sent::Failed { label, .. } => (*label).to_string(),
            };
            self.metrics
                .provider_calls
                .with_label_values(&[self.name.as_str(), op.as_str(), label.as_str()])
                .inc();
            match sent {
                Sent::Answer(a) if !matches!(a.status, 502..=504) => return Ok(a),
                Sent::Answer(a) => last_error = Some(Ok(a)),
                Sent::Failed { error, .. } => last_error = Some(Err(error)),
            }
        }
        last_error.unwrap_or_else(|| Err(Error::internal("no attempt made")))
    }

    /// One call with the vendor's credentials: a cached token dropped and
    /// fetched again once when the vendor refuses it.
    async fn call(
        &self,
        binding: &Binding,
        op: OpName,
        out: &Outgoing,
        ctx: &CallContext,
        now_ms: i64,
    ) -> Result<Answer> {
        let scheme = token::scheme(binding);
        let mut refreshed = false;
        loop {
            let mut req = out.clone();
            if let Some(t) = scheme {
                let token = self.token(binding, ctx, now_ms).await?;
                req.headers
                    .push((t.header.clone(), token.header_value.to_string()));
            }
            let answer = self.send(op, &req, ctx, Some((binding, now_ms))).await?;
            if let Some(t) = scheme {
                if t.invalid_status.contains(&answer.status) && !refreshed {
                    self.tokens.invalidate(&()).await;
                    self.metrics
                        .token_cache
                        .with_label_values(&[self.name.as_str(), "invalidated"])
                        .inc();
                    refreshed = true;
                    continue;
                }
            }
            return Ok(answer);
        }
    }

    /// The cached token, fetched once for any number of concurrent misses.
    async fn token(&self, binding: &Binding, ctx: &CallContext, now_ms: i64) -> Result<Token> {
        let labels = |event: &str| {
            self.metrics
                .token_cache
                .with_label_values(&[self.name.as_str(), event])
        };
        if let Some(t) = self.tokens.get(&()).await {
            labels("hit").inc();
            return Ok(t);
        }
        labels("miss").inc();
        let fetched = self
            .tokens
            .try_get_with((), async {
                self.guard.token_fetch_allowed()?;
                labels("fetch").inc();
                let r = async {
                    let fetch = token::request(binding, now_ms, fresh_id())?;
                    let answer = self.send(OpName::AuthTokenIssue, &fetch, ctx, None).await?;
                    if let Some(r) = record::recorder() {
                        r.token(&self.name, &answer);
                    }
                    token::read(binding, answer, now_ms)
                }
                .await;
                if r.is_err() {
                    labels("fetch_failure").inc();
                }
                self.guard.token_fetched(r.as_ref().map(|_| ()));
                r
            })
            .await;
        fetched.map_err(|e| (*e).clone())
    }
}

#[async_trait]
impl Provider for VendorProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn supports(&self, op: OpName) -> bool {
        self.bound
            .load()
            .as_ref()
            .is_some_and(|b| b.plan(op).is_some())
    }

    fn enumerates(&self, op: OpName) -> bool {
        self.bound
            .load()
            .as_ref()
            .is_some_and(|b| b.plan(op).is_some_and(|p| p.complete))
    }

    fn keeps(&self) -> Keeps {
        self.bound
            .load()
            .as_ref()
            .map_or_else(Keeps::none, |b| b.outbound().keeps.clone())
    }

    /// Runs `op` under the guard: admitted by the circuit and a slot,
    /// within the operation deadline.
    async fn execute(&self, op: Op, ctx: &CallContext) -> Result<Output> {
        let ticket = self.guard.admit().await?;
        let outcome = tokio::time::timeout(self.guard.deadline, self.run(op, ctx))
            .await
            .unwrap_or_else(|_| Err(self.guard.past_deadline()));
        ticket.finish(&outcome);
        outcome
    }
}

impl VendorProvider {
    /// Runs `op`: its calls and store steps, as its plan says.
    async fn run(&self, op: Op, ctx: &CallContext) -> Result<Output> {
        let binding = self.bound()?;
        let now_ms = chrono::Utc::now().timestamp_millis();
        let fresh = fresh_id();
        let recorder = record::recorder();
        let mut tape = recorder.map(|_| Tape::new(&binding, &op, now_ms, fresh));
        let mut run = Run::new(&binding, &op, now_ms, fresh)?;
        let mut next = run.start();
        loop {
            match next {
                Next::Call(out) => {
                    let answer = self.call(&binding, op.name(), &out, ctx, now_ms).await?;
                    if let Some(t) = tape.as_mut() {
                        t.call(&out, &answer);
                    }
                    next = run.answer(answer);
                }
                Next::Store(call) => {
                    let store = self.store.as_ref().ok_or_else(|| {
                        Error::internal(format!("provider {} has no store", self.name))
                    })?;
                    let recorded = tape.as_ref().map(|_| call.clone());
                    let answer = store.records(&self.name, call).await?;
                    if let (Some(t), Some(call)) = (tape.as_mut(), recorded) {
                        t.store(&call, &answer);
                    }
                    next = run.answer(answer);
                }
                Next::Done(outcome) => {
                    if let (Some(r), Some(t)) = (recorder, tape) {
                        r.outbound(t, &outcome);
                    }
                    return outcome;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;

    use super::*;
    use crate::canonical::{ErrorKind, Reason};
    use crate::mapping::compile::compile_file;

    const DIALECT: &str = r#"
dialect: refusing
outbound:
  ops:
    group.create:
      refuse:
        $if: $.request.code
        then: {kind: unsupported, reason: param, message: {$concat: [$.provider, " keeps no join codes"]}}
      steps:
        - {method: POST, path: /groups, body: {name: $.request.name}}
"#;

    /// A provider of the dialect above whose vendor listens nowhere.
    fn provider() -> VendorProvider {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cfg: VendorConfig = serde_json::from_value(json!({
            "dialect": "refusing", "base_url": format!("http://127.0.0.1:{port}"),
            "retries": 0, "timeout_ms": 2000
        }))
        .unwrap();
        let p = VendorProvider::new("acme", &cfg, Arc::new(Metrics::new()), None).unwrap();
        let dialect = compile_file(Path::new("refusing.yaml"), DIALECT).unwrap();
        p.install(p.prepare(Arc::new(dialect)).unwrap());
        p
    }

    fn create(code: Option<&str>) -> Op {
        let req = json!({"name": "team", "code": code});
        OpName::GroupCreate.decode_request(req).unwrap()
    }

    #[tokio::test]
    async fn a_refusal_fails_the_operation_before_any_call() {
        let p = provider();
        let ctx = CallContext::default();
        let err = p.execute(create(Some("1234")), &ctx).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Unsupported);
        assert_eq!(err.reason, Some(Reason::Param));
        // `$.provider` names the configured provider.
        assert_eq!(err.message, "acme keeps no join codes");
        // Without a code the call is made (and finds nobody listening).
        let err = p.execute(create(None), &ctx).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::UpstreamUnavailable, "{err:?}");
    }
}
