//! `diff`: what changed between two extensions, item by item, the way QRadar sees it.
//!
//! Each side (an archive, or a pack built in memory) is read into a [`Snapshot`]: every
//! item under the identity QRadar recognises it by (format doc §3.2) — a QID by its
//! name, a DSM mapping by its (log source type, event id, event category) triple, a
//! custom property by its name and type, a rule by its uuid, a rule group and a saved
//! search by name — with its content as named fields. Numeric row ids are local to the
//! system that wrote the file and QRadar assigns its own on import, so references made
//! of them (`dsmevent/qidmapid`, `ariel_property_*/ap_id`, `fgroup_link`, the rule XML's
//! `id`) are resolved to the identity they point at before anything is compared, and the
//! ids themselves, row order, column order and build dates are not compared at all.
//! `docs/diff.md` documents the comparison and the output formats.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use base64::Engine;
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use crate::catalogue::Catalogue;
use crate::content::Row;

/// The version of the JSON form (`diff --format json`). Frozen: a change that breaks
/// readers gets a new number.
pub const FORMAT_VERSION: u32 = 1;

/// How qrpack marks a deprecated item in the text QRadar shows (QID description,
/// property description, rule notes); see docs/releases.md.
pub const DEPRECATED_MARK: &str = "DEPRECATED";

/// What a side is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SideKind {
    /// An extension archive (zip, tar.gz) or a bare content XML.
    Archive,
    /// A pack file, built in memory.
    Pack,
}

/// The extension's metadata (manifest and `<qradarversion>`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Meta {
    pub hub_id: String,
    pub name: String,
    pub version: String,
    pub description: String,
    pub author: String,
    pub author_email: String,
    pub min_qradar_version: String,
    pub qradar_version: String,
}

impl Meta {
    pub fn from_manifest(m: &crate::manifest::Manifest, qradar_version: &str) -> Meta {
        let em = &m.doc.extension_manifest;
        let text = |key: &str| -> String {
            em.locale
                .get("en-US")
                .and_then(|l| l.get(key))
                .cloned()
                .unwrap_or_else(|| key.to_string())
        };
        Meta {
            hub_id: m.id.clone(),
            name: text(&em.extension_name),
            version: em.version.clone(),
            description: text(&em.extension_long_description),
            author: em.authored_by.clone(),
            author_email: em.authored_by_email.clone(),
            min_qradar_version: em.min_qradar_version.clone(),
            qradar_version: qradar_version.to_string(),
        }
    }

    fn fields(&self) -> Vec<(&'static str, &str)> {
        vec![
            ("hub id", &self.hub_id),
            ("name", &self.name),
            ("version", &self.version),
            ("description", &self.description),
            ("author", &self.author),
            ("author e-mail", &self.author_email),
            ("min QRadar version", &self.min_qradar_version),
            ("qradarversion", &self.qradar_version),
        ]
    }
}

/// The kinds of items, in the order they are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Events,
    Mappings,
    Properties,
    Rules,
    BuildingBlocks,
    Groups,
    Searches,
    Other,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Events,
        Kind::Mappings,
        Kind::Properties,
        Kind::Rules,
        Kind::BuildingBlocks,
        Kind::Groups,
        Kind::Searches,
        Kind::Other,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Kind::Events => "Events (QIDs)",
            Kind::Mappings => "DSM mappings",
            Kind::Properties => "Custom properties",
            Kind::Rules => "Rules",
            Kind::BuildingBlocks => "Building blocks",
            Kind::Groups => "Rule groups",
            Kind::Searches => "Saved searches",
            Kind::Other => "Log source types, extensions and other rows",
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Kind::Events => "events",
            Kind::Mappings => "mappings",
            Kind::Properties => "properties",
            Kind::Rules => "rules",
            Kind::BuildingBlocks => "building_blocks",
            Kind::Groups => "groups",
            Kind::Searches => "searches",
            Kind::Other => "other",
        }
    }
}

/// One item: its identity, the name people know it by, and its content as named fields
/// (in a fixed order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entity {
    pub id: String,
    pub name: String,
    pub fields: Vec<(String, String)>,
    /// Marked deprecated (docs/releases.md).
    pub deprecated: bool,
    /// A saved search written beside the archive as an `.aql` file only (packs).
    pub file_only: bool,
    /// Where its row stands (`archive!content.xml:line:column`), when read from a file.
    pub origin: Option<String>,
}

impl Entity {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Serialize for Entity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Fields<'a>(&'a [(String, String)]);
        impl Serialize for Fields<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(self.0.len()))?;
                for (k, v) in self.0 {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
        }
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("id", &self.id)?;
        m.serialize_entry("name", &self.name)?;
        m.serialize_entry("deprecated", &self.deprecated)?;
        m.serialize_entry("fields", &Fields(&self.fields))?;
        m.end()
    }
}

/// Everything one side holds, by kind and identity. Rules and building blocks share
/// [`Kind::Rules`] here (a rule may become a building block); the diff splits them.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub input: String,
    pub kind: SideKind,
    pub meta: Meta,
    pub items: BTreeMap<Kind, BTreeMap<String, Entity>>,
    /// Whether the saved searches written as `.aql` files are known: always for a pack,
    /// for an archive when its release folder lists them (SHA256SUMS).
    pub file_searches_known: bool,
    /// What could not be read, for the report.
    pub notes: Vec<String>,
}

impl Snapshot {
    /// A side with nothing in it (the "previous release" of a first release).
    pub fn empty(input: &str) -> Snapshot {
        Snapshot {
            input: input.to_string(),
            kind: SideKind::Archive,
            meta: Meta::default(),
            items: BTreeMap::new(),
            file_searches_known: true,
            notes: Vec::new(),
        }
    }

    pub fn of(&self, kind: Kind) -> impl Iterator<Item = &Entity> {
        self.items.get(&kind).into_iter().flat_map(|m| m.values())
    }

    pub fn get(&self, kind: Kind, id: &str) -> Option<&Entity> {
        self.items.get(&kind).and_then(|m| m.get(id))
    }

