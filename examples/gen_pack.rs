//! Generate a large, valid qrpack pack for the build benchmark (`scripts/bench-build.sh`,
//! `docs/benchmarks.md`).
//!
//! ```text
//! cargo run --release --example gen_pack -- OUT_DIR [--events N] [--rules N] [--properties N]
//! ```
//!
//! Writes `OUT_DIR/pack.toml` in the format of `qid-maps/entra-id-cloud-credentials.toml`
//! (defaults: 10,000 events, 2,000 rules, 500 properties, 5 inline searches). The output
//! depends only on the three counts: names come from fixed word lists, and every other
//! choice from a fixed-seed linear congruential generator, so the same arguments always
//! give the same bytes. The pack builds with no error and no warning.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: gen_pack OUT_DIR [--events N] [--rules N] [--properties N]   (writes OUT_DIR/pack.toml)";

// ---------------------------------------------------------------------------------------
// Word lists. Event names are VERB OBJECT QUALIFIER: 20 × 25 × 20 = 10,000 distinct
// names; past that a " (variant n)" suffix keeps them distinct.

const VERBS: [&str; 20] = [
    "Add",
    "Remove",
    "Update",
    "Create",
    "Delete",
    "Restore",
    "Enable",
    "Disable",
    "Reset",
    "Assign",
    "Unassign",
    "Consent to",
    "Revoke",
    "Set",
    "Rotate",
    "Export",
    "Import",
    "Approve",
    "Deny",
    "Hard delete",
];

const OBJECTS: [&str; 25] = [
    "application",
    "service principal",
    "user",
    "group",
    "device",
    "conditional access policy",
    "named location",
    "directory role",
    "app role assignment",
    "OAuth2 permission grant",
    "domain",
    "tenant setting",
    "authentication method",
    "federation setting",
    "administrative unit",
    "certificate",
    "partner relationship",
    "access package",
    "entitlement policy",
    "B2C user flow",
    "identity provider",
    "token lifetime policy",
    "external identity",
    "role definition",
    "cross-tenant access setting",
];

/// Qualifiers with " - " get a second spelling with an EN DASH (U+2013), as Microsoft
/// writes "Update application – Certificates and secrets management"; the others get the
/// trailing-space spelling some records carry.
const QUALIFIERS: [&str; 20] = [
    "",
    " - Certificates and secrets management",
    " owner",
    " member",
    " credentials",
    " properties",
    " - Conditional access",
    " settings",
    " password",
    " license",
    " - Self-service password reset",
    " membership rule",
    " - Multi-factor authentication",
    " extension",
    " for user",
    " to group",
    " by administrator",
    " in bulk",
    " - Privileged Identity Management",
    " policy",
];

/// Low-level categories from the built-in catalogue (docs/catalogue.md).
const CATEGORIES: [(i64, &str); 10] = [
    (3029, "Policy Added"),
    (3030, "Policy Change"),
    (3031, "User Account Added"),
    (3032, "User Account Changed"),
    (3034, "Password Change Succeeded"),
    (3036, "Group Member Added"),
    (3120, "Identity Granted"),
    (19001, "General Audit Event"),
    (19012, "Create Activity Succeeded"),
    (19018, "Update Activity Succeeded"),
];

const RISKS: [&str; 5] = [
    "SP_Credential_Add",
    "MFA_Bypass_Risk",
    "Ownership_Change",
    "Privilege_Escalation",
    "Policy_Weakening",
];

const CREDENTIAL_TYPES: [&str; 4] = [
    "ServicePrincipalCredential",
    "Certificate_or_Secret",
    "AppPassword",
    "FederatedCredential",
];

