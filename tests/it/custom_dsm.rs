//! Custom DSMs (issue 5): the real DSM Editor export written back from a pack that
//! describes it and compared row by row, the shipped custom-DSM pack end to end, and
//! every kind of bad custom-type key with its exact place.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

use base64::Engine;
use qrpack::content::{Content, Row};
use qrpack::device_ext::DeviceExtension;

use crate::common::*;

const CUSTOM_PACK: &str = "entra-id-custom-json.toml";
const CUSTOM_ARCHIVE: &str = "qrpack-Entra-ID-Audit-Custom-JSON-DSM-1.0.0.zip";

/// The content XML of an archive, read with the zip and XML libraries.
fn content_of_zip(bytes: &[u8]) -> Content {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("zip");
    for i in 0..z.len() {
        let mut e = z.by_index(i).expect("entry");
        if e.name().expect("entry name").ends_with(".xml") {
            let mut b = Vec::new();
            e.read_to_end(&mut b).expect("inflate");
            return qrpack::xml::read_content(&b).expect("content XML");
        }
    }
    panic!("no content XML in the archive");
}

/// Build the Teleport fixture pack in memory, with its committed lock (`--locked`).
fn build_teleport() -> qrpack::build::Built {
    let dir = root().join("tests/fixtures/custom-dsm");
    let pack_path = dir.join("teleport.toml");
    let pack_text = std::fs::read_to_string(&pack_path).expect("pack");
    let lock_path = dir.join("qrpack.lock");
    let lock_text = std::fs::read_to_string(&lock_path).expect("lock");
    let skeletons = qrpack::rule::Skeletons::builtin();
    qrpack::build::build(&qrpack::build::Input {
        pack_path: &pack_path,
        pack_text: &pack_text,
        lock: Some((&lock_path, &lock_text)),
        catalogue: qrpack::catalogue::Catalogue::builtin(),
        skeletons: &skeletons,
        source_date_epoch: None,
        locked: true,
    })
    .unwrap_or_else(|f| panic!("{:#?}", f.diagnostics))
}

fn rows<'c>(c: &'c Content, table: &str) -> Vec<&'c Row> {
    c.rows.iter().filter(|r| r.table == table).collect()
}

fn col<'r>(r: &'r Row, name: &str) -> &'r str {
    r.get(name).unwrap_or("")
}

/// The columns of a table's rows; a column whose value is empty counts as absent (the
/// export writes `<payload></payload>` where qrpack writes no payload).
fn columns(rs: &[&Row]) -> BTreeSet<String> {
    rs.iter()
        .flat_map(|r| r.columns.iter())
        .filter(|(_, v)| !v.is_empty())
        .map(|(n, _)| n.clone())
        .collect()
}

/// Compare `ours` with `theirs` column by column, except `ignored`, after pairing rows by
/// `key`. Empty values equal absent ones.
fn compare_rows(
    table: &str,
    theirs: &[&Row],
    ours: &[&Row],
    key: &dyn Fn(&Row) -> String,
    ignored: &[&str],
) {
    compare_rows_by(table, theirs, ours, key, key, ignored)
}

/// As [`compare_rows`], with a key for each side (keys that resolve references).
fn compare_rows_by(
    table: &str,
    theirs: &[&Row],
    ours: &[&Row],
    key_theirs: &dyn Fn(&Row) -> String,
    key: &dyn Fn(&Row) -> String,
    ignored: &[&str],
) {
    assert_eq!(theirs.len(), ours.len(), "{table}: row count");
    let keep = |c: &BTreeSet<String>| -> BTreeSet<String> {
        c.iter()
            .filter(|n| !ignored.contains(&n.as_str()))
            .cloned()
            .collect()
    };
    assert_eq!(
        keep(&columns(theirs)),
        keep(&columns(ours)),
        "{table}: the columns differ"
    );
    let by_key: BTreeMap<String, &Row> = ours.iter().map(|r| (key(r), *r)).collect();
    assert_eq!(by_key.len(), ours.len(), "{table}: keys are not unique");
    for t in theirs {
        let k = key_theirs(t);
        let o = by_key
            .get(&k)
            .unwrap_or_else(|| panic!("{table}: no row of ours for {k:?}"));
        for name in keep(&columns(theirs)) {
            assert_eq!(
                col(t, &name),
                col(o, &name),
                "{table} {k:?}: column {name} differs"
            );
        }
    }
}

