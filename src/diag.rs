//! Diagnostics: one finding model for every check and every error in a user's file, and
//! its rendering in the style of rustc (`error[code]: …`, `--> file:line:col`, the line,
//! a caret, `help:`). Rendering lives here and nowhere else.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use serde::Serialize;

/// How bad a finding is. Ordered so that `Error` is the greatest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// A place in a file: a byte span of the file's text, with the 1-based line and
/// column it starts at (columns count characters, not bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub span: Range<usize>,
    pub line: usize,
    pub column: usize,
}

impl Location {
    /// The location of `span` in `text`, a file shown to users as `file`.
    pub fn in_text(file: &str, text: &str, span: Range<usize>) -> Location {
        let start = span.start.min(text.len());
        let (line, column) = line_col(text, start);
        let end = span.end.clamp(start, text.len());
        Location {
            file: file.to_string(),
            span: start..end,
            line,
            column,
        }
    }
}

/// 1-based line and character column of byte offset `at` in `text`.
pub fn line_col(text: &str, at: usize) -> (usize, usize) {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = text[line_start..at].chars().count() + 1;
    (line, column)
}

/// One finding or error, with a stable code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    pub location: Option<Location>,
    /// What the span points at, shown beside the caret.
    pub label: Option<String>,
    /// How to fix it.
    pub help: Option<String>,
    /// Further context, one line each.
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn new(code: &'static str, severity: Severity, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity,
            message: message.into(),
            location: None,
            label: None,
            help: None,
            notes: Vec::new(),
        }
    }
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Error, message)
    }
    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Warning, message)
    }
    pub fn at(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// A stable order: by file, position, then code and message.
    fn sort_key(&self) -> (String, usize, usize, usize, &'static str, String) {
        match &self.location {
            Some(l) => (
                l.file.clone(),
                l.line,
                l.column,
                l.span.start,
                self.code,
                self.message.clone(),
            ),
            None => (String::new(), 0, 0, 0, self.code, self.message.clone()),
        }
    }
}

impl fmt::Display for Diagnostic {
    /// A one-line form, for logs and error chains.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]: {}", self.severity, self.code, self.message)?;
        if let Some(l) = &self.location {
            write!(f, " ({}:{}:{})", l.file, l.line, l.column)?;
        }
        Ok(())
    }
}

/// Sort findings the same way every run.
pub fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by_key(|d| d.sort_key());
}

/// The texts of the files findings point into, by the name they are shown under.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    files: BTreeMap<String, String>,
    /// Single lines of files too large to keep whole (archive entries), by (file, line).
    lines: BTreeMap<(String, usize), String>,
}

impl Sources {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) {
        self.files.insert(name.into(), text.into());
    }
    pub fn get(&self, name: &str) -> Option<&str> {
        self.files.get(name).map(String::as_str)
    }
    /// Keep one line of a file (1-based) to show under findings that point at it.
    pub fn add_line(&mut self, name: impl Into<String>, line: usize, text: impl Into<String>) {
        self.lines.insert((name.into(), line), text.into());
    }
    pub fn line(&self, name: &str, line: usize) -> Option<&str> {
        self.lines
            .get(&(name.to_string(), line))
            .map(String::as_str)
    }
}

/// Render findings for a terminal or a log, rustc style.
pub fn render(diags: &[Diagnostic], sources: &Sources, color: bool) -> String {
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let mut out = String::new();
    for d in diags {
        let level = match d.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
            Severity::Info => Level::INFO,
        };
        let title = level.primary_title(d.message.as_str()).id(d.code);
        let mut group = Group::with_title(title);
        match (
            &d.location,
            d.location.as_ref().and_then(|l| sources.get(&l.file)),
        ) {
            (Some(loc), Some(text)) => {
                // Show only the lines the span covers: whole files can be huge.
                let (line_start, snippet_text, rel) = excerpt(text, &loc.span);
                let mut ann = AnnotationKind::Primary.span(rel);
                if let Some(label) = &d.label {
                    ann = ann.label(label.as_str());
                }
                group = group.element(
                    Snippet::source(snippet_text)
                        .line_start(line_start)
                        .path(loc.file.as_str())
                        .annotation(ann),
                );
            }
            (Some(loc), None)
                if loc.column <= 400 && sources.line(&loc.file, loc.line).is_some() =>
            {
                let text = sources.line(&loc.file, loc.line).unwrap_or("");
                // From the column to the end of the tag (or of the line).
                let start = text
                    .char_indices()
                    .nth(loc.column.saturating_sub(1))
                    .map_or(text.len(), |(i, _)| i);
                let end = text[start..]
                    .find('>')
                    .map_or(text.len(), |i| start + i + 1);
                let mut ann = AnnotationKind::Primary.span(start..end.max(start));
                if let Some(label) = &d.label {
                    ann = ann.label(label.as_str());
                }
                group = group.element(
                    Snippet::source(text)
                        .line_start(loc.line)
                        .path(loc.file.as_str())
                        .annotation(ann),
                );
            }
            (Some(loc), None) if loc.line == 0 => {
                // A whole file (an archive or an entry): no line to point at.
                group = group.element(annotate_snippets::Origin::path(loc.file.as_str()));
            }
            (Some(loc), None) => {
                group = group.element(
                    annotate_snippets::Origin::path(loc.file.as_str())
                        .line(loc.line)
                        .char_column(loc.column),
                );
            }
            _ => {}
        }
        for n in &d.notes {
            group = group.element(Level::NOTE.message(n.as_str()));
        }
        if let Some(h) = &d.help {
            group = group.element(Level::HELP.message(h.as_str()));
        }
        out.push_str(&renderer.render(&[group]));
        out.push_str("\n\n");
    }
    out
}

