//! Generate a large synthetic QRadar content export for the `validate` benchmark
//! (`scripts/bench-validate.sh`).
//!
//! ```text
//! cargo run --release --example gen_export -- OUT.zip --size-mb 500 [--seed N]
//! ```
//!
//! Writes a zip shaped like QRadar's own exports (`tests/fixtures/reference-exports/`): one
//! content XML `<name>-<yyyyMMddHHmmss>.xml`, then `manifest.txt`, both deflated at the
//! root with DOS timestamps. `--size-mb` is the size of the *uncompressed* content XML in
//! MiB; it is reached within a few per cent (row counts are fixed up front from two small
//! calibration runs, then the file is written once).
//!
//! Rows use the element names, column sets, column order (QRadar's own, not qrpack's) and
//! tab layout of the real exports, and tables come in the order real exports show
//! (`dsmevent` before the `qidmap` rows it points at). Every cross reference resolves, so a
//! correct validator reports no error:
//!
//! - `dsmevent/qidmapid` → `qidmap/id`; QID numbers, `qidmap/id`s and `qname`s are unique;
//!   (devicetypeid, deviceeventid, deviceeventcategory) is unique;
//! - every `devicetypeid` is a `sensordevicetype` row of the file; built-in types carry
//!   their catalogue name (`src/data/log-source-types.csv`); custom ones are 4003 and up;
//! - `ariel_property_expression` / `ariel_property_json_expression` `ap_id` →
//!   `ariel_regex_property/id`; a `qid` other than -1 is a QID of the file; regexes compile
//!   in Java and in Rust's `regex` and their capture group matches the base64 `payload`;
//!   JSON key paths parse and, when a payload is given, find a value in it;
//! - `custom_rule/rule_data` is base64 of a `<rule>` written by `qrpack::rule`, whose
//!   `DeviceTypeID_Test`/`QID_Test` name types and QIDs of the file, whose AQL names a
//!   property of the file, and whose response QID is a `qidmap` of the file;
//! - `fgroup_link` → `fgroup` and `custom_rule`; `sensordeviceprotocols` →
//!   `sensordevicetype` and `sensorprotocol`; `sensordevicetype/extension_id` →
//!   `device_ext/id`; `devicecategoryid` → `sensordevicecategory`; low-level categories come
//!   from `src/data/low-level-categories.csv`.
//!
//! Nothing is kept per row: each value is a pure function of (seed, table, row index)
//! through a small LCG, so a row that refers to another re-derives what it needs (a rule's
//! QID test re-derives the QID's name) and memory stays flat whatever the size. The XML is
//! streamed through a `BufWriter` into the zip entry. The same arguments give the same
//! bytes.

#![allow(clippy::print_stderr)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use quick_xml::escape::escape;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, System, ZipWriter};

use qrpack::archive::Stamp;
use qrpack::rule::{RuleDef, RuleResponse, RuleTest, Skeletons, write_rule};

const USAGE: &str = "usage: gen_export OUT.zip --size-mb N [--seed N]";

const EXTENSION_NAME: &str = "Synthetic Benchmark Content";
const QRADAR_VERSION: &str = "2021.6.10.20241008193358";
/// 2025-11-28T00:00:00Z: the export's time (file name, zip timestamps). Fixed, so the bytes
/// depend only on the arguments.
const EXPORT_TIME: i64 = 1_764_288_000;
const MIB: f64 = 1_048_576.0;

/// Tables in the order QRadar's exports list them (both reference exports agree). Where
/// the rule tables go is a guess: no real export with rules was available.
const ORDER: [&str; 13] = [
    "sensorprotocol",
    "dsmevent",
    "sensordevicecategory",
    "ariel_regex_property",
    "sensordevicetype",
    "qidmap",
    "ariel_property_json_expression",
    "device_ext",
    "ariel_property_expression",
    "sensordeviceprotocols",
    "fgroup_link",
    "custom_rule",
    "fgroup",
];

// ---------------------------------------------------------------------------------------
// Randomness: a 64-bit LCG per row, seeded from (seed, stream, index).

const S_TYPE: u64 = 1;
const S_DSMEVENT: u64 = 2;
const S_QIDMAP: u64 = 3;
const S_PROPERTY: u64 = 4;
const S_REGEX_EXPR: u64 = 5;
const S_JSON_EXPR: u64 = 6;
const S_RULE: u64 = 7;
const S_GROUP: u64 = 8;
const S_LINK: u64 = 9;
const S_PROTOCOL: u64 = 10;

/// Knuth's MMIX LCG. Its low bits are weak, so only the high half is handed out.
struct Rng(u64);

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    fn at(seed: u64, stream: u64, index: u64) -> Rng {
        Rng(splitmix(seed ^ splitmix((stream << 48) ^ splitmix(index))))
    }
    fn u32(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 32) as u32
    }
    /// Uniform in `0..n` (`n` > 0, below 2^32).
    fn below(&mut self, n: usize) -> usize {
        ((u64::from(self.u32()) * n as u64) >> 32) as usize
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as usize) as i64
    }
    fn percent(&mut self, p: usize) -> bool {
        self.below(100) < p
    }
    fn pick<'a, T: ?Sized>(&mut self, xs: &'a [&'a T]) -> &'a T {
        xs[self.below(xs.len())]
    }
    /// A version-4-shaped UUID whose last 48 bits are (`tag`, `index`): unique per row by
    /// construction, not by luck.
    fn uuid(&mut self, tag: u16, index: usize) -> String {
        format!(
            "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:04x}{:08x}",
            self.u32(),
            self.u32() & 0xffff,
            self.u32() & 0xfff,
            8 + (self.u32() & 3),
            self.u32() & 0xfff,
            tag,
            index as u32
        )
    }
    /// Epoch milliseconds in 2019–2024.
    fn epoch_ms(&mut self) -> i64 {
        1_546_300_800_000 + self.range(0, 6 * 365 * 86_400_000)
    }
}

/// A bijection of `0..m` (7919 is prime and no `m` used here is a multiple of it), so
/// consecutive rows do not walk word lists in order.
fn perm(k: usize, m: usize) -> usize {
    (k % m * 7919 + 13) % m
}

/// ` (n)` for the `n`th pass over a word-list product, empty for the first: keeps names
/// unique past the size of the lists.
fn pass_suffix(k: usize, m: usize) -> String {
    match k / m {
        0 => String::new(),
        n => format!(" ({})", n + 1),
    }
}

fn iso(ms: i64) -> String {
    let s = Stamp::from_unix(ms.div_euclid(1000));
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}+00:00",
        s.year,
        s.month,
        s.day,
        s.hour,
        s.minute,
        s.second,
        ms.rem_euclid(1000)
    )
}

// ---------------------------------------------------------------------------------------
// Word lists.

const VENDORS: [&str; 40] = [
    "Teleport Bastion",
    "Okta Workforce",
    "AT&T NetBond",
    "Zscaler Private Access",
    "O'Brien Access Gateway",
    "Müller Zutritt",
    "Acme <Edge> Proxy",
    "Cloudflare Zero Trust",
    "HashiCorp Vault",
    "CyberArk PAM",
    "Duo Security",
    "Ping Identity",
    "Tailscale",
    "Twingate",
    "BeyondTrust",
    "JumpCloud",
    "Keycloak",
    "Auth0",
    "OneLogin",
    "Netskope",
    "Prisma Access",
    "FortiAuthenticator",
    "SailPoint",
    "Delinea",
    "Sophos Central",
    "Wazuh Manager",
    "GitLab Audit",
    "GitHub Enterprise",
    "Atlassian Access",
    "Slack Enterprise",
    "Zoom Admin",
    "Salesforce Shield",
    "Workday Audit",
    "ServiceNow",
    "Snowflake Access",
    "Databricks Audit",
    "Kubernetes Audit",
    "NGINX Plus",
    "HAProxy Edge",
    "Envoy Gateway",
];

const VERBS: [&str; 24] = [
    "Add",
    "Remove",
    "Update",
    "Create",
    "Delete",
    "Reset",
    "Enable",
    "Disable",
    "Assign",
    "Revoke",
    "Approve",
    "Deny",
    "Export",
    "Import",
    "Rotate",
    "Restore",
    "Lock",
    "Unlock",
    "Start",
    "Stop",
    "Login",
    "Logout",
    "Elevate",
    "Consent to",
];

const OBJECTS: [&str; 30] = [
    "user",
    "group member",
    "application",
    "service principal",
    "role assignment",
    "policy",
    "certificate",
    "secret",
    "device",
    "session",
    "API token",
    "MFA device",
    "password",
    "conditional access policy",
    "audit log",
    "tenant setting",
    "OAuth grant",
    "SSH key",
    "cluster",
    "node",
    "database user",
    "bucket ACL",
    "firewall rule",
    "VPN tunnel",
    "mailbox permission",
    "sharing link",
    "license",
    "domain",
    "connector",
    "webhook",
];

/// Qualifiers of QID names: plain ones, and some that exercise escaping and non-ASCII
/// text. All distinct: with the verb and object they make names unique.
const QUALIFIERS: [&str; 12] = [
    "",
    " attempt",
    " (admin)",
    " – Certificates and secrets management",
    " (legacy)",
    " <unknown>",
    " & retry",
    " for \"guest\"",
    " über Proxy",
    " via 'break-glass' account",
    " – success",
    " – failure",
];

const SYSLOG_PHRASES: [&str; 12] = [
    "Accepted password",
    "Failed password",
    "Disconnected from",
    "Invalid user",
    "Accepted publickey",
    "Connection closed",
    "session opened",
    "session closed",
    "Timeout before authentication",
    "maximum authentication attempts exceeded",
    "reverse mapping checking",
    "Received disconnect",
];

