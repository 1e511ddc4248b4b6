//! Custom DSMs: a log source type the pack defines itself, with its own parsing, written
//! as QRadar's DSM Editor exports it (`custom-json-dsm-teleport.zip`): a
//! `sensordevicetype` row (a custom id, `devicetypeoverride` 4000), its
//! `sensordevicecategory`, one `sensordeviceprotocols` row per accepted protocol, and a
//! `device_ext` row whose `xml` is base64 of the `<device-extension>` document (one
//! pattern per extraction, one matcher per pattern, and an `event-match-multiple` that
//! sends every record through the match group).
//!
//! Events, mappings, properties and rules are then bound to the custom type id exactly as
//! they are to a built-in type: `build` hands that id to the rest of the pipeline.
//!
//! What is **[real]** and what is a **[guess]** is said at each constant; see also
//! `docs/pack-format.md` (the `[parsing]` table) and `docs/output-format.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use base64::Engine;
use uuid::Uuid;

use crate::catalogue::Catalogue;
use crate::content::{DeviceCategory, DeviceExt, DeviceProtocol, DeviceType, Extension};
use crate::device_ext::{DeviceExtension, EventMatch, MatchGroup, Matcher, Pattern};
use crate::diag::{Diagnostic, Location};
use crate::spec::{IdOrName, PackFile, ParseRule};

/// The normalized fields a custom DSM can fill: the pack's `[parsing]` key and QRadar's
/// matcher field name. **[real]** (seen in exports): EventName, EventCategory, DeviceTime,
/// SourceIp, SourcePort, SourceIpPreNAT, SourcePortPreNAT, UserName. **[ibm]** (IBM's
/// list of matcher field names): the other NAT variants, SourceMAC, the destination
/// fields and Protocol. The order is the order patterns and matchers are written in.
pub const FIELDS: &[(&str, &str)] = &[
    ("event_name", "EventName"),
    ("event_category", "EventCategory"),
    ("device_time", "DeviceTime"),
    ("source_ip", "SourceIp"),
    ("source_port", "SourcePort"),
    ("source_ip_pre_nat", "SourceIpPreNAT"),
    ("source_ip_post_nat", "SourceIpPostNAT"),
    ("source_port_pre_nat", "SourcePortPreNAT"),
    ("source_port_post_nat", "SourcePortPostNAT"),
    ("source_mac", "SourceMAC"),
    ("destination_ip", "DestinationIp"),
    ("destination_port", "DestinationPort"),
    ("destination_ip_pre_nat", "DestinationIpPreNAT"),
    ("destination_ip_post_nat", "DestinationIpPostNAT"),
    ("destination_port_pre_nat", "DestinationPortPreNAT"),
    ("destination_port_post_nat", "DestinationPortPostNAT"),
    ("destination_mac", "DestinationMAC"),
    ("protocol", "Protocol"),
    ("user_name", "UserName"),
];

/// QRadar's field name for a `[parsing]` key.
pub fn qradar_field(key: &str) -> Option<&'static str> {
    FIELDS.iter().find(|(k, _)| *k == key).map(|(_, q)| *q)
}

/// The `[parsing]` key of a QRadar field name.
pub fn pack_key(field: &str) -> Option<&'static str> {
    FIELDS.iter().find(|(_, q)| *q == field).map(|(k, _)| *k)
}

/// The lowest custom log source type id. **[real]** custom types seen: 4001, 4003, both
/// with `devicetypeoverride` 4000 (`IBMCustomDSM`, the base of custom types). **[guess]**
/// the id in the file is a reference local to the file that QRadar re-assigns on import.
pub const CUSTOM_TYPE_MIN: i64 = 4001;
/// The highest id a QRadar integer column holds.
pub const CUSTOM_TYPE_MAX: i64 = i32::MAX as i64;
/// The pattern every record matches, sent through the match group **[real]**.
pub const ALL_EVENTS: &str = "AllEvents";
/// Default device category: 5 `SW/Integration`, the DSM Editor's **[real]**.
pub const DEFAULT_DEVICE_CATEGORY: i64 = 5;
/// Default `devicetypecredibility` **[real]** (the DSM Editor's type has 5).
pub const DEFAULT_CREDIBILITY: i64 = 5;

/// A resolved custom DSM: what the simulator and the build report need.
#[derive(Debug, Clone)]
pub struct CustomDsm {
    pub type_id: i64,
    /// `devicetypename`.
    pub internal_name: String,
    /// The `<device-extension>` written into `device_ext/xml`.
    pub extension: DeviceExtension,
}

