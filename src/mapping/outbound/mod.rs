//! The outbound half of a mapping file: how a canonical operation becomes
//! calls to a vendor's server API and the vendor's answers a canonical result
//! or error. `plan` is the compiled form; `run` evaluates it as a state
//! machine (operation → call → answer → next call … → outcome) with no I/O,
//! so providers (which send the calls) and `imbridge test`/`translate`
//! (which answer them from the case file or with stubs, `offline`) run the
//! same code.

pub mod binding;
pub mod call;
pub mod errors;
pub mod offline;
pub mod plan;
pub mod run;
pub mod store;
pub mod token;

pub use binding::Binding;
pub use call::{Answer, MultipartValue, Outgoing, Payload};
pub use plan::*;
pub use run::{Next, Run};
pub use store::StoreCall;
