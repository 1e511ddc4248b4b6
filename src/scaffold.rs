//! `qrpack new` / `qrpack init`: a new pack from the templates in
//! `extension-templates/<kind>/`, embedded in the binary so that an installed qrpack
//! works from any folder.
//!
//! A template file's name maps to the written name: `pack.toml` → `<file>.toml`,
//! `pack.tests.toml` → `<file>.tests.toml`, `gitignore` → `.gitignore`; other files keep
//! their path. In the text, `%%NAME%%` and `%%HUB_ID%%` become TOML strings (quoted and
//! escaped by the TOML writer, so any name is safe) and `%%FILE%%` the file stem (letters,
//! digits, `.`, `_`, `-` only). The JSON Schemas (`schema/`) come from [`crate::schema`].

use std::path::{Path, PathBuf};

use crate::diag::Diagnostic;
use crate::schema::{self, Which};

/// The kinds of pack a template exists for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// New QIDs and mappings on a built-in DSM.
    BuiltinDsm,
    /// Rules, properties and searches over a built-in DSM's own events: no QID map
    /// entries for device events.
    DetectionOnly,
}

impl Kind {
    pub fn folder(self) -> &'static str {
        match self {
            Kind::BuiltinDsm => "builtin-dsm",
            Kind::DetectionOnly => "detection-only",
        }
    }

    /// The template's files: (path inside `extension-templates/<kind>/`, text).
    pub fn templates(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Kind::BuiltinDsm => BUILTIN_DSM,
            Kind::DetectionOnly => DETECTION_ONLY,
        }
    }
}

macro_rules! template {
    ($kind:literal, $($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!("../extension-templates/", $kind, "/", $path)))),*]
    };
}

const BUILTIN_DSM: &[(&str, &str)] = template!(
    "builtin-dsm",
    "pack.toml",
    "pack.tests.toml",
    "tests/events/role-assignments.ndjson",
    "gitignore",
    "README.md",
);

const DETECTION_ONLY: &[(&str, &str)] = template!(
    "detection-only",
    "pack.toml",
    "pack.tests.toml",
    "tests/events/role-assignments.ndjson",
    "gitignore",
    "README.md",
);

/// What to put into the templates.
#[derive(Debug, Clone)]
pub struct Params {
    /// The file stem of the pack (`<file>.toml`).
    pub file: String,
    /// `[extension] name`.
    pub name: String,
    /// `[extension] hub_id`.
    pub hub_id: String,
}

impl Params {
    /// The parameters for a pack in `folder`: names default to the folder's name.
    pub fn new(
        folder: &Path,
        name: Option<&str>,
        hub_id: Option<&str>,
    ) -> Result<Params, Box<Diagnostic>> {
        let folder_name = folder
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| !n.trim().is_empty() && n != "." && n != "..")
            .unwrap_or_else(|| "my-pack".to_string());
        let name = match name {
            Some(n) => checked("--name", n)?,
            None => folder_name.clone(),
        };
        let hub_id = match hub_id {
            Some(h) => checked("--hub-id", h)?,
            None => format!("local:{name}"),
        };
        let mut file = crate::archive::slug_file_name(&folder_name);
        if file == "extension" {
            file = "pack".into();
        }
        Ok(Params { file, name, hub_id })
    }
}

/// A name or hub id must be printable text: QRadar shows it on one line.
fn checked(option: &str, v: &str) -> Result<String, Box<Diagnostic>> {
    let bad = |why: String| {
        Box::new(
            Diagnostic::error("PK141", format!("{option} {v:?} {why}")).help(format!(
                "give {option} one line of printable text, e.g. {option} \"Entra ID role assignments\""
            )),
        )
    };
    if v.trim().is_empty() {
        return Err(bad("is empty".into()));
    }
    if let Some(c) = v.chars().find(|c| c.is_control()) {
        return Err(bad(format!("has a control character (U+{:04X})", c as u32)));
    }
    if v.chars().count() > 255 {
        return Err(bad(format!(
            "is {} characters long (at most 255)",
            v.chars().count()
        )));
    }
    Ok(v.to_string())
}

/// The written path of a template file.
fn target(path: &str, file: &str) -> String {
    match path {
        "pack.toml" => format!("{file}.toml"),
        "pack.tests.toml" => format!("{file}.tests.toml"),
        "gitignore" => ".gitignore".into(),
        other => other.into(),
    }
}

/// A TOML string holding `v`, quoted and escaped by the TOML writer.
fn toml_string(v: &str) -> String {
    toml::Value::String(v.to_string()).to_string()
}

