//! Extension archives on disk: a reproducible zip writer (fixed order, fixed DOS
//! timestamps, no host metadata, as QRadar's exports), atomic file writes, and
//! `SHA256SUMS`.

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use thiserror::Error;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, System, ZipWriter};

#[derive(Debug, Error)]
pub enum ArchiveError {
    #[error("cannot write the archive: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the build time {0} is outside what a zip can record (1980–2107)")]
    Time(String),
}

/// A calendar time, UTC, to the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

impl Stamp {
    /// From seconds since the Unix epoch (as `SOURCE_DATE_EPOCH`).
    pub fn from_unix(secs: i64) -> Stamp {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        Stamp {
            year: y as u16,
            month: m as u8,
            day: d as u8,
            hour: (rem / 3600) as u8,
            minute: (rem % 3600 / 60) as u8,
            second: (rem % 60) as u8,
        }
    }

    pub fn to_unix(self) -> i64 {
        days_from_civil(self.year as i64, self.month as i64, self.day as i64) * 86_400
            + self.hour as i64 * 3600
            + self.minute as i64 * 60
            + self.second as i64
    }

    /// `yyyyMMddHHmmss`, as in QRadar's content file names.
    pub fn compact(self) -> String {
        format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// ISO-8601 with milliseconds and offset, as `custom_rule` dates.
    pub fn iso(self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.000+00:00",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    fn zip_time(self) -> Result<DateTime, ArchiveError> {
        DateTime::from_date_and_time(
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
        )
        .map_err(|_| ArchiveError::Time(self.iso()))
    }
}

// Howard Hinnant's civil-date algorithms (public domain).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A zip of `entries` (name, bytes) in the order given: deflated, at the root, DOS
/// timestamps, no Unix permissions or extra fields. The same input gives the same bytes.
pub fn write_zip(entries: &[(&str, &[u8])], stamp: Stamp) -> Result<Vec<u8>, ArchiveError> {
    let mut streamed: Vec<(&str, Contents)> = entries
        .iter()
        .map(|(name, bytes)| -> (&str, Contents) {
            (name, Box::new(move |w: &mut dyn Write| w.write_all(bytes)))
        })
        .collect();
    write_zip_streamed(&mut streamed, stamp)
}

/// What writes one entry's bytes into the zip, in as many pieces as it likes.
pub type Contents<'a> = Box<dyn FnMut(&mut dyn Write) -> std::io::Result<()> + 'a>;

/// [`write_zip`] with each entry written by a function as it is compressed, rather than
/// collected first. The same contents written in the same pieces give the same bytes;
/// other pieces can give other bytes (DEFLATE's output depends on how its input arrives).
pub fn write_zip_streamed(
    entries: &mut [(&str, Contents)],
    stamp: Stamp,
) -> Result<Vec<u8>, ArchiveError> {
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        // Level 1: a third of level 6's time on large packs for ~25% more bytes; QRadar
        // reads any DEFLATE level.
        .compression_level(Some(1))
        .system(System::Dos)
        // No Unix mode bits and no DOS attributes, as QRadar's own exports.
        .external_attributes(0)
        .last_modified_time(stamp.zip_time()?);
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, contents) in entries {
        zip.start_file(*name, options)?;
        contents(&mut zip).map_err(|e| ArchiveError::Io {
            action: "compressing",
            path: PathBuf::from(*name),
            source: e,
        })?;
    }
    Ok(zip.finish()?.into_inner())
}