    fn insert(&mut self, kind: Kind, mut e: Entity) {
        let m = self.items.entry(kind).or_default();
        if m.contains_key(&e.id) {
            // The same identity twice (validate reports it): keep both, numbered.
            let mut n = 2;
            while m.contains_key(&format!("{} (#{n})", e.id)) {
                n += 1;
            }
            e.id = format!("{} (#{n})", e.id);
        }
        m.insert(e.id.clone(), e);
    }

    /// Read the rows of one content XML (with its metadata) into items. `origins`, when
    /// given, holds the place of each row (same order) for messages.
    pub fn from_rows(
        input: &str,
        kind: SideKind,
        meta: Meta,
        rows: &[Row],
        origins: Option<&[String]>,
        catalogue: &Catalogue,
    ) -> Snapshot {
        let mut s = Snapshot {
            input: input.to_string(),
            kind,
            meta,
            items: BTreeMap::new(),
            file_searches_known: false,
            notes: Vec::new(),
        };
        let of = |t: &'static str| rows.iter().filter(move |r| r.table == t);
        let origin_of: std::collections::HashMap<*const Row, &String> = match origins {
            Some(o) => rows.iter().map(|r| r as *const Row).zip(o.iter()).collect(),
            None => std::collections::HashMap::new(),
        };
        let origin = |r: &Row| origin_of.get(&(r as *const Row)).map(|s| s.to_string());
        let get = |r: &Row, c: &str| r.get(c).unwrap_or("").to_string();
        let int = |r: &Row, c: &str| r.get(c).and_then(|v| v.trim().parse::<i64>().ok());

        // QID map entries: identity = name.
        let qname_of_row: BTreeMap<String, String> = of("qidmap")
            .map(|r| (get(r, "id").trim().to_string(), get(r, "qname")))
            .collect();
        let qname_of_qid: BTreeMap<i64, String> = of("qidmap")
            .filter_map(|r| Some((int(r, "qid")?, get(r, "qname"))))
            .collect();
        let type_names: BTreeMap<i64, String> = of("sensordevicetype")
            .filter_map(|r| Some((int(r, "id")?, get(r, "devicetypename"))))
            .collect();
        let category = |v: &str| -> String {
            match v
                .trim()
                .parse::<u32>()
                .ok()
                .and_then(|c| catalogue.category(c))
            {
                Some(c) => format!("{} {}", v.trim(), c.name),
                None => v.to_string(),
            }
        };
        for r in of("qidmap") {
            let description = get(r, "qdescription");
            let deprecated =
                description.starts_with(DEPRECATED_MARK) || r.get("deprecated") == Some("true");
            let mut fields = vec![
                ("qid".to_string(), get(r, "qid")),
                ("description".to_string(), description),
                ("severity".to_string(), get(r, "severity")),
                (
                    "category".to_string(),
                    category(&get(r, "lowlevelcategory")),
                ),
            ];
            fields.extend(other_columns(
                r,
                &[
                    "id",
                    "uuid",
                    "qid",
                    "qname",
                    "qdescription",
                    "severity",
                    "lowlevelcategory",
                ],
            ));
            s.insert(
                Kind::Events,
                Entity {
                    id: get(r, "qname"),
                    name: get(r, "qname"),
                    fields,
                    deprecated,
                    file_only: false,
                    origin: origin(r),
                },
            );
        }

        // DSM mappings: identity = (log source type, device event id, category).
        for r in of("dsmevent") {
            let (t, id, cat) = (
                get(r, "devicetypeid"),
                get(r, "deviceeventid"),
                get(r, "deviceeventcategory"),
            );
            let label = format!("{id:?} / {cat:?} (log source type {})", t.trim());
            let target = get(r, "qidmapid");
            let event = match qname_of_row.get(target.trim()) {
                Some(n) => n.clone(),
                None => format!("(qidmap row {} — not in this file)", target.trim()),
            };
            let mut fields = vec![
                ("event".to_string(), event),
                ("credibility".to_string(), get(r, "credibility")),
            ];
            fields.extend(other_columns(
                r,
                &[
                    "id",
                    "uuid",
                    "qidmapid",
                    "devicetypeid",
                    "deviceeventid",
                    "deviceeventcategory",
                    "credibility",
                ],
            ));
            s.insert(
                Kind::Mappings,
                Entity {
                    id: label.clone(),
                    name: label,
                    fields,
                    deprecated: false,
                    file_only: false,
                    origin: origin(r),
                },
            );
        }

        // Custom properties: identity = (name, type); expressions (QRadar's identity:
        // the expression id) are fields of their property.
        let mut expressions: BTreeMap<String, Vec<&Row>> = BTreeMap::new();
        for r in rows.iter().filter(|r| {
            r.table == "ariel_property_expression" || r.table == "ariel_property_json_expression"
        }) {
            expressions.entry(get(r, "ap_id")).or_default().push(r);
        }
        let describe_expression = |e: &Row| -> (String, String) {
            let json = e.table == "ariel_property_json_expression";
            let mut parts = Vec::new();
            if json {
                parts.push(format!("json {}", get(e, "expression")));
            } else {
                parts.push(format!(
                    "regex {} (group {})",
                    get(e, "regex"),
                    get(e, "capturegroup")
                ));
            }
            let t = get(e, "devicetypeid");
            parts.push(match t.trim() {
                "-1" | "" => "any log source type".to_string(),
                t => format!("log source type {t}"),
            });
            let q = get(e, "qid");
            parts.push(match q.trim() {
                "-1" | "" => "any QID".to_string(),
                q => match q.parse::<i64>().ok().and_then(|n| qname_of_qid.get(&n)) {
                    Some(n) => format!("QID {q} ({n})"),
                    None => format!("QID {q}"),
                },
            });
            parts.push(format!("rank {}", get(e, "rank").trim()));
            parts.push(if e.get("enabled") == Some("false") {
                "disabled".to_string()
            } else {
                "enabled".to_string()
            });
            if let Some(p) = e.get("payload").filter(|p| !p.trim().is_empty()) {
                parts.push(format!("sample {}", short_digest(p.trim().as_bytes())));
            }
            for (k, v) in other_columns(
                e,
                &[
                    "id",
                    "ap_id",
                    "expression",
                    "regex",
                    "capturegroup",
                    "devicetypeid",
                    "qid",
                    "rank",
                    "enabled",
                    "payload",
                    "sequenceid",
                    "creationdate",
                    "editdate",
                ],
            ) {
                let default = match k.as_str() {
                    "deviceid" | "category" => v.trim() == "-1",
                    "propertybase" => v.ends_with("NormalizedEventProperties$Payload"),
                    _ => false,
                };
                if !default {
                    parts.push(format!("{k}={v}"));
                }
            }
            (format!("expression {}", get(e, "id")), parts.join("; "))
        };
        let mut property_ids = BTreeSet::new();
        for r in of("ariel_regex_property") {
            let pid = get(r, "id");
            property_ids.insert(pid.clone());
            let (name, ptype) = (get(r, "propertyname"), get(r, "propertytype"));
            let description = get(r, "description");
            let deprecated =
                description.starts_with(DEPRECATED_MARK) || r.get("deprecated") == Some("true");
            let mut fields = vec![
                ("id".to_string(), pid.clone()),
                ("description".to_string(), description),
            ];
            fields.extend(other_columns(
                r,
                &[
                    "id",
                    "propertyname",
                    "propertytype",
                    "description",
                    "sequenceid",
                    "creationdate",
                    "editdate",
                ],
            ));
            let mut exprs: Vec<&Row> = expressions.get(&pid).cloned().unwrap_or_default();
            exprs.sort_by_key(|e| (int(e, "rank"), get(e, "id")));
            fields.extend(exprs.into_iter().map(describe_expression));
            s.insert(
                Kind::Properties,
                Entity {
                    id: format!("{name} ({ptype})"),
                    name,
                    fields,
                    deprecated,
                    file_only: false,
                    origin: origin(r),
                },
            );
        }
        for (ap_id, exprs) in &expressions {
            if property_ids.contains(ap_id) {
                continue;
            }
            let label = format!("(property {ap_id} — not in this file)");
            s.insert(
                Kind::Properties,
                Entity {
                    id: label.clone(),
                    name: label,
                    fields: exprs.iter().map(|e| describe_expression(e)).collect(),
                    deprecated: false,
                    file_only: false,
                    origin: exprs.first().and_then(|e| origin(e)),
                },
            );
        }

        // Rule groups: identity = name; parents inside the file by name.
        let group_name: BTreeMap<String, String> = of("fgroup")
            .map(|g| (get(g, "id").trim().to_string(), get(g, "name")))
            .collect();
        for g in of("fgroup") {
            let parent = get(g, "parent_id");
            let parent = match group_name.get(parent.trim()) {
                Some(n) => format!("group {n:?}"),
                None => parent,
            };
            let mut fields = vec![
                ("description".to_string(), get(g, "description")),
                ("parent".to_string(), parent),
            ];
            fields.extend(other_columns(
                g,
                &["id", "name", "description", "parent_id", "modified_date"],
            ));
            s.insert(
                Kind::Groups,
                Entity {
                    id: get(g, "name"),
                    name: get(g, "name"),
                    fields,
                    deprecated: false,
                    file_only: false,
                    origin: origin(g),
                },
            );
        }

        // Rules and building blocks: identity = uuid; the rule XML decoded.
        let mut member_of: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for l in of("fgroup_link") {
            let g = get(l, "fgroup_id");
            let g = group_name
                .get(g.trim())
                .cloned()
                .unwrap_or_else(|| format!("(group row {} — not in this file)", g.trim()));
            member_of
                .entry(get(l, "item_id").trim().to_string())
                .or_default()
                .insert(g);
        }
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
        // A deprecated rule's dispatched QID is deprecated with it.
        let mut dispatched_by_deprecated: Vec<String> = Vec::new();
        for r in of("custom_rule") {
            let uuid = get(r, "uuid");
            let row_id = get(r, "id").trim().to_string();
            let groups: Vec<String> = member_of
                .get(&row_id)
                .map(|g| g.iter().cloned().collect())
                .unwrap_or_default();
            let decoded = b64_text(r.get("rule_data").unwrap_or(""))
                .ok_or_else(|| "rule_data is not base64 of UTF-8".to_string())
                .and_then(|x| crate::rule::parse_rule(&x));
            let mut fields = Vec::new();
            let (name, deprecated) = match decoded {
                Ok(p) => {
                    fields.push(("name".to_string(), p.name.clone()));
                    fields.push((
                        "kind".to_string(),
                        if p.building_block {
                            "building block"
                        } else {
                            "rule"
                        }
                        .to_string(),
                    ));
                    fields.push(("enabled".to_string(), p.enabled.to_string()));
                    fields.push(("notes".to_string(), p.notes.clone()));
                    for (i, t) in p.tests.iter().enumerate() {
                        fields.push((
                            format!("test {}", i + 1),
                            crate::inspect::describe_test(t, &qname_of_qid, &type_name),
                        ));
                    }
                    let response = match &p.response {
                        None => "none".to_string(),
                        Some(m) => {
                            let g = |k: &str| m.get(k).cloned().unwrap_or_default();
                            let qid = g("qid");
                            let qname = qid
                                .parse::<i64>()
                                .ok()
                                .and_then(|q| qname_of_qid.get(&q))
                                .map(|n| format!(" {n:?}"))
                                .unwrap_or_default();
                            let mut extra: Vec<String> = m
                                .iter()
                                .filter(|(k, _)| {
                                    ![
                                        "name",
                                        "qid",
                                        "lowLevelCategory",
                                        "severity",
                                        "credibility",
                                        "relevance",
                                        "forceOffenseCreation",
                                        "description",
                                    ]
                                    .contains(&k.as_str())
                                })
                                .map(|(k, v)| format!("{k}={v}"))
                                .collect();
                            extra.sort();
                            format!(
                                "dispatch {:?} (QID {qid}{qname}, category {}), severity {}, credibility {}, relevance {}, description {:?}{}",
                                g("name"),
                                category(&g("lowLevelCategory")),
                                g("severity"),
                                g("credibility"),
                                g("relevance"),
                                g("description"),
                                if extra.is_empty() {
                                    String::new()
                                } else {
                                    format!("; {}", extra.join(", "))
                                }
                            )
                        }
                    };
                    fields.push(("response".to_string(), response));
                    fields.push(("create offense".to_string(), p.force_offense.to_string()));
                    let deprecated = p.notes.starts_with(DEPRECATED_MARK);
                    if deprecated
                        && let Some(n) = p
                            .response
                            .as_ref()
                            .and_then(|m| m.get("qid")?.trim().parse::<i64>().ok())
                            .and_then(|q| qname_of_qid.get(&q))
                    {
                        dispatched_by_deprecated.push(n.clone());
                    }
                    (p.name, deprecated)
                }
                Err(e) => {
                    fields.push((
                        "rule_data".to_string(),
                        format!(
                            "cannot be decoded ({e}); {}",
                            short_digest(r.get("rule_data").unwrap_or("").as_bytes())
                        ),
                    ));
                    (String::new(), false)
                }
            };
            fields.push(("groups".to_string(), groups.join(", ")));
            fields.extend(other_columns(
                r,
                &["id", "uuid", "rule_data", "mod_date", "create_date"],
            ));
            let id = if uuid.trim().is_empty() {
                format!("(rule without uuid: {name:?})")
            } else {
                uuid.trim().to_string()
            };
            s.insert(
                Kind::Rules,
                Entity {
                    id,
                    name,
                    fields,
                    deprecated,
                    file_only: false,
                    origin: origin(r),
                },
            );
        }

        if let Some(events) = s.items.get_mut(&Kind::Events) {
            for n in &dispatched_by_deprecated {
                if let Some(e) = events.get_mut(n) {
                    e.deprecated = true;
                }
            }
        }

        // Saved searches embedded as rows: identity = name.
        for r in of("customviewparams") {
            let mut fields = vec![
                ("aql".to_string(), get(r, "aql")),
                ("description".to_string(), get(r, "description")),
                ("written as".to_string(), "archive row".to_string()),
            ];
            fields.extend(other_columns(
                r,
                &["id", "cv_id", "itemname", "aql", "description"],
            ));
            s.insert(
                Kind::Searches,
                Entity {
                    id: get(r, "itemname"),
                    name: get(r, "itemname"),
                    fields,
                    deprecated: false,
                    file_only: false,
                    origin: origin(r),
                },
            );
        }

        // Everything else (log source types, extensions, protocols…): identity by the
        // row's name-like column; row ids resolved where another row points at them.
        let ext_names: BTreeMap<String, String> = of("device_ext")
            .map(|r| (get(r, "id").trim().to_string(), get(r, "name")))
            .collect();
        let protocol_names: BTreeMap<String, String> = of("sensorprotocol")
            .map(|r| (get(r, "id").trim().to_string(), get(r, "protocolname")))
            .collect();
        const HANDLED: &[&str] = &[
            "qidmap",
            "dsmevent",
            "ariel_regex_property",
            "ariel_property_expression",
            "ariel_property_json_expression",
            "fgroup",
            "fgroup_link",
            "custom_rule",
            "customviewparams",
        ];
        for r in rows.iter().filter(|r| !HANDLED.contains(&r.table.as_str())) {
            let t = r.table.as_str();
            let (key, skip): (String, Vec<&str>) = match t {
                "sensordevicetype" => (get(r, "devicetypename"), vec!["devicetypename"]),
                "sensordevicecategory" => (get(r, "categoryname"), vec!["categoryname"]),
                "sensorprotocol" => (get(r, "protocolname"), vec!["protocolname"]),
                "device_ext" => (get(r, "name"), vec!["name"]),
                "content_version" => (get(r, "identifier"), vec!["identifier"]),
                "sensordeviceprotocols" => {
                    let ty = int(r, "sensordevicetypeid");
                    let ty = match ty.and_then(|i| type_names.get(&i)) {
                        Some(n) => n.clone(),
                        None => get(r, "sensordevicetypeid"),
                    };
                    let p = get(r, "sensorprotocolid");
                    let p = protocol_names.get(p.trim()).cloned().unwrap_or(p);
                    (
                        format!("{ty} ↔ {p}"),
                        vec!["sensordevicetypeid", "sensorprotocolid"],
                    )
                }
                _ => match r.get("uuid").or_else(|| r.get("name")) {
                    Some(k) if !k.trim().is_empty() => (k.to_string(), vec![]),
                    _ => (
                        other_columns(r, &["id"])
                            .into_iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        vec![],
                    ),
                },
            };
            let mut fields = Vec::new();
            if t == "device_ext" {
                // The parsing in words, one line per field: what a change of the
                // extension means, where the XML digest only says that it changed.
                let parsing = match b64_text(r.get("xml").unwrap_or(""))
                    .ok_or_else(|| "not base64 of UTF-8".to_string())
                    .and_then(|x| crate::device_ext::parse(&x))
                {
                    Ok(ext) => crate::inspect::describe_extension(&ext, &type_name).join("\n"),
                    Err(e) => format!("cannot be read: {e}"),
                };
                fields.push(("parsing".to_string(), parsing));
            }
            let mut ignore = vec!["id"];
            ignore.extend(skip);
            for (k, v) in other_columns(r, &ignore) {
                let v = match (t, k.as_str()) {
                    ("sensordevicetype", "extension_id") => match ext_names.get(v.trim()) {
                        Some(n) => format!("extension {n:?}"),
                        None => v,
                    },
                    ("device_ext", "xml") => match b64_text(&v) {
                        Some(x) => {
                            format!("{} bytes of XML, {}", x.len(), short_digest(x.as_bytes()))
                        }
                        None => format!("not base64 of UTF-8, {}", short_digest(v.as_bytes())),
                    },
                    _ => v,
                };
                fields.push((k, v));
            }
            let id = format!("{t}: {key}");
            s.insert(
                Kind::Other,
                Entity {
                    id: id.clone(),
                    name: id,
                    fields,
                    deprecated: false,
                    file_only: false,
                    origin: origin(r),
                },
            );
        }
        s
    }

