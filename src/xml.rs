//! Writing QRadar's content XML (and the small XML documents nested in it) with a real
//! XML writer: every value is escaped by quick-xml, never pasted into markup.

use std::io::Write;

use quick_xml::Writer;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};

use crate::content::{Content, Extension};

/// The content XML, laid out as QRadar's own exports are: an XML declaration, `<content>`,
/// `<qradarversion>` first, then one element per row with one child per column, indented
/// with tabs.
pub fn write_content(content: &Content) -> Vec<u8> {
    let mut w = ContentWriter::new(&content.qradar_version, content.rows.len() * 512);
    for row in &content.rows {
        w.row(
            &row.table,
            row.columns.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        );
    }
    w.finish()
}

/// The content XML of an extension, straight from its typed model: the same bytes as
/// `write_content(&ext.to_content())` without building a [`Content`] first.
pub fn write_extension(ext: &Extension) -> Vec<u8> {
    // About 550 bytes per row on large packs; capacity never touched costs no memory.
    let mut w = ContentWriter::new(&ext.qradar_version, ext.row_count() * 640);
    ext.for_each_row(|r| w.row(r.table(), r.columns().iter().map(|(n, v)| (*n, v.as_str()))));
    w.finish()
}

/// The bytes [`write_extension`] returns, written to `out` in pieces of about
/// [`STREAM_CHUNK`] bytes instead of collected: a build compresses its content XML as it
/// is written, so the 37 MB document of a large pack is never held whole (and the
/// compressor reads each piece while it is still in the cache).
pub fn write_extension_to(ext: &Extension, out: &mut dyn Write) -> std::io::Result<()> {
    let mut pieces = XmlPieces::new(&ext.qradar_version);
    let mut spare = None;
    let mut failed = None;
    ext.for_each_row(|r| {
        if failed.is_some() {
            return;
        }
        if pieces.row(r.table(), r.columns().iter().map(|(n, v)| (*n, v.as_str()))) {
            let full = pieces.take(spare.take());
            if let Err(e) = out.write_all(&full) {
                failed = Some(e);
            }
            spare = Some(full);
        }
    });
    if let Some(e) = failed {
        return Err(e);
    }
    out.write_all(&pieces.finish())
}

/// The content XML written row by row and handed out in pieces of about
/// [`STREAM_CHUNK`] bytes: [`write_extension_to`]'s pieces, for a writer that lays out
/// the rows itself (the build's self-check, which reads each row as it is written).
pub struct XmlPieces {
    w: ContentWriter,
}

impl XmlPieces {
    /// Start the document: the declaration, `<content>` and `<qradarversion>`.
    pub fn new(qradar_version: &str) -> XmlPieces {
        XmlPieces {
            w: ContentWriter::new(qradar_version, PIECE_CAPACITY),
        }
    }

    /// Write one row (see [`Extension::for_each_row`]); true when the piece is full:
    /// then [`XmlPieces::take`] it.
    pub fn row<'a>(
        &mut self,
        table: &str,
        columns: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> bool {
        self.w.row(table, columns);
        self.w.out.len() >= STREAM_CHUNK
    }

    /// The piece written so far; `spare` (cleared), or a new buffer, takes its place.
    pub fn take(&mut self, spare: Option<Vec<u8>>) -> Vec<u8> {
        let mut next = spare.unwrap_or_else(|| Vec::with_capacity(PIECE_CAPACITY));
        next.clear();
        std::mem::replace(&mut self.w.out, next)
    }

    /// The last piece: the rest of the rows and the end of the document.
    pub fn finish(self) -> Vec<u8> {
        self.w.finish()
    }
}

/// A piece's buffer: [`STREAM_CHUNK`] and room for the row that crosses it.
const PIECE_CAPACITY: usize = STREAM_CHUNK + (64 << 10);

/// How much content XML [`write_extension_to`] gathers before it writes.
pub const STREAM_CHUNK: usize = 256 << 10;

/// Writes a content XML row by row into memory. Element names are the model's table and
/// column names; every value (and the version) is escaped by quick-xml's `escape`, the
/// escaping quick-xml's own writer applies to text (`<`, `>`, `&`, `'`, `"`, CR). The
/// markup is written directly rather than through `quick_xml::Writer`, whose per-event
/// dispatch cost more than the writing itself on large packs; the bytes are the same.
/// The bytes quick-xml's `escape` replaces.
const ESCAPED: [bool; 256] = {
    let mut t = [false; 256];
    t[b'<' as usize] = true;
    t[b'>' as usize] = true;
    t[b'&' as usize] = true;
    t[b'\'' as usize] = true;
    t[b'"' as usize] = true;
    t[b'\r' as usize] = true;
    t
};

struct ContentWriter {
    out: Vec<u8>,
}

