//! Choosing a route: a dialect's routes indexed by path length, most
//! specific first (more literal segments first, file order among equals);
//! a path's candidates are then narrowed by method and `when` conditions
//! (`select`).

use std::collections::HashMap;
use std::sync::Arc;

use http::Method;
use percent_encoding::percent_decode_str;

use crate::mapping::plan::{Route, Segment};

/// A route that matched a path, with its path parameters.
pub struct Candidate {
    /// The route.
    pub route: Arc<Route>,
    /// Path parameters, decoded.
    pub params: Vec<(String, String)>,
}

#[derive(Debug)]
struct Entry {
    route: Arc<Route>,
    pattern: usize,
    literals: usize,
}

/// The routes of one dialect, indexed for lookup.
#[derive(Debug, Default)]
pub struct RouteIndex {
    by_len: HashMap<usize, Vec<Entry>>,
}

/// What a path finds among a dialect's routes.
pub struct Matches {
    /// Routes matching path and method, best first.
    pub candidates: Vec<Candidate>,
    /// How specific the best of them is (its literal segments).
    pub rank: Option<usize>,
    /// How specific the best route matching the path alone is.
    pub path_rank: Option<usize>,
}

/// A percent-encoded path as decoded segments (empty ones dropped).
pub fn segments(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect()
}

impl RouteIndex {
    /// Indexes `routes` (in file order).
    pub fn new(routes: &[Arc<Route>]) -> RouteIndex {
        let mut by_len: HashMap<usize, Vec<Entry>> = HashMap::new();
        for route in routes {
            for (pattern, p) in route.patterns.iter().enumerate() {
                let literals = p
                    .segments
                    .iter()
                    .filter(|s| matches!(s, Segment::Literal(_)))
                    .count();
                by_len.entry(p.segments.len()).or_default().push(Entry {
                    route: route.clone(),
                    pattern,
                    literals,
                });
            }
        }
        for entries in by_len.values_mut() {
            // Stable: file order is kept among equally specific patterns.
            entries.sort_by_key(|e| std::cmp::Reverse(e.literals));
        }
        RouteIndex { by_len }
    }

    /// The routes matching `method` and the path's `segments`.
    pub fn find(&self, method: &Method, segments: &[String]) -> Matches {
        let mut found = Matches {
            candidates: Vec::new(),
            rank: None,
            path_rank: None,
        };
        for entry in self.by_len.get(&segments.len()).into_iter().flatten() {
            let pattern = &entry.route.patterns[entry.pattern];
            let Some(params) = match_segments(&pattern.segments, segments) else {
                continue;
            };
            found.path_rank.get_or_insert(entry.literals);
            if !entry.route.methods.contains(method) {
                continue;
            }
            found.rank.get_or_insert(entry.literals);
            found.candidates.push(Candidate {
                route: entry.route.clone(),
                params,
            });
        }
        found
    }
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
