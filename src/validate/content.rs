//! Checks on a content XML, row by row as the reader hands them out, then across rows at
//! the end. Only small indexes (ids, names, references) are kept between rows.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use base64::Engine;

use super::schema::{self, Kind};
use crate::build::{QDESCRIPTION_MAX, QNAME_MAX, normalize_spelling};
use crate::catalogue::Catalogue;
use crate::diag::{Diagnostic, Location, Severity};
use crate::jsonpath::KeyPath;
use crate::read::rows::RowAt;
use crate::read::tracked::Pos;

/// The user QID range real exports show (**[guess]** user QIDs live at 2000000 and above).
pub const USER_QID_MIN: i64 = 2_000_000;

pub struct Checker<'a> {
    /// Reading stopped early: checks across rows are skipped.
    pub stopped: bool,
    file: String,
    catalogue: &'a Catalogue,
    /// The catalogue is the user's own (`--categories`): an unknown category is an error.
    catalogue_is_authoritative: bool,
    pub findings: Vec<Diagnostic>,
    pub version: Option<(String, Pos)>,
    pub counts: BTreeMap<String, usize>,
    reported_unknown: HashSet<(String, String)>,
    qidmap_by_id: HashMap<i64, (i64, Pos)>,
    qid_first: HashMap<i64, Pos>,
    // Indexes keep 64-bit hashes of names, not the names: memory stays small however
    // many rows an export holds. A collision (odds ~1e-8 at a million rows) could only
    // report a false duplicate.
    qname_first: HashMap<u64, Pos>,
    triples: HashMap<u64, Pos>,
    spellings: HashMap<u64, (i64, Pos)>,
    dsm_refs: Vec<(i64, Pos, bool)>,
    property_ids: HashMap<u64, Pos>,
    expression_refs: Vec<(u64, Pos)>,
    rule_uuids: HashMap<u64, Pos>,
    /// Compiled regexes by pattern (exports repeat IBM's patterns many times).
    regexes: HashMap<String, Result<regex::Regex, String>>,
    rule_ids: HashSet<String>,
    qid_test_refs: Vec<(i64, Pos)>,
    group_ids: HashSet<i64>,
    links: Vec<(i64, String, Pos)>,
}

impl<'a> Checker<'a> {
    pub fn new(file: &str, catalogue: &'a Catalogue, catalogue_is_authoritative: bool) -> Self {
        Checker {
            stopped: false,
            file: file.to_string(),
            catalogue,
            catalogue_is_authoritative,
            findings: Vec::new(),
            version: None,
            counts: BTreeMap::new(),
            reported_unknown: HashSet::new(),
            qidmap_by_id: HashMap::new(),
            qid_first: HashMap::new(),
            qname_first: HashMap::new(),
            triples: HashMap::new(),
            spellings: HashMap::new(),
            dsm_refs: Vec::new(),
            property_ids: HashMap::new(),
            expression_refs: Vec::new(),
            rule_uuids: HashMap::new(),
            regexes: HashMap::new(),
            rule_ids: HashSet::new(),
            qid_test_refs: Vec::new(),
            group_ids: HashSet::new(),
            links: Vec::new(),
        }
    }

    pub fn loc(&self, pos: Pos) -> Location {
        Location {
            file: self.file.clone(),
            span: 0..0,
            line: pos.line as usize,
            column: pos.column as usize,
        }
    }

    fn push(&mut self, code: &'static str, sev: Severity, pos: Pos, msg: String, help: &str) {
        let d = Diagnostic::new(code, sev, msg).at(self.loc(pos)).help(help);
        self.findings.push(d);
    }

    fn err(&mut self, code: &'static str, pos: Pos, msg: String, help: &str) {
        self.push(code, Severity::Error, pos, msg, help);
    }

    fn warn(&mut self, code: &'static str, pos: Pos, msg: String, help: &str) {
        self.push(code, Severity::Warning, pos, msg, help);
    }

    pub fn version(&mut self, v: String, pos: Pos) {
        if !crate::manifest::is_qradar_version(v.trim()) {
            self.err(
                "QR032",
                pos,
                format!("<qradarversion> \"{v}\" is not 3 or 4 dot-separated numbers"),
                "write QRadar's internal version, e.g. 2021.6.0 or 2019.14.0.20191031163225",
            );
        }
        self.version = Some((v.trim().to_string(), pos));
    }

