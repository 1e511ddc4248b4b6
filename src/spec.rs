//! The pack file: what users write (TOML), read with the spans of every value so that
//! each error can point at the user's line and column. `docs/pack-format.md` documents
//! every key; unknown keys are errors.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use toml::Spanned;

use crate::diag::{Diagnostic, Location};

/// A whole pack file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackFile {
    pub extension: Spanned<Extension>,
    pub log_source_type: Spanned<LogSourceTypeRef>,
    #[serde(default)]
    pub dsm: Option<Spanned<Dsm>>,
    #[serde(default)]
    pub qids: Option<Spanned<QidRange>>,
    #[serde(default, rename = "event")]
    pub events: Vec<Spanned<Event>>,
    #[serde(default, rename = "property")]
    pub properties: Vec<Spanned<Property>>,
    #[serde(default, rename = "rule")]
    pub rules: Vec<Spanned<Rule>>,
    #[serde(default, rename = "search")]
    pub searches: Vec<Spanned<Search>>,
    /// Test cases for `qrpack test`.
    #[serde(default, rename = "test")]
    pub tests: Vec<Spanned<TestCase>>,
    /// Files beside the pack holding more `[[test]]` cases.
    #[serde(default)]
    pub test_files: Vec<Spanned<String>>,
    /// `[parsing]`: how a custom log source type parses its records (custom DSMs only).
    #[serde(default)]
    pub parsing: Option<Spanned<Parsing>>,
}

/// A file of test cases (`test_files`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    #[serde(default, rename = "test")]
    pub tests: Vec<Spanned<TestCase>>,
}

/// `[[test]]`: events and what the pack must make of them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    pub name: Spanned<String>,
    /// An event file, relative to the file declaring the test.
    #[serde(default)]
    pub events: Option<Spanned<String>>,
    /// One event, inline (JSON).
    #[serde(default)]
    pub event: Option<Spanned<String>>,
    /// Only the records whose correlationId or id equals this.
    #[serde(default)]
    pub key: Option<Spanned<String>>,
    #[serde(default)]
    pub expect: Option<Spanned<Expect>>,
}

/// `[test.expect]`: what must hold for every selected event.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The pack event (QID name) it maps to, or "unknown".
    #[serde(default)]
    pub event: Option<Spanned<String>>,
    /// Property values; "absent" for no value.
    #[serde(default)]
    pub properties: BTreeMap<String, Spanned<String>>,
    /// A custom DSM's parsed fields by `[parsing]` key (`user_name`, `device_time`, …);
    /// "absent" for no value.
    #[serde(default)]
    pub fields: BTreeMap<String, Spanned<String>>,
    /// Rules (or building blocks) that must match.
    #[serde(default)]
    pub fires: Vec<Spanned<String>>,
    /// Rules that must not match.
    #[serde(default)]
    pub silent: Vec<Spanned<String>>,
    /// Saved searches the event must appear in.
    #[serde(default)]
    pub searches: Vec<Spanned<String>>,
    /// Saved searches it must not appear in.
    #[serde(default)]
    pub not_searches: Vec<Spanned<String>>,
}

/// `[extension]`: the archive's metadata, written into `manifest.txt`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extension {
    /// The manifest `_id`: QRadar refuses a second install of the same id and version.
    pub hub_id: Spanned<String>,
    pub name: Spanned<String>,
    pub version: Spanned<String>,
    pub author: Spanned<String>,
    pub author_email: Spanned<String>,
    pub description: Spanned<String>,
    /// QRadar's internal version, e.g. `2021.6.0` for 7.5.0.
    pub min_qradar_version: Spanned<String>,
    /// Written as `<qradarversion>`; defaults to `min_qradar_version`.
    #[serde(default)]
    pub qradar_version: Option<Spanned<String>>,
    /// The fixed build time written into file names and dates. `SOURCE_DATE_EPOCH`
    /// overrides it.
    #[serde(default)]
    pub timestamp: Option<Spanned<toml::value::Datetime>>,
    /// The QRadar user written as owner of rows (`username`, rule `owner`).
    #[serde(default)]
    pub owner: Option<Spanned<String>>,
}

