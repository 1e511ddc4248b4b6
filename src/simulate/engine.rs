//! The simulator: a built pack turned into lookup tables, and one event run through them
//! the way QRadar would: device event id and category from the pack's [dsm] templates,
//! the QID from the DSM mappings, every custom property, every rule and saved search.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use serde::Serialize;

use std::borrow::Cow;

use super::aql::{self, AqlError, Compiled, Value};
use super::scan::{PathId, PathSet, Scan};
use crate::build::Built;
use crate::catalogue::Catalogue;
use crate::content::Extraction;
use crate::jsonpath::KeyPath;
use crate::rule::RuleTest;

/// A template piece: literal text or a placeholder.
#[derive(Debug, Clone)]
enum Part {
    Lit(String),
    Var(String),
    /// A placeholder with its `[dsm.fields]` paths.
    Field(String, Vec<PathId>),
    /// A placeholder a custom DSM's parsing fills.
    Custom(String),
}

fn parts(t: &str) -> Vec<Part> {
    let mut out = Vec::new();
    let mut rest = t;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(c)
                if c > 0
                    && after[..c]
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
            {
                if open > 0 {
                    out.push(Part::Lit(rest[..open].to_string()));
                }
                out.push(Part::Var(after[..c].to_string()));
                rest = &after[c + 1..];
            }
            _ => {
                out.push(Part::Lit(rest[..=open].to_string()));
                rest = after;
            }
        }
    }
    if !rest.is_empty() {
        out.push(Part::Lit(rest.to_string()));
    }
    out
}

#[derive(Debug, Clone)]
pub struct EventInfo {
    pub name: String,
    pub qid: i64,
    pub category: i64,
    pub category_name: String,
    pub severity: i64,
}

enum Extractor {
    Json(PathId),
    Regex(regex::Regex, usize),
    /// A regex whose capture group is a greedy run of characters from a class, right
    /// after a literal byte outside the class, and which ends the pattern or is followed
    /// only by a literal (`KeyType=([A-Za-z0-9]+)`, `"\\"([^"\\]+)\\"`): the group is
    /// then the longest run of class bytes that ends where that literal starts, so the end
    /// of the match (the regex's forward DFA) is enough, and neither the reverse search
    /// for its start nor the capture engine is needed.
    RegexTail(regex_automata::meta::Regex, Tail),
    /// An expression qrpack cannot run (Java-only regex); the reason is in `problems`.
    Unsupported,
}

struct Expression {
    /// `None`: any QID.
    qid: Option<i64>,
    rank: i64,
    extractor: Extractor,
}

struct Property {
    name: String,
    expressions: Vec<Expression>,
}

pub struct Rule {
    pub name: String,
    pub building_block: bool,
    pub enabled: bool,
    types: Option<Vec<i64>>,
    qids: Option<Vec<i64>>,
    filter: Option<Result<Compiled, AqlError>>,
}

struct Search {
    name: String,
    filter: Result<Option<Compiled>, AqlError>,
}

/// A pack, ready to simulate.
pub struct Simulator {
    type_id: i64,
    id_parts: Vec<Part>,
    cat_parts: Vec<Part>,
    fields: BTreeMap<String, Vec<PathId>>,
    /// The paths of `[dsm.fields] time`: `starttime` and `devicetime`.
    time_paths: Option<Vec<PathId>>,
    /// Every key path the pack reads (fields and JSON expressions), found in one pass
    /// over each record.
    paths: PathSet,
    /// `event id` + U+001F + `category` → event index.
    mappings: HashMap<String, usize, BuildHasherDefault<Fx>>,
    /// `[[dsm.fallback]]`: category → (the event its looked-up pair maps to, that id).
    fallback: HashMap<String, (usize, String)>,
    pub events: Vec<EventInfo>,
    by_qid: HashMap<i64, usize>,
    properties: Vec<Property>,
    pub rules: Vec<Rule>,
    searches: Vec<Search>,
    /// Problems that keep parts of the pack from being simulated.
    pub problems: Vec<String>,
    /// Problems that keep the simulation from running at all (no device event could be
    /// derived for any record).
    pub fatal: Vec<String>,
    now: Option<i64>,
    /// A custom DSM's own parsing (the pack defines the log source type).
    custom: Option<super::custom::Parser>,
}

/// What became of one event.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Outcome {
    pub device_event_id: Option<String>,
    pub device_event_category: Option<String>,
    /// Why no mapping was looked up or found.
    pub unmapped: Option<String>,
    /// The device event id the pack's `[[dsm.fallback]]` looked up instead, when no
    /// mapping matched the event's own pair but its category has a fallback.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
    pub qid: Option<i64>,
    pub event: Option<String>,
    pub category: Option<String>,
    pub properties: BTreeMap<String, Option<String>>,
    /// A custom DSM's parsed fields, by `[parsing]` key (none for a built-in DSM).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, Option<String>>,
    pub rules: Vec<Verdict>,
    pub searches: Vec<Verdict>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Verdict {
    pub name: String,
    /// true: matches; false: does not; None: not simulated.
    pub matched: Option<bool>,
    pub reason: String,
}