const RULE_PATTERNS: [&str; 12] = [
    "Excessive",
    "Repeated",
    "Rare",
    "First-time",
    "Suspicious",
    "Bulk",
    "After-hours",
    "Privileged",
    "Failed",
    "Anomalous",
    "Cross-tenant",
    "Impossible-travel",
];

const GROUP_KINDS: [&str; 6] = [
    "Detections",
    "Building blocks",
    "Compliance",
    "Threat hunting",
    "Tuning & noise",
    "Identity <IAM>",
];

const USERS: [&str; 12] = [
    "alice",
    "bob.smith",
    "svc_backup",
    "j.müller",
    "o'connor",
    "admin$",
    "CORP\\helpdesk",
    "carol@example.org",
    "dave-ops",
    "eve",
    "frank_sql",
    "grace.hopper",
];

const USERNAMES: [&str; 5] = ["admin", "admin", "admin", "secops.analyst", "content-bot"];

const WORDS: [&str; 16] = [
    "NtLmSsp",
    "Kerberos",
    "Negotiate",
    "Advapi",
    "User32",
    "Schannel",
    "seclogo",
    "CredPro",
    "IKE",
    "MICROSOFT_AUTHENTICATION_PACKAGE_V1_0",
    "pam_unix",
    "sshd",
    "Interactive",
    "Network",
    "Batch",
    "Service",
];

/// Noise keys of payload samples: none of them is a key a template regex looks for.
const NOISE_KEYS: [&str; 16] = [
    "AgentDevice",
    "AgentLogFile",
    "Source",
    "Computer",
    "Domain",
    "EventType",
    "EventCategory",
    "RecordNumber",
    "TimeGenerated",
    "Keywords",
    "Level",
    "Opcode",
    "Task",
    "Version",
    "Region",
    "Site",
];

const NOISE_VALUES: [&str; 12] = [
    "WindowsLog",
    "Security",
    "Microsoft-Windows-Security-Auditing",
    "Audit Success",
    "Zürich",
    "0x8020000000000000",
    "Informational",
    "Info",
    "Logon",
    "eu-west-1",
    "DC01.corp.example",
    "%{S-1-5-18}",
];

// ---------------------------------------------------------------------------------------
// Properties: types, names, and extraction templates whose samples they match.

#[derive(Clone, Copy, PartialEq, Eq)]
enum PropType {
    Str,
    Num,
    Ip,
    Port,
    Time,
}

impl PropType {
    fn name(self) -> &'static str {
        match self {
            PropType::Str => "string",
            PropType::Num => "numeric",
            PropType::Ip => "ip",
            PropType::Port => "port",
            PropType::Time => "time",
        }
    }
    /// Eight field names per type, disjoint across types: with the vendor and the pass
    /// number they make property names unique.
    fn fields(self) -> [&'static str; 8] {
        match self {
            PropType::Str => [
                "Cluster Name",
                "Session ID",
                "Account Domain",
                "Target Resource",
                "Initiated By",
                "Application Name",
                "Logon Process",
                "Policy Name",
            ],
            PropType::Num => [
                "Bytes Out",
                "Retry Count",
                "Duration ms",
                "Risk Score",
                "Failure Count",
                "Object Count",
                "Batch Size",
                "Queue Depth",
            ],
            PropType::Ip => [
                "Client IP",
                "Remote Address",
                "Local Address",
                "NAT Address",
                "Proxy IP",
                "Gateway IP",
                "Peer IP",
                "Relay IP",
            ],
            PropType::Port => [
                "Client Port",
                "Remote Port",
                "Local Port",
                "NAT Port",
                "Proxy Port",
                "Gateway Port",
                "Peer Port",
                "Relay Port",
            ],
            PropType::Time => [
                "Session Start",
                "Session End",
                "Token Issued",
                "Token Expiry",
                "Last Seen",
                "First Seen",
                "Password Changed",
                "Lock Time",
            ],
        }
    }
}

/// A regex extraction: Java and Rust read the regex alike (no look-around, no
/// back-references), and `fragment` writes text it captures (non-empty) with group
/// `group`.
struct Template {
    ty: PropType,
    regex: &'static str,
    groups: i64,
    date_pattern: &'static str,
}

const TEMPLATES: [Template; 15] = [
    Template {
        ty: PropType::Str,
        regex: r"Account Name:\s*(.+?)\s+Account Domain:",
        groups: 1,
        date_pattern: "",
    },
    Template {
        ty: PropType::Str,
        regex: r"user=(\S+)",
        groups: 1,
        date_pattern: "",
    },
    Template {
        ty: PropType::Str,
        regex: r#""action"\s*:\s*"([^"]*)""#,
        groups: 1,
        date_pattern: "",
    },
    Template {
        ty: PropType::Str,
        regex: r"(Logon Type|Logon Process):\s+(\w+)",
        groups: 2,
        date_pattern: "",
    },
    Template {
        ty: PropType::Str,
        regex: r"Benutzer:\s+(\S+)",
        groups: 1,
        date_pattern: "",
    },
    Template {
        ty: PropType::Str,
        regex: r"Message=([^\t]+)\t",
        groups: 1,
        date_pattern: "",
    },
    Template {
        ty: PropType::Str,
        regex: r"(?i)sessionid[:=]\s*([a-f0-9]{8,32})",
        groups: 1,
        date_pattern: "",
    },
    Template {
        ty: PropType::Num,
        regex: r"duration=(\d+)ms&retry=(\d+)",
        groups: 2,
        date_pattern: "",
    },
    Template {
        ty: PropType::Num,
        regex: r"bytes_out=(\d+)",
        groups: 1,
        date_pattern: "",
    },
    Template {
        ty: PropType::Ip,
        regex: r"src=(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})",
        groups: 1,
        date_pattern: "",
    },
    Template {
        ty: PropType::Ip,
        regex: r"Client Address:\s+(?:::ffff:)?([0-9.]+)",
        groups: 1,
        date_pattern: "",
    },
    Template {
        ty: PropType::Port,
        regex: r"dpt=(\d{1,5})",
        groups: 1,
        date_pattern: "",
    },
    Template {
        ty: PropType::Port,
        regex: r"<port>(\d{1,5})</port>",
        groups: 1,
        date_pattern: "",
    },
    Template {
        ty: PropType::Time,
        regex: r"time=(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)",
        groups: 1,
        date_pattern: "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'",
    },
    Template {
        ty: PropType::Time,
        regex: r"\[(\d{2}/[A-Za-z]{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\]",
        groups: 1,
        date_pattern: "dd/MMM/yyyy:HH:mm:ss Z",
    },
];

/// Text that template `t` captures.
fn fragment(t: usize, r: &mut Rng) -> String {
    let ip = |r: &mut Rng| {
        format!(
            "{}.{}.{}.{}",
            r.range(1, 223),
            r.range(0, 255),
            r.range(0, 255),
            r.range(1, 254)
        )
    };
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    match t {
        0 => format!(
            "Account Name: {} Account Domain: CORP",
            r.pick(&USERS).replace(' ', "_")
        ),
        1 => format!("user={}", r.pick(&USERS)),
        2 => format!("\"action\": \"{}\"", r.pick(&VERBS)),
        3 => format!("Logon Process: {}", r.pick(&WORDS)),
        4 => format!(
            "Benutzer: {}",
            r.pick(&["jürgen.weiß", "anaïs", "søren", "zoë"])
        ),
        5 => format!("Message={} {}\t", r.pick(&VERBS), r.pick(&OBJECTS)),
        6 => format!("SessionID: {:08x}{:08x}", r.u32(), r.u32()),
        7 => format!("duration={}ms&retry={}", r.range(1, 90_000), r.range(0, 9)),
        8 => format!("bytes_out={}", r.range(0, 9_999_999)),
        9 => format!("src={}", ip(r)),
        10 => format!("Client Address: ::ffff:{}", ip(r)),
        11 => format!("dpt={}", r.range(1, 65_535)),
        12 => format!("<port>{}</port>", r.range(1, 65_535)),
        13 => format!(
            "time=20{:02}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            r.range(19, 25),
            r.range(1, 12),
            r.range(1, 28),
            r.range(0, 23),
            r.range(0, 59),
            r.range(0, 59),
            r.range(0, 999)
        ),
        _ => format!(
            "[{:02}/{}/20{:02}:{:02}:{:02}:{:02} {}{:04}]",
            r.range(1, 28),
            r.pick(&months),
            r.range(19, 25),
            r.range(0, 23),
            r.range(0, 59),
            r.range(0, 59),
            r.pick(&["+", "-"]),
            r.range(0, 12) * 100
        ),
    }
}

/// A syslog-like sample of 200–600 bytes holding `frag`. Like some of IBM's own samples,
/// a few have their header XML-escaped before base64 (`&lt;13&gt;…`).
fn sample(r: &mut Rng, frag: &str, escaped_header: bool) -> String {
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mut s = String::with_capacity(640);
    let (lt, gt) = if escaped_header {
        ("&lt;", "&gt;")
    } else {
        ("<", ">")
    };
    let _ = write!(
        s,
        "{lt}{}{gt}{} {:2} {:02}:{:02}:{:02} 192.0.2.{} ",
        r.range(0, 191),
        r.pick(&months),
        r.range(1, 28),
        r.range(0, 23),
        r.range(0, 59),
        r.range(0, 59),
        r.range(1, 254)
    );
    let target = r.range(200, 600) as usize;
    for _ in 0..r.range(1, 4) {
        let _ = write!(s, "{}={}\t", r.pick(&NOISE_KEYS), r.pick(&NOISE_VALUES));
    }
    s.push_str(frag);
    while s.len() < target {
        let _ = write!(s, "\t{}={}", r.pick(&NOISE_KEYS), r.pick(&NOISE_VALUES));
    }
    s
}