    pub fn row(&mut self, row: &RowAt) {
        *self.counts.entry(row.table.clone()).or_default() += 1;
        let Some(cols) = schema::columns(&row.table) else {
            if self
                .reported_unknown
                .insert((row.table.clone(), String::new()))
            {
                let d = Diagnostic::new(
                    "QR036",
                    Severity::Info,
                    format!(
                        "row type <{}> is not one qrpack knows; it is passed over",
                        row.table
                    ),
                )
                .at(self.loc(row.pos))
                .note("QRadar adds row types across versions; this is not an error");
                self.findings.push(d);
            }
            return;
        };
        self.schema(row, cols);
        match row.table.as_str() {
            "qidmap" => self.qidmap(row),
            "dsmevent" => self.dsmevent(row),
            "ariel_regex_property" => self.property(row),
            "ariel_property_expression" | "ariel_property_json_expression" => self.expression(row),
            "custom_rule" => self.rule(row),
            "fgroup" => {
                if let Some(id) = int(row, "id") {
                    self.group_ids.insert(id);
                }
            }
            "fgroup_link" => {
                if let (Some(g), Some(item)) = (int(row, "fgroup_id"), row.value("item_id")) {
                    self.links.push((g, item.trim().to_string(), row.pos));
                }
            }
            "device_ext" => self.device_ext(row),
            _ => {}
        }
    }

    fn schema(&mut self, row: &RowAt, cols: &[schema::Column]) {
        let mut seen = HashSet::new();
        for c in &row.columns {
            if !seen.insert(c.name.as_str()) {
                self.warn(
                    "QR041",
                    c.pos,
                    format!("<{}> has the column <{}> twice", row.table, c.name),
                    "keep one; QRadar reads one value per column",
                );
                continue;
            }
            match cols.iter().find(|(n, _, _)| *n == c.name) {
                None => {
                    if self
                        .reported_unknown
                        .insert((row.table.clone(), c.name.clone()))
                    {
                        let d = Diagnostic::new(
                            "QR037",
                            Severity::Info,
                            format!(
                                "column <{}> of <{}> is not one qrpack knows",
                                c.name, row.table
                            ),
                        )
                        .at(self.loc(c.pos))
                        .note("QRadar adds columns across versions; this is not an error");
                        self.findings.push(d);
                    }
                }
                Some((_, kind, _)) => {
                    if let Some(problem) = schema::check(*kind, &c.value) {
                        let shown = shorten(&c.value);
                        let msg = format!("<{}>/<{}> \"{shown}\" {problem}", row.table, c.name);
                        match kind {
                            Kind::Uuid | Kind::Enum(_) => self.warn(
                                "QR040",
                                c.pos,
                                msg,
                                "real exports use this form; QRadar may refuse other values",
                            ),
                            _ => self.err(
                                "QR039",
                                c.pos,
                                msg,
                                "write the value in the column's type",
                            ),
                        }
                    }
                }
            }
        }
        for (name, _, required) in cols {
            if *required && row.get(name).is_none() {
                self.err(
                    "QR038",
                    row.pos,
                    format!("<{}> has no <{name}> column", row.table),
                    "every row of this type carries it in real exports",
                );
            }
        }
    }

