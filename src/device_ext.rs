//! Log source extensions (`device_ext/xml`): the `<device-extension>` document that tells
//! a DSM how to parse a record (patterns, matchers), read into a model.

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
}

/// A `<match-group>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct MatchGroup {
    pub order: String,
    pub device_type_id_override: Option<String>,
    pub matchers: Vec<Matcher>,
    /// `<event-match-multiple pattern-id=…>` and `<event-match-single …>` pattern ids.
    pub event_matches: Vec<String>,
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
                .chain(g.event_matches.iter())
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
                        });
                        if !is_start && let Some(p) = pattern.take() {
                            out.patterns.push(p);
                        }
                    }
                    "match-group" => {
                        group = Some(MatchGroup {
                            order: a.get("order").cloned().unwrap_or_default(),
                            device_type_id_override: a.get("device-type-id-override").cloned(),
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
                            });
                        }
                    }
                    m if m.starts_with("event-match") => {
                        if let (Some(g), Some(id)) = (group.as_mut(), a.get("pattern-id")) {
                            g.event_matches.push(id.clone());
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
