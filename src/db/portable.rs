//! Portable SQL to PostgreSQL's: `?N` placeholders become `$N`, each
//! statement rewritten once and cached.

use std::sync::Arc;
use std::sync::LazyLock;

/// Statements rewritten so far (a bounded cache: the SQL of imbridge is a
/// few hundred constant statements, plus a few formatted variants).
static REWRITTEN: LazyLock<moka::sync::Cache<String, Arc<str>>> =
    LazyLock::new(|| moka::sync::Cache::new(10_000));

/// `sql` with PostgreSQL placeholders, from the cache when seen before.
pub(super) fn postgres(sql: &str) -> Arc<str> {
    if let Some(done) = REWRITTEN.get(sql) {
        return done;
    }
    let done: Arc<str> = rewrite(sql).into();
    REWRITTEN.insert(sql.to_owned(), done.clone());
    done
}

/// Rewrites `?N` to `$N` and a bare `?` to `$M` where `M` is one more than
/// the largest number before it (SQLite's rule), outside string literals,
/// quoted identifiers and comments.
fn rewrite(sql: &str) -> String {
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len() + 8);
    let (mut i, mut copied, mut max) = (0, 0, 0u32);
    while i < bytes.len() {
        match bytes[i] {
            quote @ (b'\'' | b'"') => i = skip_quoted(bytes, i, quote),
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = bytes[i..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(bytes.len(), |p| i + p + 1);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = sql[i + 2..]
                    .find("*/")
                    .map_or(bytes.len(), |p| i + 2 + p + 2);
            }
            b'?' => {
                out.push_str(&sql[copied..i]);
                let digits = bytes[i + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                let number = match sql[i + 1..i + 1 + digits].parse::<u32>() {
                    Ok(n) => n,
                    Err(_) => max + 1,
                };
                max = max.max(number);
                out.push('$');
                out.push_str(&number.to_string());
                i += 1 + digits;
                copied = i;
            }
            _ => i += 1,
        }
    }
    out.push_str(&sql[copied..]);
    out
}

/// The index after the quoted run starting at `start` (a doubled quote
/// inside is an escaped one).
fn skip_quoted(bytes: &[u8], start: usize, quote: u8) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::rewrite;

    #[test]
    fn placeholders_become_numbered_dollars() {
        assert_eq!(
            rewrite("SELECT a FROM t WHERE b = ?2 AND c = ?1 OR d = ?2"),
            "SELECT a FROM t WHERE b = $2 AND c = $1 OR d = $2"
        );
        assert_eq!(
            rewrite("SELECT x FROM t WHERE a = ?1 LIMIT ? OFFSET ?"),
            "SELECT x FROM t WHERE a = $1 LIMIT $2 OFFSET $3"
        );
        assert_eq!(
            rewrite("VALUES (?, ?, ?10, ?)"),
            "VALUES ($1, $2, $10, $11)"
        );
    }

    #[test]
    fn quoted_text_and_comments_are_left_alone() {
        assert_eq!(
            rewrite("SELECT '?1', 'it''s ?', \"a?\" -- why?\n FROM t /* ? */ WHERE a = ?1"),
            "SELECT '?1', 'it''s ?', \"a?\" -- why?\n FROM t /* ? */ WHERE a = $1"
        );
        assert_eq!(rewrite("SELECT 'unterminated ?"), "SELECT 'unterminated ?");
    }
}
