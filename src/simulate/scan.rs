//! One pass over a JSON record that checks its syntax and, on the way, notes where the
//! values of a fixed set of key paths are ([`PathSet`]), so that looking one up afterwards
//! costs nothing. Nothing is allocated per record: the positions go into a reused slot
//! vector, values borrow from the record's text, and a string is unescaped only when a
//! path returns one that has escapes.
//!
//! It accepts exactly what the full parse of [`super::tape`] accepts, rejects the rest
//! with the same message at the same byte, and a path yields the same value as
//! [`super::tape::Tape::find`]: the first member with the key, the n-th element of an
//! array (a unit test and a property test hold the two against each other). The gain is
//! that subtrees no path goes into are only checked, never recorded.
//!
//! Strings are most of a record's bytes. Before the pass, every `"` and `\` of the record
//! is flagged in a bit index, 64 bytes a word (simdjson's first stage, reduced to the two
//! bytes that end or escape a string); a string's end is then found with a mask and a
//! `trailing_zeros` instead of a search. The index is built with plain compares that LLVM
//! turns into vector code (the crate forbids `unsafe`, so no intrinsics).

use std::borrow::Cow;

use crate::jsonpath::{KeyPath, Step};

/// What a value is: the tape's own kinds (the property tests compare the two readers).
pub use super::tape::Kind;

/// Why a record is not JSON: the byte and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapeError(pub usize, pub &'static str);

/// Where a value is: its kind and its text (`start..end` in the record; for strings,
/// inside the quotes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub kind: Kind,
    pub start: u32,
    pub end: u32,
}

/// A path added to a [`PathSet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PathId(u32);

/// No path goes here: only check the syntax.
const NONE: u32 = u32::MAX;

#[derive(Debug, Default, Clone)]
struct TrieNode {
    /// Keys and their nodes, shortest first.
    keys: Vec<(Box<str>, u32)>,
    /// `keys[by_len[n].0..by_len[n].1]` are the keys n bytes long (n < 64; longer keys
    /// are all in the last range).
    by_len: Vec<(usize, usize)>,
    /// Bit n: some key is n bytes long (bit 63: 63 or more), a quick first test.
    lens: u64,
    indexes: Vec<(usize, u32)>,
}

/// The key paths a scan records, as a trie: paths that share a prefix share its nodes,
/// so each member of a record is compared with the keys of one node at most.
#[derive(Debug, Clone)]
pub struct PathSet {
    nodes: Vec<TrieNode>,
}

impl Default for PathSet {
    fn default() -> Self {
        PathSet {
            nodes: vec![TrieNode::default()],
        }
    }
}

impl PathSet {
    /// Add a path (once; adding it again gives the same id).
    pub fn add(&mut self, path: &KeyPath) -> PathId {
        let mut cur = 0usize;
        for step in &path.steps {
            let found = match step {
                Step::Key(k) => self.nodes[cur]
                    .keys
                    .iter()
                    .find(|(n, _)| **n == **k)
                    .map(|x| x.1),
                Step::Index(n) => self.nodes[cur]
                    .indexes
                    .iter()
                    .find(|(i, _)| i == n)
                    .map(|x| x.1),
            };
            cur = match found {
                Some(c) => c as usize,
                None => {
                    let id = self.nodes.len() as u32;
                    self.nodes.push(TrieNode::default());
                    match step {
                        Step::Key(k) => {
                            let n = &mut self.nodes[cur];
                            let at = n.keys.partition_point(|(x, _)| x.len() <= k.len());
                            n.keys.insert(at, (k.as_str().into(), id));
                            n.lens |= 1 << k.len().min(63);
                            n.by_len = (0..64)
                                .map(|l: usize| {
                                    let of_len = |x: &(Box<str>, u32)| x.0.len().min(63) < l;
                                    let from = n.keys.partition_point(of_len);
                                    let to = n.keys.partition_point(|x| x.0.len().min(63) <= l);
                                    (from, to)
                                })
                                .collect();
                        }
                        Step::Index(n) => self.nodes[cur].indexes.push((*n, id)),
                    }
                    id as usize
                }
            };
        }
        PathId(cur as u32)
    }
}

/// The result of scanning one record; `parse` again to reuse it.
#[derive(Debug, Default)]
pub struct Scan {
    slots: Vec<Option<Slot>>,
    /// Bit `p % 64` of word `p / 64`: byte `p` of the record is a `"` or a `\\`
    /// (see [`index`]).
    bits: Vec<u64>,
}

