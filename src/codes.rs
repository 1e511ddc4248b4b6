//! Every diagnostic code qrpack emits, with its default severity and a one-line
//! summary. `docs/checks.md` has one entry per code; a test freezes this list so that no
//! code is renamed or reused by accident.

use crate::diag::Severity;

/// A diagnostic code's registry entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    pub code: &'static str,
    pub severity: Severity,
    pub summary: &'static str,
}

const fn c(code: &'static str, severity: Severity, summary: &'static str) -> Code {
    Code {
        code,
        severity,
        summary,
    }
}

use Severity::{Error as E, Info as I, Warning as W};

/// Pack-file codes (`PKnnn`), reported by `build`.
pub const PACK: &[Code] = &[
    c("PK001", E, "the pack (or lock) is not valid TOML"),
    c("PK002", E, "unknown key"),
    c("PK003", E, "a required key is missing"),
    c("PK004", E, "a value has the wrong type"),
    c("PK010", E, "the extension version is not MAJOR.MINOR.PATCH"),
    c(
        "PK011",
        E,
        "required extension metadata is empty or malformed",
    ),
    c(
        "PK012",
        E,
        "a QRadar version is not 3 or 4 dot-separated numbers",
    ),
    c(
        "PK013",
        E,
        "<qradarversion> is newer than min_qradar_version",
    ),
    c("PK014", E, "the build time cannot be recorded"),
    c(
        "PK015",
        W,
        "a QRadar version looks like a product version (7.5.0), not an internal one",
    ),
    c(
        "PK020",
        E,
        "the log source type id is invalid or not a built-in type",
    ),
    c("PK021", W, "the log source type id is not in the catalogue"),
    c(
        "PK022",
        W,
        "the log source type name does not match the catalogue",
    ),
    c(
        "PK030",
        E,
        "an event name is empty or longer than 255 characters",
    ),
    c("PK031", E, "a QID name is used twice"),
    c(
        "PK032",
        E,
        "an event description is longer than 2048 characters",
    ),
    c("PK033", E, "a severity or credibility is outside 0–10"),
    c("PK034", E, "a low-level category is not in the catalogue"),
    c(
        "PK035",
        E,
        "a placeholder of the [dsm] templates has no value",
    ),
    c(
        "PK036",
        E,
        "a `match` or default key is not a placeholder of the templates",
    ),
    c("PK037", E, "a device event is mapped twice"),
    c(
        "PK038",
        W,
        "device event spellings differ only by dash, case or spaces across events",
    ),
    c("PK039", W, "the event_id template has no placeholder"),
    c("PK040", E, "a pinned QID is invalid or pinned twice"),
    c("PK041", E, "a pinned QID contradicts the lock"),
    c(
        "PK042",
        E,
        "a pinned QID belongs to another name in the lock",
    ),
    c("PK043", E, "the QID range is invalid or exhausted"),
    c("PK044", E, "--locked: the lock would change"),
    c("PK045", E, "the lock's format version is unknown"),
    c(
        "PK046",
        W,
        "a [dsm.defaults] key is not used by the templates",
    ),
    c("PK047", E, "a property expression is declared twice"),
    c("PK050", E, "a property name is empty or declared twice"),
    c(
        "PK051",
        E,
        "an expression is not exactly one of json or regex",
    ),
    c("PK052", E, "a regex does not compile"),
    c("PK053", E, "a capture group does not exist in its regex"),
    c("PK054", E, "a JSON key path does not parse"),
    c("PK055", E, "a reference names no event of the pack"),
    c("PK056", E, "an expression extracts nothing from its sample"),
    c("PK057", E, "a time property has no date pattern"),
    c("PK058", W, "a regex uses Java syntax qrpack cannot check"),
    c("PK060", E, "a rule name is empty or declared twice"),
    c("PK061", E, "an AQL placeholder does not resolve"),
    c("PK062", E, "a rule tests nothing"),
    c("PK063", E, "a rule response score is outside 0–10"),
    c("PK064", E, "a rule test skeleton is unusable"),
    c(
        "PK070",
        E,
        "a search needs exactly one of aql or aql_file, and a query",
    ),
    c("PK071", E, "a search's aql_file cannot be read"),
    c("PK072", E, "a search name (or its file name) is used twice"),
    c("PK073", I, "a search is embedded as an unverified row"),
    c("PK074", E, "a test file cannot be read"),
    c("PK080", W, "an AQL query does not parse for qrpack"),
    c(
        "PK081",
        W,
        "an AQL query uses a property the pack does not declare",
    ),
    c(
        "PK082",
        I,
        "QIDNAME(qid) LIKE scans the pack's own events: test the QIDs instead",
    ),
    c(
        "PK083",
        W,
        "a LIKE pattern on QIDNAME matches none of the pack's events",
    ),
    c("PK090", E, "the archive cannot be written"),
    c(
        "PK100",
        E,
        "custom log source type keys without `custom = true`",
    ),
    c(
        "PK101",
        E,
        "a custom log source type id is outside the custom range",
    ),
    c(
        "PK102",
        W,
        "a custom log source type id or internal name is a catalogue type's",
    ),
    c(
        "PK103",
        E,
        "a custom log source type name or internal name is malformed",
    ),
    c("PK104", E, "a device category is not in the catalogue"),
    c(
        "PK105",
        E,
        "a protocol is unknown, listed twice, or none is listed",
    ),
    c(
        "PK107",
        E,
        "a [parsing] key is not a field a custom DSM fills",
    ),
    c(
        "PK108",
        E,
        "a parsing extraction is not exactly one of json or regex, or has misplaced keys",
    ),
    c("PK109", E, "a custom DSM has no parsing, or no event_name"),
    c("PK110", W, "a device_time extraction has no date_format"),
    c(
        "PK111",
        E,
        "a custom DSM's [dsm] uses a field [parsing] does not fill",
    ),
    c(
        "PK120",
        E,
        "release: the content changed but the version did not go up",
    ),
    c(
        "PK121",
        E,
        "release: the version went down, or cannot be compared",
    ),
    c(
        "PK122",
        E,
        "release: a QID of the previous release is gone without being deprecated first",
    ),
    c(
        "PK123",
        E,
        "release: a QID's number changed since the previous release",
    ),
    c(
        "PK124",
        E,
        "release: a rule's uuid changed, or the rule is gone without being deprecated first",
    ),
    c(
        "PK125",
        E,
        "release: a property's name or type changed, or it is gone without being deprecated first",
    ),
    c(
        "PK126",
        E,
        "release: the previous release is another extension (hub id)",
    ),
    c(
        "PK127",
        E,
        "deprecated_reason or replaced_by on an item that is not deprecated",
    ),
    c(
        "PK128",
        E,
        "replaced_by names no item of the pack, a deprecated one, or itself",
    ),
    c("PK129", W, "a reference names a deprecated event"),
    c(
        "PK130",
        E,
        "a rule's pinned uuid is not a UUID, or two rules have one uuid",
    ),
    c("PK140", E, "qrpack new/init would replace an existing file"),
    c(
        "PK141",
        E,
        "a name or hub id given to qrpack new/init is unusable",
    ),
    c(
        "PK150",
        E,
        "a device event category has more than one [[dsm.fallback]]",
    ),
    c(
        "PK151",
        E,
        "a [[dsm.fallback]] looks up a device event that no event of the pack maps",
    ),
];