    fn qidmap(&mut self, row: &RowAt) {
        if let Some(sev) = int(row, "severity")
            && !(0..=10).contains(&sev)
        {
            self.err(
                "QR050",
                row.pos_of("severity"),
                format!("severity {sev} is outside 0–10"),
                "QRadar severities run from 0 to 10",
            );
        }
        let name = row.value("qname").unwrap_or("").to_string();
        if row.get("qname").is_some() {
            let n = name.chars().count();
            if name.trim().is_empty() {
                self.err(
                    "QR051",
                    row.pos_of("qname"),
                    "the QID name (qname) is empty".into(),
                    "QRadar identifies a QID by its name: give it one",
                );
            } else if n > QNAME_MAX {
                self.err(
                    "QR051",
                    row.pos_of("qname"),
                    format!("the QID name is {n} characters; QRadar allows {QNAME_MAX}"),
                    "shorten qname",
                );
            }
        }
        if let Some(d) = row.value("qdescription") {
            let n = d.chars().count();
            if n > QDESCRIPTION_MAX {
                self.err(
                    "QR052",
                    row.pos_of("qdescription"),
                    format!(
                        "the QID description is {n} characters; QRadar allows {QDESCRIPTION_MAX}"
                    ),
                    "shorten qdescription",
                );
            }
        }
        if let Some(cat) = int(row, "lowlevelcategory") {
            let known = u32::try_from(cat)
                .ok()
                .and_then(|c| self.catalogue.category(c))
                .is_some();
            if !known {
                let pos = row.pos_of("lowlevelcategory");
                if self.catalogue_is_authoritative || cat < 1000 || cat % 1000 == 0 {
                    self.err(
                        "QR053",
                        pos,
                        format!("low-level category {cat} does not exist"),
                        "use a low-level category id of the target QRadar",
                    );
                } else {
                    self.warn("QR053", pos, format!("low-level category {cat} is not in qrpack's catalogue"), "check it on the target, or validate with --categories <your QRadar's categories>");
                }
            }
        }
        let (Some(id), Some(qid)) = (int(row, "id"), int(row, "qid")) else {
            return;
        };
        if let Some(first) = self.qid_first.get(&qid).copied() {
            let l = self.loc(first);
            let d = Diagnostic::error("QR054", format!("QID {qid} is defined twice"))
                .at(self.loc(row.pos_of("qid")))
                .note(format!(
                    "first defined at {}:{}:{}",
                    l.file, l.line, l.column
                ))
                .help("each QID map entry needs its own number");
            self.findings.push(d);
        } else {
            self.qid_first.insert(qid, row.pos_of("qid"));
        }
        if !name.is_empty() {
            if let Some(first) = self.qname_first.get(&h(&[&name])).copied() {
                let l = self.loc(first);
                let d =
                    Diagnostic::error("QR055", format!("the QID name \"{name}\" is used twice"))
                        .at(self.loc(row.pos_of("qname")))
                        .note(format!("first used at {}:{}:{}", l.file, l.line, l.column))
                        .help(
                            "QRadar recognises an installed QID by its name: names must be unique",
                        );
                self.findings.push(d);
            } else {
                self.qname_first.insert(h(&[&name]), row.pos_of("qname"));
            }
        }
        self.qidmap_by_id.insert(id, (qid, row.pos));
    }

    fn dsmevent(&mut self, row: &RowAt) {
        let (Some(ty), Some(qidmapid)) = (int(row, "devicetypeid"), int(row, "qidmapid")) else {
            return;
        };
        let id = row.value("deviceeventid").unwrap_or("");
        let cat = row.value("deviceeventcategory").unwrap_or("");
        let custom = row.value("customevent") != Some("false");
        self.dsm_refs
            .push((qidmapid, row.pos_of("qidmapid"), custom));
        let key = h(&[&ty.to_string(), id, cat]);
        if let Some(first) = self.triples.get(&key).copied() {
            let l = self.loc(first);
            let d = Diagnostic::error(
                "QR056",
                format!("device event \"{id}\" / \"{cat}\" of type {ty} is mapped twice"),
            )
            .at(self.loc(row.pos_of("deviceeventid")))
            .note(format!(
                "first mapped at {}:{}:{}",
                l.file, l.line, l.column
            ))
            .help("QRadar maps one (type, event id, category) to one QID: remove one row");
            self.findings.push(d);
            return;
        }
        self.triples.insert(key, row.pos_of("deviceeventid"));
        let norm = h(&[
            &ty.to_string(),
            &normalize_spelling(id),
            &normalize_spelling(cat),
        ]);
        match self.spellings.get(&norm).copied() {
            Some((other_qidmap, first)) if other_qidmap != qidmapid => {
                let l = self.loc(first);
                let d = Diagnostic::warning(
                    "QR059",
                    format!("device event \"{id}\" differs from another spelling only by dash kind, case or spaces, but maps to another QID"),
                )
                .at(self.loc(row.pos_of("deviceeventid")))
                .note(format!("the other spelling is at {}:{}:{}", l.file, l.line, l.column))
                .help("Microsoft writes some names with an EN DASH or a trailing space: map every spelling of one operation to the same QID");
                self.findings.push(d);
            }
            Some(_) => {}
            None => {
                self.spellings
                    .insert(norm, (qidmapid, row.pos_of("deviceeventid")));
            }
        }
    }

    fn property(&mut self, row: &RowAt) {
        let Some(id) = row.value("id") else { return };
        if let Some(first) = self.property_ids.get(&h(&[id])).copied() {
            let l = self.loc(first);
            let d = Diagnostic::error("QR077", format!("the property id \"{id}\" is used twice"))
                .at(self.loc(row.pos_of("id")))
                .note(format!("first used at {}:{}:{}", l.file, l.line, l.column))
                .help("each custom property needs its own id");
            self.findings.push(d);
        } else {
            self.property_ids.insert(h(&[id]), row.pos_of("id"));
        }
    }