/// Property names are PREFIX FIELD: 25 × 20 = 500 distinct names.
const PROP_PREFIXES: [&str; 25] = [
    "Target",
    "Initiating",
    "Modified",
    "Caller",
    "Resource",
    "Application",
    "ServicePrincipal",
    "Device",
    "Group",
    "Policy",
    "Role",
    "Tenant",
    "Session",
    "Token",
    "Credential",
    "Location",
    "Client",
    "Consent",
    "Owner",
    "Member",
    "Domain",
    "Certificate",
    "Secret",
    "Permission",
    "Authentication",
];

const PROP_FIELDS: [&str; 20] = [
    "ObjectName",
    "ObjectId",
    "ObjectType",
    "DisplayName",
    "UserPrincipalName",
    "IPAddress",
    "AppId",
    "Result",
    "ReasonCode",
    "CorrelationId",
    "OldValue",
    "NewValue",
    "KeyType",
    "KeyId",
    "Scope",
    "Status",
    "Country",
    "UserAgent",
    "Count",
    "Tier",
];

/// Rule groups (and the area each rule's name starts with).
const AREAS: [&str; 20] = [
    "Entra ID Initial Access",
    "Entra ID Persistence",
    "Entra ID Privilege Escalation",
    "Entra ID Defense Evasion",
    "Entra ID Credential Access",
    "Entra ID Discovery",
    "Entra ID Lateral Movement",
    "Entra ID Collection",
    "Entra ID Exfiltration",
    "Entra ID Impact",
    "Entra ID Application Governance",
    "Entra ID Identity Protection",
    "Entra ID Conditional Access",
    "Entra ID Privileged Identity",
    "Entra ID B2B Collaboration",
    "Entra ID Device Management",
    "Entra ID Tenant Configuration",
    "Entra ID Federation",
    "Entra ID Audit Hygiene",
    "Entra ID Compliance",
];

const BEHAVIOURS: [&str; 10] = [
    "unusual",
    "high-risk",
    "bulk",
    "off-hours",
    "first-seen",
    "repeated",
    "failed",
    "privileged",
    "cross-tenant",
    "automated",
];

// ---------------------------------------------------------------------------------------

