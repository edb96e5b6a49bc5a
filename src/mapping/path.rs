//! Compiled JSONPath references. A path is parsed once at load by
//! jsonpath-rust; paths made only of names and indexes (most of them) are
//! then walked directly, anything richer (wildcards, filters, slices) runs
//! the parsed query.
//!
//! Roots: `$` is the document, `@` the current item of the innermost `$map`,
//! `$name` the item bound by a `$map` with `as: name`.

use jsonpath_rust::parser::model::{JpQuery, Segment, Selector};
use jsonpath_rust::parser::parse_json_path;
use jsonpath_rust::query::js_path_process;
use serde_json::Value;

/// Where a path starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    /// The whole document (`$`).
    Doc,
    /// A `$map` item, by its position in the scope stack.
    Scope(usize),
}

/// One step of a simple path.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// An object member.
    Key(String),
    /// An array element (negative counts from the end).
    Index(i64),
}

#[derive(Debug, Clone)]
enum Access {
    Steps(Vec<Step>),
    Query(JpQuery),
}

/// A compiled path reference.
#[derive(Debug, Clone)]
pub struct Path {
    root: Root,
    access: Access,
    text: String,
}

/// What a path found.
#[derive(Debug)]
pub enum Found<'a> {
    /// Nothing.
    Missing,
    /// One value (simple paths).
    One(&'a Value),
    /// All matches of a query (wildcards, filters).
    Many(Vec<&'a Value>),
}

/// A path string split into its root and a `$`-rooted JSONPath.
#[derive(Debug, PartialEq)]
pub struct RootedText<'a> {
    /// `@`, `$` or a variable name.
    pub root: RootName<'a>,
    /// The path with `$` as root, for jsonpath-rust.
    pub jsonpath: String,
}

/// The root a path names.
#[derive(Debug, PartialEq, Eq)]
pub enum RootName<'a> {
    /// `$`.
    Doc,
    /// `@`.
    Item,
    /// `$name`.
    Var(&'a str),
}

/// Whether a template string is a path reference (`$...` or `@...`, but not
/// an escaped `$$...`).
pub fn is_path(text: &str) -> bool {
    (text.starts_with('$') && !text.starts_with("$$")) || text.starts_with('@')
}

/// Splits `@.a`, `$.a`, `$var.a` into root and JSONPath.
pub fn split_root(text: &str) -> Option<RootedText<'_>> {
    if let Some(rest) = text.strip_prefix('@') {
        return Some(RootedText {
            root: RootName::Item,
            jsonpath: format!("${rest}"),
        });
    }
    let rest = text.strip_prefix('$')?;
    let name_len = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    if name_len == 0 {
        return Some(RootedText {
            root: RootName::Doc,
            jsonpath: text.to_string(),
        });
    }
    let (name, tail) = rest.split_at(name_len);
    Some(RootedText {
        root: RootName::Var(name),
        jsonpath: format!("${tail}"),
    })
}

impl Path {
    /// Compiles a `$`-rooted JSONPath for `root`; the error is jsonpath-rust's.
    pub fn compile(root: Root, jsonpath: &str, text: &str) -> Result<Self, String> {
        let query = parse_json_path(jsonpath).map_err(|e| e.to_string())?;
        let access = match simple_steps(&query) {
            Some(steps) => Access::Steps(steps),
            None => Access::Query(query),
        };
        Ok(Path {
            root,
            access,
            text: text.to_string(),
        })
    }

    /// The path as written in the mapping file.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The root.
    pub fn root(&self) -> Root {
        self.root
    }

    /// The steps of a simple path (None for queries).
    pub fn steps(&self) -> Option<&[Step]> {
        match &self.access {
            Access::Steps(s) => Some(s),
            Access::Query(_) => None,
        }
    }

    /// Runs the path against `start` (the value its root names).
    pub fn find<'a>(&self, start: &'a Value) -> Found<'a> {
        match &self.access {
            Access::Steps(steps) => walk(start, steps).map_or(Found::Missing, Found::One),
            Access::Query(query) => match js_path_process(query, start) {
                Ok(refs) => Found::Many(refs.into_iter().map(|r| r.val()).collect()),
                Err(_) => Found::Missing,
            },
        }
    }
}

fn simple_steps(query: &JpQuery) -> Option<Vec<Step>> {
    query
        .segments
        .iter()
        .map(|seg| match seg {
            Segment::Selector(Selector::Name(n)) => Some(Step::Key(unquote(n))),
            Segment::Selector(Selector::Index(i)) => Some(Step::Index(*i)),
            _ => None,
        })
        .collect()
}

/// jsonpath-rust keeps the quotes of bracketed names (`['a b']`).
fn unquote(name: &str) -> String {
    let bytes = name.as_bytes();
    if bytes.len() >= 2
        && (bytes[0] == b'\'' || bytes[0] == b'"')
        && bytes[bytes.len() - 1] == bytes[0]
    {
        name[1..name.len() - 1].to_string()
    } else {
        name.to_string()
    }
}

/// Walks simple steps.
fn walk<'a>(mut value: &'a Value, steps: &[Step]) -> Option<&'a Value> {
    for step in steps {
        value = match (step, value) {
            (Step::Key(k), Value::Object(map)) => map.get(k)?,
            (Step::Index(i), Value::Array(items)) => {
                let idx = if *i < 0 {
                    items.len().checked_sub(i.unsigned_abs() as usize)?
                } else {
                    *i as usize
                };
                items.get(idx)?
            }
            _ => return None,
        };
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path(text: &str) -> Path {
        let rooted = split_root(text).unwrap();
        Path::compile(Root::Doc, &rooted.jsonpath, text).unwrap()
    }

    #[test]
    fn simple_paths_walk_directly() {
        let doc = json!({"a": {"b": [1, 2, 3]}, "x y": 5});
        let p = path("$.a.b[1]");
        assert!(p.steps().is_some());
        assert!(matches!(p.find(&doc), Found::One(v) if *v == json!(2)));
        assert!(matches!(path("$.a.b[-1]").find(&doc), Found::One(v) if *v == json!(3)));
        assert!(matches!(path("$['x y']").find(&doc), Found::One(v) if *v == json!(5)));
        assert!(matches!(path("$.a.c").find(&doc), Found::Missing));
    }

    #[test]
    fn queries_return_all_matches() {
        let doc = json!({"users": [{"n": "a"}, {"n": "b"}]});
        let p = path("$.users[*].n");
        assert!(p.steps().is_none());
        match p.find(&doc) {
            Found::Many(v) => assert_eq!(v, vec![&json!("a"), &json!("b")]),
            other => panic!("{other:?}"),
        }
        let filtered = path("$.users[?@.n == 'b'].n");
        assert!(matches!(filtered.find(&doc), Found::Many(v) if v == vec![&json!("b")]));
    }

    #[test]
    fn roots_split() {
        assert_eq!(split_root("@.a").unwrap().root, RootName::Item);
        assert_eq!(split_root("@").unwrap().jsonpath, "$");
        let var = split_root("$grp.appkey").unwrap();
        assert_eq!(var.root, RootName::Var("grp"));
        assert_eq!(var.jsonpath, "$.appkey");
        assert_eq!(split_root("$.x").unwrap().root, RootName::Doc);
        assert!(!is_path("$$literal"));
        assert!(is_path("$"));
    }

    #[test]
    fn bad_paths_fail_to_compile() {
        assert!(Path::compile(Root::Doc, "$.a[", "$.a[").is_err());
        assert!(Path::compile(Root::Doc, "$..[?", "$..[?").is_err());
    }
}
