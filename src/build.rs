//! From a pack file to an extension: resolve the pack (categories, QIDs from the lock,
//! device-event spellings, expressions, rules, searches) into the content model, check
//! it, and lay out the archive's bytes. Every problem is collected and reported at
//! once, each pointing at the pack (or lock, or AQL file) line that causes it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};

use base64::Engine;
use uuid::Uuid;

use crate::FastMap;
use crate::archive::{Stamp, safe_file_name, slug_file_name};
use crate::catalogue::Catalogue;
use crate::content::{
    CustomProperty, CustomRule, DsmEvent, Extension, Extraction, Group, GroupLink,
    PropertyExpression, QidMap, SavedSearch,
};
use crate::diag::{Diagnostic, Location, Severity};
use crate::jsonpath::KeyPath;
use crate::lock::{LOCK_FILE, Lock, Locked};
use crate::manifest::{Manifest, compare_qradar_versions, is_qradar_version, is_semver};
use crate::rule::{RuleDef, RuleResponse, RuleTest, Skeletons, write_rule};
use crate::spec::{self, CategoryRef, PackFile, PropertyType};

/// Default range new QIDs are allocated from (**[guess]**: user QIDs live at 2000000
/// and above; real exports show 2000000–2000004 for user events on a built-in type).
pub const DEFAULT_QID_FIRST: i64 = 2_000_000;
pub const DEFAULT_QID_LAST: i64 = 2_999_999;
/// The category a rule's dispatched event gets unless the pack says otherwise.
const SINGLE_EVENT_RULE_MATCH: i64 = 12002;
pub const QNAME_MAX: usize = 255;
pub const QDESCRIPTION_MAX: usize = 2048;

/// What a build reads.
pub struct Input<'a> {
    /// The pack's path as shown in messages.
    pub pack_path: &'a Path,
    pub pack_text: &'a str,
    /// The lock's path and text, when one exists.
    pub lock: Option<(&'a Path, &'a str)>,
    pub catalogue: &'a Catalogue,
    pub skeletons: &'a Skeletons,
    /// `SOURCE_DATE_EPOCH`, when set.
    pub source_date_epoch: Option<i64>,
    /// Refuse to change the lock (CI).
    pub locked: bool,
}

/// A saved search written beside the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchFile {
    pub name: String,
    /// Relative to the output folder, `/`-separated.
    pub file: String,
    pub aql: String,
}

/// What a build produces, in memory; the command writes it out.
#[derive(Debug, Clone)]
pub struct Built {
    pub archive_name: String,
    pub archive: Vec<u8>,
    pub content_name: String,
    pub manifest: Manifest,
    pub extension: Extension,
    pub searches: Vec<SearchFile>,
    pub lock: Lock,
    pub lock_changed: bool,
    /// Findings below error level (warnings, notes).
    pub findings: Vec<Diagnostic>,
    /// Texts of files findings may point into, other than the pack (AQL files).
    pub extra_sources: Vec<(String, String)>,
    /// The rules as resolved (for the simulator).
    pub rules: Vec<RuleDef>,
    /// The DSM assumptions (for the simulator).
    pub dsm: DsmInfo,
    pub log_source_type: (i64, String),
    /// The custom DSM the pack defines (`custom = true`), for the simulator.
    pub custom_dsm: Option<crate::custom_dsm::CustomDsm>,
    /// What the build parsed and resolved on the way and no caller reads.
    pub scratch: Scratch,
}

/// What a build parsed and resolved on the way and no caller reads (the pack's tree, its
/// events, the lock as read): about a million small allocations on a large pack. It goes
/// with its [`Built`]: dropped, it is freed on another thread; a command that exits next
/// leaks it with the rest of `Built`, and the operating system takes the memory back at
/// once (freeing it only competed with writing the files, and left the allocator free
/// pages to hand back at exit).
#[derive(Clone, Default)]
pub struct Scratch(Option<std::sync::Arc<dyn std::any::Any + Send + Sync>>);

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scratch")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(kept) = self.0.take() {
            drop_in_background(kept);
        }
    }
}

impl Built {
    /// The content XML inside the archive (entry `content_name`), written again from the
    /// model: a build compresses it as it writes it and keeps only the archive.
    pub fn content_xml(&self) -> Vec<u8> {
        crate::xml::write_extension(&self.extension)
    }
}

/// How the pack says the DSM derives the device event id and category.
#[derive(Debug, Clone, Default)]
pub struct DsmInfo {
    pub event_id: String,
    pub event_category: String,
    /// Placeholder (or normalized field: username, sourceip, time) → JSON key paths.
    pub fields: BTreeMap<String, Vec<String>>,
    /// `[[dsm.fallback]]`: device event category → the event id looked up instead when no
    /// mapping matches (checked by the build: one per category, and mapped).
    pub fallback: BTreeMap<String, String>,
}

/// A failed build: every error found, plus the texts they point into.
#[derive(Debug, Clone)]
pub struct Failed {
    pub diagnostics: Vec<Diagnostic>,
    pub extra_sources: Vec<(String, String)>,
}

struct Ctx<'a> {
    file: String,
    text: &'a str,
    diags: Vec<Diagnostic>,
    extra_sources: Vec<(String, String)>,
}

impl<'a> Ctx<'a> {
    /// No findings yet, for `file` with the text `text`.
    fn new(file: &str, text: &'a str) -> Self {
        Ctx {
            file: file.to_string(),
            text,
            diags: Vec::new(),
            extra_sources: Vec::new(),
        }
    }

    fn loc(&self, span: Range<usize>) -> Location {
        Location::in_text(&self.file, self.text, span)
    }
    /// Record a finding at `span` and hand it back for `.help()`/`.note()`.
    fn push(&mut self, d: Diagnostic, span: Range<usize>) -> &mut Diagnostic {
        let d = d.at(self.loc(span));
        self.diags.push(d);
        let n = self.diags.len() - 1;
        &mut self.diags[n]
    }
    fn error(
        &mut self,
        code: &'static str,
        span: Range<usize>,
        msg: impl Into<String>,
    ) -> &mut Diagnostic {
        self.push(Diagnostic::error(code, msg), span)
    }
    fn warn(
        &mut self,
        code: &'static str,
        span: Range<usize>,
        msg: impl Into<String>,
    ) -> &mut Diagnostic {
        self.push(Diagnostic::warning(code, msg), span)
    }
}

trait Fix {
    fn help(&mut self, h: impl Into<String>) -> &mut Self;
    fn note(&mut self, n: impl Into<String>) -> &mut Self;
}
impl Fix for Diagnostic {
    fn help(&mut self, h: impl Into<String>) -> &mut Self {
        self.help = Some(h.into());
        self
    }
    fn note(&mut self, n: impl Into<String>) -> &mut Self {
        self.notes.push(n.into());
        self
    }
}

/// Everything the pack declares, resolved, before ids are laid out.
struct ResolvedEvent {
    name: String,
    span: Range<usize>,
    description: String,
    severity: i64,
    category: i64,
    credibility: i64,
    pinned: Option<(i64, Range<usize>)>,
    labels: BTreeMap<String, String>,
    /// (device event id, device event category, the spelling's place in the pack)
    device_events: Vec<(String, String, Range<usize>)>,
}

/// `QRPACK_PHASES=1`: the time each phase of a build ends at, on stderr (how
/// docs/benchmarks.md breaks a build down). Off, it costs one environment lookup.
struct Phases(Option<std::time::Instant>);

impl Phases {
    fn new() -> Self {
        Phases(
            std::env::var_os("QRPACK_PHASES")
                .filter(|v| !v.is_empty() && v != "0")
                .map(|_| std::time::Instant::now()),
        )
    }
    fn mark(&self, phase: &str) {
        self.mark_at(phase, std::time::Instant::now());
    }
    /// A phase that ended on another thread, at `at`. (Only the calling thread prints:
    /// `qrpack build` holds stderr's lock while it builds.)
    fn mark_at(&self, phase: &str, at: std::time::Instant) {
        if let Some(t0) = self.0 {
            use std::io::Write;
            // Resident memory now (Linux: /proc/self/statm, in pages of 4 KiB); blank
            // elsewhere.
            let rss = std::fs::read_to_string("/proc/self/statm")
                .ok()
                .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
                .map(|pages| format!("  rss {:>6.1} MiB", (pages * 4096) as f64 / 1048576.0))
                .unwrap_or_default();
            let _ = writeln!(
                std::io::stderr(),
                "qrpack: phase {phase:<24} ends at {:>8.1} ms{rss}",
                at.saturating_duration_since(t0).as_secs_f64() * 1000.0
            );
        }
    }
}