impl Scan {
    /// Check `text` (one JSON value) and note where each path of `set` leads.
    pub fn parse(&mut self, set: &PathSet, text: &str) -> Result<(), TapeError> {
        self.slots.clear();
        self.slots.resize(set.nodes.len(), None);
        if text.len() >= u32::MAX as usize {
            return Err(TapeError(0, "record too large"));
        }
        index(text.as_bytes(), &mut self.bits);
        let mut p = Parser {
            text,
            b: text.as_bytes(),
            bits: &self.bits,
            set,
            slots: &mut self.slots,
            err: TapeError(0, ""),
        };
        let b = text.as_bytes();
        let start = skip_ws(b, 0);
        let i = match p.value(start, 0, 0) {
            Ok(i) => skip_ws(b, i),
            Err(Fail) => return Err(p.err),
        };
        if i != b.len() {
            return Err(TapeError(i, "text after the JSON value"));
        }
        Ok(())
    }

    /// Where `path` leads in the last record parsed, if anywhere.
    pub fn slot(&self, path: PathId) -> Option<Slot> {
        self.slots.get(path.0 as usize).copied().flatten()
    }

    /// What QRadar would store for the value at `path` (see [`KeyPath::extract`]): a
    /// string unescaped, other values as their JSON text; `null` and `""` are no value.
    pub fn extract<'t>(&self, text: &'t str, path: PathId) -> Option<Cow<'t, str>> {
        let n = self.slot(path)?;
        let raw = text.get(n.start as usize..n.end as usize)?;
        let v: Cow<'t, str> = match n.kind {
            Kind::Null => return None,
            Kind::String { escaped: true } => Cow::Owned(unescape(raw)?),
            _ => Cow::Borrowed(raw),
        };
        if v.is_empty() { None } else { Some(v) }
    }
}

/// A syntax error, noted in [`Parser::err`]: keeps the hot return values small.
struct Fail;

type Next = Result<usize, Fail>;

struct Parser<'a> {
    text: &'a str,
    b: &'a [u8],
    bits: &'a [u64],
    set: &'a PathSet,
    slots: &'a mut [Option<Slot>],
    err: TapeError,
}