    /// Add the saved searches written as `.aql` files beside the archive: (file path
    /// relative to the output folder, query). Their identity is the file (the name a
    /// release folder shows); a search embedded as a row keeps its row instead.
    pub fn add_file_searches<'a>(&mut self, files: impl IntoIterator<Item = (&'a str, &'a str)>) {
        self.file_searches_known = true;
        let embedded: BTreeSet<String> = self
            .of(Kind::Searches)
            .map(|e| format!("searches/{}.aql", crate::archive::slug_file_name(&e.name)))
            .collect();
        for (file, aql) in files {
            if embedded.contains(file) {
                continue;
            }
            let aql = aql.strip_suffix('\n').unwrap_or(aql).to_string();
            self.insert(
                Kind::Searches,
                Entity {
                    id: file.to_string(),
                    name: file.to_string(),
                    fields: vec![("aql".to_string(), aql)],
                    deprecated: false,
                    file_only: true,
                    origin: None,
                },
            );
        }
    }

    /// Drop the searches written only as files (to compare with a side whose files are
    /// not known).
    fn without_file_searches(&self) -> Snapshot {
        let mut s = self.clone();
        if let Some(m) = s.items.get_mut(&Kind::Searches) {
            m.retain(|_, e| !e.file_only);
        }
        s
    }

    fn has_file_searches(&self) -> bool {
        self.of(Kind::Searches).any(|e| e.file_only)
    }
}

