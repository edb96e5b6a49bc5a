//! The per-request pipeline of a frontend, in order:
//! route → body cap → body parse → `when` → auth → checks → extract →
//! capability → provider → render. Every failure becomes a canonical error
//! rendered in the caller's dialect.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use super::render::{self, Reply};
use super::request::{header_object, parse_body, Body, InboundRequest, ParsedBody};
use super::route::{Candidate, Lookup, RouteTable};
use super::Frontend;
use crate::auth::AuthInput;
use crate::canonical::{Error, ErrorKind, Op, OpName, Output, Reason};
use crate::mapping::path::Found;
use crate::mapping::plan::{Check, CheckRule, Condition, ErrorPlan, Route};
use crate::mapping::template::eval::{loose_eq, scalar_text};
use crate::mapping::template::{eval, EvalEnv, Template};
use crate::provider::CallContext;

/// A handled request: the reply plus what metrics need to know.
pub struct Handled {
    /// The reply.
    pub reply: Reply,
    /// Frontend name (`none` when no frontend owns the path).
    pub frontend: String,
    /// Provider name, when the request reached one (not for operations it
    /// does not support).
    pub provider: Option<String>,
    /// Route name (`unmatched` when no route matched).
    pub op: String,
    /// `ok` or the canonical error kind.
    pub outcome: &'static str,
    /// Time spent in the provider.
    pub provider_time: Duration,
}

struct Ctx<'a> {
    frontend: &'a Arc<Frontend>,
    errors: Arc<ErrorPlan>,
    op: String,
    provider: Option<String>,
    provider_time: Duration,
    input: Value,
    now_ms: i64,
}

impl Ctx<'_> {
    fn fail(self, err: Error) -> Handled {
        let reply = render::error(self.frontend, &self.errors, &err, self.input, self.now_ms);
        Handled {
            reply,
            frontend: self.frontend.name.clone(),
            provider: self.provider,
            op: self.op,
            outcome: err.kind.as_str(),
            provider_time: self.provider_time,
        }
    }
}

/// Handles one request on a listener's route table.
pub async fn handle(table: &RouteTable, req: InboundRequest, now_ms: i64) -> Handled {
    let (frontend, candidates) = match table.lookup(&req.method, &req.path) {
        Lookup::Found(f, c) => (f, c),
        Lookup::WrongMethod(f) => {
            let err = Error::invalid(
                Reason::Method,
                format!("method {} is not allowed on {}", req.method, req.path),
            );
            return dialect_ctx(f, now_ms).fail(err);
        }
        Lookup::NoRoute(Some(f)) => {
            let err = Error::not_found(
                Reason::Route,
                format!("no route for {} {}", req.method, req.path),
            );
            return dialect_ctx(f, now_ms).fail(err);
        }
        Lookup::NoRoute(None) => {
            return Handled {
                reply: render::no_route(req.method.as_str(), &req.path),
                frontend: "none".into(),
                provider: None,
                op: "unmatched".into(),
                outcome: ErrorKind::NotFound.as_str(),
                provider_time: Duration::ZERO,
            }
        }
    };
    let mut ctx = dialect_ctx(frontend, now_ms);
    match run(&mut ctx, candidates, req).await {
        Ok(reply) => Handled {
            reply,
            frontend: frontend.name.clone(),
            provider: ctx.provider,
            op: ctx.op,
            outcome: "ok",
            provider_time: ctx.provider_time,
        },
        Err(err) => ctx.fail(err),
    }
}

fn dialect_ctx(frontend: &Arc<Frontend>, now_ms: i64) -> Ctx<'_> {
    let errors = frontend
        .dialect
        .inbound
        .as_ref()
        .map(|i| i.errors.clone())
        .unwrap_or_default();
    Ctx {
        frontend,
        errors,
        op: "unmatched".into(),
        provider: None,
        provider_time: Duration::ZERO,
        input: Value::Null,
        now_ms,
    }
}

/// A request matched to its route (its input document is in the `input`
/// given to [`prepare`]).
pub struct Prepared {
    /// The route chosen (path, method, `when`).
    pub route: Arc<Route>,
    /// Files uploaded with the request.
    pub attachments: Vec<crate::provider::Attachment>,
}

