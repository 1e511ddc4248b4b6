//! The subset of AQL that rule filters and saved-search WHERE clauses use, parsed and
//! evaluated against a simulated event: comparisons, `IN`, `LIKE`/`ILIKE`, `IS [NOT]
//! NULL`, `AND`/`OR`/`NOT`, parentheses, `+ - * /`, `LOWER`, `UPPER`, `QIDNAME(qid)`,
//! `LOGSOURCETYPEID(logsourceid)`, `NOW()`, quoted property names. Anything else is
//! refused as "not simulated" with the construct named, never silently passed.

use std::borrow::Cow;
use std::fmt;

/// A token with its byte offset in the query.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Ident(String),
    /// `"Property Name"`
    Quoted(String),
    /// `'text'`
    Str(String),
    Num(f64),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AqlError {
    pub at: usize,
    pub message: String,
    /// The query uses something outside the simulated subset (not a syntax error).
    pub unsupported: bool,
}

impl fmt::Display for AqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at character {})", self.message, self.at + 1)
    }
}

fn syntax(at: usize, m: impl Into<String>) -> AqlError {
    AqlError {
        at,
        message: m.into(),
        unsupported: false,
    }
}
fn unsupported(at: usize, m: impl Into<String>) -> AqlError {
    AqlError {
        at,
        message: m.into(),
        unsupported: true,
    }
}

pub fn tokenize(q: &str) -> Result<Vec<(Tok, usize)>, AqlError> {
    let b = q.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'(' => {
                out.push((Tok::LParen, i));
                i += 1;
            }
            b')' => {
                out.push((Tok::RParen, i));
                i += 1;
            }
            b',' => {
                out.push((Tok::Comma, i));
                i += 1;
            }
            b'\'' | b'"' => {
                let start = i;
                i += 1;
                let mut s = String::new();
                loop {
                    if i >= b.len() {
                        return Err(syntax(start, "unterminated quote"));
                    }
                    if b[i] == c {
                        if b.get(i + 1) == Some(&c) {
                            s.push(c as char);
                            i += 2;
                            continue;
                        }
                        i += 1;
                        break;
                    }
                    let ch = q[i..].chars().next().unwrap_or('\u{fffd}');
                    s.push(ch);
                    i += ch.len_utf8();
                }
                out.push((
                    if c == b'\'' {
                        Tok::Str(s)
                    } else {
                        Tok::Quoted(s)
                    },
                    start,
                ));
            }
            b'0'..=b'9' | b'.' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                    i += 1;
                }
                let n: f64 = q[start..i]
                    .parse()
                    .map_err(|_| syntax(start, "not a number"))?;
                out.push((Tok::Num(n), start));
            }
            b'=' => {
                out.push((Tok::Op("="), i));
                i += 1;
            }
            b'<' | b'>' | b'!' => {
                let start = i;
                let two = &q[i..(i + 2).min(q.len())];
                let op = match two {
                    "<=" => "<=",
                    ">=" => ">=",
                    "<>" => "<>",
                    "!=" => "<>",
                    _ if c == b'<' => "<",
                    _ if c == b'>' => ">",
                    _ => return Err(syntax(i, "unexpected '!'")),
                };
                i += op.len().max(if two == "!=" { 2 } else { 0 });
                out.push((Tok::Op(op), start));
            }
            b'+' | b'-' | b'*' | b'/' => {
                out.push((
                    Tok::Op(match c {
                        b'+' => "+",
                        b'-' => "-",
                        b'*' => "*",
                        _ => "/",
                    }),
                    i,
                ));
                i += 1;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'.')
                {
                    i += 1;
                }
                out.push((Tok::Ident(q[start..i].to_string()), start));
            }
            _ => {
                let ch = q[i..].chars().next().unwrap_or('?');
                return Err(syntax(i, format!("unexpected character '{ch}'")));
            }
        }
    }
    Ok(out)
}

