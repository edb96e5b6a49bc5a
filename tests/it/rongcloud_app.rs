//! rongcloud-app (seed 004): a Django REST framework style app API. Login
//! is imbridge's `POST /api/auth/token/` ({username, password} → {token});
//! calls send `Authorization: Token <token>`, or `Authorization: Basic` with
//! the username and password (DRF's BasicAuthentication); errors are `{detail}` with
//! 400/401/403/404; member lists are `{count, next, previous, results}`
//! pages whose `next` links work.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{
    assert_shape, png, postgres_twins, replica_twins, Answer, Imbridge, Rc, RC_PAGE_SIZE,
};
use crate::jm::group_members;

/// Users (the app's numeric user ids) registered through JMessage: the
/// seed's `1` with its nickname, and ten more.
async fn fixtures(im: &Imbridge) {
    let mut users = vec![json!({"username": "1", "password": "pw1", "nickname": "稍等是"})];
    for id in 6..=15 {
        users.push(json!({"username": id.to_string(), "password": format!("pw{id}")}));
    }
    im.register(Value::Array(users)).await;
}

async fn login(im: &Imbridge, id: u32) -> Rc {
    im.rc(&id.to_string(), &format!("pw{id}")).await
}

/// How a scenario's users send their credentials.
#[derive(Clone, Copy)]
enum Credentials {
    /// A token from `/api/auth/token/`.
    Token,
    /// Their username and password on every call (HTTP Basic).
    Basic,
}

/// A client for user `id` sending its credentials `how`.
async fn client(im: &Imbridge, id: u32, how: Credentials) -> Rc {
    match how {
        Credentials::Token => login(im, id).await,
        Credentials::Basic => im.rc_basic(&id.to_string(), &format!("pw{id}")),
    }
}

/// Creates a group with the form `fields` (`POST /api/im/group/`),
/// asserting 201; returns the group.
async fn new_group(rc: &Rc, fields: &[(&str, &str)]) -> Value {
    rc.post_form("/api/im/group/", fields)
        .await
        .expect(201)
        .json
}

/// An error in DRF's shape: exactly `{detail: <text>}` with `status`.
fn detail(a: Answer, status: u16) -> String {
    let a = a.expect(status);
    assert_shape(&a.json, &[("detail", "string")], true);
    a.json["detail"].as_str().unwrap().to_string()
}

/// Asserts the seed's group object: exactly {id, name, code, cover}, the
/// cover a URL string when the group has one, else null.
fn assert_group(g: &Value, has_cover: bool) {
    let cover = if has_cover { "string" } else { "null" };
    assert_shape(
        g,
        &[
            ("id", "integer"),
            ("name", "string"),
            ("code", "string"),
            ("cover", cover),
        ],
        true,
    );
}

/// Every member of a group, following `next` links from the first page with
/// the same client; checks each page's shape and size on the way.
async fn all_members(rc: &Rc, gid: i64) -> (Vec<i64>, usize) {
    let mut url = format!("/api/im/group/{gid}/users/");
    let mut ids = Vec::new();
    let mut pages = 0;
    let mut previous: Option<String> = None;
    loop {
        let a = rc.get(&url).await.expect(200);
        pages += 1;
        let page = a.json;
        // A link to the next page while members remain after this one; to
        // the previous page on every page but the first.
        let more = ids.len() + RC_PAGE_SIZE < page["count"].as_u64().unwrap_or(0) as usize;
        let next_kind = if more { "string" } else { "null" };
        let prev_kind = if pages == 1 { "null" } else { "string" };
        assert_shape(
            &page,
            &[
                ("count", "integer"),
                ("next", next_kind),
                ("previous", prev_kind),
                ("results", "array"),
            ],
            true,
        );
        assert_eq!(page["previous"].is_null(), pages == 1, "{page}");
        if let Some(prev) = &previous {
            // `previous` leads back to the page we came from.
            let back = rc.get(page["previous"].as_str().unwrap()).await.expect(200);
            let came_from = rc.get(prev).await.expect(200);
            assert_eq!(back.json["results"], came_from.json["results"]);
        }
        let results = page["results"].as_array().unwrap();
        let count = page["count"].as_u64().unwrap() as usize;
        let expected = RC_PAGE_SIZE.min(count - ids.len());
        assert_eq!(results.len(), expected, "page {pages}: {page}");
        for m in results {
            assert_shape(
                m,
                &[
                    ("id", "integer"),
                    ("name", "string"),
                    ("nick", "string"),
                    ("avatar", "string"),
                    ("username", "string"),
                    ("level", "string"),
                ],
                true,
            );
            ids.push(m["id"].as_i64().unwrap());
        }
        match page["next"].as_str() {
            Some(next) => {
                previous = Some(url.clone());
                url = next.to_string();
            }
            None => {
                assert_eq!(ids.len(), count, "every member once");
                return (ids, pages);
            }
        }
        assert!(pages < 100, "runaway pagination");
    }
}