/// Parses the body and chooses among the candidates (route lookup done).
/// `input` receives the document templates read (`$.path`, `$.query`,
/// `$.body`, ...), as far as it got on failure, for error rendering.
pub async fn prepare(
    frontend: &Frontend,
    candidates: Vec<Candidate>,
    req: &mut InboundRequest,
    input: &mut Value,
) -> Result<Prepared, Error> {
    let bytes = match std::mem::replace(&mut req.body, Body::Complete(bytes::Bytes::new())) {
        Body::Complete(b) => b,
        Body::TooLarge(limit) => {
            return Err(Error::limit(
                Reason::Body,
                format!("request body is larger than {limit} bytes"),
            ))
        }
    };
    let query = req.query.as_deref().map_or_else(
        || Value::Object(Map::new()),
        |q| super::request::form_object(q.as_bytes()),
    );
    *input = json!({
        "method": req.method.as_str(),
        "url": {"path": req.path, "query": req.query.as_deref().unwrap_or("")},
        "path": {},
        "query": query,
        "headers": header_object(&req.headers),
        "body": null,
        "files": {},
        "caller": null,
        "config": frontend.config_doc,
    });
    let ParsedBody {
        body,
        files,
        attachments,
    } = parse_body(&req.headers, bytes).await?;
    input["body"] = body;
    input["files"] = files;
    let route = select(candidates, input)?;
    Ok(Prepared { route, attachments })
}

/// What a request becomes, offline (`imbridge translate`, golden cases): the
/// route it takes on `table` and its canonical operation. Auth is not run;
/// `caller` stands for the user it would have authenticated.
pub async fn offline_op(
    table: &RouteTable,
    method: http::Method,
    path_and_query: &str,
    headers: http::HeaderMap,
    body: Vec<u8>,
    caller: Option<&str>,
    now_ms: i64,
) -> Result<(Arc<Route>, Op), Error> {
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (path_and_query.to_string(), None),
    };
    let frontend = match table.lookup(&method, &path) {
        Lookup::Found(f, candidates) => Some((f, candidates)),
        Lookup::WrongMethod(_) => {
            let message = format!("method {method} is not allowed on {path}");
            return Err(Error::invalid(Reason::Method, message));
        }
        Lookup::NoRoute(_) => None,
    };
    let Some((frontend, candidates)) = frontend else {
        let message = format!("no route for {method} {path}");
        return Err(Error::not_found(Reason::Route, message));
    };
    let mut req = InboundRequest {
        method,
        path,
        query,
        headers,
        body: Body::Complete(body.into()),
        request_id: "offline".into(),
    };
    let mut input = Value::Null;
    let Prepared { route, .. } = prepare(frontend, candidates, &mut req, &mut input).await?;
    if let Some(c) = caller {
        input["caller"] = Value::String(c.to_string());
    }
    let op = extract(&route, &input, now_ms)?;
    Ok((route, op))
}

/// Runs the route's checks and request template: the canonical operation.
pub fn extract(route: &Route, input: &Value, now_ms: i64) -> Result<crate::canonical::Op, Error> {
    for check in &route.checks {
        run_check(check, input)?;
    }
    request_op(&route.request, route.op, input, now_ms)
}

/// Evaluates a request template on the input document and decodes it as `op`.
fn request_op(template: &Template, op: OpName, input: &Value, now_ms: i64) -> Result<Op, Error> {
    let env = EvalEnv {
        doc: input,
        codes: None,
        now_ms,
    };
    let request = eval(template, &env)
        .map_err(|e| Error::invalid(Reason::Param, e.message))?
        .unwrap_or(Value::Object(Map::new()));
    op.decode_request(request)
}