impl Parser<'_> {
    #[cold]
    fn fail(&mut self, at: usize, message: &'static str) -> Fail {
        self.err = TapeError(at, message);
        Fail
    }

    /// The value at `b[i]`, which path node `node` stands for (or [`NONE`]); the index
    /// just past it.
    fn value(&mut self, i: usize, depth: usize, node: u32) -> Next {
        if node == NONE {
            return self.skip(i, depth);
        }
        if depth > 256 {
            return Err(self.fail(i, "nested too deeply"));
        }
        let b = self.b;
        let (kind, start, end, next) = match b.get(i) {
            Some(b'{') => {
                let e = if self.set.nodes[node as usize].keys.is_empty() {
                    self.skip_object(i, depth)?
                } else {
                    self.object(i, depth, node)?
                };
                (Kind::Object, i, e, e)
            }
            Some(b'[') => {
                let e = if self.set.nodes[node as usize].indexes.is_empty() {
                    self.skip_array(i, depth)?
                } else {
                    self.array(i, depth, node)?
                };
                (Kind::Array, i, e, e)
            }
            Some(b'"') => match string(self.bits, b, i) {
                Some((e, escaped)) => (Kind::String { escaped }, i + 1, e, e + 1),
                None => return Err(self.fail(i, "unterminated string")),
            },
            Some(b't') if b[i..].starts_with(b"true") => (Kind::True, i, i + 4, i + 4),
            Some(b'f') if b[i..].starts_with(b"false") => (Kind::False, i, i + 5, i + 5),
            Some(b'n') if b[i..].starts_with(b"null") => (Kind::Null, i, i + 4, i + 4),
            Some(b'-' | b'0'..=b'9') => {
                let e = number(b, i);
                (Kind::Number, i, e, e)
            }
            _ => return Err(self.fail(i, "expected a JSON value")),
        };
        self.slots[node as usize] = Some(Slot {
            kind,
            start: start as u32,
            end: end as u32,
        });
        Ok(next)
    }

    /// An object some path goes into.
    fn object(&mut self, i: usize, depth: usize, node: u32) -> Next {
        let b = self.b;
        let mut j = skip_ws(b, i + 1);
        if b.get(j) == Some(&b'}') {
            return Ok(j + 1);
        }
        loop {
            if b.get(j) != Some(&b'"') {
                return Err(self.fail(j, "expected a key"));
            }
            let Some((ke, escaped)) = string(self.bits, b, j) else {
                return Err(self.fail(j, "unterminated string"));
            };
            let child = self.member(node, j + 1, ke, escaped);
            j = ke + 1;
            if b.get(j) != Some(&b':') {
                j = skip_ws(b, j);
                if b.get(j) != Some(&b':') {
                    return Err(self.fail(j, "expected ':'"));
                }
            }
            j = skip_ws(b, j + 1);
            j = if child == NONE {
                self.skip_inline(j, depth + 1)?
            } else {
                self.value(j, depth + 1, child)?
            };
            if !matches!(b.get(j), Some(b',' | b'}')) {
                j = skip_ws(b, j);
            }
            match b.get(j) {
                Some(b',') => j = skip_ws(b, j + 1),
                Some(b'}') => return Ok(j + 1),
                _ => return Err(self.fail(j, "expected ',' or '}'")),
            }
        }
    }

    /// The path node a member with the key at `ks..ke` stands for: only the first member
    /// with a key counts, as in `Tape::find`.
    #[inline]
    fn member(&self, node: u32, ks: usize, ke: usize, escaped: bool) -> u32 {
        let n = &self.set.nodes[node as usize];
        let found = if escaped {
            let Some(k) = self.text.get(ks..ke).and_then(unescape) else {
                return NONE;
            };
            n.keys.iter().find(|(name, _)| **name == *k)
        } else {
            let len = ke - ks;
            if n.lens & (1 << len.min(63)) == 0 {
                return NONE;
            }
            let raw = &self.b[ks..ke];
            let (from, to) = n.by_len.get(len.min(63)).copied().unwrap_or((0, 0));
            n.keys
                .get(from..to)
                .unwrap_or(&[])
                .iter()
                .find(|(name, _)| same(name.as_bytes(), raw))
        };
        match found {
            Some(&(_, c)) if self.slots[c as usize].is_none() => c,
            _ => NONE,
        }
    }

    /// An array some path goes into.
    fn array(&mut self, i: usize, depth: usize, node: u32) -> Next {
        let b = self.b;
        let mut j = skip_ws(b, i + 1);
        if b.get(j) == Some(&b']') {
            return Ok(j + 1);
        }
        let mut index = 0usize;
        loop {
            let child = self.set.nodes[node as usize]
                .indexes
                .iter()
                .find(|(n, _)| *n == index)
                .map_or(NONE, |x| x.1);
            j = self.value(j, depth + 1, child)?;
            index += 1;
            j = skip_ws(b, j);
            match b.get(j) {
                Some(b',') => j = skip_ws(b, j + 1),
                Some(b']') => return Ok(j + 1),
                _ => return Err(self.fail(j, "expected ',' or ']'")),
            }
        }
    }

    /// A value no path goes into: only its syntax is checked (the same checks, in the
    /// same order, as above).
    fn skip(&mut self, i: usize, depth: usize) -> Next {
        if depth > 256 {
            return Err(self.fail(i, "nested too deeply"));
        }
        let b = self.b;
        match b.get(i) {
            Some(b'"') => match string(self.bits, b, i) {
                Some((e, _)) => Ok(e + 1),
                None => Err(self.fail(i, "unterminated string")),
            },
            Some(b'{') => self.skip_object(i, depth),
            Some(b'[') => self.skip_array(i, depth),
            Some(b'-' | b'0'..=b'9') => Ok(number(b, i)),
            Some(b't') if b[i..].starts_with(b"true") => Ok(i + 4),
            Some(b'f') if b[i..].starts_with(b"false") => Ok(i + 5),
            Some(b'n') if b[i..].starts_with(b"null") => Ok(i + 4),
            _ => Err(self.fail(i, "expected a JSON value")),
        }
    }

    /// A member's value or an element no path goes into: strings (most of them) are
    /// stepped over here, anything else through [`Parser::skip`].
    #[inline(always)]
    fn skip_inline(&mut self, j: usize, depth: usize) -> Next {
        let b = self.b;
        if depth <= 256 {
            match b.get(j) {
                Some(b'"') => {
                    if let Some((e, _)) = string(self.bits, b, j) {
                        return Ok(e + 1);
                    }
                }
                Some(b'{') => return self.skip_object(j, depth),
                Some(b'[') => return self.skip_array(j, depth),
                Some(b'-' | b'0'..=b'9') => return Ok(number(b, j)),
                _ => {}
            }
        }
        self.skip(j, depth)
    }

    fn skip_object(&mut self, i: usize, depth: usize) -> Next {
        let b = self.b;
        let mut j = skip_ws(b, i + 1);
        if b.get(j) == Some(&b'}') {
            return Ok(j + 1);
        }
        loop {
            if b.get(j) != Some(&b'"') {
                return Err(self.fail(j, "expected a key"));
            }
            let Some((ke, _)) = string(self.bits, b, j) else {
                return Err(self.fail(j, "unterminated string"));
            };
            j = ke + 1;
            if b.get(j) != Some(&b':') {
                j = skip_ws(b, j);
                if b.get(j) != Some(&b':') {
                    return Err(self.fail(j, "expected ':'"));
                }
            }
            j = skip_ws(b, j + 1);
            j = self.skip_inline(j, depth + 1)?;
            match b.get(j) {
                Some(b',') => j = skip_ws(b, j + 1),
                Some(b'}') => return Ok(j + 1),
                _ => {
                    j = skip_ws(b, j);
                    match b.get(j) {
                        Some(b',') => j = skip_ws(b, j + 1),
                        Some(b'}') => return Ok(j + 1),
                        _ => return Err(self.fail(j, "expected ',' or '}'")),
                    }
                }
            }
        }
    }

    fn skip_array(&mut self, i: usize, depth: usize) -> Next {
        let b = self.b;
        let mut j = skip_ws(b, i + 1);
        if b.get(j) == Some(&b']') {
            return Ok(j + 1);
        }
        loop {
            j = self.skip_inline(j, depth + 1)?;
            j = skip_ws(b, j);
            match b.get(j) {
                Some(b',') => j = skip_ws(b, j + 1),
                Some(b']') => return Ok(j + 1),
                _ => return Err(self.fail(j, "expected ',' or ']'")),
            }
        }
    }
}

