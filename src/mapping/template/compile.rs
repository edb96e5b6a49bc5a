//! Compiling YAML nodes into templates, checking each path and member name
//! against what the template may see (`DocShape`) and must produce (`Shape`).

use std::collections::HashMap;
use std::sync::Arc;

use marked_yaml::types::MarkedScalarNode;
use marked_yaml::Node;
use serde_json::Value;

use super::shape::{DocShape, Member, Shape};
use super::{Conversion, Func, Table, Template, TimeFormat};
use crate::mapping::diag::Diagnostics;
use crate::mapping::path::{is_path, split_root, Path, Root, RootName, Step};
use crate::mapping::yaml::scalar_value;

/// What templates of one file can refer to.
pub struct TemplateContext<'a> {
    /// Named `$enum` tables.
    pub tables: &'a HashMap<String, Arc<Table>>,
    /// Named time formats.
    pub time_formats: &'a HashMap<String, Arc<TimeFormat>>,
    /// Named templates (`$use`).
    pub partials: &'a HashMap<String, Arc<Template>>,
    /// What `$` holds.
    pub doc: &'a DocShape,
}

/// Compiles `node` into a template producing `expect`; problems go to `d`.
pub fn compile(
    node: &Node,
    expect: &Shape,
    cx: &TemplateContext,
    d: &mut Diagnostics,
) -> Option<Template> {
    compile_in(node, expect, cx, Vec::new(), d)
}

/// Compiles a named template: `@` is the value it is applied to.
pub fn compile_partial(node: &Node, cx: &TemplateContext, d: &mut Diagnostics) -> Option<Template> {
    compile_in(node, &Shape::Open, cx, vec![(None, Shape::Open)], d)
}

/// Compiles with a starting scope (`@` bound when it has an entry).
pub fn compile_in(
    node: &Node,
    expect: &Shape,
    cx: &TemplateContext,
    scope: Vec<(Option<String>, Shape)>,
    d: &mut Diagnostics,
) -> Option<Template> {
    let mut c = Compiler {
        cx,
        scope,
        d,
        ok: true,
    };
    let t = c.node(node, expect);
    c.ok.then_some(t)
}

struct Compiler<'a, 'b, 'c> {
    cx: &'a TemplateContext<'a>,
    /// `$map` items in scope: optional name and shape.
    scope: Vec<(Option<String>, Shape)>,
    d: &'b mut Diagnostics<'c>,
    ok: bool,
}

const FUNCTIONS: &[&str] = &[
    "$default",
    "$int",
    "$float",
    "$string",
    "$bool",
    "$json",
    "$array",
    "$map",
    "$flatten",
    "$enum",
    "$error_code",
    "$join",
    "$split",
    "$concat",
    "$time",
    "$parse_time",
    "$len",
    "$entries",
    "$if",
    "$eq",
    "$not",
    "$add",
    "$mul",
    "$div",
    "$lower",
    "$upper",
    "$md5",
    "$mask",
    "$escape",
    "$uuid",
    "$first",
    "$merge",
    "$use",
    "$now",
    "$pairs",
    "$fail",
];