/// Extension codes (`QRnnn`), reported by `validate` (and by `build` on its own output).
/// The severity is the default; `--deny warnings` promotes warnings.
pub const VALIDATE: &[Code] = &[
    c(
        "QR001",
        E,
        "an entry name escapes the archive (.., absolute path, drive letter)",
    ),
    c("QR002", E, "an entry is a link"),
    c("QR003", E, "an entry is encrypted"),
    c("QR004", E, "the archive has too many entries"),
    c(
        "QR005",
        E,
        "an entry inflates beyond the size or ratio limits (zip bomb)",
    ),
    c(
        "QR006",
        E,
        "an entry inflates past its declared size (lying header)",
    ),
    c("QR007", E, "two entries have the same name"),
    c(
        "QR008",
        E,
        "an entry sits in a folder; QRadar expects a flat archive",
    ),
    c("QR009", E, "the archive holds a manifest.xml"),
    c("QR010", E, "the archive holds no content XML"),
    c("QR011", E, "the archive holds more than one content XML"),
    c(
        "QR012",
        E,
        "the archive or an entry is corrupt or truncated",
    ),
    c(
        "QR013",
        W,
        "an entry is neither a content XML nor manifest.txt",
    ),
    c("QR020", W, "the archive has no manifest.txt"),
    c(
        "QR021",
        E,
        "manifest.txt is not valid JSON of the real shape",
    ),
    c("QR022", E, "the manifest version is not MAJOR.MINOR.PATCH"),
    c("QR023", E, "min_qradar_version is not 3 or 4 numbers"),
    c("QR024", E, "supported_language_set lacks en-US"),
    c(
        "QR025",
        E,
        "name, description, author or author e-mail is missing (empty: warning)",
    ),
    c("QR026", E, "a localisation key does not resolve in locale"),
    c(
        "QR027",
        E,
        "min_qradar_version is older than <qradarversion>",
    ),
    c("QR028", E, "package_size is missing or not a size"),
    c("QR030", E, "the content XML is not well-formed UTF-8"),
    c("QR031", E, "the root element is not <content>"),
    c("QR032", E, "<qradarversion> is missing or malformed"),
    c("QR033", E, "a DOCTYPE or entity declaration"),
    c(
        "QR034",
        E,
        "elements nested deeper than row and column, or too many columns",
    ),
    c(
        "QR035",
        E,
        "a single element, attribute or text is too large",
    ),
    c("QR036", I, "a row type qrpack does not know"),
    c("QR037", I, "a column qrpack does not know"),
    c("QR038", E, "a required column is missing"),
    c(
        "QR039",
        E,
        "a value is not of its column's type (integer, boolean, base64)",
    ),
    c(
        "QR040",
        W,
        "a value is not of its column's expected form (UUID, enumeration)",
    ),
    c("QR041", W, "a row has the same column twice"),
    c("QR050", E, "a QID severity is outside 0–10"),
    c(
        "QR051",
        E,
        "a QID name is empty or longer than 255 characters",
    ),
    c(
        "QR052",
        E,
        "a QID description is longer than 2048 characters",
    ),
    c(
        "QR053",
        E,
        "a low-level category does not exist (not in qrpack's catalogue: warning)",
    ),
    c("QR054", E, "a QID number is defined twice"),
    c("QR055", E, "a QID name is defined twice"),
    c(
        "QR056",
        E,
        "a device event (type, id, category) is mapped twice",
    ),
    c("QR057", E, "dsmevent/qidmapid resolves to no qidmap/id"),
    c("QR058", W, "a custom event's QID is outside the user range"),
    c(
        "QR059",
        W,
        "device event ids differ only by dash, case or spaces but map to different QIDs",
    ),
    c("QR070", E, "an expression's ap_id resolves to no property"),
    c("QR071", E, "a property regex does not compile"),
    c(
        "QR072",
        W,
        "a property regex uses Java syntax qrpack cannot check",
    ),
    c("QR073", E, "a capture group does not exist in its regex"),
    c("QR074", E, "a JSON expression is not a QRadar key path"),
    c(
        "QR076",
        W,
        "an expression extracts nothing from its sample payload",
    ),
    c("QR077", E, "a property id is used twice"),
    c(
        "QR090",
        E,
        "rule_data is not base64 of a well-formed <rule> with a name and tests",
    ),
    c("QR091", E, "a rule uuid is used twice"),
    c(
        "QR092",
        I,
        "rules test QIDs the file does not define (external)",
    ),
    c("QR093", E, "a rule group link points at no group"),
    c("QR094", W, "a rule group link files no rule of the file"),
    c("QR095", W, "a rule's AQL filter does not parse for qrpack"),
    c(
        "QR100",
        E,
        "a log source extension (device_ext/xml) does not decode or parse",
    ),
    c(
        "QR101",
        E,
        "a log source extension matcher uses an undefined pattern",
    ),
    c(
        "QR110",
        W,
        "a log source type's extension sends events to another type id",
    ),
    c(
        "QR111",
        W,
        "a row refers to a custom log source type the file does not define",
    ),
    c(
        "QR112",
        W,
        "a protocol id is neither in the file nor in the catalogue",
    ),
    c(
        "QR113",
        W,
        "a device category is neither in the file nor in the catalogue",
    ),
    c(
        "QR114",
        W,
        "a custom log source type names an extension the file does not define",
    ),
    c("QR115", E, "a log source extension regex does not compile"),
    c(
        "QR116",
        W,
        "a log source extension regex uses Java syntax qrpack cannot check",
    ),
    c(
        "QR117",
        E,
        "a log source extension JSON key path does not parse",
    ),
    c(
        "QR118",
        E,
        "a log source extension matcher uses a capture group its regex lacks",
    ),
    c(
        "QR119",
        I,
        "a log source extension pattern type or field qrpack does not know",
    ),
    c(
        "QR120",
        W,
        "a log source extension defines a pattern id twice",
    ),
    c(
        "QR121",
        W,
        "a matcher and its pattern are of different kinds (JSON, regex)",
    ),
];

