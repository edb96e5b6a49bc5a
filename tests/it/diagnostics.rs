//! `imbridge check` on broken mapping files: each file in `tests/diagnostics/`
//! starts with a `# result:` header holding the exact report (file name
//! without directory); the binary must print exactly that and exit non-zero.
//! Run with `BLESS=1` to rewrite the headers after a deliberate change.

use std::path::Path;

use crate::harness::{repo, run_imbridge, Setup};

const HEADER: &str = "# result:";

/// Splits a case file into its expected report and the mapping text.
fn split(text: &str) -> (String, String) {
    let mut expected = Vec::new();
    let mut lines = text.lines().peekable();
    if lines.peek() == Some(&HEADER) {
        lines.next();
        while let Some(l) = lines.peek() {
            if l.starts_with('#') {
                expected.push(l.strip_prefix("# ").unwrap_or("").to_string());
                lines.next();
            } else {
                break;
            }
        }
    }
    let body: Vec<&str> = lines.collect();
    (expected.join("\n"), body.join("\n") + "\n")
}

/// Runs `imbridge check` on one broken mapping; returns (exit ok, stderr).
fn check(mapping: &str) -> (bool, String) {
    let setup = Setup::new();
    let dir = setup.dir.path().join("mappings");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("broken.yaml"), mapping).unwrap();
    let config = setup.dir.path().join("imbridge.toml");
    std::fs::write(
        &config,
        format!(
            "mappings = \"{}\"\n[frontends.broken]\n[server]\nadmin_listen = \"127.0.0.1:{}\"\n",
            dir.display(),
            setup.admin_port
        ),
    )
    .unwrap();
    let (ok, _, stderr) = run_imbridge(&["check", "--config", config.to_str().unwrap()]);
    let stderr = stderr
        .replace(&format!("{}/", dir.display()), "")
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n");
    (ok, stderr)
}

#[test]
fn broken_mappings_report_file_line_and_cause() {
    let cases = repo().join("tests/diagnostics");
    let mut names: Vec<_> = std::fs::read_dir(&cases)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    names.sort();
    assert!(
        names.len() >= 10,
        "expected the diagnostic cases in {}",
        cases.display()
    );
    let bless = std::env::var_os("BLESS").is_some();
    let mut failures = Vec::new();
    for path in names {
        let text = std::fs::read_to_string(&path).unwrap();
        let (expected, mapping) = split(&text);
        let (ok, report) = check(&mapping);
        assert!(!ok, "{}: check accepted a broken mapping", path.display());
        if bless {
            write_header(&path, &report, &mapping);
        } else if report != expected {
            failures.push(format!(
                "{}:\n--- expected\n{expected}\n--- got\n{report}",
                path.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn write_header(path: &Path, report: &str, mapping: &str) {
    let header: String = report
        .lines()
        .map(|l| format!("# {l}\n").replace("# \n", "#\n"))
        .collect();
    std::fs::write(path, format!("{HEADER}\n{header}{mapping}")).unwrap();
}

/// `imbridge check` warns about a shipped development secret on a frontend
/// served beyond loopback (and not about one the operator set).
#[test]
fn check_warns_about_shipped_secrets_beyond_loopback() {
    let shipped = std::fs::read_to_string(repo().join("config/imbridge.toml")).unwrap();
    let exposed = shipped
        .replace("listen = \"127.0.0.1:8080\"", "listen = \"0.0.0.0:8080\"")
        .replace("imbridge-dev-master-secret", "an-operator-chosen-9f2c71");
    assert!(exposed.contains("0.0.0.0:8080") && !exposed.contains("imbridge-dev-"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("exposed.toml");
    std::fs::write(&file, exposed).unwrap();
    let (ok, stdout, stderr) = run_imbridge(&["check", "--config", file.to_str().unwrap()]);
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stderr.contains("warning: frontends.wildfire.params.secret is a development value"),
        "{stderr}"
    );
    assert!(!stderr.contains("frontends.jmessage"), "{stderr}");
    let (ok, _, stderr) = run_imbridge(&["check", "--config", "config/imbridge.toml"]);
    assert!(ok && !stderr.contains("warning"), "{stderr}");
}

#[test]
fn shipped_mappings_and_default_config_pass_check() {
    let config = repo().join("config/imbridge.toml");
    let (ok, stdout, stderr) = run_imbridge(&["check", "--config", config.to_str().unwrap()]);
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains("jmessage (jmessage) on 127.0.0.1:8080 -> provider embedded"),
        "{stdout}"
    );
}
