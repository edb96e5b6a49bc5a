//! `imbridge check` and the capability matrix of configs with vendor
//! providers; `docs/compatibility.md` is the `--markdown` output for
//! `config/compatibility.toml`, and must be regenerated when a mapping
//! changes what a provider can do.

use std::collections::BTreeSet;

use imbridge::canonical::OpName;

use crate::harness::{repo, run_imbridge, Setup, MASTER_SECRET, WILDFIRE_SECRET};
use crate::matrix::declared_ops;

/// The operations (not run by imbridge itself) a frontend dialect serves.
fn served_ops(dialect: &str) -> BTreeSet<OpName> {
    let (dialects, _) = imbridge::mapping::compile::compile_dir(&repo().join("mappings"));
    let d = dialects.iter().find(|d| d.name == dialect).unwrap();
    d.inbound
        .as_ref()
        .unwrap()
        .routes
        .iter()
        .map(|r| r.op)
        .filter(|op| !op.is_local())
        .collect()
}

/// How many routes a frontend dialect has.
fn routes(dialect: &str) -> usize {
    let (dialects, _) = imbridge::mapping::compile::compile_dir(&repo().join("mappings"));
    let d = dialects.iter().find(|d| d.name == dialect).unwrap();
    d.inbound.as_ref().unwrap().routes.len()
}

#[test]
fn check_prints_what_each_frontend_can_do_on_its_vendor_provider() {
    // Frontends on vendor providers (nothing is called by `check`).
    let setup = Setup::new();
    let providers = format!(
        r#"
[providers.jm]
kind = "vendor"
dialect = "jmessage"
base_url = "http://127.0.0.1:1"
[providers.jm.params]
app_key = "k"
master_secret = "{MASTER_SECRET}"

[providers.wf]
kind = "vendor"
dialect = "wildfire"
base_url = "http://127.0.0.1:1"
[providers.wf.params]
secret = "{WILDFIRE_SECRET}"
"#
    );
    let mut text = setup.config_on(&["jmessage", "haorenao"], "wf", &providers);
    text.push_str(
        "\n[frontends.wildfire]\nprovider = \"jm\"\n[frontends.wildfire.params]\nsecret = \"s\"\n",
    );
    let path = setup.dir.path().join("vendors.toml");
    std::fs::write(&path, text).unwrap();
    let (ok, stdout, stderr) = run_imbridge(&["check", "--config", path.to_str().unwrap()]);
    assert!(ok, "{stdout}{stderr}");
    for (frontend, provider, dialect) in [
        ("jmessage", "wf", "wildfire"),
        ("haorenao", "wf", "wildfire"),
        ("wildfire", "jm", "jmessage"),
    ] {
        let served = served_ops(frontend);
        let declared = declared_ops(dialect);
        let missing: Vec<&str> = served
            .iter()
            .filter(|op| !declared.contains(op))
            .map(|op| op.as_str())
            .collect();
        assert!(
            !missing.is_empty(),
            "{frontend} on {dialect} lacks something"
        );
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("{frontend} ({frontend}) on ")))
            .unwrap_or_else(|| panic!("no line for {frontend}: {stdout}"));
        let expected = format!(
            "-> provider {provider}: {} routes, {} of {} operations supported; unsupported: {}",
            routes(frontend),
            served.len() - missing.len(),
            served.len(),
            missing.join(", ")
        );
        assert!(line.ends_with(&expected), "{line}\nexpected …{expected}");
    }
}

#[test]
fn compatibility_doc_is_current() {
    let (ok, stdout, stderr) = run_imbridge(&[
        "check",
        "--config",
        "config/compatibility.toml",
        "--markdown",
    ]);
    assert!(ok, "{stderr}");
    // Every shipped vendor provider is a column.
    for dialect in ["jmessage", "wildfire"] {
        let declared = declared_ops(dialect);
        let served = served_ops("jmessage");
        let n = served.iter().filter(|op| declared.contains(op)).count();
        assert!(
            stdout.contains(&format!("| {dialect} |")) || stdout.contains(&format!(" {dialect} |")),
            "no column for {dialect}"
        );
        assert!(
            stdout.contains(&format!("{n} of {}", served.len())),
            "{stdout}"
        );
    }
    let committed = std::fs::read_to_string(repo().join("docs/compatibility.md")).unwrap();
    assert!(
        committed == stdout,
        "docs/compatibility.md is stale; regenerate it:\n  \
         cargo run -- check --config config/compatibility.toml --markdown > docs/compatibility.md"
    );
}
