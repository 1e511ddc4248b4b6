//! Streaming reader of QRadar's content XML: `<content>`, `<qradarversion>`, then flat
//! rows of simple columns. One row is in memory at a time, with the position of every
//! element, so a 500 MB export reads in flat memory. No DOCTYPE, so no entity is ever
//! declared or expanded.

use std::io::BufRead;

use quick_xml::Reader;
use quick_xml::events::{BytesEnd, BytesStart, Event};

use super::tracked::{Pos, TokenTooLong};
use crate::content::Row;

/// A column as read, with where its element starts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ColumnAt {
    pub name: String,
    pub value: String,
    pub pos: Pos,
}

/// A row as read, with where its element starts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RowAt {
    pub table: String,
    pub pos: Pos,
    pub columns: Vec<ColumnAt>,
}

impl RowAt {
    pub fn get(&self, name: &str) -> Option<&ColumnAt> {
        self.columns.iter().find(|c| same_name(&c.name, name))
    }
    pub fn value(&self, name: &str) -> Option<&str> {
        self.get(name).map(|c| c.value.as_str())
    }
    /// Where a column is, or the row when the column is absent.
    pub fn pos_of(&self, name: &str) -> Pos {
        self.get(name).map_or(self.pos, |c| c.pos)
    }
    pub fn to_row(&self) -> Row {
        Row {
            table: self.table.clone(),
            columns: self
                .columns
                .iter()
                .map(|c| (c.name.clone(), c.value.clone()))
                .collect(),
        }
    }
}

/// Whether two (short) names are equal, compared in place: the checks look columns up by
/// name a dozen times per row, and a call to `memcmp` per comparison showed in profiles.
#[inline]
pub fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[at..at + 8]);
        u64::from_le_bytes(w)
    };
    match n {
        // Two overlapping words cover 8 to 16 bytes.
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        0..=7 => a.iter().zip(b).all(|(x, y)| x == y),
        _ => a == b,
    }
}

/// What the reader hands out, in document order. A row is lent, not given: its buffers
/// are reused for the next row, so reading allocates little however many rows there are.
/// The borrower may swap the row for another one (`std::mem::swap`): the reader then
/// reuses that one's buffers instead.
#[derive(Debug)]
pub enum Item<'r> {
    /// `<qradarversion>`'s text.
    Version(String, Pos),
    Row(&'r mut RowAt),
}

/// Why reading stopped: the file is not a content XML QRadar could read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stop {
    pub kind: StopKind,
    pub message: String,
    pub pos: Pos,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopKind {
    /// Not well-formed XML, or not UTF-8.
    Syntax,
    /// A DOCTYPE (entity declarations).
    Doctype,
    /// The root is not `<content>`.
    Root,
    /// Elements nested deeper than row > column.
    Depth,
    /// A single token over the size limit.
    TokenTooLong,
    /// The input could not be read (I/O, a corrupt compressed stream).
    Io,
}

/// Bounds on what one content XML may hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest single token (tag or text) in bytes.
    pub max_token: u64,
    /// Most columns in one row.
    pub max_columns: usize,
    /// Read plain rows with the byte-level fast path ([`fast`]); quick-xml reads all
    /// else. Off only to compare the two.
    pub fast_path: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_token: 64 << 20,
            max_columns: 4096,
            fast_path: true,
        }
    }
}