/// `[log_source_type]`: the log source type the pack extends (built-in: by id only).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSourceTypeRef {
    pub id: Spanned<i64>,
    pub name: Spanned<String>,
    /// `custom = true`: the pack defines this log source type (a custom DSM, as QRadar's
    /// DSM Editor makes) instead of extending a built-in one. The keys below are for
    /// custom types only.
    #[serde(default)]
    pub custom: Option<Spanned<bool>>,
    /// `sensordevicetype/devicetypename`; default: the name's letters and digits + "Custom".
    #[serde(default)]
    pub internal_name: Option<Spanned<String>>,
    /// The log source extension's description (`device_ext/description`).
    #[serde(default)]
    pub description: Option<Spanned<String>>,
    /// Device category, by id or exact name (5 / "SW/Integration").
    #[serde(default)]
    pub device_category: Option<Spanned<IdOrName>>,
    /// `devicetypecredibility`, 0–10.
    #[serde(default)]
    pub credibility: Option<Spanned<i64>>,
    /// Protocols the type accepts, by catalogue name or description.
    #[serde(default)]
    pub protocols: Option<Spanned<Vec<Spanned<String>>>>,
}

/// A catalogue entry given by id (integer) or by exact name (string).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdOrName {
    Id(i64),
    Name(String),
}

impl<'de> Deserialize<'de> for IdOrName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match CategoryRef::deserialize(d)? {
            CategoryRef::Id(i) => Ok(IdOrName::Id(i)),
            CategoryRef::Name(n) => Ok(IdOrName::Name(n)),
        }
    }
}

/// `[parsing]`: for each normalized field QRadar fills (`event_name`, `user_name`, …),
/// the extractions to try in order of preference. Keys are checked against the list of
/// fields in `crate::custom_dsm::FIELDS`.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct Parsing {
    pub fields: BTreeMap<Spanned<String>, Spanned<Vec<Spanned<ParseRule>>>>,
}

/// One way to read a field: a JSON key path, or a regex and the group holding the value.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParseRule {
    #[serde(default)]
    pub json: Option<Spanned<String>>,
    #[serde(default)]
    pub regex: Option<Spanned<String>>,
    /// The regex group holding the value (default 1).
    #[serde(default)]
    pub capture_group: Option<Spanned<i64>>,
    /// `device_time` only: the Java date format of the value (`ext-data`).
    #[serde(default)]
    pub date_format: Option<Spanned<String>>,
}

/// `[dsm]`: how the DSM turns a record into the (event id, event category) pair that
/// `dsmevent` rows match. For built-in DSMs this is an assumption the pack states.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dsm {
    /// Template for the device event id, e.g. `"{operation}"`.
    pub event_id: Spanned<String>,
    /// Template for the device event category, e.g. `"{category}"`.
    pub event_category: Spanned<String>,
    /// Where each placeholder is read from in a record: QRadar JSON key paths, first
    /// that yields a value wins. Used by `qrpack test`.
    #[serde(default)]
    pub fields: BTreeMap<String, Spanned<Vec<Spanned<String>>>>,
    /// Values for placeholders that an event does not list in its `match`.
    #[serde(default)]
    pub defaults: BTreeMap<String, Spanned<Vec<Spanned<String>>>>,
    /// `[[dsm.fallback]]`: what the DSM looks up when no mapping matches an event's
    /// (id, category) pair. An assumption about the DSM, used by `qrpack test` only.
    #[serde(default)]
    pub fallback: Vec<Spanned<DsmFallback>>,
}

/// `[[dsm.fallback]]`: for events of `category` whose (event id, category) pair no
/// mapping matches, the DSM looks up (`event_id`, `category`) instead. The pair must be
/// mapped by one of the pack's events. Whether and how a DSM falls back is **[guess]**
/// territory (docs/pack-format.md): the pack states it, as it states `[dsm]` itself.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DsmFallback {
    /// The device event category, exactly as the DSM reports it.
    pub category: Spanned<String>,
    /// The device event id looked up instead, with the same category.
    pub event_id: Spanned<String>,
}

/// `[qids]`: where new QIDs are allocated.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QidRange {
    pub first: Spanned<i64>,
    pub last: Spanned<i64>,
}

