//! `qrpack validate PATH...`: every problem of every input, at once.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::{Io, Outcome};
use crate::catalogue::Catalogue;
use crate::cli::{Deny, ReportFormat, ValidateArgs};
use crate::diag::{Severity, Sources, Summary, render};
use crate::report::{InputFindings, json, sarif};
use crate::validate::{
    ArchiveLimits, Options, Report, deny_warnings, validate_path, validate_reader,
};

/// An input made readable: a path on disk (standard input is spooled to a temporary
/// file, so that memory stays flat and zips can seek).
pub(crate) struct Opened {
    pub shown: String,
    pub path: PathBuf,
    _spool: Option<tempfile::NamedTempFile>,
}

pub(crate) fn open(p: &Path) -> Result<Opened, String> {
    if p.as_os_str() == "-" {
        let mut spool = tempfile::NamedTempFile::new()
            .map_err(|e| format!("cannot spool standard input: {e}"))?;
        std::io::copy(&mut std::io::stdin().lock(), &mut spool)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        let path = spool.path().to_path_buf();
        return Ok(Opened {
            shown: "<stdin>".into(),
            path,
            _spool: Some(spool),
        });
    }
    Ok(Opened {
        shown: p.display().to_string(),
        path: p.to_path_buf(),
        _spool: None,
    })
}

pub fn run(args: &ValidateArgs, io: &mut Io) -> Outcome {
    let authoritative = args.categories.is_some();
    let catalogue = match super::catalogue(args.categories.as_deref()) {
        Ok(c) => c,
        Err(m) => {
            let _ = writeln!(io.err, "error: {m}");
            return Outcome::Failure;
        }
    };
    let catalogue: &Catalogue = &catalogue;
    let opts = Options {
        catalogue,
        catalogue_is_authoritative: authoritative,
        limits: ArchiveLimits::default(),
        keep_rows: false,
    };
    let mut reports: Vec<(Report, bool)> = Vec::new();
    let mut unreadable = false;
    let mut sources = Sources::new();
    for p in &args.paths {
        let opened = match open(p) {
            Ok(o) => o,
            Err(m) => {
                let _ = writeln!(io.err, "error: {m}");
                unreadable = true;
                reports.push((
                    Report {
                        input: p.display().to_string(),
                        ..Report::default()
                    },
                    false,
                ));
                continue;
            }
        };
        match validate_input(&opened, &opts, io.quiet) {
            Ok(mut r) => {
                if args.deny.contains(&Deny::Warnings) {
                    deny_warnings(&mut r.findings);
                }
                if args.format == ReportFormat::Human {
                    fetch_lines(&opened, &r, &mut sources);
                }
                reports.push((r, true));
            }
            Err(m) => {
                let _ = writeln!(io.err, "error: {m}");
                unreadable = true;
                reports.push((
                    Report {
                        input: opened.shown.clone(),
                        ..Report::default()
                    },
                    false,
                ));
            }
        }
    }
    let inputs: Vec<InputFindings> = reports
        .iter()
        .map(|(r, read)| InputFindings {
            input: &r.input,
            read: *read,
            findings: &r.findings,
        })
        .collect();
    match args.format {
        ReportFormat::Json => {
            let _ = serde_json::to_writer_pretty(&mut *io.out, &json(&inputs));
            let _ = writeln!(io.out);
        }
        ReportFormat::Sarif => {
            let _ = serde_json::to_writer_pretty(&mut *io.out, &sarif(&inputs));
            let _ = writeln!(io.out);
        }
        ReportFormat::Human => {
            for (r, read) in &reports {
                let shown: Vec<_> = r
                    .findings
                    .iter()
                    .filter(|d| !io.quiet || d.severity == Severity::Error)
                    .cloned()
                    .collect();
                let _ = write!(io.out, "{}", render(&shown, &sources, io.color));
                if *read && !io.quiet {
                    let s = Summary::of(&r.findings);
                    let _ = writeln!(
                        io.out,
                        "{}: {} error{}, {} warning{}, {} note{}",
                        r.input,
                        s.errors,
                        plural(s.errors),
                        s.warnings,
                        plural(s.warnings),
                        s.infos,
                        plural(s.infos)
                    );
                }
            }
        }
    }
    if unreadable {
        Outcome::Failure
    } else if reports
        .iter()
        .any(|(r, _)| r.worst() == Some(Severity::Error))
    {
        Outcome::Findings
    } else {
        Outcome::Success
    }
}

