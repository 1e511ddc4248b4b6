//! Checks on log source types and their extensions (custom DSMs): the rows
//! `sensordevicetype`, `sensordevicecategory`, `sensordeviceprotocols`, `sensorprotocol`,
//! `device_ext`, and the log source type ids other rows refer to.
//!
//! What QRadar does with a dangling type, protocol or category reference on import is
//! unknown: those checks are warnings. A pattern that cannot work (a regex that does not
//! compile, a key path that does not parse, a capture group that does not exist) is an
//! error, as for property expressions.

use std::collections::{BTreeMap, HashSet};

use super::{At, Checker, int, java_only, shorten};
use crate::device_ext::DeviceExtension;
use crate::read::rows::RowAt;

/// Log source type ids from here up are custom types (**[real]** 4001, 4003; 4000 is
/// IBMCustomDSM, their base).
const CUSTOM_FROM: i64 = 4000;

/// What the checks across rows need, kept small: one entry per type, protocol and
/// category row, and one per reference to a custom type id.
#[derive(Debug, Default)]
pub(super) struct DsmIndex {
    /// (id, extension_id, devicecategoryid, position)
    types: Vec<(i64, Option<i64>, Option<i64>, At)>,
    /// device_ext id → the type ids its match groups override to.
    exts: BTreeMap<i64, Vec<i64>>,
    protocols: HashSet<i64>,
    categories: HashSet<i64>,
    /// References to custom type ids, first place of each id only.
    type_refs: BTreeMap<i64, (At, &'static str)>,
    protocol_refs: Vec<(i64, At)>,
}

impl Checker<'_> {
    /// A row of one of the log source type tables.
    pub(super) fn dsm_row(&mut self, row: &RowAt) {
        match row.table.as_str() {
            "sensordevicetype" => {
                if let Some(id) = int(row, "id") {
                    self.dsm.types.push((
                        id,
                        int(row, "extension_id"),
                        int(row, "devicecategoryid"),
                        row.pos.into(),
                    ));
                }
            }
            "sensordevicecategory" => {
                if let Some(id) = int(row, "id") {
                    self.dsm.categories.insert(id);
                }
            }
            "sensorprotocol" => {
                if let Some(id) = int(row, "id") {
                    self.dsm.protocols.insert(id);
                }
            }
            "sensordeviceprotocols" => {
                if let Some(t) = int(row, "sensordevicetypeid") {
                    self.custom_type_ref(
                        t,
                        row.pos_of("sensordevicetypeid").into(),
                        "sensordeviceprotocols",
                    );
                }
                if let Some(p) = int(row, "sensorprotocolid") {
                    self.dsm
                        .protocol_refs
                        .push((p, row.pos_of("sensorprotocolid").into()));
                }
            }
            _ => {}
        }
    }

    /// A row refers to log source type `id`; only custom ids need a check later.
    pub(super) fn custom_type_ref(&mut self, id: i64, at: At, what: &'static str) {
        if id >= CUSTOM_FROM {
            self.dsm.type_refs.entry(id).or_insert((at, what));
        }
    }