#[tokio::test]
async fn every_endpoint_with_the_seed_examples() {
    seed_examples(Credentials::Token).await;
}

#[tokio::test]
async fn every_endpoint_with_basic_credentials() {
    seed_examples(Credentials::Basic).await;
}

/// Every seed endpoint with the seed's examples, users sending `how`.
async fn seed_examples(how: Credentials) {
    let im = Imbridge::start();
    fixtures(&im).await;

    // Login (imbridge's documented /api/auth/token/): exactly {token}.
    let a = im
        .post_json(
            "/api/auth/token/",
            json!({"username": "1", "password": "pw1"}),
        )
        .await
        .expect(200);
    assert_shape(&a.json, &[("token", "string")], true);
    let owner = match how {
        Credentials::Token => im.rc_with(a.json["token"].as_str()),
        Credentials::Basic => client(&im, 1, how).await,
    };
    // A form login works too, and gives another token.
    let form = im
        .post_form(
            "/api/auth/token/",
            &[("username", "1"), ("password", "pw1")],
        )
        .await
        .expect(200);
    assert_shape(&form.json, &[("token", "string")], true);
    assert_ne!(form.json["token"], a.json["token"]);

    // token: {key}, the user's stable RongCloud token.
    let a = owner.get("/api/im/token/").await.expect(200);
    assert_shape(&a.json, &[("key", "string")], true);
    let key = a.json["key"].clone();
    assert_eq!(
        owner.get("/api/im/token/").await.expect(200).json["key"],
        key
    );
    let rc6 = client(&im, 6, how).await;
    let other = rc6.get("/api/im/token/").await.expect(200);
    assert_shape(&other.json, &[("key", "string")], true);
    assert_ne!(other.json["key"], key);

    // create: multipart name, code and a cover image; the creator is in.
    let cover = png(16, 9, [200, 30, 30]);
    let a = owner
        .post_multipart(
            "/api/im/group/",
            &[("name", "zhang111"), ("code", "4321")],
            Some(("cover", "original.png", cover.clone())),
        )
        .await
        .expect(201);
    let created = a.json;
    assert_group(&created, true);
    assert_eq!(created["name"], "zhang111");
    assert_eq!(created["code"], "4321");
    let gid = created["id"].as_i64().unwrap();
    // The cover URL downloads the image that was sent.
    let url = created["cover"].as_str().unwrap();
    assert!(url.starts_with("http://"), "{url}");
    let resp = im.http.get(url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "image/png");
    assert_eq!(&resp.bytes().await.unwrap()[..], &cover[..]);
    // Not face to face: no code, no cover (form fields without a file).
    let plain = new_group(&owner, &[("name", "plain")]).await;
    assert_group(&plain, false);
    assert_eq!(plain["code"], "");
    assert_eq!(plain["cover"], Value::Null);
    // Stored: JMessage sees the group, owned by user 1, cover as avatar.
    let jm = im.jm().get(&format!("/v1/groups/{gid}")).await.expect(200);
    assert_eq!(jm.json["name"], "zhang111");
    assert_eq!(jm.json["avatar"], url);
    assert_eq!(group_members(&im.jm(), gid).await, ["1:1"]);

    // GET group/: the caller's groups.
    let a = owner.get("/api/im/group/").await.expect(200);
    assert_shape(
        &a.json,
        &[
            ("count", "integer"),
            ("next", "null"),
            ("previous", "null"),
            ("results", "array"),
        ],
        true,
    );
    assert_eq!(a.json["count"], 2);
    assert_eq!(a.json["results"], json!([created, plain]));

    // join: the seed's body {"userid": "6"}, echoed; JSON and form.
    let a = owner
        .post_json(
            &format!("/api/im/group/{gid}/join/"),
            json!({"userid": "6"}),
        )
        .await
        .expect(200);
    assert_eq!(a.json, json!({"userid": "6"}));
    // The seed's table types userid as a number: a JSON number works too.
    let a = owner
        .post_json(&format!("/api/im/group/{gid}/join/"), json!({"userid": 10}))
        .await
        .expect(200);
    assert_eq!(a.json, json!({"userid": 10}));
    for id in ["8", "9"] {
        let a = owner
            .post_form(&format!("/api/im/group/{gid}/join/"), &[("userid", id)])
            .await
            .expect(200);
        assert_eq!(a.json, json!({"userid": id}));
    }
    // The users the join added now see the group.
    let a = rc6.get("/api/im/group/").await.expect(200);
    assert_eq!(a.json["results"], json!([created]));

    // invite: face to face, with the group's code.
    for id in [7, 11, 12] {
        let rc = client(&im, id, how).await;
        let a = rc
            .post_json(
                &format!("/api/im/group/{gid}/invite/"),
                json!({"code": "4321"}),
            )
            .await
            .expect(200);
        assert_eq!(a.json, json!({"detail": "操作成功"}));
    }

    // users: 8 members, pages of RC_PAGE_SIZE, `next` followed to the end.
    let (ids, pages) = all_members(&owner, gid).await;
    assert_eq!(pages, 8usize.div_ceil(RC_PAGE_SIZE));
    assert_eq!(ids[0], 1, "the owner comes first");
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, [1, 6, 7, 8, 9, 10, 11, 12]);
    // The owner's entry carries the seed's fields from the profile.
    let first = owner.get(&format!("/api/im/group/{gid}/users/")).await.json;
    assert_eq!(first["count"], 8);
    assert_eq!(
        first["results"][0],
        json!({"id": 1, "name": "", "nick": "稍等是", "avatar": "", "username": "1", "level": ""})
    );
    // Any member may list them, with the same pages.
    let (ids6, _) = all_members(&rc6, gid).await;
    assert_eq!(ids6, ids);

    // quit: 6 leaves; gone from the members and from 6's groups.
    let a = rc6
        .get(&format!("/api/im/group/{gid}/quit/"))
        .await
        .expect(200);
    assert_eq!(a.json, json!({"detail": "操作成功"}));
    let (ids, _) = all_members(&owner, gid).await;
    assert!(!ids.contains(&6));
    assert_eq!(ids.len(), 7);
    assert_eq!(rc6.get("/api/im/group/").await.expect(200).json["count"], 0);

    // retrieve: any user, no credentials; the seed's four fields.
    let a = im
        .get(&format!("/api/im/retrieve/{gid}/"))
        .await
        .expect(200);
    assert_eq!(a.json, created);

    // dismiss: by the owner; the group is gone everywhere.
    let a = owner
        .get(&format!("/api/im/group/{gid}/dismiss/"))
        .await
        .expect(200);
    assert_eq!(a.json, json!({"detail": "操作成功"}));
    detail(im.get(&format!("/api/im/retrieve/{gid}/")).await, 404);
    im.jm()
        .get(&format!("/v1/groups/{gid}"))
        .await
        .expect_jm_error(404, 899006);
    let a = owner.get("/api/im/group/").await.expect(200);
    assert_eq!(a.json["results"], json!([plain]));
}

