//! The reference section of docs/mappings.md, written from the JSON Schema
//! (and so from the spec structs' doc comments): `imbridge schema --markdown`.

use std::fmt::Write;

use serde_json::Value;

/// Markdown: one table of keys per object type of the format, one list of
/// values per enumeration, in the schema's order (the file's root first).
pub fn markdown(schema: &Value) -> String {
    let mut out = String::new();
    section(&mut out, "MappingFile", schema);
    if let Some(defs) = schema.get("definitions").and_then(Value::as_object) {
        for (name, def) in defs {
            section(&mut out, name, def);
        }
    }
    out
}

fn section(out: &mut String, name: &str, def: &Value) {
    if def.get("properties").is_some() {
        let _ = writeln!(out, "#### `{name}`\n\n{}\n", text(def));
        table(out, def);
    } else if let Some(variants) = def.get("oneOf").and_then(Value::as_array) {
        let _ = writeln!(out, "#### `{name}`\n\n{}\n", text(def));
        for v in variants {
            if let Some(value) = v.get("const") {
                let _ = writeln!(out, "- `{}`: {}", plain(value), text(v));
            } else if v.get("properties").is_some() {
                let tag = tag(v);
                let _ = writeln!(out, "- `{tag}`: {}\n", text(v));
                table(out, v);
            }
        }
        out.push('\n');
    }
}

/// The tag of a variant: `scheme: basic`.
fn tag(variant: &Value) -> String {
    let props = variant["properties"].as_object();
    props
        .into_iter()
        .flatten()
        .find_map(|(k, p)| p.get("const").map(|c| format!("{k}: {}", plain(c))))
        .unwrap_or_default()
}

fn table(out: &mut String, def: &Value) {
    let required: Vec<&str> = def
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    out.push_str("| key | value | |\n|---|---|---|\n");
    for (key, prop) in def["properties"].as_object().into_iter().flatten() {
        if prop.get("const").is_some() {
            continue;
        }
        let req = if required.contains(&key.as_str()) {
            " (required)"
        } else {
            ""
        };
        let _ = writeln!(out, "| `{key}`{req} | {} | {} |", kind(prop), text(prop));
    }
    out.push('\n');
}

/// A short name of what a value holds.
fn kind(prop: &Value) -> String {
    if let Some(r) = prop.get("$ref").and_then(Value::as_str) {
        return format!("`{}`", r.rsplit('/').next().unwrap_or(r));
    }
    for alternatives in ["anyOf", "allOf"] {
        if let Some(alts) = prop.get(alternatives).and_then(Value::as_array) {
            let kinds: Vec<String> = alts
                .iter()
                .filter(|a| a.get("type") != Some(&Value::from("null")))
                .map(kind)
                .collect();
            return kinds.join(" or ");
        }
    }
    if let Some(values) = prop.get("enum").and_then(Value::as_array) {
        return format!("one of {} names", values.len());
    }
    let ty = match prop.get("type") {
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("any"),
        Some(Value::String(t)) => t,
        _ => return "template".into(),
    };
    match ty {
        "array" => format!("list of {}", prop.get("items").map_or("any".into(), kind)),
        "object" => match prop.get("additionalProperties") {
            Some(v) if v.is_object() => format!("map to {}", kind(v)),
            _ => "object".into(),
        },
        other => other.into(),
    }
}

fn text(v: &Value) -> String {
    v.get("description")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .replace('\n', " ")
        .replace('|', "\\|")
}

fn plain(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}
