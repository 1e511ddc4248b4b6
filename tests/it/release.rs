//! `qrpack release`: version N is released, then the pack is changed in each way that
//! would break what N installed, and the release must refuse with its own code, at the
//! right place, writing nothing; allowed changes and the deprecation path go through.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use base64::Engine;
use qrpack::content::{Content, Row};

use crate::common::*;

const HUB: &str = "example:release test";

/// A small pack: three events, two properties, a building block, a rule with a response
/// and a saved search. `@VERSION@` is the version.
const SMALL: &str = r#"[extension]
hub_id = "example:release test"
name = "Release test"
version = "@VERSION@"
author = "QA"
author_email = "qa@example.org"
description = "A small pack for release checks."
min_qradar_version = "2021.6.0"
timestamp = 2026-01-15T00:00:00Z

[log_source_type]
id = 445
name = "Microsoft Azure Active Directory"

[dsm]
event_id = "{operation}"
event_category = "{category}"

[dsm.defaults]
category = ["ApplicationManagement"]

[[event]]
name = "Add service principal credentials"
severity = 8
category = "User Account Changed"
match = { operation = ["Add service principal credentials"] }

[[event]]
name = "Add owner to application"
description = "An owner was added to an application."
severity = 7
category = "User Account Changed"
match = { operation = ["Add owner to application"] }

[[event]]
name = "Add application"
severity = 3
category = "Create Activity Succeeded"
match = { operation = ["Add application"] }

[[property]]
name = "Result"

[[property.expression]]
json = '/"properties"/"result"'

[[property]]
name = "TargetObjectName"

[[property.expression]]
json = '/"properties"/"targetResources"[0]/"displayName"'

[[rule]]
name = "BB: credential activity"
building_block = true
events = ["Add service principal credentials", "Add owner to application", "Add application"]

[[rule]]
name = "High-risk credential added"
notes = "Credentials or owners added."
events = ["Add service principal credentials", "Add owner to application"]
aql = """"Result" = 'success'"""

[rule.response]
severity = 8
credibility = 7
relevance = 8

[[search]]
name = "Credential activity"
aql = "SELECT QIDNAME(qid), \"Result\" FROM events WHERE qid IN ({{qids}})"
"#;

fn small(version: &str) -> String {
    SMALL.replace("@VERSION@", version)
}

fn archive_name(version: &str) -> String {
    format!("{}-{version}.zip", qrpack::archive::slug_file_name(HUB))
}

/// A folder holding release 1.0.0 of the small pack in `v1/`, and its lock.
fn released_v1() -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("temp dir");
    std::fs::write(d.path().join("pack.toml"), small("1.0.0")).expect("write");
    let out = qrpack(d.path(), &["release", "pack.toml", "--initial", "-o", "v1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(d.path().join("v1").join(archive_name("1.0.0")).is_file());
    d
}

/// Write `pack` and release it against `previous` (relative to `dir`) into `out_dir`.
fn release(dir: &Path, pack: &str, previous: &str, out_dir: &str) -> std::process::Output {
    std::fs::write(dir.join("pack.toml"), pack).expect("write");
    qrpack(
        dir,
        &[
            "release",
            "pack.toml",
            "--previous",
            previous,
            "-o",
            out_dir,
        ],
    )
}

fn v1_archive() -> String {
    format!("v1/{}", archive_name("1.0.0"))
}

/// `needle`'s `line:column` in `text` (the pack as written).
fn at(text: &str, needle: &str) -> String {
    let i = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in the pack"));
    let (l, c) = qrpack::diag::line_col(text, i);
    format!("pack.toml:{l}:{c}")
}

/// The release was refused with `code`, its stderr holds every needle, and nothing was
/// written (neither the output folder nor a changed lock).
fn assert_refused(dir: &Path, out: &std::process::Output, code: &str, needles: &[&str]) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("error[{code}]")),
        "want {code}:\n{err}"
    );
    for n in needles {
        assert!(err.contains(n), "want {n:?} in:\n{err}");
    }
    assert!(err.contains("help:"), "{err}");
    assert!(err.contains("(nothing was written)"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        files_below(&dir.join("out")).is_empty(),
        "a refused release wrote {:?}",
        files_below(&dir.join("out"))
    );
}

