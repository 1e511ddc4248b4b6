//! `qrpack build PACK`: write the extension archive, saved searches, SHA256SUMS and the
//! lock. Every file is written atomically; a failed build writes nothing.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Io, Outcome};
use crate::archive::{sha256_hex, sha256sums, write_atomic};
use crate::build::{Input, build};
use crate::catalogue::Catalogue;
use crate::cli::{BuildArgs, Format};
use crate::diag::{Sources, render};
use crate::lock::LOCK_FILE;
use crate::rule::Skeletons;

/// The JSON report of a failed build.
#[derive(Debug, Serialize)]
struct FailedReport<'a> {
    ok: bool,
    errors: Vec<JsonFinding<'a>>,
}

fn json_finding(d: &crate::diag::Diagnostic) -> JsonFinding<'_> {
    JsonFinding {
        code: d.code,
        severity: d.severity,
        message: &d.message,
        file: d.location.as_ref().map(|l| l.file.as_str()),
        line: d.location.as_ref().map(|l| l.line),
        column: d.location.as_ref().map(|l| l.column),
    }
}

/// The JSON report of a build (`--format json`), frozen for scripts.
#[derive(Debug, Serialize)]
struct Report<'a> {
    ok: bool,
    archive: String,
    sha256: String,
    files: Vec<String>,
    lock: String,
    lock_changed: bool,
    counts: Counts,
    warnings: Vec<JsonFinding<'a>>,
}

#[derive(Debug, Serialize)]
struct Counts {
    events: usize,
    dsm_events: usize,
    properties: usize,
    expressions: usize,
    rules: usize,
    searches: usize,
}

#[derive(Debug, Serialize)]
struct JsonFinding<'a> {
    code: &'a str,
    severity: crate::diag::Severity,
    message: &'a str,
    file: Option<&'a str>,
    line: Option<usize>,
    column: Option<usize>,
}

pub fn run(args: &BuildArgs, io: &mut Io) -> Outcome {
    let fail = |io: &mut Io, msg: String| {
        let _ = writeln!(io.err, "error: {msg}");
        Outcome::Failure
    };
    let PackFiles {
        pack_text,
        lock_path,
        lock_text,
        catalogue,
    } = match PackFiles::read(&args.pack, args.categories.as_deref()) {
        Ok(f) => f,
        Err(m) => return fail(io, m),
    };
    let catalogue: &Catalogue = &catalogue;
    let skeletons = match &args.rule_tests {
        None => Skeletons::builtin(),
        Some(dir) => match load_skeletons(dir) {
            Ok(s) => s,
            Err(m) => return fail(io, m),
        },
    };
    let sde = match source_date_epoch() {
        Ok(s) => s,
        Err(m) => return fail(io, m),
    };
    let input = Input {
        pack_path: &args.pack,
        pack_text: &pack_text,
        lock: lock_text.as_deref().map(|t| (lock_path.as_path(), t)),
        catalogue,
        skeletons: &skeletons,
        source_date_epoch: sde,
        locked: args.locked,
    };
    // The files findings are shown from, made only when there are findings: a copy of a
    // large pack's text is thousands of fresh pages.
    let sources_with = |extra: &[(String, String)]| {
        let mut sources = Sources::new();
        sources.add(args.pack.display().to_string(), pack_text.clone());
        for (n, t) in extra {
            sources.add(n.clone(), t.clone());
        }
        sources
    };
    let built = match build(&input) {
        Ok(b) => b,
        Err(failed) => {
            let sources = sources_with(&failed.extra_sources);
            if args.format == Format::Json {
                let failed_report = FailedReport {
                    ok: false,
                    errors: failed.diagnostics.iter().map(json_finding).collect(),
                };
                let _ = serde_json::to_writer_pretty(&mut *io.out, &failed_report);
                let _ = writeln!(io.out);
            }
            let _ = write!(
                io.err,
                "{}",
                render(&failed.diagnostics, &sources, io.color)
            );
            let n = failed
                .diagnostics
                .iter()
                .filter(|d| d.severity == crate::diag::Severity::Error)
                .count();
            let _ = writeln!(
                io.err,
                "error: could not build {}: {n} error{} (nothing was written)",
                args.pack.display(),
                if n == 1 { "" } else { "s" }
            );
            return Outcome::Findings;
        }
    };
    if !io.quiet && !built.findings.is_empty() {
        let sources = sources_with(&built.extra_sources);
        let _ = write!(io.err, "{}", render(&built.findings, &sources, io.color));
    }

    // Write: searches, then the archive, then the sums over both, then the lock.
    let out = &args.out_dir;
    let written = match write_outputs(out, &built, &lock_path, &[]) {
        Ok(w) => w,
        Err(e) => return fail(io, e),
    };

    let archive_path = out.join(&built.archive_name);
    let x = &built.extension;
    let counts = Counts {
        events: x.qidmaps.len(),
        dsm_events: x.dsm_events.len(),
        properties: x.properties.len(),
        expressions: x.expressions.len(),
        rules: x.rules.len(),
        searches: built.searches.len(),
    };
    match args.format {
        Format::Json => {
            let report = Report {
                ok: true,
                archive: archive_path.display().to_string(),
                sha256: sha256_hex(&built.archive),
                files: written,
                lock: lock_path.display().to_string(),
                lock_changed: built.lock_changed,
                counts,
                warnings: built.findings.iter().map(json_finding).collect(),
            };
            let _ = serde_json::to_writer_pretty(&mut *io.out, &report);
            let _ = writeln!(io.out);
        }
        Format::Human => {
            if !io.quiet {
                let _ = writeln!(
                    io.out,
                    "built {} ({} QIDs, {} mappings, {} properties, {} expressions, {} rules, {} searches)",
                    archive_path.display(),
                    counts.events,
                    counts.dsm_events,
                    counts.properties,
                    counts.expressions,
                    counts.rules,
                    counts.searches
                );
                for s in &built.searches {
                    let _ = writeln!(io.out, "  search  {}", out.join(&s.file).display());
                }
                let _ = writeln!(io.out, "  sums    {}", out.join("SHA256SUMS").display());
                if built.lock_changed {
                    let _ = writeln!(
                        io.out,
                        "  lock    {} (updated: commit it)",
                        lock_path.display()
                    );
                }
            }
        }
    }
    // The model of a large pack is a million small allocations, and the process exits
    // next: the operating system takes the memory back at once, without walking them.
    // (Freeing them on a thread only competed with writing for the allocator.)
    std::mem::forget(built);
    Outcome::Success
}

