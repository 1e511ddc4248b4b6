//! The JSON Schema (draft-07) of the pack file and of test files, for editors: taplo /
//! Even Better TOML give completion, hover docs and inline errors from it
//! (docs/editor.md). `qrpack schema` prints it; `docs/schema/*.schema.json` are the
//! committed copies, kept current by a test.
//!
//! Written here rather than derived from `spec.rs`: every field there is a
//! `toml::Spanned<T>`, which no schema generator knows (and the orphan rule forbids
//! teaching it), and the descriptions come from docs/pack-format.md. Drift is caught by
//! the tests below, which ask the deserializer itself: a sample document with every key
//! the schema lists must deserialize; at every table, the deserializer's own list of
//! accepted keys (from its "unknown field" error) must equal the schema's; every key the
//! schema marks required must be required, and no other; a value of another type than the
//! schema's must be refused.
//!
//! Only draft-4 keywords are used (taplo supports draft 4 fully), under the draft-07
//! `$schema`. Checks that need the whole pack (references between events and rules,
//! the catalogue, the lock) are left to `qrpack build`; the few value checks the schema
//! makes (ranges, version shapes, lengths) are the build's own, to the character.

use serde_json::{Map, Value, json};

/// The `$schema` written into both schemas.
pub const DRAFT: &str = "http://json-schema.org/draft-07/schema#";

/// The pattern of a TOML date-time with a date (taplo shows TOML date-times to the
/// schema as strings). A time-only value is PK014.
pub const DATETIME_PATTERN: &str = "^[0-9]{4}-[0-9]{2}-[0-9]{2}";
/// `[extension] version`: the build's PK010 check.
pub const SEMVER_PATTERN: &str = r"^[0-9]{1,18}\.[0-9]{1,18}\.[0-9]{1,18}$";
/// QRadar internal versions: the build's PK012 check.
pub const QRADAR_VERSION_PATTERN: &str = r"^[0-9]{1,18}(\.[0-9]{1,18}){2,3}$";

/// Which file a schema describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Pack,
    Tests,
}

/// The schema, as JSON text (pretty, keys sorted, ending with a newline): the same bytes
/// on every run.
pub fn text(which: Which) -> String {
    let v = match which {
        Which::Pack => pack(),
        Which::Tests => tests(),
    };
    let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
    s.push('\n');
    s
}

/// The file name the schema is committed (and scaffolded) under.
pub fn file_name(which: Which) -> &'static str {
    match which {
        Which::Pack => "qrpack-pack.schema.json",
        Which::Tests => "qrpack-tests.schema.json",
    }
}

// ---- builders ----------------------------------------------------------------------

/// One key of a table.
struct Key {
    name: &'static str,
    schema: Value,
    required: bool,
}

fn req(name: &'static str, schema: Value) -> Key {
    Key {
        name,
        schema,
        required: true,
    }
}

fn opt(name: &'static str, schema: Value) -> Key {
    Key {
        name,
        schema,
        required: false,
    }
}

/// A table with exactly these keys (unknown keys are PK002).
fn table(description: &str, keys: Vec<Key>) -> Value {
    let mut props = Map::new();
    let mut required = Vec::new();
    for k in keys {
        if k.required {
            required.push(Value::from(k.name));
        }
        props.insert(k.name.to_string(), k.schema);
    }
    let mut m = Map::new();
    m.insert("type".into(), "object".into());
    m.insert("description".into(), description.into());
    m.insert("properties".into(), Value::Object(props));
    m.insert("additionalProperties".into(), false.into());
    if !required.is_empty() {
        m.insert("required".into(), Value::Array(required));
    }
    Value::Object(m)
}

fn array_of_tables(description: &str, item: Value) -> Value {
    json!({ "type": "array", "description": description, "items": item })
}

fn string(description: &str) -> Value {
    json!({ "type": "string", "description": description })
}

fn string_with(description: &str, extra: Value) -> Value {
    let mut v = string(description);
    if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
        m.extend(e);
    }
    v
}

fn score(description: &str) -> Value {
    json!({ "type": "integer", "description": description, "minimum": 0, "maximum": 10 })
}