/// JSON key paths by type. Keys with `&`, `<` and non-ASCII exercise escaping.
fn json_paths(ty: PropType) -> &'static [&'static str] {
    match ty {
        PropType::Str => &[
            r#"/"cluster_name""#,
            r#"/"identity"/"user""#,
            r#"/"mfa_device"/"mfa_device_name""#,
            r#"/"properties"/"targetResources"/"displayName""#,
            r#"/"initiatedBy"/"app"/"displayName""#,
            r#"/"a&b""#,
            r#"/"résumé"/"name""#,
            r#"/"x<y>""#,
            r#"/"login""#,
            r#"/"code""#,
        ],
        PropType::Num => &[
            r#"/"bytes"/"out""#,
            r#"/"retries""#,
            r#"/"risk"/"score""#,
            r#"/"count""#,
        ],
        PropType::Ip => &[
            r#"/"addr.remote""#,
            r#"/"client"/"ip""#,
            r#"/"callerIpAddress""#,
        ],
        PropType::Port => &[r#"/"client"/"port""#, r#"/"dst_port""#],
        PropType::Time => &[r#"/"time""#, r#"/"session"/"started_at""#],
    }
}

/// The keys of a key path written by `json_paths` (no escapes occur in them).
fn path_keys(path: &str) -> Vec<&str> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_matches('"'))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Reference data from the catalogue qrpack ships.

struct ProtocolRef {
    id: i64,
    name: String,
    description: String,
    transmission: String,
    inbound: bool,
}

struct Reference {
    protocols: Vec<ProtocolRef>,
    log_source_types: BTreeMap<i64, String>,
    device_categories: BTreeMap<i64, (String, String)>,
    categories: Vec<i64>,
    common_categories: Vec<i64>,
}

fn csv_rows(text: &str) -> Result<Vec<csv::StringRecord>, String> {
    csv::Reader::from_reader(text.as_bytes())
        .records()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())
}

fn field(r: &csv::StringRecord, i: usize) -> String {
    r.get(i).unwrap_or("").to_string()
}

fn int_field(r: &csv::StringRecord, i: usize) -> Result<i64, String> {
    r.get(i)
        .unwrap_or("")
        .parse()
        .map_err(|e| format!("catalogue id {:?}: {e}", r.get(i)))
}

impl Reference {
    fn load() -> Result<Reference, String> {
        let mut protocols = Vec::new();
        for r in csv_rows(include_str!("../src/data/protocols.csv"))? {
            protocols.push(ProtocolRef {
                id: int_field(&r, 0)?,
                name: field(&r, 1),
                description: field(&r, 2),
                transmission: field(&r, 3),
                inbound: field(&r, 4) == "true",
            });
        }
        let mut log_source_types = BTreeMap::new();
        for r in csv_rows(include_str!("../src/data/log-source-types.csv"))? {
            log_source_types.insert(int_field(&r, 0)?, field(&r, 1));
        }
        let mut device_categories = BTreeMap::new();
        for r in csv_rows(include_str!("../src/data/device-categories.csv"))? {
            device_categories.insert(int_field(&r, 0)?, (field(&r, 1), field(&r, 2)));
        }
        let mut categories = Vec::new();
        for r in csv_rows(include_str!("../src/data/low-level-categories.csv"))? {
            categories.push(int_field(&r, 0)?);
        }
        // The categories user content mostly uses (docs/qradar-format.md §4, real exports).
        let common_categories: Vec<i64> = [
            3022, 3029, 3030, 3031, 3032, 3034, 3035, 3036, 3046, 3047, 3115, 3116, 3120, 4016,
            4019, 19001, 19012, 19018,
        ]
        .into_iter()
        .filter(|c| categories.contains(c))
        .collect();
        if protocols.is_empty() || categories.is_empty() || common_categories.is_empty() {
            return Err("the catalogue in src/data/ is empty".into());
        }
        for c in [1, 3, 5] {
            if !device_categories.contains_key(&c) {
                return Err(format!("device category {c} is not in the catalogue"));
            }
        }
        Ok(Reference {
            protocols,
            log_source_types,
            device_categories,
            categories,
            common_categories,
        })
    }
}

// ---------------------------------------------------------------------------------------
// The plan: row counts, and the log source types with their blocks of QIDs and events.

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A custom JSON DSM (like the Teleport export).
    Json,
    /// A custom syslog DSM parsed with regexes.
    Syslog,
    Windows,
    Entra,
    Office,
    Azure,
}

impl Kind {
    fn is_json(self) -> bool {
        matches!(self, Kind::Json | Kind::Entra | Kind::Office | Kind::Azure)
    }
}

struct TypeInfo {
    id: i64,
    name: String,
    description: String,
    /// `[tag]` in front of QID names; unique per type.
    tag: String,
    kind: Kind,
    builtin: bool,
    device_category: i64,
    credibility: i64,
    dsmparameter: String,
    extension_id: i64,
    /// Index among built-in types (IBM QID numbers), or 0.
    builtin_index: usize,
    event_categories: Vec<String>,
    /// This type's qidmap rows are `q0..q0 + qn`, its dsmevent rows `d0..d0 + dn`
    /// (`dn` >= `qn`: the first `qn` events map one-to-one, the rest to any QID of the
    /// block).
    q0: usize,
    qn: usize,
    d0: usize,
    dn: usize,
}

/// A built-in log source type extended with new events, as in the Windows reference
/// export.
struct Builtin {
    id: i64,
    /// The catalogue name (`src/data/log-source-types.csv`).
    name: &'static str,
    description: &'static str,
    device_category: i64,
    credibility: i64,
    dsmparameter: &'static str,
    tag: &'static str,
    kind: Kind,
}

const BUILTIN_TYPES: [Builtin; 4] = [
    Builtin {
        id: 12,
        name: "WindowsAuthServer",
        description: "Microsoft Windows Security Event Log",
        device_category: 1,
        credibility: 8,
        dsmparameter: "/opt/qradar/conf/WindowsAuthServer.properties",
        tag: "Windows",
        kind: Kind::Windows,
    },
    Builtin {
        id: 445,
        name: "MicrosoftAzureActiveDirectory",
        description: "Microsoft Azure Active Directory",
        device_category: 3,
        credibility: 5,
        dsmparameter: "",
        tag: "Entra ID",
        kind: Kind::Entra,
    },
    Builtin {
        id: 397,
        name: "Office365",
        description: "Microsoft 365",
        device_category: 5,
        credibility: 5,
        dsmparameter: "",
        tag: "M365",
        kind: Kind::Office,
    },
    Builtin {
        id: 413,
        name: "MicrosoftAzure",
        description: "Microsoft Azure Platform",
        device_category: 5,
        credibility: 5,
        dsmparameter: "",
        tag: "Azure",
        kind: Kind::Azure,
    },
];

/// QID names of IBM's own QIDs that built-in exports carry along (no uuid, `customevent`
/// false on their dsmevent rows).
const IBM_QIDS: [&str; 8] = [
    "User Account Created",
    "User Account Deleted",
    "Add member to group",
    "Remove member from group",
    "Mailbox login",
    "Mailbox permission changed",
    "Create or update resource",
    "Delete resource",
];
const IBM_PER_TYPE: usize = 2;

const QIDMAP_ID_BASE: i64 = 2_293_000;
const DSMEVENT_ID_BASE: i64 = 560_000;
const RULE_ID_BASE: i64 = 100_001;
const GROUP_ID_BASE: i64 = 1_001;
const LINK_ID_BASE: i64 = 5_001;
const SDP_ID_BASE: i64 = 3_900;
const FIRST_CUSTOM_TYPE: i64 = 4_003;
const MAX_CUSTOM_TYPES: usize = 1_000;

struct Plan {
    seed: u64,
    types: Vec<TypeInfo>,
    /// qidmap rows `0..n_ev` belong to a type's block; `n_ev..n_ev + n_resp` are the QIDs
    /// rule responses dispatch.
    n_ev: usize,
    n_resp: usize,
    n_dsm: usize,
    p_rx: usize,
    p_json: usize,
    n_rx: usize,
    n_json: usize,
    n_rules: usize,
    n_groups: usize,
}

fn slug(s: &str) -> String {
    s.chars().filter(char::is_ascii_alphanumeric).collect()
}

