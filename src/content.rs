//! The QRadar content model: what QRadar stores, as rows named after its database tables.
//! `build` fills it from a pack; the XML layer writes it (and reads it back), so every
//! command shares one picture of an extension.
//!
//! Column sets are copied from real exports (`docs/qradar-format.md` §3.1). Column order
//! inside a row carries no meaning in QRadar's files; we write a fixed order so the bytes
//! are reproducible.

use uuid::Uuid;

/// One row: a table name and its columns in writing order. Values are the text QRadar
/// writes (booleans `true`/`false`, numbers in decimal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub table: String,
    pub columns: Vec<(String, String)>,
}

impl Row {
    pub fn new(table: &str) -> Row {
        Row {
            table: table.to_string(),
            columns: Vec::new(),
        }
    }
    /// The value of a column, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.columns
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One row being laid out, in buffers that are reused from row to row: once warm, laying
/// out a row allocates nothing. Every row of an [`Extension`] is laid out by one of the
/// `lay_out` methods below, and [`Row`]s, the content XML and the build's self-check
/// all take the rows from there, so they see the same columns and values.
#[derive(Debug, Default)]
pub struct RowBuf {
    table: &'static str,
    columns: Vec<(&'static str, String)>,
    len: usize,
}

impl RowBuf {
    /// Start a row of `table`, forgetting the previous row's columns.
    pub fn start(&mut self, table: &'static str) -> &mut RowBuf {
        self.table = table;
        self.len = 0;
        self
    }
    /// Append a column.
    pub fn col(&mut self, name: &'static str, value: impl ColValue) -> &mut RowBuf {
        if self.len == self.columns.len() {
            self.columns.push((name, String::new()));
        }
        let (n, v) = &mut self.columns[self.len];
        *n = name;
        v.clear();
        value.put(v);
        self.len += 1;
        self
    }
    pub fn table(&self) -> &'static str {
        self.table
    }
    /// The columns in writing order: (name, value).
    pub fn columns(&self) -> &[(&'static str, String)] {
        &self.columns[..self.len]
    }
    pub fn to_row(&self) -> Row {
        Row {
            table: self.table.to_string(),
            columns: self
                .columns()
                .iter()
                .map(|(n, v)| (n.to_string(), v.clone()))
                .collect(),
        }
    }
}

/// A column value, as the text QRadar writes: decimal numbers, `true`/`false`, UUIDs
/// lowercase with hyphens (the same text as their `Display`).
pub trait ColValue {
    fn put(&self, out: &mut String);
}

impl ColValue for str {
    fn put(&self, out: &mut String) {
        out.push_str(self);
    }
}
impl ColValue for String {
    fn put(&self, out: &mut String) {
        out.push_str(self);
    }
}
impl ColValue for i64 {
    fn put(&self, out: &mut String) {
        out.push_str(itoa::Buffer::new().format(*self));
    }
}
// Integer literals in the `lay_out` methods.
impl ColValue for i32 {
    fn put(&self, out: &mut String) {
        out.push_str(itoa::Buffer::new().format(*self));
    }
}
impl ColValue for bool {
    fn put(&self, out: &mut String) {
        out.push_str(if *self { "true" } else { "false" });
    }
}
impl ColValue for Uuid {
    fn put(&self, out: &mut String) {
        out.push_str(self.hyphenated().encode_lower(&mut Uuid::encode_buffer()));
    }
}
impl<T: ColValue + ?Sized> ColValue for &T {
    fn put(&self, out: &mut String) {
        (**self).put(out);
    }
}

/// A whole content XML: `<qradarversion>` then the rows, in writing order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    pub qradar_version: String,
    pub rows: Vec<Row>,
}

/// `qidmap`: a QID map entry. `id` is the row id that `dsmevent/qidmapid` points at;
/// `qid` is the number events carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QidMap {
    pub id: i64,
    pub qid: i64,
    pub name: String,
    pub description: String,
    pub severity: i64,
    pub low_level_category: i64,
    pub uuid: Uuid,
}