async fn run(
    ctx: &mut Ctx<'_>,
    candidates: Vec<Candidate>,
    mut req: InboundRequest,
) -> Result<Reply, Error> {
    let frontend = ctx.frontend;

    let Prepared { route, attachments } =
        prepare(frontend, candidates, &mut req, &mut ctx.input).await?;
    ctx.op = route.name.clone();
    ctx.errors = route.errors.clone();
    let call = CallContext {
        app_key: frontend.app_key.clone(),
        request_id: req.request_id.clone(),
        attachments: Arc::new(attachments),
    };
    let caller = route
        .auth
        .check(&AuthInput {
            headers: &req.headers,
            input: &ctx.input,
            params: &frontend.params,
            now_ms: ctx.now_ms,
            frontend: &frontend.name,
            store: frontend.store.as_deref(),
            provider: frontend.provider.as_ref(),
            call: &call,
        })
        .await?;
    if let Some(user) = caller.username {
        ctx.input["caller"] = Value::String(user);
    }
    let op = extract(&route, &ctx.input, ctx.now_ms)?;
    match execute(ctx, &op, &call).await {
        Ok(result) => render::success(
            frontend,
            &route,
            &route.response,
            &op,
            &result,
            &mut ctx.input,
            ctx.now_ms,
        ),
        // Create-or-update endpoints: the route's operation failed in a way
        // its fallback handles (e.g. the user exists: update instead).
        Err(err) => match route.fallback.as_ref().filter(|f| f.catches(&err)) {
            Some(fallback) => {
                let op = request_op(&fallback.request, fallback.op, &ctx.input, ctx.now_ms)?;
                let result = execute(ctx, &op, &call).await?;
                render::success(
                    frontend,
                    &route,
                    &fallback.response,
                    &op,
                    &result,
                    &mut ctx.input,
                    ctx.now_ms,
                )
            }
            None => Err(err),
        },
    }
}

/// Runs one operation: locally, or on the frontend's provider when it can
/// (recording password changes for shadowed logins).
async fn execute(ctx: &mut Ctx<'_>, op: &Op, call: &CallContext) -> Result<Output, Error> {
    let frontend = ctx.frontend;
    let name = op.name();
    if name.is_local() {
        return super::local::execute(frontend, op.clone(), ctx.now_ms).await;
    }
    let provider = &frontend.provider;
    if !provider.supports(name) {
        return Err(Error::unsupported(provider.name(), name.as_str()));
    }
    ctx.provider = Some(provider.name().to_string());
    let started = Instant::now();
    let result = provider.execute(op.clone(), call).await;
    ctx.provider_time += started.elapsed();
    let result = result?;
    super::credentials::record(frontend, op, &result, ctx.now_ms).await?;
    Ok(result)
}

/// Picks the first candidate whose `when` conditions hold, binding its path
/// parameters into the input document.
fn select(candidates: Vec<Candidate>, input: &mut Value) -> Result<Arc<Route>, Error> {
    for c in candidates {
        input["path"] = Value::Object(
            c.params
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        );
        if c.route.when.iter().all(|cond| holds(cond, input)) {
            return Ok(c.route);
        }
    }
    Err(Error::invalid(
        Reason::Param,
        "the request matches none of the variants of this endpoint (see its documented parameters)",
    ))
}

/// What a path finds, unless missing or null (several matches as an array).
fn found<'v>(path: &crate::mapping::path::Path, input: &'v Value) -> Option<Cow<'v, Value>> {
    match path.find(input) {
        Found::Missing => None,
        Found::One(v) => Some(Cow::Borrowed(v)),
        Found::Many(vs) if vs.is_empty() => None,
        Found::Many(vs) => Some(Cow::Owned(Value::Array(vs.into_iter().cloned().collect()))),
    }
    .filter(|v| !v.is_null())
}

