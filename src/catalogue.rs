//! QRadar reference data: event categories, log source types, protocols and device categories, built in (`src/data/*.csv`) or loaded from a user's own QRadar.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::Deserialize;
use serde::de::DeserializeOwned;

const LOW_LEVEL_CATEGORIES_CSV: &str = include_str!("data/low-level-categories.csv");
const LOG_SOURCE_TYPES_CSV: &str = include_str!("data/log-source-types.csv");
const PROTOCOLS_CSV: &str = include_str!("data/protocols.csv");
const DEVICE_CATEGORIES_CSV: &str = include_str!("data/device-categories.csv");

const CATEGORY_COLUMNS: &[&str] = &["id", "name", "high_level_id", "high_level_name"];

/// A QRadar low-level event category, such as 3032 "User Account Changed".
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LowLevelCategory {
    pub id: u32,
    pub name: String,
    /// Always `floor(id / 1000) * 1000`.
    pub high_level_id: u32,
    /// Empty when no name is known (11000 in the built-in data, or a high-level id newer
    /// than the built-in table).
    pub high_level_name: String,
}

/// A log source type (QRadar's "device type"), by its internal name, such as 12 `WindowsAuthServer`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct LogSourceType {
    pub id: u32,
    pub name: String,
}

/// A log source protocol (`sensorprotocol` in exports), such as 0 `Syslog`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct Protocol {
    pub id: u32,
    pub name: String,
    pub description: String,
}

/// A log source type's device category (`sensordevicecategory` in exports), such as 5 `SW/Integration`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct DeviceCategory {
    pub id: u32,
    pub name: String,
    pub description: String,
}

/// Where in the input a problem was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A 1-based line of a CSV file; `table` says which file.
    CsvLine { table: &'static str, line: u64 },
    /// A 0-based index into the top-level array of a categories JSON document.
    JsonElement { index: usize },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::CsvLine { table, line } => write!(f, "{table} line {line}"),
            Location::JsonElement { index } => write!(f, "categories JSON element [{index}]"),
        }
    }
}

/// What is wrong with one record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The record could not be read (wrong field count, a non-number id, a missing key, ...).
    #[error("{0}")]
    Malformed(String),
    #[error("the header has no `{column}` column (expected columns: {expected}; found: {found})")]
    MissingColumn {
        column: &'static str,
        expected: String,
        found: String,
    },
    #[error("category {id} has an empty name")]
    EmptyName { id: u32 },
    #[error(
        "{id} is not a low-level category id (low-level ids are above 1000 and not a multiple of 1000)"
    )]
    NotLowLevelId { id: u32 },
    #[error(
        "category {id} has high-level id {high_level_id}, but it belongs to {expected} (floor(id/1000)*1000)"
    )]
    WrongHighLevel {
        id: u32,
        high_level_id: u32,
        expected: u32,
    },
    #[error("id {id} appears twice (first at {first})")]
    DuplicateId { id: u32, first: Location },
    /// Names are lookup keys, so two ids may not share one.
    #[error("name {name:?} is used by both id {first_id} and id {id}")]
    DuplicateName {
        name: String,
        id: u32,
        first_id: u32,
    },
}

/// Why a category list (or the embedded data) could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// One record is wrong; `location` says which.
    #[error("{location}: {problem}")]
    Invalid {
        location: Location,
        problem: Problem,
    },
    /// The text is not JSON at all; the message carries the line and column.
    #[error("categories JSON is not valid JSON: {0}")]
    Json(#[source] serde_json::Error),
    /// Valid JSON, but not the array that `GET /api/data_classification/low_level_categories` returns.
    #[error(
        "categories JSON must be the array returned by GET /api/data_classification/low_level_categories, but it is {found}"
    )]
    NotAnArray { found: String },
    #[error("{what} contains no categories")]
    Empty { what: &'static str },
}

/// The tables that stay the built-in ones whichever category list is loaded.
#[derive(Debug)]
struct Fixed {
    high_level_names: BTreeMap<u32, String>,
    log_source_types: BTreeMap<u32, LogSourceType>,
    log_source_type_ids_by_name: HashMap<String, u32>,
    protocols: BTreeMap<u32, Protocol>,
    protocol_ids_by_name: HashMap<String, u32>,
    device_categories: BTreeMap<u32, DeviceCategory>,
}

/// QRadar reference data: low-level categories indexed by id and by exact name, plus
/// the built-in log source types, protocols and device categories.
#[derive(Debug, Clone)]
pub struct Catalogue {
    categories: BTreeMap<u32, LowLevelCategory>,
    category_ids_by_name: HashMap<String, u32>,
    fixed: Arc<Fixed>,
}

