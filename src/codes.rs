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
    c("PK090", E, "the archive cannot be written"),
];

/// The registry entry of a code.
pub fn lookup(code: &str) -> Option<&'static Code> {
    PACK.iter().find(|c| c.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_sorted() {
        for w in PACK.windows(2) {
            assert!(w[0].code < w[1].code, "{} then {}", w[0].code, w[1].code);
        }
    }

    #[test]
    fn every_code_used_in_the_source_is_registered() {
        // Scan the sources for "PKnnn" literals: a code used but not registered (or the
        // reverse) fails here.
        let sources = [
            include_str!("build.rs"),
            include_str!("spec.rs"),
            include_str!("lock.rs"),
        ];
        let mut used = std::collections::BTreeSet::new();
        for s in sources {
            let b = s.as_bytes();
            for i in 0..b.len().saturating_sub(6) {
                if b[i] == b'"'
                    && &b[i + 1..i + 3] == b"PK"
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
        for c in PACK {
            assert!(
                used.contains(c.code),
                "{} is registered but never used",
                c.code
            );
        }
    }
}