/// Does the pack define a custom log source type (`custom = true`)?
pub fn is_custom(pack: &PackFile) -> bool {
    pack.log_source_type
        .get_ref()
        .custom
        .as_ref()
        .is_some_and(|c| *c.get_ref())
}

/// The `[dsm]` templates a custom type uses when the pack has no `[dsm]`: QRadar looks the
/// parsed EventName and EventCategory up in the DSM mappings **[real]**.
pub const DEFAULT_EVENT_ID_TEMPLATE: &str = "{event_name}";
pub const DEFAULT_EVENT_CATEGORY_TEMPLATE: &str = "{event_category}";

struct Cx<'a> {
    file: &'a str,
    text: &'a str,
    diags: &'a mut Vec<Diagnostic>,
}

impl Cx<'_> {
    fn at(&mut self, d: Diagnostic, span: Range<usize>) -> &mut Diagnostic {
        self.diags
            .push(d.at(Location::in_text(self.file, self.text, span)));
        let n = self.diags.len() - 1;
        &mut self.diags[n]
    }
    fn error(&mut self, code: &'static str, span: Range<usize>, msg: String, help: String) {
        let d = Diagnostic::error(code, msg).help(help);
        self.at(d, span);
    }
    fn warn(&mut self, code: &'static str, span: Range<usize>, msg: String, help: String) {
        let d = Diagnostic::warning(code, msg).help(help);
        self.at(d, span);
    }
}

/// `[log_source_type]` keys that only a custom type takes, with their spans.
fn custom_only_keys(pack: &PackFile) -> Vec<(&'static str, Range<usize>)> {
    let t = pack.log_source_type.get_ref();
    let mut out = Vec::new();
    if let Some(v) = &t.internal_name {
        out.push(("internal_name", v.span()));
    }
    if let Some(v) = &t.description {
        out.push(("description", v.span()));
    }
    if let Some(v) = &t.device_category {
        out.push(("device_category", v.span()));
    }
    if let Some(v) = &t.credibility {
        out.push(("credibility", v.span()));
    }
    if let Some(v) = &t.protocols {
        out.push(("protocols", v.span()));
    }
    out
}

/// The default internal name: the display name's letters and digits, then `Custom`, as
/// the DSM Editor derives `CUSTOMTeleportBastionCustom` from `[CUSTOM] Teleport Bastion`
/// **[real]**.
pub fn default_internal_name(name: &str) -> String {
    let mut s: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
    s.push_str("Custom");
    s
}

/// The `{name}` placeholders of a `[dsm]` template.
fn placeholders(t: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = t;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(c)
                if c > 0
                    && after[..c]
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
            {
                out.push(after[..c].to_string());
                rest = &after[c + 1..];
            }
            _ => rest = after,
        }
    }
    out
}

fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Check the custom type's keys and `[parsing]`, and add its rows to `ext`. Problems go
/// to `diags` (errors stop the build there). Returns the DSM when the pack defines one.
pub fn resolve(
    file: &str,
    text: &str,
    pack: &PackFile,
    cat: &Catalogue,
    ns: &Uuid,
    ext: &mut Extension,
    diags: &mut Vec<Diagnostic>,
) -> Option<CustomDsm> {
    let mut cx = Cx { file, text, diags };
    let t = pack.log_source_type.get_ref();
    if !is_custom(pack) {
        for (key, span) in custom_only_keys(pack) {
            cx.error(
                "PK100",
                span,
                format!("`{key}` describes a custom log source type, but `custom = true` is not set"),
                "add `custom = true` to [log_source_type] to define a custom DSM, or remove the key (a built-in type is referenced by id only)".into(),
            );
        }
        if let Some(p) = &pack.parsing {
            cx.error(
                "PK100",
                p.span(),
                "[parsing] is for a custom log source type, but `custom = true` is not set".into(),
                "add `custom = true` to [log_source_type]; a built-in DSM parses records itself (describe its assumptions in [dsm.fields])".into(),
            );
        }
        return None;
    }

    // The type itself.
    let id = *t.id.get_ref();
    if !(CUSTOM_TYPE_MIN..=CUSTOM_TYPE_MAX).contains(&id) {
        cx.error(
            "PK101",
            t.id.span(),
            format!("custom log source type id {id} is outside the custom range {CUSTOM_TYPE_MIN}–{CUSTOM_TYPE_MAX}"),
            "custom types have ids from 4001 up (4000 is IBMCustomDSM, their base; lower ids are built-in types): pick an unused one such as 4050".into(),
        );
    } else if let Some(known) = u32::try_from(id).ok().and_then(|i| cat.log_source_type(i)) {
        let known = known.name.clone();
        cx.warn(
            "PK102",
            t.id.span(),
            format!("log source type id {id} is \"{known}\" in qrpack's catalogue"),
            "pick an id no type uses on your console (Admin > DSM Editor lists them); the id links this file's rows and QRadar may re-assign it [guess]".into(),
        );
    }
    let name = t.name.get_ref().trim().to_string();
    if name.is_empty() {
        cx.error(
            "PK103",
            t.name.span(),
            "the custom log source type's name is empty".into(),
            "name it as QRadar should show it, e.g. \"Entra ID Audit (JSON)\"".into(),
        );
    }
    let (internal, internal_span) = match &t.internal_name {
        Some(n) => (n.get_ref().clone(), n.span()),
        None => (default_internal_name(&name), t.name.span()),
    };
    let well_formed = internal
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && internal
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !well_formed {
        cx.error(
            "PK103",
            internal_span.clone(),
            format!("the internal name \"{internal}\" is not a letter followed by letters, digits or '_'"),
            "QRadar's internal type names look like CUSTOMTeleportBastionCustom: set `internal_name`".into(),
        );
    } else if let Some(known) = cat.log_source_type_by_name(&internal) {
        let kid = known.id;
        cx.warn(
            "PK102",
            internal_span,
            format!(
                "the internal name \"{internal}\" is log source type {kid} in qrpack's catalogue"
            ),
            "choose another internal_name: installing may replace the type of that name [guess]"
                .into(),
        );
    }
    let credibility = match &t.credibility {
        Some(c) => {
            if !(0..=10).contains(c.get_ref()) {
                cx.error(
                    "PK033",
                    c.span(),
                    format!("credibility {} is outside 0–10", c.get_ref()),
                    "QRadar credibilities run from 0 to 10; the DSM Editor uses 5".into(),
                );
            }
            *c.get_ref()
        }
        None => DEFAULT_CREDIBILITY,
    };
    let category = resolve_device_category(&mut cx, pack, cat);
    let protocols = resolve_protocols(&mut cx, pack, cat);
    let extension = resolve_parsing(&mut cx, pack, id);

    let (Some(category), Some(extension)) = (category, extension) else {
        return None;
    };
    let xml = crate::device_ext::write(&extension);
    let ext_id = 1;
    ext.device_categories.push(category.clone());
    ext.device_exts.push(DeviceExt {
        id: ext_id,
        name: format!("{internal}_ext"),
        description: t
            .description
            .as_ref()
            .map(|d| d.get_ref().clone())
            .unwrap_or_default(),
        uuid: Uuid::new_v5(ns, format!("device_ext:{internal}").as_bytes()),
        xml: base64::engine::general_purpose::STANDARD.encode(xml.as_bytes()),
    });
    ext.device_types.push(DeviceType {
        id,
        name: internal.clone(),
        description: name,
        category_id: category.id,
        credibility,
        extension_id: ext_id,
        uuid: Uuid::new_v5(ns, format!("sensordevicetype:{internal}").as_bytes()),
    });
    for (i, p) in protocols.iter().enumerate() {
        ext.device_protocols.push(DeviceProtocol {
            id: i as i64 + 1,
            device_type_id: id,
            protocol_id: *p,
        });
    }
    Some(CustomDsm {
        type_id: id,
        internal_name: internal,
        extension,
    })
}

fn resolve_device_category(
    cx: &mut Cx,
    pack: &PackFile,
    cat: &Catalogue,
) -> Option<DeviceCategory> {
    let t = pack.log_source_type.get_ref();
    let found = match &t.device_category {
        None => cat.device_category(DEFAULT_DEVICE_CATEGORY as u32),
        Some(c) => {
            let found = match c.get_ref() {
                IdOrName::Id(i) => u32::try_from(*i).ok().and_then(|i| cat.device_category(i)),
                IdOrName::Name(n) => cat.device_category_by_name(n),
            };
            if found.is_none() {
                let known: Vec<String> = cat
                    .device_categories()
                    .map(|d| format!("{} \"{}\"", d.id, d.name))
                    .collect();
                let shown = match c.get_ref() {
                    IdOrName::Id(i) => i.to_string(),
                    IdOrName::Name(n) => format!("\"{n}\""),
                };
                cx.error(
                    "PK104",
                    c.span(),
                    format!("device category {shown} is not in qrpack's catalogue"),
                    format!("use one of: {}", known.join(", ")),
                );
            }
            found
        }
    };
    found.map(|d| DeviceCategory {
        id: d.id as i64,
        name: d.name.clone(),
        description: d.description.clone(),
    })
}