/// Columns not listed in `skip`, sorted by name (column order carries no meaning).
fn other_columns(r: &Row, skip: &[&str]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = r
        .columns
        .iter()
        .filter(|(n, _)| !skip.contains(&n.as_str()))
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect();
    out.sort();
    out
}

fn b64_text(s: &str) -> Option<String> {
    let cleaned: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cleaned)
        .ok()?;
    String::from_utf8(bytes).ok()
}

/// The first 12 hex digits of a SHA-256: enough to tell two blobs apart in a report.
fn short_digest(bytes: &[u8]) -> String {
    let hex = crate::archive::sha256_hex(bytes);
    format!("sha256 {}", &hex[..12])
}

/// One field that differs: absent on a side is `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    pub field: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

/// An item present on both sides whose fields differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Changed {
    pub id: String,
    /// The name on the new side.
    pub name: String,
    /// The name on the old side, when it differs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_name: Option<String>,
    /// Deprecated on the new side and not on the old.
    pub deprecated: bool,
    pub fields: Vec<FieldChange>,
}

/// The differences of one kind of item.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Section {
    pub added: Vec<Entity>,
    pub removed: Vec<Entity>,
    pub changed: Vec<Changed>,
}

impl Section {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// A side as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SideView {
    pub input: String,
    pub kind: SideKind,
    pub hub_id: String,
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub added: usize,
    pub removed: usize,
    pub changed: usize,
    /// Extension metadata fields that differ (version, name…).
    pub extension: usize,
}

