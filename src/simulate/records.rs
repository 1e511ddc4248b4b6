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
        while self.fill()? {
            let rest = &self.buf[self.pos..];
            let n = rest
                .iter()
                .position(|&c| !(c.is_ascii_whitespace() || c == 0xEF || c == 0xBB || c == 0xBF))
                .unwrap_or(rest.len());
            self.line += rest[..n].iter().filter(|&&c| c == b'\n').count() as u64;
            self.pos += n;
            if self.pos < self.buf.len() {
                return Ok(Some(self.buf[self.pos]));
            }
        }
        Ok(None)
    }

    /// Like `skip_ws`, but keeps the whitespace in `out` (a record's text stays as sent).
    fn keep_ws(&mut self, out: &mut Vec<u8>) -> Result<Option<u8>, SplitError> {
        while self.fill()? {
            let rest = &self.buf[self.pos..];
            let n = rest
                .iter()
                .position(|c| !c.is_ascii_whitespace())
                .unwrap_or(rest.len());
            out.extend_from_slice(&rest[..n]);
            self.line += rest[..n].iter().filter(|&&c| c == b'\n').count() as u64;
            self.pos += n;
            if self.pos < self.buf.len() {
                return Ok(Some(self.buf[self.pos]));
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

    /// Copy one complete JSON value (object, array, string, literal) into `out`,
    /// scanning the buffer a chunk at a time.
    fn take_value(&mut self, out: &mut Vec<u8>) -> Result<(), SplitError> {
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
        let (mut depth, mut in_str, mut esc) = (0usize, false, false);
        loop {
            if !self.fill()? {
                return Err(self.err("the file ends inside a record (truncated?)"));
            }
            let chunk = &self.buf[self.pos..];
            let mut done = None;
            let mut i = 0usize;
            while i < chunk.len() {
                if in_str {
                    if esc {
                        esc = false;
                        i += 1;
                        continue;
                    }
                    // Most of a record is inside strings: jump to the next quote or escape.
                    match memchr::memchr2(b'"', b'\\', &chunk[i..]) {
                        None => {
                            i = chunk.len();
                            continue;
                        }
                        Some(k) => {
                            i += k;
                            if chunk[i] == b'\\' {
                                esc = true;
                            } else {
                                in_str = false;
                                if depth == 0 {
                                    done = Some(i + 1);
                                    break;
                                }
                            }
                            i += 1;
                            continue;
                        }
                    }
                }
                match chunk[i] {
                    b'"' => in_str = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            done = Some(i + 1);
                            break;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            let used = done.unwrap_or(chunk.len());
            out.extend_from_slice(&chunk[..used]);
            self.line += chunk[..used].iter().filter(|&&c| c == b'\n').count() as u64;
            self.pos += used;
            if out.len() > MAX_RECORD {
                return Err(self.err(format!("a record is larger than {} MiB", MAX_RECORD >> 20)));
            }
            if done.is_some() {
                return Ok(());
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
                        let Some(c) = self.keep_ws(&mut raw)? else {
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
                                // Whitespace around ':' is kept with the key.
                                let mut between = Vec::new();
                                let Some(b':') = self.keep_ws(&mut between)? else {
                                    return Err(self.err("expected ':' after a key"));
                                };
                                self.bump()?;
                                between.push(b':');
                                let next = self.keep_ws(&mut between)?;
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
                                raw.extend_from_slice(&between);
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
            vec!["{\"operationName\": \"x\", \"properties\": {\"value\": [1]}}"]
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

/// Records from any event file, with a fast path for NDJSON (one complete record per
/// line, the Event Hubs and diagnostic-settings export form): each line is handed over
/// straight from the reader's buffer (copied only when it straddles two reads) and never
/// re-scanned by the splitter.
pub enum Records<R: BufRead> {
    Lines {
        input: R,
        line: u64,
        /// The first line, read to decide the shape.
        first: Option<String>,
        /// The start of a line that continues in the next read.
        carry: Vec<u8>,
    },
    Split(Splitter<std::io::Chain<std::io::Cursor<Vec<u8>>, R>>),
}

impl<R: BufRead> Records<R> {
    pub fn new(mut input: R) -> Result<Self, SplitError> {
        let mut first = String::new();
        let mut skipped = 0u64;
        // The first non-blank line decides.
        loop {
            first.clear();
            let n = input.read_line(&mut first).map_err(|e| SplitError {
                line: skipped + 1,
                message: e.to_string(),
            })?;
            if n == 0 || !first.trim().is_empty() {
                break;
            }
            skipped += 1;
        }
        let line_is_record = {
            let t = first.trim();
            let mut set = super::scan::PathSet::default();
            let wrappers = ["records", "value"].map(|k| {
                set.add(&crate::jsonpath::KeyPath {
                    steps: vec![crate::jsonpath::Step::Key(k.to_string())],
                })
            });
            let mut scan = super::scan::Scan::default();
            t.starts_with('{')
                && scan.parse(&set, t).is_ok()
                && !wrappers.iter().any(|&w| {
                    scan.slot(w)
                        .is_some_and(|s| s.kind == super::scan::Kind::Array)
                })
        };
        if line_is_record {
            return Ok(Records::Lines {
                input,
                line: skipped,
                first: Some(first),
                carry: Vec::new(),
            });
        }
        let mut prefix = "\n".repeat(skipped as usize).into_bytes();
        prefix.extend_from_slice(first.as_bytes());
        Ok(Records::Split(Splitter::new(std::io::Read::chain(
            std::io::Cursor::new(prefix),
            input,
        ))))
    }

    /// Hand the next record's text and line to `f`; `Ok(None)` at the end.
    pub fn next_with<T>(
        &mut self,
        f: &mut dyn FnMut(&str, u64) -> T,
    ) -> Result<Option<T>, SplitError> {
        match self {
            Records::Lines {
                input,
                line,
                first,
                carry,
            } => {
                if let Some(text) = first.take()
                    && let Some(out) = one_line(text.as_bytes(), line, f)?
                {
                    return Ok(Some(out));
                }
                loop {
                    let data = match input.fill_buf() {
                        Ok(d) => d,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(e) => {
                            return Err(SplitError {
                                line: *line + 1,
                                message: e.to_string(),
                            });
                        }
                    };
                    if data.is_empty() {
                        if carry.is_empty() {
                            return Ok(None);
                        }
                        // The last line, without a newline.
                        let last = std::mem::take(carry);
                        match one_line(&last, line, f)? {
                            Some(out) => return Ok(Some(out)),
                            None => continue,
                        }
                    }
                    let n = data.len();
                    match memchr::memchr(b'\n', data) {
                        Some(nl) => {
                            let out = if carry.is_empty() {
                                one_line(&data[..=nl], line, f)
                            } else {
                                carry.extend_from_slice(&data[..=nl]);
                                let out = one_line(carry, line, f);
                                carry.clear();
                                out
                            };
                            input.consume(nl + 1);
                            if let Some(out) = out? {
                                return Ok(Some(out));
                            }
                        }
                        None => {
                            carry.extend_from_slice(data);
                            input.consume(n);
                        }
                    }
                }
            }
            Records::Split(s) => match s.next_record()? {
                None => Ok(None),
                Some(r) => Ok(Some(f(&r.raw, r.line))),
            },
        }
    }
}

/// One line of an NDJSON file (with its newline, if any): `Ok(None)` when blank.
fn one_line<T>(
    bytes: &[u8],
    line: &mut u64,
    f: &mut dyn FnMut(&str, u64) -> T,
) -> Result<Option<T>, SplitError> {
    *line += 1;
    // simdutf8 accepts exactly what `std::str::from_utf8` accepts (the message says
    // nothing about where, so its `basic` flavour, which does not say either, is enough),
    // and checks 64 bytes a step with the CPU's vector unit: a third of std's instructions
    // on the ASCII records Azure sends.
    let text = simdutf8::basic::from_utf8(bytes)
        .map_err(|_| SplitError {
            line: *line,
            // The words of the error `BufRead::read_line` gives.
            message: "stream did not contain valid UTF-8".into(),
        })?
        .trim();
    if text.is_empty() {
        return Ok(None);
    }
    if text.len() > MAX_RECORD {
        return Err(SplitError {
            line: *line,
            message: format!("a record is larger than {} MiB", MAX_RECORD >> 20),
        });
    }
    Ok(Some(f(text, *line)))
}

#[cfg(test)]
mod fast_tests {
    use super::*;

    fn all(s: &str) -> Vec<(String, u64)> {
        let mut r = Records::new(s.as_bytes()).expect("opens");
        let mut out = Vec::new();
        while let Some(x) = r.next_with(&mut |t, l| (t.to_string(), l)).expect("record") {
            out.push(x);
        }
        out
    }

    #[test]
    fn ndjson_and_the_rest_give_the_same_records() {
        assert!(matches!(
            Records::new("{\"a\":1}\n".as_bytes()),
            Ok(Records::Lines { .. })
        ));
        assert_eq!(
            all("\n{\"a\":1}\n\n{\"b\":2}\n"),
            vec![("{\"a\":1}".into(), 2), ("{\"b\":2}".into(), 4)]
        );
        assert!(matches!(
            Records::new("{\"records\":[{\"a\":1}]}".as_bytes()),
            Ok(Records::Split(_))
        ));
        assert_eq!(
            all("{\"records\":[{\"a\":1},{\"a\":2}]}"),
            vec![("{\"a\":1}".into(), 1), ("{\"a\":2}".into(), 1)]
        );
        assert_eq!(all("[\n{\"a\":1},\n{\"a\":2}\n]").len(), 2);
        assert_eq!(all("{\n \"a\": 1\n}\n").len(), 1);
    }

    #[test]
    fn lines_that_straddle_reads_come_out_whole() {
        let text = "{\"a\":1}\r\n\n  {\"b\":\"x\\ny\"}  \n{\"c\":[1,2,3,4,5,6,7,8,9,10]}\n\u{a0}\n{\"d\":\"\u{e9}\u{2013}\"}";
        let want: Vec<(String, u64)> = text
            .split('\n')
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| (l.trim().to_string(), i as u64 + 1))
            .collect();
        assert_eq!(want.len(), 4);
        for cap in 1..48 {
            let mut r = Records::new(std::io::BufReader::with_capacity(cap, text.as_bytes()))
                .expect("opens");
            assert!(matches!(r, Records::Lines { .. }));
            let mut got = Vec::new();
            while let Some(x) = r.next_with(&mut |t, l| (t.to_string(), l)).expect("record") {
                got.push(x);
            }
            assert_eq!(got, want, "buffer of {cap} bytes");
        }
    }

    #[test]
    fn the_utf8_check_accepts_what_std_accepts() {
        // Valid and invalid sequences (overlong, surrogate, above U+10FFFF, cut short, a
        // stray continuation byte), at every offset around the 16-, 32- and 64-byte steps
        // of the vector check, in ASCII text on both sides.
        let pieces: [&[u8]; 14] = [
            b"\xc3\xa9",
            b"\xe2\x80\x93",
            b"\xf0\x9f\x98\x80",
            b"\xf4\x8f\xbf\xbf",
            b"\xff",
            b"\x80",
            b"\xc0\xaf",
            b"\xe0\x80\xaf",
            b"\xed\xa0\x80",
            b"\xf4\x90\x80\x80",
            b"\xc3",
            b"\xe2\x80",
            b"\xf0\x9f\x98",
            b"\xc3\xa9\xc3",
        ];
        for piece in pieces {
            for at in 0..140 {
                for len in [at + piece.len(), at + piece.len() + 1, 200] {
                    let mut line = vec![b'x'; len];
                    line[at..at + piece.len()].copy_from_slice(piece);
                    assert_eq!(
                        simdutf8::basic::from_utf8(&line).is_ok(),
                        std::str::from_utf8(&line).is_ok(),
                        "{piece:?} at {at} in {len} bytes"
                    );
                }
            }
        }
    }

    #[test]
    fn a_line_that_is_not_utf8_is_an_error_on_its_line() {
        let bytes = b"{\"a\":1}\n\n{\"a\":\"\xff\"}\n{\"a\":2}\n";
        for cap in [1, 5, 64] {
            let mut r =
                Records::new(std::io::BufReader::with_capacity(cap, &bytes[..])).expect("opens");
            assert!(r.next_with(&mut |_, l| l).expect("first").is_some());
            let e = r.next_with(&mut |_, l| l).expect_err("not UTF-8");
            assert_eq!(e.line, 3);
            assert_eq!(e.message, "stream did not contain valid UTF-8");
        }
    }
}