impl Simulator {
    pub fn new(built: &Built, catalogue: &Catalogue, now: Option<i64>) -> Simulator {
        let mut problems = Vec::new();
        let mut fatal = Vec::new();
        let mut paths = PathSet::default();
        let fields: BTreeMap<String, Vec<PathId>> = built
            .dsm
            .fields
            .iter()
            .map(|(k, ps)| {
                (
                    k.clone(),
                    ps.iter()
                        .filter_map(|p| KeyPath::parse(p).ok())
                        .map(|p| paths.add(&p))
                        .collect(),
                )
            })
            .collect();
        let custom = built
            .custom_dsm
            .as_ref()
            .map(|c| super::custom::Parser::new(&c.extension, &mut problems, &mut paths));
        // Each placeholder resolved once: a custom DSM's own parsing fills those it
        // knows (and only those); otherwise the `[dsm.fields]` paths.
        let resolve = |t: &str| -> Vec<Part> {
            parts(t)
                .into_iter()
                .map(|p| match (p, &custom) {
                    (Part::Var(v), Some(c)) if c.has(&v) => Part::Custom(v),
                    (Part::Var(v), None) if fields.contains_key(&v) => {
                        let ps = fields[&v].clone();
                        Part::Field(v, ps)
                    }
                    (other, _) => other,
                })
                .collect()
        };
        let id_parts = resolve(&built.dsm.event_id);
        let cat_parts = resolve(&built.dsm.event_category);
        let time_paths = fields.get("time").cloned();
        for p in id_parts.iter().chain(cat_parts.iter()) {
            if let Part::Var(v) = p
                && !fields.contains_key(v)
                && !custom.as_ref().is_some_and(|c| c.has(v))
            {
                fatal.push(format!("[dsm.fields] has no key path for the placeholder `{v}`: no device event can be derived"));
            }
        }
        let ext = &built.extension;
        let mut events = Vec::new();
        let mut by_qidmap: HashMap<i64, usize> = HashMap::new();
        let mut by_qid = HashMap::new();
        for q in &ext.qidmaps {
            by_qidmap.insert(q.id, events.len());
            by_qid.insert(q.qid, events.len());
            events.push(EventInfo {
                name: q.name.clone(),
                qid: q.qid,
                category: q.low_level_category,
                category_name: u32::try_from(q.low_level_category)
                    .ok()
                    .and_then(|c| catalogue.category(c))
                    .map(|c| c.name.clone())
                    .unwrap_or_default(),
                severity: q.severity,
            });
        }
        let mut mappings = HashMap::default();
        for d in &ext.dsm_events {
            if let Some(&i) = by_qidmap.get(&d.qidmap_id) {
                mappings.insert(mapping_key(&d.device_event_id, &d.device_event_category), i);
            }
        }
        let fallback = built
            .dsm
            .fallback
            .iter()
            .filter_map(|(cat, id)| {
                mappings
                    .get(&mapping_key(id, cat))
                    .map(|&i| (cat.clone(), (i, id.clone())))
            })
            .collect();
        let mut properties: Vec<Property> = ext
            .properties
            .iter()
            .map(|p| Property {
                name: p.name.clone(),
                expressions: Vec::new(),
            })
            .collect();
        for e in &ext.expressions {
            let Some(pi) = ext.properties.iter().position(|p| p.id == e.property_id) else {
                continue;
            };
            let extractor = match &e.extraction {
                Extraction::Json(j) => match KeyPath::parse(j) {
                    Ok(k) => Extractor::Json(paths.add(&k)),
                    Err(_) => Extractor::Unsupported,
                },
                Extraction::Regex {
                    regex,
                    capture_group,
                } => match crate::validate::content::java_only(regex) {
                    Some(_) => Extractor::Unsupported,
                    None => match regex::Regex::new(regex) {
                        Ok(r) => match tail_group(regex, *capture_group as usize).and_then(|t| {
                            // The same pattern in the engine `regex` itself wraps.
                            regex_automata::meta::Regex::new(regex).ok().map(|m| (m, t))
                        }) {
                            Some((m, t)) => Extractor::RegexTail(m, t),
                            None => Extractor::Regex(r, *capture_group as usize),
                        },
                        Err(_) => Extractor::Unsupported,
                    },
                },
            };
            if !e.enabled {
                // QRadar does not run a disabled expression.
                continue;
            }
            if matches!(extractor, Extractor::Unsupported) {
                problems.push(format!("an expression of property \"{}\" is not simulated (a Java-only or invalid pattern)", ext.properties[pi].name));
            }
            properties[pi].expressions.push(Expression {
                qid: (e.qid >= 0).then_some(e.qid),
                rank: e.rank,
                extractor,
            });
        }
        for p in &mut properties {
            // QRadar tries a property's expressions in rank order [guess: first value wins].
            p.expressions.sort_by_key(|e| e.rank);
        }
        // AQL filters with their names looked up once: fields by what the simulator
        // knows of them, properties by their place in `properties` (the last of a name).
        // Does the pack say where a field is read (as `has_field`)?
        let has = |name: &str| match &custom {
            Some(c) => c.has(name),
            None => fields.contains_key(name),
        };
        // What `View` gives every event alike: the log source type, and NOW() when
        // `--now` fixes it (otherwise NOW() is each event's own time).
        let constants = aql::Constants {
            log_source_type: Some(built.log_source_type.0 as f64),
            now: now.map(|n| n as f64),
            // `View::field` has a value (NULL at least) for every slot named below.
            fields: true,
        };
        let compile = |e: &aql::Expr| {
            Compiled::new(
                e,
                &mut |name| match name {
                    "qid" => Some(F_QID),
                    "category" => Some(F_CATEGORY),
                    "highlevelcategory" => Some(F_HIGHLEVELCATEGORY),
                    "severity" => Some(F_SEVERITY),
                    "starttime" | "devicetime" if has("time") => Some(F_STARTTIME),
                    _ => TEXT_FIELDS
                        .iter()
                        .position(|f| *f == name && has(name))
                        .map(|i| F_TEXT + i as u32),
                },
                &mut |name| {
                    properties
                        .iter()
                        .rposition(|p| p.name == name)
                        .map(|i| i as u32)
                },
            )
            .fold(&constants)
        };
        let rules = built
            .rules
            .iter()
            .map(|r| {
                let mut rule = Rule {
                    name: r.name.clone(),
                    building_block: r.building_block,
                    enabled: r.enabled,
                    types: None,
                    qids: None,
                    filter: None,
                };
                for t in &r.tests {
                    match t {
                        RuleTest::LogSourceTypes(ts) => {
                            rule.types = Some(ts.iter().map(|(i, _)| *i).collect())
                        }
                        RuleTest::Qids(qs) => {
                            rule.qids = Some(qs.iter().map(|(q, _)| *q).collect())
                        }
                        RuleTest::Aql(f) => {
                            rule.filter = Some(aql::parse_condition(f).map(|e| compile(&e)))
                        }
                    }
                }
                rule
            })
            .collect();
        let searches = built
            .searches
            .iter()
            .map(|s| Search {
                name: s.name.clone(),
                filter: aql::parse_query_where(&s.aql).map(|w| w.map(|e| compile(&e))),
            })
            .collect();
        Simulator {
            type_id: built.log_source_type.0,
            id_parts,
            cat_parts,
            fields,
            time_paths,
            paths,
            mappings,
            fallback,
            events,
            by_qid,
            properties,
            rules,
            searches,
            problems,
            fatal,
            now,
            custom,
        }
    }

