//! Archive safety and layout, checked from the archive's directory before any entry is
//! inflated or parsed; then the manifest and the content XML are read with bounded reads
//! (an entry's declared size is never trusted).

use std::io::{BufReader, Read, Seek};

use super::content::Checker;
use super::{Options, Report, finish, read_content};
use crate::diag::{Diagnostic, Location};

/// A place that is a whole file (an archive, or an entry), with no line.
fn at(file: &str) -> Location {
    Location {
        file: file.to_string(),
        span: 0..0,
        line: 0,
        column: 0,
    }
}

/// Why an entry name is unsafe to extract, if it is.
pub fn unsafe_name(name: &str) -> Option<&'static str> {
    let b = name.as_bytes();
    if name.starts_with('/') || name.starts_with('\\') {
        Some("an absolute path")
    } else if b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic() {
        Some("a drive letter")
    } else if name.split(['/', '\\']).any(|p| p == "..") {
        Some("a `..` component")
    } else if name.contains('\0') {
        Some("a NUL byte")
    } else {
        None
    }
}

/// What role an entry plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Content,
    Manifest,
    Other,
}

fn role(name: &str) -> Role {
    if name.contains('/') || name.contains('\\') {
        Role::Other
    } else if name == "manifest.txt" {
        Role::Manifest
    } else if name.to_ascii_lowercase().ends_with(".xml")
        && !name.eq_ignore_ascii_case("manifest.xml")
    {
        Role::Content
    } else {
        Role::Other
    }
}

/// One entry as the directory describes it.
struct EntryInfo {
    name: String,
    size: u64,
    compressed: u64,
    is_dir: bool,
    is_link: bool,
    encrypted: bool,
}

