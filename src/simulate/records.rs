//! Event files in the shapes QRadar receives, split into records without holding the
//! file in memory: one JSON object per line (NDJSON), a JSON array, an Event Hubs batch
//! `{"records": [...]}`, a Graph API page `{"value": [...]}`, or a single object.

use std::io::BufRead;

/// One record: its raw JSON text (what regex expressions see) and the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub raw: String,
    pub line: u64,
}

/// Why a file could not be split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitError {
    pub line: u64,
    pub message: String,
}

/// How much of a wrapper object may come before its records array.
const MAX_WRAPPER_PREFIX: usize = 64 << 10;

/// Largest single record accepted.
pub const MAX_RECORD: usize = 16 << 20;

/// Streams records out of an event file.
pub struct Splitter<R> {
    input: R,
    line: u64,
    buf: Vec<u8>,
    pos: usize,
    eof: bool,
    /// Inside a top-level `[` or a wrapper's array: yield its elements.
    in_array: bool,
    /// After the wrapper's array, the rest of the wrapper object is skipped.
    wrapper_tail: bool,
}

impl<R: BufRead> Splitter<R> {
    pub fn new(input: R) -> Self {
        Splitter {
            input,
            line: 1,
            buf: Vec::new(),
            pos: 0,
            eof: false,
            in_array: false,
            wrapper_tail: false,
        }
    }

    fn fill(&mut self) -> Result<bool, SplitError> {
        if self.pos < self.buf.len() {
            return Ok(true);
        }
        if self.eof {
            return Ok(false);
        }
        self.buf.clear();
        self.pos = 0;
        let data = self.input.fill_buf().map_err(|e| SplitError {
            line: self.line,
            message: e.to_string(),
        })?;
        if data.is_empty() {
            self.eof = true;
            return Ok(false);
        }
        self.buf.extend_from_slice(data);
        let n = data.len();
        self.input.consume(n);
        Ok(true)
    }

    fn peek(&mut self) -> Result<Option<u8>, SplitError> {
        Ok(if self.fill()? {
            Some(self.buf[self.pos])
        } else {
            None
        })
    }

    fn bump(&mut self) -> Result<Option<u8>, SplitError> {
        let c = self.peek()?;
        if let Some(c) = c {
            self.pos += 1;
            if c == b'\n' {
                self.line += 1;
            }
        }
        Ok(c)
    }

    fn skip_ws(&mut self) -> Result<Option<u8>, SplitError> {
        while let Some(c) = self.peek()? {
            if c.is_ascii_whitespace() || c == 0xEF || c == 0xBB || c == 0xBF {
                self.bump()?;
            } else {
                return Ok(Some(c));
            }
        }
        Ok(None)
    }

    fn err(&self, m: impl Into<String>) -> SplitError {
        SplitError {
            line: self.line,
            message: m.into(),
        }
    }