    /// A decoded `<device-extension>`: its patterns and matchers, and the type ids it
    /// overrides to.
    pub(super) fn dsm_extension(&mut self, row: &RowAt, ext: &DeviceExtension) {
        let pos = row.pos_of("xml");
        let at: At = pos.into();
        let overrides: Vec<i64> = ext
            .groups
            .iter()
            .filter_map(|g| g.device_type_id_override.as_deref())
            .filter_map(|o| o.trim().parse().ok())
            .collect();
        for o in &overrides {
            self.custom_type_ref(*o, at, "device-type-id-override");
        }
        if let Some(id) = int(row, "id") {
            self.dsm.exts.insert(id, overrides);
        }
        let mut seen = HashSet::new();
        // Capture groups of each regex pattern that compiles.
        let mut groups: BTreeMap<&str, usize> = BTreeMap::new();
        for p in &ext.patterns {
            if !seen.insert(p.id.as_str()) {
                self.warn(
                    "QR120",
                    pos,
                    format!(
                        "the log source extension defines pattern \"{}\" twice",
                        p.id
                    ),
                    "give each <pattern> its own id; which one QRadar uses is unknown",
                );
            }
            match p.kind.as_str() {
                "JavaPattern" => {
                    if let Some(construct) = java_only(&p.text) {
                        self.warn(
                            "QR116",
                            pos,
                            format!(
                                "pattern \"{}\" uses {construct}, Java syntax qrpack cannot check",
                                p.id
                            ),
                            "check the pattern in QRadar's DSM Editor with a sample event",
                        );
                        continue;
                    }
                    match regex::Regex::new(&p.text) {
                        Ok(re) => {
                            groups.insert(p.id.as_str(), re.captures_len() - 1);
                        }
                        Err(e) => {
                            let m = e.to_string();
                            let last = m
                                .lines()
                                .rfind(|l| !l.trim().is_empty())
                                .unwrap_or("")
                                .trim()
                                .to_string();
                            self.err(
                                "QR115",
                                pos,
                                format!(
                                    "pattern \"{}\" ({}) does not compile: {last}",
                                    p.id,
                                    shorten(&p.text)
                                ),
                                "fix the regex",
                            );
                        }
                    }
                }
                "JsonKeypath" => {
                    if let Err(e) = crate::device_ext::parse_json_pattern(&p.text) {
                        self.err(
                            "QR117",
                            pos,
                            format!("pattern \"{}\" ({}) is not a QRadar JSON key path: {e}", p.id, shorten(&p.text)),
                            "write a slash before each quoted key: /\"a\"/\"b\" (several in braces with enable-substitutions: {/\"a\"} {/\"b\"})",
                        );
                    }
                }
                other => {
                    let d = crate::diag::Diagnostic::new(
                        "QR119",
                        crate::diag::Severity::Info,
                        format!("pattern \"{}\" has type \"{other}\", which qrpack does not know; it was not checked", p.id),
                    )
                    .at(self.loc(pos))
                    .note("real exports use JavaPattern and JsonKeypath");
                    self.findings.push(d);
                }
            }
        }
        let kinds: BTreeMap<&str, &str> = ext
            .patterns
            .iter()
            .map(|p| (p.id.as_str(), p.kind.as_str()))
            .collect();
        for g in &ext.groups {
            for m in &g.matchers {
                if crate::custom_dsm::pack_key(&m.field).is_none() {
                    let d = crate::diag::Diagnostic::new(
                        "QR119",
                        crate::diag::Severity::Info,
                        format!("a matcher fills \"{}\", a field qrpack does not know; `qrpack test` does not simulate it", m.field),
                    )
                    .at(self.loc(pos))
                    .note("QRadar's list of matcher fields is longer than what qrpack models (docs/checks.md)");
                    self.findings.push(d);
                }
                let Some(kind) = kinds.get(m.pattern_id.as_str()) else {
                    continue; // QR101 says so.
                };
                let wanted = if m.json { "JsonKeypath" } else { "JavaPattern" };
                if *kind != wanted && matches!(*kind, "JsonKeypath" | "JavaPattern") {
                    self.warn(
                        "QR121",
                        pos,
                        format!(
                            "the {} for {} uses pattern \"{}\", a {kind}",
                            if m.json { "json-matcher" } else { "matcher" },
                            m.field,
                            m.pattern_id
                        ),
                        "a <json-matcher> takes a JsonKeypath pattern and a <matcher> a JavaPattern",
                    );
                    continue;
                }
                if let (false, Some(n), Some(cg)) = (
                    m.json,
                    groups.get(m.pattern_id.as_str()),
                    m.capture_group.as_deref(),
                ) && let Some(used) = highest_group(cg)
                    && used > *n
                {
                    self.err(
                        "QR118",
                        pos,
                        format!(
                            "the matcher for {} takes group {used} of pattern \"{}\", which has {n}",
                            m.field, m.pattern_id
                        ),
                        "capture-group names a group of the pattern (\\1 is the first)",
                    );
                }
            }
        }
    }