#[test]
fn first_release_writes_archive_notes_and_sums() {
    let d = released_v1();
    let v1 = d.path().join("v1");
    let files = files_below(&v1);
    assert_eq!(
        files,
        vec![
            "RELEASE_NOTES.md".to_string(),
            "SHA256SUMS".to_string(),
            archive_name("1.0.0"),
            "searches/Credential-activity.aql".to_string(),
        ]
    );
    // SHA256SUMS covers every other file, in `sha256sum -c` form.
    let sums = std::fs::read_to_string(v1.join("SHA256SUMS")).expect("sums");
    for f in files.iter().filter(|f| *f != "SHA256SUMS") {
        let want = format!("{}  {f}", sha256_file(&v1.join(f)));
        assert!(sums.lines().any(|l| l == want), "{want} not in\n{sums}");
    }
    let notes = std::fs::read_to_string(v1.join("RELEASE_NOTES.md")).expect("notes");
    assert!(notes.starts_with("# Release test 1.0.0\n"), "{notes}");
    assert!(notes.contains("- First release"), "{notes}");
    assert!(
        notes.contains(&format!(
            "(SHA-256 `{}`)",
            sha256_file(&v1.join(archive_name("1.0.0")))
        )),
        "{notes}"
    );
    assert!(
        notes.contains("- **Added** `Add owner to application` — QID 2000001, severity 7"),
        "{notes}"
    );
    // The lock records every QID.
    let lock = std::fs::read_to_string(d.path().join("qrpack.lock")).expect("lock");
    assert!(
        lock.contains("\"Add owner to application\" = 2000001"),
        "{lock}"
    );
    // Neither --previous nor --initial: a usage error.
    let out = qrpack(d.path(), &["release", "pack.toml", "-o", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!d.path().join("x").exists());
}

#[test]
fn renaming_an_event_is_refused_and_points_at_the_new_name() {
    let d = released_v1();
    // The name changes (and the rules' references to it); the spellings stay.
    let pack = small("1.1.0")
        .replace("Add owner to application\"", "Add application owner\"")
        .replace(
            "operation = [\"Add application owner\"]",
            "operation = [\"Add owner to application\"]",
        );
    let out = release(d.path(), &pack, &v1_archive(), "out");
    assert_refused(
        d.path(),
        &out,
        "PK122",
        &[
            "the QID \"Add owner to application\" (2000001) of release 1.0.0 is gone: \"Add application owner\" now has its device events (a rename?)",
            &at(&pack, "\"Add application owner\"\ndescription"),
            "QRadar recognises an installed QID by its name",
            "deprecated = true",
        ],
    );
    let lock = std::fs::read_to_string(d.path().join("qrpack.lock")).expect("lock");
    assert!(
        !lock.contains("Add application owner"),
        "the lock changed:\n{lock}"
    );
}

#[test]
fn removing_an_event_is_refused_with_where_it_was() {
    let d = released_v1();
    let pack = small("1.1.0").replace(
        "[[event]]\nname = \"Add application\"\nseverity = 3\ncategory = \"Create Activity Succeeded\"\nmatch = { operation = [\"Add application\"] }\n",
        "",
    ).replace(", \"Add application\"]", "]");
    assert!(!pack.contains("name = \"Add application\""));
    let out = release(d.path(), &pack, &v1_archive(), "out");
    assert_refused(
        d.path(),
        &out,
        "PK122",
        &[
            "the QID \"Add application\" (2000002) of release 1.0.0 is gone",
            // Where release 1.0.0 holds it: the qidmap row in its content XML.
            &format!(
                "release 1.0.0 has it at v1/{}!Release test-",
                archive_name("1.0.0")
            ),
        ],
    );
}

#[test]
fn renumbering_a_qid_is_refused() {
    // The lock is lost and the events are reordered: numbers move.
    let d = released_v1();
    std::fs::remove_file(d.path().join("qrpack.lock")).expect("rm lock");
    let v = small("1.1.0");
    let first = "[[event]]\nname = \"Add service principal credentials\"\nseverity = 8\ncategory = \"User Account Changed\"\nmatch = { operation = [\"Add service principal credentials\"] }\n\n";
    let pack = v.replacen(first, "", 1).replacen(
        "[[property]]\nname = \"Result\"",
        &format!("{first}[[property]]\nname = \"Result\""),
        1,
    );
    let out = release(d.path(), &pack, &v1_archive(), "out");
    assert_refused(
        d.path(),
        &out,
        "PK123",
        &[
            "the QID \"Add service principal credentials\" was 2000000 in release 1.0.0 and is 2000002 now",
            "the QID \"Add owner to application\" was 2000001 in release 1.0.0 and is 2000000 now",
            &at(&pack, "\"Add owner to application\"\ndescription"),
            "put the line `\"Add owner to application\" = 2000001` back in the lock",
        ],
    );
    assert!(!d.path().join("qrpack.lock").exists(), "a lock was written");

    // A pin on another number: pointed at.
    let pack = small("1.1.0").replace(
        "name = \"Add application\"\nseverity = 3",
        "name = \"Add application\"\nqid = 2000100\nseverity = 3",
    );
    let out = release(d.path(), &pack, &v1_archive(), "out");
    assert_refused(
        d.path(),
        &out,
        "PK123",
        &[
            "the QID \"Add application\" was 2000002 in release 1.0.0 and is 2000100 now",
            &at(&pack, "2000100"),
            "pin `qid = 2000002` again",
        ],
    );
}

#[test]
fn changing_or_dropping_a_rule_uuid_is_refused() {
    let d = released_v1();
    let v1 = read_content(&d.path().join(v1_archive()));
    let old_uuid = rule_uuid_named(&v1, "High-risk credential added");

    // A pinned uuid that is not the released one.
    let other = "9b2f3c1e-0000-4000-8000-000000000001";
    let pin = |u: &str| {
        small("1.1.0").replace(
            "name = \"High-risk credential added\"\n",
            &format!("name = \"High-risk credential added\"\nuuid = \"{u}\"\n"),
        )
    };
    let pack = pin(other);
    let out = release(d.path(), &pack, &v1_archive(), "out");
    assert_refused(
        d.path(),
        &out,
        "PK124",
        &[
            &format!(
                "the rule \"High-risk credential added\" had the uuid {old_uuid} in release 1.0.0 and has {other} now"
            ),
            &at(&pack, &format!("\"{other}\"")),
            &format!("uuid = \"{old_uuid}\""),
        ],
    );

    // Renamed: the uuid (derived from the name) is new, the old one gone. Its response
    // keeps the released QID name, so only the rule is refused.
    let renamed = small("1.1.0")
        .replace(
            "name = \"High-risk credential added\"\n",
            "name = \"High-risk credential or owner added\"\n",
        )
        .replace(
            "[rule.response]\n",
            "[rule.response]\nevent_name = \"High-risk credential added\"\n",
        );
    let out = release(d.path(), &renamed, &v1_archive(), "out");
    assert_refused(
        d.path(),
        &out,
        "PK124",
        &[
            &format!(
                "the rule \"High-risk credential added\" (uuid {old_uuid}) of release 1.0.0 is gone"
            ),
            "rules new in this release: \"High-risk credential or owner added\"",
            &format!("pin its uuid in the renamed rule: uuid = \"{old_uuid}\""),
        ],
    );
    assert!(
        !text(&out.stderr).contains("PK122"),
        "{}",
        text(&out.stderr)
    );

    // ... and pinning the released uuid in the renamed rule lets it through.
    let fixed = renamed.replace(
        "name = \"High-risk credential or owner added\"\n",
        &format!("name = \"High-risk credential or owner added\"\nuuid = \"{old_uuid}\"\n"),
    );
    let out = release(d.path(), &fixed, &v1_archive(), "out");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let notes = std::fs::read_to_string(d.path().join("out/RELEASE_NOTES.md")).expect("notes");
    assert!(
        notes.contains("- **Changed** `High-risk credential or owner added` (renamed from `High-risk credential added`)"),
        "{notes}"
    );

    // Removed.
    let d = released_v1();
    let i = SMALL.find("[[rule]]\nname = \"High-risk").expect("rule");
    let j = SMALL.find("[[search]]").expect("search");
    let removed = format!("{}{}", &SMALL[..i], &SMALL[j..]).replace("@VERSION@", "1.1.0");
    let out = release(d.path(), &removed, &v1_archive(), "out");
    assert_refused(
        d.path(),
        &out,
        "PK124",
        &[&format!(
            "the rule \"High-risk credential added\" (uuid {old_uuid}) of release 1.0.0 is gone"
        )],
    );
    // Its dispatched QID went with it, and is refused too.
    assert!(
        text(&out.stderr)
            .contains("error[PK122]: the QID \"High-risk credential added\" (2000003)"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn changing_a_property_identity_is_refused() {
    let d = released_v1();
    // Type.
    let pack = small("1.1.0").replace(
        "name = \"Result\"\n",
        "name = \"Result\"\ntype = \"number\"\n",
    );
    let out = release(d.path(), &pack, &v1_archive(), "out");
    assert_refused(
        d.path(),
        &out,
        "PK125",
        &[
            "the property \"Result\" was string in release 1.0.0 and is numeric now",
            &at(&pack, "\"Result\"\ntype"),
        ],
    );
    // Name.
    let pack = small("1.1.0").replace("name = \"TargetObjectName\"", "name = \"TargetName\"");
    let out = release(d.path(), &pack, &v1_archive(), "out");
    assert_refused(
        d.path(),
        &out,
        "PK125",
        &["the property \"TargetObjectName\" (string) of release 1.0.0 is gone"],
    );
    // Removed.
    let pack = small("1.1.0").replace(
        "[[property]]\nname = \"TargetObjectName\"\n\n[[property.expression]]\njson = '/\"properties\"/\"targetResources\"[0]/\"displayName\"'\n",
        "",
    );
    assert!(!pack.contains("TargetObjectName"));
    let out = release(d.path(), &pack, &v1_archive(), "out");
    assert_refused(
        d.path(),
        &out,
        "PK125",
        &["the property \"TargetObjectName\" (string) of release 1.0.0 is gone"],
    );
}

#[test]
fn versions_must_go_up_when_content_changes() {
    let d = released_v1();
    // Content changed, version the same.
    let pack = small("1.0.0").replace("severity = 3", "severity = 4");
    let out = release(d.path(), &pack, &v1_archive(), "out");
    assert_refused(
        d.path(),
        &out,
        "PK120",
        &[
            "the content changed since release 1.0.0 (0 added, 0 removed, 1 changed), but the version is still 1.0.0",
            &at(&pack, "\"1.0.0\""),
            "1.0.1 for fixes, 1.1.0 for new content, 2.0.0 when something was removed",
        ],
    );
    // Version down.
    let pack = small("0.9.0");
    let out = release(d.path(), &pack, &v1_archive(), "out");
    assert_refused(
        d.path(),
        &out,
        "PK121",
        &[
            "version 0.9.0 is lower than the previous release's 1.0.0",
            &at(&pack, "\"0.9.0\""),
        ],
    );
    // Same version, same content: a rebuild, allowed.
    let out = release(d.path(), &small("1.0.0"), &v1_archive(), "same");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        sha256_file(&d.path().join("same").join(archive_name("1.0.0"))),
        sha256_file(&d.path().join(v1_archive())),
        "the same pack gives the same archive"
    );
    // Another extension.
    let pack = small("1.1.0").replace(
        "hub_id = \"example:release test\"",
        "hub_id = \"example:other\"",
    );
    let out = release(d.path(), &pack, &v1_archive(), "out");
    assert_refused(
        d.path(),
        &out,
        "PK126",
        &["is the extension \"example:release test\", not \"example:other\""],
    );
}

#[test]
fn an_allowed_change_with_a_version_bump_is_released_with_notes() {
    let d = released_v1();
    let pack = small("1.1.0")
        .replace("severity = 3", "severity = 5")
        .replace(
            "[[property]]\nname = \"Result\"",
            "[[event]]\nname = \"Update application\"\nseverity = 4\ncategory = \"User Account Changed\"\nmatch = { operation = [\"Update application\"] }\n\n[[property]]\nname = \"Result\"",
        );
    let out = release(d.path(), &pack, &v1_archive(), "out");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("(1.1.0 since 1.0.0: 2 added, 0 removed, 2 changed)"),
        "{stdout}"
    );
    let o = d.path().join("out");
    let notes = std::fs::read_to_string(o.join("RELEASE_NOTES.md")).expect("notes");
    for want in [
        "# Release test 1.1.0\n",
        "- Previous release: 1.0.0",
        "## Changes since 1.0.0",
        "### Extension\n\n- version: `1.0.0` → `1.1.0`",
        "### Events (QIDs)",
        "- **Added** `Update application` — QID 2000004, severity 4, category 3032 User Account Changed",
        "- **Changed** `Add application` — severity: `3` → `5`",
        "### DSM mappings",
        "- **Added** `\"Update application\" / \"ApplicationManagement\" (log source type 445)` — maps to \"Update application\"",
        // {{qids}} in the search now holds the new QID; the release folder of 1.0.0
        // has the search as it was.
        "### Saved searches\n\n- **Changed** `searches/Credential-activity.aql` — aql: now `SELECT QIDNAME(qid), \"Result\" FROM events WHERE qid IN (2000000, 2000001, 2000002, 2000004)`",
    ] {
        assert!(notes.contains(want), "want {want:?} in\n{notes}");
    }
    let sums = std::fs::read_to_string(o.join("SHA256SUMS")).expect("sums");
    assert!(
        sums.contains(&format!(
            "{}  RELEASE_NOTES.md",
            sha256_file(&o.join("RELEASE_NOTES.md"))
        )),
        "{sums}"
    );
    // The new QID is locked; the JSON report says what was written.
    let lock = std::fs::read_to_string(d.path().join("qrpack.lock")).expect("lock");
    assert!(lock.contains("\"Update application\" = 2000004"), "{lock}");
    let out = qrpack(
        d.path(),
        &[
            "release",
            "pack.toml",
            "--previous",
            &v1_archive(),
            "-o",
            "out2",
            "--format",
            "json",
            "--locked",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["ok"], true);
    assert_eq!(v["version"], "1.1.0");
    assert_eq!(v["previous"]["version"], "1.0.0");
    assert_eq!(v["summary"]["added"], 2);
    assert_eq!(v["files"].as_array().map(|a| a.len()), Some(4));
}

fn read_content(zip_path: &Path) -> Content {
    let f = std::fs::File::open(zip_path).expect("open zip");
    let mut z = zip::ZipArchive::new(f).expect("zip");
    for i in 0..z.len() {
        let mut e = z.by_index(i).expect("entry");
        let name = e.name().expect("name").to_string();
        if name.ends_with(".xml") {
            let mut b = Vec::new();
            e.read_to_end(&mut b).expect("read");
            return qrpack::xml::read_content(&b).expect("content XML");
        }
    }
    panic!("no content XML in {}", zip_path.display());
}

fn rows<'c>(c: &'c Content, table: &str) -> Vec<&'c Row> {
    c.rows.iter().filter(|r| r.table == table).collect()
}

fn decoded_rules(c: &Content) -> Vec<(String, String)> {
    rows(c, "custom_rule")
        .iter()
        .map(|r| {
            let xml = base64::engine::general_purpose::STANDARD
                .decode(r.get("rule_data").expect("rule_data"))
                .expect("base64");
            (
                r.get("uuid").expect("uuid").to_string(),
                String::from_utf8(xml).expect("utf-8"),
            )
        })
        .collect()
}

fn rule_uuid_named(c: &Content, name: &str) -> String {
    decoded_rules(c)
        .into_iter()
        .find(|(_, xml)| xml.contains(&format!("<name>{name}</name>")))
        .map(|(u, _)| u)
        .unwrap_or_else(|| panic!("no rule {name}"))
}

/// Release 1.1.0 deprecates an event (its spelling moves to its replacement), a
/// building block and a property: it goes through, and the archive keeps them in their
/// deprecated form. Release 2.0.0 removes them: it goes through against 1.1.0, and is
/// refused against 1.0.0, which never said they were deprecated.
#[test]
fn deprecating_then_removing_follows_the_documented_path() {
    let d = released_v1();
    let v2 = small("1.1.0")
        .replace(
            "name = \"Add owner to application\"\n",
            "name = \"Add owner to application\"\ndeprecated = true\ndeprecated_reason = \"merged into Add application\"\nreplaced_by = \"Add application\"\n",
        )
        .replace(
            "match = { operation = [\"Add application\"] }",
            "match = { operation = [\"Add application\", \"Add owner to application\"] }",
        )
        .replace(
            "name = \"BB: credential activity\"\n",
            "name = \"BB: credential activity\"\ndeprecated = true\n",
        )
        .replace(
            "name = \"TargetObjectName\"\n",
            "name = \"TargetObjectName\"\ndeprecated = true\ndeprecated_reason = \"not reliable\"\n",
        );
    // The rule still tests the deprecated event: a warning, not a refusal.
    let out = release(d.path(), &v2, &v1_archive(), "v2");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("warning[PK129]: the rule \"High-risk credential added\" names the deprecated event \"Add owner to application\""),
        "{err}"
    );
    assert!(
        err.contains("name its replacement \"Add application\" here"),
        "{err}"
    );
    // The archive: the QID stays (name, number), with the mark, and maps nothing; its
    // spelling maps to the replacement.
    let c = read_content(&d.path().join("v2").join(archive_name("1.1.0")));
    let qm = rows(&c, "qidmap");
    let owner = qm
        .iter()
        .find(|r| r.get("qname") == Some("Add owner to application"))
        .expect("deprecated QID kept");
    assert_eq!(owner.get("qid"), Some("2000001"));
    assert_eq!(
        owner.get("qdescription"),
        Some(
            "DEPRECATED: merged into Add application (replaced by \"Add application\"). An owner was added to an application."
        )
    );
    let app_id = qm
        .iter()
        .find(|r| r.get("qname") == Some("Add application"))
        .and_then(|r| r.get("id"))
        .expect("Add application");
    let dsm = rows(&c, "dsmevent");
    assert!(
        dsm.iter().all(|r| r.get("qidmapid") != owner.get("id")),
        "a deprecated QID maps no device event"
    );
    assert!(dsm.iter().any(
        |r| r.get("deviceeventid") == Some("Add owner to application")
            && r.get("qidmapid") == Some(app_id)
    ));
    let bb = decoded_rules(&c)
        .into_iter()
        .find(|(_, x)| x.contains("<name>BB: credential activity</name>"))
        .expect("deprecated building block kept")
        .1;
    assert!(bb.contains("enabled=\"false\""), "{bb}");
    assert!(bb.contains("<notes>DEPRECATED.</notes>"), "{bb}");
    let prop = rows(&c, "ariel_regex_property")
        .into_iter()
        .find(|r| r.get("propertyname") == Some("TargetObjectName"))
        .expect("deprecated property kept");
    assert_eq!(prop.get("description"), Some("DEPRECATED: not reliable."));
    let notes = std::fs::read_to_string(d.path().join("v2/RELEASE_NOTES.md")).expect("notes");
    for want in [
        "- **Deprecated** `Add owner to application` — merged into Add application (replaced by \"Add application\")",
        "- **Deprecated** `TargetObjectName` — not reliable",
        "- **Deprecated** `BB: credential activity`",
        "## Deprecated\n\nStill installed by this release, to be removed in a later one:",
        "- QID `Add owner to application`",
        "- rule `BB: credential activity`",
        "- property `TargetObjectName`",
    ] {
        assert!(notes.contains(want), "want {want:?} in\n{notes}");
    }

    // 2.0.0: removed.
    let cut = |text: &str, from: &str, to: &str| -> String {
        let i = text.find(from).unwrap_or_else(|| panic!("{from:?}"));
        let j = i + text[i..].find(to).unwrap_or_else(|| panic!("{to:?}"));
        format!("{}{}", &text[..i], &text[j..])
    };
    let mut v3 = v2.replace("version = \"1.1.0\"", "version = \"2.0.0\"");
    v3 = cut(
        &v3,
        "[[event]]\nname = \"Add owner",
        "[[event]]\nname = \"Add application\"",
    );
    v3 = cut(&v3, "[[property]]\nname = \"TargetObjectName\"", "[[rule]]");
    v3 = cut(
        &v3,
        "[[rule]]\nname = \"BB:",
        "[[rule]]\nname = \"High-risk",
    );
    v3 = v3.replace(
        "events = [\"Add service principal credentials\", \"Add owner to application\"]",
        "events = [\"Add service principal credentials\", \"Add application\"]",
    );
    assert!(!v3.contains("deprecated"), "{v3}");
    let v2_archive = format!("v2/{}", archive_name("1.1.0"));
    let out = release(d.path(), &v3, &v2_archive, "v3");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("warning"), "{err}");
    let notes = std::fs::read_to_string(d.path().join("v3/RELEASE_NOTES.md")).expect("notes");
    for want in [
        "- **Removed** `Add owner to application` — QID 2000001, severity 7, category 3032 User Account Changed, deprecated",
        "- **Removed** `BB: credential activity` — uuid ",
        "- **Removed** `TargetObjectName (string)` — 1 expression, deprecated",
    ] {
        assert!(notes.contains(want), "want {want:?} in\n{notes}");
    }
    // The QID number stays in the lock: never given to another name.
    let lock = std::fs::read_to_string(d.path().join("qrpack.lock")).expect("lock");
    assert!(
        lock.contains("\"Add owner to application\" = 2000001"),
        "{lock}"
    );

    // Against 1.0.0, which never said they were deprecated: refused, each with its code.
    let out = release(d.path(), &v3, &v1_archive(), "out");
    let err = text(&out.stderr);
    assert_refused(
        d.path(),
        &out,
        "PK122",
        &["the QID \"Add owner to application\" (2000001) of release 1.0.0 is gone"],
    );
    assert!(
        err.contains("error[PK124]: the rule \"BB: credential activity\""),
        "{err}"
    );
    assert!(
        err.contains(
            "error[PK125]: the property \"TargetObjectName\" (string) of release 1.0.0 is gone"
        ),
        "{err}"
    );
}