/// Build a pack.
pub fn build(input: &Input) -> Result<Built, Failed> {
    let phases = Phases::new();
    let file = input.pack_path.display().to_string();
    let mut cx = Ctx::new(&file, input.pack_text);
    // The lock is parsed on another core while the pack is; the pack's error, if any,
    // is reported first, as when they were parsed one after the other.
    let (pack, lock) = std::thread::scope(|scope| {
        let lock = scope.spawn(|| {
            input
                .lock
                .map(|(path, text)| Lock::parse(&path.display().to_string(), text))
        });
        let pack = spec::parse(&file, input.pack_text);
        (pack, lock.join())
    });
    phases.mark("parse");
    let pack = match pack {
        Ok(p) => p,
        Err(d) => {
            return Err(Failed {
                diagnostics: vec![*d],
                extra_sources: Vec::new(),
            });
        }
    };
    let lock = match (input.lock, lock) {
        (_, Err(panic)) => std::panic::resume_unwind(panic),
        (Some(_), Ok(Some(Ok(l)))) => l,
        (Some((path, text)), Ok(Some(Err(d)))) => {
            return Err(Failed {
                diagnostics: vec![*d],
                extra_sources: vec![(path.display().to_string(), text.to_string())],
            });
        }
        _ => Lock::default(),
    };
    let lock_name = input
        .lock
        .map(|(p, _)| p.display().to_string())
        .unwrap_or_else(|| LOCK_FILE.to_string());
    if let Some((_, text)) = input.lock {
        cx.extra_sources.push((lock_name.clone(), text.to_string()));
    }

    let meta = check_extension(&mut cx, &pack, input.source_date_epoch);
    // Deprecation keys and rule uuid pins (docs/releases.md), on another core while the
    // events are resolved (findings are sorted before they are shown).
    let (type_id, events, release_findings) = std::thread::scope(|scope| {
        let release = scope.spawn(|| crate::release::check_pack(&file, input.pack_text, &pack));
        let type_id = check_log_source_type(&mut cx, &pack, input.catalogue);
        let events = resolve_events(&mut cx, &pack, input.catalogue, type_id);
        (type_id, events, release.join())
    });
    phases.mark("events");
    match release_findings {
        Ok(findings) => cx.diags.extend(findings),
        Err(panic) => std::panic::resume_unwind(panic),
    }

    // Names that need a QID: the pack's events, then each rule's dispatched event.
    let mut qid_names: Vec<QidName> = events
        .iter()
        .map(|e| (e.name.clone(), e.span.clone(), e.pinned.clone()))
        .collect();
    // Borrowed names: no copy of every event's name for the look-up.
    let mut seen_names: FastMap<&str, Range<usize>> = events
        .iter()
        .map(|e| (e.name.as_str(), e.span.clone()))
        .collect();
    for r in &pack.rules {
        if let Some(resp) = &r.get_ref().response {
            let (name, span) = match &resp.get_ref().event_name {
                Some(n) => (n.get_ref().as_str(), n.span()),
                None => (r.get_ref().name.get_ref().as_str(), r.get_ref().name.span()),
            };
            if let Some(first) = seen_names.get(name) {
                let first = cx.loc(first.clone());
                cx.error("PK031", span.clone(), format!("the QID name \"{name}\" is used twice"))
                    .help("a rule's dispatched event needs a QID name of its own: set `response.event_name`")
                    .note(format!("first used at {}:{}:{}", first.file, first.line, first.column));
            } else {
                seen_names.insert(name, span.clone());
                qid_names.push((name.to_string(), span, None));
            }
        }
    }
    phases.mark("qid names");
    let hub_id = pack.extension.get_ref().hub_id.get_ref().clone();
    let ns = uuid_v5(
        &Uuid::NAMESPACE_URL,
        format!("urn:qrpack:{hub_id}").as_bytes(),
    );
    let type_id_text = type_id.to_string();
    // What each event's rows need that depends on nothing else (UUIDs, normalized
    // spellings, owned strings) is prepared on all cores while the QIDs are allocated;
    // the ids and the checks across events are laid out in order below.
    let (prepared, (qids, new_lock)) = std::thread::scope(|scope| {
        let prepared = scope.spawn(|| {
            par_map(&events, 1024, |e| {
                let mut uuid_name: Vec<u8> = Vec::with_capacity(128);
                uuid_name.extend_from_slice(b"qidmap:");
                uuid_name.extend_from_slice(e.name.as_bytes());
                let qidmap_uuid = uuid_v5(&ns, &uuid_name);
                let rows: Vec<PreparedRow> = e
                    .device_events
                    .iter()
                    .map(|(dev_id, dev_cat, _)| {
                        uuid_name.clear();
                        uuid_name.extend_from_slice(b"dsmevent:");
                        uuid_name.extend_from_slice(type_id_text.as_bytes());
                        uuid_name.push(b':');
                        uuid_name.extend_from_slice(dev_id.as_bytes());
                        uuid_name.push(b':');
                        uuid_name.extend_from_slice(dev_cat.as_bytes());
                        PreparedRow {
                            uuid: uuid_v5(&ns, &uuid_name),
                            normalized_id: normalize_spelling(dev_id),
                            id: dev_id.clone(),
                            category: dev_cat.clone(),
                        }
                    })
                    .collect();
                (qidmap_uuid, e.name.clone(), e.description.clone(), rows)
            })
        });
        let allocated = allocate_qids(&mut cx, &pack, &hub_id, &qid_names, &lock, &lock_name);
        match prepared.join() {
            Ok(p) => (p, allocated),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    });
    let lock_changed = !new_lock.same_numbers(&lock);
    if lock_changed && input.locked {
        let (changed, span) = first_lock_change(&new_lock, &lock, &hub_id, &qid_names);
        cx.error(
            "PK044",
            span,
            format!("{lock_name} would change ({changed}), and --locked forbids it"),
        )
        .help(format!(
            "run `qrpack build` without --locked and commit {lock_name}"
        ));
    }

    let owner = pack
        .extension
        .get_ref()
        .owner
        .as_ref()
        .map(|o| o.get_ref().clone())
        .unwrap_or_else(|| "admin".to_string());
    let date_ms = meta.stamp.to_unix() * 1000;
    let mut ext = Extension {
        qradar_version: meta.qradar_version.clone(),
        ..Extension::default()
    };
    // A custom log source type: its rows and parsing (nothing for a built-in type).
    let custom_dsm = crate::custom_dsm::resolve(
        &file,
        input.pack_text,
        &pack,
        input.catalogue,
        &ns,
        &mut ext,
        &mut cx.diags,
    );

    phases.mark("qid allocation");
    let event_qids: FastMap<&str, i64> = events
        .iter()
        .map(|e| (e.name.as_str(), qids.get(&e.name).copied().unwrap_or(0)))
        .collect();
    // The custom properties, rules and searches depend on nothing the qidmap and dsmevent
    // rows below lay out (a rule's dispatched event takes the QID map id after the
    // pack's events): the rules and searches are resolved on another core meanwhile, the
    // properties here after the rows, each into findings and rows of their own, appended
    // after in the same order as one after the other.
    let (triples, later) = std::thread::scope(|scope| {
        let later = scope.spawn(|| {
            let mut lcx = Ctx::new(&file, input.pack_text);
            let mut rows = Extension::default();
            let placeholders = Placeholders {
                events: &events,
                qids: &qids,
                type_id,
                // The names QIDNAME can give events of this pack: its events' and the
                // events its rules dispatch (PK082/PK083 test LIKE patterns against both).
                event_names: events
                    .iter()
                    .map(|e| e.name.clone())
                    .chain(pack.rules.iter().filter_map(|r| {
                        let r = r.get_ref();
                        r.response
                            .as_ref()
                            .and_then(|x| x.get_ref().event_name.as_ref())
                            .map(|n| n.get_ref().clone())
                    }))
                    .collect(),
                event_index: events
                    .iter()
                    .enumerate()
                    .map(|(i, e)| (e.name.as_str(), i))
                    .collect(),
                label_index: {
                    let mut ix: FastMap<(&str, &str), Vec<usize>> = FastMap::default();
                    for (i, e) in events.iter().enumerate() {
                        for (k, v) in &e.labels {
                            ix.entry((k.as_str(), v.as_str())).or_default().push(i);
                        }
                    }
                    ix
                },
                property_names: pack
                    .properties
                    .iter()
                    .map(|p| p.get_ref().name.get_ref().clone())
                    .collect(),
            };
            let mut ends = vec![("placeholders", std::time::Instant::now())];
            let mut rule_defs = Vec::new();
            resolve_rules(
                &mut lcx,
                &pack,
                &mut rows,
                &mut rule_defs,
                RuleCtx {
                    ns: &ns,
                    placeholders: &placeholders,
                    qids: &qids,
                    owner: &owner,
                    stamp: meta.stamp,
                    type_id,
                    type_name: pack.log_source_type.get_ref().name.get_ref(),
                    catalogue: input.catalogue,
                    skeletons: input.skeletons,
                },
            );
            ends.push(("rules", std::time::Instant::now()));
            let searches = resolve_searches(
                &mut lcx,
                &pack,
                &mut rows,
                input.pack_path,
                &placeholders,
                &ns,
                &owner,
            );
            ends.push(("searches", std::time::Instant::now()));
            (lcx, rows, rule_defs, searches, ends)
        });
        let triples = lay_out_event_rows(&mut cx, &mut ext, &events, prepared, &qids, type_id);
        phases.mark("qidmap and dsmevent rows");
        // The properties, here rather than before the rules: the rules take longer than
        // the rows, and this keeps both cores busy until both are done.
        let mut pcx = Ctx::new(&file, input.pack_text);
        let mut property_rows = Extension::default();
        resolve_properties(
            &mut pcx,
            &pack,
            &mut property_rows,
            &ns,
            &event_qids,
            type_id,
            &owner,
            date_ms,
        );
        phases.mark("properties");
        match later.join() {
            Ok(p) => (triples, (pcx, property_rows, p)),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    });
    let (property_cx, property_rows, (later_cx, later_rows, rule_defs, searches, ends)) = later;
    for (phase, at) in ends {
        phases.mark_at(&format!("{phase} (other thread)"), at);
    }
    check_fallbacks(&mut cx, &pack, &triples);
    // In the order of the sections when they were resolved one after the other.
    cx.diags.extend(property_cx.diags);
    cx.extra_sources.extend(property_cx.extra_sources);
    cx.diags.extend(later_cx.diags);
    cx.extra_sources.extend(later_cx.extra_sources);
    // The rules' dispatched events follow the pack's events.
    ext.qidmaps.extend(later_rows.qidmaps);
    ext.properties = property_rows.properties;
    ext.expressions = property_rows.expressions;
    ext.groups = later_rows.groups;
    ext.rules = later_rows.rules;
    ext.group_links = later_rows.group_links;
    ext.searches = later_rows.searches;
    phases.mark("rules and searches joined");
    if cx.diags.iter().any(|d| d.severity == Severity::Error) {
        let mut diagnostics = cx.diags;
        crate::diag::sort(&mut diagnostics);
        return Err(Failed {
            diagnostics,
            extra_sources: cx.extra_sources,
        });
    }

    let x = pack.extension.get_ref();
    let manifest = Manifest::new(
        &hub_id,
        x.name.get_ref(),
        x.description.get_ref(),
        x.version.get_ref(),
        x.author.get_ref(),
        x.author_email.get_ref(),
        &meta.min_qradar_version,
    );
    let content_name = format!(
        "{}-{}.xml",
        safe_file_name(x.name.get_ref()),
        meta.stamp.compact()
    );
    let archive_name = format!("{}-{}.zip", slug_file_name(&hub_id), x.version.get_ref());
    // Check what is about to be written with the validator's checks: an archive qrpack
    // builds must validate with no finding at warning level or above. The rows are
    // checked as they are written, at the lines they stand on in the content XML (the
    // XML writer itself is tested to read back unchanged).
    //
    // The second core lays out each row once, writes it into the content XML and checks
    // it; this one compresses the XML, a piece at a time, as the pieces come
    // (`PIECES_AHEAD` at most wait; their buffers go back to be written again). The
    // pieces are those `xml::write_extension_to` writes, so the archive's bytes are too.
    // (A third thread writing the XML beside the self-check was measured slower: three
    // threads on two cores.)
    let manifest_json = manifest.to_json();
    let catalogue = input.catalogue;
    const PIECES_AHEAD: usize = 2;
    // `None` ends the XML: a channel that closes without it means the writer stopped.
    let (piece_tx, piece_rx) = std::sync::mpsc::sync_channel::<Option<Vec<u8>>>(PIECES_AHEAD);
    let (spare_tx, spare_rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let (checked, written) = std::thread::scope(|scope| {
        let (ext, archive_name, content_name, manifest_json) =
            (&ext, &archive_name, &content_name, &manifest_json);
        let check = move || {
            let mut report = crate::validate::Report::default();
            crate::validate::manifest::check(
                &format!("{archive_name}!manifest.txt"),
                manifest_json,
                &mut report.findings,
            );
            // The rules' filters were linted at their lines in the pack (PK080).
            let mut checker = crate::validate::content::Checker::new(
                &format!("{archive_name}!{content_name}"),
                catalogue,
                false,
            )
            .without_filter_lint();
            let mut xml = crate::xml::XmlPieces::new(&ext.qradar_version);
            // Until the compressor stops taking pieces (its archive failed): the checks
            // go on either way.
            let mut sending = true;
            check_written_rows(ext, &mut checker, |r| {
                if sending && xml.row(r.table(), r.columns().iter().map(|(n, v)| (*n, v.as_str())))
                {
                    let piece = xml.take(spare_rx.try_recv().ok());
                    sending = piece_tx.send(Some(piece)).is_ok();
                }
            });
            if sending && piece_tx.send(Some(xml.finish())).is_ok() {
                let _ = piece_tx.send(None);
            }
            drop(piece_tx);
            checker.finish();
            report.findings.append(&mut checker.findings);
            (report, std::time::Instant::now())
        };
        let checks = std::thread::Builder::new()
            .name("qrpack-check".into())
            .spawn_scoped(scope, check)
            .map_err(|e| format!("cannot start the self-check: {e}"));
        let content: crate::archive::Contents = if checks.is_ok() {
            Box::new(move |w: &mut dyn std::io::Write| {
                for piece in piece_rx.iter() {
                    let Some(piece) = piece else {
                        return Ok(());
                    };
                    w.write_all(&piece)?;
                    let _ = spare_tx.send(piece);
                }
                Err(std::io::Error::other(
                    "the content XML stopped before its end: the self-check thread that writes it failed",
                ))
            })
        } else {
            // No second thread: the XML is written here (and the self-check's error
            // refuses the build below).
            Box::new(|w: &mut dyn std::io::Write| crate::xml::write_extension_to(ext, w))
        };
        let archive = crate::archive::write_zip_streamed(
            &mut [
                (content_name.as_str(), content),
                (
                    "manifest.txt",
                    Box::new(|w: &mut dyn std::io::Write| w.write_all(manifest_json)),
                ),
            ],
            meta.stamp,
        );
        phases.mark("content xml and zip");
        let checked: Result<crate::validate::Report, String> = checks.and_then(|c| {
            c.join()
                .map(|(report, done)| {
                    phases.mark_at("self-check (its thread)", done);
                    report
                })
                .map_err(|_| "the self-check stopped unexpectedly".to_string())
        });
        (checked, archive)
    });
    phases.mark("self-check");
    let archive = written.map_err(|e| Failed {
        diagnostics: vec![
            Diagnostic::error("PK090", e.to_string())
                .at(cx.loc(x.timestamp.as_ref().map(|t| t.span()).unwrap_or(0..0))),
        ],
        extra_sources: Vec::new(),
    })?;
    match checked {
        Ok(report) => {
            // Errors: qrpack wrote something QRadar would refuse: never hand it out.
            // Warnings: the pack asked for something doubtful (and was warned): pass on.
            let mut bad = Vec::new();
            for d in report.findings {
                match d.severity {
                    Severity::Error => bad.push(d.note(
                        "qrpack's own output fails its checks: please report this with the pack",
                    )),
                    Severity::Warning => cx.diags.push(d),
                    Severity::Info => {}
                }
            }
            if !bad.is_empty() {
                return Err(Failed {
                    diagnostics: bad,
                    extra_sources: cx.extra_sources,
                });
            }
        }
        Err(e) => {
            return Err(Failed {
                diagnostics: vec![Diagnostic::error("PK090", e)],
                extra_sources: cx.extra_sources,
            });
        }
    }
    let mut findings = cx.diags;
    crate::diag::sort(&mut findings);
    let mut built = Built {
        archive_name,
        archive,
        content_name,
        manifest,
        extension: ext,
        searches,
        lock: new_lock,
        lock_changed,
        findings,
        extra_sources: cx.extra_sources,
        rules: rule_defs,
        dsm: dsm_info(&pack),
        log_source_type: (
            type_id,
            pack.log_source_type.get_ref().name.get_ref().clone(),
        ),
        custom_dsm,
        scratch: Scratch::default(),
    };
    // The structures that borrow `events` go first; what is left goes with `built`.
    drop((triples, event_qids));
    built.scratch = Scratch(Some(std::sync::Arc::new((
        pack, events, qids, lock, qid_names,
    ))));
    phases.mark("end");
    Ok(built)
}

/// The QID map entry and DSM mappings of each event, in pack order: the ids, and the
/// checks across events (a device event mapped twice, PK037; spellings that differ only
/// by dash, case or spaces, PK038). What each row needs on its own was prepared before.
/// Returns each (device event id, category) with the event that maps it and where, for
/// the fallback checks.
fn lay_out_event_rows<'a>(
    cx: &mut Ctx,
    ext: &mut Extension,
    events: &'a [ResolvedEvent],
    prepared: Vec<(Uuid, String, String, Vec<PreparedRow>)>,
    qids: &FastMap<String, i64>,
    type_id: i64,
) -> FastMap<(&'a str, &'a str), (&'a str, Range<usize>)> {
    let n_device_events: usize = events.iter().map(|e| e.device_events.len()).sum();
    // Keys borrow from `events`: no copies of the 40,000-odd spellings of a large pack.
    let mut triples: FastMap<(&str, &str), (&str, Range<usize>)> =
        FastMap::with_capacity_and_hasher(n_device_events, Default::default());
    // Normalized spellings: the id's own string, the category's shared with its kind.
    let mut normalized: FastMap<(String, &str), (&str, &str)> =
        FastMap::with_capacity_and_hasher(n_device_events, Default::default());
    // Categories repeat across thousands of mappings: normalize each once.
    let mut normalized_category: FastMap<&str, String> = FastMap::default();
    for e in events {
        for (_, dev_cat, _) in &e.device_events {
            normalized_category
                .entry(dev_cat.as_str())
                .or_insert_with(|| normalize_spelling(dev_cat));
        }
    }
    ext.qidmaps.reserve(events.len());
    ext.dsm_events.reserve(n_device_events);
    for (e, (qidmap_uuid, name, description, rows)) in events.iter().zip(prepared) {
        let id = ext.qidmaps.len() as i64 + 1;
        ext.qidmaps.push(QidMap {
            id,
            qid: qids.get(&e.name).copied().unwrap_or(0),
            name,
            description,
            severity: e.severity,
            low_level_category: e.category,
            uuid: qidmap_uuid,
        });
        for ((dev_id, dev_cat, spelling), row) in e.device_events.iter().zip(rows) {
            let key = (dev_id.as_str(), dev_cat.as_str());
            if let Some((other, other_span)) = triples.get(&key) {
                let first = cx.loc(other_span.clone());
                let (other, span) = (other.to_string(), spelling.clone());
                cx.error(
                    "PK037",
                    span,
                    format!(
                        "device event \"{}\" / \"{}\" is mapped twice (to \"{}\" and \"{}\")",
                        dev_id, dev_cat, other, e.name
                    ),
                )
                .help("QRadar matches one QID per (log source type, event id, category): keep the spelling in one event only")
                .note(format!("first mapped at {}:{}:{}", first.file, first.line, first.column));
                continue;
            }
            triples.insert(key, (e.name.as_str(), spelling.clone()));
            let norm_cat = normalized_category
                .get(dev_cat.as_str())
                .map(String::as_str)
                .unwrap_or_default();
            let norm = (row.normalized_id, norm_cat);
            match normalized.get(&norm) {
                Some((other_event, other_id)) if *other_event != e.name => {
                    let (oe, oi) = (other_event.to_string(), other_id.to_string());
                    cx.warn(
                        "PK038",
                        spelling.clone(),
                        format!(
                            "\"{dev_id}\" (in \"{}\") differs from \"{oi}\" (in \"{oe}\") only by dash kind, case or spaces",
                            e.name
                        ),
                    )
                    .help("if both are spellings of one operation, list them under the same event");
                }
                // The same event's other spelling: the later one is quoted from now on.
                _ => {
                    normalized.insert(norm, (e.name.as_str(), dev_id.as_str()));
                }
            }
            ext.dsm_events.push(DsmEvent {
                id: ext.dsm_events.len() as i64 + 1,
                device_type_id: type_id,
                device_event_id: row.id,
                device_event_category: row.category,
                qidmap_id: id,
                credibility: e.credibility,
                uuid: row.uuid,
            });
        }
    }
    triples
}

/// `Uuid::new_v5(ns, name)`, with the `sha1` crate, which uses the CPU's SHA
/// instructions where it has them: the `uuid` crate's portable SHA-1 took 4 % of a
/// large build (56,000 UUIDs). Same bytes (RFC 4122 §4.3; tested against `new_v5`).
pub(crate) fn uuid_v5(ns: &Uuid, name: &[u8]) -> Uuid {
    use sha1::Digest;
    let mut hasher = sha1::Sha1::new();
    hasher.update(ns.as_bytes());
    hasher.update(name);
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_sha1_bytes(bytes).into_uuid()
}

/// Free `value` on a short-lived thread so the caller goes on at once; freed here when no
/// thread can be started. Nothing observable depends on when the memory is returned.
pub(crate) fn drop_in_background<T: Send + 'static>(value: T) {
    let _ = std::thread::Builder::new()
        .name("qrpack-free".into())
        .spawn(move || drop(value));
}

fn dsm_info(pack: &PackFile) -> DsmInfo {
    match &pack.dsm {
        Some(d) => {
            let d = d.get_ref();
            DsmInfo {
                event_id: d.event_id.get_ref().clone(),
                event_category: d.event_category.get_ref().clone(),
                fields: d
                    .fields
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            v.get_ref().iter().map(|p| p.get_ref().clone()).collect(),
                        )
                    })
                    .collect(),
                fallback: d
                    .fallback
                    .iter()
                    .map(|f| {
                        let f = f.get_ref();
                        (f.category.get_ref().clone(), f.event_id.get_ref().clone())
                    })
                    .collect(),
            }
        }
        None if crate::custom_dsm::is_custom(pack) => DsmInfo {
            event_id: crate::custom_dsm::DEFAULT_EVENT_ID_TEMPLATE.into(),
            event_category: crate::custom_dsm::DEFAULT_EVENT_CATEGORY_TEMPLATE.into(),
            fields: BTreeMap::new(),
            fallback: BTreeMap::new(),
        },
        None => DsmInfo {
            event_id: "{event_id}".into(),
            event_category: "{event_category}".into(),
            fields: BTreeMap::new(),
            fallback: BTreeMap::new(),
        },
    }
}

