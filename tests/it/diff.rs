//! `qrpack diff`: two real-looking archives that differ only in row order, column order
//! and the ids QRadar re-assigns are the same extension; a real change is reported with
//! its fields. The re-id'd copies are made here with the zip and XML libraries, from a
//! real build and from QRadar's own exports.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;

use base64::Engine;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

use crate::common::*;

type XmlRow = (String, Vec<(String, String)>);

fn read_entries(p: &Path) -> Vec<(String, Vec<u8>)> {
    let mut z = zip::ZipArchive::new(std::fs::File::open(p).expect("open")).expect("zip");
    (0..z.len())
        .map(|i| {
            let mut e = z.by_index(i).expect("entry");
            let mut b = Vec::new();
            e.read_to_end(&mut b).expect("read");
            (e.name().expect("name").to_string(), b)
        })
        .collect()
}

fn write_entries(p: &Path, entries: &[(String, Vec<u8>)]) {
    let mut z = zip::ZipWriter::new(std::fs::File::create(p).expect("create"));
    let o = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (n, b) in entries {
        z.start_file(n.as_str(), o).expect("start");
        z.write_all(b).expect("write");
    }
    z.finish().expect("finish");
}

/// `<content>`: the `<qradarversion>` and every row with its columns, in file order.
fn parse_content(xml: &[u8]) -> (String, Vec<XmlRow>) {
    let mut r = quick_xml::Reader::from_reader(xml);
    let mut buf = Vec::new();
    let mut depth = 0;
    let mut version = String::new();
    let mut rows: Vec<XmlRow> = Vec::new();
    let mut text = String::new();
    loop {
        match r.read_event_into(&mut buf).expect("well-formed") {
            Event::Eof => break,
            Event::Start(s) => {
                depth += 1;
                text.clear();
                if depth == 2 {
                    rows.push((s.name().as_ref().to_string(), Vec::new()));
                }
            }
            Event::Empty(s) if depth == 2 => {
                let name = s.name().as_ref().to_string();
                if let Some(row) = rows.last_mut() {
                    row.1.push((name, String::new()));
                }
            }
            Event::End(e) => {
                let name = e.name().as_ref().to_string();
                if depth == 3 {
                    if let Some(row) = rows.last_mut() {
                        row.1.push((name, std::mem::take(&mut text)));
                    }
                } else if depth == 2 && name == "qradarversion" {
                    rows.pop();
                    version = std::mem::take(&mut text);
                }
                depth -= 1;
            }
            Event::Text(t) => text.push_str(&t.xml_content(quick_xml::XmlVersion::Implicit1_0)),
            Event::GeneralRef(g) => {
                text.push_str(&qrpack::xml::resolve_reference(&g).expect("reference"))
            }
            Event::CData(c) => text.push_str(&c.into_inner()),
            _ => {}
        }
        buf.clear();
    }
    (version, rows)
}

fn write_content(version: &str, rows: &[XmlRow]) -> Vec<u8> {
    let mut w = quick_xml::Writer::new_with_indent(Vec::new(), b' ', 1);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
        .expect("decl");
    w.write_event(Event::Start(BytesStart::new("content")))
        .expect("w");
    let leaf = |w: &mut quick_xml::Writer<Vec<u8>>, n: &str, v: &str| {
        w.write_event(Event::Start(BytesStart::new(n))).expect("w");
        w.write_event(Event::Text(BytesText::new(v))).expect("w");
        w.write_event(Event::End(BytesEnd::new(n))).expect("w");
    };
    leaf(&mut w, "qradarversion", version);
    for (t, cols) in rows {
        w.write_event(Event::Start(BytesStart::new(t.as_str())))
            .expect("w");
        for (n, v) in cols {
            leaf(&mut w, n, v);
        }
        w.write_event(Event::End(BytesEnd::new(t.as_str())))
            .expect("w");
    }
    w.write_event(Event::End(BytesEnd::new("content")))
        .expect("w");
    w.into_inner()
}

/// A small deterministic generator (xorshift), so that the shuffle is the same every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn get<'r>(row: &'r XmlRow, c: &str) -> Option<&'r str> {
    row.1.iter().find(|(n, _)| n == c).map(|(_, v)| v.as_str())
}