#[derive(Deserialize)]
struct CsvCategory {
    id: u32,
    name: String,
    high_level_id: u32,
    high_level_name: String,
}

#[derive(Deserialize)]
struct ApiCategory {
    id: u32,
    name: String,
    high_level_category_id: u32,
}

impl Catalogue {
    /// The catalogue embedded in the binary (`src/data/*.csv`), parsed on first use.
    pub fn builtin() -> &'static Catalogue {
        static BUILTIN: OnceLock<Catalogue> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            parse_builtin().expect(
                "the QRadar reference data embedded in qrpack (src/data/*.csv) is corrupt; \
                 this is a bug in the qrpack build",
            )
        })
    }

    /// Low-level categories from a CSV in the same columns as
    /// `src/data/low-level-categories.csv` (`id,name,high_level_id,high_level_name`; extra
    /// columns are ignored). An empty `high_level_name` is filled from the built-in table.
    /// Log source types, protocols and device categories stay the built-in ones.
    pub fn from_csv(text: &str) -> Result<Catalogue, CatalogueError> {
        const TABLE: &str = "categories CSV";
        let builtin = Self::builtin();
        let rows = read_csv::<CsvCategory>(text, TABLE, CATEGORY_COLUMNS)?;
        let rows = rows.into_iter().map(|(location, row)| {
            let high_level_name = if row.high_level_name.is_empty() {
                builtin.high_level_name_of(row.high_level_id).to_owned()
            } else {
                row.high_level_name
            };
            let category = LowLevelCategory {
                id: row.id,
                name: row.name,
                high_level_id: row.high_level_id,
                high_level_name,
            };
            (location, category)
        });
        Self::assemble(rows, TABLE, Arc::clone(&builtin.fixed))
    }

    /// Low-level categories from the JSON a user's own QRadar returns for
    /// `GET /api/data_classification/low_level_categories`: an array of objects with at
    /// least `id`, `name` and `high_level_category_id` (other keys are ignored).
    /// High-level names come from the built-in table. Log source types, protocols and
    /// device categories stay the built-in ones.
    pub fn from_api_json(text: &str) -> Result<Catalogue, CatalogueError> {
        let builtin = Self::builtin();
        let value: serde_json::Value =
            serde_json::from_str(strip_bom(text)).map_err(CatalogueError::Json)?;
        let items = match value {
            serde_json::Value::Array(items) => items,
            other => {
                return Err(CatalogueError::NotAnArray {
                    found: describe_json(&other),
                });
            }
        };
        let mut rows = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let location = Location::JsonElement { index };
            let row = ApiCategory::deserialize(item).map_err(|e| CatalogueError::Invalid {
                location: location.clone(),
                problem: Problem::Malformed(e.to_string()),
            })?;
            let category = LowLevelCategory {
                id: row.id,
                // Older category lists carry stray spaces; packs name categories without them.
                name: row.name.trim().to_owned(),
                high_level_id: row.high_level_category_id,
                high_level_name: builtin
                    .high_level_name_of(row.high_level_category_id)
                    .to_owned(),
            };
            rows.push((location, category));
        }
        Self::assemble(rows, "categories JSON", Arc::clone(&builtin.fixed))
    }

    /// The low-level category with this id.
    pub fn category(&self, id: u32) -> Option<&LowLevelCategory> {
        self.categories.get(&id)
    }

    /// The low-level category with exactly this name (case and spaces matter).
    pub fn category_by_name(&self, name: &str) -> Option<&LowLevelCategory> {
        self.category_ids_by_name
            .get(name)
            .and_then(|id| self.categories.get(id))
    }

    /// Up to `n` categories whose names are closest to `name`, best first, for "did you
    /// mean" help. Case is ignored. A name matches when it is within a few edits of
    /// `name`, or when it contains `name` with at most a few edits. Names that contain
    /// `name` with the fewest edits come first, then names closest as a whole, then lower
    /// ids. Returns nothing when nothing is close.
    pub fn suggest(&self, name: &str, n: usize) -> Vec<&LowLevelCategory> {
        let query: Vec<char> = name.trim().to_lowercase().chars().collect();
        if n == 0 || query.is_empty() {
            return Vec::new();
        }
        let whole_limit = (query.len() / 3).max(2);
        let part_limit = query.len() / 5;
        let mut scored: Vec<((usize, usize, u32), &LowLevelCategory)> = self
            .categories
            .values()
            .filter_map(|category| {
                let candidate: Vec<char> = category.name.to_lowercase().chars().collect();
                let whole = edit_distance(&query, &candidate);
                // Never more than `whole`, since the whole name is one of the runs tried.
                let part = substring_distance(&query, &candidate);
                (whole <= whole_limit || part <= part_limit)
                    .then_some(((part, whole, category.id), category))
            })
            .collect();
        scored.sort_by_key(|(key, _)| *key);
        scored
            .into_iter()
            .take(n)
            .map(|(_, category)| category)
            .collect()
    }

    /// All low-level categories, sorted by id.
    pub fn categories(&self) -> impl Iterator<Item = &LowLevelCategory> {
        self.categories.values()
    }

    /// The name of a high-level category (1000 Recon, 2000 DoS, ... 24000 Sense), from the
    /// built-in data. `None` for ids that are not high-level ids and for 11000, whose name
    /// no source gives.
    pub fn high_level_name(id: u32) -> Option<&'static str> {
        Some(Self::builtin().high_level_name_of(id)).filter(|name| !name.is_empty())
    }

    /// The built-in log source type with this id.
    pub fn log_source_type(&self, id: u32) -> Option<&LogSourceType> {
        self.fixed.log_source_types.get(&id)
    }

    /// The built-in log source type with exactly this internal name, such as
    /// `MicrosoftAzureActiveDirectory`.
    pub fn log_source_type_by_name(&self, name: &str) -> Option<&LogSourceType> {
        self.fixed
            .log_source_type_ids_by_name
            .get(name)
            .and_then(|id| self.fixed.log_source_types.get(id))
    }

    /// The built-in protocol with this id.
    pub fn protocol(&self, id: u32) -> Option<&Protocol> {
        self.fixed.protocols.get(&id)
    }

    /// The built-in protocol with exactly this name, such as `Syslog`.
    pub fn protocol_by_name(&self, name: &str) -> Option<&Protocol> {
        self.fixed
            .protocol_ids_by_name
            .get(name)
            .and_then(|id| self.fixed.protocols.get(id))
    }

    /// The built-in device category with this id.
    pub fn device_category(&self, id: u32) -> Option<&DeviceCategory> {
        self.fixed.device_categories.get(&id)
    }

    /// The built-in protocol whose name (`UniversalCloudRESTAPI`) or description
    /// (`Universal Cloud REST API`) is exactly `name`; the name is tried first.
    pub fn protocol_by_name_or_description(&self, name: &str) -> Option<&Protocol> {
        self.protocol_by_name(name).or_else(|| {
            self.fixed
                .protocols
                .values()
                .find(|p| !p.description.is_empty() && p.description == name)
        })
    }

    /// All built-in protocols, sorted by id.
    pub fn protocols(&self) -> impl Iterator<Item = &Protocol> {
        self.fixed.protocols.values()
    }

    /// Up to `n` protocols whose name or description is within a few edits of `name`
    /// (case and spaces ignored), closest first, for "did you mean" help.
    pub fn suggest_protocols(&self, name: &str, n: usize) -> Vec<&Protocol> {
        let squash = |s: &str| -> Vec<char> {
            s.chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_lowercase)
                .collect()
        };
        let query = squash(name);
        if query.is_empty() {
            return Vec::new();
        }
        let limit = (query.len() / 3).max(2);
        let mut scored: Vec<(usize, u32, &Protocol)> = self
            .fixed
            .protocols
            .values()
            .filter_map(|p| {
                let d = edit_distance(&query, &squash(&p.name))
                    .min(edit_distance(&query, &squash(&p.description)));
                (d <= limit).then_some((d, p.id, p))
            })
            .collect();
        scored.sort_by_key(|(d, id, _)| (*d, *id));
        scored.into_iter().take(n).map(|(_, _, p)| p).collect()
    }

    /// The built-in device category with exactly this name (`SW/Integration`).
    pub fn device_category_by_name(&self, name: &str) -> Option<&DeviceCategory> {
        self.fixed
            .device_categories
            .values()
            .find(|c| c.name == name)
    }

    /// All built-in device categories, sorted by id.
    pub fn device_categories(&self) -> impl Iterator<Item = &DeviceCategory> {
        self.fixed.device_categories.values()
    }

    /// The high-level name for `id`, or "" when unknown. Never calls `builtin()`, so it is
    /// safe while the builtin catalogue is being built.
    fn high_level_name_of(&self, id: u32) -> &str {
        self.fixed
            .high_level_names
            .get(&id)
            .map_or("", String::as_str)
    }

    /// Checks the categories and indexes them. The first bad record, in input order, is
    /// the error.
    fn assemble(
        rows: impl IntoIterator<Item = (Location, LowLevelCategory)>,
        what: &'static str,
        fixed: Arc<Fixed>,
    ) -> Result<Catalogue, CatalogueError> {
        let mut categories = BTreeMap::new();
        let mut locations: HashMap<u32, Location> = HashMap::new();
        let mut category_ids_by_name: HashMap<String, u32> = HashMap::new();
        for (location, category) in rows {
            let id = category.id;
            let invalid = |problem| CatalogueError::Invalid {
                location: location.clone(),
                problem,
            };
            if category.name.trim().is_empty() {
                return Err(invalid(Problem::EmptyName { id }));
            }
            if id < 1000 || id % 1000 == 0 {
                return Err(invalid(Problem::NotLowLevelId { id }));
            }
            let expected = id / 1000 * 1000;
            if category.high_level_id != expected {
                return Err(invalid(Problem::WrongHighLevel {
                    id,
                    high_level_id: category.high_level_id,
                    expected,
                }));
            }
            if let Some(first) = locations.get(&id) {
                return Err(invalid(Problem::DuplicateId {
                    id,
                    first: first.clone(),
                }));
            }
            if let Some(&first_id) = category_ids_by_name.get(&category.name) {
                return Err(invalid(Problem::DuplicateName {
                    name: category.name.clone(),
                    id,
                    first_id,
                }));
            }
            category_ids_by_name.insert(category.name.clone(), id);
            locations.insert(id, location.clone());
            categories.insert(id, category);
        }
        if categories.is_empty() {
            return Err(CatalogueError::Empty { what });
        }
        Ok(Catalogue {
            categories,
            category_ids_by_name,
            fixed,
        })
    }
}