    /// Append the template's text for this record to `out`.
    fn render(&self, parts: &[Part], rec: &Rec, out: &mut String) -> Result<(), String> {
        for p in parts {
            match p {
                Part::Lit(l) => out.push_str(l),
                Part::Field(v, paths) => {
                    let value = paths
                        .iter()
                        .find_map(|&k| rec.scan.extract(rec.raw, k))
                        .ok_or_else(|| format!("the record has no value for `{v}`"))?;
                    out.push_str(&value);
                }
                Part::Custom(v) => {
                    let value = self
                        .custom
                        .as_ref()
                        .and_then(|c| c.field(v, rec.scan, rec.raw))
                        .ok_or_else(|| format!("the record has no value for `{v}`"))?;
                    out.push_str(&value);
                }
                Part::Var(v) => return Err(format!("no [dsm.fields] path for `{v}`")),
            }
        }
        Ok(())
    }

    fn field<'t>(&self, name: &str, rec: &Rec<'t>) -> Option<Cow<'t, str>> {
        if let Some(c) = &self.custom {
            return c.field(name, rec.scan, rec.raw);
        }
        self.fields
            .get(name)?
            .iter()
            .find_map(|&k| rec.scan.extract(rec.raw, k))
    }

    /// Run one record (its raw JSON text).
    pub fn run(&self, raw: &str) -> Result<Outcome, String> {
        SCRATCH.with(|t| {
            let mut t = t.borrow_mut();
            let Scratch { scan, buffers } = &mut *t;
            scan.parse(&self.paths, raw)
                .map_err(|e| format!("not JSON at byte {}: {}", e.0, e.1))?;
            let rec = Rec { scan, raw };
            let eval = self.evaluate(&rec, std::mem::take(buffers));
            Ok(self.outcome(&rec, eval))
        })
    }

    /// Run one record and keep only what the summary needs: the event it maps to.
    /// Everything is evaluated as for `run` (device event, QID, every property, every
    /// rule and search); only the report is not built.
    pub fn run_quick(&self, raw: &str) -> Result<Option<usize>, String> {
        SCRATCH.with(|t| {
            let mut t = t.borrow_mut();
            let Scratch { scan, buffers } = &mut *t;
            scan.parse(&self.paths, raw)
                .map_err(|e| format!("not JSON at byte {}: {}", e.0, e.1))?;
            let rec = Rec { scan, raw };
            let eval = self.evaluate(&rec, std::mem::take(buffers));
            let event = eval.event;
            *buffers = eval.into_buffers();
            Ok(event)
        })
    }

    /// Evaluate one record into `buffers` (emptied first).
    fn evaluate<'t>(&self, rec: &Rec<'t>, buffers: Buffers) -> Eval<'t> {
        let Buffers {
            mut key,
            props,
            mut rules,
            mut searches,
        } = buffers;
        // The id and the category in one string, as the mappings are keyed.
        key.clear();
        let id = self.render(&self.id_parts, rec, &mut key);
        let split = key.len();
        key.push('\u{1f}');
        let cat = self.render(&self.cat_parts, rec, &mut key);
        let device = match (id, cat) {
            (Ok(()), Ok(())) => Ok((key, split)),
            (Err(e), _) | (_, Err(e)) => Err(e),
        };
        let mut fallback = false;
        let event = device.as_ref().ok().and_then(|(key, split)| {
            self.mappings.get(key.as_str()).copied().or_else(|| {
                // No mapping: the DSM looks up its declared fallback pair, if any.
                let hit = self.fallback.get(&key[split + 1..]).map(|f| f.0);
                fallback = hit.is_some();
                hit
            })
        });
        let qid = event.map(|i| self.events[i].qid);
        let mut props = recycle(props);
        for p in &self.properties {
            let mut value = None;
            for x in p
                .expressions
                .iter()
                .filter(|x| x.qid.is_none() || x.qid == qid)
            {
                value = match &x.extractor {
                    Extractor::Json(k) => rec.scan.extract(rec.raw, *k),
                    // Only the end of the match: the group's run ends there (before the
                    // trailing literal), and the literal byte before the group (outside
                    // the class) stops the walk back inside the match, so its start is
                    // not needed.
                    Extractor::RegexTail(r, t) => r
                        .search_half(&regex_automata::Input::new(rec.raw))
                        .map(|m| Cow::Borrowed(tail_run(rec.raw, 0, m.offset(), *t)))
                        .filter(|s| !s.is_empty()),
                    Extractor::Regex(r, g) => r
                        .captures(rec.raw)
                        .and_then(|c| c.get(*g))
                        .map(|m| Cow::Borrowed(m.as_str()))
                        .filter(|s| !s.is_empty()),
                    Extractor::Unsupported => None,
                };
                if value.is_some() {
                    break;
                }
            }
            props.push(value);
        }
        let mut eval = Eval {
            device,
            event,
            fallback,
            props,
            rules: Vec::new(),
            searches: Vec::new(),
        };
        let view = View {
            sim: self,
            rec,
            eval: &eval,
            start: std::cell::OnceCell::new(),
        };
        rules.clear();
        rules.extend(self.rules.iter().map(|r| view.rule(r)));
        searches.clear();
        searches.extend(self.searches.iter().map(|s| match &s.filter {
            Err(e) if e.unsupported => {
                (None, Reason::Owned(format!("not simulated: {}", e.message)))
            }
            Err(e) => (
                None,
                Reason::Owned(format!("the query does not parse: {e}")),
            ),
            Ok(None) => (Some(true), Reason::Static("no WHERE clause")),
            Ok(Some(w)) => match w.eval(&view) {
                Ok(Some(true)) => (Some(true), Reason::Static("its WHERE clause is true")),
                Ok(Some(false)) => (Some(false), Reason::Static("its WHERE clause is false")),
                Ok(None) => (
                    Some(false),
                    Reason::Static(
                        "its WHERE clause is NULL (unknown), so the event is not listed",
                    ),
                ),
                Err(e) => (None, Reason::Owned(format!("not simulated: {}", e.message))),
            },
        }));
        eval.rules = rules;
        eval.searches = searches;
        eval
    }

    fn outcome(&self, rec: &Rec, eval: Eval) -> Outcome {
        let (device_event_id, device_event_category, mut unmapped) = match eval.device {
            Ok((key, split)) => (
                Some(key[..split].to_string()),
                Some(key[split + 1..].to_string()),
                None,
            ),
            Err(e) => (None, None, Some(e)),
        };
        if unmapped.is_none() && eval.event.is_none() {
            unmapped = Some("no DSM mapping of the pack matches this event id and category".into());
        }
        let info = eval.event.map(|i| &self.events[i]);
        let fallback = device_event_category
            .as_deref()
            .filter(|_| eval.fallback)
            .and_then(|c| self.fallback.get(c))
            .map(|f| f.1.clone());
        Outcome {
            device_event_id,
            device_event_category,
            unmapped,
            fallback,
            qid: info.map(|e| e.qid),
            event: info.map(|e| e.name.clone()),
            category: info.map(|e| {
                if e.category_name.is_empty() {
                    e.category.to_string()
                } else {
                    format!("{} {}", e.category, e.category_name)
                }
            }),
            properties: self
                .properties
                .iter()
                .zip(eval.props)
                .map(|(p, v)| (p.name.clone(), v.map(Cow::into_owned)))
                .collect(),
            fields: self
                .custom
                .as_ref()
                .map(|c| c.all(rec.scan, rec.raw))
                .unwrap_or_default(),
            rules: self
                .rules
                .iter()
                .zip(eval.rules)
                .map(|(r, (m, why))| Verdict {
                    name: r.name.clone(),
                    matched: m,
                    reason: why.into_string(),
                })
                .collect(),
            searches: self
                .searches
                .iter()
                .zip(eval.searches)
                .map(|(s, (m, why))| Verdict {
                    name: s.name.clone(),
                    matched: m,
                    reason: why.into_string(),
                })
                .collect(),
        }
    }
}

