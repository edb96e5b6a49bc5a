//! Vendor providers: a vendor's server API described by the `outbound:` half
//! of a mapping file. Each canonical operation runs as one or more HTTP calls
//! on a pooled client, with the vendor's auth, timeouts on every call, retries
//! only for idempotent calls, and the vendor's errors mapped to canonical ones.

mod auth;
pub mod config;
mod errors;
pub mod http;

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use async_trait::async_trait;
use rand::Rng;
use serde_json::{json, Map, Value};

use self::http::{pairs, Answer, Http, MultipartValue, Outgoing, Payload, Sent, Transport};
use crate::auth::{Params, Secret};
use crate::canonical::{Error, Op, OpName, Output, Reason, Result};
use crate::mapping::outbound::{BodyPlan, OpPlan, Outbound, OutboundAuth, Step};
use crate::mapping::plan::Dialect;
use crate::mapping::template::eval::{scalar_text, truthy};
use crate::mapping::template::{eval, eval_item, EvalEnv, Template};
use crate::metrics::Metrics;
use crate::provider::{CallContext, Provider};
pub use config::VendorConfig;

/// The dialect a provider runs, with its resolved params (swapped on reload).
struct Bound {
    dialect: Arc<Dialect>,
    params: Params,
    config_doc: Value,
    params_doc: Value,
}

impl Bound {
    fn outbound(&self) -> &Outbound {
        self.dialect
            .outbound
            .as_ref()
            .expect("bind checked the outbound half")
    }
}

/// One operation being run: what every call of it needs.
#[derive(Clone, Copy)]
struct Run<'a> {
    bound: &'a Bound,
    op: OpName,
    plan: &'a OpPlan,
    ctx: &'a CallContext,
    now_ms: i64,
}

/// A dialect checked to drive a provider, ready to `install`.
pub struct Binding(Arc<Bound>);

/// A vendor provider.
pub struct VendorProvider {
    name: String,
    cfg: VendorConfig,
    transport: Arc<dyn Transport>,
    bound: ArcSwapOption<Bound>,
    tokens: moka::future::Cache<(), auth::Token>,
    metrics: Arc<Metrics>,
}

