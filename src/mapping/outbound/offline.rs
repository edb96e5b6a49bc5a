//! Running an operation with no vendor (`imbridge test`, `imbridge
//! translate`): the same state machine the providers drive, each call
//! answered by a function (canned answers, stubs).

use super::binding::Binding;
use super::call::{Answer, Outgoing};
use super::run::{Next, Run};
use super::token::{self, Token};
use crate::canonical::{Op, Output, Result};

/// Runs `op` on `binding`, `answer` answering every call. With token auth,
/// `token` is used when given; else it is fetched (through `answer`) before
/// the first call, as a provider would.
pub fn run(
    binding: &Binding,
    op: &Op,
    now_ms: i64,
    fresh_id: i64,
    mut token: Option<Token>,
    mut answer: impl FnMut(&Outgoing) -> Answer,
) -> Result<Output> {
    let mut run = Run::new(binding, op, now_ms, fresh_id)?;
    let mut next = run.start();
    loop {
        match next {
            Next::Done(outcome) => return outcome,
            Next::Call(mut call) => {
                if let Some(scheme) = token::scheme(binding) {
                    let value = match &token {
                        Some(t) => t.header_value.clone(),
                        None => {
                            let fetch = token::request(binding, now_ms, fresh_id)?;
                            let fetched = token::read(binding, answer(&fetch), now_ms)?;
                            token.insert(fetched).header_value.clone()
                        }
                    };
                    call.headers
                        .push((scheme.header.clone(), value.to_string()));
                }
                next = run.answer(answer(&call));
            }
        }
    }
}