/// `validate_path`, with a progress bar on stderr for a large input when a person is
/// watching (src/progress.rs); otherwise exactly `validate_path`.
fn validate_input(opened: &Opened, opts: &Options, quiet: bool) -> Result<Report, String> {
    let what = format!("validating {}", opened.shown);
    let Some(bar) = crate::progress::for_file(&opened.path, &what, quiet) else {
        return validate_path(&opened.path, &opened.shown, opts);
    };
    let _shown = crate::progress::Shown(bar.clone());
    let file = std::fs::File::open(&opened.path)
        .map_err(|e| format!("cannot read {}: {e}", opened.shown))?;
    validate_reader(crate::progress::Reader::new(file, bar), &opened.shown, opts)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Show the offending lines under findings: one more streaming pass over the content
/// XML (or manifest), keeping only the lines findings point at (at most 200).
fn fetch_lines(opened: &Opened, report: &Report, sources: &mut Sources) {
    let mut wanted: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    for d in report.findings.iter().take(200) {
        if let Some(l) = &d.location
            && l.line > 0
        {
            wanted.entry(l.file.clone()).or_default().insert(l.line);
        }
    }
    for (file, lines) in wanted {
        let member = file.split_once('!').map(|(_, m)| m.to_string());
        let reader: Box<dyn Read> = match &member {
            None => match std::fs::File::open(&opened.path) {
                Ok(f) => Box::new(f),
                Err(_) => continue,
            },
            Some(m) => match open_member(&opened.path, m) {
                Some(r) => r,
                None => continue,
            },
        };
        let mut r = BufReader::new(reader);
        let last = lines.iter().max().copied().unwrap_or(0);
        let mut buf = Vec::new();
        for n in 1..=last {
            buf.clear();
            // Bounded: a line is read up to 64 KiB, then skipped to its end.
            match read_line_bounded(&mut r, &mut buf, 64 << 10) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            if lines.contains(&n) {
                let text = String::from_utf8_lossy(&buf);
                let text = text.trim_end_matches(['\n', '\r']);
                let shown: String = text.chars().take(400).collect();
                sources.add_line(file.clone(), n, shown);
            }
        }
    }
}

fn read_line_bounded<R: BufRead>(
    r: &mut R,
    out: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<usize> {
    let mut total = 0;
    loop {
        let (done, used) = {
            let buf = r.fill_buf()?;
            if buf.is_empty() {
                return Ok(total);
            }
            match buf.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    let room = max.saturating_sub(out.len()).min(i + 1);
                    out.extend_from_slice(&buf[..room]);
                    (true, i + 1)
                }
                None => {
                    let room = max.saturating_sub(out.len()).min(buf.len());
                    out.extend_from_slice(&buf[..room]);
                    (false, buf.len())
                }
            }
        };
        r.consume(used);
        total += used;
        if done {
            return Ok(total);
        }
    }
}

/// A zip or tar.gz member, for the second pass (only archives that passed the safety
/// checks get here: findings inside members exist only then).
fn open_member(archive: &Path, member: &str) -> Option<Box<dyn Read>> {
    let mut head = [0u8; 4];
    let mut f = std::fs::File::open(archive).ok()?;
    f.read_exact(&mut head).ok()?;
    let f = std::fs::File::open(archive).ok()?;
    match crate::validate::sniff(&head) {
        crate::validate::InputKind::Zip => {
            let mut z = zip::ZipArchive::new(f).ok()?;
            let i = z.index_for_name(member)?;
            let mut file = z.by_index(i).ok()?;
            // The member borrows the archive: copy it to a temporary file (disk, not
            // memory; its size already passed the limits).
            let mut spool = tempfile::tempfile().ok()?;
            // Bounded: only members that passed the size limits get here.
            std::io::copy(&mut file.by_ref().take(8 << 30), &mut spool).ok()?;
            std::io::Seek::rewind(&mut spool).ok()?;
            Some(Box::new(spool))
        }
        crate::validate::InputKind::TarGz => {
            let gz = flate2::read::GzDecoder::new(f);
            let mut ar = tar::Archive::new(gz);
            for e in ar.entries().ok()?.flatten() {
                let name = String::from_utf8_lossy(&e.path_bytes())
                    .trim_start_matches("./")
                    .to_string();
                if name == member {
                    let mut spool = tempfile::tempfile().ok()?;
                    let mut e = e;
                    std::io::copy(&mut e.by_ref().take(8 << 30), &mut spool).ok()?;
                    std::io::Seek::rewind(&mut spool).ok()?;
                    return Some(Box::new(spool));
                }
            }
            None
        }
        crate::validate::InputKind::Xml => None,
    }
}
