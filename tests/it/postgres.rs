//! imbridge on PostgreSQL: a database that goes away answers each caller in
//! its own dialect's "service unavailable", and service comes back by itself
//! when the database does, with nothing acknowledged lost. (The conformance
//! tests run on PostgreSQL too: see the `postgres_twins!` of each file.)

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{on_postgres, Imbridge};
use crate::jm::*;

#[test]
fn a_lost_database_is_unavailable_in_each_dialect_then_comes_back() {
    on_postgres(lost_database);
}

#[tokio::main(flavor = "current_thread")]
async fn lost_database() {
    let im = Imbridge::start();
    let jm = im.jm();
    register(&jm, &["fang", "javen"]).await;
    let before = sent_id(&jm, text_message("fang", "single", json!("javen"), "one")).await;

    let pg = im.setup.pg.clone().expect("on PostgreSQL");
    pg.stop();
    jm.get("/v1/users/javen").await.expect_jm_error(503, 899000);
    let wf = im.wf();
    let a = wf
        .post("/admin/user/get_info", Some(json!({"userId": "javen"})))
        .await;
    assert_eq!(
        (a.status, a.json["code"].clone()),
        (200, json!(249)),
        "{}",
        a.text
    );
    let readyz = || async {
        let a = im.http.get(format!("{}/readyz", im.admin)).send().await;
        let a = a.expect("the admin listener still answers");
        (a.status().as_u16(), a.text().await.unwrap_or_default())
    };
    assert_eq!(
        readyz().await,
        (
            503,
            "not ready: the database of store does not answer\n".into()
        )
    );

    pg.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let a = jm.get("/v1/users/javen").await;
        if a.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "no recovery: {}", a.text);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(readyz().await, (200, "ready\n".into()));
    let after = sent_id(&jm, text_message("fang", "single", json!("javen"), "two")).await;
    assert!(after > before, "{after} after {before}");
    let retract = format!("/v1/messages/fang/{before}/retract");
    jm.call(reqwest::Method::POST, &retract, None)
        .await
        .expect_empty(204);
}
