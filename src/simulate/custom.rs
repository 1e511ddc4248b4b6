//! A custom DSM's parsing, simulated from its `<device-extension>`: for each field, the
//! matchers in their order (regex `<matcher>`s and `<json-matcher>`s in one list,
//! **[ibm]**), the first that yields a value wins. The engine asks it for the `[dsm]`
//! template placeholders (`event_name`, `event_category`) and for the normalized fields
//! AQL reads (`username`, `sourceip`, `starttime`, …).
//!
//! **[guess]** an empty value counts as no value (the next matcher is tried); a
//! multi-key-path JSON pattern with a missing key yields nothing; DeviceTime's `ext-data`
//! is read as a Java date format of which qrpack understands the common letters (`y M d H
//! m s S X Z` and quoted text).

use std::borrow::Cow;
use std::collections::HashMap;

use super::scan::{PathId, PathSet, Scan};
use crate::device_ext::{DeviceExtension, JsonPiece, parse_json_pattern};

/// A piece of a JSON pattern, its key paths added to the simulator's [`PathSet`].
enum Piece {
    Literal(String),
    Path(PathId),
}

enum Extract {
    Json(Vec<Piece>),
    /// A regex and the `capture-group` value: a group number or a substitution (`\1:\2`).
    Regex(regex::Regex, String),
}

struct FieldMatcher {
    order: i64,
    extract: Extract,
    /// `ext-data` (DeviceTime's date format).
    ext_data: Option<String>,
}

/// The parsing of one custom DSM, ready to run.
pub struct Parser {
    /// QRadar field name (`EventName`) → matchers, in order.
    fields: HashMap<String, Vec<FieldMatcher>>,
}

/// The QRadar field a name stands for: a `[parsing]` key (`user_name`), a QRadar field
/// (`UserName`), or what the simulator's AQL asks for (`username`, `time`).
fn qradar_name(name: &str) -> Option<&str> {
    if let Some(q) = crate::custom_dsm::qradar_field(name) {
        return Some(q);
    }
    if crate::custom_dsm::pack_key(name).is_some() {
        return Some(name);
    }
    Some(match name {
        "username" => "UserName",
        "sourceip" => "SourceIp",
        "destinationip" => "DestinationIp",
        "sourceport" => "SourcePort",
        "destinationport" => "DestinationPort",
        "time" => "DeviceTime",
        _ => return None,
    })
}

impl Parser {
    /// Compile the extension's matchers; what cannot run is said in `problems`.
    /// The key paths of JSON patterns are added to `paths`, which the simulator's
    /// single pass over each record then finds.
    pub fn new(ext: &DeviceExtension, problems: &mut Vec<String>, paths: &mut PathSet) -> Parser {
        let mut fields: HashMap<String, Vec<FieldMatcher>> = HashMap::new();
        for g in &ext.groups {
            for m in &g.matchers {
                let Some(p) = ext.patterns.iter().find(|p| p.id == m.pattern_id) else {
                    problems.push(format!(
                        "{}: pattern \"{}\" is not defined; that matcher is not simulated",
                        m.field, m.pattern_id
                    ));
                    continue;
                };
                let extract = if m.json {
                    match parse_json_pattern(&p.text) {
                        Ok(pieces) => Extract::Json(
                            pieces
                                .into_iter()
                                .map(|p| match p {
                                    JsonPiece::Literal(l) => Piece::Literal(l),
                                    JsonPiece::Path(k) => Piece::Path(paths.add(&k)),
                                })
                                .collect(),
                        ),
                        Err(e) => {
                            problems.push(format!(
                                "{}: pattern \"{}\" is not a key path ({e}); not simulated",
                                m.field, p.id
                            ));
                            continue;
                        }
                    }
                } else {
                    if crate::validate::content::java_only(&p.text).is_some() {
                        problems.push(format!(
                            "{}: pattern \"{}\" uses Java-only regex syntax; not simulated",
                            m.field, p.id
                        ));
                        continue;
                    }
                    match regex::Regex::new(&p.text) {
                        Ok(re) => Extract::Regex(
                            re,
                            m.capture_group.clone().unwrap_or_else(|| "0".into()),
                        ),
                        Err(_) => {
                            problems.push(format!(
                                "{}: pattern \"{}\" does not compile; not simulated",
                                m.field, p.id
                            ));
                            continue;
                        }
                    }
                };
                fields
                    .entry(m.field.clone())
                    .or_default()
                    .push(FieldMatcher {
                        order: m.order.trim().parse().unwrap_or(i64::MAX),
                        extract,
                        ext_data: m.ext_data.clone(),
                    });
            }
        }
        for ms in fields.values_mut() {
            // A stable sort: equal orders keep the document's order.
            ms.sort_by_key(|m| m.order);
        }
        Parser { fields }
    }