/// Layout and safety checks common to zip and tar.gz. Returns false when reading must
/// stop before anything is parsed.
fn check_entries(entries: &[EntryInfo], shown: &str, opts: &Options, report: &mut Report) -> bool {
    let limits = opts.limits;
    let mut safe = true;
    let error = |code: &'static str, msg: String, help: &str, report: &mut Report| {
        report
            .findings
            .push(Diagnostic::error(code, msg).at(at(shown)).help(help));
    };
    if entries.len() > limits.max_entries {
        error(
            "QR004",
            format!(
                "the archive has {} entries (more than {})",
                entries.len(),
                limits.max_entries
            ),
            "an extension holds a content XML and manifest.txt; this archive is not one",
            report,
        );
        return false;
    }
    let mut names = std::collections::HashSet::new();
    for e in entries {
        let label = format!("{shown}!{}", e.name);
        if let Some(why) = unsafe_name(&e.name) {
            report.findings.push(
                Diagnostic::error(
                    "QR001",
                    format!(
                        "entry \"{}\" has {why}: extracting it would write outside the folder",
                        e.name
                    ),
                )
                .at(at(&label))
                .help("an extension's entries are plain file names at the archive's root"),
            );
            safe = false;
        }
        if e.is_link {
            report.findings.push(
                Diagnostic::error("QR002", format!("entry \"{}\" is a link", e.name))
                    .at(at(&label))
                    .help("an extension holds regular files only"),
            );
            safe = false;
        }
        if e.encrypted {
            report.findings.push(
                Diagnostic::error("QR003", format!("entry \"{}\" is encrypted", e.name))
                    .at(at(&label))
                    .help("QRadar cannot read encrypted entries: zip without a password"),
            );
            safe = false;
        }
        if e.size > limits.max_entry_size {
            report.findings.push(
                Diagnostic::error(
                    "QR005",
                    format!(
                        "entry \"{}\" inflates to {} bytes (limit {})",
                        e.name, e.size, limits.max_entry_size
                    ),
                )
                .at(at(&label))
                .help("this looks like a zip bomb; a real export is far smaller"),
            );
            safe = false;
        } else if e.size > (1 << 20) && e.size / e.compressed.max(1) > limits.max_ratio {
            report.findings.push(
                Diagnostic::error(
                    "QR005",
                    format!(
                        "entry \"{}\" inflates {}-fold ({} → {} bytes)",
                        e.name,
                        e.size / e.compressed.max(1),
                        e.compressed,
                        e.size
                    ),
                )
                .at(at(&label))
                .help("no real export compresses this well: this looks like a zip bomb"),
            );
            safe = false;
        }
        if !names.insert(e.name.clone()) {
            report.findings.push(
                Diagnostic::error("QR007", format!("entry \"{}\" appears twice", e.name))
                    .at(at(&label))
                    .help("keep one copy: which one QRadar reads is undefined"),
            );
            safe = false;
        }
        if e.is_dir || e.name.contains('/') || e.name.contains('\\') {
            report.findings.push(
                Diagnostic::error("QR008", format!("entry \"{}\" is in a folder", e.name))
                    .at(at(&label))
                    .help("QRadar expects the content XML and manifest.txt at the archive's root, with no folders"),
            );
        } else if e.name.eq_ignore_ascii_case("manifest.xml") {
            report.findings.push(
                Diagnostic::error("QR009", "the archive holds a manifest.xml")
                    .at(at(&label))
                    .help("QRadar uses manifest.txt (JSON); a manifest.xml makes the upload fail validation"),
            );
        } else if role(&e.name) == Role::Other && !e.is_link {
            report.findings.push(
                Diagnostic::warning(
                    "QR013",
                    format!(
                        "entry \"{}\" is neither a content XML nor manifest.txt",
                        e.name
                    ),
                )
                .at(at(&label))
                .help("remove it: QRadar does not use it"),
            );
        }
    }
    let contents: Vec<&EntryInfo> = entries
        .iter()
        .filter(|e| !e.is_dir && role(&e.name) == Role::Content)
        .collect();
    match contents.len() {
        0 => error(
            "QR010",
            "the archive holds no content XML".into(),
            "an extension needs one <name>.xml with root <content>",
            report,
        ),
        1 => {}
        n => error(
            "QR011",
            format!(
                "the archive holds {n} content XML files: {}",
                contents
                    .iter()
                    .map(|e| e.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "QRadar imports one content XML per extension: merge them",
            report,
        ),
    }
    if !entries.iter().any(|e| role(&e.name) == Role::Manifest) {
        report.findings.push(
            Diagnostic::warning("QR020", "the archive has no manifest.txt")
                .at(at(shown))
                .help("QRadar imports it, but IBM App Exchange requires manifest.txt (and some real exports lack it)"),
        );
    }
    safe && contents.len() == 1
}

/// Counts bytes and refuses to read past a bound.
struct Bounded<R> {
    inner: R,
    read: u64,
    bound: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let room = (self.bound + 1).saturating_sub(self.read);
        if room == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the entry inflates past its declared size",
            ));
        }
        let n = buf.len().min(room as usize);
        let k = self.inner.read(&mut buf[..n])?;
        self.read += k as u64;
        if self.read > self.bound {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the entry inflates past its declared size",
            ));
        }
        Ok(k)
    }
}

/// The entry names of a zip's central directory, read directly: the zip library keys
/// entries by name, so two entries with one name would look like one. `None` when the
/// directory cannot be found (the library then reports the archive as corrupt).
fn central_names<R: Read + Seek>(r: &mut R, max: usize) -> Option<Vec<Vec<u8>>> {
    use std::io::SeekFrom;
    let len = r.seek(SeekFrom::End(0)).ok()?;
    let tail_len = len.min(65_557);
    r.seek(SeekFrom::Start(len - tail_len)).ok()?;
    let mut tail = vec![0u8; tail_len as usize];
    r.read_exact(&mut tail).ok()?;
    let eocd = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| tail[i..i + 4] == [0x50, 0x4b, 0x05, 0x06])?;
    let le16 = |b: &[u8], i: usize| u16::from_le_bytes([b[i], b[i + 1]]) as u64;
    let le32 = |b: &[u8], i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]) as u64;
    let count = le16(&tail, eocd + 10);
    let size = le32(&tail, eocd + 12);
    let offset = le32(&tail, eocd + 16);
    if count == 0xffff || size == 0xffff_ffff || offset == 0xffff_ffff || size > 64 << 20 {
        return None; // zip64 or absurd: leave it to the library
    }
    r.seek(SeekFrom::Start(offset)).ok()?;
    let mut cd = vec![0u8; size as usize];
    r.read_exact(&mut cd).ok()?;
    let mut names = Vec::new();
    let mut i = 0usize;
    while i + 46 <= cd.len() && cd[i..i + 4] == [0x50, 0x4b, 0x01, 0x02] && names.len() <= max {
        let (n, m, k) = (
            le16(&cd, i + 28) as usize,
            le16(&cd, i + 30) as usize,
            le16(&cd, i + 32) as usize,
        );
        names.push(cd.get(i + 46..i + 46 + n)?.to_vec());
        i += 46 + n + m + k;
    }
    Some(names)
}

