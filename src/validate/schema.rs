//! The row types QRadar exports hold, with each column's value type, from the real
//! exports and the format notes (`docs/output-format.md`). Unknown row types and columns
//! are information, never errors: QRadar adds them across versions.

/// What a column's value must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Any text.
    Text,
    /// A decimal integer (may be negative; empty means NULL).
    Int,
    /// `true` or `false`.
    Bool,
    /// An RFC 4122 UUID (checked as a warning: only real exports' habit says so).
    Uuid,
    /// Base64 (standard alphabet, padded).
    Base64,
    /// One of a few words (checked as a warning: the full set is not published).
    Enum(&'static [&'static str]),
}

/// A column: name, kind, and whether a row must have it.
pub type Column = (&'static str, Kind, bool);

use Kind::*;

const PROPERTY_TYPES: &[&str] = &["string", "numeric", "ip", "port", "time", "host", "long"];

/// Known row types and their columns.
pub const ROWS: &[(&str, &[Column])] = &[
    (
        "qidmap",
        &[
            ("id", Int, true),
            ("qid", Int, true),
            ("qname", Text, true),
            ("qdescription", Text, false),
            ("severity", Int, true),
            ("lowlevelcategory", Int, true),
            ("catpipename", Text, false),
            ("reverseip", Bool, false),
            ("ratethreshold", Int, false),
            ("rateinterval", Int, false),
            ("rateshortwindow", Int, false),
            ("ratelongwindow", Int, false),
            ("uuid", Uuid, false),
            ("deprecated", Bool, false),
        ],
    ),
    (
        "dsmevent",
        &[
            ("id", Int, true),
            ("devicetypeid", Int, true),
            ("deviceeventid", Text, true),
            ("deviceeventcategory", Text, true),
            ("qidmapid", Int, true),
            ("credibility", Int, false),
            ("customevent", Bool, false),
            ("unravelevent", Int, false),
            ("uuid", Uuid, false),
            ("routepoint", Text, false),
        ],
    ),
    (
        "sensordevicetype",
        &[
            ("id", Int, true),
            ("devicetypename", Text, true),
            ("devicetypedescription", Text, false),
            ("devicecategoryid", Int, false),
            ("devicetypeoverride", Int, false),
            ("devicetypecredibility", Int, false),
            ("defaultlanguageid", Int, false),
            ("dsmparameter", Text, false),
            ("extension_id", Int, false),
            ("mask", Int, false),
            ("uniqueperhost", Bool, false),
            ("uuid", Uuid, false),
            ("default_protocol", Int, false),
            ("latest_version", Text, false),
        ],
    ),
    (
        "sensordevicecategory",
        &[
            ("id", Int, true),
            ("categoryname", Text, true),
            ("categorydescription", Text, false),
        ],
    ),
    (
        "sensordeviceprotocols",
        &[
            ("id", Int, true),
            ("sensordevicetypeid", Int, true),
            ("sensorprotocolid", Int, true),
            ("documented", Bool, false),
        ],
    ),
    (
        "sensorprotocol",
        &[
            ("id", Int, true),
            ("protocolname", Text, true),
            ("protocoldescription", Text, false),
            ("gatewaysupported", Bool, false),
            ("autodiscoverable", Bool, false),
            ("plugin_version", Text, false),
            ("encoding_enabled", Bool, false),
            ("inbound", Bool, false),
            ("bulk_addable", Bool, false),
            ("transmissionprotocol", Text, false),
            ("autodiscoveryport", Int, false),
            ("configurable", Bool, false),
            ("listenportkey", Text, false),
        ],
    ),
    (
        "device_ext",
        &[
            ("id", Int, true),
            ("name", Text, true),
            ("description", Text, false),
            ("enabled", Bool, false),
            ("use_condition", Int, false),
            ("uuid", Uuid, false),
            ("xml", Base64, true),
        ],
    ),
    (
        "ariel_regex_property",
        &[
            ("id", Text, true),
            ("propertyname", Text, true),
            ("propertytype", Enum(PROPERTY_TYPES), true),
            ("database", Text, false),
            ("forceparse", Bool, false),
            ("autodiscovered", Bool, false),
            ("datepattern", Text, false),
            ("languagetag", Text, false),
            ("description", Text, false),
            ("description_id", Text, false),
            ("deprecated", Bool, false),
            ("sequenceid", Int, false),
            ("tenant_id", Int, false),
            ("username", Text, false),
            ("creationdate", Int, false),
            ("editdate", Int, false),
        ],
    ),
    (
        "ariel_property_expression",
        &[
            ("id", Text, true),
            ("ap_id", Text, true),
            ("devicetypeid", Int, false),
            ("deviceid", Int, false),
            ("qid", Int, false),
            ("category", Int, false),
            ("regex", Text, true),
            ("capturegroup", Int, false),
            ("payload", Base64, false),
            ("propertybase", Text, false),
            ("enabled", Bool, false),
            ("rank", Int, false),
            ("sequenceid", Int, false),
            ("username", Text, false),
            ("creationdate", Int, false),
            ("editdate", Int, false),
        ],
    ),
    (
        "ariel_property_json_expression",
        &[
            ("id", Text, true),
            ("ap_id", Text, true),
            ("devicetypeid", Int, false),
            ("deviceid", Int, false),
            ("qid", Int, false),
            ("category", Int, false),
            ("expression", Text, true),
            ("payload", Base64, false),
            ("propertybase", Text, false),
            ("enabled", Bool, false),
            ("rank", Int, false),
            ("sequenceid", Int, false),
            ("username", Text, false),
            ("creationdate", Int, false),
            ("editdate", Int, false),
        ],
    ),
    (
        "content_version",
        &[
            ("id", Int, false),
            ("identifier", Text, false),
            ("content_type", Text, false),
            ("version", Text, false),
        ],
    ),
    (
        "custom_rule",
        &[
            ("id", Int, true),
            ("uuid", Text, true),
            ("link_uuid", Text, false),
            ("origin", Text, false),
            ("rule_type", Int, false),
            ("flags", Int, false),
            ("mod_date", Text, false),
            ("create_date", Text, false),
            ("rule_data", Base64, true),
        ],
    ),
    (
        "fgroup",
        &[
            ("id", Int, true),
            ("parent_id", Int, false),
            ("type_id", Int, false),
            ("level_id", Int, false),
            ("name", Text, true),
            ("description", Text, false),
            ("user_name", Text, false),
            ("modified_date", Text, false),
        ],
    ),
    (
        "fgroup_link",
        &[
            ("id", Int, true),
            ("fgroup_id", Int, true),
            ("item_id", Text, true),
            ("user_name", Text, false),
        ],
    ),
    (
        "fgroup_type",
        &[
            ("id", Int, true),
            ("name", Text, false),
            ("description", Text, false),
            ("class_name", Text, false),
        ],
    ),
];

/// The columns of a known row type.
pub fn columns(table: &str) -> Option<&'static [Column]> {
    ROWS.iter().find(|(t, _)| *t == table).map(|(_, c)| *c)
}

