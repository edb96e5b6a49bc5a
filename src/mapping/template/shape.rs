//! What a template may reference and produce, for load-time checks: the JSON
//! schema of canonical requests and results (from schemars), the declared path
//! parameters and config params, or "open" where anything goes.

use std::sync::Arc;

use serde_json::Value;

/// The expected shape of a value.
#[derive(Debug, Clone)]
pub enum Shape {
    /// Anything; not checked.
    Open,
    /// A node of a JSON schema document.
    Schema {
        /// The whole schema (for `$ref` resolution).
        doc: Arc<Value>,
        /// The node.
        node: Value,
    },
    /// An object whose member names are known, each open.
    Keys(Arc<Vec<String>>),
}

/// The result of looking a member up in a shape.
pub enum Member {
    /// Found, with its shape.
    Found(Shape),
    /// Not there; these names are.
    Unknown(Vec<String>),
}

impl Shape {
    /// The shape of a whole schema document.
    pub fn schema(doc: Value) -> Shape {
        let doc = Arc::new(doc);
        Shape::Schema {
            node: (*doc).clone(),
            doc,
        }
    }

    fn at(doc: &Arc<Value>, node: &Value) -> Shape {
        Shape::Schema {
            doc: doc.clone(),
            node: resolve(doc, node).clone(),
        }
    }

    /// Looks up an object member.
    pub fn member(&self, name: &str) -> Member {
        match self {
            Shape::Open => Member::Found(Shape::Open),
            Shape::Keys(keys) => {
                if keys.iter().any(|k| k == name) {
                    Member::Found(Shape::Open)
                } else {
                    Member::Unknown(keys.to_vec())
                }
            }
            Shape::Schema { doc, node } => schema_member(doc, resolve(doc, node), name),
        }
    }

    /// The shape of array elements.
    pub fn items(&self) -> Shape {
        match self {
            Shape::Schema { doc, node } => {
                let node = resolve(doc, node);
                if let Some(items) = node.get("items") {
                    return Shape::at(doc, items);
                }
                for branch in branches(node) {
                    let branch = resolve(doc, branch);
                    if let Some(items) = branch.get("items") {
                        return Shape::at(doc, items);
                    }
                }
                Shape::Open
            }
            _ => Shape::Open,
        }
    }