pub(super) fn zip<R: Read + Seek>(mut r: R, shown: &str, opts: &Options, report: &mut Report) {
    let raw_names = central_names(&mut r, opts.limits.max_entries);
    let _ = r.rewind();
    let mut z = match zip::ZipArchive::new(r) {
        Ok(z) => z,
        Err(e) => {
            report.findings.push(
                Diagnostic::error("QR012", format!("not a readable zip: {e}"))
                    .at(at(shown))
                    .help("the archive is truncated or corrupt: export or build it again"),
            );
            return;
        }
    };
    let mut entries = Vec::new();
    for i in 0..z.len().min(opts.limits.max_entries + 1) {
        match z.by_index_raw(i) {
            Ok(f) => {
                let name = match f.name() {
                    Ok(n) => n.to_string(),
                    Err(_) => String::from_utf8_lossy(f.name_raw()).into_owned(),
                };
                entries.push(EntryInfo {
                    name,
                    size: f.size(),
                    compressed: f.compressed_size(),
                    is_dir: f.is_dir(),
                    is_link: f.is_symlink(),
                    encrypted: f.encrypted(),
                });
            }
            Err(e) => {
                report.findings.push(
                    Diagnostic::error("QR012", format!("entry {i} cannot be read: {e}"))
                        .at(at(shown))
                        .help("the archive is corrupt"),
                );
                return;
            }
        }
    }
    if z.len() > opts.limits.max_entries {
        // Report the true count.
        report.findings.push(
            Diagnostic::error(
                "QR004",
                format!(
                    "the archive has {} entries (more than {})",
                    z.len(),
                    opts.limits.max_entries
                ),
            )
            .at(at(shown))
            .help("an extension holds a content XML and manifest.txt; this archive is not one"),
        );
        return;
    }
    // Entries the library merged because they share a name.
    if let Some(raw) = raw_names
        && raw.len() > entries.len()
    {
        let mut seen = std::collections::HashSet::new();
        for n in raw {
            if !seen.insert(n.clone()) {
                let name = String::from_utf8_lossy(&n).into_owned();
                entries.push(EntryInfo {
                    name,
                    size: 0,
                    compressed: 0,
                    is_dir: false,
                    is_link: false,
                    encrypted: false,
                });
            }
        }
    }
    if !check_entries(&entries, shown, opts, report) {
        return;
    }
    // manifest first, whatever the order: the content check compares versions with it.
    if let Some(i) = entries.iter().position(|e| role(&e.name) == Role::Manifest) {
        let label = format!("{shown}!manifest.txt");
        let declared = entries[i].size;
        if declared > opts.limits.max_manifest_size {
            report.findings.push(
                Diagnostic::error(
                    "QR021",
                    format!("manifest.txt is {declared} bytes; a manifest is a few hundred"),
                )
                .at(at(&label))
                .help("manifest.txt is a small JSON document (docs/output-format.md)"),
            );
        } else {
            let bound = declared.min(opts.limits.max_manifest_size);
            match z.by_index(i) {
                Ok(f) => {
                    let mut bytes = Vec::new();
                    let mut b = Bounded {
                        inner: f,
                        read: 0,
                        bound,
                    };
                    match b.read_to_end(&mut bytes) {
                        Ok(_) => {
                            report.manifest =
                                super::manifest::check(&label, &bytes, &mut report.findings)
                        }
                        Err(e) => report.findings.push(entry_error(&label, declared, &e)),
                    }
                }
                Err(e) => report.findings.push(
                    Diagnostic::error("QR012", format!("manifest.txt cannot be read: {e}"))
                        .at(at(&label))
                        .help("the archive is corrupt"),
                ),
            }
        }
    }
    let Some(i) = entries
        .iter()
        .position(|e| !e.is_dir && role(&e.name) == Role::Content)
    else {
        return;
    };
    let name = entries[i].name.clone();
    let declared = entries[i].size;
    let label = format!("{shown}!{name}");
    report.content_name = Some(name);
    let mut checker =
        Checker::new(&label, opts.catalogue, opts.catalogue_is_authoritative).spilling();
    match z.by_index(i) {
        Ok(f) => {
            let bounded = Bounded {
                inner: f,
                read: 0,
                bound: declared,
            };
            read_content(
                BufReader::with_capacity(256 << 10, bounded),
                &mut checker,
                opts,
                report,
            );
        }
        Err(e) => checker.findings.push(
            Diagnostic::error("QR012", format!("the content XML cannot be read: {e}"))
                .at(at(&label))
                .help("the archive is corrupt"),
        ),
    }
    // A lying size surfaces as an I/O stop inside the XML reader: name it precisely.
    for d in checker.findings.iter_mut() {
        if d.code == "QR012" && lying_size(&d.message) {
            d.code = "QR006";
            d.message = format!(
                "the entry inflates past its declared size of {declared} bytes; reading stopped"
            );
            d.help = Some("the zip's size header lies: this archive is corrupt or hostile".into());
        }
    }
    finish(checker, report);
    cross_check(report);
}