/// Protocol ids, in the order given, each once.
fn resolve_protocols(cx: &mut Cx, pack: &PackFile, cat: &Catalogue) -> Vec<i64> {
    let t = pack.log_source_type.get_ref();
    let Some(list) = &t.protocols else {
        cx.error(
            "PK105",
            t.name.span(),
            "a custom log source type needs `protocols`".into(),
            "list the protocols its log sources use, by catalogue name or description, e.g. protocols = [\"UniversalCloudRESTAPI\", \"HTTPReceiver\"] (docs/pack-format.md)".into(),
        );
        return Vec::new();
    };
    if list.get_ref().is_empty() {
        cx.error(
            "PK105",
            list.span(),
            "`protocols` lists no protocol".into(),
            "a log source of this type needs at least one protocol, e.g. \"Syslog\"".into(),
        );
    }
    let mut out = Vec::new();
    let mut seen: BTreeMap<u32, Range<usize>> = BTreeMap::new();
    for p in list.get_ref() {
        match cat.protocol_by_name_or_description(p.get_ref()) {
            Some(found) => {
                if let Some(first) = seen.get(&found.id) {
                    let l = Location::in_text(cx.file, cx.text, first.clone());
                    let d = Diagnostic::error(
                        "PK105",
                        format!("protocol {} ({}) is listed twice", found.id, found.name),
                    )
                    .help("list each protocol once")
                    .note(format!(
                        "first listed at {}:{}:{}",
                        l.file, l.line, l.column
                    ));
                    cx.at(d, p.span());
                } else {
                    seen.insert(found.id, p.span());
                    out.push(found.id as i64);
                }
            }
            None => {
                let sugg: Vec<String> = cat
                    .suggest_protocols(p.get_ref(), 3)
                    .iter()
                    .map(|s| format!("\"{}\" ({} {})", s.name, s.id, s.description))
                    .collect();
                let help = if sugg.is_empty() {
                    "write a protocol's catalogue name or description (docs/catalogue.md lists them)".to_string()
                } else {
                    format!("did you mean {}?", sugg.join(" or "))
                };
                cx.error(
                    "PK105",
                    p.span(),
                    format!(
                        "no protocol is named \"{}\" in qrpack's catalogue",
                        p.get_ref()
                    ),
                    help,
                );
            }
        }
    }
    out
}