/// `a == b`, without a call to `memcmp` for the short keys of JSON records: up to 16
/// bytes are compared as two (overlapping) eight-byte words.
#[inline(always)]
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let word = |s: &[u8], at: usize| s.get(at..).and_then(|s| s.first_chunk::<8>()).copied();
    match a.len() {
        8..=16 => {
            let last = a.len() - 8;
            word(a, 0) == word(b, 0) && word(a, last) == word(b, last)
        }
        _ => a == b,
    }
}

#[inline]
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    // Every byte JSON allows here other than whitespace is above b' ': one compare
    // settles the common case of no whitespace at all.
    while i < b.len() && b[i] <= b' ' && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// The end of a number starting at `b[i]` (leniently: a run of number characters).
#[inline]
fn number(b: &[u8], i: usize) -> usize {
    let mut j = i + 1;
    while j < b.len() && matches!(b[j], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-') {
        j += 1;
    }
    j
}

/// The flags of a 64-byte block: bit n is set when byte n is a `"` or a `\\`. The
/// compares are a plain loop over the block that LLVM compiles to SSE2 compares (`pcmpeqb`,
/// x86-64's baseline), leaving a byte 0 or 1 per input byte; each eight of those become
/// eight bits with one multiply (byte i, 0 or 1, lands on bit 56 + i of the product, and
/// no two partial products overlap, so nothing carries). About 70 instructions a block;
/// on other targets the same code is correct, only scalar.
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
#[inline]
fn block_flags(c: &[u8; 64]) -> u64 {
    block_flags_portable(c)
}

/// On x86-64 (SSE2 is its baseline): the same flags with `pcmpeqb` and `pmovmskb`
/// through `safe_arch`'s safe wrappers, 16 bytes a step: about 30 instructions a
/// block. A unit test holds it to [`block_flags_portable`].
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline]
fn block_flags(c: &[u8; 64]) -> u64 {
    use safe_arch::{
        bitor_m128i, cmp_eq_mask_i8_m128i, load_unaligned_m128i, move_mask_i8_m128i,
        set_splat_i8_m128i,
    };
    let quote = set_splat_i8_m128i(b'"' as i8);
    let backslash = set_splat_i8_m128i(b'\\' as i8);
    let mut out = 0u64;
    for (k, part) in c.chunks_exact(16).enumerate() {
        let v = load_unaligned_m128i(part.first_chunk::<16>().unwrap_or(&[0; 16]));
        let hit = bitor_m128i(
            cmp_eq_mask_i8_m128i(v, quote),
            cmp_eq_mask_i8_m128i(v, backslash),
        );
        // One bit per byte, in the low 16 bits.
        out |= u64::from(move_mask_i8_m128i(hit) as u16) << (16 * k);
    }
    out
}