impl ContentWriter {
    fn new(version: &str, capacity: usize) -> ContentWriter {
        let mut out = Vec::with_capacity(256 + capacity);
        out.extend_from_slice(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<content>\n\t");
        let mut w = ContentWriter { out };
        w.leaf("qradarversion", version);
        w
    }

    fn leaf(&mut self, name: &str, value: &str) {
        let out = &mut self.out;
        out.push(b'<');
        out.extend_from_slice(name.as_bytes());
        out.push(b'>');
        // Most values need no escaping: find that out with a table for short values and
        // two vectorised scans for long ones, instead of quick-xml's per-byte test.
        let v = value.as_bytes();
        let plain = if v.len() < 64 {
            !v.iter().any(|&b| ESCAPED[b as usize])
        } else {
            memchr::memchr3(b'<', b'>', b'&', v).is_none()
                && memchr::memchr3(b'\'', b'"', b'\r', v).is_none()
        };
        if plain {
            out.extend_from_slice(v);
        } else {
            out.extend_from_slice(quick_xml::escape::escape(value).as_bytes());
        }
        out.extend_from_slice(b"</");
        out.extend_from_slice(name.as_bytes());
        out.push(b'>');
    }

    fn row<'a>(&mut self, table: &str, columns: impl IntoIterator<Item = (&'a str, &'a str)>) {
        self.out.extend_from_slice(b"\n\t<");
        self.out.extend_from_slice(table.as_bytes());
        self.out.push(b'>');
        for (name, value) in columns {
            self.out.extend_from_slice(b"\n\t\t");
            self.leaf(name, value);
        }
        self.out.extend_from_slice(b"\n\t</");
        self.out.extend_from_slice(table.as_bytes());
        self.out.push(b'>');
    }

    fn finish(mut self) -> Vec<u8> {
        self.out.extend_from_slice(b"\n</content>\n");
        self.out
    }
}

/// `<name>value</name>`, value escaped; an empty value stays `<name></name>` as QRadar
/// writes it.
pub fn leaf<W: Write>(w: &mut Writer<W>, name: &str, value: &str) -> std::io::Result<()> {
    w.write_event(Event::Start(BytesStart::new(name)))?;
    if !value.is_empty() {
        w.write_event(Event::Text(BytesText::new(value)))?;
    }
    w.write_event(Event::End(BytesEnd::new(name)))
}