fn boolean(description: &str, default: bool) -> Value {
    json!({ "type": "boolean", "description": description, "default": default })
}

fn strings(description: &str) -> Value {
    json!({ "type": "array", "description": description, "items": { "type": "string" } })
}

/// A table of free keys, each holding a list of strings.
fn string_lists(description: &str) -> Value {
    json!({
        "type": "object",
        "description": description,
        "additionalProperties": { "type": "array", "items": { "type": "string" } }
    })
}

fn string_map(description: &str) -> Value {
    json!({
        "type": "object",
        "description": description,
        "additionalProperties": { "type": "string" }
    })
}

fn deprecated(kind: &str) -> Value {
    boolean(
        &format!(
            "The {kind} is deprecated: still written, in a form that keeps what refers to it working, so that a later release may remove it (docs/releases.md)."
        ),
        false,
    )
}

fn deprecated_reason() -> Value {
    string("With deprecated = true: why, in a few words; written after the DEPRECATED mark.")
}

fn replaced_by(kind: &str) -> Value {
    string(&format!(
        "With deprecated = true: the name of the {kind} of this pack that replaces it."
    ))
}

fn category(description: &str) -> Value {
    json!({
        "description": description,
        "anyOf": [
            { "type": "integer", "description": "A low-level category id, e.g. 3032." },
            { "type": "string", "description": "A low-level category's exact name, e.g. \"User Account Changed\"." }
        ]
    })
}

fn root(title: &str, description: &str, body: Value) -> Value {
    let mut v = body;
    if let Value::Object(m) = &mut v {
        m.insert("$schema".into(), DRAFT.into());
        m.insert("title".into(), title.into());
        m.insert("description".into(), description.into());
    }
    v
}

// ---- the pack file -----------------------------------------------------------------

fn test_case() -> Value {
    table(
        "A test case for `qrpack test`: events, and what the pack must make of them (docs/testing.md).",
        vec![
            req(
                "name",
                string("The case's name in reports. Names may repeat."),
            ),
            opt(
                "events",
                string(
                    "An event file (NDJSON, a JSON array, {\"records\": […]}, {\"value\": […]} or one object), relative to the folder of the file declaring the test. One of `events`/`event`.",
                ),
            ),
            opt(
                "event",
                string(
                    "One record, inline, as JSON; use a literal string ('''…'''). One of `events`/`event`.",
                ),
            ),
            opt(
                "key",
                string(
                    "Use only the records whose correlationId, CorrelationId, id, Id or properties.id equals this text.",
                ),
            ),
            opt(
                "expect",
                table(
                    "What must hold for every selected record. Without it, the case only checks that its records can be read and simulated.",
                    vec![
                        opt(
                            "event",
                            string(
                                "The pack event (QID name) the record maps to, or \"unknown\" for none.",
                            ),
                        ),
                        opt(
                            "properties",
                            string_map("Each property's exact value, or \"absent\" for no value."),
                        ),
                        opt(
                            "fields",
                            string_map(
                                "Custom DSMs: each parsed field's exact value by [parsing] key (user_name, source_ip, …), or \"absent\".",
                            ),
                        ),
                        opt(
                            "fires",
                            strings("Rules or building blocks that must match."),
                        ),
                        opt(
                            "silent",
                            strings("Rules or building blocks that must not match."),
                        ),
                        opt(
                            "searches",
                            strings("Saved searches that must list the record."),
                        ),
                        opt(
                            "not_searches",
                            strings("Saved searches that must not list the record."),
                        ),
                    ],
                ),
            ),
        ],
    )
}