/// Hand every row to the checker with the position it has in the XML that
/// [`crate::xml::write_extension`] writes: the declaration, `<content>`, `<qradarversion>`,
/// then each row's start tag on its own line (column 2) and each column on its own line
/// (column 3); values with line breaks push later lines down. The rows come from
/// [`Extension::for_each_row`], the very layout the XML writer writes.
fn check_written_rows(
    ext: &Extension,
    checker: &mut crate::validate::content::Checker,
    mut also: impl FnMut(&crate::content::RowBuf),
) {
    use crate::read::rows::{ColumnAt, RowAt};
    use crate::read::tracked::Pos;
    let pos = |line: u64, column: u64| Pos {
        line,
        column,
        offset: 0,
    };
    checker.version(ext.qradar_version.clone(), pos(3, 2));
    let mut line = 3 + ext.qradar_version.matches('\n').count() as u64 + 1;
    let mut row = RowAt {
        table: String::new(),
        pos: pos(0, 0),
        columns: Vec::new(),
    };
    ext.for_each_row(|r| {
        also(r);
        row.table.clear();
        row.table.push_str(r.table());
        row.pos = pos(line, 2);
        line += 1;
        // Reuse the column buffers of the previous row: no allocation per column.
        let columns = r.columns();
        row.columns.truncate(columns.len());
        for (i, (name, value)) in columns.iter().enumerate() {
            let at = pos(line, 3);
            match row.columns.get_mut(i) {
                Some(c) => {
                    c.name.clear();
                    c.name.push_str(name);
                    c.value.clone_from(value);
                    c.pos = at;
                }
                None => row.columns.push(ColumnAt {
                    name: name.to_string(),
                    value: value.clone(),
                    pos: at,
                }),
            }
            // Most values are short: a plain loop beats memchr's setup there.
            let v = value.as_bytes();
            let breaks = if v.len() < 64 {
                v.iter().filter(|&&b| b == b'\n').count()
            } else {
                memchr::memchr_iter(b'\n', v).count()
            };
            line += 1 + breaks as u64;
        }
        line += 1;
        checker.row(&row);
    });
}

/// Record `name` as declared at `span`; when it was declared before, report `code` with
/// the first place, and return false.
fn first_declaration(
    cx: &mut Ctx,
    names: &mut FastMap<String, Range<usize>>,
    name: &str,
    span: Range<usize>,
    code: &'static str,
    what: &str,
    help: &str,
) -> bool {
    if let Some(first) = names.get(name) {
        let first = cx.loc(first.clone());
        cx.error(code, span, format!("{what} \"{name}\" is declared twice"))
            .help(help)
            .note(format!(
                "first declared at {}:{}:{}",
                first.file, first.line, first.column
            ));
        false
    } else {
        names.insert(name.to_string(), span);
        true
    }
}