/// What differs between two sides (`diff --format json` serialises this).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diff {
    pub format: &'static str,
    pub version: u32,
    pub old: SideView,
    pub new: SideView,
    pub identical: bool,
    pub summary: Summary,
    /// What was not compared, and why.
    pub notes: Vec<String>,
    pub extension: Vec<FieldChange>,
    #[serde(serialize_with = "ser_changes")]
    pub changes: BTreeMap<Kind, Section>,
}

fn ser_changes<S: Serializer>(c: &BTreeMap<Kind, Section>, s: S) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(Some(Kind::ALL.len()))?;
    for k in Kind::ALL {
        m.serialize_entry(k.key(), c.get(&k).unwrap_or(&Section::default()))?;
    }
    m.end()
}

impl Diff {
    pub fn section(&self, k: Kind) -> Option<&Section> {
        self.changes.get(&k).filter(|s| !s.is_empty())
    }

    /// Whether anything but the version differs: what the release check calls a content
    /// change.
    pub fn content_changed(&self) -> bool {
        self.changes.values().any(|s| !s.is_empty())
            || self.extension.iter().any(|f| f.field != "version")
    }
}

fn view(s: &Snapshot) -> SideView {
    SideView {
        input: s.input.clone(),
        kind: s.kind,
        hub_id: s.meta.hub_id.clone(),
        name: s.meta.name.clone(),
        version: s.meta.version.clone(),
    }
}

fn field_changes(old: &[(String, String)], new: &[(String, String)]) -> Vec<FieldChange> {
    let o: BTreeMap<&str, &str> = old.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let n: BTreeMap<&str, &str> = new.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut names: Vec<&str> = old.iter().map(|(k, _)| k.as_str()).collect();
    for (k, _) in new {
        if !o.contains_key(k.as_str()) {
            names.push(k);
        }
    }
    let mut out = Vec::new();
    for k in names {
        let (a, b) = (o.get(k), n.get(k));
        if a != b {
            out.push(FieldChange {
                field: k.to_string(),
                old: a.map(|s| s.to_string()),
                new: b.map(|s| s.to_string()),
            });
        }
    }
    out
}

