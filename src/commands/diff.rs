//! `qrpack diff OLD NEW`: what changed between two extensions, each an archive or a pack
//! built in memory (nothing is written). Exit code 0: no difference; 1: differences
//! (as diff(1)); 2: a side could not be read or built.

use std::path::Path;

use super::{Io, Outcome};
use crate::build::{Input, build};
use crate::catalogue::Catalogue;
use crate::cli::{DiffArgs, DiffFormat};
use crate::diag::{Diagnostic, Sources, render};
use crate::diff::{Meta, SideKind, Snapshot, diff, render_human, render_markdown};
use crate::rule::Skeletons;
use crate::validate::{ArchiveLimits, Options, validate_path};

/// Why a side could not be read.
pub(crate) enum SideError {
    /// Unreadable (a message for `error: …`).
    Io(String),
    /// It reads, but not far enough to compare: a pack that does not build, an archive
    /// whose content cannot be read. The findings, and the texts they point into.
    Findings(Vec<Diagnostic>, Sources),
}

/// Archive findings that leave nothing (or only part of the content) to compare.
fn unreadable(code: &str) -> bool {
    matches!(
        code,
        "QR001"
            | "QR002"
            | "QR003"
            | "QR004"
            | "QR005"
            | "QR006"
            | "QR007"
            | "QR010"
            | "QR011"
            | "QR012"
            | "QR030"
            | "QR031"
            | "QR032"
            | "QR033"
            | "QR034"
            | "QR035"
    )
}

/// Whether a path names a pack file rather than an extension.
pub(crate) fn is_pack(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"))
}

/// Read one side: a pack (built in memory with its lock, nothing written) or an archive.
pub(crate) fn load_side(
    path: &Path,
    catalogue: &Catalogue,
    skeletons: &Skeletons,
) -> Result<Snapshot, SideError> {
    let shown = path.display().to_string();
    if is_pack(path) {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SideError::Io(format!("cannot read the pack {shown}: {e}")))?;
        let (lock_path, lock_text) = super::build::read_lock(path).map_err(SideError::Io)?;
        let input = Input {
            pack_path: path,
            pack_text: &text,
            lock: lock_text.as_deref().map(|t| (lock_path.as_path(), t)),
            catalogue,
            skeletons,
            // Build dates are not compared.
            source_date_epoch: None,
            locked: false,
        };
        return match build(&input) {
            Ok(built) => Ok(snapshot_of_built(&shown, &built, catalogue)),
            Err(failed) => {
                let mut sources = Sources::new();
                sources.add(shown, text);
                for (n, t) in failed.extra_sources {
                    sources.add(n, t);
                }
                Err(SideError::Findings(failed.diagnostics, sources))
            }
        };
    }
    let opts = Options {
        catalogue,
        catalogue_is_authoritative: false,
        limits: ArchiveLimits::default(),
        keep_rows: true,
    };
    let opened = super::validate::open(path).map_err(SideError::Io)?;
    let mut report = validate_path(&opened.path, &opened.shown, &opts).map_err(SideError::Io)?;
    let blocking: Vec<Diagnostic> = report
        .findings
        .iter()
        .filter(|d| unreadable(d.code))
        .cloned()
        .collect();
    if !blocking.is_empty() {
        return Err(SideError::Findings(blocking, Sources::new()));
    }
    let meta = match &report.manifest {
        Some(m) => Meta {
            hub_id: m.id.clone(),
            name: m.name.clone(),
            version: m.version.clone(),
            description: m.description.clone(),
            author: m.author.clone(),
            author_email: m.author_email.clone(),
            min_qradar_version: m.min_qradar_version.clone(),
            qradar_version: report.qradar_version.clone().unwrap_or_default(),
        },
        None => Meta {
            qradar_version: report.qradar_version.clone().unwrap_or_default(),
            ..Meta::default()
        },
    };
    let file = match &report.content_name {
        Some(c) if c != &report.input => format!("{}!{c}", report.input),
        _ => report.input.clone(),
    };
    let mut origins: Vec<String> = Vec::with_capacity(report.rows.len());
    // The rows are moved out of the report, not copied: a large export holds millions
    // of values.
    let rows: Vec<crate::content::Row> = std::mem::take(&mut report.rows)
        .into_iter()
        .map(|r| {
            origins.push(format!("{file}:{}:{}", r.pos.line, r.pos.column));
            crate::content::Row {
                table: r.table,
                columns: r.columns.into_iter().map(|c| (c.name, c.value)).collect(),
            }
        })
        .collect();
    let mut s = Snapshot::from_rows(
        &report.input,
        SideKind::Archive,
        meta,
        &rows,
        Some(&origins),
        catalogue,
    );
    if path.as_os_str() != "-" {
        match release_searches(path) {
            Ok(Some(files)) => {
                s.add_file_searches(files.iter().map(|(f, q)| (f.as_str(), q.as_str())))
            }
            Ok(None) => {}
            Err(m) => s.notes.push(m),
        }
    }
    Ok(s)
}

