//! Log source extensions (`device_ext/xml`): the `<device-extension>` document that tells
//! a DSM how to parse a record (patterns, matchers), read into a model and written back
//! in the layout of QRadar's DSM Editor (`custom-json-dsm-teleport.zip`).

use std::collections::BTreeMap;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use serde::Serialize;

/// A `<pattern>`: a Java regex (`JavaPattern`) or a JSON key path (`JsonKeypath`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pattern {
    pub id: String,
    pub kind: String,
    pub text: String,
    /// Every attribute of the element, `id` and `type` included.
    pub attrs: BTreeMap<String, String>,
}

/// A `<matcher>` (regex) or `<json-matcher>`: fills a normalized field from a pattern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Matcher {
    pub json: bool,
    pub field: String,
    pub pattern_id: String,
    pub order: String,
    pub capture_group: Option<String>,
    /// `ext-data` (a date format for DeviceTime).
    pub ext_data: Option<String>,
    /// Every attribute of the element.
    pub attrs: BTreeMap<String, String>,
}

/// `<event-match-multiple>` or `<event-match-single>`: which records the group handles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventMatch {
    /// The element name (`event-match-multiple`).
    pub kind: String,
    pub pattern_id: String,
    /// Every attribute of the element.
    pub attrs: BTreeMap<String, String>,
}

/// A `<match-group>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct MatchGroup {
    pub order: String,
    pub device_type_id_override: Option<String>,
    pub matchers: Vec<Matcher>,
    /// `<event-match-multiple pattern-id=…>` and `<event-match-single …>`.
    pub event_matches: Vec<EventMatch>,
    /// Every attribute of the element.
    pub attrs: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct DeviceExtension {
    pub patterns: Vec<Pattern>,
    pub groups: Vec<MatchGroup>,
}

impl DeviceExtension {
    /// Matchers and event matches whose pattern id names no pattern.
    pub fn dangling_pattern_ids(&self) -> Vec<String> {
        let ids: std::collections::BTreeSet<&str> =
            self.patterns.iter().map(|p| p.id.as_str()).collect();
        let mut out = Vec::new();
        for g in &self.groups {
            for id in g
                .matchers
                .iter()
                .map(|m| &m.pattern_id)
                .chain(g.event_matches.iter().map(|e| &e.pattern_id))
            {
                if !ids.contains(id.as_str()) && !out.contains(id) {
                    out.push(id.clone());
                }
            }
        }
        out
    }
}

fn attrs(s: &BytesStart) -> BTreeMap<String, String> {
    s.attributes()
        .flatten()
        .filter_map(|a| {
            let v = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .ok()?;
            Some((a.key.as_ref().to_string(), v.into_owned()))
        })
        .collect()
}

/// Strip a namespace prefix (`ns2:device-extension` → `device-extension`).
fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

