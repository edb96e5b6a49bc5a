//! `imbridge migrate outbox list|retry|drop` and `imbridge migrate users
//! add|remove|list`: the operator's handles on a live migration, working on
//! the store of the config (a running `serve` sees the changes within a
//! second).

use std::sync::Arc;

use clap::{Args, Subcommand};
use serde_json::Value;

use super::sql::{Selection, DEAD};
use super::{now_ms, Live};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::Store;

/// What to do with the outbox.
#[derive(Debug, Subcommand)]
pub enum Outbox {
    /// List entries (oldest first): sequence, state, frontend, operation,
    /// direction, attempts, age, last error.
    List {
        /// Only this frontend's.
        #[arg(long)]
        frontend: Option<String>,
        /// Only dead letters.
        #[arg(long)]
        dead: bool,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Put dead letters back in line (attempts reset).
    Retry(Which),
    /// Delete dead letters (the other side will not get them).
    Drop(Which),
}

/// Which dead letters.
#[derive(Debug, Args)]
pub struct Which {
    /// Sequence numbers (from `list`).
    seqs: Vec<i64>,
    /// Every dead letter (of `--frontend`, when given).
    #[arg(long, conflicts_with = "seqs")]
    all_dead: bool,
    /// With `--all-dead`: only this frontend's.
    #[arg(long)]
    frontend: Option<String>,
}

/// Users moved to the new provider by name.
#[derive(Debug, Subcommand)]
pub enum Users {
    /// Serve these users from the new provider (wins over `percent`).
    Add {
        /// The migrating frontend.
        #[arg(long)]
        frontend: String,
        /// Usernames.
        #[arg(required = true)]
        users: Vec<String>,
    },
    /// Back to `percent` for these users.
    Remove {
        /// The migrating frontend.
        #[arg(long)]
        frontend: String,
        /// Usernames.
        #[arg(required = true)]
        users: Vec<String>,
    },
    /// The users moved by name.
    List {
        /// The migrating frontend.
        #[arg(long)]
        frontend: String,
    },
}

fn open(config: &Config) -> anyhow::Result<Arc<Live>> {
    let store = Arc::new(Store::open(&config.store)?);
    Live::open(store, Arc::new(Metrics::new()))
}

/// The request of an entry as it may be shown: passwords and secrets out.
fn shown(request: &str) -> Value {
    fn scrub(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    if matches!(k.as_str(), "password" | "secret" | "token") {
                        *x = Value::String("***".into());
                    } else {
                        scrub(x);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(scrub),
            _ => {}
        }
    }
    let mut v = serde_json::from_str(request).unwrap_or(Value::Null);
    scrub(&mut v);
    v
}

/// Runs an outbox command; what to print.
pub async fn outbox(config: &Config, command: Outbox) -> anyhow::Result<String> {
    let live = open(config)?;
    let sql = live.sql();
    let selection = |w: Which| {
        if w.all_dead {
            Ok(Selection::Dead(w.frontend))
        } else if w.seqs.is_empty() {
            Err(anyhow::anyhow!("name entries (SEQ ...) or --all-dead"))
        } else {
            Ok(Selection::Seqs(w.seqs))
        }
    };
    Ok(match command {
        Outbox::List {
            frontend,
            dead,
            limit,
            json,
        } => {
            let entries = sql.list(frontend, dead.then_some(DEAD), limit).await?;
            let now = now_ms();
            let mut out = String::new();
            if !json {
                out.push_str("seq\tstate\tfrontend\top\tdirection\tattempts\tage_s\terror\n");
            }
            for e in entries {
                let w = &e.write;
                let age = (now - e.created).max(0) / 1000;
                if json {
                    let line = serde_json::json!({
                        "seq": e.seq, "state": e.state, "frontend": w.frontend, "op": w.op,
                        "source": w.source, "target": w.target, "attempts": e.attempts,
                        "age_s": age, "error": e.error, "request": shown(&w.request),
                    });
                    out.push_str(&format!("{line}\n"));
                } else {
                    out.push_str(&format!(
                        "{}\t{}\t{}\t{}\t{} -> {}\t{}\t{}\t{}\n",
                        e.seq,
                        e.state,
                        w.frontend,
                        w.op,
                        w.source,
                        w.target,
                        e.attempts,
                        age,
                        e.error.as_deref().unwrap_or("")
                    ));
                }
            }
            out
        }
        Outbox::Retry(w) => {
            let n = sql.retry(selection(w)?, now_ms()).await?;
            format!("{n} dead letter(s) back in line\n")
        }
        Outbox::Drop(w) => {
            let n = sql.drop_dead(selection(w)?).await?;
            format!("{n} dead letter(s) dropped\n")
        }
    })
}

/// Runs a users command; what to print.
pub async fn users(config: &Config, command: Users) -> anyhow::Result<String> {
    let known = |f: &str| {
        config
            .frontends
            .get(f)
            .is_some_and(|fc| fc.migration.is_some())
    };
    let frontend = match &command {
        Users::Add { frontend, .. } | Users::Remove { frontend, .. } | Users::List { frontend } => {
            frontend.clone()
        }
    };
    if !known(&frontend) {
        anyhow::bail!(
            "frontend `{frontend}` has no [frontends.{frontend}.migration] in the config"
        );
    }
    let live = open(config)?;
    Ok(match command {
        Users::Add { users, .. } => {
            let n = live.move_users(&frontend, users, true).await?;
            format!("{n} user(s) moved to the new provider\n")
        }
        Users::Remove { users, .. } => {
            let n = live.move_users(&frontend, users, false).await?;
            format!("{n} user(s) back to the percentage\n")
        }
        Users::List { .. } => {
            let mut names: Vec<String> = live
                .sql()
                .moved_users(&frontend)
                .await?
                .into_iter()
                .collect();
            names.sort();
            names.iter().map(|n| format!("{n}\n")).collect()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_requests_show_no_password() {
        let v = shown(
            r#"{"users":[{"username":"a","password":"pw1"}],"password":"pw2","x":{"token":"t"}}"#,
        );
        assert_eq!(
            v,
            serde_json::json!({"users":[{"username":"a","password":"***"}],"password":"***","x":{"token":"***"}})
        );
    }
}