/// A device extension, structurally: patterns by id (type, text, attributes), match
/// groups by order (override, attributes, matchers as a set, event matches).
type Shape = (
    BTreeMap<String, (String, String, BTreeMap<String, String>)>,
    Vec<(String, Option<String>, BTreeSet<String>, Vec<String>)>,
);

fn shape(ext: &DeviceExtension) -> Shape {
    let patterns = ext
        .patterns
        .iter()
        .map(|p| {
            let mut a = p.attrs.clone();
            a.remove("id");
            a.remove("type");
            (p.id.clone(), (p.kind.clone(), p.text.clone(), a))
        })
        .collect();
    let groups = ext
        .groups
        .iter()
        .map(|g| {
            let matchers = g
                .matchers
                .iter()
                .map(|m| {
                    format!(
                        "{} {} field={} pattern={} order={} capture={:?} ext-data={:?} attrs={:?}",
                        if m.json { "json-matcher" } else { "matcher" },
                        m.pattern_id,
                        m.field,
                        m.pattern_id,
                        m.order,
                        m.capture_group,
                        m.ext_data,
                        m.attrs
                    )
                })
                .collect();
            let events = g
                .event_matches
                .iter()
                .map(|e| format!("{} {} {:?}", e.kind, e.pattern_id, e.attrs))
                .collect();
            (
                g.order.clone(),
                g.device_type_id_override.clone(),
                matchers,
                events,
            )
        })
        .collect();
    (patterns, groups)
}

fn decode_extension(row: &Row) -> DeviceExtension {
    let xml = base64::engine::general_purpose::STANDARD
        .decode(col(row, "xml"))
        .expect("base64");
    qrpack::device_ext::parse(&String::from_utf8(xml).expect("utf-8")).expect("extension")
}

