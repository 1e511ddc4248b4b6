//! A flat, allocation-light parse of one JSON record ("tape"): one pass builds a vector
//! of nodes that borrow from the record's text, so key paths are looked up without
//! building a `serde_json::Value` per event. Strings are unescaped only when a path
//! actually returns one that has escapes.

use std::borrow::Cow;

use crate::jsonpath::{KeyPath, Step};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Object,
    Array,
    String { escaped: bool },
    Number,
    True,
    False,
    Null,
}

/// One value: its kind, its text (`start..end` in the record; for strings, inside the
/// quotes), the key it stands under (objects' members), and the index just past its
/// last descendant.
#[derive(Debug, Clone, Copy)]
pub struct Node {
    pub kind: Kind,
    pub start: u32,
    pub end: u32,
    pub key: Option<(u32, u32, bool)>,
    pub next: u32,
}

/// A parsed record; `clear` and reuse it across records.
#[derive(Debug, Default)]
pub struct Tape {
    pub nodes: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapeError(pub usize, pub &'static str);

impl Tape {
    /// Parse `text` (one JSON value) into the tape.
    pub fn parse(&mut self, text: &str) -> Result<(), TapeError> {
        self.nodes.clear();
        if text.len() >= u32::MAX as usize {
            return Err(TapeError(0, "record too large"));
        }
        let b = text.as_bytes();
        let mut i = skip_ws(b, 0);
        i = self.value(b, i, None, 0)?;
        i = skip_ws(b, i);
        if i != b.len() {
            return Err(TapeError(i, "text after the JSON value"));
        }
        Ok(())
    }

    fn value(
        &mut self,
        b: &[u8],
        i: usize,
        key: Option<(u32, u32, bool)>,
        depth: usize,
    ) -> Result<usize, TapeError> {
        if depth > 256 {
            return Err(TapeError(i, "nested too deeply"));
        }
        let me = self.nodes.len();
        let push = |nodes: &mut Vec<Node>, kind, start: usize, end: usize| {
            nodes.push(Node {
                kind,
                start: start as u32,
                end: end as u32,
                key,
                next: 0,
            });
        };
        let end = match b.get(i) {
            Some(b'{') => {
                push(&mut self.nodes, Kind::Object, i, i);
                let mut j = skip_ws(b, i + 1);
                if b.get(j) == Some(&b'}') {
                    j + 1
                } else {
                    loop {
                        if b.get(j) != Some(&b'"') {
                            return Err(TapeError(j, "expected a key"));
                        }
                        let (ks, ke, esc) = string(b, j)?;
                        j = skip_ws(b, ke + 1);
                        if b.get(j) != Some(&b':') {
                            return Err(TapeError(j, "expected ':'"));
                        }
                        j = skip_ws(b, j + 1);
                        j = self.value(b, j, Some((ks as u32, ke as u32, esc)), depth + 1)?;
                        j = skip_ws(b, j);
                        match b.get(j) {
                            Some(b',') => j = skip_ws(b, j + 1),
                            Some(b'}') => break j + 1,
                            _ => return Err(TapeError(j, "expected ',' or '}'")),
                        }
                    }
                }
            }
            Some(b'[') => {
                push(&mut self.nodes, Kind::Array, i, i);
                let mut j = skip_ws(b, i + 1);
                if b.get(j) == Some(&b']') {
                    j + 1
                } else {
                    loop {
                        j = self.value(b, j, None, depth + 1)?;
                        j = skip_ws(b, j);
                        match b.get(j) {
                            Some(b',') => j = skip_ws(b, j + 1),
                            Some(b']') => break j + 1,
                            _ => return Err(TapeError(j, "expected ',' or ']'")),
                        }
                    }
                }
            }
            Some(b'"') => {
                let (s, e, escaped) = string(b, i)?;
                push(&mut self.nodes, Kind::String { escaped }, s, e);
                e + 1
            }
            Some(b't') if b[i..].starts_with(b"true") => {
                push(&mut self.nodes, Kind::True, i, i + 4);
                i + 4
            }
            Some(b'f') if b[i..].starts_with(b"false") => {
                push(&mut self.nodes, Kind::False, i, i + 5);
                i + 5
            }
            Some(b'n') if b[i..].starts_with(b"null") => {
                push(&mut self.nodes, Kind::Null, i, i + 4);
                i + 4
            }
            Some(c) if *c == b'-' || c.is_ascii_digit() => {
                let mut j = i + 1;
                while j < b.len() && matches!(b[j], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
                {
                    j += 1;
                }
                push(&mut self.nodes, Kind::Number, i, j);
                j
            }
            _ => return Err(TapeError(i, "expected a JSON value")),
        };
        let next = self.nodes.len() as u32;
        let n = &mut self.nodes[me];
        if matches!(n.kind, Kind::Object | Kind::Array) {
            n.end = end as u32;
        }
        n.next = next;
        Ok(end)
    }

    /// The node a key path leads to.
    pub fn find(&self, text: &str, path: &KeyPath) -> Option<usize> {
        let mut cur = 0usize;
        if self.nodes.is_empty() {
            return None;
        }
        for step in &path.steps {
            let node = self.nodes[cur];
            let mut child = cur + 1;
            let stop = node.next as usize;
            cur = match (step, node.kind) {
                (Step::Key(k), Kind::Object) => loop {
                    if child >= stop {
                        return None;
                    }
                    let c = self.nodes[child];
                    if let Some((ks, ke, esc)) = c.key {
                        let raw = &text[ks as usize..ke as usize];
                        let equal = if esc {
                            unescape(raw).as_deref() == Some(k.as_str())
                        } else {
                            raw == k
                        };
                        if equal {
                            break child;
                        }
                    }
                    child = c.next as usize;
                },
                (Step::Index(n), Kind::Array) => {
                    let mut idx = 0usize;
                    loop {
                        if child >= stop {
                            return None;
                        }
                        if idx == *n {
                            break child;
                        }
                        idx += 1;
                        child = self.nodes[child].next as usize;
                    }
                }
                _ => return None,
            };
        }
        Some(cur)
    }

    /// What QRadar would store for the value at `path` (see [`KeyPath::extract`]).
    pub fn extract<'t>(&self, text: &'t str, path: &KeyPath) -> Option<Cow<'t, str>> {
        let n = self.nodes[self.find(text, path)?];
        let raw = &text[n.start as usize..n.end as usize];
        let v: Cow<'t, str> = match n.kind {
            Kind::Null => return None,
            Kind::String { escaped: false } => Cow::Borrowed(raw),
            Kind::String { escaped: true } => Cow::Owned(unescape(raw)?),
            _ => Cow::Borrowed(raw),
        };
        if v.is_empty() { None } else { Some(v) }
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// A string starting at the quote `b[i]`: (content start, closing quote, has escapes).
fn string(b: &[u8], i: usize) -> Result<(usize, usize, bool), TapeError> {
    let mut j = i + 1;
    let mut escaped = false;
    while j < b.len() {
        match memchr::memchr2(b'"', b'\\', &b[j..]) {
            None => break,
            Some(k) => {
                j += k;
                if b[j] == b'"' {
                    return Ok((i + 1, j, escaped));
                }
                escaped = true;
                j += 2;
            }
        }
    }
    Err(TapeError(i, "unterminated string"))
}

/// The text of a string's content with its escapes resolved.
fn unescape(raw: &str) -> Option<String> {
    serde_json::from_str::<String>(&format!("\"{raw}\"")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(text: &str, path: &str) -> Option<String> {
        let mut t = Tape::default();
        t.parse(text).expect("parses");
        t.extract(text, &KeyPath::parse(path).expect("path"))
            .map(|c| c.into_owned())
    }

    #[test]
    fn agrees_with_serde_json_on_the_corpus() {
        let corpus = include_str!("../../qid-maps/tests/events/diagnostic-records.ndjson");
        let paths = [
            r#"/"operationName""#,
            r#"/"properties"/"result""#,
            r#"/"properties"/"targetResources"[0]/"displayName""#,
            r#"/"properties"/"targetResources"[0]/"modifiedProperties""#,
            r#"/"properties"/"targetResources"[1]/"type""#,
            r#"/"properties"/"initiatedBy"/"user"/"userPrincipalName""#,
            r#"/"durationMs""#,
            r#"/"nope""#,
        ];
        for line in corpus.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line).expect("json");
            for p in paths {
                let kp = KeyPath::parse(p).expect("path");
                let want = kp.extract(&v);
                let got = get(line, p);
                match (&want, &got) {
                    // Objects and arrays: serde re-serialises, the tape keeps the text.
                    (Some(w), Some(g)) if w.starts_with('[') || w.starts_with('{') => {
                        assert_eq!(
                            serde_json::from_str::<serde_json::Value>(w).ok(),
                            serde_json::from_str::<serde_json::Value>(g).ok(),
                            "{p}"
                        )
                    }
                    _ => assert_eq!(want, got, "{p} in {line}"),
                }
            }
        }
    }

    #[test]
    fn escapes_and_edges() {
        assert_eq!(
            get(r#"{"a\u0062":"x\"y"}"#, r#"/"ab""#).as_deref(),
            Some("x\"y")
        );
        assert_eq!(
            get(r#"{"a":"Update application \u2013 x"}"#, r#"/"a""#).as_deref(),
            Some("Update application – x")
        );
        assert_eq!(get(r#"{"a":""}"#, r#"/"a""#), None);
        assert_eq!(get(r#"{"a":null}"#, r#"/"a""#), None);
        assert_eq!(
            get(r#"{"a":[1,{"b":true}]}"#, r#"/"a"[1]/"b""#).as_deref(),
            Some("true")
        );
        let mut t = Tape::default();
        for bad in ["{", "{\"a\"}", "[1,", "\"x", "{} x", "nul"] {
            assert!(t.parse(bad).is_err(), "{bad}");
        }
    }
}
