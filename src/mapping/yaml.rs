//! Reading marked YAML nodes (with line and column) into the mapping spec:
//! typed accessors that record a diagnostic instead of failing, and a field
//! reader that reports unknown keys with the keys that are allowed.

use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode};
use marked_yaml::{LoadError, LoaderOptions, Node, Span};
use serde_json::{Number, Value};

use super::diag::Diagnostics;

/// A value with the span it was read from.
#[derive(Debug, Clone)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub span: Span,
}

/// The loader options of every YAML file imbridge reads: quoted scalars stay
/// strings (`"True"`, `"12"`; without this the loader coerces every scalar,
/// quoted or not), and duplicate keys are errors.
pub fn options() -> LoaderOptions {
    LoaderOptions::default()
        .error_on_duplicate_keys(true)
        .prevent_coercion(true)
}

/// Parses YAML text, or records where the syntax is broken.
pub fn parse(text: &str, d: &mut Diagnostics) -> Option<Node> {
    match marked_yaml::parse_yaml_with_options(0, text, options()) {
        Ok(node) => Some(node),
        Err(err) => {
            let (marker, message) = match &err {
                LoadError::ScanError(m, e) => {
                    (Some(*m), format!("YAML syntax error: {}", e.info()))
                }
                LoadError::DuplicateKey(inner) => (
                    inner.key.span().start().copied(),
                    format!("duplicate key `{}`", inner.key.as_str()),
                ),
                LoadError::TopLevelMustBeMapping(m) => {
                    (Some(*m), "the top level must be a mapping".to_string())
                }
                LoadError::UnexpectedAnchor(m) => (
                    Some(*m),
                    "YAML anchors and aliases are not supported in mapping files".to_string(),
                ),
                LoadError::UnexpectedTag(m) => (
                    Some(*m),
                    "YAML tags are not supported in mapping files".to_string(),
                ),
                other => (None, other.to_string()),
            };
            let (line, col) = marker.map(|m| (m.line(), m.column())).unwrap_or((0, 0));
            d.at(line, col, 1, "E001", message);
            None
        }
    }
}

/// Reads the keys of one YAML mapping, remembering which were read so the
/// rest can be reported as unknown.
pub struct Fields<'n> {
    map: &'n MarkedMappingNode,
    what: &'static str,
}

impl<'n> Fields<'n> {
    /// Starts reading `node` as a mapping whose keys must be in `allowed`
    /// (the keys of a type of `mapping::spec`, from `key_list!`);
    /// records a diagnostic (and returns None) when it is not a mapping.
    pub fn new(
        node: &'n Node,
        what: &'static str,
        allowed: &[String],
        d: &mut Diagnostics,
    ) -> Option<Self> {
        match node.as_mapping() {
            Some(map) => {
                let fields = Fields { map, what };
                fields.check_unknown(allowed, d);
                Some(fields)
            }
            None => {
                d.error(node.span(), "E004", format!("{what} must be a mapping"));
                None
            }
        }
    }

    fn check_unknown(&self, allowed: &[String], d: &mut Diagnostics) {
        for key in self.map.keys() {
            if !allowed.iter().any(|a| a == key.as_str()) {
                d.error_len(
                    key.span(),
                    key.as_str().chars().count(),
                    "E002",
                    format!("unknown key `{}` in {}", key.as_str(), self.what),
                )
                .hint(format!("expected one of: {}", allowed.join(", ")));
            }
        }
    }

    /// The span of the whole mapping.
    pub fn span(&self) -> Span {
        *self.map.span()
    }

