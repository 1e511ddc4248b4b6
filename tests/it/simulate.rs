//! `qrpack test`: the default pack's own test cases, failures with diffs, ad-hoc event
//! files, JSON and JUnit reports.

use crate::common::*;

#[test]
fn the_default_pack_passes_its_test_cases() {
    let d = pack_dir();
    let out = qrpack(d.path(), &["test", PACK]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains(" 0 failed"), "{stdout}");
    // The card's testing methodology is among them, by name.
    for case in [
        "Card test 1: client secret added via Azure CLI",
        "Card test 3: certificate credential on a service principal via PowerShell",
        "Card test 4: app password for MFA bypass via Microsoft Graph",
    ] {
        assert!(
            stdout.contains(&format!("PASS  {case}")),
            "{case} missing:\n{stdout}"
        );
    }
}

#[test]
fn a_broken_expectation_fails_with_a_diff_and_junit() {
    let d = pack_dir();
    let tests = d.path().join("entra-id-cloud-credentials.tests.toml");
    let mut t = std::fs::read_to_string(&tests).expect("tests");
    // Card test 1's event must fire the high-risk rule; claim it must not.
    let at = t
        .find("name = \"Card test 1: client secret added via Azure CLI\"")
        .expect("card test 1");
    let events_line = t[at..].lines().nth(1).expect("events line").to_string();
    let key_line = t[at..].lines().nth(2).expect("key line").to_string();
    t.push_str(&format!(
        "\n[[test]]\nname = \"Card test 1, wrongly expected silent\"\n{events_line}\n{key_line}\n[test.expect]\nsilent = [\"Entra ID: high-risk cloud credential added (T1098.001)\"]\n"
    ));
    std::fs::write(&tests, t).expect("write");
    let out = qrpack(d.path(), &["test", PACK, "--junit", "report.xml"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAIL  Card test 1, wrongly expected silent"),
        "{stdout}"
    );
    assert!(
        stdout.contains("PASS  Card test 1: client secret added via Azure CLI"),
        "{stdout}"
    );
    assert!(
        stdout.contains("✗ rule \"Entra ID: high-risk cloud credential added (T1098.001)\": expected it not to fire, but it matches"),
        "{stdout}"
    );
    assert!(stdout.contains("1 failed"), "{stdout}");
    let junit = std::fs::read_to_string(d.path().join("report.xml")).expect("junit");
    assert!(
        junit.contains("<testsuite name=\"qrpack test entra-id-cloud-credentials.toml\""),
        "{junit}"
    );
    assert!(junit.contains("failures=\"1\""), "{junit}");
    assert!(
        junit.contains("<failure message=\"rule &quot;Entra ID: high-risk"),
        "{junit}"
    );
    // well-formed
    let mut r = quick_xml::Reader::from_str(&junit);
    loop {
        match r.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("junit not well-formed: {e}"),
        }
    }
}

