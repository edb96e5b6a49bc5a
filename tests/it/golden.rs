//! `imbridge test` and `imbridge translate`, as operators run them: the real
//! binary, offline.

use crate::harness::{repo, run_imbridge, wait_for_port, Setup};

#[test]
fn shipped_golden_cases_pass() {
    let (ok, stdout, stderr) = run_imbridge(&["test"]);
    assert!(ok, "{stdout}{stderr}");
    for dialect in [
        "jmessage",
        "haorenao",
        "easemob-hx",
        "wildfire",
        "rongcloud-app",
    ] {
        assert!(
            stdout.contains(&format!("test {dialect}/")),
            "no cases of {dialect}: {stdout}"
        );
    }
    assert!(stdout.contains(" 0 failed"), "{stdout}");
}

#[test]
fn a_wrong_golden_case_fails_naming_file_and_case() {
    let setup = Setup::new();
    let dir = setup.dir.path().join("mappings");
    std::fs::create_dir_all(dir.join("tests/jmessage")).unwrap();
    std::fs::copy(
        repo().join("mappings/jmessage.yaml"),
        dir.join("jmessage.yaml"),
    )
    .unwrap();
    std::fs::write(
        dir.join("tests/jmessage/wrong.yaml"),
        r#"
cases:
  - name: a missing user is not 899001
    render:
      route: user.get
      error: {kind: not_found, reason: user, message: gone}
    expect:
      status: 404
      body: {error: {code: 899001, message: gone}}
  - name: this one is right
    render:
      route: user.get
      error: {kind: not_found, reason: user, message: gone}
    expect:
      status: 404
      body: {error: {code: 899002, message: gone}}
"#,
    )
    .unwrap();
    let (ok, stdout, _) = run_imbridge(&["test", "--mappings", dir.to_str().unwrap()]);
    assert!(!ok, "a wrong case passed: {stdout}");
    assert!(
        stdout.contains("test jmessage/wrong.yaml: a missing user is not 899001 ... FAILED"),
        "{stdout}"
    );
    assert!(
        stdout.contains("899001") && stdout.contains("899002"),
        "the diff is missing: {stdout}"
    );
    assert!(
        stdout.contains("test jmessage/wrong.yaml: this one is right ... passed"),
        "{stdout}"
    );
    assert!(stdout.contains("1 passed, 1 failed"), "{stdout}");
}

/// Runs `cases` (a case file of the jmessage dialect) with `imbridge test`:
/// whether it passed, and what it printed.
fn run_jmessage_cases(cases: &str) -> (bool, String) {
    let setup = Setup::new();
    let dir = setup.dir.path().join("mappings");
    std::fs::create_dir_all(dir.join("tests/jmessage")).unwrap();
    std::fs::copy(
        repo().join("mappings/jmessage.yaml"),
        dir.join("jmessage.yaml"),
    )
    .unwrap();
    std::fs::write(dir.join("tests/jmessage/cases.yaml"), cases).unwrap();
    let (ok, stdout, _) = run_imbridge(&["test", "--mappings", dir.to_str().unwrap()]);
    (ok, stdout)
}

#[test]
fn an_expectation_that_checks_nothing_or_is_misspelt_fails() {
    let (ok, stdout) = run_jmessage_cases(
        r#"
cases:
  - name: an empty expectation
    outbound:
      op: user.get
      request: {username: a}
      answers: [{body: {username: a, ctime: "2023-11-15 06:13:20"}}]
    expect: {}
  - name: calls but no result
    outbound:
      op: user.get
      request: {username: a}
      answers: [{body: {username: a, ctime: "2023-11-15 06:13:20"}}]
    expect:
      calls: [{method: GET, path: /v1/users/a}]
  - name: a misspelt result
    outbound:
      op: user.get
      request: {username: a}
      answers: [{body: {username: a, ctime: "2023-11-15 06:13:20"}}]
    expect:
      calls: [{method: GET, path: /v1/users/a}]
      results: {username: a}
  - name: an inbound case without op or error
    inbound: {method: GET, path: /v1/users/a}
    expect: {request: {username: a}}
  - name: a misspelt error field
    render:
      route: user.get
      error: {kind: not_found, reason: user, message: gone}
    expect: {status: 404, bdy: {error: {code: 899002, message: gone}}}
  - name: a message that does not contain the words
    outbound:
      op: user.list
      request: {disabled: true}
    expect:
      calls: []
      error: {kind: unsupported, reason: param, message_contains: "no such words"}
"#,
    );
    assert!(!ok, "{stdout}");
    assert!(stdout.contains("0 passed, 6 failed"), "{stdout}");
    assert!(stdout.contains("missing field `calls`"), "{stdout}");
    assert!(stdout.contains("unknown field `results`"), "{stdout}");
    assert!(stdout.contains("unknown field `bdy`"), "{stdout}");
    assert!(
        stdout.contains("does not contain \"no such words\""),
        "{stdout}"
    );
}