/// The `<device-extension>` for `[parsing]`, or `None` after an error.
fn resolve_parsing(cx: &mut Cx, pack: &PackFile, type_id: i64) -> Option<DeviceExtension> {
    let before = cx.diags.len();
    let Some(parsing) = &pack.parsing else {
        cx.error(
            "PK109",
            pack.log_source_type.span(),
            "a custom log source type needs [parsing]".into(),
            "add a [parsing] table saying where EventName (and the other fields) are read, e.g. event_name = [{ json = '/\"operationName\"' }]".into(),
        );
        return None;
    };
    let fields = &parsing.get_ref().fields;
    let mut by_field: BTreeMap<&'static str, &toml::Spanned<Vec<toml::Spanned<ParseRule>>>> =
        BTreeMap::new();
    for (key, rules) in fields {
        match qradar_field(key.get_ref()) {
            Some(q) => {
                by_field.insert(q, rules);
            }
            None => {
                let best = FIELDS
                    .iter()
                    .map(|(k, _)| (edit_distance(key.get_ref(), k), *k))
                    .min();
                let help = match best {
                    Some((d, k)) if d <= 3 => format!("did you mean `{k}`?"),
                    _ => format!(
                        "the fields are: {}",
                        FIELDS
                            .iter()
                            .map(|(k, _)| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                cx.error(
                    "PK107",
                    key.span(),
                    format!("`{}` is not a field a custom DSM fills", key.get_ref()),
                    help,
                );
            }
        }
    }
    if !by_field.contains_key("EventName") {
        cx.error(
            "PK109",
            parsing.span(),
            "[parsing] has no `event_name`".into(),
            "QRadar identifies each event by its EventName: add event_name = [{ json = '/\"…\"' }] or a regex".into(),
        );
    }
    // The [dsm] templates of a custom type can only use what the parsing fills.
    let (id_t, cat_t, id_span, cat_span) = match &pack.dsm {
        Some(d) => {
            let d = d.get_ref();
            if let Some((k, v)) = d.fields.iter().next() {
                cx.error(
                    "PK111",
                    v.span(),
                    format!("[dsm.fields] `{k}`: a custom DSM's fields come from [parsing]"),
                    "remove [dsm.fields]: `qrpack test` reads the custom DSM's own parsing".into(),
                );
            }
            (
                d.event_id.get_ref().clone(),
                d.event_category.get_ref().clone(),
                d.event_id.span(),
                d.event_category.span(),
            )
        }
        None => (
            DEFAULT_EVENT_ID_TEMPLATE.to_string(),
            DEFAULT_EVENT_CATEGORY_TEMPLATE.to_string(),
            parsing.span(),
            parsing.span(),
        ),
    };
    for (template, span, what) in [
        (&id_t, id_span, "event_id"),
        (&cat_t, cat_span, "event_category"),
    ] {
        for p in placeholders(template) {
            if !fields.keys().any(|k| k.get_ref() == &p) {
                let help = if p == "event_category" {
                    "add event_category = [{ json = '/\"…\"' }] to [parsing], or set a fixed category in [dsm]: event_id = \"{event_name}\", event_category = \"my-category\"".to_string()
                } else {
                    format!(
                        "use a field that [parsing] fills ({}), e.g. \"{{event_name}}\"",
                        fields
                            .keys()
                            .map(|k| format!("`{}`", k.get_ref()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                cx.error(
                    "PK111",
                    span.clone(),
                    format!("the {what} template uses `{{{p}}}`, which [parsing] does not fill"),
                    help,
                );
            }
        }
    }

    let mut ext = DeviceExtension::default();
    let mut group = MatchGroup {
        order: "1".into(),
        device_type_id_override: Some(type_id.to_string()),
        ..MatchGroup::default()
    };
    for (key, field) in FIELDS {
        let Some(rules) = by_field.get(field) else {
            continue;
        };
        if rules.get_ref().is_empty() {
            cx.error(
                "PK109",
                rules.span(),
                format!("`{key}` lists no extraction"),
                "give at least one { json = … } or { regex = … }, or remove the key".into(),
            );
        }
        for (n, rule) in (1..).zip(rules.get_ref()) {
            let span = rule.span();
            let r = rule.get_ref();
            if let Some(d) = &r.date_format {
                if *field != "DeviceTime" {
                    cx.error(
                        "PK108",
                        d.span(),
                        format!("`date_format` is for device_time, not {key}"),
                        "remove date_format".into(),
                    );
                } else if d.get_ref().trim().is_empty() {
                    cx.error(
                        "PK108",
                        d.span(),
                        "the date format is empty".into(),
                        "write a Java date format, e.g. \"yyyy-MM-dd'T'HH:mm:ss.SSSX\"".into(),
                    );
                }
            } else if *field == "DeviceTime" {
                cx.warn(
                    "PK110",
                    span.clone(),
                    "this device_time extraction has no `date_format`".into(),
                    "add the value's Java date format, e.g. date_format = \"yyyy-MM-dd'T'HH:mm:ss.SSSX\": without one QRadar reads only syslog-style times and keeps the time it received the event".into(),
                );
            }
            let pattern_id = format!("{field}-Pattern-{n}");
            let mut attrs = BTreeMap::new();
            attrs.insert("order".to_string(), n.to_string());
            // The DSM Editor sets it on every matcher it writes [real].
            attrs.insert("enable-substitutions".to_string(), "true".to_string());
            let (kind, text, json, capture) = match (&r.json, &r.regex) {
                (Some(j), None) => {
                    if let Some(g) = &r.capture_group {
                        cx.error(
                            "PK108",
                            g.span(),
                            "`capture_group` goes with `regex`, not `json`".into(),
                            "remove capture_group".into(),
                        );
                    }
                    if let Err(e) = crate::device_ext::parse_json_pattern(j.get_ref()) {
                        cx.error(
                            "PK054",
                            j.span(),
                            format!("not a QRadar JSON key path: {e}"),
                            "write a slash before each quoted key, e.g. /\"properties\"/\"result\"; index arrays with [0]".into(),
                        );
                    }
                    ("JsonKeypath", j.get_ref().clone(), true, None)
                }
                (None, Some(re)) => {
                    let group = r.capture_group.as_ref().map(|g| *g.get_ref()).unwrap_or(1);
                    if let Some(construct) = crate::validate::content::java_only(re.get_ref()) {
                        cx.warn(
                            "PK058",
                            re.span(),
                            format!("the regex uses {construct}, Java syntax qrpack cannot check"),
                            "QRadar reads Java regexes; check this one in the DSM Editor with a sample event".into(),
                        );
                    } else {
                        match regex::Regex::new(re.get_ref()) {
                            Ok(compiled) => {
                                let groups = compiled.captures_len() as i64 - 1;
                                if !(0..=groups).contains(&group) {
                                    let gspan = r
                                        .capture_group
                                        .as_ref()
                                        .map(|g| g.span())
                                        .unwrap_or(re.span());
                                    cx.error(
                                        "PK053",
                                        gspan,
                                        format!("capture group {group} does not exist: the regex has {groups}"),
                                        "put the value in parentheses in the regex and give its number".into(),
                                    );
                                }
                            }
                            Err(e) => {
                                let m = e.to_string();
                                let m = m
                                    .lines()
                                    .rfind(|l| !l.trim().is_empty())
                                    .unwrap_or(&m)
                                    .trim()
                                    .to_string();
                                cx.error(
                                    "PK052",
                                    re.span(),
                                    format!("the regex does not compile: {m}"),
                                    "fix the pattern (qrpack reads Rust regex syntax, close to Java's for common patterns)".into(),
                                );
                            }
                        }
                    }
                    (
                        "JavaPattern",
                        re.get_ref().clone(),
                        false,
                        Some(format!("\\{group}")),
                    )
                }
                _ => {
                    cx.error(
                        "PK108",
                        span,
                        "an extraction needs exactly one of `json` or `regex`".into(),
                        "write { json = '/\"key\"' } or { regex = '…', capture_group = 1 }".into(),
                    );
                    continue;
                }
            };
            let mut pattern_attrs = BTreeMap::new();
            if !json {
                // On every regex pattern the DSM Editor writes [real]; meaning unknown.
                pattern_attrs.insert("use-default-pattern".to_string(), "true".to_string());
            }
            ext.patterns.push(Pattern {
                id: pattern_id.clone(),
                kind: kind.to_string(),
                text,
                attrs: pattern_attrs,
            });
            group.matchers.push(Matcher {
                json,
                field: field.to_string(),
                pattern_id,
                order: n.to_string(),
                capture_group: capture,
                ext_data: r.date_format.as_ref().map(|d| d.get_ref().clone()),
                attrs,
            });
        }
    }
    ext.patterns.push(Pattern {
        id: ALL_EVENTS.into(),
        kind: "JavaPattern".into(),
        text: "(.*?)".into(),
        attrs: BTreeMap::new(),
    });
    group.event_matches.push(EventMatch {
        kind: "event-match-multiple".into(),
        pattern_id: ALL_EVENTS.into(),
        // As the DSM Editor writes it [real]: look the QID up from the parsed EventName
        // and EventCategory, and use the DSM's results for identity.
        attrs: [
            ("force-qidmap-lookup-on-fixup", "true"),
            ("send-identity", "UseDSMResults"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
    });
    ext.groups.push(group);
    let errors = cx.diags[before..]
        .iter()
        .any(|d| d.severity == crate::diag::Severity::Error);
    (!errors).then_some(ext)
}

/// The set of `[parsing]` keys a pack fills (for messages).
pub fn parsed_keys(pack: &PackFile) -> BTreeSet<String> {
    pack.parsing
        .as_ref()
        .map(|p| {
            p.get_ref()
                .fields
                .keys()
                .map(|k| k.get_ref().clone())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_names_follow_the_dsm_editor() {
        assert_eq!(
            default_internal_name("[CUSTOM] Teleport Bastion"),
            "CUSTOMTeleportBastionCustom"
        );
        assert_eq!(placeholders("{event_name}-{x}y{"), vec!["event_name", "x"]);
        assert_eq!(pack_key("UserName"), Some("user_name"));
        assert_eq!(qradar_field("source_ip_pre_nat"), Some("SourceIpPreNAT"));
    }
}
