//! `qrpack new` / `qrpack init`: a pack from each template builds, validates with zero
//! findings and passes its tests out of the box, from a folder outside the repository;
//! existing files are never replaced.

use std::path::Path;

use crate::common::{files_below, qrpack, text};
use crate::schema::{schema_errors, to_json};

fn ok(out: &std::process::Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: exit {:?}\n{}{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Build, validate (zero findings of any level), test (every case passes), then build
/// again with --locked: what a new user and CI do first.
fn works_out_of_the_box(dir: &Path, file: &str) {
    let pack = format!("{file}.toml");
    let out = qrpack(dir, &["build", &pack]);
    ok(&out, "build");
    assert!(
        !text(&out.stderr).contains("warning"),
        "build warns: {}",
        text(&out.stderr)
    );
    let zips: Vec<String> = files_below(&dir.join("dist"))
        .into_iter()
        .filter(|f| f.ends_with(".zip"))
        .collect();
    assert_eq!(zips.len(), 1, "{zips:?}");
    let zip = format!("dist/{}", zips[0]);
    let report = ok(
        &qrpack(dir, &["validate", "--format", "json", &zip]),
        "validate",
    );
    let v: serde_json::Value = serde_json::from_str(&report).expect("json");
    let findings = v["findings"].as_array().expect("findings");
    assert!(findings.is_empty(), "validate: {findings:#?}");
    assert_eq!(v["inputs"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v["inputs"][0]["read"], true, "{v}");

    let out = ok(
        &qrpack(dir, &["test", &pack, "--junit", "junit.xml"]),
        "test",
    );
    assert!(out.contains("5 passed, 0 failed"), "{out}");
    let junit = std::fs::read_to_string(dir.join("junit.xml")).expect("junit");
    assert!(junit.contains("tests=\"5\" failures=\"0\""), "{junit}");

    ok(
        &qrpack(dir, &["build", &pack, "--locked"]),
        "build --locked",
    );

    // The files conform to the schemas their #:schema directives name.
    for (f, schema) in [
        (pack.clone(), "schema/qrpack-pack.schema.json"),
        (
            format!("{file}.tests.toml"),
            "schema/qrpack-tests.schema.json",
        ),
    ] {
        let body = std::fs::read_to_string(dir.join(&f)).expect("read");
        assert!(
            body.starts_with(&format!("#:schema ./{schema}\n")),
            "{f}: {}",
            body.lines().next().unwrap_or("")
        );
        let s: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(schema)).expect("schema"))
                .expect("json");
        let doc = to_json(&toml::from_str::<toml::Value>(&body).expect("toml"));
        let errs = schema_errors(&s, &doc);
        assert!(errs.is_empty(), "{f}: {errs:?}");
    }
}

#[test]
fn new_builtin_dsm_pack_works_out_of_the_box() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out = qrpack(
        tmp.path(),
        &[
            "new",
            "entra-roles",
            "--kind",
            "builtin-dsm",
            "--name",
            "Entra ID \"role\" assignments \\ test",
            "--hub-id",
            "example.org:entra-roles",
        ],
    );
    let said = ok(&out, "new");
    assert!(
        said.contains("created    entra-roles/entra-roles.toml"),
        "{said}"
    );
    assert!(said.contains("cd entra-roles"), "{said}");
    let dir = tmp.path().join("entra-roles");
    assert_eq!(
        files_below(&dir),
        [
            ".gitignore",
            "README.md",
            "entra-roles.tests.toml",
            "entra-roles.toml",
            "schema/qrpack-pack.schema.json",
            "schema/qrpack-tests.schema.json",
            "tests/events/role-assignments.ndjson",
        ]
    );
    let pack: toml::Value =
        toml::from_str(&std::fs::read_to_string(dir.join("entra-roles.toml")).expect("read"))
            .expect("toml");
    assert_eq!(
        pack["extension"]["name"].as_str(),
        Some("Entra ID \"role\" assignments \\ test")
    );
    assert_eq!(
        pack["extension"]["hub_id"].as_str(),
        Some("example.org:entra-roles")
    );
    works_out_of_the_box(&dir, "entra-roles");
    // The QIDs of a builtin-dsm pack: two events and the rule's offense event.
    let lock = std::fs::read_to_string(dir.join("qrpack.lock")).expect("lock");
    assert_eq!(lock.matches(" = 200000").count(), 3, "{lock}");
}

#[test]
fn init_detection_only_pack_works_out_of_the_box() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("My Detections (EU)");
    std::fs::create_dir(&dir).expect("mkdir");
    let said = ok(&qrpack(&dir, &["init", "--kind", "detection-only"]), "init");
    assert!(said.contains("created    My-Detections-EU.toml"), "{said}");
    assert!(!said.contains("cd "), "{said}");
    let pack: toml::Value =
        toml::from_str(&std::fs::read_to_string(dir.join("My-Detections-EU.toml")).expect("read"))
            .expect("toml");
    assert_eq!(
        pack["extension"]["name"].as_str(),
        Some("My Detections (EU)")
    );
    assert_eq!(
        pack["extension"]["hub_id"].as_str(),
        Some("local:My Detections (EU)")
    );
    assert!(pack.get("event").is_none(), "detection-only maps no events");
    works_out_of_the_box(&dir, "My-Detections-EU");
}

#[test]
fn existing_files_are_never_replaced() {
    let tmp = tempfile::tempdir().expect("tmp");
    ok(&qrpack(tmp.path(), &["new", "p", "--name", "First"]), "new");
    let pack = tmp.path().join("p/p.toml");
    let before = std::fs::read(&pack).expect("read");

    // The same command again: every file is already as it would be written.
    let said = ok(
        &qrpack(tmp.path(), &["new", "p", "--name", "First"]),
        "again",
    );
    assert!(said.contains("unchanged  p/p.toml"), "{said}");
    assert!(!said.contains("created"), "{said}");

    // Another name: the pack file differs, so nothing is written.
    let out = qrpack(tmp.path(), &["new", "p", "--name", "Second"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("error[PK140]: p/p.toml already exists"),
        "{err}"
    );
    assert!(err.contains("help: qrpack never overwrites"), "{err}");
    assert!(err.contains("nothing was written"), "{err}");
    assert_eq!(std::fs::read(&pack).expect("read"), before);

    // One stray file of the user's: refused, and no other file appears.
    let other = tmp.path().join("q");
    std::fs::create_dir(&other).expect("mkdir");
    std::fs::write(other.join("README.md"), "mine\n").expect("write");
    let out = qrpack(&other, &["init", "--kind", "detection-only"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("error[PK140]:"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(files_below(&other), ["README.md"]);
    assert_eq!(
        std::fs::read_to_string(other.join("README.md")).expect("read"),
        "mine\n"
    );
}

#[test]
fn unusable_names_are_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().expect("tmp");
    for args in [
        &["new", "p", "--name", ""][..],
        &["new", "p", "--name", "two\nlines"][..],
        &["new", "p", "--hub-id", "   "][..],
    ] {
        let out = qrpack(tmp.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.contains("error[PK141]"), "{err}");
        assert!(err.contains("help: give --"), "{err}");
        assert!(
            !tmp.path().join("p").exists(),
            "{args:?} created the folder"
        );
    }
    let out = qrpack(tmp.path(), &["new", "p", "--kind", "custom-dsm"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("builtin-dsm"),
        "{}",
        text(&out.stderr)
    );
}
