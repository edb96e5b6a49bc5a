//! The per-request pipeline of a frontend, in order:
//! route → body cap → body parse → `when` → auth → checks → extract →
//! capability → provider → render. Every failure becomes a canonical error
//! rendered in the caller's dialect.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::early::HeadVerdict;
use super::request::{prepare, Body, InboundRequest, Prepared};
use super::route::{Lookup, RouteTable};
use super::{access, passwords, Frontend};
use crate::auth::{AuthInput, Verdict};
use crate::canonical::{Error, ErrorKind, Op, Output, Reason};
use crate::golden::record;
use crate::mapping::inbound::{self, render, Candidate, Reply};
use crate::mapping::plan::{ErrorPlan, Route};
use crate::provider::CallContext;

/// The `route` label of requests no route took.
pub const UNMATCHED: &str = "unmatched";
/// The `op` label of requests no route took.
pub const NO_OP: &str = "none";

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
    pub route: String,
    /// The route's canonical operation (`none` when no route matched).
    pub op: &'static str,
    /// `ok` or the canonical error kind.
    pub outcome: &'static str,
    /// Time spent in the provider.
    pub provider_time: Duration,
}

struct Ctx<'a> {
    frontend: &'a Arc<Frontend>,
    errors: Arc<ErrorPlan>,
    route: String,
    op: &'static str,
    provider: Option<String>,
    provider_time: Duration,
    input: Value,
    now_ms: i64,
}

impl Ctx<'_> {
    fn fail(self, err: Error) -> Handled {
        let binding = &self.frontend.binding;
        let input = record::recorder()
            .filter(|_| self.route != UNMATCHED)
            .map(|r| (r, self.input.clone()));
        let reply = render::error(binding, &self.errors, &err, self.input, self.now_ms);
        if let Some((r, input)) = input {
            r.render(binding, &self.route, Err(&err), &input, self.now_ms, &reply);
        }
        Handled {
            reply,
            frontend: self.frontend.name.clone(),
            provider: self.provider,
            route: self.route,
            op: self.op,
            outcome: err.kind.as_str(),
            provider_time: self.provider_time,
        }
    }
}

/// Handles one request on a listener's route table; `head` is what
/// [`super::early`] already settled about its credentials.
pub async fn handle(
    table: &RouteTable,
    req: InboundRequest,
    head: Option<HeadVerdict>,
    now_ms: i64,
) -> Handled {
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
                route: UNMATCHED.into(),
                op: NO_OP,
                outcome: ErrorKind::NotFound.as_str(),
                provider_time: Duration::ZERO,
            }
        }
    };
    let mut ctx = dialect_ctx(frontend, now_ms);
    match run(&mut ctx, candidates, req, head).await {
        Ok(reply) => Handled {
            reply,
            frontend: frontend.name.clone(),
            provider: ctx.provider,
            route: ctx.route,
            op: ctx.op,
            outcome: "ok",
            provider_time: ctx.provider_time,
        },
        Err(err) => ctx.fail(err),
    }
}

/// A request refused before its body was read (`super::early`): `err` in
/// the dialect and the error plan of `route`, counted under it.
pub(super) fn refused(frontend: &Arc<Frontend>, route: &Route, err: Error, now_ms: i64) -> Handled {
    let mut ctx = dialect_ctx(frontend, now_ms);
    ctx.route = route.name.clone();
    ctx.op = route.op.as_str();
    ctx.errors = route.errors.clone();
    ctx.fail(err)
}

fn dialect_ctx(frontend: &Arc<Frontend>, now_ms: i64) -> Ctx<'_> {
    Ctx {
        frontend,
        errors: frontend.binding.errors(),
        route: UNMATCHED.into(),
        op: NO_OP,
        provider: None,
        provider_time: Duration::ZERO,
        input: Value::Null,
        now_ms,
    }
}