/// An expression of the subset.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Null,
    Str(String),
    Num(f64),
    /// A bare field: `qid`, `username`, `sourceip`, `starttime`, …
    Field(String),
    /// A quoted custom property.
    Property(String),
    Call(String, Vec<Expr>),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cmp(&'static str, Box<Expr>, Box<Expr>),
    Arith(&'static str, Box<Expr>, Box<Expr>),
    Like {
        value: Box<Expr>,
        pattern: Box<Expr>,
        insensitive: bool,
        negated: bool,
    },
    In {
        value: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    IsNull {
        value: Box<Expr>,
        negated: bool,
    },
}

const FUNCTIONS: &[&str] = &["LOWER", "UPPER", "QIDNAME", "LOGSOURCETYPEID", "NOW"];
/// Words that end a WHERE clause in a full query.
const CLAUSE_END: &[&str] = &[
    "ORDER",
    "GROUP",
    "HAVING",
    "LIMIT",
    "LAST",
    "START",
    "STOP",
    "PARAMETERS",
];

struct Parser<'t> {
    toks: &'t [(Tok, usize)],
    i: usize,
    end: usize,
}

fn kw(t: &Tok, w: &str) -> bool {
    matches!(t, Tok::Ident(s) if s.eq_ignore_ascii_case(w))
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i).map(|(t, _)| t)
    }
    fn at(&self) -> usize {
        self.toks.get(self.i).map_or(self.end, |(_, a)| *a)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.i).map(|(t, _)| t.clone());
        self.i += 1;
        t
    }
    fn eat_kw(&mut self, w: &str) -> bool {
        if self.peek().is_some_and(|t| kw(t, w)) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<Expr, AqlError> {
        let mut l = self.and()?;
        while self.eat_kw("OR") {
            l = Expr::Or(Box::new(l), Box::new(self.and()?));
        }
        Ok(l)
    }
    fn and(&mut self) -> Result<Expr, AqlError> {
        let mut l = self.not()?;
        while self.eat_kw("AND") {
            l = Expr::And(Box::new(l), Box::new(self.not()?));
        }
        Ok(l)
    }
    fn not(&mut self) -> Result<Expr, AqlError> {
        if self.eat_kw("NOT") {
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.predicate()
    }
    fn predicate(&mut self) -> Result<Expr, AqlError> {
        let l = self.sum()?;
        let at = self.at();
        let negated = self.eat_kw("NOT");
        match self.peek().cloned() {
            Some(Tok::Op(op @ ("=" | "<>" | "<" | "<=" | ">" | ">="))) if !negated => {
                self.i += 1;
                Ok(Expr::Cmp(op, Box::new(l), Box::new(self.sum()?)))
            }
            Some(t) if kw(&t, "LIKE") || kw(&t, "ILIKE") => {
                self.i += 1;
                Ok(Expr::Like {
                    value: Box::new(l),
                    pattern: Box::new(self.sum()?),
                    insensitive: kw(&t, "ILIKE"),
                    negated,
                })
            }
            Some(t) if kw(&t, "IN") => {
                self.i += 1;
                if self.next() != Some(Tok::LParen) {
                    return Err(syntax(self.at(), "expected '(' after IN"));
                }
                let mut list = vec![self.sum()?];
                loop {
                    match self.next() {
                        Some(Tok::Comma) => list.push(self.sum()?),
                        Some(Tok::RParen) => break,
                        _ => return Err(syntax(self.at(), "expected ',' or ')' in the IN list")),
                    }
                }
                Ok(Expr::In {
                    value: Box::new(l),
                    list,
                    negated,
                })
            }
            Some(t) if kw(&t, "IS") && !negated => {
                self.i += 1;
                let neg = self.eat_kw("NOT");
                if !self.eat_kw("NULL") {
                    return Err(syntax(self.at(), "expected NULL after IS"));
                }
                Ok(Expr::IsNull {
                    value: Box::new(l),
                    negated: neg,
                })
            }
            Some(t)
                if kw(&t, "BETWEEN")
                    || kw(&t, "MATCHES")
                    || kw(&t, "IMATCHES")
                    || kw(&t, "INCIDR") =>
            {
                Err(unsupported(
                    self.at(),
                    format!("{} is not simulated", t_word(&t)),
                ))
            }
            _ if negated => Err(syntax(at, "NOT must be followed by LIKE, ILIKE or IN here")),
            _ => Ok(l),
        }
    }
    fn sum(&mut self) -> Result<Expr, AqlError> {
        let mut l = self.product()?;
        while let Some(Tok::Op(op @ ("+" | "-"))) = self.peek().cloned() {
            self.i += 1;
            l = Expr::Arith(op, Box::new(l), Box::new(self.product()?));
        }
        Ok(l)
    }
    fn product(&mut self) -> Result<Expr, AqlError> {
        let mut l = self.atom()?;
        while let Some(Tok::Op(op @ ("*" | "/"))) = self.peek().cloned() {
            self.i += 1;
            l = Expr::Arith(op, Box::new(l), Box::new(self.atom()?));
        }
        Ok(l)
    }
    fn atom(&mut self) -> Result<Expr, AqlError> {
        let at = self.at();
        match self.next() {
            Some(Tok::LParen) => {
                let e = self.or()?;
                if self.next() != Some(Tok::RParen) {
                    return Err(syntax(self.at(), "expected ')'"));
                }
                Ok(e)
            }
            Some(Tok::Str(s)) => Ok(Expr::Str(s)),
            Some(Tok::Num(n)) => Ok(Expr::Num(n)),
            Some(Tok::Op("-")) => Ok(Expr::Arith(
                "-",
                Box::new(Expr::Num(0.0)),
                Box::new(self.atom()?),
            )),
            Some(Tok::Quoted(p)) => Ok(Expr::Property(p)),
            Some(Tok::Ident(w)) => {
                if w.eq_ignore_ascii_case("NULL") {
                    return Ok(Expr::Null);
                }
                if self.peek() == Some(&Tok::LParen) {
                    let name = w.to_ascii_uppercase();
                    if !FUNCTIONS.contains(&name.as_str()) {
                        return Err(unsupported(
                            at,
                            format!("the function {w}() is not simulated"),
                        ));
                    }
                    self.i += 1;
                    let mut args = Vec::new();
                    if self.peek() == Some(&Tok::RParen) {
                        self.i += 1;
                    } else {
                        loop {
                            args.push(self.or()?);
                            match self.next() {
                                Some(Tok::Comma) => {}
                                Some(Tok::RParen) => break,
                                _ => {
                                    return Err(syntax(
                                        self.at(),
                                        format!("expected ',' or ')' in {w}()"),
                                    ));
                                }
                            }
                        }
                    }
                    return Ok(Expr::Call(name, args));
                }
                if [
                    "AND", "OR", "NOT", "IN", "LIKE", "ILIKE", "IS", "SELECT", "FROM", "WHERE",
                ]
                .iter()
                .any(|k| w.eq_ignore_ascii_case(k))
                {
                    return Err(syntax(at, format!("unexpected {w}")));
                }
                Ok(Expr::Field(w.to_ascii_lowercase()))
            }
            Some(Tok::Op(op)) => Err(syntax(at, format!("unexpected '{op}'"))),
            Some(Tok::RParen) => Err(syntax(at, "unexpected ')'")),
            Some(Tok::Comma) => Err(syntax(at, "unexpected ','")),
            None => Err(syntax(at, "the condition ends too early")),
        }
    }
}

fn t_word(t: &Tok) -> String {
    match t {
        Tok::Ident(s) => s.to_ascii_uppercase(),
        other => format!("{other:?}"),
    }
}

/// Parse a condition (a rule's AQL filter).
pub fn parse_condition(q: &str) -> Result<Expr, AqlError> {
    let toks = tokenize(q)?;
    parse_tokens(&toks, q.len())
}

fn parse_tokens(toks: &[(Tok, usize)], end: usize) -> Result<Expr, AqlError> {
    let mut p = Parser { toks, i: 0, end };
    let e = p.or()?;
    if p.i < toks.len() {
        let at = p.at();
        let t = p.peek().cloned();
        return Err(match t {
            Some(Tok::Ident(w)) if CLAUSE_END.iter().any(|k| w.eq_ignore_ascii_case(k)) => {
                syntax(at, format!("{w} cannot follow a condition here"))
            }
            _ => syntax(at, "unexpected text after the condition"),
        });
    }
    Ok(e)
}

/// The WHERE condition of a full `SELECT … FROM events WHERE … [ORDER BY …] [LIMIT …]`
/// query; `Ok(None)` when the query has no WHERE.
pub fn parse_query_where(q: &str) -> Result<Option<Expr>, AqlError> {
    let toks = tokenize(q)?;
    if !toks.first().is_some_and(|(t, _)| kw(t, "SELECT")) {
        return Err(syntax(0, "a saved search starts with SELECT"));
    }
    // Find FROM and WHERE at depth 0.
    let mut depth = 0i32;
    let mut from = None;
    let mut where_at = None;
    let mut end = toks.len();
    for (i, (t, _)) in toks.iter().enumerate() {
        match t {
            Tok::LParen => depth += 1,
            Tok::RParen => depth -= 1,
            _ if depth == 0 => {
                if from.is_none() && kw(t, "FROM") {
                    from = Some(i);
                } else if from.is_some() && where_at.is_none() && kw(t, "WHERE") {
                    where_at = Some(i);
                } else if where_at.is_some() && CLAUSE_END.iter().any(|k| kw(t, k)) {
                    end = i;
                    break;
                }
            }
            _ => {}
        }
    }
    let Some(f) = from else {
        return Err(syntax(q.len(), "the query has no FROM"));
    };
    match toks.get(f + 1) {
        Some((t, _)) if kw(t, "events") => {}
        Some((t, at)) => {
            return Err(unsupported(
                *at,
                format!("FROM {} is not simulated (only FROM events)", t_word(t)),
            ));
        }
        None => return Err(syntax(q.len(), "FROM needs a table")),
    }
    let window = last_window(&toks, where_at.map_or(f + 2, |_| end))?;
    let condition = match where_at {
        Some(w) => {
            let end_at = toks.get(end).map_or(q.len(), |(_, a)| *a);
            Some(parse_tokens(&toks[w + 1..end], end_at)?)
        }
        None => None,
    };
    Ok(match (condition, window) {
        (Some(c), Some(w)) => Some(Expr::And(Box::new(c), Box::new(w))),
        (c, w) => c.or(w),
    })
}

/// `LAST n MINUTES|HOURS|DAYS` among the clauses after the WHERE (from token `from`, at
/// depth 0), as the condition it puts on an event:
/// `starttime >= NOW() - n·unit AND starttime <= NOW()`. Without `--now`, `NOW()` is the
/// event's own time, so every event whose time can be read is inside the window, as with
/// a window written in the WHERE clause. Another unit is "not simulated".
fn last_window(toks: &[(Tok, usize)], from: usize) -> Result<Option<Expr>, AqlError> {
    let mut depth = 0i32;
    for (i, (t, at)) in toks.iter().enumerate().skip(from) {
        match t {
            Tok::LParen => depth += 1,
            Tok::RParen => depth -= 1,
            _ if depth == 0 && kw(t, "LAST") => {
                let n = match toks.get(i + 1) {
                    Some((Tok::Num(n), _)) if n.is_finite() && *n >= 0.0 => *n,
                    Some((_, a)) => {
                        return Err(syntax(*a, "LAST needs a number of minutes, hours or days"));
                    }
                    None => return Err(syntax(*at, "LAST needs a number and a unit")),
                };
                let unit_ms = match toks.get(i + 2) {
                    Some((Tok::Ident(u), _)) => match u.to_ascii_uppercase().as_str() {
                        "MINUTE" | "MINUTES" => 60_000.0,
                        "HOUR" | "HOURS" => 3_600_000.0,
                        "DAY" | "DAYS" => 86_400_000.0,
                        other => {
                            return Err(unsupported(
                                toks[i + 2].1,
                                format!(
                                    "LAST … {other} is not simulated (only MINUTES, HOURS and DAYS)"
                                ),
                            ));
                        }
                    },
                    Some((_, a)) => {
                        return Err(syntax(*a, "LAST needs a unit: MINUTES, HOURS or DAYS"));
                    }
                    None => return Err(syntax(*at, "LAST needs a unit: MINUTES, HOURS or DAYS")),
                };
                let start = || Box::new(Expr::Field("starttime".into()));
                let now = || Box::new(Expr::Call("NOW".into(), Vec::new()));
                return Ok(Some(Expr::And(
                    Box::new(Expr::Cmp(
                        ">=",
                        start(),
                        Box::new(Expr::Arith("-", now(), Box::new(Expr::Num(n * unit_ms)))),
                    )),
                    Box::new(Expr::Cmp("<=", start(), now())),
                )));
            }
            _ => {}
        }
    }
    Ok(None)
}

/// A value during evaluation. Text borrows from the query or the event where it can:
/// evaluating a filter allocates only for what it computes (`LOWER`, numbers as text).
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Str(Cow<'a, str>),
    Num(f64),
}

/// What the evaluator asks of the simulated event.
pub trait Event {
    /// A bare field (`qid`, `username`, …); `None` when the field is not simulated.
    fn field(&self, name: &str) -> Option<Value<'_>>;
    /// A custom property's value (NULL when absent).
    fn property(&self, name: &str) -> Value<'_>;
    fn qid_name(&self, qid: &Value) -> Value<'_>;
    fn log_source_type(&self) -> Value<'_>;
    fn now(&self) -> Value<'_>;
}

/// Evaluate a condition: `Ok(Some(b))`, `Ok(None)` for SQL's unknown (NULL), or an error
/// naming what is not simulated. Names are looked up on every call; to evaluate one
/// condition against many events, [`Compiled`] looks them up once.
pub fn eval_condition(e: &Expr, ev: &dyn Event) -> Result<Option<bool>, AqlError> {
    let mut fields = Vec::new();
    let mut properties = Vec::new();
    let c = Compiled::new(e, &mut |n| Some(intern(&mut fields, n)), &mut |n| {
        Some(intern(&mut properties, n))
    });
    c.eval(&ByName {
        ev,
        fields,
        properties,
    })
}

fn intern(names: &mut Vec<String>, name: &str) -> u32 {
    match names.iter().position(|n| n == name) {
        Some(i) => i as u32,
        None => {
            names.push(name.to_string());
            (names.len() - 1) as u32
        }
    }
}

/// An [`Event`] seen through slots numbered by `eval_condition`.
struct ByName<'e> {
    ev: &'e dyn Event,
    fields: Vec<String>,
    properties: Vec<String>,
}