#[test]
fn deprecation_keys_are_checked_by_every_build() {
    let d = tempfile::tempdir().expect("temp dir");
    let cases: &[(&str, &str, &str, &str, &str)] = &[
        (
            "reason without deprecated",
            "name = \"Add application\"\n",
            "name = \"Add application\"\ndeprecated_reason = \"old\"\n",
            "PK127",
            "\"old\"",
        ),
        (
            "replacement unknown",
            "name = \"Add application\"\n",
            "name = \"Add application\"\ndeprecated = true\nreplaced_by = \"Nope\"\n",
            "PK128",
            "\"Nope\"",
        ),
        (
            "replaced by itself",
            "name = \"Result\"\n",
            "name = \"Result\"\ndeprecated = true\nreplaced_by = \"Result\"\n",
            "PK128",
            "\"Result\"\n",
        ),
        (
            "uuid pin not a uuid",
            "name = \"High-risk credential added\"\n",
            "name = \"High-risk credential added\"\nuuid = \"not-a-uuid\"\n",
            "PK130",
            "\"not-a-uuid\"",
        ),
    ];
    for (what, from, to, code, points_at) in cases {
        let pack = small("1.0.0").replacen(from, to, 1);
        std::fs::write(d.path().join("pack.toml"), &pack).expect("write");
        let out = qrpack(d.path(), &["build", "pack.toml", "-o", "dist"]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what}: {err}");
        assert!(err.contains(&format!("error[{code}]")), "{what}: {err}");
        let want = if *points_at == "\"Result\"\n" {
            // the second "Result": the value of replaced_by
            let i = pack.find("replaced_by = \"Result\"").expect("pin") + "replaced_by = ".len();
            let (l, c) = qrpack::diag::line_col(&pack, i);
            format!("pack.toml:{l}:{c}")
        } else {
            at(&pack, points_at)
        };
        assert!(err.contains(&want), "{what}: want {want}:\n{err}");
        assert!(!d.path().join("dist").exists(), "{what}: wrote output");
    }
    // Two rules with one uuid.
    let pack = small("1.0.0").replace(
        "name = \"High-risk credential added\"\n",
        "name = \"High-risk credential added\"\nuuid = \"9b2f3c1e-0000-4000-8000-000000000001\"\n",
    ).replace(
        "name = \"BB: credential activity\"\n",
        "name = \"BB: credential activity\"\nuuid = \"9B2F3C1E-0000-4000-8000-000000000001\"\n",
    );
    std::fs::write(d.path().join("pack.toml"), &pack).expect("write");
    let out = qrpack(d.path(), &["build", "pack.toml", "-o", "dist"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("error[PK130]: the rule \"High-risk credential added\" has the uuid 9b2f3c1e-0000-4000-8000-000000000001 of another rule"),
        "{err}"
    );
}

/// The default pack: release 1.0.0, then a renamed QID is refused and a fix with a
/// version bump is released.
#[test]
fn the_default_pack_follows_the_same_rules() {
    let d = pack_dir();
    let out = qrpack(d.path(), &["release", PACK, "--initial", "-o", "v1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v1: PathBuf = ["v1", ARCHIVE].iter().collect();
    let v1 = v1.display().to_string();
    let good = std::fs::read_to_string(d.path().join(PACK)).expect("pack");
    let bumped = good.replacen("version = \"1.0.0\"", "version = \"1.1.0\"", 1);

    // The event's name (and the building block's reference to it); its spelling stays.
    let renamed = bumped
        .replacen(
            "name = \"Add application\"",
            "name = \"Add application registration\"",
            1,
        )
        .replacen(
            "  \"Add application\",\n]",
            "  \"Add application registration\",\n]",
            1,
        );
    assert!(renamed.contains("operation = [\"Add application\"]"));
    let pack_path = d.path().join(PACK);
    std::fs::write(&pack_path, &renamed).expect("write");
    let out = qrpack(d.path(), &["release", PACK, "--previous", &v1, "-o", "out"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("error[PK122]: the QID \"Add application\" (2000009) of release 1.0.0 is gone: \"Add application registration\" now has its device events (a rename?)"),
        "{err}"
    );
    let i = renamed
        .find("name = \"Add application registration\"")
        .expect("name")
        + 7;
    let (l, c) = qrpack::diag::line_col(&renamed, i);
    assert!(err.contains(&format!("{PACK}:{l}:{c}")), "{err}");
    assert!(files_below(&d.path().join("out")).is_empty());

    let fixed = bumped.replacen(
        "description = \"An application registration was created.\"\nseverity = 3",
        "description = \"An application registration was created.\"\nseverity = 4",
        1,
    );
    assert_ne!(fixed, bumped);
    std::fs::write(&pack_path, &fixed).expect("write");
    let out = qrpack(d.path(), &["release", PACK, "--previous", &v1, "-o", "out"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let notes = std::fs::read_to_string(d.path().join("out/RELEASE_NOTES.md")).expect("notes");
    assert!(
        notes.contains("- **Changed** `Add application` — severity: `3` → `4`"),
        "{notes}"
    );
    let zips: BTreeMap<String, u64> = files_below(&d.path().join("out"))
        .into_iter()
        .filter(|f| f.ends_with(".zip"))
        .map(|f| (f.clone(), 0))
        .collect();
    assert_eq!(
        zips.keys().collect::<Vec<_>>(),
        vec!["qrpack-Entra-ID-Additional-Cloud-Credentials-1.1.0.zip"]
    );
}