/// A known row type's place in [`ROWS`].
pub fn table_index(table: &str) -> Option<usize> {
    ROWS.iter().position(|(t, _)| *t == table)
}

/// One or more ASCII digits, maybe after a `-`, and short enough for an `i64`: the
/// integers exports hold, recognised without parsing.
fn is_plain_int(value: &str) -> bool {
    let digits = value.strip_prefix('-').unwrap_or(value).as_bytes();
    !digits.is_empty() && digits.len() <= 18 && digits.iter().all(u8::is_ascii_digit)
}

/// Standard padded base64 (whitespace ignored), checked without decoding: the alphabet,
/// padding only at the end, a length that is a multiple of four, and zero trailing bits.
pub fn is_base64(value: &str) -> bool {
    // The usual form first: no whitespace, padding only at the end. The alphabet check
    // has no early exit and no table, so that the compiler can vectorise it.
    let b = value.as_bytes();
    let pad = b.iter().rev().take(2).take_while(|&&c| c == b'=').count();
    let body = &b[..b.len() - pad];
    let alphabet = |c: u8| c.is_ascii_alphanumeric() | (c == b'+') | (c == b'/');
    if body.iter().fold(true, |ok, &c| ok & alphabet(c)) {
        if !b.len().is_multiple_of(4) {
            return false;
        }
        return trailing_bits_clear(body.last().copied(), pad);
    }
    is_base64_slow(value)
}