impl Slots for ByName<'_> {
    fn field(&self, slot: u32) -> Option<Value<'_>> {
        self.ev.field(&self.fields[slot as usize])
    }
    fn property(&self, slot: u32) -> Value<'_> {
        self.ev.property(&self.properties[slot as usize])
    }
    fn qid_name(&self, qid: &Value) -> Value<'_> {
        self.ev.qid_name(qid)
    }
    fn log_source_type(&self) -> Value<'_> {
        self.ev.log_source_type()
    }
    fn now(&self) -> Value<'_> {
        self.ev.now()
    }
}

/// What a [`Compiled`] condition asks of the event: values by the slots its names were
/// resolved to.
pub trait Slots {
    /// `None`: the field is not simulated for this event.
    fn field(&self, slot: u32) -> Option<Value<'_>>;
    /// A custom property's value (NULL when absent).
    fn property(&self, slot: u32) -> Value<'_>;
    fn qid_name(&self, qid: &Value) -> Value<'_>;
    fn log_source_type(&self) -> Value<'_>;
    fn now(&self) -> Value<'_>;
}

#[derive(Debug, Clone, Copy)]
enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy)]
enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
}

#[derive(Debug, Clone, Copy)]
enum Func {
    Lower,
    Upper,
    QidName,
    /// Whether the argument is `logsourceid`, the only one simulated.
    LogSourceTypeId(bool),
    Now,
    Other,
}