#[test]
fn the_teleport_export_is_written_back_from_a_pack_that_describes_it() {
    let theirs = content_of_zip(
        &std::fs::read(
            root().join("tests/fixtures/reference-exports/custom-json-dsm-teleport.zip"),
        )
        .expect("reference export"),
    );
    let built = build_teleport();
    assert!(
        built
            .findings
            .iter()
            .all(|d| d.severity < qrpack::diag::Severity::Warning),
        "{:#?}",
        built.findings
    );
    let ours = qrpack::xml::read_content(&built.content_xml()).expect("our content XML");

    // The log source type: every column but its uuid (QRadar's own) and extension_id (a
    // row id, checked below to point at the extension).
    compare_rows(
        "sensordevicetype",
        &rows(&theirs, "sensordevicetype"),
        &rows(&ours, "sensordevicetype"),
        &|r| col(r, "id").to_string(),
        &["uuid", "extension_id"],
    );
    compare_rows(
        "sensordevicecategory",
        &rows(&theirs, "sensordevicecategory"),
        &rows(&ours, "sensordevicecategory"),
        &|r| col(r, "id").to_string(),
        &[],
    );
    compare_rows(
        "sensordeviceprotocols",
        &rows(&theirs, "sensordeviceprotocols"),
        &rows(&ours, "sensordeviceprotocols"),
        &|r| {
            format!(
                "{}/{}",
                col(r, "sensordevicetypeid"),
                col(r, "sensorprotocolid")
            )
        },
        &["id"],
    );
    // The protocols themselves are referenced by id, not written: each protocol row of
    // the export is the catalogue's protocol of that id.
    let cat = qrpack::catalogue::Catalogue::builtin();
    for p in rows(&theirs, "sensorprotocol") {
        let id: u32 = col(p, "id").parse().expect("protocol id");
        assert_eq!(
            cat.protocol(id).map(|c| c.name.as_str()),
            Some(col(p, "protocolname")),
            "protocol {id}"
        );
    }
    assert!(rows(&ours, "sensorprotocol").is_empty());

    // The extension: its row (ids and uuid are QRadar's), and its document compared
    // structurally after decoding.
    compare_rows(
        "device_ext",
        &rows(&theirs, "device_ext"),
        &rows(&ours, "device_ext"),
        &|r| col(r, "name").to_string(),
        &["id", "uuid", "xml"],
    );
    for c in [&theirs, &ours] {
        let t = rows(c, "sensordevicetype")[0];
        let e = rows(c, "device_ext")[0];
        assert_eq!(col(t, "extension_id"), col(e, "id"));
    }
    let (te, oe) = (
        decode_extension(rows(&theirs, "device_ext")[0]),
        decode_extension(rows(&ours, "device_ext")[0]),
    );
    assert_eq!(shape(&te), shape(&oe));
    assert_eq!(oe.dangling_pattern_ids(), Vec::<String>::new());

    // Events: QID map entries by name. `catpipename` is QRadar's own (the export has
    // "Golf" for two System categories; qrpack writes "Echo", as most real rows have).
    compare_rows(
        "qidmap",
        &rows(&theirs, "qidmap"),
        &rows(&ours, "qidmap"),
        &|r| col(r, "qname").to_string(),
        &["id", "uuid", "catpipename"],
    );
    // Mappings by (type, event id, category), each pointing at the same QID name.
    let qname = |c: &Content, id: &str| -> String {
        rows(c, "qidmap")
            .into_iter()
            .find(|q| col(q, "id") == id)
            .map(|q| col(q, "qname").to_string())
            .unwrap_or_default()
    };
    let triple = |r: &Row| {
        format!(
            "{}/{}/{}",
            col(r, "devicetypeid"),
            col(r, "deviceeventid"),
            col(r, "deviceeventcategory")
        )
    };
    compare_rows(
        "dsmevent",
        &rows(&theirs, "dsmevent"),
        &rows(&ours, "dsmevent"),
        &triple,
        &["id", "uuid", "qidmapid"],
    );
    let mapped = |c: &Content| -> BTreeMap<String, String> {
        rows(c, "dsmevent")
            .into_iter()
            .map(|r| (triple(r), qname(c, col(r, "qidmapid"))))
            .collect()
    };
    assert_eq!(mapped(&theirs), mapped(&ours));

    // Properties by name; sequence ids and dates are QRadar's counters and clock.
    compare_rows(
        "ariel_regex_property",
        &rows(&theirs, "ariel_regex_property"),
        &rows(&ours, "ariel_regex_property"),
        &|r| col(r, "propertyname").to_string(),
        &["id", "sequenceid", "creationdate", "editdate"],
    );
    let prop_name = |c: &Content, id: &str| -> String {
        rows(c, "ariel_regex_property")
            .into_iter()
            .find(|p| col(p, "id") == id)
            .map(|p| col(p, "propertyname").to_string())
            .unwrap_or_default()
    };
    // Expressions paired by the property they belong to (each has one).
    compare_rows_by(
        "ariel_property_json_expression",
        &rows(&theirs, "ariel_property_json_expression"),
        &rows(&ours, "ariel_property_json_expression"),
        &|r| prop_name(&theirs, col(r, "ap_id")),
        &|r| prop_name(&ours, col(r, "ap_id")),
        &["id", "ap_id", "sequenceid", "creationdate", "editdate"],
    );
}

