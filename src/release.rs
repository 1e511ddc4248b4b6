//! Releases: the deprecation path in a pack, and the check that a new release keeps what
//! customers' consoles point at (`qrpack release`, docs/releases.md).
//!
//! QRadar recognises an installed QID by its name, a rule by its uuid and a custom
//! property by its name (format doc §3.2): renaming or renumbering one between releases
//! installs a second item beside the first, and removing one leaves customers with an
//! orphan the extension no longer updates. The release check compares the pack with
//! the previous release archive and refuses such changes unless the item went through
//! the deprecation path first: marked `deprecated = true` in one release (it is still
//! written, in a harmless form), removed in a later one.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use uuid::Uuid;

use crate::FastMap;
use crate::diag::{Diagnostic, Location, Severity};
use crate::diff::{DEPRECATED_MARK, Diff, Kind, Snapshot};
use crate::spec::{self, PackFile};

/// The description (or notes) written for a deprecated item: the mark, the reason, the
/// replacement, then the original text after `separator`. QRadar shows it where users
/// look (Log Activity's event description, the rule's notes), and `diff` and `release`
/// read the mark back from a previous release.
pub fn deprecated_text(
    reason: Option<&str>,
    replaced_by: Option<&str>,
    original: &str,
    separator: &str,
) -> String {
    let mut s = DEPRECATED_MARK.to_string();
    if let Some(r) = reason.map(str::trim).filter(|r| !r.is_empty()) {
        s.push_str(": ");
        s.push_str(r.trim_end_matches('.'));
    }
    if let Some(x) = replaced_by {
        s.push_str(&format!(" (replaced by \"{x}\")"));
    }
    s.push('.');
    if !original.is_empty() {
        s.push_str(separator);
        s.push_str(original);
    }
    s
}

/// The uuid of a pack rule: its pin, else derived from the pack's namespace and the rule
/// name (an unparsable pin is reported by [`check_pack`] as PK130).
pub fn rule_uuid(ns: &Uuid, rule: &spec::Rule) -> Uuid {
    rule.uuid
        .as_ref()
        .and_then(|u| Uuid::parse_str(u.get_ref().trim()).ok())
        .unwrap_or_else(|| Uuid::new_v5(ns, format!("rule:{}", rule.name.get_ref()).as_bytes()))
}

/// The UUID namespace of a pack (docs/pack-format.md, Identity).
pub fn namespace(hub_id: &str) -> Uuid {
    Uuid::new_v5(
        &Uuid::NAMESPACE_URL,
        format!("urn:qrpack:{hub_id}").as_bytes(),
    )
}

/// The deprecation keys of one item.
struct Dep<'a> {
    what: &'static str,
    name: &'a toml::Spanned<String>,
    deprecated: bool,
    reason: Option<&'a toml::Spanned<String>>,
    replaced_by: Option<&'a toml::Spanned<String>>,
}