/// [`Expr`] with its operators, functions, fields and properties resolved.
#[derive(Debug, Clone)]
enum Node {
    Null,
    Str(String),
    Num(f64),
    /// A field's slot, `None` when it is not simulated; the name is for the error.
    Field(Option<u32>, String),
    /// A property's slot, `None` when the event never has it (NULL).
    Property(Option<u32>),
    Call(Func, String, Vec<Node>),
    Not(Box<Node>),
    /// The flag: the right side cannot fail, so it is not evaluated when the left side
    /// decides (false for AND, true for OR); see [`cond_safe`].
    And(Box<Node>, Box<Node>, bool),
    Or(Box<Node>, Box<Node>, bool),
    Cmp(CmpOp, Box<Node>, Box<Node>),
    Arith(ArithOp, Box<Node>, Box<Node>),
    Like {
        value: Box<Node>,
        pattern: Box<Node>,
        insensitive: bool,
        negated: bool,
    },
    In {
        value: Box<Node>,
        list: Vec<Node>,
        /// The list when it is all number literals (`qid IN (…)`).
        numbers: Option<Vec<f64>>,
        negated: bool,
    },
    IsNull {
        value: Box<Node>,
        negated: bool,
    },
}

/// A condition whose names are looked up once, to be evaluated against many events.
/// It evaluates exactly as the [`Expr`] it comes from: the same values, the same NULLs,
/// the same "not simulated" errors at the same points.
#[derive(Debug, Clone)]
pub struct Compiled(Node);

/// Resolves a field or property name to a slot.
pub type Resolver<'r> = &'r mut dyn FnMut(&str) -> Option<u32>;

impl Compiled {
    /// `field`: the slot of a bare field, `None` when it is not simulated. `property`:
    /// the slot of a quoted property, `None` when the event never has it.
    pub fn new(e: &Expr, field: Resolver, property: Resolver) -> Compiled {
        Compiled(node(e, field, property))
    }

    /// As [`eval_condition`].
    pub fn eval(&self, ev: &dyn Slots) -> Result<Option<bool>, AqlError> {
        cond(&self.0, ev).map_err(|e| *e)
    }

    /// Evaluate once what is the same for every event: each sub-expression made only of
    /// literals, the functions of them (`LOWER`, arithmetic, comparisons, …) and the
    /// `constants` given becomes the literal it evaluates to (`LOGSOURCETYPEID(logsourceid)
    /// = 445` becomes true). A literal evaluates exactly as the sub-expression did (a
    /// condition's true, false and NULL are 1, 0 and NULL, as `value` gives them), and a
    /// sub-expression that fails is kept, to fail per event as before.
    pub fn fold(mut self, constants: &Constants) -> Compiled {
        fold(&mut self.0, constants);
        self
    }
}

/// What a [`Compiled`] condition may take as the same for every event (see
/// [`Compiled::fold`]); `None`: it depends on the event.
#[derive(Debug, Clone, Copy, Default)]
pub struct Constants {
    /// `LOGSOURCETYPEID(logsourceid)`.
    pub log_source_type: Option<f64>,
    /// `NOW()`.
    pub now: Option<f64>,
    /// Every field slot the resolver gave has a value for every event ([`Slots::field`]
    /// is never `None` for it), so reading one cannot fail.
    pub fields: bool,
}

impl Slots for Constants {
    // Never asked: a sub-expression with a field, a property or QIDNAME is not folded.
    fn field(&self, _: u32) -> Option<Value<'_>> {
        None
    }
    fn property(&self, _: u32) -> Value<'_> {
        Value::Null
    }
    fn qid_name(&self, _: &Value) -> Value<'_> {
        Value::Null
    }
    fn log_source_type(&self) -> Value<'_> {
        self.log_source_type.map_or(Value::Null, Value::Num)
    }
    fn now(&self) -> Value<'_> {
        self.now.map_or(Value::Null, Value::Num)
    }
}

/// `n`, evaluated as a condition, cannot fail: with `fields` (see [`Constants::fields`]),
/// for any event. Only such a right side of AND and OR may go unevaluated when the left
/// side decides: an error must still surface exactly as when both sides are evaluated.
fn cond_safe(n: &Node, fields: bool) -> bool {
    match n {
        Node::Not(x) => cond_safe(x, fields),
        Node::And(a, b, _) | Node::Or(a, b, _) => cond_safe(a, fields) && cond_safe(b, fields),
        Node::Cmp(_, a, b)
        | Node::Like {
            value: a,
            pattern: b,
            ..
        } => value_safe(a, fields) && value_safe(b, fields),
        Node::In { value, list, .. } => {
            value_safe(value, fields) && list.iter().all(|x| value_safe(x, fields))
        }
        Node::IsNull { value, .. } => value_safe(value, fields),
        // A value as a condition fails when it is text: only numbers and NULL are safe.
        Node::Null | Node::Num(_) => true,
        Node::Arith(_, a, b) => value_safe(a, fields) && value_safe(b, fields),
        Node::Str(_) | Node::Field(..) | Node::Property(_) | Node::Call(..) => false,
    }
}