#[test]
fn the_custom_dsm_pack_builds_validates_clean_and_passes_its_tests() {
    let d = pack_dir();
    let out = qrpack(d.path(), &["build", CUSTOM_PACK, "-o", "dist", "--locked"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let archive = d.path().join("dist").join(CUSTOM_ARCHIVE);
    let out = qrpack(
        d.path(),
        &[
            "validate",
            "--format",
            "json",
            archive.to_str().expect("path"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["findings"], serde_json::json!([]), "{report:#}");
    for k in ["errors", "warnings", "infos"] {
        assert_eq!(report["summary"][k], 0, "{report:#}");
    }

    let c = content_of_zip(&std::fs::read(&archive).expect("archive"));
    let t = rows(&c, "sensordevicetype");
    assert_eq!(t.len(), 1);
    assert_eq!(col(t[0], "id"), "4050");
    assert_eq!(col(t[0], "devicetypeoverride"), "4000");
    let protocols: BTreeSet<&str> = rows(&c, "sensordeviceprotocols")
        .iter()
        .map(|r| col(r, "sensorprotocolid"))
        .collect();
    // Universal Cloud REST API and HTTP Receiver, by their catalogue ids.
    assert_eq!(protocols, BTreeSet::from(["92", "51"]));
    for table in [
        "dsmevent",
        "ariel_property_json_expression",
        "ariel_property_expression",
    ] {
        for r in rows(&c, table) {
            assert_eq!(col(r, "devicetypeid"), "4050", "{table}");
        }
    }
    let ext = decode_extension(rows(&c, "device_ext")[0]);
    assert_eq!(
        ext.groups[0].device_type_id_override.as_deref(),
        Some("4050")
    );

    let out = qrpack(d.path(), &["test", CUSTOM_PACK]);
    let so = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{so}{}", text(&out.stderr));
    assert!(so.contains("46 passed, 0 failed"), "{so}");
}

#[test]
fn the_custom_dsm_simulation_reads_each_shape_of_the_record() {
    let d = pack_dir();
    let out = qrpack(
        d.path(),
        &[
            "test",
            CUSTOM_PACK,
            "--format",
            "json",
            "--events",
            "tests/events/graph-page.json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let fields = &v[0]["outcome"]["fields"];
    // Graph's directoryAudit: the name comes from activityDisplayName (the second key
    // path), the time from activityDateTime (2026-01-12T14:03:11.4471203+00:00 in the
    // file) read with the date format, to the millisecond.
    assert_eq!(
        fields["event_name"], "Update application – Certificates and secrets management ",
        "{v:#}"
    );
    assert_eq!(fields["event_category"], "ApplicationManagement");
    let raw = std::fs::read_to_string(d.path().join("tests/events/graph-page.json")).expect("file");
    let page: serde_json::Value = serde_json::from_str(&raw).expect("json");
    let t = page["value"][0]["activityDateTime"].as_str().expect("time");
    assert_eq!(
        fields["device_time"].as_str().map(|s| s[..23].to_string()),
        Some(t[..23].to_string()),
        "{t}"
    );
    assert_eq!(
        v[0]["outcome"]["event"],
        "[Entra ID JSON] Update application - Certificates and secrets management"
    );
}

/// How to break the custom-DSM pack, the code it must give, and where.
struct Bad {
    name: &'static str,
    from: &'static str,
    to: &'static str,
    code: &'static str,
    points_at: &'static str,
}

const BAD: &[Bad] = &[
    Bad {
        name: "unknown protocol",
        from: "\"HTTP Receiver\"]",
        to: "\"HTTP Reciever\"]",
        code: "PK105",
        points_at: "\"HTTP Reciever\"",
    },
    Bad {
        name: "protocol listed twice",
        from: "\"HTTP Receiver\"]",
        to: "\"HTTP Receiver\", \"HTTPReceiver\"]",
        code: "PK105",
        points_at: "\"HTTPReceiver\"]",
    },
    Bad {
        name: "unknown device category",
        from: "device_category = \"SW/Integration\"",
        to: "device_category = \"SW/Integraton\"",
        code: "PK104",
        points_at: "\"SW/Integraton\"",
    },
    Bad {
        name: "custom type id below the custom range",
        from: "id = 4050",
        to: "id = 3999",
        code: "PK101",
        points_at: "3999",
    },
    Bad {
        name: "custom type id above the custom range",
        from: "id = 4050",
        to: "id = 99999999999",
        code: "PK101",
        points_at: "99999999999",
    },
    Bad {
        name: "custom keys without custom = true",
        from: "custom = true\nid = 4050",
        to: "id = 445",
        code: "PK100",
        points_at: "\"Entra ID audit records as raw JSON",
    },
    Bad {
        name: "malformed internal name",
        from: "custom = true\n",
        to: "custom = true\ninternal_name = \"Entra ID\"\n",
        code: "PK103",
        points_at: "\"Entra ID\"\n",
    },
    Bad {
        name: "credibility 11",
        from: "credibility = 5",
        to: "credibility = 11",
        code: "PK033",
        points_at: "11\nprotocols",
    },
    Bad {
        name: "unknown parsing field",
        from: "user_name = [",
        to: "usr_name = [",
        code: "PK107",
        points_at: "usr_name",
    },
    Bad {
        name: "bad regex",
        from: "source_ip = [\n",
        to: "source_ip = [\n  { regex = 'ip=(\\d+' },\n",
        code: "PK052",
        points_at: "'ip=(\\d+'",
    },
    Bad {
        name: "capture group the regex lacks",
        from: "source_ip = [\n",
        to: "source_ip = [\n  { regex = 'ip=(\\S+)', capture_group = 2 },\n",
        code: "PK053",
        points_at: "2 },",
    },
    Bad {
        name: "bad JSON key path",
        from: "{ json = '/\"operationName\"' },",
        to: "{ json = '/operationName' },",
        code: "PK054",
        points_at: "'/operationName'",
    },
    Bad {
        name: "both json and regex",
        from: "{ json = '/\"operationName\"' },",
        to: "{ json = '/\"operationName\"', regex = 'x' },",
        code: "PK108",
        points_at: "{ json = '/\"operationName\"', regex",
    },
    Bad {
        name: "date_format on another field",
        from: "{ json = '/\"callerIpAddress\"' },",
        to: "{ json = '/\"callerIpAddress\"', date_format = \"yyyy\" },",
        code: "PK108",
        points_at: "\"yyyy\"",
    },
    Bad {
        name: "no event_name",
        from: "event_name = [\n  { json = '/\"operationName\"' },",
        to: "xevent_name_unused = [\n  { json = '/\"operationName\"' },",
        code: "PK109",
        points_at: "[parsing]",
    },
    Bad {
        name: "template uses a field the parsing does not fill",
        from: "event_category = \"{event_category}\"",
        to: "event_category = \"{category}\"",
        code: "PK111",
        points_at: "\"{category}\"",
    },
    Bad {
        name: "unknown key in an extraction",
        from: "{ json = '/\"operationName\"' },",
        to: "{ jsn = '/\"operationName\"' },",
        code: "PK002",
        points_at: "jsn",
    },
];

/// `(code, file:line:column)` of every error in rustc-style output.
fn located_errors(err: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = err.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if let Some(rest) = l.strip_prefix("error[")
            && let Some((code, _)) = rest.split_once(']')
            && let Some(at) = lines.get(i + 1).and_then(|n| n.split_once("--> "))
        {
            out.push((code.to_string(), at.1.trim().to_string()));
        }
    }
    out
}

#[test]
fn each_bad_custom_type_key_gives_its_own_located_error_and_writes_nothing() {
    for bad in BAD {
        let d = pack_dir();
        let pack_path = d.path().join(CUSTOM_PACK);
        let good = std::fs::read_to_string(&pack_path).expect("pack");
        assert!(
            good.contains(bad.from),
            "{}: {:?} not in the pack",
            bad.name,
            bad.from
        );
        let broken = good.replacen(bad.from, bad.to, 1);
        std::fs::write(&pack_path, &broken).expect("write");
        let lock_before = std::fs::read(d.path().join("qrpack.lock")).expect("lock");
        let out = qrpack(d.path(), &["build", CUSTOM_PACK, "-o", "dist"]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{}: {err}", bad.name);
        let at = broken
            .find(bad.points_at)
            .unwrap_or_else(|| panic!("{}: {:?} not in the broken pack", bad.name, bad.points_at));
        let (l, c) = qrpack::diag::line_col(&broken, at);
        let want = (bad.code.to_string(), format!("{CUSTOM_PACK}:{l}:{c}"));
        assert!(
            located_errors(&err).contains(&want),
            "{}: expected {want:?} among {:?}:\n{err}",
            bad.name,
            located_errors(&err)
        );
        assert!(err.contains("help:"), "{}: no help:\n{err}", bad.name);
        assert!(!err.contains("panicked"), "{}", bad.name);
        assert!(
            files_below(&d.path().join("dist")).is_empty(),
            "{}: wrote output",
            bad.name
        );
        assert_eq!(
            std::fs::read(d.path().join("qrpack.lock")).expect("lock"),
            lock_before,
            "{}: lock changed",
            bad.name
        );
    }
}

#[test]
fn a_device_time_without_a_date_format_is_a_warning_only() {
    let d = pack_dir();
    let pack_path = d.path().join(CUSTOM_PACK);
    let good = std::fs::read_to_string(&pack_path).expect("pack");
    let from = "{ json = '/\"time\"', date_format = \"yyyy-MM-dd'T'HH:mm:ss.SSSSSSSX\" },";
    assert!(good.contains(from));
    std::fs::write(
        &pack_path,
        good.replacen(from, "{ json = '/\"time\"' },", 1),
    )
    .expect("write");
    let out = qrpack(d.path(), &["build", CUSTOM_PACK, "-o", "dist"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("warning[PK110]"), "{err}");
}

/// The validator's custom-DSM checks on the real export, broken one way at a time.
#[test]
fn validate_checks_a_custom_dsm_across_its_rows() {
    let bytes =
        std::fs::read(root().join("tests/fixtures/reference-exports/custom-json-dsm-teleport.zip"))
            .expect("export");
    let content = content_of_zip(&bytes);
    let xml = String::from_utf8(qrpack::xml::write_content(&content)).expect("utf-8");
    let ext_b64 = col(rows(&content, "device_ext")[0], "xml").to_string();
    let doc = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(&ext_b64)
            .expect("b64"),
    )
    .expect("utf-8");
    let with_doc = |d: &str| {
        xml.replacen(
            &ext_b64,
            &base64::engine::general_purpose::STANDARD.encode(d),
            1,
        )
    };
    let cases: Vec<(&str, String, &str)> = vec![
        ("the original", xml.clone(), ""),
        (
            "override to another type",
            with_doc(&doc.replacen(
                "device-type-id-override=\"4003\"",
                "device-type-id-override=\"4007\"",
                1,
            )),
            "QR110",
        ),
        (
            "protocol that exists nowhere",
            xml.replacen(
                "<sensorprotocolid>73</sensorprotocolid>",
                "<sensorprotocolid>7373</sensorprotocolid>",
                1,
            ),
            "QR112",
        ),
        (
            "mapping to an undefined custom type",
            xml.replacen(
                "<devicetypeid>4003</devicetypeid>",
                "<devicetypeid>4999</devicetypeid>",
                1,
            ),
            "QR111",
        ),
        (
            "regex that does not compile",
            with_doc(&doc.replacen("(.*?)</pattern>", "(.*?</pattern>", 1)),
            "QR115",
        ),
        (
            "key path that does not parse",
            with_doc(&doc.replacen("/&quot;code&quot;", "/code", 1)),
            "QR117",
        ),
        (
            "capture group the regex lacks",
            with_doc(&doc.replacen(
                "capture-group=\"\\1\" pattern-id=\"SourceIp-Pattern-1\"",
                "capture-group=\"\\2\" pattern-id=\"SourceIp-Pattern-1\"",
                1,
            )),
            "QR118",
        ),
        (
            "matcher on an undefined pattern",
            with_doc(&doc.replacen(
                "pattern-id=\"UserName-Pattern-2\"",
                "pattern-id=\"UserName-Pattern-9\"",
                1,
            )),
            "QR101",
        ),
    ];
    for (name, text_, code) in cases {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("content.xml");
        std::fs::write(&p, &text_).expect("write");
        let out = qrpack(dir.path(), &["validate", "--format", "json", "content.xml"]);
        let so = text(&out.stdout);
        if code.is_empty() {
            assert_eq!(out.status.code(), Some(0), "{name}: {so}");
            for c in [
                "QR110", "QR111", "QR112", "QR113", "QR114", "QR115", "QR117", "QR118",
            ] {
                assert!(!so.contains(c), "{name}: {c} in {so}");
            }
        } else {
            assert!(
                so.contains(&format!("\"{code}\"")),
                "{name}: {code} missing in {so}"
            );
        }
    }
}

#[test]
fn inspect_tells_the_custom_dsm_parsing_in_words() {
    let d = pack_dir();
    let out = qrpack(d.path(), &["build", CUSTOM_PACK, "-o", "dist"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = qrpack(d.path(), &["inspect", &format!("dist/{CUSTOM_ARCHIVE}")]);
    let so = text(&out.stdout);
    assert!(
        so.contains("EventName: the JSON value at /\"operationName\"; else the JSON value at /\"activityDisplayName\"; else the JSON value at /\"OperationName\""),
        "{so}"
    );
    assert!(
        so.contains("DeviceTime: the JSON value at /\"time\", read as the date yyyy-MM-dd'T'HH:mm:ss.SSSSSSSX"),
        "{so}"
    );
    assert!(
        so.contains("Every record is parsed this way as log source type 4050 (Microsoft Entra ID Audit (JSON))"),
        "{so}"
    );
    assert!(
        so.contains("protocols: UniversalCloudRESTAPI, HTTPReceiver"),
        "{so}"
    );
}