#[test]
fn ad_hoc_event_files_in_every_shape() {
    let d = pack_dir();
    let out = qrpack(
        d.path(),
        &[
            "test",
            PACK,
            "--format",
            "json",
            "--events",
            "tests/events/diagnostic-records.ndjson",
            "tests/events/eventhubs-batch.json",
            "tests/events/graph-page.json",
            "tests/events/log-analytics-auditlogs.json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let all = v.as_array().expect("array");
    let index: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(d.path().join("tests/events/index.json")).expect("index"),
    )
    .expect("index json");
    assert_eq!(
        all.len(),
        index.as_array().map_or(0, |a| a.len()),
        "every event of the corpus is reported, mapped or not"
    );
    let unknown = all.iter().filter(|o| o["outcome"]["qid"].is_null()).count();
    assert!(
        unknown >= 8,
        "noise events are reported as unmapped, not dropped ({unknown})"
    );
    assert!(
        all.iter()
            .all(|o| o["outcome"]["device_event_id"].is_string()),
        "every shape yields a device event id"
    );
}

#[test]
fn a_pack_without_tests_and_a_missing_file() {
    let d = pack_dir();
    let pack = d.path().join(PACK);
    let t = std::fs::read_to_string(&pack).expect("pack");
    std::fs::write(
        &pack,
        t.replacen(
            "test_files = [\"entra-id-cloud-credentials.tests.toml\"]",
            "",
            1,
        ),
    )
    .expect("write");
    let out = qrpack(d.path(), &["test", PACK]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("declares no [[test]]"),
        "{}",
        text(&out.stderr)
    );
    let out = qrpack(d.path(), &["test", PACK, "--events", "nope.json"]);
    assert_eq!(out.status.code(), Some(2));
}

/// `test` shows the pack's build warnings (with their location), as `build` does, and
/// still runs the cases; `-q` silences them.
#[test]
fn build_warnings_are_shown_by_test() {
    let d = pack_dir();
    let pack_path = d.path().join(PACK);
    let pack = std::fs::read_to_string(&pack_path).expect("pack");
    let needle = "aql = \"\"\"";
    let at = pack.find(needle).expect("a rule with an AQL filter") + needle.len();
    let pack = format!("{}\"Result\" = = 'x' OR {}", &pack[..at], &pack[at..]);
    std::fs::write(&pack_path, &pack).expect("write");
    let out = qrpack(d.path(), &["test", PACK]);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("warning[PK080]"), "{stderr}");
    assert!(stderr.contains(&format!("--> {PACK}:")), "{stderr}");
    assert!(
        text(&out.stdout).contains("passed"),
        "{}",
        text(&out.stdout)
    );
    let quiet = qrpack(d.path(), &["-q", "test", PACK]);
    assert!(
        !text(&quiet.stderr).contains("PK080"),
        "{}",
        text(&quiet.stderr)
    );
}

/// --junit and --verbose are about test cases: with --events they are a usage error
/// (exit 2), not silently ignored.
#[test]
fn junit_and_verbose_refuse_events() {
    let d = pack_dir();
    for flag in [&["--junit", "r.xml"][..], &["-v"][..]] {
        let mut args = vec!["test", PACK, "--events", "tests/events/index.json"];
        args.extend_from_slice(flag);
        let out = qrpack(d.path(), &args);
        assert_eq!(out.status.code(), Some(2), "{flag:?}");
        assert!(
            text(&out.stderr).contains("cannot be used with"),
            "{}",
            text(&out.stderr)
        );
        assert!(!d.path().join("r.xml").exists());
    }
}

/// The default pack with a catch-all event and a `[[dsm.fallback]]` for its category.
fn with_fallback(d: &std::path::Path, fallback: &str) {
    let pack_path = d.join(PACK);
    let mut pack = std::fs::read_to_string(&pack_path).expect("pack");
    pack.push_str(
        "\n[[event]]\nname = \"Other application management\"\nseverity = 3\n\
         category = \"User Account Changed\"\n\
         match = { operation = [\"Other application management\"], result = [\"success\"] }\n",
    );
    pack.push_str(fallback);
    std::fs::write(&pack_path, pack).expect("write");
}