/// Fill one template's text.
pub fn render(text: &str, p: &Params) -> String {
    text.replace("%%NAME%%", &toml_string(&p.name))
        .replace("%%HUB_ID%%", &toml_string(&p.hub_id))
        .replace("%%FILE%%", &p.file)
}

/// Every file of a new pack: (path relative to the pack's folder, bytes), sorted.
pub fn files(kind: Kind, p: &Params) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out: Vec<(PathBuf, Vec<u8>)> = kind
        .templates()
        .iter()
        .map(|(path, text)| {
            (
                PathBuf::from(target(path, &p.file)),
                render(text, p).into_bytes(),
            )
        })
        .collect();
    for which in [Which::Pack, Which::Tests] {
        out.push((
            Path::new("schema").join(schema::file_name(which)),
            schema::text(which).into_bytes(),
        ));
    }
    out.sort();
    out
}

/// What writing a new pack did.
#[derive(Debug, Default)]
pub struct Written {
    /// Files created.
    pub created: Vec<PathBuf>,
    /// Files that were already there with the same bytes (left alone).
    pub unchanged: Vec<PathBuf>,
}

/// Why a new pack was not written.
#[derive(Debug)]
pub enum WriteError {
    /// Files that exist with other content: nothing was written (PK140).
    Exists(Vec<Diagnostic>),
    /// An I/O failure; whatever this call had written was removed.
    Io(String),
}

