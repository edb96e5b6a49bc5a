//! Golden cases from recordings (`imbridge test --record DIR`, the files
//! `record` wrote): each recorded case is read back as `imbridge test`
//! reads a case file and run offline; it is kept only when it passes — the
//! offline plans reproduce what the running imbridge did — and when it
//! proves something no kept case does: per route (inbound, rendered result,
//! rendered error) and per operation (result, error), the first one.
//! Kept cases go to `mappings/tests/<dialect>/recorded-<side>.yaml` (one
//! file per set of params), replacing the recorded files of earlier runs.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::{parse, run_case, Covers};
use crate::mapping::compile::compile_dir;

/// One recorded case, as `record` writes it.
#[derive(Debug, Deserialize)]
struct Recorded {
    dialect: String,
    side: String,
    params: BTreeMap<String, String>,
    case: Value,
}

/// What `write` did.
#[derive(Debug, Default)]
pub struct Written {
    /// Recorded cases read.
    pub read: usize,
    /// Files written, with how many cases each.
    pub files: Vec<(PathBuf, usize)>,
    /// Recorded cases that did not pass offline (and that no passing
    /// recording of the same name replaced), with what differed.
    pub refused: Vec<(String, String)>,
}

/// A kept case: where it goes, its sort key and its text.
type Kept = BTreeMap<(String, String, String), Vec<(String, String)>>;

/// Writes the golden cases the recordings in `recordings` (`*.jsonl`) prove,
/// beside the dialects of `mappings`.
pub async fn write(mappings: &Path, recordings: &Path) -> Result<Written, String> {
    let (dialects, diags) = compile_dir(mappings);
    if !diags.is_empty() {
        return Err(crate::mapping::diag::render(&diags));
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(recordings)
        .map_err(|e| format!("cannot read {}: {e}", recordings.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    let mut written = Written::default();
    let mut seen = BTreeSet::new();
    let mut passed = BTreeSet::new();
    let mut failed = BTreeMap::new();
    let mut kept = Kept::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|e| e.to_string())?;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            written.read += 1;
            let Ok(mut rec) = serde_json::from_str::<Recorded>(line) else {
                continue;
            };
            // Derived from `app_key`, not a param.
            rec.params.remove("app_uuid");
            let Some(dialect) = dialects.iter().find(|d| d.name == rec.dialect) else {
                continue;
            };
            let params = serde_json::to_string(&rec.params).map_err(|e| e.to_string())?;
            let case_text = case_yaml(&rec.case)?;
            let name = format!(
                "{}: {}",
                rec.dialect,
                rec.case["name"].as_str().unwrap_or("")
            );
            let parsed = parse(&format!("params: {params}\ncases:\n{case_text}"))?;
            let Some(case) = parsed.cases.first() else {
                continue;
            };
            if let Some(route) = &case.render {
                let routes = dialect.inbound.as_ref().map_or(&[][..], |i| &i.routes[..]);
                // A render case names its route; a name several routes
                // share would prove the first one only.
                if routes.iter().filter(|r| r.name == route.route).count() != 1 {
                    continue;
                }
            }
            let covers = match run_case(dialect, &parsed.params, case).await {
                Ok(covers) => covers,
                Err(why) => {
                    failed.entry(name).or_insert(why);
                    continue;
                }
            };
            passed.insert(name);
            let error = rec.case["expect"].get("error").map(Value::to_string);
            let proves = match (covers, error) {
                (Some(c), e) => format!("{c:?} {} {}", rec.side, e.is_some()),
                (None, e) => format!("{} {}", rec.side, e.unwrap_or_default()),
            };
            if seen.insert((rec.dialect.clone(), proves)) {
                let order = match covers {
                    Some(Covers::Route(line)) => format!("{line:08}"),
                    Some(Covers::Operation(op)) => op.as_str().to_string(),
                    None => String::new(),
                };
                kept.entry((rec.dialect, rec.side, params))
                    .or_default()
                    .push((order, case_text));
            }
        }
    }
    written.refused = failed
        .into_iter()
        .filter(|(name, _)| !passed.contains(name))
        .collect();
    written.files = store(mappings, kept)?;
    Ok(written)
}

/// Writes the kept cases, replacing the recorded files of earlier runs.
fn store(mappings: &Path, kept: Kept) -> Result<Vec<(PathBuf, usize)>, String> {
    let tests = mappings.join("tests");
    for dialect in kept.keys().map(|(d, _, _)| d).collect::<BTreeSet<_>>() {
        let dir = tests.join(dialect);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        for entry in std::fs::read_dir(&dir)
            .map_err(|e| e.to_string())?
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with("recorded-") && name.ends_with(".yaml") {
                std::fs::remove_file(entry.path()).map_err(|e| e.to_string())?;
            }
        }
    }
    let mut files = Vec::new();
    let mut numbered: BTreeMap<(String, String), usize> = BTreeMap::new();
    for ((dialect, side, params), mut cases) in kept {
        cases.sort();
        let n = numbered.entry((dialect.clone(), side.clone())).or_default();
        *n += 1;
        let suffix = if *n == 1 {
            String::new()
        } else {
            format!("-{n}")
        };
        let path = tests
            .join(&dialect)
            .join(format!("recorded-{side}{suffix}.yaml"));
        let mut text = format!(
            "# Recorded from a running imbridge by `imbridge test --record` (see\n\
             # \"Recording golden cases\" in docs/mappings.md): each case states the\n\
             # \"now\" it ran at; its expectation is what imbridge did then.\n\
             params: {params}\ncases:\n"
        );
        for (_, case) in &cases {
            text.push_str(case);
        }
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        files.push((path, cases.len()));
    }
    Ok(files)
}

/// A case as an item of a case file's `cases:` (values in JSON, which YAML
/// reads as flow collections).
fn case_yaml(case: &Value) -> Result<String, String> {
    let json = |v: &Value| serde_json::to_string(v).map_err(|e| e.to_string());
    let mut text = format!("  - name: {}\n", json(&case["name"])?);
    for key in ["inbound", "render", "outbound", "expect"] {
        if let Some(v) = case.get(key) {
            let _ = writeln!(text, "    {key}: {}", json(v)?);
        }
    }
    text.push('\n');
    Ok(text)
}
