//! Offset paging shared by every list operation: the request's `start`,
//! `count` or `cursor` resolved against a per-list default and maximum, and
//! one page read with its total.

use crate::canonical::common::{Listing, Paging};
use crate::canonical::{Error, Reason, Result};
use crate::db::{Param, Row, Tx};

/// The default and largest page size of a list.
#[derive(Debug, Clone, Copy)]
pub(super) struct Window {
    default: i64,
    max: i64,
}

/// Users, groups, chatrooms and room members: 500 per page.
pub(super) const LIST: Window = Window {
    default: 500,
    max: 500,
};

/// Sensitive words: 2000 per page.
pub(super) const WORDS: Window = Window {
    default: 2000,
    max: 2000,
};

/// Group members: everything unless the caller asks for less.
pub(super) const ALL: Window = Window {
    default: i64::MAX,
    max: i64::MAX,
};

/// Files of a conversation or user: 100 per page, at most 500.
pub(super) const FILES: Window = Window {
    default: 100,
    max: 500,
};

/// A resolved page: skip `offset` items, return at most `limit`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Page {
    offset: i64,
    limit: i64,
}

impl Page {
    /// Resolves a request's paging; the cursor (a decimal offset) wins over `start`.
    pub(super) fn new(paging: &Paging, window: Window) -> Result<Page> {
        let offset = match &paging.cursor {
            Some(cursor) => cursor
                .parse::<i64>()
                .map_err(|_| Error::invalid(Reason::Param, "invalid cursor"))?,
            None => paging.start.unwrap_or(0),
        };
        Page::at(offset, paging.count, window)
    }

    /// The page at `offset` of `count` items (the window's default when none).
    pub(super) fn at(offset: i64, count: Option<i64>, window: Window) -> Result<Page> {
        let limit = count.unwrap_or(window.default);
        if offset < 0 || limit < 0 {
            return Err(Error::invalid(
                Reason::Param,
                "start and count must not be negative",
            ));
        }
        Ok(Page {
            offset,
            limit: limit.min(window.max),
        })
    }

    /// How many items to skip.
    pub(super) fn offset(self) -> i64 {
        self.offset
    }

    /// How many items at most.
    pub(super) fn limit(self) -> i64 {
        self.limit
    }

    /// Reads one page of `query` (`params` bind its `?1`.. `?n`, the page
    /// its trailing `LIMIT ? OFFSET ?`) and its total.
    pub(super) fn fetch<T>(
        self,
        tx: &Tx<'_>,
        query: Query,
        params: &[&dyn Param],
        map: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<Listing<T>> {
        let total: i64 = tx.query_one(query.count, params, |r| r.get(0))?;
        let mut bounds = params.to_vec();
        bounds.extend([&self.limit as &dyn Param, &self.offset]);
        let items = tx.query_all(query.select, &bounds, map)?;
        let count = i64::try_from(items.len()).unwrap_or(i64::MAX);
        let next = self.offset.saturating_add(count);
        Ok(Listing {
            total,
            start: self.offset,
            count,
            items,
            cursor: (count > 0 && next < total).then(|| next.to_string()),
        })
    }
}

/// A list query, built by [`list_query!`].
#[derive(Debug, Clone, Copy)]
pub(super) struct Query {
    /// `SELECT COUNT(*) FROM ...`.
    pub(super) count: &'static str,
    /// `SELECT ... FROM ... ORDER BY ... LIMIT ? OFFSET ?`: the unnumbered
    /// parameters follow the query's last numbered one.
    pub(super) select: &'static str,
}

/// A [`Query`] of literal `columns`, `from` (`FROM ... WHERE ...`, binding
/// `?1`.. `?n`, each at least once) and `order` (`ORDER BY` terms).
macro_rules! list_query {
    (columns: $columns:expr, from: $from:expr, order: $order:expr $(,)?) => {
        $crate::provider::embedded::paging::Query {
            count: concat!("SELECT COUNT(*) ", $from),
            select: concat!(
                "SELECT ",
                $columns,
                " ",
                $from,
                " ORDER BY ",
                $order,
                " LIMIT ? OFFSET ?"
            ),
        }
    };
}
pub(super) use list_query;