fn parse_builtin() -> Result<Catalogue, CatalogueError> {
    const CATEGORIES: &str = "src/data/low-level-categories.csv";
    let rows = read_csv::<CsvCategory>(LOW_LEVEL_CATEGORIES_CSV, CATEGORIES, CATEGORY_COLUMNS)?;
    let mut high_level_names = BTreeMap::new();
    for (_, row) in &rows {
        high_level_names
            .entry(row.high_level_id)
            .or_insert_with(|| row.high_level_name.clone());
    }

    let (log_source_types, log_source_type_ids_by_name) = index(
        read_csv::<LogSourceType>(
            LOG_SOURCE_TYPES_CSV,
            "src/data/log-source-types.csv",
            &["id", "name"],
        )?,
        |t| (t.id, t.name.as_str()),
    )?;
    let (protocols, protocol_ids_by_name) = index(
        read_csv::<Protocol>(
            PROTOCOLS_CSV,
            "src/data/protocols.csv",
            &["id", "name", "description"],
        )?,
        |p| (p.id, p.name.as_str()),
    )?;
    let (device_categories, _) = index(
        read_csv::<DeviceCategory>(
            DEVICE_CATEGORIES_CSV,
            "src/data/device-categories.csv",
            &["id", "name", "description"],
        )?,
        |d| (d.id, d.name.as_str()),
    )?;

    let fixed = Arc::new(Fixed {
        high_level_names,
        log_source_types,
        log_source_type_ids_by_name,
        protocols,
        protocol_ids_by_name,
        device_categories,
    });
    let categories = rows.into_iter().map(|(location, row)| {
        let category = LowLevelCategory {
            id: row.id,
            name: row.name,
            high_level_id: row.high_level_id,
            high_level_name: row.high_level_name,
        };
        (location, category)
    });
    Catalogue::assemble(categories, CATEGORIES, fixed)
}