/// Write `bytes` to `path` atomically: a temporary file in the same folder, renamed over
/// the target once complete. A failure leaves any earlier file untouched.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ArchiveError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let io = |action, source| ArchiveError::Io {
        action,
        path: path.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(|e| io("creating the folder of", e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".qrpack-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| io("creating a temporary file beside", e))?;
    tmp.write_all(bytes).map_err(|e| io("writing", e))?;
    // tempfile creates 0600 files; an artefact is meant to be read by others (CI, web
    // servers), like any file the user's tools write.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(|e| io("setting permissions of", e))?;
    }
    tmp.as_file().sync_all().map_err(|e| io("flushing", e))?;
    tmp.persist(path)
        .map_err(|e| io("renaming into place", e.error))?;
    Ok(())
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest.iter() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// `SHA256SUMS` in the `sha256sum -c` format (`<hex>  <name>`), sorted by name.
pub fn sha256sums(files: &[(String, &[u8])]) -> String {
    let mut lines: Vec<String> = files
        .iter()
        .map(|(name, bytes)| format!("{}  {}\n", sha256_hex(bytes), name))
        .collect();
    lines.sort_by(|a, b| a[66..].cmp(&b[66..]));
    lines.concat()
}

/// A file name without spaces, for artefacts people type and scripts pass around.
pub fn slug_file_name(name: &str) -> String {
    let s = safe_file_name(name);
    let mut out = String::with_capacity(s.len());
    for c in s.chars().filter(|c| !matches!(c, '(' | ')')) {
        let c = if c == ' ' { '-' } else { c };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    let out = out.trim_matches('-').to_string();
    if out.is_empty() {
        "extension".into()
    } else {
        out
    }
}

/// A file name made safe on every platform: keeps letters, digits, space, `.`, `_`,
/// `-`, `(`, `)`; replaces anything else with `-`.
pub fn safe_file_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || " ._-()".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_matches(|c: char| c == ' ' || c == '.').to_string();
    if s.is_empty() { "extension".into() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_time_round_trips() {
        for secs in [0i64, 951_782_400, 1_764_288_000, 4_102_444_799] {
            assert_eq!(Stamp::from_unix(secs).to_unix(), secs);
        }
        let s = Stamp::from_unix(1_764_288_000); // 2025-11-28T00:00:00Z
        assert_eq!(s.compact(), "20251128000000");
        assert_eq!(s.iso(), "2025-11-28T00:00:00.000+00:00");
    }

    #[test]
    fn zip_is_reproducible_and_readable() {
        let entries: [(&str, &[u8]); 2] = [("a.xml", b"<content/>"), ("manifest.txt", b"{}")];
        let stamp = Stamp::from_unix(1_764_288_000);
        let a = write_zip(&entries, stamp).unwrap_or_default();
        let b = write_zip(&entries, stamp).unwrap_or_default();
        assert!(!a.is_empty());
        assert_eq!(a, b);
        let mut z = zip::ZipArchive::new(Cursor::new(a)).expect("readable zip");
        assert_eq!(z.len(), 2);
        let f = z.by_index(0).expect("entry 0");
        assert_eq!(f.name().ok().as_deref(), Some("a.xml"));
        assert_eq!(f.compression(), CompressionMethod::Deflated);
        assert_eq!(f.unix_mode(), None);
    }

    #[test]
    fn years_before_1980_are_refused() {
        let err = write_zip(&[], Stamp::from_unix(0)).err();
        assert!(matches!(err, Some(ArchiveError::Time(_))));
    }

    #[test]
    fn sums_are_in_sha256sum_format() {
        let s = sha256sums(&[("b".into(), b"x"), ("a".into(), b"")]);
        assert_eq!(
            s,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  a\n\
             2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881  b\n"
        );
    }

    #[test]
    fn names_are_made_safe() {
        assert_eq!(safe_file_name("qrpack:entra/x"), "qrpack-entra-x");
        assert_eq!(safe_file_name("Entra ID – T1098"), "Entra ID - T1098");
        assert_eq!(safe_file_name(".."), "extension");
        assert_eq!(slug_file_name("qrpack:Entra ID  x"), "qrpack-Entra-ID-x");
        assert_eq!(
            slug_file_name("T1098.001 Entra (24h)"),
            "T1098.001-Entra-24h"
        );
    }
}
