//! Running an operation with no vendor (`imbridge test`, `imbridge
//! translate`): the same state machine the providers drive, each call
//! answered by a function (canned answers, stubs, records in memory).

use super::binding::Binding;
use super::call::{Answer, Outgoing};
use super::run::{Next, Run};
use super::store::StoreCall;
use super::token::{self, Token};
use crate::canonical::{Op, Output, Result};

/// A call of an operation run offline.
#[derive(Debug, Clone, Copy)]
pub enum CallRef<'a> {
    /// A vendor call (a token fetch too).
    Vendor(&'a Outgoing),
    /// A store call.
    Store(&'a StoreCall),
}

/// Runs `op` on `binding`, `answer` answering every call. With token auth,
/// `token` is used when given; else it is fetched (through `answer`) before
/// the first vendor call, as a provider would.
pub fn run(
    binding: &Binding,
    op: &Op,
    now_ms: i64,
    fresh_id: i64,
    mut token: Option<Token>,
    mut answer: impl FnMut(CallRef<'_>) -> Answer,
) -> Result<Output> {
    let mut run = Run::new(binding, op, now_ms, fresh_id)?;
    let mut next = run.start();
    loop {
        match next {
            Next::Done(outcome) => return outcome,
            Next::Store(call) => next = run.answer(answer(CallRef::Store(&call))),
            Next::Call(mut call) => {
                if let Some(scheme) = token::scheme(binding) {
                    let value = match &token {
                        Some(t) => t.header_value.clone(),
                        None => {
                            let fetch = token::request(binding, now_ms, fresh_id)?;
                            let fetched =
                                token::read(binding, answer(CallRef::Vendor(&fetch)), now_ms)?;
                            token.insert(fetched).header_value.clone()
                        }
                    };
                    call.headers
                        .push((scheme.header.clone(), value.to_string()));
                }
                next = run.answer(answer(CallRef::Vendor(&call)));
            }
        }
    }
}
