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
    if text.len() >= PARALLEL_MIN
        && let Some(pack) = parse_in_two(text)
    {
        return Ok(pack);
    }
    toml::from_str::<PackFile>(text).map_err(|e| Box::new(toml_error(file, text, &e)))
}

/// Below this size a pack is parsed on one thread: a second is not worth starting.
const PARALLEL_MIN: usize = 256 * 1024;

/// The arrays of tables a pack may go on with after its first `[[…]]` header.
const SPLIT_HEADERS: [&str; 5] = [
    "[[event]]",
    "[[property]]",
    "[[rule]]",
    "[[search]]",
    "[[test]]",
];

/// What follows a split point: more elements of the pack's arrays of tables, and nothing
/// else (anything else makes the parse fall back to one thread).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Tail {
    #[serde(default)]
    event: Vec<Spanned<Event>>,
    #[serde(default)]
    property: Vec<Spanned<Property>>,
    #[serde(default)]
    rule: Vec<Spanned<Rule>>,
    #[serde(default)]
    search: Vec<Spanned<Search>>,
    #[serde(default)]
    test: Vec<Spanned<TestCase>>,
}

/// Parse a large pack on two threads: the text is cut at an array-of-tables header line
/// (`[[event]]`, `[[rule]]`, …) near its middle; the part before is parsed as a pack, the
/// part after as more elements of those arrays, and the elements are appended in order,
/// as TOML appends them. `None` (parse on one thread instead, which also gives the exact
/// error) whenever the cut could change the meaning:
///
/// - either part fails to parse. A cut inside a multi-line string or array leaves the first
///   part unterminated, so it fails; the first part parsing means the cut is at the start
///   of a line at top level, where a header line is a header.
/// - the second part has anything but those arrays' elements (a `[dsm]` table, say);
/// - an element of the first part is not a `[[…]]` table: `event = [{…}]` is a static
///   array, which TOML forbids appending to, so the whole text is invalid.
///
/// Spans stay byte offsets into the whole text: the second part is parsed with everything
/// before the cut replaced by spaces (the line break before the cut is kept).
fn parse_in_two(text: &str) -> Option<PackFile> {
    let cut = split_point(text)?;
    let mut padded = String::with_capacity(text.len());
    // `repeat` copies in doubling blocks; extending by 2 MB of single chars took ms.
    padded.push_str(&" ".repeat(cut - 1));
    padded.push('\n');
    padded.push_str(&text[cut..]);
    let (head, tail) = std::thread::scope(|scope| {
        let tail = std::thread::Builder::new()
            .name("qrpack-toml".into())
            .spawn_scoped(scope, || toml::from_str::<Tail>(&padded).ok())
            .ok()?;
        let head = toml::from_str::<PackFile>(&text[..cut]).ok();
        Some((head, tail.join().ok()?))
    })?;
    let (mut pack, tail) = (head?, tail?);
    let is_header = |span: std::ops::Range<usize>| text.as_bytes()[span.start..].starts_with(b"[[");
    if !(pack.events.iter().all(|e| is_header(e.span()))
        && pack.properties.iter().all(|e| is_header(e.span()))
        && pack.rules.iter().all(|e| is_header(e.span()))
        && pack.searches.iter().all(|e| is_header(e.span()))
        && pack.tests.iter().all(|e| is_header(e.span())))
    {
        return None;
    }
    pack.events.extend(tail.event);
    pack.properties.extend(tail.property);
    pack.rules.extend(tail.rule);
    pack.searches.extend(tail.search);
    pack.tests.extend(tail.test);
    Some(pack)
}