/// `n`'s value cannot fail (see [`cond_safe`]).
fn value_safe(n: &Node, fields: bool) -> bool {
    match n {
        Node::Null | Node::Str(_) | Node::Num(_) | Node::Property(_) => true,
        Node::Field(slot, _) => fields && slot.is_some(),
        Node::Call(f, _, args) => match f {
            // Only the first argument is evaluated; none is an error.
            Func::Lower | Func::Upper | Func::QidName => {
                args.first().is_some_and(|a| value_safe(a, fields))
            }
            Func::LogSourceTypeId(true) | Func::Now => true,
            Func::LogSourceTypeId(false) | Func::Other => false,
        },
        Node::Arith(_, a, b) => value_safe(a, fields) && value_safe(b, fields),
        // A condition's value: 1, 0 or NULL.
        other => cond_safe(other, fields),
    }
}

fn is_literal(n: &Node) -> bool {
    matches!(n, Node::Null | Node::Str(_) | Node::Num(_))
}

/// Fold `n`'s constant sub-expressions, bottom up (see [`Compiled::fold`]).
fn fold(n: &mut Node, c: &Constants) {
    let constant = match n {
        Node::Null | Node::Str(_) | Node::Num(_) => return,
        Node::Field(..) | Node::Property(_) => false,
        Node::Call(f, _, args) => {
            args.iter_mut().for_each(|a| fold(a, c));
            match f {
                Func::Lower | Func::Upper => args.iter().all(is_literal),
                // These two never evaluate their argument (`logsourceid` is a field).
                Func::LogSourceTypeId(true) => c.log_source_type.is_some(),
                Func::Now => c.now.is_some(),
                Func::QidName | Func::LogSourceTypeId(false) | Func::Other => false,
            }
        }
        Node::Not(x) | Node::IsNull { value: x, .. } => {
            fold(x, c);
            is_literal(x)
        }
        Node::And(a, b, safe) | Node::Or(a, b, safe) => {
            fold(a, c);
            fold(b, c);
            *safe = cond_safe(b, c.fields);
            is_literal(a) && is_literal(b)
        }
        Node::Cmp(_, a, b)
        | Node::Arith(_, a, b)
        | Node::Like {
            value: a,
            pattern: b,
            ..
        } => {
            fold(a, c);
            fold(b, c);
            is_literal(a) && is_literal(b)
        }
        Node::In {
            value,
            list,
            numbers,
            ..
        } => {
            fold(value, c);
            list.iter_mut().for_each(|a| fold(a, c));
            if numbers.is_none() && list.iter().all(|a| matches!(a, Node::Num(_))) {
                *numbers = Some(
                    list.iter()
                        .filter_map(|a| match a {
                            Node::Num(x) => Some(*x),
                            _ => None,
                        })
                        .collect(),
                );
            }
            is_literal(value) && list.iter().all(is_literal)
        }
    };
    if !constant {
        return;
    }
    let literal = match value(n, c) {
        Ok(Value::Null) => Node::Null,
        Ok(Value::Num(x)) => Node::Num(x),
        Ok(Value::Str(s)) => Node::Str(s.into_owned()),
        Err(_) => return,
    };
    *n = literal;
}

fn node(e: &Expr, field: Resolver, property: Resolver) -> Node {
    let mut sub = |x: &Expr| Box::new(node(x, field, property));
    match e {
        Expr::Null => Node::Null,
        Expr::Str(s) => Node::Str(s.clone()),
        Expr::Num(n) => Node::Num(*n),
        Expr::Field(f) => Node::Field(field(f), f.clone()),
        Expr::Property(p) => Node::Property(property(p)),
        Expr::Call(name, args) => {
            let f = match name.as_str() {
                "LOWER" => Func::Lower,
                "UPPER" => Func::Upper,
                "QIDNAME" => Func::QidName,
                "LOGSOURCETYPEID" => Func::LogSourceTypeId(
                    matches!(args.first(), Some(Expr::Field(f)) if f == "logsourceid"),
                ),
                "NOW" => Func::Now,
                _ => Func::Other,
            };
            let args = args.iter().map(|a| node(a, field, property)).collect();
            Node::Call(f, name.clone(), args)
        }
        Expr::Not(x) => Node::Not(sub(x)),
        Expr::And(a, b) => Node::And(sub(a), sub(b), false),
        Expr::Or(a, b) => Node::Or(sub(a), sub(b), false),
        Expr::Cmp(op, a, b) => {
            let op = match *op {
                "=" => CmpOp::Eq,
                "<>" => CmpOp::Ne,
                "<" => CmpOp::Lt,
                "<=" => CmpOp::Le,
                ">" => CmpOp::Gt,
                _ => CmpOp::Ge,
            };
            Node::Cmp(op, sub(a), sub(b))
        }
        Expr::Arith(op, a, b) => {
            let op = match *op {
                "+" => ArithOp::Add,
                "-" => ArithOp::Sub,
                "*" => ArithOp::Mul,
                _ => ArithOp::Div,
            };
            Node::Arith(op, sub(a), sub(b))
        }
        Expr::Like {
            value,
            pattern,
            insensitive,
            negated,
        } => Node::Like {
            value: sub(value),
            pattern: sub(pattern),
            insensitive: *insensitive,
            negated: *negated,
        },
        Expr::In {
            value,
            list,
            negated,
        } => Node::In {
            value: sub(value),
            list: list.iter().map(|a| node(a, field, property)).collect(),
            numbers: list
                .iter()
                .map(|a| match a {
                    Expr::Num(n) => Some(*n),
                    _ => None,
                })
                .collect(),
            negated: *negated,
        },
        Expr::IsNull { value, negated } => Node::IsNull {
            value: sub(value),
            negated: *negated,
        },
    }
}

/// An evaluation error, boxed: the results of `cond` and `value`, returned for every
/// node, stay small (an error is rare, and ends the evaluation).
type Res<T> = Result<T, Box<AqlError>>;

/// A node's value: literals at once, anything else through [`value`].
#[inline(always)]
fn operand<'a>(e: &'a Node, ev: &'a dyn Slots) -> Res<Value<'a>> {
    match e {
        Node::Null => Ok(Value::Null),
        Node::Str(s) => Ok(Value::Str(Cow::Borrowed(s))),
        Node::Num(n) => Ok(Value::Num(*n)),
        _ => value(e, ev),
    }
}

