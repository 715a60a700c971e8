//! Diagnostics: every error about a spec or a `--set` value points at the text that caused it.

use crate::syntax::ast::Span;
use miette::{NamedSource, SourceSpan};
use std::fmt;
use std::sync::Arc;

/// What went wrong, for programs that match on errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The text is not valid spec syntax.
    Syntax,
    /// A call names no known op.
    UnknownOp,
    /// An argument name the op does not take.
    UnknownArgument,
    /// A required argument is absent.
    MissingArgument,
    /// The same argument given twice.
    DuplicateArgument,
    /// A name that is neither a param, a binding nor the input, where a value is needed.
    UnknownName,
    /// `--set` names no param of the spec.
    UnknownParam,
    /// Something declared twice.
    Duplicate,
    /// A value of the wrong type or unit.
    Type,
    /// A value outside its valid range.
    Range,
    /// The spec is incomplete or inconsistent (no input, no output, ...).
    Structure,
    /// The text nests deeper than [`crate::syntax::MAX_NESTING`] levels (parentheses, blocks,
    /// `if`/`match`, or a chain of operators).
    Nesting,
}

/// An error about spec text or a `--set` value, rendered with miette: file:line:col, the source
/// line, a caret under the span, and a hint.
#[derive(Clone, Debug, thiserror::Error, miette::Diagnostic)]
#[error("{message}")]
pub struct SpecError {
    /// The kind of error.
    pub kind: ErrorKind,
    /// One-line summary.
    pub message: String,
    /// The text the span points into (the spec file, or the `--set` argument).
    #[source_code]
    pub src: NamedSource<Arc<str>>,
    /// The offending span.
    #[label("{label}")]
    pub span: SourceSpan,
    /// Words under the caret.
    pub label: String,
    /// How to fix it.
    #[help]
    pub help: Option<String>,
}

/// Where a diagnostic's span points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Into the spec source.
    Spec,
    /// Into the `--set` value with this index.
    Set(usize),
}

/// A diagnostic before it is attached to its source text.
#[derive(Clone, Debug)]
pub struct Diag {
    /// The kind of error.
    pub kind: ErrorKind,
    /// One-line summary.
    pub message: String,
    /// Where.
    pub span: Span,
    /// Which text the span is in.
    pub origin: Origin,
    /// Words under the caret.
    pub label: String,
    /// How to fix it.
    pub help: Option<String>,
}

impl Diag {
    /// A diagnostic about spec text.
    pub fn new(kind: ErrorKind, span: Span, message: impl Into<String>) -> Self {
        let message = message.into();
        Diag { kind, label: String::from("here"), message, span, origin: Origin::Spec, help: None }
    }
    /// Sets the words under the caret.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }
    /// Sets the hint.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
    /// Sets which text the span points into.
    pub fn origin(mut self, origin: Origin) -> Self {
        self.origin = origin;
        self
    }
    /// Attaches the source text.
    pub fn into_error(self, src: &Source) -> SpecError {
        let (name, text) = match self.origin {
            Origin::Spec => (src.name.clone(), src.text.clone()),
            Origin::Set(i) => {
                let text = src.sets.get(i).cloned().unwrap_or_else(|| Arc::from(""));
                (String::from("--set"), text)
            }
        };
        let end = self.span.end.min(text.len());
        let start = self.span.start.min(end);
        let (name, text, start, end) = window(name, text, start, end);
        SpecError {
            kind: self.kind,
            message: self.message,
            src: NamedSource::new(name, text),
            span: (start, end - start).into(),
            label: self.label,
            help: self.help,
        }
    }
}

/// How much of a long line is shown around a span. miette pads the caret line with
/// `{:width$}`, which panics past 65535 columns, and prints the whole line, which for a
/// megabyte of one-line text is neither fast nor readable.
const MAX_COLUMN: usize = 2000;

/// The text to show for a span at `start..end` of `text`: the text itself when its line is of a
/// readable length; else an excerpt that ends at most [`MAX_COLUMN`] bytes past the span (with
/// the span cut to that length) and, when the span starts more than [`MAX_COLUMN`] bytes into its
/// line, starts a little before it, named with the real line and column so the position is not
/// lost.
fn window(name: String, text: Arc<str>, start: usize, end: usize) -> (String, Arc<str>, usize, usize) {
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    if line_end - line_start <= 2 * MAX_COLUMN {
        return (name, text, start, end);
    }
    let floor = |mut i: usize| {
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let end = floor(end.min(start + MAX_COLUMN));
    let to = floor(line_end.min(end + MAX_COLUMN));
    if start - line_start <= MAX_COLUMN {
        let excerpt: Arc<str> = Arc::from(format!("{}…", &text[..to]));
        return (name, excerpt, start, end);
    }
    let from = floor(start - 80);
    let line = text[..start].matches('\n').count() + 1;
    let column = text[line_start..start].chars().count() + 1;
    let shown_from = column - text[from..start].chars().count();
    let excerpt: Arc<str> = Arc::from(format!("…{}…", &text[from..to]));
    let shift = from - "…".len();
    (
        format!("{name} at line {line}, column {column}; the line shown from column {shown_from}"),
        excerpt,
        start - shift,
        end - shift,
    )
}

impl fmt::Display for Diag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The texts diagnostics can point into.
#[derive(Clone, Debug)]
pub struct Source {
    /// File name shown in diagnostics.
    pub name: String,
    /// Spec text.
    pub text: Arc<str>,
    /// Each `--set` argument as given (`name=value`).
    pub sets: Vec<Arc<str>>,
}

/// Closest candidate to `word` by edit distance, for "did you mean" hints.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = edit_distance(word, c);
        if d <= (word.len().max(c.len()) / 3).max(1) && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn closest_finds_typos() {
        assert_eq!(closest("haming", ["hann", "hamming", "none"]), Some("hamming"));
        assert_eq!(closest("num_mel_bin", ["num_mel_bins", "fft_length"]), Some("num_mel_bins"));
        assert_eq!(closest("zzz", ["hann"]), None);
    }
}
