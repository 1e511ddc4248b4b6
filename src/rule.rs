//! The `<rule>` document inside `custom_rule/rule_data`: a rule's name, notes, tests and
//! response, written with a real XML writer from test skeletons kept as data in
//! `extension-templates/rule-tests/` (they differ between QRadar versions).

use std::collections::BTreeMap;

use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use quick_xml::{Reader, Writer};
use thiserror::Error;

use crate::xml::{leaf, raw};

/// A rule as the pack describes it, ready to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleDef {
    pub id: i64,
    pub name: String,
    pub notes: String,
    pub enabled: bool,
    pub building_block: bool,
    pub owner: String,
    pub tests: Vec<RuleTest>,
    pub response: Option<RuleResponse>,
}

/// One test of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleTest {
    /// `DeviceTypeID_Test`: log source type ids and their names (for the sentence).
    LogSourceTypes(Vec<(i64, String)>),
    /// `QID_Test`: QID numbers and names.
    Qids(Vec<(i64, String)>),
    /// `AQL_Test`: an AQL WHERE filter.
    Aql(String),
}

impl RuleTest {
    fn class(&self) -> &'static str {
        match self {
            RuleTest::LogSourceTypes(_) => "DeviceTypeID_Test",
            RuleTest::Qids(_) => "QID_Test",
            RuleTest::Aql(_) => "AQL_Test",
        }
    }

    /// The sentence QRadar shows for the test.
    fn text(&self) -> String {
        match self {
            RuleTest::LogSourceTypes(types) => format!(
                "when the event(s) were detected by one or more of these log source types: {}",
                types
                    .iter()
                    .map(|(_, n)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            RuleTest::Qids(qids) => format!(
                "when the event QID is one of the following QIDs: {}",
                qids.iter()
                    .map(|(q, n)| format!("({q}) {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            RuleTest::Aql(f) => format!("when the event matches this AQL filter query: {f}"),
        }
    }

    /// The value of `<parameter id="1"><userSelection>`.
    fn selection(&self) -> String {
        match self {
            RuleTest::LogSourceTypes(types) => join_ids(types.iter().map(|(i, _)| *i)),
            RuleTest::Qids(qids) => join_ids(qids.iter().map(|(q, _)| *q)),
            RuleTest::Aql(f) => aql_selection(f),
        }
    }
}

fn join_ids(ids: impl Iterator<Item = i64>) -> String {
    ids.map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
}

/// How the rule wizard stores an AQL filter [tool]: the URL-encoded filter, `|`, then the
/// URL-encoded JSON array holding the same filter.
pub fn aql_selection(filter: &str) -> String {
    let json = serde_json::to_string(&[filter]).unwrap_or_default();
    format!("{}|{}", url_encode(filter), url_encode(&json))
}

/// Percent-encoding that both Java's `URLDecoder` and RFC 3986 decoders read back
/// unchanged: everything but ASCII letters, digits and `.-*_` is `%XX`.
fn url_encode(s: &str) -> String {
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    const SET: &percent_encoding::AsciiSet = &NON_ALPHANUMERIC
        .remove(b'.')
        .remove(b'-')
        .remove(b'*')
        .remove(b'_');
    utf8_percent_encode(s, SET).to_string()
}

/// What a rule does when it matches: dispatch an event (with its own QID), optionally
/// forcing an offense.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleResponse {
    pub offense: bool,
    pub severity: i64,
    pub credibility: i64,
    pub relevance: i64,
    pub qid: i64,
    pub low_level_category: i64,
    pub name: String,
    pub description: String,
}

/// Test skeletons by class name (`QID_Test` …).
#[derive(Debug, Clone)]
pub struct Skeletons {
    by_class: BTreeMap<String, String>,
    /// Each skeleton filled once with markers, cut at them: filling it for a rule is
    /// then a few copies instead of a parse (a fifth of a 2,000-rule build). `None` when
    /// the skeleton itself holds a marker character; it is then filled by parsing.
    compiled: BTreeMap<String, Option<Filled>>,
}

/// A skeleton filled with markers, as literal bytes and the holes between them.
#[derive(Debug, Clone)]
struct Filled(Vec<Piece>);

#[derive(Debug, Clone)]
enum Piece {
    Literal(Vec<u8>),
    Uid,
    Text,
    Selection,
}

/// The markers: a private-use character that `escape` leaves as it is, around a letter.
const MARK: char = '\u{F8FF}';
const UID_MARK: &str = "\u{F8FF}U\u{F8FF}";
const TEXT_MARK: &str = "\u{F8FF}T\u{F8FF}";
const SELECTION_MARK: &str = "\u{F8FF}S\u{F8FF}";

impl Filled {
    /// Fill `skeleton` with the markers and cut the result at them. `None` when the
    /// skeleton holds the marker character itself or cannot be filled (the slow path
    /// then reports the error as it always has).
    fn compile(class: &str, skeleton: &str) -> Option<Filled> {
        if skeleton.contains(MARK) {
            return None;
        }
        let mut w = Writer::new(Vec::new());
        fill_skeleton(&mut w, class, skeleton, UID_MARK, TEXT_MARK, SELECTION_MARK).ok()?;
        let out = String::from_utf8(w.into_inner()).ok()?;
        let mut pieces = Vec::new();
        let mut rest = out.as_str();
        while let Some(at) = rest.find(MARK) {
            let hole = rest[at..].get(..UID_MARK.len())?;
            let piece = match hole {
                UID_MARK => Piece::Uid,
                TEXT_MARK => Piece::Text,
                SELECTION_MARK => Piece::Selection,
                _ => return None,
            };
            if at > 0 {
                pieces.push(Piece::Literal(rest.as_bytes()[..at].to_vec()));
            }
            pieces.push(piece);
            rest = &rest[at + hole.len()..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Literal(rest.as_bytes().to_vec()));
        }
        Some(Filled(pieces))
    }

    /// What [`fill_skeleton`] writes for these values: the text and the selection are
    /// escaped as `BytesText::new` escapes them, the uid is digits.
    fn write(&self, out: &mut Vec<u8>, uid: &str, text: &str, selection: &str) {
        for p in &self.0 {
            match p {
                Piece::Literal(b) => out.extend_from_slice(b),
                Piece::Uid => out.extend_from_slice(uid.as_bytes()),
                Piece::Text => out.extend_from_slice(quick_xml::escape::escape(text).as_bytes()),
                Piece::Selection => {
                    out.extend_from_slice(quick_xml::escape::escape(selection).as_bytes())
                }
            }
        }
    }
}

#[derive(Debug, Error)]
pub enum RuleError {
    #[error("no rule test skeleton for {0} (expected a file {0}.xml)")]
    MissingSkeleton(&'static str),
    #[error("rule test skeleton {class}.xml is unusable: {reason}")]
    BadSkeleton { class: String, reason: String },
}

impl Skeletons {
    /// The skeletons embedded in the binary, from `extension-templates/rule-tests/`.
    pub fn builtin() -> Skeletons {
        let mut by_class = BTreeMap::new();
        for (class, text) in [
            (
                "DeviceTypeID_Test",
                include_str!("../extension-templates/rule-tests/DeviceTypeID_Test.xml"),
            ),
            (
                "QID_Test",
                include_str!("../extension-templates/rule-tests/QID_Test.xml"),
            ),
            (
                "AQL_Test",
                include_str!("../extension-templates/rule-tests/AQL_Test.xml"),
            ),
        ] {
            by_class.insert(class.to_string(), text.to_string());
        }
        let compiled = by_class
            .iter()
            .map(|(class, xml)| (class.clone(), Filled::compile(class, xml)))
            .collect();
        Skeletons { by_class, compiled }
    }

    /// Replace or add a skeleton (e.g. one a user keeps for their QRadar version).
    pub fn insert(&mut self, class: &str, xml: String) {
        self.compiled
            .insert(class.to_string(), Filled::compile(class, &xml));
        self.by_class.insert(class.to_string(), xml);
    }
}

/// The `<rule>` XML for `rule`.
pub fn write_rule(rule: &RuleDef, skeletons: &Skeletons) -> Result<Vec<u8>, RuleError> {
    let mut w = Writer::new(Vec::new());
    write_rule_to(&mut w, rule, skeletons)?;
    Ok(w.into_inner())
}

fn io(e: std::io::Error) -> RuleError {
    // Writing into a Vec does not fail; keep the error path total anyway.
    RuleError::BadSkeleton {
        class: "<writer>".into(),
        reason: e.to_string(),
    }
}

fn write_rule_to(
    w: &mut Writer<Vec<u8>>,
    rule: &RuleDef,
    skeletons: &Skeletons,
) -> Result<(), RuleError> {
    let id = rule.id.to_string();
    let mut start = BytesStart::new("rule");
    start.push_attribute(("owner", rule.owner.as_str()));
    start.push_attribute(("scope", "LOCAL"));
    start.push_attribute(("type", "EVENT"));
    start.push_attribute(("roleDefinition", "false"));
    start.push_attribute(("buildingBlock", bool_str(rule.building_block)));
    start.push_attribute(("enabled", bool_str(rule.enabled)));
    start.push_attribute(("id", id.as_str()));
    w.write_event(Event::Start(start)).map_err(io)?;
    raw(w, "\n\t").map_err(io)?;
    leaf(w, "name", &rule.name).map_err(io)?;
    raw(w, "\n\t").map_err(io)?;
    leaf(w, "notes", &rule.notes).map_err(io)?;
    raw(w, "\n\t").map_err(io)?;
    w.write_event(Event::Start(BytesStart::new("testDefinitions")))
        .map_err(io)?;
    for (uid, test) in rule.tests.iter().enumerate() {
        raw(w, "\n\t\t").map_err(io)?;
        let class = test.class();
        let skeleton = skeletons
            .by_class
            .get(class)
            .ok_or(RuleError::MissingSkeleton(class))?;
        let uid = uid.to_string();
        match skeletons.compiled.get(class) {
            Some(Some(filled)) => filled.write(w.get_mut(), &uid, &test.text(), &test.selection()),
            _ => fill_skeleton(w, class, skeleton, &uid, &test.text(), &test.selection())?,
        }
    }
    raw(w, "\n\t").map_err(io)?;
    w.write_event(Event::End(BytesEnd::new("testDefinitions")))
        .map_err(io)?;
    if let Some(r) = &rule.response {
        write_response(w, r).map_err(io)?;
    }
    raw(w, "\n").map_err(io)?;
    w.write_event(Event::End(BytesEnd::new("rule")))
        .map_err(io)?;
    Ok(())
}

fn bool_str(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

fn write_response(w: &mut Writer<Vec<u8>>, r: &RuleResponse) -> std::io::Result<()> {
    let offense = bool_str(r.offense);
    raw(w, "\n\t")?;
    let mut actions = BytesStart::new("actions");
    actions.push_attribute(("flowAnalysisInterval", "0"));
    actions.push_attribute(("includeAttackerEventsInterval", "0"));
    actions.push_attribute(("forceOffenseCreation", offense));
    actions.push_attribute(("offenseMapping", "0"));
    w.write_event(Event::Empty(actions))?;
    raw(w, "\n\t")?;
    let mut responses = BytesStart::new("responses");
    for flag in [
        "referenceTableRemove",
        "referenceMapOfMapsRemove",
        "referenceMapOfSetsRemove",
        "referenceMapRemove",
        "referenceTable",
        "referenceMapOfMaps",
        "referenceMapOfSets",
        "referenceMap",
    ] {
        responses.push_attribute((flag, "false"));
    }
    w.write_event(Event::Start(responses))?;
    raw(w, "\n\t\t")?;
    let (cat, qid, sev, cred, rel) = (
        r.low_level_category.to_string(),
        r.qid.to_string(),
        r.severity.to_string(),
        r.credibility.to_string(),
        r.relevance.to_string(),
    );
    let mut ne = BytesStart::new("newevent");
    ne.push_attribute(("lowLevelCategory", cat.as_str()));
    ne.push_attribute(("offenseMapping", "0"));
    ne.push_attribute(("forceOffenseCreation", offense));
    ne.push_attribute(("qid", qid.as_str()));
    ne.push_attribute(("contributeOffenseName", "true"));
    ne.push_attribute(("overrideOffenseName", "false"));
    ne.push_attribute(("describeOffense", "true"));
    ne.push_attribute(("relevance", rel.as_str()));
    ne.push_attribute(("credibility", cred.as_str()));
    ne.push_attribute(("severity", sev.as_str()));
    ne.push_attribute(("description", r.description.as_str()));
    ne.push_attribute(("name", r.name.as_str()));
    w.write_event(Event::Empty(ne))?;
    raw(w, "\n\t")?;
    w.write_event(Event::End(BytesEnd::new("responses")))
}

/// Copy a skeleton's events, setting `uid`, the `<text>` and parameter 1's
/// `<userSelection>`.
fn fill_skeleton(
    w: &mut Writer<Vec<u8>>,
    class: &str,
    skeleton: &str,
    uid: &str,
    text: &str,
    selection: &str,
) -> Result<(), RuleError> {
    let bad = |reason: String| RuleError::BadSkeleton {
        class: class.to_string(),
        reason,
    };
    let mut reader = Reader::from_str(skeleton.trim());
    let mut path: Vec<String> = Vec::new();
    let mut param_id: Option<String> = None;
    let mut filled_text = false;
    let mut filled_selection = false;
    loop {
        let ev = reader.read_event().map_err(|e| bad(e.to_string()))?;
        match ev {
            Event::Eof => {
                if !path.is_empty() {
                    return Err(bad(format!(
                        "it ends inside <{}>: not well-formed XML",
                        path.join("><")
                    )));
                }
                break;
            }
            Event::Start(s) | Event::Empty(s) if path.is_empty() && s.name().as_ref() == "test" => {
                let mut out = BytesStart::new("test");
                for a in s.attributes() {
                    let a = a.map_err(|e| bad(e.to_string()))?;
                    let key = a.key.as_ref().to_string();
                    let val = a
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_err(|e| bad(e.to_string()))?
                        .into_owned();
                    if key == "uid" {
                        out.push_attribute(("uid", uid));
                    } else {
                        out.push_attribute((key.as_str(), val.as_str()));
                    }
                }
                w.write_event(Event::Start(out)).map_err(io)?;
                path.push("test".into());
            }
            Event::Start(s) => {
                let name = s.name().as_ref().to_string();
                if name == "parameter" {
                    param_id = s.try_get_attribute("id").ok().flatten().and_then(|a| {
                        a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .ok()
                            .map(|v| v.into_owned())
                    });
                }
                let fill = match name.as_str() {
                    "text" if path.len() == 1 => Some(text),
                    "userSelection" if param_id.as_deref() == Some("1") => Some(selection),
                    _ => None,
                };
                w.write_event(Event::Start(s.into_owned())).map_err(io)?;
                path.push(name.clone());
                if let Some(value) = fill {
                    if name == "text" {
                        filled_text = true;
                    } else {
                        filled_selection = true;
                    }
                    if !value.is_empty() {
                        w.write_event(Event::Text(BytesText::new(value)))
                            .map_err(io)?;
                    }
                    // Skip the skeleton's own content up to the matching end tag.
                    let end = reader
                        .read_to_end(s_name(&name))
                        .map_err(|e| bad(e.to_string()));
                    end?;
                    path.pop();
                    w.write_event(Event::End(BytesEnd::new(name))).map_err(io)?;
                }
            }
            Event::End(e) => {
                path.pop();
                let name = e.name().as_ref().to_string();
                if name == "parameter" {
                    param_id = None;
                }
                w.write_event(Event::End(e.into_owned())).map_err(io)?;
            }
            other => w.write_event(other.into_owned()).map_err(io)?,
        }
    }
    if !filled_text || !filled_selection {
        return Err(bad(
            "it needs a <text> element and a <userSelection> inside <parameter id=\"1\">".into(),
        ));
    }
    Ok(())
}

fn s_name(name: &str) -> quick_xml::name::QName<'_> {
    quick_xml::name::QName(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RuleDef {
        RuleDef {
            id: 7,
            name: "R & <D>".into(),
            notes: "a \"note\"".into(),
            enabled: true,
            building_block: false,
            owner: "admin".into(),
            tests: vec![
                RuleTest::LogSourceTypes(vec![(445, "Microsoft Azure Active Directory".into())]),
                RuleTest::Qids(vec![(2000000, "A".into()), (2000001, "B".into())]),
                RuleTest::Aql("\"Result\" = 'success' AND x > 1".into()),
            ],
            response: Some(RuleResponse {
                offense: true,
                severity: 8,
                credibility: 7,
                relevance: 9,
                qid: 2000009,
                low_level_category: 12002,
                name: "R".into(),
                description: "d".into(),
            }),
        }
    }

    #[test]
    fn rule_xml_is_well_formed_and_filled() {
        let xml =
            String::from_utf8(write_rule(&sample(), &Skeletons::builtin()).unwrap_or_default())
                .unwrap_or_default();
        assert!(xml.starts_with("<rule owner=\"admin\""), "{xml}");
        assert!(xml.contains("<name>R &amp; &lt;D&gt;</name>"), "{xml}");
        assert!(
            xml.contains("uid=\"2\" name=\"com.q1labs.semsources.cre.tests.AQL_Test\""),
            "{xml}"
        );
        assert!(xml.contains("<userSelection>445</userSelection>"), "{xml}");
        assert!(
            xml.contains("<userSelection>2000000, 2000001</userSelection>"),
            "{xml}"
        );
        assert!(
            xml.contains("<userSelection>events</userSelection>"),
            "{xml}"
        );
        assert!(xml.contains("qid=\"2000009\""), "{xml}");
        // parses back with a real reader from start to end
        let mut r = Reader::from_str(&xml);
        let mut depth = 0i32;
        loop {
            match r.read_event() {
                Ok(Event::Eof) => break,
                Ok(Event::Start(_)) => depth += 1,
                Ok(Event::End(_)) => depth -= 1,
                Ok(_) => {}
                Err(e) => panic!("{e}: {xml}"),
            }
        }
        assert_eq!(depth, 0);
    }

    #[test]
    fn aql_selection_round_trips_through_percent_decoding() {
        let f = "\"Result\" = 'success' OR x+1 = 2 | LOWER(a) LIKE '%b%'";
        let sel = aql_selection(f);
        let (a, b) = sel.split_once('|').unwrap_or_default();
        assert!(!a.contains(' ') && !a.contains('+'));
        let a = percent_encoding::percent_decode_str(a)
            .decode_utf8_lossy()
            .into_owned();
        let b = percent_encoding::percent_decode_str(b)
            .decode_utf8_lossy()
            .into_owned();
        assert_eq!(a, f);
        assert_eq!(
            serde_json::from_str::<Vec<String>>(&b).unwrap_or_default(),
            vec![f.to_string()]
        );
    }

    #[test]
    fn truncated_skeleton_is_refused() {
        let mut s = Skeletons::builtin();
        s.insert("QID_Test", "<test uid=\"0\"><text></text><parameter id=\"1\"><userSelection></userSelection></parameter>".into());
        let err = write_rule(&sample(), &s)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("ends inside <test>"), "{err}");
    }

    /// The skeletons filled once and cut (the fast path) write exactly what filling them
    /// by parsing writes, for values that need escaping too.
    #[test]
    fn compiled_skeletons_write_what_parsing_writes() {
        let s = Skeletons::builtin();
        for (class, xml) in &s.by_class {
            let filled = s.compiled.get(class).and_then(|f| f.as_ref());
            assert!(filled.is_some(), "{class} was not compiled");
            for (uid, text, selection) in [
                (
                    "0",
                    "when the event QID is one of the following QIDs",
                    "2000000,2000001",
                ),
                ("12", "a & b < c > d \"e\" 'f'", "<x>&amp;</x>"),
                ("3", "", ""),
                ("4", "\u{e9}\u{2013} \n\t tabs", "445"),
            ] {
                let mut slow = Writer::new(Vec::new());
                let slow_ok = fill_skeleton(&mut slow, class, xml, uid, text, selection).is_ok();
                assert!(slow_ok, "{class}");
                let mut fast = Vec::new();
                if let Some(f) = filled {
                    f.write(&mut fast, uid, text, selection);
                }
                assert_eq!(
                    String::from_utf8_lossy(&fast),
                    String::from_utf8_lossy(slow.get_ref()),
                    "{class} with {text:?}"
                );
            }
        }
    }

    /// A skeleton that holds the marker character itself is filled by parsing, and its
    /// character survives.
    #[test]
    fn skeleton_holding_the_marker_is_filled_by_parsing() {
        let mut s = Skeletons::builtin();
        let xml = "<test uid=\"0\" name=\"com.q1labs.semsources.cre.tests.QID_Test\"><text>x</text><note>\u{F8FF}U\u{F8FF}</note><parameter id=\"1\"><userSelection></userSelection></parameter></test>";
        s.insert("QID_Test", xml.into());
        assert!(matches!(s.compiled.get("QID_Test"), Some(None)));
        let out =
            String::from_utf8(write_rule(&sample(), &s).unwrap_or_default()).unwrap_or_default();
        assert!(out.contains("<note>\u{F8FF}U\u{F8FF}</note>"), "{out}");
        assert!(
            out.contains("<userSelection>2000000, 2000001</userSelection>"),
            "{out}"
        );
    }

    #[test]
    fn skeleton_without_selection_is_refused() {
        let mut s = Skeletons::builtin();
        s.insert("QID_Test", "<test uid=\"0\"><text></text></test>".into());
        let err = write_rule(&sample(), &s)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("QID_Test"), "{err}");
    }
}

/// A `<rule>` as read back from `rule_data`: enough to check and describe it.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct ParsedRule {
    pub name: String,
    pub notes: String,
    pub building_block: bool,
    pub enabled: bool,
    pub tests: Vec<ParsedTest>,
    /// `<newevent>` attributes, when the rule dispatches an event.
    pub response: Option<BTreeMap<String, String>>,
    pub force_offense: bool,
}

/// One test of a parsed rule: its class (without the package), negation, the sentence
/// and the values of each parameter.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct ParsedTest {
    pub class: String,
    pub negate: bool,
    pub text: String,
    pub selections: BTreeMap<String, String>,
}

/// Read a `<rule>` document. Errors say what is missing or malformed.
pub fn parse_rule(xml: &str) -> Result<ParsedRule, String> {
    let mut r = Reader::from_str(xml);
    let mut out = ParsedRule::default();
    let mut stack: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut test: Option<ParsedTest> = None;
    let mut param = String::new();
    let mut seen_rule = false;
    let mut seen_tests = false;
    let attr = |s: &BytesStart, k: &str| -> Option<String> {
        s.try_get_attribute(k).ok().flatten().and_then(|a| {
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .ok()
                .map(|v| v.into_owned())
        })
    };
    loop {
        let ev = r
            .read_event()
            .map_err(|e| format!("not well-formed XML: {e}"))?;
        match ev {
            Event::Eof => break,
            Event::DocType(_) => return Err("a DOCTYPE in rule XML".into()),
            Event::Start(ref s) | Event::Empty(ref s) => {
                let name = s.name().as_ref().to_string();
                let empty = matches!(ev, Event::Empty(_));
                match (stack.len(), name.as_str()) {
                    (0, "rule") => {
                        seen_rule = true;
                        out.building_block = attr(s, "buildingBlock").as_deref() == Some("true");
                        out.enabled = attr(s, "enabled").as_deref() != Some("false");
                    }
                    (0, other) => return Err(format!("the root element is <{other}>, not <rule>")),
                    (_, "testDefinitions") => seen_tests = true,
                    (_, "test") => {
                        let class = attr(s, "name").unwrap_or_default();
                        test = Some(ParsedTest {
                            class: class.rsplit('.').next().unwrap_or("").to_string(),
                            negate: attr(s, "negate").as_deref() == Some("true"),
                            ..ParsedTest::default()
                        });
                    }
                    (_, "parameter") => param = attr(s, "id").unwrap_or_default(),
                    (_, "actions") => {
                        out.force_offense =
                            attr(s, "forceOffenseCreation").as_deref() == Some("true")
                    }
                    (_, "newevent") => {
                        let mut m = BTreeMap::new();
                        for a in s.attributes().flatten() {
                            if let Ok(v) = a.normalized_value(quick_xml::XmlVersion::Implicit1_0) {
                                m.insert(a.key.as_ref().to_string(), v.into_owned());
                            }
                        }
                        out.response = Some(m);
                    }
                    _ => {}
                }
                if !empty {
                    stack.push(name);
                    text.clear();
                }
            }
            Event::Text(t) => text.push_str(&t.xml_content(quick_xml::XmlVersion::Implicit1_0)),
            Event::CData(t) => text.push_str(&t.into_inner()),
            Event::GeneralRef(g) => text.push_str(&crate::xml::resolve_reference(&g)?),
            Event::End(_) => {
                let name = stack.pop().unwrap_or_default();
                let t = std::mem::take(&mut text);
                match (stack.len(), name.as_str()) {
                    (1, "name") => out.name = t,
                    (1, "notes") => out.notes = t,
                    (_, "text") => {
                        if let Some(test) = test.as_mut() {
                            test.text = t;
                        }
                    }
                    (_, "userSelection") => {
                        if let Some(test) = test.as_mut() {
                            test.selections.insert(param.clone(), t);
                        }
                    }
                    (_, "test") => {
                        if let Some(done) = test.take() {
                            out.tests.push(done);
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    if !seen_rule {
        return Err("no <rule> element".into());
    }
    if !stack.is_empty() {
        return Err(format!(
            "the document ends inside <{}> (truncated?)",
            stack.join("><")
        ));
    }
    if out.name.trim().is_empty() {
        return Err("the rule has no <name>".into());
    }
    if !seen_tests {
        return Err("the rule has no <testDefinitions>".into());
    }
    Ok(out)
}

#[cfg(test)]
mod parse_tests {
    use super::*;

    #[test]
    fn parses_what_write_rule_writes() {
        let def = RuleDef {
            id: 1,
            name: "N & <x>".into(),
            notes: "n".into(),
            enabled: false,
            building_block: true,
            owner: "admin".into(),
            tests: vec![
                RuleTest::Qids(vec![(2000000, "A".into())]),
                RuleTest::Aql("\"R\" = 'x'".into()),
            ],
            response: None,
        };
        let xml = String::from_utf8(write_rule(&def, &Skeletons::builtin()).unwrap_or_default())
            .unwrap_or_default();
        let p = parse_rule(&xml).expect("parses");
        assert_eq!(p.name, "N & <x>");
        assert!(p.building_block && !p.enabled);
        assert_eq!(p.tests.len(), 2);
        assert_eq!(p.tests[0].class, "QID_Test");
        assert_eq!(
            p.tests[0].selections.get("1").map(String::as_str),
            Some("2000000")
        );
        assert_eq!(
            p.tests[1].selections.get("2").map(String::as_str),
            Some("events")
        );
    }

    #[test]
    fn refuses_broken_rules() {
        assert!(parse_rule("<rule><name>x</name></rule>").is_err());
        assert!(parse_rule("<rule><testDefinitions/></rule>").is_err());
        assert!(parse_rule("<other/>").is_err());
        assert!(parse_rule("<rule><name>x</name><testDefinitions>").is_err());
    }
}