fn cond(e: &Node, ev: &dyn Slots) -> Res<Option<bool>> {
    Ok(match e {
        Node::Not(x) => cond(x, ev)?.map(|b| !b),
        Node::And(a, b, safe) => {
            let x = cond(a, ev)?;
            if *safe && x == Some(false) {
                return Ok(Some(false));
            }
            match (x, cond(b, ev)?) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            }
        }
        Node::Or(a, b, safe) => {
            let x = cond(a, ev)?;
            if *safe && x == Some(true) {
                return Ok(Some(true));
            }
            match (x, cond(b, ev)?) {
                (Some(true), _) | (_, Some(true)) => Some(true),
                (Some(false), Some(false)) => Some(false),
                _ => None,
            }
        }
        Node::Cmp(op, a, b) => compare(*op, &operand(a, ev)?, &operand(b, ev)?),
        Node::Like {
            value: v,
            pattern,
            insensitive,
            negated,
        } => match (operand(v, ev)?, operand(pattern, ev)?) {
            (Value::Null, _) | (_, Value::Null) => None,
            (v, p) => Some(like(&as_text(&v), &as_text(&p), *insensitive) != *negated),
        },
        Node::In {
            value: v,
            list,
            numbers,
            negated,
        } => {
            let v = operand(v, ev)?;
            if matches!(v, Value::Null) {
                None
            } else {
                let mut found = false;
                let mut unknown = false;
                if let (Value::Num(x), Some(numbers)) = (&v, numbers) {
                    // What `compare` does for two numbers, without building values.
                    for y in numbers {
                        match x.partial_cmp(y) {
                            Some(std::cmp::Ordering::Equal) => found = true,
                            None => unknown = true,
                            Some(_) => {}
                        }
                    }
                } else {
                    for item in list {
                        match compare(CmpOp::Eq, &v, &operand(item, ev)?) {
                            Some(true) => found = true,
                            None => unknown = true,
                            Some(false) => {}
                        }
                    }
                }
                if found {
                    Some(!negated)
                } else if unknown {
                    None
                } else {
                    Some(*negated)
                }
            }
        }
        Node::IsNull { value: v, negated } => {
            Some(matches!(operand(v, ev)?, Value::Null) != *negated)
        }
        other => match value(other, ev)? {
            Value::Null => None,
            Value::Num(n) => Some(n != 0.0),
            Value::Str(s) => {
                return Err(Box::new(unsupported(
                    0,
                    format!("'{s}' is not a condition"),
                )));
            }
        },
    })
}

fn value<'a>(e: &'a Node, ev: &'a dyn Slots) -> Res<Value<'a>> {
    Ok(match e {
        Node::Null => Value::Null,
        Node::Str(s) => Value::Str(Cow::Borrowed(s)),
        Node::Num(n) => Value::Num(*n),
        Node::Property(p) => p.map_or(Value::Null, |p| ev.property(p)),
        Node::Field(slot, f) => slot
            .and_then(|s| ev.field(s))
            .ok_or_else(|| Box::new(unsupported(0, format!("the field {f} is not simulated"))))?,
        Node::Call(func, name, args) => {
            let arg = |i: usize| -> Res<Value<'a>> {
                match args.get(i) {
                    Some(a) => value(a, ev),
                    None => Err(Box::new(syntax(0, format!("{name}() needs an argument")))),
                }
            };
            match func {
                Func::Lower => map_text(arg(0)?, |s| s.to_lowercase()),
                Func::Upper => map_text(arg(0)?, |s| s.to_uppercase()),
                Func::QidName => ev.qid_name(&arg(0)?),
                Func::LogSourceTypeId(true) => ev.log_source_type(),
                Func::LogSourceTypeId(false) => {
                    return Err(Box::new(unsupported(
                        0,
                        "LOGSOURCETYPEID() is simulated for logsourceid only",
                    )));
                }
                Func::Now => ev.now(),
                Func::Other => {
                    return Err(Box::new(unsupported(
                        0,
                        format!("the function {name}() is not simulated"),
                    )));
                }
            }
        }
        Node::Arith(op, a, b) => match (num(&operand(a, ev)?), num(&operand(b, ev)?)) {
            (Some(x), Some(y)) => Value::Num(match op {
                ArithOp::Add => x + y,
                ArithOp::Sub => x - y,
                ArithOp::Mul => x * y,
                ArithOp::Div if y == 0.0 => return Ok(Value::Null),
                ArithOp::Div => x / y,
            }),
            _ => Value::Null,
        },
        c => match cond(c, ev)? {
            None => Value::Null,
            Some(b) => Value::Num(if b { 1.0 } else { 0.0 }),
        },
    })
}

fn map_text<'a>(v: Value<'_>, f: impl Fn(&str) -> String) -> Value<'a> {
    match v {
        Value::Null => Value::Null,
        other => Value::Str(Cow::Owned(f(&as_text(&other)))),
    }
}

fn as_text<'v>(v: &'v Value<'_>) -> Cow<'v, str> {
    match v {
        Value::Null => Cow::Borrowed(""),
        Value::Str(s) => Cow::Borrowed(s),
        Value::Num(n) if n.fract() == 0.0 && n.abs() < 1e15 => Cow::Owned(format!("{}", *n as i64)),
        Value::Num(n) => Cow::Owned(n.to_string()),
    }
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Num(n) => Some(*n),
        Value::Str(s) => s.trim().parse().ok(),
        Value::Null => None,
    }
}

fn compare(op: CmpOp, a: &Value, b: &Value) -> Option<bool> {
    use std::cmp::Ordering;
    let ord = match (a, b) {
        (Value::Null, _) | (_, Value::Null) => return None,
        // Equal or not: a length test first, no ordering needed.
        (Value::Str(x), Value::Str(y)) if matches!(op, CmpOp::Eq | CmpOp::Ne) => {
            return Some((x == y) == matches!(op, CmpOp::Eq));
        }
        (Value::Str(x), Value::Str(y)) => x.cmp(y),
        _ => match (num(a), num(b)) {
            (Some(x), Some(y)) => x.partial_cmp(&y)?,
            _ => as_text(a).cmp(&as_text(b)),
        },
    };
    Some(match op {
        CmpOp::Eq => ord == Ordering::Equal,
        CmpOp::Ne => ord != Ordering::Equal,
        CmpOp::Lt => ord == Ordering::Less,
        CmpOp::Le => ord != Ordering::Greater,
        CmpOp::Gt => ord == Ordering::Greater,
        CmpOp::Ge => ord != Ordering::Less,
    })
}