    fn expression(&mut self, row: &RowAt) {
        if let Some(ap) = row.value("ap_id") {
            self.expression_refs.push((h(&[ap]), row.pos_of("ap_id")));
        }
        let payload = row.value("payload").and_then(|p| {
            let cleaned: String = p.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            base64::engine::general_purpose::STANDARD
                .decode(cleaned)
                .ok()
        });
        let sample = payload
            .as_ref()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .filter(|s| !s.is_empty());
        if row.table == "ariel_property_json_expression" {
            let Some(expr) = row.value("expression") else {
                return;
            };
            match KeyPath::parse(expr) {
                Err(e) => self.err(
                    "QR074",
                    row.pos_of("expression"),
                    format!("\"{}\" is not a QRadar JSON key path: {e}", shorten(expr)),
                    "write a slash before each quoted key: /\"a\"/\"b\"",
                ),
                Ok(path) => {
                    if let Some(s) = sample {
                        let hit = serde_json::from_str::<serde_json::Value>(&s)
                            .ok()
                            .and_then(|v| path.extract(&v));
                        if hit.is_none() {
                            self.warn(
                                "QR076",
                                row.pos_of("payload"),
                                format!(
                                    "{expr} extracts nothing from the expression's sample payload"
                                ),
                                "fix the expression or the sample",
                            );
                        }
                    }
                }
            }
            return;
        }
        let Some(re) = row.value("regex") else { return };
        let group = int(row, "capturegroup").unwrap_or(1);
        if let Some(construct) = java_only(re) {
            self.warn(
                "QR072",
                row.pos_of("regex"),
                format!("the regex uses {construct}, Java syntax qrpack's regex engine does not read the same way; it was not checked"),
                "check this expression on a QRadar console (DSM Editor) with a sample event",
            );
            return;
        }
        if !self.regexes.contains_key(re) {
            let compiled = regex::Regex::new(re).map_err(|e| e.to_string());
            // Bounded: past this many distinct patterns, compile without keeping.
            if self.regexes.len() >= 4096 {
                self.regexes.clear();
            }
            self.regexes.insert(re.to_string(), compiled);
        }
        let compiled = self
            .regexes
            .get(re)
            .cloned()
            .unwrap_or_else(|| Err(String::new()));
        match compiled {
            Err(msg) => {
                let last = msg
                    .lines()
                    .rfind(|l| !l.trim().is_empty())
                    .unwrap_or("")
                    .trim()
                    .to_string();
                self.err(
                    "QR071",
                    row.pos_of("regex"),
                    format!("the regex does not compile: {last}"),
                    "fix the pattern",
                )
            }
            Ok(compiled) => {
                let groups = compiled.captures_len() as i64 - 1;
                if group < 0 || group > groups {
                    self.err(
                        "QR073",
                        row.pos_of("capturegroup"),
                        format!("capture group {group} does not exist: the regex has {groups}"),
                        "use the number of the group that holds the value",
                    );
                } else if let Some(s) = sample
                    && compiled
                        .captures(&s)
                        .and_then(|c| c.get(group as usize))
                        .is_none()
                {
                    self.warn(
                        "QR076",
                        row.pos_of("payload"),
                        "the regex extracts nothing from the expression's sample payload".into(),
                        "fix the regex or the sample",
                    );
                }
            }
        }
    }

