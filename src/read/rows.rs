//! Streaming reader of QRadar's content XML: `<content>`, `<qradarversion>`, then flat
//! rows of simple columns. One row is in memory at a time, with the position of every
//! element, so a 500 MB export reads in flat memory. No DOCTYPE, so no entity is ever
//! declared or expanded.

use std::io::BufRead;

use quick_xml::Reader;
use quick_xml::events::Event;

use super::tracked::{Pos, TokenTooLong, Tracked};
use crate::content::Row;

/// A column as read, with where its element starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnAt {
    pub name: String,
    pub value: String,
    pub pos: Pos,
}

/// A row as read, with where its element starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowAt {
    pub table: String,
    pub pos: Pos,
    pub columns: Vec<ColumnAt>,
}

impl RowAt {
    pub fn get(&self, name: &str) -> Option<&ColumnAt> {
        self.columns.iter().find(|c| c.name == name)
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

/// What the reader hands out, in document order. A row is lent, not given: its buffers
/// are reused for the next row, so reading allocates little however many rows there are.
#[derive(Debug)]
pub enum Item<'r> {
    /// `<qradarversion>`'s text.
    Version(String, Pos),
    Row(&'r RowAt),
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
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_token: 64 << 20,
            max_columns: 4096,
        }
    }
}

/// Read rows from `input`, handing each to `on` as soon as it is complete. Stops at the
/// first structural problem.
pub fn read_rows<R: BufRead>(
    input: R,
    limits: Limits,
    mut on: impl FnMut(Item<'_>),
) -> Result<(), Stop> {
    let mut reader = Reader::from_reader(Tracked::new(input, limits.max_token));
    let mut buf = Vec::new();
    let mut depth = 0usize;
    let mut row: Option<RowAt> = None;
    let mut col: Option<ColumnAt> = None;
    // Spent rows' buffers, reused.
    let mut spare_row: Option<RowAt> = None;
    let mut spare_cols: Vec<ColumnAt> = Vec::new();
    let mut name = String::new();
    let mut version: Option<(String, Pos)> = None;
    let mut in_version = false;
    let mut seen_root = false;
    let stop = |kind, message: String, pos| Stop { kind, message, pos };
    loop {
        let at = reader.get_ref().pos();
        let ev = match reader.read_event_into(&mut buf) {
            Ok(ev) => ev,
            Err(e) => {
                let at = reader.get_ref().pos();
                let (kind, message) = classify(&e);
                return Err(stop(kind, message, at));
            }
        };
        match ev {
            Event::Eof => {
                if depth > 0 {
                    return Err(stop(
                        StopKind::Syntax,
                        "the file ends inside an element (truncated?)".into(),
                        at,
                    ));
                }
                if !seen_root {
                    return Err(stop(
                        StopKind::Root,
                        "no <content> element: this is not a content XML".into(),
                        at,
                    ));
                }
                break;
            }
            Event::DocType(_) => {
                return Err(stop(
                    StopKind::Doctype,
                    "a DOCTYPE declaration: content XML never has one, and entities are never expanded".into(),
                    at,
                ));
            }
            Event::Start(s) => {
                name.clear();
                name.push_str(s.name().as_ref());
                depth += 1;
                match depth {
                    1 if name == "content" => seen_root = true,
                    1 => {
                        return Err(stop(
                            StopKind::Root,
                            format!("the root element is <{name}>, not <content>"),
                            at,
                        ));
                    }
                    2 if name == "qradarversion" && version.is_none() => {
                        in_version = true;
                        version = Some((String::new(), at));
                    }
                    2 => {
                        let mut r = spare_row.take().unwrap_or(RowAt {
                            table: String::new(),
                            pos: at,
                            columns: Vec::new(),
                        });
                        r.table.clear();
                        r.table.push_str(&name);
                        r.pos = at;
                        row = Some(r);
                    }
                    3 => {
                        if row
                            .as_ref()
                            .is_some_and(|r| r.columns.len() >= limits.max_columns)
                        {
                            return Err(stop(
                                StopKind::Depth,
                                format!("a row has more than {} columns", limits.max_columns),
                                at,
                            ));
                        }
                        let mut c = spare_cols.pop().unwrap_or(ColumnAt {
                            name: String::new(),
                            value: String::new(),
                            pos: at,
                        });
                        c.name.clear();
                        c.name.push_str(&name);
                        c.value.clear();
                        c.pos = at;
                        col = Some(c);
                    }
                    _ => {
                        return Err(stop(
                            StopKind::Depth,
                            format!(
                                "<{name}> is nested inside a column: rows hold simple columns only"
                            ),
                            at,
                        ));
                    }
                }
            }
            Event::Empty(s) => {
                let name = s.name().as_ref().to_string();
                match depth {
                    0 => {
                        return Err(stop(
                            StopKind::Root,
                            format!("the root element is <{name}/>, not <content>"),
                            at,
                        ));
                    }
                    1 => on(Item::Row(&RowAt {
                        table: name,
                        pos: at,
                        columns: Vec::new(),
                    })),
                    2 => {
                        if let Some(r) = row.as_mut() {
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
                let s = t.xml_content(quick_xml::XmlVersion::Implicit1_0);
                if let Some(c) = s.chars().find(|c| {
                    (*c < ' ' && !matches!(c, '\t' | '\n' | '\r'))
                        || *c == '\u{fffe}'
                        || *c == '\u{ffff}'
                }) {
                    return Err(stop(
                        StopKind::Syntax,
                        format!("the character U+{:04X} is not allowed in XML", c as u32),
                        at,
                    ));
                }
                if depth < 2 && !s.trim().is_empty() {
                    return Err(stop(
                        StopKind::Syntax,
                        "text outside any element".into(),
                        at,
                    ));
                }
                push_text(&mut col, &mut version, in_version, &s);
            }
            Event::CData(t) => {
                let s = t.into_inner();
                push_text(&mut col, &mut version, in_version, &s);
            }
            Event::GeneralRef(r) => {
                let resolved =
                    crate::xml::resolve_reference(&r).map_err(|m| stop(StopKind::Syntax, m, at))?;
                push_text(&mut col, &mut version, in_version, &resolved);
            }
            Event::End(_) => {
                match depth {
                    2 => {
                        if in_version {
                            in_version = false;
                            if let Some((v, p)) = version.clone() {
                                on(Item::Version(v, p));
                            }
                        } else if let Some(mut r) = row.take() {
                            on(Item::Row(&r));
                            spare_cols.append(&mut r.columns);
                            spare_row = Some(r);
                        }
                    }
                    3 => {
                        if let (Some(c), Some(r)) = (col.take(), row.as_mut()) {
                            r.columns.push(c);
                        }
                    }
                    _ => {}
                }
                depth = depth.saturating_sub(1);
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
        buf.clear();
    }
    Ok(())
}

fn push_text(
    col: &mut Option<ColumnAt>,
    version: &mut Option<(String, Pos)>,
    in_version: bool,
    s: &str,
) {
    if let Some(c) = col.as_mut() {
        c.value.push_str(s);
    } else if in_version && let Some((v, _)) = version.as_mut() {
        v.push_str(s);
    }
}

fn classify(e: &quick_xml::Error) -> (StopKind, String) {
    if let quick_xml::Error::Io(io) = e {
        if io.get_ref().is_some_and(|inner| inner.is::<TokenTooLong>()) {
            return (StopKind::TokenTooLong, io.to_string());
        }
        // The source failed (a corrupt or lying compressed entry): not the XML's fault.
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