/// Compare two sides.
pub fn diff(old: &Snapshot, new: &Snapshot) -> Diff {
    let mut notes: Vec<String> = old.notes.iter().chain(&new.notes).cloned().collect();
    // Cloned only when searches must be left out.
    let (old, new): (Cow<Snapshot>, Cow<Snapshot>) = if old.file_searches_known
        != new.file_searches_known
        && (old.has_file_searches() || new.has_file_searches())
    {
        let unknown = if old.file_searches_known { new } else { old };
        notes.push(format!(
            "saved searches written as .aql files are not compared: {} has none beside it (no SHA256SUMS listing it)",
            unknown.input
        ));
        (
            Cow::Owned(old.without_file_searches()),
            Cow::Owned(new.without_file_searches()),
        )
    } else {
        (Cow::Borrowed(old), Cow::Borrowed(new))
    };
    let (old, new) = (old.as_ref(), new.as_ref());
    let extension = old
        .meta
        .fields()
        .into_iter()
        .zip(new.meta.fields())
        .filter(|((_, a), (_, b))| a != b)
        .map(|((k, a), (_, b))| FieldChange {
            field: k.to_string(),
            old: Some(a.to_string()),
            new: Some(b.to_string()),
        })
        .collect();
    let mut changes: BTreeMap<Kind, Section> = BTreeMap::new();
    let empty = BTreeMap::new();
    for kind in Kind::ALL {
        if kind == Kind::BuildingBlocks {
            continue;
        }
        let (a, b) = (
            old.items.get(&kind).unwrap_or(&empty),
            new.items.get(&kind).unwrap_or(&empty),
        );
        // Rules and building blocks: reported under what the item is (on the new side
        // when it is there).
        let section_of = |e: &Entity| -> Kind {
            if kind == Kind::Rules && e.field("kind") == Some("building block") {
                Kind::BuildingBlocks
            } else {
                kind
            }
        };
        for (id, e) in a {
            match b.get(id) {
                None => changes
                    .entry(section_of(e))
                    .or_default()
                    .removed
                    .push(e.clone()),
                Some(n) => {
                    let fields = field_changes(&e.fields, &n.fields);
                    if !fields.is_empty() || e.name != n.name {
                        changes
                            .entry(section_of(n))
                            .or_default()
                            .changed
                            .push(Changed {
                                id: id.clone(),
                                name: n.name.clone(),
                                old_name: (e.name != n.name).then(|| e.name.clone()),
                                deprecated: n.deprecated && !e.deprecated,
                                fields,
                            });
                    }
                }
            }
        }
        for (id, e) in b {
            if !a.contains_key(id) {
                changes
                    .entry(section_of(e))
                    .or_default()
                    .added
                    .push(e.clone());
            }
        }
    }
    changes.retain(|_, s| !s.is_empty());
    let mut summary = Summary {
        extension: old
            .meta
            .fields()
            .iter()
            .zip(new.meta.fields())
            .filter(|((_, a), (_, b))| a != b)
            .count(),
        ..Summary::default()
    };
    for s in changes.values() {
        summary.added += s.added.len();
        summary.removed += s.removed.len();
        summary.changed += s.changed.len();
    }
    Diff {
        format: "qrpack-diff",
        version: FORMAT_VERSION,
        old: view(old),
        new: view(new),
        identical: summary == Summary::default(),
        summary,
        notes,
        extension,
        changes,
    }
}

// ---------------------------------------------------------------------------------
// Rendering

fn plural(n: usize, w: &str) -> String {
    format!("{n} {w}{}", if n == 1 { "" } else { "s" })
}

fn side_line(s: &SideView) -> String {
    let kind = match s.kind {
        SideKind::Archive => "archive",
        SideKind::Pack => "pack",
    };
    if s.name.is_empty() && s.version.is_empty() {
        format!("{} ({kind})", s.input)
    } else {
        format!("{} ({kind}: {} {})", s.input, s.name, s.version)
    }
}

/// A value on one line for a summary: quoted, and cut when long.
fn short(v: &str, max: usize) -> String {
    let one: String = v.replace('\n', "⏎");
    if one.chars().count() > max {
        let cut: String = one.chars().take(max).collect();
        format!("{cut:?}…")
    } else {
        format!("{one:?}")
    }
}

fn opt_short(v: &Option<String>, max: usize) -> String {
    match v {
        Some(s) => short(s, max),
        None => "(none)".to_string(),
    }
}

/// The human form.
pub fn render_human(d: &Diff) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "old: {}", side_line(&d.old));
    let _ = writeln!(o, "new: {}", side_line(&d.new));
    for n in &d.notes {
        let _ = writeln!(o, "note: {n}");
    }
    if !d.extension.is_empty() {
        let _ = writeln!(o, "\nExtension");
        for f in &d.extension {
            human_field(&mut o, f);
        }
    }
    for k in Kind::ALL {
        let Some(s) = d.section(k) else { continue };
        let mut counts = Vec::new();
        for (n, w) in [
            (s.added.len(), "added"),
            (s.removed.len(), "removed"),
            (s.changed.len(), "changed"),
        ] {
            if n > 0 {
                counts.push(format!("{n} {w}"));
            }
        }
        let _ = writeln!(o, "\n{} ({})", k.title(), counts.join(", "));
        for e in &s.added {
            let _ = writeln!(o, "  + {}{}", label(k, &shown_name(k, e)), brief(k, e));
        }
        for e in &s.removed {
            let _ = writeln!(o, "  - {}{}", label(k, &shown_name(k, e)), brief(k, e));
        }
        for c in &s.changed {
            let renamed = match &c.old_name {
                Some(old) => format!(" (was {})", label(k, old)),
                None => String::new(),
            };
            let dep = if c.deprecated {
                " [now deprecated]"
            } else {
                ""
            };
            let _ = writeln!(o, "  ~ {}{renamed}{dep}", label(k, &c.name));
            for f in &c.fields {
                human_field(&mut o, f);
            }
        }
    }
    let _ = writeln!(o);
    if d.identical {
        let _ = writeln!(o, "no differences");
    } else {
        let parts = [
            format!("{} added", d.summary.added),
            format!("{} removed", d.summary.removed),
            format!("{} changed", d.summary.changed),
        ];
        let mut line = parts.join(", ");
        if d.summary.extension > 0 {
            line.push_str(&format!(
                "; extension metadata: {} changed",
                plural(d.summary.extension, "field")
            ));
        }
        let _ = writeln!(o, "{line}");
    }
    o
}

fn label(k: Kind, name: &str) -> String {
    match k {
        Kind::Mappings | Kind::Other => name.to_string(),
        _ => format!("{name:?}"),
    }
}

/// The name an item is listed under: a property with its type (its identity).
fn shown_name(k: Kind, e: &Entity) -> String {
    match k {
        Kind::Properties => e.id.clone(),
        _ => e.name.clone(),
    }
}