#[tokio::test]
async fn wrong_missing_and_expired_credentials() {
    let im = Imbridge::start();
    fixtures(&im).await;
    let owner = login(&im, 1).await;
    let gid = new_group(&owner, &[("name", "g")]).await["id"]
        .as_i64()
        .unwrap();

    // Login with a wrong password, an unknown user, or without a password:
    // 400 like DRF's obtain_auth_token, in the {detail} shape.
    for body in [
        json!({"username": "1", "password": "wrong"}),
        json!({"username": "404", "password": "pw1"}),
        json!({"username": "1"}),
        json!({}),
    ] {
        let msg = detail(im.post_json("/api/auth/token/", body).await, 400);
        assert_eq!(msg, "Unable to log in with provided credentials.");
    }

    // Every endpoint that needs a user: no header, a bad token, another
    // scheme's keyword.
    let protected: Vec<(Method, String)> = vec![
        (Method::GET, "/api/im/token/".into()),
        (Method::GET, "/api/im/group/".into()),
        (Method::POST, "/api/im/group/".into()),
        (Method::POST, format!("/api/im/group/{gid}/join/")),
        (Method::POST, format!("/api/im/group/{gid}/invite/")),
        (Method::GET, format!("/api/im/group/{gid}/quit/")),
        (Method::GET, format!("/api/im/group/{gid}/users/")),
        (Method::GET, format!("/api/im/group/{gid}/dismiss/")),
    ];
    let token = owner.token.clone().unwrap();
    for (method, path) in &protected {
        let send = |auth: Option<String>| {
            let mut req = im.request(method.clone(), path).form(&[
                ("name", "x"),
                ("userid", "6"),
                ("code", "1"),
            ]);
            if let Some(a) = auth {
                req = req.header("authorization", a);
            }
            Answer::of(req)
        };
        assert_eq!(
            detail(send(None).await, 401),
            "Authentication credentials were not provided.",
            "{method} {path}"
        );
        assert_eq!(
            detail(send(Some("Token not-a-token".into())).await, 401),
            "Invalid token.",
            "{method} {path}"
        );
        assert_eq!(
            detail(send(Some(format!("Bearer {token}"))).await, 401),
            "Authentication credentials were not provided.",
            "{method} {path}"
        );
        // Basic credentials: a wrong password, an unknown user, no
        // password, and a header that is not base64 of user:password.
        let basic = |text: &str| format!("Basic {}", STANDARD.encode(text));
        for auth in [
            basic("1:wrong"),
            basic("404:pw1"),
            basic("1"),
            basic(":pw1"),
            "Basic %%%".to_string(),
        ] {
            assert_eq!(
                detail(send(Some(auth.clone())).await, 401),
                "Authentication credentials were not provided.",
                "{method} {path} {auth}"
            );
        }
    }
    // The keyword is case-insensitive, as in DRF.
    let a = Answer::of(
        im.request(Method::GET, "/api/im/token/")
            .header("authorization", format!("token {token}")),
    )
    .await;
    a.expect(200);
    // A token of another frontend (easemob-hx's admin token) is no login.
    let hx = im.hx().await;
    detail(im.rc_with(Some(&hx.token)).get("/api/im/token/").await, 401);
    // An expired token: its lifetime moved into the past before first use.
    let stale = login(&im, 6).await;
    assert_eq!(im.expire_tokens("rongcloud-app", Some("6")).await, 1);
    assert_eq!(
        detail(stale.get("/api/im/token/").await, 401),
        "Invalid token."
    );
    login(&im, 6).await.get("/api/im/token/").await.expect(200);
    // Nothing changed: the group still has only its owner.
    let (ids, _) = all_members(&owner, gid).await;
    assert_eq!(ids, [1]);
}

