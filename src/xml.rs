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

/// Read a content XML into rows. Strict about what QRadar writes: a `<content>` root,
/// flat rows of simple columns; DOCTYPE (and so any entity declaration) is refused, so no
/// entity is ever expanded.
pub fn read_content(bytes: &[u8]) -> Result<Content, ReadError> {
    use quick_xml::Reader;
    use quick_xml::events::Event as E;

    let mut reader = Reader::from_reader(bytes);
    let mut buf = Vec::new();
    let err = |r: &Reader<&[u8]>, m: String| ReadError {
        message: m,
        offset: r.buffer_position(),
    };
    let mut depth = 0usize;
    let mut version: Option<String> = None;
    let mut rows: Vec<crate::content::Row> = Vec::new();
    let mut current: Option<crate::content::Row> = None;
    let mut column: Option<(String, String)> = None;
    loop {
        let ev = reader
            .read_event_into(&mut buf)
            .map_err(|e| err(&reader, e.to_string()))?;
        match ev {
            E::Eof => break,
            E::DocType(_) => {
                return Err(err(
                    &reader,
                    "DOCTYPE is not allowed in a content XML".into(),
                ));
            }
            E::Start(s) => {
                let name = std::str::from_utf8(s.name().as_ref().as_bytes())
                    .map_err(|e| err(&reader, e.to_string()))?
                    .to_string();
                depth += 1;
                match depth {
                    1 if name == "content" => {}
                    1 => {
                        return Err(err(
                            &reader,
                            format!("the root element is <{name}>, not <content>"),
                        ));
                    }
                    2 if name == "qradarversion" => column = Some((name, String::new())),
                    2 => current = Some(crate::content::Row::new(&name)),
                    3 => column = Some((name, String::new())),
                    _ => {
                        return Err(err(
                            &reader,
                            format!("<{name}> is nested deeper than a row's column"),
                        ));
                    }
                }
            }
            E::Empty(s) => {
                let name = s.name().as_ref().to_string();
                match (depth, current.as_mut()) {
                    (2, Some(row)) => row.columns.push((name, String::new())),
                    (1, _) => rows.push(crate::content::Row::new(&name)),
                    _ => {}
                }
            }
            E::Text(t) => {
                if let Some((_, v)) = column.as_mut() {
                    let s = t.xml_content(quick_xml::XmlVersion::Implicit1_0);
                    v.push_str(&s);
                }
            }
            E::GeneralRef(r) => {
                if let Some((_, v)) = column.as_mut() {
                    let name = r.xml_content(quick_xml::XmlVersion::Implicit1_0);
                    let ch = match r
                        .resolve_char_ref()
                        .map_err(|e| err(&reader, e.to_string()))?
                    {
                        Some(c) => c,
                        None => match quick_xml::escape::resolve_predefined_entity(&name) {
                            Some(s) => s.chars().next().unwrap_or('\u{fffd}'),
                            None => return Err(err(&reader, format!("unknown entity &{name};"))),
                        },
                    };
                    v.push(ch);
                }
            }
            E::CData(t) => {
                if let Some((_, v)) = column.as_mut() {
                    v.push_str(&t.into_inner());
                }
            }
            E::End(_) => {
                match depth {
                    2 => {
                        if let Some((n, v)) = column.take()
                            && n == "qradarversion"
                        {
                            version = Some(v);
                        }
                        if let Some(row) = current.take() {
                            rows.push(row);
                        }
                    }
                    3 => {
                        if let (Some(col), Some(row)) = (column.take(), current.as_mut()) {
                            row.columns.push(col);
                        }
                    }
                    _ => {}
                }
                depth = depth.saturating_sub(1);
            }
            _ => {}
        }
        buf.clear();
    }
    Ok(Content {
        qradar_version: version.ok_or_else(|| err(&reader, "no <qradarversion>".into()))?,
        rows,
    })
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