/// [`block_flags`] in plain code, for every target (and the reference on x86-64).
#[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2"), allow(dead_code))]
#[inline]
fn block_flags_portable(c: &[u8; 64]) -> u64 {
    let mut f = [0u8; 64];
    for (f, &x) in f.iter_mut().zip(c) {
        *f = u8::from((x == b'"') | (x == b'\\'));
    }
    let mut m = 0u64;
    for (k, w) in f.chunks_exact(8).enumerate() {
        let w = w.first_chunk::<8>().map_or(0, |w| u64::from_le_bytes(*w));
        m |= (w.wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * k);
    }
    m
}

/// Fill `bits` with the flags of `b` (see [`block_flags`]), one word per 64 bytes; the
/// last block is padded with zeros, which are never flagged.
fn index(b: &[u8], bits: &mut Vec<u64>) {
    bits.clear();
    bits.resize(b.len().div_ceil(64), 0);
    let chunks = b.chunks_exact(64);
    let tail = chunks.remainder();
    let mut words = bits.iter_mut();
    // Chunks first: `zip` asks its first iterator first, and would otherwise take the
    // tail's word and drop it.
    for (c, w) in chunks.zip(words.by_ref()) {
        *w = c.first_chunk::<64>().map_or(0, block_flags);
    }
    if let Some(w) = words.next() {
        let mut pad = [0u8; 64];
        pad[..tail.len()].copy_from_slice(tail);
        *w = block_flags(&pad);
    }
}

/// The first `"` or `\\` at or after `j`, from the index of the record (see [`index`]).
#[inline(always)]
fn next_flagged(bits: &[u64], j: usize) -> Option<usize> {
    let mut w = j / 64;
    let mut m = bits.get(w)? & (!0u64 << (j % 64));
    while m == 0 {
        w += 1;
        m = *bits.get(w)?;
    }
    Some(w * 64 + m.trailing_zeros() as usize)
}

/// The string whose opening quote is `b[i]`: its closing quote, and whether it has
/// escapes; `None` when it is not closed.
#[inline(always)]
fn string(bits: &[u64], b: &[u8], i: usize) -> Option<(usize, bool)> {
    let mut j = i + 1;
    let mut escaped = false;
    loop {
        let k = next_flagged(bits, j)?;
        if b[k] == b'"' {
            return Some((k, escaped));
        }
        escaped = true;
        j = k + 2;
        if j >= b.len() {
            return None;
        }
    }
}

/// The text of a string's content with its escapes resolved.
fn unescape(raw: &str) -> Option<String> {
    serde_json::from_str::<String>(&format!("\"{raw}\"")).ok()
}

#[cfg(test)]
mod tests {
    use super::super::tape::Tape;
    use super::*;

    const PATHS: &[&str] = &[
        r#"/"operationName""#,
        r#"/"properties"/"result""#,
        r#"/"properties"/"targetResources"[0]/"displayName""#,
        r#"/"properties"/"targetResources"[0]/"modifiedProperties""#,
        r#"/"properties"/"targetResources"[1]/"type""#,
        r#"/"properties"/"targetResources"[1]"#,
        r#"/"properties"/"initiatedBy"/"user"/"userPrincipalName""#,
        r#"/"properties""#,
        r#"/"durationMs""#,
        r#"/"nope""#,
        r#"/"a""#,
        r#"/"ab""#,
        r#"/"a"[1]/"b""#,
        r#"/"a"[0]"#,
        r#"/"a"/"b""#,
        r#"/"a"/"b"/"c""#,
        r#"/"x"[2]"#,
        "/\"\"",
    ];

