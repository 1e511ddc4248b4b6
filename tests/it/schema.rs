//! `qrpack schema`: the committed schemas are current, valid draft-07 (and draft-4, which
//! taplo implements) schemas, the shipped packs conform, and the schema's value checks
//! agree with the build's.

use std::path::Path;

use crate::common::{PACK, pack_dir, qrpack, root, text};

/// TOML → JSON as taplo shows it to a schema: date-times become strings.
pub fn to_json(v: &toml::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        toml::Value::String(s) => J::String(s.clone()),
        toml::Value::Integer(i) => J::from(*i),
        toml::Value::Float(f) => J::from(*f),
        toml::Value::Boolean(b) => J::Bool(*b),
        toml::Value::Datetime(d) => J::String(d.to_string()),
        toml::Value::Array(a) => J::Array(a.iter().map(to_json).collect()),
        toml::Value::Table(t) => {
            J::Object(t.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
        }
    }
}

fn load(path: &Path) -> serde_json::Value {
    let t = std::fs::read_to_string(path).expect("read");
    to_json(&toml::from_str::<toml::Value>(&t).expect("TOML"))
}

fn committed(name: &str) -> serde_json::Value {
    let p = root().join("docs/schema").join(name);
    serde_json::from_str(&std::fs::read_to_string(p).expect("read schema")).expect("JSON")
}

/// The errors of `instance` under `schema`, with draft-07 and draft-4 semantics.
pub fn schema_errors(schema: &serde_json::Value, instance: &serde_json::Value) -> Vec<String> {
    let d7 = jsonschema::draft7::new(schema).expect("a valid draft-07 schema");
    let d4 = jsonschema::draft4::new(schema).expect("a valid draft-4 schema");
    let e7: Vec<String> = d7
        .iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert_eq!(
        e7.is_empty(),
        d4.is_valid(instance),
        "draft-07 and draft-4 disagree: {e7:?}"
    );
    e7
}

#[test]
fn committed_schemas_are_current() {
    let dir = root();
    for (args, name) in [
        (&["schema"][..], "qrpack-pack.schema.json"),
        (&["schema", "pack"][..], "qrpack-pack.schema.json"),
        (&["schema", "tests"][..], "qrpack-tests.schema.json"),
    ] {
        let out = qrpack(&dir, args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let path = dir.join("docs/schema").join(name);
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            text(&out.stdout) == on_disk,
            "docs/schema/{name} is stale: run `cargo run -- {} > docs/schema/{name}` and commit it",
            args.join(" ")
        );
    }
}

#[test]
fn schemas_are_valid_draft_07_and_draft_4() {
    for name in ["qrpack-pack.schema.json", "qrpack-tests.schema.json"] {
        let s = committed(name);
        assert!(jsonschema::draft7::meta::is_valid(&s), "{name}: draft-07");
        assert!(jsonschema::draft4::meta::is_valid(&s), "{name}: draft-4");
        assert_eq!(s["$schema"], "http://json-schema.org/draft-07/schema#");
    }
}

#[test]
fn shipped_packs_conform() {
    let pack_schema = committed("qrpack-pack.schema.json");
    let tests_schema = committed("qrpack-tests.schema.json");
    let mut seen = 0;
    for e in std::fs::read_dir(root().join("qid-maps")).expect("qid-maps") {
        let p = e.expect("entry").path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if !name.ends_with(".toml") {
            continue;
        }
        let schema = if name.ends_with(".tests.toml") {
            &tests_schema
        } else {
            &pack_schema
        };
        let errs = schema_errors(schema, &load(&p));
        assert!(errs.is_empty(), "{}: {errs:#?}", p.display());
        // The editor directive names the committed schema, relative to the file, in
        // the leading comments (where taplo looks for it).
        let body = std::fs::read_to_string(&p).expect("read");
        let header: Vec<&str> = body
            .lines()
            .take_while(|l| l.trim().is_empty() || l.starts_with('#'))
            .collect();
        let which = if name.ends_with(".tests.toml") {
            "qrpack-tests.schema.json"
        } else {
            "qrpack-pack.schema.json"
        };
        let directive = format!("#:schema ../docs/schema/{which}");
        assert!(
            header.contains(&directive.as_str()),
            "{name} has no `{directive}` in its leading comments"
        );
        seen += 1;
    }
    assert!(seen >= 4, "the packs and their tests files");
    // The custom-DSM fixture (custom log source type keys, [parsing]).
    let fixture = root().join("tests/fixtures/custom-dsm/teleport.toml");
    let errs = schema_errors(&pack_schema, &load(&fixture));
    assert!(errs.is_empty(), "{}: {errs:#?}", fixture.display());
}

/// Each case: a change to the default pack that the schema refuses and the build refuses
/// with this code, and the boundary value both accept.
#[test]
fn schema_value_checks_are_the_builds() {
    let schema = committed("qrpack-pack.schema.json");
    let original = std::fs::read_to_string(root().join("qid-maps").join(PACK)).expect("pack");
    let cases: &[(&str, &str, &str, &str)] = &[
        // (text in the pack, refused by both, accepted by both, build code)
        (
            "severity = 8\n",
            "severity = 11\n",
            "severity = 10\n",
            "PK033",
        ),
        (
            "relevance = 8\n",
            "relevance = -1\n",
            "relevance = 0\n",
            "PK063",
        ),
        (
            "version = \"1.0.0\"",
            "version = \"1.0\"",
            "version = \"1.0.01\"",
            "PK010",
        ),
        (
            "min_qradar_version = \"2021.6.0\"",
            "min_qradar_version = \"2021.6\"",
            "min_qradar_version = \"2021.6.0.1\"",
            "PK012",
        ),
        (
            "author_email = \"detections@example.org\"",
            "author_email = \"detections.example.org\"",
            "author_email = \"d@e\"",
            "PK011",
        ),
        (
            "name = \"Add service principal credentials\"\n",
            &format!("name = \"{}\"\n", "x".repeat(256)),
            &format!("name = \"{}\"\n", "é".repeat(255)),
            "PK030",
        ),
    ];
    let dir = pack_dir();
    for (find, bad, good, code) in cases {
        assert!(
            original.contains(find),
            "{find:?} is not in the default pack"
        );
        for (value, refused) in [(bad, true), (good, false)] {
            let changed = original.replacen(find, value, 1);
            let doc = to_json(&toml::from_str::<toml::Value>(&changed).expect("TOML"));
            let errs = schema_errors(&schema, &doc);
            assert_eq!(!errs.is_empty(), refused, "schema on {value:?}: {errs:?}");
            std::fs::write(dir.path().join(PACK), &changed).expect("write");
            let out = qrpack(
                dir.path(),
                &["build", PACK, "-o", "out", "--format", "json"],
            );
            let report = text(&out.stdout);
            assert_eq!(
                report.contains(&format!("\"{code}\"")),
                refused,
                "build on {value:?}: {report}{}",
                text(&out.stderr)
            );
        }
    }
}