/// FxHash, the multiply-and-rotate hash of rustc: for the (id, category) keys looked
/// up once per event it costs a fraction of SipHash. The table holds only the pack's
/// own mappings, so there is nothing for a crafted event file to flood.
#[derive(Default)]
struct Fx(u64);

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in chunks.by_ref() {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        for &b in chunks.remainder() {
            self.add(u64::from(b));
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

impl Fx {
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// What a thread reuses from one record to the next: the scan and the buffers of an
/// evaluation, so that a record allocates nothing of its own in the common case.
#[derive(Default)]
struct Scratch {
    scan: Scan,
    buffers: Buffers,
}

/// The vectors and the key string of an [`Eval`], empty and kept for the next record.
#[derive(Default)]
struct Buffers {
    key: String,
    props: Vec<Option<Cow<'static, str>>>,
    rules: Vec<(Option<bool>, Reason)>,
    searches: Vec<(Option<bool>, Reason)>,
}

/// `v` emptied, for values that borrow from another record. Collecting a vector's own
/// `into_iter` into elements of the same size reuses its allocation.
fn recycle<'a, 'b>(mut v: Vec<Option<Cow<'a, str>>>) -> Vec<Option<Cow<'b, str>>> {
    v.clear();
    v.into_iter().map(|_| None).collect()
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

fn mapping_key(id: &str, cat: &str) -> String {
    let mut k = String::with_capacity(id.len() + cat.len() + 1);
    k.push_str(id);
    k.push('\u{1f}');
    k.push_str(cat);
    k
}

/// A record being simulated: its scan and text.
struct Rec<'t> {
    scan: &'t Scan,
    raw: &'t str,
}

/// Why a rule or search matched or not: mostly fixed words; the words are put together
/// only when a report shows them.
enum Reason {
    Static(&'static str),
    Owned(String),
    TypeNotTested(i64),
    QidNotTested(i64),
}

impl Reason {
    fn into_string(self) -> String {
        match self {
            Reason::Static(s) => s.to_string(),
            Reason::Owned(s) => s,
            Reason::TypeNotTested(t) => format!("log source type {t} is not tested"),
            Reason::QidNotTested(q) => format!("QID {q} is not in its QID test"),
        }
    }
}

/// One event's evaluation, borrowing from the record.
struct Eval<'t> {
    /// `id` U+001F `category`, and where the id ends.
    device: Result<(String, usize), String>,
    event: Option<usize>,
    /// `event` came from `[[dsm.fallback]]`.
    fallback: bool,
    props: Vec<Option<Cow<'t, str>>>,
    rules: Vec<(Option<bool>, Reason)>,
    searches: Vec<(Option<bool>, Reason)>,
}

impl Eval<'_> {
    /// Give the buffers back, to evaluate the next record with.
    fn into_buffers(self) -> Buffers {
        Buffers {
            key: self.device.map(|(k, _)| k).unwrap_or_default(),
            props: recycle(self.props),
            rules: self.rules,
            searches: self.searches,
        }
    }
}

/// The event as AQL sees it.
struct View<'a, 't> {
    sim: &'a Simulator,
    rec: &'a Rec<'t>,
    eval: &'a Eval<'t>,
    /// The event's time in ms, read once for every filter and `NOW()` that asks.
    start: std::cell::OnceCell<Option<i64>>,
}

impl View<'_, '_> {
    fn rule(&self, r: &Rule) -> (Option<bool>, Reason) {
        if !r.enabled {
            return (Some(false), Reason::Static("the rule is disabled"));
        }
        if let Some(types) = &r.types
            && !types.contains(&self.sim.type_id)
        {
            return (Some(false), Reason::TypeNotTested(self.sim.type_id));
        }
        let qid = self.eval.event.map(|i| self.sim.events[i].qid);
        if let Some(qids) = &r.qids {
            match qid {
                None => {
                    return (
                        Some(false),
                        Reason::Static("the event maps to no QID of the pack"),
                    );
                }
                Some(q) if !qids.contains(&q) => {
                    return (Some(false), Reason::QidNotTested(q));
                }
                Some(_) => {}
            }
        }
        match &r.filter {
            None => (Some(true), Reason::Static("log source type and QID match")),
            Some(Err(e)) if e.unsupported => {
                (None, Reason::Owned(format!("not simulated: {}", e.message)))
            }
            Some(Err(e)) => (
                None,
                Reason::Owned(format!("its AQL filter does not parse: {e}")),
            ),
            Some(Ok(f)) => match f.eval(self) {
                Ok(Some(true)) => (
                    Some(true),
                    Reason::Static("log source type, QID and AQL filter match"),
                ),
                Ok(Some(false)) => (Some(false), Reason::Static("its AQL filter is false")),
                Ok(None) => (
                    Some(false),
                    Reason::Static("its AQL filter is NULL (unknown), which does not match"),
                ),
                Err(e) => (None, Reason::Owned(format!("not simulated: {}", e.message))),
            },
        }
    }
}

// The slots of the fields AQL filters may use.
const F_QID: u32 = 0;
const F_CATEGORY: u32 = 1;
const F_HIGHLEVELCATEGORY: u32 = 2;
const F_SEVERITY: u32 = 3;
const F_STARTTIME: u32 = 4;
/// `F_TEXT + i`: `TEXT_FIELDS[i]`, read through `[dsm.fields]`.
const F_TEXT: u32 = 5;
const TEXT_FIELDS: [&str; 4] = ["username", "sourceip", "destinationip", "eventdirection"];

impl aql::Slots for View<'_, '_> {
    fn field(&self, slot: u32) -> Option<Value<'_>> {
        let info = self.eval.event.map(|i| &self.sim.events[i]);
        Some(match slot {
            F_QID => info.map_or(Value::Null, |e| Value::Num(e.qid as f64)),
            F_CATEGORY => info.map_or(Value::Null, |e| Value::Num(e.category as f64)),
            F_HIGHLEVELCATEGORY => info.map_or(Value::Null, |e| {
                Value::Num((e.category / 1000 * 1000) as f64)
            }),
            F_SEVERITY => info.map_or(Value::Null, |e| Value::Num(e.severity as f64)),
            F_STARTTIME => {
                let ms = self.start.get_or_init(|| {
                    let t = match &self.sim.time_paths {
                        Some(paths) if self.sim.custom.is_none() => paths
                            .iter()
                            .find_map(|&k| self.rec.scan.extract(self.rec.raw, k)),
                        _ => self.sim.field("time", self.rec),
                    };
                    t.and_then(|t| parse_time_ms(&t))
                });
                ms.map_or(Value::Null, |ms| Value::Num(ms as f64))
            }
            _ => {
                let name = TEXT_FIELDS.get(slot.checked_sub(F_TEXT)? as usize)?;
                self.sim
                    .field(name, self.rec)
                    .map_or(Value::Null, Value::Str)
            }
        })
    }
    fn property(&self, slot: u32) -> Value<'_> {
        match self
            .eval
            .props
            .get(slot as usize)
            .and_then(|v| v.as_deref())
        {
            Some(v) => Value::Str(Cow::Borrowed(v)),
            None => Value::Null,
        }
    }
    fn qid_name(&self, qid: &Value) -> Value<'_> {
        let q = match qid {
            Value::Num(n) => *n as i64,
            _ => return Value::Null,
        };
        self.sim.by_qid.get(&q).map_or(Value::Null, |&i| {
            Value::Str(Cow::Borrowed(&self.sim.events[i].name))
        })
    }
    fn log_source_type(&self) -> Value<'_> {
        Value::Num(self.sim.type_id as f64)
    }
    fn now(&self) -> Value<'_> {
        // Without --now, NOW() is the event's own time: "in the last N hours" holds.
        match self.sim.now {
            Some(n) => Value::Num(n as f64),
            None => self.field(F_STARTTIME).unwrap_or(Value::Null),
        }
    }
}