type Indexed<T> = (BTreeMap<u32, T>, HashMap<String, u32>);

/// Indexes a built-in table by id and name, rejecting duplicates and empty names.
fn index<T>(
    rows: Vec<(Location, T)>,
    key: impl Fn(&T) -> (u32, &str),
) -> Result<Indexed<T>, CatalogueError> {
    let mut by_id = BTreeMap::new();
    let mut locations: HashMap<u32, Location> = HashMap::new();
    let mut by_name = HashMap::new();
    for (location, row) in rows {
        let (id, name) = key(&row);
        let problem = if name.is_empty() {
            Some(Problem::EmptyName { id })
        } else if let Some(first) = locations.get(&id) {
            Some(Problem::DuplicateId {
                id,
                first: first.clone(),
            })
        } else {
            by_name.get(name).map(|&first_id| Problem::DuplicateName {
                name: name.to_owned(),
                id,
                first_id,
            })
        };
        if let Some(problem) = problem {
            return Err(CatalogueError::Invalid { location, problem });
        }
        by_name.insert(name.to_owned(), id);
        locations.insert(id, location);
        by_id.insert(id, row);
    }
    Ok((by_id, by_name))
}

/// Reads a headed CSV into `T`s by column name, trimming every field, with the line each
/// record starts on.
fn read_csv<T: DeserializeOwned>(
    text: &str,
    table: &'static str,
    required: &[&'static str],
) -> Result<Vec<(Location, T)>, CatalogueError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(strip_bom(text).as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| csv_error(table, &e, None))?
        .clone();
    for &column in required {
        if !headers.iter().any(|h| h == column) {
            return Err(CatalogueError::Invalid {
                location: Location::CsvLine { table, line: 1 },
                problem: Problem::MissingColumn {
                    column,
                    expected: required.join(","),
                    found: headers.iter().collect::<Vec<_>>().join(","),
                },
            });
        }
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(table, &e, Some(&headers)))?;
        let line = record.position().map_or(0, csv::Position::line);
        let location = Location::CsvLine { table, line };
        match record.deserialize::<T>(Some(&headers)) {
            Ok(row) => rows.push((location, row)),
            Err(e) => {
                return Err(CatalogueError::Invalid {
                    location,
                    problem: Problem::Malformed(csv_message(&e, Some(&headers))),
                });
            }
        }
    }
    Ok(rows)
}