/// Spellings that QRadar treats as different but people read as the same: dash kinds,
/// case and spaces (anywhere: "X -success" and "X-success" read alike).
pub fn normalize_spelling(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len());
    push_normalized(&mut out, s);
    // Only whole UTF-8 encodings are pushed.
    String::from_utf8(out).unwrap_or_default()
}

/// Append the bytes of [`normalize_spelling`]`(s)` to `out`, without allocating: dashes
/// to '-', white space (Unicode's, as `split_whitespace`) dropped, the rest lowercased.
/// Dropping white space before lowercasing is the same as after: no white space character
/// has a case mapping, and none is the lowercase of another. Runs of ASCII (most of any
/// spelling, even one with an en dash) are copied a word at a time and lowercased in
/// place, without the Unicode tests per character.
pub(crate) fn push_normalized(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len());
    let mut rest = s;
    loop {
        let bytes = rest.as_bytes();
        let ascii = bytes
            .iter()
            .position(|b| !b.is_ascii())
            .unwrap_or(bytes.len());
        // `char::is_whitespace` on ASCII: space and U+0009 to U+000D (with the vertical
        // tab, which `u8::is_ascii_whitespace` leaves out).
        for word in bytes[..ascii].split(|&b| b == b' ' || (b'\t'..=b'\r').contains(&b)) {
            let at = out.len();
            out.extend_from_slice(word);
            out[at..].make_ascii_lowercase();
        }
        rest = &rest[ascii..];
        let Some(c) = rest.chars().next() else {
            return;
        };
        rest = &rest[c.len_utf8()..];
        let c = match c {
            '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{fe58}' | '\u{fe63}' | '\u{ff0d}' => '-',
            c => c,
        };
        if c.is_whitespace() {
            continue;
        }
        let mut utf8 = [0u8; 4];
        for lower in c.to_lowercase() {
            out.extend_from_slice(lower.encode_utf8(&mut utf8).as_bytes());
        }
    }
}

/// A name that needs a QID: (name, where it is declared, pinned number and where).
type QidName = (String, Range<usize>, Option<(i64, Range<usize>)>);

struct Meta {
    stamp: Stamp,
    qradar_version: String,
    min_qradar_version: String,
}

fn check_extension(cx: &mut Ctx, pack: &PackFile, sde: Option<i64>) -> Meta {
    let x = pack.extension.get_ref();
    for (key, v) in [
        ("hub_id", &x.hub_id),
        ("name", &x.name),
        ("author", &x.author),
        ("author_email", &x.author_email),
        ("description", &x.description),
    ] {
        if v.get_ref().trim().is_empty() {
            cx.error("PK011", v.span(), format!("`{key}` is empty"))
                .help("IBM's pre-validation requires name, description, author and author e-mail; the hub id identifies the extension");
        }
    }
    if !x.author_email.get_ref().trim().is_empty() && !x.author_email.get_ref().contains('@') {
        cx.error(
            "PK011",
            x.author_email.span(),
            "`author_email` is not an e-mail address",
        )
        .help("write an address such as detect@example.org");
    }
    if !is_semver(x.version.get_ref()) {
        cx.error(
            "PK010",
            x.version.span(),
            format!(
                "version \"{}\" is not MAJOR.MINOR.PATCH",
                x.version.get_ref()
            ),
        )
        .help("write three whole numbers, e.g. \"1.0.0\" (IBM's pre-validation rule)");
    }
    let min = x.min_qradar_version.get_ref().clone();
    for v in std::iter::once(&x.min_qradar_version).chain(x.qradar_version.iter()) {
        let first: u64 = v
            .get_ref()
            .split('.')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        if is_qradar_version(v.get_ref()) && first < 2000 {
            cx.warn("PK015", v.span(), format!("\"{}\" looks like a product version, not QRadar's internal version", v.get_ref()))
                .help("QRadar compares internal versions such as \"2021.6.0\" (7.5.0); /opt/qradar/bin/myver prints it");
        }
    }
    if !is_qradar_version(&min) {
        cx.error("PK012", x.min_qradar_version.span(), format!("\"{min}\" is not a QRadar internal version"))
            .help("write 3 or 4 dot-separated numbers, as /opt/qradar/bin/myver prints: e.g. \"2021.6.0\" for QRadar 7.5.0");
    }
    let qv = match &x.qradar_version {
        Some(v) => {
            if !is_qradar_version(v.get_ref()) {
                cx.error(
                    "PK012",
                    v.span(),
                    format!("\"{}\" is not a QRadar internal version", v.get_ref()),
                )
                .help("write 3 or 4 dot-separated numbers, e.g. \"2021.6.0\"");
            } else if is_qradar_version(&min)
                && compare_qradar_versions(v.get_ref(), &min) == std::cmp::Ordering::Greater
            {
                cx.error(
                    "PK013",
                    v.span(),
                    format!("<qradarversion> {} is newer than min_qradar_version {min}", v.get_ref()),
                )
                .help("QRadar refuses content exported from a newer version: make qradar_version no newer than min_qradar_version");
            }
            v.get_ref().clone()
        }
        None => min.clone(),
    };
    let stamp = match (sde, &x.timestamp) {
        (Some(secs), _) => Stamp::from_unix(secs.clamp(0, MAX_ZIP_TIME)),
        (None, Some(t)) => match datetime_to_unix(t.get_ref()) {
            Some(secs) => Stamp::from_unix(secs),
            None => {
                cx.error("PK014", t.span(), "the timestamp needs a date and a time")
                    .help("write an offset date-time, e.g. 2026-11-28T00:00:00Z");
                Stamp::from_unix(DEFAULT_EPOCH)
            }
        },
        (None, None) => Stamp::from_unix(DEFAULT_EPOCH),
    };
    if !(1980..=2107).contains(&stamp.year) {
        let span = x
            .timestamp
            .as_ref()
            .map(|t| t.span())
            .unwrap_or(pack.extension.span());
        cx.error(
            "PK014",
            span,
            format!(
                "build time {} is outside 1980–2107, which a zip cannot record",
                stamp.iso()
            ),
        )
        .help("set SOURCE_DATE_EPOCH or `timestamp` to a time after 1980");
    }
    Meta {
        stamp,
        qradar_version: qv,
        min_qradar_version: min,
    }
}

/// The last second a zip's DOS timestamp can hold (2107-12-31T23:59:58Z).
pub const MAX_ZIP_TIME: i64 = 4_354_819_198;
/// The first (1980-01-01T00:00:00Z).
pub const MIN_ZIP_TIME: i64 = 315_532_800;

/// The build time when neither `SOURCE_DATE_EPOCH` nor `timestamp` is set:
/// 2000-01-01T00:00:00Z, fixed so that builds stay reproducible.
pub const DEFAULT_EPOCH: i64 = 946_684_800;

fn datetime_to_unix(dt: &toml::value::Datetime) -> Option<i64> {
    let d = dt.date?;
    let t = dt.time.unwrap_or(toml::value::Time {
        hour: 0,
        minute: 0,
        second: Some(0),
        nanosecond: None,
    });
    let local = Stamp {
        year: d.year,
        month: d.month,
        day: d.day,
        hour: t.hour,
        minute: t.minute,
        second: t.second.unwrap_or(0),
    }
    .to_unix();
    let offset_min = match dt.offset {
        Some(toml::value::Offset::Custom { minutes }) => minutes as i64,
        _ => 0,
    };
    Some(local - offset_min * 60)
}

fn check_log_source_type(cx: &mut Ctx, pack: &PackFile, cat: &Catalogue) -> i64 {
    let t = pack.log_source_type.get_ref();
    let id = *t.id.get_ref();
    if crate::custom_dsm::is_custom(pack) {
        // Checked with the rest of the custom type (crate::custom_dsm).
        return id;
    }
    if id <= 0 || id > u32::MAX as i64 {
        cx.error(
            "PK020",
            t.id.span(),
            format!("log source type id {id} is not a valid id"),
        )
        .help("built-in types have ids below 4000; Microsoft Azure Active Directory is 445");
        return id;
    }
    if id >= 4000 {
        cx.error("PK020", t.id.span(), format!("log source type {id} is a custom type id (4000 and above)"))
            .help("to define a custom log source type (a custom DSM), add `custom = true` and its [parsing] (docs/pack-format.md); to extend a built-in type, use its id (below 4000)");
        return id;
    }
    match cat.log_source_type(id as u32) {
        None => {
            cx.warn("PK021", t.id.span(), format!("log source type {id} is not in qrpack's catalogue of built-in types"))
                .help("check the id on your console (Admin > DSM Editor, or GET /api/config/event_sources/log_source_management/log_source_types)");
        }
        Some(known) => {
            let squash = |s: &str| -> String {
                s.chars()
                    .filter(|c| c.is_alphanumeric())
                    .flat_map(char::to_lowercase)
                    .collect()
            };
            let given = squash(t.name.get_ref());
            let kn = squash(&known.name);
            if !given.is_empty() && !kn.contains(&given) && !given.contains(&kn) {
                cx.warn(
                    "PK022",
                    t.name.span(),
                    format!(
                        "log source type {id} is \"{}\" in the catalogue, not \"{}\"",
                        known.name,
                        t.name.get_ref()
                    ),
                )
                .help("check that the id is the type you mean; the name is only documentation");
            }
        }
    }
    id
}

/// The `{name}` placeholders of a template, with literal text between them.
fn template_parts(t: &str) -> Vec<Result<String, String>> {
    let mut parts = Vec::new();
    let mut rest = t;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after.find('}');
        match close {
            Some(c)
                if !after[..c].is_empty()
                    && after[..c]
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
            {
                if open > 0 {
                    parts.push(Ok(rest[..open].to_string()));
                }
                parts.push(Err(after[..c].to_string()));
                rest = &after[c + 1..];
            }
            _ => {
                parts.push(Ok(rest[..=open].to_string()));
                rest = after;
            }
        }
    }
    if !rest.is_empty() {
        parts.push(Ok(rest.to_string()));
    }
    parts
}

/// A device event's row, as far as it depends on its event only (computed on all cores).
struct PreparedRow {
    uuid: Uuid,
    normalized_id: String,
    id: String,
    category: String,
}

/// A placeholder's values and where each is written.
type Spellings<'p> = Vec<(&'p str, Range<usize>)>;