/// Layout whitespace (never user data).
pub fn raw<W: Write>(w: &mut Writer<W>, ws: &str) -> std::io::Result<()> {
    debug_assert!(ws.chars().all(char::is_whitespace));
    w.write_event(Event::Text(BytesText::from_escaped(ws)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::Row;

    /// The row writer against quick-xml's own event writer (what `write_content` used
    /// before): the same bytes for values that need every kind of escaping.
    #[test]
    fn writes_what_quick_xml_writer_writes() {
        use quick_xml::events::BytesDecl;
        let values = [
            "",
            "plain",
            "a<b>c&d'e\"f",
            "line\r\nbreak\nand\ttab",
            "Update application \u{2013} x",
            "&amp; already",
            "]]>",
            " ",
        ];
        let content = Content {
            qradar_version: "2021.6.0<&>".into(),
            rows: values
                .iter()
                .enumerate()
                .map(|(i, v)| Row {
                    table: if i % 2 == 0 { "qidmap" } else { "dsmevent" }.into(),
                    columns: vec![("qname".into(), v.to_string()), ("x".into(), String::new())],
                })
                .collect(),
        };
        let mut w = Writer::new(Vec::new());
        let mut old = || -> std::io::Result<()> {
            w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
            raw(&mut w, "\n")?;
            w.write_event(Event::Start(BytesStart::new("content")))?;
            raw(&mut w, "\n\t")?;
            leaf(&mut w, "qradarversion", &content.qradar_version)?;
            for row in &content.rows {
                raw(&mut w, "\n\t")?;
                w.write_event(Event::Start(BytesStart::new(row.table.as_str())))?;
                for (name, value) in &row.columns {
                    raw(&mut w, "\n\t\t")?;
                    leaf(&mut w, name, value)?;
                }
                raw(&mut w, "\n\t")?;
                w.write_event(Event::End(BytesEnd::new(row.table.as_str())))?;
            }
            raw(&mut w, "\n")?;
            w.write_event(Event::End(BytesEnd::new("content")))?;
            raw(&mut w, "\n")
        };
        old().expect("writes");
        let expected = w.into_inner();
        assert_eq!(
            String::from_utf8_lossy(&write_content(&content)),
            String::from_utf8_lossy(&expected)
        );
    }

    #[test]
    fn escapes_values_and_keeps_empty_elements_open() {
        let content = Content {
            qradar_version: "2021.6.0".into(),
            rows: vec![Row {
                table: "ariel_property_json_expression".into(),
                columns: vec![
                    ("expression".into(), "/\"a\"/\"b<c>&\"".into()),
                    ("payload".into(), String::new()),
                ],
            }],
        };
        let xml = String::from_utf8(write_content(&content)).unwrap_or_default();
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<content>\n\t<qradarversion>2021.6.0</qradarversion>\n\t<ariel_property_json_expression>\n"), "{xml}");
        assert!(
            xml.contains("<expression>/&quot;a&quot;/&quot;b&lt;c&gt;&amp;&quot;</expression>"),
            "{xml}"
        );
        assert!(xml.contains("<payload></payload>"), "{xml}");
        assert!(xml.ends_with("</content>\n"));
    }
}

/// Why a content XML could not be read, and at which byte.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at byte {offset})")]
pub struct ReadError {
    pub message: String,
    pub offset: u64,
}

/// Read a whole content XML held in memory into rows (see [`crate::read::rows`] for the
/// streaming reader it uses, and what it refuses).
pub fn read_content(bytes: &[u8]) -> Result<Content, ReadError> {
    use crate::read::rows::{Item, Limits, read_rows};
    let mut version = None;
    let mut rows = Vec::new();
    read_rows(bytes, Limits::default(), |item| match item {
        Item::Version(v, _) => version = Some(v),
        Item::Row(r) => rows.push(r.to_row()),
    })
    .map_err(|stop| ReadError {
        message: stop.message,
        offset: stop.pos.offset,
    })?;
    Ok(Content {
        qradar_version: version.ok_or_else(|| ReadError {
            message: "no <qradarversion>".into(),
            offset: 0,
        })?,
        rows,
    })
}

/// The text an entity or character reference stands for: `&#x2013;`, `&amp;` and the
/// other predefined entities. Any other entity is refused: nothing declares entities.
pub fn resolve_reference(r: &quick_xml::events::BytesRef) -> Result<String, String> {
    match r.resolve_char_ref() {
        Ok(Some(c)) => Ok(c.to_string()),
        Ok(None) => {
            let name = r.xml_content(quick_xml::XmlVersion::Implicit1_0);
            quick_xml::escape::resolve_predefined_entity(&name)
                .map(str::to_string)
                .ok_or_else(|| format!("&{name}; is not a predefined entity"))
        }
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod read_tests {
    use super::*;
    use crate::content::Row;

    #[test]
    fn reads_back_what_it_writes() {
        let content = Content {
            qradar_version: "2021.6.0".into(),
            rows: vec![Row {
                table: "qidmap".into(),
                columns: vec![
                    (
                        "qname".into(),
                        "Update application – x & <y> \"z\" 'w'".into(),
                    ),
                    ("qdescription".into(), String::new()),
                ],
            }],
        };
        let back = read_content(&write_content(&content)).expect("reads");
        assert_eq!(back, content);
    }

    #[test]
    fn resolves_character_references_and_refuses_doctype() {
        let xml = "<?xml version=\"1.0\"?><content><qradarversion>1.2.3</qradarversion><r><a>&#x2013;&amp;&#39;</a><b/></r></content>";
        let c = read_content(xml.as_bytes()).expect("reads");
        assert_eq!(c.rows[0].get("a"), Some("–&'"));
        assert_eq!(c.rows[0].get("b"), Some(""));
        let bomb = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">]><content><qradarversion>&lol;</qradarversion></content>";
        let e = read_content(bomb.as_bytes()).expect_err("refused");
        assert!(e.message.contains("DOCTYPE"), "{e}");
        assert!(read_content(b"<other/>").is_err());
        assert!(read_content(b"<content><qradarversion>1").is_err());
    }

    /// Streamed in pieces, the content XML is the same bytes as written whole; a writer
    /// that fails stops the stream with its error.
    #[test]
    fn streamed_xml_is_the_whole_xml() {
        use crate::content::QidMap;
        let mut ext = Extension {
            qradar_version: "2021.6.0".into(),
            ..Extension::default()
        };
        for i in 0..3_000 {
            ext.qidmaps.push(QidMap {
                id: i + 1,
                qid: 2_000_000 + i,
                name: format!("Event {i} – <{}>", "x".repeat((i % 97) as usize)),
                description: "a & b\r\nc".repeat((i % 13) as usize),
                severity: i % 11,
                low_level_category: 3029,
                uuid: uuid::Uuid::from_u128(i as u128),
            });
        }
        let whole = write_extension(&ext);
        assert!(whole.len() > 3 * STREAM_CHUNK, "{} bytes", whole.len());
        struct Pieces(Vec<u8>, usize);
        impl Write for Pieces {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.1 += 1;
                self.0.extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut pieces = Pieces(Vec::new(), 0);
        write_extension_to(&ext, &mut pieces).expect("written");
        assert!(pieces.1 > 3, "{} pieces", pieces.1);
        assert!(pieces.0 == whole, "streamed bytes differ");

        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk full"))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let e = write_extension_to(&ext, &mut Full).expect_err("fails");
        assert_eq!(e.to_string(), "disk full");
    }
}