/// Read a `<device-extension>` document.
pub fn parse(xml: &str) -> Result<DeviceExtension, String> {
    let mut r = Reader::from_str(xml);
    let mut out = DeviceExtension::default();
    let mut root = false;
    let mut pattern: Option<Pattern> = None;
    let mut group: Option<MatchGroup> = None;
    let mut depth = 0usize;
    loop {
        let ev = r
            .read_event()
            .map_err(|e| format!("not well-formed XML: {e}"))?;
        match ev {
            Event::Eof => break,
            Event::DocType(_) => return Err("a DOCTYPE in a log source extension".into()),
            Event::Start(ref s) | Event::Empty(ref s) => {
                let is_start = matches!(ev, Event::Start(_));
                let name = s.name().as_ref().to_string();
                let a = attrs(s);
                match local(&name) {
                    "device-extension" if depth == 0 => root = true,
                    _ if depth == 0 => {
                        return Err(format!(
                            "the root element is <{name}>, not <device-extension>"
                        ));
                    }
                    "pattern" => {
                        pattern = Some(Pattern {
                            id: a.get("id").cloned().unwrap_or_default(),
                            kind: a.get("type").cloned().unwrap_or_default(),
                            text: String::new(),
                            attrs: a.clone(),
                        });
                        if !is_start && let Some(p) = pattern.take() {
                            out.patterns.push(p);
                        }
                    }
                    "match-group" => {
                        group = Some(MatchGroup {
                            order: a.get("order").cloned().unwrap_or_default(),
                            device_type_id_override: a.get("device-type-id-override").cloned(),
                            attrs: a.clone(),
                            ..MatchGroup::default()
                        });
                        if !is_start && let Some(g) = group.take() {
                            out.groups.push(g);
                        }
                    }
                    m @ ("matcher" | "json-matcher") => {
                        if let Some(g) = group.as_mut() {
                            g.matchers.push(Matcher {
                                json: m == "json-matcher",
                                field: a.get("field").cloned().unwrap_or_default(),
                                pattern_id: a.get("pattern-id").cloned().unwrap_or_default(),
                                order: a.get("order").cloned().unwrap_or_default(),
                                capture_group: a.get("capture-group").cloned(),
                                ext_data: a.get("ext-data").cloned(),
                                attrs: a.clone(),
                            });
                        }
                    }
                    m if m.starts_with("event-match") => {
                        if let (Some(g), Some(id)) = (group.as_mut(), a.get("pattern-id")) {
                            g.event_matches.push(EventMatch {
                                kind: m.to_string(),
                                pattern_id: id.clone(),
                                attrs: a.clone(),
                            });
                        }
                    }
                    _ => {}
                }
                if is_start {
                    depth += 1;
                }
            }
            Event::Text(t) => {
                if let Some(p) = pattern.as_mut() {
                    p.text
                        .push_str(&t.xml_content(quick_xml::XmlVersion::Implicit1_0));
                }
            }
            Event::CData(t) => {
                if let Some(p) = pattern.as_mut() {
                    p.text.push_str(&t.into_inner());
                }
            }
            Event::GeneralRef(g) => {
                if let Some(p) = pattern.as_mut() {
                    p.text.push_str(&crate::xml::resolve_reference(&g)?);
                }
            }
            Event::End(e) => {
                depth = depth.saturating_sub(1);
                match local(e.name().as_ref()) {
                    "pattern" => {
                        if let Some(p) = pattern.take() {
                            out.patterns.push(p);
                        }
                    }
                    "match-group" => {
                        if let Some(g) = group.take() {
                            out.groups.push(g);
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    if !root {
        return Err("no <device-extension> element".into());
    }
    if depth != 0 {
        return Err("the document ends inside an element (truncated?)".into());
    }
    Ok(out)
}

/// Attributes in the order the DSM Editor writes them; others follow, sorted.
const ATTRIBUTE_ORDER: &[&str] = &[
    "use-default-pattern",
    "case-insensitive",
    "trim-whitespace",
    "ext-data",
    "device-type-id-override",
    "order",
    "enable-substitutions",
    "capture-group",
    "force-qidmap-lookup-on-fixup",
    "send-identity",
    "type",
    "id",
    "pattern-id",
    "field",
];

fn start<'a>(name: &'a str, attrs: &'a BTreeMap<String, String>) -> BytesStart<'a> {
    let mut s = BytesStart::new(name);
    for k in ATTRIBUTE_ORDER {
        if let Some(v) = attrs.get(*k) {
            s.push_attribute((*k, v.as_str()));
        }
    }
    for (k, v) in attrs {
        if !ATTRIBUTE_ORDER.contains(&k.as_str()) {
            s.push_attribute((k.as_str(), v.as_str()));
        }
    }
    s
}

/// Write a `<device-extension>` document as the DSM Editor lays it out: the
/// `ns2` prefix, four-space indentation, patterns first, then the match groups.
/// Attribute values and pattern texts are escaped by quick-xml.
pub fn write(ext: &DeviceExtension) -> String {
    use quick_xml::Writer;
    use quick_xml::events::{BytesDecl, BytesEnd, BytesText};
    let mut w = Writer::new(Vec::new());
    let ws = |w: &mut Writer<Vec<u8>>, t: &str| {
        let _ = w.write_event(Event::Text(BytesText::from_escaped(t)));
    };
    // Writing into a Vec cannot fail.
    let _ = w.write_event(Event::Decl(BytesDecl::new(
        "1.0",
        Some("UTF-8"),
        Some("yes"),
    )));
    ws(&mut w, "\n");
    let mut root = BytesStart::new("ns2:device-extension");
    root.push_attribute(("xmlns:ns2", "event_parsing/device_extension"));
    let _ = w.write_event(Event::Start(root));
    for p in &ext.patterns {
        ws(&mut w, "\n    ");
        let mut attrs = p.attrs.clone();
        attrs.insert("id".into(), p.id.clone());
        attrs.insert("type".into(), p.kind.clone());
        let _ = w.write_event(Event::Start(start("pattern", &attrs)));
        let _ = w.write_event(Event::Text(BytesText::new(&p.text)));
        let _ = w.write_event(Event::End(BytesEnd::new("pattern")));
    }
    for g in &ext.groups {
        ws(&mut w, "\n    ");
        let mut attrs = g.attrs.clone();
        attrs.insert("order".into(), g.order.clone());
        if let Some(o) = &g.device_type_id_override {
            attrs.insert("device-type-id-override".into(), o.clone());
        }
        let _ = w.write_event(Event::Start(start("match-group", &attrs)));
        for m in &g.matchers {
            ws(&mut w, "\n        ");
            let mut attrs = m.attrs.clone();
            attrs.insert("field".into(), m.field.clone());
            attrs.insert("pattern-id".into(), m.pattern_id.clone());
            attrs.insert("order".into(), m.order.clone());
            if let Some(c) = &m.capture_group {
                attrs.insert("capture-group".into(), c.clone());
            }
            if let Some(e) = &m.ext_data {
                attrs.insert("ext-data".into(), e.clone());
            }
            let name = if m.json { "json-matcher" } else { "matcher" };
            let _ = w.write_event(Event::Empty(start(name, &attrs)));
        }
        for e in &g.event_matches {
            ws(&mut w, "\n        ");
            let mut attrs = e.attrs.clone();
            attrs.insert("pattern-id".into(), e.pattern_id.clone());
            let _ = w.write_event(Event::Empty(start(&e.kind, &attrs)));
        }
        ws(&mut w, "\n    ");
        let _ = w.write_event(Event::End(BytesEnd::new("match-group")));
    }
    ws(&mut w, "\n");
    let _ = w.write_event(Event::End(BytesEnd::new("ns2:device-extension")));
    ws(&mut w, "\n");
    String::from_utf8(w.into_inner()).unwrap_or_default()
}

/// A piece of a `JsonKeypath` pattern: a key path, or literal text between key paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonPiece {
    Path(crate::jsonpath::KeyPath),
    Literal(String),
}

/// Read a `JsonKeypath` pattern: one key path (`/"a"/"b"`), or, **[ibm]** with
/// `enable-substitutions`, several in braces with text between (`{/"last"}, {/"first"}`).
pub fn parse_json_pattern(text: &str) -> Result<Vec<JsonPiece>, String> {
    use crate::jsonpath::KeyPath;
    let t = text.trim();
    if !t.contains('{') {
        return KeyPath::parse(t)
            .map(|k| vec![JsonPiece::Path(k)])
            .map_err(|e| e.to_string());
    }
    let mut out = Vec::new();
    let mut rest = t;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            out.push(JsonPiece::Literal(rest[..open].to_string()));
        }
        // The closing brace is the first '}' outside a quoted key.
        let body = &rest[open + 1..];
        let mut quoted = false;
        let mut escaped = false;
        let mut close = None;
        for (i, c) in body.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                '}' if !quoted => {
                    close = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let Some(close) = close else {
            return Err("a '{' has no closing '}'".into());
        };
        let path = KeyPath::parse(body[..close].trim())
            .map_err(|e| format!("{{{}}}: {e}", &body[..close]))?;
        out.push(JsonPiece::Path(path));
        rest = &body[close + 1..];
    }
    if !rest.is_empty() {
        out.push(JsonPiece::Literal(rest.to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_real_teleport_extension() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<ns2:device-extension xmlns:ns2="event_parsing/device_extension">
    <pattern type="JsonKeypath" id="EventName-Pattern-1">/&quot;code&quot;</pattern>
    <pattern use-default-pattern="true" type="JavaPattern" id="SourceIp-Pattern-1">&quot;addr.remote&quot;:&quot;([^:]+)</pattern>
    <pattern type="JavaPattern" id="AllEvents">(.*?)</pattern>
    <match-group device-type-id-override="4003" order="1">
        <matcher order="1" enable-substitutions="true" capture-group="\1" pattern-id="SourceIp-Pattern-1" field="SourceIp"/>
        <json-matcher ext-data="yyyy-MM-dd'T'HH:mm:ss.SSS" order="1" enable-substitutions="true" pattern-id="EventName-Pattern-1" field="EventName"/>
        <event-match-multiple force-qidmap-lookup-on-fixup="true" send-identity="UseDSMResults" pattern-id="AllEvents"/>
    </match-group>
</ns2:device-extension>"#;
        let d = parse(xml).expect("parses");
        assert_eq!(d.patterns.len(), 3);
        assert_eq!(d.patterns[0].text, "/\"code\"");
        assert_eq!(d.groups[0].matchers.len(), 2);
        assert_eq!(d.groups[0].device_type_id_override.as_deref(), Some("4003"));
        assert!(d.dangling_pattern_ids().is_empty());
        let broken = xml.replace("pattern-id=\"AllEvents\"", "pattern-id=\"Nope\"");
        assert_eq!(
            parse(&broken).expect("parses").dangling_pattern_ids(),
            vec!["Nope".to_string()]
        );
        assert!(parse("<x/>").is_err());
    }
}
