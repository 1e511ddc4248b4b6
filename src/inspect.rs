//! `inspect`: what an extension holds, read into one summary (for people and for
//! scripts): manifest, row counts, events with their device-event spellings, properties
//! with their expressions, rules decoded into words, log source types and extensions,
//! saved searches.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine;
use serde::Serialize;

use crate::catalogue::Catalogue;
use crate::read::rows::RowAt;
use crate::validate::Report;
use crate::validate::manifest::ManifestInfo;

#[derive(Debug, Serialize)]
pub struct Inspection {
    pub input: String,
    pub content: Option<String>,
    pub qradar_version: Option<String>,
    pub manifest: Option<ManifestInfo>,
    pub counts: BTreeMap<String, usize>,
    pub events: Vec<EventView>,
    pub properties: Vec<PropertyView>,
    pub rules: Vec<RuleView>,
    pub log_source_types: Vec<LogSourceTypeView>,
    pub log_source_extensions: Vec<ExtensionView>,
    pub searches: Vec<SearchView>,
    pub findings: FindingCounts,
}

#[derive(Debug, Serialize)]
pub struct FindingCounts {
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
}

#[derive(Debug, Serialize)]
pub struct EventView {
    pub qid: Option<i64>,
    pub name: String,
    pub description: String,
    pub severity: Option<i64>,
    pub category: Option<i64>,
    pub category_name: Option<String>,
    /// (log source type, device event id, device event category)
    pub device_events: Vec<DeviceEventView>,
}

#[derive(Debug, Serialize)]
pub struct DeviceEventView {
    pub log_source_type: Option<i64>,
    pub event_id: String,
    pub event_category: String,
}

#[derive(Debug, Serialize)]
pub struct PropertyView {
    pub id: String,
    pub name: String,
    pub property_type: String,
    pub expressions: Vec<ExpressionView>,
}

#[derive(Debug, Serialize)]
pub struct ExpressionView {
    pub id: String,
    /// `json` or `regex`.
    pub kind: &'static str,
    pub expression: String,
    pub capture_group: Option<i64>,
    pub log_source_type: Option<i64>,
    /// `None` for any QID.
    pub qid: Option<i64>,
    pub rank: Option<i64>,
    pub enabled: bool,
    pub has_sample: bool,
}