/// Coverage counts what passing cases prove: a route reached by an inbound
/// case or named by a render case, an operation run by an outbound case; a
/// failing case covers nothing, and the rest is listed.
#[test]
fn coverage_lists_the_routes_and_operations_without_a_passing_case() {
    let (ok, stdout) = run_jmessage_cases(
        r#"
cases:
  - name: register
    inbound: {method: POST, path: /v1/users/, body: [{username: a, password: secret1}]}
    expect: {op: user.register, request: {require_password: true, users: [{username: a, password: secret1}]}}
  - name: a missing user
    render:
      route: user.get
      error: {kind: not_found, reason: user, message: gone}
    expect: {status: 404, body: {error: {code: 899002, message: gone}}}
  - name: a wrong outbound case
    outbound:
      op: user.get
      request: {username: a}
      answers: [{body: {username: a, ctime: "2023-11-15 06:13:20"}}]
    expect:
      calls: [{method: GET, path: /v1/users/b}]
      result: {username: a}
  - name: delete at the vendor
    outbound:
      op: user.delete
      request: {usernames: [a]}
    expect:
      calls: [{method: DELETE, path: /v1/users/, body: [a]}]
      result: {}
"#,
    );
    assert!(!ok, "{stdout}");
    let line = |prefix: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line {prefix:?}: {stdout}"))
            .to_string()
    };
    let summary = line("coverage jmessage: ");
    let counts: Vec<usize> = summary
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    let [routes_covered, routes, ops_covered, ops] = counts[..] else {
        panic!("{summary}");
    };
    assert_eq!((routes_covered, ops_covered), (2, 1), "{summary}");
    let routes_left = line("  routes without a case: ");
    assert_eq!(
        routes_left.matches(" (line ").count(),
        routes - 2,
        "{routes_left}"
    );
    assert!(
        !routes_left.contains("user.register (line"),
        "{routes_left}"
    );
    let ops_left = line("  operations without a case: ");
    let ops_left: Vec<&str> = ops_left["  operations without a case: ".len()..]
        .split(", ")
        .collect();
    assert_eq!(ops_left.len(), ops - 1, "{ops_left:?}");
    assert!(
        ops_left.contains(&"user.get"),
        "a failing case covers nothing: {ops_left:?}"
    );
    assert!(!ops_left.contains(&"user.delete"), "{ops_left:?}");
    assert!(stdout.contains("3 passed, 1 failed"), "{stdout}");
}

#[test]
fn translate_shows_the_operation_and_the_vendor_calls_without_secrets() {
    let setup = Setup::new();
    let config = setup.dir.path().join("imbridge.toml");
    std::fs::write(
        &config,
        format!(
            r#"
mappings = "{mappings}"
[store]
path = "{dir}/state.db"
[providers.jm]
kind = "vendor"
dialect = "jmessage"
base_url = "https://api.im.jpush.cn"
[providers.jm.params]
app_key = "vendorappkey"
master_secret = "very-secret-master-key"
[frontends.haorenao]
provider = "jm"
"#,
            mappings = repo().join("mappings").display(),
            dir = setup.dir.path().display()
        ),
    )
    .unwrap();
    let (ok, stdout, stderr) = run_imbridge(&[
        "translate",
        "--config",
        config.to_str().unwrap(),
        "--frontend",
        "haorenao",
        "--method",
        "POST",
        "--path",
        "/im/10001/group_quit/",
        "--body",
        r#"{"username": "18516271364", "password": "pw"}"#,
        "--caller",
        "18516271364",
    ]);
    assert!(ok, "{stdout}{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["op"], "group.quit");
    assert_eq!(report["request"]["group_id"], "10001");
    assert_eq!(report["request"]["username"], "18516271364");
    assert_eq!(report["provider"], "jm");
    let calls = report["calls"].as_array().unwrap();
    assert_eq!(calls[0]["method"], "POST");
    assert_eq!(
        calls[0]["url"],
        "https://api.im.jpush.cn/v1/groups/10001/members"
    );
    assert_eq!(calls[0]["headers"]["authorization"], "**REDACTED**");
    assert!(!stdout.contains("very-secret-master-key"), "{stdout}");
}

/// A served request recorded (`GOLDEN_RECORD_DIR`) becomes a golden case
/// that passes offline and covers its route; credentials stay out.
#[tokio::test]
async fn a_recorded_request_becomes_a_passing_case() {
    let setup = Setup::new();
    let config = setup.write_config("");
    let recordings = setup.dir.path().join("recordings");
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_imbridge"))
        .args(["serve", "--config"])
        .arg(&config)
        .env("GOLDEN_RECORD_DIR", &recordings)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("imbridge starts");
    wait_for_port(setup.port);
    let health = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{}/admin/health", setup.port))
        .header("authorization", "Basic c2VjcmV0LXh5eg==")
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("imbridge answers");
    assert_eq!(health.status(), 200);
    server.kill().expect("stopped");
    server.wait().expect("reaped");

    let recorded: String = std::fs::read_dir(&recordings)
        .expect("recordings written")
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert!(recorded.contains("/admin/health"), "{recorded}");
    assert!(
        !recorded.contains("c2VjcmV0LXh5eg"),
        "a credential was recorded: {recorded}"
    );

    let dir = setup.dir.path().join("mappings");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        repo().join("mappings/wildfire.yaml"),
        dir.join("wildfire.yaml"),
    )
    .unwrap();
    let (ok, stdout, stderr) = run_imbridge(&[
        "test",
        "--mappings",
        dir.to_str().unwrap(),
        "--record",
        recordings.to_str().unwrap(),
    ]);
    assert!(ok, "{stdout}{stderr}");
    let inbound = dir.join("tests/wildfire/recorded-inbound.yaml");
    let render = dir.join("tests/wildfire/recorded-render.yaml");
    for file in [&inbound, &render] {
        assert!(
            stdout.contains(&format!("wrote {} (1 cases)", file.display())),
            "{stdout}"
        );
    }
    assert!(
        stdout.contains("test wildfire/recorded-inbound.yaml: POST /admin/health becomes health.check ... passed"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "test wildfire/recorded-render.yaml: health.check renders its result ... passed"
        ),
        "{stdout}"
    );
    // The route is covered; the signed one beside it is not.
    assert!(stdout.contains("health.check.signed (line"), "{stdout}");
    assert!(!stdout.contains("health.check (line"), "{stdout}");
}