impl QidMap {
    pub fn lay_out(&self, r: &mut RowBuf) {
        r.start("qidmap")
            .col("id", self.id)
            .col("qid", self.qid)
            .col("qname", &self.name)
            .col("qdescription", &self.description)
            .col("severity", self.severity)
            .col("lowlevelcategory", self.low_level_category)
            // Every real user-created row carries these values.
            .col("catpipename", "Echo")
            .col("reverseip", false)
            .col("ratethreshold", 0)
            .col("rateinterval", 0)
            .col("rateshortwindow", 0)
            .col("ratelongwindow", 0)
            .col("uuid", self.uuid);
    }
}

/// `dsmevent`: maps (log source type, device event id, device event category) to a QID
/// map entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DsmEvent {
    pub id: i64,
    pub device_type_id: i64,
    pub device_event_id: String,
    pub device_event_category: String,
    pub qidmap_id: i64,
    pub credibility: i64,
    pub uuid: Uuid,
}

impl DsmEvent {
    pub fn lay_out(&self, r: &mut RowBuf) {
        r.start("dsmevent")
            .col("id", self.id)
            .col("devicetypeid", self.device_type_id)
            .col("deviceeventid", &self.device_event_id)
            .col("deviceeventcategory", &self.device_event_category)
            .col("qidmapid", self.qidmap_id)
            .col("credibility", self.credibility)
            .col("customevent", true)
            .col("unravelevent", 0)
            .col("uuid", self.uuid);
    }
}

/// `ariel_regex_property`: a custom event property (the name and type; the extraction
/// lives in expression rows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomProperty {
    /// A UUID for user properties (`DEFAULTCUSTOMEVENTn` for IBM's own).
    pub id: String,
    pub name: String,
    /// QRadar's type name: `string`, `numeric`, `ip`, `port`, `time`.
    pub property_type: &'static str,
    pub description: String,
    pub date_pattern: Option<String>,
    /// `languagetag`: the locale of a time property's dates.
    pub language_tag: Option<String>,
    /// `forceparse`: parse as events arrive (rules and search indexing).
    pub force_parse: bool,
    pub sequence_id: i64,
    pub username: String,
    pub date_ms: i64,
}

impl CustomProperty {
    pub fn lay_out(&self, r: &mut RowBuf) {
        r.start("ariel_regex_property")
            .col("id", &self.id)
            .col("propertyname", &self.name)
            .col("propertytype", self.property_type)
            .col("database", "events")
            .col("forceparse", self.force_parse)
            .col("autodiscovered", false);
        if let Some(p) = &self.date_pattern {
            r.col("datepattern", p);
        }
        if let Some(l) = &self.language_tag {
            r.col("languagetag", l);
        }
        r.col("description", &self.description)
            .col("sequenceid", self.sequence_id)
            .col("tenant_id", 0)
            .col("username", &self.username)
            .col("creationdate", self.date_ms)
            .col("editdate", self.date_ms);
    }
}

/// How an expression extracts a property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extraction {
    /// `ariel_property_json_expression`: a QRadar JSON key path.
    Json(String),
    /// `ariel_property_expression`: a regex and the capture group holding the value.
    Regex { regex: String, capture_group: i64 },
}

/// An expression row: how one property is extracted for a log source type (and
/// optionally one QID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyExpression {
    pub id: String,
    /// The property's `id`.
    pub property_id: String,
    pub extraction: Extraction,
    pub device_type_id: i64,
    /// `-1` means any QID.
    pub qid: i64,
    /// Base64 of a sample record.
    pub payload: Option<String>,
    pub enabled: bool,
    pub rank: i64,
    pub sequence_id: i64,
    pub username: String,
    pub date_ms: i64,
}

/// The class name real exports carry in `propertybase`.
const PAYLOAD_BASE: &str = "com.q1labs.core.types.event.NormalizedEventProperties$Payload";

