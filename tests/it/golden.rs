//! `imbridge test` and `imbridge translate`, as operators run them: the real
//! binary, offline.

use crate::harness::{repo, run_imbridge, Setup};

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