#[tokio::test]
async fn bad_bodies_and_ids() {
    let im = Imbridge::start();
    fixtures(&im).await;
    let owner = login(&im, 1).await;
    let gid = owner
        .post_multipart("/api/im/group/", &[("name", "g"), ("code", "1")], None)
        .await
        .expect(201)
        .json["id"]
        .as_i64()
        .unwrap();
    // create: no name, a name over 128 bytes, a cover that is no image,
    // malformed JSON.
    assert_eq!(
        detail(
            owner.post_form("/api/im/group/", &[("code", "1")]).await,
            400
        ),
        "name: This field is required."
    );
    assert_eq!(
        detail(
            owner.post_form("/api/im/group/", &[("name", "")]).await,
            400
        ),
        "name: This field may not be blank."
    );
    let long = "群".repeat(43);
    detail(
        owner.post_form("/api/im/group/", &[("name", &long)]).await,
        400,
    );
    detail(
        owner
            .post_multipart(
                "/api/im/group/",
                &[("name", "x")],
                Some(("cover", "cover.png", b"not an image at all".to_vec())),
            )
            .await,
        400,
    );
    let a = Answer::of(
        owner
            .request(Method::POST, "/api/im/group/")
            .header("content-type", "application/json")
            .body("{\"name\": "),
    )
    .await;
    detail(a, 400);
    assert_eq!(
        owner.get("/api/im/group/").await.expect(200).json["count"],
        1,
        "no group was created"
    );
    // join without userid, invite without code.
    for (action, message) in [
        ("join", "userid: This field is required."),
        ("invite", "code: This field is required."),
    ] {
        let path = format!("/api/im/group/{gid}/{action}/");
        let a = owner.post_json(&path, json!({})).await;
        assert_eq!(detail(a, 400), message, "{action}");
    }
    // users: pages are positive integers.
    for page in ["0", "x", "-1"] {
        assert_eq!(
            detail(
                owner
                    .get(&format!("/api/im/group/{gid}/users/?page={page}"))
                    .await,
                400
            ),
            "Invalid page."
        );
    }
    // Ids that are not integers name no group: 404 Not found.
    for (method, path) in [
        (Method::POST, "/api/im/group/abc/join/"),
        (Method::POST, "/api/im/group/abc/invite/"),
        (Method::GET, "/api/im/group/abc/quit/"),
        (Method::GET, "/api/im/group/abc/users/"),
        (Method::GET, "/api/im/group/abc/dismiss/"),
        (Method::GET, "/api/im/retrieve/abc/"),
    ] {
        let a = Answer::of(
            owner
                .request(method, path)
                .form(&[("userid", "6"), ("code", "1")]),
        )
        .await;
        assert_eq!(detail(a, 404), "Not found.", "{path}");
    }
    // Wrong methods and unknown paths keep the shape.
    detail(
        Answer::of(owner.request(Method::POST, &format!("/api/im/group/{gid}/quit/"))).await,
        405,
    );
    detail(
        Answer::of(owner.request(Method::DELETE, "/api/im/group/")).await,
        405,
    );
    detail(owner.get("/api/im/nothing/").await, 404);
}

