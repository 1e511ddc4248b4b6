//! `qrpack release PACK --previous OLD.zip`: build the pack, check it against the
//! previous release (docs/releases.md), and only then write the archive, the saved
//! searches, RELEASE_NOTES.md and SHA256SUMS (and the lock). A refused release writes
//! nothing.

use serde::Serialize;

use super::{Io, Outcome};
use crate::archive::sha256_hex;
use crate::build::{Input, build};
use crate::catalogue::Catalogue;
use crate::cli::{Format, ReleaseArgs};
use crate::diag::{Diagnostic, Severity, Sources, render};
use crate::diff::{Snapshot, diff};
use crate::release::{check_release, refuses, release_notes};
use crate::rule::Skeletons;

pub const NOTES_FILE: &str = "RELEASE_NOTES.md";

#[derive(Debug, Serialize)]
struct JsonFinding<'a> {
    code: &'a str,
    severity: Severity,
    message: &'a str,
    file: Option<&'a str>,
    line: Option<usize>,
    column: Option<usize>,
    help: Option<&'a str>,
}

fn json_finding(d: &Diagnostic) -> JsonFinding<'_> {
    JsonFinding {
        code: d.code,
        severity: d.severity,
        message: &d.message,
        file: d.location.as_ref().map(|l| l.file.as_str()),
        line: d.location.as_ref().map(|l| l.line),
        column: d.location.as_ref().map(|l| l.column),
        help: d.help.as_deref(),
    }
}

/// The JSON report of a release (`--format json`).
#[derive(Debug, Serialize)]
struct Report<'a> {
    ok: bool,
    version: &'a str,
    previous: Option<Previous<'a>>,
    archive: Option<String>,
    sha256: Option<String>,
    files: Vec<String>,
    lock_changed: bool,
    summary: Option<crate::diff::Summary>,
    errors: Vec<JsonFinding<'a>>,
    warnings: Vec<JsonFinding<'a>>,
}

#[derive(Debug, Serialize)]
struct Previous<'a> {
    input: &'a str,
    version: &'a str,
}