/// A low-level category, by id or by its exact catalogue name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CategoryRef {
    Id(i64),
    Name(String),
}

impl<'de> Deserialize<'de> for CategoryRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = CategoryRef;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a low-level category id (integer) or its exact name (string)")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<CategoryRef, E> {
                Ok(CategoryRef::Id(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<CategoryRef, E> {
                i64::try_from(v)
                    .map(CategoryRef::Id)
                    .map_err(|_| E::custom("category id out of range"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CategoryRef, E> {
                Ok(CategoryRef::Name(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// `[[event]]`: one QID map entry and the device events mapped to it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// The QID name (`qname`): how QRadar recognises an installed QID.
    pub name: Spanned<String>,
    #[serde(default)]
    pub description: Option<Spanned<String>>,
    pub severity: Spanned<i64>,
    pub category: Spanned<CategoryRef>,
    /// A pinned QID number; otherwise one is allocated and recorded in the lock.
    #[serde(default)]
    pub qid: Option<Spanned<i64>>,
    /// `dsmevent/credibility`; QRadar's own editors write 0.
    #[serde(default)]
    pub credibility: Option<Spanned<i64>>,
    /// Values for the `[dsm]` templates' placeholders, e.g. every spelling of the
    /// operation name. One `dsmevent` row per combination.
    #[serde(rename = "match")]
    pub matches: Spanned<BTreeMap<String, Spanned<Vec<Spanned<String>>>>>,
    /// Free-form labels (e.g. `risk`, `credential_type`) that searches and rules can
    /// select events by: `{{qids:risk=MFA_Bypass_Risk}}`.
    #[serde(default)]
    pub labels: BTreeMap<String, Spanned<String>>,
    /// Deprecated: kept in the archive so that what customers' consoles point at still
    /// resolves, then removable in a later release (docs/releases.md).
    #[serde(default)]
    pub deprecated: bool,
    /// Why it is deprecated; written into its description (or notes).
    #[serde(default)]
    pub deprecated_reason: Option<Spanned<String>>,
    /// The event of this pack that replaces it.
    #[serde(default)]
    pub replaced_by: Option<Spanned<String>>,
}

/// The type of a custom property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PropertyType {
    #[default]
    String,
    Number,
    Ip,
    Port,
    Time,
}

/// `[[property]]`: a custom event property and how it is extracted.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Property {
    pub name: Spanned<String>,
    #[serde(default, rename = "type")]
    pub kind: PropertyType,
    #[serde(default)]
    pub description: Option<String>,
    /// Java date pattern, for `type = "time"`.
    #[serde(default)]
    pub date_pattern: Option<Spanned<String>>,
    /// The locale of a time property's dates (`languagetag`, e.g. "fr").
    #[serde(default)]
    pub date_locale: Option<Spanned<String>>,
    /// Parse the property as events arrive, for rules and search indexing (`forceparse`).
    #[serde(default)]
    pub force_parse: bool,
    #[serde(rename = "expression")]
    pub expressions: Spanned<Vec<Spanned<Expression>>>,
    /// Deprecated: kept in the archive so that what customers' consoles point at still
    /// resolves, then removable in a later release (docs/releases.md).
    #[serde(default)]
    pub deprecated: bool,
    /// Why it is deprecated; written into its description (or notes).
    #[serde(default)]
    pub deprecated_reason: Option<Spanned<String>>,
    /// The property of this pack that replaces it.
    #[serde(default)]
    pub replaced_by: Option<Spanned<String>>,
}

/// `[[property.expression]]`: a JSON key path or a regex with a capture group.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expression {
    /// Pin the expression's id (QRadar's identity for it); default: derived from the
    /// property, the extraction and the event.
    #[serde(default)]
    pub id: Option<Spanned<String>>,
    #[serde(default)]
    pub json: Option<Spanned<String>>,
    #[serde(default)]
    pub regex: Option<Spanned<String>>,
    #[serde(default)]
    pub capture_group: Option<Spanned<i64>>,
    /// Restrict the expression to these pack events (one row per QID); default: every
    /// event of the log source type.
    #[serde(default)]
    pub events: Vec<Spanned<String>>,
    /// A sample record the expression extracts from, written base64 into `payload`.
    #[serde(default)]
    pub sample: Option<Spanned<String>>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// `[[rule]]`: a custom rule or building block.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub name: Spanned<String>,
    #[serde(default)]
    pub building_block: bool,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub notes: Option<String>,
    /// Pack events whose QIDs the rule tests (`QID_Test`).
    #[serde(default)]
    pub events: Vec<Spanned<String>>,
    /// Test the pack's log source type (`DeviceTypeID_Test`).
    #[serde(default = "yes")]
    pub log_source_type: bool,
    /// An AQL WHERE filter (`AQL_Test`); may use `{{qid:…}}`-style placeholders.
    #[serde(default)]
    pub aql: Option<Spanned<String>>,
    /// The rule group the rule is filed under.
    #[serde(default)]
    pub group: Option<Spanned<String>>,
    #[serde(default)]
    pub response: Option<Spanned<Response>>,
    /// Pin the rule's uuid (QRadar's identity for a rule): keeps it when the rule is
    /// renamed. Default: derived from the hub id and the rule name.
    #[serde(default)]
    pub uuid: Option<Spanned<String>>,
    /// Deprecated: kept in the archive so that what customers' consoles point at still
    /// resolves, then removable in a later release (docs/releases.md).
    #[serde(default)]
    pub deprecated: bool,
    /// Why it is deprecated; written into its description (or notes).
    #[serde(default)]
    pub deprecated_reason: Option<Spanned<String>>,
    /// The rule of this pack that replaces it.
    #[serde(default)]
    pub replaced_by: Option<Spanned<String>>,
}

/// `[rule.response]`: what the rule does when it matches.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Response {
    #[serde(default = "yes")]
    pub offense: bool,
    pub severity: Spanned<i64>,
    pub credibility: Spanned<i64>,
    pub relevance: Spanned<i64>,
    /// Name of the event the rule dispatches (its QID is allocated like an event's);
    /// default: the rule name.
    #[serde(default)]
    pub event_name: Option<Spanned<String>>,
    #[serde(default)]
    pub description: Option<String>,
    /// Low-level category of the dispatched event; default 12002 Single Event Rule Match.
    #[serde(default)]
    pub category: Option<Spanned<CategoryRef>>,
}

/// `[[search]]`: a saved search.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Search {
    pub name: Spanned<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub aql: Option<Spanned<String>>,
    /// A file holding the AQL, relative to the pack file.
    #[serde(default)]
    pub aql_file: Option<Spanned<String>>,
    /// Also write the best-known (unverified) saved-search row into the content XML.
    #[serde(default)]
    pub embed: bool,
}

/// Parse a pack file's text; `file` is the name errors show.
pub fn parse(file: &str, text: &str) -> Result<PackFile, Box<Diagnostic>> {
    toml::from_str::<PackFile>(text).map_err(|e| Box::new(toml_error(file, text, &e)))
}

/// A TOML or schema error as a diagnostic pointing into the file.
pub fn toml_error(file: &str, text: &str, e: &toml::de::Error) -> Diagnostic {
    let message = e.message().trim().to_string();
    let (code, help) = classify(&message);
    let mut d = Diagnostic::error(code, message.clone());
    if let Some(span) = e.span() {
        d = d.at(Location::in_text(file, text, span));
    }
    if let Some(h) = help {
        d = d.help(h);
    }
    d
}

/// Give serde's messages a stable code and a fix.
fn classify(message: &str) -> (&'static str, Option<String>) {
    if message.starts_with("unknown field `") {
        (
            "PK002",
            Some(
                "remove the key or fix its spelling; docs/pack-format.md lists every key"
                    .to_string(),
            ),
        )
    } else if message.starts_with("missing field") {
        (
            "PK003",
            Some("add the key; docs/pack-format.md says what it means".to_string()),
        )
    } else if message.starts_with("invalid type") || message.starts_with("unknown variant") {
        (
            "PK004",
            Some("give the value the type the key takes (docs/pack-format.md)".to_string()),
        )
    } else {
        (
            "PK001",
            Some("fix the TOML syntax at the caret".to_string()),
        )
    }
}