impl Plan {
    /// A plan with `n_q` qidmap rows; every other count follows from it.
    fn new(seed: u64, n_q: usize, reference: &Reference) -> Plan {
        let n_q = n_q.max(64);
        let n_resp = (n_q * 8 / 100).max(1);
        let n_ev = n_q - n_resp;
        let n_dsm = n_ev + n_ev * 15 / 100;
        let n_props = (n_q / 4).max(8);
        let p_rx = n_props * 6 / 10;
        let p_json = n_props - p_rx;
        let n_rules = (n_q * 12 / 100).max(4);

        let mut types = Vec::new();
        for (i, b) in BUILTIN_TYPES.iter().enumerate() {
            // Only types the catalogue knows under that name: a validator checks them.
            if reference.log_source_types.get(&b.id).map(String::as_str) != Some(b.name) {
                continue;
            }
            let cats: &[&str] = match b.kind {
                Kind::Windows => &[
                    "Security",
                    "OpenSSH/Operational",
                    "Microsoft-Windows-Security-Auditing",
                    "Success Audit",
                ],
                Kind::Entra => &[
                    "AuditLogs",
                    "SignInLogs",
                    "Core Directory",
                    "UserManagement",
                ],
                Kind::Office => &[
                    "Exchange",
                    "SharePoint",
                    "AzureActiveDirectory",
                    "MicrosoftTeams",
                ],
                _ => &["Administrative", "Policy", "Security", "ServiceHealth"],
            };
            types.push(TypeInfo {
                id: b.id,
                name: b.name.to_string(),
                description: b.description.to_string(),
                tag: b.tag.to_string(),
                kind: b.kind,
                builtin: true,
                device_category: b.device_category,
                credibility: b.credibility,
                dsmparameter: b.dsmparameter.to_string(),
                extension_id: 0,
                builtin_index: i,
                event_categories: cats.iter().map(|s| s.to_string()).collect(),
                q0: 0,
                qn: 0,
                d0: 0,
                dn: 0,
            });
        }
        let n_custom = (n_ev / 1500).clamp(2, MAX_CUSTOM_TYPES);
        for c in 0..n_custom {
            let mut r = Rng::at(seed, S_TYPE, 10_000 + c as u64);
            let vendor = VENDORS[c % VENDORS.len()];
            let pass = c / VENDORS.len();
            let (tag, type_name) = if pass == 0 {
                (vendor.to_string(), format!("CUSTOM{}Custom", slug(vendor)))
            } else {
                (
                    format!("{vendor} {}", pass + 1),
                    format!("CUSTOM{}{}Custom", slug(vendor), pass + 1),
                )
            };
            let kind = if r.percent(65) {
                Kind::Json
            } else {
                Kind::Syslog
            };
            let s = slug(&tag).to_lowercase();
            let event_categories = match kind {
                Kind::Json => vec![
                    format!("{s}-application"),
                    format!("{s}-audit"),
                    format!("{s}-session"),
                ],
                _ => vec![s.clone(), format!("{s}/auth"), format!("{s}/system")],
            };
            types.push(TypeInfo {
                id: FIRST_CUSTOM_TYPE + c as i64,
                name: type_name,
                description: format!("[CUSTOM] {tag}"),
                tag,
                kind,
                builtin: false,
                device_category: *r.pick(&[&5i64, &5, &5, &3, &1]),
                credibility: r.range(3, 8),
                dsmparameter: String::new(),
                extension_id: 0,
                builtin_index: 0,
                event_categories,
                q0: 0,
                qn: 0,
                d0: 0,
                dn: 0,
            });
        }

        // Blocks: one QID per type, the rest split by weight (a few types are big, most
        // small, as on a real console); extra events likewise.
        let nt = types.len();
        let weights: Vec<u128> = types
            .iter()
            .enumerate()
            .map(|(t, ty)| {
                let mut r = Rng::at(seed, S_TYPE, t as u64);
                let u = r.below(1000) as u128;
                let w = 1000 + 12 * u * u * u / 1_000_000;
                if ty.builtin { w * 3 } else { w }
            })
            .collect();
        let total: u128 = weights.iter().sum();
        let spread_q = (n_ev - nt) as u128;
        let spread_d = (n_dsm - n_ev) as u128;
        let mut cum = 0u128;
        let mut bounds = Vec::with_capacity(nt + 1);
        for w in weights.iter().copied().chain(std::iter::once(0)) {
            bounds.push((spread_q * cum / total, spread_d * cum / total));
            cum += w;
        }
        for (t, ty) in types.iter_mut().enumerate() {
            let (q_lo, d_lo) = bounds[t];
            let (q_hi, d_hi) = bounds[t + 1];
            ty.q0 = t + q_lo as usize;
            ty.qn = 1 + (q_hi - q_lo) as usize;
            ty.d0 = ty.q0 + d_lo as usize;
            ty.dn = ty.qn + (d_hi - d_lo) as usize;
            ty.extension_id = t as i64 + 1;
        }

        Plan {
            seed,
            types,
            n_ev,
            n_resp,
            n_dsm,
            p_rx,
            p_json,
            n_rx: p_rx * 3 / 2,
            n_json: p_json * 13 / 10,
            n_rules,
            n_groups: (n_rules / 40).max(1),
        }
    }

    fn type_of_qidmap(&self, i: usize) -> usize {
        self.types.partition_point(|t| t.q0 <= i) - 1
    }

    fn type_of_dsmevent(&self, j: usize) -> usize {
        self.types.partition_point(|t| t.d0 <= j) - 1
    }

    fn qidmap_id(i: usize) -> i64 {
        QIDMAP_ID_BASE + i as i64
    }

    /// An IBM QID carried along with a built-in type (the first of its block).
    fn is_ibm(&self, i: usize) -> Option<usize> {
        if i >= self.n_ev {
            return None;
        }
        let t = &self.types[self.type_of_qidmap(i)];
        let k = i - t.q0;
        (t.builtin && k < IBM_PER_TYPE && t.qn > 4 * IBM_PER_TYPE)
            .then_some(t.builtin_index * IBM_PER_TYPE + k)
    }

    /// The QID number of qidmap row `i`: 1002750000+ for custom types and 2000000+ for
    /// user QIDs of built-in types (both seen in real exports), 5000050+ for IBM's own.
    fn qid(&self, i: usize) -> i64 {
        if let Some(n) = self.is_ibm(i) {
            return 5_000_050 + n as i64;
        }
        if i < self.n_ev && !self.types[self.type_of_qidmap(i)].builtin {
            return 1_002_750_000 + i as i64;
        }
        let q = 2_000_000 + i as i64;
        // Step over the IBM numbers above.
        if q >= 5_000_000 { q + 1_000 } else { q }
    }

    fn protocols_of(&self, t: usize, reference: &Reference) -> Vec<i64> {
        let ty = &self.types[t];
        let mut r = Rng::at(self.seed, S_PROTOCOL, t as u64);
        let pct = if ty.builtin {
            6
        } else {
            r.range(25, 85) as usize
        };
        let mut ids: Vec<i64> = reference
            .protocols
            .iter()
            .filter(|p| p.id == 0 || r.percent(pct))
            .map(|p| p.id)
            .collect();
        if ty.kind == Kind::Json && ids.len() > 1 && r.percent(50) {
            ids.retain(|&p| p != 0);
        }
        ids
    }
}

// ---------------------------------------------------------------------------------------
// Values derived from a row index, shared by the row and by rows that refer to it.

struct QidFields {
    qid: i64,
    name: String,
    description: String,
    severity: i64,
    category: i64,
    uuid: Option<String>,
}

fn qidmap_fields(plan: &Plan, reference: &Reference, i: usize) -> QidFields {
    let mut r = Rng::at(plan.seed, S_QIDMAP, i as u64);
    let qid = plan.qid(i);
    let ibm = plan.is_ibm(i);
    let (name, category) = if let Some(n) = ibm {
        (
            IBM_QIDS[n].to_string(),
            *r.pick(&[&3031i64, &3035, &3036, &4019]),
        )
    } else if i >= plan.n_ev {
        let k = i - plan.n_ev;
        let m = RULE_PATTERNS.len() * OBJECTS.len();
        let c = perm(k, m);
        (
            format!(
                "{} {} activity – rule response {}",
                RULE_PATTERNS[c % RULE_PATTERNS.len()],
                OBJECTS[c / RULE_PATTERNS.len()],
                k + 1
            ),
            *r.pick(&[&12002i64, &12002, &12002, &12003, &12005]),
        )
    } else {
        let t = &plan.types[plan.type_of_qidmap(i)];
        let k = i - t.q0;
        let m = VERBS.len() * OBJECTS.len() * QUALIFIERS.len();
        let c = perm(k, m);
        let (v, rest) = (c % VERBS.len(), c / VERBS.len());
        let (o, q) = (rest % OBJECTS.len(), rest / OBJECTS.len());
        let category = if r.percent(70) {
            reference.common_categories[r.below(reference.common_categories.len())]
        } else {
            reference.categories[r.below(reference.categories.len())]
        };
        (
            format!(
                "[{}] {} {}{}{}",
                t.tag,
                VERBS[v],
                OBJECTS[o],
                QUALIFIERS[q],
                pass_suffix(k, m)
            ),
            category,
        )
    };
    let description = if ibm.is_some() || r.percent(45) {
        String::new()
    } else {
        match r.below(4) {
            0 => format!(
                "Raised when a {} is changed by <{}> & \"system\" accounts.",
                r.pick(&OBJECTS),
                r.pick(&USERS)
            ),
            1 => format!(
                "Évènement : {} {} – voir l'audit.",
                r.pick(&VERBS),
                r.pick(&OBJECTS)
            ),
            2 => "Generated by the synthetic benchmark; see docs/benchmarks.md.".to_string(),
            _ => format!(
                "{} {} for tenant 'contoso' (retry {}).",
                r.pick(&VERBS),
                r.pick(&OBJECTS),
                r.range(1, 5)
            ),
        }
    };
    let severity = *r.pick(&[&1i64, &2, &3, &3, &4, &5, &5, &6, &7, &8, &9, &10, &0]);
    let uuid = ibm.is_none().then(|| r.uuid(0x0a01, i));
    QidFields {
        qid,
        name,
        description,
        severity,
        category,
        uuid,
    }
}