fn entry_error(label: &str, declared: u64, e: &std::io::Error) -> Diagnostic {
    if lying_size(&e.to_string()) {
        Diagnostic::error(
            "QR006",
            format!("the entry inflates past its declared size of {declared} bytes"),
        )
        .at(at(label))
        .help("the zip's size header lies: this archive is corrupt or hostile")
    } else {
        Diagnostic::error("QR012", format!("the entry cannot be read: {e}"))
            .at(at(label))
            .help("the archive is corrupt or truncated")
    }
}

/// Whether an error says an entry inflated past its declared size: ours, or the zip
/// library's own check (which runs first).
fn lying_size(message: &str) -> bool {
    message.contains("inflates past its declared size")
        || message.contains("larger than its declared uncompressed size")
}

/// The manifest's minimum QRadar version against `<qradarversion>`.
fn cross_check(report: &mut Report) {
    let (Some(m), Some(v)) = (&report.manifest, &report.qradar_version) else {
        return;
    };
    if m.min_qradar_version.is_empty() || !crate::manifest::is_qradar_version(v) {
        return;
    }
    if crate::manifest::compare_qradar_versions(&m.min_qradar_version, v)
        == std::cmp::Ordering::Less
    {
        let label = format!("{}!manifest.txt", report.input);
        report.findings.push(
            // A warning: that QRadar compares these two fields is an inference.
            Diagnostic::warning(
                "QR027",
                format!("min_qradar_version {} is older than the content's <qradarversion> {v}", m.min_qradar_version),
            )
            .at(at(&label))
            .help("QRadar refuses content from a newer version: raise min_qradar_version to at least <qradarversion>"),
        );
    }
}

