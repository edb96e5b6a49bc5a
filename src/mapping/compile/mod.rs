//! From mapping-file text to a compiled `Dialect`. Every problem is collected
//! as a diagnostic with file, line and column; nothing half-compiled escapes.
//! `check`, `test`, `translate`, `serve` and reloads all come through here.

mod auth;
mod errors;
mod outbound;
mod route;

pub use route::collision as route_collision;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use marked_yaml::Node;

use super::diag::{Diagnostic, Diagnostics};
use super::plan::{Dialect, Inbound, Param, JSON_CONTENT_TYPE};
use super::spec::{self, key_list};
use super::template::{
    compile::compile_partial, DocShape, Shape, Table, Template, TemplateContext, TimeFormat,
};
use super::yaml::{self, Fields};

/// What the templates of one file share: tables, time formats, params.
pub(crate) struct FileContext {
    pub tables: HashMap<String, Arc<Table>>,
    pub time_formats: HashMap<String, Arc<TimeFormat>>,
    pub partials: HashMap<String, Arc<Template>>,
    pub params: Vec<Param>,
}

impl FileContext {
    /// Names of params templates may read (`$.config.*`): the non-secret ones
    /// plus the frontend's `app_key` and `app_uuid` (a stable UUID of it).
    pub fn public_params(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .params
            .iter()
            .filter(|p| !p.secret)
            .map(|p| p.name.clone())
            .collect();
        for implicit in ["app_key", "app_uuid"] {
            if !names.iter().any(|n| n == implicit) {
                names.push(implicit.into());
            }
        }
        names
    }

    /// What templates of this file may use, evaluated against `doc`.
    pub fn templates<'a>(&'a self, doc: &'a DocShape) -> TemplateContext<'a> {
        TemplateContext {
            tables: &self.tables,
            time_formats: &self.time_formats,
            partials: &self.partials,
            doc,
        }
    }

    /// Every param name, secret ones included (outbound templates only).
    pub fn all_params(&self) -> Vec<String> {
        let mut names = self.public_params();
        names.extend(
            self.params
                .iter()
                .filter(|p| p.secret)
                .map(|p| p.name.clone()),
        );
        names
    }

    /// Whether `name` is a declared param (or the implicit `app_key`).
    pub fn has_param(&self, name: &str) -> bool {
        name == "app_key" || self.params.iter().any(|p| p.name == name)
    }

    pub fn param_names(&self) -> String {
        let mut names: Vec<&str> = self.params.iter().map(|p| p.name.as_str()).collect();
        if !names.contains(&"app_key") {
            names.push("app_key");
        }
        names.join(", ")
    }
}

/// Compiles one mapping file.
pub fn compile_file(file: &Path, text: &str) -> Result<Dialect, Vec<Diagnostic>> {
    let mut d = Diagnostics::new(file, text);
    let dialect = yaml::parse(text, &mut d).and_then(|root| {
        let dialect = compile_root(file, &root, &mut d);
        if d.is_empty() {
            spec::check(&root, &mut d);
        }
        dialect
    });
    match dialect {
        Some(dialect) if d.is_empty() => Ok(dialect),
        _ => Err(d.into_vec()),
    }
}

/// Compiles every `*.yaml` file directly in `dir` (not `tests/`), sorted by
/// name. Returns the dialects and all diagnostics of all files.
pub fn compile_dir(dir: &Path) -> (Vec<Arc<Dialect>>, Vec<Diagnostic>) {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .collect(),
        Err(e) => {
            return (
                Vec::new(),
                vec![file_error(
                    dir,
                    format!("cannot read mapping directory: {e}"),
                )],
            )
        }
    };
    files.sort();
    let mut dialects = Vec::new();
    let mut diags = Vec::new();
    for file in files {
        match std::fs::read_to_string(&file) {
            Ok(text) => match compile_file(&file, &text) {
                Ok(d) => dialects.push(Arc::new(d)),
                Err(mut e) => diags.append(&mut e),
            },
            Err(e) => diags.push(file_error(&file, format!("cannot read file: {e}"))),
        }
    }
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    for d in &dialects {
        if let Some(first) = seen.insert(d.name.clone(), d.file.clone()) {
            diags.push(file_error(
                &d.file,
                format!(
                    "dialect `{}` is also defined in {}",
                    d.name,
                    first.display()
                ),
            ));
        }
    }
    (dialects, diags)
}