    fn rule(&mut self, row: &RowAt) {
        if let Some(id) = row.value("id") {
            self.rule_ids.insert(id.trim().to_string());
        }
        if let Some(uuid) = row.value("uuid") {
            if let Some(first) = self.rule_uuids.get(&h(&[uuid])).copied() {
                let l = self.loc(first);
                let d =
                    Diagnostic::error("QR091", format!("the rule uuid \"{uuid}\" is used twice"))
                        .at(self.loc(row.pos_of("uuid")))
                        .note(format!("first used at {}:{}:{}", l.file, l.line, l.column))
                        .help("QRadar recognises a rule by its uuid: each rule needs its own");
                self.findings.push(d);
            } else {
                self.rule_uuids.insert(h(&[uuid]), row.pos_of("uuid"));
            }
        }
        let Some(data) = row.value("rule_data") else {
            return;
        };
        let pos = row.pos_of("rule_data");
        match decode_xml(data) {
            // Not base64: QR039 already says so.
            Err(e) if e.starts_with("not base64") => {}
            Err(e) => self.err("QR090", pos, format!("rule_data is not a rule: {e}"), "rule_data is base64 of a UTF-8 <rule> document"),
            Ok(xml) => match crate::rule::parse_rule(&xml) {
                Err(e) => self.err("QR090", pos, format!("rule_data is not a rule: {e}"), "rule_data is base64 of a UTF-8 <rule> document with <name> and <testDefinitions>"),
                Ok(rule) => {
                    for t in rule.tests.iter().filter(|t| t.class == "AQL_Test") {
                        let raw = t.selections.get("1").map(String::as_str).unwrap_or("");
                        let first = raw.split('|').next().unwrap_or("");
                        let filter = percent_encoding::percent_decode_str(&first.replace('+', " ")).decode_utf8_lossy().into_owned();
                        if let Err(e) = crate::simulate::aql::parse_condition(&filter)
                            && !e.unsupported
                        {
                            self.warn(
                                "QR095",
                                pos,
                                format!("rule \"{}\": its AQL filter does not parse for qrpack: {e}", rule.name),
                                "check the filter; if QRadar accepts it, it uses syntax qrpack does not read",
                            );
                        }
                    }
                    for t in rule.tests.iter().filter(|t| t.class == "QID_Test") {
                        for q in t.selections.get("1").map(String::as_str).unwrap_or("").split(',') {
                            if let Ok(q) = q.trim().parse::<i64>() {
                                self.qid_test_refs.push((q, pos));
                            }
                        }
                    }
                }
            },
        }
    }

    fn device_ext(&mut self, row: &RowAt) {
        let Some(data) = row.value("xml") else { return };
        let pos = row.pos_of("xml");
        match decode_xml(data).and_then(|x| crate::device_ext::parse(&x)) {
            Err(e) => self.err(
                "QR100",
                pos,
                format!("the log source extension does not read: {e}"),
                "xml is base64 of a UTF-8 <device-extension> document",
            ),
            Ok(ext) => {
                for id in ext.dangling_pattern_ids() {
                    self.err(
                        "QR101",
                        pos,
                        format!(
                            "a matcher uses pattern \"{id}\", which the extension does not define"
                        ),
                        "define the <pattern> or fix the matcher's pattern-id",
                    );
                }
            }
        }
    }

    /// Checks across rows, once every row has been read.
    pub fn finish(&mut self) {
        if self.stopped {
            return;
        }
        if self.version.is_none() {
            let d = Diagnostic::error("QR032", "the content XML has no <qradarversion>")
                .at(self.loc(Pos {
                    line: 1,
                    column: 1,
                    offset: 0,
                }))
                .help("QRadar writes <qradarversion> as the first child of <content>");
            self.findings.push(d);
        }
        let mut custom_qidmaps = BTreeSet::new();
        for (qidmapid, pos, custom) in std::mem::take(&mut self.dsm_refs) {
            match self.qidmap_by_id.get(&qidmapid) {
                None => self.err(
                    "QR057",
                    pos,
                    format!("qidmapid {qidmapid} matches no <qidmap> row id in this file"),
                    "dsmevent/qidmapid points at qidmap/id (the row id, not the QID number); QRadar would map these events to nothing",
                ),
                Some(_) if custom => {
                    custom_qidmaps.insert(qidmapid);
                }
                Some(_) => {}
            }
        }
        for id in custom_qidmaps {
            if let Some((qid, pos)) = self.qidmap_by_id.get(&id).copied()
                && qid < USER_QID_MIN
            {
                self.warn(
                    "QR058",
                    pos,
                    format!("custom event QID {qid} is below {USER_QID_MIN}, outside the user range real exports use"),
                    "user-created QIDs seen in real exports start at 2000000; a lower number may collide with IBM's",
                );
            }
        }
        for (ap, pos) in std::mem::take(&mut self.expression_refs) {
            if !self.property_ids.contains_key(&ap) {
                self.err(
                    "QR070",
                    pos,
                    "this ap_id matches no <ariel_regex_property> id in this file".to_string(),
                    "an expression's ap_id is its property's id",
                );
            }
        }
        let known: HashSet<i64> = self.qidmap_by_id.values().map(|(q, _)| *q).collect();
        let mut external = BTreeSet::new();
        let mut first_pos = None;
        for (q, pos) in std::mem::take(&mut self.qid_test_refs) {
            if !known.contains(&q) {
                external.insert(q);
                first_pos.get_or_insert(pos);
            }
        }
        if let Some(pos) = first_pos {
            let list: Vec<String> = external.iter().take(20).map(|q| q.to_string()).collect();
            let d = Diagnostic::new(
                "QR092",
                Severity::Info,
                format!(
                    "rules test QIDs this file does not define: {}{}",
                    list.join(", "),
                    if external.len() > 20 { ", …" } else { "" }
                ),
            )
            .at(self.loc(pos))
            .note("they must exist on the target QRadar (built-in QIDs, or another extension's)");
            self.findings.push(d);
        }
        for (g, item, pos) in std::mem::take(&mut self.links) {
            if !self.group_ids.contains(&g) {
                self.err(
                    "QR093",
                    pos,
                    format!("fgroup_link points at group {g}, which this file does not define"),
                    "add the <fgroup> row or fix fgroup_id",
                );
            }
            if !self.rule_ids.contains(&item) {
                self.warn(
                    "QR094",
                    pos,
                    format!(
                        "fgroup_link files item {item}, which is no <custom_rule> id in this file"
                    ),
                    "fix item_id: it is the rule's id",
                );
            }
        }
    }
}