/// The start of the first line at or after 2/5 of `text` that is exactly one of
/// [`SPLIT_HEADERS`] (trailing spaces and a comment allowed).
fn split_point(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    // The part before a cut costs more to parse per byte (the events' many short keys and
    // inline tables) than the rules after it: cutting at 2/5 balances the two threads on
    // the benchmark pack better than the middle does.
    let mut from = text.len() * 2 / 5;
    while let Some(k) = memchr::memmem::find(&b[from..], b"\n[[") {
        let start = from + k + 1;
        let line_end = memchr::memchr(b'\n', &b[start..]).map_or(b.len(), |e| start + e);
        let line = text[start..line_end].trim_end_matches('\r');
        let head = line.split('#').next().unwrap_or("").trim_end();
        if SPLIT_HEADERS.contains(&head) {
            return Some(start);
        }
        from = start;
    }
    None
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Events in the test packs: just enough for [`PARALLEL_MIN`].
    const N: usize = 2000;

    /// A pack of `n` events and rules, large enough to be parsed on two threads.
    fn big_pack(n: usize) -> String {
        let mut t = String::from(
            "[extension]\nname = \"Big\"\nhub_id = \"big\"\nversion = \"1.0.0\"\nauthor = \"a\"\nauthor_email = \"a@example.com\"\ndescription = \"d\"\nmin_qradar_version = \"2021.6.0\"\nqradar_version = \"2021.6.0\"\n\n[log_source_type]\nid = 445\nname = \"Microsoft Azure Active Directory\"\n\n",
        );
        for i in 0..n {
            t.push_str(&format!(
                "[[event]]\nname = \"Event {i}\"\nseverity = 5\ncategory = 3029\nmatch = {{ operation = [\"Op {i}\", \"Op {i} \"] }}\nlabels = {{ k = \"v{i}\" }}\n\n"
            ));
        }
        for i in 0..n / 4 {
            t.push_str(&format!(
                "[[rule]]\nname = \"Rule {i}\" # a comment\nevents = [\"Event {i}\"]\naql = \"\"\"\"Result\" = 'success'\"\"\"\n\n"
            ));
        }
        t
    }

    fn serial(text: &str) -> Result<String, String> {
        toml::from_str::<PackFile>(text)
            .map(|p| format!("{p:?}"))
            .map_err(|e| e.to_string())
    }

    fn either(text: &str) -> Result<String, String> {
        parse("p.toml", text)
            .map(|p| format!("{p:?}"))
            .map_err(|d| d.message.clone())
    }

    /// On two threads, the same pack, spans and all, as on one.
    #[test]
    fn two_threads_parse_the_same_pack() {
        let t = big_pack(N);
        assert!(t.len() >= PARALLEL_MIN);
        assert!(split_point(&t).is_some());
        let two = parse_in_two(&t).expect("two threads");
        let one = serial(&t).expect("parses");
        assert_eq!(format!("{two:?}"), one);
        // Spans point into the whole text: the last rule's span is its header.
        let last = two.rules.last().expect("rules");
        assert!(t[last.span()].starts_with("[[rule]]"));
        assert_eq!(two.events.len(), N);
        assert_eq!(two.rules.len(), N / 4);
    }

    /// Wherever the cut falls, what is not a pack on one thread is not one on two, and
    /// gives the same error: a static `event` array appended to, a cut inside a multi-line
    /// string, a table after the cut, a duplicate key, a syntax error in either part.
    #[test]
    fn a_cut_never_changes_the_outcome() {
        let base = big_pack(N);
        assert!(serial(&base).is_ok(), "{:?}", serial(&base));
        let cut = split_point(&base).expect("cut");
        let inline = format!(
            "event = [{{ name = \"Inline\", severity = 1, category = 3029, match = {{ operation = [\"x\"] }} }}]\n{base}"
        );
        // A cut inside a multi-line string: the header line at the cut is text of the
        // previous event's description, which swallows the next event.
        let open = "description = \"\"\"\n";
        let mut in_string = format!("{}{open}{}", &base[..cut], &base[cut..]);
        let close = cut
            + open.len()
            + in_string[cut + open.len()..]
                .find("\n\n")
                .expect("block end")
            + 1;
        in_string.insert_str(close, "\"\"\"\n");
        assert_eq!(
            split_point(&in_string),
            Some(cut + open.len()),
            "the cut falls in the string"
        );
        assert!(serial(&in_string).is_ok(), "{:?}", serial(&in_string));
        let cases = [
            inline,
            in_string,
            format!("{base}\n[dsm]\nevent_id = \"{{operation}}\"\nevent_category = \"x\"\n"),
            format!("{}severity = 6\n{}", &base[..cut - 1], &base[cut - 1..]),
            format!("{}oops = = 1\n{}", &base[..cut], &base[cut..]),
            format!(
                "{base}\n[[event]]\nname = \"Late\"\nseverity = 1\ncategory = 3029\nbogus = 1\n"
            ),
        ];
        for (i, t) in cases.iter().enumerate() {
            assert!(t.len() >= PARALLEL_MIN);
            let one = serial(t);
            let two = either(t);
            match (&one, &two) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "case {i}"),
                (Err(_), Err(_)) => {}
                _ => panic!("case {i}: one thread {one:?}, two {two:?}"),
            }
        }
        // The swallowed event is gone on two threads too.
        assert_eq!(
            parse("p.toml", &cases[1]).map(|p| p.events.len()).ok(),
            Some(N - 1)
        );
        // The static array and the duplicate key are errors, not silently merged.
        assert!(serial(&cases[0]).is_err());
        assert!(serial(&cases[3]).is_err());
        assert!(either(&cases[0]).is_err());
        assert!(either(&cases[3]).is_err());
        // The error is the serial parse's own, at its own place.
        let one_thread = toml::from_str::<PackFile>(&cases[4]).expect_err("syntax error");
        assert_eq!(
            either(&cases[4]).expect_err("syntax error"),
            one_thread.message().trim()
        );
    }
}