    /// Does the parsing fill this field?
    pub fn has(&self, name: &str) -> bool {
        qradar_name(name).is_some_and(|q| self.fields.contains_key(q))
    }

    /// Every field the parsing fills, by `[parsing]` key, for one record.
    pub fn all(
        &self,
        scan: &Scan,
        raw: &str,
    ) -> std::collections::BTreeMap<String, Option<String>> {
        crate::custom_dsm::FIELDS
            .iter()
            .filter(|(_, q)| self.fields.contains_key(*q))
            .map(|(k, _)| (k.to_string(), self.field(k, scan, raw).map(Cow::into_owned)))
            .collect()
    }

    /// The value of a field for one record (its scan and text), or `None`. DeviceTime
    /// (`time`) comes back as RFC 3339 when its date format could be read.
    pub fn field<'t>(&self, name: &str, scan: &Scan, raw: &'t str) -> Option<Cow<'t, str>> {
        let q = qradar_name(name)?;
        for m in self.fields.get(q)? {
            let value = match &m.extract {
                Extract::Json(pieces) => json_value(pieces, scan, raw),
                Extract::Regex(re, capture) => regex_value(re, capture, raw),
            };
            let Some(v) = value.filter(|v| !v.is_empty()) else {
                continue;
            };
            if q == "DeviceTime"
                && let Some(fmt) = &m.ext_data
            {
                // A value the format does not read gives no time (QRadar then keeps the
                // time it received the event); an unsupported format passes it on.
                return match parse_java_time(&v, fmt) {
                    Some(Ok(ms)) => Some(Cow::Owned(rfc3339(ms))),
                    Some(Err(())) => None,
                    None => Some(v),
                };
            }
            return Some(v);
        }
        None
    }
}

fn json_value<'t>(pieces: &[Piece], scan: &Scan, raw: &'t str) -> Option<Cow<'t, str>> {
    if let [Piece::Path(k)] = pieces {
        return scan.extract(raw, *k);
    }
    let mut out = String::new();
    for p in pieces {
        match p {
            Piece::Literal(l) => out.push_str(l),
            Piece::Path(k) => out.push_str(&scan.extract(raw, *k)?),
        }
    }
    Some(Cow::Owned(out))
}

fn regex_value<'t>(re: &regex::Regex, capture: &str, raw: &'t str) -> Option<Cow<'t, str>> {
    let caps = re.captures(raw)?;
    if let Ok(n) = capture.trim().parse::<usize>() {
        return caps.get(n).map(|m| Cow::Borrowed(m.as_str()));
    }
    let b = capture.as_bytes();
    if b.len() == 2 && b[0] == b'\\' && b[1].is_ascii_digit() {
        return caps
            .get((b[1] - b'0') as usize)
            .map(|m| Cow::Borrowed(m.as_str()));
    }
    // A substitution: \1…\9 replaced by groups, other text kept [ibm].
    let mut out = String::new();
    let mut chars = capture.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('\\', Some(d)) if d.is_ascii_digit() => {
                let n = d.to_digit(10).unwrap_or(0) as usize;
                chars.next();
                out.push_str(caps.get(n).map_or("", |m| m.as_str()));
            }
            _ => out.push(c),
        }
    }
    Some(Cow::Owned(out))
}