fn pack_body() -> Value {
    let extension = table(
        "The archive's metadata, written into manifest.txt.",
        vec![
            req(
                "hub_id",
                string(
                    "The extension id (manifest `_id`). Names the archive, keys the lock and seeds every UUID. Do not change it after a release.",
                ),
            ),
            req(
                "name",
                string("Human-readable name (manifest `extension.name`)."),
            ),
            req(
                "version",
                string_with(
                    "The extension version: MAJOR.MINOR.PATCH, three whole numbers.",
                    json!({ "pattern": SEMVER_PATTERN }),
                ),
            ),
            req("author", string("Manifest `authored_by`.")),
            req(
                "author_email",
                string_with(
                    "Manifest `authored_by_email`: an e-mail address.",
                    json!({ "pattern": "@" }),
                ),
            ),
            req(
                "description",
                string("Manifest `extension.long.description`."),
            ),
            req(
                "min_qradar_version",
                string_with(
                    "QRadar's internal version, as /opt/qradar/bin/myver prints it: \"2021.6.0\" is QRadar 7.5.0.",
                    json!({ "pattern": QRADAR_VERSION_PATTERN }),
                ),
            ),
            opt(
                "qradar_version",
                string_with(
                    "Written as the content XML's <qradarversion>; default: min_qradar_version. Not newer than min_qradar_version.",
                    json!({ "pattern": QRADAR_VERSION_PATTERN }),
                ),
            ),
            opt(
                "timestamp",
                string_with(
                    "The build time, a TOML date-time (unquoted), e.g. 2026-11-28T00:00:00Z. SOURCE_DATE_EPOCH overrides it; default 2000-01-01T00:00:00Z.",
                    json!({ "pattern": DATETIME_PATTERN }),
                ),
            ),
            opt(
                "owner",
                string_with(
                    "The QRadar user written as owner of rows; default \"admin\".",
                    json!({ "default": "admin" }),
                ),
            ),
        ],
    );
    let log_source_type = table(
        "The built-in log source type the pack extends, or, with `custom = true`, the custom log source type (custom DSM) the pack defines.",
        vec![
            req(
                "id",
                json!({
                    "type": "integer",
                    "description": "The type id, e.g. 445 for Microsoft Azure Active Directory: a built-in type is below 4000; a custom type (custom = true) 4001 or above.",
                    "minimum": 1
                }),
            ),
            req(
                "name",
                string(
                    "The type's name: as in the rules' DeviceTypeID_Test sentence; for a custom type, the name QRadar shows.",
                ),
            ),
            opt(
                "custom",
                boolean(
                    "The pack defines this log source type (a custom DSM) instead of extending a built-in one; the keys below and [parsing] need it.",
                    false,
                ),
            ),
            opt(
                "internal_name",
                string(
                    "Custom types: devicetypename, a letter then letters, digits or _; default: the name's ASCII letters and digits + \"Custom\".",
                ),
            ),
            opt(
                "description",
                string("Custom types: the log source extension's description."),
            ),
            opt(
                "device_category",
                category(
                    "Custom types: the device category, by id or exact name; default 5 (SW/Integration).",
                ),
            ),
            opt(
                "credibility",
                json!({ "type": "integer", "description": "Custom types: devicetypecredibility, 0–10; default 5.", "minimum": 0, "maximum": 10, "default": 5 }),
            ),
            opt(
                "protocols",
                strings(
                    "Custom types (required there): the protocols the type accepts, by catalogue name or description, e.g. \"Universal Cloud REST API\".",
                ),
            ),
        ],
    );
    let extraction = table(
        "One way to read the field: exactly one of `json` or `regex`.",
        vec![
            opt(
                "json",
                string("A QRadar JSON key path, e.g. '/\"operationName\"'."),
            ),
            opt("regex", string("A Java regex over the record's text.")),
            opt(
                "capture_group",
                json!({ "type": "integer", "description": "With `regex`: the group holding the value; default 1.", "default": 1 }),
            ),
            opt(
                "date_format",
                string(
                    "`device_time` only: the value's Java date format, e.g. \"yyyy-MM-dd'T'HH:mm:ss.SSSX\".",
                ),
            ),
        ],
    );
    let mut parsing_keys: Vec<Key> = crate::custom_dsm::FIELDS
        .iter()
        .map(|(key, field)| Key {
            name: key,
            schema: json!({
                "type": "array",
                "description": format!("Where QRadar's {field} is read: extractions tried in order; the first non-empty value wins."),
                "items": extraction.clone()
            }),
            required: false,
        })
        .collect();
    // `event_name` is required (PK109): the build checks it, the deserializer does not.
    if let Some(k) = parsing_keys.iter_mut().find(|k| k.name == "event_name") {
        k.required = true;
    }
    let parsing = table(
        "Custom DSMs only: for each normalized field QRadar fills, the extractions to try in order (docs/pack-format.md, [parsing]).",
        parsing_keys,
    );
    let dsm = table(
        "How the DSM turns a record into the (event id, event category) pair that QRadar maps to a QID. For a built-in DSM this is an assumption the pack states.",
        vec![
            req(
                "event_id",
                string("Template of the device event id, e.g. \"{operation}-{result}\"."),
            ),
            req(
                "event_category",
                string("Template of the device event category, e.g. \"{category}\"."),
            ),
            opt(
                "fields",
                string_lists(
                    "QRadar JSON key paths from which `qrpack test` reads each placeholder (and time, username, sourceip, destinationip, eventdirection); the first path that yields a value wins.",
                ),
            ),
            opt(
                "defaults",
                string_lists("Values of a placeholder for events whose `match` does not list it."),
            ),
            opt(
                "fallback",
                array_of_tables(
                    "What the DSM looks up when no mapping matches an event (an assumption about the DSM, used by `qrpack test`): one entry per device event category.",
                    table(
                        "For events of `category` that no mapping matches, the DSM looks up (`event_id`, `category`) instead; one of the pack's events must map that pair.",
                        vec![
                            req(
                                "category",
                                string("The device event category, exactly as the DSM reports it."),
                            ),
                            req(
                                "event_id",
                                string(
                                    "The device event id looked up instead, with the same category.",
                                ),
                            ),
                        ],
                    ),
                ),
            ),
        ],
    );
    let qids = table(
        "The range new QID numbers are taken from; default 2000000–2999999.",
        vec![
            req(
                "first",
                json!({ "type": "integer", "description": "Lowest number to allocate.", "minimum": 1 }),
            ),
            req(
                "last",
                json!({ "type": "integer", "description": "Highest number to allocate (not below `first`).", "minimum": 1 }),
            ),
        ],
    );
    let event = table(
        "One QID map entry and the device events mapped to it.",
        vec![
            req(
                "name",
                string_with(
                    "The QID name (qname): how QRadar recognises an installed QID. Renaming it makes a new QID.",
                    json!({ "minLength": 1, "maxLength": 255 }),
                ),
            ),
            opt(
                "description",
                string_with("qdescription.", json!({ "maxLength": 2048 })),
            ),
            req("severity", score("Severity, 0–10.")),
            req(
                "category",
                category("The low-level category: an id or its exact name (docs/catalogue.md)."),
            ),
            opt(
                "qid",
                json!({ "type": "integer", "description": "Pins the QID number; otherwise one is allocated and recorded in qrpack.lock.", "minimum": 1 }),
            ),
            opt(
                "credibility",
                json!({ "type": "integer", "description": "dsmevent credibility of every mapping, 0–10; QRadar's own editors write 0.", "minimum": 0, "maximum": 10, "default": 0 }),
            ),
            req(
                "match",
                string_lists(
                    "Values of the [dsm] placeholders for this event, usually every spelling of the operation. One dsmevent row per combination. Write `match = {}` when every placeholder has a default.",
                ),
            ),
            opt(
                "labels",
                string_map("Free-form labels for selecting events in AQL: {{qids:KEY=VALUE}}."),
            ),
            opt("deprecated", deprecated("event")),
            opt("deprecated_reason", deprecated_reason()),
            opt("replaced_by", replaced_by("event")),
        ],
    );
    let expression = table(
        "One way to extract the property; order matters (rank).",
        vec![
            opt(
                "id",
                string("Pins the expression's id (QRadar's identity for it); default: derived."),
            ),
            opt(
                "json",
                string(
                    "A QRadar JSON key path, e.g. '/\"properties\"/\"result\"'. One of `json`/`regex`.",
                ),
            ),
            opt(
                "regex",
                string("A regular expression with a capture group. One of `json`/`regex`."),
            ),
            opt(
                "capture_group",
                json!({ "type": "integer", "description": "The group holding the value (with `regex` only); default 1.", "default": 1 }),
            ),
            opt(
                "events",
                strings(
                    "Restricts the expression to these pack events (one row per event); default: every event of the log source type.",
                ),
            ),
            opt(
                "sample",
                string("A record the expression must extract from; written base64 into `payload`."),
            ),
            opt(
                "enabled",
                boolean("Whether the expression is enabled.", true),
            ),
        ],
    );
    let property = table(
        "A custom event property and how it is extracted.",
        vec![
            req("name", string("The name AQL uses, e.g. \"Result\".")),
            opt(
                "type",
                json!({
                    "type": "string",
                    "description": "The property type.",
                    "enum": ["string", "number", "ip", "port", "time"],
                    "default": "string"
                }),
            ),
            opt("description", string("The property's description.")),
            opt(
                "date_pattern",
                string("Java date pattern, required for type = \"time\"."),
            ),
            opt(
                "date_locale",
                string("The locale of a time property's dates (languagetag), e.g. \"fr\"."),
            ),
            opt(
                "force_parse",
                boolean(
                    "Parse the property as events arrive, for rules and search indexing (forceparse).",
                    false,
                ),
            ),
            req(
                "expression",
                json!({
                    "type": "array",
                    "description": "How the value is extracted: at least one.",
                    "minItems": 1,
                    "items": expression
                }),
            ),
            opt("deprecated", deprecated("property")),
            opt("deprecated_reason", deprecated_reason()),
            opt("replaced_by", replaced_by("property")),
        ],
    );
    let response = table(
        "What the rule does when it matches: dispatch an event (with a QID of its own).",
        vec![
            opt("offense", boolean("Force offense creation.", true)),
            req("severity", score("Severity of the dispatched event, 0–10.")),
            req(
                "credibility",
                score("Credibility of the dispatched event, 0–10."),
            ),
            req(
                "relevance",
                score("Relevance of the dispatched event, 0–10."),
            ),
            opt(
                "event_name",
                string("Name of the dispatched event and of its QID; default: the rule name."),
            ),
            opt(
                "description",
                string("Description of the dispatched event and of its QID."),
            ),
            opt(
                "category",
                category(
                    "Low-level category of the dispatched event; default 12002 (Single Event Rule Match).",
                ),
            ),
        ],
    );
    let rule = table(
        "A custom rule or building block. Its tests (log source type, events, aql) are combined with AND.",
        vec![
            req(
                "name",
                string("The rule name; building blocks start with \"BB:\" by convention."),
            ),
            opt(
                "building_block",
                boolean("A building block instead of a rule.", false),
            ),
            opt("enabled", boolean("Whether the rule is enabled.", true)),
            opt("notes", string("The rule's notes.")),
            opt(
                "events",
                strings("Adds a QID_Test for these pack events' QIDs."),
            ),
            opt(
                "log_source_type",
                boolean(
                    "Adds a DeviceTypeID_Test for the pack's log source type.",
                    true,
                ),
            ),
            opt(
                "aql",
                string(
                    "Adds an AQL_Test with this filter (a WHERE condition without WHERE); placeholders such as {{qid:NAME}} are replaced.",
                ),
            ),
            opt("group", string("The rule group to file the rule under.")),
            opt("response", response),
            opt(
                "uuid",
                string(
                    "Pins the rule's uuid (QRadar's identity for a rule), so that a renamed rule keeps it; default: derived from hub_id and name.",
                ),
            ),
            opt("deprecated", deprecated("rule")),
            opt("deprecated_reason", deprecated_reason()),
            opt("replaced_by", replaced_by("rule")),
        ],
    );
    let search = table(
        "A saved search, written as searches/<slug>.aql.",
        vec![
            req("name", string("The search name; also names its file.")),
            opt("description", string("Used only in the embedded row.")),
            opt(
                "aql",
                string("The query; placeholders are replaced. One of `aql`/`aql_file`."),
            ),
            opt(
                "aql_file",
                string(
                    "A file holding the query, relative to the pack file's folder. One of `aql`/`aql_file`.",
                ),
            ),
            opt(
                "embed",
                boolean(
                    "Also write an unverified customviewparams row into the archive.",
                    false,
                ),
            ),
        ],
    );
    table(
        "A qrpack pack file: what to add to one of QRadar's built-in log source types (docs/pack-format.md).",
        vec![
            req("extension", extension),
            req("log_source_type", log_source_type),
            opt("dsm", dsm),
            opt("qids", qids),
            opt(
                "event",
                array_of_tables("QID map entries ([[event]]).", event),
            ),
            opt(
                "property",
                array_of_tables("Custom event properties ([[property]]).", property),
            ),
            opt(
                "rule",
                array_of_tables("Rules and building blocks ([[rule]]).", rule),
            ),
            opt(
                "search",
                array_of_tables("Saved searches ([[search]]).", search),
            ),
            opt(
                "test",
                array_of_tables("Test cases for `qrpack test` ([[test]]).", test_case()),
            ),
            opt(
                "test_files",
                strings(
                    "Files holding more [[test]] tables, relative to the pack file's folder. A top-level key: it must come before the first [table].",
                ),
            ),
            opt("parsing", parsing),
        ],
    )
}

