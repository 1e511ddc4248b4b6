//! `qrpack validate`: the real exports, our own builds, a corpus of hostile and broken
//! inputs built by the tests themselves, the command line's outputs, and a bounded
//! property test that mutates real archives.
//!
//! Every hostile input is made here, in code, so that nothing dangerous is committed and
//! each case says exactly how it is made. Each must give its own finding (or error), never
//! a panic, never unbounded memory.

use std::collections::BTreeSet;
use std::io::{Cursor, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use base64::Engine;
use qrpack::catalogue::Catalogue;
use qrpack::diag::Severity;
use qrpack::validate::{ArchiveLimits, Options, Report, validate_reader};

use crate::common::*;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

const OPENSSH: &str = "builtin-dsm-extension-windows-openssh.zip";
const TELEPORT: &str = "custom-json-dsm-teleport.zip";

fn opts() -> Options<'static> {
    Options {
        catalogue: Catalogue::builtin(),
        catalogue_is_authoritative: false,
        limits: ArchiveLimits::default(),
        keep_rows: false,
    }
}

fn reference_path(name: &str) -> PathBuf {
    root().join("tests/fixtures/reference-exports").join(name)
}

fn reference(name: &str) -> Vec<u8> {
    std::fs::read(reference_path(name)).expect("reference export")
}

/// Validate bytes in memory; `Err` (could not run) fails the test.
fn check(bytes: &[u8], shown: &str) -> Report {
    validate_reader(Cursor::new(bytes), shown, &opts())
        .unwrap_or_else(|e| panic!("{shown}: validate_reader refused to run: {e}"))
}

/// Every code of a report.
fn codes(r: &Report) -> BTreeSet<&'static str> {
    r.findings.iter().map(|d| d.code).collect()
}

/// Codes of findings at `min` severity or above.
fn codes_at(r: &Report, min: Severity) -> BTreeSet<&'static str> {
    r.findings
        .iter()
        .filter(|d| d.severity >= min)
        .map(|d| d.code)
        .collect()
}

fn errors(r: &Report) -> BTreeSet<&'static str> {
    codes_at(r, Severity::Error)
}

fn dump(r: &Report) -> String {
    r.findings
        .iter()
        .map(|d| format!("  {d}\n"))
        .collect::<String>()
}

/// Assert that `code` is among the report's errors.
#[track_caller]
fn assert_error(r: &Report, code: &str) {
    assert!(
        r.findings
            .iter()
            .any(|d| d.code == code && d.severity == Severity::Error),
        "{}: expected error {code}, got:\n{}",
        r.input,
        dump(r)
    );
}

/// A deflated zip of `entries`, in order, written with the zip crate.
fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let o = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in entries {
        w.start_file(*name, o).expect("start entry");
        w.write_all(data).expect("write entry");
    }
    w.finish().expect("finish zip").into_inner()
}

/// A zip's entries, in order.
fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut z = zip::ZipArchive::new(Cursor::new(bytes)).expect("zip");
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).expect("entry");
            let mut data = Vec::new();
            f.read_to_end(&mut data).expect("inflate");
            (f.name().expect("name").to_string(), data)
        })
        .collect()
}

/// The content XML of a zip (name, bytes).
fn content_of(bytes: &[u8]) -> (String, Vec<u8>) {
    unzip(bytes)
        .into_iter()
        .find(|(n, _)| n.ends_with(".xml"))
        .expect("content XML")
}

/// The same archive with its content XML replaced (manifest and order kept).
fn with_content(archive: &[u8], xml: &[u8]) -> Vec<u8> {
    let entries = unzip(archive);
    let replaced: Vec<(&str, &[u8])> = entries
        .iter()
        .map(|(n, d)| {
            if n.ends_with(".xml") {
                (n.as_str(), xml)
            } else {
                (n.as_str(), d.as_slice())
            }
        })
        .collect();
    zip_of(&replaced)
}

/// The manifest.txt of a real export, to pair with a hostile content XML.
fn real_manifest() -> Vec<u8> {
    unzip(&reference(TELEPORT))
        .into_iter()
        .find(|(n, _)| n == "manifest.txt")
        .expect("manifest")
        .1
}

/// A zip holding a hostile content XML and a real manifest.
fn zip_with_xml(xml: &[u8]) -> Vec<u8> {
    zip_of(&[("content.xml", xml), ("manifest.txt", &real_manifest())])
}

/// The default pack, built in memory once (archive bytes and content XML).
struct BuiltPack {
    archive: Vec<u8>,
    content_xml: String,
}

fn built() -> &'static BuiltPack {
    static BUILT: OnceLock<BuiltPack> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = root().join("qid-maps");
        let pack_path = dir.join(PACK);
        let pack_text = std::fs::read_to_string(&pack_path).expect("pack");
        let lock_path = dir.join("qrpack.lock");
        let lock_text = std::fs::read_to_string(&lock_path).expect("lock");
        let skeletons = qrpack::rule::Skeletons::builtin();
        let b = qrpack::build::build(&qrpack::build::Input {
            pack_path: &pack_path,
            pack_text: &pack_text,
            lock: Some((&lock_path, &lock_text)),
            catalogue: Catalogue::builtin(),
            skeletons: &skeletons,
            source_date_epoch: Some(1_700_000_000),
            locked: true,
        })
        .unwrap_or_else(|f| panic!("{:#?}", f.diagnostics));
        BuiltPack {
            content_xml: String::from_utf8(b.content_xml()).expect("utf-8"),
            archive: b.archive,
        }
    })
}

/// The built pack with the value of its first `<tag>` replaced, and where that element
/// stands in the content XML (line, column).
fn built_with(tag: &str, value: &str) -> (Vec<u8>, (usize, usize)) {
    let b = built();
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let start = b
        .content_xml
        .find(&open)
        .unwrap_or_else(|| panic!("no {open}"));
    let end = start + b.content_xml[start..].find(&close).expect("closed");
    let edited = format!(
        "{}{open}{value}{}",
        &b.content_xml[..start],
        &b.content_xml[end..]
    );
    let at = qrpack::diag::line_col(&b.content_xml, start);
    (with_content(&b.archive, edited.as_bytes()), at)
}

/// The built pack with its first QID's severity set to 42.
fn severity_42() -> (Vec<u8>, (usize, usize)) {
    built_with("severity", "42")
}

/// A content XML around `rows` (already indented), with a valid <qradarversion>.
fn content(rows: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<content>\n\t<qradarversion>2019.14.0.20191031163225</qradarversion>\n{rows}</content>\n"
    )
}