#[tokio::test]
async fn unknown_groups_and_users() {
    let im = Imbridge::start();
    fixtures(&im).await;
    let owner = login(&im, 1).await;
    let gid = new_group(&owner, &[("name", "g")]).await["id"]
        .as_i64()
        .unwrap();
    // Adding a user that does not exist.
    let msg = detail(
        owner
            .post_json(
                &format!("/api/im/group/{gid}/join/"),
                json!({"userid": "404"}),
            )
            .await,
        404,
    );
    assert!(msg.contains("404"), "{msg}");
    // A group that does not exist, on every group endpoint.
    let gone = 99_999;
    for a in [
        owner
            .post_json(
                &format!("/api/im/group/{gone}/join/"),
                json!({"userid": "6"}),
            )
            .await,
        owner
            .post_json(
                &format!("/api/im/group/{gone}/invite/"),
                json!({"code": "1"}),
            )
            .await,
        owner.get(&format!("/api/im/group/{gone}/quit/")).await,
        owner.get(&format!("/api/im/group/{gone}/users/")).await,
        owner.get(&format!("/api/im/group/{gone}/dismiss/")).await,
        im.get(&format!("/api/im/retrieve/{gone}/")).await,
    ] {
        let msg = detail(a, 404);
        assert!(msg.contains("99999"), "{msg}");
    }
}

#[tokio::test]
async fn permission_errors() {
    let im = Imbridge::start();
    fixtures(&im).await;
    let owner = login(&im, 1).await;
    let rc6 = login(&im, 6).await;
    let created = new_group(&owner, &[("name", "owned"), ("code", "2468")]).await;
    let gid = created["id"].as_i64().unwrap();
    // Quitting a group you are not in.
    let msg = detail(rc6.get(&format!("/api/im/group/{gid}/quit/")).await, 403);
    assert!(msg.contains("not a member"), "{msg}");
    // Listing the members of, or adding people to, a group you are not in.
    detail(rc6.get(&format!("/api/im/group/{gid}/users/")).await, 403);
    detail(
        rc6.post_json(
            &format!("/api/im/group/{gid}/join/"),
            json!({"userid": "7"}),
        )
        .await,
        403,
    );
    // Joining face to face with the wrong code.
    detail(
        rc6.post_json(
            &format!("/api/im/group/{gid}/invite/"),
            json!({"code": "1357"}),
        )
        .await,
        403,
    );
    // Dismissing a group you do not own, even as a member.
    rc6.post_json(
        &format!("/api/im/group/{gid}/invite/"),
        json!({"code": "2468"}),
    )
    .await
    .expect(200);
    let msg = detail(rc6.get(&format!("/api/im/group/{gid}/dismiss/")).await, 403);
    assert!(msg.contains("does not own"), "{msg}");
    // Joining twice.
    detail(
        rc6.post_json(
            &format!("/api/im/group/{gid}/invite/"),
            json!({"code": "2468"}),
        )
        .await,
        400,
    );
    // The group is intact: owner and 6, nobody else.
    assert_eq!(
        im.get(&format!("/api/im/retrieve/{gid}/"))
            .await
            .expect(200)
            .json,
        created
    );
    let (mut ids, _) = all_members(&owner, gid).await;
    ids.sort_unstable();
    assert_eq!(ids, [1, 6]);
}

postgres_twins!(every_endpoint_with_the_seed_examples);
replica_twins!(every_endpoint_with_the_seed_examples);
