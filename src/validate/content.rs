//! Checks on a content XML, row by row as the reader hands them out, then across rows at
//! the end. Only small indexes (ids, names, references) are kept between rows.

mod dsm;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::sync::Arc;

use base64::Engine;

use super::index::{Index, Sorted, Strings, signed, unsigned};
use super::schema::{self, Kind};
use crate::build::{QDESCRIPTION_MAX, QNAME_MAX, normalize_spelling, push_normalized};
use crate::catalogue::Catalogue;
use crate::diag::{Diagnostic, Location, Severity};
use crate::jsonpath::KeyPath;
use crate::read::rows::{RowAt, same_name};
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
    /// The indexes of the checks across rows. Each holds one fixed-size record per row
    /// (see [`super::index`]): 64-bit hashes of names, not the names, numbers and packed
    /// positions; past a memory budget they go to a temporary file, so memory stays
    /// flat however many rows an export holds. A hash collision (odds ~1e-8 at a million
    /// rows) could only report a false duplicate or miss a dangling reference.
    idx: Indexes,
    /// Strings a finding about an index may show (rule uuids, link items).
    strings: Strings,
    /// An index written to disk could not be read back: the checks across rows are
    /// incomplete, and validation failed (exit code 2).
    pub failure: Option<String>,
    /// Compiled regexes by pattern (exports repeat IBM's patterns many times). Shared,
    /// not cloned: a cloned `Regex` starts with an empty search cache, which made every
    /// row rebuild its lazy DFA.
    /// A pattern that uses Java-only syntax maps to the construct (and is not compiled).
    regexes: HashMap<String, Result<Result<Arc<regex::Regex>, String>, &'static str>>,
    /// Per known row type, the last row's columns and their places in the schema.
    layouts: Vec<Vec<(String, Option<usize>)>>,
    /// Reused per row: normalized spellings (no allocation per row).
    scratch: Vec<u8>,
    /// Reused per row: a decoded base64 payload.
    decoded: Vec<u8>,
    /// Log source types, protocols, categories and extensions (custom DSMs).
    dsm: dsm::DsmIndex,
    /// Parse rules' AQL filters and warn (QR095) when one does not parse.
    lint_filters: bool,
    /// The last `dsmevent` category, as written and normalized.
    last_category: (String, String),
}

/// The indexes, one per kind of record; fields are listed as (field, …): all are sorted
/// field by field.
struct Indexes {
    /// (QID, its position), one per qidmap row: QR054 and QR092.
    qids: Index<2>,
    /// (qidmap id, row position, QID): QR057 and QR058.
    qidmap_ids: Index<3>,
    /// (hash of qname, position): QR055.
    qnames: Index<2>,
    /// (hash of (type, event id, category), position): QR056.
    triples: Index<2>,
    /// (hash of the normalized spelling, position, qidmapid, exact triple): QR059.
    spellings: Index<4>,
    /// (qidmapid, position, custom event): QR057 and QR058.
    dsm_refs: Index<3>,
    /// (hash of a property id, position): QR077 and QR070.
    property_ids: Index<2>,
    /// (hash of an expression's ap_id, position): QR070.
    expression_refs: Index<2>,
    /// (hash of a rule uuid, position, the uuid's handle in `strings`): QR091.
    rule_uuids: Index<4>,
    /// (hash of a rule id): QR094.
    rule_ids: Index<1>,
    /// (QID a rule tests, position): QR092.
    qid_test_refs: Index<2>,
    /// (fgroup id): QR093.
    group_ids: Index<1>,
    /// (fgroup_link's group, position): QR093.
    link_groups: Index<2>,
    /// (hash of a link's item, position, the item's handle in `strings`): QR094.
    link_items: Index<4>,
}

