//! Byte spans to 1-based lines and columns, robust to spans that do not fit the text.

use cpycheck_source::{LineIndex, Span};

/// Where a span is, 1-based. Columns count bytes (as gcc's do); `end_column` is exclusive,
/// like rustc's and SARIF's `endColumn`: a span covering `abc` at the start of a line has
/// `column` 1 and `end_column` 4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Location {
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
}

impl Location {
    /// Locates `span` in `text` (indexed by `index`). Offsets past the end of the text are
    /// clamped to its end, and an end before the start is treated as an empty span.
    pub fn of(span: Span, text: &str, index: &LineIndex) -> Location {
        let (start, end) = clamp(span, text);
        let (line, column) = index.line_col(start as u32);
        let (end_line, end_column) = index.line_col(end as u32);
        Location {
            line,
            column,
            end_line,
            end_column,
        }
    }
}

impl Location {
    /// The same location with columns counted in characters (Unicode scalar values)
    /// instead of bytes, still 1-based with `end_column` exclusive.
    pub fn in_chars(self, text: &str, index: &LineIndex) -> Location {
        let chars = |line: usize, column: usize| {
            let start = index.line_start(line).map_or(0, |s| s as usize);
            let end = (start + column.saturating_sub(1)).min(text.len());
            let mut end = end;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.get(start..end)
                .map_or(column, |s| s.chars().count() + 1)
        };
        Location {
            line: self.line,
            column: chars(self.line, self.column),
            end_line: self.end_line,
            end_column: chars(self.end_line, self.end_column),
        }
    }
}

/// The span's offsets clamped into `text`, with `start <= end`.
pub(crate) fn clamp(span: Span, text: &str) -> (usize, usize) {
    let start = (span.start as usize).min(text.len());
    let end = (span.end as usize).clamp(start, text.len());
    (start, end)
}

/// The span's offsets clamped into `text` and widened to character boundaries, so the
/// range can slice the text.
pub(crate) fn clamp_to_chars(span: Span, text: &str) -> (usize, usize) {
    let (mut start, mut end) = clamp(span, text);
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    while !text.is_char_boundary(end) {
        end += 1;
    }
    (start, end)
}
