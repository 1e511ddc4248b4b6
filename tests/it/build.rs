//! `qrpack build`: golden output, reproducibility, reading the archive back, and every
//! kind of bad pack.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;

use base64::Engine;
use qrpack::content::{Content, Row};

use crate::common::*;

fn build_in_memory(pack_dir: &Path) -> qrpack::build::Built {
    let pack_path = pack_dir.join(PACK);
    let pack_text = std::fs::read_to_string(&pack_path).expect("pack");
    let lock_path = pack_dir.join("qrpack.lock");
    let lock_text = std::fs::read_to_string(&lock_path).expect("lock");
    let skeletons = qrpack::rule::Skeletons::builtin();
    let input = qrpack::build::Input {
        pack_path: Path::new("entra-id-cloud-credentials.toml"),
        pack_text: &pack_text,
        lock: Some((&lock_path, &lock_text)),
        catalogue: qrpack::catalogue::Catalogue::builtin(),
        skeletons: &skeletons,
        source_date_epoch: None,
        locked: true,
    };
    // aql_file is read relative to the pack's folder: run from there.
    let _ = pack_path;
    qrpack::build::build(&qrpack::build::Input {
        pack_path: &pack_dir.join(PACK),
        ..input
    })
    .unwrap_or_else(|f| panic!("{:#?}", f.diagnostics))
}

#[test]
fn golden_content_xml_and_manifest() {
    let built = build_in_memory(&root().join("qid-maps"));
    assert!(
        !built.lock_changed,
        "the committed lock must cover every QID of the default pack"
    );
    assert!(
        built
            .findings
            .iter()
            .all(|d| d.severity < qrpack::diag::Severity::Warning),
        "{:#?}",
        built.findings
    );
    // The snapshot is of the entry in the archive: the build writes the XML into the zip
    // a piece at a time and keeps no copy. Written again from the model
    // (`Built::content_xml`), and from the rows `diff` and others use (`to_content`), it
    // must be the same bytes.
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&built.archive)).expect("zip");
    let mut in_archive = Vec::new();
    zip.by_name(&built.content_name)
        .expect("the content entry")
        .read_to_end(&mut in_archive)
        .expect("inflate");
    assert!(
        built.content_xml() == in_archive,
        "Built::content_xml differs from the entry in the archive"
    );
    assert!(
        qrpack::xml::write_content(&built.extension.to_content()) == in_archive,
        "write_content(to_content()) differs from the content XML the build wrote"
    );
    insta::assert_snapshot!(
        "default-pack-content-xml",
        String::from_utf8(in_archive).expect("utf-8")
    );
    insta::assert_snapshot!(
        "default-pack-manifest",
        String::from_utf8(built.manifest.to_json()).expect("utf-8")
    );
    assert_eq!(
        built.content_name,
        "Entra ID Additional Cloud Credentials (T1098.001)-20261128000000.xml"
    );
}