/// A 64-bit hash of some strings (fixed keys: the same every run).
fn h(parts: &[&str]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    for p in parts {
        p.hash(&mut hasher);
    }
    hasher.finish()
}

fn int(row: &RowAt, name: &str) -> Option<i64> {
    row.value(name).and_then(|v| v.trim().parse().ok())
}

fn shorten(s: &str) -> String {
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s.to_string()
    }
}

/// Base64 → UTF-8 text.
fn decode_xml(data: &str) -> Result<String, String> {
    let cleaned: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cleaned)
        .map_err(|e| format!("not base64 ({e})"))?;
    String::from_utf8(bytes).map_err(|_| "the decoded bytes are not UTF-8".to_string())
}

/// A Java regex construct the Rust engine rejects or reads differently.
pub fn java_only(re: &str) -> Option<&'static str> {
    const CONSTRUCTS: &[(&str, &str)] = &[
        ("(?<=", "a look-behind"),
        ("(?<!", "a negative look-behind"),
        ("(?=", "a look-ahead"),
        ("(?!", "a negative look-ahead"),
        ("(?>", "an atomic group"),
        ("\\Q", "a \\Q…\\E quotation"),
        ("\\Z", "\\Z"),
        ("\\G", "\\G"),
        ("\\h", "\\h"),
        ("\\k<", "a named back-reference"),
        ("\\p{java", "a \\p{java…} class"),
        ("\\p{Is", "a \\p{Is…} class"),
        ("++", "a possessive quantifier"),
        ("*+", "a possessive quantifier"),
        ("?+", "a possessive quantifier"),
        ("}+", "a possessive quantifier"),
    ];
    for (needle, what) in CONSTRUCTS {
        let mut from = 0;
        while let Some(i) = re[from..].find(needle).map(|i| i + from) {
            // `\++` is an escaped '+' then a quantifier, not a possessive one.
            let escaped = needle.ends_with('+')
                && re[..i].bytes().rev().take_while(|&c| c == b'\\').count() % 2 == 1;
            if !escaped {
                return Some(what);
            }
            from = i + 1;
        }
    }
    // Back-references \1…\9 (but not an escaped backslash before a digit).
    let b = re.as_bytes();
    for i in 0..b.len().saturating_sub(1) {
        if b[i] == b'\\' && b[i + 1].is_ascii_digit() && b[i + 1] != b'0' {
            let backslashes = b[..=i].iter().rev().take_while(|&&c| c == b'\\').count();
            if backslashes % 2 == 1 {
                return Some("a back-reference");
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_constructs_are_recognised() {
        assert_eq!(java_only("(?<=a)b"), Some("a look-behind"));
        assert_eq!(java_only("a++"), Some("a possessive quantifier"));
        assert_eq!(java_only("(a)\\1"), Some("a back-reference"));
        assert_eq!(java_only("a\\\\1"), None);
        assert_eq!(java_only("\\++"), None);
        assert_eq!(java_only("x\\*+"), None);
        assert_eq!(java_only("Account Name:\\s*(.+?)\\s+"), None);
    }
}
