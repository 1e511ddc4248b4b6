//! Machine-readable reports of findings: the frozen JSON structure (`--format json`,
//! version 1, documented in docs/validate.md) and SARIF 2.1.0 (`--format sarif`) for
//! code-scanning tools. Built from dedicated structs, never from internal types.

use serde::Serialize;

use crate::diag::{Diagnostic, Severity, Summary};

/// `--format json`, version 1. Fields are only ever added, never renamed or removed.
#[derive(Debug, Serialize)]
pub struct JsonReport {
    /// The structure's version: 1.
    pub version: u32,
    pub tool: JsonTool,
    pub inputs: Vec<JsonInput>,
    pub findings: Vec<JsonFinding>,
    pub summary: JsonSummary,
}

#[derive(Debug, Serialize)]
pub struct JsonTool {
    pub name: &'static str,
    pub version: &'static str,
}

#[derive(Debug, Serialize)]
pub struct JsonInput {
    pub path: String,
    /// false when qrpack could not read it at all.
    pub read: bool,
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
}

#[derive(Debug, Serialize)]
pub struct JsonFinding {
    pub code: String,
    pub severity: Severity,
    pub message: String,
    /// The input the finding belongs to.
    pub input: String,
    /// The file inside it (`archive.zip!content.xml`), or the input itself.
    pub file: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub help: Option<String>,
    pub notes: Vec<String>,
    /// The code's documentation.
    pub docs: String,
}

#[derive(Debug, Serialize)]
pub struct JsonSummary {
    pub inputs: usize,
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
}

pub const DOCS_BASE: &str = "docs/checks.md";

pub fn docs_link(code: &str) -> String {
    format!("{DOCS_BASE}#{}", code.to_ascii_lowercase())
}

/// One input's findings, for the reports.
pub struct InputFindings<'a> {
    pub input: &'a str,
    pub read: bool,
    pub findings: &'a [Diagnostic],
}

pub fn json(inputs: &[InputFindings]) -> JsonReport {
    let mut findings = Vec::new();
    let mut total = Summary::default();
    let mut ins = Vec::new();
    for i in inputs {
        let s = Summary::of(i.findings);
        total.errors += s.errors;
        total.warnings += s.warnings;
        total.infos += s.infos;
        ins.push(JsonInput {
            path: i.input.to_string(),
            read: i.read,
            errors: s.errors,
            warnings: s.warnings,
            infos: s.infos,
        });
        for d in i.findings {
            findings.push(JsonFinding {
                code: d.code.to_string(),
                severity: d.severity,
                message: d.message.clone(),
                input: i.input.to_string(),
                file: d.location.as_ref().map(|l| l.file.clone()),
                line: d.location.as_ref().map(|l| l.line),
                column: d.location.as_ref().map(|l| l.column),
                help: d.help.clone(),
                notes: d.notes.clone(),
                docs: docs_link(d.code),
            });
        }
    }
    JsonReport {
        version: 1,
        tool: JsonTool {
            name: "qrpack",
            version: env!("CARGO_PKG_VERSION"),
        },
        inputs: ins,
        findings,
        summary: JsonSummary {
            inputs: inputs.len(),
            errors: total.errors,
            warnings: total.warnings,
            infos: total.infos,
        },
    }
}

/// SARIF 2.1.0. A finding inside an archive points at the archive file (the artifact a
/// repository holds); the member and its line go in the message.
pub fn sarif(inputs: &[InputFindings]) -> serde_json::Value {
    use serde_json::json;
    let mut rules: std::collections::BTreeMap<String, serde_json::Value> = Default::default();
    let mut results = Vec::new();
    for i in inputs {
        for d in i.findings {
            let summary = crate::codes::lookup(d.code)
                .map(|c| c.summary)
                .unwrap_or("");
            rules.entry(d.code.to_string()).or_insert_with(|| {
                json!({
                    "id": d.code,
                    "shortDescription": {"text": summary},
                    // Documentation ships with qrpack, not at a URL: name the page.
                    "help": {"text": format!("{summary}. See {} in the qrpack documentation.", docs_link(d.code))},
                    "defaultConfiguration": {"level": level(crate::codes::lookup(d.code).map(|c| c.severity).unwrap_or(d.severity))},
                })
            });
            let (uri, region, prefix) = match &d.location {
                Some(l) => match l.file.split_once('!') {
                    Some((archive, member)) => (
                        archive.to_string(),
                        None,
                        if l.line > 0 {
                            format!("[{member}:{}:{}] ", l.line, l.column)
                        } else {
                            format!("[{member}] ")
                        },
                    ),
                    None => (
                        l.file.clone(),
                        (l.line > 0)
                            .then(|| json!({"startLine": l.line, "startColumn": l.column.max(1)})),
                        String::new(),
                    ),
                },
                None => (i.input.to_string(), None, String::new()),
            };
            let mut text = format!("{prefix}{}", d.message);
            if let Some(h) = &d.help {
                text.push_str(&format!(" Help: {h}"));
            }
            let mut physical = json!({"artifactLocation": {"uri": uri_of(&uri)}});
            if let Some(r) = region {
                physical["region"] = r;
            }
            results.push(json!({
                "ruleId": d.code,
                "level": level(d.severity),
                "message": {"text": text},
                "locations": [{"physicalLocation": physical}],
            }));
        }
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "qrpack",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules.into_values().collect::<Vec<_>>(),
            }},
            "results": results,
        }],
    })
}

/// A relative URI reference for a path: `/`-separated, percent-encoded.
fn uri_of(path: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const KEEP: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'.')
        .remove(b'-')
        .remove(b'_')
        .remove(b'~');
    let p = if path == "<stdin>" { "stdin" } else { path };
    utf8_percent_encode(&p.replace('\\', "/"), KEEP).to_string()
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}