/// Offsets of every local header (`PK\3\4`) and central directory header (`PK\1\2`)
/// of the entry `name`, found by walking the signatures. See `patch_sizes`.
fn headers_of(zip: &[u8], name: &str) -> (Vec<usize>, Vec<usize>) {
    let le16 = |i: usize| u16::from_le_bytes([zip[i], zip[i + 1]]) as usize;
    let (mut local, mut central) = (Vec::new(), Vec::new());
    for i in 0..zip.len().saturating_sub(46) {
        if zip[i..].starts_with(b"PK\x03\x04") {
            let n = le16(i + 26);
            if zip.get(i + 30..i + 30 + n) == Some(name.as_bytes()) {
                local.push(i);
            }
        } else if zip[i..].starts_with(b"PK\x01\x02") {
            let n = le16(i + 28);
            if zip.get(i + 46..i + 46 + n) == Some(name.as_bytes()) {
                central.push(i);
            }
        }
    }
    (local, central)
}

/// Make a zip lie about an entry's inflated size: overwrite the 32-bit "uncompressed
/// size" field of the entry's local header (offset 22 from `PK\3\4`) and of its central
/// directory header (offset 24 from `PK\1\2`). CRC and compressed size stay true, so the
/// zip crate happily opens the entry; only the size lies.
fn patch_sizes(zip: &mut [u8], name: &str, size: u32) {
    let (local, central) = headers_of(zip, name);
    assert_eq!((local.len(), central.len()), (1, 1), "{name} headers");
    zip[local[0] + 22..local[0] + 26].copy_from_slice(&size.to_le_bytes());
    zip[central[0] + 24..central[0] + 28].copy_from_slice(&size.to_le_bytes());
}

/// Rename an entry in place (same length), in its local and central headers.
fn rename_entry(zip: &mut [u8], from: &str, to: &str) {
    assert_eq!(from.len(), to.len());
    let (local, central) = headers_of(zip, from);
    for i in local {
        zip[i + 30..i + 30 + to.len()].copy_from_slice(to.as_bytes());
    }
    for i in central {
        zip[i + 46..i + 46 + to.len()].copy_from_slice(to.as_bytes());
    }
}

/// A seekable input that is `prefix`, then `fill` repeated `len` times, then `suffix`,
/// generated on the fly: a 100 MB input without 100 MB in memory.
struct Synthetic {
    prefix: Vec<u8>,
    fill: u8,
    len: u64,
    suffix: Vec<u8>,
    pos: u64,
}

impl Synthetic {
    fn new(prefix: &str, fill: u8, len: u64, suffix: &str) -> Self {
        Synthetic {
            prefix: prefix.as_bytes().to_vec(),
            fill,
            len,
            suffix: suffix.as_bytes().to_vec(),
            pos: 0,
        }
    }
    fn total(&self) -> u64 {
        self.prefix.len() as u64 + self.len + self.suffix.len() as u64
    }
}

impl Read for Synthetic {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let p = self.prefix.len() as u64;
        let n = if self.pos < p {
            let src = &self.prefix[self.pos as usize..];
            let n = src.len().min(out.len());
            out[..n].copy_from_slice(&src[..n]);
            n
        } else if self.pos < p + self.len {
            let n = ((p + self.len - self.pos) as usize).min(out.len());
            out[..n].fill(self.fill);
            n
        } else {
            let at = (self.pos - p - self.len) as usize;
            let src = self.suffix.get(at..).unwrap_or(&[]);
            let n = src.len().min(out.len());
            out[..n].copy_from_slice(&src[..n]);
            n
        };
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Synthetic {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let new = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.total().checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = new.ok_or_else(|| std::io::Error::other("seek before the start"))?;
        Ok(self.pos)
    }
}

/// Run the binary with `input` on standard input.
fn qrpack_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_qrpack"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn qrpack");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("wait");
    writer.join().expect("writer");
    out
}

fn json_of(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\n{}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        )
    })
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write");
    p.display().to_string()
}

/// A zip of `entries` with no compression (CRC and sizes are still written).
fn stored_zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let o =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, data) in entries {
        w.start_file(*name, o).expect("start entry");
        w.write_all(data).expect("write entry");
    }
    w.finish().expect("finish zip").into_inner()
}

/// A tar.gz of `entries` (regular files), written with the tar and flate2 crates.
fn tar_gz_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut t = tar::Builder::new(gz);
    for (name, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        t.append_data(&mut h, name, *data).expect("tar entry");
    }
    t.into_inner().expect("tar").finish().expect("gzip")
}

/// The same entries as a zip, as a tar.gz.
fn tar_gz_from_zip(zip: &[u8]) -> Vec<u8> {
    let entries = unzip(zip);
    let refs: Vec<(&str, &[u8])> = entries
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    tar_gz_of(&refs)
}

// ---------------------------------------------------------------------------------------
// What QRadar wrote, and what `build` writes
// ---------------------------------------------------------------------------------------