    /// Names of required members, when known.
    pub fn required(&self) -> Vec<String> {
        match self {
            Shape::Schema { doc, node } => resolve(doc, node)
                .get("required")
                .and_then(Value::as_array)
                .map(|r| {
                    r.iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// Checks a literal against the schema type; returns the expected types
    /// when it does not fit.
    pub fn check_literal(&self, value: &Value) -> Result<(), String> {
        let Shape::Schema { doc, node } = self else {
            return Ok(());
        };
        let types = types_of(doc, resolve(doc, node));
        if types.is_empty() || types.iter().any(|t| fits(t, value)) {
            Ok(())
        } else {
            Err(types.join(" or "))
        }
    }
}

fn resolve<'a>(doc: &'a Value, mut node: &'a Value) -> &'a Value {
    for _ in 0..32 {
        let Some(reference) = node.get("$ref").and_then(Value::as_str) else {
            break;
        };
        let name = reference.rsplit('/').next().unwrap_or_default();
        match doc.get("$defs").and_then(|d| d.get(name)) {
            Some(target) => node = target,
            None => break,
        }
    }
    node
}

fn branches(node: &Value) -> impl Iterator<Item = &Value> {
    ["anyOf", "oneOf", "allOf"]
        .into_iter()
        .filter_map(|k| node.get(k).and_then(Value::as_array))
        .flatten()
}

fn schema_member(doc: &Arc<Value>, node: &Value, name: &str) -> Member {
    if let Some(props) = node.get("properties").and_then(Value::as_object) {
        if let Some(p) = props.get(name) {
            return Member::Found(Shape::at(doc, p));
        }
    }
    let mut known: Vec<String> = node
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    let mut any_branch = false;
    for branch in branches(node) {
        let branch = resolve(doc, branch);
        if branch.get("type").and_then(Value::as_str) == Some("null") {
            continue;
        }
        any_branch = true;
        match schema_member(doc, branch, name) {
            Member::Found(s) => return Member::Found(s),
            Member::Unknown(names) => known.extend(names),
        }
    }
    let closed = node.get("properties").is_some()
        || any_branch
        || node.get("additionalProperties") == Some(&Value::Bool(false));
    if closed && !is_open_object(node) {
        known.sort();
        known.dedup();
        Member::Unknown(known)
    } else {
        Member::Found(Shape::Open)
    }
}

fn is_open_object(node: &Value) -> bool {
    matches!(node.get("additionalProperties"), Some(v) if v != &Value::Bool(false))
}

fn types_of(doc: &Value, node: &Value) -> Vec<String> {
    match node.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(|t| t.as_str().map(String::from))
            .collect(),
        _ => {
            let mut out = Vec::new();
            for branch in branches(node) {
                let t = types_of(doc, resolve(doc, branch));
                if t.is_empty() {
                    return Vec::new();
                }
                out.extend(t);
            }
            if node.get("enum").is_some() {
                out.push("string".into());
            }
            out
        }
    }
}

fn fits(ty: &str, v: &Value) -> bool {
    match ty {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "string" => v.is_string(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        _ => true,
    }
}

/// The top-level members of the document a template is evaluated against.
#[derive(Debug, Clone, Default)]
pub struct DocShape {
    members: Vec<(String, Shape)>,
}

impl DocShape {
    /// A document with these members.
    pub fn new(members: Vec<(&str, Shape)>) -> Self {
        DocShape {
            members: members
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        }
    }

    /// The shape of the document as a whole.
    pub fn as_shape(&self) -> Shape {
        Shape::Keys(Arc::new(
            self.members.iter().map(|(k, _)| k.clone()).collect(),
        ))
    }

    /// Looks up a top-level member.
    pub fn member(&self, name: &str) -> Member {
        match self.members.iter().find(|(k, _)| k == name) {
            Some((_, s)) => Member::Found(s.clone()),
            None => Member::Unknown(self.members.iter().map(|(k, _)| k.clone()).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::OpName;

    #[test]
    fn request_schema_knows_its_fields() {
        let shape = Shape::schema(OpName::UserRegister.request_schema().to_value());
        assert!(matches!(shape.member("users"), Member::Found(_)));
        match shape.member("userz") {
            Member::Unknown(names) => assert!(names.contains(&"users".to_string())),
            Member::Found(_) => panic!("userz accepted"),
        }
        let Member::Found(users) = shape.member("users") else {
            panic!()
        };
        let item = users.items();
        assert!(matches!(item.member("username"), Member::Found(_)));
        assert!(matches!(item.member("nickname"), Member::Unknown(_)));
        let Member::Found(profile) = item.member("profile") else {
            panic!()
        };
        assert!(matches!(profile.member("nickname"), Member::Found(_)));
        assert!(shape.required().contains(&"users".to_string()));
    }

    #[test]
    fn flattened_and_optional_members_resolve() {
        let shape = Shape::schema(OpName::GroupMembersList.result_schema().to_value());
        let Member::Found(items) = shape.member("items") else {
            panic!()
        };
        let member = items.items();
        assert!(matches!(member.member("nickname"), Member::Found(_)));
        assert!(matches!(member.member("role"), Member::Found(_)));
        assert!(matches!(member.member("nope"), Member::Unknown(_)));
        let Member::Found(extras) = member.member("extras") else {
            panic!()
        };
        assert!(matches!(
            extras.member("anything"),
            Member::Found(Shape::Open)
        ));
    }

    #[test]
    fn literal_types_are_checked() {
        let shape = Shape::schema(OpName::UserDisable.request_schema().to_value());
        let Member::Found(disabled) = shape.member("disabled") else {
            panic!()
        };
        assert!(disabled.check_literal(&serde_json::json!(true)).is_ok());
        assert!(disabled.check_literal(&serde_json::json!("yes")).is_err());
    }
}
