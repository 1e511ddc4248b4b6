//! `manifest.txt`: the extension's JSON manifest, in the shape of QRadar's own exports,
//! and IBM's pre-validation rules for it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The whole file: `{"doc": {"extension_manifest": …}, "_id": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub doc: Doc,
    #[serde(rename = "_id")]
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Doc {
    pub extension_manifest: ExtensionManifest,
}

/// Field order follows the real exports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtensionManifest {
    pub min_qradar_version: String,
    pub authored_by: String,
    pub authored_by_email: String,
    pub package_size: String,
    pub supported_language_set: Vec<String>,
    /// A localisation key looked up in `locale`.
    pub extension_name: String,
    /// A localisation key looked up in `locale`.
    pub extension_long_description: String,
    pub locale: BTreeMap<String, BTreeMap<String, String>>,
    pub version: String,
}

pub const NAME_KEY: &str = "extension.name";
pub const DESCRIPTION_KEY: &str = "extension.long.description";

impl Manifest {
    pub fn new(
        hub_id: &str,
        name: &str,
        description: &str,
        version: &str,
        author: &str,
        email: &str,
        min_qradar_version: &str,
    ) -> Manifest {
        let mut strings = BTreeMap::new();
        strings.insert(DESCRIPTION_KEY.to_string(), description.to_string());
        strings.insert(NAME_KEY.to_string(), name.to_string());
        let mut locale = BTreeMap::new();
        locale.insert("en-US".to_string(), strings);
        Manifest {
            doc: Doc {
                extension_manifest: ExtensionManifest {
                    min_qradar_version: min_qradar_version.to_string(),
                    authored_by: author.to_string(),
                    authored_by_email: email.to_string(),
                    // Real exports write "0"; IBM only asks that it is valid.
                    package_size: "0".to_string(),
                    supported_language_set: vec!["en-US".to_string()],
                    extension_name: NAME_KEY.to_string(),
                    extension_long_description: DESCRIPTION_KEY.to_string(),
                    locale,
                    version: version.to_string(),
                },
            },
            id: hub_id.to_string(),
        }
    }

    /// Pretty JSON with a trailing newline: stable bytes for the same manifest.
    pub fn to_json(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }
}

/// `MAJOR.MINOR.PATCH`, each a decimal number (IBM pre-validation).
pub fn is_semver(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| is_number(p))
}

/// QRadar's internal version: 3 or 4 dot-separated numbers (IBM pre-validation), e.g.
/// `2021.6.0` or `2019.14.0.20191031163225`.
pub fn is_qradar_version(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    (3..=4).contains(&parts.len()) && parts.iter().all(|p| is_number(p))
}

fn is_number(p: &str) -> bool {
    !p.is_empty() && p.len() <= 18 && p.bytes().all(|b| b.is_ascii_digit())
}

/// Compare two QRadar internal versions numerically, part by part (a missing fourth part
/// counts as 0).
pub fn compare_qradar_versions(a: &str, b: &str) -> std::cmp::Ordering {
    let parse = |v: &str| -> Vec<u64> { v.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    let (mut pa, mut pb) = (parse(a), parse(b));
    let n = pa.len().max(pb.len());
    pa.resize(n, 0);
    pb.resize(n, 0);
    pa.cmp(&pb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_matches_real_exports() {
        let m = Manifest::new(
            "me:x",
            "X",
            "D",
            "1.2.3",
            "me",
            "me@example.org",
            "2021.6.0",
        );
        let v: serde_json::Value = serde_json::from_slice(&m.to_json()).unwrap_or_default();
        let em = &v["doc"]["extension_manifest"];
        assert_eq!(v["_id"], "me:x");
        assert_eq!(em["supported_language_set"][0], "en-US");
        assert_eq!(
            em["locale"]["en-US"][em["extension_name"].as_str().unwrap_or("")],
            "X"
        );
        assert_eq!(em["package_size"], "0");
        // A real export parses into the same struct.
        let real = r#"{"doc":{"extension_manifest":{"min_qradar_version":"2019.14.0.20191031163225","authored_by":"staze0","authored_by_email":"","package_size":"0","supported_language_set":["en-US"],"extension_name":"extension.name","extension_long_description":"extension.long.description","locale":{"en-US":{"extension.long.description":"","extension.name":"N"}},"version":"1.0.0"}},"_id":"staze0:N"}"#;
        assert!(serde_json::from_str::<Manifest>(real).is_ok());
    }

    #[test]
    fn versions() {
        assert!(is_semver("1.0.0"));
        assert!(!is_semver("1.0"));
        assert!(!is_semver("1.0.0-rc1"));
        assert!(is_qradar_version("2021.6.0"));
        assert!(is_qradar_version("2019.14.0.20191031163225"));
        assert!(!is_qradar_version("7.5"));
        assert!(!is_qradar_version("2021.6.x"));
        use std::cmp::Ordering::*;
        assert_eq!(
            compare_qradar_versions("2021.6.0", "2019.14.0.20191031163225"),
            Greater
        );
        assert_eq!(compare_qradar_versions("2021.6.0", "2021.6.0.0"), Equal);
    }
}
