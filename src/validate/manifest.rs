//! Checks on `manifest.txt`: valid JSON of the real exports' shape and IBM's
//! pre-validation rules.

use serde_json::Value;

use crate::diag::{Diagnostic, Location, Severity, line_col};
use crate::manifest::{is_qradar_version, is_semver};

/// What the manifest says, for cross-checks and `inspect`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ManifestInfo {
    pub id: String,
    pub name: String,
    pub description: String,
    pub version: String,
    pub min_qradar_version: String,
    pub author: String,
    pub author_email: String,
}

/// Check a manifest's bytes; `file` is the label findings carry.
pub fn check(file: &str, bytes: &[u8], findings: &mut Vec<Diagnostic>) -> Option<ManifestInfo> {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let (line, column) = {
                let valid = &bytes[..e.valid_up_to()];
                let t = String::from_utf8_lossy(valid);
                line_col(&t, t.len())
            };
            findings.push(
                Diagnostic::error("QR021", "manifest.txt is not UTF-8")
                    .at(Location {
                        file: file.into(),
                        span: 0..0,
                        line,
                        column,
                    })
                    .help("save the manifest as UTF-8 JSON"),
            );
            return None;
        }
    };
    let at_key = |key: &str| -> Location {
        let needle = format!("\"{key}\"");
        let off = text.find(&needle).unwrap_or(0);
        let span = if text.contains(&needle) {
            off..off + needle.len()
        } else {
            0..0
        };
        Location::in_text(file, text, span)
    };
    let v: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            findings.push(
                Diagnostic::error("QR021", format!("manifest.txt is not valid JSON: {e}"))
                    .at(Location { file: file.into(), span: 0..0, line: e.line(), column: e.column() })
                    .help("manifest.txt is JSON: {\"doc\": {\"extension_manifest\": {…}}, \"_id\": \"…\"}"),
            );
            return None;
        }
    };
    let mut push = |sev: Severity, code: &'static str, key: &str, msg: String, help: &str| {
        findings.push(Diagnostic::new(code, sev, msg).at(at_key(key)).help(help));
    };
    let em = &v["doc"]["extension_manifest"];
    if !em.is_object() {
        push(
            Severity::Error,
            "QR021",
            "doc",
            "manifest.txt has no doc.extension_manifest object".into(),
            "copy the shape of a real export's manifest.txt (docs/output-format.md)",
        );
        return None;
    }
    let s = |val: &Value| val.as_str().map(str::to_string);
    let mut info = ManifestInfo::default();
    match s(&v["_id"]) {
        Some(id) if !id.trim().is_empty() => info.id = id,
        _ => push(
            Severity::Error,
            "QR021",
            "_id",
            "manifest.txt has no \"_id\" (the hub id)".into(),
            "add \"_id\": \"author:Extension name\"",
        ),
    }
    match s(&em["version"]) {
        Some(ver) if is_semver(&ver) => info.version = ver,
        Some(ver) => push(
            Severity::Error,
            "QR022",
            "version",
            format!("version \"{ver}\" is not MAJOR.MINOR.PATCH"),
            "IBM's pre-validation requires three whole numbers, e.g. 1.0.0",
        ),
        None => push(
            Severity::Error,
            "QR022",
            "extension_manifest",
            "manifest.txt has no version".into(),
            "add \"version\": \"1.0.0\"",
        ),
    }
    match s(&em["min_qradar_version"]) {
        Some(m) if is_qradar_version(&m) => info.min_qradar_version = m,
        Some(m) => push(
            Severity::Error,
            "QR023",
            "min_qradar_version",
            format!("min_qradar_version \"{m}\" is not 3 or 4 dot-separated numbers"),
            "write QRadar's internal version, e.g. 2021.6.0",
        ),
        None => push(
            Severity::Error,
            "QR023",
            "extension_manifest",
            "manifest.txt has no min_qradar_version".into(),
            "add \"min_qradar_version\": \"2021.6.0\"",
        ),
    }
    let langs: Vec<String> = em["supported_language_set"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if !langs.iter().any(|l| l == "en-US") {
        push(
            Severity::Error,
            "QR024",
            "supported_language_set",
            "supported_language_set does not contain en-US".into(),
            "IBM's pre-validation requires \"supported_language_set\": [\"en-US\"]",
        );
    }
    match &em["package_size"] {
        Value::String(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {}
        Value::Number(n) if n.is_u64() => {}
        Value::Null => push(
            Severity::Error,
            "QR028",
            "extension_manifest",
            "manifest.txt has no package_size".into(),
            "real exports write \"package_size\": \"0\"",
        ),
        other => push(
            Severity::Error,
            "QR028",
            "package_size",
            format!("package_size {other} is not a size"),
            "write a whole number of bytes as a string, e.g. \"0\"",
        ),
    }
    // Localised strings: the keys name entries of locale.en-US.
    let locale = &em["locale"]["en-US"];
    for (field, slot) in [("extension_name", 0), ("extension_long_description", 1)] {
        let Some(key) = s(&em[field]) else {
            push(
                Severity::Error,
                "QR025",
                "extension_manifest",
                format!("manifest.txt has no {field}"),
                "IBM's pre-validation requires a name and a description",
            );
            continue;
        };
        match locale.get(&key).and_then(Value::as_str) {
            None => push(
                Severity::Error,
                "QR026",
                field,
                format!("{field} \"{key}\" is not a key of locale.en-US"),
                "add the key with its text to locale.en-US",
            ),
            Some(text) => {
                if text.trim().is_empty() {
                    push(
                        Severity::Warning,
                        "QR025",
                        field,
                        format!(
                            "the extension's {} is empty",
                            if slot == 0 { "name" } else { "description" }
                        ),
                        "IBM App Exchange's pre-validation refuses an empty name or description",
                    );
                }
                if slot == 0 {
                    info.name = text.to_string();
                } else {
                    info.description = text.to_string();
                }
            }
        }
    }
    for (field, what) in [
        ("authored_by", "author"),
        ("authored_by_email", "author e-mail"),
    ] {
        match s(&em[field]) {
            None => push(
                Severity::Error,
                "QR025",
                "extension_manifest",
                format!("manifest.txt has no {field}"),
                "IBM's pre-validation requires the author and the author's e-mail",
            ),
            Some(val) => {
                if val.trim().is_empty() {
                    push(
                        Severity::Warning,
                        "QR025",
                        field,
                        format!("the {what} is empty"),
                        "IBM App Exchange's pre-validation requires it",
                    );
                }
                if field == "authored_by" {
                    info.author = val;
                } else {
                    info.author_email = val;
                }
            }
        }
    }
    Some(info)
}