    /// The scan and the full tape agree on `text`: the same error, or the same value
    /// for every path.
    fn agree(text: &str) {
        let mut set = PathSet::default();
        let paths: Vec<(KeyPath, PathId)> = PATHS
            .iter()
            .map(|p| {
                let k = KeyPath::parse(p).expect("path");
                let id = set.add(&k);
                (k, id)
            })
            .collect();
        let mut tape = Tape::default();
        let mut scan = Scan::default();
        let want = tape.parse(text).map_err(|e| (e.0, e.1));
        let got = scan.parse(&set, text).map_err(|e| (e.0, e.1));
        assert_eq!(want, got, "{text:?}");
        if want.is_ok() {
            for (k, id) in &paths {
                assert_eq!(
                    tape.extract(text, k),
                    scan.extract(text, *id),
                    "{k} in {text:?}"
                );
            }
        }
    }

    #[test]
    fn agrees_with_the_tape_on_the_corpus_and_edges() {
        let corpus = include_str!("../../qid-maps/tests/events/diagnostic-records.ndjson");
        for line in corpus.lines() {
            agree(line.trim());
        }
        for text in [
            r#"{"a\u0062":"x\"y","ab":"second"}"#,
            r#"{"ab":"first","a\u0062":"second"}"#,
            r#"{"a":1,"a":2}"#,
            r#"{"a":{"c":1},"a":{"b":2}}"#,
            r#"{"a":"s","a":{"b":2}}"#,
            r#"{"a":[1,{"b":true}]}"#,
            r#"{"a":[[1],{"b":null}],"x":[0,1,"two\\"]}"#,
            r#"{"a":"Update application \u2013 x"}"#,
            r#"{"a":"bad \x escape"}"#,
            r#"{"a":""}"#,
            r#"{"":"empty key","a":-1.5e+3}"#,
            r#" { "a" : { "b" : { "c" : "deep" } } } "#,
            "{\"a\":\t[ 1 ,\r\n 2 ]}",
            r#"[1,2,3]"#,
            r#""top""#,
            "true",
            "{}",
            "",
            "{",
            "{\"a\"}",
            "[1,",
            "\"x",
            "\"x\\",
            "{} x",
            "nul",
            "{\"a\":tru}",
            "{\"a\":1,}",
            "{1:2}",
            "{\"a\":[1,2,}",
            "{\"a\" 1}",
            "{\"a\":\"12345678901234567890123456789012345678901234567890\\\"\"}",
        ] {
            agree(text);
        }
        let deep = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
        agree(&deep(256));
        agree(&deep(257));
        agree(&format!("{}1{}", "{\"a\":".repeat(300), "}".repeat(300)));
    }

    /// What [`next_flagged`] must give: a byte-by-byte search.
    fn naive(b: &[u8], j: usize) -> Option<usize> {
        b.get(j..)?
            .iter()
            .position(|&c| c == b'"' || c == b'\\')
            .map(|k| j + k)
    }

    fn index_agrees(b: &[u8]) {
        let mut bits = Vec::new();
        index(b, &mut bits);
        assert_eq!(bits.len(), b.len().div_ceil(64));
        for j in 0..=b.len() + 1 {
            assert_eq!(next_flagged(&bits, j), naive(b, j), "{j} in {b:?}");
        }
    }

    /// The target's block flags (SSE2 on x86-64) equal the plain code's on every byte
    /// value at every place of a block, and on pseudo-random blocks.
    #[test]
    fn block_flags_agree_with_the_portable_code() {
        let all: Vec<u8> = (0..=255u8)
            .chain((0..=255u8).rev())
            .chain(0..=255u8)
            .collect();
        for skip in 0..all.len() - 64 {
            let block: &[u8; 64] = all[skip..skip + 64].first_chunk().expect("64 bytes");
            assert_eq!(block_flags(block), block_flags_portable(block), "at {skip}");
        }
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..10_000 {
            let mut block = [0u8; 64];
            for b in &mut block {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Mostly quotes, backslashes and their neighbours in value.
                *b = [
                    b'"',
                    b'\\',
                    b'!',
                    b'#',
                    b'[',
                    b']',
                    0xA2,
                    0xDC,
                    (x >> 32) as u8,
                ][(x % 9) as usize];
            }
            assert_eq!(
                block_flags(&block),
                block_flags_portable(&block),
                "{block:?}"
            );
        }
    }