async fn run(
    ctx: &mut Ctx<'_>,
    candidates: Vec<Candidate>,
    mut req: InboundRequest,
    head: Option<HeadVerdict>,
) -> Result<Reply, Error> {
    let frontend = ctx.frontend;
    let recorder = record::recorder();
    let mut recorded = recorder.and_then(|_| record_request(&req));
    let prepared = prepare(&frontend.binding, candidates, &mut req, &mut ctx.input).await;
    let Prepared { route, attachments } = match (prepared, recorder, &recorded) {
        (Ok(p), _, _) => p,
        (Err(e), Some(r), Some(request)) => {
            let binding = &frontend.binding;
            r.inbound(
                &binding.dialect,
                &binding.config,
                request,
                ctx.now_ms,
                Err(&e),
            );
            return Err(e);
        }
        (Err(e), _, _) => return Err(e),
    };
    ctx.route = route.name.clone();
    ctx.op = route.op.as_str();
    ctx.errors = route.errors.clone();
    let call = CallContext {
        app_key: frontend.app_key.clone(),
        request_id: req.request_id.clone(),
        attachments: Arc::new(attachments),
    };
    let cx = AuthInput {
        headers: &req.headers,
        input: &ctx.input,
        params: &frontend.binding.params,
        now_ms: ctx.now_ms,
        frontend: &frontend.name,
        store: frontend.store.as_deref(),
    };
    // The head's verdict stands when it came from this route's scheme.
    let verdict = match head.filter(|h| Arc::ptr_eq(&h.auth, &route.auth)) {
        Some(head) => {
            route.auth.record(&cx).await?;
            head.verdict
        }
        None => route.auth.check(&cx).await?,
    };
    let caller = match verdict {
        Verdict::Caller(caller) => caller.username,
        // A password login is a step of its own: `user.authenticate`, run
        // like any operation (timed, counted, on the provider or against the
        // kept passwords).
        Verdict::Password(login) => {
            let attempt = frontend
                .logins
                .as_deref()
                .map(|g| g.begin(&frontend.name, &call.app_key, &login.username, req.client))
                .transpose()?;
            let op = Op::UserAuthenticate(login.clone());
            let checked = match execute(ctx, &op, &call).await {
                Ok(_) => Ok(()),
                Err(refused) => passwords::migrate_lazily(frontend, &call, &login, refused).await,
            };
            if let Some(attempt) = attempt {
                attempt.end(
                    checked
                        .as_ref()
                        .is_err_and(|e| e.kind == ErrorKind::Unauthenticated),
                );
            }
            checked?;
            access::refuse_disabled(frontend, &login.username).await?;
            passwords::capture_login(frontend, &login, ctx.now_ms).await;
            Some(login.username)
        }
    };
    if let Some(user) = caller {
        if let Some(request) = recorded.as_mut() {
            request.caller(&user);
        }
        ctx.input["caller"] = Value::String(user);
    }
    let extracted = inbound::extract(&route, &ctx.input, ctx.now_ms);
    let binding = &frontend.binding;
    if let (Some(r), Some(request)) = (recorder, &recorded) {
        let outcome = extracted.as_ref();
        r.inbound(
            &binding.dialect,
            &binding.config,
            request,
            ctx.now_ms,
            outcome,
        );
    }
    let op = extracted?;
    match execute(ctx, &op, &call).await {
        Ok(result) => {
            let input = recorder.map(|_| ctx.input.clone());
            let reply = render::success(
                binding,
                &route,
                &route.response,
                &op,
                &result,
                &mut ctx.input,
                ctx.now_ms,
            );
            if let (Some(r), Some(input), Ok(reply)) = (recorder, input, &reply) {
                let outcome = Ok((&op, &result));
                r.render(binding, &route.name, outcome, &input, ctx.now_ms, reply);
            }
            reply
        }
        // Create-or-update endpoints: the route's operation failed in a way
        // its fallback handles (e.g. the user exists: update instead).
        Err(err) => match inbound::fallback(&route, &err, &ctx.input, ctx.now_ms) {
            Some(fallback) => {
                let (op, response) = fallback?;
                let result = execute(ctx, &op, &call).await?;
                render::success(
                    binding,
                    &route,
                    response,
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

/// The request as a recorded case states it, when its body was read.
fn record_request(req: &InboundRequest) -> Option<record::Request> {
    match &req.body {
        Body::Complete(body) => record::Request::new(
            &req.method,
            &req.path,
            req.query.as_deref(),
            &req.headers,
            body,
        ),
        Body::TooLarge(_) => None,
    }
}

/// Runs one operation: locally, against the kept passwords (logins on
/// providers that cannot check passwords), or on the frontend's provider
/// when it can (recording password changes for kept passwords).
async fn execute(ctx: &mut Ctx<'_>, op: &Op, call: &CallContext) -> Result<Output, Error> {
    let frontend = ctx.frontend;
    let name = op.name();
    if name.is_local() {
        return super::local::execute(frontend, op.clone(), ctx.now_ms).await;
    }
    if let (Op::UserAuthenticate(login), Some(store)) = (op, passwords::keeper(frontend)) {
        return passwords::check(store, &frontend.app_key, login).await;
    }
    if let Op::UserToken(req) = op {
        access::refuse_disabled(frontend, &req.username).await?;
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
    passwords::record(frontend, op, &result, ctx.now_ms).await?;
    access::record(frontend, op, ctx.now_ms).await?;
    Ok(result)
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
            client: None,
        };
        let handled = handle(table, req, None, 0).await;
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