/// The lines of `text` that `span` touches (capped), their first line number, and the
/// span relative to the excerpt.
fn excerpt<'t>(text: &'t str, span: &Range<usize>) -> (usize, &'t str, Range<usize>) {
    const MAX_LINES: usize = 6;
    let mut start = span.start.min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = span.end.clamp(start, text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    let first = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let mut last = text[end..].find('\n').map_or(text.len(), |i| end + i);
    // Cap very long spans (a whole table) at a few lines.
    let mut nl = 0;
    for (i, c) in text[first..last].char_indices() {
        if c == '\n' {
            nl += 1;
            if nl == MAX_LINES {
                last = first + i;
                break;
            }
        }
    }
    // Cap very long lines (minified JSON, base64) around the span.
    const MAX_BYTES: usize = 400;
    let (mut lo, mut hi) = (first, last);
    if hi - lo > MAX_BYTES {
        lo = start.saturating_sub(MAX_BYTES / 2).max(first);
        while !text.is_char_boundary(lo) {
            lo += 1;
        }
        hi = (lo + MAX_BYTES).min(last);
        while !text.is_char_boundary(hi) {
            hi -= 1;
        }
    }
    let line = text[..first].matches('\n').count() + 1;
    let s = start.max(lo) - lo;
    let e = end.min(hi).max(start.max(lo)) - lo;
    (line, &text[lo..hi], s..e)
}

/// Counts of findings by severity.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
}

impl Summary {
    pub fn of(diags: &[Diagnostic]) -> Summary {
        let mut s = Summary::default();
        for d in diags {
            match d.severity {
                Severity::Error => s.errors += 1,
                Severity::Warning => s.warnings += 1,
                Severity::Info => s.infos += 1,
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        let text = "a = 1\nb = \"–x\"\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        // the 'x' after the EN DASH (3 bytes) is character 7 of line 2
        let x = text.find('x').unwrap_or(0);
        assert_eq!(line_col(text, x), (2, 7));
    }

    #[test]
    fn render_shows_file_line_caret_and_help() {
        let text = "[extension]\nversion = \"1.0\"\n";
        let mut sources = Sources::new();
        sources.add("pack.toml", text);
        let start = text.find("\"1.0\"").unwrap_or(0);
        let d = Diagnostic::error("PK010", "version is not MAJOR.MINOR.PATCH")
            .at(Location::in_text("pack.toml", text, start..start + 5))
            .label("two parts")
            .help("write three numbers, e.g. \"1.0.0\"");
        let out = render(&[d], &sources, false);
        assert!(
            out.contains("error[PK010]: version is not MAJOR.MINOR.PATCH"),
            "{out}"
        );
        assert!(out.contains("pack.toml:2:11"), "{out}");
        assert!(out.contains("version = \"1.0\""), "{out}");
        assert!(out.contains("^^^^^"), "{out}");
        assert!(out.contains("help: write three numbers"), "{out}");
    }

    #[test]
    fn excerpt_caps_long_lines() {
        let text = format!("{}X{}", "a".repeat(5000), "b".repeat(5000));
        let (line, ex, rel) = excerpt(&text, &(5000..5001));
        assert_eq!(line, 1);
        assert!(ex.len() <= 400);
        assert_eq!(&ex[rel], "X");
    }
}