fn resolve_events(
    cx: &mut Ctx,
    pack: &PackFile,
    cat: &Catalogue,
    _type_id: i64,
) -> Vec<ResolvedEvent> {
    let (id_t, cat_t, defaults) = match &pack.dsm {
        Some(d) => (
            d.get_ref().event_id.get_ref().clone(),
            d.get_ref().event_category.get_ref().clone(),
            d.get_ref()
                .defaults
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.get_ref()
                            .iter()
                            .map(|s| s.get_ref().clone())
                            .collect::<Vec<_>>(),
                    )
                })
                .collect::<BTreeMap<_, _>>(),
        ),
        None if crate::custom_dsm::is_custom(pack) => (
            crate::custom_dsm::DEFAULT_EVENT_ID_TEMPLATE.to_string(),
            crate::custom_dsm::DEFAULT_EVENT_CATEGORY_TEMPLATE.to_string(),
            BTreeMap::new(),
        ),
        None => (
            "{event_id}".to_string(),
            "{event_category}".to_string(),
            BTreeMap::new(),
        ),
    };
    let id_parts = template_parts(&id_t);
    let cat_parts = template_parts(&cat_t);
    let used: BTreeSet<String> = id_parts
        .iter()
        .chain(cat_parts.iter())
        .filter_map(|p| p.as_ref().err().cloned())
        .collect();
    if let Some(d) = &pack.dsm {
        for (k, v) in &d.get_ref().defaults {
            if !used.contains(k) {
                // A warning, not an error: switching the templates (say from
                // "{operation}-{result}" to "{operation}") must stay a one-line change.
                cx.warn(
                    "PK046",
                    v.span(),
                    format!("[dsm.defaults] `{k}` is not used by event_id or event_category"),
                )
                .help(format!(
                    "the templates use: {}; remove the default if it is not needed",
                    join_names(&used)
                ));
            } else if v.get_ref().is_empty() {
                cx.error("PK035", v.span(), format!("[dsm.defaults] `{k}` lists no value"))
                    .help("an empty list would give the events that use it no device event at all: list at least one value");
            }
        }
        for (k, paths) in &d.get_ref().fields {
            for path in paths.get_ref() {
                if let Err(e) = KeyPath::parse(path.get_ref()) {
                    cx.error(
                        "PK054",
                        path.span(),
                        format!("[dsm.fields] `{k}`: not a QRadar JSON key path: {e}"),
                    )
                    .help("write a slash before each quoted key, e.g. /\"operationName\"");
                }
            }
        }
        if id_parts.iter().all(|p| p.is_ok()) {
            cx.warn("PK039", d.get_ref().event_id.span(), "event_id has no {placeholder}: every event would get the same device event id")
                .help("use a placeholder such as \"{operation}\" and list its spellings in each event's `match`");
        }
    }

    // Across events, in pack order: names and pinned QIDs declared twice.
    let mut names: FastMap<String, Range<usize>> =
        FastMap::with_capacity_and_hasher(pack.events.len(), Default::default());
    let mut pinned: BTreeMap<i64, (String, Range<usize>)> = BTreeMap::new();
    for ev in &pack.events {
        let e = ev.get_ref();
        let name = e.name.get_ref();
        first_declaration(
            cx,
            &mut names,
            name,
            e.name.span(),
            "PK031",
            "the event name",
            "QRadar identifies a QID by its name: give each event its own",
        );
        let pin = e.qid.as_ref().map(|q| (*q.get_ref(), q.span()));
        if let Some((q, span)) = &pin {
            if *q <= 0 {
                cx.error(
                    "PK040",
                    span.clone(),
                    format!("QID {q} is not a valid QID number"),
                )
                .help("QIDs are positive numbers; user QIDs start at 2000000");
            } else if let Some((other, first)) = pinned.get(q) {
                let first = cx.loc(first.clone());
                let other = other.clone();
                cx.error(
                    "PK040",
                    span.clone(),
                    format!("QID {q} is pinned twice (\"{other}\" and \"{name}\")"),
                )
                .help("each event needs its own QID number; remove one pin to let qrpack allocate")
                .note(format!(
                    "first pinned at {}:{}:{}",
                    first.file, first.line, first.column
                ));
            } else {
                pinned.insert(*q, (name.to_string(), span.clone()));
            }
        }
    }

    // Each event on its own, on all cores for a large pack (findings are sorted before
    // they are shown, so the order they are found in does not matter).
    let one = |cx: &mut Ctx, ev: &toml::Spanned<spec::Event>| -> ResolvedEvent {
        let e = ev.get_ref();
        let name = e.name.get_ref().clone();
        if name.trim().is_empty() {
            cx.error("PK030", e.name.span(), "the event name is empty")
                .help("give the QID a name: it is how QRadar recognises it");
        }
        if name.chars().count() > QNAME_MAX {
            cx.error(
                "PK030",
                e.name.span(),
                format!(
                    "the event name is {} characters; QRadar allows {QNAME_MAX}",
                    name.chars().count()
                ),
            )
            .help("shorten the name; put detail in `description`");
        }
        let mut description = e
            .description
            .as_ref()
            .map(|d| d.get_ref().clone())
            .unwrap_or_default();
        if e.deprecated {
            description = crate::release::deprecated_text(
                e.deprecated_reason.as_ref().map(|r| r.get_ref().as_str()),
                e.replaced_by.as_ref().map(|r| r.get_ref().as_str()),
                &description,
                " ",
            );
        }
        if description.chars().count() > QDESCRIPTION_MAX {
            let span = e
                .description
                .as_ref()
                .or(e.deprecated_reason.as_ref())
                .map(|d| d.span())
                .unwrap_or(e.name.span());
            cx.error(
                "PK032",
                span,
                format!(
                    "the description is {} characters; QRadar allows {QDESCRIPTION_MAX}",
                    description.chars().count()
                ),
            )
            .help(if e.deprecated {
                "shorten the description or the deprecated_reason: both are written into qdescription"
            } else {
                "shorten the description"
            });
        }
        let severity = *e.severity.get_ref();
        if !(0..=10).contains(&severity) {
            cx.error(
                "PK033",
                e.severity.span(),
                format!("severity {severity} is outside 0–10"),
            )
            .help("QRadar severities run from 0 (lowest) to 10 (highest)");
        }
        let credibility = e.credibility.as_ref().map(|c| *c.get_ref()).unwrap_or(0);
        if let Some(c) = &e.credibility
            && !(0..=10).contains(&credibility)
        {
            cx.error(
                "PK033",
                c.span(),
                format!("credibility {credibility} is outside 0–10"),
            )
            .help("QRadar credibilities run from 0 to 10");
        }
        let category = resolve_category(cx, cat, &e.category);
        let pin = e.qid.as_ref().map(|q| (*q.get_ref(), q.span()));
        let matches = e.matches.get_ref();
        for (k, v) in matches {
            if !used.contains(k) {
                cx.error(
                    "PK036",
                    v.span(),
                    format!("`{k}` is not a placeholder of [dsm] event_id or event_category"),
                )
                .help(format!("the templates use: {}", join_names(&used)));
            }
            if v.get_ref().is_empty() {
                cx.error("PK035", v.span(), format!("`match.{k}` lists no value"))
                    .help("list at least one spelling");
            }
        }
        // Each placeholder's values, in the templates' placeholder order (sorted by
        // name), borrowed from the pack.
        let mut values: Vec<(&str, Spellings)> = Vec::with_capacity(used.len());
        for p in &used {
            match matches.get(p) {
                Some(v) => {
                    values.push((
                        p.as_str(),
                        v.get_ref()
                            .iter()
                            .map(|s| (s.get_ref().as_str(), s.span()))
                            .collect(),
                    ));
                }
                None => match defaults.get(p) {
                    Some(v) => {
                        let at = e.matches.span();
                        values.push((
                            p.as_str(),
                            v.iter().map(|s| (s.as_str(), at.clone())).collect(),
                        ));
                    }
                    None => {
                        cx.error("PK035", e.matches.span(), format!("no value for the placeholder `{p}` of the [dsm] templates"))
                            .help(format!("add `{p} = [\"…\"]` to this event's `match`, or a default in [dsm.defaults]"));
                    }
                },
            }
        }
        let mut device_events: Vec<(String, String, Range<usize>)> = Vec::new();
        // The place a spelling is reported at: the value of the event id template's first
        // placeholder that this event lists itself.
        let slot = |name: &str| values.iter().position(|(k, _)| *k == name);
        let id_slots: Vec<Option<usize>> = id_parts
            .iter()
            .map(|p| p.as_ref().err().and_then(|n| slot(n)))
            .collect();
        let cat_slots: Vec<Option<usize>> = cat_parts
            .iter()
            .map(|p| p.as_ref().err().and_then(|n| slot(n)))
            .collect();
        let at_slot: Option<usize> = id_parts
            .iter()
            .filter_map(|p| p.as_ref().err())
            .filter(|p| matches.contains_key(p.as_str()))
            .find_map(|p| slot(p));
        // Every combination of one value per placeholder, the first varying slowest, as
        // an odometer of indexes (none when a list is empty).
        let mut combo = vec![0usize; values.len()];
        let mut more = values.iter().all(|(_, l)| !l.is_empty());
        while more {
            let value = |i: usize| &values[i].1[combo[i]];
            let id = render_template(&id_parts, &id_slots, &value);
            let category = render_template(&cat_parts, &cat_slots, &value);
            let at = at_slot
                .map(|i| value(i).1.clone())
                .unwrap_or_else(|| e.matches.span());
            // Next combination.
            more = false;
            for i in (0..combo.len()).rev() {
                combo[i] += 1;
                if combo[i] < values[i].1.len() {
                    more = true;
                    break;
                }
                combo[i] = 0;
            }
            if id.is_empty() {
                cx.error("PK035", at, "a device event id renders empty")
                    .help("give every placeholder a non-empty value");
                continue;
            }
            // A handful of spellings per event: a linear look is cheaper than a set.
            if device_events
                .iter()
                .any(|(i, c, _)| *i == id && *c == category)
            {
                cx.error(
                    "PK037",
                    at,
                    format!("the spelling \"{id}\" is listed twice in this event"),
                )
                .help("remove the repeated spelling");
                continue;
            }
            device_events.push((id, category, at));
        }
        if e.deprecated {
            // A deprecated event keeps its QID map entry but maps no device event: its
            // spellings are free for the event that replaces it (docs/releases.md).
            device_events.clear();
        }
        let labels = e
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.get_ref().clone()))
            .collect();
        ResolvedEvent {
            name,
            span: e.name.span(),
            description,
            severity,
            category,
            credibility,
            pinned: pin,
            labels,
            device_events,
        }
    };
    // Through `par_map` in chunks, each with its own findings (1,024 events a thread at
    // least, as for the rows): the same results in pack order on any number of threads.
    let chunks: Vec<&[toml::Spanned<spec::Event>]> = pack.events.chunks(1024).collect();
    let (file, text) = (cx.file.clone(), cx.text);
    let parts = par_map(&chunks, 1, |chunk| {
        let mut part = Ctx::new(&file, text);
        let events: Vec<ResolvedEvent> = chunk.iter().map(|ev| one(&mut part, ev)).collect();
        (events, part.diags)
    });
    let mut out = Vec::with_capacity(pack.events.len());
    for (events, mut diags) in parts {
        out.extend(events);
        cx.diags.append(&mut diags);
    }
    out
}

fn join_names(s: &BTreeSet<String>) -> String {
    if s.is_empty() {
        "none".into()
    } else {
        s.iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A template with its placeholders' values; a placeholder with no values renders empty
/// (PK035 is reported for it).
fn render_template<'v, 'p: 'v>(
    parts: &[Result<String, String>],
    slots: &[Option<usize>],
    value: &impl Fn(usize) -> &'v (&'p str, Range<usize>),
) -> String {
    let mut out = String::new();
    for (p, slot) in parts.iter().zip(slots) {
        match (p, slot) {
            (Ok(lit), _) => out.push_str(lit),
            (Err(_), Some(i)) => out.push_str(value(*i).0),
            (Err(_), None) => {}
        }
    }
    out
}

fn resolve_category(cx: &mut Ctx, cat: &Catalogue, c: &toml::Spanned<CategoryRef>) -> i64 {
    match c.get_ref() {
        CategoryRef::Id(id) => {
            if *id <= 0 || *id > u32::MAX as i64 || cat.category(*id as u32).is_none() {
                cx.error("PK034", c.span(), format!("low-level category {id} is not in the catalogue"))
                    .help("use an id from docs/catalogue.md, or refresh the catalogue from your QRadar with --categories");
            }
            *id
        }
        CategoryRef::Name(name) => match cat.category_by_name(name) {
            Some(found) => found.id as i64,
            None => {
                let sugg: Vec<String> = cat
                    .suggest(name, 3)
                    .iter()
                    .map(|c| format!("\"{}\" ({})", c.name, c.id))
                    .collect();
                let d = cx.error(
                    "PK034",
                    c.span(),
                    format!("no low-level category is named \"{name}\""),
                );
                if sugg.is_empty() {
                    d.help("write the exact catalogue name or the id (docs/catalogue.md)");
                } else {
                    d.help(format!("did you mean {}?", sugg.join(" or ")));
                }
                0
            }
        },
    }
}