pub fn run(args: &ReleaseArgs, io: &mut Io) -> Outcome {
    let fail = |io: &mut Io, msg: String| {
        let _ = writeln!(io.err, "error: {msg}");
        Outcome::Failure
    };
    let super::build::PackFiles {
        pack_text,
        lock_path,
        lock_text,
        catalogue,
    } = match super::build::PackFiles::read(&args.pack, args.categories.as_deref()) {
        Ok(f) => f,
        Err(m) => return fail(io, m),
    };
    let catalogue: &Catalogue = &catalogue;
    let skeletons = match &args.rule_tests {
        None => Skeletons::builtin(),
        Some(dir) => match super::build::load_skeletons(dir) {
            Ok(s) => s,
            Err(m) => return fail(io, m),
        },
    };
    let sde = match super::build::source_date_epoch() {
        Ok(s) => s,
        Err(m) => return fail(io, m),
    };
    // The previous release first: an unreadable one stops everything before a build.
    let previous: Option<Snapshot> = match &args.previous {
        None => None,
        Some(p) => match super::diff::load_side(p, catalogue, &skeletons) {
            Ok(s) => Some(s),
            Err(e) => {
                return super::diff::report_side_error(
                    io,
                    &format!("the previous release {}", p.display()),
                    e,
                );
            }
        },
    };

    let pack_shown = args.pack.display().to_string();
    let mut sources = Sources::new();
    sources.add(pack_shown.clone(), pack_text.clone());
    let input = Input {
        pack_path: &args.pack,
        pack_text: &pack_text,
        lock: lock_text.as_deref().map(|t| (lock_path.as_path(), t)),
        catalogue,
        skeletons: &skeletons,
        source_date_epoch: sde,
        locked: args.locked,
    };
    let refuse = |io: &mut Io, diags: &[Diagnostic], sources: &Sources, what: &str| {
        if args.format == Format::Json {
            let report = Report {
                ok: false,
                version: "",
                previous: None,
                archive: None,
                sha256: None,
                files: Vec::new(),
                lock_changed: false,
                summary: None,
                errors: diags
                    .iter()
                    .filter(|d| d.severity == Severity::Error)
                    .map(json_finding)
                    .collect(),
                warnings: Vec::new(),
            };
            let _ = serde_json::to_writer_pretty(&mut *io.out, &report);
            let _ = writeln!(io.out);
        }
        let _ = write!(io.err, "{}", render(diags, sources, io.color));
        let n = diags
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        let _ = writeln!(
            io.err,
            "error: {what}: {n} error{} (nothing was written)",
            if n == 1 { "" } else { "s" }
        );
        Outcome::Findings
    };
    let built = match build(&input) {
        Ok(b) => b,
        Err(failed) => {
            for (n, t) in failed.extra_sources {
                sources.add(n, t);
            }
            return refuse(
                io,
                &failed.diagnostics,
                &sources,
                &format!("could not build {pack_shown}"),
            );
        }
    };
    for (n, t) in &built.extra_sources {
        sources.add(n.clone(), t.clone());
    }
    let new = super::diff::snapshot_of_built(&pack_shown, &built, catalogue);
    let empty = Snapshot::empty("(nothing)");
    let base = previous.as_ref().unwrap_or(&empty);
    let d = diff(base, &new);
    if let Some(prev) = &previous {
        // The pack parsed once already (in the build): this only fetches its spans.
        let pack = match crate::spec::parse(&pack_shown, &pack_text) {
            Ok(p) => p,
            Err(e) => {
                return refuse(io, &[*e], &sources, &format!("could not read {pack_shown}"));
            }
        };
        let problems = check_release(&pack_shown, &pack_text, &pack, prev, &new, &d);
        if refuses(&problems) {
            return refuse(
                io,
                &problems,
                &sources,
                &format!(
                    "refusing to release {pack_shown} (compared with the previous release {})",
                    prev.input
                ),
            );
        }
    }
    if !io.quiet && !built.findings.is_empty() {
        let _ = write!(io.err, "{}", render(&built.findings, &sources, io.color));
    }

    // Write: searches, the archive, the notes, then the sums over all, then the lock.
    let sha = sha256_hex(&built.archive);
    let notes = release_notes(&new, previous.as_ref(), &d, &built.archive_name, &sha);
    let out = &args.out_dir;
    let files = match super::build::write_outputs(
        out,
        &built,
        &lock_path,
        &[(NOTES_FILE.to_string(), notes.as_bytes())],
    ) {
        Ok(f) => f,
        Err(e) => return fail(io, e),
    };
    let archive_path = out.join(&built.archive_name);
    match args.format {
        Format::Json => {
            let report = Report {
                ok: true,
                version: &new.meta.version,
                previous: previous.as_ref().map(|p| Previous {
                    input: &p.input,
                    version: &p.meta.version,
                }),
                archive: Some(archive_path.display().to_string()),
                sha256: Some(sha),
                files,
                lock_changed: built.lock_changed,
                summary: Some(d.summary),
                errors: Vec::new(),
                warnings: built.findings.iter().map(json_finding).collect(),
            };
            let _ = serde_json::to_writer_pretty(&mut *io.out, &report);
            let _ = writeln!(io.out);
        }
        Format::Human => {
            if !io.quiet {
                let since = match &previous {
                    Some(p) => format!(
                        "{} since {}: {} added, {} removed, {} changed",
                        new.meta.version,
                        p.meta.version,
                        d.summary.added,
                        d.summary.removed,
                        d.summary.changed
                    ),
                    None => format!("{}, first release", new.meta.version),
                };
                let _ = writeln!(io.out, "released {} ({since})", archive_path.display());
                for s in &built.searches {
                    let _ = writeln!(io.out, "  search  {}", out.join(&s.file).display());
                }
                let _ = writeln!(io.out, "  notes   {}", out.join(NOTES_FILE).display());
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
    Outcome::Success
}