fn file_error(file: &Path, message: String) -> Diagnostic {
    let mut d = Diagnostics::new(file, "");
    d.at(0, 0, 1, "E000", message);
    d.into_vec().remove(0)
}

fn compile_root(file: &Path, root: &Node, d: &mut Diagnostics) -> Option<Dialect> {
    let top = Fields::new(root, "the mapping file", key_list!(spec::MappingFile), d)?;
    let name = top.required_string("dialect", d);
    if let Some(desc) = top.get("description") {
        yaml::string(desc, "description", d);
    }
    let mut cx = FileContext {
        params: params(&top, d),
        tables: tables(&top, d),
        time_formats: time_formats(&top, d),
        partials: HashMap::new(),
    };
    partials(&top, &mut cx, d);
    let inbound = top.get("inbound").and_then(|n| inbound(n, &cx, d));
    let outbound = top
        .get("outbound")
        .and_then(|n| outbound::compile(n, &cx, d));
    Some(Dialect {
        name: name?.value,
        file: file.to_path_buf(),
        params: cx.params,
        inbound,
        outbound,
    })
}

/// Named templates, compiled in file order (each may use those above it).
fn partials(top: &Fields, cx: &mut FileContext, d: &mut Diagnostics) {
    let doc = DocShape::new(vec![("config", Shape::Keys(Arc::new(cx.public_params())))]);
    for (name, node) in top.entries("templates", d) {
        let compiled = {
            let tcx = cx.templates(&doc);
            compile_partial(node, &tcx, d)
        };
        if let Some(t) = compiled {
            cx.partials.insert(name.value, Arc::new(t));
        }
    }
}

fn params(top: &Fields, d: &mut Diagnostics) -> Vec<Param> {
    let mut out = Vec::new();
    for (name, node) in top.entries("params", d) {
        let Some(f) = Fields::new(node, "a param", key_list!(spec::Param), d) else {
            continue;
        };
        out.push(Param {
            name: name.value,
            required: f.boolean("required", d).unwrap_or(true),
            secret: f.boolean("secret", d).unwrap_or(false),
            default: f.string("default", d).map(|s| s.value),
        });
    }
    out
}

fn tables(top: &Fields, d: &mut Diagnostics) -> HashMap<String, Arc<Table>> {
    top.entries("tables", d)
        .into_iter()
        .map(|(name, node)| {
            let mut table = super::template::compile::inline_table(node);
            if node.as_mapping().is_none() {
                d.error(
                    node.span(),
                    "E004",
                    format!("table `{}` must be a mapping", name.value),
                );
            }
            table.name = name.value.clone();
            (name.value, Arc::new(table))
        })
        .collect()
}

fn time_formats(top: &Fields, d: &mut Diagnostics) -> HashMap<String, Arc<TimeFormat>> {
    let mut out = HashMap::new();
    for (name, node) in top.entries("time_formats", d) {
        let Some(f) = Fields::new(node, "a time format", key_list!(spec::TimeFormat), d) else {
            continue;
        };
        let Some(pattern) = f.required_string("format", d) else {
            continue;
        };
        let offset_secs = match f.string("offset", d) {
            None => 0,
            Some(o) => match parse_offset(&o.value) {
                Some(s) => s,
                None => {
                    d.error(&o.span, "E004", format!("bad offset `{}`", o.value))
                        .hint("write it as +08:00 or -05:30");
                    0
                }
            },
        };
        match TimeFormat::new(&pattern.value, offset_secs) {
            Ok(f) => {
                out.insert(name.value, Arc::new(f));
            }
            Err(e) => {
                d.error(&pattern.span, "E018", e)
                    .hint("see strftime in chrono's docs: %Y-%m-%d %H:%M:%S");
            }
        }
    }
    out
}