/// Give every QID name a number: pinned, else locked, else the lowest free number of the
/// range. Returns the numbers and the lock to write.
fn allocate_qids(
    cx: &mut Ctx,
    pack: &PackFile,
    hub_id: &str,
    names: &[QidName],
    lock: &Lock,
    lock_name: &str,
) -> (FastMap<String, i64>, Lock) {
    let (first, last, range_span) = match &pack.qids {
        Some(r) => (
            *r.get_ref().first.get_ref(),
            *r.get_ref().last.get_ref(),
            r.span(),
        ),
        None => (DEFAULT_QID_FIRST, DEFAULT_QID_LAST, 0..0),
    };
    if first <= 0 || last < first {
        cx.error(
            "PK043",
            range_span,
            format!("the QID range {first}–{last} is empty or invalid"),
        )
        .help("set [qids] first and last with 0 < first <= last");
        return (FastMap::default(), lock.clone());
    }
    let empty = BTreeMap::new();
    let mine = lock.packs.get(hub_id).unwrap_or(&empty);
    let taken_by_lock = lock.all_numbers();
    let mut used: BTreeSet<i64> = taken_by_lock.keys().copied().collect();
    let mut out: FastMap<String, i64> =
        FastMap::with_capacity_and_hasher(names.len(), Default::default());
    // Pins first, so that allocation never hands a pinned number to another name.
    for (name, _, pin) in names {
        if let Some((q, span)) = pin {
            if let Some(l) = mine.get(name)
                && l.qid != *q
            {
                cx.error(
                    "PK041",
                    span.clone(),
                    format!("\"{name}\" pins QID {q}, but {lock_name} records {} for it", l.qid),
                )
                .help(format!(
                    "a released QID must keep its number: pin {} (or remove the pin). To renumber on purpose, delete the line from {lock_name}",
                    l.qid
                ));
                continue;
            }
            if let Some((owner_hub, owner_name)) = taken_by_lock.get(q)
                && !(*owner_hub == hub_id && owner_name == name)
            {
                cx.error(
                    "PK042",
                    span.clone(),
                    format!("QID {q} is recorded in {lock_name} for \"{owner_name}\" (pack {owner_hub})"),
                )
                .help("pick another number or remove the pin; a number recorded in the lock is never given to another name");
                continue;
            }
            used.insert(*q);
            out.insert(name.clone(), *q);
        }
    }
    let mut next = first;
    for (name, span, pin) in names {
        if pin.is_some() {
            continue;
        }
        if let Some(l) = mine.get(name) {
            out.insert(name.clone(), l.qid);
            continue;
        }
        while used.contains(&next) && next <= last {
            next += 1;
        }
        if next > last {
            cx.error(
                "PK043",
                span.clone(),
                format!("no free QID left in {first}–{last} for \"{name}\""),
            )
            .help("widen [qids] first/last, or pin a number with `qid = …`");
            continue;
        }
        used.insert(next);
        out.insert(name.clone(), next);
    }
    let mut new_lock = lock.clone();
    let entry = new_lock.packs.entry(hub_id.to_string()).or_default();
    for (name, q) in &out {
        entry
            .entry(name.clone())
            .and_modify(|l| l.qid = *q)
            .or_insert(Locked {
                qid: *q,
                span: 0..0,
            });
    }
    (out, new_lock)
}

fn first_lock_change(
    new: &Lock,
    old: &Lock,
    hub: &str,
    names: &[QidName],
) -> (String, Range<usize>) {
    let empty = BTreeMap::new();
    let (n, o) = (
        new.packs.get(hub).unwrap_or(&empty),
        old.packs.get(hub).unwrap_or(&empty),
    );
    for (name, span, _) in names {
        match (n.get(name), o.get(name)) {
            (Some(a), None) => {
                return (format!("\"{name}\" would get QID {}", a.qid), span.clone());
            }
            (Some(a), Some(b)) if a.qid != b.qid => {
                return (
                    format!("\"{name}\" would move from {} to {}", b.qid, a.qid),
                    span.clone(),
                );
            }
            _ => {}
        }
    }
    ("a pack entry would be added".into(), 0..0)
}

#[allow(clippy::too_many_arguments)]
fn resolve_properties(
    cx: &mut Ctx,
    pack: &PackFile,
    ext: &mut Extension,
    ns: &Uuid,
    event_qids: &FastMap<&str, i64>,
    type_id: i64,
    owner: &str,
    date_ms: i64,
) {
    let mut names: FastMap<String, Range<usize>> = FastMap::default();
    let mut seq = 1;
    let mut expression_ids: std::collections::HashSet<String> = std::collections::HashSet::new();
    for p in &pack.properties {
        let p = p.get_ref();
        let name = p.name.get_ref().clone();
        if name.trim().is_empty() {
            cx.error("PK050", p.name.span(), "the property name is empty")
                .help("name the property, e.g. \"TargetObjectName\"");
        }
        first_declaration(
            cx,
            &mut names,
            &name,
            p.name.span(),
            "PK050",
            "the property",
            "declare a property once and list several expressions under it",
        );
        let property_type = match p.kind {
            PropertyType::String => "string",
            PropertyType::Number => "numeric",
            PropertyType::Ip => "ip",
            PropertyType::Port => "port",
            PropertyType::Time => "time",
        };
        if p.kind == PropertyType::Time && p.date_pattern.is_none() {
            cx.error(
                "PK057",
                p.name.span(),
                format!("the time property \"{name}\" has no `date_pattern`"),
            )
            .help("add a Java date pattern, e.g. date_pattern = \"yyyy-MM-dd'T'HH:mm:ss.SSSX\"");
        }
        let id = uuid_v5(ns, format!("property:{name}").as_bytes()).to_string();
        ext.properties.push(CustomProperty {
            id: id.clone(),
            name: name.clone(),
            property_type,
            description: if p.deprecated {
                crate::release::deprecated_text(
                    p.deprecated_reason.as_ref().map(|r| r.get_ref().as_str()),
                    p.replaced_by.as_ref().map(|r| r.get_ref().as_str()),
                    p.description.as_deref().unwrap_or(""),
                    " ",
                )
            } else {
                p.description.clone().unwrap_or_default()
            },
            date_pattern: p.date_pattern.as_ref().map(|d| d.get_ref().clone()),
            language_tag: p.date_locale.as_ref().map(|d| d.get_ref().clone()),
            force_parse: p.force_parse,
            sequence_id: ext.properties.len() as i64 + 1,
            username: owner.to_string(),
            date_ms,
        });
        if p.expressions.get_ref().is_empty() {
            cx.error(
                "PK051",
                p.expressions.span(),
                format!("the property \"{name}\" has no expression"),
            )
            .help("add a [[property.expression]] with `json` or `regex`");
        }
        for (rank, ex) in p.expressions.get_ref().iter().enumerate() {
            let span = ex.span();
            let ex = ex.get_ref();
            let extraction = match (&ex.json, &ex.regex) {
                (Some(j), None) => {
                    if ex.capture_group.is_some() {
                        cx.error(
                            "PK051",
                            span.clone(),
                            "`capture_group` goes with `regex`, not `json`",
                        )
                        .help("remove capture_group");
                    }
                    match KeyPath::parse(j.get_ref()) {
                        Ok(path) => {
                            if let Some(sample) = &ex.sample {
                                check_sample_json(cx, sample, &path, j.get_ref());
                            }
                        }
                        Err(e) => {
                            cx.error("PK054", j.span(), format!("not a QRadar JSON key path: {e}"))
                                .help("write a slash before each quoted key, e.g. /\"properties\"/\"result\"; index arrays with [0]");
                        }
                    }
                    Extraction::Json(j.get_ref().clone())
                }
                (None, Some(r)) => {
                    let group = ex.capture_group.as_ref().map(|g| *g.get_ref()).unwrap_or(1);
                    if let Some(construct) = crate::validate::content::java_only(r.get_ref()) {
                        cx.warn("PK058", r.span(), format!("the regex uses {construct}, Java syntax qrpack cannot check"))
                            .help("QRadar reads Java regexes; check this one in the DSM Editor with a sample event");
                    } else {
                        match regex::Regex::new(r.get_ref()) {
                            Ok(re) => {
                                let groups = re.captures_len() as i64 - 1;
                                if group < 0 || group > groups {
                                    let gspan = ex
                                        .capture_group
                                        .as_ref()
                                        .map(|g| g.span())
                                        .unwrap_or(r.span());
                                    cx.error("PK053", gspan, format!("capture group {group} does not exist: the regex has {groups}"))
                                    .help("put the value in parentheses in the regex and give its number");
                                } else if let Some(sample) = &ex.sample
                                    && re
                                        .captures(sample.get_ref())
                                        .and_then(|c| c.get(group as usize))
                                        .is_none()
                                {
                                    cx.error("PK056", sample.span(), "the regex extracts nothing from its sample")
                                    .help("fix the regex or the sample: QRadar would leave the property empty on such events");
                                }
                            }
                            Err(e) => {
                                cx.error("PK052", r.span(), format!("the regex does not compile: {}", first_line(&e.to_string())))
                                .help("fix the pattern (qrpack reads Rust regex syntax, close to Java's for common patterns)");
                            }
                        }
                    }
                    Extraction::Regex {
                        regex: r.get_ref().clone(),
                        capture_group: group,
                    }
                }
                _ => {
                    cx.error(
                        "PK051",
                        span.clone(),
                        "an expression needs exactly one of `json` or `regex`",
                    )
                    .help("write json = '/\"key\"' or regex = '…' with capture_group");
                    continue;
                }
            };
            let payload = ex
                .sample
                .as_ref()
                .map(|s| base64::engine::general_purpose::STANDARD.encode(s.get_ref().as_bytes()));
            let targets: Vec<(String, i64)> = if ex.events.is_empty() {
                vec![("*".to_string(), -1)]
            } else {
                let mut t = Vec::new();
                for en in &ex.events {
                    match event_qids.get(en.get_ref().as_str()) {
                        Some(q) => t.push((en.get_ref().clone(), *q)),
                        None => {
                            cx.error(
                                "PK055",
                                en.span(),
                                format!("no event is named \"{}\" in this pack", en.get_ref()),
                            )
                            .help("use the exact `name` of one of the pack's [[event]]s");
                        }
                    }
                }
                t
            };
            let targets_len = targets.len();
            for (event_index, (event, qid)) in (1..).zip(targets) {
                let expression_id = match &ex.id {
                    Some(pinned) if targets_len == 1 => pinned.get_ref().clone(),
                    Some(pinned) => format!("{}-{}", pinned.get_ref(), event_index),
                    // Identity = property, extraction and event: reordering or inserting
                    // expressions keeps every id; changing an expression makes a new one
                    // (pin `id` to keep it).
                    None => uuid_v5(
                        ns,
                        format!("expression:{name}:{}:{event}", extraction_key(&extraction))
                            .as_bytes(),
                    )
                    .to_string(),
                };
                if !expression_ids.insert(expression_id.clone()) {
                    cx.error(
                        "PK047",
                        span.clone(),
                        format!(
                            "this expression of \"{name}\" is declared twice (id {expression_id})"
                        ),
                    )
                    .help("remove the repeated expression, or give it its own `id`");
                    continue;
                }
                ext.expressions.push(PropertyExpression {
                    id: expression_id,
                    property_id: id.clone(),
                    extraction: extraction.clone(),
                    device_type_id: type_id,
                    qid,
                    payload: payload.clone(),
                    enabled: ex.enabled,
                    rank: rank as i64 + 1,
                    sequence_id: seq,
                    username: owner.to_string(),
                    date_ms,
                });
                seq += 1;
            }
        }
    }
}

