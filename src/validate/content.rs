//! Checks on a content XML, row by row as the reader hands them out, then across rows at
//! the end. Only small indexes (ids, names, references) are kept between rows.

mod dsm;

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
    pub version: Option<(String, At)>,
    pub counts: BTreeMap<String, usize>,
    reported_unknown: HashSet<(String, String)>,
    /// (row id, QID, row position, QID position), one per qidmap row.
    qidmaps: Vec<(i64, i64, At, At)>,
    // Indexes keep 64-bit hashes of names, not the names: memory stays small however
    // many rows an export holds. A collision (odds ~1e-8 at a million rows) could only
    // report a false duplicate.
    qnames: Vec<(u64, At)>,
    triples: Vec<(u64, At)>,
    /// (normalized spelling, qidmapid, exact triple, position)
    spellings: Vec<(u64, i64, u64, At)>,
    dsm_refs: Vec<(i64, At, bool)>,
    property_ids: Vec<(u64, At)>,
    expression_refs: Vec<(u64, At)>,
    rule_uuids: HashMap<u64, At>,
    /// Compiled regexes by pattern (exports repeat IBM's patterns many times).
    regexes: HashMap<String, Result<regex::Regex, String>>,
    rule_ids: HashSet<String>,
    qid_test_refs: Vec<(i64, At)>,
    group_ids: HashSet<i64>,
    links: Vec<(i64, String, At)>,
    /// Log source types, protocols, categories and extensions (custom DSMs).
    dsm: dsm::DsmIndex,
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
            qidmaps: Vec::new(),
            qnames: Vec::new(),
            triples: Vec::new(),
            spellings: Vec::new(),
            dsm_refs: Vec::new(),
            property_ids: Vec::new(),
            expression_refs: Vec::new(),
            rule_uuids: HashMap::new(),
            regexes: HashMap::new(),
            rule_ids: HashSet::new(),
            qid_test_refs: Vec::new(),
            group_ids: HashSet::new(),
            links: Vec::new(),
            dsm: dsm::DsmIndex::default(),
        }
    }

    pub fn loc(&self, pos: impl Into<Pos>) -> Location {
        let pos: Pos = pos.into();
        Location {
            file: self.file.clone(),
            span: 0..0,
            line: pos.line as usize,
            column: pos.column as usize,
        }
    }

    fn push(
        &mut self,
        code: &'static str,
        sev: Severity,
        pos: impl Into<Pos>,
        msg: String,
        help: &str,
    ) {
        let d = Diagnostic::new(code, sev, msg).at(self.loc(pos)).help(help);
        self.findings.push(d);
    }

    fn err(&mut self, code: &'static str, pos: impl Into<Pos>, msg: String, help: &str) {
        self.push(code, Severity::Error, pos, msg, help);
    }

    fn warn(&mut self, code: &'static str, pos: impl Into<Pos>, msg: String, help: &str) {
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
        self.version = Some((v.trim().to_string(), pos.into()));
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
                    self.links
                        .push((g, item.trim().to_string(), row.pos.into()));
                }
            }
            "device_ext" => self.device_ext(row),
            "sensordevicetype"
            | "sensordevicecategory"
            | "sensorprotocol"
            | "sensordeviceprotocols" => self.dsm_row(row),
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
        if !name.is_empty() {
            self.qnames.push((h(&[&name]), row.pos_of("qname").into()));
        }
        self.qidmaps
            .push((id, qid, row.pos.into(), row.pos_of("qid").into()));
    }

    fn dsmevent(&mut self, row: &RowAt) {
        let (Some(ty), Some(qidmapid)) = (int(row, "devicetypeid"), int(row, "qidmapid")) else {
            return;
        };
        let id = row.value("deviceeventid").unwrap_or("");
        let cat = row.value("deviceeventcategory").unwrap_or("");
        let custom = row.value("customevent") != Some("false");
        self.dsm_refs
            .push((qidmapid, row.pos_of("qidmapid").into(), custom));
        self.custom_type_ref(ty, row.pos_of("devicetypeid").into(), "dsmevent");
        let ty = ty.to_string();
        let key = h(&[&ty, id, cat]);
        let at: At = row.pos_of("deviceeventid").into();
        self.triples.push((key, at));
        let norm = h(&[&ty, &normalize_spelling(id), &normalize_spelling(cat)]);
        self.spellings.push((norm, qidmapid, key, at));
    }

    fn property(&mut self, row: &RowAt) {
        let Some(id) = row.value("id") else { return };
        self.property_ids.push((h(&[id]), row.pos_of("id").into()));
    }

    /// Report the second and later of equal keys (sorted by key, then file order).
    fn duplicates(
        &mut self,
        mut keys: Vec<(u64, At)>,
        code: &'static str,
        what: &str,
        help: &str,
    ) -> Vec<(u64, At)> {
        keys.sort_by_key(|(k, at)| (*k, at.0));
        for w in keys.windows(2) {
            if w[0].0 == w[1].0 {
                let l = self.loc(w[0].1);
                let d = Diagnostic::error(code, format!("{what} is used twice"))
                    .at(self.loc(w[1].1))
                    .note(format!("first used at {}:{}:{}", l.file, l.line, l.column))
                    .help(help);
                self.findings.push(d);
            }
        }
        keys
    }

    fn expression(&mut self, row: &RowAt) {
        if let Some(t) = int(row, "devicetypeid") {
            self.custom_type_ref(
                t,
                row.pos_of("devicetypeid").into(),
                "a property expression",
            );
        }
        if let Some(ap) = row.value("ap_id") {
            self.expression_refs
                .push((h(&[ap]), row.pos_of("ap_id").into()));
        }
        let payload = row.value("payload").and_then(|p| {
            let cleaned: std::borrow::Cow<str> = if p.bytes().any(|c| c.is_ascii_whitespace()) {
                p.chars()
                    .filter(|c| !c.is_ascii_whitespace())
                    .collect::<String>()
                    .into()
            } else {
                p.into()
            };
            base64::engine::general_purpose::STANDARD
                .decode(cleaned.as_bytes())
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
                self.rule_uuids
                    .insert(h(&[uuid]), row.pos_of("uuid").into());
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
                                self.qid_test_refs.push((q, pos.into()));
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
                self.dsm_extension(row, &ext);
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
        self.dsm_finish();
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
        // Duplicates, found by sorting (indexes are flat vectors: small and cache-friendly).
        let qids: Vec<(u64, At)> = self
            .qidmaps
            .iter()
            .map(|(_, q, _, at)| (*q as u64, *at))
            .collect();
        let sorted_qids = self.duplicates(
            qids,
            "QR054",
            "this QID number",
            "each QID map entry needs its own number",
        );
        let qnames = std::mem::take(&mut self.qnames);
        self.duplicates(
            qnames,
            "QR055",
            "this QID name",
            "QRadar recognises an installed QID by its name: names must be unique",
        );
        let triples = std::mem::take(&mut self.triples);
        self.duplicates(
            triples,
            "QR056",
            "this device event (type, id, category)",
            "QRadar maps one (type, event id, category) to one QID: remove one row",
        );
        let props = std::mem::take(&mut self.property_ids);
        let props = self.duplicates(
            props,
            "QR077",
            "this property id",
            "each custom property needs its own id",
        );
        let mut spellings = std::mem::take(&mut self.spellings);
        spellings.sort_by_key(|(n, _, _, at)| (*n, at.0));
        let mut group = 0usize;
        for i in 1..spellings.len() {
            let (n, q, t, at) = spellings[i];
            if spellings[group].0 != n {
                group = i;
                continue;
            }
            // Compare with the first spelling of this normalized form.
            let (_, fq, ft, fat) = spellings[group];
            if fq != q && ft != t {
                let l = self.loc(fat);
                let d = Diagnostic::warning(
                    "QR059",
                    "this device event id differs from another spelling only by dash kind, case or spaces, but maps to another QID",
                )
                .at(self.loc(at))
                .note(format!("the other spelling is at {}:{}:{}", l.file, l.line, l.column))
                .help("Microsoft writes some names with an EN DASH or a trailing space: map every spelling of one operation to the same QID");
                self.findings.push(d);
            }
        }
        drop(spellings);
        let mut by_id = std::mem::take(&mut self.qidmaps);
        by_id.sort_by_key(|(id, ..)| *id);
        let find = |id: i64| {
            by_id
                .binary_search_by_key(&id, |(i, ..)| *i)
                .ok()
                .map(|k| by_id[k])
        };
        let mut custom_qidmaps = BTreeSet::new();
        for (qidmapid, pos, custom) in std::mem::take(&mut self.dsm_refs) {
            match find(qidmapid) {
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
            if let Some((_, qid, pos, _)) = find(id)
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
            if props.binary_search_by_key(&ap, |(k, _)| *k).is_err() {
                self.err(
                    "QR070",
                    pos,
                    "this ap_id matches no <ariel_regex_property> id in this file".to_string(),
                    "an expression's ap_id is its property's id",
                );
            }
        }
        let known: HashSet<i64> = sorted_qids.iter().map(|(q, _)| *q as i64).collect();
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

/// A position packed into 8 bytes (line and column, 32 bits each), for indexes that
/// hold one per row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct At(u64);

impl From<Pos> for At {
    fn from(p: Pos) -> At {
        At((p.line.min(u32::MAX as u64) << 32) | p.column.min(u32::MAX as u64))
    }
}

impl From<At> for Pos {
    fn from(a: At) -> Pos {
        Pos {
            line: a.0 >> 32,
            column: a.0 & 0xffff_ffff,
            offset: 0,
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
    let cleaned: std::borrow::Cow<str> = if data.bytes().any(|c| c.is_ascii_whitespace()) {
        data.chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect::<String>()
            .into()
    } else {
        data.into()
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cleaned.as_bytes())
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
