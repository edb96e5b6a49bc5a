//! Administration: sensitive words, switches, settings, health, accounts, robots.

use serde_json::json;

use super::{expect, Backend, Harness, OTHER_APP};
use crate::canonical::{ErrorKind, Reason};
use crate::provider::Provider;

async fn sensitive_words(backend: Backend) {
    let h = Harness::on(backend);
    h.ok(
        "sensitive_word.add",
        json!({"words": ["alpha", "beta", "alpha"]}),
    )
    .await;
    h.ok("sensitive_word.add", json!({"words": ["beta"]})).await;
    let e = h
        .fail("sensitive_word.add", json!({"words": ["gamma", ""]}))
        .await;
    expect(&e, ErrorKind::InvalidArgument, Reason::Param);
    let e = h
        .fail("sensitive_word.add", json!({"words": ["w".repeat(65)]}))
        .await;
    expect(&e, ErrorKind::InvalidArgument, Reason::Param);
    h.ok("sensitive_word.add", json!({"words": ["字".repeat(64)]}))
        .await;

    let list = h
        .ok("sensitive_word.list", json!({"paging": {"count": 2}}))
        .await;
    let words: Vec<_> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["word"].clone())
        .collect();
    assert_eq!(words, [json!("alpha"), json!("beta")]);
    assert_eq!(
        (list["total"].as_i64(), list["cursor"].as_str()),
        (Some(3), Some("2"))
    );
    assert!(list["items"][0]["created"].as_i64().unwrap() > 0);
    assert_eq!(h.ok("sensitive_word.list", json!({})).await["count"], 3);

    h.ok(
        "sensitive_word.update",
        json!({"old_word": "alpha", "new_word": "omega"}),
    )
    .await;
    let e = h
        .fail(
            "sensitive_word.update",
            json!({"old_word": "alpha", "new_word": "x"}),
        )
        .await;
    expect(&e, ErrorKind::NotFound, Reason::Word);
    let e = h
        .fail(
            "sensitive_word.update",
            json!({"old_word": "omega", "new_word": "beta"}),
        )
        .await;
    expect(&e, ErrorKind::AlreadyExists, Reason::Word);
    let e = h
        .fail("sensitive_word.delete", json!({"words": ["omega", "nope"]}))
        .await;
    expect(&e, ErrorKind::NotFound, Reason::Word);
    assert_eq!(
        h.ok("sensitive_word.list", json!({})).await["total"],
        3,
        "failed delete removed nothing"
    );
    h.ok("sensitive_word.delete", json!({"words": ["omega", "beta"]}))
        .await;
    assert_eq!(h.ok("sensitive_word.list", json!({})).await["total"], 1);
    assert_eq!(
        h.call_in(OTHER_APP, "sensitive_word.list", json!({}))
            .await
            .unwrap()["total"],
        0
    );
}

async fn switches_and_system_settings(backend: Backend) {
    let h = Harness::on(backend);
    for (get, set) in [
        ("sensitive_word.status.get", "sensitive_word.status.set"),
        ("app.sdk_register.get", "app.sdk_register.set"),
    ] {
        assert_eq!(h.ok(get, json!({})).await, json!({"enabled": true}));
        h.ok(set, json!({"enabled": false})).await;
        assert_eq!(h.ok(get, json!({})).await, json!({"enabled": false}));
        assert_eq!(
            h.call_in(OTHER_APP, get, json!({})).await.unwrap(),
            json!({"enabled": true})
        );
    }
    assert_eq!(
        h.ok("sensitive_word.status.get", json!({})).await["enabled"],
        false
    );
    h.ok("app.sdk_register.set", json!({"enabled": true})).await;
    assert_eq!(
        h.ok("app.sdk_register.get", json!({})).await["enabled"],
        true
    );

    let e = h.fail("system.settings.get", json!({"id": 7})).await;
    expect(&e, ErrorKind::NotFound, Reason::Setting);
    h.ok("system.settings.set", json!({"id": 7, "value": "a"}))
        .await;
    h.ok(
        "system.settings.set",
        json!({"id": 7, "value": "b", "desc": "seven"}),
    )
    .await;
    assert_eq!(
        h.ok("system.settings.get", json!({"id": 7})).await,
        json!({"id": 7, "value": "b", "desc": "seven"})
    );
}

async fn health_and_accounts(backend: Backend) {
    let h = Harness::on(backend);
    assert_eq!(
        h.ok("health.check", json!({})).await,
        json!({"status": "healthy", "provider": "embedded"})
    );
    assert_eq!(h.provider.name(), "embedded");
    assert_eq!(
        h.ok("customer.get", json!({})).await,
        json!({"id": "imbridge", "name": "imbridge"})
    );
    assert_eq!(
        h.ok("customer_service.get", json!({})).await,
        json!({"id": "imbridge_cs", "name": "imbridge"})
    );
    h.users(&["alice"]).await;
    let cs = h
        .ok("customer_service.get", json!({"username": "alice"}))
        .await;
    let token = h.ok("user.token", json!({"username": "alice"})).await["token"].clone();
    assert_eq!(cs["token"], token);
    let e = h
        .fail("customer_service.get", json!({"username": "ghost"}))
        .await;
    expect(&e, ErrorKind::NotFound, Reason::User);
}

async fn robots(backend: Backend) {
    let h = Harness::on(backend);
    let made = h
        .ok(
            "robot.upsert",
            json!({"display_name": "Helper", "callback": "http://cb"}),
        )
        .await;
    let username = made["username"].as_str().unwrap().to_owned();
    let suffix = username.strip_prefix("robot_").unwrap();
    assert!(suffix.len() == 8 && suffix.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(made["name"], username.as_str());
    assert_eq!(made["secret"].as_str().unwrap().len(), 32);
    let user = h.ok("user.get", json!({"username": username})).await;
    assert_eq!(
        (user["kind"].as_str(), user["nickname"].as_str()),
        (Some("robot"), Some("Helper"))
    );

    let updated = h
        .ok(
            "robot.upsert",
            json!({"username": username, "name": "helper", "portrait": "http://p.png"}),
        )
        .await;
    assert_eq!(
        updated,
        json!({"username": username, "name": "helper", "secret": made["secret"]})
    );
    let user = h.ok("user.get", json!({"username": username})).await;
    assert_eq!(
        (user["nickname"].as_str(), user["avatar"].as_str()),
        (Some("Helper"), Some("http://p.png"))
    );
    let chosen = h
        .ok(
            "robot.upsert",
            json!({"username": "bot1", "secret": "s3cret"}),
        )
        .await;
    assert_eq!(
        chosen,
        json!({"username": "bot1", "name": "bot1", "secret": "s3cret"})
    );

    h.users(&["alice"]).await;
    let e = h.fail("robot.upsert", json!({"username": "alice"})).await;
    expect(&e, ErrorKind::AlreadyExists, Reason::User);
    let e = h
        .fail("robot.upsert", json!({"username": "bad/name"}))
        .await;
    expect(&e, ErrorKind::InvalidArgument, Reason::Param);
}

on_both_backends!(
    sensitive_words,
    switches_and_system_settings,
    health_and_accounts,
    robots,
);
