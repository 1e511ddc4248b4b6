//! QRadar's JSON key paths (`/"properties"/"targetResources"[0]/"displayName"`): parsing
//! and evaluation against a JSON record.
//!
//! **[real]** a slash before each quoted key. **[guess]** `[n]` indexes an array (0-based)
//! and a key path that ends on an object or array yields its JSON text.

use serde_json::Value;
use std::fmt;

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// A parsed key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPath {
    pub steps: Vec<Step>,
}

/// Why a key path does not parse, and at which byte of the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathError {
    pub at: usize,
    pub message: String,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at character {})", self.message, self.at + 1)
    }
}

impl KeyPath {
    pub fn parse(text: &str) -> Result<KeyPath, PathError> {
        let b = text.as_bytes();
        let err = |at: usize, m: &str| PathError {
            at,
            message: m.to_string(),
        };
        let mut i = 0;
        let mut steps = Vec::new();
        if b.is_empty() {
            return Err(err(0, "empty key path; write /\"key\""));
        }
        while i < b.len() {
            match b[i] {
                b'/' => {
                    i += 1;
                    if b.get(i) != Some(&b'"') {
                        return Err(err(i, "expected a quoted key after '/', as in /\"key\""));
                    }
                    i += 1;
                    let mut key = String::new();
                    loop {
                        match b.get(i) {
                            None => return Err(err(i, "unterminated key: missing closing '\"'")),
                            Some(b'\\') => {
                                // \" and \\ inside a key
                                match b.get(i + 1) {
                                    Some(c @ (b'"' | b'\\')) => {
                                        key.push(*c as char);
                                        i += 2;
                                    }
                                    _ => {
                                        return Err(err(
                                            i,
                                            "only \\\" and \\\\ may be escaped in a key",
                                        ));
                                    }
                                }
                            }
                            Some(b'"') => {
                                i += 1;
                                break;
                            }
                            Some(_) => {
                                let ch = text[i..].chars().next().unwrap_or('\u{fffd}');
                                key.push(ch);
                                i += ch.len_utf8();
                            }
                        }
                    }
                    steps.push(Step::Key(key));
                }
                b'[' => {
                    if steps.is_empty() {
                        return Err(err(i, "a key path starts with /\"key\""));
                    }
                    let close = text[i..]
                        .find(']')
                        .map(|c| i + c)
                        .ok_or_else(|| err(i, "missing ']' after the array index"))?;
                    let n: usize = text[i + 1..close]
                        .parse()
                        .map_err(|_| err(i + 1, "an array index is a whole number, as in [0]"))?;
                    steps.push(Step::Index(n));
                    i = close + 1;
                }
                _ => {
                    return Err(err(
                        i,
                        "expected '/' before a key or '[' for an array index",
                    ));
                }
            }
        }
        Ok(KeyPath { steps })
    }

    /// The value at this path, if any. `null` counts as absent.
    pub fn get<'v>(&self, root: &'v Value) -> Option<&'v Value> {
        let mut cur = root;
        for s in &self.steps {
            cur = match s {
                Step::Key(k) => cur.as_object()?.get(k)?,
                Step::Index(n) => cur.as_array()?.get(*n)?,
            };
        }
        if cur.is_null() { None } else { Some(cur) }
    }

    /// The value as QRadar would store it in a property: strings as they are, numbers and
    /// booleans as text, objects and arrays as JSON text. Empty strings count as absent.
    pub fn extract(&self, root: &Value) -> Option<String> {
        let v = self.get(root)?;
        let s = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            other => other.to_string(),
        };
        if s.is_empty() { None } else { Some(s) }
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.steps {
            match s {
                Step::Key(k) => write!(f, "/\"{}\"", k.replace('\\', "\\\\").replace('"', "\\\""))?,
                Step::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_evaluates() {
        let p =
            KeyPath::parse(r#"/"properties"/"targetResources"[0]/"displayName""#).expect("parses");
        assert_eq!(p.steps.len(), 4);
        let v: Value =
            serde_json::json!({"properties": {"targetResources": [{"displayName": "app"}]}});
        assert_eq!(p.extract(&v).as_deref(), Some("app"));
        assert_eq!(
            p.to_string(),
            r#"/"properties"/"targetResources"[0]/"displayName""#
        );
        let missing: Value = serde_json::json!({"properties": {"targetResources": []}});
        assert_eq!(p.extract(&missing), None);
        let null: Value =
            serde_json::json!({"properties": {"targetResources": [{"displayName": null}]}});
        assert_eq!(p.extract(&null), None);
    }

    #[test]
    fn rejects_bad_paths_with_position() {
        for (bad, at) in [
            ("", 0),
            ("properties", 0),
            ("/properties", 1),
            ("/\"a", 3),
            ("/\"a\"[x]", 5),
            ("[0]", 0),
        ] {
            let e = KeyPath::parse(bad).expect_err(bad);
            assert_eq!(e.at, at, "{bad}: {e}");
        }
    }
}
