//! `validate`: read any extension (a zip, a tar.gz or a bare content XML; ours or one
//! QRadar exported) and report every problem at once, each with a stable code and a
//! place. Reading is streaming: memory stays flat however large the archive.

pub mod archive;
pub mod content;
pub mod index;
pub mod manifest;
pub mod schema;

use std::collections::BTreeMap;
use std::io::{BufReader, Read, Seek};
use std::path::Path;
use std::sync::mpsc;

use crate::catalogue::Catalogue;
use crate::diag::{Diagnostic, Severity};
use crate::read::rows::{Item, Limits, RowAt, StopKind, read_rows_from};
use crate::read::tracked::Pos;
use content::Checker;
use manifest::ManifestInfo;

/// Bounds on what an archive may hold before it is refused as hostile.
#[derive(Debug, Clone, Copy)]
pub struct ArchiveLimits {
    pub max_entries: usize,
    /// Largest inflated entry.
    pub max_entry_size: u64,
    /// Largest inflated / compressed ratio of an entry over 1 MiB.
    pub max_ratio: u64,
    pub max_manifest_size: u64,
    pub xml: Limits,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        ArchiveLimits {
            max_entries: 1000,
            max_entry_size: 8 << 30,
            max_ratio: 1000,
            max_manifest_size: 1 << 20,
            xml: Limits::default(),
        }
    }
}

/// How to validate.
pub struct Options<'a> {
    pub catalogue: &'a Catalogue,
    /// The catalogue is the user's own: unknown categories are errors.
    pub catalogue_is_authoritative: bool,
    pub limits: ArchiveLimits,
    /// Keep every row (for `inspect`); validation alone keeps none.
    pub keep_rows: bool,
}

/// What validating one input found.
#[derive(Debug, Default)]
pub struct Report {
    /// The input as shown to users.
    pub input: String,
    pub findings: Vec<Diagnostic>,
    pub manifest: Option<ManifestInfo>,
    /// The content XML's entry name (archives) or the file itself.
    pub content_name: Option<String>,
    pub qradar_version: Option<String>,
    /// Rows by type.
    pub counts: BTreeMap<String, usize>,
    /// Every row, when `keep_rows`.
    pub rows: Vec<RowAt>,
    /// Validation could not be completed (a temporary index file could not be read
    /// back): [`validate_reader`] returns this as its error.
    pub failure: Option<String>,
}

impl Report {
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|d| d.severity).max()
    }
}

/// What kind of input the first bytes show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Zip,
    TarGz,
    Xml,
}

pub fn sniff(head: &[u8]) -> InputKind {
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        InputKind::Zip
    } else if head.starts_with(&[0x1f, 0x8b]) {
        InputKind::TarGz
    } else {
        InputKind::Xml
    }
}

/// Validate a file. `Err` means qrpack could not read it at all (exit code 2); a file that
/// reads but is broken gives findings.
pub fn validate_path(path: &Path, shown: &str, opts: &Options) -> Result<Report, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err(format!("{shown} is a folder, not an extension"));
    }
    validate_reader(file, shown, opts)
}

/// Validate any seekable input (a file, or bytes in memory).
pub fn validate_reader<R: Read + Seek>(
    mut r: R,
    shown: &str,
    opts: &Options,
) -> Result<Report, String> {
    let mut head = [0u8; 4];
    let n = read_up_to(&mut r, &mut head).map_err(|e| format!("cannot read {shown}: {e}"))?;
    r.rewind()
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    let mut report = Report {
        input: shown.to_string(),
        ..Report::default()
    };
    match sniff(&head[..n]) {
        InputKind::Zip => archive::zip(r, shown, opts, &mut report),
        InputKind::TarGz => archive::tar_gz(r, shown, opts, &mut report),
        InputKind::Xml => {
            report.content_name = Some(shown.to_string());
            let mut checker =
                Checker::new(shown, opts.catalogue, opts.catalogue_is_authoritative).spilling();
            read_content(BufReader::new(r), &mut checker, opts, &mut report);
            finish(checker, &mut report);
        }
    }
    if let Some(failure) = report.failure.take() {
        return Err(format!("cannot validate {shown}: {failure}"));
    }
    crate::diag::sort(&mut report.findings);
    Ok(report)
}

fn read_up_to<R: Read>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Parse `input`, sending the rows to the checker in batches.
fn parse_to(
    input: crate::read::chunks::Chunks,
    limits: Limits,
    to_checker: &mpsc::SyncSender<ToChecker>,
    spent: &mpsc::Receiver<Batch>,
) -> Result<(), crate::read::rows::Stop> {
    // When the checker has stopped (it panicked), read on without it; the panic is
    // raised again by the caller.
    let mut gone = false;
    let mut batch: Option<Batch> = None;
    let result = read_rows_from(input, limits, |item| {
        if gone {
            return;
        }
        match item {
            Item::Version(v, pos) => {
                if let Some(b) = batch.take() {
                    gone |= to_checker.send(ToChecker::Rows(b)).is_err();
                }
                gone |= to_checker.send(ToChecker::Version(v, pos)).is_err();
            }
            Item::Row(row) => {
                let b = match batch.as_mut() {
                    Some(b) => b,
                    None => match spent.recv() {
                        Ok(b) => batch.insert(b),
                        Err(_) => {
                            gone = true;
                            return;
                        }
                    },
                };
                b.push(row);
                if b.full()
                    && let Some(b) = batch.take()
                {
                    gone |= to_checker.send(ToChecker::Rows(b)).is_err();
                }
            }
        }
    });
    if let Some(b) = batch.take()
        && !gone
    {
        let _ = to_checker.send(ToChecker::Rows(b));
    }
    result
}