fn set(row: &mut XmlRow, c: &str, v: String) {
    if let Some(x) = row.1.iter_mut().find(|(n, _)| n == c) {
        x.1 = v;
    }
}

/// The rule XML with its root `id` attribute replaced (the rule's row id).
fn rule_xml_with_id(xml: &str, id: &str) -> String {
    let mut r = quick_xml::Reader::from_str(xml);
    let mut w = quick_xml::Writer::new(Vec::new());
    loop {
        match r.read_event().expect("rule XML") {
            Event::Eof => break,
            Event::Start(s) if s.name().as_ref() == "rule" => {
                let mut out = BytesStart::new("rule");
                for a in s.attributes() {
                    let a = a.expect("attr");
                    let k = a.key.as_ref().to_string();
                    let v = a
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .expect("value")
                        .into_owned();
                    out.push_attribute((k.as_str(), if k == "id" { id } else { v.as_str() }));
                }
                w.write_event(Event::Start(out)).expect("w");
            }
            e => w.write_event(e.into_owned()).expect("w"),
        }
    }
    String::from_utf8(w.into_inner()).expect("utf-8")
}

/// Copy an extension as another QRadar would export it: rows in another order, columns
/// in another order, every row id QRadar assigns on import renumbered (and the
/// references to them with it). Returns how many ids changed.
fn reexport(src: &Path, dst: &Path, seed: u64) -> usize {
    let mut rng = Rng(seed);
    let mut entries = read_entries(src);
    let mut changed = 0;
    for (name, bytes) in entries.iter_mut() {
        if !name.ends_with(".xml") {
            continue;
        }
        let (version, mut rows) = parse_content(bytes);
        // New ids per table: far from the old ones, in a shuffled order.
        let mut maps: BTreeMap<&str, BTreeMap<String, String>> = BTreeMap::new();
        for t in [
            "qidmap",
            "dsmevent",
            "custom_rule",
            "fgroup",
            "fgroup_link",
            "device_ext",
            "sensordeviceprotocols",
            "customviewparams",
        ] {
            let ids: Vec<String> = rows
                .iter()
                .filter(|r| r.0 == t)
                .filter_map(|r| get(r, "id").map(str::to_string))
                .collect();
            let mut fresh: Vec<u64> = (0..ids.len() as u64).map(|i| 700_000 + i * 7).collect();
            for i in (1..fresh.len()).rev() {
                fresh.swap(i, (rng.next() % (i as u64 + 1)) as usize);
            }
            maps.insert(
                t,
                ids.into_iter()
                    .zip(fresh.into_iter().map(|n| n.to_string()))
                    .collect(),
            );
        }
        let m = |t: &str, v: &str| maps.get(t).and_then(|m| m.get(v)).cloned();
        for row in rows.iter_mut() {
            let t = row.0.clone();
            if let Some(id) = get(row, "id").and_then(|v| m(&t, v)) {
                set(row, "id", id);
                changed += 1;
            }
            let refs: &[(&str, &str)] = match t.as_str() {
                "dsmevent" => &[("qidmapid", "qidmap")],
                "fgroup_link" => &[("fgroup_id", "fgroup"), ("item_id", "custom_rule")],
                "fgroup" => &[("parent_id", "fgroup")],
                "sensordevicetype" => &[("extension_id", "device_ext")],
                _ => &[],
            };
            for (col, target) in refs {
                if let Some(v) = get(row, col).and_then(|v| m(target, v)) {
                    set(row, col, v);
                }
            }
            if t == "customviewparams"
                && let Some(v) = get(row, "id").map(str::to_string)
            {
                set(row, "cv_id", v);
            }
            if t == "custom_rule" {
                let b64 = base64::engine::general_purpose::STANDARD;
                let xml = String::from_utf8(
                    b64.decode(get(row, "rule_data").expect("rule_data"))
                        .expect("base64"),
                )
                .expect("utf-8");
                let id = get(row, "id").expect("id").to_string();
                set(row, "rule_data", b64.encode(rule_xml_with_id(&xml, &id)));
            }
            if matches!(
                t.as_str(),
                "ariel_regex_property"
                    | "ariel_property_expression"
                    | "ariel_property_json_expression"
            ) && get(row, "sequenceid").is_some()
            {
                set(row, "sequenceid", (900 + rng.next() % 9000).to_string());
                changed += 1;
            }
            // Columns in another order.
            let n = row.1.len().max(1);
            row.1.rotate_left((rng.next() as usize) % n);
        }
        // Rows in another order.
        let mut keyed: Vec<(u64, XmlRow)> = rows.into_iter().map(|r| (rng.next(), r)).collect();
        keyed.sort_by_key(|(k, _)| *k);
        let rows: Vec<XmlRow> = keyed.into_iter().map(|(_, r)| r).collect();
        *bytes = write_content(&version, &rows);
    }
    write_entries(dst, &entries);
    changed
}