/// The pack file's schema.
pub fn pack() -> Value {
    root(
        "qrpack pack file",
        "A qrpack pack file: what to add to one of QRadar's built-in log source types (docs/pack-format.md).",
        pack_body(),
    )
}

/// The schema of a file of test cases (`test_files`).
pub fn tests() -> Value {
    root(
        "qrpack test file",
        "A file of [[test]] cases for `qrpack test`, listed in a pack's test_files (docs/testing.md).",
        table(
            "A file of [[test]] cases.",
            vec![opt(
                "test",
                array_of_tables("Test cases ([[test]]).", test_case()),
            )],
        ),
    )
}

#[cfg(test)]
mod tests {
    //! The schema against the deserializer (`spec.rs`): keys, required keys and types
    //! must agree at every table. See the module comment.

    use super::*;
    use toml::Value as T;

    /// What a document of this kind deserializes with.
    fn parses(which: Which, doc: &toml::Table) -> Result<(), String> {
        let text = toml::to_string(doc).map_err(|e| e.to_string())?;
        match which {
            Which::Pack => toml::from_str::<crate::spec::PackFile>(&text)
                .map(|_| ())
                .map_err(|e| e.message().to_string()),
            Which::Tests => toml::from_str::<crate::spec::TestFile>(&text)
                .map(|_| ())
                .map_err(|e| e.message().to_string()),
        }
    }

