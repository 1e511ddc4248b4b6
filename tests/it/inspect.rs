//! `qrpack inspect`: complete summaries of the real exports and of our own archives.

use crate::common::*;

fn inspect_json(path: &std::path::Path) -> serde_json::Value {
    let out = qrpack(
        &root(),
        &["inspect", "--format", "json", &path.display().to_string()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    v[0].clone()
}

#[test]
fn inspects_the_custom_dsm_export_completely() {
    let v =
        inspect_json(&root().join("tests/fixtures/reference-exports/custom-json-dsm-teleport.zip"));
    assert_eq!(v["qradar_version"], "2019.14.0.20191031163225");
    assert_eq!(v["manifest"]["name"], "Custom Teleport Bastion");
    assert_eq!(v["counts"]["qidmap"], 9);
    assert_eq!(v["counts"]["dsmevent"], 10);
    let events = v["events"].as_array().expect("events");
    assert_eq!(events.len(), 9);
    // Every mapping is shown under its event: 10 spellings over 9 events.
    let spellings: usize = events
        .iter()
        .map(|e| e["device_events"].as_array().map_or(0, |d| d.len()))
        .sum();
    assert_eq!(spellings, 10);
    let closed = events
        .iter()
        .find(|e| e["name"] == "[Teleport] Session Closed")
        .expect("event");
    assert_eq!(closed["device_events"].as_array().map(|d| d.len()), Some(2));
    assert_eq!(closed["category_name"], "Session Closed");
    let props = v["properties"].as_array().expect("properties");
    assert_eq!(props.len(), 8);
    assert!(
        props
            .iter()
            .all(|p| p["expressions"].as_array().is_some_and(|e| e.len() == 1))
    );
    let mfa = props
        .iter()
        .find(|p| p["name"] == "Teleport MFA Device Name")
        .expect("property");
    assert_eq!(
        mfa["expressions"][0]["expression"],
        "/\"mfa_device\"/\"mfa_device_name\""
    );
    let ext = &v["log_source_extensions"][0];
    assert!(ext["error"].is_null());
    let parsing: Vec<String> = ext["parsing"]
        .as_array()
        .expect("parsing")
        .iter()
        .map(|p| p.as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        parsing
            .iter()
            .any(|p| p.starts_with("EventName ← JSON key path /\"code\"")),
        "{parsing:?}"
    );
    assert!(
        parsing.iter().any(|p| p
            .starts_with("DeviceTime ← JSON key path /\"time\", format yyyy-MM-dd'T'HH:mm:ss.SSS")),
        "{parsing:?}"
    );
    assert_eq!(
        parsing
            .iter()
            .filter(|p| p.starts_with("UserName ←"))
            .count(),
        2
    );
    assert_eq!(v["log_source_types"][0]["id"], 4003);
    assert_eq!(
        v["log_source_types"][0]["protocols"]
            .as_array()
            .map(|p| p.len()),
        Some(75)
    );
}

#[test]
fn inspects_the_builtin_dsm_export_completely() {
    let v = inspect_json(
        &root().join("tests/fixtures/reference-exports/builtin-dsm-extension-windows-openssh.zip"),
    );
    assert_eq!(v["events"].as_array().map(|e| e.len()), Some(6));
    let props = v["properties"].as_array().expect("properties");
    assert_eq!(props.len(), 11);
    let exprs: usize = props
        .iter()
        .map(|p| p["expressions"].as_array().map_or(0, |e| e.len()))
        .sum();
    assert_eq!(
        exprs, 16,
        "every regex expression is shown under its property"
    );
    let account = props
        .iter()
        .find(|p| p["name"] == "AccountName")
        .expect("AccountName");
    assert!(
        account["expressions"]
            .as_array()
            .expect("e")
            .iter()
            .any(|e| e["qid"] == 5000072 && e["kind"] == "regex")
    );
    let failed = v["events"]
        .as_array()
        .expect("e")
        .iter()
        .find(|e| e["qid"] == 2000000)
        .expect("2000000");
    assert_eq!(
        failed["device_events"].as_array().map(|d| d.len()),
        Some(2),
        "Failed password and Invalid user"
    );
}

#[test]
fn inspects_our_archive_with_rules_in_words() {
    let d = pack_dir();
    assert_eq!(qrpack(d.path(), &["build", PACK]).status.code(), Some(0));
    let v = inspect_json(&d.path().join("dist").join(ARCHIVE));
    assert_eq!(v["findings"]["errors"], 0);
    assert_eq!(v["findings"]["warnings"], 0);
    let rules = v["rules"].as_array().expect("rules");
    assert_eq!(rules.len(), 2);
    let rule = rules
        .iter()
        .find(|r| r["building_block"] == false)
        .expect("rule");
    let tests: Vec<&str> = rule["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .filter_map(|t| t.as_str())
        .collect();
    assert!(
        tests[0].starts_with("the log source type is one of 445"),
        "{tests:?}"
    );
    assert!(
        tests[1].contains("2000004 (Create application password for user)"),
        "{tests:?}"
    );
    assert_eq!(
        tests[2],
        "the event matches the AQL filter: \"Result\" = 'success' OR \"Result\" IS NULL OR \"Result\" = ''"
    );
    assert!(
        rule["response"]
            .as_str()
            .is_some_and(|r| r.contains("create an offense"))
    );
    assert_eq!(rule["groups"][0], "Entra ID T1098.001");
    // The human form names every section.
    let out = qrpack(d.path(), &["inspect", &format!("dist/{ARCHIVE}")]);
    let human = text(&out.stdout);
    for section in [
        "Events (11)",
        "Properties (6)",
        "Rules (2)",
        "when the log source type",
        "← type 445 \"Add service principal credentials-success\"",
    ] {
        assert!(human.contains(section), "{section} missing:\n{human}");
    }
}