    /// Copy one complete JSON value (object, array, string, literal) into `out`.
    fn take_value(&mut self, out: &mut Vec<u8>) -> Result<(), SplitError> {
        let mut depth = 0usize;
        let mut in_str = false;
        let mut esc = false;
        let first = self
            .peek()?
            .ok_or_else(|| self.err("the file ends where a value was expected"))?;
        if !matches!(first, b'{' | b'[' | b'"') {
            // A literal: up to a delimiter.
            while let Some(c) = self.peek()? {
                if matches!(c, b',' | b']' | b'}') || c.is_ascii_whitespace() {
                    break;
                }
                out.push(c);
                self.bump()?;
            }
            return Ok(());
        }
        loop {
            let c = self
                .bump()?
                .ok_or_else(|| self.err("the file ends inside a record (truncated?)"))?;
            out.push(c);
            if out.len() > MAX_RECORD {
                return Err(self.err(format!("a record is larger than {} MiB", MAX_RECORD >> 20)));
            }
            if in_str {
                if esc {
                    esc = false;
                } else if c == b'\\' {
                    esc = true;
                } else if c == b'"' {
                    in_str = false;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                continue;
            }
            match c {
                b'"' => in_str = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return Ok(());
                    }
                }
                _ => {}
            }
        }
    }

    /// The next record, or `None` at the end of the file.
    pub fn next_record(&mut self) -> Result<Option<Record>, SplitError> {
        loop {
            let Some(c) = self.skip_ws()? else {
                if self.in_array {
                    return Err(self.err("the file ends inside an array (truncated?)"));
                }
                return Ok(None);
            };
            if self.in_array {
                match c {
                    b',' => {
                        self.bump()?;
                        continue;
                    }
                    b']' => {
                        self.bump()?;
                        self.in_array = false;
                        if self.wrapper_tail {
                            // Skip the rest of the wrapper object: `, "k": v ... }`.
                            self.wrapper_tail = false;
                            let mut depth = 1usize;
                            while depth > 0 {
                                let Some(c) = self.skip_ws()? else {
                                    return Err(self.err("the file ends inside the wrapper object"));
                                };
                                match c {
                                    b'}' => {
                                        self.bump()?;
                                        depth -= 1;
                                    }
                                    _ => {
                                        let mut sink = Vec::new();
                                        if c == b',' || c == b':' {
                                            self.bump()?;
                                        } else {
                                            self.take_value(&mut sink)?;
                                        }
                                    }
                                }
                            }
                        }
                        continue;
                    }
                    _ => {
                        let line = self.line;
                        let mut raw = Vec::new();
                        self.take_value(&mut raw)?;
                        return self.record(raw, line).map(Some);
                    }
                }
            }
            match c {
                b'[' => {
                    self.bump()?;
                    self.in_array = true;
                }
                b'{' => {
                    // A record, or a wrapper whose "records"/"value" array holds them.
                    let line = self.line;
                    let mut raw = Vec::new();
                    raw.push(b'{');
                    self.bump()?;
                    loop {
                        let Some(c) = self.skip_ws()? else {
                            return Err(self.err("the file ends inside an object (truncated?)"));
                        };
                        match c {
                            b'}' => {
                                self.bump()?;
                                raw.push(b'}');
                                return self.record(raw, line).map(Some);
                            }
                            b',' => {
                                self.bump()?;
                                raw.push(b',');
                            }
                            b'"' => {
                                let mut key = Vec::new();
                                self.take_value(&mut key)?;
                                let Some(b':') = self.skip_ws()? else {
                                    return Err(self.err("expected ':' after a key"));
                                };
                                self.bump()?;
                                let next = self.skip_ws()?;
                                if (key == b"\"records\"" || key == b"\"value\"")
                                    && next == Some(b'[')
                                    && raw.len() <= MAX_WRAPPER_PREFIX
                                {
                                    // A wrapper: stream its array's elements.
                                    self.bump()?;
                                    self.in_array = true;
                                    self.wrapper_tail = true;
                                    break;
                                }
                                raw.extend_from_slice(&key);
                                raw.push(b':');
                                self.take_value(&mut raw)?;
                                if raw.len() > MAX_RECORD {
                                    return Err(self.err(format!(
                                        "a record is larger than {} MiB",
                                        MAX_RECORD >> 20
                                    )));
                                }
                            }
                            other => {
                                return Err(self
                                    .err(format!("unexpected '{}' in an object", other as char)));
                            }
                        }
                    }
                }
                other => {
                    return Err(self.err(format!(
                        "expected a JSON object or array, found '{}'",
                        other as char
                    )));
                }
            }
        }
    }

    fn record(&self, raw: Vec<u8>, line: u64) -> Result<Record, SplitError> {
        let raw = String::from_utf8(raw).map_err(|_| SplitError {
            line,
            message: "a record is not UTF-8".into(),
        })?;
        Ok(Record { raw, line })
    }
}

impl<R: BufRead> Iterator for Splitter<R> {
    type Item = Result<Record, SplitError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Vec<String> {
        Splitter::new(std::io::BufReader::with_capacity(7, s.as_bytes()))
            .map(|r| r.expect("record").raw)
            .collect()
    }

    #[test]
    fn every_shape_splits_into_records() {
        assert_eq!(
            split("{\"a\":1}\n{\"a\":\"}\\\"{\"}\n"),
            vec!["{\"a\":1}", "{\"a\":\"}\\\"{\"}"]
        );
        assert_eq!(
            split("[{\"a\":1}, {\"b\":[1,2]}]"),
            vec!["{\"a\":1}", "{\"b\":[1,2]}"]
        );
        assert_eq!(
            split("{\"records\": [{\"a\":1},{\"a\":2}]}"),
            vec!["{\"a\":1}", "{\"a\":2}"]
        );
        assert_eq!(
            split(
                "{\"@odata.context\": \"x\", \"value\": [{\"a\":1}], \"@odata.nextLink\": \"y\"}"
            ),
            vec!["{\"a\":1}"]
        );
        assert_eq!(
            split("{\"operationName\": \"x\", \"properties\": {\"value\": [1]}}"),
            vec!["{\"operationName\":\"x\",\"properties\":{\"value\": [1]}}"]
        );
    }

    #[test]
    fn records_know_their_line() {
        let recs: Vec<Record> = Splitter::new("\n\n{\"a\":1}\n{\"a\":2}".as_bytes())
            .map(|r| r.expect("ok"))
            .collect();
        assert_eq!(recs[0].line, 3);
        assert_eq!(recs[1].line, 4);
    }

    #[test]
    fn broken_files_are_errors_not_panics() {
        for bad in [
            "{\"a\":",
            "[{\"a\":1}",
            "{\"records\": [{\"a\":1}",
            "x",
            "{1}",
        ] {
            let r: Result<Vec<Record>, SplitError> = Splitter::new(bad.as_bytes()).collect();
            assert!(r.is_err(), "{bad}");
        }
    }
}