/// Read `value` with a Java date format. `None`: the format uses letters qrpack does not
/// read; `Some(Err)`: the value does not fit the format. Times without a zone are UTC.
pub fn parse_java_time(value: &str, format: &str) -> Option<Result<i64, ()>> {
    let f: Vec<char> = format.chars().collect();
    let v = value.as_bytes();
    let (mut year, mut month, mut day, mut hour, mut minute, mut second) = (1970i64, 1, 1, 0, 0, 0);
    let mut millis = 0i64;
    let mut offset_min = 0i64;
    let mut i = 0; // in the format
    let mut at = 0; // in the value
    let digits = |at: &mut usize, max: usize| -> Option<i64> {
        let start = *at;
        while *at < v.len() && *at - start < max && v[*at].is_ascii_digit() {
            *at += 1;
        }
        (*at > start)
            .then(|| value[start..*at].parse().ok())
            .flatten()
    };
    while i < f.len() {
        let c = f[i];
        let mut n = 1;
        while i + n < f.len() && f[i + n] == c && c.is_ascii_alphabetic() {
            n += 1;
        }
        match c {
            '\'' => {
                // Quoted text; '' is a quote.
                let mut j = i + 1;
                let mut lit = String::new();
                while j < f.len() && f[j] != '\'' {
                    lit.push(f[j]);
                    j += 1;
                }
                if lit.is_empty() {
                    lit.push('\'');
                }
                if !value[at..].starts_with(&lit) {
                    return Some(Err(()));
                }
                at += lit.len();
                i = j + 1;
                continue;
            }
            'y' => {
                let Some(y) = digits(&mut at, if n == 2 { 2 } else { 4 }) else {
                    return Some(Err(()));
                };
                year = if n == 2 { 2000 + y } else { y };
            }
            'M' if n >= 3 => {
                const MONTHS: [&str; 12] = [
                    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
                    "dec",
                ];
                let Some(m) = value.get(at..at + 3).map(str::to_ascii_lowercase) else {
                    return Some(Err(()));
                };
                let Some(k) = MONTHS.iter().position(|x| *x == m) else {
                    return Some(Err(()));
                };
                month = k as i64 + 1;
                at += 3;
                // A full month name: skip its remaining letters.
                while n >= 4 && at < v.len() && v[at].is_ascii_alphabetic() {
                    at += 1;
                }
            }
            'M' | 'd' | 'H' | 'm' | 's' => {
                let Some(x) = digits(&mut at, 2) else {
                    return Some(Err(()));
                };
                match c {
                    'M' => month = x,
                    'd' => day = x,
                    'H' => hour = x,
                    'm' => minute = x,
                    _ => second = x,
                }
            }
            'S' => {
                // Every digit there is, read as a fraction of a second.
                let start = at;
                while at < v.len() && v[at].is_ascii_digit() {
                    at += 1;
                }
                let frac = &value[start..at];
                if frac.is_empty() {
                    return Some(Err(()));
                }
                millis = format!("{frac:0<3}")[..3].parse().unwrap_or(0);
            }
            'X' | 'Z' => match v.get(at) {
                Some(b'Z') => at += 1,
                Some(sign @ (b'+' | b'-')) => {
                    let sign = if *sign == b'-' { -1 } else { 1 };
                    at += 1;
                    let Some(h) = digits(&mut at, 2) else {
                        return Some(Err(()));
                    };
                    if v.get(at) == Some(&b':') {
                        at += 1;
                    }
                    let m = digits(&mut at, 2).unwrap_or(0);
                    offset_min = sign * (h * 60 + m);
                }
                _ => return Some(Err(())),
            },
            c if c.is_ascii_alphabetic() => return None,
            c => {
                if v.get(at) != Some(&(c as u8)) {
                    return Some(Err(()));
                }
                at += 1;
            }
        }
        i += n;
    }
    if at != v.len()
        || !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
        || !(1970..=9999).contains(&year)
    {
        return Some(Err(()));
    }
    let stamp = crate::archive::Stamp {
        year: year as u16,
        month: month as u8,
        day: day as u8,
        hour: hour as u8,
        minute: minute as u8,
        second: second as u8,
    };
    Some(Ok((stamp.to_unix() - offset_min * 60) * 1000 + millis))
}

fn rfc3339(ms: i64) -> String {
    let s = crate::archive::Stamp::from_unix(ms.div_euclid(1000));
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        s.year,
        s.month,
        s.day,
        s.hour,
        s.minute,
        s.second,
        ms.rem_euclid(1000)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_dates() {
        let f = "yyyy-MM-dd'T'HH:mm:ss.SSSX";
        assert_eq!(
            parse_java_time("2026-01-14T09:12:45.1234567Z", f),
            Some(Ok(crate::simulate::engine::parse_time_ms(
                "2026-01-14T09:12:45.123Z"
            )
            .unwrap_or(0)))
        );
        assert_eq!(parse_java_time("2026-01-14 09:12", f), Some(Err(())));
        assert_eq!(parse_java_time("x", "EEE"), None);
        assert_eq!(
            parse_java_time("14/Jan/2026:01:00:00 +0100", "dd/MMM/yyyy:HH:mm:ss Z"),
            Some(Ok(1_768_348_800_000))
        );
        assert_eq!(rfc3339(1_768_348_800_123), "2026-01-14T00:00:00.123Z");
    }
}