/// The few fields that identify an added or removed item at a glance.
fn brief(k: Kind, e: &Entity) -> String {
    let f = |n: &str| e.field(n).unwrap_or("");
    let s = match k {
        Kind::Events => format!(
            "QID {}, severity {}, category {}",
            f("qid"),
            f("severity"),
            f("category")
        ),
        Kind::Mappings => format!("maps to {:?}", f("event")),
        Kind::Properties => {
            let n = e
                .fields
                .iter()
                .filter(|(k, _)| k.starts_with("expression "))
                .count();
            plural(n, "expression")
        }
        Kind::Rules | Kind::BuildingBlocks => {
            let mut s = format!("uuid {}", e.id);
            if f("enabled") == "false" {
                s.push_str(", disabled");
            }
            s
        }
        Kind::Searches => f("written as").to_string(),
        _ => String::new(),
    };
    let mut s = s;
    if e.deprecated {
        if !s.is_empty() {
            s.push_str(", ");
        }
        s.push_str("deprecated");
    }
    if s.is_empty() { s } else { format!("  [{s}]") }
}

/// How a change is best shown: old → new, or the lines (or list items) that differ.
enum Shape {
    Plain,
    /// Removed ('-') and added ('+') lines of a multi-line value.
    Lines(Vec<(char, String)>),
    /// Removed and added items of a list ("the event QID is one of A, B").
    List(Vec<(char, String)>),
}

fn shape(f: &FieldChange) -> Shape {
    use similar::{Algorithm, ChangeTag, TextDiff, capture_diff_slices};
    let (Some(a), Some(b)) = (f.old.as_deref(), f.new.as_deref()) else {
        return Shape::Plain;
    };
    let sign = |t: ChangeTag| if t == ChangeTag::Delete { '-' } else { '+' };
    if a.contains('\n') || b.contains('\n') {
        let d = TextDiff::from_lines(a, b);
        return Shape::Lines(
            d.iter_all_changes()
                .filter(|c| c.tag() != ChangeTag::Equal)
                .map(|c| {
                    (
                        sign(c.tag()),
                        c.value().trim_end_matches(['\n', '\r']).to_string(),
                    )
                })
                .collect(),
        );
    }
    // "… is one of A, B, C" (a rule test in words): the items that differ.
    if let (Some((ha, la)), Some((hb, lb))) = (a.split_once(" one of "), b.split_once(" one of "))
        && ha == hb
    {
        let (ta, tb): (Vec<&str>, Vec<&str>) = (la.split(", ").collect(), lb.split(", ").collect());
        let mut items = Vec::new();
        for op in capture_diff_slices(Algorithm::Myers, &ta, &tb) {
            for c in op.iter_changes(&ta, &tb) {
                if c.tag() != ChangeTag::Equal {
                    items.push((sign(c.tag()), c.value().to_string()));
                }
            }
        }
        return Shape::List(items);
    }
    Shape::Plain
}

fn human_field(o: &mut String, f: &FieldChange) {
    match shape(f) {
        Shape::Plain => {
            let _ = writeln!(
                o,
                "      {}: {} → {}",
                f.field,
                opt_short(&f.old, 10_000),
                opt_short(&f.new, 10_000)
            );
        }
        Shape::Lines(items) | Shape::List(items) => {
            let _ = writeln!(o, "      {}:", f.field);
            for (sign, text) in items {
                let _ = writeln!(o, "        {sign} {text}");
            }
        }
    }
}

/// The part of a deprecated item's text that says why: the mark, the reason and the
/// replacement, without the original text that follows it.
fn deprecation_reason(c: &Changed) -> Option<String> {
    let f = c.fields.iter().find(|f| {
        f.new
            .as_deref()
            .is_some_and(|n| n.starts_with(DEPRECATED_MARK))
            && !f
                .old
                .as_deref()
                .is_some_and(|o| o.starts_with(DEPRECATED_MARK))
    })?;
    let new = f.new.as_deref()?;
    let old = f.old.as_deref().unwrap_or("");
    let head = if old.is_empty() {
        new
    } else {
        new.strip_suffix(old).unwrap_or(new)
    };
    let reason = head
        .trim_end()
        .strip_prefix(DEPRECATED_MARK)?
        .trim_start_matches(':')
        .trim()
        .trim_end_matches('.')
        .to_string();
    Some(reason)
}

/// A field change in one Markdown line.
fn md_field(f: &FieldChange) -> String {
    let name = md_text(&f.field);
    let one = |v: &str| -> String {
        let n = v.chars().count();
        if n > 160 {
            format!("{}…", md_code(&v.chars().take(160).collect::<String>()))
        } else if v.is_empty() {
            "(empty)".to_string()
        } else {
            md_code(v)
        }
    };
    match shape(f) {
        Shape::Plain => match (&f.old, &f.new) {
            (None, Some(n)) => format!("{name}: added {}", one(n)),
            (Some(_), None) => format!("{name}: removed"),
            (Some(o), Some(n)) if o.chars().count() + n.chars().count() > 100 => {
                format!("{name}: now {}", one(n))
            }
            (o, n) => format!("{name}: {} → {}", md_value(o), md_value(n)),
        },
        Shape::Lines(items) | Shape::List(items) => {
            let mut parts = Vec::new();
            let removed: Vec<String> = items
                .iter()
                .filter(|(s, t)| *s == '-' && !t.trim().is_empty())
                .map(|(_, t)| one(t))
                .collect();
            let added: Vec<String> = items
                .iter()
                .filter(|(s, t)| *s == '+' && !t.trim().is_empty())
                .map(|(_, t)| one(t))
                .collect();
            if !removed.is_empty() {
                parts.push(format!("removed {}", removed.join(", ")));
            }
            if !added.is_empty() {
                parts.push(format!("added {}", added.join(", ")));
            }
            if parts.is_empty() {
                parts.push("blank lines changed".to_string());
            }
            format!("{name}: {}", parts.join("; "))
        }
    }
}

/// Inline code in Markdown, whatever backticks the text holds.
pub fn md_code(s: &str) -> String {
    let one = s.replace('\n', " ");
    let mut longest = 0;
    let mut run = 0;
    for c in one.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat(longest + 1);
    if longest > 0 || one.starts_with(' ') || one.ends_with(' ') {
        format!("{fence} {one} {fence}")
    } else {
        format!("{fence}{one}{fence}")
    }
}