#[test]
fn two_builds_give_identical_bytes() {
    let (a, b) = (pack_dir(), pack_dir());
    for d in [&a, &b] {
        let out = qrpack(d.path(), &["build", PACK, "-o", "dist"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let files = files_below(&a.path().join("dist"));
    assert_eq!(files, files_below(&b.path().join("dist")));
    assert_eq!(files.len(), 3, "{files:?}");
    for f in &files {
        assert_eq!(
            sha256_file(&a.path().join("dist").join(f)),
            sha256_file(&b.path().join("dist").join(f)),
            "{f} differs between builds"
        );
    }
    // A third build over the first gives the same bytes again.
    let before = sha256_file(&a.path().join("dist").join(ARCHIVE));
    let out = qrpack(a.path(), &["build", PACK, "-o", "dist"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(before, sha256_file(&a.path().join("dist").join(ARCHIVE)));
}

#[test]
fn sha256sums_cover_every_file_written() {
    let d = pack_dir();
    let out = qrpack(d.path(), &["build", PACK]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let dist = d.path().join("dist");
    let sums = std::fs::read_to_string(dist.join("SHA256SUMS")).expect("sums");
    let mut listed = BTreeSet::new();
    for line in sums.lines() {
        let (hex, name) = line
            .split_once("  ")
            .expect("sha256sum format: <hex><two spaces><name>");
        assert_eq!(hex.len(), 64);
        assert_eq!(sha256_file(&dist.join(name)), hex, "{name}");
        listed.insert(name.to_string());
    }
    let on_disk: BTreeSet<String> = files_below(&dist)
        .into_iter()
        .filter(|f| f != "SHA256SUMS")
        .collect();
    assert_eq!(listed, on_disk);
}

#[test]
fn source_date_epoch_sets_the_build_time() {
    let d = pack_dir();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_qrpack"))
        .args(["build", PACK, "--format", "json"])
        .current_dir(d.path())
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json report");
    assert_eq!(report["counts"]["rules"], 2);
    let zip = read_zip(&d.path().join("dist").join(ARCHIVE));
    assert!(
        zip.keys().any(|n| n.ends_with("-20231114221320.xml")),
        "{:?}",
        zip.keys()
    );
}

fn read_zip(p: &Path) -> BTreeMap<String, Vec<u8>> {
    let f = std::fs::File::open(p).expect("open zip");
    let mut z = zip::ZipArchive::new(f).expect("zip");
    let mut out = BTreeMap::new();
    for i in 0..z.len() {
        let mut e = z.by_index(i).expect("entry");
        assert!(e.unix_mode().is_none(), "no host metadata");
        assert_eq!(e.compression(), zip::CompressionMethod::Deflated);
        let name = e.name().expect("name").to_string();
        let mut b = Vec::new();
        e.read_to_end(&mut b).expect("read entry");
        out.insert(name, b);
    }
    out
}

fn rows<'c>(c: &'c Content, table: &str) -> Vec<&'c Row> {
    c.rows.iter().filter(|r| r.table == table).collect()
}

fn col<'r>(r: &'r Row, name: &str) -> &'r str {
    r.get(name)
        .unwrap_or_else(|| panic!("{} has no {name}: {:?}", r.table, r.columns))
}

/// Read the built archive back with the zip and XML libraries and compare it with the
/// pack, read independently as plain TOML.
#[test]
fn archive_holds_everything_the_pack_declares() {
    let d = pack_dir();
    let out = qrpack(d.path(), &["build", PACK]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let zip = read_zip(&d.path().join("dist").join(ARCHIVE));
    assert_eq!(zip.len(), 2, "exactly the content XML and manifest.txt");
    let names: Vec<&String> = zip.keys().collect();
    assert!(names.iter().all(|n| !n.contains('/')), "flat archive");
    let manifest: serde_json::Value =
        serde_json::from_slice(&zip["manifest.txt"]).expect("manifest JSON");
    let xml_name = names
        .iter()
        .find(|n| n.ends_with(".xml"))
        .expect("content xml");
    let content = qrpack::xml::read_content(&zip[*xml_name]).expect("content parses");

    let pack: toml::Value =
        toml::from_str(&std::fs::read_to_string(d.path().join(PACK)).expect("pack")).expect("toml");
    let ext = &pack["extension"];
    let em = &manifest["doc"]["extension_manifest"];
    assert_eq!(manifest["_id"].as_str(), ext["hub_id"].as_str());
    assert_eq!(em["version"].as_str(), ext["version"].as_str());
    assert_eq!(
        em["min_qradar_version"].as_str(),
        ext["min_qradar_version"].as_str()
    );
    assert_eq!(
        em["locale"]["en-US"]["extension.name"].as_str(),
        ext["name"].as_str()
    );
    assert_eq!(
        Some(content.qradar_version.as_str()),
        ext["qradar_version"].as_str()
    );

    let lock: toml::Value =
        toml::from_str(&std::fs::read_to_string(d.path().join("qrpack.lock")).expect("lock"))
            .expect("lock toml");
    let locked = lock["pack"][ext["hub_id"].as_str().expect("hub")]["qids"]
        .as_table()
        .expect("qids")
        .clone();
    let cat = qrpack::catalogue::Catalogue::builtin();

    // Events: one qidmap row each, and one dsmevent per spelling × result, pointing at the
    // qidmap row id (not the QID number).
    let qidmaps = rows(&content, "qidmap");
    let dsm = rows(&content, "dsmevent");
    let results = pack["dsm"]["defaults"]["result"]
        .as_array()
        .expect("results");
    let mut expected_dsm = 0;
    for ev in pack["event"].as_array().expect("events") {
        let name = ev["name"].as_str().expect("name");
        let row = qidmaps
            .iter()
            .find(|r| col(r, "qname") == name)
            .unwrap_or_else(|| panic!("no qidmap for {name}"));
        assert_eq!(
            col(row, "qid"),
            locked[name].as_integer().expect("locked").to_string()
        );
        assert_eq!(
            col(row, "severity"),
            ev["severity"].as_integer().expect("sev").to_string()
        );
        let cat_id = match &ev["category"] {
            toml::Value::Integer(i) => *i,
            toml::Value::String(s) => cat.category_by_name(s).expect("category").id as i64,
            other => panic!("{other:?}"),
        };
        assert_eq!(col(row, "lowlevelcategory"), cat_id.to_string());
        let category = ev["match"]
            .get("category")
            .and_then(|c| c[0].as_str())
            .unwrap_or("ApplicationManagement");
        for op in ev["match"]["operation"].as_array().expect("ops") {
            for res in results {
                expected_dsm += 1;
                let id = format!(
                    "{}-{}",
                    op.as_str().expect("op"),
                    res.as_str().expect("res")
                );
                let m = dsm
                    .iter()
                    .find(|r| col(r, "deviceeventid") == id)
                    .unwrap_or_else(|| panic!("no dsmevent for {id:?}"));
                assert_eq!(col(m, "qidmapid"), col(row, "id"), "{id}");
                assert_eq!(col(m, "devicetypeid"), "445");
                assert_eq!(col(m, "deviceeventcategory"), category);
            }
        }
    }
    assert_eq!(dsm.len(), expected_dsm);
    let qidmap_ids: BTreeSet<&str> = qidmaps.iter().map(|r| col(r, "id")).collect();
    assert!(dsm.iter().all(|r| qidmap_ids.contains(col(r, "qidmapid"))));
    // The EN DASH spelling survives both XML layers.
    assert!(dsm.iter().any(|r| col(r, "deviceeventid")
        == "Update application \u{2013} Certificates and secrets management -success"
        || col(r, "deviceeventid")
            == "Update application \u{2013} Certificates and secrets management-success"));

    // Properties and expressions.
    let props = rows(&content, "ariel_regex_property");
    let json_ex = rows(&content, "ariel_property_json_expression");
    let regex_ex = rows(&content, "ariel_property_expression");
    let declared = pack["property"].as_array().expect("props");
    assert_eq!(props.len(), declared.len());
    for p in declared {
        let name = p["name"].as_str().expect("name");
        let row = props
            .iter()
            .find(|r| col(r, "propertyname") == name)
            .unwrap_or_else(|| panic!("no property {name}"));
        let id = col(row, "id");
        for (i, e) in p["expression"]
            .as_array()
            .expect("exprs")
            .iter()
            .enumerate()
        {
            let rank = (i + 1).to_string();
            let mine: Vec<&&Row> = if let Some(j) = e.get("json") {
                json_ex
                    .iter()
                    .filter(|r| {
                        col(r, "ap_id") == id
                            && col(r, "rank") == rank
                            && col(r, "expression") == j.as_str().expect("json")
                    })
                    .collect()
            } else {
                regex_ex
                    .iter()
                    .filter(|r| {
                        col(r, "ap_id") == id
                            && col(r, "rank") == rank
                            && col(r, "regex") == e["regex"].as_str().expect("regex")
                    })
                    .collect()
            };
            let per_event = e
                .get("events")
                .and_then(|v| v.as_array())
                .map_or(1, |v| v.len());
            assert_eq!(mine.len(), per_event, "{name} expression {rank}");
            if let Some(sample) = e.get("sample") {
                let payload = base64::engine::general_purpose::STANDARD
                    .decode(col(mine[0], "payload"))
                    .expect("base64");
                assert_eq!(payload, sample.as_str().expect("sample").as_bytes());
            }
        }
    }
    let prop_ids: BTreeSet<&str> = props.iter().map(|r| col(r, "id")).collect();
    assert!(
        json_ex
            .iter()
            .chain(regex_ex.iter())
            .all(|r| prop_ids.contains(col(r, "ap_id")))
    );

    // Rules: rule_data decodes to a <rule> naming the rule and testing the events' QIDs.
    let rules = rows(&content, "custom_rule");
    assert_eq!(rules.len(), pack["rule"].as_array().expect("rules").len());
    for (r, declared) in rules.iter().zip(pack["rule"].as_array().expect("rules")) {
        let xml = base64::engine::general_purpose::STANDARD
            .decode(col(r, "rule_data"))
            .expect("base64");
        let xml = String::from_utf8(xml).expect("utf-8");
        let parsed = parse_rule(&xml);
        assert_eq!(parsed.name, declared["name"].as_str().expect("name"));
        let qids: Vec<String> = declared["events"]
            .as_array()
            .expect("events")
            .iter()
            .map(|e| {
                locked[e.as_str().expect("e")]
                    .as_integer()
                    .expect("q")
                    .to_string()
            })
            .collect();
        assert_eq!(
            parsed
                .selections
                .get("com.q1labs.semsources.cre.tests.QID_Test"),
            Some(&qids.join(", "))
        );
        assert_eq!(
            parsed
                .selections
                .get("com.q1labs.semsources.cre.tests.DeviceTypeID_Test")
                .map(String::as_str),
            Some("445")
        );
        assert_eq!(
            parsed.building_block,
            declared
                .get("building_block")
                .and_then(|b| b.as_bool())
                .unwrap_or(false)
        );
    }
    let rule_ids: BTreeSet<&str> = rules.iter().map(|r| col(r, "id")).collect();
    let group_ids: BTreeSet<&str> = rows(&content, "fgroup")
        .iter()
        .map(|r| col(r, "id"))
        .collect();
    let links = rows(&content, "fgroup_link");
    assert_eq!(links.len(), 2);
    assert!(
        links.iter().all(
            |l| rule_ids.contains(col(l, "item_id")) && group_ids.contains(col(l, "fgroup_id"))
        )
    );

    // The saved search, rendered with the pack's QIDs and type.
    let search = std::fs::read_to_string(
        d.path()
            .join("dist/searches/T1098.001-Entra-ID-Additional-Cloud-Credentials-24h.aql"),
    )
    .expect("search file");
    assert!(!search.contains("{{"), "{search}");
    assert!(search.contains("LOGSOURCETYPEID(logsourceid) = 445"));
    assert!(
        !search.contains("QIDNAME(qid)) LIKE"),
        "no QIDNAME LIKE scans"
    );
    let app_password = locked["Create application password for user"]
        .as_integer()
        .expect("q");
    assert!(
        search.contains(&format!("WHEN qid = {app_password} THEN 'MFA_Bypass_Risk'")),
        "{search}"
    );
    assert!(
        rows(&content, "customviewparams").is_empty(),
        "searches are not embedded by default"
    );
}

struct ParsedRule {
    name: String,
    building_block: bool,
    selections: BTreeMap<String, String>,
}

/// Parse a `<rule>` with quick-xml: its name, and parameter 1's selection per test class.
fn parse_rule(xml: &str) -> ParsedRule {
    use quick_xml::events::Event;
    let mut r = quick_xml::Reader::from_str(xml);
    let mut stack: Vec<String> = Vec::new();
    let mut test_class = String::new();
    let mut param = String::new();
    let mut out = ParsedRule {
        name: String::new(),
        building_block: false,
        selections: BTreeMap::new(),
    };
    let mut buf = String::new();
    loop {
        match r.read_event().expect("well-formed rule XML") {
            Event::Eof => break,
            Event::Start(s) => {
                buf.clear();
                let n = s.name().as_ref().to_string();
                let attr = |k: &str| {
                    s.try_get_attribute(k)
                        .ok()
                        .flatten()
                        .map(|a| a.value.as_ref().to_string())
                        .unwrap_or_default()
                };
                match n.as_str() {
                    "rule" => out.building_block = attr("buildingBlock") == "true",
                    "test" => test_class = attr("name"),
                    "parameter" => param = attr("id"),
                    _ => {}
                }
                stack.push(n);
            }
            Event::End(_) => {
                let t = std::mem::take(&mut buf);
                match stack.last().map(String::as_str) {
                    Some("name") if stack.len() == 2 => out.name = t,
                    Some("userSelection") if param == "1" => {
                        out.selections.insert(test_class.clone(), t);
                    }
                    _ => {}
                }
                stack.pop();
            }
            Event::Text(t) => buf.push_str(&t.xml_content(quick_xml::XmlVersion::Implicit1_0)),
            Event::GeneralRef(g) => {
                let name = g
                    .xml_content(quick_xml::XmlVersion::Implicit1_0)
                    .to_string();
                buf.push_str(
                    quick_xml::escape::resolve_predefined_entity(&name)
                        .expect("only predefined entities"),
                );
            }
            _ => {}
        }
    }
    out
}

/// One kind of bad pack: how to break the default pack, the code it must give, and the
/// text its location must point at.
struct Bad {
    name: &'static str,
    from: &'static str,
    to: &'static str,
    code: &'static str,
    points_at: &'static str,
}

const BAD: &[Bad] = &[
    Bad {
        name: "syntax error",
        from: "version = \"1.0.0\"",
        to: "version = \"1.0.0",
        code: "PK001",
        points_at: "version = \"1.0.0",
    },
    Bad {
        name: "unknown key",
        from: "severity = 8\ncategory = \"User Account Changed\"\nmatch = { operation = [\"Add service principal credentials\"",
        to: "severity = 8\nseverty = 8\ncategory = \"User Account Changed\"\nmatch = { operation = [\"Add service principal credentials\"",
        code: "PK002",
        points_at: "severty",
    },
    Bad {
        name: "severity 11",
        from: "severity = 9",
        to: "severity = 11",
        code: "PK033",
        points_at: "11\ncategory",
    },
    Bad {
        name: "unknown category",
        from: "category = \"Identity Granted\"\nmatch = { operation = [\"Add app role assignment to service principal\"]",
        to: "category = \"Identity Grant\"\nmatch = { operation = [\"Add app role assignment to service principal\"]",
        code: "PK034",
        points_at: "\"Identity Grant\"",
    },
    Bad {
        name: "duplicate QID",
        from: "name = \"Add application\"\ndescription",
        to: "name = \"Add application (new)\"\nqid = 2000000\ndescription",
        code: "PK042",
        points_at: "2000000",
    },
    Bad {
        name: "name too long",
        from: "name = \"Add application\"",
        to: "name = \"Add application AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"",
        code: "PK030",
        points_at: "\"Add application AAAA",
    },
    Bad {
        name: "duplicate device-event spelling",
        from: "match = { operation = [\"Add application\"] }",
        to: "match = { operation = [\"Add service principal credentials\"] }\nlabels = {}",
        code: "PK037",
        points_at: "\"Add service principal credentials\"] }\nlabels = {}",
    },
    Bad {
        name: "missing AQL file",
        from: "aql_file = \"searches/t1098-001-additional-cloud-credentials.aql\"",
        to: "aql_file = \"searches/missing.aql\"",
        code: "PK071",
        points_at: "\"searches/missing.aql\"",
    },
    Bad {
        name: "bad version",
        from: "version = \"1.0.0\"",
        to: "version = \"1.0\"",
        code: "PK010",
        points_at: "\"1.0\"",
    },
    Bad {
        name: "unknown placeholder",
        from: "match = { operation = [\"Add owner to application\"] }",
        to: "match = { operation = [\"Add owner to application\"], opration = [\"x\"] }",
        code: "PK036",
        points_at: "[\"x\"]",
    },
    Bad {
        name: "bad json path",
        from: "json = '/\"properties\"/\"result\"'",
        to: "json = '/properties/result'",
        code: "PK054",
        points_at: "'/properties/result'",
    },
    Bad {
        name: "bad regex",
        from: "KeyType=([A-Za-z0-9]+)'",
        to: "KeyType=([A-Za-z0-9]+'",
        code: "PK052",
        points_at: "'\"newValue\"",
    },
    Bad {
        name: "rule names an unknown event",
        from: "  \"Add owner to application\",\n]\n# Entra",
        to: "  \"Add owner to aplication\",\n]\n# Entra",
        code: "PK055",
        points_at: "\"Add owner to aplication\"",
    },
    Bad {
        name: "unknown AQL placeholder",
        from: "{{qid:Add owner to application}}",
        to: "{{qid:Nope}}",
        code: "PK061",
        points_at: "{{qid:Nope}}",
    },
];

/// Where `needle` starts in `text`, as `line:column`.
fn line_col_of(text: &str, needle: &str) -> String {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in the broken pack"));
    let (l, c) = qrpack::diag::line_col(text, at);
    format!("{l}:{c}")
}

#[test]
fn each_bad_pack_gives_its_own_located_error_and_writes_nothing() {
    for bad in BAD {
        let d = pack_dir();
        let lock_before = std::fs::read(d.path().join("qrpack.lock")).expect("lock");
        let pack_path = d.path().join(PACK);
        let good = std::fs::read_to_string(&pack_path).expect("pack");
        assert!(
            bad.code == "PK061" || good.contains(bad.from),
            "{}: the default pack no longer contains {:?}",
            bad.name,
            bad.from
        );
        let broken = good.replacen(bad.from, bad.to, 1);
        std::fs::write(&pack_path, &broken).expect("write");
        let mut shown_file = PACK.to_string();
        let mut shown_text = broken.clone();
        if bad.code == "PK061" {
            // The placeholder lives in the AQL file.
            let aql_path = d
                .path()
                .join("searches/t1098-001-additional-cloud-credentials.aql");
            let aql = std::fs::read_to_string(&aql_path)
                .expect("aql")
                .replacen(bad.from, bad.to, 1);
            std::fs::write(&aql_path, &aql).expect("write aql");
            std::fs::write(&pack_path, &good).expect("restore");
            shown_file = "searches/t1098-001-additional-cloud-credentials.aql".into();
            shown_text = aql;
        }
        let out = qrpack(d.path(), &["build", PACK, "-o", "dist"]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{}: {err}", bad.name);
        assert!(
            err.contains(&format!("error[{}]", bad.code)),
            "{}: expected {}:\n{err}",
            bad.name,
            bad.code
        );
        let want = format!("{shown_file}:{}", line_col_of(&shown_text, bad.points_at));
        assert!(
            err.contains(&want),
            "{}: expected location {want}:\n{err}",
            bad.name
        );
        assert!(err.contains("help:"), "{}: no help line:\n{err}", bad.name);
        assert!(!err.contains("panicked"), "{}", bad.name);
        assert!(
            files_below(&d.path().join("dist")).is_empty(),
            "{}: wrote {:?}",
            bad.name,
            files_below(&d.path().join("dist"))
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
fn all_problems_are_reported_at_once() {
    let d = pack_dir();
    let pack_path = d.path().join(PACK);
    let good = std::fs::read_to_string(&pack_path).expect("pack");
    let broken = good
        .replacen("severity = 9", "severity = 42", 1)
        .replacen("category = \"Identity Granted\"", "category = 99999", 1)
        .replacen("version = \"1.0.0\"", "version = \"one\"", 1);
    std::fs::write(&pack_path, broken).expect("write");
    let out = qrpack(d.path(), &["build", PACK]);
    let err = text(&out.stderr);
    for code in ["PK033", "PK034", "PK010"] {
        assert!(
            err.contains(&format!("error[{code}]")),
            "{code} missing:\n{err}"
        );
    }
    assert!(err.contains("3 errors"), "{err}");
}

/// A pack large enough that events are resolved and their rows prepared on two threads
/// (from 2,048 events): problems in either half are all reported, at their own lines,
/// including those that span the halves, and a good pack builds the same bytes twice.
#[test]
fn a_large_pack_reports_problems_in_both_halves() {
    const N: usize = 5000;
    let event = |i: usize, name: &str, severity: u32, spelling: &str| {
        format!(
            "[[event]]\nname = \"{name}\"\nseverity = {severity}\ncategory = 3029\nmatch = {{ operation = [\"{spelling}\"] }}\n\n",
        )
        .replace("{i}", &i.to_string())
    };
    let head = "[extension]\nhub_id = \"qrpack:large\"\nname = \"Large\"\nversion = \"1.0.0\"\n\
        author = \"t\"\nauthor_email = \"t@example.org\"\ndescription = \"A large pack.\"\n\
        min_qradar_version = \"2021.6.0\"\nqradar_version = \"2021.6.0\"\n\n\
        [log_source_type]\nid = 445\nname = \"Microsoft Azure Active Directory\"\n\n\
        [dsm]\nevent_id = \"{operation}\"\nevent_category = \"AuditLogs\"\n\n";
    let pack = |broken: bool| {
        let mut t = head.to_string();
        for i in 0..N {
            let (name, severity, spelling) = match i {
                10 if broken => (format!("Operation {i}"), 11, format!("Operation {i}")),
                4000 if broken => (format!("Operation {i}"), 12, format!("Operation {i}")),
                // A name declared in the first half, again in the second.
                4001 if broken => ("Operation 3".to_string(), 3, format!("Operation {i}")),
                // A spelling mapped by event 20, again by 4500 (across the halves).
                4500 if broken => (format!("Operation {i}"), 3, "Operation 20".to_string()),
                // A look-alike of event 30's spelling (case and spaces).
                4600 if broken => (format!("Operation {i}"), 3, "OPERATION  30".to_string()),
                _ => (format!("Operation {i}"), 3, format!("Operation {i}")),
            };
            t.push_str(&event(i, &name, severity, &spelling));
        }
        t
    };
    let d = tempfile::tempdir().expect("temp dir");
    // The good pack builds, twice to the same bytes.
    std::fs::write(d.path().join("large.toml"), pack(false)).expect("write");
    let mut sums = Vec::new();
    for _ in 0..2 {
        let out = qrpack(d.path(), &["build", "large.toml", "-o", "dist"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        sums.push(std::fs::read_to_string(d.path().join("dist/SHA256SUMS")).expect("sums"));
    }
    assert_eq!(sums[0], sums[1]);
    // The broken one reports every problem at its line and writes nothing new.
    let broken = pack(true);
    std::fs::write(d.path().join("large.toml"), &broken).expect("write");
    std::fs::remove_dir_all(d.path().join("dist")).expect("rm dist");
    let out = qrpack(d.path(), &["build", "large.toml", "-o", "dist"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let line_of = |needle: &str| line_col_of(&broken, needle);
    for (code, at) in [
        ("PK033", line_of("severity = 11")),
        ("PK033", line_of("severity = 12")),
        ("PK031", {
            // The second "Operation 3" name.
            let first = broken.find("name = \"Operation 3\"").expect("first");
            let second = first
                + 1
                + broken[first + 1..]
                    .find("name = \"Operation 3\"")
                    .expect("second");
            let (l, c) = qrpack::diag::line_col(&broken, second + "name = ".len());
            format!("{l}:{c}")
        }),
        ("PK037", {
            let second = broken.rfind("[\"Operation 20\"]").expect("spelling");
            let (l, c) = qrpack::diag::line_col(&broken, second + 1);
            format!("{l}:{c}")
        }),
        ("PK038", line_col_of(&broken, "\"OPERATION  30\"")),
    ] {
        let want = format!("[{code}]");
        let here = format!("large.toml:{at}");
        assert!(
            err.split("\n\n")
                .any(|f| f.contains(&want) && f.contains(&here)),
            "{code} at {here} missing:\n{err}"
        );
    }
    assert!(err.contains("4 errors"), "{err}");
    assert!(files_below(&d.path().join("dist")).is_empty());
}

/// A rule's dispatched event needs a QID name no event of the pack has: PK031 at the
/// rule's `event_name`, pointing at the event that has it, and nothing written.
#[test]
fn a_dispatched_event_may_not_take_an_events_name() {
    let d = pack_dir();
    let pack_path = d.path().join(PACK);
    let good = std::fs::read_to_string(&pack_path).expect("pack");
    let from = "event_name = \"Entra ID high-risk cloud credential added\"";
    assert!(
        good.contains(from),
        "the default pack's rule dispatches an event"
    );
    let broken = good.replacen(
        from,
        "event_name = \"Add service principal credentials\"",
        1,
    );
    std::fs::write(&pack_path, &broken).expect("write");
    let out = qrpack(d.path(), &["build", PACK]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let finding = err
        .split("\n\n")
        .find(|f| f.contains("[PK031]"))
        .unwrap_or_else(|| panic!("no PK031:\n{err}"));
    assert!(
        finding.contains("the QID name \"Add service principal credentials\" is used twice"),
        "{finding}"
    );
    let value = broken
        .find("event_name = \"Add service principal credentials\"")
        .expect("the changed line")
        + "event_name = ".len();
    let (l, c) = qrpack::diag::line_col(&broken, value);
    assert!(
        finding.contains(&format!("--> {PACK}:{l}:{c}")),
        "at the rule's event_name ({l}:{c}): {finding}"
    );
    let first = line_col_of(&broken, "\"Add service principal credentials\"");
    assert!(
        finding.contains(&format!("first used at {PACK}:{first}")),
        "the event's name ({first}): {finding}"
    );
    assert!(finding.contains("response.event_name"), "{finding}");
    assert!(files_below(&d.path().join("dist")).is_empty());
}

#[test]
fn a_pin_that_contradicts_the_lock_is_explained() {
    let d = pack_dir();
    let pack_path = d.path().join(PACK);
    let good = std::fs::read_to_string(&pack_path).expect("pack");
    let from = "severity = 8\ncategory = \"User Account Changed\"\nmatch = { operation = [\"Add service principal credentials\"";
    let broken = good.replacen(
        from,
        &from.replacen("severity = 8", "severity = 8\nqid = 2000500", 1),
        1,
    );
    std::fs::write(&pack_path, &broken).expect("write");
    let out = qrpack(d.path(), &["build", PACK]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("error[PK041]"), "{err}");
    assert!(err.contains("records 2000000"), "{err}");
    assert!(
        err.contains(&format!("{PACK}:{}", line_col_of(&broken, "2000500"))),
        "{err}"
    );
}

#[test]
fn a_failed_build_keeps_the_earlier_archive() {
    let d = pack_dir();
    assert_eq!(qrpack(d.path(), &["build", PACK]).status.code(), Some(0));
    let archive = d.path().join("dist").join(ARCHIVE);
    let before = sha256_file(&archive);
    let files = files_below(&d.path().join("dist"));
    let pack_path = d.path().join(PACK);
    let broken = std::fs::read_to_string(&pack_path).expect("pack").replacen(
        "severity = 9",
        "severity = 11",
        1,
    );
    std::fs::write(&pack_path, broken).expect("write");
    assert_eq!(qrpack(d.path(), &["build", PACK]).status.code(), Some(1));
    assert_eq!(sha256_file(&archive), before);
    assert_eq!(
        files_below(&d.path().join("dist")),
        files,
        "no temporary or partial file is left"
    );
}

#[test]
fn new_events_get_new_qids_and_locked_ones_keep_theirs() {
    let d = pack_dir();
    let pack_path = d.path().join(PACK);
    let mut pack = std::fs::read_to_string(&pack_path).expect("pack");
    pack.push_str("\n[[event]]\nname = \"Add service principal\"\nseverity = 3\ncategory = 19012\nmatch = { operation = [\"Add service principal\"] }\n");
    std::fs::write(&pack_path, &pack).expect("write");
    // --locked refuses to add the new QID to the lock.
    let out = qrpack(d.path(), &["build", PACK, "--locked"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("error[PK044]"),
        "{}",
        text(&out.stderr)
    );
    // Without it the lock grows by one entry, after the highest number in use.
    let out = qrpack(d.path(), &["build", PACK]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lock = std::fs::read_to_string(d.path().join("qrpack.lock")).expect("lock");
    assert!(
        lock.contains("\"Add service principal\" = 2000011"),
        "{lock}"
    );
    assert!(
        lock.contains("\"Add service principal credentials\" = 2000000"),
        "{lock}"
    );
    // Removing an event keeps its number reserved in the lock.
    std::fs::write(
        &pack_path,
        pack.replacen(
            "[[event]]\nname = \"Add service principal\"",
            "[[event]]\nname = \"Add service principal (v2)\"",
            1,
        ),
    )
    .expect("write");
    assert_eq!(qrpack(d.path(), &["build", PACK]).status.code(), Some(0));
    let lock = std::fs::read_to_string(d.path().join("qrpack.lock")).expect("lock");
    assert!(
        lock.contains("\"Add service principal\" = 2000011"),
        "{lock}"
    );
    assert!(
        lock.contains("\"Add service principal (v2)\" = 2000012"),
        "{lock}"
    );
}

#[test]
fn unreadable_pack_is_exit_code_2() {
    let d = tempfile::tempdir().expect("tmp");
    let out = qrpack(d.path(), &["build", "nope.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("cannot read the pack nope.toml"),
        "{}",
        text(&out.stderr)
    );
    let out = qrpack(d.path(), &["build"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "missing argument is a usage error"
    );
}

/// The validator's findings on what `build` writes point at the written XML's own lines.
#[test]
fn self_check_findings_point_at_the_written_xml() {
    let d = pack_dir();
    let pack_path = d.path().join(PACK);
    let mut pack = std::fs::read_to_string(&pack_path).expect("pack");
    pack.push_str("\n[[event]]\nname = \"Low QID\"\nseverity = 3\ncategory = 19012\nqid = 1999999\nmatch = { operation = [\"Low QID op\"] }\n");
    std::fs::write(&pack_path, pack).expect("write");
    let out = qrpack(d.path(), &["build", PACK, "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let w = report["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .find(|w| w["code"] == "QR058")
        .cloned()
        .expect("QR058 for a QID below 2000000");
    let zip = read_zip(&d.path().join("dist").join(ARCHIVE));
    let (name, xml) = zip.iter().find(|(n, _)| n.ends_with(".xml")).expect("xml");
    let xml = String::from_utf8(xml.clone()).expect("utf-8");
    // The warning points at the <qidmap> row holding QID 1999999.
    let qid_line = xml
        .lines()
        .position(|l| l.contains("<qid>1999999</qid>"))
        .expect("row")
        + 1;
    let row_line = xml
        .lines()
        .take(qid_line)
        .collect::<Vec<_>>()
        .iter()
        .rposition(|l| l.trim() == "<qidmap>")
        .expect("start")
        + 1;
    assert_eq!(w["line"].as_u64(), Some(row_line as u64), "{w}");
    assert_eq!(w["column"].as_u64(), Some(2));
    assert!(
        w["file"]
            .as_str()
            .is_some_and(|f| f.ends_with(&format!("!{name}"))),
        "{w}"
    );
}

/// A rule filter qrpack cannot parse is a warning, said once: PK080 at the pack's line,
/// not again as the self-check's QR095 on the archive.
#[test]
fn an_unparsable_rule_filter_is_reported_once() {
    let d = pack_dir();
    let pack_path = d.path().join(PACK);
    let pack = std::fs::read_to_string(&pack_path).expect("pack");
    let needle = "aql = \"\"\"";
    let start = pack.find(needle).expect("a rule with an AQL filter");
    let at = start + needle.len();
    let pack = format!("{}\"Result\" = = 'x' AND {}", &pack[..at], &pack[at..]);
    std::fs::write(&pack_path, &pack).expect("write");
    let out = qrpack(d.path(), &["build", PACK, "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let codes: Vec<&str> = report["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .filter_map(|w| w["code"].as_str())
        .collect();
    assert_eq!(codes, ["PK080"], "{report:#}");
    // At the filter's opening quotes in the pack.
    let (l, c) = qrpack::diag::line_col(&pack, start + "aql = ".len());
    let w = &report["warnings"][0];
    assert_eq!(
        (w["line"].as_u64(), w["column"].as_u64()),
        (Some(l as u64), Some(c as u64)),
        "{w}"
    );
}

/// `--categories` replaces the embedded catalogue with the user's own QRadar's.
#[test]
fn own_categories_replace_the_catalogue() {
    let d = pack_dir();
    std::fs::write(
        d.path().join("cats.json"),
        r#"[{"id": 3032, "name": "User Account Changed", "high_level_category_id": 3000, "description": "x"}]"#,
    )
    .expect("write");
    let out = qrpack(d.path(), &["build", PACK, "--categories", "cats.json"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("error[PK034]: no low-level category is named \"Identity Granted\""),
        "{err}"
    );
    assert!(
        !err.contains("\"User Account Changed\""),
        "a category the dump has resolves: {err}"
    );
    let out = qrpack(d.path(), &["build", PACK, "--categories", "missing.json"]);
    assert_eq!(out.status.code(), Some(2));
}

/// QIDNAME LIKE lints know the names of the events the pack's rules dispatch: a pattern
/// that matches only a dispatched event's name is PK082 (use the QIDs), not PK083 (matches
/// nothing); a pattern that matches nothing at all is still PK083, quoting the test.
#[test]
fn qidname_like_lints_count_rule_dispatched_events() {
    let d = pack_dir();
    let pack_path = d.path().join(PACK);
    let pack = std::fs::read_to_string(&pack_path).expect("pack");
    let needle = "aql = \"\"\"";
    let at = pack.find(needle).expect("a rule with an AQL filter") + needle.len();
    let with = |cond: &str| format!("{}{cond} AND {}", &pack[..at], &pack[at..]);
    // "Entra ID high-risk cloud credential added" is the rule response's event_name.
    std::fs::write(
        &pack_path,
        with("QIDNAME(qid) ILIKE '%high-risk cloud credential added%'"),
    )
    .expect("write");
    let out = qrpack(d.path(), &["build", PACK, "-o", "dist"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("PK083"), "{stderr}");
    assert!(
        stderr.contains("info[PK082]: QIDNAME(qid) ILIKE '%high-risk cloud credential added%' matches 1 of the pack's own events by name"),
        "{stderr}"
    );
    std::fs::write(&pack_path, with("QIDNAME(qid) LIKE '%No Such Event%'")).expect("write");
    let out = qrpack(d.path(), &["build", PACK, "-o", "dist2"]);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("warning[PK083]: QIDNAME(qid) LIKE '%No Such Event%' matches none of the pack's event names"),
        "{stderr}"
    );
}