    /// A sample value for a schema: every key present, one element per array.
    fn sample(s: &Value) -> T {
        if let Some(any) = s.get("anyOf").and_then(Value::as_array) {
            return sample(&any[0]);
        }
        if let Some(e) = s.get("enum").and_then(Value::as_array) {
            return T::String(e[0].as_str().unwrap_or_default().into());
        }
        match s.get("type").and_then(Value::as_str) {
            Some("object") => {
                let mut t = toml::Table::new();
                if let Some(props) = s.get("properties").and_then(Value::as_object) {
                    for (k, v) in props {
                        t.insert(k.clone(), sample(v));
                    }
                } else if let Some(extra) = s.get("additionalProperties")
                    && extra.is_object()
                {
                    t.insert("free_key".into(), sample(extra));
                }
                T::Table(t)
            }
            Some("array") => T::Array(vec![sample(&s["items"])]),
            Some("integer") => T::Integer(s.get("minimum").and_then(Value::as_i64).unwrap_or(1)),
            Some("boolean") => T::Boolean(true),
            Some("string") => {
                if s.get("pattern").and_then(Value::as_str) == Some(DATETIME_PATTERN) {
                    T::Datetime("2026-11-28T00:00:00Z".parse().expect("datetime"))
                } else {
                    T::String("x".into())
                }
            }
            other => panic!("no sample for schema type {other:?}: {s}"),
        }
    }