/// Write what a build made into `out`, each file atomically: the searches, the archive,
/// then `extra` (e.g. release notes), then `SHA256SUMS` over all of them, then the lock
/// when it changed. Returns the paths written (`SHA256SUMS` last, the lock not listed).
pub(crate) fn write_outputs(
    out: &Path,
    built: &crate::build::Built,
    lock_path: &Path,
    extra: &[(String, &[u8])],
) -> Result<Vec<String>, String> {
    let mut written: Vec<(String, &[u8])> = Vec::new();
    for s in &built.searches {
        written.push((s.file.clone(), s.aql.as_bytes()));
    }
    written.push((built.archive_name.clone(), built.archive.as_slice()));
    written.extend(extra.iter().map(|(n, b)| (n.clone(), *b)));
    // The sums are computed on another core while the files are written and flushed
    // (hashing a large archive takes about as long as writing it).
    let (sums, wrote) = std::thread::scope(|scope| {
        let sums = scope.spawn(|| sha256sums(&written));
        let wrote = written
            .iter()
            .try_for_each(|(rel, bytes)| write_atomic(&out.join(rel), bytes));
        (sums.join(), wrote)
    });
    wrote.map_err(|e| e.to_string())?;
    let sums = sums.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    write_atomic(&out.join("SHA256SUMS"), sums.as_bytes()).map_err(|e| e.to_string())?;
    if built.lock_changed {
        write_atomic(lock_path, built.lock.to_toml().as_bytes()).map_err(|e| e.to_string())?;
    }
    Ok(written
        .iter()
        .map(|(n, _)| out.join(n).display().to_string())
        .chain(std::iter::once(
            out.join("SHA256SUMS").display().to_string(),
        ))
        .collect())
}

/// What a command that builds a pack reads first: the pack, its lock, the catalogue.
pub(crate) struct PackFiles {
    pub pack_text: String,
    pub lock_path: PathBuf,
    pub lock_text: Option<String>,
    pub catalogue: std::borrow::Cow<'static, Catalogue>,
}

impl PackFiles {
    pub(crate) fn read(pack: &Path, categories: Option<&Path>) -> Result<PackFiles, String> {
        let pack_text = std::fs::read_to_string(pack)
            .map_err(|e| format!("cannot read the pack {}: {e}", pack.display()))?;
        let (lock_path, lock_text) = read_lock(pack)?;
        let catalogue = super::catalogue(categories)?;
        Ok(PackFiles {
            pack_text,
            lock_path,
            lock_text,
            catalogue,
        })
    }
}

/// The lock beside a pack: its path, and its text when it exists.
pub(crate) fn read_lock(pack: &Path) -> Result<(PathBuf, Option<String>), String> {
    let lock_path = match pack.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => dir.join(LOCK_FILE),
        None => PathBuf::from(LOCK_FILE),
    };
    match std::fs::read_to_string(&lock_path) {
        Ok(t) => Ok((lock_path, Some(t))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((lock_path, None)),
        Err(e) => Err(format!("cannot read the lock {}: {e}", lock_path.display())),
    }
}

pub(crate) fn load_categories(path: &Path) -> Result<Catalogue, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the categories {}: {e}", path.display()))?;
    let parsed = if text.trim_start().starts_with('[') {
        Catalogue::from_api_json(&text)
    } else {
        Catalogue::from_csv(&text)
    };
    parsed.map_err(|e| format!("{}: {e}", path.display()))
}

pub(crate) fn load_skeletons(dir: &Path) -> Result<Skeletons, String> {
    let mut s = Skeletons::builtin();
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read the rule test folder {}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        let p = entry.path();
        if p.extension().and_then(|e| e.to_str()) == Some("xml")
            && let Some(class) = p.file_stem().and_then(|s| s.to_str())
        {
            let text = std::fs::read_to_string(&p)
                .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
            s.insert(class, text);
        }
    }
    Ok(s)
}

/// `SOURCE_DATE_EPOCH`, when set: seconds a zip can record, or an error to print.
pub(crate) fn source_date_epoch() -> Result<Option<i64>, String> {
    Ok(match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.trim().is_empty() => match v.trim().parse::<i64>() {
            Ok(n) if (crate::build::MIN_ZIP_TIME..=crate::build::MAX_ZIP_TIME).contains(&n) => {
                Some(n)
            }
            Ok(_) => {
                return Err(format!(
                    "SOURCE_DATE_EPOCH={v} is outside 1980–2107, which a zip cannot record"
                ));
            }
            Err(_) => {
                return Err(format!("SOURCE_DATE_EPOCH={v} is not a number of seconds"));
            }
        },
        _ => None,
    })
}