impl PropertyExpression {
    pub fn lay_out(&self, r: &mut RowBuf) {
        let table = match self.extraction {
            Extraction::Json(_) => "ariel_property_json_expression",
            Extraction::Regex { .. } => "ariel_property_expression",
        };
        r.start(table)
            .col("id", &self.id)
            .col("ap_id", &self.property_id)
            .col("devicetypeid", self.device_type_id)
            .col("deviceid", -1)
            .col("qid", self.qid)
            .col("category", -1);
        match &self.extraction {
            Extraction::Json(e) => r.col("expression", e),
            Extraction::Regex {
                regex,
                capture_group,
            } => r.col("regex", regex).col("capturegroup", capture_group),
        };
        if let Some(p) = &self.payload {
            r.col("payload", p);
        }
        r.col("propertybase", PAYLOAD_BASE)
            .col("enabled", self.enabled)
            .col("rank", self.rank)
            .col("sequenceid", self.sequence_id)
            .col("username", &self.username)
            .col("creationdate", self.date_ms)
            .col("editdate", self.date_ms);
    }
}

/// `custom_rule`: a rule or building block; `rule_data` is base64 of the `<rule>` XML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomRule {
    pub id: i64,
    pub uuid: Uuid,
    pub rule_data: String,
    /// ISO-8601 with milliseconds and offset.
    pub date: String,
}

impl CustomRule {
    pub fn lay_out(&self, r: &mut RowBuf) {
        r.start("custom_rule")
            .col("id", self.id)
            .col("uuid", self.uuid)
            .col("origin", "USER")
            .col("rule_type", 0)
            .col("flags", 0)
            .col("mod_date", &self.date)
            .col("create_date", &self.date)
            .col("rule_data", &self.rule_data);
    }
}

/// The built-in group type of rule groups (`fgroup_type` id 3); referenced, never written.
pub const RULE_GROUP_TYPE: i64 = 3;

/// `fgroup`: a rule group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub user_name: String,
    pub date: String,
}

impl Group {
    pub fn lay_out(&self, r: &mut RowBuf) {
        // parent 3 / level 2: a top-level group under the built-in rule tree, as public
        // tools that write rule groups do [tool].
        r.start("fgroup")
            .col("id", self.id)
            .col("parent_id", RULE_GROUP_TYPE)
            .col("type_id", RULE_GROUP_TYPE)
            .col("level_id", 2)
            .col("name", &self.name)
            .col("description", &self.description)
            .col("user_name", &self.user_name)
            .col("modified_date", &self.date);
    }
}

/// `fgroup_link`: files an item (a rule's `id`) under a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupLink {
    pub id: i64,
    pub group_id: i64,
    pub item_id: i64,
    pub user_name: String,
}

impl GroupLink {
    pub fn lay_out(&self, r: &mut RowBuf) {
        r.start("fgroup_link")
            .col("id", self.id)
            .col("fgroup_id", self.group_id)
            .col("item_id", self.item_id)
            .col("user_name", &self.user_name);
    }
}

/// A saved search as the best-known row (`customviewparams`). **Unverified**: no public
/// export shows this row (`docs/saved-searches.md`); written only when a pack asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedSearch {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub aql: String,
    pub username: String,
    pub uuid: Uuid,
}

impl SavedSearch {
    pub fn lay_out(&self, r: &mut RowBuf) {
        r.start("customviewparams")
            .col("id", self.id)
            .col("cv_id", self.id)
            .col("itemname", &self.name)
            .col("database", "events")
            .col("username", &self.username)
            .col("shared", true)
            .col("refcount", 0)
            .col("uuid", self.uuid)
            .col("description", &self.description)
            .col("aql", &self.aql);
    }
}

/// `sensordevicecategory`: a log source type's device category (5 `SW/Integration`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCategory {
    pub id: i64,
    pub name: String,
    pub description: String,
}

impl DeviceCategory {
    pub fn lay_out(&self, r: &mut RowBuf) {
        r.start("sensordevicecategory")
            .col("id", self.id)
            .col("categoryname", &self.name)
            .col("categorydescription", &self.description);
    }
}

/// The log source type every custom type is based on (`devicetypeoverride` of the DSM
/// Editor's types **[real]**; 4000 is `IBMCustomDSM` in the catalogue).
pub const CUSTOM_DSM_BASE: i64 = 4000;

/// `sensordevicetype`: a custom log source type, with the columns the DSM Editor's export
/// has **[real]** (`custom-json-dsm-teleport.zip`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceType {
    pub id: i64,
    /// `devicetypename`, the internal name (`CUSTOMTeleportBastionCustom`).
    pub name: String,
    /// `devicetypedescription`: the name QRadar shows (`[CUSTOM] Teleport Bastion`).
    pub description: String,
    pub category_id: i64,
    pub credibility: i64,
    /// `extension_id` → `device_ext/id`.
    pub extension_id: i64,
    pub uuid: Uuid,
}