    /// Every table of the schema: its path in the sample document (array items are
    /// element 0) and its schema.
    fn tables(s: &Value, path: Vec<String>, out: &mut Vec<(Vec<String>, Value)>) {
        match s.get("type").and_then(Value::as_str) {
            Some("object") => {
                if let Some(props) = s.get("properties").and_then(Value::as_object) {
                    out.push((path.clone(), s.clone()));
                    for (k, v) in props {
                        let mut p = path.clone();
                        p.push(k.clone());
                        tables(v, p, out);
                    }
                }
            }
            Some("array") => {
                let mut p = path;
                p.push("0".into());
                tables(&s["items"], p, out);
            }
            _ => {}
        }
    }

    fn at<'a>(doc: &'a mut toml::Table, path: &[String]) -> &'a mut toml::Table {
        let mut cur = doc;
        for seg in path {
            let next = cur.get_mut(seg).expect("path in sample");
            cur = match next {
                T::Array(a) => match &mut a[0] {
                    T::Table(t) => t,
                    _ => panic!("array of tables expected at {seg}"),
                },
                T::Table(t) => t,
                _ => panic!("table expected at {seg}"),
            };
        }
        cur
    }

    /// Array-of-tables segments are followed by "0" in paths: collapse them for `at`.
    fn table_path(path: &[String]) -> Vec<String> {
        path.iter().filter(|s| *s != "0").cloned().collect()
    }

    /// The deserializer's own list of the keys a table accepts, from its "unknown
    /// field" message.
    fn accepted_keys(message: &str) -> Vec<String> {
        let rest = message
            .split_once(", expected ")
            .map(|(_, r)| r)
            .unwrap_or_else(|| panic!("not an unknown-field message: {message}"));
        let rest = rest.strip_prefix("one of ").unwrap_or(rest);
        let mut keys: Vec<String> = rest
            .split('`')
            .enumerate()
            .filter(|(i, _)| i % 2 == 1)
            .map(|(_, k)| k.to_string())
            .collect();
        keys.sort();
        keys
    }

    fn check(which: Which) {
        let schema = match which {
            Which::Pack => pack(),
            Which::Tests => tests(),
        };
        let T::Table(full) = sample(&schema) else {
            panic!("the root is a table")
        };
        // Every key the schema lists, with a value of the schema's type, is accepted.
        parses(which, &full).unwrap_or_else(|e| {
            panic!(
                "a document with every key of the schema is refused: {e}\nsrc/schema.rs lists a key that src/spec.rs does not accept, or gives it another type"
            )
        });

        let mut all = Vec::new();
        tables(&schema, Vec::new(), &mut all);
        assert!(all.len() > 1 || which == Which::Tests);
        for (path, t) in &all {
            let where_ = if path.is_empty() {
                "the root".to_string()
            } else {
                table_path(path).join(".")
            };
            let props = t["properties"].as_object().expect("properties");
            let mut listed: Vec<String> = props.keys().cloned().collect();
            listed.sort();
            let mut doc = full.clone();
            at(&mut doc, &table_path(path)).insert("qrpack_probe_key".into(), T::Integer(1));
            let probe = parses(which, &doc);
            // `[parsing]` is a table of free keys for the deserializer; the build checks
            // them against custom_dsm::FIELDS (PK107) and requires event_name (PK109). The
            // schema lists exactly those.
            let free_keys = which == Which::Pack && table_path(path) == ["parsing"];
            if free_keys {
                let mut fields: Vec<String> = crate::custom_dsm::FIELDS
                    .iter()
                    .map(|(k, _)| k.to_string())
                    .collect();
                fields.sort();
                assert_eq!(listed, fields, "[parsing] keys are custom_dsm::FIELDS");
                assert!(
                    probe.is_err(),
                    "[parsing] refuses a value that is not a list"
                );
                let mut doc = full.clone();
                at(&mut doc, &table_path(path)).insert(
                    "qrpack_probe_key".into(),
                    at(&mut full.clone(), &table_path(path))["event_name"].clone(),
                );
                assert!(
                    parses(which, &doc).is_ok(),
                    "the deserializer takes any [parsing] key: the build checks them (PK107)"
                );
            } else {
                // Keys: the deserializer's list equals the schema's.
                let err = probe.expect_err("an unknown key is refused");
                assert_eq!(
                    accepted_keys(&err),
                    listed,
                    "keys of {where_}: the deserializer (left) and the schema (right) disagree; update src/schema.rs and run `qrpack schema > docs/schema/{}` (and `qrpack schema tests > docs/schema/{}`)",
                    file_name(Which::Pack),
                    file_name(Which::Tests),
                );
            }
            let required: Vec<&str> = t
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            for (k, ks) in props {
                // Required keys are required, optional ones are not.
                let mut doc = full.clone();
                at(&mut doc, &table_path(path)).remove(k);
                let r = parses(which, &doc);
                if free_keys {
                    assert!(r.is_ok(), "{where_}.{k}: {r:?}");
                } else if required.contains(&k.as_str()) {
                    let e = r.expect_err("a required key");
                    assert!(
                        e.starts_with("missing field"),
                        "{where_}.{k} is required in the schema: {e}"
                    );
                } else {
                    assert!(
                        r.is_ok(),
                        "{where_}.{k} is optional in the schema but the deserializer requires it: {r:?}"
                    );
                }
                // A value of another type is refused.
                let wrong = match ks.get("type").and_then(Value::as_str) {
                    Some("string") => T::Boolean(true),
                    Some("integer") => T::String("1".into()),
                    Some("boolean") => T::String("true".into()),
                    Some("array") | Some("object") => T::Integer(1),
                    // anyOf integer/string (categories): a boolean fits neither.
                    _ => T::Boolean(true),
                };
                let mut doc = full.clone();
                at(&mut doc, &table_path(path)).insert(k.clone(), wrong.clone());
                assert!(
                    parses(which, &doc).is_err(),
                    "{where_}.{k} = {wrong} is accepted by the deserializer, but the schema refuses it"
                );
                // Tables of free keys: a value of another type than the schema's is refused.
                if ks.get("additionalProperties").is_some_and(Value::is_object) {
                    let mut free = toml::Table::new();
                    free.insert("free_key".into(), T::Boolean(true));
                    let mut doc = full.clone();
                    at(&mut doc, &table_path(path)).insert(k.clone(), T::Table(free));
                    assert!(
                        parses(which, &doc).is_err(),
                        "{where_}.{k}.free_key = true is accepted by the deserializer, but the schema refuses it"
                    );
                }
                // Enums: every value the schema lists is accepted, another is not.
                if let Some(values) = ks.get("enum").and_then(Value::as_array) {
                    for v in values {
                        let mut doc = full.clone();
                        at(&mut doc, &table_path(path))
                            .insert(k.clone(), T::String(v.as_str().unwrap_or_default().into()));
                        parses(which, &doc).unwrap_or_else(|e| {
                            panic!("{where_}.{k} = {v} is in the schema but refused: {e}")
                        });
                    }
                    let mut doc = full.clone();
                    at(&mut doc, &table_path(path))
                        .insert(k.clone(), T::String("qrpack-probe".into()));
                    assert!(
                        parses(which, &doc).is_err(),
                        "{where_}.{k}: an unlisted value is accepted"
                    );
                }
            }
        }
    }

    #[test]
    fn pack_schema_agrees_with_the_deserializer() {
        check(Which::Pack);
    }

    #[test]
    fn tests_schema_agrees_with_the_deserializer() {
        check(Which::Tests);
    }

    #[test]
    fn version_patterns_are_the_builds_checks() {
        let semver = regex::Regex::new(SEMVER_PATTERN).expect("regex");
        let qradar = regex::Regex::new(QRADAR_VERSION_PATTERN).expect("regex");
        for v in [
            "1.0.0",
            "10.20.30",
            "1.0",
            "1.0.0.0",
            "1.0.0-rc1",
            "v1.0.0",
            "1..0",
            "",
            "2021.6.0",
            "2019.14.0.20191031163225",
            "7.5.0",
            "1.2.3.4.5",
            "1.2.x",
            "1234567890123456789.0.0",
            " 1.0.0",
            "1.0.0\n",
        ] {
            assert_eq!(
                semver.is_match(v),
                crate::manifest::is_semver(v),
                "SEMVER_PATTERN and is_semver disagree on {v:?}"
            );
            assert_eq!(
                qradar.is_match(v),
                crate::manifest::is_qradar_version(v),
                "QRADAR_VERSION_PATTERN and is_qradar_version disagree on {v:?}"
            );
        }
    }

    #[test]
    fn same_bytes_every_time() {
        assert_eq!(text(Which::Pack), text(Which::Pack));
        assert!(text(Which::Pack).starts_with("{\n  \"$schema\""));
    }
}