/// Markdown text (outside code): characters that would format are escaped.
fn md_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.replace('\n', " ").chars() {
        if "\\`*_[]<>#|~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn md_value(v: &Option<String>) -> String {
    match v {
        None => "(none)".to_string(),
        Some(s) if s.is_empty() => "(empty)".to_string(),
        Some(s) if s.contains('\n') || s.chars().count() > 100 => {
            format!("({} characters)", s.chars().count())
        }
        Some(s) => md_code(s),
    }
}

/// The release-notes form: one `heading`-level section per kind of item that changed.
pub fn render_markdown(d: &Diff, heading: usize) -> String {
    let h = "#".repeat(heading.clamp(1, 6));
    let mut o = String::new();
    if d.identical {
        let _ = writeln!(o, "No changes.");
        return o;
    }
    for n in &d.notes {
        let _ = writeln!(o, "> Note: {}\n", md_text(n));
    }
    if !d.extension.is_empty() {
        let _ = writeln!(o, "{h} Extension\n");
        for f in &d.extension {
            let _ = writeln!(
                o,
                "- {}: {} → {}",
                md_text(&f.field),
                md_value(&f.old),
                md_value(&f.new)
            );
        }
        let _ = writeln!(o);
    }
    for k in Kind::ALL {
        let Some(s) = d.section(k) else { continue };
        let _ = writeln!(o, "{h} {}\n", k.title());
        for e in &s.added {
            let b = brief(k, e);
            let b = b.trim().trim_start_matches('[').trim_end_matches(']');
            let _ = writeln!(
                o,
                "- **Added** {}{}",
                md_code(&shown_name(k, e)),
                if b.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", md_text(b))
                }
            );
        }
        for c in &s.changed {
            let verb = if c.deprecated {
                "Deprecated"
            } else {
                "Changed"
            };
            let renamed = match &c.old_name {
                Some(old) => format!(" (renamed from {})", md_code(old)),
                None => String::new(),
            };
            let mut fields: Vec<String> = Vec::new();
            let reason = if c.deprecated {
                deprecation_reason(c)
            } else {
                None
            };
            if let Some(r) = &reason
                && !r.is_empty()
            {
                fields.push(md_text(r));
            }
            for f in &c.fields {
                // The mark itself, and the rule switched off with it, are the deprecation.
                let marked = f
                    .new
                    .as_deref()
                    .is_some_and(|n| n.starts_with(DEPRECATED_MARK));
                let disabled = f.field == "enabled" && f.new.as_deref() == Some("false");
                if reason.is_some() && (marked || disabled) {
                    continue;
                }
                fields.push(md_field(f));
            }
            let _ = writeln!(
                o,
                "- **{verb}** {}{renamed}{}",
                md_code(&c.name),
                if fields.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", fields.join("; "))
                }
            );
        }
        for e in &s.removed {
            let b = brief(k, e);
            let b = b.trim().trim_start_matches('[').trim_end_matches(']');
            let _ = writeln!(
                o,
                "- **Removed** {}{}",
                md_code(&shown_name(k, e)),
                if b.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", md_text(b))
                }
            );
        }
        let _ = writeln!(o);
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(table: &str, cols: &[(&str, &str)]) -> Row {
        Row {
            table: table.into(),
            columns: cols
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn snap(rows: &[Row]) -> Snapshot {
        Snapshot::from_rows(
            "x",
            SideKind::Archive,
            Meta::default(),
            rows,
            None,
            Catalogue::builtin(),
        )
    }

    #[test]
    fn references_are_resolved_before_comparing() {
        let a = snap(&[
            row("qidmap", &[("id", "1"), ("qid", "2000000"), ("qname", "A")]),
            row("qidmap", &[("id", "2"), ("qid", "2000001"), ("qname", "B")]),
            row(
                "dsmevent",
                &[
                    ("id", "1"),
                    ("devicetypeid", "445"),
                    ("deviceeventid", "x"),
                    ("deviceeventcategory", "c"),
                    ("qidmapid", "2"),
                ],
            ),
        ]);
        // Same content, other row ids, other order, other column order.
        let b = snap(&[
            row(
                "dsmevent",
                &[
                    ("qidmapid", "70"),
                    ("id", "9"),
                    ("deviceeventcategory", "c"),
                    ("devicetypeid", "445"),
                    ("deviceeventid", "x"),
                ],
            ),
            row(
                "qidmap",
                &[("qname", "B"), ("id", "70"), ("qid", "2000001")],
            ),
            row(
                "qidmap",
                &[("id", "71"), ("qid", "2000000"), ("qname", "A")],
            ),
        ]);
        let d = diff(&a, &b);
        assert!(d.identical, "{}", render_human(&d));
        // The mapping moves to A: a change of its `event` field, named.
        let c = snap(&[
            row("qidmap", &[("id", "1"), ("qid", "2000000"), ("qname", "A")]),
            row("qidmap", &[("id", "2"), ("qid", "2000001"), ("qname", "B")]),
            row(
                "dsmevent",
                &[
                    ("id", "1"),
                    ("devicetypeid", "445"),
                    ("deviceeventid", "x"),
                    ("deviceeventcategory", "c"),
                    ("qidmapid", "1"),
                ],
            ),
        ]);
        let d = diff(&a, &c);
        let m = d.section(Kind::Mappings).expect("mapping changed");
        assert_eq!(m.changed.len(), 1);
        assert_eq!(
            m.changed[0].fields,
            vec![FieldChange {
                field: "event".into(),
                old: Some("B".into()),
                new: Some("A".into())
            }]
        );
        assert!(d.section(Kind::Events).is_none());
    }

    #[test]
    fn markdown_code_survives_backticks() {
        assert_eq!(md_code("a"), "`a`");
        assert_eq!(md_code("a`b"), "`` a`b ``");
        assert_eq!(md_text("a*b_[c]"), "a\\*b\\_\\[c\\]");
    }
}