    #[test]
    fn finds_quotes_and_backslashes_at_every_offset() {
        for len in 0..200 {
            for at in 0..len {
                for c in [b'"', b'\\'] {
                    let mut b = vec![b'x'; len];
                    b[at] = c;
                    // Bytes next to one, high bit set or not, must not be taken for one.
                    if at > 0 {
                        b[at - 1] = 0xA2;
                    }
                    if at + 1 < len {
                        b[at + 1] = b'"' ^ 0x80;
                    }
                    index_agrees(&b);
                }
            }
            index_agrees(&vec![b'x'; len]);
            index_agrees(&vec![b'"'; len]);
            index_agrees(&vec![b'\\'; len]);
        }
        // Every byte value, at every place of a block.
        let all: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
        for skip in 0..64 {
            index_agrees(&all[skip..]);
        }
    }

    #[test]
    fn strings_across_block_boundaries_agree_with_the_tape() {
        // Records shorter than a block, a block long, and longer; strings that end, escape
        // or break off on either side of a 64-byte boundary.
        for pad in 0..140 {
            let x = "x".repeat(pad);
            for text in [
                format!(r#"{{"a":"{x}"}}"#),
                format!(r#"{{"a":"{x}\"","b":1}}"#),
                format!(r#"{{"a":"{x}\\","b":"y"}}"#),
                format!(r#"{{"a":"{x}\\\"","b":"y"}}"#),
                format!(r#"{{"a":"{x}\u2013","ab":"{x}"}}"#),
                format!(r#"{{"{x}":1,"a":"{x}"}}"#),
                format!(r#"{{"a":"{x}"#),
                format!(r#"{{"a":"{x}\"#),
                format!(r#"{{"a":"{x}\""#),
                format!("{{\"a\":\"{x}\u{1}\t\u{7f}é\"}}"),
                format!(r#"{{"a":["{x}",{{"b":"{x}\\"}}]}}"#),
                format!(r#"{{"a":"{x}"}}   "#),
                format!(r#"{{"a":"{x}"}} "x""#),
            ] {
                agree(&text);
            }
        }
    }

    mod generated {
        use super::*;
        use proptest::prelude::*;

        /// JSON-ish text built from the pieces that matter: keys the paths use,
        /// escapes, nesting, and now and then a broken or missing piece.
        fn text() -> impl Strategy<Value = String> {
            let atom = prop_oneof![
                Just("1".to_string()),
                Just("-2.5e3".to_string()),
                Just("true".to_string()),
                Just("null".to_string()),
                Just("\"s\"".to_string()),
                Just("\"\"".to_string()),
                Just("\"a\\\"b\\\\\"".to_string()),
                Just("\"\\u2013\"".to_string()),
                Just("\"\\q\"".to_string()),
                Just("tru".to_string()),
                Just("\"unterminated".to_string()),
                // Long strings with escapes anywhere, or a final backslash that eats the
                // closing quote.
                "[ab\\\\\"]{0,70}".prop_map(|s| format!("\"{s}\"")),
            ];
            let key = prop_oneof![
                Just("\"a\"".to_string()),
                Just("\"b\"".to_string()),
                Just("\"c\"".to_string()),
                Just("\"a\\u0062\"".to_string()),
                Just("\"properties\"".to_string()),
                Just("\"x\"".to_string()),
                Just("\"\"".to_string()),
                Just("1".to_string()),
            ];
            atom.prop_recursive(6, 128, 8, move |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..5)
                        .prop_map(|v| format!("[{}]", v.join(","))),
                    prop::collection::vec((key.clone(), inner.clone()), 0..5).prop_map(|v| {
                        let members: Vec<String> =
                            v.into_iter().map(|(k, v)| format!("{k} : {v}")).collect();
                        format!("{{{}}}", members.join(","))
                    }),
                    (inner.clone(), 0..4usize).prop_map(|(s, cut)| {
                        // Drop a byte now and then: truncation and stray text.
                        match cut {
                            0 if !s.is_empty() => s[..s.len() - 1].to_string(),
                            1 => format!("{s} x"),
                            _ => s,
                        }
                    }),
                ]
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig {
                cases: 2000,
                failure_persistence: None,
                rng_seed: proptest::test_runner::RngSeed::Fixed(0x7363_616e),
                ..ProptestConfig::default()
            })]
            #[test]
            fn scan_and_tape_agree(t in text()) {
                agree(&t);
            }

            #[test]
            fn index_agrees_with_a_byte_search(
                b in prop::collection::vec(
                    prop_oneof![Just(b'"'), Just(b'\\'), Just(b'x'), any::<u8>()],
                    0..300,
                ),
            ) {
                index_agrees(&b);
            }
        }
    }
}