/// Read rows from `input`, handing each to `on` as soon as it is complete. Stops at the
/// first structural problem.
///
/// The input is read into a window of bytes that quick-xml parses in place (its borrowing
/// slice reader, without copying every token into a buffer). A window rarely ends on a
/// token boundary, so the reader keeps a *mark*: the last place, just after a tag, where
/// the document can be cut and parsing resumed with a fresh quick-xml reader in the same
/// state (its open elements re-declared by a short primer such as `<content><qidmap>`).
/// Whatever was read after the mark when the window ran out (a partial row or column) is
/// undone, more input is appended, and parsing resumes at the mark. Every finding is
/// therefore made on whole tokens, exactly as a reader fed the whole file would make it.
pub fn read_rows<R: BufRead>(
    input: R,
    limits: Limits,
    on: impl FnMut(Item<'_>),
) -> Result<(), Stop> {
    read_rows_from(Plain(input), limits, on)
}

/// Free bytes a [`Source`] leaves in front of a chunk it hands over whole: room for the
/// unfinished end of the last window, so that neither has to be copied after the other.
pub const HEADROOM: usize = 64 << 10;

/// Where [`read_rows_from`] takes its bytes: chunk by chunk, as `BufRead::fill_buf` hands
/// them out.
pub trait Source {
    fn fill(&mut self) -> std::io::Result<&[u8]>;
    /// `n` bytes of what [`Source::fill`] gave are used.
    fn used(&mut self, n: usize);
    /// The next chunk whole, in a buffer whose first [`HEADROOM`] bytes are free: saves
    /// copying it. `None` when this source cannot (then [`Source::fill`] is used, and
    /// tells about the end of the input or an error).
    fn take(&mut self) -> Option<Vec<u8>> {
        None
    }
    /// A buffer [`Source::take`] gave, now spent, for the source to reuse.
    fn give_back(&mut self, _spent: Vec<u8>) {}
}

/// Any `BufRead` as a [`Source`].
pub struct Plain<R>(pub R);

impl<R: BufRead> Source for Plain<R> {
    fn fill(&mut self) -> std::io::Result<&[u8]> {
        self.0.fill_buf()
    }
    fn used(&mut self, n: usize) {
        self.0.consume(n);
    }
}

/// [`read_rows`] from any [`Source`].
pub fn read_rows_from<S: Source>(
    mut input: S,
    limits: Limits,
    mut on: impl FnMut(Item<'_>),
) -> Result<(), Stop> {
    let mut win = Window {
        buf: Vec::new(),
        start: 0,
        base: 0,
        eof: false,
        overlong: false,
    };
    let mut st = Builder::default();
    let mut mark = Mark {
        offset: 0,
        pos: Pos::START,
        depth: 0,
        columns: 0,
        seen_root: false,
        fresh: true,
    };
    loop {
        match parse(&win, &mut st, &mut mark, limits, &mut on)? {
            Parsed::Done => return Ok(()),
            // Only before the end of the input.
            Parsed::NeedMore => st.rollback(&mark),
        }
        win.refill(&mut input, &mut mark, limits)?;
    }
}

/// The bytes being parsed: everything from the mark to what has been read so far, in
/// `buf[start..]`.
struct Window {
    buf: Vec<u8>,
    start: usize,
    /// The file offset of `buf[start]`.
    base: u64,
    /// The input has no more bytes.
    eof: bool,
    /// The window ends more than the token limit past the last `<` or `>`: once what
    /// comes before is parsed, reading stops there.
    overlong: bool,
}

impl Window {
    fn data(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Drop the bytes before the mark, then append input until parsing can make progress:
    /// at least half as many new bytes as the unfinished tail holds (so a long token is
    /// parsed a few times, not once per chunk) and a byte that can end a token.
    ///
    /// The token limit is checked here, as each chunk of input arrives: reading stops
    /// when more than `max_token` bytes have passed since the last `<` or `>`, that is,
    /// when a token is still unfinished after that many bytes. So the window never holds
    /// much more than one token of the limit's size.
    fn refill<S: Source>(
        &mut self,
        input: &mut S,
        mark: &mut Mark,
        limits: Limits,
    ) -> Result<(), Stop> {
        let keep = (mark.offset - self.base) as usize;
        let from = (mark.pos.offset - self.base) as usize;
        mark.pos.advance(&self.data()[from..keep]);
        self.base = mark.offset;
        let tail = self.data().len() - keep;
        // Bytes since the last `<` or `>`: the token being read. The mark is just after
        // a `>` (or at the start of the file), so the tail holds the whole count.
        let mut since = match memchr::memrchr2(b'<', b'>', &self.data()[keep..]) {
            Some(i) => (tail - i - 1) as u64,
            None => tail as u64,
        };
        let mut fresh = 0usize;
        let mut can_end = false;
        // What one chunk of input changes; true when parsing can go on.
        let mut arrived = |chunk: &[u8], since: &mut u64, overlong: &mut bool| {
            let n = chunk.len();
            can_end = can_end
                || memchr::memchr3(b'<', b'>', b'&', chunk).is_some()
                || memchr::memchr(b';', chunk).is_some();
            *since = match memchr::memrchr2(b'<', b'>', chunk) {
                Some(i) => (n - i - 1) as u64,
                None => *since + n as u64,
            };
            fresh += n;
            if *since > limits.max_token {
                *overlong = true;
                return true;
            }
            can_end && fresh * 2 >= tail
        };
        // The next chunk whole, with the tail copied into the room in front of it.
        let taken = if tail <= HEADROOM { input.take() } else { None };
        if let Some(mut next) = taken {
            let at = HEADROOM - tail;
            next[at..HEADROOM].copy_from_slice(&self.data()[keep..]);
            let spent = std::mem::replace(&mut self.buf, next);
            self.start = at;
            input.give_back(spent);
            let mut overlong = false;
            if arrived(&self.buf[HEADROOM..], &mut since, &mut overlong) {
                self.overlong = overlong;
                return Ok(());
            }
        } else {
            self.buf.drain(..self.start + keep);
            self.start = 0;
            // After a very long token, give the memory back.
            if self.buf.capacity() > 8 << 20 && self.buf.len() < self.buf.capacity() / 4 {
                self.buf.shrink_to((self.buf.len() * 2).max(1 << 20));
            }
        }
        loop {
            let chunk = match input.fill() {
                Ok(c) => c,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(Stop {
                        kind: StopKind::Io,
                        message: e.to_string(),
                        pos: self.end_pos(mark),
                    });
                }
            };
            if chunk.is_empty() {
                self.eof = true;
                return Ok(());
            }
            let n = chunk.len();
            if self.buf.len() + n > self.buf.capacity() && self.buf.len() > 1 << 20 {
                // A long token: make room for the longest allowed at once. Growing by
                // doubling would leave each smaller copy behind in the allocator's heap
                // (only the pages used count towards memory).
                let most = (limits.max_token.min(1 << 30) as usize).saturating_add(4 * n);
                self.buf
                    .reserve_exact(most.max(self.buf.len() + n) - self.buf.len());
            }
            self.buf.extend_from_slice(chunk);
            input.used(n);
            let mut overlong = false;
            let start = self.buf.len() - n;
            if arrived(&self.buf[start..], &mut since, &mut overlong) {
                self.overlong = overlong;
                return Ok(());
            }
        }
    }

    /// The position after the last byte read.
    fn end_pos(&self, mark: &Mark) -> Pos {
        let mut p = mark.pos;
        p.advance(&self.data()[(p.offset - self.base) as usize..]);
        p
    }
}

/// A place where parsing can resume: just after a tag (or the start of the file), with
/// what the row builder held there.
#[derive(Debug, Clone, Copy)]
struct Mark {
    /// The file offset where parsing resumes.
    offset: u64,
    /// A position at or before `offset` (positions are counted only when needed).
    pos: Pos,
    /// Open elements: 0 (outside the root), 1 (`<content>`) or 2 (a row).
    depth: usize,
    /// Columns of the open row read so far.
    columns: usize,
    seen_root: bool,
    /// Nothing has been parsed yet: the reader starts in its initial state (byte-order
    /// mark, XML declaration).
    fresh: bool,
}

/// What the reader holds between tokens.
#[derive(Default)]
struct Builder {
    depth: usize,
    row: Option<RowAt>,
    /// A column is open: the last of the open row's columns (or `orphan`).
    col_open: bool,
    /// The open column when no row is (an element inside `<qradarversion>`): read, and
    /// then dropped.
    orphan: ColumnAt,
    // Spent rows' buffers, reused.
    spare_row: Option<RowAt>,
    spare_cols: Vec<ColumnAt>,
    name: String,
    version: Option<(String, Pos)>,
    in_version: bool,
    seen_root: bool,
    primer: Vec<u8>,
    /// The open row's name is one a primer can repeat verbatim.
    simple_table: bool,
}

impl Builder {
    /// Undo what was read after `mark`.
    fn rollback(&mut self, mark: &Mark) {
        self.depth = mark.depth;
        self.seen_root = mark.seen_root;
        // An open column is among the row's columns, which are cut back below.
        self.col_open = false;
        if self.in_version {
            // Opened after the mark: the version was not read yet.
            self.in_version = false;
            self.version = None;
        }
        if mark.depth == 2 {
            if let Some(r) = self.row.as_mut() {
                self.spare_cols.extend(r.columns.drain(mark.columns..));
            }
        } else if let Some(mut r) = self.row.take() {
            self.spare_cols.append(&mut r.columns);
            self.spare_row = Some(r);
        }
    }

    /// Write the start tags that put a fresh quick-xml reader in the state it had at
    /// `mark` into `out`; returns how many events they make.
    fn primer(&self, mark: &Mark, out: &mut Vec<u8>) -> usize {
        out.clear();
        if mark.fresh {
            return 0;
        }
        match mark.depth {
            // Past the initial state (byte-order mark, declaration), nothing open.
            0 => {
                out.extend_from_slice(b"<!---->");
                1
            }
            1 => {
                out.extend_from_slice(b"<content>");
                1
            }
            _ => {
                let table = self.row.as_ref().map_or("", |r| r.table.as_str());
                out.extend_from_slice(b"<content><");
                out.extend_from_slice(table.as_bytes());
                out.push(b'>');
                2
            }
        }
    }

    /// Whether parsing could resume here with a primer: between tags, outside any
    /// column, and (inside a row) with a row name the primer can repeat verbatim.
    fn resumable(&self) -> bool {
        !self.col_open
            && !self.in_version
            && match self.depth {
                0 | 1 => true,
                2 => self.row.is_some() && self.simple_table,
                _ => false,
            }
    }
}

enum Parsed {
    Done,
    /// The window ended inside a token: undo to the mark and read more.
    NeedMore,
}

/// Positions of offsets in the window, counted forward from the last one asked.
struct Counter<'w> {
    data: &'w [u8],
    base: u64,
    pos: Pos,
}

impl Counter<'_> {
    fn at(&mut self, offset: u64) -> Pos {
        let from = (self.pos.offset - self.base) as usize;
        let to = ((offset - self.base) as usize).min(self.data.len());
        if to > from {
            self.pos.advance(&self.data[from..to]);
        }
        self.pos
    }
}

