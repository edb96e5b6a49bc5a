//! Load-time diagnostics for mapping files: every problem found is collected
//! with its file, line and column, a code, a message and a hint, then all are
//! reported together, each with the offending YAML line and a caret under it.

use std::fmt;
use std::path::{Path, PathBuf};

use marked_yaml::Span;

/// One problem in a mapping file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file at fault.
    pub file: PathBuf,
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// 1-based column (0 when unknown).
    pub col: usize,
    /// Width of the caret under the fault.
    pub width: usize,
    /// A stable code (`E011`).
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when we can tell.
    pub hint: Option<String>,
    /// The source line, for display.
    pub source_line: Option<String>,
}

impl Diagnostic {
    /// Whether this diagnostic names the given code and line (for tests).
    pub fn is(&self, code: &str, line: usize) -> bool {
        self.code == code && self.line == line
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error[{}]: {}", self.code, self.message)?;
        write!(
            f,
            "  --> {}:{}:{}",
            self.file.display(),
            self.line,
            self.col
        )?;
        if let Some(src) = &self.source_line {
            let num = self.line.to_string();
            let pad = " ".repeat(num.len());
            let caret_pad = " ".repeat(self.col.saturating_sub(1));
            let carets = "^".repeat(self.width.max(1));
            write!(
                f,
                "\n{pad} |\n{num} | {}\n{pad} | {caret_pad}{carets}",
                src.trim_end()
            )?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  = hint: {hint}")?;
        }
        Ok(())
    }
}

/// Collects diagnostics for one file.
pub struct Diagnostics<'a> {
    file: &'a Path,
    text: &'a str,
    items: Vec<Diagnostic>,
}

impl<'a> Diagnostics<'a> {
    /// A collector for `file` whose contents are `text`.
    pub fn new(file: &'a Path, text: &'a str) -> Self {
        Diagnostics {
            file,
            text,
            items: Vec::new(),
        }
    }

    /// Records a problem at `span`.
    pub fn error(
        &mut self,
        span: &Span,
        code: &'static str,
        message: impl Into<String>,
    ) -> Hint<'_> {
        let width = match (span.start(), span.end()) {
            (Some(s), Some(e)) if e.line() == s.line() && e.column() > s.column() => {
                e.column() - s.column()
            }
            _ => 1,
        };
        self.error_len(span, width, code, message)
    }

    /// Records a problem at `span`, underlining `len` characters (for scalars,
    /// whose spans carry no end).
    pub fn error_len(
        &mut self,
        span: &Span,
        len: usize,
        code: &'static str,
        message: impl Into<String>,
    ) -> Hint<'_> {
        let (line, col) = span
            .start()
            .map(|m| (m.line(), m.column()))
            .unwrap_or((0, 0));
        self.at(line, col, len.max(1), code, message)
    }

    /// Records a problem at a line and column.
    pub fn at(
        &mut self,
        line: usize,
        col: usize,
        width: usize,
        code: &'static str,
        message: impl Into<String>,
    ) -> Hint<'_> {
        let source_line = line
            .checked_sub(1)
            .and_then(|i| self.text.lines().nth(i))
            .map(str::to_string);
        self.items.push(Diagnostic {
            file: self.file.to_path_buf(),
            line,
            col,
            width,
            code,
            message: message.into(),
            hint: None,
            source_line,
        });
        Hint(self.items.last_mut().expect("just pushed"))
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The file being checked.
    pub fn file(&self) -> &Path {
        self.file
    }

    /// The collected diagnostics.
    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.items
    }
}

/// Lets a caller attach a hint to the diagnostic just recorded.
pub struct Hint<'a>(&'a mut Diagnostic);

impl Hint<'_> {
    /// Adds a hint.
    pub fn hint(self, hint: impl Into<String>) {
        self.0.hint = Some(hint.into());
    }
}

/// The candidate closest to `name` by edit distance, when close enough to be
/// a likely typo.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, c)| *d <= (c.len().max(name.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1)
                .min(row[j] + 1)
                .min(prev + usize::from(ca != *cb));
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// Renders a list of diagnostics, blank-line separated.
pub fn render(diags: &[Diagnostic]) -> String {
    diags
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n\n")
}