/// The saved searches of the release an archive belongs to: the `searches/*.aql` files
/// that the SHA256SUMS beside the archive lists together with it, when their sums
/// match. `None` when there is no such SHA256SUMS (the archive alone).
fn release_searches(archive: &Path) -> Result<Option<Vec<(String, String)>>, String> {
    let dir = archive
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Some(own) = archive.file_name().and_then(|n| n.to_str()) else {
        return Ok(None);
    };
    let Ok(sums) = std::fs::read_to_string(dir.join("SHA256SUMS")) else {
        return Ok(None);
    };
    let listed: Vec<(&str, &str)> = sums.lines().filter_map(|l| l.split_once("  ")).collect();
    if !listed.iter().any(|(_, n)| *n == own) {
        return Ok(None);
    }
    let mut out = Vec::new();
    for (sum, name) in listed {
        if !(name.starts_with("searches/") && name.ends_with(".aql")) {
            continue;
        }
        let p = dir.join(name);
        let bytes = std::fs::read(&p).map_err(|e| {
            format!(
                "saved searches are not compared: {} is listed in SHA256SUMS but cannot be read ({e})",
                p.display()
            )
        })?;
        if crate::archive::sha256_hex(&bytes) != sum.trim() {
            return Err(format!(
                "saved searches are not compared: {} does not match SHA256SUMS",
                p.display()
            ));
        }
        let text = String::from_utf8(bytes).map_err(|_| {
            format!(
                "saved searches are not compared: {} is not UTF-8",
                p.display()
            )
        })?;
        out.push((name.to_string(), text));
    }
    Ok(Some(out))
}

/// The snapshot of a pack built in memory: the archive's rows, and the searches written
/// beside it.
pub(crate) fn snapshot_of_built(
    shown: &str,
    built: &crate::build::Built,
    catalogue: &Catalogue,
) -> Snapshot {
    let meta = Meta::from_manifest(&built.manifest, &built.extension.qradar_version);
    let mut s = Snapshot::from_rows(
        shown,
        SideKind::Pack,
        meta,
        &built.extension.to_content().rows,
        None,
        catalogue,
    );
    s.add_file_searches(
        built
            .searches
            .iter()
            .map(|f| (f.file.as_str(), f.aql.as_str())),
    );
    s
}

/// Print why a side could not be read; the outcome is always a failure (2).
pub(crate) fn report_side_error(io: &mut Io, what: &str, e: SideError) -> Outcome {
    match e {
        SideError::Io(m) => {
            let _ = writeln!(io.err, "error: {m}");
        }
        SideError::Findings(diags, sources) => {
            let _ = write!(io.err, "{}", render(&diags, &sources, io.color));
            let _ = writeln!(
                io.err,
                "error: cannot compare {what}: it does not read (or build) without errors"
            );
        }
    }
    Outcome::Failure
}

pub fn run(args: &DiffArgs, io: &mut Io) -> Outcome {
    let catalogue = match super::catalogue(args.categories.as_deref()) {
        Ok(c) => c,
        Err(m) => {
            let _ = writeln!(io.err, "error: {m}");
            return Outcome::Failure;
        }
    };
    let skeletons = Skeletons::builtin();
    let mut sides = Vec::new();
    for p in [&args.old, &args.new] {
        match load_side(p, &catalogue, &skeletons) {
            Ok(s) => sides.push(s),
            Err(e) => return report_side_error(io, &p.display().to_string(), e),
        }
    }
    let d = diff(&sides[0], &sides[1]);
    match args.format {
        DiffFormat::Human => {
            let _ = write!(io.out, "{}", render_human(&d));
        }
        DiffFormat::Json => {
            let _ = serde_json::to_writer_pretty(&mut *io.out, &d);
            let _ = writeln!(io.out);
        }
        DiffFormat::Markdown => {
            let name = if d.new.name.is_empty() {
                &d.new.input
            } else {
                &d.new.name
            };
            let _ = writeln!(
                io.out,
                "## {} {} → {}\n",
                name.replace('\n', " "),
                d.old.version,
                d.new.version
            );
            let _ = write!(io.out, "{}", render_markdown(&d, 3));
        }
    }
    if d.identical {
        Outcome::Success
    } else {
        Outcome::Findings
    }
}
