//! Test cases: the pack's `[[test]]`s (and `test_files`), each a set of records and the
//! expectations every selected record must meet.

use std::path::{Path, PathBuf};

use serde::Serialize;
use toml::Spanned;

use super::engine::{Outcome, Simulator, Verdict};
use super::records::Splitter;
use crate::diag::{Diagnostic, Location};
use crate::spec::{Expect, TestCase, TestFile};

/// Where a test case was declared.
pub struct Declared {
    pub case: Spanned<TestCase>,
    /// The file declaring it (pack or test file), its name as shown and its text.
    pub file: PathBuf,
    pub shown: String,
    pub text: String,
}

/// A problem with a test file: the finding, and the file's name and text to show it.
pub type CollectError = (Diagnostic, Option<(String, String)>);

/// Collect the pack's test cases and those of its `test_files`.
pub fn collect(pack_path: &Path, pack_text: &str) -> Result<Vec<Declared>, Vec<CollectError>> {
    let shown = pack_path.display().to_string();
    let pack = crate::spec::parse(&shown, pack_text).map_err(|d| vec![(*d, None)])?;
    let dir = pack_path.parent().unwrap_or(Path::new("")).to_path_buf();
    let mut out: Vec<Declared> = pack
        .tests
        .into_iter()
        .map(|c| Declared {
            case: c,
            file: pack_path.to_path_buf(),
            shown: shown.clone(),
            text: pack_text.to_string(),
        })
        .collect();
    let mut errors = Vec::new();
    for f in pack.test_files {
        let path = dir.join(f.get_ref());
        let fshown = path.display().to_string();
        match std::fs::read_to_string(&path) {
            Err(e) => errors.push((
                Diagnostic::error("PK074", format!("cannot read the test file {fshown}: {e}"))
                    .at(Location::in_text(&shown, pack_text, f.span()))
                    .help("test_files are relative to the pack file"),
                None,
            )),
            Ok(text) => match toml::from_str::<TestFile>(&text) {
                Ok(tf) => out.extend(tf.tests.into_iter().map(|c| Declared {
                    case: c,
                    file: path.clone(),
                    shown: fshown.clone(),
                    text: text.clone(),
                })),
                Err(e) => errors.push((
                    crate::spec::toml_error(&fshown, &text, &e),
                    Some((fshown.clone(), text.clone())),
                )),
            },
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// One record's run and what failed.
#[derive(Debug, Serialize)]
pub struct RecordRun {
    /// `file:line` of the record (or "inline").
    pub source: String,
    pub outcome: Outcome,
    pub checks: usize,
    pub failures: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct CaseRun {
    pub name: String,
    /// `file:line:column` of the `[[test]]`.
    pub declared_at: String,
    pub records: Vec<RecordRun>,
    /// A failure of the case itself (unreadable file, no record selected).
    pub error: Option<String>,
}

impl CaseRun {
    pub fn passed(&self) -> bool {
        self.error.is_none()
            && !self.records.is_empty()
            && self.records.iter().all(|r| r.failures.is_empty())
    }
}

/// Records of a test: from its file (all, or those whose id or correlationId is `key`),
/// or its inline event.
fn records_of(d: &Declared) -> Result<Vec<(String, serde_json::Value, String)>, String> {
    // serde_json here: test cases are few, and key selection wants a full parse.
    let c = d.case.get_ref();
    let mut out = Vec::new();
    match (&c.events, &c.event) {
        (Some(f), None) => {
            let path = d.file.parent().unwrap_or(Path::new("")).join(f.get_ref());
            let shown = path.display().to_string();
            let file =
                std::fs::File::open(&path).map_err(|e| format!("cannot read {shown}: {e}"))?;
            for r in Splitter::new(std::io::BufReader::new(file)) {
                let r = r.map_err(|e| format!("{shown}:{}: {}", e.line, e.message))?;
                let v: serde_json::Value = serde_json::from_str(&r.raw)
                    .map_err(|e| format!("{shown}:{}: not JSON: {e}", r.line))?;
                out.push((format!("{shown}:{}", r.line), v, r.raw));
            }
        }
        (None, Some(inline)) => {
            let v: serde_json::Value = serde_json::from_str(inline.get_ref())
                .map_err(|e| format!("the inline event is not JSON: {e}"))?;
            out.push(("inline".into(), v, inline.get_ref().clone()));
        }
        _ => {
            return Err(
                "a test needs exactly one of `events` (a file) or `event` (inline JSON)".into(),
            );
        }
    }
    if let Some(key) = &c.key {
        let key = key.get_ref();
        let ids = [
            "/\"correlationId\"",
            "/\"CorrelationId\"",
            "/\"id\"",
            "/\"Id\"",
            "/\"properties\"/\"id\"",
        ];
        let paths: Vec<crate::jsonpath::KeyPath> = ids
            .iter()
            .filter_map(|p| crate::jsonpath::KeyPath::parse(p).ok())
            .collect();
        out.retain(|(_, v, _)| {
            paths
                .iter()
                .any(|p| p.extract(v).as_deref() == Some(key.as_str()))
        });
        if out.is_empty() {
            return Err(format!("no record has the correlationId or id \"{key}\""));
        }
    }
    Ok(out)
}

/// Run every case.
pub fn run(sim: &Simulator, cases: &[Declared]) -> Vec<CaseRun> {
    cases
        .iter()
        .map(|d| {
            let c = d.case.get_ref();
            let (line, col) = crate::diag::line_col(&d.text, d.case.span().start);
            let mut run = CaseRun {
                name: c.name.get_ref().clone(),
                declared_at: format!("{}:{line}:{col}", d.shown),
                records: Vec::new(),
                error: None,
            };
            match records_of(d) {
                Err(e) => run.error = Some(e),
                Ok(recs) => {
                    for (source, _, raw) in recs {
                        let outcome = match sim.run(&raw) {
                            Ok(o) => o,
                            Err(e) => {
                                run.error = Some(format!("{source}: {e}"));
                                continue;
                            }
                        };
                        let empty = Expect::default();
                        let expect = c.expect.as_ref().map_or(&empty, |e| e.get_ref());
                        let (checks, failures) = check(expect, &outcome);
                        run.records.push(RecordRun {
                            source,
                            outcome,
                            checks,
                            failures,
                        });
                    }
                }
            }
            run
        })
        .collect()
}

fn show(v: &Option<String>) -> String {
    match v {
        Some(s) => format!("{s:?}"),
        None => "absent".into(),
    }
}

/// Compare an outcome with the expectations: (checks made, failures as diff lines).
pub fn check(e: &Expect, o: &Outcome) -> (usize, Vec<String>) {
    let mut checks = 0;
    let mut fails = Vec::new();
    if let Some(want) = &e.event {
        checks += 1;
        let want = want.get_ref();
        let got = o.event.clone().unwrap_or_else(|| "unknown".into());
        if &got != want {
            let why = o
                .unmapped
                .as_deref()
                .map(|u| format!(" ({u})"))
                .unwrap_or_default();
            fails.push(format!(
                "event: expected {want:?}, got {got:?}{why}; device event {} / {}",
                show(&o.device_event_id),
                show(&o.device_event_category)
            ));
        }
    }
    for (name, want) in &e.properties {
        checks += 1;
        let want = want.get_ref();
        if !o.properties.contains_key(name) {
            fails.push(format!(
                "property {name}: the pack declares no such property"
            ));
            continue;
        }
        let got = o.properties.get(name).cloned().flatten();
        let ok = if want == "absent" {
            got.is_none()
        } else {
            got.as_deref() == Some(want.as_str())
        };
        if !ok {
            fails.push(format!(
                "property {name}: expected {}, got {}",
                if want == "absent" {
                    "absent".into()
                } else {
                    format!("{want:?}")
                },
                show(&got)
            ));
        }
    }
    for (name, want) in &e.fields {
        checks += 1;
        let want = want.get_ref();
        let Some(got) = o.fields.get(name) else {
            fails.push(format!(
                "field {name}: the pack's custom DSM does not parse it"
            ));
            continue;
        };
        let ok = if want == "absent" {
            got.is_none()
        } else {
            got.as_deref() == Some(want.as_str())
        };
        if !ok {
            fails.push(format!(
                "field {name}: expected {}, got {}",
                if want == "absent" {
                    "absent".into()
                } else {
                    format!("{want:?}")
                },
                show(got)
            ));
        }
    }
    let verdict = |list: &[Verdict], name: &str| list.iter().find(|v| v.name == name).cloned();
    for (names, want, list, what) in [
        (&e.fires, true, &o.rules, "rule"),
        (&e.silent, false, &o.rules, "rule"),
        (&e.searches, true, &o.searches, "search"),
        (&e.not_searches, false, &o.searches, "search"),
    ] {
        for n in names {
            checks += 1;
            let n = n.get_ref();
            match verdict(list, n) {
                None => fails.push(format!("{what} {n:?}: the pack declares no such {what}")),
                Some(v) if v.matched == Some(want) => {}
                Some(v) => fails.push(format!(
                    "{what} {n:?}: expected it {}, but {}",
                    match (what, want) {
                        ("rule", true) => "to fire",
                        ("rule", false) => "not to fire",
                        (_, true) => "to list the event",
                        _ => "not to list the event",
                    },
                    match v.matched {
                        Some(true) => format!("it matches ({})", v.reason),
                        Some(false) => format!("it does not ({})", v.reason),
                        None => v.reason,
                    }
                )),
            }
        }
    }
    (checks, fails)
}