/// `[[dsm.fallback]]`: an event whose (id, category) pair no mapping matches gets the QID
/// of the declared pair for its category; other categories stay unknown; exact mappings
/// win over the fallback.
#[test]
fn a_declared_category_fallback_maps_unmatched_events() {
    let d = pack_dir();
    with_fallback(
        d.path(),
        "\n[[dsm.fallback]]\ncategory = \"ApplicationManagement\"\n\
         event_id = \"Other application management-success\"\n",
    );
    let record = |op: &str, cat: &str| {
        format!(
            "{{\"time\":\"2025-06-02T09:14:07Z\",\"operationName\":\"{op}\",\"category\":\"AuditLogs\",\"properties\":{{\"category\":\"{cat}\",\"result\":\"failure\"}}}}\n"
        )
    };
    let events = [
        record("Set verified publisher", "ApplicationManagement"),
        record("Set verified publisher", "UserManagement"),
        record("Add service principal credentials", "ApplicationManagement"),
    ]
    .concat();
    std::fs::write(d.path().join("fb.ndjson"), events).expect("write");
    let out = qrpack(
        d.path(),
        &["test", PACK, "--format", "json", "--events", "fb.ndjson"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let o: Vec<&serde_json::Value> = v
        .as_array()
        .expect("array")
        .iter()
        .map(|x| &x["outcome"])
        .collect();
    assert_eq!(o.len(), 3);
    assert_eq!(o[0]["event"], "Other application management", "{}", o[0]);
    assert_eq!(o[0]["fallback"], "Other application management-success");
    assert!(o[0]["unmapped"].is_null(), "{}", o[0]);
    assert!(o[0]["qid"].is_i64());
    assert!(
        o[1]["qid"].is_null(),
        "no fallback for UserManagement: {}",
        o[1]
    );
    assert!(o[1].get("fallback").is_none(), "{}", o[1]);
    assert_eq!(o[2]["event"], "Add service principal credentials");
    assert!(o[2].get("fallback").is_none(), "{}", o[2]);

    // The human report says where the QID came from.
    let human = qrpack(d.path(), &["test", PACK, "--events", "fb.ndjson"]);
    let stdout = text(&human.stdout);
    assert!(
        stdout.contains("by [[dsm.fallback]]: no mapping matched, so \"Other application management-success\" was looked up"),
        "{stdout}"
    );

    // Without the declaration the same event is unknown.
    let plain = pack_dir();
    std::fs::write(
        plain.path().join("fb.ndjson"),
        record("Set verified publisher", "ApplicationManagement"),
    )
    .expect("write");
    let out = qrpack(
        plain.path(),
        &["test", PACK, "--format", "json", "--events", "fb.ndjson"],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(v[0]["outcome"]["qid"].is_null(), "{v}");
}

/// A fallback to a pair no event maps (PK151) and a second fallback for one category
/// (PK150) are errors at their lines; nothing is written.
#[test]
fn bad_fallbacks_are_errors_at_their_lines() {
    for (fallback, code, needle) in [
        (
            "\n[[dsm.fallback]]\ncategory = \"ApplicationManagement\"\nevent_id = \"Other application management\"\n",
            "PK151",
            "event_id = \"Other application management\"",
        ),
        (
            "\n[[dsm.fallback]]\ncategory = \"ApplicationManagement\"\nevent_id = \"Other application management-success\"\n\
             \n[[dsm.fallback]]\ncategory = \"ApplicationManagement\"\nevent_id = \"Add application-success\"\n",
            "PK150",
            "category = \"ApplicationManagement\"\nevent_id = \"Add application-success\"",
        ),
    ] {
        let d = pack_dir();
        with_fallback(d.path(), fallback);
        let pack = std::fs::read_to_string(d.path().join(PACK)).expect("pack");
        let line = pack[..pack.rfind(needle).expect("needle")].lines().count() + 1;
        let out = qrpack(d.path(), &["build", PACK, "-o", "dist"]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(&format!("error[{code}]")), "{stderr}");
        assert!(
            stderr.contains(&format!("--> {PACK}:{line}:")),
            "line {line}: {stderr}"
        );
        assert!(stderr.contains("help:"), "{stderr}");
        assert!(!d.path().join("dist").exists(), "nothing is written");
    }
}

/// A saved search's `LAST n HOURS` is the window it stands for: without `--now` every event
/// is inside it (NOW() is the event's own time); with a `--now` two days after the events,
/// none is, and the cases that expect the search to list them fail, naming the search.
#[test]
fn a_last_clause_is_a_window_on_the_event_time() {
    let d = pack_dir();
    let aql_path = d
        .path()
        .join("searches/t1098-001-additional-cloud-credentials.aql");
    let aql = std::fs::read_to_string(&aql_path).expect("aql");
    assert!(aql.contains("  AND starttime > NOW() - 86400000\n"));
    let aql = aql
        .replace("  AND starttime > NOW() - 86400000\n", "")
        .replace("LIMIT 1000", "LIMIT 1000\nLAST 24 HOURS");
    std::fs::write(&aql_path, aql).expect("write");
    let out = qrpack(d.path(), &["test", PACK]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let out = qrpack(d.path(), &["test", PACK, "--now", "2030-01-01T00:00:00Z"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout
            .contains("expected it to list the event, but it does not (its WHERE clause is false)"),
        "{stdout}"
    );
}
