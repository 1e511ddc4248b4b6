//! Writing QRadar's content XML (and the small XML documents nested in it) with a real
//! XML writer: every value is escaped by quick-xml, never pasted into markup.

use std::io::Write;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

use crate::content::Content;

/// The content XML, laid out as QRadar's own exports are: an XML declaration, `<content>`,
/// `<qradarversion>` first, then one element per row with one child per column, indented
/// with tabs.
pub fn write_content(content: &Content) -> Vec<u8> {
    let mut w = Writer::new(Vec::with_capacity(256 + content.rows.len() * 512));
    // Writing into a Vec cannot fail; the io::Result is an artefact of the Write trait.
    let _ = write_content_to(&mut w, content);
    w.into_inner()
}

fn write_content_to<W: Write>(w: &mut Writer<W>, content: &Content) -> std::io::Result<()> {
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    raw(w, "\n")?;
    w.write_event(Event::Start(BytesStart::new("content")))?;
    raw(w, "\n\t")?;
    leaf(w, "qradarversion", &content.qradar_version)?;
    for row in &content.rows {
        raw(w, "\n\t")?;
        w.write_event(Event::Start(BytesStart::new(row.table.as_str())))?;
        for (name, value) in &row.columns {
            raw(w, "\n\t\t")?;
            leaf(w, name, value)?;
        }
        raw(w, "\n\t")?;
        w.write_event(Event::End(BytesEnd::new(row.table.as_str())))?;
    }
    raw(w, "\n")?;
    w.write_event(Event::End(BytesEnd::new("content")))?;
    raw(w, "\n")
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
}