/// Whether the last data character's unused low bits are zero (canonical encoding).
fn trailing_bits_clear(last: Option<u8>, pad: usize) -> bool {
    let v = match last {
        Some(c @ b'A'..=b'Z') => c - b'A',
        Some(c @ b'a'..=b'z') => c - b'a' + 26,
        Some(c @ b'0'..=b'9') => c - b'0' + 52,
        Some(b'+') => 62,
        Some(b'/') => 63,
        _ => 0,
    };
    match pad {
        1 => v & 0b11 == 0,
        2 => v & 0b1111 == 0,
        _ => true,
    }
}

/// [`is_base64`] one byte at a time: whitespace anywhere, padding checked in place.
fn is_base64_slow(value: &str) -> bool {
    const ALPHA: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    // 0xff: not in the alphabet; else the character's 6-bit value.
    const TABLE: [u8; 256] = {
        let mut t = [0xffu8; 256];
        let mut i = 0;
        while i < 64 {
            t[ALPHA[i] as usize] = i as u8;
            i += 1;
        }
        t
    };
    let mut n = 0usize;
    let mut pad = 0usize;
    let mut last = 0u8;
    for &b in value.as_bytes() {
        match b {
            b' ' | b'\t' | b'\n' | b'\r' => continue,
            b'=' => pad += 1,
            _ if pad > 0 => return false,
            b if TABLE[b as usize] != 0xff => last = b,
            _ => return false,
        }
        n += 1;
    }
    if !n.is_multiple_of(4) || pad > 2 {
        return false;
    }
    // The last data character's unused low bits must be zero (canonical encoding).
    let v = if TABLE[last as usize] == 0xff {
        0
    } else {
        TABLE[last as usize]
    };
    match pad {
        1 => v & 0b11 == 0,
        2 => v & 0b1111 == 0,
        _ => true,
    }
}

/// Whether `value` fits `kind`; `None` when it does, else what is wrong.
pub fn check(kind: Kind, value: &str) -> Option<String> {
    let ok = match kind {
        Text => true,
        Int => value.is_empty() || is_plain_int(value) || value.trim().parse::<i64>().is_ok(),
        Bool => matches!(value, "true" | "false" | ""),
        Uuid => value.is_empty() || uuid::Uuid::try_parse(value).is_ok(),
        Base64 => is_base64(value),
        Enum(words) => value.is_empty() || words.contains(&value),
    };
    if ok {
        return None;
    }
    Some(match kind {
        Int => "is not an integer".into(),
        Bool => "is not true or false".into(),
        Uuid => "is not a UUID".into(),
        Base64 => "is not valid base64".into(),
        Enum(words) => format!("is not one of {}", words.join(", ")),
        Text => String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    #[test]
    fn base64_check_agrees_with_decoding() {
        for s in [
            "",
            "QQ==",
            "QUI=",
            "QUJD",
            "QR==",
            "QUJ=",
            "Q===",
            "QU=I",
            "QUJD\nRA==",
            "ab$c",
            "QUJDR",
            "=QUJ",
            "QUJD===",
            "QUJDRA==",
            "QUJDRB==",
            "QUJDREU=",
            "QUJDREV=",
            "QUJD RA==",
            "==",
            "=",
            "Q=Q=",
            "QUJD\tREU=",
        ] {
            let cleaned: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            let decodes = base64::engine::general_purpose::STANDARD
                .decode(&cleaned)
                .is_ok();
            assert_eq!(is_base64(s), decodes, "{s:?}");
            assert_eq!(is_base64_slow(s), decodes, "{s:?}");
        }
    }

    #[test]
    fn integer_check_agrees_with_parsing() {
        for s in [
            "0",
            "-1",
            "123456789012345678",
            "1234567890123456789",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-",
            "",
            " 12 ",
            "+5",
            "1e3",
            "0x10",
            "١٢",
        ] {
            let parses = s.is_empty() || s.trim().parse::<i64>().is_ok();
            assert_eq!(check(Kind::Int, s).is_none(), parses, "{s:?}");
            if is_plain_int(s) {
                assert!(parses, "{s:?}");
            }
        }
    }
}