/// Write `files` below `dir`, never replacing a file: if any exists with other content,
/// nothing is written. A failure half-way removes what this call wrote.
pub fn write(dir: &Path, files: &[(PathBuf, Vec<u8>)]) -> Result<Written, WriteError> {
    let mut done = Written::default();
    let mut todo = Vec::new();
    let mut clashes = Vec::new();
    for (rel, bytes) in files {
        let path = dir.join(rel);
        match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => todo.push((path, bytes)),
            Err(e) => {
                return Err(WriteError::Io(format!(
                    "cannot look at {}: {e}",
                    path.display()
                )));
            }
            Ok(m) => {
                let same = m.is_file() && std::fs::read(&path).ok().as_deref() == Some(bytes);
                if same {
                    done.unchanged.push(path);
                } else {
                    clashes.push(
                        Diagnostic::error(
                            "PK140",
                            format!("{} already exists", path.display()),
                        )
                        .help("qrpack never overwrites a file: create the pack in another folder (`qrpack new PATH`), or move this file away first"),
                    );
                }
            }
        }
    }
    if !clashes.is_empty() {
        return Err(WriteError::Exists(clashes));
    }
    let mut made_dirs: Vec<PathBuf> = Vec::new();
    let result = (|| -> Result<(), String> {
        for (path, bytes) in &todo {
            let parent = path.parent().unwrap_or(Path::new("."));
            // Remember the folders this call creates, outermost first.
            let mut missing = Vec::new();
            let mut p = parent;
            while !p.as_os_str().is_empty() && !p.exists() {
                missing.push(p.to_path_buf());
                match p.parent() {
                    Some(up) => p = up,
                    None => break,
                }
            }
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
            made_dirs.extend(missing.into_iter().rev());
            let mut tmp = tempfile::Builder::new()
                .prefix(".qrpack-")
                .suffix(".tmp")
                .tempfile_in(parent)
                .map_err(|e| format!("cannot write into {}: {e}", parent.display()))?;
            std::io::Write::write_all(&mut tmp, bytes)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                tmp.as_file()
                    .set_permissions(std::fs::Permissions::from_mode(0o644))
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            }
            // No-clobber: a file that appeared meanwhile is not replaced either.
            tmp.persist_noclobber(path)
                .map_err(|e| format!("cannot create {}: {}", path.display(), e.error))?;
            done.created.push(path.clone());
        }
        Ok(())
    })();
    if let Err(m) = result {
        for p in &done.created {
            let _ = std::fs::remove_file(p);
        }
        for d in made_dirs.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
        return Err(WriteError::Io(m));
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(name: &str) -> Params {
        Params::new(Path::new("/x/entra-roles"), Some(name), None).expect("params")
    }

    #[test]
    fn names_are_substituted_as_toml_strings() {
        for name in [
            "Entra ID roles",
            "quote \" and backslash \\ and '''",
            "ünïcödé – dash",
            "trailing ",
            "#not a comment",
            "%%NAME%%",
        ] {
            let p = params(name);
            for kind in [Kind::BuiltinDsm, Kind::DetectionOnly] {
                let text = render(kind.templates()[0].1, &p);
                let v: toml::Value = toml::from_str(&text).expect("valid TOML");
                assert_eq!(v["extension"]["name"].as_str(), Some(name));
                assert_eq!(
                    v["extension"]["hub_id"].as_str(),
                    Some(format!("local:{name}").as_str())
                );
                assert_eq!(v["test_files"][0].as_str(), Some("entra-roles.tests.toml"));
            }
        }
    }

    #[test]
    fn bad_names_are_refused() {
        for (n, why) in [
            ("", "is empty"),
            ("  ", "is empty"),
            ("two\nlines", "U+000A"),
            ("tab\there", "U+0009"),
        ] {
            let e = Params::new(Path::new("p"), Some(n), None).expect_err("refused");
            assert_eq!(e.code, "PK141");
            assert!(e.message.contains(why), "{}", e.message);
            let e = Params::new(Path::new("p"), None, Some(n)).expect_err("refused");
            assert!(e.message.starts_with("--hub-id"), "{}", e.message);
        }
        let long = "x".repeat(256);
        assert!(Params::new(Path::new("p"), Some(&long), None).is_err());
        assert!(Params::new(Path::new("p"), Some(&"x".repeat(255)), None).is_ok());
    }

    #[test]
    fn defaults_come_from_the_folder() {
        let p = Params::new(Path::new("/tmp/My Detections (EU)"), None, None).expect("p");
        assert_eq!(p.name, "My Detections (EU)");
        assert_eq!(p.hub_id, "local:My Detections (EU)");
        assert_eq!(p.file, "My-Detections-EU");
        let p = Params::new(Path::new("/"), None, None).expect("p");
        assert_eq!(p.file, "my-pack");
    }

    #[test]
    fn no_marker_is_left_and_every_template_file_is_embedded() {
        let marker = regex::Regex::new(r"%%[A-Z_]+%%").expect("regex");
        for kind in [Kind::BuiltinDsm, Kind::DetectionOnly] {
            for (path, bytes) in files(kind, &params("n")) {
                let text = String::from_utf8(bytes).expect("utf-8");
                assert!(
                    !marker.is_match(&text),
                    "{}: {:?}",
                    path.display(),
                    marker.find(&text)
                );
            }
            // The embedded list is the folder's content: no file forgotten.
            let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("extension-templates")
                .join(kind.folder());
            let mut on_disk = Vec::new();
            fn walk(base: &Path, d: &Path, out: &mut Vec<String>) {
                for e in std::fs::read_dir(d).expect("read_dir").flatten() {
                    let p = e.path();
                    if p.is_dir() {
                        walk(base, &p, out);
                    } else {
                        out.push(
                            p.strip_prefix(base)
                                .expect("below")
                                .to_string_lossy()
                                .replace('\\', "/"),
                        );
                    }
                }
            }
            walk(&dir, &dir, &mut on_disk);
            on_disk.sort();
            let mut embedded: Vec<String> = kind
                .templates()
                .iter()
                .map(|(p, _)| p.to_string())
                .collect();
            embedded.sort();
            assert_eq!(
                embedded, on_disk,
                "src/scaffold.rs lists every template file"
            );
        }
    }

    #[test]
    fn write_refuses_to_replace_and_writes_nothing() {
        let dir = tempfile::tempdir().expect("tmp");
        let files = files(Kind::BuiltinDsm, &params("n"));
        let first = write(dir.path(), &files).expect("written");
        assert_eq!(first.created.len(), files.len());
        // Same bytes again: nothing to do.
        let again = write(dir.path(), &files).expect("idempotent");
        assert!(again.created.is_empty());
        assert_eq!(again.unchanged.len(), files.len());
        // Other content: refused, with one PK140 per clash, and nothing touched.
        let other = super::files(Kind::BuiltinDsm, &params("other name"));
        let pack = dir.path().join("entra-roles.toml");
        let before = std::fs::read(&pack).expect("read");
        match write(dir.path(), &other) {
            Err(WriteError::Exists(d)) => {
                assert!(d.iter().all(|d| d.code == "PK140"));
                assert!(d.iter().any(|d| d.message.contains("entra-roles.toml")));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(std::fs::read(&pack).expect("read"), before);
    }

    #[test]
    fn a_failure_half_way_leaves_nothing() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(dir.path().join("kept.txt"), b"mine").expect("write");
        // The second `z.txt` fails (no-clobber) after the others were written.
        let files = vec![
            (PathBuf::from("a.txt"), b"a".to_vec()),
            (PathBuf::from("d/e/f.txt"), b"f".to_vec()),
            (PathBuf::from("z.txt"), b"z".to_vec()),
            (PathBuf::from("z.txt"), b"z".to_vec()),
        ];
        let r = write(dir.path(), &files);
        assert!(
            matches!(&r, Err(WriteError::Io(m)) if m.contains("z.txt")),
            "{r:?}"
        );
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .expect("read_dir")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("kept.txt")]);
    }
}