fn parse_offset(text: &str) -> Option<i32> {
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    let h: i32 = h.parse().ok()?;
    let m: i32 = m.parse().ok()?;
    (h <= 14 && m < 60).then_some(sign * (h * 3600 + m * 60))
}

fn inbound(node: &Node, cx: &FileContext, d: &mut Diagnostics) -> Option<Inbound> {
    let f = Fields::new(node, "inbound", key_list!(spec::Inbound), d)?;
    let prefixes = f
        .strings("prefixes", d)
        .into_iter()
        .map(|s| s.value)
        .collect();
    let content_type = f
        .string("content_type", d)
        .map(|s| s.value)
        .unwrap_or_else(|| JSON_CONTENT_TYPE.to_string());
    let auth = Arc::new(match f.get("auth") {
        Some(n) => auth::compile(n, cx, d)?,
        None => crate::auth::InboundAuth::None,
    });
    let errors = match f.get("errors") {
        Some(n) => errors::compile(n, cx, true, d)?,
        None => Default::default(),
    };
    let errors = Arc::new(errors);
    // Checks of every route, run before the route's own.
    let common = f
        .get("check")
        .map(|n| route::checks(n, d))
        .unwrap_or_default();
    let routes = match f.required("routes", d) {
        Some(Node::Sequence(seq)) => seq
            .iter()
            .filter_map(|n| route::compile(n, cx, &errors, &auth, d))
            .map(|mut r| {
                r.checks.splice(0..0, common.iter().cloned());
                Arc::new(r)
            })
            .collect(),
        Some(other) => {
            d.error(other.span(), "E004", "`routes` must be a list");
            Vec::new()
        }
        None => Vec::new(),
    };
    route::check_collisions(&routes, d);
    let mut integer_ids = Vec::new();
    for (kind, ty) in f.entries("ids", d) {
        let Some(k) = crate::canonical::ids::IdKind::parse(&kind.value) else {
            d.error_len(
                &kind.span,
                kind.value.chars().count(),
                "E004",
                format!("unknown id kind `{}`", kind.value),
            )
            .hint("id kinds: group, chatroom, message");
            continue;
        };
        match yaml::string(ty, "id type", d).map(|t| t.value) {
            Some(t) if t == "integer" => integer_ids.push(k),
            Some(t) if t == "string" => {}
            Some(t) => {
                d.error(ty.span(), "E004", format!("unknown id type `{t}`"))
                    .hint("id types: integer, string");
            }
            None => {}
        }
    }
    Some(Inbound {
        prefixes,
        content_type,
        auth,
        errors,
        index: crate::mapping::inbound::RouteIndex::new(&routes),
        routes,
        integer_ids,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::plan::CheckRule;

    /// `inbound.check` runs on every route, before the route's own checks.
    #[test]
    fn dialect_checks_come_first_on_every_route() {
        let text = r#"
dialect: t
params:
  org_name: {default: org}
inbound:
  check:
    - {path: $.path.org, same_as: $.config.org_name, error: not_found/app}
  routes:
    - {op: health.check, method: GET, path: "/{org}/health"}
    - op: health.check
      method: POST
      path: "/{org}/health"
      check:
        - {path: $.body, is: object}
"#;
        let dialect = compile_file(Path::new("t.yaml"), text).expect("compiles");
        let routes = &dialect.inbound.expect("inbound").routes;
        let rules: Vec<Vec<&CheckRule>> = routes
            .iter()
            .map(|r| r.checks.iter().map(|c| &c.rule).collect())
            .collect();
        assert!(matches!(rules[0][..], [CheckRule::SameAs(_)]), "{rules:?}");
        assert!(
            matches!(rules[1][..], [CheckRule::SameAs(_), CheckRule::IsObject]),
            "{rules:?}"
        );
        assert_eq!(
            routes[1].checks[0].error.kind,
            crate::canonical::ErrorKind::NotFound
        );
    }
}
