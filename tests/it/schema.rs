//! `imbridge schema`: the JSON Schema editors use for mapping files. It must
//! accept every shipped mapping file and refuse broken ones, checked with an
//! independent validator (the `jsonschema` crate), not imbridge's loader.

use std::path::Path;

use imbridge::mapping::{diag::Diagnostics, yaml};
use serde_json::Value;

use crate::harness::{repo, run_imbridge};

/// The schema as the binary prints it, compiled by the validator.
fn validator() -> jsonschema::Validator {
    let (ok, stdout, stderr) = run_imbridge(&["schema"]);
    assert!(ok, "imbridge schema failed: {stderr}");
    let schema: Value = serde_json::from_str(&stdout).expect("the schema is JSON");
    assert_eq!(
        schema["$schema"], "http://json-schema.org/draft-07/schema#",
        "YAML language servers read draft-07"
    );
    jsonschema::validator_for(&schema).expect("a valid JSON Schema")
}

/// A mapping file as the JSON value an editor's YAML language server sees.
fn as_json(name: &str, text: &str) -> Value {
    let mut d = Diagnostics::new(Path::new(name), text);
    let node = yaml::parse(text, &mut d).unwrap_or_else(|| panic!("{name} parses"));
    yaml::to_json(&node)
}

/// Every problem the validator finds, one per line.
fn problems(validator: &jsonschema::Validator, file: &Value) -> String {
    validator
        .iter_errors(file)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_schema_accepts_every_shipped_mapping_file() {
    let validator = validator();
    let mut files: Vec<_> = std::fs::read_dir(repo().join("mappings"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 7, "{files:?}");
    for file in files {
        let name = file.display().to_string();
        let value = as_json(&name, &std::fs::read_to_string(&file).unwrap());
        let found = problems(&validator, &value);
        assert!(
            found.is_empty(),
            "{name} does not match the schema:\n{found}"
        );
    }
}

/// A small valid file; each broken case changes one thing in it.
const VALID: &str = r#"
dialect: small
params:
  secret: {secret: true}
inbound:
  auth: {scheme: basic, username: secret, password: secret}
  errors:
    status: {not_found/user: 404}
    body: {code: $.error.code}
  routes:
    - op: user.get
      method: GET
      path: /users/{username}
      check:
        - {path: $.path.username, max_chars: 64}
      request: {username: $.path.username}
      response: {status: 200, body: {user: $.result.username}}
outbound:
  ops:
    user.get:
      steps:
        - {method: GET, path: "/users/{$.request.username}"}
        - {store: get, kind: user, key: $.request.username}
"#;

#[test]
fn the_schema_refuses_broken_files() {
    let validator = validator();
    let valid = as_json("valid.yaml", VALID);
    assert_eq!(problems(&validator, &valid), "", "the base case is valid");
    let cases = [
        // (what is broken, the edit, where the validator must point)
        (
            "a wrong type",
            ("{status: 200, body:", "{status: two hundred, body:"),
            "/inbound/routes/0/response/status",
        ),
        (
            "an unknown key",
            ("      method: GET", "      methods: GET\n      method: GET"),
            "/inbound/routes/0",
        ),
        (
            "a missing required field",
            ("    - op: user.get\n", "    -\n"),
            "/inbound/routes/0",
        ),
        (
            "an unknown operation",
            ("op: user.get", "op: user.fetch"),
            "/inbound/routes/0/op",
        ),
        (
            "a key of another auth scheme",
            ("password: secret}", "password: secret, token: $.query.t}"),
            "/inbound/auth",
        ),
        (
            "an unknown store action",
            ("store: get", "store: fetch"),
            "/outbound/ops/user.get/steps/1",
        ),
        (
            "an unknown error name",
            ("not_found/user: 404", "not_found/usr: 404"),
            "",
        ),
    ];
    for (what, (from, to), at) in cases {
        assert!(VALID.contains(from), "{what}: the edit does not apply");
        let broken = as_json("broken.yaml", &VALID.replacen(from, to, 1));
        let found = problems(&validator, &broken);
        assert!(!found.is_empty(), "{what}: the schema accepted it");
        assert!(
            found.lines().any(|l| l.starts_with(at)),
            "{what}: expected a problem at {at}, got:\n{found}"
        );
    }
}

#[test]
fn the_docs_reference_is_the_structs_reference() {
    let (ok, reference, stderr) = run_imbridge(&["schema", "--markdown"]);
    assert!(ok, "{stderr}");
    assert!(reference.contains("#### `Route`"), "{reference}");
    let docs = std::fs::read_to_string(repo().join("docs/mappings.md")).unwrap();
    assert!(
        docs.contains(&reference),
        "the reference in docs/mappings.md is stale: replace it with `imbridge schema --markdown`"
    );
}
