//! The route table of one listener: the frontends served there. Lookup
//! splits the path into percent-decoded segments, asks each frontend's
//! dialect for its matching routes (`mapping::inbound::routes`) and returns
//! those of the most specific match, in priority order, for the handler to
//! narrow down by `when` conditions.

use std::sync::Arc;

use http::Method;

use super::Frontend;
use crate::mapping::diag::Diagnostic;
use crate::mapping::inbound::routes::segments;
use crate::mapping::inbound::Candidate;

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
}

impl RouteTable {
    /// Builds the table; routes of different frontends that would match the
    /// same requests are load errors.
    pub fn build(frontends: Vec<Arc<Frontend>>) -> Result<Self, Vec<Diagnostic>> {
        let mut diags = Vec::new();
        for (i, a) in frontends.iter().enumerate() {
            for b in &frontends[..i] {
                cross_collisions(a, b, &mut diags);
            }
        }
        if diags.is_empty() {
            Ok(RouteTable { frontends })
        } else {
            Err(diags)
        }
    }

    /// The frontends of this listener.
    pub fn frontends(&self) -> &[Arc<Frontend>] {
        &self.frontends
    }

    /// Finds the routes for a method and a percent-encoded path: those of
    /// the frontend with the most specific match (the first frontend among
    /// equals).
    pub fn lookup(&self, method: &Method, path: &str) -> Lookup<'_> {
        let segments = segments(path);
        let mut found: Option<(usize, &Arc<Frontend>, Vec<Candidate>)> = None;
        let mut path_matched: Option<(usize, &Arc<Frontend>)> = None;
        for fe in &self.frontends {
            let Some(inbound) = &fe.dialect().inbound else {
                continue;
            };
            let m = inbound.index.find(method, &segments);
            if let Some(rank) = m.path_rank {
                if path_matched.as_ref().is_none_or(|(best, _)| rank > *best) {
                    path_matched = Some((rank, fe));
                }
            }
            if let Some(rank) = m.rank {
                if found.as_ref().is_none_or(|(best, _, _)| rank > *best) {
                    found = Some((rank, fe, m.candidates));
                }
            }
        }
        match (found, path_matched) {
            (Some((_, fe, candidates)), _) => Lookup::Found(fe, candidates),
            (None, Some((_, fe))) => Lookup::WrongMethod(fe),
            (None, None) => Lookup::NoRoute(self.owner_of(path)),
        }
    }

    /// The frontend whose declared prefix is the longest match for `path`.
    pub fn owner_of(&self, path: &str) -> Option<&Arc<Frontend>> {
        self.frontends
            .iter()
            .filter_map(|f| {
                let inbound = f.dialect().inbound.as_ref()?;
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

fn cross_collisions(a: &Frontend, b: &Frontend, diags: &mut Vec<Diagnostic>) {
    let (Some(ia), Some(ib)) = (&a.dialect().inbound, &b.dialect().inbound) else {
        return;
    };
    for ra in &ia.routes {
        for rb in &ib.routes {
            if let Some(what) = crate::mapping::compile::route_collision(ra, rb) {
                diags.push(Diagnostic {
                    file: a.dialect().file.clone(),
                    line: ra.line,
                    col: 1,
                    width: 1,
                    code: "E020",
                    message: format!(
                        "route of frontend `{}` collides with frontend `{}` ({}:{}) on the same listener: {what}",
                        a.name,
                        b.name,
                        b.dialect().file.display(),
                        rb.line
                    ),
                    hint: Some("serve one of the frontends on another listener or path".into()),
                    source_line: None,
                });
            }
        }
    }
}