/// SQL LIKE: `%` any run, `_` one character; no escape character.
pub fn like(text: &str, pattern: &str, insensitive: bool) -> bool {
    let (t, p): (Vec<char>, Vec<char>) = if insensitive {
        (
            text.to_lowercase().chars().collect(),
            pattern.to_lowercase().chars().collect(),
        )
    } else {
        (text.chars().collect(), pattern.chars().collect())
    };
    // Iterative wildcard matching with backtracking on the last '%'.
    let (mut ti, mut pi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '_' || (p[pi] != '%' && p[pi] == t[ti])) {
            ti += 1;
            pi += 1;
        } else if pi < p.len() && p[pi] == '%' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '%' {
        pi += 1;
    }
    pi == p.len()
}

/// What a lint needs to know of an expression tree.
pub fn walk<'e>(e: &'e Expr, f: &mut dyn FnMut(&'e Expr)) {
    f(e);
    match e {
        Expr::Call(_, args) => args.iter().for_each(|a| walk(a, f)),
        Expr::Not(x) => walk(x, f),
        Expr::And(a, b) | Expr::Or(a, b) | Expr::Cmp(_, a, b) | Expr::Arith(_, a, b) => {
            walk(a, f);
            walk(b, f);
        }
        Expr::Like { value, pattern, .. } => {
            walk(value, f);
            walk(pattern, f);
        }
        Expr::In { value, list, .. } => {
            walk(value, f);
            list.iter().for_each(|a| walk(a, f));
        }
        Expr::IsNull { value, .. } => walk(value, f),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    struct Ev {
        props: BTreeMap<&'static str, &'static str>,
    }
    impl Event for Ev {
        fn field(&self, name: &str) -> Option<Value<'_>> {
            match name {
                "qid" => Some(Value::Num(2000004.0)),
                "username" => Some(Value::Str("adele@contoso.com".into())),
                "starttime" => Some(Value::Num(1_000_000.0)),
                _ => None,
            }
        }
        fn property(&self, name: &str) -> Value<'_> {
            self.props
                .get(name)
                .map_or(Value::Null, |v| Value::Str(Cow::Borrowed(v)))
        }
        fn qid_name(&self, _: &Value) -> Value<'_> {
            Value::Str("Create application password for user".into())
        }
        fn log_source_type(&self) -> Value<'_> {
            Value::Num(445.0)
        }
        fn now(&self) -> Value<'_> {
            Value::Num(1_000_000.0)
        }
    }

    fn check(q: &str, props: &[(&'static str, &'static str)]) -> Option<bool> {
        let ev = Ev {
            props: props.iter().copied().collect(),
        };
        eval_condition(
            &parse_condition(q).unwrap_or_else(|e| panic!("{q}: {e}")),
            &ev,
        )
        .unwrap_or_else(|e| panic!("{q}: {e}"))
    }

    #[test]
    fn the_subset_evaluates() {
        let r = "\"Result\" = 'success' OR \"Result\" IS NULL OR \"Result\" = ''";
        assert_eq!(check(r, &[("Result", "success")]), Some(true));
        assert_eq!(check(r, &[]), Some(true));
        assert_eq!(check(r, &[("Result", "failure")]), Some(false));
        assert_eq!(check("qid IN (2000000, 2000004)", &[]), Some(true));
        assert_eq!(check("qid NOT IN (1, 2)", &[]), Some(true));
        assert_eq!(
            check("LOWER(QIDNAME(qid)) LIKE '%application password%'", &[]),
            Some(true)
        );
        assert_eq!(check("QIDNAME(qid) LIKE 'create%'", &[]), Some(false));
        assert_eq!(check("QIDNAME(qid) ILIKE 'create%'", &[]), Some(true));
        assert_eq!(
            check("UPPER(username) = 'ADELE@CONTOSO.COM'", &[]),
            Some(true)
        );
        assert_eq!(
            check("LOGSOURCETYPEID(logsourceid) = 445 AND NOT (qid = 1)", &[]),
            Some(true)
        );
        assert_eq!(check("starttime > NOW() - 86400000", &[]), Some(true));
        assert_eq!(check("\"Missing\" = 'x'", &[]), None);
        assert_eq!(check("NOT \"Missing\" = 'x'", &[]), None);
        assert_eq!(
            check(
                "\"TargetObjectName\" LIKE 'b_lling%'",
                &[("TargetObjectName", "billing-test")]
            ),
            Some(true)
        );
        assert_eq!(
            check(
                "\"TargetObjectName\" IS NOT NULL",
                &[("TargetObjectName", "x")]
            ),
            Some(true)
        );
    }

    #[test]
    fn full_queries_yield_their_where() {
        let q = "SELECT QIDNAME(qid) AS n, \"Result\" FROM events WHERE LOGSOURCETYPEID(logsourceid) = 445 AND (\"Result\" = 'success') ORDER BY starttime DESC LIMIT 1000";
        let w = parse_query_where(q).expect("parses").expect("where");
        let ev = Ev {
            props: [("Result", "success")].into_iter().collect(),
        };
        assert_eq!(eval_condition(&w, &ev), Ok(Some(true)));
        assert!(
            parse_query_where("SELECT * FROM flows WHERE x = 1")
                .expect_err("flows")
                .unsupported
        );
        assert!(
            parse_query_where("SELECT * FROM events")
                .expect("ok")
                .is_none()
        );
    }

    /// `LAST n unit` becomes the window it stands for, after the WHERE clause's condition
    /// or alone; another unit is not simulated; a malformed one does not parse.
    #[test]
    fn last_becomes_a_window_on_starttime() {
        let with = parse_query_where(
            "SELECT * FROM events WHERE \"Result\" = 'success' ORDER BY starttime DESC LAST 24 HOURS",
        )
        .expect("parses")
        .expect("condition");
        let written = parse_condition(
            "\"Result\" = 'success' AND (starttime >= NOW() - 86400000 AND starttime <= NOW())",
        )
        .expect("parses");
        assert_eq!(with, written);
        let alone = parse_query_where("SELECT * FROM events last 90 minutes")
            .expect("parses")
            .expect("window");
        let written =
            parse_condition("starttime >= NOW() - 5400000 AND starttime <= NOW()").expect("parses");
        assert_eq!(alone, written);
        assert_eq!(
            parse_query_where("SELECT * FROM events LAST 2 DAY").expect("parses"),
            parse_query_where(
                "SELECT * FROM events WHERE starttime >= NOW() - 172800000 AND starttime <= NOW()"
            )
            .expect("parses")
        );
        // A LAST inside parentheses is not the clause.
        assert!(
            parse_query_where("SELECT * FROM events WHERE (x = 1)")
                .expect("parses")
                .is_some()
        );
        let weeks = parse_query_where("SELECT * FROM events LAST 2 WEEKS").expect_err("weeks");
        assert!(weeks.unsupported, "{weeks}");
        for bad in [
            "SELECT * FROM events LAST HOURS",
            "SELECT * FROM events LAST 24",
            "SELECT * FROM events WHERE x = 1 LAST",
        ] {
            let e = parse_query_where(bad).expect_err(bad);
            assert!(!e.unsupported, "{bad}: {e}");
        }
    }

    #[test]
    fn outside_the_subset_is_not_simulated() {
        let e = parse_condition("sourceip INCIDR '10.0.0.0/8'");
        assert!(e.is_err());
        let e = parse_condition("REFERENCESETCONTAINS('x', username)").expect_err("unsupported");
        assert!(e.unsupported, "{e}");
        let ev = Ev {
            props: BTreeMap::new(),
        };
        let e = eval_condition(
            &parse_condition("destinationport = 22").expect("parses"),
            &ev,
        )
        .expect_err("field");
        assert!(
            e.unsupported && e.message.contains("destinationport"),
            "{e}"
        );
        assert!(!parse_condition("a = ").expect_err("syntax").unsupported);
        assert!(parse_condition("(a = 1").is_err());
        assert!(parse_condition("'unterminated").is_err());
    }

    /// An event with every resolved field set, as the simulator's `View` has.
    struct Fixed {
        fields: Vec<Value<'static>>,
        props: Vec<Value<'static>>,
    }
    impl Slots for Fixed {
        fn field(&self, slot: u32) -> Option<Value<'_>> {
            self.fields.get(slot as usize).cloned()
        }
        fn property(&self, slot: u32) -> Value<'_> {
            self.props
                .get(slot as usize)
                .cloned()
                .unwrap_or(Value::Null)
        }
        fn qid_name(&self, qid: &Value) -> Value<'_> {
            match qid {
                Value::Num(_) => Value::Str("Add owner to application".into()),
                _ => Value::Null,
            }
        }
        fn log_source_type(&self) -> Value<'_> {
            Value::Num(445.0)
        }
        fn now(&self) -> Value<'_> {
            Value::Num(5_000_000.0)
        }
    }

    /// Folding constants and skipping the safe right side of AND/OR change no result and
    /// no error, including errors on the right of a false AND or a true OR.
    #[test]
    fn folded_and_short_circuited_conditions_evaluate_the_same() {
        let fields = ["qid", "username", "starttime"];
        let props = ["Result", "Name"];
        let compile = |q: &str| {
            let e = parse_condition(q).unwrap_or_else(|e| panic!("{q}: {e}"));
            Compiled::new(
                &e,
                &mut |n| fields.iter().position(|f| *f == n).map(|i| i as u32),
                &mut |n| props.iter().position(|p| *p == n).map(|i| i as u32),
            )
        };
        let events = [
            (Value::Num(1.0), Value::Str("success".into())),
            (Value::Num(2.0), Value::Null),
            (Value::Null, Value::Str("failure".into())),
            (Value::Num(3.0), Value::Str("".into())),
        ];
        for q in [
            "LOGSOURCETYPEID(logsourceid) = 445 AND qid IN (1, 2, 3)",
            "\"Result\" = 'success' OR \"Result\" IS NULL OR \"Result\" = ''",
            "qid = 1 AND destinationport = 22",
            "qid = 2 OR destinationport = 22",
            "qid = 1 AND \"Result\"",
            "qid = 1 OR \"Result\"",
            "starttime > NOW() - 86400000",
            "NOW() - 1000 > 5 AND LOWER('ABC') = 'abc'",
            "qid = 1 AND LOWER() = 'x'",
            "qid = 2 OR LOGSOURCETYPEID(username) = 1",
            "1 / 0 IS NULL AND NOT (2 < 1)",
            "UPPER(username) LIKE 'ADELE%' AND qid NOT IN (5, 1 + 1)",
            "(qid = 1 OR qid = 2) AND (\"Name\" IS NOT NULL OR 1 = 1)",
            "qid IN (1, 2) AND QIDNAME(qid) ILIKE 'add%' OR starttime < 0",
            "LOGSOURCETYPEID(logsourceid) = 446 AND username = 'x'",
            "NOT (LOGSOURCETYPEID(logsourceid) = 445) OR \"Missing\" = 'x'",
        ] {
            let plain = compile(q);
            for now in [None, Some(5_000_000.0)] {
                let folded = compile(q).fold(&Constants {
                    log_source_type: Some(445.0),
                    now,
                    fields: true,
                });
                for (qid, result) in &events {
                    let ev = Fixed {
                        fields: vec![
                            qid.clone(),
                            Value::Str("adele@contoso.com".into()),
                            Value::Num(4_000_000.0),
                        ],
                        props: vec![result.clone(), Value::Null],
                    };
                    // `now: None` folds less: NOW() then stays the event's, as here.
                    assert_eq!(
                        folded.eval(&ev),
                        plain.eval(&ev),
                        "{q} at {qid:?} {result:?}"
                    );
                }
            }
        }
        // The search's LOGSOURCETYPEID test is gone after folding.
        let f = compile("LOGSOURCETYPEID(logsourceid) = 445 AND qid = 1").fold(&Constants {
            log_source_type: Some(445.0),
            now: None,
            fields: true,
        });
        assert!(matches!(&f.0, Node::And(a, _, true) if matches!(**a, Node::Num(n) if n == 1.0)));
    }

    #[test]
    fn like_matches_sql_wildcards() {
        assert!(like(
            "Update application – Certificates",
            "%certificates%",
            true
        ));
        assert!(!like("abc", "a_", false));
        assert!(like("abc", "a_c", false));
        assert!(like("", "%", false));
        assert!(like("aaa", "%a%a%a%", false));
        assert!(!like("ab", "%a%a%", false));
    }
}