impl Compiler<'_, '_, '_> {
    fn error(
        &mut self,
        span: &marked_yaml::Span,
        code: &'static str,
        msg: String,
        hint: Option<String>,
    ) {
        self.error_len(span, 0, code, msg, hint)
    }

    /// Like `error`, underlining `len` characters when the span has no end.
    fn error_len(
        &mut self,
        span: &marked_yaml::Span,
        len: usize,
        code: &'static str,
        msg: String,
        hint: Option<String>,
    ) {
        self.ok = false;
        let h = if len > 0 && span.end().is_none() {
            self.d.error_len(span, len, code, msg)
        } else {
            self.d.error(span, code, msg)
        };
        if let Some(hint) = hint {
            h.hint(hint);
        }
    }

    fn node(&mut self, node: &Node, expect: &Shape) -> Template {
        match node {
            Node::Scalar(s) => self.scalar(s, expect),
            Node::Sequence(seq) => {
                let items = expect.items();
                Template::Array(seq.iter().map(|n| self.node(n, &items)).collect())
            }
            Node::Mapping(map) => {
                let first = map.keys().next().map(|k| k.as_str().to_string());
                match first {
                    Some(k) if k.starts_with('$') && !k.starts_with("$$") => {
                        self.function(node, &k)
                    }
                    _ => self.object(node, expect),
                }
            }
        }
    }

    fn scalar(&mut self, s: &MarkedScalarNode, expect: &Shape) -> Template {
        let text = s.as_str();
        if is_path(text) {
            return match self.path(text, s.span()) {
                Some((p, _)) => Template::Path(p),
                None => Template::Literal(Value::Null),
            };
        }
        let mut value = scalar_value(s);
        if let Value::String(t) = &value {
            if let Some(rest) = t.strip_prefix("$$") {
                value = Value::String(format!("${rest}"));
            }
        }
        if let Err(expected) = expect.check_literal(&value) {
            self.error_len(
                s.span(),
                text.chars().count(),
                "E015",
                format!("literal {value} has the wrong type"),
                Some(format!("expected {expected}")),
            );
        }
        Template::Literal(value)
    }

    fn object(&mut self, node: &Node, expect: &Shape) -> Template {
        let map = node.as_mapping().expect("caller checked");
        let mut members = Vec::with_capacity(map.len());
        for (k, v) in map.iter() {
            let key = k
                .as_str()
                .strip_prefix("$$")
                .map_or_else(|| k.as_str().to_string(), |rest| format!("${rest}"));
            let child = match expect.member(&key) {
                Member::Found(s) => s,
                Member::Unknown(names) => {
                    self.error_len(
                        k.span(),
                        k.as_str().chars().count(),
                        "E011",
                        format!("unknown field `{key}`"),
                        Some(format!("expected one of: {}", names.join(", "))),
                    );
                    Shape::Open
                }
            };
            members.push((key, self.node(v, &child)));
        }
        for req in expect.required() {
            if !members.iter().any(|(k, _)| *k == req) {
                self.error(
                    map.keys().next().map_or(map.span(), |k| k.span()),
                    "E012",
                    format!("missing required field `{req}`"),
                    None,
                );
            }
        }
        Template::Object(members)
    }

    /// Compiles a path and returns it with the shape of what it finds.
    fn path(&mut self, text: &str, span: &marked_yaml::Span) -> Option<(Path, Shape)> {
        let Some(rooted) = split_root(text) else {
            self.error_len(
                span,
                text.chars().count(),
                "E013",
                format!("`{text}` is not a path"),
                None,
            );
            return None;
        };
        let (root, mut shape, is_doc) = match rooted.root {
            RootName::Doc => (Root::Doc, Shape::Open, true),
            RootName::Item => match self.scope.last() {
                Some((_, s)) => (Root::Scope(self.scope.len() - 1), s.clone(), false),
                None => {
                    self.error(
                        span,
                        "E014",
                        format!("`{text}`: `@` is only defined inside $map or $entries"),
                        None,
                    );
                    return None;
                }
            },
            RootName::Var(name) => match self
                .scope
                .iter()
                .rposition(|(n, _)| n.as_deref() == Some(name))
            {
                Some(i) => (Root::Scope(i), self.scope[i].1.clone(), false),
                None => {
                    self.error(
                        span,
                        "E014",
                        format!("`{text}`: no $map binds `{name}` here"),
                        Some("add `as: NAME` to the enclosing $map".into()),
                    );
                    return None;
                }
            },
        };
        let path = match Path::compile(root, &rooted.jsonpath, text) {
            Ok(p) => p,
            Err(e) => {
                self.error(
                    span,
                    "E013",
                    format!("invalid JSONPath `{text}`: {e}"),
                    None,
                );
                return None;
            }
        };
        if let Some(steps) = path.steps() {
            for (i, step) in steps.iter().enumerate() {
                shape = match step {
                    Step::Index(_) => shape.items(),
                    Step::Key(k) => {
                        let member = if is_doc && i == 0 {
                            self.cx.doc.member(k)
                        } else {
                            shape.member(k)
                        };
                        match member {
                            Member::Found(s) => s,
                            Member::Unknown(names) => {
                                self.error_len(
                                    span,
                                    text.chars().count(),
                                    "E011",
                                    format!("`{text}`: unknown field `{k}`"),
                                    Some(format!("expected one of: {}", names.join(", "))),
                                );
                                return None;
                            }
                        }
                    }
                };
            }
        } else {
            shape = Shape::Open;
        }
        Some((path, shape))
    }

    fn function(&mut self, node: &Node, name: &str) -> Template {
        let map = node.as_mapping().expect("caller checked");
        let span = *map.span();
        if !FUNCTIONS.contains(&name) {
            let hint = match crate::mapping::diag::closest(name, FUNCTIONS.iter().copied()) {
                Some(c) => {
                    format!("did you mean `{c}`? (every function is listed in docs/mappings.md)")
                }
                None => "every function is listed in docs/mappings.md".to_string(),
            };
            self.error(
                &span,
                "E016",
                format!("unknown function `{name}`"),
                Some(hint),
            );
            return Template::Literal(Value::Null);
        }
        let allowed: &[&str] = match name {
            "$map" => &["to", "as"],
            "$enum" => &["table", "map", "default"],
            "$join" | "$split" => &["sep"],
            "$time" | "$parse_time" => &["format"],
            "$entries" => &["key", "value", "as"],
            "$if" => &["then", "else"],
            "$use" => &["with"],
            "$int" | "$float" | "$string" | "$bool" | "$json" => &["or"],
            "$pairs" => &["prefix", "suffix"],
            "$mask" => &["words"],
            _ => &[],
        };
        for k in map.keys().skip(1) {
            if !allowed.contains(&k.as_str()) {
                let hint = if allowed.is_empty() {
                    format!("{name} takes no named arguments")
                } else {
                    format!("{name} takes: {}", allowed.join(", "))
                };
                self.error(
                    k.span(),
                    "E017",
                    format!("unknown argument `{}` of {name}", k.as_str()),
                    Some(hint),
                );
            }
        }
        let arg = map.values().next().expect("function key present");
        let named = |key: &str| map.get(key);
        let open = Shape::Open;
        let func = match name {
            "$default" => Func::Default(self.list(arg, &open)),
            "$int" | "$float" | "$string" | "$bool" | "$json" | "$array" => {
                let conv = match name {
                    "$int" => Conversion::Int,
                    "$float" => Conversion::Float,
                    "$string" => Conversion::String,
                    "$bool" => Conversion::Bool,
                    "$json" => Conversion::Json,
                    _ => Conversion::Array,
                };
                let fallback = named("or").map(|n| self.node(n, &open));
                Func::Convert(conv, self.node(arg, &open), fallback)
            }
            "$map" => {
                let (source, item_shape) = self.source(arg);
                let Some(to) = self.required(named("to"), "to", name, &span) else {
                    return Template::Literal(Value::Null);
                };
                let bind = named("as")
                    .and_then(Node::as_scalar)
                    .map(|s| s.as_str().to_string());
                self.scope.push((bind, item_shape));
                let to = self.node(to, &open);
                self.scope.pop();
                Func::Map { source, to }
            }
            "$entries" => {
                let (source, item_shape) = self.source(arg);
                let (Some(key), Some(value)) = (
                    self.required(named("key"), "key", name, &span),
                    self.required(named("value"), "value", name, &span),
                ) else {
                    return Template::Literal(Value::Null);
                };
                let bind = named("as")
                    .and_then(Node::as_scalar)
                    .map(|s| s.as_str().to_string());
                self.scope.push((bind, item_shape));
                let key = self.node(key, &open);
                let value = self.node(value, &open);
                self.scope.pop();
                Func::Entries { source, key, value }
            }
            "$flatten" => Func::Flatten(self.node(arg, &open)),
            "$enum" => {
                let value = self.node(arg, &open);
                let table = match (named("table"), named("map")) {
                    (Some(t), None) => {
                        let tname = t.as_scalar().map(|s| s.as_str()).unwrap_or_default();
                        match self.cx.tables.get(tname) {
                            Some(t) => t.clone(),
                            None => {
                                let mut names: Vec<_> = self.cx.tables.keys().cloned().collect();
                                names.sort();
                                self.error(
                                    t.span(),
                                    "E018",
                                    format!("unknown table `{tname}`"),
                                    Some(format!("tables: {}", names.join(", "))),
                                );
                                return Template::Literal(Value::Null);
                            }
                        }
                    }
                    (None, Some(m)) => Arc::new(inline_table(m)),
                    _ => {
                        self.error(
                            &span,
                            "E017",
                            "$enum needs exactly one of `table` or `map`".into(),
                            None,
                        );
                        return Template::Literal(Value::Null);
                    }
                };
                let default = named("default").map(|n| self.node(n, &open));
                Func::Enum {
                    value,
                    table,
                    default,
                }
            }
            "$error_code" => Func::ErrorCode(self.node(arg, &open)),
            "$join" | "$split" => {
                let sep = named("sep")
                    .and_then(Node::as_scalar)
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_else(|| ",".to_string());
                let value = self.node(arg, &open);
                if name == "$join" {
                    Func::Join(value, sep)
                } else {
                    Func::Split(value, sep)
                }
            }
            "$concat" => Func::Concat(self.list(arg, &open)),
            "$add" => Func::Add(self.list(arg, &open)),
            "$mul" => Func::Mul(self.list(arg, &open)),
            "$div" => {
                let mut items = self.list(arg, &open);
                if items.len() != 2 {
                    self.error(
                        &span,
                        "E017",
                        "$div takes a list of two values".into(),
                        None,
                    );
                    return Template::Literal(Value::Null);
                }
                let b = items.pop().expect("two");
                let a = items.pop().expect("two");
                Func::Div(a, b)
            }
            "$lower" => Func::Lower(self.node(arg, &open)),
            "$upper" => Func::Upper(self.node(arg, &open)),
            "$md5" => Func::Md5(self.node(arg, &open)),
            "$mask" => {
                let Some(words) = self.required(named("words"), "words", name, &span) else {
                    return Template::Literal(Value::Null);
                };
                Func::Mask(self.node(arg, &open), self.node(words, &open))
            }
            "$escape" => Func::Escape(self.node(arg, &open)),
            "$uuid" => Func::Uuid(self.node(arg, &open)),
            "$first" => Func::First(self.node(arg, &open)),
            "$pairs" => {
                let text = |key: &str| {
                    named(key)
                        .and_then(Node::as_scalar)
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default()
                };
                Func::Pairs {
                    source: self.node(arg, &open),
                    prefix: text("prefix"),
                    suffix: text("suffix"),
                }
            }
            "$fail" => Func::Fail(self.node(arg, &open)),
            "$time" | "$parse_time" => {
                let value = self.node(arg, &open);
                let Some(format) = self.time_format(named("format"), &span) else {
                    return Template::Literal(Value::Null);
                };
                if name == "$time" {
                    Func::Time(value, format)
                } else {
                    Func::ParseTime(value, format)
                }
            }
            "$len" => Func::Len(self.node(arg, &open)),
            "$if" => {
                let cond = self.node(arg, &open);
                let Some(then) = self.required(named("then"), "then", name, &span) else {
                    return Template::Literal(Value::Null);
                };
                let then = self.node(then, &open);
                let otherwise = named("else").map(|n| self.node(n, &open));
                Func::If {
                    cond,
                    then,
                    otherwise,
                }
            }
            "$eq" => {
                let mut items = self.list(arg, &open);
                if items.len() != 2 {
                    self.error(&span, "E017", "$eq takes a list of two values".into(), None);
                    return Template::Literal(Value::Null);
                }
                let b = items.pop().expect("two");
                let a = items.pop().expect("two");
                Func::Eq(a, b)
            }
            "$not" => Func::Not(self.node(arg, &open)),
            "$merge" => Func::Merge(self.list(arg, &open)),
            "$use" => {
                let pname = arg.as_scalar().map(|s| s.as_str()).unwrap_or_default();
                let Some(partial) = self.cx.partials.get(pname).cloned() else {
                    let mut names: Vec<_> = self.cx.partials.keys().cloned().collect();
                    names.sort();
                    self.error(
                        arg.span(),
                        "E018",
                        format!("unknown template `{pname}`"),
                        Some(format!(
                            "templates (declared above this use): {}",
                            names.join(", ")
                        )),
                    );
                    return Template::Literal(Value::Null);
                };
                let with = match named("with") {
                    Some(n) => self.node(n, &open),
                    None => match self.scope.last() {
                        Some(_) => Template::Path(
                            Path::compile(Root::Scope(self.scope.len() - 1), "$", "@")
                                .expect("`$` parses"),
                        ),
                        None => {
                            self.error(
                                &span,
                                "E017",
                                "$use outside $map needs `with`".into(),
                                None,
                            );
                            return Template::Literal(Value::Null);
                        }
                    },
                };
                Func::Use(partial, with)
            }
            "$now" => Func::Now,
            _ => unreachable!("checked against FUNCTIONS"),
        };
        Template::Call(Box::new(func))
    }

    fn required<'n>(
        &mut self,
        node: Option<&'n Node>,
        key: &str,
        func: &str,
        span: &marked_yaml::Span,
    ) -> Option<&'n Node> {
        if node.is_none() {
            self.error(span, "E017", format!("{func} needs `{key}`"), None);
        }
        node
    }

    /// A `$map`/`$entries` source, with the shape of its elements.
    fn source(&mut self, node: &Node) -> (Template, Shape) {
        if let Node::Scalar(s) = node {
            if is_path(s.as_str()) {
                return match self.path(s.as_str(), s.span()) {
                    Some((p, shape)) => (Template::Path(p), shape.items()),
                    None => (Template::Literal(Value::Null), Shape::Open),
                };
            }
        }
        (self.node(node, &Shape::Open), Shape::Open)
    }

    fn list(&mut self, node: &Node, expect: &Shape) -> Vec<Template> {
        match node {
            Node::Sequence(seq) => seq.iter().map(|n| self.node(n, expect)).collect(),
            other => vec![self.node(other, expect)],
        }
    }

    fn time_format(
        &mut self,
        node: Option<&Node>,
        span: &marked_yaml::Span,
    ) -> Option<Arc<TimeFormat>> {
        let Some(text) = node.and_then(Node::as_scalar) else {
            self.error(
                span,
                "E017",
                "$time needs `format` (a named format or a strftime pattern)".into(),
                None,
            );
            return None;
        };
        let name = text.as_str();
        if let Some(f) = self.cx.time_formats.get(name) {
            return Some(f.clone());
        }
        if name.contains('%') {
            return match TimeFormat::new(name, 0) {
                Ok(f) => Some(Arc::new(f)),
                Err(e) => {
                    self.error(text.span(), "E018", e, None);
                    None
                }
            };
        }
        self.error(
            text.span(),
            "E018",
            format!("unknown time format `{name}`"),
            Some("declare it under time_formats, or write a strftime pattern".into()),
        );
        None
    }
}

/// A table written inline (`$enum: ..., map: {a: 1}`).
pub fn inline_table(node: &Node) -> Table {
    let entries = node
        .as_mapping()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.as_str().to_string(), crate::mapping::yaml::to_json(v)))
                .collect()
        })
        .unwrap_or_default();
    Table {
        name: "inline".to_string(),
        entries,
    }
}