impl DeviceType {
    pub fn lay_out(&self, r: &mut RowBuf) {
        r.start("sensordevicetype")
            .col("id", self.id)
            .col("devicetypename", &self.name)
            .col("devicetypedescription", &self.description)
            .col("devicecategoryid", self.category_id)
            .col("devicetypeoverride", CUSTOM_DSM_BASE)
            .col("devicetypecredibility", self.credibility)
            // What the DSM Editor writes for every custom type [real].
            .col("defaultlanguageid", 1)
            .col("dsmparameter", "")
            .col("extension_id", self.extension_id)
            .col("mask", 0)
            .col("uniqueperhost", false)
            .col("uuid", self.uuid);
    }
}

/// `sensordeviceprotocols`: one protocol a log source type accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceProtocol {
    pub id: i64,
    pub device_type_id: i64,
    pub protocol_id: i64,
}

impl DeviceProtocol {
    pub fn lay_out(&self, r: &mut RowBuf) {
        r.start("sensordeviceprotocols")
            .col("id", self.id)
            .col("sensordevicetypeid", self.device_type_id)
            .col("sensorprotocolid", self.protocol_id)
            .col("documented", false);
    }
}

/// `device_ext`: a log source extension; `xml` is base64 of the `<device-extension>`
/// document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceExt {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub uuid: Uuid,
    /// Base64 of the document.
    pub xml: String,
}

impl DeviceExt {
    pub fn lay_out(&self, r: &mut RowBuf) {
        r.start("device_ext")
            .col("id", self.id)
            .col("name", &self.name)
            .col("description", &self.description)
            .col("enabled", true)
            .col("use_condition", 0)
            .col("uuid", self.uuid)
            .col("xml", &self.xml);
    }
}

/// Everything a pack produces, typed; `to_content` lays it out as rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extension {
    pub qradar_version: String,
    /// A custom log source type's rows (empty when the pack extends a built-in type).
    pub device_categories: Vec<DeviceCategory>,
    pub device_exts: Vec<DeviceExt>,
    pub device_types: Vec<DeviceType>,
    pub device_protocols: Vec<DeviceProtocol>,
    pub qidmaps: Vec<QidMap>,
    pub dsm_events: Vec<DsmEvent>,
    pub properties: Vec<CustomProperty>,
    pub expressions: Vec<PropertyExpression>,
    pub groups: Vec<Group>,
    pub rules: Vec<CustomRule>,
    pub group_links: Vec<GroupLink>,
    pub searches: Vec<SavedSearch>,
}

impl Extension {
    /// Lay out every row, in a fixed order (what is referenced comes before what refers
    /// to it), handing each to `f` in one reused buffer.
    pub fn for_each_row(&self, mut f: impl FnMut(&RowBuf)) {
        let mut r = RowBuf::default();
        macro_rules! each {
            ($($items:ident),*) => {$(
                for item in &self.$items {
                    item.lay_out(&mut r);
                    f(&r);
                }
            )*};
        }
        each!(
            device_categories,
            device_exts,
            device_types,
            device_protocols,
            qidmaps,
            dsm_events,
            properties,
            expressions,
            groups,
            rules,
            group_links,
            searches
        );
    }

    /// How many rows [`Extension::for_each_row`] lays out.
    pub fn row_count(&self) -> usize {
        self.device_categories.len()
            + self.device_exts.len()
            + self.device_types.len()
            + self.device_protocols.len()
            + self.qidmaps.len()
            + self.dsm_events.len()
            + self.properties.len()
            + self.expressions.len()
            + self.groups.len()
            + self.rules.len()
            + self.group_links.len()
            + self.searches.len()
    }

    /// The rows in the order of [`Extension::for_each_row`], as owned [`Row`]s.
    pub fn to_content(&self) -> Content {
        let mut rows = Vec::with_capacity(self.row_count());
        self.for_each_row(|r| rows.push(r.to_row()));
        Content {
            qradar_version: self.qradar_version.clone(),
            rows,
        }
    }
}