/// Checks of the deprecation keys and rule uuid pins, run by every build (PK127–PK130).
pub fn check_pack(file: &str, text: &str, pack: &PackFile) -> Vec<Diagnostic> {
    let loc = |span: Range<usize>| Location::in_text(file, text, span);
    let mut out = Vec::new();
    let events: FastMap<&str, bool> = pack
        .events
        .iter()
        .map(|e| (e.get_ref().name.get_ref().as_str(), e.get_ref().deprecated))
        .collect();
    let rules: FastMap<&str, bool> = pack
        .rules
        .iter()
        .map(|r| (r.get_ref().name.get_ref().as_str(), r.get_ref().deprecated))
        .collect();
    let properties: FastMap<&str, bool> = pack
        .properties
        .iter()
        .map(|p| (p.get_ref().name.get_ref().as_str(), p.get_ref().deprecated))
        .collect();
    let mut items: Vec<(Dep, &FastMap<&str, bool>)> = Vec::new();
    for e in &pack.events {
        let e = e.get_ref();
        items.push((
            Dep {
                what: "event",
                name: &e.name,
                deprecated: e.deprecated,
                reason: e.deprecated_reason.as_ref(),
                replaced_by: e.replaced_by.as_ref(),
            },
            &events,
        ));
    }
    for r in &pack.rules {
        let r = r.get_ref();
        items.push((
            Dep {
                what: "rule",
                name: &r.name,
                deprecated: r.deprecated,
                reason: r.deprecated_reason.as_ref(),
                replaced_by: r.replaced_by.as_ref(),
            },
            &rules,
        ));
    }
    for p in &pack.properties {
        let p = p.get_ref();
        items.push((
            Dep {
                what: "property",
                name: &p.name,
                deprecated: p.deprecated,
                reason: p.deprecated_reason.as_ref(),
                replaced_by: p.replaced_by.as_ref(),
            },
            &properties,
        ));
    }
    for (d, same_kind) in &items {
        let name = d.name.get_ref();
        if !d.deprecated {
            for (key, v) in [
                ("deprecated_reason", d.reason),
                ("replaced_by", d.replaced_by),
            ] {
                if let Some(v) = v {
                    out.push(
                        Diagnostic::error(
                            "PK127",
                            format!(
                                "`{key}` on the {} \"{name}\", which is not deprecated",
                                d.what
                            ),
                        )
                        .at(loc(v.span()))
                        .help(format!(
                            "add `deprecated = true` to the {} to deprecate it, or remove `{key}`",
                            d.what
                        )),
                    );
                }
            }
            continue;
        }
        if let Some(r) = d.replaced_by {
            let target = r.get_ref();
            let problem = if target == name {
                Some(format!("the {} \"{name}\" is replaced by itself", d.what))
            } else {
                match same_kind.get(target.as_str()) {
                    None => Some(format!("no {} is named \"{target}\" in this pack", d.what)),
                    Some(true) => Some(format!(
                        "the {} \"{target}\" that replaces \"{name}\" is deprecated too",
                        d.what
                    )),
                    Some(false) => None,
                }
            };
            if let Some(m) = problem {
                out.push(
                    Diagnostic::error("PK128", m)
                        .at(loc(r.span()))
                        .help(format!(
                            "name {} {} of this pack that is not deprecated, or remove `replaced_by`",
                            if d.what == "event" { "an" } else { "a" },
                            d.what
                        )),
                );
            }
        }
    }

    // References to deprecated events from what is not deprecated itself.
    let replacement: FastMap<&str, &str> = pack
        .events
        .iter()
        .filter_map(|e| {
            let e = e.get_ref();
            Some((
                e.name.get_ref().as_str(),
                e.replaced_by.as_ref()?.get_ref().as_str(),
            ))
        })
        .collect();
    // `who` is formatted only for a finding: rules list thousands of events.
    let warn_ref = |out: &mut Vec<Diagnostic>,
                    who: &dyn Fn() -> String,
                    kind: &str,
                    ev: &toml::Spanned<String>| {
        if events.get(ev.get_ref().as_str()) == Some(&true) {
            let who = who();
            let help = match replacement.get(ev.get_ref().as_str()) {
                Some(x) => format!(
                    "a deprecated event has no DSM mappings, so no new event gets its QID: name its replacement \"{x}\" here"
                ),
                None => format!(
                    "a deprecated event has no DSM mappings, so no new event gets its QID: remove it from the list (or deprecate the {kind} too)"
                ),
            };
            out.push(
                Diagnostic::warning(
                    "PK129",
                    format!("{who} names the deprecated event \"{}\"", ev.get_ref()),
                )
                .at(loc(ev.span()))
                .help(help),
            );
        }
    };
    for r in &pack.rules {
        let r = r.get_ref();
        if r.deprecated {
            continue;
        }
        for ev in &r.events {
            warn_ref(
                &mut out,
                &|| format!("the rule \"{}\"", r.name.get_ref()),
                "rule",
                ev,
            );
        }
    }
    for p in &pack.properties {
        let p = p.get_ref();
        if p.deprecated {
            continue;
        }
        for x in p.expressions.get_ref() {
            for ev in &x.get_ref().events {
                warn_ref(
                    &mut out,
                    &|| format!("an expression of the property \"{}\"", p.name.get_ref()),
                    "property",
                    ev,
                );
            }
        }
    }

    // Rule uuid pins.
    let ns = namespace(pack.extension.get_ref().hub_id.get_ref());
    let mut seen: BTreeMap<Uuid, &toml::Spanned<String>> = BTreeMap::new();
    for r in &pack.rules {
        let r = r.get_ref();
        if let Some(pin) = &r.uuid
            && Uuid::parse_str(pin.get_ref().trim()).is_err()
        {
            out.push(
                Diagnostic::error(
                    "PK130",
                    format!("\"{}\" is not a UUID", pin.get_ref()),
                )
                .at(loc(pin.span()))
                .help("write the rule's uuid as QRadar shows it, e.g. \"0f5d1c3e-8b7a-5d1e-9c0b-3a2f4e6d8c71\" (`qrpack inspect` lists the uuids of a release)"),
            );
            continue;
        }
        let u = rule_uuid(&ns, r);
        if let Some(first) = seen.get(&u) {
            let at = r.uuid.as_ref().map(|p| p.span()).unwrap_or(r.name.span());
            let first = loc(first.span());
            out.push(
                Diagnostic::error(
                    "PK130",
                    format!(
                        "the rule \"{}\" has the uuid {u} of another rule",
                        r.name.get_ref()
                    ),
                )
                .at(loc(at))
                .help("QRadar recognises a rule by its uuid: two rules with one uuid overwrite each other on install; pin a uuid to one rule only")
                .note(format!(
                    "the other rule is declared at {}:{}:{}",
                    first.file, first.line, first.column
                )),
            );
        } else {
            seen.insert(u, &r.name);
        }
    }
    out
}