    /// Checks across the log source type rows.
    pub(super) fn dsm_finish(&mut self) {
        let idx = std::mem::take(&mut self.dsm);
        let defined: HashSet<i64> = idx.types.iter().map(|t| t.0).collect();
        for (id, (at, what)) in &idx.type_refs {
            let known = u32::try_from(*id)
                .ok()
                .and_then(|i| self.catalogue.log_source_type(i))
                .is_some();
            if !defined.contains(id) && !known {
                self.warn(
                    "QR111",
                    *at,
                    format!("{what} refers to log source type {id}, which no <sensordevicetype> row of this file defines"),
                    "a custom type's rows travel with it: add its sensordevicetype row, or fix the id so that the type ids agree",
                );
            }
        }
        let mut reported = HashSet::new();
        for (p, at) in &idx.protocol_refs {
            let known = u32::try_from(*p)
                .ok()
                .and_then(|i| self.catalogue.protocol(i))
                .is_some();
            if !idx.protocols.contains(p) && !known && reported.insert(*p) {
                self.warn(
                    "QR112",
                    *at,
                    format!("protocol {p} is neither a <sensorprotocol> row of this file nor in qrpack's catalogue"),
                    "check the protocol id on the target (GET /api/config/event_sources/log_source_management/protocol_types)",
                );
            }
        }
        for (id, ext_id, cat, at) in &idx.types {
            if let Some(c) = cat {
                let known = u32::try_from(*c)
                    .ok()
                    .and_then(|i| self.catalogue.device_category(i))
                    .is_some();
                if !idx.categories.contains(c) && !known {
                    self.warn(
                        "QR113",
                        *at,
                        format!("log source type {id} has device category {c}, which neither this file nor qrpack's catalogue defines"),
                        "use a device category of the target, e.g. 5 SW/Integration",
                    );
                }
            }
            // 0 (or none): a type without an extension.
            let Some(ext_id) = ext_id.filter(|e| *e > 0) else {
                continue;
            };
            match idx.exts.get(&ext_id) {
                None if *id >= CUSTOM_FROM => self.warn(
                    "QR114",
                    *at,
                    format!("log source type {id} names extension {ext_id}, which no <device_ext> row of this file defines"),
                    "a custom type's parsing lives in its device_ext row: add it, or fix extension_id",
                ),
                Some(overrides) if !overrides.is_empty() && !overrides.contains(id) => {
                    let list: Vec<String> = overrides.iter().map(i64::to_string).collect();
                    self.warn(
                        "QR110",
                        *at,
                        format!(
                            "log source type {id} uses extension {ext_id}, whose match groups send events to type {}",
                            list.join(", ")
                        ),
                        "the type ids must agree: set device-type-id-override to the type's id",
                    );
                }
                _ => {}
            }
        }
    }
}

/// The highest group a matcher's `capture-group` uses: `\2`, `\1:\2`, or a plain number.
/// `None` when it names no group (a fixed substitution such as `192.0.2.1`).
pub(crate) fn highest_group(cg: &str) -> Option<usize> {
    let t = cg.trim();
    if let Ok(n) = t.parse::<usize>() {
        return Some(n);
    }
    let b = t.as_bytes();
    let mut best = None;
    let mut i = 0;
    while i + 1 < b.len() {
        if b[i] == b'\\' && b[i + 1].is_ascii_digit() {
            let n = (b[i + 1] - b'0') as usize;
            best = Some(best.map_or(n, |m: usize| m.max(n)));
            i += 2;
        } else {
            i += 1;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::highest_group;

    #[test]
    fn capture_groups_in_substitutions() {
        assert_eq!(highest_group("\\1"), Some(1));
        assert_eq!(highest_group("2"), Some(2));
        assert_eq!(highest_group("\\1:\\2:\\3"), Some(3));
        assert_eq!(highest_group("192.0.2.1"), None);
    }
}