impl VendorProvider {
    /// A provider for `cfg` over HTTP; it serves once a dialect is installed.
    pub fn new(name: &str, cfg: &VendorConfig, metrics: Arc<Metrics>) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(cfg.connect_timeout_ms))
            .timeout(Duration::from_millis(cfg.timeout_ms))
            .pool_idle_timeout(Duration::from_secs(90))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let transport = Arc::new(Http {
            client,
            max_bytes: cfg.max_response_bytes,
            provider: name.to_string(),
            timeout: Duration::from_millis(cfg.timeout_ms),
        });
        Ok(Self::with_transport(name, cfg, metrics, transport))
    }

    /// A provider whose calls go through `transport` (canned answers).
    pub fn with_transport(
        name: &str,
        cfg: &VendorConfig,
        metrics: Arc<Metrics>,
        transport: Arc<dyn Transport>,
    ) -> Self {
        VendorProvider {
            name: name.to_string(),
            cfg: cfg.clone(),
            transport,
            bound: ArcSwapOption::empty(),
            tokens: auth::token_cache(),
            metrics,
        }
    }

    /// The dialect this provider is configured with.
    pub fn dialect_name(&self) -> &str {
        &self.cfg.dialect
    }

    /// Checks that `dialect` can drive this provider (it has an outbound half
    /// and every required param is set) and prepares the binding; nothing
    /// changes until `install`.
    pub fn prepare(&self, dialect: Arc<Dialect>) -> std::result::Result<Binding, String> {
        if dialect.outbound.is_none() {
            return Err(format!(
                "provider `{}`: dialect `{}` has no outbound half",
                self.name, dialect.name
            ));
        }
        let mut params = Params::new();
        let mut public = Map::new();
        let mut all = Map::new();
        let mut missing = Vec::new();
        for p in &dialect.params {
            let value = self
                .cfg
                .params
                .get(&p.name)
                .cloned()
                .or_else(|| p.default.clone().map(Secret::new));
            match value {
                Some(v) => {
                    if !p.secret {
                        public.insert(p.name.clone(), Value::String(v.expose().to_string()));
                    }
                    all.insert(p.name.clone(), Value::String(v.expose().to_string()));
                    params.insert(p.name.clone(), v);
                }
                None if p.required => missing.push(p.name.clone()),
                None => {}
            }
        }
        if !missing.is_empty() {
            return Err(format!(
                "provider `{}` (dialect {}) is missing required params: {}",
                self.name,
                dialect.name,
                missing.join(", ")
            ));
        }
        Ok(Binding(Arc::new(Bound {
            dialect,
            params,
            config_doc: Value::Object(public),
            params_doc: Value::Object(all),
        })))
    }

    /// Makes a prepared binding the provider's (calls under way finish with
    /// the binding they started with).
    pub fn install(&self, binding: Binding) {
        self.bound.store(Some(binding.0));
    }

    fn bound(&self) -> Result<Arc<Bound>> {
        self.bound
            .load_full()
            .ok_or_else(|| Error::internal(format!("provider {} has no dialect bound", self.name)))
    }

    /// Builds a request from a step (with `item` as `@` in foreach steps).
    fn build(&self, step: &Step, env: &EvalEnv, item: Option<&Value>) -> Result<Outgoing> {
        let run = |t: &Template| -> Result<Option<Value>> {
            match item {
                Some(i) => eval_item(t, env, i),
                None => eval(t, env),
            }
            .map_err(|e| {
                Error::invalid(
                    Reason::Param,
                    format!("cannot build the {} call: {e}", self.name),
                )
            })
        };
        let mut url = format!(
            "{}{}",
            self.cfg.base_url.trim_end_matches('/'),
            run(&step.path)?
                .map(|v| scalar_text(&v))
                .unwrap_or_default()
        );
        if let Some(q) = &step.query {
            let fields = pairs(&run(q)?.unwrap_or(Value::Null));
            if !fields.is_empty() {
                url.push(if url.contains('?') { '&' } else { '?' });
                url.push_str(
                    &form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(&fields)
                        .finish(),
                );
            }
        }
        let mut headers = Vec::new();
        for (name, t) in &step.headers {
            if let Some(v) = run(t)? {
                headers.push((name.clone(), scalar_text(&v)));
            }
        }
        let body = match &step.body {
            None => Payload::Empty,
            Some(BodyPlan::Json(t)) => Payload::Json(run(t)?.unwrap_or(Value::Null)),
            Some(BodyPlan::Form(t)) => Payload::Form(pairs(&run(t)?.unwrap_or(Value::Null))),
            Some(BodyPlan::Multipart(t)) => {
                Payload::Multipart(multipart(run(t)?.unwrap_or(Value::Null)))
            }
        };
        Ok(Outgoing {
            method: step.method.clone(),
            url,
            headers,
            body,
            idempotent: step.idempotent,
        })
    }

    /// Sends with retries for idempotent calls; records metrics.
    async fn send(&self, op: OpName, out: &Outgoing, ctx: &CallContext) -> Result<Answer> {
        let attempts = 1 + if out.idempotent { self.cfg.retries } else { 0 };
        let mut last_error = None;
        for attempt in 0..attempts {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
            }
            let started = std::time::Instant::now();
            let sent = self.transport.send(out, ctx).await;
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

    /// One call of a step: auth, send, token refresh on "token invalid",
    /// error mapping; the answer's document when a success.
    async fn call(&self, run: &Run<'_>, step: &Step, out: Outgoing) -> Result<Value> {
        let Run {
            bound,
            op,
            plan,
            ctx,
            now_ms,
        } = *run;
        let outbound = bound.outbound();
        let mut refreshed = false;
        loop {
            let mut req = out.clone();
            req.headers
                .extend(auth::static_headers(&outbound.auth, &bound.params, now_ms)?);
            if let OutboundAuth::Token(t) = &outbound.auth {
                let token = self.token(bound, ctx, now_ms).await?;
                req.headers
                    .push((t.header.clone(), token.header_value.to_string()));
            }
            let answer = self.send(op, &req, ctx).await?;
            if let OutboundAuth::Token(t) = &outbound.auth {
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
            let status = answer.status;
            let answer = answer.into_json();
            errors::check(
                status,
                &answer,
                &outbound.errors,
                &[&step.errors, &plan.errors, &outbound.errors.rules],
                &self.name,
                now_ms,
            )?;
            return Ok(answer);
        }
    }

    /// The cached token, fetched once for any number of concurrent misses.
    async fn token(&self, bound: &Bound, ctx: &CallContext, now_ms: i64) -> Result<auth::Token> {
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
                labels("fetch").inc();
                let r = self.fetch_token(bound, ctx, now_ms).await;
                if r.is_err() {
                    labels("fetch_failure").inc();
                }
                r
            })
            .await;
        fetched.map_err(|e| (*e).clone())
    }

    async fn fetch_token(
        &self,
        bound: &Bound,
        ctx: &CallContext,
        now_ms: i64,
    ) -> Result<auth::Token> {
        let OutboundAuth::Token(t) = &bound.outbound().auth else {
            return Err(Error::internal("not a token scheme"));
        };
        let doc = self.doc(bound, Value::Null);
        let env = EvalEnv {
            doc: &doc,
            codes: None,
            now_ms,
        };
        let out = self.build(&t.fetch, &env, None)?;
        let answer = self.send(OpName::AuthTokenIssue, &out, ctx).await?;
        let status = answer.status;
        let answer = answer.into_json();
        errors::check(
            status,
            &answer,
            &bound.outbound().errors,
            &[&t.fetch.errors, &bound.outbound().errors.rules],
            &self.name,
            now_ms,
        )?;
        let mut doc = doc;
        doc["last"] = answer;
        let env = EvalEnv {
            doc: &doc,
            codes: None,
            now_ms,
        };
        let token = eval(&t.token, &env)
            .ok()
            .flatten()
            .map(|v| scalar_text(&v))
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                http::upstream(format!(
                    "provider {} answered the token request without a token",
                    self.name
                ))
            })?;
        let lifetime = t
            .expires_in
            .as_ref()
            .and_then(|e| eval(e, &env).ok().flatten())
            .and_then(|v| v.as_i64().or_else(|| scalar_text(&v).parse().ok()))
            .filter(|s| *s > 0)
            .map_or(t.default_ttl, |s| Duration::from_secs(s as u64));
        Ok(auth::Token {
            header_value: format!("{}{}", t.prefix, token).into(),
            ttl: lifetime
                .saturating_sub(t.margin)
                .max(Duration::from_secs(1)),
        })
    }

    fn doc(&self, bound: &Bound, request: Value) -> Value {
        let fresh_id =
            chrono::Utc::now().timestamp_millis() * 1000 + rand::rng().random_range(0..1000);
        json!({
            "request": request,
            "config": bound.config_doc,
            "params": bound.params_doc,
            "steps": {},
            "last": null,
            "fresh_id": fresh_id.to_string(),
            "provider": self.name,
        })
    }
}