    /// The node under `key`, if present.
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.map.get(key)
    }

    /// The node under `key`, or a diagnostic when it is missing.
    pub fn required(&self, key: &str, d: &mut Diagnostics) -> Option<&'n Node> {
        let node = self.map.get(key);
        if node.is_none() {
            d.error(
                self.map.span(),
                "E003",
                format!("missing key `{key}` in {}", self.what),
            );
        }
        node
    }

    /// A string under `key`, if present and a scalar.
    pub fn string(&self, key: &str, d: &mut Diagnostics) -> Option<Spanned<String>> {
        self.get(key).and_then(|n| string(n, key, d))
    }

    /// A required string under `key`.
    pub fn required_string(&self, key: &str, d: &mut Diagnostics) -> Option<Spanned<String>> {
        self.required(key, d).and_then(|n| string(n, key, d))
    }

    /// An integer under `key`, if present.
    pub fn integer(&self, key: &str, d: &mut Diagnostics) -> Option<Spanned<i64>> {
        let node = self.get(key)?;
        let scalar = scalar(node, key, d)?;
        match scalar.as_str().parse::<i64>() {
            Ok(v) => Some(Spanned {
                value: v,
                span: *scalar.span(),
            }),
            Err(_) => {
                d.error(scalar.span(), "E004", format!("`{key}` must be an integer"));
                None
            }
        }
    }

    /// A boolean under `key`, if present.
    pub fn boolean(&self, key: &str, d: &mut Diagnostics) -> Option<bool> {
        let node = self.get(key)?;
        let scalar = scalar(node, key, d)?;
        match scalar.as_bool() {
            Some(b) => Some(b),
            None => {
                d.error(
                    scalar.span(),
                    "E004",
                    format!("`{key}` must be true or false"),
                );
                None
            }
        }
    }

    /// A list of strings under `key` (a single string counts as a list of one).
    pub fn strings(&self, key: &str, d: &mut Diagnostics) -> Vec<Spanned<String>> {
        match self.get(key) {
            None => Vec::new(),
            Some(node) => strings(node, key, d),
        }
    }

    /// The entries of the mapping under `key`, in file order.
    pub fn entries(&self, key: &str, d: &mut Diagnostics) -> Vec<(Spanned<String>, &'n Node)> {
        match self.get(key) {
            None => Vec::new(),
            Some(node) => entries(node, key, d),
        }
    }
}

/// A node as a scalar, or a diagnostic.
pub fn scalar<'n>(node: &'n Node, what: &str, d: &mut Diagnostics) -> Option<&'n MarkedScalarNode> {
    match node.as_scalar() {
        Some(s) => Some(s),
        None => {
            d.error(
                node.span(),
                "E004",
                format!("`{what}` must be a single value"),
            );
            None
        }
    }
}

/// A node as a string, or a diagnostic.
pub fn string(node: &Node, what: &str, d: &mut Diagnostics) -> Option<Spanned<String>> {
    scalar(node, what, d).map(|s| Spanned {
        value: s.as_str().to_string(),
        span: *s.span(),
    })
}

/// A node as a list of strings (a scalar is a list of one).
pub fn strings(node: &Node, what: &str, d: &mut Diagnostics) -> Vec<Spanned<String>> {
    match node {
        Node::Sequence(seq) => seq.iter().filter_map(|n| string(n, what, d)).collect(),
        _ => string(node, what, d).into_iter().collect(),
    }
}

/// A node as mapping entries in file order.
pub fn entries<'n>(
    node: &'n Node,
    what: &str,
    d: &mut Diagnostics,
) -> Vec<(Spanned<String>, &'n Node)> {
    match node.as_mapping() {
        Some(map) => map
            .iter()
            .map(|(k, v)| {
                (
                    Spanned {
                        value: k.as_str().to_string(),
                        span: *k.span(),
                    },
                    v,
                )
            })
            .collect(),
        None => {
            d.error(node.span(), "E004", format!("`{what}` must be a mapping"));
            Vec::new()
        }
    }
}

/// Converts a scalar to JSON the way YAML means it: unquoted `true`, `12`,
/// `1.5`, `null` or `~` are typed; anything quoted stays a string.
pub fn scalar_value(s: &MarkedScalarNode) -> Value {
    let text = s.as_str();
    if !s.may_coerce() {
        return Value::String(text.to_string());
    }
    match text {
        "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(i) = text.parse::<i64>() {
        return Value::Number(i.into());
    }
    if let Ok(f) = text.parse::<f64>() {
        if let Some(n) = Number::from_f64(f) {
            if text.contains(['.', 'e', 'E']) {
                return Value::Number(n);
            }
        }
    }
    Value::String(text.to_string())
}

/// Converts a whole node to plain JSON (for literal data such as tables).
pub fn to_json(node: &Node) -> Value {
    match node {
        Node::Scalar(s) => scalar_value(s),
        Node::Sequence(seq) => Value::Array(seq.iter().map(to_json).collect()),
        Node::Mapping(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.as_str().to_string(), to_json(v)))
                .collect(),
        ),
    }
}