fn holds(cond: &Condition, input: &Value) -> bool {
    match cond {
        Condition::Present(path, want) => found(path, input).is_some() == *want,
        Condition::Equals(path, expected) => match found(path, input) {
            Some(v) => loose_eq(&v, expected),
            None => false,
        },
    }
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn run_check(check: &Check, input: &Value) -> Result<(), Error> {
    let mut values: Vec<&Value> = match check.path.find(input) {
        Found::Missing => Vec::new(),
        Found::One(v) => vec![v],
        Found::Many(vs) => vs,
    };
    values.retain(|v| !v.is_null());
    let ok = match &check.rule {
        CheckRule::Required => !values.is_empty(),
        CheckRule::IsArray => values.iter().all(|v| v.is_array()),
        CheckRule::IsObject => values.iter().all(|v| v.is_object()),
        CheckRule::IsInteger => values
            .iter()
            .all(|v| as_f64(v).is_some_and(|n| n.fract() == 0.0)),
        CheckRule::Max(n) => values.iter().all(|v| as_f64(v).is_some_and(|x| x <= *n)),
        CheckRule::Min(n) => values.iter().all(|v| as_f64(v).is_some_and(|x| x >= *n)),
        CheckRule::MaxChars(n) => values.iter().all(|v| scalar_text(v).chars().count() <= *n),
        CheckRule::MaxItems(n) => values
            .iter()
            .all(|v| v.as_array().is_none_or(|a| a.len() <= *n)),
        CheckRule::MinItems(n) => values
            .iter()
            .all(|v| v.as_array().is_none_or(|a| a.len() >= *n)),
        CheckRule::MaxBytes(n) => values.iter().all(|v| scalar_text(v).len() <= *n),
        CheckRule::MinBytes(n) => values.iter().all(|v| scalar_text(v).len() >= *n),
        CheckRule::SameAs(other) => {
            let expected = found(other, input).map(|v| scalar_text(&v));
            values
                .iter()
                .all(|v| expected.as_deref() == Some(scalar_text(v).as_str()))
        }
        CheckRule::OneOf(options) => values
            .iter()
            .all(|v| options.iter().any(|o| loose_eq(o, v))),
    };
    if ok {
        Ok(())
    } else {
        Err(check.error.clone())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Mutex;

    use async_trait::async_trait;
    use bytes::Bytes;
    use http::{HeaderMap, Method};
    use serde_json::json;

    use super::*;
    use crate::canonical::common::Done;
    use crate::canonical::user::Registered;
    use crate::frontend::{Body, Frontend, InboundRequest, RouteTable};
    use crate::mapping::compile::compile_file;
    use crate::provider::Provider;

    const DIALECT: &str = r#"
dialect: upsert
inbound:
  prefixes: [/u]
  auth: none
  routes:
    - op: user.register
      method: POST
      path: /u/create
      request:
        atomic: true
        users: [{username: $.body.id, profile: {nickname: $.body.name}}]
      response:
        body: {created: "$.request.users[0].username"}
      fallback:
        on: [already_exists/user]
        op: user.update
        request: {username: $.body.id, profile: {nickname: $.body.name}}
        response:
          body: {updated: $.request.username}
"#;

    /// Knows user `old` only; records the operations it ran.
    #[derive(Default)]
    struct Users {
        ran: Mutex<Vec<String>>,
    }

    #[async_trait]
    impl Provider for Users {
        fn name(&self) -> &str {
            "users"
        }

        async fn execute(&self, op: Op, _ctx: &CallContext) -> Result<Output, Error> {
            self.ran.lock().unwrap().push(op.name().as_str().into());
            match op {
                Op::UserRegister(r) if r.users[0].username == "old" => {
                    Err(Error::new(ErrorKind::AlreadyExists, "old exists")
                        .with_reason(Reason::User))
                }
                Op::UserRegister(_) => Ok(Output::UserRegister(Registered { items: vec![] })),
                Op::UserUpdate(r) if r.username == "old" => Ok(Output::UserUpdate(Done {})),
                other => Err(Error::not_found(Reason::User, other.name().as_str())),
            }
        }
    }

    async fn post(table: &RouteTable, body: Value) -> Value {
        let req = InboundRequest {
            method: Method::POST,
            path: "/u/create".into(),
            query: None,
            headers: HeaderMap::new(),
            body: Body::Complete(Bytes::from(serde_json::to_vec(&body).unwrap())),
            request_id: String::new(),
        };
        let handled = handle(table, req, 0).await;
        serde_json::from_slice(&handled.reply.body).unwrap()
    }

    #[tokio::test]
    async fn a_fallback_runs_when_the_operation_fails_as_named() {
        let dialect = compile_file(Path::new("upsert.yaml"), DIALECT).unwrap();
        let provider = Arc::new(Users::default());
        let fe = Frontend::new(
            "upsert".into(),
            Arc::new(dialect),
            "app".into(),
            &Default::default(),
            provider.clone(),
            None,
        )
        .unwrap();
        let table = RouteTable::build(vec![Arc::new(fe)]).unwrap();
        // A new user is registered; the fallback stays out of it.
        assert_eq!(
            post(&table, json!({"id": "new", "name": "N"})).await,
            json!({"created": "new"})
        );
        // An existing one is updated instead, rendered by the fallback.
        assert_eq!(
            post(&table, json!({"id": "old", "name": "O"})).await,
            json!({"updated": "old"})
        );
        assert_eq!(
            *provider.ran.lock().unwrap(),
            ["user.register", "user.register", "user.update"]
        );
    }
}