/// The registry entry of a code.
pub fn lookup(code: &str) -> Option<&'static Code> {
    PACK.iter().chain(VALIDATE.iter()).find(|c| c.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_sorted() {
        for table in [PACK, VALIDATE] {
            for w in table.windows(2) {
                assert!(w[0].code < w[1].code, "{} then {}", w[0].code, w[1].code);
            }
        }
    }

    /// The frozen list: a code is never renamed or reused. Adding one means adding it
    /// here too; removing or renaming one fails.
    #[test]
    fn code_list_is_frozen() {
        let all: Vec<&str> = PACK.iter().chain(VALIDATE.iter()).map(|c| c.code).collect();
        let frozen = include_str!("../docs/codes.txt");
        let frozen: Vec<&str> = frozen
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .collect();
        assert_eq!(
            all, frozen,
            "docs/codes.txt freezes the list of diagnostic codes"
        );
    }

    #[test]
    fn every_code_has_an_entry_and_an_index_row_in_checks_md() {
        let checks = include_str!("../docs/checks.md");
        for c in PACK.iter().chain(VALIDATE.iter()) {
            assert!(
                checks.lines().any(|l| l == format!("### {}", c.code)),
                "docs/checks.md has no `### {}` entry",
                c.code
            );
            let row = format!("| [{}](#{}) |", c.code, c.code.to_lowercase());
            assert!(
                checks.lines().any(|l| l.starts_with(&row)),
                "docs/checks.md's index has no row for {}",
                c.code
            );
        }
    }

    #[test]
    fn every_code_used_in_the_source_is_registered() {
        // Scan the sources for "PKnnn" literals: a code used but not registered (or the
        // reverse) fails here.
        let sources = [
            include_str!("build.rs"),
            include_str!("custom_dsm.rs"),
            include_str!("spec.rs"),
            include_str!("lock.rs"),
            include_str!("release.rs"),
            include_str!("scaffold.rs"),
            include_str!("validate/archive.rs"),
            include_str!("validate/content.rs"),
            include_str!("validate/content/dsm.rs"),
            include_str!("validate/manifest.rs"),
            include_str!("validate/mod.rs"),
            include_str!("simulate/cases.rs"),
            include_str!("simulate/lint.rs"),
        ];
        let mut used = std::collections::BTreeSet::new();
        for s in sources {
            let b = s.as_bytes();
            for i in 0..b.len().saturating_sub(6) {
                let prefix = &b[i + 1..i + 3];
                if b[i] == b'"'
                    && (prefix == b"PK" || prefix == b"QR")
                    && b[i + 3..i + 6].iter().all(u8::is_ascii_digit)
                    && b[i + 6] == b'"'
                {
                    used.insert(s[i + 1..i + 6].to_string());
                }
            }
        }
        for u in &used {
            assert!(
                lookup(u).is_some(),
                "{u} is used but not registered in codes.rs"
            );
        }
        for c in PACK.iter().chain(VALIDATE.iter()) {
            assert!(
                used.contains(c.code),
                "{} is registered but never used",
                c.code
            );
        }
    }
}