/// The device event id of the `k`th event of type `t`: unique per type by construction.
fn device_event_id(t: &TypeInfo, k: usize) -> String {
    match t.kind {
        Kind::Json => {
            let letter = t.tag.chars().find(char::is_ascii_uppercase).unwrap_or('T');
            format!("{letter}{}{}", 1000 + k / 3, ["I", "W", "E"][k % 3])
        }
        Kind::Windows => {
            if k % 5 == 4 {
                let n = k / 5;
                format!("{} {}", SYSLOG_PHRASES[n % SYSLOG_PHRASES.len()], n)
            } else {
                (4600 + k).to_string()
            }
        }
        Kind::Entra => {
            let m = VERBS.len() * OBJECTS.len();
            let n = k / 2;
            let c = perm(n, m);
            format!(
                "{} {}-{}{}",
                VERBS[c % VERBS.len()],
                OBJECTS[c / VERBS.len()],
                ["success", "failure"][k % 2],
                pass_suffix(n, m)
            )
        }
        Kind::Office => {
            let workloads = [
                "Exchange",
                "SharePoint",
                "OneDrive",
                "Teams",
                "AzureAD",
                "Yammer",
            ];
            let m = workloads.len() * VERBS.len() * OBJECTS.len();
            let c = perm(k, m);
            let w = workloads[c % workloads.len()];
            let rest = c / workloads.len();
            let camel: String = OBJECTS[rest / VERBS.len()]
                .split(' ')
                .map(|s| {
                    let mut cs = s.chars();
                    cs.next()
                        .map(|f| f.to_ascii_uppercase().to_string() + cs.as_str())
                        .unwrap_or_default()
                })
                .collect();
            let extra = match k / m {
                0 => String::new(),
                n => format!(".{}", n + 1),
            };
            format!(
                "{w}.{}{camel}{extra}",
                VERBS[rest % VERBS.len()].replace(' ', "")
            )
        }
        Kind::Azure => {
            let providers = [
                "COMPUTE",
                "NETWORK",
                "STORAGE",
                "KEYVAULT",
                "AUTHORIZATION",
                "SQL",
                "WEB",
                "INSIGHTS",
            ];
            let resources = [
                "VIRTUALMACHINES",
                "NETWORKSECURITYGROUPS",
                "STORAGEACCOUNTS",
                "VAULTS",
                "ROLEASSIGNMENTS",
                "SERVERS",
                "SITES",
                "DIAGNOSTICSETTINGS",
                "DISKS",
                "PUBLICIPADDRESSES",
            ];
            let ops = ["WRITE", "DELETE", "ACTION", "READ"];
            let m = providers.len() * resources.len() * ops.len();
            let c = perm(k, m);
            let extra = match k / m {
                0 => String::new(),
                n => format!("/{}", n + 1),
            };
            format!(
                "MICROSOFT.{}/{}/{}{extra}",
                providers[c % providers.len()],
                resources[c / providers.len() % resources.len()],
                ops[c / providers.len() / resources.len()]
            )
        }
        Kind::Syslog => {
            let m = SYSLOG_PHRASES.len() * OBJECTS.len();
            let c = perm(k, m);
            let extra = match k / m {
                0 => String::new(),
                n => format!(" [{}]", n + 1),
            };
            format!(
                "{} {}{extra}",
                SYSLOG_PHRASES[c % SYSLOG_PHRASES.len()],
                OBJECTS[c / SYSLOG_PHRASES.len()]
            )
        }
    }
}

struct PropFields {
    id: String,
    name: String,
    ty: PropType,
    /// Index into `TEMPLATES` (regex properties) or into `json_paths(ty)`.
    extraction: usize,
    date_pattern: String,
    default_n: Option<usize>,
}

/// Property `p`: `0..p_rx` are extracted by regex, `p_rx..` by JSON key path.
fn property_fields(plan: &Plan, p: usize) -> PropFields {
    let mut r = Rng::at(plan.seed, S_PROPERTY, p as u64);
    let regex = p < plan.p_rx;
    let (ty, extraction) = if regex {
        let t = r.below(TEMPLATES.len());
        (TEMPLATES[t].ty, t)
    } else {
        let ty = match r.below(100) {
            0..55 => PropType::Str,
            55..70 => PropType::Num,
            70..82 => PropType::Ip,
            82..88 => PropType::Port,
            _ => PropType::Time,
        };
        (ty, r.below(json_paths(ty).len()))
    };
    let v = VENDORS.len();
    let field_name = ty.fields()[(p / v) % 8];
    let pass = p / (v * 8);
    let name = format!(
        "{} {field_name}{}",
        VENDORS[p % v],
        if pass == 0 {
            String::new()
        } else {
            format!(" {}", pass + 1)
        }
    );
    // IBM's own regex properties are DEFAULTCUSTOMEVENTn, as in the Windows export.
    let default_n = (regex && p < 20).then_some(p + 1);
    let id = match default_n {
        Some(n) => format!("DEFAULTCUSTOMEVENT{n}"),
        None => r.uuid(0x0a03, p),
    };
    let date_pattern = match (ty, regex) {
        (PropType::Time, true) => TEMPLATES[extraction].date_pattern.to_string(),
        (PropType::Time, false) => "yyyy-MM-dd'T'HH:mm:ss.SSSSSSSSSZ".to_string(),
        _ => String::new(),
    };
    PropFields {
        id,
        name,
        ty,
        extraction,
        date_pattern,
        default_n,
    }
}

// ---------------------------------------------------------------------------------------
// Writing rows.

/// The content XML being written: counts bytes and rows as it goes.
struct Out<W: Write> {
    w: W,
    bytes: u64,
    rows: BTreeMap<&'static str, u64>,
    num: String,
}

impl<W: Write> Out<W> {
    fn new(w: W) -> Out<W> {
        Out {
            w,
            bytes: 0,
            rows: BTreeMap::new(),
            num: String::new(),
        }
    }
    /// Markup or already-escaped text.
    fn put(&mut self, s: &str) -> io::Result<()> {
        self.bytes += s.len() as u64;
        self.w.write_all(s.as_bytes())
    }
    fn row(&mut self, table: &'static str) -> io::Result<()> {
        *self.rows.entry(table).or_default() += 1;
        self.put("\n\t<")?;
        self.put(table)?;
        self.put(">")
    }
    fn end(&mut self, table: &str) -> io::Result<()> {
        self.put("\n\t</")?;
        self.put(table)?;
        self.put(">")
    }
    /// `<name>value</name>`, value escaped; empty stays `<name></name>` as QRadar writes.
    fn col(&mut self, name: &str, value: &str) -> io::Result<()> {
        self.put("\n\t\t<")?;
        self.put(name)?;
        self.put(">")?;
        self.put(&escape(value))?;
        self.put("</")?;
        self.put(name)?;
        self.put(">")
    }
    fn int(&mut self, name: &str, v: i64) -> io::Result<()> {
        let mut s = std::mem::take(&mut self.num);
        s.clear();
        let _ = write!(s, "{v}");
        let res = self.col(name, &s);
        self.num = s;
        res
    }
    fn bool(&mut self, name: &str, v: bool) -> io::Result<()> {
        self.col(name, if v { "true" } else { "false" })
    }
}

struct Ctx<'a> {
    plan: &'a Plan,
    reference: &'a Reference,
    skeletons: Skeletons,
}

fn write_content<W: Write>(cx: &Ctx, out: &mut Out<W>) -> io::Result<()> {
    out.put("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<content>\n\t<qradarversion>")?;
    out.put(QRADAR_VERSION)?;
    out.put("</qradarversion>")?;
    for table in ORDER {
        match table {
            "sensorprotocol" => sensorprotocols(cx, out)?,
            "dsmevent" => dsmevents(cx, out)?,
            "sensordevicecategory" => device_categories(cx, out)?,
            "ariel_regex_property" => properties(cx, out)?,
            "sensordevicetype" => device_types(cx, out)?,
            "qidmap" => qidmaps(cx, out)?,
            "ariel_property_json_expression" => json_expressions(cx, out)?,
            "device_ext" => device_exts(cx, out)?,
            "ariel_property_expression" => regex_expressions(cx, out)?,
            "sensordeviceprotocols" => device_protocols(cx, out)?,
            "fgroup_link" => group_links(cx, out)?,
            "custom_rule" => rules(cx, out)?,
            _ => groups(cx, out)?,
        }
    }
    out.put("\n</content>\n")
}

/// All catalogue protocols, in the three column sets real exports show (optional columns
/// are left out, not written empty).
fn sensorprotocols<W: Write>(cx: &Ctx, out: &mut Out<W>) -> io::Result<()> {
    for p in &cx.reference.protocols {
        let mut r = Rng::at(cx.plan.seed, S_PROTOCOL, 1_000_000 + p.id as u64);
        let t = "sensorprotocol";
        out.row(t)?;
        out.bool("gatewaysupported", false)?;
        out.bool("autodiscoverable", p.id == 0)?;
        out.int("plugin_version", 20_170_228_000 + r.range(0, 4_999_999))?;
        if !p.description.is_empty() {
            out.col("protocoldescription", &p.description)?;
        }
        out.bool("encoding_enabled", p.id == 0)?;
        out.bool("inbound", p.inbound)?;
        out.col("protocolname", &p.name)?;
        out.bool("bulk_addable", r.percent(60))?;
        if !p.description.is_empty() || !p.transmission.is_empty() {
            out.col("transmissionprotocol", &p.transmission)?;
        }
        out.int("id", p.id)?;
        if !p.description.is_empty() || !p.transmission.is_empty() {
            out.int("autodiscoveryport", if p.id == 0 { 514 } else { 0 })?;
        }
        out.bool("configurable", r.percent(80))?;
        if !p.description.is_empty() {
            out.col("listenportkey", "")?;
        }
        out.end(t)?;
    }
    Ok(())
}

fn dsmevents<W: Write>(cx: &Ctx, out: &mut Out<W>) -> io::Result<()> {
    let plan = cx.plan;
    for j in 0..plan.n_dsm {
        let mut r = Rng::at(plan.seed, S_DSMEVENT, j as u64);
        let ty = &plan.types[plan.type_of_dsmevent(j)];
        let k = j - ty.d0;
        let i = ty.q0 + if k < ty.qn { k } else { r.below(ty.qn) };
        // IBM's own mapping of IBM's own QID, as carried in the Windows export.
        let ibm = k < ty.qn && plan.is_ibm(i).is_some();
        let category = &ty.event_categories[r.below(ty.event_categories.len())];
        let t = "dsmevent";
        out.row(t)?;
        if ibm {
            out.col("routepoint", "EP")?;
        }
        out.int(
            "credibility",
            if ibm {
                5
            } else {
                *r.pick(&[&0i64, &0, &0, &5, &10])
            },
        )?;
        out.col("deviceeventcategory", category)?;
        out.bool("customevent", !ibm)?;
        out.int("id", DSMEVENT_ID_BASE + j as i64)?;
        out.int("unravelevent", 0)?;
        if !ibm {
            out.col("uuid", &r.uuid(0x0a02, j))?;
        }
        out.int("qidmapid", Plan::qidmap_id(i))?;
        out.int("devicetypeid", ty.id)?;
        out.col("deviceeventid", &device_event_id(ty, k))?;
        out.end(t)?;
    }
    Ok(())
}

