//! One canonical operation run against a vendor, as a state machine: `start`
//! gives the first call to make (or the outcome, when `refuse` fails the
//! operation or no step applies); each `answer` gives the next call or the
//! outcome. The caller sends the calls (with credentials, retries and token
//! refreshes); everything the mapping file says happens here: `refuse`,
//! `when`, `foreach`, named steps, error rules, `fail`, `result`.

use serde_json::{json, Value};

use super::binding::Binding;
use super::call::{build, upstream, Answer, Outgoing};
use super::errors;
use super::plan::{Action, OpPlan, Step};
use super::store::{self, StoreCall};
use crate::canonical::{Error, Op, OpName, Output, Reason, Result, Source};
use crate::mapping::template::eval::truthy;
use crate::mapping::template::{eval, EvalEnv};

/// What to do next.
// Moved once per call, never stored: boxing the outcome would only add an
// allocation per operation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Next {
    /// Send this call and hand its answer to [`Run::answer`].
    Call(Outgoing),
    /// Run this store call and hand its answer to [`Run::answer`].
    Store(StoreCall),
    /// The operation is over.
    Done(Result<Output>),
}

/// An operation under way.
pub struct Run<'b> {
    binding: &'b Binding,
    op: OpName,
    plan: &'b OpPlan,
    /// What templates read: request, params, answers so far.
    doc: Value,
    now_ms: i64,
    /// The step whose call is out (or the next to consider).
    step: usize,
    /// Progress of a `foreach` step: its elements and the answers so far.
    each: Option<(Vec<Value>, Vec<Value>)>,
    /// The store call out, if the call out is one.
    store_call: Option<StoreCall>,
}

impl<'b> Run<'b> {
    /// Prepares `op` on `binding` at `now_ms` (`fresh_id` is what
    /// `$.fresh_id` shows); `unsupported` when the vendor cannot run it.
    pub fn new(binding: &'b Binding, op: &Op, now_ms: i64, fresh_id: i64) -> Result<Run<'b>> {
        let name = op.name();
        let plan = binding
            .plan(name)
            .ok_or_else(|| Error::unsupported(&binding.provider, name.as_str()))?;
        Ok(Run {
            binding,
            op: name,
            plan,
            doc: binding.document(op.to_json(), fresh_id),
            now_ms,
            step: 0,
            each: None,
            store_call: None,
        })
    }

    /// The first move: `refuse`, then the first call (or the outcome when
    /// no step applies).
    pub fn start(&mut self) -> Next {
        match self.refusal() {
            Err(e) => Next::Done(Err(e)),
            Ok(()) => self.advance(),
        }
    }

    /// The answer to the last call: an error when the step's, the
    /// operation's or the dialect's error rules say so, else the next call
    /// or the outcome.
    pub fn answer(&mut self, answer: Answer) -> Next {
        let Some(step) = self.plan.steps.get(self.step) else {
            return Next::Done(Err(Error::internal("an answer with no call out")));
        };
        let outbound = self.binding.outbound();
        let status = answer.status;
        let answer = answer.into_json();
        let checked = match self.store_call.take() {
            Some(call) => store::check(&call, status, &step.errors),
            None => {
                let rules = [&step.errors[..], &self.plan.errors, &outbound.errors.rules];
                errors::check(
                    status,
                    &answer,
                    &outbound.errors,
                    &rules,
                    &self.binding.provider,
                    self.now_ms,
                )
            }
        };
        if let Err(e) = checked {
            return Next::Done(Err(e));
        }
        match self.each.as_mut() {
            Some((items, answers)) => {
                let mut answer = answer;
                answer["item"] = items[answers.len()].clone();
                answers.push(answer);
                if answers.len() == items.len() {
                    let (_, answers) = self.each.take().expect("checked above");
                    self.record(Value::Array(answers));
                }
            }
            None => self.record(answer),
        }
        self.advance()
    }

    /// Stores the answer of the current step and moves past it.
    fn record(&mut self, answer: Value) {
        let step = &self.plan.steps[self.step];
        if let Some(n) = &step.name {
            self.doc["steps"][n] = answer.clone();
        }
        self.doc["last"] = answer;
        self.step += 1;
    }

    fn env(&self) -> EvalEnv<'_> {
        EvalEnv {
            doc: &self.doc,
            codes: None,
            now_ms: self.now_ms,
        }
    }