/// A fixed-seed 64-bit LCG (Knuth's MMIX constants); the high bits are the output.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A TOML basic string.
fn q(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON string (for samples): the same escapes suffice for our names.
fn json_str(s: &str) -> String {
    q(s)
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Split a `CamelCase` name into words: `ServicePrincipal` → "Service Principal",
/// `IPAddress` → "IP Address".
fn words(camel: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = camel.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
        if i > 0 && c.is_uppercase() && (chars[i - 1].is_lowercase() || next_lower) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

struct Counts {
    events: usize,
    rules: usize,
    properties: usize,
}

fn event_name(i: usize) -> String {
    const BLOCK: usize = VERBS.len() * OBJECTS.len() * QUALIFIERS.len();
    // 7919 is prime to 10,000: a bijection of the block that spreads neighbours over
    // different verbs, objects and qualifiers.
    let j = (i % BLOCK * 7919 + 13) % BLOCK;
    let qualifier = QUALIFIERS[j % QUALIFIERS.len()];
    let object = OBJECTS[j / QUALIFIERS.len() % OBJECTS.len()];
    let verb = VERBS[j / (QUALIFIERS.len() * OBJECTS.len())];
    let round = i / BLOCK;
    if round == 0 {
        format!("{verb} {object}{qualifier}")
    } else {
        format!("{verb} {object}{qualifier} (variant {})", round + 1)
    }
}

fn property_name(p: usize) -> (String, &'static str, &'static str) {
    let prefix = PROP_PREFIXES[p % PROP_PREFIXES.len()];
    let field = PROP_FIELDS[p / PROP_PREFIXES.len() % PROP_FIELDS.len()];
    let round = p / (PROP_PREFIXES.len() * PROP_FIELDS.len());
    let name = if round == 0 {
        format!("{prefix}{field}")
    } else {
        format!("{prefix}{field}{}", round + 1)
    };
    (name, prefix, field)
}

fn severity(i: usize) -> usize {
    1 + (i * 7 + i / 10) % 10
}

/// The risk class of event `i`, if it has one: every 25th event, so that each class
/// selects 1 in 125 events (80 QIDs of 10,000), as a hand-curated label would.
fn risk_of(i: usize) -> Option<&'static str> {
    i.is_multiple_of(25).then(|| RISKS[(i / 25) % RISKS.len()])
}

fn generate(c: &Counts) -> String {
    let mut rng = Lcg(0x5152_5041_434b_2026); // "QRPACK" 2026
    let mut s = String::with_capacity(c.events * 420 + c.rules * 900 + c.properties * 900);
    let names: Vec<String> = (0..c.events).map(event_name).collect();
    let props: Vec<(String, &str, &str)> = (0..c.properties).map(property_name).collect();

    let _ = write!(
        s,
        r#"# qrpack pack generated by `cargo run --release --example gen_pack` for the build
# benchmark (docs/benchmarks.md): {} events, {} properties, {} rules, 5 searches.
# Do not edit: regenerate. The same arguments give the same bytes.

[extension]
hub_id = "qrpack:Benchmark generated pack"
name = "qrpack benchmark pack ({} events, {} rules, {} properties)"
version = "1.0.0"
author = "qrpack benchmark"
author_email = "bench@example.org"
description = """A generated pack that exercises every part of a qrpack build at scale: \
QID map entries with several spellings, DSM mappings, JSON and regex custom properties, \
rules with QID and AQL tests and responses, rule groups and saved searches."""
min_qradar_version = "2021.6.0"
qradar_version = "2021.6.0"
timestamp = 2026-11-28T00:00:00Z

[log_source_type]
id = 445
name = "Microsoft Azure Active Directory"

[dsm]
event_id = "{{operation}}-{{result}}"
event_category = "{{category}}"

[dsm.defaults]
result = ["success", "failure"]
category = ["ApplicationManagement"]

[dsm.fields]
operation = ['/"operationName"', '/"activityDisplayName"', '/"OperationName"']
result = ['/"properties"/"result"', '/"result"', '/"Result"']
category = ['/"properties"/"category"', '/"category"', '/"Category"']
"#,
        c.events, c.properties, c.rules, c.events, c.rules, c.properties
    );

    // ---- events
    s.push_str("\n# ---------------------------------------------------------------------------------------\n# Events\n");
    for (i, name) in names.iter().enumerate() {
        let sev = severity(i);
        let (cat_id, cat_name) = CATEGORIES[i % CATEGORIES.len()];
        let _ = writeln!(s, "\n[[event]]\nname = {}", q(name));
        if i % 4 != 3 {
            let _ = writeln!(
                s,
                "description = {}",
                q(&format!(
                    "Entra ID audit operation \"{name}\" (generated). Severity {sev}; category {cat_name}."
                ))
            );
        }
        let _ = writeln!(s, "severity = {sev}");
        // Mostly ids, every fifth by its catalogue name (both forms occur in real packs).
        if i % 5 == 4 {
            let _ = writeln!(s, "category = {}", q(cat_name));
        } else {
            let _ = writeln!(s, "category = {cat_id}");
        }
        let second = if name.contains(" - ") {
            name.replacen(" - ", " \u{2013} ", 1)
        } else {
            format!("{name} ")
        };
        let _ = write!(s, "match = {{ operation = [{}, {}]", q(name), q(&second));
        if i % 7 == 6 {
            s.push_str(", category = [\"ApplicationManagement\", \"UserManagement\"]");
        }
        s.push_str(" }\n");
        // Labels on every third event; a risk class (what rules select) on fewer.
        if i % 3 == 0 || risk_of(i).is_some() {
            s.push_str("labels = { ");
            if let Some(risk) = risk_of(i) {
                let _ = write!(s, "risk = {}, ", q(risk));
                if (i / 25) % 4 == 0 {
                    s.push_str("high_risk = \"yes\", ");
                }
            }
            let _ = writeln!(
                s,
                "credential_type = {} }}",
                q(CREDENTIAL_TYPES[i % CREDENTIAL_TYPES.len()])
            );
        }
    }

    // ---- properties
    s.push_str("\n# ---------------------------------------------------------------------------------------\n# Custom properties\n");
    for (p, (name, prefix, field)) in props.iter().enumerate() {
        let kind = match *field {
            "IPAddress" => Some("ip"),
            "Count" => Some("number"),
            _ => None,
        };
        let (obj, key) = (lower_first(prefix), lower_first(field));
        let value = match kind {
            Some("ip") => format!("10.{}.{}.{}", p % 250, (p / 250) % 250, 1 + p % 200),
            Some("number") => format!("{}", 1 + p % 97),
            _ => format!("{obj}-{key}-{p:04}"),
        };
        let _ = writeln!(s, "\n[[property]]\nname = {}", q(name));
        if let Some(k) = kind {
            let _ = writeln!(s, "type = \"{k}\"");
        }
        let _ = writeln!(
            s,
            "description = {}",
            q(&format!(
                "{} {} of the audited operation (generated).",
                words(prefix),
                words(field).to_lowercase()
            ))
        );

        // First expression: nested under properties; restricted to a few events on some.
        let _ = writeln!(
            s,
            "\n[[property.expression]]\njson = '/\"properties\"/\"{obj}\"/\"{key}\"'"
        );
        if p % 5 == 1 {
            let n = 1 + p % 3;
            let evs: Vec<String> = pick(&mut rng, c.events, n)
                .into_iter()
                .map(|e| q(&names[e]))
                .collect();
            let _ = writeln!(s, "events = [{}]", evs.join(", "));
        }
        if p % 4 == 0 {
            let ev = &names[p % c.events];
            let _ = writeln!(
                s,
                "sample = '{{\"operationName\":{},\"properties\":{{\"result\":\"success\",\"{obj}\":{{\"{key}\":{}}}}}}}'",
                json_str(ev),
                json_str(&value)
            );
        }

        // Second expression: flat (Graph directoryAudit shape).
        let _ = writeln!(s, "\n[[property.expression]]\njson = '/\"{obj}{field}\"'");
        if p % 8 == 2 {
            let _ = writeln!(
                s,
                "sample = '{{\"activityDisplayName\":\"Add application\",\"{obj}{field}\":{}}}'",
                json_str(&value)
            );
        }

        // A regex fallback with a capture group on every sixth property.
        if p % 6 == 3 {
            let _ = writeln!(
                s,
                "\n[[property.expression]]\nregex = '\"{key}\"\\s*:\\s*\"([^\"]+)\"'\ncapture_group = 1"
            );
            if p % 12 == 3 {
                let evs: Vec<String> = pick(&mut rng, c.events, 2)
                    .into_iter()
                    .map(|e| q(&names[e]))
                    .collect();
                let _ = writeln!(s, "events = [{}]", evs.join(", "));
            }
            let _ = writeln!(
                s,
                "sample = '{{\"displayName\":\"{prefix}\",\"{key}\": {}}}'",
                json_str(&value)
            );
        }
    }

    // ---- rules
    s.push_str("\n# ---------------------------------------------------------------------------------------\n# Rules\n");
    for r in 0..c.rules {
        let area = AREAS[r % AREAS.len()];
        let behaviour = BEHAVIOURS[(r / AREAS.len()) % BEHAVIOURS.len()];
        let k = 1 + (r * 7 + r / 20) % 20;
        let evs = pick(&mut rng, c.events, k);
        let first = &names[evs[0]];
        let bb = r % 10 == 0;
        let name = if bb {
            format!("BB:{area}: {behaviour} operations [B{:04}]", r + 1)
        } else {
            format!("{area}: {behaviour} \"{first}\" activity [R{:04}]", r + 1)
        };
        let _ = writeln!(s, "\n[[rule]]\nname = {}", q(&name));
        if bb {
            s.push_str("building_block = true\n");
        }
        if r % 17 == 5 {
            s.push_str("enabled = false\n");
        }
        if r % 4 != 1 {
            let mut notes = format!(
                "Fires on {behaviour} {} Entra ID operations ({} QIDs), starting with \"{first}\".",
                area.trim_start_matches("Entra ID ").to_lowercase(),
                evs.len()
            );
            if r % 8 == 0 {
                notes.push_str("\n\nKnown false positives, to tune with exceptions:\n- Infrastructure-as-code pipelines (Terraform, Pulumi).\n- Scheduled credential rotation jobs.");
            }
            let _ = writeln!(s, "notes = {}", q(&notes));
        }
        s.push_str("events = [\n");
        for e in &evs {
            let _ = writeln!(s, "  {},", q(&names[*e]));
        }
        s.push_str("]\n");
        if r % 3 == 0 {
            let prop = |i: usize| -> String {
                if c.properties == 0 {
                    "username".to_string()
                } else {
                    format!("\"{}\"", props[i % c.properties].0)
                }
            };
            // "…Result" properties, for comparisons with 'success'.
            let result_prop = |i: usize| -> String {
                let results: Vec<&String> = props
                    .iter()
                    .filter(|p| p.2 == "Result")
                    .map(|p| &p.0)
                    .collect();
                if results.is_empty() {
                    prop(i)
                } else {
                    format!("\"{}\"", results[i % results.len()])
                }
            };
            let aql = match r % 9 {
                0 => format!(
                    "{} = 'success' AND QID = {{{{qid:{}}}}}",
                    result_prop(r),
                    names[evs[evs.len() - 1]]
                ),
                3 => format!("{} IS NOT NULL AND {} <> ''", prop(r), prop(r + 7)),
                _ => {
                    // A label that exists: the risk of a labelled event.
                    let labelled = (r * 25) % c.events / 25 * 25;
                    let risk = risk_of(labelled).unwrap_or(RISKS[0]);
                    format!(
                        "QID IN ({{{{qids:risk={risk}}}}}) AND {} IS NOT NULL",
                        prop(r + 3)
                    )
                }
            };
            // The whole pack's QIDs on a few rules: {{qids}} expands to every event.
            let aql = if r % 1000 == 0 {
                format!("({aql}) OR QID IN ({{{{qids}}}})")
            } else {
                aql
            };
            let _ = writeln!(s, "aql = {}", q(&aql));
        }
        let _ = writeln!(s, "group = {}", q(area));
        if !bb && r % 2 == 1 {
            let _ = write!(
                s,
                "\n[rule.response]\nseverity = {}\ncredibility = {}\nrelevance = {}\nevent_name = {}\ndescription = {}\n",
                1 + r % 10,
                5 + r % 6,
                3 + r % 8,
                q(&format!(
                    "{area} {behaviour} activity detected [R{:04}]",
                    r + 1
                )),
                q(&format!("Rule R{:04} matched {behaviour} activity.", r + 1)),
            );
            if r % 4 == 3 {
                s.push_str("offense = false\n");
            }
            if r % 10 == 7 {
                s.push_str("category = 12001\n");
            }
        }
    }

    // ---- searches
    s.push_str("\n# ---------------------------------------------------------------------------------------\n# Saved searches\n");
    let p0 = props
        .first()
        .map(|p| format!("\"{}\"", p.0))
        .unwrap_or_else(|| "username".into());
    let p1 = props
        .get(1)
        .map(|p| format!("\"{}\"", p.0))
        .unwrap_or_else(|| "sourceip".into());
    let searches = [
        (
            "Benchmark: high-risk Entra ID operations (24h)",
            "High-risk operations with their initiator.",
            format!(
                "SELECT QIDNAME(qid) AS operation, {p0}, {p1}, username, sourceip, COUNT(*) AS n\nFROM events\nWHERE devicetype = {{{{log_source_type}}}} AND qid IN ({{{{qids:high_risk=yes}}}})\nGROUP BY qid, {p0}, username, sourceip\nORDER BY n DESC\nLAST 24 HOURS"
            ),
        ),
        (
            "Benchmark: credential additions (7d)",
            "Service principal credential additions.",
            format!(
                "SELECT DATEFORMAT(starttime, 'yyyy-MM-dd HH:mm') AS event_time, QIDNAME(qid), {p0}\nFROM events\nWHERE qid IN ({{{{qids:risk={}}}}})\nLAST 7 DAYS",
                RISKS[0]
            ),
        ),
        (
            "Benchmark: every pack operation (1h)",
            "Every QID of the pack.",
            "SELECT QIDNAME(qid), COUNT(*) FROM events WHERE qid IN ({{qids}}) GROUP BY qid LAST 1 HOURS"
                .to_string(),
        ),
        (
            "Benchmark: first operation by initiator",
            "One operation, by initiator.",
            format!(
                "SELECT username, {p1}, COUNT(*) FROM events WHERE qid = {{{{qid:{}}}}} GROUP BY username, {p1} LAST 24 HOURS",
                names[0]
            ),
        ),
        (
            "Benchmark: failed operations on the log source type",
            "Failed operations of the extended DSM.",
            format!(
                "SELECT QIDNAME(qid), {p0}, COUNT(*) FROM events WHERE devicetype = {{{{log_source_type}}}} AND {p1} IS NOT NULL GROUP BY qid, {p0} LAST 24 HOURS"
            ),
        ),
    ];
    for (name, description, aql) in searches {
        let _ = write!(
            s,
            "\n[[search]]\nname = {}\ndescription = {}\naql = {}\n",
            q(name),
            q(description),
            q(&aql)
        );
    }
    s
}

/// `k` distinct event indices below `n` (all of them when `k >= n`), in draw order.
fn pick(rng: &mut Lcg, n: usize, k: usize) -> Vec<usize> {
    let k = k.min(n);
    let mut out: Vec<usize> = Vec::with_capacity(k);
    while out.len() < k {
        let e = rng.below(n);
        if !out.contains(&e) {
            out.push(e);
        }
    }
    out
}

fn parse_args() -> Result<(PathBuf, Counts), String> {
    let mut out: Option<PathBuf> = None;
    let mut c = Counts {
        events: 10_000,
        rules: 2_000,
        properties: 500,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let slot = match a.as_str() {
            "--events" => &mut c.events,
            "--rules" => &mut c.rules,
            "--properties" => &mut c.properties,
            "-h" | "--help" => return Err(String::new()),
            s if s.starts_with('-') => return Err(format!("unknown option {s}")),
            _ => {
                if out.replace(PathBuf::from(&a)).is_some() {
                    return Err("give one OUT_DIR".into());
                }
                continue;
            }
        };
        let v = args.next().ok_or_else(|| format!("{a} needs a number"))?;
        *slot = v
            .parse()
            .map_err(|_| format!("{a} {v}: not a whole number"))?;
    }
    let out = out.ok_or_else(|| "missing OUT_DIR".to_string())?;
    if c.events == 0 {
        return Err("--events must be at least 1 (rules test events)".into());
    }
    Ok((out, c))
}

fn main() -> ExitCode {
    let (dir, counts) = match parse_args() {
        Ok(x) => x,
        Err(m) => {
            if !m.is_empty() {
                eprintln!("gen_pack: {m}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let text = generate(&counts);
    let path = dir.join("pack.toml");
    if let Err(e) = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, &text)) {
        eprintln!("gen_pack: cannot write {}: {e}", path.display());
        return ExitCode::from(2);
    }
    println!(
        "wrote {} ({} events, {} properties, {} rules, 5 searches; {} bytes)",
        path.display(),
        counts.events,
        counts.properties,
        counts.rules,
        text.len()
    );
    ExitCode::SUCCESS
}