#[test]
fn reference_exports_have_no_errors() {
    for name in [OPENSSH, TELEPORT] {
        let r = check(&reference(name), name);
        assert!(errors(&r).is_empty(), "{name}:\n{}", dump(&r));
        // Both manifests leave the author e-mail and the description empty: QRadar
        // accepts that, IBM App Exchange does not. Nothing else is reported.
        let warnings: Vec<_> = r
            .findings
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .map(|d| d.code)
            .collect();
        assert_eq!(warnings, ["QR025", "QR025"], "{name}:\n{}", dump(&r));
        assert!(r.qradar_version.is_some() && r.manifest.is_some(), "{name}");
    }
    // The command line agrees: both at once, exit 0.
    let out = qrpack(
        &root(),
        &[
            "validate",
            &reference_path(OPENSSH).display().to_string(),
            &reference_path(TELEPORT).display().to_string(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("0 errors, 2 warnings"));
}

#[test]
fn deny_warnings_promotes_the_reference_exports_warnings() {
    let path = reference_path(OPENSSH).display().to_string();
    let out = qrpack(&root(), &["validate", "--deny", "warnings", &path]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("error[QR025]"), "{stdout}");
    assert!(!stdout.contains("warning[QR025]"), "{stdout}");
    assert!(stdout.contains("2 errors, 0 warnings"), "{stdout}");
    let out = qrpack(
        &root(),
        &["validate", "--deny", "warnings", "--format", "json", &path],
    );
    assert_eq!(out.status.code(), Some(1));
    let v = json_of(&out);
    assert_eq!(v["summary"]["errors"], 2);
    assert_eq!(v["summary"]["warnings"], 0);
}

#[test]
fn every_built_archive_validates_without_warnings() {
    // What `build` writes to disk...
    let d = pack_dir();
    let out = qrpack(d.path(), &["build", PACK, "-o", "dist"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let archive = format!("dist/{ARCHIVE}");
    let out = qrpack(
        d.path(),
        &[
            "validate", "--deny", "warnings", "--format", "json", &archive,
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let v = json_of(&out);
    assert_eq!(v["summary"]["errors"], 0, "{v:#}");
    assert_eq!(v["summary"]["warnings"], 0, "{v:#}");
    // ...and what it builds in memory (the same pack, another build time).
    let r = check(&built().archive, "built.zip");
    assert!(codes_at(&r, Severity::Warning).is_empty(), "{}", dump(&r));
    assert!(r.manifest.is_some() && r.qradar_version.is_some());
    // The same archive as a tar.gz, and its content XML alone.
    let r = check(&tar_gz_from_zip(&built().archive), "built.tar.gz");
    assert!(codes_at(&r, Severity::Warning).is_empty(), "{}", dump(&r));
    let r = check(built().content_xml.as_bytes(), "built.xml");
    assert!(codes_at(&r, Severity::Warning).is_empty(), "{}", dump(&r));
}

// ---------------------------------------------------------------------------------------
// Hostile and broken inputs
// ---------------------------------------------------------------------------------------

#[test]
fn zip_slip_is_refused_before_anything_is_read() {
    let xml = content("");
    for name in [
        "../../evil.xml",
        "a/../../evil.xml",
        "..\\evil.xml",
        "/etc/evil.xml",
        "C:\\evil.xml",
    ] {
        let r = check(
            &zip_of(&[(name, xml.as_bytes()), ("manifest.txt", &real_manifest())]),
            "slip.zip",
        );
        assert_error(&r, "QR001");
        let d = r
            .findings
            .iter()
            .find(|d| d.code == "QR001")
            .expect("QR001");
        assert!(d.message.contains(name), "{}", d.message);
        assert_eq!(
            d.location.as_ref().map(|l| l.file.as_str()),
            Some(format!("slip.zip!{name}").as_str())
        );
        // Safety comes first: neither the manifest nor any XML was parsed.
        assert!(r.manifest.is_none() && r.content_name.is_none(), "{name}");
    }
}

#[test]
fn zip_bomb_is_refused_before_inflating() {
    // 2 MiB of zeros deflate ~1023-fold (deflate's ceiling is ~1032): past the
    // 1000-fold limit on entries over 1 MiB. A bigger bomb only makes the test slower —
    // deflating runs unoptimised in debug builds (100 MB takes ~10 s).
    let zeros = vec![0u8; 2 << 20];
    let bomb = zip_of(&[("content.xml", &zeros), ("manifest.txt", &real_manifest())]);
    assert!(bomb.len() < 4 << 10, "{}", bomb.len());
    let r = check(&bomb, "bomb.zip");
    assert_error(&r, "QR005");
    let d = r
        .findings
        .iter()
        .find(|d| d.code == "QR005")
        .expect("QR005");
    assert!(d.message.contains("-fold"), "{}", d.message);
    assert!(r.content_name.is_none() && r.manifest.is_none());
    // The same bytes, not compressible: a plain (if odd) content XML, not a bomb.
    let r = check(
        &stored_zip_of(&[("content.xml", &zeros), ("manifest.txt", &real_manifest())]),
        "plain.zip",
    );
    assert!(!codes(&r).contains("QR005"), "{}", dump(&r));
}

/// A real export's content XML deflated, with its size header patched to 1000 bytes
/// while it inflates to 78 KB (see `patch_sizes`).
fn lying_content_zip() -> Vec<u8> {
    let (name, xml) = content_of(&reference(TELEPORT));
    let mut z = zip_of(&[(&name, &xml), ("manifest.txt", &real_manifest())]);
    patch_sizes(&mut z, &name, 1000);
    z
}

#[test]
fn lying_size_header_stops_reading_with_an_error() {
    // Whatever the code, a lying size never validates clean and never reads on.
    for (label, zip) in [
        ("content", lying_content_zip()),
        ("manifest", {
            let (name, xml) = content_of(&reference(TELEPORT));
            let mut z = zip_of(&[(&name, &xml), ("manifest.txt", &real_manifest())]);
            patch_sizes(&mut z, "manifest.txt", 100);
            z
        }),
    ] {
        let r = check(&zip, "lying.zip");
        assert!(!errors(&r).is_empty(), "{label}: {}", dump(&r));
        if label == "content" {
            assert!(
                r.counts.is_empty(),
                "rows were read past the lie: {:?}",
                r.counts
            );
        } else {
            assert!(r.manifest.is_none(), "the manifest was read past the lie");
        }
    }
}

#[test]

fn lying_size_header_on_the_content_is_qr006() {
    let r = check(&lying_content_zip(), "lying.zip");
    assert_error(&r, "QR006");
    assert!(!codes(&r).contains("QR030"), "{}", dump(&r));
}

#[test]

fn lying_size_header_on_the_manifest_is_qr006() {
    let (name, xml) = content_of(&reference(TELEPORT));
    let mut z = zip_of(&[(&name, &xml), ("manifest.txt", &real_manifest())]);
    patch_sizes(&mut z, "manifest.txt", 100);
    let r = check(&z, "lying.zip");
    assert_error(&r, "QR006");
}

#[test]
fn billion_laughs_is_refused_without_expanding() {
    // Nine levels of ten: 10^9 "lol"s (3 GB) if a parser expanded it.
    let mut dtd = String::from("<!ENTITY lol0 \"lol\">\n");
    for i in 1..=9 {
        let refs = format!("&lol{};", i - 1).repeat(10);
        dtd.push_str(&format!("<!ENTITY lol{i} \"{refs}\">\n"));
    }
    let xml = format!(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE content [\n{dtd}]>\n<content>\n\t<qradarversion>2021.6.0</qradarversion>\n\t<qidmap>\n\t\t<qname>&lol9;</qname>\n\t</qidmap>\n</content>\n"
    );
    let t = std::time::Instant::now();
    for (r, file) in [
        (
            check(&zip_with_xml(xml.as_bytes()), "laughs.zip"),
            "laughs.zip!content.xml",
        ),
        (check(xml.as_bytes(), "laughs.xml"), "laughs.xml"),
    ] {
        assert_error(&r, "QR033");
        let d = r
            .findings
            .iter()
            .find(|d| d.code == "QR033")
            .expect("QR033");
        let l = d.location.as_ref().expect("location");
        assert_eq!((l.file.as_str(), l.line, l.column), (file, 2, 1));
        assert!(r.counts.is_empty(), "no row is read: {:?}", r.counts);
    }
    assert!(t.elapsed().as_secs() < 5, "{:?}", t.elapsed());
}

#[test]
fn external_entity_is_refused() {
    let xxe = "<?xml version=\"1.0\"?>\n<!DOCTYPE content [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n<content>\n\t<qradarversion>2021.6.0</qradarversion>\n\t<qidmap>\n\t\t<qname>&xxe;</qname>\n\t</qidmap>\n</content>\n";
    let r = check(&zip_with_xml(xxe.as_bytes()), "xxe.zip");
    assert_error(&r, "QR033");
    assert!(
        !r.findings.iter().any(|d| d.message.contains("root:")),
        "/etc/passwd leaked into a finding:\n{}",
        dump(&r)
    );
    // A parameter entity (the out-of-band form) is a DOCTYPE too.
    let oob = "<?xml version=\"1.0\"?>\n<!DOCTYPE content [<!ENTITY % ext SYSTEM \"http://127.0.0.1:9/x.dtd\"> %ext;]>\n<content/>\n";
    assert_error(&check(oob.as_bytes(), "oob.xml"), "QR033");
    // Without a DOCTYPE, an undeclared entity is simply not well-formed.
    let bare = content("\t<qidmap>\n\t\t<qname>&xxe;</qname>\n\t</qidmap>\n");
    let r = check(bare.as_bytes(), "undeclared.xml");
    assert_error(&r, "QR030");
    let d = r
        .findings
        .iter()
        .find(|d| d.code == "QR030")
        .expect("QR030");
    assert!(d.message.contains("&xxe;"), "{}", d.message);
}

#[test]
fn a_stop_before_qradarversion_does_not_claim_it_is_missing() {
    let xxe = "<?xml version=\"1.0\"?>\n<!DOCTYPE content [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n<content>\n\t<qradarversion>2021.6.0</qradarversion>\n</content>\n";
    let r = check(xxe.as_bytes(), "xxe.xml");
    assert_error(&r, "QR033");
    assert!(!codes(&r).contains("QR032"), "{}", dump(&r));
}

#[test]
fn ten_thousand_nested_elements_are_refused() {
    let deep = content(&format!(
        "{}{}",
        "<a>".repeat(10_000),
        "</a>".repeat(10_000)
    ));
    for (r, what) in [
        (check(&zip_with_xml(deep.as_bytes()), "deep.zip"), "zip"),
        (check(deep.as_bytes(), "deep.xml"), "xml"),
    ] {
        assert_error(&r, "QR034");
        let d = r
            .findings
            .iter()
            .find(|d| d.code == "QR034")
            .expect("QR034");
        // Reading stops at the first element below a column: the third <a>.
        assert_eq!(
            d.location.as_ref().map(|l| (l.line, l.column)),
            Some((4, 7)),
            "{what}"
        );
    }
    // Too wide is refused like too deep: 5,000 columns in one row.
    let wide = content(&format!("\t<qidmap>{}</qidmap>\n", "<c>1</c>".repeat(5000)));
    assert_error(&check(wide.as_bytes(), "wide.xml"), "QR034");
}

/// `<content>…<qidmap a="` + 100 MB of `a` + `"/>…`: generated on the fly.
fn hundred_mb_attribute() -> Synthetic {
    Synthetic::new(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<content>\n\t<qradarversion>2021.6.0</qradarversion>\n\t<qidmap a=\"",
        b'a',
        100_000_000,
        "\"/>\n</content>\n",
    )
}

#[test]
fn hundred_mb_attribute_is_refused() {
    let r = validate_reader(hundred_mb_attribute(), "attr.xml", &opts()).expect("runs");
    assert_error(&r, "QR035");
    let d = r
        .findings
        .iter()
        .find(|d| d.code == "QR035")
        .expect("QR035");
    assert!(d.message.contains("67108864 bytes"), "{}", d.message);
    assert_eq!(d.location.as_ref().map(|l| l.line), Some(4));
}

#[test]
fn hundred_mb_text_is_refused() {
    let big = Synthetic::new(
        "<content>\n\t<qradarversion>2021.6.0</qradarversion>\n\t<qidmap>\n\t\t<qdescription>",
        b'x',
        100_000_000,
        "</qdescription>\n\t</qidmap>\n</content>\n",
    );
    let r = validate_reader(big, "text.xml", &opts()).expect("runs");
    assert_error(&r, "QR035");
}

/// Peak resident memory (VmHWM, KiB) of a running child, polled from /proc until it
/// exits. VmHWM only grows, and the reader's peak comes while it reads the token, long
/// before the process exits, so the last reading is the process's peak. `None` where
/// /proc is not available.
fn run_polling_peak(mut cmd: Command) -> (Output, Option<u64>) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn qrpack");
    // Drain stdout and stderr in threads, so that the child never blocks on a full pipe.
    let mut so = child.stdout.take().expect("stdout");
    let mut se = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = so.read_to_end(&mut b);
        b
    });
    let err_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = se.read_to_end(&mut b);
        b
    });
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak: Option<u64> = None;
    let status = loop {
        if let Ok(s) = std::fs::read_to_string(&status_file)
            && let Some(kib) = s
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak = Some(peak.map_or(kib, |p| p.max(kib)));
        }
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    };
    let out = Output {
        status,
        stdout: out_t.join().expect("stdout"),
        stderr: err_t.join().expect("stderr"),
    };
    (out, peak)
}