#[derive(Debug, Serialize)]
pub struct RuleView {
    pub id: String,
    pub uuid: String,
    pub name: String,
    pub building_block: bool,
    pub enabled: bool,
    pub notes: String,
    /// Each test in words.
    pub tests: Vec<String>,
    pub response: Option<String>,
    pub groups: Vec<String>,
    /// Set when `rule_data` could not be decoded.
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct LogSourceTypeView {
    pub id: Option<i64>,
    pub name: String,
    pub description: String,
    pub protocols: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ExtensionView {
    pub name: String,
    /// One line per matcher: `Field ← how (order n)`.
    pub parsing: Vec<String>,
    /// The parsing rules in words: one sentence per field, then which records the
    /// extension handles and how their QID is found.
    pub rules: Vec<String>,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct SearchView {
    pub name: String,
    pub aql: Option<String>,
    pub note: &'static str,
}

fn int(r: &RowAt, c: &str) -> Option<i64> {
    r.value(c).and_then(|v| v.trim().parse().ok())
}

fn text(r: &RowAt, c: &str) -> String {
    r.value(c).unwrap_or("").to_string()
}

fn b64(s: &str) -> Option<String> {
    let cleaned: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cleaned)
        .ok()?;
    String::from_utf8(bytes).ok()
}

/// Summarise what validation read (with `keep_rows`).
pub fn inspect(report: &Report, catalogue: &Catalogue) -> Inspection {
    let rows = &report.rows;
    fn of<'r>(rows: &'r [RowAt], t: &'static str) -> impl Iterator<Item = &'r RowAt> {
        rows.iter().filter(move |r| r.table == t)
    }
    let qid_names: BTreeMap<i64, String> = of(rows, "qidmap")
        .filter_map(|r| Some((int(r, "qid")?, text(r, "qname"))))
        .collect();
    let type_names: BTreeMap<i64, String> = of(rows, "sensordevicetype")
        .filter_map(|r| Some((int(r, "id")?, text(r, "devicetypedescription"))))
        .collect();
    let type_name = |id: i64| -> String {
        type_names
            .get(&id)
            .cloned()
            .or_else(|| {
                u32::try_from(id)
                    .ok()
                    .and_then(|i| catalogue.log_source_type(i))
                    .map(|t| t.name.clone())
            })
            .unwrap_or_default()
    };

    let mut events: Vec<EventView> = of(rows, "qidmap")
        .map(|r| {
            let id = int(r, "id");
            let category = int(r, "lowlevelcategory");
            EventView {
                qid: int(r, "qid"),
                name: text(r, "qname"),
                description: text(r, "qdescription"),
                severity: int(r, "severity"),
                category,
                category_name: category
                    .and_then(|c| u32::try_from(c).ok())
                    .and_then(|c| catalogue.category(c))
                    .map(|c| c.name.clone()),
                device_events: of(rows, "dsmevent")
                    .filter(|d| id.is_some() && int(d, "qidmapid") == id)
                    .map(|d| DeviceEventView {
                        log_source_type: int(d, "devicetypeid"),
                        event_id: text(d, "deviceeventid"),
                        event_category: text(d, "deviceeventcategory"),
                    })
                    .collect(),
            }
        })
        .collect();
    events.sort_by_key(|e| e.qid);

    let properties = of(rows, "ariel_regex_property")
        .map(|p| {
            let id = text(p, "id");
            let mut expressions: Vec<ExpressionView> = rows
                .iter()
                .filter(|e| {
                    (e.table == "ariel_property_expression"
                        || e.table == "ariel_property_json_expression")
                        && e.value("ap_id") == Some(id.as_str())
                })
                .map(|e| {
                    let json = e.table == "ariel_property_json_expression";
                    ExpressionView {
                        id: text(e, "id"),
                        kind: if json { "json" } else { "regex" },
                        expression: if json {
                            text(e, "expression")
                        } else {
                            text(e, "regex")
                        },
                        capture_group: if json { None } else { int(e, "capturegroup") },
                        log_source_type: int(e, "devicetypeid").filter(|t| *t >= 0),
                        qid: int(e, "qid").filter(|q| *q >= 0),
                        rank: int(e, "rank"),
                        enabled: e.value("enabled") != Some("false"),
                        has_sample: e.value("payload").is_some_and(|p| !p.is_empty()),
                    }
                })
                .collect();
            expressions.sort_by_key(|e| (e.rank, e.qid));
            PropertyView {
                id,
                name: text(p, "propertyname"),
                property_type: text(p, "propertytype"),
                expressions,
            }
        })
        .collect();

    let groups: BTreeMap<String, String> = of(rows, "fgroup")
        .map(|g| (text(g, "id"), text(g, "name")))
        .collect();
    let rules = of(rows, "custom_rule")
        .map(|r| {
            let id = text(r, "id");
            let member_of: Vec<String> = of(rows, "fgroup_link")
                .filter(|l| text(l, "item_id").trim() == id.trim())
                .filter_map(|l| groups.get(&text(l, "fgroup_id")).cloned())
                .collect();
            let mut view = RuleView {
                id: id.clone(),
                uuid: text(r, "uuid"),
                name: String::new(),
                building_block: false,
                enabled: true,
                notes: String::new(),
                tests: Vec::new(),
                response: None,
                groups: member_of,
                error: None,
            };
            match b64(r.value("rule_data").unwrap_or("")).ok_or_else(|| "rule_data is not base64 of UTF-8".to_string()).and_then(|x| crate::rule::parse_rule(&x)) {
                Ok(p) => {
                    view.name = p.name.clone();
                    view.building_block = p.building_block;
                    view.enabled = p.enabled;
                    view.notes = p.notes.clone();
                    view.tests = p.tests.iter().map(|t| describe_test(t, &qid_names, &type_name)).collect();
                    view.response = p.response.as_ref().map(|m| {
                        let g = |k: &str| m.get(k).cloned().unwrap_or_default();
                        let qid = g("qid");
                        format!(
                            "dispatch \"{}\" (QID {qid}, category {}), severity {}, credibility {}, relevance {}{}",
                            g("name"),
                            g("lowLevelCategory"),
                            g("severity"),
                            g("credibility"),
                            g("relevance"),
                            if p.force_offense || g("forceOffenseCreation") == "true" { ", and create an offense" } else { "" }
                        )
                    });
                }
                Err(e) => view.error = Some(e),
            }
            view
        })
        .collect();

    let log_source_types = of(rows, "sensordevicetype")
        .map(|t| {
            let id = int(t, "id");
            let protocols = of(rows, "sensordeviceprotocols")
                .filter(|p| id.is_some() && int(p, "sensordevicetypeid") == id)
                .filter_map(|p| int(p, "sensorprotocolid"))
                .map(|pid| {
                    of(rows, "sensorprotocol")
                        .find(|s| int(s, "id") == Some(pid))
                        .map(|s| text(s, "protocolname"))
                        .or_else(|| {
                            u32::try_from(pid)
                                .ok()
                                .and_then(|i| catalogue.protocol(i))
                                .map(|p| p.name.clone())
                        })
                        .unwrap_or_else(|| format!("protocol {pid}"))
                })
                .collect();
            LogSourceTypeView {
                id,
                name: text(t, "devicetypename"),
                description: text(t, "devicetypedescription"),
                protocols,
            }
        })
        .collect();

    let log_source_extensions = of(rows, "device_ext")
        .map(|d| {
            let name = text(d, "name");
            match b64(d.value("xml").unwrap_or(""))
                .ok_or_else(|| "xml is not base64 of UTF-8".to_string())
                .and_then(|x| crate::device_ext::parse(&x))
            {
                Ok(ext) => {
                    let mut parsing = Vec::new();
                    for g in &ext.groups {
                        if let Some(o) = &g.device_type_id_override {
                            parsing.push(format!(
                                "events become log source type {o} ({})",
                                type_name(o.parse().unwrap_or(0))
                            ));
                        }
                        let mut ms: Vec<&crate::device_ext::Matcher> = g.matchers.iter().collect();
                        ms.sort_by(|a, b| {
                            (a.field.as_str(), a.order.as_str())
                                .cmp(&(b.field.as_str(), b.order.as_str()))
                        });
                        for m in ms {
                            let pat = ext.patterns.iter().find(|p| p.id == m.pattern_id);
                            let how = match pat {
                                Some(p) if m.json => format!("JSON key path {}", p.text),
                                Some(p) => format!(
                                    "regex {} (group {})",
                                    p.text,
                                    m.capture_group.as_deref().unwrap_or("\\1")
                                ),
                                None => format!("missing pattern {}", m.pattern_id),
                            };
                            let ext_data = m
                                .ext_data
                                .as_deref()
                                .map(|d| format!(", format {d}"))
                                .unwrap_or_default();
                            parsing
                                .push(format!("{} ← {how}{ext_data} (order {})", m.field, m.order));
                        }
                    }
                    ExtensionView {
                        name,
                        parsing,
                        rules: describe_extension(&ext, &type_name),
                        error: None,
                    }
                }
                Err(e) => ExtensionView {
                    name,
                    parsing: Vec::new(),
                    rules: Vec::new(),
                    error: Some(e),
                },
            }
        })
        .collect();

    let searches = of(rows, "customviewparams")
        .map(|s| SearchView {
            name: text(s, "itemname"),
            aql: s.value("aql").map(str::to_string),
            note: "saved-search rows are unverified (docs/saved-searches.md)",
        })
        .collect();

    let s = crate::diag::Summary::of(&report.findings);
    Inspection {
        input: report.input.clone(),
        content: report.content_name.clone(),
        qradar_version: report.qradar_version.clone(),
        manifest: report.manifest.clone(),
        counts: report.counts.clone(),
        events,
        properties,
        rules,
        log_source_types,
        log_source_extensions,
        searches,
        findings: FindingCounts {
            errors: s.errors,
            warnings: s.warnings,
            infos: s.infos,
        },
    }
}

/// A log source extension's parsing in words: for each field, where its value is read,
/// in the order QRadar tries; then which records go through each match group.
pub(crate) fn describe_extension(
    ext: &crate::device_ext::DeviceExtension,
    type_name: &dyn Fn(i64) -> String,
) -> Vec<String> {
    use crate::device_ext::Matcher;
    let mut out = Vec::new();
    let pattern = |id: &str| ext.patterns.iter().find(|p| p.id == id);
    for g in &ext.groups {
        // Fields in the order of qrpack's list, then any others by name.
        let mut fields: Vec<&str> = g.matchers.iter().map(|m| m.field.as_str()).collect();
        fields.sort_by_key(|f| {
            (
                crate::custom_dsm::FIELDS
                    .iter()
                    .position(|(_, q)| q == f)
                    .unwrap_or(usize::MAX),
                *f,
            )
        });
        fields.dedup();
        for f in fields {
            let mut ms: Vec<&Matcher> = g.matchers.iter().filter(|m| m.field == f).collect();
            ms.sort_by_key(|m| m.order.trim().parse::<i64>().unwrap_or(i64::MAX));
            let ways: Vec<String> = ms
                .iter()
                .map(|m| {
                    let how = match pattern(&m.pattern_id) {
                        None => format!("pattern {} (missing)", m.pattern_id),
                        Some(p) if m.json => format!("the JSON value at {}", p.text),
                        Some(p) => {
                            let cg = m.capture_group.as_deref().unwrap_or("0");
                            let group = match cg.trim() {
                                "0" => "the text matched by".to_string(),
                                g if g.parse::<u32>().is_ok() => format!("group {g} of"),
                                g if g.len() == 2 && g.starts_with('\\') => {
                                    format!("group {} of", &g[1..])
                                }
                                g => format!("\"{g}\" (groups substituted) from"),
                            };
                            format!("{group} the regex {}", p.text)
                        }
                    };
                    match &m.ext_data {
                        Some(d) => format!("{how}, read as the date {d}"),
                        None => how,
                    }
                })
                .collect();
            out.push(format!("{f}: {}", ways.join("; else ")));
        }
        let to = match &g.device_type_id_override {
            Some(o) => {
                let id: i64 = o.trim().parse().unwrap_or(0);
                let n = type_name(id);
                if n.is_empty() {
                    format!(" as log source type {o}")
                } else {
                    format!(" as log source type {o} ({n})")
                }
            }
            None => String::new(),
        };
        for e in &g.event_matches {
            let which = match pattern(&e.pattern_id) {
                Some(p) if p.text == "(.*?)" || p.text == "(.*)" => "Every record".to_string(),
                Some(p) => format!("Records matching {}", p.text),
                None => format!("Records matching the missing pattern {}", e.pattern_id),
            };
            let lookup = if e
                .attrs
                .get("force-qidmap-lookup-on-fixup")
                .map(String::as_str)
                == Some("true")
            {
                ": its QID is looked up from EventName and EventCategory in the event mappings"
            } else {
                ""
            };
            out.push(format!("{which} is parsed this way{to}{lookup}."));
        }
    }
    out
}

/// A rule test in words (also used by `diff`).
pub(crate) fn describe_test(
    t: &crate::rule::ParsedTest,
    qids: &BTreeMap<i64, String>,
    type_name: &dyn Fn(i64) -> String,
) -> String {
    let sel = t.selections.get("1").cloned().unwrap_or_default();
    let list =
        |s: &str| -> Vec<i64> { s.split(',').filter_map(|x| x.trim().parse().ok()).collect() };
    let not = if t.negate { "not " } else { "" };
    match t.class.as_str() {
        "DeviceTypeID_Test" => format!(
            "the log source type is {not}one of {}",
            list(&sel)
                .iter()
                .map(|id| {
                    let n = type_name(*id);
                    if n.is_empty() {
                        id.to_string()
                    } else {
                        format!("{id} ({n})")
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
        "QID_Test" => format!(
            "the event QID is {not}one of {}",
            list(&sel)
                .iter()
                .map(|q| match qids.get(q) {
                    Some(n) => format!("{q} ({n})"),
                    None => format!("{q} (not in this file)"),
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
        "AQL_Test" => {
            let filter = sel.split('|').next().unwrap_or("");
            let decoded = percent_encoding::percent_decode_str(&filter.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned();
            format!("the event {not}matches the AQL filter: {decoded}")
        }
        other => {
            if t.text.is_empty() {
                format!("{other}: {sel}")
            } else {
                t.text.clone()
            }
        }
    }
}

/// The human form.
pub fn render(i: &Inspection) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{}", i.input);
    if let Some(c) = &i.content {
        let _ = writeln!(o, "  content:        {c}");
    }
    if let Some(v) = &i.qradar_version {
        let _ = writeln!(o, "  qradarversion:  {v}");
    }
    match &i.manifest {
        Some(m) => {
            let _ = writeln!(o, "  manifest:       {} {} ({})", m.name, m.version, m.id);
            let _ = writeln!(o, "  author:         {} <{}>", m.author, m.author_email);
            let _ = writeln!(o, "  min QRadar:     {}", m.min_qradar_version);
            if !m.description.is_empty() {
                let _ = writeln!(o, "  description:    {}", m.description);
            }
        }
        None => {
            let _ = writeln!(o, "  manifest:       none");
        }
    }
    let counts: Vec<String> = i.counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let _ = writeln!(o, "  rows:           {}", counts.join(", "));
    let pl = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    let _ = writeln!(
        o,
        "  findings:       {}, {}, {} (qrpack validate shows them)",
        pl(i.findings.errors, "error"),
        pl(i.findings.warnings, "warning"),
        pl(i.findings.infos, "note")
    );

    if !i.events.is_empty() {
        let _ = writeln!(o, "\nEvents ({})", i.events.len());
        for e in &i.events {
            let cat = match (&e.category, &e.category_name) {
                (Some(c), Some(n)) => format!("{c} {n}"),
                (Some(c), None) => c.to_string(),
                _ => "?".into(),
            };
            let _ = writeln!(
                o,
                "  {} {}  [severity {}, {}]",
                e.qid.map(|q| q.to_string()).unwrap_or_else(|| "?".into()),
                e.name,
                e.severity
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "?".into()),
                cat
            );
            for d in &e.device_events {
                let _ = writeln!(
                    o,
                    "      ← type {} {:?} / {:?}",
                    d.log_source_type.map(|t| t.to_string()).unwrap_or_default(),
                    d.event_id,
                    d.event_category
                );
            }
        }
    }
    if !i.properties.is_empty() {
        let _ = writeln!(o, "\nProperties ({})", i.properties.len());
        for p in &i.properties {
            let _ = writeln!(o, "  {} ({})", p.name, p.property_type);
            for e in &p.expressions {
                let scope = match (e.log_source_type, e.qid) {
                    (Some(t), Some(q)) => format!("type {t}, QID {q}"),
                    (Some(t), None) => format!("type {t}"),
                    (None, Some(q)) => format!("QID {q}"),
                    (None, None) => "any".into(),
                };
                let group = e
                    .capture_group
                    .map(|g| format!(" group {g}"))
                    .unwrap_or_default();
                let flags = format!(
                    "{}{}",
                    if e.enabled { "" } else { ", disabled" },
                    if e.has_sample { ", sample" } else { "" }
                );
                let _ = writeln!(
                    o,
                    "      {} {}{group}  [{scope}{flags}]",
                    e.kind, e.expression
                );
            }
        }
    }
    if !i.rules.is_empty() {
        let _ = writeln!(o, "\nRules ({})", i.rules.len());
        for r in &i.rules {
            let kind = if r.building_block {
                "building block"
            } else {
                "rule"
            };
            let state = if r.enabled { "" } else { ", disabled" };
            let _ = writeln!(
                o,
                "  {} [{kind}{state}, uuid {}]",
                if r.name.is_empty() {
                    "(unreadable)"
                } else {
                    &r.name
                },
                r.uuid
            );
            if let Some(e) = &r.error {
                let _ = writeln!(o, "      cannot decode: {e}");
            }
            for (n, t) in r.tests.iter().enumerate() {
                let _ = writeln!(o, "      {} {t}", if n == 0 { "when" } else { " and" });
            }
            if let Some(resp) = &r.response {
                let _ = writeln!(o, "      then {resp}");
            }
            if !r.groups.is_empty() {
                let _ = writeln!(o, "      group: {}", r.groups.join(", "));
            }
        }
    }
    if !i.log_source_types.is_empty() {
        let _ = writeln!(o, "\nLog source types ({})", i.log_source_types.len());
        for t in &i.log_source_types {
            let _ = writeln!(
                o,
                "  {} {} ({})",
                t.id.map(|x| x.to_string()).unwrap_or_default(),
                t.name,
                t.description
            );
            if !t.protocols.is_empty() {
                let _ = writeln!(o, "      protocols: {}", t.protocols.join(", "));
            }
        }
    }
    if !i.log_source_extensions.is_empty() {
        let _ = writeln!(
            o,
            "\nLog source extensions ({})",
            i.log_source_extensions.len()
        );
        for x in &i.log_source_extensions {
            let _ = writeln!(o, "  {}", x.name);
            if let Some(e) = &x.error {
                let _ = writeln!(o, "      cannot decode: {e}");
            }
            for p in &x.rules {
                let _ = writeln!(o, "      {p}");
            }
        }
    }
    if !i.searches.is_empty() {
        let _ = writeln!(
            o,
            "\nSaved searches ({}) — {}",
            i.searches.len(),
            i.searches[0].note
        );
        for s in &i.searches {
            let _ = writeln!(o, "  {}", s.name);
            if let Some(a) = &s.aql {
                for l in a.lines() {
                    let _ = writeln!(o, "      {l}");
                }
            }
        }
    }
    o
}