/// What [`tail_run`] needs of a regex of the shape of [`Extractor::RegexTail`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tail {
    /// The ASCII bytes of the group's class.
    ascii: u128,
    /// The class holds every non-ASCII character (`[^"\\]`), so every byte of one.
    non_ascii: bool,
    /// The length of the literal after the group (0: the group ends the pattern).
    suffix: usize,
}

impl Tail {
    fn has(&self, b: u8) -> bool {
        if b < 0x80 {
            self.ascii & (1 << b) != 0
        } else {
            self.non_ascii
        }
    }
}

/// The [`Tail`] of a regex's capture group `group` when the group can be read off the end
/// of a match (see [`Extractor::RegexTail`]): the pattern, parsed as the `regex` crate
/// parses it, is a concatenation with a literal whose last byte is outside the class,
/// then the group, a greedy unbounded repetition (at least once) of a class, then
/// optionally a literal that ends the pattern. The class is a set of ASCII characters,
/// possibly with every non-ASCII character. `None` for any other pattern.
fn tail_group(pattern: &str, group: usize) -> Option<Tail> {
    use regex_syntax::hir::{Class, HirKind};
    let hir = regex_syntax::Parser::new().parse(pattern).ok()?;
    let HirKind::Concat(parts) = hir.kind() else {
        return None;
    };
    let (end, rest) = parts.split_last()?;
    let (parts, suffix) = match end.kind() {
        HirKind::Literal(lit) if !lit.0.is_empty() => (rest, lit.0.len()),
        _ => (parts.as_slice(), 0),
    };
    let (last, before) = parts.split_last()?;
    let HirKind::Capture(cap) = last.kind() else {
        return None;
    };
    if cap.index as usize != group || group == 0 {
        return None;
    }
    let HirKind::Repetition(rep) = cap.sub.kind() else {
        return None;
    };
    if rep.min < 1 || rep.max.is_some() || !rep.greedy {
        return None;
    }
    let ranges: Vec<(u32, u32)> = match rep.sub.kind() {
        HirKind::Class(Class::Unicode(c)) => c
            .ranges()
            .iter()
            .map(|r| (r.start() as u32, r.end() as u32))
            .collect(),
        HirKind::Class(Class::Bytes(c)) => c
            .ranges()
            .iter()
            .map(|r| (u32::from(r.start()), u32::from(r.end())))
            .collect(),
        _ => return None,
    };
    let mut tail = Tail {
        ascii: 0,
        non_ascii: false,
        suffix,
    };
    // The non-ASCII part of the class must be all or nothing: from U+0080 on, the ranges
    // (sorted, apart) must run without a gap to U+10FFFF (the surrogates are no
    // characters, so a range may skip them).
    let mut next_non_ascii = 0x80u32;
    for (a, z) in ranges {
        for c in a..=z.min(0x7F) {
            tail.ascii |= 1 << c;
        }
        if z >= 0x80 {
            let from = a.max(0x80);
            if from != next_non_ascii && !(from == 0xE000 && next_non_ascii == 0xD800) {
                return None;
            }
            next_non_ascii = z + 1;
        }
    }
    match next_non_ascii {
        0x80 => {}
        0x11_0000 if matches!(rep.sub.kind(), HirKind::Class(Class::Unicode(_))) => {
            tail.non_ascii = true;
        }
        _ => return None,
    }
    let HirKind::Literal(lit) = before.last()?.kind() else {
        return None;
    };
    if tail.has(*lit.0.last()?) {
        return None;
    }
    Some(tail)
}