fn device_categories<W: Write>(cx: &Ctx, out: &mut Out<W>) -> io::Result<()> {
    let used: std::collections::BTreeSet<i64> =
        cx.plan.types.iter().map(|t| t.device_category).collect();
    for id in used {
        let (name, description) = cx
            .reference
            .device_categories
            .get(&id)
            .cloned()
            .unwrap_or_default();
        let t = "sensordevicecategory";
        out.row(t)?;
        out.col("categorydescription", &description)?;
        out.col("categoryname", &name)?;
        out.int("id", id)?;
        out.end(t)?;
    }
    Ok(())
}

fn properties<W: Write>(cx: &Ctx, out: &mut Out<W>) -> io::Result<()> {
    let plan = cx.plan;
    for p in 0..plan.p_rx + plan.p_json {
        let f = property_fields(plan, p);
        let mut r = Rng::at(plan.seed, S_PROPERTY, (1 << 40) | p as u64);
        let created = r.epoch_ms();
        let edited = created + r.range(0, 400 * 86_400_000);
        let is_time = f.ty == PropType::Time;
        // languagetag/datepattern: on time properties; on a few others, empty or with the
        // odd values real exports carry.
        let odd = !is_time && r.percent(6);
        let t = "ariel_regex_property";
        out.row(t)?;
        out.int("tenant_id", 0)?;
        out.int("creationdate", created)?;
        out.col("propertyname", &f.name)?;
        out.bool("forceparse", is_time || r.percent(50))?;
        out.col("propertytype", f.ty.name())?;
        if is_time {
            out.col("languagetag", r.pick(&["en-US", "fr", "de"]))?;
        } else if odd {
            out.col("languagetag", r.pick(&["en-US", "NULL::character varying"]))?;
        }
        match f.default_n {
            Some(_) => out.col(
                "description",
                &format!("Default custom extraction of {} from DSM payload.", f.name),
            )?,
            None if r.percent(70) => out.col("description", "")?,
            None => out.col(
                "description",
                &format!(
                    "{} – extracted for \"{}\" dashboards & rules.",
                    f.name,
                    f.ty.name()
                ),
            )?,
        }
        out.bool("autodiscovered", false)?;
        out.int("sequenceid", 100 + p as i64)?;
        out.col("database", "events")?;
        if f.default_n.is_some() || r.percent(10) {
            out.col(
                "description_id",
                &format!("ariel_regex_property.{}.description", f.id),
            )?;
        }
        if is_time {
            out.col("datepattern", &f.date_pattern)?;
        } else if odd {
            out.col("datepattern", r.pick(&["", "NULL::character varying"]))?;
        }
        out.col("id", &f.id)?;
        out.int("editdate", edited)?;
        out.col("username", r.pick(&USERNAMES))?;
        out.end(t)?;
    }
    Ok(())
}

fn device_types<W: Write>(cx: &Ctx, out: &mut Out<W>) -> io::Result<()> {
    for (t, ty) in cx.plan.types.iter().enumerate() {
        let mut r = Rng::at(cx.plan.seed, S_TYPE, 20_000 + t as u64);
        let tb = "sensordevicetype";
        out.row(tb)?;
        out.int("extension_id", ty.extension_id)?;
        out.bool("uniqueperhost", false)?;
        out.int("devicetypecredibility", ty.credibility)?;
        if !ty.builtin {
            out.col("uuid", &r.uuid(0x0a07, t))?;
        }
        out.col("dsmparameter", &ty.dsmparameter)?;
        out.int("devicecategoryid", ty.device_category)?;
        out.col("devicetypedescription", &ty.description)?;
        out.int("defaultlanguageid", 1)?;
        out.int("id", ty.id)?;
        out.col("devicetypename", &ty.name)?;
        out.int("devicetypeoverride", if ty.builtin { 0 } else { 4000 })?;
        out.int("mask", 0)?;
        out.end(tb)?;
    }
    Ok(())
}

fn qidmaps<W: Write>(cx: &Ctx, out: &mut Out<W>) -> io::Result<()> {
    let plan = cx.plan;
    for i in 0..plan.n_ev + plan.n_resp {
        let f = qidmap_fields(plan, cx.reference, i);
        let t = "qidmap";
        out.row(t)?;
        out.int("severity", f.severity)?;
        out.int("lowlevelcategory", f.category)?;
        out.bool("reverseip", false)?;
        out.int("qid", f.qid)?;
        if let Some(u) = &f.uuid {
            out.col("uuid", u)?;
        }
        out.int("ratethreshold", 0)?;
        out.int("rateinterval", 0)?;
        out.col("qdescription", &f.description)?;
        out.col("catpipename", "Echo")?;
        out.int("ratelongwindow", 0)?;
        out.col("qname", &f.name)?;
        out.int("rateshortwindow", 0)?;
        out.int("id", Plan::qidmap_id(i))?;
        out.end(t)?;
    }
    Ok(())
}

/// Expression `e` of `n_props` properties starting at `p_first`: property, log source
/// type and QID. The `k`th expression of a property goes to a different type (k < 2 <
/// number of types), so (property, type, qid) never repeats.
fn expression_target(
    cx: &Ctx,
    e: usize,
    p_first: usize,
    n_props: usize,
    r: &mut Rng,
) -> (usize, usize, i64) {
    let plan = cx.plan;
    let p = p_first + e % n_props;
    let k = e / n_props;
    let t = (p * 7 + k) % plan.types.len();
    let ty = &plan.types[t];
    let qid = if r.percent(30) {
        plan.qid(ty.q0 + r.below(ty.qn))
    } else {
        -1
    };
    (p, t, qid)
}

fn json_expressions<W: Write>(cx: &Ctx, out: &mut Out<W>) -> io::Result<()> {
    let plan = cx.plan;
    for e in 0..plan.n_json {
        let mut r = Rng::at(plan.seed, S_JSON_EXPR, e as u64);
        let (p, t, qid) = expression_target(cx, e, plan.p_rx, plan.p_json, &mut r);
        let f = property_fields(plan, p);
        let path = json_paths(f.ty)[f.extraction];
        let created = r.epoch_ms();
        let tb = "ariel_property_json_expression";
        out.row(tb)?;
        out.col("ap_id", &f.id)?;
        out.int("creationdate", created)?;
        out.col("expression", path)?;
        out.int("deviceid", -1)?;
        out.int("sequenceid", 500 + e as i64)?;
        out.int("qid", qid)?;
        out.bool("enabled", r.percent(95))?;
        out.int("devicetypeid", plan.types[t].id)?;
        // Most JSON expressions carry no payload; some an empty one (as in the Teleport
        // export); a few a JSON sample the path finds a value in.
        match r.below(10) {
            0 => out.col("payload", "")?,
            1 => {
                let value = match f.ty {
                    PropType::Str => serde_json::Value::from(r.pick(&USERS)),
                    PropType::Num | PropType::Port => serde_json::Value::from(r.range(1, 65_535)),
                    PropType::Ip => serde_json::Value::from(format!(
                        "10.{}.{}.{}",
                        r.range(0, 255),
                        r.range(0, 255),
                        r.range(1, 254)
                    )),
                    PropType::Time => serde_json::Value::from("2023-05-12T15:47:37.123456789Z"),
                };
                let mut doc = value;
                for key in path_keys(path).into_iter().rev() {
                    let mut m = serde_json::Map::new();
                    m.insert(key.to_string(), doc);
                    doc = serde_json::Value::Object(m);
                }
                if let serde_json::Value::Object(m) = &mut doc {
                    m.insert("code".into(), "T1000I".into());
                    m.insert("event".into(), "session.start".into());
                }
                out.col("payload", &B64.encode(doc.to_string()))?;
            }
            _ => {}
        }
        out.col(
            "propertybase",
            "com.q1labs.core.types.event.NormalizedEventProperties$Payload",
        )?;
        out.int("rank", 1)?;
        out.col("id", &r.uuid(0x0a05, e))?;
        out.int("editdate", created + r.range(0, 86_400_000))?;
        out.int("category", -1)?;
        out.col("username", r.pick(&USERNAMES))?;
        out.end(tb)?;
    }
    Ok(())
}