fn csv_error(
    table: &'static str,
    error: &csv::Error,
    headers: Option<&csv::StringRecord>,
) -> CatalogueError {
    let line = error.position().map_or(0, csv::Position::line);
    CatalogueError::Invalid {
        location: Location::CsvLine { table, line },
        problem: Problem::Malformed(csv_message(error, headers)),
    }
}

/// The csv crate's message without its own position prefix, naming the column where known.
fn csv_message(error: &csv::Error, headers: Option<&csv::StringRecord>) -> String {
    match error.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("the record has {len} fields, but the header has {expected_len}"),
        csv::ErrorKind::Deserialize { err, .. } => {
            let column = err
                .field()
                .and_then(|i| usize::try_from(i).ok())
                .and_then(|i| headers.and_then(|h| h.get(i)));
            match (column, err.kind()) {
                (Some(column), csv::DeserializeErrorKind::ParseInt(e)) => {
                    format!("column `{column}`: not a whole number ({e})")
                }
                (Some(column), kind) => format!("column `{column}`: {kind}"),
                (None, kind) => kind.to_string(),
            }
        }
        _ => error.to_string(),
    }
}

fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

fn describe_json(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        // QRadar's error responses are objects with `code` and `message`.
        Value::Object(map) => match map.get("message").and_then(Value::as_str) {
            Some(message) => format!("an object (QRadar said: {message:?})"),
            None => "an object".to_owned(),
        },
        Value::Null => "null".to_owned(),
        Value::Bool(_) => "a boolean".to_owned(),
        Value::Number(_) => "a number".to_owned(),
        Value::String(_) => "a string".to_owned(),
        Value::Array(_) => "an array".to_owned(),
    }
}

