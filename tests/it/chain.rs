//! Emulator chains (design §8): imbridge B serves vendor dialect X over its
//! embedded store, standing in for the vendor; imbridge A serves every seed
//! frontend with provider X pointed at B. A request to A crosses A's frontend
//! mapping, A's outbound mapping of X, real HTTP, B's inbound mapping of X and
//! B's store.

use crate::harness::{Imbridge, Setup, ALL_FRONTENDS};

/// A running chain.
pub struct Chain {
    /// B: the vendor stand-in.
    pub vendor: Imbridge,
    /// A: the proxy under test, all seed frontends on provider `vendor`.
    pub proxy: Imbridge,
}

impl Chain {
    /// Starts B serving `dialect` (its frontend table, e.g.
    /// `[frontends.jmessage.params]\nmaster_secret = "..."`, in `vendor_frontend`)
    /// and A with provider `vendor` of that dialect on B, whose params are
    /// `provider_params` (TOML lines under `[providers.vendor.params]`).
    pub fn start(dialect: &str, vendor_frontend: &str, provider_params: &str) -> Chain {
        let b = Setup::new();
        let b_text = b.config_for(&[], vendor_frontend);
        let vendor = Imbridge::start_text(b, &b_text);
        let a = Setup::new();
        let provider = format!(
            "[providers.vendor]\nkind = \"vendor\"\ndialect = \"{dialect}\"\nbase_url = \"{}\"\ntimeout_ms = 3000\n\n[providers.vendor.params]\n{provider_params}\n",
            vendor.base
        );
        let a_text = a.config_on(ALL_FRONTENDS, "vendor", &provider);
        let proxy = Imbridge::start_text(a, &a_text);
        Chain { vendor, proxy }
    }

    /// The WildfireChat chain: B serves the WildfireChat admin API with the
    /// test secret; A signs its calls with it.
    pub fn wildfire() -> Chain {
        use crate::harness::WILDFIRE_SECRET;
        Chain::start(
            "wildfire",
            &format!("[frontends.wildfire.params]\nsecret = \"{WILDFIRE_SECRET}\"\n"),
            &format!("secret = \"{WILDFIRE_SECRET}\"\n"),
        )
    }

    /// The JMessage chain: B serves JMessage with the test credentials.
    pub fn jmessage() -> Chain {
        use crate::harness::{APP_KEY, MASTER_SECRET};
        Chain::start(
            "jmessage",
            &format!("[frontends.jmessage.params]\nmaster_secret = \"{MASTER_SECRET}\"\n"),
            &format!("app_key = \"{APP_KEY}\"\nmaster_secret = \"{MASTER_SECRET}\"\n"),
        )
    }
}

#[tokio::test]
async fn jmessage_chain_carries_users_groups_and_messages() {
    use serde_json::json;
    let chain = Chain::jmessage();
    let jm = chain.proxy.jm();
    jm.post("/v1/users/", json!([{"username": "tom", "password": "password"}, {"username": "eddie", "password": "password"}]))
        .await
        .expect(201);
    let group = jm
        .post(
            "/v1/groups/",
            json!({"owner_username": "tom", "name": "team", "members_username": ["eddie"]}),
        )
        .await
        .expect(201);
    let gid = group.json["gid"].as_i64().expect("integer gid");
    // The group really lives in B, the vendor stand-in.
    let at_vendor = chain
        .vendor
        .jm()
        .get(&format!("/v1/groups/{gid}/members/"))
        .await
        .expect(200);
    let names: Vec<_> = at_vendor
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["username"].clone())
        .collect();
    assert_eq!(names, vec![json!("tom"), json!("eddie")]);
    let sent = jm
        .post(
            "/v1/messages",
            json!({"version": 1, "target_type": "group", "target_id": gid.to_string(), "from_type": "user",
                   "from_id": "tom", "msg_type": "text", "msg_body": {"text": "hi"}}),
        )
        .await
        .expect(201);
    assert!(sent.json["msg_id"].is_i64(), "{}", sent.text);
    // A vendor error comes back as the caller's dialect error.
    jm.get("/v1/users/nobody")
        .await
        .expect_jm_error(404, 899002);
    // The proxy counted its calls to the vendor.
    let metrics = chain.proxy.metrics().await;
    assert!(metrics.contains("imbridge_provider_calls_total{op=\"group.create\",provider=\"vendor\",status=\"201\"} 1"), "{metrics}");
}