/// The `<device-extension>` document of a type: JSON key paths or regexes for the normal
/// fields, one match group overriding the type, as in the reference exports.
fn device_extension_xml(ty: &TypeInfo) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<ns2:device-extension xmlns:ns2=\"event_parsing/device_extension\">\n",
    );
    let patterns: Vec<(&str, &str, &str)> = if ty.kind.is_json() {
        vec![
            ("EventName-Pattern-1", "JsonKeypath", r#"/"code""#),
            ("EventCategory-Pattern-1", "JsonKeypath", r#"/"event""#),
            ("DeviceTime-Pattern-1", "JsonKeypath", r#"/"time""#),
            (
                "SourceIp-Pattern-1",
                "JavaPattern",
                r#""addr.remote":"([^:]+)"#,
            ),
            (
                "SourcePort-Pattern-1",
                "JavaPattern",
                r#""addr.remote":"[^:]+:(\d{1,5})"#,
            ),
            ("UserName-Pattern-1", "JsonKeypath", r#"/"user""#),
            ("UserName-Pattern-2", "JsonKeypath", r#"/"identity"/"user""#),
        ]
    } else {
        vec![
            (
                "EventName-Pattern-1",
                "JavaPattern",
                r"\]:\s+([A-Za-z][^:]*?)\s+(?:for|from)\s",
            ),
            (
                "EventCategory-Pattern-1",
                "JavaPattern",
                r"<\d+>\w{3}\s+\d+\s+\d+:\d+:\d+\s[^\s]+\s([^\s\[:]+)",
            ),
            (
                "SourceIp-Pattern-1",
                "JavaPattern",
                r"from\s+(\d{1,3}(?:\.\d{1,3}){3})",
            ),
            ("SourcePort-Pattern-1", "JavaPattern", r"port\s+(\d{1,5})"),
            (
                "UserName-Pattern-1",
                "JavaPattern",
                r"for (?:invalid user )?(\S+)",
            ),
        ]
    };
    for (id, kind, text) in &patterns {
        let default = if *kind == "JavaPattern" {
            "use-default-pattern=\"true\" "
        } else {
            ""
        };
        let _ = writeln!(
            s,
            "    <pattern {default}type=\"{kind}\" id=\"{id}\">{}</pattern>",
            escape(*text)
        );
    }
    s.push_str("    <pattern type=\"JavaPattern\" id=\"AllEvents\">(.*?)</pattern>\n");
    let _ = writeln!(
        s,
        "    <match-group device-type-id-override=\"{}\" order=\"1\">",
        ty.id
    );
    for (id, kind, _) in &patterns {
        let field = id.split('-').next().unwrap_or("EventName");
        let order = if id.ends_with("-2") { 2 } else { 1 };
        if *kind == "JsonKeypath" {
            let ext = if field == "DeviceTime" {
                "ext-data=\"yyyy-MM-dd&apos;T&apos;HH:mm:ss.SSS\" "
            } else {
                ""
            };
            let _ = writeln!(
                s,
                "        <json-matcher {ext}order=\"{order}\" enable-substitutions=\"true\" pattern-id=\"{id}\" field=\"{field}\"/>"
            );
        } else {
            let _ = writeln!(
                s,
                "        <matcher order=\"{order}\" enable-substitutions=\"true\" capture-group=\"\\1\" pattern-id=\"{id}\" field=\"{field}\"/>"
            );
        }
    }
    s.push_str("        <event-match-multiple force-qidmap-lookup-on-fixup=\"true\" send-identity=\"UseDSMResults\" pattern-id=\"AllEvents\"/>\n    </match-group>\n</ns2:device-extension>\n");
    s
}

fn device_exts<W: Write>(cx: &Ctx, out: &mut Out<W>) -> io::Result<()> {
    for (t, ty) in cx.plan.types.iter().enumerate() {
        let mut r = Rng::at(cx.plan.seed, S_TYPE, 30_000 + t as u64);
        let tb = "device_ext";
        out.row(tb)?;
        out.col("xml", &B64.encode(device_extension_xml(ty)))?;
        out.int("use_condition", 0)?;
        out.col("name", &format!("{}_ext", ty.name))?;
        out.col("description", "")?;
        out.int("id", ty.extension_id)?;
        out.col("uuid", &r.uuid(0x0a08, t))?;
        out.bool("enabled", true)?;
        out.end(tb)?;
    }
    Ok(())
}

fn regex_expressions<W: Write>(cx: &Ctx, out: &mut Out<W>) -> io::Result<()> {
    let plan = cx.plan;
    for e in 0..plan.n_rx {
        let mut r = Rng::at(plan.seed, S_REGEX_EXPR, e as u64);
        let (p, t, qid) = expression_target(cx, e, 0, plan.p_rx, &mut r);
        let f = property_fields(plan, p);
        let tpl = &TEMPLATES[f.extraction];
        let group = if tpl.groups == 2 && f.extraction != 3 && r.percent(50) {
            1
        } else {
            tpl.groups
        };
        let frag = fragment(f.extraction, &mut r);
        let escaped_header = r.percent(15);
        let payload = B64.encode(sample(&mut r, &frag, escaped_header));
        let created = r.epoch_ms();
        let id = if f.default_n.is_some() && e < plan.p_rx {
            format!("DEFAULTTEXPR_{}{}", slug(&f.name).to_uppercase(), e)
        } else {
            r.uuid(0x0a04, e)
        };
        let tb = "ariel_property_expression";
        out.row(tb)?;
        out.col("ap_id", &f.id)?;
        out.int("creationdate", created)?;
        out.int("deviceid", -1)?;
        out.int("sequenceid", 200 + e as i64)?;
        out.int("qid", qid)?;
        out.bool("enabled", r.percent(95))?;
        out.int("devicetypeid", plan.types[t].id)?;
        out.int("capturegroup", group)?;
        out.col("regex", tpl.regex)?;
        out.col("payload", &payload)?;
        out.col(
            "propertybase",
            "com.q1labs.core.types.event.NormalizedEventProperties$Payload",
        )?;
        out.int("rank", if f.default_n.is_some() { -1 } else { 1 })?;
        out.col("id", &id)?;
        out.int("editdate", created + r.range(0, 900 * 86_400_000))?;
        out.int("category", -1)?;
        out.col("username", r.pick(&USERNAMES))?;
        out.end(tb)?;
    }
    Ok(())
}

fn device_protocols<W: Write>(cx: &Ctx, out: &mut Out<W>) -> io::Result<()> {
    let mut id = SDP_ID_BASE;
    for (t, ty) in cx.plan.types.iter().enumerate() {
        for p in cx.plan.protocols_of(t, cx.reference) {
            let tb = "sensordeviceprotocols";
            out.row(tb)?;
            out.int("sensorprotocolid", p)?;
            out.int("sensordevicetypeid", ty.id)?;
            out.bool("documented", ty.builtin)?;
            out.int("id", id)?;
            out.end(tb)?;
            id += 1;
        }
    }
    Ok(())
}

/// The groups rule `r` is filed under: one, sometimes two.
fn groups_of(plan: &Plan, r: usize) -> Vec<usize> {
    let mut rng = Rng::at(plan.seed, S_LINK, r as u64);
    let g0 = r % plan.n_groups;
    let mut gs = vec![g0];
    if plan.n_groups > 1 && rng.percent(15) {
        gs.push((g0 + 1 + rng.below(plan.n_groups - 1)) % plan.n_groups);
    }
    gs
}

fn group_links<W: Write>(cx: &Ctx, out: &mut Out<W>) -> io::Result<()> {
    let mut id = LINK_ID_BASE;
    for r in 0..cx.plan.n_rules {
        for g in groups_of(cx.plan, r) {
            let tb = "fgroup_link";
            out.row(tb)?;
            out.int("id", id)?;
            out.int("fgroup_id", GROUP_ID_BASE + g as i64)?;
            out.int("item_id", RULE_ID_BASE + r as i64)?;
            out.col(
                "user_name",
                if r % 7 == 0 {
                    "secops.analyst"
                } else {
                    "admin"
                },
            )?;
            out.end(tb)?;
            id += 1;
        }
    }
    Ok(())
}

fn rule_def(cx: &Ctx, ri: usize, r: &mut Rng) -> RuleDef {
    let plan = cx.plan;
    let m = VENDORS.len() * RULE_PATTERNS.len() * OBJECTS.len();
    let c = perm(ri, m);
    let (v, rest) = (c % VENDORS.len(), c / VENDORS.len());
    let (pat, obj) = (rest % RULE_PATTERNS.len(), rest / RULE_PATTERNS.len());
    let building_block = r.percent(15);
    let name = format!(
        "{}{}: {} {} activity{}",
        if building_block { "BB: " } else { "" },
        VENDORS[v],
        RULE_PATTERNS[pat],
        OBJECTS[obj],
        pass_suffix(ri, m)
    );
    let t0 = ri % plan.types.len();
    let mut types = vec![t0];
    if r.percent(20) {
        types.push((t0 + 1 + r.below(plan.types.len() - 1)) % plan.types.len());
    }
    let mut tests = vec![RuleTest::LogSourceTypes(
        types
            .iter()
            .map(|&t| (plan.types[t].id, plan.types[t].description.clone()))
            .collect(),
    )];
    if r.percent(80) {
        let ty = &plan.types[t0];
        let n = r.range(1, 6) as usize;
        let start = r.below(ty.qn);
        let qids = (0..n.min(ty.qn))
            .map(|s| {
                let i = ty.q0 + (start + s) % ty.qn;
                let f = qidmap_fields(plan, cx.reference, i);
                (f.qid, f.name)
            })
            .collect();
        tests.push(RuleTest::Qids(qids));
    }
    if r.percent(30) {
        let p = property_fields(plan, r.below(plan.p_rx + plan.p_json));
        let filter = match p.ty {
            PropType::Str => format!(
                "\"{}\" = '{}' AND LOWER(username) LIKE '%adm%'",
                p.name,
                r.pick(&["prod", "break-glass", "Zürich"])
            ),
            PropType::Num => format!("\"{}\" > {}", p.name, r.range(1, 1000)),
            PropType::Ip => format!("INCIDR('10.0.0.0/8', \"{}\")", p.name),
            PropType::Port => format!("\"{}\" IN (22, 3389, 5985)", p.name),
            PropType::Time => format!("\"{}\" IS NOT NULL", p.name),
        };
        tests.push(RuleTest::Aql(filter));
    }
    let response = (!building_block && r.percent(75)).then(|| {
        let f = qidmap_fields(plan, cx.reference, plan.n_ev + ri % plan.n_resp);
        RuleResponse {
            offense: r.percent(40),
            severity: f.severity,
            credibility: r.range(0, 10),
            relevance: r.range(0, 10),
            qid: f.qid,
            low_level_category: f.category,
            name: f.name,
            description: f.description,
        }
    });
    let notes = match r.below(4) {
        0 | 1 => String::new(),
        2 => format!(
            "Tuned for {} – see ticket SEC-{} & the runbook <internal>.",
            VENDORS[v],
            r.range(100, 9999)
        ),
        _ => "Synthetic benchmark rule.\nSecond line with \"quotes\" and 'apostrophes'.".into(),
    };
    RuleDef {
        id: RULE_ID_BASE + ri as i64,
        name,
        notes,
        enabled: r.percent(85),
        building_block,
        owner: r.pick(&USERNAMES).to_string(),
        tests,
        response,
    }
}

fn rules<W: Write>(cx: &Ctx, out: &mut Out<W>) -> io::Result<()> {
    for ri in 0..cx.plan.n_rules {
        let mut r = Rng::at(cx.plan.seed, S_RULE, ri as u64);
        let def = rule_def(cx, ri, &mut r);
        let xml = write_rule(&def, &cx.skeletons).map_err(io::Error::other)?;
        let created = r.epoch_ms();
        let tb = "custom_rule";
        out.row(tb)?;
        out.int("id", def.id)?;
        out.col("uuid", &r.uuid(0x0a06, ri))?;
        out.col("origin", "USER")?;
        out.int("rule_type", 0)?;
        out.int("flags", 0)?;
        out.col("mod_date", &iso(created + r.range(0, 300 * 86_400_000)))?;
        out.col("create_date", &iso(created))?;
        out.col("rule_data", &B64.encode(xml))?;
        out.end(tb)?;
    }
    Ok(())
}

fn groups<W: Write>(cx: &Ctx, out: &mut Out<W>) -> io::Result<()> {
    for g in 0..cx.plan.n_groups {
        let mut r = Rng::at(cx.plan.seed, S_GROUP, g as u64);
        let m = VENDORS.len() * GROUP_KINDS.len();
        let tb = "fgroup";
        out.row(tb)?;
        out.int("id", GROUP_ID_BASE + g as i64)?;
        out.int("parent_id", 3)?;
        out.int("type_id", 3)?;
        out.int("level_id", 2)?;
        out.col(
            "name",
            &format!(
                "{} – {}{}",
                VENDORS[g % VENDORS.len()],
                GROUP_KINDS[g / VENDORS.len() % GROUP_KINDS.len()],
                pass_suffix(g, m)
            ),
        )?;
        out.col(
            "description",
            if r.percent(50) {
                ""
            } else {
                "Rules grouped by the synthetic benchmark generator."
            },
        )?;
        out.col("user_name", "admin")?;
        out.col("modified_date", &iso(r.epoch_ms()))?;
        out.end(tb)?;
    }
    Ok(())
}

/// `manifest.txt` in the exact layout of the reference exports (Jackson's pretty printer:
/// `"key" : value`, `[ "en-US" ]`, no final newline).
fn manifest() -> String {
    let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
    format!(
        "{{\n  \"doc\" : {{\n    \"extension_manifest\" : {{\n      \"min_qradar_version\" : {v},\n      \"authored_by\" : \"qrpack-bench\",\n      \"authored_by_email\" : \"bench@example.org\",\n      \"package_size\" : \"0\",\n      \"supported_language_set\" : [ \"en-US\" ],\n      \"extension_name\" : \"extension.name\",\n      \"extension_long_description\" : \"extension.long.description\",\n      \"locale\" : {{\n        \"en-US\" : {{\n          \"extension.long.description\" : {d},\n          \"extension.name\" : {n}\n        }}\n      }},\n      \"version\" : \"1.0.0\"\n    }}\n  }},\n  \"_id\" : {id}\n}}",
        v = q(QRADAR_VERSION),
        d = q("Synthetic content for the qrpack validate benchmark (examples/gen_export.rs)."),
        n = q(EXTENSION_NAME),
        id = q(&format!("qrpack-bench:{EXTENSION_NAME}")),
    )
}

// ---------------------------------------------------------------------------------------

struct Args {
    out: PathBuf,
    size_mb: f64,
    seed: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut out = None;
    let mut size_mb = None;
    let mut seed = 1u64;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "-h" | "--help" => return Err(String::new()),
            "--size-mb" => {
                let v = it.next().ok_or("--size-mb needs a value")?;
                let n: f64 = v
                    .parse()
                    .map_err(|_| format!("--size-mb {v}: not a number"))?;
                if !(n > 0.0 && n.is_finite()) {
                    return Err(format!("--size-mb {v}: must be positive"));
                }
                size_mb = Some(n);
            }
            "--seed" => {
                let v = it.next().ok_or("--seed needs a value")?;
                seed = v
                    .parse()
                    .map_err(|_| format!("--seed {v}: not a whole number"))?;
            }
            s if s.starts_with('-') => return Err(format!("unknown option {s}")),
            s if out.is_none() => out = Some(PathBuf::from(s)),
            s => return Err(format!("unexpected argument {s}")),
        }
    }
    Ok(Args {
        out: out.ok_or("missing OUT.zip")?,
        size_mb: size_mb.ok_or("missing --size-mb")?,
        seed,
    })
}

/// Bytes of content XML for a plan of `n_q` QIDs, measured by writing it nowhere.
fn measure(seed: u64, n_q: usize, reference: &Reference) -> io::Result<u64> {
    let plan = Plan::new(seed, n_q, reference);
    let cx = Ctx {
        plan: &plan,
        reference,
        skeletons: Skeletons::builtin(),
    };
    let mut out = Out::new(io::sink());
    write_content(&cx, &mut out)?;
    Ok(out.bytes)
}

fn run(args: &Args) -> Result<(), String> {
    let started = Instant::now();
    let reference = Reference::load()?;
    let target = args.size_mb * MIB;

    // Size is close to linear in the number of QIDs: fit it on two small plans.
    let (n1, n2) = (2_000usize, 8_000usize);
    let s1 = measure(args.seed, n1, &reference).map_err(|e| e.to_string())? as f64;
    let s2 = measure(args.seed, n2, &reference).map_err(|e| e.to_string())? as f64;
    let per_q = (s2 - s1) / (n2 - n1) as f64;
    let fixed = s1 - per_q * n1 as f64;
    let n_q = ((target - fixed) / per_q).round().max(64.0) as usize;
    let plan = Plan::new(args.seed, n_q, &reference);
    let cx = Ctx {
        plan: &plan,
        reference: &reference,
        skeletons: Skeletons::builtin(),
    };

    let stamp = Stamp::from_unix(EXPORT_TIME);
    let xml_name = format!("{EXTENSION_NAME}-{}.xml", stamp.compact());
    let dos_time = DateTime::from_date_and_time(
        stamp.year,
        stamp.month,
        stamp.day,
        stamp.hour,
        stamp.minute,
        stamp.second,
    )
    .map_err(|e| e.to_string())?;
    // ZIP64 is needed past 4 GiB (4096 MiB) of content; the size is an estimate, so
    // switch it on with a margin.
    let large = args.size_mb >= 3_800.0;
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(6))
        .system(System::Dos)
        .external_attributes(0)
        .last_modified_time(dos_time);

    // Written beside the target and renamed at the end: an interrupted run never leaves a
    // truncated OUT.zip for the benchmark script to reuse.
    let partial = partial_path(&args.out);
    let io_err =
        |what: &str, e: &dyn std::fmt::Display| format!("{what} {}: {e}", partial.display());
    let file = File::create(&partial).map_err(|e| io_err("creating", &e))?;
    let mut zip = ZipWriter::new(BufWriter::with_capacity(1 << 20, file));
    zip.start_file(xml_name.as_str(), options.large_file(large))
        .map_err(|e| io_err("writing", &e))?;
    let (xml_bytes, rows) = {
        let mut out = Out::new(BufWriter::with_capacity(256 << 10, &mut zip));
        write_content(&cx, &mut out).map_err(|e| io_err("writing", &e))?;
        out.w.flush().map_err(|e| io_err("writing", &e))?;
        (out.bytes, out.rows)
    };
    let manifest = manifest();
    zip.start_file("manifest.txt", options)
        .map_err(|e| io_err("writing", &e))?;
    zip.write_all(manifest.as_bytes())
        .map_err(|e| io_err("writing", &e))?;
    let mut inner = zip.finish().map_err(|e| io_err("finishing", &e))?;
    inner.flush().map_err(|e| io_err("flushing", &e))?;
    drop(inner);
    std::fs::rename(&partial, &args.out).map_err(|e| {
        format!(
            "renaming {} to {}: {e}",
            partial.display(),
            args.out.display()
        )
    })?;

    // Read the sizes back from the central directory.
    let file = File::open(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let zip_size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut archive = zip::ZipArchive::new(file).map_err(|e| e.to_string())?;
    eprintln!(
        "wrote {} (seed {}, target {:.1} MiB of content XML)",
        args.out.display(),
        args.seed,
        args.size_mb
    );
    for i in 0..archive.len() {
        let f = archive.by_index_raw(i).map_err(|e| e.to_string())?;
        let name = f.name().map(|n| n.into_owned()).unwrap_or_default();
        eprintln!(
            "  {:<52} {:>14} bytes uncompressed ({:>9.1} MiB), {:>13} compressed ({:.1}%)",
            name,
            f.size(),
            f.size() as f64 / MIB,
            f.compressed_size(),
            100.0 * f.compressed_size() as f64 / f.size().max(1) as f64
        );
    }
    eprintln!(
        "  zip file: {zip_size} bytes ({:.1} MiB); content XML {xml_bytes} bytes ({:+.1}% of target)",
        zip_size as f64 / MIB,
        100.0 * (xml_bytes as f64 - target) / target
    );
    eprintln!(
        "  log source types: {} ({} built-in, {} custom)",
        plan.types.len(),
        plan.types.iter().filter(|t| t.builtin).count(),
        plan.types.iter().filter(|t| !t.builtin).count()
    );
    let total: u64 = rows.values().sum();
    eprintln!("  rows: {total}");
    for table in ORDER {
        eprintln!(
            "    {:<32} {:>10}",
            table,
            rows.get(table).copied().unwrap_or(0)
        );
    }
    eprintln!("  took {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

fn partial_path(out: &Path) -> PathBuf {
    let mut name = out
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".partial");
    out.with_file_name(name)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            eprintln!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("gen_export: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gen_export: {e}");
            ExitCode::FAILURE
        }
    }
}