impl Indexes {
    fn new(spill: bool) -> Self {
        fn i<const N: usize>(spill: bool) -> Index<N> {
            if spill {
                Index::spilling()
            } else {
                Index::in_memory()
            }
        }
        Indexes {
            qids: i(spill),
            qidmap_ids: i(spill),
            qnames: i(spill),
            triples: i(spill),
            spellings: i(spill),
            dsm_refs: i(spill),
            property_ids: i(spill),
            expression_refs: i(spill),
            rule_uuids: i(spill),
            rule_ids: i(spill),
            qid_test_refs: i(spill),
            group_ids: i(spill),
            link_groups: i(spill),
            link_items: i(spill),
        }
    }
}

/// An index, taken out of the checker to be read in order.
fn sorted<const N: usize>(index: &mut Index<N>) -> io::Result<Sorted<N>> {
    std::mem::replace(index, Index::in_memory()).sorted()
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
            idx: Indexes::new(false),
            strings: Strings::new(false),
            failure: None,
            regexes: HashMap::new(),
            layouts: vec![Vec::new(); schema::ROWS.len()],
            scratch: Vec::new(),
            decoded: Vec::new(),
            dsm: dsm::DsmIndex::default(),
            lint_filters: true,
            last_category: (String::new(), String::new()),
        }
    }

    /// Do not parse rules' AQL filters (QR095): for a caller that has linted them itself,
    /// at their lines in its own source (the build's self-check: its PK080 says it
    /// there, and parsing each filter again was a twelfth of the self-check).
    pub fn without_filter_lint(mut self) -> Self {
        self.lint_filters = false;
        self
    }

    /// Let the indexes go to a temporary file past their memory budget (for large
    /// inputs; the build's self-check keeps them in memory). Before any row.
    pub fn spilling(mut self) -> Self {
        self.idx = Indexes::new(true);
        self.strings = Strings::new(true);
        self
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
        match self.counts.get_mut(row.table.as_str()) {
            Some(n) => *n += 1,
            None => {
                self.counts.insert(row.table.clone(), 1);
            }
        }
        let Some(table) = schema::table_index(&row.table) else {
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
        self.schema(row, table);
        match row.table.as_str() {
            "qidmap" => self.qidmap(row),
            "dsmevent" => self.dsmevent(row),
            "ariel_regex_property" => self.property(row),
            "ariel_property_expression" | "ariel_property_json_expression" => self.expression(row),
            "custom_rule" => self.rule(row),
            "fgroup" => {
                if let Some(id) = int(row, "id") {
                    self.idx.group_ids.push([signed(id)]);
                }
            }
            "fgroup_link" => {
                if let (Some(g), Some(item)) = (int(row, "fgroup_id"), row.value("item_id")) {
                    let at = At::from(row.pos).0;
                    let item = item.trim();
                    let (o, n) = self.strings.put(item);
                    self.idx.link_groups.push([signed(g), at]);
                    self.idx.link_items.push([h(&[item]), at, o, n]);
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

    fn schema(&mut self, row: &RowAt, table: usize) {
        let cols = schema::ROWS[table].1;
        // Which known columns the row has: one bit per column of the schema (every
        // schema has fewer than 64), so that neither the duplicate check nor the
        // required-column check allocates or searches by name again.
        debug_assert!(cols.len() < 64);
        let mut present = 0u64;
        // Rows of one type repeat one column order: the last row's, per type, saves
        // searching the schema by name for most columns.
        let mut layout = std::mem::take(&mut self.layouts[table]);
        for (i, c) in row.columns.iter().enumerate() {
            let known = match layout.get(i) {
                Some((name, k)) if same_name(name, &c.name) => *k,
                _ => {
                    let k = cols.iter().position(|(n, _, _)| *n == c.name);
                    if i < layout.len() {
                        layout[i] = (c.name.clone(), k);
                    } else if i == layout.len() && i < 64 {
                        layout.push((c.name.clone(), k));
                    }
                    k
                }
            };
            let twice = match known {
                Some(k) => present & (1 << k) != 0,
                // Unknown columns are rare: compare with the earlier ones by name.
                None => row.columns[..i].iter().any(|p| p.name == c.name),
            };
            if twice {
                self.warn(
                    "QR041",
                    c.pos,
                    format!("<{}> has the column <{}> twice", row.table, c.name),
                    "keep one; QRadar reads one value per column",
                );
                continue;
            }
            match known {
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
                Some(k) => {
                    present |= 1 << k;
                    let kind = cols[k].1;
                    if let Some(problem) = schema::check(kind, &c.value) {
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
        self.layouts[table] = layout;
        for (k, (name, _, required)) in cols.iter().enumerate() {
            if *required && present & (1 << k) == 0 {
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
        let name = row.value("qname").unwrap_or("");
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
            self.idx
                .qnames
                .push([h(&[name]), At::from(row.pos_of("qname")).0]);
        }
        self.idx
            .qids
            .push([signed(qid), At::from(row.pos_of("qid")).0]);
        self.idx
            .qidmap_ids
            .push([signed(id), At::from(row.pos).0, signed(qid)]);
    }

    fn dsmevent(&mut self, row: &RowAt) {
        let (Some(ty), Some(qidmapid)) = (int(row, "devicetypeid"), int(row, "qidmapid")) else {
            return;
        };
        let id = row.value("deviceeventid").unwrap_or("");
        let cat = row.value("deviceeventcategory").unwrap_or("");
        let custom = row.value("customevent") != Some("false");
        self.custom_type_ref(ty, row.pos_of("devicetypeid").into(), "dsmevent");
        self.idx.dsm_refs.push([
            signed(qidmapid),
            At::from(row.pos_of("qidmapid")).0,
            u64::from(custom),
        ]);
        let key = h_triple(ty, id, cat);
        let at = At::from(row.pos_of("deviceeventid")).0;
        self.idx.triples.push([key, at]);
        // h(ty, normalize_spelling(id), normalize_spelling(cat)): the id in one reused
        // buffer, the category once per run of rows that share it (most rows of a DSM).
        if self.last_category.0 != cat {
            self.last_category = (cat.to_string(), normalize_spelling(cat));
        }
        let mut norm = std::mem::take(&mut self.scratch);
        norm.clear();
        push_normalized(&mut norm, id);
        // A whole `normalize_spelling` string: UTF-8.
        let norm_key = h_triple(
            ty,
            std::str::from_utf8(&norm).unwrap_or_default(),
            &self.last_category.1,
        );
        self.scratch = norm;
        self.idx
            .spellings
            .push([norm_key, at, signed(qidmapid), key]);
    }

    fn property(&mut self, row: &RowAt) {
        let Some(id) = row.value("id") else { return };
        self.idx
            .property_ids
            .push([h(&[id]), At::from(row.pos_of("id")).0]);
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
            self.idx
                .expression_refs
                .push([h(&[ap]), At::from(row.pos_of("ap_id")).0]);
        }
        let mut decoded = std::mem::take(&mut self.decoded);
        let payload = row
            .value("payload")
            .is_some_and(|p| decode_base64_into(p, &mut decoded));
        let sample = if payload {
            Some(String::from_utf8_lossy(&decoded)).filter(|s| !s.is_empty())
        } else {
            None
        };
        self.expression_checks(row, sample.as_deref());
        drop(sample);
        self.decoded = decoded;
    }

    /// The checks of an expression row's value, with its decoded sample if any.
    fn expression_checks(&mut self, row: &RowAt, sample: Option<&str>) {
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
                        let hit = serde_json::from_str::<serde_json::Value>(s)
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
        if !self.regexes.contains_key(re) {
            // A pattern with Java-only syntax is not compiled (and compiles its Java
            // check once: it searches the pattern for a dozen constructs).
            let entry = match java_only(re) {
                Some(construct) => Err(construct),
                None => Ok(regex::Regex::new(re)
                    .map(Arc::new)
                    .map_err(|e| e.to_string())),
            };
            // Bounded: past this many distinct patterns, compile without keeping.
            if self.regexes.len() >= 4096 {
                self.regexes.clear();
            }
            self.regexes.insert(re.to_string(), entry);
        }
        let compiled = match self.regexes.get(re).cloned() {
            Some(Err(construct)) => {
                self.warn(
                    "QR072",
                    row.pos_of("regex"),
                    format!("the regex uses {construct}, Java syntax qrpack's regex engine does not read the same way; it was not checked"),
                    "check this expression on a QRadar console (DSM Editor) with a sample event",
                );
                return;
            }
            Some(Ok(compiled)) => compiled,
            None => Err(String::new()),
        };
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
                        .captures(s)
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
            self.idx.rule_ids.push([h(&[id.trim()])]);
        }
        if let Some(uuid) = row.value("uuid") {
            let (o, n) = self.strings.put(uuid);
            self.idx
                .rule_uuids
                .push([h(&[uuid]), At::from(row.pos_of("uuid")).0, o, n]);
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
                    let lint = self.lint_filters;
                    for t in rule.tests.iter().filter(|t| lint && t.class == "AQL_Test") {
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
                                self.idx.qid_test_refs.push([signed(q), At::from(pos).0]);
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

    /// Checks across rows, once every row has been read. An index that cannot be read
    /// back from disk sets [`Checker::failure`].
    pub fn finish(&mut self) {
        if let Err(e) = self.across_rows() {
            self.failure = Some(format!(
                "cannot read back a temporary index file (the checks across rows are incomplete): {e}"
            ));
        }
    }

    fn across_rows(&mut self) -> io::Result<()> {
        // Rule uuids are compared as rows come, even when reading stops later.
        self.rule_uuid_duplicates()?;
        if self.stopped {
            return Ok(());
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
        self.qids_and_rule_tests()?;
        let mut qnames = sorted(&mut self.idx.qnames)?;
        let mut dup = Duplicates::new(
            "QR055",
            "this QID name",
            "QRadar recognises an installed QID by its name: names must be unique",
        );
        while let Some(r) = qnames.next_rec()? {
            dup.next(self, r);
        }
        let mut triples = sorted(&mut self.idx.triples)?;
        let mut dup = Duplicates::new(
            "QR056",
            "this device event (type, id, category)",
            "QRadar maps one (type, event id, category) to one QID: remove one row",
        );
        while let Some(r) = triples.next_rec()? {
            dup.next(self, r);
        }
        self.properties_and_expressions()?;
        self.spellings()?;
        self.qidmap_references()?;
        self.links()?;
        Ok(())
    }

    /// QR091: the second and later rows with one rule uuid.
    fn rule_uuid_duplicates(&mut self) -> io::Result<()> {
        let mut uuids = sorted(&mut self.idx.rule_uuids)?;
        let mut first: Option<[u64; 4]> = None;
        while let Some(r) = uuids.next_rec()? {
            match first {
                Some(f) if f[0] == r[0] => {
                    let uuid = self.strings.get((r[2], r[3]))?;
                    let l = self.loc(At(f[1]));
                    let d = Diagnostic::error(
                        "QR091",
                        format!("the rule uuid \"{uuid}\" is used twice"),
                    )
                    .at(self.loc(At(r[1])))
                    .note(format!("first used at {}:{}:{}", l.file, l.line, l.column))
                    .help("QRadar recognises a rule by its uuid: each rule needs its own");
                    self.findings.push(d);
                }
                _ => first = Some(r),
            }
        }
        Ok(())
    }

    /// QR054 (a QID number twice) and QR092 (rules test QIDs the file does not define),
    /// in one pass over the QIDs in order, beside the tested QIDs in order.
    fn qids_and_rule_tests(&mut self) -> io::Result<()> {
        let mut qids = sorted(&mut self.idx.qids)?;
        let mut tests = sorted(&mut self.idx.qid_test_refs)?;
        let mut dup = Duplicates::new(
            "QR054",
            "this QID number",
            "each QID map entry needs its own number",
        );
        let mut next_qid = qids.next_rec()?;
        // The first 20 external QIDs in order, how many there are (up to 21), and where
        // the first test of one is.
        let mut external: Vec<i64> = Vec::new();
        let mut more = false;
        let mut first_at: Option<u64> = None;
        while let Some(t) = tests.next_rec()? {
            while let Some(q) = next_qid
                && q[0] < t[0]
            {
                dup.next(self, q);
                next_qid = qids.next_rec()?;
            }
            if next_qid.is_some_and(|q| q[0] == t[0]) {
                continue;
            }
            let q = unsigned(t[0]);
            if external.last() != Some(&q) && !more {
                if external.len() < 20 {
                    external.push(q);
                } else {
                    more = true;
                }
            }
            first_at = Some(first_at.map_or(t[1], |f| f.min(t[1])));
        }
        while let Some(q) = next_qid {
            dup.next(self, q);
            next_qid = qids.next_rec()?;
        }
        if let Some(at) = first_at {
            let list: Vec<String> = external.iter().map(i64::to_string).collect();
            let d = Diagnostic::new(
                "QR092",
                Severity::Info,
                format!(
                    "rules test QIDs this file does not define: {}{}",
                    list.join(", "),
                    if more { ", …" } else { "" }
                ),
            )
            .at(self.loc(At(at)))
            .note("they must exist on the target QRadar (built-in QIDs, or another extension's)");
            self.findings.push(d);
        }
        Ok(())
    }

    /// QR077 (a property id twice) and QR070 (an expression's ap_id matches no
    /// property), in one pass over both in order.
    fn properties_and_expressions(&mut self) -> io::Result<()> {
        let mut props = sorted(&mut self.idx.property_ids)?;
        let mut refs = sorted(&mut self.idx.expression_refs)?;
        let mut dup = Duplicates::new(
            "QR077",
            "this property id",
            "each custom property needs its own id",
        );
        let mut next_prop = props.next_rec()?;
        while let Some(r) = refs.next_rec()? {
            while let Some(p) = next_prop
                && p[0] < r[0]
            {
                dup.next(self, p);
                next_prop = props.next_rec()?;
            }
            if next_prop.is_none_or(|p| p[0] != r[0]) {
                self.err(
                    "QR070",
                    At(r[1]),
                    "this ap_id matches no <ariel_regex_property> id in this file".to_string(),
                    "an expression's ap_id is its property's id",
                );
            }
        }
        while let Some(p) = next_prop {
            dup.next(self, p);
            next_prop = props.next_rec()?;
        }
        Ok(())
    }

    /// QR059: device event ids that differ only by dash kind, case or spaces, mapped to
    /// another QID. Each is compared with the first spelling of its normalized form.
    fn spellings(&mut self) -> io::Result<()> {
        let mut spellings = sorted(&mut self.idx.spellings)?;
        let mut first: Option<[u64; 4]> = None;
        while let Some(r) = spellings.next_rec()? {
            let [n, at, q, t] = r;
            let Some([fn_, fat, fq, ft]) = first.filter(|f| f[0] == n) else {
                first = Some(r);
                continue;
            };
            debug_assert_eq!(fn_, n);
            if fq != q && ft != t {
                let l = self.loc(At(fat));
                let d = Diagnostic::warning(
                    "QR059",
                    "this device event id differs from another spelling only by dash kind, case or spaces, but maps to another QID",
                )
                .at(self.loc(At(at)))
                .note(format!("the other spelling is at {}:{}:{}", l.file, l.line, l.column))
                .help("Microsoft writes some names with an EN DASH or a trailing space: map every spelling of one operation to the same QID");
                self.findings.push(d);
            }
        }
        Ok(())
    }

    /// QR057 (a qidmapid matches no qidmap row) and QR058 (a custom event's QID below
    /// the user range), joining the references and the qidmap rows by id. Where two
    /// qidmap rows share an id (QR054 does not catch that: it compares QIDs), the first
    /// in the file is the one a reference points at.
    fn qidmap_references(&mut self) -> io::Result<()> {
        let mut ids = sorted(&mut self.idx.qidmap_ids)?;
        let mut refs = sorted(&mut self.idx.dsm_refs)?;
        let mut next_id = ids.next_rec()?;
        // The qidmapid being read, the qidmap row it matches, and whether a custom
        // event points at it.
        let mut group: Option<(u64, Option<[u64; 3]>, bool)> = None;
        while let Some([qidmapid, at, custom]) = refs.next_rec()? {
            if group.is_none_or(|g| g.0 != qidmapid) {
                if let Some(g) = group {
                    self.custom_qid_below_user_range(g.1, g.2);
                }
                while let Some(i) = next_id
                    && i[0] < qidmapid
                {
                    next_id = ids.next_rec()?;
                }
                group = Some((qidmapid, next_id.filter(|i| i[0] == qidmapid), false));
            }
            let Some(g) = group.as_mut() else { continue };
            if g.1.is_none() {
                let id = unsigned(qidmapid);
                self.err(
                    "QR057",
                    At(at),
                    format!("qidmapid {id} matches no <qidmap> row id in this file"),
                    "dsmevent/qidmapid points at qidmap/id (the row id, not the QID number); QRadar would map these events to nothing",
                );
            } else if custom == 1 {
                g.2 = true;
            }
        }
        if let Some(g) = group {
            self.custom_qid_below_user_range(g.1, g.2);
        }
        Ok(())
    }

    fn custom_qid_below_user_range(&mut self, qidmap: Option<[u64; 3]>, custom: bool) {
        let Some([_, at, qid]) = qidmap else { return };
        let qid = unsigned(qid);
        if custom && qid < USER_QID_MIN {
            self.warn(
                "QR058",
                At(at),
                format!("custom event QID {qid} is below {USER_QID_MIN}, outside the user range real exports use"),
                "user-created QIDs seen in real exports start at 2000000; a lower number may collide with IBM's",
            );
        }
    }

    /// QR093 (a link's group is not in the file) and QR094 (a link's item is no rule
    /// id), joining the links with the groups and the rules.
    fn links(&mut self) -> io::Result<()> {
        let mut groups = sorted(&mut self.idx.group_ids)?;
        let mut links = sorted(&mut self.idx.link_groups)?;
        let mut next_group = groups.next_rec()?;
        while let Some([g, at]) = links.next_rec()? {
            while let Some(i) = next_group
                && i[0] < g
            {
                next_group = groups.next_rec()?;
            }
            if next_group.is_none_or(|i| i[0] != g) {
                let g = unsigned(g);
                self.err(
                    "QR093",
                    At(at),
                    format!("fgroup_link points at group {g}, which this file does not define"),
                    "add the <fgroup> row or fix fgroup_id",
                );
            }
        }
        let mut rules = sorted(&mut self.idx.rule_ids)?;
        let mut items = sorted(&mut self.idx.link_items)?;
        let mut next_rule = rules.next_rec()?;
        while let Some([item, at, o, n]) = items.next_rec()? {
            while let Some(r) = next_rule
                && r[0] < item
            {
                next_rule = rules.next_rec()?;
            }
            if next_rule.is_none_or(|r| r[0] != item) {
                let item = self.strings.get((o, n))?;
                self.warn(
                    "QR094",
                    At(at),
                    format!(
                        "fgroup_link files item {item}, which is no <custom_rule> id in this file"
                    ),
                    "fix item_id: it is the rule's id",
                );
            }
        }
        Ok(())
    }
}

/// Reports the second and later of equal keys, read in order (by key, then position),
/// each with the place of the one before it.
struct Duplicates {
    code: &'static str,
    what: &'static str,
    help: &'static str,
    last: Option<(u64, u64)>,
}

impl Duplicates {
    fn new(code: &'static str, what: &'static str, help: &'static str) -> Self {
        Duplicates {
            code,
            what,
            help,
            last: None,
        }
    }

    /// The next (key, position, …) record.
    fn next<const N: usize>(&mut self, checker: &mut Checker, r: [u64; N]) {
        let (key, at) = (r[0], r[1]);
        if let Some((k, first)) = self.last
            && k == key
        {
            let l = checker.loc(At(first));
            let d = Diagnostic::error(self.code, format!("{} is used twice", self.what))
                .at(checker.loc(At(at)))
                .note(format!("first used at {}:{}:{}", l.file, l.line, l.column))
                .help(self.help);
            checker.findings.push(d);
        }
        self.last = Some((key, at));
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

/// The hasher of the index keys: foldhash's quality variant with a fixed seed (the same
/// every run), about four times faster than SipHash on these short strings.
fn key_hasher() -> impl std::hash::Hasher {
    use std::hash::BuildHasher;
    foldhash::quality::FixedState::with_seed(0x7172_7061_636b).build_hasher()
}

/// A 64-bit hash of some strings (fixed keys: the same every run).
fn h(parts: &[&str]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = key_hasher();
    for p in parts {
        p.hash(&mut hasher);
    }
    hasher.finish()
}

/// The hash `h(&[ty, a, b])` gives for a device type number, without formatting it.
fn h_triple(ty: i64, a: &str, b: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = key_hasher();
    let mut digits = [0u8; 20];
    let ty = format_i64(ty, &mut digits);
    ty.hash(&mut hasher);
    a.hash(&mut hasher);
    b.hash(&mut hasher);
    hasher.finish()
}

/// `n` in decimal, written into `buf`.
fn format_i64(n: i64, buf: &mut [u8; 20]) -> &str {
    let mut i = buf.len();
    let mut m = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (m % 10) as u8;
        m /= 10;
        if m == 0 {
            break;
        }
    }
    if n < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    std::str::from_utf8(&buf[i..]).unwrap_or("")
}

/// Decode standard base64 (ASCII whitespace ignored) into `out`; false if it is not.
fn decode_base64_into(data: &str, out: &mut Vec<u8>) -> bool {
    out.clear();
    let engine = &base64::engine::general_purpose::STANDARD;
    if data.bytes().any(|c| c.is_ascii_whitespace()) {
        let cleaned: Vec<u8> = data.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
        engine.decode_vec(&cleaned, out).is_ok()
    } else {
        engine.decode_vec(data.as_bytes(), out).is_ok()
    }
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
    let engine = &base64::engine::general_purpose::STANDARD;
    // Most rule_data has no white space: decode it as is first (white space makes that
    // fail), instead of scanning every byte for white space beforehand.
    if let Ok(bytes) = engine.decode(data.as_bytes()) {
        return String::from_utf8(bytes).map_err(|_| "the decoded bytes are not UTF-8".to_string());
    }
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
    use crate::read::rows::ColumnAt;

    fn row(table: &str, line: u64, cols: &[(&str, String)]) -> RowAt {
        RowAt {
            table: table.into(),
            pos: Pos {
                line,
                column: 2,
                offset: 0,
            },
            columns: cols
                .iter()
                .enumerate()
                .map(|(i, (n, v))| ColumnAt {
                    name: (*n).into(),
                    value: v.clone(),
                    pos: Pos {
                        line: line + 1 + i as u64,
                        column: 3,
                        offset: 0,
                    },
                })
                .collect(),
        }
    }

    /// Findings as text, in order.
    fn shown(findings: &[Diagnostic]) -> Vec<String> {
        let mut f = findings.to_vec();
        crate::diag::sort(&mut f);
        f.iter()
            .map(|d| {
                let l = d.location.as_ref().map(|l| (l.line, l.column));
                format!("{} {:?} {} {:?}", d.code, l, d.message, d.notes)
            })
            .collect()
    }

    /// A rule whose AQL filter does not parse for qrpack: QR095 from `validate`; none
    /// from a checker told the filters were linted already (the build's self-check), and
    /// the rule's other checks still run.
    #[test]
    fn filter_lint_can_be_left_to_the_caller() {
        use base64::Engine as _;
        let doc = "<rule><name>R</name><testDefinitions>\
            <test name=\"com.q1labs.semsources.cre.tests.AQL_Test\"><parameter id=\"1\">\
            <userSelection>%22Result%22+%3D+%3D+%27x%27</userSelection></parameter></test>\
            <test name=\"com.q1labs.semsources.cre.tests.QID_Test\"><parameter id=\"1\">\
            <userSelection>2999999</userSelection></parameter></test>\
            </testDefinitions></rule>";
        let data = base64::engine::general_purpose::STANDARD.encode(doc);
        let cat = Catalogue::builtin();
        let codes = |mut c: Checker| {
            c.version("2021.6.0".into(), Pos::START);
            c.row(&row(
                "custom_rule",
                4,
                &[("id", "1".into()), ("rule_data", data.clone())],
            ));
            c.finish();
            let mut codes: Vec<&'static str> = c.findings.iter().map(|d| d.code).collect();
            codes.sort_unstable();
            codes.dedup();
            codes
        };
        let linted = codes(Checker::new("x.xml", cat, false));
        let left = codes(Checker::new("x.xml", cat, false).without_filter_lint());
        assert!(linted.contains(&"QR095"), "{linted:?}");
        assert!(!left.contains(&"QR095"), "{left:?}");
        // Only the lint differs: the QID the rule tests is still looked for.
        let rest: Vec<_> = linted.into_iter().filter(|c| *c != "QR095").collect();
        assert_eq!(rest, left);
        assert!(!left.is_empty(), "the dangling QID is still reported");
    }

    /// Enough rows for every index to go to disk several times: the findings across rows
    /// are the same as with everything in memory.
    #[test]
    fn indexes_on_disk_find_what_indexes_in_memory_find() {
        let cat = Catalogue::builtin();
        let mut on_disk = Checker::new("x.xml", cat, false).spilling();
        let mut in_memory = Checker::new("x.xml", cat, false);
        let n = 70_000u64;
        for c in [&mut on_disk, &mut in_memory] {
            c.version("2021.6.0".into(), Pos::START);
            let mut line = 10;
            for i in 0..n {
                // Every 997th QID number and every 1009th name repeat an earlier one.
                let qid = if i % 997 == 5 {
                    2_000_000 + i - 3
                } else {
                    2_000_000 + i
                };
                let name = if i % 1009 == 7 {
                    format!("n{}", i - 1)
                } else {
                    format!("n{i}")
                };
                let r = row(
                    "qidmap",
                    line,
                    &[
                        ("id", i.to_string()),
                        ("qid", qid.to_string()),
                        ("qname", name),
                        ("severity", "5".into()),
                        ("lowlevelcategory", "3001".into()),
                    ],
                );
                c.row(&r);
                line += 7;
                // Every 1013th mapping points at no qidmap; spellings that differ by case.
                let target = if i % 1013 == 11 { n + i } else { i };
                let event = if i % 2 == 0 {
                    format!("Op{}", i / 2)
                } else {
                    format!("op{}", i / 2)
                };
                let r = row(
                    "dsmevent",
                    line,
                    &[
                        ("id", i.to_string()),
                        ("devicetypeid", "445".into()),
                        ("deviceeventid", event),
                        ("deviceeventcategory", "c".into()),
                        ("qidmapid", target.to_string()),
                    ],
                );
                c.row(&r);
                line += 7;
                if i % 10 == 0 {
                    let r = row(
                        "custom_rule",
                        line,
                        &[("id", i.to_string()), ("uuid", format!("u{}", i % 5003))],
                    );
                    c.row(&r);
                    line += 4;
                    let item = if i % 3 == 0 { i } else { i + 1 };
                    let r = row(
                        "fgroup_link",
                        line,
                        &[
                            ("id", i.to_string()),
                            ("fgroup_id", (i % 7).to_string()),
                            ("item_id", item.to_string()),
                        ],
                    );
                    c.row(&r);
                    line += 5;
                }
            }
            c.finish();
        }
        assert!(on_disk.failure.is_none());
        let want = shown(&in_memory.findings);
        for code in [
            "QR054", "QR055", "QR057", "QR059", "QR091", "QR093", "QR094",
        ] {
            assert!(want.iter().any(|f| f.starts_with(code)), "no {code}");
        }
        assert_eq!(shown(&on_disk.findings), want);
    }

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