/// Parse the window from the mark: plain rows with the fast path, everything else with
/// quick-xml. Items are handed out as they complete; the mark moves past every place
/// parsing could resume from.
fn parse(
    win: &Window,
    st: &mut Builder,
    mark: &mut Mark,
    limits: Limits,
    on: &mut impl FnMut(Item<'_>),
) -> Result<Parsed, Stop> {
    let mut counter = Counter {
        data: win.data(),
        base: win.base,
        pos: mark.pos,
    };
    // The window as text for the fast path, as far as it is valid UTF-8 (a character
    // may be cut at its end): checked once here rather than token by token; slices of it
    // are then text without another check.
    let text = if limits.fast_path {
        match std::str::from_utf8(win.data()) {
            Ok(t) => t,
            Err(e) => std::str::from_utf8(&win.data()[..e.valid_up_to()]).unwrap_or(""),
        }
    } else {
        ""
    };
    loop {
        let resume_after = if limits.fast_path && fast_resumes(mark) {
            Some(fast(win, text, st, mark, &mut counter, limits, on)?)
        } else {
            None
        };
        counter.pos = mark.pos;
        match parse_quick(win, st, mark, &mut counter, limits, on, resume_after)? {
            Step::Parsed(p) => return Ok(p),
            Step::Fast => {}
        }
    }
}

/// What [`parse_quick`] stopped at.
enum Step {
    Parsed(Parsed),
    /// Past what the fast path left to quick-xml, at a place the fast path can resume.
    Fast,
}

/// Whether the fast path can start at `mark`: between elements inside `<content>`.
fn fast_resumes(mark: &Mark) -> bool {
    !mark.fresh && mark.seen_root && (mark.depth == 1 || mark.depth == 2)
}

/// Parse the window from the mark with quick-xml; when `resume_after` is given, hand
/// back to the fast path at the first mark past it.
#[allow(clippy::too_many_arguments)]
fn parse_quick(
    win: &Window,
    st: &mut Builder,
    mark: &mut Mark,
    counter: &mut Counter<'_>,
    limits: Limits,
    on: &mut impl FnMut(Item<'_>),
    resume_after: Option<u64>,
) -> Result<Step, Stop> {
    let stop = |kind, message: String, pos| Stop { kind, message, pos };
    let mut primer = std::mem::take(&mut st.primer);
    let primer_events = st.primer(mark, &mut primer);
    // Where this parse starts (the mark moves on as parsing goes).
    let origin = mark.offset;
    let slice = &win.data()[(origin - win.base) as usize..];
    let total = slice.len() as u64;
    let mut reader = Reader::from_reader(&primer[..]);
    for _ in 0..primer_events {
        // The primer is well-formed by construction; a failure here is a bug, reported
        // as a stop rather than a panic.
        if !matches!(reader.read_event(), Ok(Event::Start(_) | Event::Comment(_))) {
            return Err(stop(
                StopKind::Syntax,
                "internal error: the reader could not resume".into(),
                mark.pos,
            ));
        }
    }
    let primer_len = primer.len() as u64;
    let mark_was_fresh = mark.fresh;
    *reader.get_mut() = slice;
    reader.config_mut().trim_text_start = !st.col_open && !st.in_version;
    let bom = if mark.fresh && slice.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    // The window ran out inside a token: read more, unless the token is too long.
    let need_more = |counter: &mut Counter<'_>| {
        if win.overlong {
            Err(stop(
                StopKind::TokenTooLong,
                TokenTooLong(limits.max_token).to_string(),
                counter.at(win.base + win.data().len() as u64),
            ))
        } else {
            Ok(Step::Parsed(Parsed::NeedMore))
        }
    };
    let result = loop {
        // Where the event starts, and where its token starts after the whitespace
        // quick-xml skips between elements (see below): text is placed at the first,
        // markup at the second, as when that whitespace was an event of its own.
        let at_offset = origin + (total - reader.get_ref().len() as u64);
        let tok_offset = if reader.config().trim_text_start {
            let mut rest: &[u8] = reader.get_ref();
            let mut lead = 0;
            if at_offset == origin && mark_was_fresh && rest.starts_with(b"\xEF\xBB\xBF") {
                // The byte-order mark quick-xml drops before anything else (it belongs to
                // the first event, whitespace or not).
                rest = &rest[3..];
                lead = 3;
            }
            match rest
                .iter()
                .position(|&b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
                .unwrap_or(rest.len())
            {
                0 => at_offset,
                ws => at_offset + (lead + ws) as u64,
            }
        } else {
            at_offset
        };
        let ev = match reader.read_event() {
            Ok(ev) => ev,
            Err(e) => {
                let window_end = win.base + win.data().len() as u64;
                // quick-xml stops at (or just before: a `<` or `<!` it only peeked at)
                // the end of its input when a token has no end there: the token may just
                // be cut short by the window's end. It does not count a byte-order mark.
                let stopped_at = origin + reader.buffer_position() - primer_len + bom;
                if !win.eof && stopped_at + 2 >= window_end {
                    break need_more(counter);
                }
                // Find the error again with a stream reader, from the last mark: where it
                // stands then is where the error is reported.
                let mut again = Vec::new();
                st.primer(mark, &mut again);
                let from = &win.data()[(mark.offset - win.base) as usize..];
                let (consumed, again_err) = consumed_at_error(&again, from);
                let err_offset = mark.offset + consumed - again.len() as u64;
                if !win.eof && err_offset >= window_end {
                    break need_more(counter);
                }
                // Its error too: it reads whitespace between elements as text of its own,
                // which some messages count in (an offset into the text).
                let (kind, message) = classify(again_err.as_ref().unwrap_or(&e));
                break Err(stop(kind, message, counter.at(err_offset)));
            }
        };
        if !win.eof && reader.get_ref().is_empty() && matches!(ev, Event::Text(_)) {
            // Text running to the window's end is only the first part of a text: the
            // whole of it may read differently (a UTF-8 error further on comes first).
            break need_more(counter);
        }
        let end_offset = origin + (total - reader.get_ref().len() as u64);
        let handled = handle(ev, st, counter, (at_offset, tok_offset), limits, on);
        // Between elements (outside a column and `<qradarversion>`), where text is only
        // the layout's line breaks and tabs, quick-xml skips leading whitespace itself
        // instead of handing it out as an event: a quarter fewer events. Nothing is lost:
        // that text is never kept, whitespace is always allowed, and what follows it is
        // still handed out, from the same starting position.
        reader.config_mut().trim_text_start = !st.col_open && !st.in_version;
        match handled {
            Err(s) => break Err(s),
            Ok(Handled::Eof) => {
                if !win.eof {
                    break need_more(counter);
                }
                if st.depth > 0 {
                    break Err(stop(
                        StopKind::Syntax,
                        "the file ends inside an element (truncated?)".into(),
                        counter.at(tok_offset),
                    ));
                }
                if !st.seen_root {
                    break Err(stop(
                        StopKind::Root,
                        "no <content> element: this is not a content XML".into(),
                        counter.at(tok_offset),
                    ));
                }
                break Ok(Step::Parsed(Parsed::Done));
            }
            Ok(Handled::Text) => {}
            Ok(Handled::Markup) => {
                if set_mark(st, mark, counter, end_offset)
                    && resume_after.is_some_and(|q| end_offset > q)
                    && fast_resumes(mark)
                {
                    break Ok(Step::Fast);
                }
            }
        }
    };
    st.primer = primer;
    result
}

/// Move the mark to `offset` (just after a tag) if parsing can resume there; returns
/// whether it moved.
fn set_mark(st: &Builder, mark: &mut Mark, counter: &Counter<'_>, offset: u64) -> bool {
    if !st.resumable() {
        return false;
    }
    *mark = Mark {
        offset,
        pos: counter.pos,
        depth: st.depth,
        columns: st.row.as_ref().map_or(0, |r| r.columns.len()),
        seen_root: st.seen_root,
        fresh: false,
    };
    true
}

/// Whether `b` may be in a name the fast path reads: ASCII letters, digits, `_`, `-`
/// and `.` (QRadar's row and column names are lowercase words with underscores).
fn name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// The fast path: the rows of a content XML as QRadar writes them, read straight from
/// the bytes, starting at `mark` (between elements inside `<content>`).
///
/// It reads only this much XML: whitespace between elements; `<name>` and `<name/>`
/// with a plain name and no attribute; inside a column, text with no `&`, no control
/// character, no carriage return, no 0xEF byte and valid UTF-8, then exactly the
/// column's `</name>`; a row's or `<content>`'s `</name>`. For these, quick-xml would hand
/// out exactly the same events (the same names, the same text, from the same places), and
/// they go through the same [`handle`]. Anything else (a comment, CDATA, a reference, an
/// attribute, `<qradarversion>`, the end of the window, or something wrong) is left to
/// quick-xml: the fast path undoes what it read past the mark and returns where it
/// stopped; [`parse_quick`] reads on from the mark and hands back at the next mark past
/// that place. It never reports a problem: quick-xml does, as if the fast path did not
/// exist (a test reads every input both ways). Most of an export's tokens take this path,
/// at a fraction of the cost of quick-xml's general reader.
fn fast(
    win: &Window,
    text: &str,
    st: &mut Builder,
    mark: &mut Mark,
    counter: &mut Counter<'_>,
    limits: Limits,
    on: &mut impl FnMut(Item<'_>),
) -> Result<u64, Stop> {
    let data = text.as_bytes();
    let base = win.base;
    let mut p = (mark.offset - base) as usize;
    let defer = |st: &mut Builder, mark: &Mark, at: usize| {
        st.rollback(mark);
        Ok(base + at as u64)
    };
    // Line feeds passed since the counter's position, and where the last one is, while
    // nothing but tags and single-line text was passed: the next tag's position then
    // follows without counting again (the export's layout puts each tag on a new line).
    let mut lines = 0u64;
    let mut last_lf: Option<usize> = None;
    // The counter may stand before the mark (it stays where a position was last asked).
    let mut counted = counter.pos.offset == mark.offset;
    loop {
        if st.in_version || st.col_open || !(st.depth == 1 || st.depth == 2) {
            return defer(st, mark, p);
        }
        let ws = p;
        while p < data.len() && matches!(data[p], b' ' | b'\t' | b'\r' | b'\n') {
            if data[p] == b'\n' {
                lines += 1;
                last_lf = Some(p);
            }
            p += 1;
        }
        let tag = p;
        if data.get(p) != Some(&b'<') || p + 1 >= data.len() {
            return defer(st, mark, p);
        }
        let offsets = (base + ws as u64, base + tag as u64);
        // Where the tag is: after a line feed in the whitespace before it, the column is
        // its distance from that line feed (whitespace is ASCII).
        match last_lf {
            Some(lf) if counted && lf >= ws => {
                counter.pos = Pos {
                    line: counter.pos.line + lines,
                    column: (tag - lf) as u64,
                    offset: base + tag as u64,
                };
            }
            _ => {
                counter.at(base + tag as u64);
            }
        }
        lines = 0;
        last_lf = None;
        counted = true;
        if data[p + 1] == b'/' {
            // The end of the open row, or of `<content>`.
            let open = match st.depth {
                2 => st.row.as_ref().map_or("", |r| r.table.as_str()),
                _ => "content",
            };
            let end = p + 2 + open.len();
            if open.is_empty()
                || data.get(p + 2..end) != Some(open.as_bytes())
                || data.get(end) != Some(&b'>')
            {
                return defer(st, mark, tag);
            }
            let Some(name) = text.get(p + 2..end) else {
                return defer(st, mark, tag);
            };
            handle(
                Event::End(BytesEnd::new(name)),
                st,
                counter,
                offsets,
                limits,
                on,
            )?;
            p = end + 1;
            set_mark(st, mark, counter, base + p as u64);
            continue;
        }
        let name_end = p + 1 + data[p + 1..].iter().take_while(|&&b| name_byte(b)).count();
        let empty = match data.get(name_end) {
            _ if name_end == p + 1 => return defer(st, mark, tag),
            Some(b'>') => false,
            Some(b'/') if data.get(name_end + 1) == Some(&b'>') => true,
            _ => return defer(st, mark, tag),
        };
        let Some(name) = text.get(p + 1..name_end) else {
            return defer(st, mark, tag);
        };
        if st.depth == 1 && name == "qradarversion" {
            return defer(st, mark, tag);
        }
        if empty {
            handle(
                Event::Empty(BytesStart::new(name)),
                st,
                counter,
                offsets,
                limits,
                on,
            )?;
            p = name_end + 2;
            set_mark(st, mark, counter, base + p as u64);
            continue;
        }
        handle(
            Event::Start(BytesStart::new(name)),
            st,
            counter,
            offsets,
            limits,
            on,
        )?;
        p = name_end + 1;
        if st.depth == 2 {
            // A row has begun.
            set_mark(st, mark, counter, base + p as u64);
            continue;
        }
        // A column: its text, then its end.
        let Some(len) = memchr::memchr2(b'<', b'&', &data[p..]) else {
            return defer(st, mark, tag);
        };
        let close = p + len;
        let end = close + 2 + name.len();
        let value = match text.get(p..close) {
            Some(v)
                if data[close] == b'<'
                    && data.get(close + 1) == Some(&b'/')
                    && data.get(close + 2..end) == Some(name.as_bytes())
                    && data.get(end) == Some(&b'>')
                    && !needs_a_look(v.as_bytes()) =>
            {
                v
            }
            _ => return defer(st, mark, tag),
        };
        if memchr::memchr(b'\n', value.as_bytes()).is_some() {
            // A multi-line value: the next position is counted.
            counted = false;
        }
        // What `handle` does with such a text inside a column.
        st.push_text(value);
        handle(
            Event::End(BytesEnd::new(name)),
            st,
            counter,
            (base + close as u64, base + close as u64),
            limits,
            on,
        )?;
        p = end + 1;
        set_mark(st, mark, counter, base + p as u64);
    }
}

/// How many bytes of `primer` + `slice` a reader of a stream (quick-xml's default
/// settings) has consumed when it reports its first error in them, and that error. That
/// is where the error is reported: quick-xml's slice reader stops a byte or two earlier
/// for some errors (a `<` or `<!` it has only peeked at).
fn consumed_at_error(primer: &[u8], slice: &[u8]) -> (u64, Option<quick_xml::Error>) {
    /// `primer` then `slice`, counting what is consumed, without copying either.
    struct Counting<'a> {
        parts: [&'a [u8]; 2],
        consumed: usize,
    }
    impl Counting<'_> {
        fn rest(&self) -> &[u8] {
            let first = self.parts[0].len();
            if self.consumed < first {
                &self.parts[0][self.consumed..]
            } else {
                &self.parts[1][(self.consumed - first).min(self.parts[1].len())..]
            }
        }
    }
    impl std::io::Read for Counting<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let rest = self.rest();
            let n = rest.len().min(out.len());
            out[..n].copy_from_slice(&rest[..n]);
            self.consumed += n;
            Ok(n)
        }
    }
    impl BufRead for Counting<'_> {
        fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
            Ok(self.rest())
        }
        fn consume(&mut self, n: usize) {
            self.consumed += n.min(self.rest().len());
        }
    }
    let mut reader = Reader::from_reader(Counting {
        parts: [primer, slice],
        consumed: 0,
    });
    let mut buf = Vec::new();
    let error = loop {
        match reader.read_event_into(&mut buf) {
            Err(e) => break Some(e),
            Ok(Event::Eof) => break None,
            Ok(_) => buf.clear(),
        }
    };
    (reader.get_ref().consumed as u64, error)
}