fn diff_json(cwd: &Path, old: &str, new: &str) -> (Option<i32>, serde_json::Value) {
    let out = qrpack(cwd, &["diff", old, new, "--format", "json"]);
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", text(&out.stdout), text(&out.stderr)));
    (out.status.code(), v)
}

/// The archives to re-export: fresh builds of the two packs and QRadar's own exports.
fn sources(d: &Path) -> Vec<String> {
    let out = qrpack(d, &["build", PACK, "-o", "dist"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mut v = vec![format!("dist/{ARCHIVE}")];
    // The custom-DSM pack: a log source type, its protocols and its extension too.
    let out = qrpack(d, &["build", "entra-id-custom-json.toml", "-o", "dist-dsm"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let dsm = files_below(&d.join("dist-dsm"))
        .into_iter()
        .find(|f| f.ends_with(".zip"))
        .expect("custom-DSM archive");
    v.push(format!("dist-dsm/{dsm}"));
    for f in [
        "builtin-dsm-extension-windows-openssh.zip",
        "custom-json-dsm-teleport.zip",
    ] {
        std::fs::copy(
            root().join("tests/fixtures/reference-exports").join(f),
            d.join(f),
        )
        .expect("copy");
        v.push(f.to_string());
    }
    v
}

#[test]
fn row_order_column_order_and_reassigned_ids_are_not_changes() {
    let d = pack_dir();
    for (i, src) in sources(d.path()).iter().enumerate() {
        let copy = format!("reexported-{i}.zip");
        let changed = reexport(
            &d.path().join(src),
            &d.path().join(&copy),
            0x9e37_79b9 + i as u64,
        );
        assert!(changed > 5, "{src}: only {changed} ids re-assigned");
        // The copy really is different bytes, with other ids.
        let (a, b) = (
            read_entries(&d.path().join(src)),
            read_entries(&d.path().join(&copy)),
        );
        let xml = |e: &[(String, Vec<u8>)]| {
            e.iter()
                .find(|(n, _)| n.ends_with(".xml"))
                .map(|(_, b)| b.clone())
                .expect("content")
        };
        assert_ne!(xml(&a), xml(&b), "{src}");
        let (code, v) = diff_json(d.path(), src, &copy);
        assert_eq!(code, Some(0), "{src}: {v:#}");
        assert_eq!(v["identical"], true, "{src}: {v:#}");
        assert_eq!(v["format"], "qrpack-diff");
        assert_eq!(v["version"], 1);
        let out = qrpack(d.path(), &["diff", src, &copy]);
        assert!(
            text(&out.stdout).ends_with("no differences\n"),
            "{}",
            text(&out.stdout)
        );
        // And the copy is still a valid extension.
        let out = qrpack(d.path(), &["validate", &copy]);
        assert_eq!(out.status.code(), Some(0), "{src}: {}", text(&out.stderr));
    }
}

#[test]
fn a_real_change_is_reported_with_its_fields() {
    let d = pack_dir();
    let srcs = sources(d.path());
    let src = &srcs[0]; // the default pack
    reexport(&d.path().join(src), &d.path().join("copy.zip"), 7);
    // In the re-exported copy: raise a QID's severity, point one mapping at another
    // QID, and switch a rule off, all by editing the XML.
    let mut entries = read_entries(&d.path().join("copy.zip"));
    for (name, bytes) in entries.iter_mut() {
        if !name.ends_with(".xml") {
            continue;
        }
        let (version, mut rows) = parse_content(bytes);
        let id_of = |rows: &[XmlRow], qname: &str| {
            rows.iter()
                .find(|r| r.0 == "qidmap" && get(r, "qname") == Some(qname))
                .and_then(|r| get(r, "id"))
                .expect("qidmap")
                .to_string()
        };
        let add_app = id_of(&rows, "Add application");
        let update_sp = id_of(&rows, "Update service principal");
        for row in rows.iter_mut() {
            if row.0 == "qidmap" && get(row, "qname") == Some("Add application") {
                set(row, "severity", "6".into());
            }
            if row.0 == "dsmevent" && get(row, "deviceeventid") == Some("Add application-failure") {
                assert_eq!(get(row, "qidmapid"), Some(add_app.as_str()));
                set(row, "qidmapid", update_sp.clone());
            }
            if row.0 == "custom_rule" {
                let b64 = base64::engine::general_purpose::STANDARD;
                let xml = String::from_utf8(
                    b64.decode(get(row, "rule_data").expect("rule_data"))
                        .expect("base64"),
                )
                .expect("utf-8");
                if xml.contains("buildingBlock=\"false\"") {
                    let off = xml.replacen("enabled=\"true\"", "enabled=\"false\"", 1);
                    assert_ne!(off, xml);
                    set(row, "rule_data", b64.encode(off));
                }
            }
        }
        *bytes = write_content(&version, &rows);
    }
    write_entries(&d.path().join("copy.zip"), &entries);

    let (code, v) = diff_json(d.path(), src, "copy.zip");
    assert_eq!(code, Some(1), "{v:#}");
    assert_eq!(v["identical"], false);
    let c = &v["changes"];
    assert_eq!(
        c["events"]["changed"][0]["name"], "Add application",
        "{:#}",
        c["events"]
    );
    assert_eq!(
        c["events"]["changed"][0]["fields"],
        serde_json::json!([{"field": "severity", "old": "3", "new": "6"}])
    );
    assert_eq!(
        c["mappings"]["changed"][0]["name"],
        "\"Add application-failure\" / \"ApplicationManagement\" (log source type 445)"
    );
    assert_eq!(
        c["mappings"]["changed"][0]["fields"],
        serde_json::json!([{"field": "event", "old": "Add application", "new": "Update service principal"}])
    );
    assert_eq!(
        c["rules"]["changed"][0]["fields"],
        serde_json::json!([{"field": "enabled", "old": "true", "new": "false"}])
    );
    assert_eq!(
        v["summary"],
        serde_json::json!({"added": 0, "removed": 0, "changed": 3, "extension": 0})
    );
    // Nothing else: every other kind is empty, and still present in the JSON.
    for k in [
        "properties",
        "building_blocks",
        "groups",
        "searches",
        "other",
    ] {
        assert_eq!(
            c[k],
            serde_json::json!({"added": [], "removed": [], "changed": []}),
            "{k}"
        );
    }
    // The human form names each field; the markdown form is release notes.
    let out = qrpack(d.path(), &["diff", src, "copy.zip"]);
    let h = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        h.contains("  ~ \"Add application\"\n      severity: \"3\" → \"6\"\n"),
        "{h}"
    );
    assert!(h.ends_with("0 added, 0 removed, 3 changed\n"), "{h}");
    let out = qrpack(d.path(), &["diff", src, "copy.zip", "--format", "markdown"]);
    let m = text(&out.stdout);
    assert!(
        m.starts_with("## Entra ID Additional Cloud Credentials (T1098.001) 1.0.0 → 1.0.0\n"),
        "{m}"
    );
    assert!(
        m.contains("### Events (QIDs)\n\n- **Changed** `Add application` — severity: `3` → `6`\n"),
        "{m}"
    );
    assert!(
        m.contains("- **Changed** `Entra ID: high-risk cloud credential added (T1098.001)` — enabled: `true` → `false`"),
        "{m}"
    );
}

#[test]
fn a_pack_and_its_archive_are_the_same_and_packs_compare_their_searches() {
    let d = pack_dir();
    let out = qrpack(d.path(), &["build", PACK, "-o", "dist"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // The archive's release folder (SHA256SUMS) holds its .aql searches: compared too.
    let archive = format!("dist/{ARCHIVE}");
    let (code, v) = diff_json(d.path(), PACK, &archive);
    assert_eq!(code, Some(0), "{v:#}");
    assert_eq!(v["notes"], serde_json::json!([]));
    // An archive on its own: its searches are unknown, and the report says so.
    std::fs::copy(d.path().join(&archive), d.path().join("alone.zip")).expect("copy");
    let (code, v) = diff_json(d.path(), PACK, "alone.zip");
    assert_eq!(code, Some(0), "{v:#}");
    assert_eq!(
        v["notes"][0],
        "saved searches written as .aql files are not compared: alone.zip has none beside it (no SHA256SUMS listing it)"
    );
    // A search edited after the release: not trusted, and said.
    let aql = d
        .path()
        .join("dist/searches/T1098.001-Entra-ID-Additional-Cloud-Credentials-24h.aql");
    let before = std::fs::read_to_string(&aql).expect("aql");
    std::fs::write(&aql, before.replacen("86400000", "172800000", 1)).expect("write");
    let (_, v) = diff_json(d.path(), PACK, &archive);
    assert!(
        v["notes"][0].as_str().is_some_and(|n| n.ends_with(
            "T1098.001-Entra-ID-Additional-Cloud-Credentials-24h.aql does not match SHA256SUMS"
        )),
        "{v:#}"
    );
    // Two packs: their .aql searches are compared too.
    let pack = std::fs::read_to_string(d.path().join(PACK)).expect("pack");
    std::fs::write(d.path().join("old.toml"), &pack).expect("write");
    let newer = pack.replace(
        "aql_file = \"searches/t1098-001-additional-cloud-credentials.aql\"",
        "aql = \"SELECT * FROM events WHERE qid IN ({{qids}})\"",
    );
    std::fs::write(d.path().join("new.toml"), &newer).expect("write");
    let (code, v) = diff_json(d.path(), "old.toml", "new.toml");
    assert_eq!(code, Some(1), "{v:#}");
    let s = &v["changes"]["searches"]["changed"][0];
    assert_eq!(
        s["name"],
        "searches/T1098.001-Entra-ID-Additional-Cloud-Credentials-24h.aql"
    );
    assert_eq!(s["fields"][0]["field"], "aql");
    assert_eq!(
        s["fields"][0]["new"],
        "SELECT * FROM events WHERE qid IN (2000000, 2000001, 2000002, 2000003, 2000004, 2000005, 2000006, 2000007, 2000008, 2000009)"
    );
}

#[test]
fn unreadable_sides_are_exit_code_2() {
    let d = pack_dir();
    // Missing file.
    let out = qrpack(d.path(), &["diff", "nope.zip", PACK]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("error: cannot read nope.zip"),
        "{}",
        text(&out.stderr)
    );
    // A pack that does not build: its errors, located.
    let pack = std::fs::read_to_string(d.path().join(PACK)).expect("pack");
    std::fs::write(
        d.path().join("bad.toml"),
        pack.replacen("severity = 9", "severity = 42", 1),
    )
    .expect("write");
    let out = qrpack(d.path(), &["diff", "bad.toml", PACK]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("error[PK033]: severity 42 is outside 0–10"),
        "{err}"
    );
    assert!(err.contains("--> bad.toml:"), "{err}");
    assert!(err.contains("error: cannot compare bad.toml"), "{err}");
    // A truncated archive.
    let out = qrpack(d.path(), &["build", PACK, "-o", "dist"]);
    assert_eq!(out.status.code(), Some(0));
    let bytes = std::fs::read(d.path().join("dist").join(ARCHIVE)).expect("zip");
    std::fs::write(d.path().join("cut.zip"), &bytes[..bytes.len() / 2]).expect("write");
    let out = qrpack(d.path(), &["diff", "cut.zip", PACK]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("error[QR012]"), "{err}");
    // A previous release that cannot be read stops a release before anything is built.
    let out = qrpack(
        d.path(),
        &["release", PACK, "--previous", "cut.zip", "-o", "rel"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(!d.path().join("rel").exists());
}