/// The longest run of bytes of `tail`'s class that ends `tail.suffix` bytes before
/// `end`, not before `start`.
fn tail_run(text: &str, start: usize, end: usize, tail: Tail) -> &str {
    let b = text.as_bytes();
    let end = end.saturating_sub(tail.suffix);
    let mut from = end;
    while from > start && tail.has(b[from - 1]) {
        from -= 1;
    }
    // A non-ASCII character is stepped over whole or not at all (its bytes are all in
    // the class or none is), and `end` starts the literal: both are character
    // boundaries.
    text.get(from..end).unwrap_or("")
}

/// `s.parse::<i64>()` for the few digits of a date or time field, without its
/// generality: an optional sign, then one or more ASCII digits.
#[cfg(test)]
fn small_int(s: &str) -> Option<i64> {
    small_int_bytes(s.as_bytes())
}

/// [`small_int`] of bytes: a range that cuts a character holds a byte that is neither a
/// sign nor a digit, so it gives `None` as `str::get` would.
#[inline]
fn small_int_bytes(b: &[u8]) -> Option<i64> {
    let (negative, digits) = match b.first()? {
        b'+' => (false, &b[1..]),
        b'-' => (true, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut v = 0i64;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(d - b'0');
    }
    Some(if negative { -v } else { v })
}

/// Milliseconds since the epoch of an RFC 3339 time (`2019-09-03T20:01:53.7619661Z`,
/// `…+00:00`).
pub fn parse_time_ms(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !(b[10] == b'T' || b[10] == b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let n = |r: std::ops::Range<usize>| -> Option<i64> { small_int_bytes(b.get(r)?) };
    // Two digits at `b[i]` (`b.len() >= 19`): the common case, all fields plain digits,
    // without `small_int`'s generality; a sign or other byte takes the general way.
    let two = |i: usize| -> Option<i64> {
        let (x, y) = (b[i].wrapping_sub(b'0'), b[i + 1].wrapping_sub(b'0'));
        if x < 10 && y < 10 {
            Some(i64::from(x) * 10 + i64::from(y))
        } else {
            None
        }
    };
    let digits = || {
        Some((
            two(0)? * 100 + two(2)?,
            two(5)?,
            two(8)?,
            two(11)?,
            two(14)?,
            two(17)?,
        ))
    };
    let (y, mo, d, h, mi, s) = match digits() {
        Some(v) => v,
        None => (
            n(0..4)?,
            n(5..7)?,
            n(8..10)?,
            n(11..13)?,
            n(14..16)?,
            n(17..19)?,
        ),
    };
    let mut i = 19;
    let mut ms = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        // The first three digits, padded with zeros on the right: milliseconds.
        let digits = &b[start..i];
        for k in 0..3 {
            ms = ms * 10 + digits.get(k).map_or(0, |d| i64::from(d - b'0'));
        }
    }
    let offset_min = match b.get(i) {
        None => 0,
        Some(b'Z') | Some(b'z') if i + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) if i + 6 == b.len() => {
            let hh = small_int_bytes(b.get(i + 1..i + 3)?)?;
            let mm = small_int_bytes(b.get(i + 4..i + 6)?)?;
            let m = hh * 60 + mm;
            if *sign == b'+' { m } else { -m }
        }
        _ => return None,
    };
    let stamp = crate::archive::Stamp {
        year: y as u16,
        month: mo as u8,
        day: d as u8,
        hour: h as u8,
        minute: mi as u8,
        second: s as u8,
    };
    Some((stamp.to_unix() - offset_min * 60) * 1000 + ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The group read off the end of the match is the group the capture engine finds.
    #[test]
    fn tail_groups_agree_with_captures() {
        let key_type = r#""newValue"\s*:\s*"(?:[^"\\]|\\.)*?KeyType=([A-Za-z0-9]+)"#;
        assert!(tail_group(key_type, 1).is_some());
        // Not of the shape: the group is followed by more than a literal, is lazy,
        // bounded, may be empty, has some but not all non-ASCII characters, starts with a
        // byte the literal ends with, or is another group.
        for (p, g) in [
            (r"x=([a-z]+)\s*;", 1),
            (r"x=([a-z]+)[;,]", 1),
            (r"x=([^a]+)y", 1),
            (r"x=([a-z]+?)", 1),
            (r"x=([a-z]{1,3})", 1),
            (r"x=([a-z]*)", 1),
            (r"x=(\w+)", 1),
            (r"a([a-z]+)", 1),
            (r"(x)=([a-z]+)", 1),
            (r"x=([a-z]+)", 0),
            (r"x=([a-z]+)|y", 1),
        ] {
            assert_eq!(tail_group(p, g), None, "{p}");
        }
        let corpus = include_str!("../../qid-maps/tests/events/diagnostic-records.ndjson");
        let mut haystacks: Vec<String> = corpus.lines().map(str::to_string).collect();
        haystacks.extend(
            [
                r#"{"newValue":"KeyType=Password"}"#,
                r#"{"newValue" : "a\"b KeyType=Ab9-x KeyType=Zz"}"#,
                r#"{"newValue":"no key type","x":"KeyType=Late"}"#,
                r#"{"newValue":"KeyType=","newValue":"KeyType=é1"}"#,
                r#"{"newValue":"KeyType=KeyType=Twice"}"#,
            ]
            .map(str::to_string),
        );
        let display_name = r#""Application\.DisplayName"[^}]*?"newValue"\s*:\s*"\\"([^"\\]+)\\""#;
        haystacks.extend(
            [
                r#"{"Application.DisplayName","newValue":"\"contoso-app\""}"#,
                r#"{"Application.DisplayName","newValue" : "\"café – app\"" }"#,
                r#"{"Application.DisplayName","newValue":"\"\""}"#,
                r#"{"Application.DisplayName","newValue":"\"a\"b\""}"#,
                "x=é1;x=ab;x=;x=a\u{10ffff}z;",
            ]
            .map(str::to_string),
        );
        for (p, g) in [
            (key_type, 1),
            (display_name, 1),
            (r"x=([^;=]+);", 1),
            (r"x=([a-z]+);", 1),
            (r"Type=([A-Za-z0-9]+)", 1),
            (r#"[=:]"([0-9a-f-]+)"#, 1),
            (r"(?:id|Id)=([A-Z]+)", 1),
        ] {
            let set = tail_group(p, g).unwrap_or_else(|| panic!("{p} has a tail group"));
            assert_eq!(set.suffix > 0, p.ends_with(';') || p == display_name, "{p}");
            let re = regex::Regex::new(p).expect("regex");
            let half = regex_automata::meta::Regex::new(p).expect("meta regex");
            for h in &haystacks {
                let want = re.captures(h).and_then(|c| c.get(g)).map(|m| m.as_str());
                let got = re.find(h).map(|m| tail_run(h, m.start(), m.end(), set));
                assert_eq!(got, want, "{p} on {h}");
                // As `evaluate` reads it: from the end of the match alone.
                let got = half
                    .search_half(&regex_automata::Input::new(h.as_str()))
                    .map(|m| tail_run(h, 0, m.offset(), set));
                assert_eq!(got, want, "{p} on {h} (half)");
            }
        }
    }

    #[test]
    fn small_ints_parse_as_i64_does() {
        for s in [
            "",
            "+",
            "-",
            "0",
            "07",
            "+5",
            "-5",
            "2025",
            "12a",
            "a1",
            "1.5",
            " 1",
            "--1",
            "+-1",
            "\u{e9}",
            "99999999999999999999",
        ] {
            assert_eq!(small_int(s), s.parse::<i64>().ok(), "{s:?}");
        }
    }

    #[test]
    fn times() {
        assert_eq!(parse_time_ms("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse_time_ms("1970-01-01T01:00:01.5+01:00"), Some(1500));
        assert_eq!(
            parse_time_ms("2019-09-03T20:01:53.7619661Z"),
            Some(1_567_540_913_761)
        );
        // Fractions of every length: the first three digits are the milliseconds.
        for (t, ms) in [
            ("1970-01-01T00:00:01.Z", 1000),
            ("1970-01-01T00:00:01.1Z", 1100),
            ("1970-01-01T00:00:01.12Z", 1120),
            ("1970-01-01T00:00:01.123Z", 1123),
            ("1970-01-01T00:00:01.1239999999999999999999Z", 1123),
            ("1970-01-01T00:00:01.999+00:00", 1999),
            ("1970-01-01T00:00:01.05", 1050),
        ] {
            assert_eq!(parse_time_ms(t), Some(ms), "{t}");
        }
        assert_eq!(parse_time_ms("1970-01-01T00:00:01.12a"), None);
        assert_eq!(parse_time_ms("not a time"), None);
        assert_eq!(parse_time_ms("2026-01-14T23:00:00Zjunk"), None);
        assert_eq!(parse_time_ms("2026-01-14T23:00:00+01:00x"), None);
        // The digits fast path and the general one (`small_int`) agree: signs, other
        // bytes and cut characters in each field.
        let reference = |t: &str| -> Option<(i64, i64, i64, i64, i64, i64)> {
            let n = |r: std::ops::Range<usize>| small_int(t.get(r)?);
            Some((
                n(0..4)?,
                n(5..7)?,
                n(8..10)?,
                n(11..13)?,
                n(14..16)?,
                n(17..19)?,
            ))
        };
        for t in [
            "2025-06-02T09:14:07Z",
            "+025-06-02T09:14:07Z",
            "-025-06-02T09:14:07Z",
            "2025-+6-02T09:14:07Z",
            "2025-06--2T09:14:07Z",
            "2025-06-02T+9:14:07Z",
            "2025-06-02T09:-4:07Z",
            "2025-06-02T09:14:+7Z",
            "2025-06-02T09:14:0xZ",
            "20a5-06-02T09:14:07Z",
            "2025-\u{e9}-02T09:14:07Z",
            "2025-06-02 09:14:07.5Z",
        ] {
            let want = reference(t).map(|(y, mo, d, h, mi, s)| {
                crate::archive::Stamp {
                    year: y as u16,
                    month: mo as u8,
                    day: d as u8,
                    hour: h as u8,
                    minute: mi as u8,
                    second: s as u8,
                }
                .to_unix()
            });
            let b = t.as_bytes();
            let shape =
                b.len() >= 19 && b[4] == b'-' && b[7] == b'-' && b[13] == b':' && b[16] == b':';
            let got = parse_time_ms(t).map(|ms| ms.div_euclid(1000));
            if shape {
                assert_eq!(got, want, "{t}");
            } else {
                assert_eq!(got, None, "{t}");
            }
        }
    }
}