fn extraction_key(e: &Extraction) -> String {
    match e {
        Extraction::Json(j) => format!("json:{j}"),
        Extraction::Regex {
            regex,
            capture_group,
        } => format!("regex:{capture_group}:{regex}"),
    }
}

fn first_line(s: &str) -> String {
    s.lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or(s)
        .trim()
        .to_string()
}

fn check_sample_json(cx: &mut Ctx, sample: &toml::Spanned<String>, path: &KeyPath, text: &str) {
    match serde_json::from_str::<serde_json::Value>(sample.get_ref()) {
        Ok(v) => {
            if path.extract(&v).is_none() {
                cx.error("PK056", sample.span(), format!("{text} extracts nothing from its sample"))
                    .help("fix the key path or the sample: QRadar would leave the property empty on such events");
            }
        }
        Err(e) => {
            cx.error(
                "PK056",
                sample.span(),
                format!("the sample of a JSON expression is not JSON: {e}"),
            )
            .help("paste one whole record as QRadar receives it");
        }
    }
}

/// Values AQL may name through `{{…}}` placeholders.
struct Placeholders<'a> {
    events: &'a [ResolvedEvent],
    qids: &'a FastMap<String, i64>,
    type_id: i64,
    /// The pack's property names (for AQL lints).
    property_names: Vec<String>,
    /// The pack's event names, and each one's index in `events`.
    event_names: Vec<String>,
    event_index: FastMap<&'a str, usize>,
    /// (label, value) → indexes in `events`, in pack order: `{{qids:k=v}}` without a scan
    /// of every event per placeholder.
    label_index: FastMap<(&'a str, &'a str), Vec<usize>>,
}

fn push_lint(cx: &mut Ctx, l: crate::simulate::lint::Lint, span: Range<usize>) {
    let sev = if l.warning {
        Severity::Warning
    } else {
        Severity::Info
    };
    let d = Diagnostic::new(l.code, sev, l.message)
        .at(cx.loc(span))
        .help(l.help);
    cx.diags.push(d);
}

impl Placeholders<'_> {
    fn event(&self, name: &str) -> Option<&ResolvedEvent> {
        self.event_index.get(name).map(|&i| &self.events[i])
    }

    /// Render `{{qids}}`, `{{qids:label=value}}`, `{{qid:Event name}}`,
    /// `{{log_source_type}}`. Errors carry the byte range in `aql`.
    fn render(&self, aql: &str) -> Result<String, (Range<usize>, String, String)> {
        let mut out = String::with_capacity(aql.len());
        let mut rest = aql;
        let mut base = 0;
        while let Some(open) = rest.find("{{") {
            out.push_str(&rest[..open]);
            let Some(close) = rest[open..].find("}}") else {
                return Err((
                    base + open..base + rest.len(),
                    "unclosed `{{`".into(),
                    "close the placeholder with `}}`".into(),
                ));
            };
            let inner = rest[open + 2..open + close].trim();
            let span = base + open..base + open + close + 2;
            let value = self.one(inner).map_err(|(m, h)| (span.clone(), m, h))?;
            out.push_str(&value);
            base += open + close + 2;
            rest = &rest[open + close + 2..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// The QIDs of `events`, joined; an error when one has none (an earlier QID error).
    fn list<'e>(
        &self,
        events: impl Iterator<Item = &'e ResolvedEvent>,
    ) -> Result<String, (String, String)> {
        use std::fmt::Write as _;
        let mut out = String::new();
        for e in events {
            match self.qids.get(&e.name) {
                Some(q) => {
                    if !out.is_empty() {
                        out.push_str(", ");
                    }
                    let _ = write!(out, "{q}");
                }
                None => {
                    return Err((
                        format!("\"{}\" has no QID because of an error above", e.name),
                        "fix the QID error first".into(),
                    ));
                }
            }
        }
        Ok(out)
    }

    fn one(&self, inner: &str) -> Result<String, (String, String)> {
        if inner == "log_source_type" {
            return Ok(self.type_id.to_string());
        }
        if inner == "qids" {
            if self.events.is_empty() {
                return Err((
                    "{{qids}} names no QID: the pack has no event".into(),
                    "add [[event]]s, or remove the placeholder".into(),
                ));
            }
            return self.list(self.events.iter());
        }
        if let Some(sel) = inner.strip_prefix("qids:") {
            let Some((k, v)) = sel.split_once('=') else {
                return Err((
                    format!("`{{{{{inner}}}}}` needs label=value"),
                    "write {{qids:risk=MFA_Bypass_Risk}}".into(),
                ));
            };
            let (k, v) = (k.trim(), v.trim());
            let chosen: Vec<&ResolvedEvent> = self
                .label_index
                .get(&(k, v))
                .map(|ix| ix.iter().map(|&i| &self.events[i]).collect())
                .unwrap_or_default();
            if chosen.is_empty() {
                return Err((
                    format!("no event has the label {k} = \"{v}\""),
                    "add the label to an event's [event.labels], or fix the selector".into(),
                ));
            }
            return self.list(chosen.into_iter());
        }
        if let Some(name) = inner.strip_prefix("qid:") {
            let name = name.trim();
            return match self.event(name) {
                Some(e) => self.list(std::iter::once(e)),
                None => Err((
                    format!("no event is named \"{name}\" in this pack"),
                    "use the exact `name` of one of the pack's [[event]]s".into(),
                )),
            };
        }
        Err((
            format!("unknown placeholder `{{{{{inner}}}}}`"),
            "placeholders are {{qids}}, {{qids:label=value}}, {{qid:Event name}} and {{log_source_type}}".into(),
        ))
    }
}

struct RuleCtx<'a> {
    ns: &'a Uuid,
    placeholders: &'a Placeholders<'a>,
    qids: &'a FastMap<String, i64>,
    owner: &'a str,
    stamp: Stamp,
    type_id: i64,
    type_name: &'a str,
    catalogue: &'a Catalogue,
    skeletons: &'a Skeletons,
}

fn resolve_rules(
    cx: &mut Ctx,
    pack: &PackFile,
    ext: &mut Extension,
    defs: &mut Vec<RuleDef>,
    rc: RuleCtx,
) {
    let date = rc.stamp.iso();
    let mut names: FastMap<String, Range<usize>> = FastMap::default();
    // The names rules dispatch that got a QID map entry here.
    let mut dispatched: std::collections::HashSet<String, foldhash::fast::FixedState> =
        Default::default();
    let mut groups: BTreeMap<String, i64> = BTreeMap::new();
    // (index in `defs`, uuid, the rule's span) of this call's rules.
    let mut pending: Vec<(usize, Uuid, Range<usize>)> = Vec::new();
    let first_def = defs.len();
    for (i, r) in pack.rules.iter().enumerate() {
        let rspan = r.span();
        let r = r.get_ref();
        let name = r.name.get_ref().clone();
        if name.trim().is_empty() {
            cx.error("PK060", r.name.span(), "the rule name is empty")
                .help("name the rule");
        }
        first_declaration(
            cx,
            &mut names,
            &name,
            r.name.span(),
            "PK060",
            "the rule",
            "rule names must be unique: QRadar shows rules by name",
        );
        let mut tests = Vec::new();
        if r.log_source_type {
            tests.push(RuleTest::LogSourceTypes(vec![(
                rc.type_id,
                rc.type_name.to_string(),
            )]));
        }
        if !r.events.is_empty() {
            let mut qs = Vec::new();
            for en in &r.events {
                match rc.placeholders.event(en.get_ref()) {
                    Some(e) => {
                        qs.push((rc.qids.get(&e.name).copied().unwrap_or(0), e.name.clone()))
                    }
                    None => {
                        cx.error(
                            "PK055",
                            en.span(),
                            format!("no event is named \"{}\" in this pack", en.get_ref()),
                        )
                        .help("use the exact `name` of one of the pack's [[event]]s");
                    }
                }
            }
            tests.push(RuleTest::Qids(qs));
        }
        if let Some(aql) = &r.aql {
            match rc.placeholders.render(aql.get_ref()) {
                Ok(f) if f.trim().is_empty() => {
                    cx.error("PK061", aql.span(), "the AQL filter is empty")
                        .help("remove `aql` or write a WHERE condition");
                }
                Ok(f) => {
                    for l in crate::simulate::lint::lint(
                        &f,
                        false,
                        &rc.placeholders.property_names,
                        &rc.placeholders.event_names,
                    ) {
                        push_lint(cx, l, aql.span());
                    }
                    tests.push(RuleTest::Aql(f))
                }
                Err((_, m, h)) => {
                    cx.error("PK061", aql.span(), m).help(h);
                }
            }
        }
        if tests.is_empty() {
            cx.error(
                "PK062",
                rspan.clone(),
                format!("the rule \"{name}\" tests nothing"),
            )
            .help("give it `events`, an `aql` filter, or keep `log_source_type = true`");
        }
        let id = i as i64 + 1;
        let response = r.response.as_ref().map(|resp| {
            let rs = resp.get_ref();
            for (what, v) in [
                ("severity", &rs.severity),
                ("credibility", &rs.credibility),
                ("relevance", &rs.relevance),
            ] {
                if !(0..=10).contains(v.get_ref()) {
                    cx.error(
                        "PK063",
                        v.span(),
                        format!("{what} {} is outside 0–10", v.get_ref()),
                    )
                    .help("QRadar scores run from 0 to 10");
                }
            }
            let ev_name = rs
                .event_name
                .as_ref()
                .map(|n| n.get_ref().clone())
                .unwrap_or_else(|| name.clone());
            let category = match &rs.category {
                Some(c) => resolve_category(cx, rc.catalogue, c),
                None => SINGLE_EVENT_RULE_MATCH,
            };
            let qid = rc.qids.get(&ev_name).copied().unwrap_or(0);
            let description = rs.description.clone().unwrap_or_default();
            // A name that is not one of the pack's events', nor dispatched by an earlier
            // rule, gets a QID map entry; its id follows the events' (`ext` holds only
            // what this function adds).
            if !rc.placeholders.event_index.contains_key(ev_name.as_str())
                && dispatched.insert(ev_name.clone())
            {
                let qm_id = (rc.placeholders.events.len() + ext.qidmaps.len()) as i64 + 1;
                ext.qidmaps.push(QidMap {
                    id: qm_id,
                    qid,
                    name: ev_name.clone(),
                    description: description.clone(),
                    severity: *rs.severity.get_ref(),
                    low_level_category: category,
                    uuid: uuid_v5(rc.ns, format!("qidmap:{ev_name}").as_bytes()),
                });
            }
            RuleResponse {
                offense: rs.offense,
                severity: *rs.severity.get_ref(),
                credibility: *rs.credibility.get_ref(),
                relevance: *rs.relevance.get_ref(),
                qid,
                low_level_category: category,
                name: ev_name,
                description,
            }
        });
        let notes = r.notes.clone().unwrap_or_default();
        let def = RuleDef {
            id,
            name: name.clone(),
            // A deprecated rule is written disabled, its notes saying why
            // (docs/releases.md).
            notes: if r.deprecated {
                crate::release::deprecated_text(
                    r.deprecated_reason.as_ref().map(|x| x.get_ref().as_str()),
                    r.replaced_by.as_ref().map(|x| x.get_ref().as_str()),
                    &notes,
                    "\n\n",
                )
            } else {
                notes
            },
            enabled: r.enabled && !r.deprecated,
            building_block: r.building_block,
            owner: rc.owner.to_string(),
            tests,
            response,
        };
        // The `<rule>` document is written below, for all rules at once.
        pending.push((
            defs.len(),
            crate::release::rule_uuid(rc.ns, r),
            rspan.clone(),
        ));
        defs.push(def);
        if let Some(g) = &r.group {
            let gname = g.get_ref().clone();
            let gid = match groups.get(&gname) {
                Some(gid) => *gid,
                None => {
                    let gid = ext.groups.len() as i64 + 1;
                    groups.insert(gname.clone(), gid);
                    ext.groups.push(Group {
                        id: gid,
                        name: gname.clone(),
                        description: String::new(),
                        user_name: rc.owner.to_string(),
                        date: date.clone(),
                    });
                    gid
                }
            };
            ext.group_links.push(GroupLink {
                id: ext.group_links.len() as i64 + 1,
                group_id: gid,
                item_id: id,
                user_name: rc.owner.to_string(),
            });
        }
    }
    // Each rule's document and its base64 depend on that rule alone: write them on all
    // cores (the results, in rule order, do not depend on how many there are).
    let written = par_map(&defs[first_def..], 128, |def| {
        write_rule(def, rc.skeletons)
            .map(|xml| base64::engine::general_purpose::STANDARD.encode(xml))
    });
    for ((i, uuid, rspan), written) in pending.into_iter().zip(written) {
        match written {
            Ok(rule_data) => ext.rules.push(CustomRule {
                id: defs[i].id,
                uuid,
                rule_data,
                date: date.clone(),
            }),
            Err(e) => {
                cx.error("PK064", rspan, e.to_string())
                    .help("fix or replace the rule test skeleton");
            }
        }
    }
}