#[test]
fn hundred_mb_attribute_in_a_zip_keeps_memory_bounded() {
    // Streamed to a file on disk, stored (not deflated): deflating 100 MB of 'a' is slow
    // in debug builds and gives a 1000-fold ratio that QR005 refuses before any parsing.
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("attr.zip");
    {
        let f = std::fs::File::create(&path).expect("create");
        let mut w = zip::ZipWriter::new(std::io::BufWriter::new(f));
        let o = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        w.start_file("content.xml", o).expect("entry");
        std::io::copy(&mut hundred_mb_attribute(), &mut w).expect("stream 100 MB");
        w.start_file("manifest.txt", o).expect("entry");
        w.write_all(&real_manifest()).expect("manifest");
        w.finish().expect("zip");
    }
    assert!(std::fs::metadata(&path).expect("size").len() > 100_000_000);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_qrpack"));
    cmd.args(["validate", "--format", "json", "attr.zip"])
        .current_dir(dir.path());
    let (out, peak) = run_polling_peak(cmd);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let v = json_of(&out);
    assert!(
        v["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .any(|f| f["code"] == "QR035" && f["file"] == "attr.zip!content.xml"),
        "{v:#}"
    );
    // The reader buffers one token up to the 64 MiB limit, then stops: the process
    // peaks around 77 MiB with glibc's allocator and 88 MiB with mimalloc, the binary's
    // allocator since session 5 (measured). Holding the 100 MB
    // attribute (95 MiB, over the 13 MiB baseline) instead of stopping at the limit — let
    // alone the entry — would cross 100 MiB.
    // /proc is Linux's; elsewhere the bound is not measured here.
    if cfg!(target_os = "linux") {
        let kib = peak.expect("VmHWM was read while qrpack ran");
        assert!(kib < 100 << 10, "peak RSS {} MiB", kib >> 10);
    }
}

#[test]
fn invalid_utf8_is_qr030() {
    // "caf" + 0xC3 0x28: a 2-byte lead byte followed by an ASCII byte.
    let mut xml = content("\t<qidmap>\n\t\t<qname>caf").into_bytes();
    xml.truncate(xml.len() - "</content>\n".len());
    xml.extend_from_slice(&[0xC3, 0x28]);
    xml.extend_from_slice(b"</qname>\n\t</qidmap>\n</content>\n");
    for (r, file) in [
        (
            check(&zip_with_xml(&xml), "utf8.zip"),
            "utf8.zip!content.xml",
        ),
        (check(&xml, "utf8.xml"), "utf8.xml"),
    ] {
        assert_error(&r, "QR030");
        let d = r
            .findings
            .iter()
            .find(|d| d.code == "QR030")
            .expect("QR030");
        assert!(d.message.contains("UTF-8"), "{}", d.message);
        let l = d.location.as_ref().expect("location");
        assert_eq!((l.file.as_str(), l.line), (file, 5));
    }
    // A manifest that is not UTF-8 is QR021.
    let (name, xml) = content_of(&reference(TELEPORT));
    let mut manifest = real_manifest();
    manifest.extend_from_slice(&[0xff, 0xfe]);
    let r = check(
        &zip_of(&[(&name, &xml), ("manifest.txt", &manifest)]),
        "m.zip",
    );
    assert_error(&r, "QR021");
}

#[test]
fn truncated_archives_are_qr012() {
    for name in [OPENSSH, TELEPORT] {
        let full = reference(name);
        let mut cuts: Vec<usize> = (1..16).map(|k| full.len() * k / 16).collect();
        cuts.extend([4, 30, full.len() - 22, full.len() - 1]);
        for cut in cuts {
            let r = check(&full[..cut], "cut.zip");
            assert_error(&r, "QR012");
        }
    }
    // tar.gz: cut in the gzip stream, and in the tar headers.
    let tgz = tar_gz_from_zip(&reference(TELEPORT));
    for cut in (1..40).map(|k| tgz.len() * k / 40) {
        let r = check(&tgz[..cut], "cut.tar.gz");
        assert_error(&r, "QR012");
    }
    // A bare XML cut short, mid-tag or between rows: not well-formed.
    let (_, xml) = content_of(&reference(TELEPORT));
    let half = xml.len() / 2;
    let line_end = xml[..half]
        .iter()
        .rposition(|&b| b == b'\n')
        .expect("a line")
        + 1;
    for cut in [half, line_end] {
        assert_error(&check(&xml[..cut], "cut.xml"), "QR030");
    }
    let r = check(&xml[..line_end], "cut.xml");
    assert!(
        r.findings.iter().any(|d| d.message.contains("truncated")),
        "{}",
        dump(&r)
    );
}

#[test]

fn a_tar_gz_cut_in_its_gzip_trailer_is_qr012() {
    let tgz = tar_gz_from_zip(&reference(TELEPORT));
    for cut in [tgz.len() - 9, tgz.len() - 4, tgz.len() - 1] {
        let r = check(&tgz[..cut], "cut.tar.gz");
        assert_error(&r, "QR012");
    }
}

#[test]
fn corrupt_manifest_data_is_qr012() {
    // Stored, so the bytes can be changed in place: the CRC no longer matches.
    let (name, xml) = content_of(&reference(TELEPORT));
    let mut z = stored_zip_of(&[(&name, &xml), ("manifest.txt", &real_manifest())]);
    let i = z
        .windows(7)
        .position(|w| w == b"\"staze0")
        .expect("the manifest's author");
    z[i + 1] = b'S';
    assert_error(&check(&z, "crc.zip"), "QR012");
}

#[test]
fn corrupt_content_data_is_qr012() {
    let (name, xml) = content_of(&reference(TELEPORT));
    let mut z = stored_zip_of(&[(&name, &xml), ("manifest.txt", &real_manifest())]);
    // A letter of a QID name, inside the stored data (not the header's file name).
    let i = z
        .windows(9)
        .position(|w| w == b"<qname>[T")
        .expect("a qname");
    z[i + 8] = b'X';
    let r = check(&z, "crc.zip");
    assert_error(&r, "QR012");
    assert!(!codes(&r).contains("QR030"), "{}", dump(&r));
}

#[test]
fn dangling_qidmapid_is_qr057() {
    let (zip, at) = built_with("qidmapid", "999999");
    let r = check(&zip, "dangling.zip");
    assert_error(&r, "QR057");
    let d = r
        .findings
        .iter()
        .find(|d| d.code == "QR057")
        .expect("QR057");
    assert!(d.message.contains("999999"), "{}", d.message);
    assert_eq!(d.location.as_ref().map(|l| (l.line, l.column)), Some(at));
    assert_eq!(errors(&r), BTreeSet::from(["QR057"]), "{}", dump(&r));
}

#[test]
fn severity_42_is_qr050() {
    let (zip, at) = severity_42();
    let r = check(&zip, "sev.zip");
    assert_eq!(errors(&r), BTreeSet::from(["QR050"]), "{}", dump(&r));
    let d = r
        .findings
        .iter()
        .find(|d| d.code == "QR050")
        .expect("QR050");
    assert!(d.message.contains("42"), "{}", d.message);
    // It points at the <severity> element.
    assert_eq!(d.location.as_ref().map(|l| (l.line, l.column)), Some(at));
}

#[test]
fn bad_base64_rule_data_is_qr039_or_qr090() {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    // Not base64 at all: the column's type (QR039), said once (the rule check does not
    // repeat it as QR090), at the <rule_data> element.
    let (zip, at) = built_with("rule_data", "this is *not* base64!");
    let r = check(&zip, "b64.zip");
    assert_eq!(errors(&r), BTreeSet::from(["QR039"]), "{}", dump(&r));
    let d = r
        .findings
        .iter()
        .find(|d| d.code == "QR039")
        .expect("QR039");
    assert!(d.message.contains("rule_data"), "{}", d.message);
    assert_eq!(d.location.as_ref().map(|l| (l.line, l.column)), Some(at));
    // Base64 of something that is not a rule: QR090 alone.
    for (what, bad) in [
        ("not a <rule>", b64(b"<nope/>")),
        ("not UTF-8", b64(&[0xff, 0xfe, 0x00])),
        ("not XML", b64(b"<rule><name>x</name>")),
        ("a rule without tests", b64(b"<rule><name>x</name></rule>")),
    ] {
        let r = check(&built_with("rule_data", &bad).0, "b64.zip");
        assert_eq!(
            errors(&r),
            BTreeSet::from(["QR090"]),
            "{what}:\n{}",
            dump(&r)
        );
    }
}

#[test]
fn duplicate_zip_entries_are_qr007() {
    // The zip writer refuses duplicate names: write b.xml, then rename it a.xml in its
    // local and central headers (same length).
    let mut z = zip_of(&[
        ("a.xml", content("").as_bytes()),
        ("b.xml", content("\t<bogus/>\n").as_bytes()),
        ("manifest.txt", &real_manifest()),
    ]);
    rename_entry(&mut z, "b.xml", "a.xml");
    assert_eq!(headers_of(&z, "a.xml").1.len(), 2, "two central entries");
    assert_error(&check(&z, "dup.zip"), "QR007");
}

#[test]
fn archive_layout_findings() {
    let xml = content("");
    let m = real_manifest();
    let zip_link = {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        w.add_symlink(
            "content.xml",
            "/etc/passwd",
            zip::write::SimpleFileOptions::default(),
        )
        .expect("symlink");
        w.start_file("manifest.txt", zip::write::SimpleFileOptions::default())
            .expect("entry");
        w.write_all(&m).expect("manifest");
        w.finish().expect("zip").into_inner()
    };
    let many: Vec<(String, Vec<u8>)> = (0..1001)
        .map(|i| (format!("f{i}.txt"), Vec::new()))
        .collect();
    let many: Vec<(&str, &[u8])> = many
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let cases: Vec<(&str, Vec<u8>, &str, Severity)> = vec![
        ("a link", zip_link, "QR002", Severity::Error),
        (
            "1001 entries",
            stored_zip_of(&many),
            "QR004",
            Severity::Error,
        ),
        (
            "a folder",
            zip_of(&[("dir/content.xml", xml.as_bytes()), ("manifest.txt", &m)]),
            "QR008",
            Severity::Error,
        ),
        (
            "manifest.xml",
            zip_of(&[
                ("content.xml", xml.as_bytes()),
                ("manifest.xml", b"<m/>"),
                ("manifest.txt", &m),
            ]),
            "QR009",
            Severity::Error,
        ),
        (
            "no content",
            zip_of(&[("manifest.txt", &m)]),
            "QR010",
            Severity::Error,
        ),
        (
            "two contents",
            zip_of(&[
                ("a.xml", xml.as_bytes()),
                ("b.xml", xml.as_bytes()),
                ("manifest.txt", &m),
            ]),
            "QR011",
            Severity::Error,
        ),
        (
            "an extra file",
            zip_of(&[
                ("content.xml", xml.as_bytes()),
                ("notes.txt", b"hi"),
                ("manifest.txt", &m),
            ]),
            "QR013",
            Severity::Warning,
        ),
        (
            "no manifest",
            zip_of(&[("content.xml", xml.as_bytes())]),
            "QR020",
            Severity::Warning,
        ),
        (
            "a tar.gz duplicate",
            tar_gz_of(&[
                ("content.xml", xml.as_bytes()),
                ("content.xml", xml.as_bytes()),
                ("manifest.txt", &m),
            ]),
            "QR007",
            Severity::Error,
        ),
    ];
    for (what, bytes, code, sev) in cases {
        let r = check(&bytes, "layout.zip");
        assert!(
            r.findings
                .iter()
                .any(|d| d.code == code && d.severity == sev),
            "{what}: expected {sev}[{code}], got:\n{}",
            dump(&r)
        );
    }
}

#[test]
fn an_input_without_a_root_element_is_not_well_formed() {
    for (what, input) in [
        ("empty", &b""[..]),
        ("whitespace", b"  \n"),
        ("a comment", b"<?xml version=\"1.0\"?>\n<!-- nothing -->\n"),
        ("text", b"hello"),
    ] {
        let r = check(input, "empty.xml");
        let c = codes(&r);
        assert!(
            c.contains("QR030") || c.contains("QR031"),
            "{what}:\n{}",
            dump(&r)
        );
    }
}

// ---------------------------------------------------------------------------------------
// The command line
// ---------------------------------------------------------------------------------------

/// The severity-42 archive as `sev42.zip` in a temporary folder: the folder, its content
/// XML's name, and where the severity is (`line:column`).
fn sev42_on_disk() -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (zip, (line, column)) = severity_42();
    write_file(dir.path(), "sev42.zip", &zip);
    let (content_name, _) = content_of(&zip);
    (dir, content_name, format!("{line}:{column}"))
}