pub(super) fn tar_gz<R: Read + Seek>(mut r: R, shown: &str, opts: &Options, report: &mut Report) {
    // Pass 1: the directory (headers), with a bound on the total inflated size.
    let total_bound = opts.limits.max_entry_size.saturating_mul(2);
    let mut entries = Vec::new();
    {
        let gz = flate2::read::GzDecoder::new(&mut r);
        let mut ar = tar::Archive::new(Bounded {
            inner: gz,
            read: 0,
            bound: total_bound,
        });
        let iter = match ar.entries() {
            Ok(it) => it,
            Err(e) => {
                report.findings.push(
                    Diagnostic::error("QR012", format!("not a readable tar.gz: {e}"))
                        .at(at(shown))
                        .help("the archive is truncated or corrupt"),
                );
                return;
            }
        };
        for entry in iter {
            match entry {
                Ok(e) => {
                    if entries.len() > opts.limits.max_entries {
                        break;
                    }
                    let h = e.header();
                    let ty = h.entry_type();
                    let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
                    let size = h.size().unwrap_or(0);
                    entries.push(EntryInfo {
                        name: name.trim_start_matches("./").to_string(),
                        size,
                        compressed: size,
                        is_dir: ty.is_dir(),
                        is_link: ty.is_symlink() || ty.is_hard_link(),
                        encrypted: false,
                    });
                }
                Err(e) => {
                    report.findings.push(
                        Diagnostic::error("QR012", format!("the tar.gz cannot be read: {e}"))
                            .at(at(shown))
                            .help("the archive is truncated or corrupt"),
                    );
                    return;
                }
            }
        }
        // Read the gzip stream to its end: its checksum and length trailer are checked
        // only there, and a cut trailer means a truncated download.

        let mut rest = ar.into_inner();
        if let Err(e) = std::io::copy(&mut rest, &mut std::io::sink()) {
            report.findings.push(
                Diagnostic::error("QR012", format!("the tar.gz is truncated or corrupt: {e}"))
                    .at(at(shown))
                    .help("download or build the archive again"),
            );
            return;
        }
    }
    // Ignore the "." folder entry tar writes for `tar -C dir .`.
    entries.retain(|e| !(e.is_dir && (e.name.is_empty() || e.name == "." || e.name == "./")));
    if !check_entries(&entries, shown, opts, report) {
        return;
    }
    // Pass 2: read the manifest and the content XML, in archive order.
    if r.rewind().is_err() {
        return;
    }
    let gz = flate2::read::GzDecoder::new(&mut r);
    let mut ar = tar::Archive::new(gz);
    let Ok(iter) = ar.entries() else { return };
    let mut checker: Option<Checker> = None;
    for entry in iter.flatten() {
        let name = String::from_utf8_lossy(&entry.path_bytes())
            .trim_start_matches("./")
            .to_string();
        let size = entry.header().size().unwrap_or(0);
        let label = format!("{shown}!{name}");
        match role(&name) {
            Role::Manifest => {
                let mut bytes = Vec::new();
                let mut b = Bounded {
                    inner: entry,
                    read: 0,
                    bound: size.min(opts.limits.max_manifest_size),
                };
                match b.read_to_end(&mut bytes) {
                    Ok(_) => {
                        report.manifest =
                            super::manifest::check(&label, &bytes, &mut report.findings)
                    }
                    Err(e) => report.findings.push(entry_error(&label, size, &e)),
                }
            }
            Role::Content if !entry.header().entry_type().is_dir() => {
                report.content_name = Some(name.clone());
                let mut c = Checker::new(&label, opts.catalogue, opts.catalogue_is_authoritative)
                    .spilling();
                read_content(
                    BufReader::with_capacity(
                        256 << 10,
                        Bounded {
                            inner: entry,
                            read: 0,
                            bound: size,
                        },
                    ),
                    &mut c,
                    opts,
                    report,
                );
                checker = Some(c);
            }
            _ => {}
        }
    }
    if let Some(c) = checker {
        finish(c, report);
    }
    cross_check(report);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_names() {
        assert_eq!(unsafe_name("../x.xml"), Some("a `..` component"));
        assert_eq!(unsafe_name("a/../../x"), Some("a `..` component"));
        assert_eq!(unsafe_name("/etc/passwd"), Some("an absolute path"));
        assert_eq!(unsafe_name("C:\\x.xml"), Some("a drive letter"));
        assert_eq!(unsafe_name("..\\x"), Some("a `..` component"));
        assert_eq!(unsafe_name("content-20230101.xml"), None);
        assert_eq!(unsafe_name("a..b.xml"), None);
    }
}