/// `f` of each item, in order, on up to the machine's number of cores when there are at
/// least `min_per_thread` items per thread; the results do not depend on the number of
/// threads. A panic in `f` is passed on as it would be on one thread.
fn par_map<T: Sync, R: Send>(
    items: &[T],
    min_per_thread: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = cores.min(items.len() / min_per_thread.max(1)).max(1);
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let mut chunks = items.chunks(chunk);
        let first = chunks.next().unwrap_or(&[]);
        let others: Vec<_> = chunks
            .map(|c| scope.spawn(move || c.iter().map(f).collect::<Vec<R>>()))
            .collect();
        let mut out: Vec<R> = first.iter().map(f).collect();
        for h in others {
            match h.join() {
                Ok(part) => out.extend(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

fn resolve_searches(
    cx: &mut Ctx,
    pack: &PackFile,
    ext: &mut Extension,
    pack_path: &Path,
    ph: &Placeholders,
    ns: &Uuid,
    owner: &str,
) -> Vec<SearchFile> {
    let mut out = Vec::new();
    let mut names: FastMap<String, Range<usize>> = FastMap::default();
    let mut files: BTreeSet<String> = BTreeSet::new();
    for s in &pack.searches {
        let sspan = s.span();
        let s = s.get_ref();
        let name = s.name.get_ref().clone();
        if !first_declaration(
            cx,
            &mut names,
            &name,
            s.name.span(),
            "PK072",
            "the search",
            "give each saved search its own name",
        ) {
            continue;
        }
        let file = format!("searches/{}.aql", slug_file_name(&name));
        if !files.insert(file.clone()) {
            cx.error(
                "PK072",
                s.name.span(),
                format!("the search file name {file} is taken by another search"),
            )
            .help("rename the search: names that differ only in punctuation share a file name");
            continue;
        }
        let (raw, src): (String, Option<(String, Range<usize>)>) = match (&s.aql, &s.aql_file) {
            (Some(a), None) => (a.get_ref().clone(), None),
            (None, Some(f)) => {
                let path: PathBuf = pack_path
                    .parent()
                    .unwrap_or(Path::new("."))
                    .join(f.get_ref());
                match std::fs::read_to_string(&path) {
                    Ok(t) => {
                        let shown = path.display().to_string();
                        cx.extra_sources.push((shown.clone(), t.clone()));
                        (t, Some((shown, f.span())))
                    }
                    Err(e) => {
                        cx.error(
                            "PK071",
                            f.span(),
                            format!("cannot read {}: {e}", path.display()),
                        )
                        .help("aql_file is relative to the pack file; check the path");
                        continue;
                    }
                }
            }
            _ => {
                cx.error(
                    "PK070",
                    sspan.clone(),
                    format!("the search \"{name}\" needs exactly one of `aql` or `aql_file`"),
                )
                .help("write the query inline (aql = '''…''') or point aql_file at a .aql file");
                continue;
            }
        };
        let aql = match ph.render(&raw) {
            Ok(a) => a,
            Err((range, m, h)) => {
                match &src {
                    Some((shown, _)) => {
                        let loc = Location::in_text(shown, &raw, range);
                        cx.diags.push(Diagnostic::error("PK061", m).at(loc).help(h));
                    }
                    None => {
                        let span = s.aql.as_ref().map(|a| a.span()).unwrap_or(sspan.clone());
                        cx.error("PK061", span, m).help(h);
                    }
                }
                continue;
            }
        };
        if aql.trim().is_empty() {
            cx.error(
                "PK070",
                sspan.clone(),
                format!("the search \"{name}\" is empty"),
            )
            .help("write the query");
            continue;
        }
        for l in crate::simulate::lint::lint(&aql, true, &ph.property_names, &ph.event_names) {
            match &src {
                Some((shown, _)) => {
                    let loc = Location::in_text(shown, &raw, 0..0);
                    cx.diags.push(
                        Diagnostic::new(
                            l.code,
                            if l.warning {
                                Severity::Warning
                            } else {
                                Severity::Info
                            },
                            l.message,
                        )
                        .at(loc)
                        .help(l.help),
                    );
                }
                None => push_lint(
                    cx,
                    l,
                    s.aql.as_ref().map(|a| a.span()).unwrap_or(sspan.clone()),
                ),
            }
        }
        if s.embed {
            ext.searches.push(SavedSearch {
                id: ext.searches.len() as i64 + 1,
                name: name.clone(),
                description: s.description.clone().unwrap_or_default(),
                aql: aql.clone(),
                username: owner.to_string(),
                uuid: uuid_v5(ns, format!("search:{name}").as_bytes()),
            });
            cx.diags.push(
                Diagnostic::new("PK073", Severity::Info, format!("the search \"{name}\" is embedded as an unverified `customviewparams` row"))
                    .at(cx.loc(s.name.span()))
                    .note("no public QRadar export shows how saved searches are stored: see docs/saved-searches.md"),
            );
        }
        let mut text = aql;
        if !text.ends_with('\n') {
            text.push('\n');
        }
        out.push(SearchFile {
            name,
            file,
            aql: text,
        });
    }
    out
}

/// `[[dsm.fallback]]`: one fallback per device event category (PK150), and the pair it
/// looks up must be mapped by one of the pack's events (PK151); otherwise an unmapped
/// event would fall back to nothing, which is what no fallback already does.
fn check_fallbacks(
    cx: &mut Ctx,
    pack: &PackFile,
    triples: &FastMap<(&str, &str), (&str, Range<usize>)>,
) {
    let Some(dsm) = &pack.dsm else {
        return;
    };
    let mut seen: HashMap<&str, Range<usize>> = HashMap::new();
    for f in &dsm.get_ref().fallback {
        let f = f.get_ref();
        let (cat, id) = (f.category.get_ref().as_str(), f.event_id.get_ref().as_str());
        if let Some(first) = seen.get(cat) {
            let first = cx.loc(first.clone());
            cx.error(
                "PK150",
                f.category.span(),
                format!("device event category \"{cat}\" has a second [[dsm.fallback]]"),
            )
            .help("keep one fallback per category: the DSM looks up one pair when none matches")
            .note(format!(
                "the first is at {}:{}:{}",
                first.file, first.line, first.column
            ));
            continue;
        }
        seen.insert(cat, f.category.span());
        match triples.get(&(id, cat)) {
            Some(_) => {}
            None => {
                cx.error(
                    "PK151",
                    f.event_id.span(),
                    format!(
                        "the fallback looks up \"{id}\" / \"{cat}\", which no event of the pack maps"
                    ),
                )
                .help(format!(
                    "give the event that unmatched \"{cat}\" events should get a spelling whose device event id is \"{id}\" (in its `match`), or correct `event_id` to a device event id the pack maps in that category"
                ))
                .note("device event ids are compared exactly, after the [dsm] templates are filled in; a deprecated event maps none");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_v5_is_the_uuid_crates_v5() {
        let ns = Uuid::new_v5(&Uuid::NAMESPACE_URL, b"urn:qrpack:qrpack:test");
        for name in [
            "".to_string(),
            "qidmap:Update application – x".to_string(),
            "dsmevent:445:Add member to role-success:RoleManagement".to_string(),
            "x".repeat(55),
            "y".repeat(64),
            "z".repeat(1000),
        ] {
            assert_eq!(
                uuid_v5(&ns, name.as_bytes()),
                Uuid::new_v5(&ns, name.as_bytes())
            );
        }
        assert_eq!(
            uuid_v5(&Uuid::NAMESPACE_DNS, b"example.org").to_string(),
            "aad03681-8b63-5304-89e0-8ca8f49461b5"
        );
    }

    /// The one-pass `normalize_spelling` against the map / lowercase / split_whitespace
    /// chain it replaced, on every character of the first three planes.
    #[test]
    fn normalize_spelling_matches_the_chain_it_replaced() {
        fn chain(s: &str) -> String {
            let mapped: String = s
                .chars()
                .map(|c| match c {
                    '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{fe58}' | '\u{fe63}' | '\u{ff0d}' => {
                        '-'
                    }
                    c => c,
                })
                .flat_map(char::to_lowercase)
                .collect();
            mapped.split_whitespace().collect::<String>()
        }
        let mut buf = String::new();
        for c in (0..0x3_0000u32).filter_map(char::from_u32) {
            buf.clear();
            // Non-ASCII around it, so that the Unicode path runs.
            buf.push_str("É ");
            buf.push(c);
            buf.push_str("\u{2013}X");
            assert_eq!(normalize_spelling(&buf), chain(&buf), "U+{:04X}", c as u32);
        }
        for s in [
            "Add member \u{2013} role ",
            "ÄÖ\u{3000}x\u{a0}Y",
            "İstanbul\u{2028}Σ",
            "",
            " ",
            "\u{2013}",
            "Plain ASCII-success ",
            "Tab\tNewline\nVT\u{b}FF\u{c}CR\r end",
            "x\u{b}\u{2014}\u{b}Y",
        ] {
            assert_eq!(normalize_spelling(s), chain(s), "{s:?}");
        }
        // Every ASCII character alone, and around non-ASCII (the two paths of runs).
        for b in 0u8..0x80 {
            for s in [
                format!("A{}b", b as char),
                format!("\u{e9}{}\u{2013}{}Z", b as char, b as char),
            ] {
                assert_eq!(normalize_spelling(&s), chain(&s), "{s:?}");
            }
        }
    }

    #[test]
    fn par_map_keeps_order_whatever_the_threads() {
        let items: Vec<u32> = (0..1000).collect();
        for min in [1, 7, 128, 2000] {
            let out = par_map(&items, min, |i| i * 2);
            assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        }
        assert!(par_map(&[] as &[u32], 1, |i| *i).is_empty());
    }
}