#[test]
fn human_output_is_rustc_style() {
    let (dir, content_name, at) = sev42_on_disk();
    let out = qrpack(dir.path(), &["validate", "sev42.zip"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for expected in [
        "error[QR050]: severity 42 is outside 0–10".to_string(),
        format!("--> sev42.zip!{content_name}:{at}"),
        "<severity>42</severity>".to_string(),
        "= help: QRadar severities run from 0 to 10".to_string(),
        "sev42.zip: 1 error, 0 warnings, 0 notes".to_string(),
    ] {
        assert!(stdout.contains(&expected), "{expected:?} not in:\n{stdout}");
    }
    // --quiet keeps errors only, and drops the summary.
    let out = qrpack(
        &root(),
        &[
            "validate",
            "-q",
            &reference_path(OPENSSH).display().to_string(),
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout).trim(), "");
}

#[test]
fn json_output_is_frozen_version_1() {
    let (dir, content_name, at) = sev42_on_disk();
    std::fs::copy(reference_path(TELEPORT), dir.path().join(TELEPORT)).expect("copy");
    let out = qrpack(
        dir.path(),
        &["validate", "--format", "json", "sev42.zip", TELEPORT],
    );
    assert_eq!(out.status.code(), Some(1));
    let v = json_of(&out);
    let keys = |v: &serde_json::Value| -> BTreeSet<String> {
        v.as_object().expect("object").keys().cloned().collect()
    };
    let set = |k: &[&str]| -> BTreeSet<String> { k.iter().map(|s| s.to_string()).collect() };
    assert_eq!(
        keys(&v),
        set(&["version", "tool", "inputs", "findings", "summary"])
    );
    assert_eq!(v["version"], 1);
    assert_eq!(v["tool"]["name"], "qrpack");
    assert_eq!(v["tool"]["version"], env!("CARGO_PKG_VERSION"));
    let inputs = v["inputs"].as_array().expect("inputs");
    assert_eq!(inputs.len(), 2);
    for i in inputs {
        assert_eq!(
            keys(i),
            set(&["path", "read", "errors", "warnings", "infos"])
        );
    }
    assert_eq!(inputs[0]["path"], "sev42.zip");
    assert_eq!(inputs[0]["read"], true);
    assert_eq!(inputs[0]["errors"], 1);
    assert_eq!(inputs[1]["path"], TELEPORT);
    assert_eq!(inputs[1]["warnings"], 2);
    let findings = v["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), 3);
    for f in findings {
        assert_eq!(
            keys(f),
            set(&[
                "code", "severity", "message", "input", "file", "line", "column", "help", "notes",
                "docs"
            ])
        );
    }
    let f = &findings[0];
    assert_eq!(f["code"], "QR050");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["message"], "severity 42 is outside 0–10");
    assert_eq!(f["input"], "sev42.zip");
    assert_eq!(f["file"], format!("sev42.zip!{content_name}"));
    assert_eq!(format!("{}:{}", f["line"], f["column"]), at);
    assert_eq!(f["help"], "QRadar severities run from 0 to 10");
    assert_eq!(f["notes"], serde_json::json!([]));
    assert_eq!(f["docs"], "docs/checks.md#qr050");
    assert_eq!(findings[1]["severity"], "warning");
    assert_eq!(findings[1]["input"], TELEPORT);
    assert_eq!(
        keys(&v["summary"]),
        set(&["inputs", "errors", "warnings", "infos"])
    );
    assert_eq!(
        v["summary"],
        serde_json::json!({"inputs": 2, "errors": 1, "warnings": 2, "infos": 0})
    );
}

#[test]
fn sarif_output_is_2_1_0() {
    let (dir, _, at) = sev42_on_disk();
    std::fs::copy(reference_path(TELEPORT), dir.path().join(TELEPORT)).expect("copy");
    let out = qrpack(
        dir.path(),
        &["validate", "--format", "sarif", "sev42.zip", TELEPORT],
    );
    assert_eq!(out.status.code(), Some(1));
    let v = json_of(&out);
    assert_eq!(v["version"], "2.1.0");
    assert!(
        v["$schema"]
            .as_str()
            .is_some_and(|s| s.contains("sarif-2.1.0"))
    );
    let run = &v["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "qrpack");
    let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
    let ids: BTreeSet<&str> = rules.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(ids, BTreeSet::from(["QR025", "QR050"]));
    for r in rules {
        assert!(
            r["shortDescription"]["text"]
                .as_str()
                .is_some_and(|t| !t.is_empty())
        );
    }
    let results = run["results"].as_array().expect("results");
    assert_eq!(results.len(), 3);
    for r in results {
        assert!(ids.contains(r["ruleId"].as_str().expect("ruleId")));
        assert!(["error", "warning", "note"].contains(&r["level"].as_str().expect("level")));
        assert!(r["message"]["text"].as_str().is_some_and(|t| !t.is_empty()));
        let loc = &r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"];
        assert!(loc == "sev42.zip" || loc == TELEPORT, "{loc}");
    }
    let sev = results
        .iter()
        .find(|r| r["ruleId"] == "QR050")
        .expect("QR050");
    assert_eq!(sev["level"], "error");
    // The member and its place are in the message: SARIF locates the archive itself.
    assert!(
        sev["message"]["text"]
            .as_str()
            .is_some_and(|t| t.contains(&format!(":{at}]")))
    );
}

#[test]
fn several_paths_at_once() {
    let (dir, _, _) = sev42_on_disk();
    for n in [OPENSSH, TELEPORT] {
        std::fs::copy(reference_path(n), dir.path().join(n)).expect("copy");
    }
    // Clean ones alone: 0.
    let out = qrpack(dir.path(), &["validate", OPENSSH, TELEPORT]);
    assert_eq!(out.status.code(), Some(0));
    // One with an error among them: 1, and every input is reported, in order.
    let out = qrpack(
        dir.path(),
        &[
            "validate",
            "--format",
            "json",
            OPENSSH,
            "sev42.zip",
            TELEPORT,
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let v = json_of(&out);
    let paths: Vec<&str> = v["inputs"]
        .as_array()
        .expect("inputs")
        .iter()
        .filter_map(|i| i["path"].as_str())
        .collect();
    assert_eq!(paths, [OPENSSH, "sev42.zip", TELEPORT]);
    let human = text(&qrpack(dir.path(), &["validate", OPENSSH, "sev42.zip", TELEPORT]).stdout);
    for p in [OPENSSH, "sev42.zip", TELEPORT] {
        assert!(
            human.contains(&format!("{p}: ")),
            "{p} has no summary:\n{human}"
        );
    }
}

#[test]
fn standard_input_is_dash() {
    let out = qrpack_stdin(&["validate", "--format", "json", "-"], &reference(TELEPORT));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v = json_of(&out);
    assert_eq!(v["inputs"][0]["path"], "<stdin>");
    assert_eq!(v["findings"][0]["file"], "<stdin>!manifest.txt");
    // A broken archive on stdin: 1, with human output pointing into it.
    let (sev, _) = severity_42();
    let out = qrpack_stdin(&["validate", "-"], &sev);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("error[QR050]") && stdout.contains("--> <stdin>!"),
        "{stdout}"
    );
    // A bare content XML on stdin, and a tar.gz.
    let (_, xml) = content_of(&reference(TELEPORT));
    assert_eq!(
        qrpack_stdin(&["validate", "-"], &xml).status.code(),
        Some(0)
    );
    let tgz = tar_gz_from_zip(&reference(TELEPORT));
    assert_eq!(
        qrpack_stdin(&["validate", "-"], &tgz).status.code(),
        Some(0)
    );
}

#[test]
fn a_missing_file_is_exit_code_2() {
    let out = qrpack(&root(), &["validate", "no/such/extension.zip"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no/such/extension.zip"),
        "{}",
        text(&out.stderr)
    );
    // With a readable one beside it: still 2, and the JSON says which was not read.
    let out = qrpack(
        &root(),
        &[
            "validate",
            "--format",
            "json",
            &reference_path(TELEPORT).display().to_string(),
            "no/such/extension.zip",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let v = json_of(&out);
    assert_eq!(v["inputs"][0]["read"], true);
    assert_eq!(v["inputs"][1]["read"], false);
    assert_eq!(v["inputs"][1]["path"], "no/such/extension.zip");
    // A folder is not an extension either.
    assert_eq!(
        qrpack(&root(), &["validate", "tests"]).status.code(),
        Some(2)
    );
}

#[test]
fn tar_gz_input_validates_like_the_zip() {
    let dir = tempfile::tempdir().expect("temp dir");
    for name in [OPENSSH, TELEPORT] {
        let zip = reference(name);
        let tgz_name = name.replace(".zip", ".tar.gz");
        write_file(dir.path(), &tgz_name, &tar_gz_from_zip(&zip));
        let out = qrpack(dir.path(), &["validate", "--format", "json", &tgz_name]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
        let v = json_of(&out);
        let codes: Vec<&str> = v["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter_map(|f| f["code"].as_str())
            .collect();
        assert_eq!(codes, ["QR025", "QR025"], "{v:#}");
        assert_eq!(v["findings"][0]["file"], format!("{tgz_name}!manifest.txt"));
        let out = qrpack(dir.path(), &["validate", "--deny", "warnings", &tgz_name]);
        assert_eq!(out.status.code(), Some(1));
    }
    // A tar.gz with a problem in its content XML points into the member.
    let (sev, (line, column)) = severity_42();
    let (content_name, _) = content_of(&sev);
    write_file(dir.path(), "sev.tar.gz", &tar_gz_from_zip(&sev));
    let out = qrpack(dir.path(), &["validate", "sev.tar.gz"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!("--> sev.tar.gz!{content_name}:{line}:{column}")),
        "{stdout}"
    );
}

#[test]
fn bare_xml_input_is_validated() {
    let dir = tempfile::tempdir().expect("temp dir");
    for name in [OPENSSH, TELEPORT] {
        let (_, xml) = content_of(&reference(name));
        let file = name.replace(".zip", ".xml");
        write_file(dir.path(), &file, &xml);
        let out = qrpack(dir.path(), &["validate", "--deny", "warnings", &file]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    }
    let (sev, (line, column)) = severity_42();
    write_file(dir.path(), "sev.xml", &content_of(&sev).1);
    let out = qrpack(dir.path(), &["validate", "sev.xml"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!("--> sev.xml:{line}:{column}")),
        "{stdout}"
    );
    assert!(stdout.contains("<severity>42</severity>"), "{stdout}");
}

// ---------------------------------------------------------------------------------------
// Mutations of real archives: never a panic
// ---------------------------------------------------------------------------------------

mod mutations {
    use proptest::prelude::*;
    use proptest::test_runner::{Config as ProptestConfig, RngSeed};

    use super::*;

    /// Where a mutation applies: anywhere, or near either end (where zip headers are).
    #[derive(Debug, Clone)]
    enum At {
        Anywhere(usize),
        FromStart(usize),
        FromEnd(usize),
    }

    impl At {
        fn index(&self, len: usize) -> usize {
            if len == 0 {
                return 0;
            }
            match self {
                At::Anywhere(i) => i % len,
                At::FromStart(i) => (*i).min(len - 1),
                At::FromEnd(i) => len - 1 - (*i).min(len - 1),
            }
        }
    }

    #[derive(Debug, Clone)]
    enum Mutation {
        /// Overwrite one byte.
        Set(At, u8),
        /// Flip one bit.
        Flip(At, u8),
        /// Overwrite 4 bytes with a little-endian u32 (sizes, offsets, counts).
        Word(At, u32),
        Insert(At, Vec<u8>),
        Delete(At, usize),
        Truncate(At),
        /// Repeat a slice in place.
        Repeat(At, usize, usize),
    }

    fn at() -> impl Strategy<Value = At> {
        prop_oneof![
            any::<usize>().prop_map(At::Anywhere),
            (0usize..96).prop_map(At::FromStart),
            (0usize..160).prop_map(At::FromEnd),
        ]
    }

    /// Bytes worth inserting: XML and zip syntax, and awkward bytes.
    fn fragment() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            prop::collection::vec(any::<u8>(), 1..16),
            prop::sample::select(vec![
                &b"<"[..],
                b">",
                b"</",
                b"/>",
                b"&",
                b"&amp;",
                b"&#x0;",
                b"&#xD800;",
                b"&#99999999;",
                b"<![CDATA[",
                b"]]>",
                b"<!DOCTYPE x>",
                b"<?pi x?>",
                b"<!--",
                b"-->",
                b"\"",
                b"'",
                b"\xff\xfe",
                b"\xc3",
                b"\xef\xbb\xbf",
                b"<qidmap>",
                b"</qidmap>",
                b"<content>",
                b"</content>",
                b"<qradarversion>",
                b"<rule_data>",
                b"<severity>-1</severity>",
                b"<qidmapid>",
                b"PK\x03\x04",
                b"PK\x01\x02",
                b"PK\x05\x06",
                b"PK\x06\x06",
                b"PK\x06\x07",
                b"\x1f\x8b",
            ])
            .prop_map(|s| s.to_vec()),
        ]
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        prop_oneof![
            3 => (at(), any::<u8>()).prop_map(|(a, b)| Mutation::Set(a, b)),
            3 => (at(), 0u8..8).prop_map(|(a, b)| Mutation::Flip(a, b)),
            2 => (at(), prop_oneof![
                Just(0u32), Just(u32::MAX), Just(0x7fff_ffff), Just(0xffff), Just(1), any::<u32>()
            ]).prop_map(|(a, w)| Mutation::Word(a, w)),
            2 => (at(), fragment()).prop_map(|(a, f)| Mutation::Insert(a, f)),
            2 => (at(), 1usize..64).prop_map(|(a, n)| Mutation::Delete(a, n)),
            1 => at().prop_map(Mutation::Truncate),
            1 => (at(), 1usize..256, 1usize..8).prop_map(|(a, n, k)| Mutation::Repeat(a, n, k)),
        ]
    }

    fn apply(data: &mut Vec<u8>, m: &Mutation) {
        let len = data.len();
        match m {
            Mutation::Set(a, b) => {
                if len > 0 {
                    let i = a.index(len);
                    data[i] = *b;
                }
            }
            Mutation::Flip(a, bit) => {
                if len > 0 {
                    let i = a.index(len);
                    data[i] ^= 1 << bit;
                }
            }
            Mutation::Word(a, w) => {
                let i = a.index(len);
                for (k, b) in w.to_le_bytes().into_iter().enumerate() {
                    if let Some(slot) = data.get_mut(i + k) {
                        *slot = b;
                    }
                }
            }
            Mutation::Insert(a, f) => {
                let i = a.index(len + 1).min(len);
                data.splice(i..i, f.iter().copied());
            }
            Mutation::Delete(a, n) => {
                let i = a.index(len);
                let end = (i + n).min(len);
                data.drain(i..end);
            }
            Mutation::Truncate(a) => data.truncate(a.index(len)),
            Mutation::Repeat(a, n, k) => {
                let i = a.index(len);
                let end = (i + n).min(len);
                let slice = data[i..end].to_vec();
                for _ in 0..*k {
                    data.splice(end..end, slice.iter().copied());
                }
            }
        }
    }

    /// 64 cases, a fixed seed (PROPTEST_CASES and PROPTEST_RNG_SEED override both), no
    /// persistence file.
    fn config() -> ProptestConfig {
        ProptestConfig {
            cases: 64,
            failure_persistence: None,
            rng_seed: RngSeed::Fixed(0x5152_7061_636b),
            max_shrink_iters: 512,
            ..ProptestConfig::default()
        }
    }

    /// The real archives the mutations start from.
    fn archives() -> &'static [Vec<u8>] {
        static A: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
        A.get_or_init(|| {
            vec![
                reference(OPENSSH),
                reference(TELEPORT),
                built().archive.clone(),
                tar_gz_from_zip(&reference(TELEPORT)),
            ]
        })
    }

    /// Their content XMLs.
    fn xmls() -> &'static [Vec<u8>] {
        static X: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
        X.get_or_init(|| {
            vec![
                content_of(&reference(OPENSSH)).1,
                content_of(&reference(TELEPORT)).1,
                built().content_xml.clone().into_bytes(),
            ]
        })
    }

    /// Validation returns (Ok or Err), and every code it reports is registered.
    fn survives(data: &[u8], shown: &str) -> Result<(), TestCaseError> {
        if let Ok(r) = validate_reader(Cursor::new(data), shown, &opts()) {
            for d in &r.findings {
                prop_assert!(
                    qrpack::codes::lookup(d.code).is_some(),
                    "unregistered code {}",
                    d.code
                );
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn mutated_archives_never_panic(
            base in 0usize..4,
            muts in prop::collection::vec(mutation(), 1..6),
        ) {
            let mut data = archives()[base].clone();
            for m in &muts {
                apply(&mut data, m);
            }
            survives(&data, "mutated.zip")?;
        }

        #[test]
        fn mutated_content_xml_never_panics(
            base in 0usize..3,
            muts in prop::collection::vec(mutation(), 1..8),
        ) {
            let mut data = xmls()[base].clone();
            for m in &muts {
                apply(&mut data, m);
            }
            survives(&data, "mutated.xml")?;
            // The same XML inside an archive, beside a real manifest.
            survives(&zip_with_xml(&data), "mutated.zip")?;
        }
    }
}