/// Optimal-string-alignment distance: insertions, deletions, substitutions and swaps of
/// two neighbouring characters each cost 1.
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let width = b.len() + 1;
    let mut rows = vec![vec![0usize; width]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

/// The fewest edits that turn `needle` into some run of characters inside `haystack`.
fn substring_distance(needle: &[char], haystack: &[char]) -> usize {
    // The first row is all zeros and the answer is the minimum of the last row, so the
    // match may start and end anywhere in `haystack`.
    let mut previous = vec![0usize; haystack.len() + 1];
    for (i, &n) in needle.iter().enumerate() {
        let mut current = vec![i + 1; haystack.len() + 1];
        for (j, &h) in haystack.iter().enumerate() {
            current[j + 1] = (previous[j] + usize::from(n != h))
                .min(previous[j + 1] + 1)
                .min(current[j] + 1);
        }
        previous = current;
    }
    previous.into_iter().min().unwrap_or(needle.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    const API_SAMPLE: &str = r#"[
        {"id": 3032, "name": "User Account Changed", "description": "User Account Changed",
         "severity": 3, "high_level_category_id": 3000},
        {"id": 19001, "name": "General Audit Event ", "description": "General Audit Event",
         "severity": 0, "high_level_category_id": 19000},
        {"id": 25001, "name": "Something Newer", "description": "", "severity": 5,
         "high_level_category_id": 25000}
    ]"#;

    fn invalid(error: CatalogueError) -> (Location, Problem) {
        match error {
            CatalogueError::Invalid { location, problem } => (location, problem),
            other => panic!("expected an invalid record, got {other:?}"),
        }
    }

    #[test]
    fn builtin_parses_every_row() {
        let catalogue = Catalogue::builtin();
        assert_eq!(catalogue.categories().count(), 1260);
        let ids: Vec<u32> = catalogue.categories().map(|c| c.id).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "sorted by id");
        assert_eq!(ids.first(), Some(&1001));
        assert_eq!(ids.last(), Some(&24008));
        assert_eq!(catalogue.fixed.log_source_types.len(), 407);
        assert_eq!(catalogue.fixed.protocols.len(), 86);
        assert_eq!(catalogue.fixed.device_categories.len(), 3);
    }

    #[test]
    fn builtin_high_level_names_agree_within_each_group() {
        for category in Catalogue::builtin().categories() {
            assert_eq!(
                Catalogue::high_level_name(category.high_level_id).unwrap_or(""),
                category.high_level_name,
                "category {}",
                category.id
            );
        }
    }

    #[test]
    fn project_ids_resolve_to_their_names() {
        let expected = [
            (3029, "Policy Added"),
            (3030, "Policy Change"),
            (3031, "User Account Added"),
            (3032, "User Account Changed"),
            (3034, "Password Change Succeeded"),
            (3035, "User Account Removed"),
            (3036, "Group Member Added"),
            (3046, "General Authentication Successful"),
            (3047, "General Authentication Failed"),
            (3115, "User Login Success"),
            (3116, "User Login Failure"),
            (3120, "Identity Granted"),
            (19001, "General Audit Event"),
            (19012, "Create Activity Succeeded"),
            (19018, "Update Activity Succeeded"),
        ];
        let catalogue = Catalogue::builtin();
        for (id, name) in expected {
            let category = catalogue.category(id);
            assert_eq!(category.map(|c| c.name.as_str()), Some(name), "id {id}");
            assert_eq!(category.map(|c| c.high_level_id), Some(id / 1000 * 1000));
        }
        assert_eq!(
            catalogue.category(3032).map(|c| c.high_level_name.as_str()),
            Some("Authentication")
        );
        assert_eq!(
            catalogue
                .category(19018)
                .map(|c| c.high_level_name.as_str()),
            Some("Audit")
        );
    }

    #[test]
    fn lookup_by_exact_name() {
        let catalogue = Catalogue::builtin();
        assert_eq!(
            catalogue
                .category_by_name("User Account Changed")
                .map(|c| c.id),
            Some(3032)
        );
        assert_eq!(
            catalogue.category_by_name("Identity Granted").map(|c| c.id),
            Some(3120)
        );
        assert!(catalogue.category_by_name("user account changed").is_none());
        assert!(
            catalogue
                .category_by_name("User Account Changed ")
                .is_none()
        );
        assert!(catalogue.category(3055).is_none());
    }

    #[test]
    fn high_level_names() {
        assert_eq!(Catalogue::high_level_name(1000), Some("Recon"));
        assert_eq!(Catalogue::high_level_name(3000), Some("Authentication"));
        assert_eq!(Catalogue::high_level_name(19000), Some("Audit"));
        assert_eq!(Catalogue::high_level_name(24000), Some("Sense"));
        assert_eq!(Catalogue::high_level_name(11000), None);
        assert_eq!(Catalogue::high_level_name(3032), None);
        assert_eq!(Catalogue::high_level_name(25000), None);
    }

    #[test]
    fn suggest_finds_misspelt_names() {
        let catalogue = Catalogue::builtin();
        let ids = |name: &str, n: usize| -> Vec<u32> {
            catalogue.suggest(name, n).iter().map(|c| c.id).collect()
        };
        assert_eq!(ids("user account changd", 3).first(), Some(&3032));
        assert_eq!(ids("USER ACCOUNT CHANGED", 1), vec![3032]);
        assert_eq!(ids("Idnetity Granted", 1), vec![3120]);
        assert!(ids("login sucess", 5).contains(&3115));
        assert!(ids("user account changd", 3).len() <= 3);
        assert!(ids("user account changd", 0).is_empty());
        assert!(ids("", 5).is_empty());
        assert!(ids("qqqqzzzzxxxx", 5).is_empty());
    }

    #[test]
    fn log_source_types_protocols_and_device_categories() {
        let catalogue = Catalogue::builtin();
        let name = |id| catalogue.log_source_type(id).map(|t| t.name.as_str());
        assert_eq!(name(445), Some("MicrosoftAzureActiveDirectory"));
        assert_eq!(name(12), Some("WindowsAuthServer"));
        assert_eq!(name(1), None);
        assert_eq!(
            catalogue
                .log_source_type_by_name("MicrosoftAzureActiveDirectory")
                .map(|t| t.id),
            Some(445)
        );
        assert_eq!(
            catalogue.protocol(0).map(|p| p.name.as_str()),
            Some("Syslog")
        );
        assert_eq!(catalogue.protocol_by_name("Syslog").map(|p| p.id), Some(0));
        assert_eq!(
            catalogue.device_category(5).map(|d| d.name.as_str()),
            Some("SW/Integration")
        );
        // A quoted description with commas, in a CRLF file.
        assert_eq!(
            catalogue.device_category(3).map(|d| d.description.as_str()),
            Some("Authentication and Service Authorization services (LDAP,Kerberos,...)")
        );
    }

    #[test]
    fn api_json_sample_loads() {
        let catalogue = Catalogue::from_api_json(API_SAMPLE).expect("sample parses");
        assert_eq!(catalogue.categories().count(), 3);
        let changed = catalogue.category_by_name("User Account Changed");
        assert_eq!(
            changed,
            Some(&LowLevelCategory {
                id: 3032,
                name: "User Account Changed".to_owned(),
                high_level_id: 3000,
                high_level_name: "Authentication".to_owned(),
            })
        );
        // Trimmed name; unknown high-level id has no name.
        assert_eq!(
            catalogue
                .category_by_name("General Audit Event")
                .map(|c| c.id),
            Some(19001)
        );
        assert_eq!(
            catalogue
                .category(25001)
                .map(|c| c.high_level_name.as_str()),
            Some("")
        );
        // Only the categories are replaced.
        assert!(catalogue.category(3029).is_none());
        assert_eq!(catalogue.log_source_type(445).map(|t| t.id), Some(445));
        assert_eq!(catalogue.protocol_by_name("Syslog").map(|p| p.id), Some(0));
    }

    #[test]
    fn api_json_accepts_a_bom_and_minimal_objects() {
        let text = "\u{feff}[{\"id\":3001,\"name\":\"Misc Login Succeeded\",\"high_level_category_id\":3000}]";
        let catalogue = Catalogue::from_api_json(text).expect("parses");
        assert_eq!(
            catalogue.category(3001).map(|c| c.high_level_id),
            Some(3000)
        );
    }

    #[test]
    fn api_json_errors() {
        let malformed = Catalogue::from_api_json("[{\"id\": 3032,").map(|_| ());
        assert!(matches!(malformed, Err(CatalogueError::Json(_))));

        let object = Catalogue::from_api_json(
            r#"{"http_response": {"code": 401}, "code": 17, "message": "No SEC header present in request."}"#,
        );
        match object {
            Err(CatalogueError::NotAnArray { found }) => assert!(found.contains("No SEC header")),
            other => panic!("expected NotAnArray, got {other:?}"),
        }

        let empty = Catalogue::from_api_json("[]").map(|_| ());
        assert!(matches!(empty, Err(CatalogueError::Empty { .. })));

        let duplicate = r#"[
            {"id": 3032, "name": "User Account Changed", "high_level_category_id": 3000},
            {"id": 3032, "name": "Another", "high_level_category_id": 3000}
        ]"#;
        let (location, problem) = invalid(Catalogue::from_api_json(duplicate).expect_err("error"));
        assert_eq!(location, Location::JsonElement { index: 1 });
        assert_eq!(
            problem,
            Problem::DuplicateId {
                id: 3032,
                first: Location::JsonElement { index: 0 }
            }
        );

        let wrong_high =
            r#"[{"id": 3032, "name": "User Account Changed", "high_level_category_id": 19000}]"#;
        let (_, problem) = invalid(Catalogue::from_api_json(wrong_high).expect_err("error"));
        assert_eq!(
            problem,
            Problem::WrongHighLevel {
                id: 3032,
                high_level_id: 19000,
                expected: 3000
            }
        );

        let empty_name = r#"[{"id": 3032, "name": "  ", "high_level_category_id": 3000}]"#;
        let (_, problem) = invalid(Catalogue::from_api_json(empty_name).expect_err("error"));
        assert_eq!(problem, Problem::EmptyName { id: 3032 });

        let missing_key = r#"[{"id": 3032, "name": "User Account Changed"}]"#;
        let error = Catalogue::from_api_json(missing_key).expect_err("error");
        assert!(
            error.to_string().contains("high_level_category_id"),
            "{error}"
        );
        assert!(error.to_string().contains("[0]"), "{error}");

        let negative = r#"[{"id": -1, "name": "x", "high_level_category_id": 0}]"#;
        assert!(matches!(
            Catalogue::from_api_json(negative),
            Err(CatalogueError::Invalid { .. })
        ));

        let duplicate_name = r#"[
            {"id": 3032, "name": "Same", "high_level_category_id": 3000},
            {"id": 3033, "name": "Same", "high_level_category_id": 3000}
        ]"#;
        let (_, problem) = invalid(Catalogue::from_api_json(duplicate_name).expect_err("error"));
        assert!(matches!(
            problem,
            Problem::DuplicateName {
                id: 3033,
                first_id: 3032,
                ..
            }
        ));
    }

    #[test]
    fn csv_loads() {
        let text = "id,name,high_level_id,high_level_name\r\n\
                    3032,User Account Changed,3000,Authentication\r\n\
                    19001,General Audit Event,19000,\r\n";
        let catalogue = Catalogue::from_csv(text).expect("parses");
        assert_eq!(catalogue.categories().count(), 2);
        assert_eq!(
            catalogue
                .category(19001)
                .map(|c| c.high_level_name.as_str()),
            Some("Audit"),
            "empty high-level name filled from the built-in table"
        );
        assert_eq!(catalogue.log_source_type(12).map(|t| t.id), Some(12));
    }

    #[test]
    fn builtin_csv_round_trips_through_from_csv() {
        let catalogue = Catalogue::from_csv(LOW_LEVEL_CATEGORIES_CSV).expect("parses");
        assert!(catalogue.categories().eq(Catalogue::builtin().categories()));
    }

    #[test]
    fn csv_errors() {
        const HEADER: &str = "id,name,high_level_id,high_level_name\n";
        let check = |body: &str| {
            invalid(Catalogue::from_csv(&format!("{HEADER}{body}")).expect_err("error"))
        };

        let (location, problem) = check("3032,A,3000,Authentication\n3032,B,3000,Authentication\n");
        assert_eq!(
            location,
            Location::CsvLine {
                table: "categories CSV",
                line: 3
            }
        );
        assert!(matches!(problem, Problem::DuplicateId { id: 3032, .. }));

        let (_, problem) = check("3032,A,4000,Access\n");
        assert!(matches!(
            problem,
            Problem::WrongHighLevel { expected: 3000, .. }
        ));

        let (_, problem) = check("3032,,3000,Authentication\n");
        assert_eq!(problem, Problem::EmptyName { id: 3032 });

        let (_, problem) = check("3000,Authentication,3000,Authentication\n");
        assert_eq!(problem, Problem::NotLowLevelId { id: 3000 });

        let (location, problem) = check("30x2,A,3000,Authentication\n");
        assert_eq!(
            location,
            Location::CsvLine {
                table: "categories CSV",
                line: 2
            }
        );
        match problem {
            Problem::Malformed(message) => assert!(message.contains("`id`"), "{message}"),
            other => panic!("expected Malformed, got {other:?}"),
        }

        let (_, problem) = check("3032,A,3000\n");
        assert!(matches!(problem, Problem::Malformed(_)));

        let (location, problem) =
            invalid(Catalogue::from_csv("id,name\n3032,A\n").expect_err("error"));
        assert_eq!(
            location,
            Location::CsvLine {
                table: "categories CSV",
                line: 1
            }
        );
        assert!(matches!(
            problem,
            Problem::MissingColumn {
                column: "high_level_id",
                ..
            }
        ));

        assert!(matches!(
            Catalogue::from_csv(HEADER),
            Err(CatalogueError::Empty { .. })
        ));
        assert!(matches!(
            Catalogue::from_csv(""),
            Err(CatalogueError::Invalid { .. })
        ));
    }

    #[test]
    fn error_messages_say_where_and_why() {
        let error =
            Catalogue::from_csv("id,name,high_level_id,high_level_name\n3032,A,4000,Access\n")
                .expect_err("error");
        assert_eq!(
            error.to_string(),
            "categories CSV line 2: category 3032 has high-level id 4000, but it belongs to 3000 (floor(id/1000)*1000)"
        );
    }

    #[test]
    fn distances() {
        let chars = |s: &str| s.chars().collect::<Vec<_>>();
        assert_eq!(edit_distance(&chars("changd"), &chars("changed")), 1);
        assert_eq!(edit_distance(&chars("chagned"), &chars("changed")), 1);
        assert_eq!(edit_distance(&chars(""), &chars("abc")), 3);
        assert_eq!(
            substring_distance(&chars("login"), &chars("user login success")),
            0
        );
        assert_eq!(
            substring_distance(&chars("sucess"), &chars("user login success")),
            1
        );
        assert_eq!(substring_distance(&chars(""), &chars("abc")), 0);
    }
}
