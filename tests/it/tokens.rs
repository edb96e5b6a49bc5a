//! Issued tokens as an attacker holding one would try them: a token stops
//! working once its user's password changes, the user is deleted or
//! disabled, on every replica; a disabled user cannot log in or get a
//! token on any provider; every token has a lifetime, rongcloud-app's
//! (DRF-style, never expiring in DRF) included.

use std::time::Duration;

use serde_json::{json, Value};

use crate::chain::Chain;
use crate::harness::{assert_shape, postgres_twins, replica_twins, Answer, Imbridge};

/// `[store.tokens]` of the tests: a revocation counts on other replicas
/// after one second.
const RECHECK: &str = "[store.tokens]\nrecheck_secs = 1\n";

/// A DRF error: `{detail}` with `status`; its text.
fn detail(a: Answer, status: u16) -> String {
    let a = a.expect(status);
    assert_shape(&a.json, &[("detail", "string")], true);
    a.json["detail"].as_str().unwrap().to_string()
}

/// Lets a revocation reach every replica (at once on a single server).
async fn settle(replicas: bool) {
    if replicas {
        tokio::time::sleep(Duration::from_millis(1_200)).await;
    }
}

/// The attack, on a server whose users are registered through JMessage and
/// log in through rongcloud-app.
async fn revoked_tokens_and_disabled_users(im: &Imbridge, replicas: bool) {
    let users: Vec<Value> = ["7", "8", "9", "10"]
        .iter()
        .map(|u| json!({"username": u, "password": format!("pw{u}")}))
        .collect();
    im.register(Value::Array(users)).await;
    let jm = im.jm();
    let login = |user: &str, password: &str| {
        im.post_json(
            "/api/auth/token/",
            json!({"username": user, "password": password}),
        )
    };
    let seven = im.rc("7", "pw7").await;
    let eight = im.rc("8", "pw8").await;
    let nine = im.rc("9", "pw9").await;
    let ten = im.rc("10", "pw10").await;
    for rc in [&seven, &eight, &nine, &ten] {
        rc.get("/api/im/group/").await.expect(200);
    }

    // A password change: the old token is refused, the old password too.
    jm.put(
        "/v1/users/7/password",
        Some(json!({"new_password": "new7"})),
    )
    .await
    .expect_empty(204);
    settle(replicas).await;
    for _ in 0..3 {
        assert_eq!(
            detail(seven.get("/api/im/group/").await, 401),
            "Invalid token."
        );
    }
    detail(login("7", "pw7").await, 400);
    let seven = im.rc("7", "new7").await;
    seven.get("/api/im/group/").await.expect(200);

    // Disabled: the token is refused and so is a login with the right
    // password; enabled again, the user logs in (the old token stays dead).
    jm.put("/v1/users/8/forbidden?disable=true", None)
        .await
        .expect_empty(204);
    settle(replicas).await;
    for _ in 0..3 {
        detail(eight.get("/api/im/group/").await, 401);
    }
    detail(login("8", "pw8").await, 403);
    jm.put("/v1/users/8/forbidden?disable=false", None)
        .await
        .expect_empty(204);
    detail(eight.get("/api/im/group/").await, 401);
    im.rc("8", "pw8")
        .await
        .get("/api/im/group/")
        .await
        .expect(200);

    // Deleted: the token is refused.
    jm.delete("/v1/users/9", None).await.expect_empty(204);
    settle(replicas).await;
    for _ in 0..3 {
        detail(nine.get("/api/im/group/").await, 401);
    }

    // Nobody else was touched.
    ten.get("/api/im/group/").await.expect(200);

    // Counted: one token revoked by each cause, each refusal of a revoked
    // token (3 + 4 + 3) as `unknown` (revoked tokens are gone).
    if !replicas {
        for cause in ["password_change", "disable", "delete"] {
            let labels = format!("cause=\"{cause}\"");
            let revoked = im.metric("imbridge_tokens_revoked_total", &labels).await;
            assert_eq!(revoked, 1.0, "{cause}");
        }
        let labels = "frontend=\"rongcloud-app\",reason=\"unknown\"";
        let refused = im.metric("imbridge_tokens_refused_total", labels).await;
        assert_eq!(refused, 10.0);
    }

    // Every token issued has a lifetime: 30 days by default.
    let lifetimes = im
        .state_db()
        .read(|tx| {
            tx.query_all(
                "SELECT expires - issued FROM tokens WHERE frontend = 'rongcloud-app'",
                &[],
                |r| r.get::<Option<i64>>(0),
            )
        })
        .await
        .unwrap();
    assert!(!lifetimes.is_empty());
    assert!(
        lifetimes.iter().all(|t| *t == Some(30 * 86_400_000)),
        "{lifetimes:?}"
    );
}

#[tokio::test]
async fn revoked_tokens_and_disabled_users_are_refused() {
    let mut im = Imbridge::start_with(RECHECK);
    let replicas = im.replicas().is_some();
    revoked_tokens_and_disabled_users(&im, replicas).await;
}

/// On a vendor that cannot check passwords (RongCloud: imbridge keeps
/// them), a user disabled through imbridge is refused by imbridge itself.
#[tokio::test]
async fn disabled_users_are_refused_on_a_vendor_provider() {
    let chain = Chain::rongcloud();
    revoked_tokens_and_disabled_users(&chain.proxy, false).await;
}

postgres_twins!(revoked_tokens_and_disabled_users_are_refused);
replica_twins!(revoked_tokens_and_disabled_users_are_refused);