    /// The next call, or the outcome once no step is left.
    fn advance(&mut self) -> Next {
        match self.next_call() {
            Ok(Some(Next::Store(call))) => {
                self.store_call = Some(call.clone());
                Next::Store(call)
            }
            Ok(Some(next)) => next,
            Ok(None) => Next::Done(self.finish()),
            Err(e) => Next::Done(Err(e)),
        }
    }

    /// The call a step makes (with `item` as `@` in foreach steps).
    fn call(&self, step: &Step, item: Option<&Value>) -> Result<Next> {
        let env = self.env();
        match &step.action {
            Action::Http(r) => build(r, &env, item, &self.binding.provider).map(Next::Call),
            Action::Store(s) => store::build(s, &env, item).map(Next::Store),
        }
    }

    fn next_call(&mut self) -> Result<Option<Next>> {
        while let Some(step) = self.plan.steps.get(self.step) {
            if let Some((items, answers)) = &self.each {
                let item = &items[answers.len()];
                return self.call(step, Some(item)).map(Some);
            }
            if !self.applies(step)? {
                self.step += 1;
                continue;
            }
            let Some(each) = &step.foreach else {
                return self.call(step, None).map(Some);
            };
            let items = match eval(each, &self.env()).map_err(param_error)? {
                Some(Value::Array(items)) => items,
                None | Some(Value::Null) => Vec::new(),
                Some(other) => vec![other],
            };
            if items.is_empty() {
                self.record(Value::Array(Vec::new()));
            } else {
                self.each = Some((items, Vec::new()));
            }
        }
        Ok(None)
    }

    /// Whether a step's `when` holds (steps without one always apply).
    fn applies(&self, step: &Step) -> Result<bool> {
        match &step.when {
            None => Ok(true),
            Some(w) => Ok(truthy(&eval(w, &self.env()).map_err(param_error)?)),
        }
    }

    /// `refuse`, before any call.
    fn refusal(&self) -> Result<()> {
        let Some(r) = &self.plan.refuse else {
            return Ok(());
        };
        let refusal =
            eval(r, &self.env()).map_err(|e| Error::internal(format!("refuse template: {e}")))?;
        match failure(refusal)? {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// `fail`, then `result`, after the last step.
    fn finish(&self) -> Result<Output> {
        let env = self.env();
        if let Some(f) = &self.plan.fail {
            let failed =
                eval(f, &env).map_err(|e| Error::internal(format!("fail template: {e}")))?;
            if let Some(e) = failure(failed)? {
                return Err(e);
            }
        }
        let provider = &self.binding.provider;
        let result = match &self.plan.result {
            Some(t) => eval(t, &env)
                .map_err(|e| {
                    upstream(format!(
                        "provider {provider} gave an answer imbridge cannot read: {e}"
                    ))
                })?
                .unwrap_or_else(|| json!({})),
            None => json!({}),
        };
        self.op.decode_result(result).map_err(|e| {
            upstream(format!(
                "provider {provider} gave an answer imbridge cannot read: {}",
                e.message
            ))
        })
    }
}

fn param_error(e: crate::mapping::template::EvalError) -> Error {
    Error::invalid(Reason::Param, e.message)
}

/// The error a `refuse` or `fail` template gave, if any.
fn failure(value: Option<Value>) -> Result<Option<Error>> {
    let Some(v) = value.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let mut e: Error =
        serde_json::from_value(v).map_err(|e| Error::internal(format!("fail template: {e}")))?;
    e.source = Source::Provider;
    Ok(Some(e))
}