enum Handled {
    /// A tag, comment, declaration or processing instruction (it ends with `>`).
    Markup,
    /// Text or a reference.
    Text,
    Eof,
}

/// Apply one event to the builder, handing out what completes.
fn handle(
    ev: Event<'_>,
    st: &mut Builder,
    counter: &mut Counter<'_>,
    (at_offset, tok_offset): (u64, u64),
    limits: Limits,
    on: &mut impl FnMut(Item<'_>),
) -> Result<Handled, Stop> {
    let stop = |kind, message: String, pos| Stop { kind, message, pos };
    match ev {
        Event::Eof => return Ok(Handled::Eof),
        Event::DocType(_) => {
            return Err(stop(
                StopKind::Doctype,
                "a DOCTYPE declaration: content XML never has one, and entities are never expanded"
                    .into(),
                counter.at(tok_offset),
            ));
        }
        Event::Start(s) => {
            let at = counter.at(tok_offset);
            st.name.clear();
            st.name.push_str(s.name().as_ref());
            st.depth += 1;
            match st.depth {
                1 if st.name == "content" => st.seen_root = true,
                1 => {
                    return Err(stop(
                        StopKind::Root,
                        format!("the root element is <{}>, not <content>", st.name),
                        at,
                    ));
                }
                2 if st.name == "qradarversion" && st.version.is_none() => {
                    st.in_version = true;
                    st.version = Some((String::new(), at));
                }
                2 => {
                    let mut r = st.spare_row.take().unwrap_or_default();
                    r.table.clear();
                    r.table.push_str(&st.name);
                    r.pos = at;
                    st.simple_table = !r.table.is_empty()
                        && r.table
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
                    st.row = Some(r);
                }
                3 => {
                    if st
                        .row
                        .as_ref()
                        .is_some_and(|r| r.columns.len() >= limits.max_columns)
                    {
                        return Err(stop(
                            StopKind::Depth,
                            format!("a row has more than {} columns", limits.max_columns),
                            at,
                        ));
                    }
                    // The column goes into its row first, then is filled in place (moving
                    // a struct just written stalls the processor).
                    let spare = st.spare_cols.pop().unwrap_or_default();
                    let c = match st.row.as_mut() {
                        Some(r) => {
                            r.columns.push(spare);
                            r.columns.last_mut()
                        }
                        None => None,
                    };
                    let c = c.unwrap_or(&mut st.orphan);
                    c.name.clear();
                    c.name.push_str(&st.name);
                    c.value.clear();
                    c.pos = at;
                    st.col_open = true;
                }
                _ => {
                    return Err(stop(
                        StopKind::Depth,
                        format!(
                            "<{}> is nested inside a column: rows hold simple columns only",
                            st.name
                        ),
                        at,
                    ));
                }
            }
        }
        Event::Empty(s) => {
            let at = counter.at(tok_offset);
            let name = s.name().as_ref().to_string();
            match st.depth {
                0 => {
                    return Err(stop(
                        StopKind::Root,
                        format!("the root element is <{name}/>, not <content>"),
                        at,
                    ));
                }
                1 => on(Item::Row(&mut RowAt {
                    table: name,
                    pos: at,
                    columns: Vec::new(),
                })),
                2 => {
                    if let Some(r) = st.row.as_mut() {
                        r.columns.push(ColumnAt {
                            name,
                            value: String::new(),
                            pos: at,
                        });
                    }
                }
                _ => {
                    return Err(stop(
                        StopKind::Depth,
                        format!(
                            "<{name}/> is nested inside a column: rows hold simple columns only"
                        ),
                        at,
                    ));
                }
            }
        }
        Event::Text(t) => {
            let raw: &str = &t;
            // Line ends are normalised (and characters looked at) only when a byte asks
            // for it: most text has neither a carriage return nor a suspect byte.
            let s = if needs_a_look(raw.as_bytes()) {
                let s = t.xml_content(quick_xml::XmlVersion::Implicit1_0);
                if let Some(c) = s.chars().find(|c| {
                    (*c < ' ' && !matches!(c, '\t' | '\n' | '\r'))
                        || *c == '\u{fffe}'
                        || *c == '\u{ffff}'
                }) {
                    return Err(stop(
                        StopKind::Syntax,
                        format!("the character U+{:04X} is not allowed in XML", c as u32),
                        counter.at(at_offset),
                    ));
                }
                s
            } else {
                std::borrow::Cow::Borrowed(raw)
            };
            if st.depth < 2 && !s.trim().is_empty() {
                return Err(stop(
                    StopKind::Syntax,
                    "text outside any element".into(),
                    counter.at(at_offset),
                ));
            }
            st.push_text(&s);
            return Ok(Handled::Text);
        }
        Event::CData(t) => {
            let s = t.into_inner();
            st.push_text(&s);
        }
        Event::GeneralRef(r) => {
            let resolved = crate::xml::resolve_reference(&r)
                .map_err(|m| stop(StopKind::Syntax, m, counter.at(tok_offset)))?;
            st.push_text(&resolved);
            return Ok(Handled::Text);
        }
        Event::End(_) => {
            match st.depth {
                2 => {
                    if st.in_version {
                        st.in_version = false;
                        if let Some((v, p)) = st.version.clone() {
                            on(Item::Version(v, p));
                        }
                    } else if let Some(mut r) = st.row.take() {
                        on(Item::Row(&mut r));
                        st.spare_cols.append(&mut r.columns);
                        st.spare_row = Some(r);
                    }
                }
                3 => {
                    st.col_open = false;
                }
                _ => {}
            }
            st.depth = st.depth.saturating_sub(1);
        }
        Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
    }
    Ok(Handled::Markup)
}

/// Whether text needs a closer look: a control byte other than tab and line feed (a
/// carriage return, whose line end XML normalises, or a character XML forbids), or 0xEF
/// (which starts U+FFFE and U+FFFF, among others). No early exit and no branch per byte,
/// so that the compiler can vectorise it.
fn needs_a_look(bytes: &[u8]) -> bool {
    let suspect = |c: u8| ((c < 0x20) & (c != b'\t') & (c != b'\n')) | (c == 0xEF);
    bytes
        .chunks(64)
        .any(|block| block.iter().fold(false, |hit, &c| hit | suspect(c)))
}

impl Builder {
    /// Text goes to the open column, else to `<qradarversion>` while it is open.
    fn push_text(&mut self, s: &str) {
        if self.col_open {
            let col = match self.row.as_mut().and_then(|r| r.columns.last_mut()) {
                Some(c) => c,
                None => &mut self.orphan,
            };
            col.value.push_str(s);
        } else if self.in_version
            && let Some((v, _)) = self.version.as_mut()
        {
            v.push_str(s);
        }
    }
}

fn classify(e: &quick_xml::Error) -> (StopKind, String) {
    if let quick_xml::Error::Io(io) = e {
        // Not raised by a reader of bytes in memory; kept for completeness.
        return (StopKind::Io, io.to_string());
    }
    (StopKind::Syntax, e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An owned copy of what the reader lends.
    #[derive(Debug)]
    enum Owned {
        Version(String, Pos),
        Row(RowAt),
    }

    fn read(xml: &str) -> (Vec<Owned>, Option<Stop>) {
        let mut items = Vec::new();
        let r = read_rows(xml.as_bytes(), Limits::default(), |i| {
            items.push(match i {
                Item::Version(v, p) => Owned::Version(v, p),
                Item::Row(r) => Owned::Row(r.clone()),
            })
        });
        (items, r.err())
    }

    #[test]
    fn rows_and_positions() {
        let (items, stop) = read(
            "<?xml version=\"1.0\"?>\n<content>\n\t<qradarversion>1.2.3</qradarversion>\n\t<qidmap>\n\t\t<qname>a &amp; &#x2013;</qname>\n\t\t<x/>\n\t</qidmap>\n</content>\n",
        );
        assert!(stop.is_none(), "{stop:?}");
        assert!(
            matches!(&items[0], Owned::Version(v, p) if v == "1.2.3" && p.line == 3 && p.column == 2)
        );
        let Owned::Row(r) = &items[1] else {
            panic!("{items:?}")
        };
        assert_eq!(r.table, "qidmap");
        assert_eq!((r.pos.line, r.pos.column), (4, 2));
        assert_eq!(r.value("qname"), Some("a & –"));
        assert_eq!(
            (r.get("qname").map(|c| (c.pos.line, c.pos.column))),
            Some((5, 3))
        );
        assert_eq!(r.value("x"), Some(""));
    }

    #[test]
    fn stops_on_hostile_structure() {
        let deep = format!("<content>{}", "<a>".repeat(10_000));
        assert_eq!(read(&deep).1.map(|s| s.kind), Some(StopKind::Depth));
        let laughs = "<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;\">]><content>&b;</content>";
        assert_eq!(read(laughs).1.map(|s| s.kind), Some(StopKind::Doctype));
        assert_eq!(read("<foo/>").1.map(|s| s.kind), Some(StopKind::Root));
        assert_eq!(
            read("<content><r><c>x</c>").1.map(|s| s.kind),
            Some(StopKind::Syntax)
        );
        assert_eq!(
            read("<content><r><c>&ext;</c></r></content>")
                .1
                .map(|s| s.kind),
            Some(StopKind::Syntax)
        );
        let mut bad = b"<content><r><c>".to_vec();
        bad.extend_from_slice(&[0xff, 0xfe, b'x']);
        bad.extend_from_slice(b"</c></r></content>");
        let r = read_rows(&bad[..], Limits::default(), |_| {});
        assert_eq!(r.err().map(|s| s.kind), Some(StopKind::Syntax));
    }

    /// Everything the reader hands out, and where it stops, as text.
    fn transcript(input: impl BufRead) -> String {
        transcript_with(input, Limits::default())
    }

    fn transcript_with(input: impl BufRead, limits: Limits) -> String {
        let mut out = String::new();
        let stop = read_rows(input, limits, |i| match i {
            Item::Version(v, p) => out.push_str(&format!("V {v:?} {p:?}\n")),
            Item::Row(r) => out.push_str(&format!("{r:?}\n")),
        });
        out.push_str(&format!("{stop:?}"));
        out
    }

    /// Windows end anywhere (here: every few bytes); what is read does not depend on
    /// where, including a text whose start reads well but whose end does not.
    #[test]
    fn window_ends_change_nothing() {
        let inputs: [&[u8]; 8] = [
            b"\xEF\xBB\xBF<?xml version=\"1.0\"?>\r\n<!-- a < b -->\r\n<content>\r\n\t<qradarversion> 1.2&amp;3 </qradarversion>\r\n\t<qidmap>\r\n\t\t<qname> a &amp; &#x2013; <![CDATA[x<y>]]> </qname>\r\n\t\t<x/>\r\n\t\t<?pi x?>\r\n\t\t<d a=\"1>2\">v</d>\r\n\t</qidmap>\r\n\t<e/>\r\n</content>\r\n",
            b"\xEF\xBB\xBF  <content><r><c>x</c></r></content>",
            b"<content>\n\tbqsadarversion>2021.6.\xbb</content>",
            b"<content>\n\t<r>\n\t\t<c>abc\x01def</c></r></content>",
            b"<content>\n\t<r>\n\t\t<c>abc</d></r></content>",
            b"<content>\n\t<r>\n\t\t<c>abc</c>\n\t\t<!x></r></content>",
            b"<content>\n\t<r>\n\t\t<c>abc&bogus;</c></r></content>",
            b"<content>\n\t<r>\n\t\t<c>abc</c>\n\t</r>\n",
        ];
        for input in inputs {
            let whole = transcript(input);
            for cap in 1..=9 {
                let got = transcript(std::io::BufReader::with_capacity(cap, input));
                assert_eq!(
                    got,
                    whole,
                    "chunks of {cap} bytes: {:?}",
                    String::from_utf8_lossy(input)
                );
            }
        }
    }

    /// The fast path reads rows exactly as quick-xml does: the same rows, positions and
    /// stops with it and without it, over plain rows and over everything it leaves to
    /// quick-xml (references, comments, CDATA, attributes, odd layout, errors), read in
    /// windows of every size.
    #[test]
    fn the_fast_path_reads_what_quick_xml_reads() {
        let mut plain = String::from(
            "<?xml version=\"1.0\"?>\n<content>\n\t<qradarversion>1.2.3</qradarversion>\n",
        );
        for i in 0..40 {
            plain.push_str(&format!(
                "\t<qidmap>\n\t\t<id>{i}</id>\n\t\t<qname>n{i} – é\nsecond line</qname>\n\t\t<x/>\n\t\t<e></e>\n\t</qidmap>\n\t<empty_row/>\n"
            ));
        }
        plain.push_str("</content>\n");
        let mut inputs: Vec<Vec<u8>> = vec![plain.clone().into_bytes()];
        for (from, to) in [
            ("<id>7</id>", "<id>7&amp;8</id>"),
            ("<id>8</id>", "<id><![CDATA[8]]></id>"),
            ("<id>9</id>", "<id a=\"1\">9</id>"),
            ("<id>10</id>", "<id>10</id><!-- c -->"),
            ("<id>11</id>", "<id>11</idd>"),
            ("<id>12</id>", "<id>1\x012</id>"),
            ("<id>13</id>", "<id>13\r\n</id>"),
            ("<id>14</id>", "<id>14</id>text"),
            ("<id>15</id>", "<id><b>15</b></id>"),
            ("<id>16</id>", "<id>16</id ><x >"),
            (
                "\t<empty_row/>\n\t<qidmap>\n\t\t<id>17",
                "\t<empty_row/>x\n\t<qidmap>\n\t\t<id>17",
            ),
            ("</content>", "</content><!-- end -->"),
            ("<id>18</id>", "<id>18\u{fffe}</id>"),
        ] {
            assert!(plain.contains(from), "{from}");
            inputs.push(plain.replacen(from, to, 1).into_bytes());
        }
        let mut bad_utf8 = plain.clone().into_bytes();
        let at = plain.find("<id>19</id>").expect("row 19") + 5;
        bad_utf8[at] = 0xFF;
        inputs.push(bad_utf8);
        let slow = Limits {
            fast_path: false,
            ..Limits::default()
        };
        for input in &inputs {
            let want = transcript_with(&input[..], slow);
            for cap in [1, 2, 3, 5, 8, 13, 64, 1 << 20] {
                let reader = || std::io::BufReader::with_capacity(cap, &input[..]);
                assert_eq!(
                    transcript(reader()),
                    want,
                    "fast, windows of {cap}: {:?}",
                    String::from_utf8_lossy(input)
                );
                assert_eq!(
                    transcript_with(reader(), slow),
                    want,
                    "quick-xml only, windows of {cap}"
                );
            }
        }
    }

    #[test]
    fn stops_on_a_huge_token_without_buffering_it() {
        let limits = Limits {
            max_token: 1 << 10,
            ..Limits::default()
        };
        let xml = format!("<content><r><c>{}</c></r></content>", "x".repeat(1 << 20));
        let r = read_rows(std::io::BufReader::new(xml.as_bytes()), limits, |_| {});
        assert_eq!(r.err().map(|s| s.kind), Some(StopKind::TokenTooLong));
    }
}