/// Rows go from the reader to the checker in batches, so that the two run on two cores
/// with few hand-overs. A row is swapped into a batch, not copied, and the checker sends
/// spent batches back, so the same few row buffers go round and round: memory stays
/// flat however many rows there are.
#[derive(Default)]
struct Batch {
    rows: Vec<RowAt>,
    len: usize,
    bytes: usize,
}

/// Batches in circulation: one being filled, one being checked, the others waiting
/// (they let the two threads ride out each other's pauses on a busy machine).
const BATCHES: usize = 8;

impl Batch {
    fn push(&mut self, row: &mut RowAt) {
        if self.len < self.rows.len() {
            std::mem::swap(&mut self.rows[self.len], row);
        } else {
            self.rows.push(std::mem::take(row));
        }
        let r = &self.rows[self.len];
        self.bytes += r
            .columns
            .iter()
            .map(|c| c.name.len() + c.value.len())
            .sum::<usize>();
        self.len += 1;
    }

    fn full(&self) -> bool {
        self.len >= 128 || self.bytes >= 256 << 10
    }

    /// Empty, keeping the buffers, but not large ones: a buffer keeps the capacity of the
    /// largest value it ever held, and rows go round, so kept large buffers would add
    /// up to (rows in circulation) × (largest value).
    fn recycle(&mut self) {
        for r in &mut self.rows[..self.len] {
            for c in &mut r.columns {
                if c.value.capacity() > 4 << 10 {
                    c.value = String::new();
                }
            }
        }
        self.len = 0;
        self.bytes = 0;
    }
}

enum ToChecker {
    Version(String, Pos),
    Rows(Batch),
}

/// Stream a content XML through the checker on three threads, so that a large export
/// uses both cores: this one reads (and inflates) the input, a second parses the XML
/// ([`read_rows`]) and a third runs the checks. Bounded channels between them keep memory
/// flat; each stage sees its items in document order, so findings are the same as one
/// thread would make.
pub(crate) fn read_content<R: std::io::BufRead>(
    input: R,
    checker: &mut Checker,
    opts: &Options,
    report: &mut Report,
) {
    let keep = opts.keep_rows;
    let limits = opts.limits.xml;
    let checks_on = &mut *checker;
    let (result, kept) = std::thread::scope(|scope| {
        let (to_checker, from_parser) = mpsc::sync_channel::<ToChecker>(BATCHES + 1);
        let (to_parser, spent) = mpsc::channel::<Batch>();
        for _ in 0..BATCHES {
            let _ = to_parser.send(Batch::default());
        }
        let checks = scope.spawn(move || {
            let mut kept = Vec::new();
            for msg in from_parser {
                match msg {
                    ToChecker::Version(v, pos) => checks_on.version(v, pos),
                    ToChecker::Rows(mut batch) => {
                        for row in &batch.rows[..batch.len] {
                            checks_on.row(row);
                            if keep {
                                kept.push(row.clone());
                            }
                        }
                        batch.recycle();
                        let _ = to_parser.send(batch);
                    }
                }
            }
            kept
        });
        let (pump, chunks) = crate::read::chunks::channel_pair();
        let parser = scope.spawn(move || parse_to(chunks, limits, &to_checker, &spent));
        // This thread reads until the parser stops (at the end, or at a problem).
        pump.pump(input);
        let result = parser.join();
        let kept = checks.join();
        match (result, kept) {
            (Ok(result), Ok(kept)) => (result, kept),
            (Err(panic), _) | (_, Err(panic)) => std::panic::resume_unwind(panic),
        }
    });
    report.rows = kept;
    if let Err(stop) = result {
        let (code, help) = match stop.kind {
            StopKind::Syntax => (
                "QR030",
                "QRadar reads only well-formed UTF-8 XML: fix the file at this place",
            ),
            StopKind::Doctype => (
                "QR033",
                "remove the DOCTYPE: content XML declares no entities",
            ),
            StopKind::Root => ("QR031", "a content XML's root element is <content>"),
            StopKind::Depth => (
                "QR034",
                "rows are flat: <content><row><column>value</column></row></content>",
            ),
            StopKind::TokenTooLong => (
                "QR035",
                "no value in a QRadar export is this large; the file is corrupt or hostile",
            ),
            StopKind::Io => ("QR012", "the archive entry is corrupt or truncated"),
        };
        let d = Diagnostic::error(code, format!("{}; reading stopped here", stop.message))
            .at(checker.loc(stop.pos))
            .help(help);
        checker.findings.push(d);
        // Checks across rows would report what was never read (dangling references to
        // rows after the stop): skip them.
        checker.stopped = true;
    }
}

/// Cross-row checks, and the checker's findings into the report.
pub(crate) fn finish(mut checker: Checker, report: &mut Report) {
    checker.finish();
    if let Some(failure) = checker.failure.take() {
        report.failure = Some(failure);
    }
    report.qradar_version = checker.version.as_ref().map(|(v, _)| v.clone());
    report.counts = std::mem::take(&mut checker.counts);
    report.findings.append(&mut checker.findings);
}

/// Promote warnings to errors (`--deny warnings`).
pub fn deny_warnings(findings: &mut [Diagnostic]) {
    for d in findings {
        if d.severity == Severity::Warning {
            d.severity = Severity::Error;
        }
    }
}
