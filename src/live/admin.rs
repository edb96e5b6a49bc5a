//! The live migration on the admin listener: the users moved by name
//! (`GET|POST|DELETE /migration/FRONTEND/users`, bodies `{"users": [...]}`)
//! and the outbox depth (`GET /migration/outbox`).

use serde_json::{json, Value};

use crate::config::Config;
use crate::registry::Providers;

/// Answers a request under `/migration/`: status and JSON body.
pub async fn handle(
    providers: &Providers,
    config: &Config,
    method: &http::Method,
    path: &str,
    body: &[u8],
) -> (u16, Value) {
    let Some(live) = &providers.live else {
        return (503, json!({"error": "no store"}));
    };
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["migration", "outbox"] if method == http::Method::GET => match live.sql().depths().await {
            Ok(depths) => {
                let list: Vec<Value> = depths
                    .into_iter()
                    .map(|(f, d)| json!({"frontend": f, "pending": d.pending, "inflight": d.inflight, "dead": d.dead, "oldest_ms": d.oldest}))
                    .collect();
                (200, json!({"frontends": list}))
            }
            Err(e) => (500, json!({"error": e.message})),
        },
        ["migration", frontend, "users"] => {
            if config
                .frontends
                .get(*frontend)
                .is_none_or(|f| f.migration.is_none())
            {
                return (
                    404,
                    json!({"error": format!("frontend `{frontend}` has no migration")}),
                );
            }
            let add = match *method {
                http::Method::GET => {
                    return match live.sql().moved_users(frontend).await {
                        Ok(set) => {
                            let mut users: Vec<String> = set.into_iter().collect();
                            users.sort();
                            (200, json!({"users": users}))
                        }
                        Err(e) => (500, json!({"error": e.message})),
                    }
                }
                http::Method::POST => true,
                http::Method::DELETE => false,
                _ => return (405, json!({"error": "GET, POST or DELETE"})),
            };
            let users = serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|v| serde_json::from_value::<Vec<String>>(v["users"].clone()).ok());
            let Some(users) = users.filter(|u| !u.is_empty()) else {
                return (
                    400,
                    json!({"error": "the body must be {\"users\": [\"name\", ...]}"}),
                );
            };
            match live.move_users(frontend, users, add).await {
                Ok(n) => (200, json!({"changed": n})),
                Err(e) => (500, json!({"error": e.message})),
            }
        }
        _ => (404, json!({"error": "not found"})),
    }
}