/// The error a `refuse` or `fail` template gave, if any.
fn failure(value: Option<Value>) -> Result<Option<Error>> {
    let Some(v) = value.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let mut e: Error =
        serde_json::from_value(v).map_err(|e| Error::internal(format!("fail template: {e}")))?;
    e.source = crate::canonical::Source::Provider;
    Ok(Some(e))
}

fn multipart(value: Value) -> Vec<(String, MultipartValue)> {
    let Value::Object(map) = value else {
        return Vec::new();
    };
    map.into_iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| match v.get("slot").and_then(Value::as_u64) {
            Some(slot) => (k, MultipartValue::File(slot as usize)),
            None => (k, MultipartValue::Text(scalar_text(&v))),
        })
        .collect()
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
            .is_some_and(|b| b.outbound().ops.contains_key(&op))
    }

    async fn execute(&self, op: Op, ctx: &CallContext) -> Result<Output> {
        let bound = self.bound()?;
        let name = op.name();
        let Some(plan) = bound.outbound().ops.get(&name) else {
            return Err(Error::unsupported(&self.name, name.as_str()));
        };
        let now_ms = chrono::Utc::now().timestamp_millis();
        let run = Run {
            bound: &bound,
            op: name,
            plan,
            ctx,
            now_ms,
        };
        let mut doc = self.doc(&bound, op.to_json());
        if let Some(r) = &plan.refuse {
            let env = EvalEnv {
                doc: &doc,
                codes: None,
                now_ms,
            };
            let refusal =
                eval(r, &env).map_err(|e| Error::internal(format!("refuse template: {e}")))?;
            if let Some(e) = failure(refusal)? {
                return Err(e);
            }
        }
        for step in &plan.steps {
            let answer = {
                let env = EvalEnv {
                    doc: &doc,
                    codes: None,
                    now_ms,
                };
                if let Some(w) = &step.when {
                    let holds =
                        eval(w, &env).map_err(|e| Error::invalid(Reason::Param, e.message))?;
                    if !truthy(&holds) {
                        continue;
                    }
                }
                match &step.foreach {
                    None => {
                        let out = self.build(step, &env, None)?;
                        self.call(&run, step, out).await?
                    }
                    Some(each) => {
                        let items = match eval(each, &env)
                            .map_err(|e| Error::invalid(Reason::Param, e.message))?
                        {
                            Some(Value::Array(items)) => items,
                            None | Some(Value::Null) => Vec::new(),
                            Some(other) => vec![other],
                        };
                        let mut answers = Vec::with_capacity(items.len());
                        for item in &items {
                            let out = self.build(step, &env, Some(item))?;
                            let mut answer = self.call(&run, step, out).await?;
                            answer["item"] = item.clone();
                            answers.push(answer);
                        }
                        Value::Array(answers)
                    }
                }
            };
            if let Some(n) = &step.name {
                doc["steps"][n] = answer.clone();
            }
            doc["last"] = answer;
        }
        let env = EvalEnv {
            doc: &doc,
            codes: None,
            now_ms,
        };
        if let Some(f) = &plan.fail {
            let failed =
                eval(f, &env).map_err(|e| Error::internal(format!("fail template: {e}")))?;
            if let Some(e) = failure(failed)? {
                return Err(e);
            }
        }
        let result = match &plan.result {
            Some(t) => eval(t, &env)
                .map_err(|e| {
                    http::upstream(format!(
                        "provider {} gave an answer imbridge cannot read: {e}",
                        self.name
                    ))
                })?
                .unwrap_or_else(|| json!({})),
            None => json!({}),
        };
        name.decode_result(result).map_err(|e| {
            http::upstream(format!(
                "provider {} gave an answer imbridge cannot read: {}",
                self.name, e.message
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;

    use super::*;
    use crate::canonical::ErrorKind;
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
        let p = VendorProvider::new("acme", &cfg, Arc::new(Metrics::new())).unwrap();
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