/// Where things stand in the pack, for the release check's messages.
struct Spans<'p> {
    version: Range<usize>,
    hub_id: Range<usize>,
    /// QID name → (name span, pinned qid span).
    qids: BTreeMap<String, (Range<usize>, Option<Range<usize>>)>,
    /// rule name → (name span, uuid pin span).
    rules: BTreeMap<&'p str, (Range<usize>, Option<Range<usize>>)>,
    properties: BTreeMap<&'p str, Range<usize>>,
}

impl<'p> Spans<'p> {
    fn of(pack: &'p PackFile) -> Spans<'p> {
        let x = pack.extension.get_ref();
        let mut qids = BTreeMap::new();
        for e in &pack.events {
            let e = e.get_ref();
            qids.insert(
                e.name.get_ref().clone(),
                (e.name.span(), e.qid.as_ref().map(|q| q.span())),
            );
        }
        for r in &pack.rules {
            let r = r.get_ref();
            if let Some(resp) = &r.response {
                let (n, span) = match &resp.get_ref().event_name {
                    Some(n) => (n.get_ref().clone(), n.span()),
                    None => (r.name.get_ref().clone(), r.name.span()),
                };
                qids.entry(n).or_insert((span, None));
            }
        }
        Spans {
            version: x.version.span(),
            hub_id: x.hub_id.span(),
            qids,
            rules: pack
                .rules
                .iter()
                .map(|r| {
                    let r = r.get_ref();
                    (
                        r.name.get_ref().as_str(),
                        (r.name.span(), r.uuid.as_ref().map(|u| u.span())),
                    )
                })
                .collect(),
            properties: pack
                .properties
                .iter()
                .map(|p| (p.get_ref().name.get_ref().as_str(), p.get_ref().name.span()))
                .collect(),
        }
    }
}

fn semver(v: &str) -> Option<(u64, u64, u64)> {
    let mut p = v.trim().split('.').map(|x| x.parse::<u64>().ok());
    let t = (p.next()??, p.next()??, p.next()??);
    if p.next().is_some() {
        return None;
    }
    Some(t)
}

const DEPRECATION_PATH: &str = "to retire it, keep it in the pack with `deprecated = true` (and `replaced_by`), release that, and remove it in a later release (docs/releases.md)";

/// Compare a pack (`new`, built from `pack`) with the previous release and list every
/// reason to refuse the release (PK120–PK126). Empty: the release may go out.
pub fn check_release(
    file: &str,
    text: &str,
    pack: &PackFile,
    previous: &Snapshot,
    new: &Snapshot,
    diff: &Diff,
) -> Vec<Diagnostic> {
    let loc = |span: Range<usize>| Location::in_text(file, text, span);
    let spans = Spans::of(pack);
    let prev_name = &previous.input;
    let pv = &previous.meta.version;
    let mut out = Vec::new();

    if previous.meta.hub_id != new.meta.hub_id {
        let message = if previous.meta.hub_id.is_empty() {
            format!(
                "the previous release {prev_name} has no manifest id: it cannot be a release of \"{}\"",
                new.meta.hub_id
            )
        } else {
            format!(
                "the previous release {prev_name} is the extension \"{}\", not \"{}\"",
                previous.meta.hub_id, new.meta.hub_id
            )
        };
        out.push(
            Diagnostic::error("PK126", message)
            .at(loc(spans.hub_id.clone()))
            .help("pass the last release of this pack with --previous; if the hub id was changed, change it back: QRadar installs an extension with another hub id beside the old one, and every QID name, rule uuid and property would be new")
        );
        return out;
    }

    // Versions.
    let nv = &new.meta.version;
    match (semver(pv), semver(nv)) {
        (None, _) => out.push(
            Diagnostic::error(
                "PK121",
                format!(
                    "the previous release {prev_name} has version \"{pv}\", not MAJOR.MINOR.PATCH: the versions cannot be compared"
                ),
            )
            .at(loc(spans.version.clone()))
            .help("pass a release archive with a manifest.txt of its own (qrpack build writes one)"),
        ),
        (Some(_), None) => {} // PK010 already stops the build
        (Some(p), Some(n)) if n < p => out.push(
            Diagnostic::error(
                "PK121",
                format!("version {nv} is lower than the previous release's {pv}"),
            )
            .at(loc(spans.version.clone()))
            .help(format!(
                "a release's version goes up: QRadar installs an extension over another of the same hub id by version; make it higher than {pv}"
            )),
        ),
        (Some(p), Some(n)) if n == p && diff.content_changed() => {
            let s = &diff.summary;
            let what = format!(
                "{} added, {} removed, {} changed{}",
                s.added,
                s.removed,
                s.changed,
                if s.extension > 0 {
                    format!(", {} metadata field(s)", s.extension)
                } else {
                    String::new()
                }
            );
            out.push(
                Diagnostic::error(
                    "PK120",
                    format!("the content changed since release {pv} ({what}), but the version is still {nv}"),
                )
                .at(loc(spans.version.clone()))
                .help(format!(
                    "raise the version: {}.{}.{} for fixes, {}.{}.0 for new content, {}.0.0 when something was removed; QRadar refuses to install an extension id and version it already has",
                    p.0, p.1, p.2 + 1, p.0, p.1 + 1, p.0 + 1
                ))
                .note("`qrpack diff` with the same two inputs lists every change"),
            );
        }
        _ => {}
    }

    // QIDs: name and number.
    let new_by_qid: BTreeMap<&str, &str> = new
        .of(Kind::Events)
        .filter_map(|e| Some((e.field("qid")?, e.name.as_str())))
        .collect();
    for e in previous.of(Kind::Events) {
        let qid = e.field("qid").unwrap_or("?");
        match new.get(Kind::Events, &e.id) {
            Some(n) => {
                let nq = n.field("qid").unwrap_or("?");
                if nq != qid {
                    let (name_span, pin) = spans.qids.get(&e.name).cloned().unwrap_or((0..0, None));
                    let at = pin.clone().unwrap_or(name_span);
                    let how = if pin.is_some() {
                        format!("pin `qid = {qid}` again")
                    } else {
                        format!(
                            "put the line `\"{}\" = {qid}` back in the lock (or pin `qid = {qid}`)",
                            e.name
                        )
                    };
                    out.push(
                        Diagnostic::error(
                            "PK123",
                            format!(
                                "the QID \"{}\" was {qid} in release {pv} and is {nq} now",
                                e.name
                            ),
                        )
                        .at(loc(at))
                        .help(format!(
                            "a released QID keeps its number: customers' offenses, searches and reference data carry it; {how}"
                        )),
                    );
                }
            }
            None if e.deprecated => {}
            None => {
                // Where it went: a new name with its number, or with its mappings.
                let by_number = new_by_qid
                    .get(qid)
                    .filter(|n| previous.get(Kind::Events, n).is_none())
                    .map(|n| (n.to_string(), "now carries its number"));
                let by_mapping = || {
                    previous
                        .of(Kind::Mappings)
                        .filter(|m| m.field("event") == Some(e.name.as_str()))
                        .find_map(|m| {
                            let to = new.get(Kind::Mappings, &m.id)?.field("event")?;
                            (previous.get(Kind::Events, to).is_none()
                                && new.get(Kind::Events, to).is_some())
                            .then(|| (to.to_string(), "now has its device events"))
                        })
                };
                let candidate = by_number.or_else(by_mapping);
                let mut d = Diagnostic::error(
                    "PK122",
                    match &candidate {
                        Some((to, how)) => format!(
                            "the QID \"{}\" ({qid}) of release {pv} is gone: \"{to}\" {how} (a rename?)",
                            e.name
                        ),
                        None => format!("the QID \"{}\" ({qid}) of release {pv} is gone", e.name),
                    },
                );
                if let Some((span, _)) = candidate.as_ref().and_then(|(to, _)| spans.qids.get(to)) {
                    d = d.at(loc(span.clone()));
                }
                if let Some(o) = &e.origin {
                    d = d.note(format!("release {pv} has it at {o}"));
                }
                out.push(d.help(format!(
                    "QRadar recognises an installed QID by its name: a renamed or removed QID stays on every console that installed {pv}, beside any new one. Keep \"{}\"; {DEPRECATION_PATH}",
                    e.name
                )));
            }
        }
    }

    // Rules: uuid.
    let added_rules: Vec<&str> = new
        .of(Kind::Rules)
        .filter(|r| previous.get(Kind::Rules, &r.id).is_none())
        .map(|r| r.name.as_str())
        .collect();
    for r in previous.of(Kind::Rules) {
        if new.get(Kind::Rules, &r.id).is_some() || r.deprecated {
            continue;
        }
        let same_name = new
            .of(Kind::Rules)
            .find(|n| n.name == r.name && previous.get(Kind::Rules, &n.id).is_none());
        let mut d = match same_name {
            Some(n) => {
                let (name_span, pin) = spans
                    .rules
                    .get(n.name.as_str())
                    .cloned()
                    .unwrap_or((0..0, None));
                Diagnostic::error(
                    "PK124",
                    format!(
                        "the rule \"{}\" had the uuid {} in release {pv} and has {} now",
                        r.name, r.id, n.id
                    ),
                )
                .at(loc(pin.unwrap_or(name_span)))
                .help(format!(
                    "QRadar recognises a rule by its uuid: a new uuid installs a second rule beside the first; pin the released one in the rule: uuid = \"{}\"",
                    r.id
                ))
            }
            None => {
                let mut d = Diagnostic::error(
                    "PK124",
                    format!(
                        "the rule \"{}\" (uuid {}) of release {pv} is gone",
                        r.name, r.id
                    ),
                )
                .help(format!(
                    "QRadar recognises a rule by its uuid. If the rule was renamed, pin its uuid in the renamed rule: uuid = \"{}\". Otherwise {DEPRECATION_PATH}; a deprecated rule is written disabled",
                    r.id
                ));
                if !added_rules.is_empty() {
                    d = d.note(format!(
                        "rules new in this release: {}",
                        added_rules
                            .iter()
                            .map(|n| format!("\"{n}\""))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                d
            }
        };
        if let Some(o) = &r.origin {
            d = d.note(format!("release {pv} has it at {o}"));
        }
        out.push(d);
    }

    // Properties: name and type.
    for p in previous.of(Kind::Properties) {
        if new.get(Kind::Properties, &p.id).is_some() || p.deprecated {
            continue;
        }
        let now = new
            .of(Kind::Properties)
            .find(|n| n.name == p.name && previous.get(Kind::Properties, &n.id).is_none());
        let mut d = match now {
            Some(n) => {
                let mut d = Diagnostic::error(
                    "PK125",
                    format!(
                        "the property \"{}\" was {} in release {pv} and is {} now",
                        p.name,
                        kind_of(&p.id),
                        kind_of(&n.id)
                    ),
                )
                .help(format!(
                    "a property's name and type are what AQL, searches and reports use: keep \"{}\" as it was, and add a property with a new name for the new type; {DEPRECATION_PATH}",
                    p.name
                ));
                if let Some(span) = spans.properties.get(n.name.as_str()) {
                    d = d.at(loc(span.clone()));
                }
                d
            }
            None => Diagnostic::error(
                "PK125",
                format!("the property \"{}\" ({}) of release {pv} is gone", p.name, kind_of(&p.id)),
            )
            .help(format!(
                "customers' searches, reports and rules use the property by name: keep \"{}\"; {DEPRECATION_PATH}",
                p.name
            )),
        };
        if let Some(o) = &p.origin {
            d = d.note(format!("release {pv} has it at {o}"));
        }
        out.push(d);
    }
    crate::diag::sort(&mut out);
    out
}

/// The type part of a property identity "name (type)".
fn kind_of(id: &str) -> String {
    id.rsplit_once(" (")
        .map(|(_, t)| t.trim_end_matches(')').to_string())
        .unwrap_or_default()
}

/// Whether `diags` hold an error.
pub fn refuses(diags: &[Diagnostic]) -> bool {
    diags.iter().any(|d| d.severity == Severity::Error)
}

/// `RELEASE_NOTES.md`: a header naming the release, its archive and what it replaces,
/// then the changes in release-notes form.
pub fn release_notes(
    new: &Snapshot,
    previous: Option<&Snapshot>,
    diff: &Diff,
    archive_name: &str,
    archive_sha256: &str,
) -> String {
    use std::fmt::Write as _;
    let m = &new.meta;
    let mut o = String::new();
    let _ = writeln!(o, "# {} {}\n", md_plain(&m.name), m.version);
    let _ = writeln!(o, "- Extension: {}", crate::diff::md_code(&m.hub_id));
    let _ = writeln!(
        o,
        "- Archive: {} (SHA-256 `{archive_sha256}`)",
        crate::diff::md_code(archive_name)
    );
    let _ = writeln!(
        o,
        "- Requires QRadar internal version {} or later",
        crate::diff::md_code(&m.min_qradar_version)
    );
    match previous {
        Some(p) => {
            let _ = writeln!(o, "- Previous release: {}\n", p.meta.version);
            let _ = writeln!(o, "## Changes since {}\n", p.meta.version);
        }
        None => {
            let _ = writeln!(o, "- First release\n");
            let _ = writeln!(o, "## Contents\n");
        }
    }
    o.push_str(&crate::diff::render_markdown(diff, 3));
    let deprecated: BTreeSet<(&str, &str)> = [
        (Kind::Events, "QID"),
        (Kind::Rules, "rule"),
        (Kind::Properties, "property"),
    ]
    .iter()
    .flat_map(|(k, w)| {
        new.of(*k)
            .filter(|e| e.deprecated)
            .map(move |e| (*w, e.name.as_str()))
    })
    .collect();
    if !deprecated.is_empty() {
        let _ = writeln!(o, "## Deprecated\n");
        let _ = writeln!(
            o,
            "Still installed by this release, to be removed in a later one:\n"
        );
        for (w, n) in deprecated {
            let _ = writeln!(o, "- {w} {}", crate::diff::md_code(n));
        }
        let _ = writeln!(o);
    }
    while o.ends_with("\n\n") {
        o.pop();
    }
    o
}

fn md_plain(s: &str) -> String {
    s.replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deprecated_text_reads_back() {
        let t = deprecated_text(Some("split in two."), Some("B"), "Old text", " ");
        assert_eq!(t, "DEPRECATED: split in two (replaced by \"B\"). Old text");
        assert!(t.starts_with(DEPRECATED_MARK));
        assert_eq!(deprecated_text(None, None, "", " "), "DEPRECATED.");
    }

    #[test]
    fn semver_compares_numerically() {
        assert!(semver("1.10.0") > semver("1.9.9"));
        assert_eq!(semver("1.0"), None);
        assert_eq!(semver("1.0.0.0"), None);
        assert_eq!(semver("v1.0.0"), None);
    }
}
