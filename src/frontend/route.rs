//! The route table of one listener: every route of every frontend served
//! there, most specific first. Lookup splits the path into percent-decoded
//! segments and returns the routes whose pattern matches, in priority order,
//! for the handler to narrow down by method and `when` conditions.

use std::collections::HashMap;
use std::sync::Arc;

use http::Method;
use percent_encoding::percent_decode_str;

use super::Frontend;
use crate::mapping::diag::Diagnostic;
use crate::mapping::plan::{Route, Segment};

struct Entry {
    frontend: usize,
    route: Arc<Route>,
    pattern: usize,
    literals: usize,
}

/// A route that matched a path, with its path parameters.
pub struct Candidate {
    /// The route.
    pub route: Arc<Route>,
    /// Path parameters, decoded.
    pub params: Vec<(String, String)>,
}

/// The outcome of a lookup.
pub enum Lookup<'a> {
    /// Routes of one frontend that match path and method, best first.
    Found(&'a Arc<Frontend>, Vec<Candidate>),
    /// The path matches routes of this frontend, but not for this method.
    WrongMethod(&'a Arc<Frontend>),
    /// Nothing matches; the frontend whose prefix covers the path, if any.
    NoRoute(Option<&'a Arc<Frontend>>),
}

/// All routes of one listener.
pub struct RouteTable {
    frontends: Vec<Arc<Frontend>>,
    by_len: HashMap<usize, Vec<Entry>>,
}

impl RouteTable {
    /// Builds the table; routes of different frontends that would match the
    /// same requests are load errors.
    pub fn build(frontends: Vec<Arc<Frontend>>) -> Result<Self, Vec<Diagnostic>> {
        let mut diags = Vec::new();
        let mut by_len: HashMap<usize, Vec<Entry>> = HashMap::new();
        for (fi, fe) in frontends.iter().enumerate() {
            let Some(inbound) = &fe.dialect.inbound else {
                continue;
            };
            for route in &inbound.routes {
                for (pi, pattern) in route.patterns.iter().enumerate() {
                    let literals = pattern
                        .segments
                        .iter()
                        .filter(|s| matches!(s, Segment::Literal(_)))
                        .count();
                    by_len
                        .entry(pattern.segments.len())
                        .or_default()
                        .push(Entry {
                            frontend: fi,
                            route: route.clone(),
                            pattern: pi,
                            literals,
                        });
                }
            }
        }
        for entries in by_len.values_mut() {
            // Stable: file order is kept among equally specific patterns.
            entries.sort_by_key(|e| std::cmp::Reverse(e.literals));
        }
        for (i, a) in frontends.iter().enumerate() {
            for b in &frontends[..i] {
                cross_collisions(a, b, &mut diags);
            }
        }
        if diags.is_empty() {
            Ok(RouteTable { frontends, by_len })
        } else {
            Err(diags)
        }
    }

    /// The frontends of this listener.
    pub fn frontends(&self) -> &[Arc<Frontend>] {
        &self.frontends
    }

    /// Finds the routes for a method and a percent-encoded path.
    pub fn lookup(&self, method: &Method, path: &str) -> Lookup<'_> {
        let segments: Vec<String> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
            .collect();
        let mut found: Option<usize> = None;
        let mut candidates = Vec::new();
        let mut path_matched: Option<usize> = None;
        for entry in self.by_len.get(&segments.len()).into_iter().flatten() {
            let pattern = &entry.route.patterns[entry.pattern];
            let Some(params) = match_segments(&pattern.segments, &segments) else {
                continue;
            };
            path_matched.get_or_insert(entry.frontend);
            if !entry.route.methods.contains(method) {
                continue;
            }
            if *found.get_or_insert(entry.frontend) != entry.frontend {
                continue;
            }
            candidates.push(Candidate {
                route: entry.route.clone(),
                params,
            });
        }
        match (found, path_matched) {
            (Some(fi), _) => Lookup::Found(&self.frontends[fi], candidates),
            (None, Some(fi)) => Lookup::WrongMethod(&self.frontends[fi]),
            (None, None) => Lookup::NoRoute(self.owner_of(path)),
        }
    }

    /// The frontend whose declared prefix is the longest match for `path`.
    pub fn owner_of(&self, path: &str) -> Option<&Arc<Frontend>> {
        self.frontends
            .iter()
            .filter_map(|f| {
                let inbound = f.dialect.inbound.as_ref()?;
                inbound
                    .prefixes
                    .iter()
                    .filter(|p| under_prefix(path, p))
                    .map(|p| p.len())
                    .max()
                    .map(|len| (len, f))
            })
            .max_by_key(|(len, _)| *len)
            .map(|(_, f)| f)
            .or_else(|| (self.frontends.len() == 1).then(|| &self.frontends[0]))
    }
}

fn under_prefix(path: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    prefix.is_empty()
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

fn match_segments(pattern: &[Segment], path: &[String]) -> Option<Vec<(String, String)>> {
    let mut params = Vec::new();
    for (seg, actual) in pattern.iter().zip(path) {
        match seg {
            Segment::Literal(l) if l == actual => {}
            Segment::Literal(_) => return None,
            Segment::Param(name) => params.push((name.clone(), actual.clone())),
        }
    }
    Some(params)
}

fn cross_collisions(a: &Frontend, b: &Frontend, diags: &mut Vec<Diagnostic>) {
    let (Some(ia), Some(ib)) = (&a.dialect.inbound, &b.dialect.inbound) else {
        return;
    };
    for ra in &ia.routes {
        for rb in &ib.routes {
            if let Some(what) = crate::mapping::compile::route_collision(ra, rb) {
                diags.push(Diagnostic {
                    file: a.dialect.file.clone(),
                    line: ra.line,
                    col: 1,
                    width: 1,
                    code: "E020",
                    message: format!(
                        "route of frontend `{}` collides with frontend `{}` ({}:{}) on the same listener: {what}",
                        a.name,
                        b.name,
                        b.dialect.file.display(),
                        rb.line
                    ),
                    hint: Some("serve one of the frontends on another listener or path".into()),
                    source_line: None,
                });
            }
        }
    }
}
